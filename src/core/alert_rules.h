/*
 * alert_rules.h - the built-in alert rules as pure functions: given what
 * the queue looks like now (struct alert_facts, gathered by the engine's
 * alert loop from the store) and the configured thresholds, which
 * conditions hold (rule, entity, message); and the life of one alert
 * (alert_step: inactive -> pending -> firing -> clearing -> inactive),
 * which keeps an alert from flapping. No I/O, no clock: "now" is a field
 * of the facts, so tests build any situation in a table.
 *
 * Not for: storing alerts (store/alert_ops.h) or delivering them
 * (engine/alerts.c, engine/alert_webhook.c).
 */
#ifndef IMPORTQ_CORE_ALERT_RULES_H
#define IMPORTQ_CORE_ALERT_RULES_H

#include "core/error.h"
#include "core/job.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The built-in rules; their names are the alerts' `rule`. */
// clang-format off
#define ALERT_RULES(X)                                                                             \
    /*  id                  name               severity    entity   level */                       \
    X(JOB_FAILED,         "job_failed",       "critical", "job",   false)                          \
    X(JOB_TIMED_OUT,      "job_timed_out",    "warning",  "job",   false)                          \
    X(JOB_SLOW,           "job_slow",         "warning",  "job",   true)                           \
    X(QUEUE_DEPTH,        "queue_depth",      "warning",  "queue", true)                           \
    X(QUEUE_FULL,         "queue_full",       "critical", "queue", true)                           \
    X(QUEUE_WAIT,         "queue_wait",       "warning",  "queue", true)                           \
    X(LOCK_EXPIRED,       "lock_expired",     "warning",  "lock",  true)                           \
    X(LOCK_WAIT,          "lock_wait",        "warning",  "job",   true)                           \
    X(NODE_LOST,          "node_lost",        "critical", "node",  false)                          \
    X(DB_UNREACHABLE,     "db_unreachable",   "critical", "node",  true)
// clang-format on

enum alert_rule_id {
#define ALERT_RULE_ENUM(id, name, severity, entity, level) ALERT_##id,
    ALERT_RULES(ALERT_RULE_ENUM)
#undef ALERT_RULE_ENUM
        ALERT_RULE_COUNT
};

/* What a rule is: its name, severity, the kind of thing it watches and
 * whether it is a level (a condition that may come and go: it must hold
 * for alert_thresholds.for_ms before it fires and be gone that long
 * before it resolves) or an event (fires and resolves at once). */
struct alert_rule_info {
    const char *name;
    const char *severity; /* "warning" or "critical" */
    const char *entity;   /* "job", "queue", "lock", "node" */
    bool level;
};

/* alert_rule_info - the rule's description; NULL for an id out of range. */
const struct alert_rule_info *alert_rule_info(enum alert_rule_id id);

/* alert_rule_parse - the id of a rule name; IQ_E_INVALID for an unknown one. */
int alert_rule_parse(const char *name, enum alert_rule_id *ret_id);

/* The states of a stored alert. */
enum alert_state { ALERT_STATE_OPEN, ALERT_STATE_ACKED, ALERT_STATE_RESOLVED, ALERT_STATE_COUNT };

const char *alert_state_name(enum alert_state state);
int alert_state_parse(const char *text, enum alert_state *ret_state);

/* The thresholds (settings alert-*; docs/api.md "Alerts"). 0 turns a
 * rule with a threshold off. */
struct alert_thresholds {
    int64_t for_ms;          /* a level holds (is gone) this long to fire (resolve) */
    int64_t event_window_ms; /* failed/timed-out jobs, lost nodes this recent */
    int slow_factor;         /* job_slow: running longer than factor x its table's p50 */
    int64_t slow_min_ms;     /* ... and longer than this */
    int64_t queue_depth;     /* queue_depth: QUEUED + HELD above this */
    int queue_full_percent;  /* queue_full: QUEUED + HELD at this % of max_queue_size */
    int64_t max_queue_size;  /* the queue's capacity (0: no limit, no queue_full) */
    int64_t queue_wait_ms;   /* queue_wait: a runnable job waiting longer */
    int64_t lock_wait_ms;    /* lock_wait: a runnable job blocked by a lock longer */
};

/* A job whose last attempt ended with an error (FAILED for good, or
 * QUEUED again for a retry). Strings borrowed. */
struct alert_ended_job {
    const char *id;
    const char *name;
    const char *table;
    enum job_status status;
    const char *error_code;    /* "timeout", "validation", ... */
    const char *error_message; /* may be NULL */
    int attempt;
    int max_attempts;
    int64_t finished_at_ms;
};

/* A RUNNING job and its table's typical duration. */
struct alert_running_job {
    const char *id;
    const char *name;
    const char *table;
    int64_t started_at_ms;
    int64_t table_p50_ms; /* 0: no history */
};

/* A lock row whose lease has passed (nobody renewed it). */
struct alert_expired_lock {
    const char *id;
    const char *name;
    const char *job_id;
    int64_t expires_at_ms;
};

/* A runnable QUEUED job that a lock held by another job keeps waiting. */
struct alert_lock_wait {
    const char *job_id;
    const char *job_name;
    const char *resource;      /* the lock's name */
    const char *holder_job_id; /* the job that holds it */
    int64_t waiting_since_ms;  /* when the job became runnable */
};

/* A node of the registry. */
struct alert_node {
    const char *id;
    const char *host;
    const char *status; /* "alive", "dead", "stopped" */
    int64_t heartbeat_at_ms;
};

/* Everything the rules look at, as of now_ms. Arrays borrowed. */
struct alert_facts {
    int64_t now_ms;
    int64_t queue_depth;              /* QUEUED + HELD */
    int64_t oldest_runnable_since_ms; /* earliest available_at of a runnable job; 0: none */
    const struct alert_ended_job *ended;
    size_t ended_count;
    const struct alert_running_job *running;
    size_t running_count;
    const struct alert_expired_lock *expired_locks;
    size_t expired_lock_count;
    const struct alert_lock_wait *lock_waits;
    size_t lock_wait_count;
    const struct alert_node *nodes;
    size_t node_count;
    bool db_unreachable; /* this node cannot reach the database */
    int64_t db_down_since_ms;
    const char *node_id; /* this node (db_unreachable's entity) */
};

/* One condition that holds now. Owned strings (alert_condition_list_clear). */
struct alert_condition {
    enum alert_rule_id rule;
    char *entity_id; /* job id, lock id, node id, or "queue" */
    char *message;   /* one line for people */
    char *detail;    /* JSON object text: the figures behind it */
};

struct alert_condition_list {
    struct alert_condition *items;
    size_t count;
    size_t capacity;
};

void alert_condition_list_clear(struct alert_condition_list *list);

/*
 * alert_rules_evaluate - every condition of every rule that holds for
 * facts under t, appended to *ret (rule order, then fact order; at most
 * one per rule and entity). Returns 0 or IQ_E_NOMEM (ret keeps what was
 * added; clear it either way).
 */
int alert_rules_evaluate(const struct alert_facts *facts, const struct alert_thresholds *t,
                         struct alert_condition_list *ret, struct iq_error *err);

/* The life of one alert, kept per rule and entity by whoever evaluates. */
enum alert_phase {
    ALERT_PHASE_INACTIVE, /* the condition does not hold; nothing stored */
    ALERT_PHASE_PENDING,  /* it holds, not yet for for_ms */
    ALERT_PHASE_FIRING,   /* stored open (or acked) */
    ALERT_PHASE_CLEARING, /* stored open, the condition gone, not yet for for_ms */
};

struct alert_tracker {
    enum alert_phase phase;
    int64_t since_ms; /* when PENDING or CLEARING began */
};

enum alert_action { ALERT_ACTION_NONE, ALERT_ACTION_OPEN, ALERT_ACTION_RESOLVE };

/*
 * alert_step - move *tracker by whether its condition holds at now_ms.
 * A level condition must hold for for_ms before the alert opens and be
 * gone for for_ms before it resolves (a condition that comes back while
 * clearing keeps the alert open: no flapping); an event (level false) or
 * for_ms 0 opens and resolves at once. Returns what to do with the
 * stored alert.
 */
enum alert_action alert_step(struct alert_tracker *tracker, bool holds, bool level, int64_t for_ms,
                             int64_t now_ms);

#endif
