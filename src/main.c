/*
 * main.c - the importq command line: parses arguments, loads the
 * configuration (flag > environment > file > default) and hands off to one
 * command. Wiring only: the work is done by the layers below.
 */
#include "cli/cli.h"
#include "cli/help.h"
#include "core/error.h"
#include "core/job_spec.h"
#include "util/config.h"
#include "util/log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The commands of `importq help` and `importq completion` (below the table: they read it). */
static int cmd_help(const struct command *cmd, struct cli_args *args, struct config *cfg);
static int cmd_completion(const struct command *cmd, struct cli_args *args, struct config *cfg);

static const struct cli_flag help_flags[] = {
    {"man", false, "print the manual page importq(1), in roff, made from every command's help"},
    {NULL, false, NULL},
};

/* An example's job and schedule ids are stand-ins: the ones submit and schedules print. */
#define EXAMPLE_ID "0193a5f2-7c1e-7b2a-9f00-000000000001"
#define EXAMPLE_PG "postgres://importq:secret@localhost/importq"

static const struct command commands[] = {
    {"migrate", "importq migrate [--db URL]",
     "create or upgrade the database schema (idempotent)", NULL, cmd_migrate,
     .settings = CLI_SETTINGS_DATABASE,
     .examples = "  importq migrate                 # sqlite:var/importq.db (var/ is made)\n"
                 "  importq migrate --db sqlite:importq.db\n"
                 "  importq migrate --db " EXAMPLE_PG},
    {"import",
     "importq import FILE --table T [--mode M] [--key C1,C2] [--format F] [--spec SPEC.json] [--db URL]",
     "run one import in-process and wait for it (exit 0 success, 1 failed import, 2 bad usage)",
     cmd_import_flags, cmd_import, .settings = CLI_SETTINGS_DATABASE | CLI_SETTINGS_TARGETS,
     .operands = CLI_VALUES_FILE,
     .examples =
         "  importq import users.csv --table users --create --key user_id   # types inferred\n"
         "  importq import users.csv --table users --mode upsert --key user_id --on-error skip\n"
         "  importq import export.csv --spec users.json --delimiter ';' --skip-rows 2 \\\n"
         "      --db " EXAMPLE_PG},
    {"infer",
     "importq infer FILE [--table T] [--key C1,C2] [--format F] [--delimiter D] [--infer-rows N]",
     "print the job spec an import with --create would use, column types inferred from FILE",
     cmd_infer_flags, cmd_infer, .operands = CLI_VALUES_FILE,
     .examples = "  importq infer products.csv > products.json   # then edit, and:\n"
                 "  importq import products.csv --spec products.json\n"
                 "  importq infer export.csv --delimiter ';' --skip-rows 2 --key user_id"},
    {"serve",
     "importq serve [--config FILE] [--db URL] [--listen HOST:PORT] [--import-root DIR] [--shutdown-grace DURATION]",
     "run the service: worker threads run queued jobs until SIGTERM/SIGINT", cmd_serve_flags,
     cmd_serve,
     .settings = CLI_SETTINGS_DATABASE | CLI_SETTINGS_TARGETS | CLI_SETTINGS_SERVICE,
     .examples = "  importq serve                   # sqlite:var/importq.db, API and GUI on "
                 "127.0.0.1:8080\n"
                 "  importq serve --db " EXAMPLE_PG " --workers 4   # one of several nodes\n"
                 "  importq serve --config importq.ini --shutdown-grace 2min"},
    {"token",
     "importq token create --name NAME --role viewer|operator|admin [--json] | token list [--json]"
     " | token revoke NAME [--db URL]",
     "manage API tokens in the database (a new token is printed once, stored hashed)",
     cmd_token_flags, cmd_token, .settings = CLI_SETTINGS_DATABASE,
     .operands = "create list revoke",
     .examples = "  importq token create --name alice --role operator   # prints the token once\n"
                 "  importq token list --json\n"
                 "  importq token revoke alice"},
    {"audit",
     "importq audit verify [--json] [--db URL]\n"
     "       importq audit list [--entity E] [--entity-id ID] [--actor A] [--action A]"
     " [--since T] [--until T]\n"
     "                          [--limit N] [--cursor C] [--all] [--json]   (through the server)",
     "check the audit trail's hash chain (exit 0 intact, 1 broken); list its rows", cmd_audit_flags,
     cmd_audit, .settings = CLI_SETTINGS_DATABASE | CLI_SETTINGS_CLIENT, .operands = "verify list",
     .examples = "  importq audit verify\n"
                 "  importq audit verify --json --db " EXAMPLE_PG "\n"
                 "  importq audit list --entity job --action job.cancelled --limit 20\n"
                 "  importq audit list --actor alice --all --json"},
    {"submit", "importq submit SPEC.json|- [--wait] [--json] [--server URL] [--token T]",
     "submit a job spec to the server; --wait follows it (exit 0 COMPLETED, 1 FAILED/CANCELLED)",
     cmd_submit_flags, cmd_submit, .settings = CLI_SETTINGS_CLIENT, .operands = CLI_VALUES_FILE,
     .examples = "  importq submit users.json                # prints the new job's id\n"
                 "  importq submit users.json --wait         # and follows it to its end\n"
                 "  importq submit - --json < users.json     # the spec from stdin"},
    {"jobs",
     "importq jobs [--status S] [--table T] [--q TEXT] [--limit N] [--cursor C] [--all] [--json]\n"
     "       importq jobs --watch [--interval DURATION] [--status S] [--table T] [--q TEXT]"
     " [--limit N]",
     "list jobs on the server, newest first; --watch redraws the list every second", cmd_jobs_flags,
     cmd_jobs, .settings = CLI_SETTINGS_CLIENT,
     .examples = "  importq jobs\n"
                 "  importq jobs --status queued,running --table users --limit 20\n"
                 "  importq jobs --q nightly --all --json\n"
                 "  importq jobs --watch --status running,queued   # q or Ctrl-C quits"},
    {"job", "importq job ID [--wait] [--json]",
     "show one job: status, progress, result, error, locks, dependencies; --wait follows it"
     " (exit 0 COMPLETED, 1 FAILED/CANCELLED)",
     cmd_job_flags, cmd_job, .settings = CLI_SETTINGS_CLIENT,
     .examples = "  importq job " EXAMPLE_ID "\n"
                 "  importq job " EXAMPLE_ID " --wait      # until it ends\n"
                 "  importq job " EXAMPLE_ID " --json | jq .result"},
    {"cancel", "importq cancel ID [--json]",
     "cancel a job (a running one stops within seconds, nothing lands)", cmd_job_action_flags,
     cmd_cancel, .settings = CLI_SETTINGS_CLIENT,
     .examples = "  importq cancel " EXAMPLE_ID "\n"
                 "  importq cancel " EXAMPLE_ID " --json | jq .status"},
    {"execute", "importq execute ID [--json]",
     "run a held or scheduled job now, or retry a failed or cancelled one", cmd_job_action_flags,
     cmd_execute, .settings = CLI_SETTINGS_CLIENT,
     .examples = "  importq execute " EXAMPLE_ID "\n"
                 "  importq execute " EXAMPLE_ID " --json | jq .status"},
    {"status", "importq status [--json]", "the queue at a glance: counts, slots, health, nodes",
     cmd_status_flags, cmd_status, .settings = CLI_SETTINGS_CLIENT,
     .examples = "  importq status\n"
                 "  importq status --server http://127.0.0.1:8080 --json | jq .available_slots"},
    {"alerts",
     "importq alerts [--state open|acked|resolved] [--limit N] [--json]\n"
     "       importq alerts --ack ID [--json]",
     "the server's alerts, newest first; --ack acknowledges one (operator)", cmd_alerts_flags,
     cmd_alerts, .settings = CLI_SETTINGS_CLIENT,
     .examples = "  importq alerts\n"
                 "  importq alerts --state open,acked --limit 10\n"
                 "  importq alerts --ack 1"},
    {"top", "importq top [--once] [--server URL] [--token T]",
     "a live view of the running jobs (phase, progress, rows, MB/s, ETA) and the queue, refreshed"
     " each second; q or Ctrl-C quits; one plain frame with --once or when not on a terminal",
     cmd_top_flags, cmd_top, .settings = CLI_SETTINGS_CLIENT,
     .examples = "  importq top                     # q or Ctrl-C quits\n"
                 "  importq top --once              # one frame, as when not on a terminal"},
    {"perf", "importq perf [--table T] [--since RFC3339] [--until RFC3339] [--limit N] [--json]",
     "per-table durations (p50/p95/p99), rows/s and waits over a window (default: 24 hours)",
     cmd_perf_flags, cmd_perf, .settings = CLI_SETTINGS_CLIENT,
     .examples = "  importq perf\n"
                 "  importq perf --table users --since \"$(date -u -d '7 days ago' +%FT%TZ)\" --json"},
    {"recommendations", "importq recommendations [--since RFC3339] [--until RFC3339] [--json]",
     "what the history suggests changing, each with its evidence", cmd_recommendations_flags,
     cmd_recommendations, .settings = CLI_SETTINGS_CLIENT,
     .examples = "  importq recommendations\n"
                 "  importq recommendations --since \"$(date -u -d '7 days ago' +%FT%TZ)\" --json"},
    {"schedules",
     "importq schedules [list] [--enabled true|false] [--q TEXT] [--limit N] [--json]\n"
     "       importq schedules show ID [--json]\n"
     "       importq schedules create --name NAME --cron EXPR [--tz ZONE] --spec FILE.json\n"
     "                                [--misfire P] [--overlap P] [--catch-up-max N] [--paused]"
     " [--json]\n"
     "       importq schedules pause|resume|delete ID [--json]\n"
     "       importq schedules run ID [--json]          (its job now, next run unchanged)\n"
     "       importq schedules history ID [--limit N] [--json]",
     "list and manage scheduled imports on the server (create prints conflict warnings)",
     cmd_schedules_flags, cmd_schedules, .settings = CLI_SETTINGS_CLIENT,
     .operands = "list show create pause resume delete run history",
     .examples = "  importq schedules --enabled true\n"
                 "  importq schedules create --name 'nightly users' --cron '0 2 * * *' "
                 "--tz Europe/Zurich \\\n"
                 "      --spec users.json --misfire skip\n"
                 "  importq schedules show " EXAMPLE_ID "\n"
                 "  importq schedules pause " EXAMPLE_ID "\n"
                 "  importq schedules history " EXAMPLE_ID " --limit 20"},
    {"cron", "importq cron 'EXPR' [--tz ZONE] [--count N] [--after RFC3339] [--json]",
     "the next fire times of a cron expression in a time zone (no server needed)",
     cmd_cron_flags, cmd_cron,
     .examples = "  importq cron '30 2 * * mon-fri' --tz Europe/Zurich\n"
                 "  importq cron '*/15 * * * *' --count 8 --after 2026-11-01T05:20:00Z --json"},
    {"orchestrations",
     "importq orchestrations [list] [--limit N] [--cursor C] [--all] [--json]\n"
     "       importq orchestrations show ID [--json]\n"
     "       importq orchestrations create FILE.json [--json]",
     "sets of dependent jobs on the server: list, show (each job under what it runs after),"
     " create (all or none)",
     cmd_orchestrations_flags, cmd_orchestrations, .settings = CLI_SETTINGS_CLIENT,
     .operands = "list show create",
     .examples = "  importq orchestrations create nightly.json   # {\"name\", \"jobs\": [{\"key\", ...spec...,"
                 " \"after\": [KEY]}]}\n"
                 "  importq orchestrations --all\n"
                 "  importq orchestrations show " EXAMPLE_ID},
    {"locks",
     "importq locks [list] [--json]\n"
     "       importq locks release ID [--json]          (admin)",
     "the held resource locks (lease left) and the jobs waiting for them; force-release one",
     cmd_locks_flags, cmd_locks, .settings = CLI_SETTINGS_CLIENT, .operands = "list release",
     .examples = "  importq locks\n"
                 "  importq locks --json | jq '.waiting'\n"
                 "  importq locks release " EXAMPLE_ID "   # with an admin token"},
    {"upload", "importq upload FILE [--json]",
     "send a file to the server (streamed from disk) for a job's source.upload", cmd_upload_flags,
     cmd_upload, .settings = CLI_SETTINGS_CLIENT, .operands = CLI_VALUES_FILE,
     .examples = "  importq upload users.csv          # prints id, bytes, sha256\n"
                 "  importq upload users.csv --json | jq -r .id\n"
                 "  # then submit a spec with \"source\": {\"format\": \"csv\", \"upload\": \"ID\"}"},
    {"rejects", "importq rejects ID",
     "a job's rejected rows as CSV on stdout (line,column,value,error[,record,pointer])", NULL,
     cmd_rejects, .settings = CLI_SETTINGS_CLIENT,
     .examples = "  importq rejects " EXAMPLE_ID " > bad.csv\n"
                 "  importq rejects " EXAMPLE_ID " | head"},
    {"help", "importq help [COMMAND] [--man]",
     "a command's options, settings and examples; --man: the manual page", help_flags, cmd_help,
     .operands = CLI_VALUES_COMMAND,
     .examples = "  importq help import             # as importq import --help\n"
                 "  importq help --man > importq.1  # make install installs it"},
    {"completion", "importq completion bash|zsh",
     "print the shell completion script for bash or zsh (make install installs both)", NULL,
     cmd_completion, .operands = CLI_COMPLETION_SHELLS,
     .examples = "  source <(importq completion bash)     # in ~/.bashrc\n"
                 "  mkdir -p ~/.zfunc && importq completion zsh > ~/.zfunc/_importq\n"
                 "      # and in ~/.zshrc, before compinit: fpath=(~/.zfunc $fpath)"},
};
#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static const struct cli_program program = {commands, COMMAND_COUNT, IMPORTQ_VERSION};

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* cmd_help - `importq help [COMMAND] [--man]`. */
static int cmd_help(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    if (args->positional_count > 1 ||
        (args->positional_count == 1 && cli_flag_given(cmd, args, "man"))) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    if (cli_flag_given(cmd, args, "man")) {
        cli_help_man(&program, stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (args->positional_count == 0) {
        cli_help_usage(&program, stdout);
        return 0;
    }
    const struct command *about = find_command(args->positional[0]);
    if (!about) {
        fprintf(stderr, "importq help: unknown command \"%s\"\n\n", args->positional[0]);
        cli_help_usage(&program, stderr);
        return EXIT_USAGE;
    }
    cli_help_command(about, stdout);
    return 0;
}

/* cmd_completion - `importq completion bash|zsh`. */
static int cmd_completion(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    if (args->positional_count != 1 ||
        cli_completion_print(&program, args->positional[0], stdout) < 0) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

static bool is_setting(const char *key)
{
    for (size_t i = 0; config_options[i].key; i++)
        if (strcmp(config_options[i].key, key) == 0)
            return true;
    return false;
}

static int find_flag(const struct command *cmd, const char *name)
{
    for (int i = 0; cmd->flags && cmd->flags[i].name; i++)
        if (strcmp(cmd->flags[i].name, name) == 0)
            return i;
    return -1;
}

/*
 * parse_args - argv (after the command name) into args. "--key value" and
 * "--key=value" both work; "--" ends the options. Returns 0 or EXIT_USAGE
 * after printing what is wrong.
 */
static int parse_args(const struct command *cmd, int argc, char **argv, struct cli_args *args)
{
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "-h") == 0) { /* never a file named -h: use ./-h */
            args->help = true;
            continue;
        }
        if (options_done || strncmp(arg, "--", 2) != 0 || strcmp(arg, "-") == 0) {
            if (args->positional_count == CLI_MAX_POSITIONAL) {
                fprintf(stderr, "importq %s: too many arguments\n", cmd->name);
                return EXIT_USAGE;
            }
            args->positional[args->positional_count++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        char key[64];
        const char *eq = strchr(arg + 2, '=');
        size_t key_len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (key_len >= sizeof(key)) {
            fprintf(stderr, "importq %s: unknown option %s\n", cmd->name, arg);
            return EXIT_USAGE;
        }
        memcpy(key, arg + 2, key_len);
        key[key_len] = '\0';
        if (strcmp(key, "help") == 0) {
            args->help = true;
            continue;
        }
        int flag = find_flag(cmd, key);
        bool takes_value = flag >= 0 ? cmd->flags[flag].takes_value : true;
        if (flag < 0 && !is_setting(key) && strcmp(key, "config") != 0) {
            fprintf(stderr, "importq %s: unknown option --%s (see importq %s --help)\n", cmd->name,
                    key, cmd->name);
            return EXIT_USAGE;
        }
        const char *value = NULL;
        if (takes_value) {
            if (eq) {
                value = eq + 1;
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                fprintf(stderr, "importq %s: --%s needs a value\n", cmd->name, key);
                return EXIT_USAGE;
            }
        } else if (eq) {
            fprintf(stderr, "importq %s: --%s takes no value\n", cmd->name, key);
            return EXIT_USAGE;
        }
        if (flag >= 0) {
            args->flag_seen[flag] = true;
            args->flag_values[flag] = value;
        } else if (strcmp(key, "config") == 0) {
            args->config_path = value;
        } else if (args->setting_count == CLI_MAX_SETTINGS) {
            fprintf(stderr, "importq %s: too many options\n", cmd->name);
            return EXIT_USAGE;
        } else {
            args->settings[args->setting_count].key = NULL;
            for (size_t k = 0; config_options[k].key; k++)
                if (strcmp(config_options[k].key, key) == 0)
                    args->settings[args->setting_count].key = config_options[k].key;
            args->settings[args->setting_count].value = value;
            args->setting_count++;
        }
    }
    return 0;
}

static const char *getenv_cb(const char *name)
{
    return getenv(name);
}

/*
 * load_config - defaults, then the INI file (--config or IMPORTQ_CONFIG),
 * then IMPORTQ_* variables, then flags. Returns 0 or 1 after printing.
 */
static int load_config(const struct cli_args *args, struct config *cfg)
{
    struct iq_error err = {0};
    int rc = config_init(cfg);
    const char *path = args->config_path ? args->config_path : getenv("IMPORTQ_CONFIG");
    if (rc == 0 && path && *path)
        rc = config_load_file(cfg, path, &err);
    if (rc == 0)
        rc = config_load_env(cfg, getenv_cb, environ, &err);
    for (int i = 0; rc == 0 && i < args->setting_count; i++) {
        char origin[80];
        snprintf(origin, sizeof(origin), "--%s", args->settings[i].key);
        rc = config_set(cfg, args->settings[i].key, args->settings[i].value, origin, &err);
    }
    enum log_level level;
    if (rc == 0 && log_level_parse(cfg->log_level, &level) < 0)
        rc = iq_error_set(&err, IQ_E_INVALID, "invalid log-level \"%s\": use debug, info, warn, error or off",
                          cfg->log_level);
    struct target_schemas schemas; /* checked here so that a bad list stops every command */
    if (rc == 0)
        rc = target_schemas_parse(cfg->target_schemas, &schemas, &err);
    if (rc < 0) {
        fprintf(stderr, "importq: %s\n", iq_error_message(&err));
        iq_error_clear(&err);
        return 1;
    }
    log_set_level(level);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_help_usage(&program, stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        cli_help_usage(&program, stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("importq %s\n", IMPORTQ_VERSION);
        return 0;
    }
    const struct command *cmd = find_command(name);
    if (!cmd) {
        fprintf(stderr, "importq: unknown command \"%s\"\n\n", name);
        cli_help_usage(&program, stderr);
        return EXIT_USAGE;
    }
    int flag_count = 0;
    for (const struct cli_flag *f = cmd->flags; f && f->name; f++)
        flag_count++;
    if (flag_count > CLI_MAX_FLAGS) { /* a programming error, caught by any test of the command */
        fprintf(stderr, "importq %s: %d flags, more than CLI_MAX_FLAGS (%d)\n", cmd->name,
                flag_count, CLI_MAX_FLAGS);
        return 70; /* EX_SOFTWARE */
    }
    struct cli_args args = {.version = IMPORTQ_VERSION};
    int rc = parse_args(cmd, argc - 2, argv + 2, &args);
    if (rc != 0)
        return rc;
    if (args.help) {
        cli_help_command(cmd, stdout);
        return 0;
    }
    /* help and completion print what the binary knows: they read no
     * configuration, so a broken one cannot stop them */
    if (cmd->run == cmd_help || cmd->run == cmd_completion)
        return cmd->run(cmd, &args, NULL);
    struct config cfg;
    if (load_config(&args, &cfg) != 0) {
        config_clear(&cfg);
        return EXIT_USAGE;
    }
    rc = cmd->run(cmd, &args, &cfg);
    config_clear(&cfg);
    return rc;
}
