/*
 * perf.h - performance records as the analytics read them: an attempt
 * summed up from its stg_import_performance rows (its phases and its
 * waits), a lock hold from importq_lock_history, and the aggregates built
 * from them (per target table, per resource) with nearest-rank
 * percentiles. Pure functions over arrays: no I/O, no clock; the store
 * reads the rows (store/common/perf.c), the API and the recommendations
 * (core/recommend.c) use the aggregates.
 */
#ifndef IMPORTQ_CORE_PERF_H
#define IMPORTQ_CORE_PERF_H

#include "core/error.h"
#include "core/uuid7.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The rows an attempt leaves in stg_import_performance. The first four
 * are its work, one after the other; the waits come before the work and
 * overlap: lock_wait is a part of queued. */
#define PERF_PHASES(X)                 \
    X(READ, "read")                    \
    X(STAGE, "stage")                  \
    X(VALIDATE, "validate")            \
    X(PROMOTE, "promote")              \
    X(QUEUED, "queued")                \
    X(LOCK_WAIT, "lock_wait")          \
    X(DEPENDENCY_WAIT, "dependency_wait")

enum perf_phase {
#define PERF_PHASE_ENUM(name, text) PERF_##name,
    PERF_PHASES(PERF_PHASE_ENUM)
#undef PERF_PHASE_ENUM
    PERF_PHASE_COUNT
};
#define PERF_WORK_PHASES 4 /* read .. promote */

/* perf_phase_name - "read" .. "dependency_wait". */
const char *perf_phase_name(enum perf_phase phase);

/* perf_phase_from_name - the phase, or -1 for a name that is none. */
int perf_phase_from_name(const char *name);

/* One attempt of a job, as its rows sum it up. */
struct perf_attempt {
    char *table;                        /* owned: the target table */
    char job_id[UUID_STR_LEN];
    int attempt;
    char outcome[16];                   /* "COMPLETED", "FAILED", "CANCELLED"; "" unknown */
    int64_t claimed_at_ms;              /* when its work began (the claim) */
    int64_t phase_ms[PERF_PHASE_COUNT];
    int64_t rows_read;
    int64_t bytes_read;
    int64_t rows_rejected;
};

/* perf_attempt_work_ms - read + stage + validate + promote. */
int64_t perf_attempt_work_ms(const struct perf_attempt *a);

/* perf_attempt_counts - whether the attempt's work counts in durations:
 * it completed (or its outcome is unknown: rows from before outcomes). */
bool perf_attempt_counts(const struct perf_attempt *a);

struct perf_attempts {
    struct perf_attempt *items;         /* owned */
    size_t count;
    size_t capacity;
    bool truncated;                     /* more attempts matched than were read */
};

/* perf_attempts_add - append a copy of a (its table copied). 0 or IQ_E_NOMEM. */
int perf_attempts_add(struct perf_attempts *list, const struct perf_attempt *a);
void perf_attempts_clear(struct perf_attempts *list);

/* Nearest-rank percentiles of a set of durations. */
struct perf_quantiles {
    int64_t p50;
    int64_t p95;
    int64_t p99;
};

/*
 * perf_percentile - the nearest-rank p-quantile (0 < p <= 1) of the n
 * ascending values: the ceil(p * n)-th smallest. 0 when n is 0. The one
 * rule every percentile of the API follows, on both backends (SQLite has
 * no percentile_cont, and PostgreSQL's interpolates).
 */
int64_t perf_percentile(const int64_t *sorted, size_t n, double p);

/* perf_quantiles_of - p50, p95, p99 of n values (sorted in place). */
struct perf_quantiles perf_quantiles_of(int64_t *values, size_t n);

/* The aggregates of one target table over a window. */
struct perf_table_stats {
    char *table;                        /* owned */
    int64_t attempts;                   /* every attempt */
    int64_t completed, failed, cancelled;
    int64_t counted;                    /* attempts whose work counts (perf_attempt_counts) */
    struct perf_quantiles duration_ms;  /* work of the counted attempts */
    int64_t duration_mean_ms;
    double rows_per_s;                  /* rows read / work seconds of the counted attempts */
    int64_t rows_read;
    int64_t rows_rejected;
    int64_t bytes_read;
    /* Per phase: the work phases over the counted attempts, the waits
     * over every attempt. */
    struct perf_quantiles phase_ms[PERF_PHASE_COUNT];
    int64_t phase_mean_ms[PERF_PHASE_COUNT];
};

struct perf_report {
    struct perf_table_stats *tables;    /* owned, by table name */
    size_t count;
    int64_t attempts;                   /* every attempt read */
    bool truncated;                     /* the attempts read were not all of the window */
};

/*
 * perf_report_build - the per-table aggregates of attempts (any order),
 * by table name. *ret: perf_report_clear (also after a failure).
 * Returns 0 or IQ_E_NOMEM.
 */
int perf_report_build(const struct perf_attempts *attempts, struct perf_report *ret,
                      struct iq_error *err);
void perf_report_clear(struct perf_report *report);

/* One lock held and released (a row of importq_lock_history). */
struct lock_hold {
    char *name;                         /* owned: the resource */
    bool exclusive;
    char job_id[UUID_STR_LEN];
    int attempt;
    int64_t acquired_at_ms;
    int64_t released_at_ms;
    int64_t waited_ms;                  /* how long the holder waited for it */
    char blocked_by[UUID_STR_LEN];      /* the job it waited on; "" none */
    char *schedule;                     /* owned: the holder's schedule name; NULL none */
    char *blocker_schedule;             /* owned: blocked_by's schedule name; NULL none */
};

struct lock_holds {
    struct lock_hold *items;            /* owned */
    size_t count;
    size_t capacity;
    bool truncated;
};

/* lock_holds_add - append a copy of h (its strings copied). 0 or IQ_E_NOMEM. */
int lock_holds_add(struct lock_holds *list, const struct lock_hold *h);
void lock_holds_clear(struct lock_holds *list);

#define RESOURCE_TOP_WAITS 5

/* A wait for a resource: who waited, how long, on whom. */
struct resource_wait {
    char job_id[UUID_STR_LEN];
    int attempt;
    int64_t waited_ms;
    int64_t acquired_at_ms;
    char blocked_by[UUID_STR_LEN];      /* "" when unknown */
};

/* The aggregates of one resource over a window. */
struct resource_stats {
    char *name;                         /* owned */
    int64_t locks;                      /* holds released in the window */
    int64_t hold_total_ms;
    struct perf_quantiles hold_ms;
    int64_t waits;                      /* holds that had to wait */
    int64_t wait_total_ms;
    struct perf_quantiles wait_ms;      /* over the holds that waited */
    struct resource_wait top[RESOURCE_TOP_WAITS]; /* longest waits, longest first */
    size_t top_count;
};

struct resource_report {
    struct resource_stats *items;       /* owned, by name */
    size_t count;
    bool truncated;
};

/*
 * resource_report_build - the per-resource aggregates of holds. *ret:
 * resource_report_clear (also after a failure). 0 or IQ_E_NOMEM.
 */
int resource_report_build(const struct lock_holds *holds, struct resource_report *ret,
                          struct iq_error *err);
void resource_report_clear(struct resource_report *report);

#endif
