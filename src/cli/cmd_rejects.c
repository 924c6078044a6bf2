/*
 * cmd_rejects.c - `importq rejects ID`: a job's rejected rows as the
 * server's CSV (GET /import-queue/{id}/rejects: line,column,value,error
 * and, for JSON sources, record,pointer), written to stdout as it
 * arrives, so `importq rejects ID > bad.csv` keeps them. The CSV is the
 * raw answer; there is no other form to print.
 * Not for: the first rejects in the job's detail (`importq job ID`).
 */
#include "cli/cli.h"
#include "cli/client_call.h"

#include <stdio.h>
#include <stdlib.h>

int cmd_rejects(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    if (args->positional_count != 1) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    char *path = client_call_job_path(args->positional[0], "/rejects");
    struct client_call call = {0};
    struct client_response response = {0};
    struct iq_error err = {0};
    int exit_code = path ? client_call_open(&call, cmd->name, cfg, args->version) : 1;
    if (exit_code == 0) {
        int rc = client_request_download(call.client, path, stdout, &response, &err);
        if (rc == 0 && response.status / 100 == 2 && fflush(stdout) != 0)
            rc = iq_error_set(&err, IQ_E_IO, "cannot write the rejects to stdout");
        if (rc < 0 || response.status / 100 != 2)
            exit_code = client_call_report(&call, rc, &err, &response);
    }
    iq_error_clear(&err);
    client_response_clear(&response);
    client_call_close(&call);
    free(path);
    return exit_code;
}
