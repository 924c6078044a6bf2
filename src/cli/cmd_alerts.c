/*
 * cmd_alerts.c - `importq alerts`: the alerts on the server
 * (GET /api/v2/import-monitoring/alerts, newest first, one page) and
 * `importq alerts --ack ID` (POST .../alerts/{id}/ack, operator).
 * Not for: opening or resolving alerts (the server's alert loop does).
 */
#include "cli/cli.h"
#include "cli/client_call.h"

#include <stdio.h>
#include <string.h>

#define ALERTS_PATH "/api/v2/import-monitoring/alerts"

const struct cli_flag cmd_alerts_flags[] = {
    {"state", true, "only alerts in these states: open, acked, resolved (a comma list)",
     "open acked resolved"},
    {"limit", true, "at most this many alerts (1..500, default 50)"},
    {"ack", true, "acknowledge alert ID instead of listing"},
    {"json", false, "print the JSON answer"},
    {NULL, false, NULL},
};

/* only_chars - whether text is non-empty and made of allowed's characters. */
static bool only_chars(const char *text, const char *allowed)
{
    return text[0] && strspn(text, allowed) == strlen(text);
}

static void print_alert(const json_t *alert)
{
    json_int_t id = json_integer_value(json_object_get(alert, "id"));
    printf("%-6lld %-8s %-8s %-14s %-22s %s\n", (long long)id, json_get_text(alert, "state", "?"),
           json_get_text(alert, "severity", "?"), json_get_text(alert, "rule", "?"),
           json_get_text(alert, "created_at", "?"), json_get_text(alert, "message", ""));
    const char *acked_by = json_get_text(alert, "acked_by", NULL);
    if (acked_by)
        printf("       acknowledged by %s at %s\n", acked_by,
               json_get_text(alert, "acked_at", "?"));
}

static void print_page(const json_t *page)
{
    const json_t *items = json_object_get(page, "items");
    if (json_array_size(items) == 0) {
        printf("no alerts\n");
        return;
    }
    printf("%-6s %-8s %-8s %-14s %-22s %s\n", "ID", "STATE", "SEVERITY", "RULE", "OPENED",
           "MESSAGE");
    size_t i;
    json_t *alert;
    json_array_foreach(items, i, alert) print_alert(alert);
}

/* request_path - the list's or the ack's path into path; false on bad usage. */
static bool request_path(const struct command *cmd, struct cli_args *args, char *path, size_t size,
                         bool *ret_ack)
{
    const char *ack = cli_flag_value(cmd, args, "ack");
    const char *state = cli_flag_value(cmd, args, "state");
    const char *limit = cli_flag_value(cmd, args, "limit");
    *ret_ack = ack != NULL;
    if (ack) {
        if (state || limit || !only_chars(ack, "0123456789") || strlen(ack) > 19) {
            fprintf(stderr, "importq alerts: --ack takes an alert id (a number) alone\n");
            return false;
        }
        snprintf(path, size, ALERTS_PATH "/%s/ack", ack);
        return true;
    }
    if ((state && (!only_chars(state, "abcdeklnoprsv,") || strlen(state) > 64)) ||
        (limit && (!only_chars(limit, "0123456789") || strlen(limit) > 4))) {
        fprintf(stderr, "importq alerts: --state open|acked|resolved (comma list), --limit N\n");
        return false;
    }
    snprintf(path, size, ALERTS_PATH "%s%s%s%s%s", state || limit ? "?" : "", state ? "state=" : "",
             state ? state : "", state && limit ? "&" : "", limit ? "limit=" : "");
    if (limit)
        strncat(path, limit, size - strlen(path) - 1);
    return true;
}

int cmd_alerts(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    char path[256];
    bool ack;
    if (args->positional_count != 0 || !request_path(cmd, args, path, sizeof(path), &ack)) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    struct client_call call = {0};
    struct client_response response = {0};
    json_t *answer = NULL;
    int exit_code = client_call_open(&call, cmd->name, cfg, args->version);
    if (exit_code == 0)
        exit_code = client_call_json(&call, ack ? "POST" : "GET", path, NULL, &response, &answer);
    if (exit_code == 0 && cli_flag_given(cmd, args, "json"))
        client_print_raw(&response);
    else if (exit_code == 0 && ack)
        print_alert(answer);
    else if (exit_code == 0)
        print_page(answer);
    json_decref(answer);
    client_response_clear(&response);
    client_call_close(&call);
    return exit_code;
}
