/* test_metrics.c - the metrics registry and its Prometheus text format:
 * registration checks, counters, gauges, cumulative histogram buckets,
 * escaping, which series are written, NULL registries, and concurrent
 * updates losing nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/metrics.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const outcomes[] = {"completed", "failed", "cancelled"};
static const char *const phases[] = {"read", "stage"};
static const double seconds[] = {0.01, 0.1, 1};

static char *written(struct metrics *m)
{
    char *text = NULL;
    size_t len = 0;
    struct iq_error err = {0};
    assert_int_equal(metrics_write(m, &text, &len, &err), 0);
    assert_int_equal(strlen(text), len);
    return text;
}

static void assert_contains(const char *text, const char *line)
{
    if (!strstr(text, line))
        fail_msg("expected %s in:\n%s", line, text);
}

static void assert_lacks(const char *text, const char *line)
{
    if (strstr(text, line))
        fail_msg("did not expect %s in:\n%s", line, text);
}

/* One registration that must be refused, and why. */
struct bad_desc_case {
    const char *why;
    struct metric_desc desc;
};

static void test_register_refuses(void **state)
{
    (void)state;
    static const char *const bad_value[] = {NULL};
    static const double descending[] = {1, 0.5};
    static const double infinite[] = {1.0 / 0.0};
    const struct bad_desc_case cases[] = {
        {"counter without _total", {.name = "importq_jobs", .type = METRIC_COUNTER}},
        {"name with a dash", {.name = "importq-jobs_total", .type = METRIC_COUNTER}},
        {"name starting with a digit", {.name = "9jobs", .type = METRIC_GAUGE}},
        {"empty name", {.name = "", .type = METRIC_GAUGE}},
        {"label without values",
         {.name = "a_total",
          .type = METRIC_COUNTER,
          .labels = {{"x", outcomes, 0}},
          .label_count = 1}},
        {"label with a NULL value",
         {.name = "a_total",
          .type = METRIC_COUNTER,
          .labels = {{"x", bad_value, 1}},
          .label_count = 1}},
        {"reserved label name",
         {.name = "a_total",
          .type = METRIC_COUNTER,
          .labels = {{"__x", outcomes, 3}},
          .label_count = 1}},
        {"le on a histogram",
         {.name = "h_seconds",
          .type = METRIC_HISTOGRAM,
          .labels = {{"le", outcomes, 3}},
          .label_count = 1,
          .buckets = seconds,
          .bucket_count = 3}},
        {"histogram without buckets", {.name = "h_seconds", .type = METRIC_HISTOGRAM}},
        {"descending buckets",
         {.name = "h_seconds", .type = METRIC_HISTOGRAM, .buckets = descending, .bucket_count = 2}},
        {"infinite bucket",
         {.name = "h_seconds", .type = METRIC_HISTOGRAM, .buckets = infinite, .bucket_count = 1}},
        {"too many labels", {.name = "a_total", .type = METRIC_COUNTER, .label_count = 4}},
    };
    struct metrics *m = NULL;
    struct iq_error err = {0};
    assert_int_equal(metrics_new(&m, &err), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct metric_family *f = (void *)1;
        int rc = metrics_register(m, &cases[i].desc, &f, &err);
        if (rc != IQ_E_INVALID)
            fail_msg("%s: registered (rc %d)", cases[i].why, rc);
        assert_null(f);
        iq_error_clear(&err);
    }
    /* too many series: 3^... over METRIC_SERIES_MAX */
    static const char *many[200];
    for (size_t i = 0; i < 200; i++)
        many[i] = "v";
    struct metric_desc huge = {.name = "huge_total",
                               .type = METRIC_COUNTER,
                               .labels = {{"a", many, 200}, {"b", many, 200}},
                               .label_count = 2};
    struct metric_family *f = NULL;
    assert_int_equal(metrics_register(m, &huge, &f, &err), IQ_E_INVALID);
    iq_error_clear(&err);
    /* a name registered twice: the same desc gets the same family, another
     * desc of that name is refused */
    static const struct metric_desc ok = {
        .name = "twice_total", .help = "h", .type = METRIC_COUNTER};
    struct metric_desc copy = ok;
    struct metric_family *again = NULL;
    assert_int_equal(metrics_register(m, &ok, &f, &err), 0);
    assert_int_equal(metrics_register(m, &ok, &again, &err), 0);
    assert_ptr_equal(f, again);
    assert_int_equal(metrics_register(m, &copy, &again, &err), IQ_E_INVALID);
    assert_null(again);
    iq_error_clear(&err);
    metrics_free(m);
}

static void test_counters(void **state)
{
    (void)state;
    struct metrics *m = NULL;
    struct iq_error err = {0};
    assert_int_equal(metrics_new(&m, &err), 0);
    struct metric_family *plain = NULL, *by_outcome = NULL, *sparse = NULL;
    const struct metric_desc plain_desc = {
        .name = "importq_jobs_started_total", .help = "Jobs started.", .type = METRIC_COUNTER};
    const struct metric_desc outcome_desc = {.name = "importq_jobs_finished_total",
                                             .help = "Jobs finished.",
                                             .type = METRIC_COUNTER,
                                             .labels = {{"outcome", outcomes, 3}},
                                             .label_count = 1,
                                             .show_zero = true};
    const struct metric_desc sparse_desc = {
        .name = "sparse_total",
        .help = "Only touched series.",
        .type = METRIC_COUNTER,
        .labels = {{"outcome", outcomes, 3}, {"phase", phases, 2}},
        .label_count = 2};
    assert_int_equal(metrics_register(m, &plain_desc, &plain, &err), 0);
    assert_int_equal(metrics_register(m, &outcome_desc, &by_outcome, &err), 0);
    assert_int_equal(metrics_register(m, &sparse_desc, &sparse, &err), 0);

    metric_counter_add(plain, NULL, 2);
    metric_counter_add(plain, NULL, 3);
    metric_counter_add(by_outcome, (unsigned[]){1}, 7);
    metric_counter_add(by_outcome, (unsigned[]){3}, 100); /* out of range: dropped */
    metric_counter_add(sparse, (unsigned[]){2, 1}, 4);
    metric_counter_add(sparse, (unsigned[]){2, 2}, 9); /* out of range: dropped */
    metric_counter_add(sparse, NULL, 9);               /* no index: dropped */
    metric_gauge_set(plain, NULL, 5);                  /* wrong kind: dropped */
    assert_int_equal(metric_counter_value(plain, NULL), 5);
    assert_int_equal(metric_counter_value(by_outcome, (unsigned[]){1}), 7);

    char *text = written(m);
    const char *expected = "# HELP importq_jobs_started_total Jobs started.\n"
                           "# TYPE importq_jobs_started_total counter\n"
                           "importq_jobs_started_total 5\n"
                           "# HELP importq_jobs_finished_total Jobs finished.\n"
                           "# TYPE importq_jobs_finished_total counter\n"
                           "importq_jobs_finished_total{outcome=\"completed\"} 0\n"
                           "importq_jobs_finished_total{outcome=\"failed\"} 7\n"
                           "importq_jobs_finished_total{outcome=\"cancelled\"} 0\n"
                           "# HELP sparse_total Only touched series.\n"
                           "# TYPE sparse_total counter\n"
                           "sparse_total{outcome=\"cancelled\",phase=\"stage\"} 4\n";
    assert_string_equal(text, expected);
    free(text);
    metrics_free(m);
}

static void test_histogram_cumulative(void **state)
{
    (void)state;
    struct metrics *m = NULL;
    struct iq_error err = {0};
    assert_int_equal(metrics_new(&m, &err), 0);
    struct metric_family *h = NULL;
    const struct metric_desc desc = {.name = "importq_phase_duration_seconds",
                                     .help = "Phase time.",
                                     .type = METRIC_HISTOGRAM,
                                     .labels = {{"phase", phases, 2}},
                                     .label_count = 1,
                                     .buckets = seconds,
                                     .bucket_count = 3};
    assert_int_equal(metrics_register(m, &desc, &h, &err), 0);
    /* (value, the bucket it lands in): a value on a bound belongs to it */
    const double values[] = {0.005, 0.01, 0.05, 0.5, 1, 2.5, 30};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        metric_histogram_observe(h, (unsigned[]){0}, values[i]);
    metric_histogram_observe(h, (unsigned[]){0}, 0.0 / 0.0); /* NaN: dropped */
    char *text = written(m);
    const char *expected = "# HELP importq_phase_duration_seconds Phase time.\n"
                           "# TYPE importq_phase_duration_seconds histogram\n"
                           "importq_phase_duration_seconds_bucket{phase=\"read\",le=\"0.01\"} 2\n"
                           "importq_phase_duration_seconds_bucket{phase=\"read\",le=\"0.1\"} 3\n"
                           "importq_phase_duration_seconds_bucket{phase=\"read\",le=\"1\"} 5\n"
                           "importq_phase_duration_seconds_bucket{phase=\"read\",le=\"+Inf\"} 7\n"
                           "importq_phase_duration_seconds_sum{phase=\"read\"} 34.065\n"
                           "importq_phase_duration_seconds_count{phase=\"read\"} 7\n";
    assert_string_equal(text, expected); /* "stage" was never observed: left out */
    free(text);
    metrics_free(m);
}

/* (label value, help, what is written) */
struct escape_case {
    const char *value;
    const char *help;
    const char *label_line;
    const char *help_line;
};

static void test_escaping(void **state)
{
    (void)state;
    static const struct escape_case cases[] = {
        {"plain", "plain help", "e_total{v=\"plain\"} 1", "# HELP e_total plain help\n"},
        {"a\"quote", "a \"quote\"", "e_total{v=\"a\\\"quote\"} 1", "# HELP e_total a \"quote\"\n"},
        {"back\\slash", "back\\slash", "e_total{v=\"back\\\\slash\"} 1",
         "# HELP e_total back\\\\slash\n"},
        {"new\nline", "two\nlines", "e_total{v=\"new\\nline\"} 1", "# HELP e_total two\\nlines\n"},
        {"/api/v2/import-queue/{id}", "route", "e_total{v=\"/api/v2/import-queue/{id}\"} 1",
         "# HELP e_total route\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct metrics *m = NULL;
        struct iq_error err = {0};
        assert_int_equal(metrics_new(&m, &err), 0);
        const char *values[] = {cases[i].value};
        struct metric_desc desc = {.name = "e_total",
                                   .help = cases[i].help,
                                   .type = METRIC_COUNTER,
                                   .labels = {{"v", values, 1}},
                                   .label_count = 1};
        struct metric_family *f = NULL;
        assert_int_equal(metrics_register(m, &desc, &f, &err), 0);
        metric_counter_add(f, (unsigned[]){0}, 1);
        char *text = written(m);
        assert_contains(text, cases[i].label_line);
        assert_contains(text, cases[i].help_line);
        free(text);
        metrics_free(m);
    }
}

static void test_gauges(void **state)
{
    (void)state;
    struct metrics *m = NULL;
    struct iq_error err = {0};
    assert_int_equal(metrics_new(&m, &err), 0);
    struct metric_family *jobs = NULL, *age = NULL;
    const struct metric_desc jobs_desc = {.name = "importq_queue_jobs",
                                          .help = "Jobs.",
                                          .type = METRIC_GAUGE,
                                          .labels = {{"status", outcomes, 3}},
                                          .label_count = 1};
    const struct metric_desc age_desc = {
        .name = "age_seconds", .help = "Age.", .type = METRIC_GAUGE};
    assert_int_equal(metrics_register(m, &jobs_desc, &jobs, &err), 0);
    assert_int_equal(metrics_register(m, &age_desc, &age, &err), 0);
    metric_gauge_set(jobs, (unsigned[]){2}, 3);
    metric_gauge_set(jobs, (unsigned[]){2}, 12); /* a gauge is set, not added to */
    metric_gauge_set(jobs, (unsigned[]){0}, 0);  /* set to zero: still written */
    char *text = written(m);
    assert_contains(text, "importq_queue_jobs{status=\"cancelled\"} 12\n");
    assert_contains(text, "importq_queue_jobs{status=\"completed\"} 0\n");
    assert_lacks(text, "status=\"failed\"");
    assert_contains(text, "# TYPE age_seconds gauge\nage_seconds 0\n");
    free(text);
    metric_gauge_set(age, NULL, 1.0 / 0.0);
    text = written(m);
    assert_contains(text, "age_seconds +Inf\n");
    free(text);
    metric_gauge_set(age, NULL, 0.1);
    text = written(m);
    assert_contains(text, "age_seconds 0.1\n");
    free(text);
    metrics_free(m);
}

static void test_null_registry(void **state)
{
    (void)state;
    struct metric_family *f = (void *)1;
    struct iq_error err = {0};
    const struct metric_desc desc = {.name = "a_total", .help = "h", .type = METRIC_COUNTER};
    assert_int_equal(metrics_register(NULL, &desc, &f, &err), 0);
    assert_null(f);
    metric_counter_add(NULL, NULL, 1);
    metric_gauge_set(NULL, NULL, 1);
    metric_histogram_observe(NULL, NULL, 1);
    assert_int_equal(metric_counter_value(NULL, NULL), 0);
    char *text = NULL;
    size_t len = 1;
    assert_int_equal(metrics_write(NULL, &text, &len, &err), 0);
    assert_int_equal(len, 0);
    free(text);
    metrics_free(NULL);
}

#define THREADS 4
#define ADDS 100000

static void *adder(void *arg)
{
    struct metric_family **families = arg;
    for (int i = 0; i < ADDS; i++) {
        metric_counter_add(families[0], NULL, 1);
        metric_histogram_observe(families[1], NULL, 0.5);
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    (void)state;
    struct metrics *m = NULL;
    struct iq_error err = {0};
    assert_int_equal(metrics_new(&m, &err), 0);
    struct metric_family *families[2] = {NULL, NULL};
    const struct metric_desc counter = {.name = "c_total", .help = "c", .type = METRIC_COUNTER};
    const struct metric_desc histogram = {.name = "h_seconds",
                                          .help = "h",
                                          .type = METRIC_HISTOGRAM,
                                          .buckets = seconds,
                                          .bucket_count = 3};
    assert_int_equal(metrics_register(m, &counter, &families[0], &err), 0);
    assert_int_equal(metrics_register(m, &histogram, &families[1], &err), 0);
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, adder, families), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    char *text = written(m);
    assert_contains(text, "c_total 400000\n");
    assert_contains(text, "h_seconds_bucket{le=\"0.1\"} 0\n");
    assert_contains(text, "h_seconds_bucket{le=\"1\"} 400000\n");
    assert_contains(text, "h_seconds_sum 200000\n"); /* 0.5 adds up exactly */
    assert_contains(text, "h_seconds_count 400000\n");
    free(text);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_refuses),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_histogram_cumulative),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_gauges),
        cmocka_unit_test(test_null_registry),
        cmocka_unit_test(test_concurrent_updates),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
