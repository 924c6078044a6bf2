/*
 * convert.c - per-column typed conversion and checks (see convert.h):
 * the checker's life, the number, boolean, uuid and json conversions, the
 * JSON-input rules, and the checks every value goes through. Dates and
 * timestamps are in convert_time.c.
 */
#include "pipeline/cnumber.h"
#include "pipeline/convert_internal.h"
#include "pipeline/grow.h"
#include "pipeline/utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define INTEGER_MIN (-2147483647LL - 1)
#define INTEGER_MAX 2147483647LL

/*
 * compile_pattern - compile spec->pattern once for this checker, with JIT:
 * one checker serves every row of its load. The validator let it through,
 * so a failure here means the spec was stored before the pattern rules
 * changed (or memory ran out).
 */
static int compile_pattern(struct column_checker *c, struct iq_error *err)
{
    if (!c->spec->pattern)
        return 0;
    if (!c->scratch)
        return iq_error_set(err, IQ_E_INTERNAL, "column %s: a pattern needs a pattern scratch",
                            c->spec->name);
    struct iq_error detail = {0};
    int rc = pattern_compile(c->spec->pattern, &c->pattern, &detail);
    if (rc < 0)
        iq_error_set(err, rc, "column %s: pattern %s", c->spec->name,
                     detail.message ? detail.message : "cannot be compiled");
    iq_error_clear(&detail);
    if (rc < 0)
        return rc;
    pattern_jit_compile(c->pattern);
    return 0;
}

int column_checker_init(struct column_checker *checker, const struct column_spec *spec,
                        struct pattern_scratch *scratch, struct iq_error *err)
{
    memset(checker, 0, sizeof(*checker));
    checker->spec = spec;
    checker->scratch = scratch;
    if (spec->enum_count > 0) {
        checker->enum_lengths = calloc(spec->enum_count, sizeof(*checker->enum_lengths));
        if (!checker->enum_lengths)
            return iq_error_set(err, IQ_E_NOMEM, "out of memory preparing column %s", spec->name);
        for (size_t i = 0; i < spec->enum_count; i++)
            checker->enum_lengths[i] = strlen(spec->enum_values[i]);
    }
    return compile_pattern(checker, err);
}

void column_checker_clear(struct column_checker *checker)
{
    if (!checker)
        return;
    pattern_free(checker->pattern);
    free(checker->enum_lengths);
    free(checker->buffer);
    memset(checker, 0, sizeof(*checker));
}

/* A copy of text[0..length) in the checker, NUL-terminated; NULL on ENOMEM. */
static const char *keep_copy(struct column_checker *c, const char *text, size_t length)
{
    char *target = c->small;
    if (length >= sizeof(c->small)) {
        if (!grow_buffer((void **)&c->buffer, &c->buffer_capacity, length + 1, 1, 256))
            return NULL;
        target = c->buffer;
    }
    memcpy(target, text, length);
    target[length] = '\0';
    return target;
}

/* The value as given (after trimming): pointing into the input when it is
 * NUL-terminated there, else copied. */
static const char *as_given(struct column_checker *c, const char *text, size_t length,
                            bool in_place, struct value_out *out)
{
    out->text = in_place ? text : keep_copy(c, text, length);
    out->length = length;
    return out->text ? NULL : "out of memory";
}

static const char *convert_integer(struct column_checker *c, const char *text, size_t length,
                                   bool in_place, struct value_out *out)
{
    bool narrow = c->spec->type == COLUMN_INTEGER;
    int64_t value;
    int rc = cnumber_parse_int64(text, length, &value);
    if (rc == CNUMBER_SYNTAX)
        return "not an integer";
    if (rc == CNUMBER_RANGE || (narrow && (value < INTEGER_MIN || value > INTEGER_MAX)))
        return narrow ? "out of range for integer" : "out of range for bigint";
    out->has_number = true;
    out->number = (long double)value;
    bool canonical = text[0] != '+' && !(text[0] == '0' && length > 1) &&
                     !(text[0] == '-' && (text[1] == '0'));
    if (in_place && canonical)
        return as_given(c, text, length, true, out);
    out->length = (size_t)snprintf(c->small, sizeof(c->small), "%" PRId64, value);
    out->text = c->small;
    return NULL;
}

static const char *convert_numeric(struct column_checker *c, const char *text, size_t length,
                                   bool in_place, struct value_out *out)
{
    int64_t exponent;
    if (!cnumber_is_decimal(text, length, &exponent))
        return "not a number";
    if (length > CONVERT_NUMERIC_MAX_LEN)
        return "too long for numeric (1000 characters at most)";
    if (exponent > CONVERT_NUMERIC_MAX_EXPONENT || exponent < -CONVERT_NUMERIC_MAX_EXPONENT)
        return "out of range for numeric";
    if (c->spec->has_min || c->spec->has_max || c->numeric_within_double) {
        double value; /* +-HUGE_VAL or 0 at the extremes: still right for min/max */
        int rc = cnumber_parse_double(text, length, &value);
        if (rc == CNUMBER_RANGE && c->numeric_within_double)
            return "out of range for numeric on SQLite, which holds a double at most (use "
                   "PostgreSQL for exact numerics)";
        out->has_number = true;
        out->number = value;
    }
    return as_given(c, text, length, in_place, out);
}

static const char *convert_real(struct column_checker *c, const char *text, size_t length,
                                bool in_place, struct value_out *out)
{
    double value;
    int rc = cnumber_parse_double(text, length, &value);
    if (rc == CNUMBER_SYNTAX)
        return "not a number";
    if (rc == CNUMBER_RANGE)
        return "out of range for real";
    out->has_number = true;
    out->number = value;
    return as_given(c, text, length, in_place, out);
}

static const char *convert_boolean(const char *text, size_t length, struct value_out *out)
{
    static const char *const truths[] = {"true", "t", "1", "yes"};
    static const char *const falsehoods[] = {"false", "f", "0", "no"};
    for (size_t i = 0; i < sizeof(truths) / sizeof(truths[0]); i++) {
        if (length == strlen(truths[i]) && strncasecmp(text, truths[i], length) == 0) {
            out->text = "true";
            out->length = 4;
            return NULL;
        }
        if (length == strlen(falsehoods[i]) && strncasecmp(text, falsehoods[i], length) == 0) {
            out->text = "false";
            out->length = 5;
            return NULL;
        }
    }
    return "not a boolean (expected true/false, t/f, 1/0 or yes/no)";
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static const char *convert_uuid(struct column_checker *c, const char *text, size_t length,
                                bool in_place, struct value_out *out)
{
    static const char BAD_UUID[] = "not a UUID";
    if (length >= 2 && text[0] == '{' && text[length - 1] == '}') {
        text++;
        length -= 2;
        in_place = false;
    }
    bool hyphens = length == 36;
    if (!hyphens && length != 32)
        return BAD_UUID;
    bool canonical = hyphens;
    char *p = c->small;
    size_t i = 0;
    for (int digit = 0; digit < 32; digit++) {
        if (hyphens && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (text[i++] != '-')
                return BAD_UUID;
            *p++ = '-';
        }
        int value = hex_value(text[i]);
        if (value < 0)
            return BAD_UUID;
        canonical = canonical && !(text[i] >= 'A' && text[i] <= 'F');
        *p++ = "0123456789abcdef"[value];
        if (digit == 7 || digit == 11 || digit == 15 || digit == 19)
            if (!hyphens)
                *p++ = '-';
        i++;
    }
    *p = '\0';
    out->length = 36;
    out->text = in_place && canonical ? text : c->small;
    return NULL;
}

/* Compact JSON text of value into the checker (numbers as numbers has them). */
static const char *dump_json(struct column_checker *c, const json_t *value,
                             const struct json_numbers *numbers, struct value_out *out)
{
    if (json_numbers_empty(numbers)) {
        size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
        size_t need = json_dumpb(value, NULL, 0, flags);
        if (need == 0)
            return "cannot be written as JSON";
        if (!grow_buffer((void **)&c->buffer, &c->buffer_capacity, need + 1, 1, 256))
            return "out of memory";
        json_dumpb(value, c->buffer, need, flags);
        c->buffer[need] = '\0';
        out->text = c->buffer;
        out->length = need;
        return NULL;
    }
    size_t length = 0;
    char *text = json_numbers_dump(value, numbers, &length);
    out->text = text ? keep_copy(c, text, length) : NULL;
    out->length = length;
    free(text);
    return out->text ? NULL : "out of memory";
}

static const char *convert_json_text(struct column_checker *c, const char *text, size_t length,
                                     struct value_out *out)
{
    json_error_t jerr;
    json_t *value = json_loadb(text, length, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!value) {
        snprintf(c->message, sizeof(c->message), "not valid JSON: %s", jerr.text);
        return c->message;
    }
    const char *reject = dump_json(c, value, NULL, out);
    json_decref(value);
    return reject;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Convert trimmed text for c's type. NULL or a reject message. */
static const char *convert_typed(struct column_checker *c, const char *text, size_t length,
                                 struct value_out *out)
{
    size_t start = 0, end = length;
    while (start < end && is_blank(text[start]))
        start++;
    while (end > start && is_blank(text[end - 1]))
        end--;
    bool in_place = end == length;
    text += start;
    length = end - start;
    switch (c->spec->type) {
    case COLUMN_INTEGER:
    case COLUMN_BIGINT:
        return convert_integer(c, text, length, in_place, out);
    case COLUMN_NUMERIC:
        return convert_numeric(c, text, length, in_place, out);
    case COLUMN_REAL:
        return convert_real(c, text, length, in_place, out);
    case COLUMN_BOOLEAN:
        return convert_boolean(text, length, out);
    case COLUMN_DATE:
        return convert_date(c, text, length, in_place, out);
    case COLUMN_TIMESTAMP:
        return convert_timestamp(c, text, length, false, out);
    case COLUMN_TIMESTAMPTZ:
        return convert_timestamp(c, text, length, true, out);
    case COLUMN_UUID:
        return convert_uuid(c, text, length, in_place, out);
    default:
        return "unsupported column type";
    }
}

/* Convert untrimmed text: text and json are never trimmed. */
static const char *convert_any_text(struct column_checker *c, const char *text, size_t length,
                                    struct value_out *out)
{
    switch (c->spec->type) {
    case COLUMN_TEXT:
        return as_given(c, text, length, true, out);
    case COLUMN_JSON:
        return convert_json_text(c, text, length, out);
    default:
        return convert_typed(c, text, length, out);
    }
}

/* Append text to the message being built at *used (truncating). */
static void message_append(struct column_checker *c, size_t *used, const char *text)
{
    if (*used >= sizeof(c->message) - 1)
        return;
    int n = snprintf(c->message + *used, sizeof(c->message) - *used, "%s", text);
    *used += n > 0 ? (size_t)n : 0;
    if (*used >= sizeof(c->message) - 1)
        memcpy(c->message + sizeof(c->message) - 5, "...]", 5);
}

/* "not one of [a, b]" into the checker's message. */
static const char *enum_reject(struct column_checker *c)
{
    size_t used = 0;
    message_append(c, &used, "not one of [");
    for (size_t i = 0; i < c->spec->enum_count; i++) {
        if (i > 0)
            message_append(c, &used, ", ");
        message_append(c, &used, c->spec->enum_values[i]);
    }
    message_append(c, &used, "]");
    return c->message;
}

/* A min/max reject: "below min 0" / "above max 10". */
static const char *bound_reject(struct column_checker *c, const char *what, double bound)
{
    char number[CNUMBER_DOUBLE_LEN];
    cnumber_format_double(bound, number);
    snprintf(c->message, sizeof(c->message), "%s %s", what, number);
    return c->message;
}

/*
 * pattern_quote_length - bytes of pattern a reject message quotes: all of
 * it up to PATTERN_QUOTE_BYTES, else that much cut back to a character
 * boundary, so the message fits CONVERT_MESSAGE_LEN and stays valid UTF-8.
 */
#define PATTERN_QUOTE_BYTES 100
static int pattern_quote_length(const char *pattern)
{
    size_t length = strlen(pattern);
    if (length <= PATTERN_QUOTE_BYTES)
        return (int)length;
    length = PATTERN_QUOTE_BYTES;
    while (length > 0 && ((unsigned char)pattern[length] & 0xc0) == 0x80)
        length--;
    return (int)length;
}

/*
 * pattern_reject - NULL when out matches the column's pattern, else the
 * reject message. A match that runs over its budget (core/pattern.h) is a
 * reject of this row, as is one that cannot run at all.
 */
static const char *pattern_reject(struct column_checker *c, const struct value_out *out)
{
    int rc = pattern_match(c->pattern, c->scratch, out->text, out->length);
    if (rc == 1)
        return NULL;
    const char *pattern = c->spec->pattern;
    int quoted = pattern_quote_length(pattern);
    const char *cut = pattern[quoted] ? "..." : "";
    if (rc == 0)
        snprintf(c->message, sizeof(c->message), "does not match pattern %.*s%s", quoted,
                 pattern, cut);
    else if (rc == IQ_E_TOO_LARGE)
        snprintf(c->message, sizeof(c->message),
                 "pattern %.*s%s needs more than its matching budget on this value "
                 "(%d steps, %d KiB)",
                 quoted, pattern, cut, PATTERN_MATCH_LIMIT, PATTERN_HEAP_LIMIT_KIB);
    else
        snprintf(c->message, sizeof(c->message), "pattern %.*s%s could not be checked (%s)",
                 quoted, pattern, cut, iq_err_name(rc));
    return c->message;
}

/* The column's checks on a converted value; NULL or a reject message. */
static const char *apply_checks(struct column_checker *c, const struct value_out *out)
{
    const struct column_spec *spec = c->spec;
    if (spec->max_length >= 0 && out->length > (size_t)spec->max_length &&
        utf8_char_count(out->text, out->length) > (size_t)spec->max_length) {
        snprintf(c->message, sizeof(c->message), "longer than max_length %" PRId64,
                 spec->max_length);
        return c->message;
    }
    if (out->has_number && spec->has_min && out->number < (long double)spec->min)
        return bound_reject(c, "below min", spec->min);
    if (out->has_number && spec->has_max && out->number > (long double)spec->max)
        return bound_reject(c, "above max", spec->max);
    if (spec->enum_count > 0) {
        size_t i = 0;
        while (i < spec->enum_count && (c->enum_lengths[i] != out->length ||
                                        memcmp(spec->enum_values[i], out->text, out->length)))
            i++;
        if (i == spec->enum_count)
            return enum_reject(c);
    }
    if (c->pattern)
        return pattern_reject(c, out);
    return NULL;
}

/* Finish a conversion: checks, then *ret or the reject. */
static int finish(struct column_checker *c, const char *reject, const struct value_out *out,
                  struct converted *ret, const char **ret_reject)
{
    if (!reject)
        reject = apply_checks(c, out);
    if (reject) {
        *ret = (struct converted){0};
        *ret_reject = reject;
        return IQ_E_REJECTED;
    }
    ret->text = out->text;
    ret->length = out->length;
    *ret_reject = NULL;
    return 0;
}

/* SQL NULL: fine unless required. */
static int convert_null(struct column_checker *c, struct converted *ret, const char **ret_reject)
{
    *ret = (struct converted){0};
    *ret_reject = c->spec->required ? "required" : NULL;
    return c->spec->required ? IQ_E_REJECTED : 0;
}

int column_convert_text(struct column_checker *checker, const char *text, size_t length,
                        bool is_null, struct converted *ret, const char **ret_reject)
{
    if (is_null || !text)
        return convert_null(checker, ret, ret_reject);
    struct value_out out = {0};
    const char *reject = convert_any_text(checker, text, length, &out);
    return finish(checker, reject, &out, ret, ret_reject);
}

/* A JSON integer for c's type. */
static const char *from_json_integer(struct column_checker *c, json_int_t value,
                                      struct value_out *out)
{
    enum column_type type = c->spec->type;
    if (type == COLUMN_BOOLEAN) {
        if (value != 0 && value != 1)
            return "not a boolean (expected true/false, t/f, 1/0 or yes/no)";
        out->text = value ? "true" : "false";
        out->length = value ? 4 : 5;
        return NULL;
    }
    if (type == COLUMN_INTEGER && (value < INTEGER_MIN || value > INTEGER_MAX))
        return "out of range for integer";
    out->length = (size_t)snprintf(c->small, sizeof(c->small), "%" JSON_INTEGER_FORMAT, value);
    out->text = c->small;
    out->has_number = type != COLUMN_TEXT;
    out->number = (long double)value;
    return NULL;
}

/* A JSON real for c's type. */
static const char *from_json_real(struct column_checker *c, double value, struct value_out *out)
{
    if (c->spec->type == COLUMN_INTEGER || c->spec->type == COLUMN_BIGINT)
        return "not an integer";
    if (c->spec->type == COLUMN_BOOLEAN)
        return "not a boolean (expected true/false, t/f, 1/0 or yes/no)";
    out->length = cnumber_format_double(value, c->small);
    out->text = c->small;
    out->has_number = c->spec->type != COLUMN_TEXT;
    out->number = value;
    return NULL;
}

/* What a column of this type says about a value it cannot take. */
static const char *type_mismatch(const struct column_checker *c)
{
    switch (c->spec->type) {
    case COLUMN_TEXT:
        return "expected a string, a number or a boolean";
    case COLUMN_INTEGER:
    case COLUMN_BIGINT:
        return "not an integer";
    case COLUMN_NUMERIC:
    case COLUMN_REAL:
        return "not a number";
    case COLUMN_BOOLEAN:
        return "not a boolean (expected true/false, t/f, 1/0 or yes/no)";
    case COLUMN_DATE:
        return "not a date (expected YYYY-MM-DD)";
    case COLUMN_TIMESTAMP:
    case COLUMN_TIMESTAMPTZ:
        return "not a timestamp (expected YYYY-MM-DD HH:MM:SS)";
    case COLUMN_UUID:
        return "not a UUID";
    default:
        return "unsupported value";
    }
}

/* A non-string, non-null JSON value for a column other than json. */
static const char *convert_json_scalar(struct column_checker *c, const json_t *value,
                                       struct value_out *out)
{
    enum column_type type = c->spec->type;
    bool numeric = type == COLUMN_TEXT || type == COLUMN_INTEGER || type == COLUMN_BIGINT ||
                   type == COLUMN_NUMERIC || type == COLUMN_REAL || type == COLUMN_BOOLEAN;
    if (json_is_integer(value) && numeric)
        return from_json_integer(c, json_integer_value(value), out);
    if (json_is_real(value) && numeric)
        return from_json_real(c, json_real_value(value), out);
    if (json_is_boolean(value) && (type == COLUMN_TEXT || type == COLUMN_BOOLEAN)) {
        out->text = json_is_true(value) ? "true" : "false";
        out->length = json_is_true(value) ? 4 : 5;
        return NULL;
    }
    return type_mismatch(c);
}

/*
 * A JSON number from its literal text, as a CSV field with that text
 * would be converted (see convert.h): exact whatever jansson holds. The
 * literal is NUL-terminated and outlives the conversion's use.
 */
static const char *convert_json_literal(struct column_checker *c, const char *text,
                                        size_t length, struct value_out *out)
{
    switch (c->spec->type) {
    case COLUMN_TEXT:
        return as_given(c, text, length, true, out);
    case COLUMN_INTEGER:
    case COLUMN_BIGINT:
        return convert_integer(c, text, length, true, out);
    case COLUMN_NUMERIC:
        return convert_numeric(c, text, length, true, out);
    case COLUMN_REAL:
        return convert_real(c, text, length, true, out);
    default: /* an int64 integer has no literal: 0 and 1 for booleans never come here */
        return type_mismatch(c);
    }
}

int column_convert_json(struct column_checker *checker, const json_t *value,
                        const struct json_numbers *numbers, struct converted *ret,
                        const char **ret_reject)
{
    if (!value || json_is_null(value))
        return convert_null(checker, ret, ret_reject);
    struct value_out out = {0};
    const char *reject;
    size_t literal_length = 0;
    const char *literal = json_numbers_find(numbers, value, &literal_length);
    if (checker->spec->type == COLUMN_JSON) {
        reject = dump_json(checker, value, numbers, &out);
    } else if (literal) {
        reject = convert_json_literal(checker, literal, literal_length, &out);
    } else if (json_is_string(value)) {
        const char *text = json_string_value(value);
        size_t length = json_string_length(value);
        if (memchr(text, '\0', length))
            reject = "contains a NUL character";
        else
            return column_convert_text(checker, text, length, false, ret, ret_reject);
    } else {
        reject = convert_json_scalar(checker, value, &out);
    }
    return finish(checker, reject, &out, ret, ret_reject);
}
