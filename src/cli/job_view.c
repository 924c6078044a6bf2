/*
 * job_view.c - job resources rendered for a terminal. Every member is
 * optional here: a null or missing one is left out rather than printed
 * as "(null)", so a newer server's extra or absent fields do no harm.
 */
#include "cli/job_view.h"

#include "cli/client_call.h"
#include "cli/progress.h"
#include "core/timeutil.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

void job_view_result(const json_t *job, char *buf, size_t size)
{
    const json_t *result = json_object_get(job, "result");
    bool dry_run = json_is_true(json_object_get(result, "dry_run"));
    snprintf(buf, size, "%s%lld read, %lld %sinserted, %lld %supdated, %lld rejected%s",
             dry_run ? "dry run: " : "", (long long)json_get_int(result, "rows_read", 0),
             (long long)json_get_int(result, "rows_inserted", 0), dry_run ? "would be " : "",
             (long long)json_get_int(result, "rows_updated", 0), dry_run ? "would be " : "",
             (long long)json_get_int(result, "rows_rejected", 0),
             dry_run ? " (nothing was written)" : "");
}

void job_view_error(const json_t *job, char *buf, size_t size)
{
    const json_t *error = json_object_get(job, "error");
    if (json_is_string(error)) {
        snprintf(buf, size, "%s", json_string_value(error));
        return;
    }
    const char *code = json_get_text(error, "code", NULL);
    const char *message = json_get_text(error, "message", NULL);
    snprintf(buf, size, "%s%s%s", code ? code : "", code && message ? ": " : "",
             message ? message : "");
}

void job_view_duration(const json_t *job, char *buf, size_t size)
{
    int64_t started = 0, finished = 0;
    const char *started_text = json_get_text(job, "started_at", NULL);
    const char *finished_text = json_get_text(job, "finished_at", NULL);
    if (started_text && finished_text && time_parse_rfc3339(started_text, &started) == 0 &&
        time_parse_rfc3339(finished_text, &finished) == 0 && finished >= started)
        snprintf(buf, size, "%.2f s", (double)(finished - started) / 1000.0);
    else if (size > 0)
        buf[0] = '\0';
}

/* One "  label:  value" line of the detail view. */
static void line(FILE *out, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void line(FILE *out, const char *label, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(out, "  %-14s ", label);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    va_end(ap);
}

/* Prints label: obj[key] when it is a non-empty string. */
static void text_line(FILE *out, const char *label, const json_t *obj, const char *key)
{
    const char *value = json_get_text(obj, key, NULL);
    if (value && *value)
        line(out, label, "%s", value);
}

/* "a, b, c" of an array of strings (or of objects' name member) into buf. */
static void join_array(const json_t *array, const char *member, char *buf, size_t size)
{
    size_t used = 0, i;
    json_t *item;
    buf[0] = '\0';
    json_array_foreach(array, i, item) {
        const char *text = json_is_string(item) ? json_string_value(item)
                                                : json_get_text(item, member, "?");
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", text);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}

static void print_status(const json_t *job, FILE *out)
{
    const char *status = json_get_text(job, "status", "?");
    long long attempt = (long long)json_get_int(job, "attempt", 0);
    long long max_attempts = (long long)json_get_int(job, "max_attempts", 0);
    bool cancel = json_is_true(json_object_get(job, "cancel_requested"));
    line(out, "status:", "%s, attempt %lld of %lld%s", status, attempt, max_attempts,
         cancel ? " (cancel requested)" : "");
}

static void print_target_and_source(const json_t *job, FILE *out)
{
    const json_t *target = json_object_get(job, "target");
    const json_t *source = json_object_get(job, "source");
    char keys[256] = "";
    const json_t *key = json_object_get(target, "key");
    if (json_array_size(key) > 0) {
        strcpy(keys, ", key ");
        join_array(key, "name", keys + 6, sizeof(keys) - 6);
    }
    line(out, "target:", "%s (%s%s)", json_get_text(target, "table", "?"),
         json_get_text(target, "mode", "insert"), keys);
    const char *upload = json_get_text(source, "upload", NULL);
    line(out, "source:", "%s %s%s", json_get_text(source, "format", "?"),
         upload ? "upload " : "", upload ? upload : json_get_text(source, "path", "?"));
}

static void print_progress(const json_t *job, FILE *out)
{
    const json_t *progress = json_object_get(job, "progress");
    if (!json_is_object(progress))
        return;
    char bytes[80] = "", read[32], total[32];
    int64_t bytes_read = json_get_int(progress, "bytes_read", 0);
    int64_t bytes_total = json_get_int(progress, "bytes_total", 0);
    progress_format_bytes((double)bytes_read, read, sizeof(read));
    progress_format_bytes((double)bytes_total, total, sizeof(total));
    if (bytes_total > 0)
        snprintf(bytes, sizeof(bytes), ", %s of %s", read, total);
    else if (bytes_read > 0)
        snprintf(bytes, sizeof(bytes), ", %s", read);
    const char *status = json_get_text(job, "status", "");
    if (strcmp(status, "FAILED") == 0 || strcmp(status, "CANCELLED") == 0)
        /* where it stopped; "done" would read as if the rows were in */
        line(out, "progress:", "stopped at %.1f%%, %lld rows read%s (nothing loaded)",
             json_get_number(progress, "percent", 0),
             (long long)json_get_int(progress, "rows_read", 0), bytes);
    else
        line(out, "progress:", "%s %.1f%%, %lld rows read%s", json_get_text(progress, "phase", "?"),
             json_get_number(progress, "percent", 0),
             (long long)json_get_int(progress, "rows_read", 0), bytes);
}

static void print_times(const json_t *job, FILE *out)
{
    const char *created = json_get_text(job, "created_at", NULL);
    const char *by = json_get_text(job, "created_by", NULL);
    if (created)
        line(out, "created:", "%s%s%s", created, by ? " by " : "", by ? by : "");
    text_line(out, "scheduled at:", job, "scheduled_at");
    text_line(out, "started:", job, "started_at");
    char took[32];
    job_view_duration(job, took, sizeof(took));
    const char *finished = json_get_text(job, "finished_at", NULL);
    if (finished)
        line(out, "finished:", "%s%s%s%s", finished, *took ? " (took " : "", took,
             *took ? ")" : "");
    text_line(out, "updated:", job, "updated_at");
}

static void print_locks(const json_t *job, FILE *out)
{
    const json_t *locks = json_object_get(job, "locks");
    if (!json_is_array(locks))
        return;
    if (json_array_size(locks) == 0) {
        line(out, "locks:", "none held");
        return;
    }
    fprintf(out, "  locks:\n");
    size_t i;
    json_t *lock;
    json_array_foreach(locks, i, lock) {
        const char *node = json_get_text(lock, "node", NULL);
        const char *until = json_get_text(lock, "expires_at", NULL);
        fprintf(out, "    %s %s%s%s%s%s\n", json_get_text(lock, "name", "?"),
                json_get_text(lock, "mode", "?"), node ? ", node " : "", node ? node : "",
                until ? ", lease until " : "", until ? until : "");
    }
}

/* The attempt history: one line per attempt with its outcome. */
static void print_attempts(const json_t *job, FILE *out)
{
    const json_t *attempts = json_object_get(job, "attempts");
    if (json_array_size(attempts) < 2)
        return;  /* one attempt says nothing the status lines do not */
    fprintf(out, "  attempts:\n");
    size_t i;
    json_t *attempt;
    json_array_foreach(attempts, i, attempt) {
        char error[512];
        job_view_error(attempt, error, sizeof(error));
        fprintf(out, "    %lld  %-9s %s%s%s\n", (long long)json_get_int(attempt, "attempt", 0),
                json_get_text(attempt, "status", "?"), json_get_text(attempt, "started_at", "-"),
                *error ? "  " : "", error);
    }
}

void job_view_print_rejects(const json_t *job, FILE *out, size_t max)
{
    const json_t *rejects = json_object_get(job, "rejects");
    size_t i;
    json_t *reject;
    json_array_foreach(rejects, i, reject) {
        if (i == max) {
            fprintf(out, "  ... more rejects: importq job %s --json\n",
                    json_get_text(job, "id", "ID"));
            break;
        }
        const char *column = json_get_text(reject, "column", NULL);
        const char *value = json_get_text(reject, "value", NULL);
        fprintf(out, "  reject: line %lld%s%s: %s", (long long)json_get_int(reject, "line", 0),
                column ? ", column " : "", column ? column : "",
                json_get_text(reject, "error", "?"));
        if (value)
            fprintf(out, " (value \"%s\")", value);
        fputc('\n', out);
    }
}

static void print_phases(const json_t *job, FILE *out)
{
    const json_t *phases = json_object_get(job, "phases");
    if (json_array_size(phases) == 0)
        return;
    fprintf(out, "  phases:\n");
    size_t i;
    json_t *phase;
    json_array_foreach(phases, i, phase) {
        fprintf(out, "    attempt %lld  %-9s %8lld ms",
                (long long)json_get_int(phase, "attempt", 0), json_get_text(phase, "phase", "?"),
                (long long)json_get_int(phase, "duration_ms", 0));
        if (json_object_get(phase, "rows"))
            fprintf(out, "  %lld rows", (long long)json_get_int(phase, "rows", 0));
        fputc('\n', out);
    }
}

/* print_links - "upstream:"/"downstream:" with a line per job (id, key, status), when the
 * caller added them (cmd_jobs.c); true when there were upstream ones to show. */
static bool print_links(const json_t *job, FILE *out, const char *member, const char *label)
{
    const json_t *links = json_object_get(job, member);
    if (json_array_size(links) == 0)
        return false;
    fprintf(out, "  %s\n", label);
    size_t i;
    json_t *link;
    json_array_foreach(links, i, link)
    {
        const char *key = json_get_text(link, "key", NULL);
        const char *name = json_get_text(link, "name", NULL);
        fprintf(out, "    %-36s  %-9s%s%s%s%s\n", json_get_text(link, "id", "?"),
                json_get_text(link, "status", "?"), key ? "  key " : "", key ? key : "",
                name && *name ? "  " : "", name && *name ? name : "");
    }
    return true;
}

void job_view_print(const json_t *job, FILE *out)
{
    fprintf(out, "job %s\n", json_get_text(job, "id", "?"));
    text_line(out, "name:", job, "name");
    print_status(job, out);
    line(out, "priority:", "%lld", (long long)json_get_int(job, "priority", 0));
    print_target_and_source(job, out);
    char list[1024];
    const json_t *depends_on = json_object_get(job, "depends_on");
    bool upstream_shown = print_links(job, out, "upstream", "waits for (upstream):");
    print_links(job, out, "downstream", "waited for by (downstream):");
    if (!upstream_shown && json_array_size(depends_on) > 0) {
        join_array(depends_on, "id", list, sizeof(list));
        line(out, "depends on:", "%s", list);
    }
    const json_t *resources = json_object_get(job, "resources");
    if (json_array_size(resources) > 0) {
        size_t used = 0, i;
        json_t *resource;
        list[0] = '\0';
        json_array_foreach(resources, i, resource) {
            int n = snprintf(list + used, sizeof(list) - used, "%s%s %s", i ? ", " : "",
                             json_get_text(resource, "name", "?"),
                             json_get_text(resource, "mode", "?"));
            if (n < 0 || (size_t)n >= sizeof(list) - used)
                break;
            used += (size_t)n;
        }
        line(out, "resources:", "%s", list);
    }
    print_progress(job, out);
    char text[1024];
    job_view_result(job, text, sizeof(text));
    line(out, "result:", "%s", text);
    job_view_error(job, text, sizeof(text));
    if (*text)
        line(out, "error:", "%s", text);
    text_line(out, "worker:", job, "worker");
    text_line(out, "request id:", job, "request_id");
    text_line(out, "orchestration:", job, "orchestration_id");
    text_line(out, "schedule:", job, "schedule_id");
    print_times(job, out);
    print_attempts(job, out);
    print_locks(job, out);
    print_phases(job, out);
    job_view_print_rejects(job, out, JOB_VIEW_REJECTS_SHOWN);
}
