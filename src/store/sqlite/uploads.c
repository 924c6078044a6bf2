/*
 * sqlite/uploads.c - uploaded files on SQLite (importq_uploads):
 * recording one (audited), reading one, finding the ones whose spool file
 * may go, and forgetting one. The files themselves are the API's and the
 * maintenance thread's; linking an upload to the job that reads it is
 * job_create's.
 */
#include "store/sqlite/internal.h"

#include "store/common/admin.h"

#include <stdlib.h>
#include <string.h>

/* create_locked - upload_create's body inside BEGIN IMMEDIATE. */
static int create_locked(struct sqlite_store *s, const struct upload_info *info,
                         const struct audit_context *actx, struct iq_error *err)
{
    int64_t now_ms = sqlite_now_ms(s);
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_UPLOAD_INSERT, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, info->id);
    bind_int64(&b, info->bytes);
    bind_text(&b, info->sha256);
    bind_text(&b, info->path);
    bind_text(&b, info->created_by);
    bind_time(&b, info->created_at_ms ? info->created_at_ms : now_ms);
    bind_text(&b, info->job_id[0] ? info->job_id : NULL);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, "insert upload", err);
    char *after = rc == 0 ? admin_upload_json(info) : NULL;
    if (rc == 0 && !after)
        rc = nomem(err);
    if (rc == 0)
        rc = sqlite_audit_append(s, actx, "upload.create", "upload", info->id, NULL, after, now_ms,
                                 err);
    free(after);
    return rc;
}

/*
 * sqlite_upload_create - see store_ops.upload_create: the row (created_at
 * = info->created_at_ms, or now when 0) and its "upload.create" audit row
 * in one BEGIN IMMEDIATE transaction. IQ_E_INVALID for a malformed info.
 */
int sqlite_upload_create(struct store *base, const struct upload_info *info,
                         const struct audit_context *actx, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    int rc = sqlite_check_actor(actx, err);
    if (rc == 0)
        rc = admin_upload_check(info, err);
    if (rc == 0)
        rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    return sqlite_tx_finish(s, create_locked(s, info, actx, err), err);
}

/* copy_id - a uuid column (NULL: "") into id; IQ_E_DB when it is something else. */
static int copy_id(sqlite3_stmt *stmt, int column, char id[UUID_STR_LEN], struct iq_error *err)
{
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    id[0] = '\0';
    if (!text)
        return 0;
    if (strlen(text) != UUID_STR_LEN - 1)
        return iq_error_set(err, IQ_E_DB, "stored id \"%s\" is malformed", text);
    memcpy(id, text, UUID_STR_LEN);
    return 0;
}

/* copy_text - strdup of a column, NULL for SQL NULL; IQ_E_NOMEM when the copy fails. */
static int copy_text(sqlite3_stmt *stmt, int column, char **ret, struct iq_error *err)
{
    bool ok;
    const char *text = sqlite_column_text_or_error(stmt, column, &ok);
    *ret = text ? strdup(text) : NULL;
    return ok && (!text || *ret) ? 0 : nomem(err);
}

/* upload_from_row - an UPLOAD_COLUMNS row into *info (upload_info_clear, also on failure). */
static int upload_from_row(sqlite3_stmt *stmt, struct upload_info *info, struct iq_error *err)
{
    memset(info, 0, sizeof(*info));
    int rc = copy_id(stmt, 0, info->id, err);
    info->bytes = sqlite3_column_int64(stmt, 1);
    const char *sha = (const char *)sqlite3_column_text(stmt, 2);
    if (rc == 0 && (!sha || strlen(sha) != AUDIT_HASH_LEN - 1))
        rc = iq_error_set(err, IQ_E_DB, "upload %s has a malformed sha256", info->id);
    if (rc == 0)
        memcpy(info->sha256, sha, AUDIT_HASH_LEN);
    if (rc == 0)
        rc = copy_text(stmt, 3, &info->path, err);
    if (rc == 0 && !info->path)
        rc = iq_error_set(err, IQ_E_DB, "upload %s has no path", info->id);
    if (rc == 0)
        rc = copy_text(stmt, 4, &info->created_by, err);
    const char *created_at = (const char *)sqlite3_column_text(stmt, 5);
    if (rc == 0 && (!created_at || time_parse_rfc3339(created_at, &info->created_at_ms) < 0))
        rc = iq_error_set(err, IQ_E_DB, "upload %s has an unreadable created_at", info->id);
    if (rc == 0)
        rc = copy_id(stmt, 6, info->job_id, err);
    return rc;
}

/*
 * sqlite_upload_get - see store_ops.upload_get. IQ_E_NOT_FOUND for an
 * unknown id; *ret_info: upload_info_clear (also after a failure).
 */
int sqlite_upload_get(struct store *base, const char *id, struct upload_info *ret_info,
                      struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    memset(ret_info, 0, sizeof(*ret_info));
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_UPLOAD_BY_ID, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, id);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_next(s, stmt, "read upload", err);
    if (rc == 0)
        return iq_error_set(err, IQ_E_NOT_FOUND, "upload %s not found", id ? id : "(null)");
    if (rc < 0)
        return rc;
    rc = upload_from_row(stmt, ret_info, err);
    stmt_release(stmt);
    if (rc < 0)
        upload_info_clear(ret_info);
    return rc;
}

/*
 * sqlite_uploads_expired - see store_ops.uploads_expired: one statement,
 * oldest first. *ret_list: upload_list_clear, also after a failure.
 */
int sqlite_uploads_expired(struct store *base, int64_t cutoff_ms, struct upload_list *ret_list,
                           struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    memset(ret_list, 0, sizeof(*ret_list));
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_UPLOADS_EXPIRED, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_time(&b, cutoff_ms);
    int rc = sqlite_binder_check(s, &b, err);
    size_t capacity = 0;
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "list expired uploads", err)) == 1) {
        void *grown = store_grow(ret_list->items, &capacity, ret_list->count,
                                 sizeof(*ret_list->items), 8);
        if (!grown) {
            rc = nomem(err);
            break;
        }
        ret_list->items = grown;
        /* Counted first: upload_list_clear frees what a failed decode got to. */
        rc = upload_from_row(stmt, &ret_list->items[ret_list->count++], err);
    }
    if (rc < 0) {
        stmt_release(stmt);
        upload_list_clear(ret_list);
    }
    return rc;
}

/*
 * sqlite_upload_delete - see store_ops.upload_delete: one autocommit
 * DELETE, not audited (the row only tracks a spool file that is gone).
 * An unknown id is 0 too, so two nodes cleaning up at once both succeed.
 */
int sqlite_upload_delete(struct store *base, const char *id, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    if (!id)
        return 0;
    return sqlite_run_id_statement(s, STMT_UPLOAD_DELETE, id, 0, "delete upload", NULL, err);
}
