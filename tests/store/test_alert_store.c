/*
 * test_alert_store.c - alerts in the store (store/alert_ops.h), one test
 * code for both backends: an alert opens once per rule and entity while
 * open or acknowledged (the unique index of migration 009), again after
 * it resolved; resolving once; opening and resolving audited as the
 * system's ("alert.opened", "alert.resolved"); acknowledging (audited "alert.acked" in
 * the same transaction, once; a resolved alert is a conflict, an unknown
 * one not found); an outage recorded after the fact; lists by state with
 * keyset pages; and the engine's probe (jobs ended with an error, locks
 * past their lease, the oldest runnable job) on the fake clock.
 *
 * IMPORTQ_TEST_ONLY=postgres (or =sqlite) runs one backend's group only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/store_fixture.h"

#include "core/timeutil.h"
#include "store/alert_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX(state) ((struct fixture *)*(state))
#define MIN_MS INT64_C(60000)

/* open_alert - store_alert_open of rule/entity_id; *ret_id the id (0: not opened). */
static bool open_alert(struct fixture *f, const char *rule, const char *entity_id, int64_t *ret_id)
{
    struct alert draft = {.rule = (char *)rule,
                          .severity = "warning",
                          .entity = "queue",
                          .entity_id = (char *)entity_id,
                          .message = "something is wrong",
                          .detail = "{\"n\": 1}",
                          .node = "node-1"};
    bool opened = false;
    int64_t id = 0;
    struct iq_error err = {0};
    if (store_alert_open(f->store, &draft, &opened, &id, &err) < 0)
        fail_msg("open: %s", iq_error_message(&err));
    if (ret_id)
        *ret_id = id;
    return opened;
}

static void test_opens_once_per_rule_and_entity(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    int64_t a, again, other, b;
    assert_true(open_alert(f, "queue_depth", "queue", &a));
    assert_false(open_alert(f, "queue_depth", "queue", &again));
    assert_int_equal(again, 0);
    assert_true(open_alert(f, "queue_full", "queue", &other));
    assert_true(open_alert(f, "job_failed", "job-1", &b));
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_monitoring"), 3);

    struct alert got;
    struct iq_error err = {0};
    assert_int_equal(store_alert_get(f->store, a, &got, &err), 0);
    assert_string_equal(got.rule, "queue_depth");
    assert_int_equal(got.state, ALERT_STATE_OPEN);
    assert_int_equal(got.created_at_ms, FAKE_CLOCK_START_MS);
    assert_string_equal(got.node, "node-1");
    assert_non_null(strstr(got.detail, "\"n\""));
    alert_clear(&got);

    bool resolved = false;
    fake_clock_advance(&f->clock, 5000);
    assert_int_equal(store_alert_resolve(f->store, a, &resolved, &err), 0);
    assert_true(resolved);
    assert_int_equal(store_alert_resolve(f->store, a, &resolved, &err), 0);
    assert_false(resolved);
    assert_int_equal(store_alert_get(f->store, a, &got, &err), 0);
    assert_int_equal(got.state, ALERT_STATE_RESOLVED);
    assert_int_equal(got.resolved_at_ms, FAKE_CLOCK_START_MS + 5000);
    alert_clear(&got);
    /* resolved: the same rule and entity opens anew */
    int64_t reopened;
    assert_true(open_alert(f, "queue_depth", "queue", &reopened));
    assert_true(reopened > a);
    assert_int_equal(store_alert_get(f->store, 999999, &got, &err), IQ_E_NOT_FOUND);
    iq_error_clear(&err);
}

static void test_ack_is_audited_once(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    int64_t id;
    assert_true(open_alert(f, "lock_wait", "job-9", &id));
    fake_clock_advance(&f->clock, 2000);
    struct alert acked;
    struct iq_error err = {0};
    assert_int_equal(store_alert_ack(f->store, id, &test_actor, &acked, &err), 0);
    assert_int_equal(acked.state, ALERT_STATE_ACKED);
    assert_string_equal(acked.acked_by, test_actor.actor);
    assert_int_equal(acked.acked_at_ms, FAKE_CLOCK_START_MS + 2000);
    alert_clear(&acked);
    char id_text[24];
    snprintf(id_text, sizeof(id_text), "%lld", (long long)id);
    json_t *images = fixture_audit_images(f, "alert.acked", id_text);
    assert_string_equal(json_string_value(json_object_get(json_array_get(images, 0), "state")),
                        "open");
    assert_string_equal(json_string_value(json_object_get(json_array_get(images, 1), "state")),
                        "acked");
    json_decref(images);
    /* again: as it is, nothing written */
    assert_int_equal(store_alert_ack(f->store, id, &test_actor, &acked, &err), 0);
    assert_int_equal(acked.state, ALERT_STATE_ACKED);
    alert_clear(&acked);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_audit"
                                        " WHERE action = 'alert.acked'"),
                     1);
    /* acknowledged still counts as open: no second alert */
    assert_false(open_alert(f, "lock_wait", "job-9", NULL));
    bool resolved;
    assert_int_equal(store_alert_resolve(f->store, id, &resolved, &err), 0);
    assert_true(resolved);
    assert_int_equal(store_alert_ack(f->store, id, &test_actor, &acked, &err), IQ_E_CONFLICT);
    assert_int_equal(store_alert_ack(f->store, 424242, &test_actor, &acked, &err), IQ_E_NOT_FOUND);
    iq_error_clear(&err);
}

static void test_recorded_after_the_fact(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    struct alert draft = {.rule = "db_unreachable",
                          .severity = "critical",
                          .entity = "node",
                          .entity_id = "node-1",
                          .message = "down",
                          .state = ALERT_STATE_RESOLVED,
                          .created_at_ms = FAKE_CLOCK_START_MS - 10 * MIN_MS};
    bool opened;
    int64_t id;
    struct iq_error err = {0};
    assert_int_equal(store_alert_open(f->store, &draft, &opened, &id, &err), 0);
    assert_true(opened);
    struct alert got;
    assert_int_equal(store_alert_get(f->store, id, &got, &err), 0);
    assert_int_equal(got.state, ALERT_STATE_RESOLVED);
    assert_int_equal(got.created_at_ms, FAKE_CLOCK_START_MS - 10 * MIN_MS);
    assert_int_equal(got.resolved_at_ms, FAKE_CLOCK_START_MS);
    alert_clear(&got);
    /* audited once, as resolved: it was never open in the store */
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_audit"
                                        " WHERE action = 'alert.resolved' AND actor = 'system'"),
                     1);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_audit"
                                        " WHERE action = 'alert.opened'"),
                     0);
}

/* Opening and resolving are audited as the system's, once each, in the
 * alert's own transaction: GET /events carries them. */
static void test_open_and_resolve_are_audited(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    int64_t id;
    assert_true(open_alert(f, "queue_wait", "queue", &id));
    assert_false(open_alert(f, "queue_wait", "queue", NULL)); /* open already: no row */
    char id_text[24];
    snprintf(id_text, sizeof(id_text), "%lld", (long long)id);
    json_t *images = fixture_audit_images(f, "alert.opened", id_text);
    assert_true(json_is_null(json_array_get(images, 0)));
    json_t *after = json_array_get(images, 1);
    assert_string_equal(json_string_value(json_object_get(after, "state")), "open");
    assert_string_equal(json_string_value(json_object_get(after, "rule")), "queue_wait");
    assert_string_equal(json_string_value(json_object_get(after, "message")), "something is wrong");
    json_decref(images);
    bool resolved = false;
    struct iq_error err = {0};
    fake_clock_advance(&f->clock, 3000);
    assert_int_equal(store_alert_resolve(f->store, id, &resolved, &err), 0);
    assert_true(resolved);
    assert_int_equal(store_alert_resolve(f->store, id, &resolved, &err), 0); /* again: no row */
    assert_false(resolved);
    assert_int_equal(store_alert_resolve(f->store, 999999, &resolved, &err), 0); /* unknown */
    assert_false(resolved);
    images = fixture_audit_images(f, "alert.resolved", id_text);
    assert_string_equal(json_string_value(json_object_get(json_array_get(images, 0), "state")),
                        "open");
    after = json_array_get(images, 1);
    assert_string_equal(json_string_value(json_object_get(after, "state")), "resolved");
    assert_non_null(json_string_value(json_object_get(after, "resolved_at")));
    json_decref(images);
    assert_int_equal(fixture_int_fmt(f,
                                     "SELECT count(*) FROM stg_import_audit WHERE entity = 'alert'"
                                     " AND entity_id = '%s' AND actor = 'system'",
                                     id_text),
                     2);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_audit"
                                        " WHERE action IN ('alert.opened', 'alert.resolved')"),
                     2);
}

static void test_list_by_state_and_pages(void **state)
{
    struct fixture *f = FIX(state);
    int64_t ids[5];
    char entity[16];
    for (int i = 0; i < 5; i++) {
        snprintf(entity, sizeof(entity), "job-%d", i);
        assert_true(open_alert(f, "job_failed", entity, &ids[i]));
    }
    struct iq_error err = {0};
    bool resolved;
    assert_int_equal(store_alert_resolve(f->store, ids[0], &resolved, &err), 0);
    struct alert acked;
    assert_int_equal(store_alert_ack(f->store, ids[1], &test_actor, &acked, &err), 0);
    alert_clear(&acked);

    struct alert_page page;
    struct alert_filter filter = {.state_mask = 1u << ALERT_STATE_OPEN};
    assert_int_equal(store_alert_list(f->store, &filter, &page, &err), 0);
    assert_int_equal(page.count, 3);
    assert_int_equal(page.items[0].id, ids[4]);
    assert_int_equal(page.next_after_id, 0);
    alert_page_clear(&page);

    filter = (struct alert_filter){.state_mask =
                                       (1u << ALERT_STATE_ACKED) | (1u << ALERT_STATE_RESOLVED)};
    assert_int_equal(store_alert_list(f->store, &filter, &page, &err), 0);
    assert_int_equal(page.count, 2);
    assert_int_equal(page.items[0].id, ids[1]);
    assert_int_equal(page.items[1].id, ids[0]);
    alert_page_clear(&page);

    filter = (struct alert_filter){.limit = 2};
    assert_int_equal(store_alert_list(f->store, &filter, &page, &err), 0);
    assert_int_equal(page.count, 2);
    assert_int_equal(page.next_after_id, ids[3]);
    filter.after_id = page.next_after_id;
    alert_page_clear(&page);
    assert_int_equal(store_alert_list(f->store, &filter, &page, &err), 0);
    assert_int_equal(page.count, 2);
    assert_int_equal(page.items[0].id, ids[2]);
    filter.after_id = page.next_after_id;
    alert_page_clear(&page);
    assert_int_equal(store_alert_list(f->store, &filter, &page, &err), 0);
    assert_int_equal(page.count, 1);
    assert_int_equal(page.next_after_id, 0);
    alert_page_clear(&page);

    filter = (struct alert_filter){.limit = ALERT_LIST_LIMIT_MAX + 1};
    assert_int_equal(store_alert_list(f->store, &filter, &page, &err), IQ_E_BAD_REQUEST);

    assert_int_equal(store_alerts_active(f->store, &page, &err), 0);
    assert_int_equal(page.count, 4);
    alert_page_clear(&page);
    iq_error_clear(&err);
}

static void test_probe(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    struct iq_error err = {0};
    struct alert_probe probe;
    assert_int_equal(store_alert_probe(f->store, 0, 10, &probe, &err), 0);
    assert_int_equal(probe.ended_count, 0);
    assert_int_equal(probe.expired_count, 0);
    assert_int_equal(probe.oldest_runnable_since_ms, 0);
    alert_probe_clear(&probe);

    fixture_submit(f->store, "t_wait");
    fixture_submit(f->store, "t_failed");
    fixture_submit(f->store, "t_timeout");
    char at[TIME_RFC3339_LEN], old[TIME_RFC3339_LEN], expired[TIME_RFC3339_LEN];
    time_format_rfc3339(FAKE_CLOCK_START_MS - MIN_MS, at);
    time_format_rfc3339(FAKE_CLOCK_START_MS - 90 * MIN_MS, old);
    time_format_rfc3339(FAKE_CLOCK_START_MS - 1000, expired);
    fixture_exec_fmt(
        f,
        "UPDATE stg_import_queue SET status = 'FAILED', attempt = 3, finished_at = '%s',"
        " error = '{\"code\": \"validation\", \"message\": \"bad rows\"}'"
        " WHERE target_table = 't_failed'",
        at);
    fixture_exec_fmt(f,
                     "UPDATE stg_import_queue SET attempt = 1, finished_at = '%s',"
                     " error = '{\"code\": \"timeout\", \"message\": \"timed out\"}'"
                     " WHERE target_table = 't_timeout'",
                     old);
    fixture_exec_fmt(f,
                     "INSERT INTO stg_import_resources (id, name, mode, job_id, attempt, node,"
                     " worker, acquired_at, expires_at) SELECT"
                     " '01900000-0000-7000-8000-0000000000aa', 'table:t_failed', 'exclusive', id,"
                     " 1, 'n', 'w', '%s', '%s' FROM stg_import_queue WHERE target_table = 't_wait'",
                     old, expired);
    fake_clock_advance(&f->clock, 1000);
    assert_int_equal(
        store_alert_probe(f->store, FAKE_CLOCK_START_MS - 120 * MIN_MS, 10, &probe, &err), 0);
    assert_int_equal(probe.ended_count, 2);
    assert_string_equal(probe.ended[0].table, "t_failed"); /* newest finish first */
    assert_int_equal(probe.ended[0].status, JOB_FAILED);
    assert_string_equal(probe.ended[0].error_code, "validation");
    assert_string_equal(probe.ended[0].error_message, "bad rows");
    assert_int_equal(probe.ended[0].attempt, 3);
    assert_int_equal(probe.ended[0].finished_at_ms, FAKE_CLOCK_START_MS - MIN_MS);
    assert_string_equal(probe.ended[1].error_code, "timeout");
    assert_int_equal(probe.ended[1].status, JOB_QUEUED);
    assert_int_equal(probe.expired_count, 1);
    assert_string_equal(probe.expired[0].name, "table:t_failed");
    assert_int_equal(probe.expired[0].expires_at_ms, FAKE_CLOCK_START_MS - 1000);
    /* t_wait and t_timeout are runnable since they were created */
    assert_int_equal(probe.oldest_runnable_since_ms, FAKE_CLOCK_START_MS);
    alert_probe_clear(&probe);
    /* the window and the limit */
    assert_int_equal(
        store_alert_probe(f->store, FAKE_CLOCK_START_MS - 30 * MIN_MS, 10, &probe, &err), 0);
    assert_int_equal(probe.ended_count, 1);
    alert_probe_clear(&probe);
    assert_int_equal(store_alert_probe(f->store, 0, 1, &probe, &err), 0);
    assert_int_equal(probe.ended_count, 1);
    alert_probe_clear(&probe);
    assert_int_equal(store_alert_probe(f->store, 0, ALERT_PROBE_LIMIT_MAX + 1, &probe, &err),
                     IQ_E_INVALID);
    iq_error_clear(&err);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

static const struct CMUnitTest alert_tests[] = {
    TEST(test_opens_once_per_rule_and_entity), TEST(test_ack_is_audited_once),
    TEST(test_recorded_after_the_fact),        TEST(test_open_and_resolve_are_audited),
    TEST(test_list_by_state_and_pages),        TEST(test_probe),
};

int main(void)
{
    return fixture_run_backends("alert_store", "alert store tests", alert_tests,
                                sizeof(alert_tests) / sizeof(alert_tests[0]));
}
