/*
 * db_url.c - mask the passwords of database URLs (see db_url.h). The
 * passwords are first found as spans of the URL (user info, ?password=,
 * password= key/value), then the spans are replaced; a message is masked
 * by replacing the text of those spans wherever it appears.
 */
#include "core/db_url.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct span {
    size_t start;
    size_t length;
};

struct spans {
    struct span *items;
    size_t count;
};

static void add_span(struct spans *spans, size_t start, size_t length)
{
    if (length > 0)
        spans->items[spans->count++] = (struct span){start, length};
}

/* The password in a URI's user info ("scheme://user:PASSWORD@host"). The
 * last '@' before the query ends the user info, so a raw '@' or '/' in
 * the password is still masked. */
static void find_userinfo(const char *url, size_t authority, size_t query, struct spans *spans)
{
    const char *at = NULL;
    for (const char *p = url + authority; p < url + query; p++)
        if (*p == '@')
            at = p;
    if (!at)
        return;
    const char *colon = memchr(url + authority, ':', (size_t)(at - (url + authority)));
    if (colon)
        add_span(spans, (size_t)(colon + 1 - url), (size_t)(at - colon - 1));
}

/* ?password=VALUE (and &password=) in a URI's query. */
static void find_query_password(const char *url, size_t query, struct spans *spans)
{
    if (url[query] != '?')
        return;
    size_t at = query + 1;
    while (url[at] && url[at] != '#') {
        size_t length = strcspn(url + at, "&#");
        if (length >= 9 && strncmp(url + at, "password=", 9) == 0)
            add_span(spans, at + 9, length - 9);
        at += length;
        if (url[at] == '&')
            at++;
    }
}

/* The end of a key/value value at text[at]: quoted ('...', with \ escapes)
 * or up to the next blank. */
static size_t value_end(const char *text, size_t at)
{
    if (text[at] != '\'') {
        while (text[at] && !isspace((unsigned char)text[at]))
            at++;
        return at;
    }
    for (at++; text[at] && text[at] != '\''; at++)
        if (text[at] == '\\' && text[at + 1])
            at++;
    return text[at] ? at + 1 : at;
}

/* password = VALUE in a libpq key/value string. */
static void find_keyword_password(const char *text, struct spans *spans)
{
    for (size_t at = 0; text[at]; at++) {
        if ((at > 0 && !isspace((unsigned char)text[at - 1])) ||
            strncmp(text + at, "password", 8) != 0)
            continue;
        size_t p = at + 8;
        while (text[p] == ' ' || text[p] == '\t')
            p++;
        if (text[p] != '=')
            continue;
        p++;
        while (text[p] == ' ' || text[p] == '\t')
            p++;
        size_t end = value_end(text, p);
        add_span(spans, p, end - p);
        at = end > at ? end - 1 : at;
    }
}

/* Whether url[0..length) is "scheme:" of a URI (letters, digits, + - .). */
static bool is_scheme(const char *url, size_t length)
{
    if (length == 0 || !isalpha((unsigned char)url[0]))
        return false;
    for (size_t i = 1; i < length; i++)
        if (!isalnum((unsigned char)url[i]) && !strchr("+-.", url[i]))
            return false;
    return true;
}

/* The password spans of url, in order; items NULL on OOM. */
static struct spans find_passwords(const char *url)
{
    struct spans spans = {0};
    spans.items = malloc((strlen(url) / 9 + 2) * sizeof(*spans.items));
    if (!spans.items || strncmp(url, "sqlite:", 7) == 0) /* a path, never a password */
        return spans;
    const char *separator = strstr(url, "://");
    if (separator && is_scheme(url, (size_t)(separator - url))) {
        size_t authority = (size_t)(separator - url) + 3;
        size_t query = authority + strcspn(url + authority, "?#");
        find_userinfo(url, authority, query, &spans);
        find_query_password(url, query, &spans);
    } else {
        find_keyword_password(url, &spans);
    }
    return spans;
}

char *db_url_redact(const char *url)
{
    if (!url)
        return NULL;
    struct spans spans = find_passwords(url);
    if (!spans.items)
        return NULL;
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    if (out) {
        size_t at = 0;
        for (size_t i = 0; i < spans.count; i++) {
            fwrite(url + at, 1, spans.items[i].start - at, out);
            fputs(DB_URL_MASK, out);
            at = spans.items[i].start + spans.items[i].length;
        }
        fputs(url + at, out);
        if (fclose(out) != 0) {
            free(text);
            text = NULL;
        }
    }
    free(spans.items);
    return text;
}

/* Whether fragment[0..length) lies inside one of url's passwords. */
static bool inside_password(const char *url, const struct spans *spans, const char *fragment,
                            size_t length)
{
    for (size_t i = 0; i < spans->count; i++) {
        const char *password = url + spans->items[i].start;
        size_t password_length = spans->items[i].length;
        for (size_t at = 0; length > 0 && at + length <= password_length; at++)
            if (memcmp(password + at, fragment, length) == 0)
                return true;
    }
    return false;
}

/* The password of url that starts text, or 0. */
static size_t password_at(const char *url, const struct spans *spans, const char *text)
{
    for (size_t i = 0; i < spans->count; i++)
        if (strncmp(text, url + spans->items[i].start, spans->items[i].length) == 0)
            return spans->items[i].length;
    return 0;
}

char *db_url_redact_message(const char *message, const char *url)
{
    if (!message)
        return NULL;
    struct spans spans = url ? find_passwords(url) : (struct spans){0};
    if (url && !spans.items)
        return NULL;
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    for (size_t at = 0; out && message[at];) {
        size_t password = password_at(url, &spans, message + at);
        const char *close = message[at] == '"' ? strchr(message + at + 1, '"') : NULL;
        size_t quoted = close ? (size_t)(close - (message + at + 1)) : 0;
        if (password > 0) {
            fputs(DB_URL_MASK, out);
            at += password;
        } else if (quoted > 1 && inside_password(url, &spans, message + at + 1, quoted)) {
            /* a piece of the password (one character says nothing) */
            fputs("\"" DB_URL_MASK "\"", out);
            at += quoted + 2;
        } else {
            fputc(message[at++], out);
        }
    }
    if (out && fclose(out) != 0) {
        free(text);
        text = NULL;
    }
    free(spans.items);
    return text;
}
