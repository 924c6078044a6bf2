/*
 * engine_bench.c - submit-to-start latency of an idle service: creates
 * one small job at a time through the store (as the API will), waits
 * until it has started and finished, and takes started_at - created_at
 * from the job row (both stamped by the database host's clock, so the
 * figure does not depend on how fast this program polls).
 *
 *   engine_bench DB_URL IMPORT_ROOT COUNT external [GAP_MS]
 *       an `importq serve` on DB_URL runs the jobs: a submission from
 *       another process reaches it by NOTIFY on PostgreSQL, and only by
 *       the workers' poll (1 s) on SQLite;
 *   engine_bench DB_URL IMPORT_ROOT COUNT in-process [GAP_MS]
 *       an engine started inside this program (engine_start, 2 workers)
 *       runs them, and engine_wake follows each store_job_create - what
 *       the HTTP API does.
 * GAP_MS (default 0): wait a random 0..GAP_MS before each submission, so
 * that submissions arrive at random points of a polling worker's cycle
 * (back to back, each would come just after the previous job's end, when
 * every idle worker has just started a full poll interval).
 *
 * Each job appends IMPORT_ROOT/latency.csv (written here: one row) to the
 * table bench_latency. Prints one logfmt line: backend, mode, count, and
 * the mean/p50/p99/max latency in milliseconds.
 *
 * Not for: throughput (bench/engine.sh times many jobs through `importq
 * serve`), or a test (it asserts nothing).
 */
#include "core/timeutil.h"
#include "engine/engine.h"
#include "store/store.h"
#include "util/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_LIMIT_MS 30000

static const struct audit_context bench_actor = {"bench", NULL, NULL};

static const char job_json[] =
    "{\"name\": \"latency\", \"source\": {\"path\": \"latency.csv\"},"
    " \"target\": {\"table\": \"bench_latency\", \"mode\": \"append\", \"create\": true,"
    " \"columns\": [{\"name\": \"id\", \"type\": \"bigint\"}, {\"name\": \"label\", \"type\": "
    "\"text\"}]}}";

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* write_source - the one-row CSV every job reads. 0 or -1 (printed). */
static int write_source(const char *root)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/latency.csv", root);
    FILE *f = fopen(path, "w");
    if (!f || fputs("id,label\n1,latency\n", f) < 0) {
        perror(path);
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/*
 * wait_final - poll job id every millisecond until it is COMPLETED.
 * Returns 0 and its started_at - created_at in *ret_latency_ms, or -1
 * (printed) when it ended otherwise or took longer than WAIT_LIMIT_MS.
 */
static int wait_final(struct store *store, const char *id, int64_t *ret_latency_ms)
{
    int64_t give_up = time_monotonic_ms() + WAIT_LIMIT_MS;
    for (;;) {
        struct iq_error err = {0};
        struct job *job = NULL;
        if (store_job_get(store, id, &job, &err) < 0) {
            fprintf(stderr, "engine_bench: %s\n", iq_error_message(&err));
            iq_error_clear(&err);
            return -1;
        }
        enum job_status status = job->status;
        *ret_latency_ms = job->started_at_ms - job->created_at_ms;
        job_free(job);
        if (status == JOB_COMPLETED)
            return 0;
        if (job_status_is_final(status) || time_monotonic_ms() > give_up) {
            fprintf(stderr, "engine_bench: job %s is %s\n", id, job_status_name(status));
            return -1;
        }
        pause_ms(1);
    }
}

/* measure - count jobs one after another, each after a random pause of
 * up to gap_ms; latencies into latency_ms. 0 or -1. */
static int measure(struct store *store, struct engine *engine, const struct job_spec *spec,
                   long count, long gap_ms, int64_t *latency_ms)
{
    struct job_create_request req = {.spec = spec};
    srand(42);
    for (long i = 0; i < count; i++) {
        if (gap_ms > 0)
            pause_ms(rand() % (gap_ms + 1));
        struct iq_error err = {0};
        struct job *job = NULL;
        bool existed = false;
        if (store_job_create(store, &req, &bench_actor, &job, &existed, &err) < 0) {
            fprintf(stderr, "engine_bench: %s\n", iq_error_message(&err));
            iq_error_clear(&err);
            return -1;
        }
        engine_wake(engine); /* NULL (external) does nothing */
        char id[UUID_STR_LEN];
        memcpy(id, job->id, UUID_STR_LEN);
        job_free(job);
        if (wait_final(store, id, &latency_ms[i]) < 0)
            return -1;
    }
    return 0;
}

/* parse_spec - the spec every job uses (job_spec_free). NULL on failure. */
static struct job_spec *parse_spec(void)
{
    json_t *body = json_loads(job_json, 0, NULL);
    struct job_spec *spec = NULL;
    if (body)
        job_spec_parse(body, NULL, &spec, NULL);
    json_decref(body);
    return spec;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6 ||
        (strcmp(argv[4], "external") != 0 && strcmp(argv[4], "in-process") != 0)) {
        fprintf(stderr,
                "usage: engine_bench DB_URL IMPORT_ROOT COUNT external|in-process [GAP_MS]\n");
        return 2;
    }
    const char *url = argv[1], *root = argv[2], *mode = argv[4];
    long count = strtol(argv[3], NULL, 10);
    long gap_ms = argc > 5 ? strtol(argv[5], NULL, 10) : 0;
    if (count < 1 || count > 100000 || gap_ms < 0 || gap_ms > 60000 || !store_backend_name(url)) {
        fprintf(stderr,
                "engine_bench: COUNT 1..100000, GAP_MS 0..60000, a sqlite:/postgres:// URL\n");
        return 2;
    }
    log_set_level(LOG_WARN); /* the in-process engine's per-job lines */
    struct iq_error err = {0};
    struct store *store = NULL;
    struct engine *engine = NULL;
    struct job_spec *spec = parse_spec();
    int64_t *latency_ms = calloc((size_t)count, sizeof(*latency_ms));
    int rc = spec && latency_ms ? write_source(root) : -1;
    if (rc == 0)
        rc = store_open(url, NULL, &store, &err);
    if (rc == 0)
        rc = store_migrate(store, NULL, &err);
    if (rc == 0 && strcmp(mode, "in-process") == 0) {
        struct engine_options opts = {.db_url = url,
                                      .workers = 2,
                                      .max_concurrent = 2,
                                      .import_root = root,
                                      .version = "bench"};
        rc = engine_start(&opts, &engine, &err);
    }
    if (rc < 0 && err.code)
        fprintf(stderr, "engine_bench: %s\n", iq_error_message(&err));
    if (rc == 0)
        rc = measure(store, engine, spec, count, gap_ms, latency_ms);
    engine_stop(engine, 1000);
    if (rc == 0) {
        int64_t sum = 0;
        for (long i = 0; i < count; i++)
            sum += latency_ms[i];
        qsort(latency_ms, (size_t)count, sizeof(*latency_ms), compare_int64);
        printf("backend=%s mode=%s count=%ld gap_ms=%ld mean_ms=%.1f p50_ms=%lld p99_ms=%lld"
               " max_ms=%lld\n",
               store_backend_name(url), mode, count, gap_ms, (double)sum / (double)count,
               (long long)latency_ms[count / 2], (long long)latency_ms[(count * 99) / 100],
               (long long)latency_ms[count - 1]);
    }
    iq_error_clear(&err);
    free(latency_ms);
    job_spec_free(spec);
    store_close(store);
    return rc == 0 ? 0 : 1;
}
