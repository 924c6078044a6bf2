/*
 * postgres/schedules.c - scheduled imports on PostgreSQL: the primitives
 * the rules of common/schedule.c drive (one statement each) and the
 * transaction a rule runs in. The rules themselves (the bound, the unique
 * name, next_run_at, the audit rows) are common/schedule.c's; firing
 * schedules is the engine's.
 *
 * Locks: a change takes PG_LOCK_SCHEDULES first (so the count for the
 * bound and the name check hold until COMMIT), then the schedule's row
 * (FOR UPDATE in read), then PG_LOCK_AUDIT with the COMMIT. A delete
 * locks the schedule's unfinished jobs and its fire rows before its row
 * (lock_dependents): its cascades change them after the row, and a
 * finishing job's trigger holds its job and fire row while it waits for
 * the schedule's row, so the other order could deadlock.
 */
#include "store/common/schedule.h"
#include "store/postgres/internal.h"

#include "core/timeutil.h"
#include "core/uuid7.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIME_COLUMN(column) "to_char(" column " AT TIME ZONE 'UTC', " PG_TIME_FORMAT ")"

/* The select list in the order of enum schedule_column. */
#define SCHEDULE_SELECT                                                                            \
    "SELECT id::text, name, cron, timezone, job_spec::text, misfire, overlap, catch_up_max,"       \
    " enabled, " TIME_COLUMN("next_run_at") ", " TIME_COLUMN(                                      \
        "last_run_at") ", last_status,"                                                            \
                       " last_job_id::text, run_count, success_count, failure_count, "             \
                       "created_by, " TIME_COLUMN("created_at") ", " TIME_COLUMN(                  \
                           "updated_at") " FROM stg_scheduled_imports"

/* Whether this connection's transaction writes (then reads lock the row). */
struct pg_schedule_tx {
    struct pg_store *ps;
    bool write;
};

static int64_t now_ms(void *backend)
{
    return pg_now_ms(((struct pg_schedule_tx *)backend)->ps);
}

static int count(void *backend, int64_t *ret_count, struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_schedule_tx *)backend)->ps;
    PGresult *res;
    *ret_count = 0;
    int rc = pg_exec(ps, "counting schedules", "SELECT count(*) FROM stg_scheduled_imports", 0,
                     NULL, &res, err);
    if (rc < 0)
        return rc;
    *ret_count = pg_text_to_int64(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* decode - row `row` of res into *ret. */
static int decode(const PGresult *res, int row, struct schedule *ret, struct iq_error *err)
{
    const char *values[SCHEDCOL_COUNT];
    for (int i = 0; i < SCHEDCOL_COUNT; i++)
        values[i] = PQgetisnull(res, row, i) ? NULL : PQgetvalue(res, row, i);
    return schedule_decode_row(values, ret, err);
}

static int read_row(void *backend, const char *id, struct schedule *ret, struct iq_error *err)
{
    struct pg_schedule_tx *tx = backend;
    memset(ret, 0, sizeof(*ret));
    const char *values[1] = {id};
    PGresult *res;
    int rc = pg_exec(tx->ps, "reading a schedule",
                     tx->write ? SCHEDULE_SELECT " WHERE id = $1::uuid FOR UPDATE"
                               : SCHEDULE_SELECT " WHERE id = $1::uuid",
                     1, values, &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "schedule %s not found", id);
    else
        rc = decode(res, 0, ret, err);
    PQclear(res);
    return rc;
}

static int name_taken(void *backend, const char *name, const char *exclude_id, bool *ret_taken,
                      struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_schedule_tx *)backend)->ps;
    const char *values[2] = {name, exclude_id};
    PGresult *res;
    *ret_taken = false;
    int rc = pg_exec(ps, "checking a schedule's name",
                     "SELECT 1 FROM stg_scheduled_imports WHERE name = $1"
                     " AND ($2::uuid IS NULL OR id <> $2::uuid)",
                     2, values, &res, err);
    if (rc < 0)
        return rc;
    *ret_taken = PQntuples(res) > 0;
    PQclear(res);
    return 0;
}

/* The texts of a row's values (times as RFC 3339, NULL for none); owned. */
struct row_texts {
    char *job;
    char catch_up[24];
    char next_run_at[TIME_RFC3339_LEN];
    char updated_at[TIME_RFC3339_LEN];
    char created_at[TIME_RFC3339_LEN];
};

static const char *time_text(int64_t ms, char buf[TIME_RFC3339_LEN])
{
    return ms ? time_format_rfc3339(ms, buf) : NULL;
}

static int row_texts_build(const struct schedule *row, struct row_texts *t, struct iq_error *err)
{
    memset(t, 0, sizeof(*t));
    t->job = store_json_text(row->job);
    if (!t->job)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    snprintf(t->catch_up, sizeof(t->catch_up), "%d", row->catch_up_max);
    return 0;
}

static int insert(void *backend, const struct schedule *row, struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_schedule_tx *)backend)->ps;
    struct row_texts t;
    int rc = row_texts_build(row, &t, err);
    if (rc < 0)
        return rc;
    const char *values[12] = {row->id,
                              row->name,
                              row->cron,
                              row->timezone,
                              t.job,
                              schedule_misfire_name(row->misfire),
                              schedule_overlap_name(row->overlap),
                              t.catch_up,
                              row->enabled ? "true" : "false",
                              time_text(row->next_run_at_ms, t.next_run_at),
                              row->created_by,
                              time_text(row->created_at_ms, t.created_at)};
    PGresult *res;
    rc = pg_exec(ps, "inserting a schedule",
                 "INSERT INTO stg_scheduled_imports (id, name, cron, timezone, job_spec, misfire,"
                 " overlap, catch_up_max, enabled, next_run_at, created_by, created_at,"
                 " updated_at) VALUES ($1::uuid, $2, $3, $4, $5::jsonb, $6, $7, $8::integer,"
                 " $9::boolean, $10::timestamptz, $11, $12::timestamptz, $12::timestamptz)"
                 " ON CONFLICT (name) DO NOTHING RETURNING 1",
                 12, values, &res, err);
    free(t.job);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 0)
        rc = iq_error_set(err, IQ_E_CONFLICT, "a schedule named \"%s\" exists already", row->name);
    PQclear(res);
    return rc;
}

static int write_row(void *backend, const struct schedule *row, struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_schedule_tx *)backend)->ps;
    struct row_texts t;
    int rc = row_texts_build(row, &t, err);
    if (rc < 0)
        return rc;
    const char *values[11] = {row->id,
                              row->name,
                              row->cron,
                              row->timezone,
                              t.job,
                              schedule_misfire_name(row->misfire),
                              schedule_overlap_name(row->overlap),
                              t.catch_up,
                              row->enabled ? "true" : "false",
                              time_text(row->next_run_at_ms, t.next_run_at),
                              time_text(row->updated_at_ms, t.updated_at)};
    rc = pg_exec(ps, "updating a schedule",
                 "UPDATE stg_scheduled_imports SET name = $2, cron = $3, timezone = $4,"
                 " job_spec = $5::jsonb, misfire = $6, overlap = $7, catch_up_max = $8::integer,"
                 " enabled = $9::boolean, next_run_at = $10::timestamptz,"
                 " updated_at = $11::timestamptz WHERE id = $1::uuid",
                 11, values, NULL, err);
    free(t.job);
    return rc;
}

/* lock_dependents - see struct schedule_primitives; a malformed id locks nothing (read refuses it). */
static int lock_dependents(void *backend, const char *id, struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_schedule_tx *)backend)->ps;
    if (!uuid_is_valid(id))
        return 0;
    const char *values[1] = {id};
    int rc = pg_exec(ps, "deleting a schedule",
                     "SELECT 1 FROM stg_import_queue WHERE schedule_id = $1::uuid"
                     " AND status IN ('HELD', 'QUEUED', 'RUNNING') ORDER BY id FOR UPDATE",
                     1, values, NULL, err);
    if (rc == 0)
        rc = pg_exec(ps, "deleting a schedule",
                     "SELECT 1 FROM importq_schedule_fires WHERE schedule_id = $1::uuid"
                     " ORDER BY id FOR UPDATE",
                     1, values, NULL, err);
    return rc;
}

static int remove_row(void *backend, const char *id, struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_schedule_tx *)backend)->ps;
    const char *values[1] = {id};
    return pg_exec(ps, "deleting a schedule",
                   "DELETE FROM stg_scheduled_imports WHERE id = $1::uuid", 1, values, NULL, err);
}

static int list(void *backend, const struct schedule_filter *filter, int limit,
                struct schedule_page *ret_page, struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_schedule_tx *)backend)->ps;
    ret_page->items = calloc((size_t)limit, sizeof(*ret_page->items));
    char *pattern = filter->q && filter->q[0] ? store_like_pattern(filter->q) : NULL;
    if (!ret_page->items || (filter->q && filter->q[0] && !pattern)) {
        free(pattern);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    char limit_text[16];
    snprintf(limit_text, sizeof(limit_text), "%d", limit);
    const char *values[4] = {
        filter->enabled_set ? (filter->enabled ? "true" : "false") : NULL, pattern,
        filter->after_id && filter->after_id[0] ? filter->after_id : NULL, limit_text};
    PGresult *res;
    int rc = pg_exec(ps, "listing schedules",
                     SCHEDULE_SELECT " WHERE ($1::boolean IS NULL OR enabled = $1::boolean)"
                                     " AND ($2::text IS NULL OR name ILIKE $2 ESCAPE E'\\\\')"
                                     " AND ($3::uuid IS NULL OR id < $3::uuid)"
                                     " ORDER BY id DESC LIMIT $4::integer",
                     4, values, &res, err);
    free(pattern);
    if (rc < 0)
        return rc;
    int rows = PQntuples(res);
    for (int i = 0; rc == 0 && i < rows && i < limit; i++) {
        rc = decode(res, i, &ret_page->items[ret_page->count], err);
        if (rc == 0)
            ret_page->count++;
    }
    PQclear(res);
    return rc;
}

static int durations(void *backend, const char *table, size_t max, int64_t *ret_ms,
                     size_t *ret_count, struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_schedule_tx *)backend)->ps;
    *ret_count = 0;
    char max_text[24];
    snprintf(max_text, sizeof(max_text), "%zu", max);
    const char *values[2] = {table, max_text};
    PGresult *res;
    int rc = pg_exec(ps, "reading a table's durations",
                     "SELECT sum(duration_ms) FROM stg_import_performance WHERE target_table = $1"
                     " AND phase NOT IN ('queued', 'lock_wait', 'dependency_wait') GROUP BY job_id, attempt ORDER BY max(started_at) DESC LIMIT $2::integer",
                     2, values, &res, err);
    if (rc < 0)
        return rc;
    for (int i = 0; i < PQntuples(res) && *ret_count < max; i++)
        ret_ms[(*ret_count)++] = pg_text_to_int64(PQgetvalue(res, i, 0));
    PQclear(res);
    return 0;
}

static int audit(void *backend, const struct audit_context *actx, const char *action,
                 const char *id, const char *before_json, const char *after_json,
                 struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_schedule_tx *)backend)->ps;
    return pg_audit_append(ps, actx, action, "schedule", id, before_json, after_json, err);
}

const struct schedule_primitives pg_schedule_primitives = {
    .now_ms = now_ms,
    .count = count,
    .read = read_row,
    .name_taken = name_taken,
    .insert = insert,
    .write = write_row,
    .lock_dependents = lock_dependents,
    .remove = remove_row,
    .list = list,
    .durations = durations,
    .audit = audit,
};

/*
 * pg_schedule_tx - see store_ops.schedule_tx: a write runs under
 * PG_LOCK_SCHEDULES (its reads lock the schedule's row), a read in a
 * plain transaction (one snapshot for its statements: REPEATABLE READ).
 */
int pg_schedule_tx(struct store *s, enum schedule_tx_kind kind, schedule_tx_body body, void *ctx,
                   struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    struct pg_schedule_tx tx = {.ps = ps, .write = kind == SCHEDULE_TX_WRITE};
    int rc = tx.write ? pg_tx_begin_locked(ps, PG_LOCK_SCHEDULES, err)
                      : pg_tx_begin_with(ps, "starting a read",
                                         "SET TRANSACTION ISOLATION "
                                         "LEVEL REPEATABLE READ",
                                         err);
    if (rc < 0)
        return rc;
    return pg_tx_finish(ps, body(&pg_schedule_primitives, &tx, ctx, err), err);
}
