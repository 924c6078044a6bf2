/*
 * postgres/perf.c - performance analytics on PostgreSQL: a window's
 * attempts summed from stg_import_performance, its lock holds from
 * importq_lock_history (with the schedules of the holder and of the job
 * it waited on), and pruning the history: lock history, performance
 * records (by whole attempts) and resolved alerts. Not here: writing the rows
 * (postgres/finish.c, postgres/locks.c) or aggregating them (core/perf.c:
 * percentiles in C, as on SQLite, rather than percentile_cont).
 */
#include "store/postgres/internal.h"

#include "core/timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PHASE_SUM(name) " sum(CASE WHEN p.phase = '" name "' THEN p.duration_ms ELSE 0 END),"
#define UTC_TEXT(column) "to_char(" column " AT TIME ZONE 'UTC', " PG_TIME_FORMAT ")"

/* As sqlite/perf.c's DISTINCT_OF: a loose scan of an index's leading column. */
#define DISTINCT_OF(cte, column, table, only)                                                      \
    "WITH RECURSIVE " cte "(name) AS (SELECT coalesce(" only ", (SELECT min(" column ") FROM "      \
    table ")) UNION ALL SELECT (SELECT min(" column ") FROM " table " WHERE " column " > "           \
    cte ".name) FROM " cte " WHERE " only " IS NULL AND " cte ".name IS NOT NULL) "

/* As sqlite/perf.c's attempts_sql: $1 since, $2 until, $3 table or NULL, $4 limit. */
static const char attempts_sql[] =
    DISTINCT_OF("tables", "target_table", "stg_import_performance", "$3::text")
    "SELECT p.target_table, p.job_id::text, p.attempt, max(coalesce(p.outcome, '')),"
    " " UTC_TEXT("min(CASE WHEN p.phase = 'read' THEN p.started_at END)") ","
    " " UTC_TEXT("min(CASE WHEN p.phase = 'queued' THEN p.started_at END)") ","
    PHASE_SUM("read") PHASE_SUM("stage") PHASE_SUM("validate") PHASE_SUM("promote")
    PHASE_SUM("queued") PHASE_SUM("lock_wait") PHASE_SUM("dependency_wait")
    " sum(CASE WHEN p.phase = 'read' THEN p.rows ELSE 0 END),"
    " sum(CASE WHEN p.phase = 'read' THEN p.bytes ELSE 0 END),"
    " sum(CASE WHEN p.phase = 'validate' THEN p.rows ELSE 0 END)"
    " FROM (SELECT w.job_id, w.attempt, max(w.started_at) AS latest FROM tables"
    " JOIN stg_import_performance w ON w.target_table = tables.name"
    " AND w.started_at >= $1::timestamptz AND w.started_at < $2::timestamptz"
    " WHERE w.phase IN ('read', 'queued')"
    " GROUP BY w.job_id, w.attempt ORDER BY latest DESC LIMIT $4::integer) a"
    " JOIN stg_import_performance p ON p.job_id = a.job_id AND p.attempt = a.attempt"
    " GROUP BY p.target_table, p.job_id, p.attempt ORDER BY max(a.latest) DESC";

/* As sqlite/perf.c's holds_sql: $1 since, $2 until, $3 limit. */
static const char holds_sql[] =
    DISTINCT_OF("names", "name", "importq_lock_history", "NULL::text")
    "SELECT h.name, h.mode, h.job_id::text, h.attempt, " UTC_TEXT("h.acquired_at") ","
    " " UTC_TEXT("h.released_at") ", h.waited_ms, h.blocked_by::text, sa.name, sb.name"
    " FROM names JOIN importq_lock_history h ON h.name = names.name"
    " AND h.released_at >= $1::timestamptz AND h.released_at < $2::timestamptz"
    " LEFT JOIN stg_import_queue qa ON qa.id = h.job_id"
    " LEFT JOIN stg_scheduled_imports sa ON sa.id = qa.schedule_id"
    " LEFT JOIN stg_import_queue qb ON qb.id = h.blocked_by"
    " LEFT JOIN stg_scheduled_imports sb ON sb.id = qb.schedule_id"
    " ORDER BY h.released_at DESC, h.id DESC LIMIT $3::integer";

static const char prune_sql[] =
    "WITH gone AS (DELETE FROM importq_lock_history WHERE id IN ("
    DISTINCT_OF("names", "name", "importq_lock_history", "NULL::text")
    "SELECT h.id FROM names JOIN importq_lock_history h ON h.name = names.name"
    " AND h.released_at < $1::timestamptz LIMIT $2::integer) RETURNING 1) SELECT count(*) FROM gone";

/* As sqlite/perf.c's perf_prune_sql: $1 cutoff, $2 attempts at most. */
static const char perf_prune_sql[] =
    "WITH gone AS (DELETE FROM stg_import_performance WHERE (job_id, attempt) IN ("
    DISTINCT_OF("tables", "target_table", "stg_import_performance", "NULL::text")
    "SELECT p.job_id, p.attempt FROM tables JOIN stg_import_performance p"
    " ON p.target_table = tables.name AND p.started_at < $1::timestamptz LIMIT $2::integer)"
    " RETURNING 1) SELECT count(*) FROM gone";

/* text_or_null - the value, NULL for SQL NULL. */
static const char *text_or_null(const PGresult *res, int row, int column)
{
    return PQgetisnull(res, row, column) ? NULL : PQgetvalue(res, row, column);
}

static int64_t time_or_zero(const PGresult *res, int row, int column)
{
    int64_t ms = 0;
    const char *text = text_or_null(res, row, column);
    if (!text || time_parse_rfc3339(text, &ms) < 0)
        return 0;
    return ms;
}

static void copy_id(const PGresult *res, int row, int column, char out[UUID_STR_LEN])
{
    const char *text = text_or_null(res, row, column);
    snprintf(out, UUID_STR_LEN, "%s", text && strlen(text) == UUID_STR_LEN - 1 ? text : "");
}

/* attempt_add - row of attempts_sql into list. */
static int attempt_add(const PGresult *res, int row, struct perf_attempts *list,
                       struct iq_error *err)
{
    struct perf_attempt a = {0};
    a.table = PQgetvalue(res, row, 0);
    copy_id(res, row, 1, a.job_id);
    a.attempt = (int)pg_text_to_int64(PQgetvalue(res, row, 2));
    snprintf(a.outcome, sizeof(a.outcome), "%s", PQgetvalue(res, row, 3));
    for (int p = 0; p < PERF_PHASE_COUNT; p++)
        a.phase_ms[p] = pg_text_to_int64(PQgetvalue(res, row, 6 + p));
    int64_t read_at = time_or_zero(res, row, 4), queued_at = time_or_zero(res, row, 5);
    a.claimed_at_ms = queued_at ? queued_at + a.phase_ms[PERF_QUEUED] : read_at;
    a.rows_read = pg_text_to_int64(PQgetvalue(res, row, 6 + PERF_PHASE_COUNT));
    a.bytes_read = pg_text_to_int64(PQgetvalue(res, row, 7 + PERF_PHASE_COUNT));
    a.rows_rejected = pg_text_to_int64(PQgetvalue(res, row, 8 + PERF_PHASE_COUNT));
    return perf_attempts_add(list, &a) < 0 ? iq_error_set(err, IQ_E_NOMEM, "out of memory") : 0;
}

/* pg_perf_attempts - see store_ops.perf_attempts (store_perf_attempts). */
int pg_perf_attempts(struct store *s, const struct perf_window *window, struct perf_attempts *ret,
                     struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    char since[TIME_RFC3339_LEN], until[TIME_RFC3339_LEN], limit[24];
    snprintf(limit, sizeof(limit), "%d", PERF_ATTEMPTS_MAX + 1);
    const char *values[4] = {time_format_rfc3339(window->since_ms, since),
                             time_format_rfc3339(window->until_ms, until), window->table, limit};
    PGresult *res;
    int rc = pg_exec(ps, "reading performance rows", attempts_sql, 4, values, &res, err);
    if (rc < 0)
        return rc;
    int rows = PQntuples(res);
    for (int row = 0; rc == 0 && row < rows; row++) {
        if (ret->count == PERF_ATTEMPTS_MAX) {
            ret->truncated = true;
            break;
        }
        rc = attempt_add(res, row, ret, err);
    }
    PQclear(res);
    if (rc < 0)
        perf_attempts_clear(ret);
    return rc;
}

/* hold_add - row of holds_sql into list. */
static int hold_add(const PGresult *res, int row, struct lock_holds *list, struct iq_error *err)
{
    struct lock_hold h = {0};
    h.name = PQgetvalue(res, row, 0);
    h.exclusive = strcmp(PQgetvalue(res, row, 1), "exclusive") == 0;
    copy_id(res, row, 2, h.job_id);
    h.attempt = (int)pg_text_to_int64(PQgetvalue(res, row, 3));
    h.acquired_at_ms = time_or_zero(res, row, 4);
    h.released_at_ms = time_or_zero(res, row, 5);
    h.waited_ms = pg_text_to_int64(PQgetvalue(res, row, 6));
    copy_id(res, row, 7, h.blocked_by);
    h.schedule = (char *)text_or_null(res, row, 8);
    h.blocker_schedule = (char *)text_or_null(res, row, 9);
    return lock_holds_add(list, &h) < 0 ? iq_error_set(err, IQ_E_NOMEM, "out of memory") : 0;
}

/* pg_lock_holds - see store_ops.lock_holds (store_lock_holds). */
int pg_lock_holds(struct store *s, const struct perf_window *window, struct lock_holds *ret,
                  struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    char since[TIME_RFC3339_LEN], until[TIME_RFC3339_LEN], limit[24];
    snprintf(limit, sizeof(limit), "%d", PERF_HOLDS_MAX + 1);
    const char *values[3] = {time_format_rfc3339(window->since_ms, since),
                             time_format_rfc3339(window->until_ms, until), limit};
    PGresult *res;
    int rc = pg_exec(ps, "reading lock history", holds_sql, 3, values, &res, err);
    if (rc < 0)
        return rc;
    int rows = PQntuples(res);
    for (int row = 0; rc == 0 && row < rows; row++) {
        if (ret->count == PERF_HOLDS_MAX) {
            ret->truncated = true;
            break;
        }
        rc = hold_add(res, row, ret, err);
    }
    PQclear(res);
    if (rc < 0)
        lock_holds_clear(ret);
    return rc;
}

/* prune - one DELETE … RETURNING count of sql ($1 cutoff, $2 limit), autocommit. */
static int prune(struct pg_store *ps, const char *what, const char *sql, int64_t cutoff_ms,
                 int limit, int64_t *ret_deleted, struct iq_error *err)
{
    char cutoff[TIME_RFC3339_LEN], batch[24];
    snprintf(batch, sizeof(batch), "%d", limit);
    const char *values[2] = {time_format_rfc3339(cutoff_ms, cutoff), batch};
    PGresult *res;
    int rc = pg_exec(ps, what, sql, 2, values, &res, err);
    if (rc < 0)
        return rc;
    if (ret_deleted)
        *ret_deleted = pg_text_to_int64(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* pg_perf_prune - see store_ops.perf_prune (one statement, autocommit). */
int pg_perf_prune(struct store *s, int64_t cutoff_ms, int limit, int64_t *ret_deleted,
                  struct iq_error *err)
{
    return prune(pg_store_of(s), "pruning performance records", perf_prune_sql, cutoff_ms, limit,
                 ret_deleted, err);
}

/* pg_alert_prune - see store_ops.alert_prune (one statement, autocommit);
 * the resolved alerts are read on the index (state, id) of alerts. */
int pg_alert_prune(struct store *s, int64_t cutoff_ms, int limit, int64_t *ret_deleted,
                   struct iq_error *err)
{
    return prune(pg_store_of(s), "pruning resolved alerts",
                 "WITH gone AS (DELETE FROM stg_import_monitoring WHERE id IN (SELECT id"
                 " FROM stg_import_monitoring WHERE kind = 'alert' AND state = 'resolved'"
                 " AND resolved_at < $1::timestamptz ORDER BY id LIMIT $2::integer)"
                 " RETURNING 1) SELECT count(*) FROM gone",
                 cutoff_ms, limit, ret_deleted, err);
}

/* pg_lock_history_prune - see store_ops.lock_history_prune (autocommit). */
int pg_lock_history_prune(struct store *s, int64_t cutoff_ms, int64_t *ret_deleted,
                          struct iq_error *err)
{
    return prune(pg_store_of(s), "pruning lock history", prune_sql, cutoff_ms,
                 LOCK_HISTORY_PRUNE_BATCH, ret_deleted, err);
}
