/*
 * postgres/load/describe.c - what the PostgreSQL catalog says about a table:
 * store_ops.table_describe, and the fuller description a load needs (the
 * relation's oid and kind, its schema-qualified name, and the type to
 * cast staged text to).
 *
 * Where a table may be: a spec's "table" is looked up, by its exact name,
 * in the target schemas only (the target-schemas setting in its order, or
 * the connection's current_schema() when that is empty), and
 * "schema.table" only when schema is one of them. Never along search_path:
 * it always includes pg_catalog (and pg_temp), and the connection string
 * can change it, so "pg_description" once resolved to
 * pg_catalog.pg_description. Catalog schemas can never be target schemas.
 */
#include "store/postgres/load/internal.h"

#include "core/timeutil.h"

#include <stdbool.h>

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
    free(d->table_sql);
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
 * STMT_DESCRIBE): the relation named $2 (a table, partitioned or foreign)
 * in the first of the schemas $1 (text[]) that has one, as its oid, kind
 * and schema, with one row per column in attnum order, or one row with
 * NULL column fields when it has none; no row when there is no such
 * relation. Columns: oid, relkind, schema, name, declared type, not null,
 * has a default (or identity), in the primary key, the pg_catalog base
 * type name (NULL for others; a domain as its base type), the type to
 * cast staged text to. Catalogs are named pg_catalog.* so that a table of
 * the same name earlier in search_path cannot stand in for them. Caller
 * frees; NULL on OOM. (select_list is unused: the statement describes no
 * job.)
 */
char *pg_describe_sql(const char *select_list)
{
    (void)select_list;
    return strdup("SELECT c.oid::text, c.relkind, c.nspname, col.*"
                  " FROM (SELECT r.oid, r.relkind, n.nspname FROM pg_catalog.pg_class r"
                  " JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace"
                  " WHERE r.relname = $2 AND n.nspname = ANY ($1::text[])"
                  " AND r.relkind IN ('r', 'p', 'f')"
                  " ORDER BY pg_catalog.array_position($1::text[], n.nspname::text) LIMIT 1) c"
                  " LEFT JOIN LATERAL ("
                  "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) AS declared,"
                  " a.attnotnull, a.atthasdef OR a.attidentity <> '' AS has_default,"
                  " coalesce(a.attnum = ANY (i.indkey), false) AS primary_key,"
                  " CASE WHEN bt.typnamespace = 'pg_catalog'::regnamespace THEN bt.typname END AS base,"
                  " pg_catalog.format_type(a.atttypid, NULL) AS cast_type, a.attnum"
                  " FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
                  " JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd'"
                  " THEN t.typbasetype ELSE t.oid END"
                  " LEFT JOIN pg_catalog.pg_index i ON i.indrelid = a.attrelid AND i.indisprimary"
                  " WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) col ON true"
                  " ORDER BY col.attnum");
}

/* Column numbers of STMT_DESCRIBE's result. */
enum { DESC_OID, DESC_RELKIND, DESC_SCHEMA, DESC_NAME, DESC_TYPE, DESC_NOT_NULL, DESC_DEFAULT,
       DESC_KEY, DESC_BASE, DESC_CAST };

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

/* ------------------------------------------------------------------ */
/* Where a table may be                                                */
/* ------------------------------------------------------------------ */

/*
 * known_target_schemas - make ps's target schemas known: the setting, or
 * else the connection's current_schema(), looked up once. A
 * current_schema() that is NULL (no schema of search_path exists) or a
 * catalog (search_path=pg_catalog in the connection string) is
 * IQ_E_INVALID, and asked again next time.
 */
static int known_target_schemas(struct pg_store *ps, struct iq_error *err)
{
    if (ps->target_schemas_known)
        return 0;
    PGresult *res = NULL;
    int rc = pg_exec(ps, "looking up the connection's schema", "SELECT pg_catalog.current_schema()",
                     0, NULL, &res, err);
    if (rc < 0)
        return rc;
    const char *schema = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);
    if (!schema)
        rc = iq_error_set(err, IQ_E_INVALID,
                          "no schema to import into: no schema of the connection's search_path"
                          " exists (set target-schemas)");
    else if (!identifier_is_valid(schema) || schema_name_refusal(schema))
        rc = iq_error_set(err, IQ_E_INVALID,
                          "no schema to import into: the connection's first search_path schema"
                          " \"%s\" can never hold import targets (set target-schemas)",
                          schema);
    if (rc == 0) {
        snprintf(ps->target_schemas.names[0], sizeof(ps->target_schemas.names[0]), "%s", schema);
        ps->target_schemas.count = 1;
        ps->target_schemas_known = true;
    }
    PQclear(res);
    return rc;
}

/* Where one table name of a spec is looked for. */
struct lookup {
    struct table_name name;
    /* STMT_DESCRIBE's $1: the schemas to search, in order, as a text[] literal */
    char schemas[TARGET_SCHEMAS_MAX * (IDENTIFIER_MAX_LEN + 3) + 3];
    const char *create_schema; /* where a missing table is created (borrowed) */
};

/*
 * schemas_join - "open name1 sep name2 ... close" of schemas into buf.
 * Schema names are identifiers: no quote or backslash needs escaping.
 */
static void schemas_join(const struct target_schemas *schemas, const char *open, const char *sep,
                         const char *close, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "%s", open);
    for (size_t i = 0; i < schemas->count && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? sep : "", schemas->names[i]);
    if (used < size)
        snprintf(buf + used, size - used, "%s", close);
}

/*
 * lookup_of - where table (a spec's name) may be: IQ_E_INVALID when it
 * can never be written (store_target_name) or names a schema that is not
 * a target schema.
 */
static int lookup_of(struct pg_store *ps, const char *table, struct lookup *ret,
                     struct iq_error *err)
{
    int rc = store_target_name(table, true, &ret->name, err);
    if (rc == 0)
        rc = known_target_schemas(ps, err);
    if (rc < 0)
        return rc;
    const struct target_schemas *allowed = &ps->target_schemas;
    if (!ret->name.schema[0]) {
        schemas_join(allowed, "{\"", "\",\"", "\"}", ret->schemas, sizeof(ret->schemas));
        ret->create_schema = allowed->names[0];
        return 0;
    }
    if (!target_schemas_contain(allowed, ret->name.schema)) {
        char list[sizeof(ret->schemas)];
        schemas_join(allowed, "", ", ", "", list, sizeof(list));
        return iq_error_set(err, IQ_E_INVALID,
                            "table \"%s\": schema \"%s\" is not a target schema (target-schemas:"
                            " %s)",
                            table, ret->name.schema, list);
    }
    snprintf(ret->schemas, sizeof(ret->schemas), "{\"%s\"}", ret->name.schema);
    ret->create_schema = ret->name.schema;
    return 0;
}

/* qualified_sql - "schema"."table" (caller frees), NULL on OOM. */
static char *qualified_sql(struct pg_store *ps, const char *schema, const char *table)
{
    char *quoted_schema = pg_quote_ident(ps, schema), *quoted_table = pg_quote_ident(ps, table);
    char *text = NULL;
    if (quoted_schema && quoted_table && asprintf(&text, "%s.%s", quoted_schema, quoted_table) < 0)
        text = NULL;
    free(quoted_schema);
    free(quoted_table);
    return text;
}

/* ------------------------------------------------------------------ */
/* Reading the description                                             */
/* ------------------------------------------------------------------ */

/* fill_described - STMT_DESCRIBE's rows for the table of lookup into *d. */
static int fill_described(struct pg_store *ps, const PGresult *res, const struct lookup *lookup,
                          struct pg_described *d, struct iq_error *err)
{
    size_t rows = (size_t)PQntuples(res);
    const char *schema = rows ? PQgetvalue(res, 0, DESC_SCHEMA) : lookup->create_schema;
    d->table_sql = qualified_sql(ps, schema, lookup->name.table);
    if (!d->table_sql)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
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

/*
 * describe - table's relation and columns into *d, looked up where lookup
 * says; *ret_res: the statement's result.
 */
static int describe(struct pg_store *ps, const struct lookup *lookup, struct pg_described *d,
                    PGresult **ret_res, struct iq_error *err)
{
    const char *values[2] = {lookup->schemas, lookup->name.table};
    int rc = pg_exec_prepared(ps, "describing a table", STMT_DESCRIBE, values, ret_res, err);
    return rc < 0 ? rc : fill_described(ps, *ret_res, lookup, d, err);
}

/*
 * pg_describe - table's relation and columns into *d (pg_described_clear
 * it, also on failure), in one round trip, or none when the job's
 * table_describe just asked (take_handoff).
 */
int pg_describe(struct pg_store *ps, const char *table, struct pg_described *d,
                struct iq_error *err)
{
    memset(d, 0, sizeof(*d));
    struct lookup lookup;
    int rc = lookup_of(ps, table, &lookup, err);
    if (rc < 0) {
        pg_describe_handoff_clear(ps);
        return rc;
    }
    PGresult *res = take_handoff(ps, table);
    if (res)
        rc = fill_described(ps, res, &lookup, d, err);
    else
        rc = describe(ps, &lookup, d, &res, err);
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
 * as found in the target schemas (pg_describe); types map to the closest
 * importq type (int2/int4 integer, int8 bigint, float4/float8 real,
 * json/jsonb json, ..., anything else text; a domain maps as its base
 * type).
 */
int pg_table_describe(struct store *s, const char *table, struct table_info *ret_info,
                      struct iq_error *err)
{
    memset(ret_info, 0, sizeof(*ret_info));
    if (!table)
        return iq_error_set(err, IQ_E_INVALID, "no table name");
    struct pg_store *ps = pg_store_of(s);
    pg_describe_handoff_clear(ps);
    struct pg_described d = {0};
    struct lookup lookup;
    PGresult *res = NULL;
    int rc = lookup_of(ps, table, &lookup, err);
    if (rc == 0)
        rc = describe(ps, &lookup, &d, &res, err);
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
