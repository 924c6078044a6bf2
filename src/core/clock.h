/*
 * clock.h - where "what time is it" and policy randomness come from, so
 * tests can inject them (as SQLite's VFS has xCurrentTimeInt64 and
 * xRandomness): a test advances a fake clock instead of sleeping, and pins
 * a retry's jitter instead of bounding it.
 *
 * A NULL clock or random pointer everywhere means the real one. Only wall
 * time is injected: how long a thread waits (poll periods, condition
 * timeouts, time_monotonic_ms durations) stays real time.
 * Not for: formatting or parsing times (timeutil.h).
 */
#ifndef IMPORTQ_CORE_CLOCK_H
#define IMPORTQ_CORE_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * struct iq_clock - now_ms returns UTC milliseconds since the Unix epoch.
 * It is called from any thread that uses the clock's owner (every store
 * connection and engine thread given it), so it must be thread-safe.
 * ctx is the caller's and must outlive every user of the clock.
 */
struct iq_clock {
    int64_t (*now_ms)(void *ctx);
    void *ctx;
};

/*
 * struct iq_random - unit returns a draw uniform in [0, 1) for policy
 * (retry-backoff jitter). Called from several threads at once: it must be
 * thread-safe. ctx as for iq_clock.
 */
struct iq_random {
    double (*unit)(void *ctx);
    void *ctx;
};

/* iq_clock_now_ms - clock's time, or time_now_ms() when clock is NULL. */
int64_t iq_clock_now_ms(const struct iq_clock *clock);

/* iq_clock_is_real - true for NULL (the real clock). */
static inline bool iq_clock_is_real(const struct iq_clock *clock)
{
    return clock == NULL;
}

#endif
