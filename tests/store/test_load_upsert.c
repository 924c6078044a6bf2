/*
 * test_load_upsert.c - upsert loads (store/load.h, TARGET_UPSERT) on both
 * backends: the rejects of a file with duplicate keys (lines, order,
 * messages), the counts and the target afterwards, with and without
 * duplicates, for a NULL key, for a load with children, for a key-only table (ON CONFLICT
 * DO NOTHING), for a duplicate row that would also break a constraint, and
 * for a child that references its parent's table. On PostgreSQL a DO
 * UPDATE part is upserted during load_check when its file has no
 * duplicate key (postgres/load/check.c, upsert_early); these tests pin
 * that the result is the same as the duplicate search before the upsert
 * gives, whichever way the load goes.
 *
 * IMPORTQ_TEST_ONLY=postgres (or =sqlite) runs one backend's group only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/store_fixture.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define MAX_REJECTS 16

/* Every reject a load reported, as "part:line column=value message". */
struct rejects {
    size_t count;
    char text[MAX_REJECTS][320];
};

static int collect_reject(const struct load_reject *reject, void *ctx)
{
    struct rejects *r = ctx;
    if (r->count < MAX_REJECTS)
        snprintf(r->text[r->count], sizeof(r->text[0]), "%d:%" PRId64 " %s=%s %s", reject->part,
                 reject->line, reject->column ? reject->column : "-",
                 reject->value ? reject->value : "-", reject->message);
    r->count++;
    return 0;
}

/* Rows of one part: row-major values and their lines. */
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
};

/*
 * run_load - begin, rows, check, promote, commit (abort on failure), which
 * must all succeed. after_check (may be NULL) runs between check and
 * promote.
 */
static void run_load(void **state, const struct load_plan *plan, const struct batch *batches,
                     size_t batch_count, void (*after_check)(void **state),
                     struct outcome *out)
{
    memset(out, 0, sizeof(*out));
    struct iq_error err = {0};
    struct load *load = NULL;
    int rc = store_load_begin(STORE(state), plan, &load, &err);
    for (size_t i = 0; rc == 0 && i < batch_count; i++)
        rc = store_load_rows(load, batches[i].part, batches[i].values, batches[i].lines,
                             batches[i].rows, &err);
    if (rc == 0)
        rc = store_load_check(load, collect_reject, &out->rejects, &out->rejected, &err);
    if (rc == 0 && after_check)
        after_check(state);
    if (rc == 0)
        rc = store_load_promote(load, &out->result, &err);
    if (rc == 0)
        rc = store_load_commit(load, &err); /* frees the load */
    if (rc < 0) {
        store_load_abort(load);
        fail_msg("%s load failed (%d): %s", FIX(state)->backend, rc, iq_error_message(&err));
    }
}

static void exec_ok(void **state, const char *sql)
{
    assert_int_equal(fixture_sql_exec(FIX(state), sql), 0);
}

/* assert_sql_text - the query's text result (rows joined by newlines) equals want. */
static void assert_sql_text(void **state, const char *sql, const char *want)
{
    char *got = fixture_sql_text(FIX(state), sql);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", sql, got, want);
    free(got);
}

/* assert_rejects - exactly these rejects, in this order. */
static void assert_rejects(const struct outcome *out, const char *const *want, size_t count)
{
    if (out->rejects.count != count)
        fail_msg("%zu rejects, want %zu (first: %s)", out->rejects.count, count,
                 out->rejects.count ? out->rejects.text[0] : "none");
    for (size_t i = 0; i < count; i++)
        if (strcmp(out->rejects.text[i], want[i]) != 0)
            fail_msg("reject %zu: got \"%s\", want \"%s\"", i, out->rejects.text[i], want[i]);
}

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

static struct load_plan upsert_plan(struct load_part *parts, size_t part_count)
{
    struct load_plan plan = {.mode = TARGET_UPSERT, .parts = parts, .part_count = part_count};
    return plan;
}

/* The users table: user_id bigint key, email NOT NULL, team_id. */
static const char *const users_columns[] = {"user_id", "email", "team_id"};
static const enum column_type users_types[] = {COLUMN_BIGINT, COLUMN_TEXT, COLUMN_INTEGER};
static const char *const users_key[] = {"user_id"};

static void create_users(void **state)
{
    exec_ok(state, "DROP TABLE IF EXISTS users");
    exec_ok(state, "CREATE TABLE users (user_id bigint NOT NULL PRIMARY KEY, email text NOT NULL,"
                   " team_id integer)");
    exec_ok(state, "INSERT INTO users VALUES (1, 'one', 1), (2, 'two', 2)");
}

/*
 * users_locked_for_writing - PostgreSQL: whether the load's transaction
 * holds a write lock on users, i.e. wrote it during load_check.
 */
static bool users_locked_for_writing(void **state)
{
    return fixture_sql_int(FIX(state),
                           "SELECT count(*) FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_class c"
                           " ON c.oid = l.relation WHERE c.relname = 'users'"
                           " AND l.mode = 'RowExclusiveLock' AND l.granted") > 0;
}

static bool upserted_in_check;

static void note_upserted_in_check(void **state)
{
    upserted_in_check = is_pg(state) && users_locked_for_writing(state);
}

/* ------------------------------------------------------------------ */
/* One part                                                            */
/* ------------------------------------------------------------------ */

/* No duplicate key: every row lands; PostgreSQL upserts during the check. */
static void test_upsert_without_duplicates(void **state)
{
    create_users(state);
    static const char *const rows[] = {"2", "TWO", NULL, "3", "three", "3",
                                       "1", "one", "1",  "4", "four",  NULL};
    static const int64_t lines[] = {2, 3, 4, 5};
    struct batch batch = {0, rows, lines, 4};
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    struct load_plan plan = upsert_plan(&part, 1);
    struct outcome out;
    upserted_in_check = false;
    run_load(state, &plan, &batch, 1, note_upserted_in_check, &out);
    assert_int_equal(out.rejected, 0);
    assert_rejects(&out, NULL, 0);
    assert_int_equal(out.result.rows_inserted, 2);
    assert_int_equal(out.result.rows_updated, 2);
    assert_int_equal(upserted_in_check, is_pg(state));
    assert_sql_text(state,
                    "SELECT user_id || ' ' || email || ' ' || coalesce(CAST(team_id AS text), '-')"
                    " FROM users ORDER BY user_id",
                    "1 one 1\n2 TWO -\n3 three 3\n4 four -");
}

/*
 * Duplicate keys: the first occurrence lands, the later ones are rejected
 * naming its line, in line order after the NULL-key and reference rejects.
 */
static void test_upsert_duplicates_rejected(void **state)
{
    create_users(state);
    exec_ok(state, "DROP TABLE IF EXISTS teams");
    exec_ok(state, "CREATE TABLE teams (team_id integer NOT NULL PRIMARY KEY)");
    exec_ok(state, "INSERT INTO teams VALUES (1), (2), (3)");
    static const char *const rows[] = {
        "2", "TWO",   NULL, /* line 2 */
        "3", "three", "3",  /* line 3 */
        "2", "2b",    "1",  /* line 4: duplicate of line 2 */
        NULL, "none", NULL, /* line 5: NULL key */
        "5", "five",  "9",  /* line 6: no team 9 */
        "3", "3b",    NULL, /* line 7: duplicate of line 3 */
        "2", "2c",    NULL, /* line 8: duplicate of line 2 */
        "6", "six",   "2",  /* line 9 */
    };
    static const int64_t lines[] = {2, 3, 4, 5, 6, 7, 8, 9};
    struct batch batch = {0, rows, lines, 8};
    struct load_reference ref = {"team_id", "teams", "team_id"};
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    part.references = &ref;
    part.reference_count = 1;
    struct load_plan plan = upsert_plan(&part, 1);
    struct outcome out;
    upserted_in_check = false;
    run_load(state, &plan, &batch, 1, note_upserted_in_check, &out);
    static const char *const want[] = {
        "0:5 user_id=- key column user_id is NULL",
        "0:6 team_id=9 no teams.team_id = 9",
        "0:4 user_id=2 duplicate key (user_id)=(2) in file, first on line 2",
        "0:7 user_id=3 duplicate key (user_id)=(3) in file, first on line 3",
        "0:8 user_id=2 duplicate key (user_id)=(2) in file, first on line 2",
    };
    assert_rejects(&out, want, COUNT_OF(want));
    assert_int_equal(out.rejected, 5);
    assert_int_equal(out.result.rows_inserted, 2);
    assert_int_equal(out.result.rows_updated, 1);
    assert_false(upserted_in_check); /* the duplicates sent it the checked way */
    assert_sql_text(state,
                    "SELECT user_id || ' ' || email || ' ' || coalesce(CAST(team_id AS text), '-')"
                    " FROM users ORDER BY user_id",
                    "1 one 1\n2 TWO -\n3 three 3\n6 six 2");
}

/*
 * A later duplicate that would also break a constraint (email NOT NULL) is
 * rejected as a duplicate, as it always was: it never reaches the table.
 */
static void test_upsert_duplicate_breaking_a_constraint(void **state)
{
    create_users(state);
    static const char *const rows[] = {"7", "seven", NULL, "7", NULL, NULL, "8", "eight", NULL};
    static const int64_t lines[] = {2, 3, 4};
    struct batch batch = {0, rows, lines, 3};
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    struct load_plan plan = upsert_plan(&part, 1);
    struct outcome out;
    run_load(state, &plan, &batch, 1, NULL, &out);
    static const char *const want[] = {
        "0:3 user_id=7 duplicate key (user_id)=(7) in file, first on line 2",
    };
    assert_rejects(&out, want, COUNT_OF(want));
    assert_int_equal(out.result.rows_inserted, 2);
    assert_int_equal(out.result.rows_updated, 0);
    assert_sql_text(state, "SELECT email FROM users WHERE user_id >= 7 ORDER BY user_id",
                    "seven\neight");
}

/*
 * A NULL in a key that allows it (a unique index, not a primary key) is
 * rejected, as always: it never lands as a row of its own.
 */
static void test_upsert_null_key_rejected(void **state)
{
    exec_ok(state, "DROP TABLE IF EXISTS codes");
    exec_ok(state, "CREATE TABLE codes (code text UNIQUE, label text)");
    exec_ok(state, "INSERT INTO codes VALUES ('a', 'old')");
    static const char *const columns[] = {"code", "label"};
    static const enum column_type types[] = {COLUMN_TEXT, COLUMN_TEXT};
    static const char *const rows[] = {NULL, "x", "a", "y", "b", "z"};
    static const int64_t lines[] = {2, 3, 4};
    struct batch batch = {0, rows, lines, 3};
    struct load_part part = part_of("codes", columns, types, 2, columns, 1);
    struct load_plan plan = upsert_plan(&part, 1);
    struct outcome out;
    run_load(state, &plan, &batch, 1, NULL, &out);
    static const char *const want[] = {"0:2 code=- key column code is NULL"};
    assert_rejects(&out, want, COUNT_OF(want));
    assert_int_equal(out.result.rows_inserted, 1);
    assert_int_equal(out.result.rows_updated, 1);
    assert_sql_text(state, "SELECT coalesce(code, '-') || label FROM codes ORDER BY code",
                    "ay\nbz");
}

/* A key-only table (ON CONFLICT DO NOTHING, which passes a key twice silently). */
static void test_upsert_key_only_table(void **state)
{
    exec_ok(state, "DROP TABLE IF EXISTS tags");
    exec_ok(state, "CREATE TABLE tags (tag text NOT NULL, kind integer NOT NULL,"
                   " PRIMARY KEY (tag, kind))");
    exec_ok(state, "INSERT INTO tags VALUES ('a', 1)");
    static const char *const columns[] = {"tag", "kind"};
    static const enum column_type types[] = {COLUMN_TEXT, COLUMN_INTEGER};
    static const char *const rows[] = {"a", "1", "b", "1", "b", "2", "b", "1", "a", "1", "c", "3"};
    static const int64_t lines[] = {2, 3, 4, 5, 6, 7};
    struct batch batch = {0, rows, lines, 6};
    struct load_part part = part_of("tags", columns, types, 2, columns, 2);
    struct load_plan plan = upsert_plan(&part, 1);
    struct outcome out;
    run_load(state, &plan, &batch, 1, NULL, &out);
    static const char *const want[] = {
        "0:5 -=- duplicate key (tag, kind)=(b, 1) in file, first on line 3",
        "0:6 -=- duplicate key (tag, kind)=(a, 1) in file, first on line 2",
    };
    assert_rejects(&out, want, COUNT_OF(want));
    assert_int_equal(out.rejected, 2);
    assert_int_equal(out.result.rows_inserted, 3); /* (a, 1) was there: left alone */
    assert_int_equal(out.result.rows_updated, 0);
    assert_sql_text(state, "SELECT tag || kind FROM tags ORDER BY tag, kind", "a1\nb1\nb2\nc3");

    /* Without duplicates too. */
    static const char *const more[] = {"d", "4", "a", "1"};
    struct batch again = {0, more, lines, 2};
    run_load(state, &plan, &again, 1, NULL, &out);
    assert_int_equal(out.rejects.count, 0);
    assert_int_equal(out.result.rows_inserted, 1);
    assert_sql_text(state, "SELECT count(*) FROM tags", "5");
}

/* ------------------------------------------------------------------ */
/* Children                                                            */
/* ------------------------------------------------------------------ */

static const char *const step_columns[] = {"step_id", "name"};
static const enum column_type step_types[] = {COLUMN_INTEGER, COLUMN_TEXT};
static const char *const step_key[] = {"step_id"};
static const char *const ins_columns[] = {"step_id", "seq", "body"};
static const enum column_type ins_types[] = {COLUMN_INTEGER, COLUMN_INTEGER, COLUMN_TEXT};
static const char *const ins_key[] = {"step_id", "seq"};
static const char *const parent_key[] = {"step_id"};

static void create_steps(void **state)
{
    exec_ok(state, "DROP TABLE IF EXISTS instructions");
    exec_ok(state, "DROP TABLE IF EXISTS steps");
    exec_ok(state, "CREATE TABLE steps (step_id integer NOT NULL PRIMARY KEY, name text)");
    exec_ok(state, "CREATE TABLE instructions (step_id integer NOT NULL, seq integer NOT NULL,"
                   " body text, PRIMARY KEY (step_id, seq))");
    exec_ok(state, "INSERT INTO steps VALUES (1, 'old')");
    exec_ok(state, "INSERT INTO instructions VALUES (1, 1, 'old')");
}

/* steps (part 0) with instructions (part 1) on the same lines. */
static struct load_plan steps_plan(struct load_part parts[2])
{
    parts[0] = part_of("steps", step_columns, step_types, 2, step_key, 1);
    parts[1] = part_of("instructions", ins_columns, ins_types, 3, ins_key, 2);
    parts[1].parent_columns = parent_key;
    parts[1].child_columns = parent_key;
    parts[1].parent_key_count = 1;
    return upsert_plan(parts, 2);
}

/* Children of a duplicate parent go with it; the children's own duplicates are rejected. */
static void test_upsert_children(void **state)
{
    create_steps(state);
    struct load_part parts[2];
    struct load_plan plan = steps_plan(parts);
    /* Line 5 repeats step 2 (with its two children); line 6 has one child twice. */
    static const char *const steps[] = {"1", "one", "2", "two", "3", "three", "2", "two again",
                                        "4", "four"};
    static const int64_t step_lines[] = {2, 3, 4, 5, 6};
    static const char *const ins[] = {"1", "1", "a",  "2", "1", "b", "3", "1", "c",
                                      "2", "1", "x",  "2", "2", "y", "4", "1", "d",
                                      "4", "1", "d again"};
    static const int64_t ins_lines[] = {2, 3, 4, 5, 5, 6, 6};
    struct batch batches[] = {
        {0, steps, step_lines, 3},
        {1, ins, ins_lines, 3},
        {0, steps + 6, step_lines + 3, 2},
        {1, ins + 9, ins_lines + 3, 4},
    };
    struct outcome out;
    run_load(state, &plan, batches, COUNT_OF(batches), NULL, &out);
    static const char *const want[] = {
        "0:5 step_id=2 duplicate key (step_id)=(2) in file, first on line 3",
        "1:6 -=- duplicate key (step_id, seq)=(4, 1) in file, first on line 6",
    };
    assert_rejects(&out, want, COUNT_OF(want));
    assert_int_equal(out.rejected, 2 + 2); /* and the two children of line 5 */
    assert_int_equal(out.result.rows_inserted, 3 + 3);
    assert_int_equal(out.result.rows_updated, 1 + 1);
    assert_sql_text(state, "SELECT step_id || name FROM steps ORDER BY step_id",
                    "1one\n2two\n3three\n4four");
    assert_sql_text(state, "SELECT step_id || '.' || seq || body FROM instructions"
                           " ORDER BY step_id, seq",
                    "1.1a\n2.1b\n3.1c\n4.1d");

    /* Without duplicates: everything lands. */
    static const char *const steps2[] = {"4", "FOUR", "5", "five"};
    static const char *const ins2[] = {"4", "1", "D", "5", "1", "e", "5", "2", "f"};
    static const int64_t lines2[] = {2, 3, 3};
    struct batch batches2[] = {{0, steps2, lines2, 2}, {1, ins2, lines2, 3}};
    run_load(state, &plan, batches2, COUNT_OF(batches2), NULL, &out);
    assert_int_equal(out.rejects.count, 0);
    assert_int_equal(out.result.rows_inserted, 1 + 2);
    assert_int_equal(out.result.rows_updated, 1 + 1);
    assert_sql_text(state, "SELECT step_id || '.' || seq || body FROM instructions"
                           " WHERE step_id >= 4 ORDER BY step_id, seq",
                    "4.1D\n5.1e\n5.2f");
}

/*
 * A child that references its parent's table: on PostgreSQL it checks
 * against the table as it was before the load, so a step only in the file
 * does not count, as always (the parent is not written before its children
 * are checked); SQLite also accepts the rows the load stages for that
 * table (sqlite/load/check.c).
 */
static void test_upsert_child_referencing_its_parent(void **state)
{
    create_steps(state);
    struct load_part parts[2];
    struct load_plan plan = steps_plan(parts);
    struct load_reference ref = {"step_id", "steps", "step_id"};
    parts[1].references = &ref;
    parts[1].reference_count = 1;
    static const char *const steps[] = {"1", "ONE", "2", "two"};
    static const char *const ins[] = {"1", "2", "a", "2", "1", "b"};
    static const int64_t lines[] = {2, 3};
    struct batch batches[] = {{0, steps, lines, 2}, {1, ins, lines, 2}};
    struct outcome out;
    run_load(state, &plan, batches, COUNT_OF(batches), NULL, &out);
    assert_int_equal(out.result.rows_updated, 1);
    if (is_pg(state)) {
        static const char *const want[] = {"1:3 step_id=2 no steps.step_id = 2"};
        assert_rejects(&out, want, COUNT_OF(want));
        assert_int_equal(out.result.rows_inserted, 1 + 1);
        assert_sql_text(state, "SELECT step_id || '.' || seq || body FROM instructions"
                               " ORDER BY step_id, seq",
                        "1.1old\n1.2a");
    } else {
        assert_rejects(&out, NULL, 0);
        assert_int_equal(out.result.rows_inserted, 1 + 2);
        assert_sql_text(state, "SELECT step_id || '.' || seq || body FROM instructions"
                               " ORDER BY step_id, seq",
                        "1.1old\n1.2a\n2.1b");
    }
}

/* ------------------------------------------------------------------ */
/* PostgreSQL only                                                     */
/* ------------------------------------------------------------------ */

/*
 * A BEFORE trigger that skips a row: the duplicate after it is still
 * rejected (the upsert alone would have let it through, as the row it
 * repeats was never written).
 */
static void test_upsert_trigger_skipping_rows(void **state)
{
    if (!is_pg(state))
        skip();
    create_users(state);
    exec_ok(state, "CREATE FUNCTION skip_drafts() RETURNS trigger LANGUAGE plpgsql AS"
                   " $$BEGIN IF NEW.email = 'draft' THEN RETURN NULL; END IF; RETURN NEW; END$$");
    exec_ok(state, "CREATE TRIGGER skip_drafts BEFORE INSERT ON users FOR EACH ROW"
                   " EXECUTE FUNCTION skip_drafts()");
    static const char *const rows[] = {"7", "draft", NULL, "7", "final", NULL, "8", "eight", NULL};
    static const int64_t lines[] = {2, 3, 4};
    struct batch batch = {0, rows, lines, 3};
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    struct load_plan plan = upsert_plan(&part, 1);
    struct outcome out;
    run_load(state, &plan, &batch, 1, NULL, &out);
    static const char *const want[] = {
        "0:3 user_id=7 duplicate key (user_id)=(7) in file, first on line 2",
    };
    assert_rejects(&out, want, COUNT_OF(want));
    assert_int_equal(out.result.rows_inserted, 1);
    assert_sql_text(state, "SELECT user_id FROM users ORDER BY user_id", "1\n2\n8");
    exec_ok(state, "DROP TABLE users; DROP FUNCTION skip_drafts()");
}

/*
 * The counts where the table's statistics cannot give them (a trigger
 * writing the same table, counting off) or must add up a tree
 * (partitions): inserted and updated are the file's rows, exactly.
 */
static void upsert_two_new_two_old(void **state, int64_t want_inserted)
{
    static const char *const rows[] = {"1", "ONE", NULL, "2", "TWO", NULL,
                                       "3", "three", NULL, "4", "four", NULL};
    static const int64_t lines[] = {2, 3, 4, 5};
    struct batch batch = {0, rows, lines, 4};
    struct load_part part = part_of("users", users_columns, users_types, 3, users_key, 1);
    struct load_plan plan = upsert_plan(&part, 1);
    struct outcome out;
    run_load(state, &plan, &batch, 1, NULL, &out);
    assert_int_equal(out.result.rows_inserted, want_inserted);
    assert_int_equal(out.result.rows_updated, 4 - want_inserted);
}

static void test_upsert_counts_with_a_trigger_writing_the_table(void **state)
{
    if (!is_pg(state))
        skip();
    create_users(state);
    exec_ok(state, "CREATE FUNCTION shadow_user() RETURNS trigger LANGUAGE plpgsql AS"
                   " $$BEGIN IF NEW.user_id < 1000 THEN INSERT INTO users VALUES"
                   " (NEW.user_id + 1000, 'shadow', NULL) ON CONFLICT DO NOTHING; END IF;"
                   " RETURN NULL; END$$");
    exec_ok(state, "CREATE TRIGGER shadow_user AFTER INSERT ON users FOR EACH ROW"
                   " EXECUTE FUNCTION shadow_user()");
    upsert_two_new_two_old(state, 2);
    assert_sql_text(state, "SELECT count(*) FROM users WHERE email = 'shadow'", "2");
    exec_ok(state, "DROP TABLE users; DROP FUNCTION shadow_user()");
}

static void test_upsert_counts_with_statistics_off(void **state)
{
    if (!is_pg(state))
        skip();
    create_users(state);
    char url[600];
    snprintf(url, sizeof(url), "%.512s?options=-c%%20track_counts%%3Doff", FIX(state)->url);
    struct store *quiet = NULL;
    struct iq_error err = {0};
    if (store_open(url, NULL, &quiet, &err) < 0)
        fail_msg("open %s: %s", url, iq_error_message(&err));
    store_close(FIX(state)->store);
    FIX(state)->store = quiet;
    upsert_two_new_two_old(state, 2);
}

static void test_upsert_counts_over_partitions(void **state)
{
    if (!is_pg(state))
        skip();
    exec_ok(state, "DROP TABLE IF EXISTS users");
    exec_ok(state, "CREATE TABLE users (user_id bigint NOT NULL PRIMARY KEY, email text NOT NULL,"
                   " team_id integer) PARTITION BY RANGE (user_id)");
    exec_ok(state, "CREATE TABLE users_low PARTITION OF users FOR VALUES FROM (0) TO (3)");
    exec_ok(state, "CREATE TABLE users_high PARTITION OF users FOR VALUES FROM (3) TO (100)");
    exec_ok(state, "INSERT INTO users VALUES (1, 'one', 1), (3, 'three', 3)");
    upsert_two_new_two_old(state, 2);
    assert_sql_text(state, "SELECT string_agg(user_id || email, ' ' ORDER BY user_id) FROM users",
                    "1ONE 2TWO 3three 4four");
}

static const struct CMUnitTest upsert_tests[] = {
    cmocka_unit_test_setup_teardown(test_upsert_counts_with_a_trigger_writing_the_table,
                                    fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_upsert_counts_with_statistics_off, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_upsert_counts_over_partitions, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_upsert_without_duplicates, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_upsert_duplicates_rejected, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_upsert_duplicate_breaking_a_constraint, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_upsert_null_key_rejected, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_upsert_key_only_table, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_upsert_children, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_upsert_child_referencing_its_parent, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_upsert_trigger_skipping_rows, fixture_setup,
                                    fixture_teardown),
};

int main(void)
{
    return fixture_run_backends("load_upsert", "load upsert tests", upsert_tests,
                                COUNT_OF(upsert_tests));
}
