/*
 * common/schedule.c - the rules of storing schedules, once for both
 * backends (common/schedule.h): each store_schedule_* runs one body in
 * the backend's transaction (store_ops.schedule_tx) over its primitives.
 * The checks of a schedule's fields are core/schedule.c's; here is what
 * depends on the stored state: the bound on the number of schedules, a
 * unique name, next_run_at from the store's clock, the audit rows.
 * No SQL here.
 */
#include "store/common/schedule.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Rows
 * ------------------------------------------------------------------------ */

void schedule_page_clear(struct schedule_page *page)
{
    if (!page)
        return;
    for (size_t i = 0; page->items && i < page->count; i++)
        schedule_clear(&page->items[i]);
    free(page->items);
    memset(page, 0, sizeof(*page));
}

/* dup_or_null - a copy of text (NULL stays NULL); *failed on OOM. */
static char *dup_or_null(const char *text, bool *failed)
{
    if (!text)
        return NULL;
    char *copy = strdup(text);
    if (!copy)
        *failed = true;
    return copy;
}

/* parse_time - RFC 3339 text into ms, 0 for NULL; false when it does not parse. */
static bool parse_time(const char *text, int64_t *ret_ms)
{
    *ret_ms = 0;
    return !text || time_parse_rfc3339(text, ret_ms) == 0;
}

/* parse_int - decimal text into *ret (0 for NULL); false when it does not parse. */
static bool parse_int(const char *text, int64_t *ret)
{
    *ret = 0;
    if (!text)
        return true;
    char *end = NULL;
    long long value = strtoll(text, &end, 10);
    if (end == text || *end)
        return false;
    *ret = value;
    return true;
}

int schedule_decode_row(const char *const v[SCHEDCOL_COUNT], struct schedule *ret,
                        struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    bool failed = false, ok = v[SCHEDCOL_ID] && strlen(v[SCHEDCOL_ID]) < UUID_STR_LEN;
    if (ok)
        snprintf(ret->id, sizeof(ret->id), "%s", v[SCHEDCOL_ID]);
    ret->name = dup_or_null(v[SCHEDCOL_NAME] ? v[SCHEDCOL_NAME] : "", &failed);
    ret->cron = dup_or_null(v[SCHEDCOL_CRON] ? v[SCHEDCOL_CRON] : "", &failed);
    ret->timezone = dup_or_null(v[SCHEDCOL_TIMEZONE] ? v[SCHEDCOL_TIMEZONE] : "UTC", &failed);
    ret->last_status = dup_or_null(v[SCHEDCOL_LAST_STATUS], &failed);
    ret->last_job_id = dup_or_null(v[SCHEDCOL_LAST_JOB_ID], &failed);
    ret->created_by = dup_or_null(v[SCHEDCOL_CREATED_BY], &failed);
    ret->job = v[SCHEDCOL_JOB_SPEC] ? json_loads(v[SCHEDCOL_JOB_SPEC], 0, NULL) : NULL;
    int64_t catch_up = 0;
    const char *enabled = v[SCHEDCOL_ENABLED] ? v[SCHEDCOL_ENABLED] : "";
    ret->enabled = strcmp(enabled, "1") == 0 || strcmp(enabled, "t") == 0;
    ok = ok && ret->job && schedule_misfire_parse(v[SCHEDCOL_MISFIRE], &ret->misfire) == 0 &&
         schedule_overlap_parse(v[SCHEDCOL_OVERLAP], &ret->overlap) == 0 &&
         parse_int(v[SCHEDCOL_CATCH_UP_MAX], &catch_up) &&
         parse_time(v[SCHEDCOL_NEXT_RUN_AT], &ret->next_run_at_ms) &&
         parse_time(v[SCHEDCOL_LAST_RUN_AT], &ret->last_run_at_ms) &&
         parse_int(v[SCHEDCOL_RUN_COUNT], &ret->run_count) &&
         parse_int(v[SCHEDCOL_SUCCESS_COUNT], &ret->success_count) &&
         parse_int(v[SCHEDCOL_FAILURE_COUNT], &ret->failure_count) &&
         parse_time(v[SCHEDCOL_CREATED_AT], &ret->created_at_ms) &&
         parse_time(v[SCHEDCOL_UPDATED_AT], &ret->updated_at_ms);
    ret->catch_up_max = (int)catch_up;
    int rc = 0;
    if (failed)
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory reading a schedule");
    else if (!ok)
        rc = iq_error_set(err, IQ_E_DB, "schedule %s: a stored value does not parse",
                          v[SCHEDCOL_ID] ? v[SCHEDCOL_ID] : "(null)");
    if (rc < 0)
        schedule_clear(ret);
    return rc;
}

/* audit_text - the compact, key-sorted schedule_to_json of s; caller frees; NULL on OOM. */
static char *audit_text(const struct schedule *s)
{
    json_t *json = schedule_to_json(s);
    char *text = store_json_text(json);
    json_decref(json);
    return text;
}

/* audit_change - one "schedule.<action>" row with the before and after images. */
static int audit_change(const struct schedule_primitives *p, void *backend,
                        const struct audit_context *actx, const char *action,
                        const struct schedule *before, const struct schedule *after,
                        struct iq_error *err)
{
    char *before_text = before ? audit_text(before) : NULL;
    char *after_text = after ? audit_text(after) : NULL;
    int rc = (before && !before_text) || (after && !after_text)
                 ? iq_error_set(err, IQ_E_NOMEM, "out of memory")
                 : p->audit(backend, actx, action, after ? after->id : before->id, before_text,
                            after_text, err);
    free(before_text);
    free(after_text);
    return rc;
}

/* check_actor - every mutation names who made it. */
static int check_actor(const struct audit_context *actx, struct iq_error *err)
{
    if (!actx || !actx->actor || !actx->actor[0])
        return iq_error_set(err, IQ_E_INTERNAL, "a schedule change needs an actor");
    return 0;
}

/* fill_editable - row's editable fields from spec (copies). */
static int fill_editable(struct schedule *row, const struct schedule_spec *spec,
                         struct iq_error *err)
{
    bool failed = false;
    free(row->name);
    free(row->cron);
    free(row->timezone);
    json_decref(row->job);
    row->name = dup_or_null(spec->name, &failed);
    row->cron = dup_or_null(spec->cron, &failed);
    row->timezone = dup_or_null(spec->timezone ? spec->timezone : CRON_DEFAULT_ZONE, &failed);
    row->job = json_deep_copy(spec->job);
    row->misfire = spec->misfire;
    row->overlap = spec->overlap;
    row->catch_up_max = spec->catch_up_max;
    row->enabled = spec->enabled;
    if (failed || !row->job)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    return 0;
}

/* check_name_free - IQ_E_CONFLICT when another schedule than self_id has name. */
static int check_name_free(const struct schedule_primitives *p, void *backend, const char *name,
                           const char *self_id, struct iq_error *err)
{
    bool taken = false;
    int rc = p->name_taken(backend, name, self_id, &taken, err);
    if (rc == 0 && taken)
        rc = iq_error_set(err, IQ_E_CONFLICT, "a schedule named \"%s\" exists already", name);
    return rc;
}

/* ------------------------------------------------------------------------
 * Create
 * ------------------------------------------------------------------------ */

struct create_ctx {
    const struct schedule_request *req;
    const struct audit_context *actx;
    struct schedule *ret;
};

/* check_capacity - IQ_E_QUEUE_FULL when max schedules exist already. */
static int check_capacity(const struct schedule_primitives *p, void *backend, int max,
                          struct iq_error *err)
{
    if (max <= 0)
        return 0;
    int64_t count = 0;
    int rc = p->count(backend, &count, err);
    if (rc == 0 && count >= max)
        rc = iq_error_set(err, IQ_E_QUEUE_FULL,
                          "%lld schedules exist, the most allowed (setting max_schedules)",
                          (long long)count);
    return rc;
}

static int create_body(const struct schedule_primitives *p, void *backend, void *ctx_ptr,
                       struct iq_error *err)
{
    struct create_ctx *ctx = ctx_ptr;
    const struct schedule_spec *spec = ctx->req->spec;
    struct schedule *row = ctx->ret;
    int64_t now_ms = p->now_ms(backend);
    int rc = check_capacity(p, backend, ctx->req->max_schedules, err);
    if (rc == 0)
        rc = check_name_free(p, backend, spec->name, NULL, err);
    if (rc == 0)
        rc = schedule_next_run(spec->cron, spec->timezone, now_ms, &row->next_run_at_ms, err);
    if (rc == 0 && row->next_run_at_ms == 0)
        rc = iq_error_add_field(err, "cron", "the one-off time %s has passed", spec->cron);
    if (rc < 0)
        return rc;
    uuid7_generate_at(now_ms, row->id);
    row->created_at_ms = row->updated_at_ms = now_ms;
    bool failed = false;
    row->created_by = dup_or_null(ctx->actx->actor, &failed);
    rc = failed ? iq_error_set(err, IQ_E_NOMEM, "out of memory") : fill_editable(row, spec, err);
    if (rc == 0)
        rc = p->insert(backend, row, err);
    if (rc == 0)
        rc = audit_change(p, backend, ctx->actx, "schedule.created", NULL, row, err);
    return rc;
}

/* run - the backend's transaction around body; *ret cleared on failure. */
static int run(struct store *s, enum schedule_tx_kind kind, schedule_tx_body body, void *ctx,
               struct schedule *ret, struct iq_error *err)
{
    int rc = s->ops->schedule_tx(s, kind, body, ctx, err);
    if (rc < 0 && ret)
        schedule_clear(ret);
    return rc;
}

int schedule_rule_create(struct store *s, const struct schedule_request *req,
                         const struct audit_context *actx, struct schedule *ret,
                         struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    int rc = check_actor(actx, err);
    if (rc == 0 && (!req || !req->spec || !req->spec->name || !req->spec->cron || !req->spec->job))
        rc = iq_error_set(err, IQ_E_INVALID, "a schedule needs a checked spec");
    if (rc < 0)
        return rc;
    struct create_ctx ctx = {.req = req, .actx = actx, .ret = ret};
    return run(s, SCHEDULE_TX_WRITE, create_body, &ctx, ret, err);
}

/* ------------------------------------------------------------------------
 * Read
 * ------------------------------------------------------------------------ */

struct get_ctx {
    const char *id;
    struct schedule *ret;
};

static int get_body(const struct schedule_primitives *p, void *backend, void *ctx_ptr,
                    struct iq_error *err)
{
    struct get_ctx *ctx = ctx_ptr;
    return p->read(backend, ctx->id, ctx->ret, err);
}

/* check_id - IQ_E_NOT_FOUND for what is not an id (no SQL runs for it). */
static int check_id(const char *id, struct iq_error *err)
{
    if (!id || !uuid_is_valid(id))
        return iq_error_set(err, IQ_E_NOT_FOUND, "schedule %s not found", id ? id : "(null)");
    return 0;
}

int schedule_rule_get(struct store *s, const char *id, struct schedule *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    int rc = check_id(id, err);
    if (rc < 0)
        return rc;
    struct get_ctx ctx = {.id = id, .ret = ret};
    return run(s, SCHEDULE_TX_READ, get_body, &ctx, ret, err);
}

struct list_ctx {
    const struct schedule_filter *filter;
    int limit;
    struct schedule_page *page;
};

static int list_body(const struct schedule_primitives *p, void *backend, void *ctx_ptr,
                     struct iq_error *err)
{
    struct list_ctx *ctx = ctx_ptr;
    int rc = p->list(backend, ctx->filter, ctx->limit + 1, ctx->page, err);
    if (rc == 0 && ctx->page->count > (size_t)ctx->limit) {
        schedule_clear(&ctx->page->items[ctx->limit]);
        ctx->page->count = (size_t)ctx->limit;
        memcpy(ctx->page->next_after_id, ctx->page->items[ctx->limit - 1].id, UUID_STR_LEN);
    }
    return rc;
}

int schedule_rule_list(struct store *s, const struct schedule_filter *filter,
                       struct schedule_page *ret_page, struct iq_error *err)
{
    memset(ret_page, 0, sizeof(*ret_page));
    static const struct schedule_filter all = {0};
    if (!filter)
        filter = &all;
    int limit = filter->limit ? filter->limit : SCHEDULE_LIST_LIMIT_DEFAULT;
    if (limit < 1 || limit > SCHEDULE_LIST_LIMIT_MAX)
        return iq_error_set(err, IQ_E_BAD_REQUEST, "limit must be 1..%d", SCHEDULE_LIST_LIMIT_MAX);
    if (filter->after_id && filter->after_id[0] && !uuid_is_valid(filter->after_id))
        return iq_error_set(err, IQ_E_BAD_REQUEST, "bad cursor");
    struct list_ctx ctx = {.filter = filter, .limit = limit, .page = ret_page};
    int rc = s->ops->schedule_tx(s, SCHEDULE_TX_READ, list_body, &ctx, err);
    if (rc < 0)
        schedule_page_clear(ret_page);
    return rc;
}

/* ------------------------------------------------------------------------
 * Change
 * ------------------------------------------------------------------------ */

struct change_ctx {
    const char *id;
    const struct schedule_spec *spec; /* update */
    bool enabled;                     /* pause / resume */
    const struct audit_context *actx;
    struct schedule *ret;
};

/* next_from_now - row->next_run_at_ms: its next fire time after now (0 when it has none). */
static int next_from_now(const struct schedule_primitives *p, void *backend, struct schedule *row,
                         struct iq_error *err)
{
    return schedule_next_run(row->cron, row->timezone, p->now_ms(backend), &row->next_run_at_ms,
                             err);
}

/*
 * times_change - whether an update moves the fire times: a new expression
 * or zone, or enabling a paused schedule (as a resume does). Otherwise
 * next_run_at stays, so that a change of name, job or policy neither skips
 * a fire that is due nor fires again one already made.
 */
static bool times_change(const struct schedule *before, const struct schedule *after)
{
    return strcmp(before->cron, after->cron) != 0 ||
           strcmp(before->timezone, after->timezone) != 0 || (!before->enabled && after->enabled);
}

static int update_body(const struct schedule_primitives *p, void *backend, void *ctx_ptr,
                       struct iq_error *err)
{
    struct change_ctx *ctx = ctx_ptr;
    struct schedule before;
    int rc = p->read(backend, ctx->id, &before, err);
    if (rc < 0)
        return rc;
    rc = check_name_free(p, backend, ctx->spec->name, ctx->id, err);
    if (rc == 0)
        rc = p->read(backend, ctx->id, ctx->ret, err);
    if (rc == 0)
        rc = fill_editable(ctx->ret, ctx->spec, err);
    if (rc == 0 && times_change(&before, ctx->ret))
        rc = next_from_now(p, backend, ctx->ret, err);
    if (rc == 0) {
        ctx->ret->updated_at_ms = p->now_ms(backend);
        rc = p->write(backend, ctx->ret, err);
    }
    if (rc == 0)
        rc = audit_change(p, backend, ctx->actx, "schedule.updated", &before, ctx->ret, err);
    schedule_clear(&before);
    return rc;
}

int schedule_rule_update(struct store *s, const char *id, const struct schedule_spec *spec,
                         const struct audit_context *actx, struct schedule *ret,
                         struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    int rc = check_actor(actx, err);
    if (rc == 0)
        rc = check_id(id, err);
    if (rc == 0 && (!spec || !spec->name || !spec->cron || !spec->job))
        rc = iq_error_set(err, IQ_E_INVALID, "a schedule needs a checked spec");
    if (rc < 0)
        return rc;
    struct change_ctx ctx = {.id = id, .spec = spec, .actx = actx, .ret = ret};
    return run(s, SCHEDULE_TX_WRITE, update_body, &ctx, ret, err);
}

static int delete_body(const struct schedule_primitives *p, void *backend, void *ctx_ptr,
                       struct iq_error *err)
{
    struct change_ctx *ctx = ctx_ptr;
    int rc = p->lock_dependents ? p->lock_dependents(backend, ctx->id, err) : 0;
    if (rc == 0)
        rc = p->read(backend, ctx->id, ctx->ret, err);
    if (rc == 0)
        rc = p->remove(backend, ctx->id, err);
    if (rc == 0)
        rc = audit_change(p, backend, ctx->actx, "schedule.deleted", ctx->ret, NULL, err);
    return rc;
}

int schedule_rule_delete(struct store *s, const char *id, const struct audit_context *actx,
                         struct schedule *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    int rc = check_actor(actx, err);
    if (rc == 0)
        rc = check_id(id, err);
    if (rc < 0)
        return rc;
    struct change_ctx ctx = {.id = id, .actx = actx, .ret = ret};
    return run(s, SCHEDULE_TX_WRITE, delete_body, &ctx, ret, err);
}

/*
 * set_enabled_body - pause keeps next_run_at (shown, not fired); resume
 * recomputes it from now, so what was missed while paused is skipped.
 * No change (already so): nothing written, nothing audited.
 */
static int set_enabled_body(const struct schedule_primitives *p, void *backend, void *ctx_ptr,
                            struct iq_error *err)
{
    struct change_ctx *ctx = ctx_ptr;
    struct schedule before;
    int rc = p->read(backend, ctx->id, &before, err);
    if (rc < 0)
        return rc;
    if (before.enabled == ctx->enabled) {
        *ctx->ret = before;
        return 0;
    }
    rc = p->read(backend, ctx->id, ctx->ret, err);
    if (rc == 0) {
        ctx->ret->enabled = ctx->enabled;
        ctx->ret->updated_at_ms = p->now_ms(backend);
        if (ctx->enabled)
            rc = next_from_now(p, backend, ctx->ret, err);
    }
    if (rc == 0)
        rc = p->write(backend, ctx->ret, err);
    if (rc == 0)
        rc = audit_change(p, backend, ctx->actx,
                          ctx->enabled ? "schedule.resumed" : "schedule.paused", &before, ctx->ret,
                          err);
    schedule_clear(&before);
    return rc;
}

int schedule_rule_set_enabled(struct store *s, const char *id, bool enabled,
                              const struct audit_context *actx, struct schedule *ret,
                              struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    int rc = check_actor(actx, err);
    if (rc == 0)
        rc = check_id(id, err);
    if (rc < 0)
        return rc;
    struct change_ctx ctx = {.id = id, .enabled = enabled, .actx = actx, .ret = ret};
    return run(s, SCHEDULE_TX_WRITE, set_enabled_body, &ctx, ret, err);
}

/* ------------------------------------------------------------------------
 * Typical durations
 * ------------------------------------------------------------------------ */

struct p50_ctx {
    const char *table;
    int64_t samples[SCHEDULE_P50_SAMPLES];
    size_t count;
};

static int p50_body(const struct schedule_primitives *p, void *backend, void *ctx_ptr,
                    struct iq_error *err)
{
    struct p50_ctx *ctx = ctx_ptr;
    return p->durations(backend, ctx->table, SCHEDULE_P50_SAMPLES, ctx->samples, &ctx->count, err);
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int schedule_rule_table_p50(struct store *s, const char *table, int64_t *ret_ms,
                            struct iq_error *err)
{
    *ret_ms = 0;
    struct p50_ctx ctx = {.table = table};
    if (!table)
        return 0;
    int rc = s->ops->schedule_tx(s, SCHEDULE_TX_READ, p50_body, &ctx, err);
    if (rc < 0 || ctx.count == 0)
        return rc;
    qsort(ctx.samples, ctx.count, sizeof(ctx.samples[0]), compare_int64);
    /* The lower median of an even count: a duration that was observed. */
    *ret_ms = ctx.samples[(ctx.count - 1) / 2];
    if (*ret_ms <= 0)
        *ret_ms = 1;
    return 0;
}
