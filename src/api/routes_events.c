/*
 * routes_events.c - GET /api/v2/events: a text/event-stream of the job,
 * lock, alert, schedule and orchestration changes in the audit trail
 * (events.h says how). Without Last-Event-ID a stream starts with the
 * next change; with it, right after that event, at most
 * EVENTS_REPLAY_MAX changes back (an older id gets a "reset" event first:
 * the client should reload what it shows). 503 with Retry-After when the
 * node's events-max-streams are open.
 */
#include "api/routes.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define EVENTS_REPLAY_MAX 1000 /* changes a resuming stream may ask for again */

/* audit_head - the newest audit id (0: an empty trail); -1 after answering. */
static int64_t audit_head(struct api_request *req, struct api_response *res)
{
    struct store *store = api_store(req, res);
    if (!store)
        return -1;
    struct audit_filter filter = {.limit = 1};
    struct audit_page page = {0};
    struct iq_error err = {0};
    if (store_audit_list(store, &filter, &page, &err) < 0) {
        api_reply_error(req, res, &err);
        return -1;
    }
    int64_t head = page.count ? page.items[0].record.id : 0;
    audit_page_clear(&page);
    /* A stream may last hours: it must not keep a pooled connection. */
    store_pool_release(&req->api->pool, req->store, req->store_broken);
    req->store = NULL;
    return head;
}

/* last_event_id - the Last-Event-ID header: 1 and *ret_id when given, 0
 * when absent (or empty, which EventSource sends to mean none), -1 after
 * answering 400. */
static int last_event_id(struct api_request *req, struct api_response *res, int64_t *ret_id)
{
    const char *text = api_header_value(req, "Last-Event-ID");
    if (!text || !*text)
        return 0;
    char *end = NULL;
    errno = 0;
    long long id = isdigit((unsigned char)text[0]) ? strtoll(text, &end, 10) : -1;
    if (id < 0 || errno || *end != '\0') {
        api_reply_problem(req, res, IQ_E_BAD_REQUEST,
                          "Last-Event-ID must be the id of an event (a non-negative integer)");
        return -1;
    }
    *ret_id = id;
    return 1;
}

void route_events(struct api_request *req, struct api_response *res)
{
    static const char *const allowed[] = {NULL};
    if (api_query_reject_unknown(req, res, allowed))
        return;
    int64_t resume_from = 0;
    int resuming = last_event_id(req, res, &resume_from);
    if (resuming < 0)
        return;
    int64_t head = audit_head(req, res);
    if (head < 0)
        return;
    /* A stream starts at the head, or where the client left off: not
     * past the head (an id from another database), and not more than
     * EVENTS_REPLAY_MAX back. */
    int64_t after_id = head;
    bool reset = false;
    if (resuming && resume_from < head) {
        reset = head - resume_from > EVENTS_REPLAY_MAX;
        after_id = reset ? head - EVENTS_REPLAY_MAX : resume_from;
    }
    struct iq_error err = {0};
    struct MHD_Response *stream =
        events_stream_open(&req->api->events, req->connection, after_id, reset, &err);
    if (!stream) {
        api_reply_error(req, res, &err);
        api_header_add(res, "Retry-After", "5");
        return;
    }
    res->status = 200;
    res->stream = stream;
    res->content_type = "text/event-stream; charset=utf-8";
    api_header_add(res, "X-Accel-Buffering", "no"); /* proxies: do not hold frames back */
}
