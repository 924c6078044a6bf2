/*
 * json_pointer.c - RFC 6901 evaluation. Tokens are unescaped into a small
 * stack buffer (a token longer than it is looked up through a heap copy).
 */
#include "core/json_pointer.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Unescapes token [start, end) into out (size end - start + 1). False on a bad escape. */
static bool unescape_token(const char *start, const char *end, char *out)
{
    char *p = out;
    for (const char *c = start; c < end; c++) {
        if (*c != '~') {
            *p++ = *c;
            continue;
        }
        if (c + 1 >= end || (c[1] != '0' && c[1] != '1'))
            return false;
        *p++ = c[1] == '0' ? '~' : '/';
        c++;
    }
    *p = '\0';
    return true;
}

/* Array index per RFC 6901: "0" or digits without a leading zero. */
static bool parse_index(const char *token, size_t *ret_index)
{
    if (!*token || (token[0] == '0' && token[1]) || strlen(token) > 18)
        return false;
    size_t value = 0;
    for (const char *c = token; *c; c++) {
        if (!isdigit((unsigned char)*c))
            return false;
        value = value * 10 + (size_t)(*c - '0');
    }
    *ret_index = value;
    return true;
}

json_t *json_pointer_get(json_t *root, const char *pointer)
{
    if (!root || !pointer)
        return NULL;
    if (*pointer == '\0')
        return root;
    if (*pointer != '/')
        return NULL;
    json_t *current = root;
    const char *p = pointer;
    char small[128];
    while (current && *p == '/') {
        const char *start = p + 1;
        const char *end = strchr(start, '/');
        if (!end)
            end = start + strlen(start);
        size_t len = (size_t)(end - start);
        char *token = len < sizeof(small) ? small : malloc(len + 1);
        if (!token)
            return NULL;
        bool ok = unescape_token(start, end, token);
        json_t *next = NULL;
        size_t index;
        if (ok && json_is_object(current))
            next = json_object_get(current, token);
        else if (ok && json_is_array(current) && parse_index(token, &index))
            next = json_array_get(current, index);
        if (token != small)
            free(token);
        current = next;
        p = end;
    }
    return current;
}
