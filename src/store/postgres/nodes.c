/*
 * postgres/nodes.c - the node registry on PostgreSQL: rows of
 * stg_import_coordination with kind 'node', one per `importq serve`
 * process (id, name "host:pid", status alive/dead/stopped, host, pid,
 * version, heartbeat_at, created_at = when it started). Heartbeats and
 * the dead-node sweep use the database clock, like job leases. Not
 * audited: the registry records processes, not anyone's decisions.
 */
#include "store/postgres/internal.h"

#include "core/timeutil.h"
#include "core/uuid7.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* check_status - NULL or one of the registry's statuses. */
static int check_status(const char *status, struct iq_error *err)
{
    if (!status || strcmp(status, "alive") == 0 || strcmp(status, "dead") == 0 ||
        strcmp(status, "stopped") == 0)
        return 0;
    return iq_error_set(err, IQ_E_INVALID, "node status \"%s\": want alive, dead or stopped",
                        status);
}

/*
 * pg_node_register - see store_ops.node_register: insert the node, or
 * renew an existing row with this id (its start time is kept). Status
 * defaults to "alive", the heartbeat is now. IQ_E_INVALID for a bad id or
 * status, IQ_E_CONFLICT when the id belongs to an orchestration.
 */
int pg_node_register(struct store *s, const struct node_info *node, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    if (!node || !uuid_is_valid(node->id))
        return iq_error_set(err, IQ_E_INVALID, "a node needs a UUID id");
    int rc = check_status(node->status, err);
    if (rc < 0)
        return rc;
    char *name = NULL;
    if (asprintf(&name, "%s:%d", node->host ? node->host : "", node->pid) < 0)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    char pid[16], started[TIME_RFC3339_LEN], now[TIME_RFC3339_LEN];
    snprintf(pid, sizeof(pid), "%d", node->pid);
    const char *values[8] = {node->id,
                             name,
                             node->status ? node->status : "alive",
                             node->host,
                             pid,
                             node->version,
                             node->started_at_ms ? time_format_rfc3339(node->started_at_ms, started)
                                                 : NULL,
                             pg_clock_param(ps, now)};
    PGresult *res;
    rc = pg_exec(ps, "registering the node",
                 "INSERT INTO stg_import_coordination AS c (id, kind, name, status, host, pid,"
                 " version, heartbeat_at, created_at, updated_at)"
                 " VALUES ($1::uuid, 'node', $2, $3, $4, $5::integer, $6, " PG_NOW("$8") ","
                 " coalesce($7::timestamptz, " PG_NOW("$8") "), " PG_NOW("$8") ")"
                 " ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status,"
                 " host = excluded.host, pid = excluded.pid, version = excluded.version,"
                 " heartbeat_at = " PG_NOW("$8") ", updated_at = " PG_NOW("$8")
                 " WHERE c.kind = 'node'"
                 " RETURNING 1",
                 8, values, &res, err);
    free(name);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 0)
        rc = iq_error_set(err, IQ_E_CONFLICT, "id %s is not a node's", node->id);
    PQclear(res);
    return rc;
}

/*
 * pg_node_heartbeat - see store_ops.node_heartbeat: heartbeat now, and
 * the status when given (NULL keeps it). IQ_E_NOT_FOUND for an unknown node.
 */
int pg_node_heartbeat(struct store *s, const char *node_id, const char *status,
                      struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    if (!node_id || !uuid_is_valid(node_id))
        return iq_error_set(err, IQ_E_NOT_FOUND, "node %s not found", node_id ? node_id : "(null)");
    int rc = check_status(status, err);
    if (rc < 0)
        return rc;
    char now[TIME_RFC3339_LEN];
    const char *values[3] = {node_id, status, pg_clock_param(ps, now)};
    PGresult *res;
    rc = pg_exec(ps, "renewing the node's heartbeat",
                 "UPDATE stg_import_coordination SET heartbeat_at = " PG_NOW("$3") ","
                 " status = coalesce($2, status), updated_at = " PG_NOW("$3")
                 " WHERE id = $1::uuid AND kind = 'node' RETURNING 1",
                 3, values, &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "node %s not found", node_id);
    PQclear(res);
    return rc;
}

/*
 * pg_nodes_mark_dead - see store_ops.nodes_mark_dead: alive nodes whose
 * heartbeat is older than dead_after_ms become "dead". *ret_marked = how
 * many.
 */
int pg_nodes_mark_dead(struct store *s, int64_t dead_after_ms, int *ret_marked,
                       struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    if (ret_marked)
        *ret_marked = 0;
    if (dead_after_ms <= 0)
        return iq_error_set(err, IQ_E_INVALID, "dead_after must be positive");
    char after[24], now[TIME_RFC3339_LEN];
    snprintf(after, sizeof(after), "%" PRId64, dead_after_ms);
    const char *values[2] = {after, pg_clock_param(ps, now)};
    PGresult *res;
    int rc = pg_exec(ps, "marking dead nodes",
                     "UPDATE stg_import_coordination SET status = 'dead',"
                     " updated_at = " PG_NOW("$2")
                     " WHERE kind = 'node' AND status = 'alive'"
                     " AND heartbeat_at < " PG_NOW("$2") " - $1::bigint * interval '1 millisecond'",
                     2, values, &res, err);
    if (rc < 0)
        return rc;
    if (ret_marked)
        *ret_marked = (int)pg_text_to_int64(PQcmdTuples(res));
    PQclear(res);
    return 0;
}

/* decode_node - row of the list query into *node; false on OOM. */
static bool decode_node(const PGresult *res, int row, struct node_info *node)
{
    snprintf(node->id, sizeof(node->id), "%s", PQgetvalue(res, row, 0));
    node->host = PQgetisnull(res, row, 1) ? NULL : strdup(PQgetvalue(res, row, 1));
    node->pid = (int)pg_text_to_int64(PQgetvalue(res, row, 2));
    node->version = PQgetisnull(res, row, 3) ? NULL : strdup(PQgetvalue(res, row, 3));
    node->status = strdup(PQgetvalue(res, row, 4));
    node->started_at_ms = pg_text_to_int64(PQgetvalue(res, row, 5));
    node->heartbeat_at_ms = pg_text_to_int64(PQgetvalue(res, row, 6));
    return node->status && (node->host || PQgetisnull(res, row, 1)) &&
           (node->version || PQgetisnull(res, row, 3));
}

/*
 * pg_nodes_list - see store_ops.nodes_list: every registered node, dead
 * and stopped ones too, oldest first. Clear with node_list_clear (also
 * after a failure).
 */
int pg_nodes_list(struct store *s, struct node_list *ret_list, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret_list, 0, sizeof(*ret_list));
    PGresult *res;
    int rc = pg_exec(ps, "listing nodes",
                     "SELECT id::text, host, pid, version, status,"
                     " floor(extract(epoch FROM created_at) * 1000)::bigint,"
                     " coalesce(floor(extract(epoch FROM heartbeat_at) * 1000)::bigint, 0)"
                     " FROM stg_import_coordination WHERE kind = 'node' ORDER BY created_at, id",
                     0, NULL, &res, err);
    if (rc < 0)
        return rc;
    size_t rows = (size_t)PQntuples(res);
    if (rows > 0) {
        ret_list->items = calloc(rows, sizeof(*ret_list->items));
        if (!ret_list->items)
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < rows; i++) {
        ret_list->count = i + 1;
        if (!decode_node(res, (int)i, &ret_list->items[i]))
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory reading nodes");
    }
    PQclear(res);
    return rc;
}
