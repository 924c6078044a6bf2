/*
 * test_dry_run.c - dry runs (target.dry_run) of whole imports on both
 * backends: for every mode the counts a dry run predicts are checked
 * against the real run that follows on the same data, and the target is
 * byte for byte what it was after the dry run (an ordered dump of every
 * column, and on PostgreSQL its oid: no shadow was swapped in). Also:
 * rejects are reported with their reasons and abort's limit fails the dry
 * run only at the end, a missing table with create is counted but not
 * created, children, and a key whose values compare by the column's type.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pipeline/import.h"
#include "support/store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX(state) ((struct fixture *)*(state))

struct outcome {
    int rc;
    struct import_result result;
    int rejects;
    char reject_text[4096]; /* "line:column:error;" ... */
    char message[512];
};

static int collect_reject_cb(const struct import_reject *r, void *ctx)
{
    struct outcome *out = ctx;
    out->rejects++;
    size_t used = strlen(out->reject_text);
    snprintf(out->reject_text + used, sizeof(out->reject_text) - used, "%lld:%s:%s;",
             (long long)r->line, r->column ? r->column : "-", r->error);
    return 0;
}

/* Runs spec_json (dry_run set as asked) on a file holding content. */
static void run(void **state, const char *spec_json, bool dry_run, const char *file_name,
                const char *content, struct outcome *out)
{
    memset(out, 0, sizeof(*out));
    char dir[] = "/tmp/importq-dry-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, file_name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
    fclose(f);
    struct job_spec *spec = spec_from_json(spec_json);
    spec->target.dry_run = dry_run;
    struct iq_error err = {0};
    struct import_request req = {
        .source = &spec->source,
        .target = &spec->target,
        .on_error = &spec->on_error,
        .path = path,
        .store = FIX(state)->store,
        .reject_cb = collect_reject_cb,
        .reject_ctx = out,
    };
    out->rc = import_run(&req, &out->result, &err);
    snprintf(out->message, sizeof(out->message), "%s", err.message ? err.message : "");
    iq_error_clear(&err);
    job_spec_free(spec);
    unlink(path);
    rmdir(dir);
}

static void expect_ok(const struct outcome *out)
{
    if (out->rc != 0)
        fail_msg("import failed (%d): %s", out->rc, out->message);
}

static bool is_postgres(void **state)
{
    return strcmp(FIX(state)->backend, "postgres") == 0;
}

/* The table every mode loads into, and its four rows. */
static void create_items(void **state)
{
    assert_int_equal(
        fixture_sql_exec(
            FIX(state), "CREATE TABLE items (id bigint PRIMARY KEY, name text, qty integer,"
                        " price numeric, active boolean);"
                        " INSERT INTO items VALUES (1, 'a', 1, 1.5, true), (2, 'b', 2, 2.5, false),"
                        " (3, 'c', 3, 3.5, NULL), (4, 'd', NULL, 4.5, true)"),
        0);
}

/* Every row of table, every column, in key order: what "unchanged" means. */
static char *dump(void **state, const char *table)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT CAST(id AS text) || ',' || coalesce(name, '~') || ','"
             " || coalesce(CAST(qty AS text), '~') || ',' || coalesce(CAST(price AS text), '~')"
             " || ',' || CASE WHEN active THEN 't' WHEN NOT active THEN 'f' ELSE '~' END"
             " FROM %s ORDER BY id",
             table);
    return fixture_sql_text(FIX(state), sql);
}

/* The target's identity: its oid on PostgreSQL (a swap makes a new one), else 0. */
static int64_t table_oid(void **state, const char *table)
{
    if (!is_postgres(state))
        return 0;
    return fixture_int_fmt(FIX(state), "SELECT '%s'::regclass::oid::bigint", table);
}

/*
 * dry_then_real - a dry run of spec on content, which must leave items
 * exactly as it was, then the real run; both must succeed.
 */
static void dry_then_real(void **state, const char *spec, const char *content, struct outcome *dry,
                          struct outcome *real)
{
    char *before = dump(state, "items");
    int64_t oid = table_oid(state, "items");
    run(state, spec, true, "i.csv", content, dry);
    expect_ok(dry);
    assert_true(dry->result.dry_run);
    char *after = dump(state, "items");
    assert_string_equal(after, before);
    assert_int_equal(table_oid(state, "items"), oid);
    free(before);
    free(after);
    run(state, spec, false, "i.csv", content, real);
    expect_ok(real);
    assert_false(real->result.dry_run);
}

/* Row 1 as the table has it, row 2 changed (its name), rows 5 and 6 new. */
static const char items_csv[] = "id,name,qty,price,active\n"
                                "1,a,1,1.5,true\n"
                                "2,B,2,2.5,false\n"
                                "5,e,5,5.5,\n"
                                "6,f,,6.5,true\n";

static void test_upsert_predicts_the_real_run(void **state)
{
    create_items(state);
    struct outcome dry, real;
    dry_then_real(state,
                  "{\"source\": {\"path\": \"i.csv\"}, \"target\": {\"table\": \"items\","
                  " \"mode\": \"upsert\", \"key\": [\"id\"]}}",
                  items_csv, &dry, &real);
    assert_int_equal(dry.result.rows_read, 4);
    assert_int_equal(dry.result.rows_inserted, 2);  /* 5, 6 */
    assert_int_equal(dry.result.rows_updated, 1);   /* 2: name b -> B */
    assert_int_equal(dry.result.rows_unchanged, 1); /* 1 */
    assert_int_equal(dry.result.rows_deleted, 0);
    assert_false(dry.result.creates_target);
    /* The real upsert rewrites the unchanged row too, and counts it updated. */
    assert_int_equal(real.result.rows_inserted, dry.result.rows_inserted);
    assert_int_equal(real.result.rows_updated, dry.result.rows_updated + dry.result.rows_unchanged);
    assert_int_equal(real.result.rows_deleted, dry.result.rows_deleted);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM items"), 6);
    /* Again: now every row is there as the file has it. */
    run(state,
        "{\"source\": {\"path\": \"i.csv\"}, \"target\": {\"table\": \"items\","
        " \"mode\": \"upsert\", \"key\": [\"id\"], \"dry_run\": true}}",
        true, "i.csv", items_csv, &dry);
    expect_ok(&dry);
    assert_int_equal(dry.result.rows_inserted, 0);
    assert_int_equal(dry.result.rows_updated, 0);
    assert_int_equal(dry.result.rows_unchanged, 4);
}

static void test_insert_predicts_the_real_run(void **state)
{
    create_items(state);
    struct outcome dry, real;
    /* skip: the keys the table has are rejected, the new rows land */
    dry_then_real(state,
                  "{\"source\": {\"path\": \"i.csv\"}, \"target\": {\"table\": \"items\","
                  " \"key\": [\"id\"]}, \"on_error\": {\"action\": \"skip\"}}",
                  items_csv, &dry, &real);
    assert_int_equal(dry.result.rows_inserted, 2);
    assert_int_equal(dry.result.rows_rejected, 2);
    assert_int_equal(dry.rejects, 2);
    assert_non_null(strstr(dry.reject_text, "2:id:key (id)=(1) already exists;"));
    assert_int_equal(dry.result.rows_updated + dry.result.rows_unchanged + dry.result.rows_deleted,
                     0);
    assert_int_equal(real.result.rows_inserted, dry.result.rows_inserted);
    assert_int_equal(real.result.rows_rejected, dry.result.rows_rejected);
    assert_string_equal(real.reject_text, dry.reject_text);
}

static void test_append_predicts_the_real_run(void **state)
{
    create_items(state);
    struct outcome dry, real;
    /* abort with no rejects allowed: a direct load for real, staged when dry */
    dry_then_real(state,
                  "{\"source\": {\"path\": \"i.csv\"}, \"target\": {\"table\": \"items\","
                  " \"mode\": \"append\"}}",
                  "id,name\n7,g\n8,h\n9,i\n", &dry, &real);
    assert_int_equal(dry.result.rows_inserted, 3);
    assert_int_equal(real.result.rows_inserted, dry.result.rows_inserted);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM items"), 7);
}

static void test_replace_by_key_predicts_the_real_run(void **state)
{
    create_items(state);
    struct outcome dry, real;
    dry_then_real(state,
                  "{\"source\": {\"path\": \"i.csv\"}, \"target\": {\"table\": \"items\","
                  " \"mode\": \"replace\", \"key\": [\"id\"]}}",
                  items_csv, &dry, &real);
    assert_int_equal(dry.result.rows_inserted, 2);  /* 5, 6 */
    assert_int_equal(dry.result.rows_updated, 1);   /* 2 */
    assert_int_equal(dry.result.rows_unchanged, 1); /* 1 */
    assert_int_equal(dry.result.rows_deleted, 2);   /* 3, 4 */
    /* The real replace deletes every old row and inserts every new one. */
    int64_t kept = dry.result.rows_updated + dry.result.rows_unchanged;
    assert_int_equal(real.result.rows_inserted, dry.result.rows_inserted + kept);
    assert_int_equal(real.result.rows_deleted, dry.result.rows_deleted + kept);
    char *rows = dump(state, "items");
    assert_string_equal(rows, "1,a,1,1.5,t\n2,B,2,2.5,f\n5,e,5,5.5,~\n6,f,~,6.5,t");
    free(rows);
}

/* Without a key (none given, no primary key): every row goes, every row comes. */
static void test_replace_without_key_predicts_the_real_run(void **state)
{
    assert_int_equal(
        fixture_sql_exec(FIX(state),
                         "CREATE TABLE items (id bigint, name text, qty integer, price numeric,"
                         " active boolean); INSERT INTO items VALUES (1, 'a', 1, 1.5, true),"
                         " (2, 'b', 2, 2.5, false), (3, 'c', 3, 3.5, NULL)"),
        0);
    struct outcome dry, real;
    /* On PostgreSQL the real one swaps a frozen shadow in (a new oid);
     * the dry run made none (dry_then_real checks the oid). */
    int64_t oid = table_oid(state, "items");
    dry_then_real(state,
                  "{\"source\": {\"path\": \"i.csv\"}, \"target\": {\"table\": \"items\","
                  " \"mode\": \"replace\"}}",
                  items_csv, &dry, &real);
    assert_int_equal(dry.result.rows_inserted, 4);
    assert_int_equal(dry.result.rows_deleted, 3);
    assert_int_equal(dry.result.rows_updated + dry.result.rows_unchanged, 0);
    assert_int_equal(real.result.rows_inserted, dry.result.rows_inserted);
    assert_int_equal(real.result.rows_deleted, dry.result.rows_deleted);
    if (is_postgres(state))
        assert_true(table_oid(state, "items") != oid);
    /* skip with a bad row: still staged, still predicted */
    dry_then_real(state,
                  "{\"source\": {\"path\": \"i.csv\"}, \"target\": {\"table\": \"items\","
                  " \"mode\": \"replace\"}, \"on_error\": {\"action\": \"skip\"}}",
                  "id,name,qty\n10,j,1\n11,k,many\n12,l,3\n", &dry, &real);
    assert_int_equal(dry.result.rows_inserted, 2);
    assert_int_equal(dry.result.rows_deleted, 4);
    assert_int_equal(dry.result.rows_rejected, 1);
    assert_int_equal(real.result.rows_inserted, 2);
    assert_int_equal(real.result.rows_deleted, 4);
}

/* A replace with no key given matches by the table's primary key. */
static void test_replace_by_primary_key(void **state)
{
    create_items(state);
    struct outcome dry, real;
    dry_then_real(state,
                  "{\"source\": {\"path\": \"i.csv\"}, \"target\": {\"table\": \"items\","
                  " \"mode\": \"replace\"}}",
                  items_csv, &dry, &real);
    assert_int_equal(dry.result.rows_inserted, 2);
    assert_int_equal(dry.result.rows_updated, 1);
    assert_int_equal(dry.result.rows_unchanged, 1);
    assert_int_equal(dry.result.rows_deleted, 2);
    assert_int_equal(real.result.rows_inserted, 4);
    assert_int_equal(real.result.rows_deleted, 4);
}

/* Every loaded column in the key: nothing to update (DO NOTHING). */
static void test_upsert_of_key_only_columns(void **state)
{
    create_items(state);
    struct outcome dry, real;
    dry_then_real(state,
                  "{\"source\": {\"path\": \"i.csv\"}, \"target\": {\"table\": \"items\","
                  " \"mode\": \"upsert\", \"key\": [\"id\"]}}",
                  "id\n1\n2\n30\n", &dry, &real);
    assert_int_equal(dry.result.rows_inserted, 1);
    assert_int_equal(dry.result.rows_updated, 0);
    assert_int_equal(dry.result.rows_unchanged, 2);
    assert_int_equal(real.result.rows_inserted, 1);
    assert_int_equal(real.result.rows_updated, 0);
}

/*
 * Rejects: every bad row is reported with its reason even under abort
 * (where the real run stops at the first), and the dry run then fails as
 * the real one would, writing nothing.
 */
static void test_rejects_are_all_reported(void **state)
{
    create_items(state);
    char *before = dump(state, "items");
    const char *bad = "id,name,qty\n1,a,x\n2,b,2\n2,c,3\n,d,4\n7,e,y\n";
    struct outcome dry;
    run(state,
        "{\"source\": {\"path\": \"i.csv\"}, \"target\": {\"table\": \"items\","
        " \"mode\": \"upsert\", \"key\": [\"id\"]}}",
        true, "i.csv", bad, &dry);
    assert_int_equal(dry.rc, IQ_E_REJECTED);
    assert_non_null(strstr(dry.message, "the import would fail"));
    assert_int_equal(dry.result.rows_read, 5);
    assert_int_equal(dry.result.rows_rejected, 4);
    assert_non_null(strstr(dry.reject_text, "2:qty:"));
    assert_non_null(strstr(dry.reject_text, "6:qty:"));
    assert_non_null(strstr(dry.reject_text, "key column id is NULL"));
    assert_non_null(strstr(dry.reject_text, "duplicate key (id)=(2) in file, first on line 3"));
    char *after = dump(state, "items");
    assert_string_equal(after, before);
    free(after);
    /* The real run stops at the first bad row. */
    struct outcome real;
    run(state,
        "{\"source\": {\"path\": \"i.csv\"}, \"target\": {\"table\": \"items\","
        " \"mode\": \"upsert\", \"key\": [\"id\"]}}",
        false, "i.csv", bad, &real);
    assert_int_equal(real.rc, IQ_E_REJECTED);
    assert_int_equal(real.rejects, 1);
    /* skip: the same rejects, and the good row's prediction */
    run(state,
        "{\"source\": {\"path\": \"i.csv\"}, \"target\": {\"table\": \"items\","
        " \"mode\": \"upsert\", \"key\": [\"id\"]}, \"on_error\": {\"action\": \"skip\"}}",
        true, "i.csv", bad, &dry);
    expect_ok(&dry);
    assert_int_equal(dry.result.rows_rejected, 4);
    assert_int_equal(dry.result.rows_updated, 0);
    assert_int_equal(dry.result.rows_unchanged, 1); /* 2,b,2 is there as it is */
    after = dump(state, "items");
    assert_string_equal(after, before);
    free(after);
    free(before);
}

/* A missing table with create: counted as new, said so, and not created. */
static void test_create_leaves_no_table(void **state)
{
    const char *spec =
        "{\"source\": {\"path\": \"i.csv\"}, \"target\": {\"table\": \"fresh\", \"create\": true,"
        " \"mode\": \"upsert\", \"key\": [\"id\"], \"columns\": [{\"name\": \"id\", \"type\":"
        " \"bigint\"}, {\"name\": \"name\", \"type\": \"text\"}]}}";
    struct outcome dry;
    run(state, spec, true, "i.csv", "id,name\n1,a\n2,b\n", &dry);
    expect_ok(&dry);
    assert_true(dry.result.creates_target);
    assert_int_equal(dry.result.rows_inserted, 2);
    const char *exists = is_postgres(state)
                             ? "SELECT count(*) FROM pg_class WHERE relname = 'fresh'"
                             : "SELECT count(*) FROM sqlite_master WHERE name = 'fresh'";
    assert_int_equal(fixture_sql_int(FIX(state), exists), 0);
    struct outcome real;
    run(state, spec, false, "i.csv", "id,name\n1,a\n2,b\n", &real);
    expect_ok(&real);
    assert_int_equal(real.result.rows_inserted, dry.result.rows_inserted);
    assert_int_equal(fixture_sql_int(FIX(state), exists), 1);
    run(state, spec, true, "i.csv", "id,name\n1,a\n2,b\n", &dry);
    expect_ok(&dry);
    assert_false(dry.result.creates_target);
    assert_int_equal(dry.result.rows_unchanged, 2);
}

/* Children: counted per table, summed like the real run's counts. */
static void test_children_predict_the_real_run(void **state)
{
    const char *spec =
        "{\"source\": {\"path\": \"s.json\", \"json\": {\"records\": \"/steps\"}},"
        " \"target\": {\"table\": \"steps\", \"create\": true, \"mode\": \"upsert\", \"key\": "
        "[\"step_id\"],"
        " \"columns\": [{\"name\": \"step_id\", \"type\": \"integer\"}, {\"name\": \"title\", "
        "\"type\": \"text\"}],"
        " \"children\": [{\"table\": \"step_tasks\", \"from\": \"/tasks\","
        " \"parent_key\": {\"step_id\": \"step_id\"}, \"key\": [\"step_id\", \"seq\"],"
        " \"columns\": [{\"name\": \"seq\", \"type\": \"integer\"}, {\"name\": \"text\", \"type\": "
        "\"text\"}]}]}}";
    struct outcome first;
    run(state, spec, false, "s.json",
        "{\"steps\": [{\"step_id\": 1, \"title\": \"A\", \"tasks\": [{\"seq\": 1, \"text\": "
        "\"x\"}]},"
        " {\"step_id\": 2, \"title\": \"B\", \"tasks\": []}]}",
        &first);
    expect_ok(&first);
    const char *next =
        "{\"steps\": [{\"step_id\": 1, \"title\": \"A\", \"tasks\": [{\"seq\": 1, \"text\": \"y\"},"
        " {\"seq\": 2, \"text\": \"z\"}]}, {\"step_id\": 3, \"title\": \"C\", \"tasks\": []}]}";
    struct outcome dry, real;
    run(state, spec, true, "s.json", next, &dry);
    expect_ok(&dry);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM step_tasks"), 1);
    /* steps: 1 unchanged, 3 new; tasks: (1,1) changed, (1,2) new */
    assert_int_equal(dry.result.rows_inserted, 2);
    assert_int_equal(dry.result.rows_updated, 1);
    assert_int_equal(dry.result.rows_unchanged, 1);
    run(state, spec, false, "s.json", next, &real);
    expect_ok(&real);
    assert_int_equal(real.result.rows_inserted, dry.result.rows_inserted);
    assert_int_equal(real.result.rows_updated, dry.result.rows_updated + dry.result.rows_unchanged);
}

/* Keys and values compare as the column's type holds them, not as text. */
static void test_values_compare_as_stored(void **state)
{
    create_items(state);
    struct outcome dry;
    /* "01" is the integer key 1; "1.50" is a numeric 1.50: on SQLite a
     * REAL 1.5 (the same), on PostgreSQL a numeric of another scale (a
     * change, as the table would show it) */
    run(state,
        "{\"source\": {\"path\": \"i.csv\"}, \"target\": {\"table\": \"items\","
        " \"mode\": \"upsert\", \"key\": [\"id\"], \"dry_run\": true}}",
        true, "i.csv", "id,name,price\n01,a,1.50\n", &dry);
    expect_ok(&dry);
    assert_int_equal(dry.result.rows_inserted, 0);
    if (is_postgres(state)) {
        assert_int_equal(dry.result.rows_updated, 1);
    } else {
        assert_int_equal(dry.result.rows_unchanged, 1);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_upsert_predicts_the_real_run, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_insert_predicts_the_real_run, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_append_predicts_the_real_run, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_replace_by_key_predicts_the_real_run, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_replace_without_key_predicts_the_real_run, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_replace_by_primary_key, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_upsert_of_key_only_columns, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_rejects_are_all_reported, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_create_leaves_no_table, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_children_predict_the_real_run, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_values_compare_as_stored, fixture_setup, fixture_teardown),
};

int main(void)
{
    return fixture_run_backends("dry_run", "dry-run tests", tests,
                                sizeof(tests) / sizeof(tests[0]));
}
