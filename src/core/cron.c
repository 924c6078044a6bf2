/*
 * cron.c - cron expressions: parsing (fields, lists, ranges, steps, names,
 * L, macros, one-off RFC 3339 times) into a struct cron_expr, and matching
 * it against local wall-clock times, field by field. No time zones here
 * (cron_zone.c), no I/O. Syntax and rules: core/cron.h, docs/schedules.md.
 */
#include "core/cron.h"

#include "core/timeutil.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum field_kind { FIELD_SECOND, FIELD_MINUTE, FIELD_HOUR, FIELD_DOM, FIELD_MONTH, FIELD_DOW };
#define FIELD_COUNT 6

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

/* What each field accepts: its name in errors, its range, its names (the
 * first name stands for name_base). */
struct field_info {
    const char *name;
    int min, max;
    const char *const *names;
    int name_count;
    int name_base;
};

static const struct field_info field_infos[FIELD_COUNT] = {
    [FIELD_SECOND] = {"second", 0, 59, NULL, 0, 0},
    [FIELD_MINUTE] = {"minute", 0, 59, NULL, 0, 0},
    [FIELD_HOUR] = {"hour", 0, 23, NULL, 0, 0},
    [FIELD_DOM] = {"day-of-month", 1, 31, NULL, 0, 0},
    [FIELD_MONTH] = {"month", 1, 12, month_names, 12, 1},
    [FIELD_DOW] = {"day-of-week", 0, 7, day_names, 7, 0},
};

/* The macros and what each stands for. */
static const struct {
    const char *name;
    const char *expansion;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* One parse: the whole text (positions count from its start) and where
 * errors go. */
struct parser {
    const char *text;
    struct iq_error *err;
};

/* One field as written: text[start, end). */
struct field_text {
    size_t start, end;
};

/*
 * parse_error - record "cron: FIELD: PROBLEM at position N" (FIELD left out
 * when NULL) as err's message and as a field error on "cron".
 * Returns IQ_E_INVALID.
 */
__attribute__((format(printf, 4, 5))) static int
parse_error(const struct parser *p, const char *field, size_t offset, const char *fmt, ...)
{
    char *problem = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&problem, fmt, ap) < 0)
        problem = NULL;
    va_end(ap);
    const char *what = problem ? problem : "invalid";
    if (field) {
        iq_error_add_field(p->err, "cron", "%s: %s at position %zu", field, what, offset + 1);
        iq_error_set(p->err, IQ_E_INVALID, "cron: %s: %s at position %zu", field, what, offset + 1);
    } else {
        iq_error_add_field(p->err, "cron", "%s at position %zu", what, offset + 1);
        iq_error_set(p->err, IQ_E_INVALID, "cron: %s at position %zu", what, offset + 1);
    }
    free(problem);
    return IQ_E_INVALID;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The character at offset for an error message: itself when printable. */
static void describe_char(char c, char buf[8])
{
    if (isprint((unsigned char)c))
        snprintf(buf, 8, "'%c'", c);
    else
        snprintf(buf, 8, "0x%02X", (unsigned)(unsigned char)c);
}

/* ---- one field ----------------------------------------------------------- */

/*
 * read_value - a number or a name at text[*pos] (before end) for field f.
 * Advances *pos past it. Returns 0 and *ret_value, or IQ_E_INVALID.
 */
static int read_value(const struct parser *p, enum field_kind f, size_t *pos, size_t end,
                      int *ret_value)
{
    const struct field_info *info = &field_infos[f];
    const char *text = p->text;
    size_t start = *pos;
    if (start < end && isdigit((unsigned char)text[start])) {
        long value = 0;
        size_t i = start;
        for (; i < end && isdigit((unsigned char)text[i]); i++)
            if (value <= 1000)
                value = value * 10 + (text[i] - '0');
        if (value < info->min || value > info->max)
            return parse_error(p, info->name, start, "value %.*s out of range %d-%d",
                               (int)(i - start), text + start, info->min, info->max);
        *pos = i;
        *ret_value = (int)value;
        return 0;
    }
    if (start < end && isalpha((unsigned char)text[start])) {
        size_t i = start;
        while (i < end && isalpha((unsigned char)text[i]))
            i++;
        size_t length = i - start;
        for (int n = 0; n < info->name_count && length == 3; n++) {
            if (strncasecmp(text + start, info->names[n], 3) == 0) {
                *pos = i;
                *ret_value = info->name_base + n;
                return 0;
            }
        }
        if (f == FIELD_DOM && length == 1 && toupper((unsigned char)text[start]) == 'L')
            return parse_error(p, info->name, start,
                               "L (the last day) stands alone, not in a range or step");
        if (f == FIELD_MONTH || f == FIELD_DOW)
            return parse_error(p, info->name, start, "unknown name \"%.*s\" (use %s-%s)",
                               (int)length, text + start, info->names[0],
                               info->names[info->name_count - 1]);
        return parse_error(p, info->name, start, "\"%.*s\" is not a number", (int)length,
                           text + start);
    }
    if (start >= end)
        return parse_error(p, info->name, start, "a value is missing");
    char what[8];
    describe_char(text[start], what);
    return parse_error(p, info->name, start, "unexpected %s", what);
}

/* read_step - the number after '/' at text[*pos]: 1..span. */
static int read_step(const struct parser *p, enum field_kind f, size_t *pos, size_t end,
                     int *ret_step)
{
    const struct field_info *info = &field_infos[f];
    int span = info->max - info->min + 1;
    size_t start = *pos, i = start;
    long value = 0;
    for (; i < end && isdigit((unsigned char)p->text[i]); i++)
        if (value <= 1000)
            value = value * 10 + (p->text[i] - '0');
    if (i == start)
        return parse_error(p, info->name, start, "a step needs a number after '/'");
    if (value < 1 || value > span)
        return parse_error(p, info->name, start, "step %.*s out of range 1-%d", (int)(i - start),
                           p->text + start, span);
    *pos = i;
    *ret_step = (int)value;
    return 0;
}

/*
 * parse_item - one list item text[start, end) of field f into *bits:
 * '*', a value, a range, each with an optional step, or L (day-of-month).
 */
static int parse_item(const struct parser *p, enum field_kind f, size_t start, size_t end,
                      uint64_t *bits, bool *last_day)
{
    const struct field_info *info = &field_infos[f];
    const char *text = p->text;
    if (start == end)
        return parse_error(p, info->name, start, "empty list item");
    if (f == FIELD_DOM && end - start == 1 && toupper((unsigned char)text[start]) == 'L') {
        *last_day = true;
        return 0;
    }
    size_t pos = start;
    int low, high, step = 1;
    bool single = false;
    if (text[pos] == '*') {
        pos++;
        low = info->min;
        high = info->max;
    } else {
        if (read_value(p, f, &pos, end, &low) < 0)
            return IQ_E_INVALID;
        high = low;
        single = true;
        if (pos < end && text[pos] == '-') {
            size_t high_at = ++pos;
            if (read_value(p, f, &pos, end, &high) < 0)
                return IQ_E_INVALID;
            single = false;
            if (f == FIELD_DOW && high == 0 && low > 0)
                high = 7; /* "mon-sun", "5-0": Sunday as 7 */
            if (high < low)
                return parse_error(p, info->name, high_at,
                                   "range %d-%d runs backwards (list it as two ranges)", low, high);
        }
    }
    if (pos < end && text[pos] == '/') {
        pos++;
        if (read_step(p, f, &pos, end, &step) < 0)
            return IQ_E_INVALID;
        if (single) /* "5/15" is 5-max/15; in day-of-week max is 7, Sunday again */
            high = info->max;
    }
    if (pos < end) {
        char what[8];
        describe_char(text[pos], what);
        return parse_error(p, info->name, pos, "unexpected %s", what);
    }
    for (int v = low; v <= high; v += step)
        *bits |= (uint64_t)1 << (f == FIELD_DOW ? v % 7 : v);
    return 0;
}

/* parse_field - a comma-separated list text[field] of kind f into *bits. */
static int parse_field(const struct parser *p, enum field_kind f, struct field_text field,
                       uint64_t *bits, bool *last_day)
{
    size_t item = field.start;
    for (size_t i = field.start; i <= field.end; i++) {
        if (i == field.end || p->text[i] == ',') {
            if (parse_item(p, f, item, i, bits, last_day) < 0)
                return IQ_E_INVALID;
            item = i + 1;
        }
    }
    return 0;
}

/* ---- the whole expression ------------------------------------------------ */

/*
 * split_fields - the blank-separated fields of text[start, end) into
 * fields[] (at most max); *ret_count may exceed max, then fields[max] is
 * the first one too many. Characters no field may hold are refused here.
 */
static int split_fields(const struct parser *p, size_t start, size_t end, struct field_text *fields,
                        size_t max, size_t *ret_count)
{
    size_t count = 0;
    size_t i = start;
    while (i < end) {
        while (i < end && is_blank(p->text[i]))
            i++;
        if (i == end)
            break;
        size_t field_start = i;
        for (; i < end && !is_blank(p->text[i]); i++) {
            unsigned char c = (unsigned char)p->text[i];
            if (!isalnum(c) && c != '*' && c != ',' && c != '-' && c != '/') {
                char what[8];
                describe_char((char)c, what);
                return parse_error(p, NULL, i, "unexpected %s", what);
            }
        }
        if (count <= max)
            fields[count] = (struct field_text){field_start, i};
        count++;
    }
    *ret_count = count;
    return 0;
}

/*
 * day_mask - bit d set for each day d (1..days in month) of year-month that
 * matches expr's day-of-month and day-of-week under the OR/AND rule.
 */
static uint64_t day_mask(const struct cron_expr *expr, int64_t year, unsigned month)
{
    unsigned days = time_days_in_month(year, month);
    uint64_t valid = (((uint64_t)1 << (days + 1)) - 1) & ~(uint64_t)1;
    uint64_t by_month_day = expr->days_of_month & valid;
    if (expr->last_day_of_month)
        by_month_day |= (uint64_t)1 << days;
    int64_t first = time_days_from_civil(year, month, 1);
    unsigned weekday = (unsigned)(((first + 4) % 7 + 7) % 7); /* 1970-01-01: Thursday */
    uint64_t by_weekday = 0;
    for (unsigned d = 1; d <= days; d++, weekday = (weekday + 1) % 7)
        if (expr->days_of_week & (1u << weekday))
            by_weekday |= (uint64_t)1 << d;
    if (!expr->day_of_month_star && !expr->day_of_week_star)
        return by_month_day | by_weekday;
    return by_month_day & by_weekday;
}

/*
 * ever_fires - whether some day of some month matches. Whether a month
 * matches depends only on its length and the weekday of its 1st; 2000..2027
 * is a 28-year cycle without a skipped leap year, in which every month
 * starts on every weekday both in a leap year and in a common year, so it
 * holds every case the 400-year calendar has.
 */
static bool ever_fires(const struct cron_expr *expr)
{
    static const int64_t years[] = {2000, 2001, 2002, 2003, 2004, 2005, 2006, 2007, 2008, 2009,
                                    2010, 2011, 2012, 2013, 2014, 2015, 2016, 2017, 2018, 2019,
                                    2020, 2021, 2022, 2023, 2024, 2025, 2026, 2027};
    for (unsigned month = 1; month <= 12; month++) {
        if (!(expr->months & (1u << month)))
            continue;
        for (size_t y = 0; y < sizeof(years) / sizeof(years[0]); y++)
            if (day_mask(expr, years[y], month))
                return true;
    }
    return false;
}

/* parse_fields - five or six fields into *expr. */
static int parse_fields(const struct parser *p, const struct field_text *fields, size_t count,
                        struct cron_expr *expr)
{
    static const enum field_kind five[] = {FIELD_MINUTE, FIELD_HOUR, FIELD_DOM, FIELD_MONTH,
                                           FIELD_DOW};
    static const enum field_kind six[] = {FIELD_SECOND, FIELD_MINUTE, FIELD_HOUR,
                                          FIELD_DOM,    FIELD_MONTH,  FIELD_DOW};
    const enum field_kind *kinds = count == 6 ? six : five;
    uint64_t bits[FIELD_COUNT] = {[FIELD_SECOND] = 1}; /* second 0 without a seconds field */
    size_t dom_at = 0;
    for (size_t i = 0; i < count; i++) {
        enum field_kind f = kinds[i];
        bits[f] = 0;
        if (parse_field(p, f, fields[i], &bits[f], &expr->last_day_of_month) < 0)
            return IQ_E_INVALID;
        bool star = p->text[fields[i].start] == '*';
        if (f == FIELD_DOM) {
            expr->day_of_month_star = star;
            dom_at = fields[i].start;
        }
        if (f == FIELD_DOW)
            expr->day_of_week_star = star;
        if (f == FIELD_HOUR)
            expr->hour_star = star;
    }
    expr->has_seconds = count == 6;
    expr->seconds = bits[FIELD_SECOND];
    expr->minutes = bits[FIELD_MINUTE];
    expr->hours = (uint32_t)bits[FIELD_HOUR];
    expr->days_of_month = (uint32_t)bits[FIELD_DOM];
    expr->months = (uint16_t)bits[FIELD_MONTH];
    expr->days_of_week = (uint8_t)bits[FIELD_DOW];
    if (!ever_fires(expr))
        return parse_error(p, "day-of-month", dom_at,
                           "never occurs in the chosen months (the schedule would never "
                           "fire)");
    return 0;
}

/* parse_macro - text[start, end) is "@name" alone. */
static int parse_macro(const struct parser *p, size_t start, size_t end, struct cron_expr *expr)
{
    size_t name_end = start;
    while (name_end < end && !is_blank(p->text[name_end]))
        name_end++;
    size_t length = name_end - start;
    size_t i = 0;
    while (i < sizeof(macros) / sizeof(macros[0]) &&
           !(strlen(macros[i].name) == length &&
             strncasecmp(p->text + start, macros[i].name, length) == 0))
        i++;
    if (i == sizeof(macros) / sizeof(macros[0]))
        return parse_error(p, NULL, start,
                           "unknown macro \"%.*s\" (use @yearly, @annually, @monthly, @weekly, "
                           "@daily, @midnight or @hourly)",
                           (int)length, p->text + start);
    if (name_end < end) {
        while (is_blank(p->text[name_end]))
            name_end++;
        return parse_error(p, NULL, name_end, "a macro stands alone");
    }
    struct parser inner = {macros[i].expansion, p->err};
    struct field_text fields[6];
    size_t count;
    if (split_fields(&inner, 0, strlen(inner.text), fields, 5, &count) < 0)
        return IQ_E_INVALID;
    return parse_fields(&inner, fields, count, expr);
}

/* parse_once - text[start, end) is one RFC 3339 time (a one-off). */
static int parse_once(const struct parser *p, size_t start, size_t end, struct cron_expr *expr)
{
    char copy[CRON_MAX_EXPR_LEN + 1];
    memcpy(copy, p->text + start, end - start);
    copy[end - start] = '\0';
    int64_t ms;
    if (time_parse_rfc3339(copy, &ms) < 0 || ms < 0)
        return parse_error(p, NULL, start,
                           "not a valid RFC 3339 time from 1970 on (a one-off schedule is "
                           "like 2026-12-01T02:00:00Z or 2026-12-01T02:00:00+01:00)");
    expr->is_once = true;
    expr->once_ms = ms;
    return 0;
}

/* looks_like_time - text[start, end) starts "YYYY-": a one-off time, not cron. */
static bool looks_like_time(const char *text, size_t start, size_t end)
{
    if (end - start < 5)
        return false;
    for (size_t i = start; i < start + 4; i++)
        if (!isdigit((unsigned char)text[i]))
            return false;
    return text[start + 4] == '-';
}

int cron_parse(const char *text, struct cron_expr *ret_expr, struct iq_error *err)
{
    struct parser p = {text, err};
    if (!text) {
        iq_error_add_field(err, "cron", "is missing");
        return iq_error_set(err, IQ_E_INVALID, "cron: is missing");
    }
    size_t length = strnlen(text, CRON_MAX_EXPR_LEN + 1);
    if (length > CRON_MAX_EXPR_LEN)
        return parse_error(&p, NULL, CRON_MAX_EXPR_LEN, "longer than %d bytes", CRON_MAX_EXPR_LEN);
    size_t start = 0, end = length;
    while (start < end && is_blank(text[start]))
        start++;
    while (end > start && is_blank(text[end - 1]))
        end--;
    if (start == end)
        return parse_error(&p, NULL, 0, "empty expression");
    struct cron_expr expr = {0};
    int rc;
    if (text[start] == '@') {
        rc = parse_macro(&p, start, end, &expr);
    } else if (looks_like_time(text, start, end)) {
        rc = parse_once(&p, start, end, &expr);
    } else {
        struct field_text fields[7];
        size_t count;
        rc = split_fields(&p, start, end, fields, 6, &count);
        if (rc == 0 && count > 6)
            rc = parse_error(&p, NULL, fields[6].start,
                             "too many fields: cron takes 5 (minute hour day-of-month month "
                             "day-of-week) or 6 (seconds first)");
        else if (rc == 0 && count < 5)
            rc = parse_error(&p, NULL, end,
                             "found %zu field%s, but cron takes 5 (minute hour day-of-month "
                             "month day-of-week) or 6 (seconds first)",
                             count, count == 1 ? "" : "s");
        if (rc == 0)
            rc = parse_fields(&p, fields, count, &expr);
    }
    if (rc < 0)
        return rc;
    *ret_expr = expr;
    return 0;
}

/* ---- matching local times ------------------------------------------------ */

/* A local time split into its fields. */
struct wall {
    int64_t year;
    unsigned month, day, hour, minute, second;
};

static struct wall wall_from_seconds(int64_t wall_s)
{
    int64_t days = wall_s >= 0 ? wall_s / 86400 : -((-wall_s + 86399) / 86400);
    int64_t rem = wall_s - days * 86400;
    struct wall w;
    time_civil_from_days(days, &w.year, &w.month, &w.day);
    w.hour = (unsigned)(rem / 3600);
    w.minute = (unsigned)(rem / 60 % 60);
    w.second = (unsigned)(rem % 60);
    return w;
}

static int64_t wall_to_seconds(const struct wall *w)
{
    return time_days_from_civil(w->year, w->month, w->day) * 86400 + w->hour * 3600 +
           w->minute * 60 + w->second;
}

bool cron_matches_local(const struct cron_expr *expr, int64_t wall_s)
{
    if (expr->is_once)
        return false;
    struct wall w = wall_from_seconds(wall_s);
    return (expr->seconds >> w.second & 1) && (expr->minutes >> w.minute & 1) &&
           (expr->hours >> w.hour & 1) && (expr->months >> w.month & 1) &&
           (day_mask(expr, w.year, w.month) >> w.day & 1);
}

/* next_bit - the lowest set bit of set at or above from (at most max), or -1. */
static int next_bit(uint64_t set, unsigned from, unsigned max)
{
    if (from > max)
        return -1;
    uint64_t above = set & (~(uint64_t)0 << from);
    if (max < 63)
        above &= ((uint64_t)1 << (max + 1)) - 1;
    return above ? __builtin_ctzll(above) : -1;
}

/*
 * next_local - the search of cron_next_local: settle the month, then the
 * day, hour, minute and second; a field with no value left carries into
 * the one above it (out-of-range values make next_bit answer -1) and the
 * search starts over from the month. Each pass moves forward, and at most
 * one carry per field happens before a smaller field starts at its lowest
 * value, so the work is bounded by the months searched.
 */
static int next_local(const struct cron_expr *expr, struct wall w, int64_t last_year,
                      struct wall *ret)
{
    for (;;) {
        if (w.year > last_year)
            return IQ_E_NOT_FOUND;
        int month = next_bit(expr->months, w.month, 12);
        if (month < 0) {
            w = (struct wall){w.year + 1, 1, 1, 0, 0, 0};
            continue;
        }
        if ((unsigned)month != w.month)
            w = (struct wall){w.year, (unsigned)month, 1, 0, 0, 0};
        int day = next_bit(day_mask(expr, w.year, w.month), w.day, 31);
        if (day < 0) {
            w = w.month == 12 ? (struct wall){w.year + 1, 1, 1, 0, 0, 0}
                              : (struct wall){w.year, w.month + 1, 1, 0, 0, 0};
            continue;
        }
        if ((unsigned)day != w.day)
            w = (struct wall){w.year, w.month, (unsigned)day, 0, 0, 0};
        int hour = next_bit(expr->hours, w.hour, 23);
        if (hour < 0) {
            w = (struct wall){w.year, w.month, w.day + 1, 0, 0, 0};
            continue;
        }
        if ((unsigned)hour != w.hour)
            w = (struct wall){w.year, w.month, w.day, (unsigned)hour, 0, 0};
        int minute = next_bit(expr->minutes, w.minute, 59);
        if (minute < 0) {
            w = (struct wall){w.year, w.month, w.day, w.hour + 1, 0, 0};
            continue;
        }
        if ((unsigned)minute != w.minute)
            w = (struct wall){w.year, w.month, w.day, w.hour, (unsigned)minute, 0};
        int second = next_bit(expr->seconds, w.second, 59);
        if (second < 0) {
            w = (struct wall){w.year, w.month, w.day, w.hour, w.minute + 1, 0};
            continue;
        }
        w.second = (unsigned)second;
        *ret = w;
        return 0;
    }
}

int cron_next_local(const struct cron_expr *expr, int64_t wall_s, int64_t *ret_wall_s)
{
    if (expr->is_once)
        return IQ_E_INVALID;
    struct wall w = wall_from_seconds(wall_s);
    if (w.year < 1969 || w.year > CRON_MAX_YEAR)
        return IQ_E_INVALID;
    int64_t last_year = w.year + CRON_SEARCH_YEARS;
    if (last_year > CRON_MAX_YEAR)
        last_year = CRON_MAX_YEAR;
    struct wall found;
    int rc = next_local(expr, w, last_year, &found);
    if (rc < 0)
        return rc;
    *ret_wall_s = wall_to_seconds(&found);
    return 0;
}
