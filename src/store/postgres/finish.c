/*
 * postgres/finish.c - ending an attempt on PostgreSQL: job_finish (the
 * worker reports COMPLETED, FAILED or CANCELLED), the same step inside a
 * load's transaction (finish_on_commit, via pg_finish_attempt) and
 * jobs_rescue (a lost worker's attempt ends FAILED with worker_lost).
 *
 * Ending an attempt, in one transaction: the job row is locked and must
 * still be RUNNING under the reporting worker and attempt (the fence);
 * the attempt is appended to the job's history, its locks are deleted
 * (and copied to importq_lock_history with how long the job waited for
 * each), its phase timings, its queue time and its lock wait go to
 * stg_import_performance, and the job moves on
 * as job_attempt_outcome (common/job_rules.c) decides, for both backends:
 *   COMPLETED             -> COMPLETED; every waiting dependant has one
 *                            dependency less to wait for
 *   FAILED, retry_at set,
 *   attempts left         -> QUEUED again, available at retry_at, the
 *                            attempt's error kept on the job
 *   FAILED otherwise      -> FAILED; waiting dependants fail transitively
 *   CANCELLED             -> CANCELLED; likewise
 * then the audit rows, and NOTIFY importq so idle workers look again.
 * A cancel requested during the attempt suppresses the retry: the user
 * asked the job to stop, so it is not started again by itself.
 *
 * Lock order (postgres/internal.h): PG_LOCK_JOB_GRAPH first (shared
 * when the attempt completed, and then only when the job has dependants:
 * "The graph lock of a completion" below), then the job row, then its dependants in id order, then the audit chain.
 * Times of the attempt come from the database clock (statement_timestamp(),
 * since a finish-on-commit runs at the end of a long load transaction
 * whose now() is its beginning), or an injected clock's (PG_STATEMENT_NOW).
 */
#include "store/postgres/internal.h"

#include "core/job.h"
#include "core/timeutil.h"
#include "core/uuid7.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESCUE_BATCH 100

/* ------------------------------------------------------------------ */
/* Deciding and recording                                              */
/* ------------------------------------------------------------------ */

/*
 * decide_outcome - where the attempt leads (job_attempt_outcome; job may
 * be NULL for COMPLETED, which does not depend on it); IQ_E_INVALID for
 * a status an attempt cannot end in.
 */
static int decide_outcome(const struct job *job, const struct job_finish *finish,
                          struct attempt_outcome *out, struct iq_error *err)
{
    return job_attempt_outcome(job, finish, NULL, out, err);
}

/*
 * phases_json_text - the phase timings as a JSON array of {phase,
 * started_at, duration_ms, rows, bytes} for jsonb_to_recordset. Negative
 * durations become 0. Caller frees; NULL on OOM.
 */
static char *phases_json_text(const struct job_finish *finish)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < finish->phase_count; i++) {
        const struct phase_timing *p = &finish->phases[i];
        char started[TIME_RFC3339_LEN];
        json_t *item =
            json_pack("{s:s,s:s,s:I,s:I,s:I}", "phase", p->phase ? p->phase : "", "started_at",
                      time_format_rfc3339(p->started_at_ms, started), "duration_ms",
                      (json_int_t)(p->duration_ms > 0 ? p->duration_ms : 0), "rows",
                      (json_int_t)p->rows, "bytes", (json_int_t)p->bytes);
        if (!item || json_array_append_new(array, item) < 0) {
            json_decref(array);
            return NULL;
        }
    }
    char *text = array ? json_dumps(array, JSON_COMPACT) : NULL;
    json_decref(array);
    return text;
}

/*
 * record_changes - the columns STMT_RECORD_ATTEMPT sets on the job row:
 * it returns their values from before beside the job after.
 */
static const enum job_column record_changes[] = {
    JOBCOL_STATUS,        JOBCOL_ATTEMPTS,      JOBCOL_ERROR,         JOBCOL_AVAILABLE_AT,
    JOBCOL_FINISHED_AT,   JOBCOL_WORKER,        JOBCOL_PROGRESS_PHASE, JOBCOL_ROWS_READ,
    JOBCOL_ROWS_INSERTED, JOBCOL_ROWS_UPDATED,  JOBCOL_ROWS_REJECTED, JOBCOL_UPDATED_AT};
#define RECORD_CHANGES (sizeof(record_changes) / sizeof(record_changes[0]))

/*
 * The graph lock of a completion, only when the job has dependants.
 *
 * A COMPLETED report takes PG_LOCK_JOB_GRAPH (shared) only to release its
 * dependants: it keeps out every transaction that could hold a
 * dependant's row while waiting for this job's (an update, a creation,
 * an execute: they read their dependencies FOR SHARE under the lock,
 * exclusively), so locking the dependants cannot close a cycle. A job
 * without dependants locks none, so its completion needs no graph lock:
 * pg_finish_graph_sql, sent where the lock was, takes the lock only when
 * the job has a dependency edge, and notes which way it went in the
 * transaction-local setting FINISH_GRAPH_SETTING ('shared' or 'none');
 * the record statement releases dependants only when it is not 'none'.
 *
 * A dependant added concurrently (a submission or an update with
 * depends_on this job, or an execute recounting: each reads this job
 * FOR SHARE, under the graph lock, and counts it pending while it is not
 * COMPLETED, then commits the edge and the count together) is still
 * handled. The record statement locks this job's row FOR UPDATE, so
 * such a transaction either
 *   - took its FOR SHARE first: then the record waits for it to commit,
 *     and pg_finish_late_sql, the next statement (a new snapshot, taken
 *     after the row lock was granted), sees its edge; or
 *   - comes after: it waits for this commit and then reads the job
 *     COMPLETED, so it does not count it (nothing to release).
 * pg_finish_late_sql finds the first case (setting 'none', yet a HELD or
 * QUEUED dependant) and then tries the graph lock without waiting: the
 * row is held, and an exclusive holder may be waiting for it. Granted
 * (nobody holds it exclusively, so nobody holds a dependant's row while
 * waiting for ours), those dependants are released by pg_finish_late_sql's
 * companion, release_late_sql. Refused (an exclusive holder right now,
 * which a race within a race), the finish fails with IQ_E_UNAVAILABLE and
 * changes nothing: job_finish then starts over taking the lock first, as
 * every finish did before; a load's finish-on-commit fails the attempt,
 * which is retried.
 */
#define FINISH_GRAPH_SETTING "importq.finish_graph"

/* $1 the job id. Prepared as STMT_FINISH_GRAPH. The CASE evaluates the
 * lock's subquery only when the job has an edge. */
const char pg_finish_graph_sql[] =
    "SELECT set_config('" FINISH_GRAPH_SETTING "', CASE WHEN EXISTS (SELECT 1 FROM importq_job_deps e"
    " WHERE e.depends_on_id = $1::uuid) THEN (SELECT 'shared' FROM pg_advisory_xact_lock_shared("
    PG_LOCK_JOB_GRAPH ")) ELSE 'none' END, true)";

/* $1 the job id. Prepared as STMT_FINISH_LATE. NULL: nothing was missed;
 * true: dependants were, and the graph lock is now held; false: they
 * were, and the lock is held exclusively elsewhere. */
const char pg_finish_late_sql[] =
    "SELECT CASE WHEN current_setting('" FINISH_GRAPH_SETTING "', true) = 'none' AND EXISTS ("
    "SELECT 1 FROM importq_job_deps e JOIN stg_import_queue d ON d.id = e.job_id"
    " WHERE e.depends_on_id = $1::uuid AND d.status IN ('HELD', 'QUEUED'))"
    " THEN pg_try_advisory_xact_lock_shared(" PG_LOCK_JOB_GRAPH ") END";

/* The late dependants of job $1 one dependency less to wait for, as the
 * record statement's released step does; $2 updated_at. */
static const char release_late_sql[] =
    "UPDATE stg_import_queue q SET deps_pending = greatest(q.deps_pending - 1, 0),"
    " updated_at = " PG_NEXT_UPDATED_AT("$2", "q.updated_at")
    " FROM (SELECT d.id FROM importq_job_deps e JOIN stg_import_queue d ON d.id = e.job_id"
    " WHERE e.depends_on_id = $1::uuid AND d.status IN ('HELD', 'QUEUED')"
    " ORDER BY d.id FOR UPDATE OF d) s WHERE q.id = s.id";

/*
 * release_late - after pg_finish_late_sql answered late (its one value):
 * release the dependants it found, or IQ_E_UNAVAILABLE when the graph
 * lock could not be had (*ret_busy set).
 */
static int release_late(struct pg_store *ps, const char *job_id, const PGresult *late,
                        bool *ret_busy, struct iq_error *err)
{
    if (PQntuples(late) != 1 || PQgetisnull(late, 0, 0))
        return 0;
    if (strcmp(PQgetvalue(late, 0, 0), "t") != 0) {
        *ret_busy = true;
        return iq_error_set(err, IQ_E_UNAVAILABLE,
                            "job %s gained a dependant while it completed and the job graph"
                            " is busy: try again",
                            job_id);
    }
    char now[TIME_RFC3339_LEN];
    const char *values[2] = {job_id, time_format_rfc3339(pg_now_ms(ps), now)};
    return pg_exec(ps, "releasing the dependants", release_late_sql, 2, values, NULL, err);
}

/*
 * pg_record_attempt_sql - one statement (prepared as STMT_RECORD_ATTEMPT)
 * that moves the job on and records the attempt: the job row (history
 * entry, error, counters, status), deleting its locks, inserting its
 * phase timings, with $15 (a COMPLETED job) every HELD/QUEUED dependant
 * one dependency less to wait for, and NOTIFY importq; returns the job
 * row. Parameters: $1 id, $2 status, $3 attempt status, $4 error, $5
 * available_at (NULL: unchanged), $6 finished (bool), $7 phase, $8..$11
 * rows read/inserted/updated/rejected, $12 phases JSON, $13 node, $14
 * updated_at, $15 release dependants (bool), $16 worker and $17 attempt:
 * the fence, so nothing changes (no row) unless the job is still RUNNING
 * under that worker and attempt. The job row is locked (FOR UPDATE) by
 * the statement itself, and beside the job as it is now come the values
 * its record_changes columns had before (pg_decode_change), all an audit
 * row of changed fields needs: a COMPLETED report reads no row first.
 *
 * The dependants are locked in id order before they are updated, so two
 * dependencies completing at once (fan-in) queue up on the shared
 * dependant and both decrements count. FAILED/CANCELLED dependants are
 * left alone: execute recounts their dependencies. A completion that did
 * not take the graph lock (FINISH_GRAPH_SETTING 'none', see "The graph
 * lock of a completion") releases none here. Caller frees; NULL on OOM.
 */
char *pg_record_attempt_sql(const char *select_list)
{
    struct sql_text sql = {0};
    pg_sql_append(
        &sql,
        "WITH job AS (UPDATE stg_import_queue q SET status = $2,"
        " attempts = q.attempts || jsonb_build_array(jsonb_build_object("
        "'attempt', q.attempt, 'worker', q.worker,"
        " 'started_at', to_char(q.started_at AT TIME ZONE 'UTC', " PG_TIME_FORMAT "),"
        " 'finished_at',"
        " to_char(" PG_STATEMENT_NOW("$18") " AT TIME ZONE 'UTC', " PG_TIME_FORMAT "),"
        " 'status', $3::text, 'error', $4::jsonb)),"
        " error = $4::jsonb, available_at = coalesce($5::timestamptz, q.available_at),"
        " finished_at = CASE WHEN $6::boolean THEN " PG_STATEMENT_NOW("$18") " END,"
        " worker = NULL, progress_phase = $7, rows_read = $8::bigint,"
        " rows_inserted = $9::bigint, rows_updated = $10::bigint, rows_rejected = $11::bigint,"
        " updated_at = " PG_NEXT_UPDATED_AT("$14", "q.updated_at") " FROM (SELECT x.id");
    for (size_t i = 0; i < RECORD_CHANGES; i++) {
        pg_sql_append(&sql, ", ");
        pg_append_job_column(&sql, record_changes[i], "x");
        pg_sql_append(&sql, " AS old_%zu", i);
    }
    pg_sql_append(
        &sql,
        " FROM stg_import_queue x WHERE x.id = $1::uuid FOR UPDATE) o"
        " WHERE q.id = $1::uuid AND q.id = o.id AND q.status = 'RUNNING' AND q.worker = $16"
        " AND q.attempt = $17::integer RETURNING q.*");
    for (size_t i = 0; i < RECORD_CHANGES; i++)
        pg_sql_append(&sql, ", o.old_%zu", i);
    pg_sql_append(
        &sql,
        "),"
        " freed AS (DELETE FROM stg_import_resources l WHERE l.job_id IN (SELECT id FROM job)"
        " RETURNING l.*),"
        " held AS (" PG_LOCK_HISTORY_INSERT("least(" PG_STATEMENT_NOW("$18") ", f.expires_at)", "finished", "job")
        " RETURNING waited_ms),");
    /* The attempt's available_at as it was (a retry's finish sets a new one). */
    char available[48] = "job.available_at";
    for (size_t i = 0; i < RECORD_CHANGES; i++)
        if (record_changes[i] == JOBCOL_AVAILABLE_AT)
            snprintf(available, sizeof(available), "(job.old_%zu)::timestamptz", i);
    pg_sql_append(
        &sql,
        " timed AS (INSERT INTO stg_import_performance (job_id, attempt, target_table, phase,"
        " started_at, duration_ms, rows, bytes, node, outcome)"
        " SELECT job.id, job.attempt, job.target_table, p.phase, p.started_at, p.duration_ms,"
        " coalesce(p.rows, 0), coalesce(p.bytes, 0), $13, $3 FROM job, jsonb_to_recordset($12::jsonb)"
        " AS p(phase text, started_at timestamptz, duration_ms bigint, rows bigint, bytes bigint)"
        " UNION ALL SELECT job.id, job.attempt, job.target_table, w.phase, w.at, w.ms, 0, 0, $13, $3"
        " FROM job CROSS JOIN LATERAL"
        " (VALUES ('queued', coalesce(job.ready_at, job.started_at),"
        " greatest(0, round(extract(epoch FROM job.started_at"
        " - coalesce(job.ready_at, job.started_at)) * 1000))::bigint),"
        " ('lock_wait', coalesce(job.ready_at, job.started_at),"
        " (SELECT coalesce(max(waited_ms), 0) FROM held)),"
        " ('dependency_wait', %s, coalesce((SELECT greatest(0, round(extract(epoch FROM"
        " least(coalesce(max(d.finished_at), %s), job.started_at) - %s) * 1000))::bigint"
        " FROM importq_job_deps e JOIN stg_import_queue d ON d.id = e.depends_on_id"
        " WHERE e.job_id = job.id), 0))) AS w(phase, at, ms)"
        " WHERE job.started_at IS NOT NULL AND (w.phase = 'queued' OR w.ms > 0)),",
        available, available, available);
    pg_sql_append(
        &sql,
        " released AS (UPDATE stg_import_queue q SET deps_pending = greatest(q.deps_pending - 1, 0),"
        " updated_at = " PG_NEXT_UPDATED_AT("$14", "q.updated_at")
        " FROM (SELECT d.id FROM importq_job_deps e"
        " JOIN stg_import_queue d ON d.id = e.job_id"
        " WHERE $15::boolean"
        " AND current_setting('" FINISH_GRAPH_SETTING "', true) IS DISTINCT FROM 'none'"
        " AND e.depends_on_id IN (SELECT id FROM job)"
        " AND d.status IN ('HELD', 'QUEUED')"
        " ORDER BY d.id FOR UPDATE OF d) s WHERE q.id = s.id)"
        " SELECT %s",
        select_list);
    for (size_t i = 0; i < RECORD_CHANGES; i++)
        pg_sql_append(&sql, ", q.old_%zu", i);
    pg_sql_append(&sql, ", pg_notify('" PG_NOTIFY_CHANNEL "', 'finished') FROM job q");
    return pg_sql_take(&sql);
}

/* The parameters of STMT_RECORD_ATTEMPT for one report, and what they own. */
struct record_values {
    const char *values[18];
    char *phases, *error;
    char available[TIME_RFC3339_LEN], now[TIME_RFC3339_LEN], clock[TIME_RFC3339_LEN];
    char attempt[16];
    char counts[4][24];
};

static void record_values_clear(struct record_values *v)
{
    free(v->phases);
    free(v->error);
    v->phases = v->error = NULL;
}

/* record_values_fill - STMT_RECORD_ATTEMPT's parameters for finish and outcome. */
static int record_values_fill(struct pg_store *ps, struct record_values *v,
                              const struct job_finish *finish,
                              const struct attempt_outcome *outcome, struct iq_error *err)
{
    v->phases = phases_json_text(finish);
    v->error = NULL;
    int rc = v->phases ? job_attempt_error_text(finish, &v->error, err)
                       : iq_error_set(err, IQ_E_NOMEM, "out of memory");
    if (rc < 0)
        return rc;
    const struct job_result *r = &finish->result;
    snprintf(v->counts[0], sizeof(v->counts[0]), "%" PRId64, r->rows_read);
    snprintf(v->counts[1], sizeof(v->counts[1]), "%" PRId64, r->rows_inserted);
    snprintf(v->counts[2], sizeof(v->counts[2]), "%" PRId64, r->rows_updated);
    snprintf(v->counts[3], sizeof(v->counts[3]), "%" PRId64, r->rows_rejected);
    snprintf(v->attempt, sizeof(v->attempt), "%d", finish->attempt);
    const char *values[18] = {
        finish->job_id,
        job_status_name(outcome->status),
        job_status_name(outcome->attempt_status),
        v->error,
        outcome->retry ? time_format_rfc3339(finish->retry_at_ms, v->available) : NULL,
        outcome->retry ? "f" : "t",
        outcome->retry ? "queued" : "done",
        v->counts[0],
        v->counts[1],
        v->counts[2],
        v->counts[3],
        v->phases,
        finish->node_id,
        time_format_rfc3339(pg_now_ms(ps), v->now),
        outcome->release_dependants ? "t" : "f",
        finish->worker,
        v->attempt,
        pg_clock_param(ps, v->clock),
    };
    memcpy(v->values, values, sizeof(values));
    return 0;
}

/*
 * recorded_job - the job STMT_RECORD_ATTEMPT returned (job_free); no row
 * means the fence did not hold: IQ_E_STALE.
 */
static int recorded_job(const PGresult *res, const struct job_finish *finish,
                        struct job **ret_job, struct iq_error *err)
{
    *ret_job = NULL;
    struct job **jobs = NULL;
    size_t found = 0;
    int rc = pg_decode_rows(res, 1, &jobs, &found, err);
    if (rc == 0 && found == 1)
        *ret_job = jobs[0];
    else if (rc == 0)
        rc = iq_error_set(err, IQ_E_STALE, "job %s is no longer ours (worker %s, attempt %d)",
                          finish->job_id, finish->worker, finish->attempt);
    free(jobs);
    return rc;
}

/* record_attempt - run STMT_RECORD_ATTEMPT. *ret_job is the job now (job_free). */
static int record_attempt(struct pg_store *ps, const struct job_finish *finish,
                          const struct attempt_outcome *outcome, struct job **ret_job,
                          struct iq_error *err)
{
    *ret_job = NULL;
    struct record_values v;
    int rc = record_values_fill(ps, &v, finish, outcome, err);
    PGresult *res = NULL;
    if (rc == 0)
        rc = pg_exec_prepared(ps, "recording an attempt", STMT_RECORD_ATTEMPT, v.values, &res,
                              err);
    record_values_clear(&v);
    if (rc == 0)
        rc = recorded_job(res, finish, ret_job, err);
    PQclear(res);
    return rc;
}

/* check_finish - what a report needs before any SQL. */
static int check_finish(const struct job_finish *finish, struct iq_error *err)
{
    if (!finish || !finish->worker)
        return iq_error_set(err, IQ_E_INVALID, "a finish needs a job and a worker");
    if (!finish->job_id || !uuid_is_valid(finish->job_id))
        return iq_error_set(err, IQ_E_STALE, "job %s is no longer ours (not a job id)",
                            finish->job_id ? finish->job_id : "(null)");
    if (finish->phase_count > 0 && !finish->phases)
        return iq_error_set(err, IQ_E_INVALID, "phase_count without phases");
    return 0;
}

/*
 * fenced_job - the job row read FOR UPDATE (steps' result), which must be
 * ours (IQ_E_STALE otherwise). *ret_job: job_free.
 */
static int fenced_job(const PGresult *res, const struct job_finish *finish, struct job **ret_job,
                      struct iq_error *err)
{
    *ret_job = NULL;
    struct job **jobs = NULL;
    size_t found = 0;
    int rc = pg_decode_rows(res, 1, &jobs, &found, err);
    if (rc == 0 && found == 1)
        *ret_job = jobs[0];
    free(jobs);
    if (rc == 0 && !*ret_job)
        return iq_error_set(err, IQ_E_STALE, "job %s is no longer ours (no such job)",
                            finish->job_id);
    return rc == 0 ? job_attempt_check_owner(*ret_job, finish, err) : rc;
}

/*
 * recorded_change - a COMPLETED report's record (no row read first): the
 * job before and after (job_free both); no row means the fence did not
 * hold: IQ_E_STALE.
 */
static int recorded_change(const PGresult *res, const struct job_finish *finish,
                           struct job **ret_before, struct job **ret_after, struct iq_error *err)
{
    int rc = pg_decode_change(res, record_changes, RECORD_CHANGES, ret_before, ret_after, err);
    if (rc == 0 && !*ret_after)
        rc = iq_error_set(err, IQ_E_STALE, "job %s is no longer ours (worker %s, attempt %d)",
                          finish->job_id, finish->worker, finish->attempt);
    return rc;
}

/*
 * lock_and_record - in one round trip (after PG_LOCK_JOB_GRAPH when
 * lock_graph): for a COMPLETED report, whose outcome does not depend on
 * the row, the fenced record itself, which locks the row and returns it
 * before and after; for any other report the job row FOR UPDATE, which
 * must be ours, to decide the outcome from (recorded next). Fills
 * *ret_before, *ret_outcome and, when recorded here, *ret_after
 * (job_free both).
 */
static int lock_and_record(struct pg_store *ps, const struct job_finish *finish, bool lock_graph,
                           bool begin, struct job **ret_before,
                           struct attempt_outcome *ret_outcome, struct job **ret_after,
                           bool *ret_busy, struct iq_error *err)
{
    *ret_before = *ret_after = NULL;
    struct record_values v = {0};
    bool completed = finish->status == JOB_COMPLETED;
    bool if_dependants = lock_graph && completed; /* "The graph lock of a completion" */
    int rc = completed ? decide_outcome(NULL, finish, ret_outcome, err) : 0;
    if (rc == 0 && completed)
        rc = record_values_fill(ps, &v, finish, ret_outcome, err);
    const char *id[1] = {finish->job_id};
    struct pg_step steps[4];
    size_t n = 0;
    if (begin) {
        pg_audit_tail_reset(ps);
        steps[n++] = (struct pg_step){.what = "starting a finish", .stmt = STMT_NONE, .sql = "BEGIN"};
    }
    if (if_dependants)
        steps[n++] = (struct pg_step){.what = "locking the job graph",
                                      .stmt = STMT_FINISH_GRAPH,
                                      .values = id};
    else if (lock_graph)
        steps[n++] = (struct pg_step){.what = "locking the job graph",
                                      .stmt = STMT_NONE,
                                      .sql = pg_graph_lock_sql(finish)};
    size_t main_step = n;
    if (completed)
        steps[n++] = (struct pg_step){.what = "recording an attempt",
                                      .stmt = STMT_RECORD_ATTEMPT,
                                      .values = v.values};
    else
        steps[n++] = (struct pg_step){.what = "reading a job",
                                      .stmt = STMT_JOB_GET_FOR_UPDATE,
                                      .values = id};
    size_t late_step = n;
    if (if_dependants)
        steps[n++] = (struct pg_step){.what = "looking for late dependants",
                                      .stmt = STMT_FINISH_LATE,
                                      .values = id};
    if (rc == 0)
        rc = pg_exec_pipeline(ps, steps, n, err);
    if (rc == 0 && completed)
        rc = recorded_change(steps[main_step].res, finish, ret_before, ret_after, err);
    else if (rc == 0)
        rc = fenced_job(steps[main_step].res, finish, ret_before, err);
    if (rc == 0 && if_dependants)
        rc = release_late(ps, finish->job_id, steps[late_step].res, ret_busy, err);
    if (rc == 0 && !completed)
        rc = decide_outcome(*ret_before, finish, ret_outcome, err);
    for (size_t i = 0; i < n; i++)
        PQclear(steps[i].res);
    record_values_clear(&v);
    return rc;
}

/*
 * finish_attempt - pg_finish_attempt, taking PG_LOCK_JOB_GRAPH itself in
 * its first round trip when lock_graph (a completion: only when the job
 * has dependants), after BEGIN when begin. *ret_busy (may be NULL): set
 * when it failed for want of the graph lock (release_late).
 */
static int finish_attempt(struct pg_store *ps, const struct job_finish *finish, bool lock_graph,
                          bool begin, const char *action, const struct audit_context *actx,
                          struct job **ret_job, bool *ret_busy, struct iq_error *err)
{
    bool busy = false;
    if (ret_busy)
        *ret_busy = false;
    else
        ret_busy = &busy;
    struct job *before = NULL, *after = NULL;
    struct pg_rule_tx tx = {.ps = ps};
    struct job_cascade cascade = {0};
    struct attempt_outcome outcome = {0};
    if (ret_job)
        *ret_job = NULL;
    int rc = check_finish(finish, err);
    if (rc == 0)
        rc = lock_and_record(ps, finish, lock_graph, begin, &before, &outcome, &after, ret_busy,
                             err);
    if (rc == 0 && !after)
        rc = record_attempt(ps, finish, &outcome, &after, err);
    if (rc == 0 && outcome.fail_dependants)
        rc = job_rule_fail_dependants(&pg_job_primitives, &tx, before->id, outcome.status,
                                      pg_now_ms(ps), &cascade, err);
    if (rc == 0)
        rc = pg_orchestrations_refresh(ps, after, &cascade, err);
    if (rc == 0)
        rc = pg_audit_job_change(ps, actx, action ? action : outcome.action, before, after, err);
    if (rc == 0)
        rc = job_rule_audit_cascade(&pg_job_primitives, &tx, actx, &cascade, 0, err);
    job_cascade_clear(&cascade);
    job_free(before);
    if (rc == 0 && ret_job)
        *ret_job = after;
    else
        job_free(after);
    return rc;
}

/*
 * pg_finish_attempt - see postgres/internal.h. Inside the caller's
 * transaction, PG_LOCK_JOB_GRAPH held.
 */
int pg_finish_attempt(struct pg_store *ps, const struct job_finish *finish, const char *action,
                      const struct audit_context *actx, struct job **ret_job, struct iq_error *err)
{
    return finish_attempt(ps, finish, false, false, action, actx, ret_job, NULL, err);
}

/* pg_finish_attempt_locking - see postgres/internal.h. */
int pg_finish_attempt_locking(struct pg_store *ps, const struct job_finish *finish,
                              const struct audit_context *actx, struct iq_error *err)
{
    return finish_attempt(ps, finish, true, false, NULL, actx, NULL, NULL, err);
}

/*
 * pg_job_finish - see store_ops.job_finish. One transaction:
 * PG_LOCK_JOB_GRAPH, then pg_finish_attempt. A COMPLETED report sends
 * BEGIN, the graph lock if the job has dependants and the record in one
 * round trip ("The graph lock of a completion"); in the rare case that
 * it then cannot have the lock for a late dependant it starts over,
 * taking the lock (shared) first. Any other report takes the lock
 * exclusively with BEGIN. Returns 0 and the job as it
 * is now (job_free; ret_job may be NULL), IQ_E_STALE when the job is not
 * ours any more (nothing changed), IQ_E_INVALID for a status an attempt
 * cannot end in.
 */
int pg_job_finish(struct store *s, const struct job_finish *finish,
                  const struct audit_context *actx, struct job **ret_job, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    struct job *job = NULL;
    if (ret_job)
        *ret_job = NULL;
    int rc = check_finish(finish, err);
    if (rc < 0)
        return rc;
    bool busy = false;
    if (finish->status == JOB_COMPLETED) {
        rc = finish_attempt(ps, finish, true, true, NULL, actx, &job, &busy, err);
        rc = pg_tx_finish(ps, rc, err);
        if (rc == 0 || !busy)
            goto done;
        iq_error_clear(err);
    }
    rc = pg_tx_begin_with(ps, "starting a finish", pg_graph_lock_sql(finish), err);
    if (rc == 0)
        rc = pg_finish_attempt(ps, finish, NULL, actx, &job, err);
    rc = pg_tx_finish(ps, rc, err);
done:
    if (rc == 0 && ret_job)
        *ret_job = job;
    else
        job_free(job);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Rescue                                                              */
/* ------------------------------------------------------------------ */

/* What rescue needs to know about one lost job. */
struct lost_job {
    char id[UUID_STR_LEN];
    char worker[256];
    int attempt;
    int max_attempts;
};

/*
 * stale_job_ids - up to RESCUE_BATCH RUNNING jobs whose heartbeat is older
 * than the lease, oldest first (the partial index on running jobs'
 * heartbeats). No locks: each is re-checked under its row lock.
 * *ret_res holds one id a row (caller PQclears).
 */
static int stale_job_ids(struct pg_store *ps, const char *lease, PGresult **ret_res,
                         struct iq_error *err)
{
    char batch[16];
    snprintf(batch, sizeof(batch), "%d", RESCUE_BATCH);
    char now[TIME_RFC3339_LEN];
    const char *values[3] = {lease, batch, pg_clock_param(ps, now)};
    return pg_exec(ps, "finding lost jobs",
                   "SELECT id::text FROM stg_import_queue WHERE status = 'RUNNING'"
                   " AND heartbeat_at < " PG_NOW("$3") " - $1::bigint * interval '1 millisecond'"
                   " ORDER BY heartbeat_at LIMIT $2::integer",
                   3, values, ret_res, err);
}

/*
 * lock_lost_job - lock job id if it is still RUNNING with a stale
 * heartbeat and nobody else holds its row (SKIP LOCKED: a second rescuer,
 * or the worker finishing right now, makes us leave it). Returns 1 and
 * fills *ret, 0 when the job is not ours to rescue, or an error.
 */
static int lock_lost_job(struct pg_store *ps, const char *id, const char *lease,
                         struct lost_job *ret, struct iq_error *err)
{
    char now[TIME_RFC3339_LEN];
    const char *values[3] = {id, lease, pg_clock_param(ps, now)};
    PGresult *res;
    int rc = pg_exec(ps, "locking a lost job",
                     "SELECT coalesce(worker, ''), attempt, max_attempts FROM stg_import_queue"
                     " WHERE id = $1::uuid AND status = 'RUNNING'"
                     " AND heartbeat_at < " PG_NOW("$3") " - $2::bigint * interval '1 millisecond'"
                     " FOR UPDATE SKIP LOCKED",
                     3, values, &res, err);
    if (rc < 0)
        return rc;
    int found = PQntuples(res) == 1;
    if (found) {
        snprintf(ret->id, sizeof(ret->id), "%s", id);
        snprintf(ret->worker, sizeof(ret->worker), "%s", PQgetvalue(res, 0, 0));
        ret->attempt = (int)pg_text_to_int64(PQgetvalue(res, 0, 1));
        ret->max_attempts = (int)pg_text_to_int64(PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return found;
}

/*
 * rescue_locked - end the lost job's attempt as job_rescue_finish says
 * (FAILED worker_lost, re-queued after backoff_cb(attempt) when attempts
 * remain).
 */
static int rescue_locked(struct pg_store *ps, const struct lost_job *lost, int64_t lease_ms,
                         retry_backoff_cb backoff_cb, void *backoff_ctx,
                         const struct audit_context *actx, struct iq_error *err)
{
    struct rescue_report report;
    job_rescue_finish(lost->id, lost->worker, lost->attempt, lost->max_attempts, lease_ms,
                      backoff_cb, backoff_ctx, pg_now_ms(ps), &report);
    return pg_finish_attempt(ps, &report.finish, "job.rescued", actx, NULL, err);
}

/*
 * rescue_one - one lost job in its own transaction (PG_LOCK_JOB_GRAPH, its
 * row, its dependants: the finish lock order; one job per transaction so
 * the dependants of different jobs are never locked out of id order).
 * Returns 1 when rescued, 0 when it was no longer lost, or an error.
 */
static int rescue_one(struct pg_store *ps, const char *id, int64_t lease_ms, const char *lease,
                      retry_backoff_cb backoff_cb, void *backoff_ctx,
                      const struct audit_context *actx, struct iq_error *err)
{
    struct lost_job lost;
    int rc = pg_tx_begin_locked(ps, PG_LOCK_JOB_GRAPH, err);
    int found = rc == 0 ? lock_lost_job(ps, id, lease, &lost, err) : 0;
    if (found < 0)
        rc = found;
    if (rc == 0 && found)
        rc = rescue_locked(ps, &lost, lease_ms, backoff_cb, backoff_ctx, actx, err);
    rc = pg_tx_finish(ps, rc, err);
    return rc < 0 ? rc : found;
}

/*
 * delete_expired_locks - drop every lock whose lease lapsed (a lost
 * worker's, or one left behind); NOTIFY when any went, as the resources
 * are free now. Autocommit.
 */
static int delete_expired_locks(struct pg_store *ps, struct iq_error *err)
{
    char now[TIME_RFC3339_LEN];
    const char *values[1] = {pg_clock_param(ps, now)};
    PGresult *res;
    int rc = pg_exec(ps, "deleting expired locks",
                     "WITH freed AS (DELETE FROM stg_import_resources WHERE expires_at <= "
                     PG_NOW("$1") " RETURNING *),"
                     " held AS (" PG_LOCK_HISTORY_INSERT("f.expires_at", "expired",
                                                         "stg_import_queue") ")"
                     " SELECT count(*) FROM freed",
                     1, values, &res, err);
    if (rc < 0)
        return rc;
    int64_t deleted = pg_text_to_int64(PQgetvalue(res, 0, 0));
    PQclear(res);
    return deleted > 0 ? pg_notify_work(ps, "locks_expired", err) : 0;
}

/*
 * pg_jobs_rescue - see store_ops.jobs_rescue. Looks at up to RESCUE_BATCH
 * lost jobs per call, each rescued in its own transaction (so a failure
 * keeps the rescues before it), then deletes expired locks.
 * *ret_rescued = jobs rescued by this call.
 */
int pg_jobs_rescue(struct store *s, int64_t lease_ms, retry_backoff_cb backoff_cb,
                   void *backoff_ctx, const struct audit_context *actx, int *ret_rescued,
                   struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    int rescued = 0;
    if (ret_rescued)
        *ret_rescued = 0;
    if (lease_ms <= 0)
        return iq_error_set(err, IQ_E_INVALID, "the lease must be positive");
    char lease[24];
    snprintf(lease, sizeof(lease), "%" PRId64, lease_ms);
    PGresult *ids;
    int rc = stale_job_ids(ps, lease, &ids, err);
    if (rc < 0)
        return rc;
    for (int i = 0; rc == 0 && i < PQntuples(ids); i++) {
        int one = rescue_one(ps, PQgetvalue(ids, i, 0), lease_ms, lease, backoff_cb, backoff_ctx,
                             actx, err);
        if (one < 0)
            rc = one;
        else
            rescued += one;
    }
    PQclear(ids);
    if (rc == 0)
        rc = delete_expired_locks(ps, err);
    if (ret_rescued)
        *ret_rescued = rescued;
    return rc;
}
