/* json.c - strict JSON scanning with source positions (see json.h). */
#include "json.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "utf8.h"

typedef struct {
    const char *t;
    size_t n, i;
    int depth;
    lm_jscan *s; /* may be NULL: validate only */
    lm_jerr *err;
    lm_buf kb; /* key decoding when s is NULL */
} P;

static int fail(P *p, size_t pos, const char *fmt, ...)
{
    va_list ap;
    p->err->pos = pos;
    p->err->dup = 0;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static void ws(P *p)
{
    while (p->i < p->n) {
        char c = p->t[p->i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            p->i++;
        else
            break;
    }
}

static int unexpected(P *p, const char *what)
{
    if (p->i >= p->n)
        return fail(p, p->i, "unexpected end of line, expected %s", what);
    unsigned char c = (unsigned char)p->t[p->i];
    if (c >= 0x80) {
        uint32_t cp;
        if (!lm_utf8_decode(p->t + p->i, p->n - p->i, &cp))
            return fail(p, p->i, "invalid UTF-8 byte 0x%02x", c);
        return fail(p, p->i, "unexpected character U+%04X, expected %s", (unsigned)cp, what);
    }
    if (c == 0)
        return fail(p, p->i, "NUL byte in the line, expected %s", what);
    if (c < 0x20 || c == 0x7f)
        return fail(p, p->i, "unexpected control character 0x%02x, expected %s", c, what);
    return fail(p, p->i, "unexpected '%c', expected %s", c, what);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int hex4(const char *s, uint32_t *v)
{
    uint32_t x = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(s[k]);
        if (h < 0)
            return -1;
        x = x * 16 + (uint32_t)h;
    }
    *v = x;
    return 0;
}

/* Scans a string at p->i (which is '"'); appends its decoded text to out when
 * out is non-NULL. */
static int string(P *p, lm_buf *out)
{
    size_t start = p->i;
    p->i++;
    for (;;) {
        if (p->i >= p->n)
            return fail(p, start, "unterminated string");
        unsigned char c = (unsigned char)p->t[p->i];
        if (c == '"') {
            p->i++;
            return 0;
        }
        if (c == '\\') {
            if (p->i + 1 >= p->n)
                return fail(p, start, "unterminated string");
            char e = p->t[p->i + 1];
            const char *rep = NULL;
            switch (e) {
            case '"': rep = "\""; break;
            case '\\': rep = "\\"; break;
            case '/': rep = "/"; break;
            case 'b': rep = "\b"; break;
            case 'f': rep = "\f"; break;
            case 'n': rep = "\n"; break;
            case 'r': rep = "\r"; break;
            case 't': rep = "\t"; break;
            case 'u': break;
            default: return fail(p, p->i, "invalid escape '\\%c' in string", e >= 0x20 && e < 0x7f ? e : '?');
            }
            if (rep) {
                if (out)
                    lm_buf_addc(out, rep[0]);
                p->i += 2;
                continue;
            }
            uint32_t cp, lo;
            if (p->i + 6 > p->n || hex4(p->t + p->i + 2, &cp) < 0)
                return fail(p, p->i, "invalid \\u escape: four hex digits expected");
            size_t epos = p->i;
            p->i += 6;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return fail(p, epos, "invalid \\u escape: lone low surrogate \\u%04x", (unsigned)cp);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (p->i + 6 > p->n || p->t[p->i] != '\\' || p->t[p->i + 1] != 'u' ||
                    hex4(p->t + p->i + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                    return fail(p, epos, "invalid \\u escape: high surrogate \\u%04x without its low half",
                                (unsigned)cp);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p->i += 6;
            }
            if (out) {
                char u[4];
                lm_buf_add(out, u, lm_utf8_encode(cp, u));
            }
            continue;
        }
        if (c == 0)
            return fail(p, p->i, "NUL byte in a string: escape it as \\u0000");
        if (c < 0x20)
            return fail(p, p->i, "control character 0x%02x in string: escape it", c);
        if (c < 0x80) {
            if (out)
                lm_buf_addc(out, (char)c);
            p->i++;
            continue;
        }
        uint32_t cp;
        size_t k = lm_utf8_decode(p->t + p->i, p->n - p->i, &cp);
        if (!k)
            return fail(p, p->i, "invalid UTF-8 byte 0x%02x", c);
        if (out)
            lm_buf_add(out, p->t + p->i, k);
        p->i += k;
    }
}

static int isdig(char c)
{
    return c >= '0' && c <= '9';
}

static int number(P *p)
{
    size_t start = p->i;
    if (p->t[p->i] == '-')
        p->i++;
    if (p->i >= p->n || !isdig(p->t[p->i]))
        return fail(p, start, "invalid number: a digit must follow '-'");
    if (p->t[p->i] == '0') {
        p->i++;
        if (p->i < p->n && isdig(p->t[p->i]))
            return fail(p, start, "invalid number: leading zero");
    } else {
        while (p->i < p->n && isdig(p->t[p->i]))
            p->i++;
    }
    if (p->i < p->n && p->t[p->i] == '.') {
        p->i++;
        if (p->i >= p->n || !isdig(p->t[p->i]))
            return fail(p, start, "invalid number: a digit must follow '.'");
        while (p->i < p->n && isdig(p->t[p->i]))
            p->i++;
    }
    if (p->i < p->n && (p->t[p->i] == 'e' || p->t[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->t[p->i] == '+' || p->t[p->i] == '-'))
            p->i++;
        if (p->i >= p->n || !isdig(p->t[p->i]))
            return fail(p, start, "invalid number: a digit must follow the exponent");
        while (p->i < p->n && isdig(p->t[p->i]))
            p->i++;
    }
    return 0;
}

static uint32_t fnv1a(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int value(P *p, lm_jtype *type);

static int object(P *p, int top)
{
    lm_jscan *s = p->s;
    lm_buf *kb = s ? &s->keys : &p->kb;
    /* For duplicate detection the keys of every open object sit on one
     * stack (s->kv); a nested object pops its own keys when it closes. */
    size_t first = s ? s->nkv : 0;
    size_t kbmark = kb->n;
    p->i++; /* '{' */
    if (++p->depth > LM_JSON_MAX_DEPTH)
        return fail(p, p->i - 1, "nesting deeper than %d levels", LM_JSON_MAX_DEPTH);
    ws(p);
    if (p->i < p->n && p->t[p->i] == '}') {
        p->i++;
        p->depth--;
        if (top)
            s->close = p->i - 1;
        return 0;
    }
    for (;;) {
        ws(p);
        if (p->i >= p->n || p->t[p->i] != '"')
            return unexpected(p, "a string key");
        size_t kpos = p->i;
        size_t koff = kb->n;
        if (string(p, kb) < 0)
            return -1;
        size_t klen = kb->n - koff;
        lm_buf_addc(kb, '\0');
        if (s) {
            uint32_t h = fnv1a(kb->p + koff, klen);
            for (size_t j = first; j < s->nkv; j++)
                if (s->kv[j].hash == h && s->kv[j].len == klen &&
                    memcmp(kb->p + s->kv[j].off, kb->p + koff, klen) == 0) {
                    fail(p, kpos, "duplicate key \"%.*s\"", (int)(klen > 60 ? 60 : klen), kb->p + koff);
                    p->err->dup = 1;
                    return -1;
                }
            lm_grow(s->kv, s->capkv, s->nkv + 1);
            s->kv[s->nkv++] = (struct lm_jkey){koff, klen, h};
        }
        ws(p);
        if (p->i >= p->n || p->t[p->i] != ':')
            return unexpected(p, "':' after the key");
        p->i++;
        ws(p);
        size_t vpos = p->i;
        lm_jtype t;
        if (value(p, &t) < 0)
            return -1;
        if (top) {
            lm_grow(s->m, s->cap, s->n + 1);
            s->m[s->n++] = (lm_member){NULL, klen, kpos, vpos, p->i - vpos, t};
            /* key pointer fixed up at the end: kb may move */
            s->m[s->n - 1].key = (const char *)(uintptr_t)koff;
        }
        ws(p);
        if (p->i < p->n && p->t[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->t[p->i] == '}') {
            if (top)
                s->close = p->i;
            p->i++;
            break;
        }
        return unexpected(p, "',' or '}'");
    }
    p->depth--;
    if (s && !top) {
        /* nested object finished: drop its keys from the stack */
        s->nkv = first;
        kb->n = kbmark;
    }
    return 0;
}

static int array(P *p)
{
    p->i++; /* '[' */
    if (++p->depth > LM_JSON_MAX_DEPTH)
        return fail(p, p->i - 1, "nesting deeper than %d levels", LM_JSON_MAX_DEPTH);
    ws(p);
    if (p->i < p->n && p->t[p->i] == ']') {
        p->i++;
        p->depth--;
        return 0;
    }
    for (;;) {
        ws(p);
        lm_jtype t;
        if (value(p, &t) < 0)
            return -1;
        ws(p);
        if (p->i < p->n && p->t[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->t[p->i] == ']') {
            p->i++;
            break;
        }
        return unexpected(p, "',' or ']'");
    }
    p->depth--;
    return 0;
}

static int literal(P *p, const char *w)
{
    size_t k = strlen(w);
    if (p->n - p->i < k || memcmp(p->t + p->i, w, k) != 0)
        return unexpected(p, "a JSON value");
    p->i += k;
    return 0;
}

static int value(P *p, lm_jtype *type)
{
    if (p->i >= p->n)
        return unexpected(p, "a JSON value");
    char c = p->t[p->i];
    switch (c) {
    case '{': *type = LM_J_OBJECT; return object(p, 0);
    case '[': *type = LM_J_ARRAY; return array(p);
    case '"': *type = LM_J_STRING; return string(p, NULL);
    case 't': *type = LM_J_TRUE; return literal(p, "true");
    case 'f': *type = LM_J_FALSE; return literal(p, "false");
    case 'n': *type = LM_J_NULL; return literal(p, "null");
    default:
        if (c == '-' || isdig(c)) {
            *type = LM_J_NUMBER;
            return number(p);
        }
        return unexpected(p, "a JSON value");
    }
}

void lm_jscan_free(lm_jscan *s)
{
    free(s->m);
    free(s->kv);
    lm_buf_free(&s->keys);
    memset(s, 0, sizeof *s);
}

int lm_json_scan_object(lm_jscan *s, const char *text, size_t len, lm_jerr *err)
{
    P p = {.t = text, .n = len, .s = s, .err = err};
    s->n = 0;
    s->nkv = 0;
    lm_buf_reset(&s->keys);
    ws(&p);
    if (p.i >= p.n || p.t[p.i] != '{') {
        /* strchr would find the terminator for a NUL byte */
        if (p.i < p.n && p.t[p.i] && strchr("[\"-0123456789tfn", p.t[p.i]))
            return fail(&p, p.i, "expected a JSON object, found %s",
                        p.t[p.i] == '['   ? "an array"
                        : p.t[p.i] == '"' ? "a string"
                                          : "a scalar");
        return unexpected(&p, "a JSON object");
    }
    if (object(&p, 1) < 0)
        return -1;
    ws(&p);
    if (p.i < p.n)
        return unexpected(&p, "end of line after the object (one JSON value per line)");
    for (size_t k = 0; k < s->n; k++)
        s->m[k].key = s->keys.p + (uintptr_t)s->m[k].key;
    return 0;
}

int lm_json_validate(const char *text, size_t len, lm_jerr *err)
{
    P p = {.t = text, .n = len, .err = err};
    lm_jscan tmp = {0};
    p.s = &tmp; /* so nested objects get duplicate detection too */
    ws(&p);
    lm_jtype t;
    int rc = 0;
    if (p.i < p.n && p.t[p.i] == '{') {
        rc = lm_json_scan_object(&tmp, text, len, err);
    } else {
        rc = value(&p, &t);
        if (rc == 0) {
            ws(&p);
            if (p.i < p.n)
                rc = unexpected(&p, "end of input");
        }
    }
    lm_jscan_free(&tmp);
    lm_buf_free(&p.kb);
    return rc;
}

const lm_member *lm_jscan_get(const lm_jscan *s, const char *key)
{
    size_t kl = strlen(key);
    for (size_t k = 0; k < s->n; k++)
        if (s->m[k].klen == kl && memcmp(s->m[k].key, key, kl) == 0)
            return &s->m[k];
    return NULL;
}

const char *lm_jtype_name(lm_jtype t)
{
    switch (t) {
    case LM_J_NULL: return "null";
    case LM_J_FALSE:
    case LM_J_TRUE: return "a boolean";
    case LM_J_NUMBER: return "a number";
    case LM_J_STRING: return "a string";
    case LM_J_ARRAY: return "an array";
    case LM_J_OBJECT: return "an object";
    }
    return "?";
}

int lm_jnum(const char *raw, size_t len, double *out)
{
    char small[64];
    char *t = len < sizeof small ? small : lm_xmalloc(len + 1);
    memcpy(t, raw, len);
    t[len] = '\0';
    errno = 0;
    double v = strtod(t, NULL);
    int over = errno == ERANGE && isinf(v);
    if (t != small)
        free(t);
    *out = v;
    return over ? -1 : 0;
}

int lm_jint(const char *raw, size_t len, int64_t *out)
{
    int plain = len > 0;
    for (size_t k = 0; k < len; k++)
        if (!(isdig(raw[k]) || (k == 0 && raw[k] == '-')))
            plain = 0;
    if (plain && len < 19) {
        int64_t v = 0;
        size_t k = raw[0] == '-';
        for (; k < len; k++)
            v = v * 10 + (raw[k] - '0');
        *out = raw[0] == '-' ? -v : v;
        return 0;
    }
    if (plain) {
        char t[32];
        if (len >= sizeof t)
            return -1;
        memcpy(t, raw, len);
        t[len] = '\0';
        errno = 0;
        long long v = strtoll(t, NULL, 10);
        if (errno == ERANGE)
            return -1;
        *out = v;
        return 0;
    }
    double d;
    if (lm_jnum(raw, len, &d) < 0 || d != floor(d) || d < -9223372036854775808.0 ||
        d >= 9223372036854775808.0)
        return -1;
    *out = (int64_t)d;
    return 0;
}

void lm_jstr_decode(lm_buf *b, const char *raw, size_t len)
{
    lm_jerr e;
    P p = {.t = raw, .n = len, .err = &e};
    if (len == 0 || raw[0] != '"' || string(&p, b) < 0)
        return; /* raw came from the scanner, so this cannot happen */
}

int lm_jstr_eq(const char *raw, size_t len, const char *s)
{
    size_t sl = strlen(s);
    /* fast path: no escapes */
    if (len == sl + 2 && memchr(raw, '\\', len) == NULL)
        return memcmp(raw + 1, s, sl) == 0;
    lm_buf b = {0};
    lm_jstr_decode(&b, raw, len);
    int eq = b.n == sl && memcmp(b.p ? b.p : "", s, sl) == 0;
    lm_buf_free(&b);
    return eq;
}

void lm_buf_add_jnum(lm_buf *b, double v)
{
    if (isfinite(v) && v == nearbyint(v) && fabs(v) < 1e15)
        lm_buf_printf(b, "%.0f", v == 0 ? 0.0 : v);
    else
        lm_buf_add_num(b, v);
}

void lm_buf_add_jnum_or_null(lm_buf *b, double v)
{
    if (isfinite(v))
        lm_buf_add_jnum(b, v);
    else
        lm_buf_adds(b, "null");
}

void lm_buf_add_jansson(lm_buf *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        int first = 1;
        lm_buf_addc(b, '{');
        json_object_foreach((json_t *)v, k, x)
        {
            if (!first)
                lm_buf_addc(b, ',');
            first = 0;
            lm_buf_add_jstr(b, k, strlen(k));
            lm_buf_addc(b, ':');
            lm_buf_add_jansson(b, x);
        }
        lm_buf_addc(b, '}');
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *x;
        lm_buf_addc(b, '[');
        json_array_foreach(v, i, x)
        {
            if (i)
                lm_buf_addc(b, ',');
            lm_buf_add_jansson(b, x);
        }
        lm_buf_addc(b, ']');
        break;
    }
    case JSON_STRING: lm_buf_add_jstr(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: lm_buf_printf(b, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: lm_buf_add_jnum(b, json_real_value(v)); break;
    case JSON_TRUE: lm_buf_adds(b, "true"); break;
    case JSON_FALSE: lm_buf_adds(b, "false"); break;
    default: lm_buf_adds(b, "null"); break;
    }
}
