/* cli.c - small helpers the commands share for reading their flags. */
#include "cli/cli.h"

#include <string.h>

static int flag_index(const struct command *cmd, const char *name)
{
    for (int i = 0; cmd->flags && cmd->flags[i].name; i++)
        if (strcmp(cmd->flags[i].name, name) == 0)
            return i;
    return -1;
}

const char *cli_flag_value(const struct command *cmd, const struct cli_args *args,
                           const char *name)
{
    int i = flag_index(cmd, name);
    return i >= 0 && args->flag_seen[i] ? args->flag_values[i] : NULL;
}

bool cli_flag_given(const struct command *cmd, const struct cli_args *args, const char *name)
{
    int i = flag_index(cmd, name);
    return i >= 0 && args->flag_seen[i];
}
