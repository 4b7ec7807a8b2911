/* buf.h - a growable byte buffer used to build output records and messages. */
#ifndef LMKIT_CORE_BUF_H
#define LMKIT_CORE_BUF_H

#include <stddef.h>

typedef struct {
    char *p;    /* bytes, always NUL-terminated when cap > 0 */
    size_t n;   /* bytes used, without the NUL */
    size_t cap; /* bytes allocated */
} lm_buf;

void lm_buf_free(lm_buf *b);
void lm_buf_reset(lm_buf *b);
void lm_buf_add(lm_buf *b, const void *s, size_t n);
void lm_buf_adds(lm_buf *b, const char *s);
void lm_buf_addc(lm_buf *b, char c);
void lm_buf_printf(lm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s (n bytes of UTF-8) as a JSON string literal with quotes.  Bytes
 * that are not valid UTF-8 are written as U+FFFD. */
void lm_buf_add_jstr(lm_buf *b, const char *s, size_t n);
/* Appends a finite double in the shortest form that reads back to the same
 * value ("0.1", "1e-05" -> "1e-5", "3").  The caller handles non-finite values
 * by its documented rule; passing one writes "null". */
void lm_buf_add_num(lm_buf *b, double v);

/* Writes the shortest round-trip text of a finite v into out (>= 32 bytes);
 * returns its length. */
size_t lm_fmt_double(char *out, double v);

#endif
