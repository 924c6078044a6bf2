/*
 * cli_store.c - opening the service database from the command line (the
 * default database's var/ directory made first), and what the
 * administrative commands (token, audit) share: opening it without
 * migrating it, and the actor their changes are recorded under.
 */
#include "cli/cli.h"

#include "store/store.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

int cli_store_open(const char *url, const struct store_options *opts, struct store **ret_store,
                   struct iq_error *err)
{
    for (const struct config_option *o = config_options; o->key; o++)
        if (strcmp(o->key, "db") == 0 && strcmp(url, o->default_value) == 0 &&
            mkdir("var", 0755) < 0 && errno != EEXIST)
            return iq_error_set(err, IQ_E_DB, "cannot create var/ for the default database: %s",
                                strerror(errno));
    return store_open(url, opts, ret_store, err);
}

/*
 * require_current_schema - 0 when the database records exactly the newest
 * migration this binary has; IQ_E_UNAVAILABLE saying what to do otherwise.
 */
static int require_current_schema(struct store *store, struct iq_error *err)
{
    int version = 0;
    int rc = store_schema_version(store, &version, err);
    if (rc < 0)
        return rc;
    int latest = store_latest_schema_version(store);
    if (version == 0)
        return iq_error_set(err, IQ_E_UNAVAILABLE,
                            "the database has no importq schema yet: run `importq migrate`");
    if (version < latest)
        return iq_error_set(err, IQ_E_UNAVAILABLE,
                            "the database schema is at version %d, this importq needs %d:"
                            " run `importq migrate`",
                            version, latest);
    if (version > latest)
        return iq_error_set(err, IQ_E_UNAVAILABLE,
                            "the database schema is at version %d, newer than this importq"
                            " knows (%d): use a newer importq",
                            version, latest);
    return 0;
}

int cli_store_open_current(const char *command, const struct config *cfg, struct store **ret_store)
{
    struct iq_error err = {0};
    *ret_store = NULL;
    struct store *store = NULL;
    int rc = cli_store_open(cfg->db, NULL, &store, &err);
    if (rc == 0)
        rc = require_current_schema(store, &err);
    if (rc < 0) {
        fprintf(stderr, "importq %s: %s\n", command, iq_error_message(&err));
        iq_error_clear(&err);
        store_close(store);
        return rc == IQ_E_INVALID ? EXIT_USAGE : 1;
    }
    *ret_store = store;
    return 0;
}

void cli_actor(char *buf, size_t size)
{
    uid_t uid = geteuid();
    const struct passwd *pw = getpwuid(uid);
    if (pw && pw->pw_name && pw->pw_name[0])
        snprintf(buf, size, "cli:%s", pw->pw_name);
    else
        snprintf(buf, size, "cli:uid%u", (unsigned)uid);
}
