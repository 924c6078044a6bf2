/*
 * cmd_serve.c - `importq serve`: migrate the database, start the engine
 * (worker threads that run queued jobs), wait for SIGTERM or SIGINT, and
 * stop cleanly: running jobs get the grace period to finish, then they are
 * cancelled and re-queued for another node.
 *
 * Signals: SIGTERM and SIGINT are blocked before any thread starts (every
 * thread inherits the mask) and taken synchronously with sigwait here, so
 * no work ever runs in a signal handler.
 *
 * The HTTP API (src/api) starts after the engine, so a submission can wake
 * a worker at once, and stops before it, so no request arrives at a
 * stopped engine.
 *
 * The node's one metrics registry (core/metrics.h) is made here and
 * handed to both: the engine counts jobs into it, the API counts requests
 * and serves it at GET /metrics. It is freed after both have stopped.
 */
#include "cli/cli.h"

#include "api/api.h"
#include "core/metrics.h"
#include "engine/engine.h"
#include "store/store.h"
#include "util/log.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SERVE_DEFAULT_GRACE "30s"

const struct cli_flag cmd_serve_flags[] = {
    {"shutdown-grace", true,
     "after SIGTERM/SIGINT, how long running jobs may finish before they are cancelled and "
     "re-queued (default " SERVE_DEFAULT_GRACE ")"},
    {NULL, false, NULL},
};

/*
 * Migrates the service database and warns when its role is a superuser;
 * logs and returns 1 on failure.
 */
static int migrate(const struct config *cfg, const char *backend)
{
    struct iq_error err = {0};
    struct store *store = NULL;
    int applied = 0, version = 0;
    bool superuser = false;
    int rc = cli_store_open(cfg->db, NULL, &store, &err);
    if (rc == 0)
        rc = store_migrate(store, &applied, &err);
    if (rc == 0)
        rc = store_schema_version(store, &version, &err);
    if (rc == 0)
        rc = store_role_is_superuser(store, &superuser, &err);
    store_close(store);
    if (rc < 0) {
        log_event(LOG_ERROR, "cannot migrate the database", "backend", backend, "error",
                  iq_error_message(&err), NULL);
        iq_error_clear(&err);
        return 1;
    }
    char applied_text[16], version_text[16];
    snprintf(applied_text, sizeof(applied_text), "%d", applied);
    snprintf(version_text, sizeof(version_text), "%d", version);
    log_event(LOG_INFO, "database ready", "backend", backend, "applied", applied_text,
              "schema_version", version_text, NULL);
    if (superuser)
        log_event(LOG_WARN,
                  "the database role is a superuser: no grant keeps jobs off any table; run"
                  " serve as a role that owns only the service's tables (docs/deploy.md)",
                  "backend", backend, NULL);
    return 0;
}

/* Logs the node's start (the URL is not logged: it may hold a password). */
static void log_started(const struct engine *engine, const struct config *cfg,
                        const char *backend)
{
    char workers[16], max_concurrent[24], pid[16];
    snprintf(workers, sizeof(workers), "%d", engine_worker_count(engine));
    snprintf(max_concurrent, sizeof(max_concurrent), "%lld", (long long)cfg->max_concurrent);
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    log_event(LOG_INFO, "node started", "node", engine_node_id(engine), "pid", pid, "backend",
              backend, "workers", workers, "max_concurrent", max_concurrent, "import_root",
              cfg->import_root, NULL);
    struct stat st;
    if (stat(cfg->import_root, &st) != 0 || !S_ISDIR(st.st_mode))
        log_event(LOG_WARN, "the import root is not a directory: jobs reading files will fail",
                  "import_root", cfg->import_root, NULL);
}

int cmd_serve(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    if (args->positional_count > 0) {
        fprintf(stderr, "importq %s: unexpected argument %s\n", cmd->name, args->positional[0]);
        return EXIT_USAGE;
    }
    const char *grace_text = cli_flag_value(cmd, args, "shutdown-grace");
    int64_t grace_ms = 0;
    if (config_parse_duration_ms(grace_text ? grace_text : SERVE_DEFAULT_GRACE, &grace_ms) < 0) {
        fprintf(stderr, "importq %s: --shutdown-grace: not a duration: %s\n", cmd->name,
                grace_text);
        return EXIT_USAGE;
    }
    const char *backend = store_backend_name(cfg->db);
    if (!backend) {
        fprintf(stderr, "importq %s: unsupported database URL: use sqlite:PATH or postgres://...\n",
                cmd->name);
        return EXIT_USAGE;
    }

    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    if (migrate(cfg, backend) != 0)
        return 1;
    struct iq_error err = {0};
    struct metrics *metrics = NULL;
    if (metrics_new(&metrics, &err) < 0) {
        log_event(LOG_ERROR, "cannot start", "error", iq_error_message(&err), NULL);
        iq_error_clear(&err);
        return 1;
    }
    struct engine_options opts;
    engine_options_from_config(cfg, &opts);
    opts.version = args->version;
    opts.metrics = metrics;
    struct engine *engine = NULL;
    if (engine_start(&opts, &engine, &err) < 0) {
        log_event(LOG_ERROR, "cannot start the engine", "error", iq_error_message(&err), NULL);
        iq_error_clear(&err);
        metrics_free(metrics);
        return 1;
    }
    log_started(engine, cfg, backend);

    struct api_options api_opts = {
        .config = cfg, .engine = engine, .version = args->version, .metrics = metrics};
    struct api *api = NULL;
    if (api_start(&api_opts, &api, &err) < 0) {
        log_event(LOG_ERROR, "cannot start the HTTP API", "listen", cfg->listen, "error",
                  iq_error_message(&err), NULL);
        iq_error_clear(&err);
        engine_stop(engine, 0);
        metrics_free(metrics);
        return 1;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", api_port(api));
    log_event(LOG_INFO, "serving the API", "listen", cfg->listen, "port", port, "tls",
              cfg->tls_cert && *cfg->tls_cert ? "on" : "off", NULL);

    int signal_number = 0;
    while (sigwait(&stop_signals, &signal_number) != 0)
        ;
    char grace[24];
    snprintf(grace, sizeof(grace), "%lld", (long long)grace_ms);
    log_event(LOG_INFO, "stopping", "signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM",
              "grace_ms", grace, NULL);
    char node[UUID_STR_LEN];
    snprintf(node, sizeof(node), "%s", engine_node_id(engine));
    api_stop(api);
    engine_stop(engine, grace_ms);
    metrics_free(metrics);
    log_event(LOG_INFO, "node stopped", "node", node, NULL);
    return 0;
}
