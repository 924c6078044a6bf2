/*
 * sqlite/load/check.c - the set-wise checks of a staged load on
 * SQLite (load_check). Per part, in this order (a row is reported once,
 * by the first check it fails), the same as the PostgreSQL backend:
 *   1. NULL key values (insert, upsert, replace: a key is never NULL)
 *   2. references: a non-NULL value must exist in ref_table.ref_column or
 *      among the rows this load stages for that table (a child may name a
 *      parent of the same file); under replace only the staged ones count,
 *      as the old rows go
 *   3. duplicate keys in the file: the first occurrence stays, later ones
 *      are rejected naming its line (insert, upsert, replace)
 *   4. insert mode: keys the target already has
 * Each check is one SELECT over a staging table; every row it finds is
 * reported through the reject callback, noted in importq_staging.importq_rejects and
 * then deleted from staging, so memory stays bounded however many rows
 * fail. When part 0 lost rows, child rows whose parent row is gone (same
 * line and, for loaded parent-key columns, the same values) are dropped
 * and counted, not reported: their parent's reject says why.
 *
 * Runs inside the load's BEGIN IMMEDIATE transaction, so what is checked
 * (the target's keys, the referenced rows) cannot change before the
 * promotion. Staging values have no affinity: comparing one with a target
 * column applies that column's affinity, exactly as the INSERT will.
 */
#include "store/sqlite/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum check_kind { CHECK_NULL_KEY, CHECK_REFERENCE, CHECK_DUPLICATE, CHECK_CONFLICT };

/* One check of one part. Its SELECT yields rid, line, then per kind:
 * NULL_KEY the key index; REFERENCE the value; DUPLICATE the first line
 * and the key values; CONFLICT the key values. */
struct check {
    enum check_kind kind;
    const char *what;                       /* for error messages */
    char *sql;                              /* sqlite3_malloc'd; NULL on OOM */
    const struct load_reference *reference; /* CHECK_REFERENCE */
};

/* One load_check run. */
struct check_run {
    struct sqlite_load *load;
    const struct sqlite_load_part *part; /* the part being checked */
    load_reject_cb reject_cb;
    void *ctx;
    int64_t reported; /* rows of this part reported so far */
    int stop_rc;      /* the callback's code once it stopped the load, else 0 */
};

/* key_expr - the staging expression of key column k. */
static const char *key_expr(const struct sqlite_load_part *part, size_t k)
{
    return sqlite_load_find_column(part, part->spec->key[k])->expr;
}

/* ------------------------------------------------------------------------
 * The checks' SQL
 * ------------------------------------------------------------------------ */

/* null_key_check - 1. rows with a NULL in any key column, and which one. */
static void null_key_check(const struct sqlite_load_part *part, struct check *ret_check)
{
    const struct load_part *spec = part->spec;
    sqlite3_str *sql = sqlite3_str_new(NULL);
    sqlite3_str_appendall(sql, "SELECT s.rowid, s.line, CASE");
    for (size_t k = 0; k < spec->key_count; k++)
        sqlite3_str_appendf(sql, " WHEN %s IS NULL THEN %d", key_expr(part, k), (int)k);
    sqlite3_str_appendf(sql, " END FROM importq_staging.\"%w\" s WHERE false", part->staging);
    for (size_t k = 0; k < spec->key_count; k++)
        sqlite3_str_appendf(sql, " OR %s IS NULL", key_expr(part, k));
    sqlite3_str_appendall(sql, " ORDER BY s.rowid");
    *ret_check = (struct check){
        .kind = CHECK_NULL_KEY, .what = "check for NULL keys", .sql = sqlite_sql_finish(sql)};
}

/* loaded_index - index of name among part's loaded columns (staging c<i+1>), or -1. */
static int loaded_index(const struct sqlite_load_part *part, const char *name)
{
    for (size_t i = 0; i < part->spec->column_count; i++)
        if (strcasecmp(part->spec->columns[i], name) == 0)
            return (int)i;
    return -1;
}

/* replaces - whether this load replaces table (so its old rows go). */
static bool replaces(const struct sqlite_load *load, const char *table)
{
    if (load->base.plan->mode != TARGET_REPLACE)
        return false;
    for (size_t i = 0; i < load->part_count; i++)
        if (strcasecmp(load->parts[i].spec->table, table) == 0)
            return true;
    return false;
}

/*
 * reference_check - 2. rows whose non-NULL value is in neither the
 * referenced table nor the rows this load stages for it. The staged
 * columns looked up here are indexed (sqlite_load_index_staging).
 */
static void reference_check(const struct sqlite_load *load, const struct sqlite_load_part *part,
                            const struct load_reference *ref, struct check *ret_check)
{
    const char *expr = sqlite_load_find_column(part, ref->column)->expr;
    sqlite3_str *sql = sqlite3_str_new(NULL);
    sqlite3_str_appendf(
        sql, "SELECT s.rowid, s.line, %s FROM importq_staging.\"%w\" s WHERE %s IS NOT NULL", expr,
        part->staging, expr);
    if (!replaces(load, ref->ref_table))
        sqlite3_str_appendf(sql,
                            " AND NOT EXISTS (SELECT 1 FROM main.\"%w\" r WHERE r.\"%w\" = %s)",
                            ref->ref_table, ref->ref_column, expr);
    for (size_t j = 0; j < load->part_count; j++) {
        const struct sqlite_load_part *other = &load->parts[j];
        int index = loaded_index(other, ref->ref_column);
        if (strcasecmp(other->spec->table, ref->ref_table) != 0 || index < 0)
            continue;
        sqlite3_str_appendf(
            sql, " AND NOT EXISTS (SELECT 1 FROM importq_staging.\"%w\" q WHERE q.c%d = %s)",
            other->staging, index + 1, expr);
    }
    sqlite3_str_appendall(sql, " ORDER BY s.rowid");
    *ret_check = (struct check){.kind = CHECK_REFERENCE,
                                .what = "check references",
                                .sql = sqlite_sql_finish(sql),
                                .reference = ref};
}

/* duplicate_check - 3. rows whose key an earlier row (lower rowid) of the file has. */
static void duplicate_check(const struct sqlite_load_part *part, struct check *ret_check)
{
    const struct load_part *spec = part->spec;
    sqlite3_str *sql = sqlite3_str_new(NULL);
    sqlite3_str_appendall(sql, "SELECT rid, line, first_line");
    for (size_t k = 0; k < spec->key_count; k++)
        sqlite3_str_appendf(sql, ", k%d", (int)k);
    sqlite3_str_appendall(sql, " FROM (SELECT s.rowid AS rid, s.line AS line, row_number()"
                               " OVER w AS n, first_value(s.line) OVER w AS first_line");
    for (size_t k = 0; k < spec->key_count; k++)
        sqlite3_str_appendf(sql, ", %s AS k%d", key_expr(part, k), (int)k);
    sqlite3_str_appendf(sql, " FROM importq_staging.\"%w\" s WINDOW w AS (PARTITION BY ",
                        part->staging);
    for (size_t k = 0; k < spec->key_count; k++)
        sqlite3_str_appendf(sql, "%s%s", k ? ", " : "", key_expr(part, k));
    sqlite3_str_appendall(sql, " ORDER BY s.rowid)) WHERE n > 1 ORDER BY rid");
    *ret_check = (struct check){
        .kind = CHECK_DUPLICATE, .what = "check for duplicate keys", .sql = sqlite_sql_finish(sql)};
}

/* conflict_check - 4. insert mode: rows whose key the target already has. */
static void conflict_check(const struct sqlite_load_part *part, struct check *ret_check)
{
    const struct load_part *spec = part->spec;
    sqlite3_str *sql = sqlite3_str_new(NULL);
    sqlite3_str_appendall(sql, "SELECT s.rowid, s.line");
    for (size_t k = 0; k < spec->key_count; k++)
        sqlite3_str_appendf(sql, ", %s", key_expr(part, k));
    sqlite3_str_appendf(
        sql, " FROM importq_staging.\"%w\" s WHERE EXISTS (SELECT 1 FROM main.\"%w\" t WHERE ",
        part->staging, spec->table);
    for (size_t k = 0; k < spec->key_count; k++)
        sqlite3_str_appendf(sql, "%st.\"%w\" = %s", k ? " AND " : "", spec->key[k],
                            key_expr(part, k));
    sqlite3_str_appendall(sql, ") ORDER BY s.rowid");
    *ret_check = (struct check){
        .kind = CHECK_CONFLICT, .what = "check for existing keys", .sql = sqlite_sql_finish(sql)};
}

/* ------------------------------------------------------------------------
 * Reporting
 * ------------------------------------------------------------------------ */

/* column_text - column c of the current row as text, NULL for SQL NULL. */
static const char *column_text(sqlite3_stmt *stmt, int c)
{
    return (const char *)sqlite3_column_text(stmt, c);
}

/* The row a key's values come from: stmt, from column first on. */
struct key_row {
    sqlite3_stmt *stmt;
    int first;
};

static const char *key_value_cb(size_t i, void *ctx)
{
    const struct key_row *row = ctx;
    return column_text(row->stmt, row->first + (int)i);
}

/* key_text - "(a, b)=(1, x)" (store_key_text): the key's values from column first on. */
static void key_text(sqlite3_str *text, const struct load_part *spec, sqlite3_stmt *stmt, int first)
{
    char *key = store_key_text(spec, key_value_cb, &(struct key_row){stmt, first});
    sqlite3_str_appendall(text, key ? key : "(?)");
    free(key);
}

/*
 * describe_row - the reject of the current row: message (sqlite3_free;
 * NULL on OOM), and the column and value it names, borrowed from stmt or
 * the plan (a composite key names neither).
 */
static char *describe_row(const struct check_run *run, const struct check *check,
                          sqlite3_stmt *stmt, struct load_reject *reject)
{
    const struct load_part *spec = run->part->spec;
    sqlite3_str *text = sqlite3_str_new(NULL);
    bool single = spec->key_count == 1;
    switch (check->kind) {
    case CHECK_NULL_KEY:
        reject->column = spec->key[sqlite3_column_int(stmt, 2)];
        sqlite3_str_appendf(text, "key column %s is NULL", reject->column);
        break;
    case CHECK_REFERENCE:
        reject->column = check->reference->column;
        reject->value = column_text(stmt, 2);
        sqlite3_str_appendf(text, "no %s.%s = %s", check->reference->ref_table,
                            check->reference->ref_column, reject->value);
        break;
    case CHECK_DUPLICATE:
        sqlite3_str_appendall(text, "duplicate key ");
        key_text(text, spec, stmt, 3);
        sqlite3_str_appendf(text, " in file, first on line %lld", sqlite3_column_int64(stmt, 2));
        reject->column = single ? spec->key[0] : NULL;
        reject->value = single ? column_text(stmt, 3) : NULL;
        break;
    case CHECK_CONFLICT:
        sqlite3_str_appendall(text, "key ");
        key_text(text, spec, stmt, 2);
        sqlite3_str_appendall(text, " already exists");
        reject->column = single ? spec->key[0] : NULL;
        reject->value = single ? column_text(stmt, 2) : NULL;
        break;
    }
    return sqlite_sql_finish(text);
}

/* report_row - hand the current row to the callback (until it stops the load). */
static int report_row(struct check_run *run, const struct check *check, sqlite3_stmt *stmt,
                      struct iq_error *err)
{
    run->reported++;
    if (!run->reject_cb || run->stop_rc)
        return 0;
    struct load_reject reject = {.part = run->part->index, .line = sqlite3_column_int64(stmt, 1)};
    char *message = describe_row(run, check, stmt, &reject);
    if (!message)
        return nomem(err);
    reject.message = message;
    int rc = run->reject_cb(&reject, run->ctx);
    if (rc < 0)
        run->stop_rc = rc;
    sqlite3_free(message);
    return 0;
}

/* flag_row - note the rowid of a rejected row in importq_staging.importq_rejects. */
static int flag_row(struct sqlite_load *load, sqlite3_stmt *flag, int64_t rid, struct iq_error *err)
{
    int rc = sqlite3_bind_int64(flag, 1, rid);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(flag);
    int reset = sqlite3_reset(flag);
    if (rc == SQLITE_DONE && reset == SQLITE_OK)
        return 0;
    return sqlite_load_error(load->s, rc == SQLITE_DONE ? reset : rc, "note rejected row", err);
}

/* ------------------------------------------------------------------------
 * Running a check
 * ------------------------------------------------------------------------ */

/* read_rows - report and flag every row of the check's prepared SELECT. */
static int read_rows(struct check_run *run, const struct check *check, sqlite3_stmt *stmt,
                     sqlite3_stmt *flag, struct iq_error *err)
{
    int rc = 0, step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        rc = report_row(run, check, stmt, err);
        if (rc == 0)
            rc = flag_row(run->load, flag, sqlite3_column_int64(stmt, 0), err);
        if (rc < 0)
            return rc;
    }
    return step == SQLITE_DONE ? 0 : sqlite_load_error(run->load->s, step, check->what, err);
}

/*
 * run_check - report and flag every row check finds, delete them from
 * staging, clear the flags. Returns 0, the callback's stop code (err
 * says so), or an error.
 */
static int run_check(struct check_run *run, struct check *check, struct iq_error *err)
{
    struct sqlite_load *load = run->load;
    sqlite3_stmt *stmt = NULL, *flag = NULL;
    int rc = check->sql ? sqlite_load_interrupted(load, check->what, err) : nomem(err);
    if (rc == 0 && (sqlite3_prepare_v2(load->s->db, check->sql, -1, &stmt, NULL) != SQLITE_OK ||
                    sqlite3_prepare_v2(load->s->db,
                                       "INSERT OR IGNORE INTO importq_staging.importq_rejects (rid)"
                                       " VALUES (?1)",
                                       -1, &flag, NULL) != SQLITE_OK))
        rc = sqlite_load_error(load->s, sqlite3_errcode(load->s->db), check->what, err);
    if (rc == 0)
        rc = read_rows(run, check, stmt, flag, err);
    sqlite3_finalize(stmt);
    sqlite3_finalize(flag);
    sqlite3_free(check->sql);
    check->sql = NULL;
    if (rc == 0)
        rc = sqlite_exec_sql(load->s,
                             sqlite3_mprintf("DELETE FROM importq_staging.\"%w\" WHERE rowid IN"
                                             " (SELECT rid FROM importq_staging.importq_rejects);"
                                             " DELETE FROM importq_staging.importq_rejects",
                                             run->part->staging),
                             "drop rejected rows", err);
    if (rc == 0 && run->stop_rc)
        rc = iq_error_set(err, run->stop_rc, "%s: stopped by the reject callback", check->what);
    return rc;
}

/* check_part - the checks of run->part, as the mode asks. */
static int check_part(struct check_run *run, struct iq_error *err)
{
    const struct load_part *spec = run->part->spec;
    enum target_mode mode = run->load->base.plan->mode;
    bool keyed = mode != TARGET_APPEND && spec->key_count > 0;
    struct check check;
    int rc = 0;
    if (keyed) {
        null_key_check(run->part, &check);
        rc = run_check(run, &check, err);
    }
    for (size_t r = 0; rc == 0 && r < spec->reference_count; r++) {
        reference_check(run->load, run->part, &spec->references[r], &check);
        rc = run_check(run, &check, err);
    }
    if (rc == 0 && keyed) {
        duplicate_check(run->part, &check);
        rc = run_check(run, &check, err);
    }
    if (rc == 0 && keyed && mode == TARGET_INSERT) {
        conflict_check(run->part, &check);
        rc = run_check(run, &check, err);
    }
    return rc;
}

/*
 * drop_orphans - child rows of part whose parent row is no longer staged:
 * none on the same line with the same loaded parent-key values.
 * *ret_dropped = how many.
 */
static int drop_orphans(struct sqlite_load *load, const struct sqlite_load_part *part,
                        int64_t *ret_dropped, struct iq_error *err)
{
    const struct sqlite_load_part *parent = &load->parts[0];
    const struct load_part *spec = part->spec;
    sqlite3_str *sql = sqlite3_str_new(NULL);
    sqlite3_str_appendf(sql,
                        "DELETE FROM importq_staging.\"%w\" AS c WHERE NOT EXISTS (SELECT 1 FROM"
                        " importq_staging.\"%w\" p WHERE p.line = c.line",
                        part->staging, parent->staging);
    for (size_t k = 0; k < spec->parent_key_count; k++) {
        int child = loaded_index(part, spec->child_columns[k]);
        int from = loaded_index(parent, spec->parent_columns[k]);
        if (child >= 0 && from >= 0)
            sqlite3_str_appendf(sql, " AND p.c%d IS c.c%d", from + 1, child + 1);
    }
    sqlite3_str_appendall(sql, ")");
    int rc = sqlite_exec_sql(load->s, sqlite_sql_finish(sql), "drop rows of rejected parents", err);
    *ret_dropped = rc == 0 ? sqlite3_changes64(load->s->db) : 0;
    return rc;
}

/* check_all - every part, part 0 first so its rejects can drop children. */
static int check_all(struct sqlite_load *load, load_reject_cb reject_cb, void *ctx,
                     int64_t *ret_rejected, struct iq_error *err)
{
    int rc =
        sqlite_exec_sql(load->s,
                        sqlite3_mprintf("CREATE TABLE IF NOT EXISTS importq_staging.importq_rejects"
                                        " (rid INTEGER PRIMARY KEY)"),
                        "create rejects table", err);
    struct check_run run = {.load = load, .reject_cb = reject_cb, .ctx = ctx};
    int64_t parents_rejected = 0;
    for (size_t i = 0; rc == 0 && i < load->part_count; i++) {
        run.part = &load->parts[i];
        if (i > 0 && parents_rejected > 0) {
            int64_t dropped = 0;
            rc = drop_orphans(load, run.part, &dropped, err);
            *ret_rejected += dropped;
        }
        if (rc == 0)
            rc = check_part(&run, err);
        if (i == 0)
            parents_rejected = run.reported;
    }
    *ret_rejected += run.reported;
    return rc;
}

/*
 * sqlite_load_check - see load_ops.check. A direct plan has nothing
 * to check (its promote fails on any constraint error). Otherwise: waits
 * for the staging thread, opens the write transaction (kept for promote
 * and commit), creates missing targets, runs the checks. *ret_rejected (may
 * be NULL) = rows reported plus children dropped with their parents.
 * reject_cb may be NULL; the reject it gets is valid during the call only.
 */
int sqlite_load_check(struct load *base, load_reject_cb reject_cb, void *ctx, int64_t *ret_rejected,
                      struct iq_error *err)
{
    struct sqlite_load *load = to_sqlite_load(base);
    int64_t rejected = 0;
    if (ret_rejected)
        *ret_rejected = 0;
    int rc = sqlite_load_usable(load, err);
    if (rc < 0 || load->base.plan->direct)
        return rc;
    rc = sqlite_load_stage_drain(load, err);
    if (rc == 0)
        rc = sqlite_load_index_staging(load, err);
    if (rc == 0)
        rc = sqlite_load_write_begin(load, err);
    if (rc == 0)
        rc = sqlite_load_prepare_targets(load, err);
    if (rc == 0)
        rc = check_all(load, reject_cb, ctx, &rejected, err);
    if (ret_rejected)
        *ret_rejected = rejected;
    load->failed = rc < 0;
    load->checked = rc == 0;
    return rc;
}
