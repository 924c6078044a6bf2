/*
 * store.c - the store's front door: choosing a backend from a URL, opening
 * and closing a connection, and the wrappers through which everything above
 * the store calls a backend (struct store is opaque outside src/store/).
 * No SQL here.
 */
#include "store/common/internal.h"
#include "store/common/migrations.h"

#include "core/db_url.h"
#include "core/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *store_backend_name(const char *url)
{
    if (!url)
        return NULL;
    if (strncmp(url, "sqlite:", 7) == 0)
        return "sqlite";
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return "postgres";
    return NULL;
}

int store_check_url(const char *url, struct iq_error *err)
{
    if (store_backend_name(url))
        return 0;
    char *shown = db_url_redact(url ? url : "");
    iq_error_set(err, IQ_E_INVALID,
                 "unsupported database URL \"%s\": use sqlite:PATH or postgres://...",
                 shown ? shown : "");
    free(shown);
    return IQ_E_INVALID;
}

int store_latest_schema_version(const struct store *s)
{
    const struct migration *table =
        strcmp(s->ops->name, "sqlite") == 0 ? migrations_sqlite : migrations_postgres;
    int latest = 0;
    for (const struct migration *m = table; m->sql; m++)
        if (m->version > latest)
            latest = m->version;
    return latest;
}

/*
 * redact_error - err's message with url's password masked: libpq's
 * connection errors may quote the URL or a piece of it, and they reach
 * logs, stderr and a job's error. Returns code.
 */
static int redact_error(struct iq_error *err, int code, const char *url)
{
    if (!err || !err->message)
        return code;
    char *safe = db_url_redact_message(err->message, url);
    if (!safe)
        return iq_error_set(err, code, "cannot connect to the database (details withheld: "
                                       "out of memory masking the password)");
    iq_error_set(err, code, "%s", safe);
    free(safe);
    return code;
}

int store_open(const char *url, const struct store_options *opts, struct store **ret_store,
               struct iq_error *err)
{
    static const struct store_options defaults = {.role = STORE_ROLE_DEFAULT};
    *ret_store = NULL;
    if (!opts)
        opts = &defaults;
    if (store_check_url(url, err) < 0)
        return IQ_E_INVALID;
    int rc;
    if (strcmp(store_backend_name(url), "sqlite") == 0) {
        const char *path = url + 7;
        if (strncmp(path, "//", 2) == 0) /* sqlite:///abs/path */
            path += 2;
        if (*path == '\0')
            return iq_error_set(err, IQ_E_INVALID, "sqlite URL \"%s\" has no path", url);
        rc = store_sqlite_open(path, opts, ret_store, err);
    } else {
        rc = store_pg_open(url, opts, ret_store, err);
    }
    if (rc < 0)
        return redact_error(err, rc, url);
    (*ret_store)->url = strdup(url);
    if (!(*ret_store)->url) {
        store_close(*ret_store);
        *ret_store = NULL;
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    return 0;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    free(s->url);
    s->url = NULL;
    s->ops->close(s);
}
