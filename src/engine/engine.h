/*
 * engine.h - the orchestration engine of one node: worker threads that
 * claim runnable jobs from the store and run them through the import
 * pipeline, a heartbeat per worker that keeps the job's lease and notices
 * cancels and timeouts, and a maintenance thread that keeps this node in
 * the registry and rescues jobs whose workers vanished (on any node).
 *
 * Scheduling decisions that need the whole cluster (priority order,
 * dependencies, the global max_concurrent, resource locks) are made by the
 * store inside one claim transaction; the engine decides when to claim,
 * how long to wait between attempts and how a job's outcome is recorded.
 *
 * Threads (each opens its own store connection; a store is one connection
 * and not thread-safe):
 *   worker i       claim -> run -> claim; sleeps when nothing is runnable
 *   heartbeat i    the lease, progress, cancel and timeout of worker i's job
 *   maintenance    node heartbeat, rescue of lost jobs, dead nodes
 *   waker          waits for work made by other processes (store_wait_for_work:
 *                  LISTEN on PostgreSQL, data_version on SQLite), wakes idle workers
 *   scheduler      fires due scheduled imports while this node leads the
 *                  scheduler (engine/scheduler.c)
 *   health         a sample of the queue's health per interval, one per
 *                  slot cluster-wide, and the history's rollups (engine/health.c)
 *
 * Not for: HTTP (src/api calls engine_wake after a submission).
 */
#ifndef IMPORTQ_ENGINE_ENGINE_H
#define IMPORTQ_ENGINE_ENGINE_H

#include "core/clock.h"
#include "core/error.h"
#include "core/metrics.h"
#include "core/uuid7.h"
#include "engine/alerts.h"
#include "util/config.h"

#include <stdbool.h>
#include <stdint.h>

struct engine;

/*
 * What the engine runs with. Zero fields take the documented default, so
 * `struct engine_options opts = {.db_url = url}` is a working engine.
 * Strings are copied by engine_start; config must outlive the engine.
 */
struct engine_options {
    const char *db_url;              /* the service database (required) */
    int workers;                     /* worker threads; 0 = max_concurrent */
    int max_concurrent;              /* RUNNING jobs cluster-wide; 0 = 3 */
    int64_t lease_ms;                /* lock and job lease; 0 = 5 min */
    int64_t job_timeout_ms;          /* for a job without timeout_s; 0 = 30 min */
    int64_t retry_base_ms;           /* first retry delay ceiling; 0 = 10 s */
    int64_t retry_cap_ms;            /* longest retry delay; 0 = 10 min */
    int64_t aging_ms;                /* priority aging step; 0 = off */
    const char *import_root;         /* source.path is inside it; NULL = "./imports" */
    const char *spool_dir;           /* source.upload files; NULL = "var/uploads" */
    int64_t upload_retention_ms;     /* unused or failed uploads kept; 0 = 24 h */
    int64_t upload_sweep_every_ms;   /* how often uploads are swept (and the
                                        history pruned); 0 = 60 s */
    int64_t lock_history_retention_ms; /* importq_lock_history kept; 0 = 7 days */
    int64_t performance_retention_ms;  /* stg_import_performance kept; 0 = 30 days */
    int64_t alert_retention_ms;        /* resolved alerts kept; 0 = 30 days */
    const struct config *config;     /* named targets (config_target_url); may be NULL */
    const char *node_id;             /* NULL: a new UUIDv7 */
    const char *version;             /* recorded in the node registry; NULL = "dev" */
    int64_t poll_ms;                 /* idle workers re-check the queue; 0 = 1000 */
    int64_t cancel_check_ms;         /* heartbeat period cap while a job runs, and
                                        so how fast a cancel is noticed; 0 = 500.
                                        The heartbeat runs every min(lease/3, this). */
    int64_t node_heartbeat_ms;       /* node registry heartbeat; 0 = 5 s */
    int64_t node_dead_after_ms;      /* silent nodes are marked dead; 0 = 30 s */
    int64_t rescue_every_ms;         /* rescue sweep; 0 = lease/2 */
    /* Where the engine reads "what time is it" (a retry's retry_at, phase
     * and node start times, the upload sweep's cutoff) and what every store
     * connection it opens is given (store_options.clock), so leases,
     * heartbeats, rescue and node liveness follow it too. NULL: the real
     * clock. How long a thread waits (poll_ms, heartbeat periods, a job's
     * timeout, measured on the monotonic clock) stays real time. */
    const struct iq_clock *clock;
    /* The draw behind retry jitter, thread-safe (tests pin the backoff);
     * NULL: a per-thread xorshift generator. */
    const struct iq_random *random;
    /* Scheduled imports (engine/scheduler.h, docs/schedules.md). */
    bool scheduler_off;              /* no scheduler thread on this node */
    int64_t schedule_poll_ms;        /* the scheduler looks at least this often
                                        (real time); 0 = 1000 */
    int64_t schedule_grace_ms;       /* a fire this late is on time, later a
                                        misfire; 0 = 60 s */
    int max_queue_size;              /* scheduled jobs respect it as submissions
                                        do; 0 = no limit */
    int job_max_attempts;            /* for a template without max_attempts; 0 = 3 */
    /* Where the engine counts what it does (engine_metrics.h); NULL: no
     * metrics. Must outlive the engine. */
    struct metrics *metrics;
    /* The alert loop (engine/alerts.h, alert_options_from_config);
     * alerts.enabled false, the zero value: none on this node. */
    struct alert_options alerts;
    /* The health history (engine/health.c). */
    bool health_off;                 /* no health thread on this node */
    int64_t health_interval_ms;      /* a sample per slot of this; 0 = 10 s */
    int64_t health_retention_ms;     /* samples kept, then rolled up; 0 = 24 h */
    int64_t health_rollup_retention_ms; /* rollups kept; 0 = 30 d */
};

/* The family of database errors that both the engine and the API count
 * (label component: "engine", "api"); each registers it with this desc
 * and so gets the same family (metrics_register). */
extern const struct metric_desc engine_database_errors_metric;

/*
 * engine_options_from_config - fill opts from the settings (db, workers,
 * max_concurrent, job_timeout, lock_lease, retry_base, retry_cap,
 * priority_aging, import_root, spool_dir, upload_retention, named
 * targets). opts points into cfg, which must outlive the engine. Other
 * fields are left at zero (defaults).
 */
void engine_options_from_config(const struct config *cfg, struct engine_options *opts);

/*
 * engine_start - register this node and start every thread. All store
 * connections are opened here, so an unreachable database fails now
 * (IQ_E_DB) rather than in a thread. Returns 0 and a running engine
 * (stop and free it with engine_stop), or a negative code with err set
 * and nothing left running. IQ_E_INVALID for bad options.
 */
int engine_start(const struct engine_options *opts, struct engine **ret_engine,
                 struct iq_error *err);

/*
 * engine_wake - there may be new work (a job was submitted, executed or
 * released): an idle worker claims now instead of at its next poll.
 * Thread-safe, cheap, never blocks on the database; NULL-safe.
 */
void engine_wake(struct engine *engine);

/* engine_node_id - this node's id in the registry (valid until engine_stop). */
const char *engine_node_id(const struct engine *engine);

/* engine_scheduler_leads - whether this node's scheduler leads now
 * (fires the cluster's schedules); false without a scheduler. */
bool engine_scheduler_leads(const struct engine *engine);

/* engine_worker_count - worker threads actually started. */
int engine_worker_count(const struct engine *engine);

/*
 * engine_stop - stop claiming; let running jobs finish for up to grace_ms;
 * then cancel the rest (their imports are interrupted, nothing lands) and
 * record them FAILED "shutdown" with an immediate retry so another node
 * picks them up; mark the node "stopped"; join every thread; free the
 * engine. Call once, from one thread; NULL-safe.
 */
void engine_stop(struct engine *engine, int64_t grace_ms);

#endif
