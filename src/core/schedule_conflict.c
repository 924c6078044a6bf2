/*
 * schedule_conflict.c - the overlap of two schedules' fire windows on a
 * resource they both lock (schedule_conflict.h). Pure: the caller reads
 * the schedules, their fire times and their typical durations; this file
 * only compares. Not here: where durations come from (the store's
 * performance records) or how warnings reach a client (the API).
 */
#include "core/schedule_conflict.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int schedule_fire_window(const struct cron_expr *expr, struct cron_zone *zone, int64_t from_ms,
                         int64_t *ret_times, size_t *ret_count, struct iq_error *err)
{
    *ret_count = 0;
    int64_t end_ms = from_ms + SCHEDULE_CONFLICT_WINDOW_MS;
    int64_t after = from_ms;
    while (*ret_count < SCHEDULE_CONFLICT_MAX_FIRES) {
        size_t room = SCHEDULE_CONFLICT_MAX_FIRES - *ret_count;
        size_t want = room < CRON_MAX_COUNT ? room : CRON_MAX_COUNT;
        size_t found = 0;
        int rc = cron_next_times(expr, after, zone, want, ret_times + *ret_count, &found, err);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < found; i++) {
            if (ret_times[*ret_count] > end_ms)
                return 0;
            (*ret_count)++;
        }
        if (found < want)
            return 0; /* the schedule ended */
        after = ret_times[*ret_count - 1];
    }
    return 0;
}

/*
 * first_overlap - the first instant at which a window of a ([f, f + da))
 * and one of b ([g, g + db)) overlap, -1 when none does. Both lists are
 * ascending and each has one duration, so their ends ascend too and one
 * pass over both finds it: the window that ends first cannot overlap
 * anything later in the other list once it ends before that one starts.
 */
static int64_t first_overlap(const int64_t *a, size_t a_count, int64_t da, const int64_t *b,
                             size_t b_count, int64_t db)
{
    size_t i = 0, j = 0;
    while (i < a_count && j < b_count) {
        if (a[i] + da <= b[j])
            i++;
        else if (b[j] + db <= a[i])
            j++;
        else
            return a[i] > b[j] ? a[i] : b[j];
    }
    return -1;
}

/* locks_conflict - same name, and not both shared. */
static bool locks_conflict(const struct job_resource *x, const struct job_resource *y)
{
    return strcmp(x->name, y->name) == 0 && !(x->mode == LOCK_SHARED && y->mode == LOCK_SHARED);
}

/* shared_resource - the first of self's resources other wants in a conflicting mode, or NULL. */
static const char *shared_resource(const struct conflict_schedule *self,
                                   const struct conflict_schedule *other)
{
    for (size_t i = 0; i < self->resource_count; i++)
        for (size_t j = 0; j < other->resource_count; j++)
            if (locks_conflict(&self->resources[i], &other->resources[j]))
                return self->resources[i].name;
    return NULL;
}

/* duration_text - "p50 14 min" or "timeout 30 min" (whole minutes, rounded up; seconds below one).
 */
static void duration_text(const struct conflict_schedule *s, char *buf, size_t size)
{
    const char *what = s->duration_is_p50 ? "p50" : "timeout";
    if (s->duration_ms < 60000)
        snprintf(buf, size, "%s %lld s", what, (long long)((s->duration_ms + 999) / 1000));
    else
        snprintf(buf, size, "%s %lld min", what, (long long)((s->duration_ms + 59999) / 60000));
}

/* format_message - the human sentence of one warning; caller frees; NULL on OOM. */
static char *format_message(const struct conflict_schedule *self,
                            const struct conflict_schedule *other, const char *resource,
                            int64_t at_ms)
{
    char own[48], theirs[48], at[TIME_RFC3339_LEN];
    duration_text(self, own, sizeof(own));
    duration_text(other, theirs, sizeof(theirs));
    time_format_rfc3339(at_ms, at);
    char *text = NULL;
    if (asprintf(&text,
                 "fires `%s` (%s, %s), while `%s` (`%s` %s, %s) holds `%s`: first overlap at %s",
                 self->cron, self->timezone, own, other->name, other->cron, other->timezone, theirs,
                 resource, at) < 0)
        return NULL;
    return text;
}

/* add_warning - append one warning to list (room for it is there). */
static int add_warning(struct conflict_list *list, const struct conflict_schedule *self,
                       const struct conflict_schedule *other, const char *resource, int64_t at_ms,
                       struct iq_error *err)
{
    struct conflict_warning *w = &list->items[list->count];
    w->schedule_id = strdup(other->id);
    w->schedule_name = strdup(other->name);
    w->resource = strdup(resource);
    w->first_overlap_ms = at_ms;
    w->message = format_message(self, other, resource, at_ms);
    list->count++;
    if (!w->schedule_id || !w->schedule_name || !w->resource || !w->message)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    return 0;
}

int schedule_conflicts_find(const struct conflict_schedule *self,
                            const struct conflict_schedule *others, size_t other_count,
                            struct conflict_list *ret_list, struct iq_error *err)
{
    memset(ret_list, 0, sizeof(*ret_list));
    if (other_count > SCHEDULE_CONFLICT_MAX_SCHEDULES)
        other_count = SCHEDULE_CONFLICT_MAX_SCHEDULES;
    if (self->fire_count == 0 || other_count == 0)
        return 0;
    ret_list->items = calloc(SCHEDULE_CONFLICT_MAX_WARNINGS, sizeof(*ret_list->items));
    if (!ret_list->items)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    size_t self_fires = self->fire_count < SCHEDULE_CONFLICT_MAX_FIRES
                            ? self->fire_count
                            : SCHEDULE_CONFLICT_MAX_FIRES;
    for (size_t k = 0; k < other_count && ret_list->count < SCHEDULE_CONFLICT_MAX_WARNINGS; k++) {
        const struct conflict_schedule *other = &others[k];
        if (self->id && other->id && strcmp(self->id, other->id) == 0)
            continue;
        const char *resource = shared_resource(self, other);
        if (!resource)
            continue;
        size_t other_fires = other->fire_count < SCHEDULE_CONFLICT_MAX_FIRES
                                 ? other->fire_count
                                 : SCHEDULE_CONFLICT_MAX_FIRES;
        int64_t at = first_overlap(self->fire_ms, self_fires, self->duration_ms, other->fire_ms,
                                   other_fires, other->duration_ms);
        if (at < 0)
            continue;
        int rc = add_warning(ret_list, self, other, resource, at, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void schedule_conflicts_clear(struct conflict_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; list->items && i < list->count; i++) {
        free(list->items[i].schedule_id);
        free(list->items[i].schedule_name);
        free(list->items[i].resource);
        free(list->items[i].message);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}

json_t *schedule_conflicts_to_json(const struct conflict_list *list)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < list->count; i++) {
        const struct conflict_warning *w = &list->items[i];
        char at[TIME_RFC3339_LEN];
        json_t *item =
            json_pack("{s:s, s:s, s:s, s:s, s:s}", "schedule_id", w->schedule_id, "schedule_name",
                      w->schedule_name, "resource", w->resource, "first_overlap",
                      time_format_rfc3339(w->first_overlap_ms, at), "message", w->message);
        if (!item || json_array_append_new(array, item) < 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}
