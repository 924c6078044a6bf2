/*
 * test_store.c - the job store suite, one test code for both backends:
 * every test runs once on SQLite and once on PostgreSQL (group setup picks
 * the backend). Covers what the store owns of the job spec
 * (docs/job-spec.md) and of CONTRACT §3: creation, idempotency, capacity,
 * dependencies and cycles, list filters and keyset pages, updates,
 * cancellation cascades, counts, the audit chain, indexes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/audit.h"
#include "core/timeutil.h"
#include "support/store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STORE(state) (((struct fixture *)*(state))->store)
#define FIX(state) ((struct fixture *)*(state))

/* Creates a job from spec (freed here) and returns it; fails the test on error. */
static struct job *create(void **state, struct job_spec *spec)
{
    struct job_create_request req = {.spec = spec, .max_queue_size = 0};
    struct job *job = NULL;
    bool existed = true;
    struct iq_error err = {0};
    int rc = store_job_create(STORE(state), &req, &test_actor, &job, &existed, &err);
    if (rc < 0)
        fail_msg("job_create: %s", iq_error_message(&err));
    assert_false(existed);
    job_spec_free(spec);
    return job;
}

/* Creates a job for table and returns its id in out. */
static void create_id(void **state, const char *table, int priority, const char *extra,
                      char out[UUID_STR_LEN])
{
    struct job *job = create(state, spec_simple(table, priority, extra));
    memcpy(out, job->id, UUID_STR_LEN);
    job_free(job);
}

static struct job *get(void **state, const char *id)
{
    struct job *job = NULL;
    struct iq_error err = {0};
    if (store_job_get(STORE(state), id, &job, &err) < 0)
        fail_msg("job_get %s: %s", id, iq_error_message(&err));
    return job;
}

static void test_migrate_is_idempotent(void **state)
{
    struct iq_error err = {0};
    int applied = -1, version = 0;
    assert_int_equal(store_migrate(STORE(state), &applied, &err), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(store_schema_version(STORE(state), &version, &err), 0);
    assert_true(version >= 1);
    const char *sql = strcmp(FIX(state)->backend, "postgres") == 0
                          ? "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                            "'public' AND table_name IN ('stg_import_queue', 'stg_import_resources',"
                            " 'stg_import_coordination', 'stg_import_performance',"
                            " 'stg_import_monitoring', 'stg_import_audit', 'stg_scheduled_imports')"
                          : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                            "('stg_import_queue', 'stg_import_resources', 'stg_import_coordination',"
                            " 'stg_import_performance', 'stg_import_monitoring', 'stg_import_audit',"
                            " 'stg_scheduled_imports')";
    assert_int_equal(fixture_sql_int(FIX(state), sql), 7);
    /* Each migration recorded once, the newest being the version (numbers
     * may have gaps while branches that own them are merged). */
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) - count(DISTINCT version)"
                                                 " FROM importq_schema_version"),
                     0);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT max(version) FROM importq_schema_version"),
                     version);
}

static void test_create_and_get_round_trip(void **state)
{
    int64_t before = time_now_ms();
    struct job *job = create(state, spec_from_json(
        "{\"name\": \"users nightly\", \"priority\": 2, \"max_attempts\": 4, \"timeout_s\": 60,"
        " \"resources\": [{\"name\": \"api:crm\", \"mode\": \"shared\"}],"
        " \"source\": {\"format\": \"csv\", \"path\": \"users.csv\"},"
        " \"target\": {\"table\": \"users\", \"mode\": \"upsert\", \"key\": [\"user_id\"]},"
        " \"on_error\": {\"action\": \"skip\", \"max_rejects\": 10}}"));
    assert_true(uuid_is_valid(job->id));
    assert_int_equal(job->id[14], '7'); /* UUIDv7 */
    struct job *again = get(state, job->id);
    assert_string_equal(again->name, "users nightly");
    assert_int_equal(again->status, JOB_QUEUED);
    assert_int_equal(again->priority, 2);
    assert_int_equal(again->attempt, 0);
    assert_int_equal(again->max_attempts, 4);
    assert_int_equal(again->timeout_s, 60);
    assert_string_equal(again->target_table, "users");
    assert_string_equal(again->created_by, "test-suite");
    assert_null(again->request_id);
    assert_null(again->error);
    assert_false(again->cancel_requested);
    assert_true(again->created_at_ms >= before - 1000 && again->created_at_ms <= time_now_ms() + 1000);
    assert_int_equal(again->available_at_ms, again->created_at_ms);
    assert_int_equal(again->resource_count, 2);
    assert_string_equal(again->resources[0].name, "table:users");
    assert_int_equal(again->resources[0].mode, LOCK_EXCLUSIVE);
    assert_string_equal(again->resources[1].name, "api:crm");
    assert_int_equal(again->resources[1].mode, LOCK_SHARED);
    assert_string_equal(json_string_value(json_object_get(again->target, "mode")), "upsert");
    assert_int_equal(json_integer_value(json_object_get(again->on_error, "max_rejects")), 10);
    assert_true(json_equal(job->source, again->source));
    json_t *resource = job_to_json(again);
    assert_non_null(resource);
    assert_string_equal(json_string_value(json_object_get(resource, "status")), "QUEUED");
    json_decref(resource);
    job_free(again);
    job_free(job);
}

static void test_create_held_and_scheduled(void **state)
{
    struct job *held = create(state, spec_simple("teams", 5, "\"hold\": true"));
    assert_int_equal(held->status, JOB_HELD);
    struct job *later = create(state, spec_simple("teams", 5, "\"scheduled_at\": \"2030-01-02T03:04:05.678Z\""));
    int64_t expected;
    assert_int_equal(time_parse_rfc3339("2030-01-02T03:04:05.678Z", &expected), 0);
    assert_int_equal(later->scheduled_at_ms, expected);
    assert_int_equal(later->available_at_ms, expected);
    job_free(held);
    job_free(later);
}

static void test_create_is_idempotent_on_request_id(void **state)
{
    struct job *first = create(state, spec_simple("users", 5, "\"request_id\": \"abc-1\""));
    int64_t audit_rows = fixture_sql_int(FIX(state), "SELECT count(*) FROM stg_import_audit");
    struct job_spec *spec = spec_simple("users", 5, "\"request_id\": \"abc-1\"");
    struct job_create_request req = {.spec = spec};
    struct job *second = NULL;
    bool existed = false;
    struct iq_error err = {0};
    assert_int_equal(store_job_create(STORE(state), &req, &test_actor, &second, &existed, &err), 0);
    assert_true(existed);
    assert_string_equal(second->id, first->id);
    assert_string_equal(second->request_id, "abc-1");
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM stg_import_queue"), 1);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM stg_import_audit"), audit_rows);
    job_spec_free(spec);
    job_free(first);
    job_free(second);
}

static void test_queue_capacity(void **state)
{
    struct iq_error err = {0};
    char ids[3][UUID_STR_LEN];
    for (int i = 0; i < 3; i++) {
        struct job_spec *spec = spec_simple("users", 5, i == 0 ? "\"hold\": true" : NULL);
        struct job_create_request req = {.spec = spec, .max_queue_size = 3};
        struct job *job = NULL;
        bool existed;
        assert_int_equal(store_job_create(STORE(state), &req, &test_actor, &job, &existed, &err), 0);
        memcpy(ids[i], job->id, UUID_STR_LEN);
        job_free(job);
        job_spec_free(spec);
    }
    struct job_spec *spec = spec_simple("users", 5, NULL);
    struct job_create_request req = {.spec = spec, .max_queue_size = 3};
    struct job *job = NULL;
    bool existed;
    assert_int_equal(store_job_create(STORE(state), &req, &test_actor, &job, &existed, &err),
                     IQ_E_QUEUE_FULL);
    assert_null(job);
    assert_non_null(strstr(iq_error_message(&err), "queue is full"));
    iq_error_clear(&err);
    /* A cancelled job frees its slot. */
    struct job *cancelled = NULL;
    assert_int_equal(store_job_cancel(STORE(state), ids[1], &test_actor, &cancelled, &err), 0);
    job_free(cancelled);
    assert_int_equal(store_job_create(STORE(state), &req, &test_actor, &job, &existed, &err), 0);
    job_free(job);
    job_spec_free(spec);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM stg_import_queue"), 4);
}

static void test_unknown_dependency_conflicts(void **state)
{
    char extra[200];
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"]", "01900000-0000-7000-8000-000000000000");
    struct job_spec *spec = spec_simple("users", 5, extra);
    struct job_create_request req = {.spec = spec};
    struct job *job = NULL;
    bool existed;
    struct iq_error err = {0};
    assert_int_equal(store_job_create(STORE(state), &req, &test_actor, &job, &existed, &err),
                     IQ_E_CONFLICT);
    assert_non_null(strstr(iq_error_message(&err), "unknown dependency"));
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM stg_import_queue"), 0);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM stg_import_audit"), 0);
    iq_error_clear(&err);
    job_spec_free(spec);
}

static void test_dependencies_are_recorded(void **state)
{
    char teams[UUID_STR_LEN], apps[UUID_STR_LEN], extra[200];
    create_id(state, "teams", 5, NULL, teams);
    create_id(state, "applications", 5, NULL, apps);
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\", \"%s\"]", teams, apps);
    struct job *users = create(state, spec_simple("users", 5, extra));
    assert_int_equal(users->deps_pending, 2);
    assert_int_equal(users->depends_on_count, 2);
    const char *low = strcmp(teams, apps) < 0 ? teams : apps;
    assert_string_equal(users->depends_on[0], low);
    job_free(users);
}

static void test_dependency_already_cancelled_fails_job(void **state)
{
    char teams[UUID_STR_LEN], extra[200];
    create_id(state, "teams", 5, NULL, teams);
    struct job *cancelled = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_job_cancel(STORE(state), teams, &test_actor, &cancelled, &err), 0);
    job_free(cancelled);
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"]", teams);
    struct job *users = create(state, spec_simple("users", 5, extra));
    assert_int_equal(users->status, JOB_FAILED);
    assert_string_equal(json_string_value(json_object_get(users->error, "code")), "dependency_failed");
    assert_true(users->finished_at_ms > 0);
    job_free(users);
}

static void test_get_unknown_is_not_found(void **state)
{
    struct job *job = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_job_get(STORE(state), "01900000-0000-7000-8000-000000000000", &job, &err),
                     IQ_E_NOT_FOUND);
    assert_null(job);
    iq_error_clear(&err);
}

/* Lists with filter and returns the count; checks order and page links. */
static size_t list_all(void **state, struct job_filter filter, int page_size)
{
    filter.limit = page_size;
    size_t total = 0;
    char after[UUID_STR_LEN] = "";
    char previous[UUID_STR_LEN] = "";
    for (int pages = 0; pages < 1000; pages++) {
        filter.after_id = after[0] ? after : NULL;
        struct job_page page = {0};
        struct iq_error err = {0};
        if (store_job_list(STORE(state), &filter, &page, &err) < 0)
            fail_msg("job_list: %s", iq_error_message(&err));
        assert_true(page.count <= (size_t)page_size);
        for (size_t i = 0; i < page.count; i++) {
            if (previous[0])
                assert_true(strcmp(page.items[i]->id, previous) < 0); /* newest first */
            memcpy(previous, page.items[i]->id, UUID_STR_LEN);
        }
        total += page.count;
        memcpy(after, page.next_after_id, UUID_STR_LEN);
        job_page_clear(&page);
        if (!after[0])
            return total;
    }
    fail_msg("pagination did not end");
    return 0;
}

static void test_list_filters_and_pages(void **state)
{
    char id[UUID_STR_LEN];
    for (int i = 0; i < 12; i++)
        create_id(state, i % 3 == 0 ? "teams" : "users", 1 + i % 10, i % 4 == 0 ? "\"hold\": true" : NULL, id);
    struct job *odd = create(state, spec_from_json(
        "{\"name\": \"50%_off report\", \"source\": {\"path\": \"x.csv\"}, \"target\": {\"table\": \"reports\"}}"));
    struct job_filter all = {0};
    assert_int_equal(list_all(state, all, 5), 13);
    assert_int_equal(list_all(state, all, 500), 13);
    assert_int_equal(list_all(state, all, 1), 13);
    struct job_filter held = {.status_mask = 1u << JOB_HELD};
    assert_int_equal(list_all(state, held, 2), 3);
    struct job_filter queued_or_held = {.status_mask = (1u << JOB_HELD) | (1u << JOB_QUEUED)};
    assert_int_equal(list_all(state, queued_or_held, 4), 13);
    struct job_filter prio = {.priority_min = 2, .priority_max = 4};
    assert_int_equal(list_all(state, prio, 3), 4); /* i = 1, 2, 3, 11 */
    struct job_filter table = {.table = "teams"};
    assert_int_equal(list_all(state, table, 3), 4);
    struct job_filter q = {.q = "50%_OFF"};
    assert_int_equal(list_all(state, q, 3), 1);
    struct job_filter q_wild = {.q = "%"};
    assert_int_equal(list_all(state, q_wild, 3), 1); /* % is literal */
    struct job_filter after = {.created_after_ms = odd->created_at_ms - 1};
    assert_true(list_all(state, after, 50) >= 1);
    struct job_filter before = {.created_before_ms = 1};
    assert_int_equal(list_all(state, before, 50), 0);
    struct job_filter none = {.orchestration_id = "01900000-0000-7000-8000-000000000000"};
    assert_int_equal(list_all(state, none, 50), 0);
    job_free(odd);
}

static void test_update_replaces_fields(void **state)
{
    char teams[UUID_STR_LEN], extra[300];
    create_id(state, "teams", 5, NULL, teams);
    struct job *job = create(state, spec_simple("users", 5, NULL));
    snprintf(extra, sizeof(extra),
             "\"priority\": 1, \"depends_on\": [\"%s\"], \"timeout_s\": 99,"
             " \"scheduled_at\": \"2031-05-06T07:08:09Z\"", teams);
    struct job_spec *spec = spec_simple("members", 5, extra);
    struct job *updated = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_job_update(STORE(state), job->id, spec, &test_actor, &updated, &err), 0);
    assert_int_equal(updated->priority, 1);
    assert_int_equal(updated->timeout_s, 99);
    assert_string_equal(updated->target_table, "members");
    assert_string_equal(updated->resources[0].name, "table:members");
    assert_int_equal(updated->depends_on_count, 1);
    assert_string_equal(updated->depends_on[0], teams);
    assert_int_equal(updated->deps_pending, 1);
    int64_t when;
    time_parse_rfc3339("2031-05-06T07:08:09Z", &when);
    assert_int_equal(updated->available_at_ms, when);
    assert_int_equal(updated->status, JOB_QUEUED);
    job_spec_free(spec);
    job_free(updated);
    job_free(job);
}

static void test_update_refuses_cycles_and_finished_jobs(void **state)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN], extra[200];
    struct iq_error err = {0};
    struct job *out = NULL;
    create_id(state, "a", 5, NULL, a);
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"]", a);
    create_id(state, "b", 5, extra, b);
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"]", b);
    create_id(state, "c", 5, extra, c);
    /* a -> c closes a cycle a <- b <- c <- a. */
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"]", c);
    struct job_spec *spec = spec_simple("a", 5, extra);
    assert_int_equal(store_job_update(STORE(state), a, spec, &test_actor, &out, &err), IQ_E_CONFLICT);
    assert_non_null(strstr(iq_error_message(&err), "cycle"));
    iq_error_clear(&err);
    job_spec_free(spec);
    /* Self dependency. */
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"]", a);
    spec = spec_simple("a", 5, extra);
    assert_int_equal(store_job_update(STORE(state), a, spec, &test_actor, &out, &err), IQ_E_CONFLICT);
    iq_error_clear(&err);
    job_spec_free(spec);
    /* Unchanged after the refusals. */
    struct job *job_a = get(state, a);
    assert_int_equal(job_a->depends_on_count, 0);
    job_free(job_a);
    /* Finished jobs cannot change; unknown ids are 404. */
    assert_int_equal(store_job_cancel(STORE(state), c, &test_actor, &out, &err), 0);
    job_free(out);
    out = NULL;
    spec = spec_simple("c", 1, NULL);
    assert_int_equal(store_job_update(STORE(state), c, spec, &test_actor, &out, &err), IQ_E_CONFLICT);
    iq_error_clear(&err);
    assert_int_equal(store_job_update(STORE(state), "01900000-0000-7000-8000-000000000000", spec,
                                      &test_actor, &out, &err), IQ_E_NOT_FOUND);
    iq_error_clear(&err);
    job_spec_free(spec);
    assert_null(out);
}

static void test_cancel_cascades_to_dependants(void **state)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN], other[UUID_STR_LEN], extra[200];
    create_id(state, "a", 5, NULL, a);
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"]", a);
    create_id(state, "b", 5, extra, b);
    snprintf(extra, sizeof(extra), "\"depends_on\": [\"%s\"], \"hold\": true", b);
    create_id(state, "c", 5, extra, c);
    create_id(state, "d", 5, NULL, other);
    struct job *out = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_job_cancel(STORE(state), a, &test_actor, &out, &err), 0);
    assert_int_equal(out->status, JOB_CANCELLED);
    assert_string_equal(json_string_value(json_object_get(out->error, "code")), "cancelled");
    assert_true(out->finished_at_ms > 0);
    job_free(out);
    out = NULL;
    const char *dependants[] = {b, c};
    for (int i = 0; i < 2; i++) {
        struct job *job = get(state, dependants[i]);
        assert_int_equal(job->status, JOB_FAILED);
        assert_string_equal(json_string_value(json_object_get(job->error, "code")), "dependency_failed");
        job_free(job);
    }
    struct job *untouched = get(state, other);
    assert_int_equal(untouched->status, JOB_QUEUED);
    job_free(untouched);
    /* Cancelling a finished job is a conflict and changes nothing. */
    assert_int_equal(store_job_cancel(STORE(state), a, &test_actor, &out, &err), IQ_E_CONFLICT);
    assert_non_null(strstr(iq_error_message(&err), "already"));
    iq_error_clear(&err);
    assert_int_equal(store_job_cancel(STORE(state), "01900000-0000-7000-8000-000000000000",
                                      &test_actor, &out, &err), IQ_E_NOT_FOUND);
    iq_error_clear(&err);
    assert_int_equal(fixture_sql_int(FIX(state),
                     "SELECT count(*) FROM stg_import_audit WHERE action = 'job.dependency_failed'"), 2);
}

static void test_queue_stats(void **state)
{
    char id[UUID_STR_LEN];
    for (int i = 0; i < 4; i++)
        create_id(state, "users", 5, NULL, id);
    create_id(state, "users", 5, "\"hold\": true", id);
    struct job *out = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_job_cancel(STORE(state), id, &test_actor, &out, &err), 0);
    job_free(out);
    create_id(state, "users", 5, "\"hold\": true", id);
    struct queue_stats stats;
    assert_int_equal(store_queue_stats(STORE(state), time_now_ms() + 5000, &stats, &err), 0);
    assert_int_equal(stats.count[JOB_QUEUED], 4);
    assert_int_equal(stats.count[JOB_HELD], 1);
    assert_int_equal(stats.count[JOB_CANCELLED], 1);
    assert_int_equal(stats.count[JOB_RUNNING], 0);
    assert_int_equal(stats.completed_24h, 0);
    assert_true(stats.oldest_queued_age_s >= 4 && stats.oldest_queued_age_s <= 60);
}

/* Recomputes the audit chain from the rows, as a verifier would. */
static void check_audit_chain(struct fixture *f, int64_t expected_rows)
{
    const bool pg = strcmp(f->backend, "postgres") == 0;
    const char *sql = pg
        ? "SELECT json_build_array(id, to_char(at AT TIME ZONE 'UTC', "
          "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), actor, action, entity, entity_id, before::text,"
          " after::text, request_id, client_addr, prev_hash, hash)::text FROM stg_import_audit ORDER BY id"
        : "SELECT json_array(id, at, actor, action, entity, entity_id, before, after, request_id,"
          " client_addr, prev_hash, hash) FROM stg_import_audit ORDER BY id";
    char *rows = fixture_sql_text(f, sql);
    char prev[AUDIT_HASH_LEN] = AUDIT_GENESIS_HASH;
    int64_t count = 0;
    for (char *line = strtok(rows, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *row = json_loads(line, 0, NULL);
        assert_non_null(row);
        struct audit_record rec = {0};
        rec.id = json_integer_value(json_array_get(row, 0));
        assert_int_equal(rec.id, count + 1);
        assert_int_equal(time_parse_rfc3339(json_string_value(json_array_get(row, 1)), &rec.at_ms), 0);
        rec.actor = json_string_value(json_array_get(row, 2));
        rec.action = json_string_value(json_array_get(row, 3));
        rec.entity = json_string_value(json_array_get(row, 4));
        rec.entity_id = json_string_value(json_array_get(row, 5));
        rec.before_json = json_string_value(json_array_get(row, 6));
        rec.after_json = json_string_value(json_array_get(row, 7));
        rec.request_id = json_string_value(json_array_get(row, 8));
        rec.client_addr = json_string_value(json_array_get(row, 9));
        rec.prev_hash = prev;
        assert_string_equal(json_string_value(json_array_get(row, 10)), prev);
        char hash[AUDIT_HASH_LEN];
        audit_hash(&rec, hash);
        assert_string_equal(json_string_value(json_array_get(row, 11)), hash);
        memcpy(prev, hash, AUDIT_HASH_LEN);
        json_decref(row);
        count++;
    }
    free(rows);
    assert_int_equal(count, expected_rows);
}

static void test_mutations_are_audited_in_a_chain(void **state)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    create_id(state, "a", 5, NULL, a);                           /* 1 */
    create_id(state, "b", 5, NULL, b);                           /* 2 */
    struct job_spec *spec = spec_simple("a", 3, NULL);
    struct job *out = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_job_update(STORE(state), a, spec, &test_actor, &out, &err), 0); /* 3 */
    job_free(out);
    job_spec_free(spec);
    assert_int_equal(store_job_cancel(STORE(state), b, &test_actor, &out, &err), 0); /* 4 */
    job_free(out);
    check_audit_chain(FIX(state), 4);
    assert_int_equal(fixture_sql_int(FIX(state),
                     "SELECT count(*) FROM stg_import_audit WHERE actor = 'test-suite' AND "
                     "request_id = 'req-1' AND client_addr = '127.0.0.1'"), 4);
    assert_int_equal(fixture_sql_int(FIX(state),
                     "SELECT count(*) FROM stg_import_audit WHERE action = 'job.create' AND before IS NULL"), 2);
    /* A creation records the whole job; a change only the fields it changed. */
    json_t *created = fixture_audit_images(FIX(state), "job.create", a);
    assert_true(json_is_null(json_array_get(created, 0)));
    assert_string_equal(json_string_value(json_object_get(json_array_get(created, 1), "name")), "load a");
    assert_non_null(json_object_get(json_array_get(created, 1), "source"));
    json_decref(created);
    json_t *updated = fixture_audit_images(FIX(state), "job.update", a);
    json_t *old = json_array_get(updated, 0), *new = json_array_get(updated, 1);
    assert_int_equal(json_integer_value(json_object_get(old, "priority")), 5);
    assert_int_equal(json_integer_value(json_object_get(new, "priority")), 3);
    assert_non_null(json_object_get(new, "updated_at"));
    const char *unchanged[] = {"id", "name", "status", "source", "target", "created_at"};
    for (size_t i = 0; i < sizeof(unchanged) / sizeof(unchanged[0]); i++) {
        assert_null(json_object_get(old, unchanged[i]));
        assert_null(json_object_get(new, unchanged[i]));
    }
    json_decref(updated);
    /* No trigger guards the rows (migration 002): editing one breaks the
     * chain, which tests/store/test_admin_store.c checks. */
}

/*
 * updated_at strictly increases on every change of a row, even when the
 * clock does not move on (two changes in one millisecond made the update
 * invisible in its audit image, ~1 run in 3 on SQLite) or stepped back: a
 * row whose updated_at lies in the future gets 1 ms past it per change.
 */
static void test_updated_at_strictly_increases(void **state)
{
    char a[UUID_STR_LEN];
    create_id(state, "a", 5, NULL, a);
    int64_t future_ms = 0;
    assert_int_equal(time_parse_rfc3339("2099-01-01T00:00:00.000Z", &future_ms), 0);
    fixture_exec_fmt(FIX(state),
                     "UPDATE stg_import_queue SET updated_at = '2099-01-01T00:00:00.000Z'"
                     " WHERE id = '%s'", a);
    struct job_spec *spec = spec_simple("a", 3, NULL);
    struct job *out = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_job_update(STORE(state), a, spec, &test_actor, &out, &err), 0);
    assert_int_equal(out->updated_at_ms, future_ms + 1);
    job_free(out);
    job_spec_free(spec);
    assert_int_equal(store_job_execute(STORE(state), a, &test_actor, &out, &err), 0);
    assert_int_equal(out->updated_at_ms, future_ms + 2);
    job_free(out);
    assert_int_equal(store_job_cancel(STORE(state), a, &test_actor, &out, &err), 0);
    assert_int_equal(out->updated_at_ms, future_ms + 3);
    job_free(out);
    struct job *stored = get(state, a);
    assert_int_equal(stored->updated_at_ms, future_ms + 3);
    job_free(stored);
}

/*
 * 100,000 jobs (inserted in bulk with SQL: the point is the plan, not the
 * insert path) shaped like a real history: 1% QUEUED, 1% HELD, 5% FAILED,
 * the rest COMPLETED, priorities spread evenly; then the status + priority
 * list filter must use the (status, priority, id) index.
 */
static void test_list_uses_index_at_100k_jobs(void **state)
{
    struct fixture *f = FIX(state);
    char seed[UUID_STR_LEN];
    create_id(state, "users", 5, NULL, seed);
    const char *bulk = strcmp(f->backend, "postgres") == 0
        ? "INSERT INTO stg_import_queue (id, name, status, priority, available_at, source, target,"
          " on_error, target_table, created_at, updated_at)"
          " SELECT (lpad(to_hex(i), 8, '0') || '-0000-7000-8000-000000000000')::uuid, 'bulk',"
          " CASE WHEN i % 100 = 0 THEN 'QUEUED' WHEN i % 100 = 1 THEN 'HELD' WHEN i % 100 < 7 THEN 'FAILED'"
          " ELSE 'COMPLETED' END, 1 + (i / 100) % 10, now(), '{}', '{}',"
          " '{}', 'bulk', now(), now() FROM generate_series(1, 100000) AS i; ANALYZE stg_import_queue"
        : "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)"
          " INSERT INTO stg_import_queue (id, name, status, priority, available_at, source, target,"
          " on_error, target_table, created_at, updated_at)"
          " SELECT printf('%08x-0000-7000-8000-000000000000', i), 'bulk',"
          " CASE WHEN i % 100 = 0 THEN 'QUEUED' WHEN i % 100 = 1 THEN 'HELD' WHEN i % 100 < 7 THEN 'FAILED'"
          " ELSE 'COMPLETED' END, 1 + (i / 100) % 10, '2026-01-01T00:00:00.000Z', '{}', '{}', '{}', 'bulk',"
          " '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z' FROM n; ANALYZE";
    assert_int_equal(fixture_sql_exec(f, bulk), 0);
    assert_int_equal(fixture_sql_int(f, "SELECT count(*) FROM stg_import_queue"), 100001);
    const bool pg = strcmp(f->backend, "postgres") == 0;
    /* One status and one priority: exactly the (status, priority, id) index. */
    struct job_filter exact = {.status_mask = 1u << JOB_QUEUED, .priority_min = 2, .priority_max = 2};
    char *plan = NULL;
    struct iq_error err = {0};
    assert_int_equal(store_explain_job_list(STORE(state), &exact, &plan, &err), 0);
    print_message("%s plan for status=QUEUED&priority_min=2&priority_max=2:\n%s\n", f->backend, plan);
    /* PostgreSQL may read the QUEUED-only index of migration 004 instead
     * (1% of the rows here): an index of QUEUED jobs either way. */
    if (pg)
        assert_true(strstr(plan, "stg_import_queue_status_priority") ||
                    strstr(plan, "stg_import_queue_queued_created"));
    else
        assert_non_null(strstr(plan, "stg_import_queue_status_priority"));
    free(plan);
    /* A priority range: the same index (PostgreSQL may also walk the primary
     * key newest first and stop at the page: an index either way, never a
     * full scan). */
    struct job_filter filter = {.status_mask = 1u << JOB_QUEUED, .priority_min = 1, .priority_max = 2};
    assert_int_equal(store_explain_job_list(STORE(state), &filter, &plan, &err), 0);
    print_message("%s plan for status=QUEUED&priority_min=1&priority_max=2:\n%s\n", f->backend, plan);
    if (pg)
        assert_null(strstr(plan, "Seq Scan on stg_import_queue"));
    else
        assert_non_null(strstr(plan, "stg_import_queue_status_priority"));
    free(plan);
    struct job_page page = {0};
    filter.limit = 50;
    assert_int_equal(store_job_list(STORE(state), &filter, &page, &err), 0);
    assert_int_equal(page.count, 50); /* 200 match: 2 priorities x 100 */
    for (size_t i = 0; i < page.count; i++) {
        assert_int_equal(page.items[i]->status, JOB_QUEUED);
        assert_true(page.items[i]->priority <= 2);
    }
    job_page_clear(&page);
    /* The status counts' parts read their partial indexes (migration 004). */
    const char *recent = pg ? "SELECT count(*) FROM stg_import_queue WHERE status = 'COMPLETED'"
                              " AND finished_at >= now() - interval '1 day'"
                            : "SELECT count(*) FROM stg_import_queue WHERE status = 'COMPLETED'"
                              " AND finished_at >= '2025-12-31T00:00:00.000Z'";
    plan = fixture_query_plan(f, recent);
    print_message("%s plan for finished in 24 h:\n%s\n", f->backend, plan);
    assert_non_null(strstr(plan, "stg_import_queue_finished"));
    free(plan);
    plan = fixture_query_plan(f, "SELECT min(created_at) FROM stg_import_queue"
                                 " WHERE status = 'QUEUED'");
    print_message("%s plan for the oldest QUEUED job:\n%s\n", f->backend, plan);
    assert_non_null(strstr(plan, "stg_import_queue_queued_created"));
    free(plan);
}

/*
 * SQLite: the WAL is checkpointed as it grows (the committing connection
 * checkpoints after leaving the write gate, store/sqlite/connection.c), so a busy
 * database's WAL file stays bounded: 1,500 submissions write several
 * thousand pages, yet the file never holds much more than the 1,000-page
 * threshold (4 MB) plus one transaction.
 */
static void test_sqlite_wal_stays_bounded(void **state)
{
    struct fixture *f = *state;
    if (strcmp(f->backend, "sqlite") != 0)
        skip(); /* a WAL file is SQLite's */
    char wal[600];
    snprintf(wal, sizeof(wal), "%s-wal", f->url + strlen("sqlite:"));
    off_t largest = 0;
    for (int i = 0; i < 1500; i++) {
        fixture_submit(f->store, "users");
        struct stat st;
        if (stat(wal, &st) == 0 && st.st_size > largest)
            largest = st.st_size;
    }
    assert_true(largest > 0);
    if (largest > 8 * 1024 * 1024)
        fail_msg("the WAL grew to %lld bytes: not checkpointed", (long long)largest);
}

static const struct CMUnitTest store_tests[] = {
    cmocka_unit_test_setup_teardown(test_migrate_is_idempotent, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_create_and_get_round_trip, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_create_held_and_scheduled, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_create_is_idempotent_on_request_id, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_queue_capacity, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_sqlite_wal_stays_bounded, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_unknown_dependency_conflicts, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_dependencies_are_recorded, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_dependency_already_cancelled_fails_job, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_get_unknown_is_not_found, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_list_filters_and_pages, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_update_replaces_fields, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_update_refuses_cycles_and_finished_jobs, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_cancel_cascades_to_dependants, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_queue_stats, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_mutations_are_audited_in_a_chain, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_updated_at_strictly_increases, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_list_uses_index_at_100k_jobs, fixture_setup, fixture_teardown),
};

int main(void)
{
    return fixture_run_backends("store", "store tests", store_tests, sizeof(store_tests) / sizeof(store_tests[0]));
}
