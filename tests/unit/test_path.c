/*
 * test_path.c - path_resolve_inside (src/util/path.c) on a real directory
 * tree made under mkdtemp:
 *
 *   <tmp>/root/data/users.csv
 *   <tmp>/root/link_in        -> data                  (inside: allowed)
 *   <tmp>/root/link_out       -> ../outside            (directory outside)
 *   <tmp>/root/secret_link    -> <tmp>/outside/secret.txt
 *   <tmp>/root/dangling       -> <tmp>/outside/nothing
 *   <tmp>/root/to_root2       -> ../root2              (prefix confusion)
 *   <tmp>/root/loop           -> loop
 *   <tmp>/root/file.txt
 *   <tmp>/root2/x.csv
 *   <tmp>/outside/secret.txt
 *   <tmp>/root_link           -> root                  (the root itself via a link)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/path.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tree {
    char base[64];          /* the mkdtemp directory, as created */
    char *base_real;        /* its realpath (TMPDIR may be a symlink) */
    char root[128];
};

static void make_file(const char *path)
{
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs("a,b\n1,2\n", file);
    fclose(file);
}

static void make_link(const char *target, const char *base, const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", base, name);
    assert_int_equal(symlink(target, path), 0);
}

static void make_dir(const char *base, const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", base, name);
    assert_int_equal(mkdir(path, 0700), 0);
}

static int tree_setup(void **state)
{
    struct tree *tree = calloc(1, sizeof(*tree));
    assert_non_null(tree);
    snprintf(tree->base, sizeof(tree->base), "/tmp/iq-path-XXXXXX");
    assert_non_null(mkdtemp(tree->base));
    tree->base_real = realpath(tree->base, NULL);
    assert_non_null(tree->base_real);
    snprintf(tree->root, sizeof(tree->root), "%s/root", tree->base);
    char path[256];
    make_dir(tree->base, "root");
    make_dir(tree->base, "root2");
    make_dir(tree->base, "outside");
    make_dir(tree->root, "data");
    snprintf(path, sizeof(path), "%s/data/users.csv", tree->root);
    make_file(path);
    snprintf(path, sizeof(path), "%s/file.txt", tree->root);
    make_file(path);
    snprintf(path, sizeof(path), "%s/root2/x.csv", tree->base);
    make_file(path);
    snprintf(path, sizeof(path), "%s/outside/secret.txt", tree->base);
    make_file(path);
    make_link("data", tree->root, "link_in");
    make_link("../outside", tree->root, "link_out");
    snprintf(path, sizeof(path), "%s/outside/secret.txt", tree->base);
    make_link(path, tree->root, "secret_link");
    snprintf(path, sizeof(path), "%s/outside/nothing", tree->base);
    make_link(path, tree->root, "dangling");
    make_link("../root2", tree->root, "to_root2");
    make_link("loop", tree->root, "loop");
    make_link("root", tree->base, "root_link");
    *state = tree;
    return 0;
}

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void)info;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int tree_teardown(void **state)
{
    struct tree *tree = *state;
    nftw(tree->base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(tree->base_real);
    free(tree);
    return 0;
}

/* expect_inside - relative resolves to <real base>/<expected>. */
static void expect_inside(const struct tree *tree, const char *relative, const char *expected)
{
    char *absolute = NULL;
    struct iq_error err = {0};
    int rc = path_resolve_inside(tree->root, relative, &absolute, &err);
    if (rc != 0)
        fail_msg("\"%s\" refused: %s", relative, iq_error_message(&err));
    char want[512];
    snprintf(want, sizeof(want), "%s/%s", tree->base_real, expected);
    assert_string_equal(absolute, want);
    free(absolute);
    iq_error_clear(&err);
}

/* expect_refused - relative is refused with code; message contains text when given. */
static void expect_refused(const struct tree *tree, const char *relative, int code,
                           const char *text)
{
    char *absolute = (char *)"sentinel";
    struct iq_error err = {0};
    int rc = path_resolve_inside(tree->root, relative, &absolute, &err);
    if (rc != code)
        fail_msg("\"%s\": expected %d, got %d (%s)", relative, code, rc,
                 rc ? iq_error_message(&err) : absolute);
    assert_null(absolute);
    assert_non_null(err.message);
    if (text && !strstr(err.message, text))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", relative, err.message, text);
    iq_error_clear(&err);
}

static void test_existing_files(void **state)
{
    const struct tree *tree = *state;
    expect_inside(tree, "data/users.csv", "root/data/users.csv");
    expect_inside(tree, "data/./users.csv", "root/data/users.csv");
    expect_inside(tree, "./data//users.csv", "root/data/users.csv");
    expect_inside(tree, "file.txt", "root/file.txt");
    expect_inside(tree, "data", "root/data");
    expect_inside(tree, "data/", "root/data");
    expect_inside(tree, ".", "root");
}

static void test_missing_files(void **state)
{
    const struct tree *tree = *state;
    expect_inside(tree, "data/new.csv", "root/data/new.csv");
    expect_inside(tree, "new.csv", "root/new.csv");
    expect_inside(tree, "a/b/c.csv", "root/a/b/c.csv");
    expect_inside(tree, "a/./b//c.csv", "root/a/b/c.csv");
    expect_inside(tree, "link_in/new/deeper.csv", "root/data/new/deeper.csv");
    /* Below a regular file nothing can exist; the path is still inside. */
    expect_inside(tree, "file.txt/x", "root/file.txt/x");
}

static void test_symlink_inside(void **state)
{
    const struct tree *tree = *state;
    expect_inside(tree, "link_in/users.csv", "root/data/users.csv");
    expect_inside(tree, "link_in", "root/data");
}

static void test_symlinks_outside_refused(void **state)
{
    const struct tree *tree = *state;
    expect_refused(tree, "link_out/secret.txt", IQ_E_INVALID, "path escapes the import root");
    expect_refused(tree, "link_out", IQ_E_INVALID, "path escapes the import root");
    expect_refused(tree, "link_out/missing/file.csv", IQ_E_INVALID, "path escapes the import root");
    expect_refused(tree, "secret_link", IQ_E_INVALID, "path escapes the import root");
    expect_refused(tree, "dangling", IQ_E_INVALID, "dangling");
    expect_refused(tree, "dangling/x.csv", IQ_E_INVALID, NULL);
    expect_refused(tree, "loop", IQ_E_INVALID, NULL);
}

static void test_prefix_confusion_refused(void **state)
{
    const struct tree *tree = *state;
    expect_refused(tree, "to_root2/x.csv", IQ_E_INVALID, "path escapes the import root");
    expect_refused(tree, "to_root2", IQ_E_INVALID, "path escapes the import root");
    assert_false(path_is_inside("/srv/root", "/srv/root2"));
    assert_false(path_is_inside("/srv/root", "/srv/root2/x"));
    assert_false(path_is_inside("/srv/root", "/srv/roo"));
    assert_true(path_is_inside("/srv/root", "/srv/root"));
    assert_true(path_is_inside("/srv/root", "/srv/root/x"));
    assert_true(path_is_inside("/", "/anything"));
}

static void test_unsafe_relative_refused(void **state)
{
    const struct tree *tree = *state;
    expect_refused(tree, "../root2/x.csv", IQ_E_INVALID, NULL);
    expect_refused(tree, "data/../../outside/secret.txt", IQ_E_INVALID, NULL);
    expect_refused(tree, "/etc/passwd", IQ_E_INVALID, NULL);
    expect_refused(tree, "", IQ_E_INVALID, NULL);
    expect_refused(tree, "data\\users.csv", IQ_E_INVALID, NULL);
    char *absolute = NULL;
    assert_int_equal(path_resolve_inside(tree->root, NULL, &absolute, NULL), IQ_E_INVALID);
    assert_null(absolute);
}

static void test_root_forms(void **state)
{
    const struct tree *tree = *state;
    char root[256];
    char *absolute = NULL;
    char want[512];
    snprintf(want, sizeof(want), "%s/root/data/users.csv", tree->base_real);

    /* The root given through a symlink or with a trailing slash. */
    snprintf(root, sizeof(root), "%s/root_link", tree->base);
    assert_int_equal(path_resolve_inside(root, "data/users.csv", &absolute, NULL), 0);
    assert_string_equal(absolute, want);
    free(absolute);
    snprintf(root, sizeof(root), "%s/root/", tree->base);
    assert_int_equal(path_resolve_inside(root, "data/users.csv", &absolute, NULL), 0);
    assert_string_equal(absolute, want);
    free(absolute);

    /* "/" as the root: everything absolute is inside it. */
    assert_int_equal(path_resolve_inside("/", want + 1, &absolute, NULL), 0);
    assert_string_equal(absolute, want);
    free(absolute);
}

static void test_bad_root(void **state)
{
    const struct tree *tree = *state;
    char root[256];
    char *absolute = (char *)"sentinel";
    struct iq_error err = {0};
    snprintf(root, sizeof(root), "%s/no-such-dir", tree->base);
    assert_int_equal(path_resolve_inside(root, "x.csv", &absolute, &err), IQ_E_IO);
    assert_null(absolute);
    iq_error_clear(&err);
    snprintf(root, sizeof(root), "%s/root/file.txt", tree->base);
    assert_int_equal(path_resolve_inside(root, "x.csv", &absolute, &err), IQ_E_IO);
    assert_non_null(strstr(err.message, "not a directory"));
    iq_error_clear(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_existing_files),
        cmocka_unit_test(test_missing_files),
        cmocka_unit_test(test_symlink_inside),
        cmocka_unit_test(test_symlinks_outside_refused),
        cmocka_unit_test(test_prefix_confusion_refused),
        cmocka_unit_test(test_unsafe_relative_refused),
        cmocka_unit_test(test_root_forms),
        cmocka_unit_test(test_bad_root),
    };
    return cmocka_run_group_tests_name("path", tests, tree_setup, tree_teardown);
}
