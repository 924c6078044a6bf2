/*
 * grow.h - the pipeline's one way to make room in a growing buffer: its
 * capacity doubles (from first when it is empty) until need elements fit,
 * so appending n elements costs O(n) copies in all. The buffers it serves
 * are bounded by their callers (record, line and batch limits).
 */
#ifndef IMPORTQ_PIPELINE_GROW_H
#define IMPORTQ_PIPELINE_GROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

/*
 * grow_buffer - make *buffer (of *capacity elements of element bytes)
 * hold at least need elements. Returns false on out of memory, with
 * *buffer and *capacity unchanged (the buffer still valid).
 */
static inline bool grow_buffer(void **buffer, size_t *capacity, size_t need, size_t element,
                               size_t first)
{
    if (need <= *capacity)
        return true;
    size_t size = *capacity ? *capacity : first;
    while (size < need)
        size *= 2;
    void *grown = realloc(*buffer, size * element);
    if (!grown)
        return false;
    *buffer = grown;
    *capacity = size;
    return true;
}

#endif
