/*
 * status_cache.c - the refresher thread of GET /import-queue/status and
 * the copy it keeps (status_cache.h says when a request waits).
 *
 * Threads and locking: the mutex guards every member after start. The
 * refresher computes without it, so a request never waits for a count it
 * does not need; refreshes are numbered, and a request that must wait
 * asks for the next one to begin (urgent) and waits until it has ended.
 */
#include "api/status_cache.h"

#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const struct status_cache_timing status_cache_default_timing = {
    .period_ms = 500,
    .max_age_ms = 5000,
    .idle_ms = 5000,
};

/* wait_until - wait on cond until the monotonic time until_ms (or a signal). */
static void wait_until(pthread_cond_t *cond, pthread_mutex_t *mutex, int64_t until_ms)
{
    struct timespec ts = {.tv_sec = until_ms / 1000, .tv_nsec = (until_ms % 1000) * 1000000};
    pthread_cond_timedwait(cond, mutex, &ts);
}

/* refresh - one refresh, numbered; called and returns with the mutex held. */
static void refresh(struct status_cache *c, int64_t now_ms)
{
    c->urgent = false;
    c->refreshing = true;
    uint64_t number = ++c->started;
    uint64_t changes = c->changes;
    c->attempt_mono_ms = now_ms;
    c->attempt_changes = changes;
    pthread_mutex_unlock(&c->mutex);

    char *body = NULL;
    size_t len = 0;
    struct iq_error err = {0};
    int rc = c->compute(c->ctx, &body, &len, &err);
    char *message = rc < 0 ? strdup(iq_error_message(&err)) : NULL;
    iq_error_clear(&err);

    pthread_mutex_lock(&c->mutex);
    c->refreshing = false;
    if (rc == 0) {
        free(c->body);
        c->body = body;
        c->len = len;
        c->computed_mono_ms = now_ms;
        c->body_changes = changes;
        c->body_refresh = number;
    }
    free(c->last_message);
    c->last_message = message;
    c->last_code = rc;
    c->ended = number;
    pthread_cond_broadcast(&c->refreshed);
}

static void *refresher_main(void *arg)
{
    struct status_cache *c = arg;
    pthread_mutex_lock(&c->mutex);
    while (!c->stopping) {
        int64_t now = time_monotonic_ms();
        bool asked = c->asked_mono_ms != 0 && now - c->asked_mono_ms < c->timing.idle_ms;
        bool due = c->urgent || (asked && (now - c->attempt_mono_ms >= c->timing.period_ms ||
                                           c->attempt_changes != c->changes));
        if (due) {
            refresh(c, now);
            continue;
        }
        if (!asked) {
            pthread_cond_wait(&c->wake, &c->mutex);
            continue;
        }
        int64_t next = c->attempt_mono_ms + c->timing.period_ms;
        int64_t idle_at = c->asked_mono_ms + c->timing.idle_ms;
        wait_until(&c->wake, &c->mutex, next < idle_at ? next : idle_at);
    }
    pthread_mutex_unlock(&c->mutex);
    return NULL;
}

int status_cache_start(struct status_cache *c, status_compute_fn compute, void *ctx,
                       const struct status_cache_timing *timing, struct iq_error *err)
{
    memset(c, 0, sizeof(*c));
    c->compute = compute;
    c->ctx = ctx;
    c->timing = timing ? *timing : status_cache_default_timing;
    c->attempt_mono_ms = INT64_MIN / 2;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&c->mutex, NULL);
    pthread_cond_init(&c->wake, &attr);
    pthread_cond_init(&c->refreshed, &attr);
    pthread_condattr_destroy(&attr);
    c->initialised = true;
    if (pthread_create(&c->thread, NULL, refresher_main, c) != 0)
        return iq_error_set(err, IQ_E_INTERNAL, "cannot start the status refresher");
    c->started_thread = true;
    return 0;
}

void status_cache_stop(struct status_cache *c)
{
    if (!c->initialised)
        return;
    pthread_mutex_lock(&c->mutex);
    c->stopping = true;
    pthread_cond_broadcast(&c->wake);
    pthread_cond_broadcast(&c->refreshed);
    pthread_mutex_unlock(&c->mutex);
    if (c->started_thread)
        pthread_join(c->thread, NULL);
    free(c->body);
    free(c->last_message);
    pthread_cond_destroy(&c->wake);
    pthread_cond_destroy(&c->refreshed);
    pthread_mutex_destroy(&c->mutex);
    memset(c, 0, sizeof(*c));
}

/* copy_body - a copy of the cached text; called with the mutex held. */
static int copy_body(const struct status_cache *c, char **ret_body, size_t *ret_len,
                     struct iq_error *err)
{
    char *copy = malloc(c->len + 1);
    if (!copy)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    memcpy(copy, c->body, c->len + 1);
    *ret_body = copy;
    *ret_len = c->len;
    return 0;
}

int status_cache_get(struct status_cache *c, char **ret_body, size_t *ret_len,
                     struct iq_error *err)
{
    *ret_body = NULL;
    *ret_len = 0;
    int64_t now = time_monotonic_ms();
    pthread_mutex_lock(&c->mutex);
    c->asked_mono_ms = now != 0 ? now : 1;
    bool current = c->body && c->body_changes == c->changes;
    bool young = current && now - c->computed_mono_ms < c->timing.max_age_ms;
    int rc;
    if (current && (young || c->refreshing)) {
        if (now - c->attempt_mono_ms >= c->timing.period_ms)
            pthread_cond_signal(&c->wake); /* it may be idle */
        rc = copy_body(c, ret_body, ret_len, err);
        pthread_mutex_unlock(&c->mutex);
        return rc;
    }
    /* Figures computed after this node's last change: the refresh under
     * way when it began after that change, else the next one. */
    uint64_t need = c->refreshing && c->attempt_changes == c->changes ? c->started : c->started + 1;
    c->urgent = true;
    pthread_cond_signal(&c->wake);
    while (!c->stopping && c->ended < need)
        pthread_cond_wait(&c->refreshed, &c->mutex);
    if (c->ended < need)
        rc = iq_error_set(err, IQ_E_UNAVAILABLE, "the server is stopping");
    else if (c->body && c->body_refresh >= need)
        rc = copy_body(c, ret_body, ret_len, err);
    else
        rc = iq_error_set(err, c->last_code < 0 ? c->last_code : IQ_E_INTERNAL, "%s",
                          c->last_message ? c->last_message : "computing the status failed");
    pthread_mutex_unlock(&c->mutex);
    return rc;
}

void status_cache_invalidate(struct status_cache *c)
{
    pthread_mutex_lock(&c->mutex);
    c->changes++;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->mutex);
}
