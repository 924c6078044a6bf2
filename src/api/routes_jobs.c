/*
 * routes_jobs.c - the import queue's reading and submitting routes:
 * POST /import-queue, GET /import-queue (filters, keyset pages),
 * GET /import-queue/status and GET /import-queue/{id}. Changing routes
 * (PUT, DELETE, execute, rejects) are in routes_job_actions.c.
 */
#include "api/routes.h"

#include "core/timeutil.h"
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_FULL_RETRY_AFTER_S "5"
#define REJECTS_IN_JOB 10
#define FILTER_TEXT_MAX 200

json_t *api_job_json(const struct job *job)
{
    return job_to_json(job);
}

struct job_spec_defaults api_spec_defaults(const struct api *api)
{
    struct job_spec_defaults d = {
        .max_attempts = (int)api->config->max_attempts,
        .timeout_s = api->config->job_timeout / 1000,
    };
    if (d.timeout_s <= 0)
        d.timeout_s = 1;
    return d;
}

/*
 * apply_idempotency_key - the Idempotency-Key header stands for request_id
 * when the body has none; both present and different is a 422.
 */
static bool apply_idempotency_key(struct api_request *req, struct api_response *res, json_t *body)
{
    const char *key = api_header_value(req, "Idempotency-Key");
    if (!key)
        return true;
    json_t *given = json_object_get(body, "request_id");
    if (!given || json_is_null(given))
        return json_object_set_new(body, "request_id", json_string(key)) == 0;
    if (json_is_string(given) && strcmp(json_string_value(given), key) == 0)
        return true;
    struct iq_error err = {0};
    iq_error_set(&err, IQ_E_INVALID, "request_id and the Idempotency-Key header differ");
    iq_error_add_field(&err, "request_id", "differs from the Idempotency-Key header");
    api_reply_error(req, res, &err);
    return false;
}

void route_job_create(struct api_request *req, struct api_response *res)
{
    json_t *body = NULL;
    if (!api_body_json(req, res, &body) || !apply_idempotency_key(req, res, body)) {
        json_decref(body);
        return;
    }
    struct iq_error err = {0};
    struct job_spec *spec = NULL;
    struct job_spec_defaults defaults = api_spec_defaults(req->api);
    int rc = job_spec_parse(body, &defaults, &spec, &err);
    json_decref(body);
    if (rc < 0) {
        api_reply_error(req, res, &err);
        return;
    }
    struct store *store = api_store(req, res);
    if (!store) {
        job_spec_free(spec);
        return;
    }
    struct job_create_request create = {
        .spec = spec,
        .max_queue_size = (int)req->api->config->max_queue_size,
    };
    struct job *job = NULL;
    bool existed = false;
    rc = store_job_create(store, &create, &req->actx, &job, &existed, &err);
    job_spec_free(spec);
    if (rc < 0) {
        api_reply_error(req, res, &err);
        if (rc == IQ_E_QUEUE_FULL)
            api_header_add(res, "Retry-After", QUEUE_FULL_RETRY_AFTER_S);
        return;
    }
    if (!existed) {
        engine_wake(req->api->engine);
        api_status_invalidate(req->api);
    }
    char location[128];
    snprintf(location, sizeof(location), API_PREFIX "/import-queue/%s", job->id);
    api_reply_json(res, existed ? 200 : 201, api_job_json(job));
    api_header_add(res, MHD_HTTP_HEADER_LOCATION, location);
    job_free(job);
}

/* parse_status_list - "QUEUED,RUNNING" into a mask; -1 after a 400. */
static int parse_status_list(struct api_request *req, struct api_response *res, unsigned *ret_mask)
{
    const char *text = api_query(req, "status");
    if (!text)
        return 0;
    char copy[256];
    if (strlen(text) >= sizeof(copy))
        goto bad;
    snprintf(copy, sizeof(copy), "%s", text);
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        enum job_status status;
        if (job_status_parse(item, &status) < 0)
            goto bad;
        *ret_mask |= 1u << status;
    }
    if (*ret_mask)
        return 0;
bad:;
    struct iq_error err = {0};
    iq_error_set(&err, IQ_E_BAD_REQUEST,
                 "status: a comma list of HELD, QUEUED, RUNNING, "
                 "COMPLETED, FAILED, CANCELLED");
    iq_error_add_field(&err, "status", "unknown status");
    api_reply_error(req, res, &err);
    return -1;
}

/* text_filter - a free-text filter of bounded length; false after a 400. */
static bool text_filter(struct api_request *req, struct api_response *res, const char *key,
                        bool uuid, const char **ret_value)
{
    const char *value = api_query(req, key);
    if (value && (strlen(value) > FILTER_TEXT_MAX || (uuid && !uuid_is_valid(value)))) {
        struct iq_error err = {0};
        iq_error_set(&err, IQ_E_BAD_REQUEST, "query parameter %s: %s", key,
                     uuid ? "must be a UUID" : "too long");
        iq_error_add_field(&err, key, uuid ? "must be a UUID" : "too long");
        api_reply_error(req, res, &err);
        return false;
    }
    *ret_value = value;
    return true;
}

/* job_filter_from_query - every filter of GET /import-queue; false after a 400. */
static bool job_filter_from_query(struct api_request *req, struct api_response *res,
                                  struct job_filter *filter, char *after_id, size_t after_size)
{
    static const char *const allowed[] = {
        "status", "priority_min",     "priority_max", "created_after", "created_before", "table",
        "q",      "orchestration_id", "schedule_id",  "limit",         "cursor",         NULL};
    if (api_query_reject_unknown(req, res, allowed) ||
        parse_status_list(req, res, &filter->status_mask) < 0)
        return false;
    int64_t priority_min = 0, priority_max = 0, limit = JOB_LIST_LIMIT_DEFAULT;
    if (api_query_int(req, res, "priority_min", 1, 10, &priority_min) < 0 ||
        api_query_int(req, res, "priority_max", 1, 10, &priority_max) < 0 ||
        api_query_int(req, res, "limit", 1, JOB_LIST_LIMIT_MAX, &limit) < 0 ||
        api_query_time(req, res, "created_after", &filter->created_after_ms) < 0 ||
        api_query_time(req, res, "created_before", &filter->created_before_ms) < 0 ||
        !text_filter(req, res, "table", false, &filter->table) ||
        !text_filter(req, res, "q", false, &filter->q) ||
        !text_filter(req, res, "orchestration_id", true, &filter->orchestration_id) ||
        !text_filter(req, res, "schedule_id", true, &filter->schedule_id))
        return false;
    filter->priority_min = (int)priority_min;
    filter->priority_max = (int)priority_max;
    filter->limit = (int)limit;
    if (!api_query_cursor(req, res, "job", after_id, after_size))
        return false;
    if (after_id[0] && !uuid_is_valid(after_id)) {
        api_reply_problem(req, res, IQ_E_BAD_REQUEST, "the cursor is not valid");
        return false;
    }
    filter->after_id = after_id[0] ? after_id : NULL;
    return true;
}

void route_job_list(struct api_request *req, struct api_response *res)
{
    struct job_filter filter = {0};
    char after_id[UUID_STR_LEN] = "";
    if (!job_filter_from_query(req, res, &filter, after_id, sizeof(after_id)))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct job_page page = {0};
    struct iq_error err = {0};
    if (store_job_list(store, &filter, &page, &err) < 0) {
        api_reply_error(req, res, &err);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < page.count; i++)
        json_array_append_new(items, api_job_json(page.items[i]));
    json_t *next = api_next_cursor_json(req->api, "job", page.next_after_id);
    job_page_clear(&page);
    api_reply_json(res, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
}

/* nodes_json - the node registry as the status route shows it. */
static json_t *nodes_json(const struct node_list *nodes, int64_t *ret_alive)
{
    json_t *array = json_array();
    *ret_alive = 0;
    for (size_t i = 0; i < nodes->count; i++) {
        const struct node_info *n = &nodes->items[i];
        char started[TIME_RFC3339_LEN], heartbeat[TIME_RFC3339_LEN];
        json_array_append_new(
            array, json_pack("{s:s, s:s?, s:i, s:s?, s:s?, s:s, s:s}", "id", n->id, "host", n->host,
                             "pid", n->pid, "version", n->version, "status", n->status,
                             "started_at", time_format_rfc3339(n->started_at_ms, started),
                             "heartbeat_at", time_format_rfc3339(n->heartbeat_at_ms, heartbeat)));
        if (n->status && strcmp(n->status, "alive") == 0)
            (*ret_alive)++;
    }
    return array;
}

/* status_json - the status document from the store; NULL with err set.
 * New reference. */
static json_t *status_json(struct store *store, const struct config *cfg, struct iq_error *err)
{
    struct queue_stats stats = {0};
    struct node_list nodes = {0};
    if (store_queue_stats(store, time_now_ms(), &stats, err) < 0 ||
        store_nodes_list(store, &nodes, err) < 0) {
        node_list_clear(&nodes);
        return NULL;
    }
    int64_t alive = 0;
    json_t *nodes_array = nodes_json(&nodes, &alive);
    node_list_clear(&nodes);
    int64_t running = stats.count[JOB_RUNNING];
    int64_t waiting = stats.count[JOB_QUEUED] + stats.count[JOB_HELD];
    int64_t slots = cfg->max_concurrent - running;
    /* health: "down" when no node is alive to run jobs, "degraded" when the
     * queue refuses submissions, else "ok". */
    const char *health = alive == 0                                                    ? "down"
                         : (cfg->max_queue_size > 0 && waiting >= cfg->max_queue_size) ? "degraded"
                                                                                       : "ok";
    json_t *body = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:i, s:o}", "queued",
        (json_int_t)stats.count[JOB_QUEUED], "held", (json_int_t)stats.count[JOB_HELD], "running",
        (json_int_t)running, "completed_24h", (json_int_t)stats.completed_24h, "failed_24h",
        (json_int_t)stats.failed_24h, "max_concurrent", (json_int_t)cfg->max_concurrent,
        "available_slots", (json_int_t)(slots > 0 ? slots : 0), "queue_capacity",
        (json_int_t)cfg->max_queue_size, "oldest_queued_age_s",
        (json_int_t)stats.oldest_queued_age_s, "health", health, "open_alerts", 0, "nodes",
        nodes_array);
    if (!body) {
        iq_error_set(err, IQ_E_NOMEM, "out of memory");
        return NULL;
    }
    json_object_set_new(
        body, "queue_free",
        json_integer(cfg->max_queue_size > 0
                         ? (cfg->max_queue_size > waiting ? cfg->max_queue_size - waiting : 0)
                         : -1));
    return body;
}

int api_status_compute(void *ctx, char **ret_body, size_t *ret_len, struct iq_error *err)
{
    struct api *api = ctx;
    struct store *store = NULL;
    int rc = store_pool_acquire(&api->pool, &store, err);
    if (rc < 0)
        return rc;
    json_t *body = status_json(store, api->config, err);
    rc = body ? 0 : err->code < 0 ? err->code : IQ_E_INTERNAL;
    store_pool_release(&api->pool, store, rc == IQ_E_DB || rc == IQ_E_UNAVAILABLE);
    if (!body)
        return rc;
    *ret_body = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!*ret_body)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    *ret_len = strlen(*ret_body);
    return 0;
}

void api_status_invalidate(struct api *api)
{
    status_cache_invalidate(&api->status);
}

void route_queue_status(struct api_request *req, struct api_response *res)
{
    char *body = NULL;
    size_t len = 0;
    struct iq_error err = {0};
    if (status_cache_get(&req->api->status, &body, &len, &err) < 0) {
        api_reply_error(req, res, &err);
        return;
    }
    api_reply_take(res, 200, "application/json", body, len);
}

/* phases_json - the job's phase timings. */
static json_t *phases_json(const struct job_phase_list *list)
{
    json_t *array = json_array();
    for (size_t i = 0; i < list->count; i++) {
        const struct job_phase *p = &list->items[i];
        char started[TIME_RFC3339_LEN];
        json_array_append_new(array, json_pack("{s:i, s:s, s:s, s:I, s:I, s:I}", "attempt",
                                               p->attempt, "phase", p->phase, "started_at",
                                               time_format_rfc3339(p->started_at_ms, started),
                                               "duration_ms", (json_int_t)p->duration_ms, "rows",
                                               (json_int_t)p->rows, "bytes", (json_int_t)p->bytes));
    }
    return array;
}

json_t *api_lock_json(const struct lock_info *lock)
{
    char acquired[TIME_RFC3339_LEN], expires[TIME_RFC3339_LEN];
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:s?, s:s?, s:s, s:s}", "id", lock->id, "name",
                     lock->name, "mode", lock_mode_name(lock->mode), "job_id", lock->job_id,
                     "attempt", lock->attempt, "node", lock->node, "worker", lock->worker,
                     "acquired_at", time_format_rfc3339(lock->acquired_at_ms, acquired),
                     "expires_at", time_format_rfc3339(lock->expires_at_ms, expires));
}

/* locks_json - the locks a job holds. */
static json_t *locks_json(const struct lock_list *locks)
{
    json_t *array = json_array();
    for (size_t i = 0; i < locks->count; i++)
        json_array_append_new(array, api_lock_json(&locks->items[i]));
    return array;
}

struct rejects_sample {
    json_t *array;
};

static int rejects_sample_cb(const struct job_reject_row *row, void *ctx)
{
    struct rejects_sample *sample = ctx;
    json_array_append_new(sample->array,
                          json_pack("{s:I, s:s?, s:s?, s:s, s:o, s:s?}", "line",
                                    (json_int_t)row->line, "column", row->column, "value",
                                    row->value, "error", row->error ? row->error : "", "record",
                                    row->has_record ? json_integer(row->record) : json_null(),
                                    "pointer", row->pointer));
    return json_array_size(sample->array) >= REJECTS_IN_JOB;
}

void route_job_get(struct api_request *req, struct api_response *res)
{
    if (!api_param_uuid(req, res, 0, "the job id"))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct job_detail detail = {0};
    struct rejects_sample sample = {.array = json_array()};
    struct iq_error err = {0};
    int rc = store_job_get_detail(store, req->params[0], &detail, &err);
    if (rc == 0 && detail.job->result.rows_rejected > 0)
        rc = store_job_rejects_each(store, detail.job->id, rejects_sample_cb, &sample, &err);
    if (rc < 0) {
        api_reply_error(req, res, &err);
    } else {
        json_t *body = api_job_json(detail.job);
        json_object_set_new(body, "phases", phases_json(&detail.phases));
        json_object_set_new(body, "locks", locks_json(&detail.locks));
        json_object_set(body, "rejects", sample.array);
        api_reply_json(res, 200, body);
    }
    json_decref(sample.array);
    job_detail_clear(&detail);
}
