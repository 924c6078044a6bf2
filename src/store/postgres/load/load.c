/*
 * postgres/load/load.c - imports on PostgreSQL, the frame of a load
 * (store/load.h): load_begin (plan checks, CREATE of missing targets,
 * staging tables or the direct COPY), load_commit with its fence (and
 * the job's finish when the plan asks for it, postgres/finish.c),
 * load_abort, and the error helpers the other load files use. The catalog
 * lookups are postgres/load/describe.c, rows and COPY streams
 * postgres/load/rows.c, set-wise checks postgres/load/check.c, promotion
 * postgres/load/promote.c.
 *
 * Identifiers are always quoted (PQescapeIdentifier), so a table or column
 * name is used exactly as given, case included; a table always by the
 * "schema"."table" it resolved to in the target schemas
 * (postgres/load/describe.c), never by a name search_path would resolve. Values never appear in
 * SQL text: they travel in COPY data or as parameters.
 */
#include "store/postgres/load/internal.h"

#include "core/uuid7.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Errors and statements of a load                                     */
/* ------------------------------------------------------------------ */

int pg_load_usable(struct pg_load *pl, bool allow_promoted, struct iq_error *err)
{
    if (pl->failed)
        return iq_error_set(err, IQ_E_INTERNAL, "the load already failed: only abort it");
    if (pl->promoted && !allow_promoted)
        return iq_error_set(err, IQ_E_INTERNAL, "the load was already promoted");
    if (atomic_load(&pl->ps->interrupted)) {
        pl->failed = true;
        return iq_error_set(err, IQ_E_CANCELLED, "the load was interrupted");
    }
    return 0;
}

/* trimmed_length - length of text without trailing newlines and spaces. */
static int trimmed_length(const char *text)
{
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
        len--;
    return (int)len;
}

/*
 * context_length - how much of an error context to show: its first line,
 * and for COPY only "COPY t, line N" (the rest is the row's data).
 */
static int context_length(const char *context)
{
    size_t len = strcspn(context, "\n");
    if (strncmp(context, "COPY ", 5) == 0) {
        const char *colon = strstr(context, ": ");
        if (colon && (size_t)(colon - context) < len)
            len = (size_t)(colon - context);
    }
    return len > 200 ? 200 : (int)len;
}

int pg_sqlstate_code(const char *sqlstate)
{
    if (strcmp(sqlstate, PG_SQLSTATE_QUERY_CANCELED) == 0)
        return IQ_E_CANCELLED;
    if (strncmp(sqlstate, "23", 2) == 0)
        return IQ_E_CONFLICT;
    if (strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "42", 2) == 0)
        return IQ_E_INVALID;
    return IQ_E_DB;
}

int pg_load_error(struct pg_load *pl, const PGresult *res, const char *what, struct iq_error *err)
{
    struct pg_store *ps = pl->ps;
    pl->failed = true;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!primary)
        return pg_set_db_error(ps, res, what, err);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    const char *context = PQresultErrorField(res, PG_DIAG_CONTEXT);
    snprintf(ps->sqlstate, sizeof(ps->sqlstate), "%s", state ? state : "");
    int code = pg_sqlstate_code(ps->sqlstate);
    return iq_error_set(err, code, "%s: %.*s%s%.*s%s%.*s%s", what, trimmed_length(primary), primary,
                        detail ? ": " : "", detail ? trimmed_length(detail) : 0,
                        detail ? detail : "", context ? " (" : "",
                        context ? context_length(context) : 0, context ? context : "",
                        context ? ")" : "");
}

int pg_load_exec(struct pg_load *pl, const char *what, const char *sql, PGresult **ret_res,
                 struct iq_error *err)
{
    if (ret_res)
        *ret_res = NULL;
    if (atomic_load(&pl->ps->interrupted)) {
        pl->failed = true;
        return iq_error_set(err, IQ_E_CANCELLED, "%s: the load was interrupted", what);
    }
    PGresult *res = PQexec(pl->ps->conn, sql);
    if (!pg_result_ok(res)) {
        int rc = pg_load_error(pl, res, what, err);
        PQclear(res);
        return rc;
    }
    pl->ps->sqlstate[0] = '\0';
    if (ret_res)
        *ret_res = res;
    else
        PQclear(res);
    return 0;
}

int pg_load_exec_sql(struct pg_load *pl, const char *what, struct sql_text *sql, PGresult **ret_res,
                     struct iq_error *err)
{
    char *text = pg_sql_take(sql);
    if (!text) {
        pl->failed = true;
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    int rc = pg_load_exec(pl, what, text, ret_res, err);
    free(text);
    return rc;
}

void pg_load_cast(struct sql_text *sql, const struct pg_load_column *column, const char *alias,
                  int index)
{
    if (column->is_text)
        pg_sql_append(sql, "%s.v%d", alias, index);
    else
        pg_sql_append(sql, "%s.v%d::%s", alias, index, column->cast_type);
}

/* pg_quote_ident - see postgres/load/internal.h. */
char *pg_quote_ident(struct pg_store *ps, const char *name)
{
    char *quoted = PQescapeIdentifier(ps->conn, name, strlen(name));
    if (!quoted)
        return NULL;
    char *copy = strdup(quoted);
    PQfreemem(quoted);
    return copy;
}

/* ------------------------------------------------------------------ */
/* load_begin                                                          */
/* ------------------------------------------------------------------ */

/* check_plan - what the plan itself must satisfy, before any SQL. */
static int check_plan(const struct load_plan *plan, struct iq_error *err)
{
    if (!plan || plan->part_count == 0 || !plan->parts)
        return iq_error_set(err, IQ_E_INVALID, "a load needs at least one part");
    for (size_t i = 0; i < plan->part_count; i++) {
        const struct load_part *p = &plan->parts[i];
        if (!p->table || !p->columns || p->column_count == 0)
            return iq_error_set(err, IQ_E_INVALID, "part %zu needs a table and columns", i);
        if ((p->key_count && !p->key) || (p->reference_count && !p->references) ||
            (p->parent_key_count && (!p->parent_columns || !p->child_columns)))
            return iq_error_set(err, IQ_E_INVALID, "part %zu: a count without its array", i);
        if (p->column_count > SPEC_MAX_COLUMNS)
            return iq_error_set(err, IQ_E_INVALID, "table \"%s\": more than %d columns", p->table,
                                SPEC_MAX_COLUMNS);
    }
    if (plan->mode == TARGET_UPSERT && plan->parts[0].key_count == 0)
        return iq_error_set(err, IQ_E_INVALID, "upsert into \"%s\" needs a key",
                            plan->parts[0].table);
    if (plan->direct &&
        (plan->part_count > 1 || plan->parts[0].reference_count > 0 || plan->mode == TARGET_UPSERT))
        return iq_error_set(err, IQ_E_INVALID,
                            "a direct load is for insert, append or replace of one table"
                            " without references");
    return 0;
}

static const char *sql_type_name(enum column_type type)
{
    return type == COLUMN_JSON ? "jsonb" : column_type_name(type);
}

/* create_table - CREATE TABLE IF NOT EXISTS part (key as primary key). */
static int create_table(struct pg_load *pl, struct pg_load_part *p, struct iq_error *err)
{
    const struct load_part *spec = p->spec;
    struct sql_text sql = {0};
    pg_sql_append(&sql, "CREATE TABLE IF NOT EXISTS %s (", p->table_sql);
    for (size_t i = 0; i < spec->column_count; i++) {
        char *name = pg_quote_ident(pl->ps, spec->columns[i]);
        pg_sql_append(&sql, "%s%s %s", i ? ", " : "", name ? name : "",
                      sql_type_name(spec->types ? spec->types[i] : COLUMN_TEXT));
        if (!name)
            sql.failed = true;
        free(name);
    }
    for (size_t i = 0; i < spec->key_count; i++) {
        char *name = pg_quote_ident(pl->ps, spec->key[i]);
        pg_sql_append(&sql, "%s%s", i ? ", " : ", PRIMARY KEY (", name ? name : "");
        if (!name)
            sql.failed = true;
        free(name);
    }
    pg_sql_append(&sql, "%s)", spec->key_count ? ")" : "");
    return pg_load_exec_sql(pl, "creating the target table", &sql, NULL, err);
}

/* resolve_columns - each planned column's quoted name and cast type from d. */
static int resolve_columns(struct pg_load *pl, struct pg_load_part *p, const struct pg_described *d,
                           struct iq_error *err)
{
    const struct load_part *spec = p->spec;
    p->columns = calloc(spec->column_count, sizeof(*p->columns));
    if (!p->columns)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; i < spec->column_count; i++) {
        int at = spec->columns[i] ? pg_described_column(d, spec->columns[i]) : -1;
        if (at < 0)
            return iq_error_set(err, IQ_E_INVALID, "column \"%s\" is not in table \"%s\"",
                                spec->columns[i] ? spec->columns[i] : "", spec->table);
        p->columns[i].name_sql = pg_quote_ident(pl->ps, spec->columns[i]);
        p->columns[i].cast_type = strdup(d->cast_types[at]);
        p->columns[i].is_text = strcmp(d->cast_types[at], "text") == 0;
        if (!p->columns[i].name_sql || !p->columns[i].cast_type)
            return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    return 0;
}

/* planned_column - index of name among the part's planned columns, or -1. */
static int planned_column(const struct load_part *spec, const char *name)
{
    for (size_t i = 0; name && i < spec->column_count; i++)
        if (spec->columns[i] && strcmp(spec->columns[i], name) == 0)
            return (int)i;
    return -1;
}

/* resolve_names - indexes of names among the planned columns of spec into *ret. */
static int resolve_names(const struct load_part *spec, const char *const *names, size_t count,
                         const char *role, const char *table, int **ret, struct iq_error *err)
{
    *ret = calloc(count ? count : 1, sizeof(**ret));
    if (!*ret)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        (*ret)[i] = planned_column(spec, names[i]);
        if ((*ret)[i] < 0)
            return iq_error_set(err, IQ_E_INVALID, "%s column \"%s\" is not loaded into \"%s\"",
                                role, names[i] ? names[i] : "", table);
    }
    return 0;
}

/* resolve_reference - one reference check: the referenced table and column must exist. */
static int resolve_reference(struct pg_load *pl, struct pg_load_part *p,
                             const struct load_reference *ref, struct pg_load_reference *out,
                             struct iq_error *err)
{
    out->staged_column = -1;
    out->column = planned_column(p->spec, ref->column);
    if (out->column < 0 || !ref->ref_table || !ref->ref_column)
        return iq_error_set(err, IQ_E_INVALID, "reference of column \"%s\" in \"%s\" is incomplete",
                            ref->column ? ref->column : "", p->spec->table);
    struct pg_described d;
    int rc = pg_describe(pl->ps, ref->ref_table, &d, err);
    int at = rc == 0 ? pg_described_column(&d, ref->ref_column) : -1;
    if (rc == 0 && !d.info.exists)
        rc = iq_error_set(err, IQ_E_INVALID, "referenced table \"%s\" does not exist",
                          ref->ref_table);
    else if (rc == 0 && at < 0)
        rc = iq_error_set(err, IQ_E_INVALID, "referenced column \"%s.%s\" does not exist",
                          ref->ref_table, ref->ref_column);
    if (rc == 0) {
        out->table_sql = strdup(d.table_sql);
        out->column_sql = pg_quote_ident(pl->ps, ref->ref_column);
        out->cast_type = strdup(d.cast_types[at]);
        if (!out->table_sql || !out->column_sql || !out->cast_type)
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    if (rc == 0 && strcmp(out->table_sql, p->table_sql) == 0)
        out->staged_column = planned_column(p->spec, ref->ref_column);
    pg_described_clear(&d);
    return rc;
}

/*
 * check_upsert_key - the key must match a unique index or constraint
 * exactly (ON CONFLICT needs one), else IQ_E_INVALID before any row is sent.
 */
static int check_upsert_key(struct pg_load *pl, struct pg_load_part *p, const char *oid,
                            struct iq_error *err)
{
    struct sql_text names = {0};
    pg_sql_append(&names, "{");
    for (size_t i = 0; i < p->spec->key_count; i++) {
        pg_sql_append(&names, "%s\"", i ? "," : "");
        for (const char *c = p->spec->key[i]; *c; c++)
            pg_sql_append(&names, "%s%c", *c == '"' || *c == '\\' ? "\\" : "", *c);
        pg_sql_append(&names, "\"");
    }
    pg_sql_append(&names, "}");
    char *array = pg_sql_take(&names);
    char count[16];
    snprintf(count, sizeof(count), "%zu", p->spec->key_count);
    const char *values[3] = {oid, array, count};
    PGresult *res = NULL;
    int rc = array ? pg_exec(pl->ps, "looking for the upsert key's unique index",
                             "SELECT count(*) FROM pg_catalog.pg_index i WHERE i.indrelid = $1::oid"
                             " AND i.indisunique AND i.indpred IS NULL"
                             " AND i.indnkeyatts = $3::int AND (SELECT count(*)"
                             " FROM generate_series(0, i.indnkeyatts - 1) AS k"
                             " JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid"
                             " AND a.attnum = i.indkey[k] WHERE a.attname = ANY ($2::text[]))"
                             " = $3::int",
                             3, values, &res, err)
                   : iq_error_set(err, IQ_E_NOMEM, "out of memory");
    free(array);
    if (rc == 0 && pg_text_to_int64(PQgetvalue(res, 0, 0)) == 0)
        rc = iq_error_set(err, IQ_E_INVALID,
                          "upsert key of table \"%s\" has no unique index or constraint",
                          p->spec->table);
    PQclear(res);
    return rc;
}

/*
 * find_or_create - describe part's table, creating it when the plan
 * allows; p->table_sql becomes the schema-qualified name it resolved to.
 */
static int find_or_create(struct pg_load *pl, struct pg_load_part *p, struct pg_described *d,
                          struct iq_error *err)
{
    int rc = pg_describe(pl->ps, p->spec->table, d, err);
    if (rc == 0) {
        p->table_sql = strdup(d->table_sql);
        if (!p->table_sql)
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    if (rc < 0 || d->info.exists)
        return rc;
    if (!pl->base.plan->create_target)
        return iq_error_set(err, IQ_E_INVALID, "target table \"%s\" does not exist",
                            p->spec->table);
    rc = create_table(pl, p, err);
    if (rc == 0 && p->index == 0)
        pl->fresh_target = true;
    pg_described_clear(d);
    return rc < 0 ? rc : pg_describe(pl->ps, p->spec->table, d, err);
}

/* resolve_part - everything part p needs from the catalog; creates its table if asked. */
static int resolve_part(struct pg_load *pl, struct pg_load_part *p, struct iq_error *err)
{
    const struct load_part *spec = p->spec;
    struct pg_described d = {0};
    snprintf(p->stage_sql, sizeof(p->stage_sql), "pg_temp.iq_stage_%d", p->index);
    int rc = find_or_create(pl, p, &d, err);
    if (rc == 0) {
        snprintf(p->oid, sizeof(p->oid), "%s", d.oid);
        p->relkind = d.relkind;
    }
    if (rc == 0)
        rc = resolve_columns(pl, p, &d, err);
    if (rc == 0)
        rc = resolve_names(spec, spec->key, spec->key_count, "key", spec->table, &p->key_columns,
                           err);
    if (rc == 0 && p->index > 0)
        rc = resolve_names(spec, spec->child_columns, spec->parent_key_count, "parent key",
                           spec->table, &p->child_columns, err);
    if (rc == 0 && p->index > 0)
        rc = resolve_names(pl->parts[0].spec, spec->parent_columns, spec->parent_key_count,
                           "parent key", pl->parts[0].spec->table, &p->parent_columns, err);
    if (rc == 0 && spec->reference_count > 0) {
        p->references = calloc(spec->reference_count, sizeof(*p->references));
        if (!p->references)
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < spec->reference_count; i++)
        rc = resolve_reference(pl, p, &spec->references[i], &p->references[i], err);
    if (rc == 0 && pl->base.plan->mode == TARGET_UPSERT && spec->key_count > 0)
        rc = check_upsert_key(pl, p, d.oid, err);
    pg_described_clear(&d);
    return rc;
}

/* create_stage - the TEMP staging table of part p (dropped at commit or rollback). */
static int create_stage(struct pg_load *pl, struct pg_load_part *p, struct iq_error *err)
{
    struct sql_text sql = {0};
    pg_sql_append(&sql, "CREATE TEMP TABLE iq_stage_%d (n bigint, line bigint", p->index);
    for (size_t i = 0; i < p->spec->column_count; i++)
        pg_sql_append(&sql, ", v%zu text", i);
    pg_sql_append(&sql, ") ON COMMIT DROP");
    return pg_load_exec_sql(pl, "creating a staging table", &sql, NULL, err);
}

/*
 * empty_target_directly - direct replace of a target that cannot be
 * swapped (postgres/load/swap.c): DELETE its rows, counted, in the
 * transaction (not TRUNCATE: other sessions keep reading the old rows).
 */
static int empty_target_directly(struct pg_load *pl, struct iq_error *err)
{
    struct sql_text sql = {0};
    PGresult *res;
    pg_sql_append(&sql, "DELETE FROM %s", pl->parts[0].table_sql);
    int rc = pg_load_exec_sql(pl, "emptying the target", &sql, &res, err);
    if (rc < 0)
        return rc;
    pl->rows_deleted = pg_text_to_int64(PQcmdTuples(res));
    PQclear(res);
    return 0;
}

static void load_free(struct pg_load *pl)
{
    pg_swap_clear(pl);
    for (size_t i = 0; pl->parts && i < pl->part_count; i++) {
        struct pg_load_part *p = &pl->parts[i];
        for (size_t c = 0; p->columns && c < p->spec->column_count; c++) {
            free(p->columns[c].name_sql);
            free(p->columns[c].cast_type);
        }
        for (size_t r = 0; p->references && r < p->spec->reference_count; r++) {
            free(p->references[r].table_sql);
            free(p->references[r].column_sql);
            free(p->references[r].cast_type);
        }
        free(p->columns);
        free(p->references);
        free(p->key_columns);
        free(p->parent_columns);
        free(p->child_columns);
        free(p->buffer);
        free(p->table_sql);
    }
    free(pl->parts);
    free(pl);
}

/* load_new - the load's state for plan, before any SQL. NULL on OOM. */
static struct pg_load *load_new(struct pg_store *ps, const struct load_plan *plan)
{
    struct pg_load *pl = calloc(1, sizeof(*pl));
    if (!pl)
        return NULL;
    pl->parts = calloc(plan->part_count, sizeof(*pl->parts));
    if (!pl->parts) {
        free(pl);
        return NULL;
    }
    pl->base.ops = &pg_load_ops;
    pl->base.store = &ps->base;
    pl->base.plan = plan;
    pl->ps = ps;
    pl->part_count = plan->part_count;
    pl->copy_part = -1;
    for (size_t i = 0; i < plan->part_count; i++) {
        pl->parts[i].spec = &plan->parts[i];
        pl->parts[i].index = (int)i;
    }
    return pl;
}

/*
 * JIT is off for a load's transaction: its statements are simple scans
 * and joins whose JIT compilation (estimated on unanalysed staging
 * tables) costs more than it saves.
 */
#define LOAD_TX_SETTINGS "SET LOCAL jit = off"

/*
 * begin_in_tx - load_begin's work once BEGIN (with LOAD_TX_SETTINGS) is sent.
 */
static int begin_in_tx(struct pg_load *pl, struct iq_error *err)
{
    const struct load_plan *plan = pl->base.plan;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < pl->part_count; i++)
        rc = resolve_part(pl, &pl->parts[i], err);
    if (rc == 0 && plan->direct) {
        if (plan->mode == TARGET_REPLACE) {
            rc = pg_swap_begin_direct(pl, err); /* 1: COPY into a shadow */
            rc = rc == 0 ? empty_target_directly(pl, err) : rc < 0 ? rc : 0;
        }
        if (rc == 0)
            rc = pg_copy_start(pl, 0, err);
        return rc;
    }
    for (size_t i = 0; rc == 0 && i < pl->part_count; i++)
        rc = create_stage(pl, &pl->parts[i], err);
    return rc;
}

/*
 * begin_copy_only - load_begin of a direct load that writes nothing but
 * its rows (no CREATE, no emptying): the parts are resolved against the
 * catalog first (reads only, each seeing what is committed, as they would
 * inside the READ COMMITTED transaction), then BEGIN, the settings and
 * COPY go in one round trip instead of two.
 */
static int begin_copy_only(struct pg_load *pl, struct iq_error *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < pl->part_count; i++)
        rc = resolve_part(pl, &pl->parts[i], err);
    return rc == 0 ? pg_copy_start_tx(pl, 0, LOAD_TX_SETTINGS, err) : rc;
}

/*
 * pg_load_begin - see store_ops.load_begin. BEGIN, then per part: find the
 * table (or CREATE it when plan->create_target), check every planned
 * column, key, parent key and reference against the catalog, and for
 * upsert that the key has a unique index. Direct mode then starts COPY
 * into the target (FREEZE when the table was created or truncated here);
 * staged mode creates the TEMP staging tables. A direct load that creates
 * and empties nothing checks the catalog before BEGIN (begin_copy_only).
 * Clears an earlier interrupt. On failure everything is rolled back and
 * *ret_load is NULL.
 */
int pg_load_begin(struct store *s, const struct load_plan *plan, struct load **ret_load,
                  struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    *ret_load = NULL;
    int rc = check_plan(plan, err);
    if (rc < 0)
        return rc;
    if (ps->in_transaction)
        return iq_error_set(err, IQ_E_INTERNAL, "a transaction is already open on this connection");
    atomic_store(&ps->interrupted, false);
    struct pg_load *pl = load_new(ps, plan);
    if (!pl)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    if (plan->direct && !plan->create_target && plan->mode != TARGET_REPLACE) {
        rc = begin_copy_only(pl, err);
    } else {
        rc = pg_tx_begin_with(ps, "starting a load", LOAD_TX_SETTINGS, err);
        if (rc == 0)
            rc = begin_in_tx(pl, err);
    }
    if (rc < 0) {
        pg_load_abort(&pl->base);
        return rc;
    }
    *ret_load = &pl->base;
    return 0;
}

/* ------------------------------------------------------------------ */
/* load_commit and load_abort                                          */
/* ------------------------------------------------------------------ */

/*
 * check_fence - lock the job row and require it RUNNING with our worker
 * and attempt. IQ_E_STALE otherwise (also for an unknown or malformed id).
 */
static int check_fence(struct pg_load *pl, struct iq_error *err)
{
    const struct load_plan *plan = pl->base.plan;
    if (!uuid_is_valid(plan->commit.fence_job_id))
        return iq_error_set(err, IQ_E_STALE, "job %s is no longer ours (not a job id)",
                            plan->commit.fence_job_id);
    char attempt[16];
    snprintf(attempt, sizeof(attempt), "%d", plan->commit.fence_attempt);
    const char *values[1] = {plan->commit.fence_job_id};
    PGresult *res = PQexecParams(pl->ps->conn,
                                 "SELECT status, worker, attempt::text FROM stg_import_queue"
                                 " WHERE id = $1::uuid FOR UPDATE",
                                 1, NULL, values, NULL, NULL, 0);
    if (!pg_result_ok(res)) {
        int rc = pg_load_error(pl, res, "checking the job fence", err);
        PQclear(res);
        return rc;
    }
    bool ours = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "RUNNING") == 0 &&
                !PQgetisnull(res, 0, 1) && plan->commit.fence_worker &&
                strcmp(PQgetvalue(res, 0, 1), plan->commit.fence_worker) == 0 &&
                strcmp(PQgetvalue(res, 0, 2), attempt) == 0;
    int rc = 0;
    if (!ours)
        rc = iq_error_set(
            err, IQ_E_STALE,
            "job %s is no longer ours (status %s, worker %s, attempt %s; we are"
            " %s, attempt %d)",
            plan->commit.fence_job_id, PQntuples(res) ? PQgetvalue(res, 0, 0) : "unknown",
            PQntuples(res) && !PQgetisnull(res, 0, 1) ? PQgetvalue(res, 0, 1) : "none",
            PQntuples(res) ? PQgetvalue(res, 0, 2) : "-",
            plan->commit.fence_worker ? plan->commit.fence_worker : "(none)",
            plan->commit.fence_attempt);
    PQclear(res);
    return rc;
}

/*
 * fence_and_finish - the steps before COMMIT: with finish_on_commit,
 * PG_LOCK_JOB_GRAPH first (the finish locks dependants, and the lock
 * order puts the graph lock before any job row); the fence when
 * fence_job_id is set; then the finish (pg_finish_attempt, which locks
 * the job row and checks its own worker and attempt: IQ_E_STALE like the
 * fence), so the job is COMPLETED in the same transaction as its rows.
 * When the finish is the fence itself (a worker's own job), the fence's
 * read would only repeat it (store_load_finish_is_fence): the graph lock
 * and the finish then go in one round trip (pg_finish_attempt_locking).
 */
static int fence_and_finish(struct pg_load *pl, struct iq_error *err)
{
    const struct load_plan *plan = pl->base.plan;
    if (store_load_finish_is_fence(plan)) /* the worker's own job: 1 round trip */
        return pg_finish_attempt_locking(pl->ps, plan->commit.finish_on_commit,
                                         plan->commit.finish_actx, err);
    int rc = 0;
    if (plan->commit.finish_on_commit)
        rc = pg_exec(pl->ps, "locking the job graph",
                     pg_graph_lock_sql(plan->commit.finish_on_commit), 0, NULL, NULL, err);
    if (rc == 0 && plan->commit.fence_job_id)
        rc = check_fence(pl, err);
    if (rc == 0 && plan->commit.finish_on_commit)
        rc = pg_finish_attempt(pl->ps, plan->commit.finish_on_commit, NULL,
                               plan->commit.finish_actx, NULL, err);
    return rc;
}

/*
 * pg_load_commit - see load_ops.commit. Needs a promoted load. With
 * plan->commit.fence_job_id: the fence (row lock on the job until
 * COMMIT); with plan->commit.finish_on_commit: the job's finish in the
 * same transaction, and with plan->commit.claim_next the worker's next
 * claim; then COMMIT. Returns 0 and frees the load: it is over. On failure
 * the load stays for load_abort (after IQ_E_STALE it is already rolled
 * back).
 */
int pg_load_commit(struct load *load, struct iq_error *err)
{
    struct pg_load *pl = pg_load_of(load);
    int rc = pg_load_usable(pl, true, err);
    if (rc < 0)
        return rc;
    if (!pl->promoted) {
        pl->failed = true;
        return iq_error_set(err, IQ_E_INTERNAL, "load_commit before load_promote");
    }
    const struct load_plan *plan = pl->base.plan;
    struct job *next = NULL;
    rc = fence_and_finish(pl, err);
    if (rc == 0 && plan->commit.finish_on_commit && plan->commit.claim_next)
        rc = pg_claim_next_in_tx(pl->ps, plan->commit.claim_next, plan->commit.finish_actx, &next,
                                 err);
    if (rc == 0) /* replace: the shadows in, last, so the lock is held only until COMMIT */
        rc = pg_swap_commit(pl, err);
    if (rc < 0) {
        pl->failed = true;
        pg_tx_rollback(pl->ps);
        return rc;
    }
    rc = pg_tx_finish(pl->ps, 0, err);
    if (rc < 0) {
        job_free(next);
        pl->failed = true;
        return rc;
    }
    if (plan->commit.claimed_next)
        *plan->commit.claimed_next = next;
    else
        job_free(next);
    load_free(pl);
    return 0;
}

/*
 * pg_load_abort - see load_ops.abort: end an open COPY with an
 * error, ROLLBACK (the staging tables go with it), free. NULL-safe; never
 * reconnects. The connection is usable afterwards.
 */
void pg_load_abort(struct load *load)
{
    if (!load)
        return;
    struct pg_load *pl = pg_load_of(load);
    if (pl->copy_part >= 0)
        pg_copy_cancel(pl);
    pg_tx_rollback(pl->ps);
    load_free(pl);
}
