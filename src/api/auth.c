/*
 * auth.c - bearer tokens and roles. Tokens are stored hashed (SHA-256) in
 * importq_tokens; this node keeps the active ones in a cache reloaded at
 * most every ttl_ms (1 s), so a request costs a hash and a few constant-
 * time comparisons, not a query. A revocation takes effect at once on the
 * node that made it (it invalidates the cache) and within ttl_ms on the
 * others. A token unknown to the cache makes it reload before the request
 * is refused, unless a reload begun after the request arrived has already
 * looked (so a token created anywhere works at once on every node, and a
 * flood of bad tokens costs at most one reload at a time: the requests
 * waiting behind a reload share it). Last use is recorded at most once a
 * minute per token.
 *
 * Lock order: the cache mutex is taken with the request's connection
 * already acquired; nothing takes the pool mutex under the cache mutex.
 */
#include "api/api_internal.h"

#include "core/auth.h"
#include "core/timeutil.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOUCH_EVERY_MS 60000
#define BEARER_PREFIX "Bearer "
#define TOKEN_TEXT_MAX 256

int token_cache_init(struct token_cache *cache, int64_t ttl_ms)
{
    memset(cache, 0, sizeof(*cache));
    atomic_init(&cache->reloads_begun, 0);
    cache->ttl_ms = ttl_ms;
    return pthread_mutex_init(&cache->mutex, NULL) == 0 ? 0 : IQ_E_INTERNAL;
}

void token_cache_destroy(struct token_cache *cache)
{
    free(cache->entries);
    pthread_mutex_destroy(&cache->mutex);
    memset(cache, 0, sizeof(*cache));
}

void token_cache_invalidate(struct token_cache *cache)
{
    pthread_mutex_lock(&cache->mutex);
    cache->loaded_at_ms = 0;
    pthread_mutex_unlock(&cache->mutex);
}

/* cache_reload - replace the entries from the store, keeping touch times.
 * Called with the mutex held. */
static int cache_reload(struct token_cache *cache, struct store *store, int64_t now_ms,
                        struct iq_error *err)
{
    uint64_t begun = atomic_fetch_add(&cache->reloads_begun, 1) + 1;
    struct token_list list = {0};
    int rc = store_token_list(store, false, &list, err);
    if (rc < 0)
        return rc;
    struct token_cache_entry *entries = calloc(list.count ? list.count : 1, sizeof(*entries));
    if (!entries) {
        token_list_clear(&list);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < list.count; i++) {
        struct token_cache_entry *e = &entries[i];
        snprintf(e->id, sizeof(e->id), "%s", list.items[i].id);
        snprintf(e->name, sizeof(e->name), "%s", list.items[i].name);
        e->role = list.items[i].role;
        memcpy(e->token_hash, list.items[i].token_hash, AUDIT_HASH_LEN);
        e->touched_at_ms = list.items[i].last_used_at_ms;
        for (size_t j = 0; j < cache->count; j++)
            if (strcmp(cache->entries[j].id, e->id) == 0 &&
                cache->entries[j].touched_at_ms > e->touched_at_ms)
                e->touched_at_ms = cache->entries[j].touched_at_ms;
    }
    free(cache->entries);
    cache->entries = entries;
    cache->count = list.count;
    cache->loaded_at_ms = now_ms;
    cache->loaded_by = begun;
    token_list_clear(&list);
    return 0;
}

/*
 * cache_lookup - find the token whose hash is hash. Every entry is compared
 * (constant time each, no early exit), so timing says nothing about which
 * one matched. Returns the role (0 when none) and copies name and id; sets
 * *ret_touch when the store should record a use now.
 */
static enum token_role cache_lookup(struct token_cache *cache, const char *hash, int64_t now_ms,
                                    struct principal *ret_principal, char ret_id[UUID_STR_LEN],
                                    bool *ret_touch)
{
    enum token_role role = 0;
    struct token_cache_entry *found = NULL;
    for (size_t i = 0; i < cache->count; i++)
        if (auth_hash_equal(cache->entries[i].token_hash, hash))
            found = &cache->entries[i];
    *ret_touch = false;
    if (found) {
        role = found->role;
        snprintf(ret_principal->name, sizeof(ret_principal->name), "%s", found->name);
        snprintf(ret_id, UUID_STR_LEN, "%s", found->id);
        if (now_ms - found->touched_at_ms >= TOUCH_EVERY_MS) {
            found->touched_at_ms = now_ms;
            *ret_touch = true;
        }
    }
    return role;
}

/* reply_unauthorized - 401 with the challenge RFC 6750 asks for. */
static void reply_unauthorized(struct api_request *req, struct api_response *res, const char *why)
{
    api_reply_problem(req, res, IQ_E_UNAUTHORIZED, "%s", why);
    api_header_add(res, "WWW-Authenticate", "Bearer realm=\"importq\"");
}

bool api_authenticate(struct api_request *req, struct api_response *res, enum token_role min_role)
{
    const char *header = api_header_value(req, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!header) {
        reply_unauthorized(req, res, "a bearer token is required (Authorization: Bearer TOKEN)");
        return false;
    }
    if (strncasecmp(header, BEARER_PREFIX, strlen(BEARER_PREFIX)) != 0 ||
        strlen(header) > TOKEN_TEXT_MAX) {
        reply_unauthorized(req, res, "the Authorization header must be \"Bearer TOKEN\"");
        return false;
    }
    const char *token = header + strlen(BEARER_PREFIX);
    while (*token == ' ')
        token++;
    char hash[AUDIT_HASH_LEN];
    auth_token_hash(token, hash);

    struct store *store = api_store(req, res);
    if (!store)
        return false;
    struct token_cache *cache = &req->api->tokens;
    int64_t now_ms = time_now_ms();
    struct iq_error err = {0};
    char token_id[UUID_STR_LEN] = "";
    bool touch = false;
    /* reloads begun before this request: none of them can have seen a
     * token created just before it */
    uint64_t begun_before = atomic_load(&cache->reloads_begun);
    pthread_mutex_lock(&cache->mutex);
    int rc = 0;
    if (cache->loaded_at_ms == 0 || now_ms - cache->loaded_at_ms >= cache->ttl_ms)
        rc = cache_reload(cache, store, now_ms, &err);
    enum token_role role =
        rc < 0 ? 0 : cache_lookup(cache, hash, now_ms, &req->principal, token_id, &touch);
    if (rc == 0 && role == 0 && cache->loaded_by <= begun_before) {
        rc = cache_reload(cache, store, now_ms, &err);
        role = rc < 0 ? 0 : cache_lookup(cache, hash, now_ms, &req->principal, token_id, &touch);
    }
    pthread_mutex_unlock(&cache->mutex);
    if (rc < 0) {
        api_reply_error(req, res, &err);
        return false;
    }
    if (role == 0) {
        reply_unauthorized(req, res, "the token is unknown or revoked");
        return false;
    }
    req->principal.role = role;
    req->actx.actor = req->principal.name;
    if (touch && store_token_touch(store, token_id, now_ms, &err) < 0)
        iq_error_clear(&err); /* bookkeeping only: the request goes on */
    if (role < min_role) {
        api_reply_problem(req, res, IQ_E_FORBIDDEN, "this needs the %s role; token \"%s\" is %s",
                          token_role_name(min_role), req->principal.name, token_role_name(role));
        return false;
    }
    return true;
}
