/*
 * response.c - how handlers answer: JSON bodies, text bodies, extra
 * headers, and RFC 9457 problem documents built from struct iq_error (its
 * code picks the status through the error table in core/error.h, so no
 * handler chooses a status for a failure by hand).
 */
#include "api/api_internal.h"

#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBLEM_TYPE_BASE "https://importq.dev/problems/"

void api_reply_take(struct api_response *res, int status, const char *content_type, char *body,
                    size_t len)
{
    free(res->body);
    res->status = status;
    res->content_type = content_type;
    res->body = body;
    res->body_len = len;
}

void api_reply_text(struct api_response *res, int status, const char *content_type,
                    const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, text, len);
        copy[len] = '\0';
    }
    api_reply_take(res, copy ? status : 500, content_type, copy, copy ? len : 0);
}

void api_reply_json(struct api_response *res, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        static const char oom[] =
            "{\"type\":\"" PROBLEM_TYPE_BASE "out_of_memory\",\"title\":\"Internal Server "
            "Error\",\"status\":500,\"detail\":\"out of memory\",\"errors\":[]}";
        api_reply_text(res, 500, "application/problem+json", oom, sizeof(oom) - 1);
        return;
    }
    api_reply_take(res, status, "application/json", text, strlen(text));
}

json_t *api_problem_json(int status, int code, const char *detail, const struct iq_error *err,
                         const char *instance, const char *request_id)
{
    char type[96];
    snprintf(type, sizeof(type), PROBLEM_TYPE_BASE "%s", iq_err_name(code));
    const char *title = MHD_get_reason_phrase_for((unsigned)status);
    json_t *errors = json_array();
    for (size_t i = 0; err && i < err->field_count; i++)
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", err->fields[i].field,
                                                "message", err->fields[i].message));
    json_t *doc = json_pack("{s:s, s:s, s:i, s:s, s:o}", "type", type, "title",
                            title && *title ? title : "Error", "status", status, "detail",
                            detail ? detail : "", "errors", errors);
    if (doc && instance)
        json_object_set_new(doc, "instance", json_string(instance));
    if (doc && request_id && *request_id)
        json_object_set_new(doc, "request_id", json_string(request_id));
    return doc;
}

/* reply_problem_doc - send doc as application/problem+json. */
static void reply_problem_doc(struct api_response *res, int status, json_t *doc)
{
    api_reply_json(res, status, doc);
    if (res->status == status)
        res->content_type = "application/problem+json";
}

void api_reply_error(struct api_request *req, struct api_response *res, struct iq_error *err)
{
    int code = err->code < 0 ? err->code : IQ_E_INTERNAL;
    int status = iq_err_http_status(code);
    if (code == IQ_E_DB || code == IQ_E_UNAVAILABLE)
        req->store_broken = true;
    /* Database and internal failures are logged by the server with their
     * detail; the client gets a generic message (no SQL, no paths). A full
     * disk's detail is written for the client (routes_uploads.c). */
    bool detail_for_client = code == IQ_E_UNAVAILABLE || code == IQ_E_NO_SPACE;
    const char *detail = status >= 500 && !detail_for_client
                             ? "the server could not complete the request"
                             : iq_error_message(err);
    if (code == IQ_E_DB) {
        status = 503, detail = "the database is unavailable; try again";
        api_metrics_database_error(&req->api->metrics);
    }
    /* Logged once, here, where the failure is handled: the client sees a
     * generic detail, the log keeps the cause. */
    if (status >= 500)
        log_event(LOG_WARN, "request failed", "method", req->method, "path", req->path, "error",
                  iq_err_name(code), "detail", iq_error_message(err), "request_id", req->request_id,
                  NULL);
    json_t *doc = api_problem_json(status, code, detail, err, req->path, req->request_id);
    reply_problem_doc(res, status, doc);
    if (status >= 500)
        api_header_add(res, "X-Importq-Error", iq_err_name(code));
    iq_error_clear(err);
}

void api_reply_problem(struct api_request *req, struct api_response *res, int code, const char *fmt,
                       ...)
{
    struct iq_error err = {0};
    va_list ap;
    va_start(ap, fmt);
    iq_error_setv(&err, code, fmt, ap);
    va_end(ap);
    api_reply_error(req, res, &err);
}

void api_header_add(struct api_response *res, const char *name, const char *value)
{
    if (res->header_count >= API_MAX_HEADERS)
        return;
    char *copy = strdup(value);
    if (!copy)
        return;
    res->headers[res->header_count].name = name;
    res->headers[res->header_count].value = copy;
    res->header_count++;
}

void api_response_clear(struct api_response *res)
{
    free(res->body);
    if (res->stream) /* never queued: this frees the stream too */
        MHD_destroy_response(res->stream);
    for (size_t i = 0; i < res->header_count; i++)
        free(res->headers[i].value);
    memset(res, 0, sizeof(*res));
}
