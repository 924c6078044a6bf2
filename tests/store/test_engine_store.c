/*
 * test_engine_store.c - the store's side of running jobs (store/engine_ops.h),
 * one test code for both backends like test_store.c: claim order and
 * runnability, the global limit, exclusive and shared resource locks,
 * expired leases, heartbeats, finishing (dependants released, retries,
 * cascades, history, timings), execute from every status, rescue of lost
 * workers, rejects, the lock list and forced release, the node registry,
 * finish-on-commit through a real load, and wake-ups.
 *
 * Tests marked PostgreSQL-only cover behaviour the PostgreSQL backend
 * documents beyond store.h (a lapsed lease is not renewed; a cancel
 * requested during an attempt suppresses its retry; LISTEN/NOTIFY).
 *
 * IMPORTQ_TEST_ONLY=postgres (or =sqlite) runs one backend's group only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/store_fixture.h"

#include "core/timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* stg_import_performance's rows of the work phases (not the waits). */
#define WORK_PHASES " AND phase NOT IN ('queued', 'lock_wait', 'dependency_wait')"

#define STORE(state) (((struct fixture *)*(state))->store)
#define FIX(state) ((struct fixture *)*(state))
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

#define NODE_ID "01900000-0000-7000-8000-000000000001"
#define LEASE_MS 60000
#define HOUR_MS (3600 * 1000LL)

static bool is_pg(void **state)
{
    return strcmp(FIX(state)->backend, "postgres") == 0;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* time_text - RFC 3339 text of now + offset_ms, for SQL literals on both backends. */
static const char *time_text(int64_t offset_ms, char buf[TIME_RFC3339_LEN])
{
    return time_format_rfc3339(time_now_ms() + offset_ms, buf);
}

/* create_job - a job on table with priority and extra spec fields; its id in id. */
static void create_job(void **state, const char *table, int priority, const char *extra,
                       char id[UUID_STR_LEN])
{
    struct job_spec *spec = spec_simple(table, priority, extra);
    struct job_create_request req = {.spec = spec};
    struct job *job = NULL;
    bool existed = false;
    struct iq_error err = {0};
    int rc = store_job_create(STORE(state), &req, &test_actor, &job, &existed, &err);
    if (rc < 0)
        fail_msg("create on %s: %s", table, iq_error_message(&err));
    memcpy(id, job->id, UUID_STR_LEN);
    job_free(job);
    job_spec_free(spec);
}

/* create_dependant - a job on table depending on the given ids. */
static void create_dependant(void **state, const char *table, const char *dep1, const char *dep2,
                             const char *more, char id[UUID_STR_LEN])
{
    char extra[512];
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"%s%s%s]%s%s", dep1, dep2 ? ", \"" : "",
             dep2 ? dep2 : "", dep2 ? "\"" : "", more ? ", " : "", more ? more : "");
    create_job(state, table, 5, extra, id);
}

static struct job *get_job(void **state, const char *id)
{
    struct job *job = NULL;
    struct iq_error err = {0};
    if (store_job_get(STORE(state), id, &job, &err) < 0)
        fail_msg("get %s: %s", id, iq_error_message(&err));
    return job;
}

static enum job_status status_of(void **state, const char *id)
{
    struct job *job = get_job(state, id);
    enum job_status status = job->status;
    job_free(job);
    return status;
}

static struct claim_request claim_request_of(const char *worker, int max_concurrent)
{
    struct claim_request req = {.node_id = NODE_ID,
                                .worker = worker,
                                .max_concurrent = max_concurrent,
                                .lease_ms = LEASE_MS};
    return req;
}

/* claim_with - claim with req; the started job or NULL. Caller frees. */
static struct job *claim_with(struct store *s, const struct claim_request *req)
{
    struct job *job = NULL;
    struct iq_error err = {0};
    int rc = store_job_claim(s, req, &test_actor, &job, &err);
    if (rc < 0)
        fail_msg("claim: %s", iq_error_message(&err));
    return job;
}

static struct job *claim(void **state, const char *worker, int max_concurrent)
{
    struct claim_request req = claim_request_of(worker, max_concurrent);
    return claim_with(STORE(state), &req);
}

/* claim_expect - claim and require job want_id ("" or NULL: nothing). Returns the job (free it). */
static struct job *claim_expect(void **state, int max_concurrent, const char *want_id)
{
    struct job *job = claim(state, "w1", max_concurrent);
    if (!want_id || !*want_id) {
        if (job)
            fail_msg("claimed %s (%s), want nothing", job->id, job->name);
        return NULL;
    }
    if (!job)
        fail_msg("claimed nothing, want %s", want_id);
    assert_string_equal(job->id, want_id);
    return job;
}

/* claim_expect_free - claim_expect and free the job. */
static void claim_expect_free(void **state, int max_concurrent, const char *want_id)
{
    job_free(claim_expect(state, max_concurrent, want_id));
}

/* finish_with - end job's current attempt; returns the store's code. *ret_job may be NULL. */
static int finish_with(struct store *s, const struct job_finish *finish, struct job **ret_job,
                       struct iq_error *err)
{
    struct job *job = NULL;
    int rc = store_job_finish(s, finish, &test_actor, &job, err);
    if (ret_job)
        *ret_job = job;
    else
        job_free(job);
    return rc;
}

/* finish_ok - end the attempt job (claimed by worker) with status; must succeed. */
static void finish_ok(void **state, const struct job *job, enum job_status status,
                      int64_t retry_at_ms)
{
    struct job_finish finish = {.job_id = job->id,
                                .worker = job->worker,
                                .attempt = job->attempt,
                                .status = status,
                                .error_code = status == JOB_COMPLETED ? NULL : "import_failed",
                                .error_message = status == JOB_COMPLETED ? NULL : "it broke",
                                .retry_at_ms = retry_at_ms,
                                .node_id = NODE_ID};
    struct iq_error err = {0};
    if (finish_with(STORE(state), &finish, NULL, &err) < 0)
        fail_msg("finish %s: %s", job->id, iq_error_message(&err));
}

/* claim_and_finish - claim want_id and end it with status. */
static void claim_and_finish(void **state, const char *want_id, enum job_status status)
{
    struct job *job = claim_expect(state, 10, want_id);
    finish_ok(state, job, status, 0);
    job_free(job);
}

static int64_t audit_count(void **state, const char *action)
{
    return fixture_int_fmt(FIX(state), "SELECT count(*) FROM stg_import_audit WHERE action = '%s'", action);
}

static const char *error_code(const struct job *job)
{
    return job->error ? json_string_value(json_object_get(job->error, "code")) : NULL;
}

/* ------------------------------------------------------------------ */
/* Claim                                                               */
/* ------------------------------------------------------------------ */

static void test_claim_order_priority_then_fifo(void **state)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN], d[UUID_STR_LEN];
    create_job(state, "t_a", 5, NULL, a);
    create_job(state, "t_b", 1, NULL, b);
    create_job(state, "t_c", 5, NULL, c);
    create_job(state, "t_d", 1, NULL, d);
    const char *want[] = {b, d, a, c};
    for (size_t i = 0; i < COUNT_OF(want); i++) {
        struct job *job = claim_expect(state, 10, want[i]);
        assert_int_equal(job->status, JOB_RUNNING);
        assert_int_equal(job->attempt, 1);
        assert_string_equal(job->worker, "w1");
        assert_string_equal(job->progress.phase, "locking");
        assert_true(job->started_at_ms > 0);
        assert_true(job->heartbeat_at_ms > 0);
        assert_false(job->cancel_requested);
        job_free(job);
    }
    claim_expect_free(state, 10, NULL);
    assert_int_equal(audit_count(state, "job.started"), 4);
    /* The start's audit row holds what the start changed, and only that. */
    json_t *images = fixture_audit_images(FIX(state), "job.started", b);
    json_t *before = json_array_get(images, 0), *after = json_array_get(images, 1);
    assert_string_equal(json_string_value(json_object_get(before, "status")), "QUEUED");
    assert_string_equal(json_string_value(json_object_get(after, "status")), "RUNNING");
    assert_int_equal(json_integer_value(json_object_get(before, "attempt")), 0);
    assert_int_equal(json_integer_value(json_object_get(after, "attempt")), 1);
    assert_true(json_is_null(json_object_get(before, "worker")));
    assert_string_equal(json_string_value(json_object_get(after, "worker")), "w1");
    assert_null(json_object_get(after, "source"));
    assert_null(json_object_get(after, "priority"));
    json_decref(images);
}

/*
 * A lock row a QUEUED job still has under one of its names (left by an
 * earlier attempt) neither blocks its own claim nor survives it: the
 * claim takes the name over for the new attempt.
 */
static void test_claim_overwrites_a_lock_left_by_the_job(void **state)
{
    char id[UUID_STR_LEN], soon[TIME_RFC3339_LEN], then[TIME_RFC3339_LEN];
    create_job(state, "t_left", 5, NULL, id);
    fixture_exec_fmt(FIX(state),
             "INSERT INTO stg_import_resources (id, name, mode, job_id, attempt, node, worker,"
             " acquired_at, expires_at) VALUES ('01900000-0000-7000-8000-0000000000aa',"
             " 'table:t_left', 'exclusive', '%s', 7, 'old-node', 'old-worker', '%s', '%s')",
             id, time_text(-1000, then), time_text(HOUR_MS, soon));
    struct job *job = claim_expect(state, 10, id);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                 "SELECT count(*) FROM stg_import_resources WHERE job_id = '%s'",
                                 id),
                     1);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                 "SELECT count(*) FROM stg_import_resources WHERE job_id = '%s'"
                                 " AND name = 'table:t_left' AND attempt = 1 AND worker = 'w1'"
                                 " AND id <> '01900000-0000-7000-8000-0000000000aa'",
                                 id),
                     1);
    job_free(job);
}

static void test_claim_skips_pending_held_and_future(void **state)
{
    char x[UUID_STR_LEN], y[UUID_STR_LEN], z[UUID_STR_LEN], h[UUID_STR_LEN];
    create_job(state, "t_x", 5, NULL, x);
    create_dependant(state, "t_y", x, NULL, "\"priority\": 1", y);
    create_job(state, "t_z", 1, "\"scheduled_at\": \"2099-01-01T00:00:00Z\"", z);
    create_job(state, "t_h", 1, "\"hold\": true", h);
    struct job *job = claim_expect(state, 10, x);
    claim_expect_free(state, 10, NULL); /* y waits for x, z for 2099, h for execute */
    finish_ok(state, job, JOB_COMPLETED, 0);
    job_free(job);
    claim_expect_free(state, 10, y);
    claim_expect_free(state, 10, NULL);
}

static void test_claim_respects_max_concurrent(void **state)
{
    char ids[5][UUID_STR_LEN];
    const char *tables[] = {"t0", "t1", "t2", "t3", "t4"};
    for (int i = 0; i < 5; i++)
        create_job(state, tables[i], 5, NULL, ids[i]);
    struct job *running[3];
    for (int i = 0; i < 3; i++)
        running[i] = claim_expect(state, 3, ids[i]);
    claim_expect_free(state, 3, NULL);
    claim_expect_free(state, 2, NULL);
    finish_ok(state, running[1], JOB_COMPLETED, 0);
    claim_expect_free(state, 3, ids[3]);
    claim_expect_free(state, 3, NULL);
    claim_expect_free(state, 5, ids[4]); /* a higher limit lets the last one in */
    for (int i = 0; i < 3; i++)
        job_free(running[i]);
    assert_int_equal(
        fixture_sql_int(FIX(state),
                        "SELECT count(*) FROM stg_import_queue WHERE status = 'RUNNING'"),
        4);

    /* A bad request is refused before anything happens. */
    struct claim_request req = claim_request_of("w1", 0);
    struct job *job = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_job_claim(STORE(state), &req, &test_actor, &job, &err), IQ_E_INVALID);
    assert_null(job);
    iq_error_clear(&err);
}

static void test_exclusive_lock_blocks_only_its_table(void **state)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN];
    create_job(state, "users", 5, NULL, a);
    struct job *holder = claim_expect(state, 10, a);
    create_job(state, "users", 1, NULL, b); /* best priority, but its table is busy */
    create_job(state, "teams", 9, NULL, c);
    claim_expect_free(state, 10, c); /* b is skipped, c starts */
    claim_expect_free(state, 10, NULL);
    finish_ok(state, holder, JOB_COMPLETED, 0);
    job_free(holder);
    claim_expect_free(state, 10, b);
}

static void test_shared_locks_go_together(void **state)
{
    char s1[UUID_STR_LEN], s2[UUID_STR_LEN], x[UUID_STR_LEN], s3[UUID_STR_LEN];
    const char *shared = "\"resources\": [{\"name\": \"ref:lookup\", \"mode\": \"shared\"}]";
    create_job(state, "s1", 5, shared, s1);
    create_job(state, "s2", 5, shared, s2);
    create_job(state, "s3", 6,
               "\"resources\": [{\"name\": \"ref:lookup\", \"mode\": \"exclusive\"}]", x);
    struct job *first = claim_expect(state, 10, s1);
    struct job *second = claim_expect(state, 10, s2); /* two shared holders together */
    claim_expect_free(state, 10, NULL);               /* the exclusive one waits */
    finish_ok(state, first, JOB_COMPLETED, 0);
    claim_expect_free(state, 10, NULL); /* still one shared holder */
    finish_ok(state, second, JOB_COMPLETED, 0);
    job_free(first);
    job_free(second);
    struct job *exclusive = claim_expect(state, 10, x);
    create_job(state, "s4", 1, shared, s3);
    claim_expect_free(state, 10, NULL); /* exclusive blocks shared too */
    finish_ok(state, exclusive, JOB_COMPLETED, 0);
    job_free(exclusive);
    claim_expect_free(state, 10, s3);
}

/*
 * A batch claim: one transaction starts a job per worker, best first,
 * each seeing the jobs and locks the ones before it took (two jobs on one
 * table never start together), up to the global limit; one audit row per
 * started job; a worker that gets nothing gets NULL.
 */
static void test_claim_batch_one_job_per_worker(void **state)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN], d[UUID_STR_LEN];
    create_job(state, "users", 1, NULL, a);
    create_job(state, "users", 2, NULL, b); /* same table as a: must wait for it */
    create_job(state, "teams", 3, NULL, c);
    create_job(state, "steps", 4, NULL, d);
    const char *workers[4] = {"w1", "w2", "w3", "w4"};
    struct job *jobs[4] = {0};
    int claimed = -1;
    struct claim_request req = claim_request_of("ignored", 3);
    struct iq_error err = {0};
    if (store_job_claim_batch(STORE(state), &req, workers, 4, &test_actor, jobs, &claimed, &err) <
        0)
        fail_msg("claim batch: %s", iq_error_message(&err));
    assert_int_equal(claimed, 3); /* max_concurrent 3: d waits */
    assert_non_null(jobs[0]);
    assert_non_null(jobs[1]);
    assert_non_null(jobs[2]);
    assert_null(jobs[3]);
    assert_string_equal(jobs[0]->id, a);
    assert_string_equal(jobs[1]->id, c); /* b's table is a's */
    assert_string_equal(jobs[2]->id, d);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(jobs[i]->status, JOB_RUNNING);
        assert_string_equal(jobs[i]->worker, workers[i]);
        assert_int_equal(jobs[i]->attempt, 1);
    }
    assert_int_equal(status_of(state, b), JOB_QUEUED);
    assert_int_equal(audit_count(state, "job.started"), 3);
    assert_int_equal(fixture_int_fmt(FIX(state), "SELECT count(*) FROM stg_import_resources"), 3);
    finish_ok(state, jobs[0], JOB_COMPLETED, 0);
    for (int i = 0; i < 4; i++)
        job_free(jobs[i]);
    claim_expect_free(state, 10, b);

    /* Bad batches are refused before any SQL. */
    const char *unnamed[2] = {"w1", ""};
    assert_int_equal(store_job_claim_batch(STORE(state), &req, unnamed, 2, &test_actor, jobs,
                                           &claimed, &err),
                     IQ_E_INVALID);
    iq_error_clear(&err);
    assert_int_equal(store_job_claim_batch(STORE(state), &req, workers, 0, &test_actor, jobs,
                                           &claimed, &err),
                     IQ_E_INVALID);
    iq_error_clear(&err);
}

/* On the fake clock: a's lock blocks b until the very millisecond its
 * lease ends, and not after (PostgreSQL: the injected time reaches the
 * claim's SQL). */
static void test_expired_locks_do_not_block(void **state)
{
    fixture_use_fake_clock(FIX(state));
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    create_job(state, "users", 5, NULL, a);
    claim_expect_free(state, 10, a);
    create_job(state, "users", 5, NULL, b);
    claim_expect_free(state, 10, NULL);
    fake_clock_advance(&FIX(state)->clock, LEASE_MS - 1);
    claim_expect_free(state, 10, NULL); /* one millisecond of lease left */
    fake_clock_advance(&FIX(state)->clock, 1);
    claim_expect_free(state, 10, b);
}

static void test_claim_aging_lifts_old_jobs(void **state)
{
    char old_job[UUID_STR_LEN], new_job[UUID_STR_LEN], old2[UUID_STR_LEN],
        long_ago[TIME_RFC3339_LEN];
    create_job(state, "t_old", 9, NULL, old_job);
    create_job(state, "t_new", 5, NULL, new_job);
    fixture_exec_fmt(FIX(state), "UPDATE stg_import_queue SET available_at = '%s' WHERE id = '%s'",
             time_text(-2 * HOUR_MS, long_ago), old_job);
    /* Ten minutes a step: two hours lift priority 9 to 1. */
    struct claim_request req = claim_request_of("w1", 10);
    req.aging_ms = 10 * 60 * 1000;
    struct job *job = claim_with(STORE(state), &req);
    assert_non_null(job);
    assert_string_equal(job->id, old_job);
    job_free(job);
    /* Without aging, plain priority. */
    create_job(state, "t_old2", 9, NULL, old2);
    fixture_exec_fmt(FIX(state), "UPDATE stg_import_queue SET available_at = '%s' WHERE id = '%s'",
             time_text(-2 * HOUR_MS, long_ago), old2);
    claim_expect_free(state, 10, new_job);
    claim_expect_free(state, 10, old2);
}

/* ------------------------------------------------------------------ */
/* Heartbeats                                                          */
/* ------------------------------------------------------------------ */

static void test_heartbeat_renews_and_reports_cancel(void **state)
{
    char a[UUID_STR_LEN], soon[TIME_RFC3339_LEN];
    create_job(state, "users", 5, NULL, a);
    struct job *job = claim_expect(state, 10, a);
    fixture_exec_fmt(FIX(state), "UPDATE stg_import_resources SET expires_at = '%s' WHERE job_id = '%s'",
             time_text(5000, soon), a);
    struct job_progress progress = {
        .phase = "stage", .rows_read = 42, .bytes_read = 1000, .bytes_total = 4000};
    bool cancel = true;
    struct iq_error err = {0};
    assert_int_equal(
        store_job_heartbeat(STORE(state), a, "w1", 1, LEASE_MS, &progress, &cancel, &err), 0);
    assert_false(cancel);
    struct lock_list locks;
    assert_int_equal(store_locks_list(STORE(state), &locks, &err), 0);
    assert_int_equal(locks.count, 1);
    assert_true(locks.items[0].expires_at_ms > time_now_ms() + LEASE_MS / 2);
    lock_list_clear(&locks);
    struct job *now = get_job(state, a);
    assert_string_equal(now->progress.phase, "stage");
    assert_int_equal(now->progress.rows_read, 42);
    assert_int_equal(now->progress.bytes_total, 4000);
    assert_true(now->heartbeat_at_ms >= job->heartbeat_at_ms);
    job_free(now);

    /* A cancel request reaches the worker through its heartbeat. */
    struct job *cancelled = NULL;
    assert_int_equal(store_job_cancel(STORE(state), a, &test_actor, &cancelled, &err), 0);
    assert_int_equal(cancelled->status, JOB_RUNNING);
    job_free(cancelled);
    assert_int_equal(store_job_heartbeat(STORE(state), a, "w1", 1, LEASE_MS, NULL, &cancel, &err),
                     0);
    assert_true(cancel);

    /* Someone else's job, or an older attempt: stale. */
    assert_int_equal(store_job_heartbeat(STORE(state), a, "w2", 1, LEASE_MS, NULL, &cancel, &err),
                     IQ_E_STALE);
    iq_error_clear(&err);
    assert_int_equal(store_job_heartbeat(STORE(state), a, "w1", 0, LEASE_MS, NULL, &cancel, &err),
                     IQ_E_STALE);
    iq_error_clear(&err);
    assert_int_equal(store_job_heartbeat(STORE(state), "01900000-0000-7000-8000-0000000000ff", "w1",
                                         1, LEASE_MS, NULL, &cancel, &err),
                     IQ_E_STALE);
    iq_error_clear(&err);
    /* A finished job takes no more heartbeats. */
    finish_ok(state, job, JOB_CANCELLED, 0);
    assert_int_equal(store_job_heartbeat(STORE(state), a, "w1", 1, LEASE_MS, NULL, &cancel, &err),
                     IQ_E_STALE);
    iq_error_clear(&err);
    job_free(job);
}

/* A lapsed lease is not renewed (its locks may belong to another job by
 * now); one a millisecond short of lapsing is. On the fake clock. */
static void test_heartbeat_after_lapsed_lease_is_stale(void **state)
{
    fixture_use_fake_clock(FIX(state));
    char a[UUID_STR_LEN];
    create_job(state, "users", 5, NULL, a);
    claim_expect_free(state, 10, a);
    bool cancel;
    struct iq_error err = {0};
    fake_clock_advance(&FIX(state)->clock, LEASE_MS - 1);
    assert_int_equal(store_job_heartbeat(STORE(state), a, "w1", 1, LEASE_MS, NULL, &cancel, &err),
                     0);
    struct job *job = get_job(state, a);
    assert_int_equal(job->heartbeat_at_ms, fake_clock_now(&FIX(state)->clock));
    job_free(job);
    fake_clock_advance(&FIX(state)->clock, LEASE_MS);
    assert_int_equal(store_job_heartbeat(STORE(state), a, "w1", 1, LEASE_MS, NULL, &cancel, &err),
                     IQ_E_STALE);
    iq_error_clear(&err);
}

/* ------------------------------------------------------------------ */
/* Finish                                                              */
/* ------------------------------------------------------------------ */

static void test_finish_completed_releases_fan_in(void **state)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN];
    create_job(state, "t_a", 5, NULL, a);
    create_job(state, "t_b", 5, NULL, b);
    create_dependant(state, "t_c", a, b, "\"priority\": 1", c);
    struct job *ja = claim_expect(state, 10, a);
    struct job *jb = claim_expect(state, 10, b);
    claim_expect_free(state, 10, NULL);

    struct phase_timing phases[] = {
        {"read", time_now_ms() - 300, 100, 10, 2048},
        {"promote", time_now_ms() - 200, 150, 10, 0},
    };
    struct job_finish finish = {.job_id = a,
                                .worker = "w1",
                                .attempt = 1,
                                .status = JOB_COMPLETED,
                                .result = {.rows_read = 10, .rows_inserted = 7, .rows_updated = 3},
                                .phases = phases,
                                .phase_count = COUNT_OF(phases),
                                .node_id = NODE_ID};
    struct job *done = NULL;
    struct iq_error err = {0};
    assert_int_equal(finish_with(STORE(state), &finish, &done, &err), 0);
    assert_int_equal(done->status, JOB_COMPLETED);
    assert_null(done->worker);
    assert_null(done->error);
    assert_string_equal(done->progress.phase, "done");
    assert_int_equal(done->result.rows_inserted, 7);
    assert_int_equal(done->result.rows_updated, 3);
    assert_int_equal(done->result.rows_read, 10);
    assert_true(done->finished_at_ms > 0);
    assert_int_equal(json_array_size(done->attempts), 1);
    json_t *entry = json_array_get(done->attempts, 0);
    assert_int_equal(json_integer_value(json_object_get(entry, "attempt")), 1);
    assert_string_equal(json_string_value(json_object_get(entry, "worker")), "w1");
    assert_string_equal(json_string_value(json_object_get(entry, "status")), "COMPLETED");
    assert_non_null(json_string_value(json_object_get(entry, "started_at")));
    assert_non_null(json_string_value(json_object_get(entry, "finished_at")));
    assert_true(json_is_null(json_object_get(entry, "error")));
    job_free(done);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                 "SELECT count(*) FROM stg_import_performance WHERE"
                                 " job_id = '%s' AND target_table = 't_a'" WORK_PHASES,
                                 a),
                     2);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                 "SELECT sum(duration_ms) FROM stg_import_performance"
                                 " WHERE job_id = '%s'" WORK_PHASES,
                                 a),
                     250);
    /* Beside the phases, every attempt records its queue time (and its
     * lock and dependency waits, none here: a zero wait writes no row). */
    assert_int_equal(fixture_int_fmt(FIX(state),
                                 "SELECT count(*) FROM stg_import_performance WHERE job_id = '%s'"
                                 " AND phase IN ('queued', 'lock_wait', 'dependency_wait')"
                                 " AND outcome = 'COMPLETED'",
                                 a),
                     1);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                 "SELECT count(*) FROM stg_import_resources WHERE"
                                 " job_id = '%s'",
                                 a),
                     0);
    assert_int_equal(audit_count(state, "job.completed"), 1);
    /* The finish's audit row holds what the finish changed, and only that
     * (on PostgreSQL the before image comes from the record statement). */
    json_t *images = fixture_audit_images(FIX(state), "job.completed", a);
    json_t *before = json_array_get(images, 0), *after = json_array_get(images, 1);
    assert_string_equal(json_string_value(json_object_get(before, "status")), "RUNNING");
    assert_string_equal(json_string_value(json_object_get(after, "status")), "COMPLETED");
    assert_string_equal(json_string_value(json_object_get(before, "worker")), "w1");
    assert_true(json_is_null(json_object_get(after, "worker")));
    assert_true(json_is_null(json_object_get(before, "finished_at")));
    assert_non_null(json_string_value(json_object_get(after, "finished_at")));
    assert_int_equal(json_array_size(json_object_get(before, "attempts")), 0);
    assert_int_equal(json_array_size(json_object_get(after, "attempts")), 1);
    assert_null(json_object_get(after, "attempt"));
    assert_null(json_object_get(after, "source"));
    assert_null(json_object_get(after, "priority"));
    json_decref(images);

    struct job *waiting = get_job(state, c);
    assert_int_equal(waiting->deps_pending, 1);
    job_free(waiting);
    claim_expect_free(state, 10, NULL);
    finish_ok(state, jb, JOB_COMPLETED, 0);
    waiting = get_job(state, c);
    assert_int_equal(waiting->deps_pending, 0);
    job_free(waiting);
    claim_expect_free(state, 10, c);
    job_free(ja);
    job_free(jb);
}

static void test_finish_failed_with_retry_requeues(void **state)
{
    char a[UUID_STR_LEN], past[TIME_RFC3339_LEN];
    create_job(state, "users", 5, "\"max_attempts\": 3", a);
    struct job *job = claim_expect(state, 10, a);
    int64_t retry_at = time_now_ms() + HOUR_MS;
    finish_ok(state, job, JOB_FAILED, retry_at);
    job_free(job);
    struct job *queued = get_job(state, a);
    assert_int_equal(queued->status, JOB_QUEUED);
    assert_int_equal(queued->attempt, 1);
    assert_null(queued->worker);
    assert_int_equal(queued->available_at_ms, retry_at);
    assert_string_equal(error_code(queued), "import_failed");
    assert_int_equal(json_array_size(queued->attempts), 1);
    json_t *entry = json_array_get(queued->attempts, 0);
    assert_string_equal(json_string_value(json_object_get(entry, "status")), "FAILED");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(entry, "error"), "message")), "it broke");
    job_free(queued);
    assert_int_equal(fixture_int_fmt(FIX(state), "SELECT count(*) FROM stg_import_resources"), 0);
    assert_int_equal(audit_count(state, "job.retried"), 1);
    claim_expect_free(state, 10, NULL); /* not before retry_at */
    fixture_exec_fmt(FIX(state), "UPDATE stg_import_queue SET available_at = '%s' WHERE id = '%s'",
             time_text(-1000, past), a);
    job = claim_expect(state, 10, a);
    assert_int_equal(job->attempt, 2);
    assert_null(job->error);
    job_free(job);
}

static void test_finish_failed_without_attempts_left_cascades(void **state)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN], d[UUID_STR_LEN], other[UUID_STR_LEN];
    create_job(state, "t_a", 5, "\"max_attempts\": 1", a);
    create_dependant(state, "t_b", a, NULL, NULL, b);
    create_dependant(state, "t_c", b, NULL, NULL, c);
    create_dependant(state, "t_d", a, NULL, "\"hold\": true", d);
    create_job(state, "t_other", 9, NULL, other);
    struct job *job = claim_expect(state, 10, a);
    finish_ok(state, job, JOB_FAILED, time_now_ms()); /* retry asked, none left */
    job_free(job);
    struct job *failed = get_job(state, a);
    assert_int_equal(failed->status, JOB_FAILED);
    assert_string_equal(error_code(failed), "import_failed");
    assert_true(failed->finished_at_ms > 0);
    job_free(failed);
    const char *dependants[] = {b, c, d};
    for (size_t i = 0; i < COUNT_OF(dependants); i++) {
        struct job *dep = get_job(state, dependants[i]);
        assert_int_equal(dep->status, JOB_FAILED);
        assert_string_equal(error_code(dep), "dependency_failed");
        job_free(dep);
    }
    assert_int_equal(status_of(state, other), JOB_QUEUED);
    assert_int_equal(audit_count(state, "job.failed"), 1);
    assert_int_equal(audit_count(state, "job.dependency_failed"), 3);
}

static void test_finish_cancelled_cascades(void **state)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    create_job(state, "t_a", 5, NULL, a);
    create_dependant(state, "t_b", a, NULL, NULL, b);
    struct job *job = claim_expect(state, 10, a);
    struct job_finish finish = {.job_id = a,
                                .worker = "w1",
                                .attempt = 1,
                                .status = JOB_CANCELLED,
                                .retry_at_ms = time_now_ms()};
    struct job *done = NULL;
    struct iq_error err = {0};
    assert_int_equal(finish_with(STORE(state), &finish, &done, &err), 0);
    assert_int_equal(done->status, JOB_CANCELLED);
    assert_string_equal(error_code(done), "cancelled");
    job_free(done);
    job_free(job);
    assert_int_equal(status_of(state, b), JOB_FAILED);
    assert_int_equal(audit_count(state, "job.cancelled"), 1);
}

static void test_finish_by_someone_else_is_stale(void **state)
{
    char a[UUID_STR_LEN];
    create_job(state, "users", 5, NULL, a);
    struct job *job = claim_expect(state, 10, a);
    struct job_finish finish = {.job_id = a, .worker = "w2", .attempt = 1, .status = JOB_COMPLETED};
    struct iq_error err = {0};
    assert_int_equal(finish_with(STORE(state), &finish, NULL, &err), IQ_E_STALE);
    iq_error_clear(&err);
    finish.worker = "w1";
    finish.attempt = 2;
    assert_int_equal(finish_with(STORE(state), &finish, NULL, &err), IQ_E_STALE);
    iq_error_clear(&err);
    assert_int_equal(status_of(state, a), JOB_RUNNING);
    finish.attempt = 1;
    assert_int_equal(finish_with(STORE(state), &finish, NULL, &err), 0);
    assert_int_equal(finish_with(STORE(state), &finish, NULL, &err), IQ_E_STALE); /* twice */
    iq_error_clear(&err);
    finish.job_id = "01900000-0000-7000-8000-0000000000ff";
    assert_int_equal(finish_with(STORE(state), &finish, NULL, &err), IQ_E_STALE);
    iq_error_clear(&err);
    job_free(job);
    assert_int_equal(audit_count(state, "job.completed"), 1);
}

/* PostgreSQL: a cancel requested during the attempt means no retry. */
static void test_cancel_requested_suppresses_retry(void **state)
{
    if (!is_pg(state))
        skip();
    char a[UUID_STR_LEN];
    create_job(state, "users", 5, NULL, a);
    struct job *job = claim_expect(state, 10, a);
    struct job *cancelled = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_job_cancel(STORE(state), a, &test_actor, &cancelled, &err), 0);
    job_free(cancelled);
    finish_ok(state, job, JOB_FAILED, time_now_ms());
    job_free(job);
    assert_int_equal(status_of(state, a), JOB_FAILED);
}

/* ------------------------------------------------------------------ */
/* Execute                                                             */
/* ------------------------------------------------------------------ */

/* A start and an end each move updated_at on, even past a clock that stepped back. */
static void test_claim_and_finish_advance_updated_at(void **state)
{
    char a[UUID_STR_LEN];
    create_job(state, "t_a", 5, NULL, a);
    int64_t future_ms = 0;
    assert_int_equal(time_parse_rfc3339("2099-01-01T00:00:00.000Z", &future_ms), 0);
    fixture_exec_fmt(FIX(state),
                     "UPDATE stg_import_queue SET updated_at = '2099-01-01T00:00:00.000Z'"
                     " WHERE id = '%s'", a);
    struct job *job = claim_expect(state, 10, a);
    assert_int_equal(job->updated_at_ms, future_ms + 1);
    finish_ok(state, job, JOB_COMPLETED, 0);
    job_free(job);
    job = get_job(state, a);
    assert_int_equal(job->status, JOB_COMPLETED);
    assert_int_equal(job->updated_at_ms, future_ms + 2);
    job_free(job);
}

static int execute(void **state, const char *id, struct job **ret_job)
{
    struct iq_error err = {0};
    struct job *job = NULL;
    int rc = store_job_execute(STORE(state), id, &test_actor, &job, &err);
    iq_error_clear(&err);
    if (ret_job)
        *ret_job = job;
    else
        job_free(job);
    return rc;
}

static void test_execute_held_and_future_jobs(void **state)
{
    char held[UUID_STR_LEN], future[UUID_STR_LEN];
    create_job(state, "t_h", 5, "\"hold\": true", held);
    create_job(state, "t_f", 5, "\"scheduled_at\": \"2099-01-01T00:00:00Z\"", future);
    claim_expect_free(state, 10, NULL);
    struct job *job = NULL;
    assert_int_equal(execute(state, held, &job), 0);
    assert_int_equal(job->status, JOB_QUEUED);
    job_free(job);
    claim_expect_free(state, 10, held);
    assert_int_equal(execute(state, future, &job), 0);
    assert_int_equal(job->status, JOB_QUEUED);
    assert_true(job->available_at_ms <= time_now_ms() + 1000);
    job_free(job);
    job = claim_expect(state, 10, future);
    /* RUNNING and COMPLETED cannot be executed. */
    assert_int_equal(execute(state, future, NULL), IQ_E_CONFLICT);
    finish_ok(state, job, JOB_COMPLETED, 0);
    job_free(job);
    assert_int_equal(execute(state, future, NULL), IQ_E_CONFLICT);
    assert_int_equal(execute(state, "01900000-0000-7000-8000-0000000000ff", NULL), IQ_E_NOT_FOUND);
    assert_int_equal(execute(state, "not-a-uuid", NULL), IQ_E_NOT_FOUND);
    assert_int_equal(audit_count(state, "job.executed"), 2);
}

static void test_execute_failed_and_cancelled_jobs(void **state)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN];
    struct job *job = NULL;
    struct iq_error err = {0};
    create_job(state, "t_a", 5, "\"max_attempts\": 1", a);
    create_dependant(state, "t_b", a, NULL, NULL, b);
    create_job(state, "t_c", 5, NULL, c);
    assert_int_equal(store_job_cancel(STORE(state), c, &test_actor, &job, &err), 0);
    assert_int_equal(job->status, JOB_CANCELLED);
    job_free(job);
    claim_and_finish(state, a, JOB_FAILED);
    assert_int_equal(status_of(state, b), JOB_FAILED);
    assert_int_equal(execute(state, b, NULL), IQ_E_CONFLICT); /* its dependency failed */

    assert_int_equal(execute(state, a, &job), 0);
    assert_int_equal(job->status, JOB_QUEUED);
    assert_null(job->error);
    assert_int_equal(job->finished_at_ms, 0);
    assert_int_equal(job->max_attempts, 2); /* spent: one more allowed */
    job_free(job);
    assert_int_equal(execute(state, b, &job), 0); /* a is QUEUED again */
    assert_int_equal(job->status, JOB_QUEUED);
    assert_int_equal(job->deps_pending, 1);
    job_free(job);
    job = claim_expect(state, 10, a);
    assert_int_equal(job->attempt, 2);
    finish_ok(state, job, JOB_COMPLETED, 0);
    job_free(job);
    claim_expect_free(state, 10, b);

    /* CANCELLED while queued -> queued again. */
    assert_int_equal(execute(state, c, &job), 0);
    assert_int_equal(job->status, JOB_QUEUED);
    assert_null(job->error);
    assert_false(job->cancel_requested);
    assert_int_equal(job->max_attempts, 3);
    job_free(job);
    claim_expect_free(state, 10, c);
}

/* ------------------------------------------------------------------ */
/* Rescue                                                              */
/* ------------------------------------------------------------------ */

struct backoff_calls {
    int count;
    int last_attempt;
};

static int64_t hour_backoff_cb(int attempt, void *ctx)
{
    struct backoff_calls *calls = ctx;
    calls->count++;
    calls->last_attempt = attempt;
    return HOUR_MS;
}

static int rescue(void **state, struct backoff_calls *calls)
{
    int rescued = -1;
    struct iq_error err = {0};
    if (store_jobs_rescue(STORE(state), LEASE_MS, hour_backoff_cb, calls, &test_actor, &rescued,
                          &err) < 0)
        fail_msg("rescue: %s", iq_error_message(&err));
    return rescued;
}

/* On the fake clock: nothing is rescued until the lease has passed, both
 * jobs the millisecond after. */
static void test_rescue_requeues_lost_job_once(void **state)
{
    fixture_use_fake_clock(FIX(state));
    struct fake_clock *clock = &FIX(state)->clock;
    char a[UUID_STR_LEN], b[UUID_STR_LEN], dep[UUID_STR_LEN];
    create_job(state, "users", 5, NULL, a);
    create_job(state, "teams", 5, "\"max_attempts\": 1", b);
    create_dependant(state, "t_dep", b, NULL, NULL, dep);
    claim_expect_free(state, 10, a);
    claim_expect_free(state, 10, b);
    struct backoff_calls calls = {0};
    assert_int_equal(rescue(state, &calls), 0); /* heartbeats are fresh */
    fake_clock_advance(clock, LEASE_MS);
    assert_int_equal(rescue(state, &calls), 0); /* exactly one lease old: not lost yet */
    assert_int_equal(calls.count, 0);
    fake_clock_advance(clock, 1);
    assert_int_equal(rescue(state, &calls), 2);
    assert_int_equal(calls.count, 1); /* only a has attempts left */
    assert_int_equal(calls.last_attempt, 1);

    struct job *job = get_job(state, a);
    assert_int_equal(job->status, JOB_QUEUED);
    assert_string_equal(error_code(job), "worker_lost");
    assert_null(job->worker);
    assert_int_equal(job->available_at_ms, fake_clock_now(clock) + HOUR_MS);
    assert_int_equal(json_array_size(job->attempts), 1);
    job_free(job);
    job = get_job(state, b);
    assert_int_equal(job->status, JOB_FAILED);
    assert_string_equal(error_code(job), "worker_lost");
    job_free(job);
    assert_int_equal(status_of(state, dep), JOB_FAILED);
    assert_int_equal(fixture_int_fmt(FIX(state), "SELECT count(*) FROM stg_import_resources"), 0);
    assert_int_equal(audit_count(state, "job.rescued"), 2);
    assert_int_equal(rescue(state, &calls), 0); /* nothing twice */
    assert_int_equal(audit_count(state, "job.rescued"), 2);
}

/* A lock whose lease ended goes, while its job's heartbeat is still
 * fresh; not a millisecond before (on the fake clock). */
static void test_rescue_deletes_expired_locks(void **state)
{
    fixture_use_fake_clock(FIX(state));
    struct fake_clock *clock = &FIX(state)->clock;
    char a[UUID_STR_LEN], half[TIME_RFC3339_LEN];
    create_job(state, "users", 5, NULL, a);
    claim_expect_free(state, 10, a);
    fixture_exec_fmt(FIX(state), "UPDATE stg_import_resources SET expires_at = '%s'",
                     time_format_rfc3339(fake_clock_now(clock) + LEASE_MS / 2, half));
    struct backoff_calls calls = {0};
    fake_clock_advance(clock, LEASE_MS / 2 - 1);
    assert_int_equal(rescue(state, &calls), 0);
    assert_int_equal(fixture_int_fmt(FIX(state), "SELECT count(*) FROM stg_import_resources"), 1);
    fake_clock_advance(clock, 1);
    assert_int_equal(rescue(state, &calls), 0);
    assert_int_equal(fixture_int_fmt(FIX(state), "SELECT count(*) FROM stg_import_resources"), 0);
    assert_int_equal(status_of(state, a), JOB_RUNNING); /* the job itself is not lost */
}

/* ------------------------------------------------------------------ */
/* Rejects                                                             */
/* ------------------------------------------------------------------ */

#define MAX_SEEN 16

struct seen_rejects {
    size_t count;
    int64_t line[MAX_SEEN];
    char column[MAX_SEEN][32];
    char value[MAX_SEEN][32];
    char error[MAX_SEEN][64];
    bool value_null[MAX_SEEN];
    int64_t record[MAX_SEEN];       /* -1: none */
    char pointer[MAX_SEEN][64];     /* "-": none */
    size_t stop_after; /* 0: never stop */
};

static int collect_reject_row_cb(const struct job_reject_row *row, void *ctx)
{
    struct seen_rejects *seen = ctx;
    if (seen->count < MAX_SEEN) {
        size_t i = seen->count;
        seen->line[i] = row->line;
        snprintf(seen->column[i], sizeof(seen->column[i]), "%s", row->column ? row->column : "");
        snprintf(seen->value[i], sizeof(seen->value[i]), "%s", row->value ? row->value : "");
        snprintf(seen->error[i], sizeof(seen->error[i]), "%s", row->error);
        seen->value_null[i] = row->value == NULL;
        seen->record[i] = row->has_record ? row->record : -1;
        snprintf(seen->pointer[i], sizeof(seen->pointer[i]), "%s",
                 row->pointer ? row->pointer : "-");
    }
    seen->count++;
    return seen->stop_after && seen->count >= seen->stop_after ? 1 : 0;
}

static void rejects_of(void **state, const char *id, struct seen_rejects *seen)
{
    struct iq_error err = {0};
    if (store_job_rejects_each(STORE(state), id, collect_reject_row_cb, seen, &err) < 0)
        fail_msg("rejects_each: %s", iq_error_message(&err));
}

static void test_rejects_add_and_each(void **state)
{
    char a[UUID_STR_LEN], past[TIME_RFC3339_LEN];
    create_job(state, "users", 5, NULL, a);
    struct job *job = claim_expect(state, 10, a);
    struct job_reject_row first[] = {
        {.line = 5, .column = "email", .value = "x@", .error = "bad email", .has_record = true,
         .record = 4, .pointer = "/steps/4/email"},
        {.line = 2, .column = "user_id", .error = "required", .has_record = true, .record = 0}};
    struct job_reject_row second[] = {{.line = 3, .value = "a,\"b\"\n", .error = "too many columns"}};
    struct iq_error err = {0};
    assert_int_equal(store_job_rejects_add(STORE(state), a, 1, first, 2, &err), 0);
    assert_int_equal(store_job_rejects_add(STORE(state), a, 1, second, 1, &err), 0);
    assert_int_equal(store_job_rejects_add(STORE(state), a, 1, NULL, 0, &err), 0);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                 "SELECT max(seq) FROM importq_job_rejects WHERE"
                                 " job_id = '%s'",
                                 a),
                     3);
    struct seen_rejects seen = {0};
    rejects_of(state, a, &seen);
    assert_int_equal(seen.count, 3);
    assert_int_equal(seen.line[0], 2);
    assert_int_equal(seen.line[1], 3);
    assert_int_equal(seen.line[2], 5);
    assert_true(seen.value_null[0]);
    assert_string_equal(seen.column[0], "user_id");
    assert_string_equal(seen.value[1], "a,\"b\"\n");
    assert_string_equal(seen.column[1], "");
    assert_string_equal(seen.error[2], "bad email");
    /* The record and the JSON pointer come back; unknown ones as unknown. */
    assert_int_equal(seen.record[2], 4);
    assert_string_equal(seen.pointer[2], "/steps/4/email");
    assert_int_equal(seen.record[0], 0);
    assert_string_equal(seen.pointer[0], "-");
    assert_int_equal(seen.record[1], -1);
    assert_string_equal(seen.pointer[1], "-");
    struct seen_rejects first_only = {.stop_after = 1};
    rejects_of(state, a, &first_only);
    assert_int_equal(first_only.count, 1);

    /* The next attempt's rejects replace the view. */
    finish_ok(state, job, JOB_FAILED, time_now_ms());
    job_free(job);
    fixture_exec_fmt(FIX(state), "UPDATE stg_import_queue SET available_at = '%s' WHERE id = '%s'",
             time_text(-1000, past), a);
    job = claim_expect(state, 10, a);
    struct job_reject_row third[] = {{.line = 9, .column = "email", .value = "y", .error = "bad email"}};
    assert_int_equal(store_job_rejects_add(STORE(state), a, 2, third, 1, &err), 0);
    struct seen_rejects latest = {0};
    rejects_of(state, a, &latest);
    assert_int_equal(latest.count, 1);
    assert_int_equal(latest.line[0], 9);
    job_free(job);

    const char *unknown = "01900000-0000-7000-8000-0000000000ff";
    assert_int_equal(store_job_rejects_add(STORE(state), unknown, 1, third, 1, &err),
                     IQ_E_NOT_FOUND);
    iq_error_clear(&err);
    assert_int_equal(
        store_job_rejects_each(STORE(state), unknown, collect_reject_row_cb, &latest, &err),
        IQ_E_NOT_FOUND);
    iq_error_clear(&err);
}

/* ------------------------------------------------------------------ */
/* Locks                                                               */
/* ------------------------------------------------------------------ */

static void test_locks_list_and_release(void **state)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    create_job(state, "users", 5, "\"resources\": [{\"name\": \"ref:x\", \"mode\": \"shared\"}]",
               a);
    claim_expect_free(state, 10, a);
    create_job(state, "users", 5, NULL, b);
    struct lock_list locks;
    struct iq_error err = {0};
    assert_int_equal(store_locks_list(STORE(state), &locks, &err), 0);
    assert_int_equal(locks.count, 2);
    assert_string_equal(locks.items[0].name, "ref:x");
    assert_int_equal(locks.items[0].mode, LOCK_SHARED);
    assert_string_equal(locks.items[1].name, "table:users");
    assert_int_equal(locks.items[1].mode, LOCK_EXCLUSIVE);
    for (size_t i = 0; i < locks.count; i++) {
        assert_string_equal(locks.items[i].job_id, a);
        assert_int_equal(locks.items[i].attempt, 1);
        assert_string_equal(locks.items[i].worker, "w1");
        assert_string_equal(locks.items[i].node, NODE_ID);
        assert_true(locks.items[i].expires_at_ms > locks.items[i].acquired_at_ms);
        assert_true(locks.items[i].acquired_at_ms > time_now_ms() - HOUR_MS);
    }
    char lock_id[UUID_STR_LEN];
    memcpy(lock_id, locks.items[1].id, UUID_STR_LEN);
    lock_list_clear(&locks);

    claim_expect_free(state, 10, NULL);
    assert_int_equal(store_lock_release(STORE(state), lock_id, &test_actor, &err), 0);
    assert_int_equal(store_locks_list(STORE(state), &locks, &err), 0);
    assert_int_equal(locks.count, 1);
    lock_list_clear(&locks);
    assert_int_equal(audit_count(state, "lock.released"), 1);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                 "SELECT count(*) FROM stg_import_audit WHERE"
                                 " action = 'lock.released' AND entity = 'lock'"
                                 " AND entity_id = '%s' AND after IS NULL",
                                 lock_id),
                     1);
    /* The chain stays linked across the lock row. */
    assert_int_equal(fixture_int_fmt(FIX(state), "SELECT count(*) FROM stg_import_audit a JOIN"
                                        " stg_import_audit b ON b.id = a.id + 1"
                                        " WHERE b.prev_hash <> a.hash"),
                     0);
    assert_int_equal(store_lock_release(STORE(state), lock_id, &test_actor, &err), IQ_E_NOT_FOUND);
    iq_error_clear(&err);
    assert_int_equal(store_lock_release(STORE(state), "nope", &test_actor, &err), IQ_E_NOT_FOUND);
    iq_error_clear(&err);
    claim_expect_free(state, 10, b); /* users is free now */
}

/* ------------------------------------------------------------------ */
/* Nodes                                                               */
/* ------------------------------------------------------------------ */

static struct node_info node_of(const char *id, const char *host, int pid)
{
    struct node_info node = {.host = (char *)host,
                             .pid = pid,
                             .version = (char *)"1.2.3",
                             .started_at_ms = time_now_ms()};
    snprintf(node.id, sizeof(node.id), "%s", id);
    return node;
}

static const struct node_info *find_node(const struct node_list *list, const char *id)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].id, id) == 0)
            return &list->items[i];
    fail_msg("node %s not listed", id);
    return NULL;
}

static void test_nodes_register_heartbeat_mark_dead(void **state)
{
    fixture_use_fake_clock(FIX(state));
    const char *n1 = "01900000-0000-7000-8000-0000000000a1";
    const char *n2 = "01900000-0000-7000-8000-0000000000a2";
    struct node_info one = node_of(n1, "host-a", 11), two = node_of(n2, "host-b", 22);
    struct iq_error err = {0};
    assert_int_equal(store_node_register(STORE(state), &one, &err), 0);
    assert_int_equal(store_node_register(STORE(state), &two, &err), 0);
    assert_int_equal(store_node_register(STORE(state), &two, &err), 0); /* again: one row */
    struct node_list nodes;
    assert_int_equal(store_nodes_list(STORE(state), &nodes, &err), 0);
    assert_int_equal(nodes.count, 2);
    const struct node_info *listed = find_node(&nodes, n1);
    assert_string_equal(listed->host, "host-a");
    assert_int_equal(listed->pid, 11);
    assert_string_equal(listed->version, "1.2.3");
    assert_string_equal(listed->status, "alive");
    assert_int_equal(listed->heartbeat_at_ms, fake_clock_now(&FIX(state)->clock));
    assert_true(listed->started_at_ms > 0);
    node_list_clear(&nodes);
    assert_int_equal(fixture_int_fmt(FIX(state), "SELECT count(*) FROM stg_import_coordination WHERE"
                                        " kind = 'node' AND name = 'host-b:22'"),
                     1);

    assert_int_equal(store_node_heartbeat(STORE(state), n1, "stopped", &err), 0);
    int marked = -1;
    fake_clock_advance(&FIX(state)->clock, 60000);
    assert_int_equal(store_nodes_mark_dead(STORE(state), 60000, &marked, &err), 0);
    assert_int_equal(marked, 0); /* silent for exactly dead_after: not yet */
    fake_clock_advance(&FIX(state)->clock, 1);
    assert_int_equal(store_nodes_mark_dead(STORE(state), 60000, &marked, &err), 0);
    assert_int_equal(marked, 1); /* n2: n1 stopped, not alive */
    assert_int_equal(store_nodes_mark_dead(STORE(state), 60000, &marked, &err), 0);
    assert_int_equal(marked, 0);
    assert_int_equal(store_nodes_list(STORE(state), &nodes, &err), 0);
    assert_string_equal(find_node(&nodes, n1)->status, "stopped");
    assert_string_equal(find_node(&nodes, n2)->status, "dead");
    node_list_clear(&nodes);
    assert_int_equal(store_node_heartbeat(STORE(state), n2, "alive", &err), 0);
    assert_int_equal(store_nodes_list(STORE(state), &nodes, &err), 0);
    assert_string_equal(find_node(&nodes, n2)->status, "alive");
    node_list_clear(&nodes);
    assert_int_equal(
        store_node_heartbeat(STORE(state), "01900000-0000-7000-8000-0000000000a9", "alive", &err),
        IQ_E_NOT_FOUND);
    iq_error_clear(&err);
}

/* ------------------------------------------------------------------ */
/* Finish on commit                                                    */
/* ------------------------------------------------------------------ */

static const char *const users_columns[] = {"user_id", "email"};
static const enum column_type users_types[] = {COLUMN_BIGINT, COLUMN_TEXT};

static int ignore_reject_cb(const struct load_reject *reject, void *ctx)
{
    (void)reject;
    (void)ctx;
    return 0;
}

/* load_users - load rows into users, finishing `finish` on commit. Returns the commit's code. */
static int load_users_then(void **state, const char *const *rows, size_t row_count,
                           const struct job_finish *finish, const struct claim_request *claim_next,
                           struct job **claimed_next);

static int load_users(void **state, const char *const *rows, size_t row_count,
                      const struct job_finish *finish)
{
    return load_users_then(state, rows, row_count, finish, NULL, NULL);
}

/* load_users_then - load_users whose commit also claims the next job. */
static int load_users_then(void **state, const char *const *rows, size_t row_count,
                           const struct job_finish *finish, const struct claim_request *claim_next,
                           struct job **claimed_next)
{
    struct load_part part = {
        .table = "users", .columns = users_columns, .types = users_types, .column_count = 2};
    struct load_plan plan = {.mode = TARGET_INSERT,
                             .parts = &part,
                             .part_count = 1,
                             .commit = {.fence_job_id = finish->job_id,
                                        .fence_worker = finish->worker,
                                        .fence_attempt = finish->attempt,
                                        .finish_on_commit = finish,
                                        .finish_actx = &test_actor,
                                        .claim_next = claim_next,
                                        .claimed_next = claimed_next}};
    struct load *load = NULL;
    struct load_result result;
    int64_t rejected = 0;
    struct iq_error err = {0};
    int rc = store_load_begin(STORE(state), &plan, &load, &err);
    if (rc == 0)
        rc = store_load_rows(load, 0, rows, NULL, row_count, &err);
    if (rc == 0)
        rc = store_load_check(load, ignore_reject_cb, NULL, &rejected, &err);
    if (rc == 0)
        rc = store_load_promote(load, &result, &err);
    if (rc == 0)
        rc = store_load_commit(load, &err);
    if (rc < 0)
        store_load_abort(load);
    iq_error_clear(&err);
    return rc;
}

static void test_finish_on_commit_lands_rows_and_completes(void **state)
{
    fixture_exec_fmt(FIX(state), "CREATE TABLE users (user_id bigint NOT NULL PRIMARY KEY, email text)");
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN];
    create_job(state, "users", 5, NULL, a);
    create_dependant(state, "t_c", a, NULL, NULL, c);
    claim_expect_free(state, 10, a);
    static const char *const rows[] = {"1", "a@x", "2", "b@x"};
    struct phase_timing phase = {"promote", time_now_ms(), 5, 2, 0};
    struct job_finish finish = {.job_id = a,
                                .worker = "w1",
                                .attempt = 1,
                                .status = JOB_COMPLETED,
                                .result = {.rows_read = 2, .rows_inserted = 2},
                                .phases = &phase,
                                .phase_count = 1,
                                .node_id = NODE_ID};
    assert_int_equal(load_users(state, rows, 2, &finish), 0);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users"), 2);
    struct job *job = get_job(state, a);
    assert_int_equal(job->status, JOB_COMPLETED);
    assert_int_equal(job->result.rows_inserted, 2);
    job_free(job);
    assert_int_equal(fixture_int_fmt(FIX(state), "SELECT count(*) FROM stg_import_resources"), 0);
    assert_int_equal(fixture_int_fmt(FIX(state), "SELECT count(*) FROM stg_import_performance"
                                                 " WHERE true" WORK_PHASES), 1);
    assert_int_equal(audit_count(state, "job.completed"), 1);
    struct job *dependant = get_job(state, c);
    assert_int_equal(dependant->deps_pending, 0);
    job_free(dependant);

    /* Somebody else's attempt: nothing lands, the job stays RUNNING. */
    create_job(state, "users", 1, NULL, b); /* before c, which is runnable now */
    claim_expect_free(state, 10, b);
    static const char *const more[] = {"3", "c@x"};
    finish.job_id = b;
    finish.worker = "w2";
    assert_int_equal(load_users(state, more, 1, &finish), IQ_E_STALE);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users"), 2);
    assert_int_equal(status_of(state, b), JOB_RUNNING);
    assert_int_equal(audit_count(state, "job.completed"), 1);
    /* The connection is fine afterwards: the owner lands it. */
    finish.worker = "w1";
    assert_int_equal(load_users(state, more, 1, &finish), 0);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users"), 3);
    assert_int_equal(status_of(state, b), JOB_COMPLETED);
}

/*
 * A load's commit that also claims the worker's next job: the job it
 * finished frees its table and releases its dependant, which the same
 * transaction then starts for the same worker (with its lock row and
 * audit row); when nothing can start, nothing is claimed; when the load
 * fails, nothing is claimed either.
 */
static void test_finish_on_commit_claims_next_job(void **state)
{
    fixture_exec_fmt(FIX(state), "CREATE TABLE users (user_id bigint NOT NULL PRIMARY KEY, email text)");
    char a[UUID_STR_LEN], c[UUID_STR_LEN], d[UUID_STR_LEN];
    create_job(state, "users", 5, NULL, a);
    create_dependant(state, "users", a, NULL, NULL, c); /* same table, waits for a */
    claim_expect_free(state, 10, a);
    static const char *const rows[] = {"1", "a@x"};
    struct job_finish finish = {.job_id = a,
                                .worker = "w1",
                                .attempt = 1,
                                .status = JOB_COMPLETED,
                                .result = {.rows_read = 1, .rows_inserted = 1},
                                .node_id = NODE_ID};
    struct claim_request next_req = claim_request_of("w1", 10);
    struct job *next = NULL;
    assert_int_equal(load_users_then(state, rows, 1, &finish, &next_req, &next), 0);
    assert_non_null(next);
    assert_string_equal(next->id, c);
    assert_int_equal(next->status, JOB_RUNNING);
    assert_string_equal(next->worker, "w1");
    assert_int_equal(status_of(state, a), JOB_COMPLETED);
    assert_int_equal(audit_count(state, "job.completed"), 1);
    assert_int_equal(audit_count(state, "job.started"), 2);
    assert_int_equal(fixture_int_fmt(FIX(state), "SELECT count(*) FROM stg_import_resources WHERE job_id"
                                        " = '%s'", c),
                     1);

    /* The load fails (duplicate key): nothing lands, nothing is claimed. */
    create_job(state, "t_d", 5, NULL, d);
    static const char *const dup[] = {"1", "again@x"};
    finish.job_id = c;
    finish.attempt = next->attempt;
    job_free(next);
    next = NULL;
    assert_true(load_users_then(state, dup, 1, &finish, &next_req, &next) < 0);
    assert_null(next);
    assert_int_equal(status_of(state, c), JOB_RUNNING);
    assert_int_equal(status_of(state, d), JOB_QUEUED);

    /* Lands, but the limit is reached (max_concurrent 1 with c running
     * until this commit, and d then takes the only slot): d is claimed;
     * with nothing left, the next commit claims nothing. */
    static const char *const fine[] = {"2", "b@x"};
    next_req.max_concurrent = 1;
    assert_int_equal(load_users_then(state, fine, 1, &finish, &next_req, &next), 0);
    assert_non_null(next);
    assert_string_equal(next->id, d);
    job_free(next);
    next = NULL;
    create_job(state, "users", 5, NULL, a); /* reuses the buffer: a new job */
    struct job *e = claim(state, "w2", 10);  /* on users: ... */
    assert_non_null(e);
    finish.job_id = e->id;
    finish.worker = "w2";
    finish.attempt = e->attempt;
    static const char *const last[] = {"3", "c@x"};
    next_req.max_concurrent = 10;
    next_req.worker = "w2";
    assert_int_equal(load_users_then(state, last, 1, &finish, &next_req, &next), 0);
    assert_null(next);
    job_free(e);
}

/* ------------------------------------------------------------------ */
/* Wake-ups                                                            */
/* ------------------------------------------------------------------ */

/*
 * Another connection's creation or finish wakes a waiter: PostgreSQL by
 * NOTIFY, SQLite by the database's data_version moving.
 */
static void test_wait_for_work(void **state)
{
    bool woken = true;
    struct iq_error err = {0};
    /* PostgreSQL LISTENs; SQLite notes the data_version. */
    assert_int_equal(store_wait_for_work(STORE(state), 0, &woken, &err), 0);
    assert_false(woken);
    int64_t started = time_monotonic_ms();
    assert_int_equal(store_wait_for_work(STORE(state), 100, &woken, &err), 0);
    assert_false(woken);
    assert_true(time_monotonic_ms() - started >= 90);

    /* A job created on another connection wakes us. */
    struct store *other = fixture_open_extra(FIX(state));
    assert_non_null(other);
    struct job_spec *spec = spec_simple("users", 5, NULL);
    struct job_create_request req = {.spec = spec};
    struct job *job = NULL;
    bool existed;
    assert_int_equal(store_job_create(other, &req, &test_actor, &job, &existed, &err), 0);
    job_spec_free(spec);
    started = time_monotonic_ms();
    assert_int_equal(store_wait_for_work(STORE(state), 5000, &woken, &err), 0);
    assert_true(woken);
    assert_true(time_monotonic_ms() - started < 4000);
    assert_int_equal(store_wait_for_work(STORE(state), 50, &woken, &err), 0);
    assert_false(woken); /* drained */

    /* So does a finish on another connection. */
    struct claim_request creq = claim_request_of("w9", 10);
    struct job *running = claim_with(other, &creq);
    assert_non_null(running);
    struct job_finish finish = {
        .job_id = running->id, .worker = "w9", .attempt = 1, .status = JOB_COMPLETED};
    assert_int_equal(finish_with(other, &finish, NULL, &err), 0);
    assert_int_equal(store_wait_for_work(STORE(state), 5000, &woken, &err), 0);
    assert_true(woken);
    job_free(running);
    job_free(job);
    store_close(other);
    if (!is_pg(state))
        return;

    /* Still listening after the connection was reset. */
    assert_int_equal(fixture_sql_exec(FIX(state), "SELECT pg_terminate_backend(pid) FROM"
                                                  " pg_stat_activity WHERE application_name ="
                                                  " 'importq' AND datname = current_database()"
                                                  " AND pid <> pg_backend_pid()"),
                     0);
    usleep(200 * 1000); /* let the backend go */
    int rc = store_wait_for_work(STORE(state), 0, &woken, &err);
    if (rc < 0) { /* the loss shows here; the next call reconnects */
        iq_error_clear(&err);
        rc = store_wait_for_work(STORE(state), 0, &woken, &err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(fixture_sql_exec(FIX(state), "NOTIFY importq, 'test'"), 0);
    assert_int_equal(store_wait_for_work(STORE(state), 5000, &woken, &err), 0);
    assert_true(woken);
}

/* ------------------------------------------------------------------ */

#define TEST(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

static const struct CMUnitTest engine_tests[] = {
    TEST(test_claim_order_priority_then_fifo),
    TEST(test_claim_overwrites_a_lock_left_by_the_job),
    TEST(test_claim_skips_pending_held_and_future),
    TEST(test_claim_respects_max_concurrent),
    TEST(test_exclusive_lock_blocks_only_its_table),
    TEST(test_shared_locks_go_together),
    TEST(test_claim_batch_one_job_per_worker),
    TEST(test_expired_locks_do_not_block),
    TEST(test_claim_aging_lifts_old_jobs),
    TEST(test_heartbeat_renews_and_reports_cancel),
    TEST(test_heartbeat_after_lapsed_lease_is_stale),
    TEST(test_finish_completed_releases_fan_in),
    TEST(test_finish_failed_with_retry_requeues),
    TEST(test_finish_failed_without_attempts_left_cascades),
    TEST(test_finish_cancelled_cascades),
    TEST(test_finish_by_someone_else_is_stale),
    TEST(test_cancel_requested_suppresses_retry),
    TEST(test_claim_and_finish_advance_updated_at),
    TEST(test_execute_held_and_future_jobs),
    TEST(test_execute_failed_and_cancelled_jobs),
    TEST(test_rescue_requeues_lost_job_once),
    TEST(test_rescue_deletes_expired_locks),
    TEST(test_rejects_add_and_each),
    TEST(test_locks_list_and_release),
    TEST(test_nodes_register_heartbeat_mark_dead),
    TEST(test_finish_on_commit_lands_rows_and_completes),
    TEST(test_finish_on_commit_claims_next_job),
    TEST(test_wait_for_work),
};


int main(void)
{
    return fixture_run_backends("engine_store", "engine store tests", engine_tests, sizeof(engine_tests) / sizeof(engine_tests[0]));
}
