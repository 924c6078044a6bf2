/*
 * cmd_orchestrations.c - orchestrations (sets of dependent jobs) through
 * the API: `importq orchestrations [list]` (a page as a table, --all
 * follows the cursors), `orchestrations show ID` (its aggregate status and
 * its jobs as an indented list: each job under the ones it runs after)
 * and `orchestrations create FILE.json` (POST the whole set, created
 * atomically or not at all). --json prints the server's answer.
 * Not for: the jobs themselves (cmd_jobs.c).
 */
#include "cli/cli.h"
#include "cli/client_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper jobs than this are drawn at this indentation (the depth is still printed). */
#define ORCHESTRATION_INDENT_MAX 12

const struct cli_flag cmd_orchestrations_flags[] = {
    {"limit", true, "list: orchestrations per page, 1..500 (server default 20)"},
    {"cursor", true, "list: start at this page (from a previous \"next page\" hint)"},
    {"all", false, "list: follow the cursors and list every orchestration"},
    {"json", false, "print the server's JSON answer"},
    {NULL, false, NULL},
};

static int usage(const struct command *cmd)
{
    fprintf(stderr, "usage: %s\n", cmd->usage);
    return EXIT_USAGE;
}

/* count_by_status - "2 COMPLETED, 1 RUNNING" of jobs into buf. */
static void count_by_status(const json_t *jobs, char *buf, size_t size)
{
    static const char *const statuses[] = {"COMPLETED", "RUNNING", "QUEUED",
                                           "HELD",      "FAILED",  "CANCELLED"};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t s = 0; s < sizeof(statuses) / sizeof(statuses[0]); s++) {
        size_t count = 0, i;
        json_t *job;
        json_array_foreach(jobs, i, job)
        {
            if (strcmp(json_get_text(job, "status", ""), statuses[s]) == 0)
                count++;
        }
        if (count == 0)
            continue;
        int n = snprintf(buf + used, size - used, "%s%zu %s", used ? ", " : "", count, statuses[s]);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}

static void print_list(const json_t *page)
{
    const json_t *items = json_object_get(page, "items");
    if (json_array_size(items) == 0) {
        printf("no orchestrations\n");
        return;
    }
    printf("%-36s  %-9s  %4s  %-24s  %s\n", "ID", "STATUS", "JOBS", "CREATED", "NAME");
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        const char *name = json_get_text(o, "name", "");
        printf("%-36s  %-9s  %4zu  %-24s  %s\n", json_get_text(o, "id", "?"),
               json_get_text(o, "status", "?"), json_array_size(json_object_get(o, "jobs")),
               json_get_text(o, "created_at", "-"), *name ? name : "-");
    }
}

/* key_of - the key of the job with id among jobs, or the id itself. */
static const char *key_of(const json_t *jobs, const char *id)
{
    size_t i;
    json_t *job;
    json_array_foreach(jobs, i, job)
    {
        if (strcmp(json_get_text(job, "id", ""), id) == 0)
            return json_get_text(job, "key", id);
    }
    return id;
}

/* index_of - the index of the job with id among jobs, or -1 (a job outside the set). */
static long index_of(const json_t *jobs, const char *id)
{
    size_t i;
    json_t *job;
    json_array_foreach(jobs, i, job)
    {
        if (strcmp(json_get_text(job, "id", ""), id) == 0)
            return (long)i;
    }
    return -1;
}

/*
 * job_depths - each job's depth in the graph: 0 without a dependency in
 * the set, else one more than its deepest dependency. The server refused
 * cycles, so count rounds of relaxation settle it; a cycle all the same
 * only stops at count. Returns a malloc'd array of count, or NULL.
 */
static size_t *job_depths(const json_t *jobs, size_t count)
{
    size_t *depth = calloc(count ? count : 1, sizeof(*depth));
    if (!depth)
        return NULL;
    bool changed = true;
    for (size_t round = 0; changed && round < count; round++) {
        changed = false;
        for (size_t i = 0; i < count; i++) {
            size_t d;
            json_t *dep;
            json_array_foreach(json_object_get(json_array_get(jobs, i), "depends_on"), d, dep)
            {
                long up = json_is_string(dep) ? index_of(jobs, json_string_value(dep)) : -1;
                if (up >= 0 && depth[up] + 1 > depth[i]) {
                    depth[i] = depth[up] + 1;
                    changed = true;
                }
            }
        }
    }
    return depth;
}

/* print_job_line - one job of the tree, indented by its depth, with what it runs after. */
static void print_job_line(const json_t *jobs, const json_t *job, size_t depth)
{
    int indent = 4 + 2 * (int)(depth < ORCHESTRATION_INDENT_MAX ? depth : ORCHESTRATION_INDENT_MAX);
    printf("%*s%s  %s  %s", indent, "", json_get_text(job, "key", "?"),
           json_get_text(job, "status", "?"), json_get_text(job, "id", "?"));
    const json_t *after = json_object_get(job, "depends_on");
    size_t i;
    json_t *dep;
    json_array_foreach(after, i, dep)
    {
        printf("%s%s", i == 0 ? "  after " : ", ",
               json_is_string(dep) ? key_of(jobs, json_string_value(dep)) : "?");
    }
    const json_t *error = json_object_get(job, "error");
    const char *code =
        json_is_string(error) ? json_string_value(error) : json_get_text(error, "code", NULL);
    if (code)
        printf("  (%s)", code);
    putchar('\n');
}

/* print_orchestration - the header and the jobs, shallowest first, each under what it runs after.
 */
static void print_orchestration(const json_t *o)
{
    const json_t *jobs = json_object_get(o, "jobs");
    size_t count = json_array_size(jobs);
    const char *name = json_get_text(o, "name", "");
    char counts[256];
    count_by_status(jobs, counts, sizeof(counts));
    printf("orchestration %s%s%s%s\n", json_get_text(o, "id", "?"), *name ? " \"" : "", name,
           *name ? "\"" : "");
    printf("  status:   %s (%zu job%s%s%s)\n", json_get_text(o, "status", "?"), count,
           count == 1 ? "" : "s", *counts ? ": " : "", counts);
    const char *by = json_get_text(o, "created_by", NULL);
    printf("  created:  %s%s%s\n", json_get_text(o, "created_at", "-"), by ? " by " : "",
           by ? by : "");
    printf("  jobs (key, status, id; each after the jobs it waits for):\n");
    size_t *depth = job_depths(jobs, count);
    size_t deepest = 0;
    for (size_t i = 0; depth && i < count; i++)
        deepest = depth[i] > deepest ? depth[i] : deepest;
    for (size_t level = 0; level <= deepest; level++)
        for (size_t i = 0; i < count; i++)
            if (!depth || depth[i] == level)
                print_job_line(jobs, json_array_get(jobs, i), depth ? level : 0);
    free(depth);
}

static int run_list(const struct command *cmd, const struct cli_args *args,
                    const struct config *cfg)
{
    char path[256] = CLIENT_ORCHESTRATIONS_PATH;
    const char *limit = cli_flag_value(cmd, args, "limit");
    if (client_query_add(path, sizeof(path), "limit", limit) < 0) {
        fprintf(stderr, "importq orchestrations: --limit is too long\n");
        return EXIT_USAGE;
    }
    bool json = cli_flag_given(cmd, args, "json");
    bool all = cli_flag_given(cmd, args, "all");
    struct client_call call = {0};
    struct client_response response = {0};
    json_t *items = json_array();
    char *next_cursor = NULL;
    int exit_code = items ? client_call_open(&call, cmd->name, cfg, args->version) : 1;
    if (exit_code == 0)
        exit_code = client_call_pages(&call, path, cli_flag_value(cmd, args, "cursor"), all, items,
                                      &next_cursor, &response);
    if (exit_code == 0 && json && !all) {
        client_print_raw(&response);
    } else if (exit_code == 0 && json) {
        client_print_items_json(items);
    } else if (exit_code == 0) {
        json_t *page = json_pack("{s:O}", "items", items);
        print_list(page);
        json_decref(page);
        if (next_cursor)
            printf("next page: --cursor %s\n", next_cursor);
    }
    free(next_cursor);
    json_decref(items);
    client_response_clear(&response);
    client_call_close(&call);
    return exit_code;
}

static int run_show(const struct command *cmd, const struct cli_args *args,
                    const struct config *cfg)
{
    if (args->positional_count != 2)
        return usage(cmd);
    char *path = client_call_id_path(CLIENT_ORCHESTRATIONS_PATH, args->positional[1], "");
    if (!path)
        return 1;
    int exit_code =
        client_call_print(cmd->name, cfg, args->version, cli_flag_given(cmd, args, "json"), "GET",
                          path, NULL, print_orchestration);
    free(path);
    return exit_code;
}

static int run_create(const struct command *cmd, const struct cli_args *args,
                      const struct config *cfg)
{
    if (args->positional_count != 2)
        return usage(cmd);
    json_t *body = cli_load_json_object(cmd->name, args->positional[1], "orchestration");
    if (!body)
        return EXIT_USAGE;
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        fprintf(stderr, "importq orchestrations: out of memory\n");
        return 1;
    }
    int exit_code =
        client_call_print(cmd->name, cfg, args->version, cli_flag_given(cmd, args, "json"), "POST",
                          CLIENT_ORCHESTRATIONS_PATH, text, print_orchestration);
    free(text);
    return exit_code;
}

int cmd_orchestrations(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    const char *sub = args->positional_count > 0 ? args->positional[0] : "list";
    if (strcmp(sub, "list") == 0)
        return args->positional_count <= 1 ? run_list(cmd, args, cfg) : usage(cmd);
    if (cli_flag_given(cmd, args, "limit") || cli_flag_given(cmd, args, "cursor") ||
        cli_flag_given(cmd, args, "all")) {
        fprintf(stderr, "importq orchestrations: --limit, --cursor and --all go with list\n");
        return EXIT_USAGE;
    }
    if (strcmp(sub, "show") == 0)
        return run_show(cmd, args, cfg);
    if (strcmp(sub, "create") == 0)
        return run_create(cmd, args, cfg);
    fprintf(stderr, "importq orchestrations: unknown subcommand \"%s\" (list, show, create)\n",
            sub);
    return EXIT_USAGE;
}
