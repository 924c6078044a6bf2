/*
 * store_pg.c - the PostgreSQL backend of the store (libpq).
 *
 * One struct pg_store is ONE connection and is not thread-safe: every
 * thread opens its own (store.h). This file holds SQL and transaction
 * plumbing only; which job runs when is the engine's business.
 *
 * Statements: values always travel as text parameters ($n with casts),
 * never inside the SQL. The hot paths (reading a job, inserting a job,
 * the audit chain head and insert) are prepared once per connection, by
 * name, on first use; a reconnect forgets them and they are prepared again.
 *
 * Reconnect: when a statement fails with the connection gone
 * (PQstatus == CONNECTION_BAD) and nothing would be lost by it - no open
 * transaction, no session advisory lock - the connection is PQreset once
 * and the statement retried. Inside a transaction the error is returned
 * and the next operation's BEGIN reconnects.
 *
 * Times go in as RFC 3339 text cast to timestamptz and come out through
 * to_char(... AT TIME ZONE 'UTC') as "YYYY-MM-DDTHH:MM:SS.mmmZ"; stored
 * times come from time_now_ms() (the C clock).
 *
 * Advisory lock keys (one bigint namespace 0x4951xxxx, "IQ", for importq):
 *   PG_LOCK_MIGRATE    0x49510001  session lock around migrate
 *   PG_LOCK_JOB_GRAPH  0x49510002  transaction lock: job admission (request_id
 *                                  uniqueness, queue capacity) and every change
 *                                  to or walk of the dependency graph (create,
 *                                  update, cancel with its cascade)
 *   PG_LOCK_AUDIT      0x49510003  transaction lock on the audit chain head
 *
 * Lock order, so no two importq transactions wait on each other in a
 * cycle: PG_LOCK_JOB_GRAPH, then job rows (the job itself FOR UPDATE, its
 * dependencies FOR SHARE, its dependants FOR UPDATE in id order), then
 * PG_LOCK_AUDIT last, held only from reading the chain head to COMMIT.
 * Dependencies are read FOR SHARE so that a concurrent completion of a
 * dependency either committed before (we see COMPLETED) or waits for our
 * commit (and then sees our new edge when it decrements dependants).
 */
#include "store/store_internal.h"

#include "core/audit.h"
#include "core/job.h"
#include "core/timeutil.h"
#include "core/uuid7.h"
#include "store/migrations.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PG_LOCK_MIGRATE "1230045185"   /* 0x49510001 */
#define PG_LOCK_JOB_GRAPH "1230045186" /* 0x49510002 */
#define PG_LOCK_AUDIT "1230045187"     /* 0x49510003 */

#define PG_DEFAULT_CONNECT_TIMEOUT_S 10
#define PG_TIME_FORMAT "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'"
#define MS_PER_DAY (24 * 3600 * 1000LL)

/* ------------------------------------------------------------------ */
/* Statements prepared once per connection                             */
/* ------------------------------------------------------------------ */

enum pg_statement {
    STMT_NONE = -1, /* ad hoc SQL, not prepared */
    STMT_JOB_GET,
    STMT_JOB_GET_FOR_UPDATE,
    STMT_JOBS_BY_IDS,
    STMT_DEPENDANTS_FOR_UPDATE,
    STMT_JOB_INSERT,
    STMT_AUDIT_HEAD,
    STMT_AUDIT_INSERT,
    STMT_COUNT
};

struct pg_statement_info {
    const char *name;
    bool selects_job; /* sql follows "SELECT <job columns> " */
    const char *sql;
    int param_count;
};

static const struct pg_statement_info statements[STMT_COUNT] = {
    [STMT_JOB_GET] = {"iq_job_get", true, "FROM stg_import_queue q WHERE q.id = $1::uuid", 1},
    [STMT_JOB_GET_FOR_UPDATE] = {"iq_job_get_for_update", true,
                                 "FROM stg_import_queue q WHERE q.id = $1::uuid FOR UPDATE OF q",
                                 1},
    [STMT_JOBS_BY_IDS] = {"iq_jobs_by_ids", true,
                          "FROM stg_import_queue q WHERE q.id = ANY($1::uuid[]) ORDER BY q.id", 1},
    /* Every job depending on $1, directly or not, still HELD/QUEUED. */
    [STMT_DEPENDANTS_FOR_UPDATE] =
        {"iq_dependants_for_update", true,
         "FROM stg_import_queue q WHERE q.id IN ("
         "WITH RECURSIVE dependant(id) AS ("
         " SELECT e.job_id FROM importq_job_deps e WHERE e.depends_on_id = $1::uuid"
         " UNION"
         " SELECT e.job_id FROM importq_job_deps e JOIN dependant p ON e.depends_on_id = p.id)"
         " SELECT id FROM dependant)"
         " AND q.status IN ('HELD', 'QUEUED') ORDER BY q.id FOR UPDATE OF q",
         1},
    [STMT_JOB_INSERT] =
        {"iq_job_insert", false,
         "INSERT INTO stg_import_queue (id, request_id, name, status, priority,"
         " orchestration_id, schedule_id, scheduled_at, available_at, deps_pending,"
         " max_attempts, timeout_s, resources, source, target, on_error, target_table,"
         " error, created_by, created_at, updated_at, finished_at)"
         " VALUES ($1::uuid, $2, $3, $4, $5::smallint, $6::uuid, $7::uuid,"
         " $8::timestamptz, $9::timestamptz, $10::integer, $11::integer, $12::integer,"
         " $13::jsonb, $14::jsonb, $15::jsonb, $16::jsonb, $17, $18::jsonb, $19,"
         " $20::timestamptz, $20::timestamptz, $21::timestamptz)",
         21},
    [STMT_AUDIT_HEAD] = {"iq_audit_head", false,
                         "SELECT id, hash FROM stg_import_audit ORDER BY id DESC LIMIT 1", 0},
    [STMT_AUDIT_INSERT] =
        {"iq_audit_insert", false,
         "INSERT INTO stg_import_audit (id, at, actor, action, entity, entity_id, before,"
         " after, request_id, client_addr, prev_hash, hash)"
         " VALUES ($1::bigint, $2::timestamptz, $3, $4, $5, $6, $7::json, $8::json, $9,"
         " $10, $11, $12)",
         12},
};

/* One connection. base must stay the first member (store.h). */
struct pg_store {
    struct store base;
    PGconn *conn;
    char *select_list; /* JOB_COLUMNS as a select list over alias q */
    char *statement_sql[STMT_COUNT];
    bool prepared[STMT_COUNT]; /* on this connection (forgotten on reset) */
    bool in_transaction;       /* BEGIN sent, no COMMIT/ROLLBACK yet */
    bool holds_session_lock;   /* migrate's advisory lock */
    char sqlstate[6];          /* of the last failed statement, "" after success */
};

static struct pg_store *pg_store_of(struct store *s)
{
    return (struct pg_store *)s;
}

/* ------------------------------------------------------------------ */
/* A growable SQL text                                                 */
/* ------------------------------------------------------------------ */

struct sql_text {
    char *data;
    size_t len;
    size_t cap;
    bool failed; /* out of memory: data is unusable */
};

static void sql_append(struct sql_text *text, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sql_append(struct sql_text *text, const char *fmt, ...)
{
    if (text->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        text->failed = true;
        return;
    }
    size_t need = text->len + (size_t)n + 1;
    if (need > text->cap) {
        size_t cap = text->cap ? text->cap : 256;
        while (cap < need)
            cap *= 2;
        char *grown = realloc(text->data, cap);
        if (!grown) {
            text->failed = true;
            return;
        }
        text->data = grown;
        text->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(text->data + text->len, text->cap - text->len, fmt, ap);
    va_end(ap);
    text->len += (size_t)n;
}

/* sql_take - the built text (caller frees), NULL when building failed. */
static char *sql_take(struct sql_text *text)
{
    if (text->failed || !text->data) {
        free(text->data);
        memset(text, 0, sizeof(*text));
        return NULL;
    }
    char *out = text->data;
    memset(text, 0, sizeof(*text));
    return out;
}

/*
 * build_select_list - the JOB_COLUMNS select list over alias q, in
 * job_columns[] order, as store_job_decode expects. Caller frees; NULL on OOM.
 */
static char *build_select_list(void)
{
    struct sql_text text = {0};
    for (int i = 0; i < JOBCOL_COUNT; i++) {
        const char *sep = i ? ", " : "";
        const char *column = job_columns[i].name;
        switch (job_columns[i].kind) {
        case COLKIND_TIME:
            sql_append(&text, "%sto_char(q.%s AT TIME ZONE 'UTC', " PG_TIME_FORMAT ")", sep,
                       column);
            break;
        case COLKIND_DEPS:
            sql_append(&text,
                       "%s(SELECT coalesce(json_agg(d.depends_on_id ORDER BY d.depends_on_id),"
                       " '[]'::json) FROM importq_job_deps d WHERE d.job_id = q.id)",
                       sep);
            break;
        default:
            sql_append(&text, "%sq.%s", sep, column);
            break;
        }
    }
    return sql_take(&text);
}

/* build_statements - the select list and the text of every prepared statement. */
static int build_statements(struct pg_store *ps)
{
    ps->select_list = build_select_list();
    if (!ps->select_list)
        return -1;
    for (int i = 0; i < STMT_COUNT; i++) {
        struct sql_text text = {0};
        if (statements[i].selects_job)
            sql_append(&text, "SELECT %s %s", ps->select_list, statements[i].sql);
        else
            sql_append(&text, "%s", statements[i].sql);
        ps->statement_sql[i] = sql_take(&text);
        if (!ps->statement_sql[i])
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Running statements: errors, reconnect, transactions                 */
/* ------------------------------------------------------------------ */

/*
 * set_db_error - IQ_E_DB "<what>: <libpq message>" (trailing newline
 * trimmed); remembers the SQLSTATE of res in ps->sqlstate. Returns IQ_E_DB.
 */
static int set_db_error(struct pg_store *ps, const PGresult *res, const char *what,
                        struct iq_error *err)
{
    const char *message = res ? PQresultErrorMessage(res) : "";
    if (!message || !*message)
        message = PQerrorMessage(ps->conn);
    size_t len = strlen(message);
    while (len > 0 && (message[len - 1] == '\n' || message[len - 1] == ' '))
        len--;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(ps->sqlstate, sizeof(ps->sqlstate), "%s", state ? state : "");
    return iq_error_set(err, IQ_E_DB, "%s: %.*s", what, (int)len,
                        len ? message : "no response from the server");
}

static bool result_ok(const PGresult *res)
{
    ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

/* exec_once - one attempt: prepare stmt when needed, then run it (or sql). */
static PGresult *exec_once(struct pg_store *ps, enum pg_statement stmt, const char *sql,
                           int param_count, const char *const *values)
{
    if (stmt == STMT_NONE) {
        if (param_count == 0)
            return PQexec(ps->conn, sql); /* may be a multi-statement script */
        return PQexecParams(ps->conn, sql, param_count, NULL, values, NULL, NULL, 0);
    }
    if (!ps->prepared[stmt]) {
        PGresult *res = PQprepare(ps->conn, statements[stmt].name, ps->statement_sql[stmt],
                                  statements[stmt].param_count, NULL);
        if (!result_ok(res))
            return res;
        PQclear(res);
        ps->prepared[stmt] = true;
    }
    return PQexecPrepared(ps->conn, statements[stmt].name, statements[stmt].param_count, values,
                          NULL, NULL, 0);
}

/* reconnect - PQreset; prepared statements are gone with the old session. */
static bool reconnect(struct pg_store *ps)
{
    PQreset(ps->conn);
    memset(ps->prepared, 0, sizeof(ps->prepared));
    return PQstatus(ps->conn) == CONNECTION_OK;
}

/*
 * pg_run - run a prepared statement (stmt) or ad hoc sql with text
 * parameters. When it fails because the connection is gone and no
 * transaction or session lock is held, reconnects once and retries.
 * Returns 0 and the result in *ret_res (caller PQclears; ret_res may be
 * NULL to discard it), or IQ_E_DB with err set and ps->sqlstate recorded.
 */
static int pg_run(struct pg_store *ps, const char *what, enum pg_statement stmt, const char *sql,
                  int param_count, const char *const *values, PGresult **ret_res,
                  struct iq_error *err)
{
    if (ret_res)
        *ret_res = NULL;
    for (int attempt = 0;; attempt++) {
        PGresult *res = exec_once(ps, stmt, sql, param_count, values);
        if (result_ok(res)) {
            ps->sqlstate[0] = '\0';
            if (ret_res)
                *ret_res = res;
            else
                PQclear(res);
            return 0;
        }
        bool may_retry = attempt == 0 && !ps->in_transaction && !ps->holds_session_lock &&
                         PQstatus(ps->conn) == CONNECTION_BAD;
        if (may_retry) {
            PQclear(res);
            if (reconnect(ps))
                continue;
            return set_db_error(ps, NULL, what, err);
        }
        int rc = set_db_error(ps, res, what, err);
        PQclear(res);
        return rc;
    }
}

static int pg_exec(struct pg_store *ps, const char *what, const char *sql, int param_count,
                   const char *const *values, PGresult **ret_res, struct iq_error *err)
{
    return pg_run(ps, what, STMT_NONE, sql, param_count, values, ret_res, err);
}

static int pg_exec_prepared(struct pg_store *ps, const char *what, enum pg_statement stmt,
                            const char *const *values, PGresult **ret_res, struct iq_error *err)
{
    return pg_run(ps, what, stmt, NULL, 0, values, ret_res, err);
}

static int tx_begin(struct pg_store *ps, struct iq_error *err)
{
    int rc = pg_exec(ps, "starting a transaction", "BEGIN", 0, NULL, NULL, err);
    if (rc == 0)
        ps->in_transaction = true;
    return rc;
}

/* tx_rollback - best effort; keeps the error that caused it. */
static void tx_rollback(struct pg_store *ps)
{
    if (!ps->in_transaction)
        return;
    PQclear(PQexec(ps->conn, "ROLLBACK"));
    ps->in_transaction = false;
}

/*
 * tx_finish - COMMIT when rc is 0, else ROLLBACK. Returns rc, or IQ_E_DB
 * when the commit failed (a COMMIT of an aborted transaction answers
 * "ROLLBACK", which is a failure too).
 */
static int tx_finish(struct pg_store *ps, int rc, struct iq_error *err)
{
    if (rc < 0) {
        tx_rollback(ps);
        return rc;
    }
    PGresult *res = NULL;
    rc = pg_exec(ps, "committing", "COMMIT", 0, NULL, &res, err);
    ps->in_transaction = false;
    if (rc == 0 && strcmp(PQcmdStatus(res), "COMMIT") != 0)
        rc = iq_error_set(err, IQ_E_DB, "committing: the transaction was rolled back");
    PQclear(res);
    return rc;
}

/* lock_graph - PG_LOCK_JOB_GRAPH until the end of the transaction. */
static int lock_graph(struct pg_store *ps, struct iq_error *err)
{
    return pg_exec(ps, "locking the job graph",
                   "SELECT pg_advisory_xact_lock(" PG_LOCK_JOB_GRAPH ")", 0, NULL, NULL, err);
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* time_param - RFC 3339 text of ms in buf, or NULL (SQL NULL) for 0. */
static const char *time_param(int64_t ms, char buf[TIME_RFC3339_LEN])
{
    return ms ? time_format_rfc3339(ms, buf) : NULL;
}

static int64_t text_to_int64(const char *text)
{
    return text ? strtoll(text, NULL, 10) : 0;
}

/*
 * uuid_array_text - "{id,id,...}" for a uuid[] parameter. Ids are checked
 * with uuid_is_valid, so the literal needs no quoting. Returns a new string
 * (caller frees) or NULL: *ret_bad is the first invalid id (or NULL on OOM).
 */
static char *uuid_array_text(char *const *ids, size_t count, const char **ret_bad)
{
    *ret_bad = NULL;
    struct sql_text text = {0};
    sql_append(&text, "{");
    for (size_t i = 0; i < count; i++) {
        if (!uuid_is_valid(ids[i])) {
            *ret_bad = ids[i] ? ids[i] : "";
            free(sql_take(&text));
            return NULL;
        }
        sql_append(&text, "%s%s", i ? "," : "", ids[i]);
    }
    sql_append(&text, "}");
    return sql_take(&text);
}

/* job_ids_array_text - "{...}" of the ids of jobs. Caller frees; NULL on OOM. */
static char *job_ids_array_text(struct job *const *jobs, size_t count)
{
    struct sql_text text = {0};
    sql_append(&text, "{");
    for (size_t i = 0; i < count; i++)
        sql_append(&text, "%s%s", i ? "," : "", jobs[i]->id);
    sql_append(&text, "}");
    return sql_take(&text);
}

/* error_json_text - {"code","message"} as compact JSON. Caller frees; NULL on OOM. */
static char *error_json_text(const char *code, const char *message)
{
    json_t *value = json_pack("{s:s,s:s}", "code", code, "message", message);
    char *text = store_json_text(value);
    json_decref(value);
    return text;
}

/* ------------------------------------------------------------------ */
/* Reading jobs                                                        */
/* ------------------------------------------------------------------ */

/* decode_row - one result row (select list order) into a new job. */
static int decode_row(const PGresult *res, int row, struct job **ret_job, struct iq_error *err)
{
    if (PQnfields(res) < JOBCOL_COUNT)
        return iq_error_set(err, IQ_E_INTERNAL, "job row has %d columns, want %d", PQnfields(res),
                            JOBCOL_COUNT);
    const char *values[JOBCOL_COUNT];
    for (int i = 0; i < JOBCOL_COUNT; i++)
        values[i] = PQgetisnull(res, row, i) ? NULL : PQgetvalue(res, row, i);
    return store_job_decode(values, ret_job, err);
}

/*
 * decode_rows - every row of res into a new array of jobs (*ret_jobs,
 * caller frees each with job_free and the array with free). Rows beyond
 * max_rows are ignored.
 */
static int decode_rows(const PGresult *res, size_t max_rows, struct job ***ret_jobs,
                       size_t *ret_count, struct iq_error *err)
{
    *ret_jobs = NULL;
    *ret_count = 0;
    size_t rows = (size_t)PQntuples(res);
    if (rows > max_rows)
        rows = max_rows;
    if (rows == 0)
        return 0;
    struct job **jobs = calloc(rows, sizeof(*jobs));
    if (!jobs)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; i < rows; i++) {
        int rc = decode_row(res, (int)i, &jobs[i], err);
        if (rc < 0) {
            for (size_t j = 0; j < i; j++)
                job_free(jobs[j]);
            free(jobs);
            return rc;
        }
    }
    *ret_jobs = jobs;
    *ret_count = rows;
    return 0;
}

static void free_jobs(struct job **jobs, size_t count)
{
    for (size_t i = 0; i < count; i++)
        job_free(jobs[i]);
    free(jobs);
}

/*
 * read_job - the job with this id (FOR UPDATE when for_update: only inside
 * a transaction). Returns 0 and a new job (job_free), IQ_E_NOT_FOUND for an
 * unknown or malformed id (SQLSTATE 22P02), IQ_E_DB.
 */
static int read_job(struct pg_store *ps, const char *id, bool for_update, struct job **ret_job,
                    struct iq_error *err)
{
    *ret_job = NULL;
    if (!id)
        return iq_error_set(err, IQ_E_NOT_FOUND, "job (null) not found");
    const char *values[1] = {id};
    PGresult *res;
    int rc =
        pg_exec_prepared(ps, "reading a job", for_update ? STMT_JOB_GET_FOR_UPDATE : STMT_JOB_GET,
                         values, &res, err);
    if (rc < 0) {
        if (strcmp(ps->sqlstate, "22P02") == 0) /* invalid_text_representation */
            return iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", id);
        return rc;
    }
    if (PQntuples(res) == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", id);
    else
        rc = decode_row(res, 0, ret_job, err);
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The audit chain                                                     */
/* ------------------------------------------------------------------ */

/*
 * append_audit - append one row to stg_import_audit inside the caller's
 * transaction: takes PG_LOCK_AUDIT (held until COMMIT, so call it last),
 * reads the chain head, hashes and inserts the row numbered head + 1.
 * before_json/after_json are stored byte for byte (json columns).
 * Returns 0 or IQ_E_DB.
 */
static int append_audit(struct pg_store *ps, const struct audit_context *actx, const char *action,
                        const char *entity, const char *entity_id, const char *before_json,
                        const char *after_json, struct iq_error *err)
{
    int rc = pg_exec(ps, "locking the audit chain",
                     "SELECT pg_advisory_xact_lock(" PG_LOCK_AUDIT ")", 0, NULL, NULL, err);
    if (rc < 0)
        return rc;
    PGresult *res;
    rc = pg_exec_prepared(ps, "reading the audit chain head", STMT_AUDIT_HEAD, NULL, &res, err);
    if (rc < 0)
        return rc;
    char prev_hash[AUDIT_HASH_LEN] = AUDIT_GENESIS_HASH;
    int64_t last_id = 0;
    if (PQntuples(res) > 0) {
        last_id = text_to_int64(PQgetvalue(res, 0, 0));
        snprintf(prev_hash, sizeof(prev_hash), "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);

    struct audit_record record = {
        .id = last_id + 1,
        .at_ms = time_now_ms(),
        .actor = actx && actx->actor ? actx->actor : "unknown",
        .action = action,
        .entity = entity,
        .entity_id = entity_id,
        .before_json = before_json,
        .after_json = after_json,
        .request_id = actx ? actx->request_id : NULL,
        .client_addr = actx ? actx->client_addr : NULL,
        .prev_hash = prev_hash,
    };
    char hash[AUDIT_HASH_LEN];
    audit_hash(&record, hash);
    char id_text[24], at_text[TIME_RFC3339_LEN];
    snprintf(id_text, sizeof(id_text), "%" PRId64, record.id);
    const char *values[12] = {id_text,
                              time_format_rfc3339(record.at_ms, at_text),
                              record.actor,
                              record.action,
                              record.entity,
                              record.entity_id,
                              record.before_json,
                              record.after_json,
                              record.request_id,
                              record.client_addr,
                              record.prev_hash,
                              hash};
    return pg_exec_prepared(ps, "appending to the audit trail", STMT_AUDIT_INSERT, values, NULL,
                            err);
}

/* job_json_text - the job's API form as compact sorted JSON, NULL for NULL. */
static int job_json_text(const struct job *job, char **ret_text, struct iq_error *err)
{
    *ret_text = NULL;
    if (!job)
        return 0;
    json_t *value = job_to_json(job);
    *ret_text = store_json_text(value);
    json_decref(value);
    return *ret_text ? 0 : iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

/* audit_job_change - append_audit for entity "job" with before/after images. */
static int audit_job_change(struct pg_store *ps, const struct audit_context *actx,
                            const char *action, const struct job *before, const struct job *after,
                            struct iq_error *err)
{
    char *before_json = NULL, *after_json = NULL;
    int rc = job_json_text(before, &before_json, err);
    if (rc == 0)
        rc = job_json_text(after, &after_json, err);
    if (rc == 0)
        rc = append_audit(ps, actx, action, "job", after ? after->id : before->id, before_json,
                          after_json, err);
    free(before_json);
    free(after_json);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Dependencies                                                        */
/* ------------------------------------------------------------------ */

/* What check_dependencies found out about a spec's depends_on. */
struct dep_check {
    char *array_text;             /* "{...}" uuid[] literal, owned */
    int pending;                  /* dependencies not COMPLETED */
    char failed_id[UUID_STR_LEN]; /* first FAILED/CANCELLED one, "" when none */
    char failed_status[16];
};

static void dep_check_clear(struct dep_check *check)
{
    free(check->array_text);
    memset(check, 0, sizeof(*check));
}

/* find_row - row of res whose column 0 equals id (case-insensitively), or -1. */
static int find_row(const PGresult *res, const char *id)
{
    for (int i = 0; i < PQntuples(res); i++)
        if (strcasecmp(PQgetvalue(res, i, 0), id) == 0)
            return i;
    return -1;
}

/*
 * find_cycle - would job self_id depending on the jobs in array_text close
 * a cycle, i.e. does any of them transitively depend on self_id? Writes
 * that dependency into ret_via ("" when no cycle). Returns 0 or IQ_E_DB.
 */
static int find_cycle(struct pg_store *ps, const char *self_id, const char *array_text,
                      char ret_via[UUID_STR_LEN], struct iq_error *err)
{
    static const char sql[] =
        "WITH RECURSIVE reach(id, via) AS ("
        " SELECT d, d FROM unnest($1::uuid[]) AS d"
        " UNION"
        " SELECT e.depends_on_id, r.via FROM importq_job_deps e JOIN reach r ON e.job_id = r.id)"
        " SELECT via::text FROM reach WHERE id = $2::uuid LIMIT 1";
    const char *values[2] = {array_text, self_id};
    PGresult *res;
    int rc = pg_exec(ps, "checking for a dependency cycle", sql, 2, values, &res, err);
    if (rc < 0)
        return rc;
    snprintf(ret_via, UUID_STR_LEN, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return 0;
}

/* classify_dependencies - walk spec order over the locked rows of res. */
static int classify_dependencies(const PGresult *res, const char *self_id,
                                 const struct job_spec *spec, struct dep_check *check,
                                 struct iq_error *err)
{
    for (size_t i = 0; i < spec->depends_on_count; i++) {
        const char *dep = spec->depends_on[i];
        if (self_id && strcasecmp(dep, self_id) == 0)
            return iq_error_set(err, IQ_E_CONFLICT, "dependency cycle through %s", dep);
        int row = find_row(res, dep);
        if (row < 0)
            return iq_error_set(err, IQ_E_CONFLICT, "unknown dependency %s", dep);
        const char *status = PQgetvalue(res, row, 1);
        if (!check->failed_id[0] &&
            (strcmp(status, "FAILED") == 0 || strcmp(status, "CANCELLED") == 0)) {
            snprintf(check->failed_id, sizeof(check->failed_id), "%s", PQgetvalue(res, row, 0));
            snprintf(check->failed_status, sizeof(check->failed_status), "%s", status);
        }
    }
    for (int row = 0; row < PQntuples(res); row++)
        if (strcmp(PQgetvalue(res, row, 1), "COMPLETED") != 0)
            check->pending++;
    return 0;
}

/*
 * check_dependencies - validate spec->depends_on for job self_id (NULL for
 * a new job): every dependency must exist (IQ_E_CONFLICT "unknown
 * dependency <id>"); for an existing job none may be the job itself or
 * depend on it (IQ_E_CONFLICT "dependency cycle through <id>"). The
 * dependency rows are locked FOR SHARE until the end of the transaction.
 * Fills *check (dep_check_clear it, also on failure).
 */
static int check_dependencies(struct pg_store *ps, const char *self_id, const struct job_spec *spec,
                              struct dep_check *check, struct iq_error *err)
{
    memset(check, 0, sizeof(*check));
    const char *bad;
    check->array_text = uuid_array_text(spec->depends_on, spec->depends_on_count, &bad);
    if (!check->array_text)
        return bad ? iq_error_set(err, IQ_E_CONFLICT, "unknown dependency %s", bad)
                   : iq_error_set(err, IQ_E_NOMEM, "out of memory");
    if (spec->depends_on_count == 0)
        return 0;
    const char *values[1] = {check->array_text};
    PGresult *res;
    int rc = pg_exec(ps, "reading dependencies",
                     "SELECT q.id::text, q.status FROM stg_import_queue q"
                     " WHERE q.id = ANY($1::uuid[]) ORDER BY q.id FOR SHARE",
                     1, values, &res, err);
    if (rc < 0)
        return rc;
    rc = classify_dependencies(res, self_id, spec, check, err);
    PQclear(res);
    if (rc < 0 || !self_id)
        return rc;
    char via[UUID_STR_LEN];
    rc = find_cycle(ps, self_id, check->array_text, via, err);
    if (rc == 0 && via[0])
        rc = iq_error_set(err, IQ_E_CONFLICT, "dependency cycle through %s", via);
    return rc;
}

/* insert_dependencies - the edges job_id -> each id in array_text. */
static int insert_dependencies(struct pg_store *ps, const char *job_id, const char *array_text,
                               struct iq_error *err)
{
    const char *values[2] = {job_id, array_text};
    return pg_exec(ps, "recording dependencies",
                   "INSERT INTO importq_job_deps (job_id, depends_on_id)"
                   " SELECT $1::uuid, d FROM unnest($2::uuid[]) AS d ON CONFLICT DO NOTHING",
                   2, values, NULL, err);
}

/* Jobs a cascade failed: before and after images, pairwise, in id order. */
struct cascade {
    struct job **before;
    struct job **after;
    size_t count;
    size_t after_count;
};

static void cascade_clear(struct cascade *cascade)
{
    free_jobs(cascade->before, cascade->count);
    free_jobs(cascade->after, cascade->after_count);
    memset(cascade, 0, sizeof(*cascade));
}

/* mark_dependants_failed - the UPDATE of a cascade: FAILED, dependency_failed. */
static int mark_dependants_failed(struct pg_store *ps, const char *ids_text, const char *root_id,
                                  const char *root_status, int64_t now_ms, struct iq_error *err)
{
    char message[128];
    snprintf(message, sizeof(message), "dependency %s is %s", root_id, root_status);
    char *error_text = error_json_text("dependency_failed", message);
    if (!error_text)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    char now_text[TIME_RFC3339_LEN];
    const char *values[3] = {ids_text, error_text, time_format_rfc3339(now_ms, now_text)};
    int rc = pg_exec(ps, "failing dependent jobs",
                     "UPDATE stg_import_queue SET status = 'FAILED', error = $2::jsonb,"
                     " finished_at = $3::timestamptz, updated_at = $3::timestamptz"
                     " WHERE id = ANY($1::uuid[])",
                     3, values, NULL, err);
    free(error_text);
    return rc;
}

/*
 * fail_dependants - every HELD/QUEUED job depending on root_id, directly
 * or not, becomes FAILED with error dependency_failed "dependency <root_id>
 * is <root_status>". Rows are locked FOR UPDATE in id order. Fills *ret
 * with before/after images for the audit (cascade_clear it, also on failure).
 */
static int fail_dependants(struct pg_store *ps, const char *root_id, const char *root_status,
                           int64_t now_ms, struct cascade *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    const char *values[1] = {root_id};
    PGresult *res;
    int rc = pg_exec_prepared(ps, "finding dependent jobs", STMT_DEPENDANTS_FOR_UPDATE, values,
                              &res, err);
    if (rc < 0)
        return rc;
    rc = decode_rows(res, SIZE_MAX, &ret->before, &ret->count, err);
    PQclear(res);
    if (rc < 0 || ret->count == 0)
        return rc;
    char *ids_text = job_ids_array_text(ret->before, ret->count);
    if (!ids_text)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    rc = mark_dependants_failed(ps, ids_text, root_id, root_status, now_ms, err);
    if (rc == 0) {
        const char *ids[1] = {ids_text};
        rc = pg_exec_prepared(ps, "reading dependent jobs", STMT_JOBS_BY_IDS, ids, &res, err);
    }
    free(ids_text);
    if (rc < 0)
        return rc;
    rc = decode_rows(res, SIZE_MAX, &ret->after, &ret->after_count, err);
    PQclear(res);
    if (rc == 0 && ret->after_count != ret->count)
        rc = iq_error_set(err, IQ_E_INTERNAL, "cascade read %zu of %zu jobs", ret->after_count,
                          ret->count);
    return rc;
}

/* audit_cascade - one job.dependency_failed row per job of the cascade. */
static int audit_cascade(struct pg_store *ps, const struct audit_context *actx,
                         const struct cascade *cascade, struct iq_error *err)
{
    for (size_t i = 0; i < cascade->count; i++) {
        int rc = audit_job_change(ps, actx, "job.dependency_failed", cascade->before[i],
                                  cascade->after[i], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* job_create                                                          */
/* ------------------------------------------------------------------ */

/*
 * find_by_request_id - the job created with this request_id, if any.
 * Returns 1 and a new job, 0 when none, or a negative error.
 */
static int find_by_request_id(struct pg_store *ps, const char *request_id, struct job **ret_job,
                              struct iq_error *err)
{
    const char *values[1] = {request_id};
    PGresult *res;
    int rc = pg_exec(ps, "looking up request_id",
                     "SELECT id::text FROM stg_import_queue WHERE request_id = $1", 1, values, &res,
                     err);
    if (rc < 0)
        return rc;
    char id[UUID_STR_LEN] = "";
    if (PQntuples(res) > 0)
        snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!id[0])
        return 0;
    rc = read_job(ps, id, false, ret_job, err);
    return rc < 0 ? rc : 1;
}

/* check_capacity - IQ_E_QUEUE_FULL when max_queue_size jobs are QUEUED or HELD. */
static int check_capacity(struct pg_store *ps, int max_queue_size, struct iq_error *err)
{
    if (max_queue_size <= 0)
        return 0;
    PGresult *res;
    int rc = pg_exec(ps, "counting queued jobs",
                     "SELECT count(*) FROM stg_import_queue WHERE status IN ('QUEUED', 'HELD')", 0,
                     NULL, &res, err);
    if (rc < 0)
        return rc;
    int64_t queued = text_to_int64(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (queued >= max_queue_size)
        return iq_error_set(err, IQ_E_QUEUE_FULL,
                            "queue is full: %d jobs queued or held (max_queue_size %d)",
                            (int)queued, max_queue_size);
    return 0;
}

/* The text forms of a spec's JSON parts, all owned. */
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

/* json_or_empty - store_json_text(value), "{}" for a missing part. */
static char *json_or_empty(const json_t *value)
{
    return value ? store_json_text(value) : strdup("{}");
}

static int spec_texts_build(const struct job_spec *spec, struct spec_texts *texts,
                            struct iq_error *err)
{
    texts->resources = store_resources_to_json(spec->resources, spec->resource_count);
    texts->source = json_or_empty(spec->source_json);
    texts->target = json_or_empty(spec->target_json);
    texts->on_error = json_or_empty(spec->on_error_json);
    if (!texts->resources || !texts->source || !texts->target || !texts->on_error) {
        spec_texts_clear(texts);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    return 0;
}

/* dependency_error_text - the dependency_failed error for check, or NULL (caller frees). */
static int dependency_error_text(const struct dep_check *check, char **ret_text,
                                 struct iq_error *err)
{
    *ret_text = NULL;
    if (!check->failed_id[0])
        return 0;
    char message[128];
    snprintf(message, sizeof(message), "dependency %s is %s", check->failed_id,
             check->failed_status);
    *ret_text = error_json_text("dependency_failed", message);
    return *ret_text ? 0 : iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

/* insert_job - the stg_import_queue row of a new job (no edges, no audit). */
static int insert_job(struct pg_store *ps, const char *id, const struct job_create_request *req,
                      const struct audit_context *actx, const struct dep_check *check,
                      int64_t now_ms, struct iq_error *err)
{
    const struct job_spec *spec = req->spec;
    struct spec_texts texts = {0};
    char *error_text = NULL;
    int rc = spec_texts_build(spec, &texts, err);
    if (rc == 0)
        rc = dependency_error_text(check, &error_text, err);
    if (rc < 0) {
        spec_texts_clear(&texts);
        return rc;
    }
    bool failed = error_text != NULL;
    char priority[16], pending[16], max_attempts[16], timeout[24];
    char scheduled[TIME_RFC3339_LEN], available[TIME_RFC3339_LEN], now[TIME_RFC3339_LEN];
    snprintf(priority, sizeof(priority), "%d", spec->priority);
    snprintf(pending, sizeof(pending), "%d", check->pending);
    snprintf(max_attempts, sizeof(max_attempts), "%d", spec->max_attempts);
    snprintf(timeout, sizeof(timeout), "%" PRId64, spec->timeout_s);
    time_format_rfc3339(now_ms, now);
    const char *values[21] = {
        id,
        spec->request_id,
        spec->name ? spec->name : "",
        failed       ? "FAILED"
        : spec->hold ? "HELD"
                     : "QUEUED",
        priority,
        req->orchestration_id,
        req->schedule_id,
        time_param(spec->scheduled_at_ms, scheduled),
        time_format_rfc3339(spec->scheduled_at_ms ? spec->scheduled_at_ms : now_ms, available),
        pending,
        max_attempts,
        timeout,
        texts.resources,
        texts.source,
        texts.target,
        texts.on_error,
        spec->target.table,
        error_text,
        actx && actx->actor ? actx->actor : NULL,
        now,
        failed ? now : NULL,
    };
    rc = pg_exec_prepared(ps, "inserting a job", STMT_JOB_INSERT, values, NULL, err);
    free(error_text);
    spec_texts_clear(&texts);
    return rc;
}

/* create_in_tx - job_create's body inside its transaction. */
static int create_in_tx(struct pg_store *ps, const struct job_create_request *req,
                        const struct audit_context *actx, struct job **ret_job, bool *ret_existed,
                        struct iq_error *err)
{
    const struct job_spec *spec = req->spec;
    int rc = lock_graph(ps, err);
    if (rc == 0 && spec->request_id) {
        rc = find_by_request_id(ps, spec->request_id, ret_job, err);
        if (rc > 0) {
            *ret_existed = true; /* an idempotent replay writes nothing */
            return 0;
        }
    }
    if (rc < 0)
        return rc;
    struct dep_check check;
    rc = check_dependencies(ps, NULL, spec, &check, err);
    if (rc == 0)
        rc = check_capacity(ps, req->max_queue_size, err);
    char id[UUID_STR_LEN];
    uuid7_generate(id);
    int64_t now_ms = time_now_ms();
    if (rc == 0)
        rc = insert_job(ps, id, req, actx, &check, now_ms, err);
    if (rc == 0 && spec->depends_on_count > 0)
        rc = insert_dependencies(ps, id, check.array_text, err);
    dep_check_clear(&check);
    if (rc == 0)
        rc = read_job(ps, id, false, ret_job, err);
    if (rc == 0)
        rc = audit_job_change(ps, actx, "job.create", NULL, *ret_job, err);
    return rc;
}

/*
 * pg_job_create - see store_ops.job_create. One transaction under
 * PG_LOCK_JOB_GRAPH, so the request_id check and the capacity count are
 * exact under concurrency. Checks in order: request_id replay, dependencies
 * (IQ_E_CONFLICT), capacity (IQ_E_QUEUE_FULL).
 */
static int pg_job_create(struct store *s, const struct job_create_request *req,
                         const struct audit_context *actx, struct job **ret_job, bool *ret_existed,
                         struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    bool existed = false;
    *ret_job = NULL;
    if (ret_existed)
        *ret_existed = false;
    if (!req || !req->spec || !req->spec->target.table)
        return iq_error_set(err, IQ_E_INVALID, "a job needs a spec with target.table");
    int rc = tx_begin(ps, err);
    if (rc == 0)
        rc = create_in_tx(ps, req, actx, ret_job, &existed, err);
    rc = tx_finish(ps, rc, err);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
        return rc;
    }
    if (ret_existed)
        *ret_existed = existed;
    return 0;
}

/* pg_job_get - see store_ops.job_get. No transaction; reconnects when needed. */
static int pg_job_get(struct store *s, const char *id, struct job **ret_job, struct iq_error *err)
{
    return read_job(pg_store_of(s), id, false, ret_job, err);
}

/* ------------------------------------------------------------------ */
/* job_update                                                          */
/* ------------------------------------------------------------------ */

/* update_job_row - write spec's editable fields and the recomputed state. */
static int update_job_row(struct pg_store *ps, const struct job *job, const struct job_spec *spec,
                          const struct dep_check *check, int64_t now_ms, struct iq_error *err)
{
    struct spec_texts texts = {0};
    char *error_text = NULL;
    int rc = spec_texts_build(spec, &texts, err);
    if (rc == 0)
        rc = dependency_error_text(check, &error_text, err);
    if (rc < 0) {
        spec_texts_clear(&texts);
        return rc;
    }
    char priority[16], pending[16], max_attempts[16], timeout[24];
    char scheduled[TIME_RFC3339_LEN], available[TIME_RFC3339_LEN], now[TIME_RFC3339_LEN];
    snprintf(priority, sizeof(priority), "%d", spec->priority);
    snprintf(pending, sizeof(pending), "%d", check->pending);
    snprintf(max_attempts, sizeof(max_attempts), "%d", spec->max_attempts);
    snprintf(timeout, sizeof(timeout), "%" PRId64, spec->timeout_s);
    time_format_rfc3339(now_ms, now);
    const char *values[16] = {
        job->id,
        spec->name ? spec->name : "",
        priority,
        time_param(spec->scheduled_at_ms, scheduled),
        time_format_rfc3339(spec->scheduled_at_ms ? spec->scheduled_at_ms : now_ms, available),
        timeout,
        max_attempts,
        texts.resources,
        texts.source,
        texts.target,
        texts.on_error,
        spec->target.table,
        pending,
        error_text ? "FAILED" : job_status_name(job->status),
        error_text,
        now,
    };
    rc = pg_exec(ps, "updating a job",
                 "UPDATE stg_import_queue SET name = $2, priority = $3::smallint,"
                 " scheduled_at = $4::timestamptz, available_at = $5::timestamptz,"
                 " timeout_s = $6::integer, max_attempts = $7::integer, resources = $8::jsonb,"
                 " source = $9::jsonb, target = $10::jsonb, on_error = $11::jsonb,"
                 " target_table = $12, deps_pending = $13::integer, status = $14,"
                 " error = coalesce($15::jsonb, error),"
                 " finished_at = CASE WHEN $15::jsonb IS NULL THEN finished_at"
                 " ELSE $16::timestamptz END,"
                 " updated_at = $16::timestamptz"
                 " WHERE id = $1::uuid",
                 16, values, NULL, err);
    free(error_text);
    spec_texts_clear(&texts);
    return rc;
}

/* replace_dependencies - drop job_id's edges and insert those of array_text. */
static int replace_dependencies(struct pg_store *ps, const char *job_id, const char *array_text,
                                struct iq_error *err)
{
    const char *values[1] = {job_id};
    int rc = pg_exec(ps, "replacing dependencies",
                     "DELETE FROM importq_job_deps WHERE job_id = $1::uuid", 1, values, NULL, err);
    if (rc == 0)
        rc = insert_dependencies(ps, job_id, array_text, err);
    return rc;
}

/*
 * update_in_tx - job_update's body inside its transaction. A new
 * dependency already FAILED/CANCELLED fails the job, and then its own
 * dependants too (like a cancel would).
 */
static int update_in_tx(struct pg_store *ps, const char *id, const struct job_spec *spec,
                        const struct audit_context *actx, struct job **ret_job,
                        struct iq_error *err)
{
    struct job *before = NULL;
    struct dep_check check = {0};
    struct cascade cascade = {0};
    int64_t now_ms = time_now_ms();
    int rc = lock_graph(ps, err);
    if (rc == 0)
        rc = read_job(ps, id, true, &before, err);
    if (rc == 0 && before->status != JOB_HELD && before->status != JOB_QUEUED)
        rc = iq_error_set(err, IQ_E_CONFLICT, "job is %s: only HELD or QUEUED jobs can be updated",
                          job_status_name(before->status));
    if (rc == 0)
        rc = check_dependencies(ps, before->id, spec, &check, err);
    if (rc == 0)
        rc = update_job_row(ps, before, spec, &check, now_ms, err);
    if (rc == 0)
        rc = replace_dependencies(ps, before->id, check.array_text, err);
    if (rc == 0 && check.failed_id[0])
        rc = fail_dependants(ps, before->id, "FAILED", now_ms, &cascade, err);
    if (rc == 0)
        rc = read_job(ps, before->id, false, ret_job, err);
    if (rc == 0)
        rc = audit_job_change(ps, actx, "job.update", before, *ret_job, err);
    if (rc == 0)
        rc = audit_cascade(ps, actx, &cascade, err);
    cascade_clear(&cascade);
    dep_check_clear(&check);
    job_free(before);
    return rc;
}

/* pg_job_update - see store_ops.job_update. One transaction under PG_LOCK_JOB_GRAPH. */
static int pg_job_update(struct store *s, const char *id, const struct job_spec *spec,
                         const struct audit_context *actx, struct job **ret_job,
                         struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    *ret_job = NULL;
    if (!spec || !spec->target.table)
        return iq_error_set(err, IQ_E_INVALID, "a job needs a spec with target.table");
    int rc = tx_begin(ps, err);
    if (rc == 0)
        rc = update_in_tx(ps, id, spec, actx, ret_job, err);
    rc = tx_finish(ps, rc, err);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* job_cancel                                                          */
/* ------------------------------------------------------------------ */

/* cancel_waiting_job - HELD/QUEUED -> CANCELLED, error "cancelled by <actor>". */
static int cancel_waiting_job(struct pg_store *ps, const char *id, const char *actor,
                              int64_t now_ms, struct iq_error *err)
{
    char *message = NULL;
    if (asprintf(&message, "cancelled by %s", actor) < 0)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    char *error_text = error_json_text("cancelled", message);
    free(message);
    if (!error_text)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    char now[TIME_RFC3339_LEN];
    const char *values[3] = {id, error_text, time_format_rfc3339(now_ms, now)};
    int rc = pg_exec(ps, "cancelling a job",
                     "UPDATE stg_import_queue SET status = 'CANCELLED', error = $2::jsonb,"
                     " finished_at = $3::timestamptz, updated_at = $3::timestamptz"
                     " WHERE id = $1::uuid",
                     3, values, NULL, err);
    free(error_text);
    return rc;
}

/* request_cancel - RUNNING: set cancel_requested for the worker to see. */
static int request_cancel(struct pg_store *ps, const char *id, int64_t now_ms, struct iq_error *err)
{
    char now[TIME_RFC3339_LEN];
    const char *values[2] = {id, time_format_rfc3339(now_ms, now)};
    return pg_exec(ps, "requesting a cancel",
                   "UPDATE stg_import_queue SET cancel_requested = true,"
                   " updated_at = $2::timestamptz WHERE id = $1::uuid",
                   2, values, NULL, err);
}

/*
 * cancel_in_tx - job_cancel's body inside its transaction. A RUNNING job
 * whose cancel was already requested is returned unchanged (nothing
 * written, no audit row).
 */
static int cancel_in_tx(struct pg_store *ps, const char *id, const struct audit_context *actx,
                        struct job **ret_job, struct iq_error *err)
{
    struct job *before = NULL;
    struct cascade cascade = {0};
    const char *action = NULL;
    int64_t now_ms = time_now_ms();
    int rc = lock_graph(ps, err);
    if (rc == 0)
        rc = read_job(ps, id, true, &before, err);
    if (rc < 0)
        goto out;
    enum job_status to;
    if (job_transition(before->status, JOB_EVENT_CANCEL, &to) < 0) {
        rc = iq_error_set(err, IQ_E_CONFLICT, "job is already %s", job_status_name(before->status));
    } else if (before->status == JOB_RUNNING) {
        if (!before->cancel_requested) {
            action = "job.cancel_requested";
            rc = request_cancel(ps, before->id, now_ms, err);
        }
    } else {
        action = "job.cancel";
        rc = cancel_waiting_job(ps, before->id, actx && actx->actor ? actx->actor : "unknown",
                                now_ms, err);
        if (rc == 0)
            rc = fail_dependants(ps, before->id, "CANCELLED", now_ms, &cascade, err);
    }
    if (rc == 0)
        rc = read_job(ps, before->id, false, ret_job, err);
    if (rc == 0 && action)
        rc = audit_job_change(ps, actx, action, before, *ret_job, err);
    if (rc == 0)
        rc = audit_cascade(ps, actx, &cascade, err);
out:
    cascade_clear(&cascade);
    job_free(before);
    return rc;
}

/* pg_job_cancel - see store_ops.job_cancel. One transaction under PG_LOCK_JOB_GRAPH. */
static int pg_job_cancel(struct store *s, const char *id, const struct audit_context *actx,
                         struct job **ret_job, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    *ret_job = NULL;
    int rc = tx_begin(ps, err);
    if (rc == 0)
        rc = cancel_in_tx(ps, id, actx, ret_job, err);
    rc = tx_finish(ps, rc, err);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* job_list and its EXPLAIN                                            */
/* ------------------------------------------------------------------ */

#define LIST_MAX_PARAMS 12

/* The SQL and parameters of one job_list query. */
struct list_query {
    struct sql_text sql;
    const char *values[LIST_MAX_PARAMS];
    int param_count;
    int term_count;
    int limit;                                       /* rows wanted (one more is fetched) */
    char numbers[LIST_MAX_PARAMS][TIME_RFC3339_LEN]; /* text of number/time params */
    char *status_array;                              /* owned */
    bool status_array_failed;                        /* out of memory building it */
    char *like_pattern;                              /* owned */
};

static void list_query_clear(struct list_query *q)
{
    free(sql_take(&q->sql));
    free(q->status_array);
    free(q->like_pattern);
    memset(q, 0, sizeof(*q));
}

/* list_param - add a parameter; returns its number ($n). */
static int list_param(struct list_query *q, const char *value)
{
    q->values[q->param_count] = value;
    return ++q->param_count;
}

/* list_scratch - a buffer in q for the text of the next parameter (a number or a time). */
static char *list_scratch(struct list_query *q)
{
    return q->numbers[q->param_count];
}

static const char *list_where(struct list_query *q)
{
    return q->term_count++ ? " AND " : " WHERE ";
}

/* status_array_text - "{HELD,QUEUED}" for mask; "{}" when no valid bit is set. */
static char *status_array_text(unsigned mask)
{
    struct sql_text text = {0};
    sql_append(&text, "{");
    bool first = true;
    for (int i = 0; i < JOB_STATUS_COUNT; i++) {
        if (mask & (1u << i)) {
            sql_append(&text, "%s%s", first ? "" : ",", job_status_name((enum job_status)i));
            first = false;
        }
    }
    sql_append(&text, "}");
    return sql_take(&text);
}

/*
 * list_status_term - "q.status = $n" for one status (an ordered index scan
 * on (status, priority, id) can then serve ORDER BY id; PostgreSQL does not
 * keep that order for = ANY), "q.status = ANY($n::text[])" for several.
 */
static void list_status_term(struct list_query *q, unsigned mask)
{
    int single = -1, count = 0;
    for (int i = 0; i < JOB_STATUS_COUNT; i++)
        if (mask & (1u << i)) {
            single = i;
            count++;
        }
    if (count == 1) {
        sql_append(&q->sql, "%sq.status = $%d", list_where(q),
                   list_param(q, job_status_name((enum job_status)single)));
        return;
    }
    q->status_array = status_array_text(mask);
    if (!q->status_array) {
        q->status_array_failed = true;
        return;
    }
    sql_append(&q->sql, "%sq.status = ANY($%d::text[])", list_where(q),
               list_param(q, q->status_array));
}

/* list_uuid_term - "column = $n::uuid"; a malformed id matches nothing. */
static void list_uuid_term(struct list_query *q, const char *column, const char *id)
{
    if (!uuid_is_valid(id)) {
        sql_append(&q->sql, "%sfalse", list_where(q));
        return;
    }
    sql_append(&q->sql, "%s%s = $%d::uuid", list_where(q), column, list_param(q, id));
}

static void list_time_term(struct list_query *q, const char *op, int64_t ms)
{
    char *text = time_format_rfc3339(ms, list_scratch(q));
    sql_append(&q->sql, "%sq.created_at %s $%d::timestamptz", list_where(q), op,
               list_param(q, text));
}

static void list_int_term(struct list_query *q, const char *op, int value)
{
    char *text = list_scratch(q);
    snprintf(text, TIME_RFC3339_LEN, "%d", value);
    sql_append(&q->sql, "%sq.priority %s $%d::integer", list_where(q), op, list_param(q, text));
}

/* list_filter_terms - the WHERE terms of filter, only those that filter. */
static int list_filter_terms(struct list_query *q, const struct job_filter *f, struct iq_error *err)
{
    if (f->status_mask)
        list_status_term(q, f->status_mask);
    if (f->priority_min && f->priority_min == f->priority_max) {
        list_int_term(q, "=", f->priority_min); /* equality keeps the index in id order */
    } else {
        if (f->priority_min)
            list_int_term(q, ">=", f->priority_min);
        if (f->priority_max)
            list_int_term(q, "<=", f->priority_max);
    }
    if (q->status_array_failed)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    if (f->created_after_ms)
        list_time_term(q, ">", f->created_after_ms);
    if (f->created_before_ms)
        list_time_term(q, "<", f->created_before_ms);
    if (f->table)
        sql_append(&q->sql, "%sq.target_table = $%d", list_where(q), list_param(q, f->table));
    if (f->q) {
        q->like_pattern = store_like_pattern(f->q);
        if (!q->like_pattern)
            return iq_error_set(err, IQ_E_NOMEM, "out of memory");
        sql_append(&q->sql, "%sq.name ILIKE $%d ESCAPE E'\\\\'", list_where(q),
                   list_param(q, q->like_pattern));
    }
    if (f->orchestration_id)
        list_uuid_term(q, "q.orchestration_id", f->orchestration_id);
    if (f->schedule_id)
        list_uuid_term(q, "q.schedule_id", f->schedule_id);
    if (f->after_id && f->after_id[0]) {
        if (!uuid_is_valid(f->after_id))
            return iq_error_set(err, IQ_E_BAD_REQUEST, "after_id \"%s\" is not a job id",
                                f->after_id);
        sql_append(&q->sql, "%sq.id < $%d::uuid", list_where(q), list_param(q, f->after_id));
    }
    return 0;
}

/*
 * list_query_build - "[EXPLAIN ]SELECT <job columns> ... ORDER BY id DESC
 * LIMIT limit+1" for filter (NULL = no filter), with numbered parameters.
 * Returns 0 (list_query_clear q afterwards, also on failure),
 * IQ_E_BAD_REQUEST for a malformed after_id, IQ_E_NOMEM.
 */
static int list_query_build(struct pg_store *ps, const struct job_filter *filter, bool explain,
                            struct list_query *q, struct iq_error *err)
{
    static const struct job_filter no_filter = {0};
    const struct job_filter *f = filter ? filter : &no_filter;
    memset(q, 0, sizeof(*q));
    q->limit = f->limit <= 0 ? JOB_LIST_LIMIT_DEFAULT : f->limit;
    if (q->limit > JOB_LIST_LIMIT_MAX)
        q->limit = JOB_LIST_LIMIT_MAX;
    sql_append(&q->sql, "%sSELECT %s FROM stg_import_queue q", explain ? "EXPLAIN " : "",
               ps->select_list);
    int rc = list_filter_terms(q, f, err);
    if (rc < 0)
        return rc;
    char *limit_text = list_scratch(q);
    snprintf(limit_text, TIME_RFC3339_LEN, "%d", q->limit + 1);
    sql_append(&q->sql, " ORDER BY q.id DESC LIMIT $%d", list_param(q, limit_text));
    if (q->sql.failed)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    return 0;
}

/* pg_job_list - see store_ops.job_list. */
static int pg_job_list(struct store *s, const struct job_filter *filter, struct job_page *ret_page,
                       struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret_page, 0, sizeof(*ret_page));
    struct list_query q;
    PGresult *res = NULL;
    int rc = list_query_build(ps, filter, false, &q, err);
    if (rc == 0)
        rc = pg_exec(ps, "listing jobs", q.sql.data, q.param_count, q.values, &res, err);
    if (rc == 0)
        rc = decode_rows(res, (size_t)q.limit, &ret_page->items, &ret_page->count, err);
    if (rc == 0 && PQntuples(res) > q.limit)
        snprintf(ret_page->next_after_id, sizeof(ret_page->next_after_id), "%s",
                 ret_page->items[ret_page->count - 1]->id);
    PQclear(res);
    list_query_clear(&q);
    return rc;
}

/* pg_explain_job_list - EXPLAIN of job_list's query; *ret_plan is new (free). */
static int pg_explain_job_list(struct store *s, const struct job_filter *filter, char **ret_plan,
                               struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    *ret_plan = NULL;
    struct list_query q;
    PGresult *res = NULL;
    int rc = list_query_build(ps, filter, true, &q, err);
    if (rc == 0)
        rc = pg_exec(ps, "explaining the job list", q.sql.data, q.param_count, q.values, &res, err);
    list_query_clear(&q);
    if (rc < 0)
        return rc;
    struct sql_text plan = {0};
    for (int i = 0; i < PQntuples(res); i++)
        sql_append(&plan, "%s%s", i ? "\n" : "", PQgetvalue(res, i, 0));
    PQclear(res);
    *ret_plan = sql_take(&plan);
    return *ret_plan ? 0 : iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

/* ------------------------------------------------------------------ */
/* queue_stats                                                         */
/* ------------------------------------------------------------------ */

/*
 * pg_queue_stats - see store_ops.queue_stats: one GROUP BY status pass;
 * completed_24h/failed_24h by finished_at >= now - 24h;
 * oldest_queued_age_s from the oldest QUEUED job's created_at.
 */
static int pg_queue_stats(struct store *s, int64_t now_ms, struct queue_stats *ret_stats,
                          struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret_stats, 0, sizeof(*ret_stats));
    if (now_ms <= 0)
        now_ms = time_now_ms();
    char since[TIME_RFC3339_LEN];
    const char *values[1] = {time_format_rfc3339(now_ms - MS_PER_DAY, since)};
    PGresult *res;
    int rc = pg_exec(ps, "counting jobs",
                     "SELECT status, count(*),"
                     " count(*) FILTER (WHERE finished_at >= $1::timestamptz),"
                     " to_char(min(created_at) AT TIME ZONE 'UTC', " PG_TIME_FORMAT ")"
                     " FROM stg_import_queue GROUP BY status",
                     1, values, &res, err);
    if (rc < 0)
        return rc;
    for (int row = 0; row < PQntuples(res); row++) {
        enum job_status status;
        if (job_status_parse(PQgetvalue(res, row, 0), &status) < 0)
            continue;
        ret_stats->count[status] = text_to_int64(PQgetvalue(res, row, 1));
        int64_t recent = text_to_int64(PQgetvalue(res, row, 2));
        if (status == JOB_COMPLETED)
            ret_stats->completed_24h = recent;
        else if (status == JOB_FAILED)
            ret_stats->failed_24h = recent;
        int64_t oldest_ms;
        if (status == JOB_QUEUED && time_parse_rfc3339(PQgetvalue(res, row, 3), &oldest_ms) == 0 &&
            now_ms > oldest_ms)
            ret_stats->oldest_queued_age_s = (now_ms - oldest_ms) / 1000;
    }
    PQclear(res);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Migrations                                                          */
/* ------------------------------------------------------------------ */

/* recorded_version - max(version) of importq_schema_version, 0 when empty. */
static int recorded_version(struct pg_store *ps, int *ret_version, struct iq_error *err)
{
    PGresult *res;
    int rc =
        pg_exec(ps, "reading the schema version",
                "SELECT coalesce(max(version), 0) FROM importq_schema_version", 0, NULL, &res, err);
    if (rc < 0)
        return rc;
    *ret_version = (int)text_to_int64(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* apply_migration - one migration script and its version row, in one transaction. */
static int apply_migration(struct pg_store *ps, const struct migration *m, struct iq_error *err)
{
    char version[16];
    snprintf(version, sizeof(version), "%d", m->version);
    const char *values[2] = {version, m->name};
    int rc = tx_begin(ps, err);
    if (rc == 0)
        rc = pg_exec(ps, "applying a migration", m->sql, 0, NULL, NULL, err);
    if (rc == 0)
        rc = pg_exec(ps, "recording a migration",
                     "INSERT INTO importq_schema_version (version, name) VALUES ($1::integer, $2)",
                     2, values, NULL, err);
    rc = tx_finish(ps, rc, err);
    if (rc < 0 && err && err->message) {
        char *detail = err->message;
        err->message = NULL;
        iq_error_set(err, rc, "migration %03d_%s: %s", m->version, m->name, detail);
        free(detail);
    }
    return rc;
}

/* migrate_locked - migrate's work while holding PG_LOCK_MIGRATE. */
static int migrate_locked(struct pg_store *ps, int *ret_applied, struct iq_error *err)
{
    int rc = pg_exec(ps, "creating importq_schema_version",
                     "CREATE TABLE IF NOT EXISTS importq_schema_version ("
                     " version integer PRIMARY KEY, name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())",
                     0, NULL, NULL, err);
    int current = 0;
    if (rc == 0)
        rc = recorded_version(ps, &current, err);
    for (const struct migration *m = migrations_postgres; rc == 0 && m->sql; m++) {
        if (m->version <= current)
            continue;
        rc = apply_migration(ps, m, err);
        if (rc == 0)
            (*ret_applied)++;
    }
    return rc;
}

/*
 * pg_migrate - see store_ops.migrate. Migrators in all processes are
 * serialised by the session advisory lock PG_LOCK_MIGRATE; each pending
 * migration (version above the highest recorded) runs in its own
 * transaction with its version row. *ret_applied = how many ran.
 */
static int pg_migrate(struct store *s, int *ret_applied, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    int applied = 0;
    int rc = pg_exec(ps, "taking the migration lock",
                     "SELECT pg_advisory_lock(" PG_LOCK_MIGRATE ")", 0, NULL, NULL, err);
    if (rc < 0)
        return rc;
    ps->holds_session_lock = true;
    rc = migrate_locked(ps, &applied, err);
    PQclear(PQexec(ps->conn, "SELECT pg_advisory_unlock(" PG_LOCK_MIGRATE ")"));
    ps->holds_session_lock = false;
    if (ret_applied)
        *ret_applied = applied;
    return rc;
}

/* pg_schema_version - see store_ops.schema_version; 0 without the version table. */
static int pg_schema_version(struct store *s, int *ret_version, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    *ret_version = 0;
    PGresult *res;
    int rc =
        pg_exec(ps, "looking for importq_schema_version",
                "SELECT to_regclass('importq_schema_version') IS NOT NULL", 0, NULL, &res, err);
    if (rc < 0)
        return rc;
    bool exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return exists ? recorded_version(ps, ret_version, err) : 0;
}

/* ------------------------------------------------------------------ */
/* Opening and closing                                                 */
/* ------------------------------------------------------------------ */

/* pg_close - finish the connection and free everything; half-built-safe. */
static void pg_close(struct store *s)
{
    struct pg_store *ps = pg_store_of(s);
    if (!ps)
        return;
    if (ps->conn)
        PQfinish(ps->conn);
    for (int i = 0; i < STMT_COUNT; i++)
        free(ps->statement_sql[i]);
    free(ps->select_list);
    free(ps);
}

static const struct store_ops pg_ops = {
    .name = "postgres",
    .close = pg_close,
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .job_create = pg_job_create,
    .job_get = pg_job_get,
    .job_list = pg_job_list,
    .job_update = pg_job_update,
    .job_cancel = pg_job_cancel,
    .queue_stats = pg_queue_stats,
    .explain_job_list = pg_explain_job_list,
};

/*
 * store_pg_open - connect to conninfo (a libpq URI, postgres:// or
 * postgresql://). connect_timeout (opts, default 10 s), application_name
 * "importq" and client_encoding UTF8 are defaults the URI may override.
 * Returns 0 and a new store (store_close), IQ_E_DB when the connection
 * fails, IQ_E_NOMEM. The connection is not thread-safe.
 */
int store_pg_open(const char *conninfo, const struct store_options *opts, struct store **ret_store,
                  struct iq_error *err)
{
    *ret_store = NULL;
    struct pg_store *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    ps->base.ops = &pg_ops;
    if (build_statements(ps) < 0) {
        pg_close(&ps->base);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    char timeout[16];
    int timeout_s = opts && opts->connect_timeout_s > 0 ? opts->connect_timeout_s
                                                        : PG_DEFAULT_CONNECT_TIMEOUT_S;
    snprintf(timeout, sizeof(timeout), "%d", timeout_s);
    /* Later keywords win, so the URI (dbname, expanded) overrides our defaults. */
    const char *const keywords[] = {"connect_timeout", "application_name", "client_encoding",
                                    "dbname", NULL};
    const char *const values[] = {timeout, "importq", "UTF8", conninfo ? conninfo : "", NULL};
    ps->conn = PQconnectdbParams(keywords, values, 1);
    if (!ps->conn) {
        pg_close(&ps->base);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    if (PQstatus(ps->conn) != CONNECTION_OK) {
        int rc = set_db_error(ps, NULL, "cannot connect to PostgreSQL", err);
        pg_close(&ps->base);
        return rc;
    }
    PQsetNoticeProcessor(ps->conn, ignore_notice, NULL);
    *ret_store = &ps->base;
    return 0;
}
