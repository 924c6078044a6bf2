/*
 * cmd_submit.c - `importq submit SPEC.json [--wait]`: POST a job spec to
 * the server and print the job's id; with --wait, follow the job until it
 * ends (job_wait.c: a progress bar on a terminal, a line per status
 * change otherwise) and exit with its outcome. Ctrl-C stops the waiting,
 * not the job.
 * Not for: running an import in-process (that is `importq import`).
 */
#include "cli/cli.h"
#include "cli/client_call.h"
#include "cli/job_wait.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A spec file larger than this is refused before it is sent. */
#define SUBMIT_MAX_SPEC_BYTES (16 * 1024 * 1024)

const struct cli_flag cmd_submit_flags[] = {
    {"wait", false, "follow the job until it ends; exit 0 COMPLETED, 1 FAILED or CANCELLED"},
    {"json", false, "print the job resource as JSON (with --wait: the final one)"},
    {NULL, false, NULL},
};

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
        exit_code = job_wait(&call, id, json, true);
done:
    json_decref(job);
    client_response_clear(&response);
    client_call_close(&call);
    free(spec);
    return exit_code;
}
