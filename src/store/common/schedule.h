/*
 * common/schedule.h - the rules of storing schedules (stg_scheduled_imports),
 * written once for both backends: what create, update, delete, pause and
 * resume do, their checks (the bound on the number of schedules, a unique
 * name), next_run_at from the store's clock, and the audit rows. A backend
 * supplies struct schedule_primitives (one statement each) and a
 * transaction to run a rule in (store_ops.schedule_tx). Nothing above the
 * store includes it; no SQL here (tests/store/check_layers.sh).
 */
#ifndef IMPORTQ_STORE_COMMON_SCHEDULE_H
#define IMPORTQ_STORE_COMMON_SCHEDULE_H

#include "store/common/internal.h"

/* Past performance records a p50 reads (the newest attempts of a table). */
#define SCHEDULE_P50_SAMPLES 100

/* The columns of a schedule row, selected as text in this order by both backends. */
enum schedule_column {
    SCHEDCOL_ID,
    SCHEDCOL_NAME,
    SCHEDCOL_CRON,
    SCHEDCOL_TIMEZONE,
    SCHEDCOL_JOB_SPEC, /* JSON text */
    SCHEDCOL_MISFIRE,
    SCHEDCOL_OVERLAP,
    SCHEDCOL_CATCH_UP_MAX,
    SCHEDCOL_ENABLED,     /* "1"/"0" or "t"/"f" */
    SCHEDCOL_NEXT_RUN_AT, /* RFC 3339, NULL */
    SCHEDCOL_LAST_RUN_AT,
    SCHEDCOL_LAST_STATUS,
    SCHEDCOL_LAST_JOB_ID,
    SCHEDCOL_RUN_COUNT,
    SCHEDCOL_SUCCESS_COUNT,
    SCHEDCOL_FAILURE_COUNT,
    SCHEDCOL_CREATED_BY,
    SCHEDCOL_CREATED_AT,
    SCHEDCOL_UPDATED_AT,
    SCHEDCOL_COUNT
};

/*
 * schedule_decode_row - one row of text values (NULL for SQL NULL) into
 * *ret (zeroed first). IQ_E_DB for a value that does not parse; on
 * failure *ret is cleared.
 */
int schedule_decode_row(const char *const values[SCHEDCOL_COUNT], struct schedule *ret,
                        struct iq_error *err);

/*
 * struct schedule_primitives - what a backend does for the rules, each
 * inside the transaction the rule runs in (`backend` is the backend's
 * connection). 0 or a negative IQ_E_* with detail in err.
 */
struct schedule_primitives {
    /* now_ms - the connection's clock (core/clock.h), never the wall clock directly. */
    int64_t (*now_ms)(void *backend);
    /* count - how many schedules exist. */
    int (*count)(void *backend, int64_t *ret_count, struct iq_error *err);
    /* read - schedule id (its row locked where the backend locks rows);
     * IQ_E_NOT_FOUND "schedule <id> not found". */
    int (*read)(void *backend, const char *id, struct schedule *ret, struct iq_error *err);
    /* name_taken - whether another schedule than exclude_id (NULL: none) has name. */
    int (*name_taken)(void *backend, const char *name, const char *exclude_id, bool *ret_taken,
                      struct iq_error *err);
    /* insert - the row of row (every column); IQ_E_CONFLICT when its name is taken. */
    int (*insert)(void *backend, const struct schedule *row, struct iq_error *err);
    /* write - the editable columns (name, cron, timezone, job_spec,
     * misfire, overlap, catch_up_max, enabled), next_run_at and
     * updated_at of row->id from row. */
    int (*write)(void *backend, const struct schedule *row, struct iq_error *err);
    /* lock_dependents - before a delete reads (locks) the schedule's row:
     * lock what the delete's cascades will change and a finishing job's
     * trigger takes before that row (migration 006): the schedule's
     * unfinished jobs (by id), then its fire rows, the lock order of a
     * fire (postgres/schedule_fires.c). NULL where rows are not locked
     * (SQLite: one writer). */
    int (*lock_dependents)(void *backend, const char *id, struct iq_error *err);
    /* remove - delete schedule id (its jobs keep running, schedule_id null). */
    int (*remove)(void *backend, const char *id, struct iq_error *err);
    /* list - up to limit rows matching filter, ids descending, below filter->after_id. */
    int (*list)(void *backend, const struct schedule_filter *filter, int limit,
                struct schedule_page *ret_page, struct iq_error *err);
    /* durations - the run times (ms, the sum of its phases) of the newest
     * at most max attempts of jobs into table, any order. */
    int (*durations)(void *backend, const char *table, size_t max, int64_t *ret_ms,
                     size_t *ret_count, struct iq_error *err);
    /* audit - one audit row of entity "schedule" (texts borrowed, NULL allowed). */
    int (*audit)(void *backend, const struct audit_context *actx, const char *action,
                 const char *id, const char *before_json, const char *after_json,
                 struct iq_error *err);
};

/* schedule_tx_body and enum schedule_tx_kind (read or write) are in
 * common/backend.h, beside the slot that runs them. */

/*
 * The rules, each run by store.c through the backend's schedule_tx (see
 * the store_schedule_* functions of store.h for what each promises).
 */
int schedule_rule_create(struct store *s, const struct schedule_request *req,
                         const struct audit_context *actx, struct schedule *ret,
                         struct iq_error *err);
int schedule_rule_get(struct store *s, const char *id, struct schedule *ret, struct iq_error *err);
int schedule_rule_list(struct store *s, const struct schedule_filter *filter,
                       struct schedule_page *ret_page, struct iq_error *err);
int schedule_rule_update(struct store *s, const char *id, const struct schedule_spec *spec,
                         const struct audit_context *actx, struct schedule *ret,
                         struct iq_error *err);
int schedule_rule_delete(struct store *s, const char *id, const struct audit_context *actx,
                         struct schedule *ret, struct iq_error *err);
int schedule_rule_set_enabled(struct store *s, const char *id, bool enabled,
                              const struct audit_context *actx, struct schedule *ret,
                              struct iq_error *err);
int schedule_rule_table_p50(struct store *s, const char *table, int64_t *ret_ms,
                            struct iq_error *err);

#endif
