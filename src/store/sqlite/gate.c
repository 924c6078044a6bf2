/*
 * sqlite/gate.c - the write gate: one FIFO queue per database file
 * that every connection of this process joins before BEGIN IMMEDIATE.
 *
 * Why: SQLite has one write lock per database file, and a connection that
 * finds it taken does not queue for it: its busy handler sleeps (1, 2, 5,
 * 10 ... up to 100 ms) and tries again, never told when the lock frees.
 * With eight workers, heartbeats and the API all writing, most of the
 * time went to those sleeps (measured: 363 one-row jobs/s with the lock
 * idle most of the time). The writers of one process therefore queue
 * here instead, in arrival order, each woken by the one before it as it
 * commits or rolls back; only one of them at a time asks SQLite for the
 * write lock, which is then free unless another process holds it (then
 * busy_timeout still applies, as before). Reads never enter the gate.
 *
 * The queue is a list of waiters, each with its own condition variable:
 * leaving hands the gate straight to the first waiter (no barging), and a
 * waiter whose time runs out (busy_timeout, the same bound SQLite would
 * have applied) takes itself off the list. Gates are found by the file's
 * device and inode, so two paths to one file share a gate; ":memory:" and
 * temporary databases get none (nothing else can write to them).
 *
 * Locking: registry_lock guards the registry and each gate's reference
 * count; gate->lock guards the gate's owner flag and waiter list. A
 * thread holds the gate from sqlite_gate_enter until sqlite_gate_leave;
 * it never enters a second time (sqlite_tx_begin is not nested), and a
 * thread holding the gate never waits for another gate.
 */
#include "store/sqlite/internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

struct gate_waiter {
    pthread_cond_t cond;
    bool granted;                 /* the gate was handed to this waiter */
    struct gate_waiter *next;
};

struct sqlite_gate {
    dev_t dev;
    ino_t ino;
    int refs;                     /* connections using it (registry_lock) */
    pthread_mutex_t lock;
    bool held;
    struct gate_waiter *head;     /* first in line */
    struct gate_waiter *tail;
    int checkpointed;             /* WAL pages at the last checkpoint handed out (lock) */
    struct sqlite_gate *next;     /* registry list (registry_lock) */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sqlite_gate *registry;

int sqlite_gate_attach(struct sqlite_store *s, struct iq_error *err)
{
    s->gate = NULL;
    const char *file = sqlite3_db_filename(s->db, "main");
    struct stat st;
    if (!file || !*file || stat(file, &st) < 0)
        return 0; /* in memory or temporary: no other connection writes it */
    pthread_mutex_lock(&registry_lock);
    struct sqlite_gate *gate = registry;
    while (gate && !(gate->dev == st.st_dev && gate->ino == st.st_ino))
        gate = gate->next;
    if (!gate) {
        gate = calloc(1, sizeof(*gate));
        if (!gate || pthread_mutex_init(&gate->lock, NULL) != 0) {
            free(gate);
            pthread_mutex_unlock(&registry_lock);
            return nomem(err);
        }
        gate->dev = st.st_dev;
        gate->ino = st.st_ino;
        gate->next = registry;
        registry = gate;
    }
    gate->refs++;
    pthread_mutex_unlock(&registry_lock);
    s->gate = gate;
    return 0;
}

void sqlite_gate_detach(struct sqlite_store *s)
{
    struct sqlite_gate *gate = s->gate;
    if (!gate)
        return;
    sqlite_gate_leave(s);
    s->gate = NULL;
    pthread_mutex_lock(&registry_lock);
    if (--gate->refs == 0) {
        struct sqlite_gate **link = &registry;
        while (*link != gate)
            link = &(*link)->next;
        *link = gate->next;
        pthread_mutex_destroy(&gate->lock);
        free(gate);
    }
    pthread_mutex_unlock(&registry_lock);
}

/* unlink_waiter - take w off the gate's list (under gate->lock). */
static void unlink_waiter(struct sqlite_gate *gate, struct gate_waiter *w)
{
    struct gate_waiter *prev = NULL;
    for (struct gate_waiter *it = gate->head; it; prev = it, it = it->next) {
        if (it != w)
            continue;
        if (prev)
            prev->next = w->next;
        else
            gate->head = w->next;
        if (gate->tail == w)
            gate->tail = prev;
        return;
    }
}

int sqlite_gate_enter(struct sqlite_store *s, int64_t timeout_ms, struct iq_error *err)
{
    struct sqlite_gate *gate = s->gate;
    if (!gate || s->gate_held)
        return 0;
    pthread_mutex_lock(&gate->lock);
    if (!gate->held) {
        gate->held = true;
        pthread_mutex_unlock(&gate->lock);
        s->gate_held = true;
        return 0;
    }
    struct gate_waiter w = {.granted = false};
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int init_rc = pthread_cond_init(&w.cond, &attr);
    pthread_condattr_destroy(&attr);
    if (init_rc != 0) {
        pthread_mutex_unlock(&gate->lock);
        return nomem(err);
    }
    if (gate->tail)
        gate->tail->next = &w;
    else
        gate->head = &w;
    gate->tail = &w;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(timeout_ms / 1000);
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    while (!w.granted) {
        if (pthread_cond_timedwait(&w.cond, &gate->lock, &deadline) == ETIMEDOUT && !w.granted) {
            unlink_waiter(gate, &w);
            break;
        }
    }
    pthread_mutex_unlock(&gate->lock);
    pthread_cond_destroy(&w.cond);
    if (!w.granted)
        return iq_error_set(err, IQ_E_DB,
                            "begin write transaction: database is locked (waited %lld ms for"
                            " this process's other writers)",
                            (long long)timeout_ms);
    s->gate_held = true;
    return 0;
}

void sqlite_gate_leave(struct sqlite_store *s)
{
    struct sqlite_gate *gate = s->gate;
    if (!gate || !s->gate_held)
        return;
    s->gate_held = false;
    pthread_mutex_lock(&gate->lock);
    struct gate_waiter *next = gate->head;
    if (next) { /* hand over: the gate stays held, by the next in line */
        gate->head = next->next;
        if (!gate->head)
            gate->tail = NULL;
        next->granted = true;
        pthread_cond_signal(&next->cond);
    } else {
        gate->held = false;
    }
    pthread_mutex_unlock(&gate->lock);
}

bool sqlite_gate_checkpoint_due(struct sqlite_store *s, int wal_pages, int step)
{
    struct sqlite_gate *gate = s->gate;
    if (!gate)
        return wal_pages >= step;
    pthread_mutex_lock(&gate->lock);
    if (wal_pages < gate->checkpointed)
        gate->checkpointed = 0; /* the WAL started over */
    bool due = wal_pages - gate->checkpointed >= step;
    if (due)
        gate->checkpointed = wal_pages;
    pthread_mutex_unlock(&gate->lock);
    return due;
}
