/*
 * alert_webhook.c - the alert webhook's thread (alert_webhook.h): a FIFO
 * of JSON texts under one mutex; the thread takes the oldest, POSTs it
 * (libcurl, Content-Type application/json, the timeout of the options)
 * and, when the endpoint fails, waits backoff_ms, 2 x backoff_ms, ...
 * (capped at ALERT_WEBHOOK_BACKOFF_CAP_MS) between tries, up to retries
 * more tries; then the next event. Waits are on a CLOCK_MONOTONIC
 * condition, so alert_webhook_stop ends them at once.
 *
 * LOCK: webhook->lock guards the queue, the counters and quit; no POST is
 * made while holding it.
 */
#include "engine/alert_webhook.h"

#include "core/timeutil.h"
#include "util/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct event {
    struct event *next;
    char *json;
};

struct alert_webhook {
    char *url;
    int retries;
    int64_t backoff_ms;
    int64_t timeout_ms;
    size_t queue_max;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct event *head, *tail;
    size_t queued;
    bool quit;
    struct alert_webhook_stats stats;
    pthread_t thread;
};

/* deadline_in - now + ms on CLOCK_MONOTONIC. */
static struct timespec deadline_in(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static size_t discard_cb(char *data, size_t size, size_t count, void *ctx)
{
    (void)data;
    (void)ctx;
    return size * count;
}

/* post - one try; true when the endpoint answered 2xx. *ret_status is the
 * HTTP status (0 for a transport error, whose text goes in error). */
static bool post(struct alert_webhook *webhook, const char *json, long *ret_status,
                 char error[CURL_ERROR_SIZE])
{
    *ret_status = 0;
    error[0] = '\0';
    CURL *curl = curl_easy_init();
    if (!curl) {
        strcpy(error, "curl_easy_init failed");
        return false;
    }
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, webhook->url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)webhook->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "importq-alerts");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, ret_status);
    else if (!error[0])
        strncpy(error, curl_easy_strerror(rc), CURL_ERROR_SIZE - 1);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return rc == CURLE_OK && *ret_status >= 200 && *ret_status < 300;
}

/* wait_quit - sleep ms unless stopped; true when stopped. Called with the lock held. */
static bool wait_quit(struct alert_webhook *webhook, int64_t ms)
{
    struct timespec deadline = deadline_in(ms);
    while (!webhook->quit)
        if (pthread_cond_timedwait(&webhook->cond, &webhook->lock, &deadline) == ETIMEDOUT)
            break;
    return webhook->quit;
}

/* deliver - POST json until it is accepted, retries run out or the webhook stops. */
static void deliver(struct alert_webhook *webhook, const char *json)
{
    int64_t delay_ms = webhook->backoff_ms;
    for (int attempt = 0;; attempt++) {
        long status;
        char error[CURL_ERROR_SIZE];
        bool ok = post(webhook, json, &status, error);
        pthread_mutex_lock(&webhook->lock);
        webhook->stats.attempts++;
        if (ok) {
            webhook->stats.delivered++;
            pthread_mutex_unlock(&webhook->lock);
            return;
        }
        bool give_up = attempt >= webhook->retries;
        if (give_up)
            webhook->stats.failed++;
        pthread_mutex_unlock(&webhook->lock);
        char status_text[16];
        snprintf(status_text, sizeof(status_text), "%ld", status);
        log_event(give_up ? LOG_WARN : LOG_DEBUG,
                  give_up ? "alert webhook gave up" : "alert webhook failed, will retry", "url",
                  webhook->url, "status", status_text, "error", error, NULL);
        if (give_up)
            return;
        pthread_mutex_lock(&webhook->lock);
        bool stopped = wait_quit(webhook, delay_ms);
        pthread_mutex_unlock(&webhook->lock);
        if (stopped)
            return;
        delay_ms = delay_ms * 2 > ALERT_WEBHOOK_BACKOFF_CAP_MS ? ALERT_WEBHOOK_BACKOFF_CAP_MS
                                                               : delay_ms * 2;
    }
}

static void *webhook_main(void *arg)
{
    struct alert_webhook *webhook = arg;
    pthread_mutex_lock(&webhook->lock);
    for (;;) {
        while (!webhook->quit && !webhook->head)
            pthread_cond_wait(&webhook->cond, &webhook->lock);
        if (webhook->quit)
            break;
        struct event *event = webhook->head;
        webhook->head = event->next;
        if (!webhook->head)
            webhook->tail = NULL;
        webhook->queued--;
        pthread_mutex_unlock(&webhook->lock);
        deliver(webhook, event->json);
        free(event->json);
        free(event);
        pthread_mutex_lock(&webhook->lock);
    }
    pthread_mutex_unlock(&webhook->lock);
    return NULL;
}

static void webhook_free(struct alert_webhook *webhook)
{
    struct event *event = webhook->head;
    while (event) {
        struct event *next = event->next;
        free(event->json);
        free(event);
        event = next;
    }
    pthread_cond_destroy(&webhook->cond);
    pthread_mutex_destroy(&webhook->lock);
    free(webhook->url);
    free(webhook);
}

int alert_webhook_start(const struct alert_webhook_options *opts, struct alert_webhook **ret,
                        struct iq_error *err)
{
    *ret = NULL;
    if (!opts->url ||
        (strncmp(opts->url, "http://", 7) != 0 && strncmp(opts->url, "https://", 8) != 0))
        return iq_error_set(err, IQ_E_INVALID, "alert-webhook must be an http:// or https:// URL");
    struct alert_webhook *webhook = calloc(1, sizeof(*webhook));
    if (!webhook || !(webhook->url = strdup(opts->url))) {
        free(webhook);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    webhook->retries = opts->retries == 0 ? ALERT_WEBHOOK_RETRIES_DEFAULT
                                          : (opts->retries < 0 ? 0 : opts->retries);
    webhook->backoff_ms =
        opts->backoff_ms > 0 ? opts->backoff_ms : ALERT_WEBHOOK_BACKOFF_MS_DEFAULT;
    webhook->timeout_ms =
        opts->timeout_ms > 0 ? opts->timeout_ms : ALERT_WEBHOOK_TIMEOUT_MS_DEFAULT;
    webhook->queue_max = opts->queue_max ? opts->queue_max : ALERT_WEBHOOK_QUEUE_MAX_DEFAULT;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&webhook->lock, NULL);
    pthread_cond_init(&webhook->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&webhook->thread, NULL, webhook_main, webhook) != 0) {
        webhook_free(webhook);
        return iq_error_set(err, IQ_E_INTERNAL, "cannot start the alert webhook thread");
    }
    *ret = webhook;
    return 0;
}

bool alert_webhook_send(struct alert_webhook *webhook, const char *json_text)
{
    struct event *event = calloc(1, sizeof(*event));
    char *copy = strdup(json_text);
    pthread_mutex_lock(&webhook->lock);
    bool queued = event && copy && webhook->queued < webhook->queue_max;
    if (queued) {
        event->json = copy;
        if (webhook->tail)
            webhook->tail->next = event;
        else
            webhook->head = event;
        webhook->tail = event;
        webhook->queued++;
        pthread_cond_signal(&webhook->cond);
    } else
        webhook->stats.dropped++;
    pthread_mutex_unlock(&webhook->lock);
    if (!queued) {
        free(copy);
        free(event);
    }
    return queued;
}

struct alert_webhook_stats alert_webhook_get_stats(struct alert_webhook *webhook)
{
    pthread_mutex_lock(&webhook->lock);
    struct alert_webhook_stats stats = webhook->stats;
    pthread_mutex_unlock(&webhook->lock);
    return stats;
}

void alert_webhook_stop(struct alert_webhook *webhook)
{
    if (!webhook)
        return;
    pthread_mutex_lock(&webhook->lock);
    webhook->quit = true;
    pthread_cond_broadcast(&webhook->cond);
    pthread_mutex_unlock(&webhook->lock);
    pthread_join(webhook->thread, NULL);
    webhook_free(webhook);
}
