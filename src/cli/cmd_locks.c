/*
 * cmd_locks.c - the resource locks through the API: `importq locks
 * [list]` (GET /import-resources: the held locks with the lease each has
 * left, and the runnable jobs waiting for one) and `importq locks release
 * ID` (DELETE /import-resources/{id}: an admin's force-release; the job
 * that held it is not stopped). --json prints the server's answer.
 * Not for: lock statistics (GET /import-resources/stats).
 */
#include "cli/cli.h"
#include "cli/client_call.h"
#include "cli/top_view.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESOURCES_PATH "/api/v2/import-resources"

const struct cli_flag cmd_locks_flags[] = {
    {"json", false, "print the server's JSON answer"},
    {NULL, false, NULL},
};

static int usage(const struct command *cmd)
{
    fprintf(stderr, "usage: %s\n", cmd->usage);
    return EXIT_USAGE;
}

/* lease_left - "4m12s" until expires_at, "expired" when past, "?" when unreadable. */
static void lease_left(const char *expires_at, char *buf, size_t size)
{
    int64_t expires_ms;
    if (!expires_at || time_parse_rfc3339(expires_at, &expires_ms) < 0) {
        snprintf(buf, size, "?");
        return;
    }
    int64_t left_ms = expires_ms - time_now_ms();
    if (left_ms < 0)
        snprintf(buf, size, "expired");
    else
        top_format_duration((double)left_ms / 1000.0, buf, size);
}

/* join_strings - "a, b" of an array of strings (or objects' member) into buf. */
static void join_strings(const json_t *array, const char *member, char *buf, size_t size)
{
    size_t used = 0, i;
    json_t *item;
    buf[0] = '\0';
    json_array_foreach(array, i, item)
    {
        const char *text =
            json_is_string(item) ? json_string_value(item) : json_get_text(item, member, "?");
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", text);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}

static void print_locks(const json_t *locks)
{
    if (json_array_size(locks) == 0) {
        printf("no locks held\n");
        return;
    }
    printf("%-36s  %-24s  %-9s  %-36s  %-10s  %s\n", "LOCK", "RESOURCE", "MODE", "JOB",
           "LEASE LEFT", "NODE");
    size_t i;
    json_t *lock;
    json_array_foreach(locks, i, lock)
    {
        char left[32];
        lease_left(json_get_text(lock, "expires_at", NULL), left, sizeof(left));
        printf("%-36s  %-24s  %-9s  %-36s  %-10s  %s\n", json_get_text(lock, "id", "?"),
               json_get_text(lock, "name", "?"), json_get_text(lock, "mode", "?"),
               json_get_text(lock, "job_id", "?"), left, json_get_text(lock, "node", "-"));
    }
}

static void print_waiting(const json_t *waiting)
{
    if (json_array_size(waiting) == 0) {
        printf("\nno job is waiting for a lock\n");
        return;
    }
    printf("\nwaiting for a lock:\n");
    size_t i;
    json_t *job;
    json_array_foreach(waiting, i, job)
    {
        char resources[512], blockers[512];
        join_strings(json_object_get(job, "resources"), "name", resources, sizeof(resources));
        join_strings(json_object_get(job, "blocked_by"), "id", blockers, sizeof(blockers));
        const char *name = json_get_text(job, "name", "");
        printf("  job %s%s%s%s (priority %lld) wants %s; blocked by lock %s\n",
               json_get_text(job, "job_id", "?"), *name ? " \"" : "", name, *name ? "\"" : "",
               (long long)json_get_int(job, "priority", 0), resources, blockers);
    }
}

static void print_resources(const json_t *answer)
{
    print_locks(json_object_get(answer, "locks"));
    print_waiting(json_object_get(answer, "waiting"));
}

/*
 * run_release - DELETE the lock. A 403 gets its own message: only an
 * admin token may force-release. Returns the exit code.
 */
static int run_release(const struct command *cmd, const struct cli_args *args,
                       const struct config *cfg)
{
    if (args->positional_count != 2)
        return usage(cmd);
    const char *id = args->positional[1];
    char *path = client_call_id_path(RESOURCES_PATH, id, "");
    struct client_call call = {0};
    struct client_response response = {0};
    struct iq_error err = {0};
    int exit_code = path ? client_call_open(&call, cmd->name, cfg, args->version) : 1;
    if (exit_code != 0)
        goto done;
    int rc = client_request(call.client, "DELETE", path, NULL, &response, &err);
    if (rc == 0 && response.status == 403) {
        fprintf(stderr, "importq locks: releasing a lock needs an admin token (--token or"
                        " IMPORTQ_TOKEN); this one's role is too weak\n");
        exit_code = 1;
    } else if (rc < 0 || response.status / 100 != 2) {
        exit_code = client_call_report(&call, rc, &err, &response);
    } else if (cli_flag_given(cmd, args, "json")) {
        client_print_raw(&response);
    } else {
        printf("lock %s released (the job that held it goes on; its commit is fenced)\n", id);
    }
done:
    iq_error_clear(&err);
    client_response_clear(&response);
    client_call_close(&call);
    free(path);
    return exit_code;
}

int cmd_locks(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    const char *sub = args->positional_count > 0 ? args->positional[0] : "list";
    if (strcmp(sub, "list") == 0)
        return args->positional_count <= 1
                   ? client_call_print(cmd->name, cfg, args->version,
                                       cli_flag_given(cmd, args, "json"), "GET", RESOURCES_PATH,
                                       NULL, print_resources)
                   : usage(cmd);
    if (strcmp(sub, "release") == 0)
        return run_release(cmd, args, cfg);
    fprintf(stderr, "importq locks: unknown subcommand \"%s\" (list, release)\n", sub);
    return EXIT_USAGE;
}
