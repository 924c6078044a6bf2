/*
 * db_url.h - database URLs as they may be shown: the password masked.
 * A URL or conninfo string the user gives (--db, IMPORTQ_DB, a named
 * target's url) may hold a password; whatever prints, logs or returns one
 * in an error (the migrate summary, store_open's errors, libpq's messages,
 * a job's error) goes through here first, so "postgres://root:***@host"
 * is all anyone sees.
 *
 * Forms handled: URIs (postgres://, postgresql://, any scheme://) with a
 * password in the user info or in a ?password= query parameter, and libpq
 * key/value strings (password=secret, password='se cret'). sqlite:PATH has
 * no password and comes back unchanged.
 *
 * Pure string functions: no I/O, thread-safe.
 */
#ifndef IMPORTQ_CORE_DB_URL_H
#define IMPORTQ_CORE_DB_URL_H

/* The mask a password is replaced with. */
#define DB_URL_MASK "***"

/*
 * db_url_redact - url with every password replaced by DB_URL_MASK
 * ("postgres://root:***@db/app", "host=db password=***"). Returns a new
 * string (caller frees), or NULL when url is NULL or memory runs out.
 */
char *db_url_redact(const char *url);

/*
 * db_url_redact_message - message (an error text that may quote url or
 * parts of it, as libpq's parse errors do) with url's password, and any
 * double-quoted fragment of it (two characters or more), replaced by DB_URL_MASK, and url itself
 * replaced by its redacted form. Returns a new string (caller frees), or
 * NULL when message is NULL or memory runs out.
 */
char *db_url_redact_message(const char *message, const char *url);

#endif
