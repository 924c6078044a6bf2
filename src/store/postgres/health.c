/*
 * postgres/health.c - the health history on PostgreSQL (store/health_ops.h):
 * the slot's sample in one INSERT … SELECT, the rollup and pruning of old
 * rows, a series in buckets, and the count of open alerts.
 *
 * The slot comes from the database's clock (or the connection's injected
 * one), like leases: every node computes the same slot, and the unique
 * index on (period_s, created_at) WHERE kind = 'health' lets exactly one
 * sample per slot in, whichever node is first. A node that finds the slot
 * taken does no counting (the NOT EXISTS is checked first).
 */
#include "store/postgres/internal.h"

#include "core/timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The columns a rollup or a bucket combines, in health_sample order after
 * period_s: maxima of the gauges, sums of the counters, maximum age. */
#define HEALTH_COMBINED                                                                       \
    "max(queue_depth), max(held), max(running), max(locks_held), sum(jobs_finished),"         \
    " sum(jobs_failed), sum(rows_imported), max(oldest_queued_age_s)"

/* A row's start in Unix seconds, grouped by multiples of step (seconds). */
#define HEALTH_START(step)                                                                    \
    "(floor((extract(epoch FROM created_at) - period_s) / " step ")::bigint * " step ")"

/* $1 interval (s), $2 node, $3 the injected clock (NULL: the database's). */
static const char snapshot_sql[] =
    "WITH slot AS (SELECT to_timestamp(floor(extract(epoch FROM " PG_STATEMENT_NOW("$3")
    ") / $1::integer) * $1::integer) AS at)"
    " INSERT INTO stg_import_monitoring (kind, period_s, created_at, node, queue_depth, held,"
    " running, locks_held, jobs_finished, jobs_failed, rows_imported, throughput_rows_s,"
    " oldest_queued_age_s)"
    " SELECT 'health', $1::integer, slot.at, $2,"
    " (SELECT count(*) FROM stg_import_queue WHERE status = 'QUEUED'),"
    " (SELECT count(*) FROM stg_import_queue WHERE status = 'HELD'),"
    " (SELECT count(*) FROM stg_import_queue WHERE status = 'RUNNING'),"
    " (SELECT count(*) FROM stg_import_resources),"
    " f.n, f.failed, f.imported, f.imported::float8 / $1::integer,"
    " coalesce((SELECT greatest(0, floor(extract(epoch FROM slot.at - min(created_at))))::bigint"
    "  FROM stg_import_queue WHERE status = 'QUEUED'), 0)"
    " FROM slot CROSS JOIN LATERAL (SELECT count(*) AS n,"
    "  count(*) FILTER (WHERE status = 'FAILED') AS failed,"
    "  coalesce(sum(rows_inserted + rows_updated) FILTER (WHERE status = 'COMPLETED'), 0)"
    "  AS imported FROM stg_import_queue"
    "  WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED')"
    "  AND finished_at >= slot.at - $1::integer * interval '1 second'"
    "  AND finished_at < slot.at) f"
    " WHERE NOT EXISTS (SELECT 1 FROM stg_import_monitoring m WHERE m.kind = 'health'"
    "  AND m.period_s = $1::integer AND m.created_at = slot.at)"
    " ON CONFLICT (period_s, created_at) WHERE kind = 'health' DO NOTHING"
    " RETURNING to_char(created_at AT TIME ZONE 'UTC', " PG_TIME_FORMAT ")";

/* $1 rollup period (s), $2 the cutoff: samples ending at or before it
 * into rollups (a rollup already there absorbs late samples). */
static const char rollup_sql[] =
    "INSERT INTO stg_import_monitoring AS r (kind, period_s, created_at, queue_depth, held,"
    " running, locks_held, jobs_finished, jobs_failed, rows_imported, oldest_queued_age_s,"
    " throughput_rows_s)"
    " SELECT 'health', $1::integer, to_timestamp(start + $1::integer), " HEALTH_COMBINED ","
    " sum(rows_imported)::float8 / $1::integer"
    " FROM (SELECT *, " HEALTH_START("$1::integer") " AS start FROM stg_import_monitoring"
    "  WHERE kind = 'health' AND period_s < $1::integer AND created_at <= $2::timestamptz) b"
    " GROUP BY start"
    " ON CONFLICT (period_s, created_at) WHERE kind = 'health' DO UPDATE SET"
    " queue_depth = greatest(r.queue_depth, excluded.queue_depth),"
    " held = greatest(r.held, excluded.held), running = greatest(r.running, excluded.running),"
    " locks_held = greatest(r.locks_held, excluded.locks_held),"
    " jobs_finished = r.jobs_finished + excluded.jobs_finished,"
    " jobs_failed = r.jobs_failed + excluded.jobs_failed,"
    " rows_imported = r.rows_imported + excluded.rows_imported,"
    " throughput_rows_s = (r.rows_imported + excluded.rows_imported)::float8 / r.period_s,"
    " oldest_queued_age_s = greatest(r.oldest_queued_age_s, excluded.oldest_queued_age_s)";

static const char rolled_up_delete_sql[] =
    "DELETE FROM stg_import_monitoring"
    " WHERE kind = 'health' AND period_s < $1::integer AND created_at <= $2::timestamptz";

static const char expired_delete_sql[] =
    "DELETE FROM stg_import_monitoring WHERE kind = 'health' AND created_at < $1::timestamptz";

static const char series_sql[] =
    "SELECT start, sum(period_s), " HEALTH_COMBINED
    " FROM (SELECT *, " HEALTH_START("$3::integer") " AS start FROM stg_import_monitoring"
    "  WHERE kind = 'health' AND created_at > $1::timestamptz"
    "  AND created_at <= $2::timestamptz) b"
    " GROUP BY start ORDER BY start";

static const char alert_counts_sql[] =
    "SELECT count(*) FILTER (WHERE state = 'open'), count(*) FILTER (WHERE state = 'acked'),"
    " count(*) FILTER (WHERE severity = 'critical') FROM stg_import_monitoring"
    " WHERE kind = 'alert' AND state IN ('open', 'acked')";

/*
 * pg_health_snapshot - see store_ops.health_snapshot: one statement; it
 * returns the slot when this call wrote its sample.
 */
int pg_health_snapshot(struct store *s, int64_t interval_ms, const char *node,
                       struct health_snapshot_result *ret, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    char interval[24], now[TIME_RFC3339_LEN];
    snprintf(interval, sizeof(interval), "%" PRId64, interval_ms / 1000);
    const char *values[3] = {interval, node, pg_clock_param(ps, now)};
    PGresult *res;
    int rc = pg_exec(ps, "writing the health sample", snapshot_sql, 3, values, &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 1 && time_parse_rfc3339(PQgetvalue(res, 0, 0), &ret->slot_ms) == 0)
        ret->taken = true;
    PQclear(res);
    return 0;
}

/* exec_counted - pg_exec of a statement whose affected rows go to *ret_count. */
static int exec_counted(struct pg_store *ps, const char *sql, int param_count,
                        const char *const *values, int64_t *ret_count, struct iq_error *err)
{
    PGresult *res;
    int rc = pg_exec(ps, "compacting the health history", sql, param_count, values, &res, err);
    if (rc < 0)
        return rc;
    *ret_count = pg_text_to_int64(PQcmdTuples(res));
    PQclear(res);
    return 0;
}

/*
 * pg_health_compact - see store_ops.health_compact: rollups and deletions
 * in one transaction. Two nodes compacting at once serialise on the rows
 * (the second finds nothing left to roll up).
 */
int pg_health_compact(struct store *s, const struct health_retention *retention,
                      struct health_compaction *ret, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    int64_t period_ms = HEALTH_ROLLUP_PERIOD_S * 1000LL;
    char period[16], cutoff[TIME_RFC3339_LEN], expiry[TIME_RFC3339_LEN];
    snprintf(period, sizeof(period), "%d", HEALTH_ROLLUP_PERIOD_S);
    time_format_rfc3339(health_slot_ms(retention->now_ms - retention->sample_keep_ms, period_ms),
                        cutoff);
    time_format_rfc3339(retention->now_ms - retention->rollup_keep_ms, expiry);
    const char *values[2] = {period, cutoff};
    const char *expiry_values[1] = {expiry};
    int rc = pg_tx_begin(ps, err);
    if (rc < 0)
        return rc;
    rc = exec_counted(ps, rollup_sql, 2, values, &ret->rollups_written, err);
    if (rc == 0)
        rc = exec_counted(ps, rolled_up_delete_sql, 2, values, &ret->samples_deleted, err);
    if (rc == 0)
        rc = exec_counted(ps, expired_delete_sql, 1, expiry_values, &ret->rollups_deleted, err);
    rc = pg_tx_finish(ps, rc, err);
    if (rc < 0)
        memset(ret, 0, sizeof(*ret));
    return rc;
}

/* pg_health_series - see store_ops.health_series (bounds checked by the front door). */
int pg_health_series(struct store *s, int64_t since_ms, int64_t until_ms, int64_t step_s,
                     struct health_series *ret, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    char since[TIME_RFC3339_LEN], until[TIME_RFC3339_LEN], step[24];
    snprintf(step, sizeof(step), "%" PRId64, step_s);
    const char *values[3] = {time_format_rfc3339(since_ms, since),
                             time_format_rfc3339(until_ms, until), step};
    PGresult *res;
    int rc = pg_exec(ps, "reading the health series", series_sql, 3, values, &res, err);
    if (rc < 0)
        return rc;
    size_t rows = (size_t)PQntuples(res);
    ret->items = rows ? calloc(rows, sizeof(*ret->items)) : NULL;
    if (rows && !ret->items) {
        PQclear(res);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < rows; i++) {
        struct health_point *point = &ret->items[i];
        struct health_sample *sum = &point->sum;
        point->at_ms = pg_text_to_int64(PQgetvalue(res, (int)i, 0)) * 1000;
        sum->at_ms = point->at_ms;
        sum->period_s = pg_text_to_int64(PQgetvalue(res, (int)i, 1));
        int64_t *fields[8] = {&sum->queued,        &sum->held,          &sum->running,
                              &sum->locks_held,    &sum->jobs_finished, &sum->jobs_failed,
                              &sum->rows_imported, &sum->oldest_queued_age_s};
        for (int f = 0; f < 8; f++)
            *fields[f] = pg_text_to_int64(PQgetvalue(res, (int)i, 2 + f));
    }
    ret->count = rows;
    PQclear(res);
    return 0;
}

/* pg_alert_counts - see store_ops.alert_counts. */
int pg_alert_counts(struct store *s, struct alert_counts *ret, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    PGresult *res;
    int rc = pg_exec(ps, "counting open alerts", alert_counts_sql, 0, NULL, &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 1) {
        ret->open = pg_text_to_int64(PQgetvalue(res, 0, 0));
        ret->acked = pg_text_to_int64(PQgetvalue(res, 0, 1));
        ret->firing_critical = pg_text_to_int64(PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return 0;
}
