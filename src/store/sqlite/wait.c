/*
 * sqlite/wait.c - wait_for_work on SQLite: an idle service notices another
 * process's commit by watching the database's data_version (the engine
 * wakes its own workers in-process). PostgreSQL's twin is LISTEN/NOTIFY
 * (postgres/wait.c).
 */
#include "store/sqlite/internal.h"

#include "core/timeutil.h"

#include <time.h>

/* How often wait_for_work looks at the database's data_version. */
#define WATCH_EVERY_MS 10

/*
 * sqlite_wait_for_work - see store_ops.wait_for_work. SQLite has no
 * notifications between connections, so this looks every WATCH_EVERY_MS
 * at main's data_version, which moves when any other connection commits
 * a change: then it reports a wake-up. So another process's submission
 * wakes an idle service within about 10 ms. The service's own commits
 * move it too; the wake-ups they cause (at most one a look) only make an
 * idle worker look for work, and busy workers look after each job
 * anyway. The first call only takes its bearings.
 */
int sqlite_wait_for_work(struct store *base, int timeout_ms, bool *ret_woken, struct iq_error *err)
{
    struct sqlite_store *s = to_sqlite(base);
    *ret_woken = false;
    int64_t deadline = time_monotonic_ms() + timeout_ms;
    for (;;) {
        int64_t version = 0;
        int rc = sqlite_read_cached_int64(s, STMT_DATA_VERSION, "read the data version",
                                          &version, err);
        if (rc < 0)
            return rc;
        *ret_woken = s->watching && version != s->seen_data_version;
        s->watching = true;
        s->seen_data_version = version;
        int64_t left = deadline - time_monotonic_ms();
        if (*ret_woken || left <= 0)
            return 0;
        struct timespec pause = {0, (left < WATCH_EVERY_MS ? left : WATCH_EVERY_MS) * 1000000L};
        nanosleep(&pause, NULL);
    }
}
