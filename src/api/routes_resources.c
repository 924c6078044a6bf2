/*
 * routes_resources.c - GET /import-resources (the live locks, and the
 * runnable jobs that wait for one of them) and DELETE /import-resources/{id}
 * (an admin's force-release, audited by the store).
 */
#include "api/routes.h"

#include "core/timeutil.h"
#include "engine/engine.h"

#include <string.h>

/* Waiting jobs are looked for among this many oldest-first QUEUED jobs. */
#define WAITING_SCAN_LIMIT JOB_LIST_LIMIT_MAX

static bool modes_conflict(enum lock_mode a, enum lock_mode b)
{
    return a == LOCK_EXCLUSIVE || b == LOCK_EXCLUSIVE;
}

/* blockers_json - ids of the locks that keep job from starting; NULL when none. */
static json_t *blockers_json(const struct job *job, const struct lock_list *locks)
{
    json_t *ids = NULL;
    for (size_t r = 0; r < job->resource_count; r++)
        for (size_t l = 0; l < locks->count; l++) {
            const struct lock_info *lock = &locks->items[l];
            if (strcmp(lock->name, job->resources[r].name) != 0 ||
                !modes_conflict(lock->mode, job->resources[r].mode))
                continue;
            if (!ids)
                ids = json_array();
            json_array_append_new(ids, json_string(lock->id));
        }
    return ids;
}

/* waiting_json - QUEUED jobs that could run now but for a held lock. */
static json_t *waiting_json(const struct job_page *queued, const struct lock_list *locks,
                            int64_t now_ms)
{
    json_t *array = json_array();
    for (size_t i = 0; i < queued->count; i++) {
        const struct job *job = queued->items[i];
        if (job->deps_pending > 0 || job->available_at_ms > now_ms)
            continue;
        json_t *blockers = blockers_json(job, locks);
        if (!blockers)
            continue;
        json_t *resources = json_array();
        for (size_t r = 0; r < job->resource_count; r++)
            json_array_append_new(resources,
                                  json_pack("{s:s, s:s}", "name", job->resources[r].name, "mode",
                                            lock_mode_name(job->resources[r].mode)));
        json_array_append_new(array, json_pack("{s:s, s:s, s:i, s:o, s:o}", "job_id", job->id,
                                               "name", job->name, "priority", job->priority,
                                               "resources", resources, "blocked_by", blockers));
    }
    return array;
}

void route_resources_list(struct api_request *req, struct api_response *res)
{
    static const char *const allowed[] = {NULL};
    if (api_query_reject_unknown(req, res, allowed))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct lock_list locks = {0};
    struct job_page queued = {0};
    struct job_filter filter = {.status_mask = 1u << JOB_QUEUED, .limit = WAITING_SCAN_LIMIT};
    struct iq_error err = {0};
    if (store_locks_list(store, &locks, &err) < 0 ||
        (locks.count > 0 && store_job_list(store, &filter, &queued, &err) < 0)) {
        lock_list_clear(&locks);
        api_reply_error(req, res, &err);
        return;
    }
    json_t *array = json_array();
    for (size_t i = 0; i < locks.count; i++)
        json_array_append_new(array, api_lock_json(&locks.items[i]));
    json_t *waiting = waiting_json(&queued, &locks, time_now_ms());
    job_page_clear(&queued);
    lock_list_clear(&locks);
    api_reply_json(res, 200, json_pack("{s:o, s:o}", "locks", array, "waiting", waiting));
}

void route_resource_release(struct api_request *req, struct api_response *res)
{
    if (!api_param_uuid(req, res, 0, "the lock id"))
        return;
    struct store *store = api_store(req, res);
    if (!store)
        return;
    struct iq_error err = {0};
    if (store_lock_release(store, req->params[0], &req->actx, &err) < 0) {
        api_reply_error(req, res, &err);
        return;
    }
    engine_wake(req->api->engine);
    api_reply_json(res, 200, json_pack("{s:s, s:b}", "id", req->params[0], "released", 1));
}
