/*
 * common/perf.c - the rule of a performance window, the same on both
 * backends: what since/until/table may be before any SQL runs. The
 * aggregates themselves are core/perf.c's (percentiles in C: SQLite has
 * no percentile_cont, and one rule must give one answer on both).
 */
#include "store/store.h"

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
