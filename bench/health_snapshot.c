/*
 * health_snapshot.c - what a health sample costs (engine/health.c, issue
 * 16): bench_health_snapshot DB_URL ROUNDS times store_health_snapshot on
 * a database the caller has filled (bench/health.sh seeds 100,000 jobs),
 * once per slot as the first node in (it counts and writes) and once as a
 * second node (the slot is taken), each on a clock of its own that moves
 * one 10 s slot per round; then one compaction. Prints the median and
 * the worst of each in milliseconds.
 * Not for: tests (nothing here asserts).
 */
#include "core/timeutil.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INTERVAL_MS 10000

/* monotonic_ns - a monotonic clock in nanoseconds (for sub-millisecond times). */
static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t bench_now_cb(void *ctx)
{
    return *(int64_t *)ctx;
}

static int compare_ms(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *ms, int rounds)
{
    qsort(ms, (size_t)rounds, sizeof(*ms), compare_ms);
    printf("%-28s median %7.3f ms   worst %7.3f ms   (%d rounds)\n", what, ms[rounds / 2],
           ms[rounds - 1], rounds);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DB_URL ROUNDS\n", argv[0]);
        return 2;
    }
    int rounds = atoi(argv[2]);
    if (rounds < 1 || rounds > 100000) {
        fprintf(stderr, "ROUNDS: 1 to 100000\n");
        return 2;
    }
    int64_t now = time_now_ms() / INTERVAL_MS * INTERVAL_MS + 1;
    struct iq_clock clock = {bench_now_cb, &now};
    struct store_options options = {.clock = &clock};
    struct store *first = NULL, *second = NULL;
    struct iq_error err = {0};
    if (store_open(argv[1], &options, &first, &err) < 0 ||
        store_open(argv[1], &options, &second, &err) < 0) {
        fprintf(stderr, "%s\n", iq_error_message(&err));
        return 1;
    }
    double *taker = calloc((size_t)rounds, sizeof(double));
    double *loser = calloc((size_t)rounds, sizeof(double));
    int rc = taker && loser ? 0 : 1;
    for (int i = 0; rc == 0 && i < rounds; i++) {
        now += INTERVAL_MS;
        struct health_snapshot_result r1, r2;
        int64_t t0 = monotonic_ns();
        rc = store_health_snapshot(first, INTERVAL_MS, "bench-a", &r1, &err);
        int64_t t1 = monotonic_ns();
        if (rc == 0)
            rc = store_health_snapshot(second, INTERVAL_MS, "bench-b", &r2, &err);
        int64_t t2 = monotonic_ns();
        if (rc == 0 && (!r1.taken || r2.taken))
            rc = iq_error_set(&err, IQ_E_INTERNAL, "round %d: the first did not take the slot", i);
        taker[i] = (double)(t1 - t0) / 1e6;
        loser[i] = (double)(t2 - t1) / 1e6;
    }
    if (rc == 0) {
        report("sample (first node)", taker, rounds);
        report("sample (slot taken)", loser, rounds);
        struct health_retention keep = {.now_ms = now + 2 * 24 * 3600 * 1000LL,
                                        .sample_keep_ms = 24 * 3600 * 1000LL,
                                        .rollup_keep_ms = 30 * 24 * 3600 * 1000LL};
        struct health_compaction done;
        int64_t t0 = monotonic_ns();
        rc = store_health_compact(first, &keep, &done, &err);
        printf("%-28s %7.3f ms (%lld samples into %lld rollups)\n", "compaction",
               (double)(monotonic_ns() - t0) / 1e6, (long long)done.samples_deleted,
               (long long)done.rollups_written);
    }
    if (rc < 0)
        fprintf(stderr, "%s\n", iq_error_message(&err));
    free(taker);
    free(loser);
    store_close(first);
    store_close(second);
    return rc == 0 ? 0 : 1;
}
