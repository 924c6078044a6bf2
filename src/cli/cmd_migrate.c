/* cmd_migrate.c - `importq migrate`: create or upgrade the schema. */
#include "cli/cli.h"

#include "core/db_url.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>

int cmd_migrate(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    if (args->positional_count > 0) {
        fprintf(stderr, "importq %s: unexpected argument %s\n", cmd->name, args->positional[0]);
        return EXIT_USAGE;
    }
    struct iq_error err = {0};
    struct store *store = NULL;
    int applied = 0, version = 0;
    int rc = cli_store_open(cfg->db, NULL, &store, &err);
    if (rc == 0)
        rc = store_migrate(store, &applied, &err);
    if (rc == 0)
        rc = store_schema_version(store, &version, &err);
    store_close(store);
    if (rc < 0) {
        fprintf(stderr, "importq migrate: %s\n", iq_error_message(&err));
        iq_error_clear(&err);
        return rc == IQ_E_INVALID ? EXIT_USAGE : 1;
    }
    char *shown = db_url_redact(cfg->db); /* never print a password */
    printf("migrated %s: %d migration(s) applied, schema version %d\n",
           shown ? shown : "the database", applied, version);
    free(shown);
    return 0;
}
