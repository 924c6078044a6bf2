/* test_uuid7.c - UUIDv7 layout, ordering under threads, validation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/uuid7.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void test_layout(void **state)
{
    (void)state;
    char id[UUID_STR_LEN];
    uuid7_generate_at(0x0123456789abLL, id);
    assert_int_equal(strlen(id), 36);
    assert_true(uuid_is_valid(id));
    assert_memory_equal(id, "01234567-89ab-7", 15);
    assert_true(strchr("89ab", id[19]) != NULL); /* RFC 9562 variant */
}

static void test_monotonic_within_a_millisecond(void **state)
{
    (void)state;
    char prev[UUID_STR_LEN], next[UUID_STR_LEN];
    uuid7_generate_at(1800000000000LL, prev);
    for (int i = 0; i < 10000; i++) {
        uuid7_generate_at(1800000000000LL, next); /* same ms, and even a clock step back */
        assert_true(strcmp(prev, next) < 0);
        memcpy(prev, next, sizeof(prev));
    }
    uuid7_generate_at(1700000000000LL, next);
    assert_true(strcmp(prev, next) < 0);
}

#define PER_THREAD 5000
static char ids[4][PER_THREAD][UUID_STR_LEN];

static void *generate_cb(void *arg)
{
    char (*mine)[UUID_STR_LEN] = arg;
    for (int i = 0; i < PER_THREAD; i++)
        uuid7_generate(mine[i]);
    return NULL;
}

static int compare_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_unique_across_threads(void **state)
{
    (void)state;
    pthread_t threads[4];
    for (int t = 0; t < 4; t++)
        pthread_create(&threads[t], NULL, generate_cb, ids[t]);
    for (int t = 0; t < 4; t++)
        pthread_join(threads[t], NULL);
    for (int t = 0; t < 4; t++)
        for (int i = 1; i < PER_THREAD; i++)
            assert_true(strcmp(ids[t][i - 1], ids[t][i]) < 0);
    qsort(ids, 4 * PER_THREAD, UUID_STR_LEN, compare_ids);
    char (*flat)[UUID_STR_LEN] = (char (*)[UUID_STR_LEN])ids;
    for (int i = 1; i < 4 * PER_THREAD; i++)
        assert_true(strcmp(flat[i - 1], flat[i]) != 0);
}

static void test_validation(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool ok;
    } cases[] = {
        {"01900000-0000-7000-8000-000000000000", true},
        {"0190ABCD-0000-7000-8000-00000000000F", true},
        {"01900000-0000-7000-8000-00000000000", false},
        {"01900000-0000-7000-8000-0000000000000", false},
        {"01900000x0000-7000-8000-000000000000", false},
        {"0190000g-0000-7000-8000-000000000000", false},
        {"../../etc/passwd", false},
        {"", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(uuid_is_valid(cases[i].text), cases[i].ok);
    assert_false(uuid_is_valid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_monotonic_within_a_millisecond),
        cmocka_unit_test(test_unique_across_threads),
        cmocka_unit_test(test_validation),
    };
    return cmocka_run_group_tests_name("uuid7", tests, NULL, NULL);
}
