/*
 * sqlite/rejects.c - rejected rows kept per job and attempt on
 * SQLite (importq_job_rejects), the data behind GET .../rejects: adding a
 * batch during an import, and reading the latest attempt's back in line
 * order. Not here: deciding what is rejected (the pipeline) or the CSV.
 */
#include "store/sqlite/internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Adding
 * ------------------------------------------------------------------------ */

/* last_seq - the highest seq kept for job_id's attempt, 0 when none. */
static int last_seq(struct sqlite_store *s, const char *job_id, int attempt, int64_t *ret_seq,
                    struct iq_error *err)
{
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_REJECT_LAST_SEQ, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, job_id);
    bind_int64(&b, attempt);
    int rc = sqlite_binder_check(s, &b, err);
    return rc < 0 ? rc : sqlite_read_int64(s, stmt, "read last reject", ret_seq, err);
}

/* insert_reject - one row with sequence number seq. */
static int insert_reject(struct sqlite_store *s, sqlite3_stmt *stmt, const char *job_id,
                         int attempt, int64_t seq, const struct job_reject_row *row,
                         struct iq_error *err)
{
    struct binder b = binder_start(stmt);
    bind_text(&b, job_id);
    bind_int64(&b, attempt);
    bind_int64(&b, seq);
    bind_int64(&b, row->line);
    bind_text(&b, row->column);
    bind_text(&b, row->value);
    bind_text(&b, row->error ? row->error : "");
    if (row->has_record)
        bind_int64(&b, row->record);
    else
        bind_text(&b, NULL); /* SQL NULL: the record is unknown */
    bind_text(&b, row->pointer);
    int rc = sqlite_binder_check(s, &b, err);
    return rc < 0 ? rc : sqlite_stmt_run(s, stmt, "keep rejected row", err);
}

/* add_locked - the body of job_rejects_add, inside BEGIN IMMEDIATE. */
static int add_locked(struct sqlite_store *s, const char *job_id, int attempt,
                      const struct job_reject_row *rows, size_t count, struct iq_error *err)
{
    enum job_status status;
    int rc = sqlite_read_status(s, job_id, &status, err);
    if (rc == 1)
        return iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", job_id);
    int64_t seq = 0;
    if (rc == 0)
        rc = last_seq(s, job_id, attempt, &seq, err);
    /* One prepared INSERT, reset and rebound per row, inside one transaction. */
    sqlite3_stmt *stmt = rc == 0 ? sqlite_stmt_get(s, STMT_REJECT_INSERT, err) : NULL;
    if (rc == 0 && !stmt)
        rc = IQ_E_DB;
    for (size_t i = 0; rc == 0 && i < count; i++)
        rc = insert_reject(s, stmt, job_id, attempt, seq + 1 + (int64_t)i, &rows[i], err);
    return rc;
}

/*
 * sqlite_job_rejects_add - see store_ops.job_rejects_add: the rows in one
 * BEGIN IMMEDIATE transaction, numbered on from the attempt's last seq
 * (the write lock keeps two batches from taking the same numbers); inside
 * the connection's open load transaction (before its COMMIT), the rows
 * join that transaction instead.
 * IQ_E_NOT_FOUND for an unknown job. Nothing is kept on failure.
 */
int sqlite_job_rejects_add(struct store *base, const char *job_id, int attempt,
                           const struct job_reject_row *rows, size_t count, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    if (!job_id)
        return iq_error_set(err, IQ_E_NOT_FOUND, "job (null) not found");
    if (count == 0)
        return 0;
    if (!rows)
        return iq_error_set(err, IQ_E_INVALID, "no rows to keep");
    if (!sqlite3_get_autocommit(s->db)) /* a load's transaction is open: join it */
        return add_locked(s, job_id, attempt, rows, count, err);
    int rc = sqlite_tx_begin(s, err);
    if (rc < 0)
        return rc;
    return sqlite_tx_finish(s, add_locked(s, job_id, attempt, rows, count, err), err);
}

/* ------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------ */

/* each_locked - cb for every kept row of the latest attempt; stops when cb returns non-zero. */
static int each_locked(struct sqlite_store *s, const char *job_id, job_reject_row_cb cb, void *ctx,
                       struct iq_error *err)
{
    enum job_status status;
    int rc = sqlite_read_status(s, job_id, &status, err);
    if (rc == 1)
        return iq_error_set(err, IQ_E_NOT_FOUND, "job %s not found", job_id);
    sqlite3_stmt *stmt = rc == 0 ? sqlite_stmt_get(s, STMT_REJECTS_LATEST, err) : NULL;
    if (rc == 0 && !stmt)
        rc = IQ_E_DB;
    if (rc < 0)
        return rc;
    struct binder b = binder_start(stmt);
    bind_text(&b, job_id);
    rc = sqlite_binder_check(s, &b, err);
    while (rc == 0 && (rc = sqlite_stmt_next(s, stmt, "read rejected rows", err)) == 1) {
        bool ok_column, ok_value, ok_error, ok_pointer;
        struct job_reject_row row = {
            .line = sqlite3_column_int64(stmt, 0),
            .column = sqlite_column_text_or_error(stmt, 1, &ok_column),
            .value = sqlite_column_text_or_error(stmt, 2, &ok_value),
            .error = sqlite_column_text_or_error(stmt, 3, &ok_error),
            .has_record = sqlite3_column_type(stmt, 4) != SQLITE_NULL,
            .record = sqlite3_column_int64(stmt, 4),
            .pointer = sqlite_column_text_or_error(stmt, 5, &ok_pointer),
        };
        if (!ok_column || !ok_value || !ok_error || !ok_pointer)
            rc = nomem(err);
        else if (cb(&row, ctx) != 0)
            break; /* the caller had enough: rc stays 1, the statement is released below */
        else
            rc = 0;
    }
    if (rc != 0)
        stmt_release(stmt);
    return rc < 0 ? rc : 0;
}

/*
 * sqlite_job_rejects_each - see store_ops.job_rejects_each. The latest
 * attempt is the later of the job's attempt and the last one that kept
 * rejects (so a new attempt without rejects shows none). The rows are
 * read in one read transaction, consistent however long cb takes; cb must
 * not use this connection.
 */
int sqlite_job_rejects_each(struct store *base, const char *job_id, job_reject_row_cb cb, void *ctx,
                            struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    if (!job_id)
        return iq_error_set(err, IQ_E_NOT_FOUND, "job (null) not found");
    if (!cb)
        return iq_error_set(err, IQ_E_INVALID, "no callback for the rejected rows");
    int rc = sqlite_run_cached(s, STMT_BEGIN_READ, "begin read transaction", err);
    if (rc < 0)
        return rc;
    return sqlite_tx_finish(s, each_locked(s, job_id, cb, ctx, err), err);
}
