/*
 * store_sqlite_load_promote.c - moving staged rows into their tables on
 * SQLite (load_promote), inside the load's BEGIN IMMEDIATE transaction:
 * insert and append are INSERT ... SELECT in file order, upsert adds
 * ON CONFLICT (key) DO UPDATE, replace first deletes every row of the
 * parts' tables (children first) in the same transaction, so readers see
 * the old rows until COMMIT and the new ones after. Children are promoted
 * after their parent. Counts are summed over all parts.
 *
 * The INSERTs are OR FAIL, as in store_sqlite_load_rows.c: any error fails
 * the load and rolls back its whole transaction, so SQLite need not keep
 * a statement journal to undo a half-done statement.
 */
#include "store/store_sqlite_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* append_select - " SELECT <exprs> FROM temp.<staging> s WHERE true ORDER BY s.rowid". */
static void append_select(sqlite3_str *sql, const struct sqlite_load_part *part)
{
    sqlite3_str_appendall(sql, " SELECT ");
    for (size_t i = 0; i < part->column_count; i++)
        sqlite3_str_appendf(sql, "%s%s", i ? ", " : "", part->columns[i].expr);
    /* WHERE true: without it SQLite could read ON CONFLICT as a join's ON. */
    sqlite3_str_appendf(sql, " FROM temp.\"%w\" s WHERE true ORDER BY s.rowid", part->staging);
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
                        "SELECT count(*) FROM temp.\"%w\" s WHERE EXISTS"
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
    sqlite3_str *sql = sqlite3_str_new(NULL);
    sqlite3_str_appendf(sql, "INSERT OR FAIL INTO main.\"%w\" (", part->spec->table);
    sqlite_sql_column_list(sql, part);
    sqlite3_str_appendall(sql, ")");
    append_select(sql, part);
    bool updates = false;
    if (upsert)
        append_upsert(sql, part, &updates);
    char what[128];
    snprintf(what, sizeof(what), "promote into \"%s\"", part->spec->table);
    int rc = sqlite_exec_sql(load->s, sqlite_sql_finish(sql), what, err);
    if (rc < 0)
        return rc;
    int64_t changes = sqlite3_changes64(load->s->db);
    /* DO UPDATE counts updated rows as changes too; DO NOTHING counts only inserts. */
    int64_t updated = updates ? (existing < changes ? existing : changes) : 0;
    load->result.rows_updated += updated;
    load->result.rows_inserted += changes - updated;
    return 0;
}

/* sqlite_load_delete_old_rows - see store_sqlite_internal.h. */
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

/* direct_result - a direct load's rows are in already; replace deleted at begin. */
static void direct_result(struct sqlite_load *load)
{
    load->result.rows_inserted = 0;
    for (size_t i = 0; i < load->part_count; i++)
        load->result.rows_inserted += load->parts[i].rows_loaded;
}

/*
 * sqlite_load_promote - see store_ops.load_promote. Staged: in the write
 * transaction (opened here when load_check was skipped), missing targets
 * created, then each part promoted. *ret_result: the counts (inserted,
 * updated by upsert, deleted by replace), summed over the parts.
 */
int sqlite_load_promote(struct load *base, struct load_result *ret_result, struct iq_error *err)
{
    struct sqlite_load *load = to_sqlite_load(base);
    memset(ret_result, 0, sizeof(*ret_result));
    int rc = sqlite_load_usable(load, err);
    if (rc < 0)
        return rc;
    if (load->base.plan->direct) {
        direct_result(load);
    } else {
        rc = sqlite_load_index_staging(load, err);
        if (rc == 0)
            rc = sqlite_load_write_begin(load, err);
        if (rc == 0)
            rc = sqlite_load_prepare_targets(load, err);
        if (rc == 0 && load->base.plan->mode == TARGET_REPLACE)
            rc = sqlite_load_delete_old_rows(load, err);
        for (size_t i = 0; rc == 0 && i < load->part_count; i++)
            rc = promote_part(load, &load->parts[i], err);
    }
    if (rc < 0) {
        load->failed = true;
        return rc;
    }
    load->promoted = true;
    *ret_result = load->result;
    return 0;
}
