/*
 * events.c - the server-sent events hub of GET /api/v2/events (events.h):
 * the fan-out thread that reads the audit trail's tail once per tick for
 * every open stream, the frames it makes of audit rows, and the
 * libmicrohttpd callbacks that hand each stream's buffered frames to its
 * connection.
 */
#include "api/events.h"

#include "api/api_internal.h"
#include "core/timeutil.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVENTS_POLL_MS 250
#define EVENTS_BATCH 256                 /* audit rows read per query */
#define EVENTS_BATCHES_PER_TICK 8        /* more at once when a full batch came */
#define EVENTS_BUFFER_MAX (256 * 1024)   /* a stream's unsent bytes at most */
#define EVENTS_SOCKET_SNDBUF (64 * 1024) /* a stream's socket send buffer */
#define EVENTS_STOP_WAIT_MS 2000         /* events_hub_stop waits this long for streams */
#define EVENTS_SUMMARY_KEYS 24           /* of a row's "after" */
#define EVENTS_SUMMARY_TEXT_MAX 200      /* bytes of one string in it */

/* The opening of every stream: how long EventSource waits to reconnect. */
static const char stream_preamble[] = "retry: 2000\n\n";
static const char heartbeat_frame[] = ": keep-alive\n\n";
/* A resumed stream whose Last-Event-ID is older than the replay window. */
static const char reset_frame[] = "event: reset\ndata: {\"reason\":\"Last-Event-ID is older than "
                                  "the replay window: reload what is shown\"}\n\n";

struct event_stream {
    struct event_hub *hub;
    struct MHD_Connection *connection;
    struct event_stream *next;
    char *buffer; /* owned: frames not yet sent, from start to len */
    size_t start;
    size_t len;
    size_t capacity;
    int64_t cursor; /* the last audit id queued to it (or skipped) */
    bool suspended; /* in MHD_suspend_connection, waiting for frames */
    bool ended;     /* no more frames: stopping, or it overflowed */
    bool overflowed;
};

/* ---- a stream's buffer (under hub->mutex) ---- */

/* stream_append - queue bytes; false when the buffer would pass
 * EVENTS_BUFFER_MAX (the stream is then ended with an error). */
static bool stream_append(struct event_stream *stream, const char *bytes, size_t n)
{
    if (stream->ended)
        return false;
    if (stream->start > 0 && stream->len + n > stream->capacity) {
        memmove(stream->buffer, stream->buffer + stream->start, stream->len - stream->start);
        stream->len -= stream->start;
        stream->start = 0;
    }
    if (stream->len - stream->start + n > EVENTS_BUFFER_MAX) {
        stream->ended = stream->overflowed = true;
        return false;
    }
    if (stream->len + n > stream->capacity) {
        size_t capacity = stream->capacity ? stream->capacity : 4096;
        while (capacity < stream->len + n)
            capacity *= 2;
        char *grown = realloc(stream->buffer, capacity);
        if (!grown) {
            stream->ended = stream->overflowed = true;
            return false;
        }
        stream->buffer = grown;
        stream->capacity = capacity;
    }
    memcpy(stream->buffer + stream->len, bytes, n);
    stream->len += n;
    return true;
}

/* stream_wake - resume a suspended stream that has frames or has ended. */
static void stream_wake(struct event_stream *stream)
{
    if (stream->suspended && (stream->len > stream->start || stream->ended)) {
        stream->suspended = false;
        MHD_resume_connection(stream->connection);
    }
}

/* stream_client_gone - whether a suspended stream's client closed its
 * end: libmicrohttpd does not watch a suspended connection, and an SSE
 * client sends nothing after its request, so a readable socket with
 * nothing to read is a closed one. Without this a gone client would hold
 * its slot until the next heartbeat fails to send. */
static bool stream_client_gone(const struct event_stream *stream)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(stream->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info)
        return false;
    struct pollfd pfd = {.fd = info->connect_fd, .events = POLLIN | POLLRDHUP};
    if (poll(&pfd, 1, 0) <= 0)
        return false;
    if (pfd.revents & (POLLHUP | POLLERR | POLLRDHUP))
        return true;
    char byte;
    ssize_t n = recv(info->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* ---- libmicrohttpd's side ---- */

/* hang_up - end a connection's socket now (the client reads what was
 * sent, then the end, without the response's last chunk: an error).
 * libmicrohttpd marks a connection whose reader reports an error closed
 * but, with MHD_USE_TURBO, leaves its socket open until something wakes
 * the connection's thread; the shutdown does (the socket hangs up). */
static void hang_up(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info)
        (void)shutdown(info->connect_fd, SHUT_RDWR);
}

/* events_read_cb - MHD_ContentReaderCallback of a stream: its buffered
 * frames; none yet: suspend until the fan-out has some. */
static ssize_t events_read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct event_stream *stream = cls;
    struct event_hub *hub = stream->hub;
    ssize_t n = 0;
    pthread_mutex_lock(&hub->mutex);
    if (stream->len > stream->start) {
        size_t available = stream->len - stream->start;
        size_t take = available < max ? available : max;
        memcpy(buf, stream->buffer + stream->start, take);
        stream->start += take;
        if (stream->start == stream->len)
            stream->start = stream->len = 0;
        n = (ssize_t)take;
    } else if (stream->ended || hub->stopping) {
        n = stream->overflowed ? MHD_CONTENT_READER_END_WITH_ERROR
                               : MHD_CONTENT_READER_END_OF_STREAM;
        if (stream->overflowed)
            hang_up(stream->connection);
    } else {
        stream->suspended = true;
        MHD_suspend_connection(stream->connection);
    }
    pthread_mutex_unlock(&hub->mutex);
    return n;
}

/* events_free_cb - the response is gone: forget the stream. */
static void events_free_cb(void *cls)
{
    struct event_stream *stream = cls;
    struct event_hub *hub = stream->hub;
    pthread_mutex_lock(&hub->mutex);
    for (struct event_stream **link = &hub->streams; *link; link = &(*link)->next) {
        if (*link == stream) {
            *link = stream->next;
            hub->stream_count--;
            break;
        }
    }
    pthread_cond_broadcast(&hub->drained);
    pthread_mutex_unlock(&hub->mutex);
    free(stream->buffer);
    free(stream);
}

/* bound_send_buffer - a small fixed send buffer for a stream's socket:
 * with the kernel's autotuning a client that does not read could leave
 * megabytes there on top of the stream's own EVENTS_BUFFER_MAX. */
static void bound_send_buffer(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    int size = EVENTS_SOCKET_SNDBUF;
    if (info)
        (void)setsockopt(info->connect_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

struct MHD_Response *events_stream_open(struct event_hub *hub, struct MHD_Connection *connection,
                                        int64_t after_id, bool reset, struct iq_error *err)
{
    struct event_stream *stream = calloc(1, sizeof(*stream));
    if (!stream) {
        iq_error_set(err, IQ_E_NOMEM, "out of memory");
        return NULL;
    }
    *stream = (struct event_stream){.hub = hub, .connection = connection, .cursor = after_id};
    pthread_mutex_lock(&hub->mutex);
    bool full = hub->stopping || hub->stream_count >= hub->max_streams;
    bool ok = !full && stream_append(stream, stream_preamble, sizeof(stream_preamble) - 1) &&
              (!reset || stream_append(stream, reset_frame, sizeof(reset_frame) - 1));
    struct MHD_Response *response = NULL;
    if (ok)
        response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, events_read_cb,
                                                     stream, events_free_cb);
    if (response) {
        bound_send_buffer(connection);
        stream->next = hub->streams;
        hub->streams = stream;
        hub->stream_count++;
        pthread_cond_signal(&hub->wake);
    }
    int max_streams = hub->max_streams;
    pthread_mutex_unlock(&hub->mutex);
    if (response)
        return response;
    if (full)
        iq_error_set(err, IQ_E_UNAVAILABLE,
                     "this node serves %d event streams at most (events-max-streams); try "
                     "again later or another node",
                     max_streams);
    else
        iq_error_set(err, IQ_E_NOMEM, "out of memory");
    free(stream->buffer);
    free(stream);
    return NULL;
}

/* ---- frames ---- */

/* is_streamed_entity - the entities whose changes GET /events carries. */
static bool is_streamed_entity(const char *entity)
{
    static const char *const streamed[] = {"job",      "lock",          "alert",
                                           "schedule", "orchestration", NULL};
    for (int i = 0; entity && streamed[i]; i++)
        if (strcmp(entity, streamed[i]) == 0)
            return true;
    return false;
}

/* is_redundant_key - members of an "after" image the event says anyway
 * (entity_id, at, actor) or that only grow it. */
static bool is_redundant_key(const char *key)
{
    static const char *const redundant[] = {"id", "created_at", "updated_at", "created_by", NULL};
    for (int i = 0; redundant[i]; i++)
        if (strcmp(key, redundant[i]) == 0)
            return true;
    return false;
}

/* after_summary - what an event says of the row's "after" image: its
 * scalar members (long strings cut) and error.code, at most
 * EVENTS_SUMMARY_KEYS of them. New reference; NULL when there is none. */
static json_t *after_summary(const char *after_json)
{
    json_t *after = after_json ? json_loads(after_json, 0, NULL) : NULL;
    if (!json_is_object(after)) {
        json_decref(after);
        return NULL;
    }
    json_t *summary = json_object();
    const char *key;
    json_t *value;
    json_object_foreach(after, key, value)
    {
        if (json_object_size(summary) >= EVENTS_SUMMARY_KEYS)
            break;
        if ((json_is_string(value) && json_string_length(value) > EVENTS_SUMMARY_TEXT_MAX) ||
            is_redundant_key(key))
            continue;
        if (!json_is_object(value) && !json_is_array(value))
            json_object_set(summary, key, value);
        else if (strcmp(key, "error") == 0 && json_is_string(json_object_get(value, "code")))
            json_object_set(summary, "error_code", json_object_get(value, "code"));
    }
    json_decref(after);
    return summary;
}

/* frame_of - the SSE frame of one audit row; malloc'd, caller frees;
 * NULL when the row is not streamed (or no memory). */
static char *frame_of(const struct audit_record *r)
{
    if (!is_streamed_entity(r->entity) || !r->action)
        return NULL;
    char at[TIME_RFC3339_LEN];
    json_t *data = json_pack("{s:I, s:s, s:s?, s:s, s:s, s:s?}", "id", (json_int_t)r->id, "entity",
                             r->entity, "entity_id", r->entity_id, "action", r->action, "at",
                             time_format_rfc3339(r->at_ms, at), "actor", r->actor);
    json_t *summary = after_summary(r->after_json);
    if (data && summary)
        json_object_set_new(data, "after", summary);
    else
        json_decref(summary);
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    char *frame = NULL;
    /* the action is [a-z._] (audit.h), the JSON has no newline */
    if (text &&
        asprintf(&frame, "id: %" PRId64 "\nevent: %s\ndata: %s\n\n", r->id, r->action, text) < 0)
        frame = NULL;
    free(text);
    return frame;
}

/* ---- the fan-out ---- */

/* min_cursor - the oldest cursor of the open streams (under the mutex). */
static int64_t min_cursor(const struct event_hub *hub)
{
    int64_t min = INT64_MAX;
    for (const struct event_stream *s = hub->streams; s; s = s->next)
        if (!s->ended && s->cursor < min)
            min = s->cursor;
    return min;
}

/* deliver - page (rows above after_id, in id order) to every stream whose
 * cursor was at least after_id when it was read: a stream opened since
 * with an older cursor waits for the next read, so none skips a row. */
static void deliver(struct event_hub *hub, const struct audit_page *page, char **frames,
                    int64_t after_id)
{
    for (struct event_stream *s = hub->streams; s; s = s->next) {
        if (s->ended || s->cursor < after_id)
            continue;
        for (size_t i = 0; i < page->count && !s->ended; i++) {
            int64_t id = page->items[i].record.id;
            if (id <= s->cursor)
                continue;
            if (frames[i] && !stream_append(s, frames[i], strlen(frames[i])))
                break;
            s->cursor = id;
        }
    }
}

/* read_tail - one query: up to EVENTS_BATCH rows above after_id. Outside
 * the mutex. Returns the rows read, or -1 on a database error. */
static int read_tail(struct event_hub *hub, int64_t after_id, struct audit_page *ret_page)
{
    struct store *store = NULL;
    struct iq_error err = {0};
    struct audit_filter filter = {
        .oldest_first = true, .after_id = after_id, .limit = EVENTS_BATCH};
    int rc = store_pool_acquire(hub->pool, &store, &err);
    if (rc == 0)
        rc = store_audit_list(store, &filter, ret_page, &err);
    store_pool_release(hub->pool, store, rc < 0);
    iq_error_clear(&err);
    return rc < 0 ? -1 : (int)ret_page->count;
}

/* fan_out_once - read and deliver one batch; true when it was full (more
 * may follow at once). Called with the mutex held; drops it to read. */
static bool fan_out_once(struct event_hub *hub)
{
    int64_t after_id = min_cursor(hub);
    if (after_id == INT64_MAX)
        return false;
    pthread_mutex_unlock(&hub->mutex);
    struct audit_page page = {0};
    int rows = read_tail(hub, after_id, &page);
    char **frames = rows > 0 ? calloc((size_t)rows, sizeof(*frames)) : NULL;
    for (int i = 0; frames && i < rows; i++)
        frames[i] = frame_of(&page.items[i].record);
    pthread_mutex_lock(&hub->mutex);
    if (frames)
        deliver(hub, &page, frames, after_id);
    for (int i = 0; frames && i < rows; i++)
        free(frames[i]);
    free(frames);
    audit_page_clear(&page);
    return rows == EVENTS_BATCH;
}

/* heartbeat - a comment line to every stream, every heartbeat_ms: it
 * keeps proxies and the idle timeout from closing a quiet stream. */
static void heartbeat(struct event_hub *hub)
{
    int64_t now = time_monotonic_ms();
    if (now - hub->heartbeat_at_ms < hub->heartbeat_ms)
        return;
    hub->heartbeat_at_ms = now;
    for (struct event_stream *s = hub->streams; s; s = s->next)
        stream_append(s, heartbeat_frame, sizeof(heartbeat_frame) - 1);
}

/* timed_wait - wait on cond for at most ms (the mutex held). */
static void timed_wait(pthread_cond_t *cond, pthread_mutex_t *mutex, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(cond, mutex, &until);
}

/* backlogged - whether a stream holds more than half its buffer unsent
 * (under the mutex): the fan-out then reads no further batch this tick,
 * so a client that reads gets a tick to catch up and a burst of changes
 * does not end every stream; one that does not read still overflows. */
static bool backlogged(const struct event_hub *hub)
{
    for (const struct event_stream *s = hub->streams; s; s = s->next)
        if (!s->ended && s->len - s->start > EVENTS_BUFFER_MAX / 2)
            return true;
    return false;
}

static void *fan_out_main(void *arg)
{
    struct event_hub *hub = arg;
    pthread_mutex_lock(&hub->mutex);
    while (!hub->stopping) {
        if (!hub->streams) {
            pthread_cond_wait(&hub->wake, &hub->mutex);
            continue;
        }
        bool more = true;
        for (int i = 0; more && i < EVENTS_BATCHES_PER_TICK && !hub->stopping; i++) {
            more = fan_out_once(hub);
            for (struct event_stream *s = hub->streams; s; s = s->next)
                stream_wake(s); /* sending starts while the next batch is read */
            if (backlogged(hub))
                break;
        }
        heartbeat(hub);
        for (struct event_stream *s = hub->streams; s; s = s->next) {
            if (s->suspended && stream_client_gone(s))
                s->ended = true;
            stream_wake(s);
        }
        if (!hub->stopping)
            timed_wait(&hub->wake, &hub->mutex, hub->poll_ms);
    }
    pthread_mutex_unlock(&hub->mutex);
    return NULL;
}

/* ---- start and stop ---- */

int events_hub_start(struct event_hub *hub, struct store_pool *pool,
                     const struct events_options *opts, struct iq_error *err)
{
    memset(hub, 0, sizeof(*hub));
    hub->pool = pool;
    hub->max_streams = opts->max_streams;
    hub->poll_ms = EVENTS_POLL_MS;
    hub->heartbeat_ms = opts->heartbeat_ms;
    hub->heartbeat_at_ms = time_monotonic_ms();
    if (pthread_mutex_init(&hub->mutex, NULL) != 0 || pthread_cond_init(&hub->wake, NULL) != 0 ||
        pthread_cond_init(&hub->drained, NULL) != 0)
        return iq_error_set(err, IQ_E_INTERNAL, "cannot initialise the events hub");
    hub->initialised = true;
    if (pthread_create(&hub->thread, NULL, fan_out_main, hub) != 0)
        return iq_error_set(err, IQ_E_INTERNAL, "cannot start the events thread");
    hub->running = true;
    return 0;
}

void events_hub_stop(struct event_hub *hub)
{
    if (!hub->initialised)
        return;
    pthread_mutex_lock(&hub->mutex);
    hub->stopping = true;
    for (struct event_stream *s = hub->streams; s; s = s->next) {
        s->ended = true;
        stream_wake(s);
    }
    pthread_cond_broadcast(&hub->wake);
    pthread_mutex_unlock(&hub->mutex);
    if (hub->running) {
        pthread_join(hub->thread, NULL);
        hub->running = false;
    }
    int64_t deadline = time_monotonic_ms() + EVENTS_STOP_WAIT_MS;
    pthread_mutex_lock(&hub->mutex);
    while (hub->streams && time_monotonic_ms() < deadline)
        timed_wait(&hub->drained, &hub->mutex, 50);
    pthread_mutex_unlock(&hub->mutex);
}

void events_hub_destroy(struct event_hub *hub)
{
    if (!hub->initialised)
        return;
    events_hub_stop(hub);
    pthread_cond_destroy(&hub->wake);
    pthread_cond_destroy(&hub->drained);
    pthread_mutex_destroy(&hub->mutex);
    hub->initialised = false;
}
