/*
 * test_job_rules.c - the job rules (src/store/common/job_rules.c) as
 * each backend carries them out: one table says, for every status, what
 * execute, cancel and update do (the status afterwards, or IQ_E_CONFLICT
 * and its message), and every row runs on both backends, so a backend
 * that drifts from the rules fails here. Also the rules' edges: execute
 * refused while a dependency failed, update onto an unknown dependency
 * or a cycle, and dependants a COMPLETED job releases (their updated_at
 * moves on both backends).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE(state) (((struct fixture *)*(state))->store)
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

#define NODE_ID "01900000-0000-7000-8000-000000000001"
#define WORKER "rules-worker"

enum operation { OP_EXECUTE, OP_CANCEL, OP_UPDATE };

static const char *const operation_names[] = {"execute", "cancel", "update"};

/* One row of the rules: operation on a job in `from`. */
struct rule_case {
    enum job_status from;
    enum operation op;
    int want_rc;              /* 0 or IQ_E_CONFLICT */
    enum job_status want;     /* the status afterwards, when want_rc is 0 */
    bool want_cancel_requested;
    const char *want_message; /* the conflict's message, when want_rc is not 0 */
};

#define EXECUTE_REFUSED(status)                                                                    \
    "job is " status ": only HELD, QUEUED, FAILED or CANCELLED jobs can be executed"
#define UPDATE_REFUSED(status) "job is " status ": only HELD or QUEUED jobs can be updated"

static const struct rule_case rules[] = {
    {JOB_HELD, OP_EXECUTE, 0, JOB_QUEUED, false, NULL},
    {JOB_QUEUED, OP_EXECUTE, 0, JOB_QUEUED, false, NULL},
    {JOB_RUNNING, OP_EXECUTE, IQ_E_CONFLICT, 0, false, EXECUTE_REFUSED("RUNNING")},
    {JOB_COMPLETED, OP_EXECUTE, IQ_E_CONFLICT, 0, false, EXECUTE_REFUSED("COMPLETED")},
    {JOB_FAILED, OP_EXECUTE, 0, JOB_QUEUED, false, NULL},
    {JOB_CANCELLED, OP_EXECUTE, 0, JOB_QUEUED, false, NULL},

    {JOB_HELD, OP_CANCEL, 0, JOB_CANCELLED, false, NULL},
    {JOB_QUEUED, OP_CANCEL, 0, JOB_CANCELLED, false, NULL},
    {JOB_RUNNING, OP_CANCEL, 0, JOB_RUNNING, true, NULL},
    {JOB_COMPLETED, OP_CANCEL, IQ_E_CONFLICT, 0, false, "job is already COMPLETED"},
    {JOB_FAILED, OP_CANCEL, IQ_E_CONFLICT, 0, false, "job is already FAILED"},
    {JOB_CANCELLED, OP_CANCEL, IQ_E_CONFLICT, 0, false, "job is already CANCELLED"},

    {JOB_HELD, OP_UPDATE, 0, JOB_HELD, false, NULL},
    {JOB_QUEUED, OP_UPDATE, 0, JOB_QUEUED, false, NULL},
    {JOB_RUNNING, OP_UPDATE, IQ_E_CONFLICT, 0, false, UPDATE_REFUSED("RUNNING")},
    {JOB_COMPLETED, OP_UPDATE, IQ_E_CONFLICT, 0, false, UPDATE_REFUSED("COMPLETED")},
    {JOB_FAILED, OP_UPDATE, IQ_E_CONFLICT, 0, false, UPDATE_REFUSED("FAILED")},
    {JOB_CANCELLED, OP_UPDATE, IQ_E_CONFLICT, 0, false, UPDATE_REFUSED("CANCELLED")},
};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* create_job - a job on table with extra spec fields (NULL: none); its id in id. */
static void create_job(void **state, const char *table, const char *extra, char id[UUID_STR_LEN])
{
    struct job_spec *spec = spec_simple(table, 5, extra);
    struct job_create_request req = {.spec = spec};
    struct job *job = NULL;
    struct iq_error err = {0};
    if (store_job_create(STORE(state), &req, &test_actor, &job, NULL, &err) < 0)
        fail_msg("create on %s: %s", table, iq_error_message(&err));
    memcpy(id, job->id, UUID_STR_LEN);
    job_free(job);
    job_spec_free(spec);
}

static struct job *get_job(void **state, const char *id)
{
    struct job *job = NULL;
    struct iq_error err = {0};
    if (store_job_get(STORE(state), id, &job, &err) < 0)
        fail_msg("get %s: %s", id, iq_error_message(&err));
    return job;
}

/* claim_job - claim, which must start job id (the only QUEUED job). Caller frees. */
static struct job *claim_job(void **state, const char *id)
{
    struct claim_request req = {
        .node_id = NODE_ID, .worker = WORKER, .max_concurrent = 100, .lease_ms = 60000};
    struct job *job = NULL;
    struct iq_error err = {0};
    if (store_job_claim(STORE(state), &req, &test_actor, &job, &err) < 0)
        fail_msg("claim: %s", iq_error_message(&err));
    if (!job)
        fail_msg("claimed nothing, want %s", id);
    assert_string_equal(job->id, id);
    return job;
}

/* finish_job - end running job's attempt with status, for good. */
static void finish_job(void **state, const struct job *job, enum job_status status)
{
    struct job_finish finish = {.job_id = job->id,
                                .worker = job->worker,
                                .attempt = job->attempt,
                                .status = status,
                                .error_code = status == JOB_COMPLETED ? NULL : "import_failed",
                                .error_message = status == JOB_COMPLETED ? NULL : "it broke",
                                .node_id = NODE_ID};
    struct iq_error err = {0};
    if (store_job_finish(STORE(state), &finish, &test_actor, NULL, &err) < 0)
        fail_msg("finish %s: %s", job->id, iq_error_message(&err));
}

static void cancel_ok(void **state, const char *id)
{
    struct job *job = NULL;
    struct iq_error err = {0};
    if (store_job_cancel(STORE(state), id, &test_actor, &job, &err) < 0)
        fail_msg("cancel %s: %s", id, iq_error_message(&err));
    job_free(job);
}

/* job_in - a new job on table in status `status`; its id in id. */
static void job_in(void **state, enum job_status status, const char *table, char id[UUID_STR_LEN])
{
    create_job(state, table, status == JOB_HELD ? "\"hold\": true" : NULL, id);
    if (status == JOB_CANCELLED)
        cancel_ok(state, id);
    if (status != JOB_RUNNING && status != JOB_COMPLETED && status != JOB_FAILED)
        return;
    struct job *running = claim_job(state, id);
    if (status != JOB_RUNNING)
        finish_job(state, running, status);
    job_free(running);
}

/* put_away - end job id whatever its status, so the next case's claim finds only its own. */
static void put_away(void **state, const char *id)
{
    struct job *job = get_job(state, id);
    if (job->status == JOB_HELD || job->status == JOB_QUEUED)
        cancel_ok(state, id);
    else if (job->status == JOB_RUNNING)
        finish_job(state, job, JOB_CANCELLED);
    job_free(job);
}

/* run_operation - op on job id; the store's code, the job afterwards in *ret_job. */
static int run_operation(void **state, enum operation op, const char *id, struct job **ret_job,
                         struct iq_error *err)
{
    *ret_job = NULL;
    switch (op) {
    case OP_EXECUTE:
        return store_job_execute(STORE(state), id, &test_actor, ret_job, err);
    case OP_CANCEL:
        return store_job_cancel(STORE(state), id, &test_actor, ret_job, err);
    case OP_UPDATE: {
        struct job_spec *spec = spec_simple("rules_updated", 3, NULL);
        int rc = store_job_update(STORE(state), id, spec, &test_actor, ret_job, err);
        job_spec_free(spec);
        return rc;
    }
    }
    return IQ_E_INTERNAL;
}

/* ------------------------------------------------------------------ */
/* The table                                                           */
/* ------------------------------------------------------------------ */

/* check_case - one row of rules on a fresh job; the job is put away afterwards. */
static void check_case(void **state, const struct rule_case *c)
{
    char id[UUID_STR_LEN];
    job_in(state, c->from, "rules_t", id);
    struct job *before = get_job(state, id);
    assert_int_equal(before->status, c->from);
    struct job *after = NULL;
    struct iq_error err = {0};
    int rc = run_operation(state, c->op, id, &after, &err);
    if (rc != c->want_rc)
        fail_msg("%s on %s: rc %d (%s), want %d", operation_names[c->op],
                 job_status_name(c->from), rc, iq_error_message(&err), c->want_rc);
    if (rc < 0) {
        assert_null(after);
        assert_string_equal(iq_error_message(&err), c->want_message);
        struct job *unchanged = get_job(state, id);
        assert_int_equal(unchanged->status, c->from);
        assert_int_equal(unchanged->updated_at_ms, before->updated_at_ms);
        job_free(unchanged);
    } else {
        if (after->status != c->want)
            fail_msg("%s on %s gave %s, want %s", operation_names[c->op],
                     job_status_name(c->from), job_status_name(after->status),
                     job_status_name(c->want));
        assert_int_equal(after->cancel_requested, c->want_cancel_requested);
        assert_true(after->updated_at_ms > before->updated_at_ms);
    }
    iq_error_clear(&err);
    job_free(before);
    job_free(after);
    put_away(state, id);
}

static void test_rules_for_every_status(void **state)
{
    for (size_t i = 0; i < COUNT_OF(rules); i++)
        check_case(state, &rules[i]);
}

/* The table covers every (status, operation) pair exactly once. */
static void test_rules_table_is_complete(void **state)
{
    (void)state;
    for (int status = 0; status < JOB_STATUS_COUNT; status++) {
        for (enum operation op = OP_EXECUTE; op <= OP_UPDATE; op++) {
            int seen = 0;
            for (size_t i = 0; i < COUNT_OF(rules); i++)
                seen += rules[i].from == (enum job_status)status && rules[i].op == op;
            if (seen != 1)
                fail_msg("%s on %s appears %d times", operation_names[op],
                         job_status_name(status), seen);
        }
    }
}

/* ------------------------------------------------------------------ */
/* The edges of the rules                                              */
/* ------------------------------------------------------------------ */

/* A cancel already requested is not requested again: nothing written, nothing audited. */
static void test_cancel_twice_on_running_writes_once(void **state)
{
    char id[UUID_STR_LEN];
    job_in(state, JOB_RUNNING, "rules_t", id);
    cancel_ok(state, id);
    struct job *first = get_job(state, id);
    cancel_ok(state, id);
    struct job *second = get_job(state, id);
    assert_true(second->cancel_requested);
    assert_int_equal(second->updated_at_ms, first->updated_at_ms);
    assert_int_equal(fixture_int_fmt((struct fixture *)*state,
                                     "SELECT count(*) FROM stg_import_audit"
                                     " WHERE action = 'job.cancel_requested' AND entity_id = '%s'",
                                     id),
                     1);
    job_free(first);
    job_free(second);
}

/* Executing a FAILED job is refused while one of its dependencies is FAILED. */
static void test_execute_refused_while_dependency_failed(void **state)
{
    char dep[UUID_STR_LEN], job[UUID_STR_LEN], extra[128];
    create_job(state, "rules_dep", "\"hold\": true", dep);
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"]", dep);
    create_job(state, "rules_t", extra, job);
    cancel_ok(state, dep); /* job fails with dependency_failed */
    struct job *failed = get_job(state, job);
    assert_int_equal(failed->status, JOB_FAILED);
    char want[200];
    snprintf(want, sizeof(want), "dependency %s is CANCELLED", dep);
    assert_string_equal(json_string_value(json_object_get(failed->error, "message")), want);
    job_free(failed);

    struct job *after = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_job_execute(STORE(state), job, &test_actor, &after, &err),
                     IQ_E_CONFLICT);
    snprintf(want, sizeof(want),
             "dependency %s is CANCELLED: execute it first, or update the job's depends_on", dep);
    assert_string_equal(iq_error_message(&err), want);
    assert_null(after);
    iq_error_clear(&err);

    /* executed first, the dependency lets the job run again, one dependency pending */
    assert_int_equal(store_job_execute(STORE(state), dep, &test_actor, &after, &err), 0);
    job_free(after);
    assert_int_equal(store_job_execute(STORE(state), job, &test_actor, &after, &err), 0);
    assert_int_equal(after->status, JOB_QUEUED);
    assert_int_equal(after->deps_pending, 1);
    assert_null(after->error);
    job_free(after);
}

/* update: an unknown dependency and a cycle are conflicts, with one message on both backends. */
static void test_update_dependency_conflicts(void **state)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN], extra[128], want[128];
    create_job(state, "rules_a", "\"hold\": true", a);
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"]", a);
    create_job(state, "rules_b", extra, b);

    static const char unknown[] = "01900000-0000-7000-8000-0000000000ff";
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"]", unknown);
    struct job_spec *spec = spec_simple("rules_a", 5, extra);
    struct job *after = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_job_update(STORE(state), a, spec, &test_actor, &after, &err),
                     IQ_E_CONFLICT);
    snprintf(want, sizeof(want), "unknown dependency %s", unknown);
    assert_string_equal(iq_error_message(&err), want);
    iq_error_clear(&err);
    job_spec_free(spec);

    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"]", b);
    spec = spec_simple("rules_a", 5, extra);
    assert_int_equal(store_job_update(STORE(state), a, spec, &test_actor, &after, &err),
                     IQ_E_CONFLICT);
    snprintf(want, sizeof(want), "dependency cycle through %s", b);
    assert_string_equal(iq_error_message(&err), want);
    iq_error_clear(&err);
    job_spec_free(spec);
    assert_null(after);
}

/*
 * A dependency that COMPLETES releases its waiting dependants, and that
 * is a change of theirs: updated_at moves on (on PostgreSQL it once did
 * not), and deps_pending drops.
 */
static void test_completed_dependency_bumps_dependants(void **state)
{
    char dep[UUID_STR_LEN], waiting[UUID_STR_LEN], extra[128];
    create_job(state, "rules_dep", NULL, dep);
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"], \"hold\": true", dep);
    create_job(state, "rules_t", extra, waiting);
    struct job *before = get_job(state, waiting);
    assert_int_equal(before->deps_pending, 1);

    struct job *running = claim_job(state, dep);
    finish_job(state, running, JOB_COMPLETED);
    job_free(running);

    struct job *after = get_job(state, waiting);
    assert_int_equal(after->status, JOB_HELD);
    assert_int_equal(after->deps_pending, 0);
    if (after->updated_at_ms <= before->updated_at_ms)
        fail_msg("a released dependant's updated_at stayed at %lld",
                 (long long)after->updated_at_ms);
    job_free(before);
    job_free(after);
}

/* A rescued attempt with none left fails the job for good, with one message on both backends. */
static void test_rescue_message_is_one(void **state)
{
    char id[UUID_STR_LEN];
    create_job(state, "rules_t", "\"max_attempts\": 1", id);
    struct job *running = claim_job(state, id);
    job_free(running);
    fixture_exec_fmt((struct fixture *)*state,
                     "UPDATE stg_import_queue SET heartbeat_at = '2000-01-01T00:00:00.000Z'"
                     " WHERE id = '%s'",
                     id);
    int rescued = 0;
    struct iq_error err = {0};
    assert_int_equal(store_jobs_rescue(STORE(state), 1000, NULL, NULL, &test_actor, &rescued, &err),
                     0);
    assert_int_equal(rescued, 1);
    struct job *job = get_job(state, id);
    assert_int_equal(job->status, JOB_FAILED);
    assert_string_equal(json_string_value(json_object_get(job->error, "code")), "worker_lost");
    assert_string_equal(json_string_value(json_object_get(job->error, "message")),
                        "worker " WORKER " stopped heartbeating (no heartbeat for more than"
                        " 1000 ms)");
    job_free(job);
}

/*
 * Executing a waiting job makes it runnable now without costing it its
 * place in line: an available_at already past stays; a future one (a
 * scheduled job) becomes now. On both backends, on the fake clock.
 */
static void test_execute_keeps_an_earlier_place_in_line(void **state)
{
    struct fixture *f = *state;
    fixture_use_fake_clock(f);
    int64_t start_ms = fake_clock_now(&f->clock);
    char early[UUID_STR_LEN], scheduled[UUID_STR_LEN];
    create_job(state, "rules_t", NULL, early);
    create_job(state, "rules_t", "\"scheduled_at\": \"2031-01-01T00:00:00Z\"", scheduled);
    fake_clock_advance(&f->clock, 3600 * 1000);

    struct iq_error err = {0};
    struct job *job = NULL;
    assert_int_equal(store_job_execute(STORE(state), early, &test_actor, &job, &err), 0);
    assert_int_equal(job->available_at_ms, start_ms);
    job_free(job);
    assert_int_equal(store_job_execute(STORE(state), scheduled, &test_actor, &job, &err), 0);
    assert_int_equal(job->available_at_ms, start_ms + 3600 * 1000);
    job_free(job);
}

/*
 * An attempt that fails with a message JSON cannot carry (not UTF-8: it
 * may quote raw input) still ends, its message kept in ASCII with '?' for
 * every byte outside it, on both backends (SQLite lost the finish to an
 * "out of memory" before the rule was one).
 */
static void test_failure_message_not_utf8_is_kept_in_ascii(void **state)
{
    char id[UUID_STR_LEN];
    create_job(state, "rules_t", "\"max_attempts\": 1", id);
    struct job *running = claim_job(state, id);
    struct job_finish finish = {.job_id = running->id,
                                .worker = running->worker,
                                .attempt = running->attempt,
                                .status = JOB_FAILED,
                                .error_code = "import_failed",
                                .error_message = "bad byte \xff in line 3",
                                .node_id = NODE_ID};
    struct iq_error err = {0};
    if (store_job_finish(STORE(state), &finish, &test_actor, NULL, &err) < 0)
        fail_msg("finish %s: %s", id, iq_error_message(&err));
    job_free(running);
    struct job *job = get_job(state, id);
    assert_int_equal(job->status, JOB_FAILED);
    assert_string_equal(json_string_value(json_object_get(job->error, "message")),
                        "bad byte ? in line 3");
    job_free(job);
}

static const struct CMUnitTest rules_tests[] = {
    cmocka_unit_test_setup_teardown(test_rules_table_is_complete, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_rules_for_every_status, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_cancel_twice_on_running_writes_once, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_execute_refused_while_dependency_failed, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_update_dependency_conflicts, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_completed_dependency_bumps_dependants, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_rescue_message_is_one, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_execute_keeps_an_earlier_place_in_line, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_failure_message_not_utf8_is_kept_in_ascii, fixture_setup,
                                    fixture_teardown),
};

int main(void)
{
    return fixture_run_backends("job_rules", "job rules tests", rules_tests, COUNT_OF(rules_tests));
}
