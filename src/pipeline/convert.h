/*
 * convert.h - typed conversion and checks of one value against a target
 * column (docs/job-spec.md types and checks). The input is CSV text or a jansson
 * value; the output is the canonical text the store loads (store/load.h),
 * or a reject message for the rejects report. No I/O, no database.
 *
 * Canonical forms:
 *   text        as given
 *   integer     "42"  (-2147483648..2147483647; "+7", "007" become "7")
 *   bigint      "42"  (int64)
 *   numeric     as given, validated: [+-]digits[.digits][e[+-]digits],
 *               at most 1000 characters, exponent within +-1000
 *   real        as given (text) or shortest round-trip (JSON), finite
 *   boolean     "true"/"false"; accepts true/false/t/f/1/0/yes/no in any case
 *   date        "YYYY-MM-DD", years 0001-9999, calendar-checked
 *   timestamp   "YYYY-MM-DD HH:MM:SS[.ffffff]"; input may use 'T', omit the
 *               seconds or the time, carry up to 9 fraction digits (rounded
 *               to microseconds); an offset is rejected (use timestamptz)
 *   timestamptz "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" in UTC; input offsets Z,
 *               +hh, +hh:mm, +hhmm; no offset means UTC
 *   uuid        lower-case 8-4-4-4-12; input may be upper-case, without
 *               hyphens, or in braces
 *   json        compact JSON text (keys in input order)
 * Leading and trailing ASCII whitespace is ignored for every type except
 * text and json, as PostgreSQL's input functions do. Nothing depends on the
 * process locale: numbers use the C locale, patterns are PCRE2 in UTF-8
 * mode (core/pattern.h).
 *
 * JSON input: JSON null or a missing value (NULL) is SQL NULL; a string is
 * converted like CSV text; numbers and booleans are accepted where they
 * make sense (an integer column takes 42 but not 42.5 or true; a text
 * column takes any scalar; a boolean column takes true/false and 0/1).
 * A number that has a literal in the record's json_numbers (the readers
 * keep one for every number that is not an int64 integer) is converted
 * from that text, exactly as the same text in a CSV would be: a numeric
 * column keeps 18446744073709551616 or 1e400 digit for digit, a bigint
 * column checks 12345678901234567890 against the int64 range from the
 * digits ("out of range for bigint"), a real column rejects 1e400 ("out of
 * range for real"), a text column takes the text as written, and a json
 * column writes the number as written.
 *
 * numeric and the backend: PostgreSQL's numeric holds any of these
 * exactly. SQLite's NUMERIC holds an integer or a double at most, so for a
 * SQLite target the caller sets numeric_within_double: a numeric beyond a
 * double's range (1e400, 1e-400) is then rejected ("out of range for
 * numeric on SQLite ...") rather than stored as Inf or 0; one within it
 * but with more digits than a double keeps (2^64) is stored as SQLite
 * stores NUMERIC text, as the nearest double.
 *
 * Checks, in this order, on the canonical text: required (NULL only; an
 * empty string is a value), max_length (characters), min/max (number
 * types only), enum (exact match of the canonical text), pattern (ERE,
 * compiled once per column in column_checker_init; a match over its
 * budget is a reject of the row, core/pattern.h).
 *
 * Speed: the common path allocates nothing. The output points into the
 * input when the input is already canonical, else into the checker.
 */
#ifndef IMPORTQ_PIPELINE_CONVERT_H
#define IMPORTQ_PIPELINE_CONVERT_H

#include "core/error.h"
#include "core/job_spec.h"
#include "core/pattern.h"
#include "pipeline/json_numbers.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CONVERT_SMALL_LEN 64
#define CONVERT_MESSAGE_LEN 256
#define CONVERT_NUMERIC_MAX_LEN 1000
#define CONVERT_NUMERIC_MAX_EXPONENT 1000

/*
 * struct column_checker - per-column state for conversions: the compiled
 * pattern, the scratch it matches with, and the output and message storage. Build with
 * column_checker_init, free with column_checker_clear. One checker per
 * column per thread: conversions write into it.
 */
struct column_checker {
    const struct column_spec *spec;    /* borrowed: must outlive the checker */
    struct pattern *pattern;           /* owned; NULL when the column has none */
    struct pattern_scratch *scratch;   /* borrowed: the thread's, shared by its checkers */
    size_t *enum_lengths;              /* strlen of each spec->enum_values[i] */
    char small[CONVERT_SMALL_LEN];     /* fixed-width outputs */
    char *buffer;                      /* longer outputs (json, trimmed text) */
    size_t buffer_capacity;
    char message[CONVERT_MESSAGE_LEN]; /* the last reject message */
    bool numeric_within_double;        /* numeric: reject what a double cannot
                                          hold (SQLite); set after init */
};

/*
 * struct converted - a converted value. text is NULL for SQL NULL, else
 * NUL-terminated canonical text of length bytes. It points into the input
 * or into the checker: valid until the next conversion with the same
 * checker, and as long as the input.
 */
struct converted {
    const char *text;
    size_t length;
};

/*
 * column_checker_init - prepare checker for spec (which it borrows):
 * compile the pattern (JIT too). scratch (borrowed, may be NULL when spec
 * has no pattern) is the calling thread's: every checker of one load
 * shares it, so a load holds one match's backtracking memory, not one per
 * column. Returns 0, or IQ_E_INVALID ("column email: pattern is not a
 * valid regular expression: ...") / IQ_E_NOMEM with err filled; the
 * checker may then be cleared but not used.
 */
int column_checker_init(struct column_checker *checker, const struct column_spec *spec,
                        struct pattern_scratch *scratch, struct iq_error *err);

/* column_checker_clear - free what the checker holds; NULL-safe, idempotent
 * on a zeroed or cleared checker. */
void column_checker_clear(struct column_checker *checker);

/*
 * column_convert_text - convert text[0..length) (text[length] must be
 * '\0'; valid UTF-8, as the readers guarantee) or SQL NULL (is_null).
 * Returns 0 and *ret, or IQ_E_REJECTED and *ret_reject, a message such as
 * "not an integer" or "longer than max_length 320" (owned by the checker,
 * valid until its next conversion).
 */
int column_convert_text(struct column_checker *checker, const char *text, size_t length,
                        bool is_null, struct converted *ret, const char **ret_reject);

/*
 * column_convert_json - as column_convert_text for a jansson value
 * (borrowed; NULL = missing = SQL NULL). numbers: the literals of the
 * record's numbers (record.numbers; NULL when there are none); the output
 * may point into it.
 */
int column_convert_json(struct column_checker *checker, const json_t *value,
                        const struct json_numbers *numbers, struct converted *ret,
                        const char **ret_reject);

#endif
