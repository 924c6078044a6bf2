/*
 * backoff.c - exponential backoff with full jitter, and the per-thread
 * random draw it uses. See backoff.h.
 */
#include "engine/backoff.h"

#include <math.h>

int64_t retry_backoff_ceiling_ms(int64_t base_ms, int64_t cap_ms, int attempt)
{
    if (base_ms <= 0)
        return 0;
    if (cap_ms <= 0)
        cap_ms = INT64_MAX / 2;
    int64_t ceiling = base_ms < cap_ms ? base_ms : cap_ms;
    /* Double (attempt - 1) times, stopping at the cap: no overflow. */
    for (int i = 1; i < attempt && ceiling < cap_ms; i++)
        ceiling = ceiling > cap_ms / 2 ? cap_ms : ceiling * 2;
    return ceiling;
}

int64_t retry_backoff_ms(int64_t base_ms, int64_t cap_ms, int attempt, double unit)
{
    int64_t ceiling = retry_backoff_ceiling_ms(base_ms, cap_ms, attempt);
    if (!(unit > 0.0)) /* also catches NaN */
        return 0;
    if (unit >= 1.0)
        return ceiling;
    int64_t delay = (int64_t)llround(unit * (double)ceiling);
    return delay < 0 ? 0 : delay > ceiling ? ceiling : delay;
}

void backoff_random_seed(struct backoff_random *rng, uint64_t seed)
{
    rng->state = seed ? seed : UINT64_C(0x9E3779B97F4A7C15);
}

double backoff_random_unit(struct backoff_random *rng)
{
    uint64_t x = rng->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->state = x;
    uint64_t bits = (x * UINT64_C(0x2545F4914F6CDD1D)) >> 11; /* 53 bits */
    return (double)bits / (double)(UINT64_C(1) << 53);
}
