/*
 * convert_internal.h - what convert.c shares with the per-type parsers in
 * convert_time.c; nothing outside src/pipeline/convert*.c sees it.
 */
#ifndef IMPORTQ_PIPELINE_CONVERT_INTERNAL_H
#define IMPORTQ_PIPELINE_CONVERT_INTERNAL_H

#include "pipeline/convert.h"

/*
 * struct value_out - a conversion result before the checks. in_place:
 * the input text is NUL-terminated at its length, so an unchanged value
 * may be handed out as is.
 */
struct value_out {
    const char *text;
    size_t length;
    bool has_number;           /* number is set (for min/max) */
    long double number;
};

/*
 * convert_date / convert_timestamp - parse text[0..length) (already
 * trimmed) and write the canonical form into checker->small (or point at
 * the input when in_place and already canonical). Return NULL on success,
 * else a reject message (a literal).
 */
const char *convert_date(struct column_checker *checker, const char *text, size_t length,
                         bool in_place, struct value_out *out);
const char *convert_timestamp(struct column_checker *checker, const char *text, size_t length,
                              bool with_zone, struct value_out *out);

#endif
