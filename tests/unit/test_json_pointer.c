/* test_json_pointer.c - RFC 6901 examples and edge cases. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/json_pointer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_rfc6901_examples(void **state)
{
    (void)state;
    json_t *doc = json_loads("{\"foo\": [\"bar\", \"baz\"], \"\": 0, \"a/b\": 1, \"c%d\": 2, \"e^f\": 3,"
                             " \"g|h\": 4, \"i\\\\j\": 5, \"k\\\"l\": 6, \" \": 7, \"m~n\": 8}", 0, NULL);
    assert_non_null(doc);
    static const struct {
        const char *pointer;
        const char *expect; /* compact JSON, NULL = not found */
    } cases[] = {
        {"", NULL /* root, checked below */}, {"/foo", "[\"bar\",\"baz\"]"}, {"/foo/0", "\"bar\""},
        {"/", "0"}, {"/a~1b", "1"}, {"/c%d", "2"}, {"/e^f", "3"}, {"/g|h", "4"}, {"/i\\j", "5"},
        {"/k\"l", "6"}, {"/ ", "7"}, {"/m~0n", "8"}, {"/foo/2", NULL}, {"/foo/01", NULL},
        {"/foo/-", NULL}, {"/nope", NULL}, {"/m~2n", NULL}, {"foo", NULL}, {"/foo/0/x", NULL},
    };
    assert_ptr_equal(json_pointer_get(doc, ""), doc);
    for (size_t i = 1; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v = json_pointer_get(doc, cases[i].pointer);
        if (!cases[i].expect) {
            if (v)
                fail_msg("%s: found, want missing", cases[i].pointer);
            continue;
        }
        if (!v)
            fail_msg("%s: missing", cases[i].pointer);
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (strcmp(text, cases[i].expect) != 0)
            fail_msg("%s: %s, want %s", cases[i].pointer, text, cases[i].expect);
        free(text);
    }
    assert_null(json_pointer_get(NULL, "/foo"));
    assert_null(json_pointer_get(doc, NULL));
    json_decref(doc);
}

static void test_long_token(void **state)
{
    (void)state;
    char key[300], pointer[310];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    json_t *doc = json_pack("{s:i}", key, 9);
    snprintf(pointer, sizeof(pointer), "/%s", key);
    assert_int_equal(json_integer_value(json_pointer_get(doc, pointer)), 9);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6901_examples),
        cmocka_unit_test(test_long_token),
    };
    return cmocka_run_group_tests_name("json_pointer", tests, NULL, NULL);
}
