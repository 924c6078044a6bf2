/*
 * recommend.h - what history suggests an operator change, each with the
 * evidence behind it (GET /api/v2/import-performance/recommendations).
 * Rules are pure functions over a window's attempts and lock holds
 * (core/perf.h) and the cluster's max_concurrent: no I/O, no clock. The
 * thresholds are a struct so tests (and one day the configuration) can
 * set them; recommend_thresholds_default gives the documented ones.
 */
#ifndef IMPORTQ_CORE_RECOMMEND_H
#define IMPORTQ_CORE_RECOMMEND_H

#include "core/error.h"
#include "core/perf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct recommend_thresholds {
    int64_t queue_wait_ms;   /* a median wait (queued + dependency) this long is worth a word */
    double idle_share;       /* slots idle at least this share of the waiting time: a bottleneck */
    double busy_share;       /* slots busy at least this share of it: too few slots */
    double cause_share;      /* a cause (locks, dependencies) explains this share of the waits */
    double slowdown;         /* a table's later median work this many times its earlier one */
    int64_t min_samples;     /* attempts each half of the window needs for a trend */
    int64_t contention_waits;/* waits of one schedule on another's job worth a word */
    double reject_rate;      /* rows rejected / rows read of a table worth a word */
    int64_t reject_min_rows; /* rows read a table needs for its reject rate to count */
};

/* recommend_thresholds_default - 60 s, 0.5, 0.9, 0.5, 2.0, 5, 3, 0.1, 100. */
struct recommend_thresholds recommend_thresholds_default(void);

/* What the rules look at. */
struct recommend_input {
    const struct perf_attempts *attempts;  /* the window's attempts */
    const struct lock_holds *holds;        /* the window's lock holds */
    int max_concurrent;                    /* the cluster's slots */
    int64_t since_ms, until_ms;            /* the window */
    const struct recommend_thresholds *thresholds; /* NULL: the defaults */
};

/* One recommendation. */
struct recommendation {
    char *kind;       /* owned: "lock_bottleneck", "dependency_bottleneck",
                         "raise_max_concurrent", "table_slower",
                         "offset_schedules", "high_reject_rate" */
    char *message;    /* owned: one sentence for a person */
    json_t *evidence; /* owned reference: the figures behind it */
};

struct recommendation_list {
    struct recommendation *items; /* owned */
    size_t count;
    size_t capacity;
};

void recommendation_list_clear(struct recommendation_list *list);

/*
 * recommend - every rule over in, in a fixed order (the queue rules, the
 * slower tables by name, the schedule pairs by waits, the reject rates by
 * name). *ret: recommendation_list_clear (also after a failure). 0 or
 * IQ_E_NOMEM.
 */
int recommend(const struct recommend_input *in, struct recommendation_list *ret,
              struct iq_error *err);

/*
 * recommend_busy_share - the share of max_concurrent's slots that were
 * busy (an attempt's work running) during the attempts' waits (queued
 * and dependency_wait, ending at their claims), weighted by the waits'
 * lengths; -1 when nothing waited. Exposed for tests.
 */
double recommend_busy_share(const struct perf_attempts *attempts, int max_concurrent);

#endif
