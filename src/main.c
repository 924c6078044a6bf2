/*
 * main.c - the importq command line: parses arguments, loads the
 * configuration (flag > environment > file > default) and hands off to one
 * command. Wiring only: the work is done by the layers below.
 */
#include "cli/cli.h"
#include "core/error.h"
#include "core/job_spec.h"
#include "util/config.h"
#include "util/log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct command commands[] = {
    {"migrate", "importq migrate [--db URL]",
     "create or upgrade the database schema (idempotent)", NULL, cmd_migrate},
    {"import",
     "importq import FILE --table T [--mode M] [--key C1,C2] [--format F] [--spec SPEC.json] [--db URL]",
     "run one import in-process and wait for it (exit 0 success, 1 failed import, 2 bad usage)",
     cmd_import_flags, cmd_import},
    {"infer",
     "importq infer FILE [--table T] [--key C1,C2] [--format F] [--delimiter D] [--infer-rows N]\n"
     "\nExamples:\n"
     "  importq infer products.csv > products.json   # then edit, and:\n"
     "  importq import products.csv --spec products.json\n"
     "  importq import products.csv --table products --create --key sku   # infer and load at once",
     "print the job spec an import with --create would use, column types inferred from FILE",
     cmd_import_flags, cmd_infer},
    {"serve",
     "importq serve [--config FILE] [--db URL] [--listen HOST:PORT] [--import-root DIR] [--shutdown-grace DURATION]",
     "run the service: worker threads run queued jobs until SIGTERM/SIGINT", cmd_serve_flags,
     cmd_serve},
    {"token",
     "importq token create --name NAME --role viewer|operator|admin [--json] | token list [--json]"
     " | token revoke NAME [--db URL]",
     "manage API tokens in the database (a new token is printed once, stored hashed)",
     cmd_token_flags, cmd_token},
    {"audit",
     "importq audit verify [--json] [--db URL]\n"
     "       importq audit list [--entity E] [--entity-id ID] [--actor A] [--action A]"
     " [--since T] [--until T]\n"
     "                          [--limit N] [--cursor C] [--all] [--json]   (through the server)",
     "check the audit trail's hash chain (exit 0 intact, 1 broken); list its rows", cmd_audit_flags,
     cmd_audit},
    {"submit", "importq submit SPEC.json|- [--wait] [--json] [--server URL] [--token T]",
     "submit a job spec to the server; --wait follows it (exit 0 COMPLETED, 1 FAILED/CANCELLED)",
     cmd_submit_flags, cmd_submit},
    {"jobs",
     "importq jobs [--status S] [--table T] [--q TEXT] [--limit N] [--cursor C] [--all] [--json]\n"
     "       importq jobs --watch [--interval DURATION] [--status S] [--table T] [--q TEXT]"
     " [--limit N]",
     "list jobs on the server, newest first; --watch redraws the list every second", cmd_jobs_flags,
     cmd_jobs},
    {"job", "importq job ID [--wait] [--json]",
     "show one job: status, progress, result, error, locks, dependencies; --wait follows it"
     " (exit 0 COMPLETED, 1 FAILED/CANCELLED)",
     cmd_job_flags, cmd_job},
    {"cancel", "importq cancel ID [--json]",
     "cancel a job (a running one stops within seconds, nothing lands)", cmd_job_action_flags,
     cmd_cancel},
    {"execute", "importq execute ID [--json]",
     "run a held or scheduled job now, or retry a failed or cancelled one", cmd_job_action_flags,
     cmd_execute},
    {"status", "importq status [--json]", "the queue at a glance: counts, slots, health, nodes",
     cmd_status_flags, cmd_status},
    {"alerts",
     "importq alerts [--state open|acked|resolved] [--limit N] [--json]\n"
     "       importq alerts --ack ID [--json]",
     "the server's alerts, newest first; --ack acknowledges one (operator)", cmd_alerts_flags,
     cmd_alerts},
    {"top", "importq top [--once] [--server URL] [--token T]",
     "a live view of the running jobs (phase, progress, rows, MB/s, ETA) and the queue, refreshed"
     " each second; q or Ctrl-C quits; one plain frame with --once or when not on a terminal",
     cmd_top_flags, cmd_top},
    {"perf", "importq perf [--table T] [--since RFC3339] [--until RFC3339] [--limit N] [--json]",
     "per-table durations (p50/p95/p99), rows/s and waits over a window (default: 24 hours)",
     cmd_perf_flags, cmd_perf},
    {"recommendations", "importq recommendations [--since RFC3339] [--until RFC3339] [--json]",
     "what the history suggests changing, each with its evidence", cmd_recommendations_flags,
     cmd_recommendations},
    {"schedules",
     "importq schedules [list] [--enabled true|false] [--q TEXT] [--limit N] [--json]\n"
     "       importq schedules show ID [--json]\n"
     "       importq schedules create --name NAME --cron EXPR [--tz ZONE] --spec FILE.json\n"
     "                                [--misfire P] [--overlap P] [--catch-up-max N] [--paused]"
     " [--json]\n"
     "       importq schedules pause|resume|delete ID [--json]\n"
     "       importq schedules run ID [--json]          (its job now, next run unchanged)\n"
     "       importq schedules history ID [--limit N] [--json]\n"
     "\nExamples:\n"
     "  importq schedules --enabled true\n"
     "  importq schedules create --name 'nightly users' --cron '0 2 * * *' --tz Europe/Zurich \\\n"
     "      --spec users.json --misfire skip\n"
     "  importq schedules show 0193a5f2-7c1e-7b2a-9f00-000000000001\n"
     "  importq schedules pause 0193a5f2-7c1e-7b2a-9f00-000000000001\n"
     "  importq schedules history 0193a5f2-7c1e-7b2a-9f00-000000000001 --limit 20",
     "list and manage scheduled imports on the server (create prints conflict warnings)",
     cmd_schedules_flags, cmd_schedules},
    {"cron", "importq cron 'EXPR' [--tz ZONE] [--count N] [--after RFC3339] [--json]",
     "the next fire times of a cron expression in a time zone (no server needed)",
     cmd_cron_flags, cmd_cron},
    {"orchestrations",
     "importq orchestrations [list] [--limit N] [--cursor C] [--all] [--json]\n"
     "       importq orchestrations show ID [--json]\n"
     "       importq orchestrations create FILE.json [--json]\n"
     "\nExamples:\n"
     "  importq orchestrations create nightly.json   # {\"name\", \"jobs\": [{\"key\", ...spec...,"
     " \"after\": [KEY]}]}\n"
     "  importq orchestrations --all\n"
     "  importq orchestrations show 0193a5f2-7c1e-7b2a-9f00-000000000001",
     "sets of dependent jobs on the server: list, show (each job under what it runs after),"
     " create (all or none)",
     cmd_orchestrations_flags, cmd_orchestrations},
    {"locks",
     "importq locks [list] [--json]\n"
     "       importq locks release ID [--json]          (admin)\n"
     "\nExamples:\n"
     "  importq locks\n"
     "  importq locks --json | jq '.waiting'\n"
     "  importq locks release 0193a5f2-7c1e-7b2a-9f00-000000000001 --token \"$ADMIN_TOKEN\"",
     "the held resource locks (lease left) and the jobs waiting for them; force-release one",
     cmd_locks_flags, cmd_locks},
    {"upload",
     "importq upload FILE [--json]\n"
     "\nExamples:\n"
     "  importq upload users.csv          # prints id, bytes, sha256\n"
     "  importq upload users.csv --json | jq -r .id\n"
     "  # then submit a spec with \"source\": {\"format\": \"csv\", \"upload\": \"ID\"}",
     "send a file to the server (streamed from disk) for a job's source.upload", cmd_upload_flags,
     cmd_upload},
    {"rejects",
     "importq rejects ID\n"
     "\nExamples:\n"
     "  importq rejects 0193a5f2-7c1e-7b2a-9f00-000000000001 > bad.csv\n"
     "  importq rejects 0193a5f2-7c1e-7b2a-9f00-000000000001 | head",
     "a job's rejected rows as CSV on stdout (line,column,value,error[,record,pointer])", NULL,
     cmd_rejects},
};
#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static void print_settings_help(FILE *out)
{
    fprintf(out, "\nSettings (flag, environment IMPORTQ_<NAME>, or [importq] in --config FILE):\n");
    for (size_t i = 0; config_options[i].key; i++)
        fprintf(out, "  --%-16s %s (default: %s)\n", config_options[i].key,
                config_options[i].help, config_options[i].default_value);
    fprintf(out, "  --%-16s %s\n", "config FILE", "INI file to read settings from (IMPORTQ_CONFIG)");
}

static void print_usage(FILE *out)
{
    fprintf(out, "importq %s - data-import orchestration service\n\n", IMPORTQ_VERSION);
    fprintf(out, "Usage: importq COMMAND [OPTIONS]\n\nCommands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'importq help COMMAND' (or 'importq COMMAND -h') for a command's options;"
                 " 'importq --version'.\n");
}

static void print_command_help(const struct command *cmd, FILE *out)
{
    fprintf(out, "Usage: %s\n\n%s\n", cmd->usage, cmd->summary);
    if (cmd->flags) {
        fprintf(out, "\nOptions:\n");
        for (const struct cli_flag *f = cmd->flags; f->name; f++)
            fprintf(out, "  --%-16s %s\n", f->name, f->help);
    }
    print_settings_help(out);
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
        print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2 && strcmp(name, "help") == 0) { /* importq help CMD */
            for (size_t i = 0; i < COMMAND_COUNT; i++)
                if (strcmp(commands[i].name, argv[2]) == 0) {
                    print_command_help(&commands[i], stdout);
                    return 0;
                }
            fprintf(stderr, "importq help: unknown command \"%s\"\n\n", argv[2]);
            print_usage(stderr);
            return EXIT_USAGE;
        }
        print_usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("importq %s\n", IMPORTQ_VERSION);
        return 0;
    }
    const struct command *cmd = NULL;
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(commands[i].name, name) == 0)
            cmd = &commands[i];
    if (!cmd) {
        fprintf(stderr, "importq: unknown command \"%s\"\n\n", name);
        print_usage(stderr);
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
        print_command_help(cmd, stdout);
        return 0;
    }
    struct config cfg;
    if (load_config(&args, &cfg) != 0) {
        config_clear(&cfg);
        return EXIT_USAGE;
    }
    rc = cmd->run(cmd, &args, &cfg);
    config_clear(&cfg);
    return rc;
}
