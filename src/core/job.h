/*
 * job.h - the job: its statuses, the state machine between them, and the
 * in-memory record the store returns. Pure domain: no I/O.
 */
#ifndef IMPORTQ_CORE_JOB_H
#define IMPORTQ_CORE_JOB_H

#include "core/uuid7.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOB_PRIORITY_MIN 1
#define JOB_PRIORITY_MAX 10
#define JOB_PRIORITY_DEFAULT 5

#define JOB_STATUSES(X) \
    X(HELD)             \
    X(QUEUED)           \
    X(RUNNING)          \
    X(COMPLETED)        \
    X(FAILED)           \
    X(CANCELLED)

enum job_status {
#define JOB_STATUS_ENUM(name) JOB_##name,
    JOB_STATUSES(JOB_STATUS_ENUM)
#undef JOB_STATUS_ENUM
    JOB_STATUS_COUNT
};

/*
 * What can happen to a job. The transition table in job.c says, for each
 * status, which events are allowed and where they lead.
 */
#define JOB_EVENTS(X)                                                         \
    X(EXECUTE)           /* HELD/QUEUED -> QUEUED: released to run now; */   \
                         /* FAILED/CANCELLED -> QUEUED: a new attempt */     \
    X(HOLD)              /* QUEUED -> HELD */                                \
    X(CLAIM)             /* QUEUED -> RUNNING: a worker took it */           \
    X(COMPLETE)          /* RUNNING -> COMPLETED */                          \
    X(FAIL)              /* RUNNING -> FAILED: no attempts left */           \
    X(RETRY)             /* RUNNING -> QUEUED: failed, attempts remain */    \
    X(CANCEL)            /* HELD/QUEUED/RUNNING -> CANCELLED */              \
    X(DEPENDENCY_FAILED) /* HELD/QUEUED -> FAILED */                         \
    X(RERUN)             /* FAILED/CANCELLED -> QUEUED: a new attempt */     \
    X(RESCUE)            /* RUNNING -> QUEUED: worker lost, attempts remain */ \
    X(UPDATE)            /* HELD/QUEUED -> unchanged: its spec edited */

enum job_event {
#define JOB_EVENT_ENUM(name) JOB_EVENT_##name,
    JOB_EVENTS(JOB_EVENT_ENUM)
#undef JOB_EVENT_ENUM
    JOB_EVENT_COUNT
};

/* job_status_name - "QUEUED" etc.; "UNKNOWN" for an out-of-range value. */
const char *job_status_name(enum job_status status);

/* job_status_parse - a status's whole name, in any case ("failed"), to
 * the status. 0 or IQ_E_INVALID. */
int job_status_parse(const char *text, enum job_status *ret_status);

/* job_status_is_final - COMPLETED, FAILED, CANCELLED. */
bool job_status_is_final(enum job_status status);

const char *job_event_name(enum job_event event);

/*
 * job_transition - where event takes a job in status from.
 * Returns 0 and *ret_to, or IQ_E_CONFLICT when the event is not allowed in
 * that status (e.g. CANCEL on COMPLETED).
 */
int job_transition(enum job_status from, enum job_event event, enum job_status *ret_to);

enum lock_mode { LOCK_EXCLUSIVE, LOCK_SHARED };

const char *lock_mode_name(enum lock_mode mode);
int lock_mode_parse(const char *text, enum lock_mode *ret_mode);

/* A named resource a job locks while it runs ("table:users"). */
struct job_resource {
    char *name;
    enum lock_mode mode;
};

/* Progress as the pipeline reports it; phase is one of the CONTRACT phases. */
struct job_progress {
    char phase[16];
    int64_t rows_read;
    int64_t bytes_read;
    int64_t bytes_total;
};

struct job_result {
    int64_t rows_read;
    int64_t rows_inserted;
    int64_t rows_updated;
    int64_t rows_rejected;
};

/*
 * struct job - one row of stg_import_queue as the store returns it.
 * Every pointer is owned by the job and freed by job_free(). Times are
 * epoch ms, 0 when unset.
 */
struct job {
    char id[UUID_STR_LEN];
    char *request_id;           /* NULL when none */
    char *name;                 /* never NULL ("" when unnamed) */
    enum job_status status;
    int priority;               /* 1 (first) .. 10 */
    char **depends_on;          /* job ids */
    size_t depends_on_count;
    int deps_pending;           /* dependencies not yet COMPLETED */
    char *orchestration_id;     /* NULL when none */
    char *schedule_id;          /* NULL when none */
    int64_t scheduled_at_ms;    /* requested run time, 0 = none */
    int64_t available_at_ms;    /* earliest claim time (scheduled_at or backoff) */
    int attempt;                /* attempts started so far */
    int max_attempts;
    int64_t timeout_s;
    struct job_resource *resources;
    size_t resource_count;
    json_t *source;             /* normalised spec parts, owned references */
    json_t *target;
    json_t *on_error;
    char *target_table;
    bool cancel_requested;
    char *worker;               /* NULL unless RUNNING */
    int64_t heartbeat_at_ms;
    struct job_progress progress;
    struct job_result result;
    json_t *error;              /* NULL or {"code","message",...} */
    json_t *attempts;           /* array of past attempts, never NULL */
    char *created_by;
    int64_t created_at_ms;
    int64_t updated_at_ms;
    int64_t started_at_ms;
    int64_t finished_at_ms;
};

/* job_new - a zeroed job with attempts = []. Free with job_free(). NULL on OOM. */
struct job *job_new(void);

/* job_free - free a job and everything it owns; NULL-safe, half-built-safe. */
void job_free(struct job *job);

/*
 * job_progress_json - the job resource's "progress" member for a job in
 * status with progress (percent from the bytes read; 100 once COMPLETED).
 * New reference, NULL on OOM.
 */
json_t *job_progress_json(enum job_status status, const struct job_progress *progress);

/*
 * job_to_json - the CONTRACT §3 job resource. Returns a new reference the
 * caller owns (json_decref), NULL on OOM.
 */
json_t *job_to_json(const struct job *job);

#endif
