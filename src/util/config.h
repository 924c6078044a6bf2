/*
 * config.h - importq's settings and where they come from. Each setting has
 * one row in CONFIG_OPTIONS: its flag (--max-concurrent), its environment
 * variable (IMPORTQ_MAX_CONCURRENT), its INI key (max_concurrent, in the
 * [importq] section or before any section), its type and default.
 * Precedence: flag > environment > file > default.
 */
#ifndef IMPORTQ_UTIL_CONFIG_H
#define IMPORTQ_UTIL_CONFIG_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum config_type {
    CONFIG_STRING,
    CONFIG_INT,       /* non-negative integer */
    CONFIG_DURATION,  /* "90s", "5min", "1h30m", "250ms", or bare seconds; kept in ms */
    CONFIG_SIZE,      /* "1MiB", "512k", "10MB", or bare bytes */
    CONFIG_BOOL       /* true/false/yes/no/on/off/1/0 */
};

/*      field               flag/key            type             default                 help */
#define CONFIG_OPTIONS(X)                                                                     \
    X(db,               "db",               STRING,   "sqlite:var/importq.db", "database URL: sqlite:PATH or postgres://user:pass@host:port/db") \
    X(listen,           "listen",           STRING,   "127.0.0.1:8080",        "HOST:PORT the API and GUI listen on") \
    X(import_root,      "import-root",      STRING,   "./imports",             "directory every source.path is relative to") \
    X(max_concurrent,   "max-concurrent",   INT,      "3",                     "jobs RUNNING at once across all nodes") \
    X(workers,          "workers",          INT,      "0",                     "worker threads on this node (0: max-concurrent)") \
    X(job_timeout,      "job-timeout",      DURATION, "30min",                 "default timeout of a job") \
    X(lock_lease,       "lock-lease",       DURATION, "5min",                  "lease of a resource lock, renewed by heartbeat") \
    X(max_queue_size,   "max-queue-size",   INT,      "1000",                  "jobs QUEUED or HELD at most (0: no limit)") \
    X(max_schedules,    "max-schedules",    INT,      "10000",                 "scheduled imports a database holds at most (0: no limit)") \
    X(max_attempts,     "max-attempts",     INT,      "3",                     "default attempts per job") \
    X(retry_base,       "retry-base",       DURATION, "10s",                   "first retry backoff (doubles each attempt, with jitter)") \
    X(retry_cap,        "retry-cap",        DURATION, "10min",                 "longest retry backoff") \
    X(max_body,         "max-body",         SIZE,     "1MiB",                  "largest JSON request body") \
    X(max_upload,       "max-upload",       SIZE,     "1GiB",                  "largest upload") \
    X(spool_dir,        "spool-dir",        STRING,   "var/uploads",           "where uploads are kept") \
    X(upload_retention, "upload-retention", DURATION, "24h",                   "unused or finished uploads are deleted after this") \
    X(lock_history_retention, "lock-history-retention", DURATION, "168h",      "released locks are kept this long for resource analytics (importq_lock_history)") \
    X(priority_aging,   "priority-aging",   DURATION, "0",                     "a queued job climbs one priority step per this much waiting (0: off)") \
    X(schedule_grace,   "schedule-grace",   DURATION, "60s",                   "a scheduled fire this late still fires as on time; later it is a misfire") \
    X(http_threads,     "http-threads",     INT,      "0",                     "HTTP worker threads (0: two per core)") \
    X(max_connections,  "max-connections",  INT,      "1000",                  "HTTP connections open at once; more are closed as they arrive") \
    X(max_connections_per_ip, "max-connections-per-ip", INT, "100",            "HTTP connections open at once from one client address (0: no limit)") \
    X(events_max_streams, "events-max-streams", INT, "64",                     "GET /api/v2/events streams open at once on this node; more get 503 (0: none)") \
    X(events_heartbeat, "events-heartbeat", DURATION, "15s",                   "a comment line on every open GET /api/v2/events stream this often, so proxies keep a quiet stream open (100ms to 1h)") \
    X(header_timeout,   "header-timeout",   DURATION, "10s",                   "a request's line and headers must arrive within this (also the longest idle keep-alive)") \
    X(body_timeout,     "body-timeout",     DURATION, "10min",                 "a request's body must arrive within this after its headers") \
    X(tls_cert,         "tls-cert",         STRING,   "",                      "PEM certificate: serve HTTPS (with tls-key)") \
    X(tls_key,          "tls-key",          STRING,   "",                      "PEM private key of tls-cert") \
    X(server,           "server",           STRING,   "http://127.0.0.1:8080", "client commands: the importq server's URL") \
    X(token,            "token",            STRING,   "",                      "client commands: the API token (IMPORTQ_TOKEN)") \
    X(log_level,        "log-level",        STRING,   "info",                  "debug, info, warn, error or off") \
    X(target_schemas,   "target-schemas",   STRING,   "",                      "PostgreSQL schemas import targets resolve in, a comma list (empty: the connection's first search_path schema)") \
    X(metrics_auth,     "metrics-auth",     STRING,   "viewer",                "who may read GET /metrics: viewer (a token of any role) or none (no token)") \
    X(alerts,           "alerts",           BOOL,     "true",                  "evaluate the alert rules on this node") \
    X(alert_every,      "alert-every",      DURATION, "5s",                    "how often the alert rules are evaluated") \
    X(alert_for,        "alert-for",        DURATION, "30s",                   "a level alert (queue, locks, slow job, database) opens after its condition held this long and resolves after it was gone as long (0: at once)") \
    X(alert_event_window, "alert-event-window", DURATION, "1h",                "failed and timed-out jobs and lost nodes this recent raise alerts; their alerts resolve after it (0: a day)") \
    X(alert_slow_factor, "alert-slow-factor", INT,    "3",                     "job_slow: a job running longer than this many times its table's median (0: off)") \
    X(alert_slow_min,   "alert-slow-min",   DURATION, "10s",                   "job_slow: ... and longer than this") \
    X(alert_queue_depth, "alert-queue-depth", INT,    "500",                   "queue_depth: more QUEUED and HELD jobs than this (0: off)") \
    X(alert_queue_full, "alert-queue-full", INT,      "90",                    "queue_full: QUEUED and HELD jobs at this percent of max-queue-size (0: off)") \
    X(alert_queue_wait, "alert-queue-wait", DURATION, "15min",                 "queue_wait: the oldest runnable job waiting longer than this (0: off)") \
    X(alert_lock_wait,  "alert-lock-wait",  DURATION, "5min",                  "lock_wait: a runnable job kept waiting by a held lock longer than this (0: off)") \
    X(alert_webhook,    "alert-webhook",    STRING,   "",                      "URL each alert change is POSTed to as JSON (empty: none)") \
    X(alert_webhook_retries, "alert-webhook-retries", INT, "5",                "further tries of a failed webhook POST (0: none)") \
    X(alert_webhook_backoff, "alert-webhook-backoff", DURATION, "1s",          "delay before the first webhook retry, doubling each time (at most 5 min)") \
    X(health_interval,  "health-interval",  DURATION, "10s",                   "a health sample (queue, running, locks, throughput) this often, one per interval cluster-wide; whole seconds, 1s to 1h (0: off)") \
    X(health_retention, "health-retention", DURATION, "24h",                   "health samples are kept this long, then rolled up into 5-minute rows (up to 7d)") \
    X(health_rollup_retention, "health-rollup-retention", DURATION, "30d",     "5-minute health rollups are kept this long (at least health-retention, up to 400d)") \
    X(performance_retention, "performance-retention", DURATION, "30d",         "performance records (stg_import_performance) are kept this long, by attempt") \
    X(alert_retention,  "alert-retention",  DURATION, "30d",                   "resolved alerts are kept this long after they resolved (open and acknowledged ones stay)")

/* The C type that holds each kind of option. */
#define CONFIG_CTYPE_STRING char *
#define CONFIG_CTYPE_INT int64_t
#define CONFIG_CTYPE_DURATION int64_t /* milliseconds */
#define CONFIG_CTYPE_SIZE int64_t     /* bytes */
#define CONFIG_CTYPE_BOOL bool

/* A named target database: [target.NAME] url = ... (or IMPORTQ_TARGET_<NAME>). */
struct config_target {
    char *name;
    char *url;
};

#define CONFIG_MAX_TARGETS 64

/* The settings, typed. Strings are owned (config_clear frees them). */
struct config {
#define CONFIG_STRUCT_FIELD(field, key, type, def, help) CONFIG_CTYPE_##type field;
    CONFIG_OPTIONS(CONFIG_STRUCT_FIELD)
#undef CONFIG_STRUCT_FIELD
    struct config_target *targets;
    size_t target_count;
};

/* One option's metadata, for --help and for generic setters. */
struct config_option {
    const char *key;        /* "max-concurrent" */
    enum config_type type;
    const char *default_value;
    const char *help;
};

/* The option table, in CONFIG_OPTIONS order, terminated by {NULL}. */
extern const struct config_option config_options[];

/* config_init - every field at its default. Returns 0 or IQ_E_NOMEM. */
int config_init(struct config *cfg);

/* config_clear - free owned strings (NULL-safe). */
void config_clear(struct config *cfg);

/*
 * config_set - set option key ("max-concurrent", "max_concurrent" or
 * "MAX_CONCURRENT" all match) from text, parsed per its type. origin names
 * where it came from for the error ("--max-concurrent", "IMPORTQ_...",
 * "importq.ini:12"). Returns 0, IQ_E_NOT_FOUND for an unknown key,
 * IQ_E_INVALID for a bad value.
 */
int config_set(struct config *cfg, const char *key, const char *value, const char *origin,
               struct iq_error *err);

/*
 * config_load_file - apply an INI file: keys in [importq] or before any
 * section; [target.NAME] sections name target databases (key `url`, a
 * database URL; NAME an identifier). Unknown keys and sections are
 * errors. Returns 0, IQ_E_IO (unreadable), IQ_E_INVALID (syntax or value,
 * with file:line).
 */
int config_load_file(struct config *cfg, const char *path, struct iq_error *err);

/*
 * config_load_env - apply every IMPORTQ_<KEY> variable that getenv_fn
 * returns (getenv in production, a table in tests). Named targets come
 * from the environment too: IMPORTQ_TARGET_<NAME>=URL for every name in
 * envp (NULL: none), with NAME lower-cased.
 */
int config_load_env(struct config *cfg, const char *(*getenv_fn)(const char *name),
                    char *const *envp, struct iq_error *err);

/*
 * config_set_target - add or replace named target database name -> url.
 * Returns 0, IQ_E_INVALID (name not an identifier, too many targets) or
 * IQ_E_NOMEM.
 */
int config_set_target(struct config *cfg, const char *name, const char *url, struct iq_error *err);

/* config_target_url - the URL of target database name, or NULL. */
const char *config_target_url(const struct config *cfg, const char *name);

/* Parsers behind the types, exposed for tests. 0 or IQ_E_INVALID. */
int config_parse_int(const char *text, int64_t *ret_value);
int config_parse_duration_ms(const char *text, int64_t *ret_ms);
int config_parse_size(const char *text, int64_t *ret_bytes);
int config_parse_bool(const char *text, bool *ret_value);

/* config_env_name - "IMPORTQ_MAX_CONCURRENT" for "max-concurrent" into buf. */
void config_env_name(const char *key, char *buf, size_t size);

#endif
