/*
 * reader_json.c - the JSON reader: yajl parses the document as a stream of
 * events; only the record being built (one element of the record array)
 * is ever held as a jansson value. Values outside the record array are
 * skipped without being built. The record itself is built by json_build.c
 * (shared with the NDJSON reader).
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
 *
 * Records: index is the element's index in the record array (0-based),
 * pointer the element's JSON pointer in the document ("/steps/3"), so a
 * record is found in a one-line file, where every line number is 1.
 */
#include "pipeline/cnumber.h"
#include "pipeline/grow.h"
#include "pipeline/json_build.h"
#include "pipeline/reader_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define JSON_SLICE_BYTES ((size_t)16 * 1024)

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
};

struct queued_record {
    struct json_built built;   /* owned */
    int64_t line;
    int64_t index;             /* in the record array */
};

struct json_reader {
    struct reader base;
    yajl_handle parser;
    struct iq_error *err;      /* during yajl_parse: where callbacks report */
    char *pointer;             /* for messages: "/steps" or "the top level" */
    char *records_pointer;     /* as given: "/steps", or "" for the top level */
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
    struct json_build build;
    bool building;
    int64_t record_line;
    int64_t record_index;
    int64_t next_index;        /* index of the record array's next element */
    size_t record_bytes;

    struct queued_record *queue;
    size_t queue_head;
    size_t queue_count;
    size_t queue_capacity;
    struct json_built current; /* the record handed out */
    char *record_pointer;      /* its JSON pointer: records_pointer + "/" + index */
    size_t record_pointer_capacity;
};

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
        j->next_index = index;
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

/* Start a record: its root value begins now. */
static void start_record(struct json_reader *j)
{
    json_build_reset(&j->build);
    j->building = true;
    j->record_line = j->line;
    j->record_index = j->next_index;
    j->record_bytes = 0;
}

/* Append the finished record to the queue. */
static int enqueue_record(struct json_reader *j)
{
    if (j->queue_head + j->queue_count == j->queue_capacity) {
        if (j->queue_head > 0) {
            memmove(j->queue, j->queue + j->queue_head, j->queue_count * sizeof(*j->queue));
            j->queue_head = 0;
        } else if (!grow_buffer((void **)&j->queue, &j->queue_capacity, j->queue_capacity + 1,
                                sizeof(*j->queue), 16)) {
            return callback_fail(j, IQ_E_NOMEM, "out of memory queueing a record");
        }
    }
    struct queued_record *q = &j->queue[j->queue_head + j->queue_count];
    json_build_take(&j->build, &q->built);
    q->line = j->record_line;
    q->index = j->record_index;
    j->queue_count++;
    j->building = false;
    return 1;
}

/* What a builder call returned, for yajl: 1 to go on, 0 to stop. */
static int built(struct json_reader *j, int rc)
{
    if (rc == JSON_BUILD_DONE)
        return enqueue_record(j);
    if (rc < 0)
        return callback_fail(j, rc, rc == IQ_E_NOMEM ? "out of memory building a record"
                                                     : "cannot build the record");
    return 1;
}

/* A scalar event: the role says whether it is part of a record. */
static enum frame_role scalar_role(struct json_reader *j, const char *kind, int *ret_rc)
{
    note_event(j);
    enum frame_role role = next_role(j);
    *ret_rc = 1;
    if (role == ROLE_TARGET)
        *ret_rc = not_an_array(j, kind);
    else if (role == ROLE_RECORD_ROOT)
        start_record(j);
    return role;
}

static bool in_record(enum frame_role role)
{
    return role == ROLE_BUILD || role == ROLE_RECORD_ROOT;
}

static int null_cb(void *ctx)
{
    struct json_reader *j = ctx;
    int rc;
    enum frame_role role = scalar_role(j, "null", &rc);
    return in_record(role) ? built(j, json_build_null(&j->build)) : rc;
}

static int boolean_cb(void *ctx, int value)
{
    struct json_reader *j = ctx;
    int rc;
    enum frame_role role = scalar_role(j, "a boolean", &rc);
    return in_record(role) ? built(j, json_build_boolean(&j->build, value != 0)) : rc;
}

static int number_cb(void *ctx, const char *text, size_t length)
{
    struct json_reader *j = ctx;
    int rc;
    enum frame_role role = scalar_role(j, "a number", &rc);
    return in_record(role) ? built(j, json_build_number(&j->build, text, length)) : rc;
}

static int string_cb(void *ctx, const unsigned char *text, size_t length)
{
    struct json_reader *j = ctx;
    int rc;
    enum frame_role role = scalar_role(j, "a string", &rc);
    return in_record(role) ? built(j, json_build_string(&j->build, (const char *)text, length))
                           : rc;
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
    } else if (in_record(role)) {
        if (role == ROLE_RECORD_ROOT)
            start_record(j);
        /* The reader's depth bounds the builder's: it cannot be too deep. */
        if (!built(j, json_build_open(&j->build, is_array)))
            return 0;
        frame.role = ROLE_BUILD;
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
    if (j->frames[j->depth].role == ROLE_BUILD)
        return built(j, json_build_close(&j->build));
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
        return built(j, json_build_key(&j->build, (const char *)key, length));
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
    if (j->building) {
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

/* r->record.pointer: the records' pointer and the index ("/steps/3"). */
static void set_record_pointer(struct json_reader *j, int64_t index)
{
    size_t need = strlen(j->records_pointer) + 24;
    if (need > j->record_pointer_capacity) {
        char *grown = realloc(j->record_pointer, need);
        if (!grown)
            return; /* the record goes without its pointer */
        j->record_pointer = grown;
        j->record_pointer_capacity = need;
    }
    snprintf(j->record_pointer, need, "%s/%lld", j->records_pointer, (long long)index);
    j->base.record.pointer = j->record_pointer;
}

/* Hand out the oldest queued record. */
static void pop_record(struct json_reader *j)
{
    struct reader *r = &j->base;
    struct queued_record *q = &j->queue[j->queue_head++];
    j->queue_count--;
    if (j->queue_count == 0)
        j->queue_head = 0;
    j->current = q->built;
    r->record.line = q->line;
    r->record.index = q->index;
    set_record_pointer(j, q->index);
    reader_set_built(r, &j->current);
}

static int json_next(struct reader *r, struct iq_error *err)
{
    struct json_reader *j = (struct json_reader *)r;
    json_built_clear(&j->current);
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
    j->records_pointer = strdup(pointer ? pointer : "");
    if (!j->records_pointer)
        return reader_fail(&j->base, err, IQ_E_NOMEM, 0, "out of memory");
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
    return j->queue_capacity * sizeof(*j->queue) + j->build.key_capacity +
           j->record_pointer_capacity + sizeof(j->frames);
}

static void json_free_reader(struct reader *r)
{
    struct json_reader *j = (struct json_reader *)r;
    if (j->parser)
        yajl_free(j->parser);
    json_built_clear(&j->current);
    json_build_clear(&j->build);
    for (size_t i = 0; i < j->queue_count; i++)
        json_built_clear(&j->queue[j->queue_head + i].built);
    free(j->queue);
    for (size_t i = 0; i < j->token_count; i++)
        free(j->tokens[i]);
    free(j->tokens);
    free(j->token_index);
    free(j->pointer);
    free(j->records_pointer);
    free(j->record_pointer);
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
