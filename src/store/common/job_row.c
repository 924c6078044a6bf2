/*
 * job_row.c - what both backends do alike with the rows they read and
 * write: decoding a job row of JOB_COLUMNS text, the JSON texts a spec
 * contributes to a row, the audit images of a change, and the checks a
 * backend makes before any SQL (claim batch, target names). No SQL here.
 */
#include "store/common/internal.h"

#include "core/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct job_column_info job_columns[JOBCOL_COUNT] = {
#define JOB_COLUMN_INFO(name, column, kind) {column, kind},
    JOB_COLUMNS(JOB_COLUMN_INFO)
#undef JOB_COLUMN_INFO
};


void job_page_clear(struct job_page *page)
{
    if (!page)
        return;
    for (size_t i = 0; i < page->count; i++)
        job_free(page->items[i]);
    free(page->items);
    memset(page, 0, sizeof(*page));
}

static int parse_int64(const char *text, int64_t *ret)
{
    if (!text) {
        *ret = 0;
        return 0;
    }
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno || end == text || *end != '\0')
        return -1;
    *ret = value;
    return 0;
}

static int parse_time(const char *text, int64_t *ret)
{
    if (!text) {
        *ret = 0;
        return 0;
    }
    return time_parse_rfc3339(text, ret) == 0 ? 0 : -1;
}

static int parse_json(const char *text, json_t **ret)
{
    *ret = NULL;
    if (!text)
        return 0;
    *ret = json_loads(text, JSON_DECODE_ANY, NULL);
    return *ret ? 0 : -1;
}

static int dup_or_null(const char *text, char **ret)
{
    *ret = NULL;
    if (!text)
        return 0;
    *ret = strdup(text);
    return *ret ? 0 : -1;
}

/* Fills job->resources from [{"name","mode"}]. */
static int decode_resources(struct job *job, const json_t *array)
{
    if (!json_is_array(array))
        return -1;
    size_t n = json_array_size(array);
    if (n == 0)
        return 0;
    job->resources = calloc(n, sizeof(*job->resources));
    if (!job->resources)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(array, i);
        const char *name = json_string_value(json_object_get(item, "name"));
        const char *mode = json_string_value(json_object_get(item, "mode"));
        if (!name || lock_mode_parse(mode, &job->resources[i].mode) < 0)
            return -1;
        job->resources[i].name = strdup(name);
        if (!job->resources[i].name)
            return -1;
        job->resource_count = i + 1;
    }
    return 0;
}

static int decode_deps(struct job *job, const json_t *array)
{
    if (!array)
        return 0;
    if (!json_is_array(array))
        return -1;
    size_t n = json_array_size(array);
    if (n == 0)
        return 0;
    job->depends_on = calloc(n, sizeof(*job->depends_on));
    if (!job->depends_on)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(array, i));
        if (!id)
            return -1;
        job->depends_on[i] = strdup(id);
        if (!job->depends_on[i])
            return -1;
        job->depends_on_count = i + 1;
    }
    return 0;
}

static int parse_bool(const char *text, bool *ret)
{
    if (!text) {
        *ret = false;
        return 0;
    }
    if (strcmp(text, "1") == 0 || strcmp(text, "t") == 0 || strcmp(text, "true") == 0) {
        *ret = true;
        return 0;
    }
    if (strcmp(text, "0") == 0 || strcmp(text, "f") == 0 || strcmp(text, "false") == 0) {
        *ret = false;
        return 0;
    }
    return -1;
}

int store_job_decode(const char *const values[JOBCOL_COUNT], struct job **ret_job,
                     struct iq_error *err)
{
    *ret_job = NULL;
    struct job *job = job_new();
    if (!job)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    const char *bad = NULL;
    int64_t number;
    json_t *resources = NULL, *deps = NULL;

#define NEED(cond, column)            \
    do {                              \
        if (!(cond)) {                \
            bad = job_columns[column].name; \
            goto fail;                \
        }                             \
    } while (0)

    NEED(values[JOBCOL_ID] && strlen(values[JOBCOL_ID]) == UUID_STR_LEN - 1, JOBCOL_ID);
    memcpy(job->id, values[JOBCOL_ID], UUID_STR_LEN);
    NEED(dup_or_null(values[JOBCOL_REQUEST_ID], &job->request_id) == 0, JOBCOL_REQUEST_ID);
    free(job->name);
    job->name = strdup(values[JOBCOL_NAME] ? values[JOBCOL_NAME] : "");
    NEED(job->name, JOBCOL_NAME);
    NEED(job_status_parse(values[JOBCOL_STATUS], &job->status) == 0, JOBCOL_STATUS);
    NEED(parse_int64(values[JOBCOL_PRIORITY], &number) == 0, JOBCOL_PRIORITY);
    job->priority = (int)number;
    NEED(dup_or_null(values[JOBCOL_ORCHESTRATION_ID], &job->orchestration_id) == 0,
         JOBCOL_ORCHESTRATION_ID);
    NEED(dup_or_null(values[JOBCOL_SCHEDULE_ID], &job->schedule_id) == 0, JOBCOL_SCHEDULE_ID);
    NEED(parse_time(values[JOBCOL_SCHEDULED_AT], &job->scheduled_at_ms) == 0, JOBCOL_SCHEDULED_AT);
    NEED(parse_time(values[JOBCOL_AVAILABLE_AT], &job->available_at_ms) == 0, JOBCOL_AVAILABLE_AT);
    NEED(parse_int64(values[JOBCOL_DEPS_PENDING], &number) == 0, JOBCOL_DEPS_PENDING);
    job->deps_pending = (int)number;
    NEED(parse_int64(values[JOBCOL_ATTEMPT], &number) == 0, JOBCOL_ATTEMPT);
    job->attempt = (int)number;
    NEED(parse_int64(values[JOBCOL_MAX_ATTEMPTS], &number) == 0, JOBCOL_MAX_ATTEMPTS);
    job->max_attempts = (int)number;
    NEED(parse_int64(values[JOBCOL_TIMEOUT_S], &job->timeout_s) == 0, JOBCOL_TIMEOUT_S);
    NEED(parse_json(values[JOBCOL_RESOURCES], &resources) == 0, JOBCOL_RESOURCES);
    NEED(decode_resources(job, resources) == 0, JOBCOL_RESOURCES);
    NEED(parse_json(values[JOBCOL_SOURCE], &job->source) == 0, JOBCOL_SOURCE);
    NEED(parse_json(values[JOBCOL_TARGET], &job->target) == 0, JOBCOL_TARGET);
    NEED(parse_json(values[JOBCOL_ON_ERROR], &job->on_error) == 0, JOBCOL_ON_ERROR);
    NEED(dup_or_null(values[JOBCOL_TARGET_TABLE], &job->target_table) == 0, JOBCOL_TARGET_TABLE);
    NEED(parse_bool(values[JOBCOL_CANCEL_REQUESTED], &job->cancel_requested) == 0,
         JOBCOL_CANCEL_REQUESTED);
    NEED(dup_or_null(values[JOBCOL_WORKER], &job->worker) == 0, JOBCOL_WORKER);
    NEED(parse_time(values[JOBCOL_HEARTBEAT_AT], &job->heartbeat_at_ms) == 0, JOBCOL_HEARTBEAT_AT);
    snprintf(job->progress.phase, sizeof(job->progress.phase), "%s",
             values[JOBCOL_PROGRESS_PHASE] ? values[JOBCOL_PROGRESS_PHASE] : "queued");
    NEED(parse_int64(values[JOBCOL_ROWS_READ], &job->progress.rows_read) == 0, JOBCOL_ROWS_READ);
    job->result.rows_read = job->progress.rows_read;
    NEED(parse_int64(values[JOBCOL_BYTES_READ], &job->progress.bytes_read) == 0, JOBCOL_BYTES_READ);
    NEED(parse_int64(values[JOBCOL_BYTES_TOTAL], &job->progress.bytes_total) == 0, JOBCOL_BYTES_TOTAL);
    NEED(parse_int64(values[JOBCOL_ROWS_INSERTED], &job->result.rows_inserted) == 0,
         JOBCOL_ROWS_INSERTED);
    NEED(parse_int64(values[JOBCOL_ROWS_UPDATED], &job->result.rows_updated) == 0,
         JOBCOL_ROWS_UPDATED);
    NEED(parse_int64(values[JOBCOL_ROWS_REJECTED], &job->result.rows_rejected) == 0,
         JOBCOL_ROWS_REJECTED);
    NEED(parse_json(values[JOBCOL_ERROR], &job->error) == 0, JOBCOL_ERROR);
    json_decref(job->attempts);
    NEED(parse_json(values[JOBCOL_ATTEMPTS], &job->attempts) == 0, JOBCOL_ATTEMPTS);
    if (!job->attempts)
        job->attempts = json_array();
    NEED(dup_or_null(values[JOBCOL_CREATED_BY], &job->created_by) == 0, JOBCOL_CREATED_BY);
    NEED(parse_time(values[JOBCOL_CREATED_AT], &job->created_at_ms) == 0, JOBCOL_CREATED_AT);
    NEED(parse_time(values[JOBCOL_UPDATED_AT], &job->updated_at_ms) == 0, JOBCOL_UPDATED_AT);
    NEED(parse_time(values[JOBCOL_STARTED_AT], &job->started_at_ms) == 0, JOBCOL_STARTED_AT);
    NEED(parse_time(values[JOBCOL_FINISHED_AT], &job->finished_at_ms) == 0, JOBCOL_FINISHED_AT);
    NEED(parse_json(values[JOBCOL_DEPENDS_ON], &deps) == 0, JOBCOL_DEPENDS_ON);
    NEED(decode_deps(job, deps) == 0, JOBCOL_DEPENDS_ON);
#undef NEED

    json_decref(resources);
    json_decref(deps);
    *ret_job = job;
    return 0;

fail:
    json_decref(resources);
    json_decref(deps);
    job_free(job);
    return iq_error_set(err, IQ_E_DB, "stored job has an unreadable %s column", bad);
}

static void job_summary_clear(struct job_summary *item)
{
    free(item->name);
    free(item->table);
    free(item->mode);
    free(item->error_code);
    free(item->error_message);
    memset(item, 0, sizeof(*item));
}

void job_summary_page_clear(struct job_summary_page *page)
{
    if (!page)
        return;
    for (size_t i = 0; i < page->count; i++)
        job_summary_clear(&page->items[i]);
    free(page->items);
    memset(page, 0, sizeof(*page));
}

/* dup_text - a copy of text ("" for NULL); NULL on OOM. */
static char *dup_text(const char *text)
{
    return strdup(text ? text : "");
}

int store_job_summary_decode(const char *const values[SUMCOL_COUNT], struct job_summary *ret,
                             struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    const char *bad = NULL;
    int64_t number;
#define NEED(cond, what)  \
    do {                  \
        if (!(cond)) {    \
            bad = (what); \
            goto fail;    \
        }                 \
    } while (0)
    NEED(values[SUMCOL_ID] && strlen(values[SUMCOL_ID]) == UUID_STR_LEN - 1, "id");
    memcpy(ret->id, values[SUMCOL_ID], UUID_STR_LEN);
    NEED(job_status_parse(values[SUMCOL_STATUS], &ret->status) == 0, "status");
    NEED(parse_int64(values[SUMCOL_PRIORITY], &number) == 0, "priority");
    ret->priority = (int)number;
    NEED(parse_int64(values[SUMCOL_ATTEMPT], &number) == 0, "attempt");
    ret->attempt = (int)number;
    NEED(parse_int64(values[SUMCOL_MAX_ATTEMPTS], &number) == 0, "max_attempts");
    ret->max_attempts = (int)number;
    snprintf(ret->progress.phase, sizeof(ret->progress.phase), "%s",
             values[SUMCOL_PROGRESS_PHASE] ? values[SUMCOL_PROGRESS_PHASE] : "queued");
    NEED(parse_int64(values[SUMCOL_ROWS_READ], &ret->progress.rows_read) == 0, "rows_read");
    NEED(parse_int64(values[SUMCOL_BYTES_READ], &ret->progress.bytes_read) == 0, "bytes_read");
    NEED(parse_int64(values[SUMCOL_BYTES_TOTAL], &ret->progress.bytes_total) == 0, "bytes_total");
    NEED(parse_time(values[SUMCOL_CREATED_AT], &ret->created_at_ms) == 0, "created_at");
    NEED(parse_time(values[SUMCOL_STARTED_AT], &ret->started_at_ms) == 0, "started_at");
    NEED(parse_time(values[SUMCOL_FINISHED_AT], &ret->finished_at_ms) == 0, "finished_at");
#undef NEED
    ret->name = dup_text(values[SUMCOL_NAME]);
    ret->table = dup_text(values[SUMCOL_TARGET_TABLE]);
    ret->mode = dup_text(values[SUMCOL_MODE]);
    bool failed = !ret->name || !ret->table || !ret->mode;
    failed |= dup_or_null(values[SUMCOL_ERROR_CODE], &ret->error_code) < 0;
    failed |= dup_or_null(values[SUMCOL_ERROR_MESSAGE], &ret->error_message) < 0;
    if (failed) {
        job_summary_clear(ret);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    return 0;
fail:
    job_summary_clear(ret);
    return iq_error_set(err, IQ_E_DB, "stored job has an unreadable %s column", bad);
}

char *store_resources_to_json(const struct job_resource *resources, size_t count)
{
    json_t *array = json_array();
    if (!array)
        return NULL;
    for (size_t i = 0; i < count; i++)
        json_array_append_new(array, json_pack("{s:s,s:s}", "name", resources[i].name, "mode",
                                               lock_mode_name(resources[i].mode)));
    char *text = json_dumps(array, JSON_COMPACT);
    json_decref(array);
    return text;
}

char *store_json_text(const json_t *value)
{
    if (!value)
        return NULL;
    return json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

/* drop_equal_fields - remove from both objects every key whose values are equal. */
static void drop_equal_fields(json_t *before, json_t *after)
{
    const char *key;
    json_t *value;
    void *tmp;
    json_object_foreach_safe(before, tmp, key, value)
    {
        if (json_equal(value, json_object_get(after, key))) {
            json_object_del(after, key);
            json_object_del(before, key);
        }
    }
}

int store_job_audit_images(const struct job *before, const struct job *after,
                           char **ret_before, char **ret_after, struct iq_error *err)
{
    *ret_before = *ret_after = NULL;
    json_t *old = before ? job_to_json(before) : NULL;
    json_t *new = after ? job_to_json(after) : NULL;
    int rc = 0;
    if ((before && !old) || (after && !new))
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    if (rc == 0 && old && new)
        drop_equal_fields(old, new);
    if (rc == 0 && old && !(*ret_before = store_json_text(old)))
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    if (rc == 0 && new && !(*ret_after = store_json_text(new)))
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    json_decref(old);
    json_decref(new);
    if (rc < 0) {
        free(*ret_before);
        free(*ret_after);
        *ret_before = *ret_after = NULL;
    }
    return rc;
}

char *store_key_text(const struct load_part *spec, const char *(*value_cb)(size_t i, void *ctx),
                     void *ctx)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return NULL;
    fputc('(', out);
    for (size_t i = 0; i < spec->key_count; i++)
        fprintf(out, "%s%s", i ? ", " : "", spec->key[i]);
    fputs(")=(", out);
    for (size_t i = 0; i < spec->key_count; i++) {
        const char *value = value_cb(i, ctx);
        fprintf(out, "%s%s", i ? ", " : "", value ? value : "NULL");
    }
    fputc(')', out);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

bool store_load_finish_is_fence(const struct load_plan *plan)
{
    const struct load_commit *c = &plan->commit;
    const struct job_finish *f = c->finish_on_commit;
    return f && c->fence_job_id && f->job_id && f->worker && c->fence_worker &&
           strcmp(f->job_id, c->fence_job_id) == 0 && strcmp(f->worker, c->fence_worker) == 0 &&
           f->attempt == c->fence_attempt;
}

void *store_grow(void *items, size_t *capacity, size_t count, size_t item_size, size_t first)
{
    if (count < *capacity)
        return items;
    size_t grown_capacity = *capacity ? *capacity * 2 : first;
    void *grown = realloc(items, grown_capacity * item_size);
    if (grown)
        *capacity = grown_capacity;
    return grown;
}

char *store_like_pattern(const char *q)
{
    size_t len = strlen(q);
    char *out = malloc(len * 2 + 3);
    if (!out)
        return NULL;
    char *p = out;
    *p++ = '%';
    for (size_t i = 0; i < len; i++) {
        if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
            *p++ = '\\';
        *p++ = q[i];
    }
    *p++ = '%';
    *p = '\0';
    return out;
}

int store_target_name(const char *text, bool qualified_allowed, struct table_name *ret_name,
                      struct iq_error *err)
{
    if (!table_name_parse(text, ret_name))
        return iq_error_set(err, IQ_E_INVALID,
                            "\"%s\" is not a table name (\"table\" or \"schema.table\")",
                            text ? text : "");
    const char *refusal = table_name_refusal(ret_name);
    if (refusal)
        return iq_error_set(err, IQ_E_INVALID, "table \"%s\" %s: it can never be written", text,
                            refusal);
    if (ret_name->schema[0] && !qualified_allowed)
        return iq_error_set(err, IQ_E_INVALID,
                            "table \"%s\": on SQLite an import writes only tables of the main"
                            " database, named without a schema",
                            text);
    return 0;
}

int store_check_claim_batch(const struct claim_request *req, const char *const *workers,
                            int worker_count, struct iq_error *err)
{
    if (!req)
        return iq_error_set(err, IQ_E_INVALID, "a claim needs a request");
    if (worker_count < 1 || worker_count > STORE_CLAIM_BATCH_MAX || !workers)
        return iq_error_set(err, IQ_E_INVALID, "a claim is for 1 to %d workers, not %d",
                            STORE_CLAIM_BATCH_MAX, worker_count);
    for (int i = 0; i < worker_count; i++)
        if (!workers[i] || !workers[i][0])
            return iq_error_set(err, IQ_E_INVALID, "a claim needs a worker name");
    if (req->max_concurrent <= 0)
        return iq_error_set(err, IQ_E_INVALID, "max_concurrent must be positive, not %d",
                            req->max_concurrent);
    if (req->lease_ms <= 0)
        return iq_error_set(err, IQ_E_INVALID, "the lock lease must be positive");
    if (req->aging_ms < 0)
        return iq_error_set(err, IQ_E_INVALID, "aging_ms cannot be negative");
    return 0;
}

void table_info_clear(struct table_info *info)
{
    if (!info)
        return;
    for (size_t i = 0; i < info->column_count; i++) {
        free(info->columns[i].name);
        free(info->columns[i].declared_type);
    }
    free(info->columns);
    memset(info, 0, sizeof(*info));
}

void lock_list_clear(struct lock_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].name);
        free(list->items[i].node);
        free(list->items[i].worker);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}

void node_list_clear(struct node_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].host);
        free(list->items[i].version);
        free(list->items[i].status);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}

void spec_texts_clear(struct spec_texts *texts)
{
    free(texts->resources);
    free(texts->source);
    free(texts->target);
    free(texts->on_error);
    memset(texts, 0, sizeof(*texts));
}

/* store_json_text of value, "{}" for a NULL value. */
static char *json_text_or_empty(const json_t *value)
{
    return value ? store_json_text(value) : strdup("{}");
}

int spec_texts_build(const struct job_spec *spec, struct spec_texts *ret_texts,
                     struct iq_error *err)
{
    memset(ret_texts, 0, sizeof(*ret_texts));
    ret_texts->resources = store_resources_to_json(spec->resources, spec->resource_count);
    ret_texts->source = json_text_or_empty(spec->source_json);
    ret_texts->target = json_text_or_empty(spec->target_json);
    ret_texts->on_error = json_text_or_empty(spec->on_error_json);
    if (ret_texts->resources && ret_texts->source && ret_texts->target && ret_texts->on_error)
        return 0;
    spec_texts_clear(ret_texts);
    return iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

/* Both backends' statements read "LIMIT 101": the list and one more. */
_Static_assert(JOB_DEPENDENTS_MAX == 100, "the dependants statements read JOB_DEPENDENTS_MAX + 1");

int job_refs_decode_json(const char *text, struct job_ref_list *ret_list, struct iq_error *err)
{
    memset(ret_list, 0, sizeof(*ret_list));
    if (!text)
        return 0;
    json_t *rows = json_loads(text, 0, NULL);
    size_t n = json_array_size(rows);
    int rc = 0;
    if (!json_is_array(rows))
        rc = iq_error_set(err, IQ_E_DB, "the dependants of a job are malformed");
    if (n > JOB_DEPENDENTS_MAX) {
        ret_list->truncated = true;
        n = JOB_DEPENDENTS_MAX;
    }
    if (rc == 0 && n > 0 && !(ret_list->items = calloc(n, sizeof(*ret_list->items))))
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const json_t *row = json_array_get(rows, i);
        const char *id = json_string_value(json_array_get(row, 0));
        const char *name = json_string_value(json_array_get(row, 1));
        struct job_ref *ref = &ret_list->items[i];
        if (!id || strlen(id) != UUID_STR_LEN - 1 ||
            job_status_parse(json_string_value(json_array_get(row, 2)), &ref->status) < 0) {
            rc = iq_error_set(err, IQ_E_DB, "a dependant of a job is malformed");
            break;
        }
        memcpy(ref->id, id, UUID_STR_LEN);
        ref->name = strdup(name ? name : "");
        ret_list->count = i + 1;
        if (!ref->name)
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    json_decref(rows);
    return rc;
}
