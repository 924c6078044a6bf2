/*
 * cursor.c - opaque pagination cursors. A cursor is
 *   base64url("<kind>:<value>") "." base64url(MAC)
 * where value is the last id of the page and MAC a keyed BLAKE2b of the
 * first part (libsodium crypto_generichash). The key is the same on every
 * node, so a cursor from one node works on another; it is not a secret:
 * the MAC only makes an edited or truncated cursor a clear 400 instead of
 * a silently different page (a forged one could only start a page at some
 * id, which the caller may list anyway).
 */
#include "api/api_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define CURSOR_MAC_BYTES 12
#define CURSOR_PLAIN_MAX 128

static const unsigned char cursor_key[crypto_generichash_KEYBYTES] =
    "importq pagination cursor v1 ...";

static void cursor_mac(const char *plain, size_t len, unsigned char mac[CURSOR_MAC_BYTES])
{
    unsigned char full[crypto_generichash_BYTES_MIN];
    crypto_generichash(full, sizeof(full), (const unsigned char *)plain, len, cursor_key,
                       sizeof(cursor_key));
    memcpy(mac, full, CURSOR_MAC_BYTES);
}

void api_cursor_encode(const struct api *api, const char *kind, const char *value, char *ret_cursor,
                       size_t size)
{
    (void)api;
    char plain[CURSOR_PLAIN_MAX];
    int len = snprintf(plain, sizeof(plain), "%s:%s", kind, value);
    if (len < 0 || (size_t)len >= sizeof(plain) || size == 0) {
        if (size)
            ret_cursor[0] = '\0';
        return;
    }
    unsigned char mac[CURSOR_MAC_BYTES];
    cursor_mac(plain, (size_t)len, mac);
    const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    size_t plain_b64 = sodium_base64_ENCODED_LEN((size_t)len, variant);
    size_t mac_b64 = sodium_base64_ENCODED_LEN(CURSOR_MAC_BYTES, variant);
    if (plain_b64 + mac_b64 > size) {
        ret_cursor[0] = '\0';
        return;
    }
    sodium_bin2base64(ret_cursor, plain_b64, (const unsigned char *)plain, (size_t)len, variant);
    size_t at = strlen(ret_cursor);
    ret_cursor[at++] = '.';
    sodium_bin2base64(ret_cursor + at, size - at, mac, CURSOR_MAC_BYTES, variant);
}

int api_cursor_decode(const struct api *api, const char *kind, const char *cursor, char *ret_value,
                      size_t size, struct iq_error *err)
{
    (void)api;
    const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    const char *dot = strchr(cursor, '.');
    char plain[CURSOR_PLAIN_MAX];
    unsigned char mac[CURSOR_MAC_BYTES], expected[CURSOR_MAC_BYTES];
    size_t plain_len = 0, mac_len = 0;
    size_t kind_len = strlen(kind);
    if (!dot || strlen(cursor) > 2 * CURSOR_PLAIN_MAX ||
        sodium_base642bin((unsigned char *)plain, sizeof(plain) - 1, cursor, (size_t)(dot - cursor),
                          NULL, &plain_len, NULL, variant) != 0 ||
        sodium_base642bin(mac, sizeof(mac), dot + 1, strlen(dot + 1), NULL, &mac_len, NULL,
                          variant) != 0 ||
        mac_len != CURSOR_MAC_BYTES)
        goto bad;
    cursor_mac(plain, plain_len, expected);
    if (sodium_memcmp(mac, expected, CURSOR_MAC_BYTES) != 0)
        goto bad;
    plain[plain_len] = '\0';
    if (plain_len <= kind_len + 1 || strncmp(plain, kind, kind_len) != 0 ||
        plain[kind_len] != ':' || plain_len - kind_len - 1 >= size)
        goto bad;
    memcpy(ret_value, plain + kind_len + 1, plain_len - kind_len);
    return 0;
bad:
    iq_error_set(err, IQ_E_BAD_REQUEST, "the cursor is not valid (use next_cursor as given)");
    iq_error_add_field(err, "cursor", "not a cursor this endpoint produced");
    return IQ_E_BAD_REQUEST;
}

bool api_query_cursor(struct api_request *req, struct api_response *res, const char *kind,
                      char *ret_value, size_t size)
{
    ret_value[0] = '\0';
    const char *cursor = api_query(req, "cursor");
    if (!cursor || !*cursor)
        return true;
    struct iq_error err = {0};
    if (api_cursor_decode(req->api, kind, cursor, ret_value, size, &err) < 0) {
        api_reply_error(req, res, &err);
        return false;
    }
    return true;
}

json_t *api_next_cursor_json(const struct api *api, const char *kind, const char *value)
{
    if (!value || !*value)
        return json_null();
    char cursor[256];
    api_cursor_encode(api, kind, value, cursor, sizeof(cursor));
    return json_string(cursor);
}
