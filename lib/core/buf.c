/* buf.c - growable buffers, JSON string escaping, shortest number text. */
#include "buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "utf8.h"

void lm_buf_free(lm_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

void lm_buf_reset(lm_buf *b)
{
    b->n = 0;
    if (b->p)
        b->p[0] = '\0';
}

static void reserve(lm_buf *b, size_t extra)
{
    size_t need = b->n + extra + 1;
    lm_grow(b->p, b->cap, need > 256 ? need : 256);
}

void lm_buf_add(lm_buf *b, const void *s, size_t n)
{
    reserve(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void lm_buf_adds(lm_buf *b, const char *s)
{
    lm_buf_add(b, s, strlen(s));
}

void lm_buf_addc(lm_buf *b, char c)
{
    reserve(b, 1);
    b->p[b->n++] = c;
    b->p[b->n] = '\0';
}

void lm_buf_printf(lm_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    if ((size_t)k < sizeof tmp) {
        lm_buf_add(b, tmp, (size_t)k);
        return;
    }
    reserve(b, (size_t)k);
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

void lm_buf_add_jstr(lm_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    reserve(b, n + 2);
    lm_buf_addc(b, '"');
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t k = lm_utf8_valid_prefix(s + i, n - i, 1);
            if (k == 0) {
                lm_buf_add(b, "\xef\xbf\xbd", 3); /* U+FFFD */
                i++;
            } else {
                lm_buf_add(b, s + i, k);
                i += k;
            }
            continue;
        }
        switch (c) {
        case '"': lm_buf_add(b, "\\\"", 2); break;
        case '\\': lm_buf_add(b, "\\\\", 2); break;
        case '\n': lm_buf_add(b, "\\n", 2); break;
        case '\r': lm_buf_add(b, "\\r", 2); break;
        case '\t': lm_buf_add(b, "\\t", 2); break;
        case '\b': lm_buf_add(b, "\\b", 2); break;
        case '\f': lm_buf_add(b, "\\f", 2); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                lm_buf_add(b, e, 6);
            } else {
                lm_buf_addc(b, (char)c);
            }
        }
        i++;
    }
    lm_buf_addc(b, '"');
}

size_t lm_fmt_double(char *out, double v)
{
    char tmp[40];
    if (!isfinite(v)) {
        strcpy(out, "null");
        return 4;
    }
    if (v == 0) {
        strcpy(out, signbit(v) ? "-0" : "0");
        return strlen(out);
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* Tidy the exponent: "1e-05" -> "1e-5", "1e+20" -> "1e20". */
    size_t n = 0;
    for (const char *p = tmp; *p; p++) {
        if (*p == 'e') {
            out[n++] = 'e';
            p++;
            if (*p == '-')
                out[n++] = '-';
            if (*p == '-' || *p == '+')
                p++;
            while (*p == '0' && p[1])
                p++;
            while (*p)
                out[n++] = *p++;
            break;
        }
        out[n++] = *p;
    }
    out[n] = '\0';
    /* %g switches to an exponent as soon as the precision is below the
     * number of integer digits ("1.2e2" for 120); an integral value may be
     * shorter written out in full. */
    const char *e = strchr(out, 'e');
    if (e && e[1] != '-' && fabs(v) < 1e21) {
        char plain[40];
        int k = snprintf(plain, sizeof plain, "%.0f", v);
        if (k > 0 && (size_t)k <= n && strtod(plain, NULL) == v) {
            memcpy(out, plain, (size_t)k + 1);
            n = (size_t)k;
        }
    }
    return n;
}

void lm_buf_add_num(lm_buf *b, double v)
{
    char t[40];
    size_t n = lm_fmt_double(t, v);
    lm_buf_add(b, t, n);
}
