/*
 * cron.h - schedules: cron expressions and one-off times, their next fire
 * times in an IANA time zone, and the {date} {time} {datetime}
 * placeholders of a scheduled job's source path. docs/schedules.md is the
 * user's description; keep the two equal.
 *
 * Pure: no I/O, no logging, no global state. The files:
 *   cron.c           parsing an expression into a struct cron_expr, and
 *                    matching it against a local (wall-clock) time
 *   cron_zone.c      time zones (ICU's C calendar API) and fire times
 *   cron_template.c  placeholder expansion
 *
 * ("*\/15" below is star-slash-15: a C comment cannot hold it as such.)
 *
 * Syntax (cron.c): five fields "minute hour day-of-month month day-of-week"
 * or six with a leading seconds field; '*', lists, ranges, steps ("*\/15",
 * "1-30/5", "5/15" = 5-59/15), JAN-DEC and SUN-SAT in any case (also in
 * ranges), Sunday as 0 or 7, L in day-of-month for the month's last day,
 * the macros @yearly @annually @monthly @weekly @daily @midnight @hourly.
 * When day-of-month and day-of-week both are restricted (neither starts
 * with '*'), a day matches when either matches (Vixie cron); otherwise both
 * must. A text that starts with four digits and '-' is a one-off schedule:
 * an RFC 3339 time with its offset ("2026-12-01T02:00:00Z").
 *
 * Daylight saving time (cron_zone.c). A schedule fires at local times of
 * its zone. Two cases, told apart by the hour field as written:
 *   - fixed hours (the hour field does not start with '*'; the macros but
 *     @hourly): each matching local time fires once. A local time the
 *     clocks skip (02:30 on the day of a spring-forward) fires at the first
 *     instant after the gap (03:00 local), once even when several skipped
 *     times map there; a local time that occurs twice (fall-back) fires at
 *     its first occurrence only.
 *   - wildcard hours (the hour field starts with '*': "*\/15 * * * *",
 *     "0 * * * *", "0 *\/2 * * *", @hourly): the schedule follows real
 *     time. It fires at every instant whose local time matches: in a
 *     repeated hour twice (both passes), in a skipped hour not at all, so
 *     "*\/15 * * * *" fires every 15 real minutes straight through both
 *     transitions. This is cronie's rule for frequent jobs, keyed on the
 *     hour field alone (cronie also counts "*\/15 2 * * *" as frequent).
 *
 * Threads: a struct cron_expr is read-only after parsing and may be shared.
 * A struct cron_zone is used by one thread at a time (each call changes
 * its ICU calendar); open one per thread, or one per call.
 */
#ifndef IMPORTQ_CORE_CRON_H
#define IMPORTQ_CORE_CRON_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits ------------------------------------------------------------- */
#define CRON_MAX_EXPR_LEN 256       /* an expression or one-off time, in bytes */
#define CRON_MAX_ZONE_LEN 64        /* a time zone name, in bytes */
#define CRON_MAX_COUNT 100          /* fire times asked of cron_next_times */
#define CRON_MAX_TEMPLATE_OUT 4096  /* an expanded template, in bytes (= SPEC_MAX_PATH_LEN) */
/* cron_next_after searches this many years of local time past `after`: the
 * Gregorian calendar repeats every 400 years, and cron_parse refuses what
 * never matches, so the search of a parsed expression always ends. */
#define CRON_SEARCH_YEARS 401
#define CRON_MAX_YEAR 9999          /* no fire time after 9999-12-31 local time */

/* The zone of a schedule that names none. */
#define CRON_DEFAULT_ZONE "UTC"

/*
 * struct cron_expr - a parsed schedule. Plain data (no pointers): copy it,
 * keep it, free nothing. The bit sets are what matches: bit n set = value n.
 */
struct cron_expr {
    bool is_once;             /* a one-off schedule: fires at once_ms only */
    int64_t once_ms;          /* the one-off's UTC time, ms since the epoch */
    uint64_t seconds;         /* 0-59; {0} without a seconds field */
    uint64_t minutes;         /* 0-59 */
    uint32_t hours;           /* 0-23 */
    uint32_t days_of_month;   /* 1-31 (bit 0 unused) */
    uint16_t months;          /* 1-12 (bit 0 unused) */
    uint8_t days_of_week;     /* 0 Sunday .. 6 Saturday (a 7 is stored as 0) */
    bool last_day_of_month;   /* L in day-of-month */
    bool day_of_month_star;   /* day-of-month starts with '*' (the OR rule) */
    bool day_of_week_star;    /* day-of-week starts with '*' */
    bool hour_star;           /* hour starts with '*': wildcard hours (DST, above) */
    bool has_seconds;         /* written with six fields */
};

/*
 * cron_parse - parse text (NUL-terminated, at most CRON_MAX_EXPR_LEN bytes,
 * leading and trailing blanks allowed) into *ret_expr: a cron expression or
 * macro, or a one-off RFC 3339 time (see the top of this file).
 * Returns 0, or IQ_E_INVALID with err's message naming the field and the
 * 1-based byte position ("cron: hour: value 24 out of range 0-23 at
 * position 6") and a field error on "cron" with the same text after
 * "cron: ". An expression that can never fire ("0 0 30 2 *") is refused.
 * *ret_expr is only written on success.
 */
int cron_parse(const char *text, struct cron_expr *ret_expr, struct iq_error *err);

/*
 * cron_matches_local - whether the local (wall-clock) time wall_s matches
 * expr, where wall_s counts seconds since 1970-01-01T00:00:00 on the wall
 * clock (a civil date and time, no zone). False for a one-off schedule.
 */
bool cron_matches_local(const struct cron_expr *expr, int64_t wall_s);

/*
 * cron_next_local - the first local time at or after wall_s (seconds as in
 * cron_matches_local) that matches expr, found field by field. No zone:
 * every local time exists. Searches CRON_SEARCH_YEARS years, never past
 * CRON_MAX_YEAR. Returns 0 and *ret_wall_s, IQ_E_NOT_FOUND when there is
 * none, IQ_E_INVALID for a one-off schedule or wall_s before 1969 (a zone
 * west of UTC reads 1970-01-01T00:00Z in 1969) or after CRON_MAX_YEAR.
 */
int cron_next_local(const struct cron_expr *expr, int64_t wall_s, int64_t *ret_wall_s);

/* ---- time zones and fire times (cron_zone.c) ----------------------------- */

/* An IANA time zone ready for computing; one thread at a time (above). */
struct cron_zone;

/*
 * cron_zone_open - open the IANA zone name (case as in the tz database:
 * "Europe/Zurich", "UTC"; NULL or "" means CRON_DEFAULT_ZONE). Unknown
 * names and ICU's custom ids ("GMT+05:00") are refused, where ICU alone
 * would quietly fall back to GMT. Returns 0 and *ret_zone (caller frees
 * with cron_zone_free), IQ_E_INVALID with err's message and a field error
 * on "timezone", or IQ_E_NOMEM / IQ_E_INTERNAL.
 */
int cron_zone_open(const char *name, struct cron_zone **ret_zone, struct iq_error *err);

/* cron_zone_free - NULL-safe. */
void cron_zone_free(struct cron_zone *zone);

/* cron_zone_name - the name the zone was opened with (owned by zone). */
const char *cron_zone_name(const struct cron_zone *zone);

/*
 * cron_zone_check - whether name is a zone cron_zone_open accepts: 0, or
 * IQ_E_INVALID with the same message and field error.
 */
int cron_zone_check(const char *name, struct iq_error *err);

/* A UTC instant as read on the zone's clocks. */
struct cron_local_time {
    int year, month, day;         /* month 1-12, day 1-31 */
    int hour, minute, second;     /* hour 0-23 */
    int weekday;                  /* 0 Sunday .. 6 Saturday */
    int offset_s;                 /* local minus UTC, seconds (+3600 for CET) */
};

/*
 * cron_zone_local_time - utc_ms (whole seconds used; ms dropped) on the
 * zone's clocks. Returns 0 and *ret_local, or IQ_E_INVALID for a UTC time
 * before 1970 or a local one after CRON_MAX_YEAR, or IQ_E_INTERNAL.
 */
int cron_zone_local_time(struct cron_zone *zone, int64_t utc_ms,
                         struct cron_local_time *ret_local, struct iq_error *err);

/* "2026-03-29T03:00:00+02:00" plus NUL fits in this. */
#define CRON_LOCAL_RFC3339_LEN 32

/* cron_local_format_rfc3339 - local as "YYYY-MM-DDTHH:MM:SS+hh:mm" ("Z" never). */
char *cron_local_format_rfc3339(const struct cron_local_time *local,
                                char buf[CRON_LOCAL_RFC3339_LEN]);

/*
 * cron_next_after - the first fire time of expr strictly after after_ms
 * (UTC, ms since the epoch) in zone, under the DST rules at the top of
 * this file; computed field by field from the local calendar, with a
 * bounded search (CRON_SEARCH_YEARS). zone is ignored for a one-off.
 * after_ms must lie in 1970..CRON_MAX_YEAR.
 * Returns 0 and *ret_next_ms (whole seconds; a one-off's time as written,
 * milliseconds and all), or:
 *   IQ_E_NOT_FOUND  no fire time after after_ms: a one-off at or before
 *                   it, or none before the year CRON_MAX_YEAR ends (a
 *                   scheduler takes this as "the schedule is done")
 *   IQ_E_INVALID    after_ms out of range
 *   IQ_E_INTERNAL   ICU failed
 * with err's message saying which.
 */
int cron_next_after(const struct cron_expr *expr, int64_t after_ms, struct cron_zone *zone,
                    int64_t *ret_next_ms, struct iq_error *err);

/*
 * cron_next_times - the next count (1..CRON_MAX_COUNT) fire times after
 * after_ms, ascending, into ret_times (room for count). Fewer when the
 * schedule ends (a one-off: at most one). Returns 0 and *ret_found, or
 * IQ_E_INVALID for a count out of range, or what cron_next_after returns
 * besides IQ_E_NOT_FOUND.
 */
int cron_next_times(const struct cron_expr *expr, int64_t after_ms, struct cron_zone *zone,
                    size_t count, int64_t *ret_times, size_t *ret_found, struct iq_error *err);

/*
 * cron_preview - what `importq cron` and GET /api/v2/scheduled-imports/preview
 * answer: parse text, open zone_name (NULL or "": UTC), and the next count
 * fire times after after_ms, as cron_next_times. Returns 0 and *ret_found,
 * or the first error of the three (a bad expression or zone: IQ_E_INVALID
 * with the field error on "cron" or "timezone"; a count out of range:
 * IQ_E_INVALID with a field error on "count").
 */
int cron_preview(const char *text, const char *zone_name, int64_t after_ms, size_t count,
                 int64_t *ret_times, size_t *ret_found, struct iq_error *err);

/* ---- placeholders (cron_template.c) ------------------------------------- */

/*
 * cron_template_expand - template with {date} (YYYYMMDD), {time} (HHMMSS)
 * and {datetime} (YYYYMMDDTHHMMSS) replaced by fire, a fire time on the
 * schedule's clocks (cron_zone_local_time), and {{ by a literal '{'.
 * Every other '{' is an error, so a misspelt placeholder is not copied
 * into a path; a '}' alone is literal. At most CRON_MAX_TEMPLATE_OUT bytes
 * in and out. Returns 0 and *ret_text (caller frees), or IQ_E_INVALID with
 * err's message ("unknown placeholder {day} at position 7: use {date},
 * {time} or {datetime}"), or IQ_E_NOMEM. To check a template without a
 * time, expand it with any time and free the result.
 */
int cron_template_expand(const char *template_text, const struct cron_local_time *fire,
                         char **ret_text, struct iq_error *err);

#endif
