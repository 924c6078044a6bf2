/*
 * routes_jobs.c - the import queue's reading and submitting routes:
 * POST /import-queue, GET /import-queue (filters, keyset pages; lean
 * items unless view=full, or the members fields= names),
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
/* fields= of GET /import-queue: at most this long (every member fits). */
#define LIST_FIELDS_TEXT_MAX 512

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
        "q",      "orchestration_id", "schedule_id",  "limit",         "cursor",         "view",
        "fields", NULL};
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

/* The members of a lean list item (CONTRACT §3). */
static const char *const lean_members[] = {
    "id",         "name",       "status",      "priority",    "table",
    "mode",       "progress",   "attempt",     "max_attempts", "created_at",
    "started_at", "finished_at", "error",       NULL};

/* The members of the full job resource (job_to_json), and the lean item's
 * own two: what fields= may name. */
static const char *const full_members[] = {
    "id",          "request_id",  "name",       "status",     "priority",         "depends_on",
    "orchestration_id", "schedule_id", "scheduled_at", "attempt", "max_attempts", "timeout_s",
    "resources",   "source",      "target",     "on_error",   "cancel_requested", "worker",
    "progress",    "result",      "error",      "attempts",   "created_by",       "created_at",
    "updated_at",  "started_at",  "finished_at", "table",     "mode",             NULL};

static bool name_in(const char *const *names, const char *name)
{
    for (; *names; names++)
        if (strcmp(*names, name) == 0)
            return true;
    return false;
}

/* How a list page shows its jobs: lean items, full ones, or only some
 * members (fields=; id always). */
struct list_view {
    bool full;           /* the whole resource is read */
    json_t *fields;      /* NULL, or an object whose keys are the members kept */
};

/* list_view_from_query - view= and fields=; false after a 400. */
static bool list_view_from_query(struct api_request *req, struct api_response *res,
                                 struct list_view *view)
{
    const char *view_text = api_query(req, "view");
    const char *fields = api_query(req, "fields");
    struct iq_error err = {0};
    if (view_text && fields) {
        iq_error_set(&err, IQ_E_BAD_REQUEST, "view and fields: give one of them");
        iq_error_add_field(&err, "fields", "not with view");
    } else if (view_text && strcmp(view_text, "full") != 0 && strcmp(view_text, "lean") != 0) {
        iq_error_set(&err, IQ_E_BAD_REQUEST, "view: lean (the default) or full");
        iq_error_add_field(&err, "view", "lean or full");
    } else if (fields && strlen(fields) > LIST_FIELDS_TEXT_MAX) {
        iq_error_set(&err, IQ_E_BAD_REQUEST, "fields: at most %d characters",
                     LIST_FIELDS_TEXT_MAX);
        iq_error_add_field(&err, "fields", "too long");
    }
    view->full = view_text && strcmp(view_text, "full") == 0;
    if (err.code == 0 && fields) {
        char copy[LIST_FIELDS_TEXT_MAX + 1];
        snprintf(copy, sizeof(copy), "%s", fields);
        view->fields = json_object();
        json_object_set_new(view->fields, "id", json_true());
        char *save = NULL;
        for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
            if (!name_in(full_members, name)) {
                iq_error_set(&err, IQ_E_BAD_REQUEST, "fields: unknown member \"%.64s\"", name);
                iq_error_add_field(&err, "fields", "unknown member");
                break;
            }
            json_object_set_new(view->fields, name, json_true());
            if (!name_in(lean_members, name))
                view->full = true;
        }
    }
    if (err.code == 0)
        return true;
    json_decref(view->fields);
    view->fields = NULL;
    api_reply_error(req, res, &err);
    return false;
}

/* keep_fields - drop every member of item not named in fields (NULL: keep all). */
static json_t *keep_fields(json_t *item, const json_t *fields)
{
    if (!fields || !item)
        return item;
    const char *key;
    json_t *value, *tmp;
    json_object_foreach_safe(item, tmp, key, value) {
        if (!json_object_get(fields, key))
            json_object_del(item, key);
    }
    return item;
}

static json_t *time_json(int64_t ms)
{
    char text[TIME_RFC3339_LEN];
    return ms ? json_string(time_format_rfc3339(ms, text)) : json_null();
}

/* summary_json - the lean list item. New reference. */
static json_t *summary_json(const struct job_summary *item)
{
    json_t *error = item->error_code || item->error_message
                        ? json_pack("{s:s?, s:s?}", "code", item->error_code, "message",
                                    item->error_message)
                        : json_null();
    json_t *progress = job_progress_json(item->status, &item->progress);
    return json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:o, s:i, s:i, s:o, s:o, s:o, s:o}", "id",
                     item->id, "name", item->name, "status", job_status_name(item->status),
                     "priority", item->priority, "table", item->table, "mode", item->mode,
                     "progress", progress ? progress : json_null(), "attempt", item->attempt,
                     "max_attempts", item->max_attempts, "created_at",
                     time_json(item->created_at_ms), "started_at", time_json(item->started_at_ms),
                     "finished_at", time_json(item->finished_at_ms), "error",
                     error ? error : json_null());
}

/* full_item_json - the job resource, with the lean item's table and mode
 * when fields asks for them. New reference. */
static json_t *full_item_json(const struct job *job, const json_t *fields)
{
    json_t *item = api_job_json(job);
    if (item && fields && json_object_get(fields, "table"))
        json_object_set_new(item, "table", json_string(job->target_table ? job->target_table : ""));
    if (item && fields && json_object_get(fields, "mode"))
        json_object_set(item, "mode", json_object_get(job->target, "mode"));
    return keep_fields(item, fields);
}

/* list_items - the page as JSON items and its next cursor's id; -1 after an error answer. */
static int list_items(struct api_request *req, struct api_response *res, struct store *store,
                      const struct job_filter *filter, const struct list_view *view,
                      json_t *items, char next_after_id[UUID_STR_LEN])
{
    struct iq_error err = {0};
    if (view->full) {
        struct job_page page = {0};
        if (store_job_list(store, filter, &page, &err) < 0) {
            api_reply_error(req, res, &err);
            return -1;
        }
        for (size_t i = 0; i < page.count; i++)
            json_array_append_new(items, full_item_json(page.items[i], view->fields));
        memcpy(next_after_id, page.next_after_id, UUID_STR_LEN);
        job_page_clear(&page);
        return 0;
    }
    struct job_summary_page page = {0};
    if (store_job_list_summary(store, filter, &page, &err) < 0) {
        api_reply_error(req, res, &err);
        return -1;
    }
    for (size_t i = 0; i < page.count; i++)
        json_array_append_new(items, keep_fields(summary_json(&page.items[i]), view->fields));
    memcpy(next_after_id, page.next_after_id, UUID_STR_LEN);
    job_summary_page_clear(&page);
    return 0;
}

void route_job_list(struct api_request *req, struct api_response *res)
{
    struct job_filter filter = {0};
    struct list_view view = {0};
    char after_id[UUID_STR_LEN] = "";
    if (!job_filter_from_query(req, res, &filter, after_id, sizeof(after_id)) ||
        !list_view_from_query(req, res, &view))
        return;
    struct store *store = api_store(req, res);
    if (!store) {
        json_decref(view.fields);
        return;
    }
    json_t *items = json_array();
    char next_after_id[UUID_STR_LEN] = "";
    int rc = list_items(req, res, store, &filter, &view, items, next_after_id);
    json_decref(view.fields);
    if (rc < 0) {
        json_decref(items);
        return;
    }
    json_t *next = api_next_cursor_json(req->api, "job", next_after_id);
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

/* A queue this full (of its capacity, in percent) is "nearly full". */
#define QUEUE_NEARLY_FULL_PERCENT 90

/* add_reason - one {"code", "message"} of health_reasons. */
static void add_reason(json_t *reasons, const char *code, const char *message)
{
    json_array_append_new(reasons, json_pack("{s:s, s:s}", "code", code, "message", message));
}

/*
 * queue_health - "down" when no node is alive to run jobs; "degraded"
 * when the queue is full or nearly full, or a critical alert is firing
 * (open, or acknowledged: someone is on it, but it still holds); else
 * "ok". Each cause is appended to reasons (a JSON array).
 */
static const char *queue_health(int64_t alive, int64_t waiting, int64_t capacity,
                                const struct alert_counts *alerts, json_t *reasons)
{
    char message[128];
    if (alive == 0)
        add_reason(reasons, "no_live_nodes", "no node is alive to run jobs");
    if (capacity > 0 && waiting >= capacity) {
        snprintf(message, sizeof(message), "the queue is full (%lld of %lld): submissions get 429",
                 (long long)waiting, (long long)capacity);
        add_reason(reasons, "queue_full", message);
    } else if (capacity > 0 && waiting * 100 >= capacity * QUEUE_NEARLY_FULL_PERCENT) {
        snprintf(message, sizeof(message), "the queue is nearly full (%lld of %lld)",
                 (long long)waiting, (long long)capacity);
        add_reason(reasons, "queue_nearly_full", message);
    }
    if (alerts->firing_critical > 0) {
        snprintf(message, sizeof(message), "%lld critical alert%s firing (open or acknowledged)",
                 (long long)alerts->firing_critical,
                 alerts->firing_critical == 1 ? " is" : "s are");
        add_reason(reasons, "critical_alerts", message);
    }
    return alive == 0 ? "down" : json_array_size(reasons) > 0 ? "degraded" : "ok";
}

/* status_json - the status document from the store; NULL with err set.
 * New reference. */
static json_t *status_json(struct store *store, const struct config *cfg, struct iq_error *err)
{
    struct queue_stats stats = {0};
    struct node_list nodes = {0};
    struct alert_counts alerts = {0};
    if (store_queue_stats(store, time_now_ms(), &stats, err) < 0 ||
        store_nodes_list(store, &nodes, err) < 0 || store_alert_counts(store, &alerts, err) < 0) {
        node_list_clear(&nodes);
        return NULL;
    }
    int64_t alive = 0;
    json_t *nodes_array = nodes_json(&nodes, &alive);
    node_list_clear(&nodes);
    int64_t running = stats.count[JOB_RUNNING];
    int64_t waiting = stats.count[JOB_QUEUED] + stats.count[JOB_HELD];
    int64_t slots = cfg->max_concurrent - running;
    json_t *reasons = json_array();
    const char *health = queue_health(alive, waiting, cfg->max_queue_size, &alerts, reasons);
    json_t *body = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:o, s:I, s:I, s:o}", "queued",
        (json_int_t)stats.count[JOB_QUEUED], "held", (json_int_t)stats.count[JOB_HELD], "running",
        (json_int_t)running, "completed_24h", (json_int_t)stats.completed_24h, "failed_24h",
        (json_int_t)stats.failed_24h, "max_concurrent", (json_int_t)cfg->max_concurrent,
        "available_slots", (json_int_t)(slots > 0 ? slots : 0), "queue_capacity",
        (json_int_t)cfg->max_queue_size, "oldest_queued_age_s",
        (json_int_t)stats.oldest_queued_age_s, "health", health, "health_reasons", reasons,
        "open_alerts", (json_int_t)alerts.open, "acked_alerts", (json_int_t)alerts.acked, "nodes",
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

/* dependents_json - a job's first direct dependants: [{id, name, status}]. */
static json_t *dependents_json(const struct job_ref_list *list)
{
    json_t *array = json_array();
    for (size_t i = 0; i < list->count; i++)
        json_array_append_new(array, json_pack("{s:s, s:s, s:s}", "id", list->items[i].id, "name",
                                               list->items[i].name, "status",
                                               job_status_name(list->items[i].status)));
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
        json_object_set_new(body, "dependents", dependents_json(&detail.dependents));
        json_object_set_new(body, "dependents_truncated",
                            json_boolean(detail.dependents.truncated));
        json_object_set(body, "rejects", sample.array);
        api_reply_json(res, 200, body);
    }
    json_decref(sample.array);
    job_detail_clear(&detail);
}
