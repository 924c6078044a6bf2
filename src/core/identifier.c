/*
 * identifier.c - the lexical checks on names and paths that a job spec
 * carries: SQL identifiers, the service's reserved table names, and the
 * source path (declared in job_spec.h). Pure text checks: nothing here
 * touches the file system (util/path.c resolves a path against the import
 * root) or reports field errors (the job_spec*.c parsers do that).
 */
#include "core/job_spec.h"

#include <string.h>
#include <strings.h>

static bool ascii_letter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool ascii_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool identifier_is_valid(const char *name)
{
    if (!name || !(ascii_letter(name[0]) || name[0] == '_'))
        return false;
    size_t length = 1;
    for (const char *p = name + 1; *p; p++, length++) {
        if (length >= IDENTIFIER_MAX_LEN)
            return false;
        if (!ascii_letter(*p) && !ascii_digit(*p) && *p != '_')
            return false;
    }
    return true;
}

bool identifier_is_reserved(const char *name)
{
    if (!name)
        return false;
    return strncasecmp(name, "stg_import_", strlen("stg_import_")) == 0 ||
           strcasecmp(name, "stg_scheduled_imports") == 0 ||
           strncasecmp(name, "importq_", strlen("importq_")) == 0;
}

/*
 * spec_path_is_safe - besides what the header says, a backslash anywhere is
 * refused: it is a separator on Windows clients and never needed here.
 */
bool spec_path_is_safe(const char *path)
{
    if (!path || !path[0] || path[0] == '/' || strlen(path) > SPEC_MAX_PATH_LEN)
        return false;
    if (strchr(path, '\\'))
        return false;
    const char *component = path;
    for (;;) {
        size_t length = strcspn(component, "/");
        if (length == 2 && component[0] == '.' && component[1] == '.')
            return false;
        if (component[length] == '\0')
            return true;
        component += length + 1;
    }
}
