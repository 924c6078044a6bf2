/*
 * store_fixture.h - what the store test suites share: a fresh database per
 * test on each backend (SQLite: a new temp file; PostgreSQL: a database of
 * this process's own, emptied between tests), small raw-SQL helpers for
 * checks the store API does not expose, and spec builders.
 *
 * PostgreSQL runs when IMPORTQ_TEST_PG_ADMIN_URL is set (scripts/test.sh
 * sets it); with IMPORTQ_REQUIRE_PG=1 its absence is a failure, so CI can
 * never pass without the PostgreSQL half.
 */
#ifndef IMPORTQ_TESTS_STORE_FIXTURE_H
#define IMPORTQ_TESTS_STORE_FIXTURE_H

#include "core/job_spec.h"
#include "store/store.h"
#include "support/fake_clock.h"

#include <stdbool.h>
#include <stdint.h>

struct fixture {
    const char *backend;   /* "sqlite" or "postgres" */
    char url[512];
    struct store *store;
    struct fake_clock clock; /* f->store reads it after fixture_use_fake_clock */
};

/* Group setup/teardown: prepare the backend (PostgreSQL: create the database). */
int fixture_group_setup_sqlite(void **state);
int fixture_group_setup_postgres(void **state);
int fixture_group_teardown(void **state);

/* Per-test: an empty, migrated database and an open store in f->store. */
int fixture_setup(void **state);
int fixture_teardown(void **state);

/*
 * fixture_use_fake_clock - from now on f->store reads f->clock, set back to
 * FAKE_CLOCK_START_MS (f->store is reopened; fixture_teardown closes it):
 * a test advances f->clock instead of sleeping. Connections of its own
 * (fixture_open_extra_with) and engines get &f->clock.clock themselves.
 */
void fixture_use_fake_clock(struct fixture *f);

/* fixture_sql_int - run a query returning one integer (first row, first column). */
int64_t fixture_sql_int(struct fixture *f, const char *sql);

/* fixture_sql_exec - run statements; returns 0 or -1 (error printed). */
int fixture_sql_exec(struct fixture *f, const char *sql);

/* fixture_exec_fmt - fixture_sql_exec of a printf-made statement (up to
 * 4 KB), failing the test when it fails. */
void fixture_exec_fmt(struct fixture *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* fixture_int_fmt - fixture_sql_int of a printf-made query (up to 4 KB). */
int64_t fixture_int_fmt(struct fixture *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * fixture_sql_text - first column of every row joined by '\n'; caller frees.
 */
char *fixture_sql_text(struct fixture *f, const char *sql);

/*
 * fixture_audit_images - the before and after of the first audit row with
 * this action and entity_id, as a JSON array [before, after] (JSON null
 * for a missing side); fails the test when there is no such row. Caller
 * json_decrefs.
 */
json_t *fixture_audit_images(struct fixture *f, const char *action, const char *entity_id);

/*
 * fixture_query_plan - the backend's plan for sql (PostgreSQL EXPLAIN,
 * SQLite EXPLAIN QUERY PLAN details), one line per node; caller frees.
 */
char *fixture_query_plan(struct fixture *f, const char *sql);

/* fixture_open_extra - another connection to the same database (threads). */
struct store *fixture_open_extra(struct fixture *f);

/* fixture_submit - create one spec_simple(table, 5) job on s, or fail the test. */
void fixture_submit(struct store *s, const char *table);

/* fixture_open_extra_with - the same with options (NULL: the defaults). */
struct store *fixture_open_extra_with(struct fixture *f, const struct store_options *opts);

/* spec_from_json - parse a spec or fail the test. Caller frees. */
struct job_spec *spec_from_json(const char *json_text);

/* A spec for table `table` with priority and optional extra JSON fields
 * (e.g. "\"hold\": true"), caller frees. */
struct job_spec *spec_simple(const char *table, int priority, const char *extra_fields);

/* Actor used by every mutation in the tests. */
extern const struct audit_context test_actor;

/* pg_available - whether the PostgreSQL half can run; fails when required. */
bool fixture_pg_available(void);

struct CMUnitTest;

/*
 * fixture_run_backends - run tests (count of them) as group "<suite>/sqlite"
 * and "<suite>/postgres", each backend only when IMPORTQ_TEST_ONLY allows
 * it (unset, "sqlite" or "postgres") and PostgreSQL only when available;
 * with IMPORTQ_REQUIRE_PG=1 a missing PostgreSQL counts as a failure.
 * Prints "<label>: N on sqlite, M on postgres, F failed" (scripts/test.sh
 * collects these lines) and returns the exit status for main.
 */
int fixture_run_backends(const char *suite, const char *label, const struct CMUnitTest *tests,
                         size_t count);

#endif
