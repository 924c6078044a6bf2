/*
 * common/orchestration.h - what the two backends share to store
 * orchestrations (rows of stg_import_coordination with kind
 * 'orchestration', their jobs carrying orchestration_id): checking a
 * request and drafting its rows, decoding a stored row with its jobs,
 * the audit image. Nothing above the store includes it.
 *
 * How an orchestration is stored (docs/schema.md): name, status (the
 * aggregate of its jobs, core/orchestration.h, kept current by every
 * transaction that changes one of its jobs' status), created_by, and
 * detail = {"jobs": {"<key>": "<job id>", ...}}. Job ids are generated in
 * request order, so ordering the jobs by id gives the request order.
 */
#ifndef IMPORTQ_STORE_ORCHESTRATION_INTERNAL_H
#define IMPORTQ_STORE_ORCHESTRATION_INTERNAL_H

#include "core/orchestration.h"
#include "store/common/internal.h"

#include <jansson.h>

#define ORCHESTRATION_LIST_LIMIT_DEFAULT 50
#define ORCHESTRATION_LIST_LIMIT_MAX 500

/*
 * A checked request, ready to insert: the orchestration's id, its jobs'
 * ids (request order), the order to insert them in (each after the jobs
 * it waits for) and each job's spec as a shallow copy whose depends_on is
 * the request spec's own ids followed by the ids of its "after" jobs.
 */
struct orchestration_draft {
    char id[UUID_STR_LEN];
    size_t job_count;
    char (*job_ids)[UUID_STR_LEN];  /* owned */
    struct job_spec *specs;         /* owned array; members borrowed from the request,
                                       except depends_on (owned array, borrowed strings) */
    struct orchestration_plan plan; /* plan.order: the insert order */
    char *detail_text;              /* owned: {"jobs": {key: id}} */
    const char *name;               /* borrowed; "" when the request has none */
};

/*
 * orchestration_draft_build - check req and draft its rows. IQ_E_INVALID
 * with field errors for a missing spec or target ("jobs[i]"), a
 * request_id inside ("jobs[i].request_id"), too many dependencies
 * ("jobs[i].after"), a name too long ("name"), and every key problem of
 * orchestration_plan_build; IQ_E_CONFLICT for a cycle; IQ_E_NOMEM.
 * The ids are UUIDv7 of now_ms (the store's clock), so they order like
 * created_at. Returns 0 and *ret_draft (orchestration_draft_clear it, also
 * on failure).
 */
int orchestration_draft_build(const struct orchestration_request *req, int64_t now_ms,
                              struct orchestration_draft *ret_draft, struct iq_error *err);
void orchestration_draft_clear(struct orchestration_draft *draft);

/* The columns of an orchestration row, selected as text in this order by both backends. */
enum orchestration_column {
    ORCHCOL_ID,
    ORCHCOL_NAME,
    ORCHCOL_STATUS,
    ORCHCOL_CREATED_BY,
    ORCHCOL_CREATED_AT, /* RFC 3339 */
    ORCHCOL_UPDATED_AT,
    ORCHCOL_DETAIL, /* JSON text */
    ORCHCOL_COUNT
};

/*
 * orchestration_decode_row - one row (values as text, NULL for SQL NULL)
 * into *ret_orch (no jobs yet) and *ret_keys, the detail's key -> job id
 * object (new reference, for orchestration_add_job). IQ_E_DB for a value
 * that does not parse. On failure both are cleared.
 */
int orchestration_decode_row(const char *const values[ORCHCOL_COUNT],
                             struct orchestration *ret_orch, json_t **ret_keys,
                             struct iq_error *err);

/*
 * orchestration_add_job - append job (ownership passes, also on failure)
 * to orch with its key looked up in keys. IQ_E_DB when no key names it.
 */
int orchestration_add_job(struct orchestration *orch, const json_t *keys, struct job *job,
                          struct iq_error *err);

/*
 * orchestration_audit_text - the audit image of orch: compact, key-sorted
 * {"id","name","status","created_by","jobs":[{"key","id"}]}. Caller frees;
 * NULL on OOM.
 */
char *orchestration_audit_text(const struct orchestration *orch);

/*
 * orchestration_list_check - the limit to use (0 -> 50) and a check of
 * after_id; IQ_E_BAD_REQUEST for a limit outside 1..500 or an after_id
 * that is not an id.
 */
int orchestration_list_check(int limit, const char *after_id, int *ret_limit, struct iq_error *err);

/*
 * orchestration_page_fill - give each item of page (ids descending) the
 * jobs of its own, taking every job of jobs (ordered by orchestration_id
 * descending, then id; ownership of each passes). keys[i] belongs to
 * page->items[i]. IQ_E_DB for a job that matches no item.
 */
int orchestration_page_fill(struct orchestration_page *page, json_t *const *keys, struct job **jobs,
                            size_t job_count, struct iq_error *err);

#endif
