/*
 * api_seed.c - fill a database with N held jobs for the API benchmark
 * (bench/api.sh): bench_api_seed DB_URL N. Jobs are created through the
 * store, as the API would create them, spread over 8 tables and 10
 * priorities; every 4th one is QUEUED instead of HELD (its scheduled_at is
 * far in the future, so no engine runs it) so status filters have work.
 * Prints the id of the last job created.
 */
#include "core/job_spec.h"
#include "store/store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DB_URL N\n", argv[0]);
        return 2;
    }
    long count = strtol(argv[2], NULL, 10);
    struct iq_error err = {0};
    struct store *store = NULL;
    int applied = 0;
    if (store_open(argv[1], NULL, &store, &err) < 0 || store_migrate(store, &applied, &err) < 0) {
        fprintf(stderr, "api_seed: %s\n", iq_error_message(&err));
        return 1;
    }
    struct audit_context actx = {.actor = "bench"};
    char last[UUID_STR_LEN] = "";
    for (long i = 0; i < count; i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 "{\"name\": \"bench job %ld\", \"priority\": %ld, %s,"
                 " \"source\": {\"format\": \"csv\", \"path\": \"t%ld.csv\"},"
                 " \"target\": {\"table\": \"bench_t%ld\"}}",
                 i, 1 + i % 10,
                 i % 4 == 0 ? "\"scheduled_at\": \"2099-01-01T00:00:00Z\"" : "\"hold\": true",
                 i % 8, i % 8);
        json_t *body = json_loads(text, 0, NULL);
        struct job_spec *spec = NULL;
        struct job *job = NULL;
        bool existed = false;
        struct job_create_request req = {.spec = NULL};
        int rc = job_spec_parse(body, NULL, &spec, &err);
        req.spec = spec;
        if (rc == 0)
            rc = store_job_create(store, &req, &actx, &job, &existed, &err);
        if (rc < 0) {
            fprintf(stderr, "api_seed: job %ld: %s\n", i, iq_error_message(&err));
            return 1;
        }
        snprintf(last, sizeof(last), "%s", job->id);
        job_free(job);
        job_spec_free(spec);
        json_decref(body);
    }
    store_close(store);
    printf("%s\n", last);
    return 0;
}
