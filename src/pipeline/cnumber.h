/*
 * cnumber.h - locale-independent number parsing and formatting for the
 * pipeline. strtod and printf follow LC_NUMERIC (a "," decimal point in
 * some locales); these always use the C locale, whatever the process set.
 * Integers are parsed by hand (no strtoll) for exact range checks.
 */
#ifndef IMPORTQ_PIPELINE_CNUMBER_H
#define IMPORTQ_PIPELINE_CNUMBER_H

#include <stddef.h>
#include <stdint.h>

/* Shortest text of any finite double, plus NUL, fits in this. */
#define CNUMBER_DOUBLE_LEN 32

enum cnumber_status {
    CNUMBER_OK = 0,
    CNUMBER_SYNTAX = -1,       /* not a number of the expected form */
    CNUMBER_RANGE = -2,        /* well-formed but out of range */
};

/*
 * cnumber_parse_int64 - text[0..length) as [+-]digits (at least one digit,
 * nothing else) into *ret. Returns CNUMBER_OK, CNUMBER_SYNTAX, or
 * CNUMBER_RANGE when it does not fit in int64.
 */
int cnumber_parse_int64(const char *text, size_t length, int64_t *ret);

/*
 * cnumber_is_decimal - true when text[0..length) is
 * [+-](digits[.digits*] | .digits)([eE][+-]digits)? (no inf, no nan, no
 * hex). *ret_exponent gets the exponent's value (clamped to +-1000000000).
 */
int cnumber_is_decimal(const char *text, size_t length, int64_t *ret_exponent);

/*
 * cnumber_parse_double - a decimal (cnumber_is_decimal) into *ret, in the C
 * locale. CNUMBER_RANGE when it overflows to infinity or a non-zero number
 * underflows to zero (as PostgreSQL's float8 input does); *ret is then
 * still set (to +-HUGE_VAL or 0), which is right for comparisons.
 */
int cnumber_parse_double(const char *text, size_t length, double *ret);

/*
 * cnumber_format_double - the shortest "%.Ng" text (N = 15..17) that reads
 * back as the same finite value, in the C locale. Returns its length.
 */
size_t cnumber_format_double(double value, char buf[CNUMBER_DOUBLE_LEN]);

#endif
