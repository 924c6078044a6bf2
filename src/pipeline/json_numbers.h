/*
 * json_numbers.h - the literal text of the JSON numbers in one record,
 * which a jansson value cannot keep: jansson holds a number as an int64 or
 * a double, so 18446744073709551616 (2^64), 1e400 or
 * 0.1234567890123456789 would lose digits or not fit at all. The readers
 * (json_build.h) record here every number that is not an int64 integer,
 * keyed by its jansson node, and put a stand-in node in the tree (the
 * nearest double, or +-DBL_MAX when it overflows); the conversions
 * (convert.h) and the reject report look the literal up and use it
 * instead of the node, so a `numeric` column gets the number exactly as
 * the source wrote it.
 *
 * Not for: parsing numbers (cnumber.h) or deciding what a column accepts.
 * Not thread-safe; one table belongs to one record.
 */
#ifndef IMPORTQ_PIPELINE_JSON_NUMBERS_H
#define IMPORTQ_PIPELINE_JSON_NUMBERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct json_numbers;

/*
 * json_numbers_add - note that node (a number in the record's tree) was
 * written as text[0..length). Creates the table in *numbers when it is
 * NULL. Returns 0, or -1 on out of memory (the table is unchanged).
 */
int json_numbers_add(struct json_numbers **numbers, const json_t *node, const char *text,
                     size_t length);

/*
 * json_numbers_seal - the record is complete: make lookups fast. Call
 * once, after the last add; NULL-safe.
 */
void json_numbers_seal(struct json_numbers *numbers);

/*
 * json_numbers_find - the literal text of node (NUL-terminated, owned by
 * the table) and its length in *ret_length, or NULL when the table has
 * none for it (node is an int64 integer, not a number, or numbers is
 * NULL). The table must be sealed.
 */
const char *json_numbers_find(const struct json_numbers *numbers, const json_t *node,
                              size_t *ret_length);

/* json_numbers_empty - true when numbers is NULL or holds nothing. */
bool json_numbers_empty(const struct json_numbers *numbers);

/*
 * json_numbers_dump - value as compact JSON text (as json_dumpb with
 * JSON_COMPACT | JSON_ENCODE_ANY writes it), but every number that has a
 * literal in numbers (which may be NULL) written as that literal. Returns
 * the text (caller frees) and its length in *ret_length, or NULL on out of
 * memory.
 */
char *json_numbers_dump(const json_t *value, const struct json_numbers *numbers,
                        size_t *ret_length);

/* json_numbers_free - free the table; NULL-safe. */
void json_numbers_free(struct json_numbers *numbers);

#endif
