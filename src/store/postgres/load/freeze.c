/*
 * postgres/load/freeze.c - a staged replace's rows into its shadow table
 * WITH (FREEZE) (postgres/load/swap.c, pg_swap_staged), by way of the
 * client.
 *
 * Why through the client: only COPY can write frozen rows, and COPY FROM
 * reads from a file or the client, never from a query. Frozen rows are
 * what make the swap safe for a snapshot older than it (swap.c says why);
 * an INSERT ... SELECT from the staging table into the shadow would be one
 * statement on the server, but its rows are not frozen. So the checked
 * rows leave the server as COPY (SELECT <casts> FROM stage) TO STDOUT
 * (FORMAT binary), wait in a temporary file (tmpfile(): unlinked at once,
 * gone when closed or when the process dies; its size is the binary form
 * of the rows, bounded by the disk like the staging table is), and come
 * back as COPY shadow FROM STDIN (FORMAT binary, FREEZE). Memory stays
 * bounded: one row (PQgetCopyData) on the way out, one chunk
 * (PG_COPY_BUFFER_BYTES) on the way back.
 *
 * The binary format carries each value as its type's send function wrote
 * it; the staged text is cast to the column's type without its modifier
 * (as promote's INSERT does), and COPY FROM's receive function applies the
 * column's modifier (a varchar(n) too long fails, a numeric(p,s) is
 * rounded), as an INSERT's assignment does. Columns not in the file get
 * their defaults and generated values from COPY, as in a direct load.
 * Rows go back in the order they came out, which is arrival order
 * (pg_load_append_select).
 *
 * Not for: a file that cannot be written (a full disk is IQ_E_NO_SPACE,
 * anything else IQ_E_IO): the load fails, the whole of it is in its
 * transaction, so nothing changed. Everything else that fails here is a
 * statement's error, which pg_swap_staged takes back to replacing in place.
 */
#include "store/postgres/load/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* file_error - the load failed on the temporary file (errno e): IQ_E_NO_SPACE or IQ_E_IO. */
static int file_error(struct pg_load *pl, const char *what, int e, struct iq_error *err)
{
    pl->failed = true;
    int code = e == ENOSPC || e == EDQUOT ? IQ_E_NO_SPACE : IQ_E_IO;
    return iq_error_set(err, code, "%s the promoted rows' temporary file: %s", what,
                        strerror(e ? e : EIO));
}

/* drain - read the results left on the connection (a broken one ends them). */
static void drain(PGconn *conn)
{
    PGresult *res;
    for (int i = 0; i < 64 && (res = PQgetResult(conn)) != NULL; i++) {
        bool copying = PQresultStatus(res) == PGRES_COPY_IN;
        PQclear(res);
        if (copying && PQputCopyEnd(conn, "abandoned") < 0)
            break;
    }
}

/*
 * copy_start - send sql (a COPY, freed here) and wait for the status
 * want. On failure every result is read.
 */
static int copy_start(struct pg_load *pl, char *sql, ExecStatusType want, const char *what,
                      struct iq_error *err)
{
    if (!sql) {
        pl->failed = true;
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    if (atomic_load(&pl->ps->interrupted)) {
        free(sql);
        pl->failed = true;
        return iq_error_set(err, IQ_E_CANCELLED, "%s: the load was interrupted", what);
    }
    PGresult *res = PQexec(pl->ps->conn, sql);
    free(sql);
    int rc = 0;
    if (PQresultStatus(res) != want)
        rc = pg_load_error(pl, res, what, err);
    PQclear(res);
    if (rc < 0)
        drain(pl->ps->conn);
    return rc;
}

/*
 * copy_result - the result of the COPY that just ended; *ret_rows (may be
 * NULL) = the rows it reports.
 */
static int copy_result(struct pg_load *pl, const char *what, int64_t *ret_rows,
                       struct iq_error *err)
{
    PGresult *res = PQgetResult(pl->ps->conn);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = pg_load_error(pl, res, what, err);
    else if (ret_rows)
        *ret_rows = pg_text_to_int64(PQcmdTuples(res));
    PQclear(res);
    drain(pl->ps->conn);
    return rc;
}

/*
 * rows_to_file - COPY the staged rows of p, cast, TO STDOUT in binary
 * into file. When the file refuses a write the rest of the stream is read
 * and dropped (the connection must come back to idle), then the file's
 * error is returned.
 */
static int rows_to_file(struct pg_load *pl, const struct pg_load_part *p, FILE *file,
                        struct iq_error *err)
{
    static const char what[] = "reading the promoted rows";
    struct sql_text sql = {0};
    pg_sql_append(&sql, "COPY (");
    pg_load_append_select(&sql, p);
    pg_sql_append(&sql, ") TO STDOUT (FORMAT binary)");
    int rc = copy_start(pl, pg_sql_take(&sql), PGRES_COPY_OUT, what, err);
    if (rc < 0)
        return rc;
    int write_errno = 0;
    char *row = NULL;
    int len;
    while ((len = PQgetCopyData(pl->ps->conn, &row, 0)) > 0) {
        if (write_errno == 0 && fwrite(row, 1, (size_t)len, file) != (size_t)len)
            write_errno = errno ? errno : EIO;
        PQfreemem(row);
    }
    rc = copy_result(pl, what, NULL, err);
    if (rc == 0 && len == -2)
        rc = pg_load_error(pl, NULL, what, err);
    if (rc == 0 && write_errno == 0 && fflush(file) != 0)
        write_errno = errno ? errno : EIO;
    if (rc == 0 && write_errno != 0)
        rc = file_error(pl, "writing", write_errno, err);
    return rc;
}

/*
 * send_file - file's bytes from its start into the open COPY FROM STDIN,
 * in chunks; an interrupt or a read error ends the COPY with an error
 * message (PQputCopyEnd), so the server refuses it. Returns 0 when every
 * byte went, else the error to report once the COPY's result is read.
 */
static int send_file(struct pg_load *pl, FILE *file, char *chunk, struct iq_error *err)
{
    PGconn *conn = pl->ps->conn;
    size_t got;
    while ((got = fread(chunk, 1, PG_COPY_BUFFER_BYTES, file)) > 0) {
        if (atomic_load(&pl->ps->interrupted)) {
            PQputCopyEnd(conn, "the load was interrupted");
            pl->failed = true;
            return iq_error_set(err, IQ_E_CANCELLED, "the load was interrupted");
        }
        if (PQputCopyData(conn, chunk, (int)got) != 1)
            return pg_load_error(pl, NULL, "filling the new table", err);
    }
    if (ferror(file)) {
        int e = errno;
        PQputCopyEnd(conn, "the temporary file could not be read");
        return file_error(pl, "reading", e, err);
    }
    if (PQputCopyEnd(conn, NULL) != 1)
        return pg_load_error(pl, NULL, "filling the new table", err);
    return 0;
}

/* file_to_shadow - COPY p's shadow FROM STDIN (binary, FREEZE) out of file. */
static int file_to_shadow(struct pg_load *pl, const struct pg_load_part *p, FILE *file,
                          int64_t *ret_rows, struct iq_error *err)
{
    static const char what[] = "filling the new table";
    if (fseek(file, 0, SEEK_SET) != 0)
        return file_error(pl, "rewinding", errno, err);
    char *chunk = malloc(PG_COPY_BUFFER_BYTES);
    if (!chunk) {
        pl->failed = true;
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    struct sql_text sql = {0};
    pg_sql_append(&sql, "COPY %s (", p->shadow_sql);
    for (size_t i = 0; i < p->spec->column_count; i++)
        pg_sql_append(&sql, "%s%s", i ? ", " : "", p->columns[i].name_sql);
    pg_sql_append(&sql, ") FROM STDIN (FORMAT binary, FREEZE)");
    int rc = copy_start(pl, pg_sql_take(&sql), PGRES_COPY_IN, what, err);
    if (rc == 0) {
        rc = send_file(pl, file, chunk, err);
        struct iq_error copy_err = {0};
        int copy_rc = copy_result(pl, what, ret_rows, rc < 0 ? &copy_err : err);
        iq_error_clear(&copy_err);
        if (rc == 0)
            rc = copy_rc;
    }
    free(chunk);
    return rc;
}

int pg_freeze_fill(struct pg_load *pl, const struct pg_load_part *p, int64_t *ret_rows,
                   struct iq_error *err)
{
    *ret_rows = 0;
    FILE *file = tmpfile();
    if (!file)
        return file_error(pl, "creating", errno, err);
    int rc = rows_to_file(pl, p, file, err);
    if (rc == 0)
        rc = file_to_shadow(pl, p, file, ret_rows, err);
    fclose(file); /* flushed and read already: nothing left for it to fail on */
    return rc;
}
