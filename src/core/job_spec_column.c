/*
 * job_spec_column.c - the columns of a job spec's target (and of each
 * child table): name, type and where the value comes from ("from"), and
 * the optional checks (required, max_length, pattern, min/max, enum,
 * references), each refused where the type cannot use it. Also the column
 * type names.
 *
 * Not for applying the checks to data (the pipeline's converters do that)
 * nor for the target's own rules on keys and modes (job_spec_target.c).
 * A pattern is only compiled here to see that it is valid and within its
 * budget (core/pattern.h); the pipeline compiles it again for its load.
 */
#include "core/job_spec_internal.h"

#include "core/pattern.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const column_type_names[COLUMN_TYPE_COUNT] = {
#define COLUMN_TYPE_NAME(name, text) text,
    COLUMN_TYPES(COLUMN_TYPE_NAME)
#undef COLUMN_TYPE_NAME
};

static const char *const column_fields[] = {
    "name", "type", "from", "required", "max_length", "pattern",
    "min",  "max",  "enum", "references", NULL,
};

const char *column_type_name(enum column_type type)
{
    return (unsigned)type < COLUMN_TYPE_COUNT ? column_type_names[type] : "unknown";
}

int column_type_parse(const char *text, enum column_type *ret_type)
{
    int found = spec_name_index(text, column_type_names, COLUMN_TYPE_COUNT);
    if (found < 0)
        return IQ_E_INVALID;
    *ret_type = (enum column_type)found;
    return 0;
}

static bool format_is_json(const struct format_info *format)
{
    return format->known && format->format != SOURCE_CSV;
}

static bool type_is_numeric(enum column_type type)
{
    return type == COLUMN_INTEGER || type == COLUMN_BIGINT || type == COLUMN_NUMERIC ||
           type == COLUMN_REAL;
}

/* parse_column_from - "from", defaulting to the name ("/" + name for JSON sources). */
static void parse_column_from(struct parse_ctx *ctx, json_t *obj, const char *path,
                              const struct format_info *format, struct column_spec *column)
{
    if (format_is_json(format)) {
        spec_read_member_pointer(ctx, obj, path, "from", column->name, "/a/b", &column->from);
        return;
    }
    const char *from;
    enum member got = spec_read_string(ctx, obj, path, "from", &from);
    if (got == MEMBER_ABSENT && column->name)
        column->from = spec_strdup(ctx, column->name);
    else if (got == MEMBER_OK && !from[0])
        spec_field_error(ctx, path, "from", "must be a non-empty CSV header name");
    else if (got == MEMBER_OK && strlen(from) > SPEC_MAX_FROM_LEN)
        spec_field_error(ctx, path, "from", "must be at most %d bytes", SPEC_MAX_FROM_LEN);
    else if (got == MEMBER_OK)
        column->from = spec_strdup(ctx, from);
}

/*
 * pattern_check - compile pattern (core/pattern.c) to see that it is valid
 * and within its own budget and, added to the patterns before it, within
 * the spec's. Once the spec's budget is spent, later patterns are not
 * compiled at all: the error is reported once, at the pattern that spent it.
 */
static void pattern_check(struct parse_ctx *ctx, const char *path, const char *source)
{
    if (ctx->pattern_bytes > SPEC_MAX_PATTERNS_COMPILED_BYTES)
        return;
    struct iq_error err = {0};
    struct pattern *pattern = NULL;
    int rc = pattern_compile(source, &pattern, &err);
    if (rc == IQ_E_NOMEM)
        ctx->out_of_memory = true;
    else if (rc < 0)
        spec_field_error(ctx, path, "pattern", "%s",
                         err.message ? err.message : "is not a valid regular expression");
    else
        ctx->pattern_bytes += pattern_compiled_size(pattern);
    if (rc == 0 && ctx->pattern_bytes > SPEC_MAX_PATTERNS_COMPILED_BYTES)
        spec_field_error(ctx, path, "pattern",
                         "is too costly: the spec's patterns together compile to more than %d "
                         "bytes",
                         SPEC_MAX_PATTERNS_COMPILED_BYTES);
    pattern_free(pattern);
    iq_error_clear(&err);
}

/* parse_column_text_checks - max_length and pattern, both for text columns only. */
static void parse_column_text_checks(struct parse_ctx *ctx, json_t *obj, const char *path,
                                     bool type_known, struct column_spec *column)
{
    bool is_text = type_known && column->type == COLUMN_TEXT;
    if (json_object_get(obj, "max_length") && type_known && !is_text)
        spec_field_error(ctx, path, "max_length", "is only allowed for text columns");
    else
        spec_read_integer(ctx, obj, path, "max_length", 1, INT64_MAX, &column->max_length);

    const char *pattern;
    if (json_object_get(obj, "pattern") && type_known && !is_text) {
        spec_field_error(ctx, path, "pattern", "is only allowed for text columns");
        return;
    }
    if (spec_read_string(ctx, obj, path, "pattern", &pattern) != MEMBER_OK)
        return;
    pattern_check(ctx, path, pattern);
    column->pattern = spec_strdup(ctx, pattern);
}

/* parse_column_range - min and max, for numeric columns only; min <= max. */
static void parse_column_range(struct parse_ctx *ctx, json_t *obj, const char *path,
                               bool type_known, struct column_spec *column)
{
    static const char *const keys[] = {"min", "max"};
    for (size_t i = 0; i < COUNT_OF(keys); i++) {
        if (json_object_get(obj, keys[i]) && type_known && !type_is_numeric(column->type)) {
            spec_field_error(ctx, path, keys[i],
                             "is only allowed for integer, bigint, numeric and real columns");
            return;
        }
    }
    column->has_min = spec_read_number(ctx, obj, path, "min", &column->min) == MEMBER_OK;
    column->has_max = spec_read_number(ctx, obj, path, "max", &column->max) == MEMBER_OK;
    if (column->has_min && column->has_max && column->min > column->max)
        spec_field_error(ctx, path, "max", "must not be less than min");
}

/*
 * enum_value_text - an enum entry as text: strings as they are, numbers
 * printed (the shortest of %.15g / %.17g that reads back the same).
 * Caller frees; NULL on OOM.
 */
static char *enum_value_text(json_t *value)
{
    char *text = NULL;
    if (json_is_string(value))
        return strdup(json_string_value(value));
    if (json_is_integer(value)) {
        if (asprintf(&text, "%" JSON_INTEGER_FORMAT, json_integer_value(value)) < 0)
            return NULL;
        return text;
    }
    double number = json_real_value(value);
    if (asprintf(&text, "%.15g", number) < 0)
        return NULL;
    if (strtod(text, NULL) == number)
        return text;
    free(text);
    if (asprintf(&text, "%.17g", number) < 0)
        return NULL;
    return text;
}

/*
 * parse_column_enum - a non-empty array of at most SPEC_MAX_ENUM_VALUES
 * strings or numbers, each at most SPEC_MAX_ENUM_VALUE_LEN bytes, kept as text.
 */
static void parse_column_enum(struct parse_ctx *ctx, json_t *obj, const char *path,
                              struct column_spec *column)
{
    json_t *array = json_object_get(obj, "enum");
    if (!array)
        return;
    if (!json_is_array(array) || json_array_size(array) == 0) {
        spec_field_error(ctx, path, "enum", "must be a non-empty array of strings or numbers");
        return;
    }
    if (json_array_size(array) > SPEC_MAX_ENUM_VALUES) {
        spec_field_error(ctx, path, "enum", "must have at most %d entries",
                         SPEC_MAX_ENUM_VALUES);
        return;
    }
    column->enum_values = spec_calloc(ctx, json_array_size(array), sizeof(char *));
    if (!column->enum_values)
        return;
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        if (!(json_is_number(item) || spec_string_value(item))) {
            spec_item_error(ctx, path, "enum", i, "must be a string or a number");
            continue;
        }
        if (json_is_string(item) && json_string_length(item) > SPEC_MAX_ENUM_VALUE_LEN) {
            spec_item_error(ctx, path, "enum", i, "must be at most %d bytes",
                            SPEC_MAX_ENUM_VALUE_LEN);
            continue;
        }
        char *text = enum_value_text(item);
        if (!text)
            ctx->out_of_memory = true;
        else
            column->enum_values[column->enum_count++] = text;
    }
}

/*
 * parse_column_references - "table.column" or "schema.table.column": a
 * table an import may name (spec_read_table_name's rules) and a column.
 */
static void parse_column_references(struct parse_ctx *ctx, json_t *obj, const char *path,
                                    struct column_spec *column)
{
    const char *text;
    if (spec_read_string(ctx, obj, path, "references", &text) != MEMBER_OK)
        return;
    const char *dot = strrchr(text, '.');
    char *table = dot ? strndup(text, (size_t)(dot - text)) : NULL;
    if (dot && !table) {
        ctx->out_of_memory = true;
        return;
    }
    struct table_name name;
    const char *refusal = NULL;
    if (!table || !table_name_parse(table, &name) || !identifier_is_valid(dot + 1))
        spec_field_error(ctx, path, "references",
                         "must be \"table.column\" or \"schema.table.column\" with SQL"
                         " identifiers");
    else if ((refusal = table_name_refusal(&name)) != NULL)
        spec_field_error(ctx, path, "references", "\"%s\" %s: it can never be referenced",
                         table, refusal);
    else {
        column->references_table = table;
        column->references_column = spec_strdup(ctx, dot + 1);
        return;
    }
    free(table);
}

/* parse_column - one target column object at path ("target.columns[2]"). */
static void parse_column(struct parse_ctx *ctx, json_t *obj, const char *path,
                         const struct format_info *format, struct column_spec *column)
{
    column->max_length = -1;
    if (!spec_expect_object(ctx, obj, path))
        return;
    spec_check_unknown_fields(ctx, obj, path, column_fields);
    if (spec_read_identifier(ctx, obj, path, "name", &column->name) == MEMBER_ABSENT)
        spec_field_error(ctx, path, "name", "is required");
    int type = COLUMN_TEXT;
    bool type_known = spec_read_choice(ctx, obj, path, "type", "type", column_type_names,
                                       COLUMN_TYPE_COUNT, &type) != MEMBER_BAD;
    column->type = (enum column_type)type;
    parse_column_from(ctx, obj, path, format, column);
    spec_read_bool(ctx, obj, path, "required", &column->required);
    parse_column_text_checks(ctx, obj, path, type_known, column);
    parse_column_range(ctx, obj, path, type_known, column);
    parse_column_enum(ctx, obj, path, column);
    parse_column_references(ctx, obj, path, column);
}

static void column_spec_clear(struct column_spec *column)
{
    free(column->name);
    free(column->from);
    free(column->pattern);
    spec_string_array_free(column->enum_values, column->enum_count);
    free(column->references_table);
    free(column->references_column);
    memset(column, 0, sizeof(*column));
}

/* spec_columns_free - free columns[0..count) and the array; NULL-safe. */
void spec_columns_free(struct column_spec *columns, size_t count)
{
    for (size_t i = 0; columns && i < count; i++)
        column_spec_clear(&columns[i]);
    free(columns);
}

/*
 * spec_column_names - the names of columns[0..count) as a set (init'ed
 * here; the caller clears it), each at its position. A duplicate keeps
 * the first position.
 */
void spec_column_names(struct parse_ctx *ctx, const struct column_spec *columns, size_t count,
                       struct name_set *ret_names)
{
    spec_name_set_init(ctx, ret_names);
    for (size_t i = 0; i < count; i++) {
        if (columns[i].name)
            spec_name_set_add(ctx, ret_names, columns[i].name, i);
    }
}

/* check_duplicate_columns - names must be unique, case-insensitively. */
static void check_duplicate_columns(struct parse_ctx *ctx, const char *path,
                                    const struct column_spec *columns, size_t count)
{
    struct name_set names;
    spec_name_set_init(ctx, &names);
    for (size_t i = 0; i < count; i++) {
        if (!columns[i].name)
            continue;
        long first = spec_name_set_add(ctx, &names, columns[i].name, i);
        if (first < 0)
            continue;
        char *item = spec_index_path(ctx, path, "columns", i);
        if (item)
            spec_field_error(ctx, item, "name", "duplicate column \"%s\" (same as columns[%ld])",
                             columns[i].name, first);
        free(item);
    }
    spec_name_set_clear(&names);
}

/*
 * spec_parse_columns - obj["columns"] (under path) into a new array. Returns
 * how reading went; *ret_columns is owned by the caller even when it is BAD.
 */
enum member spec_parse_columns(struct parse_ctx *ctx, json_t *obj, const char *path,
                               const struct format_info *format,
                               struct column_spec **ret_columns, size_t *ret_count)
{
    json_t *array;
    enum member got = spec_read_array(ctx, obj, path, "columns", SPEC_MAX_COLUMNS,
                                      "must be an array of column objects", &array);
    if (got != MEMBER_OK)
        return got;
    *ret_columns = spec_calloc(ctx, json_array_size(array), sizeof(**ret_columns));
    if (!*ret_columns)
        return MEMBER_BAD;
    *ret_count = json_array_size(array);
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        char *item_path = spec_index_path(ctx, path, "columns", i);
        if (item_path)
            parse_column(ctx, item, item_path, format, &(*ret_columns)[i]);
        free(item_path);
    }
    check_duplicate_columns(ctx, path, *ret_columns, *ret_count);
    return MEMBER_OK;
}
