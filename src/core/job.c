/*
 * job.c - job statuses, the transition table, and the job record's
 * lifetime and JSON form. The table is the single place that says which
 * status changes are legal. Both store backends consult it through the
 * job rules in store/common/job_rules.c (execute, cancel, update, the end
 * of an attempt); the backends' SQL only carries out what a rule decided.
 */
#include "core/job.h"

#include "core/error.h"
#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const status_names[JOB_STATUS_COUNT] = {
#define JOB_STATUS_NAME(name) #name,
    JOB_STATUSES(JOB_STATUS_NAME)
#undef JOB_STATUS_NAME
};

static const char *const event_names[JOB_EVENT_COUNT] = {
#define JOB_EVENT_NAME(name) #name,
    JOB_EVENTS(JOB_EVENT_NAME)
#undef JOB_EVENT_NAME
};

/* -1: forbidden. Rows: from-status; columns: event. */
#define NO (-1)
static const int transitions[JOB_STATUS_COUNT][JOB_EVENT_COUNT] = {
    /*               EXECUTE      HOLD      CLAIM        COMPLETE       FAIL        RETRY       CANCEL         DEP_FAILED  RERUN       RESCUE      UPDATE */
    [JOB_HELD]      = {JOB_QUEUED, NO,       NO,          NO,            NO,         NO,         JOB_CANCELLED, JOB_FAILED, NO,         NO,         JOB_HELD},
    [JOB_QUEUED]    = {JOB_QUEUED, JOB_HELD, JOB_RUNNING, NO,            NO,         NO,         JOB_CANCELLED, JOB_FAILED, NO,         NO,         JOB_QUEUED},
    [JOB_RUNNING]   = {NO,         NO,       NO,          JOB_COMPLETED, JOB_FAILED, JOB_QUEUED, JOB_CANCELLED, NO,         NO,         JOB_QUEUED, NO},
    [JOB_COMPLETED] = {NO,         NO,       NO,          NO,            NO,         NO,         NO,            NO,         NO,         NO,         NO},
    [JOB_FAILED]    = {JOB_QUEUED, NO,       NO,          NO,            NO,         NO,         NO,            NO,         JOB_QUEUED, NO,         NO},
    [JOB_CANCELLED] = {JOB_QUEUED, NO,       NO,          NO,            NO,         NO,         NO,            NO,         JOB_QUEUED, NO,         NO},
};
#undef NO

const char *job_status_name(enum job_status status)
{
    if ((unsigned)status >= JOB_STATUS_COUNT)
        return "UNKNOWN";
    return status_names[status];
}

int job_status_parse(const char *text, enum job_status *ret_status)
{
    if (!text)
        return IQ_E_INVALID;
    for (int i = 0; i < JOB_STATUS_COUNT; i++) {
        if (strcasecmp(text, status_names[i]) == 0) {
            *ret_status = (enum job_status)i;
            return 0;
        }
    }
    return IQ_E_INVALID;
}

bool job_status_is_final(enum job_status status)
{
    return status == JOB_COMPLETED || status == JOB_FAILED || status == JOB_CANCELLED;
}

const char *job_event_name(enum job_event event)
{
    if ((unsigned)event >= JOB_EVENT_COUNT)
        return "UNKNOWN";
    return event_names[event];
}

int job_transition(enum job_status from, enum job_event event, enum job_status *ret_to)
{
    if ((unsigned)from >= JOB_STATUS_COUNT || (unsigned)event >= JOB_EVENT_COUNT)
        return IQ_E_CONFLICT;
    int to = transitions[from][event];
    if (to < 0)
        return IQ_E_CONFLICT;
    *ret_to = (enum job_status)to;
    return 0;
}

const char *lock_mode_name(enum lock_mode mode)
{
    return mode == LOCK_SHARED ? "shared" : "exclusive";
}

int lock_mode_parse(const char *text, enum lock_mode *ret_mode)
{
    if (text && strcmp(text, "exclusive") == 0) {
        *ret_mode = LOCK_EXCLUSIVE;
        return 0;
    }
    if (text && strcmp(text, "shared") == 0) {
        *ret_mode = LOCK_SHARED;
        return 0;
    }
    return IQ_E_INVALID;
}

struct job *job_new(void)
{
    struct job *job = calloc(1, sizeof(*job));
    if (!job)
        return NULL;
    job->attempts = json_array();
    job->name = strdup("");
    if (!job->attempts || !job->name) {
        job_free(job);
        return NULL;
    }
    return job;
}

void job_free(struct job *job)
{
    if (!job)
        return;
    free(job->request_id);
    free(job->name);
    for (size_t i = 0; i < job->depends_on_count; i++)
        free(job->depends_on[i]);
    free(job->depends_on);
    free(job->orchestration_id);
    free(job->schedule_id);
    for (size_t i = 0; i < job->resource_count; i++)
        free(job->resources[i].name);
    free(job->resources);
    json_decref(job->source);
    json_decref(job->target);
    json_decref(job->on_error);
    free(job->target_table);
    free(job->worker);
    json_decref(job->error);
    json_decref(job->attempts);
    free(job->created_by);
    free(job);
}

/* A JSON string, or null for a NULL pointer. */
static json_t *string_or_null(const char *text)
{
    return text ? json_string(text) : json_null();
}

/* RFC 3339 text, or null for 0. */
static json_t *time_or_null(int64_t ms)
{
    char buf[TIME_RFC3339_LEN];
    return ms ? json_string(time_format_rfc3339(ms, buf)) : json_null();
}

/* A new reference to value, or an empty object when value is NULL. */
static json_t *object_or_empty(json_t *value)
{
    return value ? json_incref(value) : json_object();
}

json_t *job_progress_json(enum job_status status, const struct job_progress *progress)
{
    double percent = 0.0;
    if (status == JOB_COMPLETED)
        percent = 100.0;
    else if (progress->bytes_total > 0)
        percent = 100.0 * (double)progress->bytes_read / (double)progress->bytes_total;
    if (percent > 100.0)
        percent = 100.0;
    return json_pack("{s:s,s:I,s:I,s:I,s:f}", "phase",
                     progress->phase[0] ? progress->phase : "queued", "rows_read",
                     (json_int_t)progress->rows_read, "bytes_read",
                     (json_int_t)progress->bytes_read, "bytes_total",
                     (json_int_t)progress->bytes_total, "percent", percent);
}

json_t *job_to_json(const struct job *job)
{
    json_t *deps = json_array();
    json_t *resources = json_array();
    if (!deps || !resources)
        goto fail;
    for (size_t i = 0; i < job->depends_on_count; i++)
        json_array_append_new(deps, json_string(job->depends_on[i]));
    for (size_t i = 0; i < job->resource_count; i++)
        json_array_append_new(resources,
                              json_pack("{s:s,s:s}", "name", job->resources[i].name, "mode",
                                        lock_mode_name(job->resources[i].mode)));

    json_t *progress = job_progress_json(job->status, &job->progress);
    json_t *result = json_pack("{s:I,s:I,s:I,s:I}",
                               "rows_read", (json_int_t)job->result.rows_read,
                               "rows_inserted", (json_int_t)job->result.rows_inserted,
                               "rows_updated", (json_int_t)job->result.rows_updated,
                               "rows_rejected", (json_int_t)job->result.rows_rejected);
    /* A dry run's counts are what the import would do: said in the result. */
    if (result && json_is_true(json_object_get(job->target, "dry_run")))
        json_object_set_new(result, "dry_run", json_true());
    json_t *out = json_pack(
        "{s:s,s:o,s:s,s:s,s:i,s:o,s:o,s:o,s:o,s:i,s:i,s:I,s:o,s:o,s:o,s:o,s:b,s:o,"
        "s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
        "id", job->id,
        "request_id", string_or_null(job->request_id),
        "name", job->name ? job->name : "",
        "status", job_status_name(job->status),
        "priority", job->priority,
        "depends_on", deps,
        "orchestration_id", string_or_null(job->orchestration_id),
        "schedule_id", string_or_null(job->schedule_id),
        "scheduled_at", time_or_null(job->scheduled_at_ms),
        "attempt", job->attempt,
        "max_attempts", job->max_attempts,
        "timeout_s", (json_int_t)job->timeout_s,
        "resources", resources,
        "source", object_or_empty(job->source),
        "target", object_or_empty(job->target),
        "on_error", object_or_empty(job->on_error),
        "cancel_requested", job->cancel_requested,
        "worker", string_or_null(job->worker),
        "progress", progress ? progress : json_null(),
        "result", result ? result : json_null(),
        "error", job->error ? json_incref(job->error) : json_null(),
        "attempts", job->attempts ? json_incref(job->attempts) : json_array(),
        "created_by", string_or_null(job->created_by),
        "created_at", time_or_null(job->created_at_ms),
        "updated_at", time_or_null(job->updated_at_ms),
        "started_at", time_or_null(job->started_at_ms),
        "finished_at", time_or_null(job->finished_at_ms));
    return out;

fail:
    json_decref(deps);
    json_decref(resources);
    return NULL;
}
