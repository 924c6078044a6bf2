/*
 * job_wait.c - the wait loop behind `submit --wait` and `job ID --wait`
 * (job_wait.h): poll GET /import-queue/{id} at a growing interval (200 ms
 * up to 1 s), show each status change, draw the progress bar while it
 * runs, and map the final status to the exit code.
 */
#include "cli/job_wait.h"

#include "cli/job_view.h"
#include "cli/progress.h"
#include "core/timeutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Polling starts at the first interval and grows by half up to the last. */
#define WAIT_FIRST_POLL_MS 200
#define WAIT_LONGEST_POLL_MS 1000
/* While waiting, the server may be unreachable this long (a restart) before giving up. */
#define WAIT_UNREACHABLE_MS 30000

/* Set by SIGINT while waiting; read by the poll loop and the HTTP client. */
static volatile sig_atomic_t wait_interrupted;

static void interrupt_handler(int signal_number)
{
    (void)signal_number;
    wait_interrupted = 1;
}

/* What the wait loop remembers between polls. */
struct wait_state {
    const char *id;
    bool tty;
    bool bar_drawn;
    struct progress_bar bar;
    char last_status[16];
    int64_t unreachable_since_ms; /* 0: the last poll answered */
    bool server_seen;             /* the server answered once: retry when it does not */
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
    if ((state->server_seen && (rc == IQ_E_UNAVAILABLE || rc == IQ_E_TIMEOUT)) ||
        (rc == 0 && (ret_response->status == 502 || ret_response->status == 503))) {
        int64_t now = time_monotonic_ms();
        if (!state->unreachable_since_ms) {
            state->unreachable_since_ms = now;
            erase_bar(state);
            fprintf(stderr, "importq %s: lost the server (%s); retrying for %d s\n", call->command,
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
    state->server_seen = true;
    *ret_job = json_loadb(ret_response->body, ret_response->body_len, 0, NULL);
    if (!json_is_object(*ret_job)) {
        erase_bar(state);
        fprintf(stderr, "importq %s: unexpected answer while waiting: not a JSON job\n",
                call->command);
        json_decref(*ret_job);
        *ret_job = NULL;
        client_response_clear(ret_response);
        *ret_exit = 1;
        return -1;
    }
    return 0;
}

/* Prints the job's outcome and returns the exit code it means. */
static int report_outcome(const struct client_call *call, const json_t *job,
                          const struct client_response *response, bool json)
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
    fprintf(stderr, "importq %s: job %s %s: %s\n", call->command, id, status,
            *text ? text : "no error recorded");
    job_view_print_rejects(job, stderr, JOB_VIEW_REJECTS_SHOWN);
    return 1;
}

int job_wait(struct client_call *call, const char *id, bool json, bool server_seen)
{
    char *path = client_call_job_path(id, "");
    if (!path) {
        fprintf(stderr, "importq %s: out of memory\n", call->command);
        return 1;
    }
    struct sigaction action = {.sa_handler = interrupt_handler}, previous;
    sigemptyset(&action.sa_mask);
    wait_interrupted = 0;
    sigaction(SIGINT, &action, &previous);
    client_set_interrupt(call->client, &wait_interrupted);

    struct wait_state state = {.id = id, .tty = isatty(STDERR_FILENO), .server_seen = server_seen};
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
                exit_code = report_outcome(call, job, &response, json);
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
                "importq %s: stopped waiting; job %s goes on, it is not cancelled "
                "(follow it: importq job %s; cancel it: importq cancel %s)\n",
                call->command, id, id, id);
    }
    client_set_interrupt(call->client, NULL);
    sigaction(SIGINT, &previous, NULL);
    free(path);
    return exit_code;
}
