/*
 * sqlite/deps.c - the dependency graph of jobs on SQLite
 * (importq_job_deps edges): checking a job's dependencies exist and form
 * no cycle, writing its edges, failing waiting dependants when a job
 * ends FAILED or CANCELLED, and reading a job's first dependants. Runs inside the caller's write
 * transaction.
 */
#include "store/sqlite/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Dependencies
 * ------------------------------------------------------------------------ */

static bool seen_before(char *const *ids, size_t index)
{
    for (size_t i = 0; i < index; i++)
        if (strcmp(ids[i], ids[index]) == 0)
            return true;
    return false;
}

/*
 * check_dependency - one dependency of job self_id (NULL for a new job):
 * IQ_E_CONFLICT when it is unknown, is the job itself, or (transitively)
 * depends on it. Adds its status to *state (job_dependency_state_add).
 */
static int check_dependency(struct sqlite_store *s, const char *self_id, const char *dep_id,
                            struct dependency_state *state, struct iq_error *err)
{
    if (self_id && strcmp(self_id, dep_id) == 0)
        return iq_error_set(err, IQ_E_CONFLICT, "dependency cycle through %s", dep_id);
    enum job_status status;
    int rc = sqlite_read_status(s, dep_id, &status, err);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return iq_error_set(err, IQ_E_CONFLICT, "unknown dependency %s", dep_id);
    if (self_id) {
        sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_DEP_REACHES, err);
        if (!stmt)
            return IQ_E_DB;
        struct binder b = binder_start(stmt);
        bind_text(&b, dep_id);
        bind_text(&b, self_id);
        int64_t reaches = 0;
        rc = sqlite_binder_check(s, &b, err);
        if (rc == 0)
            rc = sqlite_read_int64(s, stmt, "check dependency cycle", &reaches, err);
        if (rc < 0)
            return rc;
        if (reaches)
            return iq_error_set(err, IQ_E_CONFLICT, "dependency cycle through %s", dep_id);
    }
    job_dependency_state_add(state, dep_id, status);
    return 0;
}

/* sqlite_check_dependency_state - see sqlite/internal.h
 * (job_primitives.check_dependencies): check_dependency for each of spec's,
 * duplicates counted once. */
int sqlite_check_dependency_state(void *backend, const char *self_id, const struct job_spec *spec,
                                  struct dependency_state *ret_state, struct iq_error *err)
{
    memset(ret_state, 0, sizeof(*ret_state));
    for (size_t i = 0; i < spec->depends_on_count; i++) {
        if (seen_before(spec->depends_on, i))
            continue;
        int rc = check_dependency(backend, self_id, spec->depends_on[i], ret_state, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* sqlite_insert_dependencies - the edges job_id -> each of spec's dependencies.
 */
int sqlite_insert_dependencies(struct sqlite_store *s, const char *job_id,
                               const struct job_spec *spec, struct iq_error *err)
{
    for (size_t i = 0; i < spec->depends_on_count; i++) {
        if (seen_before(spec->depends_on, i))
            continue;
        sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_DEP_INSERT, err);
        if (!stmt)
            return IQ_E_DB;
        struct binder b = binder_start(stmt);
        bind_text(&b, job_id);
        bind_text(&b, spec->depends_on[i]);
        int rc = sqlite_binder_check(s, &b, err);
        if (rc == 0)
            rc = sqlite_stmt_run(s, stmt, "insert dependency", err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int sqlite_delete_dependencies(struct sqlite_store *s, const char *job_id, struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_DEPS_DELETE, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, job_id);
    int rc = sqlite_binder_check(s, &b, err);
    return rc < 0 ? rc : sqlite_stmt_run(s, stmt, "delete dependencies", err);
}


/* A growable list of job ids. */
struct id_list {
    char (*ids)[UUID_STR_LEN];
    size_t count;
    size_t capacity;
};

static int id_list_add(struct id_list *list, const char *id, struct iq_error *err)
{
    if (!id || strlen(id) != UUID_STR_LEN - 1)
        return iq_error_set(err, IQ_E_DB, "stored job id \"%s\" is malformed", id ? id : "");
    void *grown = store_grow(list->ids, &list->capacity, list->count, sizeof(*list->ids), 16);
    if (!grown)
        return nomem(err);
    list->ids = grown;
    memcpy(list->ids[list->count++], id, UUID_STR_LEN);
    return 0;
}

/* waiting_dependants - ids of HELD/QUEUED jobs depending on root_id, directly
 * or not. */
static int waiting_dependants(struct sqlite_store *s, const char *root_id, struct id_list *ret_list,
                              struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_WAITING_DEPENDANTS, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, root_id);
    int rc = sqlite_binder_check(s, &b, err);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "find dependants", err)) == 1)
        rc = id_list_add(ret_list, (const char *)sqlite3_column_text(stmt, 0), err);
    if (rc < 0)
        stmt_release(stmt);
    return rc;
}

/* sqlite_finish_waiting_job - HELD/QUEUED job id -> status with error; 1 when
 * it was not waiting. */
int sqlite_finish_waiting_job(struct sqlite_store *s, const char *id, enum job_status status,
                              const char *error_text, int64_t now_ms, struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_JOB_FINISH_WAITING, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, id);
    bind_text(&b, job_status_name(status));
    bind_text(&b, error_text);
    bind_time(&b, now_ms);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_run(s, stmt, "finish job", err);
    if (rc < 0)
        return rc;
    return sqlite3_changes(s->db) == 1 ? 0 : 1;
}

/* cascade_add - room for one more pair of images in cascade. */
static int cascade_add(struct job_cascade *cascade, struct job *before, struct job *after,
                       struct iq_error *err)
{
    size_t capacity = cascade->count;
    struct job **grown_before = realloc(cascade->before, (capacity + 1) * sizeof(*grown_before));
    if (grown_before)
        cascade->before = grown_before;
    struct job **grown_after =
        grown_before ? realloc(cascade->after, (capacity + 1) * sizeof(*grown_after)) : NULL;
    if (grown_after)
        cascade->after = grown_after;
    if (!grown_before || !grown_after) {
        job_free(before);
        job_free(after);
        return nomem(err);
    }
    cascade->before[cascade->count++] = before;
    cascade->after[cascade->after_count++] = after;
    return 0;
}

/*
 * sqlite_fail_dependants - see sqlite/internal.h (job_primitives.fail_dependants):
 * every HELD or QUEUED job depending on root_id, directly or not, becomes
 * status (FAILED) with error_text. Runs inside the caller's write transaction.
 */
int sqlite_fail_dependants(void *backend, const char *root_id, enum job_status status,
                           const char *error_text, int64_t now_ms, struct job_cascade *ret,
                           struct iq_error *err)
{
    struct sqlite_store *s = backend;
    struct id_list list = {0};
    memset(ret, 0, sizeof(*ret));
    int rc = waiting_dependants(s, root_id, &list, err);
    for (size_t i = 0; rc == 0 && i < list.count; i++) {
        const char *id = list.ids[i];
        struct job *before = NULL, *after = NULL;
        rc = sqlite_read_job(s, id, &before, err);
        if (rc == 0)
            rc = sqlite_finish_waiting_job(s, id, status, error_text, now_ms, err);
        if (rc == 0)
            rc = sqlite_read_job(s, id, &after, err);
        if (rc == 0) {
            rc = cascade_add(ret, before, after, err);
            before = after = NULL;
        }
        rc = rc == 1 ? 0 : rc; /* no longer waiting: nothing to do */
        job_free(before);
        job_free(after);
    }
    free(list.ids);
    return rc;
}

/*
 * sqlite_job_dependents - see store_ops.job_dependents: one statement
 * over the reverse edge index, the rows as one JSON array
 * (job_refs_decode_json).
 */
int sqlite_job_dependents(struct store *base, const char *job_id, struct job_ref_list *ret_list,
                          struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    memset(ret_list, 0, sizeof(*ret_list));
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_JOB_DEPENDENTS, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, job_id);
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = sqlite_stmt_next(s, stmt, "read dependants", err);
    if (rc == 1)
        rc = job_refs_decode_json((const char *)sqlite3_column_text(stmt, 0), ret_list, err);
    stmt_release(stmt);
    return rc < 0 ? rc : 0;
}
