/*
 * store_pg_describe.c - what the PostgreSQL catalog says about a table:
 * store_ops.table_describe, and the fuller description a load needs (the
 * relation's oid and kind, and the type to cast staged text to). Tables
 * are looked up in the current search_path by their exact name.
 */
#include "store/store_pg_load_internal.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Describing a table                                                  */
/* ------------------------------------------------------------------ */

void pg_described_clear(struct pg_described *d)
{
    for (size_t i = 0; d->cast_types && i < d->cast_count; i++)
        free(d->cast_types[i]);
    free(d->cast_types);
    table_info_clear(&d->info);
    memset(d, 0, sizeof(*d));
}

/* column_type_of - the importq type of a pg_catalog base type name (NULL: text). */
static enum column_type column_type_of(const char *typname)
{
    static const struct {
        const char *name;
        enum column_type type;
    } map[] = {
        {"int2", COLUMN_INTEGER},        {"int4", COLUMN_INTEGER},
        {"int8", COLUMN_BIGINT},         {"numeric", COLUMN_NUMERIC},
        {"float4", COLUMN_REAL},         {"float8", COLUMN_REAL},
        {"bool", COLUMN_BOOLEAN},        {"date", COLUMN_DATE},
        {"timestamp", COLUMN_TIMESTAMP}, {"timestamptz", COLUMN_TIMESTAMPTZ},
        {"uuid", COLUMN_UUID},           {"json", COLUMN_JSON},
        {"jsonb", COLUMN_JSON},
    };
    for (size_t i = 0; typname && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(typname, map[i].name) == 0)
            return map[i].type;
    return COLUMN_TEXT;
}

/*
 * pg_describe_sql - a table and its columns in one statement (prepared as
 * STMT_DESCRIBE): the relation $1 (a table, partitioned or foreign) as
 * its oid and kind, with one row per column in attnum order, or one row
 * with NULL column fields when it has none; no row when there is no such
 * relation. Columns: oid, relkind, name, declared type, not null, has a
 * default (or identity), in the primary key, the pg_catalog base type
 * name (NULL for others; a domain as its base type), the type to cast
 * staged text to. Caller frees; NULL on OOM. (select_list is unused: the
 * statement describes no job.)
 */
char *pg_describe_sql(const char *select_list)
{
    (void)select_list;
    return strdup("SELECT c.oid::text, c.relkind, col.*"
                  " FROM pg_class c LEFT JOIN LATERAL ("
                  "SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS declared, a.attnotnull,"
                  " a.atthasdef OR a.attidentity <> '' AS has_default,"
                  " coalesce(a.attnum = ANY (i.indkey), false) AS primary_key,"
                  " CASE WHEN bt.typnamespace = 'pg_catalog'::regnamespace THEN bt.typname END AS base,"
                  " format_type(a.atttypid, NULL) AS cast_type, a.attnum"
                  " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
                  " JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype"
                  " ELSE t.oid END"
                  " LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary"
                  " WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) col ON true"
                  " WHERE c.oid = to_regclass(quote_ident($1)) AND c.relkind IN ('r', 'p', 'f')"
                  " ORDER BY col.attnum");
}

/* Column numbers of STMT_DESCRIBE's result. */
enum { DESC_OID, DESC_RELKIND, DESC_NAME, DESC_TYPE, DESC_NOT_NULL, DESC_DEFAULT, DESC_KEY,
       DESC_BASE, DESC_CAST };

/* fill_column - one catalog row into column i of d. */
static int fill_column(const PGresult *res, int row, struct pg_described *d, size_t i)
{
    struct table_column *c = &d->info.columns[i];
    c->name = strdup(PQgetvalue(res, row, DESC_NAME));
    c->declared_type = strdup(PQgetvalue(res, row, DESC_TYPE));
    c->not_null = PQgetvalue(res, row, DESC_NOT_NULL)[0] == 't';
    c->has_default = PQgetvalue(res, row, DESC_DEFAULT)[0] == 't';
    c->primary_key = PQgetvalue(res, row, DESC_KEY)[0] == 't';
    c->type = column_type_of(PQgetisnull(res, row, DESC_BASE) ? NULL
                                                              : PQgetvalue(res, row, DESC_BASE));
    d->cast_types[i] = strdup(PQgetvalue(res, row, DESC_CAST));
    return c->name && c->declared_type && d->cast_types[i] ? 0 : -1;
}

/* fill_described - STMT_DESCRIBE's rows into *d. */
static int fill_described(const PGresult *res, struct pg_described *d, struct iq_error *err)
{
    size_t rows = (size_t)PQntuples(res);
    if (rows == 0)
        return 0; /* no such table */
    snprintf(d->oid, sizeof(d->oid), "%s", PQgetvalue(res, 0, DESC_OID));
    d->relkind = PQgetvalue(res, 0, DESC_RELKIND)[0];
    d->info.exists = true;
    size_t n = PQgetisnull(res, 0, DESC_NAME) ? 0 : rows;
    d->info.columns = calloc(n ? n : 1, sizeof(*d->info.columns));
    d->cast_types = calloc(n ? n : 1, sizeof(*d->cast_types));
    int rc = d->info.columns && d->cast_types ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        d->info.column_count = i + 1;
        d->cast_count = i + 1;
        rc = fill_column(res, (int)i, d, i);
    }
    return rc == 0 ? 0 : iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

void pg_describe_handoff_clear(struct pg_store *ps)
{
    PQclear(ps->described);
    ps->described = NULL;
    free(ps->described_table);
    ps->described_table = NULL;
}

/*
 * take_handoff - the kept table_describe result for table when it is
 * fresh enough (cleared either way): a job's pipeline describes its target
 * to map the columns, and its load, a moment later on the same
 * connection, uses that answer rather than asking again (one of a
 * one-row job's fifteen statements). A column dropped in between is not
 * missed: the load's COPY or INSERT then fails on it, and lands nothing.
 */
static PGresult *take_handoff(struct pg_store *ps, const char *table)
{
    PGresult *res = NULL;
    if (ps->described && strcmp(ps->described_table, table) == 0 &&
        time_monotonic_ms() - ps->described_mono_ms <= PG_DESCRIBE_HANDOFF_MS) {
        res = ps->described;
        ps->described = NULL;
    }
    pg_describe_handoff_clear(ps);
    return res;
}

/* describe - table's relation and columns into *d; *ret_res: the statement's result. */
static int describe(struct pg_store *ps, const char *table, struct pg_described *d,
                    PGresult **ret_res, struct iq_error *err)
{
    memset(d, 0, sizeof(*d));
    const char *values[1] = {table};
    int rc = pg_exec_prepared(ps, "describing a table", STMT_DESCRIBE, values, ret_res, err);
    return rc < 0 ? rc : fill_described(*ret_res, d, err);
}

/*
 * pg_describe - table's relation and columns into *d (pg_described_clear
 * it, also on failure), in one round trip, or none when the job's
 * table_describe just asked (take_handoff).
 */
int pg_describe(struct pg_store *ps, const char *table, struct pg_described *d,
                struct iq_error *err)
{
    PGresult *res = take_handoff(ps, table);
    int rc;
    if (res) {
        memset(d, 0, sizeof(*d));
        rc = fill_described(res, d, err);
    } else {
        rc = describe(ps, table, d, &res, err);
    }
    PQclear(res);
    return rc;
}

/* pg_described_column - index of the column called name, or -1. */
int pg_described_column(const struct pg_described *d, const char *name)
{
    for (size_t i = 0; i < d->info.column_count; i++)
        if (strcmp(d->info.columns[i].name, name) == 0)
            return (int)i;
    return -1;
}

/*
 * pg_table_describe - see store_ops.table_describe: the columns of table
 * as found in the current search_path; types map to the closest importq
 * type (int2/int4 integer, int8 bigint, float4/float8 real, json/jsonb
 * json, ..., anything else text; a domain maps as its base type).
 */
int pg_table_describe(struct store *s, const char *table, struct table_info *ret_info,
                      struct iq_error *err)
{
    memset(ret_info, 0, sizeof(*ret_info));
    if (!table)
        return iq_error_set(err, IQ_E_INVALID, "no table name");
    struct pg_store *ps = pg_store_of(s);
    pg_describe_handoff_clear(ps);
    struct pg_described d;
    PGresult *res = NULL;
    int rc = describe(ps, table, &d, &res, err);
    if (rc == 0) {
        *ret_info = d.info;
        memset(&d.info, 0, sizeof(d.info));
        ps->described_table = strdup(table);
        if (ps->described_table) { /* kept for the load (take_handoff) */
            ps->described = res;
            ps->described_mono_ms = time_monotonic_ms();
            res = NULL;
        }
    }
    PQclear(res);
    pg_described_clear(&d);
    return rc;
}
