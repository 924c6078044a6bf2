/*
 * client.h - a small HTTP client for the importq API (libcurl), used by the
 * client commands (submit, jobs, job, cancel, execute, status). One request
 * at a time: method, path, optional JSON body in; status, body and content
 * type out. It sends the bearer token, enforces timeouts and a response
 * size limit, and turns an RFC 9457 problem body into a human message.
 * Not for: printing (the commands do that) or knowing any one endpoint.
 */
#ifndef IMPORTQ_CLI_CLIENT_H
#define IMPORTQ_CLI_CLIENT_H

#include "core/error.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Connecting gives up after this long ("cannot reach ..."). */
#define CLIENT_CONNECT_TIMEOUT_MS 5000
/* A whole request (connect, send, answer) gives up after this long. */
#define CLIENT_REQUEST_TIMEOUT_MS 60000
/* The largest answer read (a page of 500 jobs is well below it). */
#define CLIENT_MAX_RESPONSE_BYTES (64 * 1024 * 1024)

struct client;

/* One answer of the server. All strings owned; client_response_clear frees. */
struct client_response {
    long status;                 /* HTTP status, e.g. 201 */
    char *body;                  /* NUL-terminated, never NULL after success */
    size_t body_len;
    char *content_type;          /* "application/json", NULL when absent */
};

/*
 * client_open - a client for the server at base_url ("http://host:port",
 * optionally with a path prefix; a trailing slash is ignored). token may
 * be NULL or "" (no Authorization header). user_agent may be NULL.
 * Returns 0 and *ret_client (free with client_close), IQ_E_INVALID for a
 * URL that is not http:// or https://, IQ_E_NOMEM or IQ_E_INTERNAL.
 */
int client_open(const char *base_url, const char *token, const char *user_agent,
                struct client **ret_client, struct iq_error *err);

/* client_close - free the client (NULL-safe). */
void client_close(struct client *client);

/*
 * client_set_interrupt - while *flag is non-zero a request in flight is
 * abandoned (client_request returns IQ_E_CANCELLED). flag may be NULL.
 * Meant for a flag a SIGINT handler sets.
 */
void client_set_interrupt(struct client *client, volatile sig_atomic_t *flag);

/*
 * client_request - send method ("GET", "POST", "DELETE", ...) to path
 * ("/api/v2/import-queue?limit=5", already escaped) with body (JSON text,
 * sent as application/json; NULL: no body). Any HTTP status is a success
 * here: the caller reads ret_response->status.
 * Returns 0 and fills *ret_response (clear it with client_response_clear),
 * or IQ_E_UNAVAILABLE ("cannot reach the importq server at URL: why"),
 * IQ_E_TIMEOUT, IQ_E_TOO_LARGE (answer over the limit), IQ_E_CANCELLED
 * (interrupted) or IQ_E_NOMEM, with *ret_response left empty.
 */
int client_request(struct client *client, const char *method, const char *path,
                   const char *body, struct client_response *ret_response, struct iq_error *err);

/*
 * client_request_upload - POST path with the bytes of file (open for
 * reading, bytes long: its size) as the body, application/octet-stream,
 * streamed as it is read, never held in memory. The server's go-ahead is
 * awaited first (Expect: 100-continue), so a 413 comes before the bytes.
 * No whole-request timeout; a transfer stalled for
 * CLIENT_REQUEST_TIMEOUT_MS gives up. Returns as client_request, and
 * IQ_E_IO when the file cannot be read.
 */
int client_request_upload(struct client *client, const char *path, FILE *file, int64_t bytes,
                          struct client_response *ret_response, struct iq_error *err);

/*
 * client_request_download - GET path; a 2xx answer's body is written to
 * sink as it arrives (ret_response->body is then empty), any other answer
 * is kept in ret_response as client_request does (for its problem
 * message). Timeouts as client_request_upload. Returns as client_request,
 * and IQ_E_IO when writing to sink fails.
 */
int client_request_download(struct client *client, const char *path, FILE *sink,
                            struct client_response *ret_response, struct iq_error *err);

/* client_response_clear - free what the response holds (NULL-safe), zero it. */
void client_response_clear(struct client_response *response);

/* client_response_is_json - the content type is JSON (application/json or +json). */
int client_response_is_json(const struct client_response *response);

/*
 * client_problem_message - a human message for an error answer: from a
 * problem+json body "title: detail", then each entry of "errors" on its
 * own line as "  field: message"; from any other body "HTTP 502: " and its
 * first line. Returns a malloc'd string the caller frees, or NULL when out
 * of memory.
 */
char *client_problem_message(const struct client_response *response);

/*
 * client_escape - s percent-encoded for a path segment or query value.
 * Returns a malloc'd string the caller frees, or NULL when out of memory.
 */
char *client_escape(const char *s);

/* client_base_url - the server URL the client talks to (no trailing slash). */
const char *client_base_url(const struct client *client);

#endif
