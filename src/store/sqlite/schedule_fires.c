/*
 * sqlite/schedule_fires.c - firing scheduled imports on SQLite: the
 * transaction of a fire (BEGIN IMMEDIATE: the write lock serialises every
 * fire and every job creation, also across processes sharing the file)
 * around schedule_rule_fire (common/schedule_rules.c) and the primitives
 * it drives; the due schedules; the fire history; the scheduler's lead
 * (always this connection's: one process serves a file, and the fire
 * rows' UNIQUE (schedule_id, fire_at) keeps a second one from firing a
 * time twice). Schedules themselves are created and changed elsewhere.
 *
 * These statements run at most a few times a second, so each is prepared
 * per call rather than kept in the connection's cache.
 */
#include "store/sqlite/internal.h"

#include "store/common/schedule_rules.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* prepare - a statement of this file (sqlite3_finalize it). NULL with err set. */
static sqlite3_stmt *prepare(struct sqlite_store *s, const char *sql, struct iq_error *err)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        sqlite_db_error(s, "preparing a schedule statement", err);
        sqlite3_finalize(stmt);
        return NULL;
    }
    return stmt;
}

/* step - one step: 1 a row, 0 done, IQ_E_DB. */
static int step(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what, struct iq_error *err)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : sqlite_db_error(s, what, err);
}

/* column_time - an RFC 3339 text column as ms; 0 for NULL. */
static int64_t column_time(sqlite3_stmt *stmt, int column)
{
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    int64_t ms = 0;
    if (text && time_parse_rfc3339(text, &ms) < 0)
        ms = 0;
    return ms;
}

/* column_dup - a text column, copied (NULL for SQL NULL). *ret_ok false on OOM. */
static char *column_dup(sqlite3_stmt *stmt, int column, bool *ret_ok)
{
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    char *copy = text ? strdup(text) : NULL;
    if (text && !copy)
        *ret_ok = false;
    return copy;
}

/* ------------------------------------------------------------------------
 * The primitives of the fire rule; backend is the struct sqlite_store,
 * inside BEGIN IMMEDIATE.
 * ------------------------------------------------------------------------ */

static int primitive_read_schedule(void *backend, const char *id, struct schedule_row *ret,
                                   struct iq_error *err)
{
    struct sqlite_store *s = backend;
    memset(ret, 0, sizeof(*ret));
    sqlite3_stmt *stmt = prepare(s,
                                 "SELECT id, cron, timezone, job_spec, overlap, enabled,"
                                 " next_run_at, last_job_id FROM stg_scheduled_imports"
                                 " WHERE id = ?1",
                                 err);
    if (!stmt)
        return IQ_E_DB;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
    int rc = step(s, stmt, "reading a schedule", err);
    if (rc == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "schedule %s not found", id);
    if (rc == 1) {
        bool ok = true;
        snprintf(ret->id, sizeof(ret->id), "%s", (const char *)sqlite3_column_text(stmt, 0));
        ret->cron = column_dup(stmt, 1, &ok);
        ret->timezone = column_dup(stmt, 2, &ok);
        ret->job_spec = column_dup(stmt, 3, &ok);
        ret->overlap = column_dup(stmt, 4, &ok);
        ret->enabled = sqlite3_column_int(stmt, 5) != 0;
        ret->next_run_at_ms = column_time(stmt, 6);
        const char *last = (const char *)sqlite3_column_text(stmt, 7);
        snprintf(ret->last_job_id, sizeof(ret->last_job_id), "%s", last ? last : "");
        rc = ok && ret->cron && ret->overlap ? 0 : nomem(err);
    }
    sqlite3_finalize(stmt);
    if (rc < 0)
        schedule_row_clear(ret);
    return rc;
}

static int primitive_fire_recorded(void *backend, const char *schedule_id, int64_t fire_at_ms,
                                   bool *ret_recorded, struct iq_error *err)
{
    struct sqlite_store *s = backend;
    sqlite3_stmt *stmt = prepare(s,
                                 "SELECT 1 FROM importq_schedule_fires"
                                 " WHERE schedule_id = ?1 AND fire_at = ?2",
                                 err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, schedule_id);
    bind_time(&b, fire_at_ms);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = step(s, stmt, "looking up a fire", err);
    sqlite3_finalize(stmt);
    *ret_recorded = rc == 1;
    return rc < 0 ? rc : 0;
}

static int primitive_record_fire(void *backend, const char *schedule_id, int64_t fire_at_ms,
                                 const char *job_id, enum schedule_fire_outcome outcome,
                                 const char *detail, int64_t now_ms, bool *ret_inserted,
                                 struct iq_error *err)
{
    struct sqlite_store *s = backend;
    *ret_inserted = false;
    sqlite3_stmt *stmt =
        prepare(s,
                "INSERT INTO importq_schedule_fires (schedule_id, fire_at, job_id, outcome,"
                " detail, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                " ON CONFLICT (schedule_id, fire_at) DO NOTHING",
                err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, schedule_id);
    bind_time(&b, fire_at_ms);
    bind_text(&b, job_id);
    bind_text(&b, schedule_fire_outcome_name(outcome));
    bind_text(&b, detail);
    bind_time(&b, now_ms);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = step(s, stmt, "recording a fire", err);
    sqlite3_finalize(stmt);
    if (rc == 0)
        *ret_inserted = sqlite3_changes(s->db) == 1;
    return rc;
}

static int primitive_advance(void *backend, const struct schedule_advance *adv, bool *ret_updated,
                             struct iq_error *err)
{
    struct sqlite_store *s = backend;
    *ret_updated = false;
    sqlite3_stmt *stmt = prepare(
        s,
        "UPDATE stg_scheduled_imports SET"
        " next_run_at = CASE WHEN ?3 THEN ?4 ELSE next_run_at END,"
        " last_run_at = coalesce(?6, last_run_at), last_job_id = coalesce(?5, last_job_id),"
        " last_status = coalesce(?7, last_status), run_count = run_count + (?5 IS NOT NULL),"
        " updated_at = " NEXT_UPDATED_AT(
            "?8") " WHERE id = ?1 AND (NOT ?9 OR (enabled = 1 AND next_run_at = ?2))",
        err);
    if (!stmt)
        return IQ_E_DB;
    char status[16] = "";
    if (adv->job) {
        snprintf(status, sizeof(status), "%s", job_status_name(adv->job->status));
        for (char *c = status; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    }
    struct binder b = binder_start(stmt);
    bind_text(&b, adv->id);
    bind_time(&b, adv->expected_next_ms);
    bind_int64(&b, adv->set_next);
    bind_time(&b, adv->next_ms);
    bind_text(&b, adv->job ? adv->job->id : NULL);
    bind_time(&b, adv->job ? adv->run_at_ms : 0);
    bind_text(&b, adv->job ? status : NULL);
    bind_time(&b, adv->now_ms);
    bind_int64(&b, adv->fenced);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = step(s, stmt, "advancing a schedule", err);
    sqlite3_finalize(stmt);
    if (rc == 0)
        *ret_updated = sqlite3_changes(s->db) == 1;
    return rc;
}

static int primitive_prune_fires(void *backend, const char *schedule_id, int keep,
                                 struct iq_error *err)
{
    struct sqlite_store *s = backend;
    sqlite3_stmt *stmt = prepare(s,
                                 "DELETE FROM importq_schedule_fires WHERE schedule_id = ?1"
                                 " AND fire_at < (SELECT fire_at FROM importq_schedule_fires"
                                 " WHERE schedule_id = ?1 ORDER BY fire_at DESC"
                                 " LIMIT 1 OFFSET ?2 - 1)",
                                 err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, schedule_id);
    bind_int64(&b, keep);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = step(s, stmt, "pruning the fire history", err);
    sqlite3_finalize(stmt);
    return rc;
}

static const struct schedule_fire_primitives sqlite_schedule_fire_primitives = {
    .read_schedule = primitive_read_schedule,
    .fire_recorded = primitive_fire_recorded,
    .record_fire = primitive_record_fire,
    .advance = primitive_advance,
    .prune_fires = primitive_prune_fires,
};

/* ------------------------------------------------------------------------
 * The slots
 * ------------------------------------------------------------------------ */

/* sqlite_schedule_fire - see store_ops.schedule_fire: one write transaction. */
int sqlite_schedule_fire(struct store *base, const struct schedule_fire_request *req,
                         const struct audit_context *actx, struct schedule_fire_result *ret,
                         struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    memset(ret, 0, sizeof(*ret));
    int rc = sqlite_check_actor(actx, err);
    if (rc == 0)
        rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    rc = schedule_rule_fire(&sqlite_schedule_fire_primitives, &sqlite_job_primitives, s, req, actx,
                            sqlite_now_ms(s), ret, err);
    rc = sqlite_tx_finish(s, rc, err);
    if (rc < 0)
        schedule_fire_result_clear(ret);
    return rc;
}

/* read_due - the due rows of stmt into ret. */
static int read_due(struct sqlite_store *s, sqlite3_stmt *stmt, struct schedule_due_list *ret,
                    struct iq_error *err)
{
    size_t capacity = 0;
    int rc;
    while ((rc = step(s, stmt, "listing due schedules", err)) == 1) {
        struct schedule_due *items =
            store_grow(ret->items, &capacity, ret->count, sizeof(*items), 8);
        if (!items)
            return nomem(err);
        ret->items = items;
        struct schedule_due *due = &items[ret->count++];
        memset(due, 0, sizeof(*due));
        bool ok = true;
        snprintf(due->id, sizeof(due->id), "%s", (const char *)sqlite3_column_text(stmt, 0));
        due->cron = column_dup(stmt, 1, &ok);
        due->timezone = column_dup(stmt, 2, &ok);
        due->misfire = column_dup(stmt, 3, &ok);
        due->next_run_at_ms = column_time(stmt, 4);
        due->catch_up_max = sqlite3_column_type(stmt, 5) == SQLITE_NULL
                                ? SCHEDULE_CATCH_UP_MAX_DEFAULT
                                : sqlite3_column_int(stmt, 5);
        if (!ok || !due->cron || !due->misfire)
            return nomem(err);
    }
    return rc;
}

/* sqlite_schedules_due - see store_ops.schedules_due. */
int sqlite_schedules_due(struct store *base, int64_t now_ms, int limit,
                         struct schedule_due_list *ret, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    sqlite3_stmt *stmt = prepare(s,
                                 "SELECT id, cron, timezone, misfire, next_run_at, catch_up_max"
                                 " FROM stg_scheduled_imports WHERE enabled = 1"
                                 " AND next_run_at <= ?1 ORDER BY next_run_at, id LIMIT ?2",
                                 err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_time(&b, now_ms);
    bind_int64(&b, limit);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = read_due(s, stmt, ret, err);
    sqlite3_finalize(stmt);
    stmt = rc == 0 ? prepare(s,
                             "SELECT min(next_run_at) FROM stg_scheduled_imports"
                             " WHERE enabled = 1 AND next_run_at > ?1",
                             err)
                   : NULL;
    if (rc == 0 && !stmt)
        rc = IQ_E_DB;
    if (rc == 0) {
        b = binder_start(stmt);
        bind_time(&b, now_ms);
        rc = sqlite_binder_check(s, &b, err);
        if (rc == 0)
            rc = step(s, stmt, "finding the next fire", err);
        if (rc == 1)
            ret->next_ms = column_time(stmt, 0);
        rc = rc < 0 ? rc : 0;
    }
    sqlite3_finalize(stmt);
    if (rc < 0)
        schedule_due_list_clear(ret);
    return rc;
}

/* schedule_exists - IQ_E_NOT_FOUND unless the schedule is there. */
static int schedule_exists(struct sqlite_store *s, const char *id, struct iq_error *err)
{
    sqlite3_stmt *stmt = prepare(s, "SELECT 1 FROM stg_scheduled_imports WHERE id = ?1", err);
    if (!stmt)
        return IQ_E_DB;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
    int rc = step(s, stmt, "reading a schedule", err);
    sqlite3_finalize(stmt);
    if (rc == 0)
        return iq_error_set(err, IQ_E_NOT_FOUND, "schedule %s not found", id);
    return rc < 0 ? rc : 0;
}

/* read_fire_rows - the history rows of stmt into ret (one more than
 * limit tells there is a next page). */
static int read_fire_rows(struct sqlite_store *s, sqlite3_stmt *stmt, int limit,
                          struct schedule_fire_page *ret, struct iq_error *err)
{
    size_t capacity = 0;
    int rc;
    while ((rc = step(s, stmt, "reading the fire history", err)) == 1) {
        if (ret->count == (size_t)limit) {
            ret->more = true;
            return 0;
        }
        struct schedule_fire_row *items =
            store_grow(ret->items, &capacity, ret->count, sizeof(*items), 16);
        if (!items)
            return nomem(err);
        ret->items = items;
        struct schedule_fire_row *row = &items[ret->count++];
        memset(row, 0, sizeof(*row));
        bool ok = true;
        row->id = sqlite3_column_int64(stmt, 0);
        row->fire_at_ms = column_time(stmt, 1);
        const char *job = (const char *)sqlite3_column_text(stmt, 2);
        snprintf(row->job_id, sizeof(row->job_id), "%s", job ? job : "");
        int outcome = schedule_fire_outcome_parse((const char *)sqlite3_column_text(stmt, 3));
        row->outcome = outcome < 0 ? SCHEDULE_FIRE_CREATED : (enum schedule_fire_outcome)outcome;
        row->detail = column_dup(stmt, 4, &ok);
        if (!ok)
            return nomem(err);
    }
    return rc;
}

/* sqlite_schedule_fires_list - see store_ops.schedule_fires_list; one read transaction. */
int sqlite_schedule_fires_list(struct store *base, const char *schedule_id, int limit,
                               const struct schedule_fire_cursor *after,
                               struct schedule_fire_page *ret, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    int rc = sqlite_run_cached(s, STMT_BEGIN_READ, "beginning a read", err);
    if (rc == 0)
        rc = schedule_exists(s, schedule_id, err);
    sqlite3_stmt *stmt =
        rc == 0 ? prepare(s,
                          "SELECT id, fire_at, job_id, outcome, detail FROM importq_schedule_fires"
                          " WHERE schedule_id = ?1 AND (?2 IS NULL OR (fire_at, id) < (?2, ?3))"
                          " ORDER BY fire_at DESC, id DESC LIMIT ?4",
                          err)
                : NULL;
    if (rc == 0 && !stmt)
        rc = IQ_E_DB;
    if (rc == 0) {
        struct binder b = binder_start(stmt);
        bind_text(&b, schedule_id);
        bind_time(&b, after ? after->fire_at_ms : 0);
        bind_int64(&b, after ? after->id : 0);
        bind_int64(&b, limit + 1);
        rc = sqlite_binder_check(s, &b, err);
        if (rc == 0)
            rc = read_fire_rows(s, stmt, limit, ret, err);
    }
    sqlite3_finalize(stmt);
    sqlite_tx_rollback(s);
    if (rc < 0)
        schedule_fire_page_clear(ret);
    return rc;
}

/* sqlite_scheduler_lead - see store_ops.scheduler_lead: always this connection's. */
int sqlite_scheduler_lead(struct store *base, bool *ret_leader, struct iq_error *err)
{
    (void)base;
    (void)err;
    *ret_leader = true;
    return 0;
}
