/*
 * live_view.h - the refreshing full-screen views of the client commands
 * (`importq top`, `importq jobs --watch`): a frame redrawn in place every
 * interval until q, Ctrl-C or SIGTERM, the terminal given back as it was
 * (its modes, the cursor, the screen). The same loop prints plain frames
 * one after the other when stdout is not a terminal.
 * Not for: what a frame shows (the commands draw it) or the requests.
 */
#ifndef IMPORTQ_CLI_LIVE_VIEW_H
#define IMPORTQ_CLI_LIVE_VIEW_H

#include "cli/client.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * A frame's drawing: ansi says to redraw in place (start with "\033[H",
 * end each line with "\033[K", clear below the frame with "\033[J");
 * without, plain text. The callback writes to stdout and flushes it.
 */
typedef void (*live_view_draw_cb)(void *ctx, bool ansi);

/*
 * live_view_run - draw(ctx, ansi) every interval_ms (counted from the
 * start of each frame) until q, Q, Ctrl-C (as SIGINT or as a byte), the
 * end of a keyboard's input, SIGINT or SIGTERM. With ansi: on the
 * alternate screen with the cursor hidden; the keyboard (stdin, when it
 * is a terminal) is read a key at a time without echo; all of it undone
 * before returning. client's requests in flight are abandoned on a
 * signal. Returns 0 (the only way out is the user's).
 */
int live_view_run(struct client *client, int64_t interval_ms, bool ansi, live_view_draw_cb draw,
                  void *ctx);

/* live_view_terminal_size - stdout's columns and rows, or 100 x 40 when unknown. */
void live_view_terminal_size(int *ret_columns, int *ret_rows);

#endif
