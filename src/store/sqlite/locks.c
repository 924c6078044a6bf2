/*
 * sqlite/locks.c - the resource locks of running jobs on SQLite
 * (stg_import_resources) outside the claim: deleting expired and finished
 * jobs' locks (each copied to importq_lock_history first), listing the live ones, and an admin's force-release with
 * its "lock.released" audit row. Locks are taken only by the claim
 * (sqlite/claim.c, where the all-or-nothing rule is explained) and
 * renewed only by heartbeats.
 */
#include "store/sqlite/internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* sqlite_delete_expired_locks - see sqlite/internal.h. */
int sqlite_delete_expired_locks(struct sqlite_store *s, int64_t now_ms, struct iq_error *err)
{
    int rc = sqlite_run_id_statement(s, STMT_LOCKS_HISTORY_EXPIRED, NULL, now_ms,
                                     "record expired locks", NULL, err);
    if (rc == 0)
        rc = sqlite_run_id_statement(s, STMT_LOCKS_DELETE_EXPIRED, NULL, now_ms,
                                     "delete expired locks", NULL, err);
    return rc;
}

/* sqlite_delete_job_locks - see sqlite/internal.h. */
int sqlite_delete_job_locks(struct sqlite_store *s, const char *job_id, int64_t now_ms,
                            int64_t *ret_waited_ms, struct iq_error *err)
{
    *ret_waited_ms = 0;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_LOCKS_HISTORY_JOB, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, job_id);
    bind_time(&b, now_ms);
    int rc = sqlite_binder_check(s, &b, err);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "record job locks", err)) == 1) {
        int64_t waited_ms = sqlite3_column_int64(stmt, 0);
        if (waited_ms > *ret_waited_ms)
            *ret_waited_ms = waited_ms;
        rc = 0;
    }
    if (rc == 0)
        rc = sqlite_run_id_statement(s, STMT_LOCKS_DELETE_JOB, job_id, 0, "delete job locks",
                                     NULL, err);
    return rc;
}

/* ------------------------------------------------------------------------
 * Reading locks
 * ------------------------------------------------------------------------ */

/* copy_text - strdup of column, NULL for SQL NULL; IQ_E_NOMEM when the copy fails. */
static int copy_text(sqlite3_stmt *stmt, int column, char **ret, struct iq_error *err)
{
    bool ok;
    const char *text = sqlite_column_text_or_error(stmt, column, &ok);
    *ret = text ? strdup(text) : NULL;
    return ok && (!text || *ret) ? 0 : nomem(err);
}

/* copy_id - a uuid column into id; IQ_E_DB when it is not one. */
static int copy_id(sqlite3_stmt *stmt, int column, char id[UUID_STR_LEN], struct iq_error *err)
{
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    if (!text || strlen(text) != UUID_STR_LEN - 1)
        return iq_error_set(err, IQ_E_DB, "stored id \"%s\" is malformed", text ? text : "");
    memcpy(id, text, UUID_STR_LEN);
    return 0;
}

/* parse_time_column - an RFC 3339 column into ms; IQ_E_DB when unreadable. */
static int parse_time_column(sqlite3_stmt *stmt, int column, int64_t *ret_ms, struct iq_error *err)
{
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    if (text && time_parse_rfc3339(text, ret_ms) == 0)
        return 0;
    return iq_error_set(err, IQ_E_DB, "stored lock time \"%s\" is unreadable", text ? text : "");
}

/*
 * lock_from_row - decode the current row (id, name, mode, job_id, attempt,
 * node, worker, acquired_at, expires_at) into *lock, whose strings the
 * caller frees (lock_list_clear) even after a failure.
 */
static int lock_from_row(sqlite3_stmt *stmt, struct lock_info *lock, struct iq_error *err)
{
    memset(lock, 0, sizeof(*lock));
    int rc = copy_id(stmt, 0, lock->id, err);
    if (rc == 0)
        rc = copy_text(stmt, 1, &lock->name, err);
    if (rc == 0 && (!lock->name ||
                    lock_mode_parse((const char *)sqlite3_column_text(stmt, 2), &lock->mode) < 0))
        rc = iq_error_set(err, IQ_E_DB, "lock %s has no name or an unknown mode", lock->id);
    if (rc == 0)
        rc = copy_id(stmt, 3, lock->job_id, err);
    lock->attempt = sqlite3_column_int(stmt, 4);
    if (rc == 0)
        rc = copy_text(stmt, 5, &lock->node, err);
    if (rc == 0)
        rc = copy_text(stmt, 6, &lock->worker, err);
    if (rc == 0)
        rc = parse_time_column(stmt, 7, &lock->acquired_at_ms, err);
    if (rc == 0)
        rc = parse_time_column(stmt, 8, &lock->expires_at_ms, err);
    return rc;
}

/* lock_list_add - decode the current row onto the end of list. */
static int lock_list_add(struct lock_list *list, size_t *capacity, sqlite3_stmt *stmt,
                         struct iq_error *err)
{
    void *grown = store_grow(list->items, capacity, list->count, sizeof(*list->items), 8);
    if (!grown)
        return nomem(err);
    list->items = grown;
    /* Counted first: lock_list_clear frees what a failed decode got to. */
    return lock_from_row(stmt, &list->items[list->count++], err);
}

/*
 * sqlite_locks_list - see store_ops.locks_list: live locks (lease not
 * over), by name. A single statement, no transaction. *ret_list:
 * lock_list_clear, also after a failure.
 */
int sqlite_locks_list(struct store *base, struct lock_list *ret_list, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    memset(ret_list, 0, sizeof(*ret_list));
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_LOCKS_LIVE, err);
    if (!stmt)
        return IQ_E_DB;
    size_t capacity = 0;
    struct binder b = binder_start(stmt);
    bind_time(&b, sqlite_now_ms(s));
    int rc = sqlite_binder_check(s, &b, err);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "list locks", err)) == 1)
        rc = lock_list_add(ret_list, &capacity, stmt, err);
    if (rc < 0) {
        stmt_release(stmt);
        lock_list_clear(ret_list);
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Admin release
 * ------------------------------------------------------------------------ */

/* lock_json_text - the lock as compact JSON (the audit row's "before"). Caller frees. */
static char *lock_json_text(const struct lock_info *lock)
{
    char acquired[TIME_RFC3339_LEN], expires[TIME_RFC3339_LEN];
    json_t *json = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s?,s:s?,s:s,s:s}", "id", lock->id, "name",
                             lock->name, "mode", lock_mode_name(lock->mode), "job_id", lock->job_id,
                             "attempt", lock->attempt, "node", lock->node, "worker", lock->worker,
                             "acquired_at", time_format_rfc3339(lock->acquired_at_ms, acquired),
                             "expires_at", time_format_rfc3339(lock->expires_at_ms, expires));
    char *text = json ? store_json_text(json) : NULL;
    json_decref(json);
    return text;
}

/* lock_info_clear - free the strings of one lock_info (lock_list_clear frees whole lists). */
static void lock_info_clear(struct lock_info *lock)
{
    free(lock->name);
    free(lock->node);
    free(lock->worker);
    memset(lock, 0, sizeof(*lock));
}

/*
 * read_lock - the lock with this id: 0 (clear *ret_lock with
 * lock_info_clear, also after a failure), 1 when there is none, or an error.
 */
static int read_lock(struct sqlite_store *s, const char *lock_id, struct lock_info *ret_lock,
                     struct iq_error *err)
{
    memset(ret_lock, 0, sizeof(*ret_lock));
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_LOCK_BY_ID, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, lock_id);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_next(s, stmt, "read lock", err);
    if (rc <= 0)
        return rc < 0 ? rc : 1;
    rc = lock_from_row(stmt, ret_lock, err);
    stmt_release(stmt);
    return rc;
}

/* release_locked - the body of lock_release, inside BEGIN IMMEDIATE. */
static int release_locked(struct sqlite_store *s, const char *lock_id,
                          const struct audit_context *actx, struct iq_error *err)
{
    struct lock_info lock;
    int rc = read_lock(s, lock_id, &lock, err);
    if (rc == 1)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "lock %s not found", lock_id);
    char *before = rc == 0 ? lock_json_text(&lock) : NULL;
    if (rc == 0 && !before)
        rc = nomem(err);
    int64_t now_ms = sqlite_now_ms(s);
    if (rc == 0)
        rc = sqlite_run_id_statement(s, STMT_LOCK_HISTORY_ONE, lock_id, now_ms, "record lock",
                                     NULL, err);
    if (rc == 0)
        rc = sqlite_run_id_statement(s, STMT_LOCK_DELETE, lock_id, 0, "release lock", NULL, err);
    if (rc == 0)
        rc = sqlite_audit_append(s, actx, "lock.released", "lock", lock_id, before, NULL, now_ms,
                                 err);
    free(before);
    lock_info_clear(&lock);
    return rc;
}

/*
 * sqlite_lock_release - see store_ops.lock_release: delete the lock
 * (expired or not) with its audit row in one BEGIN IMMEDIATE transaction.
 * The job that held it learns at its next heartbeat (IQ_E_STALE).
 */
int sqlite_lock_release(struct store *base, const char *lock_id, const struct audit_context *actx,
                        struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    int rc = sqlite_check_actor(actx, err);
    if (rc == 0 && !lock_id)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "lock (null) not found");
    if (rc == 0)
        rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    return sqlite_tx_finish(s, release_locked(s, lock_id, actx, err), err);
}
