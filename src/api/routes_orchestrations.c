/*
 * routes_orchestrations.c - POST /import-orchestrations (a set of jobs
 * with "after" edges by key, validated as a whole and created in one
 * transaction) and GET /import-orchestrations[/{id}] (aggregate status
 * and jobs).
 */
#include "api/routes.h"

#include "core/orchestration.h"
#include "core/timeutil.h"
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parsed body; strings point into the request's JSON, which outlives it. */
struct orchestration_body {
    struct orchestration_job_request *jobs;
    struct job_spec **specs;
    const char **afters; /* every job's after keys, back to back */
    size_t count;
};

static void orchestration_body_clear(struct orchestration_body *b)
{
    for (size_t i = 0; b->specs && i < b->count; i++)
        job_spec_free(b->specs[i]);
    free(b->jobs);
    free(b->specs);
    free(b->afters);
    memset(b, 0, sizeof(*b));
}

/* add_field_prefixed - every field error of from, into into under prefix. */
static void add_fields_prefixed(struct iq_error *into, const struct iq_error *from,
                                const char *prefix)
{
    for (size_t i = 0; i < from->field_count; i++) {
        char field[256];
        snprintf(field, sizeof(field), "%s%s%s", prefix, *from->fields[i].field ? "." : "",
                 from->fields[i].field);
        iq_error_add_field(into, field, "%s", from->fields[i].message);
    }
    if (from->field_count == 0 && from->message)
        iq_error_add_field(into, prefix, "%s", from->message);
}

/* parse_after - the job's "after" keys into afters[*used...]. */
static void parse_after(json_t *after, const char *prefix, struct orchestration_body *b,
                        size_t *used, struct orchestration_job_request *job, struct iq_error *err)
{
    if (!after)
        return;
    if (!json_is_array(after)) {
        char field[64];
        snprintf(field, sizeof(field), "%s.after", prefix);
        iq_error_add_field(err, field, "must be an array of job keys");
        return;
    }
    job->after = b->afters + *used;
    size_t index;
    json_t *key;
    json_array_foreach(after, index, key)
    {
        if (!json_is_string(key)) {
            char field[64];
            snprintf(field, sizeof(field), "%s.after[%zu]", prefix, index);
            iq_error_add_field(err, field, "must be a job key (a string)");
            continue;
        }
        b->afters[(*used)++] = json_string_value(key);
        job->after_count++;
    }
}

/* parse_job - one element of "jobs": key, after, and the rest as a spec. */
static void parse_job(json_t *item, size_t index, const struct job_spec_defaults *defaults,
                      struct orchestration_body *b, size_t *afters_used, struct iq_error *err)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "jobs[%zu]", index);
    if (!json_is_object(item)) {
        iq_error_add_field(err, prefix, "must be a job spec object with a key");
        return;
    }
    struct orchestration_job_request *job = &b->jobs[index];
    json_t *key = json_object_get(item, "key");
    if (!json_is_string(key) || json_string_length(key) == 0 ||
        json_string_length(key) > ORCHESTRATION_MAX_KEY_LEN) {
        char field[48];
        snprintf(field, sizeof(field), "%s.key", prefix);
        iq_error_add_field(err, field, "required: a string of 1 to %d characters",
                           ORCHESTRATION_MAX_KEY_LEN);
    } else {
        job->key = json_string_value(key);
    }
    parse_after(json_object_get(item, "after"), prefix, b, afters_used, job, err);
    json_t *spec_json = json_copy(item);
    json_object_del(spec_json, "key");
    json_object_del(spec_json, "after");
    struct iq_error spec_err = {0};
    if (job_spec_parse(spec_json, defaults, &b->specs[index], &spec_err) < 0)
        add_fields_prefixed(err, &spec_err, prefix);
    job->spec = b->specs[index];
    iq_error_clear(&spec_err);
    json_decref(spec_json);
}

/* parse_body - the whole request; 0, or IQ_E_INVALID with every field error. */
static int parse_body(json_t *body, const struct job_spec_defaults *defaults,
                      struct orchestration_body *b, const char **ret_name, struct iq_error *err)
{
    const char *key;
    json_t *value;
    json_object_foreach(body, key, value)
    {
        if (strcmp(key, "name") != 0 && strcmp(key, "jobs") != 0)
            iq_error_add_field(err, key, "unknown field");
    }
    json_t *name = json_object_get(body, "name");
    if (name && (!json_is_string(name) || json_string_length(name) > ORCHESTRATION_MAX_NAME_LEN))
        iq_error_add_field(err, "name", "must be a string of at most %d characters",
                           ORCHESTRATION_MAX_NAME_LEN);
    *ret_name = json_is_string(name) ? json_string_value(name) : "";
    json_t *jobs = json_object_get(body, "jobs");
    size_t count = json_is_array(jobs) ? json_array_size(jobs) : 0;
    if (count == 0 || count > ORCHESTRATION_MAX_JOBS) {
        iq_error_add_field(err, "jobs", "required: an array of 1 to %d job specs",
                           ORCHESTRATION_MAX_JOBS);
        return iq_error_set(err, IQ_E_INVALID, "the orchestration is not valid");
    }
    size_t after_total = 0;
    for (size_t i = 0; i < count; i++) {
        json_t *after = json_object_get(json_array_get(jobs, i), "after");
        after_total += json_is_array(after) ? json_array_size(after) : 0;
    }
    b->jobs = calloc(count, sizeof(*b->jobs));
    b->specs = calloc(count, sizeof(*b->specs));
    b->afters = calloc(after_total ? after_total : 1, sizeof(*b->afters));
    b->count = count;
    if (!b->jobs || !b->specs || !b->afters)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    size_t afters_used = 0;
    for (size_t i = 0; i < count; i++)
        parse_job(json_array_get(jobs, i), i, defaults, b, &afters_used, err);
    if (err->field_count > 0)
        return iq_error_set(err, IQ_E_INVALID, "the orchestration is not valid");
    return 0;
}

static json_t *orchestration_json(const struct orchestration *o)
{
    char created[TIME_RFC3339_LEN], updated[TIME_RFC3339_LEN];
    json_t *jobs = json_array();
    for (size_t i = 0; i < o->job_count; i++) {
        json_t *job = api_job_json(o->jobs[i]);
        json_object_set_new(job, "key", json_string(o->keys[i] ? o->keys[i] : ""));
        json_array_append_new(jobs, job);
    }
    return json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s, s:o}", "id", o->id, "name", o->name, "status",
                     o->status, "created_by", o->created_by, "created_at",
                     time_format_rfc3339(o->created_at_ms, created), "updated_at",
                     time_format_rfc3339(o->updated_at_ms, updated), "jobs", jobs);
}

void route_orchestration_create(struct api_request *req, struct api_response *res)
{
    json_t *body = NULL;
    if (!api_body_json(req, res, &body))
        return;
    struct orchestration_body parsed = {0};
    struct orchestration created = {0};
    struct iq_error err = {0};
    struct job_spec_defaults defaults = api_spec_defaults(req->api);
    const char *name = "";
    if (parse_body(body, &defaults, &parsed, &name, &err) < 0) {
        api_reply_error(req, res, &err);
        goto done;
    }
    struct store *store = api_store(req, res);
    if (!store)
        goto done;
    struct orchestration_request request = {
        .name = name,
        .jobs = parsed.jobs,
        .job_count = parsed.count,
        .max_queue_size = (int)req->api->config->max_queue_size,
    };
    if (store_orchestration_create(store, &request, &req->actx, &created, &err) < 0) {
        int code = err.code;
        api_reply_error(req, res, &err);
        if (code == IQ_E_QUEUE_FULL)
            api_header_add(res, "Retry-After", "5");
        goto done;
    }
    engine_wake(req->api->engine);
    api_status_invalidate(req->api);
    char location[128];
    snprintf(location, sizeof(location), API_PREFIX "/import-orchestrations/%s", created.id);
    api_reply_json(res, 201, orchestration_json(&created));
    api_header_add(res, MHD_HTTP_HEADER_LOCATION, location);
done:
    orchestration_clear(&created);
    orchestration_body_clear(&parsed);
    json_decref(body);
}

void route_orchestration_list(struct api_request *req, struct api_response *res)
{
    static const char *const allowed[] = {"limit", "cursor", NULL};
    int64_t limit = 20;
    if (api_query_reject_unknown(req, res, allowed) ||
        api_query_int(req, res, "limit", 1, 500, &limit) < 0)
        return;
    char after_id[UUID_STR_LEN];
    if (!api_query_cursor(req, res, "orch", after_id, sizeof(after_id)))
        return;
    if (after_id[0] && !uuid_is_valid(after_id)) {
        api_reply_problem(req, res, IQ_E_BAD_REQUEST, "the cursor is not valid");
        return;
    }
    struct iq_error err = {0};
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct orchestration_page page = {0};
    if (store_orchestration_list(store, (int)limit, after_id[0] ? after_id : NULL, &page, &err) <
        0) {
        api_reply_error(req, res, &err);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < page.count; i++)
        json_array_append_new(items, orchestration_json(&page.items[i]));
    json_t *next = api_next_cursor_json(req->api, "orch", page.next_after_id);
    orchestration_page_clear(&page);
    api_reply_json(res, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
}

void route_orchestration_get(struct api_request *req, struct api_response *res)
{
    if (!api_param_uuid(req, res, 0, "the orchestration id"))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct orchestration o = {0};
    struct iq_error err = {0};
    if (store_orchestration_get(store, req->params[0], &o, &err) < 0)
        api_reply_error(req, res, &err);
    else
        api_reply_json(res, 200, orchestration_json(&o));
    orchestration_clear(&o);
}
