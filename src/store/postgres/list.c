/*
 * postgres/list.c - reading many jobs at once on PostgreSQL: the filtered
 * keyset page of GET /api/v2/import-queue (whole jobs, or summaries that
 * leave the spec's JSON unread), its EXPLAIN (tests check the
 * plan uses an index), and the counts of the status endpoint. Read-only,
 * no transaction, so a lost connection is retried (pg_exec). A page's
 * statement is prepared once per connection and shape (pg_exec_cached).
 */
#include "store/postgres/internal.h"

#include "core/job.h"
#include "core/timeutil.h"
#include "core/uuid7.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* job_list and its EXPLAIN                                            */
/* ------------------------------------------------------------------ */

#define LIST_MAX_PARAMS 12

/* The SQL and parameters of one job_list query. */
struct list_query {
    struct sql_text sql;
    const char *values[LIST_MAX_PARAMS];
    int param_count;
    int term_count;
    int limit;                                       /* rows wanted (one more is fetched) */
    char numbers[LIST_MAX_PARAMS][TIME_RFC3339_LEN]; /* text of number/time params */
    char *status_array;                              /* owned */
    bool status_array_failed;                        /* out of memory building it */
    char *like_pattern;                              /* owned */
};

static void list_query_clear(struct list_query *q)
{
    free(pg_sql_take(&q->sql));
    free(q->status_array);
    free(q->like_pattern);
    memset(q, 0, sizeof(*q));
}

/* list_param - add a parameter; returns its number ($n). */
static int list_param(struct list_query *q, const char *value)
{
    q->values[q->param_count] = value;
    return ++q->param_count;
}

/* list_scratch - a buffer in q for the text of the next parameter (a number or a time). */
static char *list_scratch(struct list_query *q)
{
    return q->numbers[q->param_count];
}

static const char *list_where(struct list_query *q)
{
    return q->term_count++ ? " AND " : " WHERE ";
}

/* status_array_text - "{HELD,QUEUED}" for mask; "{}" when no valid bit is set. */
static char *status_array_text(unsigned mask)
{
    struct sql_text text = {0};
    pg_sql_append(&text, "{");
    bool first = true;
    for (int i = 0; i < JOB_STATUS_COUNT; i++) {
        if (mask & (1u << i)) {
            pg_sql_append(&text, "%s%s", first ? "" : ",", job_status_name((enum job_status)i));
            first = false;
        }
    }
    pg_sql_append(&text, "}");
    return pg_sql_take(&text);
}

/*
 * list_status_term - "q.status = $n" for one status (an ordered index scan
 * on (status, priority, id) can then serve ORDER BY id; PostgreSQL does not
 * keep that order for = ANY), "q.status = ANY($n::text[])" for several.
 */
static void list_status_term(struct list_query *q, unsigned mask)
{
    int single = -1, count = 0;
    for (int i = 0; i < JOB_STATUS_COUNT; i++)
        if (mask & (1u << i)) {
            single = i;
            count++;
        }
    if (count == 1) {
        pg_sql_append(&q->sql, "%sq.status = $%d", list_where(q),
                      list_param(q, job_status_name((enum job_status)single)));
        return;
    }
    q->status_array = status_array_text(mask);
    if (!q->status_array) {
        q->status_array_failed = true;
        return;
    }
    pg_sql_append(&q->sql, "%sq.status = ANY($%d::text[])", list_where(q),
                  list_param(q, q->status_array));
}

/* list_uuid_term - "column = $n::uuid"; a malformed id matches nothing. */
static void list_uuid_term(struct list_query *q, const char *column, const char *id)
{
    if (!uuid_is_valid(id)) {
        pg_sql_append(&q->sql, "%sfalse", list_where(q));
        return;
    }
    pg_sql_append(&q->sql, "%s%s = $%d::uuid", list_where(q), column, list_param(q, id));
}

static void list_time_term(struct list_query *q, const char *op, int64_t ms)
{
    char *text = time_format_rfc3339(ms, list_scratch(q));
    pg_sql_append(&q->sql, "%sq.created_at %s $%d::timestamptz", list_where(q), op,
                  list_param(q, text));
}

static void list_int_term(struct list_query *q, const char *op, int value)
{
    char *text = list_scratch(q);
    snprintf(text, TIME_RFC3339_LEN, "%d", value);
    pg_sql_append(&q->sql, "%sq.priority %s $%d::integer", list_where(q), op, list_param(q, text));
}

/* list_filter_terms - the WHERE terms of filter, only those that filter. */
static int list_filter_terms(struct list_query *q, const struct job_filter *f, struct iq_error *err)
{
    if (f->status_mask)
        list_status_term(q, f->status_mask);
    if (f->priority_min && f->priority_min == f->priority_max) {
        list_int_term(q, "=", f->priority_min); /* equality keeps the index in id order */
    } else {
        if (f->priority_min)
            list_int_term(q, ">=", f->priority_min);
        if (f->priority_max)
            list_int_term(q, "<=", f->priority_max);
    }
    if (q->status_array_failed)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    if (f->created_after_ms)
        list_time_term(q, ">", f->created_after_ms);
    if (f->created_before_ms)
        list_time_term(q, "<", f->created_before_ms);
    if (f->table)
        pg_sql_append(&q->sql, "%sq.target_table = $%d", list_where(q), list_param(q, f->table));
    if (f->q) {
        q->like_pattern = store_like_pattern(f->q);
        if (!q->like_pattern)
            return iq_error_set(err, IQ_E_NOMEM, "out of memory");
        pg_sql_append(&q->sql, "%sq.name ILIKE $%d ESCAPE E'\\\\'", list_where(q),
                      list_param(q, q->like_pattern));
    }
    if (f->orchestration_id)
        list_uuid_term(q, "q.orchestration_id", f->orchestration_id);
    if (f->schedule_id)
        list_uuid_term(q, "q.schedule_id", f->schedule_id);
    if (f->after_id && f->after_id[0]) {
        if (!uuid_is_valid(f->after_id))
            return iq_error_set(err, IQ_E_BAD_REQUEST, "after_id \"%s\" is not a job id",
                                f->after_id);
        pg_sql_append(&q->sql, "%sq.id < $%d::uuid", list_where(q), list_param(q, f->after_id));
    }
    return 0;
}

/*
 * list_query_build - "[EXPLAIN ]SELECT <job columns> ... ORDER BY id DESC
 * LIMIT limit+1" for filter (NULL = no filter), with numbered parameters.
 * Returns 0 (list_query_clear q afterwards, also on failure),
 * IQ_E_BAD_REQUEST for a malformed after_id, IQ_E_NOMEM.
 */
static int list_query_build(const char *select_list, const struct job_filter *filter,
                            bool explain, struct list_query *q, struct iq_error *err)
{
    static const struct job_filter no_filter = {0};
    const struct job_filter *f = filter ? filter : &no_filter;
    memset(q, 0, sizeof(*q));
    q->limit = f->limit <= 0 ? JOB_LIST_LIMIT_DEFAULT : f->limit;
    if (q->limit > JOB_LIST_LIMIT_MAX)
        q->limit = JOB_LIST_LIMIT_MAX;
    pg_sql_append(&q->sql, "%sSELECT %s FROM stg_import_queue q", explain ? "EXPLAIN " : "",
                  select_list);
    int rc = list_filter_terms(q, f, err);
    if (rc < 0)
        return rc;
    /* A literal: the plan kept by pg_exec_cached knows how many rows are
     * wanted, and pages of one size share it. */
    pg_sql_append(&q->sql, " ORDER BY q.id DESC LIMIT %d", q->limit + 1);
    if (q->sql.failed)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    return 0;
}

/* pg_job_list - see store_ops.job_list. */
int pg_job_list(struct store *s, const struct job_filter *filter, struct job_page *ret_page,
                struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret_page, 0, sizeof(*ret_page));
    struct list_query q;
    PGresult *res = NULL;
    int rc = list_query_build(ps->select_list, filter, false, &q, err);
    if (rc == 0)
        rc = pg_exec_cached(ps, "listing jobs", q.sql.data, q.param_count, q.values, &res, err);
    if (rc == 0)
        rc = pg_decode_rows(res, (size_t)q.limit, &ret_page->items, &ret_page->count, err);
    if (rc == 0 && PQntuples(res) > q.limit)
        snprintf(ret_page->next_after_id, sizeof(ret_page->next_after_id), "%s",
                 ret_page->items[ret_page->count - 1]->id);
    PQclear(res);
    list_query_clear(&q);
    return rc;
}

/* The columns of a job summary (enum summary_column), over alias q: no
 * spec JSON is read but the target's mode and the error's code and message. */
static const char summary_select_list[] =
    "q.id, q.name, q.status, q.priority, q.target_table, q.target->>'mode', q.attempt,"
    " q.max_attempts, q.progress_phase, q.rows_read, q.bytes_read, q.bytes_total,"
    " to_char(q.created_at AT TIME ZONE 'UTC', " PG_TIME_FORMAT "),"
    " to_char(q.started_at AT TIME ZONE 'UTC', " PG_TIME_FORMAT "),"
    " to_char(q.finished_at AT TIME ZONE 'UTC', " PG_TIME_FORMAT "),"
    " q.error->>'code', q.error->>'message'";

/* pg_job_list_summary - see store_ops.job_list_summary: job_list's query
 * with the summary's columns. */
int pg_job_list_summary(struct store *s, const struct job_filter *filter,
                        struct job_summary_page *ret_page, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret_page, 0, sizeof(*ret_page));
    struct list_query q;
    PGresult *res = NULL;
    int rc = list_query_build(summary_select_list, filter, false, &q, err);
    if (rc == 0)
        rc = pg_exec_cached(ps, "listing jobs", q.sql.data, q.param_count, q.values, &res, err);
    size_t rows = rc == 0 ? (size_t)PQntuples(res) : 0;
    if (rows > (size_t)q.limit)
        rows = (size_t)q.limit;
    if (rc == 0 && PQnfields(res) != SUMCOL_COUNT)
        rc = iq_error_set(err, IQ_E_INTERNAL, "a job summary has %d columns", PQnfields(res));
    if (rc == 0 && rows > 0 && !(ret_page->items = calloc(rows, sizeof(*ret_page->items))))
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < rows; i++) {
        const char *values[SUMCOL_COUNT];
        for (int c = 0; c < SUMCOL_COUNT; c++)
            values[c] = PQgetisnull(res, (int)i, c) ? NULL : PQgetvalue(res, (int)i, c);
        rc = store_job_summary_decode(values, &ret_page->items[i], err);
        if (rc == 0)
            ret_page->count++;
    }
    if (rc == 0 && PQntuples(res) > q.limit)
        snprintf(ret_page->next_after_id, sizeof(ret_page->next_after_id), "%s",
                 ret_page->items[ret_page->count - 1].id);
    PQclear(res);
    list_query_clear(&q);
    if (rc < 0)
        job_summary_page_clear(ret_page);
    return rc;
}

/* pg_explain_job_list - EXPLAIN of job_list's query; *ret_plan is new (free). */
int pg_explain_job_list(struct store *s, const struct job_filter *filter, char **ret_plan,
                        struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    *ret_plan = NULL;
    struct list_query q;
    PGresult *res = NULL;
    int rc = list_query_build(ps->select_list, filter, true, &q, err);
    if (rc == 0)
        rc = pg_exec(ps, "explaining the job list", q.sql.data, q.param_count, q.values, &res, err);
    list_query_clear(&q);
    if (rc < 0)
        return rc;
    struct sql_text plan = {0};
    for (int i = 0; i < PQntuples(res); i++)
        pg_sql_append(&plan, "%s%s", i ? "\n" : "", PQgetvalue(res, i, 0));
    PQclear(res);
    *ret_plan = pg_sql_take(&plan);
    return *ret_plan ? 0 : iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

/* ------------------------------------------------------------------ */
/* queue_stats                                                         */
/* ------------------------------------------------------------------ */

/*
 * pg_queue_stats - see store_ops.queue_stats: one GROUP BY status pass;
 * completed_24h/failed_24h by finished_at >= now - 24h;
 * oldest_queued_age_s from the oldest QUEUED job's created_at.
 */
int pg_queue_stats(struct store *s, int64_t now_ms, struct queue_stats *ret_stats,
                   struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret_stats, 0, sizeof(*ret_stats));
    if (now_ms <= 0)
        now_ms = pg_now_ms(ps);
    char since[TIME_RFC3339_LEN];
    const char *values[1] = {time_format_rfc3339(now_ms - MS_PER_DAY, since)};
    PGresult *res;
    /* Each part is answered from an index (status, finished_at) or
     * (status, created_at), not by reading the wide job rows. */
    int rc = pg_exec(ps, "counting jobs",
                     "SELECT s.status, s.n,"
                     " CASE WHEN s.status IN ('COMPLETED', 'FAILED') THEN"
                     "  (SELECT count(*) FROM stg_import_queue r"
                     "   WHERE r.status = s.status AND r.finished_at >= $1::timestamptz) END,"
                     " CASE WHEN s.status = 'QUEUED' THEN"
                     "  (SELECT to_char(min(o.created_at) AT TIME ZONE 'UTC', " PG_TIME_FORMAT ")"
                     "   FROM stg_import_queue o WHERE o.status = 'QUEUED') END"
                     " FROM (SELECT status, count(*) AS n FROM stg_import_queue GROUP BY status) s",
                     1, values, &res, err);
    if (rc < 0)
        return rc;
    for (int row = 0; row < PQntuples(res); row++) {
        enum job_status status;
        if (job_status_parse(PQgetvalue(res, row, 0), &status) < 0)
            continue;
        ret_stats->count[status] = pg_text_to_int64(PQgetvalue(res, row, 1));
        int64_t recent = pg_text_to_int64(PQgetvalue(res, row, 2));
        if (status == JOB_COMPLETED)
            ret_stats->completed_24h = recent;
        else if (status == JOB_FAILED)
            ret_stats->failed_24h = recent;
        int64_t oldest_ms;
        if (status == JOB_QUEUED && time_parse_rfc3339(PQgetvalue(res, row, 3), &oldest_ms) == 0 &&
            now_ms > oldest_ms)
            ret_stats->oldest_queued_age_s = (now_ms - oldest_ms) / 1000;
    }
    PQclear(res);
    return 0;
}
