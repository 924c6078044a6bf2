/*
 * routes_health.c - the routes without a token: /healthz (the process
 * answers), /readyz (the database answers and its schema is the one this
 * binary expects) and /api/v2/openapi.json (the embedded document).
 */
#include "api/routes.h"

#include <string.h>

/* Generated from src/api/openapi.json by cmake/embed_file.cmake. */
extern const char api_openapi_json[];
extern const unsigned long api_openapi_json_len;

void route_healthz(struct api_request *req, struct api_response *res)
{
    api_reply_json(res, 200, json_pack("{s:s, s:s}", "status", "ok", "version", req->api->version));
}

void route_readyz(struct api_request *req, struct api_response *res)
{
    struct iq_error err = {0};
    struct store *store = NULL;
    if (store_pool_acquire(&req->api->pool, &store, &err) < 0) {
        api_reply_json(res, 503,
                       json_pack("{s:s, s:s}", "status", "unavailable", "reason",
                                 "the database cannot be reached"));
        iq_error_clear(&err);
        return;
    }
    req->store = store;
    int version = 0;
    if (store_schema_version(store, &version, &err) < 0) {
        req->store_broken = true;
        iq_error_clear(&err);
        api_reply_json(res, 503,
                       json_pack("{s:s, s:s}", "status", "unavailable", "reason",
                                 "the database does not answer"));
        return;
    }
    int expected = store_latest_schema_version(store);
    if (version != expected) {
        api_reply_json(res, 503,
                       json_pack("{s:s, s:s, s:i, s:i}", "status", "unavailable", "reason",
                                 "the schema is not current: run importq migrate", "schema_version",
                                 version, "expected", expected));
        return;
    }
    api_reply_json(res, 200,
                   json_pack("{s:s, s:s, s:i}", "status", "ready", "backend", store_name(store),
                             "schema_version", version));
}

void route_openapi(struct api_request *req, struct api_response *res)
{
    (void)req;
    api_reply_text(res, 200, "application/json", api_openapi_json, api_openapi_json_len);
}
