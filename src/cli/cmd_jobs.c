/*
 * cmd_jobs.c - reading the queue through the API: `importq jobs` (a page
 * of jobs as a table, filters as flags, --all follows the cursors) and
 * `importq job ID` (one job in detail, with its locks and phase timings).
 * Not for: changing jobs (cmd_job_actions.c) or submitting (cmd_submit.c).
 */
#include "cli/cli.h"
#include "cli/client_call.h"
#include "cli/job_view.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The server pages at most this many jobs (CONTRACT §3). */
#define JOBS_MAX_LIMIT 500
/* Widest TABLE and NAME columns; longer values are shortened. */
#define JOBS_TABLE_WIDTH 24
#define JOBS_NAME_WIDTH 32

const struct cli_flag cmd_jobs_flags[] = {
    {"status", true, "only these statuses, comma-separated, any case (queued,running,...)",
     "held queued running completed failed cancelled"},
    {"table", true, "only jobs into this target table"},
    {"q", true, "only jobs whose name contains TEXT"},
    {"limit", true, "jobs per page, 1..500 (server default 50)"},
    {"cursor", true, "start at this page (from a previous \"next page\" hint)"},
    {"all", false, "follow the cursors and list every matching job"},
    {"json", false, "print the JSON answer ({\"items\", \"next_cursor\"})"},
    {NULL, false, NULL},
};

const struct cli_flag cmd_job_flags[] = {
    {"json", false, "print the job resource as JSON"},
    {NULL, false, NULL},
};

/* Appends "&name=<value escaped>" (or "?..." first) to a query of size bytes. */
static int add_query(char *query, size_t size, const char *name, const char *value)
{
    if (!value)
        return 0;
    char *escaped = client_escape(value);
    if (!escaped)
        return -1;
    size_t used = strlen(query);
    int n = snprintf(query + used, size - used, "%c%s=%s", used ? '&' : '?', name, escaped);
    free(escaped);
    return n < 0 || (size_t)n >= size - used ? -1 : 0;
}

/* Checks --limit before anything is sent; 0 or EXIT_USAGE after printing. */
static int check_limit(const struct command *cmd, const struct cli_args *args)
{
    const char *limit = cli_flag_value(cmd, args, "limit");
    if (!limit)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(limit, &end, 10);
    if (errno || end == limit || *end || n < 1 || n > JOBS_MAX_LIMIT) {
        fprintf(stderr, "importq jobs: --limit needs an integer from 1 to %d\n", JOBS_MAX_LIMIT);
        return EXIT_USAGE;
    }
    return 0;
}

/*
 * jobs_path - the list path for the filter flags and cursor (NULL: first
 * page). Returns a malloc'd path, or NULL after printing why (*ret_exit).
 */
static char *jobs_path(const struct command *cmd, const struct cli_args *args,
                       const char *cursor, int *ret_exit)
{
    static const char *const filters[] = {"status", "table", "q", "limit"};
    char query[4096] = "";
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(filters) / sizeof(filters[0]); i++)
        rc = add_query(query, sizeof(query), filters[i], cli_flag_value(cmd, args, filters[i]));
    if (rc == 0)
        rc = add_query(query, sizeof(query), "cursor", cursor);
    if (rc < 0) {
        fprintf(stderr, "importq jobs: the filters are too long\n");
        *ret_exit = EXIT_USAGE;
        return NULL;
    }
    size_t size = sizeof(CLIENT_QUEUE_PATH) + strlen(query);
    char *path = malloc(size);
    if (!path) {
        fprintf(stderr, "importq jobs: out of memory\n");
        *ret_exit = 1;
        return NULL;
    }
    snprintf(path, size, "%s%s", CLIENT_QUEUE_PATH, query);
    return path;
}

/* text shortened to width characters ("long_na.."), into buf. */
static const char *fit(const char *text, int width, char *buf, size_t size)
{
    if ((int)strlen(text) <= width)
        return text;
    snprintf(buf, size, "%.*s..", width - 2, text);
    return buf;
}

/* item_table - a list item's target table: "table" of the lean item
 * (the server's default), else the full resource's target.table. */
static const char *item_table(const json_t *job, const char *fallback)
{
    const char *table = json_get_text(job, "table", NULL);
    return table ? table : json_get_text(json_object_get(job, "target"), "table", fallback);
}

static int column_width(const json_t *items, const char *what, int min, int max)
{
    int width = min;
    size_t i;
    json_t *job;
    json_array_foreach(items, i, job) {
        const char *text = strcmp(what, "table") == 0 ? item_table(job, "")
                                                      : json_get_text(job, "name", "");
        int len = (int)strlen(text);
        if (len > width)
            width = len > max ? max : len;
    }
    return width;
}

/* Prints items as a table on stdout. */
static void print_table(const json_t *items)
{
    int table_width = column_width(items, "table", 5, JOBS_TABLE_WIDTH);
    int name_width = column_width(items, "name", 4, JOBS_NAME_WIDTH);
    printf("%-36s  %-9s  %3s  %-*s  %-*s  %8s  %s\n", "ID", "STATUS", "PRI", table_width,
           "TABLE", name_width, "NAME", "PROGRESS", "CREATED");
    size_t i;
    json_t *job;
    json_array_foreach(items, i, job) {
        char table_buf[JOBS_TABLE_WIDTH + 1], name_buf[JOBS_NAME_WIDTH + 1];
        const json_t *progress = json_object_get(job, "progress");
        const char *table = item_table(job, "-");
        const char *name = json_get_text(job, "name", "-");
        printf("%-36s  %-9s  %3lld  %-*s  %-*s  %7.1f%%  %s\n", json_get_text(job, "id", "?"),
               json_get_text(job, "status", "?"), (long long)json_get_int(job, "priority", 0),
               table_width, fit(table, table_width, table_buf, sizeof(table_buf)), name_width,
               fit(*name ? name : "-", name_width, name_buf, sizeof(name_buf)),
               json_get_number(progress, "percent", 0), json_get_text(job, "created_at", "-"));
    }
}

/*
 * fetch_pages - one page, or with --all every page, appended to items.
 * Returns 0 with *ret_next_cursor (malloc'd, NULL on the last page) and,
 * for a single page, *ret_response kept for --json; or the exit code.
 */
static int fetch_pages(const struct command *cmd, const struct cli_args *args,
                       struct client_call *call, json_t *items, char **ret_next_cursor,
                       struct client_response *ret_response)
{
    bool all = cli_flag_given(cmd, args, "all");
    char *cursor = NULL;
    const char *first_cursor = cli_flag_value(cmd, args, "cursor");
    if (first_cursor && !(cursor = strdup(first_cursor)))
        return 1;
    int exit_code = 0;
    do {
        char *path = jobs_path(cmd, args, cursor, &exit_code);
        if (!path)
            break;
        json_t *page = NULL;
        client_response_clear(ret_response);
        exit_code = client_call_json(call, "GET", path, NULL, ret_response, &page);
        free(path);
        if (exit_code != 0)
            break;
        json_array_extend(items, json_object_get(page, "items"));
        const char *next = json_get_text(page, "next_cursor", NULL);
        /* A cursor that repeats would loop forever: treat it as the end. */
        bool more = next && *next && !(cursor && strcmp(next, cursor) == 0);
        free(cursor);
        cursor = more ? strdup(next) : NULL;
        json_decref(page);
        if (more && !cursor)
            exit_code = 1;
    } while (exit_code == 0 && all && cursor);
    if (exit_code != 0) {
        free(cursor);
        return exit_code;
    }
    *ret_next_cursor = cursor;
    return 0;
}

int cmd_jobs(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    if (args->positional_count != 0) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    if (check_limit(cmd, args) != 0)
        return EXIT_USAGE;
    bool json = cli_flag_given(cmd, args, "json");
    bool all = cli_flag_given(cmd, args, "all");
    struct client_call call = {0};
    struct client_response response = {0};
    json_t *items = json_array();
    char *next_cursor = NULL;
    int exit_code = client_call_open(&call, cmd->name, cfg, args->version);
    if (exit_code == 0)
        exit_code = fetch_pages(cmd, args, &call, items, &next_cursor, &response);
    if (exit_code != 0)
        goto done;
    if (json && !all) {
        client_print_raw(&response);
    } else if (json) {
        json_t *merged = json_pack("{s:O,s:n}", "items", items, "next_cursor");
        if (merged)
            json_dumpf(merged, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(merged);
    } else if (json_array_size(items) == 0) {
        printf("no jobs\n");
    } else {
        print_table(items);
    }
    if (!json && next_cursor)
        printf("next page: --cursor %s\n", next_cursor);
done:
    free(next_cursor);
    json_decref(items);
    client_response_clear(&response);
    client_call_close(&call);
    return exit_code;
}

int cmd_job(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    if (args->positional_count != 1) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    struct client_call call = {0};
    struct client_response response = {0};
    json_t *job = NULL;
    char *path = client_call_job_path(args->positional[0], "");
    int exit_code = path ? client_call_open(&call, cmd->name, cfg, args->version) : 1;
    if (exit_code == 0)
        exit_code = client_call_json(&call, "GET", path, NULL, &response, &job);
    if (exit_code == 0) {
        if (cli_flag_given(cmd, args, "json"))
            client_print_raw(&response);
        else
            job_view_print(job, stdout);
    }
    json_decref(job);
    client_response_clear(&response);
    client_call_close(&call);
    free(path);
    return exit_code;
}
