/*
 * live_view.c - the loop and the terminal handling of the refreshing
 * views (live_view.h), taken out of `importq top` so that `jobs --watch`
 * shares them.
 */
#include "cli/live_view.h"

#include "core/timeutil.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* Set by SIGINT and SIGTERM; read by the loop and the HTTP client. */
static volatile sig_atomic_t live_stop;

static void stop_handler(int signo)
{
    (void)signo;
    live_stop = 1;
}

void live_view_terminal_size(int *ret_columns, int *ret_rows)
{
    struct winsize size;
    bool known = ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0;
    *ret_columns = known && size.ws_col > 0 ? size.ws_col : 100;
    *ret_rows = known && size.ws_row > 0 ? size.ws_row : 40;
}

/* wait_for_key - up to ms for a key on stdin (keyboard: stdin is a
 * terminal; else only wait); true when it asks to quit (q, Q, Ctrl-C read
 * as a byte, or the end of input). */
static bool wait_for_key(int64_t ms, bool keyboard)
{
    struct pollfd fd = {.fd = STDIN_FILENO, .events = POLLIN};
    int ready = poll(&fd, keyboard ? 1 : 0, (int)ms);
    if (ready <= 0)
        return false; /* timeout, or a signal (the loop reads live_stop) */
    char key;
    ssize_t n = read(STDIN_FILENO, &key, 1);
    return n == 0 || (n == 1 && (key == 'q' || key == 'Q' || key == 3));
}

int live_view_run(struct client *client, int64_t interval_ms, bool ansi, live_view_draw_cb draw,
                  void *ctx)
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
    live_stop = 0;
    struct sigaction action = {.sa_handler = stop_handler}, previous_int, previous_term;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous_int);
    sigaction(SIGTERM, &action, &previous_term);
    client_set_interrupt(client, &live_stop);
    if (ansi)
        fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout);
    while (!live_stop) {
        int64_t started = time_monotonic_ms();
        draw(ctx, ansi);
        int64_t left = interval_ms - (time_monotonic_ms() - started);
        if (wait_for_key(left > 0 ? left : 0, keyboard))
            break;
    }
    if (ansi)
        fputs("\033[?25h\033[?1049l", stdout);
    fflush(stdout);
    client_set_interrupt(client, NULL);
    sigaction(SIGINT, &previous_int, NULL);
    sigaction(SIGTERM, &previous_term, NULL);
    if (keyboard)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    return 0;
}
