/*
 * sqlite/load/load.c - the life of a load on SQLite (store/load.h):
 * begin, commit, abort, interrupt, and the helpers the load files share.
 * Rows travel in sqlite/load/insert.c, set-wise checks are in
 * sqlite/load/check.c, promotion in sqlite/load/promote.c,
 * table shapes in sqlite/load/describe.c.
 *
 * A load on SQLite stages, whatever plan->direct says (one exception:
 * a direct load whose rows all fit in its first batch goes from memory
 * straight into its table at the promote, see sqlite/load/rows.c; the
 * write lock is then held for as long as the staged promote would hold
 * it): rows go to
 * per-part staging tables in a private temporary database attached to the
 * connection as "importq_staging" (ATTACH '': its own file and its own
 * lock, like the temp schema; kept attached between small loads), in short
 * transactions that touch only that database, so loading holds no lock on
 * the main database and the API, heartbeats and other workers write beside
 * it. A staging thread writes them while the pipeline converts the next
 * batch (sqlite/load/rows.c). load_check, load_promote and
 * load_commit (the fence, finish_on_commit, COMMIT) then run inside one
 * BEGIN IMMEDIATE (never a deferred transaction that upgrades), and only
 * that final stretch blocks other writers. plan->direct only means "no
 * set-wise checks": a constraint error of the promote fails the load and
 * names the row's line. Nothing is visible before load_commit.
 *
 * Why not INSERT straight into the target as PostgreSQL's COPY does: on
 * SQLite that takes the database's one write lock at the first row and
 * keeps it until COMMIT, so a load of minutes starves every other writer
 * (a cancel, a submission, the job's own heartbeats) past their
 * busy_timeout. Staging costs one more pass over the rows, mostly hidden
 * on the staging thread; the promote (INSERT ... SELECT in rowid order)
 * does what the old direct insert did to the target, so the lock is held
 * for about that long only (measured on 1,000,000 rows: about as fast as
 * the direct insert was, BENCHMARKS.md).
 *
 * Why an attached database rather than TEMP tables: creating a TEMP table
 * invalidates every prepared statement of the connection (the worker's
 * claim and finish statements would be compiled again after each job),
 * tables in an attached database do not; and after a large load the
 * staging database goes with a DETACH, which deletes its file at once,
 * where DROP TABLE of a staged million rows walks and frees every page
 * (measured: 0.4 s per million rows, a tenth of the whole import). See
 * end_staging.
 *
 * Locking: a load uses its store's connection alone until commit or abort
 * (from the first load_rows until load_check or load_promote, through its
 * staging thread from the second); sqlite_interrupt is the one call
 * allowed from another thread.
 */
#include "store/sqlite/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Page caches during a load, in KiB (see set_cache_sizes). */
#define LOAD_MAIN_CACHE_KIB 32768
#define LOAD_STAGING_CACHE_KIB 4096

/* Above this many staged rows a load's staging database is detached
 * rather than its tables dropped (see end_staging). */
#define STAGING_DETACH_ROWS 100000

/* ------------------------------------------------------------------------
 * Helpers shared by the load files
 * ------------------------------------------------------------------------ */

int sqlite_load_code(int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {
    case SQLITE_INTERRUPT:
        return IQ_E_CANCELLED;
    case SQLITE_CONSTRAINT: /* the data breaks a rule of the table: again would too */
        return IQ_E_CONFLICT;
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
        return IQ_E_INVALID;
    case SQLITE_FULL:
        return IQ_E_NO_SPACE;
    default: /* busy, locked, I/O, ...: may pass */
        return IQ_E_DB;
    }
}

int sqlite_load_error(struct sqlite_store *s, int sqlite_rc, const char *what, struct iq_error *err)
{
    if ((sqlite_rc & 0xff) == SQLITE_INTERRUPT)
        return iq_error_set(err, IQ_E_CANCELLED, "%s: the load was interrupted", what);
    return iq_error_set(err, sqlite_load_code(sqlite_rc), "%s: %s", what, sqlite3_errmsg(s->db));
}

int sqlite_load_interrupted(struct sqlite_load *load, const char *what, struct iq_error *err)
{
    if (!atomic_load(&load->s->interrupted))
        return 0;
    load->failed = true;
    return iq_error_set(err, IQ_E_CANCELLED, "%s: the load was interrupted", what);
}

int sqlite_load_usable(struct sqlite_load *load, struct iq_error *err)
{
    if (load->failed)
        return iq_error_set(err, IQ_E_INTERNAL, "the load already failed: only abort it");
    if (load->promoted)
        return iq_error_set(err, IQ_E_INTERNAL, "the load was already promoted");
    return sqlite_load_interrupted(load, "load", err);
}

int sqlite_exec_sql(struct sqlite_store *s, char *sql, const char *what, struct iq_error *err)
{
    if (!sql)
        return nomem(err);
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
    return rc == SQLITE_OK ? 0 : sqlite_load_error(s, rc, what, err);
}

char *sqlite_sql_finish(sqlite3_str *sql)
{
    bool failed = sqlite3_str_errcode(sql) != SQLITE_OK;
    char *text = sqlite3_str_finish(sql);
    if (failed) {
        sqlite3_free(text);
        return NULL;
    }
    return text ? text : sqlite3_mprintf(""); /* nothing appended: "" rather than NULL */
}

void sqlite_sql_column_list(sqlite3_str *sql, const struct sqlite_load_part *part)
{
    for (size_t i = 0; i < part->column_count; i++)
        sqlite3_str_appendf(sql, "%s\"%w\"", i ? ", " : "", part->columns[i].name);
}

const struct load_column *sqlite_load_find_column(const struct sqlite_load_part *part,
                                                  const char *name)
{
    for (size_t i = 0; i < part->column_count; i++)
        if (strcasecmp(part->columns[i].name, name) == 0)
            return &part->columns[i];
    return NULL;
}

/* read_cache_size - PRAGMA main.cache_size (pages, or -KiB). */
static int read_cache_size(struct sqlite_store *s, int64_t *ret_value, struct iq_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA main.cache_size", -1, &stmt, NULL);
    rc = rc == SQLITE_OK ? sqlite_read_int64(s, stmt, "read cache_size", ret_value, err)
                         : sqlite_load_error(s, rc, "read cache_size", err);
    sqlite3_finalize(stmt);
    return rc;
}

/*
 * set_cache_sizes - page caches for the load: the promote dirties far
 * more pages of the target than the default 2 MB holds, and spilling them
 * mid-transaction costs writes (measured on 1,000,000 rows: check and
 * promote 30% faster with 32 MB). The staging database is written in
 * order and read back in order, so its cache only has to hold the pages
 * of one batch: 4 MB was as fast as 16 MB on 1,000,000 rows, insert and
 * upsert alike. The main cache is restored by restore_cache_sizes at
 * commit and abort; the staging one goes with its database.
 */
static int set_cache_sizes(struct sqlite_load *load, struct iq_error *err)
{
    int rc = read_cache_size(load->s, &load->main_cache_before, err);
    if (rc == 0)
        rc = sqlite_exec_sql(load->s,
                             sqlite3_mprintf("PRAGMA main.cache_size = -%d;"
                                             " PRAGMA importq_staging.cache_size = -%d",
                                             LOAD_MAIN_CACHE_KIB, LOAD_STAGING_CACHE_KIB),
                             "set cache_size", err);
    load->cache_sizes_set = rc == 0;
    return rc;
}

/* restore_cache_sizes - undo set_cache_sizes (best effort). */
static void restore_cache_sizes(struct sqlite_load *load)
{
    if (!load->cache_sizes_set)
        return;
    char *sql =
        sqlite3_mprintf("PRAGMA main.cache_size = %lld", (long long)load->main_cache_before);
    /* A failure leaves a larger cache on this connection: harmless. */
    (void)sqlite_exec_sql(load->s, sql, "restore cache_size", NULL);
    load->cache_sizes_set = false;
}

/*
 * sqlite_load_write_begin - BEGIN IMMEDIATE unless this load's write
 * transaction is open.
 */
int sqlite_load_write_begin(struct sqlite_load *load, struct iq_error *err)
{
    if (load->write_tx)
        return 0;
    int rc = sqlite_tx_begin(load->s, err);
    load->write_tx = rc == 0;
    return rc;
}

/*
 * attach_staging - ATTACH '' AS importq_staging: a private database for
 * staging tables, attached by the connection's first load and kept for
 * the next ones (see end_staging).
 */
static int attach_staging(struct sqlite_load *load, struct iq_error *err)
{
    struct sqlite_store *s = load->s;
    if (s->staging_attached)
        return 0;
    int rc = sqlite_exec_sql(s, sqlite3_mprintf("ATTACH '' AS importq_staging"),
                             "attach the staging database", err);
    s->staging_attached = rc == 0;
    return rc;
}

/* detach_staging - DETACH the staging database, which deletes its file. */
static void detach_staging(struct sqlite_store *s)
{
    if (s->staging_attached &&
        sqlite_exec_sql(s, sqlite3_mprintf("DETACH importq_staging"),
                        "detach the staging database", NULL) == 0)
        s->staging_attached = false;
}

/*
 * end_staging - the staging tables go once the load is over: small ones
 * by DROP TABLE, keeping the database attached; after more than
 * STAGING_DETACH_ROWS rows the whole database by DETACH. Why both: DETACH
 * invalidates every prepared statement of the connection (the next use
 * of each compiles it again: a fifth of a one-row job's time, measured
 * with perf), while DROP TABLE leaves statements on the main database
 * alone but walks and frees every page of the table (0.4 s per million
 * rows, a tenth of such an import), where DETACH just deletes the file.
 * Needs autocommit and no statement of the load left: abort calls it
 * last. A failing DROP detaches instead; a failing DETACH leaves the
 * database for the next load, whose create_staging replaces the tables.
 */
static void end_staging(struct sqlite_load *load)
{
    struct sqlite_store *s = load->s;
    if (!load->staging_ready || !s->staging_attached)
        return;
    int64_t staged = 0;
    for (size_t i = 0; load->parts && i < load->part_count; i++)
        staged += load->parts[i].rows_staged;
    int rc = staged > STAGING_DETACH_ROWS ? -1 : 0;
    for (size_t i = 0; rc == 0 && load->parts && i < load->part_count; i++)
        rc = sqlite_exec_sql(s,
                             sqlite3_mprintf("DROP TABLE IF EXISTS importq_staging.\"%w\"",
                                             load->parts[i].staging),
                             "drop a staging table", NULL);
    if (rc < 0)
        detach_staging(s);
}

/* ------------------------------------------------------------------------
 * Begin
 * ------------------------------------------------------------------------ */

/* add_loaded_columns - the part's own columns, staged as c1, c2 ... */
static int add_loaded_columns(struct sqlite_load_part *part, struct iq_error *err)
{
    const struct load_part *spec = part->spec;
    for (size_t i = 0; i < spec->column_count; i++) {
        struct load_column *column = &part->columns[part->column_count];
        column->name = spec->columns[i];
        column->type = spec->types[i];
        column->expr = sqlite3_mprintf("s.c%d", (int)i + 1);
        if (!column->expr)
            return nomem(err);
        part->column_count++;
    }
    return 0;
}

/*
 * add_parent_columns - a child's parent-key columns the pipeline did not
 * load: filled from the parent's staged row with the same line.
 */
static int add_parent_columns(struct sqlite_load *load, struct sqlite_load_part *part,
                              struct iq_error *err)
{
    const struct load_part *spec = part->spec;
    for (size_t k = 0; k < spec->parent_key_count; k++) {
        if (sqlite_load_find_column(part, spec->child_columns[k]))
            continue;
        const struct sqlite_load_part *parent = &load->parts[0];
        const struct load_column *from = sqlite_load_find_column(parent, spec->parent_columns[k]);
        if (!from)
            return iq_error_set(err, IQ_E_INVALID,
                                "child table \"%s\": parent column \"%s\" is not loaded",
                                spec->table, spec->parent_columns[k]);
        struct load_column *column = &part->columns[part->column_count];
        column->name = spec->child_columns[k];
        column->type = from->type;
        int from_index = (int)(from - parent->columns); /* part 0 loads all its columns */
        column->expr = sqlite3_mprintf("(SELECT p.c%d FROM importq_staging.\"%w\" p"
                                       " WHERE p.line = s.line"
                                       " ORDER BY p.rowid LIMIT 1)",
                                       from_index + 1, parent->staging);
        if (!column->expr)
            return nomem(err);
        part->column_count++;
    }
    return 0;
}

/* check_part_names - key and reference columns must be columns the part writes. */
static int check_part_names(const struct sqlite_load_part *part, struct iq_error *err)
{
    const struct load_part *spec = part->spec;
    for (size_t k = 0; k < spec->key_count; k++)
        if (!sqlite_load_find_column(part, spec->key[k]))
            return iq_error_set(err, IQ_E_INVALID, "key column \"%s\" of \"%s\" is not loaded",
                                spec->key[k], spec->table);
    for (size_t r = 0; r < spec->reference_count; r++)
        if (!sqlite_load_find_column(part, spec->references[r].column))
            return iq_error_set(err, IQ_E_INVALID,
                                "reference column \"%s\" of \"%s\" is not loaded",
                                spec->references[r].column, spec->table);
    return 0;
}

/* part_init - the state of part index of load. */
static int part_init(struct sqlite_load *load, int index, struct iq_error *err)
{
    struct sqlite_load_part *part = &load->parts[index];
    const struct load_part *spec = &load->base.plan->parts[index];
    part->spec = spec;
    part->index = index;
    snprintf(part->staging, sizeof(part->staging), "importq_stage_%d", index);
    part->columns = calloc(spec->column_count + spec->parent_key_count, sizeof(*part->columns));
    if (!part->columns)
        return nomem(err);
    int rc = add_loaded_columns(part, err);
    if (rc == 0 && index > 0)
        rc = add_parent_columns(load, part, err);
    if (rc == 0)
        rc = check_part_names(part, err);
    if (rc == 0)
        rc = sqlite_load_rows_init(load, part, err);
    return rc;
}

/* create_staging - importq_staging."importq_stage_<n>" (line INTEGER, c1 ...), no affinity. */
static int create_staging(struct sqlite_load *load, struct sqlite_load_part *part,
                          struct iq_error *err)
{
    sqlite3_str *sql = sqlite3_str_new(NULL);
    /* One left by a load whose DROP failed is replaced. */
    sqlite3_str_appendf(sql, "DROP TABLE IF EXISTS importq_staging.\"%w\";", part->staging);
    sqlite3_str_appendf(sql, " CREATE TABLE importq_staging.\"%w\" (line INTEGER", part->staging);
    for (size_t i = 0; i < part->spec->column_count; i++)
        sqlite3_str_appendf(sql, ", c%d", (int)i + 1);
    sqlite3_str_appendall(sql, ")");
    return sqlite_exec_sql(load->s, sqlite_sql_finish(sql), "create staging table", err);
}

/*
 * index_wanted - whether staging column c<column+1> of part is looked up
 * by value: a reference elsewhere in the load names it.
 */
static bool index_wanted(const struct sqlite_load *load, const struct sqlite_load_part *part,
                         size_t column)
{
    for (size_t i = 0; i < load->part_count; i++) {
        const struct load_part *spec = load->parts[i].spec;
        for (size_t r = 0; r < spec->reference_count; r++)
            if (strcasecmp(spec->references[r].ref_table, part->spec->table) == 0 &&
                strcasecmp(spec->references[r].ref_column, part->spec->columns[column]) == 0)
                return true;
    }
    return false;
}

/*
 * sqlite_load_index_staging - index the staging columns that checks and
 * promotion look up by value: the parent's line when there are children,
 * and columns other rows of the load reference. Runs before the write
 * transaction (it touches only the staging database), once.
 */
int sqlite_load_index_staging(struct sqlite_load *load, struct iq_error *err)
{
    if (load->staging_indexed)
        return 0;
    sqlite3_str *sql = sqlite3_str_new(NULL);
    if (load->part_count > 1)
        sqlite3_str_appendf(sql, "CREATE INDEX importq_staging.\"%w_line\" ON \"%w\" (line);",
                            load->parts[0].staging, load->parts[0].staging);
    for (size_t i = 0; i < load->part_count; i++) {
        const struct sqlite_load_part *part = &load->parts[i];
        for (size_t c = 0; c < part->spec->column_count; c++)
            if (index_wanted(load, part, c))
                sqlite3_str_appendf(sql, "CREATE INDEX importq_staging.\"%w_c%d\" ON \"%w\" (c%d);",
                                    part->staging, (int)c + 1, part->staging, (int)c + 1);
    }
    int rc = sqlite_exec_sql(load->s, sqlite_sql_finish(sql), "index staging tables", err);
    load->staging_indexed = rc == 0;
    return rc;
}

/*
 * check_finish_on_commit - a finish at commit needs the fence of the same
 * job and attempt, and an actor for its audit row: checked at begin, so a
 * mistake costs nothing instead of a whole load at commit.
 */
static int check_finish_on_commit(const struct load_plan *plan, struct iq_error *err)
{
    const struct job_finish *finish = plan->commit.finish_on_commit;
    if (!finish)
        return 0;
    if (!plan->commit.fence_job_id || !finish->job_id ||
        strcmp(finish->job_id, plan->commit.fence_job_id) != 0 ||
        finish->attempt != plan->commit.fence_attempt)
        return iq_error_set(err, IQ_E_INVALID,
                            "finish_on_commit must finish the fenced job and attempt");
    return sqlite_check_actor(plan->commit.finish_actx, err);
}

/* check_plan - what the plan itself must satisfy, before any SQL. */
static int check_plan(const struct load_plan *plan, struct iq_error *err)
{
    if (!plan || !plan->parts || plan->part_count == 0)
        return iq_error_set(err, IQ_E_INVALID, "a load needs at least one part");
    for (size_t i = 0; i < plan->part_count; i++) {
        const struct load_part *part = &plan->parts[i];
        if (!part->table || !part->columns || !part->types || part->column_count == 0)
            return iq_error_set(err, IQ_E_INVALID, "part %zu needs a table and columns", i);
        if (part->column_count > SPEC_MAX_COLUMNS)
            return iq_error_set(err, IQ_E_INVALID, "table \"%s\": more than %d columns",
                                part->table, SPEC_MAX_COLUMNS);
    }
    if (plan->mode == TARGET_UPSERT && plan->parts[0].key_count == 0)
        return iq_error_set(err, IQ_E_INVALID, "upsert into \"%s\" needs a key",
                            plan->parts[0].table);
    if (plan->direct &&
        (plan->part_count > 1 || plan->parts[0].reference_count > 0 || plan->mode == TARGET_UPSERT))
        return iq_error_set(err, IQ_E_INVALID,
                            "a direct load is for insert, append or replace of one table"
                            " without references");
    return check_finish_on_commit(plan, err);
}

/* sqlite_load_staging_ready - see sqlite/internal.h. */
int sqlite_load_staging_ready(struct sqlite_load *load, struct iq_error *err)
{
    if (load->staging_ready)
        return 0;
    int rc = attach_staging(load, err);
    if (rc == 0)
        rc = set_cache_sizes(load, err);
    for (size_t i = 0; rc == 0 && i < load->part_count; i++)
        rc = create_staging(load, &load->parts[i], err);
    /* Set even after a failure: end_staging then drops what was made. */
    load->staging_ready = true;
    return rc;
}

/*
 * sqlite_load_begin - see store_ops.load_begin. Direct or not, no
 * transaction yet and no lock on the main database: the targets are
 * checked (the staging tables come with the first rows staged, see
 * sqlite/load/rows.c); the target is created, when
 * missing, inside the write transaction of load_check or load_promote, so
 * an aborted load leaves no table behind. *ret_load: load_commit then
 * load_abort, or load_abort alone.
 */
int sqlite_load_begin(struct store *base, const struct load_plan *plan, struct load **ret_load,
                      struct iq_error *err)
{
    *ret_load = NULL;
    int rc = check_plan(plan, err);
    if (rc < 0)
        return rc;
    struct sqlite_load *load = calloc(1, sizeof(*load));
    if (!load)
        return nomem(err);
    load->base = (struct load){.ops = &sqlite_load_ops, .store = base, .plan = plan};
    load->s = to_sqlite(base);
    load->part_count = plan->part_count;
    load->parts = calloc(plan->part_count, sizeof(*load->parts));
    load->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    atomic_store(&load->s->interrupted, false);
    rc = load->parts && load->c_locale ? 0 : nomem(err);
    for (size_t i = 0; rc == 0 && i < plan->part_count; i++)
        rc = part_init(load, (int)i, err);
    /* The targets are checked with no lock held; the staging tables wait
     * for the first rows staged (sqlite_load_staging_ready). */
    for (size_t i = 0; rc == 0 && i < load->part_count; i++)
        rc = sqlite_load_check_table(load, &load->parts[i], err);
    if (rc == 0)
        rc = sqlite_load_check_references(load, err);
    if (rc < 0) {
        sqlite_load_abort(&load->base);
        return rc;
    }
    *ret_load = &load->base;
    return 0;
}

/* ------------------------------------------------------------------------
 * Commit, abort, interrupt
 * ------------------------------------------------------------------------ */

/* fence_row_is_ours - whether the job row (status, worker, attempt) matches the plan. */
static bool fence_row_is_ours(const struct load_plan *plan, sqlite3_stmt *stmt)
{
    const char *status = (const char *)sqlite3_column_text(stmt, 0);
    const char *worker = (const char *)sqlite3_column_text(stmt, 1);
    return status && strcmp(status, "RUNNING") == 0 && worker && plan->commit.fence_worker &&
           strcmp(worker, plan->commit.fence_worker) == 0 &&
           sqlite3_column_int64(stmt, 2) == plan->commit.fence_attempt;
}

/* fence_stale - IQ_E_STALE naming what the job row says (stmt: its row, or NULL: none). */
static int fence_stale(const struct load_plan *plan, sqlite3_stmt *stmt, struct iq_error *err)
{
    const char *status = stmt ? (const char *)sqlite3_column_text(stmt, 0) : NULL;
    const char *worker = stmt ? (const char *)sqlite3_column_text(stmt, 1) : NULL;
    return iq_error_set(err, IQ_E_STALE,
                        "job %s is no longer ours (status %s, worker %s, attempt %lld; we are"
                        " %s, attempt %d)",
                        plan->commit.fence_job_id, status ? status : "unknown",
                        worker ? worker : "none",
                        stmt ? (long long)sqlite3_column_int64(stmt, 2) : -1LL,
                        plan->commit.fence_worker ? plan->commit.fence_worker : "(none)",
                        plan->commit.fence_attempt);
}

/*
 * check_fence - inside the write transaction: IQ_E_STALE unless job
 * fence_job_id is RUNNING with fence_worker and fence_attempt. The write
 * lock held since BEGIN IMMEDIATE keeps it so until COMMIT, which makes
 * "never twice" exact when the target is the service's own database.
 */
static int check_fence(struct sqlite_load *load, struct iq_error *err)
{
    const struct load_plan *plan = load->base.plan;
    struct sqlite_store *s = load->s;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_JOB_FENCE, err);
    if (!stmt)
        return IQ_E_DB;
    int rc = sqlite3_bind_text(stmt, 1, plan->commit.fence_job_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    int ret;
    if (rc == SQLITE_ROW)
        ret = fence_row_is_ours(plan, stmt) ? 0 : fence_stale(plan, stmt, err);
    else if (rc == SQLITE_DONE)
        ret = fence_stale(plan, NULL, err);
    else
        ret = sqlite_load_error(s, rc, "check the job fence", err);
    stmt_release(stmt);
    return ret;
}

/* check_claim_next - a load's claim_next, checked as a claim round's. */
static int check_claim_next(const struct load_plan *plan, struct iq_error *err)
{
    const char *worker = plan->commit.claim_next->worker;
    return store_check_claim_batch(plan->commit.claim_next, &worker, 1, err);
}

/*
 * sqlite_load_commit - see load_ops.commit. Needs a promoted load:
 * the fence, the job's finish when plan->commit.finish_on_commit asks for it (in
 * the same transaction as the rows, so the job is COMPLETED exactly when
 * they land) and the worker's next claim when plan->commit.claim_next does,
 * COMMIT, then the staging tables go (end_staging).
 * Returns 0 and frees the load: it is over. On failure everything is
 * rolled back and the load stays for load_abort.
 */
int sqlite_load_commit(struct load *base, struct iq_error *err)
{
    struct sqlite_load *load = to_sqlite_load(base);
    if (load->failed)
        return iq_error_set(err, IQ_E_INTERNAL, "the load already failed: only abort it");
    if (!load->promoted) {
        load->failed = true;
        return iq_error_set(err, IQ_E_INTERNAL, "load_commit before load_promote");
    }
    int rc = sqlite_load_interrupted(load, "commit load", err);
    if (rc == 0)
        rc = sqlite_load_write_begin(load, err);
    const struct load_plan *plan = load->base.plan;
    if (rc == 0 && plan->commit.fence_job_id && !store_load_finish_is_fence(plan))
        rc = check_fence(load, err);
    struct job *next = NULL;
    if (rc == 0 && plan->commit.finish_on_commit)
        rc = sqlite_finish_locked(load->s, plan->commit.finish_on_commit, NULL,
                                  plan->commit.finish_actx, sqlite_now_ms(load->s), NULL, err);
    if (rc == 0 && plan->commit.finish_on_commit && plan->commit.claim_next)
        rc = check_claim_next(plan, err);
    if (rc == 0 && plan->commit.finish_on_commit && plan->commit.claim_next)
        rc = sqlite_claim_locked(load->s, plan->commit.claim_next, plan->commit.finish_actx, &next,
                                 err);
    if (rc == 0)
        rc = sqlite_tx_commit(load->s, "commit load", err);
    if (rc < 0) {
        job_free(next);
        sqlite_tx_rollback(load->s);
        load->write_tx = false;
        load->failed = true;
        return rc;
    }
    load->write_tx = false;
    if (plan->commit.claimed_next)
        *plan->commit.claimed_next = next;
    else
        job_free(next);
    /* Landed: the rest is cleanup, the same as an abort's. */
    sqlite_load_abort(&load->base);
    return 0;
}

/* part_clear - free what part_init allocated (NULL-safe fields). */
static void part_clear(struct sqlite_load_part *part)
{
    sqlite_load_rows_clear(part);
    for (size_t i = 0; part->columns && i < part->column_count; i++)
        sqlite3_free(part->columns[i].expr);
    free(part->columns);
}

/*
 * sqlite_load_abort - see load_ops.abort: ROLLBACK when a transaction
 * is open, detach the staging database, free. NULL-safe, and safe on a
 * half-built load or after load_commit.
 */
void sqlite_load_abort(struct load *base)
{
    if (!base)
        return;
    struct sqlite_load *load = to_sqlite_load(base);
    /* The staging thread first (it uses the connection), then statements:
     * a pending one would keep the staging database from being detached. */
    sqlite_load_stage_discard(load);
    for (size_t i = 0; load->parts && i < load->part_count; i++)
        sqlite_load_rows_clear(&load->parts[i]);
    sqlite_tx_rollback(load->s);
    restore_cache_sizes(load);
    end_staging(load);
    for (size_t i = 0; load->parts && i < load->part_count; i++)
        part_clear(&load->parts[i]);
    free(load->parts);
    if (load->c_locale)
        freelocale(load->c_locale);
    free(load);
}

/*
 * sqlite_interrupt - see store_ops.interrupt. Any thread, while the
 * connection is open (closing it concurrently is the caller's race to
 * avoid). The running statement fails with SQLITE_INTERRUPT (IQ_E_CANCELLED
 * here, and SQLite rolls back an interrupted write transaction); as
 * sqlite3_interrupt does nothing while no statement runs, the flag makes
 * the load's next statement fail too. Cleared by the next load_begin.
 */
void sqlite_interrupt(struct store *base)
{
    struct sqlite_store *s = to_sqlite(base);
    atomic_store(&s->interrupted, true);
    sqlite3_interrupt(s->db);
}
