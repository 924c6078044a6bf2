/*
 * cmd_job_actions.c - changing one job through the API: `importq cancel
 * ID` (DELETE: a waiting job is CANCELLED at once, a running one is asked
 * to stop) and `importq execute ID` (run a HELD or future job now, or
 * retry a FAILED or CANCELLED one). Both print the job's new status; the
 * server's 404 and 409 come back as exit 1 with its explanation.
 * Not for: reading jobs (cmd_jobs.c).
 */
#include "cli/cli.h"
#include "cli/client_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct cli_flag cmd_job_action_flags[] = {
    {"json", false, "print the job resource as JSON"},
    {NULL, false, NULL},
};

/* Sends method to the job's path + suffix and prints the new status. */
static int job_action(const struct command *cmd, const struct cli_args *args,
                      const struct config *cfg, const char *method, const char *suffix)
{
    if (args->positional_count != 1) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    struct client_call call = {0};
    struct client_response response = {0};
    json_t *job = NULL;
    char *path = client_call_job_path(args->positional[0], suffix);
    int exit_code = 1;
    if (!path)
        fprintf(stderr, "importq %s: out of memory\n", cmd->name);
    else
        exit_code = client_call_open(&call, cmd->name, cfg, args->version);
    if (exit_code == 0)
        exit_code = client_call_json(&call, method, path, NULL, &response, &job);
    if (exit_code == 0 && cli_flag_given(cmd, args, "json")) {
        client_print_raw(&response);
    } else if (exit_code == 0) {
        const char *status = json_get_text(job, "status", "?");
        const char *note = "";
        bool cancel_requested = json_is_true(json_object_get(job, "cancel_requested"));
        if (strcmp(status, "RUNNING") == 0 && cancel_requested)
            note = ", cancel requested: it stops within seconds and nothing lands";
        else if (strcmp(suffix, "/execute") == 0 && strcmp(status, "QUEUED") == 0)
            note = ": it runs as soon as its dependencies and resources allow";
        printf("job %s: %s%s\n", json_get_text(job, "id", args->positional[0]), status, note);
    }
    json_decref(job);
    client_response_clear(&response);
    client_call_close(&call);
    free(path);
    return exit_code;
}

int cmd_cancel(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    return job_action(cmd, args, cfg, "DELETE", "");
}

int cmd_execute(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    return job_action(cmd, args, cfg, "POST", "/execute");
}
