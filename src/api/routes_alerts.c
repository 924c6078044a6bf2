/*
 * routes_alerts.c - GET /import-monitoring/alerts (newest first, keyset
 * pages, filtered by state) and POST /import-monitoring/alerts/{id}/ack
 * (an operator acknowledges an alert; the store audits it in the same
 * transaction). Alerts are opened and resolved by the engine's alert
 * loop (engine/alerts.c), never through the API.
 */
#include "api/routes.h"

#include "store/alert_ops.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* parse_states - "open,acked" into a mask; -1 after a 400. */
static int parse_states(struct api_request *req, struct api_response *res, unsigned *ret_mask)
{
    const char *text = api_query(req, "state");
    if (!text)
        return 0;
    char copy[64];
    if (strlen(text) >= sizeof(copy))
        goto bad;
    snprintf(copy, sizeof(copy), "%s", text);
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        enum alert_state state;
        if (alert_state_parse(item, &state) < 0)
            goto bad;
        *ret_mask |= 1u << state;
    }
    if (*ret_mask)
        return 0;
bad:;
    struct iq_error err = {0};
    iq_error_set(&err, IQ_E_BAD_REQUEST, "state: open, acked or resolved (a comma list)");
    iq_error_add_field(&err, "state", "unknown state");
    api_reply_error(req, res, &err);
    return -1;
}

/* filter_from_query - false after a 400. */
static bool filter_from_query(struct api_request *req, struct api_response *res,
                              struct alert_filter *filter)
{
    static const char *const allowed[] = {"state", "limit", "cursor", NULL};
    if (api_query_reject_unknown(req, res, allowed) ||
        parse_states(req, res, &filter->state_mask) < 0)
        return false;
    int64_t limit = ALERT_LIST_LIMIT_DEFAULT;
    if (api_query_int(req, res, "limit", 1, ALERT_LIST_LIMIT_MAX, &limit) < 0)
        return false;
    filter->limit = (int)limit;
    char value[32];
    if (!api_query_cursor(req, res, "alert", value, sizeof(value)))
        return false;
    if (value[0] && (config_parse_int(value, &filter->after_id) < 0 || filter->after_id <= 0)) {
        api_reply_problem(req, res, IQ_E_BAD_REQUEST, "the cursor is not valid");
        return false;
    }
    return true;
}

void route_alert_list(struct api_request *req, struct api_response *res)
{
    struct alert_filter filter = {0};
    if (!filter_from_query(req, res, &filter))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct alert_page page = {0};
    struct iq_error err = {0};
    if (store_alert_list(store, &filter, &page, &err) < 0) {
        api_reply_error(req, res, &err);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < page.count; i++)
        json_array_append_new(items, alert_json(&page.items[i]));
    char last[32] = "";
    if (page.next_after_id > 0)
        snprintf(last, sizeof(last), "%" PRId64, page.next_after_id);
    json_t *next = api_next_cursor_json(req->api, "alert", last);
    alert_page_clear(&page);
    api_reply_json(res, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
}

void route_alert_ack(struct api_request *req, struct api_response *res)
{
    int64_t id = 0;
    if (config_parse_int(req->params[0], &id) < 0 || id <= 0) {
        api_reply_problem(req, res, IQ_E_BAD_REQUEST, "the alert id must be a positive integer");
        return;
    }
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct alert alert;
    struct iq_error err = {0};
    if (store_alert_ack(store, id, &req->actx, &alert, &err) < 0) {
        api_reply_error(req, res, &err);
        return;
    }
    json_t *body = alert_json(&alert);
    alert_clear(&alert);
    api_reply_json(res, 200, body);
}
