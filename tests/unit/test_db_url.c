/*
 * test_db_url.c - src/core/db_url.c: every form of database URL with its
 * password masked (URIs, query parameters, libpq key/value strings), and
 * error messages that quote a URL or a piece of its password.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/db_url.h"

#include <stdlib.h>
#include <string.h>

struct redact_case {
    const char *url;
    const char *expect;
};

static const struct redact_case redact_cases[] = {
    {"postgres://root:root@db:5432/app", "postgres://root:***@db:5432/app"},
    {"postgresql://user:secret@localhost/importq", "postgresql://user:***@localhost/importq"},
    {"postgres://user:s%40cr%2Fet@h/db", "postgres://user:***@h/db"},
    {"postgres://user:raw@pass/word@h/db", "postgres://user:***@h/db"},
    {"postgres://user:p@h1:5432,h2:5433/db?sslmode=require",
     "postgres://user:***@h1:5432,h2:5433/db?sslmode=require"},
    {"postgres://user@h/db", "postgres://user@h/db"},
    {"postgres://user:@h/db", "postgres://user:@h/db"},
    {"postgres://h/db", "postgres://h/db"},
    {"postgres://h/db?password=secret", "postgres://h/db?password=***"},
    {"postgres://u@h/db?sslmode=disable&password=secret&application_name=x",
     "postgres://u@h/db?sslmode=disable&password=***&application_name=x"},
    {"postgres://u:a@h/db?password=b#frag", "postgres://u:***@h/db?password=***#frag"},
    {"host=db user=root password=secret dbname=app",
     "host=db user=root password=*** dbname=app"},
    {"password=secret", "password=***"},
    {"host=db password = secret", "host=db password = ***"},
    {"host=db password='se cr\\'et' dbname=app", "host=db password=*** dbname=app"},
    {"host=db passwordx=1 mypassword=2", "host=db passwordx=1 mypassword=2"},
    {"sqlite:var/importq.db", "sqlite:var/importq.db"},
    {"sqlite:///tmp/pass:word@x.db", "sqlite:///tmp/pass:word@x.db"},
    {"", ""},
};

static void test_redact(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(redact_cases) / sizeof(redact_cases[0]); i++) {
        char *got = db_url_redact(redact_cases[i].url);
        assert_non_null(got);
        if (strcmp(got, redact_cases[i].expect) != 0)
            fail_msg("case %zu: %s -> %s, expected %s", i, redact_cases[i].url, got,
                     redact_cases[i].expect);
        free(got);
    }
    assert_null(db_url_redact(NULL));
}

struct message_case {
    const char *message;
    const char *url;
    const char *expect;
};

static const struct message_case message_cases[] = {
    {"cannot connect to postgres://root:hunter22@db/app: refused", "postgres://root:hunter22@db/app",
     "cannot connect to postgres://root:***@db/app: refused"},
    {"invalid percent-encoded token: \"%zz\"", "postgres://u:ab%zzcd@h/db",
     "invalid percent-encoded token: \"***\""},
    {"extra key/value separator \"=\" in URI query parameter: \"password=a=b\"",
     "postgres://h/db?password=a=b",
     "extra key/value separator \"=\" in URI query parameter: \"password=***\""},
    {"unterminated quoted string in connection info string", "password='se cret",
     "unterminated quoted string in connection info string"},
    {"FATAL: password authentication failed for user \"root\"", "postgres://root:pw@h/db",
     "FATAL: password authentication failed for user \"root\""},
    {"no password here", NULL, "no password here"},
};

static void test_redact_message(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(message_cases) / sizeof(message_cases[0]); i++) {
        char *got = db_url_redact_message(message_cases[i].message, message_cases[i].url);
        assert_non_null(got);
        if (strcmp(got, message_cases[i].expect) != 0)
            fail_msg("case %zu: %s -> %s, expected %s", i, message_cases[i].message, got,
                     message_cases[i].expect);
        free(got);
    }
    assert_null(db_url_redact_message(NULL, "postgres://u:p@h/db"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_redact_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
