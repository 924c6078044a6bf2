/*
 * schedule_fire_ops.h - the store's side of firing scheduled imports
 * (docs/schedules.md, "Firing"): the fire transaction, the due schedules,
 * the fire history and the scheduler's leadership. Creating, changing and
 * listing schedules is not here. The policy (when a fire is due, what a
 * misfire does, how often to look) is the engine's (engine/scheduler.c)
 * and comes in as parameters; the overlap policy is decided inside the
 * fire transaction (common/schedule_rules.c), where it cannot race.
 */
#ifndef IMPORTQ_STORE_SCHEDULE_FIRE_OPS_H
#define IMPORTQ_STORE_SCHEDULE_FIRE_OPS_H

#include "core/job.h"
#include "core/job_spec.h"
#include "core/uuid7.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fire rows kept per schedule: older ones are pruned in each fire's
 * transaction. */
#define SCHEDULE_FIRES_KEPT 1000

/* A page of the fire history (GET .../history). */
#define SCHEDULE_FIRES_LIMIT_DEFAULT 50
#define SCHEDULE_FIRES_LIMIT_MAX 500

/* Due schedules one store_schedules_due call returns at most. */
#define SCHEDULE_DUE_BATCH 100

/* Missed fires a catch_up misfire runs at most when a schedule's own
 * cap (stg_scheduled_imports.catch_up_max, migration 007) is unknown. */
#define SCHEDULE_CATCH_UP_MAX_DEFAULT 10

/*
 * What became of one fire time (importq_schedule_fires.outcome). A fire
 * that created a job is CREATED until the job ends for good, then the
 * job's final status (COMPLETED, FAILED, CANCELLED; a database trigger
 * keeps it current). The SKIPPED ones created no job.
 */
#define SCHEDULE_FIRE_OUTCOMES(X)                                                                  \
    X(CREATED, "created") /* job created, not finished yet */                                      \
    X(COMPLETED, "completed")                                                                      \
    X(FAILED, "failed") /* for good (after its last attempt) */                                    \
    X(CANCELLED, "cancelled")                                                                      \
    X(SKIPPED_OVERLAP, "skipped_overlap")       /* overlap skip: the previous job unfinished */    \
    X(SKIPPED_MISFIRE, "skipped_misfire")       /* missed during downtime, not run */              \
    X(SKIPPED_QUEUE_FULL, "skipped_queue_full") /* max_queue_size reached */                       \
    X(SKIPPED_INVALID, "skipped_invalid")       /* the template did not make a valid job */

enum schedule_fire_outcome {
#define SCHEDULE_FIRE_OUTCOME_ENUM(name, text) SCHEDULE_FIRE_##name,
    SCHEDULE_FIRE_OUTCOMES(SCHEDULE_FIRE_OUTCOME_ENUM)
#undef SCHEDULE_FIRE_OUTCOME_ENUM
        SCHEDULE_FIRE_OUTCOME_COUNT
};

/* schedule_fire_outcome_name - "created", "skipped_overlap", ... (static). */
const char *schedule_fire_outcome_name(enum schedule_fire_outcome outcome);

/* schedule_fire_outcome_parse - the outcome named text; -1 when none. */
int schedule_fire_outcome_parse(const char *text);

/* What a fire does. */
enum schedule_fire_kind {
    /* The scheduler: a job for fire_at (when the overlap policy allows),
     * next_run_at advanced. */
    SCHEDULE_FIRE_DUE,
    /* The scheduler after a misfire: fire_at recorded as skipped_misfire
     * (with detail), no job, next_run_at advanced. */
    SCHEDULE_FIRE_MISSED,
    /* The scheduler: fire_at recorded with req->skip_outcome and detail
     * (a job that could not be created), no job, next_run_at advanced. */
    SCHEDULE_FIRE_SKIP,
    /* Run now (POST .../run): a job for the store's now, outside the cron
     * sequence (next_run_at unchanged), whether the schedule is enabled
     * or not. A fire the overlap policy would skip is IQ_E_CONFLICT, a
     * full queue IQ_E_QUEUE_FULL, a bad template IQ_E_INVALID: nothing is
     * recorded, as for a refused submission. */
    SCHEDULE_FIRE_NOW,
};

struct schedule_fire_request {
    const char *schedule_id;
    enum schedule_fire_kind kind;
    /* The scheduled time (DUE, MISSED, SKIP; NOW takes the store's now):
     * the fire row's fire_at and the time the placeholders expand to. */
    int64_t fire_at_ms;
    /* The fence (DUE, MISSED, SKIP): the schedule's next_run_at as the
     * caller read it. The fire happens only while the schedule is enabled
     * and its next_run_at is still this (a fire by another node, a change
     * or a pause since then makes it a no-op). */
    int64_t expected_next_ms;
    /* DUE, MISSED, SKIP: next_run_at becomes the first fire time strictly
     * after max(fire_at_ms, resume_after_ms) (0: after fire_at_ms), or
     * none when the schedule has no more (a one-off that fired). */
    int64_t resume_after_ms;
    enum schedule_fire_outcome skip_outcome;  /* SKIP: a SKIPPED_* outcome */
    const char *detail;                       /* MISSED, SKIP: why; may be NULL */
    int max_queue_size;                       /* as job_create_request's */
    const struct job_spec_defaults *defaults; /* for the template; NULL: job_spec_parse's */
};

struct schedule_fire_result {
    /* false: nothing was written: this fire time was already recorded
     * (another node fired it), or the fence failed (the schedule moved
     * on, was paused, changed or deleted). */
    bool fired;
    enum schedule_fire_outcome outcome;
    struct job *job;        /* the job created (job_free); NULL when none */
    int64_t fire_at_ms;     /* the fire time recorded */
    int64_t next_run_at_ms; /* the schedule's next_run_at afterwards; 0 = none */
};

/* schedule_fire_result_clear - free the job; NULL-safe. */
void schedule_fire_result_clear(struct schedule_fire_result *result);

/* A schedule whose next_run_at has come (store_schedules_due). */
struct schedule_due {
    char id[UUID_STR_LEN];
    char *cron;     /* owned */
    char *timezone; /* owned */
    char *misfire;  /* "skip", "run_once" or "catch_up" (owned) */
    int64_t next_run_at_ms;
    int catch_up_max; /* missed fires a catch_up runs at most */
};

struct schedule_due_list {
    struct schedule_due *items; /* owned */
    size_t count;
    int64_t next_ms; /* the earliest next_run_at after now; 0 = none */
};

void schedule_due_list_clear(struct schedule_due_list *list);

/* One row of the fire history. */
struct schedule_fire_row {
    int64_t id;
    int64_t fire_at_ms;
    char job_id[UUID_STR_LEN]; /* "" when the fire created no job */
    enum schedule_fire_outcome outcome;
    char *detail; /* owned; NULL when none */
};

/* A page of the history, newest fire time first. */
struct schedule_fire_page {
    struct schedule_fire_row *items; /* owned */
    size_t count;
    bool more; /* a next page exists: after the last item */
};

void schedule_fire_page_clear(struct schedule_fire_page *page);

/* Where a history page starts: strictly after (older than) this row. */
struct schedule_fire_cursor {
    int64_t fire_at_ms;
    int64_t id;
};

#endif
