/*
 * schedule.h - a scheduled import as the domain sees it: the editable
 * fields a client sends (struct schedule_spec, checked by
 * schedule_spec_parse), the stored row (struct schedule) and its JSON,
 * the misfire and overlap policies, and the next fire time. Pure: no I/O.
 * The cron expressions and zones are core/cron.h's; firing a schedule
 * (the scheduler loop, the policies in action) is the engine's. The
 * user's description is docs/schedules.md ("Managing schedules").
 */
#ifndef IMPORTQ_CORE_SCHEDULE_H
#define IMPORTQ_CORE_SCHEDULE_H

#include "core/cron.h"
#include "core/error.h"
#include "core/job.h"
#include "core/job_spec.h"
#include "core/uuid7.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define SCHEDULE_MAX_NAME_LEN 200        /* bytes */
#define SCHEDULE_CATCH_UP_MAX_DEFAULT 10 /* missed fires a catch_up runs */
#define SCHEDULE_CATCH_UP_MAX_LIMIT 1000
#define SCHEDULE_LIST_LIMIT_DEFAULT 50
#define SCHEDULE_LIST_LIMIT_MAX 500

#define SCHEDULE_MISFIRES(X) X(SKIP, "skip") X(RUN_ONCE, "run_once") X(CATCH_UP, "catch_up")
#define SCHEDULE_OVERLAPS(X) X(ALLOW, "allow") X(SKIP, "skip") X(QUEUE, "queue")

enum schedule_misfire {
#define SCHEDULE_MISFIRE_ENUM(name, text) SCHEDULE_MISFIRE_##name,
    SCHEDULE_MISFIRES(SCHEDULE_MISFIRE_ENUM)
#undef SCHEDULE_MISFIRE_ENUM
};

enum schedule_overlap {
#define SCHEDULE_OVERLAP_ENUM(name, text) SCHEDULE_OVERLAP_##name,
    SCHEDULE_OVERLAPS(SCHEDULE_OVERLAP_ENUM)
#undef SCHEDULE_OVERLAP_ENUM
};

const char *schedule_misfire_name(enum schedule_misfire misfire);
/* schedule_misfire_parse - 0, or IQ_E_INVALID for another text. */
int schedule_misfire_parse(const char *text, enum schedule_misfire *ret_misfire);
const char *schedule_overlap_name(enum schedule_overlap overlap);
int schedule_overlap_parse(const char *text, enum schedule_overlap *ret_overlap);

/*
 * struct schedule_spec - the editable fields of a schedule, checked. All
 * owned (schedule_spec_clear).
 */
struct schedule_spec {
    char *name;
    char *cron;                    /* as written */
    char *timezone;                /* CRON_DEFAULT_ZONE when not given */
    json_t *job;                   /* the job template as given (an object) */
    enum schedule_misfire misfire; /* default run_once */
    enum schedule_overlap overlap; /* default skip */
    int catch_up_max;              /* 1..SCHEDULE_CATCH_UP_MAX_LIMIT, default 10 */
    bool enabled;                  /* default true */
    struct cron_expr expr;         /* cron, parsed */
};

/*
 * schedule_spec_parse - check body (a JSON object: name, cron, timezone,
 * job, misfire, overlap, catch_up_max, enabled) as a create or a PUT
 * (every field but name, cron and job has a default). Every problem is a
 * field error: "name" (missing, empty, over SCHEDULE_MAX_NAME_LEN bytes),
 * "cron" (cron_parse's message), "timezone" (cron_zone_check's), "job"
 * (missing, not an object) and "job.<path>" for each error of the job
 * spec parser on the template, whose source.path is first expanded
 * ({date} {time} {datetime}) at a sample time; "job.source.path" for a
 * bad placeholder; "job.request_id", "job.scheduled_at" and
 * "job.source.upload" are refused (each fire makes a new job from a file
 * of the import root); "misfire", "overlap", "catch_up_max", "enabled",
 * and every unknown field. defaults as for job_spec_parse (may be NULL).
 * Returns 0 and *ret_spec (schedule_spec_clear it, also on failure), or
 * IQ_E_INVALID with err's fields, IQ_E_NOMEM.
 */
int schedule_spec_parse(json_t *body, const struct job_spec_defaults *defaults,
                        struct schedule_spec *ret_spec, struct iq_error *err);
void schedule_spec_clear(struct schedule_spec *spec);

/*
 * schedule_job_spec - the job template job parsed as a job spec, with its
 * source.path expanded at fire_ms (UTC ms) on zone_name's clocks (NULL or
 * "": UTC). What a fire makes, and what the conflict check reads a
 * schedule's resources and timeout from. Field errors as
 * schedule_spec_parse's "job." ones. *ret_spec: job_spec_free.
 */
int schedule_job_spec(const json_t *job, const char *zone_name, int64_t fire_ms,
                      const struct job_spec_defaults *defaults, struct job_spec **ret_spec,
                      struct iq_error *err);

/*
 * schedule_next_run - the first fire time of cron in zone_name strictly
 * after after_ms: 0 and *ret_next_ms, 0 with *ret_next_ms = 0 when the
 * schedule has none left (a one-off that passed), IQ_E_INVALID for a bad
 * expression or zone (field errors "cron" / "timezone").
 */
int schedule_next_run(const char *cron, const char *zone_name, int64_t after_ms,
                      int64_t *ret_next_ms, struct iq_error *err);

/*
 * struct schedule - one row of stg_scheduled_imports. Every pointer is
 * owned (schedule_clear). Times are UTC ms since the epoch, 0 = null.
 */
struct schedule {
    char id[UUID_STR_LEN];
    char *name;
    char *cron;
    char *timezone;
    json_t *job; /* the job template */
    enum schedule_misfire misfire;
    enum schedule_overlap overlap;
    int catch_up_max;
    bool enabled;
    int64_t next_run_at_ms;
    int64_t last_run_at_ms;
    char *last_status; /* NULL before the first fire */
    char *last_job_id; /* NULL before the first fire */
    int64_t run_count;
    int64_t success_count;
    int64_t failure_count;
    char *created_by; /* NULL when unknown */
    int64_t created_at_ms;
    int64_t updated_at_ms;
};

/* schedule_clear - free the members (NULL-safe) and zero it. */
void schedule_clear(struct schedule *schedule);

/*
 * schedule_to_json - the schedule resource of the API (CONTRACT §3):
 * id, name, cron, timezone, job, misfire, overlap, catch_up_max, enabled,
 * next_run_at, last_run_at, last_status, last_job_id, run_count,
 * success_count, failure_count, created_by, created_at, updated_at.
 * New reference; NULL on OOM.
 */
json_t *schedule_to_json(const struct schedule *schedule);

#endif
