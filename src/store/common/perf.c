/*
 * common/perf.c - the rules of the history, the same on both backends:
 * what a performance window's since/until/table may be before any SQL
 * runs, and how the history is pruned (store_history_prune: which kinds,
 * their cutoffs, in bounded batches over the backends' one-batch
 * primitives). The aggregates themselves are core/perf.c's (percentiles
 * in C: SQLite has no percentile_cont, and one rule must give one answer
 * on both).
 */
#include "store/common/backend.h"

#include <string.h>

#define PERF_TABLE_MAX 127

/* perf_window_check - see store/perf_ops.h. */
int perf_window_check(const struct perf_window *window, struct iq_error *err)
{
    if (!window)
        return iq_error_set(err, IQ_E_INVALID, "no window");
    int rc = 0;
    if (window->since_ms >= window->until_ms)
        rc = iq_error_add_field(err, "since", "must be before until");
    else if (window->until_ms - window->since_ms > PERF_WINDOW_MAX_MS)
        rc = iq_error_add_field(err, "since", "the window spans %lld days at most",
                                (long long)(PERF_WINDOW_MAX_MS / (24 * 3600 * 1000LL)));
    if (window->table && (window->table[0] == '\0' || strlen(window->table) > PERF_TABLE_MAX))
        rc = iq_error_add_field(err, "table", "must be 1 to %d bytes", PERF_TABLE_MAX);
    if (rc < 0)
        iq_error_set(err, IQ_E_INVALID, "invalid filter");
    return rc;
}

/* One kind of history and its one-batch primitive. */
typedef int (*prune_batch_fn)(struct store *s, int64_t cutoff_ms, int limit,
                              int64_t *ret_deleted, struct iq_error *err);

static int lock_history_batch(struct store *s, int64_t cutoff_ms, int limit,
                              int64_t *ret_deleted, struct iq_error *err)
{
    (void)limit; /* the primitive's own LOCK_HISTORY_PRUNE_BATCH */
    return s->ops->lock_history_prune(s, cutoff_ms, ret_deleted, err);
}

/*
 * prune_kind - batches of at most limit until one comes back short or
 * HISTORY_PRUNE_ROUNDS ran (then *ret_more). Adds to *ret_deleted.
 */
static int prune_kind(struct store *s, prune_batch_fn batch, int64_t cutoff_ms, int limit,
                      int64_t *ret_deleted, bool *ret_more, struct iq_error *err)
{
    for (int round = 0; round < HISTORY_PRUNE_ROUNDS; round++) {
        int64_t deleted = 0;
        int rc = batch(s, cutoff_ms, limit, &deleted, err);
        if (rc < 0)
            return rc;
        *ret_deleted += deleted;
        if (deleted < limit)
            return 0;
    }
    *ret_more = true;
    return 0;
}

/* store_history_prune - see store.h. */
int store_history_prune(struct store *s, const struct history_retention *retention,
                        struct history_pruned *ret, struct iq_error *err)
{
    struct history_pruned done = {0};
    if (ret)
        *ret = done;
    if (!retention || retention->lock_history_keep_ms <= 0 ||
        retention->performance_keep_ms <= 0 || retention->alert_keep_ms <= 0)
        return iq_error_set(err, IQ_E_INVALID, "history retention: every keep time is positive");
    int64_t now = retention->now_ms;
    int rc = prune_kind(s, lock_history_batch, now - retention->lock_history_keep_ms,
                        LOCK_HISTORY_PRUNE_BATCH, &done.lock_holds, &done.more, err);
    /* Performance records go by whole attempts but are counted in rows:
     * a batch of fewer than limit attempts may still count limit rows or
     * more, and then one more (short) round ends the kind. */
    if (rc == 0)
        rc = prune_kind(s, s->ops->perf_prune, now - retention->performance_keep_ms,
                        PERF_PRUNE_BATCH, &done.perf_rows, &done.more, err);
    if (rc == 0)
        rc = prune_kind(s, s->ops->alert_prune, now - retention->alert_keep_ms,
                        ALERT_PRUNE_BATCH, &done.alerts, &done.more, err);
    if (ret)
        *ret = done;
    return rc;
}
