/*
 * sqlite/load/preview.c - a dry run's counting steps on SQLite
 * (common/load_preview.h): counts over the staging tables and the
 * targets, inside the load's write transaction that load_check opened
 * (so the target cannot change between the checks and the counts), each
 * one statement. Keys and values are compared as the promote's INSERT
 * would store them: a staging value has no affinity, so comparing it
 * with a target column applies that column's affinity (as load_check's
 * conflict check does). Nothing here writes.
 */
#include "store/sqlite/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* part_of - part index of load. */
static const struct sqlite_load_part *part_of(struct load *base, size_t index)
{
    return &to_sqlite_load(base)->parts[index];
}

/* is_key - whether name is one of spec's key columns. */
static bool is_key(const struct load_part *spec, const char *name)
{
    for (size_t k = 0; k < spec->key_count; k++)
        if (strcasecmp(spec->key[k], name) == 0)
            return true;
    return false;
}

/* append_key_match - "t."k1" = <expr> AND ..." for part's key. */
static void append_key_match(sqlite3_str *sql, const struct sqlite_load_part *part)
{
    const struct load_part *spec = part->spec;
    for (size_t k = 0; k < spec->key_count; k++)
        sqlite3_str_appendf(sql, "%st.\"%w\" = %s", k ? " AND " : "", spec->key[k],
                            sqlite_load_find_column(part, spec->key[k])->expr);
}

/*
 * read_counts - run sql (sqlite3_malloc'd, freed here; NULL: out of
 * memory), one row of count integers, into ret[0..count).
 */
static int read_counts(struct sqlite_load *load, char *sql, const char *what, int64_t *ret,
                       int count, struct iq_error *err)
{
    if (!sql)
        return nomem(err);
    int rc = sqlite_load_interrupted(load, what, err);
    sqlite3_stmt *stmt = NULL;
    int step = SQLITE_OK;
    if (rc == 0) {
        step = sqlite3_prepare_v2(load->s->db, sql, -1, &stmt, NULL);
        if (step == SQLITE_OK)
            step = sqlite3_step(stmt);
        if (step == SQLITE_ROW)
            for (int i = 0; i < count; i++)
                ret[i] = sqlite3_column_int64(stmt, i);
        else
            rc = sqlite_load_error(load->s, step, what, err);
    }
    sqlite3_finalize(stmt);
    sqlite3_free(sql);
    if (rc < 0)
        load->failed = true;
    return rc;
}

/*
 * ready - a dry run after a successful load_check. Each part's promote
 * statement is prepared (not run), so that what SQLite refuses before
 * any row (no unique index for an upsert's ON CONFLICT, a column the
 * table lost) fails the dry run as it would fail the real one.
 */
static int ready(struct load *base, struct iq_error *err)
{
    struct sqlite_load *load = to_sqlite_load(base);
    int rc = sqlite_load_usable(load, err);
    if (rc < 0)
        return rc;
    if (!load->checked || !load->write_tx)
        return iq_error_set(err, IQ_E_INTERNAL, "load_preview before load_check");
    for (size_t i = 0; i < load->part_count; i++) {
        bool updates;
        char *sql = sqlite_load_promote_sql(load, &load->parts[i], &updates);
        if (!sql)
            return nomem(err);
        sqlite3_stmt *stmt = NULL;
        int prepared = sqlite3_prepare_v2(load->s->db, sql, -1, &stmt, NULL);
        sqlite3_finalize(stmt);
        sqlite3_free(sql);
        if (prepared != SQLITE_OK) {
            load->failed = true;
            return iq_error_set(err, sqlite_load_code(prepared), "promote into \"%s\": %s",
                                load->parts[i].spec->table, sqlite3_errmsg(load->s->db));
        }
    }
    return 0;
}

static bool creates_target(struct load *base)
{
    return part_of(base, 0)->create;
}

static int staged_rows(struct load *base, size_t index, int64_t *ret_count, struct iq_error *err)
{
    return read_counts(to_sqlite_load(base),
                       sqlite3_mprintf("SELECT count(*) FROM importq_staging.\"%w\"",
                                       part_of(base, index)->staging),
                       "count staged rows", ret_count, 1, err);
}

/*
 * matched_rows - two counts in one statement: staged rows whose key the
 * target has, and those whose target row also holds every non-key
 * value (IS: NULL matches NULL).
 */
static int matched_rows(struct load *base, size_t index, int64_t *ret_matched, int64_t *ret_same,
                        struct iq_error *err)
{
    const struct sqlite_load_part *part = part_of(base, index);
    sqlite3_str *sql = sqlite3_str_new(NULL);
    for (int same = 0; same < 2; same++) {
        sqlite3_str_appendf(sql,
                            "%s(SELECT count(*) FROM importq_staging.\"%w\" s WHERE EXISTS"
                            " (SELECT 1 FROM main.\"%w\" t WHERE ",
                            same ? ", " : "SELECT ", part->staging, part->spec->table);
        append_key_match(sql, part);
        for (size_t i = 0; same && i < part->column_count; i++)
            if (!is_key(part->spec, part->columns[i].name))
                sqlite3_str_appendf(sql, " AND t.\"%w\" IS %s", part->columns[i].name,
                                    part->columns[i].expr);
        sqlite3_str_appendall(sql, "))");
    }
    int64_t counts[2] = {0, 0};
    int rc = read_counts(to_sqlite_load(base), sqlite_sql_finish(sql), "compare with the target",
                         counts, 2, err);
    *ret_matched = counts[0];
    *ret_same = counts[1];
    return rc;
}

static int target_rows(struct load *base, size_t index, bool unmatched_only, int64_t *ret_count,
                       struct iq_error *err)
{
    const struct sqlite_load_part *part = part_of(base, index);
    sqlite3_str *sql = sqlite3_str_new(NULL);
    sqlite3_str_appendf(sql, "SELECT count(*) FROM main.\"%w\" t", part->spec->table);
    if (unmatched_only) {
        sqlite3_str_appendf(sql, " WHERE NOT EXISTS (SELECT 1 FROM importq_staging.\"%w\" s WHERE ",
                            part->staging);
        append_key_match(sql, part);
        sqlite3_str_appendall(sql, ")");
    }
    return read_counts(to_sqlite_load(base), sqlite_sql_finish(sql), "count the target's rows",
                       ret_count, 1, err);
}

const struct load_preview_primitives sqlite_load_preview_primitives = {
    .ready = ready,
    .creates_target = creates_target,
    .staged_rows = staged_rows,
    .matched_rows = matched_rows,
    .target_rows = target_rows,
};
