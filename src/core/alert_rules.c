/*
 * alert_rules.c - the built-in alert rules (alert_rules.h): one function
 * per rule over struct alert_facts, run from one table, and the state
 * machine that opens and resolves an alert without flapping. Pure: no
 * I/O, no clock, no allocation beyond the conditions it returns.
 */
#include "core/alert_rules.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct alert_rule_info rule_infos[ALERT_RULE_COUNT] = {
#define ALERT_RULE_INFO(id, name, severity, entity, level) {name, severity, entity, level},
    ALERT_RULES(ALERT_RULE_INFO)
#undef ALERT_RULE_INFO
};

const struct alert_rule_info *alert_rule_info(enum alert_rule_id id)
{
    if ((int)id < 0 || id >= ALERT_RULE_COUNT)
        return NULL;
    return &rule_infos[id];
}

int alert_rule_parse(const char *name, enum alert_rule_id *ret_id)
{
    for (int i = 0; i < ALERT_RULE_COUNT; i++)
        if (name && strcmp(name, rule_infos[i].name) == 0) {
            *ret_id = (enum alert_rule_id)i;
            return 0;
        }
    return IQ_E_INVALID;
}

static const char *const state_names[ALERT_STATE_COUNT] = {"open", "acked", "resolved"};

const char *alert_state_name(enum alert_state state)
{
    if ((int)state < 0 || state >= ALERT_STATE_COUNT)
        return "unknown";
    return state_names[state];
}

int alert_state_parse(const char *text, enum alert_state *ret_state)
{
    for (int i = 0; i < ALERT_STATE_COUNT; i++)
        if (text && strcmp(text, state_names[i]) == 0) {
            *ret_state = (enum alert_state)i;
            return 0;
        }
    return IQ_E_INVALID;
}

void alert_condition_list_clear(struct alert_condition_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].entity_id);
        free(list->items[i].message);
        free(list->items[i].detail);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}

/* What a rule function appends to; the first failure sticks. */
struct emitter {
    struct alert_condition_list *list;
    enum alert_rule_id rule;
    int rc;
};

/*
 * emit - append a condition of the emitter's rule for entity_id, the
 * message printf-made, detail a JSON object (stolen; may be NULL).
 */
static void emit(struct emitter *e, const char *entity_id, json_t *detail, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void emit(struct emitter *e, const char *entity_id, json_t *detail, const char *fmt, ...)
{
    struct alert_condition_list *list = e->list;
    for (size_t i = 0; e->rc == 0 && i < list->count; i++)
        if (list->items[i].rule == e->rule && strcmp(list->items[i].entity_id, entity_id) == 0) {
            json_decref(detail);
            return; /* once per rule and entity */
        }
    if (e->rc == 0 && list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 16;
        struct alert_condition *items = realloc(list->items, capacity * sizeof(*items));
        if (!items)
            e->rc = IQ_E_NOMEM;
        else {
            list->items = items;
            list->capacity = capacity;
        }
    }
    char *message = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&message, fmt, ap);
    va_end(ap);
    char *detail_text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(detail);
    char *id = strdup(entity_id);
    if (e->rc < 0 || n < 0 || !id || (detail && !detail_text)) {
        if (e->rc == 0)
            e->rc = IQ_E_NOMEM;
        free(n < 0 ? NULL : message);
        free(detail_text);
        free(id);
        return;
    }
    list->items[list->count++] = (struct alert_condition){e->rule, id, message, detail_text};
}

/* seconds - ms as whole seconds, for messages. */
static long long seconds(int64_t ms)
{
    return (long long)(ms / 1000);
}

static bool recent(const struct alert_facts *f, const struct alert_thresholds *t, int64_t at_ms)
{
    return t->event_window_ms <= 0 || at_ms >= f->now_ms - t->event_window_ms;
}

static void rule_job_failed(const struct alert_facts *f, const struct alert_thresholds *t,
                            struct emitter *e)
{
    for (size_t i = 0; i < f->ended_count; i++) {
        const struct alert_ended_job *job = &f->ended[i];
        if (job->status != JOB_FAILED || !recent(f, t, job->finished_at_ms) ||
            (job->error_code && strcmp(job->error_code, "dependency_failed") == 0))
            continue;
        emit(e, job->id,
             json_pack("{s:s, s:s, s:s?, s:s?, s:i, s:i}", "table", job->table, "name", job->name,
                       "error_code", job->error_code, "error_message", job->error_message,
                       "attempt", job->attempt, "max_attempts", job->max_attempts),
             "job %s (%s) failed after attempt %d of %d: %s", job->id, job->table, job->attempt,
             job->max_attempts, job->error_message ? job->error_message : "unknown error");
    }
}

static void rule_job_timed_out(const struct alert_facts *f, const struct alert_thresholds *t,
                               struct emitter *e)
{
    for (size_t i = 0; i < f->ended_count; i++) {
        const struct alert_ended_job *job = &f->ended[i];
        if (!job->error_code || strcmp(job->error_code, "timeout") != 0 ||
            !recent(f, t, job->finished_at_ms))
            continue;
        emit(e, job->id,
             json_pack("{s:s, s:s, s:i, s:i, s:s}", "table", job->table, "name", job->name,
                       "attempt", job->attempt, "max_attempts", job->max_attempts, "status",
                       job_status_name(job->status)),
             "job %s (%s) timed out in attempt %d of %d", job->id, job->table, job->attempt,
             job->max_attempts);
    }
}

static void rule_job_slow(const struct alert_facts *f, const struct alert_thresholds *t,
                          struct emitter *e)
{
    if (t->slow_factor <= 0)
        return;
    for (size_t i = 0; i < f->running_count; i++) {
        const struct alert_running_job *job = &f->running[i];
        int64_t elapsed_ms = f->now_ms - job->started_at_ms;
        if (job->table_p50_ms <= 0 || elapsed_ms < t->slow_min_ms ||
            elapsed_ms <= job->table_p50_ms * t->slow_factor)
            continue;
        emit(e, job->id,
             json_pack("{s:s, s:s, s:I, s:I, s:i}", "table", job->table, "name", job->name,
                       "running_ms", (json_int_t)elapsed_ms, "table_p50_ms",
                       (json_int_t)job->table_p50_ms, "factor", t->slow_factor),
             "job %s (%s) has run %llds, more than %dx its table's median of %lldms", job->id,
             job->table, seconds(elapsed_ms), t->slow_factor, (long long)job->table_p50_ms);
    }
}

static void rule_queue_depth(const struct alert_facts *f, const struct alert_thresholds *t,
                             struct emitter *e)
{
    if (t->queue_depth <= 0 || f->queue_depth <= t->queue_depth)
        return;
    emit(e, "queue",
         json_pack("{s:I, s:I}", "queue_depth", (json_int_t)f->queue_depth, "threshold",
                   (json_int_t)t->queue_depth),
         "%lld jobs are queued or held, more than %lld", (long long)f->queue_depth,
         (long long)t->queue_depth);
}

static void rule_queue_full(const struct alert_facts *f, const struct alert_thresholds *t,
                            struct emitter *e)
{
    if (t->max_queue_size <= 0 || t->queue_full_percent <= 0 ||
        f->queue_depth * 100 < t->max_queue_size * t->queue_full_percent)
        return;
    emit(e, "queue",
         json_pack("{s:I, s:I, s:i}", "queue_depth", (json_int_t)f->queue_depth, "max_queue_size",
                   (json_int_t)t->max_queue_size, "percent", t->queue_full_percent),
         "the queue is nearly full: %lld of %lld places taken", (long long)f->queue_depth,
         (long long)t->max_queue_size);
}

static void rule_queue_wait(const struct alert_facts *f, const struct alert_thresholds *t,
                            struct emitter *e)
{
    if (t->queue_wait_ms <= 0 || f->oldest_runnable_since_ms <= 0)
        return;
    int64_t waited_ms = f->now_ms - f->oldest_runnable_since_ms;
    if (waited_ms <= t->queue_wait_ms)
        return;
    emit(e, "queue",
         json_pack("{s:I, s:I}", "oldest_wait_ms", (json_int_t)waited_ms, "threshold_ms",
                   (json_int_t)t->queue_wait_ms),
         "the oldest runnable job has waited %llds, more than %llds", seconds(waited_ms),
         seconds(t->queue_wait_ms));
}

static void rule_lock_expired(const struct alert_facts *f, const struct alert_thresholds *t,
                              struct emitter *e)
{
    (void)t;
    for (size_t i = 0; i < f->expired_lock_count; i++) {
        const struct alert_expired_lock *lock = &f->expired_locks[i];
        if (lock->expires_at_ms >= f->now_ms)
            continue;
        emit(e, lock->id,
             json_pack("{s:s, s:s, s:I}", "resource", lock->name, "job_id", lock->job_id,
                       "expired_ms", (json_int_t)(f->now_ms - lock->expires_at_ms)),
             "lock %s on %s is held by job %s %llds past its lease", lock->id, lock->name,
             lock->job_id, seconds(f->now_ms - lock->expires_at_ms));
    }
}

static void rule_lock_wait(const struct alert_facts *f, const struct alert_thresholds *t,
                           struct emitter *e)
{
    if (t->lock_wait_ms <= 0)
        return;
    for (size_t i = 0; i < f->lock_wait_count; i++) {
        const struct alert_lock_wait *wait = &f->lock_waits[i];
        int64_t waited_ms = f->now_ms - wait->waiting_since_ms;
        if (waited_ms <= t->lock_wait_ms)
            continue;
        emit(e, wait->job_id,
             json_pack("{s:s, s:s, s:I, s:s}", "resource", wait->resource, "holder_job_id",
                       wait->holder_job_id, "waiting_ms", (json_int_t)waited_ms, "name",
                       wait->job_name),
             "job %s has waited %llds for %s, held by job %s", wait->job_id, seconds(waited_ms),
             wait->resource, wait->holder_job_id);
    }
}

static void rule_node_lost(const struct alert_facts *f, const struct alert_thresholds *t,
                           struct emitter *e)
{
    for (size_t i = 0; i < f->node_count; i++) {
        const struct alert_node *node = &f->nodes[i];
        if (strcmp(node->status, "dead") != 0 || !recent(f, t, node->heartbeat_at_ms))
            continue;
        emit(e, node->id,
             json_pack("{s:s, s:I}", "host", node->host ? node->host : "", "silent_ms",
                       (json_int_t)(f->now_ms - node->heartbeat_at_ms)),
             "node %s on %s was lost: no heartbeat for %llds", node->id,
             node->host ? node->host : "?", seconds(f->now_ms - node->heartbeat_at_ms));
    }
}

static void rule_db_unreachable(const struct alert_facts *f, const struct alert_thresholds *t,
                                struct emitter *e)
{
    (void)t;
    if (!f->db_unreachable || !f->node_id)
        return;
    emit(e, f->node_id,
         json_pack("{s:I}", "down_ms", (json_int_t)(f->now_ms - f->db_down_since_ms)),
         "node %s cannot reach the database (for %llds)", f->node_id,
         seconds(f->now_ms - f->db_down_since_ms));
}

typedef void (*rule_fn)(const struct alert_facts *f, const struct alert_thresholds *t,
                        struct emitter *e);

/* One function per rule, in enum order. */
static const rule_fn rule_fns[ALERT_RULE_COUNT] = {
    [ALERT_JOB_FAILED] = rule_job_failed,     [ALERT_JOB_TIMED_OUT] = rule_job_timed_out,
    [ALERT_JOB_SLOW] = rule_job_slow,         [ALERT_QUEUE_DEPTH] = rule_queue_depth,
    [ALERT_QUEUE_FULL] = rule_queue_full,     [ALERT_QUEUE_WAIT] = rule_queue_wait,
    [ALERT_LOCK_EXPIRED] = rule_lock_expired, [ALERT_LOCK_WAIT] = rule_lock_wait,
    [ALERT_NODE_LOST] = rule_node_lost,       [ALERT_DB_UNREACHABLE] = rule_db_unreachable,
};

int alert_rules_evaluate(const struct alert_facts *facts, const struct alert_thresholds *t,
                         struct alert_condition_list *ret, struct iq_error *err)
{
    for (int i = 0; i < ALERT_RULE_COUNT; i++) {
        struct emitter e = {ret, (enum alert_rule_id)i, 0};
        rule_fns[i](facts, t, &e);
        if (e.rc < 0)
            return iq_error_set(err, e.rc, "out of memory evaluating alert rules");
    }
    return 0;
}

enum alert_action alert_step(struct alert_tracker *tracker, bool holds, bool level, int64_t for_ms,
                             int64_t now_ms)
{
    bool wait = level && for_ms > 0;
    switch (tracker->phase) {
    case ALERT_PHASE_INACTIVE:
        if (!holds)
            return ALERT_ACTION_NONE;
        if (wait) {
            *tracker = (struct alert_tracker){ALERT_PHASE_PENDING, now_ms};
            return ALERT_ACTION_NONE;
        }
        *tracker = (struct alert_tracker){ALERT_PHASE_FIRING, now_ms};
        return ALERT_ACTION_OPEN;
    case ALERT_PHASE_PENDING:
        if (!holds) {
            *tracker = (struct alert_tracker){ALERT_PHASE_INACTIVE, now_ms};
            return ALERT_ACTION_NONE;
        }
        if (now_ms - tracker->since_ms < for_ms)
            return ALERT_ACTION_NONE;
        *tracker = (struct alert_tracker){ALERT_PHASE_FIRING, now_ms};
        return ALERT_ACTION_OPEN;
    case ALERT_PHASE_FIRING:
        if (holds)
            return ALERT_ACTION_NONE;
        if (wait) {
            *tracker = (struct alert_tracker){ALERT_PHASE_CLEARING, now_ms};
            return ALERT_ACTION_NONE;
        }
        *tracker = (struct alert_tracker){ALERT_PHASE_INACTIVE, now_ms};
        return ALERT_ACTION_RESOLVE;
    case ALERT_PHASE_CLEARING:
        if (holds) {
            *tracker = (struct alert_tracker){ALERT_PHASE_FIRING, tracker->since_ms};
            return ALERT_ACTION_NONE;
        }
        if (now_ms - tracker->since_ms < for_ms)
            return ALERT_ACTION_NONE;
        *tracker = (struct alert_tracker){ALERT_PHASE_INACTIVE, now_ms};
        return ALERT_ACTION_RESOLVE;
    }
    return ALERT_ACTION_NONE;
}
