/*
 * routes_schedule_runs.c - what a schedule did and run-now:
 * POST /scheduled-imports/{id}/run (a job at once through the scheduler's
 * own fire transaction, store_schedule_fire with SCHEDULE_FIRE_NOW) and
 * GET /scheduled-imports/{id}/history (its fire rows, newest first, keyset
 * pages). Creating, changing and listing schedules is routes_schedules.c's.
 */
#include "api/routes.h"

#include "core/timeutil.h"
#include "engine/engine.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/*
 * route_schedule_run - 202 + the job. The overlap policy applies as to a
 * scheduled fire (skip: 409 while the previous job is unfinished; queue:
 * the job waits for it), the queue's capacity as to a submission (429);
 * next_run_at does not move. Works on a paused schedule too.
 */
void route_schedule_run(struct api_request *req, struct api_response *res)
{
    if (!api_param_uuid(req, res, 0, "the schedule id"))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct job_spec_defaults defaults = api_spec_defaults(req->api);
    struct schedule_fire_request fire = {
        .schedule_id = req->params[0],
        .kind = SCHEDULE_FIRE_NOW,
        .max_queue_size = (int)req->api->config->max_queue_size,
        .defaults = &defaults,
    };
    struct schedule_fire_result result;
    struct iq_error err = {0};
    if (store_schedule_fire(store, &fire, &req->actx, &result, &err) < 0) {
        if (err.code == IQ_E_QUEUE_FULL)
            api_header_add(res, "Retry-After", "5");
        api_reply_error(req, res, &err);
        return;
    }
    if (!result.job) { /* a run now either makes a job or fails: never here */
        api_reply_problem(req, res, IQ_E_CONFLICT, "the schedule did not run");
        schedule_fire_result_clear(&result);
        return;
    }
    engine_wake(req->api->engine);
    api_status_invalidate(req->api);
    char location[128];
    snprintf(location, sizeof(location), API_PREFIX "/import-queue/%s", result.job->id);
    api_header_add(res, "Location", location);
    api_reply_json(res, 202, api_job_json(result.job));
    schedule_fire_result_clear(&result);
}

/*
 * history_kind - the cursor kind of one schedule's history, "fire/<id>":
 * a cursor of another schedule's history is refused, not read as a
 * position in this one.
 */
static void history_kind(const struct api_request *req, char ret[UUID_STR_LEN + 8])
{
    snprintf(ret, UUID_STR_LEN + 8, "fire/%s", req->params[0]);
}

/* history_cursor - "<fire_at_ms>:<id>" decoded into *ret; false after a 400. */
static bool history_cursor(struct api_request *req, struct api_response *res,
                           struct schedule_fire_cursor *ret, bool *ret_present)
{
    char value[64], kind[UUID_STR_LEN + 8];
    *ret_present = false;
    history_kind(req, kind);
    if (!api_query_cursor(req, res, kind, value, sizeof(value)))
        return false;
    if (!value[0])
        return true;
    long long at = 0, id = 0;
    char tail;
    if (sscanf(value, "%lld:%lld%c", &at, &id, &tail) != 2 || at <= 0 || id <= 0) {
        api_reply_problem(req, res, IQ_E_BAD_REQUEST, "the cursor is not valid");
        return false;
    }
    *ret = (struct schedule_fire_cursor){.fire_at_ms = at, .id = id};
    *ret_present = true;
    return true;
}

/* fire_json - one history item. */
static json_t *fire_json(const struct schedule_fire_row *row)
{
    char at[TIME_RFC3339_LEN];
    return json_pack("{s:s, s:o, s:s, s:o}", "fire_time", time_format_rfc3339(row->fire_at_ms, at),
                     "job_id", row->job_id[0] ? json_string(row->job_id) : json_null(), "outcome",
                     schedule_fire_outcome_name(row->outcome), "detail",
                     row->detail ? json_string(row->detail) : json_null());
}

/* route_schedule_history - 200 {"items":[{fire_time, job_id, outcome,
 * detail}], "next_cursor"}; limit 1..500 (default 50); 404 unknown. */
void route_schedule_history(struct api_request *req, struct api_response *res)
{
    static const char *const allowed[] = {"limit", "cursor", NULL};
    int64_t limit = SCHEDULE_FIRES_LIMIT_DEFAULT;
    struct schedule_fire_cursor cursor;
    bool has_cursor = false;
    if (!api_param_uuid(req, res, 0, "the schedule id") ||
        api_query_reject_unknown(req, res, allowed) ||
        api_query_int(req, res, "limit", 1, SCHEDULE_FIRES_LIMIT_MAX, &limit) < 0 ||
        !history_cursor(req, res, &cursor, &has_cursor))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct schedule_fire_page page;
    struct iq_error err = {0};
    if (store_schedule_fires_list(store, req->params[0], (int)limit, has_cursor ? &cursor : NULL,
                                  &page, &err) < 0) {
        api_reply_error(req, res, &err);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < page.count; i++)
        json_array_append_new(items, fire_json(&page.items[i]));
    char next[64] = "", kind[UUID_STR_LEN + 8];
    history_kind(req, kind);
    if (page.more && page.count > 0)
        snprintf(next, sizeof(next), "%" PRId64 ":%" PRId64, page.items[page.count - 1].fire_at_ms,
                 page.items[page.count - 1].id);
    schedule_fire_page_clear(&page);
    api_reply_json(res, 200,
                   json_pack("{s:o, s:o}", "items", items, "next_cursor",
                             api_next_cursor_json(req->api, kind, next)));
}
