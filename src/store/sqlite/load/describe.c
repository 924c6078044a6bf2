/*
 * sqlite/load/describe.c - what SQLite says a table looks like, in
 * importq's terms: table_describe (PRAGMA table_xinfo, declared types
 * mapped to enum column_type), and the load's table checks: a target
 * exists or is created from the plan (CREATE TABLE), and holds every
 * column the load writes. Not here: moving rows (sqlite/load/load.c).
 */
#include "store/sqlite/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* contains - case-insensitive substring test (declared types are ASCII). */
static bool contains(const char *text, const char *word)
{
    return strcasestr(text, word) != NULL;
}

/*
 * column_type_of_declared - the importq type closest to a declared type.
 * SQLite's affinity rules come first (INT -> integer; CHAR, CLOB, TEXT ->
 * text; BLOB or none -> text; REAL, FLOA, DOUB -> real), and the names in
 * the remaining NUMERIC-affinity group are told apart; unknown ones are
 * text.
 */
static enum column_type column_type_of_declared(const char *declared)
{
    if (contains(declared, "INT"))
        return contains(declared, "BIGINT") || contains(declared, "INT8") ||
                       contains(declared, "BIG INT")
                   ? COLUMN_BIGINT
                   : COLUMN_INTEGER;
    if (contains(declared, "CHAR") || contains(declared, "CLOB") || contains(declared, "TEXT") ||
        contains(declared, "BLOB") || declared[0] == '\0')
        return COLUMN_TEXT;
    if (contains(declared, "REAL") || contains(declared, "FLOA") || contains(declared, "DOUB"))
        return COLUMN_REAL;
    if (contains(declared, "BOOL"))
        return COLUMN_BOOLEAN;
    if (contains(declared, "TIMESTAMPTZ") || contains(declared, "WITH TIME ZONE"))
        return COLUMN_TIMESTAMPTZ;
    if (contains(declared, "TIMESTAMP") || contains(declared, "DATETIME"))
        return COLUMN_TIMESTAMP;
    if (contains(declared, "DATE"))
        return COLUMN_DATE;
    if (contains(declared, "UUID"))
        return COLUMN_UUID;
    if (contains(declared, "JSON"))
        return COLUMN_JSON;
    if (contains(declared, "NUMERIC") || contains(declared, "DECIMAL"))
        return COLUMN_NUMERIC;
    return COLUMN_TEXT;
}

/* append_column - one row of pragma_table_xinfo into info. */
static int append_column(struct table_info *info, sqlite3_stmt *stmt, struct iq_error *err)
{
    const char *name = (const char *)sqlite3_column_text(stmt, 0);
    const char *declared = (const char *)sqlite3_column_text(stmt, 1);
    struct table_column *grown =
        realloc(info->columns, (info->column_count + 1) * sizeof(*info->columns));
    if (!grown)
        return nomem(err);
    info->columns = grown;
    struct table_column *column = &info->columns[info->column_count];
    *column = (struct table_column){
        .name = strdup(name ? name : ""),
        .declared_type = strdup(declared ? declared : ""),
        .not_null = sqlite3_column_int(stmt, 2) != 0,
        .has_default = sqlite3_column_type(stmt, 3) != SQLITE_NULL,
        .primary_key = sqlite3_column_int(stmt, 4) > 0,
    };
    info->column_count++;
    if (!column->name || !column->declared_type)
        return nomem(err);
    column->type = column_type_of_declared(column->declared_type);
    return 0;
}

/*
 * sqlite_table_describe - see store_ops.table_describe. Columns of the
 * table in the main schema (a TEMP table of the same name is not looked
 * at, and every statement of a load names main."table"), in declaration
 * order; a qualified name ("temp.x", "main.x"), a catalog
 * (sqlite_master ...) or a service table is IQ_E_INVALID (store_target_name).
 * Every table a load writes or reads is described here first, so this is
 * where SQLite refuses them; generated and hidden columns are left out,
 * as nothing can be loaded into them. An INTEGER PRIMARY KEY (the rowid)
 * reports not_null false, as SQLite assigns it when NULL.
 */
int sqlite_table_describe(struct store *base, const char *table, struct table_info *ret_info,
                          struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    memset(ret_info, 0, sizeof(*ret_info));
    struct table_name name;
    if (store_target_name(table, false, &name, err) < 0)
        return IQ_E_INVALID;
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_TABLE_COLUMNS, err);
    if (!stmt)
        return IQ_E_DB;
    int rc = sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC) == SQLITE_OK
                 ? 0
                 : sqlite_db_error(s, "describe table", err);
    int step;
    while (rc == 0 && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        ret_info->exists = true;
        if (sqlite3_column_int(stmt, 5) == 0)
            rc = append_column(ret_info, stmt, err);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = sqlite_load_error(s, step, "describe table", err);
    stmt_release(stmt);
    if (rc < 0)
        table_info_clear(ret_info);
    return rc;
}

/* ------------------------------------------------------------------------
 * Load targets
 * ------------------------------------------------------------------------ */

/* declared_type - the type a created table declares for an importq type. */
static const char *declared_type(enum column_type type)
{
    switch (type) {
    case COLUMN_INTEGER:
        return "INTEGER";
    case COLUMN_BIGINT:
        return "BIGINT";
    case COLUMN_NUMERIC:
        return "NUMERIC";
    case COLUMN_REAL:
        return "REAL";
    case COLUMN_BOOLEAN:
        return "BOOLEAN";
    case COLUMN_DATE:
        return "DATE";
    case COLUMN_TIMESTAMP:
        return "TIMESTAMP";
    case COLUMN_TIMESTAMPTZ:
        return "TIMESTAMPTZ";
    case COLUMN_UUID:
        return "UUID";
    case COLUMN_JSON:
        return "JSON";
    default:
        return "TEXT";
    }
}

/*
 * create_table_sql - CREATE TABLE for part: its written columns with
 * their types, PRIMARY KEY (key) when it has one. bigint is declared
 * BIGINT (same INTEGER affinity) so that table_describe gives bigint back;
 * a sole integer key, declared exactly INTEGER, becomes the rowid.
 * sqlite3_free the result; NULL on OOM.
 */
static char *create_table_sql(const struct sqlite_load_part *part)
{
    const struct load_part *spec = part->spec;
    sqlite3_str *sql = sqlite3_str_new(NULL);
    sqlite3_str_appendf(sql, "CREATE TABLE IF NOT EXISTS main.\"%w\" (", spec->table);
    for (size_t i = 0; i < part->column_count; i++) {
        const struct load_column *column = &part->columns[i];
        sqlite3_str_appendf(sql, "%s\"%w\" %s", i ? ", " : "", column->name,
                            declared_type(column->type));
    }
    if (spec->key_count > 0) {
        sqlite3_str_appendall(sql, ", PRIMARY KEY (");
        for (size_t i = 0; i < spec->key_count; i++)
            sqlite3_str_appendf(sql, "%s\"%w\"", i ? ", " : "", spec->key[i]);
        sqlite3_str_appendall(sql, ")");
    }
    sqlite3_str_appendall(sql, ")");
    return sqlite_sql_finish(sql);
}

/* has_column - whether info has a column called name (SQLite: case-insensitive). */
static bool has_column(const struct table_info *info, const char *name)
{
    for (size_t i = 0; i < info->column_count; i++)
        if (strcasecmp(info->columns[i].name, name) == 0)
            return true;
    return false;
}

/*
 * check_columns - IQ_E_INVALID naming the first written column of part
 * that info lacks.
 */
static int check_columns(const struct sqlite_load_part *part, const struct table_info *info,
                         struct iq_error *err)
{
    for (size_t i = 0; i < part->column_count; i++)
        if (!has_column(info, part->columns[i].name))
            return iq_error_set(err, IQ_E_INVALID, "column \"%s\" is not in table \"%s\"",
                                part->columns[i].name, part->spec->table);
    return 0;
}

/* pk_is_key - whether the table's primary key is exactly the part's key. */
static bool pk_is_key(const struct load_part *spec, const struct table_info *info)
{
    size_t pk_columns = 0;
    for (size_t i = 0; i < info->column_count; i++) {
        if (!info->columns[i].primary_key)
            continue;
        pk_columns++;
        bool in_key = false;
        for (size_t k = 0; k < spec->key_count; k++)
            in_key = in_key || strcasecmp(spec->key[k], info->columns[i].name) == 0;
        if (!in_key)
            return false;
    }
    return pk_columns == spec->key_count;
}

/* unique_index_sql - count of full unique indexes on exactly the key's columns. */
static char *unique_index_sql(const struct load_part *spec)
{
    sqlite3_str *sql = sqlite3_str_new(NULL);
    sqlite3_str_appendf(sql,
                        "SELECT count(*) FROM (SELECT il.name FROM pragma_index_list(%Q, 'main') il"
                        " JOIN pragma_index_info(il.name, 'main') ii"
                        " WHERE il.\"unique\" AND NOT il.partial GROUP BY il.name"
                        " HAVING count(*) = %d AND sum(ii.name COLLATE NOCASE IN (",
                        spec->table, (int)spec->key_count);
    for (size_t k = 0; k < spec->key_count; k++)
        sqlite3_str_appendf(sql, "%s%Q", k ? ", " : "", spec->key[k]);
    sqlite3_str_appendf(sql, ")) = %d)", (int)spec->key_count);
    return sqlite_sql_finish(sql);
}

/*
 * check_upsert_key - upsert: ON CONFLICT (key) needs the key to be the
 * primary key or a unique index exactly, else IQ_E_INVALID before any row
 * is loaded.
 */
static int check_upsert_key(struct sqlite_load *load, const struct sqlite_load_part *part,
                            const struct table_info *info, struct iq_error *err)
{
    const struct load_part *spec = part->spec;
    if (load->base.plan->mode != TARGET_UPSERT || spec->key_count == 0 || pk_is_key(spec, info))
        return 0;
    char *sql = unique_index_sql(spec);
    if (!sql)
        return nomem(err);
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(load->s->db, sql, -1, &stmt, NULL);
    sqlite3_free(sql);
    int64_t count = 0;
    rc = rc == SQLITE_OK
             ? sqlite_read_int64(load->s, stmt, "find the upsert key's index", &count, err)
             : sqlite_load_error(load->s, rc, "find the upsert key's index", err);
    sqlite3_finalize(stmt);
    if (rc == 0 && count == 0)
        rc = iq_error_set(err, IQ_E_INVALID,
                          "upsert key of table \"%s\" has no unique index or constraint",
                          spec->table);
    return rc;
}

/* check_shape - the table has every written column, and an index for an upsert's key. */
static int check_shape(struct sqlite_load *load, const struct sqlite_load_part *part,
                       const struct table_info *info, struct iq_error *err)
{
    int rc = check_columns(part, info, err);
    return rc < 0 ? rc : check_upsert_key(load, part, info, err);
}

/*
 * schema_cookie - main's schema_version, which SQLite changes with every
 * change to the schema (a table created, altered, dropped, an index ...).
 */
static int schema_cookie(struct sqlite_store *s, int64_t *ret_cookie, struct iq_error *err)
{
    return sqlite_read_cached_int64(s, STMT_SCHEMA_COOKIE, "read the schema version", ret_cookie,
                                    err);
}

/*
 * sqlite_load_check_table - see sqlite/internal.h. Reads the schema
 * only; in staged mode the caller holds no transaction.
 */
int sqlite_load_check_table(struct sqlite_load *load, struct sqlite_load_part *part,
                            struct iq_error *err)
{
    struct table_info info;
    part->shape_checked = false;
    int rc = schema_cookie(load->s, &part->checked_cookie, err);
    if (rc == 0)
        rc = sqlite_table_describe(&load->s->base, part->spec->table, &info, err);
    if (rc < 0)
        return rc;
    part->create = !info.exists;
    if (!info.exists && !load->base.plan->create_target)
        rc = iq_error_set(err, IQ_E_INVALID, "target table \"%s\" does not exist",
                          part->spec->table);
    else if (info.exists)
        rc = check_shape(load, part, &info, err);
    part->shape_checked = rc == 0 && info.exists;
    table_info_clear(&info);
    return rc;
}

/*
 * check_reference_target - IQ_E_INVALID when ref's table or column exists
 * neither in the database nor among the tables this load writes.
 */
static int check_reference_target(struct sqlite_load *load, const struct load_reference *ref,
                                  struct iq_error *err)
{
    for (size_t j = 0; j < load->part_count; j++)
        if (strcasecmp(load->parts[j].spec->table, ref->ref_table) == 0 &&
            sqlite_load_find_column(&load->parts[j], ref->ref_column))
            return 0;
    struct table_info info;
    int rc = sqlite_table_describe(&load->s->base, ref->ref_table, &info, err);
    if (rc < 0)
        return rc;
    bool found = false;
    for (size_t i = 0; i < info.column_count; i++)
        found = found || strcasecmp(info.columns[i].name, ref->ref_column) == 0;
    if (!info.exists)
        rc = iq_error_set(err, IQ_E_INVALID, "referenced table \"%s\" does not exist",
                          ref->ref_table);
    else if (!found)
        rc = iq_error_set(err, IQ_E_INVALID, "referenced column \"%s.%s\" does not exist",
                          ref->ref_table, ref->ref_column);
    table_info_clear(&info);
    return rc;
}

/* sqlite_load_check_references - see sqlite/internal.h. */
int sqlite_load_check_references(struct sqlite_load *load, struct iq_error *err)
{
    for (size_t i = 0; i < load->part_count; i++) {
        const struct load_part *spec = load->parts[i].spec;
        for (size_t r = 0; r < spec->reference_count; r++) {
            int rc = check_reference_target(load, &spec->references[r], err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* prepare_target - create part's table when it was missing, then check its columns. */
static int prepare_target(struct sqlite_load *load, struct sqlite_load_part *part,
                          struct iq_error *err)
{
    if (part->create) {
        int rc = sqlite_exec_sql(load->s, create_table_sql(part), "create target table", err);
        if (rc < 0)
            return rc;
    }
    /*
     * Checked again under the write lock when the table may have changed
     * since load_begin: unless the schema cookie is still the one read
     * before that check (then nothing in the schema changed; the cookie
     * costs a header read where describing cost a tenth of the write
     * lock's time per one-row job).
     */
    int64_t cookie = 0;
    int rc = part->shape_checked ? schema_cookie(load->s, &cookie, err) : 0;
    if (rc < 0 || (part->shape_checked && cookie == part->checked_cookie))
        return rc;
    struct table_info info;
    rc = sqlite_table_describe(&load->s->base, part->spec->table, &info, err);
    if (rc == 0 && !info.exists)
        rc = iq_error_set(err, IQ_E_INVALID, "target table \"%s\" does not exist",
                          part->spec->table);
    if (rc == 0)
        rc = check_shape(load, part, &info, err);
    table_info_clear(&info);
    return rc;
}

/* sqlite_load_prepare_targets - see sqlite/internal.h. Idempotent. */
int sqlite_load_prepare_targets(struct sqlite_load *load, struct iq_error *err)
{
    if (load->targets_ready)
        return 0;
    for (size_t i = 0; i < load->part_count; i++) {
        int rc = prepare_target(load, &load->parts[i], err);
        if (rc < 0)
            return rc;
    }
    load->targets_ready = true;
    return 0;
}
