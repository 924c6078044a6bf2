/*
 * json_build.c - one record's jansson value from yajl events (see
 * json_build.h): a stack of open containers, the pending object key, and
 * the record's problem and number literals. Where a problem is (its JSON
 * pointer) is worked out only when there is one, from the stack.
 */
#include "pipeline/json_build.h"

#include "core/error.h"
#include "pipeline/cnumber.h"
#include "pipeline/grow.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_build_reset(struct json_build *b)
{
    json_decref(b->root);
    json_numbers_free(b->numbers);
    free(b->problem_pointer);
    b->root = NULL;
    b->numbers = NULL;
    b->problem_pointer = NULL;
    b->depth = 0;
    b->key_length = 0;
    b->problem = RECORD_OK;
    b->message[0] = '\0';
}

void json_build_clear(struct json_build *b)
{
    if (!b)
        return;
    json_build_reset(b);
    free(b->key);
    b->key = NULL;
    b->key_capacity = 0;
}

void json_built_clear(struct json_built *built)
{
    if (!built)
        return;
    json_decref(built->value);
    json_numbers_free(built->numbers);
    free(built->message);
    free(built->problem_pointer);
    memset(built, 0, sizeof(*built));
}

/* One RFC 6901 reference token, escaped ('~' -> "~0", '/' -> "~1"). */
static void put_token(FILE *out, const char *token, size_t length)
{
    fputc('/', out);
    for (size_t i = 0; i < length; i++) {
        if (token[i] == '~')
            fputs("~0", out);
        else if (token[i] == '/')
            fputs("~1", out);
        else
            fputc(token[i], out);
    }
}

/* The key under which object holds child (objects keep insertion order,
 * and child is usually the last member). */
static const char *key_of(json_t *object, const json_t *child, size_t *ret_length)
{
    const char *key;
    size_t length;
    json_t *member;
    const char *found = NULL;
    json_object_keylen_foreach(object, key, length, member) {
        if (member == child) {
            found = key;
            *ret_length = length;
        }
    }
    return found;
}

/* The JSON pointer, inside root, of the slot being filled; NULL on OOM. */
static char *slot_pointer(struct json_build *b)
{
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    if (!out)
        return NULL;
    for (size_t i = 0; i < b->depth; i++) {
        json_t *container = b->stack[i];
        bool last = i + 1 == b->depth;
        if (json_is_array(container)) {
            size_t size = json_array_size(container);
            fprintf(out, "/%zu", last ? size : size - 1);
        } else if (last) {
            put_token(out, b->key, b->key_length);
        } else {
            size_t key_length = 0;
            const char *key = key_of(container, b->stack[i + 1], &key_length);
            put_token(out, key ? key : "", key ? key_length : 0);
        }
    }
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

void json_build_fail(struct json_build *b, const char *fmt, ...)
{
    if (b->problem != RECORD_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->message, sizeof(b->message), fmt, ap);
    va_end(ap);
    b->problem = RECORD_BAD_JSON;
    b->problem_pointer = slot_pointer(b); /* NULL on OOM: the problem stays */
}

/* Put value (a new reference, NULL on OOM) into the slot being filled. */
static int attach(struct json_build *b, json_t *value)
{
    if (!value)
        return IQ_E_NOMEM;
    if (b->depth == 0) {
        b->root = value;
        return json_is_object(value) || json_is_array(value) ? JSON_BUILD_MORE
                                                               : JSON_BUILD_DONE;
    }
    json_t *parent = b->stack[b->depth - 1];
    int rc;
    if (json_is_array(parent)) {
        rc = json_array_append_new(parent, value);
    } else {
        /* A duplicate replaces the first value; the record is rejected
         * whole, so no conversion sees the replaced node's literal. */
        if (json_object_getn(parent, b->key, b->key_length))
            json_build_fail(b, "duplicate key \"%.*s\"",
                            (int)(b->key_length > 64 ? 64 : b->key_length), b->key);
        rc = json_object_setn_new_nocheck(parent, b->key, b->key_length, value);
    }
    return rc == 0 ? JSON_BUILD_MORE : IQ_E_NOMEM;
}

int json_build_null(struct json_build *b)
{
    return attach(b, json_null());
}

int json_build_boolean(struct json_build *b, bool value)
{
    return attach(b, json_boolean(value));
}

int json_build_string(struct json_build *b, const char *text, size_t length)
{
    if (memchr(text, '\0', length))
        json_build_fail(b, "\\u0000 in a string");
    return attach(b, json_stringn_nocheck(text, length));
}

/*
 * json_build_number - an int64 integer as a jansson integer; any other
 * number as a stand-in real (the nearest double, +-DBL_MAX past the
 * range) whose literal text is kept in b->numbers.
 */
int json_build_number(struct json_build *b, const char *text, size_t length)
{
    int64_t integer;
    if (cnumber_parse_int64(text, length, &integer) == CNUMBER_OK)
        return attach(b, json_integer(integer));
    double real = 0;
    cnumber_parse_double(text, length, &real); /* +-HUGE_VAL or 0 out of range */
    if (isinf(real))
        real = real > 0 ? DBL_MAX : -DBL_MAX;
    json_t *value = json_real(real);
    if (value && json_numbers_add(&b->numbers, value, text, length) < 0) {
        json_decref(value);
        return IQ_E_NOMEM;
    }
    return attach(b, value);
}

int json_build_key(struct json_build *b, const char *key, size_t length)
{
    if (!grow_buffer((void **)&b->key, &b->key_capacity, length + 1, 1, 64))
        return IQ_E_NOMEM;
    memcpy(b->key, key, length);
    b->key[length] = '\0';
    b->key_length = length;
    if (memchr(key, '\0', length))
        json_build_fail(b, "\\u0000 in a key");
    return JSON_BUILD_MORE;
}

int json_build_open(struct json_build *b, bool is_array)
{
    if (b->depth == READER_MAX_JSON_DEPTH)
        return IQ_E_INVALID;
    json_t *container = is_array ? json_array() : json_object();
    if (!container)
        return IQ_E_NOMEM;
    json_incref(container); /* attach takes one reference, the stack borrows */
    int rc = attach(b, container);
    json_decref(container);
    if (rc < 0)
        return rc;
    b->stack[b->depth++] = container;
    return JSON_BUILD_MORE;
}

int json_build_close(struct json_build *b)
{
    if (b->depth == 0)
        return IQ_E_INVALID;
    b->depth--;
    return b->depth == 0 ? JSON_BUILD_DONE : JSON_BUILD_MORE;
}

void json_build_take(struct json_build *b, struct json_built *ret)
{
    json_numbers_seal(b->numbers);
    *ret = (struct json_built){
        .value = b->root,
        .numbers = b->numbers,
        .problem = b->problem,
        .message = b->problem != RECORD_OK ? strdup(b->message) : NULL,
        .problem_pointer = b->problem_pointer,
    };
    b->root = NULL;
    b->numbers = NULL;
    b->problem_pointer = NULL;
    json_build_reset(b);
}
