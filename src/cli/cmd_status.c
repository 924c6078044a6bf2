/*
 * cmd_status.c - `importq status`: the queue at a glance through the API
 * (GET /api/v2/import-queue/status): counts, free slots, capacity, the
 * oldest waiting job, health, open alerts and the nodes.
 * Not for: the jobs themselves (cmd_jobs.c).
 */
#include "cli/cli.h"
#include "cli/client_call.h"

#include <stdio.h>

const struct cli_flag cmd_status_flags[] = {
    {"json", false, "print the JSON answer"},
    {NULL, false, NULL},
};

static void print_nodes(const json_t *nodes)
{
    if (!json_is_array(nodes))
        return;
    printf("nodes:            %zu\n", json_array_size(nodes));
    size_t i;
    json_t *node;
    json_array_foreach(nodes, i, node) {
        const char *host = json_get_text(node, "host", NULL);
        const char *version = json_get_text(node, "version", NULL);
        const char *seen = json_get_text(node, "heartbeat_at", NULL);
        printf("  %s  %s%s%s%s%s%s%s\n", json_get_text(node, "id", "?"),
               json_get_text(node, "status", "?"), host ? "  host " : "", host ? host : "",
               version ? "  version " : "", version ? version : "", seen ? "  seen " : "",
               seen ? seen : "");
    }
}

/* Prints the status answer for people. */
static void print_status(const json_t *status)
{
    printf("health:           %s\n", json_get_text(status, "health", "?"));
    printf("queued:           %lld\n", (long long)json_get_int(status, "queued", 0));
    printf("held:             %lld\n", (long long)json_get_int(status, "held", 0));
    printf("running:          %lld of %lld (%lld slots free)\n",
           (long long)json_get_int(status, "running", 0),
           (long long)json_get_int(status, "max_concurrent", 0),
           (long long)json_get_int(status, "available_slots", 0));
    printf("completed (24h):  %lld\n", (long long)json_get_int(status, "completed_24h", 0));
    printf("failed (24h):     %lld\n", (long long)json_get_int(status, "failed_24h", 0));
    int64_t capacity = json_get_int(status, "queue_capacity", 0);
    if (capacity > 0)
        printf("queue capacity:   %lld\n", (long long)capacity);
    else
        printf("queue capacity:   unlimited\n");
    const json_t *oldest = json_object_get(status, "oldest_queued_age_s");
    if (json_is_number(oldest))
        printf("oldest queued:    %.0f s\n", json_number_value(oldest));
    else
        printf("oldest queued:    -\n");
    printf("open alerts:      %lld\n", (long long)json_get_int(status, "open_alerts", 0));
    printf("acked alerts:     %lld\n", (long long)json_get_int(status, "acked_alerts", 0));
    print_nodes(json_object_get(status, "nodes"));
}

int cmd_status(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    if (args->positional_count != 0) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    struct client_call call = {0};
    struct client_response response = {0};
    json_t *status = NULL;
    int exit_code = client_call_open(&call, cmd->name, cfg, args->version);
    if (exit_code == 0)
        exit_code = client_call_json(&call, "GET", CLIENT_QUEUE_PATH "/status", NULL, &response,
                                     &status);
    if (exit_code == 0 && cli_flag_given(cmd, args, "json"))
        client_print_raw(&response);
    else if (exit_code == 0)
        print_status(status);
    json_decref(status);
    client_response_clear(&response);
    client_call_close(&call);
    return exit_code;
}
