/*
 * scheduler.c - scheduled imports in the engine: scheduler_tick (the
 * policy of scheduler.h: on-time fires and misfires) and the node's
 * scheduler thread.
 *
 * The thread (one per node, its own connection) asks the store for the
 * lead (store_scheduler_lead: on PostgreSQL a session advisory lock, so
 * one node of a cluster fires and another takes over within a poll when
 * the leader's connection goes), and while it leads ticks at the earliest
 * next_run_at, at least every schedule_poll_ms: schedules created or
 * changed by any node are seen within a poll. A node that does not lead
 * asks again at every poll. Exactly-once never rests on the lead: the
 * store fires each (schedule, fire time) once, whoever asks.
 *
 * Times: the due times and the misfire decision follow the engine's clock
 * (opts.clock; tests advance a fake one); how long the thread sleeps is
 * real time, capped at schedule_poll_ms. No store call is made under
 * engine->lock.
 */
#include "engine/engine_internal.h"
#include "engine/engine_metrics.h"
#include "engine/scheduler.h"

#include "core/cron.h"
#include "core/timeutil.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * The policy
 * ------------------------------------------------------------------------ */

/* Missed fire times of one schedule, oldest first (at most cap + 1 kept). */
struct missed {
    int64_t *times;
    size_t count;
    bool more;         /* more were missed than kept */
    int64_t latest_ms; /* the latest missed time seen (run_once) */
};

/*
 * find_missed - the fire times of due from its next_run_at up to now_ms:
 * the first keep of them into ret (keep may be 0), and the latest one
 * reached within SCHEDULER_MISSED_SCAN_MAX steps when want_latest.
 */
static int find_missed(const struct schedule_due *due, int64_t now_ms, size_t keep,
                       bool want_latest, struct missed *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    struct cron_expr expr;
    struct cron_zone *zone = NULL;
    int rc = cron_parse(due->cron, &expr, err);
    if (rc == 0)
        rc = cron_zone_open(due->timezone, &zone, err);
    if (rc == 0 && keep > 0) {
        ret->times = calloc(keep, sizeof(*ret->times));
        if (!ret->times)
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    int64_t at = due->next_run_at_ms;
    for (size_t step = 0; rc == 0 && at <= now_ms && step < SCHEDULER_MISSED_SCAN_MAX; step++) {
        if (ret->count < keep)
            ret->times[ret->count++] = at;
        else
            ret->more = true;
        ret->latest_ms = at;
        if (ret->more && !want_latest)
            break;
        int64_t next = 0;
        rc = cron_next_after(&expr, at, zone, &next, err);
        if (rc == IQ_E_NOT_FOUND) {
            iq_error_clear(err);
            rc = 0;
            break; /* a one-off: nothing after it */
        }
        at = next;
    }
    cron_zone_free(zone);
    return rc;
}

/* count_fire - one fire's result into the report. */
static void count_fire(const struct schedule_fire_result *r, struct scheduler_tick_report *ret)
{
    if (!r->fired)
        return;
    if (r->job)
        ret->jobs++;
    else
        ret->skipped++;
}

/* fire_one - one store fire of due (kind at fire_at, fenced on expected). */
static int fire_one(struct store *s, const struct scheduler_policy *policy,
                    const struct schedule_due *due, enum schedule_fire_kind kind, int64_t fire_at,
                    int64_t expected, int64_t resume_after, const char *detail,
                    struct scheduler_tick_report *ret, bool *ret_fired, struct iq_error *err)
{
    struct schedule_fire_request req = {.schedule_id = due->id,
                                        .kind = kind,
                                        .fire_at_ms = fire_at,
                                        .expected_next_ms = expected,
                                        .resume_after_ms = resume_after,
                                        .detail = detail,
                                        .max_queue_size = policy->max_queue_size,
                                        .defaults = policy->defaults};
    struct schedule_fire_result r;
    int rc = store_schedule_fire(s, &req, policy->actor, &r, err);
    if (rc == 0)
        count_fire(&r, ret);
    if (rc == 0 && r.fired)
        engine_metrics_schedule_fire(policy->metrics, r.outcome);
    else if (rc < 0)
        engine_metrics_schedule_fire_error(policy->metrics);
    if (ret_fired)
        *ret_fired = rc == 0 && r.fired;
    schedule_fire_result_clear(&r);
    return rc;
}

/* misfire_detail - "missed from <first> until <now>: <what>" into buf. */
static const char *misfire_detail(char *buf, size_t size, int64_t first_ms, int64_t now_ms,
                                  const char *what)
{
    char first[TIME_RFC3339_LEN], now[TIME_RFC3339_LEN];
    snprintf(buf, size, "missed fire times from %s until %s: %s",
             time_format_rfc3339(first_ms, first), time_format_rfc3339(now_ms, now), what);
    return buf;
}

/* catch_up - one job per missed time, oldest first, up to the cap. */
static int catch_up(struct store *s, const struct scheduler_policy *policy,
                    const struct schedule_due *due, int64_t now_ms,
                    struct scheduler_tick_report *ret, struct iq_error *err)
{
    size_t cap = due->catch_up_max > 0 ? (size_t)due->catch_up_max : 0;
    struct missed missed;
    int rc = find_missed(due, now_ms, cap + 1, false, &missed, err);
    size_t run = missed.count < cap ? missed.count : cap;
    bool fired = true;
    for (size_t i = 0; rc == 0 && fired && i < run; i++)
        rc = fire_one(s, policy, due, SCHEDULE_FIRE_DUE, missed.times[i], missed.times[i], 0, NULL,
                      ret, &fired, err);
    if (rc == 0 && fired && missed.count > cap) {
        char detail[256];
        char what[96];
        snprintf(what, sizeof(what), "catch_up ran the oldest %zu (catch_up_max), skipped the rest",
                 cap);
        int64_t first_skipped = missed.times[cap];
        rc = fire_one(s, policy, due, SCHEDULE_FIRE_MISSED, first_skipped, first_skipped, now_ms,
                      misfire_detail(detail, sizeof(detail), first_skipped, now_ms, what), ret,
                      NULL, err);
    }
    free(missed.times);
    return rc;
}

/* fire_due - what due gets at now_ms (see scheduler.h). */
static int fire_due(struct store *s, const struct scheduler_policy *policy,
                    const struct schedule_due *due, int64_t now_ms, int64_t grace_ms,
                    struct scheduler_tick_report *ret, struct iq_error *err)
{
    int64_t at = due->next_run_at_ms;
    if (now_ms - at <= grace_ms)
        return fire_one(s, policy, due, SCHEDULE_FIRE_DUE, at, at, 0, NULL, ret, NULL, err);
    ret->misfires++;
    if (strcmp(due->misfire, "catch_up") == 0)
        return catch_up(s, policy, due, now_ms, ret, err);
    char detail[256];
    if (strcmp(due->misfire, "skip") == 0)
        return fire_one(
            s, policy, due, SCHEDULE_FIRE_MISSED, at, at, now_ms,
            misfire_detail(detail, sizeof(detail), at, now_ms, "skipped (misfire skip)"), ret, NULL,
            err);
    struct missed missed; /* run_once, also for a misfire policy this binary does not know */
    int rc = find_missed(due, now_ms, 0, true, &missed, err);
    if (rc == 0)
        rc = fire_one(s, policy, due, SCHEDULE_FIRE_DUE, missed.latest_ms ? missed.latest_ms : at,
                      at, now_ms, NULL, ret, NULL, err);
    free(missed.times);
    return rc;
}

int scheduler_tick(struct store *s, const struct scheduler_policy *policy, int64_t now_ms,
                   struct scheduler_tick_report *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    struct schedule_due_list due;
    int rc = store_schedules_due(s, now_ms, SCHEDULE_DUE_BATCH, &due, err);
    if (rc < 0)
        return rc;
    int64_t grace = policy->grace_ms > 0 ? policy->grace_ms : SCHEDULER_GRACE_MS_DEFAULT;
    for (size_t i = 0; i < due.count; i++) {
        struct iq_error one = {0};
        if (fire_due(s, policy, &due.items[i], now_ms, grace, ret, &one) < 0) {
            if (ret->failures++ == 0)
                iq_error_set(err, one.code, "schedule %s: %s", due.items[i].id,
                             iq_error_message(&one));
        }
        iq_error_clear(&one);
    }
    ret->next_ms = due.next_ms;
    ret->more = due.count == SCHEDULE_DUE_BATCH;
    schedule_due_list_clear(&due);
    return 0;
}

/* ------------------------------------------------------------------------
 * The thread
 * ------------------------------------------------------------------------ */

/* scheduler_sleep - wait up to ms on stop_cond; true when the engine quits. */
static bool scheduler_sleep(struct engine *engine, int64_t ms)
{
    struct timespec deadline = engine_deadline(ms);
    pthread_mutex_lock(&engine->lock);
    while (!engine->quit && !engine->stopping) {
        if (pthread_cond_timedwait(&engine->stop_cond, &engine->lock, &deadline) == ETIMEDOUT)
            break;
    }
    bool quit = engine->quit || engine->stopping;
    pthread_mutex_unlock(&engine->lock);
    return quit;
}

/* note_lead - log a change of the lead. */
static void note_lead(struct engine *engine, bool lead)
{
    if (atomic_exchange(&engine->scheduler_leads, lead) != lead)
        log_event(LOG_INFO,
                  lead ? "this node leads the scheduler"
                       : "this node no longer leads the scheduler",
                  "node", engine->node_id, NULL);
}

/* note_tick - log a tick's news (fires, misfires, failures once per streak). */
static void note_tick(struct engine *engine, int rc, const struct scheduler_tick_report *report,
                      const struct iq_error *err, bool *failing)
{
    bool failed = rc < 0 || report->failures > 0;
    if (failed && !*failing)
        log_event(LOG_WARN, "firing schedules failed", "node", engine->node_id, "error",
                  iq_error_message(err), NULL);
    else if (!failed && *failing)
        log_event(LOG_INFO, "firing schedules works again", "node", engine->node_id, NULL);
    *failing = failed;
    if (report->misfires > 0) {
        char count[16];
        snprintf(count, sizeof(count), "%d", report->misfires);
        log_event(LOG_WARN, "schedules missed fire times", "node", engine->node_id, "schedules",
                  count, NULL);
    }
}

/* next_wait_ms - how long to sleep after a tick: until the next fire
 * time, at most the poll period; none when a full batch was due or
 * anything fired (a schedule behind by several fire times within its
 * grace, as after a change of leader, fires them one tick each). */
static int64_t next_wait_ms(struct engine *engine, const struct scheduler_tick_report *report,
                            bool lead)
{
    int64_t wait = engine->opts.schedule_poll_ms;
    if (!lead)
        return wait;
    if (report->more || report->jobs + report->skipped > 0)
        return 0;
    if (report->next_ms > 0) {
        int64_t until = report->next_ms - engine_now_ms(engine);
        if (until < wait)
            wait = until > 0 ? until : 0;
    }
    return wait;
}

void *scheduler_main(void *arg)
{
    struct engine *engine = arg;
    struct job_spec_defaults defaults = {
        .max_attempts = engine->opts.job_max_attempts > 0 ? engine->opts.job_max_attempts : 3,
        .timeout_s =
            engine->opts.job_timeout_ms / 1000 > 0 ? engine->opts.job_timeout_ms / 1000 : 1800};
    struct scheduler_policy policy = {.grace_ms = engine->opts.schedule_grace_ms,
                                      .max_queue_size = engine->opts.max_queue_size,
                                      .defaults = &defaults,
                                      .actor = &scheduler_actor,
                                      .metrics = &engine->metrics};
    bool failing = false;
    for (;;) {
        struct iq_error err = {0};
        struct scheduler_tick_report report = {0};
        bool lead = false;
        int rc = store_scheduler_lead(engine->scheduler_store, &lead, &err);
        if (rc == 0)
            note_lead(engine, lead);
        if (rc == 0 && lead)
            rc = scheduler_tick(engine->scheduler_store, &policy, engine_now_ms(engine), &report,
                                &err);
        note_tick(engine, rc, &report, &err, &failing);
        iq_error_clear(&err);
        if (report.jobs > 0)
            engine_wake(engine);
        if (scheduler_sleep(engine, rc < 0 ? engine->opts.schedule_poll_ms
                                           : next_wait_ms(engine, &report, lead)))
            break;
    }
    atomic_store(&engine->scheduler_leads, false);
    return NULL;
}

bool engine_scheduler_leads(const struct engine *engine)
{
    return engine && atomic_load(&((struct engine *)engine)->scheduler_leads);
}
