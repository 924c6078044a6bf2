/*
 * pattern.c - column patterns on PCRE2 (8-bit) with a budget on every
 * cost: see pattern.h for the limits and the syntax. The only file that
 * includes pcre2.h.
 *
 * Not for deciding what a failed match means for a row (the pipeline's
 * converters turn it into a reject) nor for the spec's total pattern
 * budget (job_spec_column.c adds up pattern_compiled_size).
 */
#include "core/pattern.h"

#include "core/job_spec_limits.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/*
 * UTF and UCP: a character is a code point and [[:alpha:]], \w know
 * Unicode. DOTALL, DOLLAR_ENDONLY: '.' and '$' as POSIX has them without
 * REG_NEWLINE. NO_AUTO_CAPTURE: nothing reads captures, and without them a
 * backtracking point is smaller (and ERE has no back-references).
 * NEVER_BACKSLASH_C: \C could split a UTF-8 character.
 */
#define PATTERN_OPTIONS                                                                    \
    (PCRE2_UTF | PCRE2_UCP | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY | PCRE2_NO_AUTO_CAPTURE | \
     PCRE2_NEVER_BACKSLASH_C)

#define JIT_STACK_START_BYTES (32 * 1024)

struct pattern {
    pcre2_code *code;
    size_t compiled_bytes;
};

struct pattern_scratch {
    pcre2_match_data *match_data;  /* one ovector pair: only match / no match is read */
    pcre2_match_context *context;  /* the limits, and the JIT stack */
    pcre2_jit_stack *jit_stack;    /* NULL when JIT is unavailable */
};

/* compile_context_new - the compile-time limits; NULL on OOM. Caller frees. */
static pcre2_compile_context *compile_context_new(void)
{
    pcre2_compile_context *context = pcre2_compile_context_create(NULL);
    if (!context)
        return NULL;
    pcre2_set_max_pattern_length(context, SPEC_MAX_PATTERN_LEN);
    pcre2_set_parens_nest_limit(context, SPEC_MAX_PATTERN_NESTING);
    return context;
}

/* compile_error - err's message for PCRE2 compile error code at offset. */
static int compile_error(int code, size_t offset, struct iq_error *err)
{
    if (code == PCRE2_ERROR_PATTERN_TOO_LARGE)
        return iq_error_set(err, IQ_E_INVALID,
                            "is too costly: it would compile to more than %d bytes (counted "
                            "repetitions multiply: (a{1,100}){1,100} is a{1,100} 100 times)",
                            SPEC_MAX_PATTERN_COMPILED_BYTES);
    if (code == PCRE2_ERROR_PARENTHESES_NEST_TOO_DEEP)
        return iq_error_set(err, IQ_E_INVALID, "nests parentheses deeper than %d",
                            SPEC_MAX_PATTERN_NESTING);
    PCRE2_UCHAR reason[256];
    if (pcre2_get_error_message(code, reason, sizeof(reason)) < 0)
        strcpy((char *)reason, "unknown error");
    return iq_error_set(err, IQ_E_INVALID,
                        "is not a valid regular expression: %s (at offset %zu)", (char *)reason,
                        offset);
}

/* pattern_compile - see pattern.h. */
int pattern_compile(const char *source, struct pattern **ret_pattern, struct iq_error *err)
{
    *ret_pattern = NULL;
    if (strlen(source) > SPEC_MAX_PATTERN_LEN)
        return iq_error_set(err, IQ_E_INVALID, "must be at most %d bytes",
                            SPEC_MAX_PATTERN_LEN);
    struct pattern *pattern = calloc(1, sizeof(*pattern));
    pcre2_compile_context *context = compile_context_new();
    if (!pattern || !context) {
        free(pattern);
        pcre2_compile_context_free(context);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory compiling a pattern");
    }
    int code = 0;
    PCRE2_SIZE offset = 0;
    pattern->code = pcre2_compile((PCRE2_SPTR)source, PCRE2_ZERO_TERMINATED, PATTERN_OPTIONS,
                                  &code, &offset, context);
    pcre2_compile_context_free(context);
    if (!pattern->code) {
        free(pattern);
        if (code == PCRE2_ERROR_HEAP_FAILED)
            return iq_error_set(err, IQ_E_NOMEM, "out of memory compiling a pattern");
        return compile_error(code, (size_t)offset, err);
    }
    pcre2_pattern_info(pattern->code, PCRE2_INFO_SIZE, &pattern->compiled_bytes);
    if (pattern->compiled_bytes > SPEC_MAX_PATTERN_COMPILED_BYTES) {
        pattern_free(pattern);
        return compile_error(PCRE2_ERROR_PATTERN_TOO_LARGE, 0, err);
    }
    *ret_pattern = pattern;
    return 0;
}

size_t pattern_compiled_size(const struct pattern *pattern)
{
    return pattern->compiled_bytes;
}

/* pattern_jit_compile - see pattern.h; a failure leaves the interpreter in charge. */
void pattern_jit_compile(struct pattern *pattern)
{
    (void)pcre2_jit_compile(pattern->code, PCRE2_JIT_COMPLETE);
}

void pattern_free(struct pattern *pattern)
{
    if (!pattern)
        return;
    pcre2_code_free(pattern->code);
    free(pattern);
}

/* pattern_scratch_new - see pattern.h. Without JIT support the JIT stack stays NULL. */
struct pattern_scratch *pattern_scratch_new(void)
{
    struct pattern_scratch *scratch = calloc(1, sizeof(*scratch));
    if (!scratch)
        return NULL;
    scratch->match_data = pcre2_match_data_create(1, NULL);
    scratch->context = pcre2_match_context_create(NULL);
    if (!scratch->match_data || !scratch->context) {
        pattern_scratch_free(scratch);
        return NULL;
    }
    pcre2_set_match_limit(scratch->context, PATTERN_MATCH_LIMIT);
    pcre2_set_depth_limit(scratch->context, PATTERN_DEPTH_LIMIT);
    pcre2_set_heap_limit(scratch->context, PATTERN_HEAP_LIMIT_KIB);
    uint32_t has_jit = 0;
    if (pcre2_config(PCRE2_CONFIG_JIT, &has_jit) >= 0 && has_jit) {
        scratch->jit_stack =
            pcre2_jit_stack_create(JIT_STACK_START_BYTES, PATTERN_JIT_STACK_BYTES, NULL);
        if (!scratch->jit_stack) {
            pattern_scratch_free(scratch);
            return NULL;
        }
        pcre2_jit_stack_assign(scratch->context, NULL, scratch->jit_stack);
    }
    return scratch;
}

void pattern_scratch_free(struct pattern_scratch *scratch)
{
    if (!scratch)
        return;
    pcre2_match_data_free(scratch->match_data);
    pcre2_match_context_free(scratch->context);
    pcre2_jit_stack_free(scratch->jit_stack);
    free(scratch);
}

/* pattern_match - see pattern.h. */
int pattern_match(const struct pattern *pattern, struct pattern_scratch *scratch,
                  const char *text, size_t length)
{
    int rc = pcre2_match(pattern->code, (PCRE2_SPTR)text, length, 0, 0, scratch->match_data,
                         scratch->context);
    if (rc >= 0) /* 0: matched, with more groups than the one ovector pair */
        return 1;
    switch (rc) {
    case PCRE2_ERROR_NOMATCH:
        return 0;
    case PCRE2_ERROR_MATCHLIMIT:
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
    case PCRE2_ERROR_JIT_STACKLIMIT:
        return IQ_E_TOO_LARGE;
    case PCRE2_ERROR_NOMEMORY:
        return IQ_E_NOMEM;
    default:
        if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
            return IQ_E_INVALID;
        return IQ_E_INTERNAL;
    }
}
