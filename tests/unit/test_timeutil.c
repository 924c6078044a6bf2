/* test_timeutil.c - RFC 3339 parsing/formatting and civil-date arithmetic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/timeutil.h"

#include <stdint.h>
#include <string.h>

struct time_case {
    const char *text;
    int ok;
    int64_t ms;
};

static const struct time_case cases[] = {
    {"1970-01-01T00:00:00Z", 1, 0},
    {"1970-01-01T00:00:00.001Z", 1, 1},
    {"2026-11-28T21:31:03.123Z", 1, 1795901463123LL},
    {"2026-11-28T21:31:03.123456Z", 1, 1795901463123LL},
    {"2026-11-28T22:31:03.123+01:00", 1, 1795901463123LL},
    {"2026-11-28 21:31:03.123+00", 1, 1795901463123LL},
    {"2026-11-28t21:31:03.1z", 1, 1795901463100LL},
    {"2026-11-28T16:31:03.123-0500", 1, 1795901463123LL},
    {"2024-02-29T00:00:00Z", 1, 1709164800000LL},
    {"1969-12-31T23:59:59.999Z", 1, -1},
    {"2000-01-01T00:00:60Z", 1, 946684859000LL},
    {"2024-02-30T00:00:00Z", 0, 0},
    {"2023-02-29T00:00:00Z", 0, 0},
    {"2026-13-01T00:00:00Z", 0, 0},
    {"2026-00-01T00:00:00Z", 0, 0},
    {"2026-04-31T00:00:00Z", 0, 0},
    {"2026-01-01T24:00:00Z", 0, 0},
    {"2026-01-01T00:60:00Z", 0, 0},
    {"2026-01-01T00:00:00", 0, 0},
    {"2026-01-01", 0, 0},
    {"2026-01-01T00:00:00.Z", 0, 0},
    {"2026-01-01T00:00:00Zjunk", 0, 0},
    {"2026-01-01T00:00:00+25:00", 0, 0},
    {"26-01-01T00:00:00Z", 0, 0},
    {"", 0, 0},
    {"yesterday", 0, 0},
};

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ms = 12345;
        int rc = time_parse_rfc3339(cases[i].text, &ms);
        if (cases[i].ok) {
            if (rc != 0 || ms != cases[i].ms)
                fail_msg("%s: rc %d ms %lld, want %lld", cases[i].text, rc, (long long)ms,
                         (long long)cases[i].ms);
        } else if (rc != IQ_E_INVALID) {
            fail_msg("%s: accepted, want IQ_E_INVALID", cases[i].text);
        }
    }
    int64_t ms;
    assert_int_equal(time_parse_rfc3339(NULL, &ms), IQ_E_INVALID);
}

static void test_format_round_trip(void **state)
{
    (void)state;
    char buf[TIME_RFC3339_LEN];
    assert_string_equal(time_format_rfc3339(0, buf), "1970-01-01T00:00:00.000Z");
    assert_string_equal(time_format_rfc3339(-1, buf), "1969-12-31T23:59:59.999Z");
    assert_string_equal(time_format_rfc3339(1795901463123LL, buf), "2026-11-28T21:31:03.123Z");
    for (int64_t ms = -86400000LL * 800; ms < 86400000LL * 365 * 600; ms += 86399999LL * 7 + 13) {
        int64_t back;
        assert_int_equal(time_parse_rfc3339(time_format_rfc3339(ms, buf), &back), 0);
        assert_int_equal(back, ms);
    }
}

static void test_calendar(void **state)
{
    (void)state;
    assert_int_equal(time_days_in_month(2024, 2), 29);
    assert_int_equal(time_days_in_month(2023, 2), 28);
    assert_int_equal(time_days_in_month(1900, 2), 28);
    assert_int_equal(time_days_in_month(2000, 2), 29);
    assert_int_equal(time_days_in_month(2026, 4), 30);
    assert_int_equal(time_days_in_month(2026, 13), 0);
    assert_int_equal(time_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(time_days_from_civil(2000, 3, 1), 11017);
    assert_true(time_monotonic_ms() > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_calendar),
    };
    return cmocka_run_group_tests_name("timeutil", tests, NULL, NULL);
}
