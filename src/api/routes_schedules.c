/*
 * routes_schedules.c - managing scheduled imports: POST/GET
 * /scheduled-imports, GET/PUT/DELETE /scheduled-imports/{id}, POST
 * /{id}/pause and /{id}/resume, and GET /scheduled-imports/preview (the
 * next fire times of an expression, for the GUI's live preview). A
 * created or changed schedule is answered with its conflict warnings
 * (schedule_warnings.c). Not here: firing schedules, run-now and the fire
 * history (the engine's and their routes).
 */
#include "api/routes.h"
#include "api/schedule_warnings.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEDULES API_PREFIX "/scheduled-imports"
#define PREVIEW_COUNT_DEFAULT 5

/* reply_schedule - status + the schedule, with "warnings" when warn. */
static void reply_schedule(struct api_request *req, struct api_response *res, struct store *store,
                           int status, const struct schedule *schedule, bool warn)
{
    json_t *json = schedule_to_json(schedule);
    if (json && warn) {
        struct job_spec_defaults defaults = api_spec_defaults(req->api);
        json_t *warnings = schedule_warnings_json(store, schedule, &defaults);
        json_object_set_new(json, "warnings", warnings ? warnings : json_array());
    }
    api_reply_json(res, status, json);
}

/* parse_spec - the body as a schedule's editable fields; false after answering 422. */
static bool parse_spec(struct api_request *req, struct api_response *res, json_t *body,
                       struct schedule_spec *spec)
{
    struct iq_error err = {0};
    struct job_spec_defaults defaults = api_spec_defaults(req->api);
    if (schedule_spec_parse(body, &defaults, spec, &err) == 0)
        return true;
    if (err.code == IQ_E_INVALID && !err.message)
        iq_error_set(&err, IQ_E_INVALID, "the schedule is not valid");
    api_reply_error(req, res, &err);
    iq_error_clear(&err);
    return false;
}

void route_schedule_create(struct api_request *req, struct api_response *res)
{
    json_t *body = NULL;
    if (!api_body_json(req, res, &body))
        return;
    struct schedule_spec spec;
    struct schedule created = {0};
    struct iq_error err = {0};
    if (!parse_spec(req, res, body, &spec))
        goto done;
    struct store *store = api_store(req, res);
    if (!store)
        goto done;
    struct schedule_request request = {.spec = &spec,
                                       .max_schedules = (int)req->api->config->max_schedules};
    if (store_schedule_create(store, &request, &req->actx, &created, &err) < 0) {
        if (err.code == IQ_E_INVALID && !err.message)
            iq_error_set(&err, IQ_E_INVALID, "the schedule is not valid");
        api_reply_error(req, res, &err);
        goto done;
    }
    char location[128];
    snprintf(location, sizeof(location), SCHEDULES "/%s", created.id);
    reply_schedule(req, res, store, 201, &created, true);
    api_header_add(res, MHD_HTTP_HEADER_LOCATION, location);
done:
    schedule_clear(&created);
    schedule_spec_clear(&spec);
    iq_error_clear(&err);
    json_decref(body);
}

/* query_enabled - the "enabled" filter (true/false); false after answering 400. */
static bool query_enabled(struct api_request *req, struct api_response *res,
                          struct schedule_filter *filter)
{
    const char *text = api_query(req, "enabled");
    if (!text)
        return true;
    filter->enabled_set = true;
    if (strcmp(text, "true") == 0)
        filter->enabled = true;
    else if (strcmp(text, "false") == 0)
        filter->enabled = false;
    else {
        api_reply_problem(req, res, IQ_E_BAD_REQUEST, "enabled must be true or false");
        return false;
    }
    return true;
}

void route_schedule_list(struct api_request *req, struct api_response *res)
{
    static const char *const allowed[] = {"enabled", "q", "limit", "cursor", NULL};
    int64_t limit = SCHEDULE_LIST_LIMIT_DEFAULT;
    struct schedule_filter filter = {0};
    if (api_query_reject_unknown(req, res, allowed) ||
        api_query_int(req, res, "limit", 1, SCHEDULE_LIST_LIMIT_MAX, &limit) < 0 ||
        !query_enabled(req, res, &filter))
        return;
    filter.q = api_query(req, "q");
    if (filter.q && strlen(filter.q) > SCHEDULE_MAX_NAME_LEN) {
        api_reply_problem(req, res, IQ_E_BAD_REQUEST, "q: at most %d bytes", SCHEDULE_MAX_NAME_LEN);
        return;
    }
    char after_id[UUID_STR_LEN];
    if (!api_query_cursor(req, res, "sched", after_id, sizeof(after_id)))
        return;
    if (after_id[0] && !uuid_is_valid(after_id)) {
        api_reply_problem(req, res, IQ_E_BAD_REQUEST, "the cursor is not valid");
        return;
    }
    filter.limit = (int)limit;
    filter.after_id = after_id[0] ? after_id : NULL;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct schedule_page page = {0};
    struct iq_error err = {0};
    if (store_schedule_list(store, &filter, &page, &err) < 0) {
        api_reply_error(req, res, &err);
        iq_error_clear(&err);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < page.count; i++)
        json_array_append_new(items, schedule_to_json(&page.items[i]));
    json_t *next = api_next_cursor_json(req->api, "sched", page.next_after_id);
    schedule_page_clear(&page);
    api_reply_json(res, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
}

void route_schedule_get(struct api_request *req, struct api_response *res)
{
    if (!api_param_uuid(req, res, 0, "the schedule id"))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct schedule schedule;
    struct iq_error err = {0};
    if (store_schedule_get(store, req->params[0], &schedule, &err) < 0)
        api_reply_error(req, res, &err);
    else
        reply_schedule(req, res, store, 200, &schedule, false);
    schedule_clear(&schedule);
    iq_error_clear(&err);
}

void route_schedule_update(struct api_request *req, struct api_response *res)
{
    if (!api_param_uuid(req, res, 0, "the schedule id"))
        return;
    json_t *body = NULL;
    if (!api_body_json(req, res, &body))
        return;
    struct schedule_spec spec;
    struct schedule updated = {0};
    struct iq_error err = {0};
    struct store *store = NULL;
    if (parse_spec(req, res, body, &spec) && (store = api_store(req, res))) {
        if (store_schedule_update(store, req->params[0], &spec, &req->actx, &updated, &err) < 0)
            api_reply_error(req, res, &err);
        else
            reply_schedule(req, res, store, 200, &updated, true);
    }
    schedule_clear(&updated);
    schedule_spec_clear(&spec);
    iq_error_clear(&err);
    json_decref(body);
}

/* The store call behind DELETE, pause and resume. */
typedef int (*schedule_action_fn)(struct store *s, const char *id, const struct audit_context *actx,
                                  struct schedule *ret, struct iq_error *err);

/* act - run action on the route's schedule and answer 200 with it. */
static void act(struct api_request *req, struct api_response *res, schedule_action_fn action)
{
    if (!api_param_uuid(req, res, 0, "the schedule id"))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct schedule schedule;
    struct iq_error err = {0};
    if (action(store, req->params[0], &req->actx, &schedule, &err) < 0)
        api_reply_error(req, res, &err);
    else
        reply_schedule(req, res, store, 200, &schedule, false);
    schedule_clear(&schedule);
    iq_error_clear(&err);
}

void route_schedule_delete(struct api_request *req, struct api_response *res)
{
    act(req, res, store_schedule_delete);
}

void route_schedule_pause(struct api_request *req, struct api_response *res)
{
    act(req, res, store_schedule_pause);
}

void route_schedule_resume(struct api_request *req, struct api_response *res)
{
    act(req, res, store_schedule_resume);
}

void route_schedule_preview(struct api_request *req, struct api_response *res)
{
    static const char *const allowed[] = {"cron", "timezone", "count", "after", NULL};
    int64_t count = PREVIEW_COUNT_DEFAULT;
    int64_t after_ms = 0;
    if (api_query_reject_unknown(req, res, allowed) ||
        api_query_int(req, res, "count", 1, CRON_MAX_COUNT, &count) < 0 ||
        api_query_time(req, res, "after", &after_ms) < 0)
        return;
    if (after_ms == 0)
        after_ms = iq_clock_now_ms(NULL);
    const char *cron = api_query(req, "cron");
    struct iq_error err = {0};
    if (!cron || !cron[0]) {
        iq_error_add_field(&err, "cron", "required: a cron expression or an RFC 3339 time");
        iq_error_set(&err, IQ_E_INVALID, "cron is required");
        api_reply_error(req, res, &err);
        iq_error_clear(&err);
        return;
    }
    int64_t times[CRON_MAX_COUNT];
    size_t found = 0;
    if (cron_preview(cron, api_query(req, "timezone"), after_ms, (size_t)count, times, &found,
                     &err) < 0) {
        api_reply_error(req, res, &err);
        iq_error_clear(&err);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < found; i++) {
        char text[TIME_RFC3339_LEN];
        json_array_append_new(list, json_string(time_format_rfc3339(times[i], text)));
    }
    api_reply_json(res, 200, json_pack("{s:o}", "times", list));
}
