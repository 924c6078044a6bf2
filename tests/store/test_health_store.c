/*
 * test_health_store.c - the health history (store/health_ops.h) on both
 * backends, on the fake clock: a sample's counts (queue by status, locks,
 * jobs finished and rows imported in its interval, the oldest queued
 * age); one sample per slot however many connections try; rollups and
 * pruning keep the table bounded and keep the counters' sums and the
 * gauges' peaks; a series in buckets, and its bounds; open and acknowledged alerts counted
 * (critical ones of both).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/store_fixture.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX(state) ((struct fixture *)*(state))
#define SECOND_MS 1000LL
#define MINUTE_MS (60 * SECOND_MS)
#define HOUR_MS (60 * MINUTE_MS)

/* The ids of every job, oldest first, into ids[count]; caller frees the text. */
static char *job_ids(struct fixture *f, char **ids, int count)
{
    char *text = fixture_sql_text(f, "SELECT id FROM stg_import_queue ORDER BY id");
    assert_non_null(text);
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    for (int i = 0; i < count; i++) {
        assert_non_null(line);
        ids[i] = line;
        line = strtok_r(NULL, "\n", &save);
    }
    return text;
}

/* at - RFC 3339 text of the fake clock's start + offset_ms. */
static const char *at(char buf[TIME_RFC3339_LEN], int64_t offset_ms)
{
    return time_format_rfc3339(FAKE_CLOCK_START_MS + offset_ms, buf);
}

static struct health_snapshot_result snapshot(struct store *s, int64_t interval_ms)
{
    struct health_snapshot_result result;
    struct iq_error err = {0};
    if (store_health_snapshot(s, interval_ms, "node-a", &result, &err) < 0)
        fail_msg("snapshot: %s", iq_error_message(&err));
    return result;
}

static int64_t health_rows(struct fixture *f, const char *where)
{
    return fixture_int_fmt(f, "SELECT count(*) FROM stg_import_monitoring WHERE kind = 'health'%s%s",
                           where ? " AND " : "", where ? where : "");
}

/* Seven jobs: 2 QUEUED (one waiting 100 s), 1 HELD, 1 RUNNING with a
 * lock, and three finished: COMPLETED 5 s before the slot (42 rows),
 * FAILED 3 s before, COMPLETED 15 s before (outside a 10 s interval). */
static void seed_jobs(struct fixture *f)
{
    for (int i = 0; i < 7; i++)
        fixture_submit(f->store, "t");
    char *ids[7];
    char *text = job_ids(f, ids, 7);
    char t[TIME_RFC3339_LEN];
    fixture_exec_fmt(f, "UPDATE stg_import_queue SET created_at = '%s' WHERE id = '%s'",
                     at(t, -100 * SECOND_MS), ids[0]);
    fixture_exec_fmt(f, "UPDATE stg_import_queue SET status = 'HELD' WHERE id = '%s'", ids[2]);
    fixture_exec_fmt(f, "UPDATE stg_import_queue SET status = 'RUNNING' WHERE id = '%s'", ids[3]);
    fixture_exec_fmt(f,
                     "INSERT INTO stg_import_resources (id, name, mode, job_id, attempt,"
                     " acquired_at, expires_at) VALUES ('01900000-0000-7000-8000-0000000000aa',"
                     " 'table:t', 'exclusive', '%s', 1, '%s', '%s')",
                     ids[3], at(t, 0), at(t, 0));
#define FINISHED "UPDATE stg_import_queue SET status = '%s', finished_at = '%s'," \
                 " rows_inserted = %d, rows_updated = %d WHERE id = '%s'"
    fixture_exec_fmt(f, FINISHED, "COMPLETED", at(t, -5 * SECOND_MS), 40, 2, ids[4]);
    fixture_exec_fmt(f, FINISHED, "FAILED", at(t, -3 * SECOND_MS), 7, 0, ids[5]);
    fixture_exec_fmt(f, FINISHED, "COMPLETED", at(t, -15 * SECOND_MS), 1000, 0, ids[6]);
#undef FINISHED
    free(text);
}

static void test_snapshot_counts_the_queue_and_the_interval(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    seed_jobs(f);
    fake_clock_advance(&f->clock, 3 * SECOND_MS); /* still the slot ending at the start */
    struct health_snapshot_result r = snapshot(f->store, 10 * SECOND_MS);
    assert_true(r.taken);
    assert_int_equal(r.slot_ms, FAKE_CLOCK_START_MS);
    char *row = fixture_sql_text(
        f, "SELECT period_s || ',' || queue_depth || ',' || held || ',' || running || ',' ||"
           " locks_held || ',' || jobs_finished || ',' || jobs_failed || ',' || rows_imported"
           " || ',' || oldest_queued_age_s || ',' || node FROM stg_import_monitoring"
           " WHERE kind = 'health'");
    /* 100 s is the age at the slot (the clock reads 3 s later). */
    assert_string_equal(row, "10,2,1,1,1,2,1,42,100,node-a");
    free(row);
    assert_int_equal(health_rows(f, "throughput_rows_s > 4.19 AND throughput_rows_s < 4.21"), 1);
}

static void test_one_sample_per_slot_whoever_tries(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    struct store_options options = {.clock = &f->clock.clock};
    struct store *other = fixture_open_extra_with(f, &options);
    assert_true(snapshot(f->store, 10 * SECOND_MS).taken);
    assert_false(snapshot(other, 10 * SECOND_MS).taken);
    fake_clock_advance(&f->clock, 9 * SECOND_MS);
    assert_false(snapshot(f->store, 10 * SECOND_MS).taken);
    fake_clock_advance(&f->clock, 1 * SECOND_MS);
    struct health_snapshot_result r = snapshot(other, 10 * SECOND_MS);
    assert_true(r.taken);
    assert_int_equal(r.slot_ms, FAKE_CLOCK_START_MS + 10 * SECOND_MS);
    assert_false(snapshot(f->store, 10 * SECOND_MS).taken);
    assert_int_equal(health_rows(f, NULL), 2);
    store_close(other);
}

static void test_snapshot_interval_bounds(void **state)
{
    struct fixture *f = FIX(state);
    int64_t bad[] = {0, 999, 1500, HEALTH_INTERVAL_MAX_MS + 1000};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct health_snapshot_result r;
        struct iq_error err = {0};
        assert_int_equal(store_health_snapshot(f->store, bad[i], NULL, &r, &err), IQ_E_INVALID);
        iq_error_clear(&err);
    }
    assert_int_equal(health_rows(f, NULL), 0);
}

/* Samples every minute for 4 h on the fake clock, each counting one
 * finished job and 10 rows (set after the fact), one peak of 7 queued
 * at 1:58. */
static void seed_four_hours(struct fixture *f)
{
    fixture_use_fake_clock(f);
    for (int minute = 0; minute <= 240; minute++) {
        assert_true(snapshot(f->store, MINUTE_MS).taken);
        fake_clock_advance(&f->clock, MINUTE_MS);
    }
    fixture_exec_fmt(f, "UPDATE stg_import_monitoring SET jobs_finished = 1, rows_imported = 10,"
                        " queue_depth = 1 WHERE kind = 'health'");
    char t[TIME_RFC3339_LEN];
    fixture_exec_fmt(f,
                     "UPDATE stg_import_monitoring SET queue_depth = 7 WHERE kind = 'health'"
                     " AND created_at = '%s'",
                     at(t, 118 * MINUTE_MS));
}

static void test_compact_rolls_up_then_prunes(void **state)
{
    struct fixture *f = FIX(state);
    seed_four_hours(f);
    assert_int_equal(health_rows(f, NULL), 241);
    struct health_retention keep = {.now_ms = FAKE_CLOCK_START_MS + 4 * HOUR_MS,
                                    .sample_keep_ms = HOUR_MS,
                                    .rollup_keep_ms = 3 * HOUR_MS};
    struct health_compaction done;
    struct iq_error err = {0};
    assert_int_equal(store_health_compact(f->store, &keep, &done, &err), 0);
    /* Samples ending up to 3:00 (181) became rollups ending 0:00 … 3:00
     * (37); those ending before 1:00 (12) were then deleted. */
    assert_int_equal(done.rollups_written, 37);
    assert_int_equal(done.samples_deleted, 181);
    assert_int_equal(done.rollups_deleted, 12);
    assert_int_equal(health_rows(f, "period_s = 60"), 60);
    assert_int_equal(health_rows(f, "period_s = 300"), 25);
    /* Counters are summed: 5 samples a rollup, 125 + 60 in all. */
    assert_int_equal(fixture_sql_int(f, "SELECT sum(jobs_finished) FROM stg_import_monitoring"), 185);
    assert_int_equal(health_rows(f, "period_s = 300 AND rows_imported = 50"), 25);
    /* Gauges keep their peak: 1:58 lies in the rollup ending at 2:00. */
    char t[TIME_RFC3339_LEN];
    char where[128];
    snprintf(where, sizeof(where), "period_s = 300 AND queue_depth = 7 AND created_at = '%s'",
             at(t, 120 * MINUTE_MS));
    assert_int_equal(health_rows(f, where), 1);
    assert_int_equal(health_rows(f, "queue_depth = 7"), 1);
    /* Again at once: nothing left to do. */
    assert_int_equal(store_health_compact(f->store, &keep, &done, &err), 0);
    assert_int_equal(done.rollups_written + done.samples_deleted + done.rollups_deleted, 0);
    /* A day later everything is past both retentions. */
    keep.now_ms += 24 * HOUR_MS;
    assert_int_equal(store_health_compact(f->store, &keep, &done, &err), 0);
    assert_int_equal(health_rows(f, NULL), 0);
}

static void test_compact_merges_late_samples_into_their_rollup(void **state)
{
    struct fixture *f = FIX(state);
    seed_four_hours(f);
    struct health_retention keep = {.now_ms = FAKE_CLOCK_START_MS + 4 * HOUR_MS,
                                    .sample_keep_ms = HOUR_MS,
                                    .rollup_keep_ms = 24 * HOUR_MS};
    struct health_compaction done;
    struct iq_error err = {0};
    assert_int_equal(store_health_compact(f->store, &keep, &done, &err), 0);
    /* A sample of a node with another interval arrives for 2:00's bucket. */
    char t[TIME_RFC3339_LEN];
    fixture_exec_fmt(f,
                     "INSERT INTO stg_import_monitoring (kind, period_s, created_at, queue_depth,"
                     " held, running, locks_held, jobs_finished, jobs_failed, rows_imported,"
                     " oldest_queued_age_s) VALUES ('health', 30, '%s', 9, 0, 0, 0, 3, 0, 0, 0)",
                     at(t, 119 * MINUTE_MS));
    assert_int_equal(store_health_compact(f->store, &keep, &done, &err), 0);
    assert_int_equal(done.rollups_written, 1);
    assert_int_equal(done.samples_deleted, 1);
    char where[128];
    snprintf(where, sizeof(where), "period_s = 300 AND created_at = '%s'", at(t, 120 * MINUTE_MS));
    assert_int_equal(fixture_int_fmt(f, "SELECT queue_depth * 100 + jobs_finished FROM"
                                        " stg_import_monitoring WHERE kind = 'health' AND %s",
                                     where),
                     908);
}

static void test_compact_checks_its_retention(void **state)
{
    struct fixture *f = FIX(state);
    struct health_retention keep = {.now_ms = FAKE_CLOCK_START_MS,
                                    .sample_keep_ms = HOUR_MS,
                                    .rollup_keep_ms = MINUTE_MS};
    struct health_compaction done;
    struct iq_error err = {0};
    assert_int_equal(store_health_compact(f->store, &keep, &done, &err), IQ_E_INVALID);
    iq_error_clear(&err);
}

static void test_series_in_buckets(void **state)
{
    struct fixture *f = FIX(state);
    fixture_use_fake_clock(f);
    for (int k = 0; k <= 60; k++) { /* samples ending at 0:00:00 … 0:10:00 */
        assert_true(snapshot(f->store, 10 * SECOND_MS).taken);
        fake_clock_advance(&f->clock, 10 * SECOND_MS);
    }
    fixture_exec_fmt(f, "UPDATE stg_import_monitoring SET jobs_finished = 1, rows_imported = 5");
    char t[TIME_RFC3339_LEN];
    fixture_exec_fmt(f, "UPDATE stg_import_monitoring SET running = 3 WHERE created_at = '%s'",
                     at(t, 250 * SECOND_MS));
    struct health_series series;
    struct iq_error err = {0};
    assert_int_equal(store_health_series(f->store, FAKE_CLOCK_START_MS,
                                         FAKE_CLOCK_START_MS + 10 * MINUTE_MS, 60, &series, &err),
                     0);
    assert_int_equal(series.count, 10);
    for (size_t i = 0; i < series.count; i++) {
        const struct health_point *p = &series.items[i];
        assert_int_equal(p->at_ms, FAKE_CLOCK_START_MS + (int64_t)i * MINUTE_MS);
        assert_int_equal(p->sum.period_s, 60);
        assert_int_equal(p->sum.jobs_finished, 6);
        assert_int_equal(p->sum.rows_imported, 30);
        assert_int_equal(p->sum.running, i == 4 ? 3 : 0); /* 4:10 covers 4:00 … 4:10 */
    }
    health_series_clear(&series);
    /* One bucket for the lot. */
    assert_int_equal(store_health_series(f->store, FAKE_CLOCK_START_MS,
                                         FAKE_CLOCK_START_MS + 10 * MINUTE_MS, 3600, &series, &err),
                     0);
    assert_int_equal(series.count, 1);
    assert_int_equal(series.items[0].sum.jobs_finished, 60);
    health_series_clear(&series);
}

static void test_series_bounds(void **state)
{
    struct fixture *f = FIX(state);
    struct health_series series;
    struct iq_error err = {0};
    assert_int_equal(store_health_series(f->store, 0, 1001 * SECOND_MS, 1, &series, &err),
                     IQ_E_INVALID);
    assert_int_equal(err.field_count, 1);
    assert_string_equal(err.fields[0].field, "step");
    iq_error_clear(&err);
    assert_int_equal(store_health_series(f->store, 0, 1000 * SECOND_MS, 1, &series, &err), 0);
    assert_int_equal(series.count, 0);
    health_series_clear(&series);
    assert_int_equal(store_health_series(f->store, 0, HOUR_MS, 0, &series, &err), IQ_E_INVALID);
    iq_error_clear(&err);
    assert_int_equal(store_health_series(f->store, HOUR_MS, HOUR_MS, 60, &series, &err),
                     IQ_E_INVALID);
    assert_string_equal(err.fields[0].field, "since");
    iq_error_clear(&err);
}

static void test_alert_counts(void **state)
{
    struct fixture *f = FIX(state);
    struct alert_counts counts;
    struct iq_error err = {0};
    assert_int_equal(store_alert_counts(f->store, &counts, &err), 0);
    assert_int_equal(counts.open, 0);
    assert_int_equal(counts.acked, 0);
    assert_int_equal(counts.firing_critical, 0);
    const char *states[][2] = {{"open", "critical"}, {"open", "warning"}, {"acked", "critical"},
                               {"resolved", "critical"}};
    for (size_t i = 0; i < 4; i++)
        fixture_exec_fmt(f,
                         "INSERT INTO stg_import_monitoring (kind, rule, severity, state,"
                         " created_at) VALUES ('alert', 'job_failed', '%s', '%s',"
                         " '2030-01-01T00:00:00.000Z')",
                         states[i][1], states[i][0]);
    assert_int_equal(store_alert_counts(f->store, &counts, &err), 0);
    assert_int_equal(counts.open, 2);
    assert_int_equal(counts.acked, 1);
    assert_int_equal(counts.firing_critical, 2); /* the open one and the acknowledged one */
}

static const struct CMUnitTest health_tests[] = {
    cmocka_unit_test_setup_teardown(test_snapshot_counts_the_queue_and_the_interval,
                                    fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_one_sample_per_slot_whoever_tries, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_snapshot_interval_bounds, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_compact_rolls_up_then_prunes, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_compact_merges_late_samples_into_their_rollup,
                                    fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_compact_checks_its_retention, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_series_in_buckets, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_series_bounds, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_alert_counts, fixture_setup, fixture_teardown),
};

int main(void)
{
    return fixture_run_backends("health_store", "health store tests", health_tests,
                                sizeof(health_tests) / sizeof(health_tests[0]));
}
