/*
 * postgres/jobs.c - one job at a time on PostgreSQL: reading a job row,
 * the job with its phase timings and locks in one statement (get_detail),
 * and create, get, update and cancel, each one transaction with its audit
 * row; update and cancel are the job rules (common/job_rules.c) run
 * through pg_job_primitives, whose table is here. The dependency graph they walk is postgres/deps.c, the audit chain
 * postgres/audit.c; lists and counts are postgres/list.c.
 */
#include "store/postgres/internal.h"

#include "core/job.h"
#include "core/timeutil.h"
#include "core/uuid7.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* time_param - RFC 3339 text of ms in buf, or NULL (SQL NULL) for 0. */
static const char *time_param(int64_t ms, char buf[TIME_RFC3339_LEN])
{
    return ms ? time_format_rfc3339(ms, buf) : NULL;
}

/* ------------------------------------------------------------------ */
/* Reading jobs                                                        */
/* ------------------------------------------------------------------ */

/* decode_row - one result row (select list order) into a new job. */
static int decode_row(const PGresult *res, int row, struct job **ret_job, struct iq_error *err)
{
    if (PQnfields(res) < JOBCOL_COUNT)
        return iq_error_set(err, IQ_E_INTERNAL, "job row has %d columns, want %d", PQnfields(res),
                            JOBCOL_COUNT);
    const char *values[JOBCOL_COUNT];
    for (int i = 0; i < JOBCOL_COUNT; i++)
        values[i] = PQgetisnull(res, row, i) ? NULL : PQgetvalue(res, row, i);
    return store_job_decode(values, ret_job, err);
}

/*
 * pg_decode_rows - every row of res into a new array of jobs (*ret_jobs,
 * caller frees each with job_free and the array with free). Rows beyond
 * max_rows are ignored.
 */
int pg_decode_rows(const PGresult *res, size_t max_rows, struct job ***ret_jobs, size_t *ret_count,
                   struct iq_error *err)
{
    *ret_jobs = NULL;
    *ret_count = 0;
    size_t rows = (size_t)PQntuples(res);
    if (rows > max_rows)
        rows = max_rows;
    if (rows == 0)
        return 0;
    struct job **jobs = calloc(rows, sizeof(*jobs));
    if (!jobs)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; i < rows; i++) {
        int rc = decode_row(res, (int)i, &jobs[i], err);
        if (rc < 0) {
            for (size_t j = 0; j < i; j++)
                job_free(jobs[j]);
            free(jobs);
            return rc;
        }
    }
    *ret_jobs = jobs;
    *ret_count = rows;
    return 0;
}

/* pg_decode_change - see postgres/internal.h. */
int pg_decode_change(const PGresult *res, const enum job_column *changes, size_t count,
                     struct job **ret_before, struct job **ret_after, struct iq_error *err)
{
    *ret_before = *ret_after = NULL;
    if (PQntuples(res) == 0)
        return 0;
    if (PQntuples(res) != 1 || PQnfields(res) < JOBCOL_COUNT + (int)count)
        return iq_error_set(err, IQ_E_INTERNAL, "a job change returned %d rows of %d columns",
                            PQntuples(res), PQnfields(res));
    const char *values[JOBCOL_COUNT];
    for (int i = 0; i < JOBCOL_COUNT; i++)
        values[i] = PQgetisnull(res, 0, i) ? NULL : PQgetvalue(res, 0, i);
    int rc = store_job_decode(values, ret_after, err);
    for (size_t i = 0; i < count; i++) {
        int at = JOBCOL_COUNT + (int)i;
        values[changes[i]] = PQgetisnull(res, 0, at) ? NULL : PQgetvalue(res, 0, at);
    }
    if (rc == 0)
        rc = store_job_decode(values, ret_before, err);
    if (rc < 0) {
        job_free(*ret_after);
        *ret_after = NULL;
    }
    return rc;
}

/*
 * pg_read_job - the job with this id (FOR UPDATE when for_update: only inside
 * a transaction). Returns 0 and a new job (job_free), IQ_E_NOT_FOUND for an
 * unknown or malformed id (SQLSTATE 22P02), IQ_E_DB.
 */
int pg_read_job(struct pg_store *ps, const char *id, bool for_update, struct job **ret_job,
                struct iq_error *err)
{
    *ret_job = NULL;
    if (!id)
        return iq_error_set(err, IQ_E_NOT_FOUND, "job (null) not found");
    const char *values[1] = {id};
    PGresult *res;
    int rc =
        pg_exec_prepared(ps, "reading a job", for_update ? STMT_JOB_GET_FOR_UPDATE : STMT_JOB_GET,
                         values, &res, err);
    if (rc < 0) {
        if (strcmp(ps->sqlstate, "22P02") == 0) /* invalid_text_representation */
            return iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", id);
        return rc;
    }
    if (PQntuples(res) == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", id);
    else
        rc = decode_row(res, 0, ret_job, err);
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------------ */
/* job_create                                                          */
/* ------------------------------------------------------------------ */

/*
 * find_by_request_id - the job created with this request_id, if any.
 * Returns 1 and a new job, 0 when none, or a negative error.
 */
static int find_by_request_id(struct pg_store *ps, const char *request_id, struct job **ret_job,
                              struct iq_error *err)
{
    const char *values[1] = {request_id};
    PGresult *res;
    int rc = pg_exec(ps, "looking up request_id",
                     "SELECT id::text FROM stg_import_queue WHERE request_id = $1", 1, values, &res,
                     err);
    if (rc < 0)
        return rc;
    char id[UUID_STR_LEN] = "";
    if (PQntuples(res) > 0)
        snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!id[0])
        return 0;
    rc = pg_read_job(ps, id, false, ret_job, err);
    return rc < 0 ? rc : 1;
}

/*
 * link_upload - when spec reads an upload, point that upload at job_id;
 * IQ_E_INVALID (field "<field_prefix>source.upload") when there is no
 * such upload. replacing (an update): uploads the job used before and no
 * longer names are released first.
 */
static int link_upload(struct pg_store *ps, const char *job_id, const struct job_spec *spec,
                       const char *field_prefix, bool replacing, struct iq_error *err)
{
    const char *upload = spec->source.upload;
    const char *values[2] = {job_id, upload && uuid_is_valid(upload) ? upload : NULL};
    int rc = 0;
    if (replacing)
        rc = pg_exec(ps, "releasing uploads",
                     "UPDATE importq_uploads SET job_id = NULL WHERE job_id = $1::uuid"
                     " AND ($2::uuid IS NULL OR id <> $2::uuid)",
                     2, values, NULL, err);
    if (rc < 0 || !upload)
        return rc;
    PGresult *res = NULL;
    if (values[1])
        rc = pg_exec(ps, "linking an upload",
                     "UPDATE importq_uploads SET job_id = $1::uuid WHERE id = $2::uuid", 2, values,
                     &res, err);
    if (rc < 0)
        return rc;
    int64_t linked = res ? pg_text_to_int64(PQcmdTuples(res)) : 0;
    PQclear(res);
    if (linked == 1)
        return 0;
    char field[64];
    snprintf(field, sizeof(field), "%ssource.upload", field_prefix ? field_prefix : "");
    iq_error_add_field(err, field, "unknown upload");
    return iq_error_set(err, IQ_E_INVALID, "unknown upload %s", upload);
}

/*
 * primitive_insert_job - job_primitives.insert_job: the stg_import_queue
 * row, its edges (the dependencies pg_check_dependency_state locked, kept
 * in the transaction's context) and its upload link.
 */
static int primitive_insert_job(void *backend, const char *id, const struct job_create_request *req,
                                const char *created_by, const struct dependency_state *deps,
                                enum job_status status, const char *error_text, int64_t now_ms,
                                const char *field_prefix, struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    const struct job_spec *spec = req->spec;
    struct spec_texts texts = {0};
    int rc = spec_texts_build(spec, &texts, err);
    if (rc < 0)
        return rc;
    char priority[16], pending[16], max_attempts[16], timeout[24];
    char scheduled[TIME_RFC3339_LEN], available[TIME_RFC3339_LEN], now[TIME_RFC3339_LEN];
    snprintf(priority, sizeof(priority), "%d", spec->priority);
    snprintf(pending, sizeof(pending), "%d", deps->pending);
    snprintf(max_attempts, sizeof(max_attempts), "%d", spec->max_attempts);
    snprintf(timeout, sizeof(timeout), "%" PRId64, spec->timeout_s);
    time_format_rfc3339(now_ms, now);
    const char *values[21] = {
        id,
        spec->request_id,
        spec->name ? spec->name : "",
        job_status_name(status),
        priority,
        req->orchestration_id,
        req->schedule_id,
        time_param(spec->scheduled_at_ms, scheduled),
        time_format_rfc3339(spec->scheduled_at_ms ? spec->scheduled_at_ms : now_ms, available),
        pending,
        max_attempts,
        timeout,
        texts.resources,
        texts.source,
        texts.target,
        texts.on_error,
        spec->target.table,
        error_text,
        created_by,
        now,
        error_text ? now : NULL,
    };
    rc = pg_exec_prepared(tx->ps, "inserting a job", STMT_JOB_INSERT, values, NULL, err);
    spec_texts_clear(&texts);
    if (rc == 0 && spec->depends_on_count > 0)
        rc = pg_insert_dependencies(tx->ps, id, tx->deps.array_text, err);
    if (rc == 0)
        rc = link_upload(tx->ps, id, spec, field_prefix, false, err);
    return rc;
}

/* primitive_find_by_request_id - job_primitives.find_by_request_id. */
static int primitive_find_by_request_id(void *backend, const char *request_id,
                                        struct job **ret_job, struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    return find_by_request_id(tx->ps, request_id, ret_job, err);
}

/*
 * primitive_count_waiting - job_primitives.count_waiting. PG_LOCK_JOB_GRAPH
 * is held, so the count stays true until COMMIT.
 */
static int primitive_count_waiting(void *backend, int64_t *ret_count, struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    PGresult *res;
    int rc = pg_exec(tx->ps, "counting queued jobs",
                     "SELECT count(*) FROM stg_import_queue WHERE status IN ('QUEUED', 'HELD')", 0,
                     NULL, &res, err);
    if (rc < 0)
        return rc;
    *ret_count = pg_text_to_int64(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/*
 * pg_job_create - see store_ops.job_create. One transaction under
 * PG_LOCK_JOB_GRAPH, so the request_id check and the capacity count are
 * exact under concurrency. Checks in order: request_id replay, dependencies
 * (IQ_E_CONFLICT), capacity (IQ_E_QUEUE_FULL). A new QUEUED job sends
 * NOTIFY importq (postgres/wait.c).
 */
int pg_job_create(struct store *s, const struct job_create_request *req,
                  const struct audit_context *actx, struct job **ret_job, bool *ret_existed,
                  struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    bool existed = false;
    *ret_job = NULL;
    if (ret_existed)
        *ret_existed = false;
    if (!req || !req->spec || !req->spec->target.table)
        return iq_error_set(err, IQ_E_INVALID, "a job needs a spec with target.table");
    struct pg_rule_tx tx = {.ps = ps};
    int rc = pg_tx_begin(ps, err);
    if (rc == 0)
        rc = pg_lock_graph(ps, err);
    if (rc == 0)
        rc = job_rule_create(&pg_job_primitives, &tx, req, actx, pg_now_ms(ps), ret_job, &existed,
                             err);
    rc = pg_tx_finish(ps, rc, err);
    pg_rule_tx_clear(&tx);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
        return rc;
    }
    if (ret_existed)
        *ret_existed = existed;
    return 0;
}

/* pg_job_get - see store_ops.job_get. No transaction; reconnects when needed. */
int pg_job_get(struct store *s, const char *id, struct job **ret_job, struct iq_error *err)
{
    return pg_read_job(pg_store_of(s), id, false, ret_job, err);
}

/* json_int - the integer at index i of array (0 when it is not one). */
static int64_t json_int(const json_t *array, size_t i)
{
    return (int64_t)json_integer_value(json_array_get(array, i));
}

/* detail_phases - STMT_JOB_DETAIL's phase array (text, NULL when none). */
static int detail_phases(const char *text, struct job_phase_list *ret_list, struct iq_error *err)
{
    if (!text)
        return 0;
    json_t *rows = json_loads(text, 0, NULL);
    size_t n = json_array_size(rows);
    int rc = 0;
    if (!json_is_array(rows))
        rc = iq_error_set(err, IQ_E_DB, "the phase timings of a job are malformed");
    else if (n > 0 && !(ret_list->items = calloc(n, sizeof(*ret_list->items))))
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const json_t *row = json_array_get(rows, i);
        struct job_phase *p = &ret_list->items[i];
        const char *phase = json_string_value(json_array_get(row, 1));
        const char *started = json_string_value(json_array_get(row, 2));
        if (!phase || !started || time_parse_rfc3339(started, &p->started_at_ms) < 0) {
            rc = iq_error_set(err, IQ_E_DB, "a phase timing row is malformed");
            break;
        }
        p->attempt = (int)json_int(row, 0);
        snprintf(p->phase, sizeof(p->phase), "%s", phase);
        p->duration_ms = json_int(row, 3);
        p->rows = json_int(row, 4);
        p->bytes = json_int(row, 5);
        ret_list->count = i + 1;
    }
    json_decref(rows);
    return rc;
}

/* strdup_or_null - a copy of text (NULL stays NULL); *ret_failed on OOM. */
static char *strdup_or_null(const char *text, bool *ret_failed)
{
    char *copy = text ? strdup(text) : NULL;
    if (text && !copy)
        *ret_failed = true;
    return copy;
}

/* detail_locks - STMT_JOB_DETAIL's lock array of job_id (text, NULL when none). */
static int detail_locks(const char *text, const char *job_id, struct lock_list *ret_list,
                        struct iq_error *err)
{
    if (!text)
        return 0;
    json_t *rows = json_loads(text, 0, NULL);
    size_t n = json_array_size(rows);
    int rc = 0;
    if (!json_is_array(rows))
        rc = iq_error_set(err, IQ_E_DB, "the locks of a job are malformed");
    else if (n > 0 && !(ret_list->items = calloc(n, sizeof(*ret_list->items))))
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const json_t *row = json_array_get(rows, i);
        struct lock_info *lock = &ret_list->items[i];
        ret_list->count = i + 1;
        const char *id = json_string_value(json_array_get(row, 0));
        const char *mode = json_string_value(json_array_get(row, 2));
        bool failed = false;
        snprintf(lock->id, sizeof(lock->id), "%s", id ? id : "");
        snprintf(lock->job_id, sizeof(lock->job_id), "%s", job_id);
        lock->name = strdup_or_null(json_string_value(json_array_get(row, 1)), &failed);
        lock->node = strdup_or_null(json_string_value(json_array_get(row, 4)), &failed);
        lock->worker = strdup_or_null(json_string_value(json_array_get(row, 5)), &failed);
        lock->attempt = (int)json_int(row, 3);
        lock->acquired_at_ms = json_int(row, 6);
        lock->expires_at_ms = json_int(row, 7);
        if (failed)
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
        else if (!id || !lock->name || !mode || lock_mode_parse(mode, &lock->mode) < 0)
            rc = iq_error_set(err, IQ_E_DB, "a lock row is malformed");
    }
    json_decref(rows);
    return rc;
}

/*
 * pg_job_get_detail - see store_ops.job_get_detail: the job row, its phase
 * timings, its live locks and its first dependants in one prepared
 * statement (the last three as JSON arrays). IQ_E_NOT_FOUND for an unknown or malformed id.
 */
int pg_job_get_detail(struct store *s, const char *id, struct job_detail *ret_detail,
                      struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    if (!id || !uuid_is_valid(id))
        return iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", id ? id : "(null)");
    char now[TIME_RFC3339_LEN];
    const char *values[2] = {id, pg_clock_param(ps, now)};
    PGresult *res;
    int rc = pg_exec_prepared(ps, "reading a job", STMT_JOB_DETAIL, values, &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", id);
    else if (PQnfields(res) != JOBCOL_COUNT + 3)
        rc = iq_error_set(err, IQ_E_INTERNAL, "a job detail row has %d columns", PQnfields(res));
    else
        rc = decode_row(res, 0, &ret_detail->job, err);
    if (rc == 0)
        rc = detail_phases(PQgetisnull(res, 0, JOBCOL_COUNT) ? NULL
                                                              : PQgetvalue(res, 0, JOBCOL_COUNT),
                           &ret_detail->phases, err);
    if (rc == 0)
        rc = detail_locks(PQgetisnull(res, 0, JOBCOL_COUNT + 1)
                              ? NULL
                              : PQgetvalue(res, 0, JOBCOL_COUNT + 1),
                          ret_detail->job->id, &ret_detail->locks, err);
    if (rc == 0)
        rc = job_refs_decode_json(
            PQgetisnull(res, 0, JOBCOL_COUNT + 2) ? NULL : PQgetvalue(res, 0, JOBCOL_COUNT + 2),
            &ret_detail->dependents, err);
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------------ */
/* job_update                                                          */
/* ------------------------------------------------------------------ */

/*
 * update_job_row - write spec's editable fields and the recomputed state
 * (FAILED with error_text when that is set).
 */
static int update_job_row(struct pg_store *ps, const struct job *job, const struct job_spec *spec,
                          int deps_pending, const char *error_text, int64_t now_ms,
                          struct iq_error *err)
{
    struct spec_texts texts = {0};
    int rc = spec_texts_build(spec, &texts, err);
    if (rc < 0)
        return rc;
    char priority[16], pending[16], max_attempts[16], timeout[24];
    char scheduled[TIME_RFC3339_LEN], available[TIME_RFC3339_LEN], now[TIME_RFC3339_LEN];
    snprintf(priority, sizeof(priority), "%d", spec->priority);
    snprintf(pending, sizeof(pending), "%d", deps_pending);
    snprintf(max_attempts, sizeof(max_attempts), "%d", spec->max_attempts);
    snprintf(timeout, sizeof(timeout), "%" PRId64, spec->timeout_s);
    time_format_rfc3339(now_ms, now);
    const char *values[16] = {
        job->id,
        spec->name ? spec->name : "",
        priority,
        time_param(spec->scheduled_at_ms, scheduled),
        time_format_rfc3339(spec->scheduled_at_ms ? spec->scheduled_at_ms : now_ms, available),
        timeout,
        max_attempts,
        texts.resources,
        texts.source,
        texts.target,
        texts.on_error,
        spec->target.table,
        pending,
        error_text ? "FAILED" : job_status_name(job->status),
        error_text,
        now,
    };
    rc = pg_exec(ps, "updating a job",
                 "UPDATE stg_import_queue SET name = $2, priority = $3::smallint,"
                 " scheduled_at = $4::timestamptz, available_at = $5::timestamptz,"
                 " timeout_s = $6::integer, max_attempts = $7::integer, resources = $8::jsonb,"
                 " source = $9::jsonb, target = $10::jsonb, on_error = $11::jsonb,"
                 " target_table = $12, deps_pending = $13::integer, status = $14,"
                 " error = coalesce($15::jsonb, error),"
                 " finished_at = CASE WHEN $15::jsonb IS NULL THEN finished_at"
                 " ELSE $16::timestamptz END,"
                 " updated_at = " PG_NEXT_UPDATED_AT("$16", "updated_at")
                 " WHERE id = $1::uuid",
                 16, values, NULL, err);
    spec_texts_clear(&texts);
    return rc;
}

/* replace_dependencies - drop job_id's edges and insert those of array_text. */
static int replace_dependencies(struct pg_store *ps, const char *job_id, const char *array_text,
                                struct iq_error *err)
{
    const char *values[1] = {job_id};
    int rc = pg_exec(ps, "replacing dependencies",
                     "DELETE FROM importq_job_deps WHERE job_id = $1::uuid", 1, values, NULL, err);
    if (rc == 0)
        rc = pg_insert_dependencies(ps, job_id, array_text, err);
    return rc;
}

/*
 * primitive_write_update - the row (FAILED with error_text when set), its
 * edges replaced by those check_dependencies locked, its upload relinked.
 */
static int primitive_write_update(void *backend, const struct job *before,
                                  const struct job_spec *spec, const struct dependency_state *deps,
                                  const char *error_text, int64_t now_ms, struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    int rc = update_job_row(tx->ps, before, spec, deps->pending, error_text, now_ms, err);
    if (rc == 0)
        rc = replace_dependencies(tx->ps, before->id, tx->deps.array_text, err);
    if (rc == 0)
        rc = link_upload(tx->ps, before->id, spec, NULL, true, err);
    return rc;
}

/*
 * update_in_tx - job_update's body inside its transaction: the graph
 * locked, then job_rule_update (a new dependency already FAILED/CANCELLED
 * fails the job, and then its own dependants too, like a cancel would).
 */
static int update_in_tx(struct pg_store *ps, const char *id, const struct job_spec *spec,
                        const struct audit_context *actx, struct job **ret_job,
                        struct iq_error *err)
{
    struct pg_rule_tx tx = {.ps = ps};
    int64_t now_ms = pg_now_ms(ps);
    int rc = pg_lock_graph(ps, err);
    if (rc == 0)
        rc = job_rule_update(&pg_job_primitives, &tx, id, spec, actx, now_ms, ret_job, err);
    pg_rule_tx_clear(&tx);
    return rc;
}

/* pg_job_update - see store_ops.job_update. One transaction under PG_LOCK_JOB_GRAPH. */
int pg_job_update(struct store *s, const char *id, const struct job_spec *spec,
                  const struct audit_context *actx, struct job **ret_job, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    *ret_job = NULL;
    if (!spec || !spec->target.table)
        return iq_error_set(err, IQ_E_INVALID, "a job needs a spec with target.table");
    int rc = pg_tx_begin(ps, err);
    if (rc == 0)
        rc = update_in_tx(ps, id, spec, actx, ret_job, err);
    rc = pg_tx_finish(ps, rc, err);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* job_cancel                                                          */
/* ------------------------------------------------------------------ */

/* primitive_end_waiting - HELD/QUEUED -> status with error_text, never run. */
static int primitive_end_waiting(void *backend, const char *id, enum job_status status,
                                 const char *error_text, int64_t now_ms, struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    char now[TIME_RFC3339_LEN];
    const char *values[4] = {id, error_text, time_format_rfc3339(now_ms, now),
                             job_status_name(status)};
    return pg_exec(tx->ps, "cancelling a job",
                   "UPDATE stg_import_queue SET status = $4, error = $2::jsonb,"
                   " finished_at = $3::timestamptz,"
                   " updated_at = " PG_NEXT_UPDATED_AT("$3", "updated_at")
                   " WHERE id = $1::uuid",
                   4, values, NULL, err);
}

/* primitive_request_cancel - RUNNING: set cancel_requested for the worker to see. */
static int primitive_request_cancel(void *backend, const char *id, int64_t now_ms,
                                    struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    char now[TIME_RFC3339_LEN];
    const char *values[2] = {id, time_format_rfc3339(now_ms, now)};
    return pg_exec(tx->ps, "requesting a cancel",
                   "UPDATE stg_import_queue SET cancel_requested = true,"
                   " updated_at = " PG_NEXT_UPDATED_AT("$2", "updated_at") " WHERE id = $1::uuid",
                   2, values, NULL, err);
}

/* cancel_in_tx - job_cancel's body inside its transaction: the graph locked, then job_rule_cancel. */
static int cancel_in_tx(struct pg_store *ps, const char *id, const struct audit_context *actx,
                        struct job **ret_job, struct iq_error *err)
{
    struct pg_rule_tx tx = {.ps = ps};
    int64_t now_ms = pg_now_ms(ps);
    int rc = pg_lock_graph(ps, err);
    if (rc == 0)
        rc = job_rule_cancel(&pg_job_primitives, &tx, id, actx, now_ms, ret_job, err);
    pg_rule_tx_clear(&tx);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The primitives the job rules drive (common/job_rules.h)             */
/* ------------------------------------------------------------------ */

/* primitive_read_job - the job, its row locked FOR UPDATE. */
static int primitive_read_job(void *backend, const char *id, struct job **ret_job,
                              struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    return pg_read_job(tx->ps, id, true, ret_job, err);
}

static int primitive_refresh_orchestrations(void *backend, const struct job *job,
                                            const struct job_cascade *cascade, int64_t now_ms,
                                            struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    (void)now_ms; /* the orchestration's updated_at is the database's */
    return pg_orchestrations_refresh(tx->ps, job, cascade, err);
}

static int primitive_audit_change(void *backend, const struct audit_context *actx,
                                  const char *action, const struct job *before,
                                  const struct job *after, int64_t now_ms, struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    (void)now_ms; /* the audit row is dated by the database */
    return pg_audit_job_change(tx->ps, actx, action, before, after, err);
}

static int primitive_notify_work(void *backend, const char *reason, struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    return pg_notify_work(tx->ps, reason, err);
}

void pg_rule_tx_clear(struct pg_rule_tx *tx)
{
    pg_dep_check_clear(&tx->deps);
}

/* pg_job_primitives - see postgres/internal.h. */
const struct job_primitives pg_job_primitives = {
    .read_job = primitive_read_job,
    .find_by_request_id = primitive_find_by_request_id,
    .count_waiting = primitive_count_waiting,
    .insert_job = primitive_insert_job,
    .read_dependencies = pg_read_dependencies,
    .check_dependencies = pg_check_dependency_state,
    .release_now = pg_release_now,
    .rerun = pg_rerun,
    .request_cancel = primitive_request_cancel,
    .end_waiting = primitive_end_waiting,
    .write_update = primitive_write_update,
    .fail_dependants = pg_fail_dependants,
    .refresh_orchestrations = primitive_refresh_orchestrations,
    .audit_change = primitive_audit_change,
    .notify_work = primitive_notify_work,
};

/* pg_job_cancel - see store_ops.job_cancel. One transaction under PG_LOCK_JOB_GRAPH. */
int pg_job_cancel(struct store *s, const char *id, const struct audit_context *actx,
                  struct job **ret_job, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    *ret_job = NULL;
    int rc = pg_tx_begin(ps, err);
    if (rc == 0)
        rc = cancel_in_tx(ps, id, actx, ret_job, err);
    rc = pg_tx_finish(ps, rc, err);
    if (rc < 0) {
        job_free(*ret_job);
        *ret_job = NULL;
    }
    return rc;
}
