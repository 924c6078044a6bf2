/*
 * worker.c - one worker thread: claim the best runnable job (the store
 * decides which, under the global limit and every lock, in one
 * transaction), run it, and claim again; when nothing can start, sleep
 * until a wake-up (engine_wake: a submission, a job finished on this node,
 * the PostgreSQL waker) or the poll timeout, whichever comes first.
 *
 * Not for: running the job itself (run_job.c) or keeping its lease
 * (heartbeat.c).
 */
#include "engine/engine_internal.h"

#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * begin_claim - under engine->lock: false when the engine is stopping;
 * otherwise counts this worker as running (so engine_stop waits for the
 * claim's outcome) and returns the wake sequence seen before the claim,
 * so that a wake-up arriving during the claim is not lost.
 */
static bool begin_claim(struct engine *engine, uint64_t *ret_seq)
{
    pthread_mutex_lock(&engine->lock);
    bool go = !engine->stopping;
    if (go) {
        engine->running++;
        *ret_seq = engine->wake_seq;
    }
    pthread_mutex_unlock(&engine->lock);
    return go;
}

/* end_running - this worker holds no job any more; engine_stop may go on. */
static void end_running(struct engine *engine)
{
    pthread_mutex_lock(&engine->lock);
    engine->running--;
    if (engine->running == 0)
        pthread_cond_broadcast(&engine->idle_cond);
    pthread_mutex_unlock(&engine->lock);
}

/*
 * wait_for_wake - sleep until the wake sequence moves past seen, the
 * engine stops, or timeout_ms passes.
 */
static void wait_for_wake(struct engine *engine, uint64_t seen, int64_t timeout_ms)
{
    struct timespec deadline = engine_deadline(timeout_ms);
    pthread_mutex_lock(&engine->lock);
    while (!engine->stopping && engine->wake_seq == seen) {
        if (pthread_cond_timedwait(&engine->wake_cond, &engine->lock, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&engine->lock);
}

/*
 * claim_one - one claim on the worker's connection. Returns the job (the
 * caller frees it), or NULL when nothing can start or the claim failed
 * (logged once per run of failures: *failing remembers).
 */
static struct job *claim_one(struct worker *w, bool *failing)
{
    struct engine *engine = w->engine;
    struct claim_request req = {
        .node_id = engine->node_id,
        .worker = w->id,
        .max_concurrent = engine->opts.max_concurrent,
        .lease_ms = engine->opts.lease_ms,
        .candidates = engine->opts.claim_candidates,
        .aging_ms = engine->opts.aging_ms,
    };
    struct job *job = NULL;
    struct iq_error err = {0};
    int rc = store_job_claim(w->store, &req, &engine_actor, &job, &err);
    if (rc < 0) {
        if (!*failing)
            log_event(LOG_WARN, "claim failed", "worker", w->id, "error", iq_error_message(&err),
                      NULL);
        *failing = true;
        job = NULL;
    } else if (*failing) {
        log_event(LOG_INFO, "claims work again", "worker", w->id, NULL);
        *failing = false;
    }
    iq_error_clear(&err);
    return job;
}

void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct engine *engine = w->engine;
    bool failing = false;
    uint64_t seen = 0;
    while (begin_claim(engine, &seen)) {
        struct job *job = claim_one(w, &failing);
        if (!job) {
            end_running(engine);
            wait_for_wake(engine, seen, engine->opts.poll_ms);
            continue;
        }
        /* There may be more to start: pass the wake-up on to an idle
         * worker (it finds nothing and sleeps again if there is not). */
        engine_wake(engine);
        run_job(w, job);
        job_free(job);
        end_running(engine);
        /* The job's end freed a slot, its locks and maybe its dependants:
         * another idle worker on this node may now find work. */
        engine_wake(engine);
    }
    return NULL;
}
