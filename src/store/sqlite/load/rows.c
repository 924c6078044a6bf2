/*
 * sqlite/load/rows.c - load_rows on SQLite: a staging thread that
 * writes the rows into the staging database while the pipeline reads and
 * converts the next ones. PostgreSQL gets this overlap for free (the
 * server ingests COPY on the other core); SQLite runs inside this process,
 * so without the thread parsing and staging would take turns on one core.
 * How rows are bound and inserted is sqlite/load/insert.c; this file
 * only moves batches between the two threads.
 *
 * The first batch is not staged at all at first: it is copied into the
 * load's held slot. A load whose rows all came in that one batch (most
 * small files) and whose plan is direct is then promoted straight from
 * memory into its table (sqlite/load/promote.c), with no staging table
 * made, written or dropped: those statements cost a one-row job a fifth
 * of its CPU (measured: 1.44 ms a job before, 1.11 after, BENCHMARKS.md).
 * The promote then holds the write lock about as long as the staged
 * INSERT ... SELECT of the same rows would. A second batch, or any step that reads the staging tables
 * (load_check, a dry run, a staged promote), stages the held batch first.
 *
 * From the second batch on, each load_rows call copies its rows (values
 * and lines) into one of two slots and returns; the thread stages the
 * slots in order. A caller that
 * finds both slots full waits for one, so at most two batches are held
 * (memory stays bounded whatever the file's size). A failure of the
 * thread is returned by the next load_rows call, or by the drain.
 *
 * Locking: the connection belongs to the thread from the second load_rows
 * (the held first batch is staged by the caller, before the thread exists)
 * until sqlite_load_stage_drain (load_check, load_promote) or
 * sqlite_load_stage_discard (load_abort) has joined it; in between the
 * caller thread touches nothing of the connection and only the slots and
 * counters below, under stager->mutex. sqlite_interrupt still works from
 * any thread: the thread's statement fails with SQLITE_INTERRUPT and the
 * load fails with IQ_E_CANCELLED. When the thread cannot be started the
 * rows are staged by the caller, as they would be without it.
 */
#include "store/sqlite/internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STAGE_SLOTS 2

/* One batch copied off the caller's buffers (which it reuses at once). */
struct stage_slot {
    int part;
    size_t row_count;
    bool has_lines;
    const char **values; /* row-major, into arena; NULL = SQL NULL */
    size_t values_capacity;
    int64_t *lines;
    size_t lines_capacity;
    char *arena; /* the values' text, each NUL-terminated */
    size_t arena_capacity;
};

struct sqlite_stager {
    struct sqlite_load *load;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t changed; /* a slot was filled or freed, or stop was set */
    struct stage_slot slots[STAGE_SLOTS];
    size_t next;         /* the slot the thread stages next */
    size_t filled;       /* slots waiting or being staged, from next on */
    bool stop;           /* no more batches: stage what is filled, then end */
    bool discard;        /* abort: drop what is filled, then end */
    int rc;              /* the thread's first failure, 0 while none */
    struct iq_error err; /* its detail */
};

/* slot_clear - free a slot's buffers (NULL-safe fields). */
static void slot_clear(struct stage_slot *slot)
{
    free(slot->values);
    free(slot->lines);
    free(slot->arena);
    memset(slot, 0, sizeof(*slot));
}

/* grow - make *buffer hold at least needed elements of size bytes (capacity doubles). */
static int grow(void **buffer, size_t *capacity, size_t needed, size_t size)
{
    if (needed <= *capacity)
        return 0;
    size_t wanted = *capacity ? *capacity : 64;
    while (wanted < needed)
        wanted *= 2;
    void *grown = realloc(*buffer, wanted * size);
    if (!grown)
        return IQ_E_NOMEM;
    *buffer = grown;
    *capacity = wanted;
    return 0;
}

/* slot_fill - copy row_count rows of column_count values (and their lines) into slot. */
static int slot_fill(struct stage_slot *slot, int part, size_t column_count,
                     const char *const *values, const int64_t *lines, size_t row_count)
{
    size_t cells = row_count * column_count;
    size_t bytes = 0;
    for (size_t i = 0; i < cells; i++)
        bytes += values[i] ? strlen(values[i]) + 1 : 0;
    if (grow((void **)&slot->values, &slot->values_capacity, cells, sizeof(*slot->values)) < 0 ||
        grow((void **)&slot->lines, &slot->lines_capacity, row_count, sizeof(*slot->lines)) < 0 ||
        grow((void **)&slot->arena, &slot->arena_capacity, bytes, 1) < 0)
        return IQ_E_NOMEM;
    char *at = slot->arena;
    for (size_t i = 0; i < cells; i++) {
        if (!values[i]) {
            slot->values[i] = NULL;
            continue;
        }
        size_t length = strlen(values[i]) + 1;
        memcpy(at, values[i], length);
        slot->values[i] = at;
        at += length;
    }
    if (lines)
        memcpy(slot->lines, lines, row_count * sizeof(*lines));
    slot->has_lines = lines != NULL;
    slot->part = part;
    slot->row_count = row_count;
    return 0;
}

/* stage_slot - stage one slot's rows (thread side, mutex not held). */
static int stage_slot(struct sqlite_stager *stager, const struct stage_slot *slot,
                      struct iq_error *err)
{
    struct sqlite_load *load = stager->load;
    return sqlite_load_stage_rows(load, &load->parts[slot->part], slot->values,
                                  slot->has_lines ? slot->lines : NULL, slot->row_count, err);
}

/*
 * stager_main - the thread: stage filled slots in order until stop (or
 * discard) with nothing left. After a failure the remaining batches are
 * dropped: the load has failed.
 */
static void *stager_main(void *arg)
{
    struct sqlite_stager *stager = arg;
    pthread_mutex_lock(&stager->mutex);
    for (;;) {
        while (stager->filled == 0 && !stager->stop && !stager->discard)
            pthread_cond_wait(&stager->changed, &stager->mutex);
        if (stager->discard || stager->filled == 0)
            break;
        struct stage_slot *slot = &stager->slots[stager->next];
        bool failed = stager->rc < 0;
        pthread_mutex_unlock(&stager->mutex);
        struct iq_error err = {0};
        int rc = failed ? 0 : stage_slot(stager, slot, &err);
        pthread_mutex_lock(&stager->mutex);
        if (rc < 0) {
            stager->rc = rc;
            stager->err = err; /* moved: err's message is the stager's now */
        }
        stager->next = (stager->next + 1) % STAGE_SLOTS;
        stager->filled--;
        pthread_cond_broadcast(&stager->changed);
    }
    pthread_mutex_unlock(&stager->mutex);
    return NULL;
}

/* stager_free - free a stager whose thread has ended or never started (NULL-safe). */
static void stager_free(struct sqlite_stager *stager)
{
    if (!stager)
        return;
    for (size_t i = 0; i < STAGE_SLOTS; i++)
        slot_clear(&stager->slots[i]);
    iq_error_clear(&stager->err);
    pthread_cond_destroy(&stager->changed);
    pthread_mutex_destroy(&stager->mutex);
    free(stager);
}

/*
 * stager_start - load->stager with its thread running. Returns 0, or
 * negative when the thread cannot be had (the caller then stages itself).
 */
static int stager_start(struct sqlite_load *load)
{
    struct sqlite_stager *stager = calloc(1, sizeof(*stager));
    if (!stager)
        return IQ_E_NOMEM;
    stager->load = load;
    if (pthread_mutex_init(&stager->mutex, NULL) != 0) {
        free(stager);
        return IQ_E_NOMEM;
    }
    if (pthread_cond_init(&stager->changed, NULL) != 0) {
        pthread_mutex_destroy(&stager->mutex);
        free(stager);
        return IQ_E_NOMEM;
    }
    if (pthread_create(&stager->thread, NULL, stager_main, stager) != 0) {
        stager_free(stager);
        return IQ_E_NOMEM;
    }
    load->stager = stager;
    return 0;
}

/* take_failure - the thread's failure into err (mutex held); returns its code. */
static int take_failure(struct sqlite_stager *stager, struct iq_error *err)
{
    return iq_error_set(err, stager->rc, "%s", iq_error_message(&stager->err));
}

/*
 * stager_hand_over - queue rows for the thread (waiting while both slots
 * are full). Returns 0, or the thread's failure (of an earlier batch).
 */
static int stager_hand_over(struct sqlite_stager *stager, int part, size_t column_count,
                            const char *const *values, const int64_t *lines, size_t row_count,
                            struct iq_error *err)
{
    pthread_mutex_lock(&stager->mutex);
    while (stager->filled == STAGE_SLOTS && stager->rc == 0)
        pthread_cond_wait(&stager->changed, &stager->mutex);
    if (stager->rc < 0) {
        int rc = take_failure(stager, err);
        pthread_mutex_unlock(&stager->mutex);
        return rc;
    }
    /* The free slot is outside [next, next + filled): the thread leaves it alone. */
    struct stage_slot *slot = &stager->slots[(stager->next + stager->filled) % STAGE_SLOTS];
    pthread_mutex_unlock(&stager->mutex);
    if (slot_fill(slot, part, column_count, values, lines, row_count) < 0)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    pthread_mutex_lock(&stager->mutex);
    stager->filled++;
    pthread_cond_broadcast(&stager->changed);
    pthread_mutex_unlock(&stager->mutex);
    return 0;
}

/*
 * stager_end - let the thread finish (discard: drop what is queued), join
 * it and free the stager; load->stager is NULL afterwards. Returns 0 or
 * the thread's failure.
 */
static int stager_end(struct sqlite_load *load, bool discard, struct iq_error *err)
{
    struct sqlite_stager *stager = load->stager;
    if (!stager)
        return 0;
    pthread_mutex_lock(&stager->mutex);
    stager->stop = true;
    stager->discard = discard;
    pthread_cond_broadcast(&stager->changed);
    pthread_mutex_unlock(&stager->mutex);
    pthread_join(stager->thread, NULL);
    int rc = stager->rc < 0 ? take_failure(stager, err) : 0;
    stager_free(stager);
    load->stager = NULL;
    return rc;
}

/*
 * hold - keep the first batch in memory (load->held) instead of staging
 * it (see the top of this file).
 */
static int hold(struct sqlite_load *load, int part, size_t column_count, const char *const *values,
                const int64_t *lines, size_t row_count, struct iq_error *err)
{
    load->held = calloc(1, sizeof(*load->held));
    if (!load->held || slot_fill(load->held, part, column_count, values, lines, row_count) < 0)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    return 0;
}

/* free_held - drop the held batch (NULL-safe). */
static void free_held(struct sqlite_load *load)
{
    if (!load->held)
        return;
    slot_clear(load->held);
    free(load->held);
    load->held = NULL;
}

/*
 * stage_held - the held batch into its staging table, by the caller (no
 * thread runs yet), creating the load's staging tables; a no-op without
 * one.
 */
static int stage_held(struct sqlite_load *load, struct iq_error *err)
{
    if (!load->held)
        return 0;
    const struct stage_slot *slot = load->held;
    int rc = sqlite_load_staging_ready(load, err);
    if (rc == 0)
        rc = sqlite_load_stage_rows(load, &load->parts[slot->part], slot->values,
                                    slot->has_lines ? slot->lines : NULL, slot->row_count, err);
    free_held(load);
    return rc;
}

/* sqlite_load_held_rows - see sqlite/internal.h. */
size_t sqlite_load_held_rows(const struct sqlite_load *load, const char *const **ret_values,
                             const int64_t **ret_lines)
{
    const struct stage_slot *slot = load->held;
    *ret_values = slot ? slot->values : NULL;
    *ret_lines = slot && slot->has_lines ? slot->lines : NULL;
    return slot ? slot->row_count : 0;
}

/* sqlite_load_stage_drain - see sqlite/internal.h. */
int sqlite_load_stage_drain(struct sqlite_load *load, struct iq_error *err)
{
    int rc = stager_end(load, false, err);
    if (rc == 0)
        rc = stage_held(load, err);
    if (rc == 0) /* a load without rows still reads its (empty) staging tables */
        rc = sqlite_load_staging_ready(load, err);
    if (rc < 0)
        load->failed = true;
    return rc;
}

/* sqlite_load_stage_discard - see sqlite/internal.h. */
void sqlite_load_stage_discard(struct sqlite_load *load)
{
    (void)stager_end(load, true, NULL); /* the load is being thrown away */
    free_held(load);
}

/*
 * sqlite_load_rows - see load_ops.rows. Holds the first batch (see the
 * top of this file); the second stages it, then hands its own rows to
 * the staging thread (started then) and returns once they are copied; a
 * failure to stage them shows in a later call or at load_check or
 * load_promote. Rows after load_check or load_promote are an error.
 */
int sqlite_load_rows(struct load *base, int part_index, const char *const *values,
                     const int64_t *lines, size_t row_count, struct iq_error *err)
{
    struct sqlite_load *load = to_sqlite_load(base);
    if (part_index < 0 || (size_t)part_index >= load->part_count)
        return iq_error_set(err, IQ_E_INTERNAL, "load has no part %d", part_index);
    int rc = sqlite_load_usable(load, err);
    if (rc < 0)
        return rc;
    if (load->write_tx)
        return iq_error_set(err, IQ_E_INTERNAL, "rows arrive after load_check");
    if (row_count == 0)
        return 0;
    struct sqlite_load_part *part = &load->parts[part_index];
    if (load->batches_staged++ == 0) {
        rc = hold(load, part_index, part->spec->column_count, values, lines, row_count, err);
        load->failed = rc < 0;
        return rc;
    }
    rc = stage_held(load, err); /* the first batch, at the second */
    /* The thread takes over from here (a thread per load cost a small job
     * more than its staging, hence not sooner). */
    if (rc == 0 && !load->stager && !load->stager_unavailable && stager_start(load) < 0)
        load->stager_unavailable = true; /* no thread: stage here instead */
    if (rc == 0 && load->stager)
        rc = stager_hand_over(load->stager, part_index, part->spec->column_count, values, lines,
                              row_count, err);
    else if (rc == 0)
        rc = sqlite_load_stage_rows(load, part, values, lines, row_count, err);
    load->failed = rc < 0;
    return rc;
}
