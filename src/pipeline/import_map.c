/*
 * import_map.c - which target column is filled from which part of the
 * source, and the load plan that follows. Where target.columns is given it
 * rules; otherwise the target table's own columns are matched to the CSV
 * header or to the first JSON record's keys: the same name, else the same
 * name ignoring case. Then every source column must match a table column
 * (unless target.ignore_extra), and every NOT NULL column without a
 * default must be in the source: both are errors that name the columns,
 * rather than a silently dropped column or a NULL refused row by row.
 */
#include "pipeline/import_internal.h"
#include "pipeline/infer.h"

#include <ctype.h>
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

/* edit_distance - Levenshtein distance of a and b, ignoring case; capped at 64 bytes each. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strnlen(a, 64), m = strnlen(b, 64);
    size_t row[65];
    for (size_t j = 0; j <= m; j++)
        row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t above = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = diagonal + cost;
            if (above + 1 < best)
                best = above + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[m];
}

/*
 * suggestion - the table column nearest to name (an edit distance of at
 * most 2, or a third of its length when longer, and less than its length)
 * that no source column took (taken[i]); NULL when none is near.
 */
static const char *suggestion(const struct table_info *info, const bool *taken, const char *name)
{
    const char *best = NULL;
    size_t len = strlen(name);
    size_t best_distance = (len / 3 > 2 ? len / 3 : 2) + 1;
    if (best_distance > len)
        best_distance = len;
    for (size_t i = 0; i < info->column_count; i++) {
        if (taken[i])
            continue;
        size_t d = edit_distance(name, info->columns[i].name);
        if (d < best_distance) {
            best_distance = d;
            best = info->columns[i].name;
        }
    }
    return best;
}

/* is_child_source - key is the first segment of a child table's `from` (its array). */
static bool is_child_source(const struct target_spec *target, const char *key)
{
    for (size_t i = 0; i < target->child_count; i++) {
        const char *from = target->children[i].from;
        size_t len = strlen(key);
        if (from && from[0] == '/' && strncmp(from + 1, key, len) == 0 &&
            (from[1 + len] == '\0' || from[1 + len] == '/'))
            return true;
    }
    return false;
}

/*
 * check_source_columns - target.columns was omitted and the source's
 * columns are known (names, count): each must match a column of the table
 * (unless target.ignore_extra), and each NOT NULL column of the table
 * without a default must be among them. IQ_E_INVALID naming them all,
 * with a "did you mean" where a free column is near.
 */
static int check_source_columns(const struct import_request *req, const struct table_info *info,
                                const char *table, const char *const *names, size_t count,
                                struct iq_error *err)
{
    bool *taken = calloc(info->column_count ? info->column_count : 1, sizeof(*taken));
    if (!taken)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    const char **column_names = calloc(info->column_count ? info->column_count : 1, sizeof(char *));
    if (!column_names) {
        free(taken);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < info->column_count; i++)
        column_names[i] = info->columns[i].name;
    bool *extra = calloc(count ? count : 1, sizeof(*extra));
    size_t extras = 0;
    for (size_t s = 0; extra && s < count; s++) {
        if (!names[s] || !*names[s] || is_child_source(req->target, names[s]))
            continue;
        long at = find_name(column_names, info->column_count, names[s]);
        if (at >= 0)
            taken[at] = true;
        else {
            extra[s] = true;
            extras++;
        }
    }
    struct text_buf {
        char text[1024];
        size_t len;
    } msg = {.len = 0};
#define MSG(...)                                                                                   \
    do {                                                                                           \
        if (msg.len < sizeof(msg.text))                                                            \
            msg.len += (size_t)snprintf(msg.text + msg.len, sizeof(msg.text) - msg.len,           \
                                        __VA_ARGS__);                                              \
    } while (0)
    int rc = 0;
    if (!extra) {
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    } else if (extras > 0 && !req->target->ignore_extra) {
        MSG("%zu source column%s match%s no column of table \"%s\":", extras,
            extras == 1 ? "" : "s", extras == 1 ? "es" : "", table);
        for (size_t s = 0, shown = 0; s < count; s++) {
            if (!extra[s])
                continue;
            const char *near = suggestion(info, taken, names[s]);
            MSG("%s \"%s\"", shown++ ? "," : "", names[s]);
            if (near)
                MSG(" (did you mean \"%s\"?)", near);
        }
        MSG("; the table has");
        for (size_t i = 0; i < info->column_count; i++)
            MSG("%s %s", i ? "," : "", info->columns[i].name);
        MSG(". Names match exactly, else ignoring case; skip extra columns with --ignore-extra "
            "(target.ignore_extra)");
        const char *sep = count == 1 ? strpbrk(names[0], ";\t|") : NULL;
        if (sep)
            MSG(". The header is one column holding %s: is that the file's delimiter "
                "(source.csv.delimiter, --delimiter)?",
                *sep == '\t' ? "a tab" : *sep == ';' ? "';'" : "'|'");
        rc = iq_error_set(err, IQ_E_INVALID, "%s", msg.text);
    } else {
        size_t missing = 0;
        for (size_t i = 0; i < info->column_count; i++) {
            const struct table_column *col = &info->columns[i];
            if (taken[i] || !col->not_null || col->has_default)
                continue;
            MSG("%s\"%s\"", missing++ ? ", " : "", col->name);
        }
        if (missing > 0)
            rc = iq_error_set(err, IQ_E_INVALID,
                              "table \"%s\" requires column%s %s (NOT NULL, no default), which "
                              "the source does not have",
                              table, missing == 1 ? "" : "s", msg.text);
    }
#undef MSG
    free(extra);
    free(column_names);
    free(taken);
    return rc;
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
    int checked = 0;
    if (csv && header) {
        checked = check_source_columns(req, info, part->table, header, header_count, err);
    } else if (!csv && json_is_object(first_record)) {
        size_t key_count = json_object_size(first_record), k = 0;
        const char **keys = calloc(key_count ? key_count : 1, sizeof(*keys));
        if (!keys)
            return iq_error_set(err, IQ_E_NOMEM, "out of memory");
        const char *key;
        json_t *value;
        json_object_foreach(first_record, key, value) keys[k++] = key;
        checked = check_source_columns(req, info, part->table, keys, k, err);
        free(keys);
    }
    if (checked < 0)
        return checked;
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

/*
 * specs_inferred - target.create without target.columns, and no table
 * yet: the columns and their types inferred from the file itself
 * (pipeline/infer.h; the whole file under INFER_WHOLE_FILE_BYTES, else a
 * sample), each required when no row left it empty. A source name that
 * is not an SQL identifier cannot name a column: that is an error that
 * says to list the columns.
 */
static int specs_inferred(struct mapped_part *part, const struct import_request *req,
                          struct iq_error *err)
{
    struct inferred inferred;
    int rc = infer_columns(req->path, req->source, infer_default_rows(req->path), &inferred, err);
    if (rc < 0)
        return rc;
    part->owned_specs = calloc(inferred.count ? inferred.count : 1, sizeof(*part->owned_specs));
    if (!part->owned_specs)
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < inferred.count; i++) {
        const struct inferred_column *c = &inferred.columns[i];
        if (!identifier_is_valid(c->name)) {
            rc = iq_error_set(err, IQ_E_INVALID,
                              "cannot create table \"%s\" from the file: source column \"%s\""
                              " is not an SQL identifier (list target.columns with from)",
                              part->table, c->name);
            break;
        }
        struct column_spec *spec = &part->owned_specs[part->owned_spec_count++];
        spec->name = strdup(c->name);
        char from[IDENTIFIER_MAX_LEN + 2];
        snprintf(from, sizeof(from), "%s%s", req->source->format == SOURCE_CSV ? "" : "/",
                 c->name);
        spec->from = strdup(from);
        spec->type = c->type;
        spec->required = !c->nullable;
        spec->max_length = -1;
        if (!spec->name || !spec->from)
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    if (rc == 0 && part->owned_spec_count == 0)
        rc = iq_error_set(err, IQ_E_INVALID, "cannot create table \"%s\": the file has no columns",
                          part->table);
    inferred_clear(&inferred);
    return rc;
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
                            "target table \"%s\" does not exist (set target.create to create it,"
                            " its columns inferred from the file or listed in target.columns)",
                            target->table);
    if (target->column_count == 0) {
        int rc = info->exists ? specs_from_table(part, info, req, reader, first_record, err)
                              : specs_inferred(part, req, err);
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
    /* A dry run stages: its counts are taken over the staged rows, and
     * its checks report every bad row rather than fail at the first. */
    plan->dry_run = req->target->dry_run;
    plan->direct = !plan->dry_run &&
                   (mode == TARGET_INSERT || mode == TARGET_APPEND ||
                    (mode == TARGET_REPLACE && store_has(req->store, STORE_CAP_DIRECT_REPLACE))) &&
                   req->on_error->action == ON_ERROR_ABORT && req->on_error->max_rejects == 0 &&
                   references == 0 && map->part_count == 1;
    plan->commit = plan->dry_run ? (struct load_commit){0} : req->commit;
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
