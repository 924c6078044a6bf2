/*
 * test_admin_store.c - the store's side of the API's own records
 * (store/admin_ops.h) on both backends: tokens (create, name conflicts,
 * list order, revoke, revoke again, last use) and their audit rows;
 * audit listing (every filter, keyset pages without gaps or repeats);
 * verifying the hash chain on a real trail of mixed mutations, and
 * finding exactly the row that was edited, re-hashed or deleted behind
 * the service's back; uploads (create, get, which ones expire, delete).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "support/store_fixture.h"

#include "core/auth.h"
#include "core/timeutil.h"
#include "core/uuid7.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STORE(state) (((struct fixture *)*(state))->store)
#define FIX(state) ((struct fixture *)*(state))
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

#define NODE_ID "01900000-0000-7000-8000-000000000001"
#define HOUR_MS (3600 * 1000LL)

static const struct audit_context actor_ann = {"ann", "req-ann", "10.0.0.1"};
static const struct audit_context actor_ben = {"ben", NULL, NULL};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static int64_t audit_rows(void **state)
{
    return fixture_sql_int(FIX(state), "SELECT count(*) FROM stg_import_audit");
}

/* token_of - a token record for name/role with a fresh id and secret hash. */
static struct token_info token_of(const char *name, enum token_role role)
{
    struct token_info info = {.name = (char *)name, .role = role, .created_by = "cli:tester"};
    uuid7_generate(info.id);
    char secret[AUTH_TOKEN_LEN];
    assert_int_equal(auth_token_generate(secret), 0);
    auth_token_hash(secret, info.token_hash);
    return info;
}

/* make_token - create name/role as actx; fails the test on error. *ret_info may be NULL. */
static void make_token(void **state, const char *name, enum token_role role,
                       const struct audit_context *actx, struct token_info *ret_info)
{
    struct token_info info = token_of(name, role);
    struct iq_error err = {0};
    if (store_token_create(STORE(state), &info, actx, &err) < 0)
        fail_msg("token_create %s: %s", name, iq_error_message(&err));
    if (ret_info)
        *ret_info = info;
}

static void revoke_ok(void **state, const char *name, const struct audit_context *actx)
{
    struct iq_error err = {0};
    if (store_token_revoke(STORE(state), name, actx, &err) < 0)
        fail_msg("token_revoke %s: %s", name, iq_error_message(&err));
}

/* create_job - a job on table; its id in id. */
static void create_job(void **state, const char *table, const char *extra,
                       const struct audit_context *actx, char id[UUID_STR_LEN])
{
    struct job_spec *spec = spec_simple(table, 5, extra);
    struct job_create_request req = {.spec = spec};
    struct job *job = NULL;
    bool existed = false;
    struct iq_error err = {0};
    if (store_job_create(STORE(state), &req, actx, &job, &existed, &err) < 0)
        fail_msg("create on %s: %s", table, iq_error_message(&err));
    memcpy(id, job->id, UUID_STR_LEN);
    job_free(job);
    job_spec_free(spec);
}

static struct audit_verify_result verify(void **state)
{
    struct audit_verify_result result;
    struct iq_error err = {0};
    if (store_audit_verify(STORE(state), &result, &err) < 0)
        fail_msg("audit_verify: %s", iq_error_message(&err));
    return result;
}

static void assert_chain_ok(void **state)
{
    struct audit_verify_result result = verify(state);
    if (!result.ok)
        fail_msg("chain broken at %" PRId64 ": %s", result.first_bad_id, result.reason);
    assert_int_equal(result.first_bad_id, 0);
    assert_int_equal(result.rows_checked, audit_rows(state));
}

/* assert_chain_broken_at - verify reports id, with reason containing want_reason. */
static void assert_chain_broken_at(void **state, int64_t id, const char *want_reason)
{
    struct audit_verify_result result = verify(state);
    assert_false(result.ok);
    if (result.first_bad_id != id || !strstr(result.reason, want_reason))
        fail_msg("broken at %" PRId64 " (%s), want %" PRId64 " (%s)", result.first_bad_id,
                 result.reason, id, want_reason);
    assert_true(result.rows_checked > 0 && result.rows_checked <= id); /* it stops there */
}

/* list_page - one audit page for filter; fails the test on error. Clear it. */
static struct audit_page list_page(void **state, const struct audit_filter *filter)
{
    struct audit_page page;
    struct iq_error err = {0};
    if (store_audit_list(STORE(state), filter, &page, &err) < 0)
        fail_msg("audit_list: %s", iq_error_message(&err));
    return page;
}

/* count_all_pages - walk every page of filter (limit per page), checking
 * ids fall strictly and each row matches check (may be NULL). Returns the
 * rows seen; *ret_ids_sum (may be NULL) sums their ids. */
typedef void (*row_check_fn)(const struct audit_row *row);
static int64_t count_all_pages(void **state, struct audit_filter filter, row_check_fn check,
                               int64_t *ret_ids_sum)
{
    int64_t seen = 0, sum = 0, last = INT64_MAX;
    for (int pages = 0;; pages++) {
        assert_true(pages < 1000);
        struct audit_page page = list_page(state, &filter);
        assert_true(page.count <= (size_t)(filter.limit ? filter.limit : 50));
        for (size_t i = 0; i < page.count; i++) {
            const struct audit_row *row = &page.items[i];
            assert_true(row->record.id < last);
            last = row->record.id;
            sum += row->record.id;
            seen++;
            if (check)
                check(row);
        }
        int64_t next = page.next_before_id;
        if (next)
            assert_int_equal(next, page.items[page.count - 1].record.id);
        audit_page_clear(&page);
        if (!next)
            break;
        filter.before_id = next;
    }
    if (ret_ids_sum)
        *ret_ids_sum = sum;
    return seen;
}

/* ------------------------------------------------------------------ */
/* Tokens                                                              */
/* ------------------------------------------------------------------ */

static void test_token_create_conflict_list_revoke_touch(void **state)
{
    struct iq_error err = {0};
    int64_t before = time_now_ms();
    struct token_info alice, bob;
    make_token(state, "alice", ROLE_VIEWER, &test_actor, &alice);
    make_token(state, "bob", ROLE_ADMIN, &test_actor, &bob);
    int64_t rows = audit_rows(state);

    /* A taken name conflicts and writes nothing. */
    struct token_info again = token_of("alice", ROLE_ADMIN);
    assert_int_equal(store_token_create(STORE(state), &again, &test_actor, &err), IQ_E_CONFLICT);
    assert_int_equal(audit_rows(state), rows);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM importq_tokens"), 2);

    /* Malformed records are refused before anything is written. */
    struct token_info bad = token_of("carol", ROLE_VIEWER);
    bad.role = (enum token_role)7;
    assert_int_equal(store_token_create(STORE(state), &bad, &test_actor, &err), IQ_E_INVALID);
    bad = token_of("carol", ROLE_VIEWER);
    strcpy(bad.token_hash, "not-a-hash");
    assert_int_equal(store_token_create(STORE(state), &bad, &test_actor, &err), IQ_E_INVALID);
    bad = token_of("", ROLE_VIEWER);
    assert_int_equal(store_token_create(STORE(state), &bad, &test_actor, &err), IQ_E_INVALID);
    bad = token_of("tab\there", ROLE_VIEWER);
    assert_int_equal(store_token_create(STORE(state), &bad, &test_actor, &err), IQ_E_INVALID);
    assert_int_equal(audit_rows(state), rows);

    struct token_list list;
    assert_int_equal(store_token_list(STORE(state), false, &list, &err), 0);
    assert_int_equal(list.count, 2);
    assert_string_equal(list.items[0].name, "alice");
    assert_string_equal(list.items[0].id, alice.id);
    assert_int_equal(list.items[0].role, ROLE_VIEWER);
    assert_string_equal(list.items[0].token_hash, alice.token_hash);
    assert_string_equal(list.items[0].created_by, "cli:tester");
    assert_true(list.items[0].created_at_ms >= before - 1000);
    assert_true(list.items[0].created_at_ms <= time_now_ms() + 1000);
    assert_int_equal(list.items[0].last_used_at_ms, 0);
    assert_int_equal(list.items[0].revoked_at_ms, 0);
    assert_string_equal(list.items[1].name, "bob");
    assert_int_equal(list.items[1].role, ROLE_ADMIN);
    token_list_clear(&list);

    /* Revoke: gone from the active list, still in the full one. */
    revoke_ok(state, "alice", &test_actor);
    assert_int_equal(store_token_list(STORE(state), false, &list, &err), 0);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.items[0].name, "bob");
    token_list_clear(&list);
    assert_int_equal(store_token_list(STORE(state), true, &list, &err), 0);
    assert_int_equal(list.count, 2);
    assert_string_equal(list.items[0].name, "alice");
    assert_true(list.items[0].revoked_at_ms >= before - 1000);
    assert_int_equal(list.items[1].revoked_at_ms, 0);
    int64_t revoked_at = list.items[0].revoked_at_ms;
    token_list_clear(&list);

    /* Revoking again changes nothing and writes nothing. */
    rows = audit_rows(state);
    revoke_ok(state, "alice", &test_actor);
    assert_int_equal(audit_rows(state), rows);
    assert_int_equal(store_token_list(STORE(state), true, &list, &err), 0);
    assert_int_equal(list.items[0].revoked_at_ms, revoked_at);
    token_list_clear(&list);
    assert_int_equal(store_token_revoke(STORE(state), "nobody", &test_actor, &err), IQ_E_NOT_FOUND);

    /* A revoked name stays taken. */
    again = token_of("alice", ROLE_VIEWER);
    assert_int_equal(store_token_create(STORE(state), &again, &test_actor, &err), IQ_E_CONFLICT);

    /* Touch records the last use, unaudited. */
    rows = audit_rows(state);
    int64_t used_at = time_now_ms() - 5000;
    assert_int_equal(store_token_touch(STORE(state), bob.id, used_at, &err), 0);
    assert_int_equal(audit_rows(state), rows);
    assert_int_equal(store_token_list(STORE(state), false, &list, &err), 0);
    assert_int_equal(list.items[0].last_used_at_ms, used_at);
    token_list_clear(&list);
    char unknown[UUID_STR_LEN];
    uuid7_generate(unknown);
    assert_int_equal(store_token_touch(STORE(state), unknown, used_at, &err), IQ_E_NOT_FOUND);
    iq_error_clear(&err);
}

/* A list longer than its first allocations (8, then 16 rows) keeps every row, in order. */
static void test_token_list_grows(void **state)
{
    char name[16];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "t%02d", i);
        make_token(state, name, ROLE_VIEWER, &test_actor, NULL);
    }
    struct token_list list;
    struct iq_error err = {0};
    assert_int_equal(store_token_list(STORE(state), false, &list, &err), 0);
    assert_int_equal(list.count, 20);
    for (size_t i = 0; i < list.count; i++) {
        snprintf(name, sizeof(name), "t%02d", (int)i);
        assert_string_equal(list.items[i].name, name);
    }
    token_list_clear(&list);
}

/* Names sort bytewise on both backends (upper case before lower case). */
static void test_token_list_is_in_byte_order(void **state)
{
    const char *names[] = {"zed", "Zed", "adam", "_svc", "Ädam", "a b", "ab"};
    for (size_t i = 0; i < COUNT_OF(names); i++)
        make_token(state, names[i], ROLE_OPERATOR, &test_actor, NULL);
    const char *want[] = {"Zed", "_svc", "a b", "ab", "adam", "zed", "Ädam"};
    struct token_list list;
    struct iq_error err = {0};
    assert_int_equal(store_token_list(STORE(state), true, &list, &err), 0);
    assert_int_equal(list.count, COUNT_OF(want));
    for (size_t i = 0; i < COUNT_OF(want); i++)
        assert_string_equal(list.items[i].name, want[i]);
    token_list_clear(&list);
}

static void test_token_changes_are_audited(void **state)
{
    struct token_info alice;
    make_token(state, "alice", ROLE_OPERATOR, &actor_ann, &alice);
    revoke_ok(state, "alice", &actor_ben);
    struct audit_filter filter = {.entity = "token"};
    struct audit_page page = list_page(state, &filter);
    assert_int_equal(page.count, 2);
    const struct audit_record *revoke = &page.items[0].record;
    const struct audit_record *create = &page.items[1].record;
    assert_string_equal(create->action, "token.create");
    assert_string_equal(create->entity, "token");
    assert_string_equal(create->entity_id, "alice");
    assert_string_equal(create->actor, "ann");
    assert_string_equal(create->request_id, "req-ann");
    assert_string_equal(create->client_addr, "10.0.0.1");
    assert_null(create->before_json);
    assert_string_equal(create->after_json, "{\"name\":\"alice\",\"role\":\"operator\"}");
    assert_string_equal(revoke->action, "token.revoke");
    assert_string_equal(revoke->entity_id, "alice");
    assert_string_equal(revoke->actor, "ben");
    assert_null(revoke->request_id);
    assert_string_equal(revoke->before_json, "{\"name\":\"alice\",\"role\":\"operator\"}");
    assert_non_null(strstr(revoke->after_json, "\"revoked_at\":\""));
    assert_int_equal(revoke->id, create->id + 1);
    audit_page_clear(&page);
    /* The hash of the secret never reaches the trail. */
    assert_int_equal(
        fixture_int_fmt(FIX(state),
                    "SELECT count(*) FROM stg_import_audit WHERE"
                    " coalesce(CAST(before AS TEXT), '') || coalesce(CAST(after AS TEXT), '')"
                    " LIKE '%%%s%%'",
                    alice.token_hash),
        0);
    assert_chain_ok(state);
}

/* ------------------------------------------------------------------ */
/* Audit listing                                                       */
/* ------------------------------------------------------------------ */

static void check_actor_ann(const struct audit_row *row)
{
    assert_string_equal(row->record.actor, "ann");
}

static void check_action_revoke(const struct audit_row *row)
{
    assert_string_equal(row->record.action, "token.revoke");
}

static void check_entity_job(const struct audit_row *row)
{
    assert_string_equal(row->record.entity, "job");
    assert_string_equal(row->record.action, "job.create");
}

static void test_audit_list_filters_and_keyset_pages(void **state)
{
    fixture_use_fake_clock(FIX(state));
    struct fake_clock *clock = &FIX(state)->clock;
    char name[32];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "tok-%02d", i);
        make_token(state, name, ROLE_VIEWER, i % 2 ? &actor_ben : &actor_ann, NULL);
    }
    /* The revokes and jobs below happen at exactly middle, one ms after the
     * creates: the windows' bounds are exact. */
    int64_t middle = fake_clock_advance(clock, 1);
    for (int i = 0; i < 20; i += 3) {
        snprintf(name, sizeof(name), "tok-%02d", i);
        revoke_ok(state, name, &actor_ben);
    }
    char job[UUID_STR_LEN];
    for (int i = 0; i < 5; i++)
        create_job(state, "users", NULL, &actor_ann, job);
    const int64_t total = audit_rows(state); /* 20 + 7 + 5 */
    assert_int_equal(total, 32);

    /* Every row exactly once over small pages: ids total..1 without gaps. */
    int64_t sum = 0;
    struct audit_filter all = {.limit = 7};
    assert_int_equal(count_all_pages(state, all, NULL, &sum), total);
    assert_int_equal(sum, total * (total + 1) / 2);
    /* A page size that divides the total: the last full page says so. */
    all.limit = 8;
    assert_int_equal(count_all_pages(state, all, NULL, NULL), total);
    all.limit = 0; /* default 50: one page */
    struct audit_page page = list_page(state, &all);
    assert_int_equal(page.count, total);
    assert_int_equal(page.next_before_id, 0);
    assert_int_equal(page.items[0].record.id, total);
    assert_int_equal(page.items[0].record.at_ms >= middle, true);
    assert_int_equal(strlen(page.items[0].hash), 64);
    audit_page_clear(&page);

    struct audit_filter by_actor = {.actor = "ann", .limit = 3};
    assert_int_equal(
        count_all_pages(state, by_actor, check_actor_ann, NULL),
        fixture_sql_int(FIX(state), "SELECT count(*) FROM stg_import_audit WHERE actor = 'ann'"));
    struct audit_filter by_action = {.action = "token.revoke", .limit = 2};
    assert_int_equal(count_all_pages(state, by_action, check_action_revoke, NULL), 7);
    struct audit_filter by_entity = {.entity = "job", .limit = 4};
    assert_int_equal(count_all_pages(state, by_entity, check_entity_job, NULL), 5);
    struct audit_filter by_entity_id = {.entity = "token", .entity_id = "tok-03"};
    assert_int_equal(count_all_pages(state, by_entity_id, NULL, NULL), 2); /* create, revoke */
    struct audit_filter combined = {.entity_id = "tok-03", .action = "token.create"};
    assert_int_equal(count_all_pages(state, combined, NULL, NULL), 1);
    struct audit_filter nothing = {.actor = "nobody"};
    page = list_page(state, &nothing);
    assert_int_equal(page.count, 0);
    assert_int_equal(page.next_before_id, 0);
    audit_page_clear(&page);

    /* Time windows: since is inclusive, until exclusive. */
    struct audit_filter since = {.since_ms = middle, .limit = 5};
    assert_int_equal(count_all_pages(state, since, NULL, NULL), 12);
    struct audit_filter until = {.until_ms = middle, .limit = 5};
    assert_int_equal(count_all_pages(state, until, NULL, NULL), 20);
    struct audit_filter future = {.since_ms = middle + 1};
    assert_int_equal(count_all_pages(state, future, NULL, NULL), 0);
    struct audit_filter window = {.since_ms = middle, .until_ms = middle + 1, .actor = "ben"};
    assert_int_equal(count_all_pages(state, window, NULL, NULL), 7);

    /* Keyset below an id in the middle. */
    struct audit_filter below = {.before_id = 10};
    assert_int_equal(count_all_pages(state, below, NULL, NULL), 9);

    /* The tail (GET /events): above an id, oldest first, a page at a time;
     * the whole trail from 0; nothing above the head. */
    struct audit_filter tail = {.oldest_first = true, .after_id = 25, .limit = 4};
    page = list_page(state, &tail);
    assert_int_equal(page.count, 4);
    for (size_t i = 0; i < page.count; i++)
        assert_int_equal(page.items[i].record.id, 26 + (int64_t)i);
    audit_page_clear(&page);
    tail = (struct audit_filter){.oldest_first = true, .after_id = 0, .entity = "job"};
    page = list_page(state, &tail);
    assert_int_equal(page.count, 5);
    for (size_t i = 1; i < page.count; i++)
        assert_true(page.items[i].record.id > page.items[i - 1].record.id);
    audit_page_clear(&page);
    tail = (struct audit_filter){.oldest_first = true, .after_id = total};
    page = list_page(state, &tail);
    assert_int_equal(page.count, 0);
    audit_page_clear(&page);

    struct iq_error err = {0};
    struct audit_filter bad = {.limit = 501};
    assert_int_equal(store_audit_list(STORE(state), &bad, &page, &err), IQ_E_BAD_REQUEST);
    audit_page_clear(&page);
    bad.limit = -1;
    assert_int_equal(store_audit_list(STORE(state), &bad, &page, &err), IQ_E_BAD_REQUEST);
    audit_page_clear(&page);
    iq_error_clear(&err);
}

/* ------------------------------------------------------------------ */
/* Verifying the chain                                                 */
/* ------------------------------------------------------------------ */

/* mixed_mutations - a trail of every kind of row the store writes today:
 * jobs created (odd names and JSON included), updated, cancelled, claimed
 * and finished; tokens created and revoked; uploads. */
static void mixed_mutations(void **state)
{
    struct iq_error err = {0};
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN];
    create_job(state, "users", "\"name\": \"caf\\u00e9 \\\"nightly\\\" \\u540d\\u524d \\\\\"",
               &test_actor, a);
    create_job(state, "teams", "\"hold\": true", &actor_ann, b);
    create_job(state, "orders", NULL, &actor_ben, c);
    struct job_spec *spec = spec_simple("users", 2, "\"name\": \"renamed \\u00fc\"");
    struct job *job = NULL;
    assert_int_equal(store_job_update(STORE(state), a, spec, &test_actor, &job, &err), 0);
    job_free(job);
    job_spec_free(spec);
    assert_int_equal(store_job_cancel(STORE(state), b, &actor_ann, &job, &err), 0);
    job_free(job);
    struct claim_request claim = {
        .node_id = NODE_ID, .worker = "w1", .max_concurrent = 5, .lease_ms = 60000};
    for (int i = 0; i < 2; i++) {
        job = NULL;
        assert_int_equal(store_job_claim(STORE(state), &claim, &test_actor, &job, &err), 0);
        assert_non_null(job);
        struct job_finish finish = {.job_id = job->id,
                                    .worker = job->worker,
                                    .attempt = job->attempt,
                                    .status = i ? JOB_COMPLETED : JOB_FAILED,
                                    .error_code = i ? NULL : "import_failed",
                                    .error_message = i ? NULL : "line 3: \"bad\" \xc3\xa9",
                                    .node_id = NODE_ID};
        struct job *done = NULL;
        assert_int_equal(store_job_finish(STORE(state), &finish, &test_actor, &done, &err), 0);
        job_free(done);
        job_free(job);
    }
    make_token(state, "svc \"quoted\" \xc3\xa9", ROLE_ADMIN, &actor_ann, NULL);
    make_token(state, "other", ROLE_VIEWER, &actor_ben, NULL);
    revoke_ok(state, "other", &test_actor);
    struct upload_info upload = {.bytes = 42, .path = "/spool/x", .created_by = "ann"};
    uuid7_generate(upload.id);
    auth_token_hash("file body", upload.sha256);
    assert_int_equal(store_upload_create(STORE(state), &upload, &actor_ann, &err), 0);
    iq_error_clear(&err);
}

static void test_verify_empty_and_fresh_chains(void **state)
{
    struct audit_verify_result result = verify(state);
    assert_true(result.ok);
    assert_int_equal(result.rows_checked, 0);
    assert_int_equal(result.first_bad_id, 0);
    mixed_mutations(state);
    assert_true(audit_rows(state) >= 13);
    assert_chain_ok(state);
    /* More than one PostgreSQL batch (1,000 rows) of real appends. */
    char name[32];
    for (int i = 0; i < 1010; i++) {
        snprintf(name, sizeof(name), "bulk-%04d", i);
        make_token(state, name, ROLE_VIEWER, i % 2 ? &actor_ann : &test_actor, NULL);
    }
    assert_chain_ok(state);
    assert_true(verify(state).rows_checked > 1010);
}

static void test_verify_finds_the_edited_row(void **state)
{
    mixed_mutations(state);
    assert_chain_ok(state);
    char *actor = fixture_sql_text(FIX(state), "SELECT actor FROM stg_import_audit WHERE id = 4");
    fixture_exec_fmt(FIX(state), "UPDATE stg_import_audit SET actor = 'mallory' WHERE id = 4");
    assert_chain_broken_at(state, 4, "hash mismatch");
    /* Put it back: the chain holds again, so the verdict was about that edit. */
    fixture_exec_fmt(FIX(state), "UPDATE stg_import_audit SET actor = '%s' WHERE id = 4", actor);
    free(actor);
    assert_chain_ok(state);

    /* Any hashed field: the time, a JSON image, an absent value made present. */
    fixture_exec_fmt(FIX(state), "UPDATE stg_import_audit SET at = '2001-01-01T00:00:00.000Z' WHERE id = 7");
    assert_chain_broken_at(state, 7, "hash mismatch");
    fixture_exec_fmt(FIX(state), "UPDATE stg_import_audit SET after = '{\"forged\":true}' WHERE id = 2");
    assert_chain_broken_at(state, 2, "hash mismatch");
}

/* An attacker who edits a row and recomputes its hash still breaks the
 * link to the next row. */
static void test_verify_finds_a_rehashed_row_by_its_successor(void **state)
{
    mixed_mutations(state);
    struct audit_filter filter = {.before_id = 4, .limit = 1}; /* row 3 */
    struct audit_page page = list_page(state, &filter);
    assert_int_equal(page.count, 1);
    struct audit_record forged = page.items[0].record;
    assert_int_equal(forged.id, 3);
    forged.actor = "mallory";
    char hash[AUDIT_HASH_LEN];
    audit_hash(&forged, hash);
    audit_page_clear(&page);
    fixture_exec_fmt(FIX(state), "UPDATE stg_import_audit SET actor = 'mallory', hash = '%s' WHERE id = 3",
             hash);
    assert_chain_broken_at(state, 4, "prev_hash does not match the hash of row 3");
}

static void test_verify_finds_deleted_rows(void **state)
{
    mixed_mutations(state);
    fixture_exec_fmt(FIX(state), "DELETE FROM stg_import_audit WHERE id = 5");
    assert_chain_broken_at(state, 6, "row 5 missing");
    fixture_exec_fmt(FIX(state), "DELETE FROM stg_import_audit WHERE id IN (6, 7)");
    assert_chain_broken_at(state, 8, "rows 5 to 7 missing");
    fixture_exec_fmt(FIX(state), "DELETE FROM stg_import_audit WHERE id = 1");
    assert_chain_broken_at(state, 2, "row 1 missing");
}

/* ------------------------------------------------------------------ */
/* Uploads                                                             */
/* ------------------------------------------------------------------ */

/* make_upload - an upload created age_ms ago; its id in id. */
static void make_upload(void **state, int64_t age_ms, char id[UUID_STR_LEN])
{
    struct upload_info info = {.bytes = 1000 + age_ms / 1000,
                               .path = "/spool/file",
                               .created_by = "ann",
                               .created_at_ms = age_ms ? time_now_ms() - age_ms : 0};
    uuid7_generate(info.id);
    auth_token_hash(info.id, info.sha256);
    struct iq_error err = {0};
    if (store_upload_create(STORE(state), &info, &actor_ann, &err) < 0)
        fail_msg("upload_create: %s", iq_error_message(&err));
    memcpy(id, info.id, UUID_STR_LEN);
}

/* use_upload - link upload to a new job and put the job in status, finished ago_ms ago. */
static void use_upload(void **state, const char *upload, const char *status, int64_t ago_ms)
{
    char job[UUID_STR_LEN], finished[TIME_RFC3339_LEN];
    create_job(state, "users", NULL, &test_actor, job);
    fixture_exec_fmt(FIX(state), "UPDATE importq_uploads SET job_id = '%s' WHERE id = '%s'", job, upload);
    if (strcmp(status, "QUEUED") != 0)
        fixture_exec_fmt(FIX(state),
                 "UPDATE stg_import_queue SET status = '%s', finished_at = '%s' WHERE id = '%s'",
                 status, time_format_rfc3339(time_now_ms() - ago_ms, finished), job);
}

static void test_upload_create_get_delete(void **state)
{
    struct iq_error err = {0};
    int64_t before = time_now_ms();
    char id[UUID_STR_LEN];
    make_upload(state, 0, id);
    struct upload_info info;
    assert_int_equal(store_upload_get(STORE(state), id, &info, &err), 0);
    assert_string_equal(info.id, id);
    assert_int_equal(info.bytes, 1000);
    char sha[AUDIT_HASH_LEN];
    auth_token_hash(id, sha);
    assert_string_equal(info.sha256, sha);
    assert_string_equal(info.path, "/spool/file");
    assert_string_equal(info.created_by, "ann");
    assert_true(info.created_at_ms >= before - 1000 && info.created_at_ms <= time_now_ms() + 1000);
    assert_string_equal(info.job_id, "");
    upload_info_clear(&info);
    assert_int_equal(fixture_int_fmt(FIX(state),
                                 "SELECT count(*) FROM stg_import_audit WHERE action ="
                                 " 'upload.create' AND entity = 'upload' AND entity_id = '%s'"
                                 " AND actor = 'ann'",
                                 id),
                     1);

    char unknown[UUID_STR_LEN];
    uuid7_generate(unknown);
    assert_int_equal(store_upload_get(STORE(state), unknown, &info, &err), IQ_E_NOT_FOUND);
    upload_info_clear(&info);
    assert_int_equal(store_upload_get(STORE(state), "nope", &info, &err), IQ_E_NOT_FOUND);
    upload_info_clear(&info);

    struct upload_info bad = {.bytes = 1, .path = "/x"};
    uuid7_generate(bad.id);
    strcpy(bad.sha256, "ABC");
    assert_int_equal(store_upload_create(STORE(state), &bad, &actor_ann, &err), IQ_E_INVALID);
    auth_token_hash("x", bad.sha256);
    bad.bytes = -1;
    assert_int_equal(store_upload_create(STORE(state), &bad, &actor_ann, &err), IQ_E_INVALID);

    assert_int_equal(store_upload_delete(STORE(state), id, &err), 0);
    assert_int_equal(store_upload_get(STORE(state), id, &info, &err), IQ_E_NOT_FOUND);
    upload_info_clear(&info);
    assert_int_equal(store_upload_delete(STORE(state), id, &err), 0); /* gone already: fine */
    iq_error_clear(&err);
}

static void test_uploads_expired(void **state)
{
    char fresh_unused[UUID_STR_LEN], old_unused[UUID_STR_LEN], fresh_completed[UUID_STR_LEN],
        old_completed[UUID_STR_LEN], old_queued[UUID_STR_LEN], old_failed_long_ago[UUID_STR_LEN],
        old_failed_recently[UUID_STR_LEN], old_cancelled[UUID_STR_LEN];
    make_upload(state, 0, fresh_unused);
    make_upload(state, 9 * HOUR_MS, old_unused);
    make_upload(state, 0, fresh_completed);
    make_upload(state, 8 * HOUR_MS, old_completed);
    make_upload(state, 7 * HOUR_MS, old_queued);
    make_upload(state, 6 * HOUR_MS, old_failed_long_ago);
    make_upload(state, 5 * HOUR_MS, old_failed_recently);
    make_upload(state, 4 * HOUR_MS, old_cancelled);
    use_upload(state, fresh_completed, "COMPLETED", 0);
    use_upload(state, old_completed, "COMPLETED", 7 * HOUR_MS);
    use_upload(state, old_queued, "QUEUED", 0);
    use_upload(state, old_failed_long_ago, "FAILED", 3 * HOUR_MS);
    use_upload(state, old_failed_recently, "FAILED", HOUR_MS / 2);
    use_upload(state, old_cancelled, "CANCELLED", 2 * HOUR_MS);

    struct upload_list list;
    struct iq_error err = {0};
    assert_int_equal(store_uploads_expired(STORE(state), time_now_ms() - HOUR_MS, &list, &err), 0);
    /* Oldest first: a used one carries its job. */
    const char *want[] = {old_unused, old_completed, old_failed_long_ago, old_cancelled,
                          fresh_completed};
    assert_int_equal(list.count, COUNT_OF(want));
    for (size_t i = 0; i < COUNT_OF(want); i++)
        assert_string_equal(list.items[i].id, want[i]);
    assert_string_equal(list.items[0].job_id, "");
    assert_true(uuid_is_valid(list.items[1].job_id));
    assert_string_equal(list.items[0].path, "/spool/file");
    upload_list_clear(&list);

    /* Once deleted they are not listed again. */
    for (size_t i = 0; i < COUNT_OF(want); i++)
        assert_int_equal(store_upload_delete(STORE(state), want[i], &err), 0);
    assert_int_equal(store_uploads_expired(STORE(state), time_now_ms() - HOUR_MS, &list, &err), 0);
    assert_int_equal(list.count, 0);
    upload_list_clear(&list);
    assert_int_equal(fixture_sql_int(FIX(state), "SELECT count(*) FROM importq_uploads"), 3);
}

static const struct CMUnitTest admin_tests[] = {
    cmocka_unit_test_setup_teardown(test_token_create_conflict_list_revoke_touch, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_token_list_grows, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_token_list_is_in_byte_order, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_token_changes_are_audited, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_audit_list_filters_and_keyset_pages, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_verify_empty_and_fresh_chains, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_verify_finds_the_edited_row, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_verify_finds_a_rehashed_row_by_its_successor,
                                    fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_verify_finds_deleted_rows, fixture_setup,
                                    fixture_teardown),
    cmocka_unit_test_setup_teardown(test_upload_create_get_delete, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_uploads_expired, fixture_setup, fixture_teardown),
};

int main(void)
{
    return fixture_run_backends("admin_store", "admin store tests", admin_tests, sizeof(admin_tests) / sizeof(admin_tests[0]));
}
