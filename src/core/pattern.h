/*
 * pattern.h - the `pattern` check of a column (docs/job-spec.md): an ERE run by
 * PCRE2 with bounded memory and time. The spec validator compiles a
 * pattern to refuse it (422) when it is invalid or too costly; the
 * pipeline compiles it once per load and matches every value with it.
 *
 * Why not regcomp: POSIX regcomp expands counted repetitions, so a 30-byte
 * pattern such as ((a{1,100}){1,100}){1,100} costs a gigabyte. Here every
 * cost has a limit (core/job_spec_limits.h):
 *   compile  SPEC_MAX_PATTERN_LEN bytes of source, SPEC_MAX_PATTERN_NESTING
 *            nested parentheses, SPEC_MAX_PATTERN_COMPILED_BYTES compiled
 *   match    PATTERN_MATCH_LIMIT steps, PATTERN_DEPTH_LIMIT nested
 *            backtracking points, PATTERN_HEAP_LIMIT_KIB of backtracking
 *            memory (PATTERN_JIT_STACK_BYTES when JIT-compiled)
 *
 * Syntax: PCRE2 with UTF-8 and Unicode classes, which reads practical
 * EREs the same way ('.' is a character and also matches a newline, '$'
 * only at the very end, [[:alpha:]] includes letters such as 'é'). What
 * POSIX ERE has that PCRE2 refuses or reads otherwise: back-references
 * (not ERE; refused: groups do not capture), collating elements [[.a.]]
 * and equivalence classes [[=a=]] (refused), GNU's \< and \> (literal
 * '<' and '>'; use \b), a{,3} (literal; write a{0,3}). PCRE2's own
 * extensions (\d, (?i), lazy and possessive quantifiers, lookaround) work.
 *
 * Whether a value matches is all that is asked: no captures, and
 * leftmost-longest versus leftmost-first does not change the answer.
 */
#ifndef IMPORTQ_CORE_PATTERN_H
#define IMPORTQ_CORE_PATTERN_H

#include "core/error.h"

#include <stddef.h>

/* A compiled pattern. Not changed by matching, so threads may share one. */
struct pattern;

/* What one thread needs to match: match data, limits and a JIT stack. One
 * per thread; it serves any number of patterns, one match at a time. */
struct pattern_scratch;

/*
 * pattern_compile - compile source (NUL-terminated UTF-8) within the
 * limits above. Returns 0 and *ret_pattern (caller frees with
 * pattern_free), or IQ_E_INVALID with err's message saying why, phrased to
 * follow the field name ("is not a valid regular expression: missing
 * closing parenthesis (at offset 3)", "is too costly: ..."), or
 * IQ_E_NOMEM.
 */
int pattern_compile(const char *source, struct pattern **ret_pattern, struct iq_error *err);

/* pattern_compiled_size - bytes the compiled pattern holds (without JIT code). */
size_t pattern_compiled_size(const struct pattern *pattern);

/*
 * pattern_jit_compile - also compile pattern to machine code, which
 * matches several times faster. Optional, and best effort: where JIT is
 * unavailable the interpreter runs, under the same limits. Call before the
 * pattern is shared with other threads.
 */
void pattern_jit_compile(struct pattern *pattern);

/* pattern_free - NULL-safe. */
void pattern_free(struct pattern *pattern);

/* pattern_scratch_new - a scratch for the calling thread; NULL on OOM.
 * Caller frees with pattern_scratch_free (NULL-safe). */
struct pattern_scratch *pattern_scratch_new(void);
void pattern_scratch_free(struct pattern_scratch *scratch);

/*
 * pattern_match - whether text[0..length) (UTF-8) contains a match of
 * pattern, using scratch. Returns 1 (matches), 0 (does not), or
 * IQ_E_TOO_LARGE (the match ran over one of its limits: the answer is
 * unknown), IQ_E_INVALID (text is not valid UTF-8), IQ_E_NOMEM, or
 * IQ_E_INTERNAL (any other PCRE2 failure).
 */
int pattern_match(const struct pattern *pattern, struct pattern_scratch *scratch,
                  const char *text, size_t length);

#endif
