/*
 * fuzz_cron.c - libFuzzer target for core/cron.h: the parser, the next
 * fire times and the placeholders. An input is read as
 *   byte 0      which zone (UTC, Europe/Zurich, America/New_York,
 *               Asia/Kathmandu, Australia/Lord_Howe), or the text after the
 *               first '\n' as a zone name when bit 7 is set
 *   bytes 1-4   the start time: seconds into 2026 (up to ~136 years on)
 *   the rest    up to a '\n': the expression, also used as a template
 * Any accepted expression must give fire times that are strictly
 * increasing, after the start, and (in UTC) matching the expression;
 * anything else aborts. Crashes, sanitizer reports and hangs are
 * libFuzzer's to catch.
 *
 * Build and run: scripts/fuzz.sh [seconds] (clang, -fsanitize=fuzzer).
 */
#include "core/cron.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define START_2026_MS 1767225600000LL

static void die(const char *what, const char *text)
{
    fprintf(stderr, "fuzz_cron: %s: \"%s\"\n", what, text);
    abort();
}

/* check_times - the next few fire times of expr after start_ms in zone. */
static void check_times(const struct cron_expr *expr, const char *text, struct cron_zone *zone,
                        bool utc, int64_t start_ms)
{
    struct iq_error err = {0};
    int64_t at = start_ms;
    for (int i = 0; i < 4; i++) {
        int64_t next = 0;
        int rc = cron_next_after(expr, at, zone, &next, &err);
        iq_error_clear(&err);
        if (rc == IQ_E_NOT_FOUND)
            break;
        if (rc != 0)
            die("cron_next_after failed", text);
        if (next <= at || (!expr->is_once && next % 1000 != 0))
            die("fire time not after the start or not a whole second", text);
        if (utc && !expr->is_once && !cron_matches_local(expr, next / 1000))
            die("UTC fire time does not match", text);
        struct cron_local_time local;
        if (cron_zone_local_time(zone, next, &local, &err) != 0)
            die("no local time for a fire time", text);
        char *expanded = NULL;
        if (cron_template_expand(text, &local, &expanded, &err) == 0 &&
            strlen(expanded) > CRON_MAX_TEMPLATE_OUT)
            die("template output over its bound", text);
        free(expanded);
        iq_error_clear(&err);
        at = next;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const zones[] = {"UTC", "Europe/Zurich", "America/New_York",
                                        "Asia/Kathmandu", "Australia/Lord_Howe"};
    if (size < 5 || size > 2 * CRON_MAX_EXPR_LEN)
        return 0;
    char text[2 * CRON_MAX_EXPR_LEN + 1];
    memcpy(text, data + 5, size - 5);
    text[size - 5] = '\0';
    char *zone_name = (char *)zones[data[0] % 5];
    char *newline = strchr(text, '\n');
    if (newline) {
        *newline = '\0';
        if (data[0] & 0x80)
            zone_name = newline + 1;
    }
    uint32_t offset_s =
        (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4];
    int64_t start_ms = START_2026_MS + (int64_t)offset_s * 1000;

    struct iq_error err = {0};
    struct cron_expr expr;
    struct cron_zone *zone = NULL;
    int parsed = cron_parse(text, &expr, &err);
    if (parsed != 0 && (parsed != IQ_E_INVALID || !err.message))
        die("a refusal without IQ_E_INVALID and a message", text);
    iq_error_clear(&err);
    if (cron_zone_open(zone_name, &zone, &err) != 0) {
        iq_error_clear(&err);
        return 0;
    }
    if (parsed == 0)
        check_times(&expr, text, zone, strcmp(cron_zone_name(zone), "UTC") == 0, start_ms);
    cron_zone_free(zone);
    return 0;
}
