/*
 * test_reader.c - the streaming readers (src/pipeline/reader*.c): tables
 * of CSV, NDJSON and JSON inputs with the records (or the fatal error)
 * each must give, run at several chunk sizes so that every chunk boundary
 * case is crossed; then limits on generated large files (a 100 MB field, a
 * 200k-row file streamed in bounded memory).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pipeline/reader.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* jansson's allocations are counted, to show that a JSON reader holds one
 * record at a time (resident memory says little under ASan, whose
 * quarantine keeps freed memory). */
static size_t json_live_bytes;
static size_t json_peak_bytes;

static void *counting_malloc(size_t size)
{
    size_t *block = malloc(size + 16);
    if (!block)
        return NULL;
    block[0] = size;
    json_live_bytes += size;
    if (json_live_bytes > json_peak_bytes)
        json_peak_bytes = json_live_bytes;
    return (char *)block + 16;
}

static void counting_free(void *ptr)
{
    if (!ptr)
        return;
    size_t *block = (size_t *)((char *)ptr - 16);
    json_live_bytes -= block[0];
    free(block);
}

/* Chunk sizes every table runs at: tiny ones cross every boundary. */
static const size_t chunk_sizes[] = {4, 5, 7, 16, 0};

/* A growing string for renderings. */
struct text {
    char *data;
    size_t length;
    size_t capacity;
};

static void text_add(struct text *t, const char *data, size_t length)
{
    if (t->length + length + 1 > t->capacity) {
        size_t size = t->capacity ? t->capacity : 256;
        while (size < t->length + length + 1)
            size *= 2;
        t->data = realloc(t->data, size);
        assert_non_null(t->data);
        t->capacity = size;
    }
    memcpy(t->data + t->length, data, length);
    t->length += length;
    t->data[t->length] = '\0';
}

static void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(struct text *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    text_add(t, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Field text with CR, LF and NUL made visible. */
static void text_add_visible(struct text *t, const char *data, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        if (data[i] == '\n')
            text_add(t, "\\n", 2);
        else if (data[i] == '\r')
            text_add(t, "\\r", 2);
        else if (data[i] == '\0')
            text_add(t, "\\0", 2);
        else
            text_add(t, data + i, 1);
    }
}

/* Write data to a new temp file; returns its path (caller frees, unlinks). */
static char *temp_file(const char *data, size_t length)
{
    char *path = strdup("/tmp/iq_test_reader_XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t done = 0;
    while (done < length) {
        ssize_t n = write(fd, data + done, length - done);
        assert_true(n > 0);
        done += (size_t)n;
    }
    close(fd);
    return path;
}

static const char *problem_name(enum record_problem problem)
{
    switch (problem) {
    case RECORD_OK:
        return "ok";
    case RECORD_RAGGED:
        return "ragged";
    case RECORD_BAD_ENCODING:
        return "encoding";
    case RECORD_BAD_JSON:
        return "bad_json";
    case RECORD_NOT_OBJECT:
        return "not_object";
    }
    return "?";
}

static void render_csv_record(struct text *t, const struct record *rec)
{
    text_printf(t, "%lld:", (long long)rec->line);
    for (size_t i = 0; i < rec->field_count; i++) {
        const struct reader_field *f = &rec->fields[i];
        assert_int_equal(f->data[f->length], '\0');
        if (i > 0)
            text_add(t, "|", 1);
        if (f->is_null)
            text_add(t, "<NULL>", 6);
        else
            text_add_visible(t, f->data, f->length);
    }
}

static void render_json_record(struct text *t, const struct record *rec)
{
    text_printf(t, "%lld:", (long long)rec->line);
    if (!rec->value) {
        text_add(t, "-", 1);
        return;
    }
    size_t need = 0;
    char *dump = json_numbers_dump(rec->value, rec->numbers, &need); /* numbers as written */
    assert_non_null(dump);
    text_add(t, dump, need);
    free(dump);
}

/*
 * Read everything from a file with data and render it:
 *   EMPTY            when the reader says the source was empty
 *   H:a,b            the column names (CSV)
 *   2:1|x            a record: line, fields (<NULL> for NULL)
 *   2:1 !ragged:0    ... with its problem and problem column
 *   1:{..} !bad_json:0@/a  ... and where in the record (JSON)
 *   E:line 3: ...    the fatal error (from open or next), last
 */
static char *render(const char *data, size_t length, const struct source_spec *source,
                    const struct reader_limits *limits)
{
    char *path = temp_file(data, length);
    struct text t = {0};
    text_add(&t, "", 0);
    struct reader *r = NULL;
    struct iq_error err = {0};
    int rc = reader_open_path(path, source, limits, &r, &err);
    unlink(path);
    free(path);
    if (rc < 0) {
        text_printf(&t, "E:%s", err.message);
        iq_error_clear(&err);
        return t.data;
    }
    if (reader_is_empty(r))
        text_add(&t, "EMPTY\n", 6);
    size_t count;
    const char *const *names = reader_column_names(r, &count);
    if (count > 0) {
        text_add(&t, "H:", 2);
        for (size_t i = 0; i < count; i++)
            text_printf(&t, "%s%s", i ? "," : "", names[i]);
        text_add(&t, "\n", 1);
    }
    struct record *rec;
    while ((rc = reader_next(r, &rec, &err)) == 1) {
        if (source->format == SOURCE_CSV)
            render_csv_record(&t, rec);
        else
            render_json_record(&t, rec);
        if (rec->problem != RECORD_OK) {
            assert_non_null(rec->problem_message);
            text_printf(&t, " !%s:%zu", problem_name(rec->problem), rec->problem_column);
            if (rec->problem_pointer)
                text_printf(&t, "@%s", rec->problem_pointer);
        }
        text_add(&t, "\n", 1);
    }
    if (rc < 0) {
        text_printf(&t, "E:%s", err.message);
        /* Fatal errors are sticky. */
        struct iq_error again = {0};
        assert_int_equal(reader_next(r, &rec, &again), rc);
        assert_string_equal(again.message, err.message);
        iq_error_clear(&again);
    } else {
        assert_int_equal(reader_next(r, &rec, &err), 0);
        assert_int_equal(reader_bytes_read(r), length);
        assert_int_equal(reader_bytes_total(r), length);
    }
    iq_error_clear(&err);
    reader_free(r);
    return t.data;
}

/* Compare a rendering: exact, or a prefix when the expectation ends in an
 * error ("E:..." need only start the actual error). */
static void check_rendering(const char *name, size_t chunk, const char *actual,
                            const char *expected)
{
    const char *error = strstr(expected, "E:");
    bool prefix = error && (error == expected || error[-1] == '\n');
    bool same = prefix ? strncmp(actual, expected, strlen(expected)) == 0
                       : strcmp(actual, expected) == 0;
    if (!same)
        fail_msg("%s (chunk %zu):\nexpected:\n%s\nactual:\n%s", name, chunk, expected, actual);
}

struct csv_case {
    const char *name;
    const char *input;
    size_t length;              /* 0: strlen(input) */
    char delimiter;             /* 0: ',' */
    char quote;                 /* 0: '"' */
    bool no_header;
    const char *null_marker;    /* NULL: "" */
    int64_t skip_rows;
    const char *expected;
};

static const struct csv_case csv_cases[] = {
    {"basic", "a,b\n1,x\n2,y\n", 0, 0, 0, false, NULL, 0, "H:a,b\n2:1|x\n3:2|y\n"},
    {"no final newline", "a,b\n1,x", 0, 0, 0, false, NULL, 0, "H:a,b\n2:1|x\n"},
    {"crlf", "a,b\r\n1,x\r\n2,y\r\n", 0, 0, 0, false, NULL, 0, "H:a,b\n2:1|x\n3:2|y\n"},
    {"lone cr", "a,b\r1,2\r3,4\r", 0, 0, 0, false, NULL, 0, "H:a,b\n2:1|2\n3:3|4\n"},
    {"quoted newline", "a,b\n1,\"multi\nline\"\n2,z\n", 0, 0, 0, false, NULL, 0,
     "H:a,b\n2:1|multi\\nline\n4:2|z\n"},
    {"quoted crlf", "a,b\r\n1,\"x\r\ny\"\r\n2,z\r\n", 0, 0, 0, false, NULL, 0,
     "H:a,b\n2:1|x\\r\\ny\n4:2|z\n"},
    {"multiline first field", "a,b\n\"p\nq\nr\",1\n3,4\n", 0, 0, 0, false, NULL, 0,
     "H:a,b\n2:p\\nq\\nr|1\n5:3|4\n"},
    {"quoted header", "\"a\nb\",c\n1,2\n", 0, 0, 0, false, NULL, 0, "H:a\nb,c\n3:1|2\n"},
    {"doubled quotes", "a\n\"say \"\"hi\"\"\"\n\"\"\"\"\n", 0, 0, 0, false, NULL, 0,
     "H:a\n2:say \"hi\"\n3:\"\n"},
    {"delimiter inside quotes", "a,b\n\"x,y\",z\n", 0, 0, 0, false, NULL, 0, "H:a,b\n2:x,y|z\n"},
    {"default null marker", "a,b,c\n1,,\"\"\n,\"\",x\n", 0, 0, 0, false, NULL, 0,
     "H:a,b,c\n2:1|<NULL>|\n3:<NULL>||x\n"},
    {"null marker NULL", "a,b,c\nNULL,\"NULL\",\n", 0, 0, 0, false, "NULL", 0,
     "H:a,b,c\n2:<NULL>|NULL|\n"},
    {"null marker \\N", "a,b\n\\N,\"\\N\"\n", 0, 0, 0, false, "\\N", 0, "H:a,b\n2:<NULL>|\\N\n"},
    {"null marker after quoted", "a,b\n\"NULL\",NULL\n\"NULLX\",NULL\n", 0, 0, 0, false, "NULL",
     0, "H:a,b\n2:NULL|<NULL>\n3:NULLX|<NULL>\n"},
    {"null marker after doubled quotes", "a,b,c\n\"ab\"\"cd\",ab,\"ab\"\n\"\"\"\",ab,x\n", 0, 0, 0,
     false, "ab", 0, "H:a,b,c\n2:ab\"cd|<NULL>|ab\n3:\"|<NULL>|x\n"},
    {"semicolon and single quote", "a;b\n'x;y';'it''s'\n", 0, ';', '\'', false, NULL, 0,
     "H:a,b\n2:x;y|it's\n"},
    {"tab delimiter", "a\tb\nx y\t\"q\"\n", 0, '\t', 0, false, NULL, 0, "H:a,b\n2:x y|q\n"},
    {"double quote is literal with single quote", "a;b\n\"x\";y\n", 0, ';', '\'', false, NULL,
     0, "H:a,b\n2:\"x\"|y\n"},
    {"skip rows", "junk line\njunk \"unbalanced\na,b\n1,2\n", 0, 0, 0, false, NULL, 2,
     "H:a,b\n4:1|2\n"},
    {"skip rows crlf", "x\r\ny\r\na,b\r\n1,2\r\n", 0, 0, 0, false, NULL, 2, "H:a,b\n4:1|2\n"},
    {"skip rows past end", "x\ny\n", 0, 0, 0, false, NULL, 5, "EMPTY\n"},
    {"no header", "1,2\n3,4\n", 0, 0, 0, true, NULL, 0, "H:c1,c2\n1:1|2\n2:3|4\n"},
    {"no header ragged", "1,2\n3\n", 0, 0, 0, true, NULL, 0, "H:c1,c2\n1:1|2\n2:3 !ragged:0\n"},
    {"no header skip rows", "title\n1,2\n", 0, 0, 0, true, NULL, 1, "H:c1,c2\n2:1|2\n"},
    {"bom", "\xEF\xBB\xBF" "a,b\n1,2\n", 0, 0, 0, false, NULL, 0, "H:a,b\n2:1|2\n"},
    {"bom no header", "\xEF\xBB\xBF" "x,y\n", 0, 0, 0, true, NULL, 0, "H:c1,c2\n1:x|y\n"},
    {"bom only", "\xEF\xBB\xBF", 0, 0, 0, false, NULL, 0, "EMPTY\n"},
    {"bom not at start", "a\n\xEF\xBB\xBFx\n", 0, 0, 0, false, NULL, 0, "H:a\n2:\xEF\xBB\xBFx\n"},
    {"ragged rows", "a,b\n1\n1,2,3\n4,5\n", 0, 0, 0, false, NULL, 0,
     "H:a,b\n2:1 !ragged:0\n3:1|2|3 !ragged:0\n4:4|5\n"},
    {"invalid utf-8", "a,b\n1,\xff\n2,ok\n", 0, 0, 0, false, NULL, 0,
     "H:a,b\n2:1|\xff !encoding:2\n3:2|ok\n"},
    {"overlong utf-8", "a\n\xC0\xAF\n", 0, 0, 0, false, NULL, 0, "H:a\n2:\xC0\xAF !encoding:1\n"},
    {"surrogate utf-8", "a\n\xED\xA0\x80\n", 0, 0, 0, false, NULL, 0,
     "H:a\n2:\xED\xA0\x80 !encoding:1\n"},
    {"truncated utf-8", "a,b\nx\xE6\x97,y\n", 0, 0, 0, false, NULL, 0,
     "H:a,b\n2:x\xE6\x97|y !encoding:1\n"},
    {"valid utf-8", "a\n\xC3\xA9\xE6\x97\xA5\xF0\x9F\x98\x80\n", 0, 0, 0, false, NULL, 0,
     "H:a\n2:\xC3\xA9\xE6\x97\xA5\xF0\x9F\x98\x80\n"},
    {"nul byte", "a\nx\0y\n", 6, 0, 0, false, NULL, 0, "H:a\n2:x\\0y !encoding:1\n"},
    {"bad utf-8 and ragged", "a,b\n\xff\n", 0, 0, 0, false, NULL, 0, "H:a,b\n2:\xff !encoding:1\n"},
    {"invalid utf-8 in header", "a,\xfe\n1,2\n", 0, 0, 0, false, NULL, 0,
     "E:line 1: header column 2: invalid UTF-8 (byte 0xFE) at byte 1 of the field"},
    {"unterminated quote", "a,b\n1,2\n3,\"open\n4,5\n", 0, 0, 0, false, NULL, 0,
     "H:a,b\n2:1|2\nE:line 3: unterminated quoted field"},
    {"unterminated quote in header", "\"abc", 0, 0, 0, false, NULL, 0,
     "E:line 1: unterminated quoted field"},
    {"unterminated quote starting later", "a,b\n1,2\n\n\n5,\"x\ny\n", 0, 0, 0, false, NULL, 0,
     "H:a,b\n2:1|2\nE:line 5: unterminated quoted field"},
    {"quote inside unquoted field", "a,b\n1,x\"y\n", 0, 0, 0, false, NULL, 0,
     "H:a,b\nE:line 2: quote character inside an unquoted field at byte 4"},
    {"text after closing quote", "a,b\n1,\"x\"y\n", 0, 0, 0, false, NULL, 0,
     "H:a,b\nE:line 2: unexpected character after a closing quote at byte 6"},
    {"space after closing quote", "a,b\n\"x\" ,y\n", 0, 0, 0, false, NULL, 0,
     "H:a,b\nE:line 2: unexpected character after a closing quote at byte 4"},
    {"duplicate header", "a,b,a\n1,2,3\n", 0, 0, 0, false, NULL, 0,
     "E:line 1: duplicate column name \"a\" in the header (columns 1 and 3)"},
    {"duplicate empty header names", "a,,\n", 0, 0, 0, false, NULL, 0,
     "E:line 1: duplicate column name \"\" in the header (columns 2 and 3)"},
    {"empty file", "", 0, 0, 0, false, NULL, 0, "EMPTY\n"},
    {"empty file no header", "", 0, 0, 0, true, NULL, 0, "EMPTY\n"},
    {"blank lines only", "\n\n\r\n", 0, 0, 0, false, NULL, 0, "EMPTY\n"},
    {"header only", "a,b\n", 0, 0, 0, false, NULL, 0, "H:a,b\n"},
    {"header only no newline", "a,b", 0, 0, 0, false, NULL, 0, "H:a,b\n"},
    {"blank lines between", "a\n1\n\n2\n\r\n", 0, 0, 0, false, NULL, 0, "H:a\n2:1\n4:2\n"},
    {"spaces kept", "a,b\n x , y \n", 0, 0, 0, false, NULL, 0, "H:a,b\n2: x | y \n"},
    {"trailing delimiter", "a,b,\n1,2,\n", 0, 0, 0, false, NULL, 0, "H:a,b,\n2:1|2|<NULL>\n"},
    {"quoted at eof", "a\n\"x\"", 0, 0, 0, false, NULL, 0, "H:a\n2:x\n"},
    {"empty quoted at eof", "a\n\"\"", 0, 0, 0, false, NULL, 0, "H:a\n2:\n"},
    {"single column", "a\n1\n2\n", 0, 0, 0, false, NULL, 0, "H:a\n2:1\n3:2\n"},
};

static void test_csv_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(csv_cases) / sizeof(csv_cases[0]); i++) {
        const struct csv_case *tc = &csv_cases[i];
        struct source_spec source = {
            .format = SOURCE_CSV,
            .csv = {.delimiter = tc->delimiter ? tc->delimiter : ',',
                    .quote = tc->quote ? tc->quote : '"',
                    .header = !tc->no_header,
                    .null_marker = (char *)(tc->null_marker ? tc->null_marker : ""),
                    .skip_rows = tc->skip_rows}};
        size_t length = tc->length ? tc->length : strlen(tc->input);
        for (size_t k = 0; k < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); k++) {
            struct reader_limits limits = {.chunk_bytes = chunk_sizes[k]};
            char *actual = render(tc->input, length, &source, &limits);
            check_rendering(tc->name, chunk_sizes[k], actual, tc->expected);
            free(actual);
        }
    }
}

/* source.csv.encoding and source.csv.columns: what the reader hands out is UTF-8 and named as given. */
struct csv_option_case {
    const char *name;
    const char *input;
    enum source_encoding encoding;
    bool no_header;
    const char *columns;        /* comma list, NULL: none given */
    const char *expected;
};

static const struct csv_option_case csv_option_cases[] = {
    {"latin1", "name,city\nAndr\xe9,Z\xfcrich\n\xc6\xd8\xc5,\xa3\xb5\xff\n", ENCODING_LATIN1, false, NULL,
     "H:name,city\n2:Andr\xc3\xa9|Z\xc3\xbcrich\n3:\xc3\x86\xc3\x98\xc3\x85|\xc2\xa3\xc2\xb5\xc3\xbf\n"},
    {"latin1 0x80-0x9f are C1 controls", "a\n\x80\x9f\n", ENCODING_LATIN1, false, NULL,
     "H:a\n2:\xc2\x80\xc2\x9f\n"},
    {"latin1 header", "pr\xe9nom\nx\n", ENCODING_LATIN1, false, NULL, "H:pr\xc3\xa9nom\n2:x\n"},
    {"latin1: no BOM is skipped", "\xef\xbb\xbf" "a\n1\n", ENCODING_LATIN1, false, NULL,
     "H:\xc3\xaf\xc2\xbb\xc2\xbf" "a\n2:1\n"},
    {"windows-1252 euro, smart quotes, dashes", "a,b\n\x80 5,\x93" "caf\xe9\x94 \x96 \x85\n", ENCODING_WINDOWS_1252,
     false, NULL,
     "H:a,b\n2:\xe2\x82\xac 5|\xe2\x80\x9c" "caf\xc3\xa9\xe2\x80\x9d \xe2\x80\x93 \xe2\x80\xa6\n"},
    {"windows-1252 undefined bytes", "a\n\x81\x8d\x8f\x90\x9d\n", ENCODING_WINDOWS_1252, false, NULL,
     "H:a\n2:\xc2\x81\xc2\x8d\xc2\x8f\xc2\x90\xc2\x9d\n"},
    {"windows-1252 quoted field over chunks", "a\n\"\x80\x80\x80\x80\x80\x80\"\n", ENCODING_WINDOWS_1252, false,
     NULL, "H:a\n2:\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\n"},
    {"utf-8 stays as it is", "a\n\xc3\xa9\n", ENCODING_UTF8, false, NULL, "H:a\n2:\xc3\xa9\n"},
    {"columns rename the header", "a,b\n1,2\n", ENCODING_UTF8, false, "x,y", "H:x,y\n2:1|2\n"},
    {"columns replace a header with duplicates", "a,a\n1,2\n", ENCODING_UTF8, false, "x,y",
     "H:x,y\n2:1|2\n"},
    {"columns fewer than the header's", "a,b,c\n1,2,3\n", ENCODING_UTF8, false, "x,y",
     "E:line 1: the header has 3 columns but 2 column names were given"},
    {"columns name a headerless file", "1,2\n3,4\n5\n", ENCODING_UTF8, true, "x,y",
     "H:x,y\n1:1|2\n2:3|4\n3:5 !ragged:0\n"},
    {"columns of a headerless file, first record wider", "1,2,3\n", ENCODING_UTF8, true, "x,y",
     "H:x,y\nE:line 1: the first record has 3 fields but 2 column names were given"},
    {"columns of an empty headerless file", "", ENCODING_UTF8, true, "x,y", "EMPTY\nH:x,y\n"},
    {"columns and latin1", "1,caf\xe9\n", ENCODING_LATIN1, true, "id,name", "H:id,name\n1:1|caf\xc3\xa9\n"},
};

static void test_csv_encodings_and_columns(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(csv_option_cases) / sizeof(csv_option_cases[0]); i++) {
        const struct csv_option_case *tc = &csv_option_cases[i];
        char *names[8] = {0};
        size_t name_count = 0;
        char *list = tc->columns ? strdup(tc->columns) : NULL;
        char *save = NULL;
        for (char *part = list ? strtok_r(list, ",", &save) : NULL; part && name_count < 8;
             part = strtok_r(NULL, ",", &save))
            names[name_count++] = part;
        struct source_spec source = {
            .format = SOURCE_CSV,
            .csv = {.delimiter = ',', .quote = '"', .header = !tc->no_header, .null_marker = "",
                    .encoding = tc->encoding, .columns = name_count ? names : NULL,
                    .column_count = name_count}};
        for (size_t k = 0; k < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); k++) {
            struct reader_limits limits = {.chunk_bytes = chunk_sizes[k]};
            char *actual = render(tc->input, strlen(tc->input), &source, &limits);
            check_rendering(tc->name, chunk_sizes[k], actual, tc->expected);
            free(actual);
        }
        free(list);
    }
}

struct limit_case {
    const char *name;
    const char *input;
    struct reader_limits limits;
    const char *expected;
};

static const struct limit_case csv_limit_cases[] = {
    {"too many fields", "a,b,c,d\n", {.max_fields = 3}, "E:line 1: more than 3 fields in a record"},
    {"fields at the limit", "a,b,c\n1,2,3\n", {.max_fields = 3}, "H:a,b,c\n2:1|2|3\n"},
    {"field too large", "a\n12345678901\n", {.max_field_bytes = 10},
     "H:a\nE:line 2: a field is larger than the limit of 10 bytes"},
    {"field at the limit", "a\n1234567890\n\"1234567890\"\n", {.max_field_bytes = 10},
     "H:a\n2:1234567890\n3:1234567890\n"},
    {"quoted field too large", "a\n\"12345678901\"\n", {.max_field_bytes = 10},
     "H:a\nE:line 2: a field is larger than the limit of 10 bytes (a quoted field"},
    {"record too large", "a,b,c\n1234,5678,9012\n", {.max_record_bytes = 10},
     "H:a,b,c\nE:line 2: a record is larger than the limit of 10 bytes"},
    {"record at the limit", "a,b\n12345,67890\n", {.max_record_bytes = 10}, "H:a,b\n2:12345|67890\n"},
};

static void test_csv_limits(void **state)
{
    (void)state;
    struct source_spec source = {.format = SOURCE_CSV,
                                 .csv = {.delimiter = ',', .quote = '"', .header = true,
                                         .null_marker = ""}};
    for (size_t i = 0; i < sizeof(csv_limit_cases) / sizeof(csv_limit_cases[0]); i++) {
        const struct limit_case *tc = &csv_limit_cases[i];
        for (size_t k = 0; k < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); k++) {
            struct reader_limits limits = tc->limits;
            limits.chunk_bytes = chunk_sizes[k];
            char *actual = render(tc->input, strlen(tc->input), &source, &limits);
            check_rendering(tc->name, chunk_sizes[k], actual, tc->expected);
            free(actual);
        }
    }
}

static void test_csv_bad_options(void **state)
{
    (void)state;
    struct source_spec source = {.format = SOURCE_CSV,
                                 .csv = {.delimiter = '"', .quote = '"', .header = true}};
    char *actual = render("a\n", 2, &source, NULL);
    check_rendering("delimiter equals quote", 0, actual, "E:CSV delimiter and quote must differ");
    free(actual);
    source.csv.delimiter = '\n';
    actual = render("a\n", 2, &source, NULL);
    check_rendering("newline delimiter", 0, actual, "E:CSV delimiter and quote must differ");
    free(actual);
}

struct json_case {
    const char *name;
    enum source_format format;
    const char *pointer;
    const char *input;
    const char *expected;
};

static const struct json_case json_cases[] = {
    {"top-level array", SOURCE_JSON, NULL, "[{\"a\":1},\n{\"a\":2}]",
     "1:{\"a\":1}\n2:{\"a\":2}\n"},
    {"pretty", SOURCE_JSON, "", "[\n  {\n    \"a\": 1,\n    \"b\": [true, null]\n  },\n  {\"a\": 2}\n]\n",
     "2:{\"a\":1,\"b\":[true,null]}\n6:{\"a\":2}\n"},
    {"pointer /steps", SOURCE_JSON, "/steps",
     "{\"meta\": {\"steps\": [1], \"x\": [{\"y\": 2}]},\n \"steps\": [\n {\"id\": 1, \"tasks\": "
     "[{\"t\": \"a\"}, {\"t\": \"b\"}]},\n {\"id\": 2, \"tasks\": []}\n ],\n \"after\": 3}",
     "3:{\"id\":1,\"tasks\":[{\"t\":\"a\"},{\"t\":\"b\"}]}\n4:{\"id\":2,\"tasks\":[]}\n"},
    {"nested pointer", SOURCE_JSON, "/data/items",
     "{\"data\": {\"count\": 1, \"items\": [{\"k\": \"v\"}]}}", "1:{\"k\":\"v\"}\n"},
    {"pointer with index", SOURCE_JSON, "/batches/1",
     "{\"batches\": [[{\"a\": 1}], [{\"b\": 2}, {\"b\": 3}], [{\"c\": 4}]]}",
     "1:{\"b\":2}\n1:{\"b\":3}\n"},
    {"pointer escapes", SOURCE_JSON, "/a~1b/m~0n",
     "{\"a/b\": {\"m~n\": [{\"ok\": true}], \"mn\": [{\"ok\": false}]}}", "1:{\"ok\":true}\n"},
    {"values of all kinds", SOURCE_JSON, NULL,
     "[{\"s\": \"h\\u00e9\", \"i\": -5, \"r\": 1.5, \"t\": true, \"f\": false, \"n\": null, "
     "\"o\": {\"p\": [1, [2, {}]]}}]",
     "1:{\"s\":\"h\xc3\xa9\",\"i\":-5,\"r\":1.5,\"t\":true,\"f\":false,\"n\":null,\"o\":{\"p\":[1,"
     "[2,{}]]}}\n"},
    {"not an array at top", SOURCE_JSON, NULL, "{\"a\": 1}",
     "E:line 1: expected an array at the top level, found an object (set source.json.records"},
    {"scalar at top", SOURCE_JSON, NULL, "42",
     "E:line 1: expected an array at the top level, found a number"},
    {"not an array at /steps", SOURCE_JSON, "/steps", "{\"steps\":\n {\"a\": 1}}",
     "E:line 2: expected an array at /steps, found an object"},
    {"string at /steps", SOURCE_JSON, "/steps", "{\"steps\": \"no\"}",
     "E:line 1: expected an array at /steps, found a string"},
    {"nothing at /steps", SOURCE_JSON, "/steps", "{\"other\": [{\"a\": 1}]}",
     "E:expected an array at /steps, found nothing there"},
    {"pointer into an array", SOURCE_JSON, "/steps", "[{\"steps\": []}]",
     "E:expected an array at /steps, found nothing there"},
    {"bad pointer", SOURCE_JSON, "steps", "[]", "E:source.json.records must be a JSON pointer"},
    {"truncated", SOURCE_JSON, NULL, "[{\"a\": 1},\n{\"a\":",
     "1:{\"a\":1}\nE:line 2: truncated JSON: the file ends inside a value"},
    {"truncated in pointer object", SOURCE_JSON, "/steps", "{\"steps\": [{\"a\": 1}]",
     "1:{\"a\":1}\nE:line 1: truncated JSON"},
    {"invalid json", SOURCE_JSON, NULL, "[{\"a\": 1},\n x]",
     "1:{\"a\":1}\nE:line 2: invalid JSON: lexical error"},
    {"trailing garbage", SOURCE_JSON, NULL, "[{\"a\": 1}]\n]",
     "1:{\"a\":1}\nE:line 2: invalid JSON"},
    {"invalid utf-8", SOURCE_JSON, NULL, "[{\"a\": \"\xff\"}]", "E:line 1: invalid JSON"},
    {"element not an object", SOURCE_JSON, NULL, "[1, {\"a\": 1},\n [2], \"s\", null]",
     "1:1 !not_object:0\n1:{\"a\":1}\n2:[2] !not_object:0\n2:\"s\" !not_object:0\n"
     "2:null !not_object:0\n"},
    {"duplicate key", SOURCE_JSON, NULL, "[{\"a\": 1, \"a\": 2}, {\"a\": 3}]",
     "1:{\"a\":2} !bad_json:0@/a\n1:{\"a\":3}\n"},
    {"duplicate key deep", SOURCE_JSON, NULL, "[{\"l\": [0, {\"a\": 1, \"a\": 2}]}]",
     "1:{\"l\":[0,{\"a\":2}]} !bad_json:0@/l/1/a\n"},
    {"nul in string", SOURCE_JSON, NULL, "[{\"a\": \"x\\u0000y\"}]", "1:{\"a\":\"x\\u0000y\"} !bad_json:0@/a\n"},
    {"nul in a nested string", SOURCE_JSON, NULL, "[{\"o\": {\"k/~\": [1, \"\\u0000\"]}}]",
     "1:{\"o\":{\"k/~\":[1,\"\\u0000\"]}} !bad_json:0@/o/k~1~0/1\n"},
    {"huge integer", SOURCE_JSON, NULL, "[{\"n\": 123456789012345678901234567890}]",
     "1:{\"n\":123456789012345678901234567890}\n"},
    {"huge real", SOURCE_JSON, NULL, "[{\"n\": 1e999}]", "1:{\"n\":1e999}\n"},
    {"numbers keep their text", SOURCE_JSON, NULL,
     "[{\"a\": 0.1234567890123456789, \"b\": 18446744073709551616, \"c\": -1E-400, "
     "\"d\": 1.50, \"e\": -7, \"f\": [2e3]}]",
     "1:{\"a\":0.1234567890123456789,\"b\":18446744073709551616,\"c\":-1E-400,\"d\":1.50,"
     "\"e\":-7,\"f\":[2e3]}\n"},
    {"ndjson numbers keep their text", SOURCE_NDJSON, NULL,
     "{\"b\": 18446744073709551616, \"c\": 1e400, \"d\": 1.50}\n",
     "1:{\"b\":18446744073709551616,\"c\":1e400,\"d\":1.50}\n"},
    {"empty array", SOURCE_JSON, NULL, "[]", ""},
    {"empty file", SOURCE_JSON, NULL, "", "EMPTY\n"},
    {"whitespace only", SOURCE_JSON, NULL, "  \n\t \r\n", "EMPTY\n"},
    {"bom", SOURCE_JSON, NULL, "\xEF\xBB\xBF[{\"a\": 1}]", "1:{\"a\":1}\n"},
    {"ndjson basic", SOURCE_NDJSON, NULL, "{\"a\":1}\n{\"a\":2}\n", "1:{\"a\":1}\n2:{\"a\":2}\n"},
    {"ndjson no final newline", SOURCE_NDJSON, NULL, "{\"a\":1}\n{\"a\":2}",
     "1:{\"a\":1}\n2:{\"a\":2}\n"},
    {"ndjson blank lines and crlf", SOURCE_NDJSON, NULL, "{\"a\":1}\r\n\r\n  \n{\"a\":2}\r\n",
     "1:{\"a\":1}\n4:{\"a\":2}\n"},
    {"ndjson bad lines", SOURCE_NDJSON, NULL, "{\"a\":1}\nnot json\n[1]\n{\"a\":2}\n\"s\"\n",
     "1:{\"a\":1}\n2:- !bad_json:0\n3:[1] !not_object:0\n4:{\"a\":2}\n5:\"s\" !not_object:0\n"},
    {"ndjson duplicate key", SOURCE_NDJSON, NULL, "{\"a\":1,\"a\":2}\n",
     "1:{\"a\":2} !bad_json:0@/a\n"},
    {"ndjson nul in a string", SOURCE_NDJSON, NULL, "{\"a\":[\"\\u0000\"]}\n",
     "1:{\"a\":[\"\\u0000\"]} !bad_json:0@/a/0\n"},
    {"ndjson truncated line", SOURCE_NDJSON, NULL, "{\"a\":1\n{\"a\":2}\n",
     "1:- !bad_json:0\n2:{\"a\":2}\n"},
    {"ndjson two values on a line", SOURCE_NDJSON, NULL, "{\"a\":1} {\"a\":2}\n",
     "1:- !bad_json:0\n"},
    {"ndjson bom", SOURCE_NDJSON, NULL, "\xEF\xBB\xBF{\"a\":1}\n", "1:{\"a\":1}\n"},
    {"ndjson empty", SOURCE_NDJSON, NULL, "", "EMPTY\n"},
    {"ndjson blank only", SOURCE_NDJSON, NULL, "\n \n\r\n", "EMPTY\n"},
};

static void test_json_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
        const struct json_case *tc = &json_cases[i];
        struct source_spec source = {.format = tc->format, .json_records = (char *)tc->pointer};
        for (size_t k = 0; k < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); k++) {
            struct reader_limits limits = {.chunk_bytes = chunk_sizes[k]};
            char *actual = render(tc->input, strlen(tc->input), &source, &limits);
            check_rendering(tc->name, chunk_sizes[k], actual, tc->expected);
            free(actual);
        }
    }
}

static void test_json_limits(void **state)
{
    (void)state;
    struct source_spec json = {.format = SOURCE_JSON};
    struct source_spec ndjson = {.format = SOURCE_NDJSON};
    struct reader_limits small = {.max_record_bytes = 32};
    const char *lines = "{\"a\":1}\n{\"a\":\"0123456789012345678901234567890123\"}\n";
    char *actual = render(lines, strlen(lines), &ndjson, &small);
    check_rendering("ndjson line too long", 0, actual,
                    "1:{\"a\":1}\nE:line 2: line longer than the limit of 32 bytes");
    free(actual);

    /* Nesting deeper than READER_MAX_JSON_DEPTH. */
    size_t depth = READER_MAX_JSON_DEPTH + 10;
    char *deep = malloc(2 * depth + 1);
    assert_non_null(deep);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    actual = render(deep, 2 * depth, &json, NULL);
    check_rendering("too deep", 0, actual, "E:line 1: JSON nested deeper than 512 levels");
    free(actual);
    free(deep);
}

/* An anonymous temp file (already unlinked, so nothing is left behind
 * when an assertion fails): head, size bytes of fill, tail. Returns the
 * fd, positioned at the start. */
static int big_file(const char *head, char fill, size_t size, const char *tail)
{
    char path[] = "/tmp/iq_test_big_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, head, strlen(head)), (ssize_t)strlen(head));
    size_t block_size = 1 << 20;
    char *block = malloc(block_size);
    assert_non_null(block);
    memset(block, fill, block_size);
    for (size_t done = 0; done < size; done += block_size) {
        size_t n = size - done < block_size ? size - done : block_size;
        assert_int_equal(write(fd, block, n), (ssize_t)n);
    }
    assert_int_equal(write(fd, tail, strlen(tail)), (ssize_t)strlen(tail));
    free(block);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

/* Read fd from its start to the first fatal error; returns the message
 * (caller frees) and the reader's buffer bytes at that point. */
static char *read_to_error(int fd, const struct source_spec *source,
                           const struct reader_limits *limits, size_t *ret_buffer_bytes)
{
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    struct reader *r = NULL;
    struct iq_error err = {0};
    int rc = reader_open_fd(fd, source, limits, &r, &err);
    *ret_buffer_bytes = 0;
    if (rc == 0) {
        struct record *rec;
        while ((rc = reader_next(r, &rec, &err)) == 1)
            ;
        *ret_buffer_bytes = reader_buffer_bytes(r);
        reader_free(r);
    }
    assert_true(rc < 0);
    char *message = strdup(err.message);
    iq_error_clear(&err);
    return message;
}

#define HUNDRED_MB ((size_t)100 * 1000 * 1000)

/* A 100 MB field: a clear error after max_field_bytes, bounded memory. */
static void test_100mb_field(void **state)
{
    (void)state;
    struct source_spec csv = {.format = SOURCE_CSV,
                              .csv = {.delimiter = ',', .quote = '"', .header = true,
                                      .null_marker = ""}};
    struct reader_limits limits = {.max_field_bytes = 1 << 20};
    size_t buffers;

    int fd = big_file("id,blob\n1,", 'x', HUNDRED_MB, "\n2,y\n");
    char *message = read_to_error(fd, &csv, &limits, &buffers);
    assert_string_equal(message, "line 2: a field is larger than the limit of 1048576 bytes");
    assert_true(buffers < 4 * (1 << 20));
    free(message);

    /* The default limit (64 MiB) holds too, with memory bounded by it. */
    message = read_to_error(fd, &csv, NULL, &buffers);
    assert_string_equal(message, "line 2: a field is larger than the limit of 67108864 bytes");
    assert_true(buffers < READER_DEFAULT_MAX_FIELD_BYTES + 2 * READER_DEFAULT_CHUNK_BYTES);
    free(message);
    close(fd);

    /* An unterminated quote swallowing the file says so. */
    fd = big_file("id,blob\n1,\"", 'x', 4 << 20, "\n");
    message = read_to_error(fd, &csv, &limits, &buffers);
    assert_string_equal(message, "line 2: a field is larger than the limit of 1048576 bytes (a "
                                 "quoted field that is never closed?)");
    free(message);
    close(fd);

    /* A JSON string and an NDJSON line of 100 MB. */
    struct source_spec json = {.format = SOURCE_JSON};
    fd = big_file("[{\"a\": \"", 'x', HUNDRED_MB, "\"}]");
    message = read_to_error(fd, &json, &limits, &buffers);
    assert_string_equal(message, "line 1: a JSON value is longer than the limit of 1048576 bytes");
    assert_true(buffers < 4 * (1 << 20));
    free(message);
    close(fd);

    struct source_spec ndjson = {.format = SOURCE_NDJSON};
    struct reader_limits record_limit = {.max_record_bytes = 1 << 20};
    fd = big_file("{}\n{\"a\": \"", 'x', HUNDRED_MB, "\"}\n");
    message = read_to_error(fd, &ndjson, &record_limit, &buffers);
    assert_string_equal(message, "line 2: line longer than the limit of 1048576 bytes");
    assert_true(buffers < 4 * (1 << 20));
    free(message);
    close(fd);
}

/* Resident memory of this process in bytes (from /proc/self/statm). */
static size_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, resident = 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

#define BIG_ROWS 200000

/* Generate a large file of the given format (anonymous, see big_file);
 * returns its fd at the start and its size. */
static int generate(enum source_format format, size_t *ret_size)
{
    char path[] = "/tmp/iq_test_rows_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    FILE *f = fdopen(dup(fd), "w");
    assert_non_null(f);
    if (format == SOURCE_CSV)
        fprintf(f, "id,email,name,team,active,score,created,notes\n");
    else if (format == SOURCE_JSON)
        fprintf(f, "[\n");
    for (int i = 0; i < BIG_ROWS; i++) {
        if (format == SOURCE_CSV)
            fprintf(f,
                    "%d,user%d@example.com,\"Doe, Jane %d\",%d,true,%d.25,2024-02-%02d "
                    "10:00:00,padding padding padding padding padding padding\r\n",
                    i, i, i, i % 100, i % 1000, i % 28 + 1);
        else
            fprintf(f,
                    "%s{\"id\": %d, \"email\": \"user%d@example.com\", \"tasks\": [{\"n\": 1}, "
                    "{\"n\": 2}], \"padding\": \"padding padding padding padding padding\"}\n",
                    format == SOURCE_JSON && i > 0 ? "," : "", i, i);
    }
    if (format == SOURCE_JSON)
        fprintf(f, "]\n");
    *ret_size = (size_t)ftell(f);
    fclose(f);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

/* Stream a generated file: every record, right line numbers, bounded
 * buffers, and resident memory far below the file's size. */
static void stream_big(enum source_format format)
{
    size_t size;
    int fd = generate(format, &size);
    assert_true(size > 20 * 1000 * 1000);
    struct source_spec source = {.format = format,
                                 .csv = {.delimiter = ',', .quote = '"', .header = true,
                                         .null_marker = ""}};
    size_t resident_before = resident_bytes();
    size_t json_before = json_live_bytes;
    json_peak_bytes = json_live_bytes;
    struct reader *r;
    struct iq_error err = {0};
    assert_int_equal(reader_open_fd(fd, &source, NULL, &r, &err), 0);
    struct record *rec;
    int rc;
    int64_t count = 0;
    size_t max_buffers = 0;
    while ((rc = reader_next(r, &rec, &err)) == 1) {
        int64_t first_line = format == SOURCE_NDJSON ? 1 : 2;
        assert_int_equal(rec->line, first_line + count);
        assert_int_equal(rec->problem, RECORD_OK);
        if (format == SOURCE_CSV) {
            assert_int_equal(rec->field_count, 8);
            assert_int_equal(strtoll(rec->fields[0].data, NULL, 10), count);
        } else {
            assert_int_equal(json_integer_value(json_object_get(rec->value, "id")), count);
        }
        size_t buffers = reader_buffer_bytes(r);
        if (buffers > max_buffers)
            max_buffers = buffers;
        count++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(count, BIG_ROWS);
    assert_int_equal(reader_bytes_read(r), size);
    size_t resident_after = resident_bytes();
    reader_free(r);
    close(fd);
    /* The chunk plus buffers sized to one record: well under 1 MiB. */
    assert_true(max_buffers < (1 << 20));
    if (format == SOURCE_CSV)
        assert_true(resident_after < resident_before + size / 2);
    else
        assert_true(json_peak_bytes - json_before < (1 << 20));
    assert_int_equal(json_live_bytes, json_before);
}

static void test_stream_200k_csv(void **state)
{
    (void)state;
    stream_big(SOURCE_CSV);
}

static void test_stream_200k_json(void **state)
{
    (void)state;
    stream_big(SOURCE_JSON);
}

static void test_stream_200k_ndjson(void **state)
{
    (void)state;
    stream_big(SOURCE_NDJSON);
}

/* A pipe: no total size, the same records. */
static void test_pipe(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const char *data = "a,b\n1,2\n";
    assert_int_equal(write(fds[1], data, strlen(data)), (ssize_t)strlen(data));
    close(fds[1]);
    struct source_spec source = {.format = SOURCE_CSV,
                                 .csv = {.delimiter = ',', .quote = '"', .header = true}};
    struct reader *r;
    struct iq_error err = {0};
    assert_int_equal(reader_open_fd(fds[0], &source, NULL, &r, &err), 0);
    struct record *rec;
    assert_int_equal(reader_next(r, &rec, &err), 1);
    assert_int_equal(rec->line, 2);
    assert_string_equal(rec->fields[1].data, "2");
    assert_false(rec->fields[1].is_null); /* null_marker NULL means "" */
    assert_int_equal(reader_next(r, &rec, &err), 0);
    assert_int_equal(reader_bytes_total(r), 0);
    assert_int_equal(reader_bytes_read(r), strlen(data));
    reader_free(r);
    close(fds[0]); /* borrowed: still ours to close */
}

static void test_missing_file(void **state)
{
    (void)state;
    struct source_spec source = {.format = SOURCE_NDJSON};
    struct reader *r = (struct reader *)&source;
    struct iq_error err = {0};
    assert_int_equal(reader_open_path("/nonexistent/iq.ndjson", &source, NULL, &r, &err),
                     IQ_E_NOT_FOUND);
    assert_null(r);
    assert_non_null(strstr(err.message, "/nonexistent/iq.ndjson"));
    iq_error_clear(&err);
    reader_free(NULL);
}

/* Each record's index and JSON pointer, as "index@pointer;" (CSV: "-"). */
static char *positions(const char *data, const struct source_spec *source)
{
    char *path = temp_file(data, strlen(data));
    struct reader *r = NULL;
    struct iq_error err = {0};
    assert_int_equal(reader_open_path(path, source, NULL, &r, &err), 0);
    struct text t = {0};
    text_add(&t, "", 0);
    struct record *rec;
    while (reader_next(r, &rec, &err) == 1)
        text_printf(&t, "%lld@%s;", (long long)rec->index, rec->pointer ? rec->pointer : "-");
    reader_free(r);
    unlink(path);
    free(path);
    return t.data;
}

/* Records are numbered from 0 and, in JSON, found by pointer: on a single
 * line every line number is 1, so the line alone cannot say which. */
static void test_record_positions(void **state)
{
    (void)state;
    static const struct {
        enum source_format format;
        const char *records;
        const char *data;
        const char *expected;
    } cases[] = {
        {SOURCE_JSON, NULL, "[{\"a\": 1}, 2, {\"a\": 3}]", "0@/0;1@/1;2@/2;"},
        {SOURCE_JSON, "/steps", "{\"x\": [{}], \"steps\": [{\"a\": 1}, {\"b\": [{}]}]}",
         "0@/steps/0;1@/steps/1;"},
        {SOURCE_JSON, "/a~1b/1", "{\"a/b\": [[{}], [{}, {}]]}", "0@/a~1b/1/0;1@/a~1b/1/1;"},
        {SOURCE_NDJSON, NULL, "{\"a\": 1}\n\nnot json\n{\"a\": 2}\n", "0@;1@;2@;"},
        {SOURCE_CSV, NULL, "a\n1\n2\n", "0@-;1@-;"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct source_spec source = {.format = cases[i].format,
                                     .json_records = (char *)cases[i].records,
                                     .csv = {.header = true}};
        char *got = positions(cases[i].data, &source);
        if (strcmp(got, cases[i].expected) != 0)
            fail_msg("case %zu: %s, expected %s", i, got, cases[i].expected);
        free(got);
    }
}

/* The JSON value of a record may be kept past the next call with incref. */
static void test_json_value_kept(void **state)
{
    (void)state;
    const char *data = "[{\"a\": 1}, {\"a\": 2}]";
    char *path = temp_file(data, strlen(data));
    struct source_spec source = {.format = SOURCE_JSON};
    struct reader *r;
    assert_int_equal(reader_open_path(path, &source, NULL, &r, NULL), 0);
    unlink(path);
    free(path);
    struct record *rec;
    assert_int_equal(reader_next(r, &rec, NULL), 1);
    json_t *kept = json_incref(rec->value);
    assert_int_equal(reader_next(r, &rec, NULL), 1);
    assert_int_equal(reader_next(r, &rec, NULL), 0);
    reader_free(r);
    assert_int_equal(json_integer_value(json_object_get(kept, "a")), 1);
    json_decref(kept);
}

int main(void)
{
    json_set_alloc_funcs(counting_malloc, counting_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_200k_csv),
        cmocka_unit_test(test_stream_200k_json),
        cmocka_unit_test(test_stream_200k_ndjson),
        cmocka_unit_test(test_csv_table),
        cmocka_unit_test(test_csv_encodings_and_columns),
        cmocka_unit_test(test_csv_limits),
        cmocka_unit_test(test_csv_bad_options),
        cmocka_unit_test(test_json_table),
        cmocka_unit_test(test_json_limits),
        cmocka_unit_test(test_100mb_field),
        cmocka_unit_test(test_pipe),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_json_value_kept),
        cmocka_unit_test(test_record_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
