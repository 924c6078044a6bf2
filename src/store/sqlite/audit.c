/*
 * sqlite/audit.c - the audit hash chain on SQLite: each row hashes
 * the previous row's hash. Rows are appended inside the write transaction
 * of the change they record; its write lock serialises the chain. Not
 * here: reading and verifying the chain (sqlite/audit_read.c).
 */
#include "store/sqlite/internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Audit chain
 * ------------------------------------------------------------------------ */

/*
 * sqlite_audit_append - append one row to the hash chain: id = last id + 1,
 * prev_hash = the last row's hash (AUDIT_GENESIS_HASH before the first).
 * Must run inside the write transaction of the change it records; that
 * transaction's write lock is what serialises the chain. before_json and
 * after_json are borrowed (NULL allowed). Returns 0 or a negative error.
 */
int sqlite_audit_append(struct sqlite_store *s, const struct audit_context *actx,
                        const char *action, const char *entity, const char *entity_id,
                        const char *before_json, const char *after_json, int64_t now_ms,
                        struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_AUDIT_HEAD, err);
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
    int rc = sqlite_stmt_next(s, stmt, "read audit chain head", err);
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

    stmt = sqlite_stmt_get(s, STMT_AUDIT_INSERT, err);
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
    rc = sqlite_binder_check(s, &b, err);
    return rc < 0 ? rc : sqlite_stmt_run(s, stmt, "append audit row", err);
}

/* sqlite_audit_job - sqlite_audit_append for entity "job"
 * (store_job_audit_images). */
int sqlite_audit_job(struct sqlite_store *s, const struct audit_context *actx, const char *action,
                     const char *id, const struct job *before, const struct job *after,
                     int64_t now_ms, struct iq_error *err)
{
    char *before_json, *after_json;
    int rc = store_job_audit_images(before, after, &before_json, &after_json, err);
    if (rc == 0)
        rc = sqlite_audit_append(s, actx, action, "job", id, before_json, after_json, now_ms, err);
    free(before_json);
    free(after_json);
    return rc;
}

int sqlite_check_actor(const struct audit_context *actx, struct iq_error *err)
{
    if (!actx || !actx->actor)
        return iq_error_set(err, IQ_E_INTERNAL, "a mutation needs an audit actor");
    return 0;
}
