/*
 * job_spec_read.c - the tools every part of the job spec validator reads
 * with: field paths ("target.columns[2].type"), field errors, allocation
 * that records running out of memory in the parse context, and the typed
 * member readers (string, bool, integer, choice, identifier, array, ...)
 * that report a wrong value at its path and let parsing go on.
 *
 * Not for the rules of any one part of the spec (those live in
 * job_spec.c, job_spec_source.c, job_spec_column.c and job_spec_target.c)
 * nor for the lexical checks on names and paths (identifier.c).
 */
#include "core/job_spec_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How many characters of a user value an error message quotes. */
#define EXCERPT_CHARS 40

/* ---- text and paths ----------------------------------------------------- */

/* spec_name_index - position of text in names[0..count), -1 when absent. */
int spec_name_index(const char *text, const char *const *names, size_t count)
{
    for (size_t i = 0; text && i < count; i++) {
        if (strcmp(text, names[i]) == 0)
            return (int)i;
    }
    return -1;
}

/* spec_json_pointer_is_valid - RFC 6901: "" or "/token..."; "~" only as "~0" or "~1". */
bool spec_json_pointer_is_valid(const char *pointer)
{
    if (pointer[0] != '\0' && pointer[0] != '/')
        return false;
    for (const char *p = pointer; *p; p++) {
        if (*p == '~' && p[1] != '0' && p[1] != '1')
            return false;
    }
    return true;
}

/* A JSON pointer that names something inside a record ("/a/b", not ""). */
static bool json_member_pointer_is_valid(const char *pointer)
{
    return pointer[0] == '/' && spec_json_pointer_is_valid(pointer);
}

/*
 * excerpt_length - bytes of text making up at most EXCERPT_CHARS characters,
 * so an error message quoting user input stays short and valid UTF-8.
 */
static int excerpt_length(const char *text)
{
    size_t chars = 0;
    const unsigned char *p = (const unsigned char *)text;
    for (; *p; p++) {
        if ((*p & 0xc0) != 0x80 && chars++ == EXCERPT_CHARS)
            break;
    }
    return (int)(p - (const unsigned char *)text);
}

/* spec_join_path - "path.key", or "key" when path is "", or path when key is NULL. Caller frees. */
char *spec_join_path(const char *path, const char *key)
{
    char *joined = NULL;
    if (!key)
        return strdup(path);
    if (!path[0])
        return strdup(key);
    return asprintf(&joined, "%s.%s", path, key) < 0 ? NULL : joined;
}

/*
 * spec_index_path - "path.key[index]" ("key[index]" at the top). Caller frees;
 * NULL with ctx->out_of_memory set when allocation fails.
 */
char *spec_index_path(struct parse_ctx *ctx, const char *path, const char *key, size_t index)
{
    char *joined = NULL;
    int length = path[0] ? asprintf(&joined, "%s.%s[%zu]", path, key, index)
                         : asprintf(&joined, "%s[%zu]", key, index);
    if (length < 0) {
        ctx->out_of_memory = true;
        return NULL;
    }
    return joined;
}

/* ---- allocation --------------------------------------------------------- */

/* spec_strdup - strdup that records an allocation failure in ctx. */
char *spec_strdup(struct parse_ctx *ctx, const char *text)
{
    char *copy = strdup(text);
    if (!copy)
        ctx->out_of_memory = true;
    return copy;
}

/* spec_calloc - calloc(count, size) (count 0 is treated as 1), recording failure. */
void *spec_calloc(struct parse_ctx *ctx, size_t count, size_t size)
{
    void *memory = calloc(count ? count : 1, size);
    if (!memory)
        ctx->out_of_memory = true;
    return memory;
}

/*
 * spec_concat - prefix + text ("/" + name is the JSON pointer of a member,
 * "table:" + table a table lock). Caller frees; NULL on OOM, recorded.
 */
char *spec_concat(struct parse_ctx *ctx, const char *prefix, const char *text)
{
    char *joined = NULL;
    if (asprintf(&joined, "%s%s", prefix, text) < 0) {
        ctx->out_of_memory = true;
        return NULL;
    }
    return joined;
}

/* spec_lowercase_copy - ASCII-lower-cased copy of text, recording failure. */
char *spec_lowercase_copy(struct parse_ctx *ctx, const char *text)
{
    char *copy = spec_strdup(ctx, text);
    for (char *p = copy; p && *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    return copy;
}

void spec_string_array_free(char **items, size_t count)
{
    for (size_t i = 0; items && i < count; i++)
        free(items[i]);
    free(items);
}

/* ---- name sets ---------------------------------------------------------- *
 * Columns, keys and parent keys are checked against each other by name, up
 * to SPEC_MAX_COLUMNS of each in up to 1 + SPEC_MAX_CHILDREN tables: a
 * hash lookup each (a jansson object keyed by the lower-cased name), where
 * comparing every pair cost about a second for the largest spec.
 */

/* name_set_key - name lower-cased (SQL identifiers are case-insensitive). Caller frees. */
static char *name_set_key(struct parse_ctx *ctx, const char *name)
{
    return spec_lowercase_copy(ctx, name);
}

/* spec_name_set_init - an empty set; NULL members (OOM) are recorded in ctx. */
void spec_name_set_init(struct parse_ctx *ctx, struct name_set *set)
{
    set->positions = json_object();
    if (!set->positions)
        ctx->out_of_memory = true;
}

void spec_name_set_clear(struct name_set *set)
{
    json_decref(set->positions);
    set->positions = NULL;
}

/*
 * spec_name_set_add - add name at position unless an equal name (ignoring
 * case) is there. Returns the earlier name's position, or -1 when name is
 * new (or memory ran out, recorded in ctx).
 */
long spec_name_set_add(struct parse_ctx *ctx, struct name_set *set, const char *name,
                       size_t position)
{
    char *key = set->positions ? name_set_key(ctx, name) : NULL;
    if (!key)
        return -1;
    json_t *earlier = json_object_get(set->positions, key);
    long found = earlier ? (long)json_integer_value(earlier) : -1;
    if (!earlier && json_object_set_new(set->positions, key, json_integer((json_int_t)position)))
        ctx->out_of_memory = true;
    free(key);
    return found;
}

/* spec_name_set_find - the position of name (ignoring case), -1 when absent. */
long spec_name_set_find(struct parse_ctx *ctx, const struct name_set *set, const char *name)
{
    char *key = set->positions ? name_set_key(ctx, name) : NULL;
    if (!key)
        return -1;
    json_t *found = json_object_get(set->positions, key);
    free(key);
    return found ? (long)json_integer_value(found) : -1;
}

/* spec_string_value - the text of a JSON string without embedded NULs, else NULL. */
const char *spec_string_value(json_t *value)
{
    const char *text = json_string_value(value);
    if (!text || strlen(text) != json_string_length(value))
        return NULL;
    return text;
}

/* ---- field errors ------------------------------------------------------- */

__attribute__((format(printf, 4, 0))) static void
field_errorv(struct parse_ctx *ctx, const char *path, const char *key, const char *fmt, va_list ap)
{
    ctx->error_count++;
    char *message = NULL;
    if (vasprintf(&message, fmt, ap) < 0)
        message = NULL;
    char *field = spec_join_path(path, key);
    if (message && field)
        iq_error_add_field(ctx->err, field, "%s", message);
    else
        ctx->out_of_memory = true;
    free(message);
    free(field);
}

/* spec_field_error - report a problem with path.key (or path itself when key is NULL). */
void spec_field_error(struct parse_ctx *ctx, const char *path, const char *key, const char *fmt,
                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    field_errorv(ctx, path, key, fmt, ap);
    va_end(ap);
}

/* spec_item_error - report a problem with the array element path.key[index]. */
void spec_item_error(struct parse_ctx *ctx, const char *path, const char *key, size_t index,
                     const char *fmt, ...)
{
    char *item = spec_index_path(ctx, path, key, index);
    if (!item)
        return;
    va_list ap;
    va_start(ap, fmt);
    field_errorv(ctx, item, NULL, fmt, ap);
    va_end(ap);
    free(item);
}

/* ---- typed member readers ----------------------------------------------- */

/*
 * spec_check_unknown_fields - report every member of obj whose name is not
 * in known (a NULL-terminated list). Unknown fields are errors, never ignored.
 */
void spec_check_unknown_fields(struct parse_ctx *ctx, json_t *obj, const char *path,
                               const char *const *known)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        bool found = false;
        for (const char *const *name = known; *name && !found; name++)
            found = strcmp(key, *name) == 0;
        if (!found)
            spec_field_error(ctx, path, key, "unknown field");
    }
}

/*
 * spec_expect_object - true when value is an object; otherwise reports
 * "must be an object" at path and returns false.
 */
bool spec_expect_object(struct parse_ctx *ctx, json_t *value, const char *path)
{
    if (json_is_object(value))
        return true;
    spec_field_error(ctx, path, NULL, "must be an object");
    return false;
}

/* spec_read_string - obj[key] as a string without NULs; *ret_text is borrowed from obj. */
enum member spec_read_string(struct parse_ctx *ctx, json_t *obj, const char *path,
                             const char *key, const char **ret_text)
{
    json_t *value = json_object_get(obj, key);
    if (!value)
        return MEMBER_ABSENT;
    if (!json_is_string(value)) {
        spec_field_error(ctx, path, key, "must be a string");
        return MEMBER_BAD;
    }
    const char *text = spec_string_value(value);
    if (!text) {
        spec_field_error(ctx, path, key, "must not contain a NUL character");
        return MEMBER_BAD;
    }
    *ret_text = text;
    return MEMBER_OK;
}

/* spec_read_nullable_string - like spec_read_string, but null counts as absent. */
enum member spec_read_nullable_string(struct parse_ctx *ctx, json_t *obj, const char *path,
                                      const char *key, const char **ret_text)
{
    if (json_is_null(json_object_get(obj, key)))
        return MEMBER_ABSENT;
    return spec_read_string(ctx, obj, path, key, ret_text);
}

enum member spec_read_bool(struct parse_ctx *ctx, json_t *obj, const char *path,
                           const char *key, bool *ret_value)
{
    json_t *value = json_object_get(obj, key);
    if (!value)
        return MEMBER_ABSENT;
    if (!json_is_boolean(value)) {
        spec_field_error(ctx, path, key, "must be true or false");
        return MEMBER_BAD;
    }
    *ret_value = json_is_true(value);
    return MEMBER_OK;
}

/* spec_read_integer - obj[key] as an integer in [min, max]; *ret_value untouched unless OK. */
enum member spec_read_integer(struct parse_ctx *ctx, json_t *obj, const char *path,
                              const char *key, int64_t min, int64_t max, int64_t *ret_value)
{
    json_t *value = json_object_get(obj, key);
    if (!value)
        return MEMBER_ABSENT;
    if (!json_is_integer(value)) {
        spec_field_error(ctx, path, key, "must be an integer");
        return MEMBER_BAD;
    }
    int64_t number = json_integer_value(value);
    if (number < min || number > max) {
        if (max == INT64_MAX)
            spec_field_error(ctx, path, key, "must be at least %" PRId64, min);
        else
            spec_field_error(ctx, path, key, "must be between %" PRId64 " and %" PRId64, min,
                             max);
        return MEMBER_BAD;
    }
    *ret_value = number;
    return MEMBER_OK;
}

enum member spec_read_number(struct parse_ctx *ctx, json_t *obj, const char *path,
                             const char *key, double *ret_value)
{
    json_t *value = json_object_get(obj, key);
    if (!value)
        return MEMBER_ABSENT;
    if (!json_is_number(value)) {
        spec_field_error(ctx, path, key, "must be a number");
        return MEMBER_BAD;
    }
    *ret_value = json_number_value(value);
    return MEMBER_OK;
}

/*
 * spec_read_choice - obj[key] as one of names[0..count); *ret_index is its
 * position. noun names the kind of value in the message ("unknown type").
 */
enum member spec_read_choice(struct parse_ctx *ctx, json_t *obj, const char *path,
                             const char *key, const char *noun, const char *const *names,
                             size_t count, int *ret_index)
{
    const char *text;
    enum member got = spec_read_string(ctx, obj, path, key, &text);
    if (got != MEMBER_OK)
        return got;
    int found = spec_name_index(text, names, count);
    if (found < 0) {
        char expected[256] = "";
        for (size_t i = 0; i < count; i++) {
            strncat(expected, i ? ", " : "", sizeof(expected) - strlen(expected) - 1);
            strncat(expected, names[i], sizeof(expected) - strlen(expected) - 1);
        }
        spec_field_error(ctx, path, key, "unknown %s \"%.*s\" (expected one of: %s)", noun,
                         excerpt_length(text), text, expected);
        return MEMBER_BAD;
    }
    *ret_index = found;
    return MEMBER_OK;
}

/*
 * spec_read_identifier - obj[key] as an SQL identifier; a copy in *ret_copy
 * (caller frees).
 */
enum member spec_read_identifier(struct parse_ctx *ctx, json_t *obj, const char *path,
                                 const char *key, char **ret_copy)
{
    const char *text;
    enum member got = spec_read_string(ctx, obj, path, key, &text);
    if (got != MEMBER_OK)
        return got;
    if (!identifier_is_valid(text)) {
        spec_field_error(ctx, path, key,
                         "must be an SQL identifier: a letter or _, then letters, digits or _, "
                         "at most %d characters",
                         IDENTIFIER_MAX_LEN);
        return MEMBER_BAD;
    }
    *ret_copy = spec_strdup(ctx, text);
    /* Out of memory is recorded in ctx by spec_strdup; callers must not
     * treat the missing copy as a value. */
    return *ret_copy ? MEMBER_OK : MEMBER_BAD;
}

/*
 * spec_read_table_name - obj[key] as a table an import may write: "table"
 * or "schema.table" (table_name_parse), never one of the service's own
 * tables nor a catalog (table_name_refusal). A copy in *ret_copy (caller
 * frees). Which schemas a name may resolve in is the store's to decide:
 * it depends on the target database and the target-schemas setting.
 */
enum member spec_read_table_name(struct parse_ctx *ctx, json_t *obj, const char *path,
                                 const char *key, char **ret_copy)
{
    const char *text;
    enum member got = spec_read_string(ctx, obj, path, key, &text);
    if (got != MEMBER_OK)
        return got;
    struct table_name name;
    if (!table_name_parse(text, &name)) {
        spec_field_error(ctx, path, key,
                         "must be a table name, \"table\" or \"schema.table\": each an SQL"
                         " identifier (a letter or _, then letters, digits or _, at most %d"
                         " characters)",
                         IDENTIFIER_MAX_LEN);
        return MEMBER_BAD;
    }
    const char *refusal = table_name_refusal(&name);
    if (refusal) {
        spec_field_error(ctx, path, key, "\"%s\" %s: it can never be an import target", text,
                         refusal);
        return MEMBER_BAD;
    }
    *ret_copy = spec_strdup(ctx, text);
    return *ret_copy ? MEMBER_OK : MEMBER_BAD;
}

/*
 * spec_read_array - obj[key] as an array of at most max_items entries;
 * *ret_array is borrowed from obj. not_array is the whole message when the
 * value is not an array ("must be an array of job ids").
 */
enum member spec_read_array(struct parse_ctx *ctx, json_t *obj, const char *path,
                            const char *key, int max_items, const char *not_array,
                            json_t **ret_array)
{
    json_t *value = json_object_get(obj, key);
    if (!value)
        return MEMBER_ABSENT;
    if (!json_is_array(value)) {
        spec_field_error(ctx, path, key, "%s", not_array);
        return MEMBER_BAD;
    }
    if (json_array_size(value) > (size_t)max_items) {
        spec_field_error(ctx, path, key, "must have at most %d entries", max_items);
        return MEMBER_BAD;
    }
    *ret_array = value;
    return MEMBER_OK;
}

/*
 * spec_read_member_pointer - obj[key] as a JSON pointer to a member of each
 * record ("/a/b", not "", at most SPEC_MAX_FROM_LEN bytes), copied into
 * *ret_pointer (caller frees). When it
 * is absent the pointer is "/<default_name>", or nothing when default_name
 * is NULL. example is the pointer the error message shows ("/a/b").
 */
void spec_read_member_pointer(struct parse_ctx *ctx, json_t *obj, const char *path,
                              const char *key, const char *default_name, const char *example,
                              char **ret_pointer)
{
    const char *pointer;
    enum member got = spec_read_string(ctx, obj, path, key, &pointer);
    if (got == MEMBER_ABSENT && default_name)
        *ret_pointer = spec_concat(ctx, "/", default_name);
    else if (got == MEMBER_OK && !json_member_pointer_is_valid(pointer))
        spec_field_error(ctx, path, key, "must be a JSON pointer such as \"%s\"", example);
    else if (got == MEMBER_OK && strlen(pointer) > SPEC_MAX_FROM_LEN)
        spec_field_error(ctx, path, key, "must be at most %d bytes", SPEC_MAX_FROM_LEN);
    else if (got == MEMBER_OK)
        *ret_pointer = spec_strdup(ctx, pointer);
}
