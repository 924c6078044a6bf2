/*
 * job_spec_json.c - the JSON forms of a job spec: the normalised JSON of
 * source, target and on_error that job_spec_parse stores in the spec, and
 * job_spec_json_from_job, which turns a stored job back into a body that
 * job_spec_parse accepts (used to apply a PUT on top of a stored job).
 *
 * The normalised JSON is built from the typed structs once they are valid,
 * so what is stored is exactly what the pipeline runs, and parsing it again
 * gives it back. Not for validation: nothing here reports field errors.
 *
 * Each builder returns a new reference, or NULL when memory ran out
 * (json_object_set_new and json_array_append_new accept a NULL value and
 * fail, so errors are collected with |=).
 */
#include "core/job_spec_internal.h"

#include "core/timeutil.h"

#include <string.h>
#include <strings.h>

/* ---- helpers ------------------------------------------------------------ */

/*
 * array_append - append value (a new reference, may be NULL) to array.
 * Returns array, or NULL with array released when that fails, so a builder
 * loop stops at the first failure.
 */
static json_t *array_append(json_t *array, json_t *value)
{
    if (json_array_append_new(array, value) == 0)
        return array;
    json_decref(array);
    return NULL;
}

static json_t *string_array_json(char *const *items, size_t count)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < count; i++)
        array = array_append(array, json_string(items[i]));
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

/* ---- target ------------------------------------------------------------- */

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
    for (size_t i = 0; array && i < count; i++)
        array = array_append(array, column_json(&columns[i]));
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
    for (size_t i = 0; array && i < target->child_count; i++)
        array = array_append(array, child_json(&target->children[i]));
    return array;
}

json_t *spec_target_json(const struct target_spec *target)
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
    if (target->ignore_extra)
        rc |= json_object_set_new(out, "ignore_extra", json_true());
    if (target->dry_run)
        rc |= json_object_set_new(out, "dry_run", json_true());
    rc |= json_object_set_new(out, "columns",
                              columns_json(target->columns, target->column_count));
    rc |= json_object_set_new(out, "children", children_json(target));
    return finish_object(out, rc);
}

/* ---- source and on_error ------------------------------------------------ */

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
    /* left out at their defaults, so that existing jobs read as before */
    if (csv->encoding != ENCODING_UTF8)
        rc |= json_object_set_new(out, "encoding",
                                  json_string(source_encoding_name(csv->encoding)));
    if (csv->columns)
        rc |= json_object_set_new(out, "columns",
                                  string_array_json(csv->columns, csv->column_count));
    return finish_object(out, rc);
}

json_t *spec_source_json(const struct source_spec *source)
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

json_t *spec_on_error_json(const struct on_error_spec *on_error)
{
    return json_pack("{s:s,s:I}", "action", error_action_name(on_error->action), "max_rejects",
                     (json_int_t)on_error->max_rejects);
}

/* ---- a stored job back into a body -------------------------------------- */

/*
 * lock_names_table - whether table:<locked> is one of the locks parsing
 * adds for table: its own name, or for "schema.table" its bare table.
 */
static bool lock_names_table(const char *locked, const char *table)
{
    return table && (strcasecmp(locked, table) == 0 ||
                     strcasecmp(locked, table_name_bare(table)) == 0);
}

/*
 * resource_is_implied - true for the exclusive table:<t> locks that
 * parsing adds by itself for the target table and each child table of job.
 */
static bool resource_is_implied(const struct job *job, const struct job_resource *resource)
{
    const char *prefix = TABLE_RESOURCE_PREFIX;
    if (resource->mode != LOCK_EXCLUSIVE || strncmp(resource->name, prefix, strlen(prefix)) != 0)
        return false;
    const char *table = resource->name + strlen(prefix);
    const char *target_table = json_string_value(json_object_get(job->target, "table"));
    if (!target_table)
        target_table = job->target_table;
    if (lock_names_table(table, target_table))
        return true;
    json_t *children = json_object_get(job->target, "children");
    size_t i;
    json_t *child;
    json_array_foreach(children, i, child) {
        const char *child_table = json_string_value(json_object_get(child, "table"));
        if (lock_names_table(table, child_table))
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
        array = array_append(array, json_pack("{s:s,s:s}", "name", resource->name, "mode",
                                              lock_mode_name(resource->mode)));
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
