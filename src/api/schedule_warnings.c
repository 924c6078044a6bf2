/*
 * schedule_warnings.c - the conflict warnings a created or changed
 * schedule is answered with: gathering what core/schedule_conflict.c
 * compares (each enabled schedule's fire times over the next 7 days, the
 * resources its job locks, its typical duration: the p50 of its target
 * table's past attempts, else its job's timeout) from the store. Warnings
 * never refuse a write, so a schedule that cannot be read as one (a
 * template that no longer parses) is left out rather than failing the
 * answer. Bounded: SCHEDULE_CONFLICT_MAX_SCHEDULES others at most, one
 * p50 read per target table.
 */
#include "api/schedule_warnings.h"

#include "core/schedule_conflict.h"

#include <stdlib.h>
#include <string.h>

#define P50_CACHE_MAX 64

/* Durations already read this answer, by target table. */
struct p50_cache {
    char *tables[P50_CACHE_MAX];
    int64_t p50_ms[P50_CACHE_MAX];
    size_t count;
};

static void p50_cache_clear(struct p50_cache *cache)
{
    for (size_t i = 0; i < cache->count; i++)
        free(cache->tables[i]);
    cache->count = 0;
}

/* table_p50 - the p50 of table (0: no history), from the cache or the store. */
static int64_t table_p50(struct store *store, struct p50_cache *cache, const char *table)
{
    for (size_t i = 0; i < cache->count; i++)
        if (strcmp(cache->tables[i], table) == 0)
            return cache->p50_ms[i];
    int64_t p50 = 0;
    struct iq_error err = {0};
    if (store_table_duration_p50(store, table, &p50, &err) < 0)
        p50 = 0; /* no history as far as a warning can tell */
    iq_error_clear(&err);
    if (cache->count < P50_CACHE_MAX && (cache->tables[cache->count] = strdup(table))) {
        cache->p50_ms[cache->count] = p50;
        cache->count++;
    }
    return p50;
}

/* One schedule made ready for the check (owns what its conflict_schedule borrows). */
struct prepared {
    int64_t *fires;
    struct job_spec *spec;
    struct conflict_schedule view;
};

static void prepared_clear(struct prepared *p)
{
    free(p->fires);
    job_spec_free(p->spec);
    memset(p, 0, sizeof(*p));
}

/* prepare - s's fire window from from_ms, its job's resources and duration; false to skip it. */
static bool prepare(struct store *store, struct p50_cache *cache, const struct schedule *s,
                    int64_t from_ms, const struct job_spec_defaults *defaults, struct prepared *ret)
{
    memset(ret, 0, sizeof(*ret));
    struct cron_expr expr;
    struct cron_zone *zone = NULL;
    struct iq_error err = {0};
    size_t count = 0;
    ret->fires = calloc(SCHEDULE_CONFLICT_MAX_FIRES, sizeof(*ret->fires));
    bool ok =
        ret->fires && cron_parse(s->cron, &expr, &err) == 0 &&
        cron_zone_open(s->timezone, &zone, &err) == 0 &&
        schedule_fire_window(&expr, zone, from_ms, ret->fires, &count, &err) == 0 && count > 0 &&
        schedule_job_spec(s->job, s->timezone, ret->fires[0], defaults, &ret->spec, &err) == 0;
    cron_zone_free(zone);
    iq_error_clear(&err);
    if (!ok) {
        prepared_clear(ret);
        return false;
    }
    int64_t p50 = table_p50(store, cache, ret->spec->target.table);
    ret->view = (struct conflict_schedule){
        .id = s->id,
        .name = s->name,
        .cron = s->cron,
        .timezone = s->timezone,
        .fire_ms = ret->fires,
        .fire_count = count,
        .duration_ms = p50 > 0 ? p50 : ret->spec->timeout_s * 1000,
        .duration_is_p50 = p50 > 0,
        .resources = ret->spec->resources,
        .resource_count = ret->spec->resource_count,
    };
    return true;
}

/* append - move every warning of from onto to (at most SCHEDULE_CONFLICT_MAX_WARNINGS). */
static void append(json_t *to, const struct conflict_list *from)
{
    json_t *items = schedule_conflicts_to_json(from);
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        if (json_array_size(to) < SCHEDULE_CONFLICT_MAX_WARNINGS)
            json_array_append(to, item);
    }
    json_decref(items);
}

/* compare_page - self against every schedule of page; false once enough were compared. */
static bool compare_page(struct store *store, struct p50_cache *cache, const struct prepared *self,
                         const struct schedule_page *page, int64_t from_ms,
                         const struct job_spec_defaults *defaults, size_t *compared,
                         json_t *warnings)
{
    for (size_t i = 0; i < page->count; i++) {
        if (*compared >= SCHEDULE_CONFLICT_MAX_SCHEDULES ||
            json_array_size(warnings) >= SCHEDULE_CONFLICT_MAX_WARNINGS)
            return false;
        if (strcmp(page->items[i].id, self->view.id) == 0)
            continue;
        (*compared)++;
        struct prepared other;
        if (!prepare(store, cache, &page->items[i], from_ms, defaults, &other))
            continue;
        struct conflict_list list;
        struct iq_error err = {0};
        if (schedule_conflicts_find(&self->view, &other.view, 1, &list, &err) == 0)
            append(warnings, &list);
        schedule_conflicts_clear(&list);
        iq_error_clear(&err);
        prepared_clear(&other);
    }
    return true;
}

json_t *schedule_warnings_json(struct store *store, const struct schedule *schedule,
                               const struct job_spec_defaults *defaults)
{
    json_t *warnings = json_array();
    if (!warnings || !schedule->enabled)
        return warnings;
    /* The window starts where the write happened, on the store's clock. */
    int64_t from_ms = schedule->updated_at_ms;
    struct p50_cache cache = {0};
    struct prepared self;
    if (!prepare(store, &cache, schedule, from_ms, defaults, &self)) {
        p50_cache_clear(&cache);
        return warnings;
    }
    char after_id[UUID_STR_LEN] = "";
    size_t compared = 0;
    bool more = true;
    while (more) {
        struct schedule_filter filter = {.enabled_set = true,
                                         .enabled = true,
                                         .limit = SCHEDULE_LIST_LIMIT_MAX,
                                         .after_id = after_id[0] ? after_id : NULL};
        struct schedule_page page = {0};
        struct iq_error err = {0};
        if (store_schedule_list(store, &filter, &page, &err) < 0) {
            iq_error_clear(&err);
            break;
        }
        more = compare_page(store, &cache, &self, &page, from_ms, defaults, &compared, warnings) &&
               page.next_after_id[0];
        memcpy(after_id, page.next_after_id, UUID_STR_LEN);
        schedule_page_clear(&page);
    }
    prepared_clear(&self);
    p50_cache_clear(&cache);
    return warnings;
}
