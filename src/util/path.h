/*
 * path.h - resolve a user-supplied relative path (source.path) against a
 * directory (the import root) so that it cannot leave it, symbolic links
 * included. This is the file-system half of the check; spec_path_is_safe()
 * in core/job_spec.h is the lexical half, done when the spec is parsed.
 */
#ifndef IMPORTQ_UTIL_PATH_H
#define IMPORTQ_UTIL_PATH_H

#include "core/error.h"

#include <stdbool.h>

/*
 * path_resolve_inside - the absolute, symlink-free path that relative names
 * under the directory root. relative must pass spec_path_is_safe(). When the
 * file exists the result is realpath(root/relative); when it does not, it is
 * the realpath of its deepest existing ancestor followed by the remaining
 * components ("." and empty components dropped).
 *
 * Every existing component is resolved in turn and must stay inside the
 * resolved root, so a symlink that leads out is refused even when a later
 * component would lead back in. A dangling symlink is refused too: what it
 * would name once its target appears cannot be known now.
 *
 * Returns 0 and a new string in *ret_absolute (the caller frees it), or
 *   IQ_E_INVALID  relative is unsafe, the path escapes the import root, goes
 *                 through a dangling symlink or a symlink loop, or is too long;
 *   IQ_E_IO       root cannot be resolved or is not a directory, or another
 *                 file-system error;
 *   IQ_E_NOMEM.
 * On failure *ret_absolute is NULL and err (may be NULL) says why.
 */
int path_resolve_inside(const char *root, const char *relative, char **ret_absolute,
                        struct iq_error *err);

/*
 * path_is_inside - whether path is root or lies below it, compared component
 * by component ("/srv/root2" is not inside "/srv/root"). Both must be
 * absolute and canonical (as realpath returns them).
 */
bool path_is_inside(const char *root, const char *path);

#endif
