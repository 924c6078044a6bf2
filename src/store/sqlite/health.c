/*
 * sqlite/health.c - the health history on SQLite (store/health_ops.h):
 * the slot's sample (one read, one short write), the rollup and pruning of old
 * rows, a series in buckets, and the count of open alerts. Times are
 * computed in C from the connection's clock, as everywhere in this
 * backend; the statements run a few times a minute, so they are prepared
 * per call rather than cached.
 */
#include "store/sqlite/internal.h"

#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>

/* The columns a rollup or a bucket combines, in health_sample order after
 * period_s: maxima of the gauges, sums of the counters, maximum age. */
#define HEALTH_COMBINED                                                                \
    "max(queue_depth), max(held), max(running), max(locks_held), sum(jobs_finished),"  \
    " sum(jobs_failed), sum(rows_imported), max(oldest_queued_age_s)"

/* A row's start in Unix seconds, grouped by multiples of ?step. */
#define HEALTH_START(step)                                                             \
    "((CAST(strftime('%s', created_at) AS INTEGER) - period_s) / " step ") * " step

/* The slot's figures, or no row when the slot is taken: ?1 interval (s),
 * ?2 the slot, ?3 its start. Read outside the write lock (below). */
static const char sample_sql[] =
    /* The status counts the triggers of migration 011 keep. */
    "SELECT coalesce((SELECT n FROM importq_status_counts WHERE status = 'QUEUED'), 0),"
    " coalesce((SELECT n FROM importq_status_counts WHERE status = 'HELD'), 0),"
    " coalesce((SELECT n FROM importq_status_counts WHERE status = 'RUNNING'), 0),"
    " (SELECT count(*) FROM stg_import_resources),"
    " f.n, f.failed, f.imported,"
    /* The partial index, not (status, id): the oldest is its first entry
     * instead of a read of every QUEUED row (136 ms at 25,000). */
    " coalesce((SELECT max(0, CAST(round((julianday(?2) - julianday(min(created_at)))"
    "  * 86400000) AS INTEGER) / 1000) FROM stg_import_queue"
    "  INDEXED BY stg_import_queue_queued_created WHERE status = 'QUEUED'), 0)"
    " FROM (SELECT count(*) AS n, coalesce(sum(status = 'FAILED'), 0) AS failed,"
    "  coalesce(sum(CASE WHEN status = 'COMPLETED' THEN rows_inserted + rows_updated END), 0)"
    "  AS imported FROM stg_import_queue"
    "  WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED')"
    "  AND finished_at >= ?3 AND finished_at < ?2) f"
    " WHERE NOT EXISTS (SELECT 1 FROM stg_import_monitoring"
    "  WHERE kind = 'health' AND period_s = ?1 AND created_at = ?2)";

/* ?1 interval (s), ?2 the slot, ?3 node, ?4 … ?11 the figures of sample_sql. */
static const char insert_sql[] =
    "INSERT INTO stg_import_monitoring (kind, period_s, created_at, node, queue_depth, held,"
    " running, locks_held, jobs_finished, jobs_failed, rows_imported, oldest_queued_age_s,"
    " throughput_rows_s)"
    " VALUES ('health', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?10 * 1.0 / ?1)"
    " ON CONFLICT (period_s, created_at) WHERE kind = 'health' DO NOTHING";

/* Samples ending at or before ?2 into rollups of ?1 seconds (a rollup
 * already there absorbs late samples). */
static const char rollup_sql[] =
    "INSERT INTO stg_import_monitoring (kind, period_s, created_at, queue_depth, held, running,"
    " locks_held, jobs_finished, jobs_failed, rows_imported, oldest_queued_age_s,"
    " throughput_rows_s)"
    " SELECT 'health', ?1, strftime('%Y-%m-%dT%H:%M:%S.000Z', start + ?1, 'unixepoch'),"
    " " HEALTH_COMBINED ", sum(rows_imported) * 1.0 / ?1"
    " FROM (SELECT *, " HEALTH_START("?1") " AS start FROM stg_import_monitoring"
    "  WHERE kind = 'health' AND period_s < ?1 AND created_at <= ?2)"
    " WHERE true GROUP BY start"
    " ON CONFLICT (period_s, created_at) WHERE kind = 'health' DO UPDATE SET"
    " queue_depth = max(queue_depth, excluded.queue_depth),"
    " held = max(held, excluded.held), running = max(running, excluded.running),"
    " locks_held = max(locks_held, excluded.locks_held),"
    " jobs_finished = jobs_finished + excluded.jobs_finished,"
    " jobs_failed = jobs_failed + excluded.jobs_failed,"
    " rows_imported = rows_imported + excluded.rows_imported,"
    " throughput_rows_s = (rows_imported + excluded.rows_imported) * 1.0 / period_s,"
    " oldest_queued_age_s = max(oldest_queued_age_s, excluded.oldest_queued_age_s)";

static const char rolled_up_delete_sql[] =
    "DELETE FROM stg_import_monitoring"
    " WHERE kind = 'health' AND period_s < ?1 AND created_at <= ?2";

static const char expired_delete_sql[] =
    "DELETE FROM stg_import_monitoring WHERE kind = 'health' AND created_at < ?1";

static const char series_sql[] =
    "SELECT start, sum(period_s), " HEALTH_COMBINED
    " FROM (SELECT *, " HEALTH_START("?3") " AS start FROM stg_import_monitoring"
    "  WHERE kind = 'health' AND created_at > ?1 AND created_at <= ?2)"
    " GROUP BY start ORDER BY start";

static const char alert_counts_sql[] =
    "SELECT coalesce(sum(state = 'open'), 0), coalesce(sum(state = 'acked'), 0),"
    " coalesce(sum(severity = 'critical'), 0) FROM stg_import_monitoring"
    " WHERE kind = 'alert' AND state IN ('open', 'acked')";

/* prepare - a statement of this file (sqlite3_finalize it). NULL with err set. */
static sqlite3_stmt *prepare(struct sqlite_store *s, const char *sql, struct iq_error *err)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        sqlite_db_error(s, "preparing a health statement", err);
        sqlite3_finalize(stmt);
        return NULL;
    }
    return stmt;
}

/* run - step stmt to its end and finalize it; *ret_changes (may be NULL)
 * the rows it changed. 0 or IQ_E_DB. */
static int run(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what, int64_t *ret_changes,
               struct iq_error *err)
{
    int rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : sqlite_db_error(s, what, err);
    if (rc == 0 && ret_changes)
        *ret_changes = sqlite3_changes(s->db);
    sqlite3_finalize(stmt);
    return rc;
}

/* read_sample - the figures of the slot into values[8]; 0 with
 * *ret_taken when another node has written it already. */
static int read_sample(struct sqlite_store *s, int64_t interval_ms, int64_t slot_ms,
                       int64_t values[8], bool *ret_taken, struct iq_error *err)
{
    sqlite3_stmt *stmt = prepare(s, sample_sql, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_int64(&b, interval_ms / 1000);
    bind_time(&b, slot_ms);
    bind_time(&b, slot_ms - interval_ms);
    int rc = b.rc == SQLITE_OK ? 0 : sqlite_db_error(s, "binding the health sample", err);
    int step = rc == 0 ? sqlite3_step(stmt) : SQLITE_OK;
    *ret_taken = step == SQLITE_DONE;
    if (step == SQLITE_ROW) {
        for (int i = 0; i < 8; i++)
            values[i] = sqlite3_column_int64(stmt, i);
    } else if (rc == 0 && step != SQLITE_DONE) {
        rc = sqlite_db_error(s, "counting the health sample", err);
    }
    sqlite3_finalize(stmt);
    return rc;
}

/*
 * sqlite_health_snapshot - see store_ops.health_snapshot: the slot from
 * the connection's clock; its figures read first, outside the write lock
 * (counting a large queue takes milliseconds the workers' commits should
 * not wait for), then written in a BEGIN IMMEDIATE of one INSERT, which
 * the unique slot index keeps to one per slot.
 */
int sqlite_health_snapshot(struct store *base, int64_t interval_ms, const char *node,
                           struct health_snapshot_result *ret, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    int64_t slot_ms = health_slot_ms(sqlite_now_ms(s), interval_ms);
    int64_t values[8];
    bool taken = false;
    int rc = read_sample(s, interval_ms, slot_ms, values, &taken, err);
    if (rc < 0 || taken)
        return rc;
    sqlite3_stmt *stmt = prepare(s, insert_sql, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_int64(&b, interval_ms / 1000);
    bind_time(&b, slot_ms);
    bind_text(&b, node);
    for (int i = 0; i < 8; i++)
        bind_int64(&b, values[i]);
    if (b.rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return sqlite_db_error(s, "binding the health sample", err);
    }
    rc = sqlite_tx_begin(s, err);
    if (rc < 0) {
        sqlite3_finalize(stmt);
        return rc;
    }
    int64_t changes = 0;
    rc = sqlite_tx_finish(s, run(s, stmt, "writing the health sample", &changes, err), err);
    if (rc == 0 && changes == 1) {
        ret->taken = true;
        ret->slot_ms = slot_ms;
    }
    return rc;
}

/* compact_locked - the statements of health_compact, in its transaction. */
static int compact_locked(struct sqlite_store *s, int64_t rollup_cutoff_ms, int64_t expiry_ms,
                          struct health_compaction *ret, struct iq_error *err)
{
    const char *sql[3] = {rollup_sql, rolled_up_delete_sql, expired_delete_sql};
    int64_t *counts[3] = {&ret->rollups_written, &ret->samples_deleted, NULL};
    int rc = 0;
    for (int i = 0; rc == 0 && i < 3; i++) {
        sqlite3_stmt *stmt = prepare(s, sql[i], err);
        if (!stmt)
            return IQ_E_DB;
        struct binder b = binder_start(stmt);
        if (i < 2) {
            bind_int64(&b, HEALTH_ROLLUP_PERIOD_S);
            bind_time(&b, rollup_cutoff_ms);
        } else {
            bind_time(&b, expiry_ms);
        }
        if (b.rc != SQLITE_OK) {
            sqlite3_finalize(stmt);
            return sqlite_db_error(s, "binding a health statement", err);
        }
        int64_t expired = 0;
        rc = run(s, stmt, "compacting the health history", i < 2 ? counts[i] : &expired, err);
        ret->rollups_deleted += expired; /* samples that old were deleted by the step before */
    }
    return rc;
}

/*
 * sqlite_health_compact - see store_ops.health_compact: rollups and
 * deletions in one BEGIN IMMEDIATE transaction.
 */
int sqlite_health_compact(struct store *base, const struct health_retention *retention,
                          struct health_compaction *ret, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    int64_t period_ms = HEALTH_ROLLUP_PERIOD_S * 1000LL;
    int64_t cutoff_ms = health_slot_ms(retention->now_ms - retention->sample_keep_ms, period_ms);
    int rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    rc = compact_locked(s, cutoff_ms, retention->now_ms - retention->rollup_keep_ms, ret, err);
    rc = sqlite_tx_finish(s, rc, err);
    if (rc < 0)
        memset(ret, 0, sizeof(*ret));
    return rc;
}

/* read_point - the current row of series_sql into *point. */
static void read_point(sqlite3_stmt *stmt, struct health_point *point)
{
    point->at_ms = sqlite3_column_int64(stmt, 0) * 1000;
    struct health_sample *sum = &point->sum;
    sum->at_ms = point->at_ms;
    sum->period_s = sqlite3_column_int64(stmt, 1);
    int64_t *fields[8] = {&sum->queued,        &sum->held,          &sum->running,
                          &sum->locks_held,    &sum->jobs_finished, &sum->jobs_failed,
                          &sum->rows_imported, &sum->oldest_queued_age_s};
    for (int i = 0; i < 8; i++)
        *fields[i] = sqlite3_column_int64(stmt, 2 + i);
}

/* sqlite_health_series - see store_ops.health_series (bounds checked by the front door). */
int sqlite_health_series(struct store *base, int64_t since_ms, int64_t until_ms, int64_t step_s,
                         struct health_series *ret, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    sqlite3_stmt *stmt = prepare(s, series_sql, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_time(&b, since_ms);
    bind_time(&b, until_ms);
    bind_int64(&b, step_s);
    int rc = b.rc == SQLITE_OK ? 0 : sqlite_db_error(s, "binding the health series", err);
    /* Buckets are bounded by health_series_check (plus the partial ones at
     * either end). */
    size_t capacity = HEALTH_SERIES_MAX_POINTS + 2;
    ret->items = rc == 0 ? calloc(capacity, sizeof(*ret->items)) : NULL;
    if (rc == 0 && !ret->items)
        rc = nomem(err);
    while (rc == 0) {
        int step = sqlite3_step(stmt);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = sqlite_db_error(s, "reading the health series", err);
            break;
        }
        if (ret->count < capacity)
            read_point(stmt, &ret->items[ret->count++]);
    }
    sqlite3_finalize(stmt);
    if (rc < 0)
        health_series_clear(ret);
    return rc;
}

/* sqlite_alert_counts - see store_ops.alert_counts. */
int sqlite_alert_counts(struct store *base, struct alert_counts *ret, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    sqlite3_stmt *stmt = prepare(s, alert_counts_sql, err);
    if (!stmt)
        return IQ_E_DB;
    int rc = 0;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        ret->open = sqlite3_column_int64(stmt, 0);
        ret->acked = sqlite3_column_int64(stmt, 1);
        ret->firing_critical = sqlite3_column_int64(stmt, 2);
    } else {
        rc = sqlite_db_error(s, "counting open alerts", err);
    }
    sqlite3_finalize(stmt);
    return rc;
}
