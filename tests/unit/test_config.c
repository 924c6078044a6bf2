/* test_config.c - settings: defaults, value parsers, INI file, environment, precedence. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_defaults_match_contract(void **state)
{
    (void)state;
    struct config cfg;
    assert_int_equal(config_init(&cfg), 0);
    assert_string_equal(cfg.db, "sqlite:var/importq.db");
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    assert_string_equal(cfg.import_root, "./imports");
    assert_int_equal(cfg.max_concurrent, 3);
    assert_int_equal(cfg.job_timeout, 30 * 60 * 1000);
    assert_int_equal(cfg.lock_lease, 5 * 60 * 1000);
    assert_int_equal(cfg.max_queue_size, 1000);
    assert_int_equal(cfg.max_attempts, 3);
    assert_int_equal(cfg.max_body, 1024 * 1024);
    assert_string_equal(cfg.target_schemas, ""); /* the connection's first search_path schema */
    config_clear(&cfg);
    config_clear(&cfg); /* idempotent */
}

static void test_duration_table(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int ok;
        int64_t ms;
    } cases[] = {
        {"30min", 1, 1800000}, {"5m", 1, 300000},   {"300", 1, 300000},   {"90s", 1, 90000},
        {"250ms", 1, 250},     {"1h30m", 1, 5400000}, {"2d", 1, 172800000}, {"0", 1, 0},
        {"1H", 1, 3600000},    {"", 0, 0},          {"-5s", 0, 0},        {"5 s", 0, 0},
        {"5x", 0, 0},          {"s", 0, 0},         {"1h30", 0, 0},       {"99999999999999999999", 0, 0},
        {"10s5", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ms = -1;
        int rc = config_parse_duration_ms(cases[i].text, &ms);
        if (cases[i].ok ? (rc != 0 || ms != cases[i].ms) : rc == 0)
            fail_msg("duration \"%s\": rc %d ms %lld", cases[i].text, rc, (long long)ms);
    }
}

static void test_size_int_bool_tables(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int ok;
        int64_t bytes;
    } sizes[] = {
        {"1MiB", 1, 1048576}, {"1m", 1, 1048576}, {"10MB", 1, 10000000}, {"512k", 1, 524288},
        {"1GiB", 1, 1073741824}, {"100", 1, 100}, {"1.5MiB", 0, 0}, {"MiB", 0, 0}, {"1TB", 0, 0},
        {"1MiB2k", 0, 0},
    };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        int64_t bytes = -1;
        int rc = config_parse_size(sizes[i].text, &bytes);
        if (sizes[i].ok ? (rc != 0 || bytes != sizes[i].bytes) : rc == 0)
            fail_msg("size \"%s\": rc %d", sizes[i].text, rc);
    }
    int64_t n;
    assert_int_equal(config_parse_int("42", &n), 0);
    assert_int_equal(n, 42);
    assert_int_not_equal(config_parse_int("-1", &n), 0);
    assert_int_not_equal(config_parse_int("4x", &n), 0);
    assert_int_not_equal(config_parse_int(" 4", &n), 0);
    assert_int_not_equal(config_parse_int("99999999999", &n), 0);
    bool b;
    assert_int_equal(config_parse_bool("Yes", &b), 0);
    assert_true(b);
    assert_int_equal(config_parse_bool("off", &b), 0);
    assert_false(b);
    assert_int_not_equal(config_parse_bool("maybe", &b), 0);
}

static void test_set_by_any_key_spelling(void **state)
{
    (void)state;
    struct config cfg;
    struct iq_error err = {0};
    config_init(&cfg);
    assert_int_equal(config_set(&cfg, "max-concurrent", "7", "test", &err), 0);
    assert_int_equal(config_set(&cfg, "MAX_QUEUE_SIZE", "9", "test", &err), 0);
    assert_int_equal(config_set(&cfg, "lock_lease", "1min", "test", &err), 0);
    assert_int_equal(config_set(&cfg, "TARGET_SCHEMAS", "crm, public", "test", &err), 0);
    assert_string_equal(cfg.target_schemas, "crm, public");
    assert_int_equal(cfg.max_concurrent, 7);
    assert_int_equal(cfg.max_queue_size, 9);
    assert_int_equal(cfg.lock_lease, 60000);
    assert_int_equal(config_set(&cfg, "max-concurrent", "lots", "--max-concurrent", &err), IQ_E_INVALID);
    assert_non_null(strstr(iq_error_message(&err), "--max-concurrent"));
    assert_int_equal(config_set(&cfg, "no-such", "1", "test", &err), IQ_E_NOT_FOUND);
    iq_error_clear(&err);
    config_clear(&cfg);
}

static const char *fake_env(const char *name)
{
    if (strcmp(name, "IMPORTQ_DB") == 0)
        return "postgres://u@127.0.0.1:5/x";
    if (strcmp(name, "IMPORTQ_MAX_CONCURRENT") == 0)
        return "5";
    return NULL;
}

static const char *bad_env(const char *name)
{
    return strcmp(name, "IMPORTQ_JOB_TIMEOUT") == 0 ? "soon" : NULL;
}

static char *write_file(const char *text)
{
    char *path = strdup("/tmp/importq-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_file_then_env_then_flag(void **state)
{
    (void)state;
    struct config cfg;
    struct iq_error err = {0};
    config_init(&cfg);
    char *path = write_file("; comment\n[importq]\nmax_concurrent = 4\nlisten = 0.0.0.0:9000\n"
                            "import-root = /srv/in\n[target.crm]\nurl = sqlite:/tmp/crm.db\n");
    assert_int_equal(config_load_file(&cfg, path, &err), 0);
    assert_int_equal(cfg.max_concurrent, 4);
    assert_string_equal(cfg.listen, "0.0.0.0:9000");
    assert_string_equal(cfg.import_root, "/srv/in");
    assert_string_equal(config_target_url(&cfg, "crm"), "sqlite:/tmp/crm.db");
    assert_null(config_target_url(&cfg, "erp"));
    assert_int_equal(config_load_env(&cfg, fake_env, NULL, &err), 0);
    assert_int_equal(cfg.max_concurrent, 5);          /* env beats file */
    assert_string_equal(cfg.db, "postgres://u@127.0.0.1:5/x");
    assert_string_equal(cfg.listen, "0.0.0.0:9000");  /* file beats default */
    assert_int_equal(config_set(&cfg, "max-concurrent", "6", "--max-concurrent", &err), 0);
    assert_int_equal(cfg.max_concurrent, 6);          /* flag beats env */
    assert_int_equal(config_load_env(&cfg, bad_env, NULL, &err), IQ_E_INVALID);
    assert_non_null(strstr(iq_error_message(&err), "IMPORTQ_JOB_TIMEOUT"));
    iq_error_clear(&err);
    unlink(path);
    free(path);
    config_clear(&cfg);
}

static void test_named_targets(void **state)
{
    (void)state;
    struct config cfg;
    struct iq_error err = {0};
    config_init(&cfg);
    char *envp[] = {"PATH=/bin", "IMPORTQ_TARGET_ERP=postgres://erp@127.0.0.1/erp",
                    "IMPORTQ_TARGET_CRM=sqlite:/tmp/crm2.db", NULL};
    char *path = write_file("[target.crm]\nurl = sqlite:/tmp/crm.db\n[target.dwh]\nurl = sqlite:/tmp/dwh.db\n");
    assert_int_equal(config_load_file(&cfg, path, &err), 0);
    assert_int_equal(config_load_env(&cfg, fake_env, envp, &err), 0);
    assert_string_equal(config_target_url(&cfg, "erp"), "postgres://erp@127.0.0.1/erp");
    assert_string_equal(config_target_url(&cfg, "crm"), "sqlite:/tmp/crm2.db"); /* env wins */
    assert_string_equal(config_target_url(&cfg, "dwh"), "sqlite:/tmp/dwh.db");
    assert_int_equal(cfg.target_count, 3);
    assert_int_equal(config_set_target(&cfg, "bad-name", "sqlite:x", &err), IQ_E_INVALID);
    iq_error_clear(&err);
    unlink(path);
    free(path);
    static const char *const bad_files[] = {
        "[target.crm]\npath = x\n",      /* unknown key in a target */
        "[target.9x]\nurl = sqlite:x\n", /* not an identifier */
        "[nonsense]\nx = 1\n",           /* unknown section */
    };
    for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
        path = write_file(bad_files[i]);
        assert_int_equal(config_load_file(&cfg, path, &err), IQ_E_INVALID);
        iq_error_clear(&err);
        unlink(path);
        free(path);
    }
    config_clear(&cfg);
}

static void test_file_errors(void **state)
{
    (void)state;
    struct config cfg;
    struct iq_error err = {0};
    config_init(&cfg);
    char *path = write_file("[importq]\nmax_concurrent = 2\nmax_concurent = 3\n");
    assert_int_equal(config_load_file(&cfg, path, &err), IQ_E_INVALID);
    assert_non_null(strstr(iq_error_message(&err), ":3:"));
    assert_non_null(strstr(iq_error_message(&err), "max_concurent"));
    iq_error_clear(&err);
    unlink(path);
    free(path);
    path = write_file("[importq]\nlock_lease = forever\n");
    assert_int_equal(config_load_file(&cfg, path, &err), IQ_E_INVALID);
    assert_non_null(strstr(iq_error_message(&err), "duration"));
    iq_error_clear(&err);
    unlink(path);
    free(path);
    path = write_file("[importq\nx\n");
    assert_int_equal(config_load_file(&cfg, path, &err), IQ_E_INVALID);
    iq_error_clear(&err);
    unlink(path);
    free(path);
    assert_int_equal(config_load_file(&cfg, "/nonexistent/importq.ini", &err), IQ_E_IO);
    iq_error_clear(&err);
    char name[64];
    config_env_name("import-root", name, sizeof(name));
    assert_string_equal(name, "IMPORTQ_IMPORT_ROOT");
    config_clear(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_match_contract),
        cmocka_unit_test(test_duration_table),
        cmocka_unit_test(test_size_int_bool_tables),
        cmocka_unit_test(test_set_by_any_key_spelling),
        cmocka_unit_test(test_file_then_env_then_flag),
        cmocka_unit_test(test_named_targets),
        cmocka_unit_test(test_file_errors),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
