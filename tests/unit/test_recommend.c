/*
 * test_recommend.c - core/recommend.h: each rule produced from a seeded
 * unhealthy history, with its evidence, and absent from a healthy one
 * (the thresholds are the documented defaults); the busy share of the
 * slots during waits on a hand-computed case.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/recommend.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SINCE_MS 1800000000000LL
#define HOUR_MS 3600000LL
#define UNTIL_MS (SINCE_MS + 2 * HOUR_MS)

struct history {
    struct perf_attempts attempts;
    struct lock_holds holds;
    struct recommendation_list out;
};

static int setup(void **state)
{
    static struct history h;
    memset(&h, 0, sizeof(h));
    *state = &h;
    return 0;
}

static int teardown(void **state)
{
    struct history *h = *state;
    perf_attempts_clear(&h->attempts);
    lock_holds_clear(&h->holds);
    recommendation_list_clear(&h->out);
    return 0;
}

/* add_attempt - table's attempt claimed at offset_ms after SINCE_MS. */
static void add_attempt(struct history *h, const char *table, int64_t offset_ms, int64_t work_ms,
                        int64_t queued_ms, int64_t lock_ms, int64_t dependency_ms, int64_t rows,
                        int64_t rejected)
{
    struct perf_attempt a = {.table = (char *)table, .attempt = 1,
                             .claimed_at_ms = SINCE_MS + offset_ms, .rows_read = rows,
                             .rows_rejected = rejected};
    snprintf(a.job_id, sizeof(a.job_id), "01900000-0000-7000-8000-%012zx", h->attempts.count);
    snprintf(a.outcome, sizeof(a.outcome), "COMPLETED");
    a.phase_ms[PERF_READ] = work_ms;
    a.phase_ms[PERF_QUEUED] = queued_ms;
    a.phase_ms[PERF_LOCK_WAIT] = lock_ms;
    a.phase_ms[PERF_DEPENDENCY_WAIT] = dependency_ms;
    assert_int_equal(perf_attempts_add(&h->attempts, &a), 0);
}

static void add_hold(struct history *h, const char *name, int64_t waited_ms,
                     const char *schedule, const char *blocker_schedule)
{
    struct lock_hold l = {.name = (char *)name, .exclusive = true, .attempt = 1,
                          .acquired_at_ms = SINCE_MS + 1000, .released_at_ms = SINCE_MS + 9000,
                          .waited_ms = waited_ms, .schedule = (char *)schedule,
                          .blocker_schedule = (char *)blocker_schedule};
    snprintf(l.job_id, sizeof(l.job_id), "01900000-0000-7000-8000-1%011zx", h->holds.count);
    if (waited_ms > 0)
        snprintf(l.blocked_by, sizeof(l.blocked_by), "01900000-0000-7000-8000-2%011zx",
                 h->holds.count);
    assert_int_equal(lock_holds_add(&h->holds, &l), 0);
}

/* run - recommend over h with max_concurrent slots. */
static void run(struct history *h, int max_concurrent)
{
    struct recommend_input in = {.attempts = &h->attempts, .holds = &h->holds,
                                 .max_concurrent = max_concurrent, .since_ms = SINCE_MS,
                                 .until_ms = UNTIL_MS};
    struct iq_error err = {0};
    recommendation_list_clear(&h->out);
    assert_int_equal(recommend(&in, &h->out, &err), 0);
}

/* find - the recommendation of kind, or NULL. */
static const struct recommendation *find(const struct history *h, const char *kind)
{
    for (size_t i = 0; i < h->out.count; i++)
        if (strcmp(h->out.items[i].kind, kind) == 0)
            return &h->out.items[i];
    return NULL;
}

static const char *evidence_text(const struct recommendation *r, const char *key)
{
    return json_string_value(json_object_get(r->evidence, key));
}

/* healthy - short waits, steady work, few rejects, no contention. */
static void seed_healthy(struct history *h)
{
    for (int i = 0; i < 40; i++) {
        add_attempt(h, "users", i * 60000, 10000, 1000, 0, 0, 1000, 1);
        add_attempt(h, "teams", i * 60000 + 30000, 2000, 500, 200, 100, 50, 0);
    }
    add_hold(h, "table:users", 0, "nightly", NULL);
    add_hold(h, "table:users", 200, "nightly", "hourly");
}

static void test_healthy_history_recommends_nothing(void **state)
{
    struct history *h = *state;
    seed_healthy(h);
    run(h, 3);
    if (h->out.count > 0)
        fail_msg("a healthy history got \"%s\": %s", h->out.items[0].kind,
                 h->out.items[0].message);
    /* No history at all: nothing either. */
    perf_attempts_clear(&h->attempts);
    lock_holds_clear(&h->holds);
    run(h, 3);
    assert_int_equal(h->out.count, 0);
}

static void test_busy_share(void **state)
{
    struct history *h = *state;
    /* A runs 0..100; B waits 0..100 (A running: busy); C waits 200..300 (idle). */
    add_attempt(h, "t", -SINCE_MS + 0, 100, 0, 0, 0, 0, 0);
    add_attempt(h, "t", -SINCE_MS + 100, 100, 100, 0, 0, 0, 0);
    add_attempt(h, "t", -SINCE_MS + 300, 100, 100, 0, 0, 0, 0);
    double share = recommend_busy_share(&h->attempts, 1);
    assert_true(share > 0.499 && share < 0.501);
    share = recommend_busy_share(&h->attempts, 2);
    assert_true(share > 0.249 && share < 0.251);
    struct perf_attempts none = {0};
    assert_true(recommend_busy_share(&none, 1) < 0);
}

static void test_all_slots_busy_raises_max_concurrent(void **state)
{
    struct history *h = *state;
    /* Two slots, a job every 50 s running 100 s: both always busy; each waited 60 s. */
    for (int i = 0; i < 100; i++)
        add_attempt(h, "users", i * 50000, 100000, 60000, 0, 0, 1000, 0);
    run(h, 2);
    const struct recommendation *r = find(h, "raise_max_concurrent");
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r->evidence, "max_concurrent")), 2);
    assert_int_equal(json_integer_value(json_object_get(r->evidence, "median_wait_ms")), 60000);
    assert_true(json_real_value(json_object_get(r->evidence, "busy_share")) >= 0.9);
    assert_null(find(h, "lock_bottleneck"));
    /* With ten slots the same history leaves most idle: not this advice. */
    run(h, 10);
    assert_null(find(h, "raise_max_concurrent"));
}

static void test_idle_slots_lock_bottleneck_names_resource(void **state)
{
    struct history *h = *state;
    /* A job every 10 minutes, 10 s of work, 120 s waited, 110 s of it for a lock. */
    for (int i = 0; i < 10; i++) {
        add_attempt(h, "users", i * 600000, 10000, 120000, 110000, 0, 1000, 0);
        add_hold(h, "table:users", 110000, NULL, NULL);
        add_hold(h, "table:teams", 0, NULL, NULL);
    }
    run(h, 3);
    const struct recommendation *r = find(h, "lock_bottleneck");
    assert_non_null(r);
    assert_string_equal(evidence_text(r, "resource"), "table:users");
    assert_int_equal(json_integer_value(json_object_get(r->evidence, "waits")), 10);
    json_t *longest = json_object_get(r->evidence, "longest_wait");
    assert_non_null(json_string_value(json_object_get(longest, "blocked_by")));
    assert_non_null(strstr(r->message, "table:users"));
    assert_null(find(h, "raise_max_concurrent"));
    assert_null(find(h, "dependency_bottleneck"));
}

static void test_idle_slots_dependency_bottleneck_names_table(void **state)
{
    struct history *h = *state;
    for (int i = 0; i < 10; i++)
        add_attempt(h, "reports", i * 600000, 10000, 10000, 0, 300000, 1000, 0);
    for (int i = 0; i < 5; i++)
        add_attempt(h, "users", i * 600000 + 300000, 10000, 10000, 0, 1000, 1000, 0);
    run(h, 3);
    const struct recommendation *r = find(h, "dependency_bottleneck");
    assert_non_null(r);
    assert_string_equal(evidence_text(r, "table"), "reports");
    assert_int_equal(json_integer_value(json_object_get(r->evidence, "dependency_wait_p50_ms")),
                     300000);
    assert_null(find(h, "lock_bottleneck"));
}

static void test_slower_table_trend(void **state)
{
    struct history *h = *state;
    for (int i = 0; i < 10; i++) {
        add_attempt(h, "orders", i * 300000, 2000, 0, 0, 0, 10000, 0);              /* first hour */
        add_attempt(h, "orders", HOUR_MS + i * 300000, 10000, 0, 0, 0, 10000, 0);   /* second */
        add_attempt(h, "users", i * 300000, 2000, 0, 0, 0, 10000, 0);
        add_attempt(h, "users", HOUR_MS + i * 300000, 2100, 0, 0, 0, 10000, 0);
    }
    run(h, 3);
    assert_int_equal(h->out.count, 1);
    const struct recommendation *r = find(h, "table_slower");
    assert_non_null(r);
    assert_string_equal(evidence_text(r, "table"), "orders");
    assert_int_equal(json_integer_value(json_object_get(r->evidence, "earlier_median_ms")), 2000);
    assert_int_equal(json_integer_value(json_object_get(r->evidence, "later_median_ms")), 10000);
}

static void test_slower_needs_samples_in_both_halves(void **state)
{
    struct history *h = *state;
    for (int i = 0; i < 4; i++)
        add_attempt(h, "orders", i * 300000, 2000, 0, 0, 0, 10000, 0);
    for (int i = 0; i < 10; i++)
        add_attempt(h, "orders", HOUR_MS + i * 300000, 10000, 0, 0, 0, 10000, 0);
    run(h, 3);
    assert_null(find(h, "table_slower"));
}

static void test_contending_schedules(void **state)
{
    struct history *h = *state;
    for (int i = 0; i < 4; i++)
        add_hold(h, "table:users", 30000, i % 2 ? "nightly-a" : "nightly-b",
                 i % 2 ? "nightly-b" : "nightly-a");
    for (int i = 0; i < 2; i++)
        add_hold(h, "table:teams", 30000, "c", "d"); /* below the count */
    add_hold(h, "table:users", 30000, "e", "e");    /* a schedule with itself */
    add_hold(h, "table:users", 30000, "e", "e");
    add_hold(h, "table:users", 30000, "e", "e");
    run(h, 3);
    assert_int_equal(h->out.count, 1);
    const struct recommendation *r = find(h, "offset_schedules");
    assert_non_null(r);
    json_t *pair = json_object_get(r->evidence, "schedules");
    assert_string_equal(json_string_value(json_array_get(pair, 0)), "nightly-a");
    assert_string_equal(json_string_value(json_array_get(pair, 1)), "nightly-b");
    assert_int_equal(json_integer_value(json_object_get(r->evidence, "waits")), 4);
    assert_string_equal(evidence_text(r, "resource"), "table:users");
}

static void test_high_reject_rate(void **state)
{
    struct history *h = *state;
    for (int i = 0; i < 10; i++) {
        add_attempt(h, "leads", i * 60000, 1000, 0, 0, 0, 100, 30);
        add_attempt(h, "users", i * 60000, 1000, 0, 0, 0, 100, 1);
        add_attempt(h, "tiny", i * 60000, 1000, 0, 0, 0, 5, 5); /* 50 rows: too few */
    }
    run(h, 3);
    assert_int_equal(h->out.count, 1);
    const struct recommendation *r = find(h, "high_reject_rate");
    assert_non_null(r);
    assert_string_equal(evidence_text(r, "table"), "leads");
    assert_int_equal(json_integer_value(json_object_get(r->evidence, "rows_rejected")), 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthy_history_recommends_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_slots_busy_raises_max_concurrent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_idle_slots_lock_bottleneck_names_resource, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_idle_slots_dependency_bottleneck_names_table, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_slower_table_trend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slower_needs_samples_in_both_halves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contending_schedules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_high_reject_rate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
