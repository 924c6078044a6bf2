/*
 * postgres/load/rows.c - rows of a PostgreSQL load into COPY text format
 * and onto the wire: load_rows, and opening, switching and ending the
 * COPY streams (postgres/load/internal.h explains the buffering).
 *
 * COPY text format: columns separated by a tab, rows ended by a newline,
 * NULL as \N, and in values a backslash, tab, newline and carriage return
 * written as \\, \t, \n and \r. Nothing else needs escaping: values are
 * UTF-8 (client_encoding is UTF8) and C strings hold no NUL. Rows are
 * gathered in a fixed buffer and sent with PQputCopyData when it is full,
 * never a round trip per row; a value longer than the buffer is sent in
 * pieces (COPY data boundaries mean nothing to the server).
 */
#include "store/postgres/load/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The escape letter of each byte that needs one in COPY text, else 0. */
static const char copy_escape[256] = {['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r'};

/* escape_into - len bytes of in, escaped, at out (room for 2 * len). Returns bytes written. */
static size_t escape_into(char *out, const char *in, size_t len)
{
    char *o = out;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        char e = copy_escape[c];
        if (e) {
            *o++ = '\\';
            *o++ = e;
        } else {
            *o++ = (char)c;
        }
    }
    return (size_t)(o - out);
}

/* copy_target_name - for error messages: the table the COPY of part fills. */
static const char *copy_target_name(const struct pg_load *pl, int part)
{
    return pl->parts[part].spec->table;
}

/*
 * copy_end - send the open COPY's buffered rows, end it and read its
 * result. *ret_rows (may be NULL) = rows the server took. Returns 0 or a
 * negative code (a constraint error of a direct COPY surfaces here).
 */
static int copy_end(struct pg_load *pl, int64_t *ret_rows, struct iq_error *err);

/*
 * copy_send - PQputCopyData the part's buffer into its COPY, starting that
 * COPY first when another (or none) is open. Checks for an interrupt.
 */
static int copy_send(struct pg_load *pl, struct pg_load_part *p, struct iq_error *err)
{
    if (p->used == 0)
        return 0;
    if (atomic_load(&pl->ps->interrupted)) {
        pl->failed = true;
        return iq_error_set(err, IQ_E_CANCELLED, "the load was interrupted");
    }
    int rc = pg_copy_start(pl, p->index, err);
    if (rc < 0)
        return rc;
    if (PQputCopyData(pl->ps->conn, p->buffer, (int)p->used) != 1)
        return pg_load_error(pl, NULL, "sending rows", err);
    p->used = 0;
    return 0;
}

/* copy_room - make room for need bytes (need <= PG_COPY_BUFFER_BYTES). */
static inline int copy_room(struct pg_load *pl, struct pg_load_part *p, size_t need,
                            struct iq_error *err)
{
    if (PG_COPY_BUFFER_BYTES - p->used >= need)
        return 0;
    return copy_send(pl, p, err);
}

/* copy_value - one value, escaped (\N for NULL); long values go out in pieces. */
static int copy_value(struct pg_load *pl, struct pg_load_part *p, const char *value,
                      struct iq_error *err)
{
    if (!value) {
        int rc = copy_room(pl, p, 2, err);
        if (rc == 0) {
            memcpy(p->buffer + p->used, "\\N", 2);
            p->used += 2;
        }
        return rc;
    }
    size_t len = strlen(value);
    for (;;) {
        size_t room = (PG_COPY_BUFFER_BYTES - p->used) / 2;
        size_t chunk = len < room ? len : room;
        p->used += escape_into(p->buffer + p->used, value, chunk);
        value += chunk;
        len -= chunk;
        if (len == 0)
            return 0;
        int rc = copy_send(pl, p, err);
        if (rc < 0)
            return rc;
    }
}

/* put_int64 - decimal text of value at out (room for 21 bytes). Returns bytes written. */
static size_t put_int64(char *out, int64_t value)
{
    char digits[24];
    size_t n = 0;
    uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    do {
        digits[n++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    size_t len = 0;
    if (value < 0)
        out[len++] = '-';
    while (n)
        out[len++] = digits[--n];
    return len;
}

/* copy_row - one row: "n\tline\t" when staged, the values, "\n". */
static int copy_row(struct pg_load *pl, struct pg_load_part *p, const char *const *values,
                    int64_t line, struct iq_error *err)
{
    size_t columns = p->spec->column_count;
    int rc = copy_room(pl, p, 48, err);
    if (rc < 0)
        return rc;
    if (!pl->base.plan->direct) {
        p->used += put_int64(p->buffer + p->used, p->rows);
        p->buffer[p->used++] = '\t';
        p->used += put_int64(p->buffer + p->used, line);
        p->buffer[p->used++] = '\t';
    }
    for (size_t c = 0; c < columns; c++) {
        if (c > 0) {
            rc = copy_room(pl, p, 1, err);
            if (rc < 0)
                return rc;
            p->buffer[p->used++] = '\t';
        }
        rc = copy_value(pl, p, values[c], err);
        if (rc < 0)
            return rc;
    }
    rc = copy_room(pl, p, 1, err);
    if (rc == 0) {
        p->buffer[p->used++] = '\n';
        p->rows++;
    }
    return rc;
}

/*
 * pg_load_rows - see load_ops.rows: rows into the part's COPY
 * buffer, sent whenever it fills. lines may be NULL (line 0).
 */
int pg_load_rows(struct load *load, int part, const char *const *values, const int64_t *lines,
                 size_t row_count, struct iq_error *err)
{
    struct pg_load *pl = pg_load_of(load);
    int rc = pg_load_usable(pl, false, err);
    if (rc < 0)
        return rc;
    if (pl->checked) {
        pl->failed = true;
        return iq_error_set(err, IQ_E_INTERNAL, "load_rows after load_check");
    }
    if (part < 0 || (size_t)part >= pl->part_count || (row_count > 0 && !values)) {
        pl->failed = true;
        return iq_error_set(err, IQ_E_INVALID, "load_rows: no part %d or no values", part);
    }
    struct pg_load_part *p = &pl->parts[part];
    if (!p->buffer) {
        p->buffer = malloc(PG_COPY_BUFFER_BYTES);
        if (!p->buffer) {
            pl->failed = true;
            return iq_error_set(err, IQ_E_NOMEM, "out of memory");
        }
    }
    size_t columns = p->spec->column_count;
    for (size_t r = 0; r < row_count; r++) {
        rc = copy_row(pl, p, values + r * columns, lines ? lines[r] : 0, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* copy_sql - "COPY <target or staging> ... FROM STDIN". Caller frees; NULL on OOM. */
static char *copy_sql(const struct pg_load *pl, const struct pg_load_part *p)
{
    struct sql_text sql = {0};
    if (!pl->base.plan->direct) {
        pg_sql_append(&sql, "COPY %s FROM STDIN", p->stage_sql);
        return pg_sql_take(&sql);
    }
    pg_sql_append(&sql, "COPY %s (", p->shadow_sql ? p->shadow_sql : p->table_sql); /* swap.c */
    for (size_t i = 0; i < p->spec->column_count; i++)
        pg_sql_append(&sql, "%s%s", i ? ", " : "", p->columns[i].name_sql);
    pg_sql_append(&sql, ") FROM STDIN%s", pl->fresh_target ? " WITH (FREEZE)" : "");
    return pg_sql_take(&sql);
}

/*
 * copy_exec - send sql (ending in a COPY into part, freed here) and wait
 * for the server to accept rows. On failure every result is read.
 */
static int copy_exec(struct pg_load *pl, int part, char *sql, struct iq_error *err)
{
    if (!sql) {
        pl->failed = true;
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    PGresult *res = PQexec(pl->ps->conn, sql);
    free(sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        int rc = pg_load_error(pl, res, "starting COPY", err);
        PQclear(res);
        while ((res = PQgetResult(pl->ps->conn)) != NULL)
            PQclear(res);
        return rc;
    }
    PQclear(res);
    pl->copy_part = part;
    return 0;
}

int pg_copy_start(struct pg_load *pl, int part, struct iq_error *err)
{
    if (pl->copy_part == part)
        return 0;
    int rc = pl->copy_part >= 0 ? copy_end(pl, NULL, err) : 0;
    return rc < 0 ? rc : copy_exec(pl, part, copy_sql(pl, &pl->parts[part]), err);
}

int pg_copy_start_tx(struct pg_load *pl, int part, const char *then_sql, struct iq_error *err)
{
    struct pg_store *ps = pl->ps;
    if (ps->in_transaction || pl->copy_part >= 0) {
        pl->failed = true;
        return iq_error_set(err, IQ_E_INTERNAL, "COPY with BEGIN inside a transaction");
    }
    char *copy = copy_sql(pl, &pl->parts[part]), *sql = NULL;
    if (copy && asprintf(&sql, "BEGIN; %s; %s", then_sql, copy) < 0)
        sql = NULL;
    free(copy);
    pg_audit_tail_reset(ps);
    int rc = copy_exec(pl, part, sql, err);
    ps->in_transaction = PQtransactionStatus(ps->conn) != PQTRANS_IDLE;
    return rc;
}

/* drain - read results until none is left; at most a few (a broken connection ends them). */
static void drain(PGconn *conn)
{
    PGresult *res;
    for (int i = 0; i < 64 && (res = PQgetResult(conn)) != NULL; i++) {
        bool still_copying = PQresultStatus(res) == PGRES_COPY_IN;
        PQclear(res);
        if (still_copying && PQputCopyEnd(conn, "abandoned") < 0)
            break;
    }
}

static int copy_end(struct pg_load *pl, int64_t *ret_rows, struct iq_error *err)
{
    int part = pl->copy_part;
    struct pg_load_part *p = &pl->parts[part];
    if (p->used > 0 && PQputCopyData(pl->ps->conn, p->buffer, (int)p->used) != 1)
        return pg_load_error(pl, NULL, "sending rows", err);
    p->used = 0;
    if (PQputCopyEnd(pl->ps->conn, NULL) != 1)
        return pg_load_error(pl, NULL, "ending COPY", err);
    pl->copy_part = -1;
    PGresult *res = PQgetResult(pl->ps->conn);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char what[160];
        snprintf(what, sizeof(what), "%s \"%s\"",
                 pl->base.plan->direct ? "loading into" : "staging rows of",
                 copy_target_name(pl, part));
        rc = pg_load_error(pl, res, what, err);
    } else if (ret_rows) {
        *ret_rows = pg_text_to_int64(PQcmdTuples(res));
    }
    PQclear(res);
    drain(pl->ps->conn);
    return rc;
}

int pg_copy_finish(struct pg_load *pl, int64_t *ret_rows, struct iq_error *err)
{
    if (ret_rows)
        *ret_rows = 0;
    for (size_t i = 0; i < pl->part_count; i++) {
        /* The open COPY's part goes last: it is ended below, the others start and end here. */
        struct pg_load_part *p = &pl->parts[i];
        if ((int)i == pl->copy_part || p->used == 0)
            continue;
        int rc = copy_send(pl, p, err);
        if (rc < 0)
            return rc;
    }
    return pl->copy_part >= 0 ? copy_end(pl, ret_rows, err) : 0;
}

void pg_copy_cancel(struct pg_load *pl)
{
    if (pl->copy_part < 0)
        return;
    pl->copy_part = -1;
    PQputCopyEnd(pl->ps->conn, "load aborted");
    drain(pl->ps->conn);
}
