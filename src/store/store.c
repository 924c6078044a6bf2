/*
 * store.c - the store's front door: choosing a backend from a URL, opening
 * and closing a connection, and the wrappers through which everything above
 * the store calls a backend (struct store is opaque outside src/store/).
 * No SQL here.
 */
#include "store/common/backend.h"
#include "store/common/internal.h"
#include "store/common/load_preview.h"
#include "store/common/migrations.h"
#include "store/common/schedule.h"

#include "core/db_url.h"
#include "core/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *store_backend_name(const char *url)
{
    if (!url)
        return NULL;
    if (strncmp(url, "sqlite:", 7) == 0)
        return "sqlite";
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return "postgres";
    return NULL;
}

int store_check_url(const char *url, struct iq_error *err)
{
    if (store_backend_name(url))
        return 0;
    char *shown = db_url_redact(url ? url : "");
    iq_error_set(err, IQ_E_INVALID,
                 "unsupported database URL \"%s\": use sqlite:PATH or postgres://...",
                 shown ? shown : "");
    free(shown);
    return IQ_E_INVALID;
}

int store_latest_schema_version(const struct store *s)
{
    const struct migration *table =
        strcmp(s->ops->name, "sqlite") == 0 ? migrations_sqlite : migrations_postgres;
    int latest = 0;
    for (const struct migration *m = table; m->sql; m++)
        if (m->version > latest)
            latest = m->version;
    return latest;
}

/*
 * redact_error - err's message with url's password masked: libpq's
 * connection errors may quote the URL or a piece of it, and they reach
 * logs, stderr and a job's error. Returns code.
 */
static int redact_error(struct iq_error *err, int code, const char *url)
{
    if (!err || !err->message)
        return code;
    char *safe = db_url_redact_message(err->message, url);
    if (!safe)
        return iq_error_set(err, code, "cannot connect to the database (details withheld: "
                                       "out of memory masking the password)");
    iq_error_set(err, code, "%s", safe);
    free(safe);
    return code;
}

int store_open(const char *url, const struct store_options *opts, struct store **ret_store,
               struct iq_error *err)
{
    static const struct store_options defaults = {.role = STORE_ROLE_DEFAULT};
    *ret_store = NULL;
    if (!opts)
        opts = &defaults;
    if (store_check_url(url, err) < 0)
        return IQ_E_INVALID;
    int rc;
    if (strcmp(store_backend_name(url), "sqlite") == 0) {
        const char *path = url + 7;
        if (strncmp(path, "//", 2) == 0) /* sqlite:///abs/path */
            path += 2;
        if (*path == '\0')
            return iq_error_set(err, IQ_E_INVALID, "sqlite URL \"%s\" has no path", url);
        rc = store_sqlite_open(path, opts, ret_store, err);
    } else {
        rc = store_pg_open(url, opts, ret_store, err);
    }
    if (rc < 0)
        return redact_error(err, rc, url);
    (*ret_store)->url = strdup(url);
    if (!(*ret_store)->url) {
        store_close(*ret_store);
        *ret_store = NULL;
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    return 0;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    free(s->url);
    s->url = NULL;
    s->ops->close(s);
}

/* The store_* functions of store.h and load.h: each calls its backend's slot. */

int store_table_describe(struct store *s, const char *table,
                         struct table_info *ret_info, struct iq_error *err)
{
    return s->ops->table_describe(s, table, ret_info, err);
}

int store_load_begin(struct store *s, const struct load_plan *plan,
                     struct load **ret_load, struct iq_error *err)
{
    *ret_load = NULL;
    if (plan && plan->dry_run && plan->direct)
        return iq_error_set(err, IQ_E_INVALID, "a dry run needs a staged load (plan->direct false)");
    return s->ops->load_begin(s, plan, ret_load, err);
}

int store_load_rows(struct load *load, int part, const char *const *values,
                    const int64_t *lines, size_t row_count, struct iq_error *err)
{
    return load->ops->rows(load, part, values, lines, row_count, err);
}

int store_load_check(struct load *load, load_reject_cb reject_cb, void *ctx,
                     int64_t *ret_rejected, struct iq_error *err)
{
    return load->ops->check(load, reject_cb, ctx, ret_rejected, err);
}

int store_load_promote(struct load *load, struct load_result *ret_result,
                       struct iq_error *err)
{
    if (load->plan->dry_run) /* it ends with store_load_preview */
        return iq_error_set(err, IQ_E_INTERNAL, "a dry run is never promoted");
    return load->ops->promote(load, ret_result, err);
}

int store_load_preview(struct load *load, struct load_preview *ret_preview,
                       struct iq_error *err)
{
    return store_load_preview_count(load, ret_preview, err);
}

int store_load_commit(struct load *load, struct iq_error *err)
{
    return load->ops->commit(load, err);
}

void store_load_abort(struct load *load)
{
    if (load)
        load->ops->abort(load);
}

void store_interrupt(struct store *s)
{
    s->ops->interrupt(s);
}

int store_job_claim_batch(struct store *s, const struct claim_request *req,
                          const char *const *workers, int worker_count,
                          const struct audit_context *actx, struct job **ret_jobs,
                          int *ret_claimed, struct iq_error *err)
{
    return s->ops->job_claim_batch(s, req, workers, worker_count, actx, ret_jobs, ret_claimed,
                                   err);
}

bool store_has(const struct store *s, enum store_capability cap)
{
    return (s->ops->capabilities & (unsigned)cap) != 0;
}

int store_job_claim(struct store *s, const struct claim_request *req,
                    const struct audit_context *actx, struct job **ret_job,
                    struct iq_error *err)
{
    const char *worker = req ? req->worker : NULL;
    int claimed = 0;
    *ret_job = NULL;
    return s->ops->job_claim_batch(s, req, &worker, 1, actx, ret_job, &claimed, err);
}

int store_job_heartbeat(struct store *s, const char *job_id, const char *worker,
                        int attempt, int64_t lease_ms,
                        const struct job_progress *progress,
                        bool *ret_cancel_requested, struct iq_error *err)
{
    return s->ops->job_heartbeat(s, job_id, worker, attempt, lease_ms, progress,
                                 ret_cancel_requested, err);
}

int store_job_finish(struct store *s, const struct job_finish *finish,
                     const struct audit_context *actx, struct job **ret_job,
                     struct iq_error *err)
{
    return s->ops->job_finish(s, finish, actx, ret_job, err);
}

int store_job_execute(struct store *s, const char *id,
                      const struct audit_context *actx, struct job **ret_job,
                      struct iq_error *err)
{
    return s->ops->job_execute(s, id, actx, ret_job, err);
}

int store_jobs_rescue(struct store *s, int64_t lease_ms, retry_backoff_cb backoff_cb,
                      void *backoff_ctx, const struct audit_context *actx,
                      int *ret_rescued, struct iq_error *err)
{
    return s->ops->jobs_rescue(s, lease_ms, backoff_cb, backoff_ctx, actx, ret_rescued, err);
}

int store_job_rejects_add(struct store *s, const char *job_id, int attempt,
                          const struct job_reject_row *rows, size_t count,
                          struct iq_error *err)
{
    return s->ops->job_rejects_add(s, job_id, attempt, rows, count, err);
}

int store_job_rejects_each(struct store *s, const char *job_id,
                           job_reject_row_cb cb, void *ctx, struct iq_error *err)
{
    return s->ops->job_rejects_each(s, job_id, cb, ctx, err);
}

int store_locks_list(struct store *s, struct lock_list *ret_list,
                     struct iq_error *err)
{
    return s->ops->locks_list(s, ret_list, err);
}

int store_lock_release(struct store *s, const char *lock_id,
                       const struct audit_context *actx, struct iq_error *err)
{
    return s->ops->lock_release(s, lock_id, actx, err);
}

int store_node_register(struct store *s, const struct node_info *node,
                        struct iq_error *err)
{
    return s->ops->node_register(s, node, err);
}

int store_node_heartbeat(struct store *s, const char *node_id, const char *status,
                         struct iq_error *err)
{
    return s->ops->node_heartbeat(s, node_id, status, err);
}

int store_nodes_mark_dead(struct store *s, int64_t dead_after_ms, int *ret_marked,
                          struct iq_error *err)
{
    return s->ops->nodes_mark_dead(s, dead_after_ms, ret_marked, err);
}

int store_nodes_list(struct store *s, struct node_list *ret_list,
                     struct iq_error *err)
{
    return s->ops->nodes_list(s, ret_list, err);
}

int store_wait_for_work(struct store *s, int timeout_ms, bool *ret_woken,
                        struct iq_error *err)
{
    return s->ops->wait_for_work(s, timeout_ms, ret_woken, err);
}

int store_token_create(struct store *s, const struct token_info *info,
                       const struct audit_context *actx, struct iq_error *err)
{
    return s->ops->token_create(s, info, actx, err);
}

int store_token_list(struct store *s, bool include_revoked,
                     struct token_list *ret_list, struct iq_error *err)
{
    return s->ops->token_list(s, include_revoked, ret_list, err);
}

int store_token_revoke(struct store *s, const char *name,
                       const struct audit_context *actx, struct iq_error *err)
{
    return s->ops->token_revoke(s, name, actx, err);
}

int store_token_touch(struct store *s, const char *token_id, int64_t at_ms,
                      struct iq_error *err)
{
    return s->ops->token_touch(s, token_id, at_ms, err);
}

int store_audit_list(struct store *s, const struct audit_filter *filter,
                     struct audit_page *ret_page, struct iq_error *err)
{
    return s->ops->audit_list(s, filter, ret_page, err);
}

int store_audit_verify(struct store *s, struct audit_verify_result *ret_result,
                       struct iq_error *err)
{
    return s->ops->audit_verify(s, ret_result, err);
}

int store_upload_create(struct store *s, const struct upload_info *info,
                        const struct audit_context *actx, struct iq_error *err)
{
    return s->ops->upload_create(s, info, actx, err);
}

int store_upload_get(struct store *s, const char *id, struct upload_info *ret_info,
                     struct iq_error *err)
{
    return s->ops->upload_get(s, id, ret_info, err);
}

int store_uploads_expired(struct store *s, int64_t cutoff_ms,
                          struct upload_list *ret_list, struct iq_error *err)
{
    return s->ops->uploads_expired(s, cutoff_ms, ret_list, err);
}

int store_upload_delete(struct store *s, const char *id, struct iq_error *err)
{
    return s->ops->upload_delete(s, id, err);
}

int store_orchestration_create(struct store *s,
                               const struct orchestration_request *req,
                               const struct audit_context *actx,
                               struct orchestration *ret_orch, struct iq_error *err)
{
    return s->ops->orchestration_create(s, req, actx, ret_orch, err);
}

int store_orchestration_get(struct store *s, const char *id,
                            struct orchestration *ret_orch, struct iq_error *err)
{
    return s->ops->orchestration_get(s, id, ret_orch, err);
}

int store_orchestration_list(struct store *s, int limit, const char *after_id,
                             struct orchestration_page *ret_page,
                             struct iq_error *err)
{
    return s->ops->orchestration_list(s, limit, after_id, ret_page, err);
}

int store_job_phases(struct store *s, const char *job_id,
                     struct job_phase_list *ret_list, struct iq_error *err)
{
    return s->ops->job_phases(s, job_id, ret_list, err);
}

int store_perf_attempts(struct store *s, const struct perf_window *window,
                        struct perf_attempts *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    int rc = perf_window_check(window, err);
    return rc < 0 ? rc : s->ops->perf_attempts(s, window, ret, err);
}

int store_lock_holds(struct store *s, const struct perf_window *window, struct lock_holds *ret,
                     struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    struct perf_window times = {NULL, window ? window->since_ms : 0,
                                window ? window->until_ms : 0};
    int rc = perf_window_check(&times, err);
    return rc < 0 ? rc : s->ops->lock_holds(s, &times, ret, err);
}

int store_lock_history_prune(struct store *s, int64_t cutoff_ms, int64_t *ret_deleted,
                             struct iq_error *err)
{
    if (ret_deleted)
        *ret_deleted = 0;
    return s->ops->lock_history_prune(s, cutoff_ms, ret_deleted, err);
}

int store_migrate(struct store *s, int *ret_applied, struct iq_error *err)
{
    return s->ops->migrate(s, ret_applied, err);
}

int store_schema_version(struct store *s, int *ret_version, struct iq_error *err)
{
    return s->ops->schema_version(s, ret_version, err);
}

int store_role_is_superuser(struct store *s, bool *ret_superuser,
                            struct iq_error *err)
{
    return s->ops->role_is_superuser(s, ret_superuser, err);
}

int store_job_create(struct store *s, const struct job_create_request *req,
                     const struct audit_context *actx, struct job **ret_job,
                     bool *ret_existed, struct iq_error *err)
{
    return s->ops->job_create(s, req, actx, ret_job, ret_existed, err);
}

int store_job_get(struct store *s, const char *id, struct job **ret_job,
                  struct iq_error *err)
{
    return s->ops->job_get(s, id, ret_job, err);
}

void job_ref_list_clear(struct job_ref_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i].name);
    free(list->items);
    memset(list, 0, sizeof(*list));
}

void job_detail_clear(struct job_detail *detail)
{
    if (!detail)
        return;
    job_free(detail->job);
    job_phase_list_clear(&detail->phases);
    lock_list_clear(&detail->locks);
    job_ref_list_clear(&detail->dependents);
    memset(detail, 0, sizeof(*detail));
}

/* own_locks - keep only the locks of job_id in list (in their order). */
static void own_locks(struct lock_list *list, const char *job_id)
{
    size_t kept = 0;
    for (size_t i = 0; i < list->count; i++) {
        struct lock_info *lock = &list->items[i];
        if (strcmp(lock->job_id, job_id) != 0) {
            free(lock->name);
            free(lock->node);
            free(lock->worker);
            continue;
        }
        list->items[kept++] = *lock;
    }
    list->count = kept;
}

int store_job_get_detail(struct store *s, const char *id, struct job_detail *ret_detail,
                         struct iq_error *err)
{
    memset(ret_detail, 0, sizeof(*ret_detail));
    if (s->ops->job_get_detail)
        return s->ops->job_get_detail(s, id, ret_detail, err);
    int rc = s->ops->job_get(s, id, &ret_detail->job, err);
    if (rc == 0)
        rc = s->ops->job_phases(s, ret_detail->job->id, &ret_detail->phases, err);
    if (rc == 0 && ret_detail->job->status == JOB_RUNNING) {
        rc = s->ops->locks_list(s, &ret_detail->locks, err);
        if (rc == 0)
            own_locks(&ret_detail->locks, ret_detail->job->id);
    }
    if (rc == 0 && s->ops->job_dependents)
        rc = s->ops->job_dependents(s, ret_detail->job->id, &ret_detail->dependents, err);
    return rc;
}

int store_job_list(struct store *s, const struct job_filter *filter,
                   struct job_page *ret_page, struct iq_error *err)
{
    return s->ops->job_list(s, filter, ret_page, err);
}

int store_job_list_summary(struct store *s, const struct job_filter *filter,
                           struct job_summary_page *ret_page, struct iq_error *err)
{
    return s->ops->job_list_summary(s, filter, ret_page, err);
}

int store_job_update(struct store *s, const char *id, const struct job_spec *spec,
                     const struct audit_context *actx, struct job **ret_job,
                     struct iq_error *err)
{
    return s->ops->job_update(s, id, spec, actx, ret_job, err);
}

int store_job_cancel(struct store *s, const char *id,
                     const struct audit_context *actx, struct job **ret_job,
                     struct iq_error *err)
{
    return s->ops->job_cancel(s, id, actx, ret_job, err);
}

int store_queue_stats(struct store *s, int64_t now_ms,
                      struct queue_stats *ret_stats, struct iq_error *err)
{
    return s->ops->queue_stats(s, now_ms, ret_stats, err);
}

int store_explain_job_list(struct store *s, const struct job_filter *filter,
                           char **ret_plan, struct iq_error *err)
{
    return s->ops->explain_job_list(s, filter, ret_plan, err);
}

const char *store_name(const struct store *s)
{
    return s->ops->name;
}

/* Schedules: the rules are common/schedule.c's, run in the backend's transactions. */

int store_schedule_create(struct store *s, const struct schedule_request *req,
                          const struct audit_context *actx, struct schedule *ret,
                          struct iq_error *err)
{
    return schedule_rule_create(s, req, actx, ret, err);
}

int store_schedule_get(struct store *s, const char *id, struct schedule *ret,
                       struct iq_error *err)
{
    return schedule_rule_get(s, id, ret, err);
}

int store_schedule_list(struct store *s, const struct schedule_filter *filter,
                        struct schedule_page *ret_page, struct iq_error *err)
{
    return schedule_rule_list(s, filter, ret_page, err);
}

int store_schedule_update(struct store *s, const char *id, const struct schedule_spec *spec,
                          const struct audit_context *actx, struct schedule *ret,
                          struct iq_error *err)
{
    return schedule_rule_update(s, id, spec, actx, ret, err);
}

int store_schedule_delete(struct store *s, const char *id, const struct audit_context *actx,
                          struct schedule *ret, struct iq_error *err)
{
    return schedule_rule_delete(s, id, actx, ret, err);
}

int store_schedule_pause(struct store *s, const char *id, const struct audit_context *actx,
                         struct schedule *ret, struct iq_error *err)
{
    return schedule_rule_set_enabled(s, id, false, actx, ret, err);
}

int store_schedule_resume(struct store *s, const char *id, const struct audit_context *actx,
                          struct schedule *ret, struct iq_error *err)
{
    return schedule_rule_set_enabled(s, id, true, actx, ret, err);
}

int store_table_duration_p50(struct store *s, const char *table, int64_t *ret_ms,
                             struct iq_error *err)
{
    return schedule_rule_table_p50(s, table, ret_ms, err);
}
