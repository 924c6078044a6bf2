/*
 * common/internal.h - what the two backends share and nothing above the
 * store sees: the column list of a job row, its decoder, and the backends'
 * constructors. Both backends SELECT the columns of JOB_COLUMNS in this
 * order, every value as text (NULL for SQL NULL), with times as
 * RFC 3339 UTC text; store_job_decode turns such a row into a struct job.
 */
#ifndef IMPORTQ_STORE_STORE_INTERNAL_H
#define IMPORTQ_STORE_STORE_INTERNAL_H

#include "store/common/backend.h"

/* How a column is decoded (and, on PostgreSQL, how it is selected). */
enum column_kind {
    COLKIND_TEXT,   /* plain text */
    COLKIND_INT,    /* integer */
    COLKIND_BOOL,   /* "1"/"0" (SQLite) or "t"/"f" (PostgreSQL) */
    COLKIND_TIME,   /* RFC 3339 text; PostgreSQL wraps it in to_char */
    COLKIND_JSON,   /* JSON text */
    COLKIND_DEPS    /* computed: JSON array of dependency ids */
};

/*       enum name         column            kind */
#define JOB_COLUMNS(X)                                   \
    X(ID,               "id",               COLKIND_TEXT) \
    X(REQUEST_ID,       "request_id",       COLKIND_TEXT) \
    X(NAME,             "name",             COLKIND_TEXT) \
    X(STATUS,           "status",           COLKIND_TEXT) \
    X(PRIORITY,         "priority",         COLKIND_INT)  \
    X(ORCHESTRATION_ID, "orchestration_id", COLKIND_TEXT) \
    X(SCHEDULE_ID,      "schedule_id",      COLKIND_TEXT) \
    X(SCHEDULED_AT,     "scheduled_at",     COLKIND_TIME) \
    X(AVAILABLE_AT,     "available_at",     COLKIND_TIME) \
    X(DEPS_PENDING,     "deps_pending",     COLKIND_INT)  \
    X(ATTEMPT,          "attempt",          COLKIND_INT)  \
    X(MAX_ATTEMPTS,     "max_attempts",     COLKIND_INT)  \
    X(TIMEOUT_S,        "timeout_s",        COLKIND_INT)  \
    X(RESOURCES,        "resources",        COLKIND_JSON) \
    X(SOURCE,           "source",           COLKIND_JSON) \
    X(TARGET,           "target",           COLKIND_JSON) \
    X(ON_ERROR,         "on_error",         COLKIND_JSON) \
    X(TARGET_TABLE,     "target_table",     COLKIND_TEXT) \
    X(CANCEL_REQUESTED, "cancel_requested", COLKIND_BOOL) \
    X(WORKER,           "worker",           COLKIND_TEXT) \
    X(HEARTBEAT_AT,     "heartbeat_at",     COLKIND_TIME) \
    X(PROGRESS_PHASE,   "progress_phase",   COLKIND_TEXT) \
    X(ROWS_READ,        "rows_read",        COLKIND_INT)  \
    X(BYTES_READ,       "bytes_read",       COLKIND_INT)  \
    X(BYTES_TOTAL,      "bytes_total",      COLKIND_INT)  \
    X(ROWS_INSERTED,    "rows_inserted",    COLKIND_INT)  \
    X(ROWS_UPDATED,     "rows_updated",     COLKIND_INT)  \
    X(ROWS_REJECTED,    "rows_rejected",    COLKIND_INT)  \
    X(ERROR,            "error",            COLKIND_JSON) \
    X(ATTEMPTS,         "attempts",         COLKIND_JSON) \
    X(CREATED_BY,       "created_by",       COLKIND_TEXT) \
    X(CREATED_AT,       "created_at",       COLKIND_TIME) \
    X(UPDATED_AT,       "updated_at",       COLKIND_TIME) \
    X(STARTED_AT,       "started_at",       COLKIND_TIME) \
    X(FINISHED_AT,      "finished_at",      COLKIND_TIME) \
    X(DEPENDS_ON,       "depends_on",       COLKIND_DEPS)

enum job_column {
#define JOB_COLUMN_ENUM(name, column, kind) JOBCOL_##name,
    JOB_COLUMNS(JOB_COLUMN_ENUM)
#undef JOB_COLUMN_ENUM
    JOBCOL_COUNT
};

/*
 * The columns of a job summary (store_job_list_summary), selected in this
 * order by both backends, as text like JOB_COLUMNS: id, name, status,
 * priority, target_table, the target's mode, attempt, max_attempts,
 * progress_phase, rows_read, bytes_read, bytes_total, created_at,
 * started_at, finished_at, the error's code and message.
 */
enum summary_column {
    SUMCOL_ID,
    SUMCOL_NAME,
    SUMCOL_STATUS,
    SUMCOL_PRIORITY,
    SUMCOL_TARGET_TABLE,
    SUMCOL_MODE,
    SUMCOL_ATTEMPT,
    SUMCOL_MAX_ATTEMPTS,
    SUMCOL_PROGRESS_PHASE,
    SUMCOL_ROWS_READ,
    SUMCOL_BYTES_READ,
    SUMCOL_BYTES_TOTAL,
    SUMCOL_CREATED_AT,
    SUMCOL_STARTED_AT,
    SUMCOL_FINISHED_AT,
    SUMCOL_ERROR_CODE,
    SUMCOL_ERROR_MESSAGE,
    SUMCOL_COUNT
};

/*
 * store_job_summary_decode - one summary row of text values (SUMCOL_COUNT,
 * NULL for SQL NULL) into *ret (zeroed first; job_summary_page_clear frees
 * it with its page). 0, IQ_E_DB for a value that does not parse, IQ_E_NOMEM.
 */
int store_job_summary_decode(const char *const values[SUMCOL_COUNT], struct job_summary *ret,
                             struct iq_error *err);

struct job_column_info {
    const char *name;
    enum column_kind kind;
};

/* Name and kind of each column, indexed by enum job_column. */
extern const struct job_column_info job_columns[JOBCOL_COUNT];

/*
 * store_job_decode - build a job from one row of text values (JOBCOL_COUNT
 * of them, NULL for SQL NULL). Returns 0 and a new job (job_free), or
 * IQ_E_DB when a value does not parse (a corrupted row), IQ_E_NOMEM.
 */
int store_job_decode(const char *const values[JOBCOL_COUNT], struct job **ret_job,
                     struct iq_error *err);

/*
 * store_resources_to_json - compact JSON text of a resource list
 * ([{"name","mode"}]). Caller frees. NULL on OOM.
 */
char *store_resources_to_json(const struct job_resource *resources, size_t count);

/*
 * job_refs_decode_json - a job's dependants from text, a JSON array of
 * [id, name, status] arrays (NULL or SQL NULL: none) as both backends
 * select them: up to JOB_DEPENDENTS_MAX + 1 rows, the extra one only
 * telling that the list is truncated. IQ_E_DB for a malformed row.
 * *ret_list: job_ref_list_clear (also after a failure).
 */
int job_refs_decode_json(const char *text, struct job_ref_list *ret_list, struct iq_error *err);

/*
 * store_json_text - compact, key-sorted JSON text of value (NULL for a NULL
 * value). Caller frees.
 */
char *store_json_text(const json_t *value);

/*
 * store_job_audit_images - the before and after texts of a job's audit
 * row (store_json_text of job_to_json). A creation (no before) or removal
 * (no after) keeps the whole job; a change of an existing job keeps only
 * the fields whose values differ, old in before and new in after, so a
 * row records exactly what changed and the job at any point is its
 * creation image with the later changes applied. Both NULL when both jobs
 * are. Caller frees both. Returns 0 or IQ_E_NOMEM.
 */
int store_job_audit_images(const struct job *before, const struct job *after,
                           char **ret_before, char **ret_after, struct iq_error *err);

/*
 * store_like_pattern - "%<q with % _ \ escaped by \>%" for a LIKE ... ESCAPE
 * '\' name search. Caller frees. NULL on OOM.
 */
char *store_like_pattern(const char *q);

/*
 * store_load_finish_is_fence - plan's finish_on_commit ends the very
 * attempt its fence names (same job, worker and attempt, as a worker's
 * own job does): the finish's owner check (RUNNING under that worker and
 * attempt, else IQ_E_STALE) is then the fence, and a separate fence read
 * would only repeat it.
 */
bool store_load_finish_is_fence(const struct load_plan *plan);

/*
 * store_grow - room for element count of an array of item_size elements
 * with *capacity of them: items itself while count < *capacity, else the
 * array reallocated to twice the capacity (first when it is 0), with
 * *capacity updated. NULL on OOM (items untouched and still owned by the
 * caller).
 */
void *store_grow(void *items, size_t *capacity, size_t count, size_t item_size, size_t first);

/* The column texts a spec contributes to a job row (all owned). */
struct spec_texts {
    char *resources;
    char *source;
    char *target;
    char *on_error;
};

/*
 * spec_texts_build - the JSON column texts of spec ("{}" for a missing
 * part). Returns 0, or IQ_E_NOMEM with ret_texts cleared. Clear with
 * spec_texts_clear.
 */
int spec_texts_build(const struct job_spec *spec, struct spec_texts *ret_texts,
                     struct iq_error *err);
void spec_texts_clear(struct spec_texts *texts);

/*
 * store_check_claim_batch - what job_claim_batch needs before any SQL:
 * positive limit and lease, non-negative aging, 1 to
 * STORE_CLAIM_BATCH_MAX workers, each named. IQ_E_INVALID otherwise.
 */
#define STORE_CLAIM_BATCH_MAX 256

/* Runnable jobs a claim looks at, best first, for one whose resources are
 * all free: a job waiting for its table does not hold up the ones behind
 * it, and the cost of a claim stays bounded whatever the queue's length. */
#define STORE_CLAIM_CANDIDATES 16
int store_check_claim_batch(const struct claim_request *req, const char *const *workers,
                            int worker_count, struct iq_error *err);

/*
 * store_target_name - text (a load's target, child or references table)
 * as a table the backend may write, parsed into *ret_name: "table", or
 * "schema.table" when qualified_allowed (PostgreSQL; SQLite loads only
 * into its main database). Never one of the service's own tables nor a
 * catalog (table_name_refusal). The spec parser refuses the same names;
 * the store checks again because it is where the SQL is written, and a
 * load plan may come from other callers. Returns 0 or IQ_E_INVALID.
 */
int store_target_name(const char *text, bool qualified_allowed, struct table_name *ret_name,
                      struct iq_error *err);

/*
 * store_key_text - "(a, b)=(1, x)": the names of spec's key and the value
 * value_cb gives for each key column i (NULL: "NULL"), as a reject of a
 * duplicate or conflicting key names it on both backends. Caller frees;
 * NULL on OOM.
 */
char *store_key_text(const struct load_part *spec, const char *(*value_cb)(size_t i, void *ctx),
                     void *ctx);

/* Backend constructors used by store_open. */
int store_sqlite_open(const char *path, const struct store_options *opts,
                      struct store **ret_store, struct iq_error *err);
int store_pg_open(const char *conninfo, const struct store_options *opts,
                  struct store **ret_store, struct iq_error *err);

#endif
