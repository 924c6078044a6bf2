/*
 * orchestration.c - the graph rules and the aggregate status of an
 * orchestration (see orchestration.h). Keys are matched through a sorted
 * index, the creation order is Kahn's topological sort, and a cycle is
 * named by walking back along unplaced members until one repeats.
 */
#include "core/orchestration.h"

#include "core/job_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void orchestration_plan_clear(struct orchestration_plan *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; plan->after_index && i < plan->member_count; i++)
        free(plan->after_index[i]);
    free(plan->after_index);
    free(plan->after_index_count);
    free(plan->order);
    memset(plan, 0, sizeof(*plan));
}

/* ------------------------------------------------------------------------
 * Keys
 * ------------------------------------------------------------------------ */

/* A usable key and its member, sortable without any context. */
struct key_entry {
    const char *key;
    size_t member;
};

/* The members with a usable key, sorted by key (then index), for lookups. */
struct key_index {
    struct key_entry *entries;
    size_t count;
};

static int compare_entries(const void *a, const void *b)
{
    const struct key_entry *ea = a, *eb = b;
    int order = strcmp(ea->key, eb->key);
    return order ? order : (ea->member > eb->member) - (ea->member < eb->member);
}

/* find_key - the index of the member called key, or -1. */
static long find_key(const struct key_index *index, const char *key)
{
    size_t low = 0, high = index->count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        int order = strcmp(index->entries[mid].key, key);
        if (order == 0)
            return (long)index->entries[mid].member;
        if (order < 0)
            low = mid + 1;
        else
            high = mid;
    }
    return -1;
}

static bool key_is_usable(const char *key)
{
    return key && key[0] && strlen(key) <= ORCHESTRATION_MAX_KEY_LEN;
}

/*
 * check_keys - field errors for missing, over-long and duplicate keys;
 * fills *index with the usable ones (the first of duplicates kept).
 * Returns 0, IQ_E_INVALID (field errors added) or IQ_E_NOMEM.
 */
static int check_keys(const struct orchestration_member *members, size_t count,
                      struct key_index *index, struct iq_error *err)
{
    index->entries = calloc(count, sizeof(*index->entries));
    if (!index->entries)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    int rc = 0;
    char field[48];
    for (size_t i = 0; i < count; i++) {
        snprintf(field, sizeof(field), "jobs[%zu].key", i);
        if (!members[i].key || !members[i].key[0])
            rc = iq_error_add_field(err, field, "is required");
        else if (!key_is_usable(members[i].key))
            rc = iq_error_add_field(err, field, "at most %d bytes", ORCHESTRATION_MAX_KEY_LEN);
        else
            index->entries[index->count++] = (struct key_entry){members[i].key, i};
    }
    qsort(index->entries, index->count, sizeof(*index->entries), compare_entries);
    size_t kept = 0;
    for (size_t k = 0; k < index->count; k++) {
        const struct key_entry *entry = &index->entries[k];
        if (kept > 0 && strcmp(index->entries[kept - 1].key, entry->key) == 0) {
            snprintf(field, sizeof(field), "jobs[%zu].key", entry->member);
            rc = iq_error_add_field(err, field, "duplicate key \"%s\" (also jobs[%zu])", entry->key,
                                    index->entries[kept - 1].member);
            continue;
        }
        index->entries[kept++] = *entry;
    }
    index->count = kept;
    return rc;
}

/*
 * resolve_after - plan->after_index of every member: its after keys as
 * member indices, duplicates once. Unknown keys are field errors.
 */
static int resolve_after(const struct orchestration_member *members, size_t count,
                         const struct key_index *index, struct orchestration_plan *plan,
                         struct iq_error *err)
{
    size_t *seen_by = calloc(count, sizeof(*seen_by)); /* member i + 1 that listed it */
    if (!seen_by)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    int rc = 0;
    char field[64];
    for (size_t i = 0; i < count && rc != IQ_E_NOMEM; i++) {
        const struct orchestration_member *m = &members[i];
        if (m->after_count > SPEC_MAX_DEPENDENCIES) {
            snprintf(field, sizeof(field), "jobs[%zu].after", i);
            rc = iq_error_add_field(err, field, "at most %d keys", SPEC_MAX_DEPENDENCIES);
            continue;
        }
        if (m->after_count == 0)
            continue;
        plan->after_index[i] = calloc(m->after_count, sizeof(size_t));
        if (!plan->after_index[i]) {
            rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
            break;
        }
        for (size_t j = 0; j < m->after_count; j++) {
            long found = m->after && m->after[j] ? find_key(index, m->after[j]) : -1;
            if (found < 0) {
                snprintf(field, sizeof(field), "jobs[%zu].after[%zu]", i, j);
                rc = iq_error_add_field(err, field, "unknown key \"%s\"",
                                        m->after && m->after[j] ? m->after[j] : "");
                continue;
            }
            if (seen_by[found] == i + 1)
                continue;
            seen_by[found] = i + 1;
            plan->after_index[i][plan->after_index_count[i]++] = (size_t)found;
        }
    }
    free(seen_by);
    return rc;
}

/* ------------------------------------------------------------------------
 * Order and cycles
 * ------------------------------------------------------------------------ */

/*
 * cycle_error - IQ_E_CONFLICT naming a cycle among the members not placed
 * (placed[i] false). Each unplaced member waits for an unplaced one, so
 * walking "waits for" from any of them must come back to a member seen
 * before: the walk from there on is the cycle.
 */
static int cycle_error(const struct orchestration_member *members, size_t count,
                       const struct orchestration_plan *plan, const bool *placed,
                       struct iq_error *err)
{
    size_t *step_of = calloc(count, sizeof(*step_of)); /* 1-based step of the walk; 0 unseen */
    size_t *walk = calloc(count + 1, sizeof(*walk));
    if (!step_of || !walk) {
        free(step_of);
        free(walk);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    size_t current = 0, steps = 0;
    while (current < count && placed[current])
        current++;
    while (current < count && !step_of[current]) {
        step_of[current] = ++steps;
        walk[steps - 1] = current;
        size_t next = count;
        for (size_t j = 0; j < plan->after_index_count[current] && next == count; j++)
            if (!placed[plan->after_index[current][j]])
                next = plan->after_index[current][j];
        current = next;
    }
    size_t first = current < count ? step_of[current] - 1 : 0;
    size_t length = 64;
    for (size_t k = first; k < steps; k++)
        length += strlen(members[walk[k]].key) + 8;
    length += current < count ? strlen(members[current].key) : 0;
    char *text = malloc(length);
    int rc;
    if (!text) {
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    } else {
        size_t used = (size_t)snprintf(text, length, "dependency cycle among jobs: ");
        for (size_t k = first; k < steps; k++)
            used += (size_t)snprintf(text + used, length - used, "%s -> ", members[walk[k]].key);
        snprintf(text + used, length - used, "%s (each runs after the next)",
                 current < count ? members[current].key : "?");
        rc = iq_error_set(err, IQ_E_CONFLICT, "%s", text);
    }
    free(text);
    free(step_of);
    free(walk);
    return rc;
}

/*
 * order_members - Kahn's sort: a member is placed once every member it
 * waits for is placed, in request order among those ready. Members left
 * over lie on or behind a cycle: IQ_E_CONFLICT.
 */
static int order_members(const struct orchestration_member *members, size_t count,
                         struct orchestration_plan *plan, struct iq_error *err)
{
    size_t *waiting_for = calloc(count, sizeof(*waiting_for));
    size_t *dependant_start = calloc(count + 1, sizeof(*dependant_start));
    size_t *fill = calloc(count, sizeof(*fill));
    bool *placed = calloc(count, sizeof(*placed));
    size_t edge_count = 0;
    for (size_t i = 0; i < count; i++)
        edge_count += plan->after_index_count[i];
    size_t *dependants = calloc(edge_count ? edge_count : 1, sizeof(*dependants));
    int rc = 0;
    if (!waiting_for || !dependant_start || !fill || !placed || !dependants) {
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
        goto out;
    }
    /* dependants of member t: dependants[dependant_start[t] .. dependant_start[t + 1]) */
    for (size_t i = 0; i < count; i++) {
        waiting_for[i] = plan->after_index_count[i];
        for (size_t j = 0; j < plan->after_index_count[i]; j++)
            dependant_start[plan->after_index[i][j] + 1]++;
    }
    for (size_t t = 0; t < count; t++)
        dependant_start[t + 1] += dependant_start[t];
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < plan->after_index_count[i]; j++) {
            size_t t = plan->after_index[i][j];
            dependants[dependant_start[t] + fill[t]++] = i;
        }
    size_t placed_count = 0, next = 0;
    for (size_t i = 0; i < count; i++)
        if (waiting_for[i] == 0)
            plan->order[placed_count++] = i;
    for (; next < placed_count; next++) {
        size_t t = plan->order[next];
        placed[t] = true;
        for (size_t k = dependant_start[t]; k < dependant_start[t + 1]; k++)
            if (--waiting_for[dependants[k]] == 0)
                plan->order[placed_count++] = dependants[k];
    }
    if (placed_count < count)
        rc = cycle_error(members, count, plan, placed, err);
out:
    free(waiting_for);
    free(dependant_start);
    free(fill);
    free(placed);
    free(dependants);
    return rc;
}

int orchestration_plan_build(const struct orchestration_member *members, size_t member_count,
                             struct orchestration_plan *ret_plan, struct iq_error *err)
{
    memset(ret_plan, 0, sizeof(*ret_plan));
    if (member_count == 0 || member_count > ORCHESTRATION_MAX_JOBS || !members) {
        iq_error_add_field(err, "jobs", "between 1 and %d jobs", ORCHESTRATION_MAX_JOBS);
        return iq_error_set(err, IQ_E_INVALID, "invalid orchestration");
    }
    struct key_index index = {0};
    ret_plan->member_count = member_count;
    ret_plan->order = calloc(member_count, sizeof(*ret_plan->order));
    ret_plan->after_index = calloc(member_count, sizeof(*ret_plan->after_index));
    ret_plan->after_index_count = calloc(member_count, sizeof(*ret_plan->after_index_count));
    int rc = 0;
    bool invalid = false;
    if (!ret_plan->order || !ret_plan->after_index || !ret_plan->after_index_count)
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    /* Field errors are collected from both checks before giving up. */
    if (rc == 0)
        rc = check_keys(members, member_count, &index, err);
    if (rc == IQ_E_INVALID) {
        invalid = true;
        rc = 0;
    }
    if (rc == 0)
        rc = resolve_after(members, member_count, &index, ret_plan, err);
    if (rc == IQ_E_INVALID) {
        invalid = true;
        rc = 0;
    }
    if (rc == 0 && invalid)
        rc = iq_error_set(err, IQ_E_INVALID, "invalid orchestration");
    if (rc == 0)
        rc = order_members(members, member_count, ret_plan, err);
    free(index.entries);
    if (rc < 0)
        orchestration_plan_clear(ret_plan);
    return rc;
}

/* ------------------------------------------------------------------------
 * Aggregate status
 * ------------------------------------------------------------------------ */

void orchestration_tally_add(struct orchestration_tally *tally, enum job_status status,
                             int64_t attempt, int64_t count)
{
    switch (status) {
    case JOB_HELD:
    case JOB_QUEUED:
        if (attempt > 0)
            tally->retrying += count;
        else
            tally->waiting += count;
        break;
    case JOB_RUNNING:
        tally->running += count;
        break;
    case JOB_COMPLETED:
        tally->completed += count;
        break;
    case JOB_FAILED:
        tally->failed += count;
        break;
    case JOB_CANCELLED:
        tally->cancelled += count;
        break;
    default:
        break;
    }
}

enum job_status orchestration_status(const struct orchestration_tally *tally)
{
    int64_t final = tally->completed + tally->failed + tally->cancelled;
    int64_t unfinished = tally->waiting + tally->retrying + tally->running;
    if (final == 0 && unfinished == 0)
        return JOB_QUEUED;
    if (unfinished == 0)
        return tally->failed ? JOB_FAILED : tally->cancelled ? JOB_CANCELLED : JOB_COMPLETED;
    if (tally->running > 0 || tally->retrying > 0 || final > 0)
        return JOB_RUNNING;
    return JOB_QUEUED;
}
