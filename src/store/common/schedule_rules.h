/*
 * common/schedule_rules.h - the fire of a scheduled import, written once
 * for both backends: the fence, the overlap policy, the job made from the
 * schedule's template (placeholders expanded in the schedule's zone, then
 * the same job rules as a submission: job_rule_create), the fire row, the
 * schedule's next_run_at and state, and the history's pruning. A backend
 * supplies struct schedule_fire_primitives (one statement each) and the
 * transaction; this file holds no SQL. Not here: which schedules are due
 * and what a misfire does (the engine's policy, engine/scheduler.c).
 */
#ifndef IMPORTQ_STORE_COMMON_SCHEDULE_RULES_H
#define IMPORTQ_STORE_COMMON_SCHEDULE_RULES_H

#include "store/common/job_rules.h"

/* A schedule as a fire reads it. */
struct schedule_row {
    char id[UUID_STR_LEN];
    char *cron;     /* owned */
    char *timezone; /* owned */
    char *job_spec; /* owned: the template, JSON text */
    char *overlap;  /* owned: "allow", "skip" or "queue" */
    bool enabled;
    int64_t next_run_at_ms;         /* 0 = none */
    char last_job_id[UUID_STR_LEN]; /* "" = none */
};

/* schedule_row_clear - free the strings; NULL-safe. */
void schedule_row_clear(struct schedule_row *row);

/* What a fire writes on the schedule's row (schedule_fire_primitives.advance). */
struct schedule_advance {
    const char *id;
    bool fenced; /* only while enabled with next_run_at = expected_next_ms */
    int64_t expected_next_ms;
    bool set_next; /* next_run_at := next_ms (0: NULL) */
    int64_t next_ms;
    const struct job *job; /* the job created: last_run_at := run_at_ms,
                              last_job_id, last_status, run_count + 1;
                              NULL: none of these */
    int64_t run_at_ms;
    int64_t now_ms; /* updated_at */
};

/*
 * struct schedule_fire_primitives - what a backend does for the fire rule, in
 * the transaction it opened (the same `backend` its job_primitives take).
 * Lock order (PostgreSQL): the fire reads the previous job (its row) before
 * it writes the schedule's row, as a finish locks the job's row before its
 * trigger updates the schedule's.
 */
struct schedule_fire_primitives {
    /* read_schedule - IQ_E_NOT_FOUND "schedule <id> not found". */
    int (*read_schedule)(void *backend, const char *id, struct schedule_row *ret_row,
                         struct iq_error *err);
    /* fire_recorded - whether (schedule_id, fire_at_ms) has a fire row. */
    int (*fire_recorded)(void *backend, const char *schedule_id, int64_t fire_at_ms,
                         bool *ret_recorded, struct iq_error *err);
    /* record_fire - insert the fire row; *ret_inserted false when the row
     * existed already (nothing written). job_id and detail may be NULL. */
    int (*record_fire)(void *backend, const char *schedule_id, int64_t fire_at_ms,
                       const char *job_id, enum schedule_fire_outcome outcome, const char *detail,
                       int64_t now_ms, bool *ret_inserted, struct iq_error *err);
    /* advance - write adv onto the schedule; *ret_updated false when the
     * fence failed (nothing written). */
    int (*advance)(void *backend, const struct schedule_advance *adv, bool *ret_updated,
                   struct iq_error *err);
    /* prune_fires - keep the newest `keep` fire rows of the schedule. */
    int (*prune_fires)(void *backend, const char *schedule_id, int keep, struct iq_error *err);
};

/*
 * schedule_rule_fire - store_schedule_fire's rule, inside the backend's
 * transaction (which must serialise job creation, as job_create's does).
 * Fills *ret (schedule_fire_result_clear it). Returns 0 with ret->fired
 * false when nothing is to be written (already fired, fence failed,
 * unknown schedule for a scheduler kind); IQ_E_STALE when a write found
 * the same (the caller rolls back and reports not fired); for DUE, the
 * error of a job that could not be made (IQ_E_INVALID, IQ_E_CONFLICT,
 * IQ_E_QUEUE_FULL: the caller rolls back and records the fire as SKIP,
 * store_schedule_fire); for NOW, IQ_E_NOT_FOUND, IQ_E_CONFLICT (already
 * fired at this instant, or the overlap policy skips), IQ_E_QUEUE_FULL,
 * IQ_E_INVALID.
 */
int schedule_rule_fire(const struct schedule_fire_primitives *sp, const struct job_primitives *jp,
                       void *backend, const struct schedule_fire_request *req,
                       const struct audit_context *actx, int64_t now_ms,
                       struct schedule_fire_result *ret, struct iq_error *err);

/*
 * schedule_template_job - the job spec a fire of template_text (a job
 * spec's JSON text) at fire_at_ms in zone_name makes: source.path's
 * placeholders expanded (cron_template_expand), request_id and
 * scheduled_at dropped (each fire is a new job, due now), previous_id
 * (may be NULL) added to depends_on. Returns 0 and *ret_spec
 * (job_spec_free), or IQ_E_INVALID with the reason (a bad template or
 * zone), IQ_E_NOMEM.
 */
int schedule_template_job(const char *template_text, const char *zone_name, int64_t fire_at_ms,
                          const char *previous_id, const struct job_spec_defaults *defaults,
                          struct job_spec **ret_spec, struct iq_error *err);

/*
 * schedule_next_fire - the first fire time of cron in zone_name strictly
 * after after_ms: 0 and *ret_next_ms, which is 0 when the schedule has
 * none left; IQ_E_INVALID for a bad expression or zone.
 */
int schedule_next_fire(const char *cron, const char *zone_name, int64_t after_ms,
                       int64_t *ret_next_ms, struct iq_error *err);

#endif
