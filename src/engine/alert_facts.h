/*
 * alert_facts.h - what the alert loop (alerts.c) reads for one look: the
 * store reads behind struct alert_facts (queue stats, the probe, running
 * jobs and their tables' medians, live locks and the runnable jobs they
 * block, nodes) and the stored unresolved alerts. Internal to the engine.
 */
#ifndef IMPORTQ_ENGINE_ALERT_FACTS_H
#define IMPORTQ_ENGINE_ALERT_FACTS_H

#include "core/alert_rules.h"
#include "store/alert_ops.h"
#include "store/store.h"

/* What one look read (owned) and the facts that borrow from it. */
struct gathered {
    struct queue_stats stats;
    struct alert_probe probe;
    struct job_summary_page running;
    struct lock_list locks;
    struct job_page queued;
    struct node_list nodes;
    struct alert_page active;
    struct alert_ended_job *ended;
    struct alert_running_job *running_facts;
    struct alert_expired_lock *expired;
    struct alert_lock_wait *waits;
    struct alert_node *node_facts;
    struct alert_facts facts;
};

/*
 * alert_facts_gather - one look's reads on s at now_ms into *g (zeroed
 * first; clear it with gathered_clear, also after a failure). The
 * failure of any read is returned (IQ_E_DB: the database failed).
 */
int alert_facts_gather(struct store *s, const char *node_id, const struct alert_thresholds *t,
                       int64_t now_ms, struct gathered *g, struct iq_error *err);

/* gathered_clear - free what a look read; NULL-safe members. */
void gathered_clear(struct gathered *g);

#endif
