/*
 * test_backoff.c - retry backoff (src/engine/backoff.c): the ceiling
 * doubles per attempt from the base up to the cap, the jitter draws within
 * [0, ceiling], odd inputs stay safe; and the generator stays in [0, 1).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine/backoff.h"

#include <math.h>
#include <stdio.h>

struct backoff_case {
    int64_t base_ms;
    int64_t cap_ms;
    int attempt;
    double unit;
    int64_t expected_ms;
};

static const struct backoff_case cases[] = {
    /* full draw = the ceiling: base, doubling, capped */
    {1000, 60000, 1, 1.0, 1000},
    {1000, 60000, 2, 1.0, 2000},
    {1000, 60000, 3, 1.0, 4000},
    {1000, 60000, 6, 1.0, 32000},
    {1000, 60000, 7, 1.0, 60000},
    {1000, 60000, 100, 1.0, 60000},
    {1000, 60000, 1000000, 1.0, 60000},
    /* jitter scales the ceiling */
    {1000, 60000, 1, 0.5, 500},
    {1000, 60000, 3, 0.25, 1000},
    {1000, 60000, 10, 0.5, 30000},
    {10000, 600000, 2, 0.1, 2000},
    /* a draw of 0 (or below, or NaN) retries at once */
    {1000, 60000, 3, 0.0, 0},
    {1000, 60000, 3, -1.0, 0},
    /* draws above 1 are clamped */
    {1000, 60000, 2, 7.5, 2000},
    /* attempt 0 or negative behaves like the first */
    {1000, 60000, 0, 1.0, 1000},
    {1000, 60000, -5, 1.0, 1000},
    /* base above the cap: the cap */
    {5000, 2000, 1, 1.0, 2000},
    /* no base: no delay */
    {0, 60000, 4, 1.0, 0},
    {-10, 60000, 4, 1.0, 0},
    /* no cap: doubling without overflow */
    {1000, 0, 30, 1.0, 1000LL << 29},
    {INT64_MAX / 4, 0, 64, 1.0, INT64_MAX / 2},
    {INT64_MAX, INT64_MAX, 64, 1.0, INT64_MAX},
    /* rounding to the nearest ms */
    {3, 100, 1, 0.5, 2},
    {1, 100, 1, 0.49, 0},
};

static void test_backoff_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct backoff_case *c = &cases[i];
        int64_t got = retry_backoff_ms(c->base_ms, c->cap_ms, c->attempt, c->unit);
        if (got != c->expected_ms)
            fail_msg("case %zu: base %lld cap %lld attempt %d unit %g: got %lld, want %lld", i,
                     (long long)c->base_ms, (long long)c->cap_ms, c->attempt, c->unit,
                     (long long)got, (long long)c->expected_ms);
    }
    assert_int_equal(retry_backoff_ms(1000, 60000, 3, NAN), 0);
}

static void test_backoff_stays_under_ceiling(void **state)
{
    (void)state;
    struct backoff_random rng;
    backoff_random_seed(&rng, 42);
    for (int attempt = 1; attempt <= 20; attempt++) {
        int64_t ceiling = retry_backoff_ceiling_ms(250, 30000, attempt);
        assert_true(ceiling >= 250 && ceiling <= 30000);
        for (int i = 0; i < 1000; i++) {
            int64_t delay = retry_backoff_ms(250, 30000, attempt, backoff_random_unit(&rng));
            assert_true(delay >= 0 && delay <= ceiling);
        }
    }
}

static void test_random_is_uniform_enough(void **state)
{
    (void)state;
    struct backoff_random rng;
    backoff_random_seed(&rng, 0); /* 0 is replaced, not a stuck generator */
    int buckets[10] = {0};
    for (int i = 0; i < 100000; i++) {
        double u = backoff_random_unit(&rng);
        assert_true(u >= 0.0 && u < 1.0);
        buckets[(int)(u * 10)]++;
    }
    for (int b = 0; b < 10; b++)
        assert_true(buckets[b] > 9000 && buckets[b] < 11000);
    /* Different seeds, different sequences. */
    struct backoff_random a, b;
    backoff_random_seed(&a, 1);
    backoff_random_seed(&b, 2);
    assert_true(backoff_random_unit(&a) != backoff_random_unit(&b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_table),
        cmocka_unit_test(test_backoff_stays_under_ceiling),
        cmocka_unit_test(test_random_is_uniform_enough),
    };
    return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
