/*
 * sqlite/alerts.c - alerts on SQLite (stg_import_monitoring, kind
 * 'alert'): the primitives the rules of common/alerts.c drive and the
 * transaction a rule runs in. The statements are prepared per call and
 * finalized after it, not cached on the connection: the alert loop runs
 * every few seconds and the API's alert routes are rare, so they stay off
 * the connection's table of hot statements.
 */
#include "store/common/alerts.h"
#include "store/sqlite/internal.h"

#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>

#define ALERT_SELECT                                                                               \
    "SELECT id, rule, severity, state, entity, entity_id, message, detail, node, created_at,"      \
    " acked_at, acked_by, resolved_at FROM stg_import_monitoring"

static int64_t now_ms(void *backend)
{
    return sqlite_now_ms(backend);
}

/* prepare - a statement of this call; sqlite3_finalize it. */
static sqlite3_stmt *prepare(struct sqlite_store *s, const char *sql, struct iq_error *err)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        sqlite_db_error(s, "prepare alert statement", err);
        sqlite3_finalize(stmt);
        return NULL;
    }
    return stmt;
}

/* row_values - the current row's columns as text (NULL for SQL NULL). */
static int row_values(sqlite3_stmt *stmt, const char **values, int count, struct iq_error *err)
{
    for (int i = 0; i < count; i++) {
        bool ok;
        values[i] = sqlite_column_text_or_error(stmt, i, &ok);
        if (!ok)
            return nomem(err);
    }
    return 0;
}

static int insert(void *backend, const struct alert *row, bool *ret_inserted, int64_t *ret_id,
                  struct iq_error *err)
{
    struct sqlite_store *s = backend;
    sqlite3_stmt *stmt = prepare(
        s,
        "INSERT INTO stg_import_monitoring (kind, rule, severity, state, entity, entity_id,"
        " message, detail, node, created_at, resolved_at)"
        " VALUES ('alert', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        " ON CONFLICT (rule, entity_id) WHERE kind = 'alert' AND state <> 'resolved' DO NOTHING"
        " RETURNING id",
        err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, row->rule);
    bind_text(&b, row->severity);
    bind_text(&b, alert_state_name(row->state));
    bind_text(&b, row->entity);
    bind_text(&b, row->entity_id);
    bind_text(&b, row->message);
    bind_text(&b, row->detail);
    bind_text(&b, row->node);
    bind_time(&b, row->created_at_ms);
    bind_time(&b, row->resolved_at_ms);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_next(s, stmt, "open alert", err);
    if (rc == 1) {
        *ret_inserted = true;
        *ret_id = sqlite3_column_int64(stmt, 0);
        rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : sqlite_db_error(s, "open alert", err);
    }
    sqlite3_finalize(stmt);
    return rc;
}

static int resolve(void *backend, int64_t id, int64_t at_ms, bool *ret_resolved,
                   struct iq_error *err)
{
    struct sqlite_store *s = backend;
    sqlite3_stmt *stmt = prepare(s,
                                 "UPDATE stg_import_monitoring SET state = 'resolved',"
                                 " resolved_at = ?2 WHERE id = ?1 AND kind = 'alert'"
                                 " AND state <> 'resolved'",
                                 err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_int64(&b, id);
    bind_time(&b, at_ms);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, "resolve alert", err);
    *ret_resolved = rc == 0 && sqlite3_changes(s->db) > 0;
    sqlite3_finalize(stmt);
    return rc;
}

static int read_row(void *backend, int64_t id, struct alert *ret, struct iq_error *err)
{
    struct sqlite_store *s = backend;
    memset(ret, 0, sizeof(*ret));
    sqlite3_stmt *stmt = prepare(s, ALERT_SELECT " WHERE id = ?1 AND kind = 'alert'", err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_int64(&b, id);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_next(s, stmt, "read alert", err);
    if (rc == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "alert %lld not found", (long long)id);
    if (rc == 1) {
        const char *values[ALERTCOL_COUNT];
        rc = row_values(stmt, values, ALERTCOL_COUNT, err);
        if (rc == 0)
            rc = alert_decode_row(values, ret, err);
    }
    sqlite3_finalize(stmt);
    return rc;
}

static int ack(void *backend, int64_t id, const char *actor, int64_t at_ms, struct iq_error *err)
{
    struct sqlite_store *s = backend;
    sqlite3_stmt *stmt = prepare(s,
                                 "UPDATE stg_import_monitoring SET state = 'acked',"
                                 " acked_at = ?2, acked_by = ?3 WHERE id = ?1 AND kind = 'alert'"
                                 " AND state = 'open'",
                                 err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_int64(&b, id);
    bind_time(&b, at_ms);
    bind_text(&b, actor);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, "acknowledge alert", err);
    sqlite3_finalize(stmt);
    return rc;
}

static int list(void *backend, unsigned state_mask, int64_t after_id, int limit,
                struct alert_page *ret_page, struct iq_error *err)
{
    struct sqlite_store *s = backend;
    ret_page->items = calloc((size_t)limit, sizeof(*ret_page->items));
    if (!ret_page->items)
        return nomem(err);
    sqlite3_stmt *stmt =
        prepare(s,
                state_mask ? ALERT_SELECT " INDEXED BY stg_import_monitoring_alert_state"
                                          " WHERE kind = 'alert' AND state IN (?1, ?2, ?3)"
                                          " AND id < ?4 ORDER BY id DESC LIMIT ?5"
                           : ALERT_SELECT " INDEXED BY stg_import_monitoring_alert_id"
                                          " WHERE kind = 'alert' AND ?1 IS NULL AND ?2 IS NULL"
                                          " AND ?3 IS NULL AND id < ?4 ORDER BY id DESC LIMIT ?5",
                err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    for (int i = 0; i < ALERT_STATE_COUNT; i++)
        bind_text(&b, state_mask & (1u << i) ? alert_state_name((enum alert_state)i) : NULL);
    bind_int64(&b, after_id > 0 ? after_id : INT64_MAX);
    bind_int64(&b, limit);
    int rc = sqlite_binder_check(s, &b, err);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "list alerts", err)) == 1) {
        const char *values[ALERTCOL_COUNT];
        rc = row_values(stmt, values, ALERTCOL_COUNT, err);
        if (rc == 0)
            rc = alert_decode_row(values, &ret_page->items[ret_page->count], err);
        if (rc == 0)
            ret_page->count++;
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* probe_ended - jobs whose last attempt ended with an error since since_ms. */
static int probe_ended(struct sqlite_store *s, int64_t since_ms, int limit, struct alert_probe *ret,
                       struct iq_error *err)
{
    ret->ended = calloc((size_t)limit, sizeof(*ret->ended));
    if (!ret->ended)
        return nomem(err);
    sqlite3_stmt *stmt =
        prepare(s,
                "SELECT id, name, target_table, status, json_extract(error, '$.code'),"
                " json_extract(error, '$.message'), attempt, max_attempts, finished_at"
                " FROM stg_import_queue WHERE status IN ('FAILED', 'QUEUED') AND finished_at >= ?1"
                " AND error IS NOT NULL ORDER BY finished_at DESC LIMIT ?2",
                err);
    if (!stmt)
        return IQ_E_DB;
    char since[TIME_RFC3339_LEN];
    struct binder b = binder_start(stmt);
    bind_text(&b, time_format_rfc3339(since_ms, since));
    bind_int64(&b, limit);
    int rc = sqlite_binder_check(s, &b, err);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "probe ended jobs", err)) == 1) {
        const char *values[ENDEDCOL_COUNT];
        rc = row_values(stmt, values, ENDEDCOL_COUNT, err);
        if (rc == 0)
            rc = alert_probe_decode_ended(values, &ret->ended[ret->ended_count], err);
        if (rc == 0)
            ret->ended_count++;
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* probe_expired - lock rows whose lease passed before now. */
static int probe_expired(struct sqlite_store *s, int limit, struct alert_probe *ret,
                         struct iq_error *err)
{
    ret->expired = calloc((size_t)limit, sizeof(*ret->expired));
    if (!ret->expired)
        return nomem(err);
    sqlite3_stmt *stmt = prepare(s,
                                 "SELECT id, name, job_id, expires_at FROM stg_import_resources"
                                 " WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2",
                                 err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_time(&b, sqlite_now_ms(s));
    bind_int64(&b, limit);
    int rc = sqlite_binder_check(s, &b, err);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "probe expired locks", err)) == 1) {
        const char *values[LOCKCOL_COUNT];
        rc = row_values(stmt, values, LOCKCOL_COUNT, err);
        if (rc == 0)
            rc = alert_probe_decode_lock(values, &ret->expired[ret->expired_count], err);
        if (rc == 0)
            ret->expired_count++;
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* probe_oldest - when the longest-waiting runnable job became runnable
 * (the claim index's predicate, so it reads that index only). */
static int probe_oldest(struct sqlite_store *s, struct alert_probe *ret, struct iq_error *err)
{
    sqlite3_stmt *stmt = prepare(s,
                                 "SELECT min(available_at) FROM stg_import_queue"
                                 " WHERE status = 'QUEUED' AND deps_pending = 0"
                                 " AND available_at <= ?1",
                                 err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_time(&b, sqlite_now_ms(s));
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_next(s, stmt, "probe oldest runnable job", err);
    if (rc == 1) {
        const char *text = (const char *)sqlite3_column_text(stmt, 0);
        rc = !text || time_parse_rfc3339(text, &ret->oldest_runnable_since_ms) == 0
                 ? 0
                 : iq_error_set(err, IQ_E_DB, "stored time \"%s\" is unreadable", text);
    }
    sqlite3_finalize(stmt);
    return rc;
}

static int probe(void *backend, int64_t ended_since_ms, int limit, struct alert_probe *ret,
                 struct iq_error *err)
{
    struct sqlite_store *s = backend;
    int rc = probe_ended(s, ended_since_ms, limit, ret, err);
    if (rc == 0)
        rc = probe_expired(s, limit, ret, err);
    if (rc == 0)
        rc = probe_oldest(s, ret, err);
    return rc;
}

static int audit(void *backend, const struct audit_context *actx, const char *action,
                 const char *id, const char *before_json, const char *after_json,
                 struct iq_error *err)
{
    struct sqlite_store *s = backend;
    return sqlite_audit_append(s, actx, action, "alert", id, before_json, after_json,
                               sqlite_now_ms(s), err);
}

static const struct alert_primitives sqlite_alert_primitives = {
    .now_ms = now_ms,
    .insert = insert,
    .resolve = resolve,
    .read = read_row,
    .ack = ack,
    .list = list,
    .probe = probe,
    .audit = audit,
};

/*
 * sqlite_alert_tx - see store_ops.alert_tx: body inside BEGIN IMMEDIATE
 * (a write: the write lock serialises the ack's read, its write and the
 * audit chain) or BEGIN DEFERRED (a read: one snapshot).
 */
int sqlite_alert_tx(struct store *base, enum alert_tx_kind kind, alert_tx_body body, void *ctx,
                    struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    int rc = kind == ALERT_TX_WRITE
                 ? sqlite_tx_begin(s, err)
                 : sqlite_run_cached(s, STMT_BEGIN_READ, "begin read transaction", err);
    if (rc < 0)
        return rc;
    return sqlite_tx_finish(s, body(&sqlite_alert_primitives, s, ctx, err), err);
}
