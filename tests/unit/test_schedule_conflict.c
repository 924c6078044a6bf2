/*
 * test_schedule_conflict.c - conflict warnings between schedules
 * (src/core/schedule_conflict.c): a table of pairs (cron, zone, duration,
 * resources on each side) with the warning expected or not and its first
 * overlap; each other schedule warned about once; the schedule itself
 * skipped; the fire window's bounds (7 days, SCHEDULE_CONFLICT_MAX_FIRES);
 * the message and the JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/schedule_conflict.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define MIN_MS INT64_C(60000)
/* Every case starts here: 2026-12-07T00:00:00Z, a Monday. */
#define FROM_MS INT64_C(1796601600000)

/* One side of a case. */
struct side {
    const char *cron;
    const char *zone;
    int64_t duration_ms;
    const char *resources; /* "table:users!,x" - '!' after a name: exclusive, else shared */
};

/* A schedule built for the check (storage for what it borrows). */
struct built {
    int64_t *fires;
    struct job_resource resources[4];
    char names[4][64];
    struct conflict_schedule s;
};

static void build(struct built *b, const char *id, const char *name, const struct side *side)
{
    memset(b, 0, sizeof(*b));
    struct cron_expr expr;
    struct cron_zone *zone = NULL;
    struct iq_error err = {0};
    assert_int_equal(cron_parse(side->cron, &expr, &err), 0);
    assert_int_equal(cron_zone_open(side->zone, &zone, &err), 0);
    b->fires = calloc(SCHEDULE_CONFLICT_MAX_FIRES, sizeof(*b->fires));
    assert_non_null(b->fires);
    size_t count = 0;
    assert_int_equal(schedule_fire_window(&expr, zone, FROM_MS, b->fires, &count, &err), 0);
    cron_zone_free(zone);
    size_t n = 0;
    const char *p = side->resources;
    while (p && *p && n < 4) {
        size_t len = strcspn(p, ",");
        snprintf(b->names[n], sizeof(b->names[n]), "%.*s", (int)len, p);
        size_t name_len = strlen(b->names[n]);
        bool exclusive = name_len > 0 && b->names[n][name_len - 1] == '!';
        if (exclusive)
            b->names[n][name_len - 1] = '\0';
        b->resources[n] =
            (struct job_resource){b->names[n], exclusive ? LOCK_EXCLUSIVE : LOCK_SHARED};
        n++;
        p += len + (p[len] == ',');
    }
    b->s = (struct conflict_schedule){.id = id,
                                      .name = name,
                                      .cron = side->cron,
                                      .timezone = side->zone,
                                      .fire_ms = b->fires,
                                      .fire_count = count,
                                      .duration_ms = side->duration_ms,
                                      .duration_is_p50 = true,
                                      .resources = b->resources,
                                      .resource_count = n};
}

static void built_clear(struct built *b)
{
    free(b->fires);
}

struct conflict_case {
    const char *what;
    struct side self;
    struct side other;
    const char *first_overlap; /* NULL: no warning */
    const char *resource;
};

static const struct conflict_case cases[] = {
    {"same time, same table",
     {"0 2 * * *", "UTC", 10 * MIN_MS, "table:users!"},
     {"0 2 * * *", "UTC", 14 * MIN_MS, "table:users!"},
     "2026-12-07T02:00:00.000Z",
     "table:users"},
    {"other still running when self starts",
     {"10 2 * * *", "UTC", 5 * MIN_MS, "table:users!"},
     {"0 2 * * *", "UTC", 14 * MIN_MS, "table:users!"},
     "2026-12-07T02:10:00.000Z",
     "table:users"},
    {"other ended just before (windows touch)",
     {"14 2 * * *", "UTC", 5 * MIN_MS, "table:users!"},
     {"0 2 * * *", "UTC", 14 * MIN_MS, "table:users!"},
     NULL,
     NULL},
    {"self still running when other starts",
     {"0 2 * * *", "UTC", 30 * MIN_MS, "table:users!"},
     {"20 2 * * *", "UTC", MIN_MS, "table:users!"},
     "2026-12-07T02:20:00.000Z",
     "table:users"},
    {"different tables",
     {"0 2 * * *", "UTC", 10 * MIN_MS, "table:users!"},
     {"0 2 * * *", "UTC", 10 * MIN_MS, "table:teams!"},
     NULL,
     NULL},
    {"shared and shared",
     {"0 2 * * *", "UTC", 10 * MIN_MS, "table:users!,api:crm"},
     {"0 2 * * *", "UTC", 10 * MIN_MS, "table:teams!,api:crm"},
     NULL,
     NULL},
    {"exclusive and shared",
     {"0 2 * * *", "UTC", 10 * MIN_MS, "table:users!,api:crm!"},
     {"0 2 * * *", "UTC", 10 * MIN_MS, "table:teams!,api:crm"},
     "2026-12-07T02:00:00.000Z",
     "api:crm"},
    {"shared and exclusive on the other's target",
     {"0 2 * * *", "UTC", 10 * MIN_MS, "table:teams!,table:users"},
     {"5 2 * * *", "UTC", 10 * MIN_MS, "table:users!"},
     "2026-12-07T02:05:00.000Z",
     "table:users"},
    {"same local time, zones an hour apart",
     {"0 2 * * *", "Europe/Zurich", 30 * MIN_MS, "table:users!"},
     {"0 1 * * *", "UTC", 30 * MIN_MS, "table:users!"},
     "2026-12-07T01:00:00.000Z",
     "table:users"},
    {"weekly against daily, first overlap on Sunday",
     {"0 3 * * 0", "UTC", 60 * MIN_MS, "table:users!"},
     {"30 3 * * *", "UTC", 10 * MIN_MS, "table:users!"},
     "2026-12-13T03:30:00.000Z",
     "table:users"},
    {"hourly against a long nightly",
     {"0 * * * *", "UTC", MIN_MS, "table:users!"},
     {"30 23 * * *", "UTC", 45 * MIN_MS, "table:users!"},
     "2026-12-08T00:00:00.000Z",
     "table:users"},
    {"beyond 7 days: no warning",
     {"0 0 1 1 *", "UTC", 60 * MIN_MS, "table:users!"},
     {"0 0 1 1 *", "UTC", 60 * MIN_MS, "table:users!"},
     NULL,
     NULL},
    {"one-off inside the window",
     {"2026-12-09T12:00:00Z", "UTC", 10 * MIN_MS, "table:users!"},
     {"*/30 * * * *", "UTC", 5 * MIN_MS, "table:users!"},
     "2026-12-09T12:00:00.000Z",
     "table:users"},
    {"one-off that passed: no fires, no warning",
     {"2026-12-01T12:00:00Z", "UTC", 10 * MIN_MS, "table:users!"},
     {"* * * * *", "UTC", 5 * MIN_MS, "table:users!"},
     NULL,
     NULL},
};

static void test_pairs(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(cases); i++) {
        struct built self, other;
        build(&self, "01900000-0000-7000-8000-000000000001", "self", &cases[i].self);
        build(&other, "01900000-0000-7000-8000-000000000002", "nightly users", &cases[i].other);
        struct conflict_list list;
        struct iq_error err = {0};
        assert_int_equal(schedule_conflicts_find(&self.s, &other.s, 1, &list, &err), 0);
        if (!cases[i].first_overlap) {
            if (list.count != 0)
                fail_msg("%s: unexpected warning %s", cases[i].what, list.items[0].message);
        } else {
            if (list.count != 1)
                fail_msg("%s: no warning", cases[i].what);
            char at[TIME_RFC3339_LEN];
            time_format_rfc3339(list.items[0].first_overlap_ms, at);
            if (strcmp(at, cases[i].first_overlap) != 0)
                fail_msg("%s: first overlap %s, want %s", cases[i].what, at,
                         cases[i].first_overlap);
            assert_string_equal(list.items[0].resource, cases[i].resource);
            assert_string_equal(list.items[0].schedule_name, "nightly users");
        }
        schedule_conflicts_clear(&list);
        built_clear(&self);
        built_clear(&other);
    }
}

static void test_message_and_json(void **state)
{
    (void)state;
    static const struct side self_side = {"0 2 * * *", "UTC", 10 * MIN_MS, "table:users!"};
    static const struct side other_side = {"0 2 * * *", "Europe/Zurich", 14 * MIN_MS,
                                           "table:users!"};
    struct built self, other;
    build(&self, "01900000-0000-7000-8000-000000000001", "self", &self_side);
    build(&other, "01900000-0000-7000-8000-000000000002", "nightly users", &other_side);
    other.s.duration_is_p50 = true;
    self.s.duration_is_p50 = false;
    struct conflict_list list;
    struct iq_error err = {0};
    assert_int_equal(schedule_conflicts_find(&self.s, &other.s, 1, &list, &err), 0);
    assert_int_equal(list.count, 0);
    /* Zurich's 02:00 is 01:00Z and holds until 01:14Z: no overlap with 02:00Z... */
    schedule_conflicts_clear(&list);
    other.s.duration_ms = 70 * MIN_MS; /* ...unless it runs 70 minutes. */
    assert_int_equal(schedule_conflicts_find(&self.s, &other.s, 1, &list, &err), 0);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.items[0].message,
                        "fires `0 2 * * *` (UTC, timeout 10 min), while `nightly users` "
                        "(`0 2 * * *` Europe/Zurich, p50 70 min) holds `table:users`: first "
                        "overlap at 2026-12-07T02:00:00.000Z");
    json_t *json = schedule_conflicts_to_json(&list);
    assert_int_equal(json_array_size(json), 1);
    json_t *w = json_array_get(json, 0);
    assert_string_equal(json_string_value(json_object_get(w, "schedule_id")),
                        "01900000-0000-7000-8000-000000000002");
    assert_string_equal(json_string_value(json_object_get(w, "schedule_name")), "nightly users");
    assert_string_equal(json_string_value(json_object_get(w, "resource")), "table:users");
    assert_string_equal(json_string_value(json_object_get(w, "first_overlap")),
                        "2026-12-07T02:00:00.000Z");
    assert_non_null(json_object_get(w, "message"));
    json_decref(json);
    schedule_conflicts_clear(&list);
    built_clear(&self);
    built_clear(&other);
}

static void test_itself_skipped_each_other_once(void **state)
{
    (void)state;
    static const struct side side = {"*/5 * * * *", "UTC", 10 * MIN_MS, "table:users!,x!"};
    struct built self, others[3];
    build(&self, "01900000-0000-7000-8000-000000000001", "self", &side);
    build(&others[0], "01900000-0000-7000-8000-000000000001", "self (stored)", &side);
    build(&others[1], "01900000-0000-7000-8000-000000000002", "b", &side);
    build(&others[2], "01900000-0000-7000-8000-000000000003", "c", &side);
    struct conflict_schedule list_in[3] = {others[0].s, others[1].s, others[2].s};
    struct conflict_list list;
    struct iq_error err = {0};
    assert_int_equal(schedule_conflicts_find(&self.s, list_in, 3, &list, &err), 0);
    assert_int_equal(list.count, 2); /* b and c, once each, on the first resource */
    assert_string_equal(list.items[0].schedule_name, "b");
    assert_string_equal(list.items[0].resource, "table:users");
    assert_string_equal(list.items[1].schedule_name, "c");
    schedule_conflicts_clear(&list);
    built_clear(&self);
    for (int i = 0; i < 3; i++)
        built_clear(&others[i]);
}

static void test_fire_window_bounds(void **state)
{
    (void)state;
    struct cron_expr expr;
    struct cron_zone *zone = NULL;
    struct iq_error err = {0};
    int64_t *fires = calloc(SCHEDULE_CONFLICT_MAX_FIRES, sizeof(*fires));
    size_t count = 0;
    assert_int_equal(cron_zone_open("UTC", &zone, &err), 0);
    /* Every 5 minutes for 7 days is exactly the cap. */
    assert_int_equal(cron_parse("*/5 * * * *", &expr, &err), 0);
    assert_int_equal(schedule_fire_window(&expr, zone, FROM_MS, fires, &count, &err), 0);
    assert_int_equal(count, SCHEDULE_CONFLICT_MAX_FIRES);
    assert_int_equal(fires[0], FROM_MS + 5 * MIN_MS);
    assert_int_equal(fires[count - 1], FROM_MS + SCHEDULE_CONFLICT_WINDOW_MS);
    /* Every second: cut at the cap, not 604,800 times. */
    assert_int_equal(cron_parse("* * * * * *", &expr, &err), 0);
    assert_int_equal(schedule_fire_window(&expr, zone, FROM_MS, fires, &count, &err), 0);
    assert_int_equal(count, SCHEDULE_CONFLICT_MAX_FIRES);
    /* Daily: 7 in the window. */
    assert_int_equal(cron_parse("0 2 * * *", &expr, &err), 0);
    assert_int_equal(schedule_fire_window(&expr, zone, FROM_MS, fires, &count, &err), 0);
    assert_int_equal(count, 7);
    cron_zone_free(zone);
    free(fires);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_message_and_json),
        cmocka_unit_test(test_itself_skipped_each_other_once),
        cmocka_unit_test(test_fire_window_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
