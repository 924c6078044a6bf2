/*
 * common/orchestration.c - the backend-neutral half of storing
 * orchestrations (common/orchestration.h): drafting a request into
 * rows, decoding stored rows, the audit image, list paging, and the
 * clear functions of admin_ops.h for orchestrations and job phases.
 * No SQL here: the backends run the statements.
 */
#include "store/common/orchestration.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------
 * Clearing (admin_ops.h)
 * ------------------------------------------------------------------------ */

void orchestration_clear(struct orchestration *orch)
{
    if (!orch)
        return;
    for (size_t i = 0; i < orch->job_count; i++) {
        if (orch->jobs)
            job_free(orch->jobs[i]);
        if (orch->keys)
            free(orch->keys[i]);
    }
    free(orch->jobs);
    free(orch->keys);
    free(orch->name);
    free(orch->created_by);
    memset(orch, 0, sizeof(*orch));
}

void orchestration_page_clear(struct orchestration_page *page)
{
    if (!page)
        return;
    for (size_t i = 0; i < page->count; i++)
        orchestration_clear(&page->items[i]);
    free(page->items);
    memset(page, 0, sizeof(*page));
}

void job_phase_list_clear(struct job_phase_list *list)
{
    if (!list)
        return;
    free(list->items);
    memset(list, 0, sizeof(*list));
}

/* ------------------------------------------------------------------------
 * Drafting a request
 * ------------------------------------------------------------------------ */

void orchestration_draft_clear(struct orchestration_draft *draft)
{
    if (!draft)
        return;
    for (size_t i = 0; draft->specs && i < draft->job_count; i++)
        free(draft->specs[i].depends_on);
    free(draft->specs);
    free(draft->job_ids);
    free(draft->detail_text);
    orchestration_plan_clear(&draft->plan);
    memset(draft, 0, sizeof(*draft));
}

/*
 * check_jobs - the per-job rules the graph does not cover: a spec with a
 * target, no request_id, at most SPEC_MAX_DEPENDENCIES dependencies in
 * all. Adds field errors; returns IQ_E_INVALID when it added any.
 */
static int check_jobs(const struct orchestration_request *req, struct iq_error *err)
{
    int rc = 0;
    char field[64];
    if (req->name && strlen(req->name) > ORCHESTRATION_MAX_NAME_LEN)
        rc = iq_error_add_field(err, "name", "at most %d bytes", ORCHESTRATION_MAX_NAME_LEN);
    for (size_t i = 0; req->jobs && i < req->job_count && i < ORCHESTRATION_MAX_JOBS; i++) {
        const struct orchestration_job_request *job = &req->jobs[i];
        if (!job->spec || !job->spec->target.table) {
            snprintf(field, sizeof(field), "jobs[%zu]", i);
            rc = iq_error_add_field(err, field, "a job needs a spec with target.table");
            continue;
        }
        if (job->spec->request_id) {
            snprintf(field, sizeof(field), "jobs[%zu].request_id", i);
            rc = iq_error_add_field(err, field, "not allowed inside an orchestration");
        }
        if (job->spec->depends_on_count + job->after_count > SPEC_MAX_DEPENDENCIES) {
            snprintf(field, sizeof(field), "jobs[%zu].after", i);
            rc = iq_error_add_field(err, field,
                                    "at most %d dependencies in all (depends_on and "
                                    "after)",
                                    SPEC_MAX_DEPENDENCIES);
        }
    }
    return rc;
}

/* build_plan - orchestration_plan_build over the request's keys and after lists. */
static int build_plan(const struct orchestration_request *req, struct orchestration_plan *ret_plan,
                      struct iq_error *err)
{
    struct orchestration_member *members = NULL;
    if (req->jobs && req->job_count > 0 && req->job_count <= ORCHESTRATION_MAX_JOBS) {
        members = calloc(req->job_count, sizeof(*members));
        if (!members)
            return iq_error_set(err, IQ_E_NOMEM, "out of memory");
        for (size_t i = 0; i < req->job_count; i++)
            members[i] = (struct orchestration_member){
                .key = req->jobs[i].key,
                .after = req->jobs[i].after,
                .after_count = req->jobs[i].after ? req->jobs[i].after_count : 0,
            };
    }
    int rc = orchestration_plan_build(members, members ? req->job_count : 0, ret_plan, err);
    free(members);
    return rc;
}

/*
 * draft_specs - each job's spec, shallow-copied, with depends_on = its own
 * ids then the (already generated) ids of the jobs it runs after.
 */
static int draft_specs(const struct orchestration_request *req, struct orchestration_draft *draft,
                       struct iq_error *err)
{
    draft->specs = calloc(draft->job_count, sizeof(*draft->specs));
    if (!draft->specs)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; i < draft->job_count; i++) {
        const struct job_spec *own = req->jobs[i].spec;
        size_t after_count = draft->plan.after_index_count[i];
        size_t total = own->depends_on_count + after_count;
        draft->specs[i] = *own;
        draft->specs[i].depends_on = calloc(total ? total : 1, sizeof(char *));
        draft->specs[i].depends_on_count = total;
        if (!draft->specs[i].depends_on)
            return iq_error_set(err, IQ_E_NOMEM, "out of memory");
        for (size_t d = 0; d < own->depends_on_count; d++)
            draft->specs[i].depends_on[d] = own->depends_on[d];
        for (size_t a = 0; a < after_count; a++)
            draft->specs[i].depends_on[own->depends_on_count + a] =
                draft->job_ids[draft->plan.after_index[i][a]];
    }
    return 0;
}

/* draft_detail - {"jobs": {key: id}} as compact, key-sorted text. */
static int draft_detail(const struct orchestration_request *req, struct orchestration_draft *draft,
                        struct iq_error *err)
{
    json_t *map = json_object();
    for (size_t i = 0; map && i < draft->job_count; i++)
        if (json_object_set_new(map, req->jobs[i].key, json_string(draft->job_ids[i])) < 0) {
            json_decref(map);
            map = NULL;
        }
    json_t *detail = map ? json_pack("{s:o}", "jobs", map) : NULL;
    draft->detail_text = store_json_text(detail);
    json_decref(detail);
    return draft->detail_text ? 0 : iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

int orchestration_draft_build(const struct orchestration_request *req, int64_t now_ms,
                              struct orchestration_draft *ret_draft, struct iq_error *err)
{
    memset(ret_draft, 0, sizeof(*ret_draft));
    if (!req)
        return iq_error_set(err, IQ_E_INVALID, "an orchestration needs a request");
    int jobs_rc = check_jobs(req, err);
    int rc = build_plan(req, &ret_draft->plan, err);
    if (rc == IQ_E_NOMEM)
        return rc;
    if (jobs_rc < 0 || rc == IQ_E_INVALID) /* field errors win over a cycle */
        return iq_error_set(err, IQ_E_INVALID, "invalid orchestration");
    if (rc < 0)
        return rc;
    ret_draft->job_count = req->job_count;
    ret_draft->name = req->name ? req->name : "";
    uuid7_generate_at(now_ms, ret_draft->id);
    ret_draft->job_ids = calloc(req->job_count, sizeof(*ret_draft->job_ids));
    if (!ret_draft->job_ids)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; i < req->job_count; i++)
        uuid7_generate_at(now_ms, ret_draft->job_ids[i]); /* monotonic: id order is request order */
    rc = draft_specs(req, ret_draft, err);
    if (rc == 0)
        rc = draft_detail(req, ret_draft, err);
    return rc;
}

/* ------------------------------------------------------------------------
 * Reading stored rows
 * ------------------------------------------------------------------------ */

/* dup_text - *ret = a copy of text (NULL stays NULL); *ok turns false on OOM. */
static void dup_text(const char *text, char **ret, bool *ok)
{
    *ret = text ? strdup(text) : NULL;
    if (text && !*ret)
        *ok = false;
}

int orchestration_decode_row(const char *const values[ORCHCOL_COUNT],
                             struct orchestration *ret_orch, json_t **ret_keys,
                             struct iq_error *err)
{
    memset(ret_orch, 0, sizeof(*ret_orch));
    *ret_keys = NULL;
    const char *id = values[ORCHCOL_ID], *status = values[ORCHCOL_STATUS];
    enum job_status parsed;
    if (!id || strlen(id) != UUID_STR_LEN - 1 || !status || job_status_parse(status, &parsed) < 0 ||
        !values[ORCHCOL_CREATED_AT] ||
        time_parse_rfc3339(values[ORCHCOL_CREATED_AT], &ret_orch->created_at_ms) < 0 ||
        !values[ORCHCOL_UPDATED_AT] ||
        time_parse_rfc3339(values[ORCHCOL_UPDATED_AT], &ret_orch->updated_at_ms) < 0)
        return iq_error_set(err, IQ_E_DB, "orchestration row %s is malformed", id ? id : "?");
    json_t *detail = values[ORCHCOL_DETAIL] ? json_loads(values[ORCHCOL_DETAIL], 0, NULL) : NULL;
    json_t *keys = json_object_get(detail, "jobs");
    if (!json_is_object(keys)) {
        json_decref(detail);
        return iq_error_set(err, IQ_E_DB, "orchestration %s has no job keys", id);
    }
    *ret_keys = json_incref(keys);
    json_decref(detail);
    memcpy(ret_orch->id, id, UUID_STR_LEN);
    snprintf(ret_orch->status, sizeof(ret_orch->status), "%s", status);
    bool ok = true;
    dup_text(values[ORCHCOL_NAME] ? values[ORCHCOL_NAME] : "", &ret_orch->name, &ok);
    dup_text(values[ORCHCOL_CREATED_BY], &ret_orch->created_by, &ok);
    if (!ok) {
        orchestration_clear(ret_orch);
        json_decref(*ret_keys);
        *ret_keys = NULL;
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    return 0;
}

/* key_of - the key whose value is job_id in keys, or NULL. */
static const char *key_of(const json_t *keys, const char *job_id)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)keys, key, value)
    {
        const char *text = json_string_value(value);
        if (text && strcasecmp(text, job_id) == 0)
            return key;
    }
    return NULL;
}

int orchestration_add_job(struct orchestration *orch, const json_t *keys, struct job *job,
                          struct iq_error *err)
{
    const char *key = key_of(keys, job->id);
    if (!key) {
        int rc =
            iq_error_set(err, IQ_E_DB, "job %s of orchestration %s has no key", job->id, orch->id);
        job_free(job);
        return rc;
    }
    char *key_copy = strdup(key);
    struct job **jobs = realloc(orch->jobs, (orch->job_count + 1) * sizeof(*jobs));
    if (jobs)
        orch->jobs = jobs;
    char **all_keys = jobs ? realloc(orch->keys, (orch->job_count + 1) * sizeof(*all_keys)) : NULL;
    if (all_keys)
        orch->keys = all_keys;
    if (!key_copy || !jobs || !all_keys) {
        free(key_copy);
        job_free(job);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    orch->jobs[orch->job_count] = job;
    orch->keys[orch->job_count] = key_copy;
    orch->job_count++;
    return 0;
}

char *orchestration_audit_text(const struct orchestration *orch)
{
    json_t *jobs = json_array();
    for (size_t i = 0; jobs && i < orch->job_count; i++)
        if (json_array_append_new(
                jobs, json_pack("{s:s,s:s}", "key", orch->keys[i], "id", orch->jobs[i]->id)) < 0) {
            json_decref(jobs);
            jobs = NULL;
        }
    json_t *image = jobs ? json_pack("{s:s,s:s,s:s,s:s?,s:o}", "id", orch->id, "name",
                                     orch->name ? orch->name : "", "status", orch->status,
                                     "created_by", orch->created_by, "jobs", jobs)
                         : NULL;
    char *text = store_json_text(image);
    json_decref(image);
    return text;
}

/* ------------------------------------------------------------------------
 * Listing
 * ------------------------------------------------------------------------ */

int orchestration_list_check(int limit, const char *after_id, int *ret_limit, struct iq_error *err)
{
    if (limit == 0)
        limit = ORCHESTRATION_LIST_LIMIT_DEFAULT;
    if (limit < 1 || limit > ORCHESTRATION_LIST_LIMIT_MAX)
        return iq_error_set(err, IQ_E_BAD_REQUEST, "limit must be between 1 and %d",
                            ORCHESTRATION_LIST_LIMIT_MAX);
    if (after_id && after_id[0] && !uuid_is_valid(after_id))
        return iq_error_set(err, IQ_E_BAD_REQUEST, "after_id \"%s\" is not an orchestration id",
                            after_id);
    *ret_limit = limit;
    return 0;
}

int orchestration_page_fill(struct orchestration_page *page, json_t *const *keys, struct job **jobs,
                            size_t job_count, struct iq_error *err)
{
    size_t item = 0;
    int rc = 0;
    for (size_t i = 0; i < job_count; i++) {
        struct job *job = jobs[i];
        jobs[i] = NULL;
        if (rc < 0) {
            job_free(job);
            continue;
        }
        while (item < page->count && (!job->orchestration_id ||
                                      strcasecmp(page->items[item].id, job->orchestration_id) != 0))
            item++;
        if (item == page->count) {
            rc = iq_error_set(err, IQ_E_DB, "job %s belongs to no orchestration of the page",
                              job->id);
            job_free(job);
            continue;
        }
        rc = orchestration_add_job(&page->items[item], keys[item], job, err);
    }
    return rc;
}
