/*
 * engine.c - the engine's life: options and their defaults, starting every
 * thread with its own connection, registering the node, waking idle
 * workers, and the orderly stop (stop claiming, grace, cancel, join).
 * The threads' bodies live in worker.c, heartbeat.c and maintenance.c;
 * the lock order they follow is written down in engine_internal.h.
 */
#include "engine/engine_internal.h"
#include "engine/scheduler.h"

#include "core/timeutil.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_CONCURRENT 3
#define DEFAULT_LEASE_MS (5 * 60 * 1000)
#define DEFAULT_JOB_TIMEOUT_MS (30 * 60 * 1000)
#define DEFAULT_RETRY_BASE_MS (10 * 1000)
#define DEFAULT_UPLOAD_RETENTION_MS (24 * 3600 * 1000LL)
#define DEFAULT_LOCK_HISTORY_RETENTION_MS (7 * 24 * 3600 * 1000LL)
#define DEFAULT_PERFORMANCE_RETENTION_MS (30 * 24 * 3600 * 1000LL)
#define DEFAULT_ALERT_RETENTION_MS (30 * 24 * 3600 * 1000LL)
#define DEFAULT_UPLOAD_SWEEP_EVERY_MS 60000
#define DEFAULT_RETRY_CAP_MS (10 * 60 * 1000)
#define DEFAULT_POLL_MS 1000
#define DEFAULT_SCHEDULE_POLL_MS 1000
#define DEFAULT_CANCEL_CHECK_MS 500
#define DEFAULT_NODE_HEARTBEAT_MS 5000
#define DEFAULT_NODE_DEAD_AFTER_MS 30000

const struct audit_context engine_actor = {"engine", NULL, NULL};
const struct audit_context scheduler_actor = {"scheduler", NULL, NULL};

const char *cancel_reason_name(enum cancel_reason reason)
{
    switch (reason) {
    case CANCEL_NONE:
        return "none";
    case CANCEL_REQUESTED:
        return "cancel requested";
    case CANCEL_TIMEOUT:
        return "timeout";
    case CANCEL_SHUTDOWN:
        return "shutdown";
    case CANCEL_LOST:
        return "job lost";
    }
    return "unknown";
}

void engine_options_from_config(const struct config *cfg, struct engine_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->db_url = cfg->db;
    opts->workers = (int)(cfg->workers > ENGINE_WORKERS_MAX ? ENGINE_WORKERS_MAX : cfg->workers);
    opts->max_concurrent = (int)(cfg->max_concurrent > 1000000 ? 1000000 : cfg->max_concurrent);
    opts->lease_ms = cfg->lock_lease;
    opts->job_timeout_ms = cfg->job_timeout;
    opts->retry_base_ms = cfg->retry_base;
    opts->retry_cap_ms = cfg->retry_cap;
    opts->aging_ms = cfg->priority_aging;
    opts->schedule_grace_ms = cfg->schedule_grace;
    opts->import_root = cfg->import_root;
    opts->spool_dir = cfg->spool_dir;
    opts->upload_retention_ms = cfg->upload_retention;
    opts->lock_history_retention_ms = cfg->lock_history_retention;
    opts->performance_retention_ms = cfg->performance_retention;
    opts->alert_retention_ms = cfg->alert_retention;
    opts->max_queue_size = (int)(cfg->max_queue_size > INT32_MAX ? INT32_MAX : cfg->max_queue_size);
    opts->job_max_attempts = (int)(cfg->max_attempts > 1000000 ? 1000000 : cfg->max_attempts);
    opts->health_off = cfg->health_interval == 0;
    opts->health_interval_ms = cfg->health_interval;
    opts->health_retention_ms = cfg->health_retention;
    opts->health_rollup_retention_ms = cfg->health_rollup_retention;
    opts->config = cfg;
    alert_options_from_config(cfg, &opts->alerts);
}

int engine_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return IQ_E_NOMEM;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc == 0 ? 0 : IQ_E_NOMEM;
}

struct timespec engine_deadline(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ms < 0)
        ms = 0;
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

double engine_random_unit(const struct engine *engine, struct backoff_random *rng)
{
    if (engine->opts.random)
        return engine->opts.random->unit(engine->opts.random->ctx);
    return backoff_random_unit(rng);
}

int64_t engine_now_ms(const struct engine *engine)
{
    return iq_clock_now_ms(engine->opts.clock);
}

bool engine_is_cancelling_all(struct engine *engine)
{
    pthread_mutex_lock(&engine->lock);
    bool cancel_all = engine->cancel_all;
    pthread_mutex_unlock(&engine->lock);
    return cancel_all;
}

bool engine_is_stopping(struct engine *engine)
{
    pthread_mutex_lock(&engine->lock);
    bool stopping = engine->stopping;
    pthread_mutex_unlock(&engine->lock);
    return stopping;
}

void engine_wake(struct engine *engine)
{
    if (!engine)
        return;
    pthread_mutex_lock(&engine->lock);
    engine->wake_seq++;
    /* Every sleeper: one of them claims, for all that are idle (worker.c);
     * a signal could reach only a worker waiting on another's round. */
    pthread_cond_broadcast(&engine->wake_cond);
    pthread_mutex_unlock(&engine->lock);
}

const char *engine_node_id(const struct engine *engine)
{
    return engine ? engine->node_id : NULL;
}

int engine_worker_count(const struct engine *engine)
{
    return engine ? engine->worker_count : 0;
}

/* Copies s (NULL: fallback) into *ret; 0 or IQ_E_NOMEM. */
static int copy_string(const char *s, const char *fallback, char **ret)
{
    *ret = strdup(s ? s : fallback);
    return *ret ? 0 : IQ_E_NOMEM;
}

/*
 * apply_options - copy opts into engine with every default filled in.
 * Returns 0, IQ_E_INVALID (err says which option), IQ_E_NOMEM.
 */
static int apply_options(struct engine *engine, const struct engine_options *opts,
                         struct iq_error *err)
{
    if (store_check_url(opts->db_url, err) < 0)
        return IQ_E_INVALID;
    if (opts->workers < 0 || opts->max_concurrent < 0 || opts->lease_ms < 0 ||
        opts->retry_base_ms < 0 || opts->retry_cap_ms < 0 || opts->aging_ms < 0)
        return iq_error_set(err, IQ_E_INVALID, "engine: options must not be negative");
    struct engine_options *o = &engine->opts;
    *o = *opts;
    if (o->max_concurrent == 0)
        o->max_concurrent = DEFAULT_MAX_CONCURRENT;
    if (o->workers == 0)
        o->workers = o->max_concurrent;
    if (o->workers > ENGINE_WORKERS_MAX)
        return iq_error_set(err, IQ_E_INVALID, "engine: at most %d workers per node",
                            ENGINE_WORKERS_MAX);
    if (o->lease_ms == 0)
        o->lease_ms = DEFAULT_LEASE_MS;
    if (o->job_timeout_ms <= 0)
        o->job_timeout_ms = DEFAULT_JOB_TIMEOUT_MS;
    if (o->retry_base_ms == 0)
        o->retry_base_ms = DEFAULT_RETRY_BASE_MS;
    if (o->retry_cap_ms == 0)
        o->retry_cap_ms = DEFAULT_RETRY_CAP_MS;
    if (o->upload_retention_ms <= 0)
        o->upload_retention_ms = DEFAULT_UPLOAD_RETENTION_MS;
    if (o->upload_sweep_every_ms <= 0)
        o->upload_sweep_every_ms = DEFAULT_UPLOAD_SWEEP_EVERY_MS;
    if (o->lock_history_retention_ms <= 0)
        o->lock_history_retention_ms = DEFAULT_LOCK_HISTORY_RETENTION_MS;
    if (o->performance_retention_ms <= 0)
        o->performance_retention_ms = DEFAULT_PERFORMANCE_RETENTION_MS;
    if (o->alert_retention_ms <= 0)
        o->alert_retention_ms = DEFAULT_ALERT_RETENTION_MS;
    if (o->poll_ms <= 0)
        o->poll_ms = DEFAULT_POLL_MS;
    if (o->cancel_check_ms <= 0)
        o->cancel_check_ms = DEFAULT_CANCEL_CHECK_MS;
    if (o->node_heartbeat_ms <= 0)
        o->node_heartbeat_ms = DEFAULT_NODE_HEARTBEAT_MS;
    if (o->node_dead_after_ms <= 0)
        o->node_dead_after_ms = DEFAULT_NODE_DEAD_AFTER_MS;
    if (o->schedule_poll_ms <= 0)
        o->schedule_poll_ms = DEFAULT_SCHEDULE_POLL_MS;
    if (o->schedule_grace_ms <= 0)
        o->schedule_grace_ms = SCHEDULER_GRACE_MS_DEFAULT;
    if (o->rescue_every_ms <= 0)
        o->rescue_every_ms = o->lease_ms / 2 > 0 ? o->lease_ms / 2 : 1;
    engine->heartbeat_ms = o->lease_ms / 3 < o->cancel_check_ms ? o->lease_ms / 3
                                                                : o->cancel_check_ms;
    if (engine->heartbeat_ms < 1)
        engine->heartbeat_ms = 1;
    int rc = copy_string(o->db_url, "", &engine->db_url);
    if (rc == 0)
        rc = copy_string(o->import_root, "./imports", &engine->import_root);
    if (rc == 0)
        rc = copy_string(o->spool_dir, "var/uploads", &engine->spool_dir);
    if (rc == 0)
        rc = copy_string(o->version, "dev", &engine->version);
    if (rc < 0)
        return iq_error_set(err, rc, "out of memory");
    /* The copies stand in for the caller's strings from here on. */
    o->db_url = engine->db_url;
    o->import_root = engine->import_root;
    o->spool_dir = engine->spool_dir;
    o->version = engine->version;
    o->node_id = NULL;
    if (opts->node_id) {
        if (!uuid_is_valid(opts->node_id))
            return iq_error_set(err, IQ_E_INVALID, "engine: node id \"%s\" is not a UUID",
                                opts->node_id);
        memcpy(engine->node_id, opts->node_id, UUID_STR_LEN);
    } else {
        uuid7_generate_at(engine_now_ms(engine), engine->node_id);
    }
    return 0;
}

/* Opens one connection for a thread in role (what the store tunes it for). */
static int open_connection(struct engine *engine, enum store_role role, struct store **ret,
                           struct iq_error *err)
{
    const struct config *cfg = engine->opts.config;
    struct store_options options = {.role = role,
                                    .target_schemas = cfg ? cfg->target_schemas : NULL,
                                    .clock = engine->opts.clock};
    return store_open(engine->db_url, &options, ret, err);
}

/* Registers (or re-registers) this node as alive. */
static int register_node(struct engine *engine, struct iq_error *err)
{
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "unknown");
    engine->host = strdup(host);
    if (!engine->host)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    char status[] = "alive";
    struct node_info node = {
        .host = engine->host,
        .pid = (int)getpid(),
        .version = engine->version,
        .status = status,
        .started_at_ms = engine_now_ms(engine),
    };
    memcpy(node.id, engine->node_id, UUID_STR_LEN);
    node.heartbeat_at_ms = node.started_at_ms;
    return store_node_register(engine->maintenance_store, &node, err);
}

/* Connections, slot and id of worker i. */
static int worker_prepare(struct engine *engine, int i, struct iq_error *err)
{
    struct worker *w = &engine->workers[i];
    w->engine = engine;
    w->index = i;
    snprintf(w->id, sizeof(w->id), "%s/w%d", engine->node_id, i);
    backoff_random_seed(&w->random, (uint64_t)time_now_ms() ^ ((uint64_t)getpid() << 32) ^
                                        ((uint64_t)(i + 1) * UINT64_C(0x9E3779B97F4A7C15)));
    if (slot_init(&w->slot) < 0)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    int rc = open_connection(engine, STORE_ROLE_WORKER, &w->store, err);
    if (rc == 0)
        rc = open_connection(engine, STORE_ROLE_HEARTBEAT, &w->heartbeat_store, err);
    return rc;
}

/* pthread_create with a message; 0 or IQ_E_INTERNAL. */
static int start_thread(pthread_t *thread, void *(*main_fn)(void *), void *arg, const char *what,
                        struct iq_error *err)
{
    int rc = pthread_create(thread, NULL, main_fn, arg);
    if (rc != 0)
        return iq_error_set(err, IQ_E_INTERNAL, "cannot start the %s thread: %s", what,
                            strerror(rc));
    return 0;
}

/*
 * join_and_free - the end of every engine, started fully or not: tells the
 * threads that were started to end, joins them, closes every connection
 * and frees everything. Workers must already have been told to stop
 * (engine->stopping) and their jobs dealt with.
 */
static void join_and_free(struct engine *engine)
{
    pthread_mutex_lock(&engine->lock);
    engine->stopping = true;
    engine->cancel_all = true;
    pthread_cond_broadcast(&engine->wake_cond);
    pthread_mutex_unlock(&engine->lock);
    for (int i = 0; engine->workers && i < engine->worker_count; i++) {
        struct worker *w = &engine->workers[i];
        if (w->thread_started)
            pthread_join(w->thread, NULL);
        w->thread_started = false;
    }
    for (int i = 0; engine->workers && i < engine->worker_count; i++) {
        struct worker *w = &engine->workers[i];
        if (w->heartbeat_started) {
            slot_quit(&w->slot);
            pthread_join(w->heartbeat_thread, NULL);
        }
        slot_destroy(&w->slot);
        store_close(w->store);
        store_close(w->heartbeat_store);
    }
    pthread_mutex_lock(&engine->lock);
    engine->quit = true;
    pthread_cond_broadcast(&engine->stop_cond);
    pthread_mutex_unlock(&engine->lock);
    alerts_free(engine->alerts);
    if (engine->maintenance_started)
        pthread_join(engine->maintenance_thread, NULL);
    if (engine->waker_started)
        pthread_join(engine->waker_thread, NULL);
    if (engine->scheduler_started)
        pthread_join(engine->scheduler_thread, NULL);
    health_stop(engine);
    store_close(engine->maintenance_store);
    store_close(engine->waker_store);
    store_close(engine->scheduler_store); /* the scheduler's lead goes with it */
    pthread_cond_destroy(&engine->wake_cond);
    pthread_cond_destroy(&engine->idle_cond);
    pthread_cond_destroy(&engine->stop_cond);
    pthread_mutex_destroy(&engine->lock);
    free(engine->workers);
    free(engine->db_url);
    free(engine->import_root);
    free(engine->spool_dir);
    free(engine->version);
    free(engine->host);
    free(engine);
}

/* Opens every connection, registers the node and starts the threads. */
static int engine_launch(struct engine *engine, struct iq_error *err)
{
    int rc = health_start(engine, err); /* first: it checks its options */
    if (rc == 0)
        rc = open_connection(engine, STORE_ROLE_DEFAULT, &engine->maintenance_store, err);
    if (rc == 0)
        rc = register_node(engine, err);
    if (rc == 0)
        rc = open_connection(engine, STORE_ROLE_DEFAULT, &engine->waker_store, err);
    engine->workers = calloc((size_t)engine->opts.workers, sizeof(*engine->workers));
    if (rc == 0 && !engine->workers)
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < engine->opts.workers; i++) {
        engine->worker_count = i + 1;
        rc = worker_prepare(engine, i, err);
    }
    /* Heartbeats first: a worker may claim as soon as it starts. */
    for (int i = 0; rc == 0 && i < engine->worker_count; i++) {
        struct worker *w = &engine->workers[i];
        rc = start_thread(&w->heartbeat_thread, heartbeat_main, w, "heartbeat", err);
        w->heartbeat_started = rc == 0;
    }
    for (int i = 0; rc == 0 && i < engine->worker_count; i++) {
        struct worker *w = &engine->workers[i];
        rc = start_thread(&w->thread, worker_main, w, "worker", err);
        w->thread_started = rc == 0;
    }
    if (rc == 0) {
        rc = start_thread(&engine->maintenance_thread, maintenance_main, engine, "maintenance",
                          err);
        engine->maintenance_started = rc == 0;
    }
    if (rc == 0) {
        rc = start_thread(&engine->waker_thread, waker_main, engine, "waker", err);
        engine->waker_started = rc == 0;
    }
    if (rc == 0 && !engine->opts.scheduler_off)
        rc = open_connection(engine, STORE_ROLE_DEFAULT, &engine->scheduler_store, err);
    if (rc == 0 && !engine->opts.scheduler_off) {
        rc = start_thread(&engine->scheduler_thread, scheduler_main, engine, "scheduler", err);
        engine->scheduler_started = rc == 0;
    }
    if (rc == 0 && engine->opts.alerts.enabled) {
        struct alerts_config cfg = {.db_url = engine->db_url,
                                    .node_id = engine->node_id,
                                    .clock = engine->opts.clock,
                                    .options = engine->opts.alerts};
        rc = alerts_create(&cfg, &engine->alerts, err);
        if (rc == 0)
            rc = alerts_start(engine->alerts, err);
    }
    return rc;
}

int engine_start(const struct engine_options *opts, struct engine **ret_engine,
                 struct iq_error *err)
{
    *ret_engine = NULL;
    struct engine *engine = calloc(1, sizeof(*engine));
    if (!engine)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    if (pthread_mutex_init(&engine->lock, NULL) != 0 || engine_cond_init(&engine->wake_cond) < 0 ||
        engine_cond_init(&engine->idle_cond) < 0 || engine_cond_init(&engine->stop_cond) < 0) {
        free(engine); /* nothing else exists yet; the OS reclaims half-made sync objects */
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    backoff_random_seed(&engine->maintenance_random, (uint64_t)time_now_ms() ^ (uint64_t)getpid());
    int rc = apply_options(engine, opts, err);
    if (rc == 0)
        rc = engine_metrics_register(&engine->metrics, opts->metrics, err);
    if (rc == 0)
        rc = engine_launch(engine, err);
    if (rc < 0) {
        join_and_free(engine);
        return rc;
    }
    *ret_engine = engine;
    return 0;
}

/*
 * engine_stop - see engine.h. The order matters: workers first (their
 * last act is recording their job's end on their own connection), then
 * the heartbeats, then maintenance, whose connection records "stopped".
 */
void engine_stop(struct engine *engine, int64_t grace_ms)
{
    if (!engine)
        return;
    pthread_mutex_lock(&engine->lock);
    engine->stopping = true;
    pthread_cond_broadcast(&engine->wake_cond);
    struct timespec deadline = engine_deadline(grace_ms);
    while (engine->running > 0) {
        if (pthread_cond_timedwait(&engine->idle_cond, &engine->lock, &deadline) == ETIMEDOUT)
            break;
    }
    int still_running = engine->running;
    /* A worker that claims after this reads cancel_all and stops at once. */
    engine->cancel_all = true;
    pthread_mutex_unlock(&engine->lock);
    if (still_running > 0) {
        char count[16];
        snprintf(count, sizeof(count), "%d", still_running);
        log_event(LOG_WARN, "grace period over: cancelling running jobs", "node", engine->node_id,
                  "running", count, NULL);
        for (int i = 0; i < engine->worker_count; i++)
            slot_cancel(&engine->workers[i].slot, CANCEL_SHUTDOWN);
    }
    for (int i = 0; i < engine->worker_count; i++) {
        struct worker *w = &engine->workers[i];
        if (w->thread_started)
            pthread_join(w->thread, NULL);
        w->thread_started = false;
    }
    pthread_mutex_lock(&engine->lock);
    engine->quit = true;
    pthread_cond_broadcast(&engine->stop_cond);
    pthread_mutex_unlock(&engine->lock);
    if (engine->maintenance_started)
        pthread_join(engine->maintenance_thread, NULL);
    engine->maintenance_started = false;
    struct iq_error err = {0};
    if (store_node_heartbeat(engine->maintenance_store, engine->node_id, "stopped", &err) < 0)
        log_event(LOG_WARN, "cannot mark the node stopped", "node", engine->node_id, "error",
                  iq_error_message(&err), NULL);
    iq_error_clear(&err);
    join_and_free(engine);
}
