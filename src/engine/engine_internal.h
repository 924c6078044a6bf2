/*
 * engine_internal.h - what the engine's files share: the engine, its
 * workers and the slot through which a worker and its heartbeat thread
 * share the running job.
 *
 * LOCK ORDER (where the threads meet):
 *   1. engine->lock   wake sequence, stopping/cancel_all flags, running count,
 *                     claim rounds (each worker's idle/reserved/assigned/seen)
 *   2. slot->lock     one worker's running job (id, attempt, progress,
 *                     cancel reason, the connection its import uses)
 * A thread holding slot->lock never takes engine->lock. No store call is
 * made while holding engine->lock. The only store call made under
 * slot->lock is store_interrupt (thread-safe by contract), so that the
 * connection it interrupts cannot be closed or reused meanwhile: the
 * worker clears slot->import_store under the same lock when the import
 * ends. Store connections are never shared: each belongs to one thread
 * (engine_start opens them and hands each to its thread; engine_stop
 * closes them after the join).
 */
#ifndef IMPORTQ_ENGINE_ENGINE_INTERNAL_H
#define IMPORTQ_ENGINE_ENGINE_INTERNAL_H

#include "engine/backoff.h"
#include "engine/engine_metrics.h"
#include "engine/engine.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define ENGINE_WORKERS_MAX 256
#define ENGINE_WORKER_ID_LEN (UUID_STR_LEN + 16) /* "<node>/w<N>" */

/* Who stopped a running import (the first cause wins). */
enum cancel_reason {
    CANCEL_NONE,
    CANCEL_REQUESTED,   /* a user cancelled the job: CANCELLED */
    CANCEL_TIMEOUT,     /* timeout_s passed: FAILED "timeout" */
    CANCEL_SHUTDOWN,    /* engine_stop after the grace: FAILED "shutdown" */
    CANCEL_LOST,        /* the heartbeat found the job no longer ours */
};

const char *cancel_reason_name(enum cancel_reason reason);

/*
 * The running job of one worker, shared with that worker's heartbeat
 * thread. Everything but `cancel` is guarded by lock; `cancel` is the
 * atomic flag import_run polls.
 */
struct job_slot {
    bool ready;                   /* lock and cond exist (slot_destroy is half-built-safe) */
    pthread_mutex_t lock;
    pthread_cond_t cond;          /* heartbeat sleeps here (CLOCK_MONOTONIC) */
    bool quit;                    /* heartbeat thread: end */
    bool active;                  /* a job is running */
    uint64_t generation;          /* bumped per job: results for an ended job are dropped */
    char job_id[UUID_STR_LEN];
    int attempt;
    int64_t started_mono_ms;
    int64_t deadline_mono_ms;     /* timeout; 0 = none */
    int64_t last_beat_mono_ms;    /* the claim counts as the first beat */
    int64_t wake_mono_ms;         /* when the heartbeat thread next looks by itself */
    int64_t last_progress_mono_ms;
    struct job_progress progress; /* latest from import_run */
    bool progress_changed;
    struct store *import_store;   /* the connection import_run uses; NULL outside it */
    enum cancel_reason reason;
    atomic_bool cancel;
};

struct engine;

/* One worker thread, its heartbeat thread, their connections and slot. */
struct worker {
    struct engine *engine;
    int index;
    char id[ENGINE_WORKER_ID_LEN];
    struct store *store;          /* worker thread only */
    struct store *heartbeat_store; /* heartbeat thread only */
    pthread_t thread;
    pthread_t heartbeat_thread;
    bool thread_started;
    bool heartbeat_started;
    struct job_slot slot;
    struct backoff_random random; /* worker thread only */
    /* Claim rounds (worker.c), guarded by engine->lock: */
    bool idle;                    /* asleep, waiting for work */
    bool reserved;                /* in another worker's claim round */
    struct job *assigned;         /* handed over by that round, not yet taken */
    uint64_t seen;                /* wake_seq at this worker's last round */
};

struct engine {
    /* Options with defaults applied; strings owned. Read-only after start. */
    struct engine_options opts;
    char *db_url;
    char *import_root;
    char *spool_dir;
    char *version;
    char node_id[UUID_STR_LEN];
    char *host;
    int64_t heartbeat_ms;         /* min(lease/3, cancel_check_ms) */

    pthread_mutex_t lock;         /* see LOCK ORDER */
    pthread_cond_t wake_cond;     /* idle workers wait here */
    pthread_cond_t idle_cond;     /* engine_stop waits here for running == 0 */
    pthread_cond_t stop_cond;     /* maintenance and waker sleep here */
    uint64_t wake_seq;            /* bumped by every wake-up */
    bool stopping;                /* no more claims */
    bool cancel_all;              /* the grace is over: cancel what runs */
    bool quit;                    /* maintenance and waker: end */
    int running;                  /* workers in a claim round or with a job */
    bool claiming;                /* a claim round is on (one per node at a time) */

    struct worker *workers;
    int worker_count;
    struct store *maintenance_store; /* maintenance thread only */
    struct store *waker_store;       /* waker thread only */
    pthread_t maintenance_thread;
    pthread_t waker_thread;
    bool maintenance_started;
    bool waker_started;
    struct backoff_random maintenance_random; /* maintenance thread only */
    struct store *scheduler_store;   /* scheduler thread only */
    pthread_t scheduler_thread;
    bool scheduler_started;
    atomic_bool scheduler_leads;     /* the scheduler thread's last answer */
    struct store *health_store;      /* health thread only */
    pthread_t health_thread;
    bool health_started;
    struct engine_metrics metrics; /* families in opts.metrics; read-only after start */
    struct alerts *alerts;         /* the alert loop (engine/alerts.h); NULL when off */
};

/* Who the engine's own mutations are recorded as in the audit trail. */
extern const struct audit_context engine_actor;
/* Who creates the jobs of scheduled imports (audit "job.create"). */
extern const struct audit_context scheduler_actor;

/* --- engine.c --- */

/* engine_cond_init - a condition variable on CLOCK_MONOTONIC. */
int engine_cond_init(pthread_cond_t *cond);

/* engine_deadline - now (CLOCK_MONOTONIC) + ms, for pthread_cond_timedwait. */
struct timespec engine_deadline(int64_t ms);

/* engine_random_unit - a retry draw from opts.random or rng. */
double engine_random_unit(const struct engine *engine, struct backoff_random *rng);

/* engine_now_ms - wall-clock now on opts.clock (NULL: the real clock). */
int64_t engine_now_ms(const struct engine *engine);

/* engine_is_cancelling_all - engine->cancel_all, read under engine->lock. */
bool engine_is_cancelling_all(struct engine *engine);

/* engine_is_stopping - engine->stopping, read under engine->lock. */
bool engine_is_stopping(struct engine *engine);

/* --- worker.c --- */

/* worker_main - the worker thread: claim, run, repeat until stopping. */
void *worker_main(void *arg);

/* --- run_job.c --- */

/*
 * run_job - run one job the worker has claimed and record how it ended
 * (see run_job.c for the outcome table). Logs the job's events. Never
 * fails: whatever goes wrong ends up on the job, or in the log when even
 * that is impossible (the rescue then takes over). Returns the worker's
 * next job when one was claimed with this one's end (RUNNING for this
 * worker: run it; job_free), else NULL.
 */
struct job *run_job(struct worker *worker, struct job *job);

/* --- heartbeat.c --- */

/* heartbeat_main - the heartbeat thread of one worker. */
void *heartbeat_main(void *arg);

/* slot_init / slot_destroy - set up and tear down a slot. 0 or IQ_E_NOMEM. */
int slot_init(struct job_slot *slot);
void slot_destroy(struct job_slot *slot);

/*
 * slot_begin - job (attempt) starts running with the given timeout
 * (0 = none). Clears the cancel flag and reason and wakes the heartbeat.
 */
void slot_begin(struct job_slot *slot, const char *job_id, int attempt, int64_t timeout_ms);

/* slot_import_store - the connection import_run uses from now on (NULL: none). */
void slot_set_import_store(struct job_slot *slot, struct store *store);

/* slot_progress - record the latest progress for the next heartbeat. */
void slot_progress(struct job_slot *slot, const struct job_progress *progress);

/*
 * slot_cancel - stop the running import for reason: the first reason
 * sticks; sets the cancel flag and interrupts the import's connection.
 * Does nothing when no job runs.
 */
void slot_cancel(struct job_slot *slot, enum cancel_reason reason);

/* slot_end - the job is over: no more beats, no more interrupts. Returns
 * why it was cancelled (CANCEL_NONE when it was not). */
enum cancel_reason slot_end(struct job_slot *slot);

/* slot_quit - end the heartbeat thread (after the worker has joined). */
void slot_quit(struct job_slot *slot);

/* --- maintenance.c --- */

/* maintenance_main - node heartbeat, rescue, dead nodes, until quit. */
void *maintenance_main(void *arg);

/* waker_main - the loop over store_wait_for_work; ends at once where it is unsupported. */
void *waker_main(void *arg);

/* --- health.c --- */

/*
 * health_start - check the health options and start the health thread
 * with its own connection (nothing when opts.health_off). 0,
 * IQ_E_INVALID (err says which option) or a connection's error.
 */
int health_start(struct engine *engine, struct iq_error *err);

/* health_stop - join the health thread (engine->quit must be set and
 * stop_cond broadcast) and close its connection; safe when never started. */
void health_stop(struct engine *engine);

/* --- scheduler.c --- */

/* scheduler_main - fire due schedules while this node leads, until stopping. */
void *scheduler_main(void *arg);

/* engine_backoff_cb - retry_backoff_cb for store_jobs_rescue; ctx is the
 * engine (used from the maintenance thread only). */
int64_t engine_rescue_backoff_cb(int attempt, void *ctx);

#endif
