/*
 * events.h - GET /api/v2/events: the node's server-sent events hub.
 *
 * The events are the audit trail's rows (stg_import_audit) about jobs,
 * locks, alerts, schedules and orchestrations: every change of those is
 * audited in the change's own transaction, and audit ids are handed out
 * in commit order (the chain head is locked until COMMIT), so "the rows
 * after id N" is exactly "what changed since event N" and Last-Event-ID
 * resumes without loss or duplicates.
 *
 * One fan-out thread per node reads the tail of the trail for all
 * streams at once: one indexed query ("id > min cursor", in id order)
 * per tick while any stream is open, none while none is. Each stream
 * owns a bounded buffer of frames not yet sent (256 KiB; its socket's
 * send buffer is bounded too, so the kernel does not hold
 * megabytes more); the fan-out appends to it and a stream whose buffer
 * would overflow (a client that does not read) is ended with an error, so a slow client never holds
 * up the others (it reconnects with Last-Event-ID and loses nothing). A stream with nothing to send
 * is suspended in libmicrohttpd, so an idle stream costs no thread; the fan-out resumes it when
 * frames arrive.
 *
 * Lock order: hub->mutex, then libmicrohttpd's own (MHD_suspend_connection
 * and MHD_resume_connection are called under hub->mutex, and
 * libmicrohttpd calls events_read_cb without any of its locks that those
 * take). The pool's mutex is never taken under hub->mutex.
 *
 * Not for: what the route accepts (routes_events.c).
 */
#ifndef IMPORTQ_API_EVENTS_H
#define IMPORTQ_API_EVENTS_H

#include "core/error.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* events-max-streams may be at most this (each stream holds a connection
 * and up to 256 KiB of unsent frames). */
#define EVENTS_MAX_STREAMS_LIMIT 10000
/* events-heartbeat's bounds. */
#define EVENTS_HEARTBEAT_MIN_MS 100
#define EVENTS_HEARTBEAT_MAX_MS 3600000

/* What the hub runs with (settings events-*). */
struct events_options {
    int max_streams;      /* events-max-streams */
    int64_t heartbeat_ms; /* events-heartbeat */
};

struct store_pool;
struct event_stream;

struct event_hub {
    pthread_mutex_t mutex;
    pthread_cond_t wake;    /* the fan-out: a stream opened, or stop */
    pthread_cond_t drained; /* events_hub_stop: a stream was freed */
    pthread_t thread;
    struct store_pool *pool;      /* not owned; where the fan-out reads */
    struct event_stream *streams; /* open streams, a list */
    int stream_count;
    int max_streams;         /* events-max-streams */
    int64_t poll_ms;         /* a tick */
    int64_t heartbeat_ms;    /* a comment line to every stream this often */
    int64_t heartbeat_at_ms; /* monotonic: the last one */
    bool stopping;
    bool running;
    bool initialised;
};

/* events_hub_start - start the fan-out thread (opts checked by the
 * caller against the bounds above). 0 or IQ_E_INTERNAL. */
int events_hub_start(struct event_hub *hub, struct store_pool *pool,
                     const struct events_options *opts, struct iq_error *err);

/* events_hub_stop - end every stream (each gets the end of its body) and
 * stop the fan-out; waits up to a moment for libmicrohttpd to free the
 * streams, so that none is suspended when the daemon stops. Before
 * MHD_stop_daemon. Safe on a zeroed struct; idempotent. */
void events_hub_stop(struct event_hub *hub);

/* events_hub_destroy - after the daemon stopped. Safe on a zeroed struct. */
void events_hub_destroy(struct event_hub *hub);

/*
 * events_stream_open - a new stream on connection whose first event will
 * be the one after audit id after_id (reset: after an "event: reset",
 * telling the client that events before after_id are lost). Returns a libmicrohttpd response
 * (the caller queues and destroys it; the stream lives until
 * libmicrohttpd frees the response), or NULL with err set: IQ_E_UNAVAILABLE
 * when max_streams are open or the hub is stopping, IQ_E_NOMEM.
 */
struct MHD_Response *events_stream_open(struct event_hub *hub, struct MHD_Connection *connection,
                                        int64_t after_id, bool reset, struct iq_error *err);

#endif
