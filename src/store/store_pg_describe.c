/*
 * store_pg_describe.c - what the PostgreSQL catalog says about a table:
 * store_ops.table_describe, and the fuller description a load needs (the
 * relation's oid and kind, and the type to cast staged text to). Tables
 * are looked up in the current search_path by their exact name.
 */
#include "store/store_pg_load_internal.h"

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

/* find_relation - d->oid and d->relkind of table (a table, partitioned or foreign), "" if none. */
static int find_relation(struct pg_store *ps, const char *table, struct pg_described *d,
                         struct iq_error *err)
{
    const char *values[1] = {table};
    PGresult *res;
    int rc = pg_exec(ps, "looking up a table",
                     "SELECT c.oid::text, c.relkind FROM pg_class c"
                     " WHERE c.oid = to_regclass(quote_ident($1)) AND c.relkind IN ('r', 'p', 'f')",
                     1, values, &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) > 0) {
        snprintf(d->oid, sizeof(d->oid), "%s", PQgetvalue(res, 0, 0));
        d->relkind = PQgetvalue(res, 0, 1)[0];
    }
    PQclear(res);
    return 0;
}

/* fill_column - one catalog row into column i of d. */
static int fill_column(const PGresult *res, int row, struct pg_described *d, size_t i)
{
    struct table_column *c = &d->info.columns[i];
    c->name = strdup(PQgetvalue(res, row, 0));
    c->declared_type = strdup(PQgetvalue(res, row, 1));
    c->not_null = PQgetvalue(res, row, 2)[0] == 't';
    c->has_default = PQgetvalue(res, row, 3)[0] == 't';
    c->primary_key = PQgetvalue(res, row, 4)[0] == 't';
    c->type = column_type_of(PQgetisnull(res, row, 5) ? NULL : PQgetvalue(res, row, 5));
    d->cast_types[i] = strdup(PQgetvalue(res, row, 6));
    return c->name && c->declared_type && d->cast_types[i] ? 0 : -1;
}

/* describe_columns - the columns of relation d->oid, in attnum order. */
static int describe_columns(struct pg_store *ps, struct pg_described *d, struct iq_error *err)
{
    const char *values[1] = {d->oid};
    PGresult *res;
    int rc = pg_exec(ps, "describing a table",
                     "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
                     " a.atthasdef OR a.attidentity <> '',"
                     " coalesce(a.attnum = ANY (i.indkey), false),"
                     " CASE WHEN bt.typnamespace = 'pg_catalog'::regnamespace THEN bt.typname END,"
                     " format_type(a.atttypid, NULL)"
                     " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
                     " JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype"
                     " ELSE t.oid END"
                     " LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary"
                     " WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped"
                     " ORDER BY a.attnum",
                     1, values, &res, err);
    if (rc < 0)
        return rc;
    size_t n = (size_t)PQntuples(res);
    d->info.columns = calloc(n ? n : 1, sizeof(*d->info.columns));
    d->cast_types = calloc(n ? n : 1, sizeof(*d->cast_types));
    rc = d->info.columns && d->cast_types ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        d->info.column_count = i + 1;
        d->cast_count = i + 1;
        rc = fill_column(res, (int)i, d, i);
    }
    PQclear(res);
    return rc == 0 ? 0 : iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

/* describe - table's relation and columns into *d (pg_described_clear it, also on failure). */
int pg_describe(struct pg_store *ps, const char *table, struct pg_described *d,
                struct iq_error *err)
{
    memset(d, 0, sizeof(*d));
    int rc = find_relation(ps, table, d, err);
    if (rc < 0 || !d->oid[0])
        return rc;
    d->info.exists = true;
    return describe_columns(ps, d, err);
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
    struct pg_described d;
    int rc = pg_describe(pg_store_of(s), table, &d, err);
    if (rc == 0) {
        *ret_info = d.info;
        memset(&d.info, 0, sizeof(d.info));
    }
    pg_described_clear(&d);
    return rc;
}
