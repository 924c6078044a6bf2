/*
 * test_cron.c - core/cron.h: the parser (valid expressions with their next
 * fire times, every error with its field and position), time zones and
 * DST in both directions, one-off times, the placeholders, and two
 * property tests (1,000 random expressions in UTC, 600 around DST changes)
 * comparing cron_next_after with a brute-force oracle written here (its
 * own calendar arithmetic; ICU only for UTC offsets). The random sequence
 * is fixed, so every run checks the same expressions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/cron.h"
#include "core/error.h"
#include "core/timeutil.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_WANT 8

static int64_t ms_of(const char *text)
{
    int64_t ms = 0;
    if (time_parse_rfc3339(text, &ms) != 0)
        fail_msg("bad time in the test: %s", text);
    return ms;
}

/* ---- valid expressions and their next fire times ------------------------- */

/* Expected times are written on the zone's clocks, with its offset: the
 * test checks both the instant and how the zone reads it. */
struct next_case {
    const char *expr;
    const char *zone;
    const char *after;
    const char *want[MAX_WANT]; /* NULL-terminated; none: no fire time at all */
};

#define A0 "2026-01-01T00:00:00Z" /* a Thursday */
#define ZRH "Europe/Zurich"
#define NYC "America/New_York"

static const struct next_case next_cases[] = {
    /* fields, lists, ranges, steps */
    {"* * * * *", "UTC", A0, {"2026-01-01T00:01:00+00:00", "2026-01-01T00:02:00+00:00"}},
    {"0 * * * *", "UTC", A0, {"2026-01-01T01:00:00+00:00", "2026-01-01T02:00:00+00:00"}},
    {"*/15 * * * *", "UTC", "2026-01-01T00:07:00Z",
     {"2026-01-01T00:15:00+00:00", "2026-01-01T00:30:00+00:00", "2026-01-01T00:45:00+00:00",
      "2026-01-01T01:00:00+00:00"}},
    {"1-30/5 * * * *", "UTC", "2026-01-01T00:27:00Z",
     {"2026-01-01T01:01:00+00:00", "2026-01-01T01:06:00+00:00"}},
    {"5/15 * * * *", "UTC", A0,
     {"2026-01-01T00:05:00+00:00", "2026-01-01T00:20:00+00:00", "2026-01-01T00:35:00+00:00",
      "2026-01-01T00:50:00+00:00", "2026-01-01T01:05:00+00:00"}},
    {"0 9-17/4 * * *", "UTC", A0,
     {"2026-01-01T09:00:00+00:00", "2026-01-01T13:00:00+00:00", "2026-01-01T17:00:00+00:00",
      "2026-01-02T09:00:00+00:00"}},
    {"15,45 10 12 * * *", "UTC", A0,
     {"2026-01-01T12:10:15+00:00", "2026-01-01T12:10:45+00:00", "2026-01-02T12:10:15+00:00"}},
    {"  0\t0  * *   *  ", "UTC", A0, {"2026-01-02T00:00:00+00:00"}},
    {"0 0 1 jan-dec/3 *", "UTC", A0,
     {"2026-04-01T00:00:00+00:00", "2026-07-01T00:00:00+00:00", "2026-10-01T00:00:00+00:00",
      "2027-01-01T00:00:00+00:00"}},
    {"0 0 31 12 *", "UTC", A0, {"2026-12-31T00:00:00+00:00", "2027-12-31T00:00:00+00:00"}},
    {"0 0 1 * *", "UTC", A0, {"2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"}},
    /* names, Sunday as 0 or 7 */
    {"30 8 * * mon-fri", "UTC", A0,
     {"2026-01-01T08:30:00+00:00", "2026-01-02T08:30:00+00:00", "2026-01-05T08:30:00+00:00"}},
    {"0 0 * * Mon-FRI", "UTC", A0,
     {"2026-01-02T00:00:00+00:00", "2026-01-05T00:00:00+00:00"}},
    {"0 0 * * SUN", "UTC", A0, {"2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"}},
    {"0 0 * * 7", "UTC", A0, {"2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"}},
    {"0 0 * * 0", "UTC", A0, {"2026-01-04T00:00:00+00:00"}},
    {"0 0 * * 5-7", "UTC", A0,
     {"2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00",
      "2026-01-09T00:00:00+00:00"}},
    {"0 0 * * 6-7", "UTC", A0,
     {"2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00", "2026-01-10T00:00:00+00:00"}},
    {"0 0 * * mon-sun", "UTC", A0,
     {"2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00"}},
    {"0 0 * * 1/2", "UTC", A0, /* 1-7/2: Mon Wed Fri Sun */
     {"2026-01-02T00:00:00+00:00", "2026-01-04T00:00:00+00:00", "2026-01-05T00:00:00+00:00",
      "2026-01-07T00:00:00+00:00"}},
    {"0 0 * * */2", "UTC", A0, /* Sun Tue Thu Sat */
     {"2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00", "2026-01-06T00:00:00+00:00",
      "2026-01-08T00:00:00+00:00"}},
    {"0 0 1 jan *", "UTC", A0, {"2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"}},
    {"0 0 1 JAN,jul *", "UTC", A0, {"2026-07-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"}},
    {"0 12 1 feb-apr *", "UTC", A0,
     {"2026-02-01T12:00:00+00:00", "2026-03-01T12:00:00+00:00", "2026-04-01T12:00:00+00:00",
      "2027-02-01T12:00:00+00:00"}},
    {"0 30 9 * * MON", "UTC", A0, {"2026-01-05T09:30:00+00:00", "2026-01-12T09:30:00+00:00"}},
    /* L, month ends, leap years */
    {"0 0 L * *", "UTC", A0,
     {"2026-01-31T00:00:00+00:00", "2026-02-28T00:00:00+00:00", "2026-03-31T00:00:00+00:00",
      "2026-04-30T00:00:00+00:00"}},
    {"0 0 L 2 *", "UTC", "2027-01-01T00:00:00Z",
     {"2027-02-28T00:00:00+00:00", "2028-02-29T00:00:00+00:00", "2029-02-28T00:00:00+00:00"}},
    {"0 0 l 2 *", "UTC", "2027-03-01T00:00:00Z", {"2028-02-29T00:00:00+00:00"}},
    {"0 0 1,L * *", "UTC", A0,
     {"2026-01-31T00:00:00+00:00", "2026-02-01T00:00:00+00:00", "2026-02-28T00:00:00+00:00",
      "2026-03-01T00:00:00+00:00"}},
    {"0 0 31 * *", "UTC", A0,
     {"2026-01-31T00:00:00+00:00", "2026-03-31T00:00:00+00:00", "2026-05-31T00:00:00+00:00",
      "2026-07-31T00:00:00+00:00", "2026-08-31T00:00:00+00:00", "2026-10-31T00:00:00+00:00"}},
    {"0 0 30 * *", "UTC", A0,
     {"2026-01-30T00:00:00+00:00", "2026-03-30T00:00:00+00:00", "2026-04-30T00:00:00+00:00"}},
    {"0 0 29 2 *", "UTC", A0, {"2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"}},
    {"0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", {"2104-02-29T00:00:00+00:00"}},
    /* the day-of-month / day-of-week rule: OR when both are restricted */
    {"0 0 13 * 5", "UTC", A0,
     {"2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00", "2026-01-13T00:00:00+00:00",
      "2026-01-16T00:00:00+00:00"}},
    {"0 0 1-7 * 1", "UTC", A0,
     {"2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00",
      "2026-01-05T00:00:00+00:00", "2026-01-06T00:00:00+00:00", "2026-01-07T00:00:00+00:00",
      "2026-01-12T00:00:00+00:00"}},
    {"0 0 29 2 1", "UTC", A0, {"2026-02-02T00:00:00+00:00", "2026-02-09T00:00:00+00:00"}},
    {"0 0 L * 5", "UTC", "2026-01-20T00:00:00Z",
     {"2026-01-23T00:00:00+00:00", "2026-01-30T00:00:00+00:00", "2026-01-31T00:00:00+00:00",
      "2026-02-06T00:00:00+00:00"}},
    /* ... and AND when either starts with '*' */
    {"0 0 */2 * 5", "UTC", A0, /* odd days that are Fridays */
     {"2026-01-09T00:00:00+00:00", "2026-01-23T00:00:00+00:00", "2026-02-13T00:00:00+00:00",
      "2026-02-27T00:00:00+00:00"}},
    {"0 0 */28 2 1", "UTC", A0, /* Feb 1 or 29 on a Monday: rare */
     {"2027-02-01T00:00:00+00:00", "2038-02-01T00:00:00+00:00"}},
    /* macros */
    {"@yearly", "UTC", A0, {"2027-01-01T00:00:00+00:00"}},
    {"@annually", "UTC", A0, {"2027-01-01T00:00:00+00:00"}},
    {"@monthly", "UTC", A0, {"2026-02-01T00:00:00+00:00"}},
    {"@weekly", "UTC", A0, {"2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"}},
    {"@daily", "UTC", A0, {"2026-01-02T00:00:00+00:00"}},
    {"@Daily", "UTC", A0, {"2026-01-02T00:00:00+00:00"}},
    {"@midnight", "UTC", A0, {"2026-01-02T00:00:00+00:00"}},
    {" @hourly ", "UTC", A0, {"2026-01-01T01:00:00+00:00", "2026-01-01T02:00:00+00:00"}},
    /* seconds */
    {"*/20 * * * * *", "UTC", A0,
     {"2026-01-01T00:00:20+00:00", "2026-01-01T00:00:40+00:00", "2026-01-01T00:01:00+00:00"}},
    {"30 0 0 * * *", "UTC", A0, {"2026-01-01T00:00:30+00:00", "2026-01-02T00:00:30+00:00"}},
    {"0 0 0 1 1 *", "UTC", A0, {"2027-01-01T00:00:00+00:00"}},
    /* strictly after; year end */
    {"0 0 * * *", "UTC", "2026-01-01T00:00:00.001Z", {"2026-01-02T00:00:00+00:00"}},
    {"0 0 * * *", "UTC", "2026-12-31T23:59:59Z", {"2027-01-01T00:00:00+00:00"}},
    {"59 23 31 12 *", "UTC", "2026-12-31T23:59:00Z", {"2027-12-31T23:59:00+00:00"}},
    {"* * * * * *", "UTC", "2026-12-31T23:59:59.500Z", {"2027-01-01T00:00:00+00:00"}},
    {"0 0 1 1 *", "Pacific/Auckland", "2026-06-01T00:00:00Z", {"2027-01-01T00:00:00+13:00"}},
    {"0 0 1 1 *", "UTC", "9999-06-01T00:00:00Z", {NULL}},
    /* half- and three-quarter-hour offsets */
    {"0 9 * * *", "Asia/Kolkata", A0,
     {"2026-01-01T09:00:00+05:30", "2026-01-02T09:00:00+05:30"}},
    {"*/30 * * * *", "Asia/Kolkata", A0,
     {"2026-01-01T06:00:00+05:30", "2026-01-01T06:30:00+05:30"}},
    {"0 0 * * *", "Asia/Kathmandu", A0, {"2026-01-02T00:00:00+05:45"}},
    {"*/15 * * * *", "Asia/Kathmandu", A0,
     {"2026-01-01T06:00:00+05:45", "2026-01-01T06:15:00+05:45"}},
    {"0 0 1 1 *", "Asia/Kathmandu", A0, {"2027-01-01T00:00:00+05:45"}},
    {"0 12 * * *", "America/St_Johns", A0, {"2026-01-01T12:00:00-03:30"}},
    /* Europe/Zurich, spring forward (2026-03-29 02:00 -> 03:00) */
    {"30 2 * * *", ZRH, "2026-03-27T12:00:00Z",
     {"2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
    {"0 2 * * *", ZRH, "2026-03-28T12:00:00Z",
     {"2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"}},
    {"0 3 * * *", ZRH, "2026-03-28T12:00:00Z",
     {"2026-03-29T03:00:00+02:00", "2026-03-30T03:00:00+02:00"}},
    {"0,30 2,3 * * *", ZRH, "2026-03-29T00:00:00Z", /* 02:00, 02:30 and 03:00: once */
     {"2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00", "2026-03-30T02:00:00+02:00"}},
    {"0 * * * *", ZRH, "2026-03-29T00:30:00Z",
     {"2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"}},
    {"30 * * * *", ZRH, "2026-03-29T00:00:00Z", /* wildcard hours skip 02:30 */
     {"2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00", "2026-03-29T04:30:00+02:00"}},
    /* Europe/Zurich, fall back (2026-10-25 03:00 -> 02:00) */
    {"30 2 * * *", ZRH, "2026-10-23T12:00:00Z",
     {"2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
    {"30 2 * * *", ZRH, "2026-10-25T00:45:00Z", {"2026-10-26T02:30:00+01:00"}},
    {"0 * * * *", ZRH, "2026-10-24T23:30:00Z", /* wildcard hours: both passes */
     {"2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"}},
    {"*/30 * * * *", ZRH, "2026-10-25T00:10:00Z",
     {"2026-10-25T02:30:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T02:30:00+01:00",
      "2026-10-25T03:00:00+01:00"}},
    /* America/New_York, spring forward (2026-03-08 02:00 -> 03:00) */
    {"30 2 * * *", NYC, "2026-03-07T12:00:00Z",
     {"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
    {"*/15 * * * *", NYC, "2026-03-08T06:20:00Z",
     {"2026-03-08T01:30:00-05:00", "2026-03-08T01:45:00-05:00", "2026-03-08T03:00:00-04:00",
      "2026-03-08T03:15:00-04:00"}},
    {"*/15 2 * * *", NYC, "2026-03-08T06:00:00Z",
     {"2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00", "2026-03-09T02:15:00-04:00"}},
    {"@hourly", NYC, "2026-03-08T06:30:00Z",
     {"2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"}},
    /* America/New_York, fall back (2026-11-01 02:00 -> 01:00) */
    {"30 1 * * *", NYC, "2026-10-31T12:00:00Z",
     {"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
    {"30 1 * * *", NYC, "2026-11-01T06:10:00Z", {"2026-11-02T01:30:00-05:00"}},
    {"*/15 * * * *", NYC, "2026-11-01T05:20:00Z",
     {"2026-11-01T01:30:00-04:00", "2026-11-01T01:45:00-04:00", "2026-11-01T01:00:00-05:00",
      "2026-11-01T01:15:00-05:00", "2026-11-01T01:30:00-05:00", "2026-11-01T01:45:00-05:00",
      "2026-11-01T02:00:00-05:00"}},
    {"*/15 1 * * *", NYC, "2026-11-01T04:50:00Z", /* fixed hour: the first pass only */
     {"2026-11-01T01:00:00-04:00", "2026-11-01T01:15:00-04:00", "2026-11-01T01:30:00-04:00",
      "2026-11-01T01:45:00-04:00", "2026-11-02T01:00:00-05:00"}},
    {"0 * * * *", NYC, "2026-11-01T04:30:00Z",
     {"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"}},
    {"0 */2 * * *", NYC, "2026-11-01T03:30:00Z",
     {"2026-11-01T00:00:00-04:00", "2026-11-01T02:00:00-05:00"}},
    /* a 30-minute DST shift (Lord Howe Island: 02:00 -> 02:30) */
    {"15 2 * * *", "Australia/Lord_Howe", "2026-10-02T12:00:00Z",
     {"2026-10-03T02:15:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"}},
    /* the southern hemisphere (Sydney: 2026-10-04 02:00 -> 03:00) */
    {"30 2 * * *", "Australia/Sydney", "2026-10-03T00:00:00Z",
     {"2026-10-04T03:00:00+11:00", "2026-10-05T02:30:00+11:00"}},
    /* one-off */
    {"2026-12-01T02:00:00+01:00", "UTC", A0, {"2026-12-01T01:00:00+00:00"}},
    {"2026-12-01T02:00:00+01:00", ZRH, A0, {"2026-12-01T02:00:00+01:00"}},
    {"2026-12-01T02:00:00Z", "UTC", "2026-12-01T02:00:00Z", {NULL}},
};

static void check_next_case(const struct next_case *c)
{
    struct iq_error err = {0};
    struct cron_expr expr;
    struct cron_zone *zone = NULL;
    if (cron_parse(c->expr, &expr, &err) != 0)
        fail_msg("\"%s\": %s", c->expr, iq_error_message(&err));
    if (cron_zone_open(c->zone, &zone, &err) != 0)
        fail_msg("%s: %s", c->zone, iq_error_message(&err));
    int64_t at = ms_of(c->after);
    size_t i = 0;
    for (; i < MAX_WANT && c->want[i]; i++) {
        int64_t next = 0;
        if (cron_next_after(&expr, at, zone, &next, &err) != 0)
            fail_msg("\"%s\" in %s after %s: %s", c->expr, c->zone, c->after,
                     iq_error_message(&err));
        struct cron_local_time local;
        char text[CRON_LOCAL_RFC3339_LEN];
        assert_int_equal(cron_zone_local_time(zone, next, &local, &err), 0);
        cron_local_format_rfc3339(&local, text);
        if (next != ms_of(c->want[i]) || strcmp(text, c->want[i]) != 0)
            fail_msg("\"%s\" in %s after %s: time %zu is %s, want %s", c->expr, c->zone,
                     c->after, i + 1, text, c->want[i]);
        at = next;
    }
    if (i == 0) {
        int64_t next = 0;
        assert_int_equal(cron_next_after(&expr, at, zone, &next, &err), IQ_E_NOT_FOUND);
        assert_non_null(strstr(iq_error_message(&err), "no fire time after"));
    }
    cron_zone_free(zone);
    iq_error_clear(&err);
}

static void test_next_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(next_cases); i++)
        check_next_case(&next_cases[i]);
}

/* ---- errors --------------------------------------------------------------- */

struct error_case {
    const char *expr;
    const char *message;
};

#define FIELDS_HINT "cron takes 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)"
#define NEVER "never occurs in the chosen months (the schedule would never fire)"
#define ONE_OFF                                                                               \
    "not a valid RFC 3339 time from 1970 on (a one-off schedule is like 2026-12-01T02:00:00Z " \
    "or 2026-12-01T02:00:00+01:00) at position 1"
#define MACROS "(use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)"

static const struct error_case error_cases[] = {
    {"", "cron: empty expression at position 1"},
    {"   ", "cron: empty expression at position 1"},
    {"* * * *", "cron: found 4 fields, but " FIELDS_HINT " at position 8"},
    {"*", "cron: found 1 field, but " FIELDS_HINT " at position 2"},
    {"* * * * * * *", "cron: too many fields: " FIELDS_HINT " at position 13"},
    {"0 0 * * * * 2026", "cron: too many fields: " FIELDS_HINT " at position 13"},
    {"60 * * * *", "cron: minute: value 60 out of range 0-59 at position 1"},
    {"*/15 24 * * *", "cron: hour: value 24 out of range 0-23 at position 6"},
    {"  */15 24 * * *", "cron: hour: value 24 out of range 0-23 at position 8"},
    {"0 0 0 * *", "cron: day-of-month: value 0 out of range 1-31 at position 5"},
    {"0 0 32 * *", "cron: day-of-month: value 32 out of range 1-31 at position 5"},
    {"0 0 1-40 * *", "cron: day-of-month: value 40 out of range 1-31 at position 7"},
    {"0 0 * 13 *", "cron: month: value 13 out of range 1-12 at position 7"},
    {"0 0 * 0 *", "cron: month: value 0 out of range 1-12 at position 7"},
    {"0 0 * * 8", "cron: day-of-week: value 8 out of range 0-7 at position 9"},
    {"0 0 * * * 2026", "cron: day-of-week: value 2026 out of range 0-7 at position 11"},
    {"0 0 0 0 0 0", "cron: day-of-month: value 0 out of range 1-31 at position 7"},
    {"60 0 0 * * *", "cron: second: value 60 out of range 0-59 at position 1"},
    {"99999999999999999999 * * * *",
     "cron: minute: value 99999999999999999999 out of range 0-59 at position 1"},
    {"0 0 * foo *", "cron: month: unknown name \"foo\" (use JAN-DEC) at position 7"},
    {"0 0 * JAN-FOO *", "cron: month: unknown name \"FOO\" (use JAN-DEC) at position 11"},
    {"0 0 * * sunday", "cron: day-of-week: unknown name \"sunday\" (use SUN-SAT) at position 9"},
    {"0 0 * * jan", "cron: day-of-week: unknown name \"jan\" (use SUN-SAT) at position 9"},
    {"0 0 * * L", "cron: day-of-week: unknown name \"L\" (use SUN-SAT) at position 9"},
    {"a * * * *", "cron: minute: \"a\" is not a number at position 1"},
    {"0 L * * *", "cron: hour: \"L\" is not a number at position 3"},
    {"0 0 mon * *", "cron: day-of-month: \"mon\" is not a number at position 5"},
    {"1-2-3 * * * *", "cron: minute: unexpected '-' at position 4"},
    {"-1 * * * *", "cron: minute: unexpected '-' at position 1"},
    {"*5 * * * *", "cron: minute: unexpected '5' at position 2"},
    {"0 0 * * 5L", "cron: day-of-week: unexpected 'L' at position 10"},
    {"5- * * * *", "cron: minute: a value is missing at position 3"},
    {"0 0 * * mon-", "cron: day-of-week: a value is missing at position 13"},
    {"5-1 * * * *", "cron: minute: range 5-1 runs backwards (list it as two ranges) at position 3"},
    {"0 0 * * fri-mon",
     "cron: day-of-week: range 5-1 runs backwards (list it as two ranges) at position 13"},
    {"*/0 * * * *", "cron: minute: step 0 out of range 1-60 at position 3"},
    {"*/61 * * * *", "cron: minute: step 61 out of range 1-60 at position 3"},
    {"0 0 * * 1-7/0", "cron: day-of-week: step 0 out of range 1-8 at position 13"},
    {"0 */25 * * *", "cron: hour: step 25 out of range 1-24 at position 5"},
    {"*/ * * * *", "cron: minute: a step needs a number after '/' at position 3"},
    {"1,,2 * * * *", "cron: minute: empty list item at position 3"},
    {",1 * * * *", "cron: minute: empty list item at position 1"},
    {"1, * * * *", "cron: minute: empty list item at position 3"},
    {"0 0 ? * *", "cron: unexpected '?' at position 5"},
    {"0 0 * * *\n", "cron: unexpected 0x0A at position 10"},
    {"0 0 L-2 * *",
     "cron: day-of-month: L (the last day) stands alone, not in a range or step at position 5"},
    {"0 0 L/2 * *",
     "cron: day-of-month: L (the last day) stands alone, not in a range or step at position 5"},
    {"@reboot", "cron: unknown macro \"@reboot\" " MACROS " at position 1"},
    {"@every 5m", "cron: unknown macro \"@every\" " MACROS " at position 1"},
    {"@", "cron: unknown macro \"@\" " MACROS " at position 1"},
    {"@daily 0", "cron: a macro stands alone at position 8"},
    {"0 0 30 2 *", "cron: day-of-month: " NEVER " at position 5"},
    {"0 0 31 2 *", "cron: day-of-month: " NEVER " at position 5"},
    {"0 0 30,31 feb *", "cron: day-of-month: " NEVER " at position 5"},
    {"0 0 31 4,6,9,11 *", "cron: day-of-month: " NEVER " at position 5"},
    {"0 0 0 31 apr-jun/2 *", "cron: day-of-month: " NEVER " at position 7"},
    {"2026-13-01T00:00:00Z", "cron: " ONE_OFF},
    {"2026-12-01T02:00:00", "cron: " ONE_OFF},
    {"2026-12-01", "cron: " ONE_OFF},
    {"1969-12-31T23:59:59Z", "cron: " ONE_OFF},
    {"2026-12-01T02:00:00Z 0", "cron: " ONE_OFF},
};

static void test_error_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(error_cases); i++) {
        const struct error_case *c = &error_cases[i];
        struct iq_error err = {0};
        struct cron_expr expr = {.minutes = 42};
        int rc = cron_parse(c->expr, &expr, &err);
        if (rc != IQ_E_INVALID || strcmp(iq_error_message(&err), c->message) != 0)
            fail_msg("\"%s\": rc %d, message\n  %s\nwant\n  %s", c->expr, rc,
                     iq_error_message(&err), c->message);
        /* the same text as a field error on "cron", for the API's 422 */
        assert_int_equal(err.field_count, 1);
        assert_string_equal(err.fields[0].field, "cron");
        assert_string_equal(err.fields[0].message, c->message + strlen("cron: "));
        assert_int_equal(expr.minutes, 42); /* untouched on failure */
        iq_error_clear(&err);
    }
}

static void test_parse_limits(void **state)
{
    (void)state;
    struct iq_error err = {0};
    struct cron_expr expr;
    char text[CRON_MAX_EXPR_LEN + 2];
    /* exactly the limit: fine (blanks pad it); one byte more: refused */
    memset(text, ' ', sizeof(text));
    memcpy(text, "0 0 * * *", 9);
    text[CRON_MAX_EXPR_LEN] = '\0';
    assert_int_equal(cron_parse(text, &expr, &err), 0);
    text[CRON_MAX_EXPR_LEN] = ' ';
    text[CRON_MAX_EXPR_LEN + 1] = '\0';
    assert_int_equal(cron_parse(text, &expr, &err), IQ_E_INVALID);
    assert_string_equal(iq_error_message(&err), "cron: longer than 256 bytes at position 257");
    iq_error_clear(&err);
    /* a long list within the limit: every minute listed */
    size_t used = 0;
    for (int m = 0; m < 60; m++)
        used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%d", m ? "," : "", m);
    snprintf(text + used, sizeof(text) - used, " * * * *");
    assert_int_equal(cron_parse(text, &expr, &err), 0);
    assert_true(expr.minutes == (((uint64_t)1 << 60) - 1));
    assert_int_equal(cron_parse(NULL, &expr, &err), IQ_E_INVALID);
    assert_string_equal(iq_error_message(&err), "cron: is missing");
    iq_error_clear(&err);
}

/* What the parser stores: the bit sets and the flags the rules depend on. */
static void test_parsed_fields(void **state)
{
    (void)state;
    struct cron_expr e;
    assert_int_equal(cron_parse("0 0 * * 7", &e, NULL), 0);
    assert_int_equal(e.days_of_week, 1);
    assert_int_equal(cron_parse("0 0 * * 0,7", &e, NULL), 0);
    assert_int_equal(e.days_of_week, 1);
    assert_int_equal(cron_parse("0 0 * * *", &e, NULL), 0);
    assert_int_equal(e.days_of_week, 0x7f);
    assert_true(e.day_of_month_star && e.day_of_week_star && !e.hour_star && !e.has_seconds);
    assert_true(e.seconds == 1);
    assert_int_equal(cron_parse("0 0 */2 * 5", &e, NULL), 0);
    assert_true(e.day_of_month_star && !e.day_of_week_star);
    assert_int_equal(cron_parse("0 0 13 * fri", &e, NULL), 0);
    assert_true(!e.day_of_month_star && !e.day_of_week_star);
    assert_int_equal(e.days_of_week, 1 << 5);
    assert_int_equal(cron_parse("0 0 L * *", &e, NULL), 0);
    assert_true(e.last_day_of_month && e.days_of_month == 0);
    assert_int_equal(cron_parse("@hourly", &e, NULL), 0);
    assert_true(e.hour_star);
    assert_int_equal(cron_parse("@weekly", &e, NULL), 0);
    assert_int_equal(e.days_of_week, 1);
    assert_int_equal(cron_parse("1 2 3 4 5 6", &e, NULL), 0);
    assert_true(e.has_seconds && e.seconds == 2 && e.minutes == 4 && e.hours == 8);
    assert_true(e.days_of_month == 16 && e.months == 32 && e.days_of_week == 64);
    assert_int_equal(cron_parse("0 0 1 jan-mar,OCT *", &e, NULL), 0);
    assert_int_equal(e.months, (1 << 1) | (1 << 2) | (1 << 3) | (1 << 10));
    assert_int_equal(cron_parse("2026-12-01T02:00:00Z", &e, NULL), 0);
    assert_true(e.is_once && e.once_ms == ms_of("2026-12-01T02:00:00Z"));
    /* cron_matches_local and cron_next_local work on local times */
    assert_int_equal(cron_parse("30 2 * * *", &e, NULL), 0);
    int64_t wall = ms_of("2026-03-29T02:30:00Z") / 1000, next = 0;
    assert_true(cron_matches_local(&e, wall));
    assert_false(cron_matches_local(&e, wall + 60));
    assert_int_equal(cron_next_local(&e, wall, &next), 0);
    assert_true(next == wall);
    assert_int_equal(cron_next_local(&e, wall + 1, &next), 0);
    assert_true(next == wall + 86400);
    assert_int_equal(cron_parse("2026-12-01T02:00:00Z", &e, NULL), 0);
    assert_int_equal(cron_next_local(&e, wall, &next), IQ_E_INVALID);
    assert_false(cron_matches_local(&e, wall));
}

/* ---- zones ---------------------------------------------------------------- */

static void test_zones(void **state)
{
    (void)state;
    static const char *const good[] = {"UTC", "Etc/UTC", "Europe/Zurich", "America/New_York",
                                       "US/Eastern", "Asia/Kolkata", "Asia/Kathmandu",
                                       "America/Argentina/Buenos_Aires"};
    static const char *const bad[] = {"Nowhere/Land", "europe/zurich", "GMT+05:00",
                                      "Europe/Zurich ", "../etc/passwd", "Europe/Zürich",
                                      "Mars/Olympus"};
    struct iq_error err = {0};
    struct cron_zone *zone = NULL;
    for (size_t i = 0; i < COUNT_OF(good); i++) {
        if (cron_zone_open(good[i], &zone, &err) != 0)
            fail_msg("%s: %s", good[i], iq_error_message(&err));
        assert_string_equal(cron_zone_name(zone), good[i]);
        cron_zone_free(zone);
        assert_int_equal(cron_zone_check(good[i], &err), 0);
    }
    for (size_t i = 0; i < COUNT_OF(bad); i++) {
        zone = NULL;
        assert_int_equal(cron_zone_open(bad[i], &zone, &err), IQ_E_INVALID);
        assert_null(zone);
        char want[160];
        snprintf(want, sizeof(want),
                 "timezone: unknown time zone \"%s\": use an IANA name such as Europe/Zurich "
                 "or UTC",
                 bad[i]);
        assert_string_equal(iq_error_message(&err), want);
        assert_int_equal(err.field_count, 1);
        assert_string_equal(err.fields[0].field, "timezone");
        assert_string_equal(err.fields[0].message, want + strlen("timezone: "));
        iq_error_clear(&err);
        assert_int_equal(cron_zone_check(bad[i], &err), IQ_E_INVALID);
        iq_error_clear(&err);
    }
    char long_name[CRON_MAX_ZONE_LEN + 2];
    memset(long_name, 'A', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(cron_zone_open(long_name, &zone, &err), IQ_E_INVALID);
    assert_string_equal(iq_error_message(&err), "timezone: longer than 64 bytes");
    iq_error_clear(&err);
    /* no zone: UTC */
    assert_int_equal(cron_zone_open(NULL, &zone, &err), 0);
    assert_string_equal(cron_zone_name(zone), "UTC");
    cron_zone_free(zone);
    assert_int_equal(cron_zone_open("", &zone, &err), 0);
    assert_string_equal(cron_zone_name(zone), "UTC");
    cron_zone_free(zone);
    assert_int_equal(cron_zone_check(NULL, &err), 0);
    cron_zone_free(NULL);
}

static void test_local_time(void **state)
{
    (void)state;
    struct iq_error err = {0};
    struct cron_zone *zone = NULL;
    struct cron_local_time local;
    char text[CRON_LOCAL_RFC3339_LEN];
    assert_int_equal(cron_zone_open("Asia/Kathmandu", &zone, &err), 0);
    assert_int_equal(cron_zone_local_time(zone, ms_of("2026-12-01T18:14:59.999Z"), &local, &err),
                     0);
    assert_string_equal(cron_local_format_rfc3339(&local, text), "2026-12-01T23:59:59+05:45");
    assert_int_equal(local.weekday, 2); /* a Tuesday */
    assert_int_equal(local.offset_s, 5 * 3600 + 45 * 60);
    assert_int_equal(cron_zone_local_time(zone, -1, &local, &err), IQ_E_INVALID);
    iq_error_clear(&err);
    /* the last UTC instant is already the year 10000 here */
    assert_int_equal(cron_zone_local_time(zone, ms_of("9999-12-31T23:59:59Z"), &local, &err),
                     IQ_E_INVALID);
    iq_error_clear(&err);
    cron_zone_free(zone);
    assert_int_equal(cron_zone_open("America/St_Johns", &zone, &err), 0);
    assert_int_equal(cron_zone_local_time(zone, 0, &local, &err), 0);
    assert_string_equal(cron_local_format_rfc3339(&local, text), "1969-12-31T20:30:00-03:30");
    assert_int_equal(local.weekday, 3);
    cron_zone_free(zone);
}

static void test_next_times(void **state)
{
    (void)state;
    struct iq_error err = {0};
    struct cron_expr expr;
    struct cron_zone *zone = NULL;
    int64_t times[CRON_MAX_COUNT];
    size_t found = 0;
    assert_int_equal(cron_zone_open("UTC", &zone, &err), 0);
    assert_int_equal(cron_parse("*/10 * * * * *", &expr, &err), 0);
    assert_int_equal(cron_next_times(&expr, ms_of(A0), zone, CRON_MAX_COUNT, times, &found, &err),
                     0);
    assert_int_equal(found, CRON_MAX_COUNT);
    for (size_t i = 0; i < found; i++)
        assert_true(times[i] == ms_of(A0) + (int64_t)(i + 1) * 10000);
    assert_int_equal(cron_next_times(&expr, ms_of(A0), zone, 0, times, &found, &err),
                     IQ_E_INVALID);
    assert_string_equal(iq_error_message(&err), "count: 0 out of range 1-100");
    assert_string_equal(err.fields[0].field, "count");
    iq_error_clear(&err);
    assert_int_equal(cron_next_times(&expr, ms_of(A0), zone, CRON_MAX_COUNT + 1, times, &found,
                                     &err),
                     IQ_E_INVALID);
    iq_error_clear(&err);
    /* the schedule ends: fewer times, no error */
    assert_int_equal(cron_parse("0 0 1 1 *", &expr, &err), 0);
    assert_int_equal(cron_next_times(&expr, ms_of("9995-06-01T00:00:00Z"), zone, 10, times,
                                     &found, &err),
                     0);
    assert_int_equal(found, 4);
    assert_true(times[3] == ms_of("9999-01-01T00:00:00Z"));
    assert_null(err.message);
    assert_int_equal(cron_parse("2026-12-01T02:00:00Z", &expr, &err), 0);
    assert_int_equal(cron_next_times(&expr, ms_of(A0), zone, 5, times, &found, &err), 0);
    assert_int_equal(found, 1);
    /* the start time has a range */
    int64_t next;
    assert_int_equal(cron_next_after(&expr, -1, zone, &next, &err), IQ_E_INVALID);
    iq_error_clear(&err);
    assert_int_equal(cron_next_after(&expr, ms_of("9999-12-31T23:59:59.999Z") + 1, zone, &next,
                                     &err),
                     IQ_E_INVALID);
    iq_error_clear(&err);
    assert_int_equal(cron_parse("* * * * * *", &expr, &err), 0);
    assert_int_equal(cron_next_after(&expr, ms_of("9999-12-31T23:59:59Z"), zone, &next, &err),
                     IQ_E_NOT_FOUND);
    iq_error_clear(&err);
    cron_zone_free(zone);
}

static void test_preview(void **state)
{
    (void)state;
    struct iq_error err = {0};
    int64_t times[3];
    size_t found = 0;
    assert_int_equal(cron_preview("30 2 * * *", ZRH, ms_of("2026-03-28T12:00:00Z"), 3, times,
                                  &found, &err),
                     0);
    assert_int_equal(found, 3);
    assert_true(times[0] == ms_of("2026-03-29T01:00:00Z"));
    assert_int_equal(cron_preview("30 2 * * *", "Europe/Zurik", 0, 3, times, &found, &err),
                     IQ_E_INVALID);
    assert_string_equal(err.fields[0].field, "timezone");
    iq_error_clear(&err);
    assert_int_equal(cron_preview("30 25 * * *", ZRH, 0, 3, times, &found, &err), IQ_E_INVALID);
    assert_string_equal(err.fields[0].field, "cron");
    iq_error_clear(&err);
    assert_int_equal(cron_preview("30 2 * * *", NULL, 0, 0, times, &found, &err), IQ_E_INVALID);
    assert_string_equal(err.fields[0].field, "count");
    iq_error_clear(&err);
}

/* ---- placeholders --------------------------------------------------------- */

static void test_template(void **state)
{
    (void)state;
    struct iq_error err = {0};
    struct cron_zone *zone = NULL;
    struct cron_local_time fire;
    char *out = NULL;
    /* 01:00 UTC is 02:00 in Zurich: the placeholders use the zone's clocks */
    assert_int_equal(cron_zone_open(ZRH, &zone, &err), 0);
    assert_int_equal(cron_zone_local_time(zone, ms_of("2026-12-01T01:00:00Z"), &fire, &err), 0);
    cron_zone_free(zone);
    static const struct {
        const char *template_text, *want;
    } cases[] = {
        {"users-{date}.csv", "users-20261201.csv"},
        {"drop/{date}/{time}.json", "drop/20261201/020000.json"},
        {"x-{datetime}", "x-20261201T020000"},
        {"{date}{date}", "2026120120261201"},
        {"{{date}", "{date}"},
        {"a}b{{", "a}b{"},
        {"plain.csv", "plain.csv"},
        {"", ""},
    };
    for (size_t i = 0; i < COUNT_OF(cases); i++) {
        if (cron_template_expand(cases[i].template_text, &fire, &out, &err) != 0)
            fail_msg("%s: %s", cases[i].template_text, iq_error_message(&err));
        assert_string_equal(out, cases[i].want);
        free(out);
    }
    static const struct {
        const char *template_text, *message;
    } bad[] = {
        {"users-{day}.csv", "unknown placeholder {day} at position 7: use {date}, {time} or "
                            "{datetime}, and {{ for a literal '{'"},
        {"{DATE}", "unknown placeholder {DATE} at position 1: use {date}, {time} or {datetime}, "
                   "and {{ for a literal '{'"},
        {"users-{dat", "'{' at position 7 starts no placeholder: use {date}, {time} or "
                       "{datetime}, and {{ for a literal '{'"},
    };
    for (size_t i = 0; i < COUNT_OF(bad); i++) {
        out = NULL;
        assert_int_equal(cron_template_expand(bad[i].template_text, &fire, &out, &err),
                         IQ_E_INVALID);
        assert_null(out);
        assert_string_equal(iq_error_message(&err), bad[i].message);
        iq_error_clear(&err);
    }
    /* bounds: the input, and what it expands to */
    char *text = malloc(CRON_MAX_TEMPLATE_OUT + 2);
    assert_non_null(text);
    memset(text, 'a', CRON_MAX_TEMPLATE_OUT);
    text[CRON_MAX_TEMPLATE_OUT] = '\0';
    assert_int_equal(cron_template_expand(text, &fire, &out, &err), 0);
    assert_int_equal(strlen(out), CRON_MAX_TEMPLATE_OUT);
    free(out);
    text[CRON_MAX_TEMPLATE_OUT] = 'a';
    text[CRON_MAX_TEMPLATE_OUT + 1] = '\0';
    assert_int_equal(cron_template_expand(text, &fire, &out, &err), IQ_E_INVALID);
    assert_string_equal(iq_error_message(&err), "longer than 4096 bytes");
    iq_error_clear(&err);
    text[0] = '\0';
    for (int i = 0; i < 300; i++) /* 3000 bytes in, 4500 out */
        strcat(text, "{datetime}");
    assert_int_equal(cron_template_expand(text, &fire, &out, &err), IQ_E_INVALID);
    assert_string_equal(iq_error_message(&err), "expands to more than 4096 bytes");
    iq_error_clear(&err);
    free(text);
}

/* ---- the oracle ------------------------------------------------------------
 * Its own calendar (day counting from 1970, Sakamoto's weekday), the
 * expression's meaning taken from how the generator wrote it, not from the
 * parser; ICU only tells the zone's UTC offset.
 */

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW };

struct truth {
    uint64_t bits[6];
    bool star[6];
    bool last;
    bool six;
};

static int oracle_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static int oracle_weekday(int y, int m, int d)
{
    static const int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (m < 3)
        y -= 1;
    return (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
}

struct civil {
    int y, m, d;
};

/* Day n since 1970-01-01 (n >= -1), by counting. Cached: callers move slowly. */
static struct civil oracle_civil(int64_t n)
{
    static int64_t cached_n = INT64_MIN;
    static struct civil cached;
    if (n == cached_n)
        return cached;
    struct civil c = {1969, 12, 31};
    int64_t left = n + 1;
    while (left > 0) {
        int year_days = 365 + (oracle_days_in_month(c.y + 1, 2) == 29);
        if (c.m == 12 && c.d == 31 && left >= year_days) {
            c.y++;
            left -= year_days;
            continue;
        }
        c.d++;
        if (c.d > oracle_days_in_month(c.y, c.m)) {
            c.d = 1;
            c.m = c.m == 12 ? 1 : c.m + 1;
            c.y += c.m == 1;
        }
        left--;
    }
    cached_n = n;
    cached = c;
    return c;
}

static bool oracle_day(const struct truth *t, struct civil c)
{
    if (!(t->bits[F_MON] >> c.m & 1))
        return false;
    bool dom = (t->bits[F_DOM] >> c.d & 1) ||
               (t->last && c.d == oracle_days_in_month(c.y, c.m));
    bool dow = t->bits[F_DOW] >> oracle_weekday(c.y, c.m, c.d) & 1;
    if (!t->star[F_DOM] && !t->star[F_DOW])
        return dom || dow;
    return dom && dow;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static bool oracle_matches(const struct truth *t, int64_t wall_s)
{
    int64_t day = floor_div(wall_s, 86400), rem = wall_s - day * 86400;
    return (t->bits[F_SEC] >> (rem % 60) & 1) && (t->bits[F_MIN] >> (rem / 60 % 60) & 1) &&
           (t->bits[F_HOUR] >> (rem / 3600) & 1) && oracle_day(t, oracle_civil(day));
}

/*
 * oracle_utc - every fire time t (seconds) with start_s < t <= end_s in
 * UTC, in order, at most cap: each hour, minute and second of every
 * matching day, tried in turn.
 */
static size_t oracle_utc(const struct truth *t, int64_t start_s, int64_t end_s, int64_t *out,
                         size_t cap)
{
    size_t n = 0;
    for (int64_t day = floor_div(start_s, 86400); day * 86400 <= end_s; day++) {
        if (!oracle_day(t, oracle_civil(day)))
            continue;
        for (int h = 0; h < 24; h++) {
            for (int m = 0; m < 60 && (t->bits[F_HOUR] >> h & 1); m++) {
                for (int sec = 0; sec < 60 && (t->bits[F_MIN] >> m & 1); sec++) {
                    int64_t s = day * 86400 + h * 3600 + m * 60 + sec;
                    if (!(t->bits[F_SEC] >> sec & 1) || s <= start_s)
                        continue;
                    if (s > end_s)
                        return n;
                    out[n++] = s;
                    if (n == cap)
                        return n;
                }
            }
        }
    }
    return n;
}

/* The zone's offset in seconds at utc_s, from the test's own calendar. */
static int64_t oracle_offset(UCalendar *cal, int64_t utc_s)
{
    UErrorCode status = U_ZERO_ERROR;
    ucal_setMillis(cal, (UDate)utc_s * 1000.0, &status);
    int32_t total = ucal_get(cal, UCAL_ZONE_OFFSET, &status) + ucal_get(cal, UCAL_DST_OFFSET, &status);
    assert_true(U_SUCCESS(status));
    return total / 1000;
}

/*
 * oracle_zone - fire times (start_s, end_s] of a five-field expression in
 * a zone whose offsets change on whole hours (checked), stepping minute by
 * minute through UTC from a day before start_s. Wildcard hours: a minute
 * fires when its local time matches. Fixed hours: when some matching
 * local minute lies after every local time shown before it and at or
 * before its own (so a skipped time fires at the end of the gap, a
 * repeated one on its first pass only).
 */
static size_t oracle_zone(const struct truth *t, UCalendar *cal, int64_t start_s, int64_t end_s,
                          int64_t *out, size_t cap)
{
    size_t n = 0;
    int64_t scan = (floor_div(start_s, 3600) - 24) * 3600;
    int64_t offset = 0, latest = INT64_MIN;
    for (int64_t s = scan; s <= end_s; s += 60) {
        if (s % 3600 == 0) {
            offset = oracle_offset(cal, s);
            assert_true(oracle_offset(cal, s + 3540) == offset); /* whole-hour changes */
        }
        int64_t wall = s + offset;
        bool fires = false;
        if (t->star[F_HOUR]) {
            fires = oracle_matches(t, wall);
        } else {
            int64_t from = latest == INT64_MIN ? wall : latest + 60;
            for (int64_t w = from; w <= wall && !fires; w += 60)
                fires = oracle_matches(t, w);
        }
        if (latest == INT64_MIN || wall > latest)
            latest = wall;
        if (fires && s > start_s) {
            out[n++] = s;
            if (n == cap)
                return n;
        }
    }
    return n;
}

/* ---- the generator ---------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int rnd_in(int low, int high)
{
    return low + (int)(rnd() % (uint64_t)(high - low + 1));
}

static const int field_min[] = {0, 0, 0, 1, 1, 0};
static const int field_max[] = {59, 59, 23, 31, 12, 7};

/* A value as text: a number, or for months and weekdays often a name in
 * random case (Sunday as 0, 7 or SUN) when may_name. */
static void put_value(int f, int v, bool may_name, char *buf, size_t size)
{
    static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                         "jul", "aug", "sep", "oct", "nov", "dec"};
    static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    const char *name = f == F_MON ? months[v - 1] : f == F_DOW ? days[v] : NULL;
    if (!name || !may_name || rnd() % 2) {
        snprintf(buf, size, "%d", v);
        return;
    }
    char word[4];
    for (int i = 0; i < 3; i++)
        word[i] = rnd() % 2 ? (char)(name[i] - 'a' + 'A') : name[i];
    word[3] = '\0';
    snprintf(buf, size, "%s", word);
}

static void set_range(uint64_t *bits, int f, int low, int high, int step)
{
    for (int v = low; v <= high; v += step)
        *bits |= (uint64_t)1 << (f == F_DOW ? v % 7 : v);
}

/* One list item (not '*') into buf, its values into *bits. */
static void gen_item(int f, char *buf, size_t size, uint64_t *bits)
{
    int min = field_min[f], max = field_max[f], span = max - min + 1;
    int a = rnd_in(min, max), b = rnd_in(a, max), step = rnd_in(1, span / 2 + 1);
    char va[8], vb[8];
    /* SUN is 0 where a range starts ("sun/2" is 0-7/2) and 7 where it ends
     * ("fri-sun"): a 7 is written as a number at the start, and 0-7 as such */
    bool whole_week = f == F_DOW && a == 0 && b == 7;
    put_value(f, a, !whole_week && !(f == F_DOW && a == 7), va, sizeof(va));
    put_value(f, b, !whole_week, vb, sizeof(vb));
    switch (rnd() % 4) {
    case 0:
        snprintf(buf, size, "%s", va);
        set_range(bits, f, a, a, 1);
        break;
    case 1:
        snprintf(buf, size, "%s-%s", va, vb);
        set_range(bits, f, a, b, 1);
        break;
    case 2:
        snprintf(buf, size, "%s-%s/%d", va, vb, step);
        set_range(bits, f, a, b, step);
        break;
    default:
        snprintf(buf, size, "%s/%d", va, step);
        set_range(bits, f, a, max, step);
        break;
    }
}

/* One field into buf and t; wide makes '*' and frequent values likelier. */
static void gen_field(int f, struct truth *t, char *buf, size_t size, bool wide)
{
    int min = field_min[f], max = field_max[f], span = max - min + 1;
    int form = (int)(rnd() % 10);
    if (wide && form >= 6)
        form = (int)(rnd() % 3);
    t->star[f] = form <= 3;
    t->bits[f] = 0;
    if (form <= 2) {
        snprintf(buf, size, "*");
        set_range(&t->bits[f], f, min, max, 1);
    } else if (form == 3) {
        int step = rnd_in(1, span / 2 + 1);
        snprintf(buf, size, "*/%d", step);
        set_range(&t->bits[f], f, min, max, step);
    } else {
        int items = form <= 6 ? 1 : rnd_in(2, 3);
        size_t used = 0;
        for (int i = 0; i < items; i++) {
            char item[32];
            if (f == F_DOM && rnd() % 8 == 0) {
                snprintf(item, sizeof(item), "L");
                t->last = true;
            } else {
                gen_item(f, item, sizeof(item), &t->bits[f]);
            }
            used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? "," : "", item);
        }
    }
}

/* Hours around the DST changes of the zones tested, with their truth. */
static void gen_dst_hours(struct truth *t, char *buf, size_t size)
{
    static const struct {
        const char *text;
        uint32_t bits;
        bool star;
    } hours[] = {
        {"1", 1u << 1, false},           {"2", 1u << 2, false},
        {"3", 1u << 3, false},           {"0-3", 0xf, false},
        {"1,2", 6, false},               {"2-3", 12, false},
        {"*/2", 0x555555, true},         {"*/3", 0x249249, true},
        {"0-23", 0xffffff, false},       {"1-3/2", (1u << 1) | (1u << 3), false},
    };
    size_t i = rnd() % COUNT_OF(hours);
    snprintf(buf, size, "%s", hours[i].text);
    t->bits[F_HOUR] = hours[i].bits;
    t->star[F_HOUR] = hours[i].star;
}

/*
 * gen_expr - a random valid-looking expression and its meaning. dst: five
 * fields biased towards the small hours and every day.
 */
static void gen_expr(char *text, size_t size, struct truth *t, bool dst)
{
    memset(t, 0, sizeof(*t));
    t->six = !dst && rnd() % 4 == 0;
    char fields[6][96];
    t->bits[F_SEC] = 1;
    for (int f = t->six ? F_SEC : F_MIN; f <= F_DOW; f++) {
        bool wide = dst ? f != F_MIN : f == F_SEC || (t->six && f == F_MIN);
        gen_field(f, t, fields[f], sizeof(fields[f]), wide);
    }
    if (dst && rnd() % 3)
        gen_dst_hours(t, fields[F_HOUR], sizeof(fields[F_HOUR]));
    for (int f = F_DOM; dst && f <= F_DOW; f++) { /* most days, so the change is in */
        if (rnd() % 4) {
            snprintf(fields[f], sizeof(fields[f]), "*");
            t->star[f] = true;
            t->bits[f] = 0;
            set_range(&t->bits[f], f, field_min[f], field_max[f], 1);
            t->last = f == F_DOM ? false : t->last;
        }
    }
    snprintf(text, size, "%s%s%s %s %s %s %s", t->six ? fields[F_SEC] : "", t->six ? " " : "",
             fields[F_MIN], fields[F_HOUR], fields[F_DOM], fields[F_MON], fields[F_DOW]);
}

/* Whether the oracle's meaning ever matches a day (2000..2027 is a full cycle). */
static bool oracle_ever(const struct truth *t)
{
    for (int y = 2000; y <= 2027; y++)
        for (int m = 1; m <= 12; m++)
            for (int d = 1; d <= oracle_days_in_month(y, m); d++)
                if (oracle_day(t, (struct civil){y, m, d}))
                    return true;
    return false;
}

/*
 * compare - cron_next_after from start_s, step by step, against the
 * oracle's list; past the list, the next fire time lies after end_s (or
 * there is none).
 */
static void compare(const char *text, const struct cron_expr *expr, struct cron_zone *zone,
                    int64_t start_s, int64_t end_s, const int64_t *want, size_t count)
{
    struct iq_error err = {0};
    int64_t at = start_s * 1000;
    for (size_t i = 0; i < count; i++) {
        int64_t next = 0;
        if (cron_next_after(expr, at, zone, &next, &err) != 0)
            fail_msg("\"%s\" in %s: %s", text, cron_zone_name(zone), iq_error_message(&err));
        if (next != want[i] * 1000) {
            char a[TIME_RFC3339_LEN], got[TIME_RFC3339_LEN], w[TIME_RFC3339_LEN];
            fail_msg("\"%s\" in %s after %s: fire %zu at %s, the oracle says %s", text,
                     cron_zone_name(zone), time_format_rfc3339(at, a), i + 1,
                     time_format_rfc3339(next, got), time_format_rfc3339(want[i] * 1000, w));
        }
        at = next;
    }
    int64_t next = 0;
    int rc = cron_next_after(expr, at, zone, &next, &err);
    if (rc == 0 && next <= end_s * 1000) {
        char a[TIME_RFC3339_LEN], got[TIME_RFC3339_LEN];
        fail_msg("\"%s\" in %s: fires at %s after %s, which the oracle does not", text,
                 cron_zone_name(zone), time_format_rfc3339(next, got), time_format_rfc3339(at, a));
    }
    /* from instants between fire times too (such as the second pass of a
     * repeated hour), not only from the fire times themselves */
    for (int k = 0; k < 20; k++) {
        int64_t from_ms = (start_s + (int64_t)(rnd() % (uint64_t)(end_s - start_s))) * 1000 +
                          (int64_t)(rnd() % 1000);
        size_t i = 0;
        while (i < count && want[i] * 1000 <= from_ms)
            i++;
        rc = cron_next_after(expr, from_ms, zone, &next, &err);
        bool ok = i < count ? rc == 0 && next == want[i] * 1000
                            : rc == IQ_E_NOT_FOUND || (rc == 0 && next > end_s * 1000);
        if (!ok) {
            char a[TIME_RFC3339_LEN], got[TIME_RFC3339_LEN];
            fail_msg("\"%s\" in %s after %s: rc %d, fire at %s, the oracle says %s", text,
                     cron_zone_name(zone), time_format_rfc3339(from_ms, a), rc,
                     time_format_rfc3339(next, got), i < count ? "the next in its list" : "none");
        }
    }
    iq_error_clear(&err);
}

#define ORACLE_CAP 2000

/* Returns whether text parsed; an expression refused as never firing must
 * never fire by the oracle too. */
static bool parse_generated(const char *text, const struct truth *t, struct cron_expr *expr)
{
    struct iq_error err = {0};
    int rc = cron_parse(text, expr, &err);
    if (rc != 0) {
        if (!strstr(iq_error_message(&err), "never fire") || oracle_ever(t))
            fail_msg("\"%s\": %s", text, iq_error_message(&err));
        iq_error_clear(&err);
        return false;
    }
    return true;
}

/* 1,000 random expressions in UTC, each over a random stretch of 2026-2031. */
static void test_property_utc(void **state)
{
    (void)state;
    struct iq_error err = {0};
    struct cron_zone *zone = NULL;
    assert_int_equal(cron_zone_open("UTC", &zone, &err), 0);
    int64_t want[ORACLE_CAP];
    int checked = 0;
    for (int i = 0; i < 1000; i++) {
        char text[640];
        struct truth t;
        struct cron_expr expr;
        gen_expr(text, sizeof(text), &t, false);
        if (!parse_generated(text, &t, &expr))
            continue;
        int64_t start_s = ms_of("2026-01-01T00:00:00Z") / 1000 + (int64_t)(rnd() % (5 * 365)) * 86400 +
                          (int64_t)(rnd() % 86400);
        int64_t end_s = start_s + (t.six ? 3 : 400) * 86400;
        size_t count = oracle_utc(&t, start_s, end_s, want, 200);
        if (count == 200)
            end_s = want[count - 1];
        compare(text, &expr, zone, start_s, end_s, want, count);
        checked++;
    }
    assert_true(checked > 900);
    cron_zone_free(zone);
}

/* 300 random expressions in each of two zones, from a few hours before one
 * of the DST changes of 2026 and 2027 to a day after it. */
static void test_property_dst(void **state)
{
    (void)state;
    static const struct {
        const char *zone;
        const char *changes[4];
    } zones[] = {
        {ZRH, {"2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z", "2027-03-28T01:00:00Z",
               "2027-10-31T01:00:00Z"}},
        {NYC, {"2026-03-08T07:00:00Z", "2026-11-01T06:00:00Z", "2027-03-14T07:00:00Z",
               "2027-11-07T06:00:00Z"}},
    };
    int64_t want[ORACLE_CAP];
    for (size_t z = 0; z < COUNT_OF(zones); z++) {
        struct iq_error err = {0};
        struct cron_zone *zone = NULL;
        assert_int_equal(cron_zone_open(zones[z].zone, &zone, &err), 0);
        UChar id[64];
        for (size_t k = 0; k <= strlen(zones[z].zone); k++)
            id[k] = (UChar)zones[z].zone[k];
        UErrorCode status = U_ZERO_ERROR;
        UCalendar *cal = ucal_open(id, -1, "en_US_POSIX", UCAL_GREGORIAN, &status);
        assert_true(U_SUCCESS(status));
        for (int i = 0; i < 300; i++) {
            char text[640];
            struct truth t;
            struct cron_expr expr;
            gen_expr(text, sizeof(text), &t, true);
            if (!parse_generated(text, &t, &expr))
                continue;
            assert_true(expr.hour_star == t.star[F_HOUR]);
            int64_t change_s = ms_of(zones[z].changes[rnd() % 4]) / 1000;
            int64_t start_s = change_s - 3600 * rnd_in(1, 5) - rnd_in(0, 3599);
            int64_t end_s = change_s + 26 * 3600;
            size_t count = oracle_zone(&t, cal, start_s, end_s, want, ORACLE_CAP);
            if (count == ORACLE_CAP)
                end_s = want[count - 1];
            compare(text, &expr, zone, start_s, end_s, want, count);
        }
        ucal_close(cal);
        cron_zone_free(zone);
    }
}

/* ---- threads --------------------------------------------------------------- */

struct thread_job {
    int64_t times[CRON_MAX_COUNT];
    size_t found;
    int rc;
};

static void *preview_thread(void *arg)
{
    struct thread_job *job = arg;
    for (int round = 0; round < 20 && job->rc == 0; round++) {
        struct iq_error err = {0};
        job->rc = cron_preview("*/15 * * * *", NYC, ms_of("2026-11-01T04:00:00Z"),
                               CRON_MAX_COUNT, job->times, &job->found, &err);
        iq_error_clear(&err);
    }
    return NULL;
}

/* cron_preview opens its own zone: many threads may call it at once. */
static void test_threads(void **state)
{
    (void)state;
    int64_t want[CRON_MAX_COUNT];
    size_t found = 0;
    assert_int_equal(cron_preview("*/15 * * * *", NYC, ms_of("2026-11-01T04:00:00Z"),
                                  CRON_MAX_COUNT, want, &found, NULL),
                     0);
    struct thread_job jobs[4] = {0};
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, preview_thread, &jobs[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(jobs[i].rc, 0);
        assert_int_equal(jobs[i].found, found);
        assert_memory_equal(jobs[i].times, want, sizeof(want));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_table),   cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_parse_limits), cmocka_unit_test(test_parsed_fields),
        cmocka_unit_test(test_zones),        cmocka_unit_test(test_local_time),
        cmocka_unit_test(test_next_times),   cmocka_unit_test(test_preview),
        cmocka_unit_test(test_template),     cmocka_unit_test(test_property_utc),
        cmocka_unit_test(test_property_dst), cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests_name("cron", tests, NULL, NULL);
}
