/*
 * scheduler.c - the per-tick cost of the scheduler (issue 15) with many
 * schedules: a fresh, migrated database gets SCHEDULES schedules (bulk
 * SQL: creating schedules is not what is timed), then
 *   1. idle ticks: ROUNDS scheduler_tick calls while none is due (what a
 *      leader pays every poll): mean and p99;
 *   2. a full tick: every schedule due at once (as after a restart or at
 *      midnight for a daily schedule): scheduler_tick until nothing is
 *      due, each schedule one job through store_schedule_fire; fires/s.
 * The next-fire computation alone is bench/cron.c's.
 *
 *   scheduler DB_URL SCHEDULES [ROUNDS]      (ROUNDS default 200)
 *
 * Prints one logfmt line. The database must be empty (give it a fresh one).
 * Not for: a test (it asserts nothing).
 */
#include "core/timeutil.h"
#include "engine/scheduler.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct audit_context bench_actor = {"scheduler", NULL, NULL};

/* $1 count, $2 next_run_at (RFC 3339). */
static const char pg_fill_sql[] =
    "INSERT INTO stg_scheduled_imports (id, name, cron, timezone, job_spec, misfire, overlap,"
    " enabled, next_run_at, created_at, updated_at)"
    " SELECT gen_random_uuid(), 'bench ' || i, '*/5 * * * *', 'Europe/Zurich',"
    " jsonb_build_object('hold', true, 'source', jsonb_build_object('format', 'csv', 'path',"
    " 'drop-' || i || '-{datetime}.csv'), 'target', jsonb_build_object('table', 't' || i % 8)),"
    " 'run_once', 'allow', true, $2::timestamptz, now(), now()"
    " FROM generate_series(1, $1::integer) AS i";

static const char sqlite_fill_sql[] =
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)"
    " INSERT INTO stg_scheduled_imports (id, name, cron, timezone, job_spec, misfire, overlap,"
    " enabled, next_run_at, created_at, updated_at)"
    " SELECT printf('%08x-0000-7000-8000-%012x', i, i), 'bench ' || i, '*/5 * * * *',"
    " 'Europe/Zurich', json_object('hold', json('true'), 'source', json_object('format', 'csv',"
    " 'path', 'drop-' || i || '-{datetime}.csv'), 'target', json_object('table', 't' || (i % 8))),"
    " 'run_once', 'allow', 1, ?2, ?2, ?2 FROM n";

/* run_sql - the fill (count, time) on a connection of its own; count < 0:
 * only the time, as $1. 0 or -1 (printed). */
static int run_sql(const char *url, const char *pg_sql, const char *sqlite_sql, long count,
                   const char *time_text)
{
    if (strncmp(url, "sqlite:", 7) == 0) {
        sqlite3 *db = NULL;
        sqlite3_stmt *stmt = NULL;
        int rc = sqlite3_open(url + 7, &db);
        if (rc == SQLITE_OK)
            rc = sqlite3_prepare_v2(db, sqlite_sql, -1, &stmt, NULL);
        if (rc == SQLITE_OK && count >= 0)
            rc = sqlite3_bind_int64(stmt, 1, count);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(stmt, count >= 0 ? 2 : 1, time_text, -1, SQLITE_TRANSIENT);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_finalize(stmt);
        if (rc != SQLITE_OK)
            fprintf(stderr, "scheduler: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        return rc == SQLITE_OK ? 0 : -1;
    }
    PGconn *conn = PQconnectdb(url);
    char count_text[24];
    snprintf(count_text, sizeof(count_text), "%ld", count);
    const char *values[2] = {count >= 0 ? count_text : time_text, time_text};
    PGresult *res = PQexecParams(conn, pg_sql, count >= 0 ? 2 : 1, NULL, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc < 0)
        fprintf(stderr, "scheduler: %s", PQerrorMessage(conn));
    PQclear(res);
    if (rc == 0) {
        res = PQexec(conn, "VACUUM ANALYZE stg_scheduled_imports");
        PQclear(res);
    }
    PQfinish(conn);
    return rc;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* idle_ticks - rounds ticks at now_ms with nothing due; mean and p99 (us). */
static int idle_ticks(struct store *store, const struct scheduler_policy *policy, int64_t now_ms,
                      long rounds, int64_t *ret_mean, int64_t *ret_p99)
{
    int64_t *samples = calloc((size_t)rounds, sizeof(*samples));
    int64_t sum = 0;
    for (long i = 0; samples && i < rounds; i++) {
        struct scheduler_tick_report report;
        struct iq_error err = {0};
        int64_t start = now_us();
        int rc = scheduler_tick(store, policy, now_ms, &report, &err);
        samples[i] = now_us() - start;
        sum += samples[i];
        if (rc < 0 || report.jobs + report.skipped > 0) {
            fprintf(stderr, "scheduler: an idle tick: %s\n", iq_error_message(&err));
            free(samples);
            return -1;
        }
    }
    if (!samples)
        return -1;
    qsort(samples, (size_t)rounds, sizeof(*samples), compare_int64);
    *ret_mean = sum / rounds;
    *ret_p99 = samples[(rounds * 99) / 100];
    free(samples);
    return 0;
}

/* fire_all - tick at now_ms until nothing fires; jobs and ticks counted. */
static int fire_all(struct store *store, const struct scheduler_policy *policy, int64_t now_ms,
                    long *ret_jobs, long *ret_ticks)
{
    *ret_jobs = *ret_ticks = 0;
    for (;;) {
        struct scheduler_tick_report report;
        struct iq_error err = {0};
        if (scheduler_tick(store, policy, now_ms, &report, &err) < 0 || report.failures > 0) {
            fprintf(stderr, "scheduler: a tick: %s\n", iq_error_message(&err));
            return -1;
        }
        (*ret_ticks)++;
        *ret_jobs += report.jobs;
        if (report.jobs + report.skipped == 0)
            return 0;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: scheduler DB_URL SCHEDULES [ROUNDS]\n");
        return 2;
    }
    const char *url = argv[1];
    char *end = NULL;
    long schedules = strtol(argv[2], &end, 10);
    long rounds = argc > 3 ? strtol(argv[3], NULL, 10) : 200;
    const char *backend = store_backend_name(url);
    if (!backend || *end || schedules < 1 || schedules > 1000000 || rounds < 1 || rounds > 100000) {
        fprintf(stderr, "scheduler: need a sqlite:/postgres:// URL, 1..1000000 schedules\n");
        return 2;
    }
    struct iq_error err = {0};
    struct store *store = NULL;
    int applied = 0;
    int rc = store_open(url, NULL, &store, &err);
    if (rc == 0)
        rc = store_migrate(store, &applied, &err);
    if (rc < 0) {
        fprintf(stderr, "scheduler: %s\n", iq_error_message(&err));
        store_close(store);
        return 1;
    }
    /* A fire time five minutes away: idle ticks find nothing due. */
    int64_t now_ms = time_now_ms() / 300000 * 300000 + 300000;
    char due[TIME_RFC3339_LEN];
    time_format_rfc3339(now_ms, due);
    int64_t fill_start = now_us();
    if (run_sql(url, pg_fill_sql, sqlite_fill_sql, schedules, due) < 0)
        return 1;
    int64_t fill_ms = (now_us() - fill_start) / 1000;
    struct scheduler_policy policy = {.actor = &bench_actor};
    int64_t idle_mean = 0, idle_p99 = 0;
    if (idle_ticks(store, &policy, now_ms - 60000, rounds, &idle_mean, &idle_p99) < 0)
        return 1;
    long jobs = 0, ticks = 0;
    int64_t start = now_us();
    if (fire_all(store, &policy, now_ms, &jobs, &ticks) < 0)
        return 1;
    int64_t fire_us = now_us() - start;
    printf("backend=%s schedules=%ld idle_tick_mean_us=%lld idle_tick_p99_us=%lld"
           " fired=%ld ticks=%ld fire_all_ms=%lld fires_per_s=%.0f fill_ms=%lld\n",
           backend, schedules, (long long)idle_mean, (long long)idle_p99, jobs, ticks,
           (long long)(fire_us / 1000), fire_us > 0 ? jobs * 1e6 / (double)fire_us : 0.0,
           (long long)fill_ms);
    store_close(store);
    return jobs == schedules ? 0 : 1;
}
