/*
 * health_ops.h - the store's side of the health history: rows of
 * stg_import_monitoring with kind 'health' (issue 16). A sample is taken
 * once per slot of health-interval, cluster-wide: every node's health
 * thread tries to write the slot's row (PostgreSQL: one INSERT … SELECT;
 * SQLite: a read, then a one-row INSERT), and the unique index on
 * (period_s, created_at) lets only the first one in. Old
 * samples are rolled up into 5-minute rows, and old rollups deleted, so
 * the table stays bounded (store_health_compact). The engine decides when
 * (engine/health.c), the API reads the series (store_health_series).
 *
 * Not here: alert rows (kind 'alert'), except counting the open ones for
 * GET /import-queue/status.
 */
#ifndef IMPORTQ_STORE_HEALTH_OPS_H
#define IMPORTQ_STORE_HEALTH_OPS_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* Bounds on what a caller may ask for (the API answers 422 beyond them). */
#define HEALTH_INTERVAL_MIN_MS 1000            /* a sample a second at most */
#define HEALTH_INTERVAL_MAX_MS (3600 * 1000LL) /* an hour between samples at most */
#define HEALTH_ROLLUP_PERIOD_S 300             /* the rollups' resolution */
#define HEALTH_SERIES_MAX_POINTS 1000          /* buckets one series may span */
#define HEALTH_STEP_MIN_S 1
#define HEALTH_STEP_MAX_S (24 * 3600)

/*
 * What a sample holds. Gauges (queued … locks_held) are the values at
 * at_ms; counters (jobs_finished … rows_imported) count what happened in
 * [at_ms - period_s, at_ms). A rollup holds the gauges' maxima and the
 * counters' sums over its period.
 */
struct health_sample {
    int64_t at_ms;               /* the slot's end (created_at) */
    int64_t period_s;            /* seconds the row covers */
    int64_t queued;              /* status QUEUED (the queue depth) */
    int64_t held;                /* status HELD */
    int64_t running;             /* status RUNNING */
    int64_t locks_held;          /* rows of stg_import_resources */
    int64_t jobs_finished;       /* jobs that reached COMPLETED, FAILED or CANCELLED */
    int64_t jobs_failed;         /* of which FAILED */
    int64_t rows_imported;       /* rows inserted + updated by the COMPLETED ones */
    int64_t oldest_queued_age_s; /* 0 when nothing is queued */
};

/* What store_health_snapshot did. */
struct health_snapshot_result {
    bool taken;                  /* this call wrote the slot's sample */
    int64_t slot_ms;             /* the slot's end, when taken */
};

/* How long the history is kept (store_health_compact). */
struct health_retention {
    int64_t now_ms;              /* the cutoffs are relative to this */
    int64_t sample_keep_ms;      /* samples younger than this stay as they are */
    int64_t rollup_keep_ms;      /* rows of every kind older than this go */
};

/* What store_health_compact did. */
struct health_compaction {
    int64_t rollups_written;
    int64_t samples_deleted;     /* rolled up (or beyond rollup_keep_ms) */
    int64_t rollups_deleted;     /* past rollup_keep_ms */
};

/* One bucket of a series: the rows of [at_ms, at_ms + step) combined as a
 * rollup combines samples. */
struct health_point {
    int64_t at_ms;
    struct health_sample sum;    /* sum.period_s: seconds of history in the bucket */
};

struct health_series {
    struct health_point *items;  /* owned; health_series_clear */
    size_t count;
};

/* Counts for GET /import-queue/status. An acknowledged alert is still
 * firing (someone is on it): it is not "open", but it still counts for
 * health. */
struct alert_counts {
    int64_t open;                /* kind 'alert', state 'open' */
    int64_t acked;               /* kind 'alert', state 'acked' */
    int64_t firing_critical;     /* open or acked, severity 'critical' */
};

/*
 * store_health_snapshot - write the sample of the slot that now falls in
 * (now rounded down to a multiple of interval_ms; on PostgreSQL the
 * database's clock, or the connection's injected one), unless some node
 * already has (the counts are made only for a slot still free). node
 * (may be NULL) is recorded as the writer. IQ_E_INVALID for an interval outside the bounds above.
 */
int store_health_snapshot(struct store *s, int64_t interval_ms, const char *node,
                          struct health_snapshot_result *ret, struct iq_error *err);

/*
 * store_health_compact - in one transaction: samples (period_s below the
 * rollup period) older than retention->sample_keep_ms, rounded down to
 * the rollup period, become one rollup row per 5-minute bucket and are
 * deleted; every health row older than retention->rollup_keep_ms is
 * deleted. IQ_E_INVALID when rollup_keep_ms < sample_keep_ms or either is
 * not positive.
 */
int store_health_compact(struct store *s, const struct health_retention *retention,
                         struct health_compaction *ret, struct iq_error *err);

/*
 * store_health_series - the health rows of [since_ms, until_ms) combined
 * into buckets of step_s seconds aligned on the Unix epoch (gauges: the
 * maximum, counters: the sum), oldest first; buckets without rows are
 * left out. IQ_E_INVALID for a step or a span beyond the bounds above.
 * ret: health_series_clear.
 */
int store_health_series(struct store *s, int64_t since_ms, int64_t until_ms, int64_t step_s,
                        struct health_series *ret, struct iq_error *err);

void health_series_clear(struct health_series *series);

/* store_alert_counts - how many alert rows are open, acknowledged, and
 * critical among both (another part of the service writes them; this
 * only counts). */
int store_alert_counts(struct store *s, struct alert_counts *ret, struct iq_error *err);

/* health_slot_ms - now_ms rounded down to a multiple of interval_ms. */
static inline int64_t health_slot_ms(int64_t now_ms, int64_t interval_ms)
{
    int64_t slot = now_ms / interval_ms * interval_ms;
    return slot > now_ms ? slot - interval_ms : slot; /* before 1970 */
}

/* health_series_check - the bounds of store_health_series; 0 or
 * IQ_E_INVALID with the field (since, step) in err. */
int health_series_check(int64_t since_ms, int64_t until_ms, int64_t step_s,
                        struct iq_error *err);

#endif
