/*
 * test_import.c - whole imports (reader -> convert -> load) on both
 * backends: every target mode, skip and abort, references, children,
 * columns taken from an existing table, cancellation, progress, and the
 * bad inputs of the pipeline issue, each leaving the target unchanged.
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

/* Rejects seen by one run. */
struct rejects {
    int count;
    char text[4096];      /* "line:column:error;" ... */
    char places[4096];    /* "line:record:pointer:column=value;" ... */
};

static int collect_reject_cb(const struct import_reject *r, void *ctx)
{
    struct rejects *rj = ctx;
    rj->count++;
    size_t used = strlen(rj->text);
    snprintf(rj->text + used, sizeof(rj->text) - used, "%lld:%s:%s;", (long long)r->line,
             r->column ? r->column : "-", r->error);
    used = strlen(rj->places);
    snprintf(rj->places + used, sizeof(rj->places) - used, "%lld:%lld:%s:%s=%s;",
             (long long)r->line, (long long)r->record, r->pointer ? r->pointer : "-",
             r->column ? r->column : "-", r->value ? r->value : "-");
    return 0;
}

struct progress_seen {
    int calls;
    char phases[256];
    atomic_bool *cancel_after_first;
};

static void progress_cb(const struct import_progress *p, void *ctx)
{
    struct progress_seen *seen = ctx;
    seen->calls++;
    size_t used = strlen(seen->phases);
    if (used == 0 || !strstr(seen->phases, p->phase))
        snprintf(seen->phases + used, sizeof(seen->phases) - used, "%s,", p->phase);
    if (seen->cancel_after_first && strcmp(p->phase, "read") == 0 && p->rows_read > 0)
        atomic_store(seen->cancel_after_first, true);
}

/* A temp dir holding one source file. */
struct source_file {
    char dir[64];
    char path[128];
};

/* Writes content to a fresh file named name in a new temp dir. */
static void write_source(const char *name, const char *content, size_t length,
                         struct source_file *ret)
{
    snprintf(ret->dir, sizeof(ret->dir), "/tmp/importq-import-XXXXXX");
    assert_non_null(mkdtemp(ret->dir));
    snprintf(ret->path, sizeof(ret->path), "%s/%s", ret->dir, name);
    FILE *f = fopen(ret->path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, length, f), length);
    fclose(f);
}

static void remove_source(const struct source_file *file)
{
    unlink(file->path);
    rmdir(file->dir);
}

struct outcome {
    int rc;
    struct import_result result;
    struct rejects rejects;
    struct progress_seen progress;
    char message[512];
};

/* Runs spec (borrowed) on a file holding content; fills out. */
static void run_spec_import(void **state, const struct job_spec *spec, const char *file_name,
                            const char *content, size_t length, atomic_bool *cancel,
                            bool cancel_in_progress, struct outcome *out)
{
    memset(out, 0, sizeof(*out));
    struct source_file file;
    write_source(file_name, content, length, &file);
    struct iq_error err = {0};
    if (cancel_in_progress)
        out->progress.cancel_after_first = cancel;
    struct import_request req = {
        .source = &spec->source, .target = &spec->target, .on_error = &spec->on_error,
        .path = file.path, .store = FIX(state)->store,
        .progress_cb = progress_cb, .progress_ctx = &out->progress, .progress_interval_ms = 1,
        .reject_cb = collect_reject_cb, .reject_ctx = &out->rejects, .cancel = cancel,
    };
    out->rc = import_run(&req, &out->result, &err);
    snprintf(out->message, sizeof(out->message), "%s", err.message ? err.message : "");
    iq_error_clear(&err);
    remove_source(&file);
}

/* Runs spec_json on a file holding content; fills out. */
static void run_import_ex(void **state, const char *spec_json, const char *file_name,
                          const char *content, size_t length, atomic_bool *cancel,
                          bool cancel_in_progress, struct outcome *out)
{
    struct job_spec *spec = spec_from_json(spec_json);
    run_spec_import(state, spec, file_name, content, length, cancel, cancel_in_progress, out);
    job_spec_free(spec);
}

static void run_import(void **state, const char *spec_json, const char *file_name,
                       const char *content, struct outcome *out)
{
    run_import_ex(state, spec_json, file_name, content, strlen(content), NULL, false, out);
}

#define USERS_COLUMNS                                                                   \
    "\"columns\": [{\"name\": \"user_id\", \"type\": \"bigint\", \"required\": true},"  \
    " {\"name\": \"email\", \"type\": \"text\", \"pattern\": \"^[^@]+@[^@]+$\"},"       \
    " {\"name\": \"age\", \"type\": \"integer\", \"min\": 0},"                          \
    " {\"name\": \"born\", \"type\": \"date\"},"                                         \
    " {\"name\": \"active\", \"type\": \"boolean\", \"from\": \"is_active\"}]"

static const char users_csv[] =
    "user_id,email,age,born,is_active\n"
    "1,ada@example.com,36,1815-12-10,true\n"
    "2,\"grace@example.com\",85,1906-12-09,f\n"
    "3,alan@example.com,41,1912-06-23,1\n";

static void expect_ok(const struct outcome *out)
{
    if (out->rc != 0)
        fail_msg("import failed (%d): %s", out->rc, out->message);
}

static void test_insert_creates_table_and_loads(void **state)
{
    struct outcome out;
    run_import(state,
               "{\"source\": {\"path\": \"u.csv\"}, \"target\": {\"table\": \"users\", \"create\": true,"
               " \"key\": [\"user_id\"], " USERS_COLUMNS "}}",
               "u.csv", users_csv, &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_read, 3);
    assert_int_equal(out.result.rows_inserted, 3);
    assert_int_equal(out.result.rows_rejected, 0);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users"), 3);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT age FROM users WHERE email = 'grace@example.com'"), 85);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users WHERE active"), 2);
    assert_non_null(strstr(out.progress.phases, "read"));
    assert_non_null(strstr(out.progress.phases, "promote"));
    assert_non_null(strstr(out.progress.phases, "done"));
    assert_true(out.result.bytes_read == sizeof(users_csv) - 1);
}

static void create_users(void **state)
{
    assert_int_equal(fixture_sql_exec(FIX(state),
        "CREATE TABLE users (user_id bigint PRIMARY KEY, email text, age integer, born date,"
        " active boolean); INSERT INTO users VALUES (1, 'old@example.com', 1, NULL, false),"
        " (9, 'keep@example.com', 9, NULL, true)"), 0);
}

static void test_upsert_counts_inserted_and_updated(void **state)
{
    create_users(state);
    struct outcome out;
    run_import(state,
               "{\"source\": {\"path\": \"u.csv\"}, \"target\": {\"table\": \"users\", \"mode\": \"upsert\","
               " \"key\": [\"user_id\"], " USERS_COLUMNS "}}",
               "u.csv", users_csv, &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_inserted, 2);
    assert_int_equal(out.result.rows_updated, 1);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users"), 4);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT age FROM users WHERE user_id = 1"), 36);
}

static void test_replace_swaps_contents(void **state)
{
    create_users(state);
    bool pg = strcmp(FIX(state)->backend, "postgres") == 0;
    int64_t oid = pg ? fixture_sql_int(FIX(state), "SELECT 'users'::regclass::oid::bigint") : 0;
    struct outcome out;
    run_import(state,
               "{\"source\": {\"path\": \"u.csv\"}, \"target\": {\"table\": \"users\", \"mode\": \"replace\","
               " " USERS_COLUMNS "}}",
               "u.csv", users_csv, &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_inserted, 3);
    assert_int_equal(out.result.rows_deleted, 2);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users"), 3);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users WHERE user_id = 9"), 0);
    /* PostgreSQL: the rows went into a new table, swapped in (src/store/postgres/load/swap.c). */
    if (pg)
        assert_true(fixture_sql_int(FIX(state), "SELECT 'users'::regclass::oid::bigint") != oid);
    /* A key twice in the file fails the replace; the table keeps its rows. */
    run_import(state,
               "{\"source\": {\"path\": \"u.csv\"}, \"target\": {\"table\": \"users\", \"mode\": \"replace\","
               " " USERS_COLUMNS "}}",
               "u.csv", "user_id,email\n5,a@example.com\n5,b@example.com\n", &out);
    assert_true(out.rc < 0);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users"), 3);
}

static void test_columns_from_existing_table(void **state)
{
    create_users(state);
    /* Header in another case and order, one extra column; no target.columns:
     * the extra column is an error naming it and the table's columns, with
     * a suggestion when one is near, and nothing lands. */
    struct outcome out;
    int64_t before = fixture_sql_int(FIX(state), "SELECT count(*) FROM users");
    run_import(state,
               "{\"source\": {\"path\": \"u.csv\"}, \"target\": {\"table\": \"users\", \"mode\": \"append\"}}",
               "u.csv", "EMAIL,User_Id,ignored,agee\nz@example.com,20,x,1\ny@example.com,21,y,2\n", &out);
    assert_int_equal(out.rc, IQ_E_INVALID);
    assert_non_null(strstr(out.message, "2 source columns match no column of table \"users\""));
    assert_non_null(strstr(out.message, "\"ignored\","));
    assert_non_null(strstr(out.message, "\"agee\" (did you mean \"age\"?)"));
    assert_non_null(strstr(out.message, "the table has user_id, email, age, born, active"));
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users"), before);
    /* target.ignore_extra: the extra columns are skipped */
    run_import(state,
               "{\"source\": {\"path\": \"u.csv\"}, \"target\": {\"table\": \"users\", \"mode\": \"append\","
               " \"ignore_extra\": true}}",
               "u.csv", "EMAIL,User_Id,ignored\nz@example.com,20,x\ny@example.com,21,y\n", &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_inserted, 2);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users WHERE email = 'z@example.com' AND user_id = 20"), 1);
    /* a NOT NULL column without a default that the source lacks is named
     * before any row is read */
    assert_int_equal(fixture_sql_exec(FIX(state), "CREATE TABLE tagged (id bigint, tag text NOT NULL,"
                                                  " note text NOT NULL DEFAULT '')"), 0);
    run_import(state, "{\"source\": {\"path\": \"t.csv\"}, \"target\": {\"table\": \"tagged\"}}",
               "t.csv", "id\n1\n", &out);
    assert_int_equal(out.rc, IQ_E_INVALID);
    assert_non_null(strstr(out.message, "table \"tagged\" requires column \"tag\" (NOT NULL, no default)"));
    /* JSON records: the first record's keys are checked the same way */
    run_import(state,
               "{\"source\": {\"path\": \"u.ndjson\", \"format\": \"ndjson\"}, \"target\": {\"table\": \"users\","
               " \"mode\": \"append\"}}",
               "u.ndjson", "{\"user_id\": 30, \"emial\": \"q@example.com\"}\n", &out);
    assert_int_equal(out.rc, IQ_E_INVALID);
    assert_non_null(strstr(out.message, "\"emial\" (did you mean \"email\"?)"));
}

static const char bad_rows_csv[] =
    "user_id,email,age,born,is_active\n"
    "1,ada@example.com,36,1815-12-10,true\n"
    "2,not-an-email,85,1906-12-09,f\n"          /* pattern */
    "3,alan@example.com,forty,1912-06-23,1\n"   /* not an integer */
    "4,b@example.com,99999999999,2000-01-01,1\n" /* out of range */
    "5,c@example.com,20,2024-02-30,1\n"         /* no such date */
    "6,d@example.com,20,2024-02-29,1\n";

static void test_skip_lands_good_rows_and_reports_rejects(void **state)
{
    struct outcome out;
    run_import(state,
               "{\"source\": {\"path\": \"u.csv\"}, \"target\": {\"table\": \"users\", \"create\": true,"
               " " USERS_COLUMNS "}, \"on_error\": {\"action\": \"skip\"}}",
               "u.csv", bad_rows_csv, &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_read, 6);
    assert_int_equal(out.result.rows_inserted, 2);
    assert_int_equal(out.result.rows_rejected, 4);
    assert_int_equal(out.rejects.count, 4);
    assert_non_null(strstr(out.rejects.text, "3:email:"));
    assert_non_null(strstr(out.rejects.text, "4:age:"));
    assert_non_null(strstr(out.rejects.text, "5:age:"));
    assert_non_null(strstr(out.rejects.text, "6:born:"));
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users"), 2);
}

static void test_abort_lands_nothing(void **state)
{
    create_users(state);
    struct outcome out;
    run_import(state,
               "{\"source\": {\"path\": \"u.csv\"}, \"target\": {\"table\": \"users\", \"mode\": \"upsert\","
               " \"key\": [\"user_id\"], " USERS_COLUMNS "}, \"on_error\": {\"max_rejects\": 3}}",
               "u.csv", bad_rows_csv, &out);
    assert_int_equal(out.rc, IQ_E_REJECTED);
    assert_non_null(strstr(out.message, "max_rejects 3"));
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users"), 2);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT age FROM users WHERE user_id = 1"), 1);
    /* Within the allowance the good rows land. */
    run_import(state,
               "{\"source\": {\"path\": \"u.csv\"}, \"target\": {\"table\": \"users\", \"mode\": \"upsert\","
               " \"key\": [\"user_id\"], " USERS_COLUMNS "}, \"on_error\": {\"max_rejects\": 4}}",
               "u.csv", bad_rows_csv, &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_rejected, 4);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT age FROM users WHERE user_id = 1"), 36);
}

static void test_references_and_duplicates_are_set_wise_rejects(void **state)
{
    assert_int_equal(fixture_sql_exec(FIX(state),
        "CREATE TABLE teams (team_id integer PRIMARY KEY, name text);"
        " INSERT INTO teams VALUES (1, 'a'), (2, 'b')"), 0);
    struct outcome out;
    run_import(state,
               "{\"source\": {\"path\": \"m.csv\"}, \"target\": {\"table\": \"members\", \"create\": true,"
               " \"mode\": \"upsert\", \"key\": [\"member_id\"], \"columns\": ["
               "{\"name\": \"member_id\", \"type\": \"integer\"},"
               " {\"name\": \"team_id\", \"type\": \"integer\", \"references\": \"teams.team_id\"}]},"
               " \"on_error\": {\"action\": \"skip\"}}",
               "m.csv", "member_id,team_id\n10,1\n11,3\n12,\n10,2\n13,2\n", &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_rejected, 2); /* 11 -> team 3; second 10 */
    assert_non_null(strstr(out.rejects.text, "3:team_id:"));
    assert_non_null(strstr(out.rejects.text, "5:"));
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM members"), 3);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT team_id FROM members WHERE member_id = 10"), 1);
}

static const char steps_json[] =
    "{\"migration\": \"x\", \"steps\": [\n"
    " {\"step_id\": 1, \"title\": \"Freeze\", \"instructions\": [{\"seq\": 1, \"text\": \"a\"}, {\"seq\": 2, \"text\": \"b\"}]},\n"
    " {\"step_id\": 2, \"title\": \"Switch\", \"instructions\": []},\n"
    " {\"step_id\": \"bad\", \"title\": \"Broken\", \"instructions\": [{\"seq\": 1, \"text\": \"c\"}]},\n"
    " {\"step_id\": 4, \"title\": \"Verify\", \"instructions\": [{\"seq\": 1, \"text\": \"d\"}]}\n"
    "]}\n";

static void test_children_fan_out_in_one_transaction(void **state)
{
    struct outcome out;
    run_import(state,
               "{\"source\": {\"path\": \"s.json\", \"json\": {\"records\": \"/steps\"}},"
               " \"target\": {\"table\": \"steps\", \"create\": true, \"mode\": \"upsert\", \"key\": [\"step_id\"],"
               " \"columns\": [{\"name\": \"step_id\", \"type\": \"integer\"}, {\"name\": \"title\", \"type\": \"text\"}],"
               " \"children\": [{\"table\": \"step_instructions\", \"from\": \"/instructions\","
               " \"parent_key\": {\"step_id\": \"step_id\"}, \"key\": [\"step_id\", \"seq\"],"
               " \"columns\": [{\"name\": \"seq\", \"type\": \"integer\"}, {\"name\": \"text\", \"type\": \"text\"}]}]},"
               " \"on_error\": {\"action\": \"skip\"}}",
               "s.json", steps_json, &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_read, 4);
    assert_int_equal(out.result.rows_rejected, 1);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM steps"), 3);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM step_instructions"), 3);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM step_instructions WHERE step_id = 1"), 2);
}

static void test_ndjson_insert(void **state)
{
    struct outcome out;
    run_import(state,
               "{\"source\": {\"path\": \"e.ndjson\"}, \"target\": {\"table\": \"events\", \"create\": true,"
               " \"columns\": [{\"name\": \"id\", \"type\": \"bigint\"}, {\"name\": \"at\", \"type\": \"timestamptz\"},"
               " {\"name\": \"payload\", \"type\": \"json\"}, {\"name\": \"who\", \"type\": \"text\", \"from\": \"/user/name\"}]}}",
               "e.ndjson",
               "{\"id\": 1, \"at\": \"2026-01-01T10:00:00+01:00\", \"payload\": {\"a\": [1, 2]}, \"user\": {\"name\": \"ada\"}}\n"
               "\n"
               "{\"id\": 2, \"at\": \"2026-01-02T00:00:00Z\", \"payload\": null, \"user\": {}}\n",
               &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_inserted, 2);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM events WHERE who = 'ada'"), 1);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM events WHERE who IS NULL"), 1);
}

static bool is_postgres(void **state)
{
    return strcmp(FIX(state)->backend, "postgres") == 0;
}

#define NUMBERS_SPEC                                                                        \
    "{\"source\": {\"path\": \"n.json\", \"format\": \"json\"}, \"target\": {\"table\": \"nums\","   \
    " \"create\": true, \"columns\": [{\"name\": \"id\", \"type\": \"integer\"},"                     \
    " {\"name\": \"n\", \"type\": \"numeric\"}, {\"name\": \"b\", \"type\": \"bigint\"}]},"          \
    " \"on_error\": {\"action\": \"skip\"}}"

/*
 * JSON numbers beyond a double keep their text: a numeric column holds
 * 2^64 and 1e400 exactly on PostgreSQL; a bigint beyond int64 is a reject
 * naming the column, the record and the pointer (the file is one line);
 * on SQLite, whose NUMERIC is a double at most, 1e400 is a clear reject,
 * never Inf. Before: 2^64 and 1e400 made the whole record a problem with
 * no column, and 0.1234567890123456789 lost its last digits.
 */
static void test_json_big_numbers_keep_their_text(void **state)
{
    struct outcome out;
    run_import(state, NUMBERS_SPEC, "n.json",
               "[{\"id\": 1, \"n\": 18446744073709551616, \"b\": 9223372036854775807},"
               " {\"id\": 2, \"n\": 1e400, \"b\": 1},"
               " {\"id\": 3, \"n\": 1, \"b\": 12345678901234567890},"
               " {\"id\": 4, \"n\": 0.1234567890123456789, \"b\": -9223372036854775808}]",
               &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_read, 4);
    if (is_postgres(state)) {
        assert_int_equal(out.result.rows_rejected, 1);
        assert_string_equal(out.rejects.places, "1:2:/2/b:b=12345678901234567890;");
        assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM nums WHERE"
                                         " n::text = '18446744073709551616' AND id = 1"), 1);
        assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM nums WHERE"
                                         " n = 1e400 AND id = 2"), 1);
        assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM nums WHERE"
                                         " n::text = '0.1234567890123456789' AND id = 4"), 1);
    } else {
        assert_int_equal(out.result.rows_rejected, 2);
        assert_string_equal(out.rejects.places,
                            "1:1:/1/n:n=1e400;1:2:/2/b:b=12345678901234567890;");
        assert_non_null(strstr(out.rejects.text, "1:n:out of range for numeric on SQLite"));
        assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM nums WHERE id = 1"
                                         " AND n = 18446744073709551616.0"), 1);
    }
    assert_non_null(strstr(out.rejects.text, "1:b:out of range for bigint"));
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM nums WHERE"
                                     " b = 9223372036854775807 AND id = 1"), 1);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM nums WHERE"
                                     " b = -9223372036854775807 - 1 AND id = 4"), 1);
}

/* The same through NDJSON (jansson refused these lines before). */
static void test_ndjson_big_numbers_keep_their_text(void **state)
{
    struct outcome out;
    run_import(state,
               "{\"source\": {\"path\": \"n.ndjson\"}, \"target\": {\"table\": \"nums\","
               " \"create\": true, \"columns\": [{\"name\": \"id\", \"type\": \"integer\"},"
               " {\"name\": \"n\", \"type\": \"numeric\"}, {\"name\": \"b\", \"type\": \"bigint\"}]},"
               " \"on_error\": {\"action\": \"skip\"}}",
               "n.ndjson",
               "{\"id\": 1, \"n\": -18446744073709551616, \"b\": 1}\n"
               "{\"id\": 2, \"n\": 2, \"b\": 18446744073709551616}\n",
               &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_inserted, 1);
    assert_string_equal(out.rejects.places, "2:1:/b:b=18446744073709551616;");
    if (is_postgres(state))
        assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM nums WHERE"
                                         " n::text = '-18446744073709551616'"), 1);
    else
        assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM nums WHERE id = 1"),
                         1);
}

#define STEPS_SPEC(format, records)                                                          \
    "{\"source\": {\"path\": \"s.json\", \"format\": \"" format "\"" records "},"                 \
    " \"target\": {\"table\": \"steps\", \"create\": true, \"columns\": ["                      \
    "{\"name\": \"id\", \"type\": \"integer\"}, {\"name\": \"n\", \"type\": \"integer\"},"          \
    " {\"name\": \"who\", \"type\": \"text\", \"from\": \"/user/name\"}]},"                      \
    " \"on_error\": {\"action\": \"skip\"}}"

/*
 * Rejects from a JSON array on one line name the record (0-based index
 * and JSON pointer) and the column, for conversion rejects and for parse
 * problems (a duplicate key, "\u0000"), not just "line 1".
 */
static void test_json_rejects_name_record_pointer_and_column(void **state)
{
    struct outcome out;
    run_import(state, STEPS_SPEC("json", ", \"json\": {\"records\": \"/steps\"}"), "s.json",
               "{\"meta\": {}, \"steps\": [{\"id\": 1, \"n\": 1},"
               " {\"id\": 2, \"n\": \"x\"}, {\"id\": 3, \"id\": 4, \"n\": 1},"
               " {\"id\": 5, \"user\": {\"name\": \"a\\u0000b\"}}, 7,"
               " {\"id\": 6, \"n\": 1.5}]}",
               &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_read, 6);
    assert_int_equal(out.result.rows_inserted, 1);
    assert_string_equal(out.rejects.places,
                        "1:1:/steps/1/n:n=x;"
                        "1:2:/steps/2/id:id=-;"
                        "1:3:/steps/3/user/name:who=-;"
                        "1:4:/steps/4:-=-;"
                        "1:5:/steps/5/n:n=1.5;");
}

/*
 * A child row's reject names its element: the record's pointer, the
 * children's "from" and the element's index ("/steps/1/instructions/2/seq"),
 * and a child element that is no object is named the same way.
 */
static void test_child_rejects_name_their_element(void **state)
{
    struct outcome out;
    run_import(state,
               "{\"source\": {\"path\": \"s.json\", \"json\": {\"records\": \"/steps\"}},"
               " \"target\": {\"table\": \"steps\", \"create\": true, \"mode\": \"upsert\", \"key\": [\"step_id\"],"
               " \"columns\": [{\"name\": \"step_id\", \"type\": \"integer\"}],"
               " \"children\": [{\"table\": \"step_instructions\", \"from\": \"/instructions\","
               " \"parent_key\": {\"step_id\": \"step_id\"}, \"key\": [\"step_id\", \"seq\"],"
               " \"columns\": [{\"name\": \"seq\", \"type\": \"integer\"}]}]},"
               " \"on_error\": {\"action\": \"skip\"}}",
               "s.json",
               "{\"steps\": [{\"step_id\": 1, \"instructions\": [{\"seq\": 1}]},"
               " {\"step_id\": 2, \"instructions\": [{\"seq\": 1}, {\"seq\": 2}, {\"seq\": \"x\"}]},"
               " {\"step_id\": 3, \"instructions\": [{\"seq\": 1}, 7]}]}",
               &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_rejected, 2);
    assert_string_equal(out.rejects.places,
                        "1:1:/steps/1/instructions/2/seq:seq=x;"
                        "1:2:/steps/2/instructions/1:-=-;");
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM step_instructions"), 1);
}

/* NDJSON: the line, the record (blank lines do not count) and the column. */
static void test_ndjson_rejects_name_record_pointer_and_column(void **state)
{
    struct outcome out;
    run_import(state, STEPS_SPEC("ndjson", ""), "s.json",
               "{\"id\": 1, \"n\": 1}\n"
               "\n"
               "{\"id\": 2, \"n\": 12345678901234567890}\n"
               "{\"id\": 3, \"n\": 1, \"n\": 2}\n"
               "{\"id\": 4, \"user\": {\"name\": [1]}}\n"
               "{\"id\": 5\n",
               &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_inserted, 1);
    assert_string_equal(out.rejects.places,
                        "3:1:/n:n=12345678901234567890;"
                        "4:2:/n:n=-;"
                        "5:3:/user/name:who=[1];"
                        "6:4::-=-;");
    assert_non_null(strstr(out.rejects.text, "3:n:out of range for integer;"));
    assert_non_null(strstr(out.rejects.text, "4:n:duplicate key"));
    assert_non_null(strstr(out.rejects.text, "6:-:invalid JSON"));
}

/* Bad inputs: each fails the import with a clear message and changes nothing. */
static void test_bad_inputs_change_nothing(void **state)
{
    create_users(state);
    static const struct {
        const char *name;
        const char *file;
        const char *content;
        const char *target_extra;
        int rc;
        const char *message;
    } cases[] = {
        {"unterminated quote", "u.csv", "user_id,email\n1,\"ada@example.com\n", "", IQ_E_INVALID, "line 2"},
        {"duplicate header", "u.csv", "user_id,email,email\n1,a@b,c@d\n", "", IQ_E_INVALID, "email"},
        {"header missing a mapped column", "u.csv", "user_id,mail\n1,a@b\n",
         ", \"columns\": [{\"name\": \"user_id\", \"type\": \"bigint\"}, {\"name\": \"email\"}]", IQ_E_INVALID,
         "header has no column \"email\""},
        {"empty file", "u.csv", "", "", IQ_E_INVALID, "empty"},
        {"ragged row under abort", "u.csv", "user_id,email\n1,a@b,extra\n", "", IQ_E_REJECTED, "rejected"},
        {"invalid UTF-8 under abort", "u.csv", "user_id,email\n1,a\xff@b\n", "", IQ_E_REJECTED, "rejected"},
        {"JSON not an array", "u.json", "{\"user_id\": 1}", "", IQ_E_INVALID, "array"},
        {"truncated JSON", "u.json", "[{\"user_id\": 1}, {\"user_id\": ", "", IQ_E_INVALID, "line"},
        {"key conflict in insert mode", "u.csv", "user_id,email\n9,x@y\n", "", IQ_E_DB, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char spec[1024];
        snprintf(spec, sizeof(spec),
                 "{\"source\": {\"path\": \"%s\"}, \"target\": {\"table\": \"users\"%s}}", cases[i].file,
                 cases[i].target_extra);
        struct outcome out;
        run_import(state, spec, cases[i].file, cases[i].content, &out);
        if (out.rc == 0 || (cases[i].rc != IQ_E_DB && out.rc != cases[i].rc) ||
            !strstr(out.message, cases[i].message))
            fail_msg("%s: rc %d message \"%s\"", cases[i].name, out.rc, out.message);
        assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users"), 2);
        assert_int_equal(fixture_sql_int(FIX(state), "SELECT age FROM users WHERE user_id = 1"), 1);
    }
    /* A target that does not exist (and no create). */
    struct outcome out;
    run_import(state, "{\"source\": {\"path\": \"u.csv\"}, \"target\": {\"table\": \"nowhere\"}}", "u.csv",
               users_csv, &out);
    assert_int_equal(out.rc, IQ_E_INVALID);
    assert_non_null(strstr(out.message, "does not exist"));
}

/*
 * A value on which the pattern backtracks past its budget is a reject of
 * its row, named as such, and the rows around it are checked as usual
 * (issue 12: never a stuck worker). regexec answered "no match" here.
 */
static void test_pattern_over_budget_rejects_the_row(void **state)
{
    struct outcome out;
    run_import(state,
               "{\"source\": {\"path\": \"w.csv\"}, \"target\": {\"table\": \"words\", \"create\": true,"
               " \"columns\": [{\"name\": \"id\", \"type\": \"integer\"},"
               " {\"name\": \"word\", \"type\": \"text\", \"pattern\": \"^(a+)+$\"}]},"
               " \"on_error\": {\"action\": \"skip\"}}",
               "w.csv",
               "id,word\n"
               "1,aaaa\n"
               "2,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\n"
               "3,b\n"
               "4,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
               &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_read, 4);
    assert_int_equal(out.result.rows_inserted, 2);
    assert_int_equal(out.result.rows_rejected, 2);
    assert_non_null(strstr(out.rejects.text, "3:word:pattern ^(a+)+$ needs more than its matching budget"));
    assert_non_null(strstr(out.rejects.text, "4:word:does not match pattern ^(a+)+$"));
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM words"), 2);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM words WHERE id IN (1, 4)"), 2);
}

/*
 * A job stored before patterns had a budget may hold one the validator now
 * refuses: its import fails at once, naming the column and why, instead
 * of compiling it (regcomp took about 1 GB and seconds for this one).
 */
static void test_costly_stored_pattern_fails_the_import(void **state)
{
    struct job_spec *spec = spec_from_json(
        "{\"source\": {\"path\": \"w.csv\"}, \"target\": {\"table\": \"words\", \"create\": true,"
        " \"columns\": [{\"name\": \"word\", \"type\": \"text\", \"pattern\": \"^a\"}]}}");
    free(spec->target.columns[0].pattern);
    spec->target.columns[0].pattern = strdup("((a{1,100}){1,100}){1,100}");
    assert_non_null(spec->target.columns[0].pattern);
    struct outcome out;
    run_spec_import(state, spec, "w.csv", "word\naaa\n", 9, NULL, false, &out);
    assert_int_equal(out.rc, IQ_E_INVALID);
    assert_non_null(strstr(out.message, "column word: pattern is too costly"));
    assert_int_equal(out.result.rows_inserted, 0);
    job_spec_free(spec);
}

static void test_header_only_loads_nothing(void **state)
{
    create_users(state);
    struct outcome out;
    run_import(state, "{\"source\": {\"path\": \"u.csv\"}, \"target\": {\"table\": \"users\", \"mode\": \"append\"}}",
               "u.csv", "user_id,email\n", &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_read, 0);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users"), 2);
}

/* expect_text - the query's text (rows joined by newlines) is expected, byte for byte. */
static void expect_text(void **state, const char *sql, const char *expected)
{
    char *text = fixture_sql_text(FIX(state), sql);
    assert_non_null(text);
    assert_string_equal(text, expected);
    free(text);
}

/* source.csv.encoding: latin1 and windows-1252 files land as UTF-8 text,
 * the header's names decoded too; a UTF-8 file with a latin1 byte stays a
 * reject of its row. */
static void test_encodings_land_as_utf8(void **state)
{
    struct outcome out;
    run_import(state,
               "{\"source\": {\"path\": \"l.csv\", \"csv\": {\"encoding\": \"latin1\"}},"
               " \"target\": {\"table\": \"places\", \"create\": true,"
               " \"columns\": [{\"name\": \"id\", \"type\": \"integer\"},"
               " {\"name\": \"name\", \"type\": \"text\", \"from\": \"r\xc3\xa9gion\"}]}}",
               "l.csv", "id,r\xe9gion\n1,Z\xfcrich\n2,Gen\xe8ve \xa7 \xb5\n", &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_inserted, 2);
    expect_text(state, "SELECT name FROM places ORDER BY id", "Z\xc3\xbcrich\nGen\xc3\xa8ve \xc2\xa7 \xc2\xb5");

    run_import(state,
               "{\"source\": {\"path\": \"w.csv\", \"csv\": {\"encoding\": \"cp1252\"}},"
               " \"target\": {\"table\": \"prices\", \"create\": true,"
               " \"columns\": [{\"name\": \"id\", \"type\": \"integer\"},"
               " {\"name\": \"label\", \"type\": \"text\"}]}}",
               "w.csv", "id,label\n1,\x93" "Caf\xe9\x94 \x96 5 \x80\n2,\x91it\x92s \x85\n", &out);
    expect_ok(&out);
    expect_text(state, "SELECT label FROM prices ORDER BY id",
                "\xe2\x80\x9c" "Caf\xc3\xa9\xe2\x80\x9d \xe2\x80\x93 5 \xe2\x82\xac\n"
                "\xe2\x80\x98it\xe2\x80\x99s \xe2\x80\xa6");

    /* the same latin1 bytes read as UTF-8 (the default): a reject naming the byte */
    run_import(state,
               "{\"source\": {\"path\": \"u.csv\"}, \"target\": {\"table\": \"prices\","
               " \"mode\": \"append\"}, \"on_error\": {\"action\": \"skip\"}}",
               "u.csv", "id,label\n3,caf\xe9\n4,ok\n", &out);
    expect_ok(&out);
    assert_int_equal(out.rejects.count, 1);
    assert_non_null(strstr(out.rejects.text, "2:label:invalid UTF-8 (byte 0xE9)"));
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM prices"), 3);
}

/* source.csv.columns: names for a headerless file, or in place of the
 * header's; a count that does not match fails the import, nothing lands. */
static void test_csv_columns_name_the_source(void **state)
{
    create_users(state);
    struct outcome out;
    run_import(state,
               "{\"source\": {\"path\": \"n.csv\", \"csv\": {\"header\": false,"
               " \"columns\": [\"user_id\", \"email\"]}}, \"target\": {\"table\": \"users\","
               " \"mode\": \"append\"}}",
               "n.csv", "20,a@example.com\n21,b@example.com\n", &out);
    expect_ok(&out);
    assert_int_equal(out.result.rows_inserted, 2);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT user_id FROM users WHERE email = 'b@example.com'"), 21);

    run_import(state,
               "{\"source\": {\"path\": \"r.csv\", \"csv\": {\"columns\": [\"user_id\", \"email\"]}},"
               " \"target\": {\"table\": \"users\", \"mode\": \"append\"}}",
               "r.csv", "Kundennummer,E-Mail\n30,c@example.com\n", &out);
    expect_ok(&out);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT user_id FROM users WHERE email = 'c@example.com'"), 30);

    int64_t before = fixture_sql_int(FIX(state), "SELECT count(*) FROM users");
    run_import(state,
               "{\"source\": {\"path\": \"m.csv\", \"csv\": {\"header\": false,"
               " \"columns\": [\"user_id\", \"email\"]}}, \"target\": {\"table\": \"users\","
               " \"mode\": \"append\"}}",
               "m.csv", "40,d@example.com,extra\n", &out);
    assert_int_equal(out.rc, IQ_E_INVALID);
    assert_non_null(strstr(out.message, "line 1: the first record has 3 fields but 2 column names were given"));
    run_import(state,
               "{\"source\": {\"path\": \"h.csv\", \"csv\": {\"columns\": [\"user_id\"]}},"
               " \"target\": {\"table\": \"users\", \"mode\": \"append\"}}",
               "h.csv", "a,b\n41,e@example.com\n", &out);
    assert_int_equal(out.rc, IQ_E_INVALID);
    assert_non_null(strstr(out.message, "line 1: the header has 2 columns but 1 column names were given"));
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users"), before);
}

/* A generated CSV of rows users. */
static char *many_rows(int rows, size_t *ret_length)
{
    char *text = NULL;
    size_t length = 0;
    FILE *f = open_memstream(&text, &length);
    fputs("user_id,email\n", f);
    for (int i = 0; i < rows; i++)
        fprintf(f, "%d,user%d@example.com\n", 100 + i, i);
    fclose(f);
    *ret_length = length;
    return text;
}

static void test_cancel_lands_nothing(void **state)
{
    create_users(state);
    size_t length;
    char *text = many_rows(50000, &length);
    atomic_bool cancel = false;
    struct outcome out;
    run_import_ex(state, "{\"source\": {\"path\": \"u.csv\"}, \"target\": {\"table\": \"users\", \"mode\": \"append\"}}",
                  "u.csv", text, length, &cancel, true, &out);
    assert_int_equal(out.rc, IQ_E_CANCELLED);
    assert_true(out.result.rows_read < 50000);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users"), 2);
    /* The same file without cancelling lands completely. */
    run_import_ex(state, "{\"source\": {\"path\": \"u.csv\"}, \"target\": {\"table\": \"users\", \"mode\": \"append\"}}",
                  "u.csv", text, length, NULL, false, &out);
    expect_ok(&out);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM users"), 50002);
    assert_true(out.progress.calls >= 3);
    free(text);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_insert_creates_table_and_loads, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_upsert_counts_inserted_and_updated, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_replace_swaps_contents, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_columns_from_existing_table, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_skip_lands_good_rows_and_reports_rejects, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_abort_lands_nothing, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_references_and_duplicates_are_set_wise_rejects, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_children_fan_out_in_one_transaction, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_ndjson_insert, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_json_big_numbers_keep_their_text, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_ndjson_big_numbers_keep_their_text, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_json_rejects_name_record_pointer_and_column, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_ndjson_rejects_name_record_pointer_and_column, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_child_rejects_name_their_element, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_bad_inputs_change_nothing, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_header_only_loads_nothing, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_encodings_land_as_utf8, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_csv_columns_name_the_source, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_cancel_lands_nothing, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_pattern_over_budget_rejects_the_row, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_costly_stored_pattern_fails_the_import, fixture_setup, fixture_teardown),
};

int main(void)
{
    return fixture_run_backends("import", "pipeline tests", tests, sizeof(tests) / sizeof(tests[0]));
}
