/*
 * metrics.h - an in-process metrics registry (counters, gauges,
 * histograms) and its Prometheus text exposition (format 0.0.4).
 *
 * A family is registered once, at start-up, with every label's values
 * fixed up front (a route table, a list of outcomes): a series is then
 * picked by the index of each label value, so the label sets stay
 * bounded and an update is a few atomic adds - no lock, no allocation,
 * no string work on the hot path. Values are read without a lock when
 * written out, so a scrape taken during updates may see a histogram's
 * _sum a step apart from its buckets; each bucket, the _count and every
 * counter is itself exact and never goes backwards.
 *
 * No globals: whoever measures holds the registry (STYLE.md: pass a
 * context). A NULL registry registers NULL families, and every update on
 * a NULL family does nothing: "no metrics" costs the caller one branch.
 *
 * Not for: what importq measures (engine/engine_metrics.c and
 * api/routes_metrics.c register their families), serving HTTP.
 */
#ifndef IMPORTQ_CORE_METRICS_H
#define IMPORTQ_CORE_METRICS_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRIC_LABELS_MAX 3
#define METRIC_BUCKETS_MAX 24
#define METRIC_SERIES_MAX 16384  /* label value combinations of one family */
#define METRICS_FAMILIES_MAX 128 /* families of one registry */

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

/* One label and every value it may take (distinct). The array is copied
 * by metrics_register; the strings are not: they must outlive the
 * registry. */
struct metric_label {
    const char *name;
    const char *const *values;
    size_t value_count;
};

/* What metrics_register needs to know of a family. Strings are not
 * copied: they must outlive the registry (string literals, a const table);
 * the desc itself need not. */
struct metric_desc {
    const char *name; /* a counter's ends in _total */
    const char *help; /* one line */
    enum metric_type type;
    struct metric_label labels[METRIC_LABELS_MAX];
    size_t label_count;
    const double *buckets; /* histograms: upper bounds, ascending, finite; +Inf is implied */
    size_t bucket_count;
    bool show_zero; /* write every series, also those never updated (small label sets
                       whose zeros matter to rate()); otherwise only updated ones */
};

struct metrics;
struct metric_family;

/* metrics_new - an empty registry (free with metrics_free). 0 or IQ_E_NOMEM. */
int metrics_new(struct metrics **ret_metrics, struct iq_error *err);

/* metrics_free - free the registry and its families. NULL-safe. Nobody may
 * update a family after this. */
void metrics_free(struct metrics *metrics);

/*
 * metrics_register - add a family. Thread-safe against concurrent updates
 * and writes. With metrics NULL: 0 and *ret_family NULL (updates on it do
 * nothing). IQ_E_INVALID with err set for a bad name (not
 * [a-zA-Z_:][a-zA-Z0-9_:]*, a counter not ending in _total, taken),
 * bad label (name, no values, "le" on a histogram, more than
 * METRIC_LABELS_MAX), bad buckets, or more than METRIC_SERIES_MAX series;
 * IQ_E_NOMEM. The family belongs to the registry. Registering the same
 * desc (the same pointer) again gives the family registered first: a
 * family two layers update is registered by each of them.
 */
int metrics_register(struct metrics *metrics, const struct metric_desc *desc,
                     struct metric_family **ret_family, struct iq_error *err);

/*
 * The updates. label_index holds one index into each label's values, in
 * the order of desc->labels (NULL for a family without labels). An index
 * out of range, a NULL family or the wrong kind of family drops the
 * update. Lock-free and allocation-free; safe from any thread.
 */
void metric_counter_add(struct metric_family *family, const unsigned *label_index, uint64_t n);
void metric_gauge_set(struct metric_family *family, const unsigned *label_index, double value);
void metric_histogram_observe(struct metric_family *family, const unsigned *label_index,
                              double value);

/* metric_counter_value - a counter series' current value (0 for a NULL
 * family or a bad index); for tests and derived figures. */
uint64_t metric_counter_value(const struct metric_family *family, const unsigned *label_index);

/*
 * metrics_write - the registry in the Prometheus text format 0.0.4: per
 * family a # HELP and a # TYPE line, then its series (counters as
 * name_total, histograms as cumulative name_bucket{le=...} ending in
 * le="+Inf", name_sum and name_count). Label values and help text are
 * escaped. 0 and a malloc'd NUL-terminated text (*ret_len bytes; the
 * caller frees it), or IQ_E_NOMEM.
 */
int metrics_write(struct metrics *metrics, char **ret_text, size_t *ret_len, struct iq_error *err);

/* The content type of what metrics_write produces. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
