/*
 * sqlite/execute.c - POST .../execute on SQLite: a HELD or QUEUED
 * job becomes runnable now, a FAILED or CANCELLED one gets one more
 * attempt. One BEGIN IMMEDIATE transaction with its "job.executed" audit
 * row. Not here: claiming the job afterwards (sqlite/claim.c).
 */
#include "store/sqlite/internal.h"

#include <stdlib.h>
#include <string.h>

/*
 * count_dependency - the current row (id, status) of STMT_DEPENDENCY_STATUSES:
 * adds to *pending unless COMPLETED; IQ_E_CONFLICT for FAILED or CANCELLED.
 */
static int count_dependency(sqlite3_stmt *stmt, int64_t *pending, struct iq_error *err)
{
    const char *dep_id = (const char *)sqlite3_column_text(stmt, 0);
    enum job_status status;
    if (job_status_parse((const char *)sqlite3_column_text(stmt, 1), &status) < 0)
        return iq_error_set(err, IQ_E_DB, "job %s has an unknown status", dep_id ? dep_id : "?");
    if (status == JOB_FAILED || status == JOB_CANCELLED)
        return iq_error_set(err, IQ_E_CONFLICT,
                            "dependency %s is %s: execute it first, or update the job's depends_on",
                            dep_id ? dep_id : "?", job_status_name(status));
    if (status != JOB_COMPLETED)
        (*pending)++;
    return 0;
}

/*
 * count_pending_dependencies - the dependencies of job_id not COMPLETED
 * (its deps_pending when it is queued again). IQ_E_CONFLICT while one of
 * them is FAILED or CANCELLED: the job would only fail again at once.
 */
static int count_pending_dependencies(struct sqlite_store *s, const char *job_id,
                                      int64_t *ret_pending, struct iq_error *err)
{
    *ret_pending = 0;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_DEPENDENCY_STATUSES, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, job_id);
    int rc = sqlite_binder_check(s, &b, err);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "read dependencies", err)) == 1)
        rc = count_dependency(stmt, ret_pending, err);
    if (rc < 0)
        stmt_release(stmt);
    return rc;
}

/*
 * release_now - HELD/QUEUED -> QUEUED, runnable from now on (an earlier
 * available_at is kept, so the job does not lose its place in line).
 */
static int release_now(struct sqlite_store *s, const char *id, int64_t now_ms, struct iq_error *err)
{
    int changes = 0;
    int rc =
        sqlite_run_id_statement(s, STMT_JOB_RELEASE_NOW, id, now_ms, "execute job", &changes, err);
    if (rc == 0 && changes != 1)
        rc = iq_error_set(err, IQ_E_INTERNAL, "execute job %s: row changed underneath", id);
    return rc;
}

/*
 * rerun - FAILED/CANCELLED -> QUEUED for one more attempt: error, finish
 * time and cancel flag cleared, max_attempts raised when the attempts are
 * spent, deps_pending counted afresh.
 */
static int rerun(struct sqlite_store *s, const char *id, int64_t now_ms, struct iq_error *err)
{
    int64_t pending;
    int rc = count_pending_dependencies(s, id, &pending, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_JOB_RERUN, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, id);
    bind_time(&b, now_ms);
    bind_int64(&b, pending);
    rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, "execute job again", err);
    if (rc == 0 && sqlite3_changes(s->db) != 1)
        rc = iq_error_set(err, IQ_E_INTERNAL, "execute job %s: row changed underneath", id);
    return rc;
}

/* execute_locked - the body of job_execute, inside BEGIN IMMEDIATE. */
static int execute_locked(struct sqlite_store *s, const char *id, const struct audit_context *actx,
                          struct job **ret_job, struct iq_error *err)
{
    struct job *before = NULL;
    int rc = sqlite_read_job(s, id, &before, err);
    if (rc < 0)
        return rc;
    int64_t now_ms = sqlite_now_ms(s);
    switch (before->status) {
    case JOB_HELD:
    case JOB_QUEUED:
        rc = release_now(s, id, now_ms, err);
        break;
    case JOB_FAILED:
    case JOB_CANCELLED:
        rc = rerun(s, id, now_ms, err);
        break;
    default:
        rc = iq_error_set(err, IQ_E_CONFLICT,
                          "job is %s: only HELD, QUEUED, FAILED or CANCELLED jobs can be executed",
                          job_status_name(before->status));
        break;
    }
    if (rc == 0)
        rc = sqlite_read_job(s, id, ret_job, err);
    if (rc == 0)
        rc = sqlite_audit_job(s, actx, "job.executed", id, before, *ret_job, now_ms, err);
    if (rc == 0)
        rc = sqlite_orchestration_refresh(s, (*ret_job)->orchestration_id, now_ms, err);
    job_free(before);
    return rc;
}

/*
 * sqlite_job_execute - see store_ops.job_execute. IQ_E_NOT_FOUND for an
 * unknown id, IQ_E_CONFLICT for a RUNNING or COMPLETED job or a failed
 * dependency. *ret_job: the job afterwards (job_free).
 */
int sqlite_job_execute(struct store *base, const char *id, const struct audit_context *actx,
                       struct job **ret_job, struct iq_error *err)
{
    return sqlite_job_mutate(to_sqlite(base), id, actx, execute_locked, ret_job, err);
}
