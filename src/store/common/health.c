/*
 * common/health.c - what both backends and the front door share of the
 * health history (store/health_ops.h): the bounds of a series and its
 * destructor. No SQL here.
 */
#include "store/common/backend.h"

#include <stdlib.h>
#include <string.h>

int health_series_check(int64_t since_ms, int64_t until_ms, int64_t step_s,
                        struct iq_error *err)
{
    if (step_s < HEALTH_STEP_MIN_S || step_s > HEALTH_STEP_MAX_S) {
        iq_error_set(err, IQ_E_INVALID, "invalid health series");
        return iq_error_add_field(err, "step", "must be %d to %d seconds", HEALTH_STEP_MIN_S,
                                  HEALTH_STEP_MAX_S);
    }
    if (since_ms >= until_ms) {
        iq_error_set(err, IQ_E_INVALID, "invalid health series");
        return iq_error_add_field(err, "since", "must be before until");
    }
    int64_t points = (until_ms - since_ms + step_s * 1000 - 1) / (step_s * 1000);
    if (points > HEALTH_SERIES_MAX_POINTS) {
        iq_error_set(err, IQ_E_INVALID, "invalid health series");
        return iq_error_add_field(err, "step",
                                  "%lld points from since to until: at most %d (raise step)",
                                  (long long)points, HEALTH_SERIES_MAX_POINTS);
    }
    return 0;
}

void health_series_clear(struct health_series *series)
{
    if (!series)
        return;
    free(series->items);
    memset(series, 0, sizeof(*series));
}
