/*
 * sqlite/orchestrations.c - orchestrations on SQLite: creating one
 * with all its jobs in one BEGIN IMMEDIATE transaction, reading one or a
 * page of them with their jobs, and keeping the stored aggregate status
 * current (sqlite_orchestration_refresh, called by every transaction that
 * changes the status of a job). The rules (keys, cycles, the aggregate)
 * are core/orchestration.c; drafting and decoding rows is shared with
 * PostgreSQL (common/orchestration.c). Not here: inserting one job
 * (job_rule_insert, common/job_rules.c, which this file calls per job).
 */
#include "store/common/orchestration.h"
#include "store/sqlite/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * The aggregate status
 * ------------------------------------------------------------------------ */

/* read_tally - count orchestration_id's jobs by status and whether they ran. */
static int read_tally(struct sqlite_store *s, const char *orchestration_id,
                      struct orchestration_tally *ret_tally, struct iq_error *err)
{
    memset(ret_tally, 0, sizeof(*ret_tally));
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_ORCHESTRATION_TALLY, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, orchestration_id);
    int rc = sqlite_binder_check(s, &b, err);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "count orchestration jobs", err)) == 1) {
        rc = 0;
        enum job_status status;
        const char *text = (const char *)sqlite3_column_text(stmt, 0);
        if (job_status_parse(text, &status) < 0) {
            stmt_release(stmt);
            return iq_error_set(err, IQ_E_DB, "a job of orchestration %s has status \"%s\"",
                                orchestration_id, text ? text : "");
        }
        orchestration_tally_add(ret_tally, status, sqlite3_column_int64(stmt, 1),
                                sqlite3_column_int64(stmt, 2));
    }
    return rc;
}

/* sqlite_orchestration_refresh - see sqlite/internal.h. */
int sqlite_orchestration_refresh(struct sqlite_store *s, const char *orchestration_id,
                                 int64_t now_ms, struct iq_error *err)
{
    if (!orchestration_id)
        return 0;
    struct orchestration_tally tally;
    int rc = read_tally(s, orchestration_id, &tally, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_ORCHESTRATION_SET_STATUS, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, orchestration_id);
    bind_text(&b, job_status_name(orchestration_status(&tally)));
    bind_time(&b, now_ms);
    rc = sqlite_binder_check(s, &b, err);
    return rc < 0 ? rc : sqlite_stmt_run(s, stmt, "update orchestration status", err);
}

/*
 * sqlite_refresh_orchestrations - see sqlite/internal.h
 * (job_primitives.refresh_orchestrations): job's orchestration, then
 * those of the cascade's jobs, each refreshed once.
 */
int sqlite_refresh_orchestrations(void *backend, const struct job *job,
                                  const struct job_cascade *cascade, int64_t now_ms,
                                  struct iq_error *err)
{
    const char *done = job ? job->orchestration_id : NULL;
    int rc = sqlite_orchestration_refresh(backend, done, now_ms, err);
    for (size_t i = 0; rc == 0 && cascade && i < cascade->after_count; i++) {
        const char *id = cascade->after[i]->orchestration_id;
        if (id && !(done && strcmp(id, done) == 0))
            rc = sqlite_orchestration_refresh(backend, id, now_ms, err);
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------ */

/* row_values - the ORCHCOL_COUNT text columns of the current row. */
static int row_values(sqlite3_stmt *stmt, const char *values[ORCHCOL_COUNT], struct iq_error *err)
{
    for (int i = 0; i < ORCHCOL_COUNT; i++) {
        bool ok;
        values[i] = sqlite_column_text_or_error(stmt, i, &ok);
        if (!ok)
            return nomem(err);
    }
    return 0;
}

/*
 * add_jobs - step stmt (a JOB_SELECT already bound) and append each job to
 * orch with its key from keys.
 */
static int add_jobs(struct sqlite_store *s, sqlite3_stmt *stmt, struct orchestration *orch,
                    const json_t *keys, struct iq_error *err)
{
    int rc;
    while ((rc = sqlite_stmt_next(s, stmt, "read orchestration jobs", err)) == 1) {
        struct job *job = NULL;
        rc = sqlite_row_to_job(stmt, &job, err);
        if (rc == 0)
            rc = orchestration_add_job(orch, keys, job, err);
        if (rc < 0) {
            stmt_release(stmt);
            return rc;
        }
    }
    return rc;
}

/* read_orchestration - orchestration id with its jobs; IQ_E_NOT_FOUND when none. */
static int read_orchestration(struct sqlite_store *s, const char *id,
                              struct orchestration *ret_orch, struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_ORCHESTRATION_BY_ID, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, id);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_next(s, stmt, "read orchestration", err);
    if (rc == 0)
        return iq_error_set(err, IQ_E_NOT_FOUND, "orchestration %s not found", id);
    if (rc < 0)
        return rc;
    const char *values[ORCHCOL_COUNT];
    json_t *keys = NULL;
    rc = row_values(stmt, values, err);
    if (rc == 0)
        rc = orchestration_decode_row(values, ret_orch, &keys, err);
    stmt_release(stmt);
    if (rc == 0 && !(stmt = sqlite_stmt_get(s, STMT_ORCHESTRATION_JOBS, err)))
        rc = IQ_E_DB;
    if (rc == 0) {
        b = binder_start(stmt);
        bind_text(&b, id);
        rc = sqlite_binder_check(s, &b, err);
    }
    if (rc == 0)
        rc = add_jobs(s, stmt, ret_orch, keys, err);
    json_decref(keys);
    if (rc < 0)
        orchestration_clear(ret_orch);
    return rc;
}

/*
 * sqlite_orchestration_get - see store_ops.orchestration_get. One read
 * transaction, so the status and the jobs agree.
 */
int sqlite_orchestration_get(struct store *base, const char *id, struct orchestration *ret_orch,
                             struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    memset(ret_orch, 0, sizeof(*ret_orch));
    if (!id)
        return iq_error_set(err, IQ_E_NOT_FOUND, "orchestration (null) not found");
    int rc = sqlite_run_cached(s, STMT_BEGIN_READ, "begin read transaction", err);
    if (rc < 0)
        return rc;
    rc = sqlite_tx_finish(s, read_orchestration(s, id, ret_orch, err), err);
    if (rc < 0)
        orchestration_clear(ret_orch);
    return rc;
}

/* page_add_row - append the current row of STMT_ORCHESTRATIONS_PAGE to page. */
static int page_add_row(sqlite3_stmt *stmt, struct orchestration_page *page, json_t **keys,
                        struct iq_error *err)
{
    const char *values[ORCHCOL_COUNT];
    int rc = row_values(stmt, values, err);
    if (rc == 0)
        rc = orchestration_decode_row(values, &page->items[page->count], &keys[page->count], err);
    if (rc == 0)
        page->count++;
    return rc;
}

/*
 * read_page_rows - up to limit orchestrations below after_id, newest
 * first; *ret_more when there are more beyond them.
 */
static int read_page_rows(struct sqlite_store *s, int limit, const char *after_id,
                          struct orchestration_page *page, json_t **keys, bool *ret_more,
                          struct iq_error *err)
{
    *ret_more = false;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_ORCHESTRATIONS_PAGE, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, after_id && after_id[0] ? after_id : NULL);
    bind_int64(&b, limit + 1);
    int rc = sqlite_binder_check(s, &b, err);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "read orchestrations", err)) == 1) {
        if (page->count == (size_t)limit) {
            *ret_more = true;
            rc = 0;
            break;
        }
        rc = page_add_row(stmt, page, keys, err);
    }
    if (rc < 0 || *ret_more)
        stmt_release(stmt);
    return rc;
}

/* page_ids_json - the page's ids as a JSON array text (for json_each). Caller frees. */
static char *page_ids_json(const struct orchestration_page *page)
{
    json_t *ids = json_array();
    for (size_t i = 0; ids && i < page->count; i++)
        if (json_array_append_new(ids, json_string(page->items[i].id)) < 0) {
            json_decref(ids);
            ids = NULL;
        }
    char *text = store_json_text(ids);
    json_decref(ids);
    return text;
}

/* read_page_jobs - every job of the page's orchestrations, handed to their items. */
static int read_page_jobs(struct sqlite_store *s, struct orchestration_page *page, json_t **keys,
                          struct iq_error *err)
{
    char *ids = page_ids_json(page);
    if (!ids)
        return nomem(err);
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_ORCHESTRATIONS_PAGE_JOBS, err);
    int rc = stmt ? 0 : IQ_E_DB;
    if (rc == 0) {
        struct binder b = binder_start(stmt);
        bind_text(&b, ids);
        rc = sqlite_binder_check(s, &b, err);
    }
    free(ids);
    struct job **jobs = NULL;
    size_t count = 0, capacity = 0;
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "read orchestration jobs", err)) == 1) {
        rc = 0;
        struct job **grown = store_grow(jobs, &capacity, count, sizeof(*jobs), 64);
        if (!grown) {
            rc = nomem(err);
            break;
        }
        jobs = grown;
        rc = sqlite_row_to_job(stmt, &jobs[count], err);
        if (rc == 0)
            count++;
    }
    if (rc < 0 && stmt)
        stmt_release(stmt);
    if (rc == 0)
        rc = orchestration_page_fill(page, keys, jobs, count, err);
    for (size_t i = 0; i < count; i++)
        job_free(jobs[i]); /* NULL once handed over */
    free(jobs);
    return rc;
}

/* list_locked - orchestration_list's body inside its read transaction. */
static int list_locked(struct sqlite_store *s, int limit, const char *after_id,
                       struct orchestration_page *page, struct iq_error *err)
{
    json_t **keys = calloc((size_t)limit, sizeof(*keys));
    page->items = calloc((size_t)limit, sizeof(*page->items));
    if (!keys || !page->items) {
        free(keys);
        return nomem(err);
    }
    bool more = false;
    int rc = read_page_rows(s, limit, after_id, page, keys, &more, err);
    if (rc == 0 && page->count > 0)
        rc = read_page_jobs(s, page, keys, err);
    if (rc == 0 && more)
        memcpy(page->next_after_id, page->items[page->count - 1].id, UUID_STR_LEN);
    for (size_t i = 0; i < (size_t)limit; i++)
        json_decref(keys[i]);
    free(keys);
    return rc;
}

/*
 * sqlite_orchestration_list - see store_ops.orchestration_list: one page
 * of rows (keyset on id, newest first) and one query for all their jobs,
 * in one read transaction. IQ_E_BAD_REQUEST for a bad limit or after_id.
 */
int sqlite_orchestration_list(struct store *base, int limit, const char *after_id,
                              struct orchestration_page *ret_page, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    memset(ret_page, 0, sizeof(*ret_page));
    int rc = orchestration_list_check(limit, after_id, &limit, err);
    if (rc == 0)
        rc = sqlite_run_cached(s, STMT_BEGIN_READ, "begin read transaction", err);
    if (rc < 0)
        return rc;
    rc = sqlite_tx_finish(s, list_locked(s, limit, after_id, ret_page, err), err);
    if (rc < 0)
        orchestration_page_clear(ret_page);
    return rc;
}

/* ------------------------------------------------------------------------
 * Creating
 * ------------------------------------------------------------------------ */

/* insert_row - the stg_import_coordination row of draft, QUEUED until refreshed. */
static int insert_row(struct sqlite_store *s, const struct orchestration_draft *draft,
                      const char *created_by, int64_t now_ms, struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_ORCHESTRATION_INSERT, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, draft->id);
    bind_text(&b, draft->name);
    bind_text(&b, draft->detail_text);
    bind_text(&b, created_by);
    bind_time(&b, now_ms);
    int rc = sqlite_binder_check(s, &b, err);
    return rc < 0 ? rc : sqlite_stmt_run(s, stmt, "insert orchestration", err);
}

/*
 * insert_jobs - every job of draft in its insert order (each after the
 * jobs it waits for, so their edges can be written), all pointing at the
 * orchestration; jobs[i] gets job i (request order).
 */
static int insert_jobs(struct sqlite_store *s, const struct orchestration_draft *draft,
                       const char *created_by, int64_t now_ms, struct job **jobs,
                       struct iq_error *err)
{
    for (size_t k = 0; k < draft->job_count; k++) {
        size_t i = draft->plan.order[k];
        struct job_create_request req = {.spec = &draft->specs[i], .orchestration_id = draft->id};
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "jobs[%zu].", i);
        int rc = job_rule_insert(&sqlite_job_primitives, s, draft->job_ids[i], &req, created_by,
                                 now_ms, prefix, &jobs[i], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* audit_created - a job.create row per job (request order), then orchestration.create. */
static int audit_created(struct sqlite_store *s, const struct audit_context *actx,
                         const struct orchestration *orch, int64_t now_ms, struct iq_error *err)
{
    for (size_t i = 0; i < orch->job_count; i++) {
        int rc = sqlite_audit_job(s, actx, "job.create", orch->jobs[i]->id, NULL, orch->jobs[i],
                                  now_ms, err);
        if (rc < 0)
            return rc;
    }
    char *image = orchestration_audit_text(orch);
    if (!image)
        return nomem(err);
    int rc = sqlite_audit_append(s, actx, "orchestration.create", "orchestration", orch->id, NULL,
                                 image, now_ms, err);
    free(image);
    return rc;
}

/* create_locked - orchestration_create's body inside BEGIN IMMEDIATE. */
static int create_locked(struct sqlite_store *s, const struct orchestration_request *req,
                         const struct orchestration_draft *draft, const struct audit_context *actx,
                         struct orchestration *ret_orch, struct iq_error *err)
{
    int64_t now_ms = sqlite_now_ms(s);
    struct job **jobs = calloc(draft->job_count, sizeof(*jobs));
    if (!jobs)
        return nomem(err);
    int rc = job_rule_capacity(&sqlite_job_primitives, s, req->max_queue_size, draft->job_count,
                               err);
    if (rc == 0)
        rc = insert_row(s, draft, actx->actor, now_ms, err);
    if (rc == 0)
        rc = insert_jobs(s, draft, actx->actor, now_ms, jobs, err);
    if (rc == 0)
        rc = sqlite_orchestration_refresh(s, draft->id, now_ms, err);
    if (rc == 0)
        rc = read_orchestration(s, draft->id, ret_orch, err);
    if (rc == 0)
        rc = audit_created(s, actx, ret_orch, now_ms, err);
    for (size_t i = 0; i < draft->job_count; i++)
        job_free(jobs[i]);
    free(jobs);
    return rc;
}

/*
 * sqlite_orchestration_create - see store_ops.orchestration_create. The
 * request is checked and drafted first (no SQL), then everything happens
 * in one write transaction: the capacity for all the jobs at once, the
 * orchestration row, each job (job_rule_insert, as job_create does)
 * with its "after" edges, the aggregate status, the audit rows. Any
 * failure rolls all of it back. *ret_orch: orchestration_clear it.
 */
int sqlite_orchestration_create(struct store *base, const struct orchestration_request *req,
                                const struct audit_context *actx, struct orchestration *ret_orch,
                                struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    memset(ret_orch, 0, sizeof(*ret_orch));
    struct orchestration_draft draft;
    int rc = sqlite_check_actor(actx, err);
    if (rc == 0)
        rc = orchestration_draft_build(req, sqlite_now_ms(s), &draft, err);
    else
        memset(&draft, 0, sizeof(draft));
    if (rc == 0)
        rc = sqlite_tx_begin(s, err);
    if (rc == 0)
        rc = sqlite_tx_finish(s, create_locked(s, req, &draft, actx, ret_orch, err), err);
    if (rc < 0)
        orchestration_clear(ret_orch);
    orchestration_draft_clear(&draft);
    return rc;
}
