/*
 * alerts.h - the node's alert loop: every alert-every it gathers the
 * facts the rules look at (store reads), evaluates the built-in rules
 * (core/alert_rules.c), moves each (rule, entity)'s alert through
 * pending -> firing -> clearing (alert_step: a level must hold, and be
 * gone, for alert-for before the alert opens or resolves), opens and
 * resolves alert rows in the store (once per rule and entity cluster-wide:
 * the store's unique index), and delivers each change to the log and the
 * optional webhook (engine/alert_webhook.c). When this node cannot reach
 * the database, the db_unreachable alert lives in memory (logged and sent
 * to the webhook) and is recorded, resolved, once the database is back.
 *
 * Every node evaluates (no leader): a node that finds an alert opened by
 * another takes it over (it may resolve it), and only the node whose
 * statement opened or resolved a row delivers that change.
 *
 * Tests call alerts_tick directly with a fake clock, without the thread.
 */
#ifndef IMPORTQ_ENGINE_ALERTS_H
#define IMPORTQ_ENGINE_ALERTS_H

#include "core/alert_rules.h"
#include "core/clock.h"
#include "core/error.h"
#include "store/store.h"
#include "util/config.h"

#include <stdbool.h>
#include <stdint.h>

#define ALERTS_EVERY_MS_DEFAULT 5000
#define ALERTS_EVERY_MS_MIN 100 /* a shorter alert-every is taken as this */
/* alert-event-window 0 is taken as this (a day). */
#define ALERTS_EVENT_WINDOW_MS_MAX INT64_C(86400000)
/* Rows of each kind a look reads at most (failed jobs, running jobs,
 * expired locks, queued jobs scanned for lock waits). */
#define ALERTS_SCAN_LIMIT 500

/* What the alert loop runs with (settings alert-*). */
struct alert_options {
    bool enabled;     /* false: no alert thread */
    int64_t every_ms; /* a look every; 0 = ALERTS_EVERY_MS_DEFAULT */
    struct alert_thresholds thresholds;
    const char *webhook_url;    /* NULL or "": no webhook */
    int webhook_retries;        /* 0 = default (5), < 0 = none */
    int64_t webhook_backoff_ms; /* 0 = default (1 s) */
};

/* alert_options_from_config - opts from the alert-* settings and
 * max-queue-size (the queue_full rule's capacity). */
void alert_options_from_config(const struct config *cfg, struct alert_options *opts);

/* Fault injection (tests): called before each look touches the database;
 * a negative return (IQ_E_DB) is taken as the database failing. */
typedef int (*alerts_fault_fn)(void *ctx, struct iq_error *err);

struct alerts_config {
    const char *db_url;           /* required */
    const char *node_id;          /* this node (alerts' node, db_unreachable's entity) */
    const struct iq_clock *clock; /* NULL: real */
    struct alert_options options;
    alerts_fault_fn fault; /* NULL: none */
    void *fault_ctx;
};

/* What one look did. */
struct alerts_tick_report {
    int conditions; /* conditions that held */
    int opened;     /* alerts this node opened (delivered) */
    int resolved;   /* alerts this node resolved (delivered) */
    bool db_unreachable;
};

struct alerts;

/*
 * alerts_create - the loop's state (no thread yet; the webhook's thread
 * starts when a URL is set). Strings are copied. IQ_E_INVALID for a bad
 * webhook URL. Free with alerts_free.
 */
int alerts_create(const struct alerts_config *cfg, struct alerts **ret, struct iq_error *err);

/*
 * alerts_tick - one look at now (the clock): gather, evaluate, open,
 * resolve, deliver. A database error makes the database unreachable for
 * this look (its connection is closed and opened again next look) and is
 * not an error of the call. Returns 0, or IQ_E_NOMEM.
 */
int alerts_tick(struct alerts *alerts, struct alerts_tick_report *ret, struct iq_error *err);

/* alerts_start - the thread that calls alerts_tick every every_ms. */
int alerts_start(struct alerts *alerts, struct iq_error *err);

/* alerts_webhook_stats - the webhook's counters (zeros without one). */
struct alert_webhook_stats;
void alerts_webhook_stats(struct alerts *alerts, struct alert_webhook_stats *ret);

/* alerts_free - stop the thread and the webhook, close the connection; NULL-safe. */
void alerts_free(struct alerts *alerts);

#endif
