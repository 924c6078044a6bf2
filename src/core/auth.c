/*
 * auth.c - token secrets and role names (see auth.h). Randomness, hashing
 * and the constant-time comparison are libsodium's; nothing here stores
 * or logs a secret.
 */
#include "core/auth.h"

#include "core/error.h"

#include <sodium.h>
#include <stddef.h>
#include <string.h>

/* Indexed by role (1..3); [0] is no role. */
static const char *const role_names[] = {NULL, "viewer", "operator", "admin"};
#define ROLE_NAME_COUNT (sizeof(role_names) / sizeof(role_names[0]))

_Static_assert(sizeof(AUTH_TOKEN_PREFIX) - 1 +
                       sodium_base64_ENCODED_LEN(AUTH_TOKEN_RANDOM_BYTES,
                                                 sodium_base64_VARIANT_URLSAFE_NO_PADDING) ==
                   AUTH_TOKEN_LEN,
               "AUTH_TOKEN_LEN must fit the prefix, the encoded bytes and the NUL");

int auth_token_generate(char ret_token[AUTH_TOKEN_LEN])
{
    ret_token[0] = '\0';
    if (sodium_init() < 0)
        return IQ_E_INTERNAL;
    unsigned char bytes[AUTH_TOKEN_RANDOM_BYTES];
    randombytes_buf(bytes, sizeof(bytes));
    size_t prefix_len = sizeof(AUTH_TOKEN_PREFIX) - 1;
    memcpy(ret_token, AUTH_TOKEN_PREFIX, prefix_len);
    sodium_bin2base64(ret_token + prefix_len, AUTH_TOKEN_LEN - prefix_len, bytes, sizeof(bytes),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(bytes, sizeof(bytes));
    return 0;
}

void auth_token_hash(const char *token, char ret_hex[AUTH_HASH_LEN])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(ret_hex, AUTH_HASH_LEN, digest, sizeof(digest));
}

bool auth_hash_equal(const char *a, const char *b)
{
    const size_t len = AUTH_HASH_LEN - 1;
    /* strnlen reads at most len + 1 bytes, so a short string stops early
     * and the lengths (which are not secret) are all that leaks. */
    if (!a || !b || strnlen(a, len + 1) != len || strnlen(b, len + 1) != len)
        return false;
    return sodium_memcmp(a, b, len) == 0;
}

int token_role_parse(const char *name)
{
    for (size_t role = 1; name && role < ROLE_NAME_COUNT; role++)
        if (strcmp(name, role_names[role]) == 0)
            return (int)role;
    return IQ_E_INVALID;
}

const char *token_role_name(int role)
{
    return role > 0 && (size_t)role < ROLE_NAME_COUNT ? role_names[role] : NULL;
}
