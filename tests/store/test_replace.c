/*
 * test_replace.c - replace mode of a load (store/load.h), on both
 * backends: counts and rejects, multi-part loads all or nothing. On
 * PostgreSQL a replace of one table swaps in a shadow table at commit
 * (src/store/postgres/load/swap.c): a direct one COPYs its rows into it, a
 * staged one sends its checked rows through a temporary file of the
 * client into it (postgres/load/freeze.c), both WITH (FREEZE), so an
 * older snapshot sees the new rows; a multi-part replace goes in place.
 * The tests below check what the swap keeps (grants, owner, comments,
 * defaults, identity and serial sequences, index and constraint names,
 * foreign keys from the table), that a staged swap keeps arrival order,
 * defaults, typmods, rejects and reference checks, that a temporary file
 * that cannot be written fails the load and changes nothing, the cases
 * that take DELETE + INSERT instead (a view, a foreign key to the table, a
 * trigger, a partitioned table, a reader holding the table past the
 * swap's bound), that a reader in the way only delays the swap, and that
 * no shadow table outlives a failed or aborted load. A table swapped in
 * is a new relation: its oid tells which way a replace went.
 *
 * IMPORTQ_TEST_ONLY=postgres (or =sqlite) runs one backend's group only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/store_fixture.h"

#include <libpq-fe.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
    int64_t rejected;
    int64_t first_reject_line;
    char first_reject[256];
    struct iq_error err;
};

static int collect_reject(const struct load_reject *reject, void *ctx)
{
    struct outcome *out = ctx;
    if (out->first_reject[0] == '\0') {
        out->first_reject_line = reject->line;
        snprintf(out->first_reject, sizeof(out->first_reject), "%s", reject->message);
    }
    return 0;
}

/* run_load - begin, rows, check, promote, commit; abort on any failure. */
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
        rc = store_load_check(load, collect_reject, out, &out->rejected, &out->err);
    if (rc == 0)
        rc = store_load_promote(load, &out->result, &out->err);
    if (rc == 0)
        rc = store_load_commit(load, &out->err);
    if (rc < 0)
        store_load_abort(load);
    return rc;
}

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

/* sql_text - the query's text result (rows joined by newlines); caller frees. */
static char *sql_text(void **state, const char *sql)
{
    return fixture_sql_text(FIX(state), sql);
}

static void assert_sql_text(void **state, const char *sql, const char *want)
{
    char *got = sql_text(state, sql);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", sql, got, want);
    free(got);
}

/* table_oid - the oid of the table called name (PostgreSQL). */
static int64_t table_oid(void **state, const char *name)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT '%s'::regclass::oid::bigint", name);
    return sql_int(state, sql);
}

/* assert_no_shadow - no shadow table (iq_shadow_*) is left in the database. */
static void assert_no_shadow(void **state)
{
    if (is_pg(state))
        assert_int_equal(sql_int(state, "SELECT count(*) FROM pg_class"
                                        " WHERE relname LIKE 'iq\\_shadow\\_%'"),
                         0);
}

/* The users table: user_id bigint key, email, team_id. */
static const char *const users_columns[] = {"user_id", "email", "team_id"};
static const enum column_type users_types[] = {COLUMN_BIGINT, COLUMN_TEXT, COLUMN_INTEGER};
static const char *const users_key[] = {"user_id"};

static struct load_part users_part(void)
{
    struct load_part part = {.table = "users",
                             .columns = users_columns,
                             .types = users_types,
                             .column_count = 3,
                             .key = users_key,
                             .key_count = 1};
    return part;
}

static struct load_plan replace_plan(struct load_part *parts, size_t part_count)
{
    struct load_plan plan = {.mode = TARGET_REPLACE, .parts = parts, .part_count = part_count};
    return plan;
}

static void create_users(void **state)
{
    exec_ok(state, is_pg(state) ? "DROP TABLE IF EXISTS users CASCADE" : "DROP TABLE IF EXISTS users");
    exec_ok(state, "CREATE TABLE users (user_id bigint NOT NULL PRIMARY KEY, email text,"
                   " team_id integer)");
    exec_ok(state, "INSERT INTO users VALUES (1, 'one', NULL), (2, 'two', NULL),"
                   " (3, 'three', NULL)");
}

/* The rows most tests load: users 3 and 4. */
static const char *const new_rows[] = {"3", "THREE", NULL, "4", "four", NULL};

/* replace_users_with - replace users with new_rows (direct: COPY, no checks); checks the outcome. */
static void replace_users_with(void **state, bool direct)
{
    struct load_part part = users_part();
    struct load_plan plan = replace_plan(&part, 1);
    plan.direct = direct;
    struct batch batch = {0, new_rows, NULL, 2};
    struct outcome out;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(out.result.rows_deleted, 3);
    assert_int_equal(out.result.rows_inserted, 2);
    assert_sql_text(state, "SELECT user_id || ':' || email FROM users ORDER BY user_id",
                    "3:THREE\n4:four");
    assert_no_shadow(state);
}

static void replace_users(void **state)
{
    replace_users_with(state, false);
}

/* Run sql on a connection of its own, failing the test when it fails. */
static void conn_exec(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
}

static PGconn *connect_pg(void **state)
{
    PGconn *conn = PQconnectdb(FIX(state)->url);
    if (PQstatus(conn) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(conn));
    return conn;
}

/* ------------------------------------------------------------------ */
/* Both backends                                                       */
/* ------------------------------------------------------------------ */

/* Counts and rejects: NULL keys and repeated keys are rejected, old rows all counted. */
static void test_replace_counts_and_rejects(void **state)
{
    create_users(state);
    static const char *const rows[] = {"5", "five", NULL, NULL, "nokey", NULL,
                                       "6", "six",  NULL, "5",  "again", NULL};
    static const int64_t lines[] = {2, 3, 4, 5};
    struct load_part part = users_part();
    struct load_plan plan = replace_plan(&part, 1);
    struct batch batch = {0, rows, lines, 4};
    struct outcome out;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(out.rejected, 2);
    assert_int_equal(out.first_reject_line, 3);
    assert_int_equal(out.result.rows_deleted, 3);
    assert_int_equal(out.result.rows_inserted, 2);
    assert_sql_text(state, "SELECT email FROM users ORDER BY user_id", "five\nsix");
    assert_no_shadow(state);
}

/* A parent and its children replace together; when the load fails, neither changes. */
static void test_replace_parts_all_or_nothing(void **state)
{
    exec_ok(state, "DROP TABLE IF EXISTS instructions");
    exec_ok(state, "DROP TABLE IF EXISTS steps");
    exec_ok(state, "CREATE TABLE steps (step_id integer NOT NULL PRIMARY KEY, name text)");
    exec_ok(state, "CREATE TABLE instructions (step_id integer NOT NULL, seq integer NOT NULL,"
                   " body text CHECK (body <> 'bad'), PRIMARY KEY (step_id, seq))");
    exec_ok(state, "INSERT INTO steps VALUES (1, 'old'), (9, 'old too')");
    exec_ok(state, "INSERT INTO instructions VALUES (1, 1, 'old')");
    static const char *const step_columns[] = {"step_id", "name"};
    static const enum column_type step_types[] = {COLUMN_INTEGER, COLUMN_TEXT};
    static const char *const step_key[] = {"step_id"};
    static const char *const ins_columns[] = {"step_id", "seq", "body"};
    static const enum column_type ins_types[] = {COLUMN_INTEGER, COLUMN_INTEGER, COLUMN_TEXT};
    static const char *const ins_key[] = {"step_id", "seq"};
    static const char *const parent_key[] = {"step_id"};
    struct load_part parts[2] = {
        {.table = "steps", .columns = step_columns, .types = step_types, .column_count = 2,
         .key = step_key, .key_count = 1},
        {.table = "instructions", .columns = ins_columns, .types = ins_types, .column_count = 3,
         .key = ins_key, .key_count = 2, .parent_columns = parent_key,
         .child_columns = parent_key, .parent_key_count = 1},
    };
    struct load_plan plan = replace_plan(parts, 2);
    static const char *const steps[] = {"2", "two", "3", "three"};
    static const int64_t step_lines[] = {2, 3};
    static const char *const bad[] = {"2", "1", "a", "3", "1", "bad"};
    static const int64_t ins_lines[] = {2, 3};
    struct batch batches[] = {{0, steps, step_lines, 2}, {1, bad, ins_lines, 2}};
    struct outcome out;
    /* The child's CHECK refuses a row: nothing changes in either table. */
    assert_int_equal(run_load(STORE(state), &plan, batches, COUNT_OF(batches), &out), IQ_E_CONFLICT);
    assert_non_null(strcasestr(iq_error_message(&out.err), "check constraint"));
    iq_error_clear(&out.err);
    assert_sql_text(state, "SELECT name FROM steps ORDER BY step_id", "old\nold too");
    assert_sql_text(state, "SELECT body FROM instructions", "old");
    assert_no_shadow(state);

    static const char *const good[] = {"2", "1", "a", "3", "1", "b"};
    batches[1].values = good;
    int64_t steps_oid = is_pg(state) ? table_oid(state, "steps") : 0;
    run_load_ok(state, &plan, batches, COUNT_OF(batches), &out);
    assert_int_equal(out.result.rows_deleted, 3);
    assert_int_equal(out.result.rows_inserted, 4);
    assert_sql_text(state, "SELECT name FROM steps ORDER BY step_id", "two\nthree");
    assert_sql_text(state, "SELECT body FROM instructions ORDER BY step_id", "a\nb");
    if (is_pg(state)) /* more than one part: in place */
        assert_int_equal(table_oid(state, "steps"), steps_oid);
    assert_no_shadow(state);
}

/* An aborted load after promote leaves the old table as it was, and no shadow. */
static void test_replace_abort_leaves_nothing(void **state)
{
    create_users(state);
    int64_t oid = is_pg(state) ? table_oid(state, "users") : 0;
    struct load_part part = users_part();
    struct load_plan plan = replace_plan(&part, 1);
    struct load *load = NULL;
    struct iq_error err = {0};
    struct load_result result;
    int64_t rejected = 0;
    assert_int_equal(store_load_begin(STORE(state), &plan, &load, &err), 0);
    assert_int_equal(store_load_rows(load, 0, new_rows, NULL, 2, &err), 0);
    assert_int_equal(store_load_check(load, NULL, NULL, &rejected, &err), 0);
    assert_int_equal(store_load_promote(load, &result, &err), 0);
    assert_int_equal(result.rows_deleted, 3);
    /* Not committed: another connection reads the old rows, unblocked. */
    assert_sql_text(state, "SELECT email FROM users ORDER BY user_id", "one\ntwo\nthree");
    store_load_abort(load);
    assert_sql_text(state, "SELECT email FROM users ORDER BY user_id", "one\ntwo\nthree");
    if (is_pg(state))
        assert_int_equal(table_oid(state, "users"), oid);
    assert_no_shadow(state);
    replace_users(state); /* and the next load goes through */
}

/* ------------------------------------------------------------------ */
/* PostgreSQL: the swap                                                */
/* ------------------------------------------------------------------ */

/* create_role - a role of the cluster's, if it is not there yet (roles outlive the database). */
static void create_role(void **state, const char *name)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "DO $$BEGIN CREATE ROLE %s; EXCEPTION WHEN duplicate_object OR unique_violation"
             " THEN NULL; END$$",
             name);
    exec_ok(state, sql);
}

/* What the swap must keep of a table, as text. */
static const char kept_sql[] =
    "SELECT concat_ws(' | ', c.relowner::regrole, (SELECT string_agg(x::text, ',' ORDER BY x::text)"
    "  FROM unnest(c.relacl) x), obj_description(c.oid, 'pg_class'),"
    " (SELECT string_agg(a.attname || '=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-') || '/'"
    "  || a.attnotnull || '/' || a.attidentity::text || '/' || coalesce(col_description(c.oid, a.attnum),"
    "  '-'), ', ' ORDER BY a.attnum) FROM pg_attribute a LEFT JOIN pg_attrdef d"
    "  ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = c.oid AND a.attnum > 0"
    "  AND NOT a.attisdropped),"
    " (SELECT string_agg(i.relname || '=' || regexp_replace(pg_get_indexdef(i.oid), ' ON \\S+', '')"
    "  || '/' || coalesce(obj_description(i.oid, 'pg_class'), '-'), ', ' ORDER BY i.relname)"
    "  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid),"
    " (SELECT string_agg(k.conname || '=' || pg_get_constraintdef(k.oid) || '/'"
    "  || coalesce(obj_description(k.oid, 'pg_constraint'), '-'), ', ' ORDER BY k.conname)"
    "  FROM pg_constraint k WHERE k.conrelid = c.oid),"
    " (SELECT string_agg(s.relname || '/' || s.relowner::regrole, ', ' ORDER BY s.relname)"
    "  FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
    "  WHERE d.refobjid = c.oid AND d.classid = 'pg_class'::regclass))"
    " FROM pg_class c WHERE c.oid = 'items'::regclass";

/* The swap keeps grants, owner, comments, defaults, sequences, names and foreign keys. */
static void test_swap_keeps_the_table(void **state)
{
    if (!is_pg(state))
        skip();
    create_role(state, "iq_test_reader");
    create_role(state, "iq_test_owner");
    for (int direct = 0; direct <= 1; direct++) {
        exec_ok(state, "DROP TABLE IF EXISTS items; DROP TABLE IF EXISTS kinds");
        exec_ok(state,
                "CREATE TABLE kinds (kind integer PRIMARY KEY); INSERT INTO kinds VALUES (1), (2)");
        exec_ok(state,
                "CREATE TABLE items (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
                " email text NOT NULL CONSTRAINT items_mail_unique UNIQUE, n serial,"
                " note text DEFAULT 'none' CONSTRAINT items_note_ok CHECK (note <> 'bad'),"
                " kind integer CONSTRAINT items_kind_fk REFERENCES kinds (kind),"
                " shout text GENERATED ALWAYS AS (upper(email)) STORED)");
        exec_ok(state,
                "CREATE INDEX items_note_lower ON items (lower(note)) WHERE note IS NOT NULL");
        exec_ok(state,
                "COMMENT ON TABLE items IS 'the items'; COMMENT ON COLUMN items.email IS 'mail';"
                " COMMENT ON INDEX items_note_lower IS 'by note';"
                " COMMENT ON CONSTRAINT items_mail_unique ON items IS 'one each';"
                " COMMENT ON CONSTRAINT items_kind_fk ON items IS 'a kind'");
        exec_ok(state, "ALTER TABLE items OWNER TO iq_test_owner;"
                       " GRANT SELECT, INSERT ON items TO iq_test_reader;"
                       " GRANT UPDATE ON items TO iq_test_reader WITH GRANT OPTION;"
                       " GRANT SELECT ON items TO PUBLIC");
        exec_ok(state, "INSERT INTO items (email, note, kind) VALUES ('a', 'x', 1),"
                       " ('b', 'y', 2), ('c', NULL, NULL)");
        int64_t oid = table_oid(state, "items");
        char *before = sql_text(state, kept_sql);

        static const char *const columns[] = {"email", "note", "kind"};
        static const enum column_type types[] = {COLUMN_TEXT, COLUMN_TEXT, COLUMN_INTEGER};
        static const char *const rows[] = {"q@x", "hello", "1", "r@x", NULL, "2"};
        struct load_part part = {
            .table = "items", .columns = columns, .types = types, .column_count = 3};
        struct load_plan plan = replace_plan(&part, 1);
        plan.direct = direct;
        struct batch batch = {0, rows, NULL, 2};
        struct outcome out;
        run_load_ok(state, &plan, &batch, 1, &out);
        assert_int_equal(out.result.rows_deleted, 3);
        assert_int_equal(out.result.rows_inserted, 2);
        assert_true(table_oid(state, "items") != oid); /* swapped, not DELETE + INSERT */
        char *after = sql_text(state, kept_sql);
        if (strcmp(before, after) != 0)
            fail_msg("the swap (%s) changed the table:\nbefore %s\nafter  %s",
                     direct ? "direct" : "staged", before, after);
        free(before);
        free(after);
        /* The new rows took the sequences' next values, and so does the next insert. */
        assert_sql_text(state,
                        "SELECT concat_ws('/', id, n, email, note, shout) FROM items ORDER BY id",
                        "4/4/q@x/hello/Q@X\n5/5/r@x/R@X");
        assert_sql_text(state, "INSERT INTO items (email) VALUES ('s@x') RETURNING id || '/' || n",
                        "6/6");
        /* The foreign key from the table still holds. */
        assert_int_equal(
            fixture_sql_exec(FIX(state), "INSERT INTO items (email, kind) VALUES ('t', 7)"), -1);
        assert_no_shadow(state);
    }
}

/* A new row that breaks a foreign key from the table fails the load, and changes nothing. */
static void test_swap_checks_foreign_keys(void **state)
{
    if (!is_pg(state))
        skip();
    exec_ok(state, "DROP TABLE IF EXISTS users; DROP TABLE IF EXISTS teams");
    exec_ok(state, "CREATE TABLE teams (team_id integer PRIMARY KEY); INSERT INTO teams VALUES (1)");
    create_users(state);
    exec_ok(state, "ALTER TABLE users ADD CONSTRAINT users_team_fk FOREIGN KEY (team_id)"
                   " REFERENCES teams (team_id)");
    int64_t oid = table_oid(state, "users");
    static const char *const rows[] = {"3", "THREE", "1", "4", "four", "7"};
    struct load_part part = users_part();
    struct load_plan plan = replace_plan(&part, 1);
    plan.direct = true;
    struct batch batch = {0, rows, NULL, 2};
    struct outcome out;
    assert_int_equal(run_load(STORE(state), &plan, &batch, 1, &out), IQ_E_CONFLICT);
    assert_non_null(strstr(iq_error_message(&out.err), "users_team_fk"));
    iq_error_clear(&out.err);
    assert_int_equal(table_oid(state, "users"), oid);
    assert_int_equal(sql_int(state, "SELECT count(*) FROM users"), 3);
    assert_no_shadow(state);
}

/* The cases a swap cannot serve replace by DELETE + INSERT (the table stays the same relation). */
static void test_fallbacks_replace_in_place(void **state)
{
    if (!is_pg(state))
        skip();
    static const char *const cases[] = {
        "CREATE VIEW users_view AS SELECT user_id FROM users",
        "CREATE TABLE user_notes (user_id bigint REFERENCES users (user_id) ON DELETE CASCADE)",
        "CREATE FUNCTION users_touch() RETURNS trigger LANGUAGE plpgsql AS"
        " $$BEGIN RETURN NEW; END$$;"
        " CREATE TRIGGER users_touch BEFORE INSERT ON users FOR EACH ROW"
        " EXECUTE FUNCTION users_touch()",
        "DROP TABLE users; CREATE TABLE users (user_id bigint NOT NULL, email text,"
        " team_id integer, PRIMARY KEY (user_id)) PARTITION BY RANGE (user_id);"
        " CREATE TABLE users_low PARTITION OF users FOR VALUES FROM (0) TO (100);"
        " INSERT INTO users VALUES (1, 'one', NULL), (2, 'two', NULL), (3, 'three', NULL)",
    };
    for (size_t i = 0; i < COUNT_OF(cases); i++) {
        exec_ok(state, "DROP TABLE IF EXISTS user_notes; DROP FUNCTION IF EXISTS users_touch()"
                       " CASCADE");
        create_users(state);
        exec_ok(state, cases[i]);
        int64_t oid = table_oid(state, "users");
        replace_users(state);
        if (table_oid(state, "users") != oid)
            fail_msg("case %zu swapped the table: %s", i, cases[i]);
        exec_ok(state, "INSERT INTO users VALUES (1, 'one', NULL)"); /* three rows again */
        replace_users_with(state, true); /* a direct load: DELETE, then COPY into the table */
        if (table_oid(state, "users") != oid)
            fail_msg("case %zu swapped the table (direct): %s", i, cases[i]);
    }
    assert_int_equal(sql_int(state, "SELECT count(*) FROM users_low"), 2); /* the last case */
}

/* A reader holding the table longer than the swap's bound: DELETE + INSERT, the load succeeds. */
static void test_reader_in_the_way_past_the_bound(void **state)
{
    if (!is_pg(state))
        skip();
    for (int direct = 0; direct <= 1; direct++) {
        create_users(state);
        int64_t oid = table_oid(state, "users");
        PGconn *reader = connect_pg(state);
        conn_exec(reader, "BEGIN");
        conn_exec(reader, "SELECT count(*) FROM users");
        struct load_part part = users_part();
        struct load_plan plan = replace_plan(&part, 1);
        plan.direct = direct;
        struct batch batch = {0, new_rows, NULL, 2};
        struct outcome out;
        run_load_ok(state, &plan, &batch, 1, &out);
        assert_int_equal(out.result.rows_deleted, 3);
        assert_int_equal(out.result.rows_inserted, 2);
        conn_exec(reader, "COMMIT");
        PQfinish(reader);
        assert_int_equal(table_oid(state, "users"), oid);
        assert_sql_text(state, "SELECT email FROM users ORDER BY user_id", "THREE\nfour");
        assert_no_shadow(state);
    }
}

/* A reader that lets go once the swap waits for it. */
struct reader_ctx {
    PGconn *reader; /* holds users in an open transaction */
    PGconn *watch;  /* looks at pg_locks */
    bool released;
};

/*
 * release_when_waited_cb - COMMIT the reader once an ACCESS EXCLUSIVE
 * request on users waits behind it (polled; gives up after a minute).
 */
static void *release_when_waited_cb(void *arg)
{
    struct reader_ctx *ctx = arg;
    for (int i = 0; i < 60000 && !ctx->released; i++) {
        PGresult *res = PQexec(ctx->watch, "SELECT count(*) FROM pg_locks WHERE relation ="
                                           " 'users'::regclass AND mode = 'AccessExclusiveLock'"
                                           " AND NOT granted");
        ctx->released = PQresultStatus(res) == PGRES_TUPLES_OK && atoi(PQgetvalue(res, 0, 0)) > 0;
        PQclear(res);
        if (!ctx->released)
            usleep(1000);
    }
    PQclear(PQexec(ctx->reader, "COMMIT"));
    return NULL;
}

/* A reader in the way only delays the swap: it is retried, and happens once the reader is done. */
static void test_reader_in_the_way_delays_the_swap(void **state)
{
    if (!is_pg(state))
        skip();
    create_users(state);
    int64_t oid = table_oid(state, "users");
    struct reader_ctx ctx = {connect_pg(state), connect_pg(state), false};
    conn_exec(ctx.reader, "BEGIN");
    conn_exec(ctx.reader, "SELECT count(*) FROM users");
    struct load_part part = users_part();
    struct load_plan plan = replace_plan(&part, 1);
    plan.direct = true;
    struct load *load = NULL;
    struct iq_error err = {0};
    struct load_result result;
    int64_t rejected = 0;
    assert_int_equal(store_load_begin(STORE(state), &plan, &load, &err), 0);
    assert_int_equal(store_load_rows(load, 0, new_rows, NULL, 2, &err), 0);
    assert_int_equal(store_load_check(load, NULL, NULL, &rejected, &err), 0);
    assert_int_equal(store_load_promote(load, &result, &err), 0);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, release_when_waited_cb, &ctx), 0);
    int rc = store_load_commit(load, &err);
    pthread_join(thread, NULL);
    PQfinish(ctx.reader);
    PQfinish(ctx.watch);
    if (rc < 0) {
        store_load_abort(load);
        fail_msg("commit: %s", iq_error_message(&err));
    }
    assert_true(ctx.released);
    assert_true(table_oid(state, "users") != oid); /* the swap, after the reader */
    assert_sql_text(state, "SELECT email FROM users ORDER BY user_id", "THREE\nfour");
    assert_no_shadow(state);
}

/*
 * What a snapshot taken before the replace sees of the table after it:
 * both a direct and a staged replace swap in rows COPYed WITH (FREEZE),
 * which every snapshot sees - never an empty table, which is what a
 * swapped-in table filled by INSERT showed such a reader (a REPEATABLE
 * READ transaction here; a prepared statement that waited for the swap's
 * lock is the same case).
 */
static void test_older_snapshot_sees_rows(void **state)
{
    if (!is_pg(state))
        skip();
    for (int direct = 0; direct <= 1; direct++) {
        create_users(state);
        int64_t oid = table_oid(state, "users");
        PGconn *reader = connect_pg(state);
        conn_exec(reader, "BEGIN ISOLATION LEVEL REPEATABLE READ");
        conn_exec(reader, "SELECT 1"); /* the snapshot, before the load */
        replace_users_with(state, direct);
        assert_true(table_oid(state, "users") != oid); /* swapped */
        PGresult *res = PQexec(reader, "SELECT string_agg(email, ',' ORDER BY user_id) FROM users");
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            fail_msg("reader: %s", PQerrorMessage(reader));
        char seen[64];
        snprintf(seen, sizeof(seen), "%s",
                 PQgetisnull(res, 0, 0) ? "(no rows)" : PQgetvalue(res, 0, 0));
        PQclear(res);
        conn_exec(reader, "COMMIT");
        PQfinish(reader); /* before any failure: the next test's DROP would wait for it */
        if (strcmp(seen, "THREE,four") != 0)
            fail_msg("%s replace: an older snapshot saw %s, not THREE,four",
                     direct ? "direct" : "staged", seen);
    }
}

/*
 * A staged replace of one table swaps too: exactly the rows that passed
 * the checks, in arrival order (the new table's physical order), the
 * columns not in the file at their defaults and generated values, the
 * counts right.
 */
static void test_staged_replace_swaps(void **state)
{
    if (!is_pg(state))
        skip();
    create_users(state);
    exec_ok(state, "ALTER TABLE users ADD COLUMN added text DEFAULT 'dflt',"
                   " ADD COLUMN shout text GENERATED ALWAYS AS (upper(email)) STORED");
    int64_t oid = table_oid(state, "users");
    static const char *const rows[] = {"5", "five", NULL, NULL, "nokey", NULL, "6", "six", NULL,
                                       "5", "again", NULL, "2", "two", "7"};
    static const int64_t lines[] = {2, 3, 4, 5, 6};
    struct load_part part = users_part();
    struct load_plan plan = replace_plan(&part, 1);
    struct batch batch = {0, rows, lines, 5};
    struct outcome out;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(out.rejected, 2);
    assert_int_equal(out.result.rows_deleted, 3);
    assert_int_equal(out.result.rows_inserted, 3);
    assert_true(table_oid(state, "users") != oid);
    assert_sql_text(state,
                    "SELECT string_agg(concat_ws(':', user_id, email, team_id, added, shout), ','"
                    " ORDER BY ctid) FROM users",
                    "5:five:dflt:FIVE,6:six:dflt:SIX,2:two:7:dflt:TWO");
    assert_no_shadow(state);
}

/*
 * Typmods hold in a staged swap: numeric(p,s) is rounded to its scale,
 * and a value too long for a varchar(n) or too large for a numeric(p,s)
 * fails the load with the same error as an in-place replace gives,
 * changing nothing.
 */
static void test_staged_replace_typmods(void **state)
{
    if (!is_pg(state))
        skip();
    exec_ok(state, "DROP TABLE IF EXISTS users CASCADE");
    exec_ok(state, "CREATE TABLE users (user_id bigint PRIMARY KEY, email varchar(5),"
                   " team_id numeric(4,1)); INSERT INTO users VALUES (1, 'one', 1)");
    int64_t oid = table_oid(state, "users");
    struct load_part part = users_part();
    struct load_plan plan = replace_plan(&part, 1);
    static const char *const good[] = {"3", "abc", "1.26", "4", "abcde", "2"};
    struct batch batch = {0, good, NULL, 2};
    struct outcome out;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_true(table_oid(state, "users") != oid);
    oid = table_oid(state, "users");
    assert_sql_text(state, "SELECT string_agg(email || '=' || team_id, ',' ORDER BY user_id)"
                           " FROM users",
                    "abc=1.3,abcde=2.0");
    static const struct {
        const char *row[3];
        const char *error;
    } bad[] = {
        {{"5", "abcdef", NULL}, "inserting rows: value too long for type character varying(5)"},
        {{"6", "x", "12345"}, "inserting rows: numeric field overflow: A field with precision 4,"
                              " scale 1 must round to an absolute value less than 10^3."},
    };
    for (size_t i = 0; i < COUNT_OF(bad); i++) {
        batch.values = bad[i].row;
        batch.rows = 1;
        assert_int_equal(run_load(STORE(state), &plan, &batch, 1, &out), IQ_E_INVALID);
        if (strcmp(iq_error_message(&out.err), bad[i].error) != 0)
            fail_msg("got \"%s\", want \"%s\"", iq_error_message(&out.err), bad[i].error);
        iq_error_clear(&out.err);
        assert_int_equal(table_oid(state, "users"), oid);
        assert_sql_text(state, "SELECT string_agg(email, ',' ORDER BY user_id) FROM users",
                        "abc,abcde");
        assert_no_shadow(state);
    }
}

/* A staged replace with a reference check swaps in the rows whose reference holds. */
static void test_staged_replace_references(void **state)
{
    if (!is_pg(state))
        skip();
    exec_ok(state, "DROP TABLE IF EXISTS users CASCADE; DROP TABLE IF EXISTS teams");
    exec_ok(state, "CREATE TABLE teams (team_id integer PRIMARY KEY); INSERT INTO teams VALUES (1)");
    create_users(state);
    int64_t oid = table_oid(state, "users");
    static const struct load_reference team = {"team_id", "teams", "team_id"};
    struct load_part part = users_part();
    part.references = &team;
    part.reference_count = 1;
    struct load_plan plan = replace_plan(&part, 1);
    static const char *const rows[] = {"3", "THREE", "1", "4", "four", "7", "5", "five", NULL};
    static const int64_t lines[] = {2, 3, 4};
    struct batch batch = {0, rows, lines, 3};
    struct outcome out;
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(out.rejected, 1);
    assert_int_equal(out.first_reject_line, 3);
    assert_int_equal(out.result.rows_deleted, 3);
    assert_int_equal(out.result.rows_inserted, 2);
    assert_true(table_oid(state, "users") != oid);
    assert_sql_text(state, "SELECT string_agg(email, ',' ORDER BY user_id) FROM users",
                    "THREE,five");
    assert_no_shadow(state);
}

/* open_fds - how many files this process has open. */
static int open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    assert_non_null(dir);
    int count = 0;
    while (readdir(dir))
        count++;
    closedir(dir);
    return count;
}

/*
 * A staged replace whose temporary file cannot be written (a file size
 * limit stands in for a full disk) fails with the file's error and
 * changes nothing; the file is closed either way, and the next load
 * swaps.
 */
static void test_staged_replace_file_fails(void **state)
{
    if (!is_pg(state))
        skip();
    create_users(state);
    int64_t oid = table_oid(state, "users");
    enum { ROWS = 2000 };
    static char ids[ROWS][16];
    static const char *rows[ROWS * 3];
    for (int i = 0; i < ROWS; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%d", i + 10);
        rows[i * 3] = ids[i];
        rows[i * 3 + 1] = "a value long enough to fill a few pages of the temporary file";
        rows[i * 3 + 2] = NULL;
    }
    struct load_part part = users_part();
    struct load_plan plan = replace_plan(&part, 1);
    struct batch batch = {0, rows, NULL, ROWS};
    struct outcome out;
    int fds = open_fds();
    struct rlimit saved;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    struct rlimit small = {16 * 1024, saved.rlim_max};
    void (*saved_signal)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    int rc = run_load(STORE(state), &plan, &batch, 1, &out);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, saved_signal);
    assert_int_equal(rc, IQ_E_IO);
    assert_non_null(strstr(iq_error_message(&out.err), "writing the promoted rows' temporary file"));
    iq_error_clear(&out.err);
    assert_int_equal(open_fds(), fds);
    assert_int_equal(table_oid(state, "users"), oid);
    assert_sql_text(state, "SELECT string_agg(email, ',' ORDER BY user_id) FROM users",
                    "one,two,three");
    assert_no_shadow(state);
    run_load_ok(state, &plan, &batch, 1, &out);
    assert_int_equal(open_fds(), fds);
    assert_int_equal(out.result.rows_inserted, ROWS);
    assert_true(table_oid(state, "users") != oid);
    assert_no_shadow(state);
}

/*
 * A direct replace COPYs into the shadow and swaps it in; a key twice in
 * the file fails the load with the target's own constraint named (its
 * rows go back through DELETE + INSERT when the index build refuses them).
 */
static void test_direct_replace_swaps(void **state)
{
    if (!is_pg(state))
        skip();
    create_users(state);
    int64_t oid = table_oid(state, "users");
    replace_users_with(state, true);
    int64_t swapped = table_oid(state, "users");
    assert_true(swapped != oid);
    static const char *const twice[] = {"7", "seven", NULL, "7", "again", NULL};
    struct load_part part = users_part();
    struct load_plan plan = replace_plan(&part, 1);
    plan.direct = true;
    struct batch batch = {0, twice, NULL, 2};
    struct outcome out;
    assert_int_equal(run_load(STORE(state), &plan, &batch, 1, &out), IQ_E_CONFLICT);
    assert_non_null(strstr(iq_error_message(&out.err), "users_pkey"));
    iq_error_clear(&out.err);
    assert_int_equal(table_oid(state, "users"), swapped);
    assert_sql_text(state, "SELECT email FROM users ORDER BY user_id", "THREE\nfour");
    assert_no_shadow(state);
    /* Aborted after promote: the shadow goes with the transaction. */
    struct load *load = NULL;
    struct load_result result;
    assert_int_equal(store_load_begin(STORE(state), &plan, &load, &out.err), 0);
    assert_int_equal(store_load_rows(load, 0, new_rows, NULL, 2, &out.err), 0);
    assert_int_equal(store_load_promote(load, &result, &out.err), 0);
    assert_int_equal(result.rows_deleted, 2);
    assert_int_equal(result.rows_inserted, 2);
    store_load_abort(load);
    assert_int_equal(table_oid(state, "users"), swapped);
    assert_no_shadow(state);
}

static const struct CMUnitTest replace_tests[] = {
    cmocka_unit_test_setup_teardown(test_replace_counts_and_rejects, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_replace_parts_all_or_nothing, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_replace_abort_leaves_nothing, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_swap_keeps_the_table, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_swap_checks_foreign_keys, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_fallbacks_replace_in_place, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_reader_in_the_way_past_the_bound, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_reader_in_the_way_delays_the_swap, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_direct_replace_swaps, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_older_snapshot_sees_rows, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_staged_replace_swaps, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_staged_replace_typmods, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_staged_replace_references, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_staged_replace_file_fails, fixture_setup,
                                    fixture_teardown),
};

int main(void)
{
    return fixture_run_backends("replace", "replace tests", replace_tests,
                                COUNT_OF(replace_tests));
}
