/*
 * job_spec_internal.h - what the files of the job spec validator share and
 * nothing outside src/core/job_spec*.c sees: the parse context, field paths
 * and field errors, the typed member readers, and for each part of the spec
 * its parser, its clearer and its normalised JSON. Not an API: everything
 * else includes core/job_spec.h.
 *
 * The files:
 *   job_spec.c         entry points, top level, resources, on_error, free
 *   job_spec_read.c    field paths, field errors, typed member readers
 *   job_spec_source.c  source with its csv and json options
 *   job_spec_column.c  target columns and their checks
 *   job_spec_target.c  target, keys and children
 *   job_spec_json.c    normalised JSON, job_spec_json_from_job
 *   identifier.c       identifiers, reserved names, source path (lexical)
 */
#ifndef IMPORTQ_CORE_JOB_SPEC_INTERNAL_H
#define IMPORTQ_CORE_JOB_SPEC_INTERNAL_H

#include "core/job_spec.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COUNT_OF(array) (sizeof(array) / sizeof((array)[0]))

/* The lock parsing adds on each target table is TABLE_RESOURCE_PREFIX + table. */
#define TABLE_RESOURCE_PREFIX "table:"

/* State shared by one parse: where errors go and whether memory ran out. */
struct parse_ctx {
    struct iq_error *err;   /* may be NULL: errors are only counted */
    size_t error_count;     /* field errors found so far */
    bool out_of_memory;
    size_t pattern_bytes;   /* the spec's patterns compiled so far, in bytes */
};

/* What the parser knows about the source format while checking the target. */
struct format_info {
    enum source_format format;
    bool known;             /* false when source was missing or invalid */
};

/* How reading one optional member went. */
enum member { MEMBER_ABSENT, MEMBER_OK, MEMBER_BAD };

/* ---- job_spec_read.c: text, paths and allocation ------------------------ *
 * The allocating helpers set ctx->out_of_memory when they return NULL.
 */

int spec_name_index(const char *text, const char *const *names, size_t count);
bool spec_json_pointer_is_valid(const char *pointer);
char *spec_join_path(const char *path, const char *key);
char *spec_index_path(struct parse_ctx *ctx, const char *path, const char *key, size_t index);
char *spec_strdup(struct parse_ctx *ctx, const char *text);
void *spec_calloc(struct parse_ctx *ctx, size_t count, size_t size);
char *spec_concat(struct parse_ctx *ctx, const char *prefix, const char *text);
char *spec_lowercase_copy(struct parse_ctx *ctx, const char *text);
void spec_string_array_free(char **items, size_t count);
const char *spec_string_value(json_t *value);

/* ---- job_spec_read.c: name sets ----------------------------------------- *
 * A set of SQL identifiers, compared ignoring case, each with the position
 * it was added at; lookups are hash lookups. Init, then clear (NULL-safe).
 */

struct name_set {
    json_t *positions; /* lower-cased name -> position */
};

void spec_name_set_init(struct parse_ctx *ctx, struct name_set *set);
void spec_name_set_clear(struct name_set *set);
long spec_name_set_add(struct parse_ctx *ctx, struct name_set *set, const char *name,
                       size_t position);
long spec_name_set_find(struct parse_ctx *ctx, const struct name_set *set, const char *name);

/* ---- job_spec_read.c: field errors ------------------------------------- */

void spec_field_error(struct parse_ctx *ctx, const char *path, const char *key, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
void spec_item_error(struct parse_ctx *ctx, const char *path, const char *key, size_t index,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- job_spec_read.c: typed member readers ------------------------------ *
 * A spec_read_* reads obj[key], reports a wrong value at path.key, and
 * (except spec_read_member_pointer) returns how that went, storing the
 * value only when it is MEMBER_OK.
 */

void spec_check_unknown_fields(struct parse_ctx *ctx, json_t *obj, const char *path,
                               const char *const *known);
bool spec_expect_object(struct parse_ctx *ctx, json_t *value, const char *path);
enum member spec_read_string(struct parse_ctx *ctx, json_t *obj, const char *path,
                             const char *key, const char **ret_text);
enum member spec_read_nullable_string(struct parse_ctx *ctx, json_t *obj, const char *path,
                                      const char *key, const char **ret_text);
enum member spec_read_bool(struct parse_ctx *ctx, json_t *obj, const char *path,
                           const char *key, bool *ret_value);
enum member spec_read_integer(struct parse_ctx *ctx, json_t *obj, const char *path,
                              const char *key, int64_t min, int64_t max, int64_t *ret_value);
enum member spec_read_number(struct parse_ctx *ctx, json_t *obj, const char *path,
                             const char *key, double *ret_value);
enum member spec_read_choice(struct parse_ctx *ctx, json_t *obj, const char *path,
                             const char *key, const char *noun, const char *const *names,
                             size_t count, int *ret_index);
enum member spec_read_identifier(struct parse_ctx *ctx, json_t *obj, const char *path,
                                 const char *key, char **ret_copy);
enum member spec_read_table_name(struct parse_ctx *ctx, json_t *obj, const char *path,
                                 const char *key, char **ret_copy);
enum member spec_read_array(struct parse_ctx *ctx, json_t *obj, const char *path,
                            const char *key, int max_items, const char *not_array,
                            json_t **ret_array);
void spec_read_member_pointer(struct parse_ctx *ctx, json_t *obj, const char *path,
                              const char *key, const char *default_name, const char *example,
                              char **ret_pointer);

/* ---- the parts of the spec ---------------------------------------------- */

/* job_spec_source.c */
struct format_info spec_parse_source(struct parse_ctx *ctx, json_t *obj,
                                     struct source_spec *source);
void spec_source_clear(struct source_spec *source);

/* job_spec_column.c */
enum member spec_parse_columns(struct parse_ctx *ctx, json_t *obj, const char *path,
                               const struct format_info *format,
                               struct column_spec **ret_columns, size_t *ret_count);
void spec_columns_free(struct column_spec *columns, size_t count);
void spec_column_names(struct parse_ctx *ctx, const struct column_spec *columns, size_t count,
                       struct name_set *ret_names);

/* job_spec_target.c (target_spec_clear is public) */
void spec_parse_target(struct parse_ctx *ctx, json_t *obj, const struct format_info *format,
                       struct target_spec *target);

/* job_spec_json.c: new references, NULL when memory ran out */
json_t *spec_source_json(const struct source_spec *source);
json_t *spec_target_json(const struct target_spec *target);
json_t *spec_on_error_json(const struct on_error_spec *on_error);

#endif
