/*
 * postgres/load/swap.c - a replace of one table on PostgreSQL by a
 * shadow table: the rows are COPYed WITH (FREEZE) into a fresh, index-less
 * copy of the target created in the load's transaction (a direct load's
 * from the file, a staged load's, once checked, from its staging table
 * through the client: postgres/load/freeze.c), its indexes and
 * constraints are built after the rows, and at load_commit, after the
 * fence and the job's finish, the copy takes the target's place under a
 * short ACCESS EXCLUSIVE lock (DROP the old table, rename the copy and
 * its indexes to the old names). Readers keep reading the old table until
 * then and are never queued behind the swap for long: the lock is asked
 * for with a short lock_timeout and retried (PG_SWAP_LOCK_*).
 *
 * Only rows COPYed WITH (FREEZE) may be swapped in. A statement that
 * waited for the swap's lock can run on a snapshot taken before the swap
 * committed (a prepared statement's EXECUTE in READ COMMITTED does, as
 * does any statement of a REPEATABLE READ transaction): on the new table
 * it sees only the rows visible to that snapshot. Frozen rows are visible
 * to every snapshot, so it sees the new rows; rows written by an INSERT
 * in the load's transaction are not, so it would see an empty table. A
 * staged replace therefore fills its shadow by COPY FREEZE too, never by
 * INSERT ... SELECT from staging (freeze.c). Measured on PostgreSQL 15: a plan prepared
 * before the swap, executed while the swap held the lock, counted 0 rows
 * after an INSERT-filled swap and all the new rows after a FREEZE-filled
 * one (tests/store/test_replace.c pins the REPEATABLE READ case).
 *
 * Not for every table: pg_swap_begin_direct and pg_swap_staged return 0 (nothing done)
 * when the table is not a plain table, is partitioned or inherits, has
 * triggers, rules, row security, a non-default replica identity,
 * publications, extended statistics, column privileges, a foreign key or
 * a view (or anything else) that depends on it, is used as a row type,
 * or belongs to an extension, or when we may not own it; nor for a load
 * with children (promote.c replaces those in place). A direct load then
 * empties the target by DELETE and COPYs into it, as it does when
 * building the shadow's indexes fails for any reason but a cancel (the
 * rows then go from the shadow into the target, whose error is the
 * load's) and as the commit does when the lock stays out of reach. A
 * staged load replaces in place from staging (DELETE + INSERT), as it
 * does when any step of filling or indexing the shadow fails for another
 * reason than a cancel or its temporary file: everything since its
 * savepoint is rolled back, and the in-place INSERT's error, if any, is
 * the load's, as before the swap.
 *
 * Carried to the shadow: columns, defaults, NOT NULL and CHECK
 * constraints, generated and identity columns (the identity sequence's
 * position, its name), storage, compression, column comments (LIKE);
 * reloptions, tablespace, UNLOGGED; every index and PRIMARY KEY / UNIQUE
 * / EXCLUDE constraint with its name and comment; foreign keys from the
 * table (validated on the new rows); the table's comment, owner and
 * privileges; sequences owned by its columns (serial) move to the shadow
 * with their values. Not carried: per-column statistics targets and
 * options, index tablespaces of plain indexes, CLUSTER marks, security
 * labels, the planner statistics (autovacuum analyzes the new table).
 *
 * Nothing here outlives the transaction: the shadow is created in it and
 * is gone with a ROLLBACK (or a killed client); its name,
 * iq_shadow_<old oid>, says what it was for.
 */
#include "store/postgres/load/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* lock_timeout of one try for the swap's ACCESS EXCLUSIVE lock. */
#define PG_SWAP_LOCK_TIMEOUT_MS 50
/* Tries before the commit gives up on the swap (and replaces by DELETE + INSERT). */
#define PG_SWAP_LOCK_ATTEMPTS 40
/* Pause between two tries, so that the readers queued behind one get through. */
#define PG_SWAP_LOCK_PAUSE "0.05"

#define PG_SQLSTATE_LOCK_NOT_AVAILABLE "55P03"

/*
 * Why a table cannot be swapped (NULL: it can), for the table $1 (its
 * quoted name). Also returns its oid.
 */
static const char swap_refusal_sql[] =
    "SELECT c.oid, CASE"
    " WHEN c.relkind <> 'r' THEN 'not a plain table'"
    " WHEN c.relispartition OR c.relhassubclass OR EXISTS (SELECT 1 FROM pg_catalog.pg_inherits"
    "  WHERE inhrelid = c.oid OR inhparent = c.oid) THEN 'inheritance or partitions'"
    " WHEN c.reloftype <> 0 THEN 'a typed table'"
    " WHEN c.relrowsecurity OR c.relforcerowsecurity OR EXISTS (SELECT 1"
    "  FROM pg_catalog.pg_policy WHERE polrelid = c.oid) THEN 'row security'"
    " WHEN c.relreplident <> 'd' THEN 'a replica identity'"
    " WHEN NOT pg_catalog.pg_has_role(c.relowner, 'USAGE') THEN 'not its owner'"
    " WHEN NOT pg_catalog.has_schema_privilege(c.relnamespace, 'CREATE') THEN 'no CREATE on its schema'"
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = c.oid AND NOT tgisinternal)"
    "  THEN 'triggers'"
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE confrelid = c.oid AND contype = 'f')"
    "  THEN 'foreign keys to it'"
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite WHERE ev_class = c.oid) THEN 'rules'"
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel WHERE prrelid = c.oid)"
    "  THEN 'publications'"
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_statistic_ext WHERE stxrelid = c.oid)"
    "  THEN 'extended statistics'"
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = c.oid AND attnum > 0"
    "  AND attacl IS NOT NULL) THEN 'column privileges'"
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_index WHERE indrelid = c.oid AND"
    "  (NOT indisvalid OR NOT indisready)) THEN 'an invalid index'"
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic"
    "  ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid AND ic.reltablespace <> 0)"
    "  THEN 'an index in its own tablespace'"
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_class t WHERE t.oid = c.reltoastrelid"
    "  AND t.reloptions IS NOT NULL) THEN 'TOAST options'"
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_class'::regclass"
    "  AND d.objid = c.oid AND d.deptype = 'e') THEN 'an extension member'"
    /* Anything that depends on the table (views, functions, other tables'
     * constraints) other than its own constraints, indexes, defaults and
     * generation expressions, sequences and type; or on its row type,
     * other than its array type. */
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.refclassid = 'pg_class'::regclass"
    "  AND d.refobjid = c.oid AND d.deptype = 'n' AND NOT (d.classid = 'pg_constraint'::regclass"
    "  AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.oid = d.objid"
    "  AND k.conrelid = c.oid)) AND NOT (d.classid = 'pg_attrdef'::regclass"
    "  AND EXISTS (SELECT 1 FROM pg_catalog.pg_attrdef a WHERE a.oid = d.objid"
    "  AND a.adrelid = c.oid))) THEN 'objects that depend on it'"
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.refclassid = 'pg_type'::regclass"
    "  AND d.refobjid = c.reltype AND d.deptype <> 'i') THEN 'its row type is in use'"
    " WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_depend s JOIN pg_catalog.pg_depend o"
    "  ON o.refclassid = 'pg_class'::regclass AND o.refobjid = s.objid AND o.deptype = 'n'"
    "  WHERE s.classid = 'pg_class'::regclass AND s.refobjid = c.oid AND s.deptype = 'i'"
    "  AND s.refclassid = 'pg_class'::regclass) THEN 'its identity sequence is in use'"
    " END FROM pg_catalog.pg_class c WHERE c.oid = $1::regclass";

/*
 * The shadow's CREATE for the table $1 (oid), named $2 in the table's
 * schema: LIKE without indexes, the same persistence, options and
 * tablespace.
 */
static const char shadow_create_sql[] =
    "SELECT format('CREATE %sTABLE %I.%I (LIKE %I.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
    " INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS"
    " INCLUDING COMPRESSION)%s%s',"
    " CASE c.relpersistence WHEN 'u' THEN 'UNLOGGED ' ELSE '' END, n.nspname, $2::text,"
    " n.nspname, c.relname,"
    " CASE WHEN c.reloptions IS NOT NULL THEN ' WITH (' || array_to_string(c.reloptions, ', ')"
    " || ')' ELSE '' END,"
    " CASE WHEN c.reltablespace <> 0 THEN ' TABLESPACE ' || quote_ident(t.spcname) ELSE '' END)"
    " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_catalog.pg_tablespace t ON t.oid = c.reltablespace WHERE c.oid = $1::oid";

/*
 * The statements that finish the shadow $2 of table $1 once its rows are
 * in, in order: indexes and index-backed constraints (under temporary
 * names $2_<n>), their comments, foreign keys from the table (same names),
 * the table's comment, owner and privileges, and serial sequences moved
 * to the shadow's columns. A plain index's definition is the old one's
 * after "ON <table> " (the statement is left out, and the swap refused,
 * should the text ever not start as expected).
 */
static const char shadow_finish_sql[] =
    "WITH t AS (SELECT c.oid, c.relname, n.nspname, c.relowner, c.relacl,"
    "  format('%I.%I', n.nspname, $2::text) AS q FROM pg_catalog.pg_class c"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid),"
    " idx AS (SELECT row_number() OVER (ORDER BY i.indexrelid) AS n, i.indexrelid, i.indisunique,"
    "  ic.relname, k.oid AS con, pg_catalog.pg_get_indexdef(i.indexrelid) AS def"
    "  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
    "  LEFT JOIN pg_catalog.pg_constraint k ON k.conindid = i.indexrelid"
    "  AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')"
    "  WHERE i.indrelid = $1::oid),"
    " idx2 AS (SELECT idx.*, $2::text || '_' || idx.n AS tmp,"
    "  format('CREATE %sINDEX %I ON %I.%I ', CASE WHEN idx.indisunique THEN 'UNIQUE ' ELSE '' END,"
    "  idx.relname, t.nspname, t.relname) AS prefix FROM idx, t),"
    " shadow AS (SELECT c.relacl, c.relowner FROM pg_catalog.pg_class c, t"
    "  WHERE c.oid = pg_catalog.to_regclass(t.q)),"
    " wanted AS (SELECT a.grantee, a.is_grantable, string_agg(a.privilege_type, ', ') AS privs"
    "  FROM t, aclexplode(coalesce(t.relacl, acldefault('r', t.relowner))) a"
    "  GROUP BY a.grantee, a.is_grantable)"
    " SELECT stmt FROM ("
    " SELECT 1 AS step, idx2.n AS sub, CASE WHEN idx2.con IS NOT NULL"
    "  THEN format('ALTER TABLE %s ADD CONSTRAINT %I %s', t.q, idx2.tmp,"
    "  pg_catalog.pg_get_constraintdef(idx2.con))"
    "  WHEN left(idx2.def, length(idx2.prefix)) = idx2.prefix"
    "  THEN format('CREATE %sINDEX %I ON %s %s', CASE WHEN idx2.indisunique THEN 'UNIQUE '"
    "  ELSE '' END, idx2.tmp, t.q, substr(idx2.def, length(idx2.prefix) + 1)) END AS stmt"
    "  FROM idx2, t"
    " UNION ALL SELECT 2, idx2.n, format('COMMENT ON INDEX %I.%I IS %L', t.nspname, idx2.tmp, d)"
    "  FROM idx2, t, obj_description(idx2.indexrelid, 'pg_class') d WHERE d IS NOT NULL"
    " UNION ALL SELECT 3, idx2.n, format('COMMENT ON CONSTRAINT %I ON %s IS %L', idx2.tmp, t.q, d)"
    "  FROM idx2, t, obj_description(idx2.con, 'pg_constraint') d WHERE d IS NOT NULL"
    " UNION ALL SELECT 4, k.oid::bigint, format('ALTER TABLE %s ADD CONSTRAINT %I %s', t.q, k.conname,"
    "  pg_catalog.pg_get_constraintdef(k.oid)) FROM pg_catalog.pg_constraint k, t"
    "  WHERE k.conrelid = t.oid AND k.contype = 'f'"
    " UNION ALL SELECT 5, k.oid::bigint, format('COMMENT ON CONSTRAINT %I ON %s IS %L', k.conname, t.q, d)"
    "  FROM pg_catalog.pg_constraint k, t, obj_description(k.oid, 'pg_constraint') d"
    "  WHERE k.conrelid = t.oid AND k.contype = 'f' AND d IS NOT NULL"
    " UNION ALL SELECT 6, 0::bigint, format('COMMENT ON TABLE %s IS %L', t.q, d)"
    "  FROM t, obj_description(t.oid, 'pg_class') d WHERE d IS NOT NULL"
    " UNION ALL SELECT 7, 0, format('ALTER TABLE %s OWNER TO %I', t.q,"
    "  pg_catalog.pg_get_userbyid(t.relowner)) FROM t, shadow WHERE shadow.relowner <> t.relowner"
    " UNION ALL SELECT 8, 0, format('REVOKE ALL ON %s FROM PUBLIC, %I%s', t.q,"
    "  pg_catalog.pg_get_userbyid(t.relowner), (SELECT string_agg(', ' || quote_ident(r.rolname), '')"
    "  FROM aclexplode(shadow.relacl) a JOIN pg_catalog.pg_roles r ON r.oid = a.grantee"
    "  WHERE a.grantee <> shadow.relowner))"
    "  FROM t, shadow WHERE t.relacl IS NOT NULL OR shadow.relacl IS NOT NULL"
    " UNION ALL SELECT 9, 0, format('GRANT %s ON %s TO %s%s', w.privs, t.q,"
    "  CASE WHEN w.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(w.grantee))"
    "  END, CASE WHEN w.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)"
    "  FROM t, shadow, wanted w WHERE t.relacl IS NOT NULL OR shadow.relacl IS NOT NULL"
    " UNION ALL SELECT 10, d.objid::bigint, format('ALTER SEQUENCE %I.%I OWNED BY %s.%I', sn.nspname,"
    "  s.relname, t.q, a.attname) FROM t JOIN pg_catalog.pg_depend d"
    "  ON d.refclassid = 'pg_class'::regclass AND d.refobjid = t.oid AND d.deptype = 'a'"
    "  AND d.classid = 'pg_class'::regclass"
    "  JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
    "  JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace"
    "  JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid"
    " ) x ORDER BY step, sub";

/*
 * The identity columns of table $1 and its shadow $2: each old identity
 * sequence, its schema, the column and the shadow's fresh sequence.
 */
#define SHADOW_IDENTITY_CTE                                                                  \
    "WITH t AS (SELECT c.oid, c.relname, n.nspname, format('%I.%I', n.nspname, $2::text) AS q" \
    "  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"    \
    "  WHERE c.oid = $1::oid),"                                                                \
    " ident AS (SELECT s.relname, sn.nspname, a.attname,"                                       \
    "  pg_catalog.pg_get_serial_sequence(t.q, a.attname) AS fresh"                              \
    "  FROM t JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_class'::regclass"               \
    "  AND d.refobjid = t.oid AND d.deptype = 'i' AND d.classid = 'pg_class'::regclass"         \
    "  JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'"                       \
    "  JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace"                              \
    "  JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid)"

/*
 * The shadow's identity sequences at the old ones' positions, before any
 * row goes in (a row without the column takes its next value, as it
 * would have from the old table's). NULL when there are none.
 */
static const char shadow_identity_sql[] =
    SHADOW_IDENTITY_CTE
    " SELECT string_agg(format('SELECT pg_catalog.setval(%L, s.last_value, s.is_called)"
    " FROM %I.%I s', ident.fresh, ident.nspname, ident.relname), '; ') FROM ident";

/*
 * The swap of the shadow $2 for table $1, as one script run under the
 * lock: the old table goes, the shadow's indexes, identity sequences and
 * the shadow itself take the old names.
 */
static const char swap_script_sql[] =
    SHADOW_IDENTITY_CTE ","
    " idx AS (SELECT row_number() OVER (ORDER BY i.indexrelid) AS n, ic.relname"
    "  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
    "  WHERE i.indrelid = $1::oid)"
    " SELECT string_agg(stmt, E';\\n' ORDER BY step, sub) FROM ("
    " SELECT 2 AS step, ''::text AS sub, format('DROP TABLE %I.%I', t.nspname, t.relname) AS stmt"
    "  FROM t"
    " UNION ALL SELECT 3, lpad(idx.n::text, 10, '0'), format('ALTER INDEX %I.%I RENAME TO %I',"
    "  t.nspname, $2::text || '_' || idx.n, idx.relname) FROM idx, t"
    " UNION ALL SELECT 4, ident.attname::text, format('ALTER SEQUENCE %s RENAME TO %I',"
    "  ident.fresh, ident.relname) FROM ident"
    " UNION ALL SELECT 5, '', format('ALTER TABLE %s RENAME TO %I', t.q, t.relname) FROM t"
    " ) x";

/* ------------------------------------------------------------------ */
/* Statements                                                          */
/* ------------------------------------------------------------------ */

/* swap_query - pg_load_exec with text parameters. Returns 0 or pg_load_error's code. */
static int swap_query(struct pg_load *pl, const char *what, const char *sql, int count,
                      const char *const *values, PGresult **ret_res, struct iq_error *err)
{
    *ret_res = NULL;
    if (atomic_load(&pl->ps->interrupted)) {
        pl->failed = true;
        return iq_error_set(err, IQ_E_CANCELLED, "%s: the load was interrupted", what);
    }
    PGresult *res = PQexecParams(pl->ps->conn, sql, count, NULL, values, NULL, NULL, 0);
    if (!pg_result_ok(res)) {
        int rc = pg_load_error(pl, res, what, err);
        PQclear(res);
        return rc;
    }
    *ret_res = res;
    return 0;
}

/*
 * recover - after a failed statement: ROLLBACK TO the savepoint, so the
 * transaction goes on without what followed it. Returns 0 when the load
 * may go on (the earlier error cleared), else the code to fail with: the
 * earlier one when it was a cancel, or the rollback's own.
 */
static int recover(struct pg_load *pl, const char *savepoint, int rc, struct iq_error *err)
{
    if (rc == IQ_E_CANCELLED || atomic_load(&pl->ps->interrupted))
        return rc;
    char sql[96];
    snprintf(sql, sizeof(sql), "ROLLBACK TO SAVEPOINT %s; RELEASE SAVEPOINT %s", savepoint,
             savepoint);
    PGresult *res = PQexec(pl->ps->conn, sql);
    bool ok = pg_result_ok(res);
    PQclear(res);
    if (!ok)
        return rc;
    iq_error_clear(err);
    pl->failed = false;
    pl->ps->sqlstate[0] = '\0';
    return 0;
}

/* ------------------------------------------------------------------ */
/* Preparing the shadows (load_promote)                                */
/* ------------------------------------------------------------------ */

/*
 * part_refusal - whether part p's table can be swapped: 0 and *ret_ok, or
 * a negative code. On success p->oid is the table's current oid (a
 * replace committed since load_begin may have swapped it).
 */
static int part_refusal(struct pg_load *pl, struct pg_load_part *p, bool *ret_ok,
                        struct iq_error *err)
{
    const char *values[1] = {p->table_sql};
    PGresult *res;
    int rc = swap_query(pl, "checking whether the target can be swapped", swap_refusal_sql, 1,
                        values, &res, err);
    if (rc < 0)
        return rc;
    *ret_ok = PQntuples(res) == 1 && PQgetisnull(res, 0, 1);
    if (PQntuples(res) == 1)
        snprintf(p->oid, sizeof(p->oid), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/*
 * lock_for_swap - SHARE ROW EXCLUSIVE on part p's table until COMMIT:
 * writers wait (their rows would be lost with the old table), readers do
 * not. *ret_same is false when the table is no longer the one checked.
 */
static int lock_for_swap(struct pg_load *pl, struct pg_load_part *p, bool *ret_same,
                         struct iq_error *err)
{
    struct sql_text sql = {0};
    pg_sql_append(&sql, "LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE", p->table_sql);
    int rc = pg_load_exec_sql(pl, "locking the target against writers", &sql, NULL, err);
    if (rc < 0)
        return rc;
    const char *values[1] = {p->table_sql};
    PGresult *res;
    rc = swap_query(pl, "looking up the target", "SELECT $1::regclass::oid::text", 1, values, &res,
                    err);
    if (rc < 0)
        return rc;
    *ret_same = strcmp(PQgetvalue(res, 0, 0), p->oid) == 0;
    PQclear(res);
    return 0;
}

/* count_rows - adds the rows the target holds now to *ret_rows. */
static int count_rows(struct pg_load *pl, const struct pg_load_part *p, int64_t *ret_rows,
                      struct iq_error *err)
{
    struct sql_text sql = {0};
    pg_sql_append(&sql, "SELECT count(*) FROM %s", p->table_sql);
    PGresult *res;
    int rc = pg_load_exec_sql(pl, "counting the old rows", &sql, &res, err);
    if (rc < 0)
        return rc;
    *ret_rows += pg_text_to_int64(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/*
 * exec_generated - run the statement(s) that the catalog query sql built
 * (one row, one text; NULL: nothing to run).
 */
static int exec_generated(struct pg_load *pl, const char *what, const char *sql,
                          const char *const *values, struct iq_error *err)
{
    PGresult *res;
    int rc = swap_query(pl, what, sql, 2, values, &res, err);
    if (rc < 0)
        return rc;
    if (!PQgetisnull(res, 0, 0))
        rc = pg_load_exec(pl, what, PQgetvalue(res, 0, 0), NULL, err);
    PQclear(res);
    return rc;
}

/*
 * finish_shadow - the statements of shadow_finish_sql, one by one; a NULL
 * one (an index definition not as expected) fails with IQ_E_INTERNAL.
 */
static int finish_shadow(struct pg_load *pl, const char *const *values, struct iq_error *err)
{
    PGresult *res;
    int rc = swap_query(pl, "reading the target's indexes and constraints", shadow_finish_sql, 2,
                        values, &res, err);
    for (int row = 0; rc == 0 && row < PQntuples(res); row++) {
        if (PQgetisnull(res, row, 0))
            rc = iq_error_set(err, IQ_E_INTERNAL, "an index definition is not as expected");
        else
            rc = pg_load_exec(pl, "building the new table's indexes and constraints",
                              PQgetvalue(res, row, 0), NULL, err);
    }
    PQclear(res);
    return rc;
}

/*
 * create_shadow - part p's shadow, empty and without indexes, its identity
 * sequences at the old ones' positions; p->shadow_sql its name.
 */
static int create_shadow(struct pg_load *pl, struct pg_load_part *p, struct iq_error *err)
{
    char name[32];
    snprintf(name, sizeof(name), "iq_shadow_%s", p->oid);
    const char *values[2] = {p->oid, name};
    int rc = exec_generated(pl, "creating the new table", shadow_create_sql, values, err);
    if (rc == 0)
        rc = exec_generated(pl, "positioning the new identity sequences", shadow_identity_sql,
                            values, err);
    PGresult *res = NULL;
    if (rc == 0)
        rc = swap_query(pl, "naming the new table",
                        "SELECT format('%I.%I', n.nspname, $2::text) FROM pg_catalog.pg_class c"
                        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE c.oid = $1::oid",
                        2, values, &res, err);
    if (rc == 0) {
        p->shadow_sql = strdup(PQgetvalue(res, 0, 0));
        if (!p->shadow_sql)
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    PQclear(res);
    return rc;
}

/*
 * index_shadow - part p's shadow, once full: its indexes, constraints and
 * the rest (finish_shadow), and the script that swaps it in (p->swap_sql).
 */
static int index_shadow(struct pg_load *pl, struct pg_load_part *p, struct iq_error *err)
{
    char name[32];
    snprintf(name, sizeof(name), "iq_shadow_%s", p->oid);
    const char *values[2] = {p->oid, name};
    int rc = finish_shadow(pl, values, err);
    PGresult *res = NULL;
    if (rc == 0)
        rc = swap_query(pl, "planning the swap", swap_script_sql, 2, values, &res, err);
    if (rc == 0) {
        p->swap_sql = strdup(PQgetvalue(res, 0, 0));
        if (!p->swap_sql)
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    PQclear(res);
    return rc;
}

/* clear_swap - forget the shadows and swap scripts of every part. */
static void clear_swap(struct pg_load *pl)
{
    for (size_t i = 0; pl->parts && i < pl->part_count; i++) {
        free(pl->parts[i].swap_sql);
        free(pl->parts[i].shadow_sql);
        pl->parts[i].swap_sql = NULL;
        pl->parts[i].shadow_sql = NULL;
    }
}

/*
 * shadow_start - when part p's table can be swapped (*ret_ok), its shadow,
 * empty and without indexes (create_shadow); else nothing is done. Runs
 * under the caller's savepoint.
 */
static int shadow_start(struct pg_load *pl, struct pg_load_part *p, bool *ret_ok,
                        struct iq_error *err)
{
    *ret_ok = false;
    int rc = part_refusal(pl, p, ret_ok, err);
    return rc < 0 || !*ret_ok ? rc : create_shadow(pl, p, err);
}

/*
 * shadow_ready - part p's shadow, once full: lock the target against
 * writers (SHARE ROW EXCLUSIVE; until then they wrote beside the load,
 * into rows that go), count its rows (pl->rows_deleted), index the
 * shadow and plan the swap (index_shadow). Runs under the caller's
 * savepoint; the caller sets pl->swap once it is released.
 */
static int shadow_ready(struct pg_load *pl, struct pg_load_part *p, struct iq_error *err)
{
    bool same = false;
    int rc = lock_for_swap(pl, p, &same, err);
    if (rc == 0 && !same)
        rc = iq_error_set(err, IQ_E_INTERNAL, "the target changed");
    pl->rows_deleted = 0;
    if (rc == 0)
        rc = count_rows(pl, p, &pl->rows_deleted, err);
    return rc < 0 ? rc : index_shadow(pl, p, err);
}

/* ------------------------------------------------------------------ */
/* Direct loads: COPY straight into the shadow                         */
/* ------------------------------------------------------------------ */

static int fall_back(struct pg_load *pl, struct iq_error *err);

int pg_swap_begin_direct(struct pg_load *pl, struct iq_error *err)
{
    struct pg_load_part *p = &pl->parts[0];
    bool ok = false;
    int rc = pg_load_exec(pl, "starting the new table", "SAVEPOINT iq_shadow", NULL, err);
    if (rc == 0)
        rc = shadow_start(pl, p, &ok, err);
    if (rc == 0)
        rc = pg_load_exec(pl, "keeping the new table", "RELEASE SAVEPOINT iq_shadow", NULL, err);
    if (rc == 0 && ok)
        pl->fresh_target = true; /* created in this transaction: COPY FREEZE */
    if (rc == 0)
        return ok ? 1 : 0;
    clear_swap(pl);
    return recover(pl, "iq_shadow", rc, err);
}

int pg_swap_finish_direct(struct pg_load *pl, struct iq_error *err)
{
    struct pg_load_part *p = &pl->parts[0];
    int rc = pg_load_exec(pl, "indexing the new table", "SAVEPOINT iq_shadow", NULL, err);
    if (rc == 0)
        rc = shadow_ready(pl, p, err);
    if (rc == 0)
        rc = pg_load_exec(pl, "keeping the new table", "RELEASE SAVEPOINT iq_shadow", NULL, err);
    if (rc == 0) {
        pl->swap = true;
        return 0;
    }
    free(p->swap_sql);
    p->swap_sql = NULL;
    rc = recover(pl, "iq_shadow", rc, err);
    return rc < 0 ? rc : fall_back(pl, err);
}

/* ------------------------------------------------------------------ */
/* Staged loads: the checked rows through the client into the shadow   */
/* ------------------------------------------------------------------ */

int pg_swap_staged(struct pg_load *pl, struct load_result *result, struct iq_error *err)
{
    struct pg_load_part *p = &pl->parts[0];
    bool ok = false;
    int64_t inserted = 0;
    int rc = pg_load_exec(pl, "starting the new table", "SAVEPOINT iq_shadow", NULL, err);
    if (rc == 0)
        rc = shadow_start(pl, p, &ok, err);
    if (rc == 0 && ok) /* in the shadow's own subtransaction, as FREEZE needs */
        rc = pg_freeze_fill(pl, p, &inserted, err);
    if (rc == 0 && ok)
        rc = shadow_ready(pl, p, err);
    if (rc == 0)
        rc = pg_load_exec(pl, "keeping the new table", "RELEASE SAVEPOINT iq_shadow", NULL, err);
    if (rc == 0 && ok) {
        pl->swap = true;
        result->rows_inserted += inserted;
        result->rows_deleted += pl->rows_deleted;
        return 1;
    }
    if (rc == 0)
        return 0;
    clear_swap(pl);
    if (rc == IQ_E_IO || rc == IQ_E_NO_SPACE) /* the temporary file: the load's own error */
        return rc;
    return recover(pl, "iq_shadow", rc, err);
}

/* ------------------------------------------------------------------ */
/* The swap (load_commit)                                              */
/* ------------------------------------------------------------------ */

/* swap_once - one try: the lock with a short lock_timeout, then every part's swap script. */
static int swap_once(struct pg_load *pl, struct iq_error *err)
{
    struct sql_text sql = {0};
    pg_sql_append(&sql,
                  "SAVEPOINT iq_swap; SELECT pg_catalog.set_config('iq.lock_timeout',"
                  " current_setting('lock_timeout'), true);"
                  " SET LOCAL lock_timeout = '%dms'; LOCK TABLE ",
                  PG_SWAP_LOCK_TIMEOUT_MS);
    for (size_t i = 0; i < pl->part_count; i++)
        pg_sql_append(&sql, "%s%s", i ? ", " : "", pl->parts[i].table_sql);
    pg_sql_append(&sql, " IN ACCESS EXCLUSIVE MODE");
    for (size_t i = 0; i < pl->part_count; i++)
        pg_sql_append(&sql, ";\n%s", pl->parts[i].swap_sql);
    pg_sql_append(&sql, ";\nSELECT pg_catalog.set_config('lock_timeout',"
                        " current_setting('iq.lock_timeout'), true); RELEASE SAVEPOINT iq_swap");
    return pg_load_exec_sql(pl, "swapping in the new table", &sql, NULL, err);
}

/*
 * refill_from_shadow - the way back to DELETE + INSERT: the rows COPYed
 * into the shadow (directly or by pg_freeze_fill) go into the target
 * itself, the shadow goes; pl->rows_deleted is what the DELETE took.
 */
static int refill_from_shadow(struct pg_load *pl, struct iq_error *err)
{
    const struct pg_load_part *p = &pl->parts[0];
    struct sql_text sql = {0};
    pg_sql_append(&sql, "DELETE FROM %s", p->table_sql);
    PGresult *res = NULL;
    int rc = pg_load_exec_sql(pl, "deleting the old rows", &sql, &res, err);
    if (rc == 0)
        pl->rows_deleted = pg_text_to_int64(PQcmdTuples(res));
    PQclear(res);
    if (rc == 0) {
        struct sql_text columns = {0};
        for (size_t i = 0; i < p->spec->column_count; i++)
            pg_sql_append(&columns, "%s%s", i ? ", " : "", p->columns[i].name_sql);
        char *list = pg_sql_take(&columns);
        pg_sql_append(&sql, "INSERT INTO %s (%s) SELECT %s FROM %s", p->table_sql,
                      list ? list : "", list ? list : "", p->shadow_sql);
        if (!list)
            sql.failed = true;
        free(list);
        rc = pg_load_exec_sql(pl, "inserting rows", &sql, NULL, err);
    }
    if (rc == 0) {
        pg_sql_append(&sql, "DROP TABLE %s", p->shadow_sql);
        rc = pg_load_exec_sql(pl, "dropping the new table", &sql, NULL, err);
    }
    return rc;
}

/*
 * fall_back - the swap did not happen: the load's rows go from its
 * shadow into the target by DELETE + INSERT after all, and the shadow is
 * dropped. The counts are the ones promote reported: writers were kept
 * out since.
 */
static int fall_back(struct pg_load *pl, struct iq_error *err)
{
    pl->swap = false;
    return refill_from_shadow(pl, err);
}

int pg_swap_commit(struct pg_load *pl, struct iq_error *err)
{
    if (!pl->swap)
        return 0;
    for (int attempt = 0; attempt < PG_SWAP_LOCK_ATTEMPTS; attempt++) {
        int rc = swap_once(pl, err);
        if (rc == 0)
            return 0;
        bool busy = strcmp(pl->ps->sqlstate, PG_SQLSTATE_LOCK_NOT_AVAILABLE) == 0;
        rc = recover(pl, "iq_swap", rc, err);
        if (rc < 0)
            return rc;
        if (!busy)
            break;
        rc = pg_load_exec(pl, "waiting for readers", "SELECT pg_catalog.pg_sleep(" PG_SWAP_LOCK_PAUSE
                          ")", NULL, err);
        if (rc < 0)
            return rc;
    }
    return fall_back(pl, err);
}

void pg_swap_clear(struct pg_load *pl)
{
    clear_swap(pl);
    pl->swap = false;
}
