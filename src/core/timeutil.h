/*
 * timeutil.h - wall-clock time as int64 milliseconds since the Unix epoch
 * (UTC), and RFC 3339 conversion. 0 stands for "no time" wherever a time is
 * optional (a job never scheduled, never started).
 */
#ifndef IMPORTQ_CORE_TIMEUTIL_H
#define IMPORTQ_CORE_TIMEUTIL_H

#include <stdint.h>

/* "2026-11-28T21:31:03.123Z" plus NUL fits in this. */
#define TIME_RFC3339_LEN 32

/* time_now_ms - current UTC time in milliseconds. */
int64_t time_now_ms(void);

/* time_monotonic_ms - a monotonic clock for measuring durations. */
int64_t time_monotonic_ms(void);

/*
 * time_format_rfc3339 - write ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf.
 * Returns buf.
 */
char *time_format_rfc3339(int64_t ms, char buf[TIME_RFC3339_LEN]);

/*
 * time_parse_rfc3339 - parse an RFC 3339 date-time ("2026-12-01T02:00:00Z",
 * fractional seconds and +hh:mm offsets allowed; a space may replace the T;
 * "+00" style short offsets as PostgreSQL prints them are accepted).
 * Calendar validity is checked (2024-02-30 fails).
 * Returns 0 and *ret_ms, or IQ_E_INVALID.
 */
int time_parse_rfc3339(const char *text, int64_t *ret_ms);

/* time_days_from_civil - days since 1970-01-01 for a proleptic Gregorian date. */
int64_t time_days_from_civil(int64_t year, unsigned month, unsigned day);

/* time_civil_from_days - the proleptic Gregorian date of a day count since 1970-01-01. */
void time_civil_from_days(int64_t days, int64_t *ret_year, unsigned *ret_month, unsigned *ret_day);

/* time_days_in_month - 28..31, for month 1..12. */
unsigned time_days_in_month(int64_t year, unsigned month);

#endif
