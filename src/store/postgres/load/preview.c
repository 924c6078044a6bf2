/*
 * postgres/load/preview.c - a dry run's counting steps on PostgreSQL
 * (common/load_preview.h): counts over the TEMP staging tables and the
 * targets, each one statement in the load's transaction (READ COMMITTED:
 * the target as committed when the statement starts, plus what the load
 * itself did, which in a dry run is at most creating it). Keys are
 * compared as load_check compares them (staged text cast to the column's
 * type); other values as the text of the value the column would hold, so
 * a type without an equality operator (json, xml) compares too and a
 * change of representation (numeric 1.0 to 1.00) counts as a change, as
 * it would show in the table. The statements are semi- and anti-joins
 * the planner can hash: no row-by-row lookups on a large target without
 * an index on the key. Nothing here writes.
 */
#include "store/postgres/load/internal.h"

#include <stdlib.h>

/* part_of - part index of load. */
static const struct pg_load_part *part_of(struct load *base, size_t index)
{
    return &pg_load_of(base)->parts[index];
}

static bool is_key_column(const struct pg_load_part *p, size_t column)
{
    for (size_t k = 0; k < p->spec->key_count; k++)
        if ((size_t)p->key_columns[k] == column)
            return true;
    return false;
}

/* append_key_match - "t.k1 = s.v<i>::type AND ..." for p's key. */
static void append_key_match(struct sql_text *sql, const struct pg_load_part *p)
{
    for (size_t k = 0; k < p->spec->key_count; k++) {
        int c = p->key_columns[k];
        pg_sql_append(sql, "%st.%s = ", k ? " AND " : "", p->columns[c].name_sql);
        pg_load_cast(sql, &p->columns[c], "s", c);
    }
}

/* read_counts - run sql (built text), one row of count integers, into ret[0..count). */
static int read_counts(struct pg_load *pl, const char *what, struct sql_text *sql, int64_t *ret,
                       int count, struct iq_error *err)
{
    PGresult *res = NULL;
    int rc = pg_load_exec_sql(pl, what, sql, &res, err);
    if (rc == 0 && (PQntuples(res) != 1 || PQnfields(res) != count)) {
        pl->failed = true;
        rc = iq_error_set(err, IQ_E_INTERNAL, "%s: unexpected result shape", what);
    }
    for (int i = 0; rc == 0 && i < count; i++)
        ret[i] = pg_text_to_int64(PQgetvalue(res, 0, i));
    PQclear(res);
    return rc;
}

/* ready - a dry run after load_check (which ended the staging COPY). */
static int ready(struct load *base, struct iq_error *err)
{
    struct pg_load *pl = pg_load_of(base);
    int rc = pg_load_usable(pl, false, err);
    if (rc == 0 && (!pl->checked || pl->copy_part >= 0))
        rc = iq_error_set(err, IQ_E_INTERNAL, "load_preview before load_check");
    return rc;
}

static bool creates_target(struct load *base)
{
    return pg_load_of(base)->fresh_target;
}

static int staged_rows(struct load *base, size_t index, int64_t *ret_count, struct iq_error *err)
{
    struct sql_text sql = {0};
    pg_sql_append(&sql, "SELECT count(*) FROM %s", part_of(base, index)->stage_sql);
    return read_counts(pg_load_of(base), "counting staged rows", &sql, ret_count, 1, err);
}

/*
 * matched_rows - two counts in one statement: staged rows whose key the
 * target has, and those whose target row also holds every non-key value
 * (IS NOT DISTINCT FROM: NULL matches NULL).
 */
static int matched_rows(struct load *base, size_t index, int64_t *ret_matched, int64_t *ret_same,
                        struct iq_error *err)
{
    const struct pg_load_part *p = part_of(base, index);
    struct sql_text sql = {0};
    for (int same = 0; same < 2; same++) {
        pg_sql_append(&sql, "%s(SELECT count(*) FROM %s s WHERE EXISTS (SELECT 1 FROM %s t WHERE ",
                      same ? ", " : "SELECT ", p->stage_sql, p->table_sql);
        append_key_match(&sql, p);
        for (size_t i = 0; same && i < p->spec->column_count; i++) {
            if (is_key_column(p, i))
                continue;
            pg_sql_append(&sql, " AND t.%s::text IS NOT DISTINCT FROM (", p->columns[i].name_sql);
            pg_load_cast(&sql, &p->columns[i], "s", (int)i);
            pg_sql_append(&sql, ")::text");
        }
        pg_sql_append(&sql, "))");
    }
    int64_t counts[2] = {0, 0};
    int rc = read_counts(pg_load_of(base), "comparing with the target", &sql, counts, 2, err);
    *ret_matched = counts[0];
    *ret_same = counts[1];
    return rc;
}

static int target_rows(struct load *base, size_t index, bool unmatched_only, int64_t *ret_count,
                       struct iq_error *err)
{
    const struct pg_load_part *p = part_of(base, index);
    struct sql_text sql = {0};
    pg_sql_append(&sql, "SELECT count(*) FROM %s t", p->table_sql);
    if (unmatched_only) {
        pg_sql_append(&sql, " WHERE NOT EXISTS (SELECT 1 FROM %s s WHERE ", p->stage_sql);
        append_key_match(&sql, p);
        pg_sql_append(&sql, ")");
    }
    return read_counts(pg_load_of(base), "counting the target's rows", &sql, ret_count, 1, err);
}

const struct load_preview_primitives pg_load_preview_primitives = {
    .ready = ready,
    .creates_target = creates_target,
    .staged_rows = staged_rows,
    .matched_rows = matched_rows,
    .target_rows = target_rows,
};
