/*
 * client_call.c - opening the API client for a command, calling it, and
 * reporting failures the same way in every client command.
 */
#include "cli/client_call.h"

#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int client_call_open(struct client_call *call, const char *command, const struct config *cfg,
                     const char *version)
{
    call->command = command;
    call->client = NULL;
    char user_agent[64];
    snprintf(user_agent, sizeof(user_agent), "importq/%s", version ? version : "dev");
    struct iq_error err = {0};
    int rc = client_open(cfg->server, cfg->token, user_agent, &call->client, &err);
    if (rc < 0) {
        fprintf(stderr, "importq %s: %s\n", command, iq_error_message(&err));
        iq_error_clear(&err);
        return rc == IQ_E_INVALID ? EXIT_USAGE : 1;
    }
    return 0;
}

void client_call_close(struct client_call *call)
{
    client_close(call->client);
    call->client = NULL;
}

int client_call_report(const struct client_call *call, int rc, const struct iq_error *err,
                       const struct client_response *response)
{
    if (rc < 0) {
        fprintf(stderr, "importq %s: %s\n", call->command, iq_error_message(err));
        return 1;
    }
    char *message = client_problem_message(response);
    long status = response->status;
    if (status == 401)
        fprintf(stderr, "importq %s: authentication failed: set --token or IMPORTQ_TOKEN\n",
                call->command);
    else if (status == 403)
        fprintf(stderr, "importq %s: forbidden: your token's role is too weak\n",
                call->command);
    if (status == 401 || status == 403)
        fprintf(stderr, "  (server: %s)\n", message ? message : "no detail");
    else
        fprintf(stderr, "importq %s: %s\n", call->command, message ? message : "out of memory");
    free(message);
    return status == 400 || status == 422 ? EXIT_USAGE : 1;
}

int client_call_json(struct client_call *call, const char *method, const char *path,
                     const char *body, struct client_response *ret_response, json_t **ret_json)
{
    struct iq_error err = {0};
    if (ret_json)
        *ret_json = NULL;
    int rc = client_request(call->client, method, path, body, ret_response, &err);
    if (rc < 0 || ret_response->status < 200 || ret_response->status > 299) {
        int exit_code = client_call_report(call, rc, &err, ret_response);
        iq_error_clear(&err);
        client_response_clear(ret_response);
        return exit_code;
    }
    json_error_t jerr;
    json_t *json = client_response_is_json(ret_response)
                       ? json_loadb(ret_response->body, ret_response->body_len, 0, &jerr)
                       : NULL;
    if (!json_is_object(json)) {
        fprintf(stderr, "importq %s: unexpected answer from %s (HTTP %ld, %s): not a JSON object\n",
                call->command, client_base_url(call->client), ret_response->status,
                ret_response->content_type ? ret_response->content_type : "no content type");
        json_decref(json);
        client_response_clear(ret_response);
        return 1;
    }
    if (ret_json)
        *ret_json = json;
    else
        json_decref(json);
    return 0;
}

int client_call_print(const char *command, const struct config *cfg, const char *version, bool json,
                      const char *method, const char *path, const char *body,
                      void (*print)(const json_t *answer))
{
    struct client_call call = {0};
    struct client_response response = {0};
    json_t *answer = NULL;
    int exit_code = client_call_open(&call, command, cfg, version);
    if (exit_code == 0)
        exit_code = client_call_json(&call, method, path, body, &response, &answer);
    if (exit_code == 0 && json)
        client_print_raw(&response);
    else if (exit_code == 0)
        print(answer);
    json_decref(answer);
    client_response_clear(&response);
    client_call_close(&call);
    return exit_code;
}

void client_call_try_json(struct client_call *call, const char *path, json_t **ret_json,
                          char **ret_error)
{
    *ret_json = NULL;
    struct client_response response = {0};
    struct iq_error err = {0};
    int rc = client_request(call->client, "GET", path, NULL, &response, &err);
    if (rc < 0) {
        free(*ret_error);
        *ret_error = strdup(iq_error_message(&err));
    } else if (response.status / 100 != 2 || !client_response_is_json(&response)) {
        free(*ret_error);
        *ret_error = client_problem_message(&response);
    } else {
        *ret_json = json_loadb(response.body, response.body_len, 0, NULL);
    }
    iq_error_clear(&err);
    client_response_clear(&response);
}

int client_query_add(char *query, size_t size, const char *name, const char *value)
{
    if (!value)
        return 0;
    char *escaped = client_escape(value);
    if (!escaped)
        return -1;
    size_t used = strlen(query);
    int n = snprintf(query + used, size - used, "%c%s=%s", strchr(query, '?') ? '&' : '?', name,
                     escaped);
    free(escaped);
    return n < 0 || (size_t)n >= size - used ? -1 : 0;
}

/* page_path - path with "cursor=<cursor>" added (cursor NULL: path); malloc'd, NULL on OOM. */
static char *page_path(const char *path, const char *cursor)
{
    char *escaped = cursor ? client_escape(cursor) : strdup("");
    if (!escaped)
        return NULL;
    size_t size = strlen(path) + strlen(escaped) + sizeof("&cursor=");
    char *full = malloc(size);
    if (full)
        snprintf(full, size, "%s%s%s", path,
                 !cursor             ? ""
                 : strchr(path, '?') ? "&cursor="
                                     : "?cursor=",
                 escaped);
    free(escaped);
    return full;
}

int client_call_pages(struct client_call *call, const char *path, const char *first_cursor,
                      bool all, json_t *items, char **ret_next_cursor,
                      struct client_response *ret_response)
{
    char *cursor = NULL;
    *ret_next_cursor = NULL;
    if (first_cursor && !(cursor = strdup(first_cursor)))
        return 1;
    int exit_code = 0;
    do {
        char *full = page_path(path, cursor);
        if (!full) {
            fprintf(stderr, "importq %s: out of memory\n", call->command);
            exit_code = 1;
            break;
        }
        json_t *page = NULL;
        client_response_clear(ret_response);
        exit_code = client_call_json(call, "GET", full, NULL, ret_response, &page);
        free(full);
        if (exit_code != 0)
            break;
        json_array_extend(items, json_object_get(page, "items"));
        const char *next = json_get_text(page, "next_cursor", NULL);
        /* A cursor that repeats would loop forever: treat it as the end. */
        bool more = next && *next && !(cursor && strcmp(next, cursor) == 0);
        free(cursor);
        cursor = more ? strdup(next) : NULL;
        json_decref(page);
        if (more && !cursor)
            exit_code = 1;
    } while (exit_code == 0 && all && cursor);
    if (exit_code != 0) {
        free(cursor);
        return exit_code;
    }
    *ret_next_cursor = cursor;
    return 0;
}

void client_print_items_json(json_t *items)
{
    json_t *merged = json_pack("{s:O,s:n}", "items", items, "next_cursor");
    if (merged)
        json_dumpf(merged, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(merged);
}

char *client_call_id_path(const char *prefix, const char *id, const char *suffix)
{
    char *escaped = client_escape(id);
    if (!escaped)
        return NULL;
    size_t size = strlen(prefix) + 1 + strlen(escaped) + strlen(suffix) + 1;
    char *path = malloc(size);
    if (path)
        snprintf(path, size, "%s/%s%s", prefix, escaped, suffix);
    free(escaped);
    return path;
}

char *client_call_job_path(const char *id, const char *suffix)
{
    return client_call_id_path(CLIENT_QUEUE_PATH, id, suffix);
}

void client_print_raw(const struct client_response *response)
{
    fwrite(response->body, 1, response->body_len, stdout);
    if (response->body_len == 0 || response->body[response->body_len - 1] != '\n')
        fputc('\n', stdout);
}

const char *json_get_text(const json_t *obj, const char *key, const char *fallback)
{
    const char *value = json_string_value(json_object_get(obj, key));
    return value ? value : fallback;
}

int64_t json_get_int(const json_t *obj, const char *key, int64_t fallback)
{
    json_t *value = json_object_get(obj, key);
    if (json_is_integer(value))
        return (int64_t)json_integer_value(value);
    if (json_is_real(value))
        return (int64_t)json_real_value(value);
    return fallback;
}

double json_get_number(const json_t *obj, const char *key, double fallback)
{
    json_t *value = json_object_get(obj, key);
    return json_is_number(value) ? json_number_value(value) : fallback;
}
