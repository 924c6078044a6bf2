/*
 * common/alerts.h - the rules of storing alerts (stg_import_monitoring,
 * kind 'alert'), written once for both backends: opening (once per rule
 * and entity while not resolved), resolving, acknowledging (audited in
 * the same transaction), listing, and the engine's probe. A backend
 * supplies struct alert_primitives (one statement each) and runs a rule's
 * body in one transaction (store_ops.alert_tx). No SQL here
 * (tests/store/check_layers.sh).
 */
#ifndef IMPORTQ_STORE_COMMON_ALERTS_H
#define IMPORTQ_STORE_COMMON_ALERTS_H

#include "store/common/internal.h"

/* The columns of an alert row, selected as text in this order by both
 * backends (times as RFC 3339 UTC text). */
enum alert_column {
    ALERTCOL_ID,
    ALERTCOL_RULE,
    ALERTCOL_SEVERITY,
    ALERTCOL_STATE,
    ALERTCOL_ENTITY,
    ALERTCOL_ENTITY_ID,
    ALERTCOL_MESSAGE,
    ALERTCOL_DETAIL,
    ALERTCOL_NODE,
    ALERTCOL_CREATED_AT,
    ALERTCOL_ACKED_AT,
    ALERTCOL_ACKED_BY,
    ALERTCOL_RESOLVED_AT,
    ALERTCOL_COUNT
};

/* The columns of a probe's ended job: id, name, target_table, status,
 * the error's code and message, attempt, max_attempts, finished_at. */
enum alert_ended_column {
    ENDEDCOL_ID,
    ENDEDCOL_NAME,
    ENDEDCOL_TABLE,
    ENDEDCOL_STATUS,
    ENDEDCOL_ERROR_CODE,
    ENDEDCOL_ERROR_MESSAGE,
    ENDEDCOL_ATTEMPT,
    ENDEDCOL_MAX_ATTEMPTS,
    ENDEDCOL_FINISHED_AT,
    ENDEDCOL_COUNT
};

/* The columns of a probe's expired lock: id, name, job_id, expires_at. */
enum alert_lock_column {
    LOCKCOL_ID,
    LOCKCOL_NAME,
    LOCKCOL_JOB_ID,
    LOCKCOL_EXPIRES_AT,
    LOCKCOL_COUNT
};

/* alert_decode_row - one alert row of text values (NULL for SQL NULL);
 * IQ_E_DB for a value that does not parse. *ret zeroed first. */
int alert_decode_row(const char *const values[ALERTCOL_COUNT], struct alert *ret,
                     struct iq_error *err);

/* alert_probe_add_ended / alert_probe_add_lock - decode one probe row
 * onto the end of probe's list (room for it is the caller's). */
int alert_probe_decode_ended(const char *const values[ENDEDCOL_COUNT], struct alert_probe_job *ret,
                             struct iq_error *err);
int alert_probe_decode_lock(const char *const values[LOCKCOL_COUNT], struct alert_probe_lock *ret,
                            struct iq_error *err);

/*
 * struct alert_primitives - what a backend does for the rules, inside the
 * transaction the rule runs in. 0 or a negative IQ_E_*.
 */
struct alert_primitives {
    /* now_ms - the connection's clock (core/clock.h). */
    int64_t (*now_ms)(void *backend);
    /* insert - row (kind 'alert'); an open row whose rule and entity_id
     * is open already (the unique index) inserts nothing: *ret_inserted
     * false. */
    int (*insert)(void *backend, const struct alert *row, bool *ret_inserted, int64_t *ret_id,
                  struct iq_error *err);
    /* resolve - state resolved, resolved_at at_ms, when not resolved. */
    int (*resolve)(void *backend, int64_t id, int64_t at_ms, bool *ret_resolved,
                   struct iq_error *err);
    /* read - alert id (its row locked in a write transaction where the
     * backend locks rows); IQ_E_NOT_FOUND "alert <id> not found". */
    int (*read)(void *backend, int64_t id, struct alert *ret, struct iq_error *err);
    /* ack - state acked, acked_at, acked_by, when open. */
    int (*ack)(void *backend, int64_t id, const char *actor, int64_t at_ms, struct iq_error *err);
    /* list - up to limit alerts in state_mask (0: all), ids descending below after_id (0: none). */
    int (*list)(void *backend, unsigned state_mask, int64_t after_id, int limit,
                struct alert_page *ret_page, struct iq_error *err);
    /* probe - store_alert_probe's three reads. */
    int (*probe)(void *backend, int64_t ended_since_ms, int limit, struct alert_probe *ret,
                 struct iq_error *err);
    /* audit - one audit row of entity "alert" (texts borrowed). */
    int (*audit)(void *backend, const struct audit_context *actx, const char *action,
                 const char *id, const char *before_json, const char *after_json,
                 struct iq_error *err);
};

/* alert_tx_body and enum alert_tx_kind are in common/backend.h, beside
 * the slot that runs them. */

/* The rules, run by store/alerts.c through the backend's alert_tx (see
 * store/alert_ops.h for what each promises). */
int alert_rule_open(struct store *s, const struct alert *draft, bool *ret_opened, int64_t *ret_id,
                    struct iq_error *err);
int alert_rule_resolve(struct store *s, int64_t id, bool *ret_resolved, struct iq_error *err);
int alert_rule_ack(struct store *s, int64_t id, const struct audit_context *actx, struct alert *ret,
                   struct iq_error *err);
int alert_rule_get(struct store *s, int64_t id, struct alert *ret, struct iq_error *err);
int alert_rule_list(struct store *s, const struct alert_filter *filter, struct alert_page *ret_page,
                    struct iq_error *err);
int alert_rule_active(struct store *s, struct alert_page *ret_page, struct iq_error *err);
int alert_rule_probe(struct store *s, int64_t ended_since_ms, int limit, struct alert_probe *ret,
                     struct iq_error *err);

#endif
