/*
 * reader_csv.c - the CSV reader: libcsv (strict mode) turned from push to
 * pull. Not the place for column mapping or type conversion.
 *
 * How it works. libcsv calls back for every field and every row end, but
 * never says where in the input it is. So the chunk is fed to csv_parse in
 * pieces that end at the next CR or LF (or at the chunk's end): a piece
 * then holds at most one line end, so at most one row can end in it, the
 * line number of every callback is known, and reader_next can return as
 * soon as a row is complete with the rest of the chunk left for later.
 * Fields are copied into one reusable arena (NUL-terminated), so the hot
 * path allocates nothing once the buffers have grown to the widest row.
 *
 * Two libcsv details we rely on (libcsv 3.0.3, whose struct csv_parser is
 * public; test_reader.c covers both):
 * - The field callback is not told whether the field was quoted. libcsv
 *   stores the closing quote in its entry buffer right after the field's
 *   last byte before dropping it, so entry_buf[length] is the quote exactly
 *   when the field was quoted - provided no stale quote lies there. We keep
 *   the entry buffer ourselves (zero-filled when it grows) and wipe quotes
 *   left by each quoted field. (CSV_APPEND_NULL would overwrite that byte,
 *   so it is not used; our arena NUL-terminates instead.)
 * - Before each piece we grow the entry buffer to hold the whole piece, so
 *   libcsv never reallocates; its realloc hook refuses, and past
 *   max_field_bytes that refusal becomes our "field too large" error.
 */
#include "pipeline/grow.h"
#include "pipeline/reader_internal.h"
#include "pipeline/utf8.h"

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum csv_fatal {
    CSV_FATAL_NONE = 0,
    CSV_FATAL_TOO_MANY_FIELDS,
    CSV_FATAL_FIELD_TOO_LARGE,
    CSV_FATAL_RECORD_TOO_LARGE,
    CSV_FATAL_NOMEM,
};

struct csv_reader {
    struct reader base;
    struct csv_parser parser;
    bool parser_ready;
    unsigned char delimiter;
    unsigned char quote;
    char *null_marker;
    size_t null_length;
    bool header;
    int64_t skip_rows;

    /* Position of the next byte fed to libcsv. */
    int64_t line;
    size_t line_offset;        /* bytes of this line already fed */
    bool after_cr;             /* the previous byte was a CR ending a line */
    size_t next_lf;            /* chunk offset of the next LF (or chunk_length) ... */
    uint64_t next_lf_fill;     /* ... valid while base.fill_count equals this */

    /* The row being parsed. */
    int64_t row_line;          /* its first line; 0 = no row started yet */
    int64_t quote_line;        /* first line of an open quoted field, 0 = none */
    bool row_done;
    int64_t done_line;
    int64_t records;           /* records handed out so far */
    enum csv_fatal fatal;
    bool fini_done;

    /* Fields of the current row: data in the arena, NUL-terminated. */
    char *arena;
    size_t arena_used;
    size_t arena_capacity;
    struct reader_field *fields;
    size_t field_count;
    size_t field_capacity;
    size_t *offsets;           /* of each field's data in the arena */
    size_t offset_capacity;

    /* Column names: the header, or c1..cN, or source.csv.columns. */
    char **names;
    char *names_text;
    size_t name_count;
    bool names_set;
    char *const *given_names; /* source.csv.columns: borrowed, used only by
                                 csv_start, which copies them into names */
    size_t given_count;
    bool names_given;
};

/* Nothing is a space: libcsv then trims nothing. */
static int no_space(unsigned char c)
{
    (void)c;
    return 0;
}

/* libcsv's buffer never grows on its own (see the top of the file). */
static void *refuse_realloc(void *ptr, size_t size)
{
    (void)ptr;
    (void)size;
    return NULL;
}

/* Room for one more field of length bytes; sets c->fatal when not. */
static bool reserve_field(struct csv_reader *c, size_t length)
{
    const struct reader_limits *limits = &c->base.limits;
    if (c->field_count >= limits->max_fields) {
        c->fatal = CSV_FATAL_TOO_MANY_FIELDS;
        return false;
    }
    if (length > limits->max_field_bytes) {
        c->fatal = CSV_FATAL_FIELD_TOO_LARGE;
        return false;
    }
    if (c->arena_used - c->field_count + length > limits->max_record_bytes) {
        c->fatal = CSV_FATAL_RECORD_TOO_LARGE;
        return false;
    }
    size_t need = c->field_count + 1;
    if (!grow_buffer((void **)&c->fields, &c->field_capacity, need, sizeof(*c->fields), 16) ||
        !grow_buffer((void **)&c->offsets, &c->offset_capacity, need, sizeof(*c->offsets), 16) ||
        !grow_buffer((void **)&c->arena, &c->arena_capacity, c->arena_used + length + 1, 1, 16)) {
        c->fatal = CSV_FATAL_NOMEM;
        return false;
    }
    return true;
}

/* Validate one field's encoding; mark the record on the first problem. */
static void check_encoding(struct csv_reader *c, const char *data, size_t length)
{
    size_t bad = utf8_invalid_offset(data, length);
    if (bad == length)
        return;
    if (data[bad] == '\0')
        reader_set_problem(&c->base, RECORD_BAD_ENCODING, c->field_count + 1,
                           "NUL byte at byte %zu of the field", bad + 1);
    else
        reader_set_problem(&c->base, RECORD_BAD_ENCODING, c->field_count + 1,
                           "invalid UTF-8 (byte 0x%02X) at byte %zu of the field",
                           (unsigned char)data[bad], bad + 1);
}

/* Wipe the quote characters a quoted field left in libcsv's entry buffer
 * (its closing quote at entry[length], doubled quotes inside). */
static void wipe_quotes(struct csv_reader *c, unsigned char *entry, size_t length)
{
    entry[length] = 0;
    if (memchr(entry, c->quote, length))
        memset(entry, 0, length);
}

/* libcsv field callback: append the field to the row. */
static void field_cb(void *data, size_t length, void *ctx)
{
    struct csv_reader *c = ctx;
    unsigned char *entry = data;
    bool quoted = entry[length] == c->quote;
    if (c->row_line == 0)
        c->row_line = c->line;
    c->quote_line = 0;
    if (!c->fatal && reserve_field(c, length)) {
        char *copy = c->arena + c->arena_used;
        memcpy(copy, entry, length);
        copy[length] = '\0';
        bool is_null = !quoted && length == c->null_length &&
                       memcmp(copy, c->null_marker, length) == 0;
        if (!is_null)
            check_encoding(c, copy, length);
        c->offsets[c->field_count] = c->arena_used;
        c->fields[c->field_count] = (struct reader_field){
            .data = NULL, .length = length, .is_null = is_null, .quoted = quoted};
        c->field_count++;
        c->arena_used += length + 1;
    }
    if (quoted)
        wipe_quotes(c, entry, length);
}

/* libcsv row callback: the row is complete. */
static void row_cb(int terminator, void *ctx)
{
    struct csv_reader *c = ctx;
    (void)terminator;
    c->row_done = true;
    c->done_line = c->row_line ? c->row_line : c->line;
    c->row_line = 0;
}

/* Chunk offset of the next CR or LF at or after chunk_position, or
 * chunk_length when there is none. The LF search is cached per chunk so a
 * file of lone CRs stays linear. */
static size_t find_line_end(struct csv_reader *c)
{
    struct reader *r = &c->base;
    size_t from = r->chunk_position;
    if (c->next_lf_fill != r->fill_count || c->next_lf < from) {
        const char *lf = memchr(r->chunk + from, '\n', r->chunk_length - from);
        c->next_lf = lf ? (size_t)(lf - r->chunk) : r->chunk_length;
        c->next_lf_fill = r->fill_count;
    }
    const char *cr = memchr(r->chunk + from, '\r', c->next_lf - from);
    return cr ? (size_t)(cr - r->chunk) : c->next_lf;
}

/* Account for a consumed piece ending in line_end (CR or LF), or in no line
 * end (0). CR, LF and CRLF each end one line. */
static void advance_lines(struct csv_reader *c, size_t piece, char line_end)
{
    if (!line_end) {
        c->line_offset += piece;
        c->after_cr = false;
        return;
    }
    bool crlf_tail = line_end == '\n' && c->after_cr && piece == 1;
    if (!crlf_tail)
        c->line++;
    c->after_cr = line_end == '\r';
    c->line_offset = 0;
}

/* Skip skip_rows physical lines before the header, unparsed. */
static int skip_lines(struct csv_reader *c, struct iq_error *err)
{
    struct reader *r = &c->base;
    int64_t skipped = 0;
    while (skipped < c->skip_rows) {
        int rc = reader_fill(r, err);
        if (rc <= 0)
            return rc;
        size_t end = find_line_end(c);
        char line_end = end < r->chunk_length ? r->chunk[end] : 0;
        size_t piece = (line_end ? end + 1 : end) - r->chunk_position;
        int64_t before = c->line;
        advance_lines(c, piece, line_end);
        r->chunk_position += piece;
        skipped += c->line - before;
    }
    return 0;
}

/* Grow libcsv's entry buffer so the next piece fits (capped just above
 * max_field_bytes); new bytes are zeroed for the quote check. */
static int reserve_entry(struct csv_reader *c, size_t piece, struct iq_error *err)
{
    struct csv_parser *p = &c->parser;
    size_t cap = c->base.limits.max_field_bytes + 2;
    size_t need = p->entry_pos + piece + 2;
    if (need > cap)
        need = cap;
    if (p->entry_size >= need)
        return 0;
    size_t size = p->entry_size ? p->entry_size : 256;
    while (size < need)
        size *= 2;
    if (size > cap)
        size = cap;
    unsigned char *grown = realloc(p->entry_buf, size);
    if (!grown)
        return reader_fail(&c->base, err, IQ_E_NOMEM, c->line, "out of memory reading a field");
    memset(grown + p->entry_size, 0, size - p->entry_size);
    p->entry_buf = grown;
    p->entry_size = size;
    return 0;
}

/* Turn c->fatal into the reader's fatal error. */
static int report_fatal(struct csv_reader *c, struct iq_error *err)
{
    const struct reader_limits *limits = &c->base.limits;
    int64_t line = c->row_line ? c->row_line : c->line;
    switch (c->fatal) {
    case CSV_FATAL_TOO_MANY_FIELDS:
        return reader_fail(&c->base, err, IQ_E_TOO_LARGE, line, "more than %zu fields in a record",
                           limits->max_fields);
    case CSV_FATAL_FIELD_TOO_LARGE:
        return reader_fail(&c->base, err, IQ_E_TOO_LARGE, line,
                           "a field is larger than the limit of %zu bytes", limits->max_field_bytes);
    case CSV_FATAL_RECORD_TOO_LARGE:
        return reader_fail(&c->base, err, IQ_E_TOO_LARGE, line,
                           "a record is larger than the limit of %zu bytes",
                           limits->max_record_bytes);
    case CSV_FATAL_NOMEM:
    case CSV_FATAL_NONE:
        break;
    }
    return reader_fail(&c->base, err, IQ_E_NOMEM, line, "out of memory reading a record");
}

/* The field being parsed outgrew max_field_bytes. */
static int field_too_large(struct csv_reader *c, struct iq_error *err)
{
    int64_t line = c->quote_line ? c->quote_line : c->row_line ? c->row_line : c->line;
    return reader_fail(&c->base, err, IQ_E_TOO_LARGE, line,
                       "a field is larger than the limit of %zu bytes%s",
                       c->base.limits.max_field_bytes,
                       c->parser.quoted ? " (a quoted field that is never closed?)" : "");
}

/* csv_parse stopped early: a strict-mode error or a refused buffer. */
static int parse_error(struct csv_reader *c, size_t parsed, struct iq_error *err)
{
    if (csv_error(&c->parser) != CSV_EPARSE)
        return field_too_large(c, err);
    size_t column = c->line_offset + parsed + 1;
    if (c->parser.quoted)
        return reader_fail(&c->base, err, IQ_E_INVALID, c->line,
                           "unexpected character after a closing quote at byte %zu (a quote "
                           "inside a quoted field must be doubled)",
                           column);
    return reader_fail(&c->base, err, IQ_E_INVALID, c->line,
                       "quote character inside an unquoted field at byte %zu", column);
}

/* Checks after a piece was parsed; 0 or a fatal error. */
static int check_piece(struct csv_reader *c, size_t piece, size_t parsed, struct iq_error *err)
{
    if (c->fatal)
        return report_fatal(c, err);
    if (parsed < piece)
        return parse_error(c, parsed, err);
    /* + 1: a quoted field's closing quote is still in the entry buffer
     * until the next byte shows whether it was doubled. */
    if (c->parser.entry_pos > c->base.limits.max_field_bytes + 1)
        return field_too_large(c, err);
    if (c->arena_used - c->field_count + c->parser.entry_pos > c->base.limits.max_record_bytes) {
        c->fatal = CSV_FATAL_RECORD_TOO_LARGE;
        return report_fatal(c, err);
    }
    return 0;
}

/* Feed the next piece of the chunk (up to and including one line end). */
static int feed_piece(struct csv_reader *c, struct iq_error *err)
{
    struct reader *r = &c->base;
    size_t end = find_line_end(c);
    char line_end = end < r->chunk_length ? r->chunk[end] : 0;
    size_t piece = (line_end ? end + 1 : end) - r->chunk_position;
    int rc = reserve_entry(c, piece, err);
    if (rc < 0)
        return rc;
    size_t parsed = csv_parse(&c->parser, r->chunk + r->chunk_position, piece, field_cb, row_cb, c);
    rc = check_piece(c, piece, parsed, err);
    if (rc < 0)
        return rc;
    r->chunk_position += piece;
    if (line_end && c->parser.quoted) {
        /* The line ended inside a quoted field: the row (and that field)
         * started on this line unless already known. */
        if (c->row_line == 0)
            c->row_line = c->line;
        if (c->quote_line == 0)
            c->quote_line = c->line;
    }
    advance_lines(c, piece, line_end);
    return 0;
}

/* End of input: flush the last row; an open quote is fatal. 1/0/negative. */
static int finish(struct csv_reader *c, struct iq_error *err)
{
    if (c->fini_done)
        return 0;
    c->fini_done = true;
    int64_t open_quote_line = c->quote_line ? c->quote_line : c->row_line ? c->row_line : c->line;
    if (csv_fini(&c->parser, field_cb, row_cb, c) != 0)
        return reader_fail(&c->base, err, IQ_E_INVALID, open_quote_line,
                           "unterminated quoted field (no closing quote before the end of the "
                           "file)");
    if (c->fatal)
        return report_fatal(c, err);
    return c->row_done ? 1 : 0;
}

/* Parse the next row into fields/arena. 1 = row, 0 = end, negative = fatal. */
static int read_row(struct csv_reader *c, struct iq_error *err)
{
    struct reader *r = &c->base;
    c->field_count = 0;
    c->arena_used = 0;
    c->row_done = false;
    r->record.problem = RECORD_OK;
    r->record.problem_message = NULL;
    r->record.problem_column = 0;
    for (;;) {
        int rc = reader_fill(r, err);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            rc = finish(c, err);
            if (rc <= 0)
                return rc;
            break;
        }
        rc = feed_piece(c, err);
        if (rc < 0)
            return rc;
        if (c->row_done)
            break;
    }
    for (size_t i = 0; i < c->field_count; i++)
        c->fields[i].data = c->arena + c->offsets[i];
    return 1;
}

/* Order of column indices by name, for the duplicate check. */
static int compare_names(const void *a, const void *b, void *ctx)
{
    char **names = ctx;
    int cmp = strcmp(names[*(const size_t *)a], names[*(const size_t *)b]);
    if (cmp)
        return cmp;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Fatal error when two header names are equal. */
static int check_duplicate_names(struct csv_reader *c, int64_t line, struct iq_error *err)
{
    size_t n = c->name_count;
    if (n < 2)
        return 0;
    size_t *order = malloc(n * sizeof(*order));
    if (!order)
        return reader_fail(&c->base, err, IQ_E_NOMEM, line, "out of memory reading the header");
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof(*order), compare_names, c->names);
    int rc = 0;
    for (size_t i = 1; i < n && rc == 0; i++) {
        if (strcmp(c->names[order[i - 1]], c->names[order[i]]) == 0)
            rc = reader_fail(&c->base, err, IQ_E_INVALID, line,
                             "duplicate column name \"%s\" in the header (columns %zu and %zu)",
                             c->names[order[i - 1]], order[i - 1] + 1, order[i] + 1);
    }
    free(order);
    return rc;
}

/*
 * use_given_names - the column names of source.csv.columns instead of the
 * header's (or of c1..cN), copied into names/names_text. 0 or IQ_E_NOMEM.
 */
static int use_given_names(struct csv_reader *c, struct iq_error *err)
{
    size_t text_size = 0;
    for (size_t i = 0; i < c->given_count; i++)
        text_size += strlen(c->given_names[i]) + 1;
    char **names = calloc(c->given_count, sizeof(*names));
    char *text = malloc(text_size);
    if (!names || !text) {
        free(names);
        free(text);
        return reader_fail(&c->base, err, IQ_E_NOMEM, 0, "out of memory naming columns");
    }
    free(c->names);
    free(c->names_text);
    c->names = names;
    c->names_text = text;
    for (size_t i = 0; i < c->given_count; i++) {
        size_t length = strlen(c->given_names[i]) + 1;
        memcpy(text, c->given_names[i], length);
        names[i] = text;
        text += length;
    }
    c->name_count = c->given_count;
    c->names_set = true;
    c->base.record.column_names = (const char *const *)c->names;
    c->base.record.column_count = c->name_count;
    return 0;
}

/*
 * rename_header - source.csv.columns in place of the header's names: as
 * many as the header has, or a fatal error saying both counts.
 */
static int rename_header(struct csv_reader *c, int64_t line, struct iq_error *err)
{
    if (c->given_count != c->name_count)
        return reader_fail(&c->base, err, IQ_E_INVALID, line,
                           "the header has %zu columns but %zu column names were given "
                           "(source.csv.columns, --columns)",
                           c->name_count, c->given_count);
    return use_given_names(c, err);
}

/* Keep the current row as the header. */
static int take_header(struct csv_reader *c, struct iq_error *err)
{
    struct reader *r = &c->base;
    int64_t line = c->done_line;
    if (r->record.problem != RECORD_OK)
        return reader_fail(r, err, IQ_E_INVALID, line, "header column %zu: %s",
                           r->record.problem_column, r->record.problem_message);
    c->names = calloc(c->field_count ? c->field_count : 1, sizeof(*c->names));
    c->names_text = malloc(c->arena_used ? c->arena_used : 1);
    if (!c->names || !c->names_text)
        return reader_fail(r, err, IQ_E_NOMEM, line, "out of memory reading the header");
    memcpy(c->names_text, c->arena, c->arena_used);
    for (size_t i = 0; i < c->field_count; i++)
        c->names[i] = c->names_text + c->offsets[i];
    c->name_count = c->field_count;
    c->names_set = true;
    r->record.column_names = (const char *const *)c->names;
    r->record.column_count = c->name_count;
    /* given names replace the header's, duplicates and all (the spec's are distinct) */
    return c->names_given ? rename_header(c, line, err) : check_duplicate_names(c, line, err);
}

/* Name the columns c1..cN after the first row of a file without header. */
static int default_names(struct csv_reader *c, struct iq_error *err)
{
    struct reader *r = &c->base;
    size_t n = c->field_count;
    size_t text_size = n * (sizeof("c") + 20);
    c->names = calloc(n ? n : 1, sizeof(*c->names));
    c->names_text = malloc(text_size ? text_size : 1);
    if (!c->names || !c->names_text)
        return reader_fail(r, err, IQ_E_NOMEM, c->done_line, "out of memory naming columns");
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        c->names[i] = c->names_text + used;
        used += (size_t)snprintf(c->names[i], text_size - used, "c%zu", i + 1) + 1;
    }
    c->name_count = n;
    c->names_set = true;
    r->record.column_names = (const char *const *)c->names;
    r->record.column_count = n;
    return 0;
}

static int csv_next(struct reader *r, struct iq_error *err)
{
    struct csv_reader *c = (struct csv_reader *)r;
    int rc = read_row(c, err);
    if (rc <= 0)
        return rc;
    r->saw_data = true;
    if (!c->names_set && (rc = default_names(c, err)) < 0)
        return rc;
    if (!c->header && c->names_given && c->records == 0 && c->field_count != c->name_count)
        return reader_fail(r, err, IQ_E_INVALID, c->done_line,
                           "the first record has %zu fields but %zu column names were given "
                           "(source.csv.columns, --columns)",
                           c->field_count, c->name_count);
    r->record.line = c->done_line;
    r->record.index = c->records++;
    r->record.fields = c->fields;
    r->record.field_count = c->field_count;
    if (c->field_count != c->name_count)
        reader_set_problem(r, RECORD_RAGGED, 0, "expected %zu fields, found %zu", c->name_count,
                           c->field_count);
    return 1;
}

/* Check and copy the CSV options; 0 or IQ_E_INVALID. */
static int take_options(struct csv_reader *c, const struct csv_options *options,
                        struct iq_error *err)
{
    c->delimiter = options->delimiter ? (unsigned char)options->delimiter : ',';
    c->quote = options->quote ? (unsigned char)options->quote : '"';
    if (c->delimiter == c->quote || c->delimiter == '\r' || c->delimiter == '\n' ||
        c->quote == '\r' || c->quote == '\n')
        return reader_fail(&c->base, err, IQ_E_INVALID, 0,
                           "CSV delimiter and quote must differ and not be a line end");
    if (options->skip_rows < 0)
        return reader_fail(&c->base, err, IQ_E_INVALID, 0, "skip_rows must not be negative");
    c->null_marker = strdup(options->null_marker ? options->null_marker : "");
    if (!c->null_marker)
        return reader_fail(&c->base, err, IQ_E_NOMEM, 0, "out of memory");
    c->null_length = strlen(c->null_marker);
    c->header = options->header;
    c->skip_rows = options->skip_rows;
    c->given_names = options->column_count ? options->columns : NULL;
    c->given_count = options->column_count;
    c->names_given = c->given_names != NULL;
    return 0;
}

static int csv_start(struct reader *r, const struct source_spec *source, struct iq_error *err)
{
    struct csv_reader *c = (struct csv_reader *)r;
    int rc = take_options(c, &source->csv, err);
    if (rc < 0)
        return rc;
    if (csv_init(&c->parser, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return reader_fail(r, err, IQ_E_NOMEM, 0, "cannot start the CSV parser");
    c->parser_ready = true;
    csv_set_delim(&c->parser, c->delimiter);
    csv_set_quote(&c->parser, c->quote);
    csv_set_space_func(&c->parser, no_space);
    csv_set_realloc_func(&c->parser, refuse_realloc);
    c->line = 1;
    /* a headerless file with given names has them before any record */
    if (!c->header && c->names_given && (rc = use_given_names(c, err)) < 0)
        return rc;
    if ((rc = skip_lines(c, err)) < 0 || !c->header)
        return rc;
    rc = read_row(c, err);
    if (rc <= 0)
        return rc;
    r->saw_data = true;
    rc = take_header(c, err);
    c->given_names = NULL; /* copied or not needed: the spec may go */
    return rc;
}

static size_t csv_buffer_bytes(const struct reader *r)
{
    const struct csv_reader *c = (const struct csv_reader *)r;
    return c->parser.entry_size + c->arena_capacity + c->field_capacity * sizeof(*c->fields) +
           c->offset_capacity * sizeof(*c->offsets);
}

static void csv_free_reader(struct reader *r)
{
    struct csv_reader *c = (struct csv_reader *)r;
    if (c->parser_ready)
        csv_free(&c->parser);
    free(c->null_marker);
    free(c->arena);
    free(c->fields);
    free(c->offsets);
    free(c->names);
    free(c->names_text);
    free(c);
}

static const struct reader_ops csv_ops = {
    .name = "csv",
    .start = csv_start,
    .next = csv_next,
    .buffer_bytes = csv_buffer_bytes,
    .free = csv_free_reader,
};

struct reader *reader_csv_create(void)
{
    struct csv_reader *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->base.ops = &csv_ops;
    return &c->base;
}
