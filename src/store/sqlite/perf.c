/*
 * sqlite/perf.c - performance analytics on SQLite: a window's attempts
 * summed from stg_import_performance, its lock holds from
 * importq_lock_history (with the schedules of the holder and of the job
 * it waited on), and pruning the history: lock history, performance
 * records (by whole attempts) and resolved alerts. Not here: writing the rows
 * (sqlite/finish.c, sqlite/locks.c) or aggregating them (core/perf.c).
 */
#include "store/sqlite/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PHASE_SUM(name) " sum(CASE WHEN p.phase = '" name "' THEN p.duration_ms ELSE 0 END),"

/*
 * A loose scan of an index's leading column: its distinct values, each
 * found with one seek (the recursive CTE steps from a value to the next
 * one up), so that a window is read as one range of (name, time) per
 * name. The other way was an index on the time alone, a b-tree more that
 * every finish writes.
 */
#define DISTINCT_OF(cte, column, table, only)                                                      \
    "WITH RECURSIVE " cte "(name) AS (SELECT coalesce(" only ", (SELECT min(" column ") FROM "      \
    table ")) UNION ALL SELECT (SELECT min(" column ") FROM " table " WHERE " column " > "           \
    cte ".name) FROM " cte " WHERE " only " IS NULL AND " cte ".name IS NOT NULL) "

/*
 * The window's attempts: those with a "read" or "queued" row starting in
 * [?1, ?2) (of table ?3 unless NULL; read per table on the index
 * (target_table, started_at)), newest first, ?4 at most; then all rows
 * of each, summed. Columns: table, job, attempt, outcome, first read
 * start, queued start, the phases in enum perf_phase order, rows read,
 * bytes read, rows rejected.
 */
static const char attempts_sql[] =
    DISTINCT_OF("tables", "target_table", "stg_import_performance", "?3")
    "SELECT p.target_table, p.job_id, p.attempt, max(coalesce(p.outcome, '')),"
    " min(CASE WHEN p.phase = 'read' THEN p.started_at END),"
    " min(CASE WHEN p.phase = 'queued' THEN p.started_at END),"
    PHASE_SUM("read") PHASE_SUM("stage") PHASE_SUM("validate") PHASE_SUM("promote")
    PHASE_SUM("queued") PHASE_SUM("lock_wait") PHASE_SUM("dependency_wait")
    " sum(CASE WHEN p.phase = 'read' THEN p.rows ELSE 0 END),"
    " sum(CASE WHEN p.phase = 'read' THEN p.bytes ELSE 0 END),"
    " sum(CASE WHEN p.phase = 'validate' THEN p.rows ELSE 0 END)"
    " FROM (SELECT w.job_id, w.attempt, max(w.started_at) AS latest FROM tables"
    " JOIN stg_import_performance w ON w.target_table = tables.name"
    " AND w.started_at >= ?1 AND w.started_at < ?2 WHERE w.phase IN ('read', 'queued')"
    " GROUP BY w.job_id, w.attempt ORDER BY latest DESC LIMIT ?4) a"
    " JOIN stg_import_performance p ON p.job_id = a.job_id AND p.attempt = a.attempt"
    " GROUP BY p.job_id, p.attempt ORDER BY max(a.latest) DESC";

/* The locks released in [?1, ?2), newest first, ?3 at most, with schedule names. */
static const char holds_sql[] =
    DISTINCT_OF("names", "name", "importq_lock_history", "NULL")
    "SELECT h.name, h.mode, h.job_id, h.attempt, h.acquired_at, h.released_at, h.waited_ms,"
    " h.blocked_by, sa.name, sb.name FROM names"
    " JOIN importq_lock_history h ON h.name = names.name"
    " AND h.released_at >= ?1 AND h.released_at < ?2"
    " LEFT JOIN stg_import_queue qa ON qa.id = h.job_id"
    " LEFT JOIN stg_scheduled_imports sa ON sa.id = qa.schedule_id"
    " LEFT JOIN stg_import_queue qb ON qb.id = h.blocked_by"
    " LEFT JOIN stg_scheduled_imports sb ON sb.id = qb.schedule_id"
    " ORDER BY h.released_at DESC, h.id DESC LIMIT ?3";

static const char prune_sql[] =
    "DELETE FROM importq_lock_history WHERE id IN ("
    DISTINCT_OF("names", "name", "importq_lock_history", "NULL")
    "SELECT h.id FROM names JOIN importq_lock_history h ON h.name = names.name"
    " AND h.released_at < ?1 LIMIT ?2)";

/* The attempts (job_id, attempt) with a row started before ?1, ?2 at
 * most, read per table on the index (target_table, started_at); all their
 * rows go (the index on job_id finds them). */
static const char perf_prune_sql[] =
    "DELETE FROM stg_import_performance WHERE (job_id, attempt) IN ("
    DISTINCT_OF("tables", "target_table", "stg_import_performance", "NULL")
    "SELECT p.job_id, p.attempt FROM tables JOIN stg_import_performance p"
    " ON p.target_table = tables.name AND p.started_at < ?1 LIMIT ?2)";

/* prepare - a one-off statement (finalize it). */
static int prepare(struct sqlite_store *s, const char *sql, const char *what,
                   sqlite3_stmt **ret_stmt, struct iq_error *err)
{
    *ret_stmt = NULL;
    if (sqlite3_prepare_v3(s->db, sql, -1, 0, ret_stmt, NULL) != SQLITE_OK)
        return sqlite_db_error(s, what, err);
    return 0;
}

/* column_time - an RFC 3339 column in ms; 0 for NULL or a malformed one. */
static int64_t column_time(sqlite3_stmt *stmt, int column)
{
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    int64_t ms = 0;
    if (!text || time_parse_rfc3339(text, &ms) < 0)
        return 0;
    return ms;
}

/* copy_id - a UUID column into out ("" for NULL or one of another length). */
static void copy_id(sqlite3_stmt *stmt, int column, char out[UUID_STR_LEN])
{
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    out[0] = '\0';
    if (text && strlen(text) == UUID_STR_LEN - 1)
        memcpy(out, text, UUID_STR_LEN);
}

/* attempt_add - the current row of attempts_sql into list. */
static int attempt_add(sqlite3_stmt *stmt, struct perf_attempts *list, struct iq_error *err)
{
    struct perf_attempt a = {0};
    a.table = (char *)sqlite3_column_text(stmt, 0);
    copy_id(stmt, 1, a.job_id);
    a.attempt = sqlite3_column_int(stmt, 2);
    const char *outcome = (const char *)sqlite3_column_text(stmt, 3);
    snprintf(a.outcome, sizeof(a.outcome), "%s", outcome ? outcome : "");
    for (int p = 0; p < PERF_PHASE_COUNT; p++)
        a.phase_ms[p] = sqlite3_column_int64(stmt, 6 + p);
    int64_t read_at = column_time(stmt, 4), queued_at = column_time(stmt, 5);
    a.claimed_at_ms = queued_at ? queued_at + a.phase_ms[PERF_QUEUED] : read_at;
    a.rows_read = sqlite3_column_int64(stmt, 6 + PERF_PHASE_COUNT);
    a.bytes_read = sqlite3_column_int64(stmt, 7 + PERF_PHASE_COUNT);
    a.rows_rejected = sqlite3_column_int64(stmt, 8 + PERF_PHASE_COUNT);
    if (!a.table)
        return iq_error_set(err, IQ_E_DB, "a performance row has no table");
    return perf_attempts_add(list, &a) < 0 ? nomem(err) : 0;
}

/* sqlite_perf_attempts - see store_ops.perf_attempts (store_perf_attempts). */
int sqlite_perf_attempts(struct store *base, const struct perf_window *window,
                         struct perf_attempts *ret, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    sqlite3_stmt *stmt;
    int rc = prepare(s, attempts_sql, "read performance rows", &stmt, err);
    if (rc == 0) {
        struct binder b = binder_start(stmt);
        bind_time(&b, window->since_ms);
        bind_time(&b, window->until_ms);
        bind_text(&b, window->table);
        bind_int64(&b, PERF_ATTEMPTS_MAX + 1);
        rc = sqlite_binder_check(s, &b, err);
    }
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "read performance rows", err)) == 1) {
        if (ret->count == PERF_ATTEMPTS_MAX) {
            ret->truncated = true;
            continue;
        }
        rc = attempt_add(stmt, ret, err);
    }
    sqlite3_finalize(stmt);
    if (rc < 0)
        perf_attempts_clear(ret);
    return rc;
}

/* hold_add - the current row of holds_sql into list. */
static int hold_add(sqlite3_stmt *stmt, struct lock_holds *list, struct iq_error *err)
{
    struct lock_hold h = {0};
    h.name = (char *)sqlite3_column_text(stmt, 0);
    const char *mode = (const char *)sqlite3_column_text(stmt, 1);
    h.exclusive = mode && strcmp(mode, "exclusive") == 0;
    copy_id(stmt, 2, h.job_id);
    h.attempt = sqlite3_column_int(stmt, 3);
    h.acquired_at_ms = column_time(stmt, 4);
    h.released_at_ms = column_time(stmt, 5);
    h.waited_ms = sqlite3_column_int64(stmt, 6);
    copy_id(stmt, 7, h.blocked_by);
    h.schedule = (char *)sqlite3_column_text(stmt, 8);
    h.blocker_schedule = (char *)sqlite3_column_text(stmt, 9);
    if (!h.name)
        return iq_error_set(err, IQ_E_DB, "a lock history row has no name");
    return lock_holds_add(list, &h) < 0 ? nomem(err) : 0;
}

/* sqlite_lock_holds - see store_ops.lock_holds (store_lock_holds). */
int sqlite_lock_holds(struct store *base, const struct perf_window *window,
                      struct lock_holds *ret, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    sqlite3_stmt *stmt;
    int rc = prepare(s, holds_sql, "read lock history", &stmt, err);
    if (rc == 0) {
        struct binder b = binder_start(stmt);
        bind_time(&b, window->since_ms);
        bind_time(&b, window->until_ms);
        bind_int64(&b, PERF_HOLDS_MAX + 1);
        rc = sqlite_binder_check(s, &b, err);
    }
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "read lock history", err)) == 1) {
        if (ret->count == PERF_HOLDS_MAX) {
            ret->truncated = true;
            continue;
        }
        rc = hold_add(stmt, ret, err);
    }
    sqlite3_finalize(stmt);
    if (rc < 0)
        lock_holds_clear(ret);
    return rc;
}

/* prune - one DELETE of sql (?1 cutoff, ?2 limit) in its own BEGIN IMMEDIATE. */
static int prune(struct sqlite_store *s, const char *what, const char *sql, int64_t cutoff_ms,
                 int limit, int64_t *ret_deleted, struct iq_error *err)
{
    sqlite3_stmt *stmt;
    int rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    rc = prepare(s, sql, what, &stmt, err);
    if (rc == 0) {
        struct binder b = binder_start(stmt);
        bind_time(&b, cutoff_ms);
        bind_int64(&b, limit);
        rc = sqlite_binder_check(s, &b, err);
    }
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, what, err);
    if (rc == 0 && ret_deleted)
        *ret_deleted = sqlite3_changes(s->db);
    sqlite3_finalize(stmt);
    return sqlite_tx_finish(s, rc, err);
}

/* sqlite_perf_prune - see store_ops.perf_prune. */
int sqlite_perf_prune(struct store *base, int64_t cutoff_ms, int limit, int64_t *ret_deleted,
                      struct iq_error *err)
{
    return prune(to_sqlite(base), "prune performance records", perf_prune_sql, cutoff_ms, limit,
                 ret_deleted, err);
}

/* sqlite_alert_prune - see store_ops.alert_prune; the resolved alerts are
 * read on the index (state, id) of alerts. */
int sqlite_alert_prune(struct store *base, int64_t cutoff_ms, int limit, int64_t *ret_deleted,
                       struct iq_error *err)
{
    return prune(to_sqlite(base), "prune resolved alerts",
                 "DELETE FROM stg_import_monitoring WHERE id IN (SELECT id"
                 " FROM stg_import_monitoring WHERE kind = 'alert' AND state = 'resolved'"
                 " AND resolved_at < ?1 ORDER BY id LIMIT ?2)",
                 cutoff_ms, limit, ret_deleted, err);
}

/* sqlite_lock_history_prune - see store_ops.lock_history_prune: one
 * BEGIN IMMEDIATE, at most LOCK_HISTORY_PRUNE_BATCH rows. */
int sqlite_lock_history_prune(struct store *base, int64_t cutoff_ms, int64_t *ret_deleted,
                              struct iq_error *err)
{
    return prune(to_sqlite(base), "prune lock history", prune_sql, cutoff_ms,
                 LOCK_HISTORY_PRUNE_BATCH, ret_deleted, err);
}
