/*
 * rejects.c - keep an attempt's rejected rows, then write them in batches.
 * See rejects.h for why the write waits until the import has ended.
 */
#include "engine/rejects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void reject_buffer_init(struct reject_buffer *buf, const char *target_table)
{
    memset(buf, 0, sizeof(*buf));
    buf->target_table = target_table;
}

static void free_row(struct job_reject_row *row)
{
    free((char *)row->column);
    free((char *)row->value);
    free((char *)row->error);
    free((char *)row->pointer);
}

void reject_buffer_clear(struct reject_buffer *buf)
{
    if (!buf)
        return;
    for (size_t i = 0; i < buf->count; i++)
        free_row(&buf->rows[i]);
    free(buf->rows);
    const char *table = buf->target_table;
    reject_buffer_init(buf, table);
}

/* The column as kept: "child.column" for a child table's reject. */
static char *column_text(const struct reject_buffer *buf, const struct import_reject *reject)
{
    bool other_table = reject->table && buf->target_table &&
                       strcmp(reject->table, buf->target_table) != 0;
    if (!other_table)
        return reject->column ? strdup(reject->column) : NULL;
    char *text = NULL;
    if (asprintf(&text, "%s%s%s", reject->table, reject->column ? "." : "",
                 reject->column ? reject->column : "") < 0)
        return NULL;
    return text;
}

int reject_buffer_add_cb(const struct import_reject *reject, void *ctx)
{
    struct reject_buffer *buf = ctx;
    if (reject->line > buf->last_line)
        buf->last_line = reject->line;
    if (buf->count >= REJECTS_KEPT_MAX) {
        buf->dropped++;
        return 0;
    }
    if (buf->count == buf->capacity) {
        size_t capacity = buf->capacity ? buf->capacity * 2 : 64;
        if (capacity > REJECTS_KEPT_MAX)
            capacity = REJECTS_KEPT_MAX;
        struct job_reject_row *rows = realloc(buf->rows, capacity * sizeof(*rows));
        if (!rows) {
            buf->dropped++;
            return 0;
        }
        buf->rows = rows;
        buf->capacity = capacity;
    }
    struct job_reject_row row = {
        .line = reject->line,
        .column = column_text(buf, reject),
        .value = reject->value ? strdup(reject->value) : NULL,
        .error = strdup(reject->error ? reject->error : "rejected"),
        .has_record = reject->record >= 0,
        .record = reject->record,
        .pointer = reject->pointer ? strdup(reject->pointer) : NULL,
    };
    if (!row.error || (reject->value && !row.value) || (reject->pointer && !row.pointer)) {
        free_row(&row);
        buf->dropped++;
        return 0;
    }
    buf->rows[buf->count++] = row;
    return 0;
}

int reject_buffer_flush(struct reject_buffer *buf, struct store *store, const char *job_id,
                        int attempt, struct iq_error *err)
{
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < buf->count; at += REJECTS_BATCH_ROWS) {
        size_t n = buf->count - at < REJECTS_BATCH_ROWS ? buf->count - at : REJECTS_BATCH_ROWS;
        rc = store_job_rejects_add(store, job_id, attempt, buf->rows + at, n, err);
    }
    if (rc == 0 && buf->dropped > 0) {
        char message[128];
        snprintf(message, sizeof(message), "%lld more rejected value(s) not kept (limit %d)",
                 (long long)buf->dropped, REJECTS_KEPT_MAX);
        struct job_reject_row more = {.line = buf->last_line, .error = message};
        rc = store_job_rejects_add(store, job_id, attempt, &more, 1, err);
    }
    reject_buffer_clear(buf);
    return rc;
}
