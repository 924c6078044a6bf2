/*
 * test_orchestration.c - the graph rules and aggregate status of an
 * orchestration (src/core/orchestration.c): creation order for chains,
 * fan-out and fan-in; every key problem reported with its field; cycles
 * named; the aggregate status for every mix of job states in a table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/orchestration.h"

#include <stdlib.h>
#include <string.h>

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* A member list written as "key:after1,after2" strings (static storage). */
struct members {
    struct orchestration_member items[8];
    const char *after[8][8];
    char text[8][64];
    size_t count;
};

static void members_parse(struct members *m, const char *const *specs, size_t count)
{
    memset(m, 0, sizeof(*m));
    m->count = count;
    for (size_t i = 0; i < count; i++) {
        strcpy(m->text[i], specs[i]);
        char *colon = strchr(m->text[i], ':');
        m->items[i].key = m->text[i];
        m->items[i].after = m->after[i];
        if (!colon)
            continue;
        *colon = '\0';
        for (char *tok = strtok(colon + 1, ","); tok; tok = strtok(NULL, ","))
            m->after[i][m->items[i].after_count++] = tok;
    }
}

/* position - where member index sits in plan's order. */
static size_t position(const struct orchestration_plan *plan, size_t index)
{
    for (size_t k = 0; k < plan->member_count; k++)
        if (plan->order[k] == index)
            return k;
    fail_msg("member %zu missing from the order", index);
    return 0;
}

/* assert_ordered - every member comes after each member it waits for, each exactly once. */
static void assert_ordered(const struct members *m, const struct orchestration_plan *plan)
{
    assert_int_equal(plan->member_count, m->count);
    for (size_t i = 0; i < m->count; i++)
        for (size_t j = 0; j < plan->after_index_count[i]; j++)
            assert_true(position(plan, plan->after_index[i][j]) < position(plan, i));
}

static void test_orders_chain_fan_out_and_fan_in(void **state)
{
    (void)state;
    static const char *const cases[][6] = {
        {"steps:users", "users:teams", "teams", NULL},
        {"teams", "users:teams", "steps:teams", "report:users,steps", NULL},
        {"a:b,c", "b", "c:b", "d", NULL},
    };
    for (size_t c = 0; c < COUNT_OF(cases); c++) {
        size_t count = 0;
        while (cases[c][count])
            count++;
        struct members m;
        members_parse(&m, cases[c], count);
        struct orchestration_plan plan;
        struct iq_error err = {0};
        assert_int_equal(orchestration_plan_build(m.items, m.count, &plan, &err), 0);
        assert_ordered(&m, &plan);
        orchestration_plan_clear(&plan);
        iq_error_clear(&err);
    }
}

static void test_duplicate_after_keys_count_once(void **state)
{
    (void)state;
    static const char *const specs[] = {"a", "b:a,a,a"};
    struct members m;
    members_parse(&m, specs, 2);
    struct orchestration_plan plan;
    assert_int_equal(orchestration_plan_build(m.items, m.count, &plan, NULL), 0);
    assert_int_equal(plan.after_index_count[1], 1);
    assert_int_equal(plan.after_index[1][0], 0);
    assert_int_equal(plan.order[0], 0);
    orchestration_plan_clear(&plan);
}

/* find_field - the message of field error `field`, or NULL. */
static const char *find_field(const struct iq_error *err, const char *field)
{
    for (size_t i = 0; i < err->field_count; i++)
        if (strcmp(err->fields[i].field, field) == 0)
            return err->fields[i].message;
    return NULL;
}

static void test_key_problems_are_field_errors(void **state)
{
    (void)state;
    static const char *const specs[] = {"teams", "users:teams,nope", "teams", ":teams",
                                        "steps:users,ghost"};
    struct members m;
    members_parse(&m, specs, COUNT_OF(specs));
    struct orchestration_plan plan;
    struct iq_error err = {0};
    assert_int_equal(orchestration_plan_build(m.items, m.count, &plan, &err), IQ_E_INVALID);
    assert_null(plan.order);
    assert_non_null(strstr(find_field(&err, "jobs[2].key"), "duplicate key \"teams\""));
    assert_non_null(find_field(&err, "jobs[3].key"));
    assert_non_null(strstr(find_field(&err, "jobs[1].after[1]"), "\"nope\""));
    assert_non_null(strstr(find_field(&err, "jobs[4].after[1]"), "\"ghost\""));
    assert_null(find_field(&err, "jobs[0].key"));
    assert_null(find_field(&err, "jobs[1].after[0]"));
    assert_int_equal(err.field_count, 4);
    iq_error_clear(&err);
}

static void test_size_limits(void **state)
{
    (void)state;
    struct orchestration_plan plan;
    struct iq_error err = {0};
    assert_int_equal(orchestration_plan_build(NULL, 0, &plan, &err), IQ_E_INVALID);
    assert_non_null(find_field(&err, "jobs"));
    iq_error_clear(&err);

    size_t count = ORCHESTRATION_MAX_JOBS + 1;
    struct orchestration_member *many = calloc(count, sizeof(*many));
    assert_non_null(many);
    for (size_t i = 0; i < count; i++)
        many[i].key = "x";
    assert_int_equal(orchestration_plan_build(many, count, &plan, &err), IQ_E_INVALID);
    iq_error_clear(&err);

    char long_key[ORCHESTRATION_MAX_KEY_LEN + 2];
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    many[0].key = long_key;
    assert_int_equal(orchestration_plan_build(many, 1, &plan, &err), IQ_E_INVALID);
    assert_non_null(find_field(&err, "jobs[0].key"));
    iq_error_clear(&err);
    free(many);
}

static void test_cycles_are_conflicts_naming_the_keys(void **state)
{
    (void)state;
    static const struct {
        const char *specs[5];
        const char *named[4]; /* keys the message must name */
        const char *not_named;
    } cases[] = {
        {{"a:b", "b:a", NULL}, {"a", "b"}, NULL},
        {{"teams", "users:steps,teams", "steps:orders", "orders:users", NULL},
         {"users", "steps", "orders"},
         "teams"},
        {{"solo:solo", NULL}, {"solo"}, NULL},
        {{"down:loop1", "loop1:loop2", "loop2:loop1", NULL}, {"loop1", "loop2"}, "down"},
    };
    for (size_t c = 0; c < COUNT_OF(cases); c++) {
        size_t count = 0;
        while (cases[c].specs[count])
            count++;
        struct members m;
        members_parse(&m, cases[c].specs, count);
        struct orchestration_plan plan;
        struct iq_error err = {0};
        assert_int_equal(orchestration_plan_build(m.items, m.count, &plan, &err), IQ_E_CONFLICT);
        const char *message = iq_error_message(&err);
        assert_non_null(strstr(message, "cycle"));
        for (size_t k = 0; k < COUNT_OF(cases[c].named) && cases[c].named[k]; k++)
            if (!strstr(message, cases[c].named[k]))
                fail_msg("case %zu: \"%s\" does not name %s", c, message, cases[c].named[k]);
        if (cases[c].not_named)
            assert_null(strstr(message, cases[c].not_named));
        assert_null(plan.order);
        iq_error_clear(&err);
    }
}

static void test_aggregate_status_table(void **state)
{
    (void)state;
    /* Job states written as letters: W waiting (HELD/QUEUED, never run), H held,
     * T waiting for a retry, R running, C completed, F failed, X cancelled. */
    static const struct {
        const char *jobs;
        enum job_status want;
    } cases[] = {
        {"", JOB_QUEUED},    {"W", JOB_QUEUED},   {"WHW", JOB_QUEUED},   {"RW", JOB_RUNNING},
        {"CW", JOB_RUNNING}, {"TW", JOB_RUNNING}, {"T", JOB_RUNNING},    {"FW", JOB_RUNNING},
        {"XH", JOB_RUNNING}, {"CR", JOB_RUNNING}, {"C", JOB_COMPLETED},  {"CCC", JOB_COMPLETED},
        {"CF", JOB_FAILED},  {"FFF", JOB_FAILED}, {"CX", JOB_CANCELLED}, {"XX", JOB_CANCELLED},
        {"FX", JOB_FAILED},  {"CFX", JOB_FAILED},
    };
    for (size_t c = 0; c < COUNT_OF(cases); c++) {
        struct orchestration_tally tally = {0};
        for (const char *p = cases[c].jobs; *p; p++) {
            switch (*p) {
            case 'W':
                orchestration_tally_add(&tally, JOB_QUEUED, 0, 1);
                break;
            case 'H':
                orchestration_tally_add(&tally, JOB_HELD, 0, 1);
                break;
            case 'T':
                orchestration_tally_add(&tally, JOB_QUEUED, 2, 1);
                break;
            case 'R':
                orchestration_tally_add(&tally, JOB_RUNNING, 1, 1);
                break;
            case 'C':
                orchestration_tally_add(&tally, JOB_COMPLETED, 1, 1);
                break;
            case 'F':
                orchestration_tally_add(&tally, JOB_FAILED, 3, 1);
                break;
            case 'X':
                orchestration_tally_add(&tally, JOB_CANCELLED, 0, 1);
                break;
            default:
                fail_msg("bad case letter %c", *p);
            }
        }
        enum job_status got = orchestration_status(&tally);
        if (got != cases[c].want)
            fail_msg("jobs \"%s\": %s, want %s", cases[c].jobs, job_status_name(got),
                     job_status_name(cases[c].want));
    }
}

static void test_tally_counts_many_at_once(void **state)
{
    (void)state;
    struct orchestration_tally tally = {0};
    orchestration_tally_add(&tally, JOB_COMPLETED, 1, 40);
    orchestration_tally_add(&tally, JOB_FAILED, 1, 1);
    assert_int_equal(orchestration_status(&tally), JOB_FAILED);
    orchestration_tally_add(&tally, JOB_QUEUED, 0, 3);
    assert_int_equal(tally.waiting, 3);
    assert_int_equal(orchestration_status(&tally), JOB_RUNNING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orders_chain_fan_out_and_fan_in),
        cmocka_unit_test(test_duplicate_after_keys_count_once),
        cmocka_unit_test(test_key_problems_are_field_errors),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_cycles_are_conflicts_naming_the_keys),
        cmocka_unit_test(test_aggregate_status_table),
        cmocka_unit_test(test_tally_counts_many_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
