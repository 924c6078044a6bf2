/*
 * common/job_rules.h - the rules of a job's life written once for both
 * backends: what execute, cancel and update do in each status, and what
 * the end of an attempt (a finish, a rescue) does to the job and its
 * dependants. The rules consult the transition table (core/job.c) and
 * drive a backend through struct job_primitives: small steps, each one
 * statement or two of that backend's SQL. Not here: the transactions
 * (each backend opens its own and runs a rule inside it), the fused fast
 * paths (claim, a load's finish-on-commit, the finish statement itself)
 * and any SQL text (tests/store/check_layers.sh).
 */
#ifndef IMPORTQ_STORE_COMMON_JOB_RULES_H
#define IMPORTQ_STORE_COMMON_JOB_RULES_H

#include "store/common/internal.h"

/* Jobs a cascade failed: before and after images, pairwise, in id order. */
struct job_cascade {
    struct job **before;
    struct job **after;
    size_t count;
    size_t after_count;
};

/* job_cascade_clear - free every image; the cascade is empty afterwards. */
void job_cascade_clear(struct job_cascade *cascade);

/* What a job's dependencies amount to. */
struct dependency_state {
    int pending;                     /* not COMPLETED */
    char failed_id[UUID_STR_LEN];    /* first FAILED/CANCELLED one, "" when none */
    enum job_status failed_status;   /* its status */
};

/*
 * job_dependency_state_add - count one dependency (dep_id in status) into
 * *state: pending unless COMPLETED, remembered when it is the first
 * FAILED or CANCELLED one.
 */
void job_dependency_state_add(struct dependency_state *state, const char *dep_id,
                              enum job_status status);

/*
 * struct job_primitives - what a backend does for the rules, one slot a
 * step. `backend` is the backend's own context for the transaction the
 * rule runs in. Every slot returns 0 or a negative IQ_E_* with detail in
 * err, and runs inside that transaction (the backend holds whatever lock
 * its transaction wrapper takes).
 */
struct job_primitives {
    /* read_job - the job id, its row locked until COMMIT where the backend
     * locks rows. IQ_E_NOT_FOUND "job <id> not found". *ret_job: job_free. */
    int (*read_job)(void *backend, const char *id, struct job **ret_job, struct iq_error *err);
    /* find_by_request_id - the job created with request_id: 1 and
     * *ret_job (job_free), 0 when there is none. */
    int (*find_by_request_id)(void *backend, const char *request_id, struct job **ret_job,
                              struct iq_error *err);
    /* count_waiting - how many jobs are QUEUED or HELD (exact until
     * COMMIT: the backend's transaction serialises submissions). */
    int (*count_waiting)(void *backend, int64_t *ret_count, struct iq_error *err);
    /* insert_job - the row of new job id from req in status (with
     * error_text when FAILED) and deps->pending, its edges to the
     * dependencies check_dependencies just checked, its upload linked
     * (IQ_E_INVALID, field "<field_prefix>source.upload", for an unknown
     * one). created_by may be NULL. */
    int (*insert_job)(void *backend, const char *id, const struct job_create_request *req,
                      const char *created_by, const struct dependency_state *deps,
                      enum job_status status, const char *error_text, int64_t now_ms,
                      const char *field_prefix, struct iq_error *err);
    /* read_dependencies - the statuses of job id's recorded dependencies. */
    int (*read_dependencies)(void *backend, const char *id, struct dependency_state *ret_state,
                             struct iq_error *err);
    /* check_dependencies - spec's depends_on for job self_id: IQ_E_CONFLICT
     * "unknown dependency <id>" or "dependency cycle through <id>". */
    int (*check_dependencies)(void *backend, const char *self_id, const struct job_spec *spec,
                              struct dependency_state *ret_state, struct iq_error *err);
    /* release_now - HELD/QUEUED job -> QUEUED, runnable from now on. */
    int (*release_now)(void *backend, const char *id, int64_t now_ms, struct iq_error *err);
    /* rerun - FAILED/CANCELLED job -> QUEUED for one more attempt: error,
     * finish time and cancel flag cleared, max_attempts raised when spent,
     * deps_pending set. */
    int (*rerun)(void *backend, const char *id, int deps_pending, int64_t now_ms,
                 struct iq_error *err);
    /* request_cancel - cancel_requested on a RUNNING job (its worker stops). */
    int (*request_cancel)(void *backend, const char *id, int64_t now_ms, struct iq_error *err);
    /* end_waiting - HELD/QUEUED job -> status (final) with error_text, never run. */
    int (*end_waiting)(void *backend, const char *id, enum job_status status,
                       const char *error_text, int64_t now_ms, struct iq_error *err);
    /* write_update - spec's editable fields onto waiting job `before`, its
     * edges and upload replaced; FAILED with error_text when not NULL. */
    int (*write_update)(void *backend, const struct job *before, const struct job_spec *spec,
                        const struct dependency_state *deps, const char *error_text,
                        int64_t now_ms, struct iq_error *err);
    /* fail_dependants - every HELD/QUEUED job depending on root_id,
     * directly or not, -> status (FAILED) with error_text; their images
     * in *ret (job_cascade_clear it, also on failure). */
    int (*fail_dependants)(void *backend, const char *root_id, enum job_status status,
                           const char *error_text, int64_t now_ms, struct job_cascade *ret,
                           struct iq_error *err);
    /* refresh_orchestrations - the aggregate status of the orchestrations
     * of job and of the cascade's jobs (either may be NULL). */
    int (*refresh_orchestrations)(void *backend, const struct job *job,
                                  const struct job_cascade *cascade, int64_t now_ms,
                                  struct iq_error *err);
    /* audit_change - one audit row of entity "job". */
    int (*audit_change)(void *backend, const struct audit_context *actx, const char *action,
                        const struct job *before, const struct job *after, int64_t now_ms,
                        struct iq_error *err);
    /* notify_work - tell idle workers there is work (NULL: nobody listens). */
    int (*notify_work)(void *backend, const char *reason, struct iq_error *err);
};

/*
 * job_rule_create - store_job_create's rule: an idempotent replay
 * (spec->request_id already used) returns the existing job with
 * *ret_existed and writes nothing; else job_rule_insert with a new id
 * (UUIDv7 of now_ms), the orchestration refreshed, idle workers told when
 * the job is QUEUED, audited "job.create". *ret_job: job_free.
 */
int job_rule_create(const struct job_primitives *p, void *backend,
                    const struct job_create_request *req, const struct audit_context *actx,
                    int64_t now_ms, struct job **ret_job, bool *ret_existed,
                    struct iq_error *err);

/*
 * job_rule_capacity - IQ_E_QUEUE_FULL when `adding` more jobs would make
 * more than max_queue_size (> 0) jobs wait (QUEUED or HELD); 0 otherwise,
 * and at once when there is no limit.
 */
int job_rule_capacity(const struct job_primitives *p, void *backend, int max_queue_size,
                      size_t adding, struct iq_error *err);

/*
 * job_rule_insert - a new job id from req, with no audit row (job_create
 * and orchestrations): its dependencies checked (IQ_E_CONFLICT for an
 * unknown one), room for it (IQ_E_QUEUE_FULL), then the row in the status
 * job_rule_initial gives, its edges and its upload. field_prefix names
 * the job in a field error ("jobs[2]."), NULL for none. *ret_job: the job
 * as stored (job_free).
 */
int job_rule_insert(const struct job_primitives *p, void *backend, const char *id,
                    const struct job_create_request *req, const char *created_by,
                    int64_t now_ms, const char *field_prefix, struct job **ret_job,
                    struct iq_error *err);

/*
 * job_rule_execute - POST .../execute: HELD/QUEUED -> QUEUED now; FAILED/
 * CANCELLED -> QUEUED for one more attempt (IQ_E_CONFLICT while a
 * dependency is FAILED or CANCELLED); IQ_E_CONFLICT in any other status.
 * Audited "job.executed". *ret_job: the job afterwards (job_free).
 */
int job_rule_execute(const struct job_primitives *p, void *backend, const char *id,
                     const struct audit_context *actx, int64_t now_ms, struct job **ret_job,
                     struct iq_error *err);

/*
 * job_rule_cancel - HELD/QUEUED -> CANCELLED ("cancelled by <actor>") and
 * its waiting dependants FAILED (dependency_failed), audited "job.cancel"
 * and "job.dependency_failed"; RUNNING -> cancel_requested, audited
 * "job.cancel_requested" (once: already requested writes nothing);
 * IQ_E_CONFLICT "job is already <status>" when finished.
 */
int job_rule_cancel(const struct job_primitives *p, void *backend, const char *id,
                    const struct audit_context *actx, int64_t now_ms, struct job **ret_job,
                    struct iq_error *err);

/*
 * job_rule_update - replace a HELD or QUEUED job's spec (IQ_E_CONFLICT in
 * any other status, and for an unknown dependency or a cycle). A new
 * dependency already FAILED/CANCELLED fails the job, and its waiting
 * dependants with it. Audited "job.update".
 */
int job_rule_update(const struct job_primitives *p, void *backend, const char *id,
                    const struct job_spec *spec, const struct audit_context *actx,
                    int64_t now_ms, struct job **ret_job, struct iq_error *err);

/*
 * job_rule_fail_dependants - the cascade of root_id ending in root_status
 * (FAILED or CANCELLED): its waiting dependants FAILED with
 * dependency_failed "dependency <root_id> is <root_status>". Fills *ret
 * (job_cascade_clear it); audit it with job_rule_audit_cascade once the
 * root's own audit row is written.
 */
int job_rule_fail_dependants(const struct job_primitives *p, void *backend, const char *root_id,
                             enum job_status root_status, int64_t now_ms,
                             struct job_cascade *ret, struct iq_error *err);

/* job_rule_audit_cascade - one "job.dependency_failed" row per job of cascade. */
int job_rule_audit_cascade(const struct job_primitives *p, void *backend,
                           const struct audit_context *actx, const struct job_cascade *cascade,
                           int64_t now_ms, struct iq_error *err);

/*
 * job_dependency_failed_text - the error {"code":"dependency_failed",
 * "message":"dependency <dep_id> is <status>"} of a job whose dependency
 * failed. Caller frees; NULL on OOM.
 */
char *job_dependency_failed_text(const char *dep_id, enum job_status status);

/*
 * job_rule_initial - the status a new job starts in, and its error: FAILED
 * with dependency_failed when one of its dependencies already ended
 * FAILED or CANCELLED (failed_dep_id, in failed_status; NULL or "" when
 * none), else HELD when spec->hold, else QUEUED. *ret_error_text: the
 * error as JSON text, NULL when there is none (caller frees). Returns 0 or
 * IQ_E_NOMEM.
 */
int job_rule_initial(const struct job_spec *spec, const char *failed_dep_id,
                     enum job_status failed_status, enum job_status *ret_status,
                     char **ret_error_text, struct iq_error *err);

/* job_error_text - {"code": code, "message": message} as compact JSON. Caller frees. */
char *job_error_text(const char *code, const char *message);

/* Where the end of an attempt takes the job, decided by job_attempt_outcome. */
struct attempt_outcome {
    enum job_status status;         /* the job's next status */
    enum job_status attempt_status; /* how the attempt itself ended (its history entry) */
    const char *action;             /* audit action */
    bool retry;                     /* back to QUEUED, available at the finish's retry_at */
    bool release_dependants;        /* COMPLETED: dependants wait for one job less */
    bool fail_dependants;           /* FAILED/CANCELLED for good: dependants fail */
};

/*
 * job_attempt_outcome - the decision of a finish: COMPLETED completes;
 * FAILED with retry_at, attempts left and no cancel requested goes back
 * to QUEUED (JOB_EVENT_RETRY); any other FAILED, and CANCELLED, is final
 * and fails the dependants. job may be NULL for a COMPLETED report (which
 * does not depend on it). action overrides the audit action (NULL: the
 * outcome's own). IQ_E_INVALID for a status an attempt cannot end in.
 */
int job_attempt_outcome(const struct job *job, const struct job_finish *finish,
                        const char *action, struct attempt_outcome *ret, struct iq_error *err);

/*
 * job_attempt_check_owner - IQ_E_STALE "job <id> is no longer ours (...)"
 * unless job is RUNNING under finish's worker and attempt: the fence of
 * every end of an attempt.
 */
int job_attempt_check_owner(const struct job *job, const struct job_finish *finish,
                            struct iq_error *err);

/*
 * job_attempt_error_text - the job's error {"code","message"} for a failed
 * or cancelled attempt, NULL for a completed one (caller frees). A message
 * that JSON cannot carry (not UTF-8: it may quote raw input) is kept in
 * ASCII, each byte outside it a '?', rather than losing the finish over
 * it. Returns 0 or IQ_E_NOMEM.
 */
int job_attempt_error_text(const struct job_finish *finish, char **ret_text, struct iq_error *err);

/* job_attempt_error_code - the error code of a failed finish ("cancelled",
 * "import_failed" when the report names none). */
const char *job_attempt_error_code(const struct job_finish *finish);

/* The report a rescue makes for a lost worker's attempt (job_rescue_finish). */
struct rescue_report {
    struct job_finish finish;
    char message[400];
};

/*
 * job_rescue_finish - the finish a rescue reports for job id, lost by
 * worker in attempt of max_attempts: FAILED "worker_lost", with retry_at
 * now + backoff_cb(attempt) while attempts remain, else for good.
 * ret->finish points into ret and at id/worker (borrowed).
 */
void job_rescue_finish(const char *id, const char *worker, int attempt, int max_attempts,
                       int64_t lease_ms, retry_backoff_cb backoff_cb, void *backoff_ctx,
                       int64_t now_ms, struct rescue_report *ret);

#endif
