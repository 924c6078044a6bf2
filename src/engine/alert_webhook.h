/*
 * alert_webhook.h - delivery of alert events to an HTTP endpoint (the
 * alert-webhook setting): each event is POSTed as JSON by a thread of its
 * own (libcurl), retried with exponential backoff when the endpoint fails
 * (a transport error or a status other than 2xx), from a bounded queue,
 * so the alert loop and the engine never wait for the endpoint. When the
 * queue is full the newest event is dropped and counted; the log has
 * every event anyway (engine/alerts.c).
 */
#ifndef IMPORTQ_ENGINE_ALERT_WEBHOOK_H
#define IMPORTQ_ENGINE_ALERT_WEBHOOK_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALERT_WEBHOOK_QUEUE_MAX_DEFAULT 1000
#define ALERT_WEBHOOK_RETRIES_DEFAULT 5
#define ALERT_WEBHOOK_BACKOFF_MS_DEFAULT 1000
#define ALERT_WEBHOOK_BACKOFF_CAP_MS 300000
#define ALERT_WEBHOOK_TIMEOUT_MS_DEFAULT 5000

struct alert_webhook_options {
    const char *url;    /* http:// or https:// (required) */
    int retries;        /* further tries after a failed one; 0 = default, < 0 = none */
    int64_t backoff_ms; /* first retry's delay, doubling (capped); 0 = default */
    int64_t timeout_ms; /* one POST's limit; 0 = default */
    size_t queue_max;   /* events waiting at most; 0 = default */
};

/* What the webhook did so far. */
struct alert_webhook_stats {
    uint64_t delivered; /* events the endpoint accepted */
    uint64_t failed;    /* events given up after every retry */
    uint64_t dropped;   /* events refused by a full queue */
    uint64_t attempts;  /* POSTs made */
};

struct alert_webhook;

/*
 * alert_webhook_start - start the delivery thread. IQ_E_INVALID for a
 * URL that is not http(s); IQ_E_INTERNAL when the thread cannot start.
 * Stop and free with alert_webhook_stop.
 */
int alert_webhook_start(const struct alert_webhook_options *opts, struct alert_webhook **ret,
                        struct iq_error *err);

/*
 * alert_webhook_send - queue one event (the JSON text is copied). Never
 * blocks on the endpoint. false when the queue is full (the event is
 * dropped and counted) or out of memory. Thread-safe.
 */
bool alert_webhook_send(struct alert_webhook *webhook, const char *json_text);

/* alert_webhook_stats - a copy of the counters. Thread-safe. */
struct alert_webhook_stats alert_webhook_get_stats(struct alert_webhook *webhook);

/*
 * alert_webhook_stop - end the thread: a POST under way finishes (within
 * its timeout), waiting retries and queued events are dropped. Frees the
 * webhook; NULL-safe.
 */
void alert_webhook_stop(struct alert_webhook *webhook);

#endif
