/*
 * import_output.c - the dry-run summary and the --json report of
 * `importq import` (import_output.h). The JSON keeps the job resource's
 * names (rows_read, rows_inserted ..., error.code) so that a script
 * reads an in-process import as it reads a job from the API.
 */
#include "cli/import_output.h"

#include <stdio.h>
#include <string.h>

void import_json_init(struct import_json *out)
{
    out->rejects = json_array();
    out->count = 0;
}

void import_json_clear(struct import_json *out)
{
    json_decref(out->rejects);
    out->rejects = NULL;
}

/* text_or_null - a JSON string of text, or null (also for text that is not UTF-8). */
static json_t *text_or_null(const char *text)
{
    json_t *string = text ? json_string(text) : NULL;
    return string ? string : json_null();
}

void import_json_add_reject(struct import_json *out, const struct import_reject *reject)
{
    if (out->count++ >= IMPORT_JSON_REJECTS_MAX || !out->rejects)
        return;
    json_t *item = json_object();
    json_object_set_new(item, "line", json_integer(reject->line));
    json_object_set_new(item, "column", text_or_null(reject->column));
    json_object_set_new(item, "value", text_or_null(reject->value));
    json_object_set_new(item, "error", text_or_null(reject->error));
    json_object_set_new(item, "table", text_or_null(reject->table));
    json_object_set_new(item, "record",
                        reject->record >= 0 ? json_integer(reject->record) : json_null());
    json_object_set_new(item, "pointer", text_or_null(reject->pointer));
    json_array_append_new(out->rejects, item);
}

/* error_json - import_run's failure as the job resource's error, or null. */
static json_t *error_json(int rc, const struct iq_error *err)
{
    if (rc == 0)
        return json_null();
    bool transient = false;
    const char *code = rc == IQ_E_CANCELLED ? "cancelled" : import_failure_code(rc, &transient);
    return json_pack("{s:s, s:s, s:b}", "code", code, "message", iq_error_message(err), "transient",
                     transient);
}

static const char *status_of(int rc)
{
    return rc == 0 ? "COMPLETED" : rc == IQ_E_CANCELLED ? "CANCELLED" : "FAILED";
}

void import_json_print(const struct import_json *out, const char *file,
                       const struct target_spec *target, const struct import_result *result,
                       double seconds, int rc, const struct iq_error *err)
{
    json_t *report = json_object();
    json_object_set_new(report, "file", text_or_null(file));
    json_object_set_new(report, "table", text_or_null(target->table));
    json_object_set_new(report, "mode", json_string(target_mode_name(target->mode)));
    json_object_set_new(report, "dry_run", json_boolean(target->dry_run));
    json_object_set_new(report, "job_id", json_null());
    json_object_set_new(report, "status", json_string(status_of(rc)));
    json_object_set_new(report, "rows_read", json_integer(result->rows_read));
    json_object_set_new(report, "rows_inserted", json_integer(result->rows_inserted));
    json_object_set_new(report, "rows_updated", json_integer(result->rows_updated));
    if (target->dry_run)
        json_object_set_new(report, "rows_unchanged", json_integer(result->rows_unchanged));
    json_object_set_new(report, "rows_deleted", json_integer(result->rows_deleted));
    json_object_set_new(report, "rows_rejected", json_integer(result->rows_rejected));
    if (target->dry_run)
        json_object_set_new(report, "creates_table", json_boolean(result->creates_target));
    json_object_set_new(report, "bytes_read", json_integer((json_int_t)result->bytes_read));
    json_object_set_new(report, "duration_s", json_real(seconds));
    json_object_set_new(report, "error", error_json(rc, err));
    if (out->rejects)
        json_object_set(report, "rejects", out->rejects);
    else
        json_object_set_new(report, "rejects", json_array());
    int64_t shown = (int64_t)json_array_size(out->rejects);
    json_object_set_new(report, "rejects_not_shown", json_integer(out->count - shown));
    if (json_dumpf(report, stdout, JSON_PRESERVE_ORDER | JSON_COMPACT) == 0)
        fputc('\n', stdout);
    json_decref(report);
}

/* print_create - "dry run: would create table T (c type, ..., primary key (k))". */
static void print_create(const struct target_spec *target)
{
    printf("dry run: would create table %s (", target->table);
    for (size_t i = 0; i < target->column_count; i++)
        printf("%s%s %s", i ? ", " : "", target->columns[i].name,
               column_type_name(target->columns[i].type));
    for (size_t k = 0; k < target->key_count; k++)
        printf("%s%s", k ? ", " : ", primary key (", target->key[k]);
    printf("%s)\n", target->key_count ? ")" : "");
}

void import_dry_run_print(const char *file, const struct target_spec *target,
                          const struct import_result *result, double seconds)
{
    if (result->creates_target)
        print_create(target);
    printf("dry run: %s into %s: %lld read; would insert %lld, update %lld, leave %lld "
           "unchanged, delete %lld; %lld rejected \xe2\x80\x94 nothing was written (%.2f s)\n",
           file, target->table, (long long)result->rows_read, (long long)result->rows_inserted,
           (long long)result->rows_updated, (long long)result->rows_unchanged,
           (long long)result->rows_deleted, (long long)result->rows_rejected, seconds);
}
