/*
 * clock.c - the injectable clock's one function: ask the given clock, or
 * the real one. See clock.h.
 */
#include "core/clock.h"

#include "core/timeutil.h"

int64_t iq_clock_now_ms(const struct iq_clock *clock)
{
    if (!clock)
        return time_now_ms();
    return clock->now_ms(clock->ctx);
}
