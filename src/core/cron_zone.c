/*
 * cron_zone.c - fire times in an IANA time zone: the zone as an ICU
 * calendar (unicode/ucal.h; C's TZ is process-wide and not thread-safe),
 * local times of UTC instants, and the next fire time of a schedule under
 * the DST rules of core/cron.h. The calendar search itself is cron.c's
 * (cron_next_local); this file maps between local time and UTC.
 *
 * Not here: parsing (cron.c), placeholders (cron_template.c).
 */
#include "core/cron.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/utypes.h>

/* 9999-12-31T23:59:59.999Z: the last instant any function here takes. */
#define LAST_MS ((int64_t)253402300799999LL)

/* How far back a fall-back may move the clocks: a transition older than
 * this cannot have left local times later than now's. */
#define MAX_BACKWARD_MS ((int64_t)2 * 86400 * 1000)

/* A bound on the transitions one search crosses: CRON_SEARCH_YEARS years of
 * two DST changes a year, with room to spare. */
#define MAX_SEGMENTS 4096

struct cron_zone {
    UCalendar *calendar;
    char name[CRON_MAX_ZONE_LEN + 1];
};

static int zone_error(struct iq_error *err, const char *name, const char *why)
{
    iq_error_add_field(err, "timezone", "unknown time zone \"%s\"%s", name, why);
    return iq_error_set(err, IQ_E_INVALID, "timezone: unknown time zone \"%s\"%s", name, why);
}

/* to_uchars - ASCII name into an ICU string; false when name holds a
 * character no IANA zone name has. */
static bool to_uchars(const char *name, UChar *out, size_t size)
{
    size_t i = 0;
    for (; name[i]; i++) {
        char c = name[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '/' || c == '_' || c == '-' || c == '+';
        if (!ok || i + 1 >= size)
            return false;
        out[i] = (UChar)c;
    }
    out[i] = 0;
    return true;
}

/*
 * zone_id - name checked against ICU's zone list (where ucal_open alone
 * would fall back to GMT) into id. Returns 0 or IQ_E_INVALID.
 */
static int zone_id(const char *name, UChar id[CRON_MAX_ZONE_LEN + 1], struct iq_error *err)
{
    if (strnlen(name, CRON_MAX_ZONE_LEN + 1) > CRON_MAX_ZONE_LEN) {
        iq_error_add_field(err, "timezone", "longer than %d bytes", CRON_MAX_ZONE_LEN);
        return iq_error_set(err, IQ_E_INVALID, "timezone: longer than %d bytes", CRON_MAX_ZONE_LEN);
    }
    const char *hint = ": use an IANA name such as Europe/Zurich or UTC";
    if (!to_uchars(name, id, CRON_MAX_ZONE_LEN + 1))
        return zone_error(err, name, hint);
    UChar canonical[128];
    UBool is_system = 0;
    UErrorCode status = U_ZERO_ERROR;
    ucal_getCanonicalTimeZoneID(id, -1, canonical, 128, &is_system, &status);
    if (U_FAILURE(status) || !is_system)
        return zone_error(err, name, hint);
    return 0;
}

int cron_zone_check(const char *name, struct iq_error *err)
{
    UChar id[CRON_MAX_ZONE_LEN + 1];
    return zone_id(name && *name ? name : CRON_DEFAULT_ZONE, id, err);
}

int cron_zone_open(const char *name, struct cron_zone **ret_zone, struct iq_error *err)
{
    if (!name || !*name)
        name = CRON_DEFAULT_ZONE;
    UChar id[CRON_MAX_ZONE_LEN + 1];
    if (zone_id(name, id, err) < 0)
        return IQ_E_INVALID;
    struct cron_zone *zone = calloc(1, sizeof(*zone));
    if (!zone)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory opening time zone %s", name);
    strcpy(zone->name, name); /* fits: zone_id checked its length */
    UErrorCode status = U_ZERO_ERROR;
    zone->calendar = ucal_open(id, -1, "en_US_POSIX", UCAL_GREGORIAN, &status);
    if (U_FAILURE(status)) {
        cron_zone_free(zone);
        return iq_error_set(err, IQ_E_INTERNAL, "cannot open time zone %s: %s", name,
                            u_errorName(status));
    }
    /* The DST rules of fixed-hour schedules (core/cron.h): a skipped local
     * time is the first instant after the gap, a repeated one its first. */
    ucal_setAttribute(zone->calendar, UCAL_LENIENT, 1);
    ucal_setAttribute(zone->calendar, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_NEXT_VALID);
    ucal_setAttribute(zone->calendar, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);
    *ret_zone = zone;
    return 0;
}

void cron_zone_free(struct cron_zone *zone)
{
    if (!zone)
        return;
    if (zone->calendar)
        ucal_close(zone->calendar);
    free(zone);
}

const char *cron_zone_name(const struct cron_zone *zone)
{
    return zone->name;
}

/* ---- UTC and local time -------------------------------------------------- */

static int icu_error(struct iq_error *err, const struct cron_zone *zone, UErrorCode status)
{
    return iq_error_set(err, IQ_E_INTERNAL, "time zone %s: %s", zone->name, u_errorName(status));
}

/* offset_at - local minus UTC in ms at the instant utc_ms. */
static int offset_at(struct cron_zone *zone, int64_t utc_ms, int64_t *ret_offset_ms,
                     struct iq_error *err)
{
    UErrorCode status = U_ZERO_ERROR;
    ucal_setMillis(zone->calendar, (UDate)utc_ms, &status);
    int32_t raw = ucal_get(zone->calendar, UCAL_ZONE_OFFSET, &status);
    int32_t dst = ucal_get(zone->calendar, UCAL_DST_OFFSET, &status);
    if (U_FAILURE(status))
        return icu_error(err, zone, status);
    *ret_offset_ms = (int64_t)raw + dst;
    return 0;
}

/*
 * transition - the zone's offset change next after utc_ms (type
 * UCAL_TZ_TRANSITION_NEXT) or at or before it (_PREVIOUS_INCLUSIVE).
 * Returns 1 and *ret_ms, 0 when there is none, or IQ_E_INTERNAL.
 */
static int transition(struct cron_zone *zone, int64_t utc_ms, UTimeZoneTransitionType type,
                      int64_t *ret_ms, struct iq_error *err)
{
    UErrorCode status = U_ZERO_ERROR;
    ucal_setMillis(zone->calendar, (UDate)utc_ms, &status);
    UDate when = 0;
    UBool found = ucal_getTimeZoneTransitionDate(zone->calendar, type, &when, &status);
    if (U_FAILURE(status))
        return icu_error(err, zone, status);
    if (!found)
        return 0;
    *ret_ms = (int64_t)when;
    return 1;
}

/* floor_div - a / b rounded down (b > 0). */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int cron_zone_local_time(struct cron_zone *zone, int64_t utc_ms, struct cron_local_time *ret_local,
                         struct iq_error *err)
{
    if (utc_ms < 0 || utc_ms > LAST_MS)
        return iq_error_set(err, IQ_E_INVALID, "time out of range 1970..%d", CRON_MAX_YEAR);
    int64_t offset_ms;
    if (offset_at(zone, utc_ms, &offset_ms, err) < 0)
        return IQ_E_INTERNAL;
    int64_t wall_s = floor_div(utc_ms, 1000) + floor_div(offset_ms, 1000);
    int64_t days = floor_div(wall_s, 86400);
    int64_t rem = wall_s - days * 86400;
    int64_t year;
    unsigned month, day;
    time_civil_from_days(days, &year, &month, &day);
    if (year > CRON_MAX_YEAR) /* 9999-12-31 UTC is 10000 east of it */
        return iq_error_set(err, IQ_E_INVALID, "time out of range 1970..%d", CRON_MAX_YEAR);
    *ret_local = (struct cron_local_time){
        .year = (int)year,
        .month = (int)month,
        .day = (int)day,
        .hour = (int)(rem / 3600),
        .minute = (int)(rem / 60 % 60),
        .second = (int)(rem % 60),
        .weekday = (int)(((days + 4) % 7 + 7) % 7),
        .offset_s = (int)floor_div(offset_ms, 1000),
    };
    return 0;
}

char *cron_local_format_rfc3339(const struct cron_local_time *local,
                                char buf[CRON_LOCAL_RFC3339_LEN])
{
    int offset_min = (local->offset_s < 0 ? -local->offset_s : local->offset_s) / 60;
    snprintf(buf, CRON_LOCAL_RFC3339_LEN, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
             local->year % 10000, local->month % 13, local->day % 32, local->hour % 24,
             local->minute % 60, local->second % 60, local->offset_s < 0 ? '-' : '+',
             offset_min / 60 % 100, offset_min % 60);
    return buf;
}

/*
 * first_instant_at_or_after - the first instant whose local time is at or
 * after wall_s: the local time itself, its first occurrence when the
 * clocks repeat it, the end of the gap when they skip it (the calendar's
 * attributes, set in cron_zone_open).
 */
static int first_instant_at_or_after(struct cron_zone *zone, int64_t wall_s, int64_t *ret_ms,
                                     struct iq_error *err)
{
    int64_t days = floor_div(wall_s, 86400);
    int64_t rem = wall_s - days * 86400;
    int64_t year;
    unsigned month, day;
    time_civil_from_days(days, &year, &month, &day);
    UErrorCode status = U_ZERO_ERROR;
    ucal_clear(zone->calendar);
    ucal_setDateTime(zone->calendar, (int32_t)year, (int32_t)month - 1 + UCAL_JANUARY, (int32_t)day,
                     (int32_t)(rem / 3600), (int32_t)(rem / 60 % 60), (int32_t)(rem % 60), &status);
    UDate when = ucal_getMillis(zone->calendar, &status);
    if (U_FAILURE(status))
        return icu_error(err, zone, status);
    *ret_ms = (int64_t)when;
    return 0;
}

/*
 * latest_local_until - the latest local time (ms) the clocks have shown at
 * any instant up to after_ms: after_ms's own, or, when the clocks went
 * back shortly before it, the last moment before that transition.
 */
static int latest_local_until(struct cron_zone *zone, int64_t after_ms, int64_t *ret_wall_ms,
                              struct iq_error *err)
{
    int64_t offset_ms;
    if (offset_at(zone, after_ms, &offset_ms, err) < 0)
        return IQ_E_INTERNAL;
    int64_t latest = after_ms + offset_ms;
    int64_t base = after_ms;
    for (int i = 0; i < 8; i++) {
        int64_t when = 0;
        int found = transition(zone, base, UCAL_TZ_TRANSITION_PREVIOUS_INCLUSIVE, &when, err);
        if (found < 0)
            return found;
        if (!found || when < after_ms - MAX_BACKWARD_MS)
            break;
        if (offset_at(zone, when - 1, &offset_ms, err) < 0)
            return IQ_E_INTERNAL;
        if (when - 1 + offset_ms > latest)
            latest = when - 1 + offset_ms;
        base = when - 1;
    }
    *ret_wall_ms = latest;
    return 0;
}

static int not_found(struct iq_error *err, int64_t after_ms)
{
    char text[TIME_RFC3339_LEN];
    return iq_error_set(err, IQ_E_NOT_FOUND, "the schedule has no fire time after %s",
                        time_format_rfc3339(after_ms, text));
}

/*
 * next_fixed_hours - fixed-hour schedules: each matching local time W fires
 * at the first instant whose local time is >= W. That instant is after
 * after_ms exactly when W is later than every local time shown up to
 * after_ms, so the next fire is that of the first match past the latest.
 */
static int next_fixed_hours(const struct cron_expr *expr, int64_t after_ms, struct cron_zone *zone,
                            int64_t *ret_ms, struct iq_error *err)
{
    int64_t latest_ms = 0, wall_s = 0, fire_ms = 0;
    if (latest_local_until(zone, after_ms, &latest_ms, err) < 0)
        return IQ_E_INTERNAL;
    int rc = cron_next_local(expr, floor_div(latest_ms, 1000) + 1, &wall_s);
    if (rc < 0)
        return not_found(err, after_ms);
    if (first_instant_at_or_after(zone, wall_s, &fire_ms, err) < 0)
        return IQ_E_INTERNAL;
    if (fire_ms <= after_ms)
        return iq_error_set(err, IQ_E_INTERNAL, "time zone %s: fire time not after the start",
                            zone->name);
    *ret_ms = fire_ms;
    return 0;
}

/*
 * next_wildcard_hours - wildcard-hour schedules follow real time: the first
 * instant after after_ms whose local time matches. Between two transitions
 * the offset is fixed, so the first match of each such stretch is one
 * calendar search; a match past the stretch's end is tried again with the
 * next stretch's offset.
 */
static int next_wildcard_hours(const struct cron_expr *expr, int64_t after_ms,
                               struct cron_zone *zone, int64_t *ret_ms, struct iq_error *err)
{
    int64_t start_ms = floor_div(after_ms, 1000) * 1000 + 1000;
    for (int i = 0; i < MAX_SEGMENTS && start_ms <= LAST_MS; i++) {
        int64_t offset_ms = 0, wall_s = 0, end_ms = 0;
        if (offset_at(zone, start_ms, &offset_ms, err) < 0)
            return IQ_E_INTERNAL;
        int rc = cron_next_local(expr, floor_div(start_ms + offset_ms + 999, 1000), &wall_s);
        if (rc < 0)
            return not_found(err, after_ms);
        int64_t fire_ms = wall_s * 1000 - offset_ms;
        int found = transition(zone, start_ms, UCAL_TZ_TRANSITION_NEXT, &end_ms, err);
        if (found < 0)
            return found;
        if (!found || fire_ms < end_ms) {
            *ret_ms = fire_ms;
            return 0;
        }
        start_ms = end_ms;
    }
    return not_found(err, after_ms);
}

int cron_next_after(const struct cron_expr *expr, int64_t after_ms, struct cron_zone *zone,
                    int64_t *ret_next_ms, struct iq_error *err)
{
    if (after_ms < 0 || after_ms > LAST_MS)
        return iq_error_set(err, IQ_E_INVALID, "the start time is out of range 1970..%d",
                            CRON_MAX_YEAR);
    if (expr->is_once) {
        if (expr->once_ms <= after_ms)
            return not_found(err, after_ms);
        *ret_next_ms = expr->once_ms;
        return 0;
    }
    int64_t next_ms = 0;
    int rc = expr->hour_star ? next_wildcard_hours(expr, after_ms, zone, &next_ms, err)
                             : next_fixed_hours(expr, after_ms, zone, &next_ms, err);
    if (rc < 0)
        return rc;
    if (next_ms > LAST_MS)
        return not_found(err, after_ms);
    *ret_next_ms = next_ms;
    return 0;
}

int cron_next_times(const struct cron_expr *expr, int64_t after_ms, struct cron_zone *zone,
                    size_t count, int64_t *ret_times, size_t *ret_found, struct iq_error *err)
{
    if (count < 1 || count > CRON_MAX_COUNT) {
        iq_error_add_field(err, "count", "%zu out of range 1-%d", count, CRON_MAX_COUNT);
        return iq_error_set(err, IQ_E_INVALID, "count: %zu out of range 1-%d", count,
                            CRON_MAX_COUNT);
    }
    size_t found = 0;
    int64_t at = after_ms;
    while (found < count) {
        struct iq_error next_err = {0}; /* the end of the schedule is no error here */
        int rc = cron_next_after(expr, at, zone, &at, &next_err);
        if (rc < 0 && rc != IQ_E_NOT_FOUND)
            iq_error_set(err, rc, "%s", iq_error_message(&next_err));
        iq_error_clear(&next_err);
        if (rc == IQ_E_NOT_FOUND)
            break;
        if (rc < 0)
            return rc;
        ret_times[found++] = at;
    }
    *ret_found = found;
    return 0;
}

int cron_preview(const char *text, const char *zone_name, int64_t after_ms, size_t count,
                 int64_t *ret_times, size_t *ret_found, struct iq_error *err)
{
    struct cron_expr expr;
    struct cron_zone *zone = NULL;
    int rc = cron_parse(text, &expr, err);
    if (rc == 0)
        rc = cron_zone_open(zone_name, &zone, err);
    if (rc == 0)
        rc = cron_next_times(&expr, after_ms, zone, count, ret_times, ret_found, err);
    cron_zone_free(zone);
    return rc;
}
