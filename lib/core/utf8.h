/* utf8.h - strict UTF-8 validation and column counting.
 *
 * "Strict" follows RFC 3629: no overlong forms, no surrogates (U+D800..DFFF),
 * nothing above U+10FFFF.  Columns in lmkit diagnostics are 1-based and count
 * characters (code points), not bytes.
 */
#ifndef LMKIT_CORE_UTF8_H
#define LMKIT_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the longest valid UTF-8 prefix of s[0..n).  With one_char set,
 * checks only the first character: returns its length, or 0 if invalid. */
size_t lm_utf8_valid_prefix(const char *s, size_t n, int one_char);
/* Decodes one character at s (n bytes available); returns its length and
 * sets *cp, or returns 0 when the bytes there are not valid UTF-8. */
size_t lm_utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Encodes cp (<= 0x10FFFF, not a surrogate) into out[4]; returns length. */
size_t lm_utf8_encode(uint32_t cp, char *out);
/* 1-based character column of byte offset off in s (counting each invalid
 * byte as one column). */
size_t lm_utf8_column(const char *s, size_t off);

#endif
