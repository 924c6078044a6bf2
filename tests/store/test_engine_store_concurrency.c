/*
 * test_engine_store_concurrency.c - claiming and finishing under threads,
 * each thread with its own connection (the store's threading model), on
 * both backends: with max_concurrent 3 never more than 3 jobs RUNNING and
 * never two holders of one name when either is exclusive, whoever looks;
 * and two dependencies finishing at the same moment both count (fan-in).
 * Runs under TSan in CI (the name contains "concurrency").
 *
 * Violations are detected two ways: workers record what they hold only
 * between their claim's commit and their finish call (an interval inside
 * the database's), so any overlap they see is a real one; and a sampler
 * thread reads RUNNING counts and live locks from the database itself.
 *
 * IMPORTQ_TEST_ONLY=postgres (or =sqlite) runs one backend's group only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/store_fixture.h"

#include "core/timeutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

#define WORKERS 6
#define JOBS 40
#define MAX_CONCURRENT 3
#define MAX_NAMES 8
#define DEADLINE_MS (120 * 1000)
#define FAN_IN_ROUNDS 10

static const struct audit_context engine_actor = {"engine", NULL, NULL};

/* ------------------------------------------------------------------ */
/* What the workers hold, as they know it                              */
/* ------------------------------------------------------------------ */

struct holders {
    pthread_mutex_t lock;
    int running;
    char names[MAX_NAMES][32];
    int shared[MAX_NAMES];
    int exclusive[MAX_NAMES];
    int violations;
};

/* name_slot - index of name in h (added when new); under h->lock. */
static int name_slot(struct holders *h, const char *name)
{
    for (int i = 0; i < MAX_NAMES; i++) {
        if (strcmp(h->names[i], name) == 0)
            return i;
        if (!h->names[i][0]) {
            snprintf(h->names[i], sizeof(h->names[i]), "%s", name);
            return i;
        }
    }
    return -1;
}

/* holders_enter - the worker now holds job's locks; counts a violation if that is impossible. */
static void holders_enter(struct holders *h, const struct job *job)
{
    pthread_mutex_lock(&h->lock);
    if (++h->running > MAX_CONCURRENT)
        h->violations++;
    for (size_t i = 0; i < job->resource_count; i++) {
        int at = name_slot(h, job->resources[i].name);
        if (at < 0) {
            h->violations++;
            continue;
        }
        bool exclusive = job->resources[i].mode == LOCK_EXCLUSIVE;
        if (h->exclusive[at] > 0 || (exclusive && h->shared[at] > 0))
            h->violations++;
        if (exclusive)
            h->exclusive[at]++;
        else
            h->shared[at]++;
    }
    pthread_mutex_unlock(&h->lock);
}

/* holders_leave - called before the finish: the worker stops counting job's locks. */
static void holders_leave(struct holders *h, const struct job *job)
{
    pthread_mutex_lock(&h->lock);
    h->running--;
    for (size_t i = 0; i < job->resource_count; i++) {
        int at = name_slot(h, job->resources[i].name);
        if (at < 0)
            continue;
        if (job->resources[i].mode == LOCK_EXCLUSIVE)
            h->exclusive[at]--;
        else
            h->shared[at]--;
    }
    pthread_mutex_unlock(&h->lock);
}

/* ------------------------------------------------------------------ */
/* Workers and the sampler                                             */
/* ------------------------------------------------------------------ */

struct run {
    struct fixture *fixture;
    struct holders holders;
    atomic_int completed;
    atomic_int claims;
    atomic_int retries;
    atomic_int errors;
    atomic_bool stop;
    /* sampler */
    atomic_int samples;
    atomic_int max_running_seen;
    atomic_int sampled_violations;
};

struct worker {
    struct run *run;
    char name[16];
};

/* work_one - heartbeat, then end the attempt (some first attempts fail and retry at once). */
static void work_one(struct store *s, struct worker *w, const struct job *job)
{
    struct run *run = w->run;
    struct iq_error err = {0};
    bool cancel = false;
    if (store_job_heartbeat(s, job->id, w->name, job->attempt, 60000, NULL, &cancel, &err) < 0)
        atomic_fetch_add(&run->errors, 1);
    usleep(1000);
    bool retry = job->attempt == 1 && job->priority == 4;
    struct job_finish finish = {.job_id = job->id,
                                .worker = w->name,
                                .attempt = job->attempt,
                                .status = retry ? JOB_FAILED : JOB_COMPLETED,
                                .error_code = retry ? "import_failed" : NULL,
                                .error_message = retry ? "first attempt fails" : NULL,
                                .retry_at_ms = retry ? time_now_ms() : 0};
    holders_leave(&run->holders, job);
    struct job *done = NULL;
    if (store_job_finish(s, &finish, &engine_actor, &done, &err) < 0) {
        fprintf(stderr, "finish: %s\n", iq_error_message(&err));
        atomic_fetch_add(&run->errors, 1);
    } else if (retry) {
        atomic_fetch_add(&run->retries, 1);
    } else {
        atomic_fetch_add(&run->completed, 1);
    }
    job_free(done);
    iq_error_clear(&err);
}

static void *worker_cb(void *arg)
{
    struct worker *w = arg;
    struct run *run = w->run;
    struct store *s = fixture_open_extra(run->fixture);
    struct claim_request req = {.node_id = "node-test",
                                .worker = w->name,
                                .max_concurrent = MAX_CONCURRENT,
                                .lease_ms = 60000};
    int64_t deadline = time_monotonic_ms() + DEADLINE_MS;
    while (s && atomic_load(&run->completed) < JOBS && time_monotonic_ms() < deadline) {
        struct job *job = NULL;
        struct iq_error err = {0};
        if (store_job_claim(s, &req, &engine_actor, &job, &err) < 0) {
            fprintf(stderr, "claim: %s\n", iq_error_message(&err));
            atomic_fetch_add(&run->errors, 1);
            iq_error_clear(&err);
            break;
        }
        if (!job) {
            usleep(500);
            continue;
        }
        atomic_fetch_add(&run->claims, 1);
        holders_enter(&run->holders, job);
        work_one(s, w, job);
        job_free(job);
    }
    if (!s)
        atomic_fetch_add(&run->errors, 1);
    store_close(s);
    return NULL;
}

/* sample_locks - one look at the live locks: a violation when a name is held exclusively by one of
 * several. */
static void sample_locks(struct run *run, const struct lock_list *locks)
{
    for (size_t i = 0; i < locks->count; i++) {
        int holders = 0, exclusive = 0;
        for (size_t j = 0; j < locks->count; j++) {
            if (strcmp(locks->items[i].name, locks->items[j].name) != 0)
                continue;
            holders++;
            exclusive += locks->items[j].mode == LOCK_EXCLUSIVE;
        }
        if (exclusive > 0 && holders > 1)
            atomic_fetch_add(&run->sampled_violations, 1);
    }
}

static void *sampler_cb(void *arg)
{
    struct run *run = arg;
    struct store *s = fixture_open_extra(run->fixture);
    while (s && !atomic_load(&run->stop)) {
        struct queue_stats stats;
        struct lock_list locks = {0};
        struct iq_error err = {0};
        if (store_queue_stats(s, time_now_ms(), &stats, &err) == 0) {
            int running = (int)stats.count[JOB_RUNNING];
            if (running > atomic_load(&run->max_running_seen))
                atomic_store(&run->max_running_seen, running);
            if (running > MAX_CONCURRENT)
                atomic_fetch_add(&run->sampled_violations, 1);
        }
        if (store_locks_list(s, &locks, &err) == 0)
            sample_locks(run, &locks);
        lock_list_clear(&locks);
        iq_error_clear(&err);
        atomic_fetch_add(&run->samples, 1);
        usleep(1000);
    }
    store_close(s);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

/* create_jobs - JOBS jobs over 4 tables, some sharing ref:lookup, a few wanting it alone. */
static void create_jobs(struct fixture *f)
{
    for (int i = 0; i < JOBS; i++) {
        char table[16];
        snprintf(table, sizeof(table), "t%d", i % 4);
        const char *extra = NULL;
        if (i % 7 == 0)
            extra = "\"resources\": [{\"name\": \"ref:lookup\", \"mode\": \"exclusive\"}]";
        else if (i % 3 == 0)
            extra = "\"resources\": [{\"name\": \"ref:lookup\", \"mode\": \"shared\"}]";
        /* priority 4 marks the jobs whose first attempt fails */
        struct job_spec *spec = spec_simple(table, i % 5 == 0 ? 4 : 5, extra);
        struct job_create_request req = {.spec = spec};
        struct job *job = NULL;
        bool existed;
        struct iq_error err = {0};
        assert_int_equal(store_job_create(f->store, &req, &engine_actor, &job, &existed, &err), 0);
        job_free(job);
        job_spec_free(spec);
    }
}

/*
 * assert_stats_match_rows - queue_stats counts each status as the rows do
 * (SQLite reads counters its triggers keep, migration 011: every claim,
 * retry and finish of the racing workers must have moved them).
 */
static void assert_stats_match_rows(struct fixture *f)
{
    struct queue_stats stats;
    struct iq_error err = {0};
    assert_int_equal(store_queue_stats(f->store, time_now_ms(), &stats, &err), 0);
    for (int status = 0; status < JOB_STATUS_COUNT; status++)
        assert_int_equal(stats.count[status],
                         fixture_int_fmt(f, "SELECT count(*) FROM stg_import_queue WHERE status = '%s'",
                                         job_status_name((enum job_status)status)));
}

static void test_limit_and_locks_hold_under_racing_claims(void **state)
{
    struct fixture *f = *state;
    create_jobs(f);
    struct run run = {.fixture = f};
    pthread_mutex_init(&run.holders.lock, NULL);
    atomic_init(&run.completed, 0);
    atomic_init(&run.stop, false);
    struct worker workers[WORKERS];
    pthread_t threads[WORKERS], sampler;
    pthread_create(&sampler, NULL, sampler_cb, &run);
    for (int i = 0; i < WORKERS; i++) {
        workers[i].run = &run;
        snprintf(workers[i].name, sizeof(workers[i].name), "w%d", i);
        pthread_create(&threads[i], NULL, worker_cb, &workers[i]);
    }
    for (int i = 0; i < WORKERS; i++)
        pthread_join(threads[i], NULL);
    atomic_store(&run.stop, true);
    pthread_join(sampler, NULL);
    pthread_mutex_destroy(&run.holders.lock);

    printf("  %s: %d claims, %d retries, %d samples, at most %d RUNNING seen\n", f->backend,
           atomic_load(&run.claims), atomic_load(&run.retries), atomic_load(&run.samples),
           atomic_load(&run.max_running_seen));
    assert_int_equal(atomic_load(&run.errors), 0);
    assert_int_equal(run.holders.violations, 0);
    assert_int_equal(atomic_load(&run.sampled_violations), 0);
    assert_int_equal(atomic_load(&run.completed), JOBS);
    assert_int_equal(atomic_load(&run.retries), JOBS / 5);
    assert_true(atomic_load(&run.max_running_seen) <= MAX_CONCURRENT);
    assert_true(atomic_load(&run.samples) > 0);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_queue"
                                        " WHERE status = 'COMPLETED'"),
                     JOBS);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_audit"
                                        " WHERE action = 'job.started'"),
                     atomic_load(&run.claims));
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_resources"), 0);
    assert_stats_match_rows(f);
    /* The audit chain stayed a chain. */
    assert_int_equal(fixture_sql_int(f, "SELECT count(DISTINCT id) FROM stg_import_audit"),
                     fixture_sql_int(f, "SELECT max(id) FROM stg_import_audit"));
}

/* One dependency to finish from a thread of its own. */
struct finisher {
    struct fixture *fixture;
    pthread_barrier_t *start_line;
    struct job_finish finish;
    int rc;
};

static void *finish_cb(void *arg)
{
    struct finisher *fin = arg;
    struct store *s = fixture_open_extra(fin->fixture);
    struct iq_error err = {0};
    struct job *job = NULL;
    pthread_barrier_wait(fin->start_line);
    fin->rc = s ? store_job_finish(s, &fin->finish, &engine_actor, &job, &err) : -1;
    if (fin->rc < 0)
        fprintf(stderr, "finish: %s\n", iq_error_message(&err));
    job_free(job);
    iq_error_clear(&err);
    store_close(s);
    return NULL;
}

/* create_round - jobs a, b and c depending on both; c's id in ret_c. */
static void create_round(struct fixture *f, char ret_c[UUID_STR_LEN])
{
    char ids[2][UUID_STR_LEN], extra[160];
    const char *tables[2] = {"fan_a", "fan_b"};
    struct iq_error err = {0};
    for (int i = 0; i < 3; i++) {
        if (i == 2)
            snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\", \"%s\"]", ids[0], ids[1]);
        struct job_spec *spec = spec_simple(i < 2 ? tables[i] : "fan_c", 5, i < 2 ? NULL : extra);
        struct job_create_request req = {.spec = spec};
        struct job *job = NULL;
        bool existed;
        assert_int_equal(store_job_create(f->store, &req, &engine_actor, &job, &existed, &err), 0);
        memcpy(i < 2 ? ids[i] : ret_c, job->id, UUID_STR_LEN);
        job_free(job);
        job_spec_free(spec);
    }
}

static void test_fan_in_finishes_race(void **state)
{
    struct fixture *f = *state;
    struct claim_request req = {
        .node_id = "node-test", .worker = "w0", .max_concurrent = 10, .lease_ms = 60000};
    for (int round = 0; round < FAN_IN_ROUNDS; round++) {
        char c[UUID_STR_LEN];
        create_round(f, c);
        struct job *deps[2] = {NULL, NULL};
        struct iq_error err = {0};
        for (int i = 0; i < 2; i++) {
            assert_int_equal(store_job_claim(f->store, &req, &engine_actor, &deps[i], &err), 0);
            assert_non_null(deps[i]);
        }
        pthread_barrier_t start_line;
        pthread_barrier_init(&start_line, NULL, 2);
        struct finisher fins[2];
        pthread_t threads[2];
        for (int i = 0; i < 2; i++) {
            fins[i] = (struct finisher){.fixture = f, .start_line = &start_line};
            fins[i].finish = (struct job_finish){.job_id = deps[i]->id,
                                                 .worker = "w0",
                                                 .attempt = deps[i]->attempt,
                                                 .status = JOB_COMPLETED};
            pthread_create(&threads[i], NULL, finish_cb, &fins[i]);
        }
        for (int i = 0; i < 2; i++) {
            pthread_join(threads[i], NULL);
            assert_int_equal(fins[i].rc, 0);
            job_free(deps[i]);
        }
        pthread_barrier_destroy(&start_line);
        struct job *waiting = NULL;
        assert_int_equal(store_job_get(f->store, c, &waiting, &err), 0);
        assert_int_equal(waiting->deps_pending, 0);
        job_free(waiting);
        struct job *started = NULL;
        assert_int_equal(store_job_claim(f->store, &req, &engine_actor, &started, &err), 0);
        assert_non_null(started);
        assert_string_equal(started->id, c);
        struct job_finish done = {
            .job_id = c, .worker = "w0", .attempt = 1, .status = JOB_COMPLETED};
        struct job *finished = NULL;
        assert_int_equal(store_job_finish(f->store, &done, &engine_actor, &finished, &err), 0);
        assert_int_equal(finished->status, JOB_COMPLETED);
        job_free(finished);
        job_free(started);
    }
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

static const struct CMUnitTest tests[] = {
    TEST(test_limit_and_locks_hold_under_racing_claims),
    TEST(test_fan_in_finishes_race),
};


int main(void)
{
    return fixture_run_backends("engine_store_concurrency", "engine_store_concurrency tests", tests, sizeof(tests) / sizeof(tests[0]));
}
