/*
 * client.c - the client commands' HTTP client: one libcurl easy handle
 * reused for every request (keep-alive), bearer auth, timeouts, a size
 * limit on answers, and problem+json made readable. A request body is
 * JSON text or a file streamed from disk (an upload); a successful answer
 * can be streamed to a file (a CSV download) instead of kept in memory.
 * No printing here.
 */
#include "cli/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct client {
    CURL *curl;
    char *base_url;                      /* no trailing slash */
    char *auth_header;                   /* "Authorization: Bearer ...", NULL: none */
    char *user_agent;
    volatile sig_atomic_t *interrupt;    /* may be NULL */
    bool curl_initialised;
};

/* What one request sends: JSON text, a file, or nothing. */
struct request_body {
    const char *json; /* NUL-terminated JSON text, or NULL */
    FILE *file;       /* streamed instead, file_bytes long; or NULL */
    int64_t file_bytes;
    bool file_failed; /* reading file failed (errno in file_errno) */
    int file_errno;
};

/* Where the answer of one request accumulates. */
struct response_buffer {
    char *data;
    size_t len;
    size_t capacity;
    bool too_large;
    CURL *curl;       /* to read the status while the body arrives */
    FILE *sink;       /* a 2xx body goes here instead; NULL: buffered */
    bool sink_failed; /* writing to sink failed (errno kept in sink_errno) */
    int sink_errno;
    int64_t sink_bytes;
};

/* Whether the answer's body goes to the sink: a sink is set and the status is 2xx. */
static bool to_sink(const struct response_buffer *buf)
{
    if (!buf->sink)
        return false;
    long status = 0;
    curl_easy_getinfo(buf->curl, CURLINFO_RESPONSE_CODE, &status);
    return status >= 200 && status <= 299;
}

static size_t write_cb(char *data, size_t size, size_t count, void *ctx)
{
    struct response_buffer *buf = ctx;
    size_t n = size * count;
    if (to_sink(buf)) {
        if (fwrite(data, 1, n, buf->sink) != n) {
            buf->sink_failed = true;
            buf->sink_errno = errno;
            return 0;
        }
        buf->sink_bytes += (int64_t)n;
        return n;
    }
    if (buf->len + n > CLIENT_MAX_RESPONSE_BYTES) {
        buf->too_large = true;
        return 0;
    }
    if (buf->len + n + 1 > buf->capacity) {
        size_t capacity = buf->capacity ? buf->capacity : 4096;
        while (capacity < buf->len + n + 1)
            capacity *= 2;
        char *grown = realloc(buf->data, capacity);
        if (!grown)
            return 0;
        buf->data = grown;
        buf->capacity = capacity;
    }
    memcpy(buf->data + buf->len, data, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
    return n;
}

/* Aborts the transfer once the interrupt flag is set (Ctrl-C). */
static int progress_cb(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    const struct client *client = ctx;
    return client->interrupt && *client->interrupt ? 1 : 0;
}

/* Feeds an upload from its file; a read error aborts the transfer. */
static size_t read_cb(char *data, size_t size, size_t count, void *ctx)
{
    struct request_body *body = ctx;
    size_t n = fread(data, size, count, body->file);
    if (n == 0 && ferror(body->file)) {
        body->file_failed = true;
        body->file_errno = errno;
        return CURL_READFUNC_ABORT;
    }
    return n;
}

static bool has_http_scheme(const char *url)
{
    return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

int client_open(const char *base_url, const char *token, const char *user_agent,
                struct client **ret_client, struct iq_error *err)
{
    *ret_client = NULL;
    if (!base_url || !has_http_scheme(base_url) || strlen(base_url) < 9)
        return iq_error_set(err, IQ_E_INVALID,
                            "server \"%s\" is not an http:// or https:// URL (--server, "
                            "IMPORTQ_SERVER)",
                            base_url ? base_url : "");
    struct client *client = calloc(1, sizeof(*client));
    if (!client)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    int rc = IQ_E_NOMEM;
    client->base_url = strdup(base_url);
    client->user_agent = strdup(user_agent ? user_agent : "importq");
    if (!client->base_url || !client->user_agent)
        goto fail;
    size_t len = strlen(client->base_url);
    while (len > 0 && client->base_url[len - 1] == '/')
        client->base_url[--len] = '\0';
    if (token && *token) {
        size_t size = strlen(token) + sizeof("Authorization: Bearer ");
        client->auth_header = malloc(size);
        if (!client->auth_header)
            goto fail;
        snprintf(client->auth_header, size, "Authorization: Bearer %s", token);
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc = iq_error_set(err, IQ_E_INTERNAL, "cannot initialise libcurl");
        goto fail;
    }
    client->curl_initialised = true;
    client->curl = curl_easy_init();
    if (!client->curl) {
        rc = iq_error_set(err, IQ_E_INTERNAL, "cannot initialise libcurl");
        goto fail;
    }
    *ret_client = client;
    return 0;
fail:
    if (rc == IQ_E_NOMEM)
        iq_error_set(err, IQ_E_NOMEM, "out of memory");
    client_close(client);
    return rc;
}

void client_close(struct client *client)
{
    if (!client)
        return;
    if (client->curl)
        curl_easy_cleanup(client->curl);
    if (client->curl_initialised)
        curl_global_cleanup();
    if (client->auth_header) {
        memset(client->auth_header, 0, strlen(client->auth_header));
        free(client->auth_header);
    }
    free(client->user_agent);
    free(client->base_url);
    free(client);
}

void client_set_interrupt(struct client *client, volatile sig_atomic_t *flag)
{
    client->interrupt = flag;
}

const char *client_base_url(const struct client *client)
{
    return client->base_url;
}

/* Sets the options of one request on the reused handle. */
static int setup_request(struct client *client, const char *method, const char *url,
                         struct request_body *body, struct curl_slist *headers,
                         struct response_buffer *buf, char *curl_error)
{
    CURL *curl = client->curl;
    curl_easy_reset(curl);
    CURLcode c = CURLE_OK;
#define SET(option, value)                                     \
    do {                                                       \
        if (c == CURLE_OK)                                     \
            c = curl_easy_setopt(curl, option, value);         \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)CLIENT_CONNECT_TIMEOUT_MS);
    if (body->file || buf->sink) {
        /* a file's size has no bound here: give up on a stalled transfer instead */
        SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
        SET(CURLOPT_LOW_SPEED_TIME, (long)(CLIENT_REQUEST_TIMEOUT_MS / 1000));
    } else {
        SET(CURLOPT_TIMEOUT_MS, (long)CLIENT_REQUEST_TIMEOUT_MS);
    }
    SET(CURLOPT_USERAGENT, client->user_agent);
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_WRITEFUNCTION, write_cb);
    SET(CURLOPT_WRITEDATA, buf);
    SET(CURLOPT_ERRORBUFFER, curl_error);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, progress_cb);
    SET(CURLOPT_XFERINFODATA, client);
    if (body->file) {
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_READFUNCTION, read_cb);
        SET(CURLOPT_READDATA, body);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->file_bytes);
    } else if (body->json) {
        SET(CURLOPT_POSTFIELDS, body->json);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body->json));
    } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        SET(CURLOPT_POSTFIELDS, "");
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        SET(CURLOPT_CUSTOMREQUEST, method);
    else if (strcmp(method, "GET") == 0)
        SET(CURLOPT_HTTPGET, 1L);
#undef SET
    return c == CURLE_OK ? 0 : -1;
}

/* Builds the request headers; NULL when out of memory. */
static struct curl_slist *request_headers(const struct client *client,
                                          const struct request_body *body, bool download)
{
    const char *lines[] = {
        download ? "Accept: text/csv, application/problem+json"
                 : "Accept: application/json, application/problem+json",
        /* A body is JSON or a file's bytes; without one, no (form) content type is claimed. */
        body->file   ? "Content-Type: application/octet-stream"
        : body->json ? "Content-Type: application/json"
                     : "Content-Type:",
        /* A file waits for the server's go-ahead, so a refusal (413) comes before its bytes. */
        body->file ? "Expect: 100-continue" : "Expect:",
        client->auth_header,
    };
    struct curl_slist *headers = NULL;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if (!lines[i])
            continue;
        struct curl_slist *next = curl_slist_append(headers, lines[i]);
        if (!next) {
            curl_slist_free_all(headers);
            return NULL;
        }
        headers = next;
    }
    return headers;
}

/* Maps a failed transfer to an error kind and a message naming the server. */
static int transfer_error(const struct client *client, CURLcode c, const char *curl_error,
                          const struct request_body *body, const struct response_buffer *buf,
                          struct iq_error *err)
{
    const char *why = *curl_error ? curl_error : curl_easy_strerror(c);
    if (body->file_failed)
        return iq_error_set(err, IQ_E_IO, "cannot read the file being sent: %s",
                            strerror(body->file_errno));
    switch (c) {
    case CURLE_ABORTED_BY_CALLBACK:
        return iq_error_set(err, IQ_E_CANCELLED, "interrupted");
    case CURLE_WRITE_ERROR:
        if (buf->sink_failed)
            return iq_error_set(err, IQ_E_IO, "cannot write the answer: %s",
                                strerror(buf->sink_errno));
        if (buf->too_large)
            return iq_error_set(err, IQ_E_TOO_LARGE,
                                "the answer of %s is larger than %d MiB", client->base_url,
                                CLIENT_MAX_RESPONSE_BYTES / (1024 * 1024));
        return iq_error_set(err, IQ_E_NOMEM, "out of memory reading the answer");
    case CURLE_OPERATION_TIMEDOUT:
        return iq_error_set(err, IQ_E_TIMEOUT, "the importq server at %s did not answer: %s",
                            client->base_url, why);
    default:
        return iq_error_set(err, IQ_E_UNAVAILABLE, "cannot reach the importq server at %s: %s",
                            client->base_url, why);
    }
}

/*
 * perform - one request with body; a 2xx answer's body goes to sink when
 * it is not NULL (ret_response->body is then empty), else into
 * ret_response. As client_request otherwise.
 */
static int perform(struct client *client, const char *method, const char *path,
                   struct request_body *body, FILE *sink, struct client_response *ret_response,
                   struct iq_error *err)
{
    memset(ret_response, 0, sizeof(*ret_response));
    struct response_buffer buf = {.curl = client->curl, .sink = sink};
    char curl_error[CURL_ERROR_SIZE] = "";
    size_t url_size = strlen(client->base_url) + strlen(path) + 1;
    char *url = malloc(url_size);
    struct curl_slist *headers = request_headers(client, body, sink != NULL);
    int rc = IQ_E_NOMEM;
    if (!url || !headers) {
        iq_error_set(err, IQ_E_NOMEM, "out of memory");
        goto fail;
    }
    snprintf(url, url_size, "%s%s", client->base_url, path);
    if (setup_request(client, method, url, body, headers, &buf, curl_error) < 0) {
        rc = iq_error_set(err, IQ_E_INTERNAL, "cannot set up the request to %s", url);
        goto fail;
    }
    CURLcode c = curl_easy_perform(client->curl);
    if (c != CURLE_OK) {
        rc = transfer_error(client, c, curl_error, body, &buf, err);
        goto fail;
    }
    const char *content_type = NULL;
    curl_easy_getinfo(client->curl, CURLINFO_RESPONSE_CODE, &ret_response->status);
    curl_easy_getinfo(client->curl, CURLINFO_CONTENT_TYPE, &content_type);
    if (!buf.data && !(buf.data = calloc(1, 1))) {
        iq_error_set(err, IQ_E_NOMEM, "out of memory");
        goto fail;
    }
    if (content_type && !(ret_response->content_type = strdup(content_type))) {
        iq_error_set(err, IQ_E_NOMEM, "out of memory");
        goto fail;
    }
    ret_response->body = buf.data;
    ret_response->body_len = buf.len;
    curl_slist_free_all(headers);
    free(url);
    return 0;
fail:
    client_response_clear(ret_response);
    curl_slist_free_all(headers);
    free(buf.data);
    free(url);
    return rc;
}

int client_request(struct client *client, const char *method, const char *path, const char *body,
                   struct client_response *ret_response, struct iq_error *err)
{
    struct request_body request = {.json = body};
    return perform(client, method, path, &request, NULL, ret_response, err);
}

int client_request_upload(struct client *client, const char *path, FILE *file, int64_t bytes,
                          struct client_response *ret_response, struct iq_error *err)
{
    struct request_body request = {.file = file, .file_bytes = bytes};
    return perform(client, "POST", path, &request, NULL, ret_response, err);
}

int client_request_download(struct client *client, const char *path, FILE *sink,
                            struct client_response *ret_response, struct iq_error *err)
{
    struct request_body request = {0};
    return perform(client, "GET", path, &request, sink, ret_response, err);
}

void client_response_clear(struct client_response *response)
{
    if (!response)
        return;
    free(response->body);
    free(response->content_type);
    memset(response, 0, sizeof(*response));
}

int client_response_is_json(const struct client_response *response)
{
    const char *type = response->content_type;
    if (!type)
        return 0;
    size_t len = strcspn(type, ";");
    while (len > 0 && type[len - 1] == ' ')
        len--;
    return (len == 16 && strncasecmp(type, "application/json", 16) == 0) ||
           (len > 5 && strncasecmp(type + len - 5, "+json", 5) == 0);
}

/* Appends text to a growing string; false when out of memory. */
static bool append(char **text, size_t *len, const char *more)
{
    size_t n = strlen(more);
    char *grown = realloc(*text, *len + n + 1);
    if (!grown)
        return false;
    memcpy(grown + *len, more, n + 1);
    *text = grown;
    *len += n;
    return true;
}

/* Appends "title: detail" (or either alone) and one line per field error. */
static bool append_problem(char **text, size_t *len, json_t *problem)
{
    const char *title = json_string_value(json_object_get(problem, "title"));
    const char *detail = json_string_value(json_object_get(problem, "detail"));
    bool ok = true;
    if (title && *title)
        ok = append(text, len, title);
    if (ok && detail && *detail && !(title && strcmp(title, detail) == 0))
        ok = (!(title && *title) || append(text, len, ": ")) && append(text, len, detail);
    json_t *errors = json_object_get(problem, "errors");
    size_t i;
    json_t *entry;
    json_array_foreach(errors, i, entry) {
        const char *field = json_string_value(json_object_get(entry, "field"));
        const char *message = json_string_value(json_object_get(entry, "message"));
        ok = ok && append(text, len, "\n  ") &&
             append(text, len, field && *field ? field : "(spec)") &&
             append(text, len, ": ") && append(text, len, message ? message : "invalid");
    }
    return ok;
}

char *client_problem_message(const struct client_response *response)
{
    char *text = NULL;
    size_t len = 0;
    char status[32];
    snprintf(status, sizeof(status), "HTTP %ld", response->status);
    json_t *problem = NULL;
    if (client_response_is_json(response) && response->body)
        problem = json_loadb(response->body, response->body_len, 0, NULL);
    bool ok;
    if (json_is_object(problem) && (json_object_get(problem, "title") ||
                                    json_object_get(problem, "detail"))) {
        ok = append_problem(&text, &len, problem);
    } else {
        /* Not a problem document (a proxy's page?): status and first line. */
        ok = append(&text, &len, status);
        const char *body = response->body ? response->body : "";
        size_t line = strcspn(body, "\r\n");
        if (ok && line > 0) {
            char first[201];
            snprintf(first, sizeof(first), "%.*s", (int)(line < 200 ? line : 200), body);
            ok = append(&text, &len, ": ") && append(&text, &len, first);
        }
    }
    if (ok && !text)
        ok = append(&text, &len, status);
    json_decref(problem);
    if (!ok) {
        free(text);
        return NULL;
    }
    return text;
}

char *client_escape(const char *s)
{
    char *escaped = curl_easy_escape(NULL, s, 0);
    if (!escaped)
        return NULL;
    char *copy = strdup(escaped);
    curl_free(escaped);
    return copy;
}
