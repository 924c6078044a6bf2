/*
 * cnumber.c - numbers in the C locale. A C locale object is created once
 * (pthread_once) and never changed: shared, immutable state. Formatting
 * switches the calling thread to it with uselocale for the duration of the
 * snprintf only.
 */
#include "pipeline/cnumber.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale = (locale_t)0;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* The C locale, or (locale_t)0 when it could not be created. */
static locale_t get_c_locale(void)
{
    pthread_once(&c_locale_once, c_locale_init);
    return c_locale;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int cnumber_parse_int64(const char *text, size_t length, int64_t *ret)
{
    size_t i = 0;
    bool negative = false;
    if (i < length && (text[i] == '+' || text[i] == '-'))
        negative = text[i++] == '-';
    if (i == length)
        return CNUMBER_SYNTAX;
    /* Accumulate as a negative number: its range is one larger. */
    int64_t value = 0;
    bool overflow = false;
    for (; i < length; i++) {
        if (!is_digit(text[i]))
            return CNUMBER_SYNTAX;
        int digit = text[i] - '0';
        if (value < (INT64_MIN + digit) / 10)
            overflow = true;
        else
            value = value * 10 - digit;
    }
    if (overflow || (!negative && value == INT64_MIN))
        return CNUMBER_RANGE;
    *ret = negative ? value : -value;
    return CNUMBER_OK;
}

/* Digits at text[*i..length), advancing *i; returns how many. */
static size_t skip_digits(const char *text, size_t length, size_t *i)
{
    size_t start = *i;
    while (*i < length && is_digit(text[*i]))
        (*i)++;
    return *i - start;
}

int cnumber_is_decimal(const char *text, size_t length, int64_t *ret_exponent)
{
    size_t i = 0;
    if (i < length && (text[i] == '+' || text[i] == '-'))
        i++;
    size_t whole = skip_digits(text, length, &i);
    size_t fraction = 0;
    if (i < length && text[i] == '.') {
        i++;
        fraction = skip_digits(text, length, &i);
    }
    if (whole + fraction == 0)
        return 0;
    int64_t exponent = 0;
    if (i < length && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        bool negative = false;
        if (i < length && (text[i] == '+' || text[i] == '-'))
            negative = text[i++] == '-';
        size_t start = i;
        if (skip_digits(text, length, &i) == 0)
            return 0;
        for (size_t k = start; k < i && exponent < 1000000000; k++)
            exponent = exponent * 10 + (text[k] - '0');
        if (exponent > 1000000000)
            exponent = 1000000000;
        if (negative)
            exponent = -exponent;
    }
    if (ret_exponent)
        *ret_exponent = exponent;
    return i == length;
}

int cnumber_parse_double(const char *text, size_t length, double *ret)
{
    if (!cnumber_is_decimal(text, length, NULL))
        return CNUMBER_SYNTAX;
    locale_t loc = get_c_locale();
    if (loc == (locale_t)0)
        return CNUMBER_SYNTAX;
    char small[128];
    char *copy = length < sizeof(small) ? small : malloc(length + 1);
    if (!copy)
        return CNUMBER_SYNTAX;
    memcpy(copy, text, length);
    copy[length] = '\0';
    errno = 0;
    char *end;
    double value = strtod_l(copy, &end, loc);
    int saved_errno = errno;
    bool complete = end == copy + length;
    if (copy != small)
        free(copy);
    if (!complete)
        return CNUMBER_SYNTAX;
    *ret = value;
    if (isinf(value) || (saved_errno == ERANGE && value == 0.0))
        return CNUMBER_RANGE;
    return CNUMBER_OK;
}

size_t cnumber_format_double(double value, char buf[CNUMBER_DOUBLE_LEN])
{
    locale_t loc = get_c_locale();
    if (loc == (locale_t)0) {
        int n = snprintf(buf, CNUMBER_DOUBLE_LEN, "%.17g", value);
        return n > 0 ? (size_t)n : 0;
    }
    locale_t previous = uselocale(loc);
    int n = 0;
    for (int precision = 15; precision <= 17; precision++) {
        n = snprintf(buf, CNUMBER_DOUBLE_LEN, "%.*g", precision, value);
        if (strtod_l(buf, NULL, loc) == value)
            break;
    }
    uselocale(previous);
    return n > 0 ? (size_t)n : 0;
}
