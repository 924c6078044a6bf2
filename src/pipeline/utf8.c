/*
 * utf8.c - UTF-8 validation (RFC 3629 plus "no NUL") with an eight-bytes-
 * at-a-time ASCII fast path, since every CSV field passes through it.
 */
#include "pipeline/utf8.h"

#include <stdint.h>
#include <string.h>

#define HIGH_BITS 0x8080808080808080ULL
#define LOW_BITS 0x0101010101010101ULL

/* True when one of the eight bytes of word is zero. */
static int has_zero_byte(uint64_t word)
{
    return ((word - LOW_BITS) & ~word & HIGH_BITS) != 0;
}

/*
 * sequence_length - length of the valid multi-byte sequence at s[0..left)
 * whose lead byte is >= 0x80, or 0 when it is invalid.
 */
static size_t sequence_length(const unsigned char *s, size_t left)
{
    unsigned char lead = s[0];
    size_t need;
    unsigned char low = 0x80, high = 0xBF; /* range of the second byte */
    if (lead >= 0xC2 && lead <= 0xDF) {
        need = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        need = 3;
        if (lead == 0xE0)
            low = 0xA0; /* overlong */
        else if (lead == 0xED)
            high = 0x9F; /* surrogates */
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        need = 4;
        if (lead == 0xF0)
            low = 0x90; /* overlong */
        else if (lead == 0xF4)
            high = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (left < need || s[1] < low || s[1] > high)
        return 0;
    for (size_t i = 2; i < need; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return need;
}

size_t utf8_invalid_offset(const char *text, size_t length)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < length) {
        while (i + 8 <= length) {
            uint64_t word;
            memcpy(&word, s + i, sizeof(word));
            if ((word & HIGH_BITS) || has_zero_byte(word))
                break;
            i += 8;
        }
        if (i >= length)
            break;
        if (s[i] < 0x80) {
            if (s[i] == 0)
                return i;
            i++;
            continue;
        }
        size_t n = sequence_length(s + i, length - i);
        if (n == 0)
            return i;
        i += n;
    }
    return length;
}

size_t utf8_char_count(const char *text, size_t length)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t continuation = 0;
    for (size_t i = 0; i < length; i++)
        continuation += (s[i] & 0xC0) == 0x80;
    return length - continuation;
}
