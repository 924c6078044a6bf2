/*
 * sqlite/audit_read.c - reading the audit trail on SQLite: pages of
 * it newest first (audit_list) and the walk that verifies the hash chain
 * (audit_verify). Read-only. Appending rows is sqlite/audit.c's;
 * the rules of a sound chain are audit_verifier.c's.
 */
#include "store/common/admin.h"
#include "store/sqlite/internal.h"

#include "store/common/audit_verifier.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_LIST_LIMIT_DEFAULT 50
#define AUDIT_LIST_LIMIT_MAX 500

/* Columns of an audit row, in the order both statements here select them. */
#define AUDIT_ROW_COLUMNS                                                                          \
    "id, at, actor, action, entity, entity_id, before, after, request_id, client_addr,"            \
    " prev_hash, hash"

/* column_text - the column as text (borrowed until the next step), NULL for SQL NULL. */
static const char *column_text(sqlite3_stmt *stmt, int column)
{
    return (const char *)sqlite3_column_text(stmt, column);
}

/*
 * record_from_row - the current row as a record whose strings borrow the
 * statement's (valid until the next step). IQ_E_DB when `at` does not
 * parse: the row cannot be what was recorded.
 */
static int record_from_row(sqlite3_stmt *stmt, struct audit_record *ret_record,
                           struct iq_error *err)
{
    *ret_record = (struct audit_record){
        .id = sqlite3_column_int64(stmt, AUDIT_COL_ID),
        .actor = column_text(stmt, AUDIT_COL_ACTOR),
        .action = column_text(stmt, AUDIT_COL_ACTION),
        .entity = column_text(stmt, AUDIT_COL_ENTITY),
        .entity_id = column_text(stmt, AUDIT_COL_ENTITY_ID),
        .before_json = column_text(stmt, AUDIT_COL_BEFORE),
        .after_json = column_text(stmt, AUDIT_COL_AFTER),
        .request_id = column_text(stmt, AUDIT_COL_REQUEST_ID),
        .client_addr = column_text(stmt, AUDIT_COL_CLIENT_ADDR),
        .prev_hash = column_text(stmt, AUDIT_COL_PREV_HASH),
    };
    const char *at = column_text(stmt, AUDIT_COL_AT);
    if (!at || time_parse_rfc3339(at, &ret_record->at_ms) < 0)
        return iq_error_set(err, IQ_E_DB, "audit row %" PRId64 ": unreadable time \"%s\"",
                            ret_record->id, at ? at : "");
    return 0;
}

/* ------------------------------------------------------------------------
 * Listing
 * ------------------------------------------------------------------------ */

/* One parameter of the list query: text (borrowed) or integer. */
struct audit_param {
    const char *text;
    int64_t number;
};

#define AUDIT_LIST_MAX_PARAMS 8

struct audit_query {
    sqlite3_str *sql;
    struct audit_param params[AUDIT_LIST_MAX_PARAMS];
    int param_count;
    bool first_term;
};

/* add_term - " WHERE term" or " AND term", with its one parameter. */
static void add_term(struct audit_query *q, const char *term, const char *text, int64_t number)
{
    sqlite3_str_appendall(q->sql, q->first_term ? " WHERE " : " AND ");
    sqlite3_str_appendall(q->sql, term);
    q->first_term = false;
    q->params[q->param_count++] = (struct audit_param){.text = text, .number = number};
}

/* row_copy - the current row into *row, every string owned (audit_page_clear, also on failure). */
static int row_copy(sqlite3_stmt *stmt, struct audit_row *row, struct iq_error *err)
{
    struct audit_record borrowed;
    int rc = record_from_row(stmt, &borrowed, err);
    if (rc < 0)
        return rc;
    return audit_row_copy(&borrowed, column_text(stmt, AUDIT_COL_HASH), row, err);
}

/* read_page - step the bound statement into page: limit rows, and whether one more follows. */
static int read_page(struct sqlite_store *s, sqlite3_stmt *stmt, int limit, struct audit_page *page,
                     struct iq_error *err)
{
    page->items = calloc((size_t)limit, sizeof(*page->items));
    if (!page->items)
        return nomem(err);
    int rc;
    while ((rc = sqlite_stmt_next(s, stmt, "list audit rows", err)) == 1) {
        if (page->count == (size_t)limit) {
            page->next_before_id = page->items[page->count - 1].record.id;
            stmt_release(stmt);
            return 0;
        }
        /* Counted first: audit_page_clear frees what a failed copy got to. */
        rc = row_copy(stmt, &page->items[page->count++], err);
        if (rc < 0) {
            stmt_release(stmt);
            return rc;
        }
    }
    return rc;
}

/*
 * sqlite_audit_list - see store_ops.audit_list: the rows matching filter
 * below filter->before_id, newest first (or, oldest_first, above
 * filter->after_id in id order), one page (limit + 1 rows are
 * read to know whether another page follows). The SQL carries only the
 * terms the filter needs, so the (entity, entity_id) and (actor, id)
 * indexes serve those filters. *ret_page: audit_page_clear, also after a
 * failure.
 */
int sqlite_audit_list(struct store *base, const struct audit_filter *filter,
                      struct audit_page *ret_page, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    memset(ret_page, 0, sizeof(*ret_page));
    if (filter->limit < 0 || filter->limit > AUDIT_LIST_LIMIT_MAX)
        return iq_error_set(err, IQ_E_BAD_REQUEST, "limit must be between 1 and %d",
                            AUDIT_LIST_LIMIT_MAX);
    int limit = filter->limit ? filter->limit : AUDIT_LIST_LIMIT_DEFAULT;
    char since[TIME_RFC3339_LEN], until[TIME_RFC3339_LEN];
    struct audit_query q = {.sql = sqlite3_str_new(s->db), .first_term = true};
    sqlite3_str_appendall(q.sql, "SELECT " AUDIT_ROW_COLUMNS " FROM stg_import_audit");
    if (filter->entity)
        add_term(&q, "entity = ?", filter->entity, 0);
    if (filter->entity_id)
        add_term(&q, "entity_id = ?", filter->entity_id, 0);
    if (filter->actor)
        add_term(&q, "actor = ?", filter->actor, 0);
    if (filter->action)
        add_term(&q, "action = ?", filter->action, 0);
    if (filter->since_ms)
        add_term(&q, "at >= ?", time_format_rfc3339(filter->since_ms, since), 0);
    if (filter->until_ms)
        add_term(&q, "at < ?", time_format_rfc3339(filter->until_ms, until), 0);
    if (filter->oldest_first)
        add_term(&q, "id > ?", NULL, filter->after_id);
    else if (filter->before_id > 0)
        add_term(&q, "id < ?", NULL, filter->before_id);
    sqlite3_str_appendall(q.sql, filter->oldest_first ? " ORDER BY id LIMIT ?"
                                                      : " ORDER BY id DESC LIMIT ?");
    q.params[q.param_count++] = (struct audit_param){.number = limit + 1};
    bool failed = sqlite3_str_errcode(q.sql) != SQLITE_OK;
    char *sql = sqlite3_str_finish(q.sql);
    if (failed || !sql) {
        sqlite3_free(sql);
        return nomem(err);
    }
    sqlite3_stmt *stmt = NULL;
    int rc = 0;
    if (sqlite3_prepare_v3(s->db, sql, -1, 0, &stmt, NULL) != SQLITE_OK)
        rc = sqlite_db_error(s, "prepare audit list", err);
    sqlite3_free(sql);
    if (rc == 0) {
        struct binder b = binder_start(stmt);
        for (int i = 0; i < q.param_count; i++) {
            if (q.params[i].text)
                bind_text(&b, q.params[i].text);
            else
                bind_int64(&b, q.params[i].number);
        }
        rc = sqlite_binder_check(s, &b, err);
    }
    if (rc == 0)
        rc = read_page(s, stmt, limit, ret_page, err);
    sqlite3_finalize(stmt);
    if (rc < 0)
        audit_page_clear(ret_page);
    return rc;
}

/* ------------------------------------------------------------------------
 * Verifying
 * ------------------------------------------------------------------------ */

/*
 * sqlite_audit_verify - see store_ops.audit_verify: one statement streams
 * the rows in id order (a single statement reads one snapshot, and only
 * the current row is in memory); each goes through the verifier, which
 * stops at the first break. Returns 0 with *ret_result filled whether the
 * chain holds or not; IQ_E_DB only when the rows cannot be read.
 */
int sqlite_audit_verify(struct store *base, struct audit_verify_result *ret_result,
                        struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    struct audit_verifier verifier;
    audit_verifier_start(&verifier, ret_result);
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_AUDIT_CHAIN, err);
    if (!stmt)
        return IQ_E_DB;
    int rc;
    while ((rc = sqlite_stmt_next(s, stmt, "read the audit chain", err)) == 1) {
        struct audit_record record;
        struct iq_error row_err = {0};
        bool holds =
            record_from_row(stmt, &record, &row_err) == 0
                ? audit_verifier_row(&verifier, &record, column_text(stmt, AUDIT_COL_HASH))
                : audit_verifier_unreadable(&verifier, record.id, iq_error_message(&row_err));
        iq_error_clear(&row_err);
        if (!holds) {
            stmt_release(stmt);
            return 0;
        }
    }
    return rc;
}
