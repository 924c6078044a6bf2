/*
 * test_alerts.c - the alert loop (src/engine/alerts.c) on both backends:
 * each built-in rule opened and resolved by a situation built in the
 * database, looked at with alerts_tick on the fake clock (no thread, no
 * sleeps): a level opens only after its condition held for alert-for and
 * resolves only after it was gone as long (a condition back while
 * clearing keeps it open), events open and resolve at once, nothing is
 * opened twice; two nodes looking at the same situation open one alert
 * (the store's unique index) and only the one that opened it counts it;
 * a database outage is an alert in memory, recorded resolved (with its
 * start) once the database is back; an acknowledged alert still resolves.
 *
 * IMPORTQ_TEST_ONLY=postgres (or =sqlite) runs one backend's group only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine_test_support.h"

#include "engine/alerts.h"
#include "store/alert_ops.h"
#include "util/log.h"

#define SEC INT64_C(1000)
#define MIN (60 * SEC)
#define FOR_MS (30 * SEC)
#define NODE_A "01900000-0000-7000-8000-0000000000a1"
#define NODE_B "01900000-0000-7000-8000-0000000000b1"
#define HOUR_MS_FOR_TEST (60 * MIN)

static int setup(void **state)
{
    int rc = fixture_setup(state);
    if (rc == 0)
        fixture_use_fake_clock(FIX(state));
    return rc;
}

/* The thresholds every test starts from; a test lowers the one it needs. */
static struct alert_thresholds thresholds(void)
{
    return (struct alert_thresholds){.for_ms = FOR_MS,
                                     .event_window_ms = 60 * MIN,
                                     .slow_factor = 3,
                                     .slow_min_ms = 10 * SEC,
                                     .queue_wait_ms = 0,
                                     .lock_wait_ms = 0};
}

/* An outage switch for the loop's connection. */
struct outage {
    bool down;
};

static int fault_cb(void *ctx, struct iq_error *err)
{
    struct outage *outage = ctx;
    if (outage && outage->down)
        return iq_error_set(err, IQ_E_DB, "connection refused (test)");
    return 0;
}

static struct alerts *new_alerts(struct fixture *f, const struct alert_thresholds *t,
                                 const char *node_id, struct outage *outage)
{
    struct alerts_config cfg = {.db_url = f->url,
                                .node_id = node_id,
                                .clock = &f->clock.clock,
                                .options = {.enabled = true, .thresholds = *t},
                                .fault = fault_cb,
                                .fault_ctx = outage};
    struct alerts *alerts = NULL;
    struct iq_error err = {0};
    if (alerts_create(&cfg, &alerts, &err) < 0)
        fail_msg("alerts_create: %s", iq_error_message(&err));
    return alerts;
}

static struct alerts_tick_report tick(struct alerts *alerts)
{
    struct alerts_tick_report report;
    struct iq_error err = {0};
    if (alerts_tick(alerts, &report, &err) < 0)
        fail_msg("alerts_tick: %s", iq_error_message(&err));
    return report;
}

/* count - alerts of rule in state ("open", "acked", "resolved"; NULL: any). */
static int64_t count(struct fixture *f, const char *rule, const char *state)
{
    return fixture_int_fmt(f,
                           "SELECT count(*) FROM stg_import_monitoring WHERE kind = 'alert'"
                           " AND rule = '%s' AND ('%s' = '' OR state = '%s')",
                           rule, state ? state : "", state ? state : "");
}

/* job_id - the id of the (only) job into table, into id. */
static void job_id(struct fixture *f, const char *table, char id[UUID_STR_LEN])
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT id FROM stg_import_queue WHERE target_table = '%s'", table);
    char *text = fixture_sql_text(f, sql);
    assert_int_equal(strlen(text), UUID_STR_LEN - 1);
    memcpy(id, text, UUID_STR_LEN);
    free(text);
}

/* at - RFC 3339 text of the fake clock's now + offset_ms. */
static const char *at(struct fixture *f, int64_t offset_ms, char buf[TIME_RFC3339_LEN])
{
    return time_format_rfc3339(fake_clock_now(&f->clock) + offset_ms, buf);
}

/*
 * expect_level - the life of a level alert: pending for FOR_MS, opened
 * once, (the caller clears the condition), clearing for FOR_MS, resolved.
 */
static void expect_opens_after_for(struct fixture *f, struct alerts *alerts, const char *rule)
{
    struct alerts_tick_report r = tick(alerts);
    assert_int_equal(r.opened, 0); /* pending */
    assert_int_equal(count(f, rule, NULL), 0);
    fake_clock_advance(&f->clock, FOR_MS - 1);
    assert_int_equal(tick(alerts).opened, 0);
    fake_clock_advance(&f->clock, 1);
    assert_int_equal(tick(alerts).opened, 1);
    assert_int_equal(count(f, rule, "open"), 1);
    fake_clock_advance(&f->clock, 5 * SEC);
    assert_int_equal(tick(alerts).opened, 0); /* not repeated */
    assert_int_equal(count(f, rule, NULL), 1);
}

static void expect_resolves_after_for(struct fixture *f, struct alerts *alerts, const char *rule)
{
    assert_int_equal(tick(alerts).resolved, 0); /* clearing */
    assert_int_equal(count(f, rule, "open"), 1);
    fake_clock_advance(&f->clock, FOR_MS - 1);
    assert_int_equal(tick(alerts).resolved, 0);
    fake_clock_advance(&f->clock, 1);
    assert_int_equal(tick(alerts).resolved, 1);
    assert_int_equal(count(f, rule, "resolved"), 1);
    assert_int_equal(count(f, rule, "open"), 0);
}

static void test_job_failed(void **state)
{
    struct fixture *f = FIX(state);
    struct alert_thresholds t = thresholds();
    struct alerts *alerts = new_alerts(f, &t, NODE_A, NULL);
    fixture_submit(f->store, "t_fail");
    char id[UUID_STR_LEN], now[TIME_RFC3339_LEN];
    job_id(f, "t_fail", id);
    assert_int_equal(tick(alerts).opened, 0);
    fixture_exec_fmt(f,
                     "UPDATE stg_import_queue SET status = 'FAILED', attempt = 3,"
                     " finished_at = '%s', error = '{\"code\": \"validation\","
                     " \"message\": \"2 rows rejected\"}' WHERE id = '%s'",
                     at(f, 0, now), id);
    assert_int_equal(tick(alerts).opened, 1); /* an event: at once */
    assert_int_equal(fixture_int_fmt(f,
                                     "SELECT count(*) FROM stg_import_monitoring WHERE rule ="
                                     " 'job_failed' AND entity_id = '%s' AND severity = 'critical'"
                                     " AND entity = 'job' AND node = '" NODE_A "'",
                                     id),
                     1);
    fake_clock_advance(&f->clock, 59 * MIN);
    assert_int_equal(tick(alerts).opened, 0);
    fake_clock_advance(&f->clock, 2 * MIN); /* out of the window */
    assert_int_equal(tick(alerts).resolved, 1);
    assert_int_equal(count(f, "job_failed", "resolved"), 1);
    alerts_free(alerts);
}

static void test_job_timed_out(void **state)
{
    struct fixture *f = FIX(state);
    struct alert_thresholds t = thresholds();
    struct alerts *alerts = new_alerts(f, &t, NODE_A, NULL);
    fixture_submit(f->store, "t_slowpoke");
    char id[UUID_STR_LEN], now[TIME_RFC3339_LEN];
    job_id(f, "t_slowpoke", id);
    fixture_exec_fmt(f,
                     "UPDATE stg_import_queue SET attempt = 1, finished_at = '%s',"
                     " error = '{\"code\": \"timeout\", \"message\": \"timed out\"}'"
                     " WHERE id = '%s'",
                     at(f, 0, now), id);
    assert_int_equal(tick(alerts).opened, 1);
    assert_int_equal(count(f, "job_timed_out", "open"), 1);
    assert_int_equal(count(f, "job_failed", NULL), 0); /* it will be retried */
    /* the retry completes: the error is gone */
    fixture_exec_fmt(f,
                     "UPDATE stg_import_queue SET status = 'COMPLETED', attempt = 2, error = NULL"
                     " WHERE id = '%s'",
                     id);
    fake_clock_advance(&f->clock, SEC);
    assert_int_equal(tick(alerts).resolved, 1);
    assert_int_equal(count(f, "job_timed_out", "resolved"), 1);
    alerts_free(alerts);
}

static void test_job_slow(void **state)
{
    struct fixture *f = FIX(state);
    struct alert_thresholds t = thresholds();
    struct alerts *alerts = new_alerts(f, &t, NODE_A, NULL);
    fixture_submit(f->store, "t_perf");
    char done[UUID_STR_LEN], then[TIME_RFC3339_LEN], started[TIME_RFC3339_LEN];
    job_id(f, "t_perf", done);
    /* history: one attempt of 4 s into t_perf */
    fixture_exec_fmt(f,
                     "UPDATE stg_import_queue SET status = 'COMPLETED', attempt = 1,"
                     " target_table = 't_perf_done' WHERE id = '%s';"
                     " INSERT INTO stg_import_performance (job_id, attempt, target_table, phase,"
                     " started_at, duration_ms, rows, bytes, node) VALUES ('%s', 1, 't_perf',"
                     " 'stage', '%s', 4000, 10, 100, 'n')",
                     done, done, at(f, -HOUR_MS_FOR_TEST, then));
    fixture_submit(f->store, "t_perf");
    char id[UUID_STR_LEN];
    job_id(f, "t_perf", id);
    fixture_exec_fmt(f,
                     "UPDATE stg_import_queue SET status = 'RUNNING', attempt = 1, worker = 'w',"
                     " heartbeat_at = '%s', started_at = '%s' WHERE id = '%s'",
                     at(f, 0, then), at(f, -11 * SEC, started), id);
    /* 11 s > 3 x 4 s? no: not slow yet */
    assert_int_equal(tick(alerts).conditions, 0);
    fake_clock_advance(&f->clock, 2 * SEC); /* 13 s > 12 s */
    expect_opens_after_for(f, alerts, "job_slow");
    fixture_exec_fmt(f, "UPDATE stg_import_queue SET status = 'COMPLETED' WHERE id = '%s'", id);
    expect_resolves_after_for(f, alerts, "job_slow");
    alerts_free(alerts);
}

static void test_queue_depth_without_flapping(void **state)
{
    struct fixture *f = FIX(state);
    struct alert_thresholds t = thresholds();
    t.queue_depth = 2;
    struct alerts *alerts = new_alerts(f, &t, NODE_A, NULL);
    fixture_submit(f->store, "t_d1");
    fixture_submit(f->store, "t_d2");
    assert_int_equal(tick(alerts).conditions, 0); /* 2 is not above 2 */
    fixture_submit(f->store, "t_d3");
    expect_opens_after_for(f, alerts, "queue_depth");
    fixture_exec_fmt(f, "UPDATE stg_import_queue SET status = 'CANCELLED'"
                        " WHERE target_table = 't_d3'");
    assert_int_equal(tick(alerts).resolved, 0); /* clearing */
    fake_clock_advance(&f->clock, FOR_MS / 2);
    /* back while clearing: the alert stays open, nothing new */
    fixture_exec_fmt(f, "UPDATE stg_import_queue SET status = 'QUEUED'"
                        " WHERE target_table = 't_d3'");
    struct alerts_tick_report r = tick(alerts);
    assert_int_equal(r.opened + r.resolved, 0);
    fixture_exec_fmt(f, "UPDATE stg_import_queue SET status = 'CANCELLED'"
                        " WHERE target_table = 't_d3'");
    expect_resolves_after_for(f, alerts, "queue_depth");
    assert_int_equal(count(f, "queue_depth", NULL), 1);
    alerts_free(alerts);
}

static void test_queue_full(void **state)
{
    struct fixture *f = FIX(state);
    struct alert_thresholds t = thresholds();
    t.max_queue_size = 4;
    t.queue_full_percent = 75;
    struct alerts *alerts = new_alerts(f, &t, NODE_A, NULL);
    fixture_submit(f->store, "t_f1");
    fixture_submit(f->store, "t_f2");
    assert_int_equal(tick(alerts).conditions, 0);
    fixture_submit(f->store, "t_f3"); /* 3 of 4: 75 % */
    expect_opens_after_for(f, alerts, "queue_full");
    fixture_exec_fmt(f, "DELETE FROM stg_import_queue WHERE target_table = 't_f3'");
    expect_resolves_after_for(f, alerts, "queue_full");
    alerts_free(alerts);
}

static void test_queue_wait(void **state)
{
    struct fixture *f = FIX(state);
    struct alert_thresholds t = thresholds();
    t.queue_wait_ms = 10 * MIN;
    struct alerts *alerts = new_alerts(f, &t, NODE_A, NULL);
    fixture_submit(f->store, "t_w");
    fixture_submit(f->store, "t_later");
    char later[TIME_RFC3339_LEN];
    /* a job scheduled for later is not waiting */
    fixture_exec_fmt(f,
                     "UPDATE stg_import_queue SET available_at = '%s'"
                     " WHERE target_table = 't_later'",
                     at(f, 20 * MIN, later));
    fake_clock_advance(&f->clock, 10 * MIN);
    assert_int_equal(tick(alerts).conditions, 0);
    fake_clock_advance(&f->clock, SEC);
    expect_opens_after_for(f, alerts, "queue_wait");
    fixture_exec_fmt(f, "UPDATE stg_import_queue SET status = 'RUNNING', attempt = 1"
                        " WHERE target_table = 't_w'");
    expect_resolves_after_for(f, alerts, "queue_wait");
    alerts_free(alerts);
}

/* lock_row - a lock on resource held by job id, expiring at offset_ms from now. */
static void lock_row(struct fixture *f, const char *lock_id, const char *resource, const char *job,
                     int64_t offset_ms)
{
    char then[TIME_RFC3339_LEN], expires[TIME_RFC3339_LEN];
    fixture_exec_fmt(f,
                     "INSERT INTO stg_import_resources (id, name, mode, job_id, attempt, node,"
                     " worker, acquired_at, expires_at) VALUES ('%s', '%s', 'exclusive', '%s', 1,"
                     " 'n', 'w', '%s', '%s')",
                     lock_id, resource, job, at(f, -MIN, then), at(f, offset_ms, expires));
}

static void test_lock_expired(void **state)
{
    struct fixture *f = FIX(state);
    struct alert_thresholds t = thresholds();
    struct alerts *alerts = new_alerts(f, &t, NODE_A, NULL);
    fixture_submit(f->store, "t_lock");
    char id[UUID_STR_LEN];
    job_id(f, "t_lock", id);
    fixture_exec_fmt(f,
                     "UPDATE stg_import_queue SET status = 'RUNNING', attempt = 1"
                     " WHERE id = '%s'",
                     id);
    lock_row(f, "01900000-0000-7000-8000-0000000000c1", "table:t_lock", id, 2 * SEC);
    assert_int_equal(tick(alerts).conditions, 0);
    fake_clock_advance(&f->clock, 3 * SEC);
    expect_opens_after_for(f, alerts, "lock_expired");
    fixture_exec_fmt(f, "DELETE FROM stg_import_resources");
    expect_resolves_after_for(f, alerts, "lock_expired");
    alerts_free(alerts);
}

static void test_lock_wait(void **state)
{
    struct fixture *f = FIX(state);
    struct alert_thresholds t = thresholds();
    t.lock_wait_ms = 5 * MIN;
    struct alerts *alerts = new_alerts(f, &t, NODE_A, NULL);
    fixture_submit(f->store, "t_holder");
    char holder[UUID_STR_LEN], waiter[UUID_STR_LEN];
    job_id(f, "t_holder", holder);
    fixture_exec_fmt(f,
                     "UPDATE stg_import_queue SET status = 'RUNNING', attempt = 1"
                     " WHERE id = '%s'",
                     holder);
    lock_row(f, "01900000-0000-7000-8000-0000000000c2", "table:t_shared", holder, HOUR_MS_FOR_TEST);
    struct job_spec *spec =
        spec_simple("t_waiter", 5, "\"resources\": [{\"name\": \"table:t_shared\"}]");
    struct job_create_request req = {.spec = spec};
    struct job *job = NULL;
    bool existed;
    struct iq_error err = {0};
    assert_int_equal(store_job_create(f->store, &req, &test_actor, &job, &existed, &err), 0);
    memcpy(waiter, job->id, UUID_STR_LEN);
    job_free(job);
    job_spec_free(spec);
    fake_clock_advance(&f->clock, 5 * MIN);
    assert_int_equal(tick(alerts).conditions, 0);
    fake_clock_advance(&f->clock, SEC);
    expect_opens_after_for(f, alerts, "lock_wait");
    assert_int_equal(fixture_int_fmt(f,
                                     "SELECT count(*) FROM stg_import_monitoring WHERE rule ="
                                     " 'lock_wait' AND entity_id = '%s'",
                                     waiter),
                     1);
    fixture_exec_fmt(f, "DELETE FROM stg_import_resources");
    expect_resolves_after_for(f, alerts, "lock_wait");
    alerts_free(alerts);
}

static void test_node_lost(void **state)
{
    struct fixture *f = FIX(state);
    struct alert_thresholds t = thresholds();
    struct alerts *alerts = new_alerts(f, &t, NODE_A, NULL);
    struct node_info node = {.id = NODE_B,
                             .host = "host-b",
                             .pid = 1,
                             .version = "test",
                             .status = "alive",
                             .started_at_ms = fake_clock_now(&f->clock),
                             .heartbeat_at_ms = fake_clock_now(&f->clock)};
    struct iq_error err = {0};
    assert_int_equal(store_node_register(f->store, &node, &err), 0);
    assert_int_equal(tick(alerts).conditions, 0);
    fake_clock_advance(&f->clock, MIN);
    int marked = 0;
    assert_int_equal(store_nodes_mark_dead(f->store, 30 * SEC, &marked, &err), 0);
    assert_int_equal(marked, 1);
    assert_int_equal(tick(alerts).opened, 1); /* an event: at once */
    assert_int_equal(fixture_int_fmt(f, "SELECT count(*) FROM stg_import_monitoring WHERE rule ="
                                        " 'node_lost' AND entity_id = '" NODE_B "'"),
                     1);
    fake_clock_advance(&f->clock, 60 * MIN);
    assert_int_equal(tick(alerts).resolved, 1);
    assert_int_equal(count(f, "node_lost", "resolved"), 1);
    alerts_free(alerts);
}

static void test_db_unreachable(void **state)
{
    struct fixture *f = FIX(state);
    struct alert_thresholds t = thresholds();
    t.queue_depth = 0;
    struct outage outage = {.down = false};
    struct alerts *alerts = new_alerts(f, &t, NODE_A, &outage);
    assert_false(tick(alerts).db_unreachable);
    int64_t down_at = fake_clock_now(&f->clock);
    outage.down = true;
    struct alerts_tick_report r = tick(alerts);
    assert_true(r.db_unreachable);
    assert_int_equal(r.opened, 0); /* pending */
    fake_clock_advance(&f->clock, FOR_MS);
    r = tick(alerts);
    assert_int_equal(r.opened, 1); /* in memory: logged (and the webhook) */
    assert_int_equal(count(f, "db_unreachable", NULL), 0);
    fake_clock_advance(&f->clock, MIN);
    assert_int_equal(tick(alerts).opened, 0);
    outage.down = false;
    r = tick(alerts);
    assert_false(r.db_unreachable);
    assert_int_equal(r.resolved, 0); /* back, not yet for alert-for */
    fake_clock_advance(&f->clock, FOR_MS);
    assert_int_equal(tick(alerts).resolved, 1);
    assert_int_equal(count(f, "db_unreachable", "resolved"), 1);
    char since[TIME_RFC3339_LEN];
    time_format_rfc3339(down_at, since);
    assert_int_equal(fixture_int_fmt(f,
                                     "SELECT count(*) FROM stg_import_monitoring WHERE rule ="
                                     " 'db_unreachable' AND entity_id = '" NODE_A "'"
                                     " AND created_at = '%s'",
                                     since),
                     1);
    /* a blip shorter than alert-for: nothing */
    outage.down = true;
    assert_int_equal(tick(alerts).opened, 0);
    outage.down = false;
    fake_clock_advance(&f->clock, FOR_MS);
    r = tick(alerts);
    assert_int_equal(r.opened + r.resolved, 0);
    assert_int_equal(count(f, "db_unreachable", NULL), 1);
    alerts_free(alerts);
}

static void test_two_nodes_open_once(void **state)
{
    struct fixture *f = FIX(state);
    struct alert_thresholds t = thresholds();
    t.queue_depth = 1;
    struct alerts *a = new_alerts(f, &t, NODE_A, NULL);
    struct alerts *b = new_alerts(f, &t, NODE_B, NULL);
    fixture_submit(f->store, "t_n1");
    fixture_submit(f->store, "t_n2");
    tick(a);
    tick(b);
    fake_clock_advance(&f->clock, FOR_MS);
    int opened = tick(a).opened + tick(b).opened;
    assert_int_equal(opened, 1);
    assert_int_equal(count(f, "queue_depth", NULL), 1);
    /* the other node took it over: it resolves it when it sees the queue drain first */
    fixture_exec_fmt(f, "DELETE FROM stg_import_queue WHERE target_table = 't_n2'");
    tick(b);
    fake_clock_advance(&f->clock, FOR_MS);
    assert_int_equal(tick(b).resolved, 1);
    assert_int_equal(tick(a).resolved, 0); /* already resolved: not delivered twice */
    assert_int_equal(count(f, "queue_depth", "resolved"), 1);
    alerts_free(a);
    alerts_free(b);
}

static void test_acked_alert_resolves(void **state)
{
    struct fixture *f = FIX(state);
    struct alert_thresholds t = thresholds();
    t.queue_depth = 1;
    t.for_ms = 0;
    struct alerts *alerts = new_alerts(f, &t, NODE_A, NULL);
    fixture_submit(f->store, "t_a1");
    fixture_submit(f->store, "t_a2");
    assert_int_equal(tick(alerts).opened, 1);
    int64_t id = fixture_sql_int(f, "SELECT id FROM stg_import_monitoring WHERE kind = 'alert'");
    struct alert acked;
    struct iq_error err = {0};
    assert_int_equal(store_alert_ack(f->store, id, &test_actor, &acked, &err), 0);
    alert_clear(&acked);
    assert_int_equal(tick(alerts).opened, 0);
    fixture_exec_fmt(f, "DELETE FROM stg_import_queue WHERE target_table = 't_a2'");
    assert_int_equal(tick(alerts).resolved, 1);
    assert_int_equal(count(f, "queue_depth", "resolved"), 1);
    /* and a new one opens when it comes back */
    fixture_submit(f->store, "t_a3");
    assert_int_equal(tick(alerts).opened, 1);
    assert_int_equal(count(f, "queue_depth", NULL), 2);
    alerts_free(alerts);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, fixture_teardown)

static const struct CMUnitTest alert_tests[] = {
    TEST(test_job_failed),
    TEST(test_job_timed_out),
    TEST(test_job_slow),
    TEST(test_queue_depth_without_flapping),
    TEST(test_queue_full),
    TEST(test_queue_wait),
    TEST(test_lock_expired),
    TEST(test_lock_wait),
    TEST(test_node_lost),
    TEST(test_db_unreachable),
    TEST(test_two_nodes_open_once),
    TEST(test_acked_alert_resolves),
};

int main(void)
{
    log_set_level(LOG_ERROR); /* every alert change is logged; the tests count them instead */
    return fixture_run_backends("alerts", "alert loop tests", alert_tests,
                                sizeof(alert_tests) / sizeof(alert_tests[0]));
}
