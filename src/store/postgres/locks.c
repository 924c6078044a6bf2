/*
 * postgres/locks.c - the leased resource locks as an administrator sees
 * them on PostgreSQL (stg_import_resources): the live ones, and a forced
 * release of one (audited, and a NOTIFY since its resource is free now).
 * Taking locks is the claim's (postgres/claim.c), renewing them the
 * heartbeat's, freeing them the finish's and rescue's.
 */
#include "store/postgres/internal.h"

#include "core/audit.h"
#include "core/timeutil.h"
#include "core/uuid7.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Listing                                                             */
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

/* decode_lock - row of the list query into *lock; false on OOM or a bad mode. */
static bool decode_lock(const PGresult *res, int row, struct lock_info *lock)
{
    bool failed = false;
    snprintf(lock->id, sizeof(lock->id), "%s", PQgetvalue(res, row, 0));
    lock->name = dup_value(res, row, 1, &failed);
    if (lock_mode_parse(PQgetvalue(res, row, 2), &lock->mode) < 0)
        failed = true;
    snprintf(lock->job_id, sizeof(lock->job_id), "%s", PQgetvalue(res, row, 3));
    lock->attempt = (int)pg_text_to_int64(PQgetvalue(res, row, 4));
    lock->node = dup_value(res, row, 5, &failed);
    lock->worker = dup_value(res, row, 6, &failed);
    lock->acquired_at_ms = pg_text_to_int64(PQgetvalue(res, row, 7));
    lock->expires_at_ms = pg_text_to_int64(PQgetvalue(res, row, 8));
    return !failed;
}

/*
 * pg_locks_list - see store_ops.locks_list: live locks (expires_at > now()
 * on the database clock, or the injected one) by name, then age. Clear with lock_list_clear
 * (also after a failure).
 */
int pg_locks_list(struct store *s, struct lock_list *ret_list, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret_list, 0, sizeof(*ret_list));
    char now[TIME_RFC3339_LEN];
    const char *values[1] = {pg_clock_param(ps, now)};
    PGresult *res;
    int rc = pg_exec(ps, "listing locks",
                     "SELECT id::text, name, mode, job_id::text, attempt, node, worker,"
                     " floor(extract(epoch FROM acquired_at) * 1000)::bigint,"
                     " floor(extract(epoch FROM expires_at) * 1000)::bigint"
                     " FROM stg_import_resources WHERE expires_at > " PG_NOW("$1")
                     " ORDER BY name, acquired_at, id",
                     1, values, &res, err);
    if (rc < 0)
        return rc;
    size_t rows = (size_t)PQntuples(res);
    if (rows > 0) {
        ret_list->items = calloc(rows, sizeof(*ret_list->items));
        if (!ret_list->items)
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < rows; i++) {
        ret_list->count = i + 1;
        if (!decode_lock(res, (int)i, &ret_list->items[i]))
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory reading locks");
    }
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Forced release                                                      */
/* ------------------------------------------------------------------ */

/* lock_json_text - the deleted lock (row of release_in_tx) as compact sorted JSON. Caller frees. */
static char *lock_json_text(const PGresult *res)
{
    json_t *lock = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s?,s:s?,s:s,s:s}", "id", PQgetvalue(res, 0, 0),
                             "name", PQgetvalue(res, 0, 1), "mode", PQgetvalue(res, 0, 2), "job_id",
                             PQgetvalue(res, 0, 3), "attempt",
                             (json_int_t)pg_text_to_int64(PQgetvalue(res, 0, 4)), "node",
                             PQgetisnull(res, 0, 5) ? NULL : PQgetvalue(res, 0, 5), "worker",
                             PQgetisnull(res, 0, 6) ? NULL : PQgetvalue(res, 0, 6), "acquired_at",
                             PQgetvalue(res, 0, 7), "expires_at", PQgetvalue(res, 0, 8));
    char *text = store_json_text(lock);
    json_decref(lock);
    return text;
}

/* release_in_tx - lock_release's body inside its transaction. */
static int release_in_tx(struct pg_store *ps, const char *lock_id, const struct audit_context *actx,
                         struct iq_error *err)
{
    char now[TIME_RFC3339_LEN];
    const char *values[2] = {lock_id, pg_clock_param(ps, now)};
    PGresult *res;
    int rc = pg_exec(ps, "releasing a lock",
                     "WITH freed AS (DELETE FROM stg_import_resources WHERE id = $1::uuid"
                     " RETURNING *),"
                     " held AS (" PG_LOCK_HISTORY_INSERT(PG_NOW("$2"), "released",
                                                         "stg_import_queue") ")"
                     " SELECT id::text, name, mode, job_id::text, attempt, node, worker,"
                     " to_char(acquired_at AT TIME ZONE 'UTC', " PG_TIME_FORMAT "),"
                     " to_char(expires_at AT TIME ZONE 'UTC', " PG_TIME_FORMAT ") FROM freed",
                     2, values, &res, err);
    if (rc < 0)
        return rc;
    char *before = NULL;
    char id[UUID_STR_LEN] = "";
    if (PQntuples(res) == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "lock %s not found", lock_id);
    else if (!(before = lock_json_text(res)))
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    else
        snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0)); /* canonical form */
    PQclear(res);
    if (rc == 0)
        rc = pg_notify_work(ps, "lock_released", err);
    if (rc == 0)
        rc = pg_audit_append(ps, actx, "lock.released", "lock", id, before, NULL, err);
    free(before);
    return rc;
}

/*
 * pg_lock_release - see store_ops.lock_release. One transaction: delete
 * the lock, NOTIFY importq, audit "lock.released" with the lock as it
 * was. The job that held it is not told; it runs on without that lock
 * (the administrator's call). IQ_E_NOT_FOUND for an unknown id.
 */
int pg_lock_release(struct store *s, const char *lock_id, const struct audit_context *actx,
                    struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    if (!lock_id || !uuid_is_valid(lock_id))
        return iq_error_set(err, IQ_E_NOT_FOUND, "lock %s not found", lock_id ? lock_id : "(null)");
    int rc = pg_tx_begin(ps, err);
    if (rc == 0)
        rc = release_in_tx(ps, lock_id, actx, err);
    return pg_tx_finish(ps, rc, err);
}
