/*
 * job_spec_limits.h - every limit on a user-sized part of a job spec, in
 * one place (STYLE: "every resource a user can grow has a limit"). Going
 * over one is a 422 whose field error names the field and the limit.
 * docs/api.md "Job spec limits" lists them for users; keep the two equal.
 *
 * Lengths are in bytes unless the comment says characters. Not here: the
 * limits of the HTTP layer (max-body, page size: util/config.h, api/).
 */
#ifndef IMPORTQ_CORE_JOB_SPEC_LIMITS_H
#define IMPORTQ_CORE_JOB_SPEC_LIMITS_H

/* ---- counts ------------------------------------------------------------- */
#define SPEC_MAX_COLUMNS 1024      /* target.columns, and each child's; key and parent_key entries */
#define SPEC_MAX_CHILDREN 16       /* target.children */
#define SPEC_MAX_DEPENDENCIES 1000 /* depends_on (and an orchestration member's after) */
#define SPEC_MAX_RESOURCES 64      /* resources, counting the implied table locks */
#define SPEC_MAX_ENUM_VALUES 1000  /* columns[].enum entries */

/* ---- lengths ------------------------------------------------------------ */
#define SPEC_MAX_NAME_LEN 200       /* name (characters); resources[].name; source.csv.null */
#define SPEC_MAX_REQUEST_ID_LEN 200 /* request_id */
#define SPEC_MAX_PATH_LEN 4096      /* source.path */
#define SPEC_MAX_FROM_LEN 1024      /* columns[].from, children[].from, source.json.records */
#define SPEC_MAX_ENUM_VALUE_LEN 1024 /* one columns[].enum entry, as text */
#define IDENTIFIER_MAX_LEN 63       /* tables, columns, database (characters, ASCII) */

/* ---- numbers ------------------------------------------------------------ */
#define SPEC_MAX_TIMEOUT_S (7 * 24 * 3600) /* timeout_s */
#define SPEC_MAX_ATTEMPTS 100              /* max_attempts */

/* ---- patterns (core/pattern.c) ------------------------------------------
 * A pattern costs memory twice: compiled (checked when the spec is read)
 * and while it runs against a value (bounded per match; a value that needs
 * more is a reject of its row, never a stuck worker).
 */
#define SPEC_MAX_PATTERN_LEN 1024                     /* one columns[].pattern, as written */
#define SPEC_MAX_PATTERN_NESTING 32                   /* parentheses nested in one pattern */
#define SPEC_MAX_PATTERN_COMPILED_BYTES (32 * 1024)   /* one pattern, compiled */
#define SPEC_MAX_PATTERNS_COMPILED_BYTES (256 * 1024) /* all patterns of one spec, compiled */
#define PATTERN_MATCH_LIMIT 1000000                   /* backtracking steps per value */
#define PATTERN_DEPTH_LIMIT 100000                    /* nested backtracking points per value */
#define PATTERN_HEAP_LIMIT_KIB 4096                   /* backtracking memory per value */
#define PATTERN_JIT_STACK_BYTES (1024 * 1024)         /* the same when the pattern is JIT-compiled */

#endif
