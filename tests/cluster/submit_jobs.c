/*
 * submit_jobs.c - creates jobs through the store (store_job_create), the
 * way the HTTP API will: validated spec, audit row, NOTIFY on PostgreSQL.
 * Until the API exists, the black-box cluster test and the engine
 * benchmark submit their jobs with it.
 *
 *   submit_jobs DB_URL COUNT MOD SPEC_TEMPLATE
 *
 * SPEC_TEMPLATE is a job spec (docs/job-spec.md) in which every "{i}" becomes
 * the job's index (0 .. COUNT-1) and every "{m}" the index modulo MOD,
 * e.g. '{"source":{"path":"t{m}.csv"},"target":{"table":"t{m}"}}'.
 * Prints each new job's id on stdout and "submitted N jobs in T ms" on
 * stderr. There is no queue limit (max_queue_size 0). Exit 0 when every
 * job was created, 1 on the first failure, 2 on bad usage.
 *
 * Not for: waiting for jobs, or anything a test asserts on (it only feeds).
 */
#include "core/timeutil.h"
#include "store/store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct audit_context submit_actor = {"submit_jobs", NULL, NULL};

/*
 * expand - template with "{i}" replaced by index and "{m}" by index % mod.
 * Returns a new string (caller frees), NULL on OOM.
 */
static char *expand(const char *template, long index, long mod)
{
    char i_text[24], m_text[24];
    snprintf(i_text, sizeof(i_text), "%ld", index);
    snprintf(m_text, sizeof(m_text), "%ld", index % mod);
    size_t cap = strlen(template) * 2 + 64, len = 0;
    char *out = malloc(cap);
    for (const char *p = template; out && *p;) {
        const char *piece = NULL;
        if (strncmp(p, "{i}", 3) == 0)
            piece = i_text;
        else if (strncmp(p, "{m}", 3) == 0)
            piece = m_text;
        size_t add = piece ? strlen(piece) : 1;
        if (len + add + 1 > cap) {
            cap = (len + add + 1) * 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        memcpy(out + len, piece ? piece : p, add);
        len += add;
        p += piece ? 3 : 1;
    }
    if (out)
        out[len] = '\0';
    return out;
}

/*
 * submit_one - parse text as a spec and create the job. Returns 0 and the
 * job's id in ret_id, or a negative code with err set.
 */
static int submit_one(struct store *store, const char *text, char ret_id[UUID_STR_LEN],
                      struct iq_error *err)
{
    json_error_t json_err;
    json_t *body = json_loads(text, 0, &json_err);
    if (!body)
        return iq_error_set(err, IQ_E_INVALID, "spec is not JSON: %s", json_err.text);
    struct job_spec *spec = NULL;
    int rc = job_spec_parse(body, NULL, &spec, err);
    json_decref(body);
    if (rc < 0)
        return rc;
    struct job_create_request req = {.spec = spec, .max_queue_size = 0};
    struct job *job = NULL;
    bool existed = false;
    rc = store_job_create(store, &req, &submit_actor, &job, &existed, err);
    if (rc == 0)
        memcpy(ret_id, job->id, UUID_STR_LEN);
    job_free(job);
    job_spec_free(spec);
    return rc;
}

/* parse_count - a decimal in [min, max] from text; -1 when it is not. */
static long parse_count(const char *text, long min, long max)
{
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (!*text || *end || value < min || value > max)
        return -1;
    return value;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: submit_jobs DB_URL COUNT MOD SPEC_TEMPLATE\n");
        return 2;
    }
    long count = parse_count(argv[2], 1, 10000000);
    long mod = parse_count(argv[3], 1, 1000000);
    if (count < 0 || mod < 0) {
        fprintf(stderr, "submit_jobs: COUNT and MOD must be positive integers\n");
        return 2;
    }
    struct iq_error err = {0};
    struct store *store = NULL;
    int rc = store_open(argv[1], NULL, &store, &err);
    if (rc == 0)
        rc = store_migrate(store, NULL, &err);
    int64_t start = time_monotonic_ms();
    long done = 0;
    for (; rc == 0 && done < count; done++) {
        char *text = expand(argv[4], done, mod);
        char id[UUID_STR_LEN];
        rc = text ? submit_one(store, text, id, &err)
                  : iq_error_set(&err, IQ_E_NOMEM, "out of memory");
        if (rc == 0)
            printf("%s\n", id);
        else if (err.field_count > 0)
            fprintf(stderr, "submit_jobs: job %ld: %s: %s\n", done, err.fields[0].field,
                    err.fields[0].message);
        free(text);
    }
    if (rc < 0) {
        fprintf(stderr, "submit_jobs: %s\n", iq_error_message(&err));
        iq_error_clear(&err);
        store_close(store);
        return 1;
    }
    fprintf(stderr, "submitted %ld jobs in %lld ms\n", done,
            (long long)(time_monotonic_ms() - start));
    store_close(store);
    return 0;
}
