/*
 * postgres/load/promote.c - load_promote on PostgreSQL: staged rows into
 * their targets with one statement per part, or the end of a direct COPY.
 *
 * Staged text is cast to each target column's type (the type without its
 * modifier, so assignment still checks varchar lengths and numeric scales
 * instead of a cast silently truncating). Rows go in arrival order without
 * an ORDER BY (which would sort the whole file): a staging table is a TEMP
 * heap filled by one append-only COPY and read by a plain sequential scan,
 * which returns rows in physical order - temporary tables have no
 * synchronized or parallel scans and staging has no index.
 *   insert / append  INSERT ... SELECT
 *   upsert           INSERT ... ON CONFLICT (key) DO UPDATE SET every
 *                    non-key column (DO NOTHING when all columns are key);
 *                    inserted and updated rows counted from the
 *                    statement's row count and the transaction's own
 *                    statistics of the table (or, where those cannot,
 *                    from xmax: 0 for a fresh row version); a part without a key
 *                    is a plain INSERT. A DO UPDATE part usually ran
 *                    already, in load_check (postgres/load/check.c, which
 *                    says why): then only its counts are added here
 *   replace          one part: by a shadow table swapped in at commit
 *                    (pg_swap_staged, postgres/load/swap.c), when the
 *                    table allows; else, and with children, in place:
 *                    DELETE every part's table (children first), then
 *                    the INSERTs: other sessions keep reading the old
 *                    rows until COMMIT (a DELETE, not a TRUNCATE, for
 *                    that)
 * Counts add up over all parts (children included).
 */
#include "store/postgres/load/internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void pg_load_append_select(struct sql_text *sql, const struct pg_load_part *p)
{
    pg_sql_append(sql, "SELECT ");
    for (size_t i = 0; i < p->spec->column_count; i++) {
        pg_sql_append(sql, "%s", i ? ", " : "");
        pg_load_cast(sql, &p->columns[i], "s", (int)i);
    }
    pg_sql_append(sql, " FROM %s s", p->stage_sql);
}

/* append_insert - "INSERT INTO t AS t (cols) SELECT <casts> FROM stage s" (arrival order). */
static void append_insert(struct sql_text *sql, const struct pg_load_part *p)
{
    pg_sql_append(sql, "INSERT INTO %s AS t (", p->table_sql);
    for (size_t i = 0; i < p->spec->column_count; i++)
        pg_sql_append(sql, "%s%s", i ? ", " : "", p->columns[i].name_sql);
    pg_sql_append(sql, ") ");
    pg_load_append_select(sql, p);
}

static bool is_key_column(const struct pg_load_part *p, size_t column)
{
    for (size_t k = 0; k < p->spec->key_count; k++)
        if ((size_t)p->key_columns[k] == column)
            return true;
    return false;
}

bool pg_load_upsert_updates(const struct pg_load_part *p)
{
    for (size_t i = 0; i < p->spec->column_count; i++)
        if (!is_key_column(p, i))
            return true;
    return false;
}

/* append_on_conflict - " ON CONFLICT (key) DO UPDATE SET c = EXCLUDED.c, ..." or DO NOTHING. */
static void append_on_conflict(struct sql_text *sql, const struct pg_load_part *p)
{
    pg_sql_append(sql, " ON CONFLICT (");
    for (size_t k = 0; k < p->spec->key_count; k++)
        pg_sql_append(sql, "%s%s", k ? ", " : "", p->columns[p->key_columns[k]].name_sql);
    pg_sql_append(sql, ") DO ");
    bool any = false;
    for (size_t i = 0; i < p->spec->column_count; i++) {
        if (is_key_column(p, i))
            continue;
        pg_sql_append(sql, "%s%s = EXCLUDED.%s", any ? ", " : "UPDATE SET ", p->columns[i].name_sql,
                      p->columns[i].name_sql);
        any = true;
    }
    if (!any)
        pg_sql_append(sql, "NOTHING");
}

/*
 * Counting an upsert's inserted and updated rows. RETURNING (t.xmax = 0)
 * counts them exactly, but hands every row to a CTE that counts them,
 * which cost about 6% more server CPU than the upsert alone on a
 * 200k-row file. The transaction's own statistics of the table count
 * them for nothing: the statement's row count is inserted + updated, and
 * the tuples inserted into the table's partition tree, read just before
 * and just after the statement, are the inserted ones. They are exact
 * unless something else writes the tree during the statement (a user
 * trigger), counting is off (track_counts), or a foreign table is in
 * the tree: then RETURNING counts.
 *
 * tuples_inserted_sql - the tree's tuples inserted so far in this
 * transaction, or NULL when they cannot count the upsert (see above).
 * Both %s are the table's oid (digits from the catalog); the tree is
 * the table alone when it is not partitioned (pg_partition_tree is then
 * empty).
 */
static const char tuples_inserted_sql[] =
    "WITH tree AS (SELECT %s::oid::regclass AS relid"
    " UNION SELECT relid FROM pg_catalog.pg_partition_tree(%s::oid::regclass))"
    " SELECT CASE WHEN current_setting('track_counts')::boolean"
    " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g JOIN tree ON g.tgrelid = tree.relid"
    " WHERE NOT g.tgisinternal)"
    " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN tree ON c.oid = tree.relid"
    " WHERE c.relkind = 'f')"
    " THEN (SELECT sum(pg_catalog.pg_stat_get_xact_tuples_inserted(relid)) FROM tree) END";

/* tuples_inserted - tuples_inserted_sql's answer; *ret_known false for its NULL. */
static int tuples_inserted(struct pg_load *pl, const struct pg_load_part *p, bool *ret_known,
                           int64_t *ret_count, struct iq_error *err)
{
    *ret_known = false;
    *ret_count = 0;
    if (!p->oid[0] || p->relkind == 'f')
        return 0;
    struct sql_text sql = {0};
    pg_sql_append(&sql, tuples_inserted_sql, p->oid, p->oid);
    PGresult *res;
    int rc = pg_load_exec_sql(pl, "counting upserted rows", &sql, &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        *ret_known = true;
        *ret_count = pg_text_to_int64(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return 0;
}

int pg_load_upsert(struct pg_load *pl, const struct pg_load_part *p, bool skip_null_keys,
                   int64_t *ret_inserted, int64_t *ret_updated, struct iq_error *err)
{
    *ret_inserted = 0;
    *ret_updated = 0;
    bool by_statistics;
    int64_t before;
    int rc = tuples_inserted(pl, p, &by_statistics, &before, err);
    if (rc < 0)
        return rc;
    struct sql_text sql = {0};
    if (!by_statistics)
        pg_sql_append(&sql, "WITH x AS (");
    append_insert(&sql, p);
    for (size_t k = 0; skip_null_keys && k < p->spec->key_count; k++)
        pg_sql_append(&sql, " %s s.v%d IS NOT NULL", k ? "AND" : "WHERE", p->key_columns[k]);
    append_on_conflict(&sql, p);
    if (!by_statistics)
        pg_sql_append(&sql, " RETURNING (t.xmax = 0) AS inserted) SELECT"
                            " count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)"
                            " FROM x");
    PGresult *res;
    rc = pg_load_exec_sql(pl, "upserting rows", &sql, &res, err);
    if (rc < 0)
        return rc;
    if (!by_statistics) {
        *ret_inserted = pg_text_to_int64(PQgetvalue(res, 0, 0));
        *ret_updated = pg_text_to_int64(PQgetvalue(res, 0, 1));
        PQclear(res);
        return 0;
    }
    int64_t written = pg_text_to_int64(PQcmdTuples(res));
    PQclear(res);
    bool still_known;
    int64_t after;
    rc = tuples_inserted(pl, p, &still_known, &after, err);
    if (rc < 0)
        return rc;
    if (!still_known || after - before < 0 || after - before > written) {
        pl->failed = true;
        return iq_error_set(err, IQ_E_INTERNAL,
                            "counting upserted rows: %" PRId64 " written, %" PRId64
                            " inserted by the statistics",
                            written, after - before);
    }
    *ret_inserted = after - before;
    *ret_updated = written - *ret_inserted;
    return 0;
}

/* promote_upsert - part p by ON CONFLICT (unless load_check did it); adds to inserted and updated. */
static int promote_upsert(struct pg_load *pl, const struct pg_load_part *p,
                          struct load_result *result, struct iq_error *err)
{
    int64_t inserted = p->upserted_inserted, updated = p->upserted_updated;
    int rc = p->upserted ? 0 : pg_load_upsert(pl, p, false, &inserted, &updated, err);
    if (rc < 0)
        return rc;
    result->rows_inserted += inserted;
    result->rows_updated += updated;
    return 0;
}

/* promote_part - part p into its table, as the mode says. */
static int promote_part(struct pg_load *pl, const struct pg_load_part *p,
                        struct load_result *result, struct iq_error *err)
{
    if (pl->base.plan->mode == TARGET_UPSERT && p->spec->key_count > 0)
        return promote_upsert(pl, p, result, err);
    struct sql_text sql = {0};
    append_insert(&sql, p);
    PGresult *res;
    int rc = pg_load_exec_sql(pl, "inserting rows", &sql, &res, err);
    if (rc < 0)
        return rc;
    result->rows_inserted += pg_text_to_int64(PQcmdTuples(res));
    PQclear(res);
    return 0;
}

/* empty_targets - replace: DELETE every part's rows, children first. */
static int empty_targets(struct pg_load *pl, struct load_result *result, struct iq_error *err)
{
    for (size_t i = pl->part_count; i-- > 0;) {
        struct sql_text sql = {0};
        pg_sql_append(&sql, "DELETE FROM %s", pl->parts[i].table_sql);
        PGresult *res;
        int rc = pg_load_exec_sql(pl, "deleting the old rows", &sql, &res, err);
        if (rc < 0)
            return rc;
        result->rows_deleted += pg_text_to_int64(PQcmdTuples(res));
        PQclear(res);
    }
    return 0;
}

/*
 * replace_by_delete - replace in place: DELETE every part's rows
 * (children first), then INSERT the staged rows; other sessions read the
 * old rows until COMMIT. Adds to *result.
 */
static int replace_by_delete(struct pg_load *pl, struct load_result *result, struct iq_error *err)
{
    int rc = empty_targets(pl, result, err);
    for (size_t i = 0; rc == 0 && i < pl->part_count; i++)
        rc = promote_part(pl, &pl->parts[i], result, err);
    return rc;
}

/* promote_staged - the staged parts into their tables. */
static int promote_staged(struct pg_load *pl, struct load_result *result, struct iq_error *err)
{
    int rc = pg_copy_finish(pl, NULL, err);
    if (rc == 0 && pl->base.plan->mode == TARGET_REPLACE && pl->part_count == 1)
        rc = pg_swap_staged(pl, result, err); /* 1: swapped at commit */
    if (rc == 1)
        return 0;
    if (rc == 0 && pl->base.plan->mode == TARGET_REPLACE)
        return replace_by_delete(pl, result, err);
    for (size_t i = 0; rc == 0 && i < pl->part_count; i++)
        rc = promote_part(pl, &pl->parts[i], result, err);
    return rc;
}

/*
 * pg_load_promote - see load_ops.promote. Direct: ends the COPY (a
 * constraint violation fails the load here, with the server's detail) and
 * reports the rows it took. Staged: the statements above. *ret_result is
 * zeroed first and only meaningful on success.
 */
int pg_load_promote(struct load *load, struct load_result *ret_result, struct iq_error *err)
{
    struct pg_load *pl = pg_load_of(load);
    memset(ret_result, 0, sizeof(*ret_result));
    int rc = pg_load_usable(pl, false, err);
    if (rc < 0)
        return rc;
    if (pl->base.plan->direct) {
        rc = pg_copy_finish(pl, &ret_result->rows_inserted, err);
        if (rc == 0 && pl->parts[0].shadow_sql) /* a direct replace into a shadow */
            rc = pg_swap_finish_direct(pl, err);
        ret_result->rows_deleted = pl->rows_deleted;
    } else {
        rc = promote_staged(pl, ret_result, err);
    }
    if (rc < 0) {
        pl->failed = true;
        memset(ret_result, 0, sizeof(*ret_result));
        return rc;
    }
    pl->promoted = true;
    return 0;
}
