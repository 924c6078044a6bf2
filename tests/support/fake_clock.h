/*
 * fake_clock.h - a clock for tests that stands still until the test moves
 * it: give &clock->clock to store_options.clock or engine_options.clock,
 * then fake_clock_advance instead of sleeping until a lease, heartbeat,
 * rescue deadline, backoff or node timeout has passed. Thread-safe (one
 * atomic), so an engine's threads may read it while the test advances it.
 * Header-only, so unit tests use it without the store fixture.
 */
#ifndef IMPORTQ_TESTS_FAKE_CLOCK_H
#define IMPORTQ_TESTS_FAKE_CLOCK_H

#include "core/clock.h"

#include <stdatomic.h>
#include <stdint.h>

/* Where every fake clock starts: 2030-01-01T00:00:00Z, after any real
 * time the tests run at, so UUIDv7 ids made on it keep their timestamps. */
#define FAKE_CLOCK_START_MS INT64_C(1893456000000)

struct fake_clock {
    struct iq_clock clock; /* hand this out; ctx is the fake_clock */
    _Atomic int64_t now_ms;
};

static inline int64_t fake_clock_now_cb(void *ctx)
{
    return atomic_load(&((struct fake_clock *)ctx)->now_ms);
}

/* fake_clock_init - at FAKE_CLOCK_START_MS. */
static inline void fake_clock_init(struct fake_clock *fc)
{
    fc->clock.now_ms = fake_clock_now_cb;
    fc->clock.ctx = fc;
    atomic_init(&fc->now_ms, FAKE_CLOCK_START_MS);
}

/* fake_clock_now - the time it reads now. */
static inline int64_t fake_clock_now(struct fake_clock *fc)
{
    return atomic_load(&fc->now_ms);
}

/* fake_clock_advance - move it ms forward (negative: back, as a clock
 * step would); returns the new time. */
static inline int64_t fake_clock_advance(struct fake_clock *fc, int64_t ms)
{
    return atomic_fetch_add(&fc->now_ms, ms) + ms;
}

#endif
