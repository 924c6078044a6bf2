/*
 * sqlite/connection.c - the SQLite backend of the store interface (store.h):
 * the connection, the statement cache and stepping helpers, transactions,
 * migrations and the ops table. Jobs, dependencies, the audit chain, lists
 * and loads live in the other store_sqlite_*.c files (see
 * sqlite/internal.h for the map).
 *
 * One struct sqlite_store is one SQLite connection, opened with
 * SQLITE_OPEN_NOMUTEX: SQLite does no locking of its own for it, so a
 * connection belongs to one thread at a time (every thread opens its own).
 * Concurrency between connections and processes comes from the database
 * file: WAL lets readers run beside the one writer, busy_timeout makes a
 * writer wait for the lock instead of failing, and every write transaction
 * starts with BEGIN IMMEDIATE, so it takes the write lock before it reads
 * anything. A deferred transaction that upgrades from reader to writer is
 * how SQLITE_BUSY deadlocks happen; none exists here. The write lock also
 * serialises the audit chain: reading its head and appending the next row
 * happen under it, in the same transaction as the change recorded.
 *
 * Rows are selected as text in JOB_COLUMNS order and turned into struct
 * job by the shared decoder (store.c), so both backends return identical
 * jobs. Times are RFC 3339 UTC text with milliseconds, which sorts as time
 * sorts. What is not here: scheduling policy (that is the engine's), and
 * SQL for other backends.
 */
#include "store/sqlite/internal.h"

#include "store/common/migrations.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * busy_timeout_of - how long a connection in role waits for the write lock
 * (SQLite's busy timeout; also the longest wait at the write gate):
 *   default    5 s;
 *   worker     60 s: a load waits for the one writer (another job's
 *              promote) rather than failing its job with "database is
 *              locked": loads on SQLite take turns anyway. The price:
 *              SQLite's busy wait does not see sqlite3_interrupt, so a
 *              cancel that arrives while a load waits for the lock takes
 *              effect once the wait ends;
 *   heartbeat  1 s: a beat must not hang behind a long write; one that
 *              cannot get in is retried at the next tick;
 *   request    10 s: an HTTP request waits out a promote.
 */
static int busy_timeout_of(enum store_role role)
{
    switch (role) {
    case STORE_ROLE_WORKER:
        return 60000;
    case STORE_ROLE_HEARTBEAT:
        return 1000;
    case STORE_ROLE_REQUEST:
        return 10000;
    case STORE_ROLE_DEFAULT:
        break;
    }
    return 5000;
}

/* The SQL of each cached statement, indexed by enum statement. */
static const char *const statement_sql[STMT_COUNT] = {
#define STATEMENT_SQL(name, sql) sql,
    STATEMENTS(STATEMENT_SQL)
#undef STATEMENT_SQL
};

static const struct store_ops sqlite_store_ops;

/* sqlite_db_error - IQ_E_DB "<what>: <SQLite's last message>". Returns IQ_E_DB.
 */
int sqlite_db_error(struct sqlite_store *s, const char *what, struct iq_error *err)
{
    return iq_error_set(err, IQ_E_DB, "%s: %s", what, sqlite3_errmsg(s->db));
}

/* ------------------------------------------------------------------------
 * Statements, binding and stepping
 * ------------------------------------------------------------------------ */

/*
 * sqlite_stmt_get - the cached statement id, prepared on first use. Returns it
 * reset and unbound (owned by the connection: never finalize it), or NULL
 * with err set.
 */
sqlite3_stmt *sqlite_stmt_get(struct sqlite_store *s, enum statement id, struct iq_error *err)
{
    if (!s->statements[id]) {
        int rc = sqlite3_prepare_v3(s->db, statement_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->statements[id], NULL);
        if (rc != SQLITE_OK) {
            sqlite_db_error(s, "prepare statement", err);
            sqlite3_finalize(s->statements[id]);
            s->statements[id] = NULL;
            return NULL;
        }
    }
    stmt_release(s->statements[id]);
    return s->statements[id];
}

/* sqlite_binder_check - 0, or IQ_E_DB when any bind failed (the statement is
 * released). */
int sqlite_binder_check(struct sqlite_store *s, struct binder *b, struct iq_error *err)
{
    if (b->rc == SQLITE_OK)
        return 0;
    int rc = sqlite_db_error(s, "bind parameter", err);
    stmt_release(b->stmt);
    return rc;
}

/*
 * sqlite_stmt_run - step a statement that returns no rows to completion, then
 * release it. Returns 0 or IQ_E_DB ("<what>: <message>").
 */
int sqlite_stmt_run(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what,
                    struct iq_error *err)
{
    int rc = sqlite3_step(stmt);
    int ret = 0;
    if (rc != SQLITE_DONE)
        ret = sqlite_db_error(s, what, err);
    stmt_release(stmt);
    return ret;
}

/*
 * sqlite_stmt_next - step once. Returns 1 with a row to read, 0 when done,
 * IQ_E_DB on failure. On 0 and on failure the statement is released; after a 1
 * the caller releases it once it stops reading.
 */
int sqlite_stmt_next(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what,
                     struct iq_error *err)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        return 1;
    int ret = rc == SQLITE_DONE ? 0 : sqlite_db_error(s, what, err);
    stmt_release(stmt);
    return ret;
}

/* sqlite_run_cached - bindless cached statement run to completion (BEGIN,
 * COMMIT ...). */
int sqlite_run_cached(struct sqlite_store *s, enum statement id, const char *what,
                      struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, id, err);
    if (!stmt)
        return IQ_E_DB;
    return sqlite_stmt_run(s, stmt, what, err);
}

int sqlite_read_cached_int64(struct sqlite_store *s, enum statement id, const char *what,
                             int64_t *ret_value, struct iq_error *err)
{
    *ret_value = 0;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, id, err);
    return stmt ? sqlite_read_int64(s, stmt, what, ret_value, err) : IQ_E_DB;
}

/*
 * sqlite_column_text_or_error - sqlite3_column_text, telling SQL NULL (returns
 * NULL, *ret_ok true) from an allocation failure (NULL, *ret_ok false). The
 * type is asked first: after a text conversion it would be undefined.
 */
const char *sqlite_column_text_or_error(sqlite3_stmt *stmt, int column, bool *ret_ok)
{
    bool is_null = sqlite3_column_type(stmt, column) == SQLITE_NULL;
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    *ret_ok = text || is_null;
    return text;
}

/* sqlite_read_int64 - run a one-row, one-integer statement (already bound). */
int sqlite_read_int64(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what,
                      int64_t *ret_value, struct iq_error *err)
{
    *ret_value = 0;
    int rc = sqlite_stmt_next(s, stmt, what, err);
    if (rc <= 0)
        return rc;
    *ret_value = sqlite3_column_int64(stmt, 0);
    stmt_release(stmt);
    return 0;
}

/*
 * sqlite_run_id_statement - bind, in order, id (unless NULL) and now_ms as
 * RFC 3339 text (unless 0) to the cached statement id_stmt and run it to
 * completion. *ret_changes (may be NULL): rows it changed.
 */
int sqlite_run_id_statement(struct sqlite_store *s, enum statement id_stmt, const char *id,
                            int64_t now_ms, const char *what, int *ret_changes,
                            struct iq_error *err)
{
    if (ret_changes)
        *ret_changes = 0;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, id_stmt, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    if (id)
        bind_text(&b, id);
    if (now_ms)
        bind_time(&b, now_ms);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, what, err);
    if (rc == 0 && ret_changes)
        *ret_changes = sqlite3_changes(s->db);
    return rc;
}

/* ------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------ */

/*
 * WAL checkpoints. SQLite's default is to checkpoint inside the COMMIT
 * that takes the WAL past 1,000 pages, in the committing connection, so
 * it would run while that connection still holds the write gate and
 * every other writer of the process waits (measured: 7% of a node's time
 * on one-row jobs went to checkpoints inside the gate). Instead the WAL
 * hook only notes the WAL's length, and the committing thread, right
 * after leaving the gate, runs a PASSIVE checkpoint (it never waits for
 * readers or writers) each time the WAL has grown by
 * SQLITE_CHECKPOINT_PAGES since the last one (any connection's of this
 * process: the gate keeps count). Not after every commit past that
 * length, as SQLite's own rule does while readers keep the WAL from
 * starting over: then nearly every one-row job copied its pages back
 * and synced the database file (one fdatasync per job).
 *
 * A PASSIVE checkpoint copies pages back but never starts the WAL over:
 * that needs a moment with no reader on it, which eight busy workers
 * never leave (measured: the WAL grew to 790 MB in a 6,000-job run, and
 * writing ever new file pages cost a tenth of the node's time). So past
 * SQLITE_WAL_RESTART_PAGES (40 MB) the committing thread takes the gate
 * again and runs a RESTART checkpoint, which waits (busy_timeout) for the
 * readers of the moment to finish and lets the next writer reuse the WAL
 * from its start.
 */
#define SQLITE_CHECKPOINT_PAGES 1000
#define SQLITE_WAL_RESTART_PAGES 10000

static int wal_hook_cb(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)db;
    (void)name;
    struct sqlite_store *s = arg;
    s->wal_pages = pages;
    return SQLITE_OK;
}

/* checkpoint_if_due - the checkpoint the WAL's length calls for, outside
 * any transaction (best effort: a failed one is tried after the next
 * commit). */
static void checkpoint_if_due(struct sqlite_store *s)
{
    int pages = s->wal_pages;
    if (pages < SQLITE_CHECKPOINT_PAGES || !sqlite3_get_autocommit(s->db))
        return;
    s->wal_pages = 0;
    if (pages < SQLITE_WAL_RESTART_PAGES) {
        if (sqlite_gate_checkpoint_due(s, pages, SQLITE_CHECKPOINT_PAGES))
            (void)sqlite3_wal_checkpoint_v2(s->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return;
    }
    struct iq_error err = {0};
    if (sqlite_gate_enter(s, s->busy_ms, &err) == 0) {
        (void)sqlite3_wal_checkpoint_v2(s->db, "main", SQLITE_CHECKPOINT_RESTART, NULL, NULL);
        sqlite_gate_leave(s);
    }
    iq_error_clear(&err);
}

/* sqlite_tx_begin - the write gate, then BEGIN IMMEDIATE: take the write
 * lock now (each waits up to busy_timeout). */
int sqlite_tx_begin(struct sqlite_store *s, struct iq_error *err)
{
    int rc = sqlite_gate_enter(s, s->busy_ms, err);
    if (rc == 0)
        rc = sqlite_run_cached(s, STMT_BEGIN_WRITE, "begin write transaction", err);
    if (rc < 0)
        sqlite_gate_leave(s);
    return rc;
}

int sqlite_tx_commit(struct sqlite_store *s, const char *what, struct iq_error *err)
{
    int rc = sqlite_run_cached(s, STMT_COMMIT, what, err);
    if (sqlite3_get_autocommit(s->db)) {
        sqlite_gate_leave(s);
        checkpoint_if_due(s);
    }
    return rc;
}

/*
 * sqlite_tx_rollback - roll back the open transaction, if SQLite has not
 * already done so itself (it does after some errors). A failing ROLLBACK cannot
 * be reported better than the error that led here, which err already holds.
 */
void sqlite_tx_rollback(struct sqlite_store *s)
{
    if (sqlite3_get_autocommit(s->db)) {
        sqlite_gate_leave(s);
        return;
    }
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_ROLLBACK, NULL);
    if (stmt)
        (void)sqlite_stmt_run(s, stmt, "rollback", NULL);
    if (!sqlite3_get_autocommit(s->db))
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    if (sqlite3_get_autocommit(s->db))
        sqlite_gate_leave(s);
}

/*
 * sqlite_tx_finish - COMMIT when rc is 0, else roll back. Returns rc, or
 * IQ_E_DB when the commit itself fails (then rolled back too). A positive rc is
 * a bug in this file (a helper's "no row" escaped): rolled back, IQ_E_INTERNAL.
 */
int sqlite_tx_finish(struct sqlite_store *s, int rc, struct iq_error *err)
{
    if (rc > 0)
        rc = iq_error_set(err, IQ_E_INTERNAL, "store_sqlite: unexpected status %d", rc);
    if (rc == 0)
        rc = sqlite_tx_commit(s, "commit", err);
    if (rc < 0)
        sqlite_tx_rollback(s);
    return rc;
}

/* ------------------------------------------------------------------------
 * Connection lifetime and migrations
 * ------------------------------------------------------------------------ */

/*
 * check_parent_dir - the directory part of path must exist: a database is
 * never given directories nobody asked for (a typo in --db would otherwise
 * create a tree; the CLI makes the default var/ itself). IQ_E_DB names it.
 */
static int check_parent_dir(const char *path, struct iq_error *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char *dir = strndup(path, (size_t)(slash - path));
    if (!dir)
        return nomem(err);
    struct stat st;
    int rc = 0;
    if (stat(dir, &st) < 0)
        rc = iq_error_set(err, IQ_E_DB, "database %s: directory %s: %s (create it first)", path,
                          dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        rc = iq_error_set(err, IQ_E_DB, "database %s: %s is not a directory", path, dir);
    free(dir);
    return rc;
}

static void sqlite_close(struct store *base)
{
    struct sqlite_store *s = to_sqlite(base);
    if (!s)
        return;
    sqlite_gate_detach(s);
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(s->statements[i]);
    /* close_v2 cannot fail with BUSY; every statement is finalized above. */
    (void)sqlite3_close_v2(s->db);
    free(s);
}

/* exec_pragma - run one PRAGMA (or any rowless SQL) at open. */
static int exec_pragma(struct sqlite_store *s, const char *path, const char *sql,
                       struct iq_error *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return iq_error_set(err, IQ_E_DB, "SQLite database %s: %s: %s", path, sql,
                            sqlite3_errmsg(s->db));
    return 0;
}

/* enable_wal - journal_mode=WAL, checking SQLite accepted it ("memory" for
 * :memory:). */
static int enable_wal(struct sqlite_store *s, const char *path, struct iq_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    int ret = 0;
    if (rc != SQLITE_ROW) {
        ret = iq_error_set(err, IQ_E_DB, "SQLite database %s: cannot enable WAL: %s", path,
                           sqlite3_errmsg(s->db));
    } else {
        const char *mode = (const char *)sqlite3_column_text(stmt, 0);
        if (!mode || (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0))
            ret = iq_error_set(err, IQ_E_DB, "SQLite database %s: journal mode is %s, not wal",
                               path, mode ? mode : "unknown");
    }
    sqlite3_finalize(stmt);
    return ret;
}

/*
 * store_sqlite_open - open (creating it when missing, in a directory that exists) the
 * database at path, one connection for the calling thread. Returns 0 and a
 * new store (store_close), or IQ_E_DB naming the path and SQLite's message.
 */
int store_sqlite_open(const char *path, const struct store_options *opts, struct store **ret_store,
                      struct iq_error *err)
{
    *ret_store = NULL;
    int busy_ms = opts && opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms
                                                    : busy_timeout_of(opts ? opts->role : 0);
    if (strcmp(path, ":memory:") != 0) {
        int rc = check_parent_dir(path, err);
        if (rc < 0)
            return rc;
    }
    struct sqlite_store *s = calloc(1, sizeof(*s));
    if (!s)
        return nomem(err);
    s->base.ops = &sqlite_store_ops;
    s->clock = opts ? opts->clock : NULL;
    atomic_init(&s->interrupted, false);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        rc = iq_error_set(err, IQ_E_DB, "cannot open SQLite database %s: %s", path,
                          s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    s->busy_ms = busy_ms;
    if (sqlite3_busy_timeout(s->db, busy_ms) != SQLITE_OK) {
        rc = iq_error_set(err, IQ_E_DB, "SQLite database %s: busy_timeout: %s", path,
                          sqlite3_errmsg(s->db));
        goto fail;
    }
    if ((rc = enable_wal(s, path, err)) < 0 ||
        (rc = exec_pragma(s, path, "PRAGMA synchronous=NORMAL", err)) < 0 ||
        (rc = exec_pragma(s, path, "PRAGMA foreign_keys=ON", err)) < 0 ||
        (rc = sqlite_gate_attach(s, err)) < 0)
        goto fail;
    sqlite3_wal_hook(s->db, wal_hook_cb, s);
    *ret_store = &s->base;
    return 0;

fail:
    sqlite_close(&s->base);
    return rc;
}

/* max_version - highest recorded migration (0 when none), version table must
 * exist. */
static int max_version(struct sqlite_store *s, int *ret_version, struct iq_error *err)
{
    sqlite3_stmt *stmt = NULL;
    *ret_version = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM importq_schema_version",
                           -1, &stmt, NULL) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return sqlite_db_error(s, "read schema version", err);
    }
    int64_t version;
    int rc = sqlite_read_int64(s, stmt, "read schema version", &version, err);
    sqlite3_finalize(stmt);
    *ret_version = (int)version;
    return rc;
}

/* migrate_locked - the body of migrate, inside BEGIN IMMEDIATE. */
static int migrate_locked(struct sqlite_store *s, int *ret_applied, struct iq_error *err)
{
    if (sqlite3_exec(s->db,
                     "CREATE TABLE IF NOT EXISTS importq_schema_version ("
                     " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                     " applied_at TEXT NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK)
        return sqlite_db_error(s, "create importq_schema_version", err);
    int current;
    int rc = max_version(s, &current, err);
    if (rc < 0)
        return rc;
    char now[TIME_RFC3339_LEN];
    time_format_rfc3339(sqlite_now_ms(s), now);
    for (const struct migration *m = migrations_sqlite; m->sql; m++) {
        if (m->version <= current)
            continue;
        if (sqlite3_exec(s->db, m->sql, NULL, NULL, NULL) != SQLITE_OK)
            return iq_error_set(err, IQ_E_DB, "migration %03d_%s: %s", m->version, m->name,
                                sqlite3_errmsg(s->db));
        sqlite3_stmt *stmt = NULL;
        if (sqlite3_prepare_v2(s->db,
                               "INSERT INTO importq_schema_version (version, name, applied_at)"
                               " VALUES (?1, ?2, ?3)",
                               -1, &stmt, NULL) != SQLITE_OK) {
            sqlite3_finalize(stmt);
            return sqlite_db_error(s, "record migration", err);
        }
        struct binder b = binder_start(stmt);
        bind_int64(&b, m->version);
        bind_text(&b, m->name);
        bind_text(&b, now);
        rc = sqlite_binder_check(s, &b, err);
        if (rc == 0)
            rc = sqlite_stmt_run(s, stmt, "record migration", err);
        sqlite3_finalize(stmt);
        if (rc < 0)
            return rc;
        (*ret_applied)++;
    }
    return 0;
}

/*
 * sqlite_migrate - apply every embedded migration above the recorded
 * version, each script with its version row, all in one BEGIN IMMEDIATE
 * transaction (so concurrent processes serialise and a failure leaves the
 * schema as it was). *ret_applied = how many ran (0 when none was pending).
 */
static int sqlite_migrate(struct store *base, int *ret_applied, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    int applied = 0;
    if (ret_applied)
        *ret_applied = 0;
    int rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    rc = sqlite_tx_finish(s, migrate_locked(s, &applied, err), err);
    if (rc == 0 && ret_applied)
        *ret_applied = applied;
    return rc;
}

/* sqlite_schema_version - max recorded version; 0 before the first migrate. */
static int sqlite_schema_version(struct store *base, int *ret_version, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    *ret_version = 0;
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT count(*) FROM sqlite_master"
                           " WHERE type = 'table' AND name = 'importq_schema_version'",
                           -1, &stmt, NULL) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return sqlite_db_error(s, "read schema version", err);
    }
    int64_t exists;
    int rc = sqlite_read_int64(s, stmt, "read schema version", &exists, err);
    sqlite3_finalize(stmt);
    if (rc < 0 || !exists)
        return rc;
    return max_version(s, ret_version, err);
}

/* sqlite_role_is_superuser - see store_ops.role_is_superuser: SQLite has no roles. */
static int sqlite_role_is_superuser(struct store *base, bool *ret_superuser, struct iq_error *err)
{
    (void)base;
    (void)err;
    *ret_superuser = false;
    return 0;
}

static const struct store_ops sqlite_store_ops = {
    .name = "sqlite",
    .capabilities = STORE_CAP_CHAIN_CLAIMS | STORE_CAP_NUMERIC_IS_DOUBLE,
    .close = sqlite_close,
    .migrate = sqlite_migrate,
    .schema_version = sqlite_schema_version,
    .role_is_superuser = sqlite_role_is_superuser,
    .job_create = sqlite_job_create,
    .job_get = sqlite_job_get,
    .job_list = sqlite_job_list,
    .job_list_summary = sqlite_job_list_summary,
    .job_update = sqlite_job_update,
    .job_cancel = sqlite_job_cancel,
    .queue_stats = sqlite_queue_stats,
    .explain_job_list = sqlite_explain_job_list,
    .table_describe = sqlite_table_describe,
    .load_begin = sqlite_load_begin,
    .job_claim_batch = sqlite_job_claim_batch,
    .job_heartbeat = sqlite_job_heartbeat,
    .job_finish = sqlite_job_finish,
    .job_execute = sqlite_job_execute,
    .jobs_rescue = sqlite_jobs_rescue,
    .job_rejects_add = sqlite_job_rejects_add,
    .job_rejects_each = sqlite_job_rejects_each,
    .locks_list = sqlite_locks_list,
    .lock_release = sqlite_lock_release,
    .node_register = sqlite_node_register,
    .node_heartbeat = sqlite_node_heartbeat,
    .nodes_mark_dead = sqlite_nodes_mark_dead,
    .nodes_list = sqlite_nodes_list,
    .wait_for_work = sqlite_wait_for_work,
    .token_create = sqlite_token_create,
    .token_list = sqlite_token_list,
    .token_revoke = sqlite_token_revoke,
    .token_touch = sqlite_token_touch,
    .audit_list = sqlite_audit_list,
    .audit_verify = sqlite_audit_verify,
    .upload_create = sqlite_upload_create,
    .upload_get = sqlite_upload_get,
    .uploads_expired = sqlite_uploads_expired,
    .upload_delete = sqlite_upload_delete,
    .orchestration_create = sqlite_orchestration_create,
    .orchestration_get = sqlite_orchestration_get,
    .orchestration_list = sqlite_orchestration_list,
    .job_phases = sqlite_job_phases,
    .job_dependents = sqlite_job_dependents,
    .perf_attempts = sqlite_perf_attempts,
    .lock_holds = sqlite_lock_holds,
    .lock_history_prune = sqlite_lock_history_prune,
    .perf_prune = sqlite_perf_prune,
    .alert_prune = sqlite_alert_prune,
    .interrupt = sqlite_interrupt,
    .schedule_primitives = &sqlite_schedule_primitives,
    .schedule_tx = sqlite_schedule_tx,
    .schedule_fire = sqlite_schedule_fire,
    .schedules_due = sqlite_schedules_due,
    .schedule_fires_list = sqlite_schedule_fires_list,
    .scheduler_lead = sqlite_scheduler_lead,
    .alert_tx = sqlite_alert_tx,
    .health_snapshot = sqlite_health_snapshot,
    .health_compact = sqlite_health_compact,
    .health_series = sqlite_health_series,
    .alert_counts = sqlite_alert_counts,
};

const struct load_ops sqlite_load_ops = {
    .rows = sqlite_load_rows,
    .check = sqlite_load_check,
    .promote = sqlite_load_promote,
    .commit = sqlite_load_commit,
    .abort = sqlite_load_abort,
    .preview = &sqlite_load_preview_primitives,
};
