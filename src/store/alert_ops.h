/*
 * alert_ops.h - alerts in the store (stg_import_monitoring, kind 'alert')
 * and the few reads the engine's alert loop needs beyond store.h
 * (store_alert_probe). The rules that decide when an alert opens or
 * resolves are core/alert_rules.c and engine/alerts.c; here an alert is a
 * row: opened at most once per (rule, entity_id) while not resolved (a
 * UNIQUE partial index, migration 009, so two nodes cannot open it
 * twice), acknowledged by an operator (audited "alert.acked" in the same
 * transaction), resolved once.
 */
#ifndef IMPORTQ_STORE_ALERT_OPS_H
#define IMPORTQ_STORE_ALERT_OPS_H

#include "core/alert_rules.h"
#include "core/audit.h"
#include "core/error.h"
#include "core/job.h"
#include "core/uuid7.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

#define ALERT_LIST_LIMIT_DEFAULT 50
#define ALERT_LIST_LIMIT_MAX 500
/* Open and acknowledged alerts the engine reads back at most per look. */
#define ALERT_ACTIVE_MAX 10000
/* Rows of each kind store_alert_probe returns at most. */
#define ALERT_PROBE_LIMIT_MAX 1000

/* One alert row. Strings owned (alert_clear). */
struct alert {
    int64_t id;
    char *rule;
    char *severity;
    enum alert_state state;
    char *entity; /* "job", "queue", "lock", "node" */
    char *entity_id;
    char *message;
    char *detail; /* JSON object text; NULL when none */
    char *node;   /* the node that opened it */
    int64_t created_at_ms;
    int64_t acked_at_ms;    /* 0: not acknowledged */
    char *acked_by;         /* NULL: not acknowledged */
    int64_t resolved_at_ms; /* 0: not resolved */
};

void alert_clear(struct alert *alert);

/* Filters of GET /api/v2/import-monitoring/alerts. */
struct alert_filter {
    unsigned state_mask; /* bit (1u << ALERT_STATE_x) per wanted state; 0 = all */
    int limit;           /* 1..ALERT_LIST_LIMIT_MAX; 0 = default */
    int64_t after_id;    /* keyset: only ids below this one; 0 = from the newest */
};

/* A page of alerts, newest first. */
struct alert_page {
    struct alert *items; /* owned */
    size_t count;
    int64_t next_after_id; /* 0 on the last page */
};

void alert_page_clear(struct alert_page *page);

/* A job whose last attempt ended with an error (store_alert_probe). */
struct alert_probe_job {
    char id[UUID_STR_LEN];
    char *name;
    char *table;
    enum job_status status;
    char *error_code; /* NULL when the error has none */
    char *error_message;
    int attempt;
    int max_attempts;
    int64_t finished_at_ms;
};

struct alert_probe_lock {
    char id[UUID_STR_LEN];
    char *name;
    char job_id[UUID_STR_LEN];
    int64_t expires_at_ms;
};

/* What store_alert_probe read. Clear with alert_probe_clear. */
struct alert_probe {
    struct alert_probe_job *ended; /* newest finish first */
    size_t ended_count;
    struct alert_probe_lock *expired; /* oldest expiry first */
    size_t expired_count;
    int64_t oldest_runnable_since_ms; /* 0 when no job is runnable */
};

void alert_probe_clear(struct alert_probe *probe);

/*
 * store_alert_open - insert an alert from draft (rule, severity, entity,
 * entity_id, message, detail, node; created_at_ms 0: the store's now;
 * state open, or resolved with resolved_at_ms for one recorded after the
 * fact, as a database outage is). An open alert whose rule and entity_id
 * has one open or acknowledged already writes nothing: *ret_opened
 * false. Else *ret_opened true and *ret_id the new id.
 */
int store_alert_open(struct store *s, const struct alert *draft, bool *ret_opened, int64_t *ret_id,
                     struct iq_error *err);

/*
 * store_alert_resolve - resolve alert id now (the store's clock) when it
 * is not resolved yet: *ret_resolved says whether this call did.
 */
int store_alert_resolve(struct store *s, int64_t id, bool *ret_resolved, struct iq_error *err);

/*
 * store_alert_ack - an operator acknowledges alert id: open -> acked,
 * acked_at now, acked_by the actor, audited "alert.acked" (entity
 * "alert") in the same transaction. Acknowledging an acknowledged alert
 * writes nothing and answers it as it is. IQ_E_NOT_FOUND; IQ_E_CONFLICT
 * when it is resolved. *ret: alert_clear (also after a failure).
 */
int store_alert_ack(struct store *s, int64_t id, const struct audit_context *actx,
                    struct alert *ret, struct iq_error *err);

/* store_alert_get - IQ_E_NOT_FOUND. *ret: alert_clear. */
int store_alert_get(struct store *s, int64_t id, struct alert *ret, struct iq_error *err);

/*
 * store_alert_list - a keyset page, newest first (ids descending).
 * IQ_E_BAD_REQUEST for a limit out of 1..ALERT_LIST_LIMIT_MAX. Clear with
 * alert_page_clear.
 */
int store_alert_list(struct store *s, const struct alert_filter *filter,
                     struct alert_page *ret_page, struct iq_error *err);

/*
 * store_alerts_active - every open or acknowledged alert (at most
 * ALERT_ACTIVE_MAX, newest first). Clear with alert_page_clear.
 */
int store_alerts_active(struct store *s, struct alert_page *ret_page, struct iq_error *err);

/*
 * store_alert_probe - what the alert rules need beyond the other reads
 * of store.h: jobs whose last attempt ended with an error (FAILED, or
 * QUEUED for a retry) at or after ended_since_ms, lock rows whose lease
 * has passed (the database's clock on PostgreSQL unless a clock is
 * injected), and when the longest-waiting runnable job (QUEUED, no
 * pending dependency, available) became runnable. At most limit
 * (1..ALERT_PROBE_LIMIT_MAX) rows of each list. Clear with
 * alert_probe_clear.
 */
int store_alert_probe(struct store *s, int64_t ended_since_ms, int limit, struct alert_probe *ret,
                      struct iq_error *err);

/*
 * alert_json - the alert as the API shows it and the webhook sends it:
 * {id, rule, severity, state, entity, entity_id, message, detail (an
 * object), node, created_at, acked_at, acked_by, resolved_at}; id null
 * for one not stored (a database outage while it lasts). New reference;
 * NULL on OOM.
 */
json_t *alert_json(const struct alert *alert);

#endif
