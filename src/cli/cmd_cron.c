/*
 * cmd_cron.c - `importq cron 'EXPR'`: the next fire times of a cron
 * expression (or a one-off RFC 3339 time) in a time zone, as the schedule
 * preview of the API answers them (GET /api/v2/scheduled-imports/preview).
 * Needs no server and no database: the work is core/cron.h's.
 */
#include "cli/cli.h"
#include "core/cron.h"
#include "core/timeutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRON_DEFAULT_COUNT 5

const struct cli_flag cmd_cron_flags[] = {
    {"tz", true, "IANA time zone of the schedule (default UTC), e.g. Europe/Zurich"},
    {"count", true, "how many fire times, 1-100 (default 5)"},
    {"after", true, "list fire times after this RFC 3339 time (default now)"},
    {"json", false, "print {\"times\": [...]} with UTC times, as the API's preview"},
    {NULL, false, NULL},
};

/* utc_text - "2026-03-29T01:00:00Z" (fire times are whole seconds). */
static const char *utc_text(int64_t ms, char buf[TIME_RFC3339_LEN])
{
    time_format_rfc3339(ms, buf);
    memcpy(buf + 19, "Z", 2); /* drops ".mmm" */
    return buf;
}

static int print_json(const int64_t *times, size_t found)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < found; i++) {
        char text[TIME_RFC3339_LEN];
        json_array_append_new(list, json_string(time_format_rfc3339(times[i], text)));
    }
    json_t *answer = list ? json_pack("{s:o}", "times", list) : NULL;
    char *dump = answer ? json_dumps(answer, JSON_INDENT(2)) : NULL;
    json_decref(answer);
    if (!dump) {
        fprintf(stderr, "importq cron: out of memory\n");
        return 1;
    }
    printf("%s\n", dump);
    free(dump);
    return 0;
}

/* print_table - one line per fire time: local time with offset, weekday, UTC. */
static int print_table(const char *zone_name, const int64_t *times, size_t found, int64_t after_ms)
{
    static const char *const weekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    struct iq_error err = {0};
    struct cron_zone *zone = NULL;
    if (cron_zone_open(zone_name, &zone, &err) < 0) {
        fprintf(stderr, "importq cron: %s\n", iq_error_message(&err));
        iq_error_clear(&err);
        return 1;
    }
    char header[CRON_MAX_ZONE_LEN + 16];
    snprintf(header, sizeof(header), "LOCAL (%s)", cron_zone_name(zone));
    if (found > 0)
        printf("%-25s  %-3s  %s\n", header, "DAY", "UTC");
    int exit_code = 0;
    for (size_t i = 0; i < found && exit_code == 0; i++) {
        struct cron_local_time local;
        char local_text[CRON_LOCAL_RFC3339_LEN], utc[TIME_RFC3339_LEN];
        if (cron_zone_local_time(zone, times[i], &local, &err) < 0) {
            fprintf(stderr, "importq cron: %s\n", iq_error_message(&err));
            exit_code = 1;
            break;
        }
        printf("%-25s  %-3s  %s\n", cron_local_format_rfc3339(&local, local_text),
               weekdays[local.weekday % 7], utc_text(times[i], utc));
    }
    if (found == 0) {
        char utc[TIME_RFC3339_LEN];
        printf("no fire time after %s\n", time_format_rfc3339(after_ms, utc));
    }
    iq_error_clear(&err);
    cron_zone_free(zone);
    return exit_code;
}

/* read_flags - --count and --after; 0 or EXIT_USAGE after printing why. */
static int read_flags(const struct command *cmd, const struct cli_args *args, size_t *ret_count,
                      int64_t *ret_after_ms)
{
    const char *count_text = cli_flag_value(cmd, args, "count");
    int64_t count = CRON_DEFAULT_COUNT;
    if (count_text &&
        (config_parse_int(count_text, &count) < 0 || count < 1 || count > CRON_MAX_COUNT)) {
        fprintf(stderr, "importq cron: --count needs an integer from 1 to %d\n", CRON_MAX_COUNT);
        return EXIT_USAGE;
    }
    const char *after = cli_flag_value(cmd, args, "after");
    *ret_after_ms = time_now_ms();
    if (after && time_parse_rfc3339(after, ret_after_ms) < 0) {
        fprintf(stderr,
                "importq cron: --after needs an RFC 3339 time such as 2026-12-01T02:00:00Z\n");
        return EXIT_USAGE;
    }
    *ret_count = (size_t)count;
    return 0;
}

int cmd_cron(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    (void)cfg;
    if (args->positional_count != 1) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    size_t count;
    int64_t after_ms;
    int exit_code = read_flags(cmd, args, &count, &after_ms);
    if (exit_code != 0)
        return exit_code;
    const char *zone_name = cli_flag_value(cmd, args, "tz");
    int64_t times[CRON_MAX_COUNT];
    size_t found = 0;
    struct iq_error err = {0};
    if (cron_preview(args->positional[0], zone_name, after_ms, count, times, &found, &err) < 0) {
        fprintf(stderr, "importq: %s\n", iq_error_message(&err)); /* "cron: hour: ..." */
        int code = err.code == IQ_E_INVALID ? EXIT_USAGE : 1;     /* as a bad spec */
        iq_error_clear(&err);
        return code;
    }
    if (cli_flag_given(cmd, args, "json"))
        return print_json(times, found);
    return print_table(zone_name, times, found, after_ms);
}
