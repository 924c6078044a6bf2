/*
 * common/schedule_rules.c - the fire of a scheduled import for both
 * backends (see common/schedule_rules.h): fence, overlap policy, the job
 * from the template, the fire row, next_run_at. Every write goes through
 * the backend's schedule_fire_primitives or job_primitives; no SQL here.
 *
 * Steps, in the lock order of both backends: the schedule read (no lock),
 * the fence, the fire row looked up, the previous job read (its row
 * locked where the backend locks rows: a finish of that job, which updates
 * the schedule through a trigger, is waited for rather than crossed), the
 * job created (job_rule_create: dependencies, capacity, the row, the
 * audit), the fire row, the schedule's row written last.
 */
#include "store/common/schedule_rules.h"

#include "core/cron.h"
#include "core/timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Milliseconds after now a run-now looks at for a free fire time. */
#define NOW_TRIES 1000

static const char *const outcome_names[SCHEDULE_FIRE_OUTCOME_COUNT] = {
#define SCHEDULE_FIRE_OUTCOME_NAME(name, text) text,
    SCHEDULE_FIRE_OUTCOMES(SCHEDULE_FIRE_OUTCOME_NAME)
#undef SCHEDULE_FIRE_OUTCOME_NAME
};

const char *schedule_fire_outcome_name(enum schedule_fire_outcome outcome)
{
    if ((int)outcome < 0 || outcome >= SCHEDULE_FIRE_OUTCOME_COUNT)
        return "unknown";
    return outcome_names[outcome];
}

int schedule_fire_outcome_parse(const char *text)
{
    for (int i = 0; text && i < SCHEDULE_FIRE_OUTCOME_COUNT; i++)
        if (strcmp(outcome_names[i], text) == 0)
            return i;
    return -1;
}

void schedule_fire_result_clear(struct schedule_fire_result *result)
{
    if (!result)
        return;
    job_free(result->job);
    memset(result, 0, sizeof(*result));
}

void schedule_due_list_clear(struct schedule_due_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].cron);
        free(list->items[i].timezone);
        free(list->items[i].misfire);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}

void schedule_fire_page_clear(struct schedule_fire_page *page)
{
    if (!page)
        return;
    for (size_t i = 0; i < page->count; i++)
        free(page->items[i].detail);
    free(page->items);
    memset(page, 0, sizeof(*page));
}

void schedule_row_clear(struct schedule_row *row)
{
    if (!row)
        return;
    free(row->cron);
    free(row->timezone);
    free(row->job_spec);
    free(row->overlap);
    memset(row, 0, sizeof(*row));
}

int schedule_next_fire(const char *cron, const char *zone_name, int64_t after_ms,
                       int64_t *ret_next_ms, struct iq_error *err)
{
    *ret_next_ms = 0;
    struct cron_expr expr;
    int rc = cron_parse(cron, &expr, err);
    struct cron_zone *zone = NULL;
    if (rc == 0)
        rc = cron_zone_open(zone_name, &zone, err);
    if (rc == 0) {
        struct iq_error next_err = {0};
        rc = cron_next_after(&expr, after_ms, zone, ret_next_ms, &next_err);
        if (rc == IQ_E_NOT_FOUND) {
            rc = 0; /* the schedule is done: no next_run_at */
            *ret_next_ms = 0;
        } else if (rc < 0) {
            iq_error_set(err, rc, "%s", iq_error_message(&next_err));
        }
        iq_error_clear(&next_err);
    }
    cron_zone_free(zone);
    return rc;
}

/* expand_path - body's source.path with its placeholders filled in for
 * fire_at_ms on zone's clocks (no path: nothing to do). */
static int expand_path(json_t *body, const char *zone_name, int64_t fire_at_ms,
                       struct iq_error *err)
{
    json_t *source = json_object_get(body, "source");
    json_t *path = source ? json_object_get(source, "path") : NULL;
    if (!json_is_string(path))
        return 0; /* job_spec_parse names what is wrong */
    struct cron_zone *zone = NULL;
    int rc = cron_zone_open(zone_name, &zone, err);
    struct cron_local_time local;
    if (rc == 0)
        rc = cron_zone_local_time(zone, fire_at_ms, &local, err);
    char *expanded = NULL;
    if (rc == 0)
        rc = cron_template_expand(json_string_value(path), &local, &expanded, err);
    if (rc == IQ_E_INVALID)
        iq_error_add_field(err, "job.source.path", "%s", iq_error_message(err));
    if (rc == 0 && json_object_set_new(source, "path", json_string(expanded)) < 0)
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    free(expanded);
    cron_zone_free(zone);
    return rc;
}

/* add_dependency - previous_id appended to body's depends_on. */
static int add_dependency(json_t *body, const char *previous_id, struct iq_error *err)
{
    json_t *deps = json_object_get(body, "depends_on");
    if (!deps) {
        deps = json_array();
        if (!deps || json_object_set_new(body, "depends_on", deps) < 0)
            return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    if (!json_is_array(deps))
        return 0; /* job_spec_parse names what is wrong */
    if (json_array_append_new(deps, json_string(previous_id)) < 0)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    return 0;
}

int schedule_template_job(const char *template_text, const char *zone_name, int64_t fire_at_ms,
                          const char *previous_id, const struct job_spec_defaults *defaults,
                          struct job_spec **ret_spec, struct iq_error *err)
{
    *ret_spec = NULL;
    json_error_t json_err;
    json_t *body = json_loads(template_text ? template_text : "", 0, &json_err);
    if (!json_is_object(body)) {
        json_decref(body);
        return iq_error_set(err, IQ_E_INVALID, "the schedule's job template is not a JSON object");
    }
    json_object_del(body, "request_id");   /* each fire makes a new job */
    json_object_del(body, "scheduled_at"); /* due at its fire time, which is now */
    int rc = expand_path(body, zone_name, fire_at_ms, err);
    if (rc == 0 && previous_id && previous_id[0])
        rc = add_dependency(body, previous_id, err);
    if (rc == 0)
        rc = job_spec_parse(body, defaults, ret_spec, err);
    json_decref(body);
    return rc;
}

/* job_unfinished - whether a job in status still waits or runs. */
static bool job_unfinished(enum job_status status)
{
    return status == JOB_HELD || status == JOB_QUEUED || status == JOB_RUNNING;
}

/*
 * read_previous - the schedule's last job when it is unfinished, into
 * *ret_job (NULL when there is none, it is gone or it has finished).
 */
static int read_previous(const struct job_primitives *jp, void *backend,
                         const struct schedule_row *row, struct job **ret_job, struct iq_error *err)
{
    *ret_job = NULL;
    if (!row->last_job_id[0])
        return 0;
    struct iq_error read_err = {0};
    int rc = jp->read_job(backend, row->last_job_id, ret_job, &read_err);
    if (rc == IQ_E_NOT_FOUND)
        rc = 0; /* deleted with its data: nothing to overlap */
    else if (rc < 0)
        iq_error_set(err, rc, "%s", iq_error_message(&read_err));
    iq_error_clear(&read_err);
    if (rc == 0 && *ret_job && !job_unfinished((*ret_job)->status)) {
        job_free(*ret_job);
        *ret_job = NULL;
    }
    return rc;
}

/*
 * create_job - the job of this fire, or *ret_skipped with the overlap
 * outcome and its detail (overlap skip while the previous job is
 * unfinished). queue makes the job depend on the unfinished previous one.
 */
static int create_job(const struct job_primitives *jp, void *backend,
                      const struct schedule_row *row, const struct schedule_fire_request *req,
                      int64_t fire_at_ms, const struct audit_context *actx, int64_t now_ms,
                      struct job **ret_job, bool *ret_skipped, char *detail, size_t detail_size,
                      struct iq_error *err)
{
    struct job *previous = NULL;
    int rc = read_previous(jp, backend, row, &previous, err);
    if (rc < 0)
        return rc;
    bool queue = previous && strcmp(row->overlap, "queue") == 0;
    if (previous && strcmp(row->overlap, "skip") == 0) {
        snprintf(detail, detail_size, "the previous job %s is still %s", previous->id,
                 job_status_name(previous->status));
        job_free(previous);
        *ret_skipped = true;
        return 0;
    }
    struct job_spec *spec = NULL;
    rc = schedule_template_job(row->job_spec, row->timezone, fire_at_ms,
                               queue ? previous->id : NULL, req->defaults, &spec, err);
    job_free(previous);
    if (rc < 0)
        return rc;
    struct job_create_request create = {
        .spec = spec, .schedule_id = row->id, .max_queue_size = req->max_queue_size};
    bool existed = false;
    rc = job_rule_create(jp, backend, &create, actx, now_ms, ret_job, &existed, err);
    job_spec_free(spec);
    return rc;
}

/* fence_holds - whether a scheduler fire may go ahead on row. */
static bool fence_holds(const struct schedule_row *row, const struct schedule_fire_request *req)
{
    return req->kind == SCHEDULE_FIRE_NOW || (row->enabled && row->next_run_at_ms != 0 &&
                                              row->next_run_at_ms == req->expected_next_ms);
}

/* already_fired - NOW's answer when its instant has a fire row. */
static int already_fired(int64_t fire_at_ms, struct iq_error *err)
{
    char when[TIME_RFC3339_LEN];
    return iq_error_set(err, IQ_E_CONFLICT, "the schedule already fired at %s",
                        time_format_rfc3339(fire_at_ms, when));
}

/*
 * write_fire - the fire row, the history pruned, next_run_at and the
 * schedule's state. IQ_E_STALE when a row was already there or the fence
 * failed in the meantime (the caller rolls back).
 */
static int write_fire(const struct schedule_fire_primitives *sp, const struct schedule_row *row,
                      void *backend, const struct schedule_fire_request *req,
                      struct schedule_fire_result *ret, const char *detail, int64_t now_ms,
                      struct iq_error *err)
{
    bool scheduled = req->kind != SCHEDULE_FIRE_NOW;
    int64_t next_ms = 0;
    int rc = 0;
    if (scheduled) {
        int64_t after =
            req->resume_after_ms > ret->fire_at_ms ? req->resume_after_ms : ret->fire_at_ms;
        rc = schedule_next_fire(row->cron, row->timezone, after, &next_ms, err);
    }
    bool inserted = false;
    if (rc == 0)
        rc = sp->record_fire(backend, row->id, ret->fire_at_ms, ret->job ? ret->job->id : NULL,
                             ret->outcome, detail && detail[0] ? detail : NULL, now_ms, &inserted,
                             err);
    if (rc == 0 && !inserted)
        return iq_error_set(err, IQ_E_STALE, "fire already recorded");
    if (rc == 0) /* fire rows before the schedule's row: a finish's trigger's order */
        rc = sp->prune_fires(backend, row->id, SCHEDULE_FIRES_KEPT, err);
    struct schedule_advance adv = {
        .id = row->id,
        .fenced = scheduled,
        .expected_next_ms = req->expected_next_ms,
        .set_next = scheduled,
        .next_ms = next_ms,
        .job = ret->job,
        .run_at_ms = ret->fire_at_ms,
        .now_ms = now_ms,
    };
    bool updated = false;
    if (rc == 0)
        rc = sp->advance(backend, &adv, &updated, err);
    if (rc == 0 && !updated)
        return iq_error_set(err, IQ_E_STALE, "the schedule changed meanwhile");
    ret->next_run_at_ms = scheduled ? next_ms : row->next_run_at_ms;
    return rc;
}

/* skip_outcome_valid - whether outcome is one a SKIP fire may record. */
static bool skip_outcome_valid(enum schedule_fire_outcome outcome)
{
    return outcome == SCHEDULE_FIRE_SKIPPED_OVERLAP || outcome == SCHEDULE_FIRE_SKIPPED_MISFIRE ||
           outcome == SCHEDULE_FIRE_SKIPPED_QUEUE_FULL || outcome == SCHEDULE_FIRE_SKIPPED_INVALID;
}

int schedule_rule_fire(const struct schedule_fire_primitives *sp, const struct job_primitives *jp,
                       void *backend, const struct schedule_fire_request *req,
                       const struct audit_context *actx, int64_t now_ms,
                       struct schedule_fire_result *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    if (req->kind == SCHEDULE_FIRE_SKIP && !skip_outcome_valid(req->skip_outcome))
        return iq_error_set(err, IQ_E_INVALID, "a skipped fire needs a skipped_* outcome");
    struct schedule_row row = {0};
    int rc = sp->read_schedule(backend, req->schedule_id, &row, err);
    if (rc == IQ_E_NOT_FOUND && req->kind != SCHEDULE_FIRE_NOW) {
        iq_error_clear(err);
        return 0; /* deleted since it was found due */
    }
    ret->fire_at_ms = req->kind == SCHEDULE_FIRE_NOW ? now_ms : req->fire_at_ms;
    if (rc < 0 || !fence_holds(&row, req)) {
        schedule_row_clear(&row);
        return rc;
    }
    bool recorded = false;
    rc = sp->fire_recorded(backend, row.id, ret->fire_at_ms, &recorded, err);
    /* Run now twice in one millisecond: the next free millisecond. */
    for (int i = 0; rc == 0 && recorded && req->kind == SCHEDULE_FIRE_NOW && i < NOW_TRIES; i++) {
        ret->fire_at_ms++;
        rc = sp->fire_recorded(backend, row.id, ret->fire_at_ms, &recorded, err);
    }
    if (rc == 0 && recorded) {
        schedule_row_clear(&row);
        return req->kind == SCHEDULE_FIRE_NOW ? already_fired(ret->fire_at_ms, err) : 0;
    }
    char detail[512] = "";
    if (req->detail)
        snprintf(detail, sizeof(detail), "%s", req->detail);
    ret->outcome = req->kind == SCHEDULE_FIRE_MISSED ? SCHEDULE_FIRE_SKIPPED_MISFIRE
                   : req->kind == SCHEDULE_FIRE_SKIP ? req->skip_outcome
                                                     : SCHEDULE_FIRE_CREATED;
    if (rc == 0 && ret->outcome == SCHEDULE_FIRE_CREATED) {
        bool skipped = false;
        rc = create_job(jp, backend, &row, req, ret->fire_at_ms, actx, now_ms, &ret->job, &skipped,
                        detail, sizeof(detail), err);
        if (rc == 0 && skipped && req->kind == SCHEDULE_FIRE_NOW)
            rc = iq_error_set(err, IQ_E_CONFLICT, "overlap policy skip: %s", detail);
        if (rc == 0 && skipped)
            ret->outcome = SCHEDULE_FIRE_SKIPPED_OVERLAP;
    }
    if (rc == 0)
        rc = write_fire(sp, &row, backend, req, ret, detail, now_ms, err);
    if (rc == 0)
        ret->fired = true;
    schedule_row_clear(&row);
    return rc;
}
