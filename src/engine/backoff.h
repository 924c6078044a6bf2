/*
 * backoff.h - how long a failed attempt waits before the next one:
 * exponential backoff with full jitter (the delay is drawn uniformly from
 * [0, min(cap, base * 2^(attempt-1))]), so retries of many jobs that
 * failed together spread out instead of arriving in waves.
 *
 * retry_backoff_ms is a pure function of its inputs (the random draw comes
 * in as a number) so a table-driven test can pin it down; struct
 * backoff_random is a small per-thread generator for the draw. Not for:
 * deciding whether to retry at all (run_job.c does that).
 */
#ifndef IMPORTQ_ENGINE_BACKOFF_H
#define IMPORTQ_ENGINE_BACKOFF_H

#include <stdint.h>

/*
 * retry_backoff_ms - the delay before the attempt after attempt (1-based:
 * attempt 1 failed -> up to base_ms; attempt 2 -> up to 2 * base_ms; ...,
 * never above cap_ms). unit is the random draw in [0, 1] (clamped); the
 * result is round(unit * ceiling). base_ms <= 0 gives 0; cap_ms <= 0 means
 * no cap beyond overflow safety. Never negative, never overflows.
 */
int64_t retry_backoff_ms(int64_t base_ms, int64_t cap_ms, int attempt, double unit);

/* retry_backoff_ceiling_ms - the upper bound the jitter is drawn under. */
int64_t retry_backoff_ceiling_ms(int64_t base_ms, int64_t cap_ms, int attempt);

/*
 * struct backoff_random - xorshift64* state; one per thread (not
 * thread-safe by design: each thread owns its own, so no lock is needed).
 */
struct backoff_random {
    uint64_t state;
};

/* backoff_random_seed - any seed works (0 is replaced by a constant). */
void backoff_random_seed(struct backoff_random *rng, uint64_t seed);

/* backoff_random_unit - the next draw, uniform in [0, 1). */
double backoff_random_unit(struct backoff_random *rng);

#endif
