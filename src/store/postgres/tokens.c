/*
 * postgres/tokens.c - API tokens on PostgreSQL (importq_tokens): create,
 * list, revoke (both audited in the transaction that makes them) and the
 * last-used stamp. Only the hash of a token is stored; making and hashing
 * secrets is core/auth.c's, checking a presented token the API's.
 *
 * Locks: create relies on the unique name (ON CONFLICT DO NOTHING waits
 * for a concurrent insert of the same name, then does nothing); revoke
 * locks the token row; both take PG_LOCK_AUDIT last, in pg_audit_append.
 */
#include "store/postgres/internal.h"

#include "core/auth.h"
#include "core/timeutil.h"
#include "core/uuid7.h"
#include "store/common/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ms since the epoch of a timestamptz column, NULL for NULL. */
#define EPOCH_MS(column) "floor(extract(epoch FROM " column ") * 1000)::bigint"

/* ------------------------------------------------------------------ */
/* Create                                                              */
/* ------------------------------------------------------------------ */

/* create_in_tx - token_create's body inside its transaction. */
static int create_in_tx(struct pg_store *ps, const struct token_info *info,
                        const struct audit_context *actx, struct iq_error *err)
{
    const char *role = token_role_name((int)info->role);
    char now[TIME_RFC3339_LEN];
    time_format_rfc3339(pg_now_ms(ps), now);
    const char *values[6] = {info->id, info->name, role, info->token_hash, info->created_by, now};
    PGresult *res;
    int rc = pg_exec(ps, "creating a token",
                     "INSERT INTO importq_tokens (id, name, role, token_hash, created_by,"
                     " created_at) VALUES ($1::uuid, $2, $3, $4, $5, $6::timestamptz)"
                     " ON CONFLICT (name) DO NOTHING RETURNING 1",
                     6, values, &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 0)
        rc = iq_error_set(err, IQ_E_CONFLICT, "a token named \"%s\" exists already", info->name);
    PQclear(res);
    char *after = rc == 0 ? admin_token_json(info->name, role, NULL) : NULL;
    if (rc == 0 && !after)
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    if (rc == 0)
        rc = pg_audit_append(ps, actx, "token.create", "token", info->name, NULL, after, err);
    free(after);
    return rc;
}

/*
 * pg_token_create - see store_ops.token_create: the row and its
 * "token.create" audit row (name and role, never the hash) in one
 * transaction. IQ_E_INVALID for a malformed info, IQ_E_CONFLICT when the
 * name is taken (revoked names included).
 */
int pg_token_create(struct store *s, const struct token_info *info,
                    const struct audit_context *actx, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    int rc = admin_token_check(info, err);
    if (rc == 0)
        rc = pg_tx_begin(ps, err);
    if (rc < 0)
        return rc;
    return pg_tx_finish(ps, create_in_tx(ps, info, actx, err), err);
}

/* ------------------------------------------------------------------ */
/* List                                                                */
/* ------------------------------------------------------------------ */

/* dup_value - a copy of the value at (row, column), NULL for SQL NULL; *ret_failed on OOM. */
static char *dup_value(const PGresult *res, int row, int column, bool *ret_failed)
{
    if (PQgetisnull(res, row, column))
        return NULL;
    char *copy = strdup(PQgetvalue(res, row, column));
    if (!copy)
        *ret_failed = true;
    return copy;
}

/* decode_token - one row of the list query into *info (token_info_clear, also on failure). */
static int decode_token(const PGresult *res, int row, struct token_info *info, struct iq_error *err)
{
    bool failed = false;
    snprintf(info->id, sizeof(info->id), "%s", PQgetvalue(res, row, 0));
    info->name = dup_value(res, row, 1, &failed);
    int role = token_role_parse(PQgetvalue(res, row, 2));
    snprintf(info->token_hash, sizeof(info->token_hash), "%s", PQgetvalue(res, row, 3));
    info->created_by = dup_value(res, row, 4, &failed);
    info->created_at_ms = pg_text_to_int64(PQgetvalue(res, row, 5));
    info->last_used_at_ms = pg_text_to_int64(PQgetvalue(res, row, 6));
    info->revoked_at_ms = pg_text_to_int64(PQgetvalue(res, row, 7));
    if (failed)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory reading tokens");
    if (role < 0)
        return iq_error_set(err, IQ_E_DB, "token %s has an unknown role", info->id);
    info->role = (enum token_role)role;
    return 0;
}

/*
 * pg_token_list - see store_ops.token_list: by name in byte order
 * (COLLATE "C", as SQLite sorts), revoked tokens only with
 * include_revoked. *ret_list: token_list_clear, also after a failure.
 */
int pg_token_list(struct store *s, bool include_revoked, struct token_list *ret_list,
                  struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret_list, 0, sizeof(*ret_list));
    const char *values[1] = {include_revoked ? "true" : "false"};
    PGresult *res;
    int rc = pg_exec(
        ps, "listing tokens",
        "SELECT id::text, name, role, token_hash, created_by, " EPOCH_MS(
            "created_at") ", " EPOCH_MS("last_used_at") ", " EPOCH_MS("revoked_at") " FROM "
                                                                                    "importq_"
                                                                                    "tokens WHERE "
                                                                                    "$1::boolean "
                                                                                    "OR revoked_at "
                                                                                    "IS NULL"
                                                                                    " ORDER BY "
                                                                                    "name COLLATE "
                                                                                    "\"C\"",
        1, values, &res, err);
    if (rc < 0)
        return rc;
    size_t rows = (size_t)PQntuples(res);
    if (rows > 0 && !(ret_list->items = calloc(rows, sizeof(*ret_list->items))))
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < rows; i++) {
        ret_list->count = i + 1;
        rc = decode_token(res, (int)i, &ret_list->items[i], err);
    }
    PQclear(res);
    if (rc < 0)
        token_list_clear(ret_list);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Revoke and touch                                                    */
/* ------------------------------------------------------------------ */

/* revoke_in_tx - token_revoke's body inside its transaction. */
static int revoke_in_tx(struct pg_store *ps, const char *name, const struct audit_context *actx,
                        struct iq_error *err)
{
    const char *lookup[1] = {name};
    PGresult *res;
    int rc = pg_exec(ps, "reading a token",
                     "SELECT role, revoked_at IS NOT NULL FROM importq_tokens WHERE name = $1"
                     " FOR UPDATE",
                     1, lookup, &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return iq_error_set(err, IQ_E_NOT_FOUND, "no token named \"%s\"", name);
    }
    bool revoked = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    int role = token_role_parse(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (revoked)
        return 0; /* already revoked: nothing to write */
    if (role < 0)
        return iq_error_set(err, IQ_E_DB, "token \"%s\" has an unknown role", name);
    char now[TIME_RFC3339_LEN];
    time_format_rfc3339(pg_now_ms(ps), now);
    char *before = admin_token_json(name, token_role_name(role), NULL);
    char *after = admin_token_json(name, token_role_name(role), now);
    rc = before && after ? 0 : iq_error_set(err, IQ_E_NOMEM, "out of memory");
    const char *values[2] = {name, now};
    if (rc == 0)
        rc = pg_exec(ps, "revoking a token",
                     "UPDATE importq_tokens SET revoked_at = $2::timestamptz WHERE name = $1", 2,
                     values, NULL, err);
    if (rc == 0)
        rc = pg_audit_append(ps, actx, "token.revoke", "token", name, before, after, err);
    free(before);
    free(after);
    return rc;
}

/*
 * pg_token_revoke - see store_ops.token_revoke: revoked_at = now and a
 * "token.revoke" audit row in one transaction, the token row locked; a
 * token revoked already is left as it is (0, nothing written).
 * IQ_E_NOT_FOUND for an unknown name.
 */
int pg_token_revoke(struct store *s, const char *name, const struct audit_context *actx,
                    struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    if (!name)
        return iq_error_set(err, IQ_E_NOT_FOUND, "no token named (null)");
    int rc = pg_tx_begin(ps, err);
    if (rc < 0)
        return rc;
    return pg_tx_finish(ps, revoke_in_tx(ps, name, actx, err), err);
}

/*
 * pg_token_touch - see store_ops.token_touch: last_used_at = at_ms, one
 * statement, not audited. IQ_E_NOT_FOUND for an unknown or malformed id.
 */
int pg_token_touch(struct store *s, const char *token_id, int64_t at_ms, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    if (at_ms <= 0)
        return iq_error_set(err, IQ_E_INVALID, "token_touch needs a time");
    if (!token_id || !uuid_is_valid(token_id))
        return iq_error_set(err, IQ_E_NOT_FOUND, "no token with id %s",
                            token_id ? token_id : "(null)");
    char at[TIME_RFC3339_LEN];
    const char *values[2] = {token_id, time_format_rfc3339(at_ms, at)};
    PGresult *res;
    int rc = pg_exec(ps, "recording a token's use",
                     "UPDATE importq_tokens SET last_used_at = $2::timestamptz WHERE id = $1::uuid",
                     2, values, &res, err);
    if (rc < 0)
        return rc;
    if (pg_text_to_int64(PQcmdTuples(res)) == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "no token with id %s", token_id);
    PQclear(res);
    return rc;
}
