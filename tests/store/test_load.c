/*
 * test_load.c - the load half of the store (store/load.h), one test code
 * for both backends like test_store.c: every test runs on SQLite and on
 * PostgreSQL. Covers describe, create_target, direct and staged loads in
 * every mode, the set-wise checks (duplicates in the file, existing keys,
 * references, children of rejected parents), abort, the fence, interrupt
 * from another thread (between statements and inside a running one),
 * other writers getting in while rows load, NULLs and awkward values for
 * every column type.
 *
 * IMPORTQ_TEST_ONLY=postgres (or =sqlite) runs one backend's group only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/store_fixture.h"

#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STORE(state) (((struct fixture *)*(state))->store)
#define FIX(state) ((struct fixture *)*(state))
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static bool is_pg(void **state)
{
    return strcmp(FIX(state)->backend, "postgres") == 0;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

#define MAX_REJECTS 32

/* Every reject a load reported, copied. */
struct rejects {
    size_t count;
    int part[MAX_REJECTS];
    int64_t line[MAX_REJECTS];
    char column[MAX_REJECTS][64];
    char value[MAX_REJECTS][128];
    char message[MAX_REJECTS][256];
};

static int collect_reject(const struct load_reject *reject, void *ctx)
{
    struct rejects *r = ctx;
    if (r->count < MAX_REJECTS) {
        size_t i = r->count;
        r->part[i] = reject->part;
        r->line[i] = reject->line;
        snprintf(r->column[i], sizeof(r->column[i]), "%s", reject->column ? reject->column : "");
        snprintf(r->value[i], sizeof(r->value[i]), "%s", reject->value ? reject->value : "");
        snprintf(r->message[i], sizeof(r->message[i]), "%s", reject->message);
    }
    r->count++;
    return 0;
}

/* Rows of one part for run_load: row-major values and their lines. */
struct batch {
    int part;
    const char *const *values;
    const int64_t *lines;
    size_t rows;
};

/* What run_load saw. */
struct outcome {
    struct load_result result;
    struct rejects rejects;
    int64_t rejected;
    struct iq_error err;
};

/*
 * run_load - begin, rows, check, promote, commit; abort on any failure.
 * Returns the first failing call's code (details in out->err; the caller
 * clears it with iq_error_clear).
 */
static int run_load(struct store *s, const struct load_plan *plan, const struct batch *batches,
                    size_t batch_count, struct outcome *out)
{
    memset(out, 0, sizeof(*out));
    struct load *load = NULL;
    int rc = store_load_begin(s, plan, &load, &out->err);
    for (size_t i = 0; rc == 0 && i < batch_count; i++)
        rc = store_load_rows(load, batches[i].part, batches[i].values, batches[i].lines,
                             batches[i].rows, &out->err);
    if (rc == 0)
        rc = store_load_check(load, collect_reject, &out->rejects, &out->rejected, &out->err);
    if (rc == 0)
        rc = store_load_promote(load, &out->result, &out->err);
    if (rc == 0)
        rc = store_load_commit(load, &out->err); /* frees the load */
    if (rc < 0)
        store_load_abort(load);
    return rc;
}

/* run_load that must succeed. */
static void run_load_ok(void **state, const struct load_plan *plan, const struct batch *batches,
                        size_t batch_count, struct outcome *out)
{
    int rc = run_load(STORE(state), plan, batches, batch_count, out);
    if (rc < 0)
        fail_msg("%s load failed (%d): %s", FIX(state)->backend, rc, iq_error_message(&out->err));
    iq_error_clear(&out->err);
}

static void exec_ok(void **state, const char *sql)
{
    assert_int_equal(fixture_sql_exec(FIX(state), sql), 0);
}

static int64_t sql_int(void **state, const char *sql)
{
    return fixture_sql_int(FIX(state), sql);
}

/* assert_sql_text - the query's text result (rows joined by newlines) equals want. */
static void assert_sql_text(void **state, const char *sql, const char *want)
{
    char *got = fixture_sql_text(FIX(state), sql);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", sql, got, want);
    free(got);
}

/* A part with no references and no parent. */
static struct load_part part_of(const char *table, const char *const *columns,
                                const enum column_type *types, size_t column_count,
                                const char *const *key, size_t key_count)
{
    struct load_part part = {.table = table,
                             .columns = columns,
                             .types = types,
                             .column_count = column_count,
                             .key = key,
                             .key_count = key_count};
    return part;
}

/* The users table most tests load: user_id bigint key, email, team_id. */
static const char *const users_columns[] = {"user_id", "email", "team_id"};
static const enum column_type users_types[] = {COLUMN_BIGINT, COLUMN_TEXT, COLUMN_INTEGER};
static const char *const users_key[] = {"user_id"};

static void create_users(void **state, const char *rows_sql)
{
    exec_ok(state, "DROP TABLE IF EXISTS users");
    exec_ok(state, "CREATE TABLE users (user_id bigint NOT NULL PRIMARY KEY, email text,"
                   " team_id integer)");
    if (rows_sql)
        exec_ok(state, rows_sql);
}

static struct load_plan plan_of(enum target_mode mode, struct load_part *parts, size_t part_count)
{
    struct load_plan plan = {.mode = mode, .parts = parts, .part_count = part_count};
    return plan;
}

/* ------------------------------------------------------------------ */
/* Describe                                                            */
/* ------------------------------------------------------------------ */

static void test_describe_missing_table(void **state)
{
    exec_ok(state, "DROP TABLE IF EXISTS no_such_table");
    struct table_info info;
    struct iq_error err = {0};
    assert_int_equal(store_table_describe(STORE(state), "no_such_table", &info, &err), 0);
    assert_false(info.exists);
    assert_int_equal(info.column_count, 0);
    table_info_clear(&info);
}

static void test_describe_types(void **state)
{
    exec_ok(state, "DROP TABLE IF EXISTS described");
    exec_ok(state, "CREATE TABLE described (i integer NOT NULL, b bigint NOT NULL PRIMARY KEY,"
                   " n numeric, r real, bo boolean, d date, ts timestamp, tz timestamptz,"
                   " u uuid, j json, t text DEFAULT 'x')");
    struct table_info info;
    struct iq_error err = {0};
    assert_int_equal(store_table_describe(STORE(state), "described", &info, &err), 0);
    assert_true(info.exists);
    assert_int_equal(info.column_count, 11);
    static const char *const names[] = {"i", "b", "n", "r", "bo", "d", "ts", "tz", "u", "j", "t"};
    static const enum column_type types[] = {COLUMN_INTEGER,   COLUMN_BIGINT,      COLUMN_NUMERIC,
                                             COLUMN_REAL,      COLUMN_BOOLEAN,     COLUMN_DATE,
                                             COLUMN_TIMESTAMP, COLUMN_TIMESTAMPTZ, COLUMN_UUID,
                                             COLUMN_JSON,      COLUMN_TEXT};
    for (size_t i = 0; i < info.column_count; i++) {
        assert_string_equal(info.columns[i].name, names[i]);
        if (info.columns[i].type != types[i])
            fail_msg("column %s: type %s, want %s", names[i],
                     column_type_name(info.columns[i].type), column_type_name(types[i]));
        assert_non_null(info.columns[i].declared_type);
        assert_int_equal(info.columns[i].not_null, i < 2);
        assert_int_equal(info.columns[i].primary_key, i == 1);
        assert_int_equal(info.columns[i].has_default, i == 10);
    }
    table_info_clear(&info);
}

/* PostgreSQL's own type names map to the closest importq type. */
static void test_describe_postgres_types(void **state)
{
    if (!is_pg(state))
        skip();
    exec_ok(state, "DROP TABLE IF EXISTS pgtypes_described");
    exec_ok(state, "CREATE TABLE pgtypes_described (a int2, b float8, c jsonb, d varchar(320),"
                   " e serial, f int4[], PRIMARY KEY (a, b))");
    struct table_info info;
    struct iq_error err = {0};
    assert_int_equal(store_table_describe(STORE(state), "pgtypes_described", &info, &err), 0);
    assert_int_equal(info.column_count, 6);
    assert_int_equal(info.columns[0].type, COLUMN_INTEGER);
    assert_int_equal(info.columns[1].type, COLUMN_REAL);
    assert_int_equal(info.columns[2].type, COLUMN_JSON);
    assert_int_equal(info.columns[3].type, COLUMN_TEXT);
    assert_string_equal(info.columns[3].declared_type, "character varying(320)");
    assert_int_equal(info.columns[4].type, COLUMN_INTEGER);
    assert_true(info.columns[4].has_default);
    assert_int_equal(info.columns[5].type, COLUMN_TEXT);
    assert_true(info.columns[0].primary_key && info.columns[1].primary_key);
    assert_true(info.columns[0].not_null);
    assert_false(info.columns[2].primary_key);
    table_info_clear(&info);
}

/* ------------------------------------------------------------------ */
/* Targets                                                             */
/* ------------------------------------------------------------------ */

static void test_missing_target_is_invalid(void **state)
{
    exec_ok(state, "DROP TABLE IF EXISTS nope");
    struct load_part part = part_of("nope", users_columns, users_types, 3, users_key, 1);
    struct load_plan plan = plan_of(TARGET_INSERT, &part, 1);
    struct load *load = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_load_begin(STORE(state), &plan, &load, &err), IQ_E_INVALID);
    assert_null(load);
    assert_non_null(strstr(iq_error_message(&err), "target table \"nope\" does not exist"));
    iq_error_clear(&err);
    plan.direct = true;
    assert_int_equal(store_load_begin(STORE(state), &plan, &load, &err), IQ_E_INVALID);
    iq_error_clear(&err);

    /* A planned column the table lacks is named. */
    create_users(state, NULL);
    static const char *const columns[] = {"user_id", "shoe_size"};
    struct load_part bad = part_of("users", columns, users_types, 2, users_key, 1);
    plan = plan_of(TARGET_INSERT, &bad, 1);
    assert_int_equal(store_load_begin(STORE(state), &plan, &load, &err), IQ_E_INVALID);
    assert_non_null(strstr(iq_error_message(&err), "shoe_size"));
    iq_error_clear(&err);
    /* The connection is fine afterwards. */
    assert_int_equal(sql_int(state, "SELECT count(*) FROM users"), 0);
}

static void test_create_target(void **state)
{
    exec_ok(state, "DROP TABLE IF EXISTS created_staged");
    exec_ok(state, "DROP TABLE IF EXISTS created_direct");
    static const char *const rows[] = {"1", "a@x", "10", "2", "b@x", NULL};
    static const int64_t lines[] = {2, 3};
    struct batch batch = {0, rows, lines, 2};
    struct outcome out;

    struct load_part part = part_of("created_staged", users_columns, users_types, 3, users_key, 1);
    struct load_plan plan = plan_of(TARGET_INSERT, &part, 1);
    plan.create_target = true;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(out.result.rows_inserted, 2);

    part.table = "created_direct";
    plan.direct = true;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(out.result.rows_inserted, 2);

    const char *tables[] = {"created_staged", "created_direct"};
    for (int t = 0; t < 2; t++) {
        struct table_info info;
        struct iq_error err = {0};
        assert_int_equal(store_table_describe(STORE(state), tables[t], &info, &err), 0);
        assert_true(info.exists);
        assert_int_equal(info.column_count, 3);
        assert_int_equal(info.columns[0].type, COLUMN_BIGINT);
        assert_true(info.columns[0].primary_key);
        assert_int_equal(info.columns[1].type, COLUMN_TEXT);
        assert_int_equal(info.columns[2].type, COLUMN_INTEGER);
        assert_false(info.columns[2].primary_key);
        table_info_clear(&info);
    }
    assert_int_equal(sql_int(state, "SELECT count(*) FROM created_direct WHERE team_id IS NULL"),
                     1);
    assert_int_equal(sql_int(state, "SELECT sum(team_id) FROM created_staged"), 10);
    /* The key became a primary key: a second row 1 is refused. */
    assert_int_equal(
        fixture_sql_exec(FIX(state), "INSERT INTO created_staged (user_id) VALUES (1)"), -1);
}

/* ------------------------------------------------------------------ */
/* Modes                                                               */
/* ------------------------------------------------------------------ */

#define MANY_ROWS 50000

/*
 * user_rows - count generated rows of users (user_id, email, team_id),
 * row-major into values, their text in text: user_id i + 1, email
 * "user<id>@example.com", team_id NULL on every null_every-th row from
 * the first, else 7.
 */
static void user_rows(const char **values, char (*text)[2][32], int count, int null_every)
{
    for (int i = 0; i < count; i++) {
        snprintf(text[i][0], sizeof(text[i][0]), "%d", i + 1);
        snprintf(text[i][1], sizeof(text[i][1]), "user%d@example.com", i + 1);
        values[i * 3] = text[i][0];
        values[i * 3 + 1] = text[i][1];
        values[i * 3 + 2] = i % null_every ? "7" : NULL;
    }
}

/* Direct insert of MANY_ROWS generated rows into an existing table. */
static void test_direct_insert_many(void **state)
{
    create_users(state, NULL);
    const char **values = calloc(MANY_ROWS * 3, sizeof(*values));
    char(*text)[2][32] = calloc(MANY_ROWS, sizeof(*text));
    assert_non_null(values);
    assert_non_null(text);
    user_rows(values, text, MANY_ROWS, 10);
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    struct load_plan plan = plan_of(TARGET_INSERT, &part, 1);
    plan.direct = true;
    /* Several calls, as the pipeline sends batches. */
    struct batch batches[5];
    for (int b = 0; b < 5; b++)
        batches[b] =
            (struct batch){0, values + (size_t)b * (MANY_ROWS / 5) * 3, NULL, MANY_ROWS / 5};
    struct outcome out;
    run_load_ok(state, &plan, batches, 5, &out);
    assert_int_equal(out.result.rows_inserted, MANY_ROWS);
    assert_int_equal(out.rejected, 0);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM users"), MANY_ROWS);
    assert_int_equal(sql_int(state, "SELECT sum(user_id) FROM users"),
                     (int64_t)MANY_ROWS * (MANY_ROWS + 1) / 2);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM users WHERE team_id IS NULL"),
                     MANY_ROWS / 10);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM users WHERE email = 'user777@example.com'"
                                    " AND user_id = 777"),
                     1);
    free(values);
    free(text);
}

/*
 * A direct load whose rows came in one batch goes into its table from
 * memory on SQLite (sqlite/load/rows.c), one that came in more is staged
 * first: either way every row lands, the counts are right, and a row
 * that breaks a constraint fails the load naming its line (SQLite; the
 * PostgreSQL message names the key) with nothing landed. 300 rows: more
 * than one INSERT statement's worth.
 */
static void test_direct_one_batch_or_several(void **state)
{
    enum { ROWS = 300 };
    static char text[ROWS][2][32];
    static const char *values[ROWS * 3];
    static int64_t lines[ROWS];
    user_rows(values, text, ROWS, 2);
    for (int i = 0; i < ROWS; i++)
        lines[i] = i + 2; /* after a header */
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    struct load_plan plan = plan_of(TARGET_INSERT, &part, 1);
    plan.direct = true;
    struct batch one[] = {{0, values, lines, ROWS}};
    struct batch several[] = {{0, values, lines, 100}, {0, values + 300, lines + 100, 200}};
    struct outcome out;
    for (int split = 0; split < 2; split++) {
        create_users(state, NULL);
        run_load_ok(state, &plan, split ? several : one, split ? 2 : 1, &out);
        assert_int_equal(out.result.rows_inserted, ROWS);
        assert_int_equal(sql_int(state, "SELECT count(*) FROM users"), ROWS);
        assert_int_equal(sql_int(state, "SELECT sum(user_id) FROM users"), ROWS * (ROWS + 1) / 2);
        assert_int_equal(sql_int(state, "SELECT count(*) FROM users WHERE team_id = 7"), ROWS / 2);
        assert_int_equal(sql_int(state, "SELECT count(*) FROM users WHERE user_id = 201"
                                        " AND email = 'user201@example.com' AND team_id IS NULL"),
                         1);

        /* Row 250 (line 251) already exists: nothing lands. */
        create_users(state, "INSERT INTO users VALUES (250, 'old', NULL)");
        assert_int_equal(run_load(STORE(state), &plan, split ? several : one, split ? 2 : 1, &out),
                         IQ_E_CONFLICT);
        if (is_pg(state))
            assert_non_null(strstr(iq_error_message(&out.err), "(user_id)=(250)"));
        else
            assert_non_null(strstr(iq_error_message(&out.err),
                                   "line 251: promote into \"users\": UNIQUE constraint failed"));
        iq_error_clear(&out.err);
        assert_sql_text(state, "SELECT email FROM users", "old");
    }
}

/* Staged insert: existing keys and in-file duplicates are rejected, the rest lands. */
static void test_staged_insert_rejects(void **state)
{
    create_users(state, "INSERT INTO users VALUES (1, 'one', NULL), (2, 'two', NULL)");
    static const char *const rows[] = {"2", "new two", NULL, "3", "three",        NULL,
                                       "4", "four",    NULL, "3", "three again",  NULL,
                                       "5", "five",    NULL, "3", "three thrice", NULL};
    static const int64_t lines[] = {2, 3, 4, 5, 6, 8};
    struct batch batch = {0, rows, lines, 6};
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    struct load_plan plan = plan_of(TARGET_INSERT, &part, 1);
    struct outcome out;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(out.rejected, 3);
    assert_int_equal(out.rejects.count, 3);
    assert_int_equal(out.result.rows_inserted, 3);
    /* In line order within a check: duplicates first, then existing keys. */
    bool seen_conflict = false, seen_dup5 = false, seen_dup8 = false;
    for (size_t i = 0; i < out.rejects.count; i++) {
        assert_int_equal(out.rejects.part[i], 0);
        if (out.rejects.line[i] == 2) {
            assert_string_equal(out.rejects.message[i], "key (user_id)=(2) already exists");
            assert_string_equal(out.rejects.column[i], "user_id");
            assert_string_equal(out.rejects.value[i], "2");
            seen_conflict = true;
        } else if (out.rejects.line[i] == 5) {
            assert_string_equal(out.rejects.message[i],
                                "duplicate key (user_id)=(3) in file, first on line 3");
            seen_dup5 = true;
        } else if (out.rejects.line[i] == 8) {
            assert_string_equal(out.rejects.message[i],
                                "duplicate key (user_id)=(3) in file, first on line 3");
            seen_dup8 = true;
        }
    }
    assert_true(seen_conflict && seen_dup5 && seen_dup8);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM users"), 5);
    assert_sql_text(state, "SELECT email FROM users ORDER BY user_id",
                    "one\ntwo\nthree\nfour\nfive");
}

static void test_upsert_counts_and_values(void **state)
{
    create_users(state, "INSERT INTO users VALUES (1, 'one', 1), (2, 'two', 2)");
    static const char *const rows[] = {"2", "TWO", NULL, "3", "three", "3", "1", "one", "1"};
    static const int64_t lines[] = {2, 3, 4};
    struct batch batch = {0, rows, lines, 3};
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    struct load_plan plan = plan_of(TARGET_UPSERT, &part, 1);
    struct outcome out;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(out.result.rows_inserted, 1);
    assert_int_equal(out.result.rows_updated, 2);
    assert_int_equal(out.rejected, 0);
    assert_sql_text(state, "SELECT email FROM users ORDER BY user_id", "one\nTWO\nthree");
    assert_int_equal(sql_int(state, "SELECT count(*) FROM users WHERE user_id = 2 AND"
                                    " team_id IS NULL"),
                     1);

    /* A key-only table: existing rows are left alone. */
    exec_ok(state, "DROP TABLE IF EXISTS tags");
    exec_ok(state, "CREATE TABLE tags (tag text NOT NULL PRIMARY KEY)");
    exec_ok(state, "INSERT INTO tags VALUES ('a')");
    static const char *const tag_rows[] = {"a", "b"};
    static const char *const tag_columns[] = {"tag"};
    static const enum column_type tag_types[] = {COLUMN_TEXT};
    struct load_part tags = part_of("tags", tag_columns, tag_types, 1, tag_columns, 1);
    plan = plan_of(TARGET_UPSERT, &tags, 1);
    struct batch tag_batch = {0, tag_rows, NULL, 2};
    run_load_ok(state, &plan, &tag_batch, 1, &out);
    assert_int_equal(out.result.rows_inserted, 1);
    assert_int_equal(out.result.rows_updated, 0);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM tags"), 2);
}

/* Upsert needs a key the target can enforce. */
static void test_upsert_key_without_index_is_invalid(void **state)
{
    if (!is_pg(state))
        skip(); /* SQLite reports it at promote; PostgreSQL before loading */
    create_users(state, NULL);
    static const char *const key[] = {"email"};
    struct load_part part = part_of("users", users_columns, users_types, 3, key, 1);
    struct load_plan plan = plan_of(TARGET_UPSERT, &part, 1);
    struct load *load = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_load_begin(STORE(state), &plan, &load, &err), IQ_E_INVALID);
    assert_non_null(strstr(iq_error_message(&err), "unique"));
    iq_error_clear(&err);
}

static void test_append(void **state)
{
    exec_ok(state, "DROP TABLE IF EXISTS events");
    exec_ok(state, "CREATE TABLE events (kind text, amount integer)");
    exec_ok(state, "INSERT INTO events VALUES ('old', 1), ('old', 2)");
    static const char *const columns[] = {"kind", "amount"};
    static const enum column_type types[] = {COLUMN_TEXT, COLUMN_INTEGER};
    static const char *const rows[] = {"new", "3", "new", "3", "new", NULL};
    struct batch batch = {0, rows, NULL, 3};
    struct load_part part = part_of("events", columns, types, 2, NULL, 0);
    struct load_plan plan = plan_of(TARGET_APPEND, &part, 1);
    struct outcome out;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(out.result.rows_inserted, 3);
    plan.direct = true;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(out.result.rows_inserted, 3);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM events"), 8);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM events WHERE kind = 'new'"
                                    " AND amount = 3"),
                     4);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM events WHERE amount IS NULL"), 2);
}

/*
 * begin_and_stage - load_begin an append of rows into events(kind, amount)
 * and stage them; the caller changes the schema, then promotes.
 */
static struct load *begin_and_stage(void **state, const struct load_plan *plan,
                                    const struct batch *batch, struct iq_error *err)
{
    struct load *load = NULL;
    assert_int_equal(store_load_begin(STORE(state), plan, &load, err), 0);
    assert_int_equal(store_load_rows(load, 0, batch->values, NULL, batch->rows, err), 0);
    return load;
}

/*
 * SQLite checks the target's shape at load_begin, outside the write lock,
 * and again under it only when the schema changed since (its schema
 * cookie): a change in between is still caught, an unrelated one only
 * costs the second look.
 */
static void test_schema_change_during_load(void **state)
{
    if (is_pg(state))
        return; /* PostgreSQL's COPY holds the table: an ALTER waits for the commit */
    exec_ok(state, "DROP TABLE IF EXISTS events");
    exec_ok(state, "CREATE TABLE events (kind text, amount integer)");
    static const char *const columns[] = {"kind", "amount"};
    static const enum column_type types[] = {COLUMN_TEXT, COLUMN_INTEGER};
    static const char *const rows[] = {"new", "3", "new", "4"};
    struct batch batch = {0, rows, NULL, 2};
    struct load_part part = part_of("events", columns, types, 2, NULL, 0);
    struct load_plan plan = plan_of(TARGET_APPEND, &part, 1);
    plan.direct = true;
    struct iq_error err = {0};
    struct load_result result;

    struct load *load = begin_and_stage(state, &plan, &batch, &err);
    exec_ok(state, "CREATE TABLE unrelated (x integer)");
    assert_int_equal(store_load_check(load, NULL, NULL, NULL, &err), 0);
    assert_int_equal(store_load_promote(load, &result, &err), 0);
    assert_int_equal(store_load_commit(load, &err), 0);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM events"), 2);

    load = begin_and_stage(state, &plan, &batch, &err);
    exec_ok(state, "ALTER TABLE events DROP COLUMN amount");
    int rc = store_load_check(load, NULL, NULL, NULL, &err);
    if (rc == 0)
        rc = store_load_promote(load, &result, &err);
    assert_int_equal(rc, IQ_E_INVALID);
    assert_non_null(strstr(iq_error_message(&err), "amount"));
    store_load_abort(load);
    iq_error_clear(&err);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM events"), 2);
}

/*
 * PostgreSQL: a load uses the description its job's pipeline took a
 * moment before (store_table_describe, then load_begin on the same
 * connection) instead of asking again. A column dropped in between still
 * fails the load, and nothing lands; the next load describes afresh.
 */
static void test_describe_handed_to_the_load(void **state)
{
    if (!is_pg(state))
        skip(); /* SQLite describes through the load's own statement */
    create_users(state, NULL);
    static const char *const rows[] = {"1", "a@x", "7"};
    struct batch batch = {0, rows, NULL, 1};
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    struct load_plan plan = plan_of(TARGET_INSERT, &part, 1);
    plan.direct = true;
    struct table_info info;
    struct iq_error err = {0};
    struct outcome out;

    assert_int_equal(store_table_describe(STORE(state), "users", &info, &err), 0);
    table_info_clear(&info);
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM users"), 1);

    assert_int_equal(store_table_describe(STORE(state), "users", &info, &err), 0);
    table_info_clear(&info);
    exec_ok(state, "ALTER TABLE users DROP COLUMN email");
    static const char *const more[] = {"2", "b@x", "8"};
    batch.values = more;
    /* The handed-over description still has email: PostgreSQL refuses the
     * COPY (undefined column, SQLSTATE class 42: IQ_E_INVALID, as retrying
     * cannot help), not load_begin's own check. */
    int rc = run_load(STORE(state), &plan, &batch, 1, &out);
    if (rc != IQ_E_INVALID || !strstr(iq_error_message(&out.err), "starting COPY"))
        fail_msg("want the COPY's error, got %d: %s", rc, iq_error_message(&out.err));
    iq_error_clear(&out.err);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM users"), 1);
    /* Afresh: the missing column is named before any row is sent. */
    assert_int_equal(run_load(STORE(state), &plan, &batch, 1, &out), IQ_E_INVALID);
    assert_non_null(strstr(iq_error_message(&out.err), "email"));
    iq_error_clear(&out.err);
}

/* Replace swaps the rows in one commit; another connection sees the old rows until then. */
static void test_replace_is_atomic(void **state)
{
    create_users(state, "INSERT INTO users VALUES (1, 'one', NULL), (2, 'two', NULL),"
                        " (3, 'three', NULL)");
    static const char *const rows[] = {"3", "THREE", NULL, "4", "four", NULL};
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    struct load_plan plan = plan_of(TARGET_REPLACE, &part, 1);
    struct load *load = NULL;
    struct iq_error err = {0};
    int64_t rejected = -1;
    struct load_result result;
    assert_int_equal(store_load_begin(STORE(state), &plan, &load, &err), 0);
    assert_int_equal(store_load_rows(load, 0, rows, NULL, 2, &err), 0);
    assert_int_equal(store_load_check(load, NULL, NULL, &rejected, &err), 0);
    assert_int_equal(rejected, 0);
    assert_int_equal(store_load_promote(load, &result, &err), 0);
    assert_int_equal(result.rows_deleted, 3);
    assert_int_equal(result.rows_inserted, 2);
    /* Not committed: another connection still reads the old contents. */
    assert_int_equal(sql_int(state, "SELECT count(*) FROM users"), 3);
    assert_sql_text(state, "SELECT email FROM users ORDER BY user_id", "one\ntwo\nthree");
    assert_int_equal(store_load_commit(load, &err), 0);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM users"), 2);
    assert_sql_text(state, "SELECT email FROM users ORDER BY user_id", "THREE\nfour");
}

/* ------------------------------------------------------------------ */
/* References and children                                             */
/* ------------------------------------------------------------------ */

static void test_references_reject_unknown_values(void **state)
{
    exec_ok(state, "DROP TABLE IF EXISTS teams");
    exec_ok(state, "CREATE TABLE teams (team_id integer NOT NULL PRIMARY KEY, name text)");
    exec_ok(state, "INSERT INTO teams VALUES (1, 'a'), (2, 'b')");
    create_users(state, NULL);
    static const char *const rows[] = {"1", "a@x", "1",  "2", "b@x", "7",
                                       "3", "c@x", NULL, "4", "d@x", "2"};
    static const int64_t lines[] = {2, 3, 4, 5};
    struct batch batch = {0, rows, lines, 4};
    struct load_reference ref = {"team_id", "teams", "team_id"};
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    part.references = &ref;
    part.reference_count = 1;
    struct load_plan plan = plan_of(TARGET_INSERT, &part, 1);
    struct outcome out;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(out.rejected, 1);
    assert_int_equal(out.rejects.count, 1);
    assert_int_equal(out.rejects.line[0], 3);
    assert_string_equal(out.rejects.column[0], "team_id");
    assert_string_equal(out.rejects.value[0], "7");
    assert_string_equal(out.rejects.message[0], "no teams.team_id = 7");
    assert_int_equal(out.result.rows_inserted, 3);
    assert_sql_text(state, "SELECT user_id FROM users ORDER BY user_id", "1\n3\n4");

    /* A reference to a table that does not exist is a plan error. */
    struct load_reference missing = {"team_id", "no_teams", "team_id"};
    part.references = &missing;
    struct load *load = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_load_begin(STORE(state), &plan, &load, &err), IQ_E_INVALID);
    assert_non_null(strstr(iq_error_message(&err), "no_teams"));
    iq_error_clear(&err);
}

/* A parent rejected by a check takes its children (same line) with it. */
static void test_children_of_rejected_parents_are_dropped(void **state)
{
    exec_ok(state, "DROP TABLE IF EXISTS instructions");
    exec_ok(state, "DROP TABLE IF EXISTS steps");
    exec_ok(state, "CREATE TABLE steps (step_id integer NOT NULL PRIMARY KEY, name text)");
    exec_ok(state, "CREATE TABLE instructions (step_id integer NOT NULL, seq integer NOT NULL,"
                   " body text, PRIMARY KEY (step_id, seq))");
    exec_ok(state, "INSERT INTO steps VALUES (1, 'old')");
    static const char *const step_columns[] = {"step_id", "name"};
    static const enum column_type step_types[] = {COLUMN_INTEGER, COLUMN_TEXT};
    static const char *const step_key[] = {"step_id"};
    static const char *const ins_columns[] = {"step_id", "seq", "body"};
    static const enum column_type ins_types[] = {COLUMN_INTEGER, COLUMN_INTEGER, COLUMN_TEXT};
    static const char *const ins_key[] = {"step_id", "seq"};
    static const char *const parent_key[] = {"step_id"};
    struct load_part parts[2] = {
        part_of("steps", step_columns, step_types, 2, step_key, 1),
        part_of("instructions", ins_columns, ins_types, 3, ins_key, 2),
    };
    parts[1].parent_columns = parent_key;
    parts[1].child_columns = parent_key;
    parts[1].parent_key_count = 1;
    struct load_plan plan = plan_of(TARGET_INSERT, parts, 2);

    /* Line 2: step 1 exists already; line 5 repeats step 2. */
    static const char *const steps[] = {"1", "one", "2", "two", "3", "three", "2", "two again"};
    static const int64_t step_lines[] = {2, 3, 4, 5};
    static const char *const ins[] = {"1", "1", "a", "1", "2", "b", "2", "1", "c",
                                      "2", "2", "d", "3", "1", "e", "2", "1", "x"};
    static const int64_t ins_lines[] = {2, 2, 3, 3, 4, 5};
    /* Interleaved as a pipeline would send them, forcing COPY switches. */
    struct batch batches[] = {
        {0, steps, step_lines, 2},
        {1, ins, ins_lines, 4},
        {0, steps + 4, step_lines + 2, 2},
        {1, ins + 12, ins_lines + 4, 2},
    };
    struct outcome out;
    run_load_ok(state, &plan, batches, COUNT_OF(batches), &out);
    assert_int_equal(out.rejects.count, 2); /* the two parents */
    assert_int_equal(out.rejected, 2 + 3);  /* and their three children */
    for (size_t i = 0; i < out.rejects.count; i++)
        assert_int_equal(out.rejects.part[i], 0);
    assert_int_equal(out.result.rows_inserted, 2 + 3); /* counts add up over the parts */
    assert_sql_text(state, "SELECT name FROM steps ORDER BY step_id", "old\ntwo\nthree");
    assert_sql_text(state, "SELECT body FROM instructions ORDER BY step_id, seq", "c\nd\ne");
}

/* ------------------------------------------------------------------ */
/* Abort, fence, interrupt                                             */
/* ------------------------------------------------------------------ */

static void test_abort_leaves_target_unchanged(void **state)
{
    create_users(state, "INSERT INTO users VALUES (5, 'five', NULL)");
    static const char *const rows[] = {"1", "a", NULL, "5", "dup", NULL, "6", "b", NULL};
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    struct load_plan plan = plan_of(TARGET_UPSERT, &part, 1);
    struct iq_error err = {0};
    struct load *load = NULL;
    struct load_result result;

    /* Staged, promoted, then aborted. */
    assert_int_equal(store_load_begin(STORE(state), &plan, &load, &err), 0);
    assert_int_equal(store_load_rows(load, 0, rows, NULL, 3, &err), 0);
    assert_int_equal(store_load_promote(load, &result, &err), 0);
    store_load_abort(load);
    assert_sql_text(state, "SELECT email FROM users ORDER BY user_id", "five");

    /* Direct: the duplicate key fails the load, at the latest on promote;
     * PostgreSQL names the key, SQLite (whose message does not) the line. */
    plan.mode = TARGET_INSERT;
    plan.direct = true;
    static const int64_t lines[] = {2, 3, 4};
    assert_int_equal(store_load_begin(STORE(state), &plan, &load, &err), 0);
    int rc = store_load_rows(load, 0, rows, lines, 3, &err);
    if (rc == 0)
        rc = store_load_promote(load, &result, &err);
    assert_true(rc < 0);
    if (is_pg(state))
        assert_non_null(strstr(iq_error_message(&err), "Key (user_id)=(5) already exists"));
    else
        assert_non_null(strstr(iq_error_message(&err), "line 3: promote into \"users\""));
    iq_error_clear(&err);
    store_load_abort(load);
    assert_sql_text(state, "SELECT email FROM users ORDER BY user_id", "five");

    /* Abort right after begin, and of NULL. */
    assert_int_equal(store_load_begin(STORE(state), &plan, &load, &err), 0);
    store_load_abort(load);
    store_load_abort(NULL);

    /* The connection is still good for the next load. */
    struct batch batch = {0, rows + 6, NULL, 1};
    struct outcome out;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_sql_text(state, "SELECT email FROM users ORDER BY user_id", "five\nb");
}

/* A job in RUNNING with worker w1, attempt 1; its id in id. */
static void running_job(void **state, char id[UUID_STR_LEN])
{
    struct job_spec *spec = spec_simple("users", 5, NULL);
    struct job_create_request req = {.spec = spec};
    struct job *job = NULL;
    bool existed = false;
    struct iq_error err = {0};
    assert_int_equal(store_job_create(STORE(state), &req, &test_actor, &job, &existed, &err), 0);
    memcpy(id, job->id, UUID_STR_LEN);
    job_free(job);
    job_spec_free(spec);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "UPDATE stg_import_queue SET status = 'RUNNING', worker = 'w1', attempt = 1"
             " WHERE id = '%s'",
             id);
    exec_ok(state, sql);
}

static void test_fence_mismatch_is_stale(void **state)
{
    create_users(state, NULL);
    char id[UUID_STR_LEN];
    running_job(state, id);
    static const char *const rows[] = {"1", "a", NULL};
    struct batch batch = {0, rows, NULL, 1};
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    struct load_plan plan = plan_of(TARGET_INSERT, &part, 1);
    plan.commit.fence_job_id = id;
    struct outcome out;

    plan.commit.fence_worker = "w2"; /* another worker took the job over */
    plan.commit.fence_attempt = 1;
    assert_int_equal(run_load(STORE(state), &plan, &batch, 1, &out), IQ_E_STALE);
    assert_non_null(strstr(iq_error_message(&out.err), "no longer ours"));
    iq_error_clear(&out.err);
    plan.commit.fence_worker = "w1"; /* ours, but an older attempt */
    plan.commit.fence_attempt = 0;
    plan.direct = true;
    assert_int_equal(run_load(STORE(state), &plan, &batch, 1, &out), IQ_E_STALE);
    iq_error_clear(&out.err);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM users"), 0);

    plan.commit.fence_attempt = 1; /* the job is ours */
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM users"), 1);
    char sql[160];
    snprintf(sql, sizeof(sql), "UPDATE stg_import_queue SET status = 'FAILED' WHERE id = '%s'", id);
    exec_ok(state, sql);
    plan.direct = false; /* the job failed meanwhile (rescued): nothing more lands */
    static const char *const more[] = {"2", "b", NULL};
    struct batch batch2 = {0, more, NULL, 1};
    assert_int_equal(run_load(STORE(state), &plan, &batch2, 1, &out), IQ_E_STALE);
    iq_error_clear(&out.err);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM users"), 1);
}

struct interrupter {
    struct store *store;
    atomic_bool done;
};

/* interrupt_loop - after 100 ms, interrupt the store every 10 ms until done. */
static void *interrupt_loop(void *arg)
{
    struct interrupter *in = arg;
    usleep(100 * 1000);
    while (!atomic_load(&in->done)) {
        store_interrupt(in->store);
        usleep(10 * 1000);
    }
    return NULL;
}

/* A large load interrupted from another thread fails with IQ_E_CANCELLED and lands nothing. */
static void test_interrupt_cancels_large_load(void **state)
{
    exec_ok(state, "DROP TABLE IF EXISTS big");
    exec_ok(state, "CREATE TABLE big (id bigint NOT NULL PRIMARY KEY, payload text)");
    enum { BATCH = 10000 };
    static char ids[BATCH][24];
    static const char *values[BATCH * 2];
    const char *payload = "a payload long enough to make rows take a little time to load";
    struct load_part part = part_of("big", (const char *const[]){"id", "payload"},
                                    (const enum column_type[]){COLUMN_BIGINT, COLUMN_TEXT}, 2,
                                    (const char *const[]){"id"}, 1);
    struct load_plan plan = plan_of(TARGET_INSERT, &part, 1);
    struct iq_error err = {0};
    struct load *load = NULL;
    assert_int_equal(store_load_begin(STORE(state), &plan, &load, &err), 0);
    struct interrupter in = {.store = STORE(state)};
    atomic_init(&in.done, false);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, interrupt_loop, &in), 0);
    int rc = 0;
    time_t start = time(NULL);
    for (int64_t batch = 0; rc == 0 && time(NULL) - start < 60; batch++) {
        for (int i = 0; i < BATCH; i++) {
            snprintf(ids[i], sizeof(ids[i]), "%" PRId64, batch * BATCH + i + 1);
            values[i * 2] = ids[i];
            values[i * 2 + 1] = payload;
        }
        rc = store_load_rows(load, 0, values, NULL, BATCH, &err);
    }
    struct load_result result;
    int64_t rejected;
    if (rc == 0)
        rc = store_load_check(load, NULL, NULL, &rejected, &err);
    if (rc == 0)
        rc = store_load_promote(load, &result, &err);
    atomic_store(&in.done, true);
    pthread_join(thread, NULL);
    if (rc != IQ_E_CANCELLED)
        fail_msg("%s: want IQ_E_CANCELLED, got %d: %s", FIX(state)->backend, rc,
                 iq_error_message(&err));
    iq_error_clear(&err);
    store_load_abort(load);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM big"), 0);
    /* The connection works for the next load. */
    static const char *const one[] = {"1", "x"};
    struct batch batch = {0, one, NULL, 1};
    struct outcome out;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM big"), 1);
}

/*
 * An interrupt reaches a statement that is already running (PQcancel,
 * sqlite3_interrupt; not only the flag checked between statements): a
 * promote slowed by a CHECK that takes some 10 ms a row is stopped within
 * seconds. PostgreSQL's CHECK sleeps; SQLite's hexes a megabyte per row
 * (it has no sleep, and the row's id keeps the expression from being
 * computed once).
 */
static void test_interrupt_stops_running_statement(void **state)
{
    exec_ok(state, "DROP TABLE IF EXISTS slow_target");
    if (is_pg(state)) {
        exec_ok(state, "CREATE OR REPLACE FUNCTION slow_check(x bigint) RETURNS boolean"
                       " LANGUAGE sql AS 'SELECT pg_sleep(0.01) IS NOT NULL'");
        exec_ok(state, "CREATE TABLE slow_target (id bigint PRIMARY KEY CHECK (slow_check(id)))");
    } else {
        exec_ok(state, "CREATE TABLE slow_target (id bigint PRIMARY KEY"
                       " CHECK (length(hex(zeroblob(3000000 + id % 2))) > 0))");
    }
    enum { ROWS = 1000 };
    static char ids[ROWS][16];
    static const char *values[ROWS];
    for (int i = 0; i < ROWS; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%d", i + 1);
        values[i] = ids[i];
    }
    static const char *const columns[] = {"id"};
    static const enum column_type types[] = {COLUMN_BIGINT};
    struct load_part part = part_of("slow_target", columns, types, 1, columns, 1);
    struct load_plan plan = plan_of(TARGET_APPEND, &part, 1);
    struct iq_error err = {0};
    struct load *load = NULL;
    int64_t rejected;
    assert_int_equal(store_load_begin(STORE(state), &plan, &load, &err), 0);
    assert_int_equal(store_load_rows(load, 0, values, NULL, ROWS, &err), 0);
    assert_int_equal(store_load_check(load, NULL, NULL, &rejected, &err), 0);
    struct interrupter in = {.store = STORE(state)};
    atomic_init(&in.done, false);
    pthread_t thread;
    time_t start = time(NULL);
    assert_int_equal(pthread_create(&thread, NULL, interrupt_loop, &in), 0);
    struct load_result result;
    int rc = store_load_promote(load, &result, &err); /* ~10 s unless interrupted */
    atomic_store(&in.done, true);
    pthread_join(thread, NULL);
    assert_int_equal(rc, IQ_E_CANCELLED);
    assert_non_null(strstr(iq_error_message(&err), is_pg(state) ? "canceling statement"
                                                                : "promote into \"slow_target\""));
    assert_true(time(NULL) - start < 5);
    iq_error_clear(&err);
    store_load_abort(load);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM slow_target"), 0);
}

/* ------------------------------------------------------------------ */
/* Other writers while rows load                                       */
/* ------------------------------------------------------------------ */

#define TEST_NODE_ID "01900000-0000-7000-8000-000000000001"
#define TEST_LEASE_MS 60000

/* claimed_job - a job for users, claimed by worker w1 (RUNNING, attempt 1). */
static void claimed_job(void **state, char id[UUID_STR_LEN])
{
    struct job_spec *spec = spec_simple("users", 5, NULL);
    struct job_create_request req = {.spec = spec};
    struct job *job = NULL;
    bool existed = false;
    struct iq_error err = {0};
    assert_int_equal(store_job_create(STORE(state), &req, &test_actor, &job, &existed, &err), 0);
    memcpy(id, job->id, UUID_STR_LEN);
    job_free(job);
    job_spec_free(spec);
    struct claim_request claim = {.node_id = TEST_NODE_ID,
                                  .worker = "w1",
                                  .max_concurrent = 10,
                                  .lease_ms = TEST_LEASE_MS};
    assert_int_equal(store_job_claim(STORE(state), &claim, &test_actor, &job, &err), 0);
    assert_non_null(job);
    assert_string_equal(job->id, id);
    assert_int_equal(job->attempt, 1);
    job_free(job);
}

/*
 * open_impatient - another store on the fixture's database that will not
 * wait for a lock: a busy timeout of 1 ms, the least store_open takes
 * (PostgreSQL has none; its writers never wait for a load here).
 */
static struct store *open_impatient(void **state)
{
    struct store_options options = {.busy_timeout_ms = 1};
    struct store *s = NULL;
    struct iq_error err = {0};
    if (store_open(FIX(state)->url, &options, &s, &err) < 0)
        fail_msg("open: %s", iq_error_message(&err));
    return s;
}

/* open_raw_sqlite - a plain connection to the fixture's SQLite file, busy timeout 0. */
static sqlite3 *open_raw_sqlite(void **state)
{
    const char *path = FIX(state)->url + strlen("sqlite:");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_busy_timeout(db, 0), SQLITE_OK);
    return db;
}

/* try_write_lock - BEGIN IMMEDIATE (then ROLLBACK): SQLITE_OK, or SQLITE_BUSY at once. */
static int try_write_lock(sqlite3 *db)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    return rc;
}

/*
 * other_writers - what the API and the engine write while a job loads,
 * from a connection that does not wait: submit a job, heartbeat the
 * running one, cancel it (it stays RUNNING with cancel_requested).
 * cancelled: whether an earlier call cancelled it already.
 */
static void other_writers(struct store *other, const char *running_id, bool cancelled)
{
    struct job_spec *spec = spec_simple("elsewhere", 5, NULL);
    struct job_create_request req = {.spec = spec};
    struct job *job = NULL;
    bool existed = false;
    bool cancel_requested = true;
    struct iq_error err = {0};
    if (store_job_create(other, &req, &test_actor, &job, &existed, &err) < 0)
        fail_msg("submit while rows load: %s", iq_error_message(&err));
    job_free(job);
    job_spec_free(spec);
    if (store_job_heartbeat(other, running_id, "w1", 1, TEST_LEASE_MS, NULL, &cancel_requested,
                            &err) < 0)
        fail_msg("heartbeat while rows load: %s", iq_error_message(&err));
    assert_int_equal(cancel_requested, cancelled);
    if (store_job_cancel(other, running_id, &test_actor, &job, &err) < 0)
        fail_msg("cancel while rows load: %s", iq_error_message(&err));
    assert_int_equal(job->status, JOB_RUNNING);
    assert_true(job->cancel_requested);
    job_free(job);
    assert_int_equal(store_job_heartbeat(other, running_id, "w1", 1, TEST_LEASE_MS, NULL,
                                         &cancel_requested, &err),
                     0);
    assert_true(cancel_requested);
}

/*
 * While rows load, other writers get in at once, direct and staged plans
 * alike: a connection that does not wait submits, heartbeats and cancels
 * halfway through, and on SQLite a raw BEGIN IMMEDIATE with no busy
 * timeout succeeds after every batch. The write lock is taken for the
 * final stretch only (load_check when there are checks, else
 * load_promote) and is free again after load_commit, which lands every
 * row with the fence still passing (the job is RUNNING, cancel or not).
 */
static void test_writers_get_in_while_rows_load(void **state)
{
    enum { BATCHES = 10, BATCH = 2000 };
    create_users(state, NULL);
    char id[UUID_STR_LEN];
    claimed_job(state, id);
    struct store *other = open_impatient(state);
    sqlite3 *raw = is_pg(state) ? NULL : open_raw_sqlite(state);
    const char **values = calloc((size_t)BATCH * 3, sizeof(*values));
    char(*text)[2][32] = calloc(BATCH, sizeof(*text));
    assert_non_null(values);
    assert_non_null(text);
    for (int direct = 0; direct < 2; direct++) {
        exec_ok(state, "DELETE FROM users");
        struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
        struct load_plan plan = plan_of(TARGET_INSERT, &part, 1);
        plan.direct = direct;
        plan.commit.fence_job_id = id;
        plan.commit.fence_worker = "w1";
        plan.commit.fence_attempt = 1;
        struct iq_error err = {0};
        struct load *load = NULL;
        assert_int_equal(store_load_begin(STORE(state), &plan, &load, &err), 0);
        for (int b = 0; b < BATCHES; b++) {
            for (int i = 0; i < BATCH; i++) {
                snprintf(text[i][0], sizeof(text[i][0]), "%d", b * BATCH + i + 1);
                snprintf(text[i][1], sizeof(text[i][1]), "u%d@example.com", b * BATCH + i + 1);
                values[i * 3] = text[i][0];
                values[i * 3 + 1] = text[i][1];
                values[i * 3 + 2] = NULL;
            }
            assert_int_equal(store_load_rows(load, 0, values, NULL, BATCH, &err), 0);
            if (raw && try_write_lock(raw) != SQLITE_OK)
                fail_msg("direct %d, batch %d: the write lock is held while rows load", direct, b);
            if (b == BATCHES / 2)
                other_writers(other, id, direct == 1);
        }
        int64_t rejected = -1;
        assert_int_equal(store_load_check(load, NULL, NULL, &rejected, &err), 0);
        if (raw)
            assert_int_equal(try_write_lock(raw), direct ? SQLITE_OK : SQLITE_BUSY);
        struct load_result result;
        assert_int_equal(store_load_promote(load, &result, &err), 0);
        if (raw)
            assert_int_equal(try_write_lock(raw), SQLITE_BUSY);
        if (store_load_commit(load, &err) < 0)
            fail_msg("commit: %s", iq_error_message(&err));
        if (raw)
            assert_int_equal(try_write_lock(raw), SQLITE_OK);
        assert_int_equal(result.rows_inserted, BATCHES * BATCH);
        assert_int_equal(sql_int(state, "SELECT count(*) FROM users"), BATCHES * BATCH);
    }
    assert_int_equal(sql_int(state, "SELECT count(*) FROM stg_import_queue"), 3);
    free(values);
    free(text);
    sqlite3_close(raw);
    store_close(other);
}

/*
 * PostgreSQL: direct replace empties the target inside the transaction
 * (TRUNCATE, then COPY FREEZE; DELETE when foreign keys point at it).
 */
static void test_direct_replace(void **state)
{
    if (!is_pg(state))
        skip(); /* load.h promises direct mode for insert and append only */
    exec_ok(state, "DROP TABLE IF EXISTS team_members");
    create_users(state, "INSERT INTO users VALUES (1, 'one', NULL), (2, 'two', NULL)");
    static const char *const rows[] = {"2", "TWO", NULL, "3", "three", NULL};
    struct batch batch = {0, rows, NULL, 2};
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    struct load_plan plan = plan_of(TARGET_REPLACE, &part, 1);
    plan.direct = true;
    struct outcome out;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(out.result.rows_deleted, 2);
    assert_int_equal(out.result.rows_inserted, 2);
    assert_sql_text(state, "SELECT email FROM users ORDER BY user_id", "TWO\nthree");
    /* Referenced by a foreign key: TRUNCATE is refused, DELETE does it. */
    exec_ok(state, "CREATE TABLE team_members (user_id bigint REFERENCES users)");
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(out.result.rows_deleted, 2);
    assert_sql_text(state, "SELECT email FROM users ORDER BY user_id", "TWO\nthree");
    exec_ok(state, "DROP TABLE team_members");
}

/* ------------------------------------------------------------------ */
/* Where targets resolve (issue 12)                                    */
/* ------------------------------------------------------------------ */

/* The columns of pg_description, as the operator's job of issue 12 had them. */
static const char *const description_columns[] = {"objoid", "classoid", "objsubid", "description"};
static const enum column_type description_types[] = {COLUMN_BIGINT, COLUMN_BIGINT, COLUMN_INTEGER,
                                                     COLUMN_TEXT};

/*
 * expect_refused - describing table and beginning a load (staged and
 * direct, append, create allowed) into it are IQ_E_INVALID on s.
 */
static void expect_refused(struct store *s, const char *table)
{
    struct table_info info;
    struct iq_error err = {0};
    if (store_table_describe(s, table, &info, &err) != IQ_E_INVALID)
        fail_msg("describing \"%s\" was not refused", table);
    iq_error_clear(&err);
    struct load_part part = part_of(table, description_columns, description_types, 4, NULL, 0);
    struct load_plan plan = plan_of(TARGET_APPEND, &part, 1);
    plan.create_target = true;
    for (int direct = 0; direct < 2; direct++) {
        plan.direct = direct;
        struct load *load = NULL;
        int rc = store_load_begin(s, &plan, &load, &err);
        if (rc != IQ_E_INVALID) {
            if (load)
                store_load_abort(load);
            fail_msg("a %s load into \"%s\" was not refused (%d: %s)",
                     direct ? "direct" : "staged", table, rc, iq_error_message(&err));
        }
        assert_null(load);
        iq_error_clear(&err);
    }
}

/*
 * A job appending to pg_description COMPLETED and wrote into
 * pg_catalog.pg_description: no catalog table, catalog schema or service
 * table is ever described or loaded, however it is spelled.
 */
static void test_catalogs_are_never_targets(void **state)
{
    static const char *const pg_names[] = {
        "pg_description", "pg_class", "pg_catalog.pg_description", "pg_catalog.pg_class",
        "pg_catalog.pg_attribute", "information_schema.sql_features", "pg_toast.pg_toast_2619",
        "pg_temp.users", "public.pg_description", "stg_import_queue", "public.importq_tokens",
        "stg_scheduled_imports", "PG_Description",
    };
    static const char *const sqlite_names[] = {
        "sqlite_master", "sqlite_schema", "main.sqlite_master", "temp.sqlite_temp_master",
        "sqlite_sequence", "temp.users", "main.users", "importq_staging.users",
        "stg_import_queue", "importq_tokens",
    };
    const char *const *names = is_pg(state) ? pg_names : sqlite_names;
    size_t count = is_pg(state) ? COUNT_OF(pg_names) : COUNT_OF(sqlite_names);
    int64_t descriptions = is_pg(state) ? sql_int(state, "SELECT count(*) FROM pg_description") : 0;
    for (size_t i = 0; i < count; i++)
        expect_refused(STORE(state), names[i]);
    if (is_pg(state))
        assert_int_equal(sql_int(state, "SELECT count(*) FROM pg_description"), descriptions);
    /* Refusing left the connection usable. */
    create_users(state, "INSERT INTO users VALUES (1, 'one', NULL)");
    struct table_info info;
    struct iq_error err = {0};
    assert_int_equal(store_table_describe(STORE(state), "users", &info, &err), 0);
    assert_true(info.exists);
    table_info_clear(&info);
}

/*
 * open_pg_with - another connection to the test database with query
 * appended to its URL ("options=-csearch_path%3D...") and target_schemas
 * (NULL: the default). Fails the test when it cannot connect.
 */
static struct store *open_pg_with(void **state, const char *query, const char *target_schemas)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s%s%s", FIX(state)->url, query ? "?" : "", query ? query : "");
    struct store_options opts = {.target_schemas = target_schemas};
    struct store *s = NULL;
    struct iq_error err = {0};
    if (store_open(url, &opts, &s, &err) < 0)
        fail_msg("store_open(%s): %s", url, iq_error_message(&err));
    return s;
}

/* load_users_on - an append of one row (user 7) into table on s; returns the code. */
static int load_users_on(struct store *s, const char *table, bool create, bool direct,
                         struct iq_error *err)
{
    static const char *const rows[] = {"7", "seven@x", NULL};
    struct batch batch = {0, rows, NULL, 1};
    struct load_part part = part_of(table, users_columns, users_types, 3, NULL, 0);
    struct load_plan plan = plan_of(TARGET_APPEND, &part, 1);
    plan.create_target = create;
    plan.direct = direct;
    struct outcome out;
    int rc = run_load(s, &plan, &batch, 1, &out);
    *err = out.err;
    return rc;
}

/*
 * The connection string may move search_path; targets still resolve only
 * in the target schemas, and a default schema that is a catalog (or
 * pg_temp, where a created table would vanish at disconnect) holds none.
 */
static void test_search_path_in_url_is_not_followed(void **state)
{
    if (!is_pg(state))
        skip(); /* SQLite has no search_path: every statement names main */
    create_users(state, NULL);
    struct iq_error err = {0};
    int64_t features = sql_int(state, "SELECT count(*) FROM information_schema.sql_features");

    /* search_path=information_schema: sql_features is a catalog table
     * whose name has no pg_ prefix; the default schema is refused. */
    struct store *s = open_pg_with(state, "options=-csearch_path%3Dinformation_schema", NULL);
    static const char *const feature_columns[] = {"feature_id", "feature_name"};
    static const enum column_type feature_types[] = {COLUMN_TEXT, COLUMN_TEXT};
    static const char *const feature_row[] = {"X999", "importq was here"};
    struct batch batch = {0, feature_row, NULL, 1};
    struct load_part part = part_of("sql_features", feature_columns, feature_types, 2, NULL, 0);
    struct load_plan plan = plan_of(TARGET_APPEND, &part, 1);
    struct outcome out;
    assert_int_equal(run_load(s, &plan, &batch, 1, &out), IQ_E_INVALID);
    assert_non_null(strstr(iq_error_message(&out.err), "information_schema"));
    iq_error_clear(&out.err);
    assert_int_equal(load_users_on(s, "users", false, false, &err), IQ_E_INVALID);
    iq_error_clear(&err);
    store_close(s);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM information_schema.sql_features"),
                     features);

    /* search_path=pg_catalog: "users" is not looked for in public either. */
    s = open_pg_with(state, "options=-csearch_path%3Dpg_catalog", NULL);
    assert_int_equal(load_users_on(s, "users", true, false, &err), IQ_E_INVALID);
    iq_error_clear(&err);
    expect_refused(s, "pg_description");
    store_close(s);

    /* search_path=pg_temp: a created target would be a TEMP table. */
    s = open_pg_with(state, "options=-csearch_path%3Dpg_temp", NULL);
    for (int direct = 0; direct < 2; direct++) {
        assert_int_equal(load_users_on(s, "vanishing", true, direct, &err), IQ_E_INVALID);
        iq_error_clear(&err);
    }
    store_close(s);

    /* An explicit target-schemas wins over the URL's search_path. */
    s = open_pg_with(state, "options=-csearch_path%3Dpg_catalog", "public");
    assert_int_equal(load_users_on(s, "users", false, false, &err), 0);
    store_close(s);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM public.users WHERE user_id = 7"), 1);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM pg_class WHERE relname = 'vanishing'"),
                     0);
}

/*
 * A table named like another elsewhere: with search_path "shadow, public"
 * and target-schemas public, "users" and "sql_features" are public's,
 * never shadow's or information_schema's; "shadow.users" is refused;
 * children and references resolve the same way.
 */
static void test_targets_resolve_only_in_target_schemas(void **state)
{
    if (!is_pg(state))
        skip(); /* SQLite has no schemas to choose from: only main */
    exec_ok(state, "DROP SCHEMA IF EXISTS shadow CASCADE; CREATE SCHEMA shadow;"
                   " CREATE TABLE shadow.users (user_id bigint PRIMARY KEY, email text,"
                   " team_id integer); CREATE TABLE shadow.teams (team_id integer);"
                   " CREATE TABLE public.sql_features (user_id bigint, email text,"
                   " team_id integer)");
    create_users(state, NULL);
    int64_t features = sql_int(state, "SELECT count(*) FROM information_schema.sql_features");
    struct store *s =
        open_pg_with(state, "options=-csearch_path%3Dshadow,information_schema,public", "public");
    struct iq_error err = {0};
    assert_int_equal(load_users_on(s, "users", false, false, &err), 0);
    assert_int_equal(load_users_on(s, "sql_features", false, false, &err), 0);
    assert_int_equal(load_users_on(s, "public.sql_features", false, true, &err), 0);
    assert_int_equal(load_users_on(s, "shadow.users", false, false, &err), IQ_E_INVALID);
    assert_non_null(strstr(iq_error_message(&err), "not a target schema"));
    iq_error_clear(&err);
    assert_int_equal(load_users_on(s, "information_schema.sql_features", false, false, &err),
                     IQ_E_INVALID);
    iq_error_clear(&err);

    /* A references table only in shadow does not exist for the load. */
    struct load_reference ref = {"team_id", "teams", "team_id"};
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    part.references = &ref;
    part.reference_count = 1;
    struct load_plan plan = plan_of(TARGET_UPSERT, &part, 1);
    struct load *load = NULL;
    assert_int_equal(store_load_begin(s, &plan, &load, &err), IQ_E_INVALID);
    assert_non_null(strstr(iq_error_message(&err), "teams"));
    iq_error_clear(&err);
    ref.ref_table = "shadow.teams";
    assert_int_equal(store_load_begin(s, &plan, &load, &err), IQ_E_INVALID);
    iq_error_clear(&err);
    store_close(s);

    assert_int_equal(sql_int(state, "SELECT count(*) FROM public.users"), 1);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM public.sql_features"), 2);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM shadow.users"), 0);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM information_schema.sql_features"),
                     features);
    exec_ok(state, "DROP SCHEMA shadow CASCADE; DROP TABLE public.sql_features");
}

/*
 * Schema-qualified targets in every mode: each statement names
 * "crm"."users", so public.users (first in search_path) is never touched;
 * an unqualified name resolves in the first target schema that has it.
 */
static void test_qualified_targets_in_every_mode(void **state)
{
    if (!is_pg(state))
        skip(); /* on SQLite a qualified name is refused (test_catalogs_are_never_targets) */
    exec_ok(state, "DROP SCHEMA IF EXISTS crm CASCADE; CREATE SCHEMA crm;"
                   " CREATE TABLE crm.teams (team_id integer PRIMARY KEY);"
                   " INSERT INTO crm.teams VALUES (10), (20);"
                   " CREATE TABLE crm.users (user_id bigint PRIMARY KEY, email text,"
                   " team_id integer)");
    create_users(state, "INSERT INTO users VALUES (1, 'public', NULL)");
    struct store *s = open_pg_with(state, NULL, "crm, public");
    static const char *const rows[] = {"1", "one", "10", "2", "two", "99"};
    static const int64_t lines[] = {2, 3};
    struct batch batch = {0, rows, lines, 2};
    struct load_reference ref = {"team_id", "crm.teams", "team_id"};
    struct load_part part = part_of("crm.users", users_columns, users_types, 3, users_key, 1);
    part.references = &ref;
    part.reference_count = 1;
    struct load_plan plan = plan_of(TARGET_UPSERT, &part, 1);
    struct outcome out;
    assert_int_equal(run_load(s, &plan, &batch, 1, &out), 0);
    assert_int_equal(out.rejected, 1); /* team 99 is not in crm.teams */
    assert_int_equal(out.result.rows_inserted, 1);
    assert_int_equal(run_load(s, &plan, &batch, 1, &out), 0);
    assert_int_equal(out.result.rows_updated, 1);

    part.reference_count = 0;
    plan = plan_of(TARGET_REPLACE, &part, 1);
    assert_int_equal(run_load(s, &plan, &batch, 1, &out), 0);
    assert_int_equal(out.result.rows_deleted, 1);
    plan.direct = true;
    assert_int_equal(run_load(s, &plan, &batch, 1, &out), 0);
    assert_int_equal(out.result.rows_deleted, 2);
    assert_sql_text(state, "SELECT email FROM crm.users ORDER BY user_id", "one\ntwo");

    /* Unqualified: crm comes first in target-schemas. */
    part = part_of("users", users_columns, users_types, 3, users_key, 1);
    plan = plan_of(TARGET_APPEND, &part, 1);
    static const char *const more[] = {"3", "three", NULL};
    struct batch one = {0, more, NULL, 1};
    assert_int_equal(run_load(s, &plan, &one, 1, &out), 0);
    /* Created where it was named, or in the first target schema. */
    part.table = "public.created_here";
    plan.create_target = true;
    assert_int_equal(run_load(s, &plan, &one, 1, &out), 0);
    part.table = "created_first";
    assert_int_equal(run_load(s, &plan, &one, 1, &out), 0);
    store_close(s);

    assert_int_equal(sql_int(state, "SELECT count(*) FROM crm.users"), 3);
    assert_sql_text(state, "SELECT email FROM public.users", "public");
    assert_int_equal(sql_int(state, "SELECT count(*) FROM public.created_here"), 1);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM crm.created_first"), 1);
    exec_ok(state, "DROP SCHEMA crm CASCADE");
}

/* A bad target-schemas setting fails store_open, never loads elsewhere. */
static void test_bad_target_schemas_setting(void **state)
{
    if (!is_pg(state))
        skip(); /* the setting is PostgreSQL's */
    static const char *const bad[] = {"pg_catalog", "public, information_schema", "pg_temp",
                                      "public,public", "a b"};
    for (size_t i = 0; i < COUNT_OF(bad); i++) {
        struct store_options opts = {.target_schemas = bad[i]};
        struct store *s = NULL;
        struct iq_error err = {0};
        assert_int_equal(store_open(FIX(state)->url, &opts, &s, &err), IQ_E_INVALID);
        assert_null(s);
        assert_non_null(strstr(iq_error_message(&err), "target-schemas"));
        iq_error_clear(&err);
    }
}

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

static const char *const awkward_columns[] = {"id", "t", "i",  "b",  "n", "r",
                                              "bo", "d", "ts", "tz", "u", "j"};
static const enum column_type awkward_types[] = {
    COLUMN_INTEGER, COLUMN_TEXT, COLUMN_INTEGER,   COLUMN_BIGINT,      COLUMN_NUMERIC, COLUMN_REAL,
    COLUMN_BOOLEAN, COLUMN_DATE, COLUMN_TIMESTAMP, COLUMN_TIMESTAMPTZ, COLUMN_UUID,    COLUMN_JSON};
#define AWKWARD_COLUMNS 12
#define AWKWARD_ROWS 8

/* Canonical values (pipeline/convert.h) with every character COPY or SQL might trip over. */
static const char *const awkward_rows[AWKWARD_ROWS][AWKWARD_COLUMNS] = {
    {"1", "tab\there", "42", "-9007199254740993", "12345678901234567890.123456789", "1.5", "true",
     "2024-02-29", "2024-02-29 13:45:56.123456", "2024-02-29T13:45:56.123456Z",
     "0190a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b",
     "{\"k\":\"a\\tb\\\\c\\nd\",\"u\":\"\xc5\xbc\xc3\xb3\xc5\x82\xc4\x87\"}"},
    {"2", "line\nbreak\r\nCRLF\rCR", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"3", "back\\slash \\N \\. \\\\ quote' \"dq\"", "-2147483648", "0", "-0.5", "-0.0025", "false",
     "0001-01-01", "1999-12-31 23:59:59", "1970-01-01T00:00:00Z",
     "00000000-0000-0000-0000-000000000000", "[1,\"\\\\\",null,\"'\"]"},
    {"4", "", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "\"\""},
    {"5", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"6", "UTF-8: \xc5\xbc\xc3\xb3\xc5\x82\xc4\x87 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x8e\x89 \\t",
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"7", "\\N", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "null"},
    {"8", "\\.", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

/* sql_literal - 'value' with quotes doubled (control characters kept raw). Caller frees. */
static char *sql_literal(const char *value)
{
    size_t len = strlen(value);
    char *out = malloc(len * 2 + 3);
    char *o = out;
    *o++ = '\'';
    for (const char *c = value; *c; c++) {
        if (*c == '\'')
            *o++ = '\'';
        *o++ = *c;
    }
    *o++ = '\'';
    *o = '\0';
    return out;
}

/* check_awkward_value - row id's column holds exactly value (or NULL). */
static void check_awkward_value(void **state, const char *table, int row, int column)
{
    const char *name = awkward_columns[column];
    const char *value = awkward_rows[row][column];
    char sql[1024];
    char *literal = value ? sql_literal(value) : NULL;
    bool pg = is_pg(state);
    const char *type = pg ? column_type_name(awkward_types[column]) : NULL;
    if (!value)
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE id = %d AND %s IS NULL", table,
                 row + 1, name);
    else if (pg && awkward_types[column] == COLUMN_JSON)
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM %s WHERE id = %d AND %s::jsonb = %s::jsonb", table, row + 1,
                 name, literal);
    else if (pg)
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE id = %d AND %s = %s::%s", table,
                 row + 1, name, literal, type);
    else if (awkward_types[column] == COLUMN_TEXT || awkward_types[column] == COLUMN_JSON ||
             awkward_types[column] == COLUMN_INTEGER || awkward_types[column] == COLUMN_BIGINT)
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE id = %d AND %s = %s", table,
                 row + 1, name, literal);
    else /* SQLite keeps other types its own way: the value is there */
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE id = %d AND %s IS NOT NULL",
                 table, row + 1, name);
    free(literal);
    if (sql_int(state, sql) != 1)
        fail_msg("%s: row %d column %s does not hold its value: %s", FIX(state)->backend, row + 1,
                 name, sql);
}

/* load_awkward - the awkward rows into table (created by the load) and check each value. */
static void load_awkward(void **state, const char *table, enum target_mode mode, bool direct)
{
    char drop[96];
    snprintf(drop, sizeof(drop), "DROP TABLE IF EXISTS %s", table);
    exec_ok(state, drop);
    static const char *const key[] = {"id"};
    struct load_part part = part_of(table, awkward_columns, awkward_types, AWKWARD_COLUMNS, key, 1);
    struct load_plan plan = plan_of(mode, &part, 1);
    plan.create_target = true;
    plan.direct = direct;
    struct batch batch = {0, &awkward_rows[0][0], NULL, AWKWARD_ROWS};
    struct outcome out;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(out.result.rows_inserted, AWKWARD_ROWS);
    for (int row = 0; row < AWKWARD_ROWS; row++)
        for (int column = 0; column < AWKWARD_COLUMNS; column++)
            check_awkward_value(state, table, row, column);
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE t = ''", table);
    assert_int_equal(sql_int(state, sql), 1); /* the empty string is not NULL */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE t IS NULL", table);
    assert_int_equal(sql_int(state, sql), 1);
}

static void test_awkward_values_round_trip(void **state)
{
    load_awkward(state, "awkward_direct", TARGET_INSERT, true);
    load_awkward(state, "awkward_staged", TARGET_UPSERT, false);

    /* Into a json column (not jsonb) the JSON text is kept byte for byte. */
    exec_ok(state, "DROP TABLE IF EXISTS json_exact");
    exec_ok(state, "CREATE TABLE json_exact (id integer NOT NULL PRIMARY KEY, j json)");
    static const char *const columns[] = {"id", "j"};
    static const enum column_type types[] = {COLUMN_INTEGER, COLUMN_JSON};
    const char *rows[2 * AWKWARD_ROWS];
    for (int row = 0; row < AWKWARD_ROWS; row++) {
        rows[row * 2] = awkward_rows[row][0];
        rows[row * 2 + 1] = awkward_rows[row][AWKWARD_COLUMNS - 1];
    }
    for (int direct = 0; direct < 2; direct++) {
        exec_ok(state, "DELETE FROM json_exact");
        struct load_part part = part_of("json_exact", columns, types, 2, columns, 1);
        struct load_plan plan = plan_of(TARGET_INSERT, &part, 1);
        plan.direct = direct;
        struct batch batch = {0, rows, NULL, AWKWARD_ROWS};
        struct outcome out;
        run_load_ok(state, &plan, &batch, 1, &out);
        for (int row = 0; row < AWKWARD_ROWS; row++) {
            const char *value = awkward_rows[row][AWKWARD_COLUMNS - 1];
            char *literal = value ? sql_literal(value) : NULL;
            char sql[256];
            snprintf(sql, sizeof(sql), "SELECT count(*) FROM json_exact WHERE id = %d AND %s%s%s",
                     row + 1, is_pg(state) ? "j::text" : "j", value ? " = " : " IS NULL",
                     value ? literal : "");
            assert_int_equal(sql_int(state, sql), 1);
            free(literal);
        }
    }
}

/* A value longer than the COPY buffer, and many long ones across its boundary. */
static void test_long_values(void **state)
{
    exec_ok(state, "DROP TABLE IF EXISTS long_values");
    size_t len = 3 * 1024 * 1024 + 7;
    char *big = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        big[i] = "ab\t\\\ncd"[i % 7];
    big[len] = '\0';
    static const char *const columns[] = {"id", "t"};
    static const enum column_type types[] = {COLUMN_INTEGER, COLUMN_TEXT};
    static const char *const key[] = {"id"};
    const char *rows[] = {"1", big, "2", "small", "3", big};
    struct batch batch = {0, rows, NULL, 3};
    struct load_part part = part_of("long_values", columns, types, 2, key, 1);
    struct load_plan plan = plan_of(TARGET_INSERT, &part, 1);
    plan.create_target = true;
    struct outcome out;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM long_values"), 3);
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM long_values WHERE length(t) = %zu", len);
    assert_int_equal(sql_int(state, sql), 2);
    char *head = sql_literal("ab\t\\\ncd");
    char *tail = sql_literal(big + len - 7);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM long_values WHERE substr(t, 1, 7) = %s AND"
             " substr(t, length(t) - 6) = %s",
             head, tail);
    assert_int_equal(sql_int(state, sql), 2);
    free(head);
    free(tail);
    free(big);
}

static const struct CMUnitTest load_tests[] = {
    cmocka_unit_test_setup_teardown(test_describe_missing_table, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_describe_types, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_describe_postgres_types, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_missing_target_is_invalid, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_create_target, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_direct_insert_many, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_direct_one_batch_or_several, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_staged_insert_rejects, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_upsert_counts_and_values, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_upsert_key_without_index_is_invalid, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_append, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_schema_change_during_load, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_describe_handed_to_the_load, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_replace_is_atomic, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_references_reject_unknown_values, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_children_of_rejected_parents_are_dropped, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_abort_leaves_target_unchanged, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_fence_mismatch_is_stale, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_interrupt_cancels_large_load, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_interrupt_stops_running_statement, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_writers_get_in_while_rows_load, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_direct_replace, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_catalogs_are_never_targets, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_search_path_in_url_is_not_followed, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_targets_resolve_only_in_target_schemas, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_qualified_targets_in_every_mode, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_bad_target_schemas_setting, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_awkward_values_round_trip, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_long_values, fixture_setup, fixture_teardown),
};


int main(void)
{
    return fixture_run_backends("load", "load tests", load_tests, sizeof(load_tests) / sizeof(load_tests[0]));
}
