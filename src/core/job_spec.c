/*
 * job_spec.c - the validator of the job spec (CONTRACT §2). It turns a JSON
 * body into a struct job_spec plus the normalised JSON of its parts (every
 * default filled in), and turns a stored job back into a body
 * (job_spec_json_from_job, used to apply a PUT).
 *
 * Every problem is recorded as a field error with its path
 * ("target.columns[2].type") and parsing goes on, so a client sees all of
 * its mistakes at once. Pure domain: no I/O. source.path is only checked
 * lexically here; util/path.c resolves it against the import root.
 *
 * Reading order: names, small helpers, typed member readers, then one
 * section per part of the spec (top level, resources, source, column,
 * child, target, on_error), the normalised JSON, and the entry points.
 */
#include "core/job_spec.h"

#include "core/timeutil.h"
#include "core/uuid7.h"

#include <inttypes.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COUNT_OF(array) (sizeof(array) / sizeof((array)[0]))

/* How many characters of a user value an error message quotes. */
#define EXCERPT_CHARS 40

/* Used when the caller passes no defaults (CONTRACT §1 defaults). */
static const struct job_spec_defaults builtin_defaults = {.max_attempts = 3, .timeout_s = 1800};

/* ---- names -------------------------------------------------------------- */

static const char *const column_type_names[COLUMN_TYPE_COUNT] = {
#define COLUMN_TYPE_NAME(name, text) text,
    COLUMN_TYPES(COLUMN_TYPE_NAME)
#undef COLUMN_TYPE_NAME
};

static const char *const source_format_names[] = {"csv", "ndjson", "json"};
static const char *const target_mode_names[] = {"insert", "upsert", "append", "replace"};
static const char *const error_action_names[] = {"abort", "skip"};
static const char *const lock_mode_names[] = {"exclusive", "shared"}; /* enum lock_mode order */

/* name_index - position of text in names[0..count), -1 when absent. */
static int name_index(const char *text, const char *const *names, size_t count)
{
    for (size_t i = 0; text && i < count; i++) {
        if (strcmp(text, names[i]) == 0)
            return (int)i;
    }
    return -1;
}

const char *column_type_name(enum column_type type)
{
    return (unsigned)type < COLUMN_TYPE_COUNT ? column_type_names[type] : "unknown";
}

int column_type_parse(const char *text, enum column_type *ret_type)
{
    int found = name_index(text, column_type_names, COLUMN_TYPE_COUNT);
    if (found < 0)
        return IQ_E_INVALID;
    *ret_type = (enum column_type)found;
    return 0;
}

const char *source_format_name(enum source_format format)
{
    return (unsigned)format < COUNT_OF(source_format_names) ? source_format_names[format]
                                                            : "unknown";
}

const char *target_mode_name(enum target_mode mode)
{
    return (unsigned)mode < COUNT_OF(target_mode_names) ? target_mode_names[mode] : "unknown";
}

const char *error_action_name(enum error_action action)
{
    return (unsigned)action < COUNT_OF(error_action_names) ? error_action_names[action]
                                                           : "unknown";
}

/* ---- identifiers and paths ---------------------------------------------- */

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

bool identifier_is_reserved(const char *name)
{
    if (!name)
        return false;
    return strncasecmp(name, "stg_import_", strlen("stg_import_")) == 0 ||
           strcasecmp(name, "stg_scheduled_imports") == 0 ||
           strncasecmp(name, "importq_", strlen("importq_")) == 0;
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

/* json_pointer_is_valid - RFC 6901: "" or "/token..."; "~" only as "~0" or "~1". */
static bool json_pointer_is_valid(const char *pointer)
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
    return pointer[0] == '/' && json_pointer_is_valid(pointer);
}

/* utf8_length - characters (code points) in a valid UTF-8 string. */
static size_t utf8_length(const char *text)
{
    size_t count = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        count += (*p & 0xc0) != 0x80;
    return count;
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

/* ---- parse context and field errors ------------------------------------- */

/* State shared by one parse: where errors go and whether memory ran out. */
struct parse_ctx {
    struct iq_error *err;   /* may be NULL: errors are only counted */
    size_t error_count;     /* field errors found so far */
    bool out_of_memory;
};

/* What the parser knows about the source format while checking the target. */
struct format_info {
    enum source_format format;
    bool known;             /* false when source was missing or invalid */
};

static bool format_is_json(const struct format_info *format)
{
    return format->known && format->format != SOURCE_CSV;
}

/* join_path - "path.key", or "key" when path is "", or path when key is NULL. Caller frees. */
static char *join_path(const char *path, const char *key)
{
    char *joined = NULL;
    if (!key)
        return strdup(path);
    if (!path[0])
        return strdup(key);
    return asprintf(&joined, "%s.%s", path, key) < 0 ? NULL : joined;
}

/*
 * index_path - "path.key[index]" ("key[index]" at the top). Caller frees;
 * NULL with ctx->out_of_memory set when allocation fails.
 */
static char *index_path(struct parse_ctx *ctx, const char *path, const char *key, size_t index)
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

__attribute__((format(printf, 4, 0))) static void
field_errorv(struct parse_ctx *ctx, const char *path, const char *key, const char *fmt, va_list ap)
{
    ctx->error_count++;
    char *message = NULL;
    if (vasprintf(&message, fmt, ap) < 0)
        message = NULL;
    char *field = join_path(path, key);
    if (message && field)
        iq_error_add_field(ctx->err, field, "%s", message);
    else
        ctx->out_of_memory = true;
    free(message);
    free(field);
}

/* field_error - report a problem with path.key (or path itself when key is NULL). */
__attribute__((format(printf, 4, 5))) static void
field_error(struct parse_ctx *ctx, const char *path, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    field_errorv(ctx, path, key, fmt, ap);
    va_end(ap);
}

/* item_error - report a problem with the array element path.key[index]. */
__attribute__((format(printf, 5, 6))) static void
item_error(struct parse_ctx *ctx, const char *path, const char *key, size_t index,
           const char *fmt, ...)
{
    char *item = index_path(ctx, path, key, index);
    if (!item)
        return;
    va_list ap;
    va_start(ap, fmt);
    field_errorv(ctx, item, NULL, fmt, ap);
    va_end(ap);
    free(item);
}

/* ctx_strdup - strdup that records an allocation failure in ctx. */
static char *ctx_strdup(struct parse_ctx *ctx, const char *text)
{
    char *copy = strdup(text);
    if (!copy)
        ctx->out_of_memory = true;
    return copy;
}

/* pointer_to_member - "/" + name: the JSON pointer of a member named by an identifier. */
static char *pointer_to_member(struct parse_ctx *ctx, const char *name)
{
    char *pointer = NULL;
    if (asprintf(&pointer, "/%s", name) < 0) {
        ctx->out_of_memory = true;
        return NULL;
    }
    return pointer;
}

/* ctx_calloc - calloc(count, size) (count 0 is treated as 1), recording failure. */
static void *ctx_calloc(struct parse_ctx *ctx, size_t count, size_t size)
{
    void *memory = calloc(count ? count : 1, size);
    if (!memory)
        ctx->out_of_memory = true;
    return memory;
}

/* lowercase_copy - ASCII-lower-cased copy of text, recording failure. */
static char *lowercase_copy(struct parse_ctx *ctx, const char *text)
{
    char *copy = ctx_strdup(ctx, text);
    for (char *p = copy; p && *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    return copy;
}

static void string_array_free(char **items, size_t count)
{
    for (size_t i = 0; items && i < count; i++)
        free(items[i]);
    free(items);
}

/* string_value - the text of a JSON string without embedded NULs, else NULL. */
static const char *string_value(json_t *value)
{
    const char *text = json_string_value(value);
    if (!text || strlen(text) != json_string_length(value))
        return NULL;
    return text;
}

/* ---- typed member readers ----------------------------------------------- */

/* How reading one optional member went. */
enum member { MEMBER_ABSENT, MEMBER_OK, MEMBER_BAD };

/*
 * check_unknown_fields - report every member of obj whose name is not in
 * known (a NULL-terminated list). Unknown fields are errors, never ignored.
 */
static void check_unknown_fields(struct parse_ctx *ctx, json_t *obj, const char *path,
                                 const char *const *known)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        bool found = false;
        for (const char *const *name = known; *name && !found; name++)
            found = strcmp(key, *name) == 0;
        if (!found)
            field_error(ctx, path, key, "unknown field");
    }
}

/*
 * expect_object - true when value is an object; otherwise reports
 * "must be an object" at path and returns false.
 */
static bool expect_object(struct parse_ctx *ctx, json_t *value, const char *path)
{
    if (json_is_object(value))
        return true;
    field_error(ctx, path, NULL, "must be an object");
    return false;
}

/* read_string - obj[key] as a string without NULs; *ret_text is borrowed from obj. */
static enum member read_string(struct parse_ctx *ctx, json_t *obj, const char *path,
                               const char *key, const char **ret_text)
{
    json_t *value = json_object_get(obj, key);
    if (!value)
        return MEMBER_ABSENT;
    if (!json_is_string(value)) {
        field_error(ctx, path, key, "must be a string");
        return MEMBER_BAD;
    }
    const char *text = string_value(value);
    if (!text) {
        field_error(ctx, path, key, "must not contain a NUL character");
        return MEMBER_BAD;
    }
    *ret_text = text;
    return MEMBER_OK;
}

/* read_nullable_string - like read_string, but null counts as absent. */
static enum member read_nullable_string(struct parse_ctx *ctx, json_t *obj, const char *path,
                                        const char *key, const char **ret_text)
{
    if (json_is_null(json_object_get(obj, key)))
        return MEMBER_ABSENT;
    return read_string(ctx, obj, path, key, ret_text);
}

static enum member read_bool(struct parse_ctx *ctx, json_t *obj, const char *path,
                             const char *key, bool *ret_value)
{
    json_t *value = json_object_get(obj, key);
    if (!value)
        return MEMBER_ABSENT;
    if (!json_is_boolean(value)) {
        field_error(ctx, path, key, "must be true or false");
        return MEMBER_BAD;
    }
    *ret_value = json_is_true(value);
    return MEMBER_OK;
}

/* read_integer - obj[key] as an integer in [min, max]; *ret_value untouched unless OK. */
static enum member read_integer(struct parse_ctx *ctx, json_t *obj, const char *path,
                                const char *key, int64_t min, int64_t max, int64_t *ret_value)
{
    json_t *value = json_object_get(obj, key);
    if (!value)
        return MEMBER_ABSENT;
    if (!json_is_integer(value)) {
        field_error(ctx, path, key, "must be an integer");
        return MEMBER_BAD;
    }
    int64_t number = json_integer_value(value);
    if (number < min || number > max) {
        if (max == INT64_MAX)
            field_error(ctx, path, key, "must be at least %" PRId64, min);
        else
            field_error(ctx, path, key, "must be between %" PRId64 " and %" PRId64, min, max);
        return MEMBER_BAD;
    }
    *ret_value = number;
    return MEMBER_OK;
}

static enum member read_number(struct parse_ctx *ctx, json_t *obj, const char *path,
                               const char *key, double *ret_value)
{
    json_t *value = json_object_get(obj, key);
    if (!value)
        return MEMBER_ABSENT;
    if (!json_is_number(value)) {
        field_error(ctx, path, key, "must be a number");
        return MEMBER_BAD;
    }
    *ret_value = json_number_value(value);
    return MEMBER_OK;
}

/*
 * read_choice - obj[key] as one of names[0..count); *ret_index is its
 * position. noun names the kind of value in the message ("unknown type").
 */
static enum member read_choice(struct parse_ctx *ctx, json_t *obj, const char *path,
                               const char *key, const char *noun, const char *const *names,
                               size_t count, int *ret_index)
{
    const char *text;
    enum member got = read_string(ctx, obj, path, key, &text);
    if (got != MEMBER_OK)
        return got;
    int found = name_index(text, names, count);
    if (found < 0) {
        char expected[256] = "";
        for (size_t i = 0; i < count; i++) {
            strncat(expected, i ? ", " : "", sizeof(expected) - strlen(expected) - 1);
            strncat(expected, names[i], sizeof(expected) - strlen(expected) - 1);
        }
        field_error(ctx, path, key, "unknown %s \"%.*s\" (expected one of: %s)", noun,
                    excerpt_length(text), text, expected);
        return MEMBER_BAD;
    }
    *ret_index = found;
    return MEMBER_OK;
}

/*
 * read_identifier - obj[key] as an SQL identifier; a copy in *ret_copy
 * (caller frees). Reserved names are refused when refuse_reserved.
 */
static enum member read_identifier(struct parse_ctx *ctx, json_t *obj, const char *path,
                                   const char *key, bool refuse_reserved, char **ret_copy)
{
    const char *text;
    enum member got = read_string(ctx, obj, path, key, &text);
    if (got != MEMBER_OK)
        return got;
    if (!identifier_is_valid(text)) {
        field_error(ctx, path, key,
                    "must be an SQL identifier: a letter or _, then letters, digits or _, "
                    "at most %d characters",
                    IDENTIFIER_MAX_LEN);
        return MEMBER_BAD;
    }
    if (refuse_reserved && identifier_is_reserved(text)) {
        field_error(ctx, path, key, "\"%s\" is reserved for the service's own tables", text);
        return MEMBER_BAD;
    }
    *ret_copy = ctx_strdup(ctx, text);
    return MEMBER_OK;
}

/* ---- top level ---------------------------------------------------------- */

static const char *const top_fields[] = {
    "name",         "priority",  "depends_on", "scheduled_at", "hold",     "request_id",
    "max_attempts", "timeout_s", "resources",  "source",       "target",   "on_error",
    NULL,
};

static void parse_name(struct parse_ctx *ctx, json_t *body, struct job_spec *spec)
{
    const char *name = "";
    if (read_string(ctx, body, "", "name", &name) == MEMBER_OK &&
        utf8_length(name) > SPEC_MAX_NAME_LEN) {
        field_error(ctx, "", "name", "must be at most %d characters", SPEC_MAX_NAME_LEN);
        name = "";
    }
    spec->name = ctx_strdup(ctx, name);
}

/* parse_timing - priority, scheduled_at (null = now), hold, max_attempts, timeout_s. */
static void parse_timing(struct parse_ctx *ctx, json_t *body,
                         const struct job_spec_defaults *defaults, struct job_spec *spec)
{
    int64_t priority = JOB_PRIORITY_DEFAULT;
    read_integer(ctx, body, "", "priority", JOB_PRIORITY_MIN, JOB_PRIORITY_MAX, &priority);
    spec->priority = (int)priority;

    const char *when;
    int64_t when_ms = 0;
    if (read_nullable_string(ctx, body, "", "scheduled_at", &when) == MEMBER_OK &&
        time_parse_rfc3339(when, &when_ms) != 0) {
        field_error(ctx, "", "scheduled_at",
                    "must be an RFC 3339 date-time such as \"2026-12-01T02:00:00Z\"");
        when_ms = 0;
    }
    spec->scheduled_at_ms = when_ms;
    read_bool(ctx, body, "", "hold", &spec->hold);

    int64_t attempts = defaults->max_attempts;
    read_integer(ctx, body, "", "max_attempts", 1, SPEC_MAX_ATTEMPTS, &attempts);
    spec->max_attempts = (int)attempts;
    spec->timeout_s = defaults->timeout_s;
    read_integer(ctx, body, "", "timeout_s", 1, SPEC_MAX_TIMEOUT_S, &spec->timeout_s);
}

/* parse_request_id - the idempotency key: absent or null = none. */
static void parse_request_id(struct parse_ctx *ctx, json_t *body, struct job_spec *spec)
{
    const char *text;
    if (read_nullable_string(ctx, body, "", "request_id", &text) != MEMBER_OK)
        return;
    if (!text[0])
        field_error(ctx, "", "request_id", "must not be empty");
    else if (strlen(text) > SPEC_MAX_REQUEST_ID_LEN)
        field_error(ctx, "", "request_id", "must be at most %d bytes", SPEC_MAX_REQUEST_ID_LEN);
    else
        spec->request_id = ctx_strdup(ctx, text);
}

/* add_unique - append text (taken over) to items unless already there; NULL is ignored. */
static void add_unique(char **items, size_t *count, char *text)
{
    if (!text)
        return;
    for (size_t i = 0; i < *count; i++) {
        if (strcmp(items[i], text) == 0) {
            free(text);
            return;
        }
    }
    items[(*count)++] = text;
}

/* parse_depends_on - job ids, lower-cased and deduplicated. */
static void parse_depends_on(struct parse_ctx *ctx, json_t *body, struct job_spec *spec)
{
    json_t *array = json_object_get(body, "depends_on");
    if (!array)
        return;
    if (!json_is_array(array)) {
        field_error(ctx, "", "depends_on", "must be an array of job ids");
        return;
    }
    if (json_array_size(array) > SPEC_MAX_DEPENDENCIES) {
        field_error(ctx, "", "depends_on", "must have at most %d entries", SPEC_MAX_DEPENDENCIES);
        return;
    }
    spec->depends_on = ctx_calloc(ctx, json_array_size(array), sizeof(*spec->depends_on));
    if (!spec->depends_on)
        return;
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        const char *id = string_value(item);
        if (!id || !uuid_is_valid(id))
            item_error(ctx, "", "depends_on", i, "must be a job id (UUID)");
        else
            add_unique(spec->depends_on, &spec->depends_on_count, lowercase_copy(ctx, id));
    }
}

/* ---- resources ---------------------------------------------------------- */

static const char *const resource_fields[] = {"name", "mode", NULL};

/* The spec's own resources, before the target tables are merged in. */
struct resource_list {
    struct job_resource *items;
    size_t count;
};

static void resource_list_clear(struct resource_list *list)
{
    for (size_t i = 0; list->items && i < list->count; i++)
        free(list->items[i].name);
    free(list->items);
    memset(list, 0, sizeof(*list));
}

/*
 * resource_name_copy - the lock name as stored: "table:..." names are
 * lower-cased because SQL table names are case-insensitive, so "table:Users"
 * and the implied "table:users" are the same lock. Caller frees.
 */
static char *resource_name_copy(struct parse_ctx *ctx, const char *name)
{
    if (strncasecmp(name, "table:", strlen("table:")) == 0)
        return lowercase_copy(ctx, name);
    return ctx_strdup(ctx, name);
}

static bool resource_name_is_printable(const char *name)
{
    for (const char *p = name; *p; p++) {
        if (*p < 0x20 || *p > 0x7e)
            return false;
    }
    return true;
}

/* parse_resource - one {"name", "mode"} entry at path. */
static void parse_resource(struct parse_ctx *ctx, json_t *item, const char *path,
                           struct job_resource *ret_resource)
{
    if (!expect_object(ctx, item, path))
        return;
    check_unknown_fields(ctx, item, path, resource_fields);
    const char *name;
    enum member got = read_string(ctx, item, path, "name", &name);
    if (got == MEMBER_ABSENT)
        field_error(ctx, path, "name", "is required");
    else if (got == MEMBER_OK && (!name[0] || strlen(name) > SPEC_MAX_NAME_LEN))
        field_error(ctx, path, "name", "must be 1 to %d characters", SPEC_MAX_NAME_LEN);
    else if (got == MEMBER_OK && !resource_name_is_printable(name))
        field_error(ctx, path, "name", "must be printable ASCII");
    else if (got == MEMBER_OK)
        ret_resource->name = resource_name_copy(ctx, name);
    int mode = LOCK_EXCLUSIVE;
    read_choice(ctx, item, path, "mode", "mode", lock_mode_names, COUNT_OF(lock_mode_names),
                &mode);
    ret_resource->mode = (enum lock_mode)mode;
}

/* parse_resources - the spec's "resources" array into list. */
static void parse_resources(struct parse_ctx *ctx, json_t *body, struct resource_list *list)
{
    json_t *array = json_object_get(body, "resources");
    if (!array)
        return;
    if (!json_is_array(array)) {
        field_error(ctx, "", "resources", "must be an array");
        return;
    }
    if (json_array_size(array) > SPEC_MAX_RESOURCES) {
        field_error(ctx, "", "resources", "must have at most %d entries", SPEC_MAX_RESOURCES);
        return;
    }
    list->items = ctx_calloc(ctx, json_array_size(array), sizeof(*list->items));
    if (!list->items)
        return;
    list->count = json_array_size(array);
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        char *path = index_path(ctx, "", "resources", i);
        if (path)
            parse_resource(ctx, item, path, &list->items[i]);
        free(path);
    }
}

/*
 * resource_add - add name (taken over) to spec->resources, which has room;
 * a name already there keeps the stronger mode (exclusive wins).
 */
static void resource_add(struct job_spec *spec, char *name, enum lock_mode mode)
{
    if (!name)
        return;
    for (size_t i = 0; i < spec->resource_count; i++) {
        if (strcmp(spec->resources[i].name, name) == 0) {
            if (mode == LOCK_EXCLUSIVE)
                spec->resources[i].mode = LOCK_EXCLUSIVE;
            free(name);
            return;
        }
    }
    spec->resources[spec->resource_count].name = name;
    spec->resources[spec->resource_count].mode = mode;
    spec->resource_count++;
}

/* table_resource_name - "table:<table>" lower-cased. Caller frees; NULL on OOM. */
static char *table_resource_name(struct parse_ctx *ctx, const char *table)
{
    char *name = NULL;
    if (asprintf(&name, "table:%s", table) < 0) {
        ctx->out_of_memory = true;
        return NULL;
    }
    char *lowered = lowercase_copy(ctx, name);
    free(name);
    return lowered;
}

/*
 * build_resources - the locks of the spec: table:<target> and
 * table:<child> exclusive first, then the spec's own (list).
 */
static void build_resources(struct parse_ctx *ctx, struct job_spec *spec,
                            const struct resource_list *list)
{
    size_t capacity = 1 + spec->target.child_count + list->count;
    spec->resources = ctx_calloc(ctx, capacity, sizeof(*spec->resources));
    if (!spec->resources)
        return;
    if (spec->target.table)
        resource_add(spec, table_resource_name(ctx, spec->target.table), LOCK_EXCLUSIVE);
    for (size_t i = 0; i < spec->target.child_count; i++) {
        if (spec->target.children[i].table)
            resource_add(spec, table_resource_name(ctx, spec->target.children[i].table),
                         LOCK_EXCLUSIVE);
    }
    for (size_t i = 0; i < list->count; i++) {
        if (list->items[i].name)
            resource_add(spec, ctx_strdup(ctx, list->items[i].name), list->items[i].mode);
    }
    if (spec->resource_count > SPEC_MAX_RESOURCES)
        field_error(ctx, "", "resources",
                    "at most %d resources in all, counting the locks on the target tables",
                    SPEC_MAX_RESOURCES);
}

/* ---- source ------------------------------------------------------------- */

static const char *const source_fields[] = {"format", "path", "upload", "csv", "json", NULL};
static const char *const csv_fields[] = {"delimiter", "quote", "header", "null", "skip_rows",
                                         NULL};
static const char *const json_fields[] = {"records", NULL};

/* format_from_path - .ndjson/.jsonl: ndjson, .json: json, anything else: csv. */
static enum source_format format_from_path(const char *path)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (dot && (strcasecmp(dot, ".ndjson") == 0 || strcasecmp(dot, ".jsonl") == 0))
        return SOURCE_NDJSON;
    if (dot && strcasecmp(dot, ".json") == 0)
        return SOURCE_JSON;
    return SOURCE_CSV;
}

static void parse_source_path(struct parse_ctx *ctx, const char *path, struct source_spec *source)
{
    if (!path[0])
        field_error(ctx, "source", "path", "must not be empty");
    else if (strlen(path) > SPEC_MAX_PATH_LEN)
        field_error(ctx, "source", "path", "must be at most %d bytes", SPEC_MAX_PATH_LEN);
    else if (!spec_path_is_safe(path))
        field_error(ctx, "source", "path",
                    "must be a relative path inside the import root "
                    "(no leading \"/\", no \"..\" component, no backslash)");
    else
        source->path = ctx_strdup(ctx, path);
}

/* parse_source_location - exactly one of path and upload. */
static void parse_source_location(struct parse_ctx *ctx, json_t *obj, struct source_spec *source)
{
    const char *path = NULL;
    const char *upload = NULL;
    enum member got_path = read_string(ctx, obj, "source", "path", &path);
    enum member got_upload = read_string(ctx, obj, "source", "upload", &upload);
    if (got_path == MEMBER_ABSENT && got_upload == MEMBER_ABSENT) {
        field_error(ctx, "source", NULL, "one of path or upload is required");
        return;
    }
    if (got_path != MEMBER_ABSENT && got_upload != MEMBER_ABSENT) {
        field_error(ctx, "source", NULL, "give either path or upload, not both");
        return;
    }
    if (got_path == MEMBER_OK)
        parse_source_path(ctx, path, source);
    if (got_upload == MEMBER_OK && !uuid_is_valid(upload))
        field_error(ctx, "source", "upload", "must be an upload id (UUID)");
    else if (got_upload == MEMBER_OK)
        source->upload = lowercase_copy(ctx, upload);
}

/*
 * parse_csv_char - a one-character option: ASCII, not a line break.
 * Returns false when it was given but is wrong.
 */
static bool parse_csv_char(struct parse_ctx *ctx, json_t *obj, const char *key, char *ret_char)
{
    const char *text;
    enum member got = read_string(ctx, obj, "source.csv", key, &text);
    if (got != MEMBER_OK)
        return got == MEMBER_ABSENT;
    unsigned char c = (unsigned char)text[0];
    if (strlen(text) != 1 || c >= 0x80 || c == '\n' || c == '\r') {
        field_error(ctx, "source.csv", key, "must be one ASCII character other than a line break");
        return false;
    }
    *ret_char = (char)c;
    return true;
}

/* parse_csv_options - source.csv; defaults are set by the caller. */
static void parse_csv_options(struct parse_ctx *ctx, json_t *obj, struct csv_options *csv)
{
    if (!expect_object(ctx, obj, "source.csv"))
        return;
    check_unknown_fields(ctx, obj, "source.csv", csv_fields);
    bool delimiter_ok = parse_csv_char(ctx, obj, "delimiter", &csv->delimiter);
    bool quote_ok = parse_csv_char(ctx, obj, "quote", &csv->quote);
    if (delimiter_ok && quote_ok && csv->delimiter == csv->quote) {
        if (json_object_get(obj, "quote"))
            field_error(ctx, "source.csv", "quote", "must differ from the delimiter");
        else
            field_error(ctx, "source.csv", "delimiter", "must differ from the quote character");
    }
    read_bool(ctx, obj, "source.csv", "header", &csv->header);
    const char *marker;
    if (read_string(ctx, obj, "source.csv", "null", &marker) == MEMBER_OK) {
        if (strlen(marker) > SPEC_MAX_NAME_LEN) {
            field_error(ctx, "source.csv", "null", "must be at most %d bytes", SPEC_MAX_NAME_LEN);
        } else {
            free(csv->null_marker);
            csv->null_marker = ctx_strdup(ctx, marker);
        }
    }
    read_integer(ctx, obj, "source.csv", "skip_rows", 0, INT64_MAX, &csv->skip_rows);
}

/* parse_json_options - source.json: {"records": JSON pointer}. */
static void parse_json_options(struct parse_ctx *ctx, json_t *obj, struct source_spec *source)
{
    if (!expect_object(ctx, obj, "source.json"))
        return;
    check_unknown_fields(ctx, obj, "source.json", json_fields);
    const char *records;
    if (read_string(ctx, obj, "source.json", "records", &records) != MEMBER_OK)
        return;
    if (!json_pointer_is_valid(records)) {
        field_error(ctx, "source.json", "records",
                    "must be a JSON pointer: \"\" or starting with \"/\"");
        return;
    }
    free(source->json_records);
    source->json_records = ctx_strdup(ctx, records);
}

/* parse_source_format - source.format, or the format the path's extension implies. */
static struct format_info parse_source_format(struct parse_ctx *ctx, json_t *obj,
                                              struct source_spec *source)
{
    struct format_info format = {.format = SOURCE_CSV, .known = true};
    int found = SOURCE_CSV;
    enum member got = read_choice(ctx, obj, "source", "format", "format", source_format_names,
                                  COUNT_OF(source_format_names), &found);
    if (got == MEMBER_BAD)
        format.known = false;
    else if (got == MEMBER_OK)
        format.format = (enum source_format)found;
    else
        format.format = format_from_path(string_value(json_object_get(obj, "path")));
    source->format = format.format;
    return format;
}

/* source_set_defaults - the defaults of every optional source field. */
static void source_set_defaults(struct parse_ctx *ctx, struct source_spec *source)
{
    source->csv.delimiter = ',';
    source->csv.quote = '"';
    source->csv.header = true;
    source->csv.null_marker = ctx_strdup(ctx, "");
    source->csv.skip_rows = 0;
    source->json_records = ctx_strdup(ctx, "");
}

/*
 * parse_source - the "source" object into source. Returns what is known
 * about the format, which the target's checks depend on.
 */
static struct format_info parse_source(struct parse_ctx *ctx, json_t *obj,
                                       struct source_spec *source)
{
    struct format_info unknown = {.format = SOURCE_CSV, .known = false};
    source_set_defaults(ctx, source);
    if (!obj) {
        field_error(ctx, "source", NULL, "is required");
        return unknown;
    }
    if (!expect_object(ctx, obj, "source"))
        return unknown;
    check_unknown_fields(ctx, obj, "source", source_fields);
    parse_source_location(ctx, obj, source);
    struct format_info format = parse_source_format(ctx, obj, source);
    json_t *csv = json_object_get(obj, "csv");
    if (csv && format.known && format.format != SOURCE_CSV)
        field_error(ctx, "source", "csv", "is only allowed for csv sources");
    else if (csv)
        parse_csv_options(ctx, csv, &source->csv);
    json_t *json = json_object_get(obj, "json");
    if (json && format.known && format.format != SOURCE_JSON)
        field_error(ctx, "source", "json", "is only allowed for json sources");
    else if (json)
        parse_json_options(ctx, json, source);
    return format;
}

static void source_spec_clear(struct source_spec *source)
{
    free(source->path);
    free(source->upload);
    free(source->csv.null_marker);
    free(source->json_records);
    memset(source, 0, sizeof(*source));
}

/* ---- columns ------------------------------------------------------------ */

static const char *const column_fields[] = {
    "name", "type", "from", "required", "max_length", "pattern",
    "min",  "max",  "enum", "references", NULL,
};

static bool type_is_numeric(enum column_type type)
{
    return type == COLUMN_INTEGER || type == COLUMN_BIGINT || type == COLUMN_NUMERIC ||
           type == COLUMN_REAL;
}

/* parse_column_from - "from", defaulting to the name ("/" + name for JSON sources). */
static void parse_column_from(struct parse_ctx *ctx, json_t *obj, const char *path,
                              const struct format_info *format, struct column_spec *column)
{
    const char *from;
    enum member got = read_string(ctx, obj, path, "from", &from);
    if (got == MEMBER_ABSENT && column->name) {
        column->from = format_is_json(format) ? pointer_to_member(ctx, column->name)
                                              : ctx_strdup(ctx, column->name);
        return;
    }
    if (got != MEMBER_OK)
        return;
    if (format_is_json(format) && !json_member_pointer_is_valid(from))
        field_error(ctx, path, "from", "must be a JSON pointer such as \"/a/b\"");
    else if (!from[0])
        field_error(ctx, path, "from", "must be a non-empty CSV header name");
    else
        column->from = ctx_strdup(ctx, from);
}

/* pattern_check - compile pattern as a POSIX ERE to report whether it is valid. */
static void pattern_check(struct parse_ctx *ctx, const char *path, const char *pattern)
{
    regex_t regex;
    int rc = regcomp(&regex, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc == 0) {
        regfree(&regex);
        return;
    }
    char reason[128];
    regerror(rc, &regex, reason, sizeof(reason));
    field_error(ctx, path, "pattern", "invalid regular expression: %s", reason);
}

/* parse_column_text_checks - max_length and pattern, both for text columns only. */
static void parse_column_text_checks(struct parse_ctx *ctx, json_t *obj, const char *path,
                                     bool type_known, struct column_spec *column)
{
    bool is_text = type_known && column->type == COLUMN_TEXT;
    if (json_object_get(obj, "max_length") && type_known && !is_text)
        field_error(ctx, path, "max_length", "is only allowed for text columns");
    else
        read_integer(ctx, obj, path, "max_length", 1, INT64_MAX, &column->max_length);

    const char *pattern;
    if (json_object_get(obj, "pattern") && type_known && !is_text) {
        field_error(ctx, path, "pattern", "is only allowed for text columns");
        return;
    }
    if (read_string(ctx, obj, path, "pattern", &pattern) != MEMBER_OK)
        return;
    pattern_check(ctx, path, pattern);
    column->pattern = ctx_strdup(ctx, pattern);
}

/* parse_column_range - min and max, for numeric columns only; min <= max. */
static void parse_column_range(struct parse_ctx *ctx, json_t *obj, const char *path,
                               bool type_known, struct column_spec *column)
{
    static const char *const keys[] = {"min", "max"};
    for (size_t i = 0; i < COUNT_OF(keys); i++) {
        if (json_object_get(obj, keys[i]) && type_known && !type_is_numeric(column->type)) {
            field_error(ctx, path, keys[i],
                        "is only allowed for integer, bigint, numeric and real columns");
            return;
        }
    }
    column->has_min = read_number(ctx, obj, path, "min", &column->min) == MEMBER_OK;
    column->has_max = read_number(ctx, obj, path, "max", &column->max) == MEMBER_OK;
    if (column->has_min && column->has_max && column->min > column->max)
        field_error(ctx, path, "max", "must not be less than min");
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

/* parse_column_enum - a non-empty array of strings or numbers, kept as text. */
static void parse_column_enum(struct parse_ctx *ctx, json_t *obj, const char *path,
                              struct column_spec *column)
{
    json_t *array = json_object_get(obj, "enum");
    if (!array)
        return;
    if (!json_is_array(array) || json_array_size(array) == 0) {
        field_error(ctx, path, "enum", "must be a non-empty array of strings or numbers");
        return;
    }
    column->enum_values = ctx_calloc(ctx, json_array_size(array), sizeof(char *));
    if (!column->enum_values)
        return;
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        if (!(json_is_number(item) || string_value(item))) {
            item_error(ctx, path, "enum", i, "must be a string or a number");
            continue;
        }
        char *text = enum_value_text(item);
        if (!text)
            ctx->out_of_memory = true;
        else
            column->enum_values[column->enum_count++] = text;
    }
}

/* parse_column_references - "table.column", both identifiers, table not reserved. */
static void parse_column_references(struct parse_ctx *ctx, json_t *obj, const char *path,
                                    struct column_spec *column)
{
    const char *text;
    if (read_string(ctx, obj, path, "references", &text) != MEMBER_OK)
        return;
    const char *dot = strchr(text, '.');
    char *table = dot ? strndup(text, (size_t)(dot - text)) : NULL;
    if (dot && !table) {
        ctx->out_of_memory = true;
        return;
    }
    if (!table || !identifier_is_valid(table) || !identifier_is_valid(dot + 1))
        field_error(ctx, path, "references", "must be \"table.column\" with SQL identifiers");
    else if (identifier_is_reserved(table))
        field_error(ctx, path, "references", "must not name one of the service's own tables");
    else {
        column->references_table = table;
        column->references_column = ctx_strdup(ctx, dot + 1);
        return;
    }
    free(table);
}

/* parse_column - one target column object at path ("target.columns[2]"). */
static void parse_column(struct parse_ctx *ctx, json_t *obj, const char *path,
                         const struct format_info *format, struct column_spec *column)
{
    column->max_length = -1;
    if (!expect_object(ctx, obj, path))
        return;
    check_unknown_fields(ctx, obj, path, column_fields);
    if (read_identifier(ctx, obj, path, "name", false, &column->name) == MEMBER_ABSENT)
        field_error(ctx, path, "name", "is required");
    int type = COLUMN_TEXT;
    bool type_known = read_choice(ctx, obj, path, "type", "type", column_type_names,
                                  COLUMN_TYPE_COUNT, &type) != MEMBER_BAD;
    column->type = (enum column_type)type;
    parse_column_from(ctx, obj, path, format, column);
    read_bool(ctx, obj, path, "required", &column->required);
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
    string_array_free(column->enum_values, column->enum_count);
    free(column->references_table);
    free(column->references_column);
    memset(column, 0, sizeof(*column));
}

static void columns_free(struct column_spec *columns, size_t count)
{
    for (size_t i = 0; columns && i < count; i++)
        column_spec_clear(&columns[i]);
    free(columns);
}

/* column_index - position of name among columns (case-insensitive), -1 when absent. */
static long column_index(const struct column_spec *columns, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++) {
        if (columns[i].name && strcasecmp(columns[i].name, name) == 0)
            return (long)i;
    }
    return -1;
}

/* check_duplicate_columns - names must be unique, case-insensitively. */
static void check_duplicate_columns(struct parse_ctx *ctx, const char *path,
                                    const struct column_spec *columns, size_t count)
{
    for (size_t i = 1; i < count; i++) {
        if (!columns[i].name)
            continue;
        long first = column_index(columns, i, columns[i].name);
        if (first < 0)
            continue;
        char *item = index_path(ctx, path, "columns", i);
        if (item)
            field_error(ctx, item, "name", "duplicate column \"%s\" (same as columns[%ld])",
                        columns[i].name, first);
        free(item);
    }
}

/*
 * parse_columns - obj["columns"] (under path) into a new array. Returns how
 * reading went; *ret_columns is owned by the caller even when it is BAD.
 */
static enum member parse_columns(struct parse_ctx *ctx, json_t *obj, const char *path,
                                 const struct format_info *format,
                                 struct column_spec **ret_columns, size_t *ret_count)
{
    json_t *array = json_object_get(obj, "columns");
    if (!array)
        return MEMBER_ABSENT;
    if (!json_is_array(array)) {
        field_error(ctx, path, "columns", "must be an array of column objects");
        return MEMBER_BAD;
    }
    if (json_array_size(array) > SPEC_MAX_COLUMNS) {
        field_error(ctx, path, "columns", "must have at most %d entries", SPEC_MAX_COLUMNS);
        return MEMBER_BAD;
    }
    *ret_columns = ctx_calloc(ctx, json_array_size(array), sizeof(**ret_columns));
    if (!*ret_columns)
        return MEMBER_BAD;
    *ret_count = json_array_size(array);
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        char *item_path = index_path(ctx, path, "columns", i);
        if (item_path)
            parse_column(ctx, item, item_path, format, &(*ret_columns)[i]);
        free(item_path);
    }
    check_duplicate_columns(ctx, path, *ret_columns, *ret_count);
    return MEMBER_OK;
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
        field_error(ctx, path, "key", "must be an array of at most %d column names",
                    SPEC_MAX_COLUMNS);
        return MEMBER_BAD;
    }
    *ret_key = ctx_calloc(ctx, json_array_size(array), sizeof(char *));
    if (!*ret_key)
        return MEMBER_BAD;
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        const char *name = string_value(item);
        if (!name || !identifier_is_valid(name)) {
            item_error(ctx, path, "key", i, "must be an SQL identifier");
            continue;
        }
        bool duplicate = false;
        for (size_t k = 0; k < *ret_count && !duplicate; k++)
            duplicate = strcasecmp((*ret_key)[k], name) == 0;
        if (duplicate) {
            item_error(ctx, path, "key", i, "duplicate key column \"%s\"", name);
            continue;
        }
        char *copy = ctx_strdup(ctx, name);
        if (copy)
            (*ret_key)[(*ret_count)++] = copy;
    }
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
    for (size_t i = 0; i < key_count; i++) {
        bool found = column_index(columns, column_count, key[i]) >= 0;
        for (size_t k = 0; k < extra_count && !found; k++)
            found = extra[k] && strcasecmp(extra[k], key[i]) == 0;
        if (!found)
            item_error(ctx, path, "key", i, "\"%s\" is not one of the columns", key[i]);
    }
}

/* ---- children ----------------------------------------------------------- */

static const char *const child_fields[] = {"table", "from", "parent_key", "key", "columns", NULL};

/* parse_child_table - table: an identifier, not reserved, not the parent table. */
static void parse_child_table(struct parse_ctx *ctx, json_t *obj, const char *path,
                              const struct target_spec *target, struct child_spec *child)
{
    enum member got = read_identifier(ctx, obj, path, "table", true, &child->table);
    if (got == MEMBER_ABSENT)
        field_error(ctx, path, "table", "is required");
    else if (got == MEMBER_OK && target->table && strcasecmp(child->table, target->table) == 0)
        field_error(ctx, path, "table", "must differ from target.table");
}

/* parse_child_from - the JSON pointer of the nested array; default "/<table>". */
static void parse_child_from(struct parse_ctx *ctx, json_t *obj, const char *path,
                             struct child_spec *child)
{
    const char *from;
    enum member got = read_string(ctx, obj, path, "from", &from);
    if (got == MEMBER_ABSENT && child->table) {
        child->from = pointer_to_member(ctx, child->table);
    } else if (got == MEMBER_OK && !json_member_pointer_is_valid(from)) {
        field_error(ctx, path, "from", "must be a JSON pointer such as \"/task_list\"");
    } else if (got == MEMBER_OK) {
        child->from = ctx_strdup(ctx, from);
    }
}

/* parse_parent_key_entry - one "child_col": "parent_col" pair into slot i. */
static void parse_parent_key_entry(struct parse_ctx *ctx, const char *path, const char *child_col,
                                   json_t *value, const struct target_spec *target,
                                   struct child_spec *child, size_t i)
{
    const char *parent_col = string_value(value);
    if (!identifier_is_valid(child_col)) {
        field_error(ctx, path, child_col, "the child column must be an SQL identifier");
    } else if (!parent_col || !identifier_is_valid(parent_col)) {
        field_error(ctx, path, child_col, "must name a parent column (an SQL identifier)");
    } else if (target->column_count > 0 &&
               column_index(target->columns, target->column_count, parent_col) < 0) {
        field_error(ctx, path, child_col, "\"%s\" is not one of the target columns", parent_col);
    } else {
        child->parent_key_child[i] = ctx_strdup(ctx, child_col);
        child->parent_key_parent[i] = ctx_strdup(ctx, parent_col);
    }
}

/* parse_parent_key - {"child_col": "parent_col", ...}, required and non-empty. */
static void parse_parent_key(struct parse_ctx *ctx, json_t *obj, const char *path,
                             const struct target_spec *target, struct child_spec *child)
{
    json_t *map = json_object_get(obj, "parent_key");
    if (!map) {
        field_error(ctx, path, "parent_key", "is required");
        return;
    }
    size_t count = json_object_size(map);
    if (!json_is_object(map) || count == 0 || count > SPEC_MAX_COLUMNS) {
        field_error(ctx, path, "parent_key",
                    "must be a non-empty object {\"child column\": \"parent column\"}");
        return;
    }
    char *map_path = join_path(path, "parent_key");
    child->parent_key_child = ctx_calloc(ctx, count, sizeof(char *));
    child->parent_key_parent = ctx_calloc(ctx, count, sizeof(char *));
    if (!map_path || !child->parent_key_child || !child->parent_key_parent) {
        ctx->out_of_memory = true;
        free(map_path);
        return;
    }
    child->parent_key_count = count;
    size_t i = 0;
    const char *child_col;
    json_t *value;
    json_object_foreach(map, child_col, value) {
        parse_parent_key_entry(ctx, map_path, child_col, value, target, child, i++);
    }
    free(map_path);
}

/* parse_child - one entry of target.children at path. */
static void parse_child(struct parse_ctx *ctx, json_t *obj, const char *path,
                        const struct format_info *format, const struct target_spec *target,
                        struct child_spec *child)
{
    if (!expect_object(ctx, obj, path))
        return;
    check_unknown_fields(ctx, obj, path, child_fields);
    parse_child_table(ctx, obj, path, target, child);
    parse_child_from(ctx, obj, path, child);
    enum member got_columns =
        parse_columns(ctx, obj, path, format, &child->columns, &child->column_count);
    parse_parent_key(ctx, obj, path, target, child);
    if (parse_key(ctx, obj, path, &child->key, &child->key_count) == MEMBER_OK)
        check_key_columns(ctx, path, child->key, child->key_count, child->columns,
                          child->column_count, child->parent_key_child, child->parent_key_count);
    if (target->create && got_columns != MEMBER_BAD && child->column_count == 0)
        field_error(ctx, path, "columns", "is required when target.create is true");
}

static void child_spec_clear(struct child_spec *child)
{
    free(child->table);
    free(child->from);
    string_array_free(child->parent_key_child, child->parent_key_count);
    string_array_free(child->parent_key_parent, child->parent_key_count);
    string_array_free(child->key, child->key_count);
    columns_free(child->columns, child->column_count);
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
        field_error(ctx, "target", "children", "must be an array of at most %d child objects",
                    SPEC_MAX_CHILDREN);
        return;
    }
    if (json_array_size(array) == 0)
        return;
    if (format->known && format->format == SOURCE_CSV) {
        field_error(ctx, "target", "children", "is only allowed for json and ndjson sources");
        return;
    }
    target->children = ctx_calloc(ctx, json_array_size(array), sizeof(*target->children));
    if (!target->children)
        return;
    target->child_count = json_array_size(array);
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        char *path = index_path(ctx, "target", "children", i);
        if (path)
            parse_child(ctx, item, path, format, target, &target->children[i]);
        free(path);
    }
}

/* ---- target ------------------------------------------------------------- */

static const char *const target_fields[] = {"database", "table",   "mode",     "key",
                                            "create",   "columns", "children", NULL};

/* parse_target_names - table (required, not reserved) and database (optional). */
static void parse_target_names(struct parse_ctx *ctx, json_t *obj, struct target_spec *target)
{
    if (read_identifier(ctx, obj, "target", "table", true, &target->table) == MEMBER_ABSENT)
        field_error(ctx, "target", "table", "is required");
    if (!json_is_null(json_object_get(obj, "database")))
        read_identifier(ctx, obj, "target", "database", false, &target->database);
}

/* check_target_rules - upsert needs a key, append takes none, create needs columns. */
static void check_target_rules(struct parse_ctx *ctx, const struct target_spec *target,
                               enum member got_key, enum member got_columns)
{
    if (target->mode == TARGET_UPSERT && got_key != MEMBER_BAD && target->key_count == 0)
        field_error(ctx, "target", "key", "is required (non-empty) for mode upsert");
    if (target->mode == TARGET_APPEND && target->key_count > 0)
        field_error(ctx, "target", "key", "is not allowed for mode append");
    if (target->create && got_columns != MEMBER_BAD && target->column_count == 0)
        field_error(ctx, "target", "columns", "is required when create is true");
}

/* parse_target - the "target" object into target (which starts zeroed). */
static void parse_target(struct parse_ctx *ctx, json_t *obj, const struct format_info *format,
                         struct target_spec *target)
{
    if (!obj) {
        field_error(ctx, "target", NULL, "is required");
        return;
    }
    if (!expect_object(ctx, obj, "target"))
        return;
    check_unknown_fields(ctx, obj, "target", target_fields);
    parse_target_names(ctx, obj, target);
    int mode = TARGET_INSERT;
    read_choice(ctx, obj, "target", "mode", "mode", target_mode_names,
                COUNT_OF(target_mode_names), &mode);
    target->mode = (enum target_mode)mode;
    read_bool(ctx, obj, "target", "create", &target->create);
    enum member got_columns =
        parse_columns(ctx, obj, "target", format, &target->columns, &target->column_count);
    enum member got_key = parse_key(ctx, obj, "target", &target->key, &target->key_count);
    if (got_key == MEMBER_OK)
        check_key_columns(ctx, "target", target->key, target->key_count, target->columns,
                          target->column_count, NULL, 0);
    check_target_rules(ctx, target, got_key, got_columns);
    parse_children(ctx, obj, format, target);
}

/* target_spec_clear - NULL-safe and safe on a half-parsed target; leaves it zeroed. */
void target_spec_clear(struct target_spec *target)
{
    if (!target)
        return;
    free(target->database);
    free(target->table);
    string_array_free(target->key, target->key_count);
    columns_free(target->columns, target->column_count);
    for (size_t i = 0; target->children && i < target->child_count; i++)
        child_spec_clear(&target->children[i]);
    free(target->children);
    memset(target, 0, sizeof(*target));
}

/* ---- on_error ----------------------------------------------------------- */

static const char *const on_error_fields[] = {"action", "max_rejects", NULL};

static void parse_on_error(struct parse_ctx *ctx, json_t *obj, struct on_error_spec *on_error)
{
    on_error->action = ON_ERROR_ABORT;
    on_error->max_rejects = 0;
    if (!obj || !expect_object(ctx, obj, "on_error"))
        return;
    check_unknown_fields(ctx, obj, "on_error", on_error_fields);
    int action = ON_ERROR_ABORT;
    read_choice(ctx, obj, "on_error", "action", "action", error_action_names,
                COUNT_OF(error_action_names), &action);
    on_error->action = (enum error_action)action;
    read_integer(ctx, obj, "on_error", "max_rejects", 0, INT64_MAX, &on_error->max_rejects);
}

/* ---- normalised JSON ---------------------------------------------------- *
 * Built from the typed structs once they are valid, so what is stored is
 * exactly what the pipeline runs, and parsing it again gives it back.
 * Each builder returns a new reference, or NULL when memory ran out
 * (json_object_set_new and json_array_append_new accept a NULL value and
 * fail, so errors are collected with |=).
 */

static json_t *string_array_json(char *const *items, size_t count)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < count; i++) {
        if (json_array_append_new(array, json_string(items[i])) != 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

/* number_json - an integer when the value is one (5, not 5.0), else a real. */
static json_t *number_json(double value)
{
    if (value > -9007199254740992.0 && value < 9007199254740992.0 &&
        (double)(json_int_t)value == value)
        return json_integer((json_int_t)value);
    return json_real(value);
}

/* finish_object - obj when rc is 0, else NULL (obj released). */
static json_t *finish_object(json_t *obj, int rc)
{
    if (rc == 0)
        return obj;
    json_decref(obj);
    return NULL;
}

/* column_checks_json - the optional checks of a column into out. Returns 0 or -1. */
static int column_checks_json(const struct column_spec *column, json_t *out)
{
    int rc = 0;
    if (column->max_length >= 0)
        rc |= json_object_set_new(out, "max_length", json_integer(column->max_length));
    if (column->pattern)
        rc |= json_object_set_new(out, "pattern", json_string(column->pattern));
    if (column->has_min)
        rc |= json_object_set_new(out, "min", number_json(column->min));
    if (column->has_max)
        rc |= json_object_set_new(out, "max", number_json(column->max));
    if (column->enum_values)
        rc |= json_object_set_new(out, "enum",
                                  string_array_json(column->enum_values, column->enum_count));
    if (column->references_table)
        rc |= json_object_set_new(out, "references",
                                  json_sprintf("%s.%s", column->references_table,
                                               column->references_column));
    return rc;
}

static json_t *column_json(const struct column_spec *column)
{
    json_t *out = json_object();
    if (!out)
        return NULL;
    int rc = 0;
    rc |= json_object_set_new(out, "name", json_string(column->name));
    rc |= json_object_set_new(out, "type", json_string(column_type_name(column->type)));
    rc |= json_object_set_new(out, "from", json_string(column->from));
    rc |= json_object_set_new(out, "required", json_boolean(column->required));
    rc |= column_checks_json(column, out);
    return finish_object(out, rc);
}

static json_t *columns_json(const struct column_spec *columns, size_t count)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < count; i++) {
        if (json_array_append_new(array, column_json(&columns[i])) != 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

static json_t *parent_key_json(const struct child_spec *child)
{
    json_t *out = json_object();
    int rc = 0;
    for (size_t i = 0; out && i < child->parent_key_count; i++)
        rc |= json_object_set_new(out, child->parent_key_child[i],
                                  json_string(child->parent_key_parent[i]));
    return out ? finish_object(out, rc) : NULL;
}

static json_t *child_json(const struct child_spec *child)
{
    json_t *out = json_object();
    if (!out)
        return NULL;
    int rc = 0;
    rc |= json_object_set_new(out, "table", json_string(child->table));
    rc |= json_object_set_new(out, "from", json_string(child->from));
    rc |= json_object_set_new(out, "parent_key", parent_key_json(child));
    rc |= json_object_set_new(out, "key", string_array_json(child->key, child->key_count));
    rc |= json_object_set_new(out, "columns", columns_json(child->columns, child->column_count));
    return finish_object(out, rc);
}

static json_t *children_json(const struct target_spec *target)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < target->child_count; i++) {
        if (json_array_append_new(array, child_json(&target->children[i])) != 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

static json_t *target_json(const struct target_spec *target)
{
    json_t *out = json_object();
    if (!out)
        return NULL;
    int rc = 0;
    rc |= json_object_set_new(out, "table", json_string(target->table));
    if (target->database)
        rc |= json_object_set_new(out, "database", json_string(target->database));
    rc |= json_object_set_new(out, "mode", json_string(target_mode_name(target->mode)));
    rc |= json_object_set_new(out, "key", string_array_json(target->key, target->key_count));
    rc |= json_object_set_new(out, "create", json_boolean(target->create));
    rc |= json_object_set_new(out, "columns",
                              columns_json(target->columns, target->column_count));
    rc |= json_object_set_new(out, "children", children_json(target));
    return finish_object(out, rc);
}

static json_t *csv_options_json(const struct csv_options *csv)
{
    json_t *out = json_object();
    if (!out)
        return NULL;
    int rc = 0;
    rc |= json_object_set_new(out, "delimiter", json_stringn(&csv->delimiter, 1));
    rc |= json_object_set_new(out, "quote", json_stringn(&csv->quote, 1));
    rc |= json_object_set_new(out, "header", json_boolean(csv->header));
    rc |= json_object_set_new(out, "null", json_string(csv->null_marker));
    rc |= json_object_set_new(out, "skip_rows", json_integer(csv->skip_rows));
    return finish_object(out, rc);
}

static json_t *source_json(const struct source_spec *source)
{
    json_t *out = json_object();
    if (!out)
        return NULL;
    int rc = 0;
    rc |= json_object_set_new(out, "format", json_string(source_format_name(source->format)));
    if (source->path)
        rc |= json_object_set_new(out, "path", json_string(source->path));
    else
        rc |= json_object_set_new(out, "upload", json_string(source->upload));
    if (source->format == SOURCE_CSV)
        rc |= json_object_set_new(out, "csv", csv_options_json(&source->csv));
    if (source->format == SOURCE_JSON)
        rc |= json_object_set_new(out, "json", json_pack("{s:s}", "records", source->json_records));
    return finish_object(out, rc);
}

static json_t *on_error_json(const struct on_error_spec *on_error)
{
    return json_pack("{s:s,s:I}", "action", error_action_name(on_error->action), "max_rejects",
                     (json_int_t)on_error->max_rejects);
}

/* ---- entry points ------------------------------------------------------- */

/* job_spec_free - NULL-safe; every member may be missing (half-built spec). */
void job_spec_free(struct job_spec *spec)
{
    if (!spec)
        return;
    free(spec->name);
    string_array_free(spec->depends_on, spec->depends_on_count);
    free(spec->request_id);
    for (size_t i = 0; spec->resources && i < spec->resource_count; i++)
        free(spec->resources[i].name);
    free(spec->resources);
    source_spec_clear(&spec->source);
    target_spec_clear(&spec->target);
    json_decref(spec->source_json);
    json_decref(spec->target_json);
    json_decref(spec->on_error_json);
    free(spec);
}

/* parse_outcome - 0, or the error code (with err's message set) after a parse. */
static int parse_outcome(const struct parse_ctx *ctx, struct iq_error *err)
{
    if (ctx->out_of_memory)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory while checking the job spec");
    if (ctx->error_count > 0)
        return iq_error_set(err, IQ_E_INVALID, "invalid job spec: %zu problem%s",
                            ctx->error_count, ctx->error_count == 1 ? "" : "s");
    return 0;
}

/* parse_body - every section of body into spec; errors go to ctx. */
static void parse_body(struct parse_ctx *ctx, json_t *body,
                       const struct job_spec_defaults *defaults, struct job_spec *spec)
{
    struct resource_list own_resources = {0};
    check_unknown_fields(ctx, body, "", top_fields);
    parse_name(ctx, body, spec);
    parse_timing(ctx, body, defaults, spec);
    parse_request_id(ctx, body, spec);
    parse_depends_on(ctx, body, spec);
    parse_resources(ctx, body, &own_resources);
    struct format_info format = parse_source(ctx, json_object_get(body, "source"), &spec->source);
    parse_target(ctx, json_object_get(body, "target"), &format, &spec->target);
    parse_on_error(ctx, json_object_get(body, "on_error"), &spec->on_error);
    build_resources(ctx, spec, &own_resources);
    resource_list_clear(&own_resources);
}

/*
 * job_spec_parse - see job_spec.h. The normalised JSON is built only once
 * the whole body is valid, from the typed structs.
 */
int job_spec_parse(json_t *body, const struct job_spec_defaults *defaults,
                   struct job_spec **ret_spec, struct iq_error *err)
{
    *ret_spec = NULL;
    struct parse_ctx ctx = {.err = err};
    if (!json_is_object(body)) {
        field_error(&ctx, "", NULL, "the job spec must be a JSON object");
        return parse_outcome(&ctx, err);
    }
    struct job_spec *spec = calloc(1, sizeof(*spec));
    if (!spec)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory while checking the job spec");
    parse_body(&ctx, body, defaults ? defaults : &builtin_defaults, spec);
    int rc = parse_outcome(&ctx, err);
    if (rc == 0) {
        spec->source_json = source_json(&spec->source);
        spec->target_json = target_json(&spec->target);
        spec->on_error_json = on_error_json(&spec->on_error);
        if (!spec->source_json || !spec->target_json || !spec->on_error_json)
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory while checking the job spec");
    }
    if (rc != 0) {
        job_spec_free(spec);
        return rc;
    }
    *ret_spec = spec;
    return 0;
}

/* job_spec_parse_target - see job_spec.h; ret_normalised may be NULL. */
int job_spec_parse_target(json_t *target, enum source_format format,
                          struct target_spec *ret_target, json_t **ret_normalised,
                          struct iq_error *err)
{
    struct parse_ctx ctx = {.err = err};
    struct format_info info = {.format = format, .known = true};
    memset(ret_target, 0, sizeof(*ret_target));
    if (ret_normalised)
        *ret_normalised = NULL;
    parse_target(&ctx, target, &info, ret_target);
    int rc = parse_outcome(&ctx, err);
    if (rc == 0 && ret_normalised) {
        *ret_normalised = target_json(ret_target);
        if (!*ret_normalised)
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory while checking the target");
    }
    if (rc != 0)
        target_spec_clear(ret_target);
    return rc;
}

/*
 * resource_is_implied - true for the exclusive table:<t> lock that parsing
 * adds by itself for the target table and each child table of job.
 */
static bool resource_is_implied(const struct job *job, const struct job_resource *resource)
{
    const char *prefix = "table:";
    if (resource->mode != LOCK_EXCLUSIVE || strncmp(resource->name, prefix, strlen(prefix)) != 0)
        return false;
    const char *table = resource->name + strlen(prefix);
    const char *target_table = json_string_value(json_object_get(job->target, "table"));
    if (!target_table)
        target_table = job->target_table;
    if (target_table && strcasecmp(table, target_table) == 0)
        return true;
    json_t *children = json_object_get(job->target, "children");
    size_t i;
    json_t *child;
    json_array_foreach(children, i, child) {
        const char *child_table = json_string_value(json_object_get(child, "table"));
        if (child_table && strcasecmp(table, child_table) == 0)
            return true;
    }
    return false;
}

/* own_resources_json - the job's resources minus those parsing implies. */
static json_t *own_resources_json(const struct job *job)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < job->resource_count; i++) {
        const struct job_resource *resource = &job->resources[i];
        if (!resource->name || resource_is_implied(job, resource))
            continue;
        if (json_array_append_new(array, json_pack("{s:s,s:s}", "name", resource->name, "mode",
                                                   lock_mode_name(resource->mode))) != 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

/* set_copy - body[key] = a deep copy of value; nothing when value is NULL. 0 or -1. */
static int set_copy(json_t *body, const char *key, const json_t *value)
{
    if (!value)
        return 0;
    return json_object_set_new(body, key, json_deep_copy(value));
}

/*
 * job_spec_json_from_job - the body that parses back into job's spec. It
 * leaves out "hold" (the job's status says that, and a PUT cannot change
 * it), scheduled_at when unset, and the table locks parsing adds by itself.
 * Parts are deep copies, so the caller may edit the body. New reference;
 * NULL when job is NULL or memory ran out.
 */
json_t *job_spec_json_from_job(const struct job *job)
{
    if (!job)
        return NULL;
    json_t *body = json_object();
    if (!body)
        return NULL;
    char when[TIME_RFC3339_LEN];
    int rc = 0;
    rc |= json_object_set_new(body, "name", json_string(job->name ? job->name : ""));
    rc |= json_object_set_new(body, "priority", json_integer(job->priority));
    rc |= json_object_set_new(body, "depends_on",
                              string_array_json(job->depends_on, job->depends_on_count));
    if (job->scheduled_at_ms)
        rc |= json_object_set_new(body, "scheduled_at",
                                  json_string(time_format_rfc3339(job->scheduled_at_ms, when)));
    if (job->request_id)
        rc |= json_object_set_new(body, "request_id", json_string(job->request_id));
    rc |= json_object_set_new(body, "max_attempts", json_integer(job->max_attempts));
    rc |= json_object_set_new(body, "timeout_s", json_integer(job->timeout_s));
    rc |= json_object_set_new(body, "resources", own_resources_json(job));
    rc |= set_copy(body, "source", job->source);
    rc |= set_copy(body, "target", job->target);
    rc |= set_copy(body, "on_error", job->on_error);
    return finish_object(body, rc);
}
