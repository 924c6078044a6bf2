/*
 * postgres/rejects.c - rejected rows kept per attempt on PostgreSQL
 * (importq_job_rejects, the CSV behind GET .../rejects): appending a
 * batch, and reading back those of the job's latest attempt in line
 * order through a server-side cursor, so a job with millions of rejects
 * never sits in memory at once.
 */
#include "store/postgres/internal.h"

#include "core/uuid7.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows sent per INSERT, and fetched per FETCH (the same number, as text). */
#define REJECTS_CHUNK 1000
#define REJECTS_CHUNK_TEXT "1000"

/* ------------------------------------------------------------------ */
/* Adding                                                              */
/* ------------------------------------------------------------------ */

/*
 * text_value - a JSON string of text (JSON null for NULL). Text that is
 * not valid UTF-8 (the database would refuse it anyway) is kept with each
 * invalid byte replaced by '?'. NULL on OOM.
 */
static json_t *text_value(const char *text)
{
    if (!text)
        return json_null();
    json_t *value = json_string(text);
    if (value)
        return value;
    char *copy = strdup(text);
    if (!copy)
        return NULL;
    for (char *c = copy; *c; c++)
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    value = json_string(copy);
    free(copy);
    return value;
}

/* rows_json_text - rows as a JSON array of {line, column, value, error, record,
 * pointer}. Caller frees; NULL on OOM. */
static char *rows_json_text(const struct job_reject_row *rows, size_t count)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < count; i++) {
        json_t *record = rows[i].has_record ? json_integer(rows[i].record) : json_null();
        json_t *item = json_pack("{s:I,s:o,s:o,s:o,s:o,s:o}", "line", (json_int_t)rows[i].line,
                                 "column", text_value(rows[i].column), "value",
                                 text_value(rows[i].value), "error",
                                 text_value(rows[i].error ? rows[i].error : ""), "record", record,
                                 "pointer", text_value(rows[i].pointer));
        if (!item || json_array_append_new(array, item) < 0) {
            json_decref(array);
            return NULL;
        }
    }
    char *text = array ? json_dumps(array, JSON_COMPACT) : NULL;
    json_decref(array);
    return text;
}

/*
 * insert_chunk - one INSERT of up to REJECTS_CHUNK rows, numbered on from
 * the attempt's highest seq. An unknown job is IQ_E_NOT_FOUND (the
 * foreign key).
 */
static int insert_chunk(struct pg_store *ps, const char *job_id, const char *attempt,
                        const struct job_reject_row *rows, size_t count, struct iq_error *err)
{
    char *json = rows_json_text(rows, count);
    if (!json)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    const char *values[3] = {job_id, attempt, json};
    int rc = pg_exec(ps, "keeping rejected rows",
                     "INSERT INTO importq_job_rejects (job_id, attempt, seq, line, column_name,"
                     " value, error, record_index, json_pointer)"
                     " SELECT $1::uuid, $2::integer, (base.n + r.ord)::integer,"
                     " (r.e->>'line')::bigint, r.e->>'column', r.e->>'value', r.e->>'error',"
                     " (r.e->>'record')::bigint, r.e->>'pointer'"
                     " FROM (SELECT coalesce(max(seq), 0) AS n FROM importq_job_rejects"
                     " WHERE job_id = $1::uuid AND attempt = $2::integer) base,"
                     " jsonb_array_elements($3::jsonb) WITH ORDINALITY AS r(e, ord)",
                     3, values, NULL, err);
    free(json);
    if (rc < 0 && strcmp(ps->sqlstate, "23503") == 0) /* foreign_key_violation */
        return iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", job_id);
    return rc;
}

/*
 * pg_job_rejects_add - see store_ops.job_rejects_add. Each chunk of
 * REJECTS_CHUNK rows is one autocommitted INSERT (one writer per attempt,
 * the worker, so seq numbering needs no lock). IQ_E_NOT_FOUND for an
 * unknown job.
 */
int pg_job_rejects_add(struct store *s, const char *job_id, int attempt,
                       const struct job_reject_row *rows, size_t count, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    if (!job_id || !uuid_is_valid(job_id))
        return iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", job_id ? job_id : "(null)");
    if (count > 0 && !rows)
        return iq_error_set(err, IQ_E_INVALID, "a count without rows");
    char attempt_text[16];
    snprintf(attempt_text, sizeof(attempt_text), "%d", attempt);
    for (size_t at = 0; at < count; at += REJECTS_CHUNK) {
        size_t n = count - at < REJECTS_CHUNK ? count - at : REJECTS_CHUNK;
        int rc = insert_chunk(ps, job_id, attempt_text, rows + at, n, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

/* latest_attempt - the job's attempt number as text in buf; IQ_E_NOT_FOUND. */
static int latest_attempt(struct pg_store *ps, const char *job_id, char buf[16],
                          struct iq_error *err)
{
    const char *values[1] = {job_id};
    PGresult *res;
    int rc =
        pg_exec(ps, "reading the job's attempt",
                "SELECT attempt FROM stg_import_queue WHERE id = $1::uuid", 1, values, &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", job_id);
    else
        snprintf(buf, 16, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

/*
 * each_fetched_row - cb for every row of one FETCH. Returns 0 to go on,
 * 1 when cb asked to stop (its value, if negative, in *ret_stop_value).
 */
static int each_fetched_row(const PGresult *res, job_reject_row_cb cb, void *ctx,
                            int *ret_stop_value)
{
    for (int i = 0; i < PQntuples(res); i++) {
        struct job_reject_row row = {
            .line = pg_text_to_int64(PQgetvalue(res, i, 0)),
            .column = PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1),
            .value = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
            .error = PQgetvalue(res, i, 3),
            .has_record = !PQgetisnull(res, i, 4),
            .record = PQgetisnull(res, i, 4) ? 0 : pg_text_to_int64(PQgetvalue(res, i, 4)),
            .pointer = PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5),
        };
        int stop = cb(&row, ctx);
        if (stop != 0) {
            *ret_stop_value = stop < 0 ? stop : 0;
            return 1;
        }
    }
    return 0;
}

/* each_in_tx - rejects_each's cursor loop inside its (read-only) transaction. */
static int each_in_tx(struct pg_store *ps, const char *job_id, job_reject_row_cb cb, void *ctx,
                      struct iq_error *err)
{
    char attempt[16];
    int rc = latest_attempt(ps, job_id, attempt, err);
    const char *values[2] = {job_id, attempt};
    if (rc == 0)
        rc = pg_exec(ps, "reading rejected rows",
                     "DECLARE iq_rejects NO SCROLL CURSOR FOR"
                     " SELECT line, column_name, value, error, record_index, json_pointer"
                     " FROM importq_job_rejects"
                     " WHERE job_id = $1::uuid AND attempt = $2::integer ORDER BY line, seq",
                     2, values, NULL, err);
    int stop_value = 0;
    while (rc == 0) {
        PGresult *res;
        rc = pg_exec(ps, "reading rejected rows", "FETCH " REJECTS_CHUNK_TEXT " FROM iq_rejects", 0,
                     NULL, &res, err);
        if (rc < 0)
            break;
        int fetched = PQntuples(res);
        int stopped = each_fetched_row(res, cb, ctx, &stop_value);
        PQclear(res);
        if (stopped || fetched < REJECTS_CHUNK)
            break;
    }
    return rc < 0 ? rc : stop_value;
}

/*
 * pg_job_rejects_each - see store_ops.job_rejects_each: the rejects of
 * the job's latest attempt, by line then arrival. A callback that returns
 * non-zero stops the walk; a negative value is returned as is.
 * IQ_E_NOT_FOUND for an unknown job.
 */
int pg_job_rejects_each(struct store *s, const char *job_id, job_reject_row_cb cb, void *ctx,
                        struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    if (!job_id || !uuid_is_valid(job_id))
        return iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", job_id ? job_id : "(null)");
    if (!cb)
        return iq_error_set(err, IQ_E_INVALID, "rejects_each needs a callback");
    int rc = pg_tx_begin(ps, err);
    if (rc < 0)
        return rc;
    rc = each_in_tx(ps, job_id, cb, ctx, err);
    pg_tx_rollback(ps); /* read-only; the cursor goes with it */
    return rc;
}
