/*
 * store.h - the storage interface: what the engine, the API, the pipeline
 * and the CLI may call. struct store is opaque here; each backend
 * (src/store/sqlite/, src/store/postgres/) fills a table of function
 * pointers (store/common/backend.h, modelled on sqlite3_vfs) that the
 * store_* functions below dispatch to (store.c).
 *
 * A struct store is ONE database connection. It is not thread-safe: every
 * thread opens its own (store_open). The engine and API call only the
 * store_* functions below and never contain SQL; backends contain SQL and
 * never scheduling policy.
 *
 * Every mutation runs in one transaction together with its audit row
 * (struct audit_context names the actor), so the audit trail cannot miss a
 * change that happened nor record one that did not.
 */
#ifndef IMPORTQ_STORE_STORE_H
#define IMPORTQ_STORE_STORE_H

#include "core/audit.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/job.h"
#include "core/job_spec.h"
#include "core/schedule.h"
#include "store/admin_ops.h"
#include "store/engine_ops.h"
#include "store/health_ops.h"
#include "store/load.h"
#include "store/perf_ops.h"
#include "store/schedule_fire_ops.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOB_LIST_LIMIT_DEFAULT 50
#define JOB_LIST_LIMIT_MAX 500

struct store;

/*
 * Whom a connection serves. Callers state this intent and the backend
 * derives its waits from it (SQLite's busy timeout, PostgreSQL's connect
 * timeout), so no caller tunes a particular backend.
 */
enum store_role {
    STORE_ROLE_DEFAULT = 0, /* the CLI, the node's maintenance, tools */
    STORE_ROLE_WORKER,      /* a worker's claims and loads: a load waits its
                               turn for the one writer rather than failing */
    STORE_ROLE_HEARTBEAT,   /* leases and progress: a beat that cannot get in
                               soon is retried at the next tick */
    STORE_ROLE_REQUEST,     /* an HTTP request: a client is waiting */
};

struct store_options {
    enum store_role role;
    int busy_timeout_ms;        /* SQLite: overrides the role's busy timeout
                                   (tests); 0: the role's */
    int connect_timeout_s;      /* PostgreSQL: overrides the role's connect
                                   timeout; 0: the role's */
    /* PostgreSQL: the schemas import targets resolve in, a comma list
     * (target_schemas_parse); NULL or "": the connection's
     * current_schema(). SQLite writes only its main database. */
    const char *target_schemas;
    /* Where the connection reads "now" (core/clock.h); NULL: the real
     * clock. Must outlive the store. PostgreSQL keeps the database's
     * clock for leases and heartbeats when this is NULL. */
    const struct iq_clock *clock;
};

/* What job_create needs beyond the spec. */
struct job_create_request {
    const struct job_spec *spec;
    const char *orchestration_id;  /* NULL when none */
    const char *schedule_id;       /* NULL when none */
    int max_queue_size;            /* QUEUED + HELD jobs allowed; <= 0: no limit */
};

/* Filters of GET /api/v2/import-queue. Zero/NULL fields do not filter. */
struct job_filter {
    unsigned status_mask;          /* bit (1u << JOB_x) per wanted status; 0 = all */
    int priority_min;              /* 0 = unset */
    int priority_max;
    int64_t created_after_ms;      /* exclusive bounds; 0 = unset */
    int64_t created_before_ms;
    const char *table;             /* target table, exact */
    const char *q;                 /* case-insensitive substring of name */
    const char *orchestration_id;
    const char *schedule_id;
    int limit;                     /* 1..JOB_LIST_LIMIT_MAX; 0 = default */
    const char *after_id;          /* keyset: only ids strictly below this one */
};

/* One page of jobs, newest first (ids are UUIDv7, so id order is time order). */
struct job_page {
    struct job **items;            /* owned */
    size_t count;
    char next_after_id[UUID_STR_LEN]; /* "" on the last page */
};

/* One job as a list page shows it by default (CONTRACT §3's lean item):
 * read without the spec's JSON columns. */
struct job_summary {
    char id[UUID_STR_LEN];
    char *name;          /* never NULL */
    enum job_status status;
    int priority;
    char *table;         /* target table; never NULL */
    char *mode;          /* target mode; never NULL */
    int attempt;
    int max_attempts;
    struct job_progress progress;
    int64_t created_at_ms;
    int64_t started_at_ms;  /* 0 = not yet */
    int64_t finished_at_ms; /* 0 = not yet */
    char *error_code;       /* NULL when the job has no error */
    char *error_message;    /* NULL when the job has no error */
};

struct job_summary_page {
    struct job_summary *items; /* owned */
    size_t count;
    char next_after_id[UUID_STR_LEN]; /* "" on the last page */
};

/* Counts for GET /api/v2/import-queue/status. */
struct queue_stats {
    int64_t count[JOB_STATUS_COUNT];
    int64_t completed_24h;
    int64_t failed_24h;
    int64_t oldest_queued_age_s;   /* 0 when nothing is queued */
};

/* What a backend is like, as bits the backend declares (store_has). */
enum store_capability {
    /* A worker claims its next job in the transaction that ends its last
     * one (load_commit.claim_next) rather than in a claim round of its own.
     * SQLite: every write transaction is serialised anyway, so merging
     * the two saves one (measured: 600 -> 650-740 one-row jobs/s).
     * PostgreSQL: not set; the claim would hold the cluster-wide claim
     * lock across every finish's audit and COMMIT, and the finishes of
     * eight workers queued on it (380 -> 330 jobs/s), where a separate
     * claim round batches the claims of idle workers. */
    STORE_CAP_CHAIN_CLAIMS = 1u << 0,
    /* A numeric column holds a double at most (SQLite's NUMERIC: an
     * integer or a REAL) rather than any decimal exactly (PostgreSQL's
     * numeric): the pipeline then rejects a numeric beyond a double's
     * range instead of letting it land as Inf or 0. */
    STORE_CAP_NUMERIC_IS_DOUBLE = 1u << 1,
    /* A direct replace (load_plan.direct) loads into a fresh copy of the
     * target that replaces it at commit (PostgreSQL): as fast as a direct
     * insert, and readers keep reading the old rows meanwhile. Without it
     * a replace stages, so that its set-wise checks run. */
    STORE_CAP_DIRECT_REPLACE = 1u << 2,
};



/*
 * store_open - connect to url ("sqlite:PATH", "postgres://…",
 * "postgresql://…"). opts may be NULL (defaults). Returns 0 and a new store
 * (store_close), or IQ_E_INVALID for an unknown scheme or a bad
 * opts->target_schemas, IQ_E_DB when the connection fails.
 */
int store_open(const char *url, const struct store_options *opts, struct store **ret_store,
               struct iq_error *err);

/* store_latest_schema_version - the newest migration this binary has for
 * s's backend (readiness: the database is current when they are equal). */
int store_latest_schema_version(const struct store *s);

/* store_close - NULL-safe. */
void store_close(struct store *s);

/* store_backend_name - "sqlite"/"postgres" for a url, NULL when unknown. */
const char *store_backend_name(const char *url);

/*
 * store_check_url - 0 when url names a backend (store_backend_name), else
 * IQ_E_INVALID with a message that shows url with its password masked.
 */
int store_check_url(const char *url, struct iq_error *err);

void job_page_clear(struct job_page *page);
void job_summary_page_clear(struct job_summary_page *page);

/*
 * store_table_describe - columns of table; ret->exists false when there is no such table.
 * Clear with table_info_clear.
 */
int store_table_describe(struct store *s, const char *table,
                         struct table_info *ret_info, struct iq_error *err);

/*
 * store_load_begin - start a load (opens the transaction). The plan must outlive the load.
 * IQ_E_INVALID: the target does not exist and create_target is false,
 * or a planned column is not in the table.
 */
int store_load_begin(struct store *s, const struct load_plan *plan,
                     struct load **ret_load, struct iq_error *err);

/*
 * store_load_rows - append row_count rows of part (values row-major: row_count *
 * column_count pointers; lines: the source line of each row).
 */
int store_load_rows(struct load *load, int part, const char *const *values,
                    const int64_t *lines, size_t row_count, struct iq_error *err);

/*
 * store_load_check - set-wise checks; reports and drops each failing row. *ret_rejected =
 * how many rows were dropped (children of dropped parents included).
 */
int store_load_check(struct load *load, load_reject_cb reject_cb, void *ctx,
                     int64_t *ret_rejected, struct iq_error *err);
int store_load_promote(struct load *load, struct load_result *ret_result,
                       struct iq_error *err);

/*
 * store_load_preview - a dry run's end (plan->dry_run), after
 * store_load_check: *ret_preview says what store_load_promote would do
 * (load.h, struct load_preview). Writes nothing; call store_load_abort
 * next in every case. IQ_E_INTERNAL when the plan is not a dry run or
 * load_check has not run.
 */
int store_load_preview(struct load *load, struct load_preview *ret_preview,
                       struct iq_error *err);

/*
 * store_load_commit - fence check, then COMMIT; frees the load on success. IQ_E_STALE when
 * the fence fails (then, as after any failure, call load_abort).
 */
int store_load_commit(struct load *load, struct iq_error *err);

/*
 * store_load_abort - ROLLBACK and free; NULL-safe; valid after any failed call.
 */
void store_load_abort(struct load *load);

/*
 * store_interrupt - thread-safe: stop the statement running on this connection now
 * (PQcancel / sqlite3_interrupt); the running call then fails with
 * IQ_E_CANCELLED. Used for cancel and timeout.
 */
void store_interrupt(struct store *s);

/*
 * store_job_claim_batch - claim the best runnable job (priority, then available_at, then id;
 * QUEUED, no pending dependency, available_at reached) whose resources
 * are all free, skipping busy ones among the first STORE_CLAIM_CANDIDATES
 * (16); take all its
 * locks and mark it RUNNING (attempt + 1, worker, heartbeat now), and
 * only while fewer than req->max_concurrent jobs are RUNNING; then the
 * next best for the next worker, and so on: at most one job for each
 * of the worker_count workers (req->worker is ignored), all in one
 * transaction, serialised cluster-wide. All locks of a job or none:
 * no job ever waits while holding a lock, so deadlock cannot happen.
 * Returns 0 with ret_jobs[i] the job workers[i] started or NULL
 * (job_free each; ret_jobs has worker_count places) and *ret_claimed
 * how many started; 0 started when nothing can start now. On error
 * nothing was started.
 */
int store_job_claim_batch(struct store *s, const struct claim_request *req,
                          const char *const *workers, int worker_count,
                          const struct audit_context *actx, struct job **ret_jobs,
                          int *ret_claimed, struct iq_error *err);

/* store_has - whether the backend has capability cap (enum store_capability). */
bool store_has(const struct store *s, enum store_capability cap);

/* store_name - the backend's name: "sqlite" or "postgres". */
const char *store_name(const struct store *s);

/* store_job_claim - a batch of one, for req->worker: *ret_job or NULL. */
int store_job_claim(struct store *s, const struct claim_request *req,
                    const struct audit_context *actx, struct job **ret_job,
                    struct iq_error *err);

/*
 * store_job_heartbeat - renew the job's heartbeat and its locks' leases (now + lease_ms) and
 * record progress (may be NULL). IQ_E_STALE when the job is no longer
 * RUNNING under worker/attempt. *ret_cancel_requested reports a cancel.
 */
int store_job_heartbeat(struct store *s, const char *job_id, const char *worker,
                        int attempt, int64_t lease_ms,
                        const struct job_progress *progress,
                        bool *ret_cancel_requested, struct iq_error *err);

/*
 * store_job_finish - end an attempt (see struct job_finish): release its locks, record the
 * attempt in the job's history and its phases in stg_import_performance;
 * COMPLETED decrements the dependants' pending counts; FAILED with
 * retry_at_ms re-queues; FAILED for good and CANCELLED fail the
 * HELD/QUEUED dependants transitively (dependency_failed). IQ_E_STALE
 * when the job is not RUNNING under worker/attempt.
 */
int store_job_finish(struct store *s, const struct job_finish *finish,
                     const struct audit_context *actx, struct job **ret_job,
                     struct iq_error *err);

/*
 * store_job_execute - POST .../execute: HELD -> QUEUED now; QUEUED -> available now;
 * FAILED/CANCELLED -> QUEUED for one more attempt (max_attempts grows
 * when spent). IQ_E_CONFLICT for RUNNING/COMPLETED or while a
 * dependency is FAILED/CANCELLED.
 */
int store_job_execute(struct store *s, const char *id,
                      const struct audit_context *actx, struct job **ret_job,
                      struct iq_error *err);

/*
 * store_jobs_rescue - rescue RUNNING jobs whose heartbeat is older than lease_ms: record the
 * attempt as failed (worker_lost), free their locks, re-queue with
 * backoff_cb(attempt) when attempts remain, else FAIL (and cascade).
 * Also deletes expired locks. *ret_rescued = jobs rescued.
 */
int store_jobs_rescue(struct store *s, int64_t lease_ms, retry_backoff_cb backoff_cb,
                      void *backoff_ctx, const struct audit_context *actx,
                      int *ret_rescued, struct iq_error *err);

/*
 * store_job_rejects_add - keep rejected rows of one attempt (appended; seq continues). Called
 * on a connection whose load is promoted but not yet committed, the
 * rows go into that load's transaction: they land iff it commits.
 */
int store_job_rejects_add(struct store *s, const char *job_id, int attempt,
                          const struct job_reject_row *rows, size_t count,
                          struct iq_error *err);

/*
 * store_job_rejects_each - every kept reject of the job's latest attempt, in line order.
 * IQ_E_NOT_FOUND for an unknown job.
 */
int store_job_rejects_each(struct store *s, const char *job_id,
                           job_reject_row_cb cb, void *ctx, struct iq_error *err);

/*
 * store_locks_list - live locks (not expired), by name; clear with lock_list_clear.
 */
int store_locks_list(struct store *s, struct lock_list *ret_list,
                     struct iq_error *err);

/*
 * store_lock_release - admin force-release of one lock (audited). IQ_E_NOT_FOUND.
 */
int store_lock_release(struct store *s, const char *lock_id,
                       const struct audit_context *actx, struct iq_error *err);

/*
 * store_node_register - node registry (stg_import_coordination, kind 'node'): register (or
 * re-register) this process, renew its heartbeat, mark nodes whose
 * heartbeat is older than dead_after_ms "dead", list them.
 */
int store_node_register(struct store *s, const struct node_info *node,
                        struct iq_error *err);
int store_node_heartbeat(struct store *s, const char *node_id, const char *status,
                         struct iq_error *err);
int store_nodes_mark_dead(struct store *s, int64_t dead_after_ms, int *ret_marked,
                          struct iq_error *err);
int store_nodes_list(struct store *s, struct node_list *ret_list,
                     struct iq_error *err);

/*
 * store_wait_for_work - wait up to timeout_ms for a wake-up from another connection (a job
 * created, finished or a lock released). PostgreSQL: LISTEN/NOTIFY;
 * SQLite: another process's commit, seen in the database's
 * data_version (the engine signals its own in-process).
 */
int store_wait_for_work(struct store *s, int timeout_ms, bool *ret_woken,
                        struct iq_error *err);

/*
 * store_token_create - store a token (info: id, name, role, token_hash, created_by), audited
 * as token.create (the hash is never written to the audit row).
 * IQ_E_CONFLICT when the name is taken (revoked names stay taken).
 */
int store_token_create(struct store *s, const struct token_info *info,
                       const struct audit_context *actx, struct iq_error *err);

/*
 * store_token_list - every token by name; revoked ones only with include_revoked.
 */
int store_token_list(struct store *s, bool include_revoked,
                     struct token_list *ret_list, struct iq_error *err);

/*
 * store_token_revoke - revoke by name (audited as token.revoke). IQ_E_NOT_FOUND for an
 * unknown name; revoking a revoked token again is 0 and writes nothing.
 */
int store_token_revoke(struct store *s, const char *name,
                       const struct audit_context *actx, struct iq_error *err);

/*
 * store_token_touch - record a use (last_used_at = at_ms); not audited.
 */
int store_token_touch(struct store *s, const char *token_id, int64_t at_ms,
                      struct iq_error *err);

/*
 * store_audit_list - A page of the audit trail, newest first; clear with audit_page_clear.
 * IQ_E_BAD_REQUEST for a limit out of 1..500.
 */
int store_audit_list(struct store *s, const struct audit_filter *filter,
                     struct audit_page *ret_page, struct iq_error *err);

/*
 * store_audit_verify - walk the whole chain from id 1, recomputing each row's hash
 * (audit_hash) and checking ids are contiguous and prev_hash links.
 */
int store_audit_verify(struct store *s, struct audit_verify_result *ret_result,
                       struct iq_error *err);

/*
 * store_upload_create - record a spooled upload (audited as upload.create).
 */
int store_upload_create(struct store *s, const struct upload_info *info,
                        const struct audit_context *actx, struct iq_error *err);

/*
 * store_upload_get - IQ_E_NOT_FOUND for an unknown id; clear with upload_info_clear.
 */
int store_upload_get(struct store *s, const char *id, struct upload_info *ret_info,
                     struct iq_error *err);

/*
 * store_uploads_expired - uploads whose file may go: used by a COMPLETED job; or created before
 * cutoff_ms and either unused or used by a job that ended FAILED or
 * CANCELLED before cutoff_ms.
 */
int store_uploads_expired(struct store *s, int64_t cutoff_ms,
                          struct upload_list *ret_list, struct iq_error *err);

/*
 * store_upload_delete - forget an upload (after its file was deleted).
 */
int store_upload_delete(struct store *s, const char *id, struct iq_error *err);

/*
 * store_orchestration_create - create an orchestration and all its jobs in one transaction (all or
 * none; audited): "after" keys become dependencies. IQ_E_INVALID for a
 * duplicate or unknown key (field "jobs[i].after[j]"), IQ_E_CONFLICT for
 * a cycle or an unknown depends_on id, IQ_E_QUEUE_FULL when the jobs do
 * not fit. Idempotency keys (request_id) are not allowed inside.
 */
int store_orchestration_create(struct store *s,
                               const struct orchestration_request *req,
                               const struct audit_context *actx,
                               struct orchestration *ret_orch, struct iq_error *err);

/*
 * store_orchestration_get - with its jobs and the current aggregate status. IQ_E_NOT_FOUND.
 */
int store_orchestration_get(struct store *s, const char *id,
                            struct orchestration *ret_orch, struct iq_error *err);

/*
 * store_orchestration_list - newest first, keyset on id; limit 1..500 (0 = 50).
 */
int store_orchestration_list(struct store *s, int limit, const char *after_id,
                             struct orchestration_page *ret_page,
                             struct iq_error *err);

/*
 * store_job_phases - phase timings of every attempt of a job, in time order.
 */
int store_job_phases(struct store *s, const char *job_id,
                     struct job_phase_list *ret_list, struct iq_error *err);

/*
 * store_perf_attempts - the attempts of window (perf_window_check'd: else
 * IQ_E_INVALID), each summed from its stg_import_performance rows, newest
 * first, PERF_ATTEMPTS_MAX at most (ret->truncated when there were more).
 * An attempt is in the window when its "read" or "queued" row starts in
 * it; all its rows count. *ret: perf_attempts_clear (also after a failure).
 */
int store_perf_attempts(struct store *s, const struct perf_window *window,
                        struct perf_attempts *ret, struct iq_error *err);

/*
 * store_lock_holds - the locks released in window (its table is ignored),
 * newest first, PERF_HOLDS_MAX at most (ret->truncated when there were
 * more), with the schedule names of the holder and of the job it waited
 * on. *ret: lock_holds_clear (also after a failure).
 */
int store_lock_holds(struct store *s, const struct perf_window *window, struct lock_holds *ret,
                     struct iq_error *err);

/*
 * store_lock_history_prune - delete up to LOCK_HISTORY_PRUNE_BATCH rows of
 * importq_lock_history released before cutoff_ms, oldest first.
 * *ret_deleted (may be NULL): how many.
 */
int store_lock_history_prune(struct store *s, int64_t cutoff_ms, int64_t *ret_deleted,
                             struct iq_error *err);

/*
 * store_history_prune - keep the monitoring history bounded: lock history
 * released before now - lock_history_keep_ms; the performance records of
 * every attempt whose first row started before now - performance_keep_ms
 * (an attempt goes whole, so an aggregate never sees half of one);
 * alerts resolved before now - alert_keep_ms (open and acknowledged
 * alerts are never pruned, however old). Each kind in batches (its own
 * transaction each, oldest first), HISTORY_PRUNE_ROUNDS batches at most:
 * ret->more says a kind had more left, for the next call. IQ_E_INVALID
 * for a keep_ms that is not positive. *ret (may be NULL): what went, also
 * after a failure (the batches before it stay deleted).
 */
int store_history_prune(struct store *s, const struct history_retention *retention,
                        struct history_pruned *ret, struct iq_error *err);

/*
 * store_migrate - apply pending migrations (idempotent; serialised across processes).
 * *ret_applied = how many ran.
 */
int store_migrate(struct store *s, int *ret_applied, struct iq_error *err);

/*
 * store_schema_version - highest applied migration version (0 on an empty database).
 */
int store_schema_version(struct store *s, int *ret_version, struct iq_error *err);

/*
 * store_role_is_superuser - whether the connection's database role is a superuser, which no
 * grant can keep off any table (serve warns; docs/deploy.md). SQLite
 * has no roles: always false.
 */
int store_role_is_superuser(struct store *s, bool *ret_superuser,
                            struct iq_error *err);

/*
 * store_job_create - create a job from a validated spec. Idempotent on spec->request_id:
 * when it exists, returns the existing job with *ret_existed = true and
 * writes nothing. IQ_E_CONFLICT: unknown dependency.
 * IQ_E_QUEUE_FULL: max_queue_size reached. IQ_E_INVALID (field
 * "source.upload"): an unknown upload. A dependency already FAILED
 * or CANCELLED makes the new job FAILED with error.code
 * "dependency_failed". Status: HELD when spec->hold, else QUEUED.
 * *ret_job is new (job_free).
 */
int store_job_create(struct store *s, const struct job_create_request *req,
                     const struct audit_context *actx, struct job **ret_job,
                     bool *ret_existed, struct iq_error *err);

/*
 * store_job_get - IQ_E_NOT_FOUND when id is unknown.
 */
int store_job_get(struct store *s, const char *id, struct job **ret_job,
                  struct iq_error *err);

/* A job's direct dependants shown with it: the first
 * JOB_DEPENDENTS_MAX by id (creation order). */
#define JOB_DEPENDENTS_MAX 100

struct job_ref {
    char id[UUID_STR_LEN];
    char *name; /* owned */
    enum job_status status;
};

struct job_ref_list {
    struct job_ref *items; /* owned */
    size_t count;
    bool truncated; /* there are more than count */
};

void job_ref_list_clear(struct job_ref_list *list);

/* A job with what GET /import-queue/{id} shows beside it. */
struct job_detail {
    struct job *job;                /* owned */
    struct job_phase_list phases;   /* every attempt's timings, in time order */
    struct lock_list locks;         /* the live locks it holds (RUNNING only) */
    struct job_ref_list dependents; /* jobs whose depends_on names it, bounded */
};

void job_detail_clear(struct job_detail *detail);

/*
 * store_job_get_detail - the job, its phase timings, its live locks and
 * its first JOB_DEPENDENTS_MAX direct dependants, read together (one
 * statement on PostgreSQL). IQ_E_NOT_FOUND when id is unknown. Clear
 * *ret_detail with job_detail_clear (also after a failure).
 */
int store_job_get_detail(struct store *s, const char *id, struct job_detail *ret_detail,
                         struct iq_error *err);

/*
 * store_job_list - keyset page; clear with job_page_clear.
 */
int store_job_list(struct store *s, const struct job_filter *filter,
                   struct job_page *ret_page, struct iq_error *err);

/*
 * store_job_list_summary - the same page as store_job_list (same filter,
 * order and cursor) as summaries; clear with job_summary_page_clear.
 */
int store_job_list_summary(struct store *s, const struct job_filter *filter,
                           struct job_summary_page *ret_page, struct iq_error *err);

/*
 * store_job_update - replace the editable fields (name, priority, depends_on, scheduled_at,
 * timeout_s, max_attempts, resources, source, target, on_error) with
 * spec's. Only while HELD or QUEUED, else IQ_E_CONFLICT. IQ_E_CONFLICT
 * too for an unknown dependency or a dependency cycle (message says
 * which). IQ_E_NOT_FOUND for an unknown id.
 */
int store_job_update(struct store *s, const char *id, const struct job_spec *spec,
                     const struct audit_context *actx, struct job **ret_job,
                     struct iq_error *err);

/*
 * store_job_cancel - HELD/QUEUED: CANCELLED now, and every job depending on it (directly or
 * not) that is HELD/QUEUED becomes FAILED with "dependency_failed", in
 * the same transaction. RUNNING: sets cancel_requested (the worker
 * stops). Finished: IQ_E_CONFLICT.
 */
int store_job_cancel(struct store *s, const char *id,
                     const struct audit_context *actx, struct job **ret_job,
                     struct iq_error *err);
int store_queue_stats(struct store *s, int64_t now_ms,
                      struct queue_stats *ret_stats, struct iq_error *err);

/*
 * store_explain_job_list - the backend's query plan for job_list(filter), as text (EXPLAIN).
 */
int store_explain_job_list(struct store *s, const struct job_filter *filter,
                           char **ret_plan, struct iq_error *err);

/* ---- scheduled imports (stg_scheduled_imports; rules in common/schedule.c) ---- */

/* What schedule_create needs beyond the checked fields. */
struct schedule_request {
    const struct schedule_spec *spec;  /* schedule_spec_parse'd */
    int max_schedules;                 /* schedules allowed in all; <= 0: no limit */
};

/* Filters of GET /api/v2/scheduled-imports. Zero/NULL fields do not filter. */
struct schedule_filter {
    bool enabled_set;                  /* filter on enabled (else: all) */
    bool enabled;                      /* the wanted value when enabled_set */
    const char *q;                     /* case-insensitive substring of name */
    int limit;                         /* 1..SCHEDULE_LIST_LIMIT_MAX; 0 = default */
    const char *after_id;              /* keyset: only ids strictly below this one */
};

/* One page of schedules, newest first. */
struct schedule_page {
    struct schedule *items;            /* owned */
    size_t count;
    char next_after_id[UUID_STR_LEN];  /* "" on the last page */
};

void schedule_page_clear(struct schedule_page *page);

/*
 * store_schedule_create - a new schedule from req->spec, next_run_at the
 * first fire time after now (the store's clock), audited
 * "schedule.created". IQ_E_CONFLICT when the name is taken;
 * IQ_E_QUEUE_FULL (429) when req->max_schedules exist already;
 * IQ_E_INVALID (field "cron") for a one-off time that has passed.
 * *ret: schedule_clear (also after a failure).
 */
int store_schedule_create(struct store *s, const struct schedule_request *req,
                          const struct audit_context *actx, struct schedule *ret,
                          struct iq_error *err);

/* store_schedule_get - IQ_E_NOT_FOUND for an unknown (or malformed) id. */
int store_schedule_get(struct store *s, const char *id, struct schedule *ret,
                       struct iq_error *err);

/*
 * store_schedule_list - keyset page, newest first; IQ_E_BAD_REQUEST for a
 * limit out of 1..500 or an after_id that is not an id. Clear with
 * schedule_page_clear.
 */
int store_schedule_list(struct store *s, const struct schedule_filter *filter,
                        struct schedule_page *ret_page, struct iq_error *err);

/*
 * store_schedule_update - PUT: replace the editable fields (name, cron,
 * timezone, job, misfire, overlap, catch_up_max, enabled) with spec's;
 * next_run_at recomputed from now when the cron or the zone changes or a
 * paused schedule is enabled (null for a one-off that has passed), else
 * kept (a due fire is neither skipped nor repeated); run state untouched.
 * Audited
 * "schedule.updated" (before and after). IQ_E_NOT_FOUND, IQ_E_CONFLICT
 * for a name another schedule has.
 */
int store_schedule_update(struct store *s, const char *id, const struct schedule_spec *spec,
                          const struct audit_context *actx, struct schedule *ret,
                          struct iq_error *err);

/*
 * store_schedule_delete - delete it (audited "schedule.deleted"); its jobs
 * stay, their schedule_id becomes null. *ret: the schedule as it was.
 * IQ_E_NOT_FOUND.
 */
int store_schedule_delete(struct store *s, const char *id, const struct audit_context *actx,
                          struct schedule *ret, struct iq_error *err);

/*
 * store_schedule_pause - enabled = false, next_run_at kept (shown, not
 * fired). store_schedule_resume - enabled = true, next_run_at the first
 * fire time after now: the times missed while paused are skipped, not
 * caught up. Audited "schedule.paused" / "schedule.resumed"; pausing a
 * paused (resuming an enabled) schedule writes nothing and answers it as
 * it is. IQ_E_NOT_FOUND.
 */
int store_schedule_pause(struct store *s, const char *id, const struct audit_context *actx,
                         struct schedule *ret, struct iq_error *err);
int store_schedule_resume(struct store *s, const char *id, const struct audit_context *actx,
                          struct schedule *ret, struct iq_error *err);

/*
 * store_table_duration_p50 - the median run time (ms, all phases of an
 * attempt) of the newest SCHEDULE_P50_SAMPLES attempts of jobs into table
 * (stg_import_performance); *ret_ms = 0 when there is no history.
 */
int store_table_duration_p50(struct store *s, const char *table, int64_t *ret_ms,
                             struct iq_error *err);

/* ---- firing scheduled imports (store/schedule_fire_ops.h) ---- */

/*
 * store_schedule_fire - one fire of a schedule, in one transaction
 * (common/schedule_rules.c): the fire row (UNIQUE per schedule and fire
 * time: a second fire of the same time writes nothing), the job from the
 * template through the same rules as a submission (validation, capacity,
 * audit "job.create" as actx) unless the overlap policy skips it,
 * next_run_at advanced (not for SCHEDULE_FIRE_NOW), last_run_at,
 * last_job_id, last_status and run_count, the history pruned to
 * SCHEDULE_FIRES_KEPT. For SCHEDULE_FIRE_DUE a job that cannot be made
 * (a full queue, a bad template) does not stop the schedule: the fire is
 * recorded skipped_queue_full or skipped_invalid with the reason and
 * next_run_at moves on. Returns 0 and *ret (schedule_fire_result_clear;
 * ret->fired false when nothing was written), or for SCHEDULE_FIRE_NOW
 * IQ_E_NOT_FOUND, IQ_E_CONFLICT (overlap skip, or a fire at this very
 * instant), IQ_E_QUEUE_FULL, IQ_E_INVALID; IQ_E_DB.
 */
int store_schedule_fire(struct store *s, const struct schedule_fire_request *req,
                        const struct audit_context *actx, struct schedule_fire_result *ret,
                        struct iq_error *err);

/*
 * store_schedules_due - enabled schedules whose next_run_at is at or
 * before now_ms, earliest first, at most limit (1..SCHEDULE_DUE_BATCH),
 * and in ret->next_ms the earliest next_run_at after now_ms (0: none).
 * Clear with schedule_due_list_clear.
 */
int store_schedules_due(struct store *s, int64_t now_ms, int limit,
                        struct schedule_due_list *ret, struct iq_error *err);

/*
 * store_schedule_fires_list - the fire history of a schedule, newest fire
 * time first, limit 1..SCHEDULE_FIRES_LIMIT_MAX (0: the default), after
 * the cursor (NULL: from the newest). IQ_E_NOT_FOUND for an unknown
 * schedule. Clear with schedule_fire_page_clear.
 */
int store_schedule_fires_list(struct store *s, const char *schedule_id, int limit,
                              const struct schedule_fire_cursor *after,
                              struct schedule_fire_page *ret, struct iq_error *err);

/*
 * store_scheduler_lead - whether this connection leads the scheduler now
 * (take the lead when nobody has it). PostgreSQL: a session advisory lock
 * held by this connection until it closes or drops, so exactly one node
 * leads and another takes over when the leader's connection goes.
 * SQLite: always true (one process; two processes on one file are still
 * kept from firing a time twice by the fire rows).
 */
int store_scheduler_lead(struct store *s, bool *ret_leader, struct iq_error *err);

#endif
