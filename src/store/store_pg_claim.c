/*
 * store_pg_claim.c - starting a job on PostgreSQL and keeping it alive:
 * job_claim (pick the best runnable job whose resources are free, take
 * all its locks, mark it RUNNING, under the global limit) and
 * job_heartbeat (renew the job's heartbeat and its locks' leases, report
 * progress, learn about a cancel). Ending an attempt is store_pg_finish.c.
 *
 * Clock: everything lease-related uses the database's clock (now()), so
 * nodes whose clocks disagree still agree on who holds what. The claim
 * uses statement_timestamp(), not now(): now() is the start of the
 * transaction, which may have waited on the cluster-wide claim lock, and
 * a start time from before that wait would precede the finish that freed
 * the lock. The heartbeat is a single statement, so now() is exact there.
 *
 * Why a claim cannot deadlock: a job takes every lock it needs in the one
 * claim transaction, or none of them. A job that runs therefore never
 * waits for a lock while holding another, so there is no hold-and-wait
 * and no cycle of jobs waiting on each other can form: deadlock is
 * impossible by construction and needs no detection. A job whose
 * resources are busy simply stays QUEUED and is looked at again at the
 * next claim; the claim skips it and may start a job behind it.
 *
 * Why the limit is exact: the claim step runs under one cluster-wide
 * transaction-level advisory lock (PG_LOCK_CLAIM), so claims from every
 * node are serialised. Inside it the RUNNING rows are counted (no counter
 * to drift: a crashed node's jobs count until rescued), live locks are
 * read and the new ones inserted, so no two claims can both see a free
 * slot or a free resource. Lock order: store_pg_internal.h.
 */
#include "store/store_pg_internal.h"

#include "core/job.h"
#include "core/timeutil.h"
#include "core/uuid7.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLAIM_CANDIDATES_DEFAULT 16
#define CLAIM_CANDIDATES_MAX 1000

/* ------------------------------------------------------------------ */
/* The claim                                                           */
/* ------------------------------------------------------------------ */

/*
 * append_candidate_order - the order of runnable jobs: priority, then
 * available_at (FIFO), then id. With aging, the effective priority is
 * priority minus one step per aging_ms of waiting, at least 1; that
 * order is computed, so the claim index cannot deliver it and the
 * runnable set is sorted. Without aging it is exactly the claim index
 * (stg_import_queue_claim), which the scan reads in order and stops
 * after the first `candidates` rows: the cost does not grow with the queue.
 */
static void append_candidate_order(struct sql_text *sql, bool aging)
{
    if (aging)
        pg_sql_append(sql, " ORDER BY greatest(1, q.priority - floor(extract(epoch FROM"
                           " statement_timestamp() - q.available_at) * 1000 / $3::bigint)), q.available_at, q.id");
    else
        pg_sql_append(sql, " ORDER BY q.priority, q.available_at, q.id");
}

/*
 * candidate_sql - the statement that finds the job to start: the first
 * `$2` runnable jobs in claim order that nobody else has locked (SKIP
 * LOCKED), provided fewer than $1 jobs are RUNNING, and among them the
 * first whose every resource is free. A resource is busy when a live lock
 * (expires_at > statement_timestamp()) of another job holds the same name and either side
 * wants it exclusively: shared locks go together, exclusive ones alone.
 * Returns the job row (select list), or no row. Caller frees; NULL on OOM.
 */
static char *candidate_sql(const struct pg_store *ps, bool aging)
{
    struct sql_text sql = {0};
    pg_sql_append(&sql,
                  "WITH candidate AS (SELECT q.* FROM stg_import_queue q"
                  " WHERE q.status = 'QUEUED' AND q.deps_pending = 0 AND q.available_at <= statement_timestamp()"
                  " AND (SELECT count(*) FROM stg_import_queue r WHERE r.status = 'RUNNING')"
                  " < $1::integer");
    append_candidate_order(&sql, aging);
    pg_sql_append(&sql,
                  " LIMIT $2::integer FOR UPDATE OF q SKIP LOCKED)"
                  " SELECT %s FROM candidate q WHERE NOT EXISTS ("
                  "SELECT 1 FROM jsonb_array_elements(q.resources) AS want(r)"
                  " JOIN stg_import_resources held ON held.name = want.r->>'name'"
                  " AND held.expires_at > statement_timestamp() AND held.job_id <> q.id"
                  " WHERE want.r->>'mode' = 'exclusive' OR held.mode = 'exclusive')",
                  ps->select_list);
    append_candidate_order(&sql, aging);
    pg_sql_append(&sql, " LIMIT 1");
    return pg_sql_take(&sql);
}

/*
 * find_candidate - run candidate_sql. Returns 0 and a new job in *ret_job
 * (job_free), or 0 and NULL when no job can start now, or an error.
 */
static int find_candidate(struct pg_store *ps, const struct claim_request *req,
                          struct job **ret_job, struct iq_error *err)
{
    *ret_job = NULL;
    bool aging = req->aging_ms > 0;
    char *sql = candidate_sql(ps, aging);
    if (!sql)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    int candidates = req->candidates > 0 ? req->candidates : CLAIM_CANDIDATES_DEFAULT;
    if (candidates > CLAIM_CANDIDATES_MAX)
        candidates = CLAIM_CANDIDATES_MAX;
    char limit[16], count[16], aging_ms[24];
    snprintf(limit, sizeof(limit), "%d", req->max_concurrent);
    snprintf(count, sizeof(count), "%d", candidates);
    snprintf(aging_ms, sizeof(aging_ms), "%" PRId64, req->aging_ms);
    const char *values[3] = {limit, count, aging_ms};
    PGresult *res;
    int rc = pg_exec(ps, "finding a job to start", sql, aging ? 3 : 2, values, &res, err);
    free(sql);
    if (rc < 0)
        return rc;
    struct job **jobs = NULL;
    size_t found = 0;
    rc = pg_decode_rows(res, 1, &jobs, &found, err);
    PQclear(res);
    if (rc == 0 && found == 1)
        *ret_job = jobs[0];
    free(jobs);
    return rc;
}

/*
 * lock_ids_text - "{id,...}": one new UUIDv7 for each of count locks, as
 * a uuid[] literal. Caller frees; NULL on OOM.
 */
static char *lock_ids_text(size_t count)
{
    struct sql_text text = {0};
    pg_sql_append(&text, "{");
    for (size_t i = 0; i < count; i++) {
        char id[UUID_STR_LEN];
        uuid7_generate(id);
        pg_sql_append(&text, "%s%s", i ? "," : "", id);
    }
    pg_sql_append(&text, "}");
    return pg_sql_take(&text);
}

/*
 * start_sql - mark job $1 RUNNING for worker $2 (attempt + 1, heartbeat
 * and start now) and insert one lock row per entry of its resources
 * (ids from $6, node $3, lease $4 ms), in one statement; returns the job
 * row. A lock row left from an earlier attempt of the same job (same
 * name and job) is overwritten. Caller frees; NULL on OOM.
 */
static char *start_sql(const struct pg_store *ps)
{
    struct sql_text sql = {0};
    pg_sql_append(&sql,
                  "WITH job AS (UPDATE stg_import_queue q SET status = 'RUNNING',"
                  " attempt = q.attempt + 1, worker = $2, heartbeat_at = statement_timestamp(),"
                  " started_at = statement_timestamp(), finished_at = NULL, cancel_requested = false,"
                  " progress_phase = 'locking', rows_read = 0, bytes_read = 0, bytes_total = 0,"
                  " error = NULL, updated_at = $5::timestamptz"
                  " WHERE q.id = $1::uuid RETURNING q.*),"
                  " taken AS (INSERT INTO stg_import_resources (id, name, mode, job_id, attempt,"
                  " node, worker, acquired_at, expires_at)"
                  " SELECT ($6::uuid[])[want.n], want.r->>'name', want.r->>'mode', job.id,"
                  " job.attempt, $3, $2, statement_timestamp(), statement_timestamp() + $4::bigint * interval '1 millisecond'"
                  " FROM job, jsonb_array_elements(job.resources) WITH ORDINALITY AS want(r, n)"
                  " ON CONFLICT (name, job_id) DO UPDATE SET id = excluded.id,"
                  " mode = excluded.mode, attempt = excluded.attempt, node = excluded.node,"
                  " worker = excluded.worker, acquired_at = excluded.acquired_at,"
                  " expires_at = excluded.expires_at)"
                  " SELECT %s FROM job q",
                  ps->select_list);
    return pg_sql_take(&sql);
}

/* start_job - run start_sql for the chosen job. *ret_job is the job now (job_free). */
static int start_job(struct pg_store *ps, const struct claim_request *req, const struct job *job,
                     struct job **ret_job, struct iq_error *err)
{
    *ret_job = NULL;
    char *sql = start_sql(ps);
    char *ids = lock_ids_text(job->resource_count);
    if (!sql || !ids) {
        free(sql);
        free(ids);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    char lease[24], now[TIME_RFC3339_LEN];
    snprintf(lease, sizeof(lease), "%" PRId64, req->lease_ms);
    const char *values[6] = {
        job->id, req->worker, req->node_id, lease, time_format_rfc3339(time_now_ms(), now), ids};
    PGresult *res;
    int rc = pg_exec(ps, "starting a job", sql, 6, values, &res, err);
    free(sql);
    free(ids);
    if (rc < 0)
        return rc;
    struct job **jobs = NULL;
    size_t found = 0;
    rc = pg_decode_rows(res, 1, &jobs, &found, err);
    PQclear(res);
    if (rc == 0 && found == 1)
        *ret_job = jobs[0];
    else if (rc == 0)
        rc = iq_error_set(err, IQ_E_INTERNAL, "job %s vanished while being started", job->id);
    free(jobs);
    return rc;
}

/*
 * claim_in_tx - job_claim's body inside its transaction, under the claim
 * lock: the choice, the start and the audit row. *ret_job stays NULL when
 * no job can start now.
 */
static int claim_in_tx(struct pg_store *ps, const struct claim_request *req,
                       const struct audit_context *actx, struct job **ret_job, struct iq_error *err)
{
    struct job *before = NULL;
    int rc = find_candidate(ps, req, &before, err);
    if (rc == 0 && before)
        rc = start_job(ps, req, before, ret_job, err);
    if (rc == 0 && *ret_job)
        rc = pg_audit_job_change(ps, actx, "job.started", before, *ret_job, err);
    job_free(before);
    return rc;
}

/* check_claim_request - what a claim needs before any SQL. */
static int check_claim_request(const struct claim_request *req, struct iq_error *err)
{
    if (!req || !req->worker || !*req->worker)
        return iq_error_set(err, IQ_E_INVALID, "a claim needs a worker");
    if (req->max_concurrent <= 0)
        return iq_error_set(err, IQ_E_INVALID, "max_concurrent must be at least 1");
    if (req->lease_ms <= 0)
        return iq_error_set(err, IQ_E_INVALID, "the lock lease must be positive");
    return 0;
}

/*
 * pg_job_claim - see store_ops.job_claim. One transaction under
 * PG_LOCK_CLAIM; no NOTIFY (a claim frees nothing). Returns 0 and the
 * started job (job_free), 0 and NULL when nothing can start now, or an
 * error (nothing changed).
 */
int pg_job_claim(struct store *s, const struct claim_request *req, const struct audit_context *actx,
                 struct job **ret_job, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    *ret_job = NULL;
    int rc = check_claim_request(req, err);
    if (rc < 0)
        return rc;
    rc = pg_tx_begin_locked(ps, PG_LOCK_CLAIM, err);
    if (rc == 0)
        rc = claim_in_tx(ps, req, actx, ret_job, err);
    rc = pg_tx_finish(ps, rc, err);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Heartbeats                                                          */
/* ------------------------------------------------------------------ */

/*
 * The heartbeat in one round trip: renew the job row (only while it is
 * RUNNING under this worker and attempt and its lease has not lapsed),
 * then, through the job CTE, every lock of the job, and return
 * cancel_requested. A lapsed lease (heartbeat older than the lease, or a
 * lock of the job already expired) is not renewed: its locks may belong
 * to another job by now, so the worker must stop; rescue takes the job.
 */
static const char heartbeat_sql[] =
    "WITH job AS (UPDATE stg_import_queue q SET heartbeat_at = now(),"
    " progress_phase = coalesce($5, q.progress_phase),"
    " rows_read = coalesce($6::bigint, q.rows_read),"
    " bytes_read = coalesce($7::bigint, q.bytes_read),"
    " bytes_total = coalesce($8::bigint, q.bytes_total)"
    " WHERE q.id = $1::uuid AND q.status = 'RUNNING' AND q.worker = $2"
    " AND q.attempt = $3::integer"
    " AND q.heartbeat_at > now() - $4::bigint * interval '1 millisecond'"
    " AND NOT EXISTS (SELECT 1 FROM stg_import_resources x WHERE x.job_id = q.id"
    " AND x.expires_at <= now())"
    " RETURNING q.id, q.cancel_requested),"
    " renewed AS (UPDATE stg_import_resources l"
    " SET expires_at = now() + $4::bigint * interval '1 millisecond'"
    " FROM job WHERE l.job_id = job.id)"
    " SELECT cancel_requested FROM job";

/*
 * pg_job_heartbeat - see store_ops.job_heartbeat. One statement, no
 * transaction of its own (reconnects when needed). IQ_E_STALE when the job
 * is not RUNNING under worker/attempt, or its lease already lapsed.
 */
int pg_job_heartbeat(struct store *s, const char *job_id, const char *worker, int attempt,
                     int64_t lease_ms, const struct job_progress *progress,
                     bool *ret_cancel_requested, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    if (ret_cancel_requested)
        *ret_cancel_requested = false;
    if (!job_id || !uuid_is_valid(job_id) || !worker)
        return iq_error_set(err, IQ_E_STALE, "job %s is no longer ours",
                            job_id ? job_id : "(null)");
    if (lease_ms <= 0)
        return iq_error_set(err, IQ_E_INVALID, "the lock lease must be positive");
    char attempt_text[16], lease[24], rows[24], bytes[24], total[24];
    snprintf(attempt_text, sizeof(attempt_text), "%d", attempt);
    snprintf(lease, sizeof(lease), "%" PRId64, lease_ms);
    if (progress) {
        snprintf(rows, sizeof(rows), "%" PRId64, progress->rows_read);
        snprintf(bytes, sizeof(bytes), "%" PRId64, progress->bytes_read);
        snprintf(total, sizeof(total), "%" PRId64, progress->bytes_total);
    }
    const char *values[8] = {job_id,
                             worker,
                             attempt_text,
                             lease,
                             progress && progress->phase[0] ? progress->phase : NULL,
                             progress ? rows : NULL,
                             progress ? bytes : NULL,
                             progress ? total : NULL};
    PGresult *res;
    int rc = pg_exec(ps, "renewing a heartbeat", heartbeat_sql, 8, values, &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 0)
        rc = iq_error_set(err, IQ_E_STALE,
                          "job %s is no longer ours (not RUNNING under %s, attempt %d, or its"
                          " lease lapsed)",
                          job_id, worker, attempt);
    else if (ret_cancel_requested)
        *ret_cancel_requested = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return rc;
}
