/*
 * cmd_top.c - `importq top`: a live view of the queue and its running
 * jobs through the API, like htop for imports. Each second it asks
 * GET /import-queue/status and GET /import-queue?status=RUNNING and
 * redraws the frame in place (top_view.c) on the terminal's alternate
 * screen, until q, Ctrl-C or SIGTERM; the terminal is given back as it
 * was (its modes, the cursor, the screen: live_view.c). With --once, or when stdout is
 * not a terminal, it prints one plain frame and exits (1 when the server
 * cannot be asked, like `importq status`).
 *
 * In the live view a failed request does not end it: the frame says why
 * and the next second tries again.
 */
#include "cli/cli.h"
#include "cli/client_call.h"
#include "cli/live_view.h"
#include "cli/top_view.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOP_REFRESH_MS 1000
#define TOP_RUNNING_PATH CLIENT_QUEUE_PATH "?status=RUNNING&limit=200"

const struct cli_flag cmd_top_flags[] = {
    {"once", false, "print one frame and exit (also when stdout is not a terminal)"},
    {NULL, false, NULL},
};

/* What each frame of the live view needs. */
struct top_live {
    struct client_call *call;
    const struct config *cfg;
    struct top_memory memory;
};

/* draw - one frame from fresh answers. */
static void draw(struct client_call *call, const struct config *cfg, bool live,
                 struct top_memory *memory)
{
    int columns = 100, rows;
    if (live)
        live_view_terminal_size(&columns, &rows);
    json_t *status = NULL, *page = NULL;
    char *error = NULL;
    client_call_try_json(call, CLIENT_QUEUE_PATH "/status", &status, &error);
    client_call_try_json(call, TOP_RUNNING_PATH, &page, &error);
    struct top_frame frame = {
        .server = cfg->server,
        .now_ms = time_now_ms(),
        .mono_ms = time_monotonic_ms(),
        .width = columns,
        .ansi = live,
        .status = status,
        .running = page ? json_object_get(page, "items") : NULL,
        .error = error,
    };
    top_render(stdout, &frame, memory);
    free(error);
    json_decref(status);
    json_decref(page);
}

/* once - the plain frame; the exit code of the first failed request. */
static int once(struct client_call *call, const struct config *cfg)
{
    struct client_response response = {0};
    json_t *status = NULL, *page = NULL;
    int exit_code = client_call_json(call, "GET", CLIENT_QUEUE_PATH "/status", NULL, &response,
                                     &status);
    client_response_clear(&response);
    if (exit_code == 0)
        exit_code = client_call_json(call, "GET", TOP_RUNNING_PATH, NULL, &response, &page);
    client_response_clear(&response);
    if (exit_code == 0) {
        struct top_memory memory = {0};
        struct top_frame frame = {
            .server = cfg->server,
            .now_ms = time_now_ms(),
            .mono_ms = time_monotonic_ms(),
            .width = 100,
            .status = status,
            .running = json_object_get(page, "items"),
        };
        top_render(stdout, &frame, &memory);
    }
    json_decref(status);
    json_decref(page);
    return exit_code;
}

/* draw_live_cb - a frame of the live view (live_view_run's callback). */
static void draw_live_cb(void *ctx, bool ansi)
{
    struct top_live *top = ctx;
    draw(top->call, top->cfg, ansi, &top->memory);
}

/* live - the refreshing view (live_view.c: the terminal's modes, the keys). */
static int live(struct client_call *call, const struct config *cfg)
{
    struct top_live *top = calloc(1, sizeof(*top));
    if (!top) {
        fprintf(stderr, "importq top: out of memory\n");
        return 1;
    }
    top->call = call;
    top->cfg = cfg;
    int exit_code = live_view_run(call->client, TOP_REFRESH_MS, true, draw_live_cb, top);
    free(top);
    return exit_code;
}

int cmd_top(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    if (args->positional_count != 0) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    struct client_call call = {0};
    int exit_code = client_call_open(&call, cmd->name, cfg, args->version);
    if (exit_code == 0) {
        bool plain = cli_flag_given(cmd, args, "once") || !isatty(STDOUT_FILENO);
        exit_code = plain ? once(&call, cfg) : live(&call, cfg);
    }
    client_call_close(&call);
    return exit_code;
}
