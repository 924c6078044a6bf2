/*
 * postgres/internal.h - what the files of the PostgreSQL backend share and
 * nothing outside them sees: the connection struct, the statement runner
 * with its reconnect rule, transactions, a growable SQL text, and the
 * entry points each file puts into the ops table (postgres/connection.c).
 *
 * The backend is split by concept:
 *   postgres/connection.c          connection, statements, errors, reconnect,
 *                       transactions, migrations, the ops table, interrupt
 *   postgres/jobs.c     job create / get / update / cancel
 *   postgres/deps.c     the dependency graph: checks, cycles, cascades
 *   postgres/audit.c    the audit hash chain
 *   postgres/list.c     job list, its EXPLAIN, queue stats
 *   postgres/load/describe.c a table as the catalog has it (table_describe)
 *   store_pg_load*.c    imports (store/load.h): begin/commit/abort, COPY
 *                       streams, set-wise checks, promotion
 *                       (their shared state: postgres/load/internal.h)
 *   postgres/claim.c    claiming a job with all its locks, heartbeats
 *   postgres/finish.c   ending an attempt (finish, finish-on-commit), rescue
 *   postgres/execute.c  execute (HELD/QUEUED now, FAILED/CANCELLED again)
 *   postgres/rejects.c  rejected rows kept per attempt
 *   postgres/locks.c    listing and force-releasing locks
 *   postgres/nodes.c    the node registry
 *   postgres/wait.c   wake-ups: NOTIFY importq, LISTEN and wait
 *   postgres/tokens.c   API tokens: create, list, revoke, last use
 *   postgres/audit_read.c  audit pages and verifying the hash chain
 *   postgres/uploads.c  uploaded files and their expiry
 *   postgres/orchestrations.c  orchestrations: create, get, list, and
 *                       keeping their aggregate status current
 *   postgres/phases.c   a job's phase timings
 *   postgres/schedules.c  scheduled imports: the rows under common/schedule.c's rules
 *   postgres/schedule_fires.c  firing them: the fire transaction, due schedules,
 *                       the fire history, the scheduler's lead
 *
 * Advisory lock keys (one bigint namespace 0x4951xxxx, "IQ", for importq):
 *   PG_LOCK_MIGRATE    0x49510001  session lock around migrate
 *   PG_LOCK_JOB_GRAPH  0x49510002  transaction lock: job admission (request_id
 *                                  uniqueness, queue capacity) and every change
 *                                  to or walk of the dependency graph (create,
 *                                  update, cancel with its cascade)
 *   PG_LOCK_AUDIT      0x49510003  transaction lock on the audit chain head
 *   PG_LOCK_CLAIM      0x49510004  transaction lock: the claim step, cluster-wide
 *                                  (count RUNNING, check lock conflicts, insert
 *                                  lock rows, mark RUNNING)
 *   PG_LOCK_SCHEDULES  0x49510007  transaction lock: every change of a schedule
 *                                  through the API (the bound on their number,
 *                                  unique names); taken first, then the
 *                                  schedule's row, then PG_LOCK_AUDIT
 *   PG_LOCK_SCHEDULER  0x49510005  session lock: the scheduler's leader holds it
 *                                  on its scheduler connection (postgres/schedule_fires.c);
 *                                  never waited for (pg_try_advisory_lock)
 *
 * Lock order, so no two importq transactions wait on each other in a
 * cycle: PG_LOCK_JOB_GRAPH, then job rows (the job itself FOR UPDATE, its
 * dependencies FOR SHARE, its dependants FOR UPDATE in id order), then
 * PG_LOCK_AUDIT last, taken in the pipeline that sends the audit rows
 * with COMMIT (postgres/audit.c), so it is held for no round trip.
 * Dependencies are read FOR SHARE so that a concurrent completion of a
 * dependency either committed before (we see COMPLETED) or waits for our
 * commit (and then sees our new edge when it decrements dependants).
 * Every transaction that locks dependants (cancel, finish, rescue,
 * finish-on-commit) takes PG_LOCK_JOB_GRAPH before its own job row: an
 * update holds its job row and waits for its dependencies, so a finish
 * holding a dependency's row must never wait for a dependant's row
 * without having excluded updates first. A finish that completes its job
 * takes the lock shared (pg_graph_lock_sql), everything else exclusively:
 * a completion only takes its direct dependants' rows, in one statement
 * in id order, so completions run side by side (two of them meet at most
 * on a common dependant, which both lock in the same order) and still
 * exclude every update, creation, cancel and rescue - and a completion
 * takes it only when its job has dependants (postgres/finish.c, "The
 * graph lock of a completion", says why a dependant added meanwhile is
 * still released); a failed or
 * cancelled finish walks the graph level by level (the cascade), where
 * two walks could take the same rows in opposite orders, so it runs
 * alone. Measured: with one exclusive lock for every finish, finishes
 * queued on it and one-row jobs ran at 245/s (BENCHMARKS.md).
 * PG_LOCK_CLAIM is never held together with PG_LOCK_JOB_GRAPH: a claim
 * takes it first, then the job row it starts (FOR UPDATE SKIP LOCKED,
 * which never waits), then inserts lock rows, then PG_LOCK_AUDIT.
 * An orchestration's row (stg_import_coordination) is locked FOR UPDATE
 * after every job row a transaction locks and before PG_LOCK_AUDIT, in id
 * order when there are several (pg_orchestrations_refresh): the
 * statement after the lock then sees every committed job change, so the
 * last transaction to take the row stores the true aggregate status.
 * A load's fence (load_commit) locks one job row FOR UPDATE just before
 * its COMMIT; with finish_on_commit it takes PG_LOCK_JOB_GRAPH first and
 * then finishes the job like job_finish; with claim_next it then claims
 * the worker's next job: PG_LOCK_CLAIM after every job row it locked,
 * then the claimed row (SKIP LOCKED), then PG_LOCK_AUDIT. Holding the
 * graph lock while waiting for the claim lock closes no cycle: no holder
 * of the claim lock ever waits for the graph lock or a job row. The
 * engine asks for it only when the finished job has no orchestration, so
 * such a transaction locks at most one orchestration row (the claimed
 * job's); a claim round locks its jobs' orchestrations in id order.
 *
 * Threads: a pg_store belongs to one thread, except pg_interrupt, which
 * any thread may call; it touches only cancel_lock, cancel and
 * interrupted (see struct pg_store).
 */
#ifndef IMPORTQ_STORE_STORE_PG_INTERNAL_H
#define IMPORTQ_STORE_STORE_PG_INTERNAL_H

#include "store/common/internal.h"
#include "store/common/job_rules.h"

#include "core/clock.h"
#include "core/timeutil.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_LOCK_MIGRATE "1230045185"   /* 0x49510001 */
#define PG_LOCK_JOB_GRAPH "1230045186" /* 0x49510002 */
#define PG_LOCK_AUDIT "1230045187"     /* 0x49510003 */
#define PG_LOCK_CLAIM "1230045188"     /* 0x49510004 */
#define PG_LOCK_SCHEDULES "1230045191" /* 0x49510007 */
#define PG_LOCK_SCHEDULER "1230045189" /* 0x49510005 */

/* The NOTIFY channel that wakes idle workers (LISTENed by wait_for_work). */
#define PG_NOTIFY_CHANNEL "importq"

#define PG_TIME_FORMAT "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'"

/*
 * PG_NEXT_UPDATED_AT(param, column) - the updated_at a change of a row
 * writes: the time in param, or 1 ms past the row's last change (column,
 * its updated_at) when param is not later (two changes in one millisecond,
 * or node clocks apart), so updated_at strictly increases on every change
 * and a reader or an audit image always sees that the row changed.
 */
#define PG_NEXT_UPDATED_AT(param, column) \
    "greatest(" param "::timestamptz, " column " + interval '1 millisecond')"
#define MS_PER_DAY (24 * 3600 * 1000LL)

/*
 * PG_NOW(param), PG_STATEMENT_NOW(param), PG_CLOCK_NOW(param) - "now" in a
 * statement that reads the time in SQL. With the real clock, param is
 * NULL (pg_clock_param) and the database's clock decides: several nodes
 * share one database, and leases, heartbeats, rescue and node liveness
 * must not depend on how far apart the nodes' clocks are. With an
 * injected clock (store_options.clock, tests) param is its time, so a
 * test that advances a fake clock moves the SQL's "now" too. Each keeps
 * the database function the statement used before: now() is the start of
 * the transaction, statement_timestamp() the start of the statement,
 * clock_timestamp() the moment it is evaluated. One text for both cases,
 * so a prepared statement stays one statement and costs one parameter.
 */
#define PG_NOW(param) "coalesce(" param "::timestamptz, now())"
#define PG_STATEMENT_NOW(param) "coalesce(" param "::timestamptz, statement_timestamp())"
#define PG_CLOCK_NOW(param) "coalesce(" param "::timestamptz, clock_timestamp())"

/*
 * PG_LOCK_HISTORY_INSERT(released, how, queue) - the INSERT of a CTE that
 * copies the lock rows of the CTE "freed" (a DELETE … RETURNING of
 * stg_import_resources) into importq_lock_history, released at released,
 * with how long each holder waited for its resource: from its job's
 * ready_at (read from queue: stg_import_queue, or a CTE returning the
 * job row) until the latest conflicting hold of the resource by another
 * job ended, at most until it took the lock (one probe of the index
 * (name, released_at) per lock), and that job (blocked_by). "Performance
 * records" in docs/architecture.md; the same rule as SQLite's
 * LOCK_HISTORY_INSERT.
 */
#define PG_LOCK_HISTORY_INSERT(released, how, queue)                                               \
    "INSERT INTO importq_lock_history (name, mode, job_id, attempt, acquired_at, released_at,"     \
    " waited_ms, blocked_by, how) SELECT f.name, f.mode, f.job_id, f.attempt, f.acquired_at, "     \
    released ", coalesce(w.waited, 0), CASE WHEN w.waited > 0 THEN w.blocker END, '" how "'"       \
    " FROM freed f LEFT JOIN " queue " rq ON rq.id = f.job_id LEFT JOIN LATERAL (SELECT"           \
    " greatest(0, round(extract(epoch FROM least(h.released_at, f.acquired_at) - rq.ready_at)"     \
    " * 1000))::bigint AS waited, h.job_id AS blocker FROM importq_lock_history h"                 \
    " WHERE h.name = f.name AND h.released_at > rq.ready_at AND h.released_at <= f.acquired_at"    \
    " AND h.job_id <> f.job_id AND (h.mode = 'exclusive' OR f.mode = 'exclusive')"                 \
    " ORDER BY h.released_at DESC LIMIT 1) w ON true"

#define PG_SQLSTATE_QUERY_CANCELED "57014"

/* Statements prepared once per connection (texts in postgres/connection.c). */
enum pg_statement {
    STMT_CACHED = -2, /* ad hoc SQL, prepared on first use by its text (pg_exec_cached) */
    STMT_NONE = -1,   /* ad hoc SQL, not prepared */
    STMT_JOB_GET,
    STMT_JOB_GET_FOR_UPDATE,
    STMT_JOB_DETAIL, /* the job, its phase timings and live locks (postgres/jobs.c) */
    STMT_JOBS_BY_IDS,
    STMT_DEPENDANTS_FOR_UPDATE,
    STMT_JOB_INSERT,
    STMT_AUDIT_INSERT,
    STMT_CLAIM,          /* postgres/claim.c */
    STMT_CLAIM_AGING,
    STMT_RECORD_ATTEMPT, /* postgres/finish.c */
    STMT_FINISH_GRAPH,
    STMT_FINISH_LATE,
    STMT_DESCRIBE,       /* postgres/load/describe.c */
    STMT_COUNT
};

/*
 * Texts of the prepared statements that live with their concept, built
 * once per store from the job select list (postgres/connection.c calls them). Each
 * returns a new text (caller frees), NULL on OOM.
 */
char *pg_claim_sql(const char *select_list);
char *pg_claim_aging_sql(const char *select_list);
char *pg_record_attempt_sql(const char *select_list);
extern const char pg_finish_graph_sql[];
extern const char pg_finish_late_sql[];
char *pg_describe_sql(const char *select_list);
char *pg_audit_insert_sql(const char *select_list);

/* Fields of one audit row as STMT_AUDIT_INSERT takes them: at, actor,
 * action, entity, entity_id, before, after, request_id, client_addr. */
#define PG_AUDIT_FIELDS 9

/* Audit rows a transaction keeps before it sends them (pg_audit_append). */
#define PG_AUDIT_PENDING_MAX 16

/*
 * The audit rows of the open transaction not sent yet (postgres/audit.c):
 * they go with the COMMIT, after PG_LOCK_AUDIT, in one round trip
 * (pg_tx_finish), so the audit lock - and a claim's or a finish's lock -
 * is held for no round trip of its own. locked: PG_LOCK_AUDIT already
 * taken in this transaction (rows were sent early).
 */
struct pg_audit_tail {
    bool locked;
    size_t count;
    char *pending[PG_AUDIT_PENDING_MAX][PG_AUDIT_FIELDS]; /* owned, NULL for SQL NULL */
};

/* How long a table_describe answer may stand in for the load's own (pg_describe). */
#define PG_DESCRIBE_HANDOFF_MS 1000

/*
 * Ad hoc statements prepared on first use (pg_exec_cached), by their
 * text: the shapes of the job list page (one per filter combination), so
 * a page is not parsed and planned on every request. The least recently
 * used is deallocated when a new shape needs its slot.
 */
#define PG_CACHED_SLOTS 16
struct pg_statement_cache {
    char *sql[PG_CACHED_SLOTS];        /* owned; NULL: a free slot */
    uint64_t last_used[PG_CACHED_SLOTS]; /* of clock */
    uint64_t clock;                    /* one tick a use */
};

/* One connection. base must stay the first member (store.h). */
struct pg_store {
    struct store base;
    PGconn *conn;
    char *select_list; /* JOB_COLUMNS as a select list over alias q */
    char *statement_sql[STMT_COUNT];
    bool prepared[STMT_COUNT]; /* on this connection (forgotten on reset) */
    struct pg_statement_cache cached; /* emptied on reset */
    bool in_transaction;       /* BEGIN sent, no COMMIT/ROLLBACK yet */
    bool holds_session_lock;   /* migrate's advisory lock */
    bool listening;            /* LISTEN importq sent on this session (forgotten on reset) */
    char sqlstate[6];          /* of the last failed statement, "" after success */
    struct pg_audit_tail audit; /* reset whenever a transaction begins or ends */
    /* Where import targets resolve (postgres/load/describe.c): the
     * target-schemas setting, or when that is empty the connection's
     * current_schema(), looked up on the first describe (never trusted
     * when it is a catalog schema). */
    struct target_schemas target_schemas;
    bool target_schemas_known; /* set, or looked up */
    /* The last table_describe's result, handed to the load that follows it
     * (pg_describe of the same table within PG_DESCRIBE_HANDOFF_MS, once). */
    PGresult *described;
    char *described_table;
    int64_t described_mono_ms;
    /* Interrupt, shared with other threads. cancel is the key of the
     * current session (PQgetCancel at connect, replaced after a reset);
     * cancel_lock guards the pointer against a concurrent reset or close.
     * interrupted is set by pg_interrupt and cleared by load_begin: a load
     * checks it before each statement and each COPY flush, so an
     * interrupt that falls between two statements is not lost. */
    pthread_mutex_t cancel_lock;
    bool cancel_lock_ready; /* cancel_lock initialised (half-built-safe close) */
    PGcancel *cancel;
    atomic_bool interrupted;
    const struct iq_clock *clock; /* store_options.clock; NULL: real */
};

static inline struct pg_store *pg_store_of(struct store *s)
{
    return (struct pg_store *)s;
}

/* pg_now_ms - "now" in C on this connection: its clock's time. */
static inline int64_t pg_now_ms(const struct pg_store *ps)
{
    return iq_clock_now_ms(ps->clock);
}

/*
 * pg_clock_param - the parameter of a PG_NOW (PG_STATEMENT_NOW, ...): NULL
 * (the database's clock) when the connection's clock is real, else the
 * injected time as text in buf. Returns NULL or buf.
 */
static inline const char *pg_clock_param(const struct pg_store *ps,
                                         char buf[TIME_RFC3339_LEN])
{
    if (iq_clock_is_real(ps->clock))
        return NULL;
    return time_format_rfc3339(pg_now_ms(ps), buf);
}

/* ------------------------------------------------------------------ */
/* A growable SQL text (postgres/connection.c)                                    */
/* ------------------------------------------------------------------ */

struct sql_text {
    char *data;
    size_t len;
    size_t cap;
    bool failed; /* out of memory: data is unusable */
};

/* pg_sql_append - printf onto text; on OOM text->failed is set and later appends do nothing. */
void pg_sql_append(struct sql_text *text, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* pg_sql_take - the built text (caller frees), NULL when building failed. */
char *pg_sql_take(struct sql_text *text);

/*
 * pg_append_job_column - one JOB_COLUMNS column (enum job_column) over
 * alias as the select list has it (times as RFC 3339 text, depends_on as
 * a JSON array), appended to text.
 */
void pg_append_job_column(struct sql_text *text, int column, const char *alias);

/* ------------------------------------------------------------------ */
/* Running statements (postgres/connection.c)                                     */
/* ------------------------------------------------------------------ */

/*
 * pg_set_db_error - "<what>: <libpq message>" (trailing newline trimmed):
 * IQ_E_CANCELLED when the statement was cancelled (SQLSTATE 57014), else
 * IQ_E_DB. Remembers the SQLSTATE of res in ps->sqlstate. Returns the code.
 */
int pg_set_db_error(struct pg_store *ps, const PGresult *res, const char *what,
                    struct iq_error *err);

/* pg_result_ok - COMMAND_OK or TUPLES_OK. */
bool pg_result_ok(const PGresult *res);

/*
 * pg_exec - run ad hoc sql with text parameters (none: PQexec, which may
 * run a multi-statement script). When it fails because the connection is
 * gone and no transaction or session lock is held, reconnects once and
 * retries. Returns 0 and the result in *ret_res (caller PQclears; ret_res
 * may be NULL to discard it), or a negative code (pg_set_db_error).
 */
int pg_exec(struct pg_store *ps, const char *what, const char *sql, int param_count,
            const char *const *values, PGresult **ret_res, struct iq_error *err);

/*
 * pg_exec_cached - pg_exec of sql prepared on first use on this
 * connection and kept by its text (struct pg_statement_cache): for ad hoc
 * SQL that takes few shapes and runs often (the job list). Keep values
 * out of the text, or every value is a new shape.
 */
int pg_exec_cached(struct pg_store *ps, const char *what, const char *sql, int param_count,
                   const char *const *values, PGresult **ret_res, struct iq_error *err);

/* pg_exec_prepared - pg_exec of a statement prepared once per connection. */
int pg_exec_prepared(struct pg_store *ps, const char *what, enum pg_statement stmt,
                     const char *const *values, PGresult **ret_res, struct iq_error *err);

/* The most statements one pipeline sends (pg_exec_pipeline). */
#define PG_PIPELINE_MAX 24

/* One statement of a pipeline (pg_exec_pipeline). */
struct pg_step {
    const char *what;          /* names it in errors */
    enum pg_statement stmt;    /* a prepared statement, or STMT_NONE: sql */
    const char *sql;           /* STMT_NONE: one statement (no script) */
    int param_count;           /* STMT_NONE: how many values */
    const char *const *values; /* text parameters */
    PGresult *res;             /* set on success: its result (caller PQclears) */
};

/*
 * pg_exec_pipeline - run the count steps in one round trip (libpq pipeline
 * mode: every statement is sent, then one Sync). Like the statements of a
 * script, each takes its own snapshot, so a step after an advisory lock
 * sees everything committed before the lock was granted; without BEGIN,
 * the steps form one implicit transaction. Stops at the first failing
 * step (the server skips the rest) and returns its error (pg_set_db_error);
 * steps[i].res is set for every step that ran (PQclear them, also on
 * failure). ps->in_transaction follows the session afterwards (BEGIN,
 * COMMIT, or an aborted transaction left for pg_tx_rollback). When the
 * connection is gone, nothing was open (no transaction, no session lock)
 * and the steps open a transaction (steps[0] is BEGIN) without ending it,
 * reconnects once and runs them again, as nothing of theirs can have
 * committed.
 */
int pg_exec_pipeline(struct pg_store *ps, struct pg_step *steps, size_t count,
                     struct iq_error *err);

/* pg_tx_begin - BEGIN (may reconnect first, as nothing is open yet). */
int pg_tx_begin(struct pg_store *ps, struct iq_error *err);

/*
 * pg_tx_begin_with - BEGIN plus then_sql (statements without parameters,
 * e.g. SET LOCAL) in one round trip; what names it in errors. On failure
 * nothing is left open.
 */
int pg_tx_begin_with(struct pg_store *ps, const char *what, const char *then_sql,
                     struct iq_error *err);

/*
 * pg_tx_begin_locked - BEGIN plus the transaction advisory lock lock_key
 * (one of the PG_LOCK_* texts) in one round trip. On failure nothing is
 * left open.
 */
int pg_tx_begin_locked(struct pg_store *ps, const char *lock_key, struct iq_error *err);

/* pg_tx_rollback - best effort; keeps the error that caused it. */
void pg_tx_rollback(struct pg_store *ps);

/*
 * pg_tx_finish - COMMIT when rc is 0, else ROLLBACK. Returns rc, or IQ_E_DB
 * when the commit failed (a COMMIT of an aborted transaction answers
 * "ROLLBACK", which is a failure too).
 */
int pg_tx_finish(struct pg_store *ps, int rc, struct iq_error *err);

/* pg_lock_graph - PG_LOCK_JOB_GRAPH until the end of the transaction. */
int pg_lock_graph(struct pg_store *ps, struct iq_error *err);

/*
 * pg_graph_lock_sql - the statement taking PG_LOCK_JOB_GRAPH for a
 * transaction that ends the attempt finish (NULL: any other change):
 * shared for a COMPLETED report, exclusive otherwise (see the lock order
 * above).
 */
const char *pg_graph_lock_sql(const struct job_finish *finish);

/* pg_text_to_int64 - strtoll of a result value, 0 for NULL. */
int64_t pg_text_to_int64(const char *text);

/* ------------------------------------------------------------------ */
/* Jobs (postgres/jobs.c)                                              */
/* ------------------------------------------------------------------ */

/*
 * pg_decode_rows - every row of res into a new array of jobs (*ret_jobs,
 * caller frees each with job_free and the array with free). Rows beyond
 * max_rows are ignored.
 */
int pg_decode_rows(const PGresult *res, size_t max_rows, struct job ***ret_jobs, size_t *ret_count,
                   struct iq_error *err);

/*
 * pg_decode_change - the one row of a statement that changed a job and
 * returned it (the select list's JOBCOL_COUNT columns) followed by the
 * values the columns changes[0..count) had before (as the select list
 * has them): the job after (*ret_after) and before (*ret_before: the
 * after row with those columns as they were), both job_free. No row: two
 * NULLs and 0. Columns past those are ignored.
 */
int pg_decode_change(const PGresult *res, const enum job_column *changes, size_t count,
                     struct job **ret_before, struct job **ret_after, struct iq_error *err);

/*
 * pg_read_job - the job with this id (FOR UPDATE when for_update: only
 * inside a transaction). Returns 0 and a new job (job_free), IQ_E_NOT_FOUND
 * for an unknown or malformed id (SQLSTATE 22P02), IQ_E_DB.
 */
int pg_read_job(struct pg_store *ps, const char *id, bool for_update, struct job **ret_job,
                struct iq_error *err);

int pg_job_create(struct store *s, const struct job_create_request *req,
                  const struct audit_context *actx, struct job **ret_job, bool *ret_existed,
                  struct iq_error *err);
int pg_job_get(struct store *s, const char *id, struct job **ret_job, struct iq_error *err);
int pg_job_get_detail(struct store *s, const char *id, struct job_detail *ret_detail,
                      struct iq_error *err);
int pg_job_update(struct store *s, const char *id, const struct job_spec *spec,
                  const struct audit_context *actx, struct job **ret_job, struct iq_error *err);
int pg_job_cancel(struct store *s, const char *id, const struct audit_context *actx,
                  struct job **ret_job, struct iq_error *err);

/* ------------------------------------------------------------------ */
/* The audit chain (postgres/audit.c)                                  */
/* ------------------------------------------------------------------ */

/*
 * pg_audit_append - append one row (any entity) to the audit hash chain in
 * the caller's transaction. JSON texts are stored byte for byte, NULL
 * allowed. The row is kept and sent with the COMMIT (pg_tx_finish, which
 * takes PG_LOCK_AUDIT first), so end the transaction with pg_tx_finish;
 * more than PG_AUDIT_PENDING_MAX rows are sent early, taking the lock
 * then (held until COMMIT).
 */
int pg_audit_append(struct pg_store *ps, const struct audit_context *actx, const char *action,
                    const char *entity, const char *entity_id, const char *before_json,
                    const char *after_json, struct iq_error *err);

/*
 * pg_audit_tail_reset - forget the transaction's audit state (a pending
 * row is dropped): called when a transaction begins or ends.
 */
void pg_audit_tail_reset(struct pg_store *ps);

/* pg_describe_handoff_clear - forget the table_describe kept for a load. */
void pg_describe_handoff_clear(struct pg_store *ps);

/*
 * pg_audit_pending_steps - the statements that send the pending audit
 * rows (PG_LOCK_AUDIT unless held, then one insert per row) into steps
 * (room for PG_AUDIT_PENDING_MAX + 1). Returns how many; 0 when none.
 * They borrow the pending texts: run them before pg_audit_tail_reset.
 */
size_t pg_audit_pending_steps(struct pg_store *ps, struct pg_step *steps);

/*
 * pg_audit_job_change - one audit row for entity "job" with before/after
 * images (either may be NULL), inside the caller's transaction; takes
 * PG_LOCK_AUDIT, so call it last. Returns 0 or a negative code.
 */
int pg_audit_job_change(struct pg_store *ps, const struct audit_context *actx, const char *action,
                        const struct job *before, const struct job *after, struct iq_error *err);

/* ------------------------------------------------------------------ */
/* Dependencies (postgres/deps.c)                                      */
/* ------------------------------------------------------------------ */

/* What pg_check_dependencies found out about a spec's depends_on. */
struct dep_check {
    char *array_text;             /* "{...}" uuid[] literal, owned */
    int pending;                  /* dependencies not COMPLETED */
    char failed_id[UUID_STR_LEN]; /* first FAILED/CANCELLED one, "" when none */
    char failed_status[16];
};

void pg_dep_check_clear(struct dep_check *check);

/*
 * pg_check_dependencies - validate spec->depends_on for job self_id (NULL
 * for a new job): every dependency must exist (IQ_E_CONFLICT "unknown
 * dependency <id>"); for an existing job none may be the job itself or
 * depend on it (IQ_E_CONFLICT "dependency cycle through <id>"). The
 * dependency rows are locked FOR SHARE until the end of the transaction.
 * Fills *check (pg_dep_check_clear it, also on failure).
 */
int pg_check_dependencies(struct pg_store *ps, const char *self_id, const struct job_spec *spec,
                          struct dep_check *check, struct iq_error *err);

/* pg_insert_dependencies - the edges job_id -> each id in array_text. */
int pg_insert_dependencies(struct pg_store *ps, const char *job_id, const char *array_text,
                           struct iq_error *err);

/* ------------------------------------------------------------------ */
/* The job rules' primitives (common/job_rules.h)                      */
/* ------------------------------------------------------------------ */

/*
 * struct pg_rule_tx - the backend context the job rules pass to
 * pg_job_primitives: the connection (inside its transaction, the lock
 * the caller's wrapper took held) and what check_dependencies locked for
 * write_update. Clear with pg_rule_tx_clear.
 */
struct pg_rule_tx {
    struct pg_store *ps;
    struct dep_check deps;
};

void pg_rule_tx_clear(struct pg_rule_tx *tx);

/* Alerts (postgres/alerts.c): the transaction common/alerts.c's rules run in. */
int pg_alert_tx(struct store *s, enum alert_tx_kind kind, alert_tx_body body, void *ctx,
                struct iq_error *err);
/* Schedules (postgres/schedules.c): the primitives of common/schedule.c's
 * rules and the transaction they run in (store_ops.schedule_tx). */
extern const struct schedule_primitives pg_schedule_primitives;
int pg_schedule_tx(struct store *s, enum schedule_tx_kind kind, schedule_tx_body body, void *ctx,
                   struct iq_error *err);
/* Firing scheduled imports (postgres/schedule_fires.c): store_ops slots. */
int pg_schedule_fire(struct store *s, const struct schedule_fire_request *req,
                     const struct audit_context *actx, struct schedule_fire_result *ret,
                     struct iq_error *err);
int pg_schedules_due(struct store *s, int64_t now_ms, int limit, struct schedule_due_list *ret,
                     struct iq_error *err);
int pg_schedule_fires_list(struct store *s, const char *schedule_id, int limit,
                           const struct schedule_fire_cursor *after,
                           struct schedule_fire_page *ret, struct iq_error *err);
int pg_scheduler_lead(struct store *s, bool *ret_leader, struct iq_error *err);

/* --- the health history (postgres/health.c) --- */
int pg_health_snapshot(struct store *s, int64_t interval_ms, const char *node,
                       struct health_snapshot_result *ret, struct iq_error *err);
int pg_health_compact(struct store *s, const struct health_retention *retention,
                      struct health_compaction *ret, struct iq_error *err);
int pg_health_series(struct store *s, int64_t since_ms, int64_t until_ms, int64_t step_s,
                     struct health_series *ret, struct iq_error *err);
int pg_alert_counts(struct store *s, struct alert_counts *ret, struct iq_error *err);

/* pg_job_primitives - PostgreSQL's table for the job rules (postgres/jobs.c). */
extern const struct job_primitives pg_job_primitives;

/* pg_check_dependency_state - job_primitives.check_dependencies (postgres/deps.c). */
int pg_check_dependency_state(void *backend, const char *self_id, const struct job_spec *spec,
                              struct dependency_state *ret_state, struct iq_error *err);

/*
 * pg_fail_dependants - job_primitives.fail_dependants (postgres/deps.c):
 * every HELD/QUEUED job depending on root_id, directly or not, becomes
 * status (FAILED) with error_text. Rows are locked FOR UPDATE in id order. Fills
 * *ret with before/after images for the audit (job_cascade_clear it,
 * also on failure).
 */
int pg_fail_dependants(void *backend, const char *root_id, enum job_status status,
                       const char *error_text, int64_t now_ms, struct job_cascade *ret,
                       struct iq_error *err);

/* pg_read_dependencies, pg_release_now, pg_rerun - the primitives of
 * execute (postgres/execute.c). */
int pg_read_dependencies(void *backend, const char *id, struct dependency_state *ret_state,
                         struct iq_error *err);
int pg_release_now(void *backend, const char *id, int64_t now_ms, struct iq_error *err);
int pg_rerun(void *backend, const char *id, int deps_pending, int64_t now_ms,
             struct iq_error *err);

/* ------------------------------------------------------------------ */
/* Lists and counts (postgres/list.c)                                  */
/* ------------------------------------------------------------------ */

int pg_job_list(struct store *s, const struct job_filter *filter, struct job_page *ret_page,
                struct iq_error *err);
int pg_job_list_summary(struct store *s, const struct job_filter *filter,
                        struct job_summary_page *ret_page, struct iq_error *err);
int pg_explain_job_list(struct store *s, const struct job_filter *filter, char **ret_plan,
                        struct iq_error *err);
int pg_queue_stats(struct store *s, int64_t now_ms, struct queue_stats *ret_stats,
                   struct iq_error *err);

/* ------------------------------------------------------------------ */
/* Imports (postgres/load/describe.c, store_pg_load*.c)                     */
/* ------------------------------------------------------------------ */

int pg_table_describe(struct store *s, const char *table, struct table_info *ret_info,
                      struct iq_error *err);
/* The load slots (connection.c): every load of this backend carries them. */
extern const struct load_ops pg_load_ops;
/* The dry run's counting steps (postgres/load/preview.c, common/load_preview.h). */
extern const struct load_preview_primitives pg_load_preview_primitives;
int pg_load_begin(struct store *s, const struct load_plan *plan, struct load **ret_load,
                  struct iq_error *err);
int pg_load_rows(struct load *load, int part, const char *const *values, const int64_t *lines,
                 size_t row_count, struct iq_error *err);
int pg_load_check(struct load *load, load_reject_cb reject_cb, void *ctx, int64_t *ret_rejected,
                  struct iq_error *err);
int pg_load_promote(struct load *load, struct load_result *ret_result, struct iq_error *err);
int pg_load_commit(struct load *load, struct iq_error *err);
void pg_load_abort(struct load *load);

/* ------------------------------------------------------------------ */
/* Running jobs (postgres/claim.c, postgres/finish.c, ...)             */
/* ------------------------------------------------------------------ */

/*
 * pg_claim_next_in_tx - inside the caller's transaction (a load's commit
 * with finish_on_commit): PG_LOCK_CLAIM and one claim for req->worker,
 * the job's orchestration and its "job.started" audit row, as a claim
 * round of one. *ret_job: the started job (job_free) or NULL.
 */
int pg_claim_next_in_tx(struct pg_store *ps, const struct claim_request *req,
                        const struct audit_context *actx, struct job **ret_job,
                        struct iq_error *err);
int pg_job_claim_batch(struct store *s, const struct claim_request *req,
                       const char *const *workers, int worker_count,
                       const struct audit_context *actx, struct job **ret_jobs, int *ret_claimed,
                       struct iq_error *err);
int pg_job_heartbeat(struct store *s, const char *job_id, const char *worker, int attempt,
                     int64_t lease_ms, const struct job_progress *progress,
                     bool *ret_cancel_requested, struct iq_error *err);

/*
 * pg_finish_attempt - end the attempt finish describes, inside the
 * caller's transaction, which must already hold PG_LOCK_JOB_GRAPH (lock
 * order). Locks the job row, checks it is RUNNING under finish->worker
 * and finish->attempt (else IQ_E_STALE), records the attempt, frees its
 * locks, moves the job on (COMPLETED, re-queued, FAILED, CANCELLED) with
 * the dependants, writes the phase timings, the audit rows (action, or
 * the outcome's own "job.completed"/"job.failed"/"job.retried"/
 * "job.cancelled" when action is NULL) and NOTIFY importq (sent at
 * COMMIT). *ret_job (may be NULL) gets the job as it is now (job_free).
 * Used by job_finish, jobs_rescue and load_commit's finish_on_commit.
 */
int pg_finish_attempt(struct pg_store *ps, const struct job_finish *finish, const char *action,
                      const struct audit_context *actx, struct job **ret_job, struct iq_error *err);

/*
 * pg_finish_attempt_locking - pg_finish_attempt (its own outcome as the
 * action, no job back) in a transaction that does not hold
 * PG_LOCK_JOB_GRAPH yet: it is taken in the same round trip as the
 * record (a COMPLETED report: only when the job has dependants, see
 * postgres/finish.c) or the job row's read (any other). Used by
 * load_commit's finish_on_commit.
 */
int pg_finish_attempt_locking(struct pg_store *ps, const struct job_finish *finish,
                              const struct audit_context *actx, struct iq_error *err);

int pg_job_finish(struct store *s, const struct job_finish *finish,
                  const struct audit_context *actx, struct job **ret_job, struct iq_error *err);
int pg_jobs_rescue(struct store *s, int64_t lease_ms, retry_backoff_cb backoff_cb,
                   void *backoff_ctx, const struct audit_context *actx, int *ret_rescued,
                   struct iq_error *err);
int pg_job_execute(struct store *s, const char *id, const struct audit_context *actx,
                   struct job **ret_job, struct iq_error *err);
int pg_job_rejects_add(struct store *s, const char *job_id, int attempt,
                       const struct job_reject_row *rows, size_t count, struct iq_error *err);
int pg_job_rejects_each(struct store *s, const char *job_id, job_reject_row_cb cb, void *ctx,
                        struct iq_error *err);
int pg_locks_list(struct store *s, struct lock_list *ret_list, struct iq_error *err);
int pg_lock_release(struct store *s, const char *lock_id, const struct audit_context *actx,
                    struct iq_error *err);
int pg_node_register(struct store *s, const struct node_info *node, struct iq_error *err);
int pg_node_heartbeat(struct store *s, const char *node_id, const char *status,
                      struct iq_error *err);
int pg_nodes_mark_dead(struct store *s, int64_t dead_after_ms, int *ret_marked,
                       struct iq_error *err);
int pg_nodes_list(struct store *s, struct node_list *ret_list, struct iq_error *err);

/*
 * pg_notify_work - NOTIFY importq with payload reason (delivered at COMMIT
 * when inside a transaction, at once otherwise), so idle workers wake.
 */
int pg_notify_work(struct pg_store *ps, const char *reason, struct iq_error *err);

int pg_wait_for_work(struct store *s, int timeout_ms, bool *ret_woken, struct iq_error *err);

/* ------------------------------------------------------------------ */
/* The API's own records (postgres/tokens.c, audit_read.c, uploads.c) */
/* ------------------------------------------------------------------ */

int pg_token_create(struct store *s, const struct token_info *info,
                    const struct audit_context *actx, struct iq_error *err);
int pg_token_list(struct store *s, bool include_revoked, struct token_list *ret_list,
                  struct iq_error *err);
int pg_token_revoke(struct store *s, const char *name, const struct audit_context *actx,
                    struct iq_error *err);
int pg_token_touch(struct store *s, const char *token_id, int64_t at_ms, struct iq_error *err);
int pg_audit_list(struct store *s, const struct audit_filter *filter, struct audit_page *ret_page,
                  struct iq_error *err);
int pg_audit_verify(struct store *s, struct audit_verify_result *ret_result, struct iq_error *err);
int pg_upload_create(struct store *s, const struct upload_info *info,
                     const struct audit_context *actx, struct iq_error *err);
int pg_upload_get(struct store *s, const char *id, struct upload_info *ret_info,
                  struct iq_error *err);
int pg_uploads_expired(struct store *s, int64_t cutoff_ms, struct upload_list *ret_list,
                       struct iq_error *err);
int pg_upload_delete(struct store *s, const char *id, struct iq_error *err);

/* ------------------------------------------------------------------ */
/* Orchestrations and phase timings (postgres/orchestrations.c,        */
/* postgres/phases.c), and the capacity check they share (jobs.c)      */
/* ------------------------------------------------------------------ */

/*
 * pg_orchestrations_refresh - after job (may be NULL) and the jobs of
 * cascade (may be NULL) changed status in the caller's transaction:
 * recompute and store the aggregate status of each orchestration they
 * belong to (none: no statement at all). Locks each orchestration row
 * FOR UPDATE, in id order, then counts its jobs in a fresh statement (see
 * the lock order above). Call it after the job changes, before the audit.
 */
int pg_orchestrations_refresh(struct pg_store *ps, const struct job *job,
                              const struct job_cascade *cascade, struct iq_error *err);

/*
 * pg_orchestration_mark_running - a claim started a job of
 * orchestration_id, which is therefore RUNNING whatever its other jobs
 * do (core/orchestration.h): one UPDATE, no count, as the claim is the
 * cluster's serial point. Nothing for NULL.
 */
int pg_orchestration_mark_running(struct pg_store *ps, const char *orchestration_id,
                                  struct iq_error *err);

int pg_orchestration_create(struct store *s, const struct orchestration_request *req,
                            const struct audit_context *actx, struct orchestration *ret_orch,
                            struct iq_error *err);
int pg_orchestration_get(struct store *s, const char *id, struct orchestration *ret_orch,
                         struct iq_error *err);
int pg_orchestration_list(struct store *s, int limit, const char *after_id,
                          struct orchestration_page *ret_page, struct iq_error *err);
int pg_job_phases(struct store *s, const char *job_id, struct job_phase_list *ret_list,
                  struct iq_error *err);
int pg_perf_attempts(struct store *s, const struct perf_window *window, struct perf_attempts *ret,
                     struct iq_error *err);
int pg_lock_holds(struct store *s, const struct perf_window *window, struct lock_holds *ret,
                  struct iq_error *err);
int pg_lock_history_prune(struct store *s, int64_t cutoff_ms, int64_t *ret_deleted,
                          struct iq_error *err);
int pg_perf_prune(struct store *s, int64_t cutoff_ms, int limit, int64_t *ret_deleted,
                  struct iq_error *err);
int pg_alert_prune(struct store *s, int64_t cutoff_ms, int limit, int64_t *ret_deleted,
                   struct iq_error *err);

/* pg_interrupt - see store_ops.interrupt (postgres/connection.c). */
void pg_interrupt(struct store *s);

#endif
