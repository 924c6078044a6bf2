/*
 * test_pattern.c - src/core/pattern.c: a table of patterns the budget
 * accepts (with values they match and do not), a table it refuses (with
 * why), the limits at their edges, and matches that run over their budget
 * (a result, never a hang), both interpreted and JIT-compiled.
 *
 * Nothing here measures time: a budget is a count of steps and bytes, so
 * each case has one answer on any machine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/job_spec_limits.h"
#include "core/pattern.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* repeated - text made of count copies of unit, between prefix and suffix. Caller frees. */
static char *repeated(const char *prefix, const char *unit, size_t count, const char *suffix)
{
    size_t length = strlen(prefix) + strlen(unit) * count + strlen(suffix);
    char *text = malloc(length + 1);
    assert_non_null(text);
    char *p = stpcpy(text, prefix);
    for (size_t i = 0; i < count; i++)
        p = stpcpy(p, unit);
    strcpy(p, suffix);
    return text;
}

/* compile - pattern_compile that must succeed; optionally JIT too. */
static struct pattern *compile(const char *source, bool jit)
{
    struct iq_error err = {0};
    struct pattern *pattern = NULL;
    int rc = pattern_compile(source, &pattern, &err);
    if (rc != 0)
        fail_msg("\"%s\" refused: %s", source, err.message ? err.message : "");
    assert_non_null(pattern);
    if (jit)
        pattern_jit_compile(pattern);
    return pattern;
}

/* ---- accepted patterns and what they match ------------------------------ */

struct match_case {
    const char *pattern;
    const char *text;
    int expect;            /* 1 matches, 0 does not */
};

static const struct match_case match_cases[] = {
    {"^[^@]+@[^@]+$", "ada@example.com", 1},
    {"^[^@]+@[^@]+$", "a@b@c", 0},
    {"^[^@]+@[^@]+$", "no-at-sign", 0},
    {"", "anything", 1},
    {"colou?r", "the colour red", 1},
    {"^(ab)+$", "ababab", 1},
    {"^(ab)+$", "ababa", 0},
    {"^x{2,3}$", "xx", 1},
    {"^x{2,3}$", "xxxx", 0},
    {"^(red|green|blue)$", "green", 1},
    {"^(red|green|blue)$", "greenish", 0},
    /* UTF-8: a character is a code point, classes know Unicode. */
    {"^.{3}$", "h\xc3\xa9h", 1},
    {"^.{3}$", "h\xc3\xa9", 0},
    {"^[[:alpha:]]+$", "\xc3\xa9t\xc3\xa9", 1},
    {"^[[:alpha:]]+$", "ab1", 0},
    {"^[[:digit:]]{4}-[[:digit:]]{2}$", "2026-12", 1},
    {"^\xc3\xa9", "\xc3\xa9t\xc3\xa9", 1},
    /* POSIX without REG_NEWLINE: '.' matches a newline, '$' only at the end. */
    {"^a.b$", "a\nb", 1},
    {"^a$", "a\n", 0},
    /* ']' first in a bracket is a member; PCRE2 extensions work. */
    {"^[]a]+$", "]a]", 1},
    {"^\\d+$", "123", 1},
    {"^(?i)abc$", "ABC", 1},
    /* Backtracking-prone, but within budget on short values. */
    {"^(a+)+$", "aaaa", 1},
    {"^(a|aa)*c$", "aaaac", 1},
};

static void test_matches(void **state)
{
    (void)state;
    struct pattern_scratch *scratch = pattern_scratch_new();
    assert_non_null(scratch);
    for (int jit = 0; jit <= 1; jit++) {
        for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
            const struct match_case *mc = &match_cases[i];
            struct pattern *pattern = compile(mc->pattern, jit);
            int got = pattern_match(pattern, scratch, mc->text, strlen(mc->text));
            if (got != mc->expect)
                fail_msg("case %zu (%s): \"%s\" on \"%s\": got %d, want %d", i,
                         jit ? "jit" : "interpreter", mc->pattern, mc->text, got, mc->expect);
            pattern_free(pattern);
        }
    }
    pattern_scratch_free(scratch);
}

/* ---- refused patterns ---------------------------------------------------- */

struct refuse_case {
    const char *name;
    const char *pattern;
    const char *reason;      /* the start of err.message */
};

static const struct refuse_case refuse_cases[] = {
    {"unbalanced", "(", "is not a valid regular expression: missing closing parenthesis"},
    {"bad class", "[a-", "is not a valid regular expression"},
    {"nested counted repetition (issue 12)", "((a{1,100}){1,100}){1,100}", "is too costly"},
    {"nested counted repetition under PCRE2's own limit", "((a{1,50}){1,50}){1,50}",
     "is too costly"},
    {"repeated group", "(ab{1,1000}x{1,1000}){1,3000}", "is too costly"},
    {"back-reference (not ERE)", "(a)\\1", "is not a valid regular expression"},
    {"collating element", "[[.a.]]", "is not a valid regular expression"},
    {"\\C splits characters", "a\\Cb", "is not a valid regular expression"},
};

static void expect_refused(const char *name, const char *source, const char *reason)
{
    struct iq_error err = {0};
    struct pattern *pattern = (struct pattern *)1;
    int rc = pattern_compile(source, &pattern, &err);
    if (rc != IQ_E_INVALID || !err.message || strncmp(err.message, reason, strlen(reason)) != 0)
        fail_msg("%s: rc %d, message \"%s\", want \"%s...\"", name, rc,
                 err.message ? err.message : "", reason);
    assert_null(pattern);
    iq_error_clear(&err);
}

static void test_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(refuse_cases) / sizeof(refuse_cases[0]); i++)
        expect_refused(refuse_cases[i].name, refuse_cases[i].pattern, refuse_cases[i].reason);
}

/* ---- the compile limits at their edges ------------------------------------ */

static void test_length_limit(void **state)
{
    (void)state;
    char *at_limit = repeated("", "a", SPEC_MAX_PATTERN_LEN, "");
    pattern_free(compile(at_limit, false));
    char *over = repeated("", "a", SPEC_MAX_PATTERN_LEN + 1, "");
    expect_refused("one byte too long", over, "must be at most 1024 bytes");
    /* A long alternation is refused for its length, before any compiling. */
    char *alternation = repeated("^(", "word|", 100000, "x)$");
    expect_refused("huge alternation", alternation, "must be at most 1024 bytes");
    free(at_limit);
    free(over);
    free(alternation);
}

static void test_nesting_limit(void **state)
{
    (void)state;
    char *inner = repeated("", "(", SPEC_MAX_PATTERN_NESTING, "a");
    char *at_limit = repeated(inner, ")", SPEC_MAX_PATTERN_NESTING, "");
    pattern_free(compile(at_limit, false));
    char *deeper_inner = repeated("", "(", SPEC_MAX_PATTERN_NESTING + 1, "a");
    char *over = repeated(deeper_inner, ")", SPEC_MAX_PATTERN_NESTING + 1, "");
    expect_refused("one level too deep", over, "nests parentheses deeper than 32");
    free(inner);
    free(at_limit);
    free(deeper_inner);
    free(over);
}

/* The compiled size is reported, and within the per-pattern budget. */
static void test_compiled_size(void **state)
{
    (void)state;
    struct pattern *small = compile("^[a-z]+$", false);
    struct pattern *big = compile("(ab{1,1000}){1,100}", false);
    assert_true(pattern_compiled_size(small) > 0);
    assert_true(pattern_compiled_size(big) > 10 * pattern_compiled_size(small));
    assert_true(pattern_compiled_size(big) <= SPEC_MAX_PATTERN_COMPILED_BYTES);
    pattern_free(small);
    pattern_free(big);
}

/* ---- matches over budget ------------------------------------------------- */

struct budget_case {
    const char *name;
    const char *pattern;
    const char *unit;        /* the value: count copies of unit, then suffix */
    size_t count;
    const char *suffix;
    int expect;
};

static const struct budget_case budget_cases[] = {
    /* Exponential backtracking: the match limit stops it. */
    {"(a+)+ on a near miss", "^(a+)+$", "a", 48, "!", IQ_E_TOO_LARGE},
    {"(a|aa)* on a near miss", "^(a|aa)*c$", "a", 200, "c!", IQ_E_TOO_LARGE},
    /* Deep backtracking: the heap (or JIT stack) limit stops it. */
    {"(a|b)* on a huge value", "^(a|b)*$", "ab", 500000, "", IQ_E_TOO_LARGE},
    /* The same pattern on a long but ordinary value is fine. */
    {"(a|b)* on a long value", "^(a|b)*$", "ab", 2500, "", 1},
    {"a class on a huge value", "^[ab]*$", "ab", 500000, "", 1},
};

static void test_match_budget(void **state)
{
    (void)state;
    struct pattern_scratch *scratch = pattern_scratch_new();
    assert_non_null(scratch);
    struct pattern *plain = compile("^a", false);
    for (int jit = 0; jit <= 1; jit++) {
        for (size_t i = 0; i < sizeof(budget_cases) / sizeof(budget_cases[0]); i++) {
            const struct budget_case *bc = &budget_cases[i];
            struct pattern *pattern = compile(bc->pattern, jit);
            char *value = repeated("", bc->unit, bc->count, bc->suffix);
            int got = pattern_match(pattern, scratch, value, strlen(value));
            if (got != bc->expect)
                fail_msg("%s (%s): got %d, want %d", bc->name, jit ? "jit" : "interpreter", got,
                         bc->expect);
            /* A match over budget leaves the scratch good for the next one. */
            assert_int_equal(pattern_match(plain, scratch, "ab", 2), 1);
            free(value);
            pattern_free(pattern);
        }
    }
    pattern_free(plain);
    pattern_scratch_free(scratch);
}

static void test_invalid_utf8_value(void **state)
{
    (void)state;
    struct pattern_scratch *scratch = pattern_scratch_new();
    struct pattern *pattern = compile("^a", false);
    assert_int_equal(pattern_match(pattern, scratch, "a\xff", 2), IQ_E_INVALID);
    pattern_free(pattern);
    pattern_scratch_free(scratch);
}

static void test_null_safety(void **state)
{
    (void)state;
    pattern_free(NULL);
    pattern_scratch_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_length_limit),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_compiled_size),
        cmocka_unit_test(test_match_budget),
        cmocka_unit_test(test_invalid_utf8_value),
        cmocka_unit_test(test_null_safety),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
