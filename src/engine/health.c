/*
 * health.c - the health thread of a node: once per slot of
 * health-interval (slots are multiples of the interval since the Unix
 * epoch) it asks the store for the slot's sample (store_health_snapshot:
 * a statement that counts the queue by status, the locks held,
 * the jobs finished and rows imported in the interval, the oldest queued
 * age). Every node tries; the store lets exactly one sample per slot in,
 * so there is no leader to elect and none to lose. The node whose sample
 * opens a new 5-minute bucket compacts the history (store_health_compact):
 * samples past health-retention become 5-minute rollups, rollups past
 * health-rollup-retention go, so the table stays bounded at about
 * retention/interval + rollup-retention/5 min rows.
 *
 * Cost: one statement per interval per node (SQLite: a read, then a
 * one-row write), on a connection of its own, never on a worker's path;
 * a node that finds the slot taken counts almost nothing (bench/health.sh).
 * Slots follow engine_now_ms (the injected clock in
 * tests, who advance it); the thread looks at least every HEALTH_POLL_MS
 * of real time whether a new slot has begun, and sleeps on
 * engine->stop_cond so engine_stop ends it at once.
 *
 * Not here: alerts (they read the same table), the API's series.
 */
#include "engine/engine_internal.h"

#include "core/timeutil.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>

#define HEALTH_DEFAULT_INTERVAL_MS (10 * 1000LL)
#define HEALTH_DEFAULT_RETENTION_MS (24 * 3600 * 1000LL)
#define HEALTH_DEFAULT_ROLLUP_RETENTION_MS (30 * 24 * 3600 * 1000LL)
#define HEALTH_MAX_RETENTION_MS (7 * 24 * 3600 * 1000LL)
#define HEALTH_MAX_ROLLUP_RETENTION_MS (400 * 24 * 3600 * 1000LL)
/* The longest real-time sleep between looks at the clock. */
#define HEALTH_POLL_MS 1000

/* apply_defaults - fill the zero options, then check them all. */
static int apply_defaults(struct engine_options *o, struct iq_error *err)
{
    if (o->health_interval_ms == 0)
        o->health_interval_ms = HEALTH_DEFAULT_INTERVAL_MS;
    if (o->health_retention_ms == 0)
        o->health_retention_ms = HEALTH_DEFAULT_RETENTION_MS;
    if (o->health_rollup_retention_ms == 0)
        o->health_rollup_retention_ms = HEALTH_DEFAULT_ROLLUP_RETENTION_MS;
    if (o->health_interval_ms < HEALTH_INTERVAL_MIN_MS ||
        o->health_interval_ms > HEALTH_INTERVAL_MAX_MS || o->health_interval_ms % 1000 != 0)
        return iq_error_set(err, IQ_E_INVALID,
                            "health-interval: whole seconds from 1s to 1h (0: off)");
    if (o->health_retention_ms < o->health_interval_ms ||
        o->health_retention_ms > HEALTH_MAX_RETENTION_MS)
        return iq_error_set(err, IQ_E_INVALID,
                            "health-retention: from health-interval to 7d");
    if (o->health_rollup_retention_ms < o->health_retention_ms ||
        o->health_rollup_retention_ms > HEALTH_MAX_ROLLUP_RETENTION_MS)
        return iq_error_set(err, IQ_E_INVALID,
                            "health-rollup-retention: from health-retention to 400d");
    return 0;
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

/* report - count a database error and log a failure once per streak. */
static void report(struct engine *engine, const char *what, int rc, const struct iq_error *err,
                   bool *failing)
{
    engine_metrics_database_error(&engine->metrics, rc);
    if (rc < 0 && !*failing)
        log_event(LOG_WARN, what, "node", engine->node_id, "error", iq_error_message(err), NULL);
    else if (rc == 0 && *failing)
        log_event(LOG_INFO, "health samples work again", "node", engine->node_id, NULL);
    *failing = rc < 0;
}

/* compact - roll up and prune the history (after this node took a slot). */
static int compact(struct engine *engine, struct iq_error *err)
{
    struct health_retention retention = {
        .now_ms = engine_now_ms(engine),
        .sample_keep_ms = engine->opts.health_retention_ms,
        .rollup_keep_ms = engine->opts.health_rollup_retention_ms,
    };
    struct health_compaction done;
    return store_health_compact(engine->health_store, &retention, &done, err);
}

/*
 * take_sample - the slot's sample, and a compaction when this node's
 * sample is the first of a 5-minute bucket (or the first since it
 * started). 0 or the store's error.
 */
static int take_sample(struct engine *engine, bool *compacted_once, struct iq_error *err)
{
    int64_t interval_ms = engine->opts.health_interval_ms;
    struct health_snapshot_result result;
    int rc = store_health_snapshot(engine->health_store, interval_ms, engine->node_id, &result,
                                   err);
    if (rc < 0 || !result.taken)
        return rc;
    int64_t bucket_ms = HEALTH_ROLLUP_PERIOD_S * 1000LL;
    bool new_bucket = health_slot_ms(result.slot_ms, bucket_ms) !=
                      health_slot_ms(result.slot_ms - interval_ms, bucket_ms);
    if (!new_bucket && *compacted_once)
        return 0;
    *compacted_once = true;
    return compact(engine, err);
}

static void *health_main(void *arg)
{
    struct engine *engine = arg;
    int64_t interval_ms = engine->opts.health_interval_ms;
    int64_t done_slot = INT64_MIN;
    bool failing = false, compacted_once = false;
    for (;;) {
        int64_t now = engine_now_ms(engine);
        int64_t slot = health_slot_ms(now, interval_ms);
        int64_t wait_ms = slot + interval_ms - now;
        if (slot != done_slot) {
            struct iq_error err = {0};
            int rc = take_sample(engine, &compacted_once, &err);
            report(engine, "taking a health sample failed", rc, &err, &failing);
            iq_error_clear(&err);
            if (rc == 0)
                done_slot = slot; /* else try again after the poll */
        }
        if (wait_ms > HEALTH_POLL_MS || done_slot != slot)
            wait_ms = HEALTH_POLL_MS;
        if (sleep_until_quit(engine, wait_ms < 1 ? 1 : wait_ms))
            break;
    }
    return NULL;
}

int health_start(struct engine *engine, struct iq_error *err)
{
    if (engine->opts.health_off)
        return 0;
    int rc = apply_defaults(&engine->opts, err);
    if (rc < 0)
        return rc;
    const struct config *cfg = engine->opts.config;
    struct store_options options = {.role = STORE_ROLE_DEFAULT,
                                    .target_schemas = cfg ? cfg->target_schemas : NULL,
                                    .clock = engine->opts.clock};
    rc = store_open(engine->db_url, &options, &engine->health_store, err);
    if (rc < 0)
        return rc;
    rc = pthread_create(&engine->health_thread, NULL, health_main, engine);
    if (rc != 0)
        return iq_error_set(err, IQ_E_INTERNAL, "cannot start the health thread");
    engine->health_started = true;
    return 0;
}

void health_stop(struct engine *engine)
{
    if (engine->health_started)
        pthread_join(engine->health_thread, NULL);
    engine->health_started = false;
    store_close(engine->health_store);
    engine->health_store = NULL;
}
