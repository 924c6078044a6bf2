/*
 * cmd_token.c - `importq token create|list|revoke`: API tokens managed
 * straight in the service database (no server needed). A new token is
 * printed once and stored only as its hash. Changes are audited with the
 * actor "cli:<unix user>". The schema must be current: these commands
 * never migrate.
 */
#include "cli/cli.h"

#include "core/auth.h"
#include "core/timeutil.h"
#include "core/uuid7.h"
#include "store/store.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define ACTOR_MAX 300

const struct cli_flag cmd_token_flags[] = {
    {"name", true, "create (or revoke): the token's name, its actor in the audit trail"},
    {"role", true, "create: viewer, operator or admin", "viewer operator admin"},
    {"json", false, "print JSON instead of text"},
    {NULL, false, NULL},
};

/* time_or_dash - RFC 3339 text of ms, "-" for 0 (never). */
static const char *time_or_dash(int64_t ms, char buf[TIME_RFC3339_LEN])
{
    return ms ? time_format_rfc3339(ms, buf) : "-";
}

/* time_json - RFC 3339 string of ms, null for 0. */
static json_t *time_json(int64_t ms)
{
    char buf[TIME_RFC3339_LEN];
    return ms ? json_string(time_format_rfc3339(ms, buf)) : json_null();
}

/* print_json - value on stdout, indented, then a newline; takes the reference. */
static int print_json(json_t *value)
{
    int rc = value ? json_dumpf(value, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : -1;
    json_decref(value);
    if (rc < 0) {
        fprintf(stderr, "importq token: out of memory\n");
        return 1;
    }
    fputc('\n', stdout);
    return 0;
}

/* token_create - `token create --name NAME --role ROLE`. Returns the exit code. */
static int token_create(const struct command *cmd, const struct cli_args *args,
                        const struct config *cfg)
{
    const char *name = cli_flag_value(cmd, args, "name");
    const char *role_name = cli_flag_value(cmd, args, "role");
    if (args->positional_count != 1 || !name || !role_name) {
        fprintf(stderr, "usage: importq token create --name NAME --role viewer|operator|admin"
                        " [--json] [--db URL]\n");
        return EXIT_USAGE;
    }
    int role = token_role_parse(role_name);
    if (role < 0) {
        fprintf(stderr,
                "importq token create: unknown role \"%s\": use viewer, operator or admin\n",
                role_name);
        return EXIT_USAGE;
    }
    char actor[ACTOR_MAX];
    cli_actor(actor, sizeof(actor));
    char secret[AUTH_TOKEN_LEN];
    struct token_info info = {
        .name = (char *)name, .role = (enum token_role)role, .created_by = actor};
    if (auth_token_generate(secret) < 0) {
        fprintf(stderr, "importq token create: cannot initialise libsodium\n");
        return 1;
    }
    auth_token_hash(secret, info.token_hash);
    uuid7_generate(info.id);
    struct store *store = NULL;
    int exit_code = cli_store_open_current("token create", cfg, &store);
    if (exit_code != 0)
        return exit_code;
    struct audit_context actx = {.actor = actor};
    struct iq_error err = {0};
    int rc = store_token_create(store, &info, &actx, &err);
    store_close(store);
    if (rc < 0) {
        fprintf(stderr, "importq token create: %s\n", iq_error_message(&err));
        iq_error_clear(&err);
        return rc == IQ_E_INVALID ? EXIT_USAGE : 1;
    }
    if (cli_flag_given(cmd, args, "json"))
        return print_json(
            json_pack("{s:s,s:s,s:s}", "name", name, "role", role_name, "token", secret));
    printf("%s\n", secret);
    fprintf(stderr, "token \"%s\" (%s) created: keep it now, it is not shown again\n", name,
            role_name);
    return 0;
}

/* print_table - the tokens as aligned columns. */
static void print_table(const struct token_list *list)
{
    int width = 4;
    for (size_t i = 0; i < list->count; i++) {
        int len = (int)strlen(list->items[i].name);
        if (len > width)
            width = len;
    }
    printf("%-*s  %-8s  %-24s  %-24s  %s\n", width, "NAME", "ROLE", "CREATED_AT", "LAST_USED_AT",
           "REVOKED_AT");
    for (size_t i = 0; i < list->count; i++) {
        const struct token_info *t = &list->items[i];
        char created[TIME_RFC3339_LEN], used[TIME_RFC3339_LEN], revoked[TIME_RFC3339_LEN];
        printf("%-*s  %-8s  %-24s  %-24s  %s\n", width, t->name, token_role_name((int)t->role),
               time_or_dash(t->created_at_ms, created), time_or_dash(t->last_used_at_ms, used),
               time_or_dash(t->revoked_at_ms, revoked));
    }
}

/* list_json - the tokens as a JSON array (never their hashes). */
static json_t *list_json(const struct token_list *list)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < list->count; i++) {
        const struct token_info *t = &list->items[i];
        json_t *item =
            json_pack("{s:s,s:s,s:s,s:s?,s:o,s:o,s:o}", "id", t->id, "name", t->name, "role",
                      token_role_name((int)t->role), "created_by", t->created_by, "created_at",
                      time_json(t->created_at_ms), "last_used_at", time_json(t->last_used_at_ms),
                      "revoked_at", time_json(t->revoked_at_ms));
        if (!item || json_array_append_new(array, item) < 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

/* token_list - `token list`: every token, revoked ones included. Returns the exit code. */
static int token_list(const struct command *cmd, const struct cli_args *args,
                      const struct config *cfg)
{
    if (args->positional_count != 1) {
        fprintf(stderr, "usage: importq token list [--json] [--db URL]\n");
        return EXIT_USAGE;
    }
    struct store *store = NULL;
    int exit_code = cli_store_open_current("token list", cfg, &store);
    if (exit_code != 0)
        return exit_code;
    struct token_list list;
    struct iq_error err = {0};
    int rc = store_token_list(store, true, &list, &err);
    store_close(store);
    if (rc < 0) {
        fprintf(stderr, "importq token list: %s\n", iq_error_message(&err));
        iq_error_clear(&err);
        return 1;
    }
    if (cli_flag_given(cmd, args, "json"))
        exit_code = print_json(list_json(&list));
    else
        print_table(&list);
    token_list_clear(&list);
    return exit_code;
}

/* token_revoke - `token revoke NAME` (or --name NAME). Returns the exit code. */
static int token_revoke(const struct command *cmd, const struct cli_args *args,
                        const struct config *cfg)
{
    const char *flag_name = cli_flag_value(cmd, args, "name");
    const char *name = args->positional_count == 2 ? args->positional[1] : flag_name;
    if (!name || args->positional_count > 2 || (args->positional_count == 2 && flag_name)) {
        fprintf(stderr, "usage: importq token revoke NAME [--db URL]\n");
        return EXIT_USAGE;
    }
    struct store *store = NULL;
    int exit_code = cli_store_open_current("token revoke", cfg, &store);
    if (exit_code != 0)
        return exit_code;
    char actor[ACTOR_MAX];
    cli_actor(actor, sizeof(actor));
    struct audit_context actx = {.actor = actor};
    struct iq_error err = {0};
    int rc = store_token_revoke(store, name, &actx, &err);
    store_close(store);
    if (rc < 0) {
        fprintf(stderr, "importq token revoke: %s\n", iq_error_message(&err));
        iq_error_clear(&err);
        return 1;
    }
    printf("token \"%s\" revoked\n", name);
    return 0;
}

int cmd_token(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    const char *sub = args->positional_count > 0 ? args->positional[0] : "";
    if (strcmp(sub, "create") == 0)
        return token_create(cmd, args, cfg);
    if (strcmp(sub, "list") == 0)
        return token_list(cmd, args, cfg);
    if (strcmp(sub, "revoke") == 0)
        return token_revoke(cmd, args, cfg);
    fprintf(stderr, "usage: %s\n", cmd->usage);
    return EXIT_USAGE;
}
