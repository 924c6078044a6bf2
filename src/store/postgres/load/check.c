/*
 * postgres/load/check.c - the set-wise checks of a staged PostgreSQL load
 * (load_check): each check is one DELETE ... RETURNING on a staging table,
 * so every bad row is dropped and reported in the same statement, in
 * arrival order. Results stream in single-row mode: memory stays bounded
 * however many rows are rejected.
 *
 * Per part, in this order (a row is reported once, by the first check it
 * fails):
 *   1. NULL key values (insert, upsert, replace; a key can never be NULL)
 *   2. references: a non-NULL value must exist in ref_table.ref_column (a
 *      reference to the part's own table also accepts a value staged in
 *      the same file; under replace only those, as the old rows go)
 *   3. duplicate keys in the file: the first occurrence stays, later ones
 *      are rejected naming its line (insert, upsert, replace). An upsert
 *      with ON CONFLICT DO UPDATE tries the upsert itself first, under a
 *      savepoint (upsert_early): the statement refuses a key twice, so
 *      when it goes through there was no duplicate and the part is
 *      promoted already; when it fails it is rolled back and the check
 *      runs as for the other modes, so rejects stay the same
 *   4. insert mode: keys that already exist in the target
 * Values are compared as the target's types (staged text cast), so "1.0"
 * and "1.00" are one numeric key. Then, when part 0 lost rows, child rows
 * whose parent row is gone (same line and, when given, the same parent
 * key) are dropped and counted, not reported: their parent's reject says
 * why.
 */
#include "store/postgres/load/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One load_check run. */
struct check_run {
    struct pg_load *pl;
    struct pg_load_part *p; /* the part being checked */
    load_reject_cb reject_cb;
    void *ctx;
    int64_t rejected; /* rows reported so far */
    int stop_rc;      /* the callback's code when it stopped the load, else 0 */
};

/* How a check turns one returned row into a reject. */
typedef int (*reject_row_fn)(struct check_run *run, const PGresult *res);

/* ------------------------------------------------------------------ */
/* Reporting                                                           */
/* ------------------------------------------------------------------ */

/* report - hand one reject to the callback; remembers a stop. */
static int report(struct check_run *run, int64_t line, const char *column, const char *value,
                  const char *message)
{
    run->rejected++;
    if (!run->reject_cb || run->stop_rc)
        return 0;
    struct load_reject reject = {
        .part = run->p->index, .line = line, .column = column, .value = value, .message = message};
    int rc = run->reject_cb(&reject, run->ctx);
    if (rc < 0)
        run->stop_rc = rc;
    return 0;
}

/* value_of - column c of the single row of res, NULL for SQL NULL. */
static const char *value_of(const PGresult *res, int c)
{
    return PQgetisnull(res, 0, c) ? NULL : PQgetvalue(res, 0, c);
}

/* The row a key's values come from: res, from column first on. */
struct key_row {
    const PGresult *res;
    int first;
};

static const char *key_value_cb(size_t i, void *ctx)
{
    const struct key_row *row = ctx;
    return value_of(row->res, row->first + (int)i);
}

/* append_key - "(a, b)=(1, x)" (store_key_text): the key's values from res column first on. */
static void append_key(struct sql_text *text, const struct load_part *spec, const PGresult *res,
                       int first)
{
    char *key = store_key_text(spec, key_value_cb, &(struct key_row){res, first});
    pg_sql_append(text, "%s", key ? key : "(?)");
    free(key);
}

/* report_key - a reject about the whole key: column and value only for a one-column key. */
static int report_key(struct check_run *run, const PGresult *res, int first_key,
                      struct sql_text *message)
{
    char *text = pg_sql_take(message);
    if (!text)
        return -1;
    bool single = run->p->spec->key_count == 1;
    report(run, pg_text_to_int64(value_of(res, 0)), single ? run->p->spec->key[0] : NULL,
           single ? value_of(res, first_key) : NULL, text);
    free(text);
    return 0;
}

/* Row: line, index of the NULL key column. */
static int null_key_row(struct check_run *run, const PGresult *res)
{
    const char *name = run->p->spec->key[pg_text_to_int64(value_of(res, 1))];
    char *message = NULL;
    if (asprintf(&message, "key column %s is NULL", name) < 0)
        return -1;
    report(run, pg_text_to_int64(value_of(res, 0)), name, NULL, message);
    free(message);
    return 0;
}

/* Row: line, first line, key values. */
static int duplicate_row(struct check_run *run, const PGresult *res)
{
    struct sql_text message = {0};
    pg_sql_append(&message, "duplicate key ");
    append_key(&message, run->p->spec, res, 2);
    pg_sql_append(&message, " in file, first on line %s", PQgetvalue(res, 0, 1));
    return report_key(run, res, 2, &message);
}

/* Row: line, key values. */
static int conflict_row(struct check_run *run, const PGresult *res)
{
    struct sql_text message = {0};
    pg_sql_append(&message, "key ");
    append_key(&message, run->p->spec, res, 1);
    pg_sql_append(&message, " already exists");
    return report_key(run, res, 1, &message);
}

/* Row: line, index of the reference, value. */
static int reference_row(struct check_run *run, const PGresult *res)
{
    const struct load_reference *ref =
        &run->p->spec->references[pg_text_to_int64(value_of(res, 1))];
    const char *value = value_of(res, 2);
    char *message = NULL;
    if (asprintf(&message, "no %s.%s = %s", ref->ref_table, ref->ref_column, value) < 0)
        return -1;
    report(run, pg_text_to_int64(value_of(res, 0)), ref->column, value, message);
    free(message);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Running a check                                                     */
/* ------------------------------------------------------------------ */

/*
 * stream_rejects - run sql (a DELETE ... RETURNING wrapped in a SELECT)
 * in single-row mode and hand each row to fn. Reads every result even
 * after a failure, so the connection is idle again. Returns 0, the
 * callback's stop code, or a negative error (load failed).
 */
static int stream_rejects(struct check_run *run, const char *what, struct sql_text *sql,
                          reject_row_fn fn, struct iq_error *err)
{
    struct pg_load *pl = run->pl;
    PGconn *conn = pl->ps->conn;
    char *text = pg_sql_take(sql);
    int rc = text ? 0 : iq_error_set(err, IQ_E_NOMEM, "out of memory");
    if (rc == 0 && atomic_load(&pl->ps->interrupted))
        rc = iq_error_set(err, IQ_E_CANCELLED, "%s: the load was interrupted", what);
    if (rc == 0 && !PQsendQuery(conn, text))
        rc = pg_load_error(pl, NULL, what, err);
    free(text);
    if (rc < 0) {
        pl->failed = true;
        return rc;
    }
    PQsetSingleRowMode(conn);
    PGresult *res;
    while ((res = PQgetResult(conn)) != NULL) {
        ExecStatusType status = PQresultStatus(res);
        if (status == PGRES_SINGLE_TUPLE && rc == 0 && fn(run, res) < 0)
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
        else if (status != PGRES_SINGLE_TUPLE && status != PGRES_TUPLES_OK && rc == 0)
            rc = pg_load_error(pl, res, what, err);
        PQclear(res);
    }
    if (rc == 0 && run->stop_rc)
        rc = iq_error_set(err, run->stop_rc, "%s: stopped by the reject callback", what);
    if (rc < 0)
        pl->failed = true;
    return rc;
}

/* append_raw_key - ", s.v_k0 AS k0, ..." (the staged text, for messages). */
static void append_raw_key(struct sql_text *sql, const struct pg_load_part *p)
{
    for (size_t i = 0; i < p->spec->key_count; i++)
        pg_sql_append(sql, ", s.v%d AS k%zu", p->key_columns[i], i);
}

/* append_key_aliases - ", <table>.k0, <table>.k1, ..." */
static void append_key_aliases(struct sql_text *sql, const struct pg_load_part *p,
                               const char *table)
{
    for (size_t i = 0; i < p->spec->key_count; i++)
        pg_sql_append(sql, ", %s.k%zu", table, i);
}

/* check_null_keys - 1. rows with a NULL in any key column. */
static int check_null_keys(struct check_run *run, struct iq_error *err)
{
    const struct pg_load_part *p = run->p;
    struct sql_text sql = {0};
    pg_sql_append(&sql, "WITH del AS (DELETE FROM %s s WHERE false", p->stage_sql);
    for (size_t i = 0; i < p->spec->key_count; i++)
        pg_sql_append(&sql, " OR s.v%d IS NULL", p->key_columns[i]);
    pg_sql_append(&sql, " RETURNING s.n, s.line, CASE");
    for (size_t i = 0; i < p->spec->key_count; i++)
        pg_sql_append(&sql, " WHEN s.v%d IS NULL THEN %zu", p->key_columns[i], i);
    pg_sql_append(&sql, " END AS k) SELECT line, k FROM del ORDER BY n");
    return stream_rejects(run, "checking for NULL keys", &sql, null_key_row, err);
}

/* append_reference_test - the NOT EXISTS conditions of one reference. */
static void append_reference_test(struct sql_text *sql, const struct pg_load_part *p,
                                  const struct pg_load_reference *ref, bool replace)
{
    bool staged = ref->staged_column >= 0;
    if (!(staged && replace))
        pg_sql_append(sql, " AND NOT EXISTS (SELECT 1 FROM %s r WHERE r.%s = s.v%d::%s)",
                      ref->table_sql, ref->column_sql, ref->column, ref->cast_type);
    if (staged)
        pg_sql_append(sql, " AND NOT EXISTS (SELECT 1 FROM %s s2 WHERE s2.v%d = s.v%d)",
                      p->stage_sql, ref->staged_column, ref->column);
}

/* check_references - 2. one DELETE per reference of the part. */
static int check_references(struct check_run *run, struct iq_error *err)
{
    const struct pg_load_part *p = run->p;
    bool replace = run->pl->base.plan->mode == TARGET_REPLACE;
    for (size_t i = 0; i < p->spec->reference_count; i++) {
        const struct pg_load_reference *ref = &p->references[i];
        struct sql_text sql = {0};
        pg_sql_append(&sql, "WITH del AS (DELETE FROM %s s WHERE s.v%d IS NOT NULL", p->stage_sql,
                      ref->column);
        append_reference_test(&sql, p, ref, replace);
        pg_sql_append(&sql,
                      " RETURNING s.n, s.line, s.v%d AS v) SELECT line, %zu, v FROM del"
                      " ORDER BY n",
                      ref->column, i);
        int rc = stream_rejects(run, "checking references", &sql, reference_row, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* check_duplicates - 3. keys seen earlier in the file. */
static int check_duplicates(struct check_run *run, struct iq_error *err)
{
    const struct pg_load_part *p = run->p;
    struct sql_text sql = {0};
    pg_sql_append(&sql, "WITH dup AS (SELECT ");
    for (size_t i = 0; i < p->spec->key_count; i++) {
        int c = p->key_columns[i];
        pg_load_cast(&sql, &p->columns[c], "s", c);
        pg_sql_append(&sql, " AS d%zu, ", i);
    }
    pg_sql_append(&sql, "min(s.n) AS first_n FROM %s s GROUP BY ", p->stage_sql);
    for (size_t i = 0; i < p->spec->key_count; i++)
        pg_sql_append(&sql, "%s%zu", i ? ", " : "", i + 1);
    pg_sql_append(&sql, " HAVING count(*) > 1), del AS (DELETE FROM %s s USING dup d WHERE",
                  p->stage_sql);
    for (size_t i = 0; i < p->spec->key_count; i++) {
        int c = p->key_columns[i];
        pg_sql_append(&sql, " ");
        pg_load_cast(&sql, &p->columns[c], "s", c);
        pg_sql_append(&sql, " = d.d%zu AND", i);
    }
    pg_sql_append(&sql, " s.n > d.first_n RETURNING s.n, s.line, d.first_n");
    append_raw_key(&sql, p);
    pg_sql_append(&sql, ") SELECT del.line, f.line");
    append_key_aliases(&sql, p, "del");
    pg_sql_append(&sql, " FROM del JOIN %s f ON f.n = del.first_n ORDER BY del.n", p->stage_sql);
    return stream_rejects(run, "checking for duplicate keys", &sql, duplicate_row, err);
}

/* check_conflicts - 4. insert mode: keys the target already has. */
static int check_conflicts(struct check_run *run, struct iq_error *err)
{
    const struct pg_load_part *p = run->p;
    struct sql_text sql = {0};
    pg_sql_append(&sql, "WITH del AS (DELETE FROM %s s WHERE EXISTS (SELECT 1 FROM %s t WHERE",
                  p->stage_sql, p->table_sql);
    for (size_t i = 0; i < p->spec->key_count; i++) {
        int c = p->key_columns[i];
        pg_sql_append(&sql, "%s t.%s = ", i ? " AND" : "", p->columns[c].name_sql);
        pg_load_cast(&sql, &p->columns[c], "s", c);
    }
    pg_sql_append(&sql, ") RETURNING s.n, s.line");
    append_raw_key(&sql, p);
    pg_sql_append(&sql, ") SELECT del.line");
    append_key_aliases(&sql, p, "del");
    pg_sql_append(&sql, " FROM del ORDER BY del.n");
    return stream_rejects(run, "checking for existing keys", &sql, conflict_row, err);
}

/*
 * error_is_the_rows - whether the failure of an early upsert may come from
 * its rows (a duplicate key, or a row check 3 would have left out), so
 * that today's path is worth taking: not a cancel, a lost connection, a
 * lock or deadlock timeout, or the server's own trouble (those classes).
 */
static bool error_is_the_rows(const struct pg_load *pl, int rc)
{
    static const char *const not_the_rows[] = {"08", "40", "53", "55", "57", "58", "XX"};
    const char *state = pl->ps->sqlstate;
    if (rc == IQ_E_CANCELLED || atomic_load(&pl->ps->interrupted) ||
        PQstatus(pl->ps->conn) != CONNECTION_OK || strlen(state) != 5)
        return false;
    for (size_t i = 0; i < sizeof(not_the_rows) / sizeof(not_the_rows[0]); i++)
        if (strncmp(state, not_the_rows[i], 2) == 0)
            return false;
    return true;
}

/*
 * upsert_early - in place of check 3, a DO UPDATE part's upsert itself,
 * under a savepoint: ON CONFLICT DO UPDATE refuses a key twice in one
 * statement (SQLSTATE 21000, cardinality_violation), so a statement that
 * goes through and writes every staged row (staged) proves the file had
 * no duplicate key, and the GROUP BY of check 3 is not needed (rows
 * with a NULL key are left out of it, so that they count as not written
 * when check 1 has not run yet). When it
 * fails because of its rows (error_is_the_rows), or writes fewer rows than
 * staged (a trigger skipped some: then a duplicate could hide), it is
 * rolled back to the savepoint and *ret_done stays false: the caller runs
 * check 3 and promote the upsert, exactly as without this attempt.
 * Returns 0 or a negative code (load failed).
 */
static int upsert_early(struct check_run *run, int64_t staged, bool *ret_done,
                        struct iq_error *err)
{
    struct pg_load *pl = run->pl;
    struct pg_load_part *p = run->p;
    *ret_done = false;
    int rc = pg_load_exec(pl, "upserting rows", "SAVEPOINT iq_upsert", NULL, err);
    if (rc < 0)
        return rc;
    int64_t inserted = 0, updated = 0;
    rc = pg_load_upsert(pl, p, true, &inserted, &updated, err);
    if (rc == 0 && inserted + updated == staged) {
        p->upserted = true;
        p->upserted_inserted = inserted;
        p->upserted_updated = updated;
        *ret_done = true;
        return pg_load_exec(pl, "upserting rows", "RELEASE SAVEPOINT iq_upsert", NULL, err);
    }
    if (rc < 0 && !error_is_the_rows(pl, rc))
        return rc;
    iq_error_clear(err);
    pl->failed = false;
    return pg_load_exec(pl, "upserting rows",
                        "ROLLBACK TO SAVEPOINT iq_upsert; RELEASE SAVEPOINT iq_upsert", NULL, err);
}

/*
 * may_upsert_early - whether run->p may be upserted during the checks:
 * upsert mode, ON CONFLICT DO UPDATE (DO NOTHING passes a key twice
 * silently, so check 3 stays), not a dry run (which writes nothing and
 * compares the staged rows with the target as it is), and no later part whose checks or rows
 * would see the part's table written early (a later part writing the
 * same table, or referencing it).
 */
static bool may_upsert_early(const struct check_run *run)
{
    const struct pg_load *pl = run->pl;
    const struct pg_load_part *p = run->p;
    if (pl->base.plan->mode != TARGET_UPSERT || p->spec->key_count == 0 ||
        !pg_load_upsert_updates(p) || pl->base.plan->dry_run)
        return false;
    for (size_t i = (size_t)p->index + 1; i < pl->part_count; i++) {
        const struct pg_load_part *later = &pl->parts[i];
        if (strcmp(later->table_sql, p->table_sql) == 0)
            return false;
        for (size_t r = 0; r < later->spec->reference_count; r++)
            if (strcmp(later->references[r].table_sql, p->table_sql) == 0)
                return false;
    }
    return true;
}

/*
 * check_part - the checks of run->p, as the mode asks; staged = its rows
 * still staged before them (received, less children of rejected parents).
 */
static int check_part(struct check_run *run, int64_t staged, struct iq_error *err)
{
    enum target_mode mode = run->pl->base.plan->mode;
    bool keyed = mode != TARGET_APPEND && run->p->spec->key_count > 0;
    bool early = may_upsert_early(run), upserted = false;
    /* With no references to check, the attempt comes before check 1 too:
     * it leaves NULL keys out, so writing every staged row also proves
     * that there was none (one scan of the staging table fewer). */
    if (early && run->p->spec->reference_count == 0) {
        int rc = upsert_early(run, staged, &upserted, err);
        if (rc < 0 || upserted)
            return rc;
        early = false;
    }
    int64_t rejected_before = run->rejected;
    int rc = keyed ? check_null_keys(run, err) : 0;
    if (rc == 0)
        rc = check_references(run, err);
    if (rc == 0 && early)
        rc = upsert_early(run, staged - (run->rejected - rejected_before), &upserted, err);
    if (rc == 0 && keyed && !upserted)
        rc = check_duplicates(run, err);
    if (rc == 0 && keyed && mode == TARGET_INSERT)
        rc = check_conflicts(run, err);
    return rc;
}

/*
 * drop_orphans - child rows of part p whose parent row is no longer
 * staged: none on the same line (with the same parent key, when the plan
 * names one). *ret_dropped = how many.
 */
static int drop_orphans(struct pg_load *pl, struct pg_load_part *p, int64_t *ret_dropped,
                        struct iq_error *err)
{
    struct sql_text sql = {0};
    pg_sql_append(&sql,
                  "WITH del AS (DELETE FROM %s c WHERE NOT EXISTS (SELECT 1 FROM %s p"
                  " WHERE p.line = c.line",
                  p->stage_sql, pl->parts[0].stage_sql);
    for (size_t i = 0; i < p->spec->parent_key_count; i++)
        pg_sql_append(&sql, " AND (p.v%d = c.v%d OR (p.v%d IS NULL AND c.v%d IS NULL))",
                      p->parent_columns[i], p->child_columns[i], p->parent_columns[i],
                      p->child_columns[i]);
    pg_sql_append(&sql, ") RETURNING 1) SELECT count(*) FROM del");
    PGresult *res;
    int rc = pg_load_exec_sql(pl, "dropping rows of rejected parents", &sql, &res, err);
    if (rc == 0)
        *ret_dropped = pg_text_to_int64(PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

/*
 * pg_load_check - see load_ops.check. Ends the staging COPY, then
 * runs the checks part by part (part 0 first, so its rejects can drop
 * children). A direct load has nothing to check. *ret_rejected (may be
 * NULL) = rows reported plus children dropped with their parents.
 * reject_cb may be NULL; the reject it gets is valid during the call only.
 */
int pg_load_check(struct load *load, load_reject_cb reject_cb, void *ctx, int64_t *ret_rejected,
                  struct iq_error *err)
{
    struct pg_load *pl = pg_load_of(load);
    if (ret_rejected)
        *ret_rejected = 0;
    int rc = pg_load_usable(pl, false, err);
    if (rc < 0 || pl->base.plan->direct)
        return rc;
    pl->checked = true;
    rc = pg_copy_finish(pl, NULL, err);
    struct check_run run = {.pl = pl, .reject_cb = reject_cb, .ctx = ctx};
    int64_t parents_rejected = 0, orphans = 0;
    for (size_t i = 0; rc == 0 && i < pl->part_count; i++) {
        run.p = &pl->parts[i];
        int64_t dropped = 0;
        if (i > 0 && parents_rejected > 0) {
            rc = drop_orphans(pl, run.p, &dropped, err);
            orphans += dropped;
        }
        if (rc == 0)
            rc = check_part(&run, run.p->rows - dropped, err);
        if (i == 0)
            parents_rejected = run.rejected;
    }
    if (ret_rejected)
        *ret_rejected = run.rejected + orphans;
    return rc;
}
