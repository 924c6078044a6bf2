/*
 * postgres/connection.c - the PostgreSQL backend of the store (libpq).
 *
 * One struct pg_store is ONE connection and is not thread-safe: every
 * thread opens its own (store.h). The backend holds SQL and transaction
 * plumbing only; which job runs when is the engine's business. This file
 * is its base: the connection, running statements, transactions,
 * migrations and the ops table; the other store_pg_*.c files hold one
 * concept each (see postgres/internal.h).
 *
 * Statements: values always travel as text parameters ($n with casts),
 * never inside the SQL. The hot paths (reading a job, inserting a job,
 * the audit insert, and every statement a job runs through: the claim,
 * recording an attempt, describing the target) are prepared once per
 * connection, by name, on first use; a reconnect forgets them and they are
 * prepared again. A statement whose text belongs to another concept is
 * built by that file (pg_claim_sql and the like).
 *
 * Reconnect: when a statement fails with the connection gone
 * (PQstatus == CONNECTION_BAD) and nothing would be lost by it - no open
 * transaction, no session advisory lock - the connection is PQreset once
 * and the statement retried. Inside a transaction the error is returned
 * and the next operation's BEGIN reconnects. A load is one transaction
 * from load_begin to load_commit/load_abort, so it never reconnects.
 *
 * Times go in as RFC 3339 text cast to timestamptz and come out through
 * to_char(... AT TIME ZONE 'UTC') as "YYYY-MM-DDTHH:MM:SS.mmmZ"; stored
 * times come from pg_now_ms() (the connection's clock, store_options.clock),
 * except everything about running jobs (claims, leases, heartbeats,
 * rescue, the attempt's start and end, the node registry), which uses the
 * database's clock so that nodes with skewed clocks agree
 * (postgres/claim.c) - unless a clock was injected: then PG_NOW and its
 * kin (postgres/internal.h) put the injected time into the SQL.
 *
 * Advisory lock keys and the lock order are in postgres/internal.h.
 *
 * Interrupt: PQcancel with the key taken at connect (and again after a
 * reset), under cancel_lock, plus a flag the load path checks between
 * statements; a cancelled statement (SQLSTATE 57014) fails with
 * IQ_E_CANCELLED.
 */
#include "store/postgres/internal.h"

#include "store/common/migrations.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_DEFAULT_CONNECT_TIMEOUT_S 10
#define PG_REQUEST_CONNECT_TIMEOUT_S 5

/* ------------------------------------------------------------------ */
/* Statements prepared once per connection                             */
/* ------------------------------------------------------------------ */

struct pg_statement_info {
    const char *name;
    bool selects_job; /* sql follows "SELECT <job columns> " */
    const char *sql;
    int param_count;
    char *(*build)(const char *select_list); /* instead of sql: the concept's own file builds it */
};

static const struct pg_statement_info statements[STMT_COUNT] = {
    [STMT_JOB_GET] = {"iq_job_get", true, "FROM stg_import_queue q WHERE q.id = $1::uuid", 1},
    [STMT_JOB_GET_FOR_UPDATE] = {"iq_job_get_for_update", true,
                                 "FROM stg_import_queue q WHERE q.id = $1::uuid FOR UPDATE OF q",
                                 1},
    /* $2: the clock (PG_NOW). Phases and locks as JSON arrays of arrays,
     * in the order of pg_job_phases and pg_locks_list; then the first
     * JOB_DEPENDENTS_MAX + 1 direct dependants by id (the reverse edge
     * index), the extra one telling there are more. */
    [STMT_JOB_DETAIL] =
        {"iq_job_detail", true,
         ", (SELECT json_agg(json_build_array(p.attempt, p.phase,"
         " to_char(p.started_at AT TIME ZONE 'UTC', " PG_TIME_FORMAT "),"
         " p.duration_ms, p.rows, p.bytes) ORDER BY p.attempt, p.started_at, p.id)"
         " FROM stg_import_performance p WHERE p.job_id = q.id),"
         " CASE WHEN q.status = 'RUNNING' THEN (SELECT json_agg(json_build_array(r.id::text,"
         " r.name, r.mode, r.attempt, r.node, r.worker,"
         " floor(extract(epoch FROM r.acquired_at) * 1000)::bigint,"
         " floor(extract(epoch FROM r.expires_at) * 1000)::bigint)"
         " ORDER BY r.name, r.acquired_at, r.id)"
         " FROM stg_import_resources r WHERE r.job_id = q.id AND r.expires_at > " PG_NOW("$2")
         ") END"
         ", (SELECT json_agg(json_build_array(d.id::text, d.name, d.status) ORDER BY d.id)"
         " FROM (SELECT dq.id, dq.name, dq.status FROM importq_job_deps e"
         " JOIN stg_import_queue dq ON dq.id = e.job_id WHERE e.depends_on_id = q.id"
         " ORDER BY e.job_id LIMIT 101) d)"
         " FROM stg_import_queue q WHERE q.id = $1::uuid",
         2},
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
    [STMT_AUDIT_INSERT] = {"iq_audit_insert", false, NULL, PG_AUDIT_FIELDS, pg_audit_insert_sql},
    [STMT_CLAIM] = {"iq_claim", false, NULL, 6, pg_claim_sql},
    [STMT_CLAIM_AGING] = {"iq_claim_aging", false, NULL, 7, pg_claim_aging_sql},
    [STMT_RECORD_ATTEMPT] = {"iq_record_attempt", false, NULL, 18, pg_record_attempt_sql},
    [STMT_FINISH_GRAPH] = {"iq_finish_graph", false, pg_finish_graph_sql, 1},
    [STMT_FINISH_LATE] = {"iq_finish_late", false, pg_finish_late_sql, 1},
    [STMT_DESCRIBE] = {"iq_describe", false, NULL, 2, pg_describe_sql},
};

/* ------------------------------------------------------------------ */
/* A growable SQL text                                                 */
/* ------------------------------------------------------------------ */

void pg_sql_append(struct sql_text *text, const char *fmt, ...)
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

/* pg_sql_take - the built text (caller frees), NULL when building failed. */
char *pg_sql_take(struct sql_text *text)
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

void pg_append_job_column(struct sql_text *text, int column, const char *alias)
{
    const char *name = job_columns[column].name;
    switch (job_columns[column].kind) {
    case COLKIND_TIME:
        pg_sql_append(text, "to_char(%s.%s AT TIME ZONE 'UTC', " PG_TIME_FORMAT ")", alias, name);
        break;
    case COLKIND_DEPS:
        pg_sql_append(text,
                      "(SELECT coalesce(json_agg(d.depends_on_id ORDER BY d.depends_on_id),"
                      " '[]'::json) FROM importq_job_deps d WHERE d.job_id = %s.id)",
                      alias);
        break;
    default:
        pg_sql_append(text, "%s.%s", alias, name);
        break;
    }
}

/*
 * build_select_list - the JOB_COLUMNS select list over alias q, in
 * job_columns[] order, as store_job_decode expects. Caller frees; NULL on OOM.
 */
static char *build_select_list(void)
{
    struct sql_text text = {0};
    for (int i = 0; i < JOBCOL_COUNT; i++) {
        if (i)
            pg_sql_append(&text, ", ");
        pg_append_job_column(&text, i, "q");
    }
    return pg_sql_take(&text);
}

/* build_statements - the select list and the text of every prepared statement. */
static int build_statements(struct pg_store *ps)
{
    ps->select_list = build_select_list();
    if (!ps->select_list)
        return -1;
    for (int i = 0; i < STMT_COUNT; i++) {
        if (statements[i].build) {
            ps->statement_sql[i] = statements[i].build(ps->select_list);
            if (!ps->statement_sql[i])
                return -1;
            continue;
        }
        struct sql_text text = {0};
        if (statements[i].selects_job)
            pg_sql_append(&text, "SELECT %s %s", ps->select_list, statements[i].sql);
        else
            pg_sql_append(&text, "%s", statements[i].sql);
        ps->statement_sql[i] = pg_sql_take(&text);
        if (!ps->statement_sql[i])
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Running statements: errors, reconnect, transactions                 */
/* ------------------------------------------------------------------ */

/*
 * pg_set_db_error - "<what>: <libpq message>" (trailing newline trimmed):
 * IQ_E_CANCELLED for a cancelled statement (SQLSTATE 57014), else IQ_E_DB.
 * Remembers the SQLSTATE of res in ps->sqlstate. Returns the code.
 */
int pg_set_db_error(struct pg_store *ps, const PGresult *res, const char *what,
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
    int code = strcmp(ps->sqlstate, PG_SQLSTATE_QUERY_CANCELED) == 0 ? IQ_E_CANCELLED : IQ_E_DB;
    return iq_error_set(err, code, "%s: %.*s", what, (int)len,
                        len ? message : "no response from the server");
}

bool pg_result_ok(const PGresult *res)
{
    ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

/* cached_forget - every cached statement forgotten (the session that had them is gone). */
static void cached_forget(struct pg_statement_cache *cache)
{
    for (int i = 0; i < PG_CACHED_SLOTS; i++) {
        free(cache->sql[i]);
        cache->sql[i] = NULL;
    }
}

/*
 * cached_slot - the slot holding sql, or -1 with *ret_free the slot to
 * prepare it in: a free one, else the least recently used, which is
 * deallocated first (its failure only leaks the server's copy until the
 * session ends).
 */
static int cached_slot(struct pg_store *ps, const char *sql, int *ret_free)
{
    struct pg_statement_cache *cache = &ps->cached;
    int oldest = 0;
    for (int i = 0; i < PG_CACHED_SLOTS; i++) {
        if (cache->sql[i] && strcmp(cache->sql[i], sql) == 0)
            return i;
        if (!cache->sql[oldest])
            continue;
        if (!cache->sql[i] || cache->last_used[i] < cache->last_used[oldest])
            oldest = i;
    }
    if (cache->sql[oldest]) {
        char deallocate[32];
        snprintf(deallocate, sizeof(deallocate), "DEALLOCATE iq_cached_%d", oldest);
        PQclear(PQexec(ps->conn, deallocate));
        free(cache->sql[oldest]);
        cache->sql[oldest] = NULL;
    }
    *ret_free = oldest;
    return -1;
}

/* exec_cached - exec_once of STMT_CACHED: sql prepared on first use, by its text. */
static PGresult *exec_cached(struct pg_store *ps, const char *sql, int param_count,
                             const char *const *values)
{
    int free_slot = 0;
    int slot = cached_slot(ps, sql, &free_slot);
    char name[32];
    if (slot < 0) {
        char *text = strdup(sql);
        if (!text)
            return NULL;
        snprintf(name, sizeof(name), "iq_cached_%d", free_slot);
        PGresult *res = PQprepare(ps->conn, name, sql, param_count, NULL);
        if (!pg_result_ok(res)) {
            free(text);
            return res;
        }
        PQclear(res);
        ps->cached.sql[free_slot] = text;
        slot = free_slot;
    }
    ps->cached.last_used[slot] = ++ps->cached.clock;
    snprintf(name, sizeof(name), "iq_cached_%d", slot);
    return PQexecPrepared(ps->conn, name, param_count, values, NULL, NULL, 0);
}

/* exec_once - one attempt: prepare stmt when needed, then run it (or sql). */
static PGresult *exec_once(struct pg_store *ps, enum pg_statement stmt, const char *sql,
                           int param_count, const char *const *values)
{
    if (stmt == STMT_CACHED)
        return exec_cached(ps, sql, param_count, values);
    if (stmt == STMT_NONE) {
        if (param_count == 0)
            return PQexec(ps->conn, sql); /* may be a multi-statement script */
        return PQexecParams(ps->conn, sql, param_count, NULL, values, NULL, NULL, 0);
    }
    if (!ps->prepared[stmt]) {
        PGresult *res = PQprepare(ps->conn, statements[stmt].name, ps->statement_sql[stmt],
                                  statements[stmt].param_count, NULL);
        if (!pg_result_ok(res))
            return res;
        PQclear(res);
        ps->prepared[stmt] = true;
    }
    return PQexecPrepared(ps->conn, statements[stmt].name, statements[stmt].param_count, values,
                          NULL, NULL, 0);
}

/*
 * refresh_cancel - take the cancel key of the current session (after
 * connect or reset), replacing the old one under cancel_lock. A NULL key
 * (connection down) makes pg_interrupt a no-op until the next reset.
 */
static void refresh_cancel(struct pg_store *ps)
{
    PGcancel *fresh = PQstatus(ps->conn) == CONNECTION_OK ? PQgetCancel(ps->conn) : NULL;
    pthread_mutex_lock(&ps->cancel_lock);
    PGcancel *old = ps->cancel;
    ps->cancel = fresh;
    pthread_mutex_unlock(&ps->cancel_lock);
    if (old)
        PQfreeCancel(old);
}

/*
 * reconnect - PQreset; prepared statements, the cancel key and LISTEN are
 * gone with the old session.
 */
static bool reconnect(struct pg_store *ps)
{
    PQreset(ps->conn);
    pg_describe_handoff_clear(ps);
    memset(ps->prepared, 0, sizeof(ps->prepared));
    cached_forget(&ps->cached);
    ps->listening = false; /* LISTEN belongs to the old session */
    refresh_cancel(ps);
    return PQstatus(ps->conn) == CONNECTION_OK;
}

/*
 * pg_run - run a prepared statement (stmt) or ad hoc sql with text
 * parameters. When it fails because the connection is gone and no
 * transaction or session lock is held, reconnects once and retries.
 * Returns 0 and the result in *ret_res (caller PQclears; ret_res may be
 * NULL to discard it), or IQ_E_DB (IQ_E_CANCELLED) with err set and
 * ps->sqlstate recorded.
 */
static int pg_run(struct pg_store *ps, const char *what, enum pg_statement stmt, const char *sql,
                  int param_count, const char *const *values, PGresult **ret_res,
                  struct iq_error *err)
{
    if (ret_res)
        *ret_res = NULL;
    for (int attempt = 0;; attempt++) {
        PGresult *res = exec_once(ps, stmt, sql, param_count, values);
        if (pg_result_ok(res)) {
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
            return pg_set_db_error(ps, NULL, what, err);
        }
        int rc = pg_set_db_error(ps, res, what, err);
        PQclear(res);
        return rc;
    }
}

int pg_exec(struct pg_store *ps, const char *what, const char *sql, int param_count,
            const char *const *values, PGresult **ret_res, struct iq_error *err)
{
    return pg_run(ps, what, STMT_NONE, sql, param_count, values, ret_res, err);
}

int pg_exec_cached(struct pg_store *ps, const char *what, const char *sql, int param_count,
                   const char *const *values, PGresult **ret_res, struct iq_error *err)
{
    return pg_run(ps, what, STMT_CACHED, sql, param_count, values, ret_res, err);
}

int pg_exec_prepared(struct pg_store *ps, const char *what, enum pg_statement stmt,
                     const char *const *values, PGresult **ret_res, struct iq_error *err)
{
    return pg_run(ps, what, stmt, NULL, 0, values, ret_res, err);
}

/* ------------------------------------------------------------------ */
/* Pipelines                                                           */
/* ------------------------------------------------------------------ */

/*
 * send_step - queue one step in the pipeline, and its PREPARE when the
 * statement is neither prepared nor being prepared by this pipeline
 * (preparing[], updated).
 */
static bool send_step(struct pg_store *ps, const struct pg_step *step, bool preparing[STMT_COUNT],
                      bool *ret_prepare_sent)
{
    *ret_prepare_sent = false;
    if (step->stmt == STMT_NONE)
        return PQsendQueryParams(ps->conn, step->sql, step->param_count, NULL, step->values, NULL,
                                 NULL, 0) == 1;
    const struct pg_statement_info *info = &statements[step->stmt];
    if (!ps->prepared[step->stmt] && !preparing[step->stmt]) {
        if (PQsendPrepare(ps->conn, info->name, ps->statement_sql[step->stmt], info->param_count,
                          NULL) != 1)
            return false;
        preparing[step->stmt] = true;
        *ret_prepare_sent = true;
    }
    return PQsendQueryPrepared(ps->conn, info->name, info->param_count, step->values, NULL, NULL,
                               0) == 1;
}

/*
 * next_result - the next result of the pipeline and the NULL that ends
 * its command. Returns the result (NULL when the connection broke).
 */
static PGresult *next_result(PGconn *conn)
{
    PGresult *res = PQgetResult(conn);
    if (res) {
        PGresult *extra;
        while ((extra = PQgetResult(conn)) != NULL) /* one result per command here */
            PQclear(extra);
    }
    return res;
}

/* leave_pipeline - read what is left up to the Sync and leave pipeline mode. */
static void leave_pipeline(struct pg_store *ps)
{
    for (int guard = 0; guard < 1000 && PQexitPipelineMode(ps->conn) != 1; guard++) {
        PGresult *res = PQgetResult(ps->conn);
        if (!res && PQstatus(ps->conn) == CONNECTION_BAD)
            break;
        PQclear(res);
    }
    ps->in_transaction = PQtransactionStatus(ps->conn) != PQTRANS_IDLE &&
                         PQtransactionStatus(ps->conn) != PQTRANS_UNKNOWN;
}

/*
 * pipeline_once - one attempt of pg_exec_pipeline. Returns 0, or the
 * error of the first step that failed (or of the connection).
 */
static int pipeline_once(struct pg_store *ps, struct pg_step *steps, size_t count,
                         struct iq_error *err)
{
    bool prepare_sent[PG_PIPELINE_MAX] = {false};
    bool preparing[STMT_COUNT] = {false};
    if (count > PG_PIPELINE_MAX)
        return iq_error_set(err, IQ_E_INTERNAL, "a pipeline of %zu statements is too long", count);
    if (PQenterPipelineMode(ps->conn) != 1)
        return pg_set_db_error(ps, NULL, steps[0].what, err);
    size_t sent = 0;
    while (sent < count && send_step(ps, &steps[sent], preparing, &prepare_sent[sent]))
        sent++;
    int rc = 0;
    if (PQpipelineSync(ps->conn) != 1 || sent < count)
        rc = pg_set_db_error(ps, NULL, steps[sent < count ? sent : 0].what, err);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        if (prepare_sent[i]) {
            PGresult *prepared = next_result(ps->conn);
            if (pg_result_ok(prepared))
                ps->prepared[steps[i].stmt] = true;
            else
                rc = pg_set_db_error(ps, prepared, steps[i].what, err);
            PQclear(prepared);
            if (rc < 0)
                break;
        }
        PGresult *res = next_result(ps->conn);
        if (!pg_result_ok(res)) {
            rc = pg_set_db_error(ps, res, steps[i].what, err);
            PQclear(res);
            break;
        }
        steps[i].res = res;
    }
    if (rc == 0)
        ps->sqlstate[0] = '\0';
    leave_pipeline(ps);
    return rc;
}

/* pg_exec_pipeline - see postgres/internal.h. */
int pg_exec_pipeline(struct pg_store *ps, struct pg_step *steps, size_t count,
                     struct iq_error *err)
{
    for (size_t i = 0; i < count; i++)
        steps[i].res = NULL;
    bool opens = count > 0 && steps[0].stmt == STMT_NONE && steps[0].sql &&
                 strcmp(steps[0].sql, "BEGIN") == 0;
    for (size_t i = 1; opens && i < count; i++)
        if (steps[i].stmt == STMT_NONE && steps[i].sql && strcmp(steps[i].sql, "COMMIT") == 0)
            opens = false; /* it may have committed: never run it twice */
    bool was_open = ps->in_transaction || ps->holds_session_lock;
    if (opens)
        pg_audit_tail_reset(ps);
    int rc = pipeline_once(ps, steps, count, err);
    bool may_retry = rc < 0 && opens && !was_open && PQstatus(ps->conn) == CONNECTION_BAD;
    if (may_retry && reconnect(ps)) {
        for (size_t i = 0; i < count; i++) {
            PQclear(steps[i].res);
            steps[i].res = NULL;
        }
        iq_error_clear(err);
        rc = pipeline_once(ps, steps, count, err);
    }
    return rc;
}

int pg_tx_begin(struct pg_store *ps, struct iq_error *err)
{
    pg_audit_tail_reset(ps);
    int rc = pg_exec(ps, "starting a transaction", "BEGIN", 0, NULL, NULL, err);
    if (rc == 0)
        ps->in_transaction = true;
    return rc;
}

/*
 * pg_tx_begin_with - BEGIN and then_sql in one round trip (a script: each
 * statement still gets its own snapshot, so what follows a lock sees
 * everything committed before the lock was granted). May reconnect
 * first, like pg_tx_begin. On failure nothing is left open.
 */
int pg_tx_begin_with(struct pg_store *ps, const char *what, const char *then_sql,
                     struct iq_error *err)
{
    pg_audit_tail_reset(ps);
    char *sql = NULL;
    if (asprintf(&sql, "BEGIN; %s", then_sql) < 0)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    int rc = pg_exec(ps, what, sql, 0, NULL, NULL, err);
    free(sql);
    if (rc == 0)
        ps->in_transaction = true;
    else if (PQtransactionStatus(ps->conn) != PQTRANS_IDLE)
        PQclear(PQexec(ps->conn, "ROLLBACK")); /* BEGIN went through, the rest did not */
    return rc;
}

/* pg_tx_begin_locked - BEGIN and pg_advisory_xact_lock(lock_key) in one round trip. */
int pg_tx_begin_locked(struct pg_store *ps, const char *lock_key, struct iq_error *err)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%s)", lock_key);
    return pg_tx_begin_with(ps, "starting a locked transaction", sql, err);
}

/* pg_tx_rollback - best effort; keeps the error that caused it. */
void pg_tx_rollback(struct pg_store *ps)
{
    pg_audit_tail_reset(ps);
    if (!ps->in_transaction)
        return;
    PQclear(PQexec(ps->conn, "ROLLBACK"));
    ps->in_transaction = false;
}

/*
 * pg_tx_finish - COMMIT when rc is 0, else ROLLBACK. The transaction's
 * pending audit rows (pg_audit_append) go in the same round trip, after
 * PG_LOCK_AUDIT and just before the COMMIT.
 * Returns rc, or IQ_E_DB when the commit failed (a COMMIT of an aborted
 * transaction answers "ROLLBACK", which is a failure too).
 */
int pg_tx_finish(struct pg_store *ps, int rc, struct iq_error *err)
{
    if (rc < 0) {
        pg_tx_rollback(ps);
        return rc;
    }
    struct pg_step steps[PG_AUDIT_PENDING_MAX + 2];
    size_t count = pg_audit_pending_steps(ps, steps);
    steps[count++] = (struct pg_step){.what = "committing", .stmt = STMT_NONE, .sql = "COMMIT"};
    rc = pg_exec_pipeline(ps, steps, count, err);
    if (rc == 0 && strcmp(PQcmdStatus(steps[count - 1].res), "COMMIT") != 0)
        rc = iq_error_set(err, IQ_E_DB, "committing: the transaction was rolled back");
    for (size_t i = 0; i < count; i++)
        PQclear(steps[i].res);
    pg_audit_tail_reset(ps);
    if (ps->in_transaction) /* a step failed before the COMMIT */
        pg_tx_rollback(ps);
    ps->in_transaction = false;
    return rc;
}

/* pg_lock_graph - PG_LOCK_JOB_GRAPH until the end of the transaction. */
int pg_lock_graph(struct pg_store *ps, struct iq_error *err)
{
    return pg_exec(ps, "locking the job graph", pg_graph_lock_sql(NULL), 0, NULL, NULL, err);
}

const char *pg_graph_lock_sql(const struct job_finish *finish)
{
    if (finish && finish->status == JOB_COMPLETED)
        return "SELECT pg_advisory_xact_lock_shared(" PG_LOCK_JOB_GRAPH ")";
    return "SELECT pg_advisory_xact_lock(" PG_LOCK_JOB_GRAPH ")";
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int64_t pg_text_to_int64(const char *text)
{
    return text ? strtoll(text, NULL, 10) : 0;
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
    *ret_version = (int)pg_text_to_int64(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* apply_migration - one migration script and its version row, in one transaction. */
static int apply_migration(struct pg_store *ps, const struct migration *m, struct iq_error *err)
{
    char version[16];
    snprintf(version, sizeof(version), "%d", m->version);
    const char *values[2] = {version, m->name};
    int rc = pg_tx_begin(ps, err);
    if (rc == 0)
        rc = pg_exec(ps, "applying a migration", m->sql, 0, NULL, NULL, err);
    if (rc == 0)
        rc = pg_exec(ps, "recording a migration",
                     "INSERT INTO importq_schema_version (version, name) VALUES ($1::integer, $2)",
                     2, values, NULL, err);
    rc = pg_tx_finish(ps, rc, err);
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

/* pg_role_is_superuser - see store_ops.role_is_superuser: the session's role. */
static int pg_role_is_superuser(struct store *s, bool *ret_superuser, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    *ret_superuser = false;
    PGresult *res;
    int rc = pg_exec(ps, "asking whether the role is a superuser",
                     "SELECT pg_catalog.current_setting('is_superuser')", 0, NULL, &res, err);
    if (rc < 0)
        return rc;
    *ret_superuser = strcmp(PQgetvalue(res, 0, 0), "on") == 0;
    PQclear(res);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Opening and closing                                                 */
/* ------------------------------------------------------------------ */

/*
 * pg_interrupt - see store_ops.interrupt. Any thread: sets the flag the
 * load path checks and sends a cancel request for whatever statement the
 * session runs now (PQcancel is thread-safe; the key is read under
 * cancel_lock so a concurrent reset or close cannot free it under us).
 */
void pg_interrupt(struct store *s)
{
    struct pg_store *ps = pg_store_of(s);
    if (!ps)
        return;
    atomic_store(&ps->interrupted, true);
    char message[256];
    pthread_mutex_lock(&ps->cancel_lock);
    if (ps->cancel)
        PQcancel(ps->cancel, message, (int)sizeof(message)); /* best effort */
    pthread_mutex_unlock(&ps->cancel_lock);
}

/* pg_close - finish the connection and free everything; half-built-safe. */
static void pg_close(struct store *s)
{
    struct pg_store *ps = pg_store_of(s);
    if (!ps)
        return;
    if (ps->cancel_lock_ready) {
        pthread_mutex_lock(&ps->cancel_lock);
        if (ps->cancel)
            PQfreeCancel(ps->cancel);
        ps->cancel = NULL;
        pthread_mutex_unlock(&ps->cancel_lock);
        pthread_mutex_destroy(&ps->cancel_lock);
    }
    if (ps->conn)
        PQfinish(ps->conn);
    pg_audit_tail_reset(ps);
    pg_describe_handoff_clear(ps);
    for (int i = 0; i < STMT_COUNT; i++)
        free(ps->statement_sql[i]);
    cached_forget(&ps->cached);
    free(ps->select_list);
    free(ps);
}

static const struct store_ops pg_ops = {
    .capabilities = STORE_CAP_DIRECT_REPLACE,
    .name = "postgres",
    .close = pg_close,
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .role_is_superuser = pg_role_is_superuser,
    .job_create = pg_job_create,
    .job_get = pg_job_get,
    .job_list = pg_job_list,
    .job_list_summary = pg_job_list_summary,
    .job_update = pg_job_update,
    .job_cancel = pg_job_cancel,
    .queue_stats = pg_queue_stats,
    .explain_job_list = pg_explain_job_list,
    .table_describe = pg_table_describe,
    .load_begin = pg_load_begin,
    .job_claim_batch = pg_job_claim_batch,
    .job_heartbeat = pg_job_heartbeat,
    .job_finish = pg_job_finish,
    .job_execute = pg_job_execute,
    .jobs_rescue = pg_jobs_rescue,
    .job_rejects_add = pg_job_rejects_add,
    .job_rejects_each = pg_job_rejects_each,
    .locks_list = pg_locks_list,
    .lock_release = pg_lock_release,
    .node_register = pg_node_register,
    .node_heartbeat = pg_node_heartbeat,
    .nodes_mark_dead = pg_nodes_mark_dead,
    .nodes_list = pg_nodes_list,
    .wait_for_work = pg_wait_for_work,
    .token_create = pg_token_create,
    .token_list = pg_token_list,
    .token_revoke = pg_token_revoke,
    .token_touch = pg_token_touch,
    .audit_list = pg_audit_list,
    .audit_verify = pg_audit_verify,
    .upload_create = pg_upload_create,
    .upload_get = pg_upload_get,
    .uploads_expired = pg_uploads_expired,
    .upload_delete = pg_upload_delete,
    .orchestration_create = pg_orchestration_create,
    .orchestration_get = pg_orchestration_get,
    .orchestration_list = pg_orchestration_list,
    .job_phases = pg_job_phases,
    .perf_attempts = pg_perf_attempts,
    .lock_holds = pg_lock_holds,
    .lock_history_prune = pg_lock_history_prune,
    .perf_prune = pg_perf_prune,
    .alert_prune = pg_alert_prune,
    .job_get_detail = pg_job_get_detail,
    .interrupt = pg_interrupt,
    .schedule_primitives = &pg_schedule_primitives,
    .schedule_tx = pg_schedule_tx,
    .schedule_fire = pg_schedule_fire,
    .schedules_due = pg_schedules_due,
    .schedule_fires_list = pg_schedule_fires_list,
    .scheduler_lead = pg_scheduler_lead,
    .alert_tx = pg_alert_tx,
    .health_snapshot = pg_health_snapshot,
    .health_compact = pg_health_compact,
    .health_series = pg_health_series,
    .alert_counts = pg_alert_counts,
};

const struct load_ops pg_load_ops = {
    .rows = pg_load_rows,
    .check = pg_load_check,
    .promote = pg_load_promote,
    .commit = pg_load_commit,
    .abort = pg_load_abort,
    .preview = &pg_load_preview_primitives,
};

/*
 * store_pg_open - connect to conninfo (a libpq URI, postgres:// or
 * postgresql://). connect_timeout (opts, default 10 s), application_name
 * "importq" and client_encoding UTF8 are defaults the URI may override.
 * opts->target_schemas (when given) are where import targets resolve
 * (postgres/load/describe.c). Returns 0 and a new store (store_close), IQ_E_DB
 * when the connection fails, IQ_E_INVALID for bad target schemas,
 * IQ_E_NOMEM. The connection is not thread-safe.
 */
int store_pg_open(const char *conninfo, const struct store_options *opts, struct store **ret_store,
                  struct iq_error *err)
{
    *ret_store = NULL;
    struct pg_store *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    ps->base.ops = &pg_ops;
    ps->clock = opts ? opts->clock : NULL;
    atomic_init(&ps->interrupted, false);
    if (pthread_mutex_init(&ps->cancel_lock, NULL) != 0) {
        free(ps);
        return iq_error_set(err, IQ_E_NOMEM, "cannot initialise a mutex");
    }
    ps->cancel_lock_ready = true;
    int rc = target_schemas_parse(opts ? opts->target_schemas : NULL, &ps->target_schemas, err);
    if (rc < 0) {
        pg_close(&ps->base);
        return rc;
    }
    ps->target_schemas_known = ps->target_schemas.count > 0;
    if (build_statements(ps) < 0) {
        pg_close(&ps->base);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    char timeout[16];
    /* A waiting HTTP client gets an answer (503) sooner than a worker. */
    int timeout_s = opts && opts->connect_timeout_s > 0 ? opts->connect_timeout_s
                    : opts && opts->role == STORE_ROLE_REQUEST ? PG_REQUEST_CONNECT_TIMEOUT_S
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
        rc = pg_set_db_error(ps, NULL, "cannot connect to PostgreSQL", err);
        pg_close(&ps->base);
        return rc;
    }
    PQsetNoticeProcessor(ps->conn, ignore_notice, NULL);
    refresh_cancel(ps);
    *ret_store = &ps->base;
    return 0;
}
