/*
 * postgres/load/internal.h - the state of one PostgreSQL load (store/load.h)
 * shared by its files:
 *   postgres/load/describe.c      the catalog: table_describe and what a load needs
 *   postgres/load/load.c          begin (plan checks, CREATE, staging),
 *                            commit (fence), abort, errors
 *   postgres/load/rows.c     rows into COPY text format, COPY streams
 *   postgres/load/check.c    set-wise checks on the staging tables
 *   postgres/load/promote.c  staging (or the direct COPY) into the targets
 *   postgres/load/swap.c     replace by a shadow table swapped in at commit
 *   postgres/load/freeze.c   a staged replace's rows into its shadow, frozen
 *   postgres/load/preview.c  a dry run's counts (load_preview)
 *
 * A load is one transaction on the store's connection, from BEGIN in
 * load_begin to COMMIT in load_commit or ROLLBACK in load_abort; nothing
 * in it reconnects or retries. Direct mode COPYs straight into the target
 * (part 0 only). Staged mode COPYs each part into a TEMP table
 * pg_temp.iq_stage_<part> (n bigint, line bigint, v0 text, v1 text, ...;
 * ON COMMIT DROP, and gone with a ROLLBACK): n numbers the part's rows in
 * arrival order (lines need not be unique: children share their parent's),
 * v<i> is the canonical text of column i or NULL.
 *
 * Only one COPY can be open on a connection. Each part buffers its encoded
 * rows (PG_COPY_BUFFER_BYTES) and sends them when the buffer is full;
 * sending rows of another part than the open COPY's ends that COPY (after
 * sending its own buffered rows, so every stream ends on a row boundary)
 * and starts the other. A single-part load therefore runs one COPY.
 */
#ifndef IMPORTQ_STORE_STORE_PG_LOAD_INTERNAL_H
#define IMPORTQ_STORE_STORE_PG_LOAD_INTERNAL_H

#include "store/postgres/internal.h"
#include "store/common/load_preview.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of COPY data a part gathers before sending them. */
#define PG_COPY_BUFFER_BYTES (512 * 1024)

/* A planned column as the table has it. */
struct pg_load_column {
    char *name_sql;  /* quoted identifier, owned */
    char *cast_type; /* type to cast staged text to (no typmod: assignment checks length), owned */
    bool is_text;    /* cast_type is text: no cast needed */
};

/* One reference check, resolved. */
struct pg_load_reference {
    int column;        /* index into the part's columns */
    char *table_sql;   /* quoted referenced table, owned */
    char *column_sql;  /* quoted referenced column, owned */
    char *cast_type;   /* the referenced column's type, owned */
    int staged_column; /* self-reference: index of ref_column in this part, else -1 */
};

/* One part of the plan (the target or a child) and its COPY buffer. */
struct pg_load_part {
    const struct load_part *spec; /* borrowed from the plan */
    int index;
    char *table_sql;                      /* quoted target name, owned */
    char oid[16];                         /* the table's oid as text */
    char relkind;                         /* 'r' plain, 'p' partitioned, 'f' foreign */
    char stage_sql[32];                   /* pg_temp.iq_stage_<index> */
    struct pg_load_column *columns;       /* spec->column_count */
    int *key_columns;                     /* spec->key_count indexes into columns */
    struct pg_load_reference *references; /* spec->reference_count */
    int *parent_columns;                  /* children: indexes into part 0's columns */
    int *child_columns;                   /* children: indexes into this part's columns */
    char *buffer;                         /* PG_COPY_BUFFER_BYTES, allocated on first row */
    size_t used;                          /* bytes in buffer not yet sent */
    int64_t rows;                         /* rows received; the next row's n */
    char *shadow_sql;                     /* replace by swap: the shadow's quoted name, owned */
    char *swap_sql;                       /* replace by swap: the script run under the lock, owned */
    /* Upserted during load_check (postgres/load/check.c): promote only adds
     * these counts. */
    bool upserted;
    int64_t upserted_inserted;
    int64_t upserted_updated;
};

struct pg_load {
    struct load base; /* first (store.h) */
    struct pg_store *ps;
    struct pg_load_part *parts;
    size_t part_count;
    int copy_part;        /* part whose COPY is open, -1 when none */
    bool failed;          /* a call failed: only load_abort is valid now */
    bool checked;         /* load_check ran: no more rows */
    bool promoted;        /* load_promote succeeded */
    bool fresh_target;    /* COPY goes to a table created in this transaction (FREEZE) */
    int64_t rows_deleted; /* direct replace: rows there before (DELETE, or the shadow's count) */
    bool swap;            /* replace: shadows built, pg_swap_commit swaps them in */
};

static inline struct pg_load *pg_load_of(struct load *load)
{
    return (struct pg_load *)load;
}

/* ---- postgres/load/describe.c ---- */

/* A table as the catalog has it. */
struct pg_described {
    struct table_info info;
    char **cast_types; /* cast_count of them: format_type without typmod, owned */
    size_t cast_count;
    char oid[16]; /* "" when the table does not exist */
    char relkind;
    /* "schema"."table", quoted: where the table was found, or where a
     * CREATE puts it when it does not exist (its own schema when
     * qualified, else the first target schema). Every statement on the
     * table uses this name, never the spec's text. Owned. */
    char *table_sql;
};

void pg_described_clear(struct pg_described *d);

/*
 * pg_describe - table's relation and columns into *d (exists false and no
 * columns when there is no such table; pg_described_clear it, also on
 * failure). table is a spec's "table" or "schema.table", looked up only
 * in the target schemas (never along search_path); a name that can never
 * be written (store_target_name) or a schema that is not a target schema
 * is IQ_E_INVALID. Returns 0 or a negative code.
 */
int pg_describe(struct pg_store *ps, const char *table, struct pg_described *d,
                struct iq_error *err);

/* pg_described_column - index of the column called name in d, or -1. */
int pg_described_column(const struct pg_described *d, const char *name);

/* ---- postgres/load/load.c ---- */

/*
 * pg_load_usable - 0 when the load may go on; IQ_E_INTERNAL after a
 * failure or once promoted (when !allow_promoted); IQ_E_CANCELLED (and the
 * load marked failed) when the store was interrupted.
 */
int pg_load_usable(struct pg_load *pl, bool allow_promoted, struct iq_error *err);

/*
 * pg_sqlstate_code - importq's code for a load statement's SQLSTATE, which
 * says whether trying again can help (run_job.c retries IQ_E_DB): IQ_E_CANCELLED 57014; IQ_E_CONFLICT class 23 (a
 * constraint the data breaks); IQ_E_INVALID classes 22 (a value the type
 * refuses) and 42 (no such table or column, no privilege); IQ_E_DB the
 * rest (serialization failure, deadlock, lock timeout, disk full,
 * connection, ...). SQLite's twin is sqlite_load_code.
 */
int pg_sqlstate_code(const char *sqlstate);

/*
 * pg_load_error - mark the load failed and set err from res (NULL: the
 * connection's message): "<what>: <message>[: <detail>][ (<context>)]".
 * IQ_E_CANCELLED for SQLSTATE 57014, else IQ_E_DB. Returns the code.
 */
int pg_load_error(struct pg_load *pl, const PGresult *res, const char *what, struct iq_error *err);

/*
 * pg_load_exec - run one statement of the load (no parameters, no retry).
 * Returns 0 and the result in *ret_res (caller PQclears; may be NULL to
 * discard it), or pg_load_error's code.
 */
int pg_load_exec(struct pg_load *pl, const char *what, const char *sql, PGresult **ret_res,
                 struct iq_error *err);

/* pg_load_exec_sql - pg_load_exec of a built text (freed here); IQ_E_NOMEM when building failed. */
int pg_load_exec_sql(struct pg_load *pl, const char *what, struct sql_text *sql, PGresult **ret_res,
                     struct iq_error *err);

/* ---- postgres/load/rows.c ---- */

/*
 * pg_copy_start - start COPY into part (its target when direct, else its
 * staging table); ends the open COPY of another part first. Returns 0 or
 * a negative code (load failed).
 */
int pg_copy_start(struct pg_load *pl, int part, struct iq_error *err);

/*
 * pg_copy_start_tx - BEGIN, then_sql and COPY into part, sent as one
 * simple query (one round trip) on a connection with no transaction
 * open: a direct load that needs nothing else inside its transaction
 * before its rows (pg_load_begin). The transaction is open afterwards
 * whenever BEGIN went through, even when COPY failed (the load's abort
 * rolls it back).
 */
int pg_copy_start_tx(struct pg_load *pl, int part, const char *then_sql, struct iq_error *err);

/*
 * pg_copy_finish - send every part's buffered rows and end the open COPY.
 * *ret_rows (may be NULL) = rows the last ended COPY reported. Returns 0
 * or a negative code (load failed; a constraint error of a direct COPY is
 * reported here with the server's detail).
 */
int pg_copy_finish(struct pg_load *pl, int64_t *ret_rows, struct iq_error *err);

/* pg_copy_cancel - abandon the open COPY (CopyFail) and drain its result; for abort. */
void pg_copy_cancel(struct pg_load *pl);

/* pg_quote_ident - name as a quoted identifier (caller frees), NULL on OOM. */
char *pg_quote_ident(struct pg_store *ps, const char *name);

/*
 * pg_load_cast - append "<alias>.v<index>::<cast type>" (no cast for text
 * columns): staged text as the value the target column holds.
 */
void pg_load_cast(struct sql_text *sql, const struct pg_load_column *column, const char *alias,
                  int index);

/* ---- postgres/load/promote.c ---- */

/*
 * pg_load_append_select - "SELECT <casts> FROM <stage> s": part p's
 * staged rows as the values its target columns hold (pg_load_cast), in
 * arrival order (promote.c says why no ORDER BY is needed).
 */
void pg_load_append_select(struct sql_text *sql, const struct pg_load_part *p);

/* pg_load_upsert_updates - part p's upsert is ON CONFLICT DO UPDATE (it has a non-key column). */
bool pg_load_upsert_updates(const struct pg_load_part *p);

/*
 * pg_load_upsert - part p's staged rows (but those with a NULL key when
 * skip_null_keys) into its table by INSERT ... ON CONFLICT; *ret_inserted
 * and *ret_updated = rows it inserted and updated. Returns 0 or
 * pg_load_error's code (load failed, the SQLSTATE in pl->ps->sqlstate).
 */
int pg_load_upsert(struct pg_load *pl, const struct pg_load_part *p, bool skip_null_keys,
                   int64_t *ret_inserted, int64_t *ret_updated, struct iq_error *err);

/* ---- postgres/load/swap.c ---- */

/*
 * pg_swap_begin_direct - load_begin of a direct replace: when the target
 * can be swapped, create its empty shadow (p->shadow_sql), which the COPY
 * then fills (FREEZE). Returns 1 when done, 0 when the target must be
 * emptied in place instead (nothing changed), or a negative code.
 */
int pg_swap_begin_direct(struct pg_load *pl, struct iq_error *err);

/*
 * pg_swap_finish_direct - load_promote of a direct replace into a shadow,
 * once its COPY ended: lock the target against writers (SHARE ROW
 * EXCLUSIVE; until then they wrote beside the load, into rows that go),
 * count its rows (pl->rows_deleted), index the shadow and plan the swap
 * (pl->swap); when that fails for another reason than a cancel, the rows
 * go from the shadow into the target by DELETE + INSERT instead (whose
 * error, if any, is the load's). Returns 0 or a negative code.
 */
int pg_swap_finish_direct(struct pg_load *pl, struct iq_error *err);

/*
 * pg_swap_commit - for load_commit, just before COMMIT: swap the shadows
 * in (nothing when pg_swap_begin_direct made none). The ACCESS
 * EXCLUSIVE lock on the targets is asked for with a short lock_timeout
 * and retried a bounded number of times, so readers never queue behind
 * it for long; if it stays out of reach (or the swap fails otherwise) the
 * shadows are dropped and the rows replaced by DELETE + INSERT, with the
 * same counts. Returns 0 or a negative code.
 */
int pg_swap_commit(struct pg_load *pl, struct iq_error *err);

/*
 * pg_swap_staged - load_promote of a staged replace of one part, once
 * load_check dropped its rejects: when the target can be swapped, create
 * its shadow, fill it WITH (FREEZE) from the staging table
 * (pg_freeze_fill), lock, count and index as pg_swap_finish_direct does
 * and plan the swap (pl->swap), all under one savepoint. Returns 1 with
 * the counts added to *result; 0 when the target must be replaced in
 * place instead (nothing changed: refused, or any step failed for another
 * reason than a cancel or the temporary file, whose errors fail the
 * load); or a negative code.
 */
int pg_swap_staged(struct pg_load *pl, struct load_result *result, struct iq_error *err);

/* pg_swap_clear - free what the swap kept (for load_free). */
void pg_swap_clear(struct pg_load *pl);

/* ---- postgres/load/freeze.c ---- */

/*
 * pg_freeze_fill - part p's staged rows, cast as promote casts them, into
 * its shadow (p->shadow_sql, created in the current subtransaction) WITH
 * (FREEZE), in arrival order, by way of a temporary file on the client:
 * COPY ... TO STDOUT (FORMAT binary) into it, then COPY ... FROM STDIN
 * (FORMAT binary, FREEZE) out of it. *ret_rows = rows the shadow took.
 * Returns 0, IQ_E_IO or IQ_E_NO_SPACE when the file cannot be written or
 * read (the load failed), IQ_E_CANCELLED when interrupted, or
 * pg_load_error's code (the SQLSTATE in pl->ps->sqlstate). The file is
 * closed (and so gone) on every path.
 */
int pg_freeze_fill(struct pg_load *pl, const struct pg_load_part *p, int64_t *ret_rows,
                   struct iq_error *err);

#endif
