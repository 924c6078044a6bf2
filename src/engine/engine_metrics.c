/*
 * engine_metrics.c - the engine's metric families (engine_metrics.h) and
 * the few functions that turn an attempt into updates of them.
 */
#include "engine/engine_metrics.h"

#include "engine/engine.h"
#include "pipeline/import.h"

#include <string.h>

static const char *const outcome_values[ATTEMPT_OUTCOME_COUNT] = {
    [ATTEMPT_COMPLETED] = "completed",
    [ATTEMPT_FAILED_RETRY] = "failed_retry",
    [ATTEMPT_FAILED_FINAL] = "failed_final",
    [ATTEMPT_CANCELLED] = "cancelled",
    [ATTEMPT_LOST] = "lost",
};

/* The error codes of run_job.c's outcome table; anything else is "other". */
static const char *const failure_codes[] = {
    "timeout",          "shutdown",          "invalid_spec",         "invalid_source",
    "invalid_target",   "rejected",          "source_not_found",     "source_unreadable",
    "constraint_violation", "import_failed", "other",
};
#define FAILURE_CODE_COUNT (sizeof(failure_codes) / sizeof(failure_codes[0]))

static const char *const phase_values[IMPORT_PHASE_COUNT] = {
#define PHASE_VALUE(name, text) [IMPORT_PHASE_##name] = text,
    IMPORT_PHASES(PHASE_VALUE)
#undef PHASE_VALUE
};

/* The store's fire outcomes (those a fire starts with; the others are
 * the job's end, later), then "error": a fire that failed. */
#define FIRE_ERROR SCHEDULE_FIRE_OUTCOME_COUNT
static const char *const fire_values[SCHEDULE_FIRE_OUTCOME_COUNT + 1] = {
#define FIRE_VALUE(name, text) [SCHEDULE_FIRE_##name] = text,
    SCHEDULE_FIRE_OUTCOMES(FIRE_VALUE)
#undef FIRE_VALUE
        [FIRE_ERROR] = "error",
};

static const char *const component_values[] = {"engine", "api"};

const struct metric_desc engine_database_errors_metric = {
    .name = "importq_database_errors_total",
    .help = "Database errors the node met, by the part of it that met them.",
    .type = METRIC_COUNTER,
    .labels = {{"component", component_values, 2}},
    .label_count = 1,
    .show_zero = true,
};

/* Phases last from milliseconds to hours; attempts too; waits in the
 * queue from nothing to a day. */
static const double phase_buckets[] = {0.005, 0.025, 0.1, 0.5, 1,   2.5, 5,
                                       10,    30,    60,  300, 900, 3600};
static const double wait_buckets[] = {0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400, 86400};

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static const struct metric_desc descs[] = {
    {.name = "importq_jobs_started_total",
     .help = "Attempts of jobs this node started (a retry is a new attempt).",
     .type = METRIC_COUNTER},
    {.name = "importq_jobs_finished_total",
     .help = "Attempts this node ended, by outcome: completed, failed_retry (back to the queue), "
             "failed_final (no retry), cancelled, lost (another worker owns the job now).",
     .type = METRIC_COUNTER,
     .labels = {{"outcome", outcome_values, ATTEMPT_OUTCOME_COUNT}},
     .label_count = 1,
     .show_zero = true},
    {.name = "importq_job_failures_total",
     .help = "Failed attempts by error code (the job's error.code).",
     .type = METRIC_COUNTER,
     .labels = {{"code", failure_codes, FAILURE_CODE_COUNT}},
     .label_count = 1},
    {.name = "importq_rows_read_total",
     .help = "Source rows read by attempts.",
     .type = METRIC_COUNTER},
    {.name = "importq_rows_imported_total",
     .help = "Rows inserted or updated in targets by completed attempts.",
     .type = METRIC_COUNTER},
    {.name = "importq_rows_rejected_total",
     .help = "Source rows rejected by attempts.",
     .type = METRIC_COUNTER},
    {.name = "importq_bytes_read_total",
     .help = "Source bytes read by attempts.",
     .type = METRIC_COUNTER},
    {.name = "importq_phase_duration_seconds",
     .help = "Time of each import phase of a completed attempt (stage runs inside read).",
     .type = METRIC_HISTOGRAM,
     .labels = {{"phase", phase_values, IMPORT_PHASE_COUNT}},
     .label_count = 1,
     .buckets = phase_buckets,
     .bucket_count = COUNT(phase_buckets),
     .show_zero = true},
    {.name = "importq_job_duration_seconds",
     .help = "Time of an attempt from its claim to its end, by outcome.",
     .type = METRIC_HISTOGRAM,
     .labels = {{"outcome", outcome_values, ATTEMPT_OUTCOME_COUNT}},
     .label_count = 1,
     .buckets = phase_buckets,
     .bucket_count = COUNT(phase_buckets)},
    {.name = "importq_job_queue_wait_seconds",
     .help = "Time from when an attempt could be claimed (its available_at, else its "
             "creation) to its claim: waits for a slot, a lock or a dependency.",
     .type = METRIC_HISTOGRAM,
     .buckets = wait_buckets,
     .bucket_count = COUNT(wait_buckets)},
    {.name = "importq_schedule_fires_total",
     .help = "Schedule fires by what they came to when recorded: created (a job), a "
             "skipped_* reason, or error.",
     .type = METRIC_COUNTER,
     .labels = {{"outcome", fire_values, SCHEDULE_FIRE_OUTCOME_COUNT + 1}},
     .label_count = 1,
     .show_zero = true},
};

int engine_metrics_register(struct engine_metrics *m, struct metrics *registry,
                            struct iq_error *err)
{
    struct metric_family **slots[] = {
        &m->jobs_started,  &m->jobs_finished, &m->job_failures,   &m->rows_read,
        &m->rows_imported, &m->rows_rejected, &m->bytes_read,     &m->phase_duration,
        &m->job_duration,  &m->queue_wait,    &m->schedule_fires,
    };
    _Static_assert(COUNT(slots) == COUNT(descs), "one slot per family");
    *m = (struct engine_metrics){0};
    for (size_t i = 0; i < COUNT(descs); i++) {
        int rc = metrics_register(registry, &descs[i], slots[i], err);
        if (rc < 0)
            return rc;
    }
    return metrics_register(registry, &engine_database_errors_metric, &m->database_errors, err);
}

void engine_metrics_started(const struct engine_metrics *m, const struct job *job)
{
    if (!m->jobs_started)
        return;
    metric_counter_add(m->jobs_started, NULL, 1);
    int64_t from =
        job->available_at_ms > job->created_at_ms ? job->available_at_ms : job->created_at_ms;
    if (job->started_at_ms > 0 && from > 0) {
        int64_t wait_ms = job->started_at_ms - from;
        metric_histogram_observe(m->queue_wait, NULL, wait_ms > 0 ? wait_ms / 1000.0 : 0);
    }
}

void engine_metrics_database_error(const struct engine_metrics *m, int rc)
{
    if (rc == IQ_E_DB)
        metric_counter_add(m->database_errors, (unsigned[]){0}, 1);
}

void engine_metrics_schedule_fire(const struct engine_metrics *m,
                                  enum schedule_fire_outcome outcome)
{
    if (m && (unsigned)outcome < SCHEDULE_FIRE_OUTCOME_COUNT)
        metric_counter_add(m->schedule_fires, (unsigned[]){(unsigned)outcome}, 1);
}

void engine_metrics_schedule_fire_error(const struct engine_metrics *m)
{
    if (m)
        metric_counter_add(m->schedule_fires, (unsigned[]){FIRE_ERROR}, 1);
}

static unsigned failure_code_index(const char *code)
{
    for (unsigned i = 0; i + 1 < FAILURE_CODE_COUNT; i++)
        if (code && strcmp(code, failure_codes[i]) == 0)
            return i;
    return (unsigned)FAILURE_CODE_COUNT - 1;
}

static void add_positive(struct metric_family *family, int64_t n)
{
    if (n > 0)
        metric_counter_add(family, NULL, (uint64_t)n);
}

void engine_metrics_finished(const struct engine_metrics *m, const struct attempt_figures *f)
{
    if (!m->jobs_finished)
        return;
    unsigned outcome = (unsigned)f->outcome;
    metric_counter_add(m->jobs_finished, &outcome, 1);
    if (f->outcome == ATTEMPT_FAILED_RETRY || f->outcome == ATTEMPT_FAILED_FINAL)
        metric_counter_add(m->job_failures, (unsigned[]){failure_code_index(f->error_code)}, 1);
    add_positive(m->rows_read, f->rows_read);
    add_positive(m->rows_imported, f->rows_imported);
    add_positive(m->rows_rejected, f->rows_rejected);
    if (f->bytes_read > 0)
        metric_counter_add(m->bytes_read, NULL, f->bytes_read);
    metric_histogram_observe(m->job_duration, &outcome,
                             f->duration_ms > 0 ? f->duration_ms / 1000.0 : 0);
    for (unsigned p = 0; f->phase_ms && p < IMPORT_PHASE_COUNT; p++)
        metric_histogram_observe(m->phase_duration, &p,
                                 f->phase_ms[p] > 0 ? f->phase_ms[p] / 1000.0 : 0);
}
