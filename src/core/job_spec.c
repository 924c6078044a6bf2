/*
 * job_spec.c - the validator of the job spec (docs/job-spec.md): its entry
 * points (job_spec_parse, job_spec_parse_target, job_spec_free), the top
 * level of the body (name, priority, scheduled_at, hold, request_id,
 * max_attempts, timeout_s, depends_on) with the configured defaults, the
 * resources merged with the locks the target tables imply, and on_error.
 *
 * Every problem is recorded as a field error with its path
 * ("target.columns[2].type") and parsing goes on, so a client sees all of
 * its mistakes at once. Pure domain: no I/O.
 *
 * Not here: source (job_spec_source.c), columns (job_spec_column.c),
 * target and children (job_spec_target.c), the normalised JSON and
 * job_spec_json_from_job (job_spec_json.c), the readers and field errors
 * they all use (job_spec_read.c), identifiers and paths (identifier.c).
 */
#include "core/job_spec_internal.h"

#include "core/timeutil.h"
#include "core/uuid7.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Used when the caller passes no defaults (CONTRACT §1 defaults). */
static const struct job_spec_defaults builtin_defaults = {.max_attempts = 3, .timeout_s = 1800};

static const char *const error_action_names[] = {"abort", "skip"};
static const char *const lock_mode_names[] = {"exclusive", "shared"}; /* enum lock_mode order */

const char *error_action_name(enum error_action action)
{
    return (unsigned)action < COUNT_OF(error_action_names) ? error_action_names[action]
                                                           : "unknown";
}

/* utf8_length - characters (code points) in a valid UTF-8 string. */
static size_t utf8_length(const char *text)
{
    size_t count = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        count += (*p & 0xc0) != 0x80;
    return count;
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
    if (spec_read_string(ctx, body, "", "name", &name) == MEMBER_OK &&
        utf8_length(name) > SPEC_MAX_NAME_LEN) {
        spec_field_error(ctx, "", "name", "must be at most %d characters", SPEC_MAX_NAME_LEN);
        name = "";
    }
    spec->name = spec_strdup(ctx, name);
}

/* parse_timing - priority, scheduled_at (null = now), hold, max_attempts, timeout_s. */
static void parse_timing(struct parse_ctx *ctx, json_t *body,
                         const struct job_spec_defaults *defaults, struct job_spec *spec)
{
    int64_t priority = JOB_PRIORITY_DEFAULT;
    spec_read_integer(ctx, body, "", "priority", JOB_PRIORITY_MIN, JOB_PRIORITY_MAX, &priority);
    spec->priority = (int)priority;

    const char *when;
    int64_t when_ms = 0;
    if (spec_read_nullable_string(ctx, body, "", "scheduled_at", &when) == MEMBER_OK &&
        time_parse_rfc3339(when, &when_ms) != 0) {
        spec_field_error(ctx, "", "scheduled_at",
                         "must be an RFC 3339 date-time such as \"2026-12-01T02:00:00Z\"");
        when_ms = 0;
    }
    spec->scheduled_at_ms = when_ms;
    spec_read_bool(ctx, body, "", "hold", &spec->hold);

    int64_t attempts = defaults->max_attempts;
    spec_read_integer(ctx, body, "", "max_attempts", 1, SPEC_MAX_ATTEMPTS, &attempts);
    spec->max_attempts = (int)attempts;
    spec->timeout_s = defaults->timeout_s;
    spec_read_integer(ctx, body, "", "timeout_s", 1, SPEC_MAX_TIMEOUT_S, &spec->timeout_s);
}

/* parse_request_id - the idempotency key: absent or null = none. */
static void parse_request_id(struct parse_ctx *ctx, json_t *body, struct job_spec *spec)
{
    const char *text;
    if (spec_read_nullable_string(ctx, body, "", "request_id", &text) != MEMBER_OK)
        return;
    if (!text[0])
        spec_field_error(ctx, "", "request_id", "must not be empty");
    else if (strlen(text) > SPEC_MAX_REQUEST_ID_LEN)
        spec_field_error(ctx, "", "request_id", "must be at most %d bytes",
                         SPEC_MAX_REQUEST_ID_LEN);
    else
        spec->request_id = spec_strdup(ctx, text);
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
    json_t *array;
    if (spec_read_array(ctx, body, "", "depends_on", SPEC_MAX_DEPENDENCIES,
                        "must be an array of job ids", &array) != MEMBER_OK)
        return;
    spec->depends_on = spec_calloc(ctx, json_array_size(array), sizeof(*spec->depends_on));
    if (!spec->depends_on)
        return;
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        const char *id = spec_string_value(item);
        if (!id || !uuid_is_valid(id))
            spec_item_error(ctx, "", "depends_on", i, "must be a job id (UUID)");
        else
            add_unique(spec->depends_on, &spec->depends_on_count, spec_lowercase_copy(ctx, id));
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
    if (strncasecmp(name, TABLE_RESOURCE_PREFIX, strlen(TABLE_RESOURCE_PREFIX)) == 0)
        return spec_lowercase_copy(ctx, name);
    return spec_strdup(ctx, name);
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
    if (!spec_expect_object(ctx, item, path))
        return;
    spec_check_unknown_fields(ctx, item, path, resource_fields);
    const char *name;
    enum member got = spec_read_string(ctx, item, path, "name", &name);
    if (got == MEMBER_ABSENT)
        spec_field_error(ctx, path, "name", "is required");
    else if (got == MEMBER_OK && (!name[0] || strlen(name) > SPEC_MAX_NAME_LEN))
        spec_field_error(ctx, path, "name", "must be 1 to %d characters", SPEC_MAX_NAME_LEN);
    else if (got == MEMBER_OK && !resource_name_is_printable(name))
        spec_field_error(ctx, path, "name", "must be printable ASCII");
    else if (got == MEMBER_OK)
        ret_resource->name = resource_name_copy(ctx, name);
    int mode = LOCK_EXCLUSIVE;
    spec_read_choice(ctx, item, path, "mode", "mode", lock_mode_names,
                     COUNT_OF(lock_mode_names), &mode);
    ret_resource->mode = (enum lock_mode)mode;
}

/* parse_resources - the spec's "resources" array into list. */
static void parse_resources(struct parse_ctx *ctx, json_t *body, struct resource_list *list)
{
    json_t *array;
    if (spec_read_array(ctx, body, "", "resources", SPEC_MAX_RESOURCES, "must be an array",
                        &array) != MEMBER_OK)
        return;
    list->items = spec_calloc(ctx, json_array_size(array), sizeof(*list->items));
    if (!list->items)
        return;
    list->count = json_array_size(array);
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        char *path = spec_index_path(ctx, "", "resources", i);
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
    char *name = spec_concat(ctx, TABLE_RESOURCE_PREFIX, table);
    if (!name)
        return NULL;
    char *lowered = spec_lowercase_copy(ctx, name);
    free(name);
    return lowered;
}

/*
 * add_table_locks - table:<table> exclusive, and for "schema.table" also
 * table:<table>: the same table may be named with and without its schema
 * ("users" resolving in public, "public.users"), and the two jobs must
 * still exclude each other. Same-named tables of different schemas then
 * share a lock, which only serialises them.
 */
static void add_table_locks(struct parse_ctx *ctx, struct job_spec *spec, const char *table)
{
    if (!table)
        return;
    resource_add(spec, table_resource_name(ctx, table), LOCK_EXCLUSIVE);
    const char *bare = table_name_bare(table);
    if (bare != table)
        resource_add(spec, table_resource_name(ctx, bare), LOCK_EXCLUSIVE);
}

/*
 * build_resources - the locks of the spec: those of the target and child
 * tables (add_table_locks) exclusive first, then the spec's own (list).
 */
static void build_resources(struct parse_ctx *ctx, struct job_spec *spec,
                            const struct resource_list *list)
{
    size_t capacity = 2 * (1 + spec->target.child_count) + list->count;
    spec->resources = spec_calloc(ctx, capacity, sizeof(*spec->resources));
    if (!spec->resources)
        return;
    add_table_locks(ctx, spec, spec->target.table);
    for (size_t i = 0; i < spec->target.child_count; i++)
        add_table_locks(ctx, spec, spec->target.children[i].table);
    for (size_t i = 0; i < list->count; i++) {
        if (list->items[i].name)
            resource_add(spec, spec_strdup(ctx, list->items[i].name), list->items[i].mode);
    }
    if (spec->resource_count > SPEC_MAX_RESOURCES)
        spec_field_error(ctx, "", "resources",
                         "at most %d resources in all, counting the locks on the target tables",
                         SPEC_MAX_RESOURCES);
}

/* ---- on_error ----------------------------------------------------------- */

static const char *const on_error_fields[] = {"action", "max_rejects", NULL};

static void parse_on_error(struct parse_ctx *ctx, json_t *obj, struct on_error_spec *on_error)
{
    on_error->action = ON_ERROR_ABORT;
    on_error->max_rejects = 0;
    if (!obj || !spec_expect_object(ctx, obj, "on_error"))
        return;
    spec_check_unknown_fields(ctx, obj, "on_error", on_error_fields);
    int action = ON_ERROR_ABORT;
    spec_read_choice(ctx, obj, "on_error", "action", "action", error_action_names,
                     COUNT_OF(error_action_names), &action);
    on_error->action = (enum error_action)action;
    spec_read_integer(ctx, obj, "on_error", "max_rejects", 0, INT64_MAX,
                      &on_error->max_rejects);
}

/* ---- entry points ------------------------------------------------------- */

/* job_spec_free - NULL-safe; every member may be missing (half-built spec). */
void job_spec_free(struct job_spec *spec)
{
    if (!spec)
        return;
    free(spec->name);
    spec_string_array_free(spec->depends_on, spec->depends_on_count);
    free(spec->request_id);
    for (size_t i = 0; spec->resources && i < spec->resource_count; i++)
        free(spec->resources[i].name);
    free(spec->resources);
    spec_source_clear(&spec->source);
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
    spec_check_unknown_fields(ctx, body, "", top_fields);
    parse_name(ctx, body, spec);
    parse_timing(ctx, body, defaults, spec);
    parse_request_id(ctx, body, spec);
    parse_depends_on(ctx, body, spec);
    parse_resources(ctx, body, &own_resources);
    struct format_info format =
        spec_parse_source(ctx, json_object_get(body, "source"), &spec->source);
    spec_parse_target(ctx, json_object_get(body, "target"), &format, &spec->target);
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
        spec_field_error(&ctx, "", NULL, "the job spec must be a JSON object");
        return parse_outcome(&ctx, err);
    }
    struct job_spec *spec = calloc(1, sizeof(*spec));
    if (!spec)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory while checking the job spec");
    parse_body(&ctx, body, defaults ? defaults : &builtin_defaults, spec);
    int rc = parse_outcome(&ctx, err);
    if (rc == 0) {
        spec->source_json = spec_source_json(&spec->source);
        spec->target_json = spec_target_json(&spec->target);
        spec->on_error_json = spec_on_error_json(&spec->on_error);
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
    spec_parse_target(&ctx, target, &info, ret_target);
    int rc = parse_outcome(&ctx, err);
    if (rc == 0 && ret_normalised) {
        *ret_normalised = spec_target_json(ret_target);
        if (!*ret_normalised)
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory while checking the target");
    }
    if (rc != 0)
        target_spec_clear(ret_target);
    return rc;
}

