/*
 * uuid7.c - UUIDv7: 48-bit unix ms, version 7, 12-bit sequence (rand_a),
 * variant, 62 random bits from libsodium. Within one millisecond the
 * sequence increments (RFC 9562 method 1) so ids stay ordered; if it
 * overflows, the timestamp is advanced by one ms.
 */
#include "core/uuid7.h"

#include "core/timeutil.h"

#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_ms;
static unsigned last_seq;

void uuid7_generate_at(int64_t unix_ms, char out[UUID_STR_LEN])
{
    unsigned char bytes[16];
    randombytes_buf(bytes, sizeof(bytes));

    pthread_mutex_lock(&uuid_lock);
    unsigned seq;
    if (unix_ms <= last_ms) {
        unix_ms = last_ms;
        seq = last_seq + 1;
        if (seq > 0xfff) {
            unix_ms++;
            seq = bytes[6] & 0x3f; /* leave headroom for the next increments */
        }
    } else {
        seq = ((unsigned)(bytes[6] & 0x3f) << 4) | (bytes[7] >> 4);
    }
    last_ms = unix_ms;
    last_seq = seq;
    pthread_mutex_unlock(&uuid_lock);

    for (int i = 0; i < 6; i++)
        bytes[i] = (unsigned char)((uint64_t)unix_ms >> (40 - 8 * i));
    bytes[6] = (unsigned char)(0x70 | (seq >> 8));
    bytes[7] = (unsigned char)(seq & 0xff);
    bytes[8] = (unsigned char)(0x80 | (bytes[8] & 0x3f));

    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[bytes[i] >> 4];
        *p++ = hex[bytes[i] & 0xf];
    }
    *p = '\0';
}

void uuid7_generate(char out[UUID_STR_LEN])
{
    uuid7_generate_at(time_now_ms(), out);
}

bool uuid_is_valid(const char *text)
{
    if (!text || strlen(text) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)text[i])) {
            return false;
        }
    }
    return true;
}
