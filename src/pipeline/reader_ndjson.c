/*
 * reader_ndjson.c - the NDJSON reader: one JSON value a line, each parsed
 * on its own by a fresh yajl parser whose events build the record as the
 * JSON reader builds its records (json_build.c), so both keep the literal
 * text of numbers and report problems alike. A line that fits in the current
 * chunk is parsed in place; only a line that spans two chunks is copied
 * into the line buffer, which max_record_bytes bounds. Blank lines are
 * skipped; a trailing CR is JSON whitespace and needs no special case.
 */
#include "pipeline/grow.h"
#include "pipeline/json_build.h"
#include "pipeline/reader_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

struct ndjson_reader {
    struct reader base;
    int64_t line;              /* number of the next line */
    int64_t records;           /* records handed out so far */
    char *buffer;              /* a line that spans chunks */
    size_t buffer_length;
    size_t buffer_capacity;
    struct json_build build;
    int build_rc;              /* during a parse: the last builder result */
    struct json_built current; /* the record handed out */
};

/* Append text to the line buffer (bounded by the caller). */
static int buffer_append(struct ndjson_reader *n, const char *text, size_t length,
                         struct iq_error *err)
{
    size_t need = n->buffer_length + length;
    if (!grow_buffer((void **)&n->buffer, &n->buffer_capacity, need, 1, 4096))
        return reader_fail(&n->base, err, IQ_E_NOMEM, n->line, "out of memory reading a line");
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

/* Every yajl event goes to the builder; a builder error stops yajl. */
static int on_built(void *ctx, int rc)
{
    ((struct ndjson_reader *)ctx)->build_rc = rc;
    return rc >= 0;
}

static int null_cb(void *ctx)
{
    return on_built(ctx, json_build_null(&((struct ndjson_reader *)ctx)->build));
}

static int boolean_cb(void *ctx, int value)
{
    return on_built(ctx, json_build_boolean(&((struct ndjson_reader *)ctx)->build, value != 0));
}

static int number_cb(void *ctx, const char *text, size_t length)
{
    return on_built(ctx, json_build_number(&((struct ndjson_reader *)ctx)->build, text, length));
}

static int string_cb(void *ctx, const unsigned char *text, size_t length)
{
    return on_built(ctx, json_build_string(&((struct ndjson_reader *)ctx)->build,
                                           (const char *)text, length));
}

static int map_key_cb(void *ctx, const unsigned char *key, size_t length)
{
    return on_built(ctx, json_build_key(&((struct ndjson_reader *)ctx)->build,
                                        (const char *)key, length));
}

static int start_map_cb(void *ctx)
{
    return on_built(ctx, json_build_open(&((struct ndjson_reader *)ctx)->build, false));
}

static int start_array_cb(void *ctx)
{
    return on_built(ctx, json_build_open(&((struct ndjson_reader *)ctx)->build, true));
}

static int end_cb(void *ctx)
{
    return on_built(ctx, json_build_close(&((struct ndjson_reader *)ctx)->build));
}

static const yajl_callbacks ndjson_callbacks = {
    .yajl_null = null_cb,
    .yajl_boolean = boolean_cb,
    .yajl_number = number_cb,
    .yajl_string = string_cb,
    .yajl_start_map = start_map_cb,
    .yajl_map_key = map_key_cb,
    .yajl_end_map = end_cb,
    .yajl_start_array = start_array_cb,
    .yajl_end_array = end_cb,
};

/* The line is not JSON: yajl's message (without its newline) and where. */
static void set_syntax_problem(struct reader *r, yajl_handle parser)
{
    unsigned char *text = yajl_get_error(parser, 0, NULL, 0);
    char message[200];
    snprintf(message, sizeof(message), "%s", text ? (const char *)text : "parse error");
    if (text)
        yajl_free_error(parser, text);
    size_t n = strlen(message);
    while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == ' '))
        message[--n] = '\0';
    reader_set_problem(r, RECORD_BAD_JSON, 0, "invalid JSON: %s (at character %zu)", message,
                       yajl_get_bytes_consumed(parser) + 1);
}

/* Parse one line into r->record. 0, or a fatal IQ_E_NOMEM. */
static int parse_line(struct ndjson_reader *n, const char *text, size_t length,
                      struct iq_error *err)
{
    struct reader *r = &n->base;
    yajl_handle parser = yajl_alloc(&ndjson_callbacks, NULL, n);
    if (!parser)
        return reader_fail(r, err, IQ_E_NOMEM, n->line - 1, "cannot start the JSON parser");
    json_build_reset(&n->build);
    n->build_rc = JSON_BUILD_MORE;
    yajl_status status = yajl_parse(parser, (const unsigned char *)text, length);
    if (status == yajl_status_ok)
        status = yajl_complete_parse(parser);
    int rc = 0;
    if (n->build_rc == IQ_E_NOMEM)
        rc = reader_fail(r, err, IQ_E_NOMEM, n->line - 1, "out of memory building a record");
    else if (status == yajl_status_ok && n->build_rc == JSON_BUILD_DONE)
        json_build_take(&n->build, &n->current);
    else if (n->build_rc == IQ_E_INVALID)
        reader_set_problem(r, RECORD_BAD_JSON, 0, "JSON nested deeper than %d levels",
                           READER_MAX_JSON_DEPTH);
    else
        set_syntax_problem(r, parser);
    yajl_free(parser);
    if (n->current.value)
        reader_set_built(r, &n->current);
    json_build_reset(&n->build);
    return rc;
}

static int ndjson_next(struct reader *r, struct iq_error *err)
{
    struct ndjson_reader *n = (struct ndjson_reader *)r;
    json_built_clear(&n->current);
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
        r->record.index = n->records++;
        r->record.pointer = "";
        rc = parse_line(n, text, length, err);
        return rc < 0 ? rc : 1;
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
    const struct ndjson_reader *n = (const struct ndjson_reader *)r;
    return n->buffer_capacity + n->build.key_capacity;
}

static void ndjson_free(struct reader *r)
{
    struct ndjson_reader *n = (struct ndjson_reader *)r;
    json_built_clear(&n->current);
    json_build_clear(&n->build);
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
