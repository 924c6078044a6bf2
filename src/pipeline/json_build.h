/*
 * json_build.h - build one record's jansson value from yajl's parse
 * events. Shared by the JSON reader (each element of the record array)
 * and the NDJSON reader (each line), so that both read a record by the
 * same rules: a duplicate key or "\u0000" in a string or key is a record
 * problem (with the JSON pointer of the value, inside the record, where
 * it is), every number that is not an int64 integer keeps its literal text
 * (json_numbers.h), and nesting is bounded by READER_MAX_JSON_DEPTH.
 *
 * Not for: finding the records in a document, line numbers, limits on
 * bytes (the readers do those). Not thread-safe.
 */
#ifndef IMPORTQ_PIPELINE_JSON_BUILD_H
#define IMPORTQ_PIPELINE_JSON_BUILD_H

#include "pipeline/json_numbers.h"
#include "pipeline/reader.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define JSON_BUILD_MESSAGE_LEN 160

/* Returns of the json_build_* event calls (negative: IQ_E_NOMEM, or
 * IQ_E_INVALID when nesting goes past READER_MAX_JSON_DEPTH). */
#define JSON_BUILD_MORE 0      /* the value is not complete yet */
#define JSON_BUILD_DONE 1      /* the value is complete: take it */

/* A complete value and what was found in it; every member owned. */
struct json_built {
    json_t *value;
    struct json_numbers *numbers;      /* sealed; NULL when no literal */
    enum record_problem problem;       /* RECORD_OK or RECORD_BAD_JSON */
    char *message;                     /* NULL when problem is RECORD_OK */
    char *problem_pointer;             /* inside value; NULL when none */
};

struct json_build {
    json_t *root;                          /* owned */
    json_t *stack[READER_MAX_JSON_DEPTH];  /* open containers, borrowed from root */
    size_t depth;
    char *key;                 /* key of the next value in the open object */
    size_t key_length;
    size_t key_capacity;
    struct json_numbers *numbers;
    enum record_problem problem;
    char message[JSON_BUILD_MESSAGE_LEN];
    char *problem_pointer;
};

/* json_build_reset - forget the value being built (freeing it); the
 * builder is ready for the next one. Also the initialiser of a zeroed
 * struct. */
void json_build_reset(struct json_build *b);

/* json_build_clear - free everything; NULL-safe. */
void json_build_clear(struct json_build *b);

/* Events, in document order. Each returns JSON_BUILD_MORE,
 * JSON_BUILD_DONE, or a negative IQ_E_* (the builder should be reset). */
int json_build_null(struct json_build *b);
int json_build_boolean(struct json_build *b, bool value);
int json_build_number(struct json_build *b, const char *text, size_t length);
int json_build_string(struct json_build *b, const char *text, size_t length);
int json_build_key(struct json_build *b, const char *key, size_t length);
int json_build_open(struct json_build *b, bool is_array);
int json_build_close(struct json_build *b);

/* json_build_take - after JSON_BUILD_DONE: move the value and its
 * findings into *ret (the caller owns them; json_built_clear) and reset. */
void json_build_take(struct json_build *b, struct json_built *ret);

/* json_built_clear - free what a json_built holds; NULL-safe. */
void json_built_clear(struct json_built *built);

/* json_build_fail - note a problem in the value being built (the first
 * one wins), at the slot being filled. */
void json_build_fail(struct json_build *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
