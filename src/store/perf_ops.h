/*
 * perf_ops.h - the store's side of performance analytics: reading a
 * window's attempts (stg_import_performance, summed per attempt) and lock
 * holds (importq_lock_history), and pruning the history: lock history,
 * performance records and resolved alerts (store_history_prune). The rows
 * are aggregated by core/perf.c and judged by core/recommend.c; what a
 * window may be and how the history is pruned are store/common/perf.c's
 * rules (perf_window_check, store_history_prune).
 */
#ifndef IMPORTQ_STORE_PERF_OPS_H
#define IMPORTQ_STORE_PERF_OPS_H

#include "core/error.h"
#include "core/perf.h"

#include <stdbool.h>
#include <stdint.h>

#define PERF_WINDOW_DEFAULT_MS (24 * 3600 * 1000LL)      /* since defaults to until - 24 h */
#define PERF_WINDOW_MAX_MS (31 * 24 * 3600 * 1000LL)     /* a window spans 31 days at most */
#define PERF_ATTEMPTS_MAX 100000 /* attempts a window reads at most (newest first) */
#define PERF_HOLDS_MAX 100000    /* lock holds a window reads at most (newest first) */
#define LOCK_HISTORY_PRUNE_BATCH 10000 /* rows one prune deletes at most */
#define PERF_PRUNE_BATCH 2000   /* attempts one perf prune deletes at most (each a few rows) */
#define ALERT_PRUNE_BATCH 10000 /* resolved alerts one prune deletes at most */
#define HISTORY_PRUNE_ROUNDS 10 /* batches of each kind one store_history_prune runs at most */

/* How long each kind of history is kept (store_history_prune). Every
 * keep_ms must be positive. */
struct history_retention {
    int64_t now_ms;               /* the cutoffs are now_ms - keep_ms */
    int64_t lock_history_keep_ms; /* importq_lock_history, by released_at */
    int64_t performance_keep_ms;  /* stg_import_performance, by attempt (its first row) */
    int64_t alert_keep_ms;        /* resolved alerts, by resolved_at */
};

/* What store_history_prune deleted. */
struct history_pruned {
    int64_t lock_holds;  /* rows of importq_lock_history */
    int64_t perf_rows;   /* rows of stg_import_performance */
    int64_t alerts;      /* resolved alerts */
    bool more;           /* a kind had more to prune than the rounds allowed */
};

/* A window of history: [since_ms, until_ms), optionally one table. */
struct perf_window {
    const char *table;  /* target table, exact; NULL: all */
    int64_t since_ms;
    int64_t until_ms;
};

/*
 * perf_window_check - IQ_E_INVALID with field errors ("since", "until",
 * "table") unless since < until, the window spans PERF_WINDOW_MAX_MS at
 * most and table (when set) is a table name of 1..127 bytes.
 */
int perf_window_check(const struct perf_window *window, struct iq_error *err);

#endif
