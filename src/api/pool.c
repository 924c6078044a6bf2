/*
 * pool.c - the API's database connections. A store is one connection and
 * not thread-safe, so each request borrows one for its duration and gives
 * it back. Idle connections are kept up to a capacity (the number of HTTP
 * threads, so a busy server never opens one per request); a connection
 * that saw a database error is closed rather than reused, which is how the
 * API heals after the database restarts.
 */
#include "api/api_internal.h"

#include <stdlib.h>
#include <string.h>

int store_pool_init(struct store_pool *pool, const char *url, size_t capacity, struct iq_error *err)
{
    memset(pool, 0, sizeof(*pool));
    pool->url = strdup(url);
    pool->idle = calloc(capacity ? capacity : 1, sizeof(*pool->idle));
    if (!pool->url || !pool->idle) {
        free(pool->url);
        free(pool->idle);
        memset(pool, 0, sizeof(*pool));
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    pool->idle_capacity = capacity ? capacity : 1;
    pthread_mutex_init(&pool->mutex, NULL);
    return 0;
}

int store_pool_acquire(struct store_pool *pool, struct store **ret_store, struct iq_error *err)
{
    pthread_mutex_lock(&pool->mutex);
    struct store *store = pool->idle_count > 0 ? pool->idle[--pool->idle_count] : NULL;
    pthread_mutex_unlock(&pool->mutex);
    if (store) {
        *ret_store = store;
        return 0;
    }
    /* Opening happens outside the mutex: a slow connect must not stall
     * requests that could reuse an idle connection. */
    struct store_options opts = {.role = STORE_ROLE_REQUEST};
    return store_open(pool->url, &opts, ret_store, err);
}

void store_pool_release(struct store_pool *pool, struct store *store, bool broken)
{
    if (!store)
        return;
    if (!broken) {
        pthread_mutex_lock(&pool->mutex);
        if (pool->idle_count < pool->idle_capacity) {
            pool->idle[pool->idle_count++] = store;
            store = NULL;
        }
        pthread_mutex_unlock(&pool->mutex);
    }
    store_close(store);
}

void store_pool_destroy(struct store_pool *pool)
{
    if (!pool->idle)
        return;
    for (size_t i = 0; i < pool->idle_count; i++)
        store_close(pool->idle[i]);
    free(pool->idle);
    free(pool->url);
    pthread_mutex_destroy(&pool->mutex);
    memset(pool, 0, sizeof(*pool));
}
