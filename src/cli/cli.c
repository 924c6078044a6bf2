/* cli.c - small helpers the commands share: their flags, their JSON files. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

json_t *cli_load_json_object(const char *command, const char *path, const char *what)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) < 0) {
        fprintf(stderr, "importq %s: cannot read %s %s: %s\n", command, what, path,
                strerror(errno));
        if (f)
            fclose(f);
        return NULL;
    }
    if (st.st_size > CLI_JSON_FILE_MAX) {
        fprintf(stderr, "importq %s: %s %s is larger than %d MiB\n", command, what, path,
                CLI_JSON_FILE_MAX / (1024 * 1024));
        fclose(f);
        return NULL;
    }
    json_error_t jerr;
    json_t *value = json_loadf(f, 0, &jerr);
    fclose(f);
    if (!value) {
        fprintf(stderr, "importq %s: %s %s, line %d column %d: %s\n", command, what, path,
                jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(value)) {
        fprintf(stderr, "importq %s: %s %s: not a JSON object\n", command, what, path);
        json_decref(value);
        return NULL;
    }
    return value;
}
