/*
 * import.h - one import, start to finish: read a source (reader.h),
 * convert and check every value (convert.h), and land the rows through the
 * store's load interface (store/load.h) in one transaction, so the target
 * holds either nothing from this import or all of it.
 *
 * The caller (the engine, or `importq import`) resolves the file, picks
 * the store connection of the target database, and supplies the hooks:
 * progress (at least every progress_interval_ms), rejects (every rejected
 * row, as it is found) and a cancel flag (checked between batches; to stop
 * a long statement the caller also calls store_interrupt()).
 *
 * Not for: job state, retries, locks, audit. Those are the engine's.
 */
#ifndef IMPORTQ_PIPELINE_IMPORT_H
#define IMPORTQ_PIPELINE_IMPORT_H

#include "core/error.h"
#include "core/job_spec.h"
#include "pipeline/reader.h"
#include "store/store.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Timed phases, as stg_import_performance records them. */
#define IMPORT_PHASES(X) \
    X(READ, "read")      \
    X(STAGE, "stage")    \
    X(VALIDATE, "validate") \
    X(PROMOTE, "promote")

enum import_phase {
#define IMPORT_PHASE_ENUM(name, text) IMPORT_PHASE_##name,
    IMPORT_PHASES(IMPORT_PHASE_ENUM)
#undef IMPORT_PHASE_ENUM
    IMPORT_PHASE_COUNT
};

const char *import_phase_name(enum import_phase phase);

/* Rows a batch holds before it goes to the store. */
#define IMPORT_BATCH_ROWS 2048
#define IMPORT_BATCH_BYTES ((size_t)4 << 20)
/* A rejected value is reported cut to this many bytes. */
#define IMPORT_REJECT_VALUE_MAX 256

struct import_progress {
    const char *phase;            /* "read", "stage", "validate", "promote", "done" */
    int64_t rows_read;
    int64_t rows_rejected;
    uint64_t bytes_read;
    uint64_t bytes_total;         /* 0 when unknown */
};

typedef void (*import_progress_cb)(const struct import_progress *progress, void *ctx);

/* One rejected value (or whole row, when column is NULL). Strings are valid
 * during the callback only. */
struct import_reject {
    int64_t line;
    const char *table;            /* the target, or a child table */
    const char *column;
    const char *value;            /* cut to IMPORT_REJECT_VALUE_MAX; NULL for SQL NULL */
    const char *error;
    int64_t record;               /* 0-based record index (reader.h); -1 unknown
                                     (set-wise rejects from the store) */
    const char *pointer;          /* JSON sources: JSON pointer of the rejected
                                     value in the document ("/steps/3/email"),
                                     or of the record ("/steps/3") when no
                                     value is to blame; NULL for CSV/unknown */
};

/* Return 0 to go on, negative to stop the import with that code. */
typedef int (*import_reject_cb)(const struct import_reject *reject, void *ctx);

struct import_result;

/* Called once, after promotion and just before COMMIT, with the final
 * counts (phase_ms[PROMOTE] so far): the moment to fill finish_on_commit. */
typedef void (*import_commit_cb)(const struct import_result *result, void *ctx);

struct import_request {
    const struct source_spec *source;
    const struct target_spec *target;
    const struct on_error_spec *on_error;
    const char *path;                   /* the file to read, already resolved */
    struct store *store;                /* connection to the target database */
    /* The fence, the job's COMPLETED finish and the worker's next claim
     * the COMMIT carries (store/load.h; zero: none). The caller may fill
     * in commit.finish_on_commit from before_commit_cb, which runs before
     * the store reads it. */
    struct load_commit commit;
    import_commit_cb before_commit_cb;  /* may be NULL */
    void *before_commit_ctx;
    import_progress_cb progress_cb;     /* may be NULL */
    void *progress_ctx;
    int64_t progress_interval_ms;       /* 0: 250 */
    import_reject_cb reject_cb;         /* may be NULL */
    void *reject_ctx;
    const atomic_bool *cancel;          /* may be NULL */
    const struct reader_limits *limits; /* may be NULL */
};

struct import_result {
    int64_t rows_read;                  /* records read from the source */
    int64_t rows_inserted;
    int64_t rows_updated;
    int64_t rows_deleted;               /* replace: rows that were there before */
    int64_t rows_rejected;              /* rows left out (conversion + set-wise) */
    uint64_t bytes_read;
    int64_t phase_ms[IMPORT_PHASE_COUNT];
    /* A dry run (target.dry_run): nothing was written, and the counts
     * above are what the import would do, as store/load.h's struct
     * load_preview defines them (rows_updated: rows whose values would
     * change; rows_deleted: replace, rows whose key the file lacks, or
     * every row without a key). phase_ms[PROMOTE] is the counting. */
    bool dry_run;
    int64_t rows_unchanged;             /* dry run: key found, every value the same */
    bool creates_target;                /* dry run: the target would be created */
};

/*
 * import_failure_code - the job error code ("rejected", "invalid_source",
 * "source_not_found", "source_unreadable", "constraint_violation", else
 * "import_failed") of an import_run failure code rc, and in
 * *ret_transient whether the same import may go through when tried
 * again (only "import_failed": a lost connection, a deadlock, a full
 * disk ...). The engine records it as the job's error.code; `importq
 * import --json` prints it.
 */
const char *import_failure_code(int rc, bool *ret_transient);

/*
 * import_run - run one import. On success (0) the rows are committed and
 * *ret_result says what happened. On failure nothing landed; *ret_result
 * still holds the counts so far, and the code says why:
 *   IQ_E_INVALID    the source or mapping is unusable (err->message says
 *                   where: "line 17: unterminated quoted field", "CSV
 *                   header has no column \"email\"", "target table ...")
 *   IQ_E_REJECTED   on_error abort and more rejects than max_rejects
 *   IQ_E_CANCELLED  the cancel flag was set (or the store was interrupted)
 *   IQ_E_STALE      the fence failed: the job is no longer ours
 *   IQ_E_IO, IQ_E_DB, IQ_E_NOMEM, IQ_E_TOO_LARGE
 * With target->dry_run the run reads the whole source whatever
 * on_error says (every bad row is reported), runs the checks, counts what
 * would happen (store_load_preview) and rolls back: 0 with the counts in
 * *ret_result, or IQ_E_REJECTED when abort's max_rejects would be
 * exceeded ("... the import would fail"), or the other codes above.
 */
int import_run(const struct import_request *req, struct import_result *ret_result,
               struct iq_error *err);

#endif
