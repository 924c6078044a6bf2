/*
 * schedule_conflict.h - conflict warnings between schedules: whether,
 * over a window (7 days), the fire windows of one schedule (each fire
 * time plus the job's typical duration) overlap another's on a resource
 * both lock, where at least one lock is exclusive (shared + shared never
 * conflicts). Pure computation on fire times and resources the caller
 * gathered: no I/O, no clock. The work is bounded: at most
 * SCHEDULE_CONFLICT_MAX_FIRES fire times per schedule and
 * SCHEDULE_CONFLICT_MAX_SCHEDULES schedules compared. Warnings never
 * refuse anything; the API shows them beside a created or changed
 * schedule (docs/schedules.md, "Conflict warnings").
 */
#ifndef IMPORTQ_CORE_SCHEDULE_CONFLICT_H
#define IMPORTQ_CORE_SCHEDULE_CONFLICT_H

#include "core/cron.h"
#include "core/error.h"
#include "core/job.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SCHEDULE_CONFLICT_WINDOW_MS (7LL * 24 * 3600 * 1000)
#define SCHEDULE_CONFLICT_MAX_FIRES 2016     /* every 5 minutes for 7 days */
#define SCHEDULE_CONFLICT_MAX_SCHEDULES 1000 /* others compared with one schedule */
#define SCHEDULE_CONFLICT_MAX_WARNINGS 20    /* warnings one answer carries */

/* One schedule as the check sees it. Everything borrowed. */
struct conflict_schedule {
    const char *id;
    const char *name;
    const char *cron; /* as written, for the message */
    const char *timezone;
    const int64_t *fire_ms; /* ascending UTC ms, within the window */
    size_t fire_count;
    int64_t duration_ms;  /* typical run time, > 0 */
    bool duration_is_p50; /* from history (else the job's timeout) */
    const struct job_resource *resources;
    size_t resource_count;
};

/* One warning (all owned; schedule_conflicts_clear). */
struct conflict_warning {
    char *schedule_id; /* the other schedule */
    char *schedule_name;
    char *resource;           /* the resource both want, e.g. "table:users" */
    int64_t first_overlap_ms; /* the first instant both hold it */
    char *message;
};

struct conflict_list {
    struct conflict_warning *items;
    size_t count;
};

/*
 * schedule_fire_window - the fire times of expr in zone in (from_ms,
 * from_ms + SCHEDULE_CONFLICT_WINDOW_MS], at most
 * SCHEDULE_CONFLICT_MAX_FIRES, into ret_times (room for that many).
 * Returns 0 and *ret_count (0 for a one-off that has passed), or
 * cron_next_times' error.
 */
int schedule_fire_window(const struct cron_expr *expr, struct cron_zone *zone, int64_t from_ms,
                         int64_t *ret_times, size_t *ret_count, struct iq_error *err);

/*
 * schedule_conflicts_find - the warnings for self against others (each
 * other schedule at most once, with the first resource that conflicts in
 * self's order; a schedule with self's id is skipped; at most
 * SCHEDULE_CONFLICT_MAX_SCHEDULES others examined and
 * SCHEDULE_CONFLICT_MAX_WARNINGS warnings kept, in others' order).
 * Two fire windows [f, f + d) overlap when each starts before the other
 * ends. Returns 0 and *ret_list (schedule_conflicts_clear it, also on
 * failure), or IQ_E_NOMEM.
 */
int schedule_conflicts_find(const struct conflict_schedule *self,
                            const struct conflict_schedule *others, size_t other_count,
                            struct conflict_list *ret_list, struct iq_error *err);

void schedule_conflicts_clear(struct conflict_list *list);

/* schedule_conflicts_to_json - [{schedule_id, schedule_name, resource,
 * first_overlap, message}]. New reference; NULL on OOM. */
json_t *schedule_conflicts_to_json(const struct conflict_list *list);

#endif
