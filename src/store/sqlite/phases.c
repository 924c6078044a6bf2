/*
 * sqlite/phases.c - a job's phase timings on SQLite (job_phases):
 * the stg_import_performance rows its attempts left, in time order. Not
 * here: writing them (sqlite/finish.c, at the end of an attempt) or
 * aggregating them per table (performance reports).
 */
#include "store/sqlite/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* phase_read - the current row (attempt, phase, started_at, duration, rows, bytes). */
static int phase_read(sqlite3_stmt *stmt, struct job_phase *ret_phase, struct iq_error *err)
{
    memset(ret_phase, 0, sizeof(*ret_phase));
    const char *phase = (const char *)sqlite3_column_text(stmt, 1);
    const char *started = (const char *)sqlite3_column_text(stmt, 2);
    if (!phase || !started || time_parse_rfc3339(started, &ret_phase->started_at_ms) < 0)
        return iq_error_set(err, IQ_E_DB, "a phase timing row is malformed");
    ret_phase->attempt = sqlite3_column_int(stmt, 0);
    snprintf(ret_phase->phase, sizeof(ret_phase->phase), "%s", phase);
    ret_phase->duration_ms = sqlite3_column_int64(stmt, 3);
    ret_phase->rows = sqlite3_column_int64(stmt, 4);
    ret_phase->bytes = sqlite3_column_int64(stmt, 5);
    return 0;
}

/* phase_list_add - append the current row to list. */
static int phase_list_add(struct job_phase_list *list, size_t *capacity, sqlite3_stmt *stmt,
                          struct iq_error *err)
{
    struct job_phase *grown =
        store_grow(list->items, capacity, list->count, sizeof(*list->items), 8);
    if (!grown)
        return nomem(err);
    list->items = grown;
    int rc = phase_read(stmt, &list->items[list->count], err);
    if (rc == 0)
        list->count++;
    return rc;
}

/*
 * sqlite_job_phases - see store_ops.job_phases: by attempt, then start
 * time. One statement (the job LEFT JOIN its timings, so an unknown job
 * is told from one without timings): IQ_E_NOT_FOUND for an unknown job.
 * *ret_list: job_phase_list_clear it.
 */
int sqlite_job_phases(struct store *base, const char *job_id, struct job_phase_list *ret_list,
                      struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    memset(ret_list, 0, sizeof(*ret_list));
    if (!job_id)
        return iq_error_set(err, IQ_E_NOT_FOUND, "job (null) not found");
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_JOB_PHASES, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, job_id);
    int rc = sqlite_binder_check(s, &b, err);
    bool job_found = false;
    size_t capacity = 0;
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "read phase timings", err)) == 1) {
        job_found = true;
        rc = sqlite3_column_type(stmt, 1) == SQLITE_NULL
                 ? 0
                 : phase_list_add(ret_list, &capacity, stmt, err);
    }
    if (rc < 0)
        stmt_release(stmt);
    if (rc == 0 && !job_found)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", job_id);
    if (rc < 0)
        job_phase_list_clear(ret_list);
    return rc;
}
