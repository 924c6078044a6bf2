/*
 * router.c - the route table of CONTRACT §3 and the matcher. One row per
 * route: method, pattern ({id} matches one path segment), the weakest role
 * allowed, what kind of body it takes, and its handler. The OpenAPI
 * document (openapi.json) lists exactly these routes; a test holds the two
 * together.
 */
#include "api/routes.h"

#include <stdio.h>
#include <string.h>

#define Q API_PREFIX "/import-queue"
#define S API_PREFIX "/scheduled-imports"

const struct api_route api_routes[] = {
    {"POST", Q, ROLE_OPERATOR, BODY_JSON, route_job_create, "Submit a job"},
    {"GET", Q, ROLE_VIEWER, BODY_NONE, route_job_list, "List jobs (filters, keyset pages)"},
    {"GET", Q "/status", ROLE_VIEWER, BODY_NONE, route_queue_status, "Queue status"},
    {"GET", Q "/{id}", ROLE_VIEWER, BODY_NONE, route_job_get, "One job, with phases and locks"},
    {"PUT", Q "/{id}", ROLE_OPERATOR, BODY_JSON, route_job_update, "Change a HELD or QUEUED job"},
    {"DELETE", Q "/{id}", ROLE_OPERATOR, BODY_NONE, route_job_cancel, "Cancel a job"},
    {"POST", Q "/{id}/execute", ROLE_OPERATOR, BODY_NONE, route_job_execute,
     "Run a held, scheduled, failed or cancelled job now"},
    {"GET", Q "/{id}/rejects", ROLE_VIEWER, BODY_NONE, route_job_rejects,
     "Rejected rows of the latest attempt (CSV)"},
    {"POST", API_PREFIX "/uploads", ROLE_OPERATOR, BODY_UPLOAD, route_upload_create,
     "Upload a source file"},
    {"POST", API_PREFIX "/import-orchestrations", ROLE_OPERATOR, BODY_JSON,
     route_orchestration_create, "Create a set of dependent jobs atomically"},
    {"GET", API_PREFIX "/import-orchestrations", ROLE_VIEWER, BODY_NONE, route_orchestration_list,
     "List orchestrations"},
    {"GET", API_PREFIX "/import-orchestrations/{id}", ROLE_VIEWER, BODY_NONE,
     route_orchestration_get, "One orchestration with its jobs"},
    {"POST", S, ROLE_OPERATOR, BODY_JSON, route_schedule_create,
     "Create a scheduled import (answered with conflict warnings)"},
    {"GET", S, ROLE_VIEWER, BODY_NONE, route_schedule_list, "List scheduled imports"},
    {"GET", S "/preview", ROLE_VIEWER, BODY_NONE, route_schedule_preview,
     "The next fire times of a cron expression in a time zone"},
    {"GET", S "/{id}", ROLE_VIEWER, BODY_NONE, route_schedule_get, "One scheduled import"},
    {"PUT", S "/{id}", ROLE_OPERATOR, BODY_JSON, route_schedule_update,
     "Replace a scheduled import's fields (answered with conflict warnings)"},
    {"DELETE", S "/{id}", ROLE_OPERATOR, BODY_NONE, route_schedule_delete,
     "Delete a scheduled import"},
    {"POST", S "/{id}/pause", ROLE_OPERATOR, BODY_NONE, route_schedule_pause,
     "Pause a scheduled import"},
    {"POST", S "/{id}/resume", ROLE_OPERATOR, BODY_NONE, route_schedule_resume,
     "Resume a scheduled import from now"},
    {"POST", API_PREFIX "/scheduled-imports/{id}/run", ROLE_OPERATOR, BODY_NONE,
     route_schedule_run, "Run a schedule's job now"},
    {"GET", API_PREFIX "/scheduled-imports/{id}/history", ROLE_VIEWER, BODY_NONE,
     route_schedule_history, "A schedule's fires, newest first"},
    {"GET", API_PREFIX "/import-resources", ROLE_VIEWER, BODY_NONE, route_resources_list,
     "Held locks and waiting jobs"},
    {"GET", API_PREFIX "/import-resources/stats", ROLE_VIEWER, BODY_NONE, route_resource_stats,
     "Per-resource lock holds and waits over a window"},
    {"DELETE", API_PREFIX "/import-resources/{id}", ROLE_ADMIN, BODY_NONE, route_resource_release,
     "Force-release a lock"},
    {"GET", API_PREFIX "/import-performance", ROLE_VIEWER, BODY_NONE, route_perf_list,
     "Per-table performance aggregates over a window"},
    {"GET", API_PREFIX "/import-performance/recommendations", ROLE_VIEWER, BODY_NONE,
     route_perf_recommendations, "What history suggests changing, with its evidence"},
    {"GET", API_PREFIX "/import-audit", ROLE_VIEWER, BODY_NONE, route_audit_list,
     "The audit trail"},
    {"GET", API_PREFIX "/import-audit/verify", ROLE_ADMIN, BODY_NONE, route_audit_verify,
     "Verify the audit hash chain"},
    {"GET", API_PREFIX "/whoami", ROLE_VIEWER, BODY_NONE, route_whoami,
     "The caller's token name, role and what it may do"},
    {"GET", API_PREFIX "/import-monitoring/alerts", ROLE_VIEWER, BODY_NONE, route_alert_list,
     "Alerts, newest first (filter by state)"},
    {"POST", API_PREFIX "/import-monitoring/alerts/{id}/ack", ROLE_OPERATOR, BODY_NONE,
     route_alert_ack, "Acknowledge an alert"},
    {"GET", API_PREFIX "/import-monitoring/health", ROLE_VIEWER, BODY_NONE, route_health_series,
     "The health history as a series for charts"},
    {"GET", API_PREFIX "/events", ROLE_VIEWER, BODY_NONE, route_events,
     "Server-sent events: job, lock, alert and schedule changes (resumable)"},
    {"GET", API_PREFIX "/openapi.json", 0, BODY_NONE, route_openapi, "This API's OpenAPI document"},
    {"GET", "/healthz", 0, BODY_NONE, route_healthz, "Liveness"},
    {"GET", "/readyz", 0, BODY_NONE, route_readyz, "Readiness: database reachable and current"},
    /* viewer, or no token with metrics-auth = none (server.c, route_role) */
    {"GET", "/metrics", ROLE_VIEWER, BODY_NONE, route_metrics, "Prometheus metrics"},
    /* the admin GUI (routes_gui.c): the page asks for a token itself */
    {"GET", "/", 0, BODY_NONE, route_gui_index, "The admin GUI"},
    {"GET", "/assets/{version}/{file}", 0, BODY_NONE, route_gui_asset,
     "The admin GUI's styles and scripts"},
    {NULL, NULL, 0, BODY_NONE, NULL, NULL},
};

/* pattern_match - whether path fits pattern; fills params for {x}. */
static bool pattern_match(const char *pattern, const char *path, const char *params[API_MAX_PARAMS],
                          char *param_buf, size_t buf_size)
{
    int param_count = 0;
    size_t buf_used = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *p_end = strchr(p, '}');
            const char *s_end = strchr(s, '/');
            size_t len = s_end ? (size_t)(s_end - s) : strlen(s);
            if (!p_end || len == 0 || param_count >= API_MAX_PARAMS ||
                buf_used + len + 1 > buf_size)
                return false;
            memcpy(param_buf + buf_used, s, len);
            param_buf[buf_used + len] = '\0';
            params[param_count++] = param_buf + buf_used;
            buf_used += len + 1;
            p = p_end + 1;
            s += len;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

const struct api_route *api_route_match(const char *method, const char *path,
                                        const char *ret_params[API_MAX_PARAMS], char *param_buf,
                                        size_t param_buf_size, char *allow, size_t allow_size,
                                        int *ret_status)
{
    allow[0] = '\0';
    size_t allow_len = 0;
    for (const struct api_route *r = api_routes; r->method; r++) {
        const char *params[API_MAX_PARAMS] = {NULL};
        if (!pattern_match(r->pattern, path, params, param_buf, param_buf_size))
            continue;
        if (strcmp(r->method, method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0)) {
            memcpy(ret_params, params, sizeof(params));
            return r;
        }
        if (!strstr(allow, r->method)) {
            int n = snprintf(allow + allow_len, allow_size - allow_len, "%s%s",
                             allow_len ? ", " : "", r->method);
            if (n > 0 && (size_t)n < allow_size - allow_len)
                allow_len += (size_t)n;
        }
    }
    *ret_status = allow_len ? 405 : 404;
    return NULL;
}
