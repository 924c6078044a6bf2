/*
 * import_internal.h - what import.c (the run loop), import_map.c (column
 * mapping and the load plan) and import_batch.c (row batches) share.
 */
#ifndef IMPORTQ_PIPELINE_IMPORT_INTERNAL_H
#define IMPORTQ_PIPELINE_IMPORT_INTERNAL_H

#include "pipeline/convert.h"
#include "pipeline/import.h"
#include "pipeline/reader.h"
#include "store/load.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Rows waiting to go to the store: values are offsets into one arena
 * (SIZE_MAX = NULL), so the arena can grow without dangling pointers. */
struct batch {
    size_t column_count;
    size_t row_count;
    size_t row_capacity;         /* grows: one record may bring many child rows */
    size_t *offsets;             /* row_capacity * column_count */
    int64_t *lines;
    char *arena;
    size_t arena_used;
    size_t arena_capacity;
    const char **values;         /* pointer view built at flush */
};

int batch_init(struct batch *b, size_t column_count);
void batch_clear(struct batch *b);
/* batch_put - value (text, length; NULL = SQL NULL) of column col in the
 * row being built (row index b->row_count), growing the batch when the row
 * is past its capacity. Returns 0 or IQ_E_NOMEM. */
int batch_put(struct batch *b, size_t col, const char *text, size_t length);
/* batch_end_row - the row being built is complete. */
void batch_end_row(struct batch *b, int64_t line);
bool batch_full(const struct batch *b);
/* batch_values - the pointer view of all complete rows (valid until the
 * next batch_put); then batch_reset empties the batch. */
const char *const *batch_values(struct batch *b);
void batch_reset(struct batch *b);

/* One column being filled: its spec (the job's, or made from the table),
 * its checker, and where its value comes from. */
struct mapped_column {
    const struct column_spec *spec;
    struct column_checker checker;
    size_t csv_index;            /* CSV: header position */
    bool from_parent;            /* child: filled from the parent's value */
    size_t parent_index;         /* ... at this column of the parent part */
};

/* One table of the load: the target (part 0) or a child. */
struct mapped_part {
    const char *table;
    const char *from;            /* child: JSON pointer to its array */
    struct mapped_column *columns;
    size_t column_count;
    const char **names;          /* for load_part */
    enum column_type *types;
    const char **key;
    size_t key_count;
    struct load_reference *references;
    size_t reference_count;
    const char **parent_columns; /* child: parent side of parent_key */
    const char **child_columns;
    size_t parent_key_count;
    struct column_spec *owned_specs; /* specs made from the table's columns */
    size_t owned_spec_count;
    struct batch batch;
};

struct mapping {
    struct mapped_part *parts;
    size_t part_count;
    struct load_part *load_parts;
    struct load_plan plan;
    bool has_children;
    struct pattern_scratch *pattern_scratch; /* shared by the checkers; NULL without patterns */
};

/*
 * mapping_build - decide which columns are filled from where, and build
 * the load plan. For CSV the header decides (reader_column_names); for
 * JSON without target.columns, first_record decides. Returns 0, or
 * IQ_E_INVALID with a message ("CSV header has no column \"email\"").
 */
int mapping_build(const struct import_request *req, struct reader *reader,
                  json_t *first_record, struct mapping *ret_map, struct iq_error *err);

void mapping_clear(struct mapping *map);

#endif
