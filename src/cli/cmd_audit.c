/*
 * cmd_audit.c - `importq audit verify`: walk the audit trail's hash chain
 * in the service database and say whether it holds (exit 0) or where it
 * breaks (exit 1). Read-only; the schema must be current (it never
 * migrates).
 */
#include "cli/cli.h"

#include "store/store.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

const struct cli_flag cmd_audit_flags[] = {
    {"json", false, "print {\"ok\",\"rows_checked\",\"first_bad_id\",\"reason\"}"},
    {NULL, false, NULL},
};

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
    if (args->positional_count == 1 && strcmp(args->positional[0], "verify") == 0)
        return audit_verify(cmd, args, cfg);
    fprintf(stderr, "usage: %s\n", cmd->usage);
    return EXIT_USAGE;
}
