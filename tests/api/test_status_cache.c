/*
 * test_status_cache.c - the status figures' refresher (api/status_cache.h):
 * a request answers with the previous copy while a refresh is under way,
 * waits for fresh figures after this node's change, when there is no copy
 * or when the copy is too old and nothing refreshes it. The compute
 * callback is a gate the test opens one refresh at a time, so every step
 * is decided by the test, not by timing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/status_cache.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS (3600 * 1000)

/* The compute callback's state: refresh number n answers {"n":n}. */
struct gate {
    pthread_mutex_t mutex;
    pthread_cond_t changed;
    int allowed;   /* refreshes that may end */
    int entered;   /* refreshes begun */
    int computed;  /* refreshes ended */
    int fail_next; /* the next refresh fails */
};

static struct gate gate;
static struct status_cache cache;

static int gated_compute(void *ctx, char **ret_body, size_t *ret_len, struct iq_error *err)
{
    struct gate *g = ctx;
    pthread_mutex_lock(&g->mutex);
    g->entered++;
    pthread_cond_broadcast(&g->changed);
    while (g->computed >= g->allowed)
        pthread_cond_wait(&g->changed, &g->mutex);
    int n = ++g->computed;
    bool fail = g->fail_next;
    g->fail_next = 0;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->mutex);
    if (fail)
        return iq_error_set(err, IQ_E_DB, "the database is down");
    char text[32];
    snprintf(text, sizeof(text), "{\"n\":%d}", n);
    *ret_body = strdup(text);
    *ret_len = strlen(text);
    return 0;
}

static void gate_allow(int allowed)
{
    pthread_mutex_lock(&gate.mutex);
    gate.allowed = allowed;
    pthread_cond_broadcast(&gate.changed);
    pthread_mutex_unlock(&gate.mutex);
}

/* gate_wait_entered - until count refreshes have begun. */
static void gate_wait_entered(int count)
{
    pthread_mutex_lock(&gate.mutex);
    while (gate.entered < count)
        pthread_cond_wait(&gate.changed, &gate.mutex);
    pthread_mutex_unlock(&gate.mutex);
}

static int gate_computed(void)
{
    pthread_mutex_lock(&gate.mutex);
    int n = gate.computed;
    pthread_mutex_unlock(&gate.mutex);
    return n;
}

static void start(int64_t period_ms, int64_t max_age_ms, int allowed)
{
    memset(&gate, 0, sizeof(gate));
    pthread_mutex_init(&gate.mutex, NULL);
    pthread_cond_init(&gate.changed, NULL);
    gate.allowed = allowed;
    struct status_cache_timing timing = {
        .period_ms = period_ms, .max_age_ms = max_age_ms, .idle_ms = HOUR_MS};
    struct iq_error err = {0};
    assert_int_equal(status_cache_start(&cache, gated_compute, &gate, &timing, &err), 0);
}

static int teardown(void **state)
{
    (void)state;
    gate_allow(INT_MAX);
    status_cache_stop(&cache);
    pthread_cond_destroy(&gate.changed);
    pthread_mutex_destroy(&gate.mutex);
    return 0;
}

/* get_n - a request's answer: the n of {"n":n}. */
static int get_n(void)
{
    char *body = NULL;
    size_t len = 0;
    struct iq_error err = {0};
    int rc = status_cache_get(&cache, &body, &len, &err);
    if (rc < 0)
        fail_msg("status_cache_get: %s", iq_error_message(&err));
    int n = -1;
    assert_int_equal(sscanf(body, "{\"n\":%d}", &n), 1);
    assert_int_equal(len, strlen(body));
    free(body);
    return n;
}

static void test_first_request_waits_then_gets_the_copy(void **state)
{
    (void)state;
    start(HOUR_MS, HOUR_MS, INT_MAX);
    assert_int_equal(gate_computed(), 0); /* nothing computed before a request */
    assert_int_equal(get_n(), 1);
    assert_int_equal(get_n(), 1);
    assert_int_equal(get_n(), 1);
    assert_int_equal(gate_computed(), 1);
}

static void test_refresh_under_way_serves_the_previous_copy(void **state)
{
    (void)state;
    /* Refresh continuously; a copy is never young (max_age 0), yet while
     * a refresh is under way requests get the previous one at once. */
    start(0, 0, 1);
    assert_int_equal(get_n(), 1);
    gate_wait_entered(2); /* refresh 2 began and is held */
    assert_int_equal(get_n(), 1);
    assert_int_equal(get_n(), 1);
    assert_int_equal(gate_computed(), 1);

    /* After a change through this node, figures computed after it: not
     * those of refresh 2, which began before it. */
    status_cache_invalidate(&cache);
    gate_allow(INT_MAX);
    assert_true(get_n() >= 3);
}

static void test_change_waits_for_fresh_figures(void **state)
{
    (void)state;
    start(HOUR_MS, HOUR_MS, INT_MAX);
    assert_int_equal(get_n(), 1);
    status_cache_invalidate(&cache);
    assert_int_equal(get_n(), 2);
    assert_int_equal(get_n(), 2);
}

static void test_old_copy_without_refresh_waits(void **state)
{
    (void)state;
    /* No periodic refresh, every copy too old: each request waits for a
     * refresh of its own. */
    start(HOUR_MS, 0, INT_MAX);
    assert_int_equal(get_n(), 1);
    assert_int_equal(get_n(), 2);
    assert_int_equal(get_n(), 3);
}

static void test_failed_refresh_is_the_answer_then_recovers(void **state)
{
    (void)state;
    start(HOUR_MS, HOUR_MS, INT_MAX);
    pthread_mutex_lock(&gate.mutex);
    gate.fail_next = 1;
    pthread_mutex_unlock(&gate.mutex);
    char *body = NULL;
    size_t len = 0;
    struct iq_error err = {0};
    assert_int_equal(status_cache_get(&cache, &body, &len, &err), IQ_E_DB);
    assert_null(body);
    assert_string_equal(iq_error_message(&err), "the database is down");
    iq_error_clear(&err);
    assert_int_equal(get_n(), 2);
}

static void test_stop_without_request(void **state)
{
    (void)state;
    start(0, 0, INT_MAX);
    assert_int_equal(gate_computed(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_first_request_waits_then_gets_the_copy, teardown),
        cmocka_unit_test_teardown(test_refresh_under_way_serves_the_previous_copy, teardown),
        cmocka_unit_test_teardown(test_change_waits_for_fresh_figures, teardown),
        cmocka_unit_test_teardown(test_old_copy_without_refresh_waits, teardown),
        cmocka_unit_test_teardown(test_failed_refresh_is_the_answer_then_recovers, teardown),
        cmocka_unit_test_teardown(test_stop_without_request, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
