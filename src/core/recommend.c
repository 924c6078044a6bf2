/*
 * recommend.c - the recommendation rules (recommend.h), one function per
 * rule, each over the window's attempts and lock holds:
 *   queue        jobs waited long (median of queued + dependency_wait):
 *                with every slot busy, raise max_concurrent; with slots
 *                idle, name what held them up (a resource, dependencies);
 *   slower       a table whose median work in the later half of the
 *                window is markedly longer than in the earlier half;
 *   schedules    jobs of one schedule waiting, again and again, for a
 *                lock held by another schedule's job: offset them;
 *   rejects      a table whose rows are rejected at a high rate.
 * Pure: no I/O, no clock.
 */
#include "core/recommend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A slower table's medians must differ by this much too (1 ms -> 3 ms is noise). */
#define SLOWER_MIN_DELTA_MS 1000

struct recommend_thresholds recommend_thresholds_default(void)
{
    return (struct recommend_thresholds){
        .queue_wait_ms = 60000,
        .idle_share = 0.5,
        .busy_share = 0.9,
        .cause_share = 0.5,
        .slowdown = 2.0,
        .min_samples = 5,
        .contention_waits = 3,
        .reject_rate = 0.1,
        .reject_min_rows = 100,
    };
}

void recommendation_list_clear(struct recommendation_list *list)
{
    for (size_t i = 0; list && i < list->count; i++) {
        free(list->items[i].kind);
        free(list->items[i].message);
        json_decref(list->items[i].evidence);
    }
    if (list) {
        free(list->items);
        memset(list, 0, sizeof(*list));
    }
}

/* add - append kind, the formatted message and evidence (stolen, even on failure). */
static int add(struct recommendation_list *list, const char *kind, json_t *evidence,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int add(struct recommendation_list *list, const char *kind, json_t *evidence,
               const char *fmt, ...)
{
    if (!evidence)
        return IQ_E_NOMEM;
    if (list->count == list->capacity) {
        size_t next = list->capacity ? list->capacity * 2 : 8;
        void *bigger = realloc(list->items, next * sizeof(*list->items));
        if (!bigger) {
            json_decref(evidence);
            return IQ_E_NOMEM;
        }
        list->items = bigger;
        list->capacity = next;
    }
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    struct recommendation *r = &list->items[list->count];
    r->kind = strdup(kind);
    r->message = strdup(message);
    r->evidence = evidence;
    if (!r->kind || !r->message) {
        free(r->kind);
        free(r->message);
        json_decref(evidence);
        return IQ_E_NOMEM;
    }
    list->count++;
    return 0;
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* median - of n values (sorted in place). */
static int64_t median(int64_t *values, size_t n)
{
    qsort(values, n, sizeof(*values), compare_int64);
    return perf_percentile(values, n, 0.5);
}

static double seconds(int64_t ms)
{
    return (double)ms / 1000.0;
}

static int64_t wait_of(const struct perf_attempt *a)
{
    return a->phase_ms[PERF_QUEUED] + a->phase_ms[PERF_DEPENDENCY_WAIT];
}

/* ------------------------------------------------------------------------
 * How busy the slots were while jobs waited
 * ------------------------------------------------------------------------ */

/* Sorted times and their prefix sums: sum_i min(t, x_i) in O(log n). */
struct sorted_times {
    int64_t *x;
    double *prefix; /* prefix[k] = x[0] + ... + x[k-1] */
    size_t n;
};

/* capped_sum - sum over i of min(t, x_i). */
static double capped_sum(const struct sorted_times *s, int64_t t)
{
    size_t lo = 0, hi = s->n; /* first index with x >= t */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->x[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return s->prefix[lo] + (double)(s->n - lo) * (double)t;
}

static int sorted_times_init(struct sorted_times *s, size_t n)
{
    s->n = n;
    s->x = malloc((n ? n : 1) * sizeof(*s->x));
    s->prefix = malloc((n + 1) * sizeof(*s->prefix));
    return s->x && s->prefix ? 0 : IQ_E_NOMEM;
}

static void sorted_times_finish(struct sorted_times *s)
{
    qsort(s->x, s->n, sizeof(*s->x), compare_int64);
    s->prefix[0] = 0;
    for (size_t i = 0; i < s->n; i++)
        s->prefix[i + 1] = s->prefix[i] + (double)s->x[i];
}

static void sorted_times_clear(struct sorted_times *s)
{
    free(s->x);
    free(s->prefix);
}

/*
 * recommend_busy_share - see recommend.h. The running count at t is the
 * number of runs [start, end) holding t, so its integral from 0 to t is
 * sum min(t, end_i) - sum min(t, start_i): two sorted arrays answer it
 * for any interval in O(log n).
 */
double recommend_busy_share(const struct perf_attempts *attempts, int max_concurrent)
{
    if (!attempts || attempts->count == 0 || max_concurrent <= 0)
        return -1;
    struct sorted_times starts, ends;
    size_t n = attempts->count;
    int rc = sorted_times_init(&starts, n);
    if (sorted_times_init(&ends, n) < 0)
        rc = IQ_E_NOMEM;
    double busy = 0, waited = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct perf_attempt *a = &attempts->items[i];
        starts.x[i] = a->claimed_at_ms;
        ends.x[i] = a->claimed_at_ms + perf_attempt_work_ms(a);
    }
    if (rc == 0) {
        sorted_times_finish(&starts);
        sorted_times_finish(&ends);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct perf_attempt *a = &attempts->items[i];
        int64_t to = a->claimed_at_ms, from = to - wait_of(a);
        if (from >= to)
            continue;
        busy += (capped_sum(&ends, to) - capped_sum(&starts, to)) -
                (capped_sum(&ends, from) - capped_sum(&starts, from));
        waited += (double)(to - from);
    }
    sorted_times_clear(&starts);
    sorted_times_clear(&ends);
    if (rc < 0 || waited <= 0)
        return -1;
    double share = busy / (waited * (double)max_concurrent);
    return share > 1 ? 1 : share < 0 ? 0 : share;
}

/* ------------------------------------------------------------------------
 * The queue: too few slots, or something else holding jobs up
 * ------------------------------------------------------------------------ */

/* most_waited_resource - the resource with the most wait time, or NULL. */
static const struct resource_stats *most_waited_resource(const struct resource_report *report)
{
    const struct resource_stats *best = NULL;
    for (size_t i = 0; i < report->count; i++)
        if (report->items[i].wait_total_ms > 0 &&
            (!best || report->items[i].wait_total_ms > best->wait_total_ms))
            best = &report->items[i];
    return best;
}

/* lock_bottleneck - slots idle, and the waits mostly for locks: name the resource. */
static int lock_bottleneck(const struct recommend_input *in, struct recommendation_list *list,
                           int64_t median_wait, double idle, double lock_share)
{
    struct resource_report report = {0};
    struct lock_holds none = {0};
    struct iq_error err = {0};
    int rc = resource_report_build(in->holds ? in->holds : &none, &report, &err);
    iq_error_clear(&err);
    const struct resource_stats *r = rc == 0 ? most_waited_resource(&report) : NULL;
    if (rc == 0 && r) {
        const struct resource_wait *top = &r->top[0];
        json_t *evidence = json_pack(
            "{s:I, s:f, s:f, s:s, s:I, s:I, s:I, s:{s:s, s:I, s:s?}}", "median_wait_ms",
            (json_int_t)median_wait, "idle_share", idle, "lock_wait_share", lock_share,
            "resource", r->name, "waits", (json_int_t)r->waits, "wait_total_ms",
            (json_int_t)r->wait_total_ms, "wait_p95_ms", (json_int_t)r->wait_ms.p95,
            "longest_wait", "job_id", top->job_id, "waited_ms", (json_int_t)top->waited_ms,
            "blocked_by", top->blocked_by[0] ? top->blocked_by : NULL);
        rc = add(list, "lock_bottleneck", evidence,
                 "Jobs waited a median of %.1f s while %.0f%% of the slots were idle, mostly for"
                 " locks: resource %s (%lld waits, p95 %.1f s). Shorten or split the jobs that"
                 " hold it, or make compatible ones take it shared.",
                 seconds(median_wait), idle * 100, r->name, (long long)r->waits,
                 seconds(r->wait_ms.p95));
    }
    resource_report_clear(&report);
    return rc;
}

/* dependency_bottleneck - slots idle, waits mostly for dependencies: name the table. */
static int dependency_bottleneck(const struct recommend_input *in,
                                 struct recommendation_list *list, int64_t median_wait,
                                 double idle, double dependency_share)
{
    struct perf_report report = {0};
    struct iq_error err = {0};
    int rc = perf_report_build(in->attempts, &report, &err);
    iq_error_clear(&err);
    const struct perf_table_stats *worst = NULL;
    for (size_t i = 0; rc == 0 && i < report.count; i++) {
        const struct perf_table_stats *t = &report.tables[i];
        if (!worst || t->phase_ms[PERF_DEPENDENCY_WAIT].p50 >
                          worst->phase_ms[PERF_DEPENDENCY_WAIT].p50)
            worst = t;
    }
    if (rc == 0 && worst) {
        json_t *evidence = json_pack(
            "{s:I, s:f, s:f, s:s, s:I, s:I}", "median_wait_ms", (json_int_t)median_wait,
            "idle_share", idle, "dependency_wait_share", dependency_share, "table", worst->table,
            "dependency_wait_p50_ms", (json_int_t)worst->phase_ms[PERF_DEPENDENCY_WAIT].p50,
            "attempts", (json_int_t)worst->attempts);
        rc = add(list, "dependency_bottleneck", evidence,
                 "Jobs waited a median of %.1f s while %.0f%% of the slots were idle, mostly for"
                 " their dependencies: imports into %s waited a median of %.1f s for theirs."
                 " Speed up or split what they depend on, or depend on less.",
                 seconds(median_wait), idle * 100, worst->table,
                 seconds(worst->phase_ms[PERF_DEPENDENCY_WAIT].p50));
    }
    perf_report_clear(&report);
    return rc;
}

static int rule_queue(const struct recommend_input *in, const struct recommend_thresholds *t,
                      struct recommendation_list *list)
{
    size_t n = in->attempts->count;
    if (n == 0)
        return 0;
    int64_t *waits = malloc(n * sizeof(*waits));
    if (!waits)
        return IQ_E_NOMEM;
    double total = 0, locks = 0, dependencies = 0;
    for (size_t i = 0; i < n; i++) {
        const struct perf_attempt *a = &in->attempts->items[i];
        waits[i] = wait_of(a);
        total += (double)waits[i];
        locks += (double)a->phase_ms[PERF_LOCK_WAIT];
        dependencies += (double)a->phase_ms[PERF_DEPENDENCY_WAIT];
    }
    int64_t median_wait = median(waits, n);
    free(waits);
    if (median_wait < t->queue_wait_ms || total <= 0)
        return 0;
    double busy = recommend_busy_share(in->attempts, in->max_concurrent);
    if (busy < 0)
        return 0;
    if (busy >= t->busy_share) {
        json_t *evidence = json_pack("{s:I, s:f, s:i, s:I}", "median_wait_ms",
                                     (json_int_t)median_wait, "busy_share", busy,
                                     "max_concurrent", in->max_concurrent, "attempts",
                                     (json_int_t)n);
        return add(list, "raise_max_concurrent", evidence,
                   "Jobs waited a median of %.1f s with the slots %.0f%% busy meanwhile: raise"
                   " max_concurrent (now %d) if the database has room, or spread the work out.",
                   seconds(median_wait), busy * 100, in->max_concurrent);
    }
    double idle = 1 - busy;
    if (idle < t->idle_share)
        return 0;
    if (locks / total >= t->cause_share)
        return lock_bottleneck(in, list, median_wait, idle, locks / total);
    if (dependencies / total >= t->cause_share)
        return dependency_bottleneck(in, list, median_wait, idle, dependencies / total);
    json_t *evidence = json_pack("{s:I, s:f, s:f, s:f}", "median_wait_ms",
                                 (json_int_t)median_wait, "idle_share", idle, "lock_wait_share",
                                 locks / total, "dependency_wait_share", dependencies / total);
    return add(list, "idle_slots", evidence,
               "Jobs waited a median of %.1f s while %.0f%% of the slots were idle, and neither"
               " locks nor dependencies explain it: check that every node runs as many workers"
               " as max_concurrent allows and that none is down.",
               seconds(median_wait), idle * 100);
}

/* ------------------------------------------------------------------------
 * A table whose imports got slower
 * ------------------------------------------------------------------------ */

static int compare_attempt_ptr_table(const void *a, const void *b)
{
    const struct perf_attempt *const *x = a, *const *y = b;
    return strcmp((*x)->table, (*y)->table);
}

/* One half of the window for one table. */
struct half {
    int64_t *work;
    size_t n;
    double rows, work_ms;
};

/* slower_table - the rule for the n counted attempts of one table. */
static int slower_table(const struct perf_attempt *const *group, size_t n, int64_t middle_ms,
                        const struct recommend_thresholds *t, int64_t *scratch,
                        struct recommendation_list *list)
{
    struct half halves[2] = {{scratch, 0, 0, 0}, {scratch + n, 0, 0, 0}};
    for (size_t i = 0; i < n; i++) {
        struct half *h = &halves[group[i]->claimed_at_ms >= middle_ms];
        int64_t work = perf_attempt_work_ms(group[i]);
        h->work[h->n++] = work;
        h->rows += (double)group[i]->rows_read;
        h->work_ms += (double)work;
    }
    if ((int64_t)halves[0].n < t->min_samples || (int64_t)halves[1].n < t->min_samples)
        return 0;
    int64_t before = median(halves[0].work, halves[0].n);
    int64_t after = median(halves[1].work, halves[1].n);
    if (after - before < SLOWER_MIN_DELTA_MS || (double)after < t->slowdown * (double)before)
        return 0;
    double rate_before = halves[0].work_ms > 0 ? halves[0].rows * 1000 / halves[0].work_ms : 0;
    double rate_after = halves[1].work_ms > 0 ? halves[1].rows * 1000 / halves[1].work_ms : 0;
    json_t *evidence = json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:I}", "table", group[0]->table,
        "earlier_median_ms", (json_int_t)before, "later_median_ms", (json_int_t)after,
        "earlier_attempts", (json_int_t)halves[0].n, "later_attempts", (json_int_t)halves[1].n,
        "earlier_rows_per_s", rate_before, "later_rows_per_s", rate_after, "split_at_ms",
        (json_int_t)middle_ms);
    return add(list, "table_slower", evidence,
               "Imports into %s got slower: a median of %.1f s in the earlier half of the"
               " window, %.1f s in the later (%.0f -> %.0f rows/s). Look at the table's growth"
               " and indexes.",
               group[0]->table, seconds(before), seconds(after), rate_before, rate_after);
}

static int rule_slower(const struct recommend_input *in, const struct recommend_thresholds *t,
                       struct recommendation_list *list)
{
    size_t n = 0, total = in->attempts->count;
    const struct perf_attempt **order = malloc((total ? total : 1) * sizeof(*order));
    int64_t *scratch = malloc((total ? total : 1) * 2 * sizeof(*scratch));
    int rc = order && scratch ? 0 : IQ_E_NOMEM;
    for (size_t i = 0; rc == 0 && i < total; i++)
        if (perf_attempt_counts(&in->attempts->items[i]))
            order[n++] = &in->attempts->items[i];
    if (rc == 0)
        qsort(order, n, sizeof(*order), compare_attempt_ptr_table);
    int64_t middle = in->since_ms + (in->until_ms - in->since_ms) / 2;
    for (size_t start = 0; rc == 0 && start < n;) {
        size_t end = start + 1;
        while (end < n && strcmp(order[end]->table, order[start]->table) == 0)
            end++;
        rc = slower_table(order + start, end - start, middle, t, scratch, list);
        start = end;
    }
    free(order);
    free(scratch);
    return rc;
}

/* ------------------------------------------------------------------------
 * Two schedules contending for a lock
 * ------------------------------------------------------------------------ */

struct schedule_pair {
    const char *a, *b; /* a < b */
    const char *resource;
    int64_t waits;
    int64_t wait_total_ms;
};

static int compare_pair(const void *x, const void *y)
{
    const struct schedule_pair *p = x, *q = y;
    if (p->waits != q->waits)
        return p->waits < q->waits ? 1 : -1;
    int c = strcmp(p->a, q->a);
    return c ? c : strcmp(p->b, q->b);
}

/* pair_count - count h's wait on the pair of schedules it joins. */
static int pair_count(struct schedule_pair **pairs, size_t *count, size_t *capacity,
                      const struct lock_hold *h)
{
    const char *a = h->schedule, *b = h->blocker_schedule;
    if (strcmp(a, b) > 0) {
        const char *swap = a;
        a = b;
        b = swap;
    }
    for (size_t i = 0; i < *count; i++) {
        if (strcmp((*pairs)[i].a, a) == 0 && strcmp((*pairs)[i].b, b) == 0) {
            (*pairs)[i].waits++;
            (*pairs)[i].wait_total_ms += h->waited_ms;
            return 0;
        }
    }
    if (*count == *capacity) {
        size_t next = *capacity ? *capacity * 2 : 16;
        void *bigger = realloc(*pairs, next * sizeof(**pairs));
        if (!bigger)
            return IQ_E_NOMEM;
        *pairs = bigger;
        *capacity = next;
    }
    (*pairs)[(*count)++] = (struct schedule_pair){a, b, h->name, 1, h->waited_ms};
    return 0;
}

static int rule_schedules(const struct recommend_input *in, const struct recommend_thresholds *t,
                          struct recommendation_list *list)
{
    struct schedule_pair *pairs = NULL;
    size_t count = 0, capacity = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && in->holds && i < in->holds->count; i++) {
        const struct lock_hold *h = &in->holds->items[i];
        if (h->waited_ms > 0 && h->schedule && h->blocker_schedule &&
            strcmp(h->schedule, h->blocker_schedule) != 0)
            rc = pair_count(&pairs, &count, &capacity, h);
    }
    if (rc == 0 && count > 1)
        qsort(pairs, count, sizeof(*pairs), compare_pair);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const struct schedule_pair *p = &pairs[i];
        if (p->waits < t->contention_waits)
            continue;
        json_t *evidence = json_pack("{s:[s,s], s:s, s:I, s:I}", "schedules", p->a, p->b,
                                     "resource", p->resource, "waits", (json_int_t)p->waits,
                                     "wait_total_ms", (json_int_t)p->wait_total_ms);
        rc = add(list, "offset_schedules", evidence,
                 "Schedules \"%s\" and \"%s\" contend for %s: %lld waits, %.1f s in all. Offset"
                 " their cron times so their jobs do not overlap.",
                 p->a, p->b, p->resource, (long long)p->waits, seconds(p->wait_total_ms));
    }
    free(pairs);
    return rc;
}

/* ------------------------------------------------------------------------
 * A table rejecting many rows
 * ------------------------------------------------------------------------ */

static int rule_rejects(const struct recommend_input *in, const struct recommend_thresholds *t,
                        struct recommendation_list *list)
{
    struct perf_report report = {0};
    struct iq_error err = {0};
    int rc = perf_report_build(in->attempts, &report, &err);
    iq_error_clear(&err);
    for (size_t i = 0; rc == 0 && i < report.count; i++) {
        const struct perf_table_stats *s = &report.tables[i];
        if (s->rows_read < t->reject_min_rows || s->rows_read <= 0)
            continue;
        double rate = (double)s->rows_rejected / (double)s->rows_read;
        if (rate < t->reject_rate)
            continue;
        json_t *evidence = json_pack("{s:s, s:I, s:I, s:f, s:I}", "table", s->table,
                                     "rows_read", (json_int_t)s->rows_read, "rows_rejected",
                                     (json_int_t)s->rows_rejected, "reject_rate", rate,
                                     "attempts", (json_int_t)s->attempts);
        rc = add(list, "high_reject_rate", evidence,
                 "Imports into %s rejected %.0f%% of their rows (%lld of %lld): fix the source"
                 " or the job spec's checks.",
                 s->table, rate * 100, (long long)s->rows_rejected, (long long)s->rows_read);
    }
    perf_report_clear(&report);
    return rc;
}

int recommend(const struct recommend_input *in, struct recommendation_list *ret,
              struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    struct recommend_thresholds defaults = recommend_thresholds_default();
    const struct recommend_thresholds *t = in->thresholds ? in->thresholds : &defaults;
    struct perf_attempts none = {0};
    struct recommend_input input = *in;
    if (!input.attempts)
        input.attempts = &none;
    int rc = rule_queue(&input, t, ret);
    if (rc == 0)
        rc = rule_slower(&input, t, ret);
    if (rc == 0)
        rc = rule_schedules(&input, t, ret);
    if (rc == 0)
        rc = rule_rejects(&input, t, ret);
    return rc < 0 ? iq_error_set(err, rc, "out of memory") : 0;
}
