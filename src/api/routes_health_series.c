/*
 * routes_health_series.c - GET /import-monitoring/health: the health
 * history (engine/health.c writes it) as a series for charts. Arguments:
 * since (an RFC 3339 time, or a duration such as "6h" meaning that long
 * before until; default 1h), until (RFC 3339, default now) and step (a
 * duration, whole seconds; default the span / 300, at least the sampling
 * interval). Buckets are aligned on multiples of step since the Unix
 * epoch, so a chart that refreshes keeps its buckets; buckets without
 * history are left out. Every bad argument is a 422 naming it.
 */
#include "api/routes.h"

#include "core/timeutil.h"

#include <string.h>

#define HEALTH_DEFAULT_SPAN_MS (3600 * 1000LL)
#define HEALTH_DEFAULT_POINTS 300

/* parse_since - since as a time or as a duration before until_ms. */
static int parse_since(const char *text, int64_t until_ms, int64_t *ret_ms)
{
    if (time_parse_rfc3339(text, ret_ms) == 0)
        return 0;
    int64_t span_ms = 0;
    if (config_parse_duration_ms(text, &span_ms) < 0 || span_ms <= 0)
        return -1;
    *ret_ms = until_ms - span_ms;
    return 0;
}

/* default_step_s - span / HEALTH_DEFAULT_POINTS in whole seconds, at
 * least the sampling interval. */
static int64_t default_step_s(const struct config *cfg, int64_t span_ms)
{
    int64_t step_s = (span_ms / 1000 + HEALTH_DEFAULT_POINTS - 1) / HEALTH_DEFAULT_POINTS;
    int64_t interval_s = cfg->health_interval / 1000;
    if (step_s < interval_s)
        step_s = interval_s;
    if (step_s < HEALTH_STEP_MIN_S)
        step_s = HEALTH_STEP_MIN_S;
    return step_s > HEALTH_STEP_MAX_S ? HEALTH_STEP_MAX_S : step_s;
}

/* series_arguments - since, until and step from the query; field errors
 * for every bad one into err (IQ_E_INVALID), then the series' bounds. */
static int series_arguments(struct api_request *req, int64_t *ret_since_ms,
                            int64_t *ret_until_ms, int64_t *ret_step_s, struct iq_error *err)
{
    const char *since = api_query(req, "since"), *until = api_query(req, "until");
    const char *step = api_query(req, "step");
    *ret_until_ms = time_now_ms();
    if (until && time_parse_rfc3339(until, ret_until_ms) < 0)
        iq_error_add_field(err, "until", "must be an RFC 3339 time, e.g. 2026-11-29T10:00:00Z");
    *ret_since_ms = *ret_until_ms - HEALTH_DEFAULT_SPAN_MS;
    if (since && parse_since(since, *ret_until_ms, ret_since_ms) < 0)
        iq_error_add_field(err, "since", "must be an RFC 3339 time or a duration such as 6h");
    int64_t step_ms = 0;
    if (step && (config_parse_duration_ms(step, &step_ms) < 0 || step_ms % 1000 != 0))
        iq_error_add_field(err, "step", "must be a duration in whole seconds, such as 60 or 5min");
    if (err->field_count > 0)
        return iq_error_set(err, IQ_E_INVALID, "invalid health series arguments");
    *ret_step_s = step ? step_ms / 1000 : default_step_s(req->api->config,
                                                          *ret_until_ms - *ret_since_ms);
    return health_series_check(*ret_since_ms, *ret_until_ms, *ret_step_s, err);
}

/* point_json - one bucket. New reference. */
static json_t *point_json(const struct health_point *point)
{
    const struct health_sample *s = &point->sum;
    char at[TIME_RFC3339_LEN];
    double rows_per_s = s->period_s > 0 ? (double)s->rows_imported / (double)s->period_s : 0.0;
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I}", "at",
                     time_format_rfc3339(point->at_ms, at), "covered_s", (json_int_t)s->period_s,
                     "queued", (json_int_t)s->queued, "held", (json_int_t)s->held, "running",
                     (json_int_t)s->running, "locks_held", (json_int_t)s->locks_held,
                     "jobs_finished", (json_int_t)s->jobs_finished, "jobs_failed",
                     (json_int_t)s->jobs_failed, "rows_imported", (json_int_t)s->rows_imported,
                     "rows_per_s", rows_per_s, "oldest_queued_age_s",
                     (json_int_t)s->oldest_queued_age_s);
}

void route_health_series(struct api_request *req, struct api_response *res)
{
    static const char *const allowed[] = {"since", "until", "step", NULL};
    if (api_query_reject_unknown(req, res, allowed))
        return;
    int64_t since_ms = 0, until_ms = 0, step_s = 0;
    struct iq_error err = {0};
    if (series_arguments(req, &since_ms, &until_ms, &step_s, &err) < 0) {
        api_reply_error(req, res, &err);
        return;
    }
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct health_series series = {0};
    if (store_health_series(store, since_ms, until_ms, step_s, &series, &err) < 0) {
        api_reply_error(req, res, &err);
        return;
    }
    json_t *points = json_array();
    for (size_t i = 0; i < series.count; i++)
        json_array_append_new(points, point_json(&series.items[i]));
    health_series_clear(&series);
    char since[TIME_RFC3339_LEN], until[TIME_RFC3339_LEN];
    api_reply_json(res, 200,
                   json_pack("{s:s, s:s, s:I, s:I, s:o}", "since",
                             time_format_rfc3339(since_ms, since), "until",
                             time_format_rfc3339(until_ms, until), "step_s", (json_int_t)step_s,
                             "interval_s", (json_int_t)(req->api->config->health_interval / 1000),
                             "points", points));
}
