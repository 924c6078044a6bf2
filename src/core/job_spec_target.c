/*
 * job_spec_target.c - the "target" part of a job spec (docs/job-spec.md): the
 * table and database, the load mode, the key (required for upsert, refused
 * for append), create, dry_run, and the child tables a JSON record's nested arrays
 * fan out into (target.children, each with its parent_key and key). Also
 * the target mode names and target_spec_clear.
 *
 * Not for the columns themselves (job_spec_column.c), the locks the target
 * tables imply (job_spec.c) or writing to the tables (the store). Its
 * normalised JSON is built in job_spec_json.c.
 */
#include "core/job_spec_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const target_mode_names[] = {"insert", "upsert", "append", "replace"};

static const char *const target_fields[] = {"database", "table",   "mode",         "key",
                                            "create",   "columns", "ignore_extra", "children",
                                            "dry_run",  NULL};
static const char *const child_fields[] = {"table", "from", "parent_key", "key", "columns", NULL};

const char *target_mode_name(enum target_mode mode)
{
    return (unsigned)mode < COUNT_OF(target_mode_names) ? target_mode_names[mode] : "unknown";
}

/* ---- keys --------------------------------------------------------------- */

/*
 * parse_key - obj["key"]: an array of distinct identifiers. Returns how
 * reading went; *ret_key is owned by the caller in every case.
 */
static enum member parse_key(struct parse_ctx *ctx, json_t *obj, const char *path,
                             char ***ret_key, size_t *ret_count)
{
    json_t *array = json_object_get(obj, "key");
    if (!array)
        return MEMBER_ABSENT;
    if (!json_is_array(array) || json_array_size(array) > SPEC_MAX_COLUMNS) {
        spec_field_error(ctx, path, "key", "must be an array of at most %d column names",
                         SPEC_MAX_COLUMNS);
        return MEMBER_BAD;
    }
    *ret_key = spec_calloc(ctx, json_array_size(array), sizeof(char *));
    if (!*ret_key)
        return MEMBER_BAD;
    struct name_set seen;
    spec_name_set_init(ctx, &seen);
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        const char *name = spec_string_value(item);
        if (!name || !identifier_is_valid(name)) {
            spec_item_error(ctx, path, "key", i, "must be an SQL identifier");
            continue;
        }
        if (spec_name_set_add(ctx, &seen, name, i) >= 0) {
            spec_item_error(ctx, path, "key", i, "duplicate key column \"%s\"", name);
            continue;
        }
        char *copy = spec_strdup(ctx, name);
        if (copy)
            (*ret_key)[(*ret_count)++] = copy;
    }
    spec_name_set_clear(&seen);
    return MEMBER_OK;
}

/*
 * check_key_columns - when columns are given, every key column must be one
 * of them or one of extra[0..extra_count) (a child's parent_key columns).
 */
static void check_key_columns(struct parse_ctx *ctx, const char *path, char *const *key,
                              size_t key_count, const struct column_spec *columns,
                              size_t column_count, char *const *extra, size_t extra_count)
{
    if (column_count == 0)
        return;
    struct name_set names;
    spec_column_names(ctx, columns, column_count, &names);
    for (size_t i = 0; i < extra_count; i++) {
        if (extra[i])
            spec_name_set_add(ctx, &names, extra[i], column_count + i);
    }
    for (size_t i = 0; i < key_count; i++) {
        if (spec_name_set_find(ctx, &names, key[i]) < 0)
            spec_item_error(ctx, path, "key", i, "\"%s\" is not one of the columns", key[i]);
    }
    spec_name_set_clear(&names);
}

/* ---- children ----------------------------------------------------------- */

/*
 * parse_child_table - table: a table name that may be written
 * (spec_read_table_name), not the parent table.
 */
static void parse_child_table(struct parse_ctx *ctx, json_t *obj, const char *path,
                              const struct target_spec *target, struct child_spec *child)
{
    enum member got = spec_read_table_name(ctx, obj, path, "table", &child->table);
    if (got == MEMBER_ABSENT)
        spec_field_error(ctx, path, "table", "is required");
    else if (got == MEMBER_OK && target->table && strcasecmp(child->table, target->table) == 0)
        spec_field_error(ctx, path, "table", "must differ from target.table");
}

/*
 * parse_parent_key_entry - one "child_col": "parent_col" pair into slot i;
 * parent_columns holds the names of the target's columns.
 */
static void parse_parent_key_entry(struct parse_ctx *ctx, const char *path, const char *child_col,
                                   json_t *value, const struct target_spec *target,
                                   const struct name_set *parent_columns,
                                   struct child_spec *child, size_t i)
{
    const char *parent_col = spec_string_value(value);
    if (!identifier_is_valid(child_col)) {
        spec_field_error(ctx, path, child_col, "the child column must be an SQL identifier");
    } else if (!parent_col || !identifier_is_valid(parent_col)) {
        spec_field_error(ctx, path, child_col, "must name a parent column (an SQL identifier)");
    } else if (target->column_count > 0 &&
               spec_name_set_find(ctx, parent_columns, parent_col) < 0) {
        spec_field_error(ctx, path, child_col, "\"%s\" is not one of the target columns",
                         parent_col);
    } else {
        child->parent_key_child[i] = spec_strdup(ctx, child_col);
        child->parent_key_parent[i] = spec_strdup(ctx, parent_col);
    }
}

/* parse_parent_key - {"child_col": "parent_col", ...}, required and non-empty. */
static void parse_parent_key(struct parse_ctx *ctx, json_t *obj, const char *path,
                             const struct target_spec *target, struct child_spec *child)
{
    json_t *map = json_object_get(obj, "parent_key");
    if (!map) {
        spec_field_error(ctx, path, "parent_key", "is required");
        return;
    }
    size_t count = json_object_size(map);
    if (!json_is_object(map) || count == 0 || count > SPEC_MAX_COLUMNS) {
        spec_field_error(ctx, path, "parent_key",
                         "must be a non-empty object {\"child column\": \"parent column\"} "
                         "of at most %d entries",
                         SPEC_MAX_COLUMNS);
        return;
    }
    char *map_path = spec_join_path(path, "parent_key");
    child->parent_key_child = spec_calloc(ctx, count, sizeof(char *));
    child->parent_key_parent = spec_calloc(ctx, count, sizeof(char *));
    if (!map_path || !child->parent_key_child || !child->parent_key_parent) {
        ctx->out_of_memory = true;
        free(map_path);
        return;
    }
    child->parent_key_count = count;
    struct name_set parent_columns;
    spec_column_names(ctx, target->columns, target->column_count, &parent_columns);
    size_t i = 0;
    const char *child_col;
    json_t *value;
    json_object_foreach(map, child_col, value) {
        parse_parent_key_entry(ctx, map_path, child_col, value, target, &parent_columns, child,
                               i++);
    }
    spec_name_set_clear(&parent_columns);
    free(map_path);
}

/* parse_child - one entry of target.children at path. */
static void parse_child(struct parse_ctx *ctx, json_t *obj, const char *path,
                        const struct format_info *format, const struct target_spec *target,
                        struct child_spec *child)
{
    if (!spec_expect_object(ctx, obj, path))
        return;
    spec_check_unknown_fields(ctx, obj, path, child_fields);
    parse_child_table(ctx, obj, path, target, child);
    /* the JSON pointer of the nested array; default "/<table>" */
    spec_read_member_pointer(ctx, obj, path, "from", child->table, "/task_list", &child->from);
    enum member got_columns =
        spec_parse_columns(ctx, obj, path, format, &child->columns, &child->column_count);
    parse_parent_key(ctx, obj, path, target, child);
    if (parse_key(ctx, obj, path, &child->key, &child->key_count) == MEMBER_OK)
        check_key_columns(ctx, path, child->key, child->key_count, child->columns,
                          child->column_count, child->parent_key_child, child->parent_key_count);
    if (target->create && got_columns != MEMBER_BAD && child->column_count == 0)
        spec_field_error(ctx, path, "columns", "is required when target.create is true");
}

static void child_spec_clear(struct child_spec *child)
{
    free(child->table);
    free(child->from);
    spec_string_array_free(child->parent_key_child, child->parent_key_count);
    spec_string_array_free(child->parent_key_parent, child->parent_key_count);
    spec_string_array_free(child->key, child->key_count);
    spec_columns_free(child->columns, child->column_count);
    memset(child, 0, sizeof(*child));
}

/* parse_children - target.children: only for JSON sources, at most SPEC_MAX_CHILDREN. */
static void parse_children(struct parse_ctx *ctx, json_t *obj, const struct format_info *format,
                           struct target_spec *target)
{
    json_t *array = json_object_get(obj, "children");
    if (!array)
        return;
    if (!json_is_array(array) || json_array_size(array) > SPEC_MAX_CHILDREN) {
        spec_field_error(ctx, "target", "children",
                         "must be an array of at most %d child objects", SPEC_MAX_CHILDREN);
        return;
    }
    if (json_array_size(array) == 0)
        return;
    if (format->known && format->format == SOURCE_CSV) {
        spec_field_error(ctx, "target", "children",
                         "is only allowed for json and ndjson sources");
        return;
    }
    target->children = spec_calloc(ctx, json_array_size(array), sizeof(*target->children));
    if (!target->children)
        return;
    target->child_count = json_array_size(array);
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        char *path = spec_index_path(ctx, "target", "children", i);
        if (path)
            parse_child(ctx, item, path, format, target, &target->children[i]);
        free(path);
    }
}

/* ---- target ------------------------------------------------------------- */

/* parse_target_names - table (required, one that may be written) and database (optional). */
static void parse_target_names(struct parse_ctx *ctx, json_t *obj, struct target_spec *target)
{
    if (spec_read_table_name(ctx, obj, "target", "table", &target->table) == MEMBER_ABSENT)
        spec_field_error(ctx, "target", "table", "is required");
    if (!json_is_null(json_object_get(obj, "database")))
        spec_read_identifier(ctx, obj, "target", "database", &target->database);
}

/* check_target_rules - upsert needs a key, append takes none (create without
 * columns infers them from the file when the import runs). */
static void check_target_rules(struct parse_ctx *ctx, const struct target_spec *target,
                               enum member got_key)
{
    if (target->mode == TARGET_UPSERT && got_key != MEMBER_BAD && target->key_count == 0)
        spec_field_error(ctx, "target", "key", "is required (non-empty) for mode upsert");
    if (target->mode == TARGET_APPEND && target->key_count > 0)
        spec_field_error(ctx, "target", "key", "is not allowed for mode append");
}

/* spec_parse_target - the "target" object into target (which starts zeroed). */
void spec_parse_target(struct parse_ctx *ctx, json_t *obj, const struct format_info *format,
                       struct target_spec *target)
{
    if (!obj) {
        spec_field_error(ctx, "target", NULL, "is required");
        return;
    }
    if (!spec_expect_object(ctx, obj, "target"))
        return;
    spec_check_unknown_fields(ctx, obj, "target", target_fields);
    parse_target_names(ctx, obj, target);
    int mode = TARGET_INSERT;
    spec_read_choice(ctx, obj, "target", "mode", "mode", target_mode_names,
                     COUNT_OF(target_mode_names), &mode);
    target->mode = (enum target_mode)mode;
    spec_read_bool(ctx, obj, "target", "create", &target->create);
    spec_read_bool(ctx, obj, "target", "ignore_extra", &target->ignore_extra);
    spec_read_bool(ctx, obj, "target", "dry_run", &target->dry_run);
    spec_parse_columns(ctx, obj, "target", format, &target->columns, &target->column_count);
    enum member got_key = parse_key(ctx, obj, "target", &target->key, &target->key_count);
    if (got_key == MEMBER_OK)
        check_key_columns(ctx, "target", target->key, target->key_count, target->columns,
                          target->column_count, NULL, 0);
    check_target_rules(ctx, target, got_key);
    parse_children(ctx, obj, format, target);
}

/* target_spec_clear - NULL-safe and safe on a half-parsed target; leaves it zeroed. */
void target_spec_clear(struct target_spec *target)
{
    if (!target)
        return;
    free(target->database);
    free(target->table);
    spec_string_array_free(target->key, target->key_count);
    spec_columns_free(target->columns, target->column_count);
    for (size_t i = 0; target->children && i < target->child_count; i++)
        child_spec_clear(&target->children[i]);
    free(target->children);
    memset(target, 0, sizeof(*target));
}
