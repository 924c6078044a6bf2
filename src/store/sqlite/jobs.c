/*
 * sqlite/jobs.c - jobs on SQLite: reading a job row, the create, get,
 * update and cancel slots of the ops table, and sqlite_job_primitives,
 * the steps through which the job rules (common/job_rules.c) run update,
 * cancel, execute and a finish's cascade on SQLite. Each mutation is one
 * BEGIN IMMEDIATE transaction together with its audit row
 * (sqlite/audit.c) and its dependency edges (sqlite/deps.c).
 * Not here: lists and statistics (sqlite/list.c).
 */
#include "store/sqlite/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Reading jobs
 * ------------------------------------------------------------------------ */

/* sqlite_row_to_job - decode the current row of a JOB_SELECT statement.
 * *ret_job: job_free. */
int sqlite_row_to_job(sqlite3_stmt *stmt, struct job **ret_job, struct iq_error *err)
{
    const char *values[JOBCOL_COUNT];
    for (int i = 0; i < JOBCOL_COUNT; i++) {
        bool ok;
        values[i] = sqlite_column_text_or_error(stmt, i, &ok);
        if (!ok)
            return nomem(err);
    }
    return store_job_decode(values, ret_job, err);
}

/*
 * read_job_by - the job whose key (id or request_id, per statement id)
 * equals key. Returns 0 and a new job (job_free), 1 with *ret_job NULL when
 * no row matches, or a negative error.
 */
static int read_job_by(struct sqlite_store *s, enum statement id, const char *key,
                       struct job **ret_job, struct iq_error *err)
{
    *ret_job = NULL;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, id, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, key);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc < 0)
        return rc;
    rc = sqlite_stmt_next(s, stmt, "read job", err);
    if (rc <= 0)
        return rc < 0 ? rc : 1;
    rc = sqlite_row_to_job(stmt, ret_job, err);
    stmt_release(stmt);
    return rc;
}

/* sqlite_read_job - the job with this id; IQ_E_NOT_FOUND "job <id> not found".
 */
int sqlite_read_job(struct sqlite_store *s, const char *id, struct job **ret_job,
                    struct iq_error *err)
{
    int rc = read_job_by(s, STMT_JOB_BY_ID, id, ret_job, err);
    if (rc == 1)
        return iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", id);
    return rc;
}

/*
 * sqlite_read_status - the status of job id. Returns 0, 1 when there is no such
 * job, or a negative error.
 */
int sqlite_read_status(struct sqlite_store *s, const char *id, enum job_status *ret_status,
                       struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_JOB_STATUS, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, id);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc < 0)
        return rc;
    rc = sqlite_stmt_next(s, stmt, "read job status", err);
    if (rc <= 0)
        return rc < 0 ? rc : 1;
    const char *text = (const char *)sqlite3_column_text(stmt, 0);
    rc = job_status_parse(text, ret_status) == 0
             ? 0
             : iq_error_set(err, IQ_E_DB, "job %s has an unknown status", id);
    stmt_release(stmt);
    return rc;
}

/* ------------------------------------------------------------------------
 * Jobs: create, get, update, cancel
 * ------------------------------------------------------------------------ */


static int check_spec(const struct job_spec *spec, struct iq_error *err)
{
    if (!spec || !spec->target.table)
        return iq_error_set(err, IQ_E_INVALID, "a job needs a spec with a target table");
    return 0;
}

/* count_waiting - job_primitives.count_waiting: jobs in QUEUED or HELD. */
static int count_waiting(void *backend, int64_t *ret_count, struct iq_error *err)
{
    return sqlite_read_cached_int64(backend, STMT_COUNT_WAITING, "count queued jobs", ret_count,
                                    err);
}

/* bind_insert_job - the parameters of STMT_JOB_INSERT, in order. */
static void bind_insert_job(struct binder *b, const char *id, const struct job_create_request *req,
                            int deps_pending, const struct spec_texts *texts,
                            enum job_status status, const char *error_text,
                            const char *created_by, int64_t now_ms)
{
    const struct job_spec *spec = req->spec;
    bind_text(b, id);
    bind_text(b, spec->request_id);
    bind_text(b, spec->name ? spec->name : "");
    bind_text(b, job_status_name(status));
    bind_int64(b, spec->priority);
    bind_text(b, req->orchestration_id);
    bind_text(b, req->schedule_id);
    bind_time(b, spec->scheduled_at_ms);
    bind_time(b, spec->scheduled_at_ms ? spec->scheduled_at_ms : now_ms);
    bind_int64(b, deps_pending);
    bind_int64(b, spec->max_attempts);
    bind_int64(b, spec->timeout_s);
    bind_text(b, texts->resources);
    bind_text(b, texts->source);
    bind_text(b, texts->target);
    bind_text(b, texts->on_error);
    bind_text(b, spec->target.table);
    bind_text(b, error_text);
    bind_text(b, created_by);
    bind_time(b, now_ms);
    bind_time(b, now_ms);
    bind_time(b, error_text ? now_ms : 0);
}

/*
 * link_upload - when spec reads an upload, point that upload at job_id;
 * IQ_E_INVALID (field "<field_prefix>source.upload") when there is no
 * such upload. replacing (an update): uploads the job used before and no
 * longer names are released first.
 */
static int link_upload(struct sqlite_store *s, const char *job_id, const struct job_spec *spec,
                       const char *field_prefix, bool replacing, struct iq_error *err)
{
    const char *upload = spec->source.upload;
    int rc = 0;
    if (replacing) {
        sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_UPLOADS_RELEASE, err);
        if (!stmt)
            return IQ_E_DB;
        struct binder b = binder_start(stmt);
        bind_text(&b, job_id);
        bind_text(&b, upload ? upload : "");
        rc = sqlite_binder_check(s, &b, err);
        if (rc == 0)
            rc = sqlite_stmt_run(s, stmt, "release uploads", err);
    }
    if (rc < 0 || !upload)
        return rc;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_UPLOAD_LINK, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, upload);
    bind_text(&b, job_id);
    rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, "link upload", err);
    if (rc == 0 && sqlite3_changes(s->db) != 1) {
        char field[64];
        snprintf(field, sizeof(field), "%ssource.upload", field_prefix ? field_prefix : "");
        iq_error_add_field(err, field, "unknown upload");
        rc = iq_error_set(err, IQ_E_INVALID, "unknown upload %s", upload);
    }
    return rc;
}

/*
 * primitive_insert_job - job_primitives.insert_job: the stg_import_queue
 * row, its edges and its upload link.
 */
static int primitive_insert_job(void *backend, const char *id, const struct job_create_request *req,
                                const char *created_by, const struct dependency_state *deps,
                                enum job_status status, const char *error_text, int64_t now_ms,
                                const char *field_prefix, struct iq_error *err)
{
    struct sqlite_store *s = backend;
    struct spec_texts texts;
    int rc = spec_texts_build(req->spec, &texts, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_JOB_INSERT, err);
    if (!stmt)
        rc = IQ_E_DB;
    if (rc == 0) {
        struct binder b = binder_start(stmt);
        bind_insert_job(&b, id, req, deps->pending, &texts, status, error_text, created_by,
                        now_ms);
        rc = sqlite_binder_check(s, &b, err);
        if (rc == 0)
            rc = sqlite_stmt_run(s, stmt, "insert job", err);
    }
    spec_texts_clear(&texts);
    if (rc == 0)
        rc = sqlite_insert_dependencies(s, id, req->spec, err);
    if (rc == 0)
        rc = link_upload(s, id, req->spec, field_prefix, false, err);
    return rc;
}

/* primitive_find_by_request_id - job_primitives.find_by_request_id. */
static int primitive_find_by_request_id(void *backend, const char *request_id,
                                        struct job **ret_job, struct iq_error *err)
{
    int rc = read_job_by(backend, STMT_JOB_BY_REQUEST_ID, request_id, ret_job, err);
    return rc < 0 ? rc : rc == 0;
}

/*
 * sqlite_job_create - see store_ops.job_create. One write transaction: the
 * idempotency lookup, dependency and capacity checks, the row, its edges
 * and the job.create audit row (none on an idempotent replay).
 */
int sqlite_job_create(struct store *base, const struct job_create_request *req,
                      const struct audit_context *actx, struct job **ret_job, bool *ret_existed,
                      struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    bool existed = false;
    *ret_job = NULL;
    if (ret_existed)
        *ret_existed = false;
    int rc = sqlite_check_actor(actx, err);
    if (rc == 0)
        rc = check_spec(req ? req->spec : NULL, err);
    if (rc == 0)
        rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    rc = job_rule_create(&sqlite_job_primitives, s, req, actx, sqlite_now_ms(s), ret_job, &existed,
                         err);
    rc = sqlite_tx_finish(s, rc, err);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
        return rc;
    }
    if (ret_existed)
        *ret_existed = existed;
    return 0;
}

/* sqlite_job_get - see store_ops.job_get; a single statement, no transaction.
 */
int sqlite_job_get(struct store *base, const char *id, struct job **ret_job, struct iq_error *err)
{
    *ret_job = NULL;
    if (!id)
        return iq_error_set(err, IQ_E_NOT_FOUND, "job (null) not found");
    return sqlite_read_job(to_sqlite(base), id, ret_job, err);
}

/* bind_update_job - the parameters of STMT_JOB_UPDATE, in order. */
static void bind_update_job(struct binder *b, const char *id, const struct job_spec *spec,
                            int deps_pending, const struct spec_texts *texts,
                            const char *error_text, int64_t now_ms)
{
    bind_text(b, id);
    bind_text(b, spec->name ? spec->name : "");
    bind_int64(b, spec->priority);
    bind_time(b, spec->scheduled_at_ms);
    bind_time(b, spec->scheduled_at_ms ? spec->scheduled_at_ms : now_ms);
    bind_int64(b, deps_pending);
    bind_int64(b, spec->max_attempts);
    bind_int64(b, spec->timeout_s);
    bind_text(b, texts->resources);
    bind_text(b, texts->source);
    bind_text(b, texts->target);
    bind_text(b, texts->on_error);
    bind_text(b, spec->target.table);
    bind_text(b, error_text ? job_status_name(JOB_FAILED) : NULL);
    bind_text(b, error_text);
    bind_time(b, error_text ? now_ms : 0);
    bind_time(b, now_ms);
}

/*
 * update_row - write spec's editable fields onto waiting job id, and make
 * it FAILED with error_text when that is not NULL (a failed dependency).
 */
static int update_row(struct sqlite_store *s, const char *id, const struct job_spec *spec,
                      int deps_pending, const char *error_text, int64_t now_ms,
                      struct iq_error *err)
{
    struct spec_texts texts;
    int rc = spec_texts_build(spec, &texts, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_JOB_UPDATE, err);
    if (!stmt)
        rc = IQ_E_DB;
    if (rc == 0) {
        struct binder b = binder_start(stmt);
        bind_update_job(&b, id, spec, deps_pending, &texts, error_text, now_ms);
        rc = sqlite_binder_check(s, &b, err);
        if (rc == 0)
            rc = sqlite_stmt_run(s, stmt, "update job", err);
        if (rc == 0 && sqlite3_changes(s->db) != 1)
            rc = iq_error_set(err, IQ_E_DB, "update job %s: row changed underneath", id);
    }
    spec_texts_clear(&texts);
    return rc;
}

/* ------------------------------------------------------------------------
 * The primitives the job rules drive (common/job_rules.h); backend is the
 * struct sqlite_store, inside BEGIN IMMEDIATE (the write lock serialises
 * every rule, so nothing is locked row by row).
 * ------------------------------------------------------------------------ */

static int primitive_read_job(void *backend, const char *id, struct job **ret_job,
                              struct iq_error *err)
{
    return sqlite_read_job(backend, id, ret_job, err);
}

/* primitive_write_update - the row, its edges replaced, its upload relinked. */
static int primitive_write_update(void *backend, const struct job *before,
                                  const struct job_spec *spec, const struct dependency_state *deps,
                                  const char *error_text, int64_t now_ms, struct iq_error *err)
{
    struct sqlite_store *s = backend;
    int rc = update_row(s, before->id, spec, deps->pending, error_text, now_ms, err);
    if (rc == 0)
        rc = sqlite_delete_dependencies(s, before->id, err);
    if (rc == 0)
        rc = sqlite_insert_dependencies(s, before->id, spec, err);
    if (rc == 0)
        rc = link_upload(s, before->id, spec, NULL, true, err);
    return rc;
}

/* primitive_end_waiting - HELD/QUEUED -> status with error_text. */
static int primitive_end_waiting(void *backend, const char *id, enum job_status status,
                                 const char *error_text, int64_t now_ms, struct iq_error *err)
{
    int rc = sqlite_finish_waiting_job(backend, id, status, error_text, now_ms, err);
    if (rc == 1)
        rc = iq_error_set(err, IQ_E_DB, "cancel job %s: row changed underneath", id);
    return rc;
}

/* primitive_request_cancel - cancel_requested on a RUNNING job. */
static int primitive_request_cancel(void *backend, const char *id, int64_t now_ms,
                                    struct iq_error *err)
{
    struct sqlite_store *s = backend;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_JOB_REQUEST_CANCEL, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, id);
    bind_time(&b, now_ms);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, "request cancel", err);
    return rc;
}

static int primitive_audit_change(void *backend, const struct audit_context *actx,
                                  const char *action, const struct job *before,
                                  const struct job *after, int64_t now_ms, struct iq_error *err)
{
    const char *id = after ? after->id : before->id;
    return sqlite_audit_job(backend, actx, action, id, before, after, now_ms, err);
}

/* sqlite_job_primitives - see sqlite/internal.h. */
const struct job_primitives sqlite_job_primitives = {
    .read_job = primitive_read_job,
    .find_by_request_id = primitive_find_by_request_id,
    .count_waiting = count_waiting,
    .insert_job = primitive_insert_job,
    .read_dependencies = sqlite_read_dependencies,
    .check_dependencies = sqlite_check_dependency_state,
    .release_now = sqlite_release_now,
    .rerun = sqlite_rerun,
    .request_cancel = primitive_request_cancel,
    .end_waiting = primitive_end_waiting,
    .write_update = primitive_write_update,
    .fail_dependants = sqlite_fail_dependants,
    .refresh_orchestrations = sqlite_refresh_orchestrations,
    .audit_change = primitive_audit_change,
    .notify_work = NULL, /* workers poll the database file */
};

/* update_locked - the body of job_update, inside BEGIN IMMEDIATE. */
static int update_locked(struct sqlite_store *s, const char *id, const struct job_spec *spec,
                         const struct audit_context *actx, struct job **ret_job,
                         struct iq_error *err)
{
    return job_rule_update(&sqlite_job_primitives, s, id, spec, actx, sqlite_now_ms(s), ret_job,
                           err);
}

/*
 * sqlite_job_update - see store_ops.job_update. A job updated onto a FAILED
 * or CANCELLED dependency ends FAILED itself, and its own waiting
 * dependants with it, in the same transaction.
 */
int sqlite_job_update(struct store *base, const char *id, const struct job_spec *spec,
                      const struct audit_context *actx, struct job **ret_job, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    *ret_job = NULL;
    int rc = sqlite_check_actor(actx, err);
    if (rc == 0)
        rc = check_spec(spec, err);
    if (rc == 0 && !id)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "job (null) not found");
    if (rc == 0)
        rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    rc = sqlite_tx_finish(s, update_locked(s, id, spec, actx, ret_job, err), err);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
    }
    return rc;
}

/* cancel_locked - the body of job_cancel, inside BEGIN IMMEDIATE. */
static int cancel_locked(struct sqlite_store *s, const char *id, const struct audit_context *actx,
                         struct job **ret_job, struct iq_error *err)
{
    return job_rule_cancel(&sqlite_job_primitives, s, id, actx, sqlite_now_ms(s), ret_job, err);
}

/*
 * sqlite_job_mutate - run locked_fn (a status change of job id) in one
 * write transaction, committed when it returns 0 and rolled back
 * otherwise. *ret_job: the job afterwards (job_free), NULL on failure.
 */
int sqlite_job_mutate(struct sqlite_store *s, const char *id, const struct audit_context *actx,
                      sqlite_job_locked_fn locked_fn, struct job **ret_job, struct iq_error *err)
{
    *ret_job = NULL;
    int rc = sqlite_check_actor(actx, err);
    if (rc == 0 && !id)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "job (null) not found");
    if (rc == 0)
        rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    rc = sqlite_tx_finish(s, locked_fn(s, id, actx, ret_job, err), err);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
    }
    return rc;
}

/* sqlite_job_cancel - see store_ops.job_cancel. */
int sqlite_job_cancel(struct store *base, const char *id, const struct audit_context *actx,
                      struct job **ret_job, struct iq_error *err)
{
    return sqlite_job_mutate(to_sqlite(base), id, actx, cancel_locked, ret_job, err);
}
