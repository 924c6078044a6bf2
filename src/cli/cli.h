/*
 * cli.h - what main.c hands a command: its parsed arguments and the loaded
 * configuration. Each command lives in its own src/cli/cmd_<name>.c and
 * returns the process exit code (0 success, 1 failure, 2 bad usage).
 */
#ifndef IMPORTQ_CLI_CLI_H
#define IMPORTQ_CLI_CLI_H

#include "util/config.h"

#include <jansson.h>
#include <stdbool.h>

#define EXIT_USAGE 2
#define CLI_MAX_POSITIONAL 8
#define CLI_MAX_FLAGS 32 /* a command's flags at most (main.c refuses a longer table) */
#define CLI_MAX_SETTINGS 32

/*
 * What completes a value on the command line (cli_flag.values,
 * command.operands): words separated by spaces ("csv ndjson json"), or one
 * of these, or NULL for anything (nothing is offered).
 */
#define CLI_VALUES_FILE "<file>"
#define CLI_VALUES_DIRECTORY "<directory>"
#define CLI_VALUES_COMMAND "<command>" /* an importq command's name */

/* A command-specific flag ("--wait", "--table T"). */
struct cli_flag {
    const char *name;
    bool takes_value;
    const char *help;
    const char *values; /* what completes its value (CLI_VALUES_*), may be NULL */
};

/* Parsed command line of one command. */
struct cli_args {
    const char *positional[CLI_MAX_POSITIONAL];
    int positional_count;
    const char *flag_values[CLI_MAX_FLAGS];   /* by index into the command's flags */
    bool flag_seen[CLI_MAX_FLAGS];
    struct {
        const char *key;                      /* a config_options[] key */
        const char *value;
    } settings[CLI_MAX_SETTINGS];             /* config options given as flags */
    int setting_count;
    const char *config_path;
    bool help;
    const char *version;                      /* the program's version (main.c) */
};

/*
 * The groups of settings (config_options) a command reads: its help, man
 * page section and completion list those. Every command still accepts
 * every setting, as one config file or environment serves all commands.
 */
enum cli_settings {
    CLI_SETTINGS_NONE = 0,
    CLI_SETTINGS_DATABASE = 1 << 0, /* db */
    CLI_SETTINGS_TARGETS = 1 << 1,  /* target-schemas (and [target.NAME] databases) */
    CLI_SETTINGS_CLIENT = 1 << 2,   /* server, token */
    CLI_SETTINGS_SERVICE = 1 << 3,  /* every other setting: what serve reads */
};

struct command {
    const char *name;
    const char *usage;
    const char *summary;
    const struct cli_flag *flags;             /* NULL-terminated, may be NULL */
    int (*run)(const struct command *cmd, struct cli_args *args, struct config *cfg);
    unsigned settings;                        /* enum cli_settings bits; 0: none listed */
    const char *examples;                     /* shell lines, "  importq ..." each; may be NULL */
    const char *operands;                     /* what completes its first operand (CLI_VALUES_*) */
};

/* cli_flag_value - the value of flag name, or NULL when not given. */
const char *cli_flag_value(const struct command *cmd, const struct cli_args *args,
                           const char *name);

/* cli_flag_given - whether flag name appeared. */
bool cli_flag_given(const struct command *cmd, const struct cli_args *args, const char *name);

int cmd_migrate(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_import(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_infer(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_serve(const struct command *cmd, struct cli_args *args, struct config *cfg);
/* Client commands over the HTTP API (cmd_submit.c, cmd_jobs.c, cmd_job_actions.c, cmd_status.c,
 * cmd_schedules.c). */
int cmd_submit(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_jobs(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_job(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_cancel(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_execute(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_status(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_alerts(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_top(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_perf(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_recommendations(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_schedules(const struct command *cmd, struct cli_args *args, struct config *cfg);
/* More client commands (cmd_orchestrations.c, cmd_locks.c, cmd_upload.c, cmd_rejects.c). */
int cmd_orchestrations(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_locks(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_upload(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_rejects(const struct command *cmd, struct cli_args *args, struct config *cfg);
/* Administrative commands on the service database (cmd_token.c, cmd_audit.c). */
int cmd_token(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_audit(const struct command *cmd, struct cli_args *args, struct config *cfg);
/* Local commands needing no server and no database (cmd_cron.c). */
int cmd_cron(const struct command *cmd, struct cli_args *args, struct config *cfg);

extern const struct cli_flag cmd_import_flags[];
extern const struct cli_flag cmd_infer_flags[];
extern const struct cli_flag cmd_serve_flags[];
extern const struct cli_flag cmd_submit_flags[];
extern const struct cli_flag cmd_jobs_flags[];
extern const struct cli_flag cmd_job_flags[];
extern const struct cli_flag cmd_job_action_flags[];
extern const struct cli_flag cmd_status_flags[];
extern const struct cli_flag cmd_alerts_flags[];
extern const struct cli_flag cmd_top_flags[];
extern const struct cli_flag cmd_perf_flags[];
extern const struct cli_flag cmd_recommendations_flags[];
extern const struct cli_flag cmd_schedules_flags[];
extern const struct cli_flag cmd_orchestrations_flags[];
extern const struct cli_flag cmd_locks_flags[];
extern const struct cli_flag cmd_upload_flags[];
extern const struct cli_flag cmd_token_flags[];
extern const struct cli_flag cmd_audit_flags[];
extern const struct cli_flag cmd_cron_flags[];

struct store;

/*
 * cli_store_open_current - open cfg->db for an administrative command
 * without migrating it. Returns 0 and the store (store_close), or, after
 * printing "importq <command>: ..." on stderr, the exit code: 2 for a bad
 * URL, 1 when the database is unreachable or its schema is not current
 * (the message says to run `importq migrate`). cli_store.c.
 */
int cli_store_open_current(const char *command, const struct config *cfg,
                           struct store **ret_store);

/* The largest JSON file a command reads (a job spec, a schedule's template). */
#define CLI_JSON_FILE_MAX (1024 * 1024)

/*
 * cli_load_json_object - the JSON object in the file at path (what names it
 * in messages: "job spec"), or NULL after printing "importq <command>: ..."
 * on stderr: the file cannot be read (errno's words), is larger than
 * CLI_JSON_FILE_MAX, is not JSON (line and column) or not an object. cli.c.
 */
json_t *cli_load_json_object(const char *command, const char *path, const char *what);

/*
 * cli_store_open - store_open of url, first making var/ when url is the
 * default database (sqlite:var/importq.db): the only directory importq
 * creates for a database (the store creates none, so a mistyped --db is
 * refused rather than given a tree). cli_store.c.
 */
struct store_options;
int cli_store_open(const char *url, const struct store_options *opts, struct store **ret_store,
                   struct iq_error *err);

/* cli_actor - "cli:<user name>" (getpwuid(geteuid())), the audit actor of CLI changes. */
void cli_actor(char *buf, size_t size);

#endif
