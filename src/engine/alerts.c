/*
 * alerts.c - the node's alert loop (alerts.h): gather the facts from the
 * store, evaluate the rules, keep one tracker per (rule, entity), open
 * and resolve rows, deliver changes to the log and the webhook.
 *
 * Threads: the alert thread (alerts_start) owns the connection and the
 * trackers; the webhook has its own thread (alert_webhook.c). `lock`
 * guards only `quit` (the thread's sleep); no store call is made under it.
 */
#include "engine/alerts.h"

#include "core/timeutil.h"
#include "engine/alert_facts.h"
#include "engine/alert_webhook.h"
#include "store/alert_ops.h"
#include "util/log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One (rule, entity) being watched. */
struct tracked {
    enum alert_rule_id rule;
    char *entity_id;
    struct alert_tracker tracker;
    int64_t stored_id;                       /* its open (or acked) row; 0: none known */
    bool stored_seen;                        /* in this look's stored unresolved alerts */
    const struct alert_condition *condition; /* this look's, when it holds */
};

struct alerts {
    char *db_url;
    char *node_id;
    const struct iq_clock *clock;
    struct alert_options opts;
    alerts_fault_fn fault;
    void *fault_ctx;
    struct store *store; /* alert thread only; NULL until opened */
    struct tracked *items;
    size_t count;
    size_t capacity;
    bool db_down; /* the last look could not reach the database */
    int64_t db_down_since_ms;
    struct alert_tracker db_tracker; /* db_unreachable: in memory */
    int64_t db_alert_since_ms;       /* when the outage it reports began */
    struct alert_webhook *webhook;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool quit;
    bool started;
    pthread_t thread;
};

void alert_options_from_config(const struct config *cfg, struct alert_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->enabled = cfg->alerts;
    opts->every_ms = cfg->alert_every;
    opts->webhook_url = cfg->alert_webhook;
    opts->webhook_retries =
        cfg->alert_webhook_retries == 0
            ? -1
            : (int)(cfg->alert_webhook_retries > 100 ? 100 : cfg->alert_webhook_retries);
    opts->webhook_backoff_ms = cfg->alert_webhook_backoff;
    struct alert_thresholds *t = &opts->thresholds;
    t->for_ms = cfg->alert_for;
    t->event_window_ms =
        cfg->alert_event_window > 0 ? cfg->alert_event_window : ALERTS_EVENT_WINDOW_MS_MAX;
    t->slow_factor = (int)(cfg->alert_slow_factor > 1000 ? 1000 : cfg->alert_slow_factor);
    t->slow_min_ms = cfg->alert_slow_min;
    t->queue_depth = cfg->alert_queue_depth;
    t->queue_full_percent = (int)(cfg->alert_queue_full > 100 ? 100 : cfg->alert_queue_full);
    t->max_queue_size = cfg->max_queue_size;
    t->queue_wait_ms = cfg->alert_queue_wait;
    t->lock_wait_ms = cfg->alert_lock_wait;
}

/* ------------------------------------------------------------------ */
/* Delivery                                                            */
/* ------------------------------------------------------------------ */

/* deliver - one change of an alert ("opened", "resolved") to the log and the webhook. */
static void deliver(struct alerts *alerts, const char *event, const struct alert *alert)
{
    char id_text[24];
    snprintf(id_text, sizeof(id_text), "%" PRId64, alert->id);
    log_event(strcmp(event, "opened") == 0 ? LOG_WARN : LOG_INFO,
              strcmp(event, "opened") == 0 ? "alert opened" : "alert resolved", "id",
              alert->id ? id_text : "-", "rule", alert->rule, "severity", alert->severity, "entity",
              alert->entity, "entity_id", alert->entity_id, "message", alert->message, NULL);
    if (!alerts->webhook)
        return;
    json_t *body = json_pack("{s:s, s:o}", "event", event, "alert", alert_json(alert));
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (text && !alert_webhook_send(alerts->webhook, text))
        log_event(LOG_WARN, "alert webhook queue full: event dropped", "rule", alert->rule,
                  "entity_id", alert->entity_id, NULL);
    free(text);
    json_decref(body);
}

/* ------------------------------------------------------------------ */
/* Trackers                                                            */
/* ------------------------------------------------------------------ */

static struct tracked *find_tracked(struct alerts *alerts, enum alert_rule_id rule,
                                    const char *entity_id)
{
    for (size_t i = 0; i < alerts->count; i++)
        if (alerts->items[i].rule == rule && strcmp(alerts->items[i].entity_id, entity_id) == 0)
            return &alerts->items[i];
    return NULL;
}

/* add_tracked - a new inactive tracker; NULL on OOM. */
static struct tracked *add_tracked(struct alerts *alerts, enum alert_rule_id rule,
                                   const char *entity_id)
{
    if (alerts->count == alerts->capacity) {
        size_t capacity = alerts->capacity ? alerts->capacity * 2 : 32;
        struct tracked *items = realloc(alerts->items, capacity * sizeof(*items));
        if (!items)
            return NULL;
        alerts->items = items;
        alerts->capacity = capacity;
    }
    char *id = strdup(entity_id);
    if (!id)
        return NULL;
    struct tracked *t = &alerts->items[alerts->count++];
    *t = (struct tracked){.rule = rule, .entity_id = id};
    return t;
}

/*
 * sync_active - take the stored open alerts as they are: one this node
 * does not track yet (opened by another node, or before a restart) is
 * firing; one it thought firing that is no longer stored open was
 * resolved elsewhere and starts over.
 */
static int sync_active(struct alerts *alerts, const struct alert_page *active)
{
    for (size_t i = 0; i < alerts->count; i++)
        alerts->items[i].stored_seen = false;
    for (size_t i = 0; i < active->count; i++) {
        const struct alert *row = &active->items[i];
        enum alert_rule_id rule;
        if (alert_rule_parse(row->rule, &rule) < 0 || rule == ALERT_DB_UNREACHABLE)
            continue;
        struct tracked *t = find_tracked(alerts, rule, row->entity_id);
        if (!t && !(t = add_tracked(alerts, rule, row->entity_id)))
            return IQ_E_NOMEM;
        if (t->tracker.phase < ALERT_PHASE_FIRING)
            t->tracker = (struct alert_tracker){ALERT_PHASE_FIRING, row->created_at_ms};
        t->stored_id = row->id;
        t->stored_seen = true;
    }
    for (size_t i = 0; i < alerts->count; i++) {
        struct tracked *t = &alerts->items[i];
        if (t->tracker.phase >= ALERT_PHASE_FIRING && !t->stored_seen) {
            t->stored_id = 0;
            t->tracker = (struct alert_tracker){ALERT_PHASE_INACTIVE, 0};
        }
    }
    return 0;
}

/* drop_inactive - forget trackers with nothing pending or stored. */
static void drop_inactive(struct alerts *alerts)
{
    size_t kept = 0;
    for (size_t i = 0; i < alerts->count; i++) {
        struct tracked *t = &alerts->items[i];
        if (t->tracker.phase == ALERT_PHASE_INACTIVE && t->stored_id == 0)
            free(t->entity_id);
        else
            alerts->items[kept++] = *t;
    }
    alerts->count = kept;
}

/* ------------------------------------------------------------------ */
/* A look                                                              */
/* ------------------------------------------------------------------ */

/* open_row - store the alert of t's condition; delivered when this node opened it. */
static int open_row(struct alerts *alerts, struct tracked *t, struct alerts_tick_report *ret,
                    struct iq_error *err)
{
    const struct alert_rule_info *info = alert_rule_info(t->rule);
    const struct alert_condition *c = t->condition;
    struct alert draft = {.rule = (char *)info->name,
                          .severity = (char *)info->severity,
                          .entity = (char *)info->entity,
                          .entity_id = t->entity_id,
                          .message = c->message,
                          .detail = c->detail,
                          .node = alerts->node_id};
    bool opened = false;
    int64_t id = 0;
    int rc = store_alert_open(alerts->store, &draft, &opened, &id, err);
    if (rc < 0 || !opened)
        return rc; /* not opened: another node has it open; the next look takes it over */
    t->stored_id = id;
    struct alert row;
    if (store_alert_get(alerts->store, id, &row, err) == 0) {
        deliver(alerts, "opened", &row);
        alert_clear(&row);
    }
    ret->opened++;
    return 0;
}

/* resolve_row - resolve t's stored alert; delivered when this node resolved it. */
static int resolve_row(struct alerts *alerts, struct tracked *t, struct alerts_tick_report *ret,
                       struct iq_error *err)
{
    int64_t id = t->stored_id;
    t->stored_id = 0;
    if (id <= 0)
        return 0;
    bool resolved = false;
    int rc = store_alert_resolve(alerts->store, id, &resolved, err);
    if (rc < 0 || !resolved)
        return rc;
    struct alert row;
    if (store_alert_get(alerts->store, id, &row, err) == 0) {
        deliver(alerts, "resolved", &row);
        alert_clear(&row);
    }
    ret->resolved++;
    return 0;
}

/* db_alert - the db_unreachable alert of this node as a row (not stored). */
static struct alert db_alert(struct alerts *alerts, enum alert_state state, char *message,
                             int64_t now_ms)
{
    const struct alert_rule_info *info = alert_rule_info(ALERT_DB_UNREACHABLE);
    return (struct alert){.rule = (char *)info->name,
                          .severity = (char *)info->severity,
                          .state = state,
                          .entity = (char *)info->entity,
                          .entity_id = alerts->node_id,
                          .message = message,
                          .node = alerts->node_id,
                          .created_at_ms = alerts->db_alert_since_ms,
                          .resolved_at_ms = state == ALERT_STATE_RESOLVED ? now_ms : 0};
}

/*
 * step_database - the db_unreachable alert: opened in memory (log,
 * webhook) when the database has been out of reach for alert-for, and
 * recorded resolved, with its start, once it has been back as long.
 */
static void step_database(struct alerts *alerts, int64_t now_ms, struct alerts_tick_report *ret)
{
    const struct alert_thresholds *t = &alerts->opts.thresholds;
    enum alert_action action =
        alert_step(&alerts->db_tracker, alerts->db_down, true, t->for_ms, now_ms);
    char message[256];
    if (action == ALERT_ACTION_OPEN) {
        alerts->db_alert_since_ms = alerts->db_down_since_ms;
        snprintf(message, sizeof(message), "node %s cannot reach the database (since %llds ago)",
                 alerts->node_id, (long long)((now_ms - alerts->db_down_since_ms) / 1000));
        struct alert row = db_alert(alerts, ALERT_STATE_OPEN, message, now_ms);
        deliver(alerts, "opened", &row);
        ret->opened++;
    } else if (action == ALERT_ACTION_RESOLVE) {
        snprintf(message, sizeof(message), "node %s could not reach the database for %llds",
                 alerts->node_id, (long long)((now_ms - alerts->db_alert_since_ms) / 1000));
        struct alert row = db_alert(alerts, ALERT_STATE_RESOLVED, message, now_ms);
        bool opened = false;
        struct iq_error err = {0};
        if (store_alert_open(alerts->store, &row, &opened, &row.id, &err) < 0)
            log_event(LOG_WARN, "cannot record the database outage", "error",
                      iq_error_message(&err), NULL);
        deliver(alerts, "resolved", &row);
        ret->resolved++;
    }
}

/* connect_store - the loop's connection, opened when there is none (after the fault hook). */
static int connect_store(struct alerts *alerts, struct iq_error *err)
{
    if (alerts->fault) {
        int rc = alerts->fault(alerts->fault_ctx, err);
        if (rc < 0)
            return rc;
    }
    if (alerts->store)
        return 0;
    struct store_options opts = {.role = STORE_ROLE_DEFAULT, .clock = alerts->clock};
    return store_open(alerts->db_url, &opts, &alerts->store, err);
}

/* step_rules - evaluate the facts and move every tracker. */
static int step_rules(struct alerts *alerts, const struct gathered *g,
                      struct alerts_tick_report *ret, struct iq_error *err)
{
    struct alert_condition_list conditions = {0};
    int rc = alert_rules_evaluate(&g->facts, &alerts->opts.thresholds, &conditions, err);
    if (rc == 0)
        rc = sync_active(alerts, &g->active);
    for (size_t i = 0; i < alerts->count; i++)
        alerts->items[i].condition = NULL;
    for (size_t i = 0; rc == 0 && i < conditions.count; i++) {
        const struct alert_condition *c = &conditions.items[i];
        struct tracked *t = find_tracked(alerts, c->rule, c->entity_id);
        if (!t && !(t = add_tracked(alerts, c->rule, c->entity_id)))
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
        else
            t->condition = c;
    }
    ret->conditions = (int)conditions.count;
    int64_t now_ms = g->facts.now_ms;
    for (size_t i = 0; rc == 0 && i < alerts->count; i++) {
        struct tracked *t = &alerts->items[i];
        enum alert_action action =
            alert_step(&t->tracker, t->condition != NULL, alert_rule_info(t->rule)->level,
                       alerts->opts.thresholds.for_ms, now_ms);
        if (action == ALERT_ACTION_OPEN)
            rc = open_row(alerts, t, ret, err);
        else if (action == ALERT_ACTION_RESOLVE)
            rc = resolve_row(alerts, t, ret, err);
    }
    for (size_t i = 0; i < alerts->count; i++)
        alerts->items[i].condition = NULL;
    alert_condition_list_clear(&conditions);
    if (rc == 0)
        drop_inactive(alerts);
    return rc;
}

/* database_lost - note an outage (its start) and drop the connection. */
static void database_lost(struct alerts *alerts, int64_t now_ms, const struct iq_error *err)
{
    store_close(alerts->store);
    alerts->store = NULL;
    if (alerts->db_down)
        return;
    alerts->db_down = true;
    alerts->db_down_since_ms = now_ms;
    log_event(LOG_WARN, "alerts: database unreachable", "node", alerts->node_id, "error",
              iq_error_message(err), NULL);
}

int alerts_tick(struct alerts *alerts, struct alerts_tick_report *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    int64_t now_ms = iq_clock_now_ms(alerts->clock);
    struct gathered g = {0};
    struct iq_error local = {0};
    int rc = connect_store(alerts, &local);
    if (rc == 0)
        rc = alert_facts_gather(alerts->store, alerts->node_id, &alerts->opts.thresholds, now_ms,
                                &g, &local);
    if (rc == IQ_E_NOMEM) {
        gathered_clear(&g);
        iq_error_clear(&local);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    if (rc < 0)
        database_lost(alerts, now_ms, &local);
    else if (alerts->db_down) {
        alerts->db_down = false;
        log_event(LOG_INFO, "alerts: database reachable again", "node", alerts->node_id, NULL);
    }
    iq_error_clear(&local);
    ret->db_unreachable = alerts->db_down;
    step_database(alerts, now_ms, ret);
    if (alerts->db_down) {
        gathered_clear(&g); /* no facts: every other alert stays as it is */
        return 0;
    }
    rc = step_rules(alerts, &g, ret, &local);
    gathered_clear(&g);
    if (rc == IQ_E_NOMEM) {
        iq_error_clear(&local);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    if (rc < 0)
        database_lost(alerts, now_ms, &local);
    iq_error_clear(&local);
    return 0;
}

/* ------------------------------------------------------------------ */
/* The thread                                                          */
/* ------------------------------------------------------------------ */

static void *alerts_main(void *arg)
{
    struct alerts *alerts = arg;
    int64_t every_ms = alerts->opts.every_ms > 0 ? alerts->opts.every_ms : ALERTS_EVERY_MS_DEFAULT;
    if (every_ms < ALERTS_EVERY_MS_MIN)
        every_ms = ALERTS_EVERY_MS_MIN;
    for (;;) {
        struct alerts_tick_report report;
        struct iq_error err = {0};
        if (alerts_tick(alerts, &report, &err) < 0)
            log_event(LOG_WARN, "alerts: look failed", "error", iq_error_message(&err), NULL);
        iq_error_clear(&err);
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += every_ms / 1000;
        deadline.tv_nsec += (long)(every_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&alerts->lock);
        while (!alerts->quit)
            if (pthread_cond_timedwait(&alerts->cond, &alerts->lock, &deadline) == ETIMEDOUT)
                break;
        bool quit = alerts->quit;
        pthread_mutex_unlock(&alerts->lock);
        if (quit)
            return NULL;
    }
}

int alerts_create(const struct alerts_config *cfg, struct alerts **ret, struct iq_error *err)
{
    *ret = NULL;
    struct alerts *alerts = calloc(1, sizeof(*alerts));
    if (!alerts)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    alerts->db_url = strdup(cfg->db_url ? cfg->db_url : "");
    alerts->node_id = strdup(cfg->node_id ? cfg->node_id : "node");
    alerts->clock = cfg->clock;
    alerts->opts = cfg->options;
    alerts->opts.webhook_url = NULL;
    alerts->fault = cfg->fault;
    alerts->fault_ctx = cfg->fault_ctx;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&alerts->lock, NULL);
    pthread_cond_init(&alerts->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (!alerts->db_url || !alerts->node_id) {
        alerts_free(alerts);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    const char *url = cfg->options.webhook_url;
    if (url && url[0]) {
        struct alert_webhook_options wopts = {.url = url,
                                              .retries = cfg->options.webhook_retries,
                                              .backoff_ms = cfg->options.webhook_backoff_ms};
        int rc = alert_webhook_start(&wopts, &alerts->webhook, err);
        if (rc < 0) {
            alerts_free(alerts);
            return rc;
        }
    }
    *ret = alerts;
    return 0;
}

int alerts_start(struct alerts *alerts, struct iq_error *err)
{
    if (pthread_create(&alerts->thread, NULL, alerts_main, alerts) != 0)
        return iq_error_set(err, IQ_E_INTERNAL, "cannot start the alert thread");
    alerts->started = true;
    return 0;
}

void alerts_webhook_stats(struct alerts *alerts, struct alert_webhook_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (alerts && alerts->webhook)
        *ret = alert_webhook_get_stats(alerts->webhook);
}

void alerts_free(struct alerts *alerts)
{
    if (!alerts)
        return;
    if (alerts->started) {
        pthread_mutex_lock(&alerts->lock);
        alerts->quit = true;
        pthread_cond_broadcast(&alerts->cond);
        pthread_mutex_unlock(&alerts->lock);
        pthread_join(alerts->thread, NULL);
    }
    alert_webhook_stop(alerts->webhook);
    store_close(alerts->store);
    for (size_t i = 0; i < alerts->count; i++)
        free(alerts->items[i].entity_id);
    free(alerts->items);
    pthread_cond_destroy(&alerts->cond);
    pthread_mutex_destroy(&alerts->lock);
    free(alerts->db_url);
    free(alerts->node_id);
    free(alerts);
}
