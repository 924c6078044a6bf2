/*
 * identifier.c - the lexical checks on names and paths that a job spec
 * carries: SQL identifiers, table names ("table" or "schema.table") and
 * the names no import may ever write (the service's own tables, the
 * database's catalogs), the target-schemas setting, and the source path
 * (declared in job_spec.h). Pure text checks: nothing here touches the
 * file system (util/path.c resolves a path against the import root) or
 * the database (the store resolves a table in the allowed schemas), or
 * reports field errors (the job_spec*.c parsers do that).
 */
#include "core/job_spec.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool ascii_letter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool ascii_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool identifier_is_valid(const char *name)
{
    if (!name || !(ascii_letter(name[0]) || name[0] == '_'))
        return false;
    size_t length = 1;
    for (const char *p = name + 1; *p; p++, length++) {
        if (length >= IDENTIFIER_MAX_LEN)
            return false;
        if (!ascii_letter(*p) && !ascii_digit(*p) && *p != '_')
            return false;
    }
    return true;
}

/* has_prefix - whether name starts with prefix, ignoring ASCII case. */
static bool has_prefix(const char *name, const char *prefix)
{
    return strncasecmp(name, prefix, strlen(prefix)) == 0;
}

bool identifier_is_reserved(const char *name)
{
    if (!name)
        return false;
    return has_prefix(name, "stg_import_") || strcasecmp(name, "stg_scheduled_imports") == 0 ||
           has_prefix(name, "importq_");
}

bool identifier_is_catalog(const char *name)
{
    if (!name)
        return false;
    return has_prefix(name, "pg_") || has_prefix(name, "sqlite_") ||
           strcasecmp(name, "information_schema") == 0;
}

bool table_name_parse(const char *text, struct table_name *ret_name)
{
    memset(ret_name, 0, sizeof(*ret_name));
    if (!text)
        return false;
    const char *dot = strchr(text, '.');
    const char *table = dot ? dot + 1 : text;
    size_t schema_length = dot ? (size_t)(dot - text) : 0;
    if (!identifier_is_valid(table) || schema_length > IDENTIFIER_MAX_LEN)
        return false;
    if (dot) {
        memcpy(ret_name->schema, text, schema_length);
        if (!identifier_is_valid(ret_name->schema)) {
            memset(ret_name, 0, sizeof(*ret_name));
            return false;
        }
    }
    snprintf(ret_name->table, sizeof(ret_name->table), "%s", table);
    return true;
}

const char *table_name_bare(const char *text)
{
    const char *dot = strchr(text, '.');
    return dot ? dot + 1 : text;
}

const char *schema_name_refusal(const char *schema)
{
    if (schema && identifier_is_catalog(schema))
        return "is in one of the database's catalog schemas (pg_*, information_schema)";
    return NULL;
}

const char *table_name_refusal(const struct table_name *name)
{
    if (identifier_is_reserved(name->table))
        return "is reserved for the service's own tables";
    if (identifier_is_catalog(name->table))
        return "is a name of the database's catalogs (pg_*, sqlite_*, information_schema)";
    return name->schema[0] ? schema_name_refusal(name->schema) : NULL;
}

bool target_schemas_contain(const struct target_schemas *schemas, const char *schema)
{
    for (size_t i = 0; i < schemas->count; i++)
        if (strcmp(schemas->names[i], schema) == 0)
            return true;
    return false;
}

/* schema_item_add - one trimmed item of the target-schemas list into schemas. */
static int schema_item_add(const char *item, size_t length, struct target_schemas *schemas,
                           struct iq_error *err)
{
    while (length > 0 && item[0] == ' ')
        item++, length--;
    while (length > 0 && item[length - 1] == ' ')
        length--;
    char name[IDENTIFIER_MAX_LEN + 1];
    if (length == 0 || length > IDENTIFIER_MAX_LEN)
        return iq_error_set(err, IQ_E_INVALID,
                            "target-schemas: every schema must be an SQL identifier of 1 to %d"
                            " characters",
                            IDENTIFIER_MAX_LEN);
    memcpy(name, item, length);
    name[length] = '\0';
    if (!identifier_is_valid(name))
        return iq_error_set(err, IQ_E_INVALID, "target-schemas: \"%s\" is not an SQL identifier",
                            name);
    if (schema_name_refusal(name))
        return iq_error_set(err, IQ_E_INVALID,
                            "target-schemas: \"%s\" is a catalog schema and can never hold targets",
                            name);
    if (target_schemas_contain(schemas, name))
        return iq_error_set(err, IQ_E_INVALID, "target-schemas: \"%s\" is listed twice", name);
    if (schemas->count == TARGET_SCHEMAS_MAX)
        return iq_error_set(err, IQ_E_INVALID, "target-schemas: at most %d schemas",
                            TARGET_SCHEMAS_MAX);
    memcpy(schemas->names[schemas->count++], name, length + 1);
    return 0;
}

int target_schemas_parse(const char *text, struct target_schemas *ret_schemas, struct iq_error *err)
{
    memset(ret_schemas, 0, sizeof(*ret_schemas));
    if (!text || text[strspn(text, " ")] == '\0')
        return 0;
    for (const char *item = text;;) {
        size_t length = strcspn(item, ",");
        int rc = schema_item_add(item, length, ret_schemas, err);
        if (rc < 0) {
            memset(ret_schemas, 0, sizeof(*ret_schemas));
            return rc;
        }
        if (item[length] == '\0')
            return 0;
        item += length + 1;
    }
}

/*
 * spec_path_is_safe - besides what the header says, a backslash anywhere is
 * refused: it is a separator on Windows clients and never needed here.
 */
bool spec_path_is_safe(const char *path)
{
    if (!path || !path[0] || path[0] == '/' || strlen(path) > SPEC_MAX_PATH_LEN)
        return false;
    if (strchr(path, '\\'))
        return false;
    const char *component = path;
    for (;;) {
        size_t length = strcspn(component, "/");
        if (length == 2 && component[0] == '.' && component[1] == '.')
            return false;
        if (component[length] == '\0')
            return true;
        component += length + 1;
    }
}
