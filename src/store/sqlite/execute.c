/*
 * sqlite/execute.c - POST .../execute on SQLite: the statements of
 * the rule (common/job_rules.c, job_rule_execute) that makes a HELD or
 * QUEUED job runnable now and gives a FAILED or CANCELLED one one more
 * attempt, run in one BEGIN IMMEDIATE transaction with its "job.executed"
 * audit row. Not here: claiming the job afterwards (sqlite/claim.c).
 */
#include "store/sqlite/internal.h"

#include <stdlib.h>
#include <string.h>

/*
 * count_dependency - the current row (id, status) of STMT_DEPENDENCY_STATUSES
 * into *state.
 */
static int count_dependency(sqlite3_stmt *stmt, struct dependency_state *state,
                            struct iq_error *err)
{
    const char *dep_id = (const char *)sqlite3_column_text(stmt, 0);
    enum job_status status;
    if (job_status_parse((const char *)sqlite3_column_text(stmt, 1), &status) < 0)
        return iq_error_set(err, IQ_E_DB, "job %s has an unknown status", dep_id ? dep_id : "?");
    job_dependency_state_add(state, dep_id, status);
    return 0;
}

/* sqlite_read_dependencies - see sqlite/internal.h (job_primitives.read_dependencies). */
int sqlite_read_dependencies(void *backend, const char *job_id, struct dependency_state *ret_state,
                             struct iq_error *err)
{
    struct sqlite_store *s = backend;
    memset(ret_state, 0, sizeof(*ret_state));
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_DEPENDENCY_STATUSES, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, job_id);
    int rc = sqlite_binder_check(s, &b, err);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "read dependencies", err)) == 1)
        rc = count_dependency(stmt, ret_state, err);
    if (rc < 0)
        stmt_release(stmt);
    return rc;
}

/*
 * sqlite_release_now - HELD/QUEUED -> QUEUED, runnable from now on (an
 * earlier available_at is kept, so the job does not lose its place in line).
 */
int sqlite_release_now(void *backend, const char *id, int64_t now_ms, struct iq_error *err)
{
    int changes = 0;
    int rc = sqlite_run_id_statement(backend, STMT_JOB_RELEASE_NOW, id, now_ms, "execute job",
                                     &changes, err);
    if (rc == 0 && changes != 1)
        rc = iq_error_set(err, IQ_E_INTERNAL, "execute job %s: row changed underneath", id);
    return rc;
}

/*
 * sqlite_rerun - FAILED/CANCELLED -> QUEUED for one more attempt: error,
 * finish time and cancel flag cleared, max_attempts raised when the
 * attempts are spent, deps_pending as counted by the rule.
 */
int sqlite_rerun(void *backend, const char *id, int deps_pending, int64_t now_ms,
                 struct iq_error *err)
{
    struct sqlite_store *s = backend;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_JOB_RERUN, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, id);
    bind_time(&b, now_ms);
    bind_int64(&b, deps_pending);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, "execute job again", err);
    if (rc == 0 && sqlite3_changes(s->db) != 1)
        rc = iq_error_set(err, IQ_E_INTERNAL, "execute job %s: row changed underneath", id);
    return rc;
}

/* execute_locked - the body of job_execute, inside BEGIN IMMEDIATE (job_rule_execute). */
static int execute_locked(struct sqlite_store *s, const char *id, const struct audit_context *actx,
                          struct job **ret_job, struct iq_error *err)
{
    int64_t now_ms = sqlite_now_ms(s);
    return job_rule_execute(&sqlite_job_primitives, s, id, actx, now_ms, ret_job, err);
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
