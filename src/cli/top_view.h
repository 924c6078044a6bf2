/*
 * top_view.h - one frame of `importq top`: the queue's header (health,
 * counts, the oldest queued job, alerts) and a line per running job with
 * its phase, a progress bar, rows, throughput and ETA, drawn from the
 * API's answers (GET /import-queue/status, GET /import-queue?status=RUNNING).
 * Drawing and the per-job throughput between frames only; the loop, the
 * terminal and the requests are cmd_top.c's.
 */
#ifndef IMPORTQ_CLI_TOP_VIEW_H
#define IMPORTQ_CLI_TOP_VIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The most running jobs a frame asks for and remembers. */
#define TOP_JOBS_MAX 200

/* What the last frame saw of one job, for its throughput in the next. */
struct top_job_sample {
    char id[40];
    int64_t bytes_read;
    int64_t seen_ms;             /* time_monotonic_ms() of the frame */
};

/* What the frames remember between them. */
struct top_memory {
    struct top_job_sample jobs[TOP_JOBS_MAX];
    size_t count;
};

/* One frame's input. */
struct top_frame {
    const char *server;          /* shown in the title */
    int64_t now_ms;              /* wall clock, for elapsed time since started_at */
    int64_t mono_ms;             /* time_monotonic_ms(), for rates between frames */
    int width;                   /* columns to fit in (>= 60 is used) */
    bool ansi;                   /* redraw in place: home, clear each line, clear below */
    const json_t *status;        /* the status answer; NULL when it failed */
    const json_t *running;       /* the items of the RUNNING page; NULL when it failed */
    const char *error;           /* why a request failed, or NULL */
};

/*
 * top_render - draw frame on out. Each job's MB/s is its bytes read since
 * the previous frame over the time between (memory), or its average since
 * it started when memory has not seen it; memory is updated for the next
 * frame. ETA = bytes left / that rate, when the size is known.
 */
void top_render(FILE *out, const struct top_frame *frame, struct top_memory *memory);

/* top_format_duration - "42s", "3m05s", "2h07m" of seconds into buf ("-" when < 0). */
void top_format_duration(double seconds, char *buf, size_t size);

#endif
