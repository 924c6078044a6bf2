/*
 * reader_json.c - the JSON reader: yajl parses the document as a stream of
 * events; only the record being built (one element of the record array)
 * is ever held as a jansson value. Values outside the record array are
 * skipped without being built.
 *
 * Finding the array: a stack of frames, one per open container, each
 * marked OFF (not on the way to the array), PATH (the container at the
 * pointer's first k tokens, k = its depth), RECORDS (the array itself) or
 * BUILD (inside a record). A value's role follows from its parent frame,
 * the last key (objects) or the element index (arrays).
 *
 * Line numbers: yajl reports none, so the chunk is fed in slices that end
 * after an LF (or after JSON_SLICE_BYTES); every event in a slice happens
 * on the slice's line, as yajl emits an event when the token's last byte
 * arrives. yajl cannot pause, so a slice may complete several records:
 * they wait in a queue, which the slice size keeps short.
 */
#include "pipeline/cnumber.h"
#include "pipeline/reader_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define JSON_SLICE_BYTES ((size_t)16 * 1024)
#define JSON_MESSAGE_LEN 160

enum frame_role {
    ROLE_OFF,
    ROLE_PATH,
    ROLE_TARGET,               /* the value at the pointer (values only) */
    ROLE_RECORDS,
    ROLE_RECORD_ROOT,          /* an element of the record array (values only) */
    ROLE_BUILD,
};

struct frame {
    enum frame_role role;
    bool is_array;
    bool key_matches;          /* PATH object: the last key is the next token */
    int64_t index;             /* arrays: index of the next element */
    json_t *container;         /* BUILD: borrowed; the record root owns it */
};

struct queued_record {
    json_t *value;
    int64_t line;
    enum record_problem problem;
    char *message;             /* owned; NULL when problem is RECORD_OK */
};

struct json_reader {
    struct reader base;
    yajl_handle parser;
    struct iq_error *err;      /* during yajl_parse: where callbacks report */
    char *pointer;             /* for messages: "/steps" or "the top level" */
    char **tokens;
    int64_t *token_index;      /* token as an array index, -1 when it is none */
    size_t token_count;
    bool target_found;

    struct frame frames[READER_MAX_JSON_DEPTH];
    size_t depth;

    int64_t line;
    bool saw_text;             /* a non-whitespace byte was seen */
    bool event_seen;           /* a callback ran during the current slice */
    size_t bytes_since_event;
    bool complete;             /* yajl_complete_parse ran */

    /* The record being built. */
    json_t *record_root;
    int64_t record_line;
    size_t record_bytes;
    enum record_problem record_problem;
    char record_message[JSON_MESSAGE_LEN];
    char *key;                 /* the key of the next value in a BUILD object */
    size_t key_length;
    size_t key_capacity;

    struct queued_record *queue;
    size_t queue_head;
    size_t queue_count;
    size_t queue_capacity;
    json_t *current;           /* the value handed out */
};

/* Note a problem in the record being built (the first one wins). */
static void record_problem(struct json_reader *j, enum record_problem problem, const char *fmt,
                           ...) __attribute__((format(printf, 3, 4)));
static void record_problem(struct json_reader *j, enum record_problem problem, const char *fmt,
                           ...)
{
    if (j->record_problem != RECORD_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->record_message, sizeof(j->record_message), fmt, ap);
    va_end(ap);
    j->record_problem = problem;
}

/* A fatal error from inside a callback; returns 0 so yajl stops. */
static int callback_fail(struct json_reader *j, int code, const char *message)
{
    reader_fail(&j->base, j->err, code, j->line, "%s", message);
    return 0;
}

/* Every callback calls this first: the input is not one endless token. */
static void note_event(struct json_reader *j)
{
    j->event_seen = true;
}

/* The role of a value that starts now; advances the parent array's index. */
static enum frame_role next_role(struct json_reader *j)
{
    if (j->depth == 0)
        return j->token_count == 0 ? ROLE_TARGET : ROLE_PATH;
    struct frame *parent = &j->frames[j->depth - 1];
    int64_t index = parent->index;
    if (parent->is_array)
        parent->index++;
    switch (parent->role) {
    case ROLE_BUILD:
        return ROLE_BUILD;
    case ROLE_RECORDS:
        return ROLE_RECORD_ROOT;
    case ROLE_PATH: {
        /* A PATH frame at depth k < token_count: token k names the child. */
        bool match = parent->is_array ? j->token_index[j->depth - 1] == index
                                      : parent->key_matches;
        if (!match || j->target_found)
            return ROLE_OFF;
        return j->depth == j->token_count ? ROLE_TARGET : ROLE_PATH;
    }
    default:
        return ROLE_OFF;
    }
}

/* The value at the pointer is not an array. */
static int not_an_array(struct json_reader *j, const char *found)
{
    char message[256];
    snprintf(message, sizeof(message), "expected an array at %s, found %s%s", j->pointer, found,
             j->token_count == 0 ? " (set source.json.records to the array's JSON pointer)"
                                 : "");
    return callback_fail(j, IQ_E_INVALID, message);
}

/* Append a finished record to the queue. */
static int enqueue_record(struct json_reader *j)
{
    if (!json_is_object(j->record_root))
        record_problem(j, RECORD_NOT_OBJECT, "expected an object, found %s",
                       reader_json_type_name(j->record_root));
    if (j->queue_head + j->queue_count == j->queue_capacity) {
        if (j->queue_head > 0) {
            memmove(j->queue, j->queue + j->queue_head, j->queue_count * sizeof(*j->queue));
            j->queue_head = 0;
        } else {
            size_t size = j->queue_capacity ? j->queue_capacity * 2 : 16;
            struct queued_record *grown = realloc(j->queue, size * sizeof(*grown));
            if (!grown)
                return callback_fail(j, IQ_E_NOMEM, "out of memory queueing a record");
            j->queue = grown;
            j->queue_capacity = size;
        }
    }
    struct queued_record *q = &j->queue[j->queue_head + j->queue_count];
    q->value = j->record_root;
    q->line = j->record_line;
    q->problem = j->record_problem;
    q->message = j->record_problem != RECORD_OK ? strdup(j->record_message) : NULL;
    j->queue_count++;
    j->record_root = NULL;
    return 1;
}

/* Put value (a new reference) into the BUILD container on top. */
static int attach(struct json_reader *j, json_t *value)
{
    if (!value)
        return callback_fail(j, IQ_E_NOMEM, "out of memory building a record");
    struct frame *parent = &j->frames[j->depth - 1];
    int rc;
    if (parent->is_array) {
        rc = json_array_append_new(parent->container, value);
    } else {
        if (json_object_getn(parent->container, j->key, j->key_length))
            record_problem(j, RECORD_BAD_JSON, "duplicate key \"%.*s\"",
                           (int)(j->key_length > 64 ? 64 : j->key_length), j->key);
        rc = json_object_setn_new_nocheck(parent->container, j->key, j->key_length, value);
    }
    if (rc != 0)
        return callback_fail(j, IQ_E_NOMEM, "out of memory building a record");
    return 1;
}

/* Start a record whose root is value (a new reference). record_problem
 * was reset when the root value began. */
static void start_record(struct json_reader *j, json_t *value)
{
    j->record_root = value;
    j->record_line = j->line;
    j->record_bytes = 0;
}

/* A scalar event: value is built only when it belongs to a record. */
static int on_scalar(struct json_reader *j, json_t *(*make)(struct json_reader *, const void *,
                                                            size_t),
                     const void *data, size_t length, const char *kind)
{
    note_event(j);
    enum frame_role role = next_role(j);
    if (role == ROLE_TARGET)
        return not_an_array(j, kind);
    if (role != ROLE_BUILD && role != ROLE_RECORD_ROOT)
        return 1;
    if (role == ROLE_RECORD_ROOT)
        j->record_problem = RECORD_OK;
    json_t *value = make(j, data, length);
    if (!value)
        return callback_fail(j, IQ_E_NOMEM, "out of memory building a record");
    if (role == ROLE_BUILD)
        return attach(j, value);
    start_record(j, value);
    return enqueue_record(j);
}

static json_t *make_null(struct json_reader *j, const void *data, size_t length)
{
    (void)j, (void)data, (void)length;
    return json_null();
}

/* The boolean arrives as length (0 or 1): on_scalar has one signature. */
static json_t *make_boolean(struct json_reader *j, const void *data, size_t length)
{
    (void)j, (void)data;
    return json_boolean(length);
}

static json_t *make_string(struct json_reader *j, const void *data, size_t length)
{
    if (memchr(data, '\0', length))
        record_problem(j, RECORD_BAD_JSON, "\\u0000 in a string");
    return json_stringn_nocheck(data, length);
}

/* Numbers as jansson holds them: int64 or double; beyond that a problem. */
static json_t *make_number(struct json_reader *j, const void *data, size_t length)
{
    const char *text = data;
    int64_t integer;
    int rc = cnumber_parse_int64(text, length, &integer);
    if (rc == CNUMBER_OK)
        return json_integer(integer);
    if (rc == CNUMBER_RANGE) {
        record_problem(j, RECORD_BAD_JSON, "integer out of the 64-bit range");
        return json_null();
    }
    double real;
    if (cnumber_parse_double(text, length, &real) != CNUMBER_OK) {
        record_problem(j, RECORD_BAD_JSON, "number out of range");
        return json_null();
    }
    return json_real(real);
}

static int null_cb(void *ctx)
{
    return on_scalar(ctx, make_null, NULL, 0, "null");
}

static int boolean_cb(void *ctx, int value)
{
    return on_scalar(ctx, make_boolean, NULL, value != 0, "a boolean");
}

static int number_cb(void *ctx, const char *text, size_t length)
{
    return on_scalar(ctx, make_number, text, length, "a number");
}

static int string_cb(void *ctx, const unsigned char *text, size_t length)
{
    return on_scalar(ctx, make_string, text, length, "a string");
}

/* start_map / start_array. */
static int on_start(struct json_reader *j, bool is_array)
{
    note_event(j);
    if (j->depth == READER_MAX_JSON_DEPTH) {
        char message[64];
        snprintf(message, sizeof(message), "JSON nested deeper than %d levels",
                 READER_MAX_JSON_DEPTH);
        return callback_fail(j, IQ_E_INVALID, message);
    }
    enum frame_role role = next_role(j);
    struct frame frame = {.role = role, .is_array = is_array};
    if (role == ROLE_TARGET) {
        if (!is_array)
            return not_an_array(j, "an object");
        j->target_found = true;
        frame.role = ROLE_RECORDS;
    } else if (role == ROLE_RECORD_ROOT || role == ROLE_BUILD) {
        json_t *container = is_array ? json_array() : json_object();
        if (!container)
            return callback_fail(j, IQ_E_NOMEM, "out of memory building a record");
        if (role == ROLE_BUILD && !attach(j, container))
            return 0;
        if (role == ROLE_RECORD_ROOT) {
            j->record_problem = RECORD_OK;
            start_record(j, container);
        }
        frame.role = ROLE_BUILD;
        frame.container = container;
    }
    j->frames[j->depth++] = frame;
    return 1;
}

static int start_map_cb(void *ctx)
{
    return on_start(ctx, false);
}

static int start_array_cb(void *ctx)
{
    return on_start(ctx, true);
}

/* end_map / end_array: a record is complete when its root closes. */
static int on_end(struct json_reader *j)
{
    note_event(j);
    j->depth--;
    if (j->frames[j->depth].role == ROLE_BUILD && j->depth > 0 &&
        j->frames[j->depth - 1].role == ROLE_RECORDS)
        return enqueue_record(j);
    return 1;
}

static int end_cb(void *ctx)
{
    return on_end(ctx);
}

static int map_key_cb(void *ctx, const unsigned char *key, size_t length)
{
    struct json_reader *j = ctx;
    note_event(j);
    struct frame *top = &j->frames[j->depth - 1];
    if (top->role == ROLE_PATH) {
        const char *token = j->tokens[j->depth - 1];
        top->key_matches = strlen(token) == length && memcmp(token, key, length) == 0;
    } else if (top->role == ROLE_BUILD) {
        if (length + 1 > j->key_capacity) {
            size_t size = j->key_capacity ? j->key_capacity : 64;
            while (size < length + 1)
                size *= 2;
            char *grown = realloc(j->key, size);
            if (!grown)
                return callback_fail(j, IQ_E_NOMEM, "out of memory reading a key");
            j->key = grown;
            j->key_capacity = size;
        }
        memcpy(j->key, key, length);
        j->key[length] = '\0';
        j->key_length = length;
        if (memchr(key, '\0', length))
            record_problem(j, RECORD_BAD_JSON, "\\u0000 in a key");
    }
    return 1;
}

static const yajl_callbacks json_callbacks = {
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

/* yajl's message for the last error, without its trailing newline. */
static void yajl_message(struct json_reader *j, char *buf, size_t size)
{
    unsigned char *text = yajl_get_error(j->parser, 0, NULL, 0);
    snprintf(buf, size, "%s", text ? (const char *)text : "parse error");
    if (text)
        yajl_free_error(j->parser, text);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
}

/* Turn a yajl status into 0 or the reader's fatal error. */
static int check_status(struct json_reader *j, yajl_status status, bool at_end,
                        struct iq_error *err)
{
    if (status == yajl_status_ok)
        return 0;
    if (j->base.failed)
        return j->base.failed;
    char message[200];
    yajl_message(j, message, sizeof(message));
    if (at_end && strstr(message, "premature EOF"))
        return reader_fail(&j->base, err, IQ_E_INVALID, j->line,
                           "truncated JSON: the file ends inside a value");
    return reader_fail(&j->base, err, IQ_E_INVALID, j->line, "invalid JSON: %s", message);
}

/* Note whether the slice holds anything but whitespace (until one did). */
static void note_text(struct json_reader *j, const char *text, size_t length)
{
    for (size_t i = 0; i < length && !j->saw_text; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r' && text[i] != '\n')
            j->saw_text = true;
}

/* Limits after a slice: one token, one record. */
static int check_slice_limits(struct json_reader *j, size_t length, struct iq_error *err)
{
    const struct reader_limits *limits = &j->base.limits;
    j->bytes_since_event = j->event_seen ? length : j->bytes_since_event + length;
    j->event_seen = false;
    if (j->bytes_since_event > limits->max_field_bytes + JSON_SLICE_BYTES)
        return reader_fail(&j->base, err, IQ_E_TOO_LARGE, j->line,
                           "a JSON value is longer than the limit of %zu bytes",
                           limits->max_field_bytes);
    if (j->record_root) {
        j->record_bytes += length;
        if (j->record_bytes > limits->max_record_bytes)
            return reader_fail(&j->base, err, IQ_E_TOO_LARGE, j->record_line,
                               "a record is larger than the limit of %zu bytes",
                               limits->max_record_bytes);
    }
    return 0;
}

/* Feed the next slice of the chunk to yajl. */
static int feed_slice(struct json_reader *j, struct iq_error *err)
{
    struct reader *r = &j->base;
    const char *start = r->chunk + r->chunk_position;
    size_t available = r->chunk_length - r->chunk_position;
    size_t window = available < JSON_SLICE_BYTES ? available : JSON_SLICE_BYTES;
    const char *lf = memchr(start, '\n', window);
    size_t length = lf ? (size_t)(lf - start) + 1 : window;
    if (!j->saw_text) {
        note_text(j, start, length);
        r->saw_data = j->saw_text;
    }
    j->err = err;
    yajl_status status = yajl_parse(j->parser, (const unsigned char *)start, length);
    j->err = NULL;
    r->chunk_position += length;
    int rc = check_status(j, status, false, err);
    if (rc == 0)
        rc = check_slice_limits(j, length, err);
    if (lf)
        j->line++;
    return rc;
}

/* End of input: finish the parse and check the array was there. */
static int finish(struct json_reader *j, struct iq_error *err)
{
    j->complete = true;
    if (!j->saw_text)
        return 0;
    j->err = err;
    yajl_status status = yajl_complete_parse(j->parser);
    j->err = NULL;
    int rc = check_status(j, status, true, err);
    if (rc < 0)
        return rc;
    if (!j->target_found)
        return reader_fail(&j->base, err, IQ_E_INVALID, 0,
                           "expected an array at %s, found nothing there", j->pointer);
    return 0;
}

/* Hand out the oldest queued record. */
static void pop_record(struct json_reader *j)
{
    struct reader *r = &j->base;
    struct queued_record *q = &j->queue[j->queue_head++];
    j->queue_count--;
    if (j->queue_count == 0)
        j->queue_head = 0;
    j->current = q->value;
    r->record.line = q->line;
    r->record.value = q->value;
    if (q->problem != RECORD_OK)
        reader_set_problem(r, q->problem, 0, "%s", q->message ? q->message : "bad record");
    free(q->message);
}

static int json_next(struct reader *r, struct iq_error *err)
{
    struct json_reader *j = (struct json_reader *)r;
    json_decref(j->current);
    j->current = NULL;
    r->record = (struct record){0};
    while (j->queue_count == 0) {
        if (j->complete)
            return 0;
        int rc = reader_fill(r, err);
        if (rc < 0)
            return rc;
        rc = rc == 0 ? finish(j, err) : feed_slice(j, err);
        if (rc < 0)
            return rc;
    }
    pop_record(j);
    return 1;
}

/* Decode one RFC 6901 token in place (~1 -> '/', ~0 -> '~'); false when a
 * '~' is followed by anything else. */
static bool unescape_token(char *token)
{
    char *out = token;
    for (const char *in = token; *in; in++) {
        if (*in == '~') {
            if (in[1] != '0' && in[1] != '1')
                return false;
            *out++ = in[1] == '0' ? '~' : '/';
            in++;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
    return true;
}

/* A token as an array index ("0", "17"), or -1. */
static int64_t token_as_index(const char *token)
{
    int64_t index;
    size_t length = strlen(token);
    if (length == 0 || (length > 1 && token[0] == '0') || token[0] == '+' || token[0] == '-' ||
        cnumber_parse_int64(token, length, &index) != CNUMBER_OK)
        return -1;
    return index;
}

/* Split source.json_records into tokens. */
static int parse_pointer(struct json_reader *j, const char *pointer, struct iq_error *err)
{
    if (!pointer || !*pointer) {
        j->pointer = strdup("the top level");
        return j->pointer ? 0 : reader_fail(&j->base, err, IQ_E_NOMEM, 0, "out of memory");
    }
    if (pointer[0] != '/' || strlen(pointer) > SPEC_MAX_PATH_LEN)
        return reader_fail(&j->base, err, IQ_E_INVALID, 0,
                           "source.json.records must be a JSON pointer such as \"/steps\"");
    j->pointer = strdup(pointer);
    size_t count = 0;
    for (const char *p = pointer; *p; p++)
        count += *p == '/';
    if (count > READER_MAX_JSON_DEPTH)
        return reader_fail(&j->base, err, IQ_E_INVALID, 0, "source.json.records is too deep");
    j->tokens = calloc(count, sizeof(*j->tokens));
    j->token_index = calloc(count, sizeof(*j->token_index));
    if (!j->pointer || !j->tokens || !j->token_index)
        return reader_fail(&j->base, err, IQ_E_NOMEM, 0, "out of memory");
    const char *p = pointer + 1;
    for (size_t i = 0; i < count; i++) {
        size_t n = strcspn(p, "/");
        j->tokens[i] = strndup(p, n);
        j->token_count = i + 1;
        if (!j->tokens[i])
            return reader_fail(&j->base, err, IQ_E_NOMEM, 0, "out of memory");
        if (!unescape_token(j->tokens[i]))
            return reader_fail(&j->base, err, IQ_E_INVALID, 0,
                               "source.json.records: bad escape in \"%s\"", pointer);
        j->token_index[i] = token_as_index(j->tokens[i]);
        p += n + 1;
    }
    return 0;
}

static int json_start(struct reader *r, const struct source_spec *source, struct iq_error *err)
{
    struct json_reader *j = (struct json_reader *)r;
    j->line = 1;
    int rc = parse_pointer(j, source->json_records, err);
    if (rc < 0)
        return rc;
    j->parser = yajl_alloc(&json_callbacks, NULL, j);
    if (!j->parser)
        return reader_fail(r, err, IQ_E_NOMEM, 0, "cannot start the JSON parser");
    return 0;
}

static size_t json_buffer_bytes(const struct reader *r)
{
    const struct json_reader *j = (const struct json_reader *)r;
    return j->queue_capacity * sizeof(*j->queue) + j->key_capacity + sizeof(j->frames);
}

static void json_free_reader(struct reader *r)
{
    struct json_reader *j = (struct json_reader *)r;
    if (j->parser)
        yajl_free(j->parser);
    json_decref(j->current);
    json_decref(j->record_root);
    for (size_t i = 0; i < j->queue_count; i++) {
        json_decref(j->queue[j->queue_head + i].value);
        free(j->queue[j->queue_head + i].message);
    }
    free(j->queue);
    for (size_t i = 0; i < j->token_count; i++)
        free(j->tokens[i]);
    free(j->tokens);
    free(j->token_index);
    free(j->pointer);
    free(j->key);
    free(j);
}

static const struct reader_ops json_ops = {
    .name = "json",
    .start = json_start,
    .next = json_next,
    .buffer_bytes = json_buffer_bytes,
    .free = json_free_reader,
};

struct reader *reader_json_create(void)
{
    struct json_reader *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->base.ops = &json_ops;
    return &j->base;
}
