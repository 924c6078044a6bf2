/*
 * sqlite/tokens.c - API tokens on SQLite (importq_tokens): create,
 * list, revoke (both audited in the write transaction that makes them)
 * and the last-used stamp. Only the hash of a token is stored; making
 * and hashing secrets is core/auth.c's, checking a presented token the
 * API's.
 */
#include "store/sqlite/internal.h"

#include "core/auth.h"
#include "store/common/admin.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Create
 * ------------------------------------------------------------------------ */

/* create_locked - token_create's body inside BEGIN IMMEDIATE. */
static int create_locked(struct sqlite_store *s, const struct token_info *info,
                         const struct audit_context *actx, struct iq_error *err)
{
    const char *role = token_role_name((int)info->role);
    int64_t now_ms = sqlite_now_ms(s);
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_TOKEN_INSERT, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, info->id);
    bind_text(&b, info->name);
    bind_text(&b, role);
    bind_text(&b, info->token_hash);
    bind_text(&b, info->created_by);
    bind_time(&b, now_ms);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, "insert token", err);
    if (rc == 0 && sqlite3_changes(s->db) == 0)
        rc = iq_error_set(err, IQ_E_CONFLICT, "a token named \"%s\" exists already", info->name);
    char *after = rc == 0 ? admin_token_json(info->name, role, NULL) : NULL;
    if (rc == 0 && !after)
        rc = nomem(err);
    if (rc == 0)
        rc = sqlite_audit_append(s, actx, "token.create", "token", info->name, NULL, after, now_ms,
                                 err);
    free(after);
    return rc;
}

/*
 * sqlite_token_create - see store_ops.token_create: the row and its
 * "token.create" audit row (name and role, never the hash) in one
 * BEGIN IMMEDIATE transaction. IQ_E_INVALID for a malformed info,
 * IQ_E_CONFLICT when the name is taken (revoked names included).
 */
int sqlite_token_create(struct store *base, const struct token_info *info,
                        const struct audit_context *actx, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    int rc = sqlite_check_actor(actx, err);
    if (rc == 0)
        rc = admin_token_check(info, err);
    if (rc == 0)
        rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    return sqlite_tx_finish(s, create_locked(s, info, actx, err), err);
}

/* ------------------------------------------------------------------------
 * List
 * ------------------------------------------------------------------------ */

/* copy_text - strdup of a column, NULL for SQL NULL; IQ_E_NOMEM when the copy fails. */
static int copy_text(sqlite3_stmt *stmt, int column, char **ret, struct iq_error *err)
{
    bool ok;
    const char *text = sqlite_column_text_or_error(stmt, column, &ok);
    *ret = text ? strdup(text) : NULL;
    return ok && (!text || *ret) ? 0 : nomem(err);
}

/* read_time - an RFC 3339 column into ms, 0 for SQL NULL; IQ_E_DB when unreadable. */
static int read_time(sqlite3_stmt *stmt, int column, int64_t *ret_ms, struct iq_error *err)
{
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    *ret_ms = 0;
    if (!text || time_parse_rfc3339(text, ret_ms) == 0)
        return 0;
    return iq_error_set(err, IQ_E_DB, "stored token time \"%s\" is unreadable", text);
}

/* copy_fixed - a column into a fixed buffer of size (NUL included); IQ_E_DB when it does not fit.
 */
static int copy_fixed(sqlite3_stmt *stmt, int column, char *buf, size_t size, struct iq_error *err)
{
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    if (!text || strlen(text) != size - 1)
        return iq_error_set(err, IQ_E_DB, "stored token value \"%s\" is malformed",
                            text ? text : "");
    memcpy(buf, text, size);
    return 0;
}

/* token_from_row - the current TOKENS_LIST row into *info (token_info_clear, also on failure). */
static int token_from_row(sqlite3_stmt *stmt, struct token_info *info, struct iq_error *err)
{
    memset(info, 0, sizeof(*info));
    int rc = copy_fixed(stmt, 0, info->id, sizeof(info->id), err);
    if (rc == 0)
        rc = copy_text(stmt, 1, &info->name, err);
    int role = token_role_parse((const char *)sqlite3_column_text(stmt, 2));
    if (rc == 0 && (role < 0 || !info->name))
        rc = iq_error_set(err, IQ_E_DB, "token %s has no name or an unknown role", info->id);
    info->role = (enum token_role)(role > 0 ? role : 0);
    if (rc == 0)
        rc = copy_fixed(stmt, 3, info->token_hash, sizeof(info->token_hash), err);
    if (rc == 0)
        rc = copy_text(stmt, 4, &info->created_by, err);
    if (rc == 0)
        rc = read_time(stmt, 5, &info->created_at_ms, err);
    if (rc == 0)
        rc = read_time(stmt, 6, &info->last_used_at_ms, err);
    if (rc == 0)
        rc = read_time(stmt, 7, &info->revoked_at_ms, err);
    return rc;
}

/* token_list_add - decode the current row onto the end of list. */
static int token_list_add(struct token_list *list, size_t *capacity, sqlite3_stmt *stmt,
                          struct iq_error *err)
{
    void *grown = store_grow(list->items, capacity, list->count, sizeof(*list->items), 8);
    if (!grown)
        return nomem(err);
    list->items = grown;
    /* Counted first: token_list_clear frees what a failed decode got to. */
    return token_from_row(stmt, &list->items[list->count++], err);
}

/*
 * sqlite_token_list - see store_ops.token_list: by name, revoked tokens
 * only with include_revoked. One statement, no transaction. *ret_list:
 * token_list_clear, also after a failure.
 */
int sqlite_token_list(struct store *base, bool include_revoked, struct token_list *ret_list,
                      struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    memset(ret_list, 0, sizeof(*ret_list));
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_TOKENS_LIST, err);
    if (!stmt)
        return IQ_E_DB;
    size_t capacity = 0;
    struct binder b = binder_start(stmt);
    bind_int64(&b, include_revoked ? 1 : 0);
    int rc = sqlite_binder_check(s, &b, err);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "list tokens", err)) == 1)
        rc = token_list_add(ret_list, &capacity, stmt, err);
    if (rc < 0) {
        stmt_release(stmt);
        token_list_clear(ret_list);
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Revoke and touch
 * ------------------------------------------------------------------------ */

/* revoke_locked - token_revoke's body inside BEGIN IMMEDIATE. */
static int revoke_locked(struct sqlite_store *s, const char *name, const struct audit_context *actx,
                         struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_TOKEN_BY_NAME, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, name);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_next(s, stmt, "read token", err);
    if (rc == 0)
        return iq_error_set(err, IQ_E_NOT_FOUND, "no token named \"%s\"", name);
    if (rc < 0)
        return rc;
    bool revoked = sqlite3_column_type(stmt, 1) != SQLITE_NULL;
    int role = token_role_parse((const char *)sqlite3_column_text(stmt, 0));
    stmt_release(stmt);
    if (revoked)
        return 0; /* already revoked: nothing to write */
    if (role < 0)
        return iq_error_set(err, IQ_E_DB, "token \"%s\" has an unknown role", name);
    int64_t now_ms = sqlite_now_ms(s);
    char now_text[TIME_RFC3339_LEN];
    time_format_rfc3339(now_ms, now_text);
    char *before = admin_token_json(name, token_role_name(role), NULL);
    char *after = admin_token_json(name, token_role_name(role), now_text);
    rc = before && after ? 0 : nomem(err);
    if (rc == 0)
        rc = sqlite_run_id_statement(s, STMT_TOKEN_REVOKE, name, now_ms, "revoke token", NULL, err);
    if (rc == 0)
        rc =
            sqlite_audit_append(s, actx, "token.revoke", "token", name, before, after, now_ms, err);
    free(before);
    free(after);
    return rc;
}

/*
 * sqlite_token_revoke - see store_ops.token_revoke: revoked_at = now and
 * a "token.revoke" audit row in one BEGIN IMMEDIATE transaction; a token
 * revoked already is left as it is (0, nothing written). IQ_E_NOT_FOUND
 * for an unknown name.
 */
int sqlite_token_revoke(struct store *base, const char *name, const struct audit_context *actx,
                        struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    int rc = sqlite_check_actor(actx, err);
    if (rc == 0 && !name)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "no token named (null)");
    if (rc == 0)
        rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    return sqlite_tx_finish(s, revoke_locked(s, name, actx, err), err);
}

/*
 * sqlite_token_touch - see store_ops.token_touch: last_used_at = at_ms,
 * one autocommit statement, not audited. IQ_E_NOT_FOUND for an unknown id.
 */
int sqlite_token_touch(struct store *base, const char *token_id, int64_t at_ms,
                       struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    if (!token_id || at_ms <= 0)
        return iq_error_set(err, IQ_E_INVALID, "token_touch needs a token id and a time");
    int changes = 0;
    int rc =
        sqlite_run_id_statement(s, STMT_TOKEN_TOUCH, token_id, at_ms, "touch token", &changes, err);
    if (rc == 0 && changes == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "no token with id %s", token_id);
    return rc;
}
