/*
 * routes_metrics.c - GET /metrics (Prometheus text format 0.0.4) and the
 * API's own metric families: requests by route, method and status code,
 * their latency by route, database errors met by requests, the build,
 * and the queue gauges.
 *
 * The queue gauges come from the status cache (status_cache.h), the same
 * figures GET /import-queue/status answers with: a scrape never counts
 * the queue itself; it waits for a refresh only where a status request
 * would (no copy yet, or the copy is older than its max age).
 *
 * Label sets stay bounded: a request's route is the pattern of the route
 * table row it matched ("/api/v2/import-queue/{id}"), or "unmatched" -
 * never the raw path; methods and status codes outside fixed lists are
 * "other".
 *
 * Not for: what the engine measures (engine/engine_metrics.c).
 */
#include "api/routes.h"

#include "core/metrics.h"
#include "engine/engine.h"

#include <stdlib.h>
#include <string.h>

static const char *const method_values[] = {"GET",   "HEAD",    "POST",   "PUT",
                                            "PATCH", "OPTIONS", "DELETE", "other"};
#define METHOD_COUNT (sizeof(method_values) / sizeof(method_values[0]))

/* Every status this server answers with itself (core/error.h, handlers). */
static const char *const code_values[] = {
    "200", "201", "202", "204", "304", "400", "401", "403", "404", "405", "409", "413",
    "414", "415", "422", "429", "431", "500", "501", "503", "504", "505", "507", "other",
};
#define CODE_COUNT (sizeof(code_values) / sizeof(code_values[0]))

static const char *const job_status_values[] = {"queued", "held", "running"};
static const char *const finished_values[] = {"completed", "failed"};

/* Requests take from well under a millisecond (a cached status) to
 * seconds (an upload). */
static const double request_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* route_values_build - the distinct route patterns and "unmatched", and
 * for each route its index among them. */
static int route_values_build(struct api_metrics *m, struct iq_error *err)
{
    size_t routes = 0;
    while (api_routes[routes].method)
        routes++;
    m->route_values = calloc(routes + 1, sizeof(*m->route_values));
    m->route_label = calloc(routes + 1, sizeof(*m->route_label));
    if (!m->route_values || !m->route_label)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    unsigned distinct = 0;
    for (size_t r = 0; r < routes; r++) {
        unsigned found = 0;
        while (found < distinct && strcmp(m->route_values[found], api_routes[r].pattern) != 0)
            found++;
        if (found == distinct)
            m->route_values[distinct++] = api_routes[r].pattern;
        m->route_label[r] = found;
    }
    m->unmatched = distinct;
    m->route_values[distinct] = "unmatched";
    return 0;
}

/* A gauge without labels. */
static struct metric_desc gauge(const char *name, const char *help)
{
    return (struct metric_desc){.name = name, .help = help, .type = METRIC_GAUGE};
}

int api_metrics_start(struct api *api, struct metrics *registry, struct iq_error *err)
{
    struct api_metrics *m = &api->metrics;
    const char *auth = api->config->metrics_auth ? api->config->metrics_auth : "viewer";
    if (strcmp(auth, "none") != 0 && strcmp(auth, "viewer") != 0)
        return iq_error_set(err, IQ_E_INVALID, "metrics-auth: expected viewer or none, got \"%s\"",
                            auth);
    m->auth_none = strcmp(auth, "none") == 0;
    m->registry = registry;
    if (!registry)
        return 0;
    int rc = route_values_build(m, err);
    if (rc < 0)
        return rc;
    unsigned route_count = m->unmatched + 1;
    const char *version_values[] = {api->version};
    const struct {
        struct metric_family **slot;
        struct metric_desc desc;
    } families[] = {
        {&m->requests,
         {.name = "importq_http_requests_total",
          .help =
              "HTTP requests answered, by route pattern (or unmatched), method and status code.",
          .type = METRIC_COUNTER,
          .labels = {{"route", m->route_values, route_count},
                     {"method", method_values, METHOD_COUNT},
                     {"code", code_values, CODE_COUNT}},
          .label_count = 3}},
        {&m->duration,
         {.name = "importq_http_request_duration_seconds",
          .help = "Time from a request's first byte to its answer being queued, by route pattern.",
          .type = METRIC_HISTOGRAM,
          .labels = {{"route", m->route_values, route_count}},
          .label_count = 1,
          .buckets = request_buckets,
          .bucket_count = COUNT(request_buckets)}},
        {&m->build_info,
         {.name = "importq_build_info",
          .help = "Always 1; the version of this node's binary is its label.",
          .type = METRIC_GAUGE,
          .labels = {{"version", version_values, 1}},
          .label_count = 1}},
        {&m->queue_jobs,
         {.name = "importq_queue_jobs",
          .help = "Jobs waiting or running, cluster-wide, by status.",
          .type = METRIC_GAUGE,
          .labels = {{"status", job_status_values, COUNT(job_status_values)}},
          .label_count = 1}},
        {&m->finished_24h,
         {.name = "importq_queue_jobs_finished_24h",
          .help = "Jobs that ended in the last 24 hours, cluster-wide, by status.",
          .type = METRIC_GAUGE,
          .labels = {{"status", finished_values, COUNT(finished_values)}},
          .label_count = 1}},
        {&m->max_concurrent,
         gauge("importq_queue_max_concurrent", "Jobs that may run at once, cluster-wide.")},
        {&m->available_slots,
         gauge("importq_queue_available_slots", "Jobs that could start now: max_concurrent "
                                                "less those running.")},
        {&m->capacity, gauge("importq_queue_capacity",
                             "Jobs QUEUED or HELD at most (max-queue-size; 0: no limit).")},
        {&m->oldest_age, gauge("importq_queue_oldest_queued_age_seconds",
                               "Age of the oldest QUEUED job (0: none).")},
        {&m->nodes_alive, gauge("importq_nodes_alive", "Nodes whose heartbeat is current.")},
        {&m->status_up,
         gauge("importq_queue_status_up",
               "1 when the queue gauges were just read from the database, 0 when that failed "
               "(they then keep their last values).")},
    };
    for (size_t i = 0; i < COUNT(families) && rc == 0; i++)
        rc = metrics_register(registry, &families[i].desc, families[i].slot, err);
    if (rc == 0)
        rc = metrics_register(registry, &engine_database_errors_metric, &m->database_errors, err);
    if (rc == 0)
        metric_gauge_set(m->build_info, (unsigned[]){0}, 1);
    return rc;
}

void api_metrics_free(struct api_metrics *m)
{
    free(m->route_values);
    free(m->route_label);
    m->route_values = NULL;
    m->route_label = NULL;
}

static unsigned index_of(const char *const *values, size_t count, const char *value)
{
    for (unsigned i = 0; i + 1 < count; i++)
        if (strcmp(values[i], value) == 0)
            return i;
    return (unsigned)count - 1;
}

void api_metrics_request(const struct api_metrics *m, const struct api_route *route,
                         const char *method, int status, double seconds)
{
    if (!m->requests)
        return;
    unsigned route_index = route ? m->route_label[route - api_routes] : m->unmatched;
    char code[8];
    code[0] = '\0';
    if (status >= 100 && status <= 599) {
        code[0] = (char)('0' + status / 100);
        code[1] = (char)('0' + status / 10 % 10);
        code[2] = (char)('0' + status % 10);
        code[3] = '\0';
    }
    unsigned labels[3] = {route_index, index_of(method_values, METHOD_COUNT, method ? method : ""),
                          index_of(code_values, CODE_COUNT, code)};
    metric_counter_add(m->requests, labels, 1);
    metric_histogram_observe(m->duration, &route_index, seconds);
}

void api_metrics_database_error(const struct api_metrics *m)
{
    metric_counter_add(m->database_errors, (unsigned[]){1}, 1);
}

/* gauge_from - a number member of the status document into a gauge. */
static void gauge_from(struct metric_family *family, const unsigned *label_index, const json_t *doc,
                       const char *key)
{
    const json_t *value = json_object_get(doc, key);
    if (json_is_number(value))
        metric_gauge_set(family, label_index, json_number_value(value));
}

/* queue_gauges_update - the gauges from the status cache's figures. */
static void queue_gauges_update(struct api *api)
{
    struct api_metrics *m = &api->metrics;
    char *body = NULL;
    size_t len = 0;
    struct iq_error err = {0};
    json_t *doc = NULL;
    if (status_cache_get(&api->status, &body, &len, &err) == 0)
        doc = json_loadb(body, len, 0, NULL);
    free(body);
    iq_error_clear(&err);
    metric_gauge_set(m->status_up, NULL, doc ? 1 : 0);
    if (!doc)
        return;
    for (unsigned i = 0; i < COUNT(job_status_values); i++)
        gauge_from(m->queue_jobs, &i, doc, job_status_values[i]);
    gauge_from(m->finished_24h, (unsigned[]){0}, doc, "completed_24h");
    gauge_from(m->finished_24h, (unsigned[]){1}, doc, "failed_24h");
    gauge_from(m->max_concurrent, NULL, doc, "max_concurrent");
    gauge_from(m->available_slots, NULL, doc, "available_slots");
    gauge_from(m->capacity, NULL, doc, "queue_capacity");
    gauge_from(m->oldest_age, NULL, doc, "oldest_queued_age_s");
    double alive = 0;
    size_t i;
    json_t *node;
    json_array_foreach(json_object_get(doc, "nodes"), i, node)
    {
        const char *status = json_string_value(json_object_get(node, "status"));
        alive += status && strcmp(status, "alive") == 0;
    }
    metric_gauge_set(m->nodes_alive, NULL, alive);
    json_decref(doc);
}

void route_metrics(struct api_request *req, struct api_response *res)
{
    struct api_metrics *m = &req->api->metrics;
    if (!m->registry) {
        api_reply_problem(req, res, IQ_E_NOT_FOUND, "this server keeps no metrics");
        return;
    }
    queue_gauges_update(req->api);
    char *text = NULL;
    size_t len = 0;
    struct iq_error err = {0};
    if (metrics_write(m->registry, &text, &len, &err) < 0) {
        api_reply_error(req, res, &err);
        return;
    }
    api_reply_take(res, 200, METRICS_CONTENT_TYPE, text, len);
}
