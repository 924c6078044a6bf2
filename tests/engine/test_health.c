/*
 * test_health.c - the engine's health thread (engine/health.c) on both
 * backends and the fake clock: a sample per slot as the clock moves, one
 * per slot however many nodes run, the history compacted by the node
 * that takes a slot, and bad health options refused at start.
 *
 * Waiting here is for the thread to act on a slot the test made due
 * (bounded by a hang limit), never for time to pass.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/store_fixture.h"

#include "engine/engine_test_support.h"

#define SECOND_MS 1000LL
#define HOUR_MS (3600 * SECOND_MS)
#define HANG_BOUND_MS 30000

static int64_t health_rows(struct fixture *f)
{
    return fixture_sql_int(f, "SELECT count(*) FROM stg_import_monitoring WHERE kind = 'health'");
}

/* wait_rows - until the history has count rows (fails after the hang bound). */
static void wait_rows(struct fixture *f, int64_t count)
{
    int64_t end = time_monotonic_ms() + HANG_BOUND_MS;
    while (health_rows(f) < count) {
        if (time_monotonic_ms() > end)
            fail_msg("%lld health rows, want %lld", (long long)health_rows(f), (long long)count);
        sleep_ms(20);
    }
}

static void health_options(struct fixture *f, const struct import_root *root,
                           struct engine_options *opts)
{
    test_engine_options(f, root, opts);
    opts->clock = &f->clock.clock;
    opts->health_interval_ms = 10 * SECOND_MS;
}

static void test_a_sample_per_slot_across_nodes(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    struct import_root root;
    import_root_make(&root);
    struct engine_options opts;
    health_options(f, &root, &opts);
    struct engine *a = start_engine(&opts);
    struct engine *b = start_engine(&opts);
    wait_rows(f, 1);
    for (int slot = 2; slot <= 4; slot++) {
        fake_clock_advance(&f->clock, 10 * SECOND_MS);
        wait_rows(f, slot);
    }
    engine_stop(a, 1000);
    engine_stop(b, 1000);
    /* Exactly one each: the clock never reached a fifth slot. */
    assert_int_equal(health_rows(f), 4);
    assert_int_equal(fixture_sql_int(f, "SELECT count(DISTINCT created_at) FROM"
                                        " stg_import_monitoring WHERE kind = 'health'"),
                     4);
    import_root_remove(&root);
}

static void test_the_first_sample_compacts_old_history(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    /* Samples of two days ago, every 10 s for 10 minutes. */
    for (int i = 1; i <= 60; i++) {
        char t[TIME_RFC3339_LEN];
        fixture_exec_fmt(f,
                         "INSERT INTO stg_import_monitoring (kind, period_s, created_at,"
                         " queue_depth, held, running, locks_held, jobs_finished, jobs_failed,"
                         " rows_imported, oldest_queued_age_s) VALUES"
                         " ('health', 10, '%s', 0, 0, 0, 0, 1, 0, 0, 0)",
                         time_format_rfc3339(FAKE_CLOCK_START_MS - 48 * HOUR_MS + i * 10000, t));
    }
    struct import_root root;
    import_root_make(&root);
    struct engine_options opts;
    health_options(f, &root, &opts);
    struct engine *engine = start_engine(&opts);
    /* The new sample and the two 5-minute rollups of the old ten minutes
     * (one transaction: 60 rows, 61 with the sample, then 3). */
    int64_t end = time_monotonic_ms() + HANG_BOUND_MS;
    while (health_rows(f) != 3 && time_monotonic_ms() < end)
        sleep_ms(20);
    engine_stop(engine, 1000);
    assert_int_equal(health_rows(f), 3);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_monitoring"
                                        " WHERE kind = 'health' AND period_s = 300"),
                     2);
    assert_int_equal(fixture_sql_int(f, "SELECT sum(jobs_finished) FROM stg_import_monitoring"
                                        " WHERE period_s = 300"),
                     60);
    import_root_remove(&root);
}

static void test_bad_health_options_refused(void **state)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    struct engine_options opts;
    health_options(f, &root, &opts);
    int64_t bad[][3] = {{1500, 0, 0}, {2 * HOUR_MS, 0, 0}, {0, 8 * 24 * HOUR_MS, 0},
                        {0, 48 * HOUR_MS, 24 * HOUR_MS}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        opts.health_interval_ms = bad[i][0];
        opts.health_retention_ms = bad[i][1];
        opts.health_rollup_retention_ms = bad[i][2];
        struct engine *engine = NULL;
        struct iq_error err = {0};
        assert_int_equal(engine_start(&opts, &engine, &err), IQ_E_INVALID);
        assert_non_null(strstr(iq_error_message(&err), "health"));
        assert_null(engine);
        iq_error_clear(&err);
    }
    import_root_remove(&root);
}

static void test_health_off_takes_no_samples(void **state)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    struct engine_options opts;
    health_options(f, &root, &opts);
    opts.health_off = true;
    opts.health_interval_ms = 1; /* not even checked */
    struct engine *engine = start_engine(&opts);
    engine_stop(engine, 1000);
    assert_int_equal(health_rows(f), 0);
    import_root_remove(&root);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_a_sample_per_slot_across_nodes, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_the_first_sample_compacts_old_history, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_bad_health_options_refused, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_health_off_takes_no_samples, fixture_setup,
                                    fixture_teardown),
};

int main(void)
{
    return fixture_run_backends("engine_health", "engine health tests", tests,
                                sizeof(tests) / sizeof(tests[0]));
}
