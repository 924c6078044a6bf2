/*
 * test_job_state.c - the job state machine and record (src/core/job.c):
 * every (status, event) pair against the table written out below, status
 * and lock-mode names, and the keys of the CONTRACT §3 job resource.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/job.h"
#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>

/*
 * The allowed transitions, as job.h's event comments and CONTRACT §3 say.
 * EXECUTE also applies to QUEUED (a future-scheduled job runs as soon as
 * resources allow) and to FAILED/CANCELLED (a new attempt), per the
 * contract's execute endpoint. Every pair not listed must be IQ_E_CONFLICT.
 */
static const struct {
    enum job_status from;
    enum job_event event;
    enum job_status to;
} allowed[] = {
    {JOB_HELD, JOB_EVENT_EXECUTE, JOB_QUEUED},
    {JOB_HELD, JOB_EVENT_CANCEL, JOB_CANCELLED},
    {JOB_HELD, JOB_EVENT_DEPENDENCY_FAILED, JOB_FAILED},
    {JOB_QUEUED, JOB_EVENT_EXECUTE, JOB_QUEUED},
    {JOB_QUEUED, JOB_EVENT_HOLD, JOB_HELD},
    {JOB_QUEUED, JOB_EVENT_CLAIM, JOB_RUNNING},
    {JOB_QUEUED, JOB_EVENT_CANCEL, JOB_CANCELLED},
    {JOB_QUEUED, JOB_EVENT_DEPENDENCY_FAILED, JOB_FAILED},
    {JOB_RUNNING, JOB_EVENT_COMPLETE, JOB_COMPLETED},
    {JOB_RUNNING, JOB_EVENT_FAIL, JOB_FAILED},
    {JOB_RUNNING, JOB_EVENT_RETRY, JOB_QUEUED},
    {JOB_RUNNING, JOB_EVENT_CANCEL, JOB_CANCELLED},
    {JOB_RUNNING, JOB_EVENT_RESCUE, JOB_QUEUED},
    {JOB_FAILED, JOB_EVENT_EXECUTE, JOB_QUEUED},
    {JOB_FAILED, JOB_EVENT_RERUN, JOB_QUEUED},
    {JOB_CANCELLED, JOB_EVENT_EXECUTE, JOB_QUEUED},
    {JOB_CANCELLED, JOB_EVENT_RERUN, JOB_QUEUED},
    {JOB_HELD, JOB_EVENT_UPDATE, JOB_HELD},
    {JOB_QUEUED, JOB_EVENT_UPDATE, JOB_QUEUED},
};

/* expected_transition - the listed target of (from, event), or -1 when forbidden. */
static int expected_transition(enum job_status from, enum job_event event)
{
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        if (allowed[i].from == from && allowed[i].event == event)
            return (int)allowed[i].to;
    }
    return -1;
}

static void test_every_pair(void **state)
{
    (void)state;
    size_t allowed_seen = 0;
    for (int from = 0; from < JOB_STATUS_COUNT; from++) {
        for (int event = 0; event < JOB_EVENT_COUNT; event++) {
            enum job_status to = JOB_STATUS_COUNT;
            int rc = job_transition((enum job_status)from, (enum job_event)event, &to);
            int expected = expected_transition((enum job_status)from, (enum job_event)event);
            if (expected < 0 && rc != IQ_E_CONFLICT)
                fail_msg("%s + %s should be a conflict, got rc %d", job_status_name(from),
                         job_event_name(event), rc);
            if (expected < 0) {
                assert_int_equal(to, JOB_STATUS_COUNT); /* untouched */
                continue;
            }
            if (rc != 0 || (int)to != expected)
                fail_msg("%s + %s should give %s, got rc %d to %s", job_status_name(from),
                         job_event_name(event), job_status_name(expected), rc,
                         job_status_name(to));
            allowed_seen++;
        }
    }
    assert_int_equal(allowed_seen, sizeof(allowed) / sizeof(allowed[0]));
}

static void test_final_statuses(void **state)
{
    (void)state;
    enum job_status to;
    for (int event = 0; event < JOB_EVENT_COUNT; event++)
        assert_int_equal(job_transition(JOB_COMPLETED, (enum job_event)event, &to), IQ_E_CONFLICT);
    assert_int_equal(job_transition(JOB_FAILED, JOB_EVENT_CANCEL, &to), IQ_E_CONFLICT);
    assert_int_equal(job_transition(JOB_CANCELLED, JOB_EVENT_CANCEL, &to), IQ_E_CONFLICT);
}

static void test_out_of_range(void **state)
{
    (void)state;
    enum job_status to;
    assert_int_equal(job_transition(JOB_STATUS_COUNT, JOB_EVENT_CANCEL, &to), IQ_E_CONFLICT);
    assert_int_equal(job_transition(JOB_QUEUED, JOB_EVENT_COUNT, &to), IQ_E_CONFLICT);
    assert_int_equal(job_transition((enum job_status)-1, JOB_EVENT_CANCEL, &to), IQ_E_CONFLICT);
    assert_string_equal(job_status_name(JOB_STATUS_COUNT), "UNKNOWN");
    assert_string_equal(job_event_name(JOB_EVENT_COUNT), "UNKNOWN");
}

static void test_status_names(void **state)
{
    (void)state;
    static const char *const names[] = {"HELD", "QUEUED", "RUNNING", "COMPLETED", "FAILED",
                                        "CANCELLED"};
    assert_int_equal(sizeof(names) / sizeof(names[0]), JOB_STATUS_COUNT);
    for (int i = 0; i < JOB_STATUS_COUNT; i++) {
        enum job_status status = JOB_STATUS_COUNT;
        assert_string_equal(job_status_name((enum job_status)i), names[i]);
        assert_int_equal(job_status_parse(job_status_name((enum job_status)i), &status), 0);
        assert_int_equal(status, i);
    }
    enum job_status status;
    /* case does not matter (a user's `--status failed`); the whole name must */
    assert_int_equal(job_status_parse("queued", &status), 0);
    assert_int_equal(status, JOB_QUEUED);
    assert_int_equal(job_status_parse("Failed", &status), 0);
    assert_int_equal(status, JOB_FAILED);
    assert_int_equal(job_status_parse("QUEUE", &status), IQ_E_INVALID);
    assert_int_equal(job_status_parse("QUEUEDX", &status), IQ_E_INVALID);
    assert_int_equal(job_status_parse("", &status), IQ_E_INVALID);
    assert_int_equal(job_status_parse("UNKNOWN", &status), IQ_E_INVALID);
    assert_int_equal(job_status_parse(NULL, &status), IQ_E_INVALID);
    assert_false(job_status_is_final(JOB_HELD));
    assert_false(job_status_is_final(JOB_QUEUED));
    assert_false(job_status_is_final(JOB_RUNNING));
    assert_true(job_status_is_final(JOB_COMPLETED));
    assert_true(job_status_is_final(JOB_FAILED));
    assert_true(job_status_is_final(JOB_CANCELLED));
    assert_string_equal(job_event_name(JOB_EVENT_DEPENDENCY_FAILED), "DEPENDENCY_FAILED");
}

static void test_lock_modes(void **state)
{
    (void)state;
    enum lock_mode mode;
    assert_int_equal(lock_mode_parse("exclusive", &mode), 0);
    assert_int_equal(mode, LOCK_EXCLUSIVE);
    assert_int_equal(lock_mode_parse("shared", &mode), 0);
    assert_int_equal(mode, LOCK_SHARED);
    assert_int_equal(lock_mode_parse("Shared", &mode), IQ_E_INVALID);
    assert_int_equal(lock_mode_parse(NULL, &mode), IQ_E_INVALID);
    assert_string_equal(lock_mode_name(LOCK_EXCLUSIVE), "exclusive");
    assert_string_equal(lock_mode_name(LOCK_SHARED), "shared");
}

/* The keys of the CONTRACT §3 job resource. */
static const char *const job_keys[] = {
    "id",           "request_id", "name",      "status",     "priority",    "depends_on",
    "orchestration_id", "schedule_id", "scheduled_at", "attempt", "max_attempts", "timeout_s",
    "resources",    "source",     "target",    "on_error",   "cancel_requested", "worker",
    "progress",     "result",     "error",     "created_by", "created_at", "updated_at",
    "started_at",   "finished_at",
};

static void assert_has_keys(const json_t *object, const char *const *keys, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (!json_object_get(object, keys[i]))
            fail_msg("missing key \"%s\"", keys[i]);
    }
}

static void test_fresh_job_json(void **state)
{
    (void)state;
    struct job *job = job_new();
    assert_non_null(job);
    assert_string_equal(job->name, "");
    assert_true(json_is_array(job->attempts));
    uuid7_generate(job->id);
    json_t *out = job_to_json(job);
    assert_non_null(out);
    assert_has_keys(out, job_keys, sizeof(job_keys) / sizeof(job_keys[0]));
    static const char *const progress_keys[] = {"phase", "rows_read", "bytes_read", "bytes_total",
                                                "percent"};
    static const char *const result_keys[] = {"rows_read", "rows_inserted", "rows_updated",
                                              "rows_rejected"};
    assert_has_keys(json_object_get(out, "progress"), progress_keys, 5);
    assert_has_keys(json_object_get(out, "result"), result_keys, 4);
    assert_string_equal(json_string_value(json_object_get(out, "id")), job->id);
    assert_string_equal(json_string_value(json_object_get(out, "status")), "HELD");
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "progress"), "phase")),
                        "queued");
    static const char *const null_keys[] = {"request_id", "orchestration_id", "schedule_id",
                                            "scheduled_at", "worker", "error", "started_at",
                                            "finished_at"};
    for (size_t i = 0; i < sizeof(null_keys) / sizeof(null_keys[0]); i++)
        assert_true(json_is_null(json_object_get(out, null_keys[i])));
    assert_true(json_is_false(json_object_get(out, "cancel_requested")));
    assert_true(json_is_array(json_object_get(out, "depends_on")));
    assert_true(json_is_array(json_object_get(out, "resources")));
    assert_true(json_is_object(json_object_get(out, "source")));
    json_decref(out);
    job_free(job);
}

static void test_filled_job_json(void **state)
{
    (void)state;
    struct job *job = job_new();
    uuid7_generate(job->id);
    job->request_id = strdup("key-1");
    free(job->name);
    job->name = strdup("users nightly");
    job->status = JOB_RUNNING;
    job->priority = 2;
    job->depends_on = calloc(1, sizeof(char *));
    job->depends_on[0] = strdup("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    job->depends_on_count = 1;
    job->scheduled_at_ms = 1700000000000;
    job->attempt = 1;
    job->max_attempts = 3;
    job->timeout_s = 1800;
    job->resources = calloc(1, sizeof(*job->resources));
    job->resources[0].name = strdup("table:users");
    job->resources[0].mode = LOCK_EXCLUSIVE;
    job->resource_count = 1;
    job->source = json_pack("{s:s}", "format", "csv");
    job->target = json_pack("{s:s}", "table", "users");
    job->on_error = json_pack("{s:s}", "action", "abort");
    job->worker = strdup("node-1");
    snprintf(job->progress.phase, sizeof(job->progress.phase), "%s", "stage");
    job->progress.bytes_read = 50;
    job->progress.bytes_total = 200;
    job->created_by = strdup("ops");
    job->created_at_ms = 1700000000000;
    job->started_at_ms = 1700000001000;

    json_t *out = job_to_json(job);
    assert_non_null(out);
    assert_has_keys(out, job_keys, sizeof(job_keys) / sizeof(job_keys[0]));
    assert_string_equal(json_string_value(json_object_get(out, "status")), "RUNNING");
    assert_string_equal(json_string_value(json_object_get(out, "request_id")), "key-1");
    assert_string_equal(json_string_value(json_object_get(out, "scheduled_at")),
                        "2023-11-14T22:13:20.000Z");
    assert_string_equal(json_string_value(json_object_get(out, "worker")), "node-1");
    json_t *resource = json_array_get(json_object_get(out, "resources"), 0);
    assert_string_equal(json_string_value(json_object_get(resource, "mode")), "exclusive");
    json_t *progress = json_object_get(out, "progress");
    assert_true(json_real_value(json_object_get(progress, "percent")) == 25.0);
    assert_string_equal(json_string_value(json_object_get(progress, "phase")), "stage");
    json_decref(out);
    job_free(job);
    job_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair),
        cmocka_unit_test(test_final_statuses),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_lock_modes),
        cmocka_unit_test(test_fresh_job_json),
        cmocka_unit_test(test_filled_job_json),
    };
    return cmocka_run_group_tests_name("job_state", tests, NULL, NULL);
}
