/*
 * scheduler.h - the scheduler's policy (docs/schedules.md, "Firing"):
 * which fires a due schedule gets, on time or after a misfire, decided
 * here and carried out by the store's fire transaction
 * (store_schedule_fire), which decides the overlap policy itself and
 * makes each fire time fire once. The engine's scheduler thread
 * (scheduler.c) calls scheduler_tick while it leads; tests call it
 * directly with a fake clock.
 *
 * Misfire: a schedule whose next_run_at is more than grace_ms in the past
 * (the scheduler was down, or paused past it) has missed fires. Its
 * misfire policy says what happens, once, at the next tick:
 *   skip      no job; one skipped_misfire fire row at the first missed
 *             time; next_run_at the first fire time after now
 *   run_once  one job for the latest missed time; the times before it are
 *             not recorded; next_run_at the first fire time after now
 *   catch_up  one job per missed time, oldest first, at most the
 *             schedule's catch_up_max; when more were missed, one skipped_misfire row at the
 *             first time not run, and next_run_at the first after now
 */
#ifndef IMPORTQ_ENGINE_SCHEDULER_H
#define IMPORTQ_ENGINE_SCHEDULER_H

#include "store/store.h"

struct engine_metrics;

#include <stdint.h>

/* A fire later than this after its time is a misfire (engine default). */
#define SCHEDULER_GRACE_MS_DEFAULT 60000
/* How far run_once looks for the latest missed time: past this many
 * missed fires it runs the last one it reached (an every-second schedule
 * down for more than a day). */
#define SCHEDULER_MISSED_SCAN_MAX 100000

struct scheduler_policy {
    int64_t grace_ms;                         /* 0: SCHEDULER_GRACE_MS_DEFAULT */
    int max_queue_size;                       /* as a submission's; <= 0: no limit */
    const struct job_spec_defaults *defaults; /* for the templates; NULL: the spec's */
    const struct audit_context *actor;        /* who creates the jobs (audit) */
    const struct engine_metrics *metrics;     /* fires counted here; NULL: not counted */
};

/* What one tick did. */
struct scheduler_tick_report {
    int jobs;        /* jobs created */
    int skipped;     /* fires recorded without a job (overlap, misfire, full queue, invalid) */
    int misfires;    /* schedules found past their grace */
    int failures;    /* schedules whose fire failed (logged by the caller: last_error) */
    int64_t next_ms; /* the earliest next_run_at after now; 0 = none */
    bool more;       /* a full batch was due: tick again at once */
};

/*
 * scheduler_tick - fire every schedule due at now_ms (at most one batch,
 * SCHEDULE_DUE_BATCH; ret->more when there may be more) through
 * store_schedule_fire on s, by the misfire policy above. A schedule whose
 * fire fails is counted in ret->failures and its error kept in err (the
 * first one); the others still fire. Returns 0, or the error of listing
 * the due schedules.
 */
int scheduler_tick(struct store *s, const struct scheduler_policy *policy, int64_t now_ms,
                   struct scheduler_tick_report *ret, struct iq_error *err);

#endif
