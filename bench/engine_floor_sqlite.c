/*
 * engine_floor_sqlite.c - the SQL floor of importq's one-row jobs on
 * SQLite: runs bench/engine_floor_sqlite.sql once per job over a migrated
 * database whose jobs are queued (bench/engine.sh makes it), every
 * statement prepared once, as pgbench -M prepared runs
 * bench/engine_floor.sql on PostgreSQL. "{t}" in the script is the job's
 * table: job i uses t(i % 8), one prepared copy of the script per table.
 *
 *   engine_floor_sqlite DB_PATH SCRIPT JOBS
 *
 * Prints one logfmt line: jobs, seconds, jobs_per_s. Exits 1 on any SQL
 * error. Not for: a test (it asserts nothing).
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLES 8
#define MAX_STATEMENTS 32

struct script {
    sqlite3_stmt *stmts[MAX_STATEMENTS];
    int count;
};

/* sha256_hex(text) - the hex SHA-256 of its argument's text. */
static void sha256_hex(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const unsigned char *text = sqlite3_value_text(argv[0]);
    int len = sqlite3_value_bytes(argv[0]);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, text ? text : (const unsigned char *)"", (unsigned long long)len);
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    sqlite3_result_text(ctx, hex, -1, SQLITE_TRANSIENT);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *text = malloc((size_t)size + 1);
    if (text && fread(text, 1, (size_t)size, f) != (size_t)size) {
        free(text);
        text = NULL;
    }
    if (text)
        text[size] = '\0';
    fclose(f);
    return text;
}

/* with_table - text with every "{t}" replaced by table (malloc'd). */
static char *with_table(const char *text, const char *table)
{
    size_t n = strlen(text), tlen = strlen(table);
    char *out = malloc(n * (tlen + 1) + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = text; *p;) {
        if (strncmp(p, "{t}", 3) == 0) {
            memcpy(o, table, tlen);
            o += tlen;
            p += 3;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static int prepare_script(sqlite3 *db, const char *sql, struct script *s)
{
    s->count = 0;
    const char *tail = sql;
    while (*tail) {
        sqlite3_stmt *stmt = NULL;
        if (sqlite3_prepare_v3(db, tail, -1, SQLITE_PREPARE_PERSISTENT, &stmt, &tail) !=
            SQLITE_OK) {
            fprintf(stderr, "engine_floor_sqlite: %s\n", sqlite3_errmsg(db));
            return -1;
        }
        if (!stmt) /* only a comment or white space was left */
            continue;
        if (s->count == MAX_STATEMENTS) {
            fprintf(stderr, "engine_floor_sqlite: more than %d statements\n", MAX_STATEMENTS);
            return -1;
        }
        s->stmts[s->count++] = stmt;
    }
    return 0;
}

static int run_script(sqlite3 *db, const struct script *s)
{
    for (int i = 0; i < s->count; i++) {
        int rc;
        while ((rc = sqlite3_step(s->stmts[i])) == SQLITE_ROW)
            ;
        sqlite3_reset(s->stmts[i]);
        if (rc != SQLITE_DONE) {
            fprintf(stderr, "engine_floor_sqlite: %s\n", sqlite3_errmsg(db));
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: engine_floor_sqlite DB_PATH SCRIPT JOBS\n");
        return 2;
    }
    long jobs = strtol(argv[3], NULL, 10);
    char *text = read_file(argv[2]);
    sqlite3 *db = NULL;
    if (!text || jobs <= 0 || sodium_init() < 0 ||
        sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "engine_floor_sqlite: cannot open %s or %s\n", argv[1], argv[2]);
        return 1;
    }
    sqlite3_create_function(db, "sha256_hex", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                            sha256_hex, NULL, NULL);
    if (sqlite3_exec(db,
                     "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                     " PRAGMA busy_timeout=5000; CREATE TEMP TABLE cur (job_id TEXT, target TEXT)",
                     NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "engine_floor_sqlite: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    struct script scripts[TABLES];
    for (int t = 0; t < TABLES; t++) {
        char table[8];
        snprintf(table, sizeof(table), "t%d", t);
        char *sql = with_table(text, table);
        if (!sql || prepare_script(db, sql, &scripts[t]) < 0)
            return 1;
        free(sql);
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < jobs; i++)
        if (run_script(db, &scripts[i % TABLES]) < 0)
            return 1;
    clock_gettime(CLOCK_MONOTONIC, &end);
    double secs = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    printf("jobs=%ld seconds=%.3f jobs_per_s=%.0f\n", jobs, secs, (double)jobs / secs);
    for (int t = 0; t < TABLES; t++)
        for (int i = 0; i < scripts[t].count; i++)
            sqlite3_finalize(scripts[t].stmts[i]);
    sqlite3_close(db);
    free(text);
    return 0;
}
