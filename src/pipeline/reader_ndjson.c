/*
 * reader_ndjson.c - the NDJSON reader: one JSON value a line, each parsed
 * on its own with jansson (json_loadb). A line that fits in the current
 * chunk is parsed in place; only a line that spans two chunks is copied
 * into the line buffer, which max_record_bytes bounds. Blank lines are
 * skipped; a trailing CR is JSON whitespace and needs no special case.
 */
#include "pipeline/reader_internal.h"

#include <stdlib.h>
#include <string.h>

struct ndjson_reader {
    struct reader base;
    int64_t line;              /* number of the next line */
    char *buffer;              /* a line that spans chunks */
    size_t buffer_length;
    size_t buffer_capacity;
    json_t *value;             /* the value handed out */
};

/* Append text to the line buffer (bounded by the caller). */
static int buffer_append(struct ndjson_reader *n, const char *text, size_t length,
                         struct iq_error *err)
{
    size_t need = n->buffer_length + length;
    if (need > n->buffer_capacity) {
        size_t size = n->buffer_capacity ? n->buffer_capacity : 4096;
        while (size < need)
            size *= 2;
        char *grown = realloc(n->buffer, size);
        if (!grown)
            return reader_fail(&n->base, err, IQ_E_NOMEM, n->line, "out of memory reading a line");
        n->buffer = grown;
        n->buffer_capacity = size;
    }
    memcpy(n->buffer + n->buffer_length, text, length);
    n->buffer_length = need;
    return 0;
}

/*
 * next_line - the next physical line without its LF, pointing into the
 * chunk or the line buffer (valid until the next call). 1 = a line (its
 * number in *ret_line), 0 = end of file, negative = fatal.
 */
static int next_line(struct ndjson_reader *n, const char **ret_text, size_t *ret_length,
                     int64_t *ret_line, struct iq_error *err)
{
    struct reader *r = &n->base;
    bool buffered = false;
    n->buffer_length = 0;
    for (;;) {
        int rc = reader_fill(r, err);
        if (rc < 0)
            return rc;
        if (rc == 0 && !buffered)
            return 0;
        if (rc == 0)
            break;
        const char *start = r->chunk + r->chunk_position;
        size_t available = r->chunk_length - r->chunk_position;
        const char *lf = memchr(start, '\n', available);
        size_t take = lf ? (size_t)(lf - start) : available;
        if (n->buffer_length + take > r->limits.max_record_bytes)
            return reader_fail(r, err, IQ_E_TOO_LARGE, n->line,
                               "line longer than the limit of %zu bytes",
                               r->limits.max_record_bytes);
        r->chunk_position += take + (lf != NULL);
        if (lf && !buffered) {
            *ret_text = start;
            *ret_length = take;
            break;
        }
        if ((rc = buffer_append(n, start, take, err)) < 0)
            return rc;
        buffered = true;
        if (lf)
            break;
    }
    if (buffered) {
        *ret_text = n->buffer ? n->buffer : "";
        *ret_length = n->buffer_length;
    }
    *ret_line = n->line++;
    return 1;
}

/* True when text holds only JSON whitespace. */
static bool is_blank(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r' && text[i] != '\n')
            return false;
    return true;
}

/* Parse one line into r->record. */
static void parse_line(struct ndjson_reader *n, const char *text, size_t length)
{
    struct reader *r = &n->base;
    json_error_t jerr;
    n->value = json_loadb(text, length, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    r->record.value = n->value;
    if (!n->value)
        reader_set_problem(r, RECORD_BAD_JSON, 0, "invalid JSON: %s (at character %d)", jerr.text,
                           jerr.column);
    else if (!json_is_object(n->value))
        reader_set_problem(r, RECORD_NOT_OBJECT, 0, "expected an object, found %s",
                           reader_json_type_name(n->value));
}

static int ndjson_next(struct reader *r, struct iq_error *err)
{
    struct ndjson_reader *n = (struct ndjson_reader *)r;
    json_decref(n->value);
    n->value = NULL;
    r->record = (struct record){0};
    for (;;) {
        const char *text = NULL;
        size_t length = 0;
        int64_t line = 0;
        int rc = next_line(n, &text, &length, &line, err);
        if (rc <= 0)
            return rc;
        if (is_blank(text, length))
            continue;
        r->saw_data = true;
        r->record.line = line;
        parse_line(n, text, length);
        return 1;
    }
}

static int ndjson_start(struct reader *r, const struct source_spec *source, struct iq_error *err)
{
    (void)source;
    (void)err;
    ((struct ndjson_reader *)r)->line = 1;
    return 0;
}

static size_t ndjson_buffer_bytes(const struct reader *r)
{
    return ((const struct ndjson_reader *)r)->buffer_capacity;
}

static void ndjson_free(struct reader *r)
{
    struct ndjson_reader *n = (struct ndjson_reader *)r;
    json_decref(n->value);
    free(n->buffer);
    free(n);
}

static const struct reader_ops ndjson_ops = {
    .name = "ndjson",
    .start = ndjson_start,
    .next = ndjson_next,
    .buffer_bytes = ndjson_buffer_bytes,
    .free = ndjson_free,
};

struct reader *reader_ndjson_create(void)
{
    struct ndjson_reader *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->base.ops = &ndjson_ops;
    return &n->base;
}
