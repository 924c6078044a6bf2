/*
 * cron_template.c - the placeholders of a scheduled job's source path:
 * {date} {time} {datetime} replaced by the fire time as the schedule's
 * clocks read it (core/cron.h, cron_template_expand). Pure text work:
 * what the fire time is, in which zone, is the caller's (cron_zone.c).
 */
#include "core/cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLACEHOLDER_HINT "use {date}, {time} or {datetime}, and {{ for a literal '{'"

/* A longest placeholder name worth quoting in an error. */
#define MAX_QUOTED_NAME 32

/* unknown_placeholder - the error for the '{' at template_text[at]. */
static int unknown_placeholder(struct iq_error *err, char *out, const char *template_text,
                               size_t at)
{
    free(out);
    const char *close =
        memchr(template_text + at, '}', strnlen(template_text + at, MAX_QUOTED_NAME + 2));
    if (close)
        return iq_error_set(err, IQ_E_INVALID, "unknown placeholder %.*s at position %zu: %s",
                            (int)(close - (template_text + at) + 1), template_text + at, at + 1,
                            PLACEHOLDER_HINT);
    return iq_error_set(err, IQ_E_INVALID, "'{' at position %zu starts no placeholder: %s", at + 1,
                        PLACEHOLDER_HINT);
}

int cron_template_expand(const char *template_text, const struct cron_local_time *fire,
                         char **ret_text, struct iq_error *err)
{
    if (!template_text)
        return iq_error_set(err, IQ_E_INVALID, "the template is missing");
    if (strnlen(template_text, CRON_MAX_TEMPLATE_OUT + 1) > CRON_MAX_TEMPLATE_OUT)
        return iq_error_set(err, IQ_E_INVALID, "longer than %d bytes", CRON_MAX_TEMPLATE_OUT);
    char date[16], time[16], datetime[32];
    snprintf(date, sizeof(date), "%04d%02d%02d", fire->year % 10000, fire->month % 100,
             fire->day % 100);
    snprintf(time, sizeof(time), "%02d%02d%02d", fire->hour % 100, fire->minute % 100,
             fire->second % 100);
    snprintf(datetime, sizeof(datetime), "%sT%s", date, time);
    static const char *const names[] = {"{date}", "{time}", "{datetime}"};
    const char *values[] = {date, time, datetime};
    char *out = malloc(CRON_MAX_TEMPLATE_OUT + 1);
    if (!out)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory expanding a template");
    size_t used = 0;
    for (size_t i = 0; template_text[i];) {
        const char *piece = template_text + i;
        size_t piece_length = 1, advance = 1;
        if (template_text[i] == '{' && template_text[i + 1] == '{') {
            advance = 2;
        } else if (template_text[i] == '{') {
            size_t n = 0;
            while (n < 3 && strncmp(template_text + i, names[n], strlen(names[n])) != 0)
                n++;
            if (n == 3)
                return unknown_placeholder(err, out, template_text, i);
            piece = values[n];
            piece_length = strlen(values[n]);
            advance = strlen(names[n]);
        }
        if (used + piece_length > CRON_MAX_TEMPLATE_OUT) {
            free(out);
            return iq_error_set(err, IQ_E_INVALID, "expands to more than %d bytes",
                                CRON_MAX_TEMPLATE_OUT);
        }
        memcpy(out + used, piece, piece_length);
        used += piece_length;
        i += advance;
    }
    out[used] = '\0';
    *ret_text = out;
    return 0;
}
