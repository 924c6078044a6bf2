/*
 * job_spec_source.c - the "source" part of a job spec (docs/job-spec.md): where
 * the data comes from (a path under the import root or an upload id), its
 * format (given, or implied by the path's extension) and the csv options
 * (delimiter, quote, header, null, skip_rows, encoding, columns) and json
 * options, with every default filled in.
 *
 * Not for reading the data (the pipeline's readers do that), nor for
 * resolving the path on disk (util/path.c); the path is checked lexically
 * here. Its normalised JSON is built in job_spec_json.c.
 */
#include "core/job_spec_internal.h"

#include "core/uuid7.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const source_format_names[] = {"csv", "ndjson", "json"};

static const char *const source_fields[] = {"format", "path", "upload", "csv", "json", NULL};
static const char *const csv_fields[] = {"delimiter", "quote",    "header",  "null",
                                         "skip_rows", "encoding", "columns", NULL};

/* The encodings' names as a spec may write them (any case): canonical names first. */
static const struct {
    const char *name;
    enum source_encoding encoding;
} encoding_names[] = {
    {"utf-8", ENCODING_UTF8},
    {"latin1", ENCODING_LATIN1},
    {"windows-1252", ENCODING_WINDOWS_1252},
    {"utf8", ENCODING_UTF8},
    {"iso-8859-1", ENCODING_LATIN1},
    {"latin-1", ENCODING_LATIN1},
    {"cp1252", ENCODING_WINDOWS_1252},
};
static const char *const json_fields[] = {"records", NULL};

const char *source_format_name(enum source_format format)
{
    return (unsigned)format < COUNT_OF(source_format_names) ? source_format_names[format]
                                                            : "unknown";
}

const char *source_encoding_name(enum source_encoding encoding)
{
    for (size_t i = 0; i < COUNT_OF(encoding_names); i++) {
        if (encoding_names[i].encoding == encoding)
            return encoding_names[i].name;
    }
    return "unknown";
}

/* format_from_path - .ndjson/.jsonl: ndjson, .json: json, anything else: csv. */
static enum source_format format_from_path(const char *path)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (dot && (strcasecmp(dot, ".ndjson") == 0 || strcasecmp(dot, ".jsonl") == 0))
        return SOURCE_NDJSON;
    if (dot && strcasecmp(dot, ".json") == 0)
        return SOURCE_JSON;
    return SOURCE_CSV;
}

static void parse_source_path(struct parse_ctx *ctx, const char *path, struct source_spec *source)
{
    if (!path[0])
        spec_field_error(ctx, "source", "path", "must not be empty");
    else if (strlen(path) > SPEC_MAX_PATH_LEN)
        spec_field_error(ctx, "source", "path", "must be at most %d bytes", SPEC_MAX_PATH_LEN);
    else if (!spec_path_is_safe(path))
        spec_field_error(ctx, "source", "path",
                         "must be a relative path inside the import root "
                         "(no leading \"/\", no \"..\" component, no backslash)");
    else
        source->path = spec_strdup(ctx, path);
}

/* parse_source_location - exactly one of path and upload. */
static void parse_source_location(struct parse_ctx *ctx, json_t *obj, struct source_spec *source)
{
    const char *path = NULL;
    const char *upload = NULL;
    enum member got_path = spec_read_string(ctx, obj, "source", "path", &path);
    enum member got_upload = spec_read_string(ctx, obj, "source", "upload", &upload);
    if (got_path == MEMBER_ABSENT && got_upload == MEMBER_ABSENT) {
        spec_field_error(ctx, "source", NULL, "one of path or upload is required");
        return;
    }
    if (got_path != MEMBER_ABSENT && got_upload != MEMBER_ABSENT) {
        spec_field_error(ctx, "source", NULL, "give either path or upload, not both");
        return;
    }
    if (got_path == MEMBER_OK)
        parse_source_path(ctx, path, source);
    if (got_upload == MEMBER_OK && !uuid_is_valid(upload))
        spec_field_error(ctx, "source", "upload", "must be an upload id (UUID)");
    else if (got_upload == MEMBER_OK)
        source->upload = spec_lowercase_copy(ctx, upload);
}

/*
 * parse_csv_char - a one-character option: ASCII, not a line break.
 * Returns false when it was given but is wrong.
 */
static bool parse_csv_char(struct parse_ctx *ctx, json_t *obj, const char *key, char *ret_char)
{
    const char *text;
    enum member got = spec_read_string(ctx, obj, "source.csv", key, &text);
    if (got != MEMBER_OK)
        return got == MEMBER_ABSENT;
    unsigned char c = (unsigned char)text[0];
    if (strlen(text) != 1 || c >= 0x80 || c == '\n' || c == '\r') {
        spec_field_error(ctx, "source.csv", key,
                         "must be one ASCII character other than a line break");
        return false;
    }
    *ret_char = (char)c;
    return true;
}

/* parse_csv_encoding - source.csv.encoding: one of encoding_names, in any case. */
static void parse_csv_encoding(struct parse_ctx *ctx, json_t *obj, struct csv_options *csv)
{
    const char *text;
    if (spec_read_string(ctx, obj, "source.csv", "encoding", &text) != MEMBER_OK)
        return;
    for (size_t i = 0; i < COUNT_OF(encoding_names); i++) {
        if (strcasecmp(text, encoding_names[i].name) == 0) {
            csv->encoding = encoding_names[i].encoding;
            return;
        }
    }
    spec_field_error(ctx, "source.csv", "encoding",
                     "unknown encoding \"%.64s\" (expected one of: utf-8, latin1 or iso-8859-1, "
                     "windows-1252 or cp1252)",
                     text);
}

/*
 * parse_csv_columns - source.csv.columns: 1 to SPEC_MAX_COLUMNS distinct,
 * non-empty names of at most SPEC_MAX_FROM_LEN bytes each.
 */
static void parse_csv_columns(struct parse_ctx *ctx, json_t *obj, struct csv_options *csv)
{
    json_t *array;
    if (spec_read_array(ctx, obj, "source.csv", "columns", SPEC_MAX_COLUMNS,
                        "must be an array of column names", &array) != MEMBER_OK)
        return;
    if (json_array_size(array) == 0) {
        spec_field_error(ctx, "source.csv", "columns", "must name at least one column");
        return;
    }
    csv->columns = spec_calloc(ctx, json_array_size(array), sizeof(*csv->columns));
    if (!csv->columns)
        return;
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        const char *name = spec_string_value(item);
        bool duplicate = false;
        for (size_t j = 0; name && j < csv->column_count; j++)
            duplicate |= strcmp(csv->columns[j], name) == 0;
        if (!name || !name[0] || strlen(name) > SPEC_MAX_FROM_LEN)
            spec_item_error(ctx, "source.csv", "columns", i,
                            "must be a non-empty column name of at most %d bytes",
                            SPEC_MAX_FROM_LEN);
        else if (duplicate)
            spec_item_error(ctx, "source.csv", "columns", i, "duplicate column name \"%s\"", name);
        else if ((csv->columns[csv->column_count] = spec_strdup(ctx, name)))
            csv->column_count++;
    }
}

/* parse_csv_options - source.csv; defaults are set by the caller. */
static void parse_csv_options(struct parse_ctx *ctx, json_t *obj, struct csv_options *csv)
{
    if (!spec_expect_object(ctx, obj, "source.csv"))
        return;
    spec_check_unknown_fields(ctx, obj, "source.csv", csv_fields);
    bool delimiter_ok = parse_csv_char(ctx, obj, "delimiter", &csv->delimiter);
    bool quote_ok = parse_csv_char(ctx, obj, "quote", &csv->quote);
    if (delimiter_ok && quote_ok && csv->delimiter == csv->quote) {
        if (json_object_get(obj, "quote"))
            spec_field_error(ctx, "source.csv", "quote", "must differ from the delimiter");
        else
            spec_field_error(ctx, "source.csv", "delimiter",
                             "must differ from the quote character");
    }
    spec_read_bool(ctx, obj, "source.csv", "header", &csv->header);
    const char *marker;
    if (spec_read_string(ctx, obj, "source.csv", "null", &marker) == MEMBER_OK) {
        if (strlen(marker) > SPEC_MAX_NAME_LEN) {
            spec_field_error(ctx, "source.csv", "null", "must be at most %d bytes",
                             SPEC_MAX_NAME_LEN);
        } else {
            free(csv->null_marker);
            csv->null_marker = spec_strdup(ctx, marker);
        }
    }
    spec_read_integer(ctx, obj, "source.csv", "skip_rows", 0, INT64_MAX, &csv->skip_rows);
    parse_csv_encoding(ctx, obj, csv);
    parse_csv_columns(ctx, obj, csv);
}

/* parse_json_options - source.json: {"records": JSON pointer}. */
static void parse_json_options(struct parse_ctx *ctx, json_t *obj, struct source_spec *source)
{
    if (!spec_expect_object(ctx, obj, "source.json"))
        return;
    spec_check_unknown_fields(ctx, obj, "source.json", json_fields);
    const char *records;
    if (spec_read_string(ctx, obj, "source.json", "records", &records) != MEMBER_OK)
        return;
    if (!spec_json_pointer_is_valid(records)) {
        spec_field_error(ctx, "source.json", "records",
                         "must be a JSON pointer: \"\" or starting with \"/\"");
        return;
    }
    if (strlen(records) > SPEC_MAX_FROM_LEN) {
        spec_field_error(ctx, "source.json", "records", "must be at most %d bytes",
                         SPEC_MAX_FROM_LEN);
        return;
    }
    free(source->json_records);
    source->json_records = spec_strdup(ctx, records);
}

/* parse_source_format - source.format, or the format the path's extension implies. */
static struct format_info parse_source_format(struct parse_ctx *ctx, json_t *obj,
                                              struct source_spec *source)
{
    struct format_info format = {.format = SOURCE_CSV, .known = true};
    int found = SOURCE_CSV;
    enum member got = spec_read_choice(ctx, obj, "source", "format", "format",
                                       source_format_names, COUNT_OF(source_format_names),
                                       &found);
    if (got == MEMBER_BAD)
        format.known = false;
    else if (got == MEMBER_OK)
        format.format = (enum source_format)found;
    else
        format.format = format_from_path(spec_string_value(json_object_get(obj, "path")));
    source->format = format.format;
    return format;
}

/* source_set_defaults - the defaults of every optional source field. */
static void source_set_defaults(struct parse_ctx *ctx, struct source_spec *source)
{
    source->csv.delimiter = ',';
    source->csv.quote = '"';
    source->csv.header = true;
    source->csv.null_marker = spec_strdup(ctx, "");
    source->csv.skip_rows = 0;
    source->csv.encoding = ENCODING_UTF8;
    source->json_records = spec_strdup(ctx, "");
}

/*
 * spec_parse_source - the "source" object into source. Returns what is known
 * about the format, which the target's checks depend on.
 */
struct format_info spec_parse_source(struct parse_ctx *ctx, json_t *obj,
                                     struct source_spec *source)
{
    struct format_info unknown = {.format = SOURCE_CSV, .known = false};
    source_set_defaults(ctx, source);
    if (!obj) {
        spec_field_error(ctx, "source", NULL, "is required");
        return unknown;
    }
    if (!spec_expect_object(ctx, obj, "source"))
        return unknown;
    spec_check_unknown_fields(ctx, obj, "source", source_fields);
    parse_source_location(ctx, obj, source);
    struct format_info format = parse_source_format(ctx, obj, source);
    json_t *csv = json_object_get(obj, "csv");
    if (csv && format.known && format.format != SOURCE_CSV)
        spec_field_error(ctx, "source", "csv", "is only allowed for csv sources");
    else if (csv)
        parse_csv_options(ctx, csv, &source->csv);
    json_t *json = json_object_get(obj, "json");
    if (json && format.known && format.format != SOURCE_JSON)
        spec_field_error(ctx, "source", "json", "is only allowed for json sources");
    else if (json)
        parse_json_options(ctx, json, source);
    return format;
}

/* spec_source_clear - free the members of source (half-parsed is fine) and zero it. */
void spec_source_clear(struct source_spec *source)
{
    free(source->path);
    free(source->upload);
    free(source->csv.null_marker);
    spec_string_array_free(source->csv.columns, source->csv.column_count);
    free(source->json_records);
    memset(source, 0, sizeof(*source));
}
