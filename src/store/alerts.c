/*
 * store/alerts.c - the front door of alerts (store/alert_ops.h): each
 * store_alert_* runs its rule of common/alerts.c, which drives the
 * backend's primitives inside the backend's transaction.
 */
#include "store/alert_ops.h"

#include "store/common/alerts.h"

#include "core/timeutil.h"

#include <jansson.h>

int store_alert_open(struct store *s, const struct alert *draft, bool *ret_opened, int64_t *ret_id,
                     struct iq_error *err)
{
    return alert_rule_open(s, draft, ret_opened, ret_id, err);
}

int store_alert_resolve(struct store *s, int64_t id, bool *ret_resolved, struct iq_error *err)
{
    return alert_rule_resolve(s, id, ret_resolved, err);
}

int store_alert_ack(struct store *s, int64_t id, const struct audit_context *actx,
                    struct alert *ret, struct iq_error *err)
{
    return alert_rule_ack(s, id, actx, ret, err);
}

int store_alert_get(struct store *s, int64_t id, struct alert *ret, struct iq_error *err)
{
    return alert_rule_get(s, id, ret, err);
}

int store_alert_list(struct store *s, const struct alert_filter *filter,
                     struct alert_page *ret_page, struct iq_error *err)
{
    return alert_rule_list(s, filter, ret_page, err);
}

int store_alerts_active(struct store *s, struct alert_page *ret_page, struct iq_error *err)
{
    return alert_rule_active(s, ret_page, err);
}

int store_alert_probe(struct store *s, int64_t ended_since_ms, int limit, struct alert_probe *ret,
                      struct iq_error *err)
{
    return alert_rule_probe(s, ended_since_ms, limit, ret, err);
}

/* time_json - RFC 3339 text of ms, JSON null for 0. */
static json_t *time_json(int64_t ms)
{
    char text[TIME_RFC3339_LEN];
    return ms ? json_string(time_format_rfc3339(ms, text)) : json_null();
}

json_t *alert_json(const struct alert *alert)
{
    json_t *detail = alert->detail ? json_loads(alert->detail, 0, NULL) : NULL;
    return json_pack("{s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                     alert->id ? json_integer(alert->id) : json_null(), "rule", alert->rule,
                     "severity", alert->severity, "state", alert_state_name(alert->state), "entity",
                     alert->entity, "entity_id", alert->entity_id, "message", alert->message,
                     "detail", detail ? detail : json_object(), "node",
                     alert->node ? json_string(alert->node) : json_null(), "created_at",
                     time_json(alert->created_at_ms), "acked_at", time_json(alert->acked_at_ms),
                     "acked_by", alert->acked_by ? json_string(alert->acked_by) : json_null(),
                     "resolved_at", time_json(alert->resolved_at_ms));
}
