/*
 * orchestration.h - the domain rules of an orchestration, a set of jobs
 * created together whose "after" keys order them: checking the keys and
 * the graph they form, the creation order that lets every job's
 * dependencies exist before it, and the aggregate status of the set.
 * Pure: no I/O. Storing an orchestration is the store's business
 * (store/admin_ops.h).
 */
#ifndef IMPORTQ_CORE_ORCHESTRATION_H
#define IMPORTQ_CORE_ORCHESTRATION_H

#include "core/error.h"
#include "core/job.h"

#include <stddef.h>
#include <stdint.h>

/* Limits on what one request may grow (STYLE: every growable thing is bounded). */
#define ORCHESTRATION_MAX_JOBS 1000
#define ORCHESTRATION_MAX_KEY_LEN 200
#define ORCHESTRATION_MAX_NAME_LEN 200

/* One job of an orchestration as the graph rules see it (strings borrowed). */
struct orchestration_member {
    const char *key;
    const char *const *after; /* keys of members it waits for */
    size_t after_count;
};

/*
 * The checked graph: members in an order where each comes after every
 * member it waits for, and each member's "after" keys resolved to member
 * indices (duplicates once, in the order first given).
 */
struct orchestration_plan {
    size_t *order;             /* owned: member_count indices */
    size_t **after_index;      /* owned: per member, indices it waits for */
    size_t *after_index_count; /* owned: per member */
    size_t member_count;
};

/*
 * orchestration_plan_build - check members and order them. Every key must
 * be non-empty, at most ORCHESTRATION_MAX_KEY_LEN bytes and unique (field
 * "jobs[i].key"); every after key must name a member (field
 * "jobs[i].after[j]"); all such problems are collected and give
 * IQ_E_INVALID. A cycle among the members (a member waiting for itself
 * included) is IQ_E_CONFLICT, its message naming the keys on the cycle.
 * Between 1 and ORCHESTRATION_MAX_JOBS members, else IQ_E_INVALID
 * (field "jobs"). Returns 0 and *ret_plan (orchestration_plan_clear it),
 * or a negative code with *ret_plan cleared. err may be NULL.
 */
int orchestration_plan_build(const struct orchestration_member *members, size_t member_count,
                             struct orchestration_plan *ret_plan, struct iq_error *err);

/* orchestration_plan_clear - free what the plan owns and zero it (NULL-safe). */
void orchestration_plan_clear(struct orchestration_plan *plan);

/* The jobs of an orchestration, counted by what the aggregate needs. */
struct orchestration_tally {
    int64_t waiting;  /* HELD or QUEUED, never attempted */
    int64_t retrying; /* QUEUED again after an attempt (attempt > 0) */
    int64_t running;
    int64_t completed;
    int64_t failed;
    int64_t cancelled;
};

/*
 * orchestration_tally_add - count `count` jobs in status that have had
 * `attempt` attempts so far (any attempt > 0 counts the same).
 */
void orchestration_tally_add(struct orchestration_tally *tally, enum job_status status,
                             int64_t attempt, int64_t count);

/*
 * orchestration_status - the aggregate status (store/admin_ops.h):
 * COMPLETED when every job completed; FAILED when every job is final and
 * one failed; CANCELLED when every job is final, one was cancelled and
 * none failed; RUNNING while some job runs, has finished or waits for a
 * retry and others are not final; QUEUED while no job has started (and
 * for an empty tally).
 */
enum job_status orchestration_status(const struct orchestration_tally *tally);

#endif
