/*
 * test_schedule_store.c - scheduled imports in the store (store.h:
 * schedule_create, _get, _list, _update, _delete, _pause, _resume,
 * table_duration_p50), one test code for both backends: next_run_at from
 * the store's (fake) clock on create, update (when its times change) and
 * resume, pause keeping it; unique names; a one-off that has passed; the bound on the number
 * of schedules; keyset pages and filters; an audit row per change and
 * none for a pause of a paused schedule; p50 durations from the
 * performance records.
 *
 * IMPORTQ_TEST_ONLY=postgres (or =sqlite) runs one backend's group only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/store_fixture.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX(state) ((struct fixture *)*(state))
#define UNKNOWN_ID "01900000-0000-7000-8000-0000000000ff"
#define HOUR_MS INT64_C(3600000)

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* parse_spec - schedule_spec_parse of a body, or fail. */
static void parse_spec(struct schedule_spec *spec, const char *name, const char *cron,
                       const char *extra)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"name\": \"%s\", \"cron\": \"%s\", \"job\": {\"source\": {\"format\": \"csv\","
             " \"path\": \"users-{date}.csv\"}, \"target\": {\"table\": \"users\"}}%s%s}",
             name, cron, extra ? ", " : "", extra ? extra : "");
    json_error_t jerr;
    json_t *body = json_loads(text, 0, &jerr);
    assert_non_null(body);
    struct iq_error err = {0};
    int rc = schedule_spec_parse(body, NULL, spec, &err);
    if (rc < 0)
        fail_msg("spec: %s (%s)", iq_error_message(&err),
                 err.field_count ? err.fields[0].message : "");
    json_decref(body);
    iq_error_clear(&err);
}

/* create - a schedule on f's store, or fail; *ret: schedule_clear. */
static void create(struct fixture *f, const char *name, const char *cron, const char *extra,
                   struct schedule *ret)
{
    struct schedule_spec spec;
    parse_spec(&spec, name, cron, extra);
    struct schedule_request req = {.spec = &spec};
    struct iq_error err = {0};
    int rc = store_schedule_create(f->store, &req, &test_actor, ret, &err);
    if (rc < 0)
        fail_msg("create %s: %s", name, iq_error_message(&err));
    schedule_spec_clear(&spec);
    iq_error_clear(&err);
}

static int64_t at(const char *rfc3339)
{
    int64_t ms = 0;
    assert_int_equal(time_parse_rfc3339(rfc3339, &ms), 0);
    return ms;
}

static int64_t audit_count(struct fixture *f, const char *action, const char *id)
{
    return fixture_int_fmt(f,
                           "SELECT count(*) FROM stg_import_audit WHERE action = '%s'"
                           " AND entity = 'schedule' AND entity_id = '%s'",
                           action, id);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void test_create_get_with_next_run_and_audit(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f); /* 2030-01-01T00:00:00Z */
    struct schedule created, got;
    create(f, "nightly users", "30 2 * * *",
           "\"timezone\": \"Europe/Zurich\", \"misfire\": \"catch_up\", \"overlap\": \"queue\","
           " \"catch_up_max\": 25",
           &created);
    assert_string_equal(created.name, "nightly users");
    assert_int_equal(created.next_run_at_ms, at("2030-01-01T01:30:00Z")); /* 02:30 CET */
    assert_int_equal(created.created_at_ms, FAKE_CLOCK_START_MS);
    assert_string_equal(created.created_by, "test-suite");
    struct iq_error err = {0};
    assert_int_equal(store_schedule_get(f->store, created.id, &got, &err), 0);
    assert_string_equal(got.cron, "30 2 * * *");
    assert_string_equal(got.timezone, "Europe/Zurich");
    assert_int_equal(got.misfire, SCHEDULE_MISFIRE_CATCH_UP);
    assert_int_equal(got.overlap, SCHEDULE_OVERLAP_QUEUE);
    assert_int_equal(got.catch_up_max, 25);
    assert_true(got.enabled);
    assert_int_equal(got.next_run_at_ms, created.next_run_at_ms);
    assert_int_equal(got.run_count, 0);
    assert_null(got.last_status);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(got.job, "source"), "path")),
        "users-{date}.csv");
    json_t *images = fixture_audit_images(f, "schedule.created", created.id);
    assert_true(json_is_null(json_array_get(images, 0)));
    assert_string_equal(json_string_value(json_object_get(json_array_get(images, 1), "name")),
                        "nightly users");
    json_decref(images);
    schedule_clear(&got);
    /* Unknown and malformed ids. */
    assert_int_equal(store_schedule_get(f->store, UNKNOWN_ID, &got, &err), IQ_E_NOT_FOUND);
    assert_int_equal(store_schedule_get(f->store, "nope", &got, &err), IQ_E_NOT_FOUND);
    schedule_clear(&created);
    iq_error_clear(&err);
}

static void test_defaults(void **state)
{
    struct fixture *f = FIX(state);
    struct schedule s;
    create(f, "defaults", "@hourly", NULL, &s);
    assert_string_equal(s.timezone, "UTC");
    assert_int_equal(s.misfire, SCHEDULE_MISFIRE_RUN_ONCE);
    assert_int_equal(s.overlap, SCHEDULE_OVERLAP_SKIP);
    assert_int_equal(s.catch_up_max, SCHEDULE_CATCH_UP_MAX_DEFAULT);
    assert_true(s.enabled);
    schedule_clear(&s);
}

static void test_names_are_unique(void **state)
{
    struct fixture *f = FIX(state);
    struct schedule a, b, out;
    create(f, "a", "0 1 * * *", NULL, &a);
    create(f, "b", "0 2 * * *", NULL, &b);
    struct schedule_spec spec;
    parse_spec(&spec, "a", "0 3 * * *", NULL);
    struct schedule_request req = {.spec = &spec};
    struct iq_error err = {0};
    assert_int_equal(store_schedule_create(f->store, &req, &test_actor, &out, &err), IQ_E_CONFLICT);
    assert_non_null(strstr(iq_error_message(&err), "\"a\""));
    /* b renamed to a: refused; b keeping its own name: fine. */
    assert_int_equal(store_schedule_update(f->store, b.id, &spec, &test_actor, &out, &err),
                     IQ_E_CONFLICT);
    schedule_spec_clear(&spec);
    parse_spec(&spec, "b", "0 4 * * *", NULL);
    assert_int_equal(store_schedule_update(f->store, b.id, &spec, &test_actor, &out, &err), 0);
    schedule_clear(&out);
    schedule_spec_clear(&spec);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_scheduled_imports"), 2);
    assert_int_equal(audit_count(f, "schedule.created", a.id), 1);
    schedule_clear(&a);
    schedule_clear(&b);
    iq_error_clear(&err);
}

static void test_one_off_passed_is_refused(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    struct schedule_spec spec;
    parse_spec(&spec, "late", "2029-12-31T23:00:00Z", NULL);
    struct schedule_request req = {.spec = &spec};
    struct schedule out;
    struct iq_error err = {0};
    assert_int_equal(store_schedule_create(f->store, &req, &test_actor, &out, &err), IQ_E_INVALID);
    assert_int_equal(err.field_count, 1);
    assert_string_equal(err.fields[0].field, "cron");
    schedule_spec_clear(&spec);
    iq_error_clear(&err);
    /* A future one-off is fine, and fires at its time. */
    create(f, "soon", "2030-01-02T00:00:00Z", NULL, &out);
    assert_int_equal(out.next_run_at_ms, at("2030-01-02T00:00:00Z"));
    schedule_clear(&out);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_scheduled_imports"), 1);
}

static void test_update_recomputes_next_run(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    struct schedule s, out;
    create(f, "users", "0 5 * * *", NULL, &s);
    assert_int_equal(s.next_run_at_ms, at("2030-01-01T05:00:00Z"));
    fake_clock_advance(&f->clock, 6 * HOUR_MS); /* 06:00 */
    struct schedule_spec spec;
    parse_spec(&spec, "users daily", "0 5 * * *",
               "\"timezone\": \"America/New_York\", \"overlap\": \"allow\"");
    struct iq_error err = {0};
    assert_int_equal(store_schedule_update(f->store, s.id, &spec, &test_actor, &out, &err), 0);
    assert_string_equal(out.name, "users daily");
    assert_string_equal(out.timezone, "America/New_York");
    assert_int_equal(out.overlap, SCHEDULE_OVERLAP_ALLOW);
    assert_int_equal(out.next_run_at_ms, at("2030-01-01T10:00:00Z")); /* 05:00 EST */
    assert_int_equal(out.updated_at_ms, FAKE_CLOCK_START_MS + 6 * HOUR_MS);
    assert_int_equal(out.created_at_ms, FAKE_CLOCK_START_MS);
    json_t *images = fixture_audit_images(f, "schedule.updated", s.id);
    assert_string_equal(json_string_value(json_object_get(json_array_get(images, 0), "name")),
                        "users");
    assert_string_equal(json_string_value(json_object_get(json_array_get(images, 1), "name")),
                        "users daily");
    json_decref(images);
    schedule_clear(&out);
    assert_int_equal(store_schedule_update(f->store, UNKNOWN_ID, &spec, &test_actor, &out, &err),
                     IQ_E_NOT_FOUND);
    schedule_spec_clear(&spec);
    schedule_clear(&s);
    iq_error_clear(&err);
}

/* update - store_schedule_update with a body, or fail; *out: schedule_clear. */
static void update(struct fixture *f, const char *id, const char *name, const char *cron,
                   const char *extra, struct schedule *out)
{
    struct schedule_spec spec;
    parse_spec(&spec, name, cron, extra);
    struct iq_error err = {0};
    if (store_schedule_update(f->store, id, &spec, &test_actor, out, &err) < 0)
        fail_msg("update %s: %s", name, iq_error_message(&err));
    schedule_spec_clear(&spec);
    iq_error_clear(&err);
}

static void test_update_keeps_next_run_unless_times_change(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    struct schedule s, out;
    create(f, "users", "0 5 * * *", NULL, &s);
    /* 07:00: the 05:00 fire is due (the engine was down); a rename keeps it due. */
    fake_clock_advance(&f->clock, 7 * HOUR_MS);
    update(f, s.id, "users renamed", "0 5 * * *", "\"overlap\": \"queue\"", &out);
    assert_int_equal(out.next_run_at_ms, at("2030-01-01T05:00:00Z"));
    schedule_clear(&out);
    /* Paused through PUT: kept too. Enabled again through PUT: from now, as resume. */
    update(f, s.id, "users renamed", "0 5 * * *", "\"enabled\": false", &out);
    assert_false(out.enabled);
    assert_int_equal(out.next_run_at_ms, at("2030-01-01T05:00:00Z"));
    schedule_clear(&out);
    update(f, s.id, "users renamed", "0 5 * * *", NULL, &out);
    assert_true(out.enabled);
    assert_int_equal(out.next_run_at_ms, at("2030-01-02T05:00:00Z"));
    schedule_clear(&out);
    /* A new expression: from now. */
    update(f, s.id, "users renamed", "30 7 * * *", NULL, &out);
    assert_int_equal(out.next_run_at_ms, at("2030-01-01T07:30:00Z"));
    schedule_clear(&out);
    schedule_clear(&s);
}

static void test_pause_keeps_next_run_resume_skips_missed(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    struct schedule s, out;
    create(f, "hourly", "0 * * * *", NULL, &s);
    assert_int_equal(s.next_run_at_ms, at("2030-01-01T01:00:00Z"));
    struct iq_error err = {0};
    assert_int_equal(store_schedule_pause(f->store, s.id, &test_actor, &out, &err), 0);
    assert_false(out.enabled);
    assert_int_equal(out.next_run_at_ms, at("2030-01-01T01:00:00Z"));
    schedule_clear(&out);
    /* Pausing again changes and records nothing. */
    assert_int_equal(store_schedule_pause(f->store, s.id, &test_actor, &out, &err), 0);
    assert_false(out.enabled);
    schedule_clear(&out);
    assert_int_equal(audit_count(f, "schedule.paused", s.id), 1);
    fake_clock_advance(&f->clock, 5 * HOUR_MS + 30 * 60000); /* 05:30: four fires missed */
    assert_int_equal(store_schedule_resume(f->store, s.id, &test_actor, &out, &err), 0);
    assert_true(out.enabled);
    assert_int_equal(out.next_run_at_ms, at("2030-01-01T06:00:00Z"));
    schedule_clear(&out);
    assert_int_equal(store_schedule_resume(f->store, s.id, &test_actor, &out, &err), 0);
    schedule_clear(&out);
    assert_int_equal(audit_count(f, "schedule.resumed", s.id), 1);
    assert_int_equal(store_schedule_get(f->store, s.id, &out, &err), 0);
    assert_true(out.enabled);
    assert_int_equal(out.next_run_at_ms, at("2030-01-01T06:00:00Z"));
    schedule_clear(&out);
    assert_int_equal(store_schedule_pause(f->store, UNKNOWN_ID, &test_actor, &out, &err),
                     IQ_E_NOT_FOUND);
    assert_int_equal(store_schedule_resume(f->store, UNKNOWN_ID, &test_actor, &out, &err),
                     IQ_E_NOT_FOUND);
    schedule_clear(&s);
    iq_error_clear(&err);
}

static void test_delete(void **state)
{
    struct fixture *f = FIX(state);
    struct schedule s, out;
    create(f, "gone", "0 1 * * *", NULL, &s);
    struct iq_error err = {0};
    assert_int_equal(store_schedule_delete(f->store, s.id, &test_actor, &out, &err), 0);
    assert_string_equal(out.name, "gone");
    schedule_clear(&out);
    assert_int_equal(store_schedule_get(f->store, s.id, &out, &err), IQ_E_NOT_FOUND);
    assert_int_equal(store_schedule_delete(f->store, s.id, &test_actor, &out, &err),
                     IQ_E_NOT_FOUND);
    assert_int_equal(audit_count(f, "schedule.deleted", s.id), 1);
    json_t *images = fixture_audit_images(f, "schedule.deleted", s.id);
    assert_true(json_is_null(json_array_get(images, 1)));
    json_decref(images);
    /* The name is free again. */
    create(f, "gone", "0 1 * * *", NULL, &out);
    schedule_clear(&out);
    schedule_clear(&s);
    iq_error_clear(&err);
}

static void test_bound_on_schedules(void **state)
{
    struct fixture *f = FIX(state);
    struct schedule a, b, out;
    create(f, "one", "0 1 * * *", NULL, &a);
    create(f, "two", "0 2 * * *", NULL, &b);
    struct schedule_spec spec;
    parse_spec(&spec, "three", "0 3 * * *", NULL);
    struct schedule_request req = {.spec = &spec, .max_schedules = 2};
    struct iq_error err = {0};
    assert_int_equal(store_schedule_create(f->store, &req, &test_actor, &out, &err),
                     IQ_E_QUEUE_FULL);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_scheduled_imports"), 2);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_audit"
                                        " WHERE action = 'schedule.created'"),
                     2);
    /* One deleted: room again. */
    assert_int_equal(store_schedule_delete(f->store, a.id, &test_actor, &out, &err), 0);
    schedule_clear(&out);
    assert_int_equal(store_schedule_create(f->store, &req, &test_actor, &out, &err), 0);
    schedule_clear(&out);
    schedule_spec_clear(&spec);
    schedule_clear(&a);
    schedule_clear(&b);
    iq_error_clear(&err);
}

static void test_list_pages_and_filters(void **state)
{
    struct fixture *f = FIX(state);
    struct schedule s[3], out;
    create(f, "Users nightly", "0 1 * * *", NULL, &s[0]);
    create(f, "teams", "0 2 * * *", NULL, &s[1]);
    create(f, "users_100%", "0 3 * * *", NULL, &s[2]);
    struct iq_error err = {0};
    assert_int_equal(store_schedule_pause(f->store, s[1].id, &test_actor, &out, &err), 0);
    schedule_clear(&out);
    struct schedule_page page;
    struct schedule_filter filter = {.limit = 2};
    assert_int_equal(store_schedule_list(f->store, &filter, &page, &err), 0);
    assert_int_equal(page.count, 2);
    assert_string_equal(page.items[0].name, "users_100%"); /* newest first */
    assert_string_equal(page.items[1].name, "teams");
    assert_string_equal(page.next_after_id, s[1].id);
    filter.after_id = s[1].id;
    struct schedule_page next;
    assert_int_equal(store_schedule_list(f->store, &filter, &next, &err), 0);
    assert_int_equal(next.count, 1);
    assert_string_equal(next.items[0].name, "Users nightly");
    assert_string_equal(next.next_after_id, "");
    schedule_page_clear(&page);
    schedule_page_clear(&next);
    struct schedule_filter paused = {.enabled_set = true, .enabled = false};
    assert_int_equal(store_schedule_list(f->store, &paused, &page, &err), 0);
    assert_int_equal(page.count, 1);
    assert_string_equal(page.items[0].name, "teams");
    schedule_page_clear(&page);
    struct schedule_filter search = {.q = "USERS"};
    assert_int_equal(store_schedule_list(f->store, &search, &page, &err), 0);
    assert_int_equal(page.count, 2);
    schedule_page_clear(&page);
    struct schedule_filter percent = {.q = "0%"};
    assert_int_equal(store_schedule_list(f->store, &percent, &page, &err), 0);
    assert_int_equal(page.count, 1); /* % is literal */
    schedule_page_clear(&page);
    struct schedule_filter bad = {.limit = 501};
    assert_int_equal(store_schedule_list(f->store, &bad, &page, &err), IQ_E_BAD_REQUEST);
    struct schedule_filter bad_cursor = {.after_id = "x"};
    assert_int_equal(store_schedule_list(f->store, &bad_cursor, &page, &err), IQ_E_BAD_REQUEST);
    for (int i = 0; i < 3; i++)
        schedule_clear(&s[i]);
    iq_error_clear(&err);
}

static void test_table_duration_p50(void **state)
{
    struct fixture *f = FIX(state);
    int64_t p50 = -1;
    struct iq_error err = {0};
    assert_int_equal(store_table_duration_p50(f->store, "users", &p50, &err), 0);
    assert_int_equal(p50, 0);
    fixture_submit(f->store, "users");
    char *id = fixture_sql_text(f, "SELECT id FROM stg_import_queue");
    /* Attempts of 3 s (two phases), 10 s and 60 s: the median is 10 s. */
    static const struct {
        int attempt;
        const char *phase;
        int ms;
    } rows[] = {{1, "read", 1000}, {1, "stage", 2000}, {2, "read", 10000}, {3, "read", 60000}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        fixture_exec_fmt(f,
                         "INSERT INTO stg_import_performance (job_id, attempt, target_table,"
                         " phase, started_at, duration_ms) VALUES ('%s', %d, 'users', '%s',"
                         " '2030-01-01T00:00:0%zuZ', %d)",
                         id, rows[i].attempt, rows[i].phase, i, rows[i].ms);
    free(id);
    assert_int_equal(store_table_duration_p50(f->store, "users", &p50, &err), 0);
    assert_int_equal(p50, 10000);
    assert_int_equal(store_table_duration_p50(f->store, "teams", &p50, &err), 0);
    assert_int_equal(p50, 0);
    iq_error_clear(&err);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

static const struct CMUnitTest schedule_tests[] = {
    TEST(test_create_get_with_next_run_and_audit),
    TEST(test_defaults),
    TEST(test_names_are_unique),
    TEST(test_one_off_passed_is_refused),
    TEST(test_update_recomputes_next_run),
    TEST(test_update_keeps_next_run_unless_times_change),
    TEST(test_pause_keeps_next_run_resume_skips_missed),
    TEST(test_delete),
    TEST(test_bound_on_schedules),
    TEST(test_list_pages_and_filters),
    TEST(test_table_duration_p50),
};

int main(void)
{
    return fixture_run_backends("schedule_store", "schedule store tests", schedule_tests,
                                sizeof(schedule_tests) / sizeof(schedule_tests[0]));
}
