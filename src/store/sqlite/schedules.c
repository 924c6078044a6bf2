/*
 * sqlite/schedules.c - scheduled imports on SQLite: the primitives the
 * rules of common/schedule.c drive (one cached statement each) and the
 * transaction a rule runs in. The rules themselves (the bound, the unique
 * name, next_run_at, the audit rows) are common/schedule.c's; firing
 * schedules is the engine's.
 */
#include "store/common/schedule.h"
#include "store/sqlite/internal.h"

#include <stdlib.h>
#include <string.h>

static int64_t now_ms(void *backend)
{
    return sqlite_now_ms(backend);
}

static int count(void *backend, int64_t *ret_count, struct iq_error *err)
{
    return sqlite_read_cached_int64(backend, STMT_SCHEDULE_COUNT, "count schedules", ret_count,
                                    err);
}

/* row_to_schedule - decode the current row of a SCHEDULE_COLUMNS select. */
static int row_to_schedule(sqlite3_stmt *stmt, struct schedule *ret, struct iq_error *err)
{
    const char *values[SCHEDCOL_COUNT];
    for (int i = 0; i < SCHEDCOL_COUNT; i++) {
        bool ok;
        values[i] = sqlite_column_text_or_error(stmt, i, &ok);
        if (!ok)
            return nomem(err);
    }
    return schedule_decode_row(values, ret, err);
}

static int read_row(void *backend, const char *id, struct schedule *ret, struct iq_error *err)
{
    struct sqlite_store *s = backend;
    memset(ret, 0, sizeof(*ret));
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_SCHEDULE_BY_ID, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, id);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_next(s, stmt, "read schedule", err);
    if (rc == 0)
        return iq_error_set(err, IQ_E_NOT_FOUND, "schedule %s not found", id);
    if (rc < 0)
        return rc;
    rc = row_to_schedule(stmt, ret, err);
    stmt_release(stmt);
    return rc;
}

static int name_taken(void *backend, const char *name, const char *exclude_id, bool *ret_taken,
                      struct iq_error *err)
{
    struct sqlite_store *s = backend;
    *ret_taken = false;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_SCHEDULE_NAME_TAKEN, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, name);
    bind_text(&b, exclude_id);
    int64_t found = 0;
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_read_int64(s, stmt, "check schedule name", &found, err);
    *ret_taken = found > 0;
    return rc;
}

/* bind_editable - name, cron, timezone, job_spec, misfire, overlap, catch_up_max, enabled,
 * next_run_at. */
static int bind_editable(struct binder *b, const struct schedule *row, struct iq_error *err)
{
    char *job = store_json_text(row->job);
    if (!job)
        return nomem(err);
    bind_text(b, row->name);
    bind_text(b, row->cron);
    bind_text(b, row->timezone);
    bind_text(b, job);
    bind_text(b, schedule_misfire_name(row->misfire));
    bind_text(b, schedule_overlap_name(row->overlap));
    bind_int64(b, row->catch_up_max);
    bind_int64(b, row->enabled ? 1 : 0);
    bind_time(b, row->next_run_at_ms);
    free(job);
    return 0;
}

static int insert(void *backend, const struct schedule *row, struct iq_error *err)
{
    struct sqlite_store *s = backend;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_SCHEDULE_INSERT, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, row->id);
    int rc = bind_editable(&b, row, err);
    if (rc < 0) {
        stmt_release(stmt);
        return rc;
    }
    bind_time(&b, row->last_run_at_ms);
    bind_text(&b, row->last_status);
    bind_text(&b, row->last_job_id);
    bind_int64(&b, row->run_count);
    bind_int64(&b, row->success_count);
    bind_int64(&b, row->failure_count);
    bind_text(&b, row->created_by);
    bind_time(&b, row->created_at_ms);
    bind_time(&b, row->updated_at_ms);
    rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, "insert schedule", err);
    if (rc == 0 && sqlite3_changes(s->db) == 0)
        rc = iq_error_set(err, IQ_E_CONFLICT, "a schedule named \"%s\" exists already", row->name);
    return rc;
}

static int write_row(void *backend, const struct schedule *row, struct iq_error *err)
{
    struct sqlite_store *s = backend;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_SCHEDULE_WRITE, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, row->id);
    int rc = bind_editable(&b, row, err);
    if (rc < 0) {
        stmt_release(stmt);
        return rc;
    }
    bind_time(&b, row->updated_at_ms);
    rc = sqlite_binder_check(s, &b, err);
    return rc < 0 ? rc : sqlite_stmt_run(s, stmt, "update schedule", err);
}

static int remove_row(void *backend, const char *id, struct iq_error *err)
{
    return sqlite_run_id_statement(backend, STMT_SCHEDULE_DELETE, id, 0, "delete schedule", NULL,
                                   err);
}

static int list(void *backend, const struct schedule_filter *filter, int limit,
                struct schedule_page *ret_page, struct iq_error *err)
{
    struct sqlite_store *s = backend;
    ret_page->items = calloc((size_t)limit, sizeof(*ret_page->items));
    char *pattern = filter->q && filter->q[0] ? store_like_pattern(filter->q) : NULL;
    if (!ret_page->items || (filter->q && filter->q[0] && !pattern)) {
        free(pattern);
        return nomem(err);
    }
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_SCHEDULES_PAGE, err);
    int rc = stmt ? 0 : IQ_E_DB;
    if (rc == 0) {
        struct binder b = binder_start(stmt);
        if (filter->enabled_set)
            bind_int64(&b, filter->enabled ? 1 : 0);
        else
            bind_text(&b, NULL);
        bind_text(&b, pattern);
        bind_text(&b, filter->after_id && filter->after_id[0] ? filter->after_id : NULL);
        bind_int64(&b, limit);
        rc = sqlite_binder_check(s, &b, err);
    }
    free(pattern);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "list schedules", err)) == 1) {
        rc = row_to_schedule(stmt, &ret_page->items[ret_page->count], err);
        if (rc == 0)
            ret_page->count++;
        else
            stmt_release(stmt);
    }
    return rc;
}

static int durations(void *backend, const char *table, size_t max, int64_t *ret_ms,
                     size_t *ret_count, struct iq_error *err)
{
    struct sqlite_store *s = backend;
    *ret_count = 0;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_TABLE_DURATIONS, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, table);
    bind_int64(&b, (int64_t)max);
    int rc = sqlite_binder_check(s, &b, err);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "read table durations", err)) == 1) {
        rc = 0;
        if (*ret_count < max)
            ret_ms[(*ret_count)++] = sqlite3_column_int64(stmt, 0);
    }
    return rc;
}

static int audit(void *backend, const struct audit_context *actx, const char *action,
                 const char *id, const char *before_json, const char *after_json,
                 struct iq_error *err)
{
    struct sqlite_store *s = backend;
    return sqlite_audit_append(s, actx, action, "schedule", id, before_json, after_json,
                               sqlite_now_ms(s), err);
}

const struct schedule_primitives sqlite_schedule_primitives = {
    .now_ms = now_ms,
    .count = count,
    .read = read_row,
    .name_taken = name_taken,
    .insert = insert,
    .write = write_row,
    .remove = remove_row,
    .list = list,
    .durations = durations,
    .audit = audit,
};

/*
 * sqlite_schedule_tx - see store_ops.schedule_tx: body inside BEGIN
 * IMMEDIATE (a write: the write lock serialises the count, the name check
 * and the audit chain) or BEGIN DEFERRED (a read: one snapshot).
 */
int sqlite_schedule_tx(struct store *base, enum schedule_tx_kind kind, schedule_tx_body body,
                       void *ctx, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    int rc = kind == SCHEDULE_TX_WRITE
                 ? sqlite_tx_begin(s, err)
                 : sqlite_run_cached(s, STMT_BEGIN_READ, "begin read transaction", err);
    if (rc < 0)
        return rc;
    return sqlite_tx_finish(s, body(&sqlite_schedule_primitives, s, ctx, err), err);
}
