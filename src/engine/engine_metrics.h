/*
 * engine_metrics.h - what the engine measures (docs/api.md, "Metrics"):
 * attempts started and how they ended, rows and bytes, phase and attempt
 * durations, the wait from claimable to claimed, database errors, and
 * the hook the scheduler counts its fires with.
 *
 * The families are registered in engine_start into engine_options.metrics;
 * without a registry every family is NULL and each update below is one
 * branch (core/metrics.h). Updates are atomics only: no lock, no
 * allocation, no store call.
 *
 * Not for: HTTP and queue gauges (api/routes_metrics.c).
 */
#ifndef IMPORTQ_ENGINE_ENGINE_METRICS_H
#define IMPORTQ_ENGINE_ENGINE_METRICS_H

#include "core/job.h"
#include "core/metrics.h"
#include "store/schedule_fire_ops.h"

#include <stdbool.h>
#include <stdint.h>

/* How an attempt ended, as importq_jobs_finished_total{outcome} counts it. */
enum attempt_outcome {
    ATTEMPT_COMPLETED,
    ATTEMPT_FAILED_RETRY, /* failed; the job goes back to the queue (backoff or at once) */
    ATTEMPT_FAILED_FINAL, /* failed; no attempt left, or not worth retrying */
    ATTEMPT_CANCELLED,
    ATTEMPT_LOST, /* no longer ours (fence or heartbeat): nothing recorded */
    ATTEMPT_OUTCOME_COUNT
};

struct engine_metrics {
    struct metric_family *jobs_started;    /* importq_jobs_started_total */
    struct metric_family *jobs_finished;   /* importq_jobs_finished_total{outcome} */
    struct metric_family *job_failures;    /* importq_job_failures_total{code} */
    struct metric_family *rows_read;       /* importq_rows_read_total */
    struct metric_family *rows_imported;   /* importq_rows_imported_total */
    struct metric_family *rows_rejected;   /* importq_rows_rejected_total */
    struct metric_family *bytes_read;      /* importq_bytes_read_total */
    struct metric_family *phase_duration;  /* importq_phase_duration_seconds{phase} */
    struct metric_family *job_duration;    /* importq_job_duration_seconds{outcome} */
    struct metric_family *queue_wait;      /* importq_job_queue_wait_seconds */
    struct metric_family *database_errors; /* importq_database_errors_total{component} */
    struct metric_family *schedule_fires;  /* importq_schedule_fires_total{outcome} */
};

/* engine_metrics_register - register the engine's families in registry
 * (NULL: none; every family stays NULL). 0, or a negative code with err
 * set (a family already registered by another engine on this registry). */
int engine_metrics_register(struct engine_metrics *m, struct metrics *registry,
                            struct iq_error *err);

/* engine_metrics_started - an attempt of job began: counted, and its wait
 * from claimable (available_at, else created_at) to claimed (started_at)
 * observed. */
void engine_metrics_started(const struct engine_metrics *m, const struct job *job);

/* engine_metrics_database_error - rc came back from a store call the
 * engine made: counted when it is IQ_E_DB. */
void engine_metrics_database_error(const struct engine_metrics *m, int rc);

/*
 * engine_metrics_schedule_fire - one fire the scheduler recorded, by what
 * it came to at once (created, or a skipped_* outcome of
 * store/schedule_fire_ops.h); engine_metrics_schedule_fire_error - a fire
 * that failed (outcome "error"). m may be NULL. Thread-safe, lock-free.
 */
void engine_metrics_schedule_fire(const struct engine_metrics *m,
                                  enum schedule_fire_outcome outcome);
void engine_metrics_schedule_fire_error(const struct engine_metrics *m);

/* What one attempt did, for engine_metrics_finished. */
struct attempt_figures {
    enum attempt_outcome outcome;
    const char *error_code; /* FAILED: its error.code (e.g. "timeout"); else NULL */
    int64_t duration_ms;    /* the attempt, claim to end (monotonic) */
    int64_t rows_read;
    int64_t rows_imported; /* inserted + updated; 0 unless the rows landed */
    int64_t rows_rejected;
    uint64_t bytes_read;
    const int64_t *phase_ms; /* IMPORT_PHASE_COUNT durations; NULL: not observed */
};

/* engine_metrics_finished - an attempt ended: outcome, failure code,
 * rows, bytes and durations. */
void engine_metrics_finished(const struct engine_metrics *m, const struct attempt_figures *f);

#endif
