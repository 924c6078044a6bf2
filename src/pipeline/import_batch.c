/*
 * import_batch.c - the row batch between conversion and the store: one
 * arena of value bytes plus offsets, reused for every batch of a load, so
 * converting a file allocates only while the arena grows to its high-water
 * mark.
 */
#include "pipeline/import_internal.h"

#include "pipeline/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_ARENA_FIRST_BYTES (64 * 1024) /* a batch's values, to start with */

int batch_init(struct batch *b, size_t column_count)
{
    memset(b, 0, sizeof(*b));
    b->column_count = column_count;
    b->row_capacity = IMPORT_BATCH_ROWS;
    size_t cells = (size_t)IMPORT_BATCH_ROWS * (column_count ? column_count : 1);
    b->offsets = malloc(cells * sizeof(*b->offsets));
    b->values = malloc(cells * sizeof(*b->values));
    b->lines = malloc(IMPORT_BATCH_ROWS * sizeof(*b->lines));
    b->arena_capacity = BATCH_ARENA_FIRST_BYTES;
    b->arena = malloc(b->arena_capacity);
    if (!b->offsets || !b->values || !b->lines || !b->arena) {
        batch_clear(b);
        return IQ_E_NOMEM;
    }
    return 0;
}

void batch_clear(struct batch *b)
{
    if (!b)
        return;
    free(b->offsets);
    free(b->values);
    free(b->lines);
    free(b->arena);
    memset(b, 0, sizeof(*b));
}

/* Doubles the row capacity (offsets, pointer view, lines). */
static int grow_rows(struct batch *b)
{
    size_t rows = b->row_capacity * 2;
    size_t cells = rows * (b->column_count ? b->column_count : 1);
    size_t *offsets = realloc(b->offsets, cells * sizeof(*offsets));
    if (!offsets)
        return IQ_E_NOMEM;
    b->offsets = offsets;
    const char **values = realloc(b->values, cells * sizeof(*values));
    if (!values)
        return IQ_E_NOMEM;
    b->values = values;
    int64_t *lines = realloc(b->lines, rows * sizeof(*lines));
    if (!lines)
        return IQ_E_NOMEM;
    b->lines = lines;
    b->row_capacity = rows;
    return 0;
}

int batch_put(struct batch *b, size_t col, const char *text, size_t length)
{
    if (b->row_count >= b->row_capacity && grow_rows(b) < 0)
        return IQ_E_NOMEM;
    size_t cell = b->row_count * b->column_count + col;
    if (!text) {
        b->offsets[cell] = SIZE_MAX;
        return 0;
    }
    if (!grow_buffer((void **)&b->arena, &b->arena_capacity, b->arena_used + length + 1, 1,
                     BATCH_ARENA_FIRST_BYTES))
        return IQ_E_NOMEM;
    memcpy(b->arena + b->arena_used, text, length);
    b->arena[b->arena_used + length] = '\0';
    b->offsets[cell] = b->arena_used;
    b->arena_used += length + 1;
    return 0;
}

void batch_end_row(struct batch *b, int64_t line)
{
    /* batch_put grew the batch for this row; a row with no columns needs room too. */
    if (b->row_count >= b->row_capacity && grow_rows(b) < 0)
        return;
    b->lines[b->row_count++] = line;
}

bool batch_full(const struct batch *b)
{
    return b->row_count >= IMPORT_BATCH_ROWS || b->arena_used >= IMPORT_BATCH_BYTES;
}

const char *const *batch_values(struct batch *b)
{
    size_t cells = b->row_count * b->column_count;
    for (size_t i = 0; i < cells; i++)
        b->values[i] = b->offsets[i] == SIZE_MAX ? NULL : b->arena + b->offsets[i];
    return b->values;
}

void batch_reset(struct batch *b)
{
    b->row_count = 0;
    b->arena_used = 0;
}
