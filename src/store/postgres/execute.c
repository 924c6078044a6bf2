/*
 * postgres/execute.c - POST .../execute on PostgreSQL: a HELD job is
 * released, a QUEUED one made available now, a FAILED or CANCELLED one
 * queued for one more attempt. One transaction with its audit row and a
 * NOTIFY, so an idle worker picks the job up at once. Whether a job is
 * runnable (dependencies, resources, slots) stays the claim's business.
 */
#include "store/postgres/internal.h"

#include "core/job.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What execute found out about a job's dependencies. */
struct dep_state {
    int pending;                  /* not COMPLETED */
    char failed_id[UUID_STR_LEN]; /* first FAILED/CANCELLED one, "" when none */
    char failed_status[16];
};

/*
 * read_dependencies - the job's dependencies, locked FOR SHARE in id order
 * (the lock order of postgres/internal.h: a dependency completing now
 * either committed before us or waits for our commit and then sees the
 * job QUEUED with the count we wrote).
 */
static int read_dependencies(struct pg_store *ps, const char *id, struct dep_state *ret,
                             struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    const char *values[1] = {id};
    PGresult *res;
    int rc = pg_exec(ps, "reading dependencies",
                     "SELECT q.id::text, q.status FROM importq_job_deps e"
                     " JOIN stg_import_queue q ON q.id = e.depends_on_id"
                     " WHERE e.job_id = $1::uuid ORDER BY q.id FOR SHARE OF q",
                     1, values, &res, err);
    if (rc < 0)
        return rc;
    for (int row = 0; row < PQntuples(res); row++) {
        const char *status = PQgetvalue(res, row, 1);
        if (strcmp(status, "COMPLETED") != 0)
            ret->pending++;
        bool failed = strcmp(status, "FAILED") == 0 || strcmp(status, "CANCELLED") == 0;
        if (failed && !ret->failed_id[0]) {
            snprintf(ret->failed_id, sizeof(ret->failed_id), "%s", PQgetvalue(res, row, 0));
            snprintf(ret->failed_status, sizeof(ret->failed_status), "%s", status);
        }
    }
    PQclear(res);
    return 0;
}

/* release_now - HELD/QUEUED: QUEUED and available now (database clock, as the claim compares). */
static int release_now(struct pg_store *ps, const char *id, struct iq_error *err)
{
    char now[TIME_RFC3339_LEN], clock[TIME_RFC3339_LEN];
    const char *values[3] = {id, time_format_rfc3339(pg_now_ms(ps), now),
                             pg_clock_param(ps, clock)};
    return pg_exec(ps, "releasing a job",
                   "UPDATE stg_import_queue SET status = 'QUEUED', available_at = " PG_NOW("$3") ","
                   " updated_at = " PG_NEXT_UPDATED_AT("$2", "updated_at") " WHERE id = $1::uuid",
                   3, values, NULL, err);
}

/*
 * requeue_finished - FAILED/CANCELLED: QUEUED for one more attempt, with
 * the dependency count recomputed; IQ_E_CONFLICT while a dependency is
 * FAILED or CANCELLED (it would fail the job again at once).
 */
static int requeue_finished(struct pg_store *ps, const char *id, struct iq_error *err)
{
    struct dep_state deps;
    int rc = read_dependencies(ps, id, &deps, err);
    if (rc < 0)
        return rc;
    if (deps.failed_id[0])
        return iq_error_set(err, IQ_E_CONFLICT, "dependency %s is %s: execute it first",
                            deps.failed_id, deps.failed_status);
    char pending[16], now[TIME_RFC3339_LEN], clock[TIME_RFC3339_LEN];
    snprintf(pending, sizeof(pending), "%d", deps.pending);
    const char *values[4] = {id, pending, time_format_rfc3339(pg_now_ms(ps), now),
                             pg_clock_param(ps, clock)};
    return pg_exec(ps, "queueing a job again",
                   "UPDATE stg_import_queue SET status = 'QUEUED', error = NULL,"
                   " finished_at = NULL, cancel_requested = false, worker = NULL,"
                   " progress_phase = 'queued', available_at = " PG_NOW("$4") ","
                   " max_attempts = greatest(max_attempts, attempt + 1),"
                   " deps_pending = $2::integer,"
                   " updated_at = " PG_NEXT_UPDATED_AT("$3", "updated_at")
                   " WHERE id = $1::uuid",
                   4, values, NULL, err);
}

/* execute_in_tx - job_execute's body inside its transaction, PG_LOCK_JOB_GRAPH held. */
static int execute_in_tx(struct pg_store *ps, const char *id, const struct audit_context *actx,
                         struct job **ret_job, struct iq_error *err)
{
    struct job *before = NULL;
    enum job_status to;
    int rc = pg_read_job(ps, id, true, &before, err);
    if (rc == 0 && job_transition(before->status, JOB_EVENT_EXECUTE, &to) < 0)
        rc = iq_error_set(err, IQ_E_CONFLICT,
                          "job is %s: only HELD, QUEUED, FAILED or CANCELLED"
                          " jobs can be executed",
                          job_status_name(before->status));
    if (rc == 0 && (before->status == JOB_HELD || before->status == JOB_QUEUED))
        rc = release_now(ps, before->id, err);
    else if (rc == 0)
        rc = requeue_finished(ps, before->id, err);
    if (rc == 0)
        rc = pg_notify_work(ps, "executed", err);
    if (rc == 0)
        rc = pg_read_job(ps, before->id, false, ret_job, err);
    if (rc == 0)
        rc = pg_orchestrations_refresh(ps, *ret_job, NULL, err);
    if (rc == 0)
        rc = pg_audit_job_change(ps, actx, "job.executed", before, *ret_job, err);
    job_free(before);
    return rc;
}

/*
 * pg_job_execute - see store_ops.job_execute. One transaction under
 * PG_LOCK_JOB_GRAPH (the dependency count is read against the graph).
 * Returns 0 and the job now (job_free); IQ_E_NOT_FOUND, IQ_E_CONFLICT.
 */
int pg_job_execute(struct store *s, const char *id, const struct audit_context *actx,
                   struct job **ret_job, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    *ret_job = NULL;
    int rc = pg_tx_begin_locked(ps, PG_LOCK_JOB_GRAPH, err);
    if (rc == 0)
        rc = execute_in_tx(ps, id, actx, ret_job, err);
    rc = pg_tx_finish(ps, rc, err);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
    }
    return rc;
}
