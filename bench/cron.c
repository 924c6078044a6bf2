/*
 * cron.c - what fire times cost (core/cron.h): N schedules (default
 * 10,000) drawn from a fixed mix of expressions and zones, each parsed,
 * then the next fire time of every one computed after the same instant,
 * ROUNDS times (default 20), in two ways: with one struct cron_zone per
 * zone kept open (as a scheduler thread would), and with a zone opened per
 * call (as cron_preview does). Prints one logfmt line with the mean time
 * per schedule of each, in microseconds, and the whole pass in ms.
 *
 *   bench_cron [N] [ROUNDS]
 *
 * Not for: a test (it asserts only that every call succeeds).
 */
#include "core/cron.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const expressions[] = {
    "*/15 * * * *", "0 2 * * *",        "30 2 * * mon-fri", "0 * * * *",   "0 0 1 * *",
    "0 0 L * *",    "0 9-17/2 * * 1-5", "@daily",           "0 0 13 * 5",  "*/20 * * * * *",
    "5 4 * * sun",  "0 0 29 2 *",       "0 12 1,15 * *",    "0 */6 * * *", "45 23 * * 6"};
static const char *const zones[] = {"UTC", "Europe/Zurich", "America/New_York", "Asia/Kolkata",
                                    "Australia/Sydney"};
#define ZONE_COUNT (sizeof(zones) / sizeof(zones[0]))
#define EXPR_COUNT (sizeof(expressions) / sizeof(expressions[0]))

static void die(const char *what, struct iq_error *err)
{
    fprintf(stderr, "bench_cron: %s: %s\n", what, iq_error_message(err));
    exit(1);
}

int main(int argc, char **argv)
{
    long count = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 20;
    if (count < 1 || rounds < 1) {
        fprintf(stderr, "usage: %s [N] [ROUNDS]\n", argv[0]);
        return 2;
    }
    struct iq_error err = {0};
    struct cron_expr *exprs = calloc((size_t)count, sizeof(*exprs));
    size_t *zone_of = calloc((size_t)count, sizeof(*zone_of));
    struct cron_zone *open_zones[ZONE_COUNT] = {0};
    if (!exprs || !zone_of)
        return 1;
    int64_t started = time_monotonic_ms();
    for (long i = 0; i < count; i++) {
        if (cron_parse(expressions[(size_t)i % EXPR_COUNT], &exprs[i], &err) < 0)
            die("parse", &err);
        zone_of[i] = (size_t)(i / (long)EXPR_COUNT) % ZONE_COUNT;
    }
    int64_t parse_ms = time_monotonic_ms() - started;
    for (size_t z = 0; z < ZONE_COUNT; z++)
        if (cron_zone_open(zones[z], &open_zones[z], &err) < 0)
            die("zone", &err);
    int64_t after_ms = 0, next_ms = 0;
    time_parse_rfc3339("2026-03-28T23:59:30Z", &after_ms); /* DST changes ahead */
    started = time_monotonic_ms();
    for (long r = 0; r < rounds; r++)
        for (long i = 0; i < count; i++)
            if (cron_next_after(&exprs[i], after_ms + r, open_zones[zone_of[i]], &next_ms, &err) <
                0)
                die("next", &err);
    int64_t kept_ms = time_monotonic_ms() - started;
    started = time_monotonic_ms();
    for (long r = 0; r < rounds; r++) {
        for (long i = 0; i < count; i++) {
            struct cron_zone *zone = NULL;
            if (cron_zone_open(zones[zone_of[i]], &zone, &err) < 0 ||
                cron_next_after(&exprs[i], after_ms + r, zone, &next_ms, &err) < 0)
                die("next", &err);
            cron_zone_free(zone);
        }
    }
    int64_t opened_ms = time_monotonic_ms() - started;
    double calls = (double)count * (double)rounds;
    printf("bench=cron schedules=%ld rounds=%ld parse_all_ms=%lld next_kept_zone_us=%.2f "
           "next_zone_per_call_us=%.2f pass_kept_zone_ms=%.1f pass_zone_per_call_ms=%.1f\n",
           count, rounds, (long long)parse_ms, (double)kept_ms * 1000.0 / calls,
           (double)opened_ms * 1000.0 / calls, (double)kept_ms / (double)rounds,
           (double)opened_ms / (double)rounds);
    for (size_t z = 0; z < ZONE_COUNT; z++)
        cron_zone_free(open_zones[z]);
    free(exprs);
    free(zone_of);
    return 0;
}
