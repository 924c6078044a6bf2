/*
 * schedule_fire.c - the front door of firing scheduled imports
 * (store/schedule_fire_ops.h): dispatch to the backend and the second try
 * that records a fire whose job could not be made. No SQL here. The
 * outcome names and the destructors are in common/schedule_rules.c, where
 * the backends find them too.
 */
#include "store/common/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * skip_reason - the detail a fire records when its job could not be made:
 * err's message and its first field error.
 */
static void skip_reason(const struct iq_error *err, char *buf, size_t size)
{
    if (err->field_count > 0 && !strstr(iq_error_message(err), err->fields[0].message))
        snprintf(buf, size, "%s (%s: %s)", iq_error_message(err), err->fields[0].field,
                 err->fields[0].message);
    else
        snprintf(buf, size, "%s", iq_error_message(err));
}

/* job_refused - an error that means "this fire's job cannot be made". */
static bool job_refused(int rc)
{
    return rc == IQ_E_INVALID || rc == IQ_E_CONFLICT || rc == IQ_E_QUEUE_FULL;
}

int store_schedule_fire(struct store *s, const struct schedule_fire_request *req,
                        const struct audit_context *actx, struct schedule_fire_result *ret,
                        struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    if (!req || !req->schedule_id)
        return iq_error_set(err, IQ_E_INVALID, "a fire needs a schedule id");
    if (!uuid_is_valid(req->schedule_id))
        return req->kind == SCHEDULE_FIRE_NOW
                   ? iq_error_set(err, IQ_E_NOT_FOUND, "schedule %s not found", req->schedule_id)
                   : 0;
    struct iq_error first = {0};
    int rc = s->ops->schedule_fire(s, req, actx, ret, &first);
    if (rc == IQ_E_STALE && req->kind != SCHEDULE_FIRE_NOW) {
        iq_error_clear(&first);
        schedule_fire_result_clear(ret);
        return 0; /* a racer wrote first: not fired */
    }
    if (!(req->kind == SCHEDULE_FIRE_DUE && job_refused(rc))) {
        if (rc < 0)
            iq_error_set(err, rc, "%s", iq_error_message(&first));
        for (size_t i = 0; rc < 0 && i < first.field_count; i++)
            iq_error_add_field(err, first.fields[i].field, "%s", first.fields[i].message);
        iq_error_clear(&first);
        return rc;
    }
    /* The job could not be made: the fire is recorded skipped, and the
     * schedule moves on, in a transaction of its own (the first one may
     * have written part of a job before it was refused). */
    char detail[512];
    skip_reason(&first, detail, sizeof(detail));
    struct schedule_fire_request skip = *req;
    skip.kind = SCHEDULE_FIRE_SKIP;
    skip.skip_outcome =
        rc == IQ_E_QUEUE_FULL ? SCHEDULE_FIRE_SKIPPED_QUEUE_FULL : SCHEDULE_FIRE_SKIPPED_INVALID;
    skip.detail = detail;
    iq_error_clear(&first);
    schedule_fire_result_clear(ret);
    rc = s->ops->schedule_fire(s, &skip, actx, ret, err);
    if (rc == IQ_E_STALE) {
        iq_error_clear(err);
        schedule_fire_result_clear(ret);
        return 0;
    }
    return rc;
}

int store_schedules_due(struct store *s, int64_t now_ms, int limit, struct schedule_due_list *ret,
                        struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    if (limit < 1 || limit > SCHEDULE_DUE_BATCH)
        return iq_error_set(err, IQ_E_INVALID, "limit must be 1..%d", SCHEDULE_DUE_BATCH);
    return s->ops->schedules_due(s, now_ms, limit, ret, err);
}

int store_schedule_fires_list(struct store *s, const char *schedule_id, int limit,
                              const struct schedule_fire_cursor *after,
                              struct schedule_fire_page *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    if (limit == 0)
        limit = SCHEDULE_FIRES_LIMIT_DEFAULT;
    if (limit < 1 || limit > SCHEDULE_FIRES_LIMIT_MAX)
        return iq_error_set(err, IQ_E_INVALID, "limit must be 1..%d", SCHEDULE_FIRES_LIMIT_MAX);
    if (!schedule_id || !uuid_is_valid(schedule_id))
        return iq_error_set(err, IQ_E_NOT_FOUND, "schedule %s not found",
                            schedule_id ? schedule_id : "(null)");
    return s->ops->schedule_fires_list(s, schedule_id, limit, after, ret, err);
}

int store_scheduler_lead(struct store *s, bool *ret_leader, struct iq_error *err)
{
    *ret_leader = false;
    return s->ops->scheduler_lead(s, ret_leader, err);
}
