/*
 * common/job_rules.c - the job rules both backends run (see
 * common/job_rules.h): which status changes execute, cancel and update
 * make, taken from the transition table in core/job.c, the cascade to
 * dependants, the audit rows and their order, and the decision at the end
 * of an attempt. Every write goes through a backend's job_primitives;
 * this file holds no SQL.
 *
 * The order of the steps is the lock order of both backends: the job row
 * first, then its dependants (the cascade), then the orchestrations, and
 * the audit chain last.
 */
#include "store/common/job_rules.h"

#include "core/uuid7.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void free_jobs(struct job **jobs, size_t count)
{
    for (size_t i = 0; i < count; i++)
        job_free(jobs[i]);
    free(jobs);
}

void job_cascade_clear(struct job_cascade *cascade)
{
    free_jobs(cascade->before, cascade->count);
    free_jobs(cascade->after, cascade->after_count);
    memset(cascade, 0, sizeof(*cascade));
}

void job_dependency_state_add(struct dependency_state *state, const char *dep_id,
                              enum job_status status)
{
    if (status != JOB_COMPLETED)
        state->pending++;
    if ((status == JOB_FAILED || status == JOB_CANCELLED) && !state->failed_id[0]) {
        snprintf(state->failed_id, sizeof(state->failed_id), "%s", dep_id ? dep_id : "?");
        state->failed_status = status;
    }
}

char *job_error_text(const char *code, const char *message)
{
    json_t *value = json_pack("{s:s,s:s}", "code", code, "message", message);
    char *text = value ? store_json_text(value) : NULL;
    json_decref(value);
    return text;
}

char *job_dependency_failed_text(const char *dep_id, enum job_status status)
{
    char message[128];
    snprintf(message, sizeof(message), "dependency %s is %s", dep_id, job_status_name(status));
    return job_error_text("dependency_failed", message);
}

static int nomem(struct iq_error *err)
{
    return iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

int job_rule_initial(const struct job_spec *spec, const char *failed_dep_id,
                     enum job_status failed_status, enum job_status *ret_status,
                     char **ret_error_text, struct iq_error *err)
{
    *ret_error_text = NULL;
    if (!failed_dep_id || !failed_dep_id[0]) {
        *ret_status = spec->hold ? JOB_HELD : JOB_QUEUED;
        return 0;
    }
    *ret_status = JOB_FAILED;
    *ret_error_text = job_dependency_failed_text(failed_dep_id, failed_status);
    return *ret_error_text ? 0 : nomem(err);
}

/* ------------------------------------------------------------------------
 * The cascade
 * ------------------------------------------------------------------------ */

int job_rule_fail_dependants(const struct job_primitives *p, void *backend, const char *root_id,
                             enum job_status root_status, int64_t now_ms,
                             struct job_cascade *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    enum job_status to;
    if (job_transition(JOB_QUEUED, JOB_EVENT_DEPENDENCY_FAILED, &to) < 0)
        return iq_error_set(err, IQ_E_INTERNAL, "the transition table has no dependency failure");
    char *error_text = job_dependency_failed_text(root_id, root_status);
    if (!error_text)
        return nomem(err);
    int rc = p->fail_dependants(backend, root_id, to, error_text, now_ms, ret, err);
    free(error_text);
    return rc;
}

int job_rule_audit_cascade(const struct job_primitives *p, void *backend,
                           const struct audit_context *actx, const struct job_cascade *cascade,
                           int64_t now_ms, struct iq_error *err)
{
    for (size_t i = 0; i < cascade->count && i < cascade->after_count; i++) {
        int rc = p->audit_change(backend, actx, "job.dependency_failed", cascade->before[i],
                                 cascade->after[i], now_ms, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * settle - the steps after a job's change, in lock order: read it back
 * into *ret_job, refresh the orchestrations (its own and the cascade's)
 * when refresh, write its audit row (action; none when NULL), then the
 * cascade's.
 */
static int settle(const struct job_primitives *p, void *backend, const struct job *before,
                  const char *action, bool refresh, const struct job_cascade *cascade,
                  const struct audit_context *actx, int64_t now_ms, struct job **ret_job,
                  struct iq_error *err)
{
    int rc = p->read_job(backend, before->id, ret_job, err);
    if (rc == 0 && refresh)
        rc = p->refresh_orchestrations(backend, *ret_job, cascade, now_ms, err);
    if (rc == 0 && action)
        rc = p->audit_change(backend, actx, action, before, *ret_job, now_ms, err);
    if (rc == 0 && cascade)
        rc = job_rule_audit_cascade(p, backend, actx, cascade, now_ms, err);
    return rc;
}

/* ------------------------------------------------------------------------
 * Create
 * ------------------------------------------------------------------------ */

int job_rule_capacity(const struct job_primitives *p, void *backend, int max_queue_size,
                      size_t adding, struct iq_error *err)
{
    if (max_queue_size <= 0)
        return 0;
    int64_t waiting = 0;
    int rc = p->count_waiting(backend, &waiting, err);
    if (rc < 0)
        return rc;
    if (waiting + (int64_t)adding > max_queue_size)
        return iq_error_set(err, IQ_E_QUEUE_FULL,
                            "queue is full: %" PRId64 " jobs queued or held, no room for %zu more"
                            " (max_queue_size %d)",
                            waiting, adding, max_queue_size);
    return 0;
}

int job_rule_insert(const struct job_primitives *p, void *backend, const char *id,
                    const struct job_create_request *req, const char *created_by,
                    int64_t now_ms, const char *field_prefix, struct job **ret_job,
                    struct iq_error *err)
{
    *ret_job = NULL;
    struct dependency_state deps = {0};
    enum job_status status = JOB_QUEUED;
    char *error_text = NULL;
    int rc = p->check_dependencies(backend, NULL, req->spec, &deps, err);
    if (rc == 0)
        rc = job_rule_capacity(p, backend, req->max_queue_size, 1, err);
    if (rc == 0)
        rc = job_rule_initial(req->spec, deps.failed_id, deps.failed_status, &status, &error_text,
                              err);
    if (rc == 0)
        rc = p->insert_job(backend, id, req, created_by, &deps, status, error_text, now_ms,
                           field_prefix, err);
    if (rc == 0)
        rc = p->read_job(backend, id, ret_job, err);
    free(error_text);
    return rc;
}

int job_rule_create(const struct job_primitives *p, void *backend,
                    const struct job_create_request *req, const struct audit_context *actx,
                    int64_t now_ms, struct job **ret_job, bool *ret_existed,
                    struct iq_error *err)
{
    *ret_job = NULL;
    *ret_existed = false;
    const struct job_spec *spec = req->spec;
    if (spec->request_id) {
        int found = p->find_by_request_id(backend, spec->request_id, ret_job, err);
        if (found != 0) {
            *ret_existed = found > 0; /* an idempotent replay writes nothing */
            return found < 0 ? found : 0;
        }
    }
    char id[UUID_STR_LEN];
    uuid7_generate_at(now_ms, id); /* ids order like created_at, fake clock too */
    int rc = job_rule_insert(p, backend, id, req, actx && actx->actor ? actx->actor : NULL, now_ms,
                             NULL, ret_job, err);
    if (rc == 0)
        rc = p->refresh_orchestrations(backend, *ret_job, NULL, now_ms, err);
    if (rc == 0 && (*ret_job)->status == JOB_QUEUED && p->notify_work)
        rc = p->notify_work(backend, "created", err); /* idle workers wake at COMMIT */
    if (rc == 0)
        rc = p->audit_change(backend, actx, "job.create", NULL, *ret_job, now_ms, err);
    return rc;
}

/* ------------------------------------------------------------------------
 * Execute
 * ------------------------------------------------------------------------ */

/*
 * rerun_checked - FAILED/CANCELLED -> QUEUED with the dependency count
 * recomputed; IQ_E_CONFLICT while a dependency is FAILED or CANCELLED
 * (the job would only fail again at once).
 */
static int rerun_checked(const struct job_primitives *p, void *backend, const char *id,
                         int64_t now_ms, struct iq_error *err)
{
    struct dependency_state deps = {0};
    int rc = p->read_dependencies(backend, id, &deps, err);
    if (rc < 0)
        return rc;
    if (deps.failed_id[0])
        return iq_error_set(err, IQ_E_CONFLICT,
                            "dependency %s is %s: execute it first, or update the job's depends_on",
                            deps.failed_id, job_status_name(deps.failed_status));
    return p->rerun(backend, id, deps.pending, now_ms, err);
}

int job_rule_execute(const struct job_primitives *p, void *backend, const char *id,
                     const struct audit_context *actx, int64_t now_ms, struct job **ret_job,
                     struct iq_error *err)
{
    *ret_job = NULL;
    struct job *before = NULL;
    enum job_status to;
    int rc = p->read_job(backend, id, &before, err);
    if (rc < 0)
        return rc;
    if (job_transition(before->status, JOB_EVENT_EXECUTE, &to) < 0)
        rc = iq_error_set(err, IQ_E_CONFLICT,
                          "job is %s: only HELD, QUEUED, FAILED or CANCELLED jobs can be executed",
                          job_status_name(before->status));
    else if (job_transition(before->status, JOB_EVENT_RERUN, &to) == 0)
        rc = rerun_checked(p, backend, before->id, now_ms, err);
    else
        rc = p->release_now(backend, before->id, now_ms, err);
    if (rc == 0 && p->notify_work)
        rc = p->notify_work(backend, "executed", err);
    if (rc == 0)
        rc = settle(p, backend, before, "job.executed", true, NULL, actx, now_ms, ret_job, err);
    job_free(before);
    return rc;
}

/* ------------------------------------------------------------------------
 * Cancel
 * ------------------------------------------------------------------------ */

/* cancel_waiting - a job that never ran ends `to` now, and its dependants fail with it. */
static int cancel_waiting(const struct job_primitives *p, void *backend, const struct job *before,
                          enum job_status to, const struct audit_context *actx, int64_t now_ms,
                          struct job **ret_job, struct iq_error *err)
{
    char message[300];
    snprintf(message, sizeof(message), "cancelled by %s",
             actx && actx->actor ? actx->actor : "unknown");
    char *error_text = job_error_text("cancelled", message);
    if (!error_text)
        return nomem(err);
    struct job_cascade cascade = {0};
    int rc = p->end_waiting(backend, before->id, to, error_text, now_ms, err);
    free(error_text);
    if (rc == 0)
        rc = job_rule_fail_dependants(p, backend, before->id, to, now_ms, &cascade, err);
    if (rc == 0)
        rc = settle(p, backend, before, "job.cancel", true, &cascade, actx, now_ms, ret_job, err);
    job_cascade_clear(&cascade);
    return rc;
}

/*
 * cancel_running - ask the worker of a RUNNING job to stop. A cancel
 * already requested writes nothing and audits nothing.
 */
static int cancel_running(const struct job_primitives *p, void *backend, const struct job *before,
                          const struct audit_context *actx, int64_t now_ms, struct job **ret_job,
                          struct iq_error *err)
{
    if (before->cancel_requested)
        return p->read_job(backend, before->id, ret_job, err);
    int rc = p->request_cancel(backend, before->id, now_ms, err);
    if (rc == 0)
        rc = settle(p, backend, before, "job.cancel_requested", false, NULL, actx, now_ms, ret_job,
                    err);
    return rc;
}

int job_rule_cancel(const struct job_primitives *p, void *backend, const char *id,
                    const struct audit_context *actx, int64_t now_ms, struct job **ret_job,
                    struct iq_error *err)
{
    *ret_job = NULL;
    struct job *before = NULL;
    enum job_status to;
    int rc = p->read_job(backend, id, &before, err);
    if (rc < 0)
        return rc;
    if (job_transition(before->status, JOB_EVENT_CANCEL, &to) < 0)
        rc = iq_error_set(err, IQ_E_CONFLICT, "job is already %s", job_status_name(before->status));
    else if (before->status == JOB_RUNNING) /* a worker holds it: it stops the job */
        rc = cancel_running(p, backend, before, actx, now_ms, ret_job, err);
    else
        rc = cancel_waiting(p, backend, before, to, actx, now_ms, ret_job, err);
    job_free(before);
    return rc;
}

/* ------------------------------------------------------------------------
 * Update
 * ------------------------------------------------------------------------ */

int job_rule_update(const struct job_primitives *p, void *backend, const char *id,
                    const struct job_spec *spec, const struct audit_context *actx,
                    int64_t now_ms, struct job **ret_job, struct iq_error *err)
{
    *ret_job = NULL;
    struct job *before = NULL;
    struct dependency_state deps = {0};
    struct job_cascade cascade = {0};
    char *error_text = NULL;
    enum job_status to;
    int rc = p->read_job(backend, id, &before, err);
    if (rc < 0)
        return rc;
    if (job_transition(before->status, JOB_EVENT_UPDATE, &to) < 0)
        rc = iq_error_set(err, IQ_E_CONFLICT, "job is %s: only HELD or QUEUED jobs can be updated",
                          job_status_name(before->status));
    if (rc == 0)
        rc = p->check_dependencies(backend, before->id, spec, &deps, err);
    if (rc == 0 && deps.failed_id[0] &&
        !(error_text = job_dependency_failed_text(deps.failed_id, deps.failed_status)))
        rc = nomem(err);
    if (rc == 0)
        rc = p->write_update(backend, before, spec, &deps, error_text, now_ms, err);
    if (rc == 0 && error_text)
        rc = job_rule_fail_dependants(p, backend, before->id, JOB_FAILED, now_ms, &cascade, err);
    if (rc == 0)
        rc = settle(p, backend, before, "job.update", true, &cascade, actx, now_ms, ret_job, err);
    free(error_text);
    job_cascade_clear(&cascade);
    job_free(before);
    return rc;
}

/* ------------------------------------------------------------------------
 * The end of an attempt
 * ------------------------------------------------------------------------ */

int job_attempt_check_owner(const struct job *job, const struct job_finish *finish,
                            struct iq_error *err)
{
    bool same_worker = job->worker && finish->worker && strcmp(job->worker, finish->worker) == 0;
    if (job->status == JOB_RUNNING && same_worker && job->attempt == finish->attempt)
        return 0;
    return iq_error_set(err, IQ_E_STALE,
                        "job %s is no longer ours (status %s, worker %s, attempt %d; we are %s,"
                        " attempt %d)",
                        job->id, job_status_name(job->status), job->worker ? job->worker : "none",
                        job->attempt, finish->worker ? finish->worker : "(none)", finish->attempt);
}

/* ascii_copy - text with every byte outside ASCII a '?'. Caller frees; NULL on OOM. */
static char *ascii_copy(const char *text)
{
    char *copy = strdup(text);
    for (char *c = copy; c && *c; c++)
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    return copy;
}

int job_attempt_error_text(const struct job_finish *finish, char **ret_text, struct iq_error *err)
{
    *ret_text = NULL;
    if (finish->status == JOB_COMPLETED)
        return 0;
    const char *code = job_attempt_error_code(finish);
    const char *message = finish->error_message ? finish->error_message : code;
    *ret_text = job_error_text(code, message);
    if (!*ret_text) {
        char *safe_code = ascii_copy(code), *safe_message = ascii_copy(message);
        if (safe_code && safe_message)
            *ret_text = job_error_text(safe_code, safe_message);
        free(safe_code);
        free(safe_message);
    }
    return *ret_text ? 0 : nomem(err);
}

const char *job_attempt_error_code(const struct job_finish *finish)
{
    if (finish->error_code)
        return finish->error_code;
    return finish->status == JOB_CANCELLED ? "cancelled" : "import_failed";
}

int job_attempt_outcome(const struct job *job, const struct job_finish *finish,
                        const char *action, struct attempt_outcome *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    enum job_event event;
    switch (finish->status) {
    case JOB_COMPLETED:
        event = JOB_EVENT_COMPLETE;
        ret->action = "job.completed";
        break;
    case JOB_CANCELLED:
        event = JOB_EVENT_CANCEL;
        ret->action = "job.cancelled";
        break;
    case JOB_FAILED:
        /* A cancel requested during the attempt suppresses the retry: the
         * user asked the job to stop, so it does not start again by itself. */
        ret->retry = job && finish->retry_at_ms > 0 && job->attempt < job->max_attempts &&
                     !job->cancel_requested;
        event = ret->retry ? JOB_EVENT_RETRY : JOB_EVENT_FAIL;
        ret->action = ret->retry ? "job.retried" : "job.failed";
        break;
    default:
        return iq_error_set(err, IQ_E_INVALID, "an attempt ends COMPLETED, FAILED or CANCELLED");
    }
    if (job_transition(JOB_RUNNING, event, &ret->status) < 0)
        return iq_error_set(err, IQ_E_INTERNAL, "the transition table forbids %s on RUNNING",
                            job_event_name(event));
    ret->attempt_status = finish->status;
    if (action)
        ret->action = action;
    ret->release_dependants = ret->status == JOB_COMPLETED;
    ret->fail_dependants = ret->status == JOB_FAILED || ret->status == JOB_CANCELLED;
    return 0;
}

void job_rescue_finish(const char *id, const char *worker, int attempt, int max_attempts,
                       int64_t lease_ms, retry_backoff_cb backoff_cb, void *backoff_ctx,
                       int64_t now_ms, struct rescue_report *ret)
{
    memset(ret, 0, sizeof(*ret));
    snprintf(ret->message, sizeof(ret->message),
             "worker %s stopped heartbeating (no heartbeat for more than %lld ms)",
             worker && worker[0] ? worker : "(none)", (long long)lease_ms);
    int64_t retry_at_ms = 0;
    if (attempt < max_attempts) {
        int64_t delay_ms = backoff_cb ? backoff_cb(attempt, backoff_ctx) : 0;
        retry_at_ms = now_ms + (delay_ms > 0 ? delay_ms : 0);
    }
    ret->finish = (struct job_finish){.job_id = id,
                                      .worker = worker,
                                      .attempt = attempt,
                                      .status = JOB_FAILED,
                                      .error_code = "worker_lost",
                                      .error_message = ret->message,
                                      .retry_at_ms = retry_at_ms};
}
