/*
 * sqlite/list.c - reading many jobs on SQLite: keyset pages of
 * job_list (whole jobs, or summaries that leave the spec's JSON unread)
 * with only the WHERE terms a filter needs, the query plan of
 * that SQL (explain_job_list), and the counts of queue_stats. Read-only.
 */
#include "store/sqlite/internal.h"

#include <stdlib.h>
#include <string.h>

#define DAY_MS (24 * 3600 * INT64_C(1000))

/* ------------------------------------------------------------------------
 * Listing and statistics
 * ------------------------------------------------------------------------ */

/* One per status, two priorities, two times, five exact matches, the limit. */
#define LIST_MAX_PARAMS (JOB_STATUS_COUNT + 10)

/* One parameter of a job_list query: text (borrowed) or integer. */
struct list_param {
    const char *text;
    int64_t number;
    bool is_text;
};

/*
 * struct list_query - the SQL of job_list for one filter, with only the
 * WHERE terms it needs and its parameters in order. Values are never
 * written into the SQL. Clear with list_query_clear.
 */
struct list_query {
    char *sql; /* sqlite3_malloc'd */
    struct list_param params[LIST_MAX_PARAMS];
    int param_count;
    int limit;          /* items per page; the SQL fetches one more */
    char *like_pattern; /* owned */
    char created_after[TIME_RFC3339_LEN];
    char created_before[TIME_RFC3339_LEN];
};

static void list_query_clear(struct list_query *query)
{
    sqlite3_free(query->sql);
    free(query->like_pattern);
    memset(query, 0, sizeof(*query));
}

static void add_text_param(struct list_query *query, const char *text)
{
    query->params[query->param_count++] = (struct list_param){.text = text, .is_text = true};
}

static void add_int_param(struct list_query *query, int64_t number)
{
    query->params[query->param_count++] = (struct list_param){.number = number};
}

/* add_term - " WHERE term" for the first, " AND term" after. */
static void add_term(sqlite3_str *sql, bool *first, const char *term)
{
    sqlite3_str_appendall(sql, *first ? " WHERE " : " AND ");
    sqlite3_str_appendall(sql, term);
    *first = false;
}

/* add_status_term - "f.status IN (?, ...)" for the statuses in mask. */
static void add_status_term(struct list_query *query, sqlite3_str *sql, bool *first, unsigned mask)
{
    add_term(sql, first, "f.status IN (");
    const char *separator = "";
    for (int status = 0; status < JOB_STATUS_COUNT; status++) {
        if (!(mask & (1u << status)))
            continue;
        sqlite3_str_appendall(sql, separator);
        sqlite3_str_appendall(sql, "?");
        add_text_param(query, job_status_name((enum job_status)status));
        separator = ", ";
    }
    sqlite3_str_appendall(sql, ")");
}

/* add_filter_terms - the WHERE terms (and their parameters) of filter. */
static int add_filter_terms(struct list_query *query, sqlite3_str *sql,
                            const struct job_filter *filter, struct iq_error *err)
{
    bool first = true;
    unsigned mask = filter->status_mask & ((1u << JOB_STATUS_COUNT) - 1);
    if (mask)
        add_status_term(query, sql, &first, mask);
    if (filter->priority_min) {
        add_term(sql, &first, "f.priority >= ?");
        add_int_param(query, filter->priority_min);
    }
    if (filter->priority_max) {
        add_term(sql, &first, "f.priority <= ?");
        add_int_param(query, filter->priority_max);
    }
    if (filter->created_after_ms) {
        add_term(sql, &first, "f.created_at > ?");
        add_text_param(query, time_format_rfc3339(filter->created_after_ms, query->created_after));
    }
    if (filter->created_before_ms) {
        add_term(sql, &first, "f.created_at < ?");
        add_text_param(query,
                       time_format_rfc3339(filter->created_before_ms, query->created_before));
    }
    if (filter->table) {
        add_term(sql, &first, "f.target_table = ?");
        add_text_param(query, filter->table);
    }
    if (filter->q) {
        if (!(query->like_pattern = store_like_pattern(filter->q)))
            return nomem(err);
        add_term(sql, &first, "f.name LIKE ? ESCAPE '\\'");
        add_text_param(query, query->like_pattern);
    }
    if (filter->orchestration_id) {
        add_term(sql, &first, "f.orchestration_id = ?");
        add_text_param(query, filter->orchestration_id);
    }
    if (filter->schedule_id) {
        add_term(sql, &first, "f.schedule_id = ?");
        add_text_param(query, filter->schedule_id);
    }
    if (filter->after_id && filter->after_id[0]) {
        add_term(sql, &first, "f.id < ?");
        add_text_param(query, filter->after_id);
    }
    return 0;
}

/*
 * list_query_build - the job_list SQL for filter (prefixed by prefix, e.g.
 * "EXPLAIN QUERY PLAN "): newest first, limit + 1 rows so the caller knows
 * whether another page follows. Clear with list_query_clear.
 *
 * The filter picks ids in a subquery and only the chosen page is read in
 * full. SQLite builds every selected row before sorting, so filtering,
 * sorting and limiting the whole row (JSON columns, the dependency
 * subquery) cost 10-15x more at 100,000 jobs than sorting ids from a
 * covering index such as stg_import_queue_status_priority.
 */
static int list_query_build(const struct job_filter *filter, const char *prefix,
                            const char *select, struct list_query *ret_query,
                            struct iq_error *err)
{
    memset(ret_query, 0, sizeof(*ret_query));
    int limit = filter->limit > 0 ? filter->limit : JOB_LIST_LIMIT_DEFAULT;
    ret_query->limit = limit > JOB_LIST_LIMIT_MAX ? JOB_LIST_LIMIT_MAX : limit;
    sqlite3_str *sql = sqlite3_str_new(NULL);
    sqlite3_str_appendall(sql, prefix);
    sqlite3_str_appendall(sql, select);
    sqlite3_str_appendall(sql, " WHERE q.id IN (SELECT f.id FROM stg_import_queue f");
    int rc = add_filter_terms(ret_query, sql, filter, err);
    sqlite3_str_appendall(sql, " ORDER BY f.id DESC LIMIT ?) ORDER BY q.id DESC");
    add_int_param(ret_query, ret_query->limit + 1);
    bool failed = sqlite3_str_errcode(sql) != SQLITE_OK;
    ret_query->sql = sqlite3_str_finish(sql);
    if (rc == 0 && (failed || !ret_query->sql))
        rc = nomem(err);
    if (rc < 0)
        list_query_clear(ret_query);
    return rc;
}

/*
 * list_query_prepare - prepare (not cached: its shape varies with the
 * filter) and bind query. *ret_stmt: sqlite3_finalize.
 */
static int list_query_prepare(struct sqlite_store *s, const struct list_query *query,
                              sqlite3_stmt **ret_stmt, struct iq_error *err)
{
    *ret_stmt = NULL;
    if (sqlite3_prepare_v3(s->db, query->sql, -1, 0, ret_stmt, NULL) != SQLITE_OK) {
        sqlite3_finalize(*ret_stmt);
        *ret_stmt = NULL;
        return sqlite_db_error(s, "prepare job list", err);
    }
    struct binder b = binder_start(*ret_stmt);
    for (int i = 0; i < query->param_count; i++) {
        if (query->params[i].is_text)
            bind_text(&b, query->params[i].text);
        else
            bind_int64(&b, query->params[i].number);
    }
    if (sqlite_binder_check(s, &b, err) < 0) {
        sqlite3_finalize(*ret_stmt);
        *ret_stmt = NULL;
        return IQ_E_DB;
    }
    return 0;
}

/* read_page - step a bound list statement into page (limit items at most). */
static int read_page(struct sqlite_store *s, sqlite3_stmt *stmt, int limit, struct job_page *page,
                     struct iq_error *err)
{
    page->items = calloc((size_t)limit, sizeof(*page->items));
    if (!page->items)
        return nomem(err);
    int rc;
    while ((rc = sqlite_stmt_next(s, stmt, "list jobs", err)) == 1) {
        if (page->count == (size_t)limit) {
            /* The extra row: another page follows this one. */
            memcpy(page->next_after_id, page->items[limit - 1]->id, UUID_STR_LEN);
            stmt_release(stmt);
            return 0;
        }
        rc = sqlite_row_to_job(stmt, &page->items[page->count], err);
        if (rc < 0) {
            stmt_release(stmt);
            return rc;
        }
        page->count++;
    }
    return rc;
}

/* sqlite_job_list - see store_ops.job_list. One statement: a consistent
 * snapshot. */
int sqlite_job_list(struct store *base, const struct job_filter *filter, struct job_page *ret_page,
                    struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    static const struct job_filter no_filter = {0};
    memset(ret_page, 0, sizeof(*ret_page));
    struct list_query query;
    int rc = list_query_build(filter ? filter : &no_filter, "", JOB_SELECT, &query, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *stmt = NULL;
    rc = list_query_prepare(s, &query, &stmt, err);
    if (rc == 0)
        rc = read_page(s, stmt, query.limit, ret_page, err);
    sqlite3_finalize(stmt);
    list_query_clear(&query);
    if (rc < 0)
        job_page_clear(ret_page);
    return rc;
}

/* The columns of a job summary (enum summary_column) over alias q: no
 * spec JSON is decoded but the target's mode and the error's code and
 * message. */
#define SUMMARY_SELECT                                                                             \
    "SELECT q.id, q.name, q.status, q.priority, q.target_table,"                                   \
    " json_extract(q.target, '$.mode'), q.attempt, q.max_attempts, q.progress_phase,"             \
    " q.rows_read, q.bytes_read, q.bytes_total, q.created_at, q.started_at, q.finished_at,"       \
    " json_extract(q.error, '$.code'), json_extract(q.error, '$.message')"                        \
    " FROM stg_import_queue q"

/* read_summaries - step a bound summary statement into page (limit items at most). */
static int read_summaries(struct sqlite_store *s, sqlite3_stmt *stmt, int limit,
                          struct job_summary_page *page, struct iq_error *err)
{
    page->items = calloc((size_t)limit, sizeof(*page->items));
    if (!page->items)
        return nomem(err);
    int rc;
    while ((rc = sqlite_stmt_next(s, stmt, "list jobs", err)) == 1) {
        if (page->count == (size_t)limit) {
            memcpy(page->next_after_id, page->items[limit - 1].id, UUID_STR_LEN);
            stmt_release(stmt);
            return 0;
        }
        const char *values[SUMCOL_COUNT];
        for (int i = 0; i < SUMCOL_COUNT; i++) {
            bool ok;
            values[i] = sqlite_column_text_or_error(stmt, i, &ok);
            if (!ok) {
                stmt_release(stmt);
                return nomem(err);
            }
        }
        rc = store_job_summary_decode(values, &page->items[page->count], err);
        if (rc < 0) {
            stmt_release(stmt);
            return rc;
        }
        page->count++;
    }
    return rc;
}

/* sqlite_job_list_summary - see store_ops.job_list_summary: job_list's
 * statement with the summary's columns. */
int sqlite_job_list_summary(struct store *base, const struct job_filter *filter,
                            struct job_summary_page *ret_page, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    static const struct job_filter no_filter = {0};
    memset(ret_page, 0, sizeof(*ret_page));
    struct list_query query;
    int rc = list_query_build(filter ? filter : &no_filter, "", SUMMARY_SELECT, &query, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *stmt = NULL;
    rc = list_query_prepare(s, &query, &stmt, err);
    if (rc == 0)
        rc = read_summaries(s, stmt, query.limit, ret_page, err);
    sqlite3_finalize(stmt);
    list_query_clear(&query);
    if (rc < 0)
        job_summary_page_clear(ret_page);
    return rc;
}

/*
 * sqlite_explain_job_list - EXPLAIN QUERY PLAN of job_list's SQL for
 * filter: the plan's detail lines joined by newlines. *ret_plan: free().
 */
int sqlite_explain_job_list(struct store *base, const struct job_filter *filter, char **ret_plan,
                            struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    static const struct job_filter no_filter = {0};
    *ret_plan = NULL;
    struct list_query query;
    int rc = list_query_build(filter ? filter : &no_filter, "EXPLAIN QUERY PLAN ", JOB_SELECT,
                              &query, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *stmt = NULL;
    rc = list_query_prepare(s, &query, &stmt, err);
    sqlite3_str *plan = sqlite3_str_new(NULL);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "explain job list", err)) == 1) {
        const char *detail = (const char *)sqlite3_column_text(stmt, 3);
        if (sqlite3_str_length(plan) > 0)
            sqlite3_str_appendchar(plan, 1, '\n');
        sqlite3_str_appendall(plan, detail ? detail : "");
        rc = 0;
    }
    sqlite3_finalize(stmt);
    list_query_clear(&query);
    bool failed = sqlite3_str_errcode(plan) != SQLITE_OK;
    char *text = sqlite3_str_finish(plan);
    if (rc == 0 && failed)
        rc = nomem(err);
    if (rc == 0 && !(*ret_plan = strdup(text ? text : "")))
        rc = nomem(err);
    sqlite3_free(text);
    return rc;
}

/* finished_since - jobs of status finished at or after since_ms. */
static int finished_since(struct sqlite_store *s, enum job_status status, int64_t since_ms,
                          int64_t *ret_count, struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_STATS_FINISHED_SINCE, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, job_status_name(status));
    bind_time(&b, since_ms);
    int rc = sqlite_binder_check(s, &b, err);
    return rc < 0 ? rc : sqlite_read_int64(s, stmt, "count finished jobs", ret_count, err);
}

/* count_by_status - stats->count[] from the counters of importq_status_counts (migration 011). */
static int count_by_status(struct sqlite_store *s, struct queue_stats *stats, struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_STATS_COUNTS, err);
    if (!stmt)
        return IQ_E_DB;
    int rc;
    while ((rc = sqlite_stmt_next(s, stmt, "count jobs by status", err)) == 1) {
        enum job_status status;
        if (job_status_parse((const char *)sqlite3_column_text(stmt, 0), &status) == 0)
            stats->count[status] = sqlite3_column_int64(stmt, 1);
    }
    return rc;
}

/* oldest_queued_age - seconds since the oldest QUEUED job was created; 0 when
 * none. */
static int oldest_queued_age(struct sqlite_store *s, int64_t now_ms, int64_t *ret_age_s,
                             struct iq_error *err)
{
    *ret_age_s = 0;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_STATS_OLDEST_QUEUED, err);
    if (!stmt)
        return IQ_E_DB;
    int rc = sqlite_stmt_next(s, stmt, "find oldest queued job", err);
    if (rc <= 0)
        return rc;
    const char *text = (const char *)sqlite3_column_text(stmt, 0);
    int64_t created_ms = now_ms;
    rc = 0;
    if (text && time_parse_rfc3339(text, &created_ms) != 0)
        rc = iq_error_set(err, IQ_E_DB, "a queued job has an unreadable created_at \"%s\"", text);
    else if (now_ms > created_ms)
        *ret_age_s = (now_ms - created_ms) / 1000;
    stmt_release(stmt);
    return rc;
}

/* stats_locked - the queries of queue_stats, inside one read transaction. */
static int stats_locked(struct sqlite_store *s, int64_t now_ms, struct queue_stats *stats,
                        struct iq_error *err)
{
    int rc = count_by_status(s, stats, err);
    if (rc == 0)
        rc = finished_since(s, JOB_COMPLETED, now_ms - DAY_MS, &stats->completed_24h, err);
    if (rc == 0)
        rc = finished_since(s, JOB_FAILED, now_ms - DAY_MS, &stats->failed_24h, err);
    if (rc == 0)
        rc = oldest_queued_age(s, now_ms, &stats->oldest_queued_age_s, err);
    return rc;
}

/*
 * sqlite_queue_stats - see store_ops.queue_stats. The queries share one
 * read snapshot (a deferred, read-only transaction: it never upgrades).
 * now_ms <= 0 means the current time.
 */
int sqlite_queue_stats(struct store *base, int64_t now_ms, struct queue_stats *ret_stats,
                       struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    memset(ret_stats, 0, sizeof(*ret_stats));
    if (now_ms <= 0)
        now_ms = sqlite_now_ms(s);
    int rc = sqlite_run_cached(s, STMT_BEGIN_READ, "begin read transaction", err);
    if (rc < 0)
        return rc;
    rc = sqlite_tx_finish(s, stats_locked(s, now_ms, ret_stats, err), err);
    if (rc < 0)
        memset(ret_stats, 0, sizeof(*ret_stats));
    return rc;
}
