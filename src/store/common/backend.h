/*
 * backend.h - what a backend implements: the table of its operations
 * (struct store_ops, one labelled slot per operation, modelled on
 * sqlite3_vfs), the table of a load's operations (struct load_ops), and the
 * common heads its connection and load structs embed first. Each slot does
 * what the store_<slot> function of store.h (load.h for a load's) promises;
 * store.c dispatches to it. Only the store includes this header: above it
 * struct store and struct load are opaque.
 */
#ifndef IMPORTQ_STORE_COMMON_BACKEND_H
#define IMPORTQ_STORE_COMMON_BACKEND_H

#include "store/alert_ops.h"
#include "store/store.h"

struct schedule_primitives;
enum schedule_tx_kind { SCHEDULE_TX_READ, SCHEDULE_TX_WRITE };
typedef int (*schedule_tx_body)(const struct schedule_primitives *p, void *backend, void *ctx,
                                struct iq_error *err);
struct alert_primitives;
enum alert_tx_kind { ALERT_TX_READ, ALERT_TX_WRITE };
typedef int (*alert_tx_body)(const struct alert_primitives *p, void *backend, void *ctx,
                             struct iq_error *err);

struct store_ops {
    const char *name;              /* "sqlite" or "postgres" */
    unsigned capabilities;         /* enum store_capability bits */
    void (*close)(struct store *s);
    int (*migrate)(struct store *s, int *ret_applied, struct iq_error *err);
    int (*schema_version)(struct store *s, int *ret_version, struct iq_error *err);
    int (*role_is_superuser)(struct store *s, bool *ret_superuser, struct iq_error *err);
    int (*job_create)(struct store *s, const struct job_create_request *req,
                      const struct audit_context *actx, struct job **ret_job,
                      bool *ret_existed, struct iq_error *err);
    int (*job_get)(struct store *s, const char *id, struct job **ret_job,
                   struct iq_error *err);
    int (*job_list)(struct store *s, const struct job_filter *filter,
                    struct job_page *ret_page, struct iq_error *err);
    int (*job_list_summary)(struct store *s, const struct job_filter *filter,
                            struct job_summary_page *ret_page, struct iq_error *err);
    int (*job_update)(struct store *s, const char *id, const struct job_spec *spec,
                      const struct audit_context *actx, struct job **ret_job,
                      struct iq_error *err);
    int (*job_cancel)(struct store *s, const char *id, const struct audit_context *actx,
                      struct job **ret_job, struct iq_error *err);
    int (*queue_stats)(struct store *s, int64_t now_ms, struct queue_stats *ret_stats,
                       struct iq_error *err);
    int (*explain_job_list)(struct store *s, const struct job_filter *filter,
                            char **ret_plan, struct iq_error *err);

    /* --- imports (store/load.h) --- */
    int (*table_describe)(struct store *s, const char *table, struct table_info *ret_info,
                          struct iq_error *err);
    int (*load_begin)(struct store *s, const struct load_plan *plan, struct load **ret_load,
                      struct iq_error *err);

    /* --- running jobs (store/engine_ops.h) --- */
    int (*job_claim_batch)(struct store *s, const struct claim_request *req,
                           const char *const *workers, int worker_count,
                           const struct audit_context *actx, struct job **ret_jobs,
                           int *ret_claimed, struct iq_error *err);
    int (*job_heartbeat)(struct store *s, const char *job_id, const char *worker, int attempt,
                         int64_t lease_ms, const struct job_progress *progress,
                         bool *ret_cancel_requested, struct iq_error *err);
    int (*job_finish)(struct store *s, const struct job_finish *finish,
                      const struct audit_context *actx, struct job **ret_job,
                      struct iq_error *err);
    int (*job_execute)(struct store *s, const char *id, const struct audit_context *actx,
                       struct job **ret_job, struct iq_error *err);
    int (*jobs_rescue)(struct store *s, int64_t lease_ms, retry_backoff_cb backoff_cb,
                       void *backoff_ctx, const struct audit_context *actx, int *ret_rescued,
                       struct iq_error *err);
    int (*job_rejects_add)(struct store *s, const char *job_id, int attempt,
                           const struct job_reject_row *rows, size_t count, struct iq_error *err);
    int (*job_rejects_each)(struct store *s, const char *job_id, job_reject_row_cb cb,
                            void *ctx, struct iq_error *err);
    int (*locks_list)(struct store *s, struct lock_list *ret_list, struct iq_error *err);
    int (*lock_release)(struct store *s, const char *lock_id, const struct audit_context *actx,
                        struct iq_error *err);
    int (*node_register)(struct store *s, const struct node_info *node, struct iq_error *err);
    int (*node_heartbeat)(struct store *s, const char *node_id, const char *status,
                          struct iq_error *err);
    int (*nodes_mark_dead)(struct store *s, int64_t dead_after_ms, int *ret_marked,
                           struct iq_error *err);
    int (*nodes_list)(struct store *s, struct node_list *ret_list, struct iq_error *err);
    int (*wait_for_work)(struct store *s, int timeout_ms, bool *ret_woken, struct iq_error *err);

    /* --- the API's own records (store/admin_ops.h) --- */
    int (*token_create)(struct store *s, const struct token_info *info,
                        const struct audit_context *actx, struct iq_error *err);
    int (*token_list)(struct store *s, bool include_revoked, struct token_list *ret_list,
                      struct iq_error *err);
    int (*token_revoke)(struct store *s, const char *name, const struct audit_context *actx,
                        struct iq_error *err);
    int (*token_touch)(struct store *s, const char *token_id, int64_t at_ms,
                       struct iq_error *err);
    int (*audit_list)(struct store *s, const struct audit_filter *filter,
                      struct audit_page *ret_page, struct iq_error *err);
    int (*audit_verify)(struct store *s, struct audit_verify_result *ret_result,
                        struct iq_error *err);
    int (*upload_create)(struct store *s, const struct upload_info *info,
                         const struct audit_context *actx, struct iq_error *err);
    int (*upload_get)(struct store *s, const char *id, struct upload_info *ret_info,
                      struct iq_error *err);
    int (*uploads_expired)(struct store *s, int64_t cutoff_ms, struct upload_list *ret_list,
                           struct iq_error *err);
    int (*upload_delete)(struct store *s, const char *id, struct iq_error *err);
    int (*orchestration_create)(struct store *s, const struct orchestration_request *req,
                                const struct audit_context *actx,
                                struct orchestration *ret_orch, struct iq_error *err);
    int (*orchestration_get)(struct store *s, const char *id, struct orchestration *ret_orch,
                             struct iq_error *err);
    int (*orchestration_list)(struct store *s, int limit, const char *after_id,
                              struct orchestration_page *ret_page, struct iq_error *err);
    int (*job_phases)(struct store *s, const char *job_id, struct job_phase_list *ret_list,
                      struct iq_error *err);
    /* job_dependents - the first JOB_DEPENDENTS_MAX direct dependants of
     * job_id (job_refs_decode_json of one query); NULL where job_get_detail
     * reads them itself. */
    int (*job_dependents)(struct store *s, const char *job_id, struct job_ref_list *ret_list,
                          struct iq_error *err);
    /* NULL: store_job_get_detail reads job_get, job_phases, locks_list and
     * job_dependents. */
    int (*job_get_detail)(struct store *s, const char *id, struct job_detail *ret_detail,
                          struct iq_error *err);
    void (*interrupt)(struct store *s);
    /* --- performance analytics (store/perf_ops.h) --- */
    int (*perf_attempts)(struct store *s, const struct perf_window *window,
                         struct perf_attempts *ret, struct iq_error *err);
    int (*lock_holds)(struct store *s, const struct perf_window *window, struct lock_holds *ret,
                      struct iq_error *err);
    int (*lock_history_prune)(struct store *s, int64_t cutoff_ms, int64_t *ret_deleted,
                              struct iq_error *err);
    /* perf_prune - in one transaction, all the rows of at most limit
     * attempts (job_id, attempt) that have a row started before cutoff_ms
     * (table by table, oldest first in each); *ret_deleted: rows. */
    int (*perf_prune)(struct store *s, int64_t cutoff_ms, int limit, int64_t *ret_deleted,
                      struct iq_error *err);
    /* alert_prune - in one transaction, at most limit alerts in state
     * resolved with resolved_at before cutoff_ms, lowest ids first;
     * *ret_deleted: rows. Never an open or acknowledged one. */
    int (*alert_prune)(struct store *s, int64_t cutoff_ms, int limit, int64_t *ret_deleted,
                       struct iq_error *err);

    /* --- schedules: the rules are common/schedule.c's; a backend gives
     * its primitives and runs a rule's body in one transaction --- */
    const struct schedule_primitives *schedule_primitives;
    int (*schedule_tx)(struct store *s, enum schedule_tx_kind kind, schedule_tx_body body,
                       void *ctx, struct iq_error *err);
    /* --- firing scheduled imports (store/schedule_fire_ops.h) --- */
    int (*schedule_fire)(struct store *s, const struct schedule_fire_request *req,
                         const struct audit_context *actx, struct schedule_fire_result *ret,
                         struct iq_error *err);
    int (*schedules_due)(struct store *s, int64_t now_ms, int limit,
                         struct schedule_due_list *ret, struct iq_error *err);
    int (*schedule_fires_list)(struct store *s, const char *schedule_id, int limit,
                               const struct schedule_fire_cursor *after,
                               struct schedule_fire_page *ret, struct iq_error *err);
    int (*scheduler_lead)(struct store *s, bool *ret_leader, struct iq_error *err);
    /* --- alerts (store/alert_ops.h): the rules are common/alerts.c's; a
     * backend runs a rule's body in one transaction with its primitives --- */
    int (*alert_tx)(struct store *s, enum alert_tx_kind kind, alert_tx_body body, void *ctx,
                    struct iq_error *err);
    /* --- the health history (store/health_ops.h) --- */
    int (*health_snapshot)(struct store *s, int64_t interval_ms, const char *node,
                           struct health_snapshot_result *ret, struct iq_error *err);
    int (*health_compact)(struct store *s, const struct health_retention *retention,
                          struct health_compaction *ret, struct iq_error *err);
    int (*health_series)(struct store *s, int64_t since_ms, int64_t until_ms, int64_t step_s,
                         struct health_series *ret, struct iq_error *err);
    int (*alert_counts)(struct store *s, struct alert_counts *ret, struct iq_error *err);
};

struct load_preview_primitives; /* common/load_preview.h */

/* The operations of a load in progress (see store_load_rows … in store.h). */
struct load_ops {
    int (*rows)(struct load *load, int part, const char *const *values, const int64_t *lines,
                size_t row_count, struct iq_error *err);
    int (*check)(struct load *load, load_reject_cb reject_cb, void *ctx, int64_t *ret_rejected,
                 struct iq_error *err);
    int (*promote)(struct load *load, struct load_result *ret_result, struct iq_error *err);
    int (*commit)(struct load *load, struct iq_error *err);
    void (*abort)(struct load *load);
    /* A dry run's counting steps; the rule is common/load_preview.c's. */
    const struct load_preview_primitives *preview;
};

/* The common head of every backend's connection struct (embedded first). */
struct store {
    const struct store_ops *ops;
    char *url;                     /* owned, as given to store_open */
};

/* The common head of each backend's load state (embedded first). */
struct load {
    const struct load_ops *ops;
    struct store *store;
    const struct load_plan *plan;
};

#endif
