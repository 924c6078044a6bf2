/*
 * top_view.c - drawing one frame of `importq top` (top_view.h). Plain
 * text when not on a terminal; on one, every line is cleared to its end
 * and the frame starts at the top-left and clears what is below it, so a
 * redraw never flickers through a blank screen.
 */
#include "cli/top_view.h"

#include "cli/client_call.h"
#include "core/timeutil.h"

#include <string.h>

#define TOP_BAR_WIDTH 20
#define TOP_FULL_ID_WIDTH 130 /* from this many columns on, job ids are shown whole */

void top_format_duration(double seconds, char *buf, size_t size)
{
    if (seconds < 0) {
        snprintf(buf, size, "-");
        return;
    }
    long long s = (long long)(seconds + 0.5);
    if (s < 60)
        snprintf(buf, size, "%llds", s);
    else if (s < 3600)
        snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
    else
        snprintf(buf, size, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
}

/* end_line - the end of one line of the frame. */
static void end_line(FILE *out, const struct top_frame *frame)
{
    fputs(frame->ansi ? "\033[K\n" : "\n", out);
}

static void render_header(FILE *out, const struct top_frame *frame)
{
    char now[TIME_RFC3339_LEN];
    const json_t *s = frame->status;
    fprintf(out, "importq top - %s - %s - health: %s", frame->server ? frame->server : "",
            time_format_rfc3339(frame->now_ms, now), s ? json_get_text(s, "health", "?") : "?");
    end_line(out, frame);
    if (!s)
        return;
    const json_t *reasons = json_object_get(s, "health_reasons");
    size_t i;
    const json_t *reason;
    json_array_foreach(reasons, i, reason) {
        fprintf(out, "  ! %s", json_get_text(reason, "message", "?"));
        end_line(out, frame);
    }
    char oldest[32];
    top_format_duration(json_get_number(s, "oldest_queued_age_s", 0), oldest, sizeof(oldest));
    fprintf(out, "queue: %lld queued, %lld held, %lld of %lld running (%lld slots free),"
                 " oldest queued %s",
            (long long)json_get_int(s, "queued", 0), (long long)json_get_int(s, "held", 0),
            (long long)json_get_int(s, "running", 0), (long long)json_get_int(s, "max_concurrent", 0),
            (long long)json_get_int(s, "available_slots", 0),
            json_get_int(s, "queued", 0) > 0 ? oldest : "-");
    end_line(out, frame);
    int64_t capacity = json_get_int(s, "queue_capacity", 0);
    const json_t *nodes = json_object_get(s, "nodes");
    size_t alive = 0;
    const json_t *node;
    json_array_foreach(nodes, i, node) {
        if (strcmp(json_get_text(node, "status", ""), "alive") == 0)
            alive++;
    }
    char cap[48];
    if (capacity > 0)
        snprintf(cap, sizeof(cap), "%lld (%lld free)", (long long)capacity,
                 (long long)json_get_int(s, "queue_free", 0));
    else
        snprintf(cap, sizeof(cap), "unlimited");
    fprintf(out,
            "24h: %lld completed, %lld failed; alerts %lld open, %lld acked; capacity %s;"
            " nodes %zu alive",
            (long long)json_get_int(s, "completed_24h", 0),
            (long long)json_get_int(s, "failed_24h", 0), (long long)json_get_int(s, "open_alerts", 0),
            (long long)json_get_int(s, "acked_alerts", 0), cap, alive);
    end_line(out, frame);
}

/* job_rate - bytes/s of a job: since the previous frame when memory saw
 * it, else its average since it started (0 when unknown). */
static double job_rate(const struct top_frame *frame, const struct top_memory *memory,
                       const char *id, int64_t bytes_read, const char *started_at)
{
    for (size_t i = 0; i < memory->count; i++) {
        const struct top_job_sample *seen = &memory->jobs[i];
        if (strcmp(seen->id, id) != 0)
            continue;
        int64_t ms = frame->mono_ms - seen->seen_ms;
        if (ms > 0 && bytes_read >= seen->bytes_read)
            return (double)(bytes_read - seen->bytes_read) * 1000.0 / (double)ms;
    }
    int64_t started_ms = 0;
    if (!started_at || time_parse_rfc3339(started_at, &started_ms) < 0 ||
        frame->now_ms <= started_ms)
        return 0;
    return (double)bytes_read * 1000.0 / (double)(frame->now_ms - started_ms);
}

/* progress_bar - "#####......" of percent into buf (TOP_BAR_WIDTH + 1). */
static void progress_bar(double percent, char *buf)
{
    int filled = (int)(percent / 100.0 * TOP_BAR_WIDTH);
    for (int i = 0; i < TOP_BAR_WIDTH; i++)
        buf[i] = i < filled ? '#' : '.';
    buf[TOP_BAR_WIDTH] = '\0';
}

static void render_job(FILE *out, const struct top_frame *frame, const struct top_memory *memory,
                       const json_t *job, int id_width, int name_width)
{
    const char *id = json_get_text(job, "id", "?");
    const json_t *progress = json_object_get(job, "progress");
    int64_t bytes_read = json_get_int(progress, "bytes_read", 0);
    int64_t bytes_total = json_get_int(progress, "bytes_total", 0);
    double percent = json_get_number(progress, "percent", 0);
    percent = percent < 0 ? 0 : percent > 100 ? 100 : percent;
    double rate = job_rate(frame, memory, id, bytes_read, json_get_text(job, "started_at", NULL));
    char bar[TOP_BAR_WIDTH + 1], speed[32], eta[32];
    progress_bar(percent, bar);
    snprintf(speed, sizeof(speed), "%.1f", rate / 1e6);
    top_format_duration(rate > 0 && bytes_total > bytes_read
                            ? (double)(bytes_total - bytes_read) / rate
                            : -1,
                        eta, sizeof(eta));
    size_t id_len = strlen(id);
    const char *shown_id = (int)id_len > id_width ? id + id_len - (size_t)id_width : id;
    fprintf(out, "%-*s %-*.*s %-8s [%s] %5.1f%% %12lld %7s %7s", id_width, shown_id, name_width,
            name_width, json_get_text(job, "name", ""), json_get_text(progress, "phase", "?"), bar,
            percent, (long long)json_get_int(progress, "rows_read", 0), speed, eta);
    end_line(out, frame);
}

/* remember - the frame's jobs as memory for the next one. */
static void remember(const struct top_frame *frame, struct top_memory *memory)
{
    memory->count = 0;
    size_t i;
    const json_t *job;
    json_array_foreach(frame->running, i, job) {
        if (memory->count == TOP_JOBS_MAX)
            break;
        struct top_job_sample *seen = &memory->jobs[memory->count++];
        snprintf(seen->id, sizeof(seen->id), "%s", json_get_text(job, "id", ""));
        seen->bytes_read = json_get_int(json_object_get(job, "progress"), "bytes_read", 0);
        seen->seen_ms = frame->mono_ms;
    }
}

void top_render(FILE *out, const struct top_frame *frame, struct top_memory *memory)
{
    if (frame->ansi)
        fputs("\033[H", out);
    render_header(out, frame);
    if (frame->error) {
        fprintf(out, "error: %s", frame->error);
        end_line(out, frame);
    }
    end_line(out, frame);
    int width = frame->width < 60 ? 60 : frame->width;
    int id_width = width >= TOP_FULL_ID_WIDTH ? 36 : 8;
    /* The fixed columns: phase, bar and percent, rows, MB/s, ETA, spaces. */
    int name_width = width - id_width - (9 + TOP_BAR_WIDTH + 10 + 13 + 8 + 8 + 2);
    if (name_width < 8)
        name_width = 8;
    fprintf(out, "%-*s %-*s %-8s %-*s %12s %7s %7s", id_width, "JOB", name_width, "NAME",
            "PHASE", TOP_BAR_WIDTH + 9, "PROGRESS", "ROWS", "MB/s", "ETA");
    end_line(out, frame);
    size_t i;
    const json_t *job;
    json_array_foreach(frame->running, i, job)
        render_job(out, frame, memory, job, id_width, name_width);
    if (frame->running && json_array_size(frame->running) == 0) {
        fputs("(no job is running)", out);
        end_line(out, frame);
    }
    if (frame->ansi) {
        fputs("\npress q to quit\033[K\033[J", out);
    }
    fflush(out);
    if (frame->running)
        remember(frame, memory);
}
