/*
 * admin_ops.h - the types of the store's side of the API's own records:
 * API tokens, the audit trail (listing and verifying the hash chain),
 * uploads, orchestrations and the per-phase timings of a job. The slots
 * themselves are in struct store_ops (store.h).
 *
 * Not for: hashing or generating tokens (core/auth.h), HTTP.
 */
#ifndef IMPORTQ_STORE_ADMIN_OPS_H
#define IMPORTQ_STORE_ADMIN_OPS_H

#include "core/audit.h"
#include "core/job.h"
#include "core/job_spec.h"
#include "core/uuid7.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- tokens (importq_tokens) ---- */

/* Roles, weakest first: a route needing ROLE_OPERATOR admits admins too. */
enum token_role {
    ROLE_VIEWER = 1,
    ROLE_OPERATOR = 2,
    ROLE_ADMIN = 3,
};

struct token_info {
    char id[UUID_STR_LEN];
    char *name;                    /* owned */
    enum token_role role;
    char token_hash[AUDIT_HASH_LEN]; /* hex SHA-256 of the secret */
    char *created_by;              /* owned, may be NULL */
    int64_t created_at_ms;
    int64_t last_used_at_ms;       /* 0 = never */
    int64_t revoked_at_ms;         /* 0 = active */
};

struct token_list {
    struct token_info *items;      /* owned */
    size_t count;
};

/* token_info_clear / token_list_clear - free owned members (NULL-safe). */
void token_info_clear(struct token_info *info);
void token_list_clear(struct token_list *list);

/* ---- audit trail (stg_import_audit) ---- */

/* Filters of GET /api/v2/import-audit. Zero/NULL fields do not filter. */
struct audit_filter {
    const char *entity;
    const char *entity_id;
    const char *actor;
    const char *action;
    int64_t since_ms;              /* inclusive; 0 = unset */
    int64_t until_ms;              /* exclusive; 0 = unset */
    int limit;                     /* 1..500; 0 = 50 */
    int64_t before_id;             /* keyset: only ids below this; 0 = newest */
    bool oldest_first;             /* the tail instead (GET /events): only ids
                                      above after_id, in id order; before_id
                                      and next_before_id are then unused, and
                                      a full page means more may follow */
    int64_t after_id;              /* with oldest_first: only ids above this */
};

/* One stored audit row: the record (strings owned) and its hash. */
struct audit_row {
    struct audit_record record;    /* every string member owned */
    char hash[AUDIT_HASH_LEN];
};

/* One page of audit rows, newest first. */
struct audit_page {
    struct audit_row *items;       /* owned */
    size_t count;
    int64_t next_before_id;        /* 0 on the last page */
};

void audit_page_clear(struct audit_page *page);

/* Result of walking the whole chain. */
struct audit_verify_result {
    bool ok;
    int64_t rows_checked;
    int64_t first_bad_id;          /* 0 when ok; the first row whose hash,
                                      prev_hash or id sequence is wrong (a
                                      deleted row shows as the gap after it) */
    char reason[128];              /* "hash mismatch", "row 7 missing", ... */
};

/* ---- uploads (importq_uploads) ---- */

struct upload_info {
    char id[UUID_STR_LEN];
    int64_t bytes;
    char sha256[AUDIT_HASH_LEN];
    char *path;                    /* owned: the spool file */
    char *created_by;              /* owned, may be NULL */
    int64_t created_at_ms;
    char job_id[UUID_STR_LEN];     /* "" while no job uses it */
};

struct upload_list {
    struct upload_info *items;     /* owned */
    size_t count;
};

void upload_info_clear(struct upload_info *info);
void upload_list_clear(struct upload_list *list);

/* ---- orchestrations (stg_import_coordination, kind 'orchestration') ---- */

/* One job of POST /api/v2/import-orchestrations. */
struct orchestration_job_request {
    const char *key;               /* unique within the orchestration */
    const struct job_spec *spec;   /* validated; spec->depends_on may name
                                      existing jobs outside the set */
    const char *const *after;      /* keys of jobs in this set it waits for */
    size_t after_count;
};

struct orchestration_request {
    const char *name;
    const struct orchestration_job_request *jobs;
    size_t job_count;
    int max_queue_size;            /* as in job_create; <= 0: no limit */
};

/* Aggregate status: RUNNING while any job runs or waits with some done,
 * QUEUED while none started, COMPLETED when all completed, FAILED when
 * every job is final and one failed, CANCELLED when every job is final and
 * one was cancelled and none failed. Same strings as job statuses. */
struct orchestration {
    char id[UUID_STR_LEN];
    char *name;                    /* owned */
    char status[16];
    char *created_by;              /* owned, may be NULL */
    int64_t created_at_ms;
    int64_t updated_at_ms;
    struct job **jobs;             /* owned, in request order */
    char **keys;                   /* owned, keys[i] is jobs[i]'s key */
    size_t job_count;
};

struct orchestration_page {
    struct orchestration *items;   /* owned; jobs included */
    size_t count;
    char next_after_id[UUID_STR_LEN]; /* "" on the last page */
};

void orchestration_clear(struct orchestration *orch);
void orchestration_page_clear(struct orchestration_page *page);

/* ---- phase timings of a job (stg_import_performance) ---- */

struct job_phase {
    int attempt;
    char phase[16];
    int64_t started_at_ms;
    int64_t duration_ms;
    int64_t rows;
    int64_t bytes;
};

struct job_phase_list {
    struct job_phase *items;       /* owned */
    size_t count;
};

void job_phase_list_clear(struct job_phase_list *list);

#endif
