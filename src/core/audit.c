/*
 * audit.c - the audit chain hash. Storage of the rows is the store's; this
 * file only defines what a row's hash is, so both backends and the
 * verifier agree byte for byte.
 */
#include "core/audit.h"

#include "core/timeutil.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Feeds "<len>:<bytes>;" or "-;" for NULL. */
static void hash_field(crypto_hash_sha256_state *state, const char *value)
{
    char prefix[32];
    if (!value) {
        crypto_hash_sha256_update(state, (const unsigned char *)"-;", 2);
        return;
    }
    size_t len = strlen(value);
    int n = snprintf(prefix, sizeof(prefix), "%zu:", len);
    crypto_hash_sha256_update(state, (const unsigned char *)prefix, (unsigned long long)n);
    crypto_hash_sha256_update(state, (const unsigned char *)value, len);
    crypto_hash_sha256_update(state, (const unsigned char *)";", 1);
}

void audit_hash(const struct audit_record *record, char ret_hex[AUDIT_HASH_LEN])
{
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    char id_text[32];
    char at_text[TIME_RFC3339_LEN];
    snprintf(id_text, sizeof(id_text), "%" PRId64, record->id);
    time_format_rfc3339(record->at_ms, at_text);
    hash_field(&state, record->prev_hash);
    hash_field(&state, id_text);
    hash_field(&state, at_text);
    hash_field(&state, record->actor);
    hash_field(&state, record->action);
    hash_field(&state, record->entity);
    hash_field(&state, record->entity_id);
    hash_field(&state, record->before_json);
    hash_field(&state, record->after_json);
    hash_field(&state, record->request_id);
    hash_field(&state, record->client_addr);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&state, digest);
    sodium_bin2hex(ret_hex, AUDIT_HASH_LEN, digest, sizeof(digest));
}
