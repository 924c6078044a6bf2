/*
 * test_perf.c - core/perf.h: the nearest-rank percentile (table-driven),
 * the per-table aggregates of attempts (outcomes, durations of completed
 * attempts only, waits of all, rows/s) and the per-resource aggregates of
 * lock holds (hold and wait percentiles, the longest waits and on whom).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/perf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static void test_percentile_nearest_rank(void **state)
{
    (void)state;
    static const int64_t ten[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    static const int64_t one[] = {42};
    static const struct {
        const int64_t *values;
        size_t n;
        double p;
        int64_t want;
    } cases[] = {
        {ten, 10, 0.50, 5},  {ten, 10, 0.95, 10}, {ten, 10, 0.99, 10}, {ten, 10, 0.10, 1},
        {ten, 10, 0.11, 2},  {ten, 10, 1.00, 10}, {one, 1, 0.50, 42},  {one, 1, 0.99, 42},
        {ten, 0, 0.50, 0},   {ten, 4, 0.50, 2},   {ten, 4, 0.75, 3},   {ten, 4, 0.76, 4},
    };
    for (size_t i = 0; i < COUNT_OF(cases); i++) {
        int64_t got = perf_percentile(cases[i].values, cases[i].n, cases[i].p);
        if (got != cases[i].want)
            fail_msg("case %zu: p%.2f of %zu values = %lld, want %lld", i, cases[i].p,
                     cases[i].n, (long long)got, (long long)cases[i].want);
    }
}

static void test_phase_names_round_trip(void **state)
{
    (void)state;
    for (int p = 0; p < PERF_PHASE_COUNT; p++)
        assert_int_equal(perf_phase_from_name(perf_phase_name((enum perf_phase)p)), p);
    assert_int_equal(perf_phase_from_name("locking"), -1);
    assert_string_equal(perf_phase_name(PERF_LOCK_WAIT), "lock_wait");
}

/* attempt - an attempt of table with read ms, rows and outcome; queued ms. */
static struct perf_attempt attempt(const char *table, const char *outcome, int64_t read_ms,
                                   int64_t rows, int64_t queued_ms)
{
    struct perf_attempt a = {.table = (char *)table, .attempt = 1, .rows_read = rows};
    snprintf(a.outcome, sizeof(a.outcome), "%s", outcome);
    a.phase_ms[PERF_READ] = read_ms;
    a.phase_ms[PERF_PROMOTE] = 10;
    a.phase_ms[PERF_QUEUED] = queued_ms;
    return a;
}

static void test_report_by_table(void **state)
{
    (void)state;
    struct perf_attempts list = {0};
    for (int i = 1; i <= 20; i++) {
        struct perf_attempt a = attempt("users", "COMPLETED", i * 100 - 10, 1000, i * 1000);
        assert_int_equal(perf_attempts_add(&list, &a), 0);
    }
    /* A failed attempt's short work does not count in the durations, its wait does. */
    struct perf_attempt failed = attempt("users", "FAILED", 0, 0, 100000);
    assert_int_equal(perf_attempts_add(&list, &failed), 0);
    struct perf_attempt other = attempt("teams", "CANCELLED", 5, 0, 0);
    assert_int_equal(perf_attempts_add(&list, &other), 0);
    struct perf_report report;
    struct iq_error err = {0};
    assert_int_equal(perf_report_build(&list, &report, &err), 0);
    assert_int_equal(report.count, 2);
    assert_int_equal(report.attempts, 22);
    const struct perf_table_stats *teams = &report.tables[0], *users = &report.tables[1];
    assert_string_equal(teams->table, "teams");
    assert_int_equal(teams->cancelled, 1);
    assert_int_equal(teams->counted, 0);
    assert_int_equal(teams->duration_ms.p50, 0);
    assert_string_equal(users->table, "users");
    assert_int_equal(users->attempts, 21);
    assert_int_equal(users->completed, 20);
    assert_int_equal(users->failed, 1);
    assert_int_equal(users->counted, 20);
    /* work = i * 100 for i in 1..20 */
    assert_int_equal(users->duration_ms.p50, 1000);
    assert_int_equal(users->duration_ms.p95, 1900);
    assert_int_equal(users->duration_ms.p99, 2000);
    assert_int_equal(users->duration_mean_ms, 1050);
    /* 20,000 rows in 21 s of work */
    assert_true(users->rows_per_s > 952.3 && users->rows_per_s < 952.4);
    /* queued over all 21 attempts: 1000..20000 and 100000 */
    assert_int_equal(users->phase_ms[PERF_QUEUED].p50, 11000);
    assert_int_equal(users->phase_ms[PERF_QUEUED].p99, 100000);
    assert_int_equal(users->phase_ms[PERF_READ].p50, 990);
    perf_report_clear(&report);
    perf_attempts_clear(&list);
}

/* hold - a hold of name by job (last hex digit n) waiting waited ms on blocker digit b. */
static struct lock_hold hold(const char *name, int n, int64_t held_ms, int64_t waited, int b)
{
    struct lock_hold h = {.name = (char *)name, .exclusive = true, .attempt = 1,
                          .acquired_at_ms = 1000000, .released_at_ms = 1000000 + held_ms,
                          .waited_ms = waited};
    snprintf(h.job_id, sizeof(h.job_id), "01900000-0000-7000-8000-00000000000%x", (unsigned)n & 0xfu);
    if (b >= 0)
        snprintf(h.blocked_by, sizeof(h.blocked_by), "01900000-0000-7000-8000-00000000000%x", (unsigned)b & 0xfu);
    return h;
}

static void test_resources_by_name(void **state)
{
    (void)state;
    struct lock_holds list = {0};
    struct lock_hold holds[] = {
        hold("table:users", 1, 1000, 0, -1), hold("table:users", 2, 2000, 500, 1),
        hold("table:users", 3, 3000, 4000, 2), hold("table:users", 4, 4000, 100, 3),
        hold("table:users", 5, 5000, 3000, 4), hold("table:users", 6, 6000, 2000, 5),
        hold("table:users", 7, 7000, 1000, 6), hold("table:users", 8, 8000, 50, 7),
        hold("table:teams", 9, 100, 0, -1),
    };
    for (size_t i = 0; i < COUNT_OF(holds); i++)
        assert_int_equal(lock_holds_add(&list, &holds[i]), 0);
    struct resource_report report;
    struct iq_error err = {0};
    assert_int_equal(resource_report_build(&list, &report, &err), 0);
    assert_int_equal(report.count, 2);
    const struct resource_stats *teams = &report.items[0], *users = &report.items[1];
    assert_string_equal(teams->name, "table:teams");
    assert_int_equal(teams->locks, 1);
    assert_int_equal(teams->waits, 0);
    assert_int_equal(teams->top_count, 0);
    assert_string_equal(users->name, "table:users");
    assert_int_equal(users->locks, 8);
    assert_int_equal(users->hold_total_ms, 36000);
    assert_int_equal(users->hold_ms.p50, 4000);
    assert_int_equal(users->hold_ms.p95, 8000);
    assert_int_equal(users->waits, 7);
    assert_int_equal(users->wait_total_ms, 10650);
    assert_int_equal(users->wait_ms.p50, 1000);
    assert_int_equal(users->wait_ms.p95, 4000);
    /* The five longest waits, longest first, each with the job it waited on. */
    assert_int_equal(users->top_count, RESOURCE_TOP_WAITS);
    static const int64_t want[] = {4000, 3000, 2000, 1000, 500};
    for (size_t i = 0; i < RESOURCE_TOP_WAITS; i++)
        assert_int_equal(users->top[i].waited_ms, want[i]);
    assert_string_equal(users->top[0].job_id, "01900000-0000-7000-8000-000000000003");
    assert_string_equal(users->top[0].blocked_by, "01900000-0000-7000-8000-000000000002");
    resource_report_clear(&report);
    lock_holds_clear(&list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentile_nearest_rank),
        cmocka_unit_test(test_phase_names_round_trip),
        cmocka_unit_test(test_report_by_table),
        cmocka_unit_test(test_resources_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
