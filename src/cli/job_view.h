/*
 * job_view.h - the job resource of the API (CONTRACT §3) as text for
 * people: the one-line result and error, and the detail view of
 * `importq job ID`. Reads the JSON as the server sent it and tolerates
 * missing members. Not for: fetching jobs or the `jobs` table.
 */
#ifndef IMPORTQ_CLI_JOB_VIEW_H
#define IMPORTQ_CLI_JOB_VIEW_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* job_view_result - "40 read, 38 inserted, 2 updated, 0 rejected" into buf. */
void job_view_result(const json_t *job, char *buf, size_t size);

/* job_view_error - "code: message" of job.error into buf ("" when none). */
void job_view_error(const json_t *job, char *buf, size_t size);

/* job_view_duration - "1.25 s" from started_at to finished_at into buf ("" when unknown). */
void job_view_duration(const json_t *job, char *buf, size_t size);

/* Rejected rows listed in the detail view; the JSON has the rest. */
#define JOB_VIEW_REJECTS_SHOWN 10

/* job_view_print_rejects - up to max of job.rejects, one "  reject: line ..." line each. */
void job_view_print_rejects(const json_t *job, FILE *out, size_t max);

/*
 * job_view_print - the detail of a job (as GET /api/v2/import-queue/{id}
 * answers) to out. Members "upstream" and "downstream" ([{"id", "key",
 * "status", "name"}], added by the caller) are listed as the jobs it
 * waits for and that wait for it; else depends_on's ids.
 */
void job_view_print(const json_t *job, FILE *out);

#endif
