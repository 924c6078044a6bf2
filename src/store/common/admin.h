/*
 * common/admin.h - what both backends share for the API's own records
 * (tokens, uploads) and nothing above the store sees: checks of the
 * records a caller hands in, and their JSON for the audit trail. No SQL.
 * The audit chain walk is audit_verifier.h.
 */
#ifndef IMPORTQ_STORE_ADMIN_INTERNAL_H
#define IMPORTQ_STORE_ADMIN_INTERNAL_H

#include "core/error.h"
#include "store/admin_ops.h"

/* Longest token name (bytes); names are actors in the audit trail. */
#define TOKEN_NAME_MAX 128

/*
 * admin_token_check - IQ_E_INVALID unless info has a UUID id, a name of
 * 1..TOKEN_NAME_MAX bytes without control characters, a known role and a
 * 64-character lower-case hex hash.
 */
int admin_token_check(const struct token_info *info, struct iq_error *err);

/*
 * admin_token_json - {"name","role"} (plus "revoked_at" when revoked_at is
 * not NULL) as compact sorted JSON for the audit trail: never the hash.
 * Caller frees; NULL on OOM.
 */
char *admin_token_json(const char *name, const char *role, const char *revoked_at);

/*
 * admin_upload_check - IQ_E_INVALID unless info has a UUID id, bytes >= 0,
 * a 64-character lower-case hex sha256, a path, and job_id "" or a UUID.
 */
int admin_upload_check(const struct upload_info *info, struct iq_error *err);

/* The columns of an audit row as both backends select them, in order. */
enum audit_column {
    AUDIT_COL_ID,
    AUDIT_COL_AT,
    AUDIT_COL_ACTOR,
    AUDIT_COL_ACTION,
    AUDIT_COL_ENTITY,
    AUDIT_COL_ENTITY_ID,
    AUDIT_COL_BEFORE,
    AUDIT_COL_AFTER,
    AUDIT_COL_REQUEST_ID,
    AUDIT_COL_CLIENT_ADDR,
    AUDIT_COL_PREV_HASH,
    AUDIT_COL_HASH,
};

/*
 * audit_row_copy - a row read by a backend (borrowed strings, its hash)
 * into *out with every string owned. IQ_E_NOMEM when a copy fails; *out
 * is then still safe to free with audit_page_clear.
 */
int audit_row_copy(const struct audit_record *borrowed, const char *hash, struct audit_row *out,
                   struct iq_error *err);

/* admin_upload_json - {"bytes","id","sha256"} for the audit trail. Caller frees; NULL on OOM. */
char *admin_upload_json(const struct upload_info *info);

#endif
