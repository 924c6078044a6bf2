/*
 * postgres/orchestrations.c - orchestrations on PostgreSQL: creating one
 * with all its jobs in one transaction (under PG_LOCK_JOB_GRAPH, like
 * job_create), reading one or a page of them with their jobs in a single
 * statement each (one snapshot, so the status and the jobs agree), and
 * keeping the stored aggregate status current: pg_orchestrations_refresh
 * for every transaction that changes job statuses under the graph lock,
 * pg_orchestration_mark_running for claims. The rules (keys, cycles, the
 * aggregate) are core/orchestration.c; drafting and decoding rows is
 * shared with SQLite (common/orchestration.c). Not here: inserting one
 * job (job_rule_insert, common/job_rules.c, which this file calls per job).
 */
#include "store/common/orchestration.h"
#include "store/postgres/internal.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The orchestration columns over alias c, in enum orchestration_column order. */
#define ORCHESTRATION_SELECT                                                                       \
    "c.id::text, c.name, c.status, c.created_by,"                                                  \
    " to_char(c.created_at AT TIME ZONE 'UTC', " PG_TIME_FORMAT "),"                               \
    " to_char(c.updated_at AT TIME ZONE 'UTC', " PG_TIME_FORMAT "), c.detail::text"

/* ------------------------------------------------------------------ */
/* The aggregate status                                                */
/* ------------------------------------------------------------------ */

/*
 * refresh_one - lock orchestration id's row, then (a new statement, so a
 * new snapshot that sees every change committed before the lock was
 * granted) count its jobs and store the status they give when it changed.
 */
static int refresh_one(struct pg_store *ps, const char *id, struct iq_error *err)
{
    const char *values[3] = {id, NULL, NULL};
    int rc = pg_exec(ps, "locking an orchestration",
                     "SELECT 1 FROM stg_import_coordination WHERE id = $1::uuid FOR UPDATE", 1,
                     values, NULL, err);
    PGresult *res = NULL;
    if (rc == 0)
        rc = pg_exec(ps, "counting orchestration jobs",
                     "SELECT status, CASE WHEN attempt > 0 THEN 1 ELSE 0 END, count(*)"
                     " FROM stg_import_queue WHERE orchestration_id = $1::uuid GROUP BY 1, 2",
                     1, values, &res, err);
    if (rc < 0)
        return rc;
    struct orchestration_tally tally = {0};
    for (int row = 0; row < PQntuples(res) && rc == 0; row++) {
        enum job_status status;
        if (job_status_parse(PQgetvalue(res, row, 0), &status) < 0)
            rc = iq_error_set(err, IQ_E_DB, "a job of orchestration %s has status \"%s\"", id,
                              PQgetvalue(res, row, 0));
        else
            orchestration_tally_add(&tally, status, pg_text_to_int64(PQgetvalue(res, row, 1)),
                                    pg_text_to_int64(PQgetvalue(res, row, 2)));
    }
    PQclear(res);
    if (rc < 0)
        return rc;
    char now[TIME_RFC3339_LEN];
    values[1] = job_status_name(orchestration_status(&tally));
    values[2] = time_format_rfc3339(pg_now_ms(ps), now);
    return pg_exec(ps, "updating an orchestration's status",
                   "UPDATE stg_import_coordination SET status = $2,"
                   " updated_at = " PG_NEXT_UPDATED_AT("$3", "updated_at")
                   " WHERE id = $1::uuid AND kind = 'orchestration' AND status <> $2",
                   3, values, NULL, err);
}

static int compare_ids(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* pg_orchestrations_refresh - see postgres/internal.h. */
int pg_orchestrations_refresh(struct pg_store *ps, const struct job *job,
                              const struct job_cascade *cascade, struct iq_error *err)
{
    size_t jobs = (job ? 1 : 0) + (cascade ? cascade->after_count : 0);
    if (jobs == 0)
        return 0;
    const char **ids = calloc(jobs, sizeof(*ids));
    if (!ids)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    size_t count = 0;
    if (job && job->orchestration_id)
        ids[count++] = job->orchestration_id;
    for (size_t i = 0; cascade && i < cascade->after_count; i++)
        if (cascade->after[i]->orchestration_id)
            ids[count++] = cascade->after[i]->orchestration_id;
    qsort(ids, count, sizeof(*ids), compare_ids); /* the lock order: by id */
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++)
        if (i == 0 || strcasecmp(ids[i], ids[i - 1]) != 0)
            rc = refresh_one(ps, ids[i], err);
    free(ids);
    return rc;
}

/* pg_orchestration_mark_running - see postgres/internal.h. */
int pg_orchestration_mark_running(struct pg_store *ps, const char *orchestration_id,
                                  struct iq_error *err)
{
    if (!orchestration_id)
        return 0;
    char now[TIME_RFC3339_LEN];
    const char *values[2] = {orchestration_id, time_format_rfc3339(pg_now_ms(ps), now)};
    return pg_exec(ps, "marking an orchestration running",
                   "UPDATE stg_import_coordination SET status = 'RUNNING',"
                   " updated_at = " PG_NEXT_UPDATED_AT("$2", "updated_at")
                   " WHERE id = $1::uuid AND kind = 'orchestration' AND status <> 'RUNNING'",
                   2, values, NULL, err);
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

/*
 * decode_joined - rows of "<job columns>, <orchestration columns>", one
 * per job, ordered by orchestration (id descending) then job id: each
 * orchestration once into page->items (room for them allocated by the
 * caller), its keys into keys[], and every job handed to its item.
 */
static int decode_joined(const PGresult *res, struct orchestration_page *page, json_t **keys,
                         struct iq_error *err)
{
    struct job **jobs = NULL;
    size_t job_count = 0;
    int rc = pg_decode_rows(res, SIZE_MAX, &jobs, &job_count, err);
    for (int row = 0; rc == 0 && row < PQntuples(res); row++) {
        const char *values[ORCHCOL_COUNT];
        for (int c = 0; c < ORCHCOL_COUNT; c++)
            values[c] = PQgetisnull(res, row, JOBCOL_COUNT + c)
                            ? NULL
                            : PQgetvalue(res, row, JOBCOL_COUNT + c);
        bool seen =
            page->count > 0 && strcasecmp(page->items[page->count - 1].id, values[ORCHCOL_ID]) == 0;
        if (seen)
            continue;
        rc = orchestration_decode_row(values, &page->items[page->count], &keys[page->count], err);
        if (rc == 0)
            page->count++;
    }
    if (rc == 0)
        rc = orchestration_page_fill(page, keys, jobs, job_count, err);
    for (size_t i = 0; i < job_count; i++)
        job_free(jobs[i]); /* NULL once handed over */
    free(jobs);
    return rc;
}

/*
 * pg_orchestration_get - see store_ops.orchestration_get. One statement
 * (the row joined to its jobs): IQ_E_NOT_FOUND for an unknown or
 * malformed id.
 */
int pg_orchestration_get(struct store *s, const char *id, struct orchestration *ret_orch,
                         struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret_orch, 0, sizeof(*ret_orch));
    if (!id || !uuid_is_valid(id))
        return iq_error_set(err, IQ_E_NOT_FOUND, "orchestration %s not found", id ? id : "(null)");
    struct sql_text sql = {0};
    pg_sql_append(&sql,
                  "SELECT %s, " ORCHESTRATION_SELECT " FROM stg_import_coordination c"
                  " JOIN stg_import_queue q ON q.orchestration_id = c.id"
                  " WHERE c.id = $1::uuid AND c.kind = 'orchestration' ORDER BY q.id",
                  ps->select_list);
    char *text = pg_sql_take(&sql);
    if (!text)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    const char *values[1] = {id};
    PGresult *res = NULL;
    int rc = pg_exec(ps, "reading an orchestration", text, 1, values, &res, err);
    free(text);
    if (rc < 0)
        return rc;
    struct orchestration_page page = {.items = ret_orch};
    json_t *keys = NULL;
    if (PQntuples(res) == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "orchestration %s not found", id);
    else
        rc = decode_joined(res, &page, &keys, err);
    PQclear(res);
    json_decref(keys);
    if (rc < 0)
        orchestration_clear(ret_orch);
    return rc;
}

/*
 * pg_orchestration_list - see store_ops.orchestration_list. One
 * statement: a page of rows (keyset on id, newest first; one more is
 * looked at to know whether another page follows) joined to their jobs.
 * IQ_E_BAD_REQUEST for a bad limit or after_id.
 */
int pg_orchestration_list(struct store *s, int limit, const char *after_id,
                          struct orchestration_page *ret_page, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret_page, 0, sizeof(*ret_page));
    int rc = orchestration_list_check(limit, after_id, &limit, err);
    if (rc < 0)
        return rc;
    struct sql_text sql = {0};
    pg_sql_append(&sql,
                  "WITH page AS (SELECT c.*, row_number() OVER (ORDER BY c.id DESC) AS n"
                  " FROM stg_import_coordination c WHERE c.kind = 'orchestration'"
                  " AND ($1::uuid IS NULL OR c.id < $1::uuid) ORDER BY c.id DESC"
                  " LIMIT $2::integer + 1)"
                  " SELECT %s, " ORCHESTRATION_SELECT ", (SELECT count(*) FROM page) > $2::integer"
                  " FROM page c JOIN stg_import_queue q ON q.orchestration_id = c.id"
                  " WHERE c.n <= $2::integer ORDER BY c.id DESC, q.id",
                  ps->select_list);
    char *text = pg_sql_take(&sql);
    json_t **keys = calloc((size_t)limit, sizeof(*keys));
    ret_page->items = calloc((size_t)limit, sizeof(*ret_page->items));
    if (!text || !keys || !ret_page->items) {
        free(text);
        free(keys);
        orchestration_page_clear(ret_page);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    char limit_text[16];
    snprintf(limit_text, sizeof(limit_text), "%d", limit);
    const char *values[2] = {after_id && after_id[0] ? after_id : NULL, limit_text};
    PGresult *res = NULL;
    rc = pg_exec(ps, "listing orchestrations", text, 2, values, &res, err);
    free(text);
    if (rc == 0)
        rc = decode_joined(res, ret_page, keys, err);
    bool more = rc == 0 && PQntuples(res) > 0 &&
                strcmp(PQgetvalue(res, 0, JOBCOL_COUNT + ORCHCOL_COUNT), "t") == 0;
    if (more)
        memcpy(ret_page->next_after_id, ret_page->items[ret_page->count - 1].id, UUID_STR_LEN);
    PQclear(res);
    for (size_t i = 0; i < (size_t)limit; i++)
        json_decref(keys[i]);
    free(keys);
    if (rc < 0)
        orchestration_page_clear(ret_page);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Creating                                                            */
/* ------------------------------------------------------------------ */

/* insert_row - the stg_import_coordination row of draft, QUEUED until refreshed. */
static int insert_row(struct pg_store *ps, const struct orchestration_draft *draft,
                      const struct audit_context *actx, struct iq_error *err)
{
    char now[TIME_RFC3339_LEN];
    const char *values[5] = {draft->id, draft->name, draft->detail_text, actx->actor,
                             time_format_rfc3339(pg_now_ms(ps), now)};
    return pg_exec(ps, "inserting an orchestration",
                   "INSERT INTO stg_import_coordination (id, kind, name, status, detail,"
                   " created_by, created_at, updated_at) VALUES ($1::uuid, 'orchestration', $2,"
                   " 'QUEUED', $3::jsonb, $4, $5::timestamptz, $5::timestamptz)",
                   5, values, NULL, err);
}

/*
 * insert_jobs - every job of draft in its insert order (each after the
 * jobs it waits for, so their edges can be written), all pointing at the
 * orchestration; jobs[i] gets job i (request order).
 */
static int insert_jobs(struct pg_store *ps, const struct orchestration_draft *draft,
                       const struct audit_context *actx, struct job **jobs, struct iq_error *err)
{
    int64_t now_ms = pg_now_ms(ps);
    struct pg_rule_tx tx = {.ps = ps};
    const char *created_by = actx && actx->actor ? actx->actor : NULL;
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < draft->job_count; k++) {
        size_t i = draft->plan.order[k];
        struct job_create_request req = {.spec = &draft->specs[i], .orchestration_id = draft->id};
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "jobs[%zu].", i);
        rc = job_rule_insert(&pg_job_primitives, &tx, draft->job_ids[i], &req, created_by, now_ms,
                             prefix, &jobs[i], err);
    }
    pg_rule_tx_clear(&tx);
    return rc;
}

/* audit_created - a job.create row per job (request order), then orchestration.create. */
static int audit_created(struct pg_store *ps, const struct audit_context *actx,
                         const struct orchestration *orch, struct iq_error *err)
{
    for (size_t i = 0; i < orch->job_count; i++) {
        int rc = pg_audit_job_change(ps, actx, "job.create", NULL, orch->jobs[i], err);
        if (rc < 0)
            return rc;
    }
    char *image = orchestration_audit_text(orch);
    if (!image)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    int rc = pg_audit_append(ps, actx, "orchestration.create", "orchestration", orch->id, NULL,
                             image, err);
    free(image);
    return rc;
}

/* any_queued - whether a job of orch is QUEUED (idle workers should look). */
static bool any_queued(const struct orchestration *orch)
{
    for (size_t i = 0; i < orch->job_count; i++)
        if (orch->jobs[i]->status == JOB_QUEUED)
            return true;
    return false;
}

/*
 * create_in_tx - orchestration_create's body inside its transaction: the
 * graph lock, the capacity for all the jobs at once, the row, the jobs,
 * the status, then NOTIFY and the audit rows last (PG_LOCK_AUDIT is held
 * from the first audit row to COMMIT, so nothing that waits on job rows
 * may follow it).
 */
static int create_in_tx(struct pg_store *ps, const struct orchestration_request *req,
                        const struct orchestration_draft *draft, const struct audit_context *actx,
                        struct orchestration *ret_orch, struct iq_error *err)
{
    struct job **jobs = calloc(draft->job_count, sizeof(*jobs));
    if (!jobs)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    int rc = pg_lock_graph(ps, err);
    if (rc == 0)
        rc = job_rule_capacity(&pg_job_primitives, &(struct pg_rule_tx){.ps = ps},
                               req->max_queue_size, draft->job_count, err);
    if (rc == 0)
        rc = insert_row(ps, draft, actx, err);
    if (rc == 0)
        rc = insert_jobs(ps, draft, actx, jobs, err);
    if (rc == 0)
        rc = refresh_one(ps, draft->id, err);
    if (rc == 0)
        rc = pg_orchestration_get(&ps->base, draft->id, ret_orch, err);
    if (rc == 0 && any_queued(ret_orch))
        rc = pg_notify_work(ps, "created", err); /* idle workers wake at our COMMIT */
    if (rc == 0)
        rc = audit_created(ps, actx, ret_orch, err);
    for (size_t i = 0; i < draft->job_count; i++)
        job_free(jobs[i]);
    free(jobs);
    return rc;
}

/*
 * pg_orchestration_create - see store_ops.orchestration_create. The
 * request is checked and drafted first (no SQL), then one transaction
 * does everything (create_in_tx); any failure rolls all of it back.
 * *ret_orch: orchestration_clear it.
 */
int pg_orchestration_create(struct store *s, const struct orchestration_request *req,
                            const struct audit_context *actx, struct orchestration *ret_orch,
                            struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret_orch, 0, sizeof(*ret_orch));
    struct orchestration_draft draft = {0};
    int rc = 0;
    if (!actx || !actx->actor)
        rc = iq_error_set(err, IQ_E_INTERNAL, "a mutation needs an audit actor");
    if (rc == 0)
        rc = orchestration_draft_build(req, pg_now_ms(ps), &draft, err);
    if (rc == 0)
        rc = pg_tx_begin(ps, err);
    if (rc == 0)
        rc = pg_tx_finish(ps, create_in_tx(ps, req, &draft, actx, ret_orch, err), err);
    if (rc < 0)
        orchestration_clear(ret_orch);
    orchestration_draft_clear(&draft);
    return rc;
}
