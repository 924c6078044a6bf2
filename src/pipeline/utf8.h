/*
 * utf8.h - UTF-8 validation and character counting for the import
 * pipeline. Validation follows RFC 3629 (no overlong forms, no surrogates,
 * nothing above U+10FFFF) and also rejects the NUL byte, which no target
 * database stores in text. Not a general Unicode library: no normalisation,
 * no case folding.
 */
#ifndef IMPORTQ_PIPELINE_UTF8_H
#define IMPORTQ_PIPELINE_UTF8_H

#include <stddef.h>

/*
 * utf8_invalid_offset - the offset of the first byte of s[0..length) that
 * does not start a valid UTF-8 sequence (or is NUL), or length when all of
 * it is valid. ASCII runs are checked eight bytes at a time.
 */
size_t utf8_invalid_offset(const char *s, size_t length);

/* utf8_char_count - characters (code points) in valid UTF-8 s[0..length). */
size_t utf8_char_count(const char *s, size_t length);

#endif
