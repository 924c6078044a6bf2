/*
 * reader.h - pull-based streaming readers for import sources: CSV (libcsv),
 * NDJSON (jansson per line) and JSON (yajl, streaming). The caller pulls
 * one record at a time with reader_next(); memory stays bounded by the
 * limits below however large the file is (buffers are reused, the file is
 * read in chunks, a JSON document is never held whole).
 *
 * What a reader does NOT do: map columns, convert types (convert.h), or
 * decide what a bad record means for the job. Problems confined to one
 * record (a ragged CSV row, invalid UTF-8 in a field, an NDJSON line that
 * is not an object) come back as a record with `problem` set, so the caller
 * can reject that row and go on. Problems that make the rest of the file
 * unreadable (an unterminated quote, truncated JSON, a field over the size
 * limit, an I/O error, duplicate header names) are fatal: reader_next
 * returns a negative IQ_E_* code and err->message starts with
 * "line N: ". After a fatal error every further call returns it again.
 *
 * CSV rules (RFC 4180, strict):
 * - Records end at LF, CRLF or a lone CR; blank lines are skipped. Line
 *   numbers count physical lines from 1 (CRLF is one line), including the
 *   skip_rows lines and the header; a record's line is its first line.
 * - A field is quoted only when its first character is the quote; a quote
 *   is written inside a quoted field by doubling it. A quote inside an
 *   unquoted field, or anything but a delimiter or line end after a closing
 *   quote, is a fatal error. Nothing is trimmed: " a " stays " a ".
 * - An unquoted field equal to csv.null_marker is NULL; a quoted one never
 *   is (with the default marker "", `a,,b` has a NULL and `a,"",b` an empty
 *   string).
 * - skip_rows physical lines are skipped (not parsed, not validated)
 *   before the header. A UTF-8 byte order mark at the start of the file is
 *   ignored. Every field must be valid UTF-8 without NUL bytes.
 * - Without a header the columns are named c1..cN after the first record.
 *   A header with two equal names is fatal.
 * - csv.columns, when given, names the columns instead: in place of the
 *   header's names (the header must have as many, else fatal), or of
 *   c1..cN (the first record must have as many fields, else fatal).
 * - csv.encoding latin1 or windows-1252: the file is decoded to UTF-8
 *   (iconv) as it is read, before parsing; every byte decodes (windows-1252's
 *   five undefined bytes become the C1 controls, as browsers read them).
 *   Only a UTF-8 source has its byte order mark skipped.
 *
 * JSON: source.json_records is a JSON pointer (RFC 6901, "" or NULL = the
 * top level) to the array of records; the elements are streamed one by one.
 * NDJSON: one JSON value per line; blank lines are skipped. Both parse
 * with yajl and build jansson values the same way (json_build.h): each
 * record must be an object; duplicate keys and "\u0000" in strings are
 * record problems (problem_pointer says where in the record). A number
 * that is not an int64 integer (a real, 2^64, 1e400) is a stand-in real in
 * the value and its literal text is in record.numbers (json_numbers.h):
 * converting it uses the literal, so nothing is lost on the way.
 *
 * Records are counted: record.index is 0-based among the source's records
 * (CSV: data rows; NDJSON: non-blank lines; JSON: the index in the record
 * array) and, for JSON, record.pointer is the record's JSON pointer in the
 * document ("/steps/3", "/0" at the top level); NDJSON: "" (the line's
 * value); CSV: NULL.
 *
 * Not thread-safe: one reader belongs to one thread.
 */
#ifndef IMPORTQ_PIPELINE_READER_H
#define IMPORTQ_PIPELINE_READER_H

#include "core/error.h"
#include "core/job_spec.h"
#include "pipeline/json_numbers.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define READER_DEFAULT_CHUNK_BYTES ((size_t)256 * 1024)
#define READER_DEFAULT_MAX_FIELD_BYTES ((size_t)64 * 1024 * 1024)
#define READER_DEFAULT_MAX_RECORD_BYTES ((size_t)64 * 1024 * 1024)
#define READER_DEFAULT_MAX_FIELDS ((size_t)16384)
#define READER_MAX_JSON_DEPTH 512
#define READER_MIN_CHUNK_BYTES ((size_t)4)

/*
 * struct reader_limits - every buffer a file can grow is bounded by one of
 * these. max_field_bytes bounds one CSV field or one JSON scalar token;
 * max_record_bytes bounds a whole record (a CSV row's fields, an NDJSON
 * line, a JSON record's text). Zero in any member means "the default".
 */
struct reader_limits {
    size_t chunk_bytes;        /* read(2) size; default 256 KiB */
    size_t max_field_bytes;    /* default 64 MiB */
    size_t max_record_bytes;   /* default 64 MiB */
    size_t max_fields;         /* CSV fields in one record; default 16384 */
};

/* One CSV field. data is never NULL and data[length] == '\0'. */
struct reader_field {
    const char *data;          /* for a NULL field: the marker's text */
    size_t length;             /* bytes */
    bool is_null;              /* unquoted and equal to the null marker */
    bool quoted;
};

enum record_problem {
    RECORD_OK = 0,
    RECORD_RAGGED,             /* CSV: field count differs from the header's */
    RECORD_BAD_ENCODING,       /* CSV: invalid UTF-8 or a NUL byte in a field */
    RECORD_BAD_JSON,           /* NDJSON: invalid JSON; JSON/NDJSON: duplicate
                                  key, "\u0000", number out of range */
    RECORD_NOT_OBJECT,         /* JSON/NDJSON: the value is not an object */
};

/*
 * struct record - one record, owned by the reader and valid until the next
 * reader_next() or reader_free(). Do not modify it; json_incref(value) to
 * keep the JSON value longer.
 */
struct record {
    int64_t line;                      /* first source line of the record */
    int64_t index;                     /* 0-based among the source's records */
    const char *pointer;               /* JSON: "/steps/3"; NDJSON: ""; CSV: NULL */
    enum record_problem problem;
    const char *problem_message;       /* NULL when problem == RECORD_OK; no
                                          line number in it */
    size_t problem_column;             /* CSV: 1-based field of the problem;
                                          0 = the whole record */
    const char *problem_pointer;       /* JSON/NDJSON: where in the record the
                                          problem is ("/name"); NULL = the
                                          whole record */
    /* CSV */
    const struct reader_field *fields;
    size_t field_count;                /* may differ from column_count (ragged) */
    const char *const *column_names;   /* header names, or c1..cN */
    size_t column_count;
    /* JSON and NDJSON: an object unless problem is RECORD_NOT_OBJECT or
     * RECORD_BAD_JSON (then the value, or NULL when there is none). */
    json_t *value;
    const struct json_numbers *numbers; /* literals of value's numbers; may
                                           be NULL (none) */
};

struct reader;

/* reader_limits_default - fill *ret_limits with the defaults. */
void reader_limits_default(struct reader_limits *ret_limits);

/*
 * reader_open_fd - start reading source (format, csv options, records
 * pointer) from fd, which the reader borrows: the caller keeps it open
 * while the reader lives and closes it afterwards. limits may be NULL.
 * The CSV skip_rows and header are read here, and the first record is read
 * ahead, so that reader_column_names() and reader_is_empty() are known at
 * once. Open fails on bad options and on a bad header (duplicate names,
 * invalid UTF-8, a limit, an unterminated quote); a fatal error in the
 * data, even in the first record, is returned by reader_next.
 * Returns 0 and a reader in *ret_reader (free with reader_free), or a
 * negative IQ_E_* with err filled (IQ_E_INVALID for bad data or options,
 * IQ_E_TOO_LARGE for an exceeded limit, IQ_E_IO, IQ_E_NOMEM).
 */
int reader_open_fd(int fd, const struct source_spec *source, const struct reader_limits *limits,
                   struct reader **ret_reader, struct iq_error *err);

/*
 * reader_open_path - as reader_open_fd on the file at path, which the
 * reader opens and closes itself. The path is used as given: resolving it
 * inside the import root is the caller's job.
 */
int reader_open_path(const char *path, const struct source_spec *source,
                     const struct reader_limits *limits, struct reader **ret_reader,
                     struct iq_error *err);

/*
 * reader_next - the next record. Returns 1 and the record in *ret_record
 * (reader-owned, see struct record), 0 at the end of the data (and on every
 * later call), or a negative IQ_E_* on a fatal error with err->message
 * "line N: ...".
 */
int reader_next(struct reader *r, struct record **ret_record, struct iq_error *err);

/* reader_free - close (if reader_open_path opened it) and free; NULL-safe. */
void reader_free(struct reader *r);

/* reader_column_names - CSV column names (header, or c1..cN once the first
 * record was read); NULL and 0 for JSON. Owned by the reader. */
const char *const *reader_column_names(const struct reader *r, size_t *ret_count);

/* reader_is_empty - true when the source had no data at all: no header
 * and no record (a CSV with only a header is not empty; a source whose
 * first record failed is not empty either). */
bool reader_is_empty(const struct reader *r);

/* reader_bytes_read / reader_bytes_total - progress; total is 0 when the
 * size is unknown (a pipe). */
uint64_t reader_bytes_read(const struct reader *r);
uint64_t reader_bytes_total(const struct reader *r);

/* reader_buffer_bytes - bytes of buffers the reader holds right now
 * (chunk, field and record buffers, queues; not jansson values). */
size_t reader_buffer_bytes(const struct reader *r);

#endif
