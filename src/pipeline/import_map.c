/*
 * import_map.c - which target column is filled from which part of the
 * source, and the load plan that follows. Where target.columns is given it
 * rules; otherwise the target table's own columns are matched to the CSV
 * header (case-insensitively) or to the first JSON record's keys.
 */
#include "pipeline/import_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Index of name in names (exact first, then ignoring case), or -1. */
static long find_name(const char *const *names, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(names[i], name) == 0)
            return (long)i;
    for (size_t i = 0; i < count; i++)
        if (strcasecmp(names[i], name) == 0)
            return (long)i;
    return -1;
}

/* Makes a column_spec for a table column; from is the source name. */
static int spec_from_table_column(const struct table_column *col, const char *from,
                                  struct column_spec *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->name = strdup(col->name);
    ret->from = strdup(from);
    ret->type = col->type;
    ret->max_length = -1;
    return ret->name && ret->from ? 0 : IQ_E_NOMEM;
}

static void free_owned_specs(struct mapped_part *part)
{
    for (size_t i = 0; i < part->owned_spec_count; i++) {
        free(part->owned_specs[i].name);
        free(part->owned_specs[i].from);
    }
    free(part->owned_specs);
    part->owned_specs = NULL;
    part->owned_spec_count = 0;
}

/*
 * specs_from_table - target.columns was omitted: take the table's columns
 * that the source has (CSV header names, or keys of the first JSON record;
 * every column when there is no record yet).
 */
static int specs_from_table(struct mapped_part *part, const struct table_info *info,
                            const struct import_request *req, struct reader *reader,
                            json_t *first_record, struct iq_error *err)
{
    part->owned_specs = calloc(info->column_count ? info->column_count : 1, sizeof(*part->owned_specs));
    if (!part->owned_specs)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    size_t header_count = 0;
    const char *const *header = reader ? reader_column_names(reader, &header_count) : NULL;
    bool csv = req->source->format == SOURCE_CSV;
    for (size_t i = 0; i < info->column_count; i++) {
        const struct table_column *col = &info->columns[i];
        char from[IDENTIFIER_MAX_LEN + 2];
        if (csv) {
            long at = find_name(header, header_count, col->name);
            if (at < 0)
                continue;
            snprintf(from, sizeof(from), "%s", header[at]);
        } else {
            if (first_record && !json_object_get(first_record, col->name))
                continue;
            snprintf(from, sizeof(from), "/%s", col->name);
        }
        if (spec_from_table_column(col, from, &part->owned_specs[part->owned_spec_count]) < 0) {
            part->owned_spec_count++;
            return iq_error_set(err, IQ_E_NOMEM, "out of memory");
        }
        part->owned_spec_count++;
    }
    if (part->owned_spec_count == 0)
        return iq_error_set(err, IQ_E_INVALID,
                            "no column of table \"%s\" is in the source; name the columns in "
                            "target.columns", part->table);
    return 0;
}

/* Allocates the column arrays of part for count columns. */
static int part_alloc(struct mapped_part *part, size_t count)
{
    part->columns = calloc(count, sizeof(*part->columns));
    part->names = calloc(count, sizeof(*part->names));
    part->types = calloc(count, sizeof(*part->types));
    part->references = calloc(count, sizeof(*part->references));
    return part->columns && part->names && part->types && part->references ? 0 : IQ_E_NOMEM;
}

/*
 * Adds spec as the next column of part and prepares its checker; the
 * first column with a pattern makes map's pattern scratch, which the load
 * (one thread) shares among its checkers.
 */
static int part_add_column(struct mapping *map, struct mapped_part *part,
                           const struct column_spec *spec, struct iq_error *err)
{
    size_t i = part->column_count;
    struct mapped_column *mc = &part->columns[i];
    mc->spec = spec;
    if (spec->pattern && !map->pattern_scratch) {
        map->pattern_scratch = pattern_scratch_new();
        if (!map->pattern_scratch)
            return iq_error_set(err, IQ_E_NOMEM, "out of memory preparing column %s",
                                spec->name);
    }
    int rc = column_checker_init(&mc->checker, spec, map->pattern_scratch, err);
    if (rc < 0)
        return rc;
    part->names[i] = spec->name;
    part->types[i] = spec->type;
    if (spec->references_table) {
        struct load_reference *ref = &part->references[part->reference_count++];
        ref->column = spec->name;
        ref->ref_table = spec->references_table;
        ref->ref_column = spec->references_column;
    }
    part->column_count++;
    return 0;
}

/* CSV: where in the header each column's `from` is. */
static int map_csv_header(struct mapped_part *part, struct reader *reader, struct iq_error *err)
{
    size_t header_count = 0;
    const char *const *header = reader_column_names(reader, &header_count);
    for (size_t i = 0; i < part->column_count; i++) {
        const struct column_spec *spec = part->columns[i].spec;
        const char *from = spec->from ? spec->from : spec->name;
        long at = find_name(header, header_count, from);
        if (at < 0)
            return iq_error_set(err, IQ_E_INVALID,
                                "CSV header has no column \"%s\" (for target column \"%s\")", from,
                                spec->name);
        part->columns[i].csv_index = (size_t)at;
    }
    return 0;
}

/*
 * Conflict key: target.key, or else the table's primary-key columns that
 * are loaded (names point at part->names, which outlive the table info).
 */
static int map_key(struct mapped_part *part, char **key, size_t key_count,
                   const struct table_info *info)
{
    part->key = calloc(key_count + info->column_count + 1, sizeof(*part->key));
    if (!part->key)
        return IQ_E_NOMEM;
    for (size_t i = 0; i < key_count; i++)
        part->key[part->key_count++] = key[i];
    for (size_t i = 0; key_count == 0 && i < info->column_count; i++) {
        if (!info->columns[i].primary_key)
            continue;
        long at = find_name(part->names, part->column_count, info->columns[i].name);
        if (at >= 0)
            part->key[part->key_count++] = part->names[at];
    }
    return 0;
}

/* The target: part 0. info is kept by the caller while the mapping lives. */
static int map_target(struct mapping *map, const struct import_request *req, struct reader *reader,
                      json_t *first_record, const struct table_info *info, struct iq_error *err)
{
    const struct target_spec *target = req->target;
    struct mapped_part *part = &map->parts[0];
    part->table = target->table;
    if (!info->exists && !target->create)
        return iq_error_set(err, IQ_E_INVALID,
                            "target table \"%s\" does not exist (set target.create with columns to "
                            "create it)", target->table);
    if (target->column_count == 0) {
        if (!info->exists)
            return iq_error_set(err, IQ_E_INVALID,
                                "target table \"%s\" does not exist and target.columns is empty",
                                target->table);
        int rc = specs_from_table(part, info, req, reader, first_record, err);
        if (rc < 0)
            return rc;
    }
    size_t count = target->column_count ? target->column_count : part->owned_spec_count;
    if (part_alloc(part, count) < 0)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const struct column_spec *spec =
            target->column_count ? &target->columns[i] : &part->owned_specs[i];
        int rc = part_add_column(map, part, spec, err);
        if (rc < 0)
            return rc;
    }
    if (req->source->format == SOURCE_CSV) {
        int rc = map_csv_header(part, reader, err);
        if (rc < 0)
            return rc;
    }
    if (map_key(part, target->key, target->key_count, info) < 0)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    return 0;
}

/* One child table: its columns, plus the ones filled from the parent. */
static int map_child(struct mapping *map, size_t index, const struct child_spec *child,
                     struct iq_error *err)
{
    struct mapped_part *parent = &map->parts[0];
    struct mapped_part *part = &map->parts[index];
    part->table = child->table;
    part->from = child->from;
    size_t extra = 0;
    for (size_t k = 0; k < child->parent_key_count; k++) {
        bool listed = false;
        for (size_t c = 0; c < child->column_count; c++)
            listed |= strcmp(child->columns[c].name, child->parent_key_child[k]) == 0;
        extra += !listed;
    }
    if (part_alloc(part, child->column_count + extra) < 0)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    part->owned_specs = calloc(extra ? extra : 1, sizeof(*part->owned_specs));
    if (!part->owned_specs)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t c = 0; c < child->column_count; c++) {
        int rc = part_add_column(map, part, &child->columns[c], err);
        if (rc < 0)
            return rc;
    }
    part->parent_columns = calloc(child->parent_key_count ? child->parent_key_count : 1, sizeof(char *));
    part->child_columns = calloc(child->parent_key_count ? child->parent_key_count : 1, sizeof(char *));
    if (!part->parent_columns || !part->child_columns)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t k = 0; k < child->parent_key_count; k++) {
        const char *child_col = child->parent_key_child[k];
        const char *parent_col = child->parent_key_parent[k];
        long parent_at = find_name(parent->names, parent->column_count, parent_col);
        if (parent_at < 0)
            return iq_error_set(err, IQ_E_INVALID,
                                "children %s: parent_key names parent column \"%s\", which is "
                                "not loaded", child->table, parent_col);
        long at = find_name(part->names, part->column_count, child_col);
        if (at < 0) {
            struct column_spec *spec = &part->owned_specs[part->owned_spec_count++];
            spec->name = strdup(child_col);
            spec->from = strdup("");
            spec->type = parent->columns[parent_at].spec->type;
            spec->max_length = -1;
            if (!spec->name || !spec->from)
                return iq_error_set(err, IQ_E_NOMEM, "out of memory");
            int rc = part_add_column(map, part, spec, err);
            if (rc < 0)
                return rc;
            at = (long)part->column_count - 1;
        }
        part->columns[at].from_parent = true;
        part->columns[at].parent_index = (size_t)parent_at;
        part->parent_columns[k] = parent->names[parent_at];
        part->child_columns[k] = part->names[at];
    }
    part->parent_key_count = child->parent_key_count;
    for (size_t i = 0; i < child->key_count; i++)
        if (find_name(part->names, part->column_count, child->key[i]) < 0)
            return iq_error_set(err, IQ_E_INVALID, "children %s: key column \"%s\" is not loaded",
                                child->table, child->key[i]);
    part->key = calloc(child->key_count ? child->key_count : 1, sizeof(char *));
    if (!part->key)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; i < child->key_count; i++)
        part->key[i] = child->key[i];
    part->key_count = child->key_count;
    return 0;
}

/* Fills map->load_parts and map->plan from the mapped parts. */
static int build_plan(struct mapping *map, const struct import_request *req, struct iq_error *err)
{
    map->load_parts = calloc(map->part_count, sizeof(*map->load_parts));
    if (!map->load_parts)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    size_t references = 0;
    for (size_t i = 0; i < map->part_count; i++) {
        struct mapped_part *part = &map->parts[i];
        struct load_part *lp = &map->load_parts[i];
        lp->table = part->table;
        lp->columns = part->names;
        lp->types = part->types;
        lp->column_count = part->column_count;
        lp->key = part->key;
        lp->key_count = part->key_count;
        lp->references = part->references;
        lp->reference_count = part->reference_count;
        lp->parent_columns = part->parent_columns;
        lp->child_columns = part->child_columns;
        lp->parent_key_count = part->parent_key_count;
        references += part->reference_count;
        if (batch_init(&part->batch, part->column_count) < 0)
            return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    enum target_mode mode = req->target->mode;
    struct load_plan *plan = &map->plan;
    plan->mode = mode;
    plan->parts = map->load_parts;
    plan->part_count = map->part_count;
    plan->create_target = req->target->create;
    plan->direct = (mode == TARGET_INSERT || mode == TARGET_APPEND ||
                    (mode == TARGET_REPLACE && store_has(req->store, STORE_CAP_DIRECT_REPLACE))) &&
                   req->on_error->action == ON_ERROR_ABORT && req->on_error->max_rejects == 0 &&
                   references == 0 && map->part_count == 1;
    plan->commit = req->commit;
    return 0;
}

/* Numeric columns reject what the target backend's numeric cannot hold. */
static void fit_numerics_to_store(struct mapping *map, const struct store *store)
{
    bool within_double = store_has(store, STORE_CAP_NUMERIC_IS_DOUBLE);
    for (size_t p = 0; p < map->part_count; p++)
        for (size_t i = 0; i < map->parts[p].column_count; i++)
            map->parts[p].columns[i].checker.numeric_within_double = within_double;
}

int mapping_build(const struct import_request *req, struct reader *reader, json_t *first_record,
                  struct mapping *ret_map, struct iq_error *err)
{
    memset(ret_map, 0, sizeof(*ret_map));
    const struct target_spec *target = req->target;
    ret_map->part_count = 1 + target->child_count;
    ret_map->has_children = target->child_count > 0;
    ret_map->parts = calloc(ret_map->part_count, sizeof(*ret_map->parts));
    if (!ret_map->parts)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    struct table_info info = {0};
    int rc = store_table_describe(req->store, target->table, &info, err);
    if (rc == 0)
        rc = map_target(ret_map, req, reader, first_record, &info, err);
    for (size_t i = 0; rc == 0 && i < target->child_count; i++)
        rc = map_child(ret_map, i + 1, &target->children[i], err);
    if (rc == 0)
        fit_numerics_to_store(ret_map, req->store);
    if (rc == 0)
        rc = build_plan(ret_map, req, err);
    /* Column names of table-made specs are owned by the specs, so info can go. */
    table_info_clear(&info);
    if (rc < 0)
        mapping_clear(ret_map);
    return rc;
}

void mapping_clear(struct mapping *map)
{
    if (!map)
        return;
    for (size_t p = 0; p < map->part_count && map->parts; p++) {
        struct mapped_part *part = &map->parts[p];
        for (size_t i = 0; i < part->column_count; i++)
            column_checker_clear(&part->columns[i].checker);
        free(part->columns);
        free(part->names);
        free(part->types);
        free(part->references);
        free(part->parent_columns);
        free(part->child_columns);
        free(part->key);
        free_owned_specs(part);
        batch_clear(&part->batch);
    }
    free(map->parts);
    free(map->load_parts);
    pattern_scratch_free(map->pattern_scratch);
    memset(map, 0, sizeof(*map));
}
