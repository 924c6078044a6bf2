/*
 * engine_ops.h - the types of the store's side of running jobs: claiming
 * (with every lock, under the global limit), heartbeats, finishing,
 * rescuing lost workers, executing held or failed jobs, rejects,
 * performance rows, locks, nodes, orchestrations and wake-ups. The slots
 * themselves are in struct store_ops (store.h); the policy (when to claim,
 * how long to back off) is the engine's and comes in as parameters.
 */
#ifndef IMPORTQ_STORE_ENGINE_OPS_H
#define IMPORTQ_STORE_ENGINE_OPS_H

#include "core/job.h"
#include "core/job_spec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a worker asks for when it claims a job. */
struct claim_request {
    const char *node_id;        /* this node (stg_import_coordination id) */
    const char *worker;         /* unique per worker thread: "<node>/w3" */
    int max_concurrent;         /* RUNNING jobs allowed across the cluster */
    int64_t lease_ms;           /* lock lease; renewed by heartbeats */
    int64_t aging_ms;           /* 0 = off; else a job waiting this long per
                                   step climbs one priority step */
};

/* One timed phase of an attempt, for stg_import_performance. */
struct phase_timing {
    const char *phase;          /* "read", "stage", "validate", "promote" */
    int64_t started_at_ms;
    int64_t duration_ms;
    int64_t rows;
    int64_t bytes;
};

/* How an attempt ended. */
struct job_finish {
    const char *job_id;
    const char *worker;         /* fence: must still own the job ... */
    int attempt;                /* ... in this attempt, else IQ_E_STALE */
    enum job_status status;     /* COMPLETED, FAILED or CANCELLED */
    struct job_result result;
    const char *error_code;     /* FAILED/CANCELLED: "timeout", "import_failed",
                                   "cancelled", ... ; NULL for COMPLETED */
    const char *error_message;
    int64_t retry_at_ms;        /* FAILED with attempts left: back to QUEUED,
                                   available then; 0 = fail for good */
    const struct phase_timing *phases;
    size_t phase_count;
    const char *node_id;
};

/* A rejected row as kept in importq_job_rejects. */
struct job_reject_row {
    int64_t line;
    const char *column;         /* may be NULL */
    const char *value;          /* may be NULL */
    const char *error;
    bool has_record;            /* record is known */
    int64_t record;             /* 0-based record index in the source */
    const char *pointer;        /* JSON pointer in the source; may be NULL */
};

/* Called for each stored reject (rejects listing); non-zero stops. */
typedef int (*job_reject_row_cb)(const struct job_reject_row *row, void *ctx);

/* A held lock (GET /api/v2/import-resources). */
struct lock_info {
    char id[UUID_STR_LEN];
    char *name;
    enum lock_mode mode;
    char job_id[UUID_STR_LEN];
    int attempt;
    char *node;
    char *worker;
    int64_t acquired_at_ms;
    int64_t expires_at_ms;
};

struct lock_list {
    struct lock_info *items;
    size_t count;
};

void lock_list_clear(struct lock_list *list);

/* This process, as the node registry records it. */
struct node_info {
    char id[UUID_STR_LEN];
    char *host;
    int pid;
    char *version;
    char *status;               /* "alive", "dead", "stopped" */
    int64_t started_at_ms;
    int64_t heartbeat_at_ms;
};

struct node_list {
    struct node_info *items;
    size_t count;
};

void node_list_clear(struct node_list *list);

/* Backoff for a retry after a lost worker: attempt (1-based) -> delay. */
typedef int64_t (*retry_backoff_cb)(int attempt, void *ctx);

#endif
