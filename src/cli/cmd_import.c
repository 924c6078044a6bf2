/*
 * cmd_import.c - `importq import FILE --table T ...`: one import run
 * in-process and waited for, with a progress bar on a terminal and a
 * summary line otherwise. The spec comes from the flags, or from --spec
 * with the flags overriding it; FILE replaces source.path, and its own
 * directory serves as the import root.
 */
#include "cli/cli.h"
#include "cli/import_output.h"
#include "cli/progress.h"

#include "core/job_spec.h"
#include "pipeline/import.h"
#include "pipeline/infer.h"
#include "store/store.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Rejects printed before the rest are only counted. */
#define IMPORT_REJECTS_SHOWN 10

const struct cli_flag cmd_import_flags[] = {
    {"table", true, "target table (overrides the spec's target.table)"},
    {"mode", true, "insert, upsert, append or replace (default insert)", "insert upsert append replace"},
    {"key", true, "key columns for upsert, comma-separated"},
    {"format", true, "csv, ndjson or json (default: from the file name)", "csv ndjson json"},
    {"spec", true, "a job spec (JSON) to take everything else from", CLI_VALUES_FILE},
    {"on-error", true, "abort (default) or skip", "abort skip"},
    {"max-rejects", true, "rejected rows allowed before abort fails the import (default 0)"},
    {"create", false, "create the table from the spec's columns when it is missing"},
    {"ignore-extra", false, "skip source columns the table does not have (default: an error)"},
    {"delimiter", true, "CSV field delimiter: one character, or tab (default: sniffed from the header, else ,)"},
    {"quote", true, "CSV quote character (default \")"},
    {"null", true, "CSV text that means NULL (default: an empty field)"},
    {"no-header", false, "the CSV has no header: its columns are c1, c2, ... (or --columns)"},
    {"skip-rows", true, "lines to skip before the CSV header (default 0)"},
    {"encoding", true, "the CSV's encoding: utf-8 (default), latin1 (iso-8859-1) or windows-1252 (cp1252)"},
    {"columns", true, "CSV column names, comma-separated: for a file read with --no-header, or in place of the header's"},
    {"records", true, "JSON pointer to the array of records in a JSON file (default: the top level)"},
    {"infer-rows", true, "with --create and no columns: infer the types from this many records (default: all under 100 MB, else 100000)"},
    {"quiet", false, "no progress bar, only the summary"},
    {"dry-run", false, "read, check and compare with the target; report what would change, write nothing"},
    {"json", false, "print the summary and the first 100 rejects as one JSON object on stdout"},
    {NULL, false, NULL},
};

/* infer's flags: import's that shape the source and the printed spec (the same names). */
const struct cli_flag cmd_infer_flags[] = {
    {"table", true, "target table (default: the spec's, else FILE's base name)"},
    {"mode", true, "insert, upsert, append or replace, written into the spec", "insert upsert append replace"},
    {"key", true, "key columns for upsert, comma-separated"},
    {"format", true, "csv, ndjson or json (default: from the file name)", "csv ndjson json"},
    {"spec", true, "a job spec (JSON) to start from: its columns are replaced", CLI_VALUES_FILE},
    {"delimiter", true, "CSV field delimiter: one character, or tab (default: sniffed from the header, else ,)"},
    {"quote", true, "CSV quote character (default \")"},
    {"null", true, "CSV text that means NULL (default: an empty field)"},
    {"no-header", false, "the CSV has no header: its columns are c1, c2, ..."},
    {"skip-rows", true, "lines to skip before the CSV header (default 0)"},
    {"records", true, "JSON pointer to the array of records in a JSON file (default: the top level)"},
    {"infer-rows", true, "infer the types from this many records (default: all under 100 MB, else 100000)"},
    {NULL, false, NULL},
};

struct import_ui {
    bool tty;
    bool quiet;
    struct progress_bar bar;
    int64_t rejects;
    const char *table;
    const struct target_spec *target;
    struct import_json *json;      /* --json: rejects collected for it, else NULL */
};

/* Returns obj[key] as an object, creating it when missing. */
static json_t *object_member(json_t *obj, const char *key)
{
    json_t *member = json_object_get(obj, key);
    if (!json_is_object(member)) {
        member = json_object();
        json_object_set_new(obj, key, member);
    }
    return member;
}

/* A JSON array of strings from "a,b,c". */
static json_t *split_list(const char *text)
{
    json_t *array = json_array();
    char *copy = strdup(text);
    char *save = NULL;
    for (char *part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save))
        json_array_append_new(array, json_string(part));
    free(copy);
    return array;
}

/*
 * build_body - the spec body from --spec and the flags. FILE's base name
 * becomes source.path. Returns a new object, or NULL (message printed).
 */
static json_t *build_body(const struct command *cmd, const struct cli_args *args,
                          const char *base_name)
{
    const char *spec_path = cli_flag_value(cmd, args, "spec");
    json_t *body = spec_path ? cli_load_json_object("import", spec_path, "job spec") : json_object();
    if (!body)
        return NULL;
    json_t *source = object_member(body, "source");
    json_t *target = object_member(body, "target");
    json_object_set_new(source, "path", json_string(base_name));
    json_object_del(source, "upload");
    const char *value;
    if ((value = cli_flag_value(cmd, args, "format")))
        json_object_set_new(source, "format", json_string(value));
    if ((value = cli_flag_value(cmd, args, "table")))
        json_object_set_new(target, "table", json_string(value));
    if ((value = cli_flag_value(cmd, args, "mode")))
        json_object_set_new(target, "mode", json_string(value));
    if ((value = cli_flag_value(cmd, args, "key")))
        json_object_set_new(target, "key", split_list(value));
    if (cli_flag_given(cmd, args, "create"))
        json_object_set_new(target, "create", json_true());
    if (cli_flag_given(cmd, args, "ignore-extra"))
        json_object_set_new(target, "ignore_extra", json_true());
    if (cli_flag_given(cmd, args, "dry-run"))
        json_object_set_new(target, "dry_run", json_true());
    json_t *csv = NULL;
    if ((value = cli_flag_value(cmd, args, "delimiter"))) {
        csv = object_member(source, "csv");
        json_object_set_new(csv, "delimiter",
                            json_string(strcmp(value, "tab") == 0 || strcmp(value, "\\t") == 0
                                            ? "\t"
                                            : value));
    }
    if ((value = cli_flag_value(cmd, args, "quote")))
        json_object_set_new(csv = object_member(source, "csv"), "quote", json_string(value));
    if ((value = cli_flag_value(cmd, args, "null")))
        json_object_set_new(csv = object_member(source, "csv"), "null", json_string(value));
    if (cli_flag_given(cmd, args, "no-header"))
        json_object_set_new(csv = object_member(source, "csv"), "header", json_false());
    if ((value = cli_flag_value(cmd, args, "skip-rows"))) {
        char *end;
        errno = 0;
        long long n = strtoll(value, &end, 10);
        if (errno || *end || n < 0) {
            fprintf(stderr, "importq import: --skip-rows needs a non-negative integer\n");
            json_decref(body);
            return NULL;
        }
        json_object_set_new(object_member(source, "csv"), "skip_rows", json_integer(n));
    }
    if ((value = cli_flag_value(cmd, args, "encoding")))
        json_object_set_new(object_member(source, "csv"), "encoding", json_string(value));
    if ((value = cli_flag_value(cmd, args, "columns")))
        json_object_set_new(object_member(source, "csv"), "columns", split_list(value));
    if ((value = cli_flag_value(cmd, args, "records")))
        json_object_set_new(object_member(source, "json"), "records", json_string(value));
    json_t *on_error = NULL;
    if ((value = cli_flag_value(cmd, args, "on-error"))) {
        on_error = object_member(body, "on_error");
        json_object_set_new(on_error, "action", json_string(value));
    }
    if ((value = cli_flag_value(cmd, args, "max-rejects"))) {
        char *end;
        errno = 0;
        long long n = strtoll(value, &end, 10);
        if (errno || *end || n < 0) {
            fprintf(stderr, "importq import: --max-rejects needs a non-negative integer\n");
            json_decref(body);
            return NULL;
        }
        on_error = object_member(body, "on_error");
        json_object_set_new(on_error, "max_rejects", json_integer(n));
    }
    return body;
}

/*
 * sniff_delimiter - a CSV whose delimiter was not given: when the header
 * line (after skip_rows lines) has no comma but one of ; tab | appears in
 * it, that one (the most frequent), which is then noted on stderr; else 0
 * (the comma stands). Quoted text is not parsed: a header of one quoted
 * name holding a ';' is read as ';'-separated, which the note shows.
 */
static char sniff_delimiter(const char *path, int64_t skip_rows)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char line[8192];
    bool got = false;
    for (int64_t i = 0; i <= skip_rows; i++)
        if (!(got = fgets(line, sizeof(line), f) != NULL))
            break;
    fclose(f);
    if (!got || strchr(line, ','))
        return 0;
    static const char candidates[] = {';', '\t', '|'};
    size_t best_count = 0;
    char best = 0;
    for (size_t c = 0; c < sizeof(candidates); c++) {
        size_t count = 0;
        for (const char *p = line; *p; p++)
            count += *p == candidates[c];
        if (count > best_count) {
            best_count = count;
            best = candidates[c];
        }
    }
    if (best)
        fprintf(stderr, "importq import: the header has no comma but %zu '%s': reading %s as "
                        "%s-separated (--delimiter to choose)\n",
                best_count, best == '\t' ? "tab" : (char[]){best, 0}, path,
                best == '\t' ? "tab" : (char[]){best, 0});
    return best;
}

/*
 * use_sniffed_delimiter - a CSV spec whose body names no delimiter gets the
 * one sniff_delimiter finds in path, in spec and in body (so that a spec
 * parsed from body again, or printed, keeps it and nothing sniffs twice).
 */
static void use_sniffed_delimiter(json_t *body, struct job_spec *spec, const char *path)
{
    if (spec->source.format != SOURCE_CSV)
        return;
    json_t *csv = object_member(object_member(body, "source"), "csv");
    if (json_object_get(csv, "delimiter"))
        return;
    char sniffed = sniff_delimiter(path, spec->source.csv.skip_rows);
    if (!sniffed || sniffed == spec->source.csv.quote)
        return;
    spec->source.csv.delimiter = sniffed;
    json_object_set_new(csv, "delimiter", json_string((char[]){sniffed, 0}));
}

static void print_spec_errors(const struct iq_error *err)
{
    fprintf(stderr, "importq import: invalid spec:\n");
    for (size_t i = 0; i < err->field_count; i++)
        fprintf(stderr, "  %s: %s\n", err->fields[i].field, err->fields[i].message);
    if (err->field_count == 0)
        fprintf(stderr, "  %s\n", iq_error_message(err));
}

/* The progress bar: phase, rows, MB/s, percent and ETA on one redrawn line. */
static void progress_cb(const struct import_progress *p, void *ctx)
{
    struct import_ui *ui = ctx;
    if (!ui->tty || ui->quiet)
        return;
    double fraction = p->bytes_total ? (double)p->bytes_read / (double)p->bytes_total : 0;
    struct progress_view view = {.phase = p->phase, .rows_read = p->rows_read,
                                 .bytes_read = p->bytes_read, .bytes_total = p->bytes_total,
                                 .percent = fraction * 100, .rejects = p->rows_rejected > 0};
    progress_bar_draw(&ui->bar, &view);
}

static int reject_cb(const struct import_reject *r, void *ctx)
{
    struct import_ui *ui = ctx;
    if (ui->json) {
        import_json_add_reject(ui->json, r);
        return 0;
    }
    if (ui->rejects++ < IMPORT_REJECTS_SHOWN) {
        if (ui->tty && !ui->quiet)
            progress_bar_erase(&ui->bar);
        fprintf(stderr, "reject: line %lld", (long long)r->line);
        if (r->pointer) /* JSON: the record, and where in the document */
            fprintf(stderr, ", record %lld (%s)", (long long)r->record,
                    *r->pointer ? r->pointer : "the line's value");
        fprintf(stderr, "%s%s%s: %s", r->column ? ", column " : "", r->column ? r->column : "",
                strcmp(r->table, ui->table) == 0 ? "" : " (child table)", r->error);
        if (r->value)
            fprintf(stderr, " (value \"%s\")", r->value);
        fputc('\n', stderr);
    } else if (ui->rejects == IMPORT_REJECTS_SHOWN + 1) {
        fprintf(stderr, "reject: ... more rejects are only counted\n");
    }
    return 0;
}

/* Opens the database the spec's target names (target.database or the service's). */
static int open_target_store(const struct config *cfg, const struct job_spec *spec,
                             struct store **ret_store, struct iq_error *err)
{
    const char *url = cfg->db;
    if (spec->target.database) {
        url = config_target_url(cfg, spec->target.database);
        if (!url)
            return iq_error_set(err, IQ_E_INVALID,
                                "target.database \"%s\" is not configured ([target.%s] url = ...)",
                                spec->target.database, spec->target.database);
    }
    struct store_options options = {.target_schemas = cfg->target_schemas}; /* else defaults */
    return cli_store_open(url, &options, ret_store, err);
}

static void print_summary(const struct import_ui *ui, const char *file, const char *table,
                          const struct import_result *r, int rc, const struct iq_error *err)
{
    if (ui->tty && !ui->quiet)
        progress_bar_erase(&ui->bar);
    double seconds = progress_bar_seconds(&ui->bar);
    if (ui->json) {
        import_json_print(ui->json, file, ui->target, r, seconds, rc, err);
        return;
    }
    if (rc == 0 && r->dry_run) {
        import_dry_run_print(file, ui->target, r, seconds);
        return;
    }
    /* a rate over less than a tenth of a second says nothing: left out */
    char speed[48] = "", rate[32];
    if (seconds >= 0.1 && r->bytes_read > 0) {
        progress_format_bytes((double)r->bytes_read / seconds, rate, sizeof(rate));
        snprintf(speed, sizeof(speed), " (%s/s)", rate);
    }
    if (rc == 0)
        printf("imported %s into %s: %lld read, %lld inserted, %lld updated, %lld deleted, "
               "%lld rejected in %.2f s%s\n",
               file, table, (long long)r->rows_read, (long long)r->rows_inserted,
               (long long)r->rows_updated, (long long)r->rows_deleted,
               (long long)r->rows_rejected, seconds, speed);
    else
        fprintf(stderr, "importq import: %s into %s failed after %lld rows (nothing loaded): %s\n",
                file, table, (long long)r->rows_read, iq_error_message(err));
}

/* columns_json - the inferred columns as target.columns (required: never NULL). */
static json_t *columns_json(const struct inferred *inferred)
{
    json_t *columns = json_array();
    for (size_t i = 0; columns && i < inferred->count; i++) {
        const struct inferred_column *c = &inferred->columns[i];
        json_array_append_new(columns, json_pack("{s:s, s:s, s:b}", "name", c->name, "type",
                                                 column_type_name(c->type), "required",
                                                 !c->nullable));
    }
    return columns;
}

/*
 * infer_into_body - body's target.columns from the file at path, read as
 * body's source says (its CSV delimiter sniffed as an import sniffs it),
 * at most --infer-rows records (default: all of a file under 100 MB, else
 * INFER_SAMPLE_ROWS). Returns 0, or an exit code after printing why.
 */
static int infer_into_body(const struct command *cmd, const struct cli_args *args, json_t *body,
                           const char *path, const struct job_spec_defaults *defaults)
{
    int64_t rows = 0;
    const char *value = cli_flag_value(cmd, args, "infer-rows");
    if (value) {
        char *end;
        errno = 0;
        long long n = strtoll(value, &end, 10);
        if (errno || *end || n < 0) {
            fprintf(stderr, "importq %s: --infer-rows needs a non-negative integer\n", cmd->name);
            return EXIT_USAGE;
        }
        rows = n;
    } else {
        rows = infer_default_rows(path);
    }
    /* the source as the spec has it: parsed from a copy without create,
     * which would want the columns this is to find */
    json_t *probe = json_deep_copy(body);
    json_t *probe_target = json_object_get(probe, "target");
    json_object_del(probe_target, "create");
    if (!json_object_get(probe_target, "table"))
        json_object_set_new(probe_target, "table", json_string("inferred"));
    struct job_spec *spec = NULL;
    struct iq_error err = {0};
    int rc = job_spec_parse(probe, defaults, &spec, &err);
    json_decref(probe);
    if (rc < 0) {
        print_spec_errors(&err);
        iq_error_clear(&err);
        return EXIT_USAGE;
    }
    use_sniffed_delimiter(body, spec, path);
    struct inferred inferred;
    rc = infer_columns(path, &spec->source, rows, &inferred, &err);
    job_spec_free(spec);
    if (rc < 0) {
        fprintf(stderr, "importq %s: cannot infer the columns of %s: %s\n", cmd->name, path,
                iq_error_message(&err));
        iq_error_clear(&err);
        return 1;
    }
    if (inferred.sampled)
        fprintf(stderr, "importq %s: types inferred from the first %lld records (--infer-rows)\n",
                cmd->name, (long long)inferred.rows);
    json_object_set_new(object_member(body, "target"), "columns", columns_json(&inferred));
    inferred_clear(&inferred);
    return 0;
}

/* wants_inference - --create (or target.create) without columns. */
static bool wants_inference(const json_t *body)
{
    const json_t *target = json_object_get(body, "target");
    return json_is_true(json_object_get(target, "create")) &&
           json_array_size(json_object_get(target, "columns")) == 0;
}

/* Resolves FILE; prints and returns EXIT_USAGE when it is not a readable file. */
static int resolve_file(const char *file, char **ret_path)
{
    *ret_path = realpath(file, NULL);
    struct stat st;
    if (!*ret_path || stat(*ret_path, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "importq import: %s: %s\n", file,
                *ret_path ? "not a regular file" : strerror(errno));
        free(*ret_path);
        *ret_path = NULL;
        return EXIT_USAGE;
    }
    return 0;
}

int cmd_import(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    if (args->positional_count != 1) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    char *path = NULL;
    if (resolve_file(args->positional[0], &path) != 0)
        return EXIT_USAGE;
    char *path_copy = strdup(path);
    json_t *body = build_body(cmd, args, basename(path_copy));
    struct job_spec *spec = NULL;
    struct store *store = NULL;
    struct iq_error err = {0};
    struct job_spec_defaults defaults = {.max_attempts = (int)cfg->max_attempts,
                                         .timeout_s = cfg->job_timeout / 1000};
    int exit_code = EXIT_USAGE;
    if (!body)
        goto done;
    if (wants_inference(body) &&
        (exit_code = infer_into_body(cmd, args, body, path, &defaults)) != 0)
        goto done;
    exit_code = EXIT_USAGE;
    if (job_spec_parse(body, &defaults, &spec, &err) < 0) {
        print_spec_errors(&err);
        goto done;
    }
    use_sniffed_delimiter(body, spec, path);
    if (open_target_store(cfg, spec, &store, &err) < 0) {
        fprintf(stderr, "importq import: %s\n", iq_error_message(&err));
        exit_code = err.code == IQ_E_INVALID ? EXIT_USAGE : 1;
        goto done;
    }
    struct import_json json;
    import_json_init(&json);
    bool want_json = cli_flag_given(cmd, args, "json");
    struct import_ui ui = {.tty = isatty(STDERR_FILENO),
                           .quiet = cli_flag_given(cmd, args, "quiet") || want_json,
                           .table = spec->target.table, .target = &spec->target,
                           .json = want_json ? &json : NULL};
    progress_bar_start(&ui.bar, stderr);
    struct import_request req = {
        .source = &spec->source, .target = &spec->target, .on_error = &spec->on_error,
        .path = path, .store = store, .progress_cb = progress_cb, .progress_ctx = &ui,
        .reject_cb = reject_cb, .reject_ctx = &ui,
    };
    struct import_result result;
    int rc = import_run(&req, &result, &err);
    print_summary(&ui, args->positional[0], spec->target.table, &result, rc, &err);
    import_json_clear(&json);
    exit_code = rc == 0 ? 0 : 1;
done:
    store_close(store);
    job_spec_free(spec);
    json_decref(body);
    iq_error_clear(&err);
    free(path_copy);
    free(path);
    return exit_code;
}

/*
 * cmd_infer - `importq infer FILE [source and target flags]`: the job spec
 * an import of FILE with --create would use, its columns inferred, as
 * JSON on stdout, to edit and reuse with --spec. The table defaults to the
 * file's base name.
 */
int cmd_infer(const struct command *cmd, struct cli_args *args, struct config *cfg)
{
    if (args->positional_count != 1) {
        fprintf(stderr, "usage: %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    char *path = NULL;
    if (resolve_file(args->positional[0], &path) != 0)
        return EXIT_USAGE;
    char *path_copy = strdup(path);
    const char *base = path_copy ? basename(path_copy) : "file";
    json_t *body = build_body(cmd, args, base);
    int exit_code = EXIT_USAGE;
    struct job_spec_defaults defaults = {.max_attempts = (int)cfg->max_attempts,
                                         .timeout_s = cfg->job_timeout / 1000};
    if (body) {
        json_t *target = object_member(body, "target");
        if (!json_object_get(target, "table")) {
            char table[128];
            snprintf(table, sizeof(table), "%s", base);
            char *dot = strchr(table, '.');
            if (dot)
                *dot = '\0';
            for (char *c = table; *c; c++)
                if (!(*c == '_' || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (c > table && *c >= '0' && *c <= '9')))
                    *c = '_';
            json_object_set_new(target, "table", json_string(table));
        }
        json_object_set_new(target, "create", json_true());
        exit_code = infer_into_body(cmd, args, body, path, &defaults);
    }
    if (exit_code == 0) {
        if (json_dumpf(body, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
            exit_code = 1;
        fputc('\n', stdout);
    }
    json_decref(body);
    free(path_copy);
    free(path);
    return exit_code;
}
