/*
 * test_perf_store.c - performance records and resource analytics on both
 * backends (store/perf_ops.h): what a finish records (the attempt's queue
 * time from its ready_at, its lock wait and on whom, its dependency wait,
 * its outcome), the lock history of a finish, a lapsed lease and an
 * admin's release, pruning it and the rest of the history (performance
 * records by attempt, resolved alerts), reading a window's attempts and holds, and
 * the recommendations (core/recommend.c) produced from seeded unhealthy
 * history and absent from healthy history. Time is the fake clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/store_fixture.h"

#include "core/recommend.h"
#include "core/timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE(state) (((struct fixture *)*(state))->store)
#define FIX(state) ((struct fixture *)*(state))
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

#define NODE_ID "01900000-0000-7000-8000-000000000001"
#define LEASE_MS 60000
#define HOUR_MS (3600 * 1000LL)

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static void create_job(void **state, const char *table, const char *extra,
                       const char *schedule_id, char id[UUID_STR_LEN])
{
    struct job_spec *spec = spec_simple(table, 5, extra);
    struct job_create_request req = {.spec = spec, .schedule_id = schedule_id};
    struct job *job = NULL;
    bool existed = false;
    struct iq_error err = {0};
    if (store_job_create(STORE(state), &req, &test_actor, &job, &existed, &err) < 0)
        fail_msg("create on %s: %s", table, iq_error_message(&err));
    memcpy(id, job->id, UUID_STR_LEN);
    job_free(job);
    job_spec_free(spec);
}

/* claim_one - claim and require want_id; the job (job_free). */
static struct job *claim_one(void **state, const char *want_id)
{
    struct claim_request req = {.node_id = NODE_ID, .worker = "w1", .max_concurrent = 10,
                                .lease_ms = LEASE_MS};
    struct job *job = NULL;
    struct iq_error err = {0};
    if (store_job_claim(STORE(state), &req, &test_actor, &job, &err) < 0)
        fail_msg("claim: %s", iq_error_message(&err));
    if (!want_id) {
        assert_null(job);
        return NULL;
    }
    if (!job)
        fail_msg("claimed nothing, want %s", want_id);
    assert_string_equal(job->id, want_id);
    return job;
}

/* finish_retry - end job's attempt FAILED, back to QUEUED at retry_at_ms. */
static void finish_retry(void **state, struct job *job, int64_t retry_at_ms)
{
    struct job_finish finish = {.job_id = job->id, .worker = job->worker,
                                .attempt = job->attempt, .status = JOB_FAILED,
                                .error_code = "import_failed", .error_message = "broke",
                                .retry_at_ms = retry_at_ms, .node_id = NODE_ID};
    struct iq_error err = {0};
    if (store_job_finish(STORE(state), &finish, &test_actor, NULL, &err) < 0)
        fail_msg("finish %s: %s", job->id, iq_error_message(&err));
    job_free(job);
}

/* finish_one - end job's attempt with status and one read phase of 10 rows. */
static void finish_one(void **state, struct job *job, enum job_status status)
{
    struct phase_timing phase = {.phase = "read", .started_at_ms = job->started_at_ms,
                                 .duration_ms = 100, .rows = 10, .bytes = 200};
    struct job_finish finish = {.job_id = job->id, .worker = job->worker,
                                .attempt = job->attempt, .status = status,
                                .error_code = status == JOB_COMPLETED ? NULL : "import_failed",
                                .error_message = status == JOB_COMPLETED ? NULL : "broke",
                                .phases = &phase, .phase_count = 1, .node_id = NODE_ID};
    struct iq_error err = {0};
    if (store_job_finish(STORE(state), &finish, &test_actor, NULL, &err) < 0)
        fail_msg("finish %s: %s", job->id, iq_error_message(&err));
    job_free(job);
}

/* phase_ms - the duration of job's phase row (attempt 1), -1 when none. */
static int64_t phase_ms(void **state, const char *job_id, const char *phase)
{
    return fixture_int_fmt(FIX(state),
                           "SELECT coalesce(max(duration_ms), -1) FROM stg_import_performance"
                           " WHERE job_id = '%s' AND phase = '%s' AND attempt = 1",
                           job_id, phase);
}

static struct perf_window window_around_now(void **state)
{
    int64_t now = fake_clock_now(&FIX(state)->clock);
    return (struct perf_window){NULL, now - HOUR_MS, now + HOUR_MS};
}

/* ------------------------------------------------------------------ */
/* What a finish records                                               */
/* ------------------------------------------------------------------ */

static void test_finish_records_queue_and_lock_wait(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    create_job(state, "t_users", NULL, NULL, a);
    create_job(state, "t_users", NULL, NULL, b); /* the same table: waits for a's lock */
    fake_clock_advance(&f->clock, 1000);
    struct job *ja = claim_one(state, a);
    fake_clock_advance(&f->clock, 5000);
    claim_one(state, NULL); /* b is blocked by a's lock */
    finish_one(state, ja, JOB_COMPLETED);
    fake_clock_advance(&f->clock, 500);
    struct job *jb = claim_one(state, b);
    fake_clock_advance(&f->clock, 200);
    finish_one(state, jb, JOB_FAILED);

    /* a: queued 1 s, no lock wait (a zero wait writes no row); b: queued
     * 6.5 s, 6 s of it for a's lock. */
    assert_int_equal(phase_ms(state, a, "queued"), 1000);
    assert_int_equal(phase_ms(state, a, "lock_wait"), -1);
    assert_int_equal(phase_ms(state, a, "dependency_wait"), -1);
    assert_int_equal(phase_ms(state, b, "queued"), 6500);
    assert_int_equal(phase_ms(state, b, "lock_wait"), 6000);
    assert_int_equal(fixture_int_fmt(f, "SELECT count(*) FROM stg_import_performance WHERE"
                                        " job_id = '%s' AND outcome = 'FAILED'", b), 3);

    /* The lock history: a's hold (5 s, no wait), b's (waited 6 s on a). */
    struct perf_window window = window_around_now(state);
    struct lock_holds holds = {0};
    struct iq_error err = {0};
    assert_int_equal(store_lock_holds(f->store, &window, &holds, &err), 0);
    assert_int_equal(holds.count, 2);
    const struct lock_hold *hb = &holds.items[0], *ha = &holds.items[1]; /* newest first */
    assert_string_equal(ha->job_id, a);
    assert_string_equal(ha->name, "table:t_users");
    assert_true(ha->exclusive);
    assert_int_equal(ha->released_at_ms - ha->acquired_at_ms, 5000);
    assert_int_equal(ha->waited_ms, 0);
    assert_string_equal(ha->blocked_by, "");
    assert_string_equal(hb->job_id, b);
    assert_int_equal(hb->waited_ms, 6000);
    assert_string_equal(hb->blocked_by, a);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM importq_lock_history"
                                        " WHERE how = 'finished'"), 2);

    struct resource_report report;
    assert_int_equal(resource_report_build(&holds, &report, &err), 0);
    assert_int_equal(report.count, 1);
    assert_int_equal(report.items[0].locks, 2);
    assert_int_equal(report.items[0].waits, 1);
    assert_int_equal(report.items[0].wait_ms.p95, 6000);
    assert_string_equal(report.items[0].top[0].blocked_by, a);
    resource_report_clear(&report);
    lock_holds_clear(&holds);

    /* The window's attempts, summed from their rows. */
    struct perf_attempts attempts = {0};
    assert_int_equal(store_perf_attempts(f->store, &window, &attempts, &err), 0);
    assert_int_equal(attempts.count, 2);
    assert_false(attempts.truncated);
    const struct perf_attempt *pb = &attempts.items[0];
    assert_string_equal(pb->job_id, b);
    assert_string_equal(pb->table, "t_users");
    assert_string_equal(pb->outcome, "FAILED");
    assert_int_equal(pb->phase_ms[PERF_QUEUED], 6500);
    assert_int_equal(pb->phase_ms[PERF_LOCK_WAIT], 6000);
    assert_int_equal(pb->phase_ms[PERF_READ], 100);
    assert_int_equal(pb->rows_read, 10);
    assert_int_equal(pb->bytes_read, 200);
    assert_int_equal(pb->claimed_at_ms, FAKE_CLOCK_START_MS + 6500);
    perf_attempts_clear(&attempts);

    /* One table, only its window. */
    window.table = "t_other";
    assert_int_equal(store_perf_attempts(f->store, &window, &attempts, &err), 0);
    assert_int_equal(attempts.count, 0);
    window.table = "t_users";
    window.since_ms = fake_clock_now(&f->clock) + 1;
    assert_int_equal(store_perf_attempts(f->store, &window, &attempts, &err), 0);
    assert_int_equal(attempts.count, 0);
    perf_attempts_clear(&attempts);
}

static void test_finish_records_dependency_wait(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    char a[UUID_STR_LEN], b[UUID_STR_LEN], extra[128];
    create_job(state, "t_a", NULL, NULL, a);
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"]", a);
    create_job(state, "t_b", extra, NULL, b);
    fake_clock_advance(&f->clock, 1000);
    struct job *ja = claim_one(state, a);
    fake_clock_advance(&f->clock, 2000);
    finish_one(state, ja, JOB_COMPLETED); /* b is ready from here */
    fake_clock_advance(&f->clock, 500);
    struct job *jb = claim_one(state, b);
    /* It fails and is retried later: its attempt's waits still count from
     * the attempt's own available_at, not the retry's. */
    finish_retry(state, jb, fake_clock_now(&f->clock) + 10000);
    /* b waited 3 s for a, then 0.5 s in the queue (ready_at: a's completion). */
    assert_int_equal(phase_ms(state, b, "dependency_wait"), 3000);
    assert_int_equal(phase_ms(state, b, "queued"), 500);
    assert_int_equal(phase_ms(state, b, "lock_wait"), -1);
    /* The schedule warnings' durations are the work only. */
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_performance"
                                        " WHERE phase NOT IN ('queued', 'lock_wait',"
                                        " 'dependency_wait')"), 1); /* a's read */
}

static void test_lock_history_of_expiry_and_release_and_prune(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    create_job(state, "t_a", NULL, NULL, a);
    create_job(state, "t_b", NULL, NULL, b);
    struct job *ja = claim_one(state, a);
    struct job *jb = claim_one(state, b);
    /* An admin releases b's lock. */
    struct lock_list locks = {0};
    struct iq_error err = {0};
    assert_int_equal(store_locks_list(f->store, &locks, &err), 0);
    assert_int_equal(locks.count, 2);
    const char *lock_b = strcmp(locks.items[0].job_id, b) == 0 ? locks.items[0].id
                                                               : locks.items[1].id;
    fake_clock_advance(&f->clock, 1000);
    assert_int_equal(store_lock_release(f->store, lock_b, &test_actor, &err), 0);
    lock_list_clear(&locks);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM importq_lock_history"
                                        " WHERE how = 'released'"), 1);
    /* a's lease lapses: the rescue records its lock. */
    fake_clock_advance(&f->clock, 2 * LEASE_MS);
    int rescued = 0;
    assert_int_equal(store_jobs_rescue(f->store, LEASE_MS, NULL, NULL, &test_actor, &rescued,
                                       &err), 0);
    assert_int_equal(rescued, 2);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM importq_lock_history"), 2);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_resources"), 0);
    /* a's lock counts as released when its lease lapsed, not at the rescue. */
    struct perf_window window = window_around_now(state);
    struct lock_holds holds = {0};
    assert_int_equal(store_lock_holds(f->store, &window, &holds, &err), 0);
    assert_int_equal(holds.count, 2);
    const struct lock_hold *ha = strcmp(holds.items[0].job_id, a) == 0 ? &holds.items[0]
                                                                       : &holds.items[1];
    assert_string_equal(ha->job_id, a);
    assert_int_equal(ha->released_at_ms - ha->acquired_at_ms, LEASE_MS);
    lock_holds_clear(&holds);
    job_free(ja);
    job_free(jb);
    /* Pruning keeps what was released after the cutoff. */
    int64_t deleted = -1;
    int64_t now = fake_clock_now(&f->clock);
    assert_int_equal(store_lock_history_prune(f->store, FAKE_CLOCK_START_MS + 500, &deleted,
                                              &err), 0);
    assert_int_equal(deleted, 0);
    assert_int_equal(store_lock_history_prune(f->store, FAKE_CLOCK_START_MS + 1500, &deleted,
                                              &err), 0);
    assert_int_equal(deleted, 1); /* b's, released at +1 s */
    assert_int_equal(store_lock_history_prune(f->store, now + 1, &deleted, &err), 0);
    assert_int_equal(deleted, 1);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM importq_lock_history"), 0);
}

static void test_window_is_checked(void **state)
{
    struct fixture *f = FIX(state);
    struct perf_attempts attempts = {0};
    struct lock_holds holds = {0};
    struct iq_error err = {0};
    struct perf_window backwards = {NULL, 2000, 1000};
    assert_int_equal(store_perf_attempts(f->store, &backwards, &attempts, &err), IQ_E_INVALID);
    assert_string_equal(err.fields[0].field, "since");
    iq_error_clear(&err);
    struct perf_window wide = {NULL, 1000, 1000 + PERF_WINDOW_MAX_MS + 1};
    assert_int_equal(store_lock_holds(f->store, &wide, &holds, &err), IQ_E_INVALID);
    iq_error_clear(&err);
    struct perf_window empty_table = {"", 1000, 2000};
    assert_int_equal(store_perf_attempts(f->store, &empty_table, &attempts, &err), IQ_E_INVALID);
    assert_string_equal(err.fields[0].field, "table");
    iq_error_clear(&err);
}

/* ------------------------------------------------------------------ */
/* Recommendations from seeded history                                 */
/* ------------------------------------------------------------------ */

/* seed_attempt - the rows a finish writes for job's attempt 1, claimed at claimed_ms. */
static void seed_attempt(struct fixture *f, const char *job_id, const char *table,
                         int64_t claimed_ms, int64_t work_ms, int64_t rows, int64_t rejected,
                         int64_t queued_ms, int64_t lock_ms)
{
    char claimed[TIME_RFC3339_LEN], ready[TIME_RFC3339_LEN];
    time_format_rfc3339(claimed_ms, claimed);
    time_format_rfc3339(claimed_ms - queued_ms, ready);
    fixture_exec_fmt(f,
                     "INSERT INTO stg_import_performance (job_id, attempt, target_table, phase,"
                     " started_at, duration_ms, rows, bytes, node, outcome) VALUES"
                     " ('%s', 1, '%s', 'read', '%s', %" PRId64 ", %" PRId64 ", 0, NULL, 'COMPLETED'),"
                     " ('%s', 1, '%s', 'validate', '%s', 0, %" PRId64 ", 0, NULL, 'COMPLETED'),"
                     " ('%s', 1, '%s', 'queued', '%s', %" PRId64 ", 0, 0, NULL, 'COMPLETED'),"
                     " ('%s', 1, '%s', 'lock_wait', '%s', %" PRId64 ", 0, 0, NULL, 'COMPLETED')",
                     job_id, table, claimed, work_ms, rows, job_id, table, claimed, rejected,
                     job_id, table, ready, queued_ms, job_id, table, ready, lock_ms);
}

/* seed_hold - a lock history row: job held name, having waited on blocker. */
static void seed_hold(struct fixture *f, const char *name, const char *job_id,
                      const char *blocker, int64_t released_ms, int64_t waited_ms)
{
    char acquired[TIME_RFC3339_LEN], released[TIME_RFC3339_LEN];
    time_format_rfc3339(released_ms - 1000, acquired);
    time_format_rfc3339(released_ms, released);
    fixture_exec_fmt(f,
                     "INSERT INTO importq_lock_history (name, mode, job_id, attempt, acquired_at,"
                     " released_at, waited_ms, blocked_by, how) VALUES ('%s', 'exclusive', '%s',"
                     " 1, '%s', '%s', %" PRId64 ", %s%s%s, 'finished')",
                     name, job_id, acquired, released, waited_ms, blocker ? "'" : "",
                     blocker ? blocker : "NULL", blocker ? "'" : "");
}

static void create_schedule(struct fixture *f, const char *name, char id[UUID_STR_LEN])
{
    char text[512];
    snprintf(text, sizeof(text),
             "{\"name\": \"%s\", \"cron\": \"0 2 * * *\", \"job\": {\"source\": {\"format\":"
             " \"csv\", \"path\": \"u.csv\"}, \"target\": {\"table\": \"users\"}}}",
             name);
    json_t *body = json_loads(text, 0, NULL);
    struct schedule_spec spec;
    struct iq_error err = {0};
    if (schedule_spec_parse(body, NULL, &spec, &err) < 0)
        fail_msg("schedule spec: %s", iq_error_message(&err));
    struct schedule_request req = {.spec = &spec};
    struct schedule schedule = {0};
    if (store_schedule_create(f->store, &req, &test_actor, &schedule, &err) < 0)
        fail_msg("schedule: %s", iq_error_message(&err));
    memcpy(id, schedule.id, UUID_STR_LEN);
    schedule_clear(&schedule);
    schedule_spec_clear(&spec);
    json_decref(body);
}

/* recommend_now - the recommendations over the last two hours of f's store. */
static void recommend_now(struct fixture *f, int max_concurrent,
                          struct recommendation_list *ret)
{
    int64_t now = fake_clock_now(&f->clock);
    struct perf_window window = {NULL, now - 2 * HOUR_MS, now};
    struct perf_attempts attempts = {0};
    struct lock_holds holds = {0};
    struct iq_error err = {0};
    assert_int_equal(store_perf_attempts(f->store, &window, &attempts, &err), 0);
    assert_int_equal(store_lock_holds(f->store, &window, &holds, &err), 0);
    struct recommend_input in = {.attempts = &attempts, .holds = &holds,
                                 .max_concurrent = max_concurrent, .since_ms = window.since_ms,
                                 .until_ms = window.until_ms};
    assert_int_equal(recommend(&in, ret, &err), 0);
    perf_attempts_clear(&attempts);
    lock_holds_clear(&holds);
}

static const struct recommendation *find(const struct recommendation_list *list,
                                         const char *kind)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].kind, kind) == 0)
            return &list->items[i];
    return NULL;
}

static void test_recommendations_from_unhealthy_history(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    char nightly[UUID_STR_LEN], hourly[UUID_STR_LEN];
    create_schedule(f, "nightly users", nightly);
    create_schedule(f, "hourly users", hourly);
    int64_t start = fake_clock_now(&f->clock);
    fake_clock_advance(&f->clock, 2 * HOUR_MS);
    /* Ten jobs of each schedule on table:users, slots idle; every one waited over a
     * minute, each hourly job two on a nightly one's lock. */
    for (int i = 0; i < 10; i++) {
        char n[UUID_STR_LEN], h[UUID_STR_LEN];
        create_job(state, "users", NULL, nightly, n);
        create_job(state, "users", NULL, hourly, h);
        int64_t at = start + 60000 + i * 600000;
        seed_attempt(f, n, "users", at, 10000, 1000, 400, 61000, 0);     /* 40% rejected */
        seed_attempt(f, h, "users", at + 130000, 10000, 1000, 0, 130000, 120000);
        seed_hold(f, "table:users", n, NULL, at + 10000, 0);
        seed_hold(f, "table:users", h, n, at + 140000, 120000);
    }
    struct recommendation_list list = {0};
    recommend_now(f, 3, &list);
    const struct recommendation *r = find(&list, "offset_schedules");
    if (!r)
        fail_msg("no offset_schedules among %zu recommendations", list.count);
    json_t *pair = json_object_get(r->evidence, "schedules");
    assert_string_equal(json_string_value(json_array_get(pair, 0)), "hourly users");
    assert_string_equal(json_string_value(json_array_get(pair, 1)), "nightly users");
    assert_int_equal(json_integer_value(json_object_get(r->evidence, "waits")), 10);
    r = find(&list, "high_reject_rate");
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r->evidence, "table")), "users");
    r = find(&list, "lock_bottleneck");
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r->evidence, "resource")),
                        "table:users");
    recommendation_list_clear(&list);
}

static void test_no_recommendations_from_healthy_history(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    struct recommendation_list list = {0};
    recommend_now(f, 3, &list); /* no history */
    assert_int_equal(list.count, 0);
    int64_t start = fake_clock_now(&f->clock);
    fake_clock_advance(&f->clock, 2 * HOUR_MS);
    char prev[UUID_STR_LEN] = "";
    for (int i = 0; i < 20; i++) {
        char id[UUID_STR_LEN];
        create_job(state, "users", NULL, NULL, id);
        int64_t at = start + 60000 + i * 300000;
        seed_attempt(f, id, "users", at, 10000, 1000, 2, 2000, i ? 500 : 0);
        seed_hold(f, "table:users", id, i ? prev : NULL, at + 10000, i ? 500 : 0);
        memcpy(prev, id, UUID_STR_LEN);
    }
    recommend_now(f, 3, &list);
    if (list.count > 0)
        fail_msg("healthy history got \"%s\": %s", list.items[0].kind, list.items[0].message);
    recommendation_list_clear(&list);
}

/* seed_alert - an alert row of rule api_test for entity, in state, created,
 * acknowledged (0: not) and resolved (0: not) at those times. */
static void seed_alert(struct fixture *f, const char *entity, const char *state,
                       int64_t created_ms, int64_t acked_ms, int64_t resolved_ms)
{
    char created[TIME_RFC3339_LEN], acked[TIME_RFC3339_LEN + 2] = "NULL",
                                    resolved[TIME_RFC3339_LEN + 2] = "NULL", text[TIME_RFC3339_LEN];
    time_format_rfc3339(created_ms, created);
    if (acked_ms)
        snprintf(acked, sizeof(acked), "'%s'", time_format_rfc3339(acked_ms, text));
    if (resolved_ms)
        snprintf(resolved, sizeof(resolved), "'%s'", time_format_rfc3339(resolved_ms, text));
    fixture_exec_fmt(f,
                     "INSERT INTO stg_import_monitoring (kind, rule, severity, state, entity,"
                     " entity_id, created_at, acked_at, acked_by, resolved_at) VALUES ('alert',"
                     " 'test_rule', 'warning', '%s', 'queue', '%s', '%s', %s, %s, %s)",
                     state, entity, created, acked, acked_ms ? "'ops'" : "NULL", resolved);
}

static int64_t alerts_of(struct fixture *f, const char *entity)
{
    return fixture_int_fmt(f,
                           "SELECT count(*) FROM stg_import_monitoring WHERE kind = 'alert'"
                           " AND entity_id = '%s'",
                           entity);
}

static int64_t perf_rows_of(struct fixture *f, const char *job_id)
{
    return fixture_int_fmt(f, "SELECT count(*) FROM stg_import_performance WHERE job_id = '%s'",
                           job_id);
}

/*
 * History older than its retention goes, newer stays: performance records
 * by whole attempts (one whose first row is older goes with its newer
 * rows), resolved alerts by resolved_at (also acknowledged-then-resolved
 * ones), never an open or acknowledged alert however old; lock history as
 * before. A second call finds nothing; a retention that is not positive
 * is refused.
 */
static void test_history_prune_keeps_the_window(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    int64_t day = 24 * HOUR_MS, start = fake_clock_now(&f->clock);
    fake_clock_advance(&f->clock, 40 * day);
    int64_t now = fake_clock_now(&f->clock), cutoff = now - 30 * day;
    char old_job[UUID_STR_LEN], new_job[UUID_STR_LEN], straddling[UUID_STR_LEN];
    create_job(state, "users", NULL, NULL, old_job);
    create_job(state, "users", NULL, NULL, new_job);
    create_job(state, "teams", NULL, NULL, straddling);
    seed_attempt(f, old_job, "users", start, 1000, 10, 0, 1000, 0);
    seed_attempt(f, new_job, "users", now - day, 1000, 10, 0, 1000, 0);
    /* read after the cutoff, but queued (its first row) an hour before it */
    seed_attempt(f, straddling, "teams", cutoff + HOUR_MS, 1000, 10, 0, 2 * HOUR_MS, 0);
    seed_hold(f, "table:users", old_job, NULL, cutoff - 1, 0);
    seed_hold(f, "table:users", new_job, NULL, cutoff + 1, 0);
    seed_alert(f, "resolved-old", "resolved", start, 0, cutoff - 1);
    seed_alert(f, "acked-resolved-old", "resolved", start, start + 1, cutoff - 1);
    seed_alert(f, "resolved-new", "resolved", start, 0, cutoff + 1);
    seed_alert(f, "open-old", "open", start, 0, 0);
    seed_alert(f, "acked-old", "acked", start, start + 1, 0);
    int64_t health_before =
        fixture_sql_int(f, "SELECT count(*) FROM stg_import_monitoring WHERE kind = 'health'");

    struct history_retention retention = {.now_ms = now,
                                          .lock_history_keep_ms = 30 * day,
                                          .performance_keep_ms = 30 * day,
                                          .alert_keep_ms = 30 * day};
    struct history_pruned pruned;
    struct iq_error err = {0};
    assert_int_equal(store_history_prune(f->store, &retention, &pruned, &err), 0);
    assert_int_equal(pruned.perf_rows, 8); /* the old attempt's 4 rows and the straddling one's */
    assert_int_equal(pruned.alerts, 2);
    assert_int_equal(pruned.lock_holds, 1);
    assert_false(pruned.more);
    assert_int_equal(perf_rows_of(f, old_job), 0);
    assert_int_equal(perf_rows_of(f, straddling), 0);
    assert_int_equal(perf_rows_of(f, new_job), 4);
    assert_int_equal(alerts_of(f, "resolved-old"), 0);
    assert_int_equal(alerts_of(f, "acked-resolved-old"), 0);
    assert_int_equal(alerts_of(f, "resolved-new"), 1);
    assert_int_equal(alerts_of(f, "open-old"), 1);
    assert_int_equal(alerts_of(f, "acked-old"), 1);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM importq_lock_history"), 1);
    assert_int_equal(
        fixture_sql_int(f, "SELECT count(*) FROM stg_import_monitoring WHERE kind = 'health'"),
        health_before);
    /* nothing left to prune */
    assert_int_equal(store_history_prune(f->store, &retention, &pruned, &err), 0);
    assert_int_equal(pruned.perf_rows + pruned.alerts + pruned.lock_holds, 0);
    /* the window moves on: the new attempt and the recent alert go too */
    retention.now_ms += 30 * day;
    assert_int_equal(store_history_prune(f->store, &retention, &pruned, &err), 0);
    assert_int_equal(pruned.perf_rows, 4);
    assert_int_equal(pruned.alerts, 1);
    assert_int_equal(alerts_of(f, "open-old") + alerts_of(f, "acked-old"), 2);
    retention.alert_keep_ms = 0;
    assert_int_equal(store_history_prune(f->store, &retention, &pruned, &err), IQ_E_INVALID);
    iq_error_clear(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_finish_records_queue_and_lock_wait, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_finish_records_dependency_wait, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_lock_history_of_expiry_and_release_and_prune,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_window_is_checked, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_history_prune_keeps_the_window, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_recommendations_from_unhealthy_history,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_no_recommendations_from_healthy_history,
                                        fixture_setup, fixture_teardown),
    };
    return fixture_run_backends("perf_store", "performance store tests", tests, COUNT_OF(tests));
}
