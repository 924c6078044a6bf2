/*
 * postgres/audit_read.c - reading the audit trail on PostgreSQL: pages of
 * it newest first (audit_list) and the walk that verifies the hash chain
 * (audit_verify). Read-only. Appending rows is postgres/audit.c's; the
 * rules of a sound chain are audit_verifier.c's.
 *
 * Times come back as to_char(... AT TIME ZONE 'UTC') with milliseconds,
 * the precision they were written and hashed with; before/after are json
 * columns, whose text is kept byte for byte, so the hash recomputes over
 * exactly the bytes that were appended.
 */
#include "store/common/admin.h"
#include "store/postgres/internal.h"

#include "core/timeutil.h"
#include "store/common/audit_verifier.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_LIST_LIMIT_DEFAULT 50
#define AUDIT_LIST_LIMIT_MAX 500

/* Rows read per round trip while verifying: memory stays flat. */
#define AUDIT_VERIFY_BATCH 1000

#define AUDIT_ROW_SELECT                                                                           \
    "SELECT id, to_char(at AT TIME ZONE 'UTC', " PG_TIME_FORMAT "), actor, action, entity,"        \
    " entity_id, before::text, after::text, request_id, client_addr, prev_hash, hash"              \
    " FROM stg_import_audit"

/* value - the text at (row, column), borrowed from res; NULL for SQL NULL. */
static const char *value(const PGresult *res, int row, int column)
{
    return PQgetisnull(res, row, column) ? NULL : PQgetvalue(res, row, column);
}

/*
 * record_from_row - one row as a record whose strings borrow res's.
 * IQ_E_DB when `at` does not parse.
 */
static int record_from_row(const PGresult *res, int row, struct audit_record *ret_record,
                           struct iq_error *err)
{
    *ret_record = (struct audit_record){
        .id = pg_text_to_int64(value(res, row, AUDIT_COL_ID)),
        .actor = value(res, row, AUDIT_COL_ACTOR),
        .action = value(res, row, AUDIT_COL_ACTION),
        .entity = value(res, row, AUDIT_COL_ENTITY),
        .entity_id = value(res, row, AUDIT_COL_ENTITY_ID),
        .before_json = value(res, row, AUDIT_COL_BEFORE),
        .after_json = value(res, row, AUDIT_COL_AFTER),
        .request_id = value(res, row, AUDIT_COL_REQUEST_ID),
        .client_addr = value(res, row, AUDIT_COL_CLIENT_ADDR),
        .prev_hash = value(res, row, AUDIT_COL_PREV_HASH),
    };
    const char *at = value(res, row, AUDIT_COL_AT);
    if (!at || time_parse_rfc3339(at, &ret_record->at_ms) < 0)
        return iq_error_set(err, IQ_E_DB, "audit row %" PRId64 ": unreadable time \"%s\"",
                            ret_record->id, at ? at : "");
    return 0;
}

/* ------------------------------------------------------------------ */
/* Listing                                                             */
/* ------------------------------------------------------------------ */

/* row_copy - one row into *out, every string owned (audit_page_clear, also on failure). */
static int row_copy(const PGresult *res, int row, struct audit_row *out, struct iq_error *err)
{
    struct audit_record borrowed;
    int rc = record_from_row(res, row, &borrowed, err);
    if (rc < 0)
        return rc;
    return audit_row_copy(&borrowed, value(res, row, AUDIT_COL_HASH), out, err);
}

/* The list query being built: SQL with $n placeholders and their texts. */
#define AUDIT_LIST_MAX_PARAMS 8

struct audit_query {
    struct sql_text sql;
    const char *values[AUDIT_LIST_MAX_PARAMS];
    int count;
};

/* add_term - " WHERE <column> <op> $n<cast>" (AND after the first), with its value. */
static void add_term(struct audit_query *q, const char *column, const char *op, const char *cast,
                     const char *text)
{
    q->values[q->count] = text;
    q->count++;
    pg_sql_append(&q->sql, "%s%s %s $%d%s", q->count == 1 ? " WHERE " : " AND ", column, op,
                  q->count, cast);
}

/*
 * pg_audit_list - see store_ops.audit_list: the rows matching filter
 * below filter->before_id, newest first (or, oldest_first, above
 * filter->after_id in id order), one page (limit + 1 rows are
 * read to know whether another page follows). The SQL carries only the
 * terms the filter needs. *ret_page: audit_page_clear, also after a
 * failure.
 */
int pg_audit_list(struct store *s, const struct audit_filter *filter, struct audit_page *ret_page,
                  struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret_page, 0, sizeof(*ret_page));
    if (filter->limit < 0 || filter->limit > AUDIT_LIST_LIMIT_MAX)
        return iq_error_set(err, IQ_E_BAD_REQUEST, "limit must be between 1 and %d",
                            AUDIT_LIST_LIMIT_MAX);
    int limit = filter->limit ? filter->limit : AUDIT_LIST_LIMIT_DEFAULT;
    char since[TIME_RFC3339_LEN], until[TIME_RFC3339_LEN], before_id[24], fetch[16];
    struct audit_query q = {0};
    pg_sql_append(&q.sql, AUDIT_ROW_SELECT);
    if (filter->entity)
        add_term(&q, "entity", "=", "", filter->entity);
    if (filter->entity_id)
        add_term(&q, "entity_id", "=", "", filter->entity_id);
    if (filter->actor)
        add_term(&q, "actor", "=", "", filter->actor);
    if (filter->action)
        add_term(&q, "action", "=", "", filter->action);
    if (filter->since_ms)
        add_term(&q, "at", ">=", "::timestamptz", time_format_rfc3339(filter->since_ms, since));
    if (filter->until_ms)
        add_term(&q, "at", "<", "::timestamptz", time_format_rfc3339(filter->until_ms, until));
    if (filter->oldest_first) {
        snprintf(before_id, sizeof(before_id), "%" PRId64, filter->after_id);
        add_term(&q, "id", ">", "::bigint", before_id);
    } else if (filter->before_id > 0) {
        snprintf(before_id, sizeof(before_id), "%" PRId64, filter->before_id);
        add_term(&q, "id", "<", "::bigint", before_id);
    }
    snprintf(fetch, sizeof(fetch), "%d", limit + 1);
    q.values[q.count++] = fetch;
    pg_sql_append(&q.sql, " ORDER BY id %s LIMIT $%d::integer",
                  filter->oldest_first ? "ASC" : "DESC", q.count);
    char *sql = pg_sql_take(&q.sql);
    if (!sql)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    PGresult *res;
    int rc = pg_exec(ps, "listing audit rows", sql, q.count, q.values, &res, err);
    free(sql);
    if (rc < 0)
        return rc;
    int rows = PQntuples(res);
    int kept = rows > limit ? limit : rows;
    if (kept > 0 && !(ret_page->items = calloc((size_t)kept, sizeof(*ret_page->items))))
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < kept; i++) {
        ret_page->count = (size_t)i + 1;
        rc = row_copy(res, i, &ret_page->items[i], err);
    }
    if (rc == 0 && rows > limit)
        ret_page->next_before_id = ret_page->items[kept - 1].record.id;
    PQclear(res);
    if (rc < 0)
        audit_page_clear(ret_page);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Verifying                                                           */
/* ------------------------------------------------------------------ */

/*
 * verify_batches - feed the verifier AUDIT_VERIFY_BATCH rows at a time,
 * by id, until the chain ends or breaks. Inside verify's transaction.
 */
static int verify_batches(struct pg_store *ps, struct audit_verifier *verifier,
                          struct iq_error *err)
{
    int64_t last_id = 0;
    for (;;) {
        char after_id[24], batch[16];
        snprintf(after_id, sizeof(after_id), "%" PRId64, last_id);
        snprintf(batch, sizeof(batch), "%d", AUDIT_VERIFY_BATCH);
        const char *values[2] = {after_id, batch};
        PGresult *res;
        int rc = pg_exec(ps, "reading the audit chain",
                         AUDIT_ROW_SELECT " WHERE id > $1::bigint ORDER BY id LIMIT $2::integer", 2,
                         values, &res, err);
        if (rc < 0)
            return rc;
        int rows = PQntuples(res);
        bool holds = true;
        for (int i = 0; holds && i < rows; i++) {
            struct audit_record record;
            struct iq_error row_err = {0};
            if (record_from_row(res, i, &record, &row_err) == 0)
                holds = audit_verifier_row(verifier, &record, value(res, i, AUDIT_COL_HASH));
            else
                holds = audit_verifier_unreadable(verifier, record.id, iq_error_message(&row_err));
            iq_error_clear(&row_err);
            last_id = record.id;
        }
        PQclear(res);
        if (!holds || rows < AUDIT_VERIFY_BATCH)
            return 0;
    }
}

/*
 * pg_audit_verify - see store_ops.audit_verify: one REPEATABLE READ, READ
 * ONLY transaction (one snapshot of the whole trail) reading the rows in
 * id order, AUDIT_VERIFY_BATCH at a time, through the verifier, which
 * stops at the first break. Takes no lock: appends go on meanwhile and
 * are simply not in the snapshot. Returns 0 with *ret_result filled
 * whether the chain holds or not; IQ_E_DB only when rows cannot be read.
 */
int pg_audit_verify(struct store *s, struct audit_verify_result *ret_result, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    struct audit_verifier verifier;
    audit_verifier_start(&verifier, ret_result);
    int rc = pg_tx_begin(ps, err);
    if (rc < 0)
        return rc;
    rc = pg_exec(ps, "starting a snapshot",
                 "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL, NULL, err);
    if (rc == 0)
        rc = verify_batches(ps, &verifier, err);
    return pg_tx_finish(ps, rc, err);
}
