/*
 * routes_audit.c - GET /import-audit (filtered, newest first, keyset
 * pages) and GET /import-audit/verify (walk the hash chain; admin only,
 * since it reads every row).
 */
#include "api/routes.h"

#include "core/timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_LIMIT_DEFAULT 50
#define AUDIT_LIMIT_MAX 500
#define AUDIT_FILTER_MAX 200

/* json_or_null - stored JSON text back as JSON (null when absent). */
static json_t *json_or_null(const char *text)
{
    json_t *value = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    return value ? value : json_null();
}

static json_t *audit_row_json(const struct audit_row *row)
{
    const struct audit_record *r = &row->record;
    char at[TIME_RFC3339_LEN];
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s?, s:o, s:o, s:s?, s:s?, s:s, s:s}", "id",
                     (json_int_t)r->id, "at", time_format_rfc3339(r->at_ms, at), "actor", r->actor,
                     "action", r->action, "entity", r->entity, "entity_id", r->entity_id, "before",
                     json_or_null(r->before_json), "after", json_or_null(r->after_json),
                     "request_id", r->request_id, "client_addr", r->client_addr, "prev_hash",
                     r->prev_hash, "hash", row->hash);
}

/* audit_filter_from_query - false after a 400. */
static bool audit_filter_from_query(struct api_request *req, struct api_response *res,
                                    struct audit_filter *filter)
{
    static const char *const allowed[] = {"entity", "entity_id", "actor",  "action", "since",
                                          "until",  "limit",     "cursor", NULL};
    static const char *const text_keys[] = {"entity", "entity_id", "actor", "action", NULL};
    if (api_query_reject_unknown(req, res, allowed))
        return false;
    const char **targets[] = {&filter->entity, &filter->entity_id, &filter->actor, &filter->action};
    for (int i = 0; text_keys[i]; i++) {
        const char *value = api_query(req, text_keys[i]);
        if (value && strlen(value) > AUDIT_FILTER_MAX) {
            api_reply_problem(req, res, IQ_E_BAD_REQUEST, "query parameter %s: too long",
                              text_keys[i]);
            return false;
        }
        *targets[i] = value;
    }
    int64_t limit = AUDIT_LIMIT_DEFAULT;
    if (api_query_int(req, res, "limit", 1, AUDIT_LIMIT_MAX, &limit) < 0 ||
        api_query_time(req, res, "since", &filter->since_ms) < 0 ||
        api_query_time(req, res, "until", &filter->until_ms) < 0)
        return false;
    filter->limit = (int)limit;
    char value[32];
    if (!api_query_cursor(req, res, "audit", value, sizeof(value)))
        return false;
    if (value[0] && (config_parse_int(value, &filter->before_id) < 0 || filter->before_id <= 0)) {
        api_reply_problem(req, res, IQ_E_BAD_REQUEST, "the cursor is not valid");
        return false;
    }
    return true;
}

void route_audit_list(struct api_request *req, struct api_response *res)
{
    struct audit_filter filter = {0};
    if (!audit_filter_from_query(req, res, &filter))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct audit_page page = {0};
    struct iq_error err = {0};
    if (store_audit_list(store, &filter, &page, &err) < 0) {
        api_reply_error(req, res, &err);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < page.count; i++)
        json_array_append_new(items, audit_row_json(&page.items[i]));
    char last[32] = "";
    if (page.next_before_id > 0)
        snprintf(last, sizeof(last), "%" PRId64, page.next_before_id);
    json_t *next = api_next_cursor_json(req->api, "audit", last);
    audit_page_clear(&page);
    api_reply_json(res, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
}

void route_audit_verify(struct api_request *req, struct api_response *res)
{
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct audit_verify_result result = {0};
    struct iq_error err = {0};
    if (store_audit_verify(store, &result, &err) < 0) {
        api_reply_error(req, res, &err);
        return;
    }
    json_t *body = json_pack("{s:b, s:I, s:o}", "ok", result.ok, "rows_checked",
                             (json_int_t)result.rows_checked, "first_bad_id",
                             result.ok ? json_null() : json_integer(result.first_bad_id));
    if (body && !result.ok)
        json_object_set_new(body, "reason", json_string(result.reason));
    api_reply_json(res, 200, body);
}
