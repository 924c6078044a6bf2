/*
 * sqlite/load/promote.c - moving staged rows into their tables on
 * SQLite (load_promote), inside the load's BEGIN IMMEDIATE transaction:
 * insert and append are INSERT ... SELECT in file order, upsert adds
 * ON CONFLICT (key) DO UPDATE, replace first deletes every row of the
 * parts' tables (children first) in the same transaction, so readers see
 * the old rows until COMMIT and the new ones after. Children are promoted
 * after their parent. Counts are summed over all parts. A direct load
 * that never staged (its rows all in the held first batch) is one
 * multi-row INSERT OR FAIL ... VALUES from memory instead (promote_held).
 *
 * The INSERTs are OR FAIL. A plain (OR ABORT) statement that writes many
 * rows into a table with constraints makes SQLite keep a statement
 * journal, a copy of every page the statement touches so it can undo just
 * that statement; any error here fails the load and rolls back its whole
 * transaction, so no undo is needed. OR FAIL also keeps the rows before
 * the failing one and sqlite3_changes() counts them, which names the
 * staged row (and so the line) at fault without running anything again.
 */
#include "store/sqlite/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* append_select - " SELECT <exprs> FROM importq_staging.<staging> s ... ORDER BY s.rowid". */
static void append_select(sqlite3_str *sql, const struct sqlite_load_part *part)
{
    sqlite3_str_appendall(sql, " SELECT ");
    for (size_t i = 0; i < part->column_count; i++)
        sqlite3_str_appendf(sql, "%s%s", i ? ", " : "", part->columns[i].expr);
    /* WHERE true: without it SQLite could read ON CONFLICT as a join's ON. */
    sqlite3_str_appendf(sql, " FROM importq_staging.\"%w\" s WHERE true ORDER BY s.rowid",
                        part->staging);
}

/* is_key - whether name is one of the part's key columns. */
static bool is_key(const struct load_part *spec, const char *name)
{
    for (size_t k = 0; k < spec->key_count; k++)
        if (strcasecmp(spec->key[k], name) == 0)
            return true;
    return false;
}

/*
 * append_upsert - ON CONFLICT (key) DO UPDATE SET every non-key column to
 * the new value, or DO NOTHING when every column is part of the key.
 * *ret_updates: whether anything is updated.
 */
static void append_upsert(sqlite3_str *sql, const struct sqlite_load_part *part, bool *ret_updates)
{
    const struct load_part *spec = part->spec;
    sqlite3_str_appendall(sql, " ON CONFLICT (");
    for (size_t k = 0; k < spec->key_count; k++)
        sqlite3_str_appendf(sql, "%s\"%w\"", k ? ", " : "", spec->key[k]);
    sqlite3_str_appendall(sql, ") DO ");
    const char *separator = "UPDATE SET ";
    *ret_updates = false;
    for (size_t i = 0; i < part->column_count; i++) {
        const char *name = part->columns[i].name;
        if (is_key(spec, name))
            continue;
        sqlite3_str_appendf(sql, "%s\"%w\" = excluded.\"%w\"", separator, name, name);
        separator = ", ";
        *ret_updates = true;
    }
    if (!*ret_updates)
        sqlite3_str_appendall(sql, "NOTHING");
}

/* count_existing - staged rows whose key the target already has (before the upsert). */
static int count_existing(struct sqlite_load *load, const struct sqlite_load_part *part,
                          int64_t *ret_count, struct iq_error *err)
{
    const struct load_part *spec = part->spec;
    sqlite3_str *sql = sqlite3_str_new(NULL);
    sqlite3_str_appendf(sql,
                        "SELECT count(*) FROM importq_staging.\"%w\" s WHERE EXISTS"
                        " (SELECT 1 FROM main.\"%w\" t WHERE ",
                        part->staging, spec->table);
    for (size_t k = 0; k < spec->key_count; k++)
        sqlite3_str_appendf(sql, "%st.\"%w\" = %s", k ? " AND " : "", spec->key[k],
                            sqlite_load_find_column(part, spec->key[k])->expr);
    sqlite3_str_appendall(sql, ")");
    char *text = sqlite_sql_finish(sql);
    if (!text)
        return nomem(err);
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(load->s->db, text, -1, &stmt, NULL);
    sqlite3_free(text);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return sqlite_load_error(load->s, rc, "count existing keys", err);
    }
    rc = sqlite_read_int64(load->s, stmt, "count existing keys", ret_count, err);
    sqlite3_finalize(stmt);
    return rc;
}

/*
 * failed_line - after an INSERT OR FAIL ... SELECT that failed once
 * inserted rows had gone in (ORDER BY rowid, one change per row): the
 * line of the staged row at fault, or -1 when it cannot be told.
 */
static int64_t failed_line(struct sqlite_load *load, const struct sqlite_load_part *part,
                           int64_t inserted)
{
    char *sql = sqlite3_mprintf(
        "SELECT line FROM importq_staging.\"%w\" ORDER BY rowid LIMIT 1 OFFSET %lld", part->staging,
        (long long)inserted);
    sqlite3_stmt *stmt = NULL;
    int rc = sql ? sqlite3_prepare_v2(load->s->db, sql, -1, &stmt, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    int64_t line = -1;
    if (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW &&
        sqlite3_column_type(stmt, 0) == SQLITE_INTEGER && sqlite3_column_int64(stmt, 0) > 0)
        line = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return line;
}

/*
 * promote_error - the error of a failed promote of part (message:
 * SQLite's, taken; NULL when out of memory): a constraint error names the
 * line of the first row that failed (line > 0: "line 7: promote into
 * "users": UNIQUE constraint failed: users.email").
 */
static int promote_error(const struct sqlite_load_part *part, int sqlite_rc, int64_t line,
                         char *message, struct iq_error *err)
{
    int rc;
    if ((sqlite_rc & 0xff) == SQLITE_INTERRUPT)
        rc = iq_error_set(err, IQ_E_CANCELLED, "promote into \"%s\": the load was interrupted",
                          part->spec->table);
    else if (line > 0)
        rc = iq_error_set(err, sqlite_load_code(sqlite_rc), "line %lld: promote into \"%s\": %s",
                          (long long)line, part->spec->table, message ? message : "out of memory");
    else
        rc = iq_error_set(err, sqlite_load_code(sqlite_rc), "promote into \"%s\": %s",
                          part->spec->table, message ? message : "out of memory");
    sqlite3_free(message);
    return rc;
}

/*
 * promote_failed - promote_error after a staged part's INSERT ... SELECT:
 * the line is the staged row's, when every row counts one change (not
 * for upsert with DO NOTHING).
 */
static int promote_failed(struct sqlite_load *load, const struct sqlite_load_part *part,
                          int sqlite_rc, bool one_change_per_row, struct iq_error *err)
{
    int64_t inserted = sqlite3_changes64(load->s->db);
    char *message = sqlite3_mprintf("%s", sqlite3_errmsg(load->s->db)); /* before failed_line's */
    int64_t line = -1;
    if ((sqlite_rc & 0xff) == SQLITE_CONSTRAINT && one_change_per_row)
        line = failed_line(load, part, inserted);
    return promote_error(part, sqlite_rc, line, message, err);
}

/* sqlite_load_promote_sql - see sqlite/internal.h. */
char *sqlite_load_promote_sql(const struct sqlite_load *load, const struct sqlite_load_part *part,
                              bool *ret_updates)
{
    bool upsert = load->base.plan->mode == TARGET_UPSERT && part->spec->key_count > 0;
    sqlite3_str *sql = sqlite3_str_new(NULL);
    sqlite3_str_appendf(sql, "INSERT OR FAIL INTO main.\"%w\" (", part->spec->table);
    sqlite_sql_column_list(sql, part);
    sqlite3_str_appendall(sql, ")");
    append_select(sql, part);
    *ret_updates = false;
    if (upsert)
        append_upsert(sql, part, ret_updates);
    return sqlite_sql_finish(sql);
}

/* promote_part - INSERT ... SELECT one part's staged rows; adds to load->result. */
static int promote_part(struct sqlite_load *load, const struct sqlite_load_part *part,
                        struct iq_error *err)
{
    bool upsert = load->base.plan->mode == TARGET_UPSERT && part->spec->key_count > 0;
    int64_t existing = 0;
    int interrupted = sqlite_load_interrupted(load, "promote", err);
    if (interrupted < 0)
        return interrupted;
    if (upsert) {
        int rc = count_existing(load, part, &existing, err);
        if (rc < 0)
            return rc;
    }
    bool updates = false;
    char *text = sqlite_load_promote_sql(load, part, &updates);
    if (!text)
        return nomem(err);
    int rc = sqlite3_exec(load->s->db, text, NULL, NULL, NULL);
    sqlite3_free(text);
    if (rc != SQLITE_OK)
        return promote_failed(load, part, rc, !upsert || updates, err);
    int64_t changes = sqlite3_changes64(load->s->db);
    /* DO UPDATE counts updated rows as changes too; DO NOTHING counts only inserts. */
    int64_t updated = updates ? (existing < changes ? existing : changes) : 0;
    load->result.rows_updated += updated;
    load->result.rows_inserted += changes - updated;
    return 0;
}

/*
 * promote_held - a direct load with no row staged: its held batch (if
 * any) straight into the table (sqlite/load/rows.c); adds to
 * load->result.
 */
static int promote_held(struct sqlite_load *load, struct iq_error *err)
{
    const struct sqlite_load_part *part = &load->parts[0];
    const char *const *values = NULL;
    const int64_t *lines = NULL;
    size_t rows = sqlite_load_held_rows(load, &values, &lines);
    size_t done = 0;
    int rc = rows ? sqlite_load_insert_direct(load, part, values, rows, &done) : SQLITE_OK;
    load->result.rows_inserted += (int64_t)done;
    if (rc == SQLITE_OK)
        return 0;
    int64_t line = (rc & 0xff) == SQLITE_CONSTRAINT && lines && done < rows ? lines[done] : -1;
    return promote_error(part, rc, line, sqlite3_mprintf("%s", sqlite3_errmsg(load->s->db)), err);
}

/* sqlite_load_delete_old_rows - see sqlite/internal.h. */
int sqlite_load_delete_old_rows(struct sqlite_load *load, struct iq_error *err)
{
    for (size_t i = load->part_count; i-- > 0;) {
        int rc = sqlite_exec_sql(
            load->s, sqlite3_mprintf("DELETE FROM main.\"%w\"", load->parts[i].spec->table),
            "replace: delete old rows", err);
        if (rc < 0)
            return rc;
        load->result.rows_deleted += sqlite3_changes64(load->s->db);
    }
    return 0;
}

/*
 * sqlite_load_promote - see load_ops.promote. In the write
 * transaction (opened here when load_check was skipped, as for a direct
 * plan): missing targets created, replace's old rows deleted, then each
 * part promoted. *ret_result: the counts (inserted, updated by upsert,
 * deleted by replace), summed over the parts.
 */
int sqlite_load_promote(struct load *base, struct load_result *ret_result, struct iq_error *err)
{
    struct sqlite_load *load = to_sqlite_load(base);
    memset(ret_result, 0, sizeof(*ret_result));
    int rc = sqlite_load_usable(load, err);
    if (rc < 0)
        return rc;
    /* Nothing staged yet (the rows are the held batch or none) and no
     * set-wise step to run on staging: straight from memory. */
    bool held = load->base.plan->direct && !load->staging_ready; /* no thread without staging */
    if (!held)
        rc = sqlite_load_stage_drain(load, err);
    if (rc == 0 && !held)
        rc = sqlite_load_index_staging(load, err);
    if (rc == 0)
        rc = sqlite_load_write_begin(load, err);
    if (rc == 0)
        rc = sqlite_load_prepare_targets(load, err);
    if (rc == 0 && load->base.plan->mode == TARGET_REPLACE)
        rc = sqlite_load_delete_old_rows(load, err);
    if (rc == 0 && held)
        rc = promote_held(load, err);
    for (size_t i = 0; rc == 0 && !held && i < load->part_count; i++)
        rc = promote_part(load, &load->parts[i], err);
    if (rc < 0) {
        load->failed = true;
        return rc;
    }
    load->promoted = true;
    *ret_result = load->result;
    return 0;
}
