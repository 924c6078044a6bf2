/*
 * deadlines.c - total deadlines for a request's headers and for its body,
 * which libmicrohttpd 0.9.75 does not have: its connection timeout is an
 * idle timer that every received byte resets, so a client sending one
 * byte every few seconds holds a connection for ever (slowloris).
 *
 * Every connection is registered when libmicrohttpd accepts it
 * (MHD_OPTION_NOTIFY_CONNECTION) and moves through three phases:
 * waiting for headers (from the accept, or from the end of the previous
 * request on a kept-alive connection), waiting for the body (from the
 * headers until the body is complete) and serving (no deadline; the idle
 * timeout covers a client that stops reading the answer). One sweeper
 * thread looks at the registry a few times a second and shuts down the
 * socket of a connection past its phase's deadline; libmicrohttpd then
 * sees the end of the stream on its own thread and closes the connection
 * as if the client had gone (no answer is sent: libmicrohttpd 0.9.75
 * cannot queue one while a request is still arriving).
 *
 * Not for: the number of connections (MHD_OPTION_CONNECTION_LIMIT and
 * MHD_OPTION_PER_IP_CONNECTION_LIMIT in server.c).
 *
 * Threads and locking: the registry's mutex guards the list and every
 * entry's phase. libmicrohttpd calls the notify callback for "closed"
 * before it closes the socket, and the callback takes the mutex, so the
 * sweeper never shuts down a descriptor that was closed and reused.
 */
#include "api/api_internal.h"

#include "core/timeutil.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#define SWEEP_INTERVAL_MS 200

/* One accepted connection (libmicrohttpd's socket context points here). */
struct watched_connection {
    struct watched_connection *prev, *next;
    int fd;
    enum connection_phase phase;
    int64_t phase_started_ms; /* monotonic */
    bool listed;              /* in the registry (else only the idle
                                 timeout applies) */
    bool shut_down;           /* the sweeper ended it already */
};

/* deadline_of - how long phase may last, in ms; 0: no deadline. */
static int64_t deadline_of(const struct deadlines *d, enum connection_phase phase)
{
    switch (phase) {
    case PHASE_HEADERS:
        return d->header_ms;
    case PHASE_BODY:
        return d->body_ms;
    case PHASE_SERVING:
        break;
    }
    return 0;
}

/* sweep - shut down every connection past its deadline. Called with the
 * mutex held. */
static void sweep(struct deadlines *d, int64_t now_ms)
{
    for (struct watched_connection *w = d->head; w; w = w->next) {
        int64_t limit_ms = deadline_of(d, w->phase);
        if (w->shut_down || limit_ms <= 0 || now_ms - w->phase_started_ms < limit_ms)
            continue;
        shutdown(w->fd, SHUT_RDWR);
        w->shut_down = true;
    }
}

static void *sweeper_main(void *arg)
{
    struct deadlines *d = arg;
    pthread_mutex_lock(&d->mutex);
    while (!d->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += SWEEP_INTERVAL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&d->wake, &d->mutex, &until);
        if (!d->stopping)
            sweep(d, time_monotonic_ms());
    }
    pthread_mutex_unlock(&d->mutex);
    return NULL;
}

int deadlines_start(struct deadlines *d, int64_t header_ms, int64_t body_ms, struct iq_error *err)
{
    d->header_ms = header_ms;
    d->body_ms = body_ms;
    d->head = NULL;
    d->stopping = false;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&d->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&d->mutex, NULL);
    d->initialised = true;
    if (pthread_create(&d->sweeper, NULL, sweeper_main, d) != 0)
        return iq_error_set(err, IQ_E_INTERNAL, "cannot start the connection deadline thread");
    d->running = true;
    return 0;
}

void deadlines_stop_sweeper(struct deadlines *d)
{
    if (!d->running)
        return;
    pthread_mutex_lock(&d->mutex);
    d->stopping = true;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->mutex);
    pthread_join(d->sweeper, NULL);
    d->running = false;
}

void deadlines_destroy(struct deadlines *d)
{
    if (!d->initialised)
        return;
    deadlines_stop_sweeper(d);
    /* libmicrohttpd has closed every connection (and unregistered it). */
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->mutex);
    d->initialised = false;
}

void deadlines_notify_cb(void *cls, struct MHD_Connection *connection, void **socket_context,
                         enum MHD_ConnectionNotificationCode toe)
{
    struct deadlines *d = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct watched_connection *w = calloc(1, sizeof(*w));
        *socket_context = w;
        if (!w || !info)
            return; /* unlisted: only the idle timeout applies */
        w->fd = info->connect_fd;
        w->listed = true;
        w->phase = PHASE_HEADERS;
        w->phase_started_ms = time_monotonic_ms();
        pthread_mutex_lock(&d->mutex);
        w->next = d->head;
        if (d->head)
            d->head->prev = w;
        d->head = w;
        pthread_mutex_unlock(&d->mutex);
        return;
    }
    struct watched_connection *w = *socket_context;
    if (!w)
        return;
    if (w->listed) {
        pthread_mutex_lock(&d->mutex);
        if (w->prev)
            w->prev->next = w->next;
        else
            d->head = w->next;
        if (w->next)
            w->next->prev = w->prev;
        pthread_mutex_unlock(&d->mutex);
    }
    free(w);
    *socket_context = NULL;
}

void deadlines_enter(struct deadlines *d, struct MHD_Connection *connection,
                     enum connection_phase phase)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct watched_connection *w = info ? info->socket_context : NULL;
    if (!w || !w->listed)
        return;
    pthread_mutex_lock(&d->mutex);
    w->phase = phase;
    w->phase_started_ms = time_monotonic_ms();
    pthread_mutex_unlock(&d->mutex);
}
