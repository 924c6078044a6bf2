/*
 * infer.c - see infer.h. One pass over the records; per column, one
 * column checker per candidate type, dropped at its first refusal.
 */
#include "pipeline/infer.h"

#include "pipeline/convert.h"
#include "pipeline/reader.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The candidates, most specific first: the first survivor is the type. */
static const enum column_type candidates[] = {
    COLUMN_INTEGER, COLUMN_BIGINT,      COLUMN_BOOLEAN, COLUMN_NUMERIC, COLUMN_DATE,
    COLUMN_TIMESTAMP, COLUMN_TIMESTAMPTZ, COLUMN_UUID,  COLUMN_JSON,    COLUMN_TEXT,
};
#define CANDIDATE_COUNT (sizeof(candidates) / sizeof(candidates[0]))

struct column_state {
    struct column_spec specs[CANDIDATE_COUNT];
    struct column_checker checkers[CANDIDATE_COUNT];
    bool alive[CANDIDATE_COUNT];
};

struct inference {
    struct inferred *out;
    struct column_state *states; /* parallel to out->columns */
    size_t capacity;
    bool json;                   /* a JSON source: json is a candidate */
};

/* add_column - a new column named name (copied); its index, or -1 on OOM / too many. */
static long add_column(struct inference *inf, const char *name, struct iq_error *err)
{
    struct inferred *out = inf->out;
    if (out->count == INFER_COLUMNS_MAX)
        return iq_error_set(err, IQ_E_INVALID, "more than %d columns: too wide to infer",
                            INFER_COLUMNS_MAX), -1;
    if (out->count == inf->capacity) {
        size_t capacity = inf->capacity ? inf->capacity * 2 : 16;
        struct inferred_column *columns = realloc(out->columns, capacity * sizeof(*columns));
        if (columns)
            out->columns = columns;
        struct column_state *states = realloc(inf->states, capacity * sizeof(*states));
        if (states)
            inf->states = states;
        if (!columns || !states)
            return iq_error_set(err, IQ_E_NOMEM, "out of memory"), -1;
        inf->capacity = capacity;
    }
    size_t i = out->count;
    out->columns[i] = (struct inferred_column){.name = strdup(name), .type = COLUMN_TEXT};
    struct column_state *st = &inf->states[i];
    memset(st, 0, sizeof(*st));
    out->count++; /* counted now, so that a failure below is cleared */
    if (!out->columns[i].name)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory"), -1;
    for (size_t c = 0; c < CANDIDATE_COUNT; c++) {
        st->specs[c] = (struct column_spec){.name = out->columns[i].name,
                                            .type = candidates[c],
                                            .max_length = -1};
        st->alive[c] = candidates[c] != COLUMN_JSON || inf->json;
        if (st->alive[c] && column_checker_init(&st->checkers[c], &st->specs[c], NULL, err) < 0)
            return -1;
    }
    return (long)i;
}

/* find_column - the index of name, or -1. */
static long find_column(const struct inference *inf, const char *name)
{
    for (size_t i = 0; i < inf->out->count; i++)
        if (strcmp(inf->out->columns[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* see_text - one CSV field of column i. */
static void see_text(struct inference *inf, size_t i, const struct reader_field *field)
{
    struct inferred_column *col = &inf->out->columns[i];
    if (field->is_null || field->length == 0) {
        col->nullable = true;
        return;
    }
    col->values++;
    struct column_state *st = &inf->states[i];
    struct converted out;
    const char *reject;
    for (size_t c = 0; c < CANDIDATE_COUNT; c++)
        if (st->alive[c] && candidates[c] != COLUMN_TEXT &&
            column_convert_text(&st->checkers[c], field->data, field->length, false, &out,
                                &reject) < 0)
            st->alive[c] = false;
}

/* see_json - one JSON value of column i (NULL: the key is missing). */
static void see_json(struct inference *inf, size_t i, const json_t *value,
                     const struct json_numbers *numbers)
{
    struct inferred_column *col = &inf->out->columns[i];
    if (!value || json_is_null(value)) {
        col->nullable = true;
        return;
    }
    col->values++;
    struct column_state *st = &inf->states[i];
    struct converted out;
    const char *reject;
    bool structured = json_is_object(value) || json_is_array(value);
    for (size_t c = 0; c < CANDIDATE_COUNT; c++) {
        if (!st->alive[c] || candidates[c] == COLUMN_TEXT)
            continue;
        /* a string that parses as JSON is text, not json */
        bool refused = candidates[c] == COLUMN_JSON
                           ? !structured
                           : column_convert_json(&st->checkers[c], value, numbers, &out, &reject) < 0;
        if (refused)
            st->alive[c] = false;
    }
}

/* see_record - every column of one record. */
static int see_record(struct inference *inf, const struct record *rec, struct iq_error *err)
{
    if (rec->problem != RECORD_OK)
        return iq_error_set(err, IQ_E_INVALID, "line %lld: %s", (long long)rec->line,
                            rec->problem_message ? rec->problem_message : "malformed record");
    if (!inf->json) {
        for (size_t i = 0; i < inf->out->count; i++) {
            if (i < rec->field_count)
                see_text(inf, i, &rec->fields[i]);
            else
                inf->out->columns[i].nullable = true;
        }
        return 0;
    }
    const char *key;
    json_t *value;
    json_object_foreach(rec->value, key, value) {
        long i = find_column(inf, key);
        if (i < 0) {
            if ((i = add_column(inf, key, err)) < 0)
                return err->code;
            if (inf->out->rows > 0) /* missing from the records before */
                inf->out->columns[i].nullable = true;
        }
        see_json(inf, (size_t)i, value, rec->numbers);
    }
    for (size_t i = 0; i < inf->out->count; i++)
        if (!json_object_get(rec->value, inf->out->columns[i].name))
            inf->out->columns[i].nullable = true;
    return 0;
}

/* settle - each column's type: its first surviving candidate. */
static void settle(struct inference *inf)
{
    for (size_t i = 0; i < inf->out->count; i++) {
        struct inferred_column *col = &inf->out->columns[i];
        col->type = COLUMN_TEXT;
        if (col->values == 0)
            continue;
        for (size_t c = 0; c < CANDIDATE_COUNT; c++)
            if (inf->states[i].alive[c]) {
                col->type = candidates[c];
                break;
            }
    }
}

static void free_states(struct inference *inf)
{
    for (size_t i = 0; inf->states && i < inf->out->count; i++)
        for (size_t c = 0; c < CANDIDATE_COUNT; c++)
            column_checker_clear(&inf->states[i].checkers[c]);
    free(inf->states);
    inf->states = NULL;
}

int infer_columns(const char *path, const struct source_spec *source, int64_t max_rows,
                  struct inferred *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    struct reader_limits limits;
    reader_limits_default(&limits);
    struct reader *reader = NULL;
    int rc = reader_open_path(path, source, &limits, &reader, err);
    if (rc < 0)
        return rc;
    struct inference inf = {.out = ret, .json = source->format != SOURCE_CSV};
    if (!inf.json) {
        size_t count = 0;
        const char *const *names = reader_column_names(reader, &count);
        for (size_t i = 0; rc == 0 && i < count; i++)
            if (add_column(&inf, names[i], err) < 0)
                rc = err->code ? err->code : IQ_E_NOMEM;
    }
    while (rc == 0 && (max_rows == 0 || ret->rows < max_rows)) {
        struct record *rec = NULL;
        int got = reader_next(reader, &rec, err);
        if (got <= 0) {
            rc = got;
            break;
        }
        /* a CSV without a header names its columns at its first row */
        if (!inf.json && ret->count == 0) {
            for (size_t i = 0; rc == 0 && i < rec->column_count; i++)
                if (add_column(&inf, rec->column_names[i], err) < 0)
                    rc = err->code ? err->code : IQ_E_NOMEM;
        }
        if (rc == 0)
            rc = see_record(&inf, rec, err);
        if (rc == 0)
            ret->rows++;
    }
    if (rc == 0 && max_rows > 0 && ret->rows == max_rows) {
        struct record *rec = NULL;
        ret->sampled = reader_next(reader, &rec, err) == 1;
        iq_error_clear(err);
    }
    reader_free(reader);
    if (rc == 0 && ret->count == 0)
        rc = iq_error_set(err, IQ_E_INVALID, "%s has no columns to infer", path);
    if (rc == 0)
        settle(&inf);
    free_states(&inf);
    if (rc < 0)
        inferred_clear(ret);
    return rc < 0 ? rc : 0;
}

int64_t infer_default_rows(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_size >= INFER_WHOLE_FILE_BYTES ? INFER_SAMPLE_ROWS : 0;
}

void inferred_clear(struct inferred *inferred)
{
    if (!inferred)
        return;
    for (size_t i = 0; i < inferred->count; i++)
        free(inferred->columns[i].name);
    free(inferred->columns);
    memset(inferred, 0, sizeof(*inferred));
}
