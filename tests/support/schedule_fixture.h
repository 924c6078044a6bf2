/*
 * schedule_fixture.h - schedules for the tests of firing (store, engine,
 * API): a row of stg_scheduled_imports written by SQL, as creating
 * schedules is not what these tests test, and reads of a schedule's state.
 */
#ifndef IMPORTQ_TESTS_SCHEDULE_FIXTURE_H
#define IMPORTQ_TESTS_SCHEDULE_FIXTURE_H

#include "support/store_fixture.h"

#include "core/uuid7.h"

/* What a test schedule is like; NULL/0 fields take the defaults. */
struct test_schedule {
    const char *name;       /* required, unique */
    const char *cron;       /* "0 2 * * *" */
    const char *timezone;   /* "UTC" */
    const char *job_json;   /* a job spec template; default loads <name>.csv into t_<n> */
    const char *misfire;    /* "run_once" */
    const char *overlap;    /* "allow" */
    int64_t next_run_at_ms; /* 0: NULL */
    bool disabled;
};

/* fixture_schedule_insert - insert the schedule, its id into ret_id. */
void fixture_schedule_insert(struct fixture *f, const struct test_schedule *schedule,
                             char ret_id[UUID_STR_LEN]);

/* fixture_schedule_int - an integer column of the schedule (run_count, ...). */
int64_t fixture_schedule_int(struct fixture *f, const char *id, const char *column);

/* fixture_schedule_text - a text column of the schedule; "" for NULL; caller frees. */
char *fixture_schedule_text(struct fixture *f, const char *id, const char *column);

/* fixture_schedule_next_ms - its next_run_at in ms, 0 for NULL. */
int64_t fixture_schedule_next_ms(struct fixture *f, const char *id);

#endif
