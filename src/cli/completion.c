/*
 * completion.c - `importq completion bash|zsh`: the shell completion
 * scripts, made from the command table like the help (help.h), so a new
 * flag completes as soon as it parses. A command completes its own flags,
 * the settings it reads, --config and --help; an enumerated value (--mode,
 * --role, --status ...) its words; a file where a file is wanted.
 */
#include "cli/help.h"

#include <string.h>

/* One option of a command as completion sees it. */
struct option_view {
    const char *name; /* without the dashes */
    bool takes_value;
    const char *help;
    const char *values; /* CLI_VALUES_* or words; NULL: anything */
};

/* What completes the value of settings (the rest: anything; booleans: true false). */
static const struct {
    const char *key;
    const char *values;
} setting_values[] = {
    {"log-level", "debug info warn error off"},
    {"metrics-auth", "viewer none"},
    {"tls-cert", CLI_VALUES_FILE},
    {"tls-key", CLI_VALUES_FILE},
    {"import-root", CLI_VALUES_DIRECTORY},
    {"spool-dir", CLI_VALUES_DIRECTORY},
};

static const char *values_of_setting(const struct config_option *o)
{
    for (size_t i = 0; i < sizeof(setting_values) / sizeof(setting_values[0]); i++)
        if (strcmp(setting_values[i].key, o->key) == 0)
            return setting_values[i].values;
    return o->type == CONFIG_BOOL ? "true false" : NULL;
}

/*
 * option_at - cmd's option number i: its flags, then the settings it
 * reads, then --config (when it reads any), then --help. Returns false
 * past the last.
 */
static bool option_at(const struct command *cmd, size_t i, struct option_view *ret)
{
    for (const struct cli_flag *f = cmd->flags; f && f->name; f++, i--)
        if (i == 0) {
            *ret = (struct option_view){f->name, f->takes_value, f->help, f->values};
            return true;
        }
    for (size_t k = 0; config_options[k].key; k++) {
        const struct config_option *o = &config_options[k];
        if (!cli_command_lists_setting(cmd, o->key))
            continue;
        if (i-- == 0) {
            *ret = (struct option_view){o->key, true, o->help, values_of_setting(o)};
            return true;
        }
    }
    if (cmd->settings != CLI_SETTINGS_NONE && i-- == 0) {
        *ret =
            (struct option_view){"config", true, "INI file to read settings from", CLI_VALUES_FILE};
        return true;
    }
    if (i == 0) {
        *ret = (struct option_view){"help", false, "this help", NULL};
        return true;
    }
    return false;
}

/* ---- bash ---- */

static const char bash_helpers[] =
    "# Load it from ~/.bashrc (source <(importq completion bash)), or install it as\n"
    "# share/bash-completion/completions/importq (make install does).\n"
    "\n"
    "# _importq_values WORDS: COMPREPLY from WORDS, <file> or <directory> for $cur.\n"
    "_importq_values() {\n"
    "    case $1 in\n"
    "    \"" CLI_VALUES_FILE "\")\n"
    "        compopt -o filenames 2>/dev/null\n"
    "        COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
    "    \"" CLI_VALUES_DIRECTORY "\")\n"
    "        compopt -o filenames 2>/dev/null\n"
    "        COMPREPLY=($(compgen -d -- \"$cur\")) ;;\n"
    "    \"" CLI_VALUES_COMMAND
    "\") COMPREPLY=($(compgen -W \"$_importq_commands\" -- \"$cur\")) ;;\n"
    "    *) COMPREPLY=($(compgen -W \"$1\" -- \"$cur\")) ;;\n"
    "    esac\n"
    "}\n"
    "\n";

static const char bash_head[] =
    "_importq() {\n"
    "    local cur=${COMP_WORDS[COMP_CWORD]} prev= cmd=${COMP_WORDS[1]}\n"
    "    local flags= valued= operands= i w skip= count=0\n"
    "    COMPREPLY=()\n"
    "    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
    "    # --flag=value: bash splits it at the =\n"
    "    [[ $cur == = ]] && return\n"
    "    [[ $prev == = ]] && ((COMP_CWORD > 1)) && prev=${COMP_WORDS[COMP_CWORD - 2]}\n"
    "    if ((COMP_CWORD == 1)); then\n"
    "        COMPREPLY=($(compgen -W \"$_importq_commands --help --version\" -- \"$cur\"))\n"
    "        return\n"
    "    fi\n"
    "    case $cmd in\n";

static const char bash_tail[] =
    "    *) return ;;\n"
    "    esac\n"
    "    [[ $valued == *\" $prev \"* ]] && return # a value nothing is known of\n"
    "    if [[ $cur == -* ]]; then\n"
    "        COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n"
    "        return\n"
    "    fi\n"
    "    # the first operand (FILE, a subcommand), when none is given yet\n"
    "    for ((i = 2; i < COMP_CWORD; i++)); do\n"
    "        w=${COMP_WORDS[i]}\n"
    "        if [[ $w == = ]]; then skip=1; continue; fi\n"
    "        if [[ -n $skip ]]; then skip=; continue; fi\n"
    "        case $w in\n"
    "        --*) [[ $valued == *\" $w \"* ]] && skip=1 ;;\n"
    "        -h) ;;\n"
    "        *) count=$((count + 1)) ;;\n"
    "        esac\n"
    "    done\n"
    "    ((count == 0)) && [[ -n $operands ]] && _importq_values \"$operands\"\n"
    "    return 0\n"
    "}\n"
    "complete -F _importq importq\n";

/* bash_command - one command's case: its flags, those taking a value, values, operands. */
static void bash_command(const struct command *cmd, FILE *out)
{
    struct option_view o;
    fprintf(out, "    %s)\n        flags='", cmd->name);
    for (size_t i = 0; option_at(cmd, i, &o); i++)
        fprintf(out, "%s--%s", i ? " " : "", o.name);
    fputs("'\n        valued=' ", out);
    for (size_t i = 0; option_at(cmd, i, &o); i++)
        if (o.takes_value)
            fprintf(out, "--%s ", o.name);
    fputs("'\n", out);
    if (cmd->operands)
        fprintf(out, "        operands='%s'\n", cmd->operands);
    fputs("        case $prev in\n", out);
    for (size_t i = 0; option_at(cmd, i, &o); i++)
        if (o.takes_value && o.values)
            fprintf(out, "        --%s) _importq_values '%s'; return ;;\n", o.name, o.values);
    fputs("        esac\n        ;;\n", out);
}

static void print_bash(const struct cli_program *program, FILE *out)
{
    fprintf(out,
            "# bash completion for importq, generated by `importq completion bash`"
            " (importq %s).\n",
            program->version);
    fputs(bash_helpers, out);
    fputs("_importq_commands='", out);
    for (size_t i = 0; i < program->count; i++)
        fprintf(out, "%s%s", i ? " " : "", program->commands[i].name);
    fputs("'\n\n", out);
    fputs(bash_head, out);
    for (size_t i = 0; i < program->count; i++)
        bash_command(&program->commands[i], out);
    fputs(bash_tail, out);
}

/* ---- zsh ---- */

/*
 * zsh_quoted - text inside a single-quoted _arguments or _describe item:
 * ' closes and reopens the quotes, and [ ] : are escaped (they delimit
 * the item's parts).
 */
static void zsh_quoted(const char *text, FILE *out)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", out);
        else if (*p == '[' || *p == ']' || *p == ':' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else
            fputc(*p, out);
    }
}

/* zsh_action - the _arguments action completing a value of values. */
static void zsh_action(const char *values, FILE *out)
{
    if (values && strcmp(values, CLI_VALUES_COMMAND) == 0)
        fputs("{_describe -t commands \"importq command\" commands}", out);
    else if (!values)
        fputs(" ", out);
    else if (strcmp(values, CLI_VALUES_FILE) == 0)
        fputs("_files", out);
    else if (strcmp(values, CLI_VALUES_DIRECTORY) == 0)
        fputs("_files -/", out);
    else
        fprintf(out, "(%s)", values);
}

static void zsh_command(const struct command *cmd, FILE *out)
{
    struct option_view o;
    fprintf(out, "    %s)\n        _arguments -S", cmd->name);
    for (size_t i = 0; option_at(cmd, i, &o); i++) {
        fprintf(out, " \\\n            '--%s%s[", o.name, o.takes_value ? "=" : "");
        zsh_quoted(o.help, out);
        fputs("]", out);
        if (o.takes_value) {
            fprintf(out, ":%s:", o.name);
            zsh_action(o.values, out);
        }
        fputs("'", out);
    }
    fputs(" \\\n            '-h[this help]'", out);
    if (cmd->operands) {
        fputs(" \\\n            '1:operand:", out);
        zsh_action(cmd->operands, out);
        fputs("'", out);
    }
    fputs("\n        ;;\n", out);
}

static void print_zsh(const struct cli_program *program, FILE *out)
{
    fprintf(out,
            "#compdef importq\n"
            "# zsh completion for importq, generated by `importq completion zsh` (importq %s).\n"
            "# Install it as _importq in a directory of $fpath before compinit runs\n"
            "# (make install puts it in share/zsh/site-functions).\n"
            "\n"
            "_importq() {\n"
            "    local -a commands\n"
            "    commands=(\n",
            program->version);
    for (size_t i = 0; i < program->count; i++) {
        fputs("        '", out);
        zsh_quoted(program->commands[i].name, out);
        fputs(":", out);
        for (const char *p = program->commands[i].summary; *p; p++)
            if (*p == '\'')
                fputs("'\\''", out);
            else
                fputc(*p, out);
        fputs("'\n", out);
    }
    fputs("    )\n"
          "    if ((CURRENT == 2)); then\n"
          "        _describe -t commands 'importq command' commands\n"
          "        return\n"
          "    fi\n"
          "    local cmd=${words[2]}\n"
          "    shift words\n"
          "    ((CURRENT--))\n"
          "    curcontext=\"${curcontext%:*:*}:importq-$cmd:\"\n"
          "    case $cmd in\n",
          out);
    for (size_t i = 0; i < program->count; i++)
        zsh_command(&program->commands[i], out);
    fputs("    esac\n"
          "}\n"
          "\n"
          "if [[ $funcstack[1] == _importq ]]; then\n"
          "    _importq \"$@\" # autoloaded from $fpath\n"
          "else\n"
          "    compdef _importq importq # sourced\n"
          "fi\n",
          out);
}

int cli_completion_print(const struct cli_program *program, const char *shell, FILE *out)
{
    if (strcmp(shell, "bash") == 0)
        print_bash(program, out);
    else if (strcmp(shell, "zsh") == 0)
        print_zsh(program, out);
    else
        return -1;
    return 0;
}
