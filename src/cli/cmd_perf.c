/*
 * cmd_perf.c - `importq perf` (GET /api/v2/import-performance: per-table
 * durations, rows/s and waits over a window) and `importq
 * recommendations` (GET /api/v2/import-performance/recommendations: what
 * history suggests changing, with its evidence), through the API. The
 * server checks the window (422, exit 2); these only print.
 * Not for: the live queue (cmd_status.c).
 */
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/client_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PERF_PATH "/api/v2/import-performance"
#define QUERY_MAX 2048

const struct cli_flag cmd_perf_flags[] = {
    {"table", true, "one target table"},
    {"since", true, "start of the window, RFC 3339 (default: 24 hours before --until)"},
    {"until", true, "end of the window, RFC 3339 (default: now)"},
    {"limit", true, "tables at most (1..500, default 100)"},
    {"json", false, "print the JSON answer"},
    {NULL, false, NULL},
};

const struct cli_flag cmd_recommendations_flags[] = {
    {"since", true, "start of the window, RFC 3339 (default: 24 hours before --until)"},
    {"until", true, "end of the window, RFC 3339 (default: now)"},
    {"json", false, "print the JSON answer"},
    {NULL, false, NULL},
};

/*
 * window_path - base plus "?name=value&..." for each of names given on
 * the command line (escaped). Caller frees; NULL on OOM or when too long.
 */
static char *window_path(const struct command *cmd, const struct cli_args *args,
                         const char *base, const char *const *names)
{
    char query[QUERY_MAX] = "";
    for (size_t i = 0; names[i]; i++) {
        const char *value = cli_flag_value(cmd, args, names[i]);
        if (!value)
            continue;
        char *escaped = client_escape(value);
        size_t used = strlen(query);
        int n = escaped ? snprintf(query + used, sizeof(query) - used, "%c%s=%s",
                                   used ? '&' : '?', names[i], escaped)
                        : -1;
        free(escaped);
        if (n < 0 || (size_t)n >= sizeof(query) - used)
            return NULL;
    }
    size_t size = strlen(base) + strlen(query) + 1;
    char *path = malloc(size);
    if (path)
        snprintf(path, size, "%s%s", base, query);
    return path;
}

/*
 * fetch - GET the path built from names and print it raw (--json) or with
 * print. Returns the exit code.
 */
static int fetch(const struct command *cmd, struct cli_args *args, struct config *cfg,
                 const char *base, const char *const *names, void (*print)(const json_t *))
{
    if (args->positional_count != 0) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    char *path = window_path(cmd, args, base, names);
    if (!path) {
        fprintf(stderr, "importq %s: the filters are too long\n", cmd->name);
        return EXIT_USAGE;
    }
    struct client_call call = {0};
    struct client_response response = {0};
    json_t *body = NULL;
    int exit_code = client_call_open(&call, cmd->name, cfg, args->version);
    if (exit_code == 0)
        exit_code = client_call_json(&call, "GET", path, NULL, &response, &body);
    if (exit_code == 0 && cli_flag_given(cmd, args, "json"))
        client_print_raw(&response);
    else if (exit_code == 0)
        print(body);
    free(path);
    json_decref(body);
    client_response_clear(&response);
    client_call_close(&call);
    return exit_code;
}

static void print_window(const json_t *body)
{
    printf("window: %s .. %s%s\n", json_get_text(body, "since", "?"),
           json_get_text(body, "until", "?"),
           json_is_true(json_object_get(body, "truncated")) ? "  (truncated)" : "");
}

/* Prints the per-table report for people: one line a table, then its waits. */
static void print_perf(const json_t *body)
{
    print_window(body);
    const json_t *items = json_object_get(body, "items");
    if (json_array_size(items) == 0) {
        printf("no attempts in the window\n");
        return;
    }
    printf("%-32s %6s %6s %9s %9s %9s %10s %9s %9s\n", "TABLE", "COUNT", "FAILED", "P50_MS",
           "P95_MS", "P99_MS", "ROWS/S", "QUEUED50", "LOCK50");
    size_t i;
    const json_t *t;
    json_array_foreach(items, i, t) {
        const json_t *phases = json_object_get(t, "phases");
        printf("%-32s %6lld %6lld %9lld %9lld %9lld %10.0f %9lld %9lld\n",
               json_get_text(t, "table", "?"), (long long)json_get_int(t, "count", 0),
               (long long)json_get_int(t, "failed", 0), (long long)json_get_int(t, "p50_ms", 0),
               (long long)json_get_int(t, "p95_ms", 0), (long long)json_get_int(t, "p99_ms", 0),
               json_get_number(t, "rows_per_s", 0),
               (long long)json_get_int(json_object_get(phases, "queued"), "p50_ms", 0),
               (long long)json_get_int(json_object_get(phases, "lock_wait"), "p50_ms", 0));
    }
}

static void print_recommendations(const json_t *body)
{
    print_window(body);
    const json_t *items = json_object_get(body, "items");
    if (json_array_size(items) == 0) {
        printf("no recommendations: history looks healthy\n");
        return;
    }
    size_t i;
    const json_t *r;
    json_array_foreach(items, i, r) {
        char *evidence = json_dumps(json_object_get(r, "evidence"), JSON_COMPACT | JSON_SORT_KEYS);
        printf("%s: %s\n  evidence: %s\n", json_get_text(r, "kind", "?"),
               json_get_text(r, "message", ""), evidence ? evidence : "{}");
        free(evidence);
    }
}

int cmd_perf(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    static const char *const names[] = {"table", "since", "until", "limit", NULL};
    return fetch(cmd, args, cfg, PERF_PATH, names, print_perf);
}

int cmd_recommendations(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    static const char *const names[] = {"since", "until", NULL};
    return fetch(cmd, args, cfg, PERF_PATH "/recommendations", names, print_recommendations);
}
