/*
 * test_schedule_fire_store.c - the fire of a scheduled import in the store
 * (store_schedule_fire, store_schedules_due, store_schedule_fires_list,
 * store_scheduler_lead), one test code for both backends: the job made
 * from the template (placeholders in the schedule's zone, schedule_id),
 * next_run_at and the schedule's state; a time never fired twice, also
 * by two connections racing; the overlap policies; a full queue and a bad
 * template recorded as skipped; the state kept current when the job ends
 * (completed, failed, cancelled); run now; the history's pages and
 * retention; the scheduler's lead. Schedules are inserted by SQL
 * (tests/support/schedule_fixture.h).
 *
 * IMPORTQ_TEST_ONLY=postgres (or =sqlite) runs one backend's group only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/schedule_fixture.h"

#include "core/timeutil.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORE(state) (((struct fixture *)*(state))->store)
#define FIX(state) ((struct fixture *)*(state))
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

#define NODE_ID "01900000-0000-7000-8000-000000000001"
#define DAY_MS INT64_C(86400000)
/* 2030-01-02T01:00:00Z: 02:00 in Europe/Zurich (CET, +01:00). */
#define T0 (FAKE_CLOCK_START_MS + DAY_MS + 3600000)

static const char users_template[] =
    "{\"name\": \"nightly users\", \"request_id\": \"fixed\","
    " \"source\": {\"format\": \"csv\", \"path\": \"users-{date}-{time}.csv\"},"
    " \"target\": {\"table\": \"users\"}}";

static int setup(void **state)
{
    int rc = fixture_setup(state);
    if (rc == 0)
        fixture_use_fake_clock(FIX(state));
    return rc;
}

/* nightly - a Zurich 02:00 schedule due at T0 with overlap; its id into id. */
static void nightly(void **state, const char *overlap, char id[UUID_STR_LEN])
{
    struct test_schedule schedule = {.name = "nightly users",
                                     .cron = "0 2 * * *",
                                     .timezone = "Europe/Zurich",
                                     .job_json = users_template,
                                     .overlap = overlap,
                                     .next_run_at_ms = T0};
    fixture_schedule_insert(FIX(state), &schedule, id);
}

/* fire - a DUE fire of id at fire_at (fence: expected); returns the store's code. */
static int fire(struct store *s, const char *id, int64_t fire_at, int64_t expected,
                int max_queue_size, struct schedule_fire_result *ret, struct iq_error *err)
{
    struct schedule_fire_request req = {.schedule_id = id,
                                        .kind = SCHEDULE_FIRE_DUE,
                                        .fire_at_ms = fire_at,
                                        .expected_next_ms = expected,
                                        .max_queue_size = max_queue_size};
    return store_schedule_fire(s, &req, &test_actor, ret, err);
}

/* fire_ok - fire at its next_run_at, which must work; the result into *ret. */
static void fire_ok(void **state, const char *id, int64_t at, struct schedule_fire_result *ret)
{
    struct iq_error err = {0};
    if (fire(STORE(state), id, at, at, 0, ret, &err) < 0)
        fail_msg("fire: %s", iq_error_message(&err));
    assert_true(ret->fired);
}

static int64_t count_jobs(void **state)
{
    return fixture_sql_int(FIX(state), "SELECT count(*) FROM stg_import_queue");
}

static int64_t count_fires(void **state, const char *outcome)
{
    return fixture_int_fmt(
        FIX(state), "SELECT count(*) FROM importq_schedule_fires WHERE outcome = '%s'", outcome);
}

static void test_fire_creates_the_job_and_advances(void **state)
{
    char id[UUID_STR_LEN];
    nightly(state, "allow", id);
    struct schedule_fire_result r;
    fire_ok(state, id, T0, &r);
    assert_int_equal(r.outcome, SCHEDULE_FIRE_CREATED);
    assert_non_null(r.job);
    assert_int_equal(r.job->status, JOB_QUEUED);
    assert_non_null(r.job->schedule_id);
    assert_string_equal(r.job->schedule_id, id);
    assert_null(r.job->request_id); /* each fire is a new job */
    /* 2030-01-02T01:00Z is 02:00 on the schedule's clocks. */
    json_t *path = json_object_get(r.job->source, "path");
    assert_string_equal(json_string_value(path), "users-20300102-020000.csv");
    assert_int_equal(r.next_run_at_ms, T0 + DAY_MS);
    assert_int_equal(fixture_schedule_next_ms(FIX(state), id), T0 + DAY_MS);
    assert_int_equal(fixture_schedule_int(FIX(state), id, "run_count"), 1);
    char *last = fixture_schedule_text(FIX(state), id, "last_job_id");
    assert_string_equal(last, r.job->id);
    free(last);
    char *status = fixture_schedule_text(FIX(state), id, "last_status");
    assert_string_equal(status, "queued");
    free(status);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                     "SELECT count(*) FROM importq_schedule_fires"
                                     " WHERE schedule_id = '%s' AND job_id = '%s'"
                                     " AND outcome = 'created'",
                                     id, r.job->id),
                     1);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                     "SELECT count(*) FROM stg_import_audit"
                                     " WHERE action = 'job.create' AND entity_id = '%s'",
                                     r.job->id),
                     1);
    schedule_fire_result_clear(&r);
}

static void test_a_time_fires_once(void **state)
{
    char id[UUID_STR_LEN];
    nightly(state, "allow", id);
    struct schedule_fire_result r;
    fire_ok(state, id, T0, &r);
    schedule_fire_result_clear(&r);
    struct iq_error err = {0};
    /* The same fire again: the fence (next_run_at moved on) stops it. */
    assert_int_equal(fire(STORE(state), id, T0, T0, 0, &r, &err), 0);
    assert_false(r.fired);
    assert_null(r.job);
    /* A fire of T0 that passes the fence: the fire row stops it. */
    assert_int_equal(fire(STORE(state), id, T0, T0 + DAY_MS, 0, &r, &err), 0);
    assert_false(r.fired);
    assert_int_equal(count_jobs(state), 1);
    assert_int_equal(fixture_schedule_next_ms(FIX(state), id), T0 + DAY_MS);
    assert_int_equal(fixture_schedule_int(FIX(state), id, "run_count"), 1);
    /* The database itself refuses a second row for the time (the guard
     * when two writers get past every check at once). */
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO importq_schedule_fires (schedule_id, fire_at, outcome, created_at)"
             " SELECT schedule_id, fire_at, 'skipped_misfire', created_at"
             " FROM importq_schedule_fires WHERE schedule_id = '%s'",
             id);
    assert_int_equal(fixture_sql_exec(FIX(state), sql), -1);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM importq_schedule_fires"), 1);
}

/* Two connections fire the same time at once. */
struct racer {
    struct store *store;
    const char *id;
    int64_t at;
    pthread_barrier_t *barrier;
    int rc;
    bool fired;
};

static void *race_cb(void *arg)
{
    struct racer *racer = arg;
    struct schedule_fire_result r;
    struct iq_error err = {0};
    pthread_barrier_wait(racer->barrier);
    racer->rc = fire(racer->store, racer->id, racer->at, racer->at, 0, &r, &err);
    racer->fired = r.fired;
    schedule_fire_result_clear(&r);
    iq_error_clear(&err);
    return NULL;
}

static void test_two_connections_racing_fire_once(void **state)
{
    char id[UUID_STR_LEN];
    nightly(state, "allow", id);
    enum { RACERS = 4, ROUNDS = 5 };
    for (int round = 0; round < ROUNDS; round++) {
        int64_t at = T0 + round * DAY_MS; /* the schedule's next_run_at now */
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, RACERS);
        struct racer racers[RACERS];
        pthread_t threads[RACERS];
        struct store_options opts = {.clock = &FIX(state)->clock.clock};
        for (int i = 0; i < RACERS; i++) {
            racers[i] = (struct racer){.store = fixture_open_extra_with(FIX(state), &opts),
                                       .id = id,
                                       .at = at,
                                       .barrier = &barrier};
            assert_non_null(racers[i].store);
        }
        for (int i = 0; i < RACERS; i++) /* each fires `at` with the fence `at` */
            pthread_create(&threads[i], NULL, race_cb, &racers[i]);
        int fired = 0;
        for (int i = 0; i < RACERS; i++) {
            pthread_join(threads[i], NULL);
            assert_int_equal(racers[i].rc, 0);
            fired += racers[i].fired;
            store_close(racers[i].store);
        }
        pthread_barrier_destroy(&barrier);
        assert_int_equal(fired, 1);
    }
    assert_int_equal(count_jobs(state), ROUNDS);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM importq_schedule_fires"),
                     ROUNDS);
}

static void test_overlap_skip(void **state)
{
    char id[UUID_STR_LEN];
    nightly(state, "skip", id);
    struct schedule_fire_result first, second;
    fire_ok(state, id, T0, &first);
    fire_ok(state, id, T0 + DAY_MS, &second);
    assert_int_equal(second.outcome, SCHEDULE_FIRE_SKIPPED_OVERLAP);
    assert_null(second.job);
    assert_int_equal(second.next_run_at_ms, T0 + 2 * DAY_MS);
    assert_int_equal(count_jobs(state), 1);
    assert_int_equal(fixture_schedule_int(FIX(state), id, "run_count"), 1);
    char *detail = fixture_sql_text(FIX(state), "SELECT detail FROM importq_schedule_fires"
                                                " WHERE outcome = 'skipped_overlap'");
    assert_non_null(strstr(detail, first.job->id));
    assert_non_null(strstr(detail, "QUEUED"));
    free(detail);
    /* Once the previous job has ended, the next fire runs. */
    struct job *cancelled = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_job_cancel(STORE(state), first.job->id, &test_actor, &cancelled, &err),
                     0);
    job_free(cancelled);
    struct schedule_fire_result third;
    fire_ok(state, id, T0 + 2 * DAY_MS, &third);
    assert_int_equal(third.outcome, SCHEDULE_FIRE_CREATED);
    schedule_fire_result_clear(&first);
    schedule_fire_result_clear(&second);
    schedule_fire_result_clear(&third);
}

static void test_overlap_queue(void **state)
{
    char id[UUID_STR_LEN];
    nightly(state, "queue", id);
    struct schedule_fire_result first, second;
    fire_ok(state, id, T0, &first);
    fire_ok(state, id, T0 + DAY_MS, &second);
    assert_int_equal(second.outcome, SCHEDULE_FIRE_CREATED);
    assert_non_null(second.job);
    assert_int_equal(second.job->depends_on_count, 1);
    assert_string_equal(second.job->depends_on[0], first.job->id);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                     "SELECT deps_pending FROM stg_import_queue WHERE id = '%s'",
                                     second.job->id),
                     1);
    schedule_fire_result_clear(&first);
    schedule_fire_result_clear(&second);
}

static void test_overlap_allow(void **state)
{
    char id[UUID_STR_LEN];
    nightly(state, "allow", id);
    struct schedule_fire_result first, second;
    fire_ok(state, id, T0, &first);
    fire_ok(state, id, T0 + DAY_MS, &second);
    assert_int_equal(second.outcome, SCHEDULE_FIRE_CREATED);
    assert_int_equal(second.job->depends_on_count, 0);
    assert_int_equal(count_jobs(state), 2);
    assert_int_equal(fixture_schedule_int(FIX(state), id, "run_count"), 2);
    schedule_fire_result_clear(&first);
    schedule_fire_result_clear(&second);
}

static void test_queue_full_is_recorded_and_the_schedule_moves_on(void **state)
{
    char id[UUID_STR_LEN];
    nightly(state, "allow", id);
    fixture_submit(STORE(state), "other"); /* the one place of a queue of 1 */
    struct schedule_fire_result r;
    struct iq_error err = {0};
    assert_int_equal(fire(STORE(state), id, T0, T0, 1, &r, &err), 0);
    assert_true(r.fired);
    assert_int_equal(r.outcome, SCHEDULE_FIRE_SKIPPED_QUEUE_FULL);
    assert_null(r.job);
    assert_int_equal(r.next_run_at_ms, T0 + DAY_MS);
    assert_int_equal(fixture_schedule_next_ms(FIX(state), id), T0 + DAY_MS);
    assert_int_equal(count_jobs(state), 1);
    assert_int_equal(fixture_schedule_int(FIX(state), id, "run_count"), 0);
    char *detail = fixture_sql_text(FIX(state), "SELECT detail FROM importq_schedule_fires");
    assert_non_null(strstr(detail, "queue is full"));
    free(detail);
    schedule_fire_result_clear(&r);
}

static void test_bad_template_is_recorded_skipped(void **state)
{
    char id[UUID_STR_LEN];
    struct test_schedule schedule = {
        .name = "bad",
        .job_json = "{\"source\": {\"format\": \"csv\", \"path\": \"x-{day}.csv\"},"
                    " \"target\": {\"table\": \"t\"}}",
        .next_run_at_ms = T0};
    fixture_schedule_insert(FIX(state), &schedule, id);
    struct schedule_fire_result r;
    fire_ok(state, id, T0, &r);
    assert_int_equal(r.outcome, SCHEDULE_FIRE_SKIPPED_INVALID);
    assert_int_equal(count_jobs(state), 0);
    char *detail = fixture_sql_text(FIX(state), "SELECT detail FROM importq_schedule_fires");
    assert_non_null(strstr(detail, "unknown placeholder {day}"));
    free(detail);
    schedule_fire_result_clear(&r);
}

static struct job *claim(void **state)
{
    struct claim_request req = {
        .node_id = NODE_ID, .worker = "w1", .max_concurrent = 10, .lease_ms = 60000};
    struct job *job = NULL;
    struct iq_error err = {0};
    if (store_job_claim(STORE(state), &req, &test_actor, &job, &err) < 0)
        fail_msg("claim: %s", iq_error_message(&err));
    assert_non_null(job);
    return job;
}

static void finish(void **state, const struct job *job, enum job_status status)
{
    struct job_finish fin = {.job_id = job->id,
                             .worker = job->worker,
                             .attempt = job->attempt,
                             .status = status,
                             .error_code = status == JOB_COMPLETED ? NULL : "import_failed",
                             .error_message = status == JOB_COMPLETED ? NULL : "it broke",
                             .node_id = NODE_ID};
    struct iq_error err = {0};
    if (store_job_finish(STORE(state), &fin, &test_actor, NULL, &err) < 0)
        fail_msg("finish %s: %s", job->id, iq_error_message(&err));
}

/* fire_outcome - the outcome of job_id's fire row. Caller frees. */
static char *fire_outcome(void **state, const char *job_id)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT outcome FROM importq_schedule_fires WHERE job_id = '%s'",
             job_id);
    return fixture_sql_text(FIX(state), sql);
}

static void expect_state(void **state, const char *id, const char *job_id, const char *status,
                         int64_t successes, int64_t failures)
{
    char *outcome = fire_outcome(state, job_id);
    assert_string_equal(outcome, status);
    free(outcome);
    char *last = fixture_schedule_text(FIX(state), id, "last_status");
    assert_string_equal(last, status);
    free(last);
    assert_int_equal(fixture_schedule_int(FIX(state), id, "success_count"), successes);
    assert_int_equal(fixture_schedule_int(FIX(state), id, "failure_count"), failures);
}

static void test_state_follows_the_job_to_its_end(void **state)
{
    char id[UUID_STR_LEN];
    nightly(state, "allow", id);
    struct schedule_fire_result r;
    /* completed */
    fire_ok(state, id, T0, &r);
    struct job *job = claim(state);
    char *outcome = fire_outcome(state, job->id);
    assert_string_equal(outcome, "created"); /* RUNNING is not an end */
    free(outcome);
    finish(state, job, JOB_COMPLETED);
    expect_state(state, id, job->id, "completed", 1, 0);
    job_free(job);
    schedule_fire_result_clear(&r);
    /* failed for good (no retry_at) */
    fire_ok(state, id, T0 + DAY_MS, &r);
    job = claim(state);
    finish(state, job, JOB_FAILED);
    expect_state(state, id, job->id, "failed", 1, 1);
    job_free(job);
    schedule_fire_result_clear(&r);
    /* cancelled while queued */
    fire_ok(state, id, T0 + 2 * DAY_MS, &r);
    struct job *cancelled = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_job_cancel(STORE(state), r.job->id, &test_actor, &cancelled, &err), 0);
    expect_state(state, id, r.job->id, "cancelled", 1, 1);
    job_free(cancelled);
    schedule_fire_result_clear(&r);
    /* A retry is not an end: FAILED with attempts left goes back to QUEUED. */
    fire_ok(state, id, T0 + 3 * DAY_MS, &r);
    job = claim(state);
    struct job_finish retry = {.job_id = job->id,
                               .worker = job->worker,
                               .attempt = job->attempt,
                               .status = JOB_FAILED,
                               .error_code = "import_failed",
                               .error_message = "again",
                               .retry_at_ms = T0,
                               .node_id = NODE_ID};
    assert_int_equal(store_job_finish(STORE(state), &retry, &test_actor, NULL, &err), 0);
    outcome = fire_outcome(state, job->id);
    assert_string_equal(outcome, "created");
    free(outcome);
    assert_int_equal(fixture_schedule_int(FIX(state), id, "failure_count"), 1);
    job_free(job);
    schedule_fire_result_clear(&r);
}

static void test_jobs_without_a_schedule_leave_schedules_alone(void **state)
{
    char id[UUID_STR_LEN];
    nightly(state, "allow", id);
    fixture_submit(STORE(state), "plain");
    struct job *job = claim(state);
    finish(state, job, JOB_COMPLETED);
    job_free(job);
    assert_int_equal(fixture_schedule_int(FIX(state), id, "success_count"), 0);
}

/* run_now - a NOW fire of id; returns the store's code. */
static int run_now(void **state, const char *id, struct schedule_fire_result *ret,
                   struct iq_error *err)
{
    struct schedule_fire_request req = {.schedule_id = id, .kind = SCHEDULE_FIRE_NOW};
    return store_schedule_fire(STORE(state), &req, &test_actor, ret, err);
}

static void test_run_now(void **state)
{
    char id[UUID_STR_LEN];
    struct test_schedule schedule = {.name = "paused",
                                     .job_json = users_template,
                                     .timezone = "Europe/Zurich",
                                     .overlap = "skip",
                                     .next_run_at_ms = T0,
                                     .disabled = true};
    fixture_schedule_insert(FIX(state), &schedule, id);
    struct schedule_fire_result r;
    struct iq_error err = {0};
    assert_int_equal(run_now(state, id, &r, &err), 0); /* paused: run now still runs */
    assert_true(r.fired);
    assert_non_null(r.job);
    assert_int_equal(r.fire_at_ms, FAKE_CLOCK_START_MS);
    /* 2030-01-01T00:00Z is 01:00 in Zurich */
    assert_string_equal(json_string_value(json_object_get(r.job->source, "path")),
                        "users-20300101-010000.csv");
    assert_int_equal(fixture_schedule_next_ms(FIX(state), id), T0); /* not advanced */
    assert_int_equal(fixture_schedule_int(FIX(state), id, "run_count"), 1);
    schedule_fire_result_clear(&r);
    /* overlap skip: the job just made is unfinished */
    fake_clock_advance(&FIX(state)->clock, 1000);
    assert_int_equal(run_now(state, id, &r, &err), IQ_E_CONFLICT);
    assert_non_null(strstr(iq_error_message(&err), "overlap"));
    iq_error_clear(&err);
    assert_int_equal(count_jobs(state), 1);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM importq_schedule_fires"), 1);
    /* unknown and malformed ids */
    assert_int_equal(run_now(state, "01900000-0000-7000-8000-0000000000ff", &r, &err),
                     IQ_E_NOT_FOUND);
    iq_error_clear(&err);
    assert_int_equal(run_now(state, "nope", &r, &err), IQ_E_NOT_FOUND);
    iq_error_clear(&err);
}

static void test_run_now_refusals_record_nothing(void **state)
{
    char id[UUID_STR_LEN];
    struct test_schedule schedule = {.name = "full", .next_run_at_ms = T0};
    fixture_schedule_insert(FIX(state), &schedule, id);
    fixture_submit(STORE(state), "other");
    struct schedule_fire_request req = {
        .schedule_id = id, .kind = SCHEDULE_FIRE_NOW, .max_queue_size = 1};
    struct schedule_fire_result r;
    struct iq_error err = {0};
    assert_int_equal(store_schedule_fire(STORE(state), &req, &test_actor, &r, &err),
                     IQ_E_QUEUE_FULL);
    iq_error_clear(&err);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM importq_schedule_fires"), 0);
    assert_int_equal(fixture_schedule_int(FIX(state), id, "run_count"), 0);
}

static void test_missed_and_skip_kinds(void **state)
{
    char id[UUID_STR_LEN];
    nightly(state, "allow", id);
    struct schedule_fire_request req = {.schedule_id = id,
                                        .kind = SCHEDULE_FIRE_MISSED,
                                        .fire_at_ms = T0,
                                        .expected_next_ms = T0,
                                        .resume_after_ms = T0 + 10 * DAY_MS + 1,
                                        .detail = "down"};
    struct schedule_fire_result r;
    struct iq_error err = {0};
    assert_int_equal(store_schedule_fire(STORE(state), &req, &test_actor, &r, &err), 0);
    assert_true(r.fired);
    assert_int_equal(r.outcome, SCHEDULE_FIRE_SKIPPED_MISFIRE);
    assert_int_equal(r.next_run_at_ms, T0 + 11 * DAY_MS); /* the first after resume_after */
    assert_int_equal(count_jobs(state), 0);
    assert_int_equal(count_fires(state, "skipped_misfire"), 1);
    /* A SKIP needs a skipped outcome. */
    req.kind = SCHEDULE_FIRE_SKIP;
    req.skip_outcome = SCHEDULE_FIRE_CREATED;
    assert_int_equal(store_schedule_fire(STORE(state), &req, &test_actor, &r, &err), IQ_E_INVALID);
    iq_error_clear(&err);
}

static void test_disabled_schedule_does_not_fire(void **state)
{
    char id[UUID_STR_LEN];
    struct test_schedule schedule = {.name = "off", .next_run_at_ms = T0, .disabled = true};
    fixture_schedule_insert(FIX(state), &schedule, id);
    struct schedule_fire_result r;
    struct iq_error err = {0};
    assert_int_equal(fire(STORE(state), id, T0, T0, 0, &r, &err), 0);
    assert_false(r.fired);
    assert_int_equal(count_jobs(state), 0);
}

static void test_one_off_schedule_ends(void **state)
{
    char id[UUID_STR_LEN];
    struct test_schedule schedule = {
        .name = "once", .cron = "2030-01-02T01:00:00Z", .next_run_at_ms = T0};
    fixture_schedule_insert(FIX(state), &schedule, id);
    struct schedule_fire_result r;
    fire_ok(state, id, T0, &r);
    assert_int_equal(r.next_run_at_ms, 0);
    assert_int_equal(fixture_schedule_next_ms(FIX(state), id), 0);
    schedule_fire_result_clear(&r);
}

static void test_due_lists_enabled_due_schedules(void **state)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN], d[UUID_STR_LEN];
    struct test_schedule sa = {.name = "a", .next_run_at_ms = T0};
    struct test_schedule sb = {.name = "b", .next_run_at_ms = T0 - 1000, .misfire = "catch_up"};
    struct test_schedule sc = {.name = "c", .next_run_at_ms = T0 - 500, .disabled = true};
    struct test_schedule sd = {.name = "d", .next_run_at_ms = T0 + 5000};
    fixture_schedule_insert(FIX(state), &sa, a);
    fixture_schedule_insert(FIX(state), &sb, b);
    fixture_schedule_insert(FIX(state), &sc, c);
    fixture_schedule_insert(FIX(state), &sd, d);
    struct schedule_due_list due;
    struct iq_error err = {0};
    assert_int_equal(store_schedules_due(STORE(state), T0, 10, &due, &err), 0);
    assert_int_equal(due.count, 2);
    assert_string_equal(due.items[0].id, b); /* earliest first */
    assert_string_equal(due.items[0].misfire, "catch_up");
    assert_int_equal(due.items[0].next_run_at_ms, T0 - 1000);
    assert_int_equal(due.items[0].catch_up_max, SCHEDULE_CATCH_UP_MAX_DEFAULT);
    assert_string_equal(due.items[1].id, a);
    assert_int_equal(due.next_ms, T0 + 5000);
    schedule_due_list_clear(&due);
    assert_int_equal(store_schedules_due(STORE(state), T0 - 2000, 10, &due, &err), 0);
    assert_int_equal(due.count, 0);
    assert_int_equal(due.next_ms, T0 - 1000);
    schedule_due_list_clear(&due);
    assert_int_equal(store_schedules_due(STORE(state), T0, 0, &due, &err), IQ_E_INVALID);
    iq_error_clear(&err);
}

static void test_history_pages_newest_first(void **state)
{
    char id[UUID_STR_LEN];
    nightly(state, "allow", id);
    for (int i = 0; i < 5; i++) {
        struct schedule_fire_result r;
        fire_ok(state, id, T0 + i * DAY_MS, &r);
        schedule_fire_result_clear(&r);
    }
    struct schedule_fire_page page;
    struct iq_error err = {0};
    struct schedule_fire_cursor cursor;
    int64_t seen[5];
    size_t total = 0;
    int pages = 0;
    const struct schedule_fire_cursor *after = NULL;
    do {
        assert_int_equal(store_schedule_fires_list(STORE(state), id, 2, after, &page, &err), 0);
        pages++;
        for (size_t i = 0; i < page.count; i++) {
            assert_true(total < 5);
            seen[total++] = page.items[i].fire_at_ms;
            assert_true(page.items[i].job_id[0] != '\0');
            assert_int_equal(page.items[i].outcome, SCHEDULE_FIRE_CREATED);
        }
        bool more = page.more;
        if (more) {
            cursor = (struct schedule_fire_cursor){page.items[page.count - 1].fire_at_ms,
                                                   page.items[page.count - 1].id};
            after = &cursor;
        }
        schedule_fire_page_clear(&page);
        if (!more)
            break;
    } while (pages < 10);
    assert_int_equal(pages, 3);
    assert_int_equal(total, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(seen[i], T0 + (4 - i) * DAY_MS);
    /* unknown schedule; a schedule without fires */
    assert_int_equal(store_schedule_fires_list(STORE(state), "01900000-0000-7000-8000-0000000000ff",
                                               0, NULL, &page, &err),
                     IQ_E_NOT_FOUND);
    iq_error_clear(&err);
    char other[UUID_STR_LEN];
    struct test_schedule quiet = {.name = "quiet"};
    fixture_schedule_insert(FIX(state), &quiet, other);
    assert_int_equal(store_schedule_fires_list(STORE(state), other, 0, NULL, &page, &err), 0);
    assert_int_equal(page.count, 0);
    assert_false(page.more);
    assert_int_equal(store_schedule_fires_list(STORE(state), other, 501, NULL, &page, &err),
                     IQ_E_INVALID);
    iq_error_clear(&err);
}

static void test_history_is_pruned(void **state)
{
    char id[UUID_STR_LEN];
    nightly(state, "allow", id);
    /* SCHEDULE_FIRES_KEPT old rows, one an hour before T0. */
    if (strcmp(FIX(state)->backend, "postgres") == 0)
        fixture_exec_fmt(FIX(state),
                         "INSERT INTO importq_schedule_fires (schedule_id, fire_at, outcome,"
                         " created_at) SELECT '%s', timestamptz '2029-01-01T00:00:00Z'"
                         " + i * interval '1 hour', 'skipped_misfire', now()"
                         " FROM generate_series(1, %d) i",
                         id, SCHEDULE_FIRES_KEPT);
    else
        fixture_exec_fmt(FIX(state),
                         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                         " WHERE i < %d) INSERT INTO importq_schedule_fires (schedule_id,"
                         " fire_at, outcome, created_at) SELECT '%s',"
                         " strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', '2029-01-01T00:00:00Z',"
                         " '+' || i || ' hours'), 'skipped_misfire', '2029-01-01T00:00:00.000Z'"
                         " FROM n",
                         SCHEDULE_FIRES_KEPT, id);
    struct schedule_fire_result r;
    fire_ok(state, id, T0, &r);
    schedule_fire_result_clear(&r);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM importq_schedule_fires"),
                     SCHEDULE_FIRES_KEPT);
    assert_int_equal(count_fires(state, "created"), 1); /* the newest stays */
    /* the oldest (2029-01-01T01:00Z) went */
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM importq_schedule_fires"
                                                 " WHERE fire_at < '2029-01-01T01:30:00Z'"),
                     0);
}

static void test_deleting_a_schedule_deletes_its_history(void **state)
{
    char id[UUID_STR_LEN];
    nightly(state, "allow", id);
    struct schedule_fire_result r;
    fire_ok(state, id, T0, &r);
    /* (the fixture's own SQLite connection enforces foreign keys when told) */
    fixture_exec_fmt(FIX(state), "%sDELETE FROM stg_scheduled_imports WHERE id = '%s'",
                     strcmp(FIX(state)->backend, "sqlite") == 0 ? "PRAGMA foreign_keys=ON; " : "",
                     id);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM importq_schedule_fires"), 0);
    /* its job stays, no longer scheduled */
    assert_int_equal(fixture_int_fmt(FIX(state),
                                     "SELECT count(*) FROM stg_import_queue WHERE id = '%s'"
                                     " AND schedule_id IS NULL",
                                     r.job->id),
                     1);
    schedule_fire_result_clear(&r);
}

struct deleter {
    struct store *store;
    const char *id;
    int rc;
};

static void *delete_schedule(void *arg)
{
    struct deleter *d = arg;
    struct schedule gone;
    struct iq_error err = {0};
    d->rc = store_schedule_delete(d->store, d->id, &test_actor, &gone, &err);
    if (d->rc < 0)
        print_error("delete: %s\n", iq_error_message(&err));
    schedule_clear(&gone);
    iq_error_clear(&err);
    return NULL;
}

/*
 * PostgreSQL: a delete locks the schedule's unfinished jobs before the
 * schedule's row, as a finishing job's trigger does (job row, fire row,
 * schedule row), so the two cannot deadlock: while another transaction
 * holds the job, the waiting delete holds nothing on the schedule's row.
 */
static void test_delete_locks_jobs_before_the_schedule(void **state)
{
    if (strcmp(FIX(state)->backend, "postgres") != 0)
        skip();
    char id[UUID_STR_LEN];
    nightly(state, "allow", id);
    struct schedule_fire_result r;
    fire_ok(state, id, T0, &r);
    PGconn *holder = PQconnectdb(FIX(state)->url);
    PGconn *probe = PQconnectdb(FIX(state)->url);
    assert_int_equal(PQstatus(holder), CONNECTION_OK);
    assert_int_equal(PQstatus(probe), CONNECTION_OK);
    char sql[256];
    snprintf(sql, sizeof(sql), "BEGIN; SELECT 1 FROM stg_import_queue WHERE id = '%s' FOR UPDATE",
             r.job->id);
    PQclear(PQexec(holder, sql));
    struct deleter d = {.store = fixture_open_extra(FIX(state)), .id = id};
    assert_non_null(d.store);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, delete_schedule, &d), 0);
    /* until the delete waits for the holder (a state, polled; no timing) */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE %d = ANY (pg_blocking_pids(pid))",
             PQbackendPID(holder));
    for (;;) {
        PGresult *res = PQexec(probe, sql);
        bool waiting = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "0") != 0;
        PQclear(res);
        if (waiting)
            break;
        usleep(10 * 1000);
    }
    snprintf(sql, sizeof(sql),
             "BEGIN; SELECT 1 FROM stg_scheduled_imports WHERE id = '%s' FOR UPDATE NOWAIT", id);
    PGresult *res = PQexec(probe, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("the waiting delete holds the schedule's row: %s", PQerrorMessage(probe));
    PQclear(res);
    PQclear(PQexec(probe, "ROLLBACK"));
    PQclear(PQexec(holder, "COMMIT"));
    pthread_join(thread, NULL);
    assert_int_equal(d.rc, 0);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                     "SELECT count(*) FROM stg_scheduled_imports WHERE id = '%s'", id),
                     0);
    store_close(d.store);
    PQfinish(holder);
    PQfinish(probe);
    schedule_fire_result_clear(&r);
}

static void test_scheduler_lead(void **state)
{
    struct store *first = fixture_open_extra(FIX(state));
    struct store *second = fixture_open_extra(FIX(state));
    assert_non_null(first);
    assert_non_null(second);
    bool lead = false;
    struct iq_error err = {0};
    assert_int_equal(store_scheduler_lead(first, &lead, &err), 0);
    assert_true(lead);
    assert_int_equal(store_scheduler_lead(first, &lead, &err), 0); /* kept */
    assert_true(lead);
    assert_int_equal(store_scheduler_lead(second, &lead, &err), 0);
    if (strcmp(FIX(state)->backend, "postgres") == 0) {
        assert_false(lead); /* one leader at a time */
        store_close(first); /* the leader's connection ends: the lead is free */
        first = NULL;
        /* once its backend has exited, which the server does after the
         * client hung up, not before PQfinish returns: wait for that
         * (10 s at most; a loaded machine can take a moment) */
        for (int tries = 0; tries < 1000; tries++) {
            assert_int_equal(store_scheduler_lead(second, &lead, &err), 0);
            if (lead)
                break;
            usleep(10 * 1000);
        }
        assert_true(lead);
    } else {
        assert_true(lead); /* one process per file: every connection leads */
    }
    store_close(first);
    store_close(second);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, fixture_teardown)

static const struct CMUnitTest schedule_fire_tests[] = {
    TEST(test_fire_creates_the_job_and_advances),
    TEST(test_a_time_fires_once),
    TEST(test_two_connections_racing_fire_once),
    TEST(test_overlap_skip),
    TEST(test_overlap_queue),
    TEST(test_overlap_allow),
    TEST(test_queue_full_is_recorded_and_the_schedule_moves_on),
    TEST(test_bad_template_is_recorded_skipped),
    TEST(test_state_follows_the_job_to_its_end),
    TEST(test_jobs_without_a_schedule_leave_schedules_alone),
    TEST(test_run_now),
    TEST(test_run_now_refusals_record_nothing),
    TEST(test_missed_and_skip_kinds),
    TEST(test_disabled_schedule_does_not_fire),
    TEST(test_one_off_schedule_ends),
    TEST(test_due_lists_enabled_due_schedules),
    TEST(test_history_pages_newest_first),
    TEST(test_history_is_pruned),
    TEST(test_deleting_a_schedule_deletes_its_history),
    TEST(test_delete_locks_jobs_before_the_schedule),
    TEST(test_scheduler_lead),
};

int main(void)
{
    return fixture_run_backends("schedule_fire_store", "schedule fire store tests",
                                schedule_fire_tests, COUNT_OF(schedule_fire_tests));
}
