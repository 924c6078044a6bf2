/*
 * cli.h - what main.c hands a command: its parsed arguments and the loaded
 * configuration. Each command lives in its own src/cli/cmd_<name>.c and
 * returns the process exit code (0 success, 1 failure, 2 bad usage).
 */
#ifndef IMPORTQ_CLI_CLI_H
#define IMPORTQ_CLI_CLI_H

#include "util/config.h"

#include <stdbool.h>

#define EXIT_USAGE 2
#define CLI_MAX_POSITIONAL 8
#define CLI_MAX_FLAGS 16
#define CLI_MAX_SETTINGS 32

/* A command-specific flag ("--wait", "--table T"). */
struct cli_flag {
    const char *name;
    bool takes_value;
    const char *help;
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

struct command {
    const char *name;
    const char *usage;
    const char *summary;
    const struct cli_flag *flags;             /* NULL-terminated, may be NULL */
    int (*run)(const struct command *cmd, struct cli_args *args, struct config *cfg);
};

/* cli_flag_value - the value of flag name, or NULL when not given. */
const char *cli_flag_value(const struct command *cmd, const struct cli_args *args,
                           const char *name);

/* cli_flag_given - whether flag name appeared. */
bool cli_flag_given(const struct command *cmd, const struct cli_args *args, const char *name);

int cmd_migrate(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_import(const struct command *cmd, struct cli_args *args, struct config *cfg);
int cmd_serve(const struct command *cmd, struct cli_args *args, struct config *cfg);

extern const struct cli_flag cmd_import_flags[];
extern const struct cli_flag cmd_serve_flags[];

#endif
