/*
 * progress.h - the one-line progress bar the CLI redraws in place on a
 * terminal (importq import, importq submit --wait): phase, a 30-character
 * bar, percent, rows, throughput and ETA. Not for deciding whether to draw
 * one: the caller checks isatty and its own --quiet.
 */
#ifndef IMPORTQ_CLI_PROGRESS_H
#define IMPORTQ_CLI_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Where the bar is drawn and since when the work it shows is measured. */
struct progress_bar {
    FILE *out;
    int64_t started_ms;          /* time_monotonic_ms() at the start */
};

/* What one redraw shows. */
struct progress_view {
    const char *phase;           /* "read", "stage", ... */
    int64_t rows_read;
    int64_t bytes_read;
    int64_t bytes_total;         /* 0: unknown (no ETA) */
    double percent;              /* 0..100, clamped */
    bool rejects;                /* some rows were rejected so far */
};

/* progress_bar_start - draw on out, measuring throughput from now. */
void progress_bar_start(struct progress_bar *bar, FILE *out);

/* progress_bar_draw - redraw the line in place (no newline). */
void progress_bar_draw(const struct progress_bar *bar, const struct progress_view *view);

/* progress_bar_erase - wipe the line, so that a message can follow. */
void progress_bar_erase(const struct progress_bar *bar);

/* progress_bar_seconds - seconds since progress_bar_start. */
double progress_bar_seconds(const struct progress_bar *bar);

/* progress_format_bytes - "950 B", "1.2 MB" (decimal units) into buf. */
void progress_format_bytes(double bytes, char *buf, size_t size);

#endif
