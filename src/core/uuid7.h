/*
 * uuid7.h - time-ordered UUIDv7 identifiers (RFC 9562) for jobs, locks,
 * schedules and uploads. Ids created by one process are strictly increasing;
 * across processes they are ordered by millisecond.
 */
#ifndef IMPORTQ_CORE_UUID7_H
#define IMPORTQ_CORE_UUID7_H

#include <stdbool.h>
#include <stdint.h>

/* 36 characters plus NUL. */
#define UUID_STR_LEN 37

/*
 * uuid7_generate - write a new lower-case UUIDv7 into out. Thread-safe:
 * a process-wide counter keeps ids monotonic within one millisecond.
 */
void uuid7_generate(char out[UUID_STR_LEN]);

/* uuid7_generate_at - the same for a given unix time in ms (tests). */
void uuid7_generate_at(int64_t unix_ms, char out[UUID_STR_LEN]);

/* uuid_is_valid - true for the canonical 8-4-4-4-12 hex form (any version). */
bool uuid_is_valid(const char *text);

#endif
