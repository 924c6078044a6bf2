/*
 * routes_perf.c - performance analytics: GET /import-performance
 * (per-table aggregates of a window's attempts), GET
 * /import-resources/stats (per-resource lock holds and waits) and GET
 * /import-performance/recommendations (core/recommend.c over the same
 * history). Each takes since/until (RFC 3339; default the last 24 hours,
 * 31 days at most); a bad value is a 422 naming the field. The rows come
 * from the store (store/perf_ops.h), the aggregates from core/perf.c.
 */
#include "api/routes.h"

#include "core/perf.h"
#include "core/recommend.h"
#include "core/timeutil.h"
#include "util/config.h"

#include <stdio.h>
#include <string.h>

#define PERF_LIMIT_DEFAULT 100
#define PERF_LIMIT_MAX 500

/* The filters of a request, read before any SQL. */
struct perf_query {
    struct perf_window window;
    int64_t limit;
};

/* query_time - key as RFC 3339 into *ret_ms (untouched when absent); a field error when bad. */
static void query_time(struct api_request *req, const char *key, int64_t *ret_ms,
                       struct iq_error *err)
{
    const char *text = api_query(req, key);
    if (text && time_parse_rfc3339(text, ret_ms) < 0)
        iq_error_add_field(err, key, "must be an RFC 3339 time, e.g. 2026-11-29T10:00:00Z");
}

/*
 * perf_query_read - the request's filters (allowed: the NULL-terminated
 * names); false after answering 400 (an unknown parameter) or 422 (a bad
 * value, every bad field named).
 */
static bool perf_query_read(struct api_request *req, struct api_response *res,
                            const char *const *allowed, struct perf_query *ret)
{
    if (api_query_reject_unknown(req, res, allowed))
        return false;
    struct iq_error err = {0};
    ret->window.until_ms = time_now_ms();
    ret->window.since_ms = 0;
    ret->window.table = api_query(req, "table");
    ret->limit = PERF_LIMIT_DEFAULT;
    query_time(req, "until", &ret->window.until_ms, &err);
    query_time(req, "since", &ret->window.since_ms, &err);
    if (!api_query(req, "since"))
        ret->window.since_ms = ret->window.until_ms - PERF_WINDOW_DEFAULT_MS;
    const char *limit = api_query(req, "limit");
    if (limit && (config_parse_int(limit, &ret->limit) < 0 || ret->limit < 1 ||
                  ret->limit > PERF_LIMIT_MAX))
        iq_error_add_field(&err, "limit", "must be an integer from 1 to %d", PERF_LIMIT_MAX);
    if (err.field_count == 0)
        perf_window_check(&ret->window, &err);
    if (err.field_count == 0)
        return true;
    iq_error_set(&err, IQ_E_INVALID, "invalid filter");
    api_reply_error(req, res, &err);
    return false;
}

/* window_json - {"since", "until"} of the answer. */
static json_t *window_json(const struct perf_window *window)
{
    char since[TIME_RFC3339_LEN], until[TIME_RFC3339_LEN];
    return json_pack("{s:s, s:s}", "since", time_format_rfc3339(window->since_ms, since), "until",
                     time_format_rfc3339(window->until_ms, until));
}

/* answer - window_json plus "truncated", "items" and more (stolen). */
static void answer(struct api_response *res, const struct perf_window *window, bool truncated,
                   json_t *items, const char *key, json_t *value)
{
    json_t *body = window_json(window);
    json_object_set_new(body, "truncated", json_boolean(truncated));
    json_object_set_new(body, "items", items);
    if (key)
        json_object_set_new(body, key, value);
    api_reply_json(res, 200, body);
}

static json_t *quantiles_json(const struct perf_quantiles *q, int64_t mean_ms)
{
    return json_pack("{s:I, s:I, s:I, s:I}", "p50_ms", (json_int_t)q->p50, "p95_ms",
                     (json_int_t)q->p95, "p99_ms", (json_int_t)q->p99, "mean_ms",
                     (json_int_t)mean_ms);
}

/* table_json - one item of GET /import-performance. */
static json_t *table_json(const struct perf_table_stats *t)
{
    json_t *phases = json_object();
    for (int p = 0; p < PERF_PHASE_COUNT; p++)
        json_object_set_new(phases, perf_phase_name((enum perf_phase)p),
                            quantiles_json(&t->phase_ms[p], t->phase_mean_ms[p]));
    return json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:o}", "table",
        t->table, "count", (json_int_t)t->attempts, "completed", (json_int_t)t->completed,
        "failed", (json_int_t)t->failed, "cancelled", (json_int_t)t->cancelled, "p50_ms",
        (json_int_t)t->duration_ms.p50, "p95_ms", (json_int_t)t->duration_ms.p95, "p99_ms",
        (json_int_t)t->duration_ms.p99, "mean_ms", (json_int_t)t->duration_mean_ms, "rows_per_s",
        t->rows_per_s, "rows_read", (json_int_t)t->rows_read, "rows_rejected",
        (json_int_t)t->rows_rejected, "bytes_read", (json_int_t)t->bytes_read, "phases", phases);
}

void route_perf_list(struct api_request *req, struct api_response *res)
{
    static const char *const allowed[] = {"table", "since", "until", "limit", NULL};
    struct perf_query query;
    if (!perf_query_read(req, res, allowed, &query))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct perf_attempts attempts = {0};
    struct perf_report report = {0};
    struct iq_error err = {0};
    if (store_perf_attempts(store, &query.window, &attempts, &err) < 0 ||
        perf_report_build(&attempts, &report, &err) < 0) {
        perf_attempts_clear(&attempts);
        api_reply_error(req, res, &err);
        return;
    }
    perf_attempts_clear(&attempts);
    json_t *items = json_array();
    for (size_t i = 0; i < report.count && (int64_t)i < query.limit; i++)
        json_array_append_new(items, table_json(&report.tables[i]));
    answer(res, &query.window, report.truncated || (int64_t)report.count > query.limit, items,
           "attempts", json_integer(report.attempts));
    perf_report_clear(&report);
}

/* resource_json - one item of GET /import-resources/stats. */
static json_t *resource_json(const struct resource_stats *r)
{
    json_t *longest = json_array();
    for (size_t i = 0; i < r->top_count; i++) {
        const struct resource_wait *w = &r->top[i];
        char at[TIME_RFC3339_LEN];
        json_array_append_new(
            longest, json_pack("{s:s, s:i, s:I, s:s, s:s?}", "job_id", w->job_id, "attempt",
                               w->attempt, "waited_ms", (json_int_t)w->waited_ms, "acquired_at",
                               time_format_rfc3339(w->acquired_at_ms, at), "blocked_by",
                               w->blocked_by[0] ? w->blocked_by : NULL));
    }
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "name",
                     r->name, "locks", (json_int_t)r->locks, "hold_total_ms",
                     (json_int_t)r->hold_total_ms, "hold_p50_ms", (json_int_t)r->hold_ms.p50,
                     "hold_p95_ms", (json_int_t)r->hold_ms.p95, "hold_p99_ms",
                     (json_int_t)r->hold_ms.p99, "waits", (json_int_t)r->waits, "wait_total_ms",
                     (json_int_t)r->wait_total_ms, "wait_p50_ms", (json_int_t)r->wait_ms.p50,
                     "wait_p95_ms", (json_int_t)r->wait_ms.p95, "wait_p99_ms",
                     (json_int_t)r->wait_ms.p99, "longest_waits", longest);
}

void route_resource_stats(struct api_request *req, struct api_response *res)
{
    static const char *const allowed[] = {"since", "until", "limit", NULL};
    struct perf_query query;
    if (!perf_query_read(req, res, allowed, &query))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct lock_holds holds = {0};
    struct resource_report report = {0};
    struct iq_error err = {0};
    if (store_lock_holds(store, &query.window, &holds, &err) < 0 ||
        resource_report_build(&holds, &report, &err) < 0) {
        lock_holds_clear(&holds);
        api_reply_error(req, res, &err);
        return;
    }
    lock_holds_clear(&holds);
    json_t *items = json_array();
    for (size_t i = 0; i < report.count && (int64_t)i < query.limit; i++)
        json_array_append_new(items, resource_json(&report.items[i]));
    answer(res, &query.window, report.truncated || (int64_t)report.count > query.limit, items,
           NULL, NULL);
    resource_report_clear(&report);
}

void route_perf_recommendations(struct api_request *req, struct api_response *res)
{
    static const char *const allowed[] = {"since", "until", NULL};
    struct perf_query query;
    if (!perf_query_read(req, res, allowed, &query))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct perf_attempts attempts = {0};
    struct lock_holds holds = {0};
    struct recommendation_list list = {0};
    struct iq_error err = {0};
    int rc = store_perf_attempts(store, &query.window, &attempts, &err);
    if (rc == 0)
        rc = store_lock_holds(store, &query.window, &holds, &err);
    struct recommend_input in = {.attempts = &attempts,
                                 .holds = &holds,
                                 .max_concurrent = (int)req->api->config->max_concurrent,
                                 .since_ms = query.window.since_ms,
                                 .until_ms = query.window.until_ms};
    if (rc == 0)
        rc = recommend(&in, &list, &err);
    bool truncated = attempts.truncated || holds.truncated;
    perf_attempts_clear(&attempts);
    lock_holds_clear(&holds);
    if (rc < 0) {
        recommendation_list_clear(&list);
        api_reply_error(req, res, &err);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < list.count; i++)
        json_array_append_new(items, json_pack("{s:s, s:s, s:O}", "kind", list.items[i].kind,
                                               "message", list.items[i].message, "evidence",
                                               list.items[i].evidence));
    recommendation_list_clear(&list);
    answer(res, &query.window, truncated, items, NULL, NULL);
}
