/*
 * store_fixture.c - fresh databases for the store suites on both backends.
 * Raw SQL here is test-only: it checks what the store API does not expose
 * (table lists, audit rows) and builds large tables quickly.
 */
#include "support/store_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct audit_context test_actor = {"test-suite", "req-1", "127.0.0.1"};

/* Tables a test may leave rows in, children first (for TRUNCATE/DELETE). */
static const char *const service_tables[] = {
    "importq_job_rejects", "importq_uploads", "importq_tokens", "stg_import_monitoring",
    "importq_lock_history",
    "stg_import_performance", "stg_import_resources", "importq_job_deps", "stg_import_queue",
    "stg_import_coordination", "importq_schedule_fires", "stg_scheduled_imports", NULL,
};

bool fixture_pg_available(void)
{
    const char *admin = getenv("IMPORTQ_TEST_PG_ADMIN_URL");
    return admin && *admin;
}

int fixture_group_setup_sqlite(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->backend = "sqlite";
    snprintf(f->url, sizeof(f->url), "sqlite:/tmp/importq-store-test-%d.db", (int)getpid());
    *state = f;
    return 0;
}

/* Runs one statement on the admin connection; 0 or -1 (printed). */
static int pg_admin_exec(const char *sql)
{
    PGconn *conn = PQconnectdb(getenv("IMPORTQ_TEST_PG_ADMIN_URL"));
    int rc = -1;
    if (PQstatus(conn) == CONNECTION_OK) {
        PGresult *res = PQexec(conn, sql);
        if (PQresultStatus(res) == PGRES_COMMAND_OK)
            rc = 0;
        else
            fprintf(stderr, "fixture: %s: %s", sql, PQerrorMessage(conn));
        PQclear(res);
    } else {
        fprintf(stderr, "fixture: cannot connect: %s", PQerrorMessage(conn));
    }
    PQfinish(conn);
    return rc;
}

int fixture_group_setup_postgres(void **state)
{
    if (!fixture_pg_available())
        return -1;
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->backend = "postgres";
    char dbname[64], sql[160];
    snprintf(dbname, sizeof(dbname), "importq_store_%d", (int)getpid());
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", dbname);
    pg_admin_exec(sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
    if (pg_admin_exec(sql) < 0) {
        free(f);
        return -1;
    }
    /* Same server as the admin URL, other database. */
    const char *admin = getenv("IMPORTQ_TEST_PG_ADMIN_URL");
    const char *slash = strrchr(admin, '/');
    snprintf(f->url, sizeof(f->url), "%.*s/%s", (int)(slash - admin), admin, dbname);
    *state = f;
    return 0;
}

int fixture_group_teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    if (strcmp(f->backend, "postgres") == 0) {
        char sql[160];
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", strrchr(f->url, '/') + 1);
        pg_admin_exec(sql);
    } else {
        const char *path = f->url + strlen("sqlite:");
        char extra[600];
        unlink(path);
        snprintf(extra, sizeof(extra), "%s-wal", path);
        unlink(extra);
        snprintf(extra, sizeof(extra), "%s-shm", path);
        unlink(extra);
    }
    free(f);
    return 0;
}

/*
 * PostgreSQL: empty every service table (the audit trail too) and drop the
 * tables, triggers and functions tests created (the service's own,
 * importq_*, stay). SQLite
 * needs nothing: each test gets a new file.
 */
static int reset_database(struct fixture *f)
{
    if (strcmp(f->backend, "postgres") != 0)
        return 0;
    char sql[1024] = "TRUNCATE stg_import_audit";
    for (int i = 0; service_tables[i]; i++) {
        strcat(sql, ", ");
        strcat(sql, service_tables[i]);
    }
    strcat(sql, " CASCADE");
    if (fixture_sql_exec(f, sql) < 0)
        return -1;
    return fixture_sql_exec(f,
        "DO $$ DECLARE t text; BEGIN"
        " FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        " AND tablename NOT LIKE 'stg\\_%' AND tablename NOT LIKE 'importq\\_%' LOOP"
        " EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', t); END LOOP;"
        " FOR t IN SELECT format('%I ON %I', g.tgname, c.relname) FROM pg_trigger g"
        " JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND NOT g.tgisinternal AND g.tgname NOT LIKE 'importq\\_%' LOOP"
        " EXECUTE 'DROP TRIGGER ' || t; END LOOP;"
        " FOR t IN SELECT p.oid::regprocedure::text FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'public' AND p.proname NOT LIKE 'importq\\_%' LOOP"
        " EXECUTE 'DROP FUNCTION ' || t || ' CASCADE'; END LOOP; END $$");
}

int fixture_setup(void **state)
{
    struct fixture *f = *state;
    struct iq_error err = {0};
    if (strcmp(f->backend, "sqlite") == 0) {
        const char *path = f->url + strlen("sqlite:");
        char extra[600];
        unlink(path);
        snprintf(extra, sizeof(extra), "%s-wal", path);
        unlink(extra);
        snprintf(extra, sizeof(extra), "%s-shm", path);
        unlink(extra);
    }
    int applied = 0;
    if (store_open(f->url, NULL, &f->store, &err) < 0 ||
        store_migrate(f->store, &applied, &err) < 0) {
        fprintf(stderr, "fixture_setup(%s): %s\n", f->backend, iq_error_message(&err));
        iq_error_clear(&err);
        return -1;
    }
    return reset_database(f);
}

int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->store);
    f->store = NULL;
    return 0;
}

void fixture_use_fake_clock(struct fixture *f)
{
    fake_clock_init(&f->clock);
    struct store_options opts = {.clock = &f->clock.clock};
    struct store *s = fixture_open_extra_with(f, &opts);
    if (!s)
        fail_msg("fixture_use_fake_clock: cannot open a store on %s", f->backend);
    store_close(f->store);
    f->store = s;
}

struct store *fixture_open_extra(struct fixture *f)
{
    return fixture_open_extra_with(f, NULL);
}

void fixture_submit(struct store *s, const char *table)
{
    struct job_spec *spec = spec_simple(table, 5, NULL);
    struct job_create_request req = {.spec = spec};
    struct job *job = NULL;
    bool existed = false;
    struct iq_error err = {0};
    if (store_job_create(s, &req, &test_actor, &job, &existed, &err) < 0)
        fail_msg("create: %s", iq_error_message(&err));
    job_free(job);
    job_spec_free(spec);
}

struct store *fixture_open_extra_with(struct fixture *f, const struct store_options *opts)
{
    struct store *s = NULL;
    struct iq_error err = {0};
    if (store_open(f->url, opts, &s, &err) < 0) {
        fprintf(stderr, "fixture_open_extra: %s\n", iq_error_message(&err));
        iq_error_clear(&err);
        return NULL;
    }
    return s;
}

/* Runs sql on a private connection; returns rows as text joined by '\n'. */
static char *run_sql(struct fixture *f, const char *sql, bool *ret_ok)
{
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    *ret_ok = false;
    if (strcmp(f->backend, "postgres") == 0) {
        PGconn *conn = PQconnectdb(f->url);
        PGresult *res = PQexec(conn, sql);
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            *ret_ok = true;
            for (int r = 0; r < PQntuples(res); r++)
                fprintf(mem, "%s%s", r ? "\n" : "", PQgetisnull(res, r, 0) ? "" : PQgetvalue(res, r, 0));
        } else {
            fprintf(stderr, "fixture sql: %s\n  %s", sql, PQerrorMessage(conn));
        }
        PQclear(res);
        PQfinish(conn);
    } else {
        sqlite3 *db = NULL;
        if (sqlite3_open(f->url + strlen("sqlite:"), &db) == SQLITE_OK) {
            sqlite3_busy_timeout(db, 5000);
            const char *tail = sql;
            *ret_ok = true;
            int row = 0;
            while (*ret_ok && tail && *tail) {
                sqlite3_stmt *stmt = NULL;
                if (sqlite3_prepare_v2(db, tail, -1, &stmt, &tail) != SQLITE_OK) {
                    fprintf(stderr, "fixture sql: %s\n  %s\n", sql, sqlite3_errmsg(db));
                    *ret_ok = false;
                    break;
                }
                if (!stmt)
                    break;
                int rc;
                while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                    const unsigned char *v = sqlite3_column_text(stmt, 0);
                    fprintf(mem, "%s%s", row++ ? "\n" : "", v ? (const char *)v : "");
                }
                if (rc != SQLITE_DONE) {
                    fprintf(stderr, "fixture sql: %s\n  %s\n", sql, sqlite3_errmsg(db));
                    *ret_ok = false;
                }
                sqlite3_finalize(stmt);
            }
        }
        sqlite3_close(db);
    }
    fclose(mem);
    return out;
}

int64_t fixture_sql_int(struct fixture *f, const char *sql)
{
    bool ok;
    char *text = run_sql(f, sql, &ok);
    assert_true(ok);
    int64_t value = strtoll(text, NULL, 10);
    free(text);
    return value;
}

int fixture_sql_exec(struct fixture *f, const char *sql)
{
    bool ok;
    free(run_sql(f, sql, &ok));
    return ok ? 0 : -1;
}

/* vformat_sql - fmt with ap into sql[size]; false when it does not fit. */
static bool vformat_sql(char *sql, size_t size, const char *fmt, va_list ap)
{
    int n = vsnprintf(sql, size, fmt, ap);
    return n >= 0 && (size_t)n < size;
}

void fixture_exec_fmt(struct fixture *f, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    bool fits = vformat_sql(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    assert_true(fits);
    assert_int_equal(fixture_sql_exec(f, sql), 0);
}

int64_t fixture_int_fmt(struct fixture *f, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    bool fits = vformat_sql(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    assert_true(fits);
    return fixture_sql_int(f, sql);
}

char *fixture_sql_text(struct fixture *f, const char *sql)
{
    bool ok;
    char *text = run_sql(f, sql, &ok);
    assert_true(ok);
    return text;
}

char *fixture_query_plan(struct fixture *f, const char *sql)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    assert_non_null(mem);
    if (strcmp(f->backend, "postgres") == 0) {
        fprintf(mem, "EXPLAIN %s", sql);
        fclose(mem);
        char *plan = fixture_sql_text(f, text);
        free(text);
        return plan;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    char *explain = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
    assert_int_equal(sqlite3_open(f->url + strlen("sqlite:"), &db), SQLITE_OK);
    if (sqlite3_prepare_v2(db, explain, -1, &stmt, NULL) != SQLITE_OK)
        fail_msg("explain %s: %s", sql, sqlite3_errmsg(db));
    while (sqlite3_step(stmt) == SQLITE_ROW)
        fprintf(mem, "%s\n", (const char *)sqlite3_column_text(stmt, 3));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    sqlite3_free(explain);
    fclose(mem);
    return text;
}

json_t *fixture_audit_images(struct fixture *f, const char *action, const char *entity_id)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             strcmp(f->backend, "postgres") == 0
                 ? "SELECT json_build_array(before, after)::text FROM stg_import_audit"
                   " WHERE action = '%s' AND entity_id = '%s' ORDER BY id LIMIT 1"
                 : "SELECT json_array(json(before), json(after)) FROM stg_import_audit"
                   " WHERE action = '%s' AND entity_id = '%s' ORDER BY id LIMIT 1",
             action, entity_id);
    char *text = fixture_sql_text(f, sql);
    json_t *images = json_loads(text, 0, NULL);
    if (!json_is_array(images) || json_array_size(images) != 2)
        fail_msg("no %s audit row for %s (got \"%s\")", action, entity_id, text);
    free(text);
    return images;
}

struct job_spec *spec_from_json(const char *json_text)
{
    json_error_t jerr;
    json_t *body = json_loads(json_text, 0, &jerr);
    if (!body)
        fail_msg("bad test JSON: %s: %s", jerr.text, json_text);
    struct job_spec_defaults defaults = {.max_attempts = 3, .timeout_s = 1800};
    struct job_spec *spec = NULL;
    struct iq_error err = {0};
    int rc = job_spec_parse(body, &defaults, &spec, &err);
    json_decref(body);
    if (rc < 0) {
        for (size_t i = 0; i < err.field_count; i++)
            fprintf(stderr, "  %s: %s\n", err.fields[i].field, err.fields[i].message);
        iq_error_clear(&err);
        fail_msg("spec rejected: %s", json_text);
    }
    return spec;
}

struct job_spec *spec_simple(const char *table, int priority, const char *extra_fields)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"name\": \"load %s\", \"priority\": %d,"
             " \"source\": {\"format\": \"csv\", \"path\": \"%s.csv\"},"
             " \"target\": {\"table\": \"%s\"}%s%s}",
             table, priority, table, table, extra_fields ? ", " : "", extra_fields ? extra_fields : "");
    return spec_from_json(text);
}

/* backend_wanted - IMPORTQ_TEST_ONLY unset or naming backend. */
static bool backend_wanted(const char *backend)
{
    const char *only = getenv("IMPORTQ_TEST_ONLY");
    return !only || !*only || strcmp(only, backend) == 0;
}

/* print_group - names the backend before its tests (cmocka's own output
 * does not), so a failure in a log says where it happened. */
static void print_group(const char *group)
{
    printf("[ BACKEND  ] %s\n", group);
    fflush(stdout);
}

int fixture_run_backends(const char *suite, const char *label, const struct CMUnitTest *tests,
                         size_t count)
{
    char group[128];
    int failed = 0, sqlite_ran = 0, pg_ran = 0;
    if (backend_wanted("sqlite")) {
        snprintf(group, sizeof(group), "%s/sqlite", suite);
        print_group(group);
        failed += _cmocka_run_group_tests(group, tests, count, fixture_group_setup_sqlite,
                                          fixture_group_teardown);
        sqlite_ran = (int)count;
    }
    const char *require = getenv("IMPORTQ_REQUIRE_PG");
    if (backend_wanted("postgres") && fixture_pg_available()) {
        snprintf(group, sizeof(group), "%s/postgres", suite);
        print_group(group);
        failed += _cmocka_run_group_tests(group, tests, count, fixture_group_setup_postgres,
                                          fixture_group_teardown);
        pg_ran = (int)count;
    } else if (backend_wanted("postgres") && require && strcmp(require, "1") == 0) {
        fprintf(stderr, "%s: PostgreSQL required (IMPORTQ_REQUIRE_PG=1) but "
                        "IMPORTQ_TEST_PG_ADMIN_URL is not set\n", label);
        failed++;
    }
    printf("%s: %d on sqlite, %d on postgres, %d failed\n", label, sqlite_ran, pg_ran, failed);
    return failed ? 1 : 0;
}
