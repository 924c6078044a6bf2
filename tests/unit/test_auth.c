/* test_auth.c - token secrets, their hashes, constant-time comparison and role names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/auth.h"
#include "core/error.h"
#include "store/admin_ops.h"

#include <stdlib.h>
#include <string.h>

struct role_case {
    const char *name;
    int role; /* IQ_E_INVALID when it is no role */
};

static const struct role_case role_cases[] = {
    {"viewer", ROLE_VIEWER},   {"operator", ROLE_OPERATOR}, {"admin", ROLE_ADMIN},
    {"Admin", IQ_E_INVALID},   {"VIEWER", IQ_E_INVALID},    {"admin ", IQ_E_INVALID},
    {" viewer", IQ_E_INVALID}, {"adm", IQ_E_INVALID},       {"administrator", IQ_E_INVALID},
    {"", IQ_E_INVALID},        {"root", IQ_E_INVALID},      {NULL, IQ_E_INVALID},
};

static void test_role_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(role_cases) / sizeof(role_cases[0]); i++) {
        const struct role_case *c = &role_cases[i];
        int got = token_role_parse(c->name);
        if (got != c->role)
            fail_msg("token_role_parse(\"%s\") = %d, want %d", c->name ? c->name : "(null)", got,
                     c->role);
        if (got > 0)
            assert_string_equal(token_role_name(got), c->name);
    }
}

static void test_role_names(void **state)
{
    (void)state;
    assert_string_equal(token_role_name(ROLE_VIEWER), "viewer");
    assert_string_equal(token_role_name(ROLE_OPERATOR), "operator");
    assert_string_equal(token_role_name(ROLE_ADMIN), "admin");
    assert_null(token_role_name(0));
    assert_null(token_role_name(4));
    assert_null(token_role_name(-1));
    /* Weakest first: a check "role >= needed" admits stronger roles. */
    assert_true(ROLE_VIEWER < ROLE_OPERATOR && ROLE_OPERATOR < ROLE_ADMIN);
}

struct hash_case {
    const char *input;
    const char *sha256_hex;
};

/* FIPS 180-2 test vectors and the empty string. */
static const struct hash_case hash_cases[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

static void test_hash_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(hash_cases) / sizeof(hash_cases[0]); i++) {
        char hex[AUTH_HASH_LEN];
        auth_token_hash(hash_cases[i].input, hex);
        assert_string_equal(hex, hash_cases[i].sha256_hex);
    }
}

struct equal_case {
    const char *a;
    const char *b;
    bool equal;
};

#define H1 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define H2 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ae"

static const struct equal_case equal_cases[] = {
    {H1, H1, true},
    {H1, H2, false},
    {H2, H1, false},
    {"ca7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", H1, false},
    {H1 "0", H1, false}, /* one character too long */
    {H1, H1 "0", false},
    {"ba7816bf", "ba7816bf", false}, /* equal but not a hash */
    {"", "", false},
    {NULL, H1, false},
    {H1, NULL, false},
    {NULL, NULL, false},
};

static void test_hash_equal_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(equal_cases) / sizeof(equal_cases[0]); i++) {
        const struct equal_case *c = &equal_cases[i];
        if (auth_hash_equal(c->a, c->b) != c->equal)
            fail_msg("auth_hash_equal case %zu: want %s", i, c->equal ? "equal" : "different");
    }
}

static bool is_base64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

#define TOKEN_SAMPLES 1000

static int compare_tokens(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_generate_format_and_uniqueness(void **state)
{
    (void)state;
    static char tokens[TOKEN_SAMPLES][AUTH_TOKEN_LEN];
    for (int i = 0; i < TOKEN_SAMPLES; i++) {
        assert_int_equal(auth_token_generate(tokens[i]), 0);
        const char *t = tokens[i];
        assert_int_equal(strlen(t), AUTH_TOKEN_LEN - 1);
        assert_memory_equal(t, "iq_", 3);
        for (const char *p = t + 3; *p; p++)
            if (!is_base64url(*p))
                fail_msg("token %s has '%c', not base64url without padding", t, *p);
        char hex[AUTH_HASH_LEN];
        auth_token_hash(t, hex);
        assert_int_equal(strlen(hex), 64);
        char again[AUTH_HASH_LEN];
        auth_token_hash(t, again);
        assert_true(auth_hash_equal(hex, again));
    }
    qsort(tokens, TOKEN_SAMPLES, AUTH_TOKEN_LEN, compare_tokens);
    for (int i = 1; i < TOKEN_SAMPLES; i++)
        assert_true(strcmp(tokens[i - 1], tokens[i]) != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_role_parse_table),
        cmocka_unit_test(test_role_names),
        cmocka_unit_test(test_hash_vectors),
        cmocka_unit_test(test_hash_equal_table),
        cmocka_unit_test(test_generate_format_and_uniqueness),
    };
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
