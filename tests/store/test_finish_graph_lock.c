/*
 * test_finish_graph_lock.c - a completion takes the dependency graph's
 * lock only when its job has dependants (PostgreSQL: postgres/finish.c,
 * "The graph lock of a completion"), and a dependant added while the job
 * completes is still released. Each test holds a transaction open on a
 * connection of its own (libpq) while the finish runs in a thread on the
 * fixture's store, and waits, by polling pg_blocking_pids, until the
 * finish either ended or waits on that transaction: no timing decides
 * the outcome.
 *
 * SQLite has no graph lock (its one write transaction serialises every
 * change): the tests run there as the plain outcome (the finish
 * completes, the dependant is released) without the interleaving.
 *
 * IMPORTQ_TEST_ONLY=postgres (or =sqlite) runs one backend's group only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/store_fixture.h"

#include "core/timeutil.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORE(state) (((struct fixture *)*(state))->store)
#define FIX(state) ((struct fixture *)*(state))

#define NODE_ID "01900000-0000-7000-8000-000000000001"
#define LEASE_MS 60000
#define GRAPH_LOCK "1230045186" /* PG_LOCK_JOB_GRAPH */
#define WAIT_LIMIT_MS (120 * 1000) /* only ever reached when something hangs */

static bool is_pg(void **state)
{
    return strcmp(FIX(state)->backend, "postgres") == 0;
}

/* create_job - a job on table (depending on dep when not NULL); its id in id. */
static void create_job(void **state, const char *table, int priority, const char *dep,
                       char id[UUID_STR_LEN])
{
    char extra[128] = "";
    if (dep)
        snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"]", dep);
    struct job_spec *spec = spec_simple(table, priority, dep ? extra : NULL);
    struct job_create_request req = {.spec = spec};
    struct job *job = NULL;
    bool existed = false;
    struct iq_error err = {0};
    if (store_job_create(STORE(state), &req, &test_actor, &job, &existed, &err) < 0)
        fail_msg("create on %s: %s", table, iq_error_message(&err));
    memcpy(id, job->id, UUID_STR_LEN);
    job_free(job);
    job_spec_free(spec);
}

/* claim_expect - claim as w1 and require job want_id. Returns it (job_free). */
static struct job *claim_expect(void **state, const char *want_id)
{
    struct claim_request req = {
        .node_id = NODE_ID, .worker = "w1", .max_concurrent = 10, .lease_ms = LEASE_MS};
    struct job *job = NULL;
    struct iq_error err = {0};
    if (store_job_claim(STORE(state), &req, &test_actor, &job, &err) < 0)
        fail_msg("claim: %s", iq_error_message(&err));
    if (!job)
        fail_msg("claimed nothing, want %s", want_id);
    assert_string_equal(job->id, want_id);
    return job;
}

static int64_t deps_pending(void **state, const char *id)
{
    return fixture_int_fmt(FIX(state), "SELECT deps_pending FROM stg_import_queue WHERE id = '%s'",
                           id);
}

/* A finish of one job on the fixture's store, in a thread of its own. */
struct finisher {
    struct store *store;
    struct job_finish finish;
    pthread_t thread;
    int rc;
    char error[256];
    atomic_bool done;
};

static void *finisher_main(void *arg)
{
    struct finisher *f = arg;
    struct iq_error err = {0};
    f->rc = store_job_finish(f->store, &f->finish, &test_actor, NULL, &err);
    snprintf(f->error, sizeof(f->error), "%s", iq_error_message(&err));
    iq_error_clear(&err);
    atomic_store(&f->done, true);
    return NULL;
}

/* finisher_start - complete job (claimed by job->worker) in a new thread. */
static void finisher_start(void **state, struct finisher *f, const struct job *job)
{
    memset(f, 0, sizeof(*f));
    f->store = STORE(state);
    f->finish = (struct job_finish){.job_id = job->id,
                                    .worker = job->worker,
                                    .attempt = job->attempt,
                                    .status = JOB_COMPLETED,
                                    .node_id = NODE_ID};
    atomic_init(&f->done, false);
    assert_int_equal(pthread_create(&f->thread, NULL, finisher_main, f), 0);
}

/* finisher_join - wait for the thread; the finish must have succeeded. */
static void finisher_join(struct finisher *f)
{
    pthread_join(f->thread, NULL);
    if (f->rc < 0)
        fail_msg("finish %s: %s", f->finish.job_id, f->error);
}

/* A transaction of its own on the test's database (PostgreSQL). */
static PGconn *other_begin(void **state)
{
    PGconn *conn = PQconnectdb(FIX(state)->url);
    if (PQstatus(conn) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(conn));
    PQclear(PQexec(conn, "BEGIN"));
    return conn;
}

static void other_exec(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
}

static void other_commit(PGconn *conn)
{
    other_exec(conn, "COMMIT");
    PQfinish(conn);
}

/*
 * wait_done_or_blocked - until the finish ended (returns false) or some
 * session waits for a lock that conn's transaction holds (returns true):
 * the finish's, as nothing else runs.
 */
static bool wait_done_or_blocked(void **state, struct finisher *f, PGconn *conn)
{
    int pid = PQbackendPID(conn);
    for (int waited = 0; waited < WAIT_LIMIT_MS; waited += 5) {
        if (atomic_load(&f->done))
            return false;
        if (fixture_int_fmt(FIX(state),
                            "SELECT count(*) FROM pg_stat_activity"
                            " WHERE %d = ANY (pg_blocking_pids(pid))",
                            pid) > 0)
            return true;
        usleep(5000);
    }
    fail_msg("the finish neither ended nor waited on the other transaction");
    return false;
}

/*
 * A job without dependants completes while another transaction holds the
 * graph lock exclusively (as a submission does): it does not wait for it.
 * Before, every completion took the lock (shared) and waited here.
 */
static void test_completion_without_dependants_takes_no_graph_lock(void **state)
{
    char j[UUID_STR_LEN];
    create_job(state, "t_j", 1, NULL, j);
    struct job *job = claim_expect(state, j);
    if (!is_pg(state)) {
        struct finisher f;
        finisher_start(state, &f, job);
        finisher_join(&f);
        job_free(job);
        return;
    }
    PGconn *other = other_begin(state);
    other_exec(other, "SELECT pg_advisory_xact_lock(" GRAPH_LOCK ")");
    struct finisher f;
    finisher_start(state, &f, job);
    bool blocked = wait_done_or_blocked(state, &f, other);
    other_commit(other); /* lets a blocked finish end, so the thread joins */
    finisher_join(&f);
    assert_false(blocked);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                     "SELECT count(*) FROM stg_import_queue WHERE id = '%s'"
                                     " AND status = 'COMPLETED'",
                                     j),
                     1);
    job_free(job);
}

/*
 * A job with a dependant still takes the lock: it waits for the
 * exclusive holder, then releases the dependant.
 */
static void test_completion_with_dependants_takes_the_graph_lock(void **state)
{
    char j[UUID_STR_LEN], d[UUID_STR_LEN];
    create_job(state, "t_j", 1, NULL, j);
    create_job(state, "t_d", 5, j, d);
    assert_int_equal(deps_pending(state, d), 1);
    struct job *job = claim_expect(state, j);
    struct finisher f;
    if (is_pg(state)) {
        PGconn *other = other_begin(state);
        other_exec(other, "SELECT pg_advisory_xact_lock(" GRAPH_LOCK ")");
        finisher_start(state, &f, job);
        bool blocked = wait_done_or_blocked(state, &f, other);
        other_commit(other);
        finisher_join(&f);
        assert_true(blocked);
    } else {
        finisher_start(state, &f, job);
        finisher_join(&f);
    }
    assert_int_equal(deps_pending(state, d), 0);
    job_free(job);
}

/*
 * The race: a transaction that makes a job depend on J (as a submission
 * with depends_on J or an update does: J read FOR SHARE, counted pending
 * as it is not COMPLETED, the edge and the count committed together)
 * holds J's row while J completes. J had no dependant when its finish
 * began, so the finish takes no graph lock; its record waits for the row
 * and the edge commits meanwhile, unseen by the record's snapshot. The
 * finish must still release the new dependant (D: pending on K and J,
 * then on K alone). A finish that skipped the lock without looking again
 * after its row lock left D waiting for J forever.
 */
static void test_dependant_added_during_completion_is_released(void **state)
{
    char j[UUID_STR_LEN], k[UUID_STR_LEN], d[UUID_STR_LEN];
    create_job(state, "t_j", 1, NULL, j);
    create_job(state, "t_k", 9, NULL, k);
    create_job(state, "t_d", 5, k, d); /* waits for k, which stays QUEUED */
    assert_int_equal(deps_pending(state, d), 1);
    struct job *job = claim_expect(state, j);
    struct finisher f;
    if (!is_pg(state)) {
        finisher_start(state, &f, job);
        finisher_join(&f);
        assert_int_equal(deps_pending(state, d), 1);
        job_free(job);
        return;
    }
    char sql[512];
    PGconn *other = other_begin(state);
    other_exec(other, "SELECT pg_advisory_xact_lock(" GRAPH_LOCK ")");
    snprintf(sql, sizeof(sql),
             "SELECT status FROM stg_import_queue WHERE id = '%s' FOR SHARE", j);
    other_exec(other, sql); /* RUNNING: d will count j as pending */
    finisher_start(state, &f, job);
    assert_true(wait_done_or_blocked(state, &f, other)); /* on j's row */
    snprintf(sql, sizeof(sql),
             "INSERT INTO importq_job_deps (job_id, depends_on_id) VALUES ('%s', '%s')", d, j);
    other_exec(other, sql);
    snprintf(sql, sizeof(sql),
             "UPDATE stg_import_queue SET deps_pending = deps_pending + 1 WHERE id = '%s'", d);
    other_exec(other, sql);
    other_commit(other);
    finisher_join(&f);
    assert_int_equal(deps_pending(state, d), 1); /* k's alone */
    job_free(job);
}

/*
 * The race within the race: as above, but when the finish looks again
 * another transaction holds the graph lock exclusively (it may be waiting
 * for J's row, so the finish must not wait for it while holding the row):
 * job_finish starts over, taking the lock first, waits for that holder,
 * and then releases the dependant.
 */
static void test_late_dependant_with_the_graph_busy_starts_over(void **state)
{
    char j[UUID_STR_LEN], k[UUID_STR_LEN], d[UUID_STR_LEN];
    create_job(state, "t_j", 1, NULL, j);
    create_job(state, "t_k", 9, NULL, k);
    create_job(state, "t_d", 5, k, d);
    struct job *job = claim_expect(state, j);
    struct finisher f;
    if (!is_pg(state)) {
        finisher_start(state, &f, job);
        finisher_join(&f);
        assert_int_equal(deps_pending(state, d), 1);
        job_free(job);
        return;
    }
    char sql[512];
    PGconn *adder = other_begin(state); /* adds d's edge to j, without the graph lock */
    snprintf(sql, sizeof(sql),
             "SELECT status FROM stg_import_queue WHERE id = '%s' FOR SHARE", j);
    other_exec(adder, sql);
    finisher_start(state, &f, job);
    assert_true(wait_done_or_blocked(state, &f, adder));
    PGconn *holder = other_begin(state);
    other_exec(holder, "SELECT pg_advisory_xact_lock(" GRAPH_LOCK ")");
    snprintf(sql, sizeof(sql),
             "INSERT INTO importq_job_deps (job_id, depends_on_id) VALUES ('%s', '%s')", d, j);
    other_exec(adder, sql);
    snprintf(sql, sizeof(sql),
             "UPDATE stg_import_queue SET deps_pending = deps_pending + 1 WHERE id = '%s'", d);
    other_exec(adder, sql);
    other_commit(adder);
    assert_true(wait_done_or_blocked(state, &f, holder)); /* started over: on the lock */
    other_commit(holder);
    finisher_join(&f);
    assert_int_equal(deps_pending(state, d), 1);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                     "SELECT count(*) FROM stg_import_audit"
                                     " WHERE action = 'job.completed' AND entity_id = '%s'",
                                     j),
                     1);
    job_free(job);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

static const struct CMUnitTest tests[] = {
    TEST(test_completion_without_dependants_takes_no_graph_lock),
    TEST(test_completion_with_dependants_takes_the_graph_lock),
    TEST(test_dependant_added_during_completion_is_released),
    TEST(test_late_dependant_with_the_graph_busy_starts_over),
};

int main(void)
{
    return fixture_run_backends("finish_graph_lock", "finish graph lock tests", tests,
                                sizeof(tests) / sizeof(tests[0]));
}
