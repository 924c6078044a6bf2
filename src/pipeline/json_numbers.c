/*
 * json_numbers.c - a record's number literals (see json_numbers.h): an
 * array of (node, text) entries over one text arena, sorted by node
 * address once the record is complete so that a lookup is a binary
 * search, and the literal-preserving compact dump.
 */
#include "pipeline/json_numbers.h"

#include "pipeline/grow.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct json_number {
    uintptr_t node;            /* the jansson node, as an address */
    size_t offset;             /* of its text in the arena */
    size_t length;
};

struct json_numbers {
    struct json_number *items;
    size_t count;
    size_t capacity;
    char *text;                /* every literal, each NUL-terminated */
    size_t text_length;
    size_t text_capacity;
};

int json_numbers_add(struct json_numbers **numbers, const json_t *node, const char *text,
                     size_t length)
{
    if (!*numbers && !(*numbers = calloc(1, sizeof(**numbers))))
        return -1;
    struct json_numbers *n = *numbers;
    if (!grow_buffer((void **)&n->items, &n->capacity, n->count + 1, sizeof(*n->items), 8) ||
        !grow_buffer((void **)&n->text, &n->text_capacity, n->text_length + length + 1, 1, 128))
        return -1;
    memcpy(n->text + n->text_length, text, length);
    n->text[n->text_length + length] = '\0';
    n->items[n->count++] = (struct json_number){(uintptr_t)node, n->text_length, length};
    n->text_length += length + 1;
    return 0;
}

static int compare_nodes(const void *a, const void *b)
{
    uintptr_t x = ((const struct json_number *)a)->node;
    uintptr_t y = ((const struct json_number *)b)->node;
    return x < y ? -1 : x > y;
}

void json_numbers_seal(struct json_numbers *numbers)
{
    if (numbers && numbers->count > 1)
        qsort(numbers->items, numbers->count, sizeof(*numbers->items), compare_nodes);
}

const char *json_numbers_find(const struct json_numbers *numbers, const json_t *node,
                              size_t *ret_length)
{
    if (!numbers || !node || !json_is_number(node))
        return NULL;
    struct json_number key = {.node = (uintptr_t)node};
    const struct json_number *found =
        bsearch(&key, numbers->items, numbers->count, sizeof(*numbers->items), compare_nodes);
    if (!found)
        return NULL;
    *ret_length = found->length;
    return numbers->text + found->offset;
}

bool json_numbers_empty(const struct json_numbers *numbers)
{
    return !numbers || numbers->count == 0;
}

/* A scalar as jansson writes it; false on OOM. */
static bool dump_scalar(FILE *out, const json_t *value)
{
    return json_dumpf(value, out, JSON_COMPACT | JSON_ENCODE_ANY) == 0;
}

/* A key as a JSON string; false on OOM. */
static bool dump_key(FILE *out, const char *key, size_t length)
{
    json_t *string = json_stringn_nocheck(key, length);
    bool ok = string && dump_scalar(out, string);
    json_decref(string);
    return ok && fputc(':', out) != EOF;
}

/* value into out, recursively (depth is bounded by the reader's limit). */
static bool dump_value(FILE *out, const json_t *value, const struct json_numbers *numbers)
{
    size_t length;
    const char *literal = json_numbers_find(numbers, value, &length);
    if (literal)
        return fwrite(literal, 1, length, out) == length;
    bool ok = true;
    if (json_is_object(value)) {
        const char *key;
        size_t key_length;
        json_t *member;
        bool first = true;
        ok = fputc('{', out) != EOF;
        json_object_keylen_foreach((json_t *)value, key, key_length, member) {
            ok = ok && (first || fputc(',', out) != EOF) && dump_key(out, key, key_length) &&
                 dump_value(out, member, numbers);
            first = false;
        }
        return ok && fputc('}', out) != EOF;
    }
    if (json_is_array(value)) {
        ok = fputc('[', out) != EOF;
        for (size_t i = 0; ok && i < json_array_size(value); i++)
            ok = (i == 0 || fputc(',', out) != EOF) &&
                 dump_value(out, json_array_get(value, i), numbers);
        return ok && fputc(']', out) != EOF;
    }
    return dump_scalar(out, value);
}

char *json_numbers_dump(const json_t *value, const struct json_numbers *numbers,
                        size_t *ret_length)
{
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    if (json_numbers_empty(numbers)) { /* the common case: jansson alone */
        size_t need = json_dumpb(value, NULL, 0, flags);
        char *text = need ? malloc(need + 1) : NULL;
        if (!text)
            return NULL;
        json_dumpb(value, text, need, flags);
        text[need] = '\0';
        *ret_length = need;
        return text;
    }
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    if (!out)
        return NULL;
    bool ok = dump_value(out, value, numbers);
    if (fclose(out) != 0 || !ok) {
        free(text);
        return NULL;
    }
    *ret_length = length;
    return text;
}

void json_numbers_free(struct json_numbers *numbers)
{
    if (!numbers)
        return;
    free(numbers->items);
    free(numbers->text);
    free(numbers);
}
