/*
 * progress.c - the terminal progress bar shared by the commands that wait
 * for an import. Drawing only: no timers, no decisions about when.
 */
#include "cli/progress.h"

#include "core/timeutil.h"

#include <string.h>

#define PROGRESS_BAR_WIDTH 30

void progress_bar_start(struct progress_bar *bar, FILE *out)
{
    bar->out = out;
    bar->started_ms = time_monotonic_ms();
}

double progress_bar_seconds(const struct progress_bar *bar)
{
    return (double)(time_monotonic_ms() - bar->started_ms) / 1000.0;
}

void progress_format_bytes(double bytes, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000.0 && u < 4) {
        bytes /= 1000.0;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

void progress_bar_draw(const struct progress_bar *bar, const struct progress_view *view)
{
    double seconds = progress_bar_seconds(bar);
    double rate = seconds > 0 ? (double)view->bytes_read / seconds : 0;
    char speed[32];
    progress_format_bytes(rate, speed, sizeof(speed));
    double percent = view->percent < 0 ? 0 : view->percent > 100 ? 100 : view->percent;
    char line[PROGRESS_BAR_WIDTH + 1];
    int filled = (int)(percent / 100.0 * PROGRESS_BAR_WIDTH);
    for (int i = 0; i < PROGRESS_BAR_WIDTH; i++)
        line[i] = i < filled ? '#' : '.';
    line[PROGRESS_BAR_WIDTH] = '\0';
    char eta[32] = "";
    const char *phase = view->phase ? view->phase : "";
    if (rate > 0 && view->bytes_total > view->bytes_read && strcmp(phase, "read") == 0)
        snprintf(eta, sizeof(eta), " ETA %.0fs",
                 (double)(view->bytes_total - view->bytes_read) / rate);
    fprintf(bar->out, "\r\033[K%-8s [%s] %5.1f%% %lld rows %s/s%s%s", phase, line, percent,
            (long long)view->rows_read, speed, eta, view->rejects ? " (rejects)" : "");
    fflush(bar->out);
}

void progress_bar_erase(const struct progress_bar *bar)
{
    fprintf(bar->out, "\r\033[K");
    fflush(bar->out);
}
