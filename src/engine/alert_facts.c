/*
 * alert_facts.c - one look of the alert loop at the store (alert_facts.h):
 * each read, and the facts the rules take, borrowing from the rows read.
 * Bounded: at most ALERTS_SCAN_LIMIT rows of each list.
 */
#include "engine/alert_facts.h"

#include "engine/alerts.h"

#include <stdlib.h>
#include <string.h>

void gathered_clear(struct gathered *g)
{
    alert_probe_clear(&g->probe);
    job_summary_page_clear(&g->running);
    lock_list_clear(&g->locks);
    job_page_clear(&g->queued);
    node_list_clear(&g->nodes);
    alert_page_clear(&g->active);
    free(g->ended);
    free(g->running_facts);
    free(g->expired);
    free(g->waits);
    free(g->node_facts);
    memset(g, 0, sizeof(*g));
}

/* table_p50 - the median duration of table, read once per look (cache of count entries). */
static int table_p50(struct store *s, struct alert_running_job *facts, size_t count,
                     const char *table, int64_t *ret_ms, struct iq_error *err)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(facts[i].table, table) == 0) {
            *ret_ms = facts[i].table_p50_ms;
            return 0;
        }
    return store_table_duration_p50(s, table, ret_ms, err);
}

static int gather_running(struct store *s, struct gathered *g, struct iq_error *err)
{
    struct job_filter filter = {.status_mask = 1u << JOB_RUNNING, .limit = ALERTS_SCAN_LIMIT};
    int rc = store_job_list_summary(s, &filter, &g->running, err);
    if (rc < 0)
        return rc;
    g->running_facts = calloc(g->running.count + 1, sizeof(*g->running_facts));
    if (!g->running_facts)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; i < g->running.count; i++) {
        const struct job_summary *job = &g->running.items[i];
        struct alert_running_job *fact = &g->running_facts[i];
        *fact = (struct alert_running_job){job->id, job->name, job->table, job->started_at_ms, 0};
        rc = table_p50(s, g->running_facts, i, job->table, &fact->table_p50_ms, err);
        if (rc < 0)
            return rc;
    }
    g->facts.running = g->running_facts;
    g->facts.running_count = g->running.count;
    return 0;
}

static bool modes_conflict(enum lock_mode a, enum lock_mode b)
{
    return a == LOCK_EXCLUSIVE || b == LOCK_EXCLUSIVE;
}

/* gather_waits - runnable QUEUED jobs that a held lock keeps waiting (as
 * GET /import-resources shows them), each with the first lock in its way. */
static int gather_waits(struct store *s, int64_t now_ms, struct gathered *g, struct iq_error *err)
{
    if (g->locks.count == 0)
        return 0;
    struct job_filter filter = {.status_mask = 1u << JOB_QUEUED, .limit = ALERTS_SCAN_LIMIT};
    int rc = store_job_list(s, &filter, &g->queued, err);
    if (rc < 0)
        return rc;
    g->waits = calloc(g->queued.count + 1, sizeof(*g->waits));
    if (!g->waits)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; i < g->queued.count; i++) {
        const struct job *job = g->queued.items[i];
        if (job->deps_pending > 0 || job->available_at_ms > now_ms)
            continue;
        const struct lock_info *blocker = NULL;
        for (size_t r = 0; !blocker && r < job->resource_count; r++)
            for (size_t l = 0; !blocker && l < g->locks.count; l++)
                if (strcmp(g->locks.items[l].name, job->resources[r].name) == 0 &&
                    modes_conflict(g->locks.items[l].mode, job->resources[r].mode))
                    blocker = &g->locks.items[l];
        if (blocker)
            g->waits[g->facts.lock_wait_count++] = (struct alert_lock_wait){
                job->id, job->name, blocker->name, blocker->job_id, job->available_at_ms};
    }
    g->facts.lock_waits = g->waits;
    return 0;
}

static int gather_probe(struct store *s, int64_t now_ms, const struct alert_thresholds *t,
                        struct gathered *g, struct iq_error *err)
{
    int64_t window_ms = t->event_window_ms > 0 ? t->event_window_ms : ALERTS_EVENT_WINDOW_MS_MAX;
    int rc = store_alert_probe(s, now_ms - window_ms, ALERTS_SCAN_LIMIT, &g->probe, err);
    if (rc < 0)
        return rc;
    g->ended = calloc(g->probe.ended_count + 1, sizeof(*g->ended));
    g->expired = calloc(g->probe.expired_count + 1, sizeof(*g->expired));
    if (!g->ended || !g->expired)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; i < g->probe.ended_count; i++) {
        const struct alert_probe_job *job = &g->probe.ended[i];
        g->ended[i] =
            (struct alert_ended_job){job->id,      job->name,         job->table,
                                     job->status,  job->error_code,   job->error_message,
                                     job->attempt, job->max_attempts, job->finished_at_ms};
    }
    for (size_t i = 0; i < g->probe.expired_count; i++) {
        const struct alert_probe_lock *lock = &g->probe.expired[i];
        g->expired[i] =
            (struct alert_expired_lock){lock->id, lock->name, lock->job_id, lock->expires_at_ms};
    }
    g->facts.ended = g->ended;
    g->facts.ended_count = g->probe.ended_count;
    g->facts.expired_locks = g->expired;
    g->facts.expired_lock_count = g->probe.expired_count;
    g->facts.oldest_runnable_since_ms = g->probe.oldest_runnable_since_ms;
    return 0;
}

static int gather_nodes(struct store *s, struct gathered *g, struct iq_error *err)
{
    int rc = store_nodes_list(s, &g->nodes, err);
    if (rc < 0)
        return rc;
    g->node_facts = calloc(g->nodes.count + 1, sizeof(*g->node_facts));
    if (!g->node_facts)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; i < g->nodes.count; i++) {
        const struct node_info *node = &g->nodes.items[i];
        g->node_facts[i] = (struct alert_node){
            node->id, node->host, node->status ? node->status : "", node->heartbeat_at_ms};
    }
    g->facts.nodes = g->node_facts;
    g->facts.node_count = g->nodes.count;
    return 0;
}

int alert_facts_gather(struct store *s, const char *node_id, const struct alert_thresholds *t,
                       int64_t now_ms, struct gathered *g, struct iq_error *err)
{
    memset(g, 0, sizeof(*g));
    g->facts.now_ms = now_ms;
    g->facts.node_id = node_id;
    int rc = store_queue_stats(s, now_ms, &g->stats, err);
    if (rc == 0) {
        g->facts.queue_depth = g->stats.count[JOB_QUEUED] + g->stats.count[JOB_HELD];
        rc = gather_probe(s, now_ms, t, g, err);
    }
    if (rc == 0)
        rc = gather_running(s, g, err);
    if (rc == 0)
        rc = store_locks_list(s, &g->locks, err);
    if (rc == 0)
        rc = gather_waits(s, now_ms, g, err);
    if (rc == 0)
        rc = gather_nodes(s, g, err);
    if (rc == 0)
        rc = store_alerts_active(s, &g->active, err);
    return rc;
}
