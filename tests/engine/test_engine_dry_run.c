/*
 * test_engine_dry_run.c - a dry-run job (target.dry_run) run by the
 * engine, on both backends: it ends COMPLETED with the counts it
 * predicts and its rejects kept, says so in its result, lands nothing,
 * and the worker goes on to the next job (a real one, whose counts the
 * dry run predicted).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine_test_support.h"

#include "core/job.h"

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

#define DRY_SPEC(name, dry)                                                                        \
    "{\"name\": \"" name "\", \"source\": {\"path\": \"rows.csv\"}, \"target\": {\"table\":"       \
    " \"items\", \"mode\": \"upsert\", \"key\": [\"id\"]" dry "}, \"on_error\": {\"action\":"      \
    " \"skip\"}}"

static void test_dry_run_job_predicts_and_lands_nothing(void **state)
{
    struct fixture *f = FIX(state);
    create_table(f, "items");
    fixture_exec_fmt(f, "INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')");
    char *before = fixture_sql_text(f, "SELECT id || ':' || label FROM items ORDER BY id");
    struct import_root root;
    import_root_make(&root);
    write_file(&root, "rows.csv", "id,label\n1,one\n2,TWO\n4,four\nx,bad\n");
    char dry[UUID_STR_LEN], real[UUID_STR_LEN];
    create_job(f, DRY_SPEC("dry", ", \"dry_run\": true"), dry);
    create_job(f, DRY_SPEC("real", ""), real);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    opts.workers = 1;
    opts.max_concurrent = 1;
    struct engine *engine = start_engine(&opts);
    engine_wake(engine);

    struct job *job = wait_status(f, dry, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_COMPLETED);
    assert_int_equal(job->result.rows_read, 4);
    assert_int_equal(job->result.rows_inserted, 1); /* 4 */
    assert_int_equal(job->result.rows_updated, 1);  /* 2: its label changes; 1 is as it is */
    assert_int_equal(job->result.rows_rejected, 1);
    json_t *resource = job_to_json(job);
    assert_true(json_is_true(json_object_get(json_object_get(resource, "result"), "dry_run")));
    assert_true(json_is_true(json_object_get(json_object_get(resource, "target"), "dry_run")));
    json_decref(resource);
    job_free(job);
    assert_int_equal(count_rejects(f, dry), 1);

    /* The real job after it (same worker, same table lock) lands the rows. */
    job = wait_status(f, real, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_COMPLETED);
    assert_int_equal(job->result.rows_inserted, 1);
    assert_int_equal(job->result.rows_updated, 2); /* the unchanged row is rewritten too */
    json_t *real_resource = job_to_json(job);
    assert_null(json_object_get(json_object_get(real_resource, "result"), "dry_run"));
    json_decref(real_resource);
    job_free(job);
    engine_stop(engine, 1000);
    assert_int_equal(count_rows(f, "items", NULL), 4);
    char *after = fixture_sql_text(f, "SELECT id || ':' || label FROM items ORDER BY id");
    assert_string_not_equal(after, before);
    free(after);
    free(before);
    import_root_remove(&root);
}

/* Between the dry run and anything else, the table is as it was. */
static void test_dry_run_job_alone_changes_nothing(void **state)
{
    struct fixture *f = FIX(state);
    create_table(f, "items");
    fixture_exec_fmt(f, "INSERT INTO items VALUES (1, 'one'), (2, 'two')");
    char *before = fixture_sql_text(f, "SELECT id || ':' || label FROM items ORDER BY id");
    struct import_root root;
    import_root_make(&root);
    write_file(&root, "rows.csv", "id,label\n5,five\n");
    char dry[UUID_STR_LEN];
    create_job(f,
               "{\"source\": {\"path\": \"rows.csv\"}, \"target\": {\"table\": \"items\","
               " \"mode\": \"replace\", \"dry_run\": true}}",
               dry);
    struct engine_options opts;
    test_engine_options(f, &root, &opts);
    struct engine *engine = start_engine(&opts);
    engine_wake(engine);
    struct job *job = wait_status(f, dry, FINAL_STATUSES, JOB_END_BOUND_MS);
    assert_int_equal(job->status, JOB_COMPLETED);
    assert_int_equal(job->result.rows_inserted, 1);
    job_free(job);
    engine_stop(engine, 1000);
    char *after = fixture_sql_text(f, "SELECT id || ':' || label FROM items ORDER BY id");
    assert_string_equal(after, before);
    free(after);
    free(before);
    import_root_remove(&root);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_dry_run_job_predicts_and_lands_nothing, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_dry_run_job_alone_changes_nothing, fixture_setup,
                                    fixture_teardown),
};

int main(void)
{
    return fixture_run_backends("engine_dry_run", "engine dry-run tests", tests,
                                sizeof(tests) / sizeof(tests[0]));
}
