/*
 * store_pg_audit.c - the audit hash chain on PostgreSQL: one row appended
 * per mutation, inside the mutation's own transaction, serialised on the
 * chain head by PG_LOCK_AUDIT (held from reading the head to COMMIT, so
 * callers append last). Verifying the chain is not here.
 */
#include "store/store_pg_internal.h"

#include "core/audit.h"
#include "core/job.h"
#include "core/timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* The audit chain                                                     */
/* ------------------------------------------------------------------ */

/*
 * pg_audit_append - append one row to stg_import_audit inside the caller's
 * transaction: takes PG_LOCK_AUDIT (held until COMMIT, so call it last),
 * reads the chain head, hashes and inserts the row numbered head + 1.
 * before_json/after_json are stored byte for byte (json columns).
 * Returns 0 or IQ_E_DB.
 */
int pg_audit_append(struct pg_store *ps, const struct audit_context *actx, const char *action,
                    const char *entity, const char *entity_id, const char *before_json,
                    const char *after_json, struct iq_error *err)
{
    int rc = pg_exec(ps, "locking the audit chain",
                     "SELECT pg_advisory_xact_lock(" PG_LOCK_AUDIT ")", 0, NULL, NULL, err);
    if (rc < 0)
        return rc;
    PGresult *res;
    rc = pg_exec_prepared(ps, "reading the audit chain head", STMT_AUDIT_HEAD, NULL, &res, err);
    if (rc < 0)
        return rc;
    char prev_hash[AUDIT_HASH_LEN] = AUDIT_GENESIS_HASH;
    int64_t last_id = 0;
    if (PQntuples(res) > 0) {
        last_id = pg_text_to_int64(PQgetvalue(res, 0, 0));
        snprintf(prev_hash, sizeof(prev_hash), "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);

    struct audit_record record = {
        .id = last_id + 1,
        .at_ms = time_now_ms(),
        .actor = actx && actx->actor ? actx->actor : "unknown",
        .action = action,
        .entity = entity,
        .entity_id = entity_id,
        .before_json = before_json,
        .after_json = after_json,
        .request_id = actx ? actx->request_id : NULL,
        .client_addr = actx ? actx->client_addr : NULL,
        .prev_hash = prev_hash,
    };
    char hash[AUDIT_HASH_LEN];
    audit_hash(&record, hash);
    char id_text[24], at_text[TIME_RFC3339_LEN];
    snprintf(id_text, sizeof(id_text), "%" PRId64, record.id);
    const char *values[12] = {id_text,
                              time_format_rfc3339(record.at_ms, at_text),
                              record.actor,
                              record.action,
                              record.entity,
                              record.entity_id,
                              record.before_json,
                              record.after_json,
                              record.request_id,
                              record.client_addr,
                              record.prev_hash,
                              hash};
    return pg_exec_prepared(ps, "appending to the audit trail", STMT_AUDIT_INSERT, values, NULL,
                            err);
}

/* job_json_text - the job's API form as compact sorted JSON, NULL for NULL. */
static int job_json_text(const struct job *job, char **ret_text, struct iq_error *err)
{
    *ret_text = NULL;
    if (!job)
        return 0;
    json_t *value = job_to_json(job);
    *ret_text = store_json_text(value);
    json_decref(value);
    return *ret_text ? 0 : iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

/* pg_audit_job_change - pg_audit_append for entity "job" with before/after images. */
int pg_audit_job_change(struct pg_store *ps, const struct audit_context *actx, const char *action,
                        const struct job *before, const struct job *after, struct iq_error *err)
{
    char *before_json = NULL, *after_json = NULL;
    int rc = job_json_text(before, &before_json, err);
    if (rc == 0)
        rc = job_json_text(after, &after_json, err);
    if (rc == 0)
        rc = pg_audit_append(ps, actx, action, "job", after ? after->id : before->id, before_json,
                          after_json, err);
    free(before_json);
    free(after_json);
    return rc;
}
