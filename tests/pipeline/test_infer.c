/*
 * test_infer.c - pipeline/infer.h: each type inferred from CSV text and
 * from JSON values, the most specific that every value converts to;
 * nullability from empty fields, nulls and missing keys; a sample that
 * stops early says so; malformed files and files without columns are
 * errors. That the inferred types then load every row is the CLI test's
 * (tests/cli/test_cli_import.sh, on both backends).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pipeline/infer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *write_file(const char *suffix, const char *content)
{
    char *path = NULL;
    if (asprintf(&path, "/tmp/importq-infer-%d-%s", (int)getpid(), suffix) < 0)
        fail();
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

static struct source_spec csv_source(void)
{
    struct source_spec s = {.format = SOURCE_CSV};
    s.csv.delimiter = ',';
    s.csv.quote = '"';
    s.csv.header = true;
    s.csv.null_marker = "";
    return s;
}

static const struct inferred_column *column(const struct inferred *inf, const char *name)
{
    for (size_t i = 0; i < inf->count; i++)
        if (strcmp(inf->columns[i].name, name) == 0)
            return &inf->columns[i];
    fail_msg("no column %s", name);
    return NULL;
}

static void expect(const struct inferred *inf, const char *name, enum column_type type,
                   bool nullable)
{
    const struct inferred_column *c = column(inf, name);
    if (c->type != type || c->nullable != nullable)
        fail_msg("%s: %s%s, expected %s%s", name, column_type_name(c->type),
                 c->nullable ? " nullable" : "", column_type_name(type), nullable ? " nullable" : "");
}

static void test_csv_types(void **state)
{
    (void)state;
    char *path = write_file(
        "types.csv",
        "i,big,flag,bits,price,day,at,at_tz,id,name,empty,mixed\n"
        "1,3000000000,true,0,1.50,2024-02-29,2024-02-29 10:00:00,2024-02-29T10:00:00Z,"
        "0193a5f2-7c1e-7b2a-9f00-000000000001,Ada,,1\n"
        "-7,42,false,1,-3,1999-12-31,1999-12-31T23:59:59,1999-12-31T23:59:59+01:00,"
        "0193a5f2-7c1e-7b2a-9f00-000000000002,\"Grace, H.\",,x\n"
        ",7,,1,10,,,,,,,2\n");
    struct source_spec source = csv_source();
    struct inferred inf;
    struct iq_error err = {0};
    assert_int_equal(infer_columns(path, &source, 0, &inf, &err), 0);
    assert_int_equal(inf.rows, 3);
    assert_false(inf.sampled);
    assert_int_equal(inf.count, 12);
    assert_string_equal(inf.columns[0].name, "i"); /* source order */
    expect(&inf, "i", COLUMN_INTEGER, true);
    expect(&inf, "big", COLUMN_BIGINT, false);
    expect(&inf, "flag", COLUMN_BOOLEAN, true);
    expect(&inf, "bits", COLUMN_INTEGER, false); /* 0 and 1 are integers first */
    expect(&inf, "price", COLUMN_NUMERIC, false);
    expect(&inf, "day", COLUMN_DATE, true);
    expect(&inf, "at", COLUMN_TIMESTAMP, true);
    expect(&inf, "at_tz", COLUMN_TIMESTAMPTZ, true);
    expect(&inf, "id", COLUMN_UUID, true);
    expect(&inf, "name", COLUMN_TEXT, true);
    expect(&inf, "empty", COLUMN_TEXT, true); /* no value at all */
    expect(&inf, "mixed", COLUMN_TEXT, false);
    inferred_clear(&inf);
    /* a sample of one record: what it saw, and that it stopped early */
    assert_int_equal(infer_columns(path, &source, 1, &inf, &err), 0);
    assert_int_equal(inf.rows, 1);
    assert_true(inf.sampled);
    expect(&inf, "mixed", COLUMN_INTEGER, false);
    inferred_clear(&inf);
    unlink(path);
    free(path);
}

static void test_json_types(void **state)
{
    (void)state;
    char *path = write_file("types.ndjson",
                            "{\"id\": 1, \"tags\": [\"a\"], \"meta\": {\"k\": 1}, \"n\": 1.5, \"s\": \"x\"}\n"
                            "{\"id\": 2, \"tags\": [], \"n\": 2, \"s\": \"{\\\"a\\\": 1}\", \"late\": true}\n");
    struct source_spec source = {.format = SOURCE_NDJSON};
    struct inferred inf;
    struct iq_error err = {0};
    assert_int_equal(infer_columns(path, &source, 0, &inf, &err), 0);
    assert_int_equal(inf.count, 6);
    expect(&inf, "id", COLUMN_INTEGER, false);
    expect(&inf, "tags", COLUMN_JSON, false);
    expect(&inf, "meta", COLUMN_JSON, true); /* missing from the second record */
    expect(&inf, "n", COLUMN_NUMERIC, false);
    expect(&inf, "s", COLUMN_TEXT, false);   /* a string holding JSON is text */
    expect(&inf, "late", COLUMN_BOOLEAN, true); /* missing from the first */
    inferred_clear(&inf);
    unlink(path);
    free(path);
}

static void test_errors(void **state)
{
    (void)state;
    struct source_spec source = csv_source();
    struct inferred inf;
    struct iq_error err = {0};
    char *ragged = write_file("ragged.csv", "a,b\n1,2\n3\n");
    assert_int_equal(infer_columns(ragged, &source, 0, &inf, &err), IQ_E_INVALID);
    assert_non_null(strstr(iq_error_message(&err), "line 3"));
    iq_error_clear(&err);
    unlink(ragged);
    free(ragged);
    char *empty = write_file("empty.csv", "");
    assert_true(infer_columns(empty, &source, 0, &inf, &err) < 0);
    iq_error_clear(&err);
    unlink(empty);
    free(empty);
    assert_int_equal(infer_columns("/nonexistent/x.csv", &source, 0, &inf, &err), IQ_E_NOT_FOUND);
    iq_error_clear(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_types),
        cmocka_unit_test(test_json_types),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("infer", tests, NULL, NULL);
}
