/*
 * reader_internal.h - what the reader backends (reader_csv.c,
 * reader_ndjson.c, reader_json.c) share with reader.c and nothing outside
 * src/pipeline/reader*.c sees: the table of backend operations, the common
 * head every backend struct embeds as its first member, and the chunked
 * input and error helpers.
 */
#ifndef IMPORTQ_PIPELINE_READER_INTERNAL_H
#define IMPORTQ_PIPELINE_READER_INTERNAL_H

#include "pipeline/reader.h"

#include <iconv.h>

#define READER_PROBLEM_LEN 256

struct reader_ops {
    const char *name;

    /* Prepare to read: copy what is needed from source, allocate parser
     * state, read a CSV header. 0 or a fatal error (through reader_fail). */
    int (*start)(struct reader *r, const struct source_spec *source, struct iq_error *err);

    /* Read the next record into r->record (after releasing the previous
     * one). 1 = a record, 0 = end of data, negative = fatal (reader_fail). */
    int (*next)(struct reader *r, struct iq_error *err);

    /* Bytes of the backend's own buffers. */
    size_t (*buffer_bytes)(const struct reader *r);

    /* Free the backend's members and the struct itself. */
    void (*free)(struct reader *r);
};

/*
 * struct reader - the common head. The chunk buffer holds the bytes read
 * but not yet consumed: chunk[chunk_position..chunk_length). Backends
 * consume by advancing chunk_position and call reader_fill when it reaches
 * chunk_length.
 */
struct reader {
    const struct reader_ops *ops;
    struct reader_limits limits;
    int fd;
    bool owns_fd;

    char *chunk;                 /* limits.chunk_bytes */
    size_t chunk_length;
    size_t chunk_position;
    bool eof;                    /* read(2) returned 0 */
    uint64_t fill_count;         /* chunks read so far: lets backends cache
                                    offsets into the current chunk */
    bool started;                /* the first read (and BOM check) happened */

    uint64_t bytes_read;         /* of the file, before decoding */
    uint64_t bytes_total;

    /* A CSV source in latin1 or windows-1252: read(2) fills raw, iconv(3)
     * turns it into UTF-8 in chunk, so the backends only ever see UTF-8.
     * A byte becomes at most 3, so raw is a third of the chunk. */
    enum source_encoding encoding;
    iconv_t decoder;             /* (iconv_t)-1 for UTF-8 */
    char *raw;
    size_t raw_capacity;
    size_t raw_length;
    size_t raw_position;

    struct record record;        /* the record handed out */
    bool pending;                /* record was read ahead by open, not yet returned */
    bool finished;               /* next returned 0 */
    bool saw_data;               /* a header, a record or any JSON text was seen */
    int failed;                  /* sticky fatal error code, 0 = none */
    char *failed_message;

    char problem[READER_PROBLEM_LEN]; /* storage for record.problem_message */
};

/* Backend constructors: a zeroed backend struct with ops set, or NULL. */
struct reader *reader_csv_create(void);
struct reader *reader_ndjson_create(void);
struct reader *reader_json_create(void);

/*
 * reader_fill - make sure unread bytes are in the chunk. Returns 1 when
 * chunk_position < chunk_length afterwards, 0 at end of file, or a fatal
 * IQ_E_IO. A UTF-8 byte order mark at the start of a UTF-8 file is
 * skipped; a file in another encoding is decoded to UTF-8 on the way.
 */
int reader_fill(struct reader *r, struct iq_error *err);

/*
 * reader_fail - record a fatal error: code and "line N: <message>" (no
 * prefix when line <= 0) go into err and stay with the reader. Returns code.
 */
int reader_fail(struct reader *r, struct iq_error *err, int code, int64_t line, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

/*
 * reader_set_problem - mark r->record with problem and a printf-style
 * message kept in r->problem (the first problem of a record wins).
 */
void reader_set_problem(struct reader *r, enum record_problem problem, size_t column,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

struct json_built;

/*
 * reader_set_built - fill r->record's value, numbers and problem from a
 * record built by json_build (borrowed: it must live as long as the
 * record); a value that is not an object is a RECORD_NOT_OBJECT problem.
 */
void reader_set_built(struct reader *r, const struct json_built *built);

/* reader_json_type_name - "an object", "a string", ... for messages. */
const char *reader_json_type_name(const json_t *value);

#endif
