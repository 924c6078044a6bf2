/*
 * postgres/alerts.c - alerts on PostgreSQL (stg_import_monitoring, kind
 * 'alert'): the primitives the rules of common/alerts.c drive (one
 * statement each) and the transaction a rule runs in. Two nodes opening
 * the same alert meet at the unique partial index (migration 009): the
 * second insert does nothing. An acknowledgement locks the alert's row
 * (FOR UPDATE), then PG_LOCK_AUDIT with the COMMIT.
 */
#include "store/common/alerts.h"
#include "store/postgres/internal.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIME_COLUMN(column) "to_char(" column " AT TIME ZONE 'UTC', " PG_TIME_FORMAT ")"

/* The select list in the order of enum alert_column. */
#define ALERT_SELECT                                                                               \
    "SELECT id::text, rule, severity, state, entity, entity_id, message, detail::text, "           \
    "node, " TIME_COLUMN("created_at") ", " TIME_COLUMN("acked_at") ", acked_by, " TIME_COLUMN(    \
        "resolved_at") " FROM stg_import_monitoring m"

struct pg_alert_tx {
    struct pg_store *ps;
    bool write;
};

static int64_t now_ms(void *backend)
{
    return pg_now_ms(((struct pg_alert_tx *)backend)->ps);
}

/* time_param - ms as RFC 3339 text in buf, NULL for 0. */
static const char *time_param(int64_t ms, char buf[TIME_RFC3339_LEN])
{
    return ms ? time_format_rfc3339(ms, buf) : NULL;
}

static int insert(void *backend, const struct alert *row, bool *ret_inserted, int64_t *ret_id,
                  struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_alert_tx *)backend)->ps;
    char created[TIME_RFC3339_LEN], resolved[TIME_RFC3339_LEN];
    const char *values[10] = {row->rule,
                              row->severity,
                              alert_state_name(row->state),
                              row->entity,
                              row->entity_id,
                              row->message,
                              row->detail,
                              row->node,
                              time_param(row->created_at_ms, created),
                              time_param(row->resolved_at_ms, resolved)};
    PGresult *res;
    int rc = pg_exec(ps, "opening an alert",
                     "INSERT INTO stg_import_monitoring (kind, rule, severity, state, entity,"
                     " entity_id, message, detail, node, created_at, resolved_at)"
                     " VALUES ('alert', $1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::timestamptz,"
                     " $10::timestamptz)"
                     " ON CONFLICT (rule, entity_id) WHERE kind = 'alert' AND state <> 'resolved'"
                     " DO NOTHING RETURNING id",
                     10, values, &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 1) {
        *ret_inserted = true;
        *ret_id = pg_text_to_int64(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return 0;
}

static int resolve(void *backend, int64_t id, int64_t at_ms, bool *ret_resolved,
                   struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_alert_tx *)backend)->ps;
    char id_text[24], at[TIME_RFC3339_LEN];
    snprintf(id_text, sizeof(id_text), "%lld", (long long)id);
    const char *values[2] = {id_text, time_format_rfc3339(at_ms, at)};
    PGresult *res;
    int rc = pg_exec(ps, "resolving an alert",
                     "UPDATE stg_import_monitoring SET state = 'resolved',"
                     " resolved_at = $2::timestamptz WHERE id = $1::bigint AND kind = 'alert'"
                     " AND state <> 'resolved'",
                     2, values, &res, err);
    if (rc < 0)
        return rc;
    *ret_resolved = pg_text_to_int64(PQcmdTuples(res)) > 0;
    PQclear(res);
    return 0;
}

/* decode - row `row` of res (columns of ALERT_SELECT) into *ret. */
static int decode(const PGresult *res, int row, struct alert *ret, struct iq_error *err)
{
    const char *values[ALERTCOL_COUNT];
    for (int i = 0; i < ALERTCOL_COUNT; i++)
        values[i] = PQgetisnull(res, row, i) ? NULL : PQgetvalue(res, row, i);
    return alert_decode_row(values, ret, err);
}

static int read_row(void *backend, int64_t id, struct alert *ret, struct iq_error *err)
{
    struct pg_alert_tx *tx = backend;
    memset(ret, 0, sizeof(*ret));
    char id_text[24];
    snprintf(id_text, sizeof(id_text), "%lld", (long long)id);
    const char *values[1] = {id_text};
    PGresult *res;
    int rc = pg_exec(tx->ps, "reading an alert",
                     tx->write ? ALERT_SELECT " WHERE id = $1::bigint AND kind = 'alert' FOR UPDATE"
                               : ALERT_SELECT " WHERE id = $1::bigint AND kind = 'alert'",
                     1, values, &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "alert %lld not found", (long long)id);
    else
        rc = decode(res, 0, ret, err);
    PQclear(res);
    return rc;
}

static int ack(void *backend, int64_t id, const char *actor, int64_t at_ms, struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_alert_tx *)backend)->ps;
    char id_text[24], at[TIME_RFC3339_LEN];
    snprintf(id_text, sizeof(id_text), "%lld", (long long)id);
    const char *values[3] = {id_text, time_format_rfc3339(at_ms, at), actor};
    return pg_exec(ps, "acknowledging an alert",
                   "UPDATE stg_import_monitoring SET state = 'acked', acked_at = $2::timestamptz,"
                   " acked_by = $3 WHERE id = $1::bigint AND kind = 'alert' AND state = 'open'",
                   3, values, NULL, err);
}

static int list(void *backend, unsigned state_mask, int64_t after_id, int limit,
                struct alert_page *ret_page, struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_alert_tx *)backend)->ps;
    ret_page->items = calloc((size_t)limit, sizeof(*ret_page->items));
    if (!ret_page->items)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    char after_text[24], limit_text[16];
    snprintf(after_text, sizeof(after_text), "%lld", (long long)after_id);
    snprintf(limit_text, sizeof(limit_text), "%d", limit);
    const char *values[5];
    for (int i = 0; i < ALERT_STATE_COUNT; i++)
        values[i] = state_mask & (1u << i) ? alert_state_name((enum alert_state)i) : NULL;
    values[3] = after_id > 0 ? after_text : NULL;
    values[4] = limit_text;
    PGresult *res;
    int rc = pg_exec(ps, "listing alerts",
                     state_mask ? ALERT_SELECT " WHERE kind = 'alert' AND state IN ($1, $2, $3)"
                                               " AND ($4::bigint IS NULL OR id < $4::bigint)"
                                               " ORDER BY m.id DESC LIMIT $5::integer"
                                : ALERT_SELECT " WHERE kind = 'alert' AND $1::text IS NULL"
                                               " AND $2::text IS NULL AND $3::text IS NULL"
                                               " AND ($4::bigint IS NULL OR id < $4::bigint)"
                                               " ORDER BY m.id DESC LIMIT $5::integer",
                     5, values, &res, err);
    if (rc < 0)
        return rc;
    int rows = PQntuples(res);
    for (int i = 0; rc == 0 && i < rows && i < limit; i++) {
        rc = decode(res, i, &ret_page->items[ret_page->count], err);
        if (rc == 0)
            ret_page->count++;
    }
    PQclear(res);
    return rc;
}

/* row_text - the values of row `row` of res, NULL for SQL NULL. */
static void row_text(const PGresult *res, int row, const char **values, int count)
{
    for (int i = 0; i < count; i++)
        values[i] = PQgetisnull(res, row, i) ? NULL : PQgetvalue(res, row, i);
}

static int probe(void *backend, int64_t ended_since_ms, int limit, struct alert_probe *ret,
                 struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_alert_tx *)backend)->ps;
    ret->ended = calloc((size_t)limit, sizeof(*ret->ended));
    ret->expired = calloc((size_t)limit, sizeof(*ret->expired));
    if (!ret->ended || !ret->expired)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    char since[TIME_RFC3339_LEN], limit_text[16], now_buf[TIME_RFC3339_LEN];
    snprintf(limit_text, sizeof(limit_text), "%d", limit);
    const char *ended_values[2] = {time_format_rfc3339(ended_since_ms, since), limit_text};
    PGresult *res;
    int rc =
        pg_exec(ps, "probing ended jobs",
                "SELECT id::text, name, target_table, status, error->>'code',"
                " error->>'message', attempt, max_attempts, " TIME_COLUMN(
                    "finished_at") " FROM stg_import_queue WHERE status IN ('FAILED', 'QUEUED')"
                                   " AND finished_at >= $1::timestamptz AND error IS NOT NULL"
                                   " ORDER BY finished_at DESC LIMIT $2::integer",
                2, ended_values, &res, err);
    if (rc < 0)
        return rc;
    for (int i = 0; rc == 0 && i < PQntuples(res) && i < limit; i++) {
        const char *values[ENDEDCOL_COUNT];
        row_text(res, i, values, ENDEDCOL_COUNT);
        rc = alert_probe_decode_ended(values, &ret->ended[ret->ended_count], err);
        if (rc == 0)
            ret->ended_count++;
    }
    PQclear(res);
    if (rc < 0)
        return rc;
    const char *now_values[2] = {pg_clock_param(ps, now_buf), limit_text};
    rc = pg_exec(
        ps, "probing expired locks",
        "SELECT id::text, name, job_id::text, " TIME_COLUMN(
            "expires_at") " FROM stg_import_resources WHERE expires_at < " PG_NOW("$1") " ORDER BY "
                                                                                        "expires_"
                                                                                        "at LIMIT "
                                                                                        "$2::"
                                                                                        "integer",
        2, now_values, &res, err);
    if (rc < 0)
        return rc;
    for (int i = 0; rc == 0 && i < PQntuples(res) && i < limit; i++) {
        const char *values[LOCKCOL_COUNT];
        row_text(res, i, values, LOCKCOL_COUNT);
        rc = alert_probe_decode_lock(values, &ret->expired[ret->expired_count], err);
        if (rc == 0)
            ret->expired_count++;
    }
    PQclear(res);
    if (rc < 0)
        return rc;
    rc = pg_exec(
        ps, "probing the oldest runnable job",
        "SELECT " TIME_COLUMN("min(available_at)") " FROM stg_import_queue"
                                                   " WHERE status = 'QUEUED' AND deps_pending = 0 "
                                                   "AND available_at <= " PG_NOW("$1"),
        1, now_values, &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
        time_parse_rfc3339(PQgetvalue(res, 0, 0), &ret->oldest_runnable_since_ms) < 0)
        rc = iq_error_set(err, IQ_E_DB, "stored time \"%s\" is unreadable", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

static int audit(void *backend, const struct audit_context *actx, const char *action,
                 const char *id, const char *before_json, const char *after_json,
                 struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_alert_tx *)backend)->ps;
    return pg_audit_append(ps, actx, action, "alert", id, before_json, after_json, err);
}

static const struct alert_primitives pg_alert_primitives = {
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
 * pg_alert_tx - see store_ops.alert_tx: a write in a plain transaction
 * (the unique index and the row lock of read are what serialise it; the
 * audit row takes PG_LOCK_AUDIT with the COMMIT), a read in one snapshot
 * (REPEATABLE READ).
 */
int pg_alert_tx(struct store *s, enum alert_tx_kind kind, alert_tx_body body, void *ctx,
                struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    struct pg_alert_tx tx = {.ps = ps, .write = kind == ALERT_TX_WRITE};
    int rc = tx.write ? pg_tx_begin(ps, err)
                      : pg_tx_begin_with(ps, "starting a read",
                                         "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", err);
    if (rc < 0)
        return rc;
    return pg_tx_finish(ps, body(&pg_alert_primitives, &tx, ctx, err), err);
}
