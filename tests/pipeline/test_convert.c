/*
 * test_convert.c - table-driven tests of src/pipeline/convert.c: every
 * type's accepted forms and canonical output, the rejects (with their
 * messages), boundaries, the checks, and JSON input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pipeline/convert.h"
#include "pipeline/json_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A column spec with no checks (max_length -1 means none). */
#define SPEC(t, ...) {.name = "col", .type = COLUMN_##t, .max_length = -1, __VA_ARGS__}
/* The same with a max_length. */
#define SPEC_MAX(t, n) {.name = "col", .type = COLUMN_##t, .max_length = (n)}

/*
 * One conversion: input NULL = SQL NULL. Exactly one of expect / reject is
 * meaningful: reject != NULL means the value must be rejected with a
 * message starting with reject; otherwise expect is the canonical text
 * (NULL = SQL NULL).
 */
struct text_case {
    struct column_spec spec;
    const char *input;
    const char *expect;
    const char *reject;
};

static const struct text_case text_cases[] = {
    /* integer */
    {SPEC(INTEGER), "42", "42", NULL},
    {SPEC(INTEGER), "-42", "-42", NULL},
    {SPEC(INTEGER), "+7", "7", NULL},
    {SPEC(INTEGER), "007", "7", NULL},
    {SPEC(INTEGER), "0", "0", NULL},
    {SPEC(INTEGER), "-0", "0", NULL},
    {SPEC(INTEGER), " 42\t", "42", NULL},
    {SPEC(INTEGER), "2147483647", "2147483647", NULL},
    {SPEC(INTEGER), "-2147483648", "-2147483648", NULL},
    {SPEC(INTEGER), "2147483648", NULL, "out of range for integer"},
    {SPEC(INTEGER), "-2147483649", NULL, "out of range for integer"},
    {SPEC(INTEGER), "99999999999999999999", NULL, "out of range for integer"},
    {SPEC(INTEGER), "4.2", NULL, "not an integer"},
    {SPEC(INTEGER), "1e3", NULL, "not an integer"},
    {SPEC(INTEGER), "abc", NULL, "not an integer"},
    {SPEC(INTEGER), "", NULL, "not an integer"},
    {SPEC(INTEGER), "   ", NULL, "not an integer"},
    {SPEC(INTEGER), "12a", NULL, "not an integer"},
    {SPEC(INTEGER), "--1", NULL, "not an integer"},
    {SPEC(INTEGER), "+", NULL, "not an integer"},
    {SPEC(INTEGER), "0x10", NULL, "not an integer"},
    {SPEC(INTEGER), "1 2", NULL, "not an integer"},
    {SPEC(INTEGER), "1,000", NULL, "not an integer"},
    /* bigint */
    {SPEC(BIGINT), "2147483648", "2147483648", NULL},
    {SPEC(BIGINT), "9223372036854775807", "9223372036854775807", NULL},
    {SPEC(BIGINT), "-9223372036854775808", "-9223372036854775808", NULL},
    {SPEC(BIGINT), "9223372036854775808", NULL, "out of range for bigint"},
    {SPEC(BIGINT), "-9223372036854775809", NULL, "out of range for bigint"},
    {SPEC(BIGINT), "00000000000000000000001", "1", NULL},
    {SPEC(BIGINT), "1.0", NULL, "not an integer"},
    /* numeric */
    {SPEC(NUMERIC), "3.14", "3.14", NULL},
    {SPEC(NUMERIC), "-0.5", "-0.5", NULL},
    {SPEC(NUMERIC), ".5", ".5", NULL},
    {SPEC(NUMERIC), "5.", "5.", NULL},
    {SPEC(NUMERIC), "1e10", "1e10", NULL},
    {SPEC(NUMERIC), "1.5E-3", "1.5E-3", NULL},
    {SPEC(NUMERIC), " 2.50 ", "2.50", NULL},
    {SPEC(NUMERIC), "123456789012345678901234567890.123456789", "123456789012345678901234567890.123456789", NULL},
    {SPEC(NUMERIC), "abc", NULL, "not a number"},
    {SPEC(NUMERIC), "1.2.3", NULL, "not a number"},
    {SPEC(NUMERIC), "NaN", NULL, "not a number"},
    {SPEC(NUMERIC), "Infinity", NULL, "not a number"},
    {SPEC(NUMERIC), "e5", NULL, "not a number"},
    {SPEC(NUMERIC), ".", NULL, "not a number"},
    {SPEC(NUMERIC), "1e", NULL, "not a number"},
    {SPEC(NUMERIC), "", NULL, "not a number"},
    {SPEC(NUMERIC), "1e1001", NULL, "out of range for numeric"},
    /* real */
    {SPEC(REAL), "1.5", "1.5", NULL},
    {SPEC(REAL), "-2e-3", "-2e-3", NULL},
    {SPEC(REAL), "1e308", "1e308", NULL},
    {SPEC(REAL), "4.9e-324", "4.9e-324", NULL},
    {SPEC(REAL), "1e309", NULL, "out of range for real"},
    {SPEC(REAL), "-1e309", NULL, "out of range for real"},
    {SPEC(REAL), "1e-400", NULL, "out of range for real"},
    {SPEC(REAL), "nan", NULL, "not a number"},
    {SPEC(REAL), "inf", NULL, "not a number"},
    {SPEC(REAL), "0x1p3", NULL, "not a number"},
    {SPEC(REAL), "4,5", NULL, "not a number"},
    /* boolean */
    {SPEC(BOOLEAN), "true", "true", NULL},
    {SPEC(BOOLEAN), "TRUE", "true", NULL},
    {SPEC(BOOLEAN), "t", "true", NULL},
    {SPEC(BOOLEAN), "T", "true", NULL},
    {SPEC(BOOLEAN), "1", "true", NULL},
    {SPEC(BOOLEAN), "Yes", "true", NULL},
    {SPEC(BOOLEAN), " yes ", "true", NULL},
    {SPEC(BOOLEAN), "false", "false", NULL},
    {SPEC(BOOLEAN), "False", "false", NULL},
    {SPEC(BOOLEAN), "f", "false", NULL},
    {SPEC(BOOLEAN), "0", "false", NULL},
    {SPEC(BOOLEAN), "NO", "false", NULL},
    {SPEC(BOOLEAN), "y", NULL, "not a boolean"},
    {SPEC(BOOLEAN), "2", NULL, "not a boolean"},
    {SPEC(BOOLEAN), "on", NULL, "not a boolean"},
    {SPEC(BOOLEAN), "", NULL, "not a boolean"},
    {SPEC(BOOLEAN), "truee", NULL, "not a boolean"},
    /* date */
    {SPEC(DATE), "2024-02-29", "2024-02-29", NULL},
    {SPEC(DATE), "2023-02-28", "2023-02-28", NULL},
    {SPEC(DATE), "0001-01-01", "0001-01-01", NULL},
    {SPEC(DATE), "9999-12-31", "9999-12-31", NULL},
    {SPEC(DATE), " 2024-02-03 ", "2024-02-03", NULL},
    {SPEC(DATE), "2023-02-29", NULL, "not a calendar date"},
    {SPEC(DATE), "2024-02-30", NULL, "not a calendar date"},
    {SPEC(DATE), "2024-04-31", NULL, "not a calendar date"},
    {SPEC(DATE), "2024-13-01", NULL, "not a calendar date"},
    {SPEC(DATE), "2024-00-10", NULL, "not a calendar date"},
    {SPEC(DATE), "2024-01-00", NULL, "not a calendar date"},
    {SPEC(DATE), "0000-01-01", NULL, "not a calendar date"},
    {SPEC(DATE), "1900-02-29", NULL, "not a calendar date"},
    {SPEC(DATE), "2000-02-29", "2000-02-29", NULL},
    {SPEC(DATE), "2024-2-3", NULL, "not a date"},
    {SPEC(DATE), "2024/02/03", NULL, "not a date"},
    {SPEC(DATE), "20240203", NULL, "not a date"},
    {SPEC(DATE), "2024-02-03T00:00", NULL, "not a date"},
    {SPEC(DATE), "", NULL, "not a date"},
    /* timestamp */
    {SPEC(TIMESTAMP), "2024-02-29 13:45:00", "2024-02-29 13:45:00", NULL},
    {SPEC(TIMESTAMP), "2024-02-29T13:45:07", "2024-02-29 13:45:07", NULL},
    {SPEC(TIMESTAMP), "2024-02-29 13:45", "2024-02-29 13:45:00", NULL},
    {SPEC(TIMESTAMP), "2024-02-29", "2024-02-29 00:00:00", NULL},
    {SPEC(TIMESTAMP), "2024-02-29 13:45:00.5", "2024-02-29 13:45:00.500000", NULL},
    {SPEC(TIMESTAMP), "2024-02-29 13:45:00.000001", "2024-02-29 13:45:00.000001", NULL},
    {SPEC(TIMESTAMP), "2024-02-29 13:45:00.123456789", "2024-02-29 13:45:00.123457", NULL},
    {SPEC(TIMESTAMP), "2024-12-31 23:59:59.9999995", "2025-01-01 00:00:00", NULL},
    {SPEC(TIMESTAMP), "2016-12-31 23:59:60", "2017-01-01 00:00:00", NULL},
    {SPEC(TIMESTAMP), "2024-02-29 24:00:00", NULL, "not a valid time of day"},
    {SPEC(TIMESTAMP), "2024-02-29 13:60:00", NULL, "not a valid time of day"},
    {SPEC(TIMESTAMP), "2024-02-30 10:00:00", NULL, "not a calendar date"},
    {SPEC(TIMESTAMP), "2024-02-29 13:45:00Z", NULL, "has a time zone offset"},
    {SPEC(TIMESTAMP), "2024-02-29 13:45:00+02:00", NULL, "has a time zone offset"},
    {SPEC(TIMESTAMP), "2024-02-29 13:45:00.", NULL, "not a timestamp"},
    {SPEC(TIMESTAMP), "2024-02-29 1:45:00", NULL, "not a timestamp"},
    {SPEC(TIMESTAMP), "2024-02-29T", NULL, "not a timestamp"},
    {SPEC(TIMESTAMP), "2024-02-29 13:45:00.1234567890", NULL, "not a timestamp"},
    {SPEC(TIMESTAMP), "yesterday", NULL, "not a timestamp"},
    /* timestamptz: normalised to UTC */
    {SPEC(TIMESTAMPTZ), "2024-02-29T13:45:00Z", "2024-02-29T13:45:00Z", NULL},
    {SPEC(TIMESTAMPTZ), "2024-02-29 13:45:00+02:00", "2024-02-29T11:45:00Z", NULL},
    {SPEC(TIMESTAMPTZ), "2024-02-29T01:00:00+02", "2024-02-28T23:00:00Z", NULL},
    {SPEC(TIMESTAMPTZ), "2024-03-01T01:00:00+0130", "2024-02-29T23:30:00Z", NULL},
    {SPEC(TIMESTAMPTZ), "2024-02-29T23:00:00-05:00", "2024-03-01T04:00:00Z", NULL},
    {SPEC(TIMESTAMPTZ), "2023-02-28T23:00:00-05:00", "2023-03-01T04:00:00Z", NULL},
    {SPEC(TIMESTAMPTZ), "2024-12-31T23:30:00-01:00", "2025-01-01T00:30:00Z", NULL},
    {SPEC(TIMESTAMPTZ), "2024-02-29 13:45:00", "2024-02-29T13:45:00Z", NULL},
    {SPEC(TIMESTAMPTZ), "2024-02-29T13:45:00.25z", "2024-02-29T13:45:00.250000Z", NULL},
    {SPEC(TIMESTAMPTZ), "2024-02-29T13:45:00 +01:00", "2024-02-29T12:45:00Z", NULL},
    {SPEC(TIMESTAMPTZ), "2024-02-29T13:45:00+24:00", NULL, "not a timestamp"},
    {SPEC(TIMESTAMPTZ), "2024-02-29T13:45:00+02:3", NULL, "not a timestamp"},
    {SPEC(TIMESTAMPTZ), "0001-01-01T00:30:00+01:00", NULL, "out of range for timestamp"},
    {SPEC(TIMESTAMPTZ), "9999-12-31T23:30:00-01:00", NULL, "out of range for timestamp"},
    {SPEC(TIMESTAMPTZ), "2023-02-29T10:00:00Z", NULL, "not a calendar date"},
    /* uuid */
    {SPEC(UUID), "0192f3a4-1b2c-7d8e-9f00-112233445566", "0192f3a4-1b2c-7d8e-9f00-112233445566", NULL},
    {SPEC(UUID), "0192F3A4-1B2C-7D8E-9F00-1122334455AA", "0192f3a4-1b2c-7d8e-9f00-1122334455aa", NULL},
    {SPEC(UUID), "0192f3a41b2c7d8e9f00112233445566", "0192f3a4-1b2c-7d8e-9f00-112233445566", NULL},
    {SPEC(UUID), "{0192f3a4-1b2c-7d8e-9f00-112233445566}", "0192f3a4-1b2c-7d8e-9f00-112233445566", NULL},
    {SPEC(UUID), "0192f3a4-1b2c-7d8e-9f00-11223344556", NULL, "not a UUID"},
    {SPEC(UUID), "g192f3a4-1b2c-7d8e-9f00-112233445566", NULL, "not a UUID"},
    {SPEC(UUID), "0192f3a41-b2c-7d8e-9f00-112233445566", NULL, "not a UUID"},
    {SPEC(UUID), "", NULL, "not a UUID"},
    /* json */
    {SPEC(JSON), "{\"a\": 1, \"b\": [1, 2]}", "{\"a\":1,\"b\":[1,2]}", NULL},
    {SPEC(JSON), "  [1, 2]  ", "[1,2]", NULL},
    {SPEC(JSON), "\"x\"", "\"x\"", NULL},
    {SPEC(JSON), "42", "42", NULL},
    {SPEC(JSON), "null", "null", NULL},
    {SPEC(JSON), "{\"z\":1,\"a\":2}", "{\"z\":1,\"a\":2}", NULL},
    {SPEC(JSON), "{bad}", NULL, "not valid JSON"},
    {SPEC(JSON), "{\"a\":1,\"a\":2}", NULL, "not valid JSON"},
    {SPEC(JSON), "", NULL, "not valid JSON"},
    /* text: as given, never trimmed */
    {SPEC(TEXT), "hello", "hello", NULL},
    {SPEC(TEXT), "", "", NULL},
    {SPEC(TEXT), " padded ", " padded ", NULL},
    {SPEC(TEXT), "h\xc3\xa9llo", "h\xc3\xa9llo", NULL},
    /* NULL and required */
    {SPEC(TEXT), NULL, NULL, NULL},
    {SPEC(INTEGER), NULL, NULL, NULL},
    {SPEC(TEXT, .required = true), NULL, NULL, "required"},
    {SPEC(DATE, .required = true), NULL, NULL, "required"},
    {SPEC(TEXT, .required = true), "", "", NULL},
    /* max_length counts characters */
    {SPEC_MAX(TEXT, 5), "hello", "hello", NULL},
    {SPEC_MAX(TEXT, 5), "h\xc3\xa9llo", "h\xc3\xa9llo", NULL},
    {SPEC_MAX(TEXT, 5), "hello!", NULL, "longer than max_length 5"},
    {SPEC_MAX(TEXT, 0), "", "", NULL},
    {SPEC_MAX(TEXT, 0), "x", NULL, "longer than max_length 0"},
    /* pattern (POSIX ERE) */
    {SPEC(TEXT, .pattern = "^[^@]+@[^@]+$"), "a@b.example", "a@b.example", NULL},
    {SPEC(TEXT, .pattern = "^[^@]+@[^@]+$"), "no-at-sign", NULL, "does not match pattern"},
    {SPEC(TEXT, .pattern = "^[^@]+@[^@]+$"), "a@b@c", NULL, "does not match pattern"},
    {SPEC(TEXT, .pattern = "^.{3}$"), "h\xc3\xa9h", "h\xc3\xa9h", NULL},
    {SPEC(TEXT, .pattern = "^(ab)+$"), "ababab", "ababab", NULL},
    {SPEC(TEXT, .pattern = "^.{3}$"), "abc", "abc", NULL},
    {SPEC(TEXT, .pattern = "^.{3}$"), "abcd", NULL, "does not match pattern ^.{3}$"},
    {SPEC(TEXT, .pattern = "^.{3}$"), "h\xc3\xa9", NULL, "does not match pattern"},
    {SPEC(TEXT, .pattern = "^[^@]+@[^@]+$"), "j\xc3\xa9@b", "j\xc3\xa9@b", NULL},
    {SPEC(TEXT, .pattern = "^\xc3\xa9"), "\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9", NULL},
    {SPEC(TEXT, .pattern = "^\xc3\xa9"), "ete", NULL, "does not match pattern"},
    {SPEC(TEXT, .pattern = "^[[:alpha:]]+$"), "abc", "abc", NULL},
    {SPEC(TEXT, .pattern = "^[[:alpha:]]+$"), "\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9", NULL},
    {SPEC(TEXT, .pattern = "^[[:alpha:]]+$"), "ab1", NULL, "does not match pattern"},
    {SPEC(INTEGER, .pattern = "^[1-9]"), "007", "7", NULL},
    /* min / max on numbers */
    {SPEC(INTEGER, .has_min = true, .min = 0), "0", "0", NULL},
    {SPEC(INTEGER, .has_min = true, .min = 0), "-1", NULL, "below min 0"},
    {SPEC(INTEGER, .has_max = true, .max = 10), "10", "10", NULL},
    {SPEC(INTEGER, .has_max = true, .max = 10), "11", NULL, "above max 10"},
    {SPEC(REAL, .has_min = true, .min = 0.5), "0.25", NULL, "below min 0.5"},
    {SPEC(NUMERIC, .has_max = true, .max = 99.99), "100.00", NULL, "above max 99.99"},
    {SPEC(NUMERIC, .has_max = true, .max = 99.99), "99.99", "99.99", NULL},
    {SPEC(BIGINT, .has_max = true, .max = 9007199254740992.0), "9223372036854775807", NULL, "above max 9007199254740992"},
    {SPEC(TEXT, .has_min = true, .min = 5), "1", "1", NULL},
};

/* enum values need real arrays. */
static char *enum_ab[] = {"a", "b"};
static char *enum_12[] = {"1", "2"};
static char *enum_bool[] = {"true"};

static const struct text_case enum_cases[] = {
    {SPEC(TEXT, .enum_values = enum_ab, .enum_count = 2), "a", "a", NULL},
    {SPEC(TEXT, .enum_values = enum_ab, .enum_count = 2), "b", "b", NULL},
    {SPEC(TEXT, .enum_values = enum_ab, .enum_count = 2), "c", NULL, "not one of [a, b]"},
    {SPEC(TEXT, .enum_values = enum_ab, .enum_count = 2), "A", NULL, "not one of [a, b]"},
    {SPEC(TEXT, .enum_values = enum_ab, .enum_count = 2), "", NULL, "not one of [a, b]"},
    {SPEC(INTEGER, .enum_values = enum_12, .enum_count = 2), "+1", "1", NULL},
    {SPEC(INTEGER, .enum_values = enum_12, .enum_count = 2), "3", NULL, "not one of [1, 2]"},
    {SPEC(BOOLEAN, .enum_values = enum_bool, .enum_count = 1), "yes", "true", NULL},
    {SPEC(BOOLEAN, .enum_values = enum_bool, .enum_count = 1), "no", NULL, "not one of [true]"},
    {SPEC(TEXT, .enum_values = enum_ab, .enum_count = 2), NULL, NULL, NULL},
};

/* Run one case; failures name the case. */
static void run_text_case(const struct text_case *tc, size_t index)
{
    struct column_checker checker;
    struct iq_error err = {0};
    struct pattern_scratch *scratch = pattern_scratch_new();
    assert_non_null(scratch);
    assert_int_equal(column_checker_init(&checker, &tc->spec, scratch, &err), 0);
    struct converted out;
    const char *reject = NULL;
    size_t length = tc->input ? strlen(tc->input) : 0;
    int rc = column_convert_text(&checker, tc->input, length, tc->input == NULL, &out, &reject);
    const char *type = column_type_name(tc->spec.type);
    if (tc->reject) {
        if (rc != IQ_E_REJECTED || !reject || strncmp(reject, tc->reject, strlen(tc->reject)) != 0)
            fail_msg("case %zu (%s \"%s\"): expected reject \"%s\", got rc %d reject \"%s\" text "
                     "\"%s\"",
                     index, type, tc->input ? tc->input : "NULL", tc->reject, rc,
                     reject ? reject : "", out.text ? out.text : "NULL");
    } else if (rc != 0 || reject) {
        fail_msg("case %zu (%s \"%s\"): unexpected reject \"%s\"", index, type,
                 tc->input ? tc->input : "NULL", reject ? reject : "");
    } else if (!tc->expect) {
        if (out.text)
            fail_msg("case %zu (%s): expected NULL, got \"%s\"", index, type, out.text);
    } else if (!out.text || strcmp(out.text, tc->expect) != 0 || out.length != strlen(tc->expect)) {
        fail_msg("case %zu (%s \"%s\"): expected \"%s\", got \"%s\"", index, type, tc->input,
                 tc->expect, out.text ? out.text : "NULL");
    }
    column_checker_clear(&checker);
    pattern_scratch_free(scratch);
    iq_error_clear(&err);
}

static void test_text_conversions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++)
        run_text_case(&text_cases[i], i);
}

static void test_enum(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(enum_cases) / sizeof(enum_cases[0]); i++)
        run_text_case(&enum_cases[i], i);
}

/* JSON input: the value as JSON text (NULL = missing). */
struct json_case {
    struct column_spec spec;
    const char *json;
    const char *expect;
    const char *reject;
};

static const struct json_case json_cases[] = {
    {SPEC(INTEGER), "42", "42", NULL},
    {SPEC(INTEGER), "-7", "-7", NULL},
    {SPEC(INTEGER), "\"42\"", "42", NULL},
    {SPEC(INTEGER), "\" 42 \"", "42", NULL},
    {SPEC(INTEGER), "42.5", NULL, "not an integer"},
    {SPEC(INTEGER), "42.0", NULL, "not an integer"},
    {SPEC(INTEGER), "true", NULL, "not an integer"},
    {SPEC(INTEGER), "[1]", NULL, "not an integer"},
    {SPEC(INTEGER), "2147483648", NULL, "out of range for integer"},
    {SPEC(BIGINT), "2147483648", "2147483648", NULL},
    {SPEC(INTEGER), "null", NULL, NULL},
    {SPEC(INTEGER), NULL, NULL, NULL},
    {SPEC(INTEGER, .required = true), NULL, NULL, "required"},
    {SPEC(INTEGER, .required = true), "null", NULL, "required"},
    {SPEC(TEXT), "\"abc\"", "abc", NULL},
    {SPEC(TEXT), "12345", "12345", NULL},
    {SPEC(TEXT), "1.5", "1.5", NULL},
    {SPEC(TEXT), "true", "true", NULL},
    {SPEC(TEXT), "{\"a\":1}", NULL, "expected a string"},
    {SPEC_MAX(TEXT, 2), "\"abc\"", NULL, "longer than max_length 2"},
    {SPEC(BOOLEAN), "true", "true", NULL},
    {SPEC(BOOLEAN), "false", "false", NULL},
    {SPEC(BOOLEAN), "0", "false", NULL},
    {SPEC(BOOLEAN), "1", "true", NULL},
    {SPEC(BOOLEAN), "2", NULL, "not a boolean"},
    {SPEC(BOOLEAN), "\"yes\"", "true", NULL},
    {SPEC(BOOLEAN), "0.0", NULL, "not a boolean"},
    {SPEC(REAL), "0.1", "0.1", NULL},
    {SPEC(REAL), "1e300", "1e+300", NULL},
    {SPEC(REAL), "3", "3", NULL},
    {SPEC(REAL, .has_min = true, .min = 0), "-0.5", NULL, "below min 0"},
    {SPEC(NUMERIC), "3", "3", NULL},
    {SPEC(NUMERIC), "2.5", "2.5", NULL},
    {SPEC(NUMERIC), "\"12.30\"", "12.30", NULL},
    {SPEC(NUMERIC), "false", NULL, "not a number"},
    {SPEC(DATE), "\"2024-02-29\"", "2024-02-29", NULL},
    {SPEC(DATE), "\"2023-02-29\"", NULL, "not a calendar date"},
    {SPEC(DATE), "20240229", NULL, "not a date"},
    {SPEC(TIMESTAMPTZ), "\"2024-02-29T13:45:00+02:00\"", "2024-02-29T11:45:00Z", NULL},
    {SPEC(UUID), "\"0192F3A4-1B2C-7D8E-9F00-112233445566\"", "0192f3a4-1b2c-7d8e-9f00-112233445566", NULL},
    {SPEC(UUID), "17", NULL, "not a UUID"},
    {SPEC(JSON), "{\"a\": [1, {\"b\": null}]}", "{\"a\":[1,{\"b\":null}]}", NULL},
    {SPEC(JSON), "\"x\"", "\"x\"", NULL},
    {SPEC(JSON), "1.5", "1.5", NULL},
    {SPEC(JSON), "null", NULL, NULL},
    {SPEC(JSON), "\"h\\u00e9\"", "\"h\xc3\xa9\"", NULL},
};

static void test_json_conversions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
        const struct json_case *tc = &json_cases[i];
        json_t *value = NULL;
        if (tc->json) {
            json_error_t jerr;
            value = json_loads(tc->json, JSON_DECODE_ANY, &jerr);
            assert_non_null(value);
        }
        struct column_checker checker;
        assert_int_equal(column_checker_init(&checker, &tc->spec, NULL, NULL), 0);
        struct converted out;
        const char *reject = NULL;
        int rc = column_convert_json(&checker, value, NULL, &out, &reject);
        const char *input = tc->json ? tc->json : "(missing)";
        if (tc->reject) {
            if (rc != IQ_E_REJECTED || !reject ||
                strncmp(reject, tc->reject, strlen(tc->reject)) != 0)
                fail_msg("json case %zu (%s): expected reject \"%s\", got \"%s\"", i, input,
                         tc->reject, reject ? reject : (out.text ? out.text : "NULL"));
        } else if (rc != 0) {
            fail_msg("json case %zu (%s): unexpected reject \"%s\"", i, input,
                     reject ? reject : "");
        } else if (!tc->expect ? out.text != NULL
                               : !out.text || strcmp(out.text, tc->expect) != 0) {
            fail_msg("json case %zu (%s): expected %s, got %s", i, input,
                     tc->expect ? tc->expect : "NULL", out.text ? out.text : "NULL");
        }
        column_checker_clear(&checker);
        json_decref(value);
    }
}

/*
 * JSON numbers as the readers build them (json_build: a stand-in real and
 * the literal text), converted from the literal: exact for numeric, an
 * exact range check for integer and bigint, never a silent Inf.
 * within_double: the target is SQLite (numeric holds a double at most).
 */
struct literal_case {
    struct column_spec spec;
    bool within_double;
    const char *literal;
    const char *expect;
    const char *reject;
};

static const struct literal_case literal_cases[] = {
    {SPEC(NUMERIC), false, "18446744073709551616", "18446744073709551616", NULL},
    {SPEC(NUMERIC), false, "-18446744073709551616", "-18446744073709551616", NULL},
    {SPEC(NUMERIC), false, "1e400", "1e400", NULL},
    {SPEC(NUMERIC), false, "-1E-400", "-1E-400", NULL},
    {SPEC(NUMERIC), false, "0.1234567890123456789", "0.1234567890123456789", NULL},
    {SPEC(NUMERIC), false, "1.50", "1.50", NULL},
    {SPEC(NUMERIC), false, "1e1001", NULL, "out of range for numeric"},
    {SPEC(NUMERIC, .has_max = true, .max = 10), false, "1e400", NULL, "above max 10"},
    {SPEC(NUMERIC), true, "18446744073709551616", "18446744073709551616", NULL},
    {SPEC(NUMERIC), true, "1e400", NULL, "out of range for numeric on SQLite"},
    {SPEC(NUMERIC), true, "-1e400", NULL, "out of range for numeric on SQLite"},
    {SPEC(NUMERIC), true, "1e-400", NULL, "out of range for numeric on SQLite"},
    {SPEC(NUMERIC), true, "1.5e300", "1.5e300", NULL},
    {SPEC(BIGINT), false, "9223372036854775808", NULL, "out of range for bigint"},
    {SPEC(BIGINT), false, "-9223372036854775809", NULL, "out of range for bigint"},
    {SPEC(BIGINT), false, "12345678901234567890", NULL, "out of range for bigint"},
    {SPEC(BIGINT), false, "18446744073709551616", NULL, "out of range for bigint"},
    {SPEC(BIGINT), false, "1.5", NULL, "not an integer"},
    {SPEC(BIGINT), false, "1e3", NULL, "not an integer"},
    {SPEC(INTEGER), false, "12345678901234567890", NULL, "out of range for integer"},
    {SPEC(REAL), false, "1e400", NULL, "out of range for real"},
    {SPEC(REAL), false, "1e-400", NULL, "out of range for real"},
    {SPEC(REAL), false, "0.1", "0.1", NULL},
    {SPEC(TEXT), false, "1e400", "1e400", NULL},
    {SPEC(TEXT), false, "1.50", "1.50", NULL},
    {SPEC(BOOLEAN), false, "1.0", NULL, "not a boolean"},
    {SPEC(DATE), false, "1e400", NULL, "not a date"},
    {SPEC(JSON), false, "1e400", "1e400", NULL},
    {SPEC(JSON), false, "18446744073709551616", "18446744073709551616", NULL},
};

static void test_json_number_literals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(literal_cases) / sizeof(literal_cases[0]); i++) {
        const struct literal_case *tc = &literal_cases[i];
        struct json_build build = {0};
        json_build_reset(&build);
        assert_int_equal(json_build_number(&build, tc->literal, strlen(tc->literal)),
                         JSON_BUILD_DONE);
        struct json_built built;
        json_build_take(&build, &built);
        struct column_checker checker;
        assert_int_equal(column_checker_init(&checker, &tc->spec, NULL, NULL), 0);
        checker.numeric_within_double = tc->within_double;
        struct converted out;
        const char *reject = NULL;
        int rc = column_convert_json(&checker, built.value, built.numbers, &out, &reject);
        if (tc->reject) {
            if (rc != IQ_E_REJECTED || !reject ||
                strncmp(reject, tc->reject, strlen(tc->reject)) != 0)
                fail_msg("literal case %zu (%s): expected reject \"%s\", got \"%s\"", i,
                         tc->literal, tc->reject, reject ? reject : (out.text ? out.text : ""));
        } else if (rc != 0 || !out.text || strcmp(out.text, tc->expect) != 0) {
            fail_msg("literal case %zu (%s): expected %s, got %s (%s)", i, tc->literal,
                     tc->expect, out.text ? out.text : "NULL", reject ? reject : "");
        }
        column_checker_clear(&checker);
        json_built_clear(&built);
        json_build_clear(&build);
    }
}

/* A json column writes nested numbers as the source wrote them. */
static void test_json_column_keeps_number_text(void **state)
{
    (void)state;
    struct json_build build = {0};
    json_build_reset(&build);
    assert_int_equal(json_build_open(&build, false), JSON_BUILD_MORE);
    assert_int_equal(json_build_key(&build, "a", 1), JSON_BUILD_MORE);
    assert_int_equal(json_build_open(&build, true), JSON_BUILD_MORE);
    assert_int_equal(json_build_number(&build, "1e400", 5), JSON_BUILD_MORE);
    assert_int_equal(json_build_number(&build, "7", 1), JSON_BUILD_MORE);
    assert_int_equal(json_build_string(&build, "x\"", 2), JSON_BUILD_MORE);
    assert_int_equal(json_build_close(&build), JSON_BUILD_MORE);
    assert_int_equal(json_build_key(&build, "b", 1), JSON_BUILD_MORE);
    assert_int_equal(json_build_number(&build, "0.10", 4), JSON_BUILD_MORE);
    assert_int_equal(json_build_close(&build), JSON_BUILD_DONE);
    struct json_built built;
    json_build_take(&build, &built);
    struct column_spec spec = SPEC(JSON);
    struct column_checker checker;
    assert_int_equal(column_checker_init(&checker, &spec, NULL, NULL), 0);
    struct converted out;
    const char *reject = NULL;
    assert_int_equal(column_convert_json(&checker, built.value, built.numbers, &out, &reject), 0);
    assert_string_equal(out.text, "{\"a\":[1e400,7,\"x\\\"\"],\"b\":0.10}");
    /* A member is converted from its own literal. */
    struct column_spec numeric = SPEC(NUMERIC);
    struct column_checker numeric_checker;
    assert_int_equal(column_checker_init(&numeric_checker, &numeric, NULL, NULL), 0);
    json_t *b = json_object_get(built.value, "b");
    assert_int_equal(column_convert_json(&numeric_checker, b, built.numbers, &out, &reject), 0);
    assert_string_equal(out.text, "0.10");
    column_checker_clear(&numeric_checker);
    column_checker_clear(&checker);
    json_built_clear(&built);
    json_build_clear(&build);
}

/* CSV text into a SQLite numeric: the same range rule as JSON. */
static void test_numeric_within_double_text(void **state)
{
    (void)state;
    struct column_spec spec = SPEC(NUMERIC);
    struct column_checker checker;
    assert_int_equal(column_checker_init(&checker, &spec, NULL, NULL), 0);
    checker.numeric_within_double = true;
    struct converted out;
    const char *reject = NULL;
    assert_int_equal(column_convert_text(&checker, "1e400", 5, false, &out, &reject),
                     IQ_E_REJECTED);
    assert_non_null(strstr(reject, "out of range for numeric on SQLite"));
    assert_int_equal(column_convert_text(&checker, "123.45", 6, false, &out, &reject), 0);
    assert_string_equal(out.text, "123.45");
    column_checker_clear(&checker);
}

static void test_json_string_with_nul(void **state)
{
    (void)state;
    struct column_spec spec = SPEC(TEXT);
    struct column_checker checker;
    assert_int_equal(column_checker_init(&checker, &spec, NULL, NULL), 0);
    json_t *value = json_stringn("a\0b", 3);
    struct converted out;
    const char *reject = NULL;
    assert_int_equal(column_convert_json(&checker, value, NULL, &out, &reject), IQ_E_REJECTED);
    assert_string_equal(reject, "contains a NUL character");
    json_decref(value);
    column_checker_clear(&checker);
}

/* Canonical input is handed back without a copy (the fast path). */
static void test_no_copy_when_canonical(void **state)
{
    (void)state;
    static const struct {
        enum column_type type;
        const char *input;
    } cases[] = {
        {COLUMN_TEXT, "hello"},
        {COLUMN_INTEGER, "-12345"},
        {COLUMN_BIGINT, "9223372036854775807"},
        {COLUMN_NUMERIC, "1.50"},
        {COLUMN_REAL, "2.5e3"},
        {COLUMN_DATE, "2024-02-29"},
        {COLUMN_UUID, "0192f3a4-1b2c-7d8e-9f00-112233445566"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct column_spec spec = {.name = "c", .type = cases[i].type, .max_length = -1};
        struct column_checker checker;
        assert_int_equal(column_checker_init(&checker, &spec, NULL, NULL), 0);
        struct converted out;
        const char *reject;
        assert_int_equal(column_convert_text(&checker, cases[i].input, strlen(cases[i].input),
                                             false, &out, &reject),
                         0);
        assert_ptr_equal(out.text, cases[i].input);
        column_checker_clear(&checker);
    }
}

/* Outputs of one checker stay valid until its next conversion, so a row's
 * values converted by different checkers coexist. */
static void test_outputs_of_checkers_coexist(void **state)
{
    (void)state;
    struct column_spec a = SPEC(TIMESTAMPTZ), b = SPEC(TIMESTAMPTZ);
    struct column_checker ca, cb;
    assert_int_equal(column_checker_init(&ca, &a, NULL, NULL), 0);
    assert_int_equal(column_checker_init(&cb, &b, NULL, NULL), 0);
    struct converted oa, ob;
    const char *reject;
    assert_int_equal(column_convert_text(&ca, "2024-01-01T10:00:00+01:00", 25, false, &oa, &reject), 0);
    assert_int_equal(column_convert_text(&cb, "2025-06-30T00:00:00-02:00", 25, false, &ob, &reject), 0);
    assert_string_equal(oa.text, "2024-01-01T09:00:00Z");
    assert_string_equal(ob.text, "2025-06-30T02:00:00Z");
    column_checker_clear(&ca);
    column_checker_clear(&cb);
}

static void test_bad_pattern(void **state)
{
    (void)state;
    struct column_spec spec = SPEC(TEXT, .pattern = "([a-z");
    struct column_checker checker;
    struct iq_error err = {0};
    struct pattern_scratch *scratch = pattern_scratch_new();
    assert_non_null(scratch);
    assert_int_equal(column_checker_init(&checker, &spec, scratch, &err), IQ_E_INVALID);
    assert_non_null(strstr(err.message, "column col: pattern is not a valid regular expression"));
    pattern_scratch_free(scratch);
    column_checker_clear(&checker);
    column_checker_clear(&checker); /* idempotent */
    column_checker_clear(NULL);
    iq_error_clear(&err);
}

/* A long enum list is cut short in the message, not overflowed. */
static void test_enum_message_truncated(void **state)
{
    (void)state;
    char *values[100];
    char storage[100][16];
    for (int i = 0; i < 100; i++) {
        snprintf(storage[i], sizeof(storage[i]), "value%03d", i);
        values[i] = storage[i];
    }
    struct column_spec spec = SPEC(TEXT, .enum_values = values, .enum_count = 100);
    struct column_checker checker;
    assert_int_equal(column_checker_init(&checker, &spec, NULL, NULL), 0);
    struct converted out;
    const char *reject;
    assert_int_equal(column_convert_text(&checker, "x", 1, false, &out, &reject), IQ_E_REJECTED);
    assert_true(strncmp(reject, "not one of [value000, value001", 30) == 0);
    assert_true(strlen(reject) < CONVERT_MESSAGE_LEN);
    assert_non_null(strstr(reject, "...]"));
    assert_int_equal(column_convert_text(&checker, "value099", 8, false, &out, &reject), 0);
    column_checker_clear(&checker);
}

/* Trimmed or long values are copied into the checker, NUL-terminated. */
static void test_long_numeric_is_copied_when_trimmed(void **state)
{
    (void)state;
    char input[600];
    input[0] = ' ';
    memset(input + 1, '7', 500);
    input[501] = ' ';
    input[502] = '\0';
    struct column_spec spec = SPEC(NUMERIC);
    struct column_checker checker;
    assert_int_equal(column_checker_init(&checker, &spec, NULL, NULL), 0);
    struct converted out;
    const char *reject;
    assert_int_equal(column_convert_text(&checker, input, 502, false, &out, &reject), 0);
    assert_int_equal(out.length, 500);
    assert_int_equal(strlen(out.text), 500);
    column_checker_clear(&checker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_conversions),
        cmocka_unit_test(test_enum),
        cmocka_unit_test(test_json_conversions),
        cmocka_unit_test(test_json_string_with_nul),
        cmocka_unit_test(test_json_number_literals),
        cmocka_unit_test(test_json_column_keeps_number_text),
        cmocka_unit_test(test_numeric_within_double_text),
        cmocka_unit_test(test_no_copy_when_canonical),
        cmocka_unit_test(test_outputs_of_checkers_coexist),
        cmocka_unit_test(test_bad_pattern),
        cmocka_unit_test(test_enum_message_truncated),
        cmocka_unit_test(test_long_numeric_is_copied_when_trimmed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
