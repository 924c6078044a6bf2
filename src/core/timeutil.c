/*
 * timeutil.c - epoch milliseconds and RFC 3339 text. Pure arithmetic (no
 * TZ, no locale): civil-date conversions after Howard Hinnant's algorithms.
 */
#include "core/timeutil.h"

#include "core/error.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

unsigned time_days_in_month(int64_t year, unsigned month)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    if (month == 2 && is_leap(year))
        return 29;
    return days[month - 1];
}

int64_t time_days_from_civil(int64_t year, unsigned month, unsigned day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    unsigned yoe = (unsigned)(year - era * 400);
    unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void time_civil_from_days(int64_t z, int64_t *ret_year, unsigned *ret_month,
                          unsigned *ret_day)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    *ret_year = y + (m <= 2);
    *ret_month = m;
    *ret_day = d;
}

char *time_format_rfc3339(int64_t ms, char buf[TIME_RFC3339_LEN])
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int millis = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t rem = secs - days * 86400;
    int64_t year;
    unsigned month, day;
    time_civil_from_days(days, &year, &month, &day);
    /* Years outside 0..9999 are not RFC 3339; clamp rather than overflow. */
    unsigned y = year < 0 ? 0u : year > 9999 ? 9999u : (unsigned)year;
    unsigned r = (unsigned)rem;
    snprintf(buf, TIME_RFC3339_LEN, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", y % 10000u,
             month % 13u, day % 32u, (r / 3600u) % 24u, (r / 60u) % 60u, r % 60u,
             (unsigned)millis % 1000u);
    return buf;
}

/* Reads exactly n digits at *p into *ret and advances; false when not digits. */
static bool read_digits(const char **p, int n, int *ret)
{
    int value = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        value = value * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *ret = value;
    return true;
}

int time_parse_rfc3339(const char *text, int64_t *ret_ms)
{
    if (!text)
        return IQ_E_INVALID;
    const char *p = text;
    int year, month, day, hour, minute, second;
    if (!read_digits(&p, 4, &year) || *p++ != '-' || !read_digits(&p, 2, &month) ||
        *p++ != '-' || !read_digits(&p, 2, &day))
        return IQ_E_INVALID;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return IQ_E_INVALID;
    p++;
    if (!read_digits(&p, 2, &hour) || *p++ != ':' || !read_digits(&p, 2, &minute) ||
        *p++ != ':' || !read_digits(&p, 2, &second))
        return IQ_E_INVALID;
    int millis = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            if (digits < 3)
                millis = millis * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0)
            return IQ_E_INVALID;
        for (; digits < 3; digits++)
            millis *= 10;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh, om = 0;
        if (!read_digits(&p, 2, &oh))
            return IQ_E_INVALID;
        if (*p == ':') {
            p++;
            if (!read_digits(&p, 2, &om))
                return IQ_E_INVALID;
        } else if (isdigit((unsigned char)*p)) {
            if (!read_digits(&p, 2, &om))
                return IQ_E_INVALID;
        }
        if (oh > 23 || om > 59)
            return IQ_E_INVALID;
        offset_min = sign * (oh * 60 + om);
    } else {
        return IQ_E_INVALID;
    }
    if (*p != '\0')
        return IQ_E_INVALID;
    if (month < 1 || month > 12 || day < 1 || (unsigned)day > time_days_in_month(year, (unsigned)month) ||
        hour > 23 || minute > 59 || second > 60)
        return IQ_E_INVALID;
    if (second == 60)
        second = 59; /* leap second: clamp, as most databases do */
    int64_t days = time_days_from_civil(year, (unsigned)month, (unsigned)day);
    int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - (int64_t)offset_min * 60;
    *ret_ms = secs * 1000 + millis;
    return 0;
}
