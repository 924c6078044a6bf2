/*
 * test_engine.c - the engine end to end on both backends, with real CSV
 * files in a temporary import root and jobs created through the store:
 * the node registry; priority then FIFO order; dependencies before
 * dependants in a random DAG; timeouts; retries with backoff; cancel of
 * queued, held and running jobs; execute of held and failed jobs; rescue
 * of a job whose worker vanished; the fence against a lost job; sources
 * that escape the import root; rejects; named target databases; shutdown;
 * the metrics of a retried and of a lost attempt.
 *
 * IMPORTQ_TEST_ONLY=sqlite (or =postgres) runs one backend's group only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine_test_support.h"

#include "core/metrics.h"

#include <signal.h>
#include <sqlite3.h>

/* ---- metrics ------------------------------------------------------------ */

/* metric_value - the value of one series in the registry's text format:
 * the number after "<series> " (0 when the series is not written). */
static double metric_value(struct metrics *metrics, const char *series)
{
    char *text = NULL;
    size_t len = 0;
    struct iq_error err = {0};
    assert_int_equal(metrics_write(metrics, &text, &len, &err), 0);
    double value = 0;
    size_t n = strlen(series);
    for (const char *line = text; *line;) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            value = strtod(line + n + 1, NULL);
        const char *end = strchr(line, '\n');
        if (!end)
            break;
        line = end + 1;
    }
    free(text);
    return value;
}

/* ---- node registry ------------------------------------------------------ */

static struct node_info *find_node(struct node_list *list, const char *id)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].id, id) == 0)
            return &list->items[i];
    return NULL;
}

static void test_node_registered_and_stopped(void **state)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    struct engine *engine = start_engine(&opts);
    char node_id[UUID_STR_LEN];
    memcpy(node_id, engine_node_id(engine), UUID_STR_LEN);

    struct node_list nodes = {0};
    struct iq_error err = {0};
    assert_int_equal(store_nodes_list(f->store, &nodes, &err), 0);
    struct node_info *node = find_node(&nodes, node_id);
    assert_non_null(node);
    assert_string_equal(node->status, "alive");
    assert_int_equal(node->pid, (int)getpid());
    assert_string_equal(node->version, "test");
    assert_true(node->host && node->host[0]);
    node_list_clear(&nodes);

    engine_stop(engine, 1000);
    assert_int_equal(store_nodes_list(f->store, &nodes, &err), 0);
    node = find_node(&nodes, node_id);
    assert_non_null(node);
    assert_string_equal(node->status, "stopped");
    node_list_clear(&nodes);
    import_root_remove(&root);
}

/* ---- order -------------------------------------------------------------- */

/* runlog: every job appends its label; n records the order rows landed in. */
static void create_runlog(struct fixture *f)
{
    const char *sql = is_postgres(f)
                          ? "CREATE TABLE runlog (n bigserial PRIMARY KEY, label text)"
                          : "CREATE TABLE runlog (n INTEGER PRIMARY KEY AUTOINCREMENT, label text)";
    assert_int_equal(fixture_sql_exec(f, sql), 0);
}

static void test_priority_then_fifo_with_one_worker(void **state)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    create_runlog(f);
    static const int priorities[] = {5, 1, 5, 10, 1, 3, 5, 10, 3, 1, 7, 5};
    enum { N = sizeof(priorities) / sizeof(priorities[0]) };
    char ids[N][UUID_STR_LEN];
    for (int i = 0; i < N; i++) {
        char name[32], content[64], json[512];
        snprintf(name, sizeof(name), "j%02d.csv", i);
        snprintf(content, sizeof(content), "label\nj%02d\n", i);
        write_file(&root, name, content);
        snprintf(json, sizeof(json),
                 "{\"priority\": %d, \"source\": {\"path\": \"%s\"},"
                 " \"target\": {\"table\": \"runlog\", \"mode\": \"append\"}}",
                 priorities[i], name);
        create_job(f, json, ids[i]);
    }
    /* Expected: priority, then creation order (a stable sort). */
    int order[N];
    for (int i = 0; i < N; i++)
        order[i] = i;
    for (int i = 1; i < N; i++)
        for (int j = i; j > 0 && priorities[order[j - 1]] > priorities[order[j]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    char expected[N * 4 + 1] = "";
    for (int i = 0; i < N; i++) {
        char label[8];
        snprintf(label, sizeof(label), "%sj%02d", i ? "\n" : "", order[i]);
        strcat(expected, label);
    }

    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    opts.workers = 1;
    struct engine *engine = start_engine(&opts);
    int64_t previous_start = 0;
    for (int i = 0; i < N; i++) {
        struct job *job = wait_status(f, ids[order[i]], FINAL_STATUSES, JOB_END_BOUND_MS);
        assert_int_equal(job->status, JOB_COMPLETED);
        assert_true(job->started_at_ms >= previous_start);
        previous_start = job->started_at_ms;
        job_free(job);
    }
    engine_stop(engine, 1000);
    char *landed = fixture_sql_text(f, "SELECT label FROM runlog ORDER BY n");
    assert_string_equal(landed, expected);
    free(landed);
    import_root_remove(&root);
}

static void test_random_dag_completes_in_topological_order(void **state)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    enum { N = 50, MAX_DEPS = 3 };
    unsigned seed = (unsigned)time(NULL);
    printf("    (DAG seed %u)\n", seed);
    char ids[N][UUID_STR_LEN];
    int deps[N][MAX_DEPS];
    int dep_count[N];
    for (int i = 0; i < N; i++) {
        char name[32], table[32], extra[512];
        snprintf(name, sizeof(name), "dag%02d.csv", i);
        snprintf(table, sizeof(table), "dag%02d", i);
        write_rows(&root, name, i * 10, 10);
        dep_count[i] = i == 0 ? 0 : (int)(rand_r(&seed) % (MAX_DEPS + 1));
        if (dep_count[i] > i)
            dep_count[i] = i;
        size_t used = (size_t)snprintf(extra, sizeof(extra), "\"priority\": %d, \"depends_on\": [",
                                       1 + (int)(rand_r(&seed) % 10));
        for (int d = 0; d < dep_count[i]; d++) {
            deps[i][d] = (int)(rand_r(&seed) % (unsigned)i);
            used += (size_t)snprintf(extra + used, sizeof(extra) - used, "%s\"%s\"", d ? ", " : "",
                                     ids[deps[i][d]]);
        }
        snprintf(extra + used, sizeof(extra) - used, "]");
        create_csv_job(f, table, name, "append", extra, ids[i]);
    }
    struct job *jobs[N];
    run_all_completed(f, &root, 4, ids, N, jobs);
    for (int i = 0; i < N; i++)
        for (int d = 0; d < dep_count[i]; d++) {
            const struct job *dependency = jobs[deps[i][d]];
            if (jobs[i]->started_at_ms < dependency->finished_at_ms)
                fail_msg("job %d started at %lld before its dependency %d finished at %lld", i,
                         (long long)jobs[i]->started_at_ms, deps[i][d],
                         (long long)dependency->finished_at_ms);
        }
    for (int i = 0; i < N; i++)
        job_free(jobs[i]);
    import_root_remove(&root);
}

/* ---- timeouts, retries -------------------------------------------------- */

static void test_timeout_fails_and_lands_nothing(void **state)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    create_table(f, "slow");
    struct fifo_source src;
    fifo_source_start(&src, &root, "slow.csv");
    char id[UUID_STR_LEN];
    create_csv_job(f, "slow", "slow.csv", "upsert", "\"timeout_s\": 1, \"max_attempts\": 1", id);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    struct engine *engine = start_engine(&opts);
    engine_wake(engine);
    /* the file never ends: only the timeout can end the job, and not before
     * its second (a bound above would be a speed check a loaded machine
     * breaks; the soak did) */
    struct job *job = wait_status(f, id, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_FAILED);
    assert_string_equal(error_code(job), "timeout");
    assert_true(job->finished_at_ms - job->started_at_ms >= 1000);
    assert_true(atomic_load(&src.rows) > 0);
    job_free(job);
    engine_stop(engine, 1000);
    fifo_source_finish(&src);
    assert_int_equal(count_rows(f, "slow", NULL), 0);
    import_root_remove(&root);
}

static double always_one_cb(void *ctx)
{
    (void)ctx;
    return 1.0;
}

static const struct iq_random always_one = {.unit = always_one_cb};

/* nothing_claimable - a claim by a worker of the test's own finds nothing
 * runnable right now (the engine's workers ask the same question). */
static void assert_nothing_claimable(struct fixture *f)
{
    struct claim_request req = {.node_id = "01900000-0000-7000-8000-0000000000ee",
                                .worker = "test/w0",
                                .max_concurrent = 10,
                                .lease_ms = 30000};
    struct job *job = NULL;
    struct iq_error err = {0};
    if (store_job_claim(f->store, &req, &test_actor, &job, &err) < 0)
        fail_msg("claim: %s", iq_error_message(&err));
    if (job)
        fail_msg("job %s runnable before its retry is due", job->id);
}

/* On the fake clock: attempt 1 fails for a transient reason (the import
 * root is not there: an unmounted share) and is due again exactly one
 * backoff (pinned to its ceiling, ten minutes no test could sleep) later;
 * it is not runnable a millisecond before that, and runs once the clock
 * gets there. */
static void test_retry_with_backoff_until_the_root_is_back(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    struct import_root root;
    import_root_make(&root);
    char away[96];
    snprintf(away, sizeof(away), "%s.away", root.dir);
    assert_int_equal(rename(root.dir, away), 0);
    char id[UUID_STR_LEN];
    create_csv_job(f, "late", "late.csv", "append", "\"max_attempts\": 3", id);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    opts.clock = &f->clock.clock;
    opts.retry_base_ms = 10 * 60 * 1000;
    opts.retry_cap_ms = 60 * 60 * 1000;
    opts.random = &always_one; /* the delay is the ceiling: base_ms after attempt 1 */
    struct metrics *metrics = NULL;
    struct iq_error err = {0};
    assert_int_equal(metrics_new(&metrics, &err), 0);
    opts.metrics = metrics;
    struct engine *engine = start_engine(&opts);
    engine_wake(engine);

    /* Attempt 1 fails (no root) and goes back to the queue with a backoff. */
    int64_t end = time_monotonic_ms() + 10000;
    struct job *job = NULL;
    for (;;) {
        job = get_job(f, id);
        if (job->attempt == 1 && job->status == JOB_QUEUED)
            break;
        assert_true(job->status == JOB_QUEUED || job->status == JOB_RUNNING);
        assert_true(time_monotonic_ms() < end);
        job_free(job);
        sleep_ms(2); /* a poll for the engine's thread, not for time to pass */
    }
    int64_t available_at = job->available_at_ms;
    assert_int_equal(available_at, fake_clock_now(&f->clock) + opts.retry_base_ms);
    assert_string_equal(error_code(job), "import_failed");
    assert_non_null(strstr(json_string_value(json_object_get(job->error, "message")),
                           "(transient: attempt 1 of 3, retried in 600 s)"));
    job_free(job);
    assert_int_equal(rename(away, root.dir), 0);
    write_rows(&root, "late.csv", 1, 5);
    fake_clock_advance(&f->clock, opts.retry_base_ms - 1);
    assert_nothing_claimable(f);
    fake_clock_advance(&f->clock, 1);
    engine_wake(engine);

    job = wait_status(f, id, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_COMPLETED);
    assert_int_equal(job->attempt, 2);
    assert_int_equal(job->started_at_ms, available_at);
    char *history = attempts_text(job);
    assert_non_null(strstr(history, "import_failed"));
    free(history);
    job_free(job);
    engine_stop(engine, 1000);
    assert_int_equal(count_rows(f, "late", NULL), 5);
    /* The metrics saw both attempts: one failed and back in the queue, one
     * completed; each waited nothing on the fake clock (created, then
     * due at available_at, each claimed at once). */
    assert_true(metric_value(metrics, "importq_jobs_started_total") == 2);
    assert_true(metric_value(metrics, "importq_jobs_finished_total{outcome=\"failed_retry\"}") == 1);
    assert_true(metric_value(metrics, "importq_jobs_finished_total{outcome=\"completed\"}") == 1);
    assert_true(metric_value(metrics, "importq_jobs_finished_total{outcome=\"failed_final\"}") == 0);
    assert_true(metric_value(metrics, "importq_job_failures_total{code=\"import_failed\"}") == 1);
    assert_true(metric_value(metrics, "importq_rows_imported_total") == 5);
    assert_true(metric_value(metrics, "importq_rows_read_total") == 5);
    assert_true(metric_value(metrics, "importq_job_queue_wait_seconds_count") == 2);
    assert_true(metric_value(metrics, "importq_job_queue_wait_seconds_sum") == 0);
    assert_true(metric_value(metrics, "importq_phase_duration_seconds_count{phase=\"promote\"}") == 1);
    assert_true(metric_value(metrics, "importq_job_duration_seconds_count{outcome=\"completed\"}") == 1);
    metrics_free(metrics);
    import_root_remove(&root);
}

/* ---- cancel ------------------------------------------------------------- */

static void cancel_job(struct fixture *f, const char *id, enum job_status expected)
{
    struct job *job = NULL;
    struct iq_error err = {0};
    int rc = store_job_cancel(f->store, id, &test_actor, &job, &err);
    if (rc < 0)
        fail_msg("cancel: %s", iq_error_message(&err));
    assert_int_equal(job->status, expected);
    job_free(job);
}

static void test_cancel_queued_and_held(void **state)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    write_rows(&root, "q.csv", 1, 3);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    struct engine *engine = start_engine(&opts);
    char queued[UUID_STR_LEN], held[UUID_STR_LEN];
    /* Queued but not yet due, so that it is still waiting when cancelled. */
    create_csv_job(f, "q", "q.csv", "append", "\"scheduled_at\": \"2099-01-01T00:00:00Z\"", queued);
    create_csv_job(f, "h", "q.csv", "append", "\"hold\": true", held);
    engine_wake(engine);
    cancel_job(f, queued, JOB_CANCELLED);
    cancel_job(f, held, JOB_CANCELLED);
    sleep_ms(300);
    struct job *job = get_job(f, queued);
    assert_int_equal(job->status, JOB_CANCELLED);
    assert_int_equal(job->attempt, 0);
    job_free(job);
    job = get_job(f, held);
    assert_int_equal(job->status, JOB_CANCELLED);
    assert_int_equal(job->attempt, 0);
    job_free(job);
    engine_stop(engine, 1000);
    import_root_remove(&root);
}

/*
 * cancel_running - cancel a job (mode: upsert stages and checks; append
 * is a direct plan) while it is still reading a FIFO: the cancel answers
 * at once (RUNNING, cancel_requested), the job is CANCELLED within 2 s and
 * lands nothing. On SQLite rows are being staged meanwhile, which must
 * not hold the write lock the cancel needs.
 */
static void cancel_running(void **state, const char *table, const char *mode)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    create_table(f, table);
    char name[64];
    snprintf(name, sizeof(name), "%s.csv", table);
    struct fifo_source src;
    fifo_source_start(&src, &root, name);
    char id[UUID_STR_LEN];
    create_csv_job(f, table, name, mode, NULL, id);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    opts.cancel_check_ms = 500; /* the default */
    struct engine *engine = start_engine(&opts);
    engine_wake(engine);
    job_free(wait_status(f, id, STATUS_BIT(JOB_RUNNING), 5000));
    fifo_source_wait_rows(&src, 5000, 10000);

    int64_t asked = time_monotonic_ms();
    struct job *job = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_job_cancel(f->store, id, &test_actor, &job, &err), 0);
    int64_t answered = time_monotonic_ms() - asked;
    assert_int_equal(job->status, JOB_RUNNING);
    assert_true(job->cancel_requested);
    job_free(job);
    if (answered > 1000)
        fail_msg("%s: the cancel took %lld ms to answer", mode, (long long)answered);
    job = wait_status(f, id, FINAL_STATUSES, JOB_END_BOUND_MS);
    int64_t took = time_monotonic_ms() - asked;
    assert_int_equal(job->status, JOB_CANCELLED);
    job_free(job);
    if (took > 2000)
        fail_msg("%s: a running job took %lld ms to stop after cancel", mode, (long long)took);
    engine_stop(engine, 1000);
    fifo_source_finish(&src);
    assert_int_equal(count_rows(f, table, NULL), 0);
    import_root_remove(&root);
}

static void test_cancel_running_stops_within_2s(void **state)
{
    cancel_running(state, "endless", "upsert");
    cancel_running(state, "endless_append", "append");
}

/* ---- other writers while a job loads ------------------------------------- */

/*
 * try_soon - run op until it succeeds, at most 50 times 10 ms apart. Each
 * try is made not to wait for a lock (busy timeout 0 or 1 ms), so a write
 * lock held for the whole load fails every try; the retries only step
 * over the engine's own heartbeats, which hold it for a moment.
 */
#define try_soon(what, op)                                                                         \
    do {                                                                                           \
        int tries_ = 0;                                                                            \
        while (!(op)) {                                                                            \
            if (++tries_ == 50)                                                                    \
                fail_msg("%s: still refused after %d tries while the job loads", what, tries_);  \
            sleep_ms(10);                                                                          \
        }                                                                                          \
    } while (0)

/* raw_write_lock - whether a connection with no busy timeout gets SQLite's write lock now. */
static bool raw_write_lock(sqlite3 *db)
{
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return false;
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    return true;
}

/* submit_held - whether s creates a held job (one the engine leaves alone). */
static bool submit_held(struct store *s)
{
    struct job_spec *spec = spec_simple("elsewhere", 5, "\"hold\": true");
    struct job_create_request req = {.spec = spec};
    struct job *job = NULL;
    bool existed = false;
    struct iq_error err = {0};
    int rc = store_job_create(s, &req, &test_actor, &job, &existed, &err);
    iq_error_clear(&err);
    job_free(job);
    job_spec_free(spec);
    return rc == 0;
}

/* heartbeat_as - whether s renews job's lease as its own worker would. */
static bool heartbeat_as(struct store *s, const struct job *job, int64_t lease_ms)
{
    bool cancel_requested = true;
    struct iq_error err = {0};
    int rc = store_job_heartbeat(s, job->id, job->worker, job->attempt, lease_ms, NULL,
                                 &cancel_requested, &err);
    iq_error_clear(&err);
    return rc == 0 && !cancel_requested;
}

/*
 * While a job loads (append: a direct plan) nothing waits for it: the
 * engine's heartbeats record its progress, a connection that will not
 * wait (busy timeout 1 ms) submits a job and heartbeats the running one,
 * and on SQLite a raw BEGIN IMMEDIATE with no busy timeout gets the write
 * lock. Then the file ends and every streamed row lands.
 */
static void test_writers_get_in_while_job_loads(void **state)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    create_table(f, "streamed");
    struct fifo_source src;
    fifo_source_start(&src, &root, "streamed.csv");
    char id[UUID_STR_LEN];
    create_csv_job(f, "streamed", "streamed.csv", "append", NULL, id);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    struct engine *engine = start_engine(&opts);
    engine_wake(engine);
    job_free(wait_status(f, id, STATUS_BIT(JOB_RUNNING), 5000));
    fifo_source_wait_rows(&src, 5000, 10000);

    int64_t end = time_monotonic_ms() + 10000;
    struct job *job = get_job(f, id);
    while (job->progress.rows_read < 2000) {
        if (time_monotonic_ms() > end)
            fail_msg("no progress recorded while the job loads (%lld rows streamed)",
                     (long long)atomic_load(&src.rows));
        job_free(job);
        sleep_ms(20);
        job = get_job(f, id);
    }
    assert_int_equal(job->status, JOB_RUNNING);

    struct store_options impatient = {.busy_timeout_ms = 1};
    struct store *other = NULL;
    struct iq_error err = {0};
    if (store_open(f->url, &impatient, &other, &err) < 0)
        fail_msg("open: %s", iq_error_message(&err));
    try_soon("submit", submit_held(other));
    try_soon("heartbeat", heartbeat_as(other, job, opts.lease_ms));
    if (!is_postgres(f)) {
        sqlite3 *raw = NULL;
        assert_int_equal(sqlite3_open_v2(f->url + strlen("sqlite:"), &raw, SQLITE_OPEN_READWRITE,
                                         NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_busy_timeout(raw, 0), SQLITE_OK);
        try_soon("BEGIN IMMEDIATE", raw_write_lock(raw));
        sqlite3_close(raw);
    }
    store_close(other);
    job_free(job);

    fifo_source_finish(&src); /* the file ends: the job lands it */
    job = wait_status(f, id, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_COMPLETED);
    int64_t landed = job->result.rows_inserted;
    job_free(job);
    engine_stop(engine, 1000);
    /* Every row of the file, 1..landed (the writer may have counted one
     * chunk it never wrote when it was stopped). */
    assert_true(landed >= 2000 && landed <= atomic_load(&src.rows));
    assert_int_equal(count_rows(f, "streamed", NULL), landed);
    char where[64];
    snprintf(where, sizeof(where), "id BETWEEN 1 AND %lld", (long long)landed);
    assert_int_equal(count_rows(f, "streamed", where), landed);
    import_root_remove(&root);
}

/* ---- execute ------------------------------------------------------------ */

static void execute_job(struct fixture *f, struct engine *engine, const char *id)
{
    struct job *job = NULL;
    struct iq_error err = {0};
    if (store_job_execute(f->store, id, &test_actor, &job, &err) < 0)
        fail_msg("execute: %s", iq_error_message(&err));
    assert_int_equal(job->status, JOB_QUEUED);
    job_free(job);
    engine_wake(engine);
}

static void test_execute_held_and_failed(void **state)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    write_rows(&root, "held.csv", 1, 4);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    struct engine *engine = start_engine(&opts);

    char held[UUID_STR_LEN], failed[UUID_STR_LEN];
    create_csv_job(f, "held", "held.csv", "append", "\"hold\": true", held);
    create_csv_job(f, "failing", "missing.csv", "append", "\"max_attempts\": 1", failed);
    engine_wake(engine);
    struct job *job = wait_status(f, failed, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_FAILED);
    assert_string_equal(error_code(job), "source_not_found");
    job_free(job);
    job = get_job(f, held);
    assert_int_equal(job->status, JOB_HELD); /* never runs by itself */
    job_free(job);

    execute_job(f, engine, held);
    job = wait_status(f, held, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_COMPLETED);
    assert_int_equal(job->result.rows_inserted, 4);
    job_free(job);

    write_rows(&root, "missing.csv", 1, 2);
    execute_job(f, engine, failed);
    job = wait_status(f, failed, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_COMPLETED);
    assert_int_equal(job->attempt, 2);
    job_free(job);
    engine_stop(engine, 1000);
    assert_int_equal(count_rows(f, "held", NULL), 4);
    assert_int_equal(count_rows(f, "failing", NULL), 2);
    import_root_remove(&root);
}

/* ---- lost workers ------------------------------------------------------- */

static void test_rescue_of_vanished_worker(void **state)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    write_rows(&root, "orphan.csv", 1, 25);
    char id[UUID_STR_LEN];
    create_csv_job(f, "orphan", "orphan.csv", "append", NULL, id);
    /* A worker claimed it long ago and vanished: RUNNING, stale heartbeat,
     * and a lock that was never released. */
    char sql[1024], lock_id[UUID_STR_LEN];
    uuid7_generate(lock_id);
    snprintf(sql, sizeof(sql),
             "UPDATE stg_import_queue SET status = 'RUNNING', attempt = 1, worker = 'ghost/w0',"
             " heartbeat_at = '2020-01-01T00:00:00.000Z', started_at = '2020-01-01T00:00:00.000Z'"
             " WHERE id = '%s'",
             id);
    assert_int_equal(fixture_sql_exec(f, sql), 0);
    snprintf(sql, sizeof(sql),
             "INSERT INTO stg_import_resources (id, name, mode, job_id, attempt, node, worker,"
             " acquired_at, expires_at) VALUES ('%s', 'table:orphan', 'exclusive', '%s', 1, NULL,"
             " 'ghost/w0', '2020-01-01T00:00:00.000Z', '2020-01-01T00:05:00.000Z')",
             lock_id, id);
    assert_int_equal(fixture_sql_exec(f, sql), 0);

    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    opts.lease_ms = 1500;
    opts.retry_base_ms = 50;
    struct engine *engine = start_engine(&opts);
    struct job *job = wait_status(f, id, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_COMPLETED);
    assert_int_equal(job->attempt, 2);
    char *history = attempts_text(job);
    assert_non_null(strstr(history, "worker_lost"));
    free(history);
    job_free(job);
    engine_stop(engine, 1000);
    assert_int_equal(count_rows(f, "orphan", NULL), 25);
    assert_int_equal(count_rows(f, "orphan", "id BETWEEN 1 AND 25"), 25);
    import_root_remove(&root);
}

/*
 * lost_job - while the job streams, someone else becomes its owner (as
 * after a rescue and a new claim). delay_ms 0: the file ends at once, so
 * the commit's fence catches it; longer: the heartbeat notices first and
 * stops the import. Either way nothing lands and nothing is recorded.
 */
static void lost_job(void **state, const char *table, int64_t delay_ms)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    create_table(f, table);
    char name[64];
    snprintf(name, sizeof(name), "%s.csv", table);
    struct fifo_source src;
    fifo_source_start(&src, &root, name);
    char id[UUID_STR_LEN];
    create_csv_job(f, table, name, "upsert", NULL, id);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    struct metrics *metrics = NULL;
    struct iq_error err = {0};
    assert_int_equal(metrics_new(&metrics, &err), 0);
    opts.metrics = metrics;
    struct engine *engine = start_engine(&opts);
    engine_wake(engine);
    job_free(wait_status(f, id, STATUS_BIT(JOB_RUNNING), 5000));
    fifo_source_wait_rows(&src, 2000, 10000);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "UPDATE stg_import_queue SET worker = 'thief/w0', attempt = attempt + 1"
             " WHERE id = '%s'",
             id);
    assert_int_equal(fixture_sql_exec(f, sql), 0);
    sleep_ms(delay_ms);
    fifo_source_finish(&src); /* the file ends: the import tries to land it */
    sleep_ms(1000);
    struct job *job = get_job(f, id);
    assert_int_equal(job->status, JOB_RUNNING); /* untouched: not ours to finish */
    assert_string_equal(job->worker, "thief/w0");
    job_free(job);
    engine_stop(engine, 1000);
    assert_int_equal(count_rows(f, table, NULL), 0);
    assert_true(metric_value(metrics, "importq_jobs_finished_total{outcome=\"lost\"}") == 1);
    assert_true(metric_value(metrics, "importq_rows_imported_total") == 0);
    metrics_free(metrics);
    import_root_remove(&root);
}

static void test_lost_job_lands_nothing(void **state)
{
    lost_job(state, "stolen_at_commit", 0);
    lost_job(state, "stolen_while_reading", 800);
}

/* ---- bad sources, rejects, named targets -------------------------------- */

static void test_source_escaping_root_fails_without_retry(void **state)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    char link[256];
    snprintf(link, sizeof(link), "%s/escape.csv", root.dir);
    assert_int_equal(symlink("/etc/hostname", link), 0);
    char id[UUID_STR_LEN];
    create_csv_job(f, "escaped", "escape.csv", "append", "\"max_attempts\": 3", id);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    struct engine *engine = start_engine(&opts);
    engine_wake(engine);
    struct job *job = wait_status(f, id, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_FAILED);
    assert_string_equal(error_code(job), "invalid_source");
    assert_int_equal(job->attempt, 1);
    job_free(job);
    engine_stop(engine, 1000);
    import_root_remove(&root);
}

static int count_reject_cb(const struct job_reject_row *row, void *ctx)
{
    (void)row;
    (*(int *)ctx)++;
    return 0;
}

static int count_rejects(struct fixture *f, const char *id)
{
    int count = 0;
    struct iq_error err = {0};
    if (store_job_rejects_each(f->store, id, count_reject_cb, &count, &err) < 0)
        fail_msg("rejects: %s", iq_error_message(&err));
    return count;
}

/*
 * note_rejects_at_completion - a trigger that writes down, at the moment a
 * job becomes COMPLETED (inside that transaction), how many rejects it has
 * (table completed_rejects), so a test sees what a client reading the job
 * right after its completion would find.
 */
static void note_rejects_at_completion(struct fixture *f)
{
    if (is_postgres(f))
        fixture_exec_fmt(f,
                         "CREATE TABLE completed_rejects (job_id uuid, rejects bigint);"
                         "CREATE FUNCTION note_rejects() RETURNS trigger LANGUAGE plpgsql AS $$"
                         " BEGIN INSERT INTO completed_rejects SELECT NEW.id, count(*)"
                         " FROM importq_job_rejects WHERE job_id = NEW.id; RETURN NEW; END $$;"
                         "CREATE TRIGGER note_rejects AFTER UPDATE ON stg_import_queue FOR EACH ROW"
                         " WHEN (NEW.status = 'COMPLETED' AND OLD.status <> 'COMPLETED')"
                         " EXECUTE FUNCTION note_rejects()");
    else
        fixture_exec_fmt(f,
                         "CREATE TABLE completed_rejects (job_id TEXT, rejects INTEGER);"
                         "CREATE TRIGGER note_rejects AFTER UPDATE OF status ON stg_import_queue"
                         " WHEN NEW.status = 'COMPLETED' AND OLD.status <> 'COMPLETED' BEGIN"
                         " INSERT INTO completed_rejects SELECT NEW.id, count(*)"
                         " FROM importq_job_rejects WHERE job_id = NEW.id; END");
}

static void test_rejects_are_kept_and_rejected_jobs_do_not_retry(void **state)
{
    struct fixture *f = FIX(state);
    note_rejects_at_completion(f);
    struct import_root root;
    import_root_make(&root);
    write_file(&root, "bad.csv", "id,label\n1,one\nnot-a-number,two\n3,three\nx,four\n");
    char aborted[UUID_STR_LEN], skipped[UUID_STR_LEN];
    create_csv_job(f, "aborted", "bad.csv", "append", "\"max_attempts\": 3", aborted);
    create_csv_job(f, "skipped", "bad.csv", "append",
                   "\"on_error\": {\"action\": \"skip\", \"max_rejects\": 10}", skipped);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    struct engine *engine = start_engine(&opts);
    engine_wake(engine);

    struct job *job = wait_status(f, aborted, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_FAILED);
    assert_string_equal(error_code(job), "rejected");
    assert_int_equal(job->attempt, 1); /* the same file gives the same rows */
    job_free(job);
    assert_true(count_rejects(f, aborted) >= 1);

    job = wait_status(f, skipped, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_COMPLETED);
    assert_int_equal(job->result.rows_inserted, 2);
    assert_int_equal(job->result.rows_rejected, 2);
    job_free(job);
    /* The rejects are committed with the job's completion, never after it. */
    assert_int_equal(count_rejects(f, skipped), 2);
    assert_int_equal(fixture_int_fmt(f, "SELECT rejects FROM completed_rejects WHERE job_id = '%s'",
                                     skipped), 2);
    char where[128];
    snprintf(where, sizeof(where), "job_id = '%s'", skipped);
    assert_true(count_rows(f, "stg_import_performance", where) >= 1);
    engine_stop(engine, 1000);
    assert_int_equal(count_rows(f, "skipped", NULL), 2);
    import_root_remove(&root);
}

static int64_t sqlite_count(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int64_t value = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK) {
        sqlite3_stmt *stmt = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
            sqlite3_step(stmt) == SQLITE_ROW)
            value = sqlite3_column_int64(stmt, 0);
        sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return value;
}

static void test_named_target_database(void **state)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    write_rows(&root, "side.csv", 1, 7);
    char side_path[128], side_url[160];
    snprintf(side_path, sizeof(side_path), "%s/side.db", root.dir);
    snprintf(side_url, sizeof(side_url), "sqlite:%s", side_path);
    struct config cfg;
    assert_int_equal(config_init(&cfg), 0);
    struct iq_error err = {0};
    assert_int_equal(config_set_target(&cfg, "side", side_url, &err), 0);

    char id[UUID_STR_LEN], unknown[UUID_STR_LEN];
    create_job(f,
               "{\"source\": {\"path\": \"side.csv\"}, \"target\": {\"database\": \"side\","
               " \"table\": \"sidecar\", \"mode\": \"append\", \"create\": true, \"columns\":"
               " [{\"name\": \"id\", \"type\": \"bigint\"}, {\"name\": \"label\", \"type\": \"text\"}]}}",
               id);
    create_job(f,
               "{\"source\": {\"path\": \"side.csv\"}, \"target\": {\"database\": \"nowhere\","
               " \"table\": \"sidecar\", \"mode\": \"append\"}}",
               unknown);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    opts.config = &cfg;
    struct engine *engine = start_engine(&opts);
    engine_wake(engine);
    struct job *job = wait_status(f, id, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_COMPLETED);
    assert_int_equal(job->result.rows_inserted, 7);
    job_free(job);
    job = wait_status(f, unknown, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_FAILED);
    assert_string_equal(error_code(job), "invalid_target");
    assert_int_equal(job->attempt, 1);
    job_free(job);
    engine_stop(engine, 1000);
    assert_int_equal(sqlite_count(side_path, "SELECT count(*) FROM sidecar"), 7);
    config_clear(&cfg);
    import_root_remove(&root);
}

/* ---- shutdown ----------------------------------------------------------- */

static void test_shutdown_requeues_running_job(void **state)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    create_table(f, "interrupted");
    struct fifo_source src;
    fifo_source_start(&src, &root, "interrupted.csv");
    char id[UUID_STR_LEN];
    create_csv_job(f, "interrupted", "interrupted.csv", "upsert", NULL, id);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    struct engine *engine = start_engine(&opts);
    char node_id[UUID_STR_LEN];
    memcpy(node_id, engine_node_id(engine), UUID_STR_LEN);
    engine_wake(engine);
    job_free(wait_status(f, id, STATUS_BIT(JOB_RUNNING), 5000));
    fifo_source_wait_rows(&src, 2000, 10000);

    int64_t asked = time_monotonic_ms();
    engine_stop(engine, 300); /* the job will not finish in the grace period */
    int64_t took = time_monotonic_ms() - asked;
    fifo_source_finish(&src);
    assert_true(took < 3000);
    struct job *job = get_job(f, id);
    assert_int_equal(job->status, JOB_QUEUED); /* for another node, at once */
    assert_true(job->available_at_ms <= time_now_ms());
    char *history = attempts_text(job);
    assert_non_null(strstr(history, "shutdown"));
    free(history);
    job_free(job);
    assert_int_equal(count_rows(f, "interrupted", NULL), 0);
    struct node_list nodes = {0};
    struct iq_error err = {0};
    assert_int_equal(store_nodes_list(f->store, &nodes, &err), 0);
    struct node_info *node = find_node(&nodes, node_id);
    assert_non_null(node);
    assert_string_equal(node->status, "stopped");
    node_list_clear(&nodes);

    /* The next node picks it up. */
    write_rows(&root, "interrupted.csv", 1, 9);
    engine = start_engine(&opts);
    job = wait_status(f, id, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_COMPLETED);
    job_free(job);
    engine_stop(engine, 1000);
    assert_int_equal(count_rows(f, "interrupted", NULL), 9);
    import_root_remove(&root);
}

/* add_upload - a spooled file and its row, as POST /uploads leaves them. */
static void add_upload(struct fixture *f, const struct import_root *root, const char *content,
                       char ret_id[UUID_STR_LEN])
{
    struct upload_info info = {0};
    uuid7_generate(info.id);
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root->dir, info.id);
    write_file(root, info.id, content);
    info.bytes = (int64_t)strlen(content);
    snprintf(info.sha256, sizeof(info.sha256), "%064d", 0);
    info.path = path;
    struct iq_error err = {0};
    if (store_upload_create(f->store, &info, &test_actor, &err) < 0)
        fail_msg("upload_create: %s", iq_error_message(&err));
    memcpy(ret_id, info.id, UUID_STR_LEN);
}

static void test_uploads_swept_after_their_job_completed(void **state)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    char used[UUID_STR_LEN], unused[UUID_STR_LEN], id[UUID_STR_LEN];
    add_upload(f, &root, "id,label\n1,a\n2,b\n", used);
    add_upload(f, &root, "id,label\n3,c\n", unused);
    char json[1024];
    snprintf(json, sizeof(json),
             "{\"source\": {\"format\": \"csv\", \"upload\": \"%s\"},"
             " \"target\": {\"table\": \"from_upload\", \"create\": true, \"columns\":"
             " [{\"name\": \"id\", \"type\": \"bigint\"}, {\"name\": \"label\"}]}}",
             used);
    create_job(f, json, id);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    opts.upload_sweep_every_ms = 100;
    struct engine *engine = start_engine(&opts);
    engine_wake(engine);
    struct job *job = wait_status(f, id, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_COMPLETED);
    job_free(job);
    assert_int_equal(count_rows(f, "from_upload", NULL), 2);
    char used_path[512], unused_path[512];
    snprintf(used_path, sizeof(used_path), "%s/%s", root.dir, used);
    snprintf(unused_path, sizeof(unused_path), "%s/%s", root.dir, unused);
    for (int i = 0; i < 100 && access(used_path, F_OK) == 0; i++)
        sleep_ms(50);
    engine_stop(engine, 1000);
    assert_int_not_equal(access(used_path, F_OK), 0); /* swept: its job completed */
    assert_int_equal(access(unused_path, F_OK), 0);   /* kept: within retention */
    struct upload_info info = {0};
    struct iq_error err = {0};
    assert_int_equal(store_upload_get(f->store, used, &info, &err), IQ_E_NOT_FOUND);
    iq_error_clear(&err);
    assert_int_equal(store_upload_get(f->store, unused, &info, &err), 0);
    upload_info_clear(&info);
    import_root_remove(&root);
}

/* A failure that would fail again ends the job at its first attempt, with
 * max_attempts left: a missing source file, and a row that breaks the
 * table's primary key (the rows before it land nowhere). */
static void test_permanent_failures_are_not_retried(void **state)
{
    struct fixture *f = FIX(state);
    struct import_root root;
    import_root_make(&root);
    fixture_exec_fmt(f, "CREATE TABLE keyed (id bigint PRIMARY KEY, label text)");
    fixture_exec_fmt(f, "INSERT INTO keyed VALUES (2, 'there before')");
    write_rows(&root, "dup.csv", 1, 3); /* ids 1, 2, 3: 2 is taken */
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    struct engine *engine = start_engine(&opts);
    char missing[UUID_STR_LEN], dup[UUID_STR_LEN];
    create_csv_job(f, "nowhere", "nowhere.csv", "append", "\"max_attempts\": 3", missing);
    create_csv_job(f, "keyed", "dup.csv", "append", "\"max_attempts\": 3", dup);
    engine_wake(engine);
    static const struct {
        const char *code;
    } want[] = {{"source_not_found"}, {"constraint_violation"}};
    const char *ids[] = {missing, dup};
    for (int i = 0; i < 2; i++) {
        struct job *job = wait_status(f, ids[i], FINAL_STATUSES, JOB_END_BOUND_MS);
        assert_int_equal(job->status, JOB_FAILED);
        assert_int_equal(job->attempt, 1);
        assert_string_equal(error_code(job), want[i].code);
        const char *message = json_string_value(json_object_get(job->error, "message"));
        assert_non_null(message);
        assert_non_null(strstr(message, "(permanent: not retried)"));
        job_free(job);
    }
    engine_stop(engine, 1000);
    assert_int_equal(count_rows(f, "keyed", NULL), 1);
    import_root_remove(&root);
}

/*
 * The history older than its retention goes on the sweep's beat (the fake
 * clock says how old), newer stays: lock history, the performance records
 * of an old attempt, a resolved alert; an open alert stays however old.
 */
static void test_history_pruned_after_retention(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    struct import_root root;
    import_root_make(&root);
    int64_t hour = 3600 * 1000;
    int64_t start = fake_clock_now(&f->clock);
    fake_clock_advance(&f->clock, 3 * hour);
    int64_t now = fake_clock_now(&f->clock);
    char old_acquired[TIME_RFC3339_LEN], old_released[TIME_RFC3339_LEN];
    char new_acquired[TIME_RFC3339_LEN], new_released[TIME_RFC3339_LEN];
    time_format_rfc3339(start, old_acquired);
    time_format_rfc3339(start + 5000, old_released);
    time_format_rfc3339(now - 600 * 1000, new_acquired);
    time_format_rfc3339(now - 600 * 1000 + 5000, new_released);
    fixture_exec_fmt(f,
                     "INSERT INTO importq_lock_history (name, mode, job_id, attempt, acquired_at,"
                     " released_at, waited_ms, how) VALUES"
                     " ('table:old', 'exclusive', '01900000-0000-7000-8000-000000000001', 1, '%s',"
                     " '%s', 0, 'finished'),"
                     " ('table:new', 'exclusive', '01900000-0000-7000-8000-000000000002', 1, '%s',"
                     " '%s', 0, 'finished')",
                     old_acquired, old_released, new_acquired, new_released);
    fixture_submit(f->store, "t_old");
    fixture_submit(f->store, "t_new");
    fixture_exec_fmt(f,
                     "UPDATE stg_import_queue SET status = 'HELD';"
                     " INSERT INTO stg_import_performance (job_id, attempt, target_table, phase,"
                     " started_at, duration_ms) SELECT id, 1, target_table, 'read', '%s', 10"
                     " FROM stg_import_queue WHERE target_table = 't_old';"
                     " INSERT INTO stg_import_performance (job_id, attempt, target_table, phase,"
                     " started_at, duration_ms) SELECT id, 1, target_table, 'read', '%s', 10"
                     " FROM stg_import_queue WHERE target_table = 't_new';"
                     " INSERT INTO stg_import_monitoring (kind, rule, severity, state, entity,"
                     " entity_id, created_at, resolved_at) VALUES"
                     " ('alert', 'test_rule', 'warning', 'resolved', 'queue', 'old', '%s', '%s'),"
                     " ('alert', 'test_rule', 'warning', 'resolved', 'queue', 'new', '%s', '%s'),"
                     " ('alert', 'test_rule', 'warning', 'open', 'queue', 'open', '%s', NULL)",
                     old_acquired, new_acquired, old_acquired, old_released, new_acquired,
                     new_released, old_acquired);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    opts.clock = &f->clock.clock;
    opts.upload_sweep_every_ms = 100;
    opts.lock_history_retention_ms = hour;
    opts.performance_retention_ms = hour;
    opts.alert_retention_ms = hour;
    struct engine *engine = start_engine(&opts);
    /* the sweep's beat is real time: wait for it (bounded), not for the clock */
    for (int i = 0; i < 600 && fixture_sql_int(f, "SELECT count(*) FROM stg_import_monitoring"
                                                  " WHERE entity_id = 'old'") > 0; i++)
        sleep_ms(50);
    engine_stop(engine, 1000);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM importq_lock_history"
                                        " WHERE name = 'table:old'"), 0);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM importq_lock_history"
                                        " WHERE name = 'table:new'"), 1);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_performance"
                                        " WHERE target_table = 't_old'"), 0);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_performance"
                                        " WHERE target_table = 't_new'"), 1);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_monitoring"
                                        " WHERE kind = 'alert' AND entity_id IN ('new', 'open')"),
                     2);
    import_root_remove(&root);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_node_registered_and_stopped, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_priority_then_fifo_with_one_worker, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_random_dag_completes_in_topological_order, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_timeout_fails_and_lands_nothing, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_retry_with_backoff_until_the_root_is_back, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_permanent_failures_are_not_retried, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_cancel_queued_and_held, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_cancel_running_stops_within_2s, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_writers_get_in_while_job_loads, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_execute_held_and_failed, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_rescue_of_vanished_worker, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_lost_job_lands_nothing, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_source_escaping_root_fails_without_retry, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_rejects_are_kept_and_rejected_jobs_do_not_retry, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_named_target_database, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_shutdown_requeues_running_job, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_uploads_swept_after_their_job_completed, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_history_pruned_after_retention, fixture_setup, fixture_teardown),
};

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* FIFO writers see EPIPE when an import stops reading */
    return fixture_run_backends("engine", "engine tests", tests, sizeof(tests) / sizeof(tests[0]));
}
