/*
 * convert_time.c - date, timestamp and timestamptz: parsing the accepted
 * input forms and writing the canonical ones (convert.h). Pure arithmetic
 * on the proleptic Gregorian calendar; no TZ database, no locale.
 */
#include "pipeline/convert_internal.h"

#include "core/timeutil.h"

#include <string.h>

#define SECONDS_PER_DAY 86400

static const char BAD_DATE[] = "not a date (expected YYYY-MM-DD)";
static const char BAD_TIMESTAMP[] = "not a timestamp (expected YYYY-MM-DD HH:MM:SS)";
static const char BAD_CALENDAR[] = "not a calendar date";
static const char BAD_TIME[] = "not a valid time of day";

/* The parts of a date-time as written. */
struct civil {
    int year, month, day;
    int hour, minute, second;
    int64_t micros;            /* 0..1000000 (1000000 after rounding up) */
    int offset_minutes;        /* east of UTC */
    bool has_offset;
};

/* Exactly n digits at text[*pos]; advances *pos. */
static bool read_digits(const char *text, size_t length, size_t *pos, int n, int *ret)
{
    if (length - *pos < (size_t)n)
        return false;
    int value = 0;
    for (int i = 0; i < n; i++) {
        char c = text[*pos + (size_t)i];
        if (c < '0' || c > '9')
            return false;
        value = value * 10 + (c - '0');
    }
    *pos += (size_t)n;
    *ret = value;
    return true;
}

/* The character at *pos is c; advances past it. */
static bool read_char(const char *text, size_t length, size_t *pos, char c)
{
    if (*pos >= length || text[*pos] != c)
        return false;
    (*pos)++;
    return true;
}

/* YYYY-MM-DD at *pos. */
static bool read_date(const char *text, size_t length, size_t *pos, struct civil *t)
{
    return read_digits(text, length, pos, 4, &t->year) && read_char(text, length, pos, '-') &&
           read_digits(text, length, pos, 2, &t->month) && read_char(text, length, pos, '-') &&
           read_digits(text, length, pos, 2, &t->day);
}

static bool date_is_valid(const struct civil *t)
{
    return t->year >= 1 && t->month >= 1 && t->month <= 12 && t->day >= 1 &&
           (unsigned)t->day <= time_days_in_month(t->year, (unsigned)t->month);
}

/* .f{1,9} at *pos (the dot already seen): microseconds, rounded half up. */
static bool read_fraction(const char *text, size_t length, size_t *pos, int64_t *ret)
{
    int64_t micros = 0;
    int digits = 0;
    bool round_up = false;
    while (*pos < length && text[*pos] >= '0' && text[*pos] <= '9') {
        int digit = text[*pos] - '0';
        if (digits < 6)
            micros = micros * 10 + digit;
        else if (digits == 6)
            round_up = digit >= 5;
        digits++;
        (*pos)++;
    }
    if (digits == 0 || digits > 9)
        return false;
    for (int i = digits; i < 6; i++)
        micros *= 10;
    *ret = micros + round_up;
    return true;
}

/* [T t ' ']HH:MM[:SS[.f]] at *pos. */
static bool read_time(const char *text, size_t length, size_t *pos, struct civil *t)
{
    char sep = text[*pos];
    if (sep != 'T' && sep != 't' && sep != ' ')
        return false;
    (*pos)++;
    if (!read_digits(text, length, pos, 2, &t->hour) || !read_char(text, length, pos, ':') ||
        !read_digits(text, length, pos, 2, &t->minute))
        return false;
    if (!read_char(text, length, pos, ':'))
        return true;
    if (!read_digits(text, length, pos, 2, &t->second))
        return false;
    if (read_char(text, length, pos, '.'))
        return read_fraction(text, length, pos, &t->micros);
    return true;
}

/* [' '](Z | [+-]HH[[:]MM]) at *pos. */
static bool read_offset(const char *text, size_t length, size_t *pos, struct civil *t)
{
    if (text[*pos] == ' ')
        (*pos)++;
    if (read_char(text, length, pos, 'Z') || read_char(text, length, pos, 'z')) {
        t->has_offset = true;
        return true;
    }
    if (*pos >= length || (text[*pos] != '+' && text[*pos] != '-'))
        return false;
    int sign = text[(*pos)++] == '-' ? -1 : 1;
    int hours, minutes = 0;
    if (!read_digits(text, length, pos, 2, &hours))
        return false;
    if (*pos < length) {
        read_char(text, length, pos, ':');
        if (!read_digits(text, length, pos, 2, &minutes))
            return false;
    }
    if (hours > 23 || minutes > 59)
        return false;
    t->offset_minutes = sign * (hours * 60 + minutes);
    t->has_offset = true;
    return true;
}

/* civil_from_days - Howard Hinnant's algorithm (as core/timeutil.c). */
static void civil_from_days(int64_t z, struct civil *t)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    t->year = (int)((int64_t)yoe + era * 400 + (m <= 2));
    t->month = (int)m;
    t->day = (int)d;
}

/* Shift t by its offset (and a rounded-up second) into a normal UTC form. */
static void normalise(struct civil *t)
{
    int64_t days = time_days_from_civil(t->year, (unsigned)t->month, (unsigned)t->day);
    int64_t seconds = days * SECONDS_PER_DAY + t->hour * 3600 + t->minute * 60 + t->second -
                      (int64_t)t->offset_minutes * 60;
    if (t->micros >= 1000000) {
        t->micros -= 1000000;
        seconds++;
    }
    days = seconds >= 0 ? seconds / SECONDS_PER_DAY : (seconds - SECONDS_PER_DAY + 1) / SECONDS_PER_DAY;
    int64_t rest = seconds - days * SECONDS_PER_DAY;
    civil_from_days(days, t);
    t->hour = (int)(rest / 3600);
    t->minute = (int)(rest / 60 % 60);
    t->second = (int)(rest % 60);
    t->offset_minutes = 0;
}

/* Write value as width zero-padded digits at out; returns out + width. */
static char *put_digits(char *out, int64_t value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
    return out + width;
}

/* Canonical text of t into buf; returns its length. */
static size_t format_timestamp(const struct civil *t, bool with_zone, char *buf)
{
    char *p = buf;
    p = put_digits(p, t->year, 4);
    *p++ = '-';
    p = put_digits(p, t->month, 2);
    *p++ = '-';
    p = put_digits(p, t->day, 2);
    *p++ = with_zone ? 'T' : ' ';
    p = put_digits(p, t->hour, 2);
    *p++ = ':';
    p = put_digits(p, t->minute, 2);
    *p++ = ':';
    p = put_digits(p, t->second, 2);
    if (t->micros) {
        *p++ = '.';
        p = put_digits(p, t->micros, 6);
    }
    if (with_zone)
        *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - buf);
}

const char *convert_date(struct column_checker *checker, const char *text, size_t length,
                         bool in_place, struct value_out *out)
{
    struct civil t = {0};
    size_t pos = 0;
    if (length != 10 || !read_date(text, length, &pos, &t))
        return BAD_DATE;
    if (!date_is_valid(&t))
        return BAD_CALENDAR;
    if (in_place) {
        out->text = text;
    } else {
        memcpy(checker->small, text, 10);
        checker->small[10] = '\0';
        out->text = checker->small;
    }
    out->length = 10;
    return NULL;
}

const char *convert_timestamp(struct column_checker *checker, const char *text, size_t length,
                              bool with_zone, struct value_out *out)
{
    struct civil t = {0};
    size_t pos = 0;
    if (!read_date(text, length, &pos, &t))
        return BAD_TIMESTAMP;
    if (pos < length && !read_time(text, length, &pos, &t))
        return BAD_TIMESTAMP;
    if (pos < length && !read_offset(text, length, &pos, &t))
        return BAD_TIMESTAMP;
    if (pos != length)
        return BAD_TIMESTAMP;
    if (t.has_offset && !with_zone)
        return "has a time zone offset (the column is a timestamp without time zone)";
    if (!date_is_valid(&t))
        return BAD_CALENDAR;
    if (t.hour > 23 || t.minute > 59 || t.second > 60)
        return BAD_TIME;
    normalise(&t);
    if (t.year < 1 || t.year > 9999)
        return "out of range for timestamp (years 0001-9999)";
    out->length = format_timestamp(&t, with_zone, checker->small);
    out->text = checker->small;
    return NULL;
}
