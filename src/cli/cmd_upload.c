/*
 * cmd_upload.c - `importq upload FILE`: POST /api/v2/uploads with the
 * file's bytes, streamed from disk as they are sent (never read whole
 * into memory), and print the upload's id, size and SHA-256; a job then
 * names it with "source": {"upload": ID}. A 413 says the server's limit.
 * Not for: submitting the job (cmd_submit.c).
 */
#include "cli/cli.h"
#include "cli/client_call.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define UPLOADS_PATH "/api/v2/uploads"

const struct cli_flag cmd_upload_flags[] = {
    {"json", false, "print the server's JSON answer ({\"id\", \"bytes\", \"sha256\"})"},
    {NULL, false, NULL},
};

/* open_upload - path opened for reading, its size in *ret_bytes; NULL after printing why. */
static FILE *open_upload(const char *path, int64_t *ret_bytes)
{
    FILE *file = fopen(path, "rb");
    struct stat st;
    if (!file || fstat(fileno(file), &st) < 0) {
        fprintf(stderr, "importq upload: cannot read %s: %s\n", path, strerror(errno));
        if (file)
            fclose(file);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "importq upload: %s is not a regular file (its size must be known)\n",
                path);
        fclose(file);
        return NULL;
    }
    *ret_bytes = (int64_t)st.st_size;
    return file;
}

/* report - the answer: the upload, or why not (413: the limit). Returns the exit code. */
static int report(const struct client_call *call, const char *path, bool json,
                  const struct client_response *response)
{
    if (response->status == 413) {
        char *message = client_problem_message(response);
        fprintf(stderr, "importq upload: %s is larger than the server accepts (%s)\n", path,
                message ? message : "HTTP 413");
        free(message);
        return 1;
    }
    if (response->status / 100 != 2)
        return client_call_report(call, 0, NULL, response);
    json_t *upload = client_response_is_json(response)
                         ? json_loadb(response->body, response->body_len, 0, NULL)
                         : NULL;
    if (!json_is_object(upload)) {
        fprintf(stderr, "importq upload: unexpected answer (HTTP %ld): not a JSON object\n",
                response->status);
        json_decref(upload);
        return 1;
    }
    if (json) {
        client_print_raw(response);
    } else {
        printf("id:      %s\n", json_get_text(upload, "id", "?"));
        printf("bytes:   %lld\n", (long long)json_get_int(upload, "bytes", 0));
        printf("sha256:  %s\n", json_get_text(upload, "sha256", "?"));
    }
    json_decref(upload);
    return 0;
}

int cmd_upload(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    if (args->positional_count != 1) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    const char *path = args->positional[0];
    int64_t bytes = 0;
    FILE *file = open_upload(path, &bytes);
    if (!file)
        return EXIT_USAGE;
    struct client_call call = {0};
    struct client_response response = {0};
    struct iq_error err = {0};
    int exit_code = client_call_open(&call, cmd->name, cfg, args->version);
    if (exit_code == 0) {
        int rc = client_request_upload(call.client, UPLOADS_PATH, file, bytes, &response, &err);
        exit_code = rc < 0 ? client_call_report(&call, rc, &err, &response)
                           : report(&call, path, cli_flag_given(cmd, args, "json"), &response);
    }
    fclose(file);
    iq_error_clear(&err);
    client_response_clear(&response);
    client_call_close(&call);
    return exit_code;
}
