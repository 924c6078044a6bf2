/*
 * sqlite/finish.c - the end of an attempt on SQLite: job_finish,
 * the rescue of attempts whose worker stopped heartbeating, and the one
 * function both use (and load_commit's finish_on_commit with them):
 * sqlite_finish_locked. It checks the attempt is still the caller's,
 * appends it to the job's history, frees its locks (into
 * importq_lock_history), records its phases, its queue time and its lock
 * wait,
 * moves the job on (COMPLETED, back to QUEUED for a retry, FAILED,
 * CANCELLED) and carries the outcome to the dependants. Which of these it
 * is, is decided by job_attempt_outcome and the cascade is written by
 * job_rule_fail_dependants (common/job_rules.c), the same on PostgreSQL.
 * Not here: when to retry or how long to back off (the engine's policy,
 * passed in as retry_at_ms or a backoff callback).
 */
#include "store/sqlite/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the finished attempt does to the job row (the decision is job_attempt_outcome's). */
struct finish_outcome {
    struct attempt_outcome decision; /* next status, action, dependants */
    char *error_text;                /* owned; NULL for COMPLETED */
    char *attempts_text;             /* owned: the history with this attempt appended */
    int64_t available_at_ms;         /* retry: when it may run again; else 0 (kept) */
};

static void finish_outcome_clear(struct finish_outcome *outcome)
{
    free(outcome->error_text);
    free(outcome->attempts_text);
    memset(outcome, 0, sizeof(*outcome));
}

/* ------------------------------------------------------------------------
 * The outcome of an attempt
 * ------------------------------------------------------------------------ */

/*
 * attempts_with - job's attempt history plus this attempt: {"attempt",
 * "worker", "started_at", "finished_at", "status", "error"}, status being
 * how the attempt itself ended. Caller frees the text.
 */
static char *attempts_with(const struct job *job, const struct job_finish *finish,
                           const char *error_text, int64_t now_ms)
{
    char started[TIME_RFC3339_LEN], finished[TIME_RFC3339_LEN];
    json_t *error = error_text ? json_loads(error_text, 0, NULL) : json_null();
    if (!error)
        return NULL;
    json_t *history = json_is_array(job->attempts) ? json_copy(job->attempts) : json_array();
    json_t *entry = json_pack(
        "{s:i,s:s?,s:s?,s:s,s:s,s:o?}", "attempt", job->attempt, "worker", job->worker,
        "started_at", job->started_at_ms ? time_format_rfc3339(job->started_at_ms, started) : NULL,
        "finished_at", time_format_rfc3339(now_ms, finished), "status",
        job_status_name(finish->status), "error", error);
    char *text = NULL;
    if (history && entry && json_array_append(history, entry) == 0)
        text = store_json_text(history);
    json_decref(entry);
    json_decref(history);
    return text;
}

/*
 * decide_outcome - where the attempt takes job (job_attempt_outcome: a
 * retry, or final), and the texts the row gets. action overrides the
 * audit action.
 */
static int decide_outcome(const struct job *job, const struct job_finish *finish,
                          const char *action, int64_t now_ms, struct finish_outcome *ret,
                          struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    int rc = job_attempt_outcome(job, finish, action, &ret->decision, err);
    if (rc < 0)
        return rc;
    ret->available_at_ms = ret->decision.retry ? finish->retry_at_ms : 0;
    rc = job_attempt_error_text(finish, &ret->error_text, err);
    if (rc < 0)
        return rc;
    ret->attempts_text = attempts_with(job, finish, ret->error_text, now_ms);
    return ret->attempts_text ? 0 : nomem(err);
}

/* ------------------------------------------------------------------------
 * Writing it
 * ------------------------------------------------------------------------ */

/* write_job_row - STMT_JOB_FINISH_RUNNING with the outcome and the attempt's counters. */
static int write_job_row(struct sqlite_store *s, const struct job_finish *finish,
                         const struct finish_outcome *outcome, int64_t now_ms, struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_JOB_FINISH_RUNNING, err);
    if (!stmt)
        return IQ_E_DB;
    bool final = !outcome->decision.retry;
    struct binder b = binder_start(stmt);
    bind_text(&b, finish->job_id);
    bind_text(&b, job_status_name(outcome->decision.status));
    bind_time(&b, outcome->available_at_ms);
    bind_text(&b, outcome->error_text);
    bind_text(&b, outcome->attempts_text);
    bind_text(&b, final ? "done" : "queued");
    bind_int64(&b, finish->result.rows_read);
    bind_int64(&b, finish->result.rows_inserted);
    bind_int64(&b, finish->result.rows_updated);
    bind_int64(&b, finish->result.rows_rejected);
    bind_time(&b, final ? now_ms : 0);
    bind_time(&b, now_ms);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, "finish job", err);
    if (rc == 0 && sqlite3_changes(s->db) != 1)
        rc = iq_error_set(err, IQ_E_INTERNAL, "finish job %s: row changed underneath",
                          finish->job_id);
    return rc;
}

/*
 * insert_phase - one stg_import_performance row (negative durations count
 * as 0; a phase without a start time is dated at the attempt's start).
 */
static int insert_phase(struct sqlite_store *s, const struct job *job,
                        const struct job_finish *finish, const struct finish_outcome *outcome,
                        const struct phase_timing *phase, int64_t now_ms, struct iq_error *err)
{
    int64_t started_at_ms = phase->started_at_ms ? phase->started_at_ms
                            : job->started_at_ms ? job->started_at_ms
                                                 : now_ms;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_PERF_INSERT, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, job->id);
    bind_int64(&b, job->attempt);
    bind_text(&b, job->target_table);
    bind_text(&b, phase->phase ? phase->phase : "unknown");
    bind_time(&b, started_at_ms);
    bind_int64(&b, phase->duration_ms > 0 ? phase->duration_ms : 0);
    bind_int64(&b, phase->rows);
    bind_int64(&b, phase->bytes);
    bind_text(&b, finish->node_id);
    bind_text(&b, job_status_name(outcome->decision.attempt_status));
    int rc = sqlite_binder_check(s, &b, err);
    return rc < 0 ? rc : sqlite_stmt_run(s, stmt, "record phase timing", err);
}

/*
 * insert_waits - the attempt's "queued" (ready_at -> claim), "lock_wait"
 * (lock_wait_ms: its longest wait for one of the resources it held, as
 * its locks' history rows say) and "dependency_wait" rows of
 * stg_import_performance. Before the job row is written (it reads the
 * attempt's ready_at, started_at and available_at).
 */
static int insert_waits(struct sqlite_store *s, const struct job_finish *finish,
                        const struct finish_outcome *outcome, int64_t lock_wait_ms,
                        struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_PERF_WAITS, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, finish->job_id);
    bind_text(&b, finish->node_id);
    bind_text(&b, job_status_name(outcome->decision.attempt_status));
    bind_int64(&b, lock_wait_ms);
    int rc = sqlite_binder_check(s, &b, err);
    return rc < 0 ? rc : sqlite_stmt_run(s, stmt, "record queue time", err);
}

/*
 * release_dependants - a COMPLETED job: each waiting dependant has one
 * pending dependency less (the write lock serialises this, so fan-in
 * cannot lose a decrement).
 */
static int release_dependants(struct sqlite_store *s, const char *job_id, int64_t now_ms,
                              struct iq_error *err)
{
    return sqlite_run_id_statement(s, STMT_DEPENDANTS_RELEASE, job_id, now_ms,
                                   "release dependants", NULL, err);
}

/* sqlite_finish_locked - see sqlite/internal.h. */
int sqlite_finish_locked(struct sqlite_store *s, const struct job_finish *finish,
                         const char *action, const struct audit_context *actx, int64_t now_ms,
                         struct job **ret_job, struct iq_error *err)
{
    const struct job_primitives *p = &sqlite_job_primitives;
    if (ret_job)
        *ret_job = NULL;
    if (!finish || !finish->job_id ||
        (finish->status != JOB_COMPLETED && finish->status != JOB_FAILED &&
         finish->status != JOB_CANCELLED))
        return iq_error_set(err, IQ_E_INVALID, "an attempt ends COMPLETED, FAILED or CANCELLED");
    struct job *before = NULL, *after = NULL;
    struct finish_outcome outcome = {0};
    struct job_cascade cascade = {0};
    int rc = sqlite_read_job(s, finish->job_id, &before, err);
    if (rc == IQ_E_NOT_FOUND)
        rc = iq_error_set(err, IQ_E_STALE, "job %s no longer exists", finish->job_id);
    if (rc == 0)
        rc = job_attempt_check_owner(before, finish, err);
    if (rc == 0)
        rc = decide_outcome(before, finish, action, now_ms, &outcome, err);
    /* The locks' history rows compute each hold's wait once; the
     * lock_wait row takes their maximum (not a second probe per lock). */
    int64_t lock_wait_ms = 0;
    if (rc == 0)
        rc = sqlite_delete_job_locks(s, finish->job_id, now_ms, &lock_wait_ms, err);
    if (rc == 0)
        rc = insert_waits(s, finish, &outcome, lock_wait_ms, err);
    if (rc == 0)
        rc = write_job_row(s, finish, &outcome, now_ms, err);
    for (size_t i = 0; rc == 0 && finish->phases && i < finish->phase_count; i++)
        rc = insert_phase(s, before, finish, &outcome, &finish->phases[i], now_ms, err);
    if (rc == 0 && outcome.decision.release_dependants)
        rc = release_dependants(s, finish->job_id, now_ms, err);
    if (rc == 0 && outcome.decision.fail_dependants)
        rc = job_rule_fail_dependants(p, s, finish->job_id, outcome.decision.status, now_ms,
                                      &cascade, err);
    if (rc == 0)
        rc = sqlite_read_job(s, finish->job_id, &after, err);
    if (rc == 0)
        rc = p->refresh_orchestrations(s, after, &cascade, now_ms, err);
    if (rc == 0)
        rc = sqlite_audit_job(s, actx, outcome.decision.action, finish->job_id, before, after,
                              now_ms, err);
    if (rc == 0)
        rc = job_rule_audit_cascade(p, s, actx, &cascade, now_ms, err);
    if (rc == 0 && ret_job) {
        *ret_job = after;
        after = NULL;
    }
    job_cascade_clear(&cascade);
    finish_outcome_clear(&outcome);
    job_free(before);
    job_free(after);
    return rc;
}

/*
 * sqlite_job_finish - see store_ops.job_finish: sqlite_finish_locked in
 * its own BEGIN IMMEDIATE transaction. *ret_job (may be NULL): job_free.
 */
int sqlite_job_finish(struct store *base, const struct job_finish *finish,
                      const struct audit_context *actx, struct job **ret_job, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    struct job *job = NULL;
    if (ret_job)
        *ret_job = NULL;
    int rc = sqlite_check_actor(actx, err);
    if (rc == 0)
        rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    rc = sqlite_finish_locked(s, finish, NULL, actx, sqlite_now_ms(s), &job, err);
    rc = sqlite_tx_finish(s, rc, err);
    if (rc == 0 && ret_job)
        *ret_job = job;
    else
        job_free(job);
    return rc;
}

/* ------------------------------------------------------------------------
 * Rescue
 * ------------------------------------------------------------------------ */

/* A RUNNING job whose worker stopped heartbeating. */
struct lost_job {
    char id[UUID_STR_LEN];
    char *worker; /* owned; may be NULL */
    int attempt;
    int max_attempts;
};

struct lost_list {
    struct lost_job *items;
    size_t count;
    size_t capacity;
};

static void lost_list_clear(struct lost_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i].worker);
    free(list->items);
    memset(list, 0, sizeof(*list));
}

/* lost_add - append the current row (id, worker, attempt, max_attempts) of STMT_JOBS_LOST. */
static int lost_add(struct lost_list *list, sqlite3_stmt *stmt, struct iq_error *err)
{
    void *grown = store_grow(list->items, &list->capacity, list->count, sizeof(*list->items), 8);
    if (!grown)
        return nomem(err);
    list->items = grown;
    struct lost_job *lost = &list->items[list->count];
    const char *id = (const char *)sqlite3_column_text(stmt, 0);
    if (!id || strlen(id) != UUID_STR_LEN - 1)
        return iq_error_set(err, IQ_E_DB, "stored job id \"%s\" is malformed", id ? id : "");
    memcpy(lost->id, id, UUID_STR_LEN);
    bool ok;
    const char *worker = sqlite_column_text_or_error(stmt, 1, &ok);
    lost->worker = worker ? strdup(worker) : NULL;
    if (!ok || (worker && !lost->worker))
        return nomem(err);
    lost->attempt = sqlite3_column_int(stmt, 2);
    lost->max_attempts = sqlite3_column_int(stmt, 3);
    list->count++;
    return 0;
}

/* read_lost - RUNNING jobs whose heartbeat is older than cutoff_ms, oldest first. */
static int read_lost(struct sqlite_store *s, int64_t cutoff_ms, struct lost_list *ret_list,
                     struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_JOBS_LOST, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_time(&b, cutoff_ms);
    int rc = sqlite_binder_check(s, &b, err);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "find lost jobs", err)) == 1)
        rc = lost_add(ret_list, stmt, err);
    if (rc < 0)
        stmt_release(stmt);
    return rc;
}

/*
 * rescue_one - end lost's attempt as job_rescue_finish says (FAILED
 * "worker_lost", back to QUEUED after backoff_cb(attempt) when attempts
 * remain, else for good and its dependants with it), audited "job.rescued".
 */
static int rescue_one(struct sqlite_store *s, const struct lost_job *lost, int64_t lease_ms,
                      retry_backoff_cb backoff_cb, void *backoff_ctx,
                      const struct audit_context *actx, int64_t now_ms, struct iq_error *err)
{
    struct rescue_report report;
    job_rescue_finish(lost->id, lost->worker, lost->attempt, lost->max_attempts, lease_ms,
                      backoff_cb, backoff_ctx, now_ms, &report);
    return sqlite_finish_locked(s, &report.finish, "job.rescued", actx, now_ms, NULL, err);
}

/*
 * sqlite_jobs_rescue - see store_ops.jobs_rescue. One BEGIN IMMEDIATE
 * transaction for every lost job found (at most the RUNNING ones), then
 * the expired locks are deleted. *ret_rescued (may be NULL): how many.
 */
int sqlite_jobs_rescue(struct store *base, int64_t lease_ms, retry_backoff_cb backoff_cb,
                       void *backoff_ctx, const struct audit_context *actx, int *ret_rescued,
                       struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    if (ret_rescued)
        *ret_rescued = 0;
    int rc = sqlite_check_actor(actx, err);
    if (rc == 0 && lease_ms <= 0)
        rc = iq_error_set(err, IQ_E_INVALID, "the lease must be positive");
    if (rc == 0)
        rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    int64_t now_ms = sqlite_now_ms(s);
    struct lost_list lost = {0};
    rc = read_lost(s, now_ms - lease_ms, &lost, err);
    for (size_t i = 0; rc == 0 && i < lost.count; i++)
        rc = rescue_one(s, &lost.items[i], lease_ms, backoff_cb, backoff_ctx, actx, now_ms, err);
    if (rc == 0)
        rc = sqlite_delete_expired_locks(s, now_ms, err);
    rc = sqlite_tx_finish(s, rc, err);
    if (rc == 0 && ret_rescued)
        *ret_rescued = (int)lost.count;
    lost_list_clear(&lost);
    return rc;
}
