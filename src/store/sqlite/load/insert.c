/*
 * sqlite/load/insert.c - how rows travel into SQLite during a load
 * (run by the staging thread of sqlite/load/rows.c, which serves
 * load_rows): a prepared multi-row INSERT (LOAD_ROWS_PER_STATEMENT rows a
 * statement, fewer when the columns would pass SQLITE_LIMIT_VARIABLE_
 * NUMBER) reused for the whole file, plus one statement for the remainder
 * of a call, kept while the remainder size repeats. They fill the part's
 * table in the staging database (line, c1, c2 ...): every load stages on
 * SQLite, see sqlite/load/load.c. A staging table has no constraint,
 * so its multi-row INSERT needs no statement journal.
 *
 * Values are bound from their canonical text (load.h): integers as int64,
 * reals as double, booleans as 1/0, numerics as int64 when integral, as
 * double when they have at most 15 significant digits (a double keeps
 * those to the digit, and a NUMERIC column keeps no more: SQLite itself
 * stores numeric text as REAL), else as text for the column's affinity to
 * decide; dates, times, uuid, json and text as text. Parsing uses the C
 * locale whatever the process's is.
 */
#include "store/sqlite/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows per INSERT statement: past ~100 the per-statement overhead is gone. */
#define LOAD_ROWS_PER_STATEMENT 128

/* A numeric with at most this many significant digits is bound as a double. */
#define NUMERIC_EXACT_DIGITS 15

/* ------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------ */

/* parse_integer - a canonical integer ("-42") within int64; false otherwise. */
static bool parse_integer(const char *text, int64_t *ret_value)
{
    const char *p = text;
    bool negative = *p == '-';
    if (negative || *p == '+')
        p++;
    uint64_t value = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (++digits > 19)
            return false;
        value = value * 10 + (uint64_t)(*p - '0');
    }
    if (*p != '\0' || digits == 0)
        return false;
    if (negative) {
        if (value > (uint64_t)INT64_MAX + 1)
            return false;
        *ret_value = value == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)value;
    } else {
        if (value > (uint64_t)INT64_MAX)
            return false;
        *ret_value = (int64_t)value;
    }
    return true;
}

/*
 * numeric_fits_double - whether a numeric literal ([+-]d[.d][e[+-]d]) has
 * at most NUMERIC_EXACT_DIGITS significant digits and a modest exponent,
 * so that a double keeps it to the digit.
 */
static bool numeric_fits_double(const char *text)
{
    const char *p = text;
    if (*p == '+' || *p == '-')
        p++;
    int digits = 0, significant = 0;
    for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
        if (*p == '.')
            continue;
        digits++;
        if (significant > 0 || *p != '0')
            significant++;
    }
    if (digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        int exponent = 0;
        for (; *p >= '0' && *p <= '9'; p++)
            if ((exponent = exponent * 10 + (*p - '0')) > 280)
                return false;
    }
    return *p == '\0' && significant <= NUMERIC_EXACT_DIGITS;
}

/* parse_real - text as a finite double in the C locale; false otherwise. */
static bool parse_real(locale_t c_locale, const char *text, double *ret_value)
{
    char *end;
    double value = strtod_l(text, &end, c_locale);
    if (end == text || *end != '\0' || !isfinite(value))
        return false;
    *ret_value = value;
    return true;
}

/*
 * bind_value - bind one canonical value at index, typed per bind. Text is
 * bound SQLITE_STATIC: the caller steps before its values go away.
 */
static int bind_value(const struct sqlite_load *load, sqlite3_stmt *stmt, int index,
                      enum value_bind bind, const char *text)
{
    if (!text)
        return sqlite3_bind_null(stmt, index);
    int64_t integer;
    double real;
    switch (bind) {
    case VALUE_BIND_INTEGER:
        if (parse_integer(text, &integer))
            return sqlite3_bind_int64(stmt, index, integer);
        break;
    case VALUE_BIND_BOOLEAN:
        if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0)
            return sqlite3_bind_int(stmt, index, text[0] == 't');
        break;
    case VALUE_BIND_REAL:
        if (parse_real(load->c_locale, text, &real))
            return sqlite3_bind_double(stmt, index, real);
        break;
    case VALUE_BIND_NUMERIC:
        if (parse_integer(text, &integer))
            return sqlite3_bind_int64(stmt, index, integer);
        if (numeric_fits_double(text) && parse_real(load->c_locale, text, &real))
            return sqlite3_bind_double(stmt, index, real);
        break;
    case VALUE_BIND_TEXT:
        break;
    }
    return sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
}

static enum value_bind value_bind_of(enum column_type type)
{
    switch (type) {
    case COLUMN_INTEGER:
    case COLUMN_BIGINT:
        return VALUE_BIND_INTEGER;
    case COLUMN_REAL:
        return VALUE_BIND_REAL;
    case COLUMN_NUMERIC:
        return VALUE_BIND_NUMERIC;
    case COLUMN_BOOLEAN:
        return VALUE_BIND_BOOLEAN;
    default:
        return VALUE_BIND_TEXT;
    }
}

/* ------------------------------------------------------------------------
 * Row statements
 * ------------------------------------------------------------------------ */

/* values_per_row - bound parameters a row takes: its line, then its values. */
static size_t values_per_row(const struct sqlite_load_part *part)
{
    return part->spec->column_count + 1;
}

/*
 * insert_sql - INSERT of row_count rows into the part's staging table
 * (line, c1, c2 ...). sqlite3_free; NULL on OOM.
 */
static char *insert_sql(const struct sqlite_load_part *part, size_t row_count)
{
    sqlite3_str *sql = sqlite3_str_new(NULL);
    sqlite3_str_appendf(sql, "INSERT INTO importq_staging.\"%w\" VALUES ", part->staging);
    size_t per_row = values_per_row(part);
    for (size_t r = 0; r < row_count; r++) {
        sqlite3_str_appendall(sql, r ? ",(?" : "(?");
        for (size_t v = 1; v < per_row; v++)
            sqlite3_str_appendall(sql, ",?");
        sqlite3_str_appendall(sql, ")");
    }
    return sqlite_sql_finish(sql);
}

/* row_statement_clear - finalize (NULL-safe). */
static void row_statement_clear(struct row_statement *rs)
{
    sqlite3_finalize(rs->stmt);
    *rs = (struct row_statement){0};
}

/*
 * row_statement_get - part's statement for row_count rows: the batch one,
 * or the tail one, prepared again only when the remainder size changes.
 * Owned by the part.
 */
static int row_statement_get(struct sqlite_load *load, struct sqlite_load_part *part,
                             size_t row_count, struct row_statement **ret_rs, struct iq_error *err)
{
    struct row_statement *rs = row_count == part->rows_per_batch ? &part->batch : &part->tail;
    *ret_rs = rs;
    if (rs->stmt && rs->row_count == row_count)
        return 0;
    row_statement_clear(rs);
    char *sql = insert_sql(part, row_count);
    if (!sql)
        return nomem(err);
    int rc = sqlite3_prepare_v3(load->s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &rs->stmt, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        row_statement_clear(rs);
        return sqlite_load_error(load->s, rc, "prepare load insert", err);
    }
    rs->row_count = row_count;
    return 0;
}

/* bind_rows - bind rs->row_count rows starting at values (row-major) and lines. */
static int bind_rows(const struct sqlite_load *load, const struct sqlite_load_part *part,
                     sqlite3_stmt *stmt, size_t row_count, const char *const *values,
                     const int64_t *lines)
{
    size_t columns = part->spec->column_count;
    int index = 1;
    int rc = SQLITE_OK;
    for (size_t r = 0; rc == SQLITE_OK && r < row_count; r++) {
        rc = sqlite3_bind_int64(stmt, index++, lines ? lines[r] : 0);
        const char *const *row = values + r * columns;
        for (size_t c = 0; rc == SQLITE_OK && c < columns; c++)
            rc = bind_value(load, stmt, index++, part->binds[c], row[c]);
    }
    return rc;
}

/* insert_chunk - bind and run one statement of row_count rows. */
static int insert_chunk(struct sqlite_load *load, struct sqlite_load_part *part, size_t row_count,
                        const char *const *values, const int64_t *lines, struct iq_error *err)
{
    if (atomic_load(&load->s->interrupted))
        return iq_error_set(err, IQ_E_CANCELLED, "stage rows: the load was interrupted");
    struct row_statement *rs = NULL;
    int rc = row_statement_get(load, part, row_count, &rs, err);
    if (rc < 0)
        return rc;
    rc = bind_rows(load, part, rs->stmt, row_count, values, lines);
    if (rc != SQLITE_OK) {
        (void)sqlite3_reset(rs->stmt); /* nothing ran: only the bind failed */
        return sqlite_load_error(load->s, rc, "bind load values", err);
    }
    rc = sqlite3_step(rs->stmt);
    int reset = sqlite3_reset(rs->stmt);
    if (rc == SQLITE_DONE && reset == SQLITE_OK)
        return 0;
    char what[160];
    snprintf(what, sizeof(what), "stage rows of \"%s\"", part->spec->table);
    return sqlite_load_error(load->s, rc == SQLITE_DONE ? reset : rc, what, err);
}

/* insert_rows - all rows of one load_rows call, in full batches then the remainder. */
static int insert_rows(struct sqlite_load *load, struct sqlite_load_part *part,
                       const char *const *values, const int64_t *lines, size_t row_count,
                       struct iq_error *err)
{
    size_t columns = part->spec->column_count;
    size_t done = 0;
    int rc = 0;
    while (rc == 0 && done < row_count) {
        size_t n = row_count - done;
        if (n > part->rows_per_batch)
            n = part->rows_per_batch;
        rc = insert_chunk(load, part, n, values + done * columns, lines ? lines + done : NULL, err);
        done += n;
    }
    /* Text was bound SQLITE_STATIC: drop the pointers before the caller frees them. */
    if (part->batch.stmt)
        (void)sqlite3_clear_bindings(part->batch.stmt);
    if (part->tail.stmt)
        (void)sqlite3_clear_bindings(part->tail.stmt);
    return rc;
}

/*
 * sqlite_load_stage_rows - see sqlite/internal.h. One transaction
 * that touches only the staging database: a deferred BEGIN that writes
 * only there never locks the main database (the staging database is this
 * connection's alone, with its own file and lock), so this is not the
 * deferred-upgrade hazard BEGIN IMMEDIATE exists to avoid.
 */
int sqlite_load_stage_rows(struct sqlite_load *load, struct sqlite_load_part *part,
                           const char *const *values, const int64_t *lines, size_t row_count,
                           struct iq_error *err)
{
    int rc = sqlite_run_cached(load->s, STMT_BEGIN_READ, "begin staging", err);
    if (rc < 0)
        return rc;
    rc = insert_rows(load, part, values, lines, row_count, err);
    if (rc == 0)
        rc = sqlite_run_cached(load->s, STMT_COMMIT, "commit staging", err);
    if (rc == 0)
        part->rows_staged += (int64_t)row_count;
    if (rc < 0)
        sqlite_tx_rollback(load->s);
    return rc;
}

/*
 * direct_sql - INSERT OR FAIL of row_count rows into the part's table,
 * its columns named (OR FAIL: see sqlite/load/promote.c). sqlite3_free;
 * NULL on OOM.
 */
static char *direct_sql(const struct sqlite_load_part *part, size_t row_count)
{
    sqlite3_str *sql = sqlite3_str_new(NULL);
    sqlite3_str_appendf(sql, "INSERT OR FAIL INTO main.\"%w\" (", part->spec->table);
    sqlite_sql_column_list(sql, part);
    sqlite3_str_appendall(sql, ") VALUES ");
    for (size_t r = 0; r < row_count; r++) {
        sqlite3_str_appendall(sql, r ? ",(?" : "(?");
        for (size_t v = 1; v < part->spec->column_count; v++)
            sqlite3_str_appendall(sql, ",?");
        sqlite3_str_appendall(sql, ")");
    }
    return sqlite_sql_finish(sql);
}

/* direct_chunk - one statement of row_count rows; *ret_done: rows it inserted. */
static int direct_chunk(struct sqlite_load *load, const struct sqlite_load_part *part,
                        const char *const *values, size_t row_count, size_t *ret_done)
{
    *ret_done = 0;
    char *sql = direct_sql(part, row_count);
    if (!sql)
        return SQLITE_NOMEM;
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(load->s->db, sql, -1, &stmt, NULL);
    sqlite3_free(sql);
    size_t columns = part->spec->column_count;
    for (size_t i = 0; rc == SQLITE_OK && i < row_count * columns; i++)
        rc = bind_value(load, stmt, (int)i + 1, part->binds[i % columns], values[i]);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
        /* OR FAIL keeps the rows before a failing one, and counts them. */
        *ret_done = (size_t)sqlite3_changes64(load->s->db);
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    /* The statement's error, not reset's, stays the connection's message. */
    sqlite3_finalize(stmt);
    return rc;
}

/* sqlite_load_insert_direct - see sqlite/internal.h. */
int sqlite_load_insert_direct(struct sqlite_load *load, const struct sqlite_load_part *part,
                              const char *const *values, size_t row_count, size_t *ret_done)
{
    size_t columns = part->spec->column_count;
    *ret_done = 0;
    int rc = SQLITE_OK;
    while (rc == SQLITE_OK && *ret_done < row_count) {
        if (atomic_load(&load->s->interrupted))
            return SQLITE_INTERRUPT;
        size_t n = row_count - *ret_done;
        if (n > part->rows_per_batch)
            n = part->rows_per_batch;
        size_t done = 0;
        rc = direct_chunk(load, part, values + *ret_done * columns, n, &done);
        *ret_done += done;
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Part setup
 * ------------------------------------------------------------------------ */

/* sqlite_load_rows_init - see sqlite/internal.h. */
int sqlite_load_rows_init(struct sqlite_load *load, struct sqlite_load_part *part,
                          struct iq_error *err)
{
    const struct load_part *spec = part->spec;
    part->binds = calloc(spec->column_count, sizeof(*part->binds));
    if (!part->binds)
        return nomem(err);
    for (size_t i = 0; i < spec->column_count; i++)
        part->binds[i] = value_bind_of(spec->types[i]);
    int max_values = sqlite3_limit(load->s->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1);
    part->rows_per_batch = (size_t)max_values / values_per_row(part);
    if (part->rows_per_batch > LOAD_ROWS_PER_STATEMENT)
        part->rows_per_batch = LOAD_ROWS_PER_STATEMENT;
    if (part->rows_per_batch == 0)
        return iq_error_set(err, IQ_E_INVALID, "table \"%s\": too many columns for SQLite",
                            spec->table);
    return 0;
}

/* sqlite_load_rows_clear - see sqlite/internal.h. */
void sqlite_load_rows_clear(struct sqlite_load_part *part)
{
    row_statement_clear(&part->batch);
    row_statement_clear(&part->tail);
    free(part->binds);
    part->binds = NULL;
}
