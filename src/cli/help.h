/*
 * help.h - what importq says about itself, all of it made from the one
 * command table in main.c and the settings table in util/config.h: the
 * command list, a command's help, the man page (roff) and the bash and zsh
 * completion scripts. So none of them can drift from what the parser takes.
 * Not for: parsing the command line (main.c) or running a command.
 */
#ifndef IMPORTQ_CLI_HELP_H
#define IMPORTQ_CLI_HELP_H

#include "cli/cli.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The program as help sees it: the command table and the version. */
struct cli_program {
    const struct command *commands;
    size_t count;
    const char *version;
};

/* cli_setting_group - the enum cli_settings group the setting key belongs to. */
enum cli_settings cli_setting_group(const char *key);

/* cli_command_lists_setting - whether cmd's help lists setting key (it reads it). */
bool cli_command_lists_setting(const struct command *cmd, const char *key);

/* cli_help_usage - `importq --help`: the version, the commands and their summaries. */
void cli_help_usage(const struct cli_program *program, FILE *out);

/*
 * cli_help_command - `importq CMD --help`: usage, summary, cmd's own flags,
 * the settings it reads (with environment name and default), examples.
 */
void cli_help_command(const struct command *cmd, FILE *out);

/*
 * cli_help_man - importq(1) in roff (man macros): NAME, SYNOPSIS,
 * DESCRIPTION, COMMANDS (each command's help), SETTINGS, ENVIRONMENT,
 * FILES, EXIT STATUS. help.c.
 */
void cli_help_man(const struct cli_program *program, FILE *out);

/*
 * cli_completion_print - the completion script for shell ("bash" or
 * "zsh"): commands, each one's flags and settings, the values of
 * enumerated flags, files where a file is wanted. Returns 0, or -1 for an
 * unknown shell (nothing printed). completion.c.
 */
int cli_completion_print(const struct cli_program *program, const char *shell, FILE *out);

/* The shells cli_completion_print knows, for usage and completion. */
#define CLI_COMPLETION_SHELLS "bash zsh"

#endif
