/*
 * rejects.h - the rejected rows of one attempt, kept in memory while the
 * import runs and written to the store (importq_job_rejects) in batches
 * at its end: on the service database inside the load's own transaction,
 * just before the COMMIT that also completes the job (so the job is never
 * COMPLETED without its rejects, and a load that does not commit keeps
 * none); otherwise once import_run has returned.
 *
 * Why not during: while a load runs, its transaction may hold the
 * database's write lock (SQLite: the checks, which report rejects, run
 * inside the final write transaction), so a write of the rejects from the
 * same thread on another connection would wait for a lock its own thread
 * holds; on the load's own connection they join its transaction. Memory
 * stays bounded:
 * at most REJECTS_KEPT_MAX rows are kept per attempt (values are already
 * cut to IMPORT_REJECT_VALUE_MAX by the pipeline); beyond that they are
 * counted, and one last row says how many were not kept.
 *
 * Not thread-safe: one buffer belongs to one worker's run.
 */
#ifndef IMPORTQ_ENGINE_REJECTS_H
#define IMPORTQ_ENGINE_REJECTS_H

#include "core/error.h"
#include "pipeline/import.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define REJECTS_KEPT_MAX 10000
#define REJECTS_BATCH_ROWS 500

struct reject_buffer {
    const char *target_table;     /* rejects of other (child) tables name their table */
    struct job_reject_row *rows;  /* strings owned */
    size_t count;
    size_t capacity;
    int64_t dropped;              /* rejects past REJECTS_KEPT_MAX */
    int64_t last_line;
};

/* reject_buffer_init - empty buffer; target_table must outlive it. */
void reject_buffer_init(struct reject_buffer *buf, const char *target_table);

/*
 * reject_buffer_add_cb - import_reject_cb: keep a copy of reject. Returns 0
 * (out of memory or over the limit only counts it: losing a reject report
 * must not fail an import), never stops the import.
 */
int reject_buffer_add_cb(const struct import_reject *reject, void *ctx);

/*
 * reject_buffer_flush - write every kept row (and the "not kept" row) for
 * job_id/attempt in batches of REJECTS_BATCH_ROWS, then empty the buffer.
 * Returns 0 or the store's error (the buffer is emptied either way).
 */
int reject_buffer_flush(struct reject_buffer *buf, struct store *store, const char *job_id,
                        int attempt, struct iq_error *err);

/* reject_buffer_clear - free everything; NULL-safe, reusable after. */
void reject_buffer_clear(struct reject_buffer *buf);

#endif
