/*
 * postgres/audit.c - the audit hash chain on PostgreSQL: one row appended
 * per mutation, inside the mutation's own transaction, serialised on the
 * chain head by PG_LOCK_AUDIT. A transaction's rows travel with its
 * COMMIT (pg_tx_finish: the lock, the inserts, COMMIT in one round trip),
 * and each insert numbers, chains and hashes its row itself, so the lock
 * is held for no round trip at all. Verifying the chain is not here.
 */
#include "store/postgres/internal.h"

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
 * HASHED(x) - one field as core/audit.c feeds it to SHA-256, as bytea:
 * "<length in bytes>:<bytes>;" of its UTF-8 text, or "-;" for NULL.
 */
#define HASHED(x)                                                                                  \
    "CASE WHEN " x " IS NULL THEN decode('2d3b', 'hex') ELSE convert_to(octet_length("             \
    "convert_to(" x ", 'UTF8'))::text || ':', 'UTF8') || convert_to(" x ", 'UTF8')"               \
    " || decode('3b', 'hex') END"

/*
 * pg_audit_insert_sql - the audit row insert (prepared as
 * STMT_AUDIT_INSERT): numbered head + 1 and chained to the head's hash,
 * both read by the statement itself (its snapshot, taken after
 * PG_LOCK_AUDIT was granted by an earlier statement, sees the head), and
 * hashed exactly as audit_hash in src/core/audit.c does: SHA-256 over
 * prev_hash, id, at, actor, action, entity, entity_id, before, after,
 * request_id, client_addr, each HASHED. The verifier (audit_verify)
 * recomputes it in C, so any disagreement shows there. Parameters: the
 * PG_AUDIT_FIELDS texts; at is RFC 3339 text, hashed as given. Caller
 * frees; NULL on OOM. (select_list is unused.)
 */
char *pg_audit_insert_sql(const char *select_list)
{
    (void)select_list;
    return strdup(
        "INSERT INTO stg_import_audit (id, at, actor, action, entity, entity_id, before,"
        " after, request_id, client_addr, prev_hash, hash)"
        " SELECT h.id, $1::text::timestamptz, $2::text, $3::text, $4::text, $5::text,"
        " $6::text::json, $7::text::json, $8::text, $9::text, h.prev,"
        " encode(sha256(" HASHED("h.prev") " || " HASHED("h.id::text") " || " HASHED("$1::text")
        " || " HASHED("$2::text") " || " HASHED("$3::text") " || " HASHED("$4::text")
        " || " HASHED("$5::text") " || " HASHED("$6::text") " || " HASHED("$7::text")
        " || " HASHED("$8::text") " || " HASHED("$9::text") "), 'hex')"
        " FROM (SELECT coalesce(last.id, 0) + 1 AS id,"
        " coalesce(last.hash, '" AUDIT_GENESIS_HASH "') AS prev"
        " FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT a.id, a.hash FROM stg_import_audit a"
        " ORDER BY a.id DESC LIMIT 1) last ON true) h");
}

void pg_audit_tail_reset(struct pg_store *ps)
{
    for (size_t r = 0; r < ps->audit.count; r++)
        for (int i = 0; i < PG_AUDIT_FIELDS; i++) {
            free(ps->audit.pending[r][i]);
            ps->audit.pending[r][i] = NULL;
        }
    ps->audit.count = 0;
    ps->audit.locked = false;
}

size_t pg_audit_pending_steps(struct pg_store *ps, struct pg_step *steps)
{
    size_t n = 0;
    if (ps->audit.count == 0)
        return 0;
    if (!ps->audit.locked)
        steps[n++] = (struct pg_step){.what = "locking the audit chain",
                                      .stmt = STMT_NONE,
                                      .sql = "SELECT pg_advisory_xact_lock(" PG_LOCK_AUDIT ")"};
    for (size_t r = 0; r < ps->audit.count; r++)
        steps[n++] = (struct pg_step){.what = "appending to the audit trail",
                                      .stmt = STMT_AUDIT_INSERT,
                                      .values = (const char *const *)ps->audit.pending[r]};
    return n;
}

/*
 * send_pending - the pending rows now (PG_LOCK_AUDIT first unless held),
 * in one round trip; the lock stays held until COMMIT.
 */
static int send_pending(struct pg_store *ps, struct iq_error *err)
{
    struct pg_step steps[PG_AUDIT_PENDING_MAX + 1];
    size_t n = pg_audit_pending_steps(ps, steps);
    int rc = pg_exec_pipeline(ps, steps, n, err);
    for (size_t i = 0; i < n; i++)
        PQclear(steps[i].res);
    if (rc < 0)
        return rc;
    pg_audit_tail_reset(ps);
    ps->audit.locked = true;
    return 0;
}

/*
 * pg_audit_append - append one row to stg_import_audit inside the caller's
 * transaction: the row is kept (copies of its fields, the time taken
 * now) and sent with the COMMIT by pg_tx_finish, after PG_LOCK_AUDIT;
 * its number, chain link and hash are computed by the insert itself
 * (pg_audit_insert_sql). With PG_AUDIT_PENDING_MAX rows kept already,
 * those are sent first. Returns 0, IQ_E_DB or IQ_E_NOMEM.
 */
int pg_audit_append(struct pg_store *ps, const struct audit_context *actx, const char *action,
                    const char *entity, const char *entity_id, const char *before_json,
                    const char *after_json, struct iq_error *err)
{
    if (ps->audit.count == PG_AUDIT_PENDING_MAX) {
        int rc = send_pending(ps, err);
        if (rc < 0)
            return rc;
    }
    char at_text[TIME_RFC3339_LEN];
    const char *values[PG_AUDIT_FIELDS] = {time_format_rfc3339(pg_now_ms(ps), at_text),
                                           actx && actx->actor ? actx->actor : "unknown",
                                           action,
                                           entity,
                                           entity_id,
                                           before_json,
                                           after_json,
                                           actx ? actx->request_id : NULL,
                                           actx ? actx->client_addr : NULL};
    char **row = ps->audit.pending[ps->audit.count];
    bool ok = true;
    for (int i = 0; i < PG_AUDIT_FIELDS; i++) {
        row[i] = values[i] ? strdup(values[i]) : NULL;
        ok = ok && (!values[i] || row[i]);
    }
    ps->audit.count++; /* freed by pg_audit_tail_reset, also when a copy failed */
    return ok ? 0 : iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

/* pg_audit_job_change - pg_audit_append for entity "job" (store_job_audit_images). */
int pg_audit_job_change(struct pg_store *ps, const struct audit_context *actx, const char *action,
                        const struct job *before, const struct job *after, struct iq_error *err)
{
    char *before_json, *after_json;
    int rc = store_job_audit_images(before, after, &before_json, &after_json, err);
    if (rc == 0)
        rc = pg_audit_append(ps, actx, action, "job", after ? after->id : before->id, before_json,
                          after_json, err);
    free(before_json);
    free(after_json);
    return rc;
}
