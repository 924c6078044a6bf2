/*
 * heartbeat.c - the job slot a worker shares with its heartbeat thread,
 * and that thread.
 *
 * One heartbeat thread per worker, each with its own connection (rather
 * than one per node): a heartbeat that hangs - a SQLite writer holding the
 * database, a slow network - then delays only its own job's cancel and
 * timeout checks, never another worker's, and a worker and its heartbeat
 * form one unit that needs no lookup by job id. The thread looks once a
 * beat while its worker is idle, and a job's start or end does not wake
 * it (only a timeout due before its next look does): two wake-ups per job
 * cost about 5% of a one-row job's CPU (PostgreSQL, 8 workers).
 *
 * While a job runs the thread, every engine->heartbeat_ms (min(lease/3,
 * cancel_check_ms)):
 *   - renews the job's heartbeat and its locks' leases (store_job_heartbeat),
 *     with the latest progress at most once a second;
 *   - cancels the import when the store reports cancel_requested (CANCELLED),
 *     when the job's timeout has passed (FAILED "timeout"; checked against
 *     the local monotonic clock, also when the database is unreachable), or
 *     when the store says the job is no longer ours (IQ_E_STALE: it was
 *     rescued; we stop and record nothing).
 * Cancelling sets the flag import_run polls between batches and interrupts
 * the import's connection, so a long statement stops too.
 *
 * Locking: slot->lock guards the slot; see the lock order in
 * engine_internal.h. No store call but store_interrupt under slot->lock.
 */
#include "engine/engine_internal.h"

#include "core/timeutil.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Progress goes to the database at most this often. */
#define PROGRESS_EVERY_MS 1000

int slot_init(struct job_slot *slot)
{
    memset(slot, 0, sizeof(*slot));
    atomic_init(&slot->cancel, false);
    if (pthread_mutex_init(&slot->lock, NULL) != 0)
        return IQ_E_NOMEM;
    if (engine_cond_init(&slot->cond) < 0) {
        pthread_mutex_destroy(&slot->lock);
        return IQ_E_NOMEM;
    }
    slot->ready = true;
    return 0;
}

void slot_destroy(struct job_slot *slot)
{
    if (!slot->ready)
        return;
    pthread_cond_destroy(&slot->cond);
    pthread_mutex_destroy(&slot->lock);
    slot->ready = false;
}

void slot_begin(struct job_slot *slot, const char *job_id, int attempt, int64_t timeout_ms)
{
    int64_t now = time_monotonic_ms();
    pthread_mutex_lock(&slot->lock);
    slot->active = true;
    slot->generation++;
    snprintf(slot->job_id, sizeof(slot->job_id), "%s", job_id);
    slot->attempt = attempt;
    slot->started_mono_ms = now;
    slot->deadline_mono_ms = timeout_ms > 0 ? now + timeout_ms : 0;
    slot->last_beat_mono_ms = now;
    slot->last_progress_mono_ms = now;
    memset(&slot->progress, 0, sizeof(slot->progress));
    slot->progress_changed = false;
    slot->import_store = NULL;
    slot->reason = CANCEL_NONE;
    atomic_store(&slot->cancel, false);
    /* The heartbeat thread looks at least every beat by itself; woken
     * only when this job needs it sooner (a deadline before that). */
    if (slot->deadline_mono_ms > 0 && slot->deadline_mono_ms < slot->wake_mono_ms)
        pthread_cond_signal(&slot->cond);
    pthread_mutex_unlock(&slot->lock);
}

void slot_set_import_store(struct job_slot *slot, struct store *store)
{
    pthread_mutex_lock(&slot->lock);
    slot->import_store = store;
    /* A cancel that came before the import began still stops it: the flag
     * is set, and import_run checks it before the first batch lands. */
    pthread_mutex_unlock(&slot->lock);
}

void slot_progress(struct job_slot *slot, const struct job_progress *progress)
{
    pthread_mutex_lock(&slot->lock);
    slot->progress = *progress;
    slot->progress_changed = true;
    pthread_mutex_unlock(&slot->lock);
}

/* cancel_locked - slot_cancel with slot->lock held. */
static void cancel_locked(struct job_slot *slot, enum cancel_reason reason)
{
    if (!slot->active)
        return;
    if (slot->reason == CANCEL_NONE)
        slot->reason = reason;
    atomic_store(&slot->cancel, true);
    if (slot->import_store)
        store_interrupt(slot->import_store);
}

void slot_cancel(struct job_slot *slot, enum cancel_reason reason)
{
    pthread_mutex_lock(&slot->lock);
    cancel_locked(slot, reason);
    pthread_mutex_unlock(&slot->lock);
}

enum cancel_reason slot_end(struct job_slot *slot)
{
    pthread_mutex_lock(&slot->lock);
    enum cancel_reason reason = slot->reason;
    slot->active = false;
    slot->import_store = NULL;
    slot->generation++;
    /* No wake-up: the heartbeat thread finds the slot idle when it next
     * looks, and a beat it was sending for this job is dropped (generation). */
    pthread_mutex_unlock(&slot->lock);
    return reason;
}

void slot_quit(struct job_slot *slot)
{
    pthread_mutex_lock(&slot->lock);
    slot->quit = true;
    pthread_cond_signal(&slot->cond);
    pthread_mutex_unlock(&slot->lock);
}

/* What one beat sends, copied out of the slot so the store call runs unlocked. */
struct beat {
    uint64_t generation;
    char job_id[UUID_STR_LEN];
    int attempt;
    struct job_progress progress;
    bool with_progress;
};

/*
 * next_wake_locked - when the heartbeat must look again: the next beat or
 * the job's deadline, whichever is first (monotonic ms).
 */
static int64_t next_wake_locked(const struct job_slot *slot, int64_t beat_ms)
{
    int64_t wake = slot->last_beat_mono_ms + beat_ms;
    if (slot->deadline_mono_ms > 0 && slot->deadline_mono_ms < wake)
        wake = slot->deadline_mono_ms;
    return wake;
}

/* prepare_beat_locked - copy what the beat sends; progress once a second. */
static void prepare_beat_locked(struct job_slot *slot, int64_t now, struct beat *beat)
{
    beat->generation = slot->generation;
    memcpy(beat->job_id, slot->job_id, UUID_STR_LEN);
    beat->attempt = slot->attempt;
    beat->with_progress =
        slot->progress_changed && now - slot->last_progress_mono_ms >= PROGRESS_EVERY_MS;
    if (beat->with_progress) {
        beat->progress = slot->progress;
        slot->progress_changed = false;
        slot->last_progress_mono_ms = now;
    }
    slot->last_beat_mono_ms = now;
}

/*
 * send_beat - one store_job_heartbeat (slot unlocked), then act on the
 * answer if the slot still runs the same job. *failing keeps the log to
 * one line per run of failures.
 */
static void send_beat(struct worker *w, const struct beat *beat, bool *failing)
{
    struct job_slot *slot = &w->slot;
    bool cancel_requested = false;
    struct iq_error err = {0};
    int rc = store_job_heartbeat(w->heartbeat_store, beat->job_id, w->id, beat->attempt,
                                 w->engine->opts.lease_ms,
                                 beat->with_progress ? &beat->progress : NULL, &cancel_requested,
                                 &err);
    engine_metrics_database_error(&w->engine->metrics, rc);
    pthread_mutex_lock(&slot->lock);
    bool same_job = slot->active && slot->generation == beat->generation;
    if (same_job && rc == IQ_E_STALE)
        cancel_locked(slot, CANCEL_LOST);
    else if (same_job && rc == 0 && cancel_requested)
        cancel_locked(slot, CANCEL_REQUESTED);
    pthread_mutex_unlock(&slot->lock);
    if (rc < 0 && rc != IQ_E_STALE && !*failing)
        log_event(LOG_WARN, "heartbeat failed", "job", beat->job_id, "worker", w->id, "error",
                  iq_error_message(&err), NULL);
    *failing = rc < 0 && rc != IQ_E_STALE;
    iq_error_clear(&err);
}

void *heartbeat_main(void *arg)
{
    struct worker *w = arg;
    struct job_slot *slot = &w->slot;
    int64_t beat_ms = w->engine->heartbeat_ms;
    bool failing = false;
    pthread_mutex_lock(&slot->lock);
    while (!slot->quit) {
        int64_t now = time_monotonic_ms();
        int64_t wake = slot->active ? next_wake_locked(slot, beat_ms) : now + beat_ms;
        if (now < wake) {
            struct timespec deadline = engine_deadline(wake - now);
            slot->wake_mono_ms = wake;
            pthread_cond_timedwait(&slot->cond, &slot->lock, &deadline);
            continue; /* re-read everything: the job may have ended */
        }
        if (slot->deadline_mono_ms > 0 && now >= slot->deadline_mono_ms) {
            cancel_locked(slot, CANCEL_TIMEOUT);
            slot->deadline_mono_ms = 0; /* once; the beats go on until the job ends */
        }
        if (now < slot->last_beat_mono_ms + beat_ms)
            continue;
        struct beat beat;
        prepare_beat_locked(slot, now, &beat);
        pthread_mutex_unlock(&slot->lock);
        send_beat(w, &beat, &failing);
        pthread_mutex_lock(&slot->lock);
    }
    pthread_mutex_unlock(&slot->lock);
    return NULL;
}
