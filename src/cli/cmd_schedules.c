/*
 * cmd_schedules.c - scheduled imports through the API: `importq schedules`
 * (a page as a table: name, cron, zone, enabled, next run, last status),
 * `schedules show ID`, `schedules create --name N --cron EXPR [--tz ZONE]
 * --spec FILE.json ...` (prints the schedule and its conflict warnings),
 * `schedules pause|resume|delete ID`, `schedules run ID` (its job now)
 * and `schedules history ID` (its fires, newest first). --json prints the
 * server's answer as received.
 */
#include "cli/cli.h"
#include "cli/client_call.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SCHEDULES_PATH "/api/v2/scheduled-imports"
/* The largest job template --spec reads (the server's body limit is larger than any sane one). */
#define SCHEDULES_NAME_WIDTH 28
#define SCHEDULES_CRON_WIDTH 18

const struct cli_flag cmd_schedules_flags[] = {
    {"enabled", true, "list: only enabled (true) or paused (false) schedules", "true false"},
    {"q", true, "list: only schedules whose name contains TEXT"},
    {"limit", true, "list, history: items per page, 1..500 (server default 50)"},
    {"name", true, "create: the schedule's name (unique)"},
    {"cron", true, "create: a cron expression or an RFC 3339 one-off time"},
    {"tz", true, "create: an IANA time zone (default UTC)"},
    {"spec", true,
     "create: the job template, a job spec JSON file ({date} {time} {datetime} "
     "in source.path)",
     CLI_VALUES_FILE},
    {"misfire", true, "create: skip, run_once (default) or catch_up", "skip run_once catch_up"},
    {"overlap", true, "create: allow, skip (default) or queue", "allow skip queue"},
    {"catch-up-max", true, "create: missed fires a catch_up runs, 1..1000 (default 10)"},
    {"paused", false, "create: create it paused"},
    {"json", false, "print the server's JSON answer"},
    {NULL, false, NULL},
};

/* usage - the usage line on stderr; EXIT_USAGE. */
static int usage(const struct command *cmd)
{
    fprintf(stderr, "usage: %s\n", cmd->usage);
    return EXIT_USAGE;
}

/* fit - text shortened to width characters ("long_na.."), into buf. */
static const char *fit(const char *text, int width, char *buf, size_t size)
{
    if ((int)strlen(text) <= width)
        return text;
    snprintf(buf, size, "%.*s..", width - 2, text);
    return buf;
}

/* print_table - the list's items, one line each. */
static void print_table(const json_t *items)
{
    printf("%-*s  %-*s  %-16s  %-7s  %-24s  %-11s  %s\n", SCHEDULES_NAME_WIDTH, "NAME",
           SCHEDULES_CRON_WIDTH, "CRON", "ZONE", "ENABLED", "NEXT RUN", "LAST STATUS", "ID");
    size_t i;
    json_t *s;
    json_array_foreach(items, i, s)
    {
        char name[SCHEDULES_NAME_WIDTH + 1], cron[SCHEDULES_CRON_WIDTH + 1];
        printf("%-*s  %-*s  %-16s  %-7s  %-24s  %-11s  %s\n", SCHEDULES_NAME_WIDTH,
               fit(json_get_text(s, "name", "-"), SCHEDULES_NAME_WIDTH, name, sizeof(name)),
               SCHEDULES_CRON_WIDTH,
               fit(json_get_text(s, "cron", "-"), SCHEDULES_CRON_WIDTH, cron, sizeof(cron)),
               json_get_text(s, "timezone", "UTC"),
               json_is_true(json_object_get(s, "enabled")) ? "yes" : "paused",
               json_get_text(s, "next_run_at", "-"), json_get_text(s, "last_status", "-"),
               json_get_text(s, "id", "?"));
    }
}

/* print_warnings - each conflict warning on its own line, visibly. */
static void print_warnings(const json_t *schedule)
{
    const json_t *warnings = json_object_get(schedule, "warnings");
    size_t count = json_array_size(warnings);
    if (count == 0)
        return;
    printf("\n%zu conflict warning%s (the schedule was saved):\n", count, count == 1 ? "" : "s");
    size_t i;
    json_t *w;
    json_array_foreach(warnings, i, w)
    {
        printf("  WARNING: %s\n", json_get_text(w, "message", "?"));
    }
}

/* print_schedule - one schedule in detail. */
static void print_schedule(const json_t *s)
{
    static const char *const fields[] = {"id",          "name",        "cron",        "timezone",
                                         "misfire",     "overlap",     "next_run_at", "last_run_at",
                                         "last_status", "last_job_id", "created_by",  "created_at",
                                         "updated_at"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        printf("%-14s %s\n", fields[i], json_get_text(s, fields[i], "-"));
    printf("%-14s %s\n", "enabled",
           json_is_true(json_object_get(s, "enabled")) ? "yes" : "no (paused)");
    printf("%-14s %lld\n", "catch_up_max", (long long)json_get_int(s, "catch_up_max", 0));
    printf("%-14s %lld (%lld succeeded, %lld failed)\n", "runs",
           (long long)json_get_int(s, "run_count", 0),
           (long long)json_get_int(s, "success_count", 0),
           (long long)json_get_int(s, "failure_count", 0));
    const json_t *job = json_object_get(s, "job");
    printf("%-14s %s <- %s\n", "job", json_get_text(json_object_get(job, "target"), "table", "?"),
           json_get_text(json_object_get(job, "source"), "path", "?"));
}

/*
 * call - method on path with body; prints the answer (raw with --json,
 * else through print) and returns the exit code.
 */
static int call(const struct command *cmd, const struct cli_args *args, const struct config *cfg,
                const char *method, const char *path, const char *body,
                void (*print)(const json_t *answer))
{
    struct client_call conn = {0};
    struct client_response response = {0};
    json_t *answer = NULL;
    int exit_code = client_call_open(&conn, "schedules", cfg, args->version);
    if (exit_code == 0)
        exit_code = client_call_json(&conn, method, path, body, &response, &answer);
    if (exit_code == 0 && cli_flag_given(cmd, args, "json"))
        client_print_raw(&response);
    else if (exit_code == 0)
        print(answer);
    json_decref(answer);
    client_response_clear(&response);
    client_call_close(&conn);
    return exit_code;
}

/* ---- list ---- */

static void print_list(const json_t *page)
{
    const json_t *items = json_object_get(page, "items");
    if (json_array_size(items) == 0) {
        printf("no schedules\n");
        return;
    }
    print_table(items);
    const char *next = json_get_text(page, "next_cursor", NULL);
    if (next)
        printf("(more: the server has another page; narrow with --q or --enabled)\n");
}

/* append_query - "&key=<escaped value>" (or "?" first) onto query; -1 when it does not fit. */
static int append_query(char *query, size_t size, const char *key, const char *value)
{
    if (!value)
        return 0;
    char *escaped = client_escape(value);
    if (!escaped)
        return -1;
    size_t used = strlen(query);
    int n = snprintf(query + used, size - used, "%c%s=%s", used ? '&' : '?', key, escaped);
    free(escaped);
    return n < 0 || (size_t)n >= size - used ? -1 : 0;
}

static int run_list(const struct command *cmd, const struct cli_args *args,
                    const struct config *cfg)
{
    const char *enabled = cli_flag_value(cmd, args, "enabled");
    if (enabled && strcmp(enabled, "true") != 0 && strcmp(enabled, "false") != 0) {
        fprintf(stderr, "importq schedules: --enabled takes true or false\n");
        return EXIT_USAGE;
    }
    char path[1024] = "";
    if (append_query(path, sizeof(path), "enabled", enabled) < 0 ||
        append_query(path, sizeof(path), "q", cli_flag_value(cmd, args, "q")) < 0 ||
        append_query(path, sizeof(path), "limit", cli_flag_value(cmd, args, "limit")) < 0) {
        fprintf(stderr, "importq schedules: the filters are too long\n");
        return EXIT_USAGE;
    }
    char full[sizeof(SCHEDULES_PATH) + sizeof(path)];
    snprintf(full, sizeof(full), "%s%s", SCHEDULES_PATH, path);
    return call(cmd, args, cfg, "GET", full, NULL, print_list);
}

/* ---- one schedule ---- */

/* schedule_path - SCHEDULES_PATH/<id escaped><suffix>; malloc'd, NULL on OOM. */
static char *schedule_path(const char *id, const char *suffix)
{
    char *escaped = client_escape(id);
    char *path = NULL;
    if (escaped && asprintf(&path, "%s/%s%s", SCHEDULES_PATH, escaped, suffix) < 0)
        path = NULL;
    free(escaped);
    return path;
}

static void print_created(const json_t *s)
{
    printf("schedule %s created\n\n", json_get_text(s, "id", "?"));
    print_schedule(s);
    print_warnings(s);
}

static void print_state(const json_t *s)
{
    printf("schedule %s (%s): %s, next run %s\n", json_get_text(s, "id", "?"),
           json_get_text(s, "name", "?"),
           json_is_true(json_object_get(s, "enabled")) ? "enabled" : "paused",
           json_get_text(s, "next_run_at", "none"));
}

static void print_deleted(const json_t *s)
{
    printf("schedule %s (%s) deleted\n", json_get_text(s, "id", "?"),
           json_get_text(s, "name", "?"));
}

static void print_run(const json_t *job)
{
    printf("job %s created (%s), status %s\n", json_get_text(job, "id", "?"),
           json_get_text(job, "name", "?"), json_get_text(job, "status", "?"));
}

static void print_history(const json_t *page)
{
    const json_t *items = json_object_get(page, "items");
    if (json_array_size(items) == 0) {
        printf("no fires yet\n");
        return;
    }
    printf("%-26s %-20s %-36s %s\n", "FIRE TIME", "OUTCOME", "JOB", "DETAIL");
    size_t i;
    const json_t *fire;
    json_array_foreach(items, i, fire)
        printf("%-26s %-20s %-36s %s\n", json_get_text(fire, "fire_time", "?"),
               json_get_text(fire, "outcome", "?"), json_get_text(fire, "job_id", "-"),
               json_get_text(fire, "detail", ""));
    if (json_get_text(page, "next_cursor", NULL))
        printf("(more: older fires on the next page)\n");
}

/* run_on_id - show, pause, resume, delete, run or the history of the
 * schedule named by positional[1]. */
static int run_on_id(const struct command *cmd, const struct cli_args *args,
                     const struct config *cfg, const char *sub)
{
    if (args->positional_count != 2)
        return usage(cmd);
    const char *method = "GET", *suffix = "";
    void (*print)(const json_t *) = print_schedule;
    if (strcmp(sub, "pause") == 0 || strcmp(sub, "resume") == 0) {
        method = "POST";
        suffix = strcmp(sub, "pause") == 0 ? "/pause" : "/resume";
        print = print_state;
    } else if (strcmp(sub, "delete") == 0) {
        method = "DELETE";
        print = print_deleted;
    } else if (strcmp(sub, "run") == 0) {
        method = "POST";
        suffix = "/run";
        print = print_run;
    }
    char query[64] = "";
    if (strcmp(sub, "history") == 0) {
        print = print_history;
        if (append_query(query, sizeof(query), "limit", cli_flag_value(cmd, args, "limit")) < 0) {
            fprintf(stderr, "importq schedules: --limit is too long\n");
            return EXIT_USAGE;
        }
        char *with_query = NULL;
        if (asprintf(&with_query, "/history%s", query) < 0)
            with_query = NULL;
        char *path = with_query ? schedule_path(args->positional[1], with_query) : NULL;
        free(with_query);
        int exit_code = path ? call(cmd, args, cfg, method, path, NULL, print) : 1;
        if (!path)
            fprintf(stderr, "importq schedules: out of memory\n");
        free(path);
        return exit_code;
    }
    char *path = schedule_path(args->positional[1], suffix);
    if (!path) {
        fprintf(stderr, "importq schedules: out of memory\n");
        return 1;
    }
    int exit_code = call(cmd, args, cfg, method, path, NULL, print);
    free(path);
    return exit_code;
}

/* ---- create ---- */


/* parse_catch_up - --catch-up-max as an integer 1..1000; -1 after printing why. */
static int parse_catch_up(const char *text)
{
    char *end;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (errno || end == text || *end || n < 1 || n > 1000) {
        fprintf(stderr, "importq schedules: --catch-up-max needs an integer from 1 to 1000\n");
        return -1;
    }
    return (int)n;
}

/* create_body - the POST body from the flags; NULL after printing why. */
static json_t *create_body(const struct command *cmd, const struct cli_args *args)
{
    const char *name = cli_flag_value(cmd, args, "name");
    const char *cron = cli_flag_value(cmd, args, "cron");
    const char *spec = cli_flag_value(cmd, args, "spec");
    if (!name || !cron || !spec) {
        fprintf(stderr, "importq schedules create: --name, --cron and --spec are required\n");
        return NULL;
    }
    json_t *job = cli_load_json_object("schedules", spec, "job template");
    if (!job)
        return NULL;
    json_t *body = json_pack("{s:s, s:s, s:o}", "name", name, "cron", cron, "job", job);
    static const char *const optional[][2] = {
        {"tz", "timezone"}, {"misfire", "misfire"}, {"overlap", "overlap"}};
    for (size_t i = 0; body && i < sizeof(optional) / sizeof(optional[0]); i++) {
        const char *value = cli_flag_value(cmd, args, optional[i][0]);
        if (value)
            json_object_set_new(body, optional[i][1], json_string(value));
    }
    const char *catch_up = cli_flag_value(cmd, args, "catch-up-max");
    if (body && catch_up) {
        int n = parse_catch_up(catch_up);
        if (n < 0) {
            json_decref(body);
            return NULL;
        }
        json_object_set_new(body, "catch_up_max", json_integer(n));
    }
    if (body && cli_flag_given(cmd, args, "paused"))
        json_object_set_new(body, "enabled", json_false());
    return body;
}

static int run_create(const struct command *cmd, const struct cli_args *args,
                      const struct config *cfg)
{
    if (args->positional_count != 1)
        return usage(cmd);
    json_t *body = create_body(cmd, args);
    if (!body)
        return EXIT_USAGE;
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        fprintf(stderr, "importq schedules: out of memory\n");
        return 1;
    }
    int exit_code = call(cmd, args, cfg, "POST", SCHEDULES_PATH, text, print_created);
    free(text);
    return exit_code;
}

int cmd_schedules(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    const char *sub = args->positional_count > 0 ? args->positional[0] : "list";
    if (strcmp(sub, "list") == 0)
        return args->positional_count <= 1 ? run_list(cmd, args, cfg) : usage(cmd);
    if (strcmp(sub, "create") == 0)
        return run_create(cmd, args, cfg);
    static const char *const on_id[] = {"show", "pause", "resume", "delete", "run", "history"};
    for (size_t i = 0; i < sizeof(on_id) / sizeof(on_id[0]); i++)
        if (strcmp(sub, on_id[i]) == 0)
            return run_on_id(cmd, args, cfg, sub);
    fprintf(stderr,
            "importq schedules: unknown subcommand \"%s\" (list, show, create, pause, "
            "resume, delete, run, history)\n",
            sub);
    return EXIT_USAGE;
}
