/*
 * sqlite/claim.c - taking a job on SQLite and keeping it: the claim
 * (the global limit, runnable jobs in priority order, every resource lock
 * of the first one whose locks are free, RUNNING) and the heartbeat that
 * renews the claim. Not here: how an attempt ends (sqlite/finish.c),
 * listing and releasing locks (sqlite/locks.c), when to claim or how
 * many candidates to look at (the engine's policy, in struct claim_request).
 *
 * Serialisation: a claim is one BEGIN IMMEDIATE transaction, and SQLite
 * admits one writer at a time across every connection and process on the
 * database file. "Count RUNNING, check conflicts, insert the locks, mark
 * RUNNING" is therefore one serial step, which makes max_concurrent and
 * lock conflicts exact without any further locking.
 */
#include "store/sqlite/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A runnable job and the locks it needs (names unique, exclusive wins). */
struct candidate {
    char id[UUID_STR_LEN];
    struct job_resource *locks; /* owned */
    size_t lock_count;
};

static void candidate_clear(struct candidate *cand)
{
    for (size_t i = 0; i < cand->lock_count; i++)
        free(cand->locks[i].name);
    free(cand->locks);
    memset(cand, 0, sizeof(*cand));
}

/* ------------------------------------------------------------------------
 * Candidates
 * ------------------------------------------------------------------------ */

/*
 * add_lock - add (name, mode) to cand; a name already there keeps the
 * stronger mode, so a job never inserts two rows for one name (UNIQUE
 * (name, job_id)). cand->locks has room for every entry.
 */
static int add_lock(struct candidate *cand, const char *name, enum lock_mode mode,
                    struct iq_error *err)
{
    for (size_t i = 0; i < cand->lock_count; i++) {
        if (strcmp(cand->locks[i].name, name) == 0) {
            if (mode == LOCK_EXCLUSIVE)
                cand->locks[i].mode = LOCK_EXCLUSIVE;
            return 0;
        }
    }
    cand->locks[cand->lock_count].name = strdup(name);
    if (!cand->locks[cand->lock_count].name)
        return nomem(err);
    cand->locks[cand->lock_count++].mode = mode;
    return 0;
}

/* parse_locks - cand's locks from the job's resources JSON ([{"name","mode"}]). */
static int parse_locks(struct candidate *cand, const char *resources_text, struct iq_error *err)
{
    json_t *array = resources_text ? json_loads(resources_text, 0, NULL) : NULL;
    int rc = json_is_array(array)
                 ? 0
                 : iq_error_set(err, IQ_E_DB, "job %s has unreadable resources", cand->id);
    size_t n = rc == 0 ? json_array_size(array) : 0;
    if (n > 0 && !(cand->locks = calloc(n, sizeof(*cand->locks))))
        rc = nomem(err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const json_t *item = json_array_get(array, i);
        const char *name = json_string_value(json_object_get(item, "name"));
        enum lock_mode mode;
        if (!name || lock_mode_parse(json_string_value(json_object_get(item, "mode")), &mode) < 0)
            rc = iq_error_set(err, IQ_E_DB, "job %s has a malformed resource", cand->id);
        else
            rc = add_lock(cand, name, mode, err);
    }
    json_decref(array);
    return rc;
}

/* candidate_read - *ret_cand from the current row (id, resources) of a candidates query. */
static int candidate_read(sqlite3_stmt *stmt, struct candidate *ret_cand, struct iq_error *err)
{
    memset(ret_cand, 0, sizeof(*ret_cand));
    const char *id = (const char *)sqlite3_column_text(stmt, 0);
    if (!id || strlen(id) != UUID_STR_LEN - 1)
        return iq_error_set(err, IQ_E_DB, "stored job id \"%s\" is malformed", id ? id : "");
    memcpy(ret_cand->id, id, UUID_STR_LEN);
    bool ok;
    const char *resources = sqlite_column_text_or_error(stmt, 1, &ok);
    return ok ? parse_locks(ret_cand, resources, err) : nomem(err);
}

/* ------------------------------------------------------------------------
 * Locks and the RUNNING mark
 * ------------------------------------------------------------------------ */

/*
 * lock_is_free - whether no live lock of another job conflicts with
 * (name, mode): a conflict is the same name held where either side is
 * exclusive. Expired leases (expires_at <= now) never conflict.
 */
static int lock_is_free(struct sqlite_store *s, const char *job_id, const struct job_resource *lock,
                        int64_t now_ms, bool *ret_free, struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_LOCK_CONFLICT, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, lock->name);
    bind_time(&b, now_ms);
    bind_text(&b, job_id);
    bind_text(&b, lock_mode_name(lock->mode));
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_next(s, stmt, "check lock conflict", err);
    if (rc == 1)
        stmt_release(stmt);
    *ret_free = rc == 0;
    return rc < 0 ? rc : 0;
}

/* locks_are_free - lock_is_free for every lock of cand. */
static int locks_are_free(struct sqlite_store *s, const struct candidate *cand, int64_t now_ms,
                          bool *ret_free, struct iq_error *err)
{
    *ret_free = true;
    int rc = 0;
    for (size_t i = 0; rc == 0 && *ret_free && i < cand->lock_count; i++)
        rc = lock_is_free(s, cand->id, &cand->locks[i], now_ms, ret_free, err);
    return rc;
}

/* insert_lock - job_id's stg_import_resources row for lock (replacing one the job left
 * under that name) for this attempt. */
static int insert_lock(struct sqlite_store *s, const struct claim_request *req, const char *job_id,
                       int attempt, const struct job_resource *lock, int64_t now_ms,
                       struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_LOCK_INSERT, err);
    if (!stmt)
        return IQ_E_DB;
    char id[UUID_STR_LEN];
    uuid7_generate_at(now_ms, id);
    struct binder b = binder_start(stmt);
    bind_text(&b, id);
    bind_text(&b, lock->name);
    bind_text(&b, lock_mode_name(lock->mode));
    bind_text(&b, job_id);
    bind_int64(&b, attempt);
    bind_text(&b, req->node_id);
    bind_text(&b, req->worker);
    bind_time(&b, now_ms);
    bind_time(&b, now_ms + req->lease_ms);
    int rc = sqlite_binder_check(s, &b, err);
    return rc < 0 ? rc : sqlite_stmt_run(s, stmt, "insert lock", err);
}

/* mark_running - QUEUED job -> RUNNING under req->worker, attempt + 1. */
static int mark_running(struct sqlite_store *s, const struct claim_request *req, const char *job_id,
                        int64_t now_ms, struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_JOB_MARK_RUNNING, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, job_id);
    bind_text(&b, req->worker);
    bind_time(&b, now_ms);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, "mark job running", err);
    /* The write lock is ours since BEGIN: nobody else can have moved the job. */
    if (rc == 0 && sqlite3_changes(s->db) != 1)
        rc = iq_error_set(err, IQ_E_INTERNAL, "job %s left QUEUED during its claim", job_id);
    return rc;
}

/*
 * start_job - take every lock of cand and mark it RUNNING, audited
 * "job.started". *ret_job: the job as it now is (job_free).
 *
 * All locks or none: a job's locks are taken together in this one
 * transaction, and only when every one of them is free; a job whose locks
 * are not all free takes none and is simply skipped. So no job ever holds
 * a lock while waiting for another one, the "hold and wait" condition of
 * a deadlock never occurs, and deadlock is impossible by construction: no
 * detection, ordering of lock names or timeouts are needed.
 */
static int start_job(struct sqlite_store *s, const struct claim_request *req,
                     const struct audit_context *actx, const struct candidate *cand, int64_t now_ms,
                     struct job **ret_job, struct iq_error *err)
{
    /* A row left from an earlier attempt (same name and job) is overwritten
     * by insert_lock, as on PostgreSQL. */
    struct job *before = NULL;
    int rc = sqlite_read_job(s, cand->id, &before, err);
    if (rc == 0)
        rc = mark_running(s, req, cand->id, now_ms, err);
    if (rc == 0)
        rc = sqlite_read_job(s, cand->id, ret_job, err);
    for (size_t i = 0; rc == 0 && i < cand->lock_count; i++)
        rc = insert_lock(s, req, cand->id, (*ret_job)->attempt, &cand->locks[i], now_ms, err);
    if (rc == 0)
        rc = sqlite_audit_job(s, actx, "job.started", cand->id, before, *ret_job, now_ms, err);
    if (rc == 0)
        rc = sqlite_orchestration_refresh(s, (*ret_job)->orchestration_id, now_ms, err);
    job_free(before);
    return rc;
}

/*
 * find_free_candidate - walk the runnable jobs best first, at most limit
 * of them: by priority, then available_at, then id, on the partial index
 * stg_import_queue_claim (so the cost depends on how many are looked at,
 * not on the queue's length); with aging, by the effective priority
 * max(1, priority - waited / aging_ms), which sorts every runnable job.
 * *ret_found and *ret_cand (candidate_clear): the first one whose locks
 * are all free. The walk stops there, before anything is written.
 */
static int find_free_candidate(struct sqlite_store *s, const struct claim_request *req,
                               int64_t now_ms, int limit, struct candidate *ret_cand,
                               bool *ret_found, struct iq_error *err)
{
    bool aged = req->aging_ms > 0;
    *ret_found = false;
    sqlite3_stmt *stmt =
        sqlite_stmt_get(s, aged ? STMT_CLAIM_CANDIDATES_AGED : STMT_CLAIM_CANDIDATES, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_time(&b, now_ms);
    bind_int64(&b, limit);
    if (aged)
        bind_int64(&b, req->aging_ms);
    int rc = sqlite_binder_check(s, &b, err);
    while (rc == 0 && !*ret_found &&
           (rc = sqlite_stmt_next(s, stmt, "read claim candidates", err)) == 1) {
        rc = candidate_read(stmt, ret_cand, err);
        if (rc == 0)
            rc = locks_are_free(s, ret_cand, now_ms, ret_found, err);
        if (rc < 0 || !*ret_found)
            candidate_clear(ret_cand);
    }
    if (rc < 0 || *ret_found) /* stopped early: the statement is still open */
        stmt_release(stmt);
    return rc;
}

/*
 * sqlite_claim_locked - one claim inside BEGIN IMMEDIATE (a claim
 * round, or a load's commit with claim_next): expired
 * locks go first (they bind nobody), then the global limit (counting
 * RUNNING rows, which heals itself after any crash, where a counter would
 * drift), then the first candidate whose locks are all free. A busy
 * candidate does not block the ones after it, so a high-priority job
 * waiting for its table does not stall work on other tables.
 */
int sqlite_claim_locked(struct sqlite_store *s, const struct claim_request *req,
                        const struct audit_context *actx, struct job **ret_job,
                        struct iq_error *err)
{
    int64_t now_ms = sqlite_now_ms(s);
    int64_t running = 0;
    int rc = sqlite_delete_expired_locks(s, now_ms, err);
    if (rc == 0)
        rc = sqlite_read_cached_int64(s, STMT_RUNNING_COUNT, "count running jobs", &running, err);
    if (rc < 0 || running >= req->max_concurrent)
        return rc;
    int limit = STORE_CLAIM_CANDIDATES;
    struct candidate cand = {0};
    bool found = false;
    rc = find_free_candidate(s, req, now_ms, limit, &cand, &found, err);
    if (rc == 0 && found)
        rc = start_job(s, req, actx, &cand, now_ms, ret_job, err);
    candidate_clear(&cand);
    return rc;
}

/*
 * sqlite_job_claim_batch - see store_ops.job_claim_batch: sqlite_claim_locked
 * once per worker in one BEGIN IMMEDIATE, each seeing the jobs and locks
 * the ones before it took, until one finds nothing (the rest would find
 * nothing either: nobody else writes meanwhile).
 */
int sqlite_job_claim_batch(struct store *base, const struct claim_request *req,
                           const char *const *workers, int worker_count,
                           const struct audit_context *actx, struct job **ret_jobs,
                           int *ret_claimed, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    *ret_claimed = 0;
    int rc = sqlite_check_actor(actx, err);
    if (rc == 0)
        rc = store_check_claim_batch(req, workers, worker_count, err);
    if (rc < 0)
        return rc;
    for (int i = 0; i < worker_count; i++)
        ret_jobs[i] = NULL;
    rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    int claimed = 0;
    for (int i = 0; rc == 0 && i < worker_count; i++) {
        struct claim_request one = *req;
        one.worker = workers[i];
        rc = sqlite_claim_locked(s, &one, actx, &ret_jobs[i], err);
        if (rc < 0 || !ret_jobs[i])
            break;
        claimed++;
    }
    rc = sqlite_tx_finish(s, rc, err);
    if (rc < 0) {
        for (int i = 0; i < worker_count; i++) {
            job_free(ret_jobs[i]);
            ret_jobs[i] = NULL;
        }
        claimed = 0;
    }
    *ret_claimed = claimed;
    return rc;
}

/* ------------------------------------------------------------------------
 * Heartbeat
 * ------------------------------------------------------------------------ */

/* bind_progress - the four progress parameters; NULLs keep the columns. */
static void bind_progress(struct binder *b, const struct job_progress *progress)
{
    if (!progress) {
        for (int i = 0; i < 4; i++)
            bind_text(b, NULL);
        return;
    }
    bind_text(b, progress->phase[0] ? progress->phase : NULL);
    bind_int64(b, progress->rows_read);
    bind_int64(b, progress->bytes_read);
    bind_int64(b, progress->bytes_total);
}

/*
 * touch_job - the job row's heartbeat and progress, only while RUNNING
 * under worker/attempt with a heartbeat younger than lease_ms (else
 * IQ_E_STALE: an older one may be rescued any moment).
 */
static int touch_job(struct sqlite_store *s, const char *job_id, const char *worker, int attempt,
                     const struct job_progress *progress, int64_t lease_ms, int64_t now_ms,
                     struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_JOB_HEARTBEAT, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, job_id);
    bind_text(&b, worker);
    bind_int64(&b, attempt);
    bind_time(&b, now_ms);
    bind_progress(&b, progress);
    bind_time(&b, now_ms - lease_ms);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, "heartbeat", err);
    if (rc == 0 && sqlite3_changes(s->db) == 0)
        rc = iq_error_set(err, IQ_E_STALE,
                          "job %s is no longer ours (not RUNNING under %s, attempt %d, or its"
                          " lease lapsed)",
                          job_id, worker, attempt);
    return rc;
}

/*
 * read_lease_state - of job_id (just touched, so it exists): whether a
 * cancel was requested, and how many distinct locks it holds when whole.
 */
static int read_lease_state(struct sqlite_store *s, const char *job_id, bool *ret_cancel,
                            int64_t *ret_lock_count, struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_JOB_LEASE_STATE, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, job_id);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_next(s, stmt, "read cancel flag", err);
    if (rc == 0)
        return iq_error_set(err, IQ_E_INTERNAL, "job %s vanished during its heartbeat", job_id);
    if (rc < 0)
        return rc;
    *ret_cancel = sqlite3_column_int(stmt, 0) != 0;
    *ret_lock_count = sqlite3_column_int64(stmt, 1);
    stmt_release(stmt);
    return 0;
}

/*
 * renew_locks - every lock of the attempt expires lease_ms from now.
 * IQ_E_STALE when fewer than lock_count are still live: a lease ran out
 * (and the lock may be someone else's by now: a claim deletes expired
 * locks before it grants) or an admin released one, so the worker no
 * longer owns what it is writing and must stop; rescue takes the job.
 */
static int renew_locks(struct sqlite_store *s, const char *job_id, int attempt, int64_t lease_ms,
                       int64_t lock_count, int64_t now_ms, struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_LOCKS_RENEW, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, job_id);
    bind_int64(&b, attempt);
    bind_time(&b, now_ms);
    bind_time(&b, now_ms + lease_ms);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, "renew locks", err);
    if (rc == 0 && sqlite3_changes(s->db) < lock_count)
        rc = iq_error_set(err, IQ_E_STALE,
                          "job %s lost %lld of its %lld locks (lease lapsed or released)", job_id,
                          (long long)(lock_count - sqlite3_changes(s->db)), (long long)lock_count);
    return rc;
}

/*
 * sqlite_job_heartbeat - see store_ops.job_heartbeat. Three short
 * statements, all by key, in one BEGIN IMMEDIATE transaction: it waits
 * for the write lock (up to busy_timeout) and then holds it briefly, so it
 * must stay this small. *ret_cancel_requested (may be NULL) is set on
 * success. As on PostgreSQL, a lapsed lease is not renewed: IQ_E_STALE
 * also when the heartbeat is older than lease_ms or a lock of the attempt
 * expired or is gone (see renew_locks); then nothing is written.
 */
int sqlite_job_heartbeat(struct store *base, const char *job_id, const char *worker, int attempt,
                         int64_t lease_ms, const struct job_progress *progress,
                         bool *ret_cancel_requested, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    if (ret_cancel_requested)
        *ret_cancel_requested = false;
    if (!job_id || !worker || lease_ms <= 0)
        return iq_error_set(err, IQ_E_INVALID, "a heartbeat needs a job, a worker and a lease");
    int rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    int64_t now_ms = sqlite_now_ms(s);
    bool cancel = false;
    int64_t lock_count = 0;
    rc = touch_job(s, job_id, worker, attempt, progress, lease_ms, now_ms, err);
    if (rc == 0)
        rc = read_lease_state(s, job_id, &cancel, &lock_count, err);
    if (rc == 0)
        rc = renew_locks(s, job_id, attempt, lease_ms, lock_count, now_ms, err);
    rc = sqlite_tx_finish(s, rc, err);
    if (rc == 0 && ret_cancel_requested)
        *ret_cancel_requested = cancel;
    return rc;
}
