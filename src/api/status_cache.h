/*
 * status_cache.h - the figures of GET /import-queue/status, kept fresh off
 * the request path: a refresher thread owned by the server recomputes them
 * every period while they are asked for, and a request answers with the
 * last copy instead of counting the queue itself. A request waits for a
 * refresh only when there is no copy yet, when this node changed the
 * queue since the copy was made (status_cache_invalidate: a client reads
 * its own change), or when the copy is older than max_age and no refresh
 * is under way (nobody asked for a while). While a refresh is under way,
 * however long it takes, requests get the previous copy.
 *
 * Not for: what the figures are (routes_jobs.c computes them through the
 * compute callback).
 */
#ifndef IMPORTQ_API_STATUS_CACHE_H
#define IMPORTQ_API_STATUS_CACHE_H

#include "core/error.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Compute the figures: 0 and a new malloc'd text in *ret_body (*ret_len
 * bytes, NUL-terminated), or a negative code with err set. Runs on the
 * refresher thread only. */
typedef int (*status_compute_fn)(void *ctx, char **ret_body, size_t *ret_len,
                                 struct iq_error *err);

struct status_cache_timing {
    int64_t period_ms;  /* refresh this often while asked for */
    int64_t max_age_ms; /* an older copy is not served unless a refresh is under way */
    int64_t idle_ms;    /* stop refreshing this long after the last request */
};

struct status_cache {
    pthread_mutex_t mutex;
    pthread_cond_t wake;      /* the refresher: asked for, changed, or stop */
    pthread_cond_t refreshed; /* waiting requests: a refresh ended */
    pthread_t thread;
    status_compute_fn compute;
    void *ctx;
    struct status_cache_timing timing;
    char *body; /* owned; NULL until the first refresh succeeds */
    size_t len;
    int64_t computed_mono_ms;  /* when the refresh that made body began */
    uint64_t changes;          /* status_cache_invalidate calls */
    uint64_t body_changes;     /* changes when body's refresh began */
    uint64_t body_refresh;     /* the number of the refresh that made body */
    uint64_t started, ended;   /* refreshes begun and ended (numbered from 1) */
    int64_t attempt_mono_ms;   /* when the last refresh began */
    uint64_t attempt_changes;  /* changes when it began */
    int last_code;             /* of the last refresh: 0 or its error */
    char *last_message;        /* owned: its error's message */
    int64_t asked_mono_ms;     /* the last request; 0 = never */
    bool urgent;               /* a request waits for the next refresh */
    bool refreshing;           /* a refresh is under way */
    bool stopping;
    bool started_thread;
    bool initialised;
};

/* The server's timing: every 0.5 s while asked for, a copy up to 5 s old
 * served, idle after 5 s without a request. */
extern const struct status_cache_timing status_cache_default_timing;

/*
 * status_cache_start - start the refresher (nothing is computed until the
 * first request). timing NULL: status_cache_default_timing. 0 or
 * IQ_E_INTERNAL; status_cache_stop is safe after a failure.
 */
int status_cache_start(struct status_cache *cache, status_compute_fn compute, void *ctx,
                       const struct status_cache_timing *timing, struct iq_error *err);

/* status_cache_stop - stop and join the refresher (it finishes a refresh
 * under way first), wake waiting requests (they fail) and free the copy.
 * Safe on a zeroed struct. */
void status_cache_stop(struct status_cache *cache);

/*
 * status_cache_get - a copy of the figures (malloc'd, NUL-terminated,
 * *ret_len bytes; the caller frees it), waiting for a refresh only in the
 * cases of the file comment. A negative code with err set when the
 * refresh it waited for failed, or IQ_E_UNAVAILABLE when stopping.
 */
int status_cache_get(struct status_cache *cache, char **ret_body, size_t *ret_len,
                     struct iq_error *err);

/* status_cache_invalidate - this node changed the queue: the next request
 * waits for figures computed after this call. */
void status_cache_invalidate(struct status_cache *cache);

#endif
