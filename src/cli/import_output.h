/*
 * import_output.h - what `importq import` prints about a run besides its
 * progress bar and the plain summary line (cmd_import.c): the summary of a
 * dry run, and with --json the whole run as one JSON object on stdout
 * (the summary with its error code, and the first rejects). Not for
 * parsing flags or running the import.
 */
#ifndef IMPORTQ_CLI_IMPORT_OUTPUT_H
#define IMPORTQ_CLI_IMPORT_OUTPUT_H

#include "core/error.h"
#include "core/job_spec.h"
#include "pipeline/import.h"

#include <jansson.h>
#include <stdint.h>

/* Rejects --json lists; the rest are counted in "rejects_not_shown". */
#define IMPORT_JSON_REJECTS_MAX 100

/* The rejects a --json run collects as they come. */
struct import_json {
    json_t *rejects; /* array of the first IMPORT_JSON_REJECTS_MAX, owned */
    int64_t count;   /* every reject reported */
};

/* import_json_init - empty; import_json_clear frees it (NULL-safe members). */
void import_json_init(struct import_json *out);
void import_json_clear(struct import_json *out);

/* import_json_add_reject - note one reject (kept while under the cap). */
void import_json_add_reject(struct import_json *out, const struct import_reject *reject);

/*
 * import_json_print - the run as one JSON object on stdout: file, table,
 * mode, dry_run, job_id (null: an in-process import is no queued job),
 * status (COMPLETED, FAILED or CANCELLED), the counts, bytes_read,
 * duration_s, error ({"code", "message", "transient"} or null), rejects
 * and rejects_not_shown. rc and err are import_run's.
 */
void import_json_print(const struct import_json *out, const char *file,
                       const struct target_spec *target, const struct import_result *result,
                       double seconds, int rc, const struct iq_error *err);

/*
 * import_dry_run_print - a successful dry run's summary on stdout: the
 * table it would create (when missing), then "dry run: FILE into TABLE:
 * N read; would insert N, update N, leave N unchanged, delete N; N
 * rejected — nothing was written (S s)".
 */
void import_dry_run_print(const char *file, const struct target_spec *target,
                          const struct import_result *result, double seconds);

#endif
