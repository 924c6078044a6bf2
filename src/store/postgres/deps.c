/*
 * postgres/deps.c - the job dependency graph on PostgreSQL
 * (importq_job_deps): checking a spec's depends_on (unknown ids, cycles),
 * recording edges, and the cascade that fails every waiting dependant of
 * a job that failed or was cancelled. Callers hold PG_LOCK_JOB_GRAPH (see
 * the lock order in postgres/internal.h); rows are locked in id order.
 */
#include "store/postgres/internal.h"

#include "core/job.h"
#include "core/timeutil.h"
#include "core/uuid7.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * uuid_array_text - "{id,id,...}" for a uuid[] parameter. Ids are checked
 * with uuid_is_valid, so the literal needs no quoting. Returns a new string
 * (caller frees) or NULL: *ret_bad is the first invalid id (or NULL on OOM).
 */
static char *uuid_array_text(char *const *ids, size_t count, const char **ret_bad)
{
    *ret_bad = NULL;
    struct sql_text text = {0};
    pg_sql_append(&text, "{");
    for (size_t i = 0; i < count; i++) {
        if (!uuid_is_valid(ids[i])) {
            *ret_bad = ids[i] ? ids[i] : "";
            free(pg_sql_take(&text));
            return NULL;
        }
        pg_sql_append(&text, "%s%s", i ? "," : "", ids[i]);
    }
    pg_sql_append(&text, "}");
    return pg_sql_take(&text);
}

/* job_ids_array_text - "{...}" of the ids of jobs. Caller frees; NULL on OOM. */
static char *job_ids_array_text(struct job *const *jobs, size_t count)
{
    struct sql_text text = {0};
    pg_sql_append(&text, "{");
    for (size_t i = 0; i < count; i++)
        pg_sql_append(&text, "%s%s", i ? "," : "", jobs[i]->id);
    pg_sql_append(&text, "}");
    return pg_sql_take(&text);
}

void pg_dep_check_clear(struct dep_check *check)
{
    free(check->array_text);
    memset(check, 0, sizeof(*check));
}

/* find_row - row of res whose column 0 equals id (case-insensitively), or -1. */
static int find_row(const PGresult *res, const char *id)
{
    for (int i = 0; i < PQntuples(res); i++)
        if (strcasecmp(PQgetvalue(res, i, 0), id) == 0)
            return i;
    return -1;
}

/*
 * find_cycle - would job self_id depending on the jobs in array_text close
 * a cycle, i.e. does any of them transitively depend on self_id? Writes
 * that dependency into ret_via ("" when no cycle). Returns 0 or IQ_E_DB.
 */
static int find_cycle(struct pg_store *ps, const char *self_id, const char *array_text,
                      char ret_via[UUID_STR_LEN], struct iq_error *err)
{
    static const char sql[] =
        "WITH RECURSIVE reach(id, via) AS ("
        " SELECT d, d FROM unnest($1::uuid[]) AS d"
        " UNION"
        " SELECT e.depends_on_id, r.via FROM importq_job_deps e JOIN reach r ON e.job_id = r.id)"
        " SELECT via::text FROM reach WHERE id = $2::uuid LIMIT 1";
    const char *values[2] = {array_text, self_id};
    PGresult *res;
    int rc = pg_exec(ps, "checking for a dependency cycle", sql, 2, values, &res, err);
    if (rc < 0)
        return rc;
    snprintf(ret_via, UUID_STR_LEN, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return 0;
}

/* classify_dependencies - walk spec order over the locked rows of res. */
static int classify_dependencies(const PGresult *res, const char *self_id,
                                 const struct job_spec *spec, struct dep_check *check,
                                 struct iq_error *err)
{
    for (size_t i = 0; i < spec->depends_on_count; i++) {
        const char *dep = spec->depends_on[i];
        if (self_id && strcasecmp(dep, self_id) == 0)
            return iq_error_set(err, IQ_E_CONFLICT, "dependency cycle through %s", dep);
        int row = find_row(res, dep);
        if (row < 0)
            return iq_error_set(err, IQ_E_CONFLICT, "unknown dependency %s", dep);
        const char *status = PQgetvalue(res, row, 1);
        if (!check->failed_id[0] &&
            (strcmp(status, "FAILED") == 0 || strcmp(status, "CANCELLED") == 0)) {
            snprintf(check->failed_id, sizeof(check->failed_id), "%s", PQgetvalue(res, row, 0));
            snprintf(check->failed_status, sizeof(check->failed_status), "%s", status);
        }
    }
    for (int row = 0; row < PQntuples(res); row++)
        if (strcmp(PQgetvalue(res, row, 1), "COMPLETED") != 0)
            check->pending++;
    return 0;
}

/*
 * pg_check_dependencies - validate spec->depends_on for job self_id (NULL for
 * a new job): every dependency must exist (IQ_E_CONFLICT "unknown
 * dependency <id>"); for an existing job none may be the job itself or
 * depend on it (IQ_E_CONFLICT "dependency cycle through <id>"). The
 * dependency rows are locked FOR SHARE until the end of the transaction.
 * Fills *check (pg_dep_check_clear it, also on failure).
 */
int pg_check_dependencies(struct pg_store *ps, const char *self_id, const struct job_spec *spec,
                          struct dep_check *check, struct iq_error *err)
{
    memset(check, 0, sizeof(*check));
    const char *bad;
    check->array_text = uuid_array_text(spec->depends_on, spec->depends_on_count, &bad);
    if (!check->array_text)
        return bad ? iq_error_set(err, IQ_E_CONFLICT, "unknown dependency %s", bad)
                   : iq_error_set(err, IQ_E_NOMEM, "out of memory");
    if (spec->depends_on_count == 0)
        return 0;
    const char *values[1] = {check->array_text};
    PGresult *res;
    int rc = pg_exec(ps, "reading dependencies",
                     "SELECT q.id::text, q.status FROM stg_import_queue q"
                     " WHERE q.id = ANY($1::uuid[]) ORDER BY q.id FOR SHARE",
                     1, values, &res, err);
    if (rc < 0)
        return rc;
    rc = classify_dependencies(res, self_id, spec, check, err);
    PQclear(res);
    if (rc < 0 || !self_id)
        return rc;
    char via[UUID_STR_LEN];
    rc = find_cycle(ps, self_id, check->array_text, via, err);
    if (rc == 0 && via[0])
        rc = iq_error_set(err, IQ_E_CONFLICT, "dependency cycle through %s", via);
    return rc;
}

/*
 * pg_check_dependency_state - see postgres/internal.h
 * (job_primitives.check_dependencies): pg_check_dependencies, its
 * findings kept in the transaction's context for write_update.
 */
int pg_check_dependency_state(void *backend, const char *self_id, const struct job_spec *spec,
                              struct dependency_state *ret_state, struct iq_error *err)
{
    struct pg_rule_tx *tx = backend;
    memset(ret_state, 0, sizeof(*ret_state));
    pg_dep_check_clear(&tx->deps);
    int rc = pg_check_dependencies(tx->ps, self_id, spec, &tx->deps, err);
    if (rc < 0)
        return rc;
    ret_state->pending = tx->deps.pending;
    enum job_status status;
    if (tx->deps.failed_id[0] && job_status_parse(tx->deps.failed_status, &status) == 0) {
        snprintf(ret_state->failed_id, sizeof(ret_state->failed_id), "%s", tx->deps.failed_id);
        ret_state->failed_status = status;
    }
    return 0;
}

/* pg_insert_dependencies - the edges job_id -> each id in array_text. */
int pg_insert_dependencies(struct pg_store *ps, const char *job_id, const char *array_text,
                           struct iq_error *err)
{
    const char *values[2] = {job_id, array_text};
    return pg_exec(ps, "recording dependencies",
                   "INSERT INTO importq_job_deps (job_id, depends_on_id)"
                   " SELECT $1::uuid, d FROM unnest($2::uuid[]) AS d ON CONFLICT DO NOTHING",
                   2, values, NULL, err);
}

/* mark_dependants_failed - the UPDATE of a cascade: status (FAILED) with error_text. */
static int mark_dependants_failed(struct pg_store *ps, const char *ids_text,
                                  enum job_status status, const char *error_text, int64_t now_ms,
                                  struct iq_error *err)
{
    char now_text[TIME_RFC3339_LEN];
    const char *values[4] = {ids_text, error_text, time_format_rfc3339(now_ms, now_text),
                             job_status_name(status)};
    return pg_exec(ps, "failing dependent jobs",
                   "UPDATE stg_import_queue SET status = $4, error = $2::jsonb,"
                   " finished_at = $3::timestamptz,"
                   " updated_at = " PG_NEXT_UPDATED_AT("$3", "updated_at")
                   " WHERE id = ANY($1::uuid[])",
                   4, values, NULL, err);
}

/*
 * pg_fail_dependants - see postgres/internal.h (job_primitives.fail_dependants):
 * every HELD/QUEUED job depending on root_id, directly or not, becomes
 * status (FAILED) with error_text. Rows are locked FOR UPDATE in id order. Fills
 * *ret with before/after images for the audit (job_cascade_clear it,
 * also on failure).
 */
int pg_fail_dependants(void *backend, const char *root_id, enum job_status status,
                       const char *error_text, int64_t now_ms, struct job_cascade *ret,
                       struct iq_error *err)
{
    struct pg_store *ps = ((struct pg_rule_tx *)backend)->ps;
    memset(ret, 0, sizeof(*ret));
    const char *values[1] = {root_id};
    PGresult *res;
    int rc = pg_exec_prepared(ps, "finding dependent jobs", STMT_DEPENDANTS_FOR_UPDATE, values,
                              &res, err);
    if (rc < 0)
        return rc;
    rc = pg_decode_rows(res, SIZE_MAX, &ret->before, &ret->count, err);
    PQclear(res);
    if (rc < 0 || ret->count == 0)
        return rc;
    char *ids_text = job_ids_array_text(ret->before, ret->count);
    if (!ids_text)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    rc = mark_dependants_failed(ps, ids_text, status, error_text, now_ms, err);
    if (rc == 0) {
        const char *ids[1] = {ids_text};
        rc = pg_exec_prepared(ps, "reading dependent jobs", STMT_JOBS_BY_IDS, ids, &res, err);
    }
    free(ids_text);
    if (rc < 0)
        return rc;
    rc = pg_decode_rows(res, SIZE_MAX, &ret->after, &ret->after_count, err);
    PQclear(res);
    if (rc == 0 && ret->after_count != ret->count)
        rc = iq_error_set(err, IQ_E_INTERNAL, "cascade read %zu of %zu jobs", ret->after_count,
                          ret->count);
    return rc;
}
