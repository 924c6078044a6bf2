/*
 * help.c - the command list, a command's help and the man page, made from
 * the command table (main.c) and the settings table (util/config.h). A
 * command lists only its own flags and the settings it reads (enum
 * cli_settings); the man page lists them all.
 */
#include "cli/help.h"

#include <string.h>

/* Which group a setting is in; every setting not named here is the service's. */
static const struct {
    const char *key;
    enum cli_settings group;
} setting_groups[] = {
    {"db", CLI_SETTINGS_DATABASE},
    {"target-schemas", CLI_SETTINGS_TARGETS},
    {"server", CLI_SETTINGS_CLIENT},
    {"token", CLI_SETTINGS_CLIENT},
};

/* Option names wider than this do not widen a help column (they overflow it). */
#define HELP_NAME_WIDTH_MAX 24

enum cli_settings cli_setting_group(const char *key)
{
    for (size_t i = 0; i < sizeof(setting_groups) / sizeof(setting_groups[0]); i++)
        if (strcmp(setting_groups[i].key, key) == 0)
            return setting_groups[i].group;
    return CLI_SETTINGS_SERVICE;
}

bool cli_command_lists_setting(const struct command *cmd, const char *key)
{
    return (cmd->settings & cli_setting_group(key)) != 0;
}

void cli_help_usage(const struct cli_program *program, FILE *out)
{
    int width = 0;
    for (size_t i = 0; i < program->count; i++)
        if ((int)strlen(program->commands[i].name) > width)
            width = (int)strlen(program->commands[i].name);
    fprintf(out, "importq %s - data-import orchestration service\n\n", program->version);
    fprintf(out, "Usage: importq COMMAND [OPTIONS]\n\nCommands:\n");
    for (size_t i = 0; i < program->count; i++)
        fprintf(out, "  %-*s  %s\n", width, program->commands[i].name,
                program->commands[i].summary);
    fprintf(out,
            "\nRun 'importq help COMMAND' (or 'importq COMMAND -h') for a command's options"
            " and examples;\n'importq help --man' for the manual page; 'importq --version'.\n");
}

/* name_width - the column width of the "--name" cells of cmd's help. */
static int name_width(const struct command *cmd)
{
    int width = (int)strlen("h, --help");
    for (const struct cli_flag *f = cmd->flags; f && f->name; f++)
        if ((int)strlen(f->name) > width)
            width = (int)strlen(f->name);
    for (size_t i = 0; config_options[i].key; i++)
        if (cli_command_lists_setting(cmd, config_options[i].key) &&
            (int)strlen(config_options[i].key) > width)
            width = (int)strlen(config_options[i].key);
    return width > HELP_NAME_WIDTH_MAX ? HELP_NAME_WIDTH_MAX : width;
}

/* print_settings - the settings cmd reads, each with its default when it has one. */
static void print_settings(const struct command *cmd, int width, FILE *out)
{
    if (cmd->settings == CLI_SETTINGS_NONE)
        return;
    fprintf(out, "\nSettings (flag, environment IMPORTQ_<NAME>, or [importq] in --config FILE):\n");
    for (size_t i = 0; config_options[i].key; i++) {
        const struct config_option *o = &config_options[i];
        if (!cli_command_lists_setting(cmd, o->key))
            continue;
        fprintf(out, "  --%-*s  %s", width, o->key, o->help);
        if (*o->default_value)
            fprintf(out, " (default: %s)", o->default_value);
        fputc('\n', out);
    }
    fprintf(out, "  --%-*s  %s\n", width, "config FILE",
            "INI file to read settings from (IMPORTQ_CONFIG)");
}

void cli_help_command(const struct command *cmd, FILE *out)
{
    int width = name_width(cmd);
    fprintf(out, "Usage: %s\n\n%s\n\nOptions:\n", cmd->usage, cmd->summary);
    for (const struct cli_flag *f = cmd->flags; f && f->name; f++)
        fprintf(out, "  --%-*s  %s\n", width, f->name, f->help);
    fprintf(out, "  -%-*s  %s\n", width + 1, "h, --help", "this help");
    print_settings(cmd, width, out);
    if (cmd->examples)
        fprintf(out, "\nExamples:\n%s\n", cmd->examples);
}

/* ---- the man page ---- */

/*
 * roff_text - text for a roff text line: backslashes and dashes escaped
 * (\- stays an ASCII hyphen-minus, so options can be copied), a leading
 * period or quote protected. Newlines pass as line breaks of the source.
 */
static void roff_text(const char *text, FILE *out)
{
    bool line_start = true;
    for (const char *p = text; *p; p++) {
        if (line_start && (*p == '.' || *p == '\''))
            fputs("\\&", out);
        line_start = *p == '\n';
        if (*p == '\\')
            fputs("\\e", out);
        else if (*p == '-')
            fputs("\\-", out);
        else
            fputc(*p, out);
    }
}

/* roff_lines - text as literal lines (.nf), indented by its own spaces. */
static void roff_lines(const char *text, FILE *out)
{
    fputs(".PP\n.RS 4\n.nf\n", out);
    roff_text(text, out);
    fputs("\n.fi\n.RE\n", out);
}

static void man_flag(const char *name, const char *help, FILE *out)
{
    fputs(".TP\n.B \\-\\-", out);
    roff_text(name, out);
    fputc('\n', out);
    roff_text(help, out);
    fputc('\n', out);
}

static void man_command(const struct command *cmd, FILE *out)
{
    fputs(".SS ", out);
    roff_text(cmd->name, out);
    fputc('\n', out);
    roff_lines(cmd->usage, out);
    fputs(".PP\n", out);
    roff_text(cmd->summary, out);
    fputc('\n', out);
    for (const struct cli_flag *f = cmd->flags; f && f->name; f++)
        man_flag(f->name, f->help, out);
    bool any = false;
    for (size_t i = 0; config_options[i].key; i++) {
        if (!cli_command_lists_setting(cmd, config_options[i].key))
            continue;
        fputs(any ? ", " : ".PP\nSettings it reads (see SETTINGS): ", out);
        fputs("\\fB\\-\\-", out);
        roff_text(config_options[i].key, out);
        fputs("\\fR", out);
        any = true;
    }
    if (any)
        fputs(".\n", out);
    if (cmd->examples) {
        fputs(".PP\nExamples:\n", out);
        roff_lines(cmd->examples, out);
    }
}

/* man_setting - one setting: help, default, environment, the commands that read it. */
static void man_setting(const struct cli_program *program, const struct config_option *o, FILE *out)
{
    char env[96];
    config_env_name(o->key, env, sizeof(env));
    man_flag(o->key, o->help, out);
    fputs(".br\n", out);
    if (*o->default_value) {
        fputs("Default: ", out);
        roff_text(o->default_value, out);
        fputs(". ", out);
    }
    fputs("Environment: ", out);
    roff_text(env, out);
    fputs(". Read by:", out);
    for (size_t i = 0; i < program->count; i++)
        if (cli_command_lists_setting(&program->commands[i], o->key)) {
            fputc(' ', out);
            roff_text(program->commands[i].name, out);
        }
    fputs(".\n", out);
}

static const char man_description[] =
    "importq loads CSV, NDJSON and JSON files into a relational database (SQLite or "
    "PostgreSQL) on schedules and in a strict order, never lets two loads trample the same "
    "table, and never leaves a half-loaded target. It keeps a durable job queue in the "
    "database, coordinates resources with leased locks, runs a streaming import pipeline, "
    "fires cron schedules, and serves a REST API and an admin web GUI.\n"
    ".PP\n"
    "One binary does it all: serve runs the service; import runs one import in-process; "
    "the client commands (submit, jobs, job, cancel, execute, status, alerts, top, perf, "
    "recommendations, schedules) talk to a running server over its HTTP API.";

static const char man_files[] =
    ".TP\n.I var/importq.db\n"
    "The default database (sqlite:var/importq.db, relative to the working directory); "
    "var/ is made when missing, no other directory is.\n"
    ".TP\n.I imports/\n"
    "The default import root: every source.path of a submitted job is relative to it.\n"
    ".TP\n.I var/uploads/\n"
    "The default spool directory of uploaded files.\n"
    ".TP\n.I FILE given to --config or IMPORTQ_CONFIG\n"
    "An INI file: settings as key = value (dashes or underscores) in [importq] or before "
    "any section; [target.NAME] sections with url = a database URL name the target "
    "databases a spec may load into (target.database).";

static const char man_exit_status[] =
    ".TP\n.B 0\nSuccess.\n"
    ".TP\n.B 1\nFailure: a failed import (nothing landed), a job that ended FAILED or "
    "CANCELLED (submit \\-\\-wait), an unreachable server or an error answer, a broken audit "
    "chain.\n"
    ".TP\n.B 2\nBad usage: an unknown option, an invalid setting or spec, a request the "
    "server calls invalid.\n"
    ".TP\n.B 130\nInterrupted (Ctrl\\-C) while waiting; the job goes on.";

void cli_help_man(const struct cli_program *program, FILE *out)
{
    fputs(".\\\" importq(1), generated by `importq help --man` from the program's own help.\n",
          out);
    fputs(".TH IMPORTQ 1 \"\" \"importq ", out);
    roff_text(program->version, out);
    fputs("\" \"User Commands\"\n", out);
    fputs(".SH NAME\nimportq \\- data\\-import orchestration service\n", out);
    fputs(".SH SYNOPSIS\n.B importq\n.I COMMAND\n.RI [ OPTIONS ]\n.br\n"
          ".B importq help\n.RI [ COMMAND ]\n.br\n.B importq\n\\-\\-help | \\-\\-version\n",
          out);
    fputs(".SH DESCRIPTION\n", out);
    fputs(man_description, out);
    fputs("\n.SH COMMANDS\n", out);
    for (size_t i = 0; i < program->count; i++)
        man_command(&program->commands[i], out);
    fputs(".SH SETTINGS\n"
          "Every setting is a flag (\\fB\\-\\-max\\-concurrent 6\\fR), an environment variable "
          "(\\fBIMPORTQ_MAX_CONCURRENT=6\\fR) or a key in the configuration file "
          "(\\fBmax_concurrent = 6\\fR); a flag wins over the environment, the environment over "
          "the file, the file over the default. Every command accepts every setting; each "
          "reads only those listed with it. Durations take ms, s, min, h, d and combinations "
          "(1h30m), a bare number is seconds; sizes take k, KiB, MB, MiB, GiB, a bare number "
          "is bytes.\n",
          out);
    for (size_t i = 0; config_options[i].key; i++)
        man_setting(program, &config_options[i], out);
    man_flag("config FILE", "The INI file to read settings from (see FILES).", out);
    fputs(".SH ENVIRONMENT\n"
          ".TP\n.B IMPORTQ_<NAME>\n"
          "Each setting, its name in capitals with underscores: IMPORTQ_DB, IMPORTQ_LISTEN, "
          "IMPORTQ_SERVER, IMPORTQ_TOKEN, ...\n"
          ".TP\n.B IMPORTQ_CONFIG\nThe configuration file, when \\-\\-config is not given.\n"
          ".TP\n.B IMPORTQ_TARGET_<NAME>\n"
          "The URL of target database NAME (lower\\-cased), as a [target.NAME] section.\n",
          out);
    fputs(".SH FILES\n", out);
    fputs(man_files, out);
    fputs("\n.SH EXIT STATUS\n", out);
    fputs(man_exit_status, out);
    fputs("\n.SH SEE ALSO\n"
          "The README, docs/api.md (the HTTP API) and docs/schedules.md of the importq "
          "sources; GET /api/v2/openapi.json of a running server.\n",
          out);
}
