/*
 * test_alert_rules.c - the built-in alert rules (src/core/alert_rules.c):
 * a table of situations, each a set of facts and thresholds with the
 * conditions (rule, entity) expected, one case on each side of every
 * rule's threshold; once per rule and entity; rule and state names; and
 * the state machine (alert_step) step by step: pending, firing, clearing,
 * a condition coming back while clearing, events at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/alert_rules.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define NOW INT64_C(1893456000000)
#define SEC INT64_C(1000)
#define MIN (60 * SEC)
#define JOB_A "01900000-0000-7000-8000-00000000000a"
#define JOB_B "01900000-0000-7000-8000-00000000000b"
#define LOCK_A "01900000-0000-7000-8000-0000000000c1"
#define NODE_A "01900000-0000-7000-8000-0000000000d1"

static const struct alert_thresholds defaults = {
    .for_ms = 30 * SEC,
    .event_window_ms = 60 * MIN,
    .slow_factor = 3,
    .slow_min_ms = 10 * SEC,
    .queue_depth = 500,
    .queue_full_percent = 90,
    .max_queue_size = 1000,
    .queue_wait_ms = 15 * MIN,
    .lock_wait_ms = 5 * MIN,
};

static const struct alert_ended_job failed_recent[] = {
    {JOB_A, "users", "users", JOB_FAILED, "validation", "3 rows rejected", 3, 3, NOW - 5 * MIN},
};
static const struct alert_ended_job failed_old[] = {
    {JOB_A, "users", "users", JOB_FAILED, "validation", "bad", 3, 3, NOW - 61 * MIN},
};
static const struct alert_ended_job failed_dependency[] = {
    {JOB_A, "users", "users", JOB_FAILED, "dependency_failed", "dep", 0, 3, NOW - MIN},
};
static const struct alert_ended_job retrying_timeout[] = {
    {JOB_B, "teams", "teams", JOB_QUEUED, "timeout", "timed out", 1, 3, NOW - MIN},
};
static const struct alert_ended_job final_timeout[] = {
    {JOB_B, "teams", "teams", JOB_FAILED, "timeout", "timed out", 3, 3, NOW - MIN},
};
static const struct alert_ended_job retrying_other[] = {
    {JOB_B, "teams", "teams", JOB_QUEUED, "io", "disk", 1, 3, NOW - MIN},
};
static const struct alert_running_job slow[] = {
    {JOB_A, "users", "users", NOW - 31 * SEC, 10 * SEC}};
static const struct alert_running_job not_slow[] = {
    {JOB_A, "users", "users", NOW - 29 * SEC, 10 * SEC}};
static const struct alert_running_job fast_table[] = {
    {JOB_A, "users", "users", NOW - 9 * SEC, 1 * SEC}};
static const struct alert_running_job no_history[] = {{JOB_A, "users", "users", NOW - MIN, 0}};
static const struct alert_expired_lock expired[] = {{LOCK_A, "table:users", JOB_A, NOW - SEC}};
static const struct alert_expired_lock not_expired[] = {{LOCK_A, "table:users", JOB_A, NOW + SEC}};
static const struct alert_lock_wait waited_long[] = {
    {JOB_B, "teams", "table:users", JOB_A, NOW - 6 * MIN}};
static const struct alert_lock_wait waited_short[] = {
    {JOB_B, "teams", "table:users", JOB_A, NOW - 4 * MIN}};
static const struct alert_node dead_node[] = {{NODE_A, "host1", "dead", NOW - 2 * MIN}};
static const struct alert_node dead_long_ago[] = {{NODE_A, "host1", "dead", NOW - 2 * 60 * MIN}};
static const struct alert_node stopped_node[] = {{NODE_A, "host1", "stopped", NOW - 2 * MIN}};

struct rule_case {
    const char *what;
    struct alert_facts facts;
    const char *expected; /* "rule:entity,rule:entity" in rule order; "" for none */
};

#define ENDED(a) .ended = a, .ended_count = COUNT_OF(a)
#define RUNNING(a) .running = a, .running_count = COUNT_OF(a)

static const struct rule_case rule_cases[] = {
    {"nothing wrong", {.now_ms = NOW}, ""},
    {"failed recently", {.now_ms = NOW, ENDED(failed_recent)}, "job_failed:" JOB_A},
    {"failed before the window", {.now_ms = NOW, ENDED(failed_old)}, ""},
    {"dependency_failed is its root's alert", {.now_ms = NOW, ENDED(failed_dependency)}, ""},
    {"timed out, retrying", {.now_ms = NOW, ENDED(retrying_timeout)}, "job_timed_out:" JOB_B},
    {"timed out for good",
     {.now_ms = NOW, ENDED(final_timeout)},
     "job_failed:" JOB_B ",job_timed_out:" JOB_B},
    {"a retry for another error", {.now_ms = NOW, ENDED(retrying_other)}, ""},
    {"slower than 3x p50", {.now_ms = NOW, RUNNING(slow)}, "job_slow:" JOB_A},
    {"not yet 3x p50", {.now_ms = NOW, RUNNING(not_slow)}, ""},
    {"3x p50 but under the minimum", {.now_ms = NOW, RUNNING(fast_table)}, ""},
    {"no history for the table", {.now_ms = NOW, RUNNING(no_history)}, ""},
    {"depth above", {.now_ms = NOW, .queue_depth = 501}, "queue_depth:queue"},
    {"depth at the threshold", {.now_ms = NOW, .queue_depth = 500}, ""},
    {"nearly full", {.now_ms = NOW, .queue_depth = 900}, "queue_depth:queue,queue_full:queue"},
    {"oldest waits too long",
     {.now_ms = NOW, .oldest_runnable_since_ms = NOW - 16 * MIN},
     "queue_wait:queue"},
    {"oldest waits a while", {.now_ms = NOW, .oldest_runnable_since_ms = NOW - 14 * MIN}, ""},
    {"lock past its lease",
     {.now_ms = NOW, .expired_locks = expired, .expired_lock_count = 1},
     "lock_expired:" LOCK_A},
    {"lock within its lease",
     {.now_ms = NOW, .expired_locks = not_expired, .expired_lock_count = 1},
     ""},
    {"waited on a lock too long",
     {.now_ms = NOW, .lock_waits = waited_long, .lock_wait_count = 1},
     "lock_wait:" JOB_B},
    {"waited on a lock a while",
     {.now_ms = NOW, .lock_waits = waited_short, .lock_wait_count = 1},
     ""},
    {"node lost", {.now_ms = NOW, .nodes = dead_node, .node_count = 1}, "node_lost:" NODE_A},
    {"node lost long ago", {.now_ms = NOW, .nodes = dead_long_ago, .node_count = 1}, ""},
    {"node stopped cleanly", {.now_ms = NOW, .nodes = stopped_node, .node_count = 1}, ""},
    {"database unreachable",
     {.now_ms = NOW, .db_unreachable = true, .db_down_since_ms = NOW - MIN, .node_id = NODE_A},
     "db_unreachable:" NODE_A},
};

/* conditions_text - "rule:entity,..." of list. */
static void conditions_text(const struct alert_condition_list *list, char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t i = 0; i < list->count; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%s:%s", i ? "," : "",
                 alert_rule_info(list->items[i].rule)->name, list->items[i].entity_id);
        assert_non_null(list->items[i].message);
        json_t *detail = json_loads(list->items[i].detail, 0, NULL);
        assert_true(json_is_object(detail));
        json_decref(detail);
    }
}

static void test_rules_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(rule_cases); i++) {
        struct alert_condition_list list = {0};
        struct iq_error err = {0};
        assert_int_equal(alert_rules_evaluate(&rule_cases[i].facts, &defaults, &list, &err), 0);
        char text[1024];
        conditions_text(&list, text, sizeof(text));
        if (strcmp(text, rule_cases[i].expected) != 0)
            fail_msg("%s: got \"%s\", want \"%s\"", rule_cases[i].what, text,
                     rule_cases[i].expected);
        alert_condition_list_clear(&list);
    }
}

static void test_thresholds_zero_turn_rules_off(void **state)
{
    (void)state;
    struct alert_thresholds off = defaults;
    off.slow_factor = 0;
    off.queue_depth = 0;
    off.max_queue_size = 0;
    off.queue_wait_ms = 0;
    off.lock_wait_ms = 0;
    struct alert_facts facts = {.now_ms = NOW,
                                .queue_depth = 5000,
                                .oldest_runnable_since_ms = NOW - 600 * MIN,
                                .lock_waits = waited_long,
                                .lock_wait_count = 1,
                                RUNNING(slow)};
    struct alert_condition_list list = {0};
    struct iq_error err = {0};
    assert_int_equal(alert_rules_evaluate(&facts, &off, &list, &err), 0);
    assert_int_equal(list.count, 0);
    alert_condition_list_clear(&list);
}

static void test_once_per_rule_and_entity(void **state)
{
    (void)state;
    const struct alert_ended_job twice[] = {failed_recent[0], failed_recent[0]};
    struct alert_facts facts = {.now_ms = NOW, ENDED(twice)};
    struct alert_condition_list list = {0};
    struct iq_error err = {0};
    assert_int_equal(alert_rules_evaluate(&facts, &defaults, &list, &err), 0);
    assert_int_equal(list.count, 1);
    assert_non_null(strstr(list.items[0].message, "3 rows rejected"));
    alert_condition_list_clear(&list);
}

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < ALERT_RULE_COUNT; i++) {
        enum alert_rule_id id;
        assert_int_equal(alert_rule_parse(alert_rule_info((enum alert_rule_id)i)->name, &id), 0);
        assert_int_equal(id, i);
    }
    enum alert_rule_id id;
    assert_int_equal(alert_rule_parse("nope", &id), IQ_E_INVALID);
    assert_null(alert_rule_info(ALERT_RULE_COUNT));
    enum alert_state st;
    assert_int_equal(alert_state_parse("acked", &st), 0);
    assert_int_equal(st, ALERT_STATE_ACKED);
    assert_int_equal(alert_state_parse("firing", &st), IQ_E_INVALID);
    assert_string_equal(alert_state_name(ALERT_STATE_RESOLVED), "resolved");
    assert_true(alert_rule_info(ALERT_QUEUE_DEPTH)->level);
    assert_false(alert_rule_info(ALERT_JOB_FAILED)->level);
}

/* One step: whether the condition holds at t, the action and phase expected. */
struct step {
    int64_t t_ms;
    bool holds;
    enum alert_action action;
    enum alert_phase phase;
};

static void run_steps(const struct step *steps, size_t count, bool level, int64_t for_ms)
{
    struct alert_tracker tracker = {0};
    for (size_t i = 0; i < count; i++) {
        enum alert_action action =
            alert_step(&tracker, steps[i].holds, level, for_ms, NOW + steps[i].t_ms);
        if (action != steps[i].action || tracker.phase != steps[i].phase)
            fail_msg("step %zu (t=%lld holds=%d): action %d phase %d, want %d %d", i,
                     (long long)steps[i].t_ms, steps[i].holds, action, tracker.phase,
                     steps[i].action, steps[i].phase);
    }
}

static void test_level_pending_firing_clearing(void **state)
{
    (void)state;
    const struct step steps[] = {
        {0, false, ALERT_ACTION_NONE, ALERT_PHASE_INACTIVE},
        {1000, true, ALERT_ACTION_NONE, ALERT_PHASE_PENDING},
        {20000, true, ALERT_ACTION_NONE, ALERT_PHASE_PENDING},
        {25000, false, ALERT_ACTION_NONE, ALERT_PHASE_INACTIVE}, /* a blip: never opened */
        {26000, true, ALERT_ACTION_NONE, ALERT_PHASE_PENDING},
        {55999, true, ALERT_ACTION_NONE, ALERT_PHASE_PENDING},
        {56000, true, ALERT_ACTION_OPEN, ALERT_PHASE_FIRING},
        {60000, true, ALERT_ACTION_NONE, ALERT_PHASE_FIRING}, /* not repeated */
        {61000, false, ALERT_ACTION_NONE, ALERT_PHASE_CLEARING},
        {80000, true, ALERT_ACTION_NONE, ALERT_PHASE_FIRING}, /* back: stays open */
        {81000, false, ALERT_ACTION_NONE, ALERT_PHASE_CLEARING},
        {110999, false, ALERT_ACTION_NONE, ALERT_PHASE_CLEARING},
        {111000, false, ALERT_ACTION_RESOLVE, ALERT_PHASE_INACTIVE},
        {112000, false, ALERT_ACTION_NONE, ALERT_PHASE_INACTIVE},
    };
    run_steps(steps, COUNT_OF(steps), true, 30000);
}

static void test_events_and_zero_for_act_at_once(void **state)
{
    (void)state;
    const struct step steps[] = {
        {0, true, ALERT_ACTION_OPEN, ALERT_PHASE_FIRING},
        {1000, true, ALERT_ACTION_NONE, ALERT_PHASE_FIRING},
        {2000, false, ALERT_ACTION_RESOLVE, ALERT_PHASE_INACTIVE},
        {3000, true, ALERT_ACTION_OPEN, ALERT_PHASE_FIRING},
    };
    run_steps(steps, COUNT_OF(steps), false, 30000); /* an event */
    run_steps(steps, COUNT_OF(steps), true, 0);      /* a level without a for-duration */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_table),
        cmocka_unit_test(test_thresholds_zero_turn_rules_off),
        cmocka_unit_test(test_once_per_rule_and_entity),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_level_pending_firing_clearing),
        cmocka_unit_test(test_events_and_zero_for_act_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
