/*
 * schedule_fixture.c - see schedule_fixture.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/schedule_fixture.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fixture_schedule_insert(struct fixture *f, const struct test_schedule *schedule,
                             char ret_id[UUID_STR_LEN])
{
    static unsigned serial;
    uuid7_generate(ret_id);
    char job[1024];
    if (schedule->job_json)
        snprintf(job, sizeof(job), "%s", schedule->job_json);
    else
        snprintf(job, sizeof(job),
                 "{\"name\": \"%s\", \"source\": {\"format\": \"csv\", \"path\": \"%s.csv\"},"
                 " \"target\": {\"table\": \"t_%u\"}}",
                 schedule->name, schedule->name, ++serial);
    char next[TIME_RFC3339_LEN + 2] = "NULL", now[TIME_RFC3339_LEN];
    if (schedule->next_run_at_ms) {
        char text[TIME_RFC3339_LEN];
        snprintf(next, sizeof(next), "'%s'", time_format_rfc3339(schedule->next_run_at_ms, text));
    }
    time_format_rfc3339(FAKE_CLOCK_START_MS, now);
    fixture_exec_fmt(f,
                     "INSERT INTO stg_scheduled_imports (id, name, cron, timezone, job_spec,"
                     " misfire, overlap, enabled, next_run_at, created_at, updated_at)"
                     " VALUES ('%s', '%s', '%s', '%s', '%s', '%s', '%s', %s, %s, '%s', '%s')",
                     ret_id, schedule->name, schedule->cron ? schedule->cron : "0 2 * * *",
                     schedule->timezone ? schedule->timezone : "UTC", job,
                     schedule->misfire ? schedule->misfire : "run_once",
                     schedule->overlap ? schedule->overlap : "allow",
                     schedule->disabled ? "false" : "true", next, now, now);
}

int64_t fixture_schedule_int(struct fixture *f, const char *id, const char *column)
{
    return fixture_int_fmt(f, "SELECT %s FROM stg_scheduled_imports WHERE id = '%s'", column, id);
}

char *fixture_schedule_text(struct fixture *f, const char *id, const char *column)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(CAST(%s AS text), '') FROM stg_scheduled_imports WHERE id = '%s'",
             column, id);
    return fixture_sql_text(f, sql);
}

int64_t fixture_schedule_next_ms(struct fixture *f, const char *id)
{
    char *text = fixture_schedule_text(f, id,
                                       strcmp(f->backend, "postgres") == 0
                                           ? "to_char(next_run_at AT TIME ZONE 'UTC',"
                                             " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
                                           : "next_run_at");
    int64_t ms = 0;
    if (text && text[0])
        assert_int_equal(time_parse_rfc3339(text, &ms), 0);
    free(text);
    return ms;
}
