/*
 * request.c - how handlers read a request: the pooled database connection,
 * query arguments (strictly checked: an unknown or malformed filter is a
 * 400, never silently ignored), headers, the JSON body and {id} segments.
 * Every helper that can fail answers the request itself and returns false
 * (or -1), so a handler's error path is one line.
 */
#include "api/api_internal.h"

#include "core/timeutil.h"
#include "util/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct store *api_store(struct api_request *req, struct api_response *res)
{
    if (req->store)
        return req->store;
    struct iq_error err = {0};
    if (store_pool_acquire(&req->api->pool, &req->store, &err) < 0) {
        req->store = NULL;
        iq_error_set(&err, IQ_E_DB, "the database is unavailable");
        api_reply_error(req, res, &err);
        return NULL;
    }
    return req->store;
}

const char *api_query(const struct api_request *req, const char *key)
{
    return MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, key);
}

const char *api_header_value(const struct api_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

struct query_check {
    const char *const *allowed;
    const char *unknown;
};

static enum MHD_Result query_check_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    (void)value;
    struct query_check *check = cls;
    for (const char *const *a = check->allowed; *a; a++)
        if (strcmp(*a, key) == 0)
            return MHD_YES;
    check->unknown = key;
    return MHD_NO;
}

bool api_query_reject_unknown(struct api_request *req, struct api_response *res,
                              const char *const *allowed)
{
    struct query_check check = {.allowed = allowed, .unknown = NULL};
    MHD_get_connection_values(req->connection, MHD_GET_ARGUMENT_KIND, query_check_cb, &check);
    if (!check.unknown)
        return false;
    struct iq_error err = {0};
    iq_error_set(&err, IQ_E_BAD_REQUEST, "unknown query parameter \"%.64s\"", check.unknown);
    iq_error_add_field(&err, check.unknown, "not a parameter of this endpoint");
    api_reply_error(req, res, &err);
    return true;
}

bool api_body_json(struct api_request *req, struct api_response *res, json_t **ret_body)
{
    *ret_body = NULL;
    if (!req->body || req->body_len == 0) {
        api_reply_problem(req, res, IQ_E_BAD_REQUEST, "a JSON object body is required");
        return false;
    }
    json_error_t jerr;
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body) {
        api_reply_problem(req, res, IQ_E_BAD_REQUEST, "malformed JSON at line %d, column %d: %s",
                          jerr.line, jerr.column, jerr.text);
        return false;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        api_reply_problem(req, res, IQ_E_BAD_REQUEST, "the body must be a JSON object");
        return false;
    }
    *ret_body = body;
    return true;
}

bool api_param_uuid(struct api_request *req, struct api_response *res, int index, const char *what)
{
    const char *id = req->params[index];
    if (id && uuid_is_valid(id))
        return true;
    struct iq_error err = {0};
    iq_error_set(&err, IQ_E_BAD_REQUEST, "%s is not a valid id (a UUID)", what);
    iq_error_add_field(&err, "id", "must be a UUID");
    api_reply_error(req, res, &err);
    return false;
}

/* bad_argument - answer 400 naming the argument. */
static int bad_argument(struct api_request *req, struct api_response *res, const char *key,
                        const char *message)
{
    struct iq_error err = {0};
    iq_error_set(&err, IQ_E_BAD_REQUEST, "query parameter %s: %s", key, message);
    iq_error_add_field(&err, key, "%s", message);
    api_reply_error(req, res, &err);
    return -1;
}

int api_query_int(struct api_request *req, struct api_response *res, const char *key, int64_t min,
                  int64_t max, int64_t *ret_value)
{
    const char *text = api_query(req, key);
    if (!text)
        return 1;
    int64_t value = 0;
    if (config_parse_int(text, &value) < 0 || value < min || value > max) {
        char message[96];
        snprintf(message, sizeof(message), "must be an integer from %lld to %lld", (long long)min,
                 (long long)max);
        return bad_argument(req, res, key, message);
    }
    *ret_value = value;
    return 0;
}

int api_query_time(struct api_request *req, struct api_response *res, const char *key,
                   int64_t *ret_ms)
{
    const char *text = api_query(req, key);
    if (!text)
        return 1;
    if (time_parse_rfc3339(text, ret_ms) < 0)
        return bad_argument(req, res, key, "must be an RFC 3339 time, e.g. 2026-11-29T10:00:00Z");
    return 0;
}
