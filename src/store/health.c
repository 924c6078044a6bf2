/*
 * health.c - the front door of the health history (store/health_ops.h):
 * the bounds every backend shares are checked here before a backend runs
 * its SQL (common/health.c has the series' own). No SQL here.
 */
#include "store/common/backend.h"

#include <string.h>

int store_health_snapshot(struct store *s, int64_t interval_ms, const char *node,
                          struct health_snapshot_result *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    if (interval_ms < HEALTH_INTERVAL_MIN_MS || interval_ms > HEALTH_INTERVAL_MAX_MS ||
        interval_ms % 1000 != 0)
        return iq_error_set(err, IQ_E_INVALID,
                            "health interval: whole seconds from 1 s to 1 h, not %lld ms",
                            (long long)interval_ms);
    return s->ops->health_snapshot(s, interval_ms, node, ret, err);
}

int store_health_compact(struct store *s, const struct health_retention *retention,
                         struct health_compaction *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    if (retention->sample_keep_ms <= 0 || retention->rollup_keep_ms < retention->sample_keep_ms)
        return iq_error_set(err, IQ_E_INVALID,
                            "health retention: samples kept a positive time, rollups at least "
                            "as long");
    return s->ops->health_compact(s, retention, ret, err);
}

int store_health_series(struct store *s, int64_t since_ms, int64_t until_ms, int64_t step_s,
                        struct health_series *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    int rc = health_series_check(since_ms, until_ms, step_s, err);
    return rc < 0 ? rc : s->ops->health_series(s, since_ms, until_ms, step_s, ret, err);
}

int store_alert_counts(struct store *s, struct alert_counts *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    return s->ops->alert_counts(s, ret, err);
}
