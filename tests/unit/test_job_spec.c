/*
 * test_job_spec.c - the job spec validator (src/core/job_spec.c): a table
 * of good and bad specs, then the behaviours a table cannot show well:
 * all errors at once, defaults in the normalised JSON, resource merging,
 * identifiers, paths and the round trip through job_spec_json_from_job.
 *
 * Spec texts are written with single quotes for readability; spec_load()
 * turns them into double quotes (a literal quote is written \\' ).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/job_spec.h"
#include "core/pattern.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UUID_A "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
#define UUID_B "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"
#define ST "'source': {'path': 'users.csv'}"       /* a valid csv source */
#define SJ "'source': {'path': 'steps.json'}"      /* a valid json source */
#define TT "'target': {'table': 'users'}"          /* a valid target */

static const struct job_spec_defaults test_defaults = {.max_attempts = 3, .timeout_s = 1800};

/* spec_load - parse a single-quoted JSON text; fails the test when it is not JSON. */
static json_t *spec_load(const char *text)
{
    char *copy = strdup(text);
    assert_non_null(copy);
    for (char *p = copy; *p; p++) {
        if (*p == '\'')
            *p = '"';
    }
    json_error_t error;
    json_t *value = json_loads(copy, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    if (!value)
        fail_msg("bad test JSON %s: %s", text, error.text);
    free(copy);
    return value;
}

/* parse_text - job_spec_parse of a single-quoted text. */
static int parse_text(const char *text, struct job_spec **ret_spec, struct iq_error *err)
{
    json_t *body = spec_load(text);
    int rc = job_spec_parse(body, &test_defaults, ret_spec, err);
    json_decref(body);
    return rc;
}

static bool has_field(const struct iq_error *err, const char *field)
{
    for (size_t i = 0; i < err->field_count; i++) {
        if (strcmp(err->fields[i].field, field) == 0)
            return true;
    }
    return false;
}

static void print_fields(const struct iq_error *err)
{
    for (size_t i = 0; i < err->field_count; i++)
        print_message("    %s: %s\n", err->fields[i].field, err->fields[i].message);
}

/* expect_errors - text is rejected, with (at least) each of the NULL-terminated fields. */
static void expect_errors(const char *text, ...)
{
    struct iq_error err = {0};
    struct job_spec *spec = NULL;
    int rc = parse_text(text, &spec, &err);
    if (rc != IQ_E_INVALID) {
        print_message("accepted: %s\n", text);
        fail();
    }
    assert_null(spec);
    va_list ap;
    va_start(ap, text);
    for (const char *field; (field = va_arg(ap, const char *));) {
        if (!has_field(&err, field)) {
            print_message("missing error on %s for %s; got:\n", field, text);
            print_fields(&err);
            fail();
        }
    }
    va_end(ap);
    iq_error_clear(&err);
}

/* expect_ok - text is accepted; returns the spec (caller frees). */
static struct job_spec *expect_ok(const char *text)
{
    struct iq_error err = {0};
    struct job_spec *spec = NULL;
    if (parse_text(text, &spec, &err) != 0) {
        print_message("rejected: %s\n", text);
        print_fields(&err);
        fail();
    }
    assert_non_null(spec);
    iq_error_clear(&err);
    return spec;
}

/* expect_json - normalised equals the single-quoted text. */
static void expect_json(const json_t *normalised, const char *text)
{
    json_t *expected = spec_load(text);
    if (!json_equal(normalised, expected)) {
        char *got = json_dumps(normalised, JSON_SORT_KEYS);
        print_message("got      %s\nexpected %s\n", got, text);
        free(got);
        fail();
    }
    json_decref(expected);
}

/* ---- the table ---------------------------------------------------------- */

struct spec_case {
    const char *name;
    const char *json;
    bool ok;
    const char *fields[4];       /* some of the expected error paths */
};

static const struct spec_case spec_cases[] = {
    /* accepted */
    {"minimal csv", "{" ST ", " TT "}", true, {NULL}},
    {"contract example",
     "{'name': 'users nightly', 'priority': 5, 'depends_on': ['" UUID_A "'],"
     " 'scheduled_at': '2026-12-01T02:00:00Z', 'hold': false, 'request_id': 'abc-1',"
     " 'max_attempts': 3, 'timeout_s': 1800, 'resources': [{'name': 'table:teams', 'mode': 'shared'}],"
     " 'source': {'format': 'csv', 'path': 'users.csv',"
     "   'csv': {'delimiter': ',', 'quote': '\\'', 'header': true, 'null': ''}},"
     " 'target': {'table': 'users', 'mode': 'upsert', 'key': ['user_id'], 'create': false,"
     "   'columns': [{'name': 'user_id', 'type': 'bigint', 'required': true},"
     "     {'name': 'email', 'type': 'text', 'required': true, 'max_length': 320, 'pattern': '^[^@]+@[^@]+$'},"
     "     {'name': 'team_id', 'type': 'integer', 'references': 'teams.team_id'},"
     "     {'name': 'active', 'type': 'boolean', 'from': 'is_active'}]},"
     " 'on_error': {'action': 'abort', 'max_rejects': 0}}",
     true, {NULL}},
    {"upload source", "{'source': {'upload': '0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B'}, " TT "}", true, {NULL}},
    {"ndjson with children",
     "{'source': {'path': 'steps.jsonl'}, 'target': {'table': 'steps',"
     " 'columns': [{'name': 'step_id', 'type': 'bigint'}],"
     " 'children': [{'table': 'tasks', 'from': '/task_list', 'parent_key': {'step_id': 'step_id'},"
     "   'key': ['task_id', 'step_id'], 'columns': [{'name': 'task_id', 'type': 'integer'}]}]}}",
     true, {NULL}},
    {"json records pointer",
     "{'source': {'path': 'a.json', 'json': {'records': '/steps'}},"
     " 'target': {'table': 't', 'columns': [{'name': 'a', 'from': '/x/y~1z'}]}}", true, {NULL}},
    {"scheduled_at with offset", "{'scheduled_at': '2026-12-01T02:00:00+02:00', " ST ", " TT "}", true, {NULL}},
    {"nulls for optional fields",
     "{'scheduled_at': null, 'request_id': null, " ST ", 'target': {'table': 't', 'database': null}}",
     true, {NULL}},
    {"upsert with key",
     "{" ST ", 'target': {'table': 'users', 'mode': 'upsert', 'key': ['user_id'],"
     " 'columns': [{'name': 'User_Id', 'type': 'bigint'}]}}", true, {NULL}},
    {"upsert key, no columns",
     "{" ST ", 'target': {'table': 'users', 'mode': 'upsert', 'key': ['a', 'b']}}", true, {NULL}},
    {"append", "{" ST ", 'target': {'table': 'users', 'mode': 'append'}}", true, {NULL}},
    {"append, empty key", "{" ST ", 'target': {'table': 'users', 'mode': 'append', 'key': []}}", true, {NULL}},
    {"replace with key", "{" ST ", 'target': {'table': 'users', 'mode': 'replace', 'key': ['id']}}", true, {NULL}},
    {"csv options",
     "{'source': {'format': 'csv', 'path': 'a.txt', 'csv': {'delimiter': ';', 'quote': '|',"
     " 'header': false, 'null': 'NULL', 'skip_rows': 2}}, " TT "}", true, {NULL}},
    {"tab delimiter", "{'source': {'path': 'a.tsv', 'csv': {'delimiter': '\\t'}}, " TT "}", true, {NULL}},
    {"encodings and their aliases, any case",
     "{'source': {'path': 'a.csv', 'csv': {'encoding': 'ISO-8859-1'}}, " TT "}", true, {NULL}},
    {"encoding cp1252", "{'source': {'path': 'a.csv', 'csv': {'encoding': 'cp1252'}}, " TT "}", true, {NULL}},
    {"csv columns",
     "{'source': {'path': 'a.csv', 'csv': {'header': false, 'columns': ['a', 'b c']}}, " TT "}", true, {NULL}},
    {"enum of numbers",
     "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'n', 'type': 'integer', 'enum': [1, 2, 3.5]}]}}",
     true, {NULL}},
    {"min and max",
     "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'n', 'type': 'numeric', 'min': -1.5, 'max': 10}]}}",
     true, {NULL}},
    {"min equals max",
     "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'n', 'type': 'real', 'min': 2, 'max': 2}]}}",
     true, {NULL}},
    {"duplicate dependencies",
     "{'depends_on': ['" UUID_A "', '0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B'], " ST ", " TT "}", true, {NULL}},
    {"path with dot component", "{'source': {'path': 'a/./b.csv'}, " TT "}", true, {NULL}},
    {"63-character table",
     "{" ST ", 'target': {'table': 'a23456789012345678901234567890123456789012345678901234567890123'}}",
     true, {NULL}},
    {"database", "{" ST ", 'target': {'table': 't', 'database': 'warehouse'}}", true, {NULL}},
    {"create with columns",
     "{" ST ", 'target': {'table': 't', 'create': true, 'columns': [{'name': 'a'}]}}", true, {NULL}},
    {"format overrides extension", "{'source': {'path': 'x.txt', 'format': 'json'}, " TT "}", true, {NULL}},
    {"on_error skip", "{" ST ", " TT ", 'on_error': {'action': 'skip', 'max_rejects': 10}}", true, {NULL}},
    {"own resources",
     "{'resources': [{'name': 'api:crm'}, {'name': 'table:teams', 'mode': 'shared'}], " ST ", " TT "}",
     true, {NULL}},
    {"unicode name", "{'name': 'n\\u00e4chtlicher Import \\u2603', " ST ", " TT "}", true, {NULL}},
    {"priority bounds", "{'priority': 1, " ST ", " TT "}", true, {NULL}},
    {"largest limits", "{'priority': 10, 'timeout_s': 604800, 'max_attempts': 100, " ST ", " TT "}", true, {NULL}},

    /* rejected */
    {"not an object", "[1]", false, {""}},
    {"empty object", "{}", false, {"source", "target"}},
    {"target without table", "{" ST ", 'target': {}}", false, {"target.table"}},
    {"unknown top-level field", "{'priorty': 1, " ST ", " TT "}", false, {"priorty"}},
    {"priority 0", "{'priority': 0, " ST ", " TT "}", false, {"priority"}},
    {"priority 11", "{'priority': 11, " ST ", " TT "}", false, {"priority"}},
    {"priority as string", "{'priority': '5', " ST ", " TT "}", false, {"priority"}},
    {"priority as real", "{'priority': 1.5, " ST ", " TT "}", false, {"priority"}},
    {"depends_on not an array", "{'depends_on': 'x', " ST ", " TT "}", false, {"depends_on"}},
    {"depends_on bad id", "{'depends_on': ['" UUID_A "', 'nope', 7], " ST ", " TT "}", false,
     {"depends_on[1]", "depends_on[2]"}},
    {"scheduled_at impossible date", "{'scheduled_at': '2026-02-30T00:00:00Z', " ST ", " TT "}", false,
     {"scheduled_at"}},
    {"scheduled_at number", "{'scheduled_at': 5, " ST ", " TT "}", false, {"scheduled_at"}},
    {"hold string", "{'hold': 'yes', " ST ", " TT "}", false, {"hold"}},
    {"request_id empty", "{'request_id': '', " ST ", " TT "}", false, {"request_id"}},
    {"attempts and timeout 0", "{'max_attempts': 0, 'timeout_s': 0, " ST ", " TT "}", false,
     {"max_attempts", "timeout_s"}},
    {"max_attempts 101", "{'max_attempts': 101, " ST ", " TT "}", false, {"max_attempts"}},
    {"timeout over a week", "{'timeout_s': 604801, " ST ", " TT "}", false, {"timeout_s"}},
    {"resource without name, bad mode", "{'resources': [{'mode': 'both'}], " ST ", " TT "}", false,
     {"resources[0].name", "resources[0].mode"}},
    {"resource not an object", "{'resources': ['x'], " ST ", " TT "}", false, {"resources[0]"}},
    {"resource unknown field", "{'resources': [{'name': 'x', 'weight': 1}], " ST ", " TT "}", false,
     {"resources[0].weight"}},
    {"resource empty name", "{'resources': [{'name': ''}], " ST ", " TT "}", false, {"resources[0].name"}},
    {"resource control character", "{'resources': [{'name': 'a\\nb'}], " ST ", " TT "}", false,
     {"resources[0].name"}},
    {"source not an object", "{'source': 'a.csv', " TT "}", false, {"source"}},
    {"path and upload", "{'source': {'path': 'a.csv', 'upload': '" UUID_A "'}, " TT "}", false, {"source"}},
    {"neither path nor upload", "{'source': {'format': 'csv'}, " TT "}", false, {"source"}},
    {"upload not a uuid", "{'source': {'upload': 'abc'}, " TT "}", false, {"source.upload"}},
    {"format xml", "{'source': {'path': 'a.xml', 'format': 'xml'}, " TT "}", false, {"source.format"}},
    {"csv options for json", "{'source': {'path': 'a.json', 'csv': {}}, " TT "}", false, {"source.csv"}},
    {"json options for csv", "{'source': {'path': 'a.csv', 'json': {'records': ''}}, " TT "}", false,
     {"source.json"}},
    {"json options for ndjson", "{'source': {'path': 'a.ndjson', 'json': {}}, " TT "}", false, {"source.json"}},
    {"delimiter of two characters", "{'source': {'path': 'a.csv', 'csv': {'delimiter': ',,'}}, " TT "}", false,
     {"source.csv.delimiter"}},
    {"delimiter newline", "{'source': {'path': 'a.csv', 'csv': {'delimiter': '\\n'}}, " TT "}", false,
     {"source.csv.delimiter"}},
    {"delimiter non-ASCII", "{'source': {'path': 'a.csv', 'csv': {'delimiter': '\\u00a7'}}, " TT "}", false,
     {"source.csv.delimiter"}},
    {"quote equals delimiter",
     "{'source': {'path': 'a.csv', 'csv': {'delimiter': ';', 'quote': ';'}}, " TT "}", false,
     {"source.csv.quote"}},
    {"skip_rows negative", "{'source': {'path': 'a.csv', 'csv': {'skip_rows': -1}}, " TT "}", false,
     {"source.csv.skip_rows"}},
    {"header string", "{'source': {'path': 'a.csv', 'csv': {'header': 'yes'}}, " TT "}", false,
     {"source.csv.header"}},
    {"unknown encoding", "{'source': {'path': 'a.csv', 'csv': {'encoding': 'ebcdic'}}, " TT "}", false,
     {"source.csv.encoding"}},
    {"encoding not a string", "{'source': {'path': 'a.csv', 'csv': {'encoding': 1252}}, " TT "}", false,
     {"source.csv.encoding"}},
    {"csv columns empty", "{'source': {'path': 'a.csv', 'csv': {'columns': []}}, " TT "}", false,
     {"source.csv.columns"}},
    {"csv columns not an array", "{'source': {'path': 'a.csv', 'csv': {'columns': 'a,b'}}, " TT "}", false,
     {"source.csv.columns"}},
    {"csv columns: empty name, duplicate, number",
     "{'source': {'path': 'a.csv', 'csv': {'columns': ['a', '', 'a', 7]}}, " TT "}", false,
     {"source.csv.columns[1]", "source.csv.columns[2]", "source.csv.columns[3]"}},
    {"csv columns on a json source",
     "{'source': {'path': 'a.json', 'csv': {'columns': ['a']}}, " TT "}", false, {"source.csv"}},
    {"records not a pointer", "{'source': {'path': 'a.json', 'json': {'records': 'steps'}}, " TT "}", false,
     {"source.json.records"}},
    {"records bad escape", "{'source': {'path': 'a.json', 'json': {'records': '/a~2'}}, " TT "}", false,
     {"source.json.records"}},
    {"target mode merge", "{" ST ", 'target': {'table': 't', 'mode': 'merge'}}", false, {"target.mode"}},
    {"upsert without key", "{" ST ", 'target': {'table': 't', 'mode': 'upsert'}}", false, {"target.key"}},
    {"upsert with empty key", "{" ST ", 'target': {'table': 't', 'mode': 'upsert', 'key': []}}", false,
     {"target.key"}},
    {"append with key", "{" ST ", 'target': {'table': 't', 'mode': 'append', 'key': ['id']}}", false,
     {"target.key"}},
    {"key not among columns",
     "{" ST ", 'target': {'table': 't', 'key': ['id'], 'columns': [{'name': 'a'}]}}", false,
     {"target.key[0]"}},
    {"key not an identifier", "{" ST ", 'target': {'table': 't', 'key': [1, 'a b']}}", false,
     {"target.key[0]", "target.key[1]"}},
    {"duplicate key column", "{" ST ", 'target': {'table': 't', 'key': ['a', 'A']}}", false, {"target.key[1]"}},
    {"create without columns (inferred when the import runs)", "{" ST ", 'target': {'table': 't', 'create': true}}", true, {NULL}},
    {"columns not an array", "{" ST ", 'target': {'table': 't', 'columns': {}}}", false, {"target.columns"}},
    {"column not an object", "{" ST ", 'target': {'table': 't', 'columns': [5]}}", false, {"target.columns[0]"}},
    {"column without name", "{" ST ", 'target': {'table': 't', 'columns': [{'type': 'text'}]}}", false,
     {"target.columns[0].name"}},
    {"column type unknown", "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'type': 'strng'}]}}",
     false, {"target.columns[0].type"}},
    {"duplicate column, other case",
     "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'Email'}, {'name': 'email'}]}}", false,
     {"target.columns[1].name"}},
    {"max_length on integer",
     "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'type': 'integer', 'max_length': 3}]}}",
     false, {"target.columns[0].max_length"}},
    {"max_length zero", "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'max_length': 0}]}}",
     false, {"target.columns[0].max_length"}},
    {"bad pattern", "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'pattern': '('}]}}", false,
     {"target.columns[0].pattern"}},
    {"pattern too costly (issue 12)",
     "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'pattern': '((a{1,100}){1,100}){1,100}'}]}}",
     false, {"target.columns[0].pattern"}},
    {"pattern nested too deep",
     "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'pattern': '(((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))'}]}}",
     false, {"target.columns[0].pattern"}},
    {"pattern with a back-reference",
     "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'pattern': '(a)\\\\1'}]}}", false,
     {"target.columns[0].pattern"}},
    {"pattern with POSIX classes",
     "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'pattern': '^[[:alpha:]][[:alnum:]_]*$'}]}}",
     true, {NULL}},
    {"pattern on bigint",
     "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'type': 'bigint', 'pattern': 'x'}]}}",
     false, {"target.columns[0].pattern"}},
    {"min greater than max",
     "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'type': 'integer', 'min': 5, 'max': 1}]}}",
     false, {"target.columns[0].max"}},
    {"min on text", "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'min': 1}]}}", false,
     {"target.columns[0].min"}},
    {"min as string",
     "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'type': 'integer', 'min': '1'}]}}", false,
     {"target.columns[0].min"}},
    {"enum empty", "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'enum': []}]}}", false,
     {"target.columns[0].enum"}},
    {"enum with a boolean", "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'enum': ['x', true]}]}}",
     false, {"target.columns[0].enum[1]"}},
    {"references without a dot",
     "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'references': 'teams'}]}}", false,
     {"target.columns[0].references"}},
    {"references a reserved table",
     "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'references': 'importq_tokens.name'}]}}",
     false, {"target.columns[0].references"}},
    {"from not a pointer for json",
     "{" SJ ", 'target': {'table': 't', 'columns': [{'name': 'a', 'from': 'a'}]}}", false,
     {"target.columns[0].from"}},
    {"from empty for csv", "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'from': ''}]}}",
     false, {"target.columns[0].from"}},
    {"required as string",
     "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a', 'required': 'yes'}]}}", false,
     {"target.columns[0].required"}},
    {"children for csv",
     "{" ST ", 'target': {'table': 't', 'children': [{'table': 'c', 'parent_key': {'a': 'b'}}]}}", false,
     {"target.children"}},
    {"child table equals target",
     "{" SJ ", 'target': {'table': 't', 'children': [{'table': 'T', 'parent_key': {'a': 'b'}}]}}", false,
     {"target.children[0].table"}},
    {"child without parent_key", "{" SJ ", 'target': {'table': 't', 'children': [{'table': 'c'}]}}", false,
     {"target.children[0].parent_key"}},
    {"parent_key names no parent column",
     "{" SJ ", 'target': {'table': 't', 'columns': [{'name': 'id'}],"
     " 'children': [{'table': 'c', 'parent_key': {'step_id': 'step_id'}}]}}", false,
     {"target.children[0].parent_key.step_id"}},
    {"child reserved table",
     "{" SJ ", 'target': {'table': 't', 'children': [{'table': 'stg_import_audit', 'parent_key': {'a': 'b'}}]}}",
     false, {"target.children[0].table"}},
    {"child from not a pointer",
     "{" SJ ", 'target': {'table': 't', 'children': [{'table': 'c', 'from': 'tasks', 'parent_key': {'a': 'b'}}]}}",
     false, {"target.children[0].from"}},
    {"child key not among its columns",
     "{" SJ ", 'target': {'table': 't', 'children': [{'table': 'c', 'parent_key': {'a': 'b'},"
     " 'key': ['x'], 'columns': [{'name': 'y'}]}]}}", false, {"target.children[0].key[0]"}},
    {"child without columns under create",
     "{" SJ ", 'target': {'table': 't', 'create': true, 'columns': [{'name': 'b'}],"
     " 'children': [{'table': 'c', 'parent_key': {'a': 'b'}}]}}", false, {"target.children[0].columns"}},
    {"on_error action", "{" ST ", " TT ", 'on_error': {'action': 'ignore'}}", false, {"on_error.action"}},
    {"on_error max_rejects negative", "{" ST ", " TT ", 'on_error': {'max_rejects': -1}}", false,
     {"on_error.max_rejects"}},
    {"on_error not an object", "{" ST ", " TT ", 'on_error': 'skip'}", false, {"on_error"}},
    {"path traversal", "{'source': {'path': '../x.csv'}, " TT "}", false, {"source.path"}},
    {"absolute path", "{'source': {'path': '/etc/passwd'}, " TT "}", false, {"source.path"}},
    {"backslash path", "{'source': {'path': 'a\\\\..\\\\b'}, " TT "}", false, {"source.path"}},
    {"NUL in path", "{'source': {'path': 'a\\u0000b.csv'}, " TT "}", false, {"source.path"}},
    {"reserved target table", "{" ST ", 'target': {'table': 'stg_import_queue'}}", false, {"target.table"}},
    {"database not an identifier", "{" ST ", 'target': {'table': 't', 'database': 'my-db'}}", false,
     {"target.database"}},
    {"table with leading digit", "{" ST ", 'target': {'table': '1users'}}", false, {"target.table"}},
    {"dry run", "{" ST ", 'target': {'table': 't', 'mode': 'replace', 'dry_run': true}}", true, {NULL}},
    {"dry_run not a boolean", "{" ST ", 'target': {'table': 't', 'dry_run': 'yes'}}", false,
     {"target.dry_run"}},
};

static void test_table(void **state)
{
    (void)state;
    size_t good = 0;
    for (size_t i = 0; i < sizeof(spec_cases) / sizeof(spec_cases[0]); i++) {
        const struct spec_case *c = &spec_cases[i];
        struct iq_error err = {0};
        struct job_spec *spec = NULL;
        int rc = parse_text(c->json, &spec, &err);
        if ((rc == 0) != c->ok) {
            print_message("case \"%s\": expected %s, got rc %d\n", c->name,
                          c->ok ? "ok" : "an error", rc);
            print_fields(&err);
            fail();
        }
        good += c->ok;
        if (c->ok) {
            assert_non_null(spec);
            assert_int_equal(err.field_count, 0);
        } else {
            assert_null(spec);
            assert_int_equal(err.code, IQ_E_INVALID);
            assert_true(err.field_count > 0);
        }
        for (size_t k = 0; k < 4 && c->fields[k]; k++) {
            if (!has_field(&err, c->fields[k])) {
                print_message("case \"%s\": no error on %s; got:\n", c->name, c->fields[k]);
                print_fields(&err);
                fail();
            }
        }
        job_spec_free(spec);
        iq_error_clear(&err);
    }
    assert_true(good >= 20);
    assert_true(sizeof(spec_cases) / sizeof(spec_cases[0]) - good >= 40);
}

/* ---- every error at once ------------------------------------------------ */

static void test_five_mistakes_reported_together(void **state)
{
    (void)state;
    struct iq_error err = {0};
    struct job_spec *spec = NULL;
    int rc = parse_text("{'priority': 11, 'source': {'path': '../x.csv'},"
                        " 'target': {'table': 'stg_import_queue', 'mode': 'merge',"
                        "   'columns': [{'name': 'a'}, {'name': 'b'}, {'name': 'c', 'type': 'strng'}]}}",
                        &spec, &err);
    assert_int_equal(rc, IQ_E_INVALID);
    assert_null(spec);
    if (err.field_count != 5)
        print_fields(&err);
    assert_int_equal(err.field_count, 5);
    assert_true(has_field(&err, "priority"));
    assert_true(has_field(&err, "source.path"));
    assert_true(has_field(&err, "target.table"));
    assert_true(has_field(&err, "target.mode"));
    assert_true(has_field(&err, "target.columns[2].type"));
    for (size_t i = 0; i < err.field_count; i++) {
        if (strcmp(err.fields[i].field, "target.columns[2].type") == 0)
            assert_non_null(strstr(err.fields[i].message, "unknown type \"strng\""));
    }
    assert_non_null(err.message);
    iq_error_clear(&err);
}

static void test_error_detail_without_err(void **state)
{
    (void)state;
    json_t *body = spec_load("{'priority': 0}");
    struct job_spec *spec = NULL;
    assert_int_equal(job_spec_parse(body, NULL, &spec, NULL), IQ_E_INVALID);
    assert_null(spec);
    json_decref(body);
}

/* ---- defaults ----------------------------------------------------------- */

static void test_defaults_in_struct_and_json(void **state)
{
    (void)state;
    struct job_spec_defaults defaults = {.max_attempts = 4, .timeout_s = 600};
    json_t *body = spec_load("{" ST ", " TT "}");
    struct job_spec *spec = NULL;
    assert_int_equal(job_spec_parse(body, &defaults, &spec, NULL), 0);
    json_decref(body);
    assert_string_equal(spec->name, "");
    assert_int_equal(spec->priority, 5);
    assert_int_equal(spec->depends_on_count, 0);
    assert_int_equal(spec->scheduled_at_ms, 0);
    assert_false(spec->hold);
    assert_null(spec->request_id);
    assert_int_equal(spec->max_attempts, 4);
    assert_int_equal(spec->timeout_s, 600);
    assert_int_equal(spec->source.format, SOURCE_CSV);
    assert_string_equal(spec->source.path, "users.csv");
    assert_null(spec->source.upload);
    assert_int_equal(spec->source.csv.delimiter, ',');
    assert_int_equal(spec->source.csv.quote, '"');
    assert_true(spec->source.csv.header);
    assert_string_equal(spec->source.csv.null_marker, "");
    assert_int_equal(spec->source.csv.skip_rows, 0);
    assert_int_equal(spec->target.mode, TARGET_INSERT);
    assert_false(spec->target.create);
    assert_false(spec->target.dry_run);
    assert_null(spec->target.database);
    assert_int_equal(spec->on_error.action, ON_ERROR_ABORT);
    assert_int_equal(spec->on_error.max_rejects, 0);
    assert_int_equal(spec->resource_count, 1);
    assert_string_equal(spec->resources[0].name, "table:users");
    assert_int_equal(spec->resources[0].mode, LOCK_EXCLUSIVE);
    expect_json(spec->source_json,
                "{'format': 'csv', 'path': 'users.csv', 'csv': {'delimiter': ',', 'quote': '\\'',"
                " 'header': true, 'null': '', 'skip_rows': 0}}");
    expect_json(spec->target_json, "{'table': 'users', 'mode': 'insert', 'key': [], 'create': false,"
                                   " 'columns': [], 'children': []}");
    expect_json(spec->on_error_json, "{'action': 'abort', 'max_rejects': 0}");
    job_spec_free(spec);

    spec = expect_ok("{'source': {'path': 'a.JSON'}, " TT "}");
    expect_json(spec->source_json, "{'format': 'json', 'path': 'a.JSON', 'json': {'records': ''}}");
    assert_int_equal(spec->max_attempts, 3);
    assert_int_equal(spec->timeout_s, 1800);
    job_spec_free(spec);
    spec = expect_ok("{'source': {'path': 'a.ndjson'}, " TT "}");
    expect_json(spec->source_json, "{'format': 'ndjson', 'path': 'a.ndjson'}");
    job_spec_free(spec);
    /* dry_run appears in the normalised target only when true */
    spec = expect_ok("{" ST ", 'target': {'table': 'users', 'dry_run': true}}");
    assert_true(spec->target.dry_run);
    expect_json(spec->target_json, "{'table': 'users', 'mode': 'insert', 'key': [], 'create': false,"
                                   " 'dry_run': true, 'columns': [], 'children': []}");
    job_spec_free(spec);
    spec = expect_ok("{'source': {'upload': '" UUID_A "'}, " TT "}");
    expect_json(spec->source_json, "{'format': 'csv', 'upload': '" UUID_A "', 'csv': {'delimiter': ',',"
                                   " 'quote': '\\'', 'header': true, 'null': '', 'skip_rows': 0}}");
    job_spec_free(spec);
}

/* encoding and columns: canonical names in the struct and the normalised
 * JSON, left out of the JSON at their defaults (UTF-8, the header's names) */
static void test_csv_encoding_and_columns(void **state)
{
    (void)state;
    struct job_spec *spec = expect_ok("{'source': {'path': 'a.csv', 'csv': {'encoding': 'Latin-1',"
                                      " 'header': false, 'columns': ['id', 'name']}}, " TT "}");
    assert_int_equal(spec->source.csv.encoding, ENCODING_LATIN1);
    assert_int_equal(spec->source.csv.column_count, 2);
    assert_string_equal(spec->source.csv.columns[1], "name");
    expect_json(spec->source_json,
                "{'format': 'csv', 'path': 'a.csv', 'csv': {'delimiter': ',', 'quote': '\\'',"
                " 'header': false, 'null': '', 'skip_rows': 0, 'encoding': 'latin1',"
                " 'columns': ['id', 'name']}}");
    job_spec_free(spec);
    spec = expect_ok("{'source': {'path': 'a.csv', 'csv': {'encoding': 'CP1252'}}, " TT "}");
    assert_int_equal(spec->source.csv.encoding, ENCODING_WINDOWS_1252);
    assert_null(spec->source.csv.columns);
    expect_json(spec->source_json,
                "{'format': 'csv', 'path': 'a.csv', 'csv': {'delimiter': ',', 'quote': '\\'',"
                " 'header': true, 'null': '', 'skip_rows': 0, 'encoding': 'windows-1252'}}");
    job_spec_free(spec);
    spec = expect_ok("{'source': {'path': 'a.csv', 'csv': {'encoding': 'utf8'}}, " TT "}");
    assert_int_equal(spec->source.csv.encoding, ENCODING_UTF8);
    assert_null(json_object_get(json_object_get(spec->source_json, "csv"), "encoding"));
    job_spec_free(spec);
}

static void test_column_defaults(void **state)
{
    (void)state;
    struct job_spec *spec = expect_ok(
        "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a'},"
        " {'name': 'n', 'type': 'integer', 'required': true, 'min': 1.0, 'max': 2.5, 'enum': [1, 2.5, 'x']},"
        " {'name': 'e', 'max_length': 9, 'pattern': '^a', 'references': 'teams.team_id'}]}}");
    expect_json(spec->target_json,
                "{'table': 't', 'mode': 'insert', 'key': [], 'create': false, 'children': [],"
                " 'columns': [{'name': 'a', 'type': 'text', 'from': 'a', 'required': false},"
                "  {'name': 'n', 'type': 'integer', 'from': 'n', 'required': true, 'min': 1, 'max': 2.5,"
                "   'enum': ['1', '2.5', 'x']},"
                "  {'name': 'e', 'type': 'text', 'from': 'e', 'required': false, 'max_length': 9,"
                "   'pattern': '^a', 'references': 'teams.team_id'}]}");
    const struct column_spec *a = &spec->target.columns[0];
    assert_int_equal(a->max_length, -1);
    assert_null(a->pattern);
    assert_false(a->has_min);
    assert_null(a->enum_values);
    const struct column_spec *e = &spec->target.columns[2];
    assert_string_equal(e->references_table, "teams");
    assert_string_equal(e->references_column, "team_id");
    job_spec_free(spec);

    spec = expect_ok("{" SJ ", 'target': {'table': 'steps', 'columns': [{'name': 'step_id'}],"
                     " 'children': [{'table': 'tasks', 'parent_key': {'step_id': 'step_id'},"
                     " 'columns': [{'name': 'title'}]}]}}");
    expect_json(spec->target_json,
                "{'table': 'steps', 'mode': 'insert', 'key': [], 'create': false,"
                " 'columns': [{'name': 'step_id', 'type': 'text', 'from': '/step_id', 'required': false}],"
                " 'children': [{'table': 'tasks', 'from': '/tasks', 'parent_key': {'step_id': 'step_id'},"
                "  'key': [], 'columns': [{'name': 'title', 'type': 'text', 'from': '/title', 'required': false}]}]}");
    job_spec_free(spec);
}

static void test_ids_lower_cased_and_deduplicated(void **state)
{
    (void)state;
    struct job_spec *spec = expect_ok("{'depends_on': ['" UUID_A "', '0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B', '"
                                      UUID_B "'], 'source': {'upload': '0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5C'}, "
                                      TT "}");
    assert_int_equal(spec->depends_on_count, 2);
    assert_string_equal(spec->depends_on[0], UUID_A);
    assert_string_equal(spec->depends_on[1], UUID_B);
    assert_string_equal(spec->source.upload, UUID_B);
    job_spec_free(spec);
}

static void test_top_level_values(void **state)
{
    (void)state;
    struct job_spec *spec = expect_ok("{'name': 'n', 'priority': 2, 'scheduled_at': '2026-12-01T02:00:00Z',"
                                      " 'hold': true, 'request_id': 'r-1', 'max_attempts': 7, 'timeout_s': 60,"
                                      " " ST ", " TT ", 'on_error': {'action': 'skip', 'max_rejects': 4}}");
    int64_t when = 0;
    assert_int_equal(time_parse_rfc3339("2026-12-01T02:00:00Z", &when), 0);
    assert_string_equal(spec->name, "n");
    assert_int_equal(spec->priority, 2);
    assert_int_equal(spec->scheduled_at_ms, when);
    assert_true(spec->hold);
    assert_string_equal(spec->request_id, "r-1");
    assert_int_equal(spec->max_attempts, 7);
    assert_int_equal(spec->timeout_s, 60);
    assert_int_equal(spec->on_error.action, ON_ERROR_SKIP);
    assert_int_equal(spec->on_error.max_rejects, 4);
    expect_json(spec->on_error_json, "{'action': 'skip', 'max_rejects': 4}");
    job_spec_free(spec);
}

/* ---- resources ---------------------------------------------------------- */

static void test_resources_merge(void **state)
{
    (void)state;
    struct job_spec *spec = expect_ok(
        "{'resources': [{'name': 'table:Users', 'mode': 'shared'}, {'name': 'table:teams', 'mode': 'shared'},"
        " {'name': 'lock:x'}, {'name': 'table:TEAMS'}, {'name': 'table:tasks', 'mode': 'shared'},"
        " {'name': 'api:crm', 'mode': 'shared'}], " SJ ","
        " 'target': {'table': 'Users', 'children': [{'table': 'tasks', 'parent_key': {'a': 'b'}}]}}");
    static const struct {
        const char *name;
        enum lock_mode mode;
    } expected[] = {
        {"table:users", LOCK_EXCLUSIVE}, {"table:tasks", LOCK_EXCLUSIVE}, {"table:teams", LOCK_EXCLUSIVE},
        {"lock:x", LOCK_EXCLUSIVE},      {"api:crm", LOCK_SHARED},
    };
    assert_int_equal(spec->resource_count, sizeof(expected) / sizeof(expected[0]));
    for (size_t i = 0; i < spec->resource_count; i++) {
        assert_string_equal(spec->resources[i].name, expected[i].name);
        assert_int_equal(spec->resources[i].mode, expected[i].mode);
    }
    job_spec_free(spec);
}

/*
 * A schema-qualified table also locks its bare name, so that "users" and
 * "public.users" (the same table) never load at once.
 */
static void test_qualified_tables_lock_their_bare_name(void **state)
{
    (void)state;
    struct job_spec *spec = expect_ok(
        "{" SJ ", 'target': {'table': 'Public.Users', 'children': [{'table': 'crm.tasks',"
        " 'parent_key': {'a': 'b'}}, {'table': 'users_log', 'parent_key': {'a': 'b'}}]}}");
    static const char *const expected[] = {"table:public.users", "table:users", "table:crm.tasks",
                                           "table:tasks", "table:users_log"};
    assert_int_equal(spec->resource_count, sizeof(expected) / sizeof(expected[0]));
    for (size_t i = 0; i < spec->resource_count; i++) {
        assert_string_equal(spec->resources[i].name, expected[i]);
        assert_int_equal(spec->resources[i].mode, LOCK_EXCLUSIVE);
    }
    job_spec_free(spec);
}

/* resources_spec - a spec with count own resources lock:0 .. lock:<count-1>. Caller decrefs. */
static json_t *resources_spec(size_t count)
{
    json_t *body = spec_load("{" ST ", " TT "}");
    json_t *resources = json_array();
    for (size_t i = 0; i < count; i++) {
        char name[32];
        snprintf(name, sizeof(name), "lock:%zu", i);
        json_array_append_new(resources, json_pack("{s:s}", "name", name));
    }
    json_object_set_new(body, "resources", resources);
    return body;
}

static void test_resources_limit(void **state)
{
    (void)state;
    struct job_spec *spec = NULL;
    struct iq_error err = {0};
    json_t *body = resources_spec(SPEC_MAX_RESOURCES - 1);
    assert_int_equal(job_spec_parse(body, NULL, &spec, &err), 0);
    assert_int_equal(spec->resource_count, SPEC_MAX_RESOURCES);
    job_spec_free(spec);
    json_decref(body);

    body = resources_spec(SPEC_MAX_RESOURCES);
    assert_int_equal(job_spec_parse(body, NULL, &spec, &err), IQ_E_INVALID);
    assert_true(has_field(&err, "resources"));
    iq_error_clear(&err);
    json_decref(body);

    body = resources_spec(SPEC_MAX_RESOURCES + 1);
    assert_int_equal(job_spec_parse(body, NULL, &spec, &err), IQ_E_INVALID);
    assert_true(has_field(&err, "resources"));
    assert_int_equal(err.field_count, 1);
    iq_error_clear(&err);
    json_decref(body);
}

/* ---- unknown fields ----------------------------------------------------- */

static void test_unknown_fields_at_every_level(void **state)
{
    (void)state;
    expect_errors("{'x0': 1, 'resources': [{'name': 'a', 'x1': 1}],"
                  " 'source': {'path': 'a.csv', 'x2': 1, 'csv': {'x3': 1}},"
                  " 'target': {'table': 't', 'x4': 1, 'columns': [{'name': 'a', 'x5': 1}]},"
                  " 'on_error': {'x6': 1}}",
                  "x0", "resources[0].x1", "source.x2", "source.csv.x3", "target.x4",
                  "target.columns[0].x5", "on_error.x6", NULL);
    expect_errors("{'source': {'path': 'a.json', 'json': {'records': '', 'x7': 1}},"
                  " 'target': {'table': 't', 'children': [{'table': 'c', 'parent_key': {'a': 'b'}, 'x8': 1,"
                  "   'columns': [{'name': 'a', 'x9': 1}]}]}}",
                  "source.json.x7", "target.children[0].x8", "target.children[0].columns[0].x9", NULL);
}

/* ---- reserved tables and identifiers ------------------------------------ */

static void test_reserved_tables(void **state)
{
    (void)state;
    static const char *const reserved[] = {
        "stg_import_queue", "IMPORTQ_TOKENS", "stg_scheduled_imports", "Stg_Import_Audit",
        "importq_schema_version", "stg_import_", "STG_SCHEDULED_IMPORTS",
    };
    static const char *const allowed[] = {
        "stg_imports", "importq", "my_importq_x", "stg_scheduled_imports2", "stg_importer", "users",
    };
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        assert_true(identifier_is_reserved(reserved[i]));
        char text[256];
        snprintf(text, sizeof(text), "{" ST ", 'target': {'table': '%s'}}", reserved[i]);
        expect_errors(text, "target.table", NULL);
        snprintf(text, sizeof(text),
                 "{" SJ ", 'target': {'table': 't', 'children': [{'table': '%s', 'parent_key': {'a': 'b'}}]}}",
                 reserved[i]);
        expect_errors(text, "target.children[0].table", NULL);
    }
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        assert_false(identifier_is_reserved(allowed[i]));
    assert_false(identifier_is_reserved(NULL));
    /* A column may be called like a service table; only tables are protected. */
    job_spec_free(expect_ok("{" ST ", 'target': {'table': 't', 'columns': [{'name': 'importq_x'}]}}"));
}

static void test_identifiers(void **state)
{
    (void)state;
    char name[80];
    memset(name, 'a', sizeof(name));
    name[63] = '\0';
    assert_true(identifier_is_valid(name));
    name[63] = 'b';
    name[64] = '\0';
    assert_false(identifier_is_valid(name));
    assert_true(identifier_is_valid("_"));
    assert_true(identifier_is_valid("_x9"));
    assert_true(identifier_is_valid("A_b_C"));
    assert_false(identifier_is_valid(""));
    assert_false(identifier_is_valid(NULL));
    assert_false(identifier_is_valid("1abc"));
    assert_false(identifier_is_valid("a-b"));
    assert_false(identifier_is_valid("a b"));
    assert_false(identifier_is_valid("a.b"));
    assert_false(identifier_is_valid("caf\xc3\xa9"));
    assert_false(identifier_is_valid("\xc3\xa9t\xc3\xa9"));

    char text[256];
    snprintf(text, sizeof(text), "{" ST ", 'target': {'table': 't', 'columns': [{'name': '%s'}]}}", name);
    expect_errors(text, "target.columns[0].name", NULL);
    name[63] = '\0';
    snprintf(text, sizeof(text), "{" ST ", 'target': {'table': 't', 'columns': [{'name': '%s'}]}}", name);
    job_spec_free(expect_ok(text));
    expect_errors("{" ST ", 'target': {'table': 'caf\\u00e9'}}", "target.table", NULL);
    expect_errors("{" ST ", 'target': {'table': 't', 'columns': [{'name': '9lives'}]}}",
                  "target.columns[0].name", NULL);
}

/* ---- tables an import may write ----------------------------------------- */

/* table_name_parse and table_name_refusal, table-driven. */
static void test_table_names(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool valid;
        const char *schema, *table;
        bool refused;
    } cases[] = {
        {"users", true, "", "users", false},
        {"crm.users", true, "crm", "users", false},
        {"Public.Users", true, "Public", "Users", false},
        {"pg_description", true, "", "pg_description", true},
        {"pg_class", true, "", "pg_class", true},
        {"PG_Class", true, "", "PG_Class", true},
        {"pg_catalog.pg_description", true, "pg_catalog", "pg_description", true},
        {"pg_catalog.users", true, "pg_catalog", "users", true},
        {"information_schema.tables", true, "information_schema", "tables", true},
        {"information_schema", true, "", "information_schema", true},
        {"pg_toast.pg_toast_2619", true, "pg_toast", "pg_toast_2619", true},
        {"pg_toast_temp_1.x", true, "pg_toast_temp_1", "x", true},
        {"pg_temp.users", true, "pg_temp", "users", true},
        {"pg_temp_3.users", true, "pg_temp_3", "users", true},
        {"public.pg_class", true, "public", "pg_class", true},
        {"sqlite_master", true, "", "sqlite_master", true},
        {"main.sqlite_schema", true, "main", "sqlite_schema", true},
        {"temp.sqlite_temp_master", true, "temp", "sqlite_temp_master", true},
        {"public.stg_import_queue", true, "public", "stg_import_queue", true},
        {"crm.importq_tokens", true, "crm", "importq_tokens", true},
        {"public.stg_scheduled_imports", true, "public", "stg_scheduled_imports", true},
        {"pgx.users", true, "pgx", "users", false},
        {"my_pg_class", true, "", "my_pg_class", false},
        {"a.b.c", false, "", "", false},
        {".users", false, "", "", false},
        {"users.", false, "", "", false},
        {"", false, "", "", false},
        {"crm .users", false, "", "", false},
        {"\"pg_catalog\".x", false, "", "", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct table_name name;
        bool valid = table_name_parse(cases[i].text, &name);
        if (valid != cases[i].valid)
            fail_msg("table_name_parse(\"%s\") = %d", cases[i].text, valid);
        assert_string_equal(name.schema, cases[i].schema);
        assert_string_equal(name.table, cases[i].table);
        if (valid && (table_name_refusal(&name) != NULL) != cases[i].refused)
            fail_msg("table_name_refusal(\"%s\") = %s", cases[i].text,
                     table_name_refusal(&name) ? table_name_refusal(&name) : "(none)");
    }
    /* A schema or table part over 63 characters is no name. */
    char text[160];
    snprintf(text, sizeof(text), "%064d.users", 0);
    text[0] = 's';
    struct table_name name;
    assert_false(table_name_parse(text, &name));
    snprintf(text, sizeof(text), "crm.s%063d", 0);
    assert_false(table_name_parse(text, &name));
    assert_false(table_name_parse(NULL, &name));
}

/*
 * Issue 12: a spec naming a catalog table, a catalog schema or a service
 * table as target, child or references table is a 422 on that field; a
 * schema-qualified name that may be written is accepted.
 */
static void test_catalog_targets_refused(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "pg_description", "pg_class", "pg_catalog.pg_description", "pg_catalog.users",
        "information_schema.tables", "pg_toast.pg_toast_2619", "pg_temp.users",
        "public.pg_class", "sqlite_master", "main.sqlite_master", "temp.sqlite_temp_master",
        "public.stg_import_queue", "crm.importq_tokens",
    };
    char text[512];
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        snprintf(text, sizeof(text),
                 "{" ST ", 'target': {'table': '%s', 'mode': 'append'}}", refused[i]);
        expect_errors(text, "target.table", NULL);
        snprintf(text, sizeof(text),
                 "{" SJ ", 'target': {'table': 't', 'children': [{'table': '%s',"
                 " 'parent_key': {'a': 'b'}}]}}",
                 refused[i]);
        expect_errors(text, "target.children[0].table", NULL);
        snprintf(text, sizeof(text),
                 "{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a',"
                 " 'references': '%s.oid'}]}}",
                 refused[i]);
        expect_errors(text, "target.columns[0].references", NULL);
    }
    struct job_spec *spec = expect_ok(
        "{" SJ ", 'target': {'table': 'crm.users', 'columns': [{'name': 'team_id',"
        " 'references': 'crm.teams.team_id'}], 'children': [{'table': 'crm.tasks',"
        " 'parent_key': {'user_id': 'team_id'}}]}}");
    assert_string_equal(spec->target.table, "crm.users");
    assert_string_equal(spec->target.columns[0].references_table, "crm.teams");
    assert_string_equal(spec->target.columns[0].references_column, "team_id");
    assert_string_equal(spec->target.children[0].table, "crm.tasks");
    job_spec_free(spec);
    expect_errors("{" ST ", 'target': {'table': 'a.b.c'}}", "target.table", NULL);
    expect_errors("{" ST ", 'target': {'table': 't', 'columns': [{'name': 'a',"
                  " 'references': 'a.b.c.d'}]}}",
                  "target.columns[0].references", NULL);
}

/* target_schemas_parse: the target-schemas setting, table-driven. */
static void test_target_schemas(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        size_t count;
        const char *first, *last;
    } cases[] = {
        {NULL, 0, 0, NULL, NULL},
        {"", 0, 0, NULL, NULL},
        {"  ", 0, 0, NULL, NULL},
        {"public", 0, 1, "public", "public"},
        {"staging, public", 0, 2, "staging", "public"},
        {"a,b,c", 0, 3, "a", "c"},
        {"pg_catalog", IQ_E_INVALID, 0, NULL, NULL},
        {"public,information_schema", IQ_E_INVALID, 0, NULL, NULL},
        {"pg_temp", IQ_E_INVALID, 0, NULL, NULL},
        {"PG_TOAST", IQ_E_INVALID, 0, NULL, NULL},
        {"public,public", IQ_E_INVALID, 0, NULL, NULL},
        {"public,", IQ_E_INVALID, 0, NULL, NULL},
        {"a b", IQ_E_INVALID, 0, NULL, NULL},
        {"crm.x", IQ_E_INVALID, 0, NULL, NULL},
        {"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p", 0, 16, "a", "p"},
        {"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", IQ_E_INVALID, 0, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct target_schemas schemas;
        struct iq_error err = {0};
        int rc = target_schemas_parse(cases[i].text, &schemas, &err);
        if (rc != cases[i].rc || schemas.count != cases[i].count)
            fail_msg("target_schemas_parse(\"%s\") = %d, %zu schemas: %s",
                     cases[i].text ? cases[i].text : "(null)", rc, schemas.count,
                     iq_error_message(&err));
        if (cases[i].first) {
            assert_string_equal(schemas.names[0], cases[i].first);
            assert_string_equal(schemas.names[schemas.count - 1], cases[i].last);
            assert_true(target_schemas_contain(&schemas, cases[i].first));
            assert_false(target_schemas_contain(&schemas, "elsewhere"));
        }
        iq_error_clear(&err);
    }
    char text[160];
    snprintf(text, sizeof(text), "s%063d", 0);
    struct target_schemas schemas;
    struct iq_error err = {0};
    assert_int_equal(target_schemas_parse(text, &schemas, &err), IQ_E_INVALID);
    iq_error_clear(&err);
}

/* ---- paths -------------------------------------------------------------- */

static void test_paths(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        bool safe;
    } cases[] = {
        {"users.csv", true},   {"a/b/c.csv", true},  {"a/./b", true},        {"./a", true},
        {"a//b", true},        {"..a/b", true},      {"a/b..", true},        {"a/.../b", true},
        {"../x", false},       {"a/../../x", false}, {"a/..", false},        {"..", false},
        {"/etc/passwd", false}, {"", false},         {"a\\..\\b", false},    {"a\\b", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (spec_path_is_safe(cases[i].path) != cases[i].safe)
            fail_msg("spec_path_is_safe(\"%s\") should be %d", cases[i].path, cases[i].safe);
    }
    assert_false(spec_path_is_safe(NULL));
    char *long_path = malloc(SPEC_MAX_PATH_LEN + 2);
    assert_non_null(long_path);
    memset(long_path, 'a', SPEC_MAX_PATH_LEN + 1);
    long_path[SPEC_MAX_PATH_LEN] = '\0';
    assert_true(spec_path_is_safe(long_path));
    long_path[SPEC_MAX_PATH_LEN] = 'a';
    long_path[SPEC_MAX_PATH_LEN + 1] = '\0';
    assert_false(spec_path_is_safe(long_path));
    free(long_path);

    expect_errors("{'source': {'path': 'a/../../x'}, " TT "}", "source.path", NULL);
    expect_errors("{'source': {'path': ''}, " TT "}", "source.path", NULL);
    struct job_spec *spec = expect_ok("{'source': {'path': 'a/./b.csv'}, " TT "}");
    assert_string_equal(spec->source.path, "a/./b.csv");
    job_spec_free(spec);
}

/* ---- limits ------------------------------------------------------------- */

static void test_size_limits(void **state)
{
    (void)state;
    struct iq_error err = {0};
    struct job_spec *spec = NULL;
    json_t *body = spec_load("{" ST ", " TT "}");
    json_t *deps = json_array();
    for (int i = 0; i <= SPEC_MAX_DEPENDENCIES; i++)
        json_array_append_new(deps, json_string(UUID_A));
    json_object_set_new(body, "depends_on", deps);
    json_t *columns = json_array();
    for (int i = 0; i <= SPEC_MAX_COLUMNS; i++)
        json_array_append_new(columns, json_pack("{s:s}", "name", "a"));
    json_object_set_new(json_object_get(body, "target"), "columns", columns);
    char name[SPEC_MAX_NAME_LEN + 2];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    json_object_set_new(body, "name", json_string(name));
    assert_int_equal(job_spec_parse(body, NULL, &spec, &err), IQ_E_INVALID);
    assert_true(has_field(&err, "depends_on"));
    assert_true(has_field(&err, "target.columns"));
    assert_true(has_field(&err, "name"));
    assert_int_equal(err.field_count, 3);
    iq_error_clear(&err);

    /* 200 two-byte characters are 200 characters, within the limit. */
    char wide[2 * SPEC_MAX_NAME_LEN + 1];
    for (int i = 0; i < SPEC_MAX_NAME_LEN; i++)
        memcpy(wide + 2 * i, "\xc3\xa4", 2);
    wide[2 * SPEC_MAX_NAME_LEN] = '\0';
    json_object_del(body, "depends_on");
    json_object_del(json_object_get(body, "target"), "columns");
    json_object_set_new(body, "name", json_string(wide));
    assert_int_equal(job_spec_parse(body, NULL, &spec, &err), 0);
    assert_string_equal(spec->name, wide);
    job_spec_free(spec);
    json_decref(body);
}

/* ---- every limit at its edge --------------------------------------------- */

/* text_of - count copies of c, between prefix and suffix, as a JSON string. */
static json_t *text_of(const char *prefix, char c, size_t count, const char *suffix)
{
    size_t length = strlen(prefix) + count + strlen(suffix);
    char *text = malloc(length + 1);
    assert_non_null(text);
    strcpy(text, prefix);
    memset(text + strlen(prefix), c, count);
    strcpy(text + strlen(prefix) + count, suffix);
    json_t *value = json_string(text);
    free(text);
    return value;
}

/* name_list - count identifiers prefix0 .. prefix<count-1> as a JSON array. */
static json_t *name_list(const char *prefix, size_t count)
{
    json_t *array = json_array();
    for (size_t i = 0; i < count; i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s%zu", prefix, i);
        json_array_append_new(array, json_string(name));
    }
    return array;
}

/* target_column - body's target.columns[0], made when missing. */
static json_t *target_column(json_t *body)
{
    json_t *target = json_object_get(body, "target");
    json_t *columns = json_object_get(target, "columns");
    if (!columns) {
        columns = json_array();
        json_array_append_new(columns, json_pack("{s:s}", "name", "a"));
        json_object_set_new(target, "columns", columns);
    }
    return json_array_get(columns, 0);
}

/* first_child - body's target.children[0], made when missing. */
static json_t *first_child(json_t *body)
{
    json_t *target = json_object_get(body, "target");
    json_t *children = json_object_get(target, "children");
    if (!children) {
        children = json_array();
        json_array_append_new(children, json_pack("{s:s,s:{s:s}}", "table", "c", "parent_key",
                                                  "a", "b"));
        json_object_set_new(target, "children", children);
    }
    return json_array_get(children, 0);
}

static json_t *with_columns(size_t n)
{
    json_t *body = spec_load("{" ST ", " TT "}");
    json_t *columns = json_array();
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "c%zu", i);
        json_array_append_new(columns, json_pack("{s:s}", "name", name));
    }
    json_object_set_new(json_object_get(body, "target"), "columns", columns);
    return body;
}

static json_t *with_child_columns(size_t n)
{
    json_t *body = spec_load("{" SJ ", " TT "}");
    json_t *columns = json_array();
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "c%zu", i);
        json_array_append_new(columns, json_pack("{s:s}", "name", name));
    }
    json_object_set_new(first_child(body), "columns", columns);
    return body;
}

static json_t *with_children(size_t n)
{
    json_t *body = spec_load("{" SJ ", " TT "}");
    json_t *children = json_array();
    for (size_t i = 0; i < n; i++) {
        char table[32];
        snprintf(table, sizeof(table), "c%zu", i);
        json_array_append_new(children, json_pack("{s:s,s:{s:s}}", "table", table, "parent_key",
                                                  "a", "b"));
    }
    json_object_set_new(json_object_get(body, "target"), "children", children);
    return body;
}

static json_t *with_key(size_t n)
{
    json_t *body = spec_load("{" ST ", " TT "}");
    json_object_set_new(json_object_get(body, "target"), "key", name_list("k", n));
    return body;
}

static json_t *with_parent_key(size_t n)
{
    json_t *body = spec_load("{" SJ ", " TT "}");
    json_t *map = json_object();
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "k%zu", i);
        json_object_set_new(map, name, json_string("p"));
    }
    json_object_set_new(first_child(body), "parent_key", map);
    return body;
}

static json_t *with_depends_on(size_t n)
{
    json_t *body = spec_load("{" ST ", " TT "}");
    json_t *ids = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ids, json_string(UUID_A));
    json_object_set_new(body, "depends_on", ids);
    return body;
}

static json_t *with_enum_values(size_t n)
{
    json_t *body = spec_load("{" ST ", " TT "}");
    json_object_set_new(target_column(body), "enum", name_list("v", n));
    return body;
}

static json_t *with_enum_value_length(size_t n)
{
    json_t *body = spec_load("{" ST ", " TT "}");
    json_t *values = json_array();
    json_array_append_new(values, text_of("", 'v', n, ""));
    json_object_set_new(target_column(body), "enum", values);
    return body;
}

static json_t *with_name(size_t n)
{
    json_t *body = spec_load("{" ST ", " TT "}");
    json_object_set_new(body, "name", text_of("", 'n', n, ""));
    return body;
}

static json_t *with_request_id(size_t n)
{
    json_t *body = spec_load("{" ST ", " TT "}");
    json_object_set_new(body, "request_id", text_of("", 'r', n, ""));
    return body;
}

static json_t *with_resource_name(size_t n)
{
    json_t *body = spec_load("{" ST ", " TT ", 'resources': [{'name': 'x'}]}");
    json_object_set_new(json_array_get(json_object_get(body, "resources"), 0), "name",
                        text_of("", 'r', n, ""));
    return body;
}

static json_t *with_path(size_t n)
{
    json_t *body = spec_load("{'source': {'format': 'csv'}, " TT "}");
    json_object_set_new(json_object_get(body, "source"), "path", text_of("", 'p', n, ""));
    return body;
}

static json_t *with_csv_null(size_t n)
{
    json_t *body = spec_load("{'source': {'path': 'u.csv', 'csv': {}}, " TT "}");
    json_object_set_new(json_object_get(json_object_get(body, "source"), "csv"), "null",
                        text_of("", 'x', n, ""));
    return body;
}

static json_t *with_csv_from(size_t n)
{
    json_t *body = spec_load("{" ST ", " TT "}");
    json_object_set_new(target_column(body), "from", text_of("", 'h', n, ""));
    return body;
}

static json_t *with_json_from(size_t n)
{
    json_t *body = spec_load("{" SJ ", " TT "}");
    json_object_set_new(target_column(body), "from", text_of("/", 'm', n - 1, ""));
    return body;
}

static json_t *with_child_from(size_t n)
{
    json_t *body = spec_load("{" SJ ", " TT "}");
    json_object_set_new(first_child(body), "from", text_of("/", 'm', n - 1, ""));
    return body;
}

static json_t *with_json_records(size_t n)
{
    json_t *body = spec_load("{'source': {'path': 'steps.json', 'json': {}}, " TT "}");
    json_object_set_new(json_object_get(json_object_get(body, "source"), "json"), "records",
                        text_of("/", 'm', n - 1, ""));
    return body;
}

static json_t *with_pattern_length(size_t n)
{
    json_t *body = spec_load("{" ST ", " TT "}");
    json_object_set_new(target_column(body), "pattern", text_of("", 'a', n, ""));
    return body;
}

static json_t *with_pattern_nesting(size_t n)
{
    json_t *body = spec_load("{" ST ", " TT "}");
    char pattern[2 * 64 + 2];
    assert_true(n < 64);
    memset(pattern, '(', n);
    pattern[n] = 'a';
    memset(pattern + n + 1, ')', n);
    pattern[2 * n + 1] = '\0';
    json_object_set_new(target_column(body), "pattern", json_string(pattern));
    return body;
}

/*
 * struct limit_case - one limit of core/job_spec_limits.h: build(limit)
 * must be accepted, build(limit + 1) refused with a field error at field
 * whose message names the limit.
 */
struct limit_case {
    const char *name;
    json_t *(*build)(size_t n);
    size_t limit;
    const char *field;
};

static const struct limit_case limit_cases[] = {
    {"columns", with_columns, SPEC_MAX_COLUMNS, "target.columns"},
    {"child columns", with_child_columns, SPEC_MAX_COLUMNS, "target.children[0].columns"},
    {"children", with_children, SPEC_MAX_CHILDREN, "target.children"},
    {"key", with_key, SPEC_MAX_COLUMNS, "target.key"},
    {"parent_key", with_parent_key, SPEC_MAX_COLUMNS, "target.children[0].parent_key"},
    {"depends_on", with_depends_on, SPEC_MAX_DEPENDENCIES, "depends_on"},
    {"enum values", with_enum_values, SPEC_MAX_ENUM_VALUES, "target.columns[0].enum"},
    {"enum value length", with_enum_value_length, SPEC_MAX_ENUM_VALUE_LEN,
     "target.columns[0].enum[0]"},
    {"name", with_name, SPEC_MAX_NAME_LEN, "name"},
    {"request_id", with_request_id, SPEC_MAX_REQUEST_ID_LEN, "request_id"},
    {"resource name", with_resource_name, SPEC_MAX_NAME_LEN, "resources[0].name"},
    {"source.path", with_path, SPEC_MAX_PATH_LEN, "source.path"},
    {"source.csv.null", with_csv_null, SPEC_MAX_NAME_LEN, "source.csv.null"},
    {"from (CSV header)", with_csv_from, SPEC_MAX_FROM_LEN, "target.columns[0].from"},
    {"from (JSON pointer)", with_json_from, SPEC_MAX_FROM_LEN, "target.columns[0].from"},
    {"child from", with_child_from, SPEC_MAX_FROM_LEN, "target.children[0].from"},
    {"source.json.records", with_json_records, SPEC_MAX_FROM_LEN, "source.json.records"},
    {"pattern length", with_pattern_length, SPEC_MAX_PATTERN_LEN, "target.columns[0].pattern"},
    {"pattern nesting", with_pattern_nesting, SPEC_MAX_PATTERN_NESTING,
     "target.columns[0].pattern"},
};

/* field_message - the message of the field error at field, or NULL. */
static const char *field_message(const struct iq_error *err, const char *field)
{
    for (size_t i = 0; i < err->field_count; i++) {
        if (strcmp(err->fields[i].field, field) == 0)
            return err->fields[i].message;
    }
    return NULL;
}

static void test_limits_at_and_over_each_edge(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(limit_cases) / sizeof(limit_cases[0]); i++) {
        const struct limit_case *lc = &limit_cases[i];
        struct iq_error err = {0};
        struct job_spec *spec = NULL;
        json_t *body = lc->build(lc->limit);
        if (job_spec_parse(body, NULL, &spec, &err) != 0) {
            print_fields(&err);
            fail_msg("%s: %zu refused", lc->name, lc->limit);
        }
        job_spec_free(spec);
        json_decref(body);

        body = lc->build(lc->limit + 1);
        assert_int_equal(job_spec_parse(body, NULL, &spec, &err), IQ_E_INVALID);
        const char *message = field_message(&err, lc->field);
        char number[32];
        snprintf(number, sizeof(number), "%zu", lc->limit);
        if (!message || !strstr(message, number)) {
            print_fields(&err);
            fail_msg("%s: %zu + 1 has no error at %s naming %s", lc->name, lc->limit, lc->field,
                     number);
        }
        iq_error_clear(&err);
        json_decref(body);
    }
}

/* with_patterns - count text columns, each with pattern. Caller decrefs. */
static json_t *with_patterns(size_t count, const char *pattern)
{
    json_t *body = with_columns(count);
    json_t *columns = json_object_get(json_object_get(body, "target"), "columns");
    for (size_t i = 0; i < count; i++)
        json_object_set_new(json_array_get(columns, i), "pattern", json_string(pattern));
    return body;
}

/*
 * The patterns of a spec share one compiled budget: as many as fit are
 * accepted; one more is refused, once, at the column that spent it.
 */
static void test_patterns_share_one_budget(void **state)
{
    (void)state;
    static const char costly[] = "(ab{1,1000}){1,1000}";
    struct pattern *pattern = NULL;
    assert_int_equal(pattern_compile(costly, &pattern, NULL), 0);
    size_t each = pattern_compiled_size(pattern);
    pattern_free(pattern);
    size_t fit = SPEC_MAX_PATTERNS_COMPILED_BYTES / each;
    assert_true(fit >= 2 && fit < 40);

    struct iq_error err = {0};
    struct job_spec *spec = NULL;
    json_t *body = with_patterns(fit, costly);
    assert_int_equal(job_spec_parse(body, NULL, &spec, &err), 0);
    job_spec_free(spec);
    json_decref(body);

    body = with_patterns(fit + 5, costly);
    assert_int_equal(job_spec_parse(body, NULL, &spec, &err), IQ_E_INVALID);
    assert_int_equal(err.field_count, 1);
    char field[64];
    snprintf(field, sizeof(field), "target.columns[%zu].pattern", fit);
    const char *message = field_message(&err, field);
    assert_non_null(message);
    assert_non_null(strstr(message, "together"));
    iq_error_clear(&err);
    json_decref(body);
}

/* ---- round trip --------------------------------------------------------- */

/* job_from_spec - the job the store would return for spec, built by hand. */
static struct job *job_from_spec(const struct job_spec *spec)
{
    struct job *job = job_new();
    assert_non_null(job);
    uuid7_generate(job->id);
    free(job->name);
    job->name = strdup(spec->name);
    job->status = spec->hold ? JOB_HELD : JOB_QUEUED;
    job->priority = spec->priority;
    job->depends_on = calloc(spec->depends_on_count + 1, sizeof(char *));
    for (size_t i = 0; i < spec->depends_on_count; i++)
        job->depends_on[i] = strdup(spec->depends_on[i]);
    job->depends_on_count = spec->depends_on_count;
    job->scheduled_at_ms = spec->scheduled_at_ms;
    job->request_id = spec->request_id ? strdup(spec->request_id) : NULL;
    job->max_attempts = spec->max_attempts;
    job->timeout_s = spec->timeout_s;
    job->resources = calloc(spec->resource_count + 1, sizeof(*job->resources));
    for (size_t i = 0; i < spec->resource_count; i++) {
        job->resources[i].name = strdup(spec->resources[i].name);
        job->resources[i].mode = spec->resources[i].mode;
    }
    job->resource_count = spec->resource_count;
    job->source = json_deep_copy(spec->source_json);
    job->target = json_deep_copy(spec->target_json);
    job->on_error = json_deep_copy(spec->on_error_json);
    job->target_table = strdup(spec->target.table);
    return job;
}

static void assert_same_spec(const struct job_spec *a, const struct job_spec *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->priority, b->priority);
    assert_int_equal(a->depends_on_count, b->depends_on_count);
    for (size_t i = 0; i < a->depends_on_count; i++)
        assert_string_equal(a->depends_on[i], b->depends_on[i]);
    assert_int_equal(a->scheduled_at_ms, b->scheduled_at_ms);
    if (a->request_id || b->request_id)
        assert_string_equal(a->request_id, b->request_id);
    assert_int_equal(a->max_attempts, b->max_attempts);
    assert_int_equal(a->timeout_s, b->timeout_s);
    assert_int_equal(a->resource_count, b->resource_count);
    for (size_t i = 0; i < a->resource_count; i++) {
        assert_string_equal(a->resources[i].name, b->resources[i].name);
        assert_int_equal(a->resources[i].mode, b->resources[i].mode);
    }
    assert_true(json_equal(a->source_json, b->source_json));
    assert_true(json_equal(a->target_json, b->target_json));
    assert_true(json_equal(a->on_error_json, b->on_error_json));
}

static const char *const round_trip_specs[] = {
    "{" ST ", " TT "}",
    "{'name': 'users nightly', 'priority': 3, 'depends_on': ['" UUID_A "', '" UUID_B "'],"
    " 'scheduled_at': '2026-12-01T02:00:00.250+01:00', 'request_id': 'key-1', 'max_attempts': 9,"
    " 'timeout_s': 77, 'resources': [{'name': 'table:users', 'mode': 'shared'},"
    "   {'name': 'table:teams', 'mode': 'shared'}, {'name': 'api:crm'}],"
    " 'source': {'path': 'in/users.txt', 'format': 'csv',"
    "   'csv': {'delimiter': ';', 'quote': '|', 'header': false, 'null': 'NULL', 'skip_rows': 3}},"
    " 'target': {'table': 'users', 'database': 'dw', 'mode': 'upsert', 'key': ['user_id'], 'create': true,"
    "   'columns': [{'name': 'user_id', 'type': 'bigint', 'required': true, 'min': 1},"
    "     {'name': 'email', 'max_length': 320, 'pattern': '^[^@]+@[^@]+$', 'from': 'E-Mail'},"
    "     {'name': 'level', 'type': 'real', 'min': 0.5, 'max': 1e20, 'enum': [0.5, 1, 'x']},"
    "     {'name': 'team_id', 'type': 'integer', 'references': 'teams.team_id'}]},"
    " 'on_error': {'action': 'skip', 'max_rejects': 12}}",
    "{'source': {'path': 'steps.json', 'json': {'records': '/steps'}},"
    " 'resources': [{'name': 'table:tasks', 'mode': 'shared'}],"
    " 'target': {'table': 'steps', 'mode': 'replace', 'columns': [{'name': 'step_id', 'from': '/id'}],"
    "   'children': [{'table': 'tasks', 'from': '/task_list', 'parent_key': {'step_id': 'step_id'},"
    "     'key': ['task_id'], 'columns': [{'name': 'task_id', 'type': 'uuid', 'from': '/id'}]},"
    "    {'table': 'notes', 'parent_key': {'sid': 'step_id', 'other': 'step_id'}}]}}",
    "{'source': {'upload': '" UUID_A "', 'format': 'ndjson'}, 'target': {'table': 't', 'mode': 'append'}}",
    "{'source': {'path': 'steps.json'}, 'resources': [{'name': 'api:crm'}],"
    " 'target': {'table': 'crm.steps', 'columns': [{'name': 'team_id',"
    "   'references': 'crm.teams.team_id'}],"
    "   'children': [{'table': 'crm.tasks', 'parent_key': {'step_id': 'team_id'}}]}}",
};

static void test_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(round_trip_specs) / sizeof(round_trip_specs[0]); i++) {
        struct job_spec *spec = expect_ok(round_trip_specs[i]);
        struct job *job = job_from_spec(spec);
        json_t *body = job_spec_json_from_job(job);
        assert_non_null(body);
        assert_null(json_object_get(body, "hold"));
        assert_true(json_is_array(json_object_get(body, "resources")));

        struct job_spec *again = NULL;
        struct iq_error err = {0};
        if (job_spec_parse(body, &test_defaults, &again, &err) != 0) {
            char *text = json_dumps(body, 0);
            print_message("round trip %zu rejected: %s\n", i, text);
            free(text);
            print_fields(&err);
            fail();
        }
        assert_same_spec(spec, again);

        /* The rebuilt body is a fixed point. */
        struct job *job_again = job_from_spec(again);
        json_t *body_again = job_spec_json_from_job(job_again);
        assert_true(json_equal(body, body_again));

        json_decref(body_again);
        job_free(job_again);
        job_spec_free(again);
        json_decref(body);
        job_free(job);
        job_spec_free(spec);
    }
}

static void test_round_trip_omits_implied_resources(void **state)
{
    (void)state;
    struct job_spec *spec = expect_ok(round_trip_specs[2]);
    struct job *job = job_from_spec(spec);
    json_t *body = job_spec_json_from_job(job);
    assert_int_equal(json_array_size(json_object_get(body, "resources")), 0);
    assert_null(json_object_get(body, "scheduled_at"));
    assert_null(json_object_get(body, "request_id"));
    json_decref(body);
    job_free(job);
    job_spec_free(spec);

    spec = expect_ok(round_trip_specs[1]);
    job = job_from_spec(spec);
    body = job_spec_json_from_job(job);
    json_t *resources = json_object_get(body, "resources");
    assert_int_equal(json_array_size(resources), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(resources, 0), "name")),
                        "table:teams");
    assert_string_equal(json_string_value(json_object_get(body, "scheduled_at")),
                        "2026-12-01T01:00:00.250Z");
    json_decref(body);
    job_free(job);
    job_spec_free(spec);
}

static void test_put_overlay(void **state)
{
    (void)state;
    struct job_spec *spec = expect_ok(round_trip_specs[1]);
    struct job *job = job_from_spec(spec);
    json_t *body = job_spec_json_from_job(job);
    json_t *put = spec_load("{'priority': 1, 'on_error': {'action': 'abort'}}");
    assert_int_equal(json_object_update(body, put), 0);
    struct job_spec *updated = NULL;
    assert_int_equal(job_spec_parse(body, &test_defaults, &updated, NULL), 0);
    assert_int_equal(updated->priority, 1);
    assert_int_equal(updated->on_error.action, ON_ERROR_ABORT);
    assert_int_equal(updated->on_error.max_rejects, 0);
    assert_true(json_equal(updated->target_json, spec->target_json));
    assert_string_equal(updated->request_id, "key-1");
    job_spec_free(updated);
    json_decref(put);
    json_decref(body);
    job_free(job);
    job_spec_free(spec);
}

static void test_json_from_job_null(void **state)
{
    (void)state;
    assert_null(job_spec_json_from_job(NULL));
    struct job *job = job_new();
    json_t *body = job_spec_json_from_job(job);
    assert_non_null(body);
    assert_null(json_object_get(body, "source"));
    json_decref(body);
    job_free(job);
}

/* ---- job_spec_parse_target ---------------------------------------------- */

static void test_parse_target(void **state)
{
    (void)state;
    struct target_spec target;
    json_t *normalised = NULL;
    struct iq_error err = {0};
    json_t *obj = spec_load("{'table': 'steps', 'mode': 'upsert', 'key': ['id'],"
                            " 'columns': [{'name': 'id', 'type': 'bigint'}]}");
    assert_int_equal(job_spec_parse_target(obj, SOURCE_NDJSON, &target, &normalised, &err), 0);
    assert_string_equal(target.table, "steps");
    assert_int_equal(target.mode, TARGET_UPSERT);
    assert_string_equal(target.columns[0].from, "/id");
    expect_json(normalised, "{'table': 'steps', 'mode': 'upsert', 'key': ['id'], 'create': false,"
                            " 'columns': [{'name': 'id', 'type': 'bigint', 'from': '/id', 'required': false}],"
                            " 'children': []}");
    json_decref(normalised);
    target_spec_clear(&target);
    assert_null(target.table);
    json_decref(obj);

    obj = spec_load("{'table': 'importq_x', 'mode': 'upsert', 'y': 1}");
    assert_int_equal(job_spec_parse_target(obj, SOURCE_CSV, &target, &normalised, &err), IQ_E_INVALID);
    assert_null(normalised);
    assert_null(target.table);
    assert_true(has_field(&err, "target.table"));
    assert_true(has_field(&err, "target.key"));
    assert_true(has_field(&err, "target.y"));
    assert_int_equal(err.field_count, 3);
    iq_error_clear(&err);
    json_decref(obj);

    assert_int_equal(job_spec_parse_target(NULL, SOURCE_CSV, &target, NULL, &err), IQ_E_INVALID);
    assert_true(has_field(&err, "target"));
    iq_error_clear(&err);
}

/* ---- names and NULL safety ---------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < COLUMN_TYPE_COUNT; i++) {
        enum column_type type;
        assert_int_equal(column_type_parse(column_type_name((enum column_type)i), &type), 0);
        assert_int_equal(type, i);
    }
    enum column_type type;
    assert_int_equal(column_type_parse("strng", &type), IQ_E_INVALID);
    assert_int_equal(column_type_parse("TEXT", &type), IQ_E_INVALID);
    assert_int_equal(column_type_parse(NULL, &type), IQ_E_INVALID);
    assert_string_equal(column_type_name(COLUMN_TIMESTAMPTZ), "timestamptz");
    assert_string_equal(column_type_name(COLUMN_TYPE_COUNT), "unknown");
    assert_string_equal(source_format_name(SOURCE_NDJSON), "ndjson");
    assert_string_equal(target_mode_name(TARGET_REPLACE), "replace");
    assert_string_equal(error_action_name(ON_ERROR_SKIP), "skip");
    assert_string_equal(target_mode_name((enum target_mode)42), "unknown");
}

static void test_null_safety(void **state)
{
    (void)state;
    job_spec_free(NULL);
    target_spec_clear(NULL);
    struct target_spec empty = {0};
    target_spec_clear(&empty);
    struct job_spec *spec = NULL;
    json_t *body = json_array();
    assert_int_equal(job_spec_parse(body, NULL, &spec, NULL), IQ_E_INVALID);
    assert_null(spec);
    assert_int_equal(job_spec_parse(NULL, NULL, &spec, NULL), IQ_E_INVALID);
    json_decref(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_five_mistakes_reported_together),
        cmocka_unit_test(test_error_detail_without_err),
        cmocka_unit_test(test_defaults_in_struct_and_json),
        cmocka_unit_test(test_csv_encoding_and_columns),
    cmocka_unit_test(test_column_defaults),
        cmocka_unit_test(test_ids_lower_cased_and_deduplicated),
        cmocka_unit_test(test_top_level_values),
        cmocka_unit_test(test_resources_merge),
        cmocka_unit_test(test_resources_limit),
        cmocka_unit_test(test_unknown_fields_at_every_level),
        cmocka_unit_test(test_reserved_tables),
        cmocka_unit_test(test_identifiers),
        cmocka_unit_test(test_table_names),
        cmocka_unit_test(test_catalog_targets_refused),
        cmocka_unit_test(test_target_schemas),
        cmocka_unit_test(test_qualified_tables_lock_their_bare_name),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_limits_at_and_over_each_edge),
        cmocka_unit_test(test_patterns_share_one_budget),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_omits_implied_resources),
        cmocka_unit_test(test_put_overlay),
        cmocka_unit_test(test_json_from_job_null),
        cmocka_unit_test(test_parse_target),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_null_safety),
    };
    return cmocka_run_group_tests_name("job_spec", tests, NULL, NULL);
}
