/*
 * path.c - confine a relative path to the import root on the real file
 * system. The path is walked one component at a time with realpath(3), so
 * each symlink is followed and checked where it leads; the part of the path
 * that does not exist yet is appended as text (it cannot contain "..",
 * spec_path_is_safe saw to that). Not a sandbox against races: a directory
 * swapped for a symlink after the check is the caller's concern (open with
 * O_NOFOLLOW where that matters).
 */
#include "util/path.h"

#include "core/job_spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ESCAPE_MESSAGE "path escapes the import root"

bool path_is_inside(const char *root, const char *path)
{
    size_t length = strlen(root);
    if (length == 1 && root[0] == '/')
        return path[0] == '/';
    return strncmp(path, root, length) == 0 && (path[length] == '\0' || path[length] == '/');
}

/* errno_code - the IQ_E_* kind for a failed realpath/stat errno. */
static int errno_code(int error)
{
    if (error == ENOMEM)
        return IQ_E_NOMEM;
    if (error == ELOOP || error == ENAMETOOLONG)
        return IQ_E_INVALID;
    return IQ_E_IO;
}

/* errno_fail - set err from error (an errno value) about what; returns the code. */
static int errno_fail(struct iq_error *err, int error, const char *what)
{
    char buffer[128];
    const char *reason = strerror_r(error, buffer, sizeof(buffer));
    return iq_error_set(err, errno_code(error), "%s: %s", what, reason);
}

/* resolve_root - realpath of root, which must be a directory. Caller frees *ret_real. */
static int resolve_root(const char *root, char **ret_real, struct iq_error *err)
{
    char *real = realpath(root, NULL);
    if (!real) {
        int error = errno;
        return error == ENOMEM ? iq_error_set(err, IQ_E_NOMEM, "out of memory")
                               : errno_fail(err, error, "import root");
    }
    struct stat info;
    if (stat(real, &info) != 0 || !S_ISDIR(info.st_mode)) {
        free(real);
        return iq_error_set(err, IQ_E_IO, "import root is not a directory");
    }
    *ret_real = real;
    return 0;
}

/*
 * next_component - the next component of *cursor, skipping empty and "."
 * ones; advances *cursor past it. Returns its length, 0 at the end.
 */
static size_t next_component(const char **cursor, const char **ret_start)
{
    for (;;) {
        const char *start = *cursor;
        size_t length = strcspn(start, "/");
        *cursor = start + length + (start[length] == '/');
        if (length == 0 && start[0] == '\0')
            return 0;
        if (length == 0 || (length == 1 && start[0] == '.'))
            continue;
        *ret_start = start;
        return length;
    }
}

/* append_component - base + "/" + component[0..length). Caller frees; NULL on OOM. */
static char *append_component(const char *base, const char *component, size_t length)
{
    size_t base_length = strlen(base);
    bool needs_slash = base_length == 0 || base[base_length - 1] != '/';
    char *joined = NULL;
    if (asprintf(&joined, "%s%s%.*s", base, needs_slash ? "/" : "", (int)length, component) < 0)
        return NULL;
    return joined;
}

/*
 * append_missing - *path plus the components left in cursor, which do not
 * exist yet. Replaces *path. 0 or IQ_E_NOMEM.
 */
static int append_missing(char **path, const char *cursor, struct iq_error *err)
{
    const char *start;
    size_t length;
    while ((length = next_component(&cursor, &start)) > 0) {
        char *longer = append_component(*path, start, length);
        if (!longer)
            return iq_error_set(err, IQ_E_NOMEM, "out of memory");
        free(*path);
        *path = longer;
    }
    return 0;
}

/*
 * step_missing - next (current + one component) could not be resolved.
 * When nothing is there, the rest of the path is appended to next and it
 * becomes the answer (*ret_done). Anything else is refused.
 */
static int step_missing(char **current, char *next, int error, const char *cursor,
                        bool *ret_done, struct iq_error *err)
{
    struct stat info;
    if (error != ENOENT && error != ENOTDIR) {
        free(next);
        return errno_fail(err, error, "cannot resolve the path");
    }
    if (lstat(next, &info) == 0) {
        free(next);
        return iq_error_set(err, IQ_E_INVALID, "path goes through a dangling symbolic link");
    }
    free(*current);
    *current = next;
    *ret_done = true;
    return append_missing(current, cursor, err);
}

/*
 * walk - resolve relative under root_real one component at a time into
 * *current (which starts as a copy of root_real). 0 or an IQ_E_* code.
 */
static int walk(const char *root_real, const char *relative, char **current,
                struct iq_error *err)
{
    const char *cursor = relative;
    const char *start;
    size_t length;
    bool done = false;
    while (!done && (length = next_component(&cursor, &start)) > 0) {
        char *next = append_component(*current, start, length);
        if (!next)
            return iq_error_set(err, IQ_E_NOMEM, "out of memory");
        char *real = realpath(next, NULL);
        if (!real) {
            int rc = step_missing(current, next, errno, cursor, &done, err);
            if (rc != 0)
                return rc;
            continue;
        }
        free(next);
        free(*current);
        *current = real;
        if (!path_is_inside(root_real, real))
            return iq_error_set(err, IQ_E_INVALID, ESCAPE_MESSAGE);
    }
    return 0;
}

int path_resolve_inside(const char *root, const char *relative, char **ret_absolute,
                        struct iq_error *err)
{
    *ret_absolute = NULL;
    if (!root || !relative || !spec_path_is_safe(relative))
        return iq_error_set(err, IQ_E_INVALID,
                            "path must be relative, without \"..\" or backslashes, "
                            "and at most %d bytes",
                            SPEC_MAX_PATH_LEN);
    char *root_real = NULL;
    int rc = resolve_root(root, &root_real, err);
    if (rc != 0)
        return rc;
    char *current = strdup(root_real);
    if (!current) {
        free(root_real);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    rc = walk(root_real, relative, &current, err);
    if (rc == 0 && !path_is_inside(root_real, current))
        rc = iq_error_set(err, IQ_E_INVALID, ESCAPE_MESSAGE);
    free(root_real);
    if (rc != 0) {
        free(current);
        return rc;
    }
    *ret_absolute = current;
    return 0;
}
