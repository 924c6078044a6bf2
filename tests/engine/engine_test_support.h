/*
 * engine_test_support.h - what the engine suites share (header-only, as
 * each tests/engine/test_*.c is its own program): a temporary import root
 * with real source files, engines started on the fixture's database with
 * test-sized timings, jobs created through the store, waiting for a job's
 * status, and FIFO sources that stream rows for as long as a test wants
 * (a job that "runs until cancelled" without depending on machine speed).
 *
 * Include after <cmocka.h> and "support/store_fixture.h".
 */
#ifndef IMPORTQ_TESTS_ENGINE_TEST_SUPPORT_H
#define IMPORTQ_TESTS_ENGINE_TEST_SUPPORT_H

#include "core/timeutil.h"
#include "engine/engine.h"
#include "support/store_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FIX(state) ((struct fixture *)*(state))
#define STATUS_BIT(s) (1u << (s))
#define FINAL_STATUSES (STATUS_BIT(JOB_COMPLETED) | STATUS_BIT(JOB_FAILED) | STATUS_BIT(JOB_CANCELLED))

static inline void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline bool is_postgres(const struct fixture *f)
{
    return strcmp(f->backend, "postgres") == 0;
}

/* ---- the import root ---------------------------------------------------- */

struct import_root {
    char dir[64];
};

static inline void import_root_make(struct import_root *root)
{
    snprintf(root->dir, sizeof(root->dir), "/tmp/importq-engine-XXXXXX");
    assert_non_null(mkdtemp(root->dir));
}

static inline int remove_entry_cb(const char *path, const struct stat *st, int type,
                                  struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

static inline void import_root_remove(struct import_root *root)
{
    if (root->dir[0])
        nftw(root->dir, remove_entry_cb, 16, FTW_DEPTH | FTW_PHYS);
    root->dir[0] = '\0';
}

/* write_file - content into root/name (replacing it). */
static inline void write_file(const struct import_root *root, const char *name,
                              const char *content)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root->dir, name);
    unlink(path); /* it may have been a FIFO */
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    size_t length = strlen(content);
    assert_int_equal(fwrite(content, 1, length, f), length);
    fclose(f);
}

/* write_rows - a CSV "id,label" with ids first..first+count-1. */
static inline void write_rows(const struct import_root *root, const char *name, int first,
                              int count)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root->dir, name);
    unlink(path); /* it may have been a FIFO */
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fprintf(f, "id,label\n");
    for (int i = 0; i < count; i++)
        fprintf(f, "%d,row %d\n", first + i, first + i);
    fclose(f);
}

/* ---- FIFO sources ------------------------------------------------------- */

/*
 * A named pipe in the import root and a thread that writes "id,label"
 * rows into it for as long as a reader reads and stop is not set. Setting
 * stop ends the file cleanly (EOF after a whole row); a reader that goes
 * away (a cancelled import) ends the writer with EPIPE.
 */
struct fifo_source {
    char path[256];
    pthread_t thread;
    atomic_bool stop;
    atomic_llong rows;
    atomic_bool opened;
    long long max_rows;         /* 0: no end; else the file holds this many
                                   rows and stays open until finished */
    bool started;
};

static inline bool write_all(int fd, const char *data, size_t length, const atomic_bool *stop)
{
    while (length > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int ready = poll(&pfd, 1, 50);
        if (ready < 0 && errno != EINTR)
            return false;
        if (pfd.revents & (POLLERR | POLLHUP))
            return false;
        if (ready <= 0) {
            if (atomic_load(stop))
                return false;
            continue;
        }
        ssize_t n = write(fd, data, length);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0)
            return false;
        data += n;
        length -= (size_t)n;
    }
    return true;
}

/* One reader's stream: header, then rows until stop or the reader leaves.
 * Returns true when stop ended it (the file is complete). */
static inline bool fifo_stream(struct fifo_source *src, int fd)
{
    bool ok = write_all(fd, "id,label\n", 9, &src->stop);
    char chunk[8192];
    while (ok && !atomic_load(&src->stop)) {
        if (src->max_rows && atomic_load(&src->rows) >= src->max_rows) {
            sleep_ms(5); /* all written: the reader waits for the end */
            continue;
        }
        size_t used = 0;
        for (int i = 0; i < 100; i++) {
            long long id = atomic_fetch_add(&src->rows, 1) + 1;
            used += (size_t)snprintf(chunk + used, sizeof(chunk) - used, "%lld,streamed %lld\n",
                                     id, id);
        }
        ok = write_all(fd, chunk, used, &src->stop);
    }
    close(fd);
    return ok;
}

/* Serves readers one after another (a retried job opens the file again)
 * until stop. */
static inline void *fifo_writer_main(void *arg)
{
    struct fifo_source *src = arg;
    while (!atomic_load(&src->stop)) {
        int fd = open(src->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 && errno == ENXIO) {
            sleep_ms(2); /* no reader yet */
            continue;
        }
        if (fd < 0)
            break;
        atomic_store(&src->opened, true);
        if (fifo_stream(src, fd))
            break;
    }
    return NULL;
}

/*
 * fifo_source_start_capped - make root/name a FIFO and start streaming
 * into it: max_rows rows at most (0: no end), the file open until
 * fifo_source_finish. A cap keeps a job's size independent of how fast
 * the machine reads, so its duration is the test's schedule, not the load.
 */
static inline void fifo_source_start_capped(struct fifo_source *src,
                                            const struct import_root *root, const char *name,
                                            long long max_rows)
{
    memset(src, 0, sizeof(*src));
    src->max_rows = max_rows;
    snprintf(src->path, sizeof(src->path), "%s/%s", root->dir, name);
    unlink(src->path);
    assert_int_equal(mkfifo(src->path, 0600), 0);
    atomic_init(&src->stop, false);
    atomic_init(&src->rows, 0);
    atomic_init(&src->opened, false);
    assert_int_equal(pthread_create(&src->thread, NULL, fifo_writer_main, src), 0);
    src->started = true;
}

/* fifo_source_start - fifo_source_start_capped with no cap. */
static inline void fifo_source_start(struct fifo_source *src, const struct import_root *root,
                                     const char *name)
{
    fifo_source_start_capped(src, root, name, 0);
}

/* fifo_source_finish - end the file (or give up on a reader) and join. */
static inline void fifo_source_finish(struct fifo_source *src)
{
    if (!src->started)
        return;
    atomic_store(&src->stop, true);
    pthread_join(src->thread, NULL);
    src->started = false;
}

/* fifo_source_wait_rows - until at least rows were written (or fail). */
static inline void fifo_source_wait_rows(struct fifo_source *src, long long rows,
                                         int64_t timeout_ms)
{
    int64_t end = time_monotonic_ms() + timeout_ms;
    while (atomic_load(&src->rows) < rows) {
        if (time_monotonic_ms() > end)
            fail_msg("FIFO %s: only %lld rows written in %lld ms", src->path,
                     (long long)atomic_load(&src->rows), (long long)timeout_ms);
        sleep_ms(5);
    }
}

/* ---- engines ------------------------------------------------------------ */

/* Test-sized timings: short leases, quick polls, fast retries. */
static inline void test_engine_options(struct fixture *f, const struct import_root *root,
                                       struct engine_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->db_url = f->url;
    opts->workers = 2;
    opts->max_concurrent = 2;
    opts->lease_ms = 30000;
    opts->retry_base_ms = 100;
    opts->retry_cap_ms = 1000;
    opts->import_root = root->dir;
    opts->spool_dir = root->dir;
    opts->version = "test";
    opts->poll_ms = 1000;
    opts->cancel_check_ms = 200;
    opts->node_heartbeat_ms = 500;
}

static inline struct engine *start_engine(const struct engine_options *opts)
{
    struct engine *engine = NULL;
    struct iq_error err = {0};
    int rc = engine_start(opts, &engine, &err);
    if (rc < 0)
        fail_msg("engine_start: %s", iq_error_message(&err));
    return engine;
}

/* ---- jobs --------------------------------------------------------------- */

/* create_job - a job from spec JSON; its id into ret_id. */
static inline void create_job(struct fixture *f, const char *json, char ret_id[UUID_STR_LEN])
{
    struct job_spec *spec = spec_from_json(json);
    struct job_create_request req = {.spec = spec};
    struct job *job = NULL;
    bool existed = false;
    struct iq_error err = {0};
    int rc = store_job_create(f->store, &req, &test_actor, &job, &existed, &err);
    if (rc < 0)
        fail_msg("job_create: %s: %s", iq_error_message(&err), json);
    memcpy(ret_id, job->id, UUID_STR_LEN);
    job_free(job);
    job_spec_free(spec);
}

/* A job appending name (a CSV "id,label") to table; extra: more top-level
 * fields ("\"priority\": 3") or NULL; mode: "append", "upsert", ... */
static inline void create_csv_job(struct fixture *f, const char *table, const char *name,
                                  const char *mode, const char *extra, char ret_id[UUID_STR_LEN])
{
    char json[4096];
    snprintf(json, sizeof(json),
             "{\"name\": \"%s\", \"source\": {\"path\": \"%s\"},"
             " \"target\": {\"table\": \"%s\", \"mode\": \"%s\"%s, \"create\": true,"
             " \"columns\": [{\"name\": \"id\", \"type\": \"bigint\"},"
             " {\"name\": \"label\", \"type\": \"text\"}]}%s%s}",
             name, name, table, mode, strcmp(mode, "upsert") == 0 ? ", \"key\": [\"id\"]" : "",
             extra ? ", " : "", extra ? extra : "");
    create_job(f, json, ret_id);
}

static inline struct job *get_job(struct fixture *f, const char *id)
{
    struct job *job = NULL;
    struct iq_error err = {0};
    if (store_job_get(f->store, id, &job, &err) < 0)
        fail_msg("job_get %s: %s", id, iq_error_message(&err));
    return job;
}

/*
 * How long a test waits for a job to reach a status before calling it
 * stuck: a bound on a hang, not a speed check (those are bench/'s). A
 * loaded 2-core machine has taken 12 s for a job that takes 0.3 s alone.
 */
#define JOB_END_BOUND_MS 60000

/* wait_status - until the job's status is in mask; returns it (job_free). */
static inline struct job *wait_status(struct fixture *f, const char *id, unsigned mask,
                                      int64_t timeout_ms)
{
    int64_t end = time_monotonic_ms() + timeout_ms;
    for (;;) {
        struct job *job = get_job(f, id);
        if (mask & STATUS_BIT(job->status))
            return job;
        if (time_monotonic_ms() > end) {
            char *text = json_dumps(job->error, JSON_COMPACT);
            fail_msg("job %s still %s (attempt %d, error %s) after %lld ms", id,
                     job_status_name(job->status), job->attempt, text ? text : "null",
                     (long long)timeout_ms);
        }
        job_free(job);
        sleep_ms(5);
    }
}

/* error_code - job->error.code, or "" when none. */
static inline const char *error_code(const struct job *job)
{
    const char *code = json_string_value(json_object_get(job->error, "code"));
    return code ? code : "";
}

/* attempts_text - the job's attempt history as JSON text (free). */
static inline char *attempts_text(const struct job *job)
{
    return json_dumps(job->attempts, JSON_COMPACT);
}

/* count_rows - rows of table where (may be NULL). */
static inline int64_t count_rows(struct fixture *f, const char *table, const char *where)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s%s%s", table, where ? " WHERE " : "",
             where ? where : "");
    return fixture_sql_int(f, sql);
}

/* create_table - "id bigint primary key, label text" (portable DDL). */
static inline void create_table(struct fixture *f, const char *table)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "CREATE TABLE %s (id bigint PRIMARY KEY, label text)", table);
    assert_int_equal(fixture_sql_exec(f, sql), 0);
}

/*
 * run_all_completed - run an engine with `workers` workers (and the same
 * max_concurrent) until each of the count jobs is final, assert each
 * COMPLETED, stop the engine. The final jobs go to ret_jobs (job_free).
 */
static inline void run_all_completed(struct fixture *f, const struct import_root *root,
                                     int workers, char ids[][UUID_STR_LEN], int count,
                                     struct job **ret_jobs)
{
    struct engine_options opts;
    test_engine_options(f, root, &opts);
    opts.workers = workers;
    opts.max_concurrent = workers;
    struct engine *engine = start_engine(&opts);
    for (int i = 0; i < count; i++) {
        ret_jobs[i] = wait_status(f, ids[i], FINAL_STATUSES, 60000);
        assert_int_equal(ret_jobs[i]->status, JOB_COMPLETED);
    }
    engine_stop(engine, 1000);
}

#endif
