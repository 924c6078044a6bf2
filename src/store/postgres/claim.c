/*
 * postgres/claim.c - starting a job on PostgreSQL and keeping it alive:
 * job_claim (pick the best runnable job whose resources are free, take
 * all its locks, mark it RUNNING, under the global limit) and
 * job_heartbeat (renew the job's heartbeat and its locks' leases, report
 * progress, learn about a cancel). Ending an attempt is postgres/finish.c.
 *
 * Clock: everything lease-related uses the database's clock (now()), so
 * nodes whose clocks disagree still agree on who holds what - unless the
 * store was given a clock (tests): then the injected time goes in as a
 * parameter (PG_NOW and kin, postgres/internal.h). The claim
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
 * slot or a free resource. Lock order: postgres/internal.h.
 */
#include "store/postgres/internal.h"

#include "core/job.h"
#include "core/timeutil.h"
#include "core/uuid7.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* STORE_CLAIM_CANDIDATES as an SQL literal (see claim_sql). */
#define SQL_LITERAL_(x) #x
#define SQL_LITERAL(x) SQL_LITERAL_(x)

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
                           " " PG_STATEMENT_NOW("$6") " - q.available_at) * 1000 / $7::bigint)),"
                           " q.available_at, q.id");
    else
        pg_sql_append(sql, " ORDER BY q.priority, q.available_at, q.id");
}

/*
 * A lock row's id, made by the database: a UUIDv7 (RFC 9562) from
 * gen_random_uuid(), a version 4 UUID (122 random bits, variant already
 * 10), whose first 48 bits are replaced by the unix time in milliseconds
 * (the low 6 bytes of the bigint) and whose version nibble 0100 becomes
 * 0111 (set_bit numbers bits from the least significant of each byte:
 * bits 52 and 53 are 0x10 and 0x20 of byte 6). The claim makes the ids
 * itself because it only learns in the statement how many locks the job
 * it picks needs.
 */
#define LOCK_ID_SQL                                                                             \
    "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING"                       \
    " substring(int8send((extract(epoch FROM " PG_CLOCK_NOW("$6") ") * 1000)::bigint) FROM 3)" \
    " FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid"

/*
 * claim_changes - the columns a start sets (the job UPDATE of claim_sql):
 * the claim returns their values from before the start beside the job
 * after it, which is all the audit row needs (store_job_audit_images
 * keeps only changed fields), rather than a second whole job row.
 */
static const enum job_column claim_changes[] = {
    JOBCOL_STATUS,         JOBCOL_ATTEMPT,     JOBCOL_WORKER,         JOBCOL_HEARTBEAT_AT,
    JOBCOL_STARTED_AT,     JOBCOL_FINISHED_AT, JOBCOL_CANCEL_REQUESTED, JOBCOL_PROGRESS_PHASE,
    JOBCOL_ROWS_READ,      JOBCOL_BYTES_READ,  JOBCOL_BYTES_TOTAL,    JOBCOL_ERROR,
    JOBCOL_UPDATED_AT};
#define CLAIM_CHANGES (sizeof(claim_changes) / sizeof(claim_changes[0]))

/*
 * claim_sql - the whole claim step in one statement (prepared once per
 * connection as STMT_CLAIM and STMT_CLAIM_AGING), run after PG_LOCK_CLAIM
 * was granted, so its snapshot sees every claim and finish committed
 * before, and the claims before it in the same transaction:
 *   candidate  the first STORE_CLAIM_CANDIDATES runnable jobs in claim order,
 *              provided fewer than $1 jobs are RUNNING; read, not locked
 *              (locking them all cost a third of the statement, and no
 *              other claim can run meanwhile: PG_LOCK_CLAIM);
 *   free       those whose every resource is free (a resource is busy
 *              when a live lock, expires_at > statement_timestamp(), of
 *              another job holds the same name and either side wants it
 *              exclusively; looked up per wanted name, LATERAL ... LIMIT
 *              1, on the lock index (name, expires_at));
 *   chosen     the first of those, in the order the candidates carry
 *              (so the rows are fetched by id: `deps_pending + 0` does
 *              not imply the claim index's predicate, so no plan can turn
 *              the join into a walk of that index, once per candidate),
 *              that can be locked (FOR UPDATE SKIP
 *              LOCKED: only that row is locked, and never waited for: a
 *              row an API change holds is passed over) and is, in its
 *              latest version, still QUEUED, runnable and due no later
 *              than when it was read (a cancel, hold or edit committed
 *              since the snapshot is seen);
 *   job        that job RUNNING for worker $2 (attempt + 1, heartbeat and
 *              start now; ready_at, where its queue time began: the later
 *              of available_at and its last change while it waited);
 *   taken      one lock row per entry of its resources (node $3, lease $4
 *              ms); a row left from an earlier attempt of the same job
 *              (same name and job) is overwritten.
 * $5 is updated_at, $6 the injected clock's time (NULL: the database's,
 * PG_STATEMENT_NOW), $7 aging_ms (aging only). The candidate count is a
 * literal and the plan generic (begin_claim): with LIMIT $n the generic
 * plan could not see the limit and sorted the whole queue (80 ms at a
 * million jobs), while planning every call for the values at hand cost
 * more than the claim itself. Returns the started job as it is now,
 * followed by what it was in the columns the start changed
 * (claim_changes, as the select list has them), or no row when nothing
 * can start. Caller frees; NULL on OOM.
 */
static char *claim_sql(const char *select_list, bool aging)
{
    struct sql_text sql = {0};
    pg_sql_append(&sql,
                  "WITH candidate AS MATERIALIZED (SELECT q.id, q.resources, q.priority,"
                  " q.available_at FROM stg_import_queue q"
                  " WHERE q.status = 'QUEUED' AND q.deps_pending = 0"
                  " AND q.available_at <= " PG_STATEMENT_NOW("$6")
                  " AND (SELECT count(*) FROM stg_import_queue r WHERE r.status = 'RUNNING')"
                  " < $1::integer");
    append_candidate_order(&sql, aging);
    pg_sql_append(&sql,
                  " LIMIT " SQL_LITERAL(STORE_CLAIM_CANDIDATES) "),"
                  " free AS MATERIALIZED (SELECT q.id, q.priority, q.available_at"
                  " FROM candidate q WHERE NOT EXISTS ("
                  "SELECT 1 FROM jsonb_array_elements(q.resources) AS want(r)"
                  " CROSS JOIN LATERAL (SELECT 1 FROM stg_import_resources held"
                  " WHERE held.name = want.r->>'name' AND held.expires_at > " PG_STATEMENT_NOW("$6")
                  " AND held.job_id <> q.id"
                  " AND (want.r->>'mode' = 'exclusive' OR held.mode = 'exclusive') LIMIT 1) busy)),"
                  " chosen AS MATERIALIZED (SELECT j.* FROM free q"
                  " JOIN stg_import_queue j ON j.id = q.id WHERE j.status = 'QUEUED'"
                  " AND j.deps_pending + 0 = 0 AND j.available_at <= q.available_at");
    append_candidate_order(&sql, aging);
    pg_sql_append(&sql,
                  " LIMIT 1 FOR UPDATE OF j SKIP LOCKED),"
                  " job AS (UPDATE stg_import_queue q SET status = 'RUNNING',"
                  " attempt = q.attempt + 1, worker = $2,"
                  " heartbeat_at = " PG_STATEMENT_NOW("$6") ","
                  " started_at = " PG_STATEMENT_NOW("$6") ", finished_at = NULL,"
                  " ready_at = greatest(q.available_at, q.updated_at),"
                  " cancel_requested = false,"
                  " progress_phase = 'locking', rows_read = 0, bytes_read = 0, bytes_total = 0,"
                  " error = NULL, updated_at = " PG_NEXT_UPDATED_AT("$5", "q.updated_at")
                  " FROM chosen c WHERE q.id = c.id RETURNING q.*),"
                  " taken AS (INSERT INTO stg_import_resources (id, name, mode, job_id, attempt,"
                  " node, worker, acquired_at, expires_at)"
                  " SELECT " LOCK_ID_SQL ", want.r->>'name', want.r->>'mode', job.id,"
                  " job.attempt, $3, $2, " PG_STATEMENT_NOW("$6") ","
                  " " PG_STATEMENT_NOW("$6") " + $4::bigint * interval '1 millisecond'"
                  " FROM job, jsonb_array_elements(job.resources) AS want(r)"
                  " ON CONFLICT (name, job_id) DO UPDATE SET id = excluded.id,"
                  " mode = excluded.mode, attempt = excluded.attempt, node = excluded.node,"
                  " worker = excluded.worker, acquired_at = excluded.acquired_at,"
                  " expires_at = excluded.expires_at)"
                  " SELECT %s",
                  select_list);
    for (size_t i = 0; i < CLAIM_CHANGES; i++) {
        pg_sql_append(&sql, ", ");
        pg_append_job_column(&sql, claim_changes[i], "c");
    }
    pg_sql_append(&sql, " FROM job q JOIN chosen c ON c.id = q.id");
    return pg_sql_take(&sql);
}

char *pg_claim_sql(const char *select_list)
{
    return claim_sql(select_list, false);
}

char *pg_claim_aging_sql(const char *select_list)
{
    return claim_sql(select_list, true);
}

/*
 * begin_claims - (BEGIN when begin,) a generic plan for the transaction's
 * statements, PG_LOCK_CLAIM and one claim statement per worker, in one
 * round trip (a pipeline: each statement's snapshot is taken after the
 * lock was granted and sees the claims before it). ret_before[i] and
 * ret_jobs[i]: the job workers[i] started, before and after (NULL: none).
 * The transaction is open after success (and may be after a failure:
 * pg_tx_finish ends it).
 */
static int begin_claims(struct pg_store *ps, const struct claim_request *req,
                        const char *const *workers, int count, bool begin,
                        struct job **ret_before, struct job **ret_jobs, struct iq_error *err)
{
    bool aging = req->aging_ms > 0;
    char limit[16], lease[24], now[TIME_RFC3339_LEN], clock[TIME_RFC3339_LEN], aging_ms[24];
    snprintf(limit, sizeof(limit), "%d", req->max_concurrent);
    snprintf(lease, sizeof(lease), "%" PRId64, req->lease_ms);
    snprintf(aging_ms, sizeof(aging_ms), "%" PRId64, req->aging_ms);
    time_format_rfc3339(pg_now_ms(ps), now);
    struct pg_step steps[3 + STORE_CLAIM_BATCH_MAX];
    const char *values[STORE_CLAIM_BATCH_MAX][7];
    size_t n = 0;
    if (begin)
        steps[n++] = (struct pg_step){.what = "starting a claim", .stmt = STMT_NONE, .sql = "BEGIN"};
    steps[n++] = (struct pg_step){.what = "starting a claim",
                                  .stmt = STMT_NONE,
                                  .sql = "SET LOCAL plan_cache_mode = force_generic_plan"};
    steps[n++] = (struct pg_step){.what = "taking the claim lock",
                                  .stmt = STMT_NONE,
                                  .sql = "SELECT pg_advisory_xact_lock(" PG_LOCK_CLAIM ")"};
    size_t first_claim = n;
    for (int i = 0; i < count; i++) {
        const char *row[7] = {limit, workers[i], req->node_id, lease,
                              now,   pg_clock_param(ps, clock), aging_ms};
        memcpy(values[i], row, sizeof(row));
        steps[n++] = (struct pg_step){.what = "claiming a job",
                                      .stmt = aging ? STMT_CLAIM_AGING : STMT_CLAIM,
                                      .values = values[i]};
    }
    int rc = pg_exec_pipeline(ps, steps, n, err);
    for (int i = 0; i < count; i++) {
        if (rc == 0)
            rc = pg_decode_change(steps[first_claim + (size_t)i].res, claim_changes, CLAIM_CHANGES,
                                  &ret_before[i], &ret_jobs[i], err);
    }
    for (size_t i = 0; i < n; i++)
        PQclear(steps[i].res);
    return rc;
}

static int compare_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * mark_orchestrations - the orchestrations of the started jobs RUNNING,
 * each once and in id order (the lock order of orchestration rows).
 */
static int mark_orchestrations(struct pg_store *ps, struct job *const *jobs, int count,
                               struct iq_error *err)
{
    const char *ids[STORE_CLAIM_BATCH_MAX];
    int n = 0;
    for (int i = 0; i < count; i++)
        if (jobs[i] && jobs[i]->orchestration_id)
            ids[n++] = jobs[i]->orchestration_id;
    qsort(ids, (size_t)n, sizeof(ids[0]), compare_text);
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++)
        if (i == 0 || strcmp(ids[i], ids[i - 1]) != 0)
            rc = pg_orchestration_mark_running(ps, ids[i], err);
    return rc;
}

/*
 * claims_in_tx - the claims (with the claim lock, and BEGIN when begin),
 * then the started jobs' orchestrations and, for each, its audit row
 * (sent with the COMMIT).
 */
static int claims_in_tx(struct pg_store *ps, const struct claim_request *req,
                        const char *const *workers, int count, bool begin,
                        const struct audit_context *actx, struct job **ret_jobs,
                        struct iq_error *err)
{
    struct job *before[STORE_CLAIM_BATCH_MAX] = {0};
    int rc = begin_claims(ps, req, workers, count, begin, before, ret_jobs, err);
    if (rc == 0)
        rc = mark_orchestrations(ps, ret_jobs, count, err);
    for (int i = 0; rc == 0 && i < count; i++)
        if (ret_jobs[i])
            rc = pg_audit_job_change(ps, actx, "job.started", before[i], ret_jobs[i], err);
    for (int i = 0; i < count; i++)
        job_free(before[i]);
    return rc;
}

/* pg_claim_next_in_tx - see postgres/internal.h. */
int pg_claim_next_in_tx(struct pg_store *ps, const struct claim_request *req,
                        const struct audit_context *actx, struct job **ret_job,
                        struct iq_error *err)
{
    *ret_job = NULL;
    const char *worker = req ? req->worker : NULL;
    int rc = store_check_claim_batch(req, &worker, 1, err);
    if (rc == 0)
        rc = claims_in_tx(ps, req, &worker, 1, false, actx, ret_job, err);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
    }
    return rc;
}

/*
 * pg_job_claim_batch - see store_ops.job_claim_batch. One transaction
 * under PG_LOCK_CLAIM, usually in two round trips: BEGIN, the lock and
 * the claim statements; the audit lock, the audit rows and COMMIT. A job
 * in an orchestration adds one. No NOTIFY (a claim frees nothing).
 * ret_jobs[i] is the job workers[i] started, or NULL; on error none.
 */
int pg_job_claim_batch(struct store *s, const struct claim_request *req,
                       const char *const *workers, int worker_count,
                       const struct audit_context *actx, struct job **ret_jobs, int *ret_claimed,
                       struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    *ret_claimed = 0;
    int rc = store_check_claim_batch(req, workers, worker_count, err);
    if (rc < 0)
        return rc;
    for (int i = 0; i < worker_count; i++)
        ret_jobs[i] = NULL;
    rc = claims_in_tx(ps, req, workers, worker_count, true, actx, ret_jobs, err);
    rc = pg_tx_finish(ps, rc, err);
    for (int i = 0; i < worker_count; i++) {
        if (rc < 0) {
            job_free(ret_jobs[i]);
            ret_jobs[i] = NULL;
        } else if (ret_jobs[i]) {
            (*ret_claimed)++;
        }
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
    "WITH job AS (UPDATE stg_import_queue q SET heartbeat_at = " PG_NOW("$9") ","
    " progress_phase = coalesce($5, q.progress_phase),"
    " rows_read = coalesce($6::bigint, q.rows_read),"
    " bytes_read = coalesce($7::bigint, q.bytes_read),"
    " bytes_total = coalesce($8::bigint, q.bytes_total)"
    " WHERE q.id = $1::uuid AND q.status = 'RUNNING' AND q.worker = $2"
    " AND q.attempt = $3::integer"
    " AND q.heartbeat_at > " PG_NOW("$9") " - $4::bigint * interval '1 millisecond'"
    " AND NOT EXISTS (SELECT 1 FROM stg_import_resources x WHERE x.job_id = q.id"
    " AND x.expires_at <= " PG_NOW("$9") ")"
    " RETURNING q.id, q.cancel_requested),"
    " renewed AS (UPDATE stg_import_resources l"
    " SET expires_at = " PG_NOW("$9") " + $4::bigint * interval '1 millisecond'"
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
    char attempt_text[16], lease[24], rows[24], bytes[24], total[24], now[TIME_RFC3339_LEN];
    snprintf(attempt_text, sizeof(attempt_text), "%d", attempt);
    snprintf(lease, sizeof(lease), "%" PRId64, lease_ms);
    if (progress) {
        snprintf(rows, sizeof(rows), "%" PRId64, progress->rows_read);
        snprintf(bytes, sizeof(bytes), "%" PRId64, progress->bytes_read);
        snprintf(total, sizeof(total), "%" PRId64, progress->bytes_total);
    }
    const char *values[9] = {job_id,
                             worker,
                             attempt_text,
                             lease,
                             progress && progress->phase[0] ? progress->phase : NULL,
                             progress ? rows : NULL,
                             progress ? bytes : NULL,
                             progress ? total : NULL,
                             pg_clock_param(ps, now)};
    PGresult *res;
    int rc = pg_exec(ps, "renewing a heartbeat", heartbeat_sql, 9, values, &res, err);
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
