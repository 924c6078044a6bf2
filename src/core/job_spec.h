/*
 * job_spec.h - the job spec (docs/job-spec.md): its parsed form and the
 * validator that turns a JSON body into it, collecting every error with its
 * field path. Pure domain: no file system access (source.path is checked
 * lexically here; util/path.c resolves symlinks against the import root).
 */
#ifndef IMPORTQ_CORE_JOB_SPEC_H
#define IMPORTQ_CORE_JOB_SPEC_H

#include "core/error.h"
#include "core/job.h"
#include "core/job_spec_limits.h" /* SPEC_MAX_*: every user-sized part is bounded */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COLUMN_TYPES(X)          \
    X(TEXT, "text")              \
    X(INTEGER, "integer")        \
    X(BIGINT, "bigint")          \
    X(NUMERIC, "numeric")        \
    X(REAL, "real")              \
    X(BOOLEAN, "boolean")        \
    X(DATE, "date")              \
    X(TIMESTAMP, "timestamp")    \
    X(TIMESTAMPTZ, "timestamptz") \
    X(UUID, "uuid")              \
    X(JSON, "json")

enum column_type {
#define COLUMN_TYPE_ENUM(name, text) COLUMN_##name,
    COLUMN_TYPES(COLUMN_TYPE_ENUM)
#undef COLUMN_TYPE_ENUM
    COLUMN_TYPE_COUNT
};

const char *column_type_name(enum column_type type);
int column_type_parse(const char *text, enum column_type *ret_type);

enum source_format { SOURCE_CSV, SOURCE_NDJSON, SOURCE_JSON };
enum target_mode { TARGET_INSERT, TARGET_UPSERT, TARGET_APPEND, TARGET_REPLACE };
enum error_action { ON_ERROR_ABORT, ON_ERROR_SKIP };

const char *source_format_name(enum source_format format);
const char *target_mode_name(enum target_mode mode);
const char *error_action_name(enum error_action action);

/* The character encodings a CSV source may be in; the reader turns each into UTF-8. */
enum source_encoding { ENCODING_UTF8, ENCODING_LATIN1, ENCODING_WINDOWS_1252 };

/* source_encoding_name - "utf-8", "latin1" or "windows-1252" (static text). */
const char *source_encoding_name(enum source_encoding encoding);

struct csv_options {
    char delimiter;      /* default ',' */
    char quote;          /* default '"' */
    bool header;         /* default true */
    char *null_marker;   /* default "" : an empty field is NULL */
    int64_t skip_rows;   /* lines skipped before the header, default 0 */
    enum source_encoding encoding; /* default UTF-8 */
    char **columns;                /* names for the columns (renaming the header's, or
                                      naming a headerless file's); NULL = the header's,
                                      or c1..cN */
    size_t column_count;
};

struct source_spec {
    enum source_format format;
    char *path;          /* relative to the import root; NULL when upload is set */
    char *upload;        /* upload id; NULL when path is set */
    struct csv_options csv;
    char *json_records;  /* JSON pointer to the record array ("" = top level) */
};

/*
 * One target column. Optional checks are flagged by has_* or NULL.
 * from: CSV header name, or a JSON pointer ("/a/b") for JSON sources;
 * defaults to the column's name.
 */
struct column_spec {
    char *name;
    enum column_type type;
    char *from;
    bool required;
    int64_t max_length;          /* characters; -1 = no limit */
    char *pattern;               /* POSIX ERE, compiled-checked by the parser; NULL = none */
    bool has_min;
    double min;
    bool has_max;
    double max;
    char **enum_values;          /* allowed values as text; NULL = any */
    size_t enum_count;
    char *references_table;      /* "teams" or "crm.teams" of "[crm.]teams.team_id"; NULL: none */
    char *references_column;
};

/* A nested JSON array fanned out into its own table (target.children). */
struct child_spec {
    char *table;
    char *from;                  /* JSON pointer to the array inside each record */
    char **parent_key_child;     /* child column ... */
    char **parent_key_parent;    /* ... filled from this parent column */
    size_t parent_key_count;
    char **key;
    size_t key_count;
    struct column_spec *columns;
    size_t column_count;
};

struct target_spec {
    char *database;              /* named target database; NULL = the service's own */
    char *table;
    enum target_mode mode;       /* default insert */
    char **key;                  /* required for upsert */
    size_t key_count;
    bool create;                 /* create the table from columns when missing */
    bool ignore_extra;           /* without columns: a source column the table lacks
                                    is skipped, not an error */
    bool dry_run;                /* read, check and count what would change;
                                    write nothing (pipeline/import.h) */
    struct column_spec *columns; /* may be empty: use the existing table's columns */
    size_t column_count;
    struct child_spec *children;
    size_t child_count;
};

struct on_error_spec {
    enum error_action action;    /* default abort */
    int64_t max_rejects;         /* default 0 */
};

/* Defaults the parser fills in (from the configuration). */
struct job_spec_defaults {
    int max_attempts;            /* 3 */
    int64_t timeout_s;           /* 1800 */
};

/*
 * struct job_spec - a validated spec. Everything is owned and freed by
 * job_spec_free(). source_json/target_json/on_error_json are the normalised
 * JSON forms (defaults filled in) that the store persists and job_to_json
 * shows; the typed structs are what the pipeline uses.
 */
struct job_spec {
    char *name;                  /* "" when not given */
    int priority;
    char **depends_on;           /* validated UUIDs, deduplicated */
    size_t depends_on_count;
    int64_t scheduled_at_ms;     /* 0 = now */
    bool hold;
    char *request_id;            /* NULL when none */
    int max_attempts;
    int64_t timeout_s;
    /* Locks: table:<target.table> and table:<child.table> exclusive first,
     * then the spec's own resources (a duplicate name keeps the stronger mode). */
    struct job_resource *resources;
    size_t resource_count;
    struct source_spec source;
    struct target_spec target;
    struct on_error_spec on_error;
    json_t *source_json;
    json_t *target_json;
    json_t *on_error_json;
};

/*
 * job_spec_parse - validate body (a JSON object) against docs/job-spec.md.
 * Every problem is added to err as a field error with its path
 * ("target.columns[2].type": "unknown type \"strng\""); unknown fields are
 * errors. Returns 0 and a new spec in *ret_spec (caller frees with
 * job_spec_free), or IQ_E_INVALID with err filled and *ret_spec NULL
 * (IQ_E_NOMEM when memory runs out). defaults may be NULL: 3 attempts,
 * 1800 s. err may be NULL.
 */
int job_spec_parse(json_t *body, const struct job_spec_defaults *defaults,
                   struct job_spec **ret_spec, struct iq_error *err);

/*
 * job_spec_parse_target - parse and validate only a target object (used by
 * `importq import` flags and by updates). Field paths are prefixed with
 * "target". Returns 0 or IQ_E_INVALID; the caller frees with target_spec_clear.
 */
int job_spec_parse_target(json_t *target, enum source_format format,
                          struct target_spec *ret_target, json_t **ret_normalised,
                          struct iq_error *err);

/* job_spec_free - NULL-safe. */
void job_spec_free(struct job_spec *spec);

/* target_spec_clear - free the members of a target_spec and zero it. */
void target_spec_clear(struct target_spec *target);

/*
 * job_spec_json_from_job - the spec back as a JSON body that job_spec_parse
 * accepts (used to apply a PUT on top of a stored job). New reference.
 */
json_t *job_spec_json_from_job(const struct job *job);

/* identifier_is_valid - ^[A-Za-z_][A-Za-z0-9_]{0,62}$ */
bool identifier_is_valid(const char *name);

/*
 * identifier_is_reserved - the service's own tables (stg_import_*,
 * stg_scheduled_imports, importq_*), compared case-insensitively.
 */
bool identifier_is_reserved(const char *name);

/*
 * identifier_is_catalog - a name of the database's own catalogs: pg_*
 * (pg_catalog, pg_toast*, pg_temp*, pg_class ...), sqlite_* and
 * information_schema, compared case-insensitively. Such names are never a
 * target table nor a schema targets live in.
 */
bool identifier_is_catalog(const char *name);

/* A table as a spec names it: "table", or "schema.table" (PostgreSQL). */
struct table_name {
    char schema[IDENTIFIER_MAX_LEN + 1]; /* "" when not qualified */
    char table[IDENTIFIER_MAX_LEN + 1];
};

/*
 * table_name_parse - text as "table" or "schema.table", each part an SQL
 * identifier, into *ret_name. Returns false (and *ret_name empty) when text
 * is neither.
 */
bool table_name_parse(const char *text, struct table_name *ret_name);

/*
 * table_name_refusal - why name can never be an import target (or a child
 * or references table), as the end of a sentence ("is one of the
 * database's catalogs"), or NULL when it may be one. Refused: the service's
 * own tables, catalog names (identifier_is_catalog) as the table, and a
 * catalog schema (schema_name_refusal) as the schema. Static text.
 */
const char *table_name_refusal(const struct table_name *name);

/* table_name_bare - the table of "schema.table" (a pointer into text), else text itself. */
const char *table_name_bare(const char *text);

/* schema_name_refusal - why schema can never hold targets (a catalog), or NULL. Static text. */
const char *schema_name_refusal(const char *schema);

/* At most this many schemas in the target-schemas setting. */
#define TARGET_SCHEMAS_MAX 16

/* The schemas import targets may resolve in (the target-schemas setting). */
struct target_schemas {
    char names[TARGET_SCHEMAS_MAX][IDENTIFIER_MAX_LEN + 1];
    size_t count; /* 0: the connection's first search_path schema */
};

/*
 * target_schemas_parse - the target-schemas setting: a comma list of at
 * most TARGET_SCHEMAS_MAX distinct schema names (identifiers, spaces around
 * commas allowed, none refused by schema_name_refusal); NULL or "" is the
 * empty list. Returns 0 or IQ_E_INVALID with the reason in err.
 */
int target_schemas_parse(const char *text, struct target_schemas *ret_schemas,
                         struct iq_error *err);

/* target_schemas_contain - whether schema is one of schemas' names (exact, as SQL quotes it). */
bool target_schemas_contain(const struct target_schemas *schemas, const char *schema);

/*
 * spec_path_is_safe - lexical check of a source path: relative, no NUL, no
 * component "..", no backslash, not empty, at most SPEC_MAX_PATH_LEN bytes.
 */
bool spec_path_is_safe(const char *path);

#endif
