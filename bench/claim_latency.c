/*
 * claim_latency.c - how long a claim takes as the queue grows. Fills a
 * fresh, migrated database with QUEUED jobs (bulk SQL, not the store: a
 * million store_job_create calls would take the benchmark's whole budget),
 * then times ROUNDS rounds of store_job_claim + store_job_finish
 * (COMPLETED) through the store, one worker, like an engine worker does.
 * The jobs mimic real ones: UUIDv7 ids in creation order (as
 * core/uuid7.c makes them; random ids would scatter every claim's index
 * entries over the whole primary key), priorities 1..10, one exclusive
 * table lock over 8 tables, spread-out available_at.
 *
 *   claim_latency DB_URL QUEUED [ROUNDS]      (ROUNDS default 200)
 *
 * Prints one logfmt line: backend, queued, rounds, the mean/p50/p99 of the
 * claim alone and of claim + finish, in microseconds, and the fill time.
 * The database must be empty (the script gives it a fresh one).
 *
 * Not for: a test (it asserts nothing), or concurrency (one connection).
 */
#include "core/timeutil.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct audit_context bench_actor = {"bench", NULL, NULL};

static const char pg_fill_sql[] =
    "INSERT INTO stg_import_queue (id, name, status, priority, available_at, resources,"
    " source, target, on_error, target_table, created_at, updated_at)"
    " SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING"
    " substring(int8send((extract(epoch FROM now() - interval '2 hours') * 1000)::bigint + i)"
    " FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid, 'bench ' || i, 'QUEUED', 1 + i % 10,"
    " now() - interval '2 hours' + i * interval '1 millisecond',"
    " jsonb_build_array(jsonb_build_object('name', 'table:t' || i % 8, 'mode', 'exclusive')),"
    " '{\"format\": \"csv\", \"path\": \"one.csv\"}',"
    " jsonb_build_object('table', 't' || i % 8, 'mode', 'append'),"
    " '{\"action\": \"abort\", \"max_rejects\": 0}', 't' || i % 8, now(), now()"
    " FROM generate_series(1, $1::integer) AS i";

static const char sqlite_fill_sql[] =
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)"
    " INSERT INTO stg_import_queue (id, name, status, priority, available_at, resources,"
    " source, target, on_error, target_table, created_at, updated_at)"
    " SELECT printf('%08x-0000-7000-8000-%012x', i, i), 'bench ' || i, 'QUEUED', 1 + i % 10,"
    " strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-7200 seconds', '+' || (i / 1000.0) || ' seconds'),"
    " json_array(json_object('name', 'table:t' || (i % 8), 'mode', 'exclusive')),"
    " '{\"format\": \"csv\", \"path\": \"one.csv\"}',"
    " json_object('table', 't' || (i % 8), 'mode', 'append'),"
    " '{\"action\": \"abort\", \"max_rejects\": 0}', 't' || (i % 8),"
    " strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    " FROM n";

/* fill_postgres - QUEUED jobs by one INSERT ... SELECT, then VACUUM
 * ANALYZE and CHECKPOINT. 0 or -1. */
static int fill_postgres(const char *url, long queued)
{
    PGconn *conn = PQconnectdb(url);
    int rc = -1;
    if (PQstatus(conn) == CONNECTION_OK) {
        char count[24];
        snprintf(count, sizeof(count), "%ld", queued);
        const char *values[1] = {count};
        PGresult *res = PQexecParams(conn, pg_fill_sql, 1, NULL, values, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_COMMAND_OK) {
            PQclear(res);
            res = PQexec(conn, "VACUUM ANALYZE stg_import_queue");
            rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
            if (rc == 0) { /* the fill's dirty pages are not written during the timing */
                PQclear(res);
                res = PQexec(conn, "CHECKPOINT");
                rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
            }
        }
        PQclear(res);
    }
    if (rc < 0)
        fprintf(stderr, "claim_latency: filling the queue: %s", PQerrorMessage(conn));
    PQfinish(conn);
    return rc;
}

/* fill_sqlite - QUEUED jobs by one recursive INSERT, then ANALYZE and a
 * WAL checkpoint. 0 or -1. */
static int fill_sqlite(const char *path, long queued)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, sqlite_fill_sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, 1, queued);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_finalize(stmt);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        fprintf(stderr, "claim_latency: filling the queue: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
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

/* Mean, median and 99th percentile of count samples (sorted in place). */
struct summary {
    int64_t mean, p50, p99;
};

static struct summary summarize(int64_t *samples, long count)
{
    int64_t sum = 0;
    for (long i = 0; i < count; i++)
        sum += samples[i];
    qsort(samples, (size_t)count, sizeof(*samples), compare_int64);
    return (struct summary){sum / count, samples[count / 2], samples[(count * 99) / 100]};
}

/*
 * run_rounds - rounds x (claim, finish COMPLETED) on store; the claim's and
 * the round's duration of each into claim_us / round_us. 0, or -1 when a
 * claim fails or finds nothing (printed).
 */
static int run_rounds(struct store *store, long rounds, int64_t *claim_us, int64_t *round_us)
{
    struct claim_request req = {
        .node_id = "01900000-0000-7000-8000-00000000be0c",
        .worker = "01900000-0000-7000-8000-00000000be0c/w0",
        .max_concurrent = 8,
        .lease_ms = 60000,
    };
    for (long i = 0; i < rounds; i++) {
        struct iq_error err = {0};
        struct job *job = NULL;
        int64_t start = now_us();
        int rc = store_job_claim(store, &req, &bench_actor, &job, &err);
        int64_t claimed = now_us();
        if (rc == 0 && !job)
            rc = iq_error_set(&err, IQ_E_INTERNAL, "round %ld: the claim found no job", i);
        if (rc == 0) {
            struct job_finish finish = {
                .job_id = job->id,
                .worker = req.worker,
                .attempt = job->attempt,
                .status = JOB_COMPLETED,
                .result = {.rows_read = 1, .rows_inserted = 1},
                .node_id = req.node_id,
            };
            struct job *finished = NULL;
            rc = store_job_finish(store, &finish, &bench_actor, &finished, &err);
            job_free(finished);
        }
        job_free(job);
        if (rc < 0) {
            fprintf(stderr, "claim_latency: %s\n", iq_error_message(&err));
            iq_error_clear(&err);
            return -1;
        }
        claim_us[i] = claimed - start;
        round_us[i] = now_us() - start;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: claim_latency DB_URL QUEUED [ROUNDS]\n");
        return 2;
    }
    const char *url = argv[1];
    char *end = NULL;
    long queued = strtol(argv[2], &end, 10);
    long rounds = argc > 3 ? strtol(argv[3], NULL, 10) : 200;
    const char *backend = store_backend_name(url);
    if (!backend || *end || queued < 1 || queued > 100000000 || rounds < 1 || rounds > queued) {
        fprintf(stderr, "claim_latency: need a sqlite:/postgres:// URL, 1 <= ROUNDS <= QUEUED\n");
        return 2;
    }
    struct iq_error err = {0};
    struct store *store = NULL;
    int rc = store_open(url, NULL, &store, &err);
    if (rc == 0)
        rc = store_migrate(store, NULL, &err);
    if (rc < 0) {
        fprintf(stderr, "claim_latency: %s\n", iq_error_message(&err));
        iq_error_clear(&err);
        store_close(store);
        return 1;
    }
    int64_t fill_start = time_monotonic_ms();
    bool postgres = strcmp(backend, "postgres") == 0;
    rc = postgres ? fill_postgres(url, queued) : fill_sqlite(url + strlen("sqlite:"), queued);
    int64_t fill_ms = time_monotonic_ms() - fill_start;
    int64_t *claim_us = calloc((size_t)rounds, sizeof(*claim_us));
    int64_t *round_us = calloc((size_t)rounds, sizeof(*round_us));
    if (rc == 0 && (!claim_us || !round_us))
        rc = -1;
    if (rc == 0)
        rc = run_rounds(store, rounds, claim_us, round_us);
    if (rc == 0) {
        struct summary claim = summarize(claim_us, rounds);
        struct summary round = summarize(round_us, rounds);
        printf("backend=%s queued=%ld rounds=%ld claim_mean_us=%lld claim_p50_us=%lld"
               " claim_p99_us=%lld round_mean_us=%lld round_p50_us=%lld round_p99_us=%lld"
               " fill_ms=%lld\n",
               backend, queued, rounds, (long long)claim.mean, (long long)claim.p50,
               (long long)claim.p99, (long long)round.mean, (long long)round.p50,
               (long long)round.p99, (long long)fill_ms);
    }
    free(claim_us);
    free(round_us);
    store_close(store);
    return rc == 0 ? 0 : 1;
}
