/*
 * fuzz_api.c - libFuzzer target for the API's request-to-response path.
 *
 * One in-process server (SQLite in a temp directory, an admin token, no
 * engine) serves every input. An input is read as
 *   byte 0      method (GET POST PUT DELETE PATCH HEAD)
 *   byte 1      bit 0-1: token (none, valid, garbage); bit 2-3: Content-Type
 *               (application/json, text/plain, none, multipart)
 *   byte 2      < 200: a route of the table with {id} filled from the input;
 *               else the path is taken raw from the input
 *   up to '\n'  the {id} text or the raw path (percent-encoded as needed)
 *   the rest    the body
 * and sent as a real HTTP request over a socket. Any 5xx but 503 (the
 * database busy) aborts: every bad input must get a 4xx. A crash,
 * sanitizer report or hang in the server is caught by libFuzzer.
 *
 * Build and run: scripts/fuzz.sh [seconds] (clang, -fsanitize=fuzzer).
 */
#include "api/api.h"
#include "api/api_internal.h"
#include "core/auth.h"
#include "store/store.h"
#include "util/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct config fuzz_config;
static struct api *fuzz_api;
static char fuzz_token[AUTH_TOKEN_LEN];
static int fuzz_port;

static void die(const char *what, struct iq_error *err)
{
    fprintf(stderr, "fuzz_api: %s: %s\n", what, iq_error_message(err));
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char dir_template[] = "/tmp/importq-fuzz.XXXXXX";
    const char *dir = mkdtemp(dir_template);
    if (!dir)
        abort();
    struct iq_error err = {0};
    char url[256], spool[256];
    snprintf(url, sizeof(url), "sqlite:%s/fuzz.db", dir);
    snprintf(spool, sizeof(spool), "%s/spool", dir);
    config_init(&fuzz_config);
    if (config_set(&fuzz_config, "db", url, "fuzz", &err) < 0 ||
        config_set(&fuzz_config, "listen", "127.0.0.1:0", "fuzz", &err) < 0 ||
        config_set(&fuzz_config, "spool-dir", spool, "fuzz", &err) < 0 ||
        config_set(&fuzz_config, "max-body", "64KiB", "fuzz", &err) < 0 ||
        config_set(&fuzz_config, "max-upload", "64KiB", "fuzz", &err) < 0 ||
        config_set(&fuzz_config, "max-queue-size", "200", "fuzz", &err) < 0 ||
        config_set(&fuzz_config, "http-threads", "2", "fuzz", &err) < 0)
        die("config", &err);
    struct store *store = NULL;
    int applied = 0;
    if (store_open(url, NULL, &store, &err) < 0 || store_migrate(store, &applied, &err) < 0)
        die("database", &err);
    struct token_info token = {.role = ROLE_ADMIN, .name = "fuzz"};
    auth_token_generate(fuzz_token);
    auth_token_hash(fuzz_token, token.token_hash);
    uuid7_generate(token.id);
    struct audit_context actx = {.actor = "fuzz"};
    if (store_token_create(store, &token, &actx, &err) < 0)
        die("token", &err);
    store_close(store);
    struct api_options opts = {.config = &fuzz_config};
    if (api_start(&opts, &fuzz_api, &err) < 0)
        die("api", &err);
    fuzz_port = api_port(fuzz_api);
    return 0;
}

/* append_encoded - text into buf, percent-encoding what may not appear raw
 * in a request target. */
static size_t append_encoded(char *buf, size_t at, size_t size, const uint8_t *text, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len && at + 4 < size; i++) {
        uint8_t c = text[i];
        if (c > 0x20 && c < 0x7f && c != '%' && c != '#') {
            buf[at++] = (char)c;
        } else {
            buf[at++] = '%';
            buf[at++] = hex[c >> 4];
            buf[at++] = hex[c & 15];
        }
    }
    buf[at] = '\0';
    return at;
}

/* build_path - a route pattern with {id} replaced, or the raw text. */
static void build_path(uint8_t selector, const uint8_t *text, size_t len, char *path, size_t size)
{
    size_t routes = 0;
    while (api_routes[routes].method)
        routes++;
    if (selector >= 200) {
        path[0] = '/';
        append_encoded(path, 1, size, text, len);
        return;
    }
    const char *pattern = api_routes[selector % routes].pattern;
    const char *brace = strchr(pattern, '{');
    size_t at = 0;
    size_t head = brace ? (size_t)(brace - pattern) : strlen(pattern);
    memcpy(path, pattern, head);
    at = head;
    path[at] = '\0';
    if (brace) {
        at = append_encoded(path, at, size, text, len);
        const char *tail = strchr(brace, '}') + 1;
        snprintf(path + at, size - at, "%s", tail);
    }
}

/* send_request - write the request, read the status code (0 when the
 * server closed without answering, which is allowed for garbage). */
static int send_request(const char *head, size_t head_len, const uint8_t *body, size_t body_len)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fuzz_port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* libFuzzer's own signals (leak checks, timers) can interrupt connect:
     * that is the harness's problem, not the server's, so try again. */
    int fd = -1;
    for (int attempt = 0; attempt < 5 && fd < 0; attempt++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
            int saved = errno;
            close(fd);
            fd = -1;
            errno = saved;
            if (saved != EINTR)
                break;
        }
    }
    if (fd < 0) {
        fprintf(stderr, "fuzz_api: cannot connect to the server: %s\n", strerror(errno));
        abort();
    }
    int status = 0;
    if (send(fd, head, head_len, MSG_NOSIGNAL) == (ssize_t)head_len &&
        (body_len == 0 || send(fd, body, body_len, MSG_NOSIGNAL) >= 0)) {
        char reply[1024] = "";
        ssize_t n;
        while ((n = recv(fd, reply, sizeof(reply) - 1, 0)) < 0 && errno == EINTR)
            ;
        if (n > 12 && strncmp(reply, "HTTP/1.1 ", 9) == 0)
            status = atoi(reply + 9);
        if (status >= 500)
            fprintf(stderr, "fuzz_api: the answer was:\n%s\n", reply);
    }
    close(fd);
    return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"};
    static const char *const types[] = {"application/json", "text/plain", NULL,
                                        "multipart/form-data; boundary=x"};
    if (size < 3)
        return 0;
    const char *method = methods[data[0] % 6];
    int token_kind = data[1] & 3;
    const char *type = types[(data[1] >> 2) & 3];
    const uint8_t *rest = data + 3;
    size_t rest_len = size - 3;
    const uint8_t *newline = memchr(rest, '\n', rest_len);
    size_t text_len = newline ? (size_t)(newline - rest) : rest_len;
    if (text_len > 300)
        text_len = 300;
    char path[1024];
    build_path(data[2], rest, text_len, path, sizeof(path));
    const uint8_t *body = newline ? newline + 1 : rest + rest_len;
    size_t body_len = (size_t)(rest + rest_len - body);

    char head[2048];
    int len = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n",
                       method, path);
    if (token_kind == 1)
        len += snprintf(head + len, sizeof(head) - (size_t)len, "Authorization: Bearer %s\r\n",
                        fuzz_token);
    else if (token_kind == 2)
        len += snprintf(head + len, sizeof(head) - (size_t)len,
                        "Authorization: Bearer iq_not_a_token\r\n");
    if (type)
        len += snprintf(head + len, sizeof(head) - (size_t)len, "Content-Type: %s\r\n", type);
    len +=
        snprintf(head + len, sizeof(head) - (size_t)len, "Content-Length: %zu\r\n\r\n", body_len);
    int status = send_request(head, (size_t)len, body, body_len);
    if (status >= 500 && status != 503) {
        fprintf(stderr, "fuzz_api: %s %s answered %d\n", method, path, status);
        abort();
    }
    return 0;
}
