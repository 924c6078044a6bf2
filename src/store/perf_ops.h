/*
 * perf_ops.h - the store's side of performance analytics: reading a
 * window's attempts (stg_import_performance, summed per attempt) and lock
 * holds (importq_lock_history), and pruning the lock history. The rows
 * are aggregated by core/perf.c and judged by core/recommend.c; what a
 * window may be is store/common/perf.c's rule (perf_window_check).
 */
#ifndef IMPORTQ_STORE_PERF_OPS_H
#define IMPORTQ_STORE_PERF_OPS_H

#include "core/error.h"
#include "core/perf.h"

#include <stdint.h>

#define PERF_WINDOW_DEFAULT_MS (24 * 3600 * 1000LL)      /* since defaults to until - 24 h */
#define PERF_WINDOW_MAX_MS (31 * 24 * 3600 * 1000LL)     /* a window spans 31 days at most */
#define PERF_ATTEMPTS_MAX 100000 /* attempts a window reads at most (newest first) */
#define PERF_HOLDS_MAX 100000    /* lock holds a window reads at most (newest first) */
#define LOCK_HISTORY_PRUNE_BATCH 10000 /* rows one prune deletes at most */

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
