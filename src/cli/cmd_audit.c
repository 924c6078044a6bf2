/*
 * cmd_audit.c - the audit trail: `importq audit verify` walks its hash
 * chain in the service database and says whether it holds (exit 0) or
 * where it breaks (exit 1) - read-only, the schema must be current (it
 * never migrates); `importq audit list` reads its rows through the API
 * (GET /api/v2/import-audit, newest first, filters as flags, --all
 * follows the cursors).
 */
#include "cli/cli.h"
#include "cli/client_call.h"

#include "store/store.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_PATH "/api/v2/import-audit"

const struct cli_flag cmd_audit_flags[] = {
    {"json", false,
     "print the JSON answer (verify: {\"ok\",\"rows_checked\",\"first_bad_id\",\"reason\"})"},
    {"entity", true, "list: only rows about this kind of entity (job, schedule, lock, token, ...)"},
    {"entity-id", true, "list: only rows about this entity (a job id, ...)"},
    {"actor", true, "list: only rows by this actor (a token's name, cli:USER, engine)"},
    {"action", true, "list: only this action (job.create, lock.released, ...)"},
    {"since", true, "list: only rows at or after this RFC 3339 time"},
    {"until", true, "list: only rows before this RFC 3339 time"},
    {"limit", true, "list: rows per page (server default 50)"},
    {"cursor", true, "list: start at this page (from a previous \"next page\" hint)"},
    {"all", false, "list: follow the cursors and list every matching row"},
    {NULL, false, NULL},
};

/* The list's filters: flag name and query parameter. */
static const struct {
    const char *flag;
    const char *query;
} audit_filters[] = {
    {"entity", "entity"}, {"entity-id", "entity_id"}, {"actor", "actor"}, {"action", "action"},
    {"since", "since"},   {"until", "until"},         {"limit", "limit"},
};
#define AUDIT_FILTER_COUNT (sizeof(audit_filters) / sizeof(audit_filters[0]))

/* print_rows - the rows as a table. */
static void print_rows(const json_t *items)
{
    if (json_array_size(items) == 0) {
        printf("no audit rows\n");
        return;
    }
    printf("%-8s  %-24s  %-20s  %-24s  %-10s  %s\n", "ID", "AT", "ACTOR", "ACTION", "ENTITY",
           "ENTITY ID");
    size_t i;
    json_t *row;
    json_array_foreach(items, i, row)
    {
        printf("%-8lld  %-24s  %-20s  %-24s  %-10s  %s\n", (long long)json_get_int(row, "id", 0),
               json_get_text(row, "at", "-"), json_get_text(row, "actor", "-"),
               json_get_text(row, "action", "-"), json_get_text(row, "entity", "-"),
               json_get_text(row, "entity_id", "-"));
    }
}

/* audit_list - `audit list`. Returns the exit code. */
static int audit_list(const struct command *cmd, const struct cli_args *args,
                      const struct config *cfg)
{
    char path[4096] = AUDIT_PATH;
    for (size_t i = 0; i < AUDIT_FILTER_COUNT; i++)
        if (client_query_add(path, sizeof(path), audit_filters[i].query,
                             cli_flag_value(cmd, args, audit_filters[i].flag)) < 0) {
            fprintf(stderr, "importq audit: the filters are too long\n");
            return EXIT_USAGE;
        }
    bool json = cli_flag_given(cmd, args, "json");
    bool all = cli_flag_given(cmd, args, "all");
    struct client_call call = {0};
    struct client_response response = {0};
    json_t *items = json_array();
    char *next_cursor = NULL;
    int exit_code = items ? client_call_open(&call, "audit list", cfg, args->version) : 1;
    if (exit_code == 0)
        exit_code = client_call_pages(&call, path, cli_flag_value(cmd, args, "cursor"), all, items,
                                      &next_cursor, &response);
    if (exit_code == 0 && json && !all) {
        client_print_raw(&response);
    } else if (exit_code == 0 && json) {
        client_print_items_json(items);
    } else if (exit_code == 0) {
        print_rows(items);
        if (next_cursor)
            printf("next page: --cursor %s\n", next_cursor);
    }
    free(next_cursor);
    json_decref(items);
    client_response_clear(&response);
    client_call_close(&call);
    return exit_code;
}

/* audit_verify - `audit verify`. Returns the exit code. */
static int audit_verify(const struct command *cmd, const struct cli_args *args,
                        const struct config *cfg)
{
    struct store *store = NULL;
    int exit_code = cli_store_open_current("audit verify", cfg, &store);
    if (exit_code != 0)
        return exit_code;
    struct audit_verify_result result;
    struct iq_error err = {0};
    int rc = store_audit_verify(store, &result, &err);
    store_close(store);
    if (rc < 0) {
        fprintf(stderr, "importq audit verify: %s\n", iq_error_message(&err));
        iq_error_clear(&err);
        return 1;
    }
    if (cli_flag_given(cmd, args, "json")) {
        /* the shape GET /api/v2/import-audit/verify answers with */
        json_t *json = json_pack("{s:b,s:I,s:o}", "ok", result.ok, "rows_checked",
                                 (json_int_t)result.rows_checked, "first_bad_id",
                                 result.ok ? json_null() : json_integer(result.first_bad_id));
        if (json && !result.ok)
            json_object_set_new(json, "reason", json_string(result.reason));
        if (!json || json_dumpf(json, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0) {
            json_decref(json);
            fprintf(stderr, "importq audit verify: out of memory\n");
            return 1;
        }
        json_decref(json);
        fputc('\n', stdout);
    } else if (result.ok) {
        printf("ok: %" PRId64 " rows checked\n", result.rows_checked);
    } else {
        printf("broken at row %" PRId64 ": %s\n", result.first_bad_id, result.reason);
    }
    return result.ok ? 0 : 1;
}

int cmd_audit(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    if (args->positional_count == 1 && strcmp(args->positional[0], "list") == 0)
        return audit_list(cmd, args, cfg);
    bool list_flags = cli_flag_given(cmd, args, "all");
    for (size_t i = 0; i < AUDIT_FILTER_COUNT; i++)
        list_flags = list_flags || cli_flag_given(cmd, args, audit_filters[i].flag);
    if (list_flags || cli_flag_given(cmd, args, "cursor")) {
        fprintf(stderr, "importq audit: the filters, --limit, --cursor and --all go with list\n");
        return EXIT_USAGE;
    }
    if (args->positional_count == 1 && strcmp(args->positional[0], "verify") == 0)
        return audit_verify(cmd, args, cfg);
    fprintf(stderr, "usage: %s\n", cmd->usage);
    return EXIT_USAGE;
}
