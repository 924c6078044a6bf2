/*
 * cmd_top.c - `importq top`: a live view of the queue and its running
 * jobs through the API, like htop for imports. Each second it asks
 * GET /import-queue/status and GET /import-queue?status=RUNNING and
 * redraws the frame in place (top_view.c) on the terminal's alternate
 * screen, until q, Ctrl-C or SIGTERM; the terminal is given back as it
 * was (its modes, the cursor, the screen). With --once, or when stdout is
 * not a terminal, it prints one plain frame and exits (1 when the server
 * cannot be asked, like `importq status`).
 *
 * In the live view a failed request does not end it: the frame says why
 * and the next second tries again.
 */
#include "cli/cli.h"
#include "cli/client_call.h"
#include "cli/top_view.h"

#include "core/timeutil.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define TOP_REFRESH_MS 1000
#define TOP_RUNNING_PATH CLIENT_QUEUE_PATH "?status=RUNNING&limit=200"

const struct cli_flag cmd_top_flags[] = {
    {"once", false, "print one frame and exit (also when stdout is not a terminal)"},
    {NULL, false, NULL},
};

/* Set by SIGINT and SIGTERM; read by the loop and the HTTP client. */
static volatile sig_atomic_t top_stop;

static void stop_handler(int signo)
{
    (void)signo;
    top_stop = 1;
}

/* fetch - GET path as JSON into *ret_json; NULL and a malloc'd reason in
 * *ret_error when it fails (the live view shows it instead of exiting). */
static void fetch(struct client_call *call, const char *path, json_t **ret_json, char **ret_error)
{
    *ret_json = NULL;
    struct client_response response = {0};
    struct iq_error err = {0};
    int rc = client_request(call->client, "GET", path, NULL, &response, &err);
    if (rc < 0) {
        free(*ret_error);
        *ret_error = strdup(iq_error_message(&err));
    } else if (response.status / 100 != 2 || !client_response_is_json(&response)) {
        free(*ret_error);
        *ret_error = client_problem_message(&response);
    } else {
        *ret_json = json_loads(response.body, 0, NULL);
    }
    iq_error_clear(&err);
    client_response_clear(&response);
}

/* terminal_width - the terminal's columns, or 100 when unknown. */
static int terminal_width(void)
{
    struct winsize size;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
        return size.ws_col;
    return 100;
}

/* draw - one frame from fresh answers. */
static void draw(struct client_call *call, const struct config *cfg, bool live,
                 struct top_memory *memory)
{
    json_t *status = NULL, *page = NULL;
    char *error = NULL;
    fetch(call, CLIENT_QUEUE_PATH "/status", &status, &error);
    fetch(call, TOP_RUNNING_PATH, &page, &error);
    struct top_frame frame = {
        .server = cfg->server,
        .now_ms = time_now_ms(),
        .mono_ms = time_monotonic_ms(),
        .width = live ? terminal_width() : 100,
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

/* wait_for_key - up to ms for a key on stdin (keyboard: stdin is a
 * terminal; else only wait); true when it asks to quit (q, Q, Ctrl-C read
 * as a byte, or the end of input). */
static bool wait_for_key(int64_t ms, bool keyboard)
{
    struct pollfd fd = {.fd = STDIN_FILENO, .events = POLLIN};
    int ready = poll(&fd, keyboard ? 1 : 0, (int)ms);
    if (ready <= 0)
        return false; /* timeout, or a signal (the loop reads top_stop) */
    char key;
    ssize_t n = read(STDIN_FILENO, &key, 1);
    return n == 0 || (n == 1 && (key == 'q' || key == 'Q' || key == 3));
}

/*
 * live - the refreshing view: raw keyboard (when stdin is a terminal),
 * alternate screen, hidden cursor; all three undone before returning.
 */
static int live(struct client_call *call, const struct config *cfg)
{
    struct termios saved;
    bool keyboard = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (keyboard) {
        struct termios raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO); /* ISIG stays: Ctrl-C is SIGINT */
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    struct sigaction action = {.sa_handler = stop_handler}, previous_int, previous_term;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous_int);
    sigaction(SIGTERM, &action, &previous_term);
    client_set_interrupt(call->client, &top_stop);
    fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout);
    struct top_memory *memory = calloc(1, sizeof(*memory));
    int exit_code = memory ? 0 : 1;
    while (memory && !top_stop) {
        int64_t started = time_monotonic_ms();
        draw(call, cfg, true, memory);
        int64_t left = TOP_REFRESH_MS - (time_monotonic_ms() - started);
        if (wait_for_key(left > 0 ? left : 0, keyboard))
            break;
    }
    free(memory);
    fputs("\033[?25h\033[?1049l", stdout);
    fflush(stdout);
    client_set_interrupt(call->client, NULL);
    sigaction(SIGINT, &previous_int, NULL);
    sigaction(SIGTERM, &previous_term, NULL);
    if (keyboard)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
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
        top_stop = 0;
        bool plain = cli_flag_given(cmd, args, "once") || !isatty(STDOUT_FILENO);
        exit_code = plain ? once(&call, cfg) : live(&call, cfg);
    }
    client_call_close(&call);
    return exit_code;
}
