/*
 * json_pointer.h - RFC 6901 JSON pointers over jansson values ("/steps/0/id",
 * "~1" for '/', "~0" for '~'). Used to map JSON records to columns.
 */
#ifndef IMPORTQ_CORE_JSON_POINTER_H
#define IMPORTQ_CORE_JSON_POINTER_H

#include <jansson.h>

/*
 * json_pointer_get - the value at pointer inside root ("" = root itself),
 * or NULL when any step is missing, an array index is not a plain decimal
 * number, or the pointer is malformed. The result is borrowed from root.
 */
json_t *json_pointer_get(json_t *root, const char *pointer);

#endif
