/*
 * server.c - the libmicrohttpd side of the API: the daemon (a pool of
 * threads, each running epoll), the per-request state machine, body limits
 * and the hand-off to the router. Everything a request can get wrong
 * before its handler runs is answered here: ambiguous framing 400 and a
 * target or headers over our limits 414/431 (framing.c; the connection is
 * closed after these), unknown path 404, wrong method 405 with Allow,
 * missing or weak token 401/403, wrong Content-Type 415, a body over the
 * limit 413, a path with ".." 400.
 *
 * Connections are limited in number (max-connections, and
 * max-connections-per-ip so that one client address cannot take them
 * all) and in time (header-timeout and body-timeout, deadlines.c).
 *
 * What libmicrohttpd 0.9.75 answers itself, before any callback of ours
 * can see the request, with its own compiled-in text/html body and no
 * Content-Type (the library offers no way to replace these):
 *   - 505 for an HTTP version other than 1.x (it parses the version
 *     before the URI log callback),
 *   - 400 for a malformed request line or header line (no colon), a
 *     Content-Length that is not a number, malformed chunked framing,
 *   - 413 for a Content-Length or chunk size over 2^64,
 *   - 414 and 431 only for a request line or headers that do not fit its
 *     memory pool (MHD_MEMORY_LIMIT_BYTES, far above our own 414/431
 *     limits in api_internal.h, which answer problem+json); right at the
 *     pool's size it closes the connection without an answer,
 *   - a connection over max-connections or max-connections-per-ip is
 *     accepted and closed at once, without an answer; so is one past its
 *     header or body deadline (0.9.75 cannot queue an answer while a
 *     request is still arriving).
 * A raw NUL byte in the request line or a header line ends that string
 * in libmicrohttpd's parser: what follows it is invisible to us.
 *
 * GET /events answers with a stream (events.c): the route hands over a
 * callback response in res->stream, whose connection is suspended while
 * it has nothing to send and resumed by the events hub; api_stop ends
 * every stream before it stops the daemon.
 *
 * A request is handled entirely on one pool thread. Each thread borrows a
 * database connection from the pool per request, so the pool never needs
 * more connections than there are threads (and the status refresher's
 * one, status_cache.c).
 */
#include "api/api_internal.h"
#include "api/routes.h"

#include "core/timeutil.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_CACHE_TTL_MS 1000
#define CONNECTION_TIMEOUT_S 60 /* idle: no byte in either direction */
/* Each connection's memory pool in libmicrohttpd (request line, headers,
 * read buffer, answer headers): room for a request at our own target and
 * header limits, so that those get our problem+json 414/431. */
#define MHD_MEMORY_LIMIT_BYTES (96 * 1024)

/* One request's state across libmicrohttpd's calls. */
struct request_state {
    struct api_request req;
    struct api_response res;
    const struct api_route *route;
    char *body; /* BODY_JSON: what arrived so far */
    size_t body_len;
    size_t body_capacity;
    bool begun;    /* request_begin ran */
    bool answered; /* res holds the answer already */
    bool queued;   /* and it was handed to libmicrohttpd */
    bool too_large;
    struct iq_error target_error; /* what uri_log_cb found wrong */
    struct timespec began;        /* CLOCK_MONOTONIC at the request's first look */
};

/* ---- small helpers ---- */

static bool is_json_content_type(const char *value)
{
    static const char json[] = "application/json";
    if (!value || strncasecmp(value, json, sizeof(json) - 1) != 0)
        return false;
    char next = value[sizeof(json) - 1];
    return next == '\0' || next == ';' || next == ' ';
}

/* path_has_dot_segment - "." or ".." as a segment (after %-decoding). */
static bool path_has_dot_segment(const char *path)
{
    for (const char *s = path; (s = strstr(s, "/.")) != NULL; s++) {
        const char *rest = s + 2;
        if (*rest == '.')
            rest++;
        if (*rest == '/' || *rest == '\0')
            return true;
    }
    return false;
}

static void client_address(struct MHD_Connection *connection, char *buf, size_t size)
{
    buf[0] = '\0';
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr)
        return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)size);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)size);
}

/* request_id_from - the client's X-Request-Id when sane, else a new id. */
static void request_id_from(struct MHD_Connection *connection, char *buf, size_t size)
{
    const char *given = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-Request-Id");
    bool ok = given && *given && strlen(given) <= API_REQUEST_ID_MAX;
    for (const char *c = given; ok && *c; c++)
        ok = *c > 0x20 && *c < 0x7f;
    if (ok) {
        snprintf(buf, size, "%s", given);
        return;
    }
    char id[UUID_STR_LEN];
    uuid7_generate(id);
    snprintf(buf, size, "%s", id);
}

static int64_t content_length(struct MHD_Connection *connection)
{
    const char *text =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!text)
        return -1;
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    return errno || end == text || value < 0 ? -1 : value;
}

static bool has_body(struct MHD_Connection *connection)
{
    int64_t length = content_length(connection);
    return length > 0 || MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/* ---- sending ---- */

static enum MHD_Result send_response(struct request_state *state)
{
    struct api_response *res = &state->res;
    state->queued = true;
    struct MHD_Response *response = res->stream;
    res->stream = NULL;
    if (!response) {
        response = MHD_create_response_from_buffer(
            res->body_len, res->body ? res->body : (void *)"",
            res->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (!response)
            return MHD_NO;
        res->body = NULL; /* libmicrohttpd frees it now */
    }
    if (res->content_type)
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
    MHD_add_response_header(response, "X-Request-Id", state->req.request_id);
    bool cache_control_set = false;
    for (size_t i = 0; i < res->header_count; i++)
        cache_control_set |= strcasecmp(res->headers[i].name, MHD_HTTP_HEADER_CACHE_CONTROL) == 0;
    if (!cache_control_set) /* API answers are never cached; the GUI's files say how */
        MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (res->close)
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    for (size_t i = 0; i < res->header_count; i++)
        MHD_add_response_header(response, res->headers[i].name, res->headers[i].value);
    enum MHD_Result ok = MHD_queue_response(state->req.connection, (unsigned)res->status, response);
    MHD_destroy_response(response);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double seconds = (double)(now.tv_sec - state->began.tv_sec) +
                     (double)(now.tv_nsec - state->began.tv_nsec) / 1e9;
    api_metrics_request(&state->req.api->metrics, state->route, state->req.method, res->status,
                        seconds);
    deadlines_enter(&state->req.api->deadlines, state->req.connection, PHASE_SERVING);
    return ok;
}

/* ---- the request state machine ---- */

/* route_role - the weakest role route needs: its row's, except GET
 * /metrics with metrics-auth = none. */
static enum token_role route_role(const struct api *api, const struct api_route *route)
{
    if (route->handler == route_metrics && api->metrics.auth_none)
        return 0;
    return route->min_role;
}

/* request_refuse_framing - answer a request whose framing or size is
 * wrong, and close the connection after the answer: where its body ends
 * and the next request starts is not known. Returns true when it did. */
static bool request_refuse_framing(struct request_state *state, const char *version)
{
    struct api_request *req = &state->req;
    struct iq_error err = {0};
    if (state->target_error.code < 0)
        iq_error_set(&err, state->target_error.code, "%s", iq_error_message(&state->target_error));
    else if (api_check_framing(req->connection, version, &err) == 0)
        return false;
    api_reply_error(req, &state->res, &err);
    state->res.close = true;
    return true;
}

/* request_begin - everything decided from the headers alone. Returns true
 * when the request may go on to its body and handler. */
static bool request_begin(struct api *api, struct request_state *state, const char *version)
{
    struct api_request *req = &state->req;
    struct api_response *res = &state->res;
    if (request_refuse_framing(state, version))
        return false;
    if (path_has_dot_segment(req->path)) {
        api_reply_problem(req, res, IQ_E_BAD_REQUEST, "the path may not contain . or .. segments");
        return false;
    }
    char allow[64];
    int status = 0;
    state->route = api_route_match(req->method, req->path, req->params, req->param_buf,
                                   sizeof(req->param_buf), allow, sizeof(allow), &status);
    if (!state->route) {
        if (status == 405) {
            api_reply_problem(req, res, IQ_E_METHOD, "%s is not allowed here; allowed: %s",
                              req->method, allow);
            api_header_add(res, MHD_HTTP_HEADER_ALLOW, allow);
        } else {
            api_reply_problem(req, res, IQ_E_NOT_FOUND, "no such endpoint");
        }
        return false;
    }
    enum token_role role = route_role(api, state->route);
    if (role && !api_authenticate(req, res, role))
        return false;
    int64_t length = content_length(req->connection);
    if (state->route->body == BODY_JSON) {
        const char *type = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_CONTENT_TYPE);
        if (has_body(req->connection) && !is_json_content_type(type)) {
            api_reply_problem(req, res, IQ_E_UNSUPPORTED,
                              "the body must be application/json (got %.64s)",
                              type ? type : "no Content-Type");
            return false;
        }
        if (length > api->config->max_body) {
            api_reply_problem(req, res, IQ_E_TOO_LARGE, "the body is over the limit of %lld bytes",
                              (long long)api->config->max_body);
            return false;
        }
    } else if (state->route->body == BODY_UPLOAD) {
        if (length > api->config->max_upload) {
            api_reply_problem(req, res, IQ_E_TOO_LARGE,
                              "the upload is over the limit of %lld bytes",
                              (long long)api->config->max_upload);
            return false;
        }
        struct iq_error err = {0};
        if (upload_sink_open(req, &err) < 0) {
            api_reply_error(req, res, &err);
            return false;
        }
    }
    return true;
}

/* request_body - take one chunk of the body. */
static void request_body(struct api *api, struct request_state *state, const char *data,
                         size_t size)
{
    if (state->answered || state->too_large || !state->route)
        return;
    if (state->route->body == BODY_JSON) {
        if (state->body_len + size > (size_t)api->config->max_body) {
            state->too_large = true;
            free(state->body);
            state->body = NULL;
            return;
        }
        if (state->body_len + size + 1 > state->body_capacity) {
            size_t capacity = state->body_capacity ? state->body_capacity : 4096;
            while (capacity < state->body_len + size + 1)
                capacity *= 2;
            char *grown = realloc(state->body, capacity);
            if (!grown) {
                state->too_large = true;
                return;
            }
            state->body = grown;
            state->body_capacity = capacity;
        }
        memcpy(state->body + state->body_len, data, size);
        state->body_len += size;
        state->body[state->body_len] = '\0';
    } else if (state->route->body == BODY_UPLOAD) {
        struct iq_error err = {0};
        if (upload_sink_write(&state->req, data, size, &err) < 0) {
            api_reply_error(&state->req, &state->res, &err);
            state->answered = true;
        }
    }
}

/* uri_log_cb - libmicrohttpd's first look at a request: the raw target,
 * before it cuts off the query and %-decodes the path. The request state
 * is made here (it becomes *con_cls), so what the raw target shows is
 * kept for request_begin; completed_cb frees it even when the access
 * handler never runs. NULL (no memory) makes access_cb refuse. */
static void *uri_log_cb(void *cls, const char *uri, struct MHD_Connection *connection)
{
    (void)cls;
    (void)connection;
    struct request_state *state = calloc(1, sizeof(*state));
    if (state) {
        clock_gettime(CLOCK_MONOTONIC, &state->began);
        api_check_target(uri, &state->target_error);
    }
    return state;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *connection, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct api *api = cls;
    struct request_state *state = *con_cls;
    if (!state)
        return MHD_NO;
    if (!state->begun) {
        state->begun = true;
        deadlines_enter(&api->deadlines, connection, PHASE_BODY);
        struct api_request *req = &state->req;
        req->api = api;
        req->connection = connection;
        req->method = method;
        req->path = url;
        request_id_from(connection, req->request_id, sizeof(req->request_id));
        client_address(connection, req->client_addr, sizeof(req->client_addr));
        req->actx.actor = "anonymous";
        req->actx.request_id = req->request_id;
        req->actx.client_addr = req->client_addr;
        if (!request_begin(api, state, version)) {
            /* Answer now, before any body is read (the client may be
             * waiting on "Expect: 100-continue"). */
            state->answered = true;
            return send_response(state);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        request_body(api, state, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (state->queued)
        return MHD_YES;
    deadlines_enter(&api->deadlines, connection, PHASE_SERVING);
    if (state->answered)
        return send_response(state);
    state->answered = true;
    if (state->too_large) {
        api_reply_problem(&state->req, &state->res, IQ_E_TOO_LARGE,
                          "the body is over the limit of %lld bytes",
                          (long long)api->config->max_body);
    } else {
        state->req.body = state->body;
        state->req.body_len = state->body_len;
        state->route->handler(&state->req, &state->res);
        if (state->res.status == 0)
            api_reply_problem(&state->req, &state->res, IQ_E_INTERNAL, "no answer");
    }
    return send_response(state);
}

static void completed_cb(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct api *api = cls;
    struct request_state *state = *con_cls;
    /* A kept-alive connection waits for its next request's headers. */
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        deadlines_enter(&api->deadlines, connection, PHASE_HEADERS);
    if (!state)
        return;
    store_pool_release(&api->pool, state->req.store, state->req.store_broken);
    upload_sink_free(state->req.upload);
    api_response_clear(&state->res);
    free(state->body);
    iq_error_clear(&state->target_error);
    free(state);
    *con_cls = NULL;
}

/* ---- start and stop ---- */

/* parse_listen - "HOST:PORT" or "[V6]:PORT" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ret_addr, bool *ret_loopback,
                        struct iq_error *err)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(host) || !colon[1])
        return iq_error_set(err, IQ_E_INVALID, "listen: expected HOST:PORT, got \"%s\"", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(h, colon + 1, &hints, &found);
    if (rc != 0 || !found)
        return iq_error_set(err, IQ_E_INVALID, "listen: cannot resolve \"%s\": %s", listen,
                            gai_strerror(rc));
    memset(ret_addr, 0, sizeof(*ret_addr));
    memcpy(ret_addr, found->ai_addr, found->ai_addrlen);
    freeaddrinfo(found);
    if (ret_addr->ss_family == AF_INET) {
        uint32_t ip = ntohl(((struct sockaddr_in *)ret_addr)->sin_addr.s_addr);
        *ret_loopback = (ip >> 24) == 127;
    } else {
        *ret_loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ret_addr)->sin6_addr);
    }
    return 0;
}

static int read_file_text(const char *path, char **ret_text, struct iq_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return iq_error_set(err, IQ_E_IO, "cannot open %s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    char buf[8192];
    size_t n;
    while (mem && (n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, mem);
    bool failed = ferror(f) || !mem;
    fclose(f);
    if (mem)
        fclose(mem);
    if (failed) {
        free(text);
        return iq_error_set(err, IQ_E_IO, "cannot read %s", path);
    }
    *ret_text = text;
    return 0;
}

/* check_tokens_for_exposure - a non-loopback listener needs a token. */
static int check_tokens_for_exposure(struct api *api, bool loopback, struct iq_error *err)
{
    if (loopback)
        return 0;
    struct store *store = NULL;
    struct token_list list = {0};
    int rc = store_pool_acquire(&api->pool, &store, err);
    if (rc == 0)
        rc = store_token_list(store, false, &list, err);
    size_t count = list.count;
    token_list_clear(&list);
    store_pool_release(&api->pool, store, rc < 0);
    if (rc < 0)
        return rc;
    if (count == 0)
        return iq_error_set(err, IQ_E_INVALID,
                            "refusing to listen on %s without an API token: create one with "
                            "`importq token create --name NAME --role admin`",
                            api->config->listen);
    return 0;
}

static unsigned thread_count(const struct config *cfg)
{
    if (cfg->http_threads > 0)
        return (unsigned)(cfg->http_threads > 256 ? 256 : cfg->http_threads);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return (unsigned)(cores > 0 ? (cores > 64 ? 128 : 2 * cores) : 4);
}

int api_start(const struct api_options *opts, struct api **ret_api, struct iq_error *err)
{
    const struct config *cfg = opts->config;
    struct sockaddr_storage addr;
    bool loopback = false;
    int rc = parse_listen(cfg->listen, &addr, &loopback, err);
    if (rc < 0)
        return rc;
    bool tls = cfg->tls_cert && *cfg->tls_cert;
    if (tls != (cfg->tls_key && *cfg->tls_key))
        return iq_error_set(err, IQ_E_INVALID, "TLS needs both tls-cert and tls-key");
    if (cfg->max_connections < 1 || cfg->max_connections > UINT32_MAX / 2 ||
        cfg->max_connections_per_ip > UINT32_MAX / 2)
        return iq_error_set(err, IQ_E_INVALID,
                            "max-connections must be at least 1 (and both connection limits "
                            "below 2^31)");
    if (cfg->events_max_streams < 0 || cfg->events_max_streams > EVENTS_MAX_STREAMS_LIMIT)
        return iq_error_set(err, IQ_E_INVALID, "events-max-streams must be between 0 and %d",
                            EVENTS_MAX_STREAMS_LIMIT);
    if (cfg->events_heartbeat < EVENTS_HEARTBEAT_MIN_MS ||
        cfg->events_heartbeat > EVENTS_HEARTBEAT_MAX_MS)
        return iq_error_set(err, IQ_E_INVALID, "events-heartbeat must be between 100ms and 1h");
    if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return iq_error_set(err, IQ_E_NOT_SUPPORTED,
                            "this libmicrohttpd was built without TLS support");

    struct api *api = calloc(1, sizeof(*api));
    if (!api)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    api->config = cfg;
    api->engine = opts->engine;
    api->version = opts->version ? opts->version : "dev";
    unsigned threads = thread_count(cfg);
    rc = api_metrics_start(api, opts->metrics, err);
    if (rc == 0)
        rc = store_pool_init(&api->pool, cfg->db, threads + 2, err);
    if (rc == 0)
        rc = token_cache_init(&api->tokens, TOKEN_CACHE_TTL_MS);
    if (rc == 0)
        rc = status_cache_start(&api->status, api_status_compute, api, NULL, err);
    if (rc == 0)
        rc = check_tokens_for_exposure(api, loopback, err);
    if (rc == 0 && tls)
        rc = read_file_text(cfg->tls_cert, &api->tls_cert_pem, err);
    if (rc == 0 && tls)
        rc = read_file_text(cfg->tls_key, &api->tls_key_pem, err);
    if (rc == 0)
        rc = deadlines_start(&api->deadlines, cfg->header_timeout, cfg->body_timeout, err);
    if (rc == 0)
        rc = events_hub_start(&api->events, &api->pool,
                              &(struct events_options){.max_streams = (int)cfg->events_max_streams,
                                                       .heartbeat_ms = cfg->events_heartbeat},
                              err);
    if (rc < 0)
        goto fail;

    /* Suspend/resume: an event stream with nothing to send waits
     * suspended (events.c), holding no thread. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_TURBO |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls_options[] = {
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, api->tls_cert_pem},
        {tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, api->tls_key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    api->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, access_cb, api, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_URI_LOG_CALLBACK, uri_log_cb, api,
        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, api, MHD_OPTION_NOTIFY_CONNECTION,
        deadlines_notify_cb, &api->deadlines, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_ip,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MHD_MEMORY_LIMIT_BYTES, MHD_OPTION_ARRAY,
        tls_options, MHD_OPTION_END);
    if (!api->daemon) {
        rc = iq_error_set(err, IQ_E_IO,
                          "cannot listen on %s (in use, or not an address of this "
                          "machine?)",
                          cfg->listen);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
    api->port = info ? info->port : 0;
    *ret_api = api;
    return 0;
fail:
    api_stop(api);
    return rc;
}

int api_port(const struct api *api)
{
    return api->port;
}

void api_stop(struct api *api)
{
    if (!api)
        return;
    deadlines_stop_sweeper(&api->deadlines);
    events_hub_stop(&api->events); /* no stream may be suspended at MHD_stop_daemon */
    if (api->daemon)
        MHD_stop_daemon(api->daemon);
    events_hub_destroy(&api->events);
    deadlines_destroy(&api->deadlines);
    status_cache_stop(&api->status); /* it uses the pool */
    if (api->tokens.ttl_ms)
        token_cache_destroy(&api->tokens);
    store_pool_destroy(&api->pool);
    free(api->tls_cert_pem);
    free(api->tls_key_pem);
    api_metrics_free(&api->metrics);
    free(api);
}
