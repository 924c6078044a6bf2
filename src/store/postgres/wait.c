/*
 * postgres/wait.c - wake-ups on PostgreSQL: NOTIFY importq when work may
 * have appeared (a job created or executed, an attempt finished, a lock
 * released), and wait_for_work, which LISTENs on the channel and sleeps
 * on the connection's socket until a notification or the timeout.
 *
 * A notification only says "look again"; it carries no job and may be
 * lost or coalesced (PostgreSQL folds equal payloads of one transaction),
 * so the engine still polls at its own pace. This file holds no policy.
 */
#include "store/postgres/internal.h"

#include "core/timeutil.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

/*
 * pg_notify_work - NOTIFY importq with payload reason, inside the
 * caller's transaction when one is open (then delivered at COMMIT, and
 * not at all after a ROLLBACK). Returns 0 or IQ_E_DB.
 */
int pg_notify_work(struct pg_store *ps, const char *reason, struct iq_error *err)
{
    const char *values[1] = {reason};
    return pg_exec(ps, "waking workers", "SELECT pg_notify('" PG_NOTIFY_CHANNEL "', $1)", 1, values,
                   NULL, err);
}

/* drain_notifications - free every notification libpq has read; true when there was one. */
static bool drain_notifications(struct pg_store *ps)
{
    bool any = false;
    PGnotify *notify;
    while ((notify = PQnotifies(ps->conn)) != NULL) {
        any = true;
        PQfreemem(notify);
    }
    return any;
}

/*
 * ensure_listening - LISTEN importq once per session. pg_exec reconnects a
 * dead connection first (no transaction is open here), and a reconnect
 * clears ps->listening, so the flag is set only for the live session.
 */
static int ensure_listening(struct pg_store *ps, struct iq_error *err)
{
    if (PQstatus(ps->conn) != CONNECTION_OK)
        ps->listening = false;
    if (ps->listening)
        return 0;
    int rc = pg_exec(ps, "listening for wake-ups", "LISTEN " PG_NOTIFY_CHANNEL, 0, NULL, NULL, err);
    if (rc == 0)
        ps->listening = true;
    return rc;
}

/*
 * wait_readable - poll the socket until it is readable or timeout_ms has
 * passed (restarting after EINTR with the time left). Returns 1 when
 * readable, 0 on timeout, IQ_E_IO on a poll failure.
 */
static int wait_readable(int socket, int timeout_ms, struct iq_error *err)
{
    int64_t deadline = time_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        int64_t left = deadline - time_monotonic_ms();
        struct pollfd pfd = {.fd = socket, .events = POLLIN};
        int n = poll(&pfd, 1, left > 0 ? (int)left : 0);
        if (n > 0)
            return 1;
        if (n == 0)
            return 0;
        if (errno != EINTR)
            return iq_error_set(err, IQ_E_IO, "waiting for wake-ups: %s", strerror(errno));
    }
}

/*
 * pg_wait_for_work - see store_ops.wait_for_work. LISTENs once per session,
 * returns at once when a notification is already buffered (one may have
 * arrived with the result of an earlier statement), else waits on the
 * socket up to timeout_ms (<= 0: only looks). *ret_woken is true when a
 * notification came. IQ_E_DB when the connection is lost (the next call
 * reconnects and LISTENs again); IQ_E_INTERNAL inside a transaction.
 */
int pg_wait_for_work(struct store *s, int timeout_ms, bool *ret_woken, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    *ret_woken = false;
    if (ps->in_transaction)
        return iq_error_set(err, IQ_E_INTERNAL, "wait_for_work inside a transaction");
    int rc = ensure_listening(ps, err);
    if (rc < 0)
        return rc;
    if (!PQconsumeInput(ps->conn))
        return pg_set_db_error(ps, NULL, "reading wake-ups", err);
    if (drain_notifications(ps)) {
        *ret_woken = true;
        return 0;
    }
    int socket = PQsocket(ps->conn);
    if (socket < 0)
        return iq_error_set(err, IQ_E_DB, "waiting for wake-ups: the connection is closed");
    rc = wait_readable(socket, timeout_ms, err);
    if (rc <= 0)
        return rc;
    if (!PQconsumeInput(ps->conn))
        return pg_set_db_error(ps, NULL, "reading wake-ups", err);
    *ret_woken = drain_notifications(ps);
    return 0;
}
