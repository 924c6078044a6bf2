/*
 * import.c - the run loop of one import: read records, convert each value,
 * batch rows to the store, then the set-wise checks, promotion and commit.
 * Nothing lands unless every step succeeds: any failure aborts the load,
 * which rolls the transaction back.
 */
#include "pipeline/import_internal.h"

#include "core/json_pointer.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *import_phase_name(enum import_phase phase)
{
    static const char *const names[] = {
#define IMPORT_PHASE_NAME(name, text) text,
        IMPORT_PHASES(IMPORT_PHASE_NAME)
#undef IMPORT_PHASE_NAME
    };
    return (unsigned)phase < IMPORT_PHASE_COUNT ? names[phase] : "unknown";
}

/* Everything one run carries around. */
struct run {
    const struct import_request *req;
    struct import_result *result;
    struct iq_error *err;
    struct reader *reader;
    struct mapping map;
    struct load *load;
    int64_t rows_failed;        /* rows rejected so far (each row once) */
    int64_t last_progress_ms;
    int64_t progress_interval_ms;
    int64_t stage_ms;           /* time inside store_load_rows */
    const char *phase;
};

static void report_progress(struct run *run, const char *phase, bool force)
{
    if (!run->req->progress_cb)
        return;
    int64_t now = time_monotonic_ms();
    if (!force && now - run->last_progress_ms < run->progress_interval_ms)
        return;
    run->last_progress_ms = now;
    run->phase = phase;
    struct import_progress progress = {
        .phase = phase,
        .rows_read = run->result->rows_read,
        .rows_rejected = run->rows_failed,
        .bytes_read = run->reader ? reader_bytes_read(run->reader) : 0,
        .bytes_total = run->reader ? reader_bytes_total(run->reader) : 0,
    };
    run->req->progress_cb(&progress, run->req->progress_ctx);
}

static bool cancelled(const struct run *run)
{
    return run->req->cancel && atomic_load(run->req->cancel);
}

/* Where a rejected thing is: the record, and the JSON pointer. */
struct reject_place {
    int64_t line;
    int64_t record;            /* -1 unknown */
    const char *pointer;       /* NULL unknown */
};

/* The place of a record as a whole. */
static struct reject_place record_place(const struct record *rec)
{
    return (struct reject_place){rec->line, rec->index, rec->pointer};
}

/* base + suffix as one JSON pointer (caller frees); NULL when base is NULL
 * (CSV) or on OOM. */
static char *pointer_join(const char *base, const char *suffix)
{
    char *text = NULL;
    if (!base || asprintf(&text, "%s%s", base, suffix ? suffix : "") < 0)
        return NULL;
    return text;
}

/* Hands one rejected value to the caller. */
static int emit_reject(struct run *run, struct reject_place place, const char *table,
                       const char *column, const char *value, size_t value_length,
                       const char *error)
{
    if (!run->req->reject_cb)
        return 0;
    char cut[IMPORT_REJECT_VALUE_MAX + 1];
    if (value) {
        size_t n = value_length < IMPORT_REJECT_VALUE_MAX ? value_length : IMPORT_REJECT_VALUE_MAX;
        /* Do not cut inside a UTF-8 sequence. */
        while (n > 0 && n < value_length && ((unsigned char)value[n] & 0xC0) == 0x80)
            n--;
        memcpy(cut, value, n);
        cut[n] = '\0';
        value = cut;
    }
    struct import_reject reject = {place.line, table,        column,       value,
                                   error,      place.record, place.pointer};
    int rc = run->req->reject_cb(&reject, run->req->reject_ctx);
    if (rc < 0)
        return iq_error_set(run->err, rc, "stopped by the reject handler");
    return 0;
}

static bool dry_run(const struct run *run)
{
    return run->req->target->dry_run;
}

/* over_reject_limit - abort's max_rejects is exceeded. */
static bool over_reject_limit(const struct run *run)
{
    const struct on_error_spec *on_error = run->req->on_error;
    return on_error->action == ON_ERROR_ABORT && run->rows_failed > on_error->max_rejects;
}

/* too_many_rejects - the run must stop now: over the limit, and not a dry
 * run (which reads on, to report every bad row, and fails at the end). */
static bool too_many_rejects(const struct run *run)
{
    return !dry_run(run) && over_reject_limit(run);
}

/* Sets the error for too many rejects; returns IQ_E_REJECTED. */
static int rejects_error(struct run *run)
{
    const struct on_error_spec *on_error = run->req->on_error;
    return iq_error_set(run->err, IQ_E_REJECTED,
                        "%lld row(s) rejected, more than on_error.max_rejects %lld: %s",
                        (long long)run->rows_failed, (long long)on_error->max_rejects,
                        dry_run(run) ? "the import would fail and load nothing"
                                     : "nothing was loaded");
}

/* Counts a rejected row; fails the run once abort's max_rejects is exceeded. */
static int count_rejected_row(struct run *run)
{
    run->rows_failed++;
    return too_many_rejects(run) ? rejects_error(run) : 0;
}

/* Sends a part's complete rows to the store. */
static int flush_part(struct run *run, size_t index)
{
    struct batch *b = &run->map.parts[index].batch;
    if (b->row_count == 0)
        return 0;
    int64_t started = time_monotonic_ms();
    int rc = store_load_rows(run->load, (int)index, batch_values(b), b->lines, b->row_count,
                             run->err);
    run->stage_ms += time_monotonic_ms() - started;
    batch_reset(b);
    return rc;
}

static int flush_all(struct run *run)
{
    for (size_t i = 0; i < run->map.part_count; i++) {
        int rc = flush_part(run, i);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The text of a JSON value for a reject report, numbers as the source
 * wrote them; caller frees. */
static char *json_value_text(const json_t *value, const struct json_numbers *numbers)
{
    if (!value)
        return NULL;
    if (json_is_string(value))
        return strdup(json_string_value(value));
    size_t length;
    return json_numbers_dump(value, numbers, &length);
}

/*
 * convert_row - convert every column of part for one source row into the
 * part's batch (row not yet ended). CSV: fields; JSON: object. Returns 1
 * when the row is good, 0 when at least one value was rejected (each
 * reported), negative on error. parent: the parent's batch row for
 * children (values copied from it), else NULL. object_pointer: the JSON
 * pointer of object in the document (the record's, or a child element's;
 * NULL for CSV), for the reject report.
 */
static int convert_row(struct run *run, struct mapped_part *part, const struct record *rec,
                       json_t *object, const char *object_pointer,
                       const struct batch *parent_batch, size_t parent_row)
{
    bool good = true;
    for (size_t c = 0; c < part->column_count; c++) {
        struct mapped_column *mc = &part->columns[c];
        int rc;
        if (mc->from_parent) {
            size_t cell = parent_row * parent_batch->column_count + mc->parent_index;
            size_t offset = parent_batch->offsets[cell];
            const char *text = offset == SIZE_MAX ? NULL : parent_batch->arena + offset;
            rc = batch_put(&part->batch, c, text, text ? strlen(text) : 0);
            if (rc < 0)
                return iq_error_set(run->err, rc, "out of memory");
            continue;
        }
        struct converted out;
        const char *reject = NULL;
        const char *raw = NULL;
        size_t raw_length = 0;
        char *raw_owned = NULL;
        char *pointer = NULL;
        if (object) {
            const char *from = mc->spec->from ? mc->spec->from : "";
            json_t *value = json_pointer_get(object, from);
            rc = column_convert_json(&mc->checker, value, rec->numbers, &out, &reject);
            if (rc == IQ_E_REJECTED) {
                raw_owned = json_value_text(value, rec->numbers);
                raw = raw_owned;
                raw_length = raw ? strlen(raw) : 0;
                pointer = pointer_join(object_pointer, from);
            }
        } else {
            const struct reader_field *field = &rec->fields[mc->csv_index];
            rc = column_convert_text(&mc->checker, field->data, field->length, field->is_null,
                                     &out, &reject);
            raw = field->is_null ? NULL : field->data;
            raw_length = field->length;
        }
        if (rc == IQ_E_REJECTED) {
            good = false;
            struct reject_place place = {rec->line, rec->index, pointer};
            rc = emit_reject(run, place, part->table, mc->spec->name, raw, raw_length, reject);
            free(raw_owned);
            free(pointer);
            if (rc < 0)
                return rc;
            continue;
        }
        free(raw_owned);
        if (rc < 0)
            return iq_error_set(run->err, rc, "converting %s: internal error", mc->spec->name);
        rc = batch_put(&part->batch, c, out.text, out.length);
        if (rc < 0)
            return iq_error_set(run->err, rc, "out of memory");
    }
    return good ? 1 : 0;
}

/*
 * One child array's elements, each a row of part. Each element's JSON
 * pointer (for its rejects) is written into one buffer per array, not
 * allocated per element; without it (OOM) rejects go without a pointer.
 */
static int convert_child_array(struct run *run, struct mapped_part *part, const struct record *rec,
                               json_t *array, size_t parent_row, bool *ret_good)
{
    struct batch *parent_batch = &run->map.parts[0].batch;
    size_t size = rec->pointer ? strlen(rec->pointer) + strlen(part->from) + 24 : 0;
    char *pointer = size ? malloc(size) : NULL;
    size_t index;
    json_t *element;
    int rc = 0;
    json_array_foreach(array, index, element) {
        if (pointer)
            snprintf(pointer, size, "%s%s/%zu", rec->pointer, part->from, index);
        if (!json_is_object(element)) {
            *ret_good = false;
            struct reject_place place = {rec->line, rec->index, pointer};
            rc = emit_reject(run, place, part->table, NULL, NULL, 0,
                             "child element is not an object");
        } else {
            rc = convert_row(run, part, rec, element, pointer, parent_batch, parent_row);
            if (rc == 0)
                *ret_good = false;
        }
        if (rc < 0 || !*ret_good)
            break;
        batch_end_row(&part->batch, rec->line);
    }
    free(pointer);
    return rc < 0 ? rc : 0;
}

/* Children of one good parent row (the parent's row index in its batch). */
static int convert_children(struct run *run, const struct record *rec, size_t parent_row,
                            bool *ret_good)
{
    *ret_good = true;
    for (size_t p = 1; p < run->map.part_count; p++) {
        struct mapped_part *part = &run->map.parts[p];
        json_t *array = json_pointer_get(rec->value, part->from);
        if (!array || json_is_null(array))
            continue;
        if (!json_is_array(array)) {
            *ret_good = false;
            char *pointer = pointer_join(rec->pointer, part->from);
            struct reject_place place = {rec->line, rec->index, pointer};
            int rc = emit_reject(run, place, part->table, NULL, NULL, 0,
                                 "children array is not an array");
            free(pointer);
            return rc;
        }
        int rc = convert_child_array(run, part, rec, array, parent_row, ret_good);
        if (rc < 0 || !*ret_good)
            return rc;
    }
    return 0;
}

/* Drops the unended child rows a rejected parent produced. */
static void rollback_children(struct run *run, const size_t *child_rows)
{
    for (size_t p = 1; p < run->map.part_count; p++)
        run->map.parts[p].batch.row_count = child_rows[p];
}

/* Whether JSON pointer from is pointer or an ancestor of it ("/a" of "/a/0"). */
static bool pointer_covers(const char *from, const char *pointer)
{
    size_t length = strlen(from);
    return strncmp(from, pointer, length) == 0 &&
           (pointer[length] == '\0' || pointer[length] == '/');
}

/* The target column whose value holds the JSON problem at pointer, or NULL. */
static const char *column_at_pointer(const struct mapped_part *part, const char *pointer)
{
    for (size_t c = 0; pointer && c < part->column_count; c++) {
        const struct mapped_column *mc = &part->columns[c];
        if (!mc->from_parent && mc->spec->from && *mc->spec->from &&
            pointer_covers(mc->spec->from, pointer))
            return mc->spec->name;
    }
    return NULL;
}

/*
 * reject_record - report a record the reader could not make sense of: the
 * column is the CSV field's, or the column whose JSON value holds the
 * problem (a duplicate key, "\u0000"); the pointer is where the problem is.
 */
static int reject_record(struct run *run, const struct record *rec)
{
    const struct mapped_part *target = &run->map.parts[0];
    const char *column = NULL;
    if (rec->problem_column > 0 && rec->problem_column <= rec->column_count)
        column = rec->column_names[rec->problem_column - 1];
    else
        column = column_at_pointer(target, rec->problem_pointer);
    char *pointer = pointer_join(rec->pointer, rec->problem_pointer);
    struct reject_place place = record_place(rec);
    if (pointer)
        place.pointer = pointer;
    int rc = emit_reject(run, place, target->table, column, NULL, 0, rec->problem_message);
    free(pointer);
    return rc;
}

/* One record: convert, reject or add to the batches. */
static int handle_record(struct run *run, const struct record *rec)
{
    run->result->rows_read++;
    struct mapped_part *target = &run->map.parts[0];
    if (rec->problem != RECORD_OK) {
        int rc = reject_record(run, rec);
        return rc < 0 ? rc : count_rejected_row(run);
    }
    size_t child_rows[SPEC_MAX_CHILDREN + 1] = {0};
    for (size_t p = 1; p < run->map.part_count; p++)
        child_rows[p] = run->map.parts[p].batch.row_count;
    /* Children point at the parent's row, so the parent batch must not
     * flush in between: make room first. */
    int rc = convert_row(run, target, rec, rec->value, rec->pointer, NULL, 0);
    if (rc < 0)
        return rc;
    bool good = rc == 1;
    if (good && run->map.has_children) {
        rc = convert_children(run, rec, target->batch.row_count, &good);
        if (rc < 0)
            return rc;
    }
    if (!good) {
        rollback_children(run, child_rows);
        return count_rejected_row(run);
    }
    batch_end_row(&target->batch, rec->line);
    bool full = false;
    for (size_t p = 0; p < run->map.part_count; p++)
        full |= batch_full(&run->map.parts[p].batch);
    return full ? flush_all(run) : 0;
}

/* Reads every record after the first (already read into first). */
static int read_records(struct run *run, struct record *first)
{
    struct record *rec = first;
    int64_t started = time_monotonic_ms();
    report_progress(run, "read", true);
    while (rec) {
        int rc = handle_record(run, rec);
        if (rc < 0)
            return rc;
        if ((run->result->rows_read & 1023) == 0) {
            if (cancelled(run))
                return iq_error_set(run->err, IQ_E_CANCELLED, "cancelled");
            report_progress(run, "read", false);
        }
        rc = reader_next(run->reader, &rec, run->err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            rec = NULL;
    }
    int rc = flush_all(run);
    int64_t elapsed = time_monotonic_ms() - started;
    run->result->phase_ms[IMPORT_PHASE_STAGE] = run->stage_ms;
    run->result->phase_ms[IMPORT_PHASE_READ] = elapsed - run->stage_ms;
    return rc;
}

struct check_ctx {
    struct run *run;
    const struct mapping *map;
};

/*
 * Set-wise rejects from the store: reported like conversion rejects, and
 * each counts as one rejected row (rows dropped only because their parent
 * was are not reported, so they are not counted twice).
 */
static int set_reject_cb(const struct load_reject *reject, void *ctx)
{
    struct run *run = ctx;
    const char *table = (size_t)reject->part < run->map.part_count
                            ? run->map.parts[reject->part].table
                            : run->req->target->table;
    struct reject_place place = {reject->line, -1, NULL}; /* the store keeps lines only */
    int rc = emit_reject(run, place, table, reject->column, reject->value,
                         reject->value ? strlen(reject->value) : 0, reject->message);
    return rc < 0 ? rc : count_rejected_row(run);
}

/*
 * preview_load - a dry run's end, in place of promotion and commit: what
 * the load would do, counted in its transaction (store_load_preview);
 * import_run then aborts the load, so nothing lands.
 */
static int preview_load(struct run *run)
{
    int64_t started = time_monotonic_ms();
    report_progress(run, "promote", true);
    struct load_preview preview;
    int rc = store_load_preview(run->load, &preview, run->err);
    if (rc == 0) {
        run->result->rows_inserted = preview.rows_inserted;
        run->result->rows_updated = preview.rows_updated;
        run->result->rows_unchanged = preview.rows_unchanged;
        run->result->rows_deleted = preview.rows_deleted;
        run->result->creates_target = preview.creates_target;
    }
    run->result->phase_ms[IMPORT_PHASE_PROMOTE] = time_monotonic_ms() - started;
    return rc;
}

/* Set-wise checks, promotion, commit (a dry run: checks, then preview_load). */
static int finish_load(struct run *run)
{
    if (cancelled(run))
        return iq_error_set(run->err, IQ_E_CANCELLED, "cancelled");
    int64_t started = time_monotonic_ms();
    report_progress(run, "validate", true);
    if (!run->map.plan.direct) {
        int64_t dropped = 0;
        int rc = store_load_check(run->load, set_reject_cb, run, &dropped, run->err);
        if (rc < 0 && too_many_rejects(run))
            return rejects_error(run); /* the store stopped because we said so */
        if (rc < 0)
            return rc;
    }
    run->result->phase_ms[IMPORT_PHASE_VALIDATE] = time_monotonic_ms() - started;
    if (cancelled(run))
        return iq_error_set(run->err, IQ_E_CANCELLED, "cancelled");
    if (dry_run(run))
        return over_reject_limit(run) ? rejects_error(run) : preview_load(run);
    started = time_monotonic_ms();
    report_progress(run, "promote", true);
    struct load_result loaded = {0};
    int rc = store_load_promote(run->load, &loaded, run->err);
    if (rc == 0) {
        /* The final counts exist now; the caller may need them in the
         * transaction (finish_on_commit), so report them before COMMIT. */
        run->result->rows_inserted = loaded.rows_inserted;
        run->result->rows_updated = loaded.rows_updated;
        run->result->rows_deleted = loaded.rows_deleted;
        run->result->rows_rejected = run->rows_failed;
        run->result->bytes_read = reader_bytes_read(run->reader);
        run->result->phase_ms[IMPORT_PHASE_PROMOTE] = time_monotonic_ms() - started;
        if (run->req->before_commit_cb)
            run->req->before_commit_cb(run->result, run->req->before_commit_ctx);
        rc = store_load_commit(run->load, run->err);
        if (rc < 0) { /* nothing landed after all */
            run->result->rows_inserted = 0;
            run->result->rows_updated = 0;
            run->result->rows_deleted = 0;
        }
    }
    run->result->phase_ms[IMPORT_PHASE_PROMOTE] = time_monotonic_ms() - started;
    return rc;
}

/* Opens the reader and reads the first record (JSON mapping needs it). */
static int open_source(struct run *run, struct record **ret_first)
{
    *ret_first = NULL;
    int rc = reader_open_path(run->req->path, run->req->source, run->req->limits, &run->reader,
                              run->err);
    if (rc < 0)
        return rc;
    if (reader_is_empty(run->reader))
        return iq_error_set(run->err, IQ_E_INVALID, "%s is empty: no header and no data",
                            run->req->path);
    rc = reader_next(run->reader, ret_first, run->err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        *ret_first = NULL;
    return 0;
}

const char *import_failure_code(int rc, bool *ret_transient)
{
    *ret_transient = false;
    switch (rc) {
    case IQ_E_REJECTED:
        return "rejected";
    case IQ_E_INVALID:
        return "invalid_source";
    case IQ_E_NOT_FOUND:
        return "source_not_found";
    case IQ_E_FORBIDDEN:
        return "source_unreadable";
    case IQ_E_CONFLICT:
        return "constraint_violation";
    default:
        *ret_transient = true;
        return "import_failed";
    }
}

int import_run(const struct import_request *req, struct import_result *ret_result,
               struct iq_error *err)
{
    memset(ret_result, 0, sizeof(*ret_result));
    struct run run = {.req = req, .result = ret_result, .err = err};
    run.progress_interval_ms = req->progress_interval_ms > 0 ? req->progress_interval_ms : 250;
    run.last_progress_ms = time_monotonic_ms();
    struct record *first = NULL;
    int rc = open_source(&run, &first);
    json_t *first_value = first && first->problem == RECORD_OK ? first->value : NULL;
    if (rc == 0)
        rc = mapping_build(req, run.reader, first_value, &run.map, err);
    if (rc == 0)
        rc = store_load_begin(req->store, &run.map.plan, &run.load, err);
    if (rc == 0)
        rc = read_records(&run, first);
    if (rc == 0)
        rc = finish_load(&run);
    if (run.reader)
        ret_result->bytes_read = reader_bytes_read(run.reader);
    ret_result->rows_rejected = run.rows_failed;
    ret_result->dry_run = req->target->dry_run;
    if (rc == 0 && !req->target->dry_run)
        run.load = NULL; /* committed: load_commit freed it */
    if (rc == 0)
        report_progress(&run, "done", true);
    if (rc == IQ_E_CANCELLED && !err->message)
        iq_error_set(err, rc, "cancelled");
    store_load_abort(run.load);
    mapping_clear(&run.map);
    reader_free(run.reader);
    return rc;
}
