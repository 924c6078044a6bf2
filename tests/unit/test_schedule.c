/*
 * test_schedule.c - checking a schedule's fields (src/core/schedule.c):
 * defaults; a table of bad bodies, each with the field errors it must
 * give (name, cron, timezone, the job template's fields prefixed "job.",
 * a bad placeholder, refused per-job keys, policies, the catch-up cap,
 * unknown fields); the next run of cron and one-off schedules; the JSON
 * of a stored schedule.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/schedule.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define JOB                                                                                        \
    "{\"source\": {\"format\": \"csv\", \"path\": \"u-{date}.csv\"}, \"target\": {\"table\": "     \
    "\"users\"}}"

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *body = json_loads(text, 0, &jerr);
    if (!body)
        fail_msg("bad test JSON: %s: %s", jerr.text, text);
    return body;
}

static void test_defaults_and_fields(void **state)
{
    (void)state;
    json_t *body = load("{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"job\": " JOB "}");
    struct schedule_spec spec;
    struct iq_error err = {0};
    assert_int_equal(schedule_spec_parse(body, NULL, &spec, &err), 0);
    assert_string_equal(spec.name, "n");
    assert_string_equal(spec.timezone, "UTC");
    assert_int_equal(spec.misfire, SCHEDULE_MISFIRE_RUN_ONCE);
    assert_int_equal(spec.overlap, SCHEDULE_OVERLAP_SKIP);
    assert_int_equal(spec.catch_up_max, 10);
    assert_true(spec.enabled);
    assert_false(spec.expr.is_once);
    /* The template is kept as written, placeholders and all. */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(spec.job, "source"), "path")),
        "u-{date}.csv");
    schedule_spec_clear(&spec);
    json_decref(body);
    body = load("{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"timezone\": \"Asia/Kolkata\","
                " \"misfire\": \"skip\", \"overlap\": \"queue\", \"catch_up_max\": 1000,"
                " \"enabled\": false, \"job\": " JOB "}");
    assert_int_equal(schedule_spec_parse(body, NULL, &spec, &err), 0);
    assert_int_equal(spec.misfire, SCHEDULE_MISFIRE_SKIP);
    assert_int_equal(spec.overlap, SCHEDULE_OVERLAP_QUEUE);
    assert_int_equal(spec.catch_up_max, 1000);
    assert_false(spec.enabled);
    schedule_spec_clear(&spec);
    json_decref(body);
    iq_error_clear(&err);
}

/* A bad body and the field errors it gives (in order; NULL ends). */
struct bad_case {
    const char *body;
    const char *fields[4];
};

static const struct bad_case bad_cases[] = {
    {"{\"cron\": \"0 2 * * *\", \"job\": " JOB "}", {"name"}},
    {"{\"name\": \"\", \"cron\": \"0 2 * * *\", \"job\": " JOB "}", {"name"}},
    {"{\"name\": 5, \"cron\": \"0 2 * * *\", \"job\": " JOB "}", {"name", "name"}},
    {"{\"name\": \"n\", \"job\": " JOB "}", {"cron"}},
    {"{\"name\": \"n\", \"cron\": \"*/15 24 * * *\", \"job\": " JOB "}", {"cron"}},
    {"{\"name\": \"n\", \"cron\": \"0 0 30 2 *\", \"job\": " JOB "}", {"cron"}},
    {"{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"timezone\": \"Europe/Zurik\", \"job\": " JOB "}",
     {"timezone"}},
    {"{\"name\": \"n\", \"cron\": \"0 2 * * *\"}", {"job"}},
    {"{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"job\": []}", {"job"}},
    {"{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"job\": {\"source\": {\"format\": \"csv\","
     " \"path\": \"u.csv\"}, \"target\": {}}}",
     {"job.target.table"}},
    {"{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"job\": {\"source\": {\"format\": \"csv\","
     " \"path\": \"u.csv\"}, \"target\": {\"table\": \"users\"}, \"priority\": 11}}",
     {"job.priority"}},
    {"{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"job\": {\"source\": {\"format\": \"csv\","
     " \"path\": \"u-{day}.csv\"}, \"target\": {\"table\": \"users\"}}}",
     {"job.source.path"}},
    {"{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"job\": {\"request_id\": \"k\", \"source\":"
     " {\"format\": \"csv\", \"path\": \"u.csv\"}, \"target\": {\"table\": \"users\"}}}",
     {"job.request_id"}},
    {"{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"job\": {\"scheduled_at\": "
     "\"2030-01-01T00:00:00Z\", \"source\": {\"format\": \"csv\", \"path\": \"u.csv\"},"
     " \"target\": {\"table\": \"users\"}}}",
     {"job.scheduled_at"}},
    {"{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"misfire\": \"later\", \"job\": " JOB "}",
     {"misfire"}},
    {"{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"overlap\": \"wait\", \"job\": " JOB "}",
     {"overlap"}},
    {"{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"catch_up_max\": 0, \"job\": " JOB "}",
     {"catch_up_max"}},
    {"{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"catch_up_max\": 1001, \"job\": " JOB "}",
     {"catch_up_max"}},
    {"{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"enabled\": \"yes\", \"job\": " JOB "}",
     {"enabled"}},
    {"{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"colour\": \"red\", \"job\": " JOB "}",
     {"colour"}},
    {"{\"name\": \"n\", \"cron\": \"0 2 * * *\", \"job\": {\"source\": {\"format\": \"csv\","
     " \"path\": \"u.csv\"}, \"target\": {\"table\": \"users\"}, \"colour\": 1}}",
     {"job.colour"}},
    {"{\"name\": \"\", \"cron\": \"bad\", \"timezone\": \"Nowhere/X\", \"job\": 1}",
     {"name", "cron", "timezone", "job"}},
};

static void test_bad_bodies_name_their_fields(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(bad_cases); i++) {
        json_t *body = load(bad_cases[i].body);
        struct schedule_spec spec;
        struct iq_error err = {0};
        int rc = schedule_spec_parse(body, NULL, &spec, &err);
        if (rc != IQ_E_INVALID)
            fail_msg("case %zu: rc %d, want invalid: %s", i, rc, bad_cases[i].body);
        size_t want = 0;
        while (want < 4 && bad_cases[i].fields[want])
            want++;
        for (size_t k = 0; k < want; k++) {
            bool found = false;
            for (size_t j = 0; j < err.field_count; j++)
                found = found || strcmp(err.fields[j].field, bad_cases[i].fields[k]) == 0;
            if (!found)
                fail_msg("case %zu: no error on %s (first: %s)", i, bad_cases[i].fields[k],
                         err.field_count ? err.fields[0].field : "none");
        }
        for (size_t j = 0; j < err.field_count; j++) {
            bool expected = false;
            for (size_t k = 0; k < want; k++)
                expected = expected || strcmp(err.fields[j].field, bad_cases[i].fields[k]) == 0;
            if (!expected)
                fail_msg("case %zu: unexpected error on %s: %s", i, err.fields[j].field,
                         err.fields[j].message);
        }
        schedule_spec_clear(&spec);
        json_decref(body);
        iq_error_clear(&err);
    }
}

static void test_job_spec_expands_path_on_the_zone_clock(void **state)
{
    (void)state;
    json_t *job = load(JOB);
    struct job_spec *spec = NULL;
    struct iq_error err = {0};
    int64_t fire = 0;
    assert_int_equal(time_parse_rfc3339("2026-11-30T23:30:00Z", &fire), 0);
    assert_int_equal(schedule_job_spec(job, "Europe/Zurich", fire, NULL, &spec, &err), 0);
    assert_string_equal(spec->source.path, "u-20261201.csv"); /* 00:30 CET */
    job_spec_free(spec);
    assert_int_equal(schedule_job_spec(job, "UTC", fire, NULL, &spec, &err), 0);
    assert_string_equal(spec->source.path, "u-20261130.csv");
    assert_int_equal(spec->resource_count, 1);
    assert_string_equal(spec->resources[0].name, "table:users");
    job_spec_free(spec);
    json_decref(job);
    iq_error_clear(&err);
}

static void test_next_run(void **state)
{
    (void)state;
    int64_t after = 0, next = 0, want = 0;
    struct iq_error err = {0};
    assert_int_equal(time_parse_rfc3339("2026-03-28T12:00:00Z", &after), 0);
    assert_int_equal(schedule_next_run("30 2 * * *", "Europe/Zurich", after, &next, &err), 0);
    assert_int_equal(time_parse_rfc3339("2026-03-29T01:00:00Z", &want), 0); /* DST gap: 03:00 */
    assert_int_equal(next, want);
    /* A one-off: its time, then none. */
    assert_int_equal(schedule_next_run("2026-04-01T00:00:00Z", "UTC", after, &next, &err), 0);
    assert_int_equal(time_parse_rfc3339("2026-04-01T00:00:00Z", &want), 0);
    assert_int_equal(next, want);
    assert_int_equal(schedule_next_run("2026-03-01T00:00:00Z", "UTC", after, &next, &err), 0);
    assert_int_equal(next, 0);
    assert_int_equal(schedule_next_run("bad", "UTC", after, &next, &err), IQ_E_INVALID);
    assert_string_equal(err.fields[0].field, "cron");
    iq_error_clear(&err);
    assert_int_equal(schedule_next_run("@daily", "Mars/Olympus", after, &next, &err), IQ_E_INVALID);
    assert_string_equal(err.fields[0].field, "timezone");
    iq_error_clear(&err);
}

static void test_json_of_a_schedule(void **state)
{
    (void)state;
    struct schedule s = {.id = "01900000-0000-7000-8000-000000000001",
                         .misfire = SCHEDULE_MISFIRE_CATCH_UP,
                         .overlap = SCHEDULE_OVERLAP_ALLOW,
                         .catch_up_max = 5,
                         .enabled = true,
                         .next_run_at_ms = 1893456000000,
                         .run_count = 3,
                         .success_count = 2,
                         .failure_count = 1};
    s.name = strdup("n");
    s.cron = strdup("@daily");
    s.timezone = strdup("UTC");
    s.job = load(JOB);
    json_t *json = schedule_to_json(&s);
    assert_non_null(json);
    assert_string_equal(json_string_value(json_object_get(json, "misfire")), "catch_up");
    assert_string_equal(json_string_value(json_object_get(json, "overlap")), "allow");
    assert_int_equal(json_integer_value(json_object_get(json, "catch_up_max")), 5);
    assert_string_equal(json_string_value(json_object_get(json, "next_run_at")),
                        "2030-01-01T00:00:00.000Z");
    assert_true(json_is_null(json_object_get(json, "last_run_at")));
    assert_true(json_is_null(json_object_get(json, "last_status")));
    assert_true(json_is_null(json_object_get(json, "last_job_id")));
    assert_int_equal(json_integer_value(json_object_get(json, "failure_count")), 1);
    assert_int_equal(json_object_size(json), 19);
    json_decref(json);
    schedule_clear(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_fields),
        cmocka_unit_test(test_bad_bodies_name_their_fields),
        cmocka_unit_test(test_job_spec_expands_path_on_the_zone_clock),
        cmocka_unit_test(test_next_run),
        cmocka_unit_test(test_json_of_a_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
