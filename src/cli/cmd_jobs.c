/*
 * cmd_jobs.c - reading the queue through the API: `importq jobs` (a page
 * of jobs as a table, filters as flags, --all follows the cursors;
 * --watch redraws the page every second, live_view.c), and `importq job
 * ID` (one job in detail, with its locks, phase timings and the jobs it
 * waits for and that wait for it; --wait follows it to its end,
 * job_wait.c).
 * Not for: changing jobs (cmd_job_actions.c) or submitting (cmd_submit.c).
 */
#include "cli/cli.h"
#include "cli/client_call.h"
#include "cli/job_view.h"
#include "cli/job_wait.h"
#include "cli/live_view.h"

#include "core/timeutil.h"
#include "util/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The server pages at most this many jobs (CONTRACT §3). */
#define JOBS_MAX_LIMIT 500
/* Widest TABLE and NAME columns; longer values are shortened. */
#define JOBS_TABLE_WIDTH 24
#define JOBS_NAME_WIDTH 32
/* --watch: the default and the bounds of --interval. */
#define JOBS_WATCH_INTERVAL_MS 1000
#define JOBS_WATCH_INTERVAL_MIN_MS 100
#define JOBS_WATCH_INTERVAL_MAX_MS (3600 * 1000)
/* The lines of a live frame that are not jobs: title, header, the hint and its blank line. */
#define JOBS_WATCH_FRAME_LINES 5
/* job ID: the dependencies whose status is looked up one by one (no orchestration). */
#define JOB_UPSTREAM_LOOKUPS 20

const struct cli_flag cmd_jobs_flags[] = {
    {"status", true, "only these statuses, comma-separated, any case (queued,running,...)",
     "held queued running completed failed cancelled"},
    {"table", true, "only jobs into this target table"},
    {"q", true, "only jobs whose name contains TEXT"},
    {"limit", true, "jobs per page, 1..500 (server default 50)"},
    {"cursor", true, "start at this page (from a previous \"next page\" hint)"},
    {"all", false, "follow the cursors and list every matching job"},
    {"json", false, "print the JSON answer ({\"items\", \"next_cursor\"})"},
    {"watch", false,
     "redraw the first page in place every second until q or Ctrl-C (plain frames one after"
     " the other when stdout is not a terminal)"},
    {"interval", true, "with --watch: the time between frames (1s, 500ms; default 1s)"},
    {NULL, false, NULL},
};

const struct cli_flag cmd_job_flags[] = {
    {"json", false, "print the job resource as JSON (with --wait: the final one)"},
    {"wait", false, "follow the job until it ends; exit 0 COMPLETED, 1 FAILED or CANCELLED"},
    {NULL, false, NULL},
};

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
 * jobs_path - the list path for the filter flags; limit (NULL: --limit's)
 * overrides the page size. Returns a malloc'd path, or NULL after printing
 * why (*ret_exit).
 */
static char *jobs_path(const struct command *cmd, const struct cli_args *args, const char *limit,
                       int *ret_exit)
{
    static const char *const filters[] = {"status", "table", "q"};
    char query[4096] = "";
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(filters) / sizeof(filters[0]); i++)
        rc = client_query_add(query, sizeof(query), filters[i],
                              cli_flag_value(cmd, args, filters[i]));
    if (rc == 0)
        rc = client_query_add(query, sizeof(query), "limit",
                              limit ? limit : cli_flag_value(cmd, args, "limit"));
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

/* Prints items as a table on out. */
static void print_table(FILE *out, const json_t *items)
{
    int table_width = column_width(items, "table", 5, JOBS_TABLE_WIDTH);
    int name_width = column_width(items, "name", 4, JOBS_NAME_WIDTH);
    fprintf(out, "%-36s  %-9s  %3s  %-*s  %-*s  %8s  %s\n", "ID", "STATUS", "PRI", table_width,
            "TABLE", name_width, "NAME", "PROGRESS", "CREATED");
    size_t i;
    json_t *job;
    json_array_foreach(items, i, job) {
        char table_buf[JOBS_TABLE_WIDTH + 1], name_buf[JOBS_NAME_WIDTH + 1];
        const json_t *progress = json_object_get(job, "progress");
        const char *table = item_table(job, "-");
        const char *name = json_get_text(job, "name", "-");
        fprintf(out, "%-36s  %-9s  %3lld  %-*s  %-*s  %7.1f%%  %s\n", json_get_text(job, "id", "?"),
                json_get_text(job, "status", "?"), (long long)json_get_int(job, "priority", 0),
                table_width, fit(table, table_width, table_buf, sizeof(table_buf)), name_width,
                fit(*name ? name : "-", name_width, name_buf, sizeof(name_buf)),
                json_get_number(progress, "percent", 0), json_get_text(job, "created_at", "-"));
    }
}

/* What each frame of `jobs --watch` needs. */
struct jobs_watch {
    const struct command *cmd;
    const struct cli_args *args;
    struct client_call *call;
    const struct config *cfg;
    int64_t interval_ms;
};

/*
 * put_frame - text (a frame's lines) on stdout. With ansi each line is cut
 * at columns characters (a wrapped line would scroll the frame off its
 * place; UTF-8 continuation bytes go with their character) and clears
 * the rest of its row.
 */
static void put_frame(const char *text, size_t len, bool ansi, int columns)
{
    int column = 0;
    bool shown = true; /* the current character is within the row */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            fputs(ansi ? "\033[K\n" : "\n", stdout);
            column = 0;
            shown = true;
            continue;
        }
        if ((c & 0xC0) != 0x80) /* not a continuation byte: a new character */
            shown = !ansi || column++ < columns;
        if (shown)
            putchar(c);
    }
}

/* watch_draw_cb - one frame of `jobs --watch`: a title, then the first page as a table. */
static void watch_draw_cb(void *ctx, bool ansi)
{
    struct jobs_watch *watch = ctx;
    char limit[16] = "";
    int columns, rows;
    live_view_terminal_size(&columns, &rows);
    if (ansi && !cli_flag_value(watch->cmd, watch->args, "limit")) { /* the jobs that fit */
        int fit_rows = rows - JOBS_WATCH_FRAME_LINES;
        fit_rows = fit_rows < 1 ? 1 : fit_rows > JOBS_MAX_LIMIT ? JOBS_MAX_LIMIT : fit_rows;
        snprintf(limit, sizeof(limit), "%d", fit_rows);
    }
    int exit_code = 0;
    char *path = jobs_path(watch->cmd, watch->args, *limit ? limit : NULL, &exit_code);
    json_t *page = NULL;
    char *error = NULL;
    if (path)
        client_call_try_json(watch->call, path, &page, &error);
    char *text = NULL;
    size_t len = 0;
    FILE *frame = open_memstream(&text, &len);
    if (!frame) {
        free(path);
        json_decref(page);
        free(error);
        return;
    }
    char now[TIME_RFC3339_LEN];
    fprintf(frame, "importq jobs - %s - %s - every %.1f s\n", watch->cfg->server,
            time_format_rfc3339(time_now_ms(), now), (double)watch->interval_ms / 1000.0);
    const json_t *items = json_object_get(page, "items");
    if (!path || !page)
        fprintf(frame, "error: %s\n", error ? error : "out of memory");
    else if (json_array_size(items) == 0)
        fprintf(frame, "no jobs\n");
    else
        print_table(frame, items);
    fclose(frame);
    if (ansi)
        fputs("\033[H", stdout);
    put_frame(text, len, ansi, columns);
    fputs(ansi ? "\npress q to quit\033[K\033[J" : "\n", stdout);
    fflush(stdout);
    free(text);
    free(path);
    json_decref(page);
    free(error);
}

/* watch_interval - --interval in ms into *ret_ms; false after printing why. */
static bool watch_interval(const struct command *cmd, const struct cli_args *args, int64_t *ret_ms)
{
    const char *text = cli_flag_value(cmd, args, "interval");
    *ret_ms = JOBS_WATCH_INTERVAL_MS;
    if (!text)
        return true;
    if (config_parse_duration_ms(text, ret_ms) < 0 || *ret_ms < JOBS_WATCH_INTERVAL_MIN_MS ||
        *ret_ms > JOBS_WATCH_INTERVAL_MAX_MS) {
        fprintf(stderr, "importq jobs: --interval needs a duration from 100ms to 1h (2s, 500ms)\n");
        return false;
    }
    return true;
}

/* watch - `jobs --watch`: checks its flags, then the live view. Returns the exit code. */
static int watch(const struct command *cmd, struct cli_args *args, const struct config *cfg)
{
    struct jobs_watch state = {.cmd = cmd, .args = args, .cfg = cfg};
    if (cli_flag_given(cmd, args, "all") || cli_flag_given(cmd, args, "cursor") ||
        cli_flag_given(cmd, args, "json")) {
        fprintf(stderr, "importq jobs: --watch shows the first page: it takes no --all, --cursor"
                        " or --json\n");
        return EXIT_USAGE;
    }
    if (!watch_interval(cmd, args, &state.interval_ms))
        return EXIT_USAGE;
    struct client_call call = {0};
    int exit_code = client_call_open(&call, cmd->name, cfg, args->version);
    char *path = exit_code == 0 ? jobs_path(cmd, args, NULL, &exit_code) : NULL;
    if (path) { /* a first request: a bad filter, token or server ends it here, plainly */
        struct client_response response = {0};
        exit_code = client_call_json(&call, "GET", path, NULL, &response, NULL);
        client_response_clear(&response);
        free(path);
    }
    if (exit_code == 0) { /* from now on a failed request is shown in the frame */
        state.call = &call;
        exit_code = live_view_run(call.client, state.interval_ms, isatty(STDOUT_FILENO),
                                  watch_draw_cb, &state);
    }
    client_call_close(&call);
    return exit_code;
}

int cmd_jobs(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    if (args->positional_count != 0) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    if (check_limit(cmd, args) != 0)
        return EXIT_USAGE;
    if (cli_flag_given(cmd, args, "watch"))
        return watch(cmd, args, cfg);
    if (cli_flag_given(cmd, args, "interval")) {
        fprintf(stderr, "importq jobs: --interval goes with --watch\n");
        return EXIT_USAGE;
    }
    bool json = cli_flag_given(cmd, args, "json");
    bool all = cli_flag_given(cmd, args, "all");
    struct client_call call = {0};
    struct client_response response = {0};
    json_t *items = json_array();
    char *next_cursor = NULL;
    int exit_code = client_call_open(&call, cmd->name, cfg, args->version);
    char *path = exit_code == 0 ? jobs_path(cmd, args, NULL, &exit_code) : NULL;
    if (path)
        exit_code = client_call_pages(&call, path, cli_flag_value(cmd, args, "cursor"), all, items,
                                      &next_cursor, &response);
    free(path);
    if (exit_code != 0)
        goto done;
    if (json && !all)
        client_print_raw(&response);
    else if (json)
        client_print_items_json(items);
    else if (json_array_size(items) == 0)
        printf("no jobs\n");
    else
        print_table(stdout, items);
    if (!json && next_cursor)
        printf("next page: --cursor %s\n", next_cursor);
done:
    free(next_cursor);
    json_decref(items);
    client_response_clear(&response);
    client_call_close(&call);
    return exit_code;
}

/* dependency_json - {"id", "key", "status"} of a job resource (key: in its orchestration). */
static json_t *dependency_json(const json_t *job)
{
    return json_pack("{s:s, s:s?, s:s, s:s?}", "id", json_get_text(job, "id", "?"), "key",
                     json_get_text(job, "key", NULL), "status", json_get_text(job, "status", "?"),
                     "name", json_get_text(job, "name", NULL));
}

/* depends_on - whether job's depends_on names id. */
static bool depends_on(const json_t *job, const char *id)
{
    size_t i;
    json_t *dep;
    json_array_foreach(json_object_get(job, "depends_on"), i, dep)
    {
        if (json_is_string(dep) && strcmp(json_string_value(dep), id) == 0)
            return true;
    }
    return false;
}

/*
 * links_from_orchestration - job's upstream (its depends_on) and
 * downstream (the jobs that depend on it) among the jobs of its
 * orchestration, each with its key and status. false when the
 * orchestration cannot be read (the caller falls back).
 */
static bool links_from_orchestration(struct client_call *call, const json_t *job, json_t *upstream,
                                     json_t *downstream)
{
    const char *orchestration = json_get_text(job, "orchestration_id", NULL);
    const char *id = json_get_text(job, "id", "");
    char *path =
        orchestration ? client_call_id_path(CLIENT_ORCHESTRATIONS_PATH, orchestration, "") : NULL;
    if (!path)
        return false;
    json_t *answer = NULL;
    char *error = NULL;
    client_call_try_json(call, path, &answer, &error);
    free(error);
    free(path);
    if (!answer)
        return false;
    size_t i;
    json_t *other;
    json_array_foreach(json_object_get(answer, "jobs"), i, other)
    {
        const char *other_id = json_get_text(other, "id", "");
        if (depends_on(job, other_id))
            json_array_append_new(upstream, dependency_json(other));
        if (depends_on(other, id))
            json_array_append_new(downstream, dependency_json(other));
    }
    json_decref(answer);
    return true;
}

/* upstream_one_by_one - each of job's depends_on with its status (GET each, the first
 * JOB_UPSTREAM_LOOKUPS; the rest, or a failed look-up, with the id alone). */
static void upstream_one_by_one(struct client_call *call, const json_t *job, json_t *upstream)
{
    size_t i;
    json_t *dep;
    json_array_foreach(json_object_get(job, "depends_on"), i, dep)
    {
        const char *dep_id = json_string_value(dep);
        if (!dep_id)
            continue;
        json_t *other = NULL;
        char *error = NULL;
        char *path = i < JOB_UPSTREAM_LOOKUPS ? client_call_job_path(dep_id, "") : NULL;
        if (path)
            client_call_try_json(call, path, &other, &error);
        json_array_append_new(upstream, other
                                            ? dependency_json(other)
                                            : json_pack("{s:s, s:s}", "id", dep_id, "status", "?"));
        json_decref(other);
        free(error);
        free(path);
    }
}

/*
 * add_links - job's dependencies as "upstream" and "downstream" members
 * for job_view_print: from its orchestration when it belongs to one (the
 * API names a job's dependents nowhere else), else its depends_on looked
 * up one by one (downstream unknown: left out).
 */
static void add_links(struct client_call *call, json_t *job)
{
    json_t *upstream = json_array(), *downstream = json_array();
    if (links_from_orchestration(call, job, upstream, downstream)) {
        json_object_set_new(job, "downstream", downstream);
    } else {
        json_decref(downstream);
        json_array_clear(upstream);
        upstream_one_by_one(call, job, upstream);
    }
    json_object_set_new(job, "upstream", upstream);
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
    bool json = cli_flag_given(cmd, args, "json");
    char *path = client_call_job_path(args->positional[0], "");
    int exit_code = path ? client_call_open(&call, cmd->name, cfg, args->version) : 1;
    if (exit_code == 0 && cli_flag_given(cmd, args, "wait")) {
        exit_code = job_wait(&call, args->positional[0], json, false);
        goto done;
    }
    if (exit_code == 0)
        exit_code = client_call_json(&call, "GET", path, NULL, &response, &job);
    if (exit_code == 0 && json) {
        client_print_raw(&response);
    } else if (exit_code == 0) {
        add_links(&call, job);
        job_view_print(job, stdout);
    }
done:
    json_decref(job);
    client_response_clear(&response);
    client_call_close(&call);
    free(path);
    return exit_code;
}
