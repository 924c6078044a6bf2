/*
 * cmd_submit.c - `importq submit SPEC.json [--wait]`: POST a job spec to
 * the server and print the job's id; with --wait, follow the job until it
 * ends (a progress bar on a terminal, a line per status change otherwise)
 * and exit with its outcome. Ctrl-C stops the waiting, not the job.
 * Not for: running an import in-process (that is `importq import`).
 */
#include "cli/cli.h"
#include "cli/client_call.h"
#include "cli/job_view.h"
#include "cli/progress.h"

#include "core/timeutil.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A spec file larger than this is refused before it is sent. */
#define SUBMIT_MAX_SPEC_BYTES (16 * 1024 * 1024)
/* Polling starts at the first interval and grows by half up to the last. */
#define WAIT_FIRST_POLL_MS 200
#define WAIT_LONGEST_POLL_MS 1000
/* While waiting, the server may be unreachable this long (a restart) before giving up. */
#define WAIT_UNREACHABLE_MS 30000
/* The exit code after Ctrl-C stopped the waiting (128 + SIGINT, as shells do). */
#define EXIT_INTERRUPTED 130

const struct cli_flag cmd_submit_flags[] = {
    {"wait", false, "follow the job until it ends; exit 0 COMPLETED, 1 FAILED or CANCELLED"},
    {"json", false, "print the job resource as JSON (with --wait: the final one)"},
    {NULL, false, NULL},
};

/* Set by SIGINT while waiting; read by the poll loop and the HTTP client. */
static volatile sig_atomic_t wait_interrupted;

static void interrupt_handler(int signal_number)
{
    wait_interrupted = 1;
}

/*
 * read_spec - the text of path ("-": stdin), checked to be a JSON object.
 * Returns a malloc'd string, or NULL after printing why (a usage error).
 */
static char *read_spec(const char *path)
{
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    const char *name = in == stdin ? "(stdin)" : path;
    if (!in) {
        fprintf(stderr, "importq submit: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t len = 0, capacity = 4096;
    char *text = malloc(capacity);
    while (text) {
        if (len + 1 == capacity) {
            char *grown = capacity >= SUBMIT_MAX_SPEC_BYTES ? NULL : realloc(text, capacity * 2);
            if (!grown) {
                fprintf(stderr, "importq submit: %s: larger than %d MiB\n", name,
                        SUBMIT_MAX_SPEC_BYTES / (1024 * 1024));
                free(text);
                text = NULL;
                break;
            }
            text = grown;
            capacity *= 2;
        }
        size_t n = fread(text + len, 1, capacity - 1 - len, in);
        len += n;
        if (n == 0)
            break;
    }
    bool read_failed = ferror(in);
    if (in != stdin)
        fclose(in);
    if (!text)
        return NULL;
    text[len] = '\0';
    json_error_t jerr;
    json_t *spec = read_failed ? NULL : json_loadb(text, len, 0, &jerr);
    if (read_failed)
        fprintf(stderr, "importq submit: %s: read error\n", name);
    else if (!spec)
        fprintf(stderr, "importq submit: %s:%d:%d: %s\n", name, jerr.line, jerr.column, jerr.text);
    else if (!json_is_object(spec))
        fprintf(stderr, "importq submit: %s: a job spec is a JSON object\n", name);
    if (!json_is_object(spec)) {
        json_decref(spec);
        free(text);
        return NULL;
    }
    json_decref(spec);
    return text;
}

/* What the wait loop remembers between polls. */
struct wait_state {
    const char *id;
    bool tty;
    bool bar_drawn;
    struct progress_bar bar;
    char last_status[16];
    int64_t unreachable_since_ms;    /* 0: the last poll answered */
};

static bool is_final(const char *status)
{
    return strcmp(status, "COMPLETED") == 0 || strcmp(status, "FAILED") == 0 ||
           strcmp(status, "CANCELLED") == 0;
}

/* Erases the bar before a line of text is written on the terminal. */
static void erase_bar(struct wait_state *state)
{
    if (state->bar_drawn)
        progress_bar_erase(&state->bar);
    state->bar_drawn = false;
}

/* Shows one polled state of the job: a status line when it changed, the bar while running. */
static void show_job(struct wait_state *state, const json_t *job)
{
    const char *status = json_get_text(job, "status", "?");
    if (strcmp(status, state->last_status) != 0) {
        erase_bar(state);
        char detail[96] = "";
        if (strcmp(status, "RUNNING") == 0)
            snprintf(detail, sizeof(detail), " (attempt %lld of %lld)",
                     (long long)json_get_int(job, "attempt", 0),
                     (long long)json_get_int(job, "max_attempts", 0));
        else if (strcmp(status, "HELD") == 0)
            snprintf(detail, sizeof(detail), " (runs after: importq execute %s)", state->id);
        fprintf(stderr, "job %s: %s%s\n", state->id, status, detail);
        snprintf(state->last_status, sizeof(state->last_status), "%s", status);
        if (strcmp(status, "RUNNING") == 0)
            progress_bar_start(&state->bar, stderr);
    }
    if (!state->tty || strcmp(status, "RUNNING") != 0)
        return;
    const json_t *progress = json_object_get(job, "progress");
    const json_t *result = json_object_get(job, "result");
    struct progress_view view = {
        .phase = json_get_text(progress, "phase", ""),
        .rows_read = json_get_int(progress, "rows_read", 0),
        .bytes_read = json_get_int(progress, "bytes_read", 0),
        .bytes_total = json_get_int(progress, "bytes_total", 0),
        .percent = json_get_number(progress, "percent", 0),
        .rejects = json_get_int(result, "rows_rejected", 0) > 0,
    };
    progress_bar_draw(&state->bar, &view);
    state->bar_drawn = true;
}

/* Sleeps ms, returning early on a signal (Ctrl-C). */
static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/*
 * poll_once - GET the job. Returns 0 with *ret_response and *ret_job (the
 * caller clears and json_decref's them); 1 to poll again (the server is
 * briefly unreachable, or Ctrl-C interrupted the request: the loop checks
 * the flag); -1 to stop, after printing why, with the exit code in
 * *ret_exit.
 */
static int poll_once(struct client_call *call, struct wait_state *state, const char *path,
                     struct client_response *ret_response, json_t **ret_job, int *ret_exit)
{
    struct iq_error err = {0};
    int rc = client_request(call->client, "GET", path, NULL, ret_response, &err);
    if (rc == IQ_E_CANCELLED || (rc < 0 && wait_interrupted)) {
        iq_error_clear(&err);
        return 1;
    }
    if (rc == IQ_E_UNAVAILABLE || rc == IQ_E_TIMEOUT ||
        (rc == 0 && (ret_response->status == 502 || ret_response->status == 503))) {
        int64_t now = time_monotonic_ms();
        if (!state->unreachable_since_ms) {
            state->unreachable_since_ms = now;
            erase_bar(state);
            fprintf(stderr, "importq submit: lost the server (%s); retrying for %d s\n",
                    rc < 0 ? iq_error_message(&err) : "unavailable", WAIT_UNREACHABLE_MS / 1000);
        }
        if (now - state->unreachable_since_ms < WAIT_UNREACHABLE_MS) {
            client_response_clear(ret_response);
            iq_error_clear(&err);
            return 1;
        }
    }
    if (rc < 0 || ret_response->status != 200) {
        erase_bar(state);
        *ret_exit = client_call_report(call, rc, &err, ret_response);
        client_response_clear(ret_response);
        iq_error_clear(&err);
        return -1;
    }
    state->unreachable_since_ms = 0;
    *ret_job = json_loadb(ret_response->body, ret_response->body_len, 0, NULL);
    if (!json_is_object(*ret_job)) {
        erase_bar(state);
        fprintf(stderr, "importq submit: unexpected answer while waiting: not a JSON job\n");
        json_decref(*ret_job);
        *ret_job = NULL;
        client_response_clear(ret_response);
        *ret_exit = 1;
        return -1;
    }
    return 0;
}

/* Prints the job's outcome and returns the exit code it means. */
static int report_outcome(const json_t *job, const struct client_response *response, bool json)
{
    const char *status = json_get_text(job, "status", "?");
    const char *id = json_get_text(job, "id", "?");
    char text[1024], took[32];
    if (json)
        client_print_raw(response);
    if (strcmp(status, "COMPLETED") == 0) {
        job_view_result(job, text, sizeof(text));
        job_view_duration(job, took, sizeof(took));
        if (!json)
            printf("job %s COMPLETED: %s%s%s\n", id, text, *took ? " in " : "", took);
        return 0;
    }
    job_view_error(job, text, sizeof(text));
    fprintf(stderr, "importq submit: job %s %s: %s\n", id, status,
            *text ? text : "no error recorded");
    job_view_print_rejects(job, stderr, JOB_VIEW_REJECTS_SHOWN);
    return 1;
}

/*
 * wait_for_job - poll the job until it is final or Ctrl-C. Returns the
 * exit code (0 COMPLETED, 1 FAILED/CANCELLED/error, 130 interrupted).
 */
static int wait_for_job(struct client_call *call, const char *id, bool json)
{
    char *path = client_call_job_path(id, "");
    if (!path) {
        fprintf(stderr, "importq submit: out of memory\n");
        return 1;
    }
    struct sigaction action = {.sa_handler = interrupt_handler}, previous;
    sigemptyset(&action.sa_mask);
    wait_interrupted = 0;
    sigaction(SIGINT, &action, &previous);
    client_set_interrupt(call->client, &wait_interrupted);

    struct wait_state state = {.id = id, .tty = isatty(STDERR_FILENO)};
    int exit_code = EXIT_INTERRUPTED;
    int64_t interval_ms = WAIT_FIRST_POLL_MS;
    while (!wait_interrupted) {
        struct client_response response;
        json_t *job = NULL;
        int rc = poll_once(call, &state, path, &response, &job, &exit_code);
        if (rc < 0)
            break;
        if (rc == 0) {
            show_job(&state, job);
            bool done = is_final(json_get_text(job, "status", "?"));
            if (done) {
                erase_bar(&state);
                exit_code = report_outcome(job, &response, json);
            }
            json_decref(job);
            client_response_clear(&response);
            if (done)
                break;
        }
        if (!wait_interrupted)
            sleep_ms(interval_ms);
        interval_ms = interval_ms * 3 / 2;
        if (interval_ms > WAIT_LONGEST_POLL_MS)
            interval_ms = WAIT_LONGEST_POLL_MS;
    }
    if (exit_code == EXIT_INTERRUPTED) {
        erase_bar(&state);
        fprintf(stderr,
                "importq submit: stopped waiting; job %s goes on, it is not cancelled "
                "(follow it: importq job %s; cancel it: importq cancel %s)\n",
                id, id, id);
    }
    client_set_interrupt(call->client, NULL);
    sigaction(SIGINT, &previous, NULL);
    free(path);
    return exit_code;
}

int cmd_submit(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    if (args->positional_count != 1) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    bool json = cli_flag_given(cmd, args, "json");
    bool wait = cli_flag_given(cmd, args, "wait");
    char *spec = read_spec(args->positional[0]);
    if (!spec)
        return EXIT_USAGE;
    struct client_call call = {0};
    struct client_response response = {0};
    json_t *job = NULL;
    int exit_code = client_call_open(&call, cmd->name, cfg, args->version);
    if (exit_code == 0)
        exit_code = client_call_json(&call, "POST", CLIENT_QUEUE_PATH, spec, &response, &job);
    if (exit_code != 0)
        goto done;
    const char *id = json_get_text(job, "id", NULL);
    if (!id) {
        fprintf(stderr, "importq submit: the server's answer has no job id\n");
        exit_code = 1;
        goto done;
    }
    if (!json)
        printf("%s\n", id);
    else if (!wait)
        client_print_raw(&response);
    fflush(stdout);
    if (response.status == 200)
        fprintf(stderr, "importq submit: existing job %s (its request_id was submitted before), "
                        "status %s\n", id, json_get_text(job, "status", "?"));
    if (wait)
        exit_code = wait_for_job(&call, id, json);
done:
    json_decref(job);
    client_response_clear(&response);
    client_call_close(&call);
    free(spec);
    return exit_code;
}
