/*
 * test_orchestration_store.c - orchestrations, job phase timings and
 * uploads linked to jobs in the store (store.h: orchestration_create,
 * _get, _list, job_phases, job_get_detail, job_list_summary; job_create/job_update with source.upload), one
 * test code for both backends like test_engine_store.c: a chain and a
 * fan-out/fan-in created atomically and run in dependency order through
 * the real claim and finish; every invalid request (duplicate or unknown
 * key, cycle, request_id inside, unknown dependency or upload, full queue)
 * leaves no row; the stored aggregate status through claims, finishes,
 * retries, cascades, cancels and execute; list paging; phase timings;
 * upload links; the NOTIFY of a creation (PostgreSQL).
 *
 * IMPORTQ_TEST_ONLY=postgres (or =sqlite) runs one backend's group only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/store_fixture.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE(state) (((struct fixture *)*(state))->store)
#define FIX(state) ((struct fixture *)*(state))
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

#define NODE_ID "01900000-0000-7000-8000-000000000001"
#define UPLOAD_A "01900000-0000-7000-8000-00000000000a"
#define UPLOAD_B "01900000-0000-7000-8000-00000000000b"
#define UNKNOWN_ID "01900000-0000-7000-8000-0000000000ff"
#define MAX_JOBS 8

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/*
 * An orchestration request written as "key:table:after1,after2" strings;
 * each job's spec is spec_simple(table) plus extras[i] (may be NULL).
 */
struct built {
    struct orchestration_request req;
    struct orchestration_job_request jobs[MAX_JOBS];
    struct job_spec *specs[MAX_JOBS];
    const char *after[MAX_JOBS][MAX_JOBS];
    char text[MAX_JOBS][128];
};

static void build(struct built *b, const char *name, const char *const *jobs, size_t count,
                  const char *const *extras)
{
    memset(b, 0, sizeof(*b));
    assert_true(count <= MAX_JOBS);
    for (size_t i = 0; i < count; i++) {
        snprintf(b->text[i], sizeof(b->text[i]), "%s", jobs[i]);
        char *table = strchr(b->text[i], ':');
        assert_non_null(table);
        *table++ = '\0';
        char *after = strchr(table, ':');
        if (after)
            *after++ = '\0';
        b->jobs[i].key = b->text[i];
        b->jobs[i].after = b->after[i];
        for (char *tok = after ? strtok(after, ",") : NULL; tok; tok = strtok(NULL, ","))
            b->after[i][b->jobs[i].after_count++] = tok;
        b->specs[i] = spec_simple(table, 5, extras ? extras[i] : NULL);
        b->jobs[i].spec = b->specs[i];
    }
    b->req = (struct orchestration_request){.name = name, .jobs = b->jobs, .job_count = count};
}

/* replace_spec - job i reads spec_json instead. */
static void replace_spec(struct built *b, size_t i, const char *spec_json)
{
    job_spec_free(b->specs[i]);
    b->specs[i] = spec_from_json(spec_json);
    b->jobs[i].spec = b->specs[i];
}

static void built_free(struct built *b)
{
    for (size_t i = 0; i < MAX_JOBS; i++)
        job_spec_free(b->specs[i]);
}

/* create_ok - create b's orchestration or fail the test. */
static void create_ok(void **state, struct built *b, struct orchestration *ret)
{
    struct iq_error err = {0};
    if (store_orchestration_create(STORE(state), &b->req, &test_actor, ret, &err) < 0)
        fail_msg("create orchestration: %s", iq_error_message(&err));
    iq_error_clear(&err);
}

/* key_job - the job of orch with key. */
static const struct job *key_job(const struct orchestration *orch, const char *key)
{
    for (size_t i = 0; i < orch->job_count; i++)
        if (strcmp(orch->keys[i], key) == 0)
            return orch->jobs[i];
    fail_msg("orchestration %s has no job %s", orch->id, key);
    return NULL;
}

/* stored_status - the aggregate status as stored now (orchestration_get). */
static void assert_status(void **state, const char *orch_id, const char *want)
{
    struct orchestration orch = {0};
    struct iq_error err = {0};
    if (store_orchestration_get(STORE(state), orch_id, &orch, &err) < 0)
        fail_msg("get orchestration: %s", iq_error_message(&err));
    if (strcmp(orch.status, want) != 0)
        fail_msg("orchestration status %s, want %s", orch.status, want);
    orchestration_clear(&orch);
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

/* claim_expect - claim one job; want_id NULL: nothing may start. Returns the job (free it). */
static struct job *claim_expect(void **state, const char *want_id)
{
    struct claim_request req = {.node_id = NODE_ID,
                                .worker = "w1",
                                .max_concurrent = 10,
                                .lease_ms = 60000};
    struct job *job = NULL;
    struct iq_error err = {0};
    if (store_job_claim(STORE(state), &req, &test_actor, &job, &err) < 0)
        fail_msg("claim: %s", iq_error_message(&err));
    if (!want_id) {
        if (job)
            fail_msg("claimed %s (%s), want nothing", job->id, job->name);
        return NULL;
    }
    if (!job)
        fail_msg("claimed nothing, want %s", want_id);
    assert_string_equal(job->id, want_id);
    return job;
}

/* finish - end job's attempt with status (FAILED: retry at retry_at_ms when > 0). */
static void finish(void **state, const struct job *job, enum job_status status, int64_t retry_at_ms,
                   const struct phase_timing *phases, size_t phase_count)
{
    struct job_finish fin = {.job_id = job->id,
                             .worker = job->worker,
                             .attempt = job->attempt,
                             .status = status,
                             .error_code = status == JOB_COMPLETED ? NULL : "import_failed",
                             .error_message = status == JOB_COMPLETED ? NULL : "it broke",
                             .retry_at_ms = retry_at_ms,
                             .phases = phases,
                             .phase_count = phase_count,
                             .node_id = NODE_ID};
    struct iq_error err = {0};
    if (store_job_finish(STORE(state), &fin, &test_actor, NULL, &err) < 0)
        fail_msg("finish %s: %s", job->id, iq_error_message(&err));
}

/* run - claim want_id and end it with status. */
static void run(void **state, const char *want_id, enum job_status status)
{
    struct job *job = claim_expect(state, want_id);
    finish(state, job, status, 0, NULL, 0);
    job_free(job);
}

static const char *error_code(const struct job *job)
{
    return job->error ? json_string_value(json_object_get(job->error, "code")) : NULL;
}

static bool depends_on(const struct job *job, const char *dep_id)
{
    for (size_t i = 0; i < job->depends_on_count; i++)
        if (strcmp(job->depends_on[i], dep_id) == 0)
            return true;
    return false;
}

/* rows - stg_import_queue and orchestration rows, and audit rows, in one number each. */
struct row_counts {
    int64_t jobs, orchestrations, audit;
};

static struct row_counts count_rows(void **state)
{
    return (struct row_counts){
        .jobs = fixture_sql_int(FIX(state), "SELECT count(*) FROM stg_import_queue"),
        .orchestrations = fixture_sql_int(FIX(state), "SELECT count(*) FROM stg_import_coordination"
                                                      " WHERE kind = 'orchestration'"),
        .audit = fixture_sql_int(FIX(state), "SELECT count(*) FROM stg_import_audit"),
    };
}

static void insert_upload(void **state, const char *id)
{
    fixture_exec_fmt(FIX(state),
             "INSERT INTO importq_uploads (id, bytes, sha256, path, created_by, created_at)"
             " VALUES ('%s', 3, '%064d', 'var/uploads/%s', 'test-suite',"
             " '2026-01-01T00:00:00.000Z')",
             id, 0, id);
}

static int64_t upload_linked_to(void **state, const char *upload_id, const char *job_id)
{
    return fixture_int_fmt(FIX(state),
                       "SELECT count(*) FROM importq_uploads WHERE id = '%s' AND job_id = '%s'",
                       upload_id, job_id);
}

/* find_field - the message of field error `field` in err, or NULL. */
static const char *find_field(const struct iq_error *err, const char *field)
{
    for (size_t i = 0; i < err->field_count; i++)
        if (strcmp(err->fields[i].field, field) == 0)
            return err->fields[i].message;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Creating and running                                                */
/* ------------------------------------------------------------------ */

static void test_chain_created_atomically_and_run_in_order(void **state)
{
    static const char *const jobs[] = {"teams:teams", "users:users:teams", "steps:steps:users"};
    struct built b;
    build(&b, "nightly", jobs, COUNT_OF(jobs), NULL);
    struct row_counts before = count_rows(state);
    struct orchestration orch = {0};
    create_ok(state, &b, &orch);

    assert_string_equal(orch.name, "nightly");
    assert_string_equal(orch.status, "QUEUED");
    assert_string_equal(orch.created_by, "test-suite");
    assert_true(orch.created_at_ms > 0);
    assert_int_equal(orch.job_count, 3);
    static const char *const keys[] = {"teams", "users", "steps"};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(orch.keys[i], keys[i]); /* request order */
        assert_string_equal(orch.jobs[i]->orchestration_id, orch.id);
        assert_int_equal(orch.jobs[i]->status, JOB_QUEUED);
        assert_string_equal(orch.jobs[i]->created_by, "test-suite");
    }
    const struct job *teams = key_job(&orch, "teams"), *users = key_job(&orch, "users"),
                     *steps = key_job(&orch, "steps");
    assert_int_equal(teams->depends_on_count, 0);
    assert_int_equal(users->depends_on_count, 1);
    assert_true(depends_on(users, teams->id));
    assert_int_equal(steps->depends_on_count, 1);
    assert_true(depends_on(steps, users->id));
    assert_int_equal(users->deps_pending, 1);

    struct row_counts after = count_rows(state);
    assert_int_equal(after.jobs - before.jobs, 3);
    assert_int_equal(after.orchestrations - before.orchestrations, 1);
    assert_int_equal(after.audit - before.audit, 4);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                 "SELECT count(*) FROM stg_import_audit WHERE action ="
                                 " 'orchestration.create' AND entity = 'orchestration'"
                                 " AND entity_id = '%s' AND actor = 'test-suite'",
                                 orch.id),
                     1);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                 "SELECT count(*) FROM stg_import_audit WHERE action ="
                                 " 'job.create' AND entity_id IN ('%s', '%s', '%s')",
                                 teams->id, users->id, steps->id),
                     3);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                 "SELECT count(*) FROM stg_import_coordination WHERE id = '%s'"
                                 " AND detail IS NOT NULL",
                                 orch.id),
                     1);

    /* The dependencies hold: one job at a time, in chain order. */
    struct job *running = claim_expect(state, teams->id);
    claim_expect(state, NULL);
    assert_status(state, orch.id, "RUNNING");
    finish(state, running, JOB_COMPLETED, 0, NULL, 0);
    job_free(running);
    assert_status(state, orch.id, "RUNNING");
    running = claim_expect(state, users->id);
    claim_expect(state, NULL);
    finish(state, running, JOB_COMPLETED, 0, NULL, 0);
    job_free(running);
    run(state, steps->id, JOB_COMPLETED);
    claim_expect(state, NULL);
    assert_status(state, orch.id, "COMPLETED");

    orchestration_clear(&orch);
    built_free(&b);
}

static void test_fan_out_and_fan_in(void **state)
{
    /* Listed out of order on purpose: report waits for both branches. */
    static const char *const jobs[] = {"report:report:users,steps", "users:users:teams",
                                       "steps:steps:teams", "teams:teams"};
    struct built b;
    build(&b, "fan", jobs, COUNT_OF(jobs), NULL);
    struct orchestration orch = {0};
    create_ok(state, &b, &orch);
    const struct job *teams = key_job(&orch, "teams"), *users = key_job(&orch, "users"),
                     *steps = key_job(&orch, "steps"), *report = key_job(&orch, "report");
    assert_string_equal(orch.keys[0], "report");
    assert_int_equal(report->deps_pending, 2);

    run(state, teams->id, JOB_COMPLETED);
    /* Fan-out: both branches runnable at once (FIFO by id: users was listed first). */
    struct job *first = claim_expect(state, users->id);
    struct job *second = claim_expect(state, steps->id);
    claim_expect(state, NULL);
    finish(state, first, JOB_COMPLETED, 0, NULL, 0);
    claim_expect(state, NULL); /* fan-in: report still waits for steps */
    struct job *waiting = get_job(state, report->id);
    assert_int_equal(waiting->deps_pending, 1);
    job_free(waiting);
    finish(state, second, JOB_COMPLETED, 0, NULL, 0);
    run(state, report->id, JOB_COMPLETED);
    assert_status(state, orch.id, "COMPLETED");

    job_free(first);
    job_free(second);
    orchestration_clear(&orch);
    built_free(&b);
}

static void test_depends_on_outside_the_set(void **state)
{
    struct job_spec *spec = spec_simple("teams", 5, NULL);
    struct job_create_request jreq = {.spec = spec};
    struct job *outside = NULL;
    bool existed;
    struct iq_error err = {0};
    assert_int_equal(store_job_create(STORE(state), &jreq, &test_actor, &outside, &existed, &err),
                     0);
    job_spec_free(spec);
    char extra[128];
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"]", outside->id);
    const char *const extras[] = {extra, NULL};
    static const char *const jobs[] = {"users:users", "steps:steps:users"};
    struct built b;
    build(&b, NULL, jobs, COUNT_OF(jobs), extras);
    struct orchestration orch = {0};
    create_ok(state, &b, &orch);
    assert_string_equal(orch.name, "");
    const struct job *users = key_job(&orch, "users");
    assert_int_equal(users->depends_on_count, 1);
    assert_true(depends_on(users, outside->id));
    run(state, outside->id, JOB_COMPLETED);
    run(state, users->id, JOB_COMPLETED);
    run(state, key_job(&orch, "steps")->id, JOB_COMPLETED);
    assert_status(state, orch.id, "COMPLETED");
    orchestration_clear(&orch);
    built_free(&b);
    job_free(outside);
}

/* One request that must fail as a whole. */
struct bad_case {
    const char *what;
    const char *jobs[4];
    const char *extras[4];
    const char *upload_spec; /* job 1's whole spec, when set */
    int want;
    const char *field; /* a field error that must be there */
    const char *message_has[3];
};

static void test_invalid_requests_leave_no_row(void **state)
{
    char unknown_dep[96];
    snprintf(unknown_dep, sizeof(unknown_dep), "\"depends_on\": [\"%s\"]", UNKNOWN_ID);
    const struct bad_case cases[] = {
        {"duplicate key", {"a:t_a", "a:t_b"}, {NULL}, NULL, IQ_E_INVALID, "jobs[1].key", {NULL}},
        {"unknown after key",
         {"a:t_a", "b:t_b:a,nope"},
         {NULL},
         NULL,
         IQ_E_INVALID,
         "jobs[1].after[1]",
         {NULL}},
        {"empty key", {":t_a"}, {NULL}, NULL, IQ_E_INVALID, "jobs[0].key", {NULL}},
        {"cycle",
         {"teams:t_a", "users:t_b:steps", "steps:t_c:users"},
         {NULL},
         NULL,
         IQ_E_CONFLICT,
         NULL,
         {"cycle", "users", "steps"}},
        {"request_id inside",
         {"a:t_a", "b:t_b:a"},
         {NULL, "\"request_id\": \"r-1\""},
         NULL,
         IQ_E_INVALID,
         "jobs[1].request_id",
         {NULL}},
        /* These two fail inside the transaction, after other rows were written. */
        {"unknown dependency",
         {"a:t_a", "b:t_b:a"},
         {NULL, unknown_dep},
         NULL,
         IQ_E_CONFLICT,
         NULL,
         {UNKNOWN_ID}},
        {"unknown upload",
         {"a:t_a", "b:t_b:a"},
         {NULL},
         "{\"source\": {\"format\": \"csv\", \"upload\": \"" UNKNOWN_ID "\"},"
         " \"target\": {\"table\": \"t_b\"}}",
         IQ_E_INVALID,
         "jobs[1].source.upload",
         {NULL}},
    };
    for (size_t c = 0; c < COUNT_OF(cases); c++) {
        const struct bad_case *bad = &cases[c];
        size_t count = 0;
        while (count < COUNT_OF(bad->jobs) && bad->jobs[count])
            count++;
        struct built b;
        build(&b, bad->what, bad->jobs, count, bad->extras);
        if (bad->upload_spec)
            replace_spec(&b, 1, bad->upload_spec);
        struct row_counts before = count_rows(state);
        struct orchestration orch = {0};
        struct iq_error err = {0};
        int rc = store_orchestration_create(STORE(state), &b.req, &test_actor, &orch, &err);
        if (rc != bad->want)
            fail_msg("%s: got %d (%s), want %d", bad->what, rc, iq_error_message(&err), bad->want);
        if (bad->field && !find_field(&err, bad->field))
            fail_msg("%s: no field error %s (%s)", bad->what, bad->field, iq_error_message(&err));
        for (size_t k = 0; k < COUNT_OF(bad->message_has) && bad->message_has[k]; k++)
            if (!strstr(iq_error_message(&err), bad->message_has[k]))
                fail_msg("%s: \"%s\" lacks %s", bad->what, iq_error_message(&err),
                         bad->message_has[k]);
        assert_int_equal(orch.job_count, 0);
        struct row_counts after = count_rows(state);
        if (after.jobs != before.jobs || after.orchestrations != before.orchestrations ||
            after.audit != before.audit)
            fail_msg("%s: rows left behind", bad->what);
        iq_error_clear(&err);
        built_free(&b);
    }
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM importq_job_deps"), 0);
}

static void test_queue_full_creates_nothing(void **state)
{
    static const char *const jobs[] = {"a:t_a", "b:t_b:a", "c:t_c:b"};
    struct built b;
    build(&b, "big", jobs, COUNT_OF(jobs), NULL);
    struct built small;
    static const char *const one[] = {"x:t_x"};
    build(&small, "small", one, 1, NULL);
    struct orchestration orch = {0};
    create_ok(state, &small, &orch); /* 1 waiting */
    orchestration_clear(&orch);

    struct row_counts before = count_rows(state);
    b.req.max_queue_size = 3; /* 1 + 3 > 3 */
    struct iq_error err = {0};
    assert_int_equal(store_orchestration_create(STORE(state), &b.req, &test_actor, &orch, &err),
                     IQ_E_QUEUE_FULL);
    assert_non_null(strstr(iq_error_message(&err), "queue is full"));
    iq_error_clear(&err);
    struct row_counts after = count_rows(state);
    assert_int_equal(after.jobs, before.jobs);
    assert_int_equal(after.orchestrations, before.orchestrations);
    assert_int_equal(after.audit, before.audit);

    b.req.max_queue_size = 4; /* exactly fits */
    create_ok(state, &b, &orch);
    assert_int_equal(orch.job_count, 3);
    orchestration_clear(&orch);
    built_free(&b);
    built_free(&small);
}

/* ------------------------------------------------------------------ */
/* The aggregate status                                                */
/* ------------------------------------------------------------------ */

static void test_status_failed_when_a_job_fails_for_good(void **state)
{
    static const char *const jobs[] = {"teams:teams", "users:users:teams", "solo:solo"};
    struct built b;
    build(&b, "doomed", jobs, COUNT_OF(jobs), NULL);
    struct orchestration orch = {0};
    create_ok(state, &b, &orch);
    const struct job *teams = key_job(&orch, "teams"), *users = key_job(&orch, "users"),
                     *solo = key_job(&orch, "solo");

    /* A failed attempt with attempts left: back to QUEUED, still RUNNING overall. */
    struct job *job = claim_expect(state, teams->id);
    finish(state, job, JOB_FAILED, orch.created_at_ms - 1000, NULL, 0); /* first in line again */
    job_free(job);
    assert_int_equal(status_of(state, teams->id), JOB_QUEUED);
    assert_status(state, orch.id, "RUNNING");

    /* Now for good: its dependant fails with it, solo still waits. */
    job = claim_expect(state, teams->id);
    finish(state, job, JOB_FAILED, 0, NULL, 0);
    job_free(job);
    struct job *dependant = get_job(state, users->id);
    assert_int_equal(dependant->status, JOB_FAILED);
    assert_string_equal(error_code(dependant), "dependency_failed");
    job_free(dependant);
    assert_status(state, orch.id, "RUNNING");
    run(state, solo->id, JOB_COMPLETED);
    assert_status(state, orch.id, "FAILED");

    /* Executing the failed job again makes the whole thing run again. */
    struct iq_error err = {0};
    assert_int_equal(store_job_execute(STORE(state), teams->id, &test_actor, &job, &err), 0);
    job_free(job);
    assert_status(state, orch.id, "RUNNING");
    orchestration_clear(&orch);
    built_free(&b);
}

static void test_status_cancelled_and_cancel_cascade(void **state)
{
    static const char *const jobs[] = {"x:t_x", "y:t_y"};
    struct built b;
    build(&b, "cancel me", jobs, COUNT_OF(jobs), NULL);
    struct orchestration orch = {0};
    create_ok(state, &b, &orch);
    struct job *job = NULL;
    struct iq_error err = {0};
    assert_int_equal(
        store_job_cancel(STORE(state), key_job(&orch, "x")->id, &test_actor, &job, &err), 0);
    job_free(job);
    assert_status(state, orch.id, "RUNNING"); /* one done, one waiting */
    /* y ends by its worker reporting a cancel. */
    job = claim_expect(state, key_job(&orch, "y")->id);
    finish(state, job, JOB_CANCELLED, 0, NULL, 0);
    job_free(job);
    assert_status(state, orch.id, "CANCELLED");
    orchestration_clear(&orch);
    built_free(&b);

    /* Cancelling the head of a chain fails its dependants: FAILED overall. */
    static const char *const chain[] = {"head:t_h", "tail:t_t:head"};
    build(&b, "chain", chain, COUNT_OF(chain), NULL);
    create_ok(state, &b, &orch);
    assert_int_equal(
        store_job_cancel(STORE(state), key_job(&orch, "head")->id, &test_actor, &job, &err), 0);
    job_free(job);
    assert_int_equal(status_of(state, key_job(&orch, "tail")->id), JOB_FAILED);
    assert_status(state, orch.id, "FAILED");
    orchestration_clear(&orch);
    built_free(&b);
}

static void test_status_after_update_onto_a_failed_dependency(void **state)
{
    struct job_spec *spec = spec_simple("outside", 5, NULL);
    struct job_create_request jreq = {.spec = spec};
    struct job *outside = NULL, *job = NULL;
    bool existed;
    struct iq_error err = {0};
    assert_int_equal(store_job_create(STORE(state), &jreq, &test_actor, &outside, &existed, &err),
                     0);
    job_spec_free(spec);
    assert_int_equal(store_job_cancel(STORE(state), outside->id, &test_actor, &job, &err), 0);
    job_free(job);
    static const char *const jobs[] = {"only:t_o"};
    struct built b;
    build(&b, "updated", jobs, COUNT_OF(jobs), NULL);
    struct orchestration orch = {0};
    create_ok(state, &b, &orch);
    char extra[128];
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"]", outside->id);
    spec = spec_simple("t_o", 5, extra);
    assert_int_equal(
        store_job_update(STORE(state), orch.jobs[0]->id, spec, &test_actor, &job, &err), 0);
    assert_int_equal(job->status, JOB_FAILED);
    assert_string_equal(error_code(job), "dependency_failed");
    assert_status(state, orch.id, "FAILED");
    job_free(job);
    job_spec_free(spec);
    job_free(outside);
    orchestration_clear(&orch);
    built_free(&b);
}

static void test_status_of_held_jobs_and_rescue(void **state)
{
    const char *const extras[] = {"\"hold\": true", NULL};
    static const char *const jobs[] = {"held:t_h", "free:t_f"};
    struct built b;
    build(&b, "held", jobs, COUNT_OF(jobs), extras);
    struct orchestration orch = {0};
    create_ok(state, &b, &orch);
    assert_int_equal(key_job(&orch, "held")->status, JOB_HELD);
    assert_string_equal(orch.status, "QUEUED");
    struct job *job = claim_expect(state, key_job(&orch, "free")->id);
    assert_status(state, orch.id, "RUNNING");
    /* Its worker is lost: rescued back to QUEUED after an attempt, still RUNNING. */
    fixture_exec_fmt(FIX(state),
             "UPDATE stg_import_queue SET heartbeat_at = '2020-01-01T00:00:00.000Z'"
             " WHERE id = '%s'",
             job->id);
    struct iq_error err = {0};
    int rescued = 0;
    assert_int_equal(
        store_jobs_rescue(STORE(state), 60000, NULL, NULL, &test_actor, &rescued, &err), 0);
    assert_int_equal(rescued, 1);
    assert_int_equal(status_of(state, job->id), JOB_QUEUED);
    assert_status(state, orch.id, "RUNNING");
    job_free(job);
    orchestration_clear(&orch);
    built_free(&b);
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

static void test_get_and_list_pages(void **state)
{
    char ids[5][UUID_STR_LEN];
    for (int i = 0; i < 5; i++) {
        char key[16], table[16], spec[2][64];
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(table, sizeof(table), "t_%d", i);
        snprintf(spec[0], sizeof(spec[0]), "%s:%s", key, table);
        snprintf(spec[1], sizeof(spec[1]), "second:%s_2:%s", table, key);
        const char *const jobs[] = {spec[0], spec[1]};
        struct built b;
        char name[16];
        snprintf(name, sizeof(name), "orch %d", i);
        build(&b, name, jobs, (size_t)(i % 2 ? 2 : 1), NULL);
        struct orchestration orch = {0};
        create_ok(state, &b, &orch);
        memcpy(ids[i], orch.id, UUID_STR_LEN);
        orchestration_clear(&orch);
        built_free(&b);
    }
    struct orchestration got = {0};
    struct iq_error err = {0};
    assert_int_equal(store_orchestration_get(STORE(state), ids[3], &got, &err), 0);
    assert_string_equal(got.name, "orch 3");
    assert_int_equal(got.job_count, 2);
    assert_string_equal(got.keys[0], "k3");
    assert_string_equal(got.keys[1], "second");
    orchestration_clear(&got);
    assert_int_equal(store_orchestration_get(STORE(state), UNKNOWN_ID, &got, &err), IQ_E_NOT_FOUND);
    assert_int_equal(store_orchestration_get(STORE(state), "not-an-id", &got, &err),
                     IQ_E_NOT_FOUND);

    /* Newest first, two a page. */
    char after[UUID_STR_LEN] = "";
    int seen = 4;
    for (int page_no = 0; page_no < 3; page_no++) {
        struct orchestration_page page = {0};
        assert_int_equal(
            store_orchestration_list(STORE(state), 2, after[0] ? after : NULL, &page, &err), 0);
        assert_int_equal(page.count, page_no < 2 ? 2 : 1);
        for (size_t i = 0; i < page.count; i++, seen--) {
            assert_string_equal(page.items[i].id, ids[seen]);
            assert_int_equal(page.items[i].job_count, seen % 2 ? 2 : 1);
            char key[16];
            snprintf(key, sizeof(key), "k%d", seen);
            assert_string_equal(page.items[i].keys[0], key);
            assert_string_equal(page.items[i].jobs[0]->orchestration_id, ids[seen]);
            assert_string_equal(page.items[i].status, "QUEUED");
        }
        if (page_no < 2)
            assert_string_equal(page.next_after_id, page.items[1].id);
        else
            assert_string_equal(page.next_after_id, "");
        memcpy(after, page.next_after_id, UUID_STR_LEN);
        orchestration_page_clear(&page);
    }
    assert_int_equal(seen, -1);

    struct orchestration_page page = {0};
    assert_int_equal(store_orchestration_list(STORE(state), 0, NULL, &page, &err), 0);
    assert_int_equal(page.count, 5); /* default limit 50 */
    assert_string_equal(page.next_after_id, "");
    orchestration_page_clear(&page);
    assert_int_equal(store_orchestration_list(STORE(state), 501, NULL, &page, &err),
                     IQ_E_BAD_REQUEST);
    assert_int_equal(store_orchestration_list(STORE(state), -1, NULL, &page, &err),
                     IQ_E_BAD_REQUEST);
    assert_int_equal(store_orchestration_list(STORE(state), 10, "junk", &page, &err),
                     IQ_E_BAD_REQUEST);
    assert_int_equal(store_orchestration_list(STORE(state), 10, ids[0], &page, &err), 0);
    assert_int_equal(page.count, 0);
    orchestration_page_clear(&page);
    iq_error_clear(&err);
}

/* drop_waits - keep the work phases of list (every attempt also records its
 * queue time, and its lock and dependency waits when not 0: test_perf_store.c). */
static void drop_waits(struct job_phase_list *list)
{
    size_t kept = 0;
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].phase, "queued") != 0 &&
            strcmp(list->items[i].phase, "lock_wait") != 0 &&
            strcmp(list->items[i].phase, "dependency_wait") != 0)
            list->items[kept++] = list->items[i];
    list->count = kept;
}

static void test_job_phases(void **state)
{
    struct job_spec *spec = spec_simple("users", 5, NULL);
    struct job_create_request jreq = {.spec = spec};
    struct job *created = NULL;
    bool existed;
    struct iq_error err = {0};
    assert_int_equal(store_job_create(STORE(state), &jreq, &test_actor, &created, &existed, &err),
                     0);
    job_spec_free(spec);
    struct job_phase_list list = {0};
    assert_int_equal(store_job_phases(STORE(state), created->id, &list, &err), 0);
    assert_int_equal(list.count, 0); /* no attempt yet */
    job_phase_list_clear(&list);

    int64_t t0 = (time_now_ms() / 1000) * 1000;
    const struct phase_timing first[] = {{"read", t0, 40, 10, 100}, {"stage", t0 + 40, 15, 10, 0}};
    const struct phase_timing second[] = {{"stage", t0 + 2000, 30, 12, 0},
                                          {"read", t0 + 1000, 25, 12, 120},
                                          {"promote", t0 + 3000, 5, 12, 0}};
    struct job *job = claim_expect(state, created->id);
    finish(state, job, JOB_FAILED, time_now_ms() - 1, first, COUNT_OF(first));
    job_free(job);
    job = claim_expect(state, created->id);
    finish(state, job, JOB_COMPLETED, 0, second, COUNT_OF(second));
    job_free(job);

    assert_int_equal(store_job_phases(STORE(state), created->id, &list, &err), 0);
    assert_int_equal(list.count, 5 + 2); /* the phases, and each attempt's queue time */
    drop_waits(&list);
    static const struct {
        int attempt;
        const char *phase;
        int64_t offset_ms, duration_ms, rows, bytes;
    } want[] = {
        {1, "read", 0, 40, 10, 100},    {1, "stage", 40, 15, 10, 0},
        {2, "read", 1000, 25, 12, 120}, {2, "stage", 2000, 30, 12, 0},
        {2, "promote", 3000, 5, 12, 0},
    };
    assert_int_equal(list.count, COUNT_OF(want));
    for (size_t i = 0; i < COUNT_OF(want); i++) {
        assert_int_equal(list.items[i].attempt, want[i].attempt);
        assert_string_equal(list.items[i].phase, want[i].phase);
        assert_int_equal(list.items[i].started_at_ms, t0 + want[i].offset_ms);
        assert_int_equal(list.items[i].duration_ms, want[i].duration_ms);
        assert_int_equal(list.items[i].rows, want[i].rows);
        assert_int_equal(list.items[i].bytes, want[i].bytes);
    }
    job_phase_list_clear(&list);
    job_phase_list_clear(&list); /* repeatable */
    assert_int_equal(store_job_phases(STORE(state), UNKNOWN_ID, &list, &err), IQ_E_NOT_FOUND);
    assert_int_equal(store_job_phases(STORE(state), "nope", &list, &err), IQ_E_NOT_FOUND);
    assert_int_equal(list.count, 0);
    iq_error_clear(&err);
    job_free(created);
}

/* lock_count_of - how many live locks job_id holds, as store_locks_list sees them. */
static size_t lock_count_of(void **state, const char *job_id)
{
    struct lock_list locks = {0};
    struct iq_error err = {0};
    assert_int_equal(store_locks_list(STORE(state), &locks, &err), 0);
    size_t n = 0;
    for (size_t i = 0; i < locks.count; i++)
        n += strcmp(locks.items[i].job_id, job_id) == 0;
    lock_list_clear(&locks);
    return n;
}

/* The job, its phases and its own live locks read together. */
static void test_job_get_detail(void **state)
{
    struct job_spec *spec =
        spec_simple("users", 5, "\"resources\": [{\"name\": \"detail_r\", \"mode\": \"shared\"}]");
    struct job_create_request jreq = {.spec = spec};
    struct job *a = NULL;
    bool existed;
    struct iq_error err = {0};
    assert_int_equal(store_job_create(STORE(state), &jreq, &test_actor, &a, &existed, &err), 0);
    job_spec_free(spec);

    struct job_detail detail = {0};
    assert_int_equal(store_job_get_detail(STORE(state), a->id, &detail, &err), 0);
    assert_string_equal(detail.job->id, a->id);
    assert_int_equal(detail.job->status, JOB_QUEUED);
    assert_int_equal(detail.phases.count, 0);
    assert_int_equal(detail.locks.count, 0);
    job_detail_clear(&detail);

    int64_t t0 = (time_now_ms() / 1000) * 1000;
    const struct phase_timing first[] = {{"read", t0, 40, 10, 100}, {"stage", t0 + 40, 15, 10, 0}};
    struct job *job = claim_expect(state, a->id);
    finish(state, job, JOB_FAILED, time_now_ms() - 1, first, COUNT_OF(first));
    job_free(job);
    struct job *running = claim_expect(state, a->id);

    /* Another running job's locks are not a's. */
    spec = spec_simple("teams", 5, "\"resources\": [{\"name\": \"detail_r\", \"mode\": \"shared\"}]");
    jreq.spec = spec;
    struct job *b = NULL;
    assert_int_equal(store_job_create(STORE(state), &jreq, &test_actor, &b, &existed, &err), 0);
    job_spec_free(spec);
    struct job *other = claim_expect(state, b->id);

    assert_int_equal(store_job_get_detail(STORE(state), a->id, &detail, &err), 0);
    assert_int_equal(detail.job->status, JOB_RUNNING);
    assert_int_equal(detail.job->attempt, 2);
    assert_int_equal(detail.phases.count, 2 + 1);
    drop_waits(&detail.phases);
    assert_int_equal(detail.phases.count, 2);
    assert_int_equal(detail.phases.items[0].attempt, 1);
    assert_string_equal(detail.phases.items[0].phase, "read");
    assert_int_equal(detail.phases.items[0].started_at_ms, t0);
    assert_int_equal(detail.phases.items[0].duration_ms, 40);
    assert_int_equal(detail.phases.items[0].rows, 10);
    assert_int_equal(detail.phases.items[0].bytes, 100);
    assert_string_equal(detail.phases.items[1].phase, "stage");
    size_t own = lock_count_of(state, a->id);
    assert_true(own >= 1);
    assert_true(lock_count_of(state, b->id) >= 1);
    assert_int_equal(detail.locks.count, own);
    bool named = false;
    for (size_t i = 0; i < detail.locks.count; i++) {
        const struct lock_info *lock = &detail.locks.items[i];
        assert_string_equal(lock->job_id, a->id);
        assert_int_equal(lock->attempt, 2);
        assert_true(lock->expires_at_ms > lock->acquired_at_ms);
        assert_non_null(lock->worker);
        if (strcmp(lock->name, "detail_r") == 0) {
            named = true;
            assert_int_equal(lock->mode, LOCK_SHARED);
        }
    }
    assert_true(named);
    job_detail_clear(&detail);

    /* Once it ended: every phase, no lock. */
    const struct phase_timing second[] = {{"read", t0 + 1000, 25, 12, 120}};
    finish(state, running, JOB_COMPLETED, 0, second, COUNT_OF(second));
    assert_int_equal(store_job_get_detail(STORE(state), a->id, &detail, &err), 0);
    assert_int_equal(detail.job->status, JOB_COMPLETED);
    assert_int_equal(detail.phases.count, 3 + 2);
    drop_waits(&detail.phases);
    assert_int_equal(detail.phases.count, 3);
    assert_int_equal(detail.phases.items[2].attempt, 2);
    assert_int_equal(detail.locks.count, 0);
    job_detail_clear(&detail);
    job_detail_clear(&detail); /* repeatable */

    assert_int_equal(store_job_get_detail(STORE(state), UNKNOWN_ID, &detail, &err), IQ_E_NOT_FOUND);
    assert_null(detail.job);
    job_detail_clear(&detail);
    assert_int_equal(store_job_get_detail(STORE(state), "nope", &detail, &err), IQ_E_NOT_FOUND);
    job_detail_clear(&detail);
    iq_error_clear(&err);
    job_free(running);
    job_free(other);
    job_free(a);
    job_free(b);
}

/* summary_matches - item says what the whole job says. */
static void summary_matches(const struct job_summary *item, const struct job *job)
{
    assert_string_equal(item->id, job->id);
    assert_string_equal(item->name, job->name);
    assert_int_equal(item->status, job->status);
    assert_int_equal(item->priority, job->priority);
    assert_string_equal(item->table, job->target_table);
    assert_string_equal(item->mode, json_string_value(json_object_get(job->target, "mode")));
    assert_int_equal(item->attempt, job->attempt);
    assert_int_equal(item->max_attempts, job->max_attempts);
    assert_string_equal(item->progress.phase, job->progress.phase);
    assert_int_equal(item->progress.rows_read, job->progress.rows_read);
    assert_int_equal(item->progress.bytes_read, job->progress.bytes_read);
    assert_int_equal(item->progress.bytes_total, job->progress.bytes_total);
    assert_int_equal(item->created_at_ms, job->created_at_ms);
    assert_int_equal(item->started_at_ms, job->started_at_ms);
    assert_int_equal(item->finished_at_ms, job->finished_at_ms);
    const char *code = json_string_value(json_object_get(job->error, "code"));
    const char *message = json_string_value(json_object_get(job->error, "message"));
    if (code)
        assert_string_equal(item->error_code, code);
    else
        assert_null(item->error_code);
    if (message)
        assert_string_equal(item->error_message, message);
    else
        assert_null(item->error_message);
}

/* The summary page is the job page, column for column, page for page. */
static void test_job_list_summary(void **state)
{
    struct iq_error err = {0};
    bool existed;
    const char *extras[] = {"\"hold\": true", NULL,
                            "\"max_attempts\": 1", NULL};
    const char *tables[] = {"held_t", "queued_t", "failed_t", "running_t"};
    const int priorities[] = {5, 9, 2, 1};
    char ids[4][UUID_STR_LEN];
    for (int i = 0; i < 4; i++) {
        struct job_spec *spec = spec_simple(tables[i], priorities[i], extras[i]);
        struct job_create_request jreq = {.spec = spec};
        struct job *job = NULL;
        assert_int_equal(store_job_create(STORE(state), &jreq, &test_actor, &job, &existed, &err),
                         0);
        memcpy(ids[i], job->id, UUID_STR_LEN);
        job_spec_free(spec);
        job_free(job);
    }
    /* Priority 1 runs first: running_t, then failed_t (2). */
    struct job *running = claim_expect(state, ids[3]);
    struct job *failing = claim_expect(state, ids[2]);
    finish(state, failing, JOB_FAILED, 0, NULL, 0);
    job_free(failing);

    for (int limit = 1; limit <= 5; limit += 4) {
        char after[UUID_STR_LEN] = "";
        size_t seen = 0;
        do {
            struct job_filter filter = {.limit = limit, .after_id = after[0] ? after : NULL};
            struct job_page full = {0};
            struct job_summary_page lean = {0};
            assert_int_equal(store_job_list(STORE(state), &filter, &full, &err), 0);
            assert_int_equal(store_job_list_summary(STORE(state), &filter, &lean, &err), 0);
            assert_int_equal(lean.count, full.count);
            assert_string_equal(lean.next_after_id, full.next_after_id);
            for (size_t i = 0; i < lean.count; i++)
                summary_matches(&lean.items[i], full.items[i]);
            seen += lean.count;
            memcpy(after, lean.next_after_id, UUID_STR_LEN);
            job_page_clear(&full);
            job_summary_page_clear(&lean);
        } while (after[0]);
        assert_int_equal(seen, 4);
    }

    /* Filters too; the failed job's error is summarised. */
    struct job_filter filter = {.status_mask = 1u << JOB_FAILED};
    struct job_summary_page lean = {0};
    assert_int_equal(store_job_list_summary(STORE(state), &filter, &lean, &err), 0);
    assert_int_equal(lean.count, 1);
    assert_string_equal(lean.items[0].id, ids[2]);
    assert_string_equal(lean.items[0].table, "failed_t");
    assert_string_equal(lean.items[0].error_code, "import_failed");
    assert_string_equal(lean.items[0].error_message, "it broke");
    assert_true(lean.items[0].finished_at_ms > 0);
    job_summary_page_clear(&lean);
    job_summary_page_clear(&lean); /* repeatable */
    iq_error_clear(&err);
    job_free(running);
}

/* list_count - how many jobs a one-page list with limit and table finds. */
static size_t list_count(void **state, int limit, const char *table)
{
    struct iq_error err = {0};
    struct job_filter filter = {.limit = limit, .table = table};
    struct job_summary_page lean = {0};
    int rc = store_job_list_summary(STORE(state), &filter, &lean, &err);
    if (rc < 0) {
        print_error("list: %s\n", iq_error_message(&err));
        iq_error_clear(&err);
        return (size_t)-1;
    }
    size_t count = lean.count;
    job_summary_page_clear(&lean);
    return count;
}

/*
 * More page shapes than a connection keeps prepared (PostgreSQL: the
 * least recently used is deallocated for a new one), each asked twice,
 * then the latest again after the connection was lost (they must be
 * prepared anew): every answer is right.
 */
static void test_list_shapes_beyond_the_statement_cache(void **state)
{
    struct iq_error err = {0};
    bool existed;
    for (int i = 0; i < 4; i++) {
        struct job_spec *spec = spec_simple("cached_t", 5, NULL);
        struct job_create_request jreq = {.spec = spec};
        struct job *job = NULL;
        assert_int_equal(store_job_create(STORE(state), &jreq, &test_actor, &job, &existed, &err),
                         0);
        job_spec_free(spec);
        job_free(job);
    }
    for (int round = 0; round < 2; round++)
        for (int limit = 1; limit <= 40; limit++) {
            assert_int_equal(list_count(state, limit, NULL), limit < 4 ? (size_t)limit : 4);
            assert_int_equal(list_count(state, limit, "cached_t"), limit < 4 ? (size_t)limit : 4);
            assert_int_equal(list_count(state, limit, "other_t"), 0);
        }
    if (strcmp(FIX(state)->backend, "postgres") != 0)
        skip();
    assert_int_equal(fixture_sql_exec(FIX(state), "SELECT pg_terminate_backend(pid) FROM"
                                                  " pg_stat_activity WHERE application_name ="
                                                  " 'importq' AND datname = current_database()"
                                                  " AND pid <> pg_backend_pid()"),
                     0);
    /* The shapes last used, prepared on the old session. */
    for (int limit = 38; limit <= 40; limit++)
        assert_int_equal(list_count(state, limit, "cached_t"), 4);
}

/* ------------------------------------------------------------------ */
/* Uploads linked to jobs                                              */
/* ------------------------------------------------------------------ */

#define UPLOAD_SPEC(upload, table)                                                                 \
    "{\"source\": {\"format\": \"csv\", \"upload\": \"" upload "\"},"                              \
    " \"target\": {\"table\": \"" table "\"}}"

static void test_uploads_linked_to_jobs(void **state)
{
    insert_upload(state, UPLOAD_A);
    insert_upload(state, UPLOAD_B);
    struct iq_error err = {0};
    struct job *job = NULL;
    bool existed;

    /* Unknown upload: 422 with the field, nothing written. */
    struct job_spec *spec = spec_from_json(UPLOAD_SPEC(UNKNOWN_ID, "users"));
    struct job_create_request req = {.spec = spec};
    struct row_counts before = count_rows(state);
    assert_int_equal(store_job_create(STORE(state), &req, &test_actor, &job, &existed, &err),
                     IQ_E_INVALID);
    assert_null(job);
    assert_non_null(find_field(&err, "source.upload"));
    assert_string_equal(find_field(&err, "source.upload"), "unknown upload");
    iq_error_clear(&err);
    struct row_counts after = count_rows(state);
    assert_int_equal(after.jobs, before.jobs);
    assert_int_equal(after.audit, before.audit);
    job_spec_free(spec);

    /* Known upload: the upload points at the new job. */
    spec = spec_from_json(UPLOAD_SPEC(UPLOAD_A, "users"));
    req.spec = spec;
    assert_int_equal(store_job_create(STORE(state), &req, &test_actor, &job, &existed, &err), 0);
    job_spec_free(spec);
    assert_int_equal(upload_linked_to(state, UPLOAD_A, job->id), 1);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                 "SELECT count(*) FROM importq_uploads WHERE id = '%s'"
                                 " AND job_id IS NULL",
                                 UPLOAD_B),
                     1);

    /* An update to another upload moves the link; to an unknown one fails and changes nothing. */
    struct job *updated = NULL;
    spec = spec_from_json(UPLOAD_SPEC(UPLOAD_B, "users"));
    assert_int_equal(store_job_update(STORE(state), job->id, spec, &test_actor, &updated, &err), 0);
    job_spec_free(spec);
    job_free(updated);
    assert_int_equal(upload_linked_to(state, UPLOAD_B, job->id), 1);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                 "SELECT count(*) FROM importq_uploads WHERE id = '%s'"
                                 " AND job_id IS NULL",
                                 UPLOAD_A),
                     1);
    spec = spec_from_json(UPLOAD_SPEC(UNKNOWN_ID, "users"));
    assert_int_equal(store_job_update(STORE(state), job->id, spec, &test_actor, &updated, &err),
                     IQ_E_INVALID);
    assert_non_null(find_field(&err, "source.upload"));
    iq_error_clear(&err);
    job_spec_free(spec);
    assert_int_equal(upload_linked_to(state, UPLOAD_B, job->id), 1);

    /* Inside an orchestration the upload points at that job. */
    static const char *const jobs[] = {"first:t_a", "reads:t_b:first"};
    struct built b;
    build(&b, "with upload", jobs, COUNT_OF(jobs), NULL);
    replace_spec(&b, 1, UPLOAD_SPEC(UPLOAD_A, "t_b"));
    struct orchestration orch = {0};
    create_ok(state, &b, &orch);
    assert_int_equal(upload_linked_to(state, UPLOAD_A, key_job(&orch, "reads")->id), 1);
    orchestration_clear(&orch);
    built_free(&b);
    job_free(job);
}

/* ------------------------------------------------------------------ */
/* Wake-ups                                                            */
/* ------------------------------------------------------------------ */

static void test_creation_wakes_workers(void **state)
{
    bool woken = true;
    struct iq_error err = {0};
    struct store *listener = fixture_open_extra(FIX(state));
    assert_non_null(listener);
    assert_int_equal(store_wait_for_work(listener, 0, &woken, &err), 0); /* LISTENs, or notes */
    static const char *const jobs[] = {"a:t_a", "b:t_b:a"};
    struct built b;
    build(&b, "wake", jobs, COUNT_OF(jobs), NULL);
    struct orchestration orch = {0};
    create_ok(state, &b, &orch);
    assert_int_equal(store_wait_for_work(listener, 5000, &woken, &err), 0);
    assert_true(woken);
    orchestration_clear(&orch);
    built_free(&b);
    store_close(listener);
}

/* ------------------------------------------------------------------ */

#define TEST(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

static const struct CMUnitTest orchestration_tests[] = {
    TEST(test_chain_created_atomically_and_run_in_order),
    TEST(test_fan_out_and_fan_in),
    TEST(test_depends_on_outside_the_set),
    TEST(test_invalid_requests_leave_no_row),
    TEST(test_queue_full_creates_nothing),
    TEST(test_status_failed_when_a_job_fails_for_good),
    TEST(test_status_cancelled_and_cancel_cascade),
    TEST(test_status_after_update_onto_a_failed_dependency),
    TEST(test_status_of_held_jobs_and_rescue),
    TEST(test_get_and_list_pages),
    TEST(test_job_phases),
    TEST(test_job_get_detail),
    TEST(test_job_list_summary),
    TEST(test_list_shapes_beyond_the_statement_cache),
    TEST(test_uploads_linked_to_jobs),
    TEST(test_creation_wakes_workers),
};


int main(void)
{
    return fixture_run_backends("orchestration_store", "orchestration store tests", orchestration_tests, sizeof(orchestration_tests) / sizeof(orchestration_tests[0]));
}
