/*
 * metrics.c - the registry of metrics.h and its text exposition.
 *
 * Each family is one flat array of atomics, a series per combination of
 * label values (mixed radix, the last label fastest). A histogram keeps
 * per series one non-cumulative count per bucket (the last is +Inf) and
 * its sum as the bits of a double, added to by compare-and-swap; the
 * writer makes the buckets cumulative and takes _count from their total,
 * so _count always equals the +Inf bucket.
 *
 * Locking: the registry's mutex guards the family list (registration,
 * and the writer's copy of it); the values are atomics and take no lock.
 * A family lives until metrics_free.
 */
#include "core/metrics.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRIC_NUMBER_LEN 32 /* "%.17g" of any double, and its NUL */

struct metric_family {
    struct metric_desc desc;
    const struct metric_desc *origin; /* the desc it was registered with */
    size_t series_count;
    size_t slots_per_series;                      /* counters, gauges: 1; histograms: buckets + 1 */
    _Atomic uint64_t *values;                     /* series_count * slots_per_series: counts, or a
                                                     gauge's double bits */
    _Atomic uint64_t *sums;                       /* histograms: a double's bits per series */
    atomic_bool *set;                             /* gauges: the series was set */
    const char **label_values[METRIC_LABELS_MAX]; /* copies of desc.labels[i].values */
    char le_text[METRIC_BUCKETS_MAX][METRIC_NUMBER_LEN]; /* histograms: each bound, written */
};

struct metrics {
    pthread_mutex_t mutex;
    struct metric_family *families[METRICS_FAMILIES_MAX];
    size_t family_count;
};

int metrics_new(struct metrics **ret_metrics, struct iq_error *err)
{
    struct metrics *m = calloc(1, sizeof(*m));
    if (!m || pthread_mutex_init(&m->mutex, NULL) != 0) {
        free(m);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    *ret_metrics = m;
    return 0;
}

static void family_free(struct metric_family *f)
{
    if (!f)
        return;
    free(f->values);
    free(f->sums);
    free(f->set);
    for (size_t i = 0; i < METRIC_LABELS_MAX; i++)
        free(f->label_values[i]);
    free(f);
}

void metrics_free(struct metrics *metrics)
{
    if (!metrics)
        return;
    for (size_t i = 0; i < metrics->family_count; i++)
        family_free(metrics->families[i]);
    pthread_mutex_destroy(&metrics->mutex);
    free(metrics);
}

/* format_double - Go's way of writing a float, as Prometheus reads it:
 * NaN, +Inf, -Inf, else the shortest of %.15g and %.17g that reads back.
 * Returns buf. */
static const char *format_double(double value, char buf[METRIC_NUMBER_LEN])
{
    if (isnan(value))
        return "NaN";
    if (isinf(value))
        return value > 0 ? "+Inf" : "-Inf";
    snprintf(buf, METRIC_NUMBER_LEN, "%.15g", value);
    if (strtod(buf, NULL) != value)
        snprintf(buf, METRIC_NUMBER_LEN, "%.17g", value);
    return buf;
}

/* ---- registration ---- */

static bool valid_name(const char *name, bool colon_ok)
{
    if (!name || !*name || isdigit((unsigned char)name[0]))
        return false;
    for (const char *c = name; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_' || (colon_ok && *c == ':')))
            return false;
    return true;
}

static bool ends_with(const char *text, const char *suffix)
{
    size_t n = strlen(text), k = strlen(suffix);
    return n >= k && strcmp(text + n - k, suffix) == 0;
}

/* check_desc - metrics_register's checks; the series count in *ret_series. */
static int check_desc(const struct metric_desc *d, size_t *ret_series, struct iq_error *err)
{
    if (!valid_name(d->name, true))
        return iq_error_set(err, IQ_E_INVALID, "metric name \"%s\" is not [a-zA-Z_:][a-zA-Z0-9_:]*",
                            d->name ? d->name : "");
    if (d->type == METRIC_COUNTER && !ends_with(d->name, "_total"))
        return iq_error_set(err, IQ_E_INVALID, "counter %s: the name must end in _total", d->name);
    if (d->label_count > METRIC_LABELS_MAX)
        return iq_error_set(err, IQ_E_INVALID, "%s: more than %d labels", d->name,
                            METRIC_LABELS_MAX);
    size_t series = 1;
    for (size_t i = 0; i < d->label_count; i++) {
        const struct metric_label *l = &d->labels[i];
        if (!valid_name(l->name, false) || strncmp(l->name, "__", 2) == 0 ||
            (d->type == METRIC_HISTOGRAM && strcmp(l->name, "le") == 0))
            return iq_error_set(err, IQ_E_INVALID, "%s: bad label name \"%s\"", d->name,
                                l->name ? l->name : "");
        if (l->value_count == 0 || !l->values)
            return iq_error_set(err, IQ_E_INVALID, "%s: label %s has no values", d->name, l->name);
        for (size_t v = 0; v < l->value_count; v++)
            if (!l->values[v])
                return iq_error_set(err, IQ_E_INVALID, "%s: label %s has a NULL value", d->name,
                                    l->name);
        if (l->value_count > METRIC_SERIES_MAX / series)
            return iq_error_set(err, IQ_E_INVALID, "%s: more than %d series", d->name,
                                METRIC_SERIES_MAX);
        series *= l->value_count;
    }
    if (d->type == METRIC_HISTOGRAM) {
        if (d->bucket_count == 0 || d->bucket_count > METRIC_BUCKETS_MAX || !d->buckets)
            return iq_error_set(err, IQ_E_INVALID, "histogram %s: 1 to %d buckets", d->name,
                                METRIC_BUCKETS_MAX);
        for (size_t b = 0; b < d->bucket_count; b++)
            if (!isfinite(d->buckets[b]) || (b > 0 && d->buckets[b] <= d->buckets[b - 1]))
                return iq_error_set(err, IQ_E_INVALID,
                                    "histogram %s: buckets must be finite and ascending", d->name);
    }
    *ret_series = series;
    return 0;
}

static struct metric_family *family_new(const struct metric_desc *desc, size_t series)
{
    struct metric_family *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->desc = *desc;
    f->series_count = series;
    f->slots_per_series = desc->type == METRIC_HISTOGRAM ? desc->bucket_count + 1 : 1;
    f->values = calloc(series * f->slots_per_series, sizeof(*f->values));
    if (desc->type == METRIC_HISTOGRAM)
        f->sums = calloc(series, sizeof(*f->sums));
    if (desc->type == METRIC_GAUGE)
        f->set = calloc(series, sizeof(*f->set));
    for (size_t b = 0; desc->type == METRIC_HISTOGRAM && b < desc->bucket_count; b++) {
        char number[METRIC_NUMBER_LEN];
        snprintf(f->le_text[b], METRIC_NUMBER_LEN, "%s", format_double(desc->buckets[b], number));
    }
    for (size_t i = 0; i < desc->label_count; i++) {
        const struct metric_label *l = &desc->labels[i];
        f->label_values[i] = malloc(l->value_count * sizeof(*f->label_values[i]));
        if (!f->label_values[i]) {
            family_free(f);
            return NULL;
        }
        memcpy(f->label_values[i], l->values, l->value_count * sizeof(*f->label_values[i]));
        f->desc.labels[i].values = f->label_values[i];
    }
    if (!f->values || (desc->type == METRIC_HISTOGRAM && !f->sums) ||
        (desc->type == METRIC_GAUGE && !f->set)) {
        family_free(f);
        return NULL;
    }
    return f;
}

int metrics_register(struct metrics *metrics, const struct metric_desc *desc,
                     struct metric_family **ret_family, struct iq_error *err)
{
    *ret_family = NULL;
    if (!metrics)
        return 0;
    size_t series = 0;
    int rc = check_desc(desc, &series, err);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&metrics->mutex);
    for (size_t i = 0; i < metrics->family_count && rc == 0; i++) {
        struct metric_family *known = metrics->families[i];
        if (strcmp(known->desc.name, desc->name) != 0)
            continue;
        if (known->origin == desc) { /* one family that two layers update */
            pthread_mutex_unlock(&metrics->mutex);
            *ret_family = known;
            return 0;
        }
        rc = iq_error_set(err, IQ_E_INVALID, "metric %s is registered already", desc->name);
    }
    if (rc == 0 && metrics->family_count >= METRICS_FAMILIES_MAX)
        rc = iq_error_set(err, IQ_E_INVALID, "more than %d metric families", METRICS_FAMILIES_MAX);
    struct metric_family *f = rc == 0 ? family_new(desc, series) : NULL;
    if (rc == 0 && !f)
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    if (rc == 0) {
        f->origin = desc;
        metrics->families[metrics->family_count++] = f;
    }
    pthread_mutex_unlock(&metrics->mutex);
    *ret_family = f;
    return rc;
}

/* ---- updates ---- */

/* series_of - the series a label index picks, or SIZE_MAX when out of range. */
static size_t series_of(const struct metric_family *f, const unsigned *label_index)
{
    size_t series = 0;
    for (size_t i = 0; i < f->desc.label_count; i++) {
        if (!label_index || label_index[i] >= f->desc.labels[i].value_count)
            return SIZE_MAX;
        series = series * f->desc.labels[i].value_count + label_index[i];
    }
    return series;
}

static uint64_t double_bits(double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof(bits));
    return bits;
}

static double bits_double(uint64_t bits)
{
    double value;
    memcpy(&value, &bits, sizeof(value));
    return value;
}

void metric_counter_add(struct metric_family *family, const unsigned *label_index, uint64_t n)
{
    if (!family || family->desc.type != METRIC_COUNTER)
        return;
    size_t s = series_of(family, label_index);
    if (s != SIZE_MAX)
        atomic_fetch_add_explicit(&family->values[s], n, memory_order_relaxed);
}

void metric_gauge_set(struct metric_family *family, const unsigned *label_index, double value)
{
    if (!family || family->desc.type != METRIC_GAUGE)
        return;
    size_t s = series_of(family, label_index);
    if (s == SIZE_MAX)
        return;
    atomic_store_explicit(&family->values[s], double_bits(value), memory_order_relaxed);
    atomic_store_explicit(&family->set[s], true, memory_order_relaxed);
}

void metric_histogram_observe(struct metric_family *family, const unsigned *label_index,
                              double value)
{
    if (!family || family->desc.type != METRIC_HISTOGRAM || isnan(value))
        return;
    size_t s = series_of(family, label_index);
    if (s == SIZE_MAX)
        return;
    size_t b = 0;
    while (b < family->desc.bucket_count && value > family->desc.buckets[b])
        b++;
    atomic_fetch_add_explicit(&family->values[s * family->slots_per_series + b], 1,
                              memory_order_relaxed);
    _Atomic uint64_t *sum = &family->sums[s];
    uint64_t old = atomic_load_explicit(sum, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(sum, &old, double_bits(bits_double(old) + value),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

uint64_t metric_counter_value(const struct metric_family *family, const unsigned *label_index)
{
    if (!family || family->desc.type != METRIC_COUNTER)
        return 0;
    size_t s = series_of(family, label_index);
    return s == SIZE_MAX ? 0
                         : atomic_load_explicit(&((struct metric_family *)family)->values[s],
                                                memory_order_relaxed);
}

/* ---- the text format ---- */

/* write_escaped - text with \ and newline escaped, and " too in a label value. */
static void write_escaped(FILE *out, const char *text, bool quote)
{
    for (const char *c = text; *c; c++) {
        if (*c == '\\')
            fputs("\\\\", out);
        else if (*c == '\n')
            fputs("\\n", out);
        else if (quote && *c == '"')
            fputs("\\\"", out);
        else
            fputc(*c, out);
    }
}

/* write_labels - {a="x",b="y"} of series s, with le="..." appended when
 * le is not NULL (histogram buckets); nothing at all without labels. */
static void write_labels(FILE *out, const struct metric_family *f, size_t s, const char *le)
{
    size_t count = f->desc.label_count;
    if (count == 0 && !le)
        return;
    unsigned index[METRIC_LABELS_MAX] = {0};
    for (size_t i = count; i-- > 0;) {
        index[i] = (unsigned)(s % f->desc.labels[i].value_count);
        s /= f->desc.labels[i].value_count;
    }
    fputc('{', out);
    for (size_t i = 0; i < count; i++) {
        fprintf(out, "%s%s=\"", i ? "," : "", f->desc.labels[i].name);
        write_escaped(out, f->desc.labels[i].values[index[i]], true);
        fputc('"', out);
    }
    if (le)
        fprintf(out, "%sle=\"%s\"", count ? "," : "", le);
    fputc('}', out);
}

static void write_histogram_series(FILE *out, struct metric_family *f, size_t s)
{
    uint64_t counts[METRIC_BUCKETS_MAX + 1];
    uint64_t total = 0;
    for (size_t b = 0; b < f->slots_per_series; b++) {
        counts[b] =
            atomic_load_explicit(&f->values[s * f->slots_per_series + b], memory_order_relaxed);
        total += counts[b];
    }
    if (total == 0 && !f->desc.show_zero && f->desc.label_count > 0)
        return;
    uint64_t cumulative = 0;
    for (size_t b = 0; b < f->slots_per_series; b++) {
        cumulative += counts[b];
        const char *le = b < f->desc.bucket_count ? f->le_text[b] : "+Inf";
        fprintf(out, "%s_bucket", f->desc.name);
        write_labels(out, f, s, le);
        fprintf(out, " %" PRIu64 "\n", cumulative);
    }
    fprintf(out, "%s_sum", f->desc.name);
    write_labels(out, f, s, NULL);
    char number[METRIC_NUMBER_LEN];
    fputc(' ', out);
    fputs(
        format_double(bits_double(atomic_load_explicit(&f->sums[s], memory_order_relaxed)), number),
        out);
    fprintf(out, "\n%s_count", f->desc.name);
    write_labels(out, f, s, NULL);
    fprintf(out, " %" PRIu64 "\n", total);
}

static void write_family(FILE *out, struct metric_family *f)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    fprintf(out, "# HELP %s ", f->desc.name);
    write_escaped(out, f->desc.help ? f->desc.help : "", false);
    fprintf(out, "\n# TYPE %s %s\n", f->desc.name, type_names[f->desc.type]);
    bool every = f->desc.show_zero || f->desc.label_count == 0;
    for (size_t s = 0; s < f->series_count; s++) {
        if (f->desc.type == METRIC_HISTOGRAM) {
            write_histogram_series(out, f, s);
            continue;
        }
        uint64_t bits = atomic_load_explicit(&f->values[s], memory_order_relaxed);
        bool touched = f->desc.type == METRIC_COUNTER
                           ? bits != 0
                           : atomic_load_explicit(&f->set[s], memory_order_relaxed);
        if (!touched && !every)
            continue;
        fputs(f->desc.name, out);
        write_labels(out, f, s, NULL);
        if (f->desc.type == METRIC_COUNTER) {
            fprintf(out, " %" PRIu64 "\n", bits);
        } else {
            char number[METRIC_NUMBER_LEN];
            fputc(' ', out);
            fputs(format_double(bits_double(bits), number), out);
            fputc('\n', out);
        }
    }
}

int metrics_write(struct metrics *metrics, char **ret_text, size_t *ret_len, struct iq_error *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    if (metrics) {
        /* The list under the mutex, the values without it: families are
         * only ever added, so concurrent scrapes do not queue up. */
        struct metric_family *families[METRICS_FAMILIES_MAX];
        pthread_mutex_lock(&metrics->mutex);
        size_t count = metrics->family_count;
        memcpy(families, metrics->families, count * sizeof(families[0]));
        pthread_mutex_unlock(&metrics->mutex);
        for (size_t i = 0; i < count; i++)
            write_family(out, families[i]);
    }
    if (fclose(out) != 0 || !text) {
        free(text);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    *ret_text = text;
    *ret_len = len;
    return 0;
}
