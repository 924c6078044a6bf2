/*
 * reader.c - the format-independent half of the readers: opening, the
 * chunked read loop with BOM handling and the decoding of latin1 and
 * windows-1252 sources to UTF-8 (iconv), sticky fatal errors, the read-ahead
 * of the first record, and the public wrappers around struct reader_ops.
 * The formats live in reader_csv.c, reader_ndjson.c and reader_json.c.
 */
#include "pipeline/reader_internal.h"

#include "pipeline/json_build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned char UTF8_BOM[3] = {0xEF, 0xBB, 0xBF};

void reader_limits_default(struct reader_limits *ret_limits)
{
    ret_limits->chunk_bytes = READER_DEFAULT_CHUNK_BYTES;
    ret_limits->max_field_bytes = READER_DEFAULT_MAX_FIELD_BYTES;
    ret_limits->max_record_bytes = READER_DEFAULT_MAX_RECORD_BYTES;
    ret_limits->max_fields = READER_DEFAULT_MAX_FIELDS;
}

/* Defaults for zero members; the chunk is at least READER_MIN_CHUNK_BYTES. */
static struct reader_limits limits_resolve(const struct reader_limits *given)
{
    struct reader_limits limits;
    reader_limits_default(&limits);
    if (given) {
        if (given->chunk_bytes)
            limits.chunk_bytes = given->chunk_bytes;
        if (given->max_field_bytes)
            limits.max_field_bytes = given->max_field_bytes;
        if (given->max_record_bytes)
            limits.max_record_bytes = given->max_record_bytes;
        if (given->max_fields)
            limits.max_fields = given->max_fields;
    }
    if (limits.chunk_bytes < READER_MIN_CHUNK_BYTES)
        limits.chunk_bytes = READER_MIN_CHUNK_BYTES;
    return limits;
}

int reader_fail(struct reader *r, struct iq_error *err, int code, int64_t line, const char *fmt,
                ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    char *message = NULL;
    int n = line > 0 ? asprintf(&message, "line %lld: %s", (long long)line, detail)
                     : asprintf(&message, "%s", detail);
    if (n < 0)
        message = NULL;
    free(r->failed_message);
    r->failed_message = message;
    r->failed = code;
    return iq_error_set(err, code, "%s", message ? message : detail);
}

void reader_set_problem(struct reader *r, enum record_problem problem, size_t column,
                        const char *fmt, ...)
{
    if (r->record.problem != RECORD_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->problem, sizeof(r->problem), fmt, ap);
    va_end(ap);
    r->record.problem = problem;
    r->record.problem_column = column;
    r->record.problem_message = r->problem;
}

const char *reader_json_type_name(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

void reader_set_built(struct reader *r, const struct json_built *built)
{
    r->record.value = built->value;
    r->record.numbers = built->numbers;
    if (built->problem != RECORD_OK) {
        reader_set_problem(r, built->problem, 0, "%s",
                           built->message ? built->message : "bad record");
        r->record.problem_pointer = built->problem_pointer;
    } else if (!json_is_object(built->value)) {
        reader_set_problem(r, RECORD_NOT_OBJECT, 0, "expected an object, found %s",
                           reader_json_type_name(built->value));
    }
}

/* read(2) into buffer[0..size), retrying on EINTR. Bytes read or IQ_E_IO. */
static ssize_t read_raw(struct reader *r, char *buffer, size_t size, struct iq_error *err)
{
    for (;;) {
        ssize_t n = read(r->fd, buffer, size);
        if (n >= 0) {
            r->bytes_read += (uint64_t)n;
            return n;
        }
        if (errno != EINTR)
            return reader_fail(r, err, IQ_E_IO, 0, "read failed: %s", strerror(errno));
    }
}

/*
 * decode_raw - turn the pending raw bytes into UTF-8 at out (room for
 * out_size bytes). Returns the bytes written. A byte windows-1252 leaves
 * undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) becomes the C1 control of the
 * same number, as the WHATWG Encoding Standard (browsers) decodes it, so
 * no byte of a single-byte encoding is an error.
 */
static size_t decode_raw(struct reader *r, char *out, size_t out_size)
{
    size_t out_left = out_size;
    while (r->raw_position < r->raw_length && out_left > 0) {
        char *in = r->raw + r->raw_position;
        size_t in_left = r->raw_length - r->raw_position;
        size_t rc = iconv(r->decoder, &in, &in_left, &out, &out_left);
        r->raw_position = r->raw_length - in_left;
        if (rc != (size_t)-1 || errno != EILSEQ || out_left < 2)
            break; /* done, or out is full (E2BIG): the rest waits */
        unsigned char byte = (unsigned char)r->raw[r->raw_position++];
        *out++ = (char)(0xC0 | (byte >> 6));
        *out++ = (char)(0x80 | (byte & 0x3F));
        out_left -= 2;
    }
    return out_size - out_left;
}

/*
 * read_some - bytes into chunk[offset..): straight from the file for UTF-8,
 * else read into raw and decoded. Bytes placed (0 at end of file) or IQ_E_IO.
 */
static ssize_t read_some(struct reader *r, size_t offset, struct iq_error *err)
{
    if (r->encoding == ENCODING_UTF8)
        return read_raw(r, r->chunk + offset, r->limits.chunk_bytes - offset, err);
    for (;;) {
        if (r->raw_position == r->raw_length) {
            ssize_t n = read_raw(r, r->raw, r->raw_capacity, err);
            if (n <= 0)
                return n;
            r->raw_length = (size_t)n;
            r->raw_position = 0;
        }
        size_t placed = decode_raw(r, r->chunk + offset, r->limits.chunk_bytes - offset);
        if (placed > 0)
            return (ssize_t)placed;
        if (r->raw_position < r->raw_length) /* no room for one character: cannot happen */
            return reader_fail(r, err, IQ_E_INTERNAL, 0, "no room to decode the source");
    }
}

/* First read: fill at least three bytes (or to EOF) and drop a BOM (UTF-8 only). */
static int first_fill(struct reader *r, struct iq_error *err)
{
    r->started = true;
    r->fill_count++;
    size_t want = r->encoding == ENCODING_UTF8 ? sizeof(UTF8_BOM) : 1;
    while (r->chunk_length < want) {
        ssize_t n = read_some(r, r->chunk_length, err);
        if (n < 0)
            return (int)n;
        if (n == 0) {
            r->eof = true;
            break;
        }
        r->chunk_length += (size_t)n;
    }
    if (r->encoding == ENCODING_UTF8 && r->chunk_length >= sizeof(UTF8_BOM) &&
        memcmp(r->chunk, UTF8_BOM, sizeof(UTF8_BOM)) == 0)
        r->chunk_position = sizeof(UTF8_BOM);
    return r->chunk_position < r->chunk_length;
}

int reader_fill(struct reader *r, struct iq_error *err)
{
    if (r->failed)
        return r->failed;
    if (r->chunk_position < r->chunk_length)
        return 1;
    if (!r->started)
        return first_fill(r, err);
    if (r->eof)
        return 0;
    r->chunk_position = 0;
    r->chunk_length = 0;
    ssize_t n = read_some(r, 0, err);
    if (n < 0)
        return (int)n;
    if (n == 0) {
        r->eof = true;
        return 0;
    }
    r->chunk_length = (size_t)n;
    r->fill_count++;
    return 1;
}

static struct reader *create_backend(enum source_format format)
{
    switch (format) {
    case SOURCE_CSV:
        return reader_csv_create();
    case SOURCE_NDJSON:
        return reader_ndjson_create();
    case SOURCE_JSON:
        return reader_json_create();
    }
    return NULL;
}

/*
 * start_decoder - for a CSV source in latin1 or windows-1252: the iconv
 * descriptor and the raw buffer. 0, or a negative IQ_E_* with err set.
 */
static int start_decoder(struct reader *r, const struct source_spec *source, struct iq_error *err)
{
    r->decoder = (iconv_t)-1;
    r->encoding = source->format == SOURCE_CSV ? source->csv.encoding : ENCODING_UTF8;
    if (r->encoding == ENCODING_UTF8)
        return 0;
    const char *from = r->encoding == ENCODING_LATIN1 ? "ISO-8859-1" : "CP1252";
    r->decoder = iconv_open("UTF-8", from);
    if (r->decoder == (iconv_t)-1)
        return iq_error_set(err, IQ_E_INTERNAL, "cannot decode %s: iconv_open: %s",
                            source_encoding_name(r->encoding), strerror(errno));
    r->raw_capacity = r->limits.chunk_bytes / 3;
    r->raw = malloc(r->raw_capacity);
    if (!r->raw)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory opening the reader");
    return 0;
}

/* Stat fd for bytes_total (regular files only). */
static void note_total_size(struct reader *r)
{
    struct stat st;
    if (fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        r->bytes_total = (uint64_t)st.st_size;
}

/* Read ahead the first record so that reader_is_empty() (and, without a
 * header, the column names) are known at open. A fatal error here is kept
 * for the first reader_next(): open fails only on options and header. */
static void read_ahead(struct reader *r)
{
    struct iq_error deferred = {0};
    int rc = r->ops->next(r, &deferred);
    if (rc < 0 && !r->failed)
        reader_fail(r, NULL, rc, 0, "%s", iq_error_message(&deferred));
    iq_error_clear(&deferred);
    if (rc == 0)
        r->finished = true;
    else if (rc > 0)
        r->pending = true;
}

int reader_open_fd(int fd, const struct source_spec *source, const struct reader_limits *limits,
                   struct reader **ret_reader, struct iq_error *err)
{
    *ret_reader = NULL;
    if (!source || fd < 0)
        return iq_error_set(err, IQ_E_INVALID, "no source to read");
    struct reader *r = create_backend(source->format);
    if (!r)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory opening the reader");
    r->fd = fd;
    r->limits = limits_resolve(limits);
    r->chunk = malloc(r->limits.chunk_bytes);
    if (!r->chunk) {
        reader_free(r);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory opening the reader");
    }
    int decoder_rc = start_decoder(r, source, err);
    if (decoder_rc < 0) {
        reader_free(r);
        return decoder_rc;
    }
    note_total_size(r);
    int rc = r->ops->start(r, source, err);
    if (rc == 0)
        read_ahead(r);
    if (rc < 0) {
        reader_free(r);
        return rc;
    }
    *ret_reader = r;
    return 0;
}

int reader_open_path(const char *path, const struct source_spec *source,
                     const struct reader_limits *limits, struct reader **ret_reader,
                     struct iq_error *err)
{
    *ret_reader = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        /* missing or unreadable: the same next time (run_job.c does not retry
         * these); anything else (EIO, EMFILE, ...) may pass */
        int code = errno == ENOENT || errno == ENOTDIR ? IQ_E_NOT_FOUND
                   : errno == EACCES || errno == EPERM ? IQ_E_FORBIDDEN
                   : errno == EISDIR                   ? IQ_E_INVALID
                                                       : IQ_E_IO;
        return iq_error_set(err, code, "cannot open %s: %s", path, strerror(errno));
    }
    struct reader *r = NULL;
    int rc = reader_open_fd(fd, source, limits, &r, err);
    if (rc < 0 || !r) {
        close(fd);
        return rc < 0 ? rc : IQ_E_INTERNAL;
    }
    r->owns_fd = true;
    *ret_reader = r;
    return 0;
}

int reader_next(struct reader *r, struct record **ret_record, struct iq_error *err)
{
    *ret_record = NULL;
    if (r->failed)
        return iq_error_set(err, r->failed, "%s",
                            r->failed_message ? r->failed_message : iq_err_name(r->failed));
    if (r->pending) {
        r->pending = false;
        *ret_record = &r->record;
        return 1;
    }
    if (r->finished)
        return 0;
    int rc = r->ops->next(r, err);
    if (rc == 0)
        r->finished = true;
    else if (rc > 0)
        *ret_record = &r->record;
    return rc;
}

void reader_free(struct reader *r)
{
    if (!r)
        return;
    if (r->owns_fd && r->fd >= 0)
        close(r->fd);
    free(r->chunk);
    free(r->raw);
    if (r->decoder != (iconv_t)-1 && r->decoder != NULL)
        iconv_close(r->decoder);
    free(r->failed_message);
    r->ops->free(r);
}

const char *const *reader_column_names(const struct reader *r, size_t *ret_count)
{
    *ret_count = r->record.column_count;
    return r->record.column_names;
}

bool reader_is_empty(const struct reader *r)
{
    return !r->saw_data && !r->failed;
}

uint64_t reader_bytes_read(const struct reader *r)
{
    return r->bytes_read;
}

uint64_t reader_bytes_total(const struct reader *r)
{
    return r->bytes_total;
}

size_t reader_buffer_bytes(const struct reader *r)
{
    return r->limits.chunk_bytes + r->raw_capacity + r->ops->buffer_bytes(r);
}
