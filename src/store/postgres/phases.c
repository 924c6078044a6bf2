/*
 * postgres/phases.c - a job's phase timings on PostgreSQL (job_phases):
 * the stg_import_performance rows its attempts left, in time order. Not
 * here: writing them (postgres/finish.c, at the end of an attempt) or
 * aggregating them per table (performance reports).
 */
#include "store/postgres/internal.h"

#include "core/timeutil.h"
#include "core/uuid7.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* phase_read - row of res (attempt, phase, started_at, duration, rows, bytes). */
static int phase_read(const PGresult *res, int row, struct job_phase *ret_phase,
                      struct iq_error *err)
{
    memset(ret_phase, 0, sizeof(*ret_phase));
    if (time_parse_rfc3339(PQgetvalue(res, row, 2), &ret_phase->started_at_ms) < 0)
        return iq_error_set(err, IQ_E_DB, "a phase timing row is malformed");
    ret_phase->attempt = (int)pg_text_to_int64(PQgetvalue(res, row, 0));
    snprintf(ret_phase->phase, sizeof(ret_phase->phase), "%s", PQgetvalue(res, row, 1));
    ret_phase->duration_ms = pg_text_to_int64(PQgetvalue(res, row, 3));
    ret_phase->rows = pg_text_to_int64(PQgetvalue(res, row, 4));
    ret_phase->bytes = pg_text_to_int64(PQgetvalue(res, row, 5));
    return 0;
}

/*
 * pg_job_phases - see store_ops.job_phases: by attempt, then start time.
 * One statement (the job LEFT JOIN its timings, so an unknown job is told
 * from one without timings): IQ_E_NOT_FOUND for an unknown or malformed
 * id. *ret_list: job_phase_list_clear it.
 */
int pg_job_phases(struct store *s, const char *job_id, struct job_phase_list *ret_list,
                  struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret_list, 0, sizeof(*ret_list));
    if (!job_id || !uuid_is_valid(job_id))
        return iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", job_id ? job_id : "(null)");
    const char *values[1] = {job_id};
    PGresult *res;
    int rc = pg_exec(ps, "reading phase timings",
                     "SELECT p.attempt, p.phase,"
                     " to_char(p.started_at AT TIME ZONE 'UTC', " PG_TIME_FORMAT "),"
                     " p.duration_ms, p.rows, p.bytes"
                     " FROM stg_import_queue q LEFT JOIN stg_import_performance p"
                     " ON p.job_id = q.id WHERE q.id = $1::uuid"
                     " ORDER BY p.attempt, p.started_at, p.id",
                     1, values, &res, err);
    if (rc < 0)
        return rc;
    int rows = PQntuples(res);
    if (rows == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", job_id);
    else if (!PQgetisnull(res, 0, 1) &&
             !(ret_list->items = calloc((size_t)rows, sizeof(*ret_list->items))))
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (int row = 0; rc == 0 && ret_list->items && row < rows; row++) {
        rc = phase_read(res, row, &ret_list->items[row], err);
        if (rc == 0)
            ret_list->count++;
    }
    PQclear(res);
    if (rc < 0)
        job_phase_list_clear(ret_list);
    return rc;
}
