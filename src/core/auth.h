/*
 * auth.h - API tokens as secrets: generating one, hashing it for storage,
 * comparing hashes in constant time, and the names of the roles a token
 * carries. Tokens are stored only as their hash (importq_tokens); the
 * secret is shown once when it is created.
 *
 * Not for: storing or looking up tokens (the store's token_* slots) or
 * HTTP (the API checks the Authorization header with these helpers).
 */
#ifndef IMPORTQ_CORE_AUTH_H
#define IMPORTQ_CORE_AUTH_H

#include "core/audit.h"

#include <stdbool.h>

/* "iq_" plus 43 base64url characters (32 random bytes, no padding) plus NUL. */
#define AUTH_TOKEN_PREFIX "iq_"
#define AUTH_TOKEN_RANDOM_BYTES 32
#define AUTH_TOKEN_LEN 47

/* A token's hash has the audit chain's form: hex SHA-256 plus NUL. */
#define AUTH_HASH_LEN AUDIT_HASH_LEN

/*
 * auth_token_generate - a new secret: 32 bytes from libsodium's CSPRNG
 * as "iq_" + base64url without padding. Returns 0, or IQ_E_INTERNAL when
 * libsodium cannot be initialised (ret_token is then "").
 */
int auth_token_generate(char ret_token[AUTH_TOKEN_LEN]);

/* auth_token_hash - lower-case hex SHA-256 of the token's bytes. */
void auth_token_hash(const char *token, char ret_hex[AUTH_HASH_LEN]);

/*
 * auth_hash_equal - whether two hex hashes are equal, in time that does
 * not depend on where they differ (sodium_memcmp). A NULL or a string of
 * the wrong length is never equal to anything.
 */
bool auth_hash_equal(const char *a, const char *b);

/*
 * token_role_parse - "viewer", "operator" or "admin" (exact, lower case)
 * to its role: 1, 2 or 3, the values of enum token_role
 * (store/admin_ops.h). Returns IQ_E_INVALID for anything else.
 */
int token_role_parse(const char *name);

/* token_role_name - the name of role 1..3; NULL for any other value. */
const char *token_role_name(int role);

#endif
