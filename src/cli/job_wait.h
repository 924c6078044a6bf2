/*
 * job_wait.h - following one job through the API until it ends, for
 * `importq submit --wait` and `importq job ID --wait`: a status line on
 * stderr at each change, a progress bar on a terminal while it runs, the
 * outcome at the end. Ctrl-C stops the waiting, never the job.
 * Not for: submitting or listing jobs.
 */
#ifndef IMPORTQ_CLI_JOB_WAIT_H
#define IMPORTQ_CLI_JOB_WAIT_H

#include "cli/client_call.h"

#include <stdbool.h>

/* The exit code after Ctrl-C stopped the waiting (128 + SIGINT, as shells do). */
#define EXIT_INTERRUPTED 130

/*
 * job_wait - poll job id through call until it is COMPLETED, FAILED or
 * CANCELLED, or Ctrl-C. COMPLETED prints "job ID COMPLETED: <result>" on
 * stdout (json: the final job resource instead); FAILED or CANCELLED
 * print the error with its code ("code: message") and the first rejects
 * on stderr. A server that stops answering is retried for 30 s (a
 * restart) once it has answered (server_seen: it did before the call,
 * as when the job was just submitted); a first request that cannot
 * reach it fails at once. Messages are prefixed "importq <call->command>:". SIGINT's
 * handler is replaced while waiting and restored after.
 * Returns the exit code: 0 COMPLETED, 1 FAILED, CANCELLED or an error
 * (1 or 2 as client_call_report says: 2 for a malformed id), 130 when
 * interrupted.
 */
int job_wait(struct client_call *call, const char *id, bool json, bool server_seen);

#endif
