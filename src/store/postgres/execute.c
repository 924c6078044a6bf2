/*
 * postgres/execute.c - POST .../execute on PostgreSQL: the statements of
 * the rule (common/job_rules.c, job_rule_execute) that releases a HELD
 * job, makes a QUEUED one available now and queues a FAILED or CANCELLED
 * one for one more attempt. One transaction with its audit row and a
 * NOTIFY, so an idle worker picks the job up at once. Whether a job is
 * runnable (dependencies, resources, slots) stays the claim's business.
 */
#include "store/postgres/internal.h"

#include "core/job.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * pg_read_dependencies - see postgres/internal.h (job_primitives.read_dependencies):
 * the job's dependencies, locked FOR SHARE in id order (the lock order of
 * postgres/internal.h: a dependency completing now either committed
 * before us or waits for our commit and then sees the job QUEUED with the
 * count we wrote).
 */
int pg_read_dependencies(void *backend, const char *id, struct dependency_state *ret_state,
                         struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    memset(ret_state, 0, sizeof(*ret_state));
    const char *values[1] = {id};
    PGresult *res;
    int rc = pg_exec(tx->ps, "reading dependencies",
                     "SELECT q.id::text, q.status FROM importq_job_deps e"
                     " JOIN stg_import_queue q ON q.id = e.depends_on_id"
                     " WHERE e.job_id = $1::uuid ORDER BY q.id FOR SHARE OF q",
                     1, values, &res, err);
    if (rc < 0)
        return rc;
    for (int row = 0; rc == 0 && row < PQntuples(res); row++) {
        enum job_status status;
        if (job_status_parse(PQgetvalue(res, row, 1), &status) < 0)
            rc = iq_error_set(err, IQ_E_DB, "job %s has an unknown status", PQgetvalue(res, row, 0));
        else
            job_dependency_state_add(ret_state, PQgetvalue(res, row, 0), status);
    }
    PQclear(res);
    return rc;
}

/*
 * pg_release_now - HELD/QUEUED: QUEUED and available now (database clock,
 * as the claim compares); an earlier available_at is kept, so the job does
 * not lose its place in line.
 */
int pg_release_now(void *backend, const char *id, int64_t now_ms, struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    char now[TIME_RFC3339_LEN], clock[TIME_RFC3339_LEN];
    const char *values[3] = {id, time_format_rfc3339(now_ms, now),
                             pg_clock_param(tx->ps, clock)};
    return pg_exec(tx->ps, "releasing a job",
                   "UPDATE stg_import_queue SET status = 'QUEUED',"
                   " available_at = least(available_at, " PG_NOW("$3") "),"
                   " updated_at = " PG_NEXT_UPDATED_AT("$2", "updated_at") " WHERE id = $1::uuid",
                   3, values, NULL, err);
}

/*
 * pg_rerun - FAILED/CANCELLED: QUEUED for one more attempt, with the
 * dependency count the rule recomputed.
 */
int pg_rerun(void *backend, const char *id, int deps_pending, int64_t now_ms,
             struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    char pending[16], now[TIME_RFC3339_LEN], clock[TIME_RFC3339_LEN];
    snprintf(pending, sizeof(pending), "%d", deps_pending);
    const char *values[4] = {id, pending, time_format_rfc3339(now_ms, now),
                             pg_clock_param(tx->ps, clock)};
    return pg_exec(tx->ps, "queueing a job again",
                   "UPDATE stg_import_queue SET status = 'QUEUED', error = NULL,"
                   " finished_at = NULL, cancel_requested = false, worker = NULL,"
                   " progress_phase = 'queued', available_at = " PG_NOW("$4") ","
                   " max_attempts = greatest(max_attempts, attempt + 1),"
                   " deps_pending = $2::integer,"
                   " updated_at = " PG_NEXT_UPDATED_AT("$3", "updated_at")
                   " WHERE id = $1::uuid",
                   4, values, NULL, err);
}

/*
 * pg_job_execute - see store_ops.job_execute: job_rule_execute in one
 * transaction under PG_LOCK_JOB_GRAPH (the dependency count is read
 * against the graph). Returns 0 and the job now (job_free);
 * IQ_E_NOT_FOUND, IQ_E_CONFLICT.
 */
int pg_job_execute(struct store *s, const char *id, const struct audit_context *actx,
                   struct job **ret_job, struct iq_error *err)
{
    struct pg_rule_tx tx = {.ps = pg_store_of(s)};
    *ret_job = NULL;
    int rc = pg_tx_begin_locked(tx.ps, PG_LOCK_JOB_GRAPH, err);
    if (rc == 0)
        rc = job_rule_execute(&pg_job_primitives, &tx, id, actx, pg_now_ms(tx.ps), ret_job, err);
    rc = pg_tx_finish(tx.ps, rc, err);
    pg_rule_tx_clear(&tx);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
    }
    return rc;
}
