/*
 * infer.h - column types inferred from a file, so that `importq import
 * FILE --table T --create` and `importq infer FILE` need no hand-written
 * columns. Each column keeps the set of types every value seen so far
 * converts to, checked by the very converters the import uses
 * (pipeline/convert.h): the inferred types therefore accept every row of
 * the rows read. The most specific survivor wins, in this order: integer,
 * bigint, boolean, numeric, date, timestamp, timestamptz, uuid, json
 * (JSON sources: objects and arrays), text. A column with a NULL (an
 * empty field, the null marker, a JSON null or a missing key) is
 * nullable; one with no value at all is text.
 */
#ifndef IMPORTQ_PIPELINE_INFER_H
#define IMPORTQ_PIPELINE_INFER_H

#include "core/error.h"
#include "core/job_spec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Columns a file may have for inference (a wider one is refused). */
#define INFER_COLUMNS_MAX 1600

struct inferred_column {
    char *name;
    enum column_type type;
    bool nullable;
    int64_t values;     /* non-NULL values seen */
};

struct inferred {
    struct inferred_column *columns; /* in source order: the CSV header, or
                                        JSON keys in order of first appearance */
    size_t count;
    int64_t rows;       /* records read */
    bool sampled;       /* stopped at max_rows before the end */
};

/*
 * infer_columns - read the file at path as source describes (its format
 * and CSV options), at most max_rows records (0: all), and infer each
 * column. Returns 0 and *ret (inferred_clear), IQ_E_INVALID for a file
 * with no columns, malformed records or too many columns (err names the
 * line), or the reader's error.
 */
int infer_columns(const char *path, const struct source_spec *source, int64_t max_rows,
                  struct inferred *ret, struct iq_error *err);

/* Files under this are read whole to infer their columns; larger ones are
 * sampled: their first INFER_SAMPLE_ROWS records. */
#define INFER_WHOLE_FILE_BYTES (100LL * 1000 * 1000)
#define INFER_SAMPLE_ROWS 100000

/* infer_default_rows - the max_rows of infer_columns when the caller names
 * none: 0 (all) for a file under INFER_WHOLE_FILE_BYTES (or one stat
 * cannot size), else INFER_SAMPLE_ROWS. */
int64_t infer_default_rows(const char *path);

/* inferred_clear - NULL-safe; leaves it zeroed. */
void inferred_clear(struct inferred *inferred);

#endif
