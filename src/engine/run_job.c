/*
 * run_job.c - run one claimed job and record how it ended.
 *
 *   1. prepare   parse the stored spec; resolve source.path inside the
 *                import root (or source.upload in the spool directory);
 *                pick the target connection (the worker's own for the
 *                service database, a fresh one for target.database)
 *   2. import    import_run with the fence (job, worker, attempt) and, on
 *                the service database, the COMPLETED finish inside the
 *                data's transaction (finish_on_commit), so rows land iff
 *                the job completes - exactly once, even if we die after;
 *                the same transaction claims this worker's next job
 *                (claim_next), so going from one job to the next costs
 *                no claim transaction of its own
 *   3. record    rejects (on the service database already committed with
 *                the rows), then the attempt's end:
 *
 *   outcome                                  job ends          retry
 *   success                                  COMPLETED         -
 *   success of a dry run (target.dry_run:    COMPLETED, its    -
 *     nothing written, finished afterwards)    counts predicted
 *   the job is no longer ours (IQ_E_STALE,   nothing recorded  (its new
 *     or a heartbeat said so)                                   owner decides)
 *   cancel requested                         CANCELLED         no
 *   timeout_s passed                         FAILED timeout    if attempts remain
 *   engine_stop after the grace              FAILED shutdown   at once
 *   bad stored spec                          FAILED invalid_spec    no
 *   source escapes the root / bad upload id  FAILED invalid_source  no
 *   unknown target database                  FAILED invalid_target  no
 *   IQ_E_REJECTED (too many bad rows)        FAILED rejected   no: same file, same rows
 *   IQ_E_INVALID (unusable source/mapping,   FAILED invalid_source  no
 *     no such table or column, bad value)
 *   IQ_E_NOT_FOUND (no such source file)     FAILED source_not_found    no
 *   IQ_E_FORBIDDEN (source not readable)     FAILED source_unreadable   no
 *   IQ_E_CONFLICT (a constraint the rows     FAILED constraint_violation no
 *     break: unique, foreign key, not null)
 *   anything else (connection lost,          FAILED import_failed   if attempts remain
 *     serialization failure, deadlock, lock
 *     timeout, I/O, disk full)
 *
 * A permanent failure (every "no" above) would fail the same way again, so
 * it ends the job at once; its error message says so, as a retried one
 * says it will be retried (outcome_message).
 * Retries wait retry_backoff_ms (full jitter, doubling per attempt).
 * Named targets: the fence cannot span two databases, so a job whose
 * rows landed in a named target is finished afterwards by a separate
 * transaction; if the node dies in between, the rescue re-runs it and an
 * insert/append may land twice there (upsert and replace are idempotent).
 * docs/architecture.md states this guarantee.
 */
#include "engine/engine_internal.h"
#include "engine/rejects.h"

#include "core/timeutil.h"
#include "pipeline/import.h"
#include "util/log.h"
#include "util/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Recording an attempt's end is retried while the database is out of
 * reach: the first pause, doubling up to the longest (finish_with_tries). */
#define FINISH_RETRY_FIRST_MS 100
#define FINISH_RETRY_MAX_PAUSE_MS 2000

/* How an attempt ended, as the job will record it. */
struct outcome {
    bool record;                  /* false: the job is someone else's now */
    bool finished_on_commit;      /* COMPLETED already landed with the data */
    enum job_status status;
    const char *code;             /* error.code; NULL for COMPLETED */
    bool retry;                   /* with backoff, when attempts remain */
    bool retry_now;               /* shutdown: back in the queue at once */
};

/* Everything one run carries. */
struct run_context {
    struct worker *worker;
    const struct job *job;
    struct job_spec *spec;
    char *path;                   /* resolved source */
    struct store *target;         /* connection import_run uses */
    bool own_target;              /* target was opened for this job */
    const char *fail_code;        /* prepare failed: the code, ... */
    bool fail_retry;              /* ... and whether it may be retried */
    int rc;
    struct iq_error err;
    struct reject_buffer rejects;
    struct import_result result;
    int64_t started_ms;           /* wall clock, for phase rows */
    int64_t started_mono_ms;
    struct phase_timing phases[IMPORT_PHASE_COUNT];
    size_t phase_count;
    struct job_finish commit_finish; /* finish_on_commit */
    struct claim_request claim_next; /* the worker's next job, claimed at commit */
    struct job *next_job;            /* ... and what it claimed (returned) */
};

/* prepare_fail - remember why the job cannot run; returns rc. */
static int prepare_fail(struct run_context *ctx, int rc, const char *code, bool retry)
{
    ctx->fail_code = code;
    ctx->fail_retry = retry;
    ctx->rc = rc;
    return rc;
}

/* parse_spec - the stored job back into typed specs. */
static int parse_spec(struct run_context *ctx)
{
    json_t *body = job_spec_json_from_job(ctx->job);
    if (!body)
        return prepare_fail(ctx, iq_error_set(&ctx->err, IQ_E_NOMEM, "out of memory"),
                            "import_failed", true);
    int rc = job_spec_parse(body, NULL, &ctx->spec, &ctx->err);
    json_decref(body);
    if (rc == IQ_E_INVALID) {
        const char *field = ctx->err.field_count ? ctx->err.fields[0].field : "spec";
        const char *why = ctx->err.field_count ? ctx->err.fields[0].message : "invalid";
        char *detail = NULL;
        if (asprintf(&detail, "the stored spec is invalid: %s: %s", field, why) >= 0) {
            iq_error_set(&ctx->err, rc, "%s", detail);
            free(detail);
        }
        return prepare_fail(ctx, rc, "invalid_spec", false);
    }
    if (rc < 0)
        return prepare_fail(ctx, rc, "import_failed", true);
    return 0;
}

/* resolve_source - source.path inside the import root, or the upload's file. */
static int resolve_source(struct run_context *ctx)
{
    const struct engine *engine = ctx->worker->engine;
    const struct source_spec *source = &ctx->spec->source;
    const char *root = engine->import_root;
    const char *name = source->path;
    if (!name) {
        if (!source->upload || !uuid_is_valid(source->upload))
            return prepare_fail(ctx,
                                iq_error_set(&ctx->err, IQ_E_INVALID,
                                             "source.upload is not an upload id"),
                                "invalid_source", false);
        root = engine->spool_dir;
        name = source->upload;
    }
    int rc = path_resolve_inside(root, name, &ctx->path, &ctx->err);
    if (rc == IQ_E_INVALID)
        return prepare_fail(ctx, rc, "invalid_source", false);
    if (rc < 0) /* the root is missing or unreadable: may be fixed by retrying */
        return prepare_fail(ctx, rc, "import_failed", true);
    return 0;
}

/* open_target - the connection the rows go through. */
static int open_target(struct run_context *ctx)
{
    struct worker *w = ctx->worker;
    const char *database = ctx->spec->target.database;
    if (!database) {
        ctx->target = w->store;
        return 0;
    }
    const struct config *cfg = w->engine->opts.config;
    const char *url = cfg ? config_target_url(cfg, database) : NULL;
    if (!url)
        return prepare_fail(ctx,
                            iq_error_set(&ctx->err, IQ_E_INVALID,
                                         "target.database \"%s\" is not configured", database),
                            "invalid_target", false);
    struct store_options options = {.role = STORE_ROLE_WORKER,
                                    .target_schemas = cfg->target_schemas,
                                    .clock = w->engine->opts.clock};
    int rc = store_open(url, &options, &ctx->target, &ctx->err);
    if (rc < 0)
        return prepare_fail(ctx, rc, "import_failed", true);
    ctx->own_target = true;
    return 0;
}

/* phases_from_result - the attempt's phase rows (read and stage interleave:
 * stage is the time spent inside the store while reading). */
static void phases_from_result(struct run_context *ctx, const struct import_result *result)
{
    int64_t at = ctx->started_ms;
    ctx->phase_count = 0;
    for (int p = 0; p < IMPORT_PHASE_COUNT; p++) {
        int64_t duration = result->phase_ms[p] > 0 ? result->phase_ms[p] : 0;
        struct phase_timing *t = &ctx->phases[ctx->phase_count++];
        *t = (struct phase_timing){
            .phase = import_phase_name((enum import_phase)p),
            .started_at_ms = at,
            .duration_ms = duration,
        };
        switch ((enum import_phase)p) {
        case IMPORT_PHASE_READ:
            t->rows = result->rows_read;
            t->bytes = (int64_t)result->bytes_read;
            break;
        case IMPORT_PHASE_STAGE:
            t->rows = result->rows_read - result->rows_rejected;
            break;
        case IMPORT_PHASE_VALIDATE:
            t->rows = result->rows_rejected;
            break;
        case IMPORT_PHASE_PROMOTE: /* a dry run counts, and writes no row */
            t->rows = result->dry_run ? 0 : result->rows_inserted + result->rows_updated;
            break;
        case IMPORT_PHASE_COUNT:
            break;
        }
        if (p != IMPORT_PHASE_READ) /* stage runs inside read's time */
            at += duration;
        else
            at += duration + result->phase_ms[IMPORT_PHASE_STAGE];
    }
}

static struct job_result job_result_from(const struct import_result *r, bool landed)
{
    return (struct job_result){
        .rows_read = r->rows_read,
        .rows_inserted = landed ? r->rows_inserted : 0,
        .rows_updated = landed ? r->rows_updated : 0,
        .rows_rejected = r->rows_rejected,
    };
}

/*
 * before_commit_cb - the final counts go into the finish the store commits,
 * and on the service database the rejects go into the same transaction: a
 * client that sees COMPLETED finds them (they used to follow the commit,
 * and GET .../rejects could come back empty in between). A failure to
 * write them fails the COMMIT on PostgreSQL (the attempt is retried).
 */
static void before_commit_cb(const struct import_result *result, void *arg)
{
    struct run_context *ctx = arg;
    if (!ctx->own_target) {
        struct iq_error err = {0};
        if (reject_buffer_flush(&ctx->rejects, ctx->target, ctx->job->id, ctx->job->attempt,
                                &err) < 0)
            log_event(LOG_WARN, "cannot keep the job's rejects", "job", ctx->job->id, "error",
                      iq_error_message(&err), NULL);
        iq_error_clear(&err);
    }
    phases_from_result(ctx, result);
    ctx->commit_finish.result = job_result_from(result, true);
    ctx->commit_finish.phases = ctx->phases;
    ctx->commit_finish.phase_count = ctx->phase_count;
}

/* progress_cb - import progress into the slot, for the next heartbeat. */
static void progress_cb(const struct import_progress *p, void *arg)
{
    struct job_progress progress = {
        .rows_read = p->rows_read,
        .bytes_read = (int64_t)p->bytes_read,
        .bytes_total = (int64_t)p->bytes_total,
    };
    snprintf(progress.phase, sizeof(progress.phase), "%s", p->phase);
    slot_progress(arg, &progress);
}

/* import - the import itself, on ctx->target. */
static void import(struct run_context *ctx)
{
    struct worker *w = ctx->worker;
    /* A dry run commits nothing: no fence, no finish, no claim with its
     * (rolled back) transaction; record() finishes the job afterwards. */
    bool service_db = !ctx->own_target && !ctx->spec->target.dry_run;
    ctx->commit_finish = (struct job_finish){
        .job_id = ctx->job->id,
        .worker = w->id,
        .attempt = ctx->job->attempt,
        .status = JOB_COMPLETED,
        .node_id = w->engine->node_id,
    };
    /* The next job is claimed in the same transaction where the backend
     * gains by it (STORE_CAP_CHAIN_CLAIMS), unless the node is stopping. */
    bool chain = service_db && store_has(w->store, STORE_CAP_CHAIN_CLAIMS) &&
                 !engine_is_stopping(w->engine);
    ctx->claim_next = (struct claim_request){
        .node_id = w->engine->node_id,
        .worker = w->id,
        .max_concurrent = w->engine->opts.max_concurrent,
        .lease_ms = w->engine->opts.lease_ms,
        .aging_ms = w->engine->opts.aging_ms,
    };
    struct import_request req = {
        .source = &ctx->spec->source,
        .target = &ctx->spec->target,
        .on_error = &ctx->spec->on_error,
        .path = ctx->path,
        .store = ctx->target,
        .commit = {.fence_job_id = service_db ? ctx->job->id : NULL,
                   .fence_worker = w->id,
                   .fence_attempt = ctx->job->attempt,
                   .finish_on_commit = service_db ? &ctx->commit_finish : NULL,
                   .finish_actx = &engine_actor,
                   .claim_next = chain ? &ctx->claim_next : NULL,
                   .claimed_next = &ctx->next_job},
        .before_commit_cb = before_commit_cb,
        .before_commit_ctx = ctx,
        .progress_cb = progress_cb,
        .progress_ctx = &w->slot,
        .reject_cb = reject_buffer_add_cb,
        .reject_ctx = &ctx->rejects,
        .cancel = &w->slot.cancel,
    };
    slot_set_import_store(&w->slot, ctx->target);
    ctx->rc = import_run(&req, &ctx->result, &ctx->err);
    slot_set_import_store(&w->slot, NULL);
    /* Final timings for a finish recorded from here (the committed finish,
     * if any, already has its copy in the database). */
    phases_from_result(ctx, &ctx->result);
}

/* classify - the outcome table at the top of this file. */
static struct outcome classify(const struct run_context *ctx, enum cancel_reason reason)
{
    struct outcome o = {.record = true, .status = JOB_FAILED};
    int rc = ctx->rc;
    if (rc == 0) {
        o.status = JOB_COMPLETED;
        o.finished_on_commit = !ctx->own_target && !ctx->spec->target.dry_run;
    } else if (rc == IQ_E_STALE || reason == CANCEL_LOST) {
        o.record = false;
    } else if (reason == CANCEL_REQUESTED) {
        o.status = JOB_CANCELLED;
        o.code = "cancelled";
    } else if (reason == CANCEL_TIMEOUT) {
        o.code = "timeout";
        o.retry = true;
    } else if (reason == CANCEL_SHUTDOWN) {
        o.code = "shutdown";
        o.retry_now = true;
    } else if (ctx->fail_code) {
        o.code = ctx->fail_code;
        o.retry = ctx->fail_retry;
    } else {
        o.code = import_failure_code(rc, &o.retry);
    }
    return o;
}

/* The error message the job records for a cancelled or failed attempt. */
static const char *outcome_message(const struct run_context *ctx, enum cancel_reason reason,
                                   char *buf, size_t size)
{
    switch (reason) {
    case CANCEL_REQUESTED:
        return "cancelled by request; nothing was loaded";
    case CANCEL_TIMEOUT:
        snprintf(buf, size, "timed out after %lld s; nothing was loaded",
                 (long long)(ctx->job->timeout_s > 0 ? ctx->job->timeout_s
                                                      : ctx->worker->engine->opts.job_timeout_ms /
                                                            1000));
        return buf;
    case CANCEL_SHUTDOWN:
        return "the node shut down; nothing was loaded";
    case CANCEL_NONE:
    case CANCEL_LOST:
        break;
    }
    return iq_error_message(&ctx->err);
}

/*
 * finish_with_tries - store_job_finish, retried when the database hiccups
 * (a lost connection, a restart, a late statement cancel): the store
 * reconnects at the next try, and the pause doubles from
 * FINISH_RETRY_FIRST_MS to FINISH_RETRY_MAX_PAUSE_MS. It keeps trying for
 * up to a lease: a job whose end is not recorded stays RUNNING (holding a
 * slot of max_concurrent and its locks) until the rescue takes it, a
 * lease after its last heartbeat, so giving up sooner turned a database
 * restart of a few seconds into a stall of a whole lease (5 min by
 * default); after a lease the rescue owns the job and the fence would
 * refuse us anyway (IQ_E_STALE). It gives up at once when the engine is
 * past its shutdown grace. Returns store_job_finish's last code.
 */
static int finish_with_tries(struct worker *w, const struct job_finish *finish,
                             struct iq_error *err)
{
    int64_t give_up_mono_ms = time_monotonic_ms() + w->engine->opts.lease_ms;
    int64_t pause_ms = FINISH_RETRY_FIRST_MS;
    for (;;) {
        iq_error_clear(err);
        struct job *finished = NULL;
        int rc = store_job_finish(w->store, finish, &engine_actor, &finished, err);
        job_free(finished);
        engine_metrics_database_error(&w->engine->metrics, rc);
        bool transient = rc == IQ_E_DB || rc == IQ_E_CANCELLED || rc == IQ_E_UNAVAILABLE;
        if (!transient || time_monotonic_ms() + pause_ms > give_up_mono_ms ||
            engine_is_cancelling_all(w->engine))
            return rc;
        struct timespec pause = {(time_t)(pause_ms / 1000), (long)(pause_ms % 1000) * 1000000L};
        nanosleep(&pause, NULL);
        pause_ms =
            pause_ms * 2 < FINISH_RETRY_MAX_PAUSE_MS ? pause_ms * 2 : FINISH_RETRY_MAX_PAUSE_MS;
    }
}

static void log_int(char *buf, size_t size, int64_t value)
{
    snprintf(buf, size, "%lld", (long long)value);
}

/* record - rejects, then the attempt's end (unless both landed with the data). */
static void record(struct run_context *ctx, const struct outcome *o, enum cancel_reason reason)
{
    struct worker *w = ctx->worker;
    const struct job *job = ctx->job;
    struct iq_error err = {0};
    if (o->finished_on_commit)
        return;
    if (reject_buffer_flush(&ctx->rejects, w->store, job->id, job->attempt, &err) < 0)
        log_event(LOG_WARN, "cannot keep the job's rejects", "job", job->id, "error",
                  iq_error_message(&err), NULL);
    iq_error_clear(&err);
    char buf[256], message[512];
    struct job_finish finish = {
        .job_id = job->id,
        .worker = w->id,
        .attempt = job->attempt,
        .status = o->status,
        .result = job_result_from(&ctx->result, o->status == JOB_COMPLETED),
        .error_code = o->code,
        .error_message = NULL, /* below, once the retry is known */
        .phases = ctx->phases,
        .phase_count = ctx->phase_count,
        .node_id = w->engine->node_id,
    };
    int64_t now = engine_now_ms(w->engine);
    if (o->retry_now) {
        finish.retry_at_ms = now;
    } else if (o->retry && job->attempt < job->max_attempts) {
        const struct engine *engine = w->engine;
        finish.retry_at_ms =
            now + retry_backoff_ms(engine->opts.retry_base_ms, engine->opts.retry_cap_ms,
                                   job->attempt, engine_random_unit(engine, &w->random));
    }
    if (o->code) {
        finish.error_message = outcome_message(ctx, reason, buf, sizeof(buf));
        if (o->status == JOB_FAILED && !o->retry_now) {
            if (finish.retry_at_ms > 0)
                snprintf(message, sizeof(message), "%s (transient: attempt %d of %d, retried in %lld s)",
                         finish.error_message, job->attempt, job->max_attempts,
                         (long long)((finish.retry_at_ms - now + 999) / 1000));
            else if (o->retry)
                snprintf(message, sizeof(message), "%s (transient, but attempt %d of %d was the last)",
                         finish.error_message, job->attempt, job->max_attempts);
            else
                snprintf(message, sizeof(message), "%s (permanent: not retried)",
                         finish.error_message);
            finish.error_message = message;
        }
    }
    int rc = finish_with_tries(w, &finish, &err);
    if (rc == IQ_E_STALE)
        log_event(LOG_WARN, "job lost before its end was recorded", "job", job->id, "worker",
                  w->id, NULL);
    else if (rc < 0)
        log_event(LOG_ERROR, "cannot record the job's end; the rescue will", "job", job->id,
                  "worker", w->id, "error", iq_error_message(&err), NULL);
    iq_error_clear(&err);
    if (rc == 0 && finish.retry_at_ms > 0) {
        char retry_in[24];
        log_int(retry_in, sizeof(retry_in), finish.retry_at_ms - now);
        log_event(LOG_INFO, "job will retry", "job", job->id, "retry_in_ms", retry_in, NULL);
    }
}

/* log_outcome - one line for the attempt's end. */
static void log_outcome(const struct run_context *ctx, const struct outcome *o,
                        enum cancel_reason reason)
{
    const struct job *job = ctx->job;
    char attempt[16], ms[24], rows[24], inserted[24], updated[24], rejected[24], message[256];
    log_int(attempt, sizeof(attempt), job->attempt);
    log_int(ms, sizeof(ms), time_monotonic_ms() - ctx->started_mono_ms);
    log_int(rows, sizeof(rows), ctx->result.rows_read);
    log_int(inserted, sizeof(inserted), ctx->result.rows_inserted);
    log_int(updated, sizeof(updated), ctx->result.rows_updated);
    log_int(rejected, sizeof(rejected), ctx->result.rows_rejected);
    const char *table = job->target_table ? job->target_table : "";
    if (!o->record) {
        log_event(LOG_WARN, "job lost: another worker owns it now; nothing recorded", "job",
                  job->id, "table", table, "attempt", attempt, "worker", ctx->worker->id,
                  "reason", reason == CANCEL_LOST ? "heartbeat" : "fence", NULL);
    } else if (o->status == JOB_COMPLETED) {
        log_event(LOG_INFO, "job completed", "job", job->id, "table", table, "attempt", attempt,
                  "rows", rows, "inserted", inserted, "updated", updated, "rejected", rejected,
                  "ms", ms, NULL);
    } else {
        log_event(o->status == JOB_CANCELLED ? LOG_INFO : LOG_WARN,
                  o->status == JOB_CANCELLED ? "job cancelled" : "job failed", "job", job->id,
                  "table", table, "attempt", attempt, "code", o->code, "error",
                  outcome_message(ctx, reason, message, sizeof(message)), "rows", rows,
                  "rejected", rejected, "ms", ms, NULL);
    }
}

/* attempt_outcome_of - the outcome as importq_jobs_finished_total counts it. */
static enum attempt_outcome attempt_outcome_of(const struct job *job, const struct outcome *o)
{
    if (!o->record)
        return ATTEMPT_LOST;
    if (o->status == JOB_COMPLETED)
        return ATTEMPT_COMPLETED;
    if (o->status == JOB_CANCELLED)
        return ATTEMPT_CANCELLED;
    return o->retry_now || (o->retry && job->attempt < job->max_attempts) ? ATTEMPT_FAILED_RETRY
                                                                          : ATTEMPT_FAILED_FINAL;
}

/* count_attempt - the attempt's end in the engine's metrics. */
static void count_attempt(const struct run_context *ctx, const struct outcome *o)
{
    const struct import_result *r = &ctx->result;
    bool landed = o->record && o->status == JOB_COMPLETED && !r->dry_run;
    struct attempt_figures figures = {
        .outcome = attempt_outcome_of(ctx->job, o),
        .error_code = o->code,
        .duration_ms = time_monotonic_ms() - ctx->started_mono_ms,
        .rows_read = r->rows_read,
        .rows_imported = landed ? r->rows_inserted + r->rows_updated : 0,
        .rows_rejected = r->rows_rejected,
        .bytes_read = r->bytes_read,
        .phase_ms = landed ? r->phase_ms : NULL, /* a failed attempt's phases are cut short */
    };
    engine_metrics_finished(&ctx->worker->engine->metrics, &figures);
    engine_metrics_database_error(&ctx->worker->engine->metrics, ctx->rc);
}

struct job *run_job(struct worker *w, struct job *job)
{
    struct run_context ctx = {.worker = w, .job = job};
    ctx.started_ms = engine_now_ms(w->engine);
    ctx.started_mono_ms = time_monotonic_ms();
    reject_buffer_init(&ctx.rejects, job->target_table);
    char attempt[16];
    log_int(attempt, sizeof(attempt), job->attempt);
    log_event(LOG_INFO, "job started", "job", job->id, "table",
              job->target_table ? job->target_table : "", "attempt", attempt, "worker", w->id,
              NULL);
    engine_metrics_started(&w->engine->metrics, job);

    int64_t timeout_ms = job->timeout_s > 0 ? job->timeout_s * 1000 : w->engine->opts.job_timeout_ms;
    slot_begin(&w->slot, job->id, job->attempt, timeout_ms);
    if (engine_is_cancelling_all(w->engine))
        slot_cancel(&w->slot, CANCEL_SHUTDOWN);

    if (parse_spec(&ctx) == 0 && resolve_source(&ctx) == 0 && open_target(&ctx) == 0) {
        if (atomic_load(&w->slot.cancel))
            ctx.rc = iq_error_set(&ctx.err, IQ_E_CANCELLED, "cancelled before it started");
        else
            import(&ctx);
    }
    enum cancel_reason reason = slot_end(&w->slot);
    if (ctx.rc == 0)
        reason = CANCEL_NONE; /* it landed: a late cancel changes nothing */
    struct outcome outcome = classify(&ctx, reason);
    if (outcome.record)
        record(&ctx, &outcome, reason);
    log_outcome(&ctx, &outcome, reason);
    count_attempt(&ctx, &outcome);

    if (ctx.own_target)
        store_close(ctx.target);
    reject_buffer_clear(&ctx.rejects);
    free(ctx.path);
    job_spec_free(ctx.spec);
    iq_error_clear(&ctx.err);
    return ctx.next_job;
}
