/*
 * client_call.h - what every client command does around an API request:
 * open the client from the settings (--server, --token), call an endpoint,
 * and turn every failure into one printed message and an exit code
 * (1 unreachable server or HTTP error, 2 a request the server calls
 * invalid: 400 or 422). Also small readers for the JSON it answers.
 * Not for: any one endpoint's output (that is in the cmd_*.c files).
 */
#ifndef IMPORTQ_CLI_CLIENT_CALL_H
#define IMPORTQ_CLI_CLIENT_CALL_H

#include "cli/client.h"
#include "util/config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The API prefix of the job queue endpoints. */
#define CLIENT_QUEUE_PATH "/api/v2/import-queue"
/* The API prefix of the orchestrations (sets of dependent jobs). */
#define CLIENT_ORCHESTRATIONS_PATH "/api/v2/import-orchestrations"

/* One command's connection to the server. */
struct client_call {
    const char *command;         /* "submit": prefixes messages */
    struct client *client;
};

/*
 * client_call_open - connect call to cfg->server with cfg->token.
 * Returns 0, or the exit code after printing why (2 for a bad --server URL).
 */
int client_call_open(struct client_call *call, const char *command, const struct config *cfg,
                     const char *version);

/* client_call_close - free the client (NULL-safe, idempotent). */
void client_call_close(struct client_call *call);

/*
 * client_call_json - send the request and expect a 2xx JSON answer.
 * Returns 0 with *ret_response (the raw answer, for --json) and *ret_json
 * (its parsed body, caller json_decref's; ret_json may be NULL), or the
 * exit code after printing the failure with client_call_report.
 * *ret_response is cleared on failure.
 */
int client_call_json(struct client_call *call, const char *method, const char *path,
                     const char *body, struct client_response *ret_response, json_t **ret_json);

/*
 * client_call_print - the whole of a simple client command: connect,
 * send method path body (JSON or NULL), then print the answer: raw with
 * json, else through print (which gets the parsed object). Messages are
 * prefixed "importq <command>:". Returns the exit code.
 */
int client_call_print(const char *command, const struct config *cfg, const char *version, bool json,
                      const char *method, const char *path, const char *body,
                      void (*print)(const json_t *answer));

/*
 * client_call_try_json - GET path as JSON into *ret_json, for a live view
 * that shows a failure instead of exiting: on failure *ret_json is NULL
 * and *ret_error (freed first) a malloc'd reason. Prints nothing.
 */
void client_call_try_json(struct client_call *call, const char *path, json_t **ret_json,
                          char **ret_error);

/*
 * client_call_report - print why a request failed: a transport error
 * (rc < 0 with err), or an HTTP error answer (response). Returns the exit
 * code: 2 for 400 and 422, else 1.
 */
int client_call_report(const struct client_call *call, int rc, const struct iq_error *err,
                       const struct client_response *response);

/*
 * client_query_add - appends "&name=<value percent-encoded>" ("?" when
 * there is none yet) to query (size bytes): a path, or a query string
 * being built. Nothing when value is NULL.
 * Returns 0, or -1 when it does not fit or memory ran out.
 */
int client_query_add(char *query, size_t size, const char *name, const char *value);

/*
 * client_call_pages - GET path (its query already built, without cursor)
 * from cursor first_cursor (NULL: the first page), appending each page's
 * "items" to items; with all, following "next_cursor" until the last page
 * (a cursor that repeats ends it). Returns 0 with *ret_next_cursor
 * (malloc'd, NULL after the last page) and the last page's raw answer in
 * *ret_response (for --json; the caller clears it); or the exit code after
 * printing the failure.
 */
int client_call_pages(struct client_call *call, const char *path, const char *first_cursor,
                      bool all, json_t *items, char **ret_next_cursor,
                      struct client_response *ret_response);

/*
 * client_print_items_json - {"items": items, "next_cursor": null} on stdout:
 * what --json prints for --all (every page merged).
 */
void client_print_items_json(json_t *items);

/* client_call_id_path - "<prefix>/<id escaped><suffix>", malloc'd; NULL on OOM. */
char *client_call_id_path(const char *prefix, const char *id, const char *suffix);

/* client_call_job_path - "/api/v2/import-queue/<id escaped><suffix>", malloc'd; NULL on OOM. */
char *client_call_job_path(const char *id, const char *suffix);

/* client_print_raw - the answer's body on stdout as received, newline-terminated. */
void client_print_raw(const struct client_response *response);

/* json_get_text - obj[key] as a string, or fallback when missing, null or not a string. */
const char *json_get_text(const json_t *obj, const char *key, const char *fallback);

/* json_get_int - obj[key] as an integer (a real is truncated), or fallback. */
int64_t json_get_int(const json_t *obj, const char *key, int64_t fallback);

/* json_get_number - obj[key] as a number, or fallback. */
double json_get_number(const json_t *obj, const char *key, double fallback);

#endif
