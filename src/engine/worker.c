/*
 * worker.c - the worker threads: claim runnable jobs (the store decides
 * which, under the global limit and every lock, in one transaction), run
 * them, and claim again; when nothing can start, sleep until a wake-up
 * (engine_wake: a submission, a job finished, the waker) or
 * the poll timeout, whichever comes first.
 *
 * Claim rounds: one worker of a node claims at a time, for itself and
 * every worker of the node idle at that moment (a batch: one transaction
 * starts a job for each, store_job_claim_batch), and hands each its job.
 * A worker that finishes while a round is on waits for it to end and then
 * claims, with every worker that became idle meanwhile, in the next
 * round. So when jobs are short and workers free up faster than single
 * claims could follow (the claim is serialised cluster-wide), claims
 * batch by themselves; when they are long, a round is one claim, as
 * before. A worker in a round ("reserved") waits for its outcome, a job
 * or nothing, and neither claims nor exits meanwhile; the engine's
 * running count includes it from the round's start, so engine_stop waits
 * for the jobs the round may hand out.
 *
 * Where the backend gains by it (STORE_CAP_CHAIN_CLAIMS: SQLite), a job
 * that lands its rows also claims the worker's next job in the same
 * transaction (run_job.c), so a busy worker goes from job to job without
 * a claim round; rounds serve workers that found nothing then, idle ones,
 * and the start.
 *
 * Wake-ups are never lost: engine_wake bumps engine->wake_seq; a worker
 * remembers the sequence it last claimed at (seen) and claims again when
 * it moved. A worker included in a round takes the round's sequence.
 *
 * Not for: running the job itself (run_job.c) or keeping its lease
 * (heartbeat.c).
 */
#include "engine/engine_internal.h"

#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* A claim round: the workers it is for, in order, and what each got. */
struct round {
    struct worker *workers[ENGINE_WORKERS_MAX];
    const char *ids[ENGINE_WORKERS_MAX];
    struct job *jobs[ENGINE_WORKERS_MAX];
    int count;
    uint64_t seq; /* wake_seq at the round's start */
};

/*
 * round_gather - under engine->lock: start a round for w and every idle
 * worker not yet in one. Each counts as running from now on.
 */
static void round_gather(struct engine *engine, struct worker *w, struct round *round)
{
    engine->claiming = true;
    round->seq = engine->wake_seq;
    round->count = 0;
    round->workers[round->count++] = w;
    for (int i = 0; i < engine->worker_count; i++) {
        struct worker *other = &engine->workers[i];
        if (other != w && other->idle && !other->reserved && !other->assigned)
            round->workers[round->count++] = other;
    }
    for (int i = 0; i < round->count; i++) {
        round->workers[i]->reserved = true;
        round->ids[i] = round->workers[i]->id;
        round->jobs[i] = NULL;
    }
    engine->running += round->count;
}

/*
 * round_claim - the round's one claim transaction, on w's connection.
 * Failures are logged once per run of them (*failing remembers); the
 * round then starts nothing.
 */
static void round_claim(struct worker *w, struct round *round, bool *failing)
{
    struct engine *engine = w->engine;
    struct claim_request req = {
        .node_id = engine->node_id,
        .worker = w->id,
        .max_concurrent = engine->opts.max_concurrent,
        .lease_ms = engine->opts.lease_ms,
        .aging_ms = engine->opts.aging_ms,
    };
    int claimed = 0;
    struct iq_error err = {0};
    int rc = store_job_claim_batch(w->store, &req, round->ids, round->count, &engine_actor,
                                   round->jobs, &claimed, &err);
    engine_metrics_database_error(&engine->metrics, rc);
    if (rc < 0) {
        if (!*failing)
            log_event(LOG_WARN, "claim failed", "worker", w->id, "error", iq_error_message(&err),
                      NULL);
        *failing = true;
        for (int i = 0; i < round->count; i++)
            round->jobs[i] = NULL;
    } else if (*failing) {
        log_event(LOG_INFO, "claims work again", "worker", w->id, NULL);
        *failing = false;
    }
    iq_error_clear(&err);
}

/*
 * round_end - under engine->lock: hand out the round's jobs (w keeps its
 * own: returned), release the others and wake the idle, who may now
 * claim (a wake-up came during the round, or a job ended meanwhile).
 */
static struct job *round_end(struct engine *engine, struct worker *w, struct round *round)
{
    struct job *mine = NULL;
    for (int i = 0; i < round->count; i++) {
        struct worker *other = round->workers[i];
        other->reserved = false;
        other->seen = round->seq;
        if (!round->jobs[i])
            engine->running--;
        else if (other == w)
            mine = round->jobs[i];
        else
            other->assigned = round->jobs[i];
    }
    engine->claiming = false;
    if (engine->running == 0)
        pthread_cond_broadcast(&engine->idle_cond);
    pthread_cond_broadcast(&engine->wake_cond);
    return mine;
}

/*
 * run_and_end - run a job this worker was given, and the next ones each
 * end claimed for it (run_job); then it is running no more. A job
 * claimed that way means there was work: the idle workers are woken to
 * look for more.
 */
static void run_and_end(struct worker *w, struct job *job)
{
    struct engine *engine = w->engine;
    while (job) {
        struct job *next = run_job(w, job);
        job_free(job);
        job = next;
        if (next)
            engine_wake(engine);
    }
    pthread_mutex_lock(&engine->lock);
    engine->running--;
    if (engine->running == 0)
        pthread_cond_broadcast(&engine->idle_cond);
    pthread_mutex_unlock(&engine->lock);
}

void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct engine *engine = w->engine;
    bool failing = false;
    bool claim_now = true; /* at start, after a job, after a poll timeout */
    pthread_mutex_lock(&engine->lock);
    for (;;) {
        if (w->assigned) { /* counted as running by the round that gave it */
            struct job *job = w->assigned;
            w->assigned = NULL;
            pthread_mutex_unlock(&engine->lock);
            run_and_end(w, job);
            claim_now = true;
            pthread_mutex_lock(&engine->lock);
            continue;
        }
        if (w->reserved) { /* another worker's round is for us too */
            pthread_cond_wait(&engine->wake_cond, &engine->lock);
            continue;
        }
        if (engine->stopping)
            break;
        if (!engine->claiming && (claim_now || engine->wake_seq != w->seen)) {
            struct round round;
            round_gather(engine, w, &round);
            pthread_mutex_unlock(&engine->lock);
            round_claim(w, &round, &failing);
            pthread_mutex_lock(&engine->lock);
            struct job *job = round_end(engine, w, &round);
            claim_now = false;
            if (job) {
                pthread_mutex_unlock(&engine->lock);
                run_and_end(w, job);
                claim_now = true;
                pthread_mutex_lock(&engine->lock);
            }
            continue;
        }
        /* Nothing to do (or a round is on without us): sleep. */
        struct timespec deadline = engine_deadline(engine->opts.poll_ms);
        w->idle = true;
        int rc = pthread_cond_timedwait(&engine->wake_cond, &engine->lock, &deadline);
        w->idle = false;
        if (rc == ETIMEDOUT && !w->reserved) /* a round that took us in was our poll */
            claim_now = true;
    }
    pthread_mutex_unlock(&engine->lock);
    return NULL;
}
