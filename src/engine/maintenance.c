/*
 * maintenance.c - the node's housekeeping threads.
 *
 * maintenance (one per node, own connection):
 *   - renews this node's heartbeat in the registry every node_heartbeat_ms;
 *   - rescues, every rescue_every_ms (lease/2), RUNNING jobs of any node
 *     whose heartbeat is older than the lease: the store records the
 *     attempt as failed (worker_lost), frees the locks and re-queues the
 *     job after engine_rescue_backoff_cb (the same backoff as a retry);
 *     the first sweep runs at start, so a restarted node picks up what its
 *     previous life left behind;
 *   - marks nodes silent for node_dead_after_ms "dead";
 *   - deletes spooled uploads that are no longer needed (their job
 *     completed, or unused/failed for upload_retention_ms); the spool
 *     directory is shared by every node that serves uploads, so any node
 *     may sweep it (a file already gone is fine);
 *   - on the same beat, prunes the history (store_history_prune, in
 *     bounded batches): importq_lock_history older than
 *     lock_history_retention_ms, the performance records of attempts
 *     older than performance_retention_ms, alerts resolved longer ago
 *     than alert_retention_ms (open and acknowledged ones stay). Every
 *     node does; a row is deleted once, whoever gets there first.
 * waker (own connection): waits for "new work" from other connections
 *   (store_wait_for_work: PostgreSQL LISTEN for a job created, finished, a
 *   lock released; SQLite the database's data_version moving) and wakes an
 *   idle worker, so a job submitted on another node or process starts
 *   within milliseconds here too. On a backend without it
 *   (IQ_E_NOT_SUPPORTED) the thread ends at once.
 *
 * Both sleep on engine->stop_cond so engine_stop ends them promptly; no
 * store call is made under engine->lock.
 */
#include "engine/engine_internal.h"

#include "core/timeutil.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

/* The waker's wait per call: how long engine_stop may wait for it. */
#define WAKER_WAIT_MS 500
#define WAKER_ERROR_PAUSE_MS 1000

int64_t engine_rescue_backoff_cb(int attempt, void *ctx)
{
    struct engine *engine = ctx;
    return retry_backoff_ms(engine->opts.retry_base_ms, engine->opts.retry_cap_ms, attempt,
                            engine_random_unit(engine, &engine->maintenance_random));
}

/* sleep_until_quit - wait up to ms on stop_cond; true when the engine quits. */
static bool sleep_until_quit(struct engine *engine, int64_t ms)
{
    struct timespec deadline = engine_deadline(ms);
    pthread_mutex_lock(&engine->lock);
    while (!engine->quit) {
        if (pthread_cond_timedwait(&engine->stop_cond, &engine->lock, &deadline) == ETIMEDOUT)
            break;
    }
    bool quit = engine->quit;
    pthread_mutex_unlock(&engine->lock);
    return quit;
}

/* One kind of periodic work and its failure streak (logged once). */
struct chore {
    const char *what;
    int64_t every_ms;
    int64_t next_mono_ms;
    bool failing;
};

/* chore_done - schedule the next run, count a database error and log a
 * failure once per streak. */
static void chore_done(struct chore *chore, int rc, const struct iq_error *err,
                       const struct engine *engine)
{
    const char *node = engine->node_id;
    engine_metrics_database_error(&engine->metrics, rc);
    chore->next_mono_ms = time_monotonic_ms() + chore->every_ms;
    if (rc < 0 && !chore->failing)
        log_event(LOG_WARN, chore->what, "node", node, "error", iq_error_message(err), NULL);
    else if (rc == 0 && chore->failing)
        log_event(LOG_INFO, "maintenance works again", "node", node, NULL);
    chore->failing = rc < 0;
}

static void rescue(struct engine *engine, struct chore *chore)
{
    struct iq_error err = {0};
    int rescued = 0;
    int rc = store_jobs_rescue(engine->maintenance_store, engine->opts.lease_ms,
                               engine_rescue_backoff_cb, engine, &engine_actor, &rescued, &err);
    chore_done(chore, rc, &err, engine);
    iq_error_clear(&err);
    if (rc == 0 && rescued > 0) {
        char count[16];
        snprintf(count, sizeof(count), "%d", rescued);
        log_event(LOG_WARN, "rescued jobs of lost workers", "node", engine->node_id, "jobs", count,
                  NULL);
        engine_wake(engine);
    }
}

static void mark_dead(struct engine *engine, struct chore *chore)
{
    struct iq_error err = {0};
    int marked = 0;
    int rc = store_nodes_mark_dead(engine->maintenance_store, engine->opts.node_dead_after_ms,
                                   &marked, &err);
    chore_done(chore, rc, &err, engine);
    iq_error_clear(&err);
    if (rc == 0 && marked > 0) {
        char count[16];
        snprintf(count, sizeof(count), "%d", marked);
        log_event(LOG_WARN, "nodes marked dead", "node", engine->node_id, "nodes", count, NULL);
    }
}

/* sweep_uploads - delete each expired upload's file, then its row. */
static void sweep_uploads(struct engine *engine, struct chore *chore)
{
    struct iq_error err = {0};
    struct upload_list expired = {0};
    int rc = store_uploads_expired(engine->maintenance_store,
                                   engine_now_ms(engine) - engine->opts.upload_retention_ms,
                                   &expired, &err);
    for (size_t i = 0; rc == 0 && i < expired.count; i++) {
        if (unlink(expired.items[i].path) != 0 && errno != ENOENT)
            continue; /* keep the row: the file is still there */
        rc = store_upload_delete(engine->maintenance_store, expired.items[i].id, &err);
    }
    upload_list_clear(&expired);
    chore_done(chore, rc, &err, engine);
    iq_error_clear(&err);
}

/* prune_history - the monitoring history past its retention; a sweep
 * that left some behind (HISTORY_PRUNE_ROUNDS batches of a kind) is
 * followed by the next sweep's. */
static void prune_history(struct engine *engine, struct chore *chore)
{
    struct iq_error err = {0};
    struct history_retention retention = {
        .now_ms = engine_now_ms(engine),
        .lock_history_keep_ms = engine->opts.lock_history_retention_ms,
        .performance_keep_ms = engine->opts.performance_retention_ms,
        .alert_keep_ms = engine->opts.alert_retention_ms,
    };
    int rc = store_history_prune(engine->maintenance_store, &retention, NULL, &err);
    chore_done(chore, rc, &err, engine);
    iq_error_clear(&err);
}

static void node_beat(struct engine *engine, struct chore *chore)
{
    struct iq_error err = {0};
    int rc = store_node_heartbeat(engine->maintenance_store, engine->node_id, "alive", &err);
    chore_done(chore, rc, &err, engine);
    iq_error_clear(&err);
}

void *maintenance_main(void *arg)
{
    struct engine *engine = arg;
    int64_t now = time_monotonic_ms();
    struct chore beat = {"node heartbeat failed", engine->opts.node_heartbeat_ms,
                         now + engine->opts.node_heartbeat_ms, false};
    struct chore sweep = {"rescue failed", engine->opts.rescue_every_ms, now, false};
    struct chore dead = {"marking dead nodes failed", engine->opts.node_heartbeat_ms, now, false};
    struct chore uploads = {"sweeping uploads failed", engine->opts.upload_sweep_every_ms, now,
                           false};
    struct chore history = {"pruning the history failed", engine->opts.upload_sweep_every_ms,
                            now, false};
    for (;;) {
        now = time_monotonic_ms();
        if (now >= beat.next_mono_ms)
            node_beat(engine, &beat);
        if (now >= sweep.next_mono_ms)
            rescue(engine, &sweep);
        if (now >= dead.next_mono_ms)
            mark_dead(engine, &dead);
        if (now >= uploads.next_mono_ms) {
            sweep_uploads(engine, &uploads);
            prune_history(engine, &history); /* on the same beat */
        }
        int64_t next = beat.next_mono_ms;
        if (sweep.next_mono_ms < next)
            next = sweep.next_mono_ms;
        if (dead.next_mono_ms < next)
            next = dead.next_mono_ms;
        if (uploads.next_mono_ms < next)
            next = uploads.next_mono_ms;
        if (sleep_until_quit(engine, next - time_monotonic_ms()))
            break;
    }
    return NULL;
}

void *waker_main(void *arg)
{
    struct engine *engine = arg;
    bool failing = false;
    for (;;) {
        pthread_mutex_lock(&engine->lock);
        bool quit = engine->quit;
        pthread_mutex_unlock(&engine->lock);
        if (quit)
            break;
        bool woken = false;
        struct iq_error err = {0};
        int rc = store_wait_for_work(engine->waker_store, WAKER_WAIT_MS, &woken, &err);
        if (rc == IQ_E_NOT_SUPPORTED) {
            iq_error_clear(&err);
            break; /* in-process wake-ups only on this backend */
        }
        if (rc < 0 && !failing)
            log_event(LOG_WARN, "waiting for work notifications failed; polling until it works",
                      "node", engine->node_id, "error", iq_error_message(&err), NULL);
        else if (rc == 0 && failing)
            log_event(LOG_INFO, "work notifications work again", "node", engine->node_id, NULL);
        failing = rc < 0;
        iq_error_clear(&err);
        if (rc == 0 && woken)
            engine_wake(engine);
        else if (rc < 0 && sleep_until_quit(engine, WAKER_ERROR_PAUSE_MS))
            break;
    }
    return NULL;
}
