/*
 * test_scheduler.c - the engine's scheduler (engine/scheduler.h) on both
 * backends, with a fake clock: the misfire policies after a simulated
 * downtime (skip, run_once, catch_up under and over its cap), an on-time
 * fire within the grace, a Europe/Zurich 02:30 schedule across the
 * spring-forward day, the scheduler thread of a running engine, and on
 * PostgreSQL two engines on one database that fire an every-second
 * schedule exactly once per second, the other taking over when the
 * leader stops. Schedules are inserted by SQL (support/schedule_fixture.h).
 *
 * IMPORTQ_TEST_ONLY=postgres (or =sqlite) runs one backend's group only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/schedule_fixture.h"
#include "engine_test_support.h"

#include "engine/scheduler.h"

#define HOUR_MS INT64_C(3600000)
#define DAY_MS (24 * HOUR_MS)
/* The first hourly fire time after the fake clock's start. */
#define S (FAKE_CLOCK_START_MS + HOUR_MS)
/* How long a test waits for a running engine to fire: a bound on a hang. */
#define FIRE_BOUND_MS 60000

static const struct audit_context scheduler_test_actor = {"scheduler", NULL, NULL};

static int setup(void **state)
{
    int rc = fixture_setup(state);
    if (rc == 0)
        fixture_use_fake_clock(FIX(state));
    return rc;
}

/* hourly - an hourly UTC schedule due at S with misfire; its id into id. */
static void hourly(void **state, const char *misfire, char id[UUID_STR_LEN])
{
    struct test_schedule schedule = {
        .name = "hourly",
        .cron = "0 * * * *",
        .job_json = "{\"source\": {\"format\": \"csv\", \"path\": \"h-{datetime}.csv\"},"
                    " \"target\": {\"table\": \"hourly\"}}",
        .misfire = misfire,
        .next_run_at_ms = S};
    fixture_schedule_insert(FIX(state), &schedule, id);
}

/* tick_at - move the fake clock to now_ms and tick once. */
static struct scheduler_tick_report tick_at(void **state, int64_t now_ms)
{
    struct fake_clock *clock = &FIX(state)->clock;
    fake_clock_advance(clock, now_ms - fake_clock_now(clock));
    struct scheduler_policy policy = {.actor = &scheduler_test_actor};
    struct scheduler_tick_report report;
    struct iq_error err = {0};
    if (scheduler_tick(FIX(state)->store, &policy, now_ms, &report, &err) < 0)
        fail_msg("tick: %s", iq_error_message(&err));
    if (report.failures > 0)
        fail_msg("tick: %d failed: %s", report.failures, iq_error_message(&err));
    return report;
}

static int64_t fires(void **state, const char *outcome)
{
    return fixture_int_fmt(
        FIX(state), "SELECT count(*) FROM importq_schedule_fires WHERE outcome = '%s'", outcome);
}

/* fire_at_text - the fire times of outcome, oldest first, as "HH:MM" UTC, joined by ','. */
static char *fire_paths(void **state)
{
    return fixture_sql_text(FIX(state),
                            strcmp(FIX(state)->backend, "postgres") == 0
                                ? "SELECT source->>'path' FROM stg_import_queue ORDER BY id"
                                : "SELECT json_extract(source, '$.path') FROM stg_import_queue"
                                  " ORDER BY id");
}

static void test_not_due_fires_nothing(void **state)
{
    char id[UUID_STR_LEN];
    hourly(state, "run_once", id);
    struct scheduler_tick_report r = tick_at(state, S - 1);
    assert_int_equal(r.jobs, 0);
    assert_int_equal(r.next_ms, S);
    assert_int_equal(count_rows(FIX(state), "importq_schedule_fires", NULL), 0);
}

static void test_on_time_within_the_grace(void **state)
{
    char id[UUID_STR_LEN];
    hourly(state, "skip", id); /* skip would show if this counted as a misfire */
    struct scheduler_tick_report r = tick_at(state, S + 59000);
    assert_int_equal(r.jobs, 1);
    assert_int_equal(r.misfires, 0);
    assert_int_equal(fixture_schedule_next_ms(FIX(state), id), S + HOUR_MS);
    char *paths = fire_paths(state);
    assert_string_equal(paths, "h-20300101T010000.csv");
    free(paths);
}

static void test_misfire_skip(void **state)
{
    char id[UUID_STR_LEN];
    hourly(state, "skip", id);
    /* down from before S until 5 h 10 min after it */
    struct scheduler_tick_report r = tick_at(state, S + 5 * HOUR_MS + 600000);
    assert_int_equal(r.misfires, 1);
    assert_int_equal(r.jobs, 0);
    assert_int_equal(r.skipped, 1);
    assert_int_equal(count_rows(FIX(state), "stg_import_queue", NULL), 0);
    assert_int_equal(fires(state, "skipped_misfire"), 1);
    assert_int_equal(fixture_schedule_next_ms(FIX(state), id), S + 6 * HOUR_MS);
    char *detail = fixture_sql_text(FIX(state), "SELECT detail FROM importq_schedule_fires");
    assert_non_null(strstr(detail, "missed fire times from 2030-01-01T01:00:00.000Z"));
    free(detail);
    /* and then on time again */
    r = tick_at(state, S + 6 * HOUR_MS);
    assert_int_equal(r.jobs, 1);
    assert_int_equal(r.misfires, 0);
}

static void test_misfire_run_once(void **state)
{
    char id[UUID_STR_LEN];
    hourly(state, "run_once", id);
    struct scheduler_tick_report r = tick_at(state, S + 5 * HOUR_MS + 600000);
    assert_int_equal(r.misfires, 1);
    assert_int_equal(r.jobs, 1);
    assert_int_equal(fires(state, "created"), 1);
    assert_int_equal(count_rows(FIX(state), "importq_schedule_fires", NULL), 1);
    /* the job is for the latest missed time, S + 5 h = 06:00 */
    char *paths = fire_paths(state);
    assert_string_equal(paths, "h-20300101T060000.csv");
    free(paths);
    assert_int_equal(fixture_schedule_next_ms(FIX(state), id), S + 6 * HOUR_MS);
    /* a second tick at the same moment does nothing more */
    r = tick_at(state, S + 5 * HOUR_MS + 600000);
    assert_int_equal(r.jobs + r.skipped, 0);
}

static void test_misfire_catch_up_within_the_cap(void **state)
{
    char id[UUID_STR_LEN];
    hourly(state, "catch_up", id);
    struct scheduler_tick_report r = tick_at(state, S + 3 * HOUR_MS + 600000);
    assert_int_equal(r.jobs, 4); /* S, S+1h, S+2h, S+3h */
    assert_int_equal(r.skipped, 0);
    char *paths = fire_paths(state);
    assert_string_equal(paths, "h-20300101T010000.csv\nh-20300101T020000.csv\n"
                               "h-20300101T030000.csv\nh-20300101T040000.csv");
    free(paths);
    assert_int_equal(fixture_schedule_next_ms(FIX(state), id), S + 4 * HOUR_MS);
}

static void test_misfire_catch_up_over_the_cap(void **state)
{
    char id[UUID_STR_LEN];
    hourly(state, "catch_up", id);
    /* 16 fire times missed (S .. S+15h), the cap runs 10 */
    struct scheduler_tick_report r = tick_at(state, S + 15 * HOUR_MS + 600000);
    assert_int_equal(r.jobs, SCHEDULE_CATCH_UP_MAX_DEFAULT);
    assert_int_equal(r.skipped, 1);
    assert_int_equal(fires(state, "created"), SCHEDULE_CATCH_UP_MAX_DEFAULT);
    assert_int_equal(fires(state, "skipped_misfire"), 1);
    char *paths = fire_paths(state);
    assert_non_null(strstr(paths, "h-20300101T010000.csv\n")); /* oldest first */
    assert_non_null(strstr(paths, "h-20300101T100000.csv"));   /* the 10th */
    assert_null(strstr(paths, "h-20300101T110000.csv"));       /* the 11th: skipped */
    free(paths);
    char *detail = fixture_sql_text(FIX(state), "SELECT detail FROM importq_schedule_fires"
                                                " WHERE outcome = 'skipped_misfire'");
    assert_non_null(strstr(detail, "from 2030-01-01T11:00:00.000Z"));
    assert_non_null(strstr(detail, "catch_up_max"));
    free(detail);
    assert_int_equal(fixture_schedule_next_ms(FIX(state), id), S + 16 * HOUR_MS);
}

/* The schedule's own cap (catch_up_max) rather than the default. */
static void test_misfire_catch_up_own_cap(void **state)
{
    char id[UUID_STR_LEN];
    hourly(state, "catch_up", id);
    fixture_exec_fmt(FIX(state), "UPDATE stg_scheduled_imports SET catch_up_max = 3");
    struct scheduler_tick_report r = tick_at(state, S + 15 * HOUR_MS + 600000);
    assert_int_equal(r.jobs, 3);
    assert_int_equal(r.skipped, 1);
    char *paths = fire_paths(state);
    assert_string_equal(paths, "h-20300101T010000.csv\nh-20300101T020000.csv\n"
                               "h-20300101T030000.csv");
    free(paths);
    assert_int_equal(fixture_schedule_next_ms(FIX(state), id), S + 16 * HOUR_MS);
}

static void test_disabled_schedule_never_fires(void **state)
{
    char id[UUID_STR_LEN];
    struct test_schedule schedule = {.name = "off", .next_run_at_ms = S, .disabled = true};
    fixture_schedule_insert(FIX(state), &schedule, id);
    struct scheduler_tick_report r = tick_at(state, S + DAY_MS);
    assert_int_equal(r.jobs + r.skipped + r.misfires, 0);
    assert_int_equal(count_rows(FIX(state), "importq_schedule_fires", NULL), 0);
}

/* 2030-03-30T01:30:00Z: 02:30 CET, the day before Zurich springs forward
 * (2030-03-31, 02:00 CET -> 03:00 CEST). */
#define MAR30_0230 INT64_C(1901064600000)

static void test_zurich_0230_across_spring_forward(void **state)
{
    char id[UUID_STR_LEN];
    struct test_schedule schedule = {
        .name = "zurich",
        .cron = "30 2 * * *",
        .timezone = "Europe/Zurich",
        .job_json = "{\"source\": {\"format\": \"csv\", \"path\": \"z-{datetime}.csv\"},"
                    " \"target\": {\"table\": \"zurich\"}}",
        .next_run_at_ms = MAR30_0230};
    fixture_schedule_insert(FIX(state), &schedule, id);
    /* 02:30 CET on the 30th */
    assert_int_equal(tick_at(state, MAR30_0230).jobs, 1);
    /* 02:30 does not exist on the 31st: once at 03:00 CEST = 01:00Z */
    int64_t mar31 = MAR30_0230 + DAY_MS - 30 * 60000;
    assert_int_equal(fixture_schedule_next_ms(FIX(state), id), mar31);
    assert_int_equal(tick_at(state, mar31 - 1000).jobs, 0);
    assert_int_equal(tick_at(state, mar31).jobs, 1);
    /* then 02:30 CEST = 00:30Z on April 1st, not again on the 31st */
    int64_t apr1 = MAR30_0230 + 2 * DAY_MS - HOUR_MS;
    assert_int_equal(fixture_schedule_next_ms(FIX(state), id), apr1);
    assert_int_equal(tick_at(state, apr1 - 1000).jobs, 0);
    assert_int_equal(tick_at(state, apr1).jobs, 1);
    char *paths = fire_paths(state);
    assert_string_equal(paths, "z-20300330T023000.csv\nz-20300331T030000.csv\n"
                               "z-20300401T023000.csv");
    free(paths);
}

/* wait_fires - until the schedule has count fire rows (or fail). */
static void wait_fires(void **state, const char *id, int64_t count)
{
    int64_t end = time_monotonic_ms() + FIRE_BOUND_MS;
    for (;;) {
        int64_t n = fixture_int_fmt(
            FIX(state), "SELECT count(*) FROM importq_schedule_fires WHERE schedule_id = '%s'", id);
        if (n >= count)
            return;
        if (time_monotonic_ms() > end)
            fail_msg("only %lld of %lld fires after %d ms", (long long)n, (long long)count,
                     FIRE_BOUND_MS);
        sleep_ms(5);
    }
}

static void scheduler_engine_options(void **state, struct import_root *root,
                                     struct engine_options *opts)
{
    test_engine_options(FIX(state), root, opts);
    opts->workers = 1;
    opts->max_concurrent = 1;
    opts->clock = &FIX(state)->clock.clock;
    opts->schedule_poll_ms = 20;
}

static void test_engine_thread_fires(void **state)
{
    struct import_root root;
    import_root_make(&root);
    char id[UUID_STR_LEN];
    struct test_schedule schedule = {.name = "soon", .cron = "0 * * * *", .next_run_at_ms = S};
    fixture_schedule_insert(FIX(state), &schedule, id);
    struct engine_options opts;
    scheduler_engine_options(state, &root, &opts);
    struct engine *engine = start_engine(&opts);
    fake_clock_advance(&FIX(state)->clock, HOUR_MS); /* S has come */
    wait_fires(state, id, 1);
    assert_true(engine_scheduler_leads(engine));
    assert_int_equal(
        fixture_int_fmt(FIX(state),
                        "SELECT count(*) FROM stg_import_queue WHERE schedule_id = '%s'", id),
        1);
    assert_int_equal(fixture_schedule_next_ms(FIX(state), id), S + HOUR_MS);
    engine_stop(engine, 1000);
    import_root_remove(&root);
}

static void test_scheduler_off(void **state)
{
    struct import_root root;
    import_root_make(&root);
    struct engine_options opts;
    scheduler_engine_options(state, &root, &opts);
    opts.scheduler_off = true;
    struct engine *engine = start_engine(&opts);
    assert_false(engine_scheduler_leads(engine));
    engine_stop(engine, 1000);
    import_root_remove(&root);
}

/* Two nodes on one PostgreSQL database, an every-second schedule. */
static void test_two_engines_fire_each_second_once(void **state)
{
    if (!is_postgres(FIX(state)))
        skip(); /* one process per SQLite file */
    struct import_root root;
    import_root_make(&root);
    char id[UUID_STR_LEN];
    int64_t start = fake_clock_now(&FIX(state)->clock);
    struct test_schedule schedule = {.name = "every second",
                                     .cron = "* * * * * *",
                                     .overlap = "allow",
                                     .next_run_at_ms = start + 1000};
    fixture_schedule_insert(FIX(state), &schedule, id);
    struct engine_options opts;
    scheduler_engine_options(state, &root, &opts);
    struct engine *engines[2] = {start_engine(&opts), start_engine(&opts)};
    enum { SECONDS = 12, LEADER_STOPS_AFTER = 5 };
    for (int k = 1; k <= SECONDS; k++) {
        fake_clock_advance(&FIX(state)->clock, 1000);
        wait_fires(state, id, k);
        if (k == LEADER_STOPS_AFTER) {
            int leader = engine_scheduler_leads(engines[0]) ? 0 : 1;
            assert_true(engine_scheduler_leads(engines[leader]));
            assert_false(engine_scheduler_leads(engines[1 - leader]));
            engine_stop(engines[leader], 1000);
            engines[leader] = NULL;
        }
    }
    for (int i = 0; i < 2; i++)
        engine_stop(engines[i], 1000);
    /* one fire row per second, one job per fire, no second after the last */
    assert_int_equal(fixture_int_fmt(FIX(state),
                                     "SELECT count(*) FROM importq_schedule_fires"
                                     " WHERE schedule_id = '%s'",
                                     id),
                     SECONDS);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                     "SELECT count(DISTINCT fire_at) FROM importq_schedule_fires"
                                     " WHERE schedule_id = '%s' AND outcome <> 'skipped_misfire'",
                                     id),
                     SECONDS);
    assert_int_equal(
        fixture_int_fmt(FIX(state),
                        "SELECT count(*) FROM stg_import_queue WHERE schedule_id = '%s'", id),
        SECONDS);
    assert_int_equal(
        fixture_int_fmt(FIX(state),
                        "SELECT count(*) FROM (SELECT job_id FROM importq_schedule_fires"
                        " WHERE schedule_id = '%s' GROUP BY job_id"
                        " HAVING count(*) > 1) d",
                        id),
        0);
    import_root_remove(&root);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, fixture_teardown)

static const struct CMUnitTest tests[] = {
    TEST(test_not_due_fires_nothing),
    TEST(test_on_time_within_the_grace),
    TEST(test_misfire_skip),
    TEST(test_misfire_run_once),
    TEST(test_misfire_catch_up_within_the_cap),
    TEST(test_misfire_catch_up_over_the_cap),
    TEST(test_misfire_catch_up_own_cap),
    TEST(test_disabled_schedule_never_fires),
    TEST(test_zurich_0230_across_spring_forward),
    TEST(test_engine_thread_fires),
    TEST(test_scheduler_off),
    TEST(test_two_engines_fire_each_second_once),
};

int main(void)
{
    return fixture_run_backends("scheduler", "scheduler tests", tests,
                                sizeof(tests) / sizeof(tests[0]));
}
