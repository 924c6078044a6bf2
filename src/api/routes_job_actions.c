/*
 * routes_job_actions.c - the routes that change one job: PUT (edit while
 * HELD or QUEUED), DELETE (cancel), POST .../execute, and GET .../rejects
 * (the rejected rows as CSV). The store decides what each status allows;
 * these handlers only translate.
 */
#include "api/routes.h"

#include "engine/engine.h"

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fields PUT may change (CONTRACT §3). */
static const char *const editable_fields[] = {
    "priority",     "scheduled_at", "depends_on", "name",     "timeout_s",
    "max_attempts", "source",       "target",     "on_error", NULL};

static bool is_editable(const char *key)
{
    for (const char *const *f = editable_fields; *f; f++)
        if (strcmp(*f, key) == 0)
            return true;
    return false;
}

/* merged_spec - the stored job's spec with body's fields on top; NULL after
 * answering 422 (a field that cannot be edited). New reference. */
static json_t *merged_spec(struct api_request *req, struct api_response *res, const struct job *job,
                           json_t *body)
{
    struct iq_error err = {0};
    const char *key;
    json_t *value;
    json_object_foreach(body, key, value)
    {
        if (!is_editable(key))
            iq_error_add_field(&err, key,
                               "cannot be changed (editable: priority, scheduled_at, "
                               "depends_on, name, timeout_s, max_attempts, source, "
                               "target, on_error)");
    }
    if (err.field_count > 0) {
        iq_error_set(&err, IQ_E_INVALID, "the body has fields that cannot be changed");
        api_reply_error(req, res, &err);
        return NULL;
    }
    json_t *spec = job_spec_json_from_job(job);
    if (!spec || json_object_update(spec, body) < 0) {
        json_decref(spec);
        api_reply_problem(req, res, IQ_E_NOMEM, "out of memory");
        return NULL;
    }
    return spec;
}

void route_job_update(struct api_request *req, struct api_response *res)
{
    json_t *body = NULL;
    if (!api_param_uuid(req, res, 0, "the job id") || !api_body_json(req, res, &body))
        return;
    struct store *store = api_store(req, res);
    struct job *job = NULL, *updated = NULL;
    struct job_spec *spec = NULL;
    json_t *merged = NULL;
    struct iq_error err = {0};
    if (!store)
        goto done;
    if (store_job_get(store, req->params[0], &job, &err) < 0) {
        api_reply_error(req, res, &err);
        goto done;
    }
    if (job->status != JOB_HELD && job->status != JOB_QUEUED) {
        api_reply_problem(req, res, IQ_E_CONFLICT,
                          "job %s is %s: only HELD or QUEUED jobs "
                          "can be changed",
                          job->id, job_status_name(job->status));
        goto done;
    }
    merged = merged_spec(req, res, job, body);
    if (!merged)
        goto done;
    struct job_spec_defaults defaults = {.max_attempts = job->max_attempts,
                                         .timeout_s = job->timeout_s};
    if (job_spec_parse(merged, &defaults, &spec, &err) < 0 ||
        store_job_update(store, job->id, spec, &req->actx, &updated, &err) < 0) {
        api_reply_error(req, res, &err);
        goto done;
    }
    engine_wake(req->api->engine);
    api_status_invalidate(req->api);
    api_reply_json(res, 200, api_job_json(updated));
done:
    job_spec_free(spec);
    json_decref(merged);
    json_decref(body);
    job_free(job);
    job_free(updated);
}

/* job_action - run one store action on {id} and answer status + the job. */
static void job_action(struct api_request *req, struct api_response *res, int status,
                       int (*action)(struct store *, const char *, const struct audit_context *,
                                     struct job **, struct iq_error *))
{
    if (!api_param_uuid(req, res, 0, "the job id"))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct job *job = NULL;
    struct iq_error err = {0};
    if (action(store, req->params[0], &req->actx, &job, &err) < 0) {
        api_reply_error(req, res, &err);
        return;
    }
    engine_wake(req->api->engine);
    api_status_invalidate(req->api);
    api_reply_json(res, status, api_job_json(job));
    job_free(job);
}

void route_job_cancel(struct api_request *req, struct api_response *res)
{
    job_action(req, res, 200, store_job_cancel);
}

void route_job_execute(struct api_request *req, struct api_response *res)
{
    job_action(req, res, 202, store_job_execute);
}

/* csv_field - one quoted CSV field (libcsv does the quoting). */
static void csv_field(FILE *out, const char *text, bool last)
{
    if (text)
        csv_fwrite(out, text, strlen(text));
    fputc(last ? '\n' : ',', out);
}

static int reject_csv_cb(const struct job_reject_row *row, void *ctx)
{
    FILE *out = ctx;
    fprintf(out, "%lld,", (long long)row->line);
    csv_field(out, row->column, false);
    csv_field(out, row->value, false);
    csv_field(out, row->error, true);
    return 0;
}

void route_job_rejects(struct api_request *req, struct api_response *res)
{
    if (!api_param_uuid(req, res, 0, "the job id"))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        api_reply_problem(req, res, IQ_E_NOMEM, "out of memory");
        return;
    }
    fputs("line,column,value,error\n", out);
    struct iq_error err = {0};
    int rc = store_job_rejects_each(store, req->params[0], reject_csv_cb, out, &err);
    fclose(out);
    if (rc < 0) {
        free(text);
        api_reply_error(req, res, &err);
        return;
    }
    api_reply_take(res, 200, "text/csv; charset=utf-8", text, len);
    char disposition[96];
    snprintf(disposition, sizeof(disposition), "attachment; filename=\"rejects-%s.csv\"",
             req->params[0]);
    api_header_add(res, "Content-Disposition", disposition);
}
