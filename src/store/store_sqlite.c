/*
 * store_sqlite.c - the SQLite backend of the store interface (store.h).
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
#include "store/store_internal.h"

#include "core/timeutil.h"
#include "store/migrations.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SQLITE_BUSY_TIMEOUT_DEFAULT_MS 5000
#define DAY_MS (24 * 3600 * INT64_C(1000))

/*
 * The select list of a job row, built at compile time from JOB_COLUMNS:
 * q.<column> for stored columns, a sorted JSON array of dependency ids for
 * the computed one. The computed column must be last (it carries no comma).
 */
#define SQL_COLUMN_COLKIND_TEXT(column) "q." column ", "
#define SQL_COLUMN_COLKIND_INT(column) "q." column ", "
#define SQL_COLUMN_COLKIND_BOOL(column) "q." column ", "
#define SQL_COLUMN_COLKIND_TIME(column) "q." column ", "
#define SQL_COLUMN_COLKIND_JSON(column) "q." column ", "
#define SQL_COLUMN_COLKIND_DEPS(column)                                                            \
    "(SELECT json_group_array(depends_on_id) FROM (SELECT depends_on_id"                           \
    " FROM importq_job_deps d WHERE d.job_id = q.id ORDER BY depends_on_id)) AS " column
#define SQL_COLUMN(name, column, kind) SQL_COLUMN_##kind(column)
#define JOB_SELECT "SELECT " JOB_COLUMNS(SQL_COLUMN) " FROM stg_import_queue q"

_Static_assert(JOBCOL_DEPENDS_ON == JOBCOL_COUNT - 1,
               "the computed depends_on column must be the last of JOB_COLUMNS");

/*
 * The statements of the hot paths, prepared once per connection on first
 * use (SQLITE_PREPARE_PERSISTENT) and finalized on close. Parameters are
 * numbered in the order the code binds them.
 */
#define STATEMENTS(X)                                                                              \
    X(BEGIN_WRITE, "BEGIN IMMEDIATE")                                                              \
    X(BEGIN_READ, "BEGIN DEFERRED")                                                                \
    X(COMMIT, "COMMIT")                                                                            \
    X(ROLLBACK, "ROLLBACK")                                                                        \
    X(JOB_BY_ID, JOB_SELECT " WHERE q.id = ?1")                                                    \
    X(JOB_BY_REQUEST_ID, JOB_SELECT " WHERE q.request_id = ?1")                                    \
    X(JOB_STATUS, "SELECT status FROM stg_import_queue WHERE id = ?1")                             \
    X(COUNT_WAITING, "SELECT count(*) FROM stg_import_queue WHERE status IN ('QUEUED', 'HELD')")   \
    X(JOB_INSERT,                                                                                  \
      "INSERT INTO stg_import_queue (id, request_id, name, status, priority,"                      \
      " orchestration_id, schedule_id, scheduled_at, available_at, deps_pending,"                  \
      " max_attempts, timeout_s, resources, source, target, on_error, target_table,"               \
      " error, created_by, created_at, updated_at, finished_at)"                                   \
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"            \
      " ?17, ?18, ?19, ?20, ?21, ?22)")                                                            \
    X(JOB_UPDATE,                                                                                  \
      "UPDATE stg_import_queue SET name = ?2, priority = ?3, scheduled_at = ?4,"                   \
      " available_at = ?5, deps_pending = ?6, max_attempts = ?7, timeout_s = ?8,"                  \
      " resources = ?9, source = ?10, target = ?11, on_error = ?12, target_table = ?13,"           \
      " status = coalesce(?14, status), error = coalesce(?15, error),"                             \
      " finished_at = coalesce(?16, finished_at), updated_at = ?17"                                \
      " WHERE id = ?1 AND status IN ('HELD', 'QUEUED')")                                           \
    X(JOB_FINISH_WAITING, "UPDATE stg_import_queue SET status = ?2, error = ?3, finished_at = ?4," \
                          " updated_at = ?4 WHERE id = ?1 AND status IN ('HELD', 'QUEUED')")       \
    X(JOB_REQUEST_CANCEL, "UPDATE stg_import_queue SET cancel_requested = 1, updated_at = ?2"      \
                          " WHERE id = ?1 AND status = 'RUNNING' AND cancel_requested = 0")        \
    X(DEP_INSERT, "INSERT INTO importq_job_deps (job_id, depends_on_id) VALUES (?1, ?2)")          \
    X(DEPS_DELETE, "DELETE FROM importq_job_deps WHERE job_id = ?1")                               \
    X(DEP_REACHES, "WITH RECURSIVE reach(id) AS (SELECT ?1 UNION SELECT d.depends_on_id"           \
                   " FROM importq_job_deps d JOIN reach r ON d.job_id = r.id)"                     \
                   " SELECT EXISTS (SELECT 1 FROM reach WHERE id = ?2)")                           \
    X(WAITING_DEPENDANTS, "WITH RECURSIVE down(id) AS (SELECT ?1 UNION SELECT d.job_id"            \
                          " FROM importq_job_deps d JOIN down w ON d.depends_on_id = w.id)"        \
                          " SELECT q.id FROM down JOIN stg_import_queue q ON q.id = down.id"       \
                          " WHERE q.id <> ?1 AND q.status IN ('HELD', 'QUEUED') ORDER BY q.id")    \
    X(AUDIT_HEAD, "SELECT id, hash FROM stg_import_audit ORDER BY id DESC LIMIT 1")                \
    X(AUDIT_INSERT,                                                                                \
      "INSERT INTO stg_import_audit (id, at, actor, action, entity, entity_id, before,"            \
      " after, request_id, client_addr, prev_hash, hash)"                                          \
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")                               \
    X(STATS_COUNTS, "SELECT status, count(*) FROM stg_import_queue GROUP BY status")               \
    X(STATS_FINISHED_SINCE,                                                                        \
      "SELECT count(*) FROM stg_import_queue WHERE status = ?1 AND finished_at >= ?2")             \
    X(STATS_OLDEST_QUEUED, "SELECT min(created_at) FROM stg_import_queue WHERE status = 'QUEUED'")

enum statement {
#define STATEMENT_ENUM(name, sql) STMT_##name,
    STATEMENTS(STATEMENT_ENUM)
#undef STATEMENT_ENUM
        STMT_COUNT
};

static const char *const statement_sql[STMT_COUNT] = {
#define STATEMENT_SQL(name, sql) sql,
    STATEMENTS(STATEMENT_SQL)
#undef STATEMENT_SQL
};

struct sqlite_store {
    struct store base; /* must be first */
    sqlite3 *db;
    sqlite3_stmt *statements[STMT_COUNT]; /* NULL until first use */
};

static const struct store_ops sqlite_store_ops;

static struct sqlite_store *to_sqlite(struct store *s)
{
    return (struct sqlite_store *)s;
}

/* db_error - IQ_E_DB "<what>: <SQLite's last message>". Returns IQ_E_DB. */
static int db_error(struct sqlite_store *s, const char *what, struct iq_error *err)
{
    return iq_error_set(err, IQ_E_DB, "%s: %s", what, sqlite3_errmsg(s->db));
}

static int nomem(struct iq_error *err)
{
    return iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

/* ------------------------------------------------------------------------
 * Statements, binding and stepping
 * ------------------------------------------------------------------------ */

/*
 * stmt_release - make a statement reusable and drop its bindings. The
 * return codes only repeat the outcome of the last step, which the caller
 * has already handled, so they are deliberately not inspected.
 */
static void stmt_release(sqlite3_stmt *stmt)
{
    if (!stmt)
        return;
    (void)sqlite3_reset(stmt);
    (void)sqlite3_clear_bindings(stmt);
}

/*
 * stmt_get - the cached statement id, prepared on first use. Returns it
 * reset and unbound (owned by the connection: never finalize it), or NULL
 * with err set.
 */
static sqlite3_stmt *stmt_get(struct sqlite_store *s, enum statement id, struct iq_error *err)
{
    if (!s->statements[id]) {
        int rc = sqlite3_prepare_v3(s->db, statement_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->statements[id], NULL);
        if (rc != SQLITE_OK) {
            db_error(s, "prepare statement", err);
            sqlite3_finalize(s->statements[id]);
            s->statements[id] = NULL;
            return NULL;
        }
    }
    stmt_release(s->statements[id]);
    return s->statements[id];
}

/*
 * struct binder - binds parameters 1, 2, 3 ... in call order and keeps the
 * first failure, so a run of binds is checked once at the end.
 */
struct binder {
    sqlite3_stmt *stmt;
    int index;
    int rc;
};

static struct binder binder_start(sqlite3_stmt *stmt)
{
    return (struct binder){.stmt = stmt, .index = 0, .rc = SQLITE_OK};
}

/* bind_text - text, or SQL NULL for a NULL pointer. SQLite copies it. */
static void bind_text(struct binder *b, const char *text)
{
    b->index++;
    if (b->rc != SQLITE_OK)
        return;
    b->rc = text ? sqlite3_bind_text(b->stmt, b->index, text, -1, SQLITE_TRANSIENT)
                 : sqlite3_bind_null(b->stmt, b->index);
}

static void bind_int64(struct binder *b, int64_t value)
{
    b->index++;
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_int64(b->stmt, b->index, value);
}

/* bind_time - RFC 3339 text of ms, or SQL NULL for 0 ("no time"). */
static void bind_time(struct binder *b, int64_t ms)
{
    char text[TIME_RFC3339_LEN];
    bind_text(b, ms ? time_format_rfc3339(ms, text) : NULL);
}

/* binder_check - 0, or IQ_E_DB when any bind failed (the statement is released). */
static int binder_check(struct sqlite_store *s, struct binder *b, struct iq_error *err)
{
    if (b->rc == SQLITE_OK)
        return 0;
    int rc = db_error(s, "bind parameter", err);
    stmt_release(b->stmt);
    return rc;
}

/*
 * stmt_run - step a statement that returns no rows to completion, then
 * release it. Returns 0 or IQ_E_DB ("<what>: <message>").
 */
static int stmt_run(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what,
                    struct iq_error *err)
{
    int rc = sqlite3_step(stmt);
    int ret = 0;
    if (rc != SQLITE_DONE)
        ret = db_error(s, what, err);
    stmt_release(stmt);
    return ret;
}

/*
 * stmt_next - step once. Returns 1 with a row to read, 0 when done, IQ_E_DB
 * on failure. On 0 and on failure the statement is released; after a 1 the
 * caller releases it once it stops reading.
 */
static int stmt_next(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what,
                     struct iq_error *err)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        return 1;
    int ret = rc == SQLITE_DONE ? 0 : db_error(s, what, err);
    stmt_release(stmt);
    return ret;
}

/* run_cached - bindless cached statement run to completion (BEGIN, COMMIT ...). */
static int run_cached(struct sqlite_store *s, enum statement id, const char *what,
                      struct iq_error *err)
{
    sqlite3_stmt *stmt = stmt_get(s, id, err);
    if (!stmt)
        return IQ_E_DB;
    return stmt_run(s, stmt, what, err);
}

/*
 * column_text_or_error - sqlite3_column_text, telling SQL NULL (returns NULL,
 * *ret_ok true) from an allocation failure (NULL, *ret_ok false). The type
 * is asked first: after a text conversion it would be undefined.
 */
static const char *column_text_or_error(sqlite3_stmt *stmt, int column, bool *ret_ok)
{
    bool is_null = sqlite3_column_type(stmt, column) == SQLITE_NULL;
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    *ret_ok = text || is_null;
    return text;
}

/* ------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------ */

/* tx_begin - BEGIN IMMEDIATE: take the write lock now (waits busy_timeout). */
static int tx_begin(struct sqlite_store *s, struct iq_error *err)
{
    return run_cached(s, STMT_BEGIN_WRITE, "begin write transaction", err);
}

/*
 * tx_rollback - roll back the open transaction, if SQLite has not already
 * done so itself (it does after some errors). A failing ROLLBACK cannot be
 * reported better than the error that led here, which err already holds.
 */
static void tx_rollback(struct sqlite_store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return;
    sqlite3_stmt *stmt = stmt_get(s, STMT_ROLLBACK, NULL);
    if (stmt)
        (void)stmt_run(s, stmt, "rollback", NULL);
    if (!sqlite3_get_autocommit(s->db))
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/*
 * tx_finish - COMMIT when rc is 0, else roll back. Returns rc, or IQ_E_DB
 * when the commit itself fails (then rolled back too). A positive rc is a
 * bug in this file (a helper's "no row" escaped): rolled back, IQ_E_INTERNAL.
 */
static int tx_finish(struct sqlite_store *s, int rc, struct iq_error *err)
{
    if (rc > 0)
        rc = iq_error_set(err, IQ_E_INTERNAL, "store_sqlite: unexpected status %d", rc);
    if (rc == 0)
        rc = run_cached(s, STMT_COMMIT, "commit", err);
    if (rc < 0)
        tx_rollback(s);
    return rc;
}

/* ------------------------------------------------------------------------
 * Reading jobs
 * ------------------------------------------------------------------------ */

/* row_to_job - decode the current row of a JOB_SELECT statement. *ret_job: job_free. */
static int row_to_job(sqlite3_stmt *stmt, struct job **ret_job, struct iq_error *err)
{
    const char *values[JOBCOL_COUNT];
    for (int i = 0; i < JOBCOL_COUNT; i++) {
        bool ok;
        values[i] = column_text_or_error(stmt, i, &ok);
        if (!ok)
            return nomem(err);
    }
    return store_job_decode(values, ret_job, err);
}

/*
 * read_job_by - the job whose key (id or request_id, per statement id)
 * equals key. Returns 0 and a new job (job_free), 1 with *ret_job NULL when
 * no row matches, or a negative error.
 */
static int read_job_by(struct sqlite_store *s, enum statement id, const char *key,
                       struct job **ret_job, struct iq_error *err)
{
    *ret_job = NULL;
    sqlite3_stmt *stmt = stmt_get(s, id, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, key);
    int rc = binder_check(s, &b, err);
    if (rc < 0)
        return rc;
    rc = stmt_next(s, stmt, "read job", err);
    if (rc <= 0)
        return rc < 0 ? rc : 1;
    rc = row_to_job(stmt, ret_job, err);
    stmt_release(stmt);
    return rc;
}

/* read_job - the job with this id; IQ_E_NOT_FOUND "job <id> not found". */
static int read_job(struct sqlite_store *s, const char *id, struct job **ret_job,
                    struct iq_error *err)
{
    int rc = read_job_by(s, STMT_JOB_BY_ID, id, ret_job, err);
    if (rc == 1)
        return iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", id);
    return rc;
}

/*
 * read_status - the status of job id. Returns 0, 1 when there is no such
 * job, or a negative error.
 */
static int read_status(struct sqlite_store *s, const char *id, enum job_status *ret_status,
                       struct iq_error *err)
{
    sqlite3_stmt *stmt = stmt_get(s, STMT_JOB_STATUS, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, id);
    int rc = binder_check(s, &b, err);
    if (rc < 0)
        return rc;
    rc = stmt_next(s, stmt, "read job status", err);
    if (rc <= 0)
        return rc < 0 ? rc : 1;
    const char *text = (const char *)sqlite3_column_text(stmt, 0);
    rc = job_status_parse(text, ret_status) == 0
             ? 0
             : iq_error_set(err, IQ_E_DB, "job %s has an unknown status", id);
    stmt_release(stmt);
    return rc;
}

/* read_int64 - run a one-row, one-integer statement (already bound). */
static int read_int64(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what,
                      int64_t *ret_value, struct iq_error *err)
{
    *ret_value = 0;
    int rc = stmt_next(s, stmt, what, err);
    if (rc <= 0)
        return rc;
    *ret_value = sqlite3_column_int64(stmt, 0);
    stmt_release(stmt);
    return 0;
}

/* ------------------------------------------------------------------------
 * Audit chain
 * ------------------------------------------------------------------------ */

/* job_json_text - compact, key-sorted job resource (NULL job: NULL). Caller frees. */
static int job_json_text(const struct job *job, char **ret_text, struct iq_error *err)
{
    *ret_text = NULL;
    if (!job)
        return 0;
    json_t *json = job_to_json(job);
    *ret_text = json ? store_json_text(json) : NULL;
    json_decref(json);
    return *ret_text ? 0 : nomem(err);
}

/*
 * append_audit - append one row to the hash chain: id = last id + 1,
 * prev_hash = the last row's hash (AUDIT_GENESIS_HASH before the first).
 * Must run inside the write transaction of the change it records; that
 * transaction's write lock is what serialises the chain. before_json and
 * after_json are borrowed (NULL allowed). Returns 0 or a negative error.
 */
static int append_audit(struct sqlite_store *s, const struct audit_context *actx,
                        const char *action, const char *entity, const char *entity_id,
                        const char *before_json, const char *after_json, int64_t now_ms,
                        struct iq_error *err)
{
    sqlite3_stmt *stmt = stmt_get(s, STMT_AUDIT_HEAD, err);
    if (!stmt)
        return IQ_E_DB;
    struct audit_record record = {
        .id = 1,
        .at_ms = now_ms,
        .actor = actx->actor,
        .action = action,
        .entity = entity,
        .entity_id = entity_id,
        .before_json = before_json,
        .after_json = after_json,
        .request_id = actx->request_id,
        .client_addr = actx->client_addr,
    };
    char prev_hash[AUDIT_HASH_LEN] = AUDIT_GENESIS_HASH;
    int rc = stmt_next(s, stmt, "read audit chain head", err);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        const char *head = (const char *)sqlite3_column_text(stmt, 1);
        record.id = sqlite3_column_int64(stmt, 0) + 1;
        if (!head || strlen(head) != AUDIT_HASH_LEN - 1) {
            stmt_release(stmt);
            return iq_error_set(err, IQ_E_DB, "audit row %" PRId64 " has a malformed hash",
                                record.id - 1);
        }
        memcpy(prev_hash, head, AUDIT_HASH_LEN);
        stmt_release(stmt);
    }
    record.prev_hash = prev_hash;
    char hash[AUDIT_HASH_LEN];
    audit_hash(&record, hash);

    stmt = stmt_get(s, STMT_AUDIT_INSERT, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_int64(&b, record.id);
    bind_time(&b, record.at_ms);
    bind_text(&b, record.actor);
    bind_text(&b, record.action);
    bind_text(&b, record.entity);
    bind_text(&b, record.entity_id);
    bind_text(&b, record.before_json);
    bind_text(&b, record.after_json);
    bind_text(&b, record.request_id);
    bind_text(&b, record.client_addr);
    bind_text(&b, record.prev_hash);
    bind_text(&b, hash);
    rc = binder_check(s, &b, err);
    return rc < 0 ? rc : stmt_run(s, stmt, "append audit row", err);
}

/* audit_job - append_audit for entity "job" with the jobs' JSON resources. */
static int audit_job(struct sqlite_store *s, const struct audit_context *actx, const char *action,
                     const char *id, const struct job *before, const struct job *after,
                     int64_t now_ms, struct iq_error *err)
{
    char *before_json = NULL, *after_json = NULL;
    int rc = job_json_text(before, &before_json, err);
    if (rc == 0)
        rc = job_json_text(after, &after_json, err);
    if (rc == 0)
        rc = append_audit(s, actx, action, "job", id, before_json, after_json, now_ms, err);
    free(before_json);
    free(after_json);
    return rc;
}

static int check_actor(const struct audit_context *actx, struct iq_error *err)
{
    if (!actx || !actx->actor)
        return iq_error_set(err, IQ_E_INTERNAL, "a mutation needs an audit actor");
    return 0;
}

/* ------------------------------------------------------------------------
 * Dependencies
 * ------------------------------------------------------------------------ */

/* What a job's dependency list amounts to. */
struct dep_summary {
    int pending;           /* dependencies not COMPLETED */
    const char *failed_id; /* first FAILED/CANCELLED one (borrowed), or NULL */
    enum job_status failed_status;
};

static bool seen_before(char *const *ids, size_t index)
{
    for (size_t i = 0; i < index; i++)
        if (strcmp(ids[i], ids[index]) == 0)
            return true;
    return false;
}

/*
 * check_dependency - one dependency of job self_id (NULL for a new job):
 * IQ_E_CONFLICT when it is unknown, is the job itself, or (transitively)
 * depends on it. Adds its status to *summary.
 */
static int check_dependency(struct sqlite_store *s, const char *self_id, const char *dep_id,
                            struct dep_summary *summary, struct iq_error *err)
{
    if (self_id && strcmp(self_id, dep_id) == 0)
        return iq_error_set(err, IQ_E_CONFLICT, "dependency cycle through %s", dep_id);
    enum job_status status;
    int rc = read_status(s, dep_id, &status, err);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return iq_error_set(err, IQ_E_CONFLICT, "unknown dependency %s", dep_id);
    if (self_id) {
        sqlite3_stmt *stmt = stmt_get(s, STMT_DEP_REACHES, err);
        if (!stmt)
            return IQ_E_DB;
        struct binder b = binder_start(stmt);
        bind_text(&b, dep_id);
        bind_text(&b, self_id);
        int64_t reaches = 0;
        rc = binder_check(s, &b, err);
        if (rc == 0)
            rc = read_int64(s, stmt, "check dependency cycle", &reaches, err);
        if (rc < 0)
            return rc;
        if (reaches)
            return iq_error_set(err, IQ_E_CONFLICT, "dependency cycle through %s", dep_id);
    }
    if (status != JOB_COMPLETED)
        summary->pending++;
    if ((status == JOB_FAILED || status == JOB_CANCELLED) && !summary->failed_id) {
        summary->failed_id = dep_id;
        summary->failed_status = status;
    }
    return 0;
}

/* check_dependencies - check_dependency for each of spec's, duplicates counted once. */
static int check_dependencies(struct sqlite_store *s, const char *self_id,
                              const struct job_spec *spec, struct dep_summary *ret_summary,
                              struct iq_error *err)
{
    *ret_summary = (struct dep_summary){0};
    for (size_t i = 0; i < spec->depends_on_count; i++) {
        if (seen_before(spec->depends_on, i))
            continue;
        int rc = check_dependency(s, self_id, spec->depends_on[i], ret_summary, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* insert_dependencies - the edges job_id -> each of spec's dependencies. */
static int insert_dependencies(struct sqlite_store *s, const char *job_id,
                               const struct job_spec *spec, struct iq_error *err)
{
    for (size_t i = 0; i < spec->depends_on_count; i++) {
        if (seen_before(spec->depends_on, i))
            continue;
        sqlite3_stmt *stmt = stmt_get(s, STMT_DEP_INSERT, err);
        if (!stmt)
            return IQ_E_DB;
        struct binder b = binder_start(stmt);
        bind_text(&b, job_id);
        bind_text(&b, spec->depends_on[i]);
        int rc = binder_check(s, &b, err);
        if (rc == 0)
            rc = stmt_run(s, stmt, "insert dependency", err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int delete_dependencies(struct sqlite_store *s, const char *job_id, struct iq_error *err)
{
    sqlite3_stmt *stmt = stmt_get(s, STMT_DEPS_DELETE, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, job_id);
    int rc = binder_check(s, &b, err);
    return rc < 0 ? rc : stmt_run(s, stmt, "delete dependencies", err);
}

/* error_json - {"code": code, "message": message} as compact text. Caller frees. */
static char *error_json(const char *code, const char *message)
{
    json_t *json = json_pack("{s:s,s:s}", "code", code, "message", message);
    char *text = json ? store_json_text(json) : NULL;
    json_decref(json);
    return text;
}

/* dependency_failed_json - the error of a job whose dependency dep_id ended in status. */
static char *dependency_failed_json(const char *dep_id, enum job_status status)
{
    char *message = NULL;
    if (asprintf(&message, "dependency %s is %s", dep_id, job_status_name(status)) < 0)
        return NULL;
    char *text = error_json("dependency_failed", message);
    free(message);
    return text;
}

/* A growable list of job ids. */
struct id_list {
    char (*ids)[UUID_STR_LEN];
    size_t count;
    size_t capacity;
};

static int id_list_add(struct id_list *list, const char *id, struct iq_error *err)
{
    if (!id || strlen(id) != UUID_STR_LEN - 1)
        return iq_error_set(err, IQ_E_DB, "stored job id \"%s\" is malformed", id ? id : "");
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 16;
        void *grown = realloc(list->ids, capacity * sizeof(*list->ids));
        if (!grown)
            return nomem(err);
        list->ids = grown;
        list->capacity = capacity;
    }
    memcpy(list->ids[list->count++], id, UUID_STR_LEN);
    return 0;
}

/* waiting_dependants - ids of HELD/QUEUED jobs depending on root_id, directly or not. */
static int waiting_dependants(struct sqlite_store *s, const char *root_id, struct id_list *ret_list,
                              struct iq_error *err)
{
    sqlite3_stmt *stmt = stmt_get(s, STMT_WAITING_DEPENDANTS, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, root_id);
    int rc = binder_check(s, &b, err);
    while (rc == 0 && (rc = stmt_next(s, stmt, "find dependants", err)) == 1)
        rc = id_list_add(ret_list, (const char *)sqlite3_column_text(stmt, 0), err);
    if (rc < 0)
        stmt_release(stmt);
    return rc;
}

/* finish_waiting_job - HELD/QUEUED job id -> status with error; 1 when it was not waiting. */
static int finish_waiting_job(struct sqlite_store *s, const char *id, enum job_status status,
                              const char *error_text, int64_t now_ms, struct iq_error *err)
{
    sqlite3_stmt *stmt = stmt_get(s, STMT_JOB_FINISH_WAITING, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, id);
    bind_text(&b, job_status_name(status));
    bind_text(&b, error_text);
    bind_time(&b, now_ms);
    int rc = binder_check(s, &b, err);
    if (rc == 0)
        rc = stmt_run(s, stmt, "finish job", err);
    if (rc < 0)
        return rc;
    return sqlite3_changes(s->db) == 1 ? 0 : 1;
}

/*
 * fail_dependants - after root_id ended FAILED or CANCELLED: every HELD or
 * QUEUED job depending on it, directly or not, becomes FAILED with
 * "dependency <root_id> is <root_status>", one job.dependency_failed audit
 * row each. Runs inside the caller's write transaction.
 */
static int fail_dependants(struct sqlite_store *s, const char *root_id, enum job_status root_status,
                           const struct audit_context *actx, int64_t now_ms, struct iq_error *err)
{
    struct id_list list = {0};
    struct job *before = NULL, *after = NULL;
    char *error_text = dependency_failed_json(root_id, root_status);
    int rc = error_text ? waiting_dependants(s, root_id, &list, err) : nomem(err);
    for (size_t i = 0; rc == 0 && i < list.count; i++) {
        const char *id = list.ids[i];
        rc = read_job(s, id, &before, err);
        if (rc == 0)
            rc = finish_waiting_job(s, id, JOB_FAILED, error_text, now_ms, err);
        if (rc == 0)
            rc = read_job(s, id, &after, err);
        if (rc == 0)
            rc = audit_job(s, actx, "job.dependency_failed", id, before, after, now_ms, err);
        rc = rc == 1 ? 0 : rc; /* no longer waiting: nothing to do */
        job_free(before);
        job_free(after);
        before = after = NULL;
    }
    free(list.ids);
    free(error_text);
    return rc;
}

/* ------------------------------------------------------------------------
 * Connection lifetime and migrations
 * ------------------------------------------------------------------------ */

/* make_parent_dirs - mkdir -p of the directory part of path (none: nothing to do). */
static int make_parent_dirs(const char *path, struct iq_error *err)
{
    char *dir = strdup(path);
    if (!dir)
        return nomem(err);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; rc == 0; p++) {
            if (*p != '/' && *p != '\0')
                continue;
            char saved = *p;
            *p = '\0';
            if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                rc = iq_error_set(err, IQ_E_DB, "cannot create directory %s for database %s: %s",
                                  dir, path, strerror(errno));
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    free(dir);
    return rc;
}

static void sqlite_close(struct store *base)
{
    struct sqlite_store *s = to_sqlite(base);
    if (!s)
        return;
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

/* enable_wal - journal_mode=WAL, checking SQLite accepted it ("memory" for :memory:). */
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
 * store_sqlite_open - open (creating it and its directory when missing) the
 * database at path, one connection for the calling thread. Returns 0 and a
 * new store (store_close), or IQ_E_DB naming the path and SQLite's message.
 */
int store_sqlite_open(const char *path, const struct store_options *opts, struct store **ret_store,
                      struct iq_error *err)
{
    *ret_store = NULL;
    int busy_ms =
        opts && opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : SQLITE_BUSY_TIMEOUT_DEFAULT_MS;
    if (strcmp(path, ":memory:") != 0) {
        int rc = make_parent_dirs(path, err);
        if (rc < 0)
            return rc;
    }
    struct sqlite_store *s = calloc(1, sizeof(*s));
    if (!s)
        return nomem(err);
    s->base.ops = &sqlite_store_ops;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        rc = iq_error_set(err, IQ_E_DB, "cannot open SQLite database %s: %s", path,
                          s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    if (sqlite3_busy_timeout(s->db, busy_ms) != SQLITE_OK) {
        rc = iq_error_set(err, IQ_E_DB, "SQLite database %s: busy_timeout: %s", path,
                          sqlite3_errmsg(s->db));
        goto fail;
    }
    if ((rc = enable_wal(s, path, err)) < 0 ||
        (rc = exec_pragma(s, path, "PRAGMA synchronous=NORMAL", err)) < 0 ||
        (rc = exec_pragma(s, path, "PRAGMA foreign_keys=ON", err)) < 0)
        goto fail;
    *ret_store = &s->base;
    return 0;

fail:
    sqlite_close(&s->base);
    return rc;
}

/* max_version - highest recorded migration (0 when none), version table must exist. */
static int max_version(struct sqlite_store *s, int *ret_version, struct iq_error *err)
{
    sqlite3_stmt *stmt = NULL;
    *ret_version = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM importq_schema_version",
                           -1, &stmt, NULL) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return db_error(s, "read schema version", err);
    }
    int64_t version;
    int rc = read_int64(s, stmt, "read schema version", &version, err);
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
        return db_error(s, "create importq_schema_version", err);
    int current;
    int rc = max_version(s, &current, err);
    if (rc < 0)
        return rc;
    char now[TIME_RFC3339_LEN];
    time_format_rfc3339(time_now_ms(), now);
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
            return db_error(s, "record migration", err);
        }
        struct binder b = binder_start(stmt);
        bind_int64(&b, m->version);
        bind_text(&b, m->name);
        bind_text(&b, now);
        rc = binder_check(s, &b, err);
        if (rc == 0)
            rc = stmt_run(s, stmt, "record migration", err);
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
    int rc = tx_begin(s, err);
    if (rc < 0)
        return rc;
    rc = tx_finish(s, migrate_locked(s, &applied, err), err);
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
        return db_error(s, "read schema version", err);
    }
    int64_t exists;
    int rc = read_int64(s, stmt, "read schema version", &exists, err);
    sqlite3_finalize(stmt);
    if (rc < 0 || !exists)
        return rc;
    return max_version(s, ret_version, err);
}

/* ------------------------------------------------------------------------
 * Jobs: create, get, update, cancel
 * ------------------------------------------------------------------------ */

/* The column texts a spec contributes (all owned). */
struct spec_texts {
    char *resources;
    char *source;
    char *target;
    char *on_error;
};

static void spec_texts_clear(struct spec_texts *texts)
{
    free(texts->resources);
    free(texts->source);
    free(texts->target);
    free(texts->on_error);
    memset(texts, 0, sizeof(*texts));
}

/* json_text_or_empty - store_json_text of value, "{}" for a NULL value. */
static char *json_text_or_empty(const json_t *value)
{
    return value ? store_json_text(value) : strdup("{}");
}

/* spec_texts_build - JSON column texts of spec. Clear with spec_texts_clear. */
static int spec_texts_build(const struct job_spec *spec, struct spec_texts *ret_texts,
                            struct iq_error *err)
{
    memset(ret_texts, 0, sizeof(*ret_texts));
    ret_texts->resources = store_resources_to_json(spec->resources, spec->resource_count);
    ret_texts->source = json_text_or_empty(spec->source_json);
    ret_texts->target = json_text_or_empty(spec->target_json);
    ret_texts->on_error = json_text_or_empty(spec->on_error_json);
    if (ret_texts->resources && ret_texts->source && ret_texts->target && ret_texts->on_error)
        return 0;
    spec_texts_clear(ret_texts);
    return nomem(err);
}

static int check_spec(const struct job_spec *spec, struct iq_error *err)
{
    if (!spec || !spec->target.table)
        return iq_error_set(err, IQ_E_INVALID, "a job needs a spec with a target table");
    return 0;
}

/* count_waiting - jobs in QUEUED or HELD. */
static int count_waiting(struct sqlite_store *s, int64_t *ret_count, struct iq_error *err)
{
    sqlite3_stmt *stmt = stmt_get(s, STMT_COUNT_WAITING, err);
    if (!stmt)
        return IQ_E_DB;
    return read_int64(s, stmt, "count queued jobs", ret_count, err);
}

/* check_capacity - IQ_E_QUEUE_FULL when max_queue_size (> 0) jobs already wait. */
static int check_capacity(struct sqlite_store *s, int max_queue_size, struct iq_error *err)
{
    if (max_queue_size <= 0)
        return 0;
    int64_t waiting;
    int rc = count_waiting(s, &waiting, err);
    if (rc < 0)
        return rc;
    if (waiting >= max_queue_size)
        return iq_error_set(err, IQ_E_QUEUE_FULL,
                            "queue is full: %d jobs queued or held (max_queue_size %d)",
                            (int)waiting, max_queue_size);
    return 0;
}

/* bind_insert_job - the parameters of STMT_JOB_INSERT, in order. */
static void bind_insert_job(struct binder *b, const char *id, const struct job_create_request *req,
                            const struct dep_summary *deps, const struct spec_texts *texts,
                            const char *error_text, const char *created_by, int64_t now_ms)
{
    const struct job_spec *spec = req->spec;
    enum job_status status = error_text ? JOB_FAILED : spec->hold ? JOB_HELD : JOB_QUEUED;
    bind_text(b, id);
    bind_text(b, spec->request_id);
    bind_text(b, spec->name ? spec->name : "");
    bind_text(b, job_status_name(status));
    bind_int64(b, spec->priority);
    bind_text(b, req->orchestration_id);
    bind_text(b, req->schedule_id);
    bind_time(b, spec->scheduled_at_ms);
    bind_time(b, spec->scheduled_at_ms ? spec->scheduled_at_ms : now_ms);
    bind_int64(b, deps->pending);
    bind_int64(b, spec->max_attempts);
    bind_int64(b, spec->timeout_s);
    bind_text(b, texts->resources);
    bind_text(b, texts->source);
    bind_text(b, texts->target);
    bind_text(b, texts->on_error);
    bind_text(b, spec->target.table);
    bind_text(b, error_text);
    bind_text(b, created_by);
    bind_time(b, now_ms);
    bind_time(b, now_ms);
    bind_time(b, error_text ? now_ms : 0);
}

/*
 * insert_job - the stg_import_queue row of a new job id from req: HELD or
 * QUEUED, or FAILED with "dependency_failed" when deps names a finished,
 * unsuccessful dependency.
 */
static int insert_job(struct sqlite_store *s, const char *id, const struct job_create_request *req,
                      const struct dep_summary *deps, const char *created_by, int64_t now_ms,
                      struct iq_error *err)
{
    struct spec_texts texts;
    int rc = spec_texts_build(req->spec, &texts, err);
    if (rc < 0)
        return rc;
    char *error_text = NULL;
    if (deps->failed_id &&
        !(error_text = dependency_failed_json(deps->failed_id, deps->failed_status)))
        rc = nomem(err);
    sqlite3_stmt *stmt = rc == 0 ? stmt_get(s, STMT_JOB_INSERT, err) : NULL;
    if (rc == 0 && !stmt)
        rc = IQ_E_DB;
    if (rc == 0) {
        struct binder b = binder_start(stmt);
        bind_insert_job(&b, id, req, deps, &texts, error_text, created_by, now_ms);
        rc = binder_check(s, &b, err);
        if (rc == 0)
            rc = stmt_run(s, stmt, "insert job", err);
    }
    free(error_text);
    spec_texts_clear(&texts);
    return rc;
}

/* create_locked - the body of job_create, inside BEGIN IMMEDIATE. */
static int create_locked(struct sqlite_store *s, const struct job_create_request *req,
                         const struct audit_context *actx, struct job **ret_job, bool *ret_existed,
                         struct iq_error *err)
{
    const struct job_spec *spec = req->spec;
    if (spec->request_id) {
        int rc = read_job_by(s, STMT_JOB_BY_REQUEST_ID, spec->request_id, ret_job, err);
        if (rc <= 0) {
            *ret_existed = rc == 0;
            return rc;
        }
    }
    struct dep_summary deps;
    int rc = check_dependencies(s, NULL, spec, &deps, err);
    if (rc == 0)
        rc = check_capacity(s, req->max_queue_size, err);
    if (rc < 0)
        return rc;
    char id[UUID_STR_LEN];
    uuid7_generate(id);
    int64_t now_ms = time_now_ms();
    rc = insert_job(s, id, req, &deps, actx->actor, now_ms, err);
    if (rc == 0)
        rc = insert_dependencies(s, id, spec, err);
    if (rc == 0)
        rc = read_job(s, id, ret_job, err);
    if (rc == 0)
        rc = audit_job(s, actx, "job.create", id, NULL, *ret_job, now_ms, err);
    return rc;
}

/*
 * sqlite_job_create - see store_ops.job_create. One write transaction: the
 * idempotency lookup, dependency and capacity checks, the row, its edges
 * and the job.create audit row (none on an idempotent replay).
 */
static int sqlite_job_create(struct store *base, const struct job_create_request *req,
                             const struct audit_context *actx, struct job **ret_job,
                             bool *ret_existed, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    bool existed = false;
    *ret_job = NULL;
    if (ret_existed)
        *ret_existed = false;
    int rc = check_actor(actx, err);
    if (rc == 0)
        rc = check_spec(req ? req->spec : NULL, err);
    if (rc == 0)
        rc = tx_begin(s, err);
    if (rc < 0)
        return rc;
    rc = tx_finish(s, create_locked(s, req, actx, ret_job, &existed, err), err);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
        return rc;
    }
    if (ret_existed)
        *ret_existed = existed;
    return 0;
}

/* sqlite_job_get - see store_ops.job_get; a single statement, no transaction. */
static int sqlite_job_get(struct store *base, const char *id, struct job **ret_job,
                          struct iq_error *err)
{
    *ret_job = NULL;
    if (!id)
        return iq_error_set(err, IQ_E_NOT_FOUND, "job (null) not found");
    return read_job(to_sqlite(base), id, ret_job, err);
}

/* bind_update_job - the parameters of STMT_JOB_UPDATE, in order. */
static void bind_update_job(struct binder *b, const char *id, const struct job_spec *spec,
                            const struct dep_summary *deps, const struct spec_texts *texts,
                            const char *error_text, int64_t now_ms)
{
    bind_text(b, id);
    bind_text(b, spec->name ? spec->name : "");
    bind_int64(b, spec->priority);
    bind_time(b, spec->scheduled_at_ms);
    bind_time(b, spec->scheduled_at_ms ? spec->scheduled_at_ms : now_ms);
    bind_int64(b, deps->pending);
    bind_int64(b, spec->max_attempts);
    bind_int64(b, spec->timeout_s);
    bind_text(b, texts->resources);
    bind_text(b, texts->source);
    bind_text(b, texts->target);
    bind_text(b, texts->on_error);
    bind_text(b, spec->target.table);
    bind_text(b, error_text ? job_status_name(JOB_FAILED) : NULL);
    bind_text(b, error_text);
    bind_time(b, error_text ? now_ms : 0);
    bind_time(b, now_ms);
}

/*
 * update_row - write spec's editable fields onto waiting job id, and make
 * it FAILED ("dependency_failed") when deps names a failed dependency.
 */
static int update_row(struct sqlite_store *s, const char *id, const struct job_spec *spec,
                      const struct dep_summary *deps, int64_t now_ms, struct iq_error *err)
{
    struct spec_texts texts;
    int rc = spec_texts_build(spec, &texts, err);
    if (rc < 0)
        return rc;
    char *error_text = NULL;
    if (deps->failed_id &&
        !(error_text = dependency_failed_json(deps->failed_id, deps->failed_status)))
        rc = nomem(err);
    sqlite3_stmt *stmt = rc == 0 ? stmt_get(s, STMT_JOB_UPDATE, err) : NULL;
    if (rc == 0 && !stmt)
        rc = IQ_E_DB;
    if (rc == 0) {
        struct binder b = binder_start(stmt);
        bind_update_job(&b, id, spec, deps, &texts, error_text, now_ms);
        rc = binder_check(s, &b, err);
        if (rc == 0)
            rc = stmt_run(s, stmt, "update job", err);
        if (rc == 0 && sqlite3_changes(s->db) != 1)
            rc = iq_error_set(err, IQ_E_DB, "update job %s: row changed underneath", id);
    }
    free(error_text);
    spec_texts_clear(&texts);
    return rc;
}

/* update_locked - the body of job_update, inside BEGIN IMMEDIATE. */
static int update_locked(struct sqlite_store *s, const char *id, const struct job_spec *spec,
                         const struct audit_context *actx, struct job **ret_job,
                         struct iq_error *err)
{
    struct job *before = NULL;
    int rc = read_job(s, id, &before, err);
    if (rc < 0)
        return rc;
    struct dep_summary deps = {0};
    int64_t now_ms = time_now_ms();
    if (before->status != JOB_HELD && before->status != JOB_QUEUED)
        rc = iq_error_set(err, IQ_E_CONFLICT, "job is %s: only HELD or QUEUED jobs can be updated",
                          job_status_name(before->status));
    if (rc == 0)
        rc = check_dependencies(s, id, spec, &deps, err);
    if (rc == 0)
        rc = update_row(s, id, spec, &deps, now_ms, err);
    if (rc == 0)
        rc = delete_dependencies(s, id, err);
    if (rc == 0)
        rc = insert_dependencies(s, id, spec, err);
    if (rc == 0)
        rc = read_job(s, id, ret_job, err);
    if (rc == 0)
        rc = audit_job(s, actx, "job.update", id, before, *ret_job, now_ms, err);
    if (rc == 0 && deps.failed_id)
        rc = fail_dependants(s, id, JOB_FAILED, actx, now_ms, err);
    job_free(before);
    return rc;
}

/*
 * sqlite_job_update - see store_ops.job_update. A job updated onto a FAILED
 * or CANCELLED dependency ends FAILED itself, and its own waiting
 * dependants with it, in the same transaction.
 */
static int sqlite_job_update(struct store *base, const char *id, const struct job_spec *spec,
                             const struct audit_context *actx, struct job **ret_job,
                             struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    *ret_job = NULL;
    int rc = check_actor(actx, err);
    if (rc == 0)
        rc = check_spec(spec, err);
    if (rc == 0 && !id)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "job (null) not found");
    if (rc == 0)
        rc = tx_begin(s, err);
    if (rc < 0)
        return rc;
    rc = tx_finish(s, update_locked(s, id, spec, actx, ret_job, err), err);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
    }
    return rc;
}

/* cancel_waiting - HELD/QUEUED job -> CANCELLED, audited, dependants failed. */
static int cancel_waiting(struct sqlite_store *s, const struct job *before,
                          const struct audit_context *actx, struct job **ret_job,
                          struct iq_error *err)
{
    char *message = NULL;
    if (asprintf(&message, "cancelled by %s", actx->actor) < 0)
        return nomem(err);
    char *error_text = error_json("cancelled", message);
    free(message);
    if (!error_text)
        return nomem(err);
    int64_t now_ms = time_now_ms();
    int rc = finish_waiting_job(s, before->id, JOB_CANCELLED, error_text, now_ms, err);
    free(error_text);
    if (rc == 1)
        rc = iq_error_set(err, IQ_E_DB, "cancel job %s: row changed underneath", before->id);
    if (rc == 0)
        rc = read_job(s, before->id, ret_job, err);
    if (rc == 0)
        rc = audit_job(s, actx, "job.cancel", before->id, before, *ret_job, now_ms, err);
    if (rc == 0)
        rc = fail_dependants(s, before->id, JOB_CANCELLED, actx, now_ms, err);
    return rc;
}

/*
 * cancel_running - set cancel_requested on a RUNNING job (the worker stops
 * it). Already requested: nothing is written, the job is returned as is.
 */
static int cancel_running(struct sqlite_store *s, const struct job *before,
                          const struct audit_context *actx, struct job **ret_job,
                          struct iq_error *err)
{
    sqlite3_stmt *stmt = stmt_get(s, STMT_JOB_REQUEST_CANCEL, err);
    if (!stmt)
        return IQ_E_DB;
    int64_t now_ms = time_now_ms();
    struct binder b = binder_start(stmt);
    bind_text(&b, before->id);
    bind_time(&b, now_ms);
    int rc = binder_check(s, &b, err);
    if (rc == 0)
        rc = stmt_run(s, stmt, "request cancel", err);
    if (rc < 0)
        return rc;
    bool changed = sqlite3_changes(s->db) == 1;
    rc = read_job(s, before->id, ret_job, err);
    if (rc == 0 && changed)
        rc = audit_job(s, actx, "job.cancel_requested", before->id, before, *ret_job, now_ms, err);
    return rc;
}

/* cancel_locked - the body of job_cancel, inside BEGIN IMMEDIATE. */
static int cancel_locked(struct sqlite_store *s, const char *id, const struct audit_context *actx,
                         struct job **ret_job, struct iq_error *err)
{
    struct job *before = NULL;
    int rc = read_job(s, id, &before, err);
    if (rc < 0)
        return rc;
    switch (before->status) {
    case JOB_HELD:
    case JOB_QUEUED:
        rc = cancel_waiting(s, before, actx, ret_job, err);
        break;
    case JOB_RUNNING:
        rc = cancel_running(s, before, actx, ret_job, err);
        break;
    default:
        rc = iq_error_set(err, IQ_E_CONFLICT, "job is already %s", job_status_name(before->status));
        break;
    }
    job_free(before);
    return rc;
}

/* sqlite_job_cancel - see store_ops.job_cancel. */
static int sqlite_job_cancel(struct store *base, const char *id, const struct audit_context *actx,
                             struct job **ret_job, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    *ret_job = NULL;
    int rc = check_actor(actx, err);
    if (rc == 0 && !id)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "job (null) not found");
    if (rc == 0)
        rc = tx_begin(s, err);
    if (rc < 0)
        return rc;
    rc = tx_finish(s, cancel_locked(s, id, actx, ret_job, err), err);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Listing and statistics
 * ------------------------------------------------------------------------ */

/* One per status, two priorities, two times, five exact matches, the limit. */
#define LIST_MAX_PARAMS (JOB_STATUS_COUNT + 10)

/* One parameter of a job_list query: text (borrowed) or integer. */
struct list_param {
    const char *text;
    int64_t number;
    bool is_text;
};

/*
 * struct list_query - the SQL of job_list for one filter, with only the
 * WHERE terms it needs and its parameters in order. Values are never
 * written into the SQL. Clear with list_query_clear.
 */
struct list_query {
    char *sql; /* sqlite3_malloc'd */
    struct list_param params[LIST_MAX_PARAMS];
    int param_count;
    int limit;          /* items per page; the SQL fetches one more */
    char *like_pattern; /* owned */
    char created_after[TIME_RFC3339_LEN];
    char created_before[TIME_RFC3339_LEN];
};

static void list_query_clear(struct list_query *query)
{
    sqlite3_free(query->sql);
    free(query->like_pattern);
    memset(query, 0, sizeof(*query));
}

static void add_text_param(struct list_query *query, const char *text)
{
    query->params[query->param_count++] = (struct list_param){.text = text, .is_text = true};
}

static void add_int_param(struct list_query *query, int64_t number)
{
    query->params[query->param_count++] = (struct list_param){.number = number};
}

/* add_term - " WHERE term" for the first, " AND term" after. */
static void add_term(sqlite3_str *sql, bool *first, const char *term)
{
    sqlite3_str_appendall(sql, *first ? " WHERE " : " AND ");
    sqlite3_str_appendall(sql, term);
    *first = false;
}

/* add_status_term - "f.status IN (?, ...)" for the statuses in mask. */
static void add_status_term(struct list_query *query, sqlite3_str *sql, bool *first, unsigned mask)
{
    add_term(sql, first, "f.status IN (");
    const char *separator = "";
    for (int status = 0; status < JOB_STATUS_COUNT; status++) {
        if (!(mask & (1u << status)))
            continue;
        sqlite3_str_appendall(sql, separator);
        sqlite3_str_appendall(sql, "?");
        add_text_param(query, job_status_name((enum job_status)status));
        separator = ", ";
    }
    sqlite3_str_appendall(sql, ")");
}

/* add_filter_terms - the WHERE terms (and their parameters) of filter. */
static int add_filter_terms(struct list_query *query, sqlite3_str *sql,
                            const struct job_filter *filter, struct iq_error *err)
{
    bool first = true;
    unsigned mask = filter->status_mask & ((1u << JOB_STATUS_COUNT) - 1);
    if (mask)
        add_status_term(query, sql, &first, mask);
    if (filter->priority_min) {
        add_term(sql, &first, "f.priority >= ?");
        add_int_param(query, filter->priority_min);
    }
    if (filter->priority_max) {
        add_term(sql, &first, "f.priority <= ?");
        add_int_param(query, filter->priority_max);
    }
    if (filter->created_after_ms) {
        add_term(sql, &first, "f.created_at > ?");
        add_text_param(query, time_format_rfc3339(filter->created_after_ms, query->created_after));
    }
    if (filter->created_before_ms) {
        add_term(sql, &first, "f.created_at < ?");
        add_text_param(query,
                       time_format_rfc3339(filter->created_before_ms, query->created_before));
    }
    if (filter->table) {
        add_term(sql, &first, "f.target_table = ?");
        add_text_param(query, filter->table);
    }
    if (filter->q) {
        if (!(query->like_pattern = store_like_pattern(filter->q)))
            return nomem(err);
        add_term(sql, &first, "f.name LIKE ? ESCAPE '\\'");
        add_text_param(query, query->like_pattern);
    }
    if (filter->orchestration_id) {
        add_term(sql, &first, "f.orchestration_id = ?");
        add_text_param(query, filter->orchestration_id);
    }
    if (filter->schedule_id) {
        add_term(sql, &first, "f.schedule_id = ?");
        add_text_param(query, filter->schedule_id);
    }
    if (filter->after_id && filter->after_id[0]) {
        add_term(sql, &first, "f.id < ?");
        add_text_param(query, filter->after_id);
    }
    return 0;
}

/*
 * list_query_build - the job_list SQL for filter (prefixed by prefix, e.g.
 * "EXPLAIN QUERY PLAN "): newest first, limit + 1 rows so the caller knows
 * whether another page follows. Clear with list_query_clear.
 *
 * The filter picks ids in a subquery and only the chosen page is read in
 * full. SQLite builds every selected row before sorting, so filtering,
 * sorting and limiting the whole row (JSON columns, the dependency
 * subquery) cost 10-15x more at 100,000 jobs than sorting ids from a
 * covering index such as stg_import_queue_status_priority.
 */
static int list_query_build(const struct job_filter *filter, const char *prefix,
                            struct list_query *ret_query, struct iq_error *err)
{
    memset(ret_query, 0, sizeof(*ret_query));
    int limit = filter->limit > 0 ? filter->limit : JOB_LIST_LIMIT_DEFAULT;
    ret_query->limit = limit > JOB_LIST_LIMIT_MAX ? JOB_LIST_LIMIT_MAX : limit;
    sqlite3_str *sql = sqlite3_str_new(NULL);
    sqlite3_str_appendall(sql, prefix);
    sqlite3_str_appendall(sql, JOB_SELECT " WHERE q.id IN (SELECT f.id FROM stg_import_queue f");
    int rc = add_filter_terms(ret_query, sql, filter, err);
    sqlite3_str_appendall(sql, " ORDER BY f.id DESC LIMIT ?) ORDER BY q.id DESC");
    add_int_param(ret_query, ret_query->limit + 1);
    bool failed = sqlite3_str_errcode(sql) != SQLITE_OK;
    ret_query->sql = sqlite3_str_finish(sql);
    if (rc == 0 && (failed || !ret_query->sql))
        rc = nomem(err);
    if (rc < 0)
        list_query_clear(ret_query);
    return rc;
}

/*
 * list_query_prepare - prepare (not cached: its shape varies with the
 * filter) and bind query. *ret_stmt: sqlite3_finalize.
 */
static int list_query_prepare(struct sqlite_store *s, const struct list_query *query,
                              sqlite3_stmt **ret_stmt, struct iq_error *err)
{
    *ret_stmt = NULL;
    if (sqlite3_prepare_v3(s->db, query->sql, -1, 0, ret_stmt, NULL) != SQLITE_OK) {
        sqlite3_finalize(*ret_stmt);
        *ret_stmt = NULL;
        return db_error(s, "prepare job list", err);
    }
    struct binder b = binder_start(*ret_stmt);
    for (int i = 0; i < query->param_count; i++) {
        if (query->params[i].is_text)
            bind_text(&b, query->params[i].text);
        else
            bind_int64(&b, query->params[i].number);
    }
    if (binder_check(s, &b, err) < 0) {
        sqlite3_finalize(*ret_stmt);
        *ret_stmt = NULL;
        return IQ_E_DB;
    }
    return 0;
}

/* read_page - step a bound list statement into page (limit items at most). */
static int read_page(struct sqlite_store *s, sqlite3_stmt *stmt, int limit, struct job_page *page,
                     struct iq_error *err)
{
    page->items = calloc((size_t)limit, sizeof(*page->items));
    if (!page->items)
        return nomem(err);
    int rc;
    while ((rc = stmt_next(s, stmt, "list jobs", err)) == 1) {
        if (page->count == (size_t)limit) {
            /* The extra row: another page follows this one. */
            memcpy(page->next_after_id, page->items[limit - 1]->id, UUID_STR_LEN);
            stmt_release(stmt);
            return 0;
        }
        rc = row_to_job(stmt, &page->items[page->count], err);
        if (rc < 0) {
            stmt_release(stmt);
            return rc;
        }
        page->count++;
    }
    return rc;
}

/* sqlite_job_list - see store_ops.job_list. One statement: a consistent snapshot. */
static int sqlite_job_list(struct store *base, const struct job_filter *filter,
                           struct job_page *ret_page, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    static const struct job_filter no_filter = {0};
    memset(ret_page, 0, sizeof(*ret_page));
    struct list_query query;
    int rc = list_query_build(filter ? filter : &no_filter, "", &query, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *stmt = NULL;
    rc = list_query_prepare(s, &query, &stmt, err);
    if (rc == 0)
        rc = read_page(s, stmt, query.limit, ret_page, err);
    sqlite3_finalize(stmt);
    list_query_clear(&query);
    if (rc < 0)
        job_page_clear(ret_page);
    return rc;
}

/*
 * sqlite_explain_job_list - EXPLAIN QUERY PLAN of job_list's SQL for
 * filter: the plan's detail lines joined by newlines. *ret_plan: free().
 */
static int sqlite_explain_job_list(struct store *base, const struct job_filter *filter,
                                   char **ret_plan, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    static const struct job_filter no_filter = {0};
    *ret_plan = NULL;
    struct list_query query;
    int rc = list_query_build(filter ? filter : &no_filter, "EXPLAIN QUERY PLAN ", &query, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *stmt = NULL;
    rc = list_query_prepare(s, &query, &stmt, err);
    sqlite3_str *plan = sqlite3_str_new(NULL);
    while (rc == 0 && (rc = stmt_next(s, stmt, "explain job list", err)) == 1) {
        const char *detail = (const char *)sqlite3_column_text(stmt, 3);
        if (sqlite3_str_length(plan) > 0)
            sqlite3_str_appendchar(plan, 1, '\n');
        sqlite3_str_appendall(plan, detail ? detail : "");
        rc = 0;
    }
    sqlite3_finalize(stmt);
    list_query_clear(&query);
    bool failed = sqlite3_str_errcode(plan) != SQLITE_OK;
    char *text = sqlite3_str_finish(plan);
    if (rc == 0 && failed)
        rc = nomem(err);
    if (rc == 0 && !(*ret_plan = strdup(text ? text : "")))
        rc = nomem(err);
    sqlite3_free(text);
    return rc;
}

/* finished_since - jobs of status finished at or after since_ms. */
static int finished_since(struct sqlite_store *s, enum job_status status, int64_t since_ms,
                          int64_t *ret_count, struct iq_error *err)
{
    sqlite3_stmt *stmt = stmt_get(s, STMT_STATS_FINISHED_SINCE, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, job_status_name(status));
    bind_time(&b, since_ms);
    int rc = binder_check(s, &b, err);
    return rc < 0 ? rc : read_int64(s, stmt, "count finished jobs", ret_count, err);
}

/* count_by_status - stats->count[] from one GROUP BY. */
static int count_by_status(struct sqlite_store *s, struct queue_stats *stats, struct iq_error *err)
{
    sqlite3_stmt *stmt = stmt_get(s, STMT_STATS_COUNTS, err);
    if (!stmt)
        return IQ_E_DB;
    int rc;
    while ((rc = stmt_next(s, stmt, "count jobs by status", err)) == 1) {
        enum job_status status;
        if (job_status_parse((const char *)sqlite3_column_text(stmt, 0), &status) == 0)
            stats->count[status] = sqlite3_column_int64(stmt, 1);
    }
    return rc;
}

/* oldest_queued_age - seconds since the oldest QUEUED job was created; 0 when none. */
static int oldest_queued_age(struct sqlite_store *s, int64_t now_ms, int64_t *ret_age_s,
                             struct iq_error *err)
{
    *ret_age_s = 0;
    sqlite3_stmt *stmt = stmt_get(s, STMT_STATS_OLDEST_QUEUED, err);
    if (!stmt)
        return IQ_E_DB;
    int rc = stmt_next(s, stmt, "find oldest queued job", err);
    if (rc <= 0)
        return rc;
    const char *text = (const char *)sqlite3_column_text(stmt, 0);
    int64_t created_ms = now_ms;
    rc = 0;
    if (text && time_parse_rfc3339(text, &created_ms) != 0)
        rc = iq_error_set(err, IQ_E_DB, "a queued job has an unreadable created_at \"%s\"", text);
    else if (now_ms > created_ms)
        *ret_age_s = (now_ms - created_ms) / 1000;
    stmt_release(stmt);
    return rc;
}

/* stats_locked - the queries of queue_stats, inside one read transaction. */
static int stats_locked(struct sqlite_store *s, int64_t now_ms, struct queue_stats *stats,
                        struct iq_error *err)
{
    int rc = count_by_status(s, stats, err);
    if (rc == 0)
        rc = finished_since(s, JOB_COMPLETED, now_ms - DAY_MS, &stats->completed_24h, err);
    if (rc == 0)
        rc = finished_since(s, JOB_FAILED, now_ms - DAY_MS, &stats->failed_24h, err);
    if (rc == 0)
        rc = oldest_queued_age(s, now_ms, &stats->oldest_queued_age_s, err);
    return rc;
}

/*
 * sqlite_queue_stats - see store_ops.queue_stats. The queries share one
 * read snapshot (a deferred, read-only transaction: it never upgrades).
 * now_ms <= 0 means the current time.
 */
static int sqlite_queue_stats(struct store *base, int64_t now_ms, struct queue_stats *ret_stats,
                              struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    memset(ret_stats, 0, sizeof(*ret_stats));
    if (now_ms <= 0)
        now_ms = time_now_ms();
    int rc = run_cached(s, STMT_BEGIN_READ, "begin read transaction", err);
    if (rc < 0)
        return rc;
    rc = tx_finish(s, stats_locked(s, now_ms, ret_stats, err), err);
    if (rc < 0)
        memset(ret_stats, 0, sizeof(*ret_stats));
    return rc;
}

static const struct store_ops sqlite_store_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .migrate = sqlite_migrate,
    .schema_version = sqlite_schema_version,
    .job_create = sqlite_job_create,
    .job_get = sqlite_job_get,
    .job_list = sqlite_job_list,
    .job_update = sqlite_job_update,
    .job_cancel = sqlite_job_cancel,
    .queue_stats = sqlite_queue_stats,
    .explain_job_list = sqlite_explain_job_list,
};
