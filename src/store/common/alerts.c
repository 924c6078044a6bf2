/*
 * common/alerts.c - the rules of storing alerts for both backends
 * (common/alerts.h): each runs its body in the backend's transaction
 * (store_ops.alert_tx) through struct alert_primitives. What makes an
 * alert open once is the database's (the unique partial index of
 * migration 009); what an acknowledgement may do and its audit row are
 * here.
 */
#include "store/common/alerts.h"

#include "core/timeutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void alert_clear(struct alert *alert)
{
    if (!alert)
        return;
    free(alert->rule);
    free(alert->severity);
    free(alert->entity);
    free(alert->entity_id);
    free(alert->message);
    free(alert->detail);
    free(alert->node);
    free(alert->acked_by);
    memset(alert, 0, sizeof(*alert));
}

void alert_page_clear(struct alert_page *page)
{
    if (!page)
        return;
    for (size_t i = 0; i < page->count; i++)
        alert_clear(&page->items[i]);
    free(page->items);
    memset(page, 0, sizeof(*page));
}

void alert_probe_clear(struct alert_probe *probe)
{
    if (!probe)
        return;
    for (size_t i = 0; i < probe->ended_count; i++) {
        free(probe->ended[i].name);
        free(probe->ended[i].table);
        free(probe->ended[i].error_code);
        free(probe->ended[i].error_message);
    }
    for (size_t i = 0; i < probe->expired_count; i++)
        free(probe->expired[i].name);
    free(probe->ended);
    free(probe->expired);
    memset(probe, 0, sizeof(*probe));
}

/* dup - strdup of a nullable text; *ok false when it ran out of memory. */
static char *dup(const char *text, bool *ok)
{
    if (!text)
        return NULL;
    char *copy = strdup(text);
    if (!copy)
        *ok = false;
    return copy;
}

/* parse_time - a nullable RFC 3339 text into *ret_ms (0 for NULL). */
static bool parse_time(const char *text, int64_t *ret_ms)
{
    *ret_ms = 0;
    return !text || time_parse_rfc3339(text, ret_ms) == 0;
}

static bool parse_int64(const char *text, int64_t *ret)
{
    if (!text || !text[0])
        return false;
    char *end;
    long long value = strtoll(text, &end, 10);
    *ret = value;
    return *end == '\0';
}

int alert_decode_row(const char *const v[ALERTCOL_COUNT], struct alert *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    bool ok = true;
    ret->rule = dup(v[ALERTCOL_RULE], &ok);
    ret->severity = dup(v[ALERTCOL_SEVERITY], &ok);
    ret->entity = dup(v[ALERTCOL_ENTITY], &ok);
    ret->entity_id = dup(v[ALERTCOL_ENTITY_ID], &ok);
    ret->message = dup(v[ALERTCOL_MESSAGE], &ok);
    ret->detail = dup(v[ALERTCOL_DETAIL], &ok);
    ret->node = dup(v[ALERTCOL_NODE], &ok);
    ret->acked_by = dup(v[ALERTCOL_ACKED_BY], &ok);
    if (!ok) {
        alert_clear(ret);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    if (!parse_int64(v[ALERTCOL_ID], &ret->id) ||
        alert_state_parse(v[ALERTCOL_STATE], &ret->state) < 0 ||
        !parse_time(v[ALERTCOL_CREATED_AT], &ret->created_at_ms) ||
        !parse_time(v[ALERTCOL_ACKED_AT], &ret->acked_at_ms) ||
        !parse_time(v[ALERTCOL_RESOLVED_AT], &ret->resolved_at_ms)) {
        alert_clear(ret);
        return iq_error_set(err, IQ_E_DB, "a stored alert row does not parse");
    }
    return 0;
}

int alert_probe_decode_ended(const char *const v[ENDEDCOL_COUNT], struct alert_probe_job *ret,
                             struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    bool ok = true;
    int64_t attempt = 0, max_attempts = 0;
    if (!v[ENDEDCOL_ID] || strlen(v[ENDEDCOL_ID]) >= UUID_STR_LEN ||
        job_status_parse(v[ENDEDCOL_STATUS], &ret->status) < 0 ||
        !parse_int64(v[ENDEDCOL_ATTEMPT], &attempt) ||
        !parse_int64(v[ENDEDCOL_MAX_ATTEMPTS], &max_attempts) ||
        !parse_time(v[ENDEDCOL_FINISHED_AT], &ret->finished_at_ms))
        return iq_error_set(err, IQ_E_DB, "a stored job row does not parse");
    strcpy(ret->id, v[ENDEDCOL_ID]);
    ret->attempt = (int)attempt;
    ret->max_attempts = (int)max_attempts;
    ret->name = dup(v[ENDEDCOL_NAME] ? v[ENDEDCOL_NAME] : "", &ok);
    ret->table = dup(v[ENDEDCOL_TABLE] ? v[ENDEDCOL_TABLE] : "", &ok);
    ret->error_code = dup(v[ENDEDCOL_ERROR_CODE], &ok);
    ret->error_message = dup(v[ENDEDCOL_ERROR_MESSAGE], &ok);
    if (!ok) {
        free(ret->name);
        free(ret->table);
        free(ret->error_code);
        free(ret->error_message);
        memset(ret, 0, sizeof(*ret));
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    return 0;
}

int alert_probe_decode_lock(const char *const v[LOCKCOL_COUNT], struct alert_probe_lock *ret,
                            struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    if (!v[LOCKCOL_ID] || strlen(v[LOCKCOL_ID]) >= UUID_STR_LEN || !v[LOCKCOL_JOB_ID] ||
        strlen(v[LOCKCOL_JOB_ID]) >= UUID_STR_LEN || !v[LOCKCOL_NAME] ||
        !parse_time(v[LOCKCOL_EXPIRES_AT], &ret->expires_at_ms))
        return iq_error_set(err, IQ_E_DB, "a stored lock row does not parse");
    strcpy(ret->id, v[LOCKCOL_ID]);
    strcpy(ret->job_id, v[LOCKCOL_JOB_ID]);
    ret->name = strdup(v[LOCKCOL_NAME]);
    return ret->name ? 0 : iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

/* ---- the audit trail's images ---- */

/* The actor of what no token did: an alert opening and resolving. */
static const struct audit_context system_actor = {"system", NULL, NULL};

/* audit_image - what the audit trail keeps of an alert; NULL on OOM. */
static char *audit_image(const struct alert *alert)
{
    char acked_at[TIME_RFC3339_LEN], resolved_at[TIME_RFC3339_LEN];
    json_t *image = json_pack(
        "{s:I, s:s, s:s?, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?}", "id", (json_int_t)alert->id,
        "rule", alert->rule, "severity", alert->severity, "state", alert_state_name(alert->state),
        "entity", alert->entity, "entity_id", alert->entity_id, "message", alert->message,
        "acked_by", alert->acked_by, "acked_at",
        alert->acked_at_ms ? time_format_rfc3339(alert->acked_at_ms, acked_at) : NULL,
        "resolved_at",
        alert->resolved_at_ms ? time_format_rfc3339(alert->resolved_at_ms, resolved_at) : NULL);
    char *text = image ? json_dumps(image, JSON_COMPACT) : NULL;
    json_decref(image);
    return text;
}

/* audit_change - the audit row of alert id's change from before (NULL:
 * none) to after, by actx; in the caller's transaction. */
static int audit_change(const struct alert_primitives *p, void *backend,
                        const struct audit_context *actx, const char *action,
                        const struct alert *before, const struct alert *after, struct iq_error *err)
{
    char *before_text = before ? audit_image(before) : NULL;
    char *after_text = audit_image(after);
    char id_text[24];
    snprintf(id_text, sizeof(id_text), "%lld", (long long)after->id);
    int rc = (before && !before_text) || !after_text
                 ? iq_error_set(err, IQ_E_NOMEM, "out of memory")
                 : p->audit(backend, actx, action, id_text, before_text, after_text, err);
    free(before_text);
    free(after_text);
    return rc;
}

/* ---- open and resolve ---- */

/*
 * Opening and resolving are audited ("alert.opened", "alert.resolved",
 * actor "system") in the alert's own transaction: the trail stays the
 * whole story of an alert, and GET /events (the trail's tail) carries
 * them.
 */

struct open_ctx {
    const struct alert *draft;
    bool *ret_opened;
    int64_t *ret_id;
};

static int open_body(const struct alert_primitives *p, void *backend, void *ctx_ptr,
                     struct iq_error *err)
{
    struct open_ctx *ctx = ctx_ptr;
    struct alert row = *ctx->draft;
    if (row.created_at_ms == 0)
        row.created_at_ms = p->now_ms(backend);
    if (row.state != ALERT_STATE_RESOLVED)
        row.state = ALERT_STATE_OPEN;
    else if (row.resolved_at_ms == 0)
        row.resolved_at_ms = p->now_ms(backend);
    row.acked_at_ms = 0;
    row.acked_by = NULL;
    int rc = p->insert(backend, &row, ctx->ret_opened, ctx->ret_id, err);
    if (rc < 0 || !*ctx->ret_opened)
        return rc;
    /* one recorded after the fact (a database outage) is resolved at once */
    row.id = *ctx->ret_id;
    return audit_change(p, backend, &system_actor,
                        row.state == ALERT_STATE_RESOLVED ? "alert.resolved" : "alert.opened", NULL,
                        &row, err);
}

int alert_rule_open(struct store *s, const struct alert *draft, bool *ret_opened, int64_t *ret_id,
                    struct iq_error *err)
{
    *ret_opened = false;
    *ret_id = 0;
    if (!draft->rule || !draft->entity || !draft->entity_id || !draft->message || !draft->severity)
        return iq_error_set(err, IQ_E_INTERNAL, "an alert needs a rule, entity and message");
    struct open_ctx ctx = {draft, ret_opened, ret_id};
    int rc = s->ops->alert_tx(s, ALERT_TX_WRITE, open_body, &ctx, err);
    if (rc < 0) {
        *ret_opened = false; /* rolled back with its audit row */
        *ret_id = 0;
    }
    return rc;
}

struct resolve_ctx {
    int64_t id;
    bool *ret_resolved;
};

static int resolve_body(const struct alert_primitives *p, void *backend, void *ctx_ptr,
                        struct iq_error *err)
{
    struct resolve_ctx *ctx = ctx_ptr;
    struct alert before = {0}, after = {0};
    int rc = p->read(backend, ctx->id, &before, err);
    if (rc == IQ_E_NOT_FOUND) {
        iq_error_clear(err); /* gone (pruned): nothing to resolve */
        return 0;
    }
    if (rc == 0 && before.state != ALERT_STATE_RESOLVED)
        rc = p->resolve(backend, ctx->id, p->now_ms(backend), ctx->ret_resolved, err);
    if (rc == 0 && *ctx->ret_resolved)
        rc = p->read(backend, ctx->id, &after, err);
    if (rc == 0 && *ctx->ret_resolved)
        rc = audit_change(p, backend, &system_actor, "alert.resolved", &before, &after, err);
    alert_clear(&before);
    alert_clear(&after);
    return rc;
}

int alert_rule_resolve(struct store *s, int64_t id, bool *ret_resolved, struct iq_error *err)
{
    *ret_resolved = false;
    struct resolve_ctx ctx = {id, ret_resolved};
    int rc = s->ops->alert_tx(s, ALERT_TX_WRITE, resolve_body, &ctx, err);
    if (rc < 0)
        *ret_resolved = false;
    return rc;
}

/* ---- acknowledge ---- */

struct ack_ctx {
    int64_t id;
    const struct audit_context *actx;
    struct alert *ret;
};

static int ack_body(const struct alert_primitives *p, void *backend, void *ctx_ptr,
                    struct iq_error *err)
{
    struct ack_ctx *ctx = ctx_ptr;
    struct alert before;
    int rc = p->read(backend, ctx->id, &before, err);
    if (rc < 0)
        return rc;
    if (before.state == ALERT_STATE_RESOLVED) {
        alert_clear(&before);
        return iq_error_set(err, IQ_E_CONFLICT, "alert %lld is resolved", (long long)ctx->id);
    }
    if (before.state == ALERT_STATE_ACKED) {
        *ctx->ret = before;
        return 0;
    }
    int64_t now_ms = p->now_ms(backend);
    rc = p->ack(backend, ctx->id, ctx->actx->actor, now_ms, err);
    if (rc == 0)
        rc = p->read(backend, ctx->id, ctx->ret, err);
    if (rc == 0)
        rc = audit_change(p, backend, ctx->actx, "alert.acked", &before, ctx->ret, err);
    alert_clear(&before);
    return rc;
}

int alert_rule_ack(struct store *s, int64_t id, const struct audit_context *actx, struct alert *ret,
                   struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    if (!actx || !actx->actor || !actx->actor[0])
        return iq_error_set(err, IQ_E_INTERNAL, "acknowledging an alert needs an actor");
    struct ack_ctx ctx = {id, actx, ret};
    int rc = s->ops->alert_tx(s, ALERT_TX_WRITE, ack_body, &ctx, err);
    if (rc < 0)
        alert_clear(ret);
    return rc;
}

/* ---- reads ---- */

struct get_ctx {
    int64_t id;
    struct alert *ret;
};

static int get_body(const struct alert_primitives *p, void *backend, void *ctx_ptr,
                    struct iq_error *err)
{
    struct get_ctx *ctx = ctx_ptr;
    return p->read(backend, ctx->id, ctx->ret, err);
}

int alert_rule_get(struct store *s, int64_t id, struct alert *ret, struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    struct get_ctx ctx = {id, ret};
    return s->ops->alert_tx(s, ALERT_TX_READ, get_body, &ctx, err);
}

struct list_ctx {
    unsigned state_mask;
    int64_t after_id;
    int limit;
    struct alert_page *ret;
};

static int list_body(const struct alert_primitives *p, void *backend, void *ctx_ptr,
                     struct iq_error *err)
{
    struct list_ctx *ctx = ctx_ptr;
    return p->list(backend, ctx->state_mask, ctx->after_id, ctx->limit, ctx->ret, err);
}

/* list_page - one page of limit + 1 rows: the extra one tells whether there is a next page. */
static int list_page(struct store *s, unsigned state_mask, int64_t after_id, int limit,
                     struct alert_page *ret_page, struct iq_error *err)
{
    memset(ret_page, 0, sizeof(*ret_page));
    struct list_ctx ctx = {state_mask, after_id, limit + 1, ret_page};
    int rc = s->ops->alert_tx(s, ALERT_TX_READ, list_body, &ctx, err);
    if (rc < 0) {
        alert_page_clear(ret_page);
        return rc;
    }
    if (ret_page->count > (size_t)limit) {
        alert_clear(&ret_page->items[limit]);
        ret_page->count = (size_t)limit;
        ret_page->next_after_id = ret_page->items[limit - 1].id;
    }
    return 0;
}

int alert_rule_list(struct store *s, const struct alert_filter *filter, struct alert_page *ret_page,
                    struct iq_error *err)
{
    int limit = filter->limit ? filter->limit : ALERT_LIST_LIMIT_DEFAULT;
    memset(ret_page, 0, sizeof(*ret_page));
    if (limit < 1 || limit > ALERT_LIST_LIMIT_MAX)
        return iq_error_set(err, IQ_E_BAD_REQUEST, "limit must be 1..%d", ALERT_LIST_LIMIT_MAX);
    return list_page(s, filter->state_mask, filter->after_id, limit, ret_page, err);
}

int alert_rule_active(struct store *s, struct alert_page *ret_page, struct iq_error *err)
{
    int rc = list_page(s, (1u << ALERT_STATE_OPEN) | (1u << ALERT_STATE_ACKED), 0, ALERT_ACTIVE_MAX,
                       ret_page, err);
    ret_page->next_after_id = 0;
    return rc;
}

struct probe_ctx {
    int64_t ended_since_ms;
    int limit;
    struct alert_probe *ret;
};

static int probe_body(const struct alert_primitives *p, void *backend, void *ctx_ptr,
                      struct iq_error *err)
{
    struct probe_ctx *ctx = ctx_ptr;
    return p->probe(backend, ctx->ended_since_ms, ctx->limit, ctx->ret, err);
}

int alert_rule_probe(struct store *s, int64_t ended_since_ms, int limit, struct alert_probe *ret,
                     struct iq_error *err)
{
    memset(ret, 0, sizeof(*ret));
    if (limit < 1 || limit > ALERT_PROBE_LIMIT_MAX)
        return iq_error_set(err, IQ_E_INVALID, "probe limit must be 1..%d", ALERT_PROBE_LIMIT_MAX);
    struct probe_ctx ctx = {ended_since_ms, limit, ret};
    int rc = s->ops->alert_tx(s, ALERT_TX_READ, probe_body, &ctx, err);
    if (rc < 0)
        alert_probe_clear(ret);
    return rc;
}
