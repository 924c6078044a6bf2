/*
 * sqlite/nodes.c - the node registry on SQLite: rows of
 * stg_import_coordination with kind 'node', one per `importq serve`
 * process (id, name "host:pid", status alive/dead/stopped, host, pid,
 * version, heartbeat; the process start time in detail.started_at).
 * Not here: deciding when a node counts as dead (the engine passes the
 * timeout).
 */
#include "store/sqlite/internal.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One statement as its own BEGIN IMMEDIATE transaction (the rule for every write). */
static int run_write(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what, int *ret_changes,
                     struct iq_error *err)
{
    int rc = sqlite_tx_begin(s, err);
    if (rc < 0) {
        stmt_release(stmt);
        return rc;
    }
    rc = sqlite_stmt_run(s, stmt, what, err);
    if (rc == 0 && ret_changes)
        *ret_changes = sqlite3_changes(s->db);
    return sqlite_tx_finish(s, rc, err);
}

/* node_detail_text - {"started_at": ...} of node. Caller frees. */
static char *node_detail_text(const struct node_info *node)
{
    char started[TIME_RFC3339_LEN];
    json_t *json =
        json_pack("{s:s?}", "started_at",
                  node->started_at_ms ? time_format_rfc3339(node->started_at_ms, started) : NULL);
    char *text = json ? store_json_text(json) : NULL;
    json_decref(json);
    return text;
}

/*
 * sqlite_node_register - see store_ops.node_register: insert the node, or
 * refresh every field of a node with the same id (a restart), with its
 * heartbeat now. Status "alive" unless node->status says otherwise.
 * IQ_E_CONFLICT when the id belongs to an orchestration.
 */
int sqlite_node_register(struct store *base, const struct node_info *node, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    if (!node || !node->id[0] || !node->host)
        return iq_error_set(err, IQ_E_INVALID, "a node needs an id and a host");
    char name[300];
    snprintf(name, sizeof(name), "%s:%d", node->host, node->pid);
    char *detail = node_detail_text(node);
    if (!detail)
        return nomem(err);
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_NODE_UPSERT, err);
    int rc = stmt ? 0 : IQ_E_DB;
    if (rc == 0) {
        struct binder b = binder_start(stmt);
        bind_text(&b, node->id);
        bind_text(&b, name);
        bind_text(&b, node->status ? node->status : "alive");
        bind_text(&b, node->host);
        bind_int64(&b, node->pid);
        bind_text(&b, node->version);
        bind_text(&b, detail);
        bind_time(&b, sqlite_now_ms(s));
        rc = sqlite_binder_check(s, &b, err);
    }
    int changes = 0;
    if (rc == 0)
        rc = run_write(s, stmt, "register node", &changes, err);
    if (rc == 0 && changes != 1)
        rc = iq_error_set(err, IQ_E_CONFLICT, "id %s is not a node's", node->id);
    free(detail);
    return rc;
}

/*
 * sqlite_node_heartbeat - see store_ops.node_heartbeat: heartbeat now, and
 * the status when given (NULL keeps it). IQ_E_NOT_FOUND for an unknown node.
 */
int sqlite_node_heartbeat(struct store *base, const char *node_id, const char *status,
                          struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    if (!node_id)
        return iq_error_set(err, IQ_E_NOT_FOUND, "node (null) not found");
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_NODE_HEARTBEAT, err);
    if (!stmt)
        return IQ_E_DB;
    struct binder b = binder_start(stmt);
    bind_text(&b, node_id);
    bind_time(&b, sqlite_now_ms(s));
    bind_text(&b, status);
    int changes = 0;
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = run_write(s, stmt, "node heartbeat", &changes, err);
    if (rc == 0 && changes == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "node %s not found", node_id);
    return rc;
}

/*
 * sqlite_nodes_mark_dead - see store_ops.nodes_mark_dead: alive nodes
 * silent for dead_after_ms or longer become "dead" (stopped ones stay
 * stopped). *ret_marked (may be NULL): how many.
 */
int sqlite_nodes_mark_dead(struct store *base, int64_t dead_after_ms, int *ret_marked,
                           struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    if (ret_marked)
        *ret_marked = 0;
    if (dead_after_ms <= 0)
        return iq_error_set(err, IQ_E_INVALID, "dead_after_ms must be positive");
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_NODES_MARK_DEAD, err);
    if (!stmt)
        return IQ_E_DB;
    int64_t now_ms = sqlite_now_ms(s);
    struct binder b = binder_start(stmt);
    bind_time(&b, now_ms - dead_after_ms);
    bind_time(&b, now_ms);
    int changes = 0;
    int rc = sqlite_binder_check(s, &b, err);
    if (rc == 0)
        rc = run_write(s, stmt, "mark dead nodes", &changes, err);
    if (rc == 0 && ret_marked)
        *ret_marked = changes;
    return rc;
}

/* ------------------------------------------------------------------------
 * Listing
 * ------------------------------------------------------------------------ */

/* dup_column - strdup of a text column, NULL for SQL NULL; false when out of memory. */
static bool dup_column(sqlite3_stmt *stmt, int column, char **ret)
{
    bool ok;
    const char *text = sqlite_column_text_or_error(stmt, column, &ok);
    *ret = text ? strdup(text) : NULL;
    return ok && (!text || *ret);
}

/* time_column - an RFC 3339 column (NULL: 0); false when unreadable. */
static bool time_column(sqlite3_stmt *stmt, int column, int64_t *ret_ms)
{
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    *ret_ms = 0;
    return !text || time_parse_rfc3339(text, ret_ms) == 0;
}

/*
 * node_from_row - decode the current NODES_LIST row (id, host, pid,
 * version, status, started_at, heartbeat_at, created_at) into *node,
 * whose strings node_list_clear frees even after a failure.
 */
static int node_from_row(sqlite3_stmt *stmt, struct node_info *node, struct iq_error *err)
{
    memset(node, 0, sizeof(*node));
    const char *id = (const char *)sqlite3_column_text(stmt, 0);
    if (!id || strlen(id) >= UUID_STR_LEN)
        return iq_error_set(err, IQ_E_DB, "stored node id \"%s\" is malformed", id ? id : "");
    memcpy(node->id, id, strlen(id) + 1);
    node->pid = sqlite3_column_int(stmt, 2);
    if (!dup_column(stmt, 1, &node->host) || !dup_column(stmt, 3, &node->version) ||
        !dup_column(stmt, 4, &node->status))
        return nomem(err);
    if (!time_column(stmt, 5, &node->started_at_ms) ||
        !time_column(stmt, 6, &node->heartbeat_at_ms))
        return iq_error_set(err, IQ_E_DB, "node %s has an unreadable time", node->id);
    if (!node->started_at_ms && !time_column(stmt, 7, &node->started_at_ms))
        return iq_error_set(err, IQ_E_DB, "node %s has an unreadable time", node->id);
    return 0;
}

/*
 * sqlite_nodes_list - see store_ops.nodes_list: every node, dead or alive,
 * in registration order. *ret_list: node_list_clear, also after a failure.
 */
int sqlite_nodes_list(struct store *base, struct node_list *ret_list, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    memset(ret_list, 0, sizeof(*ret_list));
    sqlite3_stmt *stmt = sqlite_stmt_get(s, STMT_NODES_LIST, err);
    if (!stmt)
        return IQ_E_DB;
    size_t capacity = 0;
    int rc;
    while ((rc = sqlite_stmt_next(s, stmt, "list nodes", err)) == 1) {
        void *grown = store_grow(ret_list->items, &capacity, ret_list->count,
                                 sizeof(*ret_list->items), 4);
        if (!grown) {
            rc = nomem(err);
            break;
        }
        ret_list->items = grown;
        rc = node_from_row(stmt, &ret_list->items[ret_list->count++], err);
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        stmt_release(stmt);
        node_list_clear(ret_list);
    }
    return rc;
}
