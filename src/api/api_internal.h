/*
 * api_internal.h - what the API's files share: the server context, one
 * request and its response, the route table, and the helpers handlers use
 * to read input and write answers. Handlers (routes_*.c) never touch
 * libmicrohttpd directly except through the accessors here.
 *
 * Threads: libmicrohttpd runs handlers on its pool threads. Shared state
 * is the connection pool (pool.c) and the token cache (auth.c), each with
 * its own mutex; neither calls into the other while holding its mutex,
 * except the token cache, which may use the requesting thread's already
 * acquired connection (lock order: pool before cache is never needed).
 * The metric families (routes_metrics.c) are atomics and take no lock;
 * writing them out takes the registry's own mutex for a moment, under no
 * other.
 */
#ifndef IMPORTQ_API_API_INTERNAL_H
#define IMPORTQ_API_API_INTERNAL_H

#include "api/api.h"
#include "api/events.h"
#include "api/status_cache.h"
#include "core/audit.h"
#include "core/uuid7.h"
#include "store/admin_ops.h"
#include "store/store.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_PREFIX "/api/v2"
#define API_MAX_PARAMS 2
#define API_MAX_HEADERS 10
#define API_TOKEN_NAME_MAX 128
#define API_REQUEST_ID_MAX 64
/* Our own limits on a request's target and headers (414 and 431 as
 * problem+json); libmicrohttpd's memory pool (server.c) is larger, so its
 * own text/html answers only come for requests far beyond these. */
#define API_MAX_TARGET_BYTES 8192
#define API_MAX_HEADER_BYTES 16384

/* ---- connection pool (pool.c) ---- */

struct store_pool {
    pthread_mutex_t mutex;
    char *url;           /* owned */
    struct store **idle; /* owned connections not in use */
    size_t idle_count;
    size_t idle_capacity;
};

int store_pool_init(struct store_pool *pool, const char *url, size_t capacity,
                    struct iq_error *err);
/* store_pool_acquire - an idle connection, or a new one (IQ_E_DB). */
int store_pool_acquire(struct store_pool *pool, struct store **ret_store, struct iq_error *err);
/* store_pool_release - give it back; broken: close it instead (it saw a
 * database error, so the next request gets a fresh connection). NULL-safe. */
void store_pool_release(struct store_pool *pool, struct store *store, bool broken);
void store_pool_destroy(struct store_pool *pool);

/* ---- token cache (auth.c) ---- */

struct token_cache_entry {
    char id[UUID_STR_LEN];
    char name[API_TOKEN_NAME_MAX];
    enum token_role role;
    char token_hash[AUDIT_HASH_LEN];
    int64_t touched_at_ms; /* last use recorded in the store */
};

struct token_cache {
    pthread_mutex_t mutex;
    struct token_cache_entry *entries; /* owned; active tokens only */
    size_t count;
    int64_t loaded_at_ms; /* 0 = never */
    int64_t ttl_ms;       /* reload after; revocations on other
                             nodes take effect within this */
    _Atomic uint64_t reloads_begun; /* reloads started so far (read without the mutex) */
    uint64_t loaded_by;   /* which of them (1-based) filled entries; 0 = none */
};

/* api_status_invalidate - this node changed the queue: the next status
 * request answers with figures computed after the change (other nodes'
 * changes show within the refresh period; status_cache.h). */
void api_status_invalidate(struct api *api);

/* api_status_compute - the status_compute_fn of the server's status cache
 * (ctx: the struct api): the figures, counted on a pooled connection. */
int api_status_compute(void *ctx, char **ret_body, size_t *ret_len, struct iq_error *err);

/* The caller of a request, once authenticated. */
struct principal {
    char name[API_TOKEN_NAME_MAX];
    enum token_role role; /* 0 = anonymous */
};

/* ---- request and body deadlines (deadlines.c) ---- */

/* Where a connection is: each phase but serving has a total deadline. */
enum connection_phase {
    PHASE_HEADERS, /* from the accept or the previous request's end */
    PHASE_BODY,    /* from the headers until the body is complete */
    PHASE_SERVING  /* handler and answer: the idle timeout only */
};

struct watched_connection;

struct deadlines {
    pthread_mutex_t mutex; /* guards the list and every entry's phase */
    pthread_cond_t wake;   /* stop the sweeper now */
    pthread_t sweeper;
    struct watched_connection *head;
    int64_t header_ms; /* PHASE_HEADERS may last this long */
    int64_t body_ms;   /* PHASE_BODY may last this long */
    bool stopping;
    bool running;
    bool initialised;
};

/* deadlines_start - start the sweeper thread. 0 or IQ_E_INTERNAL. */
int deadlines_start(struct deadlines *d, int64_t header_ms, int64_t body_ms, struct iq_error *err);
/* deadlines_stop_sweeper - no more connections are ended (before the
 * daemon stops). */
void deadlines_stop_sweeper(struct deadlines *d);
/* deadlines_destroy - after the daemon stopped (so every connection was
 * unregistered). Safe on a zeroed or half-started struct. */
void deadlines_destroy(struct deadlines *d);
/* deadlines_notify_cb - MHD_OPTION_NOTIFY_CONNECTION with cls = deadlines:
 * register a connection when accepted, forget it before it is closed. */
void deadlines_notify_cb(void *cls, struct MHD_Connection *connection, void **socket_context,
                         enum MHD_ConnectionNotificationCode toe);
/* deadlines_enter - the connection is now in phase; its clock restarts. */
void deadlines_enter(struct deadlines *d, struct MHD_Connection *connection,
                     enum connection_phase phase);

/* ---- framing checks (framing.c) ---- */

/* api_check_target - the raw, undecoded request target: 0, or
 * IQ_E_URI_TOO_LONG / IQ_E_BAD_REQUEST (%00, a space, control or
 * non-ASCII byte) with err set. */
int api_check_target(const char *raw_target, struct iq_error *err);

/* api_check_framing - the headers of a request whose version is version:
 * 0, or IQ_E_HEADERS_TOO_LARGE / IQ_E_BAD_REQUEST (ambiguous length,
 * unknown transfer coding, Host missing or repeated, a bad header name)
 * with err set. */
int api_check_framing(struct MHD_Connection *connection, const char *version, struct iq_error *err);

/* ---- metrics (routes_metrics.c) ---- */

/* The API's metric families (docs/api.md, "Metrics"); all NULL without a
 * registry. Read-only after api_start. */
struct api_metrics {
    struct metrics *registry;              /* not owned; NULL: no metrics */
    struct metric_family *requests;        /* importq_http_requests_total{route,method,code} */
    struct metric_family *duration;        /* importq_http_request_duration_seconds{route} */
    struct metric_family *database_errors; /* importq_database_errors_total{component} */
    struct metric_family *build_info;      /* importq_build_info{version} */
    struct metric_family *queue_jobs;      /* importq_queue_jobs{status} */
    struct metric_family *finished_24h;    /* importq_queue_jobs_finished_24h{status} */
    struct metric_family *max_concurrent;  /* importq_queue_max_concurrent */
    struct metric_family *available_slots; /* importq_queue_available_slots */
    struct metric_family *capacity;        /* importq_queue_capacity */
    struct metric_family *oldest_age;      /* importq_queue_oldest_queued_age_seconds */
    struct metric_family *nodes_alive;     /* importq_nodes_alive */
    struct metric_family *status_up;       /* importq_queue_status_up */
    const char **route_values;             /* owned array: distinct patterns, "unmatched" */
    unsigned *route_label;                 /* owned: api_routes[i]'s index in route_values */
    unsigned unmatched;                    /* "unmatched"'s index in route_values */
    bool auth_none;                        /* metrics-auth = none */
};

struct api_route;

/* api_metrics_start - check metrics-auth and register the API's families
 * in registry (NULL: none). 0, or IQ_E_INVALID / IQ_E_NOMEM with err set. */
int api_metrics_start(struct api *api, struct metrics *registry, struct iq_error *err);

/* api_metrics_free - what api_metrics_start allocated. Safe on a zeroed struct. */
void api_metrics_free(struct api_metrics *m);

/* api_metrics_request - one answered request: route (NULL: none matched),
 * its method, the status sent and how long it took. Lock-free. */
void api_metrics_request(const struct api_metrics *m, const struct api_route *route,
                         const char *method, int status, double seconds);

/* api_metrics_database_error - a request met a database error. */
void api_metrics_database_error(const struct api_metrics *m);

/* ---- the server ---- */

struct api {
    struct MHD_Daemon *daemon;
    const struct config *config;
    struct engine *engine;
    const char *version;
    struct store_pool pool;
    struct token_cache tokens;
    struct status_cache status;
    struct deadlines deadlines;
    struct api_metrics metrics;
    struct event_hub events; /* GET /events (events.h) */
    char *tls_cert_pem; /* owned; NULL without TLS */
    char *tls_key_pem;
    int port;
};

/* ---- one request ---- */

struct api_request {
    struct api *api;
    struct MHD_Connection *connection;
    const char *method;                 /* "GET", ... */
    const char *path;                   /* decoded, without the query */
    const char *params[API_MAX_PARAMS]; /* {id} segments of the route */
    char param_buf[256];                /* where params point */
    const char *body;                   /* NUL-terminated; NULL when none */
    size_t body_len;
    struct principal principal;
    char request_id[API_REQUEST_ID_MAX + 1];
    char client_addr[64];
    struct audit_context actx; /* actor = principal.name */
    struct store *store;       /* acquired on first api_store() */
    bool store_broken;         /* a database error happened on it */
    /* Uploads only: the spool file written while the body streams in. */
    struct upload_sink *upload;
};

struct api_header {
    const char *name;
    char *value; /* owned */
};

struct api_response {
    int status;
    char *body; /* owned */
    size_t body_len;
    const char *content_type; /* static string */
    struct api_header headers[API_MAX_HEADERS];
    size_t header_count;
    bool close; /* send "Connection: close" and close after the answer */
    struct MHD_Response *stream; /* owned until sent: a streamed answer
                                    (GET /events) sent instead of body */
};

/* ---- routes (router.c, routes_*.c) ---- */

enum api_body_kind {
    BODY_NONE,  /* no body expected (any body is ignored) */
    BODY_JSON,  /* application/json, up to max_body */
    BODY_UPLOAD /* raw bytes streamed to the spool, up to max_upload */
};

typedef void (*api_handler_fn)(struct api_request *req, struct api_response *res);

struct api_route {
    const char *method;
    const char *pattern;      /* "/api/v2/import-queue/{id}" */
    enum token_role min_role; /* 0: no token needed */
    enum api_body_kind body;
    api_handler_fn handler;
    const char *summary; /* one line; also the OpenAPI summary */
};

/* The route table, terminated by {NULL}. */
extern const struct api_route api_routes[];

/*
 * api_route_match - find the route for method and path (HEAD matches GET).
 * Returns the route and points ret_params into param_buf, or NULL with
 * *ret_status 404 (no such path) or 405 (the path exists, the method does
 * not; allow gets "GET, PUT, DELETE").
 */
const struct api_route *api_route_match(const char *method, const char *path,
                                        const char *ret_params[API_MAX_PARAMS], char *param_buf,
                                        size_t param_buf_size, char *allow, size_t allow_size,
                                        int *ret_status);

/* ---- helpers for handlers (request.c, response.c) ---- */

/* api_store - the request's database connection (pooled); NULL after
 * answering 503 when the database is unreachable. */
struct store *api_store(struct api_request *req, struct api_response *res);

/* api_query - a query-string argument, or NULL. */
const char *api_query(const struct api_request *req, const char *key);

/* api_header_value - a request header, or NULL. */
const char *api_header_value(const struct api_request *req, const char *name);

/*
 * api_query_check - 400 (and true) when the query has an argument not in
 * allowed (NULL-terminated): a typo'd filter must not silently match all.
 */
bool api_query_reject_unknown(struct api_request *req, struct api_response *res,
                              const char *const *allowed);

/* api_body_json - parse the body as a JSON object; false after answering
 * 400 (malformed, not an object, too deep, duplicate keys). New reference. */
bool api_body_json(struct api_request *req, struct api_response *res, json_t **ret_body);

/* api_reply_json - status with body (a new reference, stolen). */
void api_reply_json(struct api_response *res, int status, json_t *body);

/* api_reply_text - status with a copied text body of content_type. */
void api_reply_text(struct api_response *res, int status, const char *content_type,
                    const char *text, size_t len);

/* api_reply_take - status with an owned (malloc'd) body. */
void api_reply_take(struct api_response *res, int status, const char *content_type, char *body,
                    size_t len);

/*
 * api_reply_error - a problem+json answer for err (its code picks the
 * status, its field errors become "errors"). Marks the connection broken
 * on IQ_E_DB. Clears err.
 */
void api_reply_error(struct api_request *req, struct api_response *res, struct iq_error *err);

/* api_reply_problem - a problem+json answer for code with a message. */
void api_reply_problem(struct api_request *req, struct api_response *res, int code, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

/* api_header_add - an extra response header (value copied). */
void api_header_add(struct api_response *res, const char *name, const char *value);

void api_response_clear(struct api_response *res);

/* api_problem_json - the problem document (also used for early errors). */
json_t *api_problem_json(int status, int code, const char *detail, const struct iq_error *err,
                         const char *instance, const char *request_id);

/* ---- auth (auth.c) ---- */

int token_cache_init(struct token_cache *cache, int64_t ttl_ms);
void token_cache_destroy(struct token_cache *cache);
/* token_cache_invalidate - reload on next use (after a local revoke). */
void token_cache_invalidate(struct token_cache *cache);

/*
 * api_authenticate - check the bearer token of req against min_role.
 * Returns true with req->principal set, or false after answering 401
 * (missing, malformed, unknown or revoked token; with WWW-Authenticate)
 * or 403 (role too weak) or 503 (database).
 */
bool api_authenticate(struct api_request *req, struct api_response *res, enum token_role min_role);

/* ---- cursors (cursor.c) ---- */

/* api_cursor_encode - opaque cursor for a keyset position (kind "job",
 * "audit", "orch"); value is the last id of the page. ret_cursor gets a
 * URL-safe string. */
void api_cursor_encode(const struct api *api, const char *kind, const char *value, char *ret_cursor,
                       size_t size);

/* api_cursor_decode - the value of a cursor of kind, or IQ_E_BAD_REQUEST
 * for anything not produced by api_cursor_encode for that kind. */
int api_cursor_decode(const struct api *api, const char *kind, const char *cursor, char *ret_value,
                      size_t size, struct iq_error *err);

/* api_query_cursor - the request's "cursor" argument decoded into
 * ret_value ("" when absent); false after answering 400 for a bad one. */
bool api_query_cursor(struct api_request *req, struct api_response *res, const char *kind,
                      char *ret_value, size_t size);

/* api_next_cursor_json - "next_cursor" of a page: a cursor for the last
 * value, or null when value is NULL or "" (the last page). New reference. */
json_t *api_next_cursor_json(const struct api *api, const char *kind, const char *value);

/* ---- uploads (routes_uploads.c) ---- */

/* Called by the server for a BODY_UPLOAD route: open, write, finish. */
int upload_sink_open(struct api_request *req, struct iq_error *err);
int upload_sink_write(struct api_request *req, const char *data, size_t len, struct iq_error *err);
void upload_sink_free(struct upload_sink *sink); /* deletes an unfinished file */

/* ---- parsing helpers (request.c) ---- */

/* api_param_id - the route's {id} as a UUID; false after answering 400. */
bool api_param_uuid(struct api_request *req, struct api_response *res, int index, const char *what);

/* api_query_int - an integer argument in [min, max]; 1 when absent (value
 * untouched), 0 when set, -1 after answering 400. */
int api_query_int(struct api_request *req, struct api_response *res, const char *key, int64_t min,
                  int64_t max, int64_t *ret_value);

/* api_query_time - an RFC 3339 argument; as api_query_int. */
int api_query_time(struct api_request *req, struct api_response *res, const char *key,
                   int64_t *ret_ms);

/* api_spec_defaults - what a submitted spec gets for what it leaves out
 * (max_attempts and job_timeout from the configuration). */
struct job_spec_defaults api_spec_defaults(const struct api *api);

/* api_job_json - the job resource (CONTRACT §3). New reference. */
json_t *api_job_json(const struct job *job);

/* api_lock_json - one lock as GET /import-resources shows it. New reference. */
json_t *api_lock_json(const struct lock_info *lock);

#endif
