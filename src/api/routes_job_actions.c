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

struct rejects_csv {
    FILE *out;
    bool with_record;           /* JSON sources: the record,pointer columns too */
};

/* One reject: line,column,value,error and, for a JSON source, record and
 * pointer (empty when not known: the record of a set-wise reject). */
static int reject_csv_cb(const struct job_reject_row *row, void *ctx)
{
    struct rejects_csv *csv = ctx;
    FILE *out = csv->out;
    fprintf(out, "%lld,", (long long)row->line);
    csv_field(out, row->column, false);
    csv_field(out, row->value, false);
    csv_field(out, row->error, !csv->with_record);
    if (!csv->with_record)
        return 0;
    if (row->has_record)
        fprintf(out, "%lld", (long long)row->record);
    fputc(',', out);
    csv_field(out, row->pointer, true);
    return 0;
}

/*
 * source_is_json - whether the job reads JSON or NDJSON, whose rejects
 * carry record,pointer: in a one-line JSON array every line is 1. A CSV
 * source's rejects keep exactly the four columns of the contract.
 */
static int source_is_json(struct store *store, const char *job_id, bool *ret_json,
                          struct iq_error *err)
{
    struct job *job = NULL;
    int rc = store_job_get(store, job_id, &job, err);
    if (rc < 0)
        return rc;
    const char *format = json_string_value(json_object_get(job->source, "format"));
    *ret_json = format && strcmp(format, "csv") != 0;
    job_free(job);
    return 0;
}

void route_job_rejects(struct api_request *req, struct api_response *res)
{
    if (!api_param_uuid(req, res, 0, "the job id"))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct iq_error err = {0};
    struct rejects_csv csv = {0};
    if (source_is_json(store, req->params[0], &csv.with_record, &err) < 0) {
        api_reply_error(req, res, &err);
        return;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = csv.out = open_memstream(&text, &len);
    if (!out) {
        api_reply_problem(req, res, IQ_E_NOMEM, "out of memory");
        return;
    }
    fputs(csv.with_record ? "line,column,value,error,record,pointer\n"
                          : "line,column,value,error\n", out);
    int rc = store_job_rejects_each(store, req->params[0], reject_csv_cb, &csv, &err);
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
