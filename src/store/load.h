/*
 * load.h - the store's half of an import: describe a table, and load rows
 * into it in one transaction (stage, set-wise checks, promote, commit).
 * The pipeline (src/pipeline) drives it with values it has already parsed
 * and converted; the backend decides how rows travel (COPY on PostgreSQL,
 * a prepared multi-row INSERT on SQLite) and writes all the SQL.
 *
 * Life of a load:
 *   load_begin    BEGIN; CREATE the target if asked; create staging tables
 *                 (TEMP) unless plan->direct.
 *   load_rows     append converted rows (to staging, or straight into the
 *                 target when direct). Any number of calls.
 *   load_check    set-wise checks on staged rows (duplicate keys in the
 *                 file, references, insert-mode key conflicts); each bad
 *                 row is reported through the callback and left out.
 *   load_promote  move staged rows into the target (insert / upsert /
 *                 append / replace); children in the same transaction.
 *   load_commit   the fence (the job is still ours), then COMMIT. On
 *                 success the load is finished and freed; on failure it
 *                 stays for load_abort.
 *   load_abort    ROLLBACK; staging is gone either way. Frees the load.
 * Nothing is visible in the target until load_commit returns 0.
 *
 * A dry run (plan->dry_run) goes begin, rows, check, then load_preview
 * in place of promote and commit: what promote would do, counted with
 * set-wise SQL over the rows load_check kept and the target as the
 * load's transaction sees it; then load_abort rolls everything back
 * (a table create_target made included).
 */
#ifndef IMPORTQ_STORE_LOAD_H
#define IMPORTQ_STORE_LOAD_H

#include "core/error.h"
#include "core/audit.h"
#include "core/job_spec.h"
#include "store/engine_ops.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* A column as the database has it. */
struct table_column {
    char *name;
    enum column_type type;   /* closest importq type of the declared type */
    char *declared_type;     /* as the database reports it ("character varying(320)") */
    bool not_null;
    bool has_default;
    bool primary_key;
};

struct table_info {
    bool exists;
    struct table_column *columns;
    size_t column_count;
};

void table_info_clear(struct table_info *info);

/* One set-wise reference check: column's values must exist in ref_table.ref_column. */
struct load_reference {
    const char *column;
    const char *ref_table;
    const char *ref_column;
};

/*
 * One table the load writes: the target (part 0) or a child table (part
 * 1..). Values arrive as text in the canonical form of their type
 * (pipeline/convert.h): integers "42", booleans "true"/"false", dates
 * "2026-11-28", timestamptz RFC 3339 UTC, json compact text; NULL pointer =
 * SQL NULL.
 */
struct load_part {
    const char *table;
    const char *const *columns;      /* column_count names, in value order */
    const enum column_type *types;
    size_t column_count;
    const char *const *key;          /* conflict key (upsert; insert checks) */
    size_t key_count;
    const struct load_reference *references;
    size_t reference_count;
    /* Children only: how a child row names its parent (child column ->
     * parent column); rows of rejected parents are dropped with them. */
    const char *const *parent_columns;
    const char *const *child_columns;
    size_t parent_key_count;
};

/*
 * What a load's COMMIT carries besides the rows, when the target is the
 * service's own database: the fence, the job's finish and the worker's
 * next claim. The pipeline passes it through untouched
 * (import_request.commit); only the store reads it.
 */
struct load_commit {
    /* Fence: when job_id is set, load_commit first checks (row-locked) that
     * the job is RUNNING with this worker and attempt, else IQ_E_STALE and
     * nothing lands. Only meaningful when the target is the service's own
     * database. */
    const char *fence_job_id;
    const char *fence_worker;
    int fence_attempt;
    /* With the fence: finish the job (COMPLETED, see store_ops.job_finish)
     * inside the same transaction as the data, so a job whose rows landed
     * is COMPLETED exactly once even if the worker dies right after. NULL:
     * the caller finishes the job itself. */
    const struct job_finish *finish_on_commit;
    const struct audit_context *finish_actx;
    /* With finish_on_commit: claim the finishing worker's next job in the
     * same transaction (as store_ops.job_claim_batch would for the one
     * worker claim_next->worker), so a worker going from one job to the
     * next needs no claim transaction of its own. *claimed_next gets the
     * job it started once the COMMIT succeeded (job_free), NULL when
     * nothing could start; it is not touched when the commit fails. NULL
     * claim_next: no claim. */
    const struct claim_request *claim_next;
    struct job **claimed_next;
};

struct load_plan {
    enum target_mode mode;
    struct load_part *parts;         /* parts[0] is the target */
    size_t part_count;
    bool create_target;              /* CREATE TABLE parts (key as primary key) when missing */
    /* Load straight into the target with no staging: only for insert or
     * append, on_error abort with max_rejects 0, no references, no
     * children. A constraint error then fails the whole load. A backend
     * may stage anyway and only skip the set-wise checks: SQLite always
     * does, so that no load holds its one write lock for longer than the
     * promote (sqlite/load/load.c). */
    bool direct;
    /* What the COMMIT also does on the service's own database (zero:
     * nothing): the fence, the job's finish, the worker's next claim. */
    struct load_commit commit;
    /* A dry run: the load ends with load_preview and load_abort, never
     * promote or commit, and nothing before them writes the target (the
     * target a create_target load makes aside, which the abort drops).
     * Needs a staged plan (direct false). */
    bool dry_run;
};

struct load_result {
    int64_t rows_inserted;
    int64_t rows_updated;
    int64_t rows_deleted;            /* replace: rows that were there before */
};

/*
 * What a load would do, as load_preview counts it (common/load_preview.c
 * holds the rule). Rows of every part add up, like load_result's.
 *   insert, append  every kept row is inserted
 *   upsert          a row whose key the target lacks is inserted; one
 *                   whose key it has is updated when some loaded non-key
 *                   column differs from the target row's value, else
 *                   unchanged (a real upsert writes those rows too and
 *                   counts them as updated; with every column in the key
 *                   it writes and counts neither)
 *   replace         with a key, rows are matched by key as for upsert,
 *                   and the target's rows whose key no kept row has are
 *                   deleted; without one every kept row is inserted and
 *                   every target row deleted. (A real replace deletes
 *                   every old row and inserts every new one: its counts
 *                   are inserted + updated + unchanged, and deleted +
 *                   updated + unchanged when the key is unique in the
 *                   target.)
 * Values are compared as they would be stored: SQLite with the target
 * column's affinity, PostgreSQL as the text of the value cast to the
 * column's type (so 1.0 and 1.00 differ in a numeric, as they would in
 * the table).
 */
struct load_preview {
    int64_t rows_inserted;
    int64_t rows_updated;
    int64_t rows_unchanged;
    int64_t rows_deleted;
    bool creates_target;             /* the target does not exist: the load would create it */
};

/* A row left out by a set-wise check. */
struct load_reject {
    int part;
    int64_t line;
    const char *column;              /* may be NULL */
    const char *value;               /* may be NULL */
    const char *message;             /* "duplicate key in file", "no teams.team_id = 7" ... */
};

/* Called for each rejected row; return 0 to go on, negative to stop the load. */
typedef int (*load_reject_cb)(const struct load_reject *reject, void *ctx);

/* A load in progress: opaque above the store (store_load_begin). */
struct load;

#endif
