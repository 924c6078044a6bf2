/*
 * test_alert_webhook.c - the alert webhook (src/engine/alert_webhook.c)
 * against a real local HTTP listener (a thread on 127.0.0.1 that answers
 * the statuses a test scripts): a failed POST is retried until the
 * endpoint accepts it, the same body each time, as JSON; after its
 * retries an event is given up; while the endpoint hangs the bounded
 * queue drops what does not fit instead of blocking the sender; a URL
 * that is not http(s) is refused. Waits poll the counters up to a bound
 * on a hang, never a timed assertion.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/timeutil.h"
#include "engine/alert_webhook.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HANG_BOUND_MS 30000
#define MAX_SEEN 16

/* The listener: answers statuses[i] to the i-th request (200 past the end). */
struct listener {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    const int *statuses;
    int status_count;
    bool hold;    /* keep the next request unanswered until released */
    bool holding; /* a request is being held */
    int seen;
    char bodies[MAX_SEEN][256];
    char content_types[MAX_SEEN][64];
};

/* read_request - headers and body of one request into the listener's records. */
static void read_request(struct listener *l, int conn)
{
    char buf[4096];
    size_t used = 0;
    char *end = NULL;
    while (!end && used < sizeof(buf) - 1) {
        ssize_t n = read(conn, buf + used, sizeof(buf) - 1 - used);
        if (n <= 0)
            return;
        used += (size_t)n;
        buf[used] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        return;
    const char *length = strcasestr(buf, "Content-Length:");
    size_t want = length ? (size_t)strtoul(length + 15, NULL, 10) : 0;
    size_t have = used - (size_t)(end + 4 - buf);
    while (have < want && used < sizeof(buf) - 1) {
        ssize_t n = read(conn, buf + used, sizeof(buf) - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        have += (size_t)n;
        buf[used] = '\0';
    }
    const char *ctype = strcasestr(buf, "Content-Type:");
    pthread_mutex_lock(&l->lock);
    if (l->seen < MAX_SEEN) {
        snprintf(l->bodies[l->seen], sizeof(l->bodies[0]), "%.*s", (int)want, end + 4);
        if (ctype)
            sscanf(ctype + 13, " %63[^\r]", l->content_types[l->seen]);
    }
    pthread_mutex_unlock(&l->lock);
}

static void *listener_main(void *arg)
{
    struct listener *l = arg;
    for (;;) {
        int conn = accept(l->fd, NULL, NULL);
        if (conn < 0)
            return NULL;
        read_request(l, conn);
        pthread_mutex_lock(&l->lock);
        int index = l->seen++;
        if (l->hold) {
            l->holding = true;
            pthread_cond_broadcast(&l->cond);
            while (l->hold)
                pthread_cond_wait(&l->cond, &l->lock);
            l->holding = false;
        }
        int status = index < l->status_count ? l->statuses[index] : 200;
        pthread_mutex_unlock(&l->lock);
        char answer[128];
        int n = snprintf(answer, sizeof(answer),
                         "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
        if (write(conn, answer, (size_t)n) < 0)
            perror("listener write");
        close(conn);
    }
}

static void listener_start(struct listener *l, const int *statuses, int count)
{
    memset(l, 0, sizeof(*l));
    l->statuses = statuses;
    l->status_count = count;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    l->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(l->fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(l->fd, 16), 0);
    socklen_t len = sizeof(addr);
    getsockname(l->fd, (struct sockaddr *)&addr, &len);
    l->port = ntohs(addr.sin_port);
    assert_int_equal(pthread_create(&l->thread, NULL, listener_main, l), 0);
}

static void listener_stop(struct listener *l)
{
    pthread_mutex_lock(&l->lock);
    l->hold = false;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    shutdown(l->fd, SHUT_RDWR);
    close(l->fd);
    pthread_join(l->thread, NULL);
}

static struct alert_webhook *start(struct listener *l, int retries, size_t queue_max)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", l->port);
    struct alert_webhook_options opts = {.url = url,
                                         .retries = retries,
                                         .backoff_ms = 10,
                                         .timeout_ms = HANG_BOUND_MS,
                                         .queue_max = queue_max};
    struct alert_webhook *webhook = NULL;
    struct iq_error err = {0};
    if (alert_webhook_start(&opts, &webhook, &err) < 0)
        fail_msg("alert_webhook_start: %s", iq_error_message(&err));
    return webhook;
}

/* until_done - wait (bounded) until delivered + failed reaches events. */
static struct alert_webhook_stats until_done(struct alert_webhook *webhook, uint64_t events)
{
    int64_t end = time_monotonic_ms() + HANG_BOUND_MS;
    struct alert_webhook_stats stats = alert_webhook_get_stats(webhook);
    while (stats.delivered + stats.failed < events && time_monotonic_ms() < end) {
        usleep(2000);
        stats = alert_webhook_get_stats(webhook);
    }
    return stats;
}

static void test_retried_until_accepted(void **state)
{
    (void)state;
    static const int statuses[] = {500, 503};
    struct listener l;
    listener_start(&l, statuses, 2);
    struct alert_webhook *webhook = start(&l, 5, 0);
    assert_true(alert_webhook_send(webhook, "{\"event\": \"opened\"}"));
    struct alert_webhook_stats stats = until_done(webhook, 1);
    assert_int_equal(stats.delivered, 1);
    assert_int_equal(stats.failed, 0);
    assert_int_equal(stats.attempts, 3);
    alert_webhook_stop(webhook);
    listener_stop(&l);
    assert_int_equal(l.seen, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(l.bodies[i], "{\"event\": \"opened\"}");
        assert_string_equal(l.content_types[i], "application/json");
    }
}

static void test_given_up_after_retries(void **state)
{
    (void)state;
    static const int statuses[] = {500, 500, 500};
    struct listener l;
    listener_start(&l, statuses, 3);
    struct alert_webhook *webhook = start(&l, 2, 0);
    assert_true(alert_webhook_send(webhook, "{\"n\": 1}"));
    assert_true(alert_webhook_send(webhook, "{\"n\": 2}")); /* the fourth request: 200 */
    struct alert_webhook_stats stats = until_done(webhook, 2);
    assert_int_equal(stats.failed, 1);
    assert_int_equal(stats.delivered, 1);
    assert_int_equal(stats.attempts, 4);
    alert_webhook_stop(webhook);
    listener_stop(&l);
    assert_string_equal(l.bodies[2], "{\"n\": 1}");
    assert_string_equal(l.bodies[3], "{\"n\": 2}");
}

static void test_bounded_queue_drops_while_the_endpoint_hangs(void **state)
{
    (void)state;
    struct listener l;
    listener_start(&l, NULL, 0);
    l.hold = true;
    struct alert_webhook *webhook = start(&l, 0, 1);
    assert_true(alert_webhook_send(webhook, "{\"n\": 1}"));
    pthread_mutex_lock(&l.lock);
    while (!l.holding) /* the first POST is under way and hangs */
        pthread_cond_wait(&l.cond, &l.lock);
    pthread_mutex_unlock(&l.lock);
    assert_true(alert_webhook_send(webhook, "{\"n\": 2}"));  /* queued */
    assert_false(alert_webhook_send(webhook, "{\"n\": 3}")); /* full: dropped at once */
    assert_int_equal(alert_webhook_get_stats(webhook).dropped, 1);
    pthread_mutex_lock(&l.lock);
    l.hold = false;
    pthread_cond_broadcast(&l.cond);
    pthread_mutex_unlock(&l.lock);
    struct alert_webhook_stats stats = until_done(webhook, 2);
    assert_int_equal(stats.delivered, 2);
    alert_webhook_stop(webhook);
    listener_stop(&l);
}

static void test_refuses_other_urls(void **state)
{
    (void)state;
    struct alert_webhook *webhook = NULL;
    struct iq_error err = {0};
    struct alert_webhook_options opts = {.url = "file:///etc/passwd"};
    assert_int_equal(alert_webhook_start(&opts, &webhook, &err), IQ_E_INVALID);
    assert_null(webhook);
    opts.url = NULL;
    assert_int_equal(alert_webhook_start(&opts, &webhook, &err), IQ_E_INVALID);
    iq_error_clear(&err);
    alert_webhook_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retried_until_accepted),
        cmocka_unit_test(test_given_up_after_retries),
        cmocka_unit_test(test_bounded_queue_drops_while_the_endpoint_hangs),
        cmocka_unit_test(test_refuses_other_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
