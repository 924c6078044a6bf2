/*
 * perf.c - the aggregates of performance records (perf.h): attempts by
 * target table, lock holds by resource, nearest-rank percentiles. Pure:
 * the rows come from the store, the window from the caller.
 */
#include "core/perf.h"

#include <stdlib.h>
#include <string.h>

static const char *const phase_names[PERF_PHASE_COUNT] = {
#define PERF_PHASE_NAME(name, text) text,
    PERF_PHASES(PERF_PHASE_NAME)
#undef PERF_PHASE_NAME
};

const char *perf_phase_name(enum perf_phase phase)
{
    return phase >= 0 && phase < PERF_PHASE_COUNT ? phase_names[phase] : "unknown";
}

int perf_phase_from_name(const char *name)
{
    for (int i = 0; name && i < PERF_PHASE_COUNT; i++)
        if (strcmp(phase_names[i], name) == 0)
            return i;
    return -1;
}

int64_t perf_attempt_work_ms(const struct perf_attempt *a)
{
    int64_t total = 0;
    for (int i = 0; i < PERF_WORK_PHASES; i++)
        total += a->phase_ms[i];
    return total;
}

bool perf_attempt_counts(const struct perf_attempt *a)
{
    return a->outcome[0] == '\0' || strcmp(a->outcome, "COMPLETED") == 0;
}

/* grow - room for one more item of size in *items (doubling). */
static int grow(void **items, size_t *capacity, size_t count, size_t size)
{
    if (count < *capacity)
        return 0;
    size_t next = *capacity ? *capacity * 2 : 64;
    void *bigger = realloc(*items, next * size);
    if (!bigger)
        return IQ_E_NOMEM;
    *items = bigger;
    *capacity = next;
    return 0;
}

int perf_attempts_add(struct perf_attempts *list, const struct perf_attempt *a)
{
    if (grow((void **)&list->items, &list->capacity, list->count, sizeof(*list->items)) < 0)
        return IQ_E_NOMEM;
    struct perf_attempt *copy = &list->items[list->count];
    *copy = *a;
    copy->table = strdup(a->table ? a->table : "");
    if (!copy->table)
        return IQ_E_NOMEM;
    list->count++;
    return 0;
}

void perf_attempts_clear(struct perf_attempts *list)
{
    for (size_t i = 0; list && i < list->count; i++)
        free(list->items[i].table);
    if (list) {
        free(list->items);
        memset(list, 0, sizeof(*list));
    }
}

int64_t perf_percentile(const int64_t *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    double rank = p * (double)n - 1e-9; /* 0.95 * 20 is 19, not a hair above */
    size_t k = rank > 0 ? (size_t)rank : 0;
    if ((double)k < rank)
        k++; /* ceil */
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return sorted[k - 1];
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct perf_quantiles perf_quantiles_of(int64_t *values, size_t n)
{
    qsort(values, n, sizeof(*values), compare_int64);
    return (struct perf_quantiles){perf_percentile(values, n, 0.50),
                                   perf_percentile(values, n, 0.95),
                                   perf_percentile(values, n, 0.99)};
}

/* ------------------------------------------------------------------------
 * Attempts by table
 * ------------------------------------------------------------------------ */

static int compare_attempt_table(const void *a, const void *b)
{
    const struct perf_attempt *const *x = a, *const *y = b;
    return strcmp((*x)->table, (*y)->table);
}

static int64_t mean_of(const int64_t *values, size_t n)
{
    if (n == 0)
        return 0;
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += (double)values[i];
    return (int64_t)(total / (double)n + 0.5);
}

/*
 * table_stats - the aggregates of the n attempts of group (one table);
 * scratch holds n values at least. 0 or IQ_E_NOMEM.
 */
static int table_stats(const struct perf_attempt *const *group, size_t n, int64_t *scratch,
                       struct perf_table_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->table = strdup(group[0]->table);
    if (!ret->table)
        return IQ_E_NOMEM;
    double rows = 0, work_ms = 0;
    size_t counted = 0;
    for (size_t i = 0; i < n; i++) {
        const struct perf_attempt *a = group[i];
        ret->attempts++;
        ret->completed += strcmp(a->outcome, "COMPLETED") == 0;
        ret->failed += strcmp(a->outcome, "FAILED") == 0;
        ret->cancelled += strcmp(a->outcome, "CANCELLED") == 0;
        ret->rows_read += a->rows_read;
        ret->rows_rejected += a->rows_rejected;
        ret->bytes_read += a->bytes_read;
        if (perf_attempt_counts(a)) {
            int64_t work = perf_attempt_work_ms(a);
            scratch[counted++] = work;
            rows += (double)a->rows_read;
            work_ms += (double)work;
        }
    }
    ret->counted = (int64_t)counted;
    ret->duration_mean_ms = mean_of(scratch, counted);
    ret->duration_ms = perf_quantiles_of(scratch, counted);
    ret->rows_per_s = work_ms > 0 ? rows * 1000.0 / work_ms : 0;
    for (int p = 0; p < PERF_PHASE_COUNT; p++) {
        bool work = p < PERF_WORK_PHASES;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (!work || perf_attempt_counts(group[i]))
                scratch[m++] = group[i]->phase_ms[p];
        ret->phase_mean_ms[p] = mean_of(scratch, m);
        ret->phase_ms[p] = perf_quantiles_of(scratch, m);
    }
    return 0;
}

int perf_report_build(const struct perf_attempts *attempts, struct perf_report *ret,
                      struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    ret->attempts = (int64_t)attempts->count;
    ret->truncated = attempts->truncated;
    if (attempts->count == 0)
        return 0;
    size_t n = attempts->count;
    const struct perf_attempt **order = malloc(n * sizeof(*order));
    int64_t *scratch = malloc(n * sizeof(*scratch));
    ret->tables = calloc(n, sizeof(*ret->tables));
    int rc = order && scratch && ret->tables ? 0 : IQ_E_NOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++)
        order[i] = &attempts->items[i];
    if (rc == 0)
        qsort(order, n, sizeof(*order), compare_attempt_table);
    for (size_t start = 0; rc == 0 && start < n;) {
        size_t end = start + 1;
        while (end < n && strcmp(order[end]->table, order[start]->table) == 0)
            end++;
        rc = table_stats(order + start, end - start, scratch, &ret->tables[ret->count]);
        if (rc == 0)
            ret->count++;
        start = end;
    }
    free(order);
    free(scratch);
    return rc < 0 ? iq_error_set(err, rc, "out of memory") : 0;
}

void perf_report_clear(struct perf_report *report)
{
    for (size_t i = 0; report && i < report->count; i++)
        free(report->tables[i].table);
    if (report) {
        free(report->tables);
        memset(report, 0, sizeof(*report));
    }
}

/* ------------------------------------------------------------------------
 * Holds by resource
 * ------------------------------------------------------------------------ */

int lock_holds_add(struct lock_holds *list, const struct lock_hold *h)
{
    if (grow((void **)&list->items, &list->capacity, list->count, sizeof(*list->items)) < 0)
        return IQ_E_NOMEM;
    struct lock_hold *copy = &list->items[list->count];
    *copy = *h;
    copy->name = strdup(h->name ? h->name : "");
    copy->schedule = h->schedule ? strdup(h->schedule) : NULL;
    copy->blocker_schedule = h->blocker_schedule ? strdup(h->blocker_schedule) : NULL;
    if (!copy->name || (h->schedule && !copy->schedule) ||
        (h->blocker_schedule && !copy->blocker_schedule)) {
        free(copy->name);
        free(copy->schedule);
        free(copy->blocker_schedule);
        return IQ_E_NOMEM;
    }
    list->count++;
    return 0;
}

void lock_holds_clear(struct lock_holds *list)
{
    for (size_t i = 0; list && i < list->count; i++) {
        free(list->items[i].name);
        free(list->items[i].schedule);
        free(list->items[i].blocker_schedule);
    }
    if (list) {
        free(list->items);
        memset(list, 0, sizeof(*list));
    }
}

static int compare_hold_name(const void *a, const void *b)
{
    const struct lock_hold *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* top_insert - keep the RESOURCE_TOP_WAITS longest waits, longest first. */
static void top_insert(struct resource_stats *stats, const struct lock_hold *h)
{
    size_t at = stats->top_count;
    while (at > 0 && stats->top[at - 1].waited_ms < h->waited_ms)
        at--;
    if (at >= RESOURCE_TOP_WAITS)
        return;
    size_t last = stats->top_count < RESOURCE_TOP_WAITS ? stats->top_count : RESOURCE_TOP_WAITS - 1;
    memmove(&stats->top[at + 1], &stats->top[at], (last - at) * sizeof(stats->top[0]));
    struct resource_wait *w = &stats->top[at];
    memcpy(w->job_id, h->job_id, sizeof(w->job_id));
    memcpy(w->blocked_by, h->blocked_by, sizeof(w->blocked_by));
    w->attempt = h->attempt;
    w->waited_ms = h->waited_ms;
    w->acquired_at_ms = h->acquired_at_ms;
    if (stats->top_count < RESOURCE_TOP_WAITS)
        stats->top_count++;
}

/* resource_stats_of - the aggregates of the n holds of group (one name). */
static int resource_stats_of(const struct lock_hold *const *group, size_t n, int64_t *scratch,
                             struct resource_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->name = strdup(group[0]->name);
    if (!ret->name)
        return IQ_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        int64_t hold = group[i]->released_at_ms - group[i]->acquired_at_ms;
        scratch[i] = hold > 0 ? hold : 0;
        ret->hold_total_ms += scratch[i];
    }
    ret->locks = (int64_t)n;
    ret->hold_ms = perf_quantiles_of(scratch, n);
    size_t waits = 0;
    for (size_t i = 0; i < n; i++) {
        if (group[i]->waited_ms <= 0)
            continue;
        scratch[waits++] = group[i]->waited_ms;
        ret->wait_total_ms += group[i]->waited_ms;
        top_insert(ret, group[i]);
    }
    ret->waits = (int64_t)waits;
    ret->wait_ms = perf_quantiles_of(scratch, waits);
    return 0;
}

int resource_report_build(const struct lock_holds *holds, struct resource_report *ret,
                          struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    ret->truncated = holds->truncated;
    size_t n = holds->count;
    if (n == 0)
        return 0;
    const struct lock_hold **order = malloc(n * sizeof(*order));
    int64_t *scratch = malloc(n * sizeof(*scratch));
    ret->items = calloc(n, sizeof(*ret->items));
    int rc = order && scratch && ret->items ? 0 : IQ_E_NOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++)
        order[i] = &holds->items[i];
    if (rc == 0)
        qsort(order, n, sizeof(*order), compare_hold_name);
    for (size_t start = 0; rc == 0 && start < n;) {
        size_t end = start + 1;
        while (end < n && strcmp(order[end]->name, order[start]->name) == 0)
            end++;
        rc = resource_stats_of(order + start, end - start, scratch, &ret->items[ret->count]);
        if (rc == 0)
            ret->count++;
        start = end;
    }
    free(order);
    free(scratch);
    return rc < 0 ? iq_error_set(err, rc, "out of memory") : 0;
}

void resource_report_clear(struct resource_report *report)
{
    for (size_t i = 0; report && i < report->count; i++)
        free(report->items[i].name);
    if (report) {
        free(report->items);
        memset(report, 0, sizeof(*report));
    }
}
