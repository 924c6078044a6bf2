/* test_clock.c - the injectable clock (core/clock.h) and the tests' fake one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/timeutil.h"
#include "support/fake_clock.h"

#include <pthread.h>

static void test_null_is_the_real_clock(void **state)
{
    (void)state;
    assert_true(iq_clock_is_real(NULL));
    int64_t before = time_now_ms();
    int64_t now = iq_clock_now_ms(NULL);
    int64_t after = time_now_ms();
    assert_true(before <= now && now <= after);
}

static int64_t fixed_cb(void *ctx)
{
    return *(const int64_t *)ctx;
}

static void test_injected_clock_is_asked(void **state)
{
    (void)state;
    int64_t at = 1234567;
    struct iq_clock clock = {.now_ms = fixed_cb, .ctx = &at};
    assert_false(iq_clock_is_real(&clock));
    assert_int_equal(iq_clock_now_ms(&clock), 1234567);
    at = 7654321;
    assert_int_equal(iq_clock_now_ms(&clock), 7654321);
}

static void test_fake_clock_stands_still_until_advanced(void **state)
{
    (void)state;
    struct fake_clock fc;
    fake_clock_init(&fc);
    assert_int_equal(iq_clock_now_ms(&fc.clock), FAKE_CLOCK_START_MS);
    assert_int_equal(iq_clock_now_ms(&fc.clock), FAKE_CLOCK_START_MS);
    assert_int_equal(fake_clock_advance(&fc, 1500), FAKE_CLOCK_START_MS + 1500);
    assert_int_equal(iq_clock_now_ms(&fc.clock), FAKE_CLOCK_START_MS + 1500);
    assert_int_equal(fake_clock_advance(&fc, -500), FAKE_CLOCK_START_MS + 1000);
    assert_int_equal(fake_clock_now(&fc), FAKE_CLOCK_START_MS + 1000);
    char text[TIME_RFC3339_LEN];
    assert_string_equal(time_format_rfc3339(FAKE_CLOCK_START_MS, text), "2030-01-01T00:00:00.000Z");
}

#define ADVANCERS 4
#define STEPS 10000

static void *advance_cb(void *arg)
{
    struct fake_clock *fc = arg;
    int64_t last = 0;
    for (int i = 0; i < STEPS; i++) {
        fake_clock_advance(fc, 1);
        int64_t now = iq_clock_now_ms(&fc->clock);
        if (now < last) /* never goes back while only advanced */
            return (void *)1;
        last = now;
    }
    return NULL;
}

static void test_fake_clock_is_thread_safe(void **state)
{
    (void)state;
    struct fake_clock fc;
    fake_clock_init(&fc);
    pthread_t threads[ADVANCERS];
    for (int i = 0; i < ADVANCERS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, advance_cb, &fc), 0);
    for (int i = 0; i < ADVANCERS; i++) {
        void *ret = NULL;
        pthread_join(threads[i], &ret);
        assert_null(ret);
    }
    assert_int_equal(fake_clock_now(&fc), FAKE_CLOCK_START_MS + ADVANCERS * STEPS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_is_the_real_clock),
        cmocka_unit_test(test_injected_clock_is_asked),
        cmocka_unit_test(test_fake_clock_stands_still_until_advanced),
        cmocka_unit_test(test_fake_clock_is_thread_safe),
    };
    return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
