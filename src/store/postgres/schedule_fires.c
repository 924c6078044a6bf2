/*
 * postgres/schedule_fires.c - firing scheduled imports on PostgreSQL: the
 * transaction of a fire around schedule_rule_fire (common/schedule_rules.c)
 * and the primitives it drives; the due schedules; the fire history; the
 * scheduler's lead. Schedules themselves are created and changed elsewhere.
 *
 * A fire runs under PG_LOCK_JOB_GRAPH, exclusively, as a job creation does
 * (it is one): fires of every node and every submission are serialised,
 * so the fire row's look-up, the queue's capacity and the overlap
 * decision are exact until COMMIT. Lock order as every importq
 * transaction (postgres/internal.h): the graph lock, then job rows (the
 * schedule's previous job, FOR UPDATE, by job_primitives.read_job), then
 * fire rows, then the schedule's row, then the audit chain. A finishing
 * job's trigger (migration 006) takes its job row, its fire row, then the
 * schedule's row: the same order.
 *
 * The lead: a session advisory lock (PG_LOCK_SCHEDULER) taken without
 * waiting on the scheduler's own connection and kept until that
 * connection ends; a leader that dies loses its connection and with it
 * the lock, and the next node to ask takes it. Nothing else depends on
 * it: two nodes that both believed they led would still fire each time
 * once (UNIQUE (schedule_id, fire_at)).
 */
#include "store/postgres/internal.h"

#include "store/common/schedule_rules.h"

#include "core/timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIME_TEXT(column) "to_char(" column " AT TIME ZONE 'UTC', " PG_TIME_FORMAT ")"

/* time_value - RFC 3339 text of ms in buf, NULL (SQL NULL) for 0. */
static const char *time_value(int64_t ms, char buf[TIME_RFC3339_LEN])
{
    return ms ? time_format_rfc3339(ms, buf) : NULL;
}

/* value_time - a TIME_TEXT value as ms; 0 for NULL. */
static int64_t value_time(const PGresult *res, int row, int column)
{
    int64_t ms = 0;
    if (PQgetisnull(res, row, column) || time_parse_rfc3339(PQgetvalue(res, row, column), &ms) < 0)
        return 0;
    return ms;
}

/* value_dup - a result value copied (NULL for SQL NULL); *ret_ok false on OOM. */
static char *value_dup(const PGresult *res, int row, int column, bool *ret_ok)
{
    if (PQgetisnull(res, row, column))
        return NULL;
    char *copy = strdup(PQgetvalue(res, row, column));
    if (!copy)
        *ret_ok = false;
    return copy;
}

static int nomem(struct iq_error *err)
{
    return iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

/* ------------------------------------------------------------------ */
/* The primitives of the fire rule; backend is a struct pg_rule_tx    */
/* ------------------------------------------------------------------ */

static int primitive_read_schedule(void *backend, const char *id, struct schedule_row *ret,
                                   struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    memset(ret, 0, sizeof(*ret));
    const char *values[1] = {id};
    PGresult *res;
    int rc = pg_exec_cached(
        tx->ps, "reading a schedule",
        "SELECT id::text, cron, timezone, job_spec::text, overlap, enabled,"
        " " TIME_TEXT("next_run_at") ", last_job_id::text"
                                     " FROM stg_scheduled_imports WHERE id = $1::uuid",
        1, values, &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return iq_error_set(err, IQ_E_NOT_FOUND, "schedule %s not found", id);
    }
    bool ok = true;
    snprintf(ret->id, sizeof(ret->id), "%s", PQgetvalue(res, 0, 0));
    ret->cron = value_dup(res, 0, 1, &ok);
    ret->timezone = value_dup(res, 0, 2, &ok);
    ret->job_spec = value_dup(res, 0, 3, &ok);
    ret->overlap = value_dup(res, 0, 4, &ok);
    ret->enabled = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
    ret->next_run_at_ms = value_time(res, 0, 6);
    snprintf(ret->last_job_id, sizeof(ret->last_job_id), "%s", PQgetvalue(res, 0, 7));
    PQclear(res);
    if (!ok || !ret->cron || !ret->overlap) {
        schedule_row_clear(ret);
        return nomem(err);
    }
    return 0;
}

static int primitive_fire_recorded(void *backend, const char *schedule_id, int64_t fire_at_ms,
                                   bool *ret_recorded, struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    char at[TIME_RFC3339_LEN];
    const char *values[2] = {schedule_id, time_format_rfc3339(fire_at_ms, at)};
    PGresult *res;
    int rc = pg_exec_cached(tx->ps, "looking up a fire",
                            "SELECT 1 FROM importq_schedule_fires"
                            " WHERE schedule_id = $1::uuid AND fire_at = $2::timestamptz",
                            2, values, &res, err);
    if (rc < 0)
        return rc;
    *ret_recorded = PQntuples(res) > 0;
    PQclear(res);
    return 0;
}

static int primitive_record_fire(void *backend, const char *schedule_id, int64_t fire_at_ms,
                                 const char *job_id, enum schedule_fire_outcome outcome,
                                 const char *detail, int64_t now_ms, bool *ret_inserted,
                                 struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    char at[TIME_RFC3339_LEN], now[TIME_RFC3339_LEN];
    const char *values[6] = {schedule_id, time_format_rfc3339(fire_at_ms, at),
                             job_id,      schedule_fire_outcome_name(outcome),
                             detail,      time_format_rfc3339(now_ms, now)};
    PGresult *res;
    int rc = pg_exec_cached(tx->ps, "recording a fire",
                            "INSERT INTO importq_schedule_fires (schedule_id, fire_at, job_id,"
                            " outcome, detail, created_at) VALUES ($1::uuid, $2::timestamptz,"
                            " $3::uuid, $4, $5, $6::timestamptz)"
                            " ON CONFLICT (schedule_id, fire_at) DO NOTHING",
                            6, values, &res, err);
    if (rc < 0)
        return rc;
    *ret_inserted = pg_text_to_int64(PQcmdTuples(res)) == 1;
    PQclear(res);
    return 0;
}

static int primitive_advance(void *backend, const struct schedule_advance *adv, bool *ret_updated,
                             struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    char expected[TIME_RFC3339_LEN], next[TIME_RFC3339_LEN], run[TIME_RFC3339_LEN],
        now[TIME_RFC3339_LEN];
    const char *values[8] = {
        adv->id,
        time_value(adv->expected_next_ms, expected),
        adv->set_next ? "t" : "f",
        time_value(adv->next_ms, next),
        adv->job ? adv->job->id : NULL,
        adv->job ? time_value(adv->run_at_ms, run) : NULL,
        adv->job ? job_status_name(adv->job->status) : NULL,
        time_format_rfc3339(adv->now_ms, now),
    };
    const char *fenced_sql =
        "UPDATE stg_scheduled_imports SET"
        " next_run_at = CASE WHEN $3::boolean THEN $4::timestamptz ELSE next_run_at END,"
        " last_run_at = coalesce($6::timestamptz, last_run_at),"
        " last_job_id = coalesce($5::uuid, last_job_id),"
        " last_status = coalesce(lower($7), last_status),"
        " run_count = run_count + ($5::uuid IS NOT NULL)::int,"
        " updated_at = " PG_NEXT_UPDATED_AT(
            "$8",
            "updated_at") " WHERE id = $1::uuid AND enabled AND next_run_at = $2::timestamptz";
    const char *unfenced_sql =
        "UPDATE stg_scheduled_imports SET"
        " next_run_at = CASE WHEN $3::boolean THEN $4::timestamptz ELSE next_run_at END,"
        " last_run_at = coalesce($6::timestamptz, last_run_at),"
        " last_job_id = coalesce($5::uuid, last_job_id),"
        " last_status = coalesce(lower($7), last_status),"
        " run_count = run_count + ($5::uuid IS NOT NULL)::int,"
        " updated_at = " PG_NEXT_UPDATED_AT("$8", "updated_at") " WHERE id = $1::uuid"
                                                                " AND $2::timestamptz IS NULL";
    PGresult *res;
    int rc = pg_exec_cached(tx->ps, "advancing a schedule", adv->fenced ? fenced_sql : unfenced_sql,
                            8, values, &res, err);
    if (rc < 0)
        return rc;
    *ret_updated = pg_text_to_int64(PQcmdTuples(res)) == 1;
    PQclear(res);
    return 0;
}

static int primitive_prune_fires(void *backend, const char *schedule_id, int keep,
                                 struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    char offset[16];
    snprintf(offset, sizeof(offset), "%d", keep > 0 ? keep - 1 : 0);
    const char *values[2] = {schedule_id, offset};
    return pg_exec_cached(tx->ps, "pruning the fire history",
                          "DELETE FROM importq_schedule_fires WHERE schedule_id = $1::uuid"
                          " AND fire_at < (SELECT fire_at FROM importq_schedule_fires"
                          " WHERE schedule_id = $1::uuid ORDER BY fire_at DESC"
                          " LIMIT 1 OFFSET $2::integer)",
                          2, values, NULL, err);
}

static const struct schedule_fire_primitives pg_schedule_fire_primitives = {
    .read_schedule = primitive_read_schedule,
    .fire_recorded = primitive_fire_recorded,
    .record_fire = primitive_record_fire,
    .advance = primitive_advance,
    .prune_fires = primitive_prune_fires,
};

/* ------------------------------------------------------------------ */
/* The slots                                                           */
/* ------------------------------------------------------------------ */

/* pg_schedule_fire - see store_ops.schedule_fire: one transaction under
 * PG_LOCK_JOB_GRAPH (exclusive). */
int pg_schedule_fire(struct store *s, const struct schedule_fire_request *req,
                     const struct audit_context *actx, struct schedule_fire_result *ret,
                     struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret, 0, sizeof(*ret));
    struct pg_rule_tx tx = {.ps = ps};
    int rc = pg_tx_begin(ps, err);
    if (rc == 0)
        rc = pg_lock_graph(ps, err);
    if (rc == 0)
        rc = schedule_rule_fire(&pg_schedule_fire_primitives, &pg_job_primitives, &tx, req, actx,
                                pg_now_ms(ps), ret, err);
    rc = pg_tx_finish(ps, rc, err);
    pg_rule_tx_clear(&tx);
    if (rc < 0)
        schedule_fire_result_clear(ret);
    return rc;
}

/* read_due - the rows of a due query into ret. */
static int read_due(const PGresult *res, struct schedule_due_list *ret, struct iq_error *err)
{
    int rows = PQntuples(res);
    if (rows == 0)
        return 0;
    ret->items = calloc((size_t)rows, sizeof(*ret->items));
    if (!ret->items)
        return nomem(err);
    for (int i = 0; i < rows; i++) {
        struct schedule_due *due = &ret->items[ret->count++];
        bool ok = true;
        snprintf(due->id, sizeof(due->id), "%s", PQgetvalue(res, i, 0));
        due->cron = value_dup(res, i, 1, &ok);
        due->timezone = value_dup(res, i, 2, &ok);
        due->misfire = value_dup(res, i, 3, &ok);
        due->next_run_at_ms = value_time(res, i, 4);
        due->catch_up_max = PQgetisnull(res, i, 6) ? SCHEDULE_CATCH_UP_MAX_DEFAULT
                                                   : (int)pg_text_to_int64(PQgetvalue(res, i, 6));
        if (!ok || !due->cron || !due->misfire)
            return nomem(err);
    }
    return 0;
}

/* pg_schedules_due - see store_ops.schedules_due; one statement. */
int pg_schedules_due(struct store *s, int64_t now_ms, int limit, struct schedule_due_list *ret,
                     struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    char now[TIME_RFC3339_LEN], count[16];
    snprintf(count, sizeof(count), "%d", limit);
    const char *values[2] = {time_format_rfc3339(now_ms, now), count};
    PGresult *res;
    int rc = pg_exec_cached(
        ps, "listing due schedules",
        "SELECT id::text, cron, timezone, misfire, " TIME_TEXT("next_run_at") ","
        " (SELECT " TIME_TEXT("min(n.next_run_at)") " FROM stg_scheduled_imports n"
        " WHERE n.enabled AND n.next_run_at > $1::timestamptz), catch_up_max"
        " FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT * FROM stg_scheduled_imports"
        " WHERE enabled AND next_run_at <= $1::timestamptz ORDER BY next_run_at, id"
        " LIMIT $2::integer) d ON true",
        2, values, &res, err);
    if (rc < 0)
        return rc;
    /* One row at least (the LEFT JOIN): its id is NULL when nothing is due. */
    if (PQntuples(res) > 0)
        ret->next_ms = value_time(res, 0, 5);
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        rc = read_due(res, ret, err);
    PQclear(res);
    if (rc < 0)
        schedule_due_list_clear(ret);
    return rc;
}

/* read_fire_rows - the first `rows` rows of res (a history page) into ret. */
static int read_fire_rows(const PGresult *res, int rows, struct schedule_fire_page *ret,
                          struct iq_error *err)
{
    if (rows == 0)
        return 0;
    ret->items = calloc((size_t)rows, sizeof(*ret->items));
    if (!ret->items)
        return nomem(err);
    for (int i = 0; i < rows; i++) {
        struct schedule_fire_row *row = &ret->items[ret->count++];
        bool ok = true;
        row->id = pg_text_to_int64(PQgetvalue(res, i, 0));
        row->fire_at_ms = value_time(res, i, 1);
        snprintf(row->job_id, sizeof(row->job_id), "%s", PQgetvalue(res, i, 2));
        int outcome = schedule_fire_outcome_parse(PQgetvalue(res, i, 3));
        row->outcome = outcome < 0 ? SCHEDULE_FIRE_CREATED : (enum schedule_fire_outcome)outcome;
        row->detail = value_dup(res, i, 4, &ok);
        if (!ok)
            return nomem(err);
    }
    return 0;
}

/* pg_schedule_fires_list - see store_ops.schedule_fires_list; one
 * statement (the schedule's existence told by a row with a NULL id). */
int pg_schedule_fires_list(struct store *s, const char *schedule_id, int limit,
                           const struct schedule_fire_cursor *after, struct schedule_fire_page *ret,
                           struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    char at[TIME_RFC3339_LEN], id[24], count[16];
    snprintf(id, sizeof(id), "%" PRId64, after ? after->id : 0);
    snprintf(count, sizeof(count), "%d", limit + 2); /* a next page's first row, the marker */
    const char *values[4] = {schedule_id, after ? time_value(after->fire_at_ms, at) : NULL, id,
                             count};
    PGresult *res;
    int rc = pg_exec_cached(
        ps, "reading the fire history",
        "SELECT f.id, " TIME_TEXT(
            "f.fire_at") ", f.job_id::text, f.outcome, f.detail"
                         " FROM stg_scheduled_imports s JOIN importq_schedule_fires f ON "
                         "f.schedule_id = s.id"
                         " WHERE s.id = $1::uuid AND ($2::timestamptz IS NULL"
                         " OR (f.fire_at, f.id) < ($2::timestamptz, $3::bigint))"
                         " UNION ALL SELECT NULL, NULL, NULL, NULL, NULL FROM stg_scheduled_imports"
                         " WHERE id = $1::uuid"
                         " ORDER BY 2 DESC NULLS LAST, 1 DESC LIMIT $4::integer",
        4, values, &res, err);
    if (rc < 0)
        return rc;
    int rows = PQntuples(res);
    if (rows == 0) {
        PQclear(res);
        return iq_error_set(err, IQ_E_NOT_FOUND, "schedule %s not found", schedule_id);
    }
    /* The marker row (NULL id) sorts last; past a full page it is cut off. */
    int usable = PQgetisnull(res, rows - 1, 0) ? rows - 1 : rows;
    if (usable > limit) {
        ret->more = true;
        usable = limit;
    }
    rc = read_fire_rows(res, usable, ret, err);
    PQclear(res);
    if (rc < 0)
        schedule_fire_page_clear(ret);
    return rc;
}

/* pg_scheduler_lead - see store_ops.scheduler_lead: PG_LOCK_SCHEDULER held
 * by this session already, or taken now without waiting. */
int pg_scheduler_lead(struct store *s, bool *ret_leader, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    PGresult *res;
    int rc = pg_exec(ps, "taking the scheduler's lead",
                     "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
                     " AND database = (SELECT oid FROM pg_database"
                     " WHERE datname = current_database())"
                     " AND classid = 0 AND objid = " PG_LOCK_SCHEDULER " AND objsubid = 1"
                     " AND pid = pg_backend_pid() AND granted)"
                     " THEN true ELSE pg_try_advisory_lock(" PG_LOCK_SCHEDULER ") END",
                     0, NULL, &res, err);
    if (rc < 0)
        return rc;
    *ret_leader = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return 0;
}
