/* hftok_norm.c - normalized strings with alignments, the normalizers and the
 * pre-tokenizers of the tokenizer.json engine, bit-compatible with Hugging
 * Face `tokenizers` (NormalizedString::transform, split behaviours,
 * BertNormalizer, Precompiled (SentencePiece charsmap), NFC/NFD/NFKC/NFKD,
 * Lowercase, Strip, StripAccents, Replace, Prepend; BertPreTokenizer,
 * Metaspace, ByteLevel, Whitespace, WhitespaceSplit, Split, Punctuation,
 * Digits, Sequence).
 *
 * Every byte of a normalized string carries the [start, end) byte range of
 * the original text it came from, so token offsets map back exactly as in
 * `tokenizers`.  Regexes run through PCRE2 (UTF, UCP, JIT); `\s` in them is
 * rewritten to the White_Space set that Oniguruma and Rust use.
 * Not done here: the models (hftok_model.c) and the pipeline (tokenizer.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "text/hftok_internal.h"
#include "text/hftok_unicode.h"
#include "core/diag.h"

size_t lm_hft_dec(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) {
        *cp = 0;
        return 0;
    }
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if (u[0] < 0xE0 && n >= 2) {
        *cp = ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
        return 2;
    }
    if (u[0] < 0xF0 && n >= 3) {
        *cp = ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
        return 3;
    }
    if (n >= 4) {
        *cp = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
              ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
        return 4;
    }
    *cp = u[0];
    return 1;
}

size_t lm_hft_enc(uint32_t c, char *o)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

static size_t clen(unsigned char b)
{
    return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

static void reserve(hft_work *w, size_t extra);

size_t lm_hft_append(hft_work *w, const char *s, size_t n, size_t a0, size_t a1)
{
    reserve(w, n);
    size_t at = w->n;
    memcpy(w->s + at, s, n);
    for (size_t i = 0; i < n; i++) {
        w->al[at + i][0] = a0;
        w->al[at + i][1] = a1;
    }
    w->n += n;
    return at;
}

/* makes room for extra bytes in the arena (s and al, both of w->cap) */
static void reserve(hft_work *w, size_t extra)
{
    size_t need = w->n + extra + 1;
    if (need <= w->cap && w->al)
        return;
    lm_grow(w->s, w->cap, need > 64 ? need : 64);
    w->al = lm_xrealloc(w->al, lm_xmul(w->cap, sizeof *w->al));
}

void lm_hft_transform(hft_work *w, hft_piece *pc, const hft_tc *tc, size_t ntc, size_t initial_removed)
{
    reserve(w, 4 * ntc);
    const char *old = w->s + pc->off;
    size_t olen = pc->len, offset = 0;
    for (size_t k = 0; k < initial_removed && offset < olen; k++)
        offset += clen((unsigned char)old[offset]);
    size_t at = w->n;
    for (size_t i = 0; i < ntc; i++) {
        size_t a0, a1;
        size_t idx = offset;
        if (tc[i].ch > 0) {
            if (idx < 1 || pc->len == 0) {
                a0 = a1 = pc->shift;
            } else {
                size_t j = idx - 1 < olen ? idx - 1 : olen - 1;
                a0 = w->al[pc->off + j][0];
                a1 = w->al[pc->off + j][1];
            }
        } else {
            if (olen == 0) {
                a0 = a1 = pc->shift;
            } else {
                size_t j = idx < olen ? idx : olen - 1;
                a0 = w->al[pc->off + j][0];
                a1 = w->al[pc->off + j][1];
            }
            if (offset < olen)
                offset += clen((unsigned char)old[offset]);
            for (int32_t k = 0; k < -tc[i].ch && offset < olen; k++)
                offset += clen((unsigned char)old[offset]);
        }
        size_t m = lm_hft_enc(tc[i].c, w->s + w->n);
        for (size_t b = 0; b < m; b++) {
            w->al[w->n + b][0] = a0;
            w->al[w->n + b][1] = a1;
        }
        w->n += m;
    }
    pc->off = at;
    pc->len = w->n - at;
}

/* ---------------------------------------------------------------- patterns */

void lm_hft_pattern_free(hft_pattern *p)
{
    free(p->str);
    if (p->re)
        pcre2_code_free(p->re);
    memset(p, 0, sizeof *p);
}

#define WS_SET \
    "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

/* Rewrites \s and \S (outside and inside classes) to the White_Space set. */
static char *rewrite_regex(const char *re, size_t n)
{
    lm_buf b = {0};
    int incls = 0;
    for (size_t i = 0; i < n; i++) {
        char c = re[i];
        if (c == '\\' && i + 1 < n) {
            char d = re[i + 1];
            if (d == 's')
                lm_buf_adds(&b, incls ? WS_SET : "[" WS_SET "]");
            else if (d == 'S' && !incls)
                lm_buf_adds(&b, "[^" WS_SET "]");
            else
                lm_buf_add(&b, re + i, 2);
            i++;
            continue;
        }
        if (c == '[' && !incls) {
            incls = 1;
            lm_buf_addc(&b, c);
            if (i + 1 < n && re[i + 1] == '^')
                lm_buf_addc(&b, re[++i]);
            if (i + 1 < n && re[i + 1] == ']')
                lm_buf_addc(&b, re[++i]);
            continue;
        }
        if (c == ']' && incls)
            incls = 0;
        lm_buf_addc(&b, c);
    }
    if (!b.p)
        lm_buf_adds(&b, "");
    return b.p;
}

static pcre2_code *compile_re(const char *src, size_t n, const char *what, char *err, size_t errlen)
{
    char *rw = rewrite_regex(src, n);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)rw, strlen(rw), PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    free(rw);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        lm_seterr(err, errlen, "%s: regex /%.*s/ does not compile: %s", what, (int)(n > 80 ? 80 : n), src,
                  (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if JIT is unavailable */
    return re;
}

int lm_hft_pattern_parse(json_t *j, hft_pattern *p, const char *what, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    json_t *s = json_object_get(j, "String"), *r = json_object_get(j, "Regex");
    if (json_is_string(s)) {
        p->len = json_string_length(s);
        p->str = lm_xmalloc(p->len + 1);
        memcpy(p->str, json_string_value(s), p->len + 1);
        return 0;
    }
    if (json_is_string(r)) {
        p->re = compile_re(json_string_value(r), json_string_length(r), what, err, errlen);
        return p->re ? 0 : -1;
    }
    lm_seterr(err, errlen, "%s.pattern must be {\"String\": ...} or {\"Regex\": ...}", what);
    return -1;
}

int lm_hft_pattern_nonempty(const hft_pattern *p, const char *what, char *err, size_t errlen)
{
    uint32_t min = 1;
    if (p->re)
        pcre2_pattern_info(p->re, PCRE2_INFO_MINLENGTH, &min);
    else
        min = p->len > 0;
    if (min > 0)
        return 0;
    lm_seterr(
        err, errlen,
        "%s: the pattern can match the empty string, so its content would be inserted between every two "
        "characters (a few such steps grow a text without bound); use a pattern that matches at least one "
        "character",
        what);
    return -1;
}

static void mt_push(hft_work *w, size_t s, size_t e, size_t m)
{
    lm_grow(w->mt, w->mtcap, w->nmt + 1);
    w->mt[w->nmt][0] = s;
    w->mt[w->nmt][1] = e;
    w->mt[w->nmt][2] = m;
    w->nmt++;
}

static void re_find(const pcre2_code *re, hft_work *w, const char *s, size_t n)
{
    w->nmt = 0;
    if (n == 0) {
        mt_push(w, 0, 0, 0);
        return;
    }
    size_t prev = 0, pos = 0;
    while (pos <= n) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, w->md, NULL);
        if (rc < 0)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md);
        size_t ms = ov[0], me = ov[1];
        if (prev != ms)
            mt_push(w, prev, ms, 0);
        mt_push(w, ms, me, 1);
        prev = me;
        if (me == ms) { /* empty match: step one character */
            if (me >= n)
                break;
            pos = me + clen((unsigned char)s[me]);
        } else {
            pos = me;
        }
    }
    if (prev != n)
        mt_push(w, prev, n, 0);
}

static void str_find(const char *pat, size_t pn, hft_work *w, const char *s, size_t n)
{
    w->nmt = 0;
    if (n == 0 || pn == 0) {
        mt_push(w, 0, n, 0);
        return;
    }
    size_t prev = 0, i = 0;
    while (i + pn <= n) {
        if (memcmp(s + i, pat, pn) == 0) {
            if (prev != i)
                mt_push(w, prev, i, 0);
            mt_push(w, i, i + pn, 1);
            i += pn;
            prev = i;
        } else {
            i++;
        }
    }
    if (prev != n)
        mt_push(w, prev, n, 0);
}

void lm_hft_pattern_find(const hft_pattern *p, hft_work *w, const char *s, size_t n)
{
    if (p->re)
        re_find(p->re, w, s, n);
    else
        str_find(p->str, p->len, w, s, n);
}

enum { PRED_SPACE, PRED_PUNCT, PRED_NUMERIC, PRED_CHAR };

static int pred(int kind, uint32_t c, uint32_t arg)
{
    switch (kind) {
    case PRED_SPACE: return lm_hft_is_space(c);
    case PRED_PUNCT: return lm_hft_is_punct(c);
    case PRED_NUMERIC: return lm_hft_is_numeric(c);
    default: return c == arg;
    }
}

static void pred_find(int kind, uint32_t arg, hft_work *w, const char *s, size_t n)
{
    w->nmt = 0;
    if (n == 0) {
        mt_push(w, 0, 0, 0);
        return;
    }
    size_t last = 0, i = 0;
    while (i < n) {
        uint32_t c;
        size_t l = lm_hft_dec(s + i, n - i, &c);
        if (pred(kind, c, arg)) {
            if (last < i)
                mt_push(w, last, i, 0);
            mt_push(w, i, i + l, 1);
            last = i + l;
        }
        i += l;
    }
    if (n > last)
        mt_push(w, last, n, 0);
}

/* ------------------------------------------------------------- normalizers */

enum {
    N_BERT,
    N_PRECOMPILED,
    N_NFC,
    N_NFKC,
    N_NFD,
    N_NFKD,
    N_LOWER,
    N_STRIP,
    N_STRIPACC,
    N_REPLACE,
    N_PREPEND,
    N_SEQ
};

struct hft_norm {
    int type;
    int clean, chinese, strip_acc, lower; /* BertNormalizer */
    int left, right;                      /* Strip */
    hft_pattern pat;                      /* Replace */
    char *content;                        /* Replace content, Prepend text */
    size_t clen;
    uint32_t *trie; /* Precompiled double array */
    size_t ntrie;
    char *pnorm; /* Precompiled replacement blob */
    size_t npnorm;
    pcre2_code *grapheme;
    hft_norm **sub;
    size_t nsub;
};

void lm_hft_norm_free(hft_norm *nm)
{
    if (!nm)
        return;
    lm_hft_pattern_free(&nm->pat);
    free(nm->content);
    free(nm->trie);
    free(nm->pnorm);
    if (nm->grapheme)
        pcre2_code_free(nm->grapheme);
    for (size_t i = 0; i < nm->nsub; i++)
        lm_hft_norm_free(nm->sub[i]);
    free(nm->sub);
    free(nm);
}

static void tc_push(hft_work *w, uint32_t c, int32_t ch)
{
    lm_grow(w->tc, w->tccap, w->ntc + 1);
    w->tc[w->ntc].c = c;
    w->tc[w->ntc].ch = ch;
    w->ntc++;
}

static int is_chinese(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) ||
           (c >= 0x2B920 && c <= 0x2CEAF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* NormalizedString::filter(keep): removed characters fold into the kept one before them */
static void do_filter(hft_work *w, hft_piece *pc, int (*keep)(uint32_t))
{
    const char *s = w->s + pc->off;
    size_t n = pc->len, removed = 0, removed_start = 0;
    int have_last = 0, changed = 0;
    uint32_t last = 0;
    w->ntc = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        i += lm_hft_dec(s + i, n - i, &c);
        if (keep(c)) {
            if (have_last)
                tc_push(w, last, -(int32_t)removed);
            else
                removed_start = removed;
            last = c;
            have_last = 1;
            removed = 0;
        } else {
            removed++;
            changed = 1;
        }
    }
    if (!changed)
        return;
    if (have_last)
        tc_push(w, last, -(int32_t)removed);
    else
        removed_start = removed;
    lm_hft_transform(w, pc, w->tc, w->ntc, removed_start);
}

static int keep_clean(uint32_t c)
{
    if (c == 0 || c == 0xFFFD)
        return 0;
    if (c == '\t' || c == '\n' || c == '\r')
        return 1;
    int g = lm_hft_category(c);
    return !(g == HFT_Cc || g == HFT_Cf || g == HFT_Co || g == HFT_Cs);
}

static int keep_nonmn(uint32_t c)
{
    return c < 0x300 || lm_hft_category(c) != HFT_Mn;
}

static int all_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* Unicode normalization form: compat decomposition?, compose? */
static void do_unf(hft_work *w, hft_piece *pc, int compat, int compose)
{
    const char *s = w->s + pc->off;
    size_t n = pc->len;
    if (all_ascii(s, n))
        return;
    w->ntc = 0;
    uint32_t d[32];
    for (size_t i = 0; i < n;) {
        uint32_t c;
        i += lm_hft_dec(s + i, n - i, &c);
        size_t k = lm_hft_decompose(c, compat, d);
        for (size_t j = 0; j < k; j++)
            tc_push(w, d[j], j > 0);
    }
    /* canonical ordering: stable sort of each run of non-starters by class */
    hft_tc *t = w->tc;
    size_t nt = w->ntc;
    for (size_t i = 0; i < nt;) {
        if (lm_hft_ccc(t[i].c) == 0) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < nt && lm_hft_ccc(t[j].c) != 0)
            j++;
        for (size_t a = i + 1; a < j; a++) { /* insertion sort, stable */
            hft_tc x = t[a];
            int cx = lm_hft_ccc(x.c);
            size_t b = a;
            while (b > i && lm_hft_ccc(t[b - 1].c) > cx) {
                t[b] = t[b - 1];
                b--;
            }
            t[b] = x;
        }
        i = j;
    }
    if (compose) {
        size_t o = 0;
        long starter = -1;
        int last_cc = 0;
        for (size_t i = 0; i < nt; i++) {
            int cc = lm_hft_ccc(t[i].c);
            if (starter >= 0 && (last_cc == 0 || last_cc < cc) &&
                !(last_cc == 0 && (size_t)starter + 1 != o)) {
                uint32_t comp = lm_hft_compose(t[starter].c, t[i].c);
                if (comp) {
                    t[starter].c = comp;
                    t[starter].ch += t[i].ch - 1;
                    continue;
                }
            }
            if (cc == 0) {
                starter = (long)o;
                last_cc = 0;
            } else {
                last_cc = cc;
            }
            t[o++] = t[i];
        }
        nt = o;
        w->ntc = nt;
    }
    /* unchanged? then leave the piece as is */
    size_t i = 0, k = 0;
    for (; i < n && k < nt; k++) {
        uint32_t c;
        i += lm_hft_dec(s + i, n - i, &c);
        if (c != t[k].c)
            break;
    }
    if (i == n && k == nt)
        return;
    lm_hft_transform(w, pc, t, nt, 0);
}

static void do_lower(hft_work *w, hft_piece *pc)
{
    const char *s = w->s + pc->off;
    size_t n = pc->len;
    int changed = 0;
    w->ntc = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c, l[3];
        i += lm_hft_dec(s + i, n - i, &c);
        size_t k = lm_hft_lower(c, l);
        if (k != 1 || l[0] != c)
            changed = 1;
        for (size_t j = 0; j < k; j++)
            tc_push(w, l[j], j > 0);
    }
    if (changed)
        lm_hft_transform(w, pc, w->tc, w->ntc, 0);
}

static void do_bert(const hft_norm *nm, hft_work *w, hft_piece *pc)
{
    if (nm->clean) {
        do_filter(w, pc, keep_clean);
        const char *s = w->s + pc->off;
        size_t n = pc->len;
        int changed = 0;
        w->ntc = 0;
        for (size_t i = 0; i < n;) {
            uint32_t c;
            i += lm_hft_dec(s + i, n - i, &c);
            if (c != ' ' && lm_hft_is_space(c)) {
                c = ' ';
                changed = 1;
            }
            tc_push(w, c, 0);
        }
        if (changed)
            lm_hft_transform(w, pc, w->tc, w->ntc, 0);
    }
    if (nm->chinese) {
        const char *s = w->s + pc->off;
        size_t n = pc->len;
        int changed = 0;
        w->ntc = 0;
        for (size_t i = 0; i < n;) {
            uint32_t c;
            i += lm_hft_dec(s + i, n - i, &c);
            if (is_chinese(c)) {
                changed = 1;
                tc_push(w, ' ', 0);
                tc_push(w, c, 1);
                tc_push(w, ' ', 1);
            } else {
                tc_push(w, c, 0);
            }
        }
        if (changed)
            lm_hft_transform(w, pc, w->tc, w->ntc, 0);
    }
    if (nm->strip_acc) {
        do_unf(w, pc, 0, 0);
        do_filter(w, pc, keep_nonmn);
    }
    if (nm->lower)
        do_lower(w, pc);
}

/* Precompiled: first value of the double array's common prefix search */
static const char *charsmap_lookup(const hft_norm *nm, const char *key, size_t n, size_t *outlen)
{
    const uint32_t *a = nm->trie;
    size_t na = nm->ntrie;
    if (na == 0)
        return NULL;
    size_t pos = 0;
    uint32_t unit = a[0];
#define OFFSET(u) (((size_t)(u) >> 10) << (((u) & (1u << 9)) >> 6))
    pos ^= OFFSET(unit);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c == 0)
            break;
        pos ^= c;
        if (pos >= na)
            return NULL;
        unit = a[pos];
        if ((unit & ((1u << 31) | 0xFF)) != c)
            return NULL;
        pos ^= OFFSET(unit);
        if ((unit >> 8) & 1) {
            if (pos >= na)
                return NULL;
            size_t v = a[pos] & ((1u << 31) - 1);
            if (v >= nm->npnorm)
                return NULL;
            size_t e = v;
            while (e < nm->npnorm && nm->pnorm[e])
                e++;
            *outlen = e - v;
            return nm->pnorm + v;
        }
    }
#undef OFFSET
    return NULL;
}

static size_t count_chars(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

static void pc_replace(hft_work *w, const char *norm, size_t nlen, size_t oldchars)
{
    size_t newchars = 0;
    for (size_t i = 0; i < nlen;) {
        uint32_t c;
        i += lm_hft_dec(norm + i, nlen - i, &c);
        tc_push(w, c, 0);
        newchars++;
    }
    long diff = (long)newchars - (long)oldchars;
    if (diff > 0) {
        for (long k = 0; k < diff && (size_t)k < w->ntc; k++)
            w->tc[w->ntc - 1 - (size_t)k].ch = 1;
    } else if (diff < 0 && w->ntc > 0) {
        w->tc[w->ntc - 1].ch += (int32_t)diff;
    }
}

static void do_precompiled(const hft_norm *nm, hft_work *w, hft_piece *pc)
{
    const char *s = w->s + pc->off;
    size_t n = pc->len;
    int modified = 0;
    w->ntc = 0;
    size_t i = 0;
    while (i < n) {
        /* grapheme cluster [i, ge) */
        size_t ge;
        unsigned char b = (unsigned char)s[i];
        if (b < 0x80 && b != '\r' && (i + 1 >= n || (unsigned char)s[i + 1] < 0x80)) {
            ge = i + 1;
        } else {
            int rc = pcre2_match(nm->grapheme, (PCRE2_SPTR)s, n, i, PCRE2_NO_UTF_CHECK | PCRE2_ANCHORED,
                                 w->md, NULL);
            ge = rc > 0 ? pcre2_get_ovector_pointer(w->md)[1] : i + clen(b);
            if (ge <= i || ge > n)
                ge = i + clen(b) <= n ? i + clen(b) : n;
        }
        size_t glen = ge - i, nl;
        const char *norm;
        if (glen < 6 && (norm = charsmap_lookup(nm, s + i, glen, &nl)) != NULL) {
            modified = 1;
            pc_replace(w, norm, nl, count_chars(s + i, glen));
            s = w->s + pc->off;
        } else {
            for (size_t j = i; j < ge;) {
                uint32_t c;
                size_t l = lm_hft_dec(s + j, ge - j, &c);
                if ((norm = charsmap_lookup(nm, s + j, l, &nl)) != NULL) {
                    modified = 1;
                    pc_replace(w, norm, nl, 1);
                    s = w->s + pc->off;
                } else {
                    tc_push(w, c, 0);
                }
                j += l;
            }
        }
        i = ge;
    }
    if (modified)
        lm_hft_transform(w, pc, w->tc, w->ntc, 0);
}

/* NormalizedString::replace with every content character aligned to the
 * last byte of the match */
static void do_replace(const hft_pattern *pat, const char *content, size_t cl, hft_work *w, hft_piece *pc)
{
    lm_hft_pattern_find(pat, w, w->s + pc->off, pc->len);
    int any = 0;
    for (size_t k = 0; k < w->nmt; k++)
        any |= (int)w->mt[k][2];
    if (!any)
        return;
    size_t total = pc->len + lm_xmul(w->nmt, cl);
    if (total > w->limit) {
        w->over = 1;
        return;
    }
    reserve(w, total);
    size_t at = w->n;
    for (size_t k = 0; k < w->nmt; k++) {
        size_t ms = w->mt[k][0], me = w->mt[k][1];
        if (!w->mt[k][2]) {
            memcpy(w->s + w->n, w->s + pc->off + ms, me - ms);
            memcpy(w->al + w->n, w->al + pc->off + ms, (me - ms) * sizeof *w->al);
            w->n += me - ms;
        } else {
            size_t a0 = pc->shift, a1 = pc->shift;
            if (me >= 1 && pc->len) {
                size_t j = me - 1 < pc->len ? me - 1 : pc->len - 1;
                a0 = w->al[pc->off + j][0];
                a1 = w->al[pc->off + j][1];
            }
            memcpy(w->s + w->n, content, cl);
            for (size_t b = 0; b < cl; b++) {
                w->al[w->n + b][0] = a0;
                w->al[w->n + b][1] = a1;
            }
            w->n += cl;
        }
    }
    pc->off = at;
    pc->len = w->n - at;
}

/* NormalizedString::prepend */
static void do_prepend(const char *pre, size_t pl, hft_work *w, hft_piece *pc)
{
    if (pc->len == 0 || pl == 0)
        return;
    reserve(w, pl + pc->len);
    size_t fl = clen((unsigned char)w->s[pc->off]);
    if (fl > pc->len)
        fl = pc->len;
    size_t at = w->n;
    size_t f0 = w->al[pc->off][0], f1 = w->al[pc->off][1];
    size_t l0 = w->al[pc->off + fl - 1][0], l1 = w->al[pc->off + fl - 1][1];
    size_t first = clen((unsigned char)pre[0]);
    memcpy(w->s + w->n, pre, pl);
    for (size_t b = 0; b < pl; b++) {
        w->al[w->n + b][0] = b < first ? f0 : l0;
        w->al[w->n + b][1] = b < first ? f1 : l1;
    }
    w->n += pl;
    memcpy(w->s + w->n, w->s + pc->off, pc->len);
    for (size_t b = 0; b < pc->len; b++) {
        w->al[w->n + b][0] = b < fl ? l0 : w->al[pc->off + b][0];
        w->al[w->n + b][1] = b < fl ? l1 : w->al[pc->off + b][1];
    }
    w->n += pc->len;
    pc->off = at;
    pc->len = w->n - at;
}

static void do_strip(int left, int right, hft_work *w, hft_piece *pc)
{
    const char *s = w->s + pc->off;
    size_t n = pc->len, count = 0, lead = 0, trail = 0;
    uint32_t c;
    for (size_t i = 0; i < n;)
        i += lm_hft_dec(s + i, n - i, &c), count++;
    if (left)
        for (size_t i = 0; i < n;) {
            i += lm_hft_dec(s + i, n - i, &c);
            if (!lm_hft_is_space(c))
                break;
            lead++;
        }
    if (right)
        for (size_t i = n; i > 0;) {
            size_t j = i - 1;
            while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80)
                j--;
            lm_hft_dec(s + j, i - j, &c);
            if (!lm_hft_is_space(c))
                break;
            trail++;
            i = j;
        }
    if (lead == 0 && trail == 0)
        return;
    if (lead == count)
        trail = 0; /* all spaces: counted from both ends */
    w->ntc = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; k++) {
        i += lm_hft_dec(s + i, n - i, &c);
        if (k < lead || k >= count - trail)
            continue;
        /* the reference compares the character index with the byte length */
        int32_t ch = (n >= trail + 1 && k == n - trail - 1) ? -(int32_t)trail : 0;
        tc_push(w, c, ch);
    }
    lm_hft_transform(w, pc, w->tc, w->ntc, lead);
}

void lm_hft_normalize(const hft_norm *nm, hft_work *w, hft_piece *pc)
{
    if (!nm || w->over)
        return;
    switch (nm->type) {
    case N_BERT: do_bert(nm, w, pc); break;
    case N_PRECOMPILED: do_precompiled(nm, w, pc); break;
    case N_NFC: do_unf(w, pc, 0, 1); break;
    case N_NFKC: do_unf(w, pc, 1, 1); break;
    case N_NFD: do_unf(w, pc, 0, 0); break;
    case N_NFKD: do_unf(w, pc, 1, 0); break;
    case N_LOWER: do_lower(w, pc); break;
    case N_STRIP: do_strip(nm->left, nm->right, w, pc); break;
    case N_STRIPACC: do_filter(w, pc, keep_nonmn); break;
    case N_REPLACE: do_replace(&nm->pat, nm->content, nm->clen, w, pc); break;
    case N_PREPEND: do_prepend(nm->content, nm->clen, w, pc); break;
    case N_SEQ:
        for (size_t i = 0; i < nm->nsub && !w->over; i++) {
            lm_hft_normalize(nm->sub[i], w, pc);
            if (pc->len > w->limit)
                w->over = 1;
        }
        break;
    }
}

/* ---- JSON helpers (declared in hftok_internal.h, used by tokenizer.c too) ---- */

int lm_hft_json_bool(json_t *j, const char *key, int def, const char *what, char *err, size_t errlen,
                     int *out)
{
    json_t *v = json_object_get(j, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v)) {
        lm_seterr(err, errlen, "%s.%s must be true or false", what, key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

int lm_hft_json_str(json_t *j, const char *key, const char *def, const char *what, char *err, size_t errlen,
                    char **out, size_t *len)
{
    json_t *v = json_object_get(j, key);
    const char *s = def;
    size_t n = def ? strlen(def) : 0;
    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) {
            lm_seterr(err, errlen, "%s.%s must be a string", what, key);
            return -1;
        }
        s = json_string_value(v);
        n = json_string_length(v);
    }
    if (!s) {
        lm_seterr(err, errlen, "%s.%s is missing", what, key);
        return -1;
    }
    *out = lm_xstrndup(s, n);
    if (len)
        *len = n;
    return 0;
}

const char *lm_hft_json_type(json_t *j, const char *what, char *err, size_t errlen)
{
    if (!json_is_object(j)) {
        lm_seterr(err, errlen, "%s must be an object", what);
        return NULL;
    }
    json_t *t = json_object_get(j, "type");
    if (!json_is_string(t)) {
        lm_seterr(err, errlen, "%s.type is missing or not a string", what);
        return NULL;
    }
    return json_string_value(t);
}

int lm_hft_json_seq(json_t *j, const char *key, const char *what, void *slots, size_t *n, hft_seq_fn *one,
                    char *err, size_t errlen)
{
    json_t *a = json_object_get(j, key);
    if (!json_is_array(a)) {
        lm_seterr(err, errlen, "%s.%s must be an array", what, key);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        char name[128];
        snprintf(name, sizeof name, "%.60s.%s[%zu]", what, key, i);
        if (one(slots, i, json_array_get(a, i), name, err, errlen))
            return -1;
        (*n)++;
    }
    return 0;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static unsigned char *b64decode(const char *s, size_t n, size_t *outn)
{
    unsigned char *o = lm_xmalloc(n / 4 * 3 + 3);
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    size_t i = 0;
    for (; i < n && s[i] != '='; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0) {
            free(o);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (unsigned char)(acc >> bits);
        }
    }
    for (; i < n; i++)
        if (s[i] != '=') {
            free(o);
            return NULL;
        }
    *outn = k;
    return o;
}

static int parse_precompiled(hft_norm *nm, json_t *j, const char *what, char *err, size_t errlen)
{
    json_t *v = json_object_get(j, "precompiled_charsmap");
    if (!json_is_string(v)) {
        lm_seterr(err, errlen, "%s.precompiled_charsmap must be a base64 string", what);
        return -1;
    }
    size_t n;
    unsigned char *blob = b64decode(json_string_value(v), json_string_length(v), &n);
    if (!blob) {
        lm_seterr(err, errlen, "%s.precompiled_charsmap is not valid base64", what);
        return -1;
    }
    if (n < 4) {
        free(blob);
        lm_seterr(err, errlen, "%s.precompiled_charsmap cannot be parsed (too short)", what);
        return -1;
    }
    size_t tsz = (size_t)blob[0] | (size_t)blob[1] << 8 | (size_t)blob[2] << 16 | (size_t)blob[3] << 24;
    if (tsz / 4 * 4 > n - 4) {
        free(blob);
        lm_seterr(err, errlen, "%s.precompiled_charsmap cannot be parsed (trie size %zu > %zu bytes)", what,
                  tsz, n - 4);
        return -1;
    }
    nm->ntrie = tsz / 4;
    nm->trie = lm_xmalloc((nm->ntrie + 1) * sizeof *nm->trie);
    nm->npnorm = n - 4 - nm->ntrie * 4;
    nm->pnorm = lm_xmalloc(nm->npnorm + 1);
    for (size_t i = 0; i < nm->ntrie; i++) {
        const unsigned char *p = blob + 4 + 4 * i;
        nm->trie[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    }
    memcpy(nm->pnorm, blob + 4 + 4 * nm->ntrie, nm->npnorm);
    free(blob);
    if ((lm_utf8_valid_prefix(nm->pnorm, nm->npnorm, 0) != nm->npnorm)) {
        lm_seterr(err, errlen, "%s.precompiled_charsmap: the normalized strings are not valid UTF-8", what);
        return -1;
    }
    int ec;
    PCRE2_SIZE eo;
    nm->grapheme = pcre2_compile((PCRE2_SPTR) "\\X", 2, PCRE2_UTF, &ec, &eo, NULL);
    if (!nm->grapheme) {
        lm_seterr(err, errlen, "%s: cannot compile the grapheme pattern", what);
        return -1;
    }
    pcre2_jit_compile(nm->grapheme, PCRE2_JIT_COMPLETE);
    return 0;
}

static int norm_seq_one(void *slots, size_t i, json_t *elem, const char *name, char *err, size_t errlen)
{
    hft_norm **sub = slots;
    return (sub[i] = lm_hft_norm_parse(elem, name, err, errlen)) ? 0 : -1;
}

hft_norm *lm_hft_norm_parse(json_t *j, const char *what, char *err, size_t errlen)
{
    const char *t = lm_hft_json_type(j, what, err, errlen);
    if (!t)
        return NULL;
    hft_norm *nm = lm_xcalloc(1, sizeof *nm);
    int rc = 0;
    if (!strcmp(t, "BertNormalizer")) {
        nm->type = N_BERT;
        int sa = -1;
        json_t *v = json_object_get(j, "strip_accents");
        rc = lm_hft_json_bool(j, "clean_text", 1, what, err, errlen, &nm->clean) ||
             lm_hft_json_bool(j, "handle_chinese_chars", 1, what, err, errlen, &nm->chinese) ||
             lm_hft_json_bool(j, "lowercase", 1, what, err, errlen, &nm->lower) ||
             lm_hft_json_bool(j, "strip_accents", -1, what, err, errlen, &sa);
        (void)v;
        nm->strip_acc = sa < 0 ? nm->lower : sa;
    } else if (!strcmp(t, "Precompiled")) {
        nm->type = N_PRECOMPILED;
        rc = parse_precompiled(nm, j, what, err, errlen);
    } else if (!strcmp(t, "NFC")) {
        nm->type = N_NFC;
    } else if (!strcmp(t, "NFKC")) {
        nm->type = N_NFKC;
    } else if (!strcmp(t, "NFD")) {
        nm->type = N_NFD;
    } else if (!strcmp(t, "NFKD")) {
        nm->type = N_NFKD;
    } else if (!strcmp(t, "Lowercase")) {
        nm->type = N_LOWER;
    } else if (!strcmp(t, "StripAccents")) {
        nm->type = N_STRIPACC;
    } else if (!strcmp(t, "Strip")) {
        nm->type = N_STRIP;
        rc = lm_hft_json_bool(j, "strip_left", 1, what, err, errlen, &nm->left) ||
             lm_hft_json_bool(j, "strip_right", 1, what, err, errlen, &nm->right);
    } else if (!strcmp(t, "Replace")) {
        nm->type = N_REPLACE;
        char sub[128];
        snprintf(sub, sizeof sub, "%s (Replace)", what);
        rc = lm_hft_pattern_parse(json_object_get(j, "pattern"), &nm->pat, sub, err, errlen) ||
             lm_hft_pattern_nonempty(&nm->pat, sub, err, errlen) ||
             lm_hft_json_str(j, "content", NULL, what, err, errlen, &nm->content, &nm->clen);
    } else if (!strcmp(t, "Prepend")) {
        nm->type = N_PREPEND;
        rc = lm_hft_json_str(j, "prepend", NULL, what, err, errlen, &nm->content, &nm->clen);
    } else if (!strcmp(t, "Sequence")) {
        nm->type = N_SEQ;
        nm->sub = lm_xcalloc(json_array_size(json_object_get(j, "normalizers")) + 1, sizeof *nm->sub);
        rc = lm_hft_json_seq(j, "normalizers", what, nm->sub, &nm->nsub, norm_seq_one, err, errlen);
    } else {
        lm_seterr(err, errlen, "%s.type '%.60s' is not supported", what, t);
        rc = -1;
    }
    if (rc) {
        lm_hft_norm_free(nm);
        return NULL;
    }
    return nm;
}

/* ---------------------------------------------------------- pre-tokenizers */

enum { P_BERT, P_METASPACE, P_BYTELEVEL, P_WHITESPACE, P_WSSPLIT, P_SPLIT, P_PUNCT, P_DIGITS, P_SEQ };
enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER };

struct hft_pretok {
    int type;
    int behavior, invert;
    hft_pattern pat; /* Split; Whitespace and ByteLevel regex in pat.re */
    uint32_t repl;   /* Metaspace replacement */
    char repl_s[8];
    size_t repl_n;
    int prepend, split;              /* Metaspace */
    int add_prefix_space, use_regex; /* ByteLevel */
    int individual;                  /* Digits */
    hft_pretok **sub;
    size_t nsub;
};

void lm_hft_pretok_free(hft_pretok *pt)
{
    if (!pt)
        return;
    lm_hft_pattern_free(&pt->pat);
    for (size_t i = 0; i < pt->nsub; i++)
        lm_hft_pretok_free(pt->sub[i]);
    free(pt->sub);
    free(pt);
}

static void q_push(hft_work *w, const hft_piece *pc, size_t s, size_t e)
{
    if (e <= s)
        return;
    lm_grow(w->q, w->qcap, w->nq + 1);
    hft_piece *o = &w->q[w->nq++];
    o->off = pc->off + s;
    o->len = e - s;
    o->shift = w->al[pc->off + s][0];
    o->tok = -1;
}

/* applies w->mt (with invert) to piece pc by behavior, pushing to w->q */
static void split_by(hft_work *w, const hft_piece *pc, int behavior, int invert)
{
    size_t(*m)[3] = w->mt;
    size_t n = w->nmt;
    if (invert)
        for (size_t i = 0; i < n; i++)
            m[i][2] = !m[i][2];
    switch (behavior) {
    case HFT_ISOLATED:
        for (size_t i = 0; i < n; i++)
            q_push(w, pc, m[i][0], m[i][1]);
        return;
    case HFT_REMOVED:
        for (size_t i = 0; i < n; i++)
            if (!m[i][2])
                q_push(w, pc, m[i][0], m[i][1]);
        return;
    case HFT_CONTIGUOUS:
    case HFT_MERGED_PREV: {
        /* fold into an output list in place: o entries */
        size_t o = 0;
        int prev = 0;
        for (size_t i = 0; i < n; i++) {
            int im = (int)m[i][2];
            int merge = behavior == HFT_CONTIGUOUS ? (im == prev) : (im && !prev);
            if (merge && o > 0) {
                m[o - 1][1] = m[i][1];
            } else {
                m[o][0] = m[i][0];
                m[o][1] = m[i][1];
                o++;
            }
            prev = im;
        }
        for (size_t i = 0; i < o; i++)
            q_push(w, pc, m[i][0], m[i][1]);
        return;
    }
    case HFT_MERGED_NEXT: {
        /* reverse fold: a match joins the piece after it */
        size_t o = n;
        int prev = 0;
        for (size_t i = n; i-- > 0;) {
            int im = (int)m[i][2];
            if (im && !prev && o < n) {
                m[o][0] = m[i][0];
            } else {
                o--;
                m[o][0] = m[i][0];
                m[o][1] = m[i][1];
            }
            prev = im;
        }
        for (size_t i = o; i < n; i++)
            q_push(w, pc, m[i][0], m[i][1]);
        return;
    }
    }
}

static void split_pred(hft_work *w, const hft_piece *pc, int kind, uint32_t arg, int behavior)
{
    pred_find(kind, arg, w, w->s + pc->off, pc->len);
    split_by(w, pc, behavior, 0);
}

static void split_re(hft_work *w, const hft_piece *pc, const hft_pattern *p, int behavior, int invert)
{
    lm_hft_pattern_find(p, w, w->s + pc->off, pc->len);
    split_by(w, pc, behavior, invert);
}

static void swap_pq(hft_work *w)
{
    hft_piece *t = w->p;
    size_t tc = w->pcap;
    w->p = w->q;
    w->pcap = w->qcap;
    w->np = w->nq;
    w->q = t;
    w->qcap = tc;
    w->nq = 0;
}

static void byte_level_map(hft_work *w, hft_piece *pc)
{
    const char *s = w->s + pc->off;
    size_t n = pc->len;
    w->ntc = 0;
    for (size_t i = 0; i < n;) {
        size_t l = clen((unsigned char)s[i]);
        if (l > n - i)
            l = n - i;
        for (size_t b = 0; b < l; b++)
            tc_push(w, lm_hft_byte_char((uint8_t)s[i + b]), b > 0);
        i += l;
    }
    lm_hft_transform(w, pc, w->tc, w->ntc, 0);
}

/* one pre-tokenizer over w->p (pieces with tok >= 0 pass through) */
static void pretok_one(const hft_pretok *pt, hft_work *w)
{
    if (pt->type == P_SEQ) {
        for (size_t i = 0; i < pt->nsub; i++)
            pretok_one(pt->sub[i], w);
        return;
    }
    w->nq = 0;
    for (size_t i = 0; i < w->np; i++) {
        hft_piece pc = w->p[i];
        if (pc.tok >= 0) {
            lm_grow(w->q, w->qcap, w->nq + 1);
            w->q[w->nq++] = pc;
            continue;
        }
        switch (pt->type) {
        case P_BERT: {
            size_t q0 = w->nq;
            split_pred(w, &pc, PRED_SPACE, 0, HFT_REMOVED);
            /* second pass on the pieces just made */
            size_t q1 = w->nq;
            for (size_t k = q0; k < q1; k++) {
                hft_piece sp = w->q[k];
                split_pred(w, &sp, PRED_PUNCT, 0, HFT_ISOLATED);
            }
            memmove(w->q + q0, w->q + q1, (w->nq - q1) * sizeof *w->q);
            w->nq -= q1 - q0;
            break;
        }
        case P_WHITESPACE: split_re(w, &pc, &pt->pat, HFT_REMOVED, 1); break;
        case P_WSSPLIT: split_pred(w, &pc, PRED_SPACE, 0, HFT_REMOVED); break;
        case P_PUNCT: split_pred(w, &pc, PRED_PUNCT, 0, pt->behavior); break;
        case P_DIGITS:
            split_pred(w, &pc, PRED_NUMERIC, 0, pt->individual ? HFT_ISOLATED : HFT_CONTIGUOUS);
            break;
        case P_SPLIT: split_re(w, &pc, &pt->pat, pt->behavior, pt->invert); break;
        case P_METASPACE: {
            hft_pattern sp = {.str = " ", .len = 1};
            do_replace(&sp, pt->repl_s, pt->repl_n, w, &pc);
            uint32_t first = 0;
            if (pc.len)
                lm_hft_dec(w->s + pc.off, pc.len, &first);
            if ((pt->prepend == PREPEND_ALWAYS && first != pt->repl) ||
                (pt->prepend == PREPEND_FIRST && first != pt->repl && pc.shift == 0))
                do_prepend(pt->repl_s, pt->repl_n, w, &pc);
            if (pt->split)
                split_pred(w, &pc, PRED_CHAR, pt->repl, HFT_MERGED_NEXT);
            else
                q_push(w, &pc, 0, pc.len);
            break;
        }
        case P_BYTELEVEL: {
            if (pt->add_prefix_space && (pc.len == 0 || w->s[pc.off] != ' '))
                do_prepend(" ", 1, w, &pc);
            size_t q0 = w->nq;
            if (pt->use_regex)
                split_re(w, &pc, &pt->pat, HFT_ISOLATED, 0);
            else
                q_push(w, &pc, 0, pc.len);
            for (size_t k = q0; k < w->nq; k++)
                byte_level_map(w, &w->q[k]);
            break;
        }
        }
    }
    swap_pq(w);
}

void lm_hft_pretokenize(const hft_pretok *pt, hft_work *w)
{
    if (pt)
        pretok_one(pt, w);
}

static int parse_behavior(json_t *j, const char *what, int def, char *err, size_t errlen, int *out)
{
    json_t *v = json_object_get(j, "behavior");
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                  "Contiguous"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    lm_seterr(err, errlen, "%s.behavior '%.40s' is not supported", what, s);
    return -1;
}

#define BYTELEVEL_RE "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define WORD_CLS "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}"

static int pretok_seq_one(void *slots, size_t i, json_t *elem, const char *name, char *err, size_t errlen)
{
    hft_pretok **sub = slots;
    return (sub[i] = lm_hft_pretok_parse(elem, name, err, errlen)) ? 0 : -1;
}

hft_pretok *lm_hft_pretok_parse(json_t *j, const char *what, char *err, size_t errlen)
{
    const char *t = lm_hft_json_type(j, what, err, errlen);
    if (!t)
        return NULL;
    hft_pretok *pt = lm_xcalloc(1, sizeof *pt);
    int rc = 0;
    if (!strcmp(t, "BertPreTokenizer")) {
        pt->type = P_BERT;
    } else if (!strcmp(t, "Whitespace")) {
        pt->type = P_WHITESPACE;
        const char *re = "[" WORD_CLS "]+|[^" WORD_CLS "\\s]+";
        rc = (pt->pat.re = compile_re(re, strlen(re), what, err, errlen)) ? 0 : -1;
    } else if (!strcmp(t, "WhitespaceSplit")) {
        pt->type = P_WSSPLIT;
    } else if (!strcmp(t, "Punctuation")) {
        pt->type = P_PUNCT;
        rc = parse_behavior(j, what, HFT_ISOLATED, err, errlen, &pt->behavior);
    } else if (!strcmp(t, "Digits")) {
        pt->type = P_DIGITS;
        rc = lm_hft_json_bool(j, "individual_digits", 0, what, err, errlen, &pt->individual);
    } else if (!strcmp(t, "Split")) {
        pt->type = P_SPLIT;
        char sub[128];
        snprintf(sub, sizeof sub, "%s (Split)", what);
        json_t *bv = json_object_get(j, "behavior");
        if (!bv) {
            lm_seterr(err, errlen, "%s.behavior is missing", what);
            rc = -1;
        }
        rc = rc || lm_hft_pattern_parse(json_object_get(j, "pattern"), &pt->pat, sub, err, errlen) ||
             parse_behavior(j, what, HFT_REMOVED, err, errlen, &pt->behavior) ||
             lm_hft_json_bool(j, "invert", 0, what, err, errlen, &pt->invert);
        if (!rc && !pt->pat.re) { /* a literal string: escaped into a regex, as the reference does */
            if (pt->pat.len == 0) {
                pt->pat.re = NULL; /* empty literal never matches: handled by str_find */
            } else {
                lm_buf b = {0};
                lm_buf_adds(&b, "\\Q");
                for (size_t i = 0; i < pt->pat.len; i++) {
                    if (pt->pat.str[i] == '\\' && i + 1 < pt->pat.len && pt->pat.str[i + 1] == 'E')
                        lm_buf_adds(&b, "\\E\\\\\\Q");
                    else
                        lm_buf_addc(&b, pt->pat.str[i]);
                }
                lm_buf_adds(&b, "\\E");
                int ec;
                PCRE2_SIZE eo;
                pt->pat.re = pcre2_compile((PCRE2_SPTR)b.p, b.n, PCRE2_UTF, &ec, &eo, NULL);
                lm_buf_free(&b);
                if (!pt->pat.re) {
                    lm_seterr(err, errlen, "%s: the split string is not valid UTF-8", what);
                    rc = -1;
                }
            }
        }
    } else if (!strcmp(t, "Metaspace")) {
        pt->type = P_METASPACE;
        char *r = NULL;
        size_t rn = 0;
        rc = lm_hft_json_str(j, "replacement", "\xe2\x96\x81", what, err, errlen, &r, &rn);
        if (!rc) {
            uint32_t c;
            size_t l = lm_hft_dec(r, rn, &c);
            if (rn == 0 || l != rn || (lm_utf8_valid_prefix(r, rn, 0) != rn)) {
                lm_seterr(err, errlen, "%s.replacement must be one character", what);
                rc = -1;
            } else {
                pt->repl = c;
                memcpy(pt->repl_s, r, rn);
                pt->repl_n = rn;
            }
        }
        free(r);
        int aps = -1;
        rc = rc || lm_hft_json_bool(j, "add_prefix_space", -1, what, err, errlen, &aps) ||
             lm_hft_json_bool(j, "split", 1, what, err, errlen, &pt->split);
        pt->prepend = PREPEND_ALWAYS;
        json_t *ps = json_object_get(j, "prepend_scheme");
        if (!rc && ps && !json_is_null(ps)) {
            const char *s = json_is_string(ps) ? json_string_value(ps) : "";
            if (!strcmp(s, "always"))
                pt->prepend = PREPEND_ALWAYS;
            else if (!strcmp(s, "first"))
                pt->prepend = PREPEND_FIRST;
            else if (!strcmp(s, "never"))
                pt->prepend = PREPEND_NEVER;
            else {
                lm_seterr(err, errlen, "%s.prepend_scheme '%.40s' is not supported", what, s);
                rc = -1;
            }
        }
        if (!rc && aps == 0) {
            if (ps && !json_is_null(ps) && pt->prepend != PREPEND_NEVER) {
                lm_seterr(err, errlen, "%s: add_prefix_space does not match declared prepend_scheme", what);
                rc = -1;
            }
            pt->prepend = PREPEND_NEVER;
        }
    } else if (!strcmp(t, "ByteLevel")) {
        pt->type = P_BYTELEVEL;
        int trim;
        rc = lm_hft_json_bool(j, "add_prefix_space", 1, what, err, errlen, &pt->add_prefix_space) ||
             lm_hft_json_bool(j, "use_regex", 1, what, err, errlen, &pt->use_regex) ||
             lm_hft_json_bool(j, "trim_offsets", 1, what, err, errlen, &trim);
        if (!rc)
            rc = (pt->pat.re = compile_re(BYTELEVEL_RE, strlen(BYTELEVEL_RE), what, err, errlen)) ? 0 : -1;
    } else if (!strcmp(t, "Sequence")) {
        pt->type = P_SEQ;
        pt->sub = lm_xcalloc(json_array_size(json_object_get(j, "pretokenizers")) + 1, sizeof *pt->sub);
        rc = lm_hft_json_seq(j, "pretokenizers", what, pt->sub, &pt->nsub, pretok_seq_one, err, errlen);
    } else {
        lm_seterr(err, errlen, "%s.type '%.60s' is not supported", what, t);
        rc = -1;
    }
    if (rc) {
        lm_hft_pretok_free(pt);
        return NULL;
    }
    return pt;
}

/* GPT-2's byte-to-unicode alphabet */
uint32_t lm_hft_byte_char(uint8_t b)
{
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE))
        return b;
    /* the others, in byte order, take 256, 257, ... */
    uint32_t k;
    if (b <= 0x20)
        k = b;
    else if (b <= 0xA0)
        k = 33 + (b - 0x7F);
    else
        k = 33 + 34; /* 0xAD */
    return 256 + k;
}

int lm_hft_char_byte(uint32_t c)
{
    if ((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF))
        return (int)c;
    if (c < 256 || c > 256 + 67)
        return -1;
    uint32_t k = c - 256;
    if (k <= 32)
        return (int)k;
    if (k <= 66)
        return (int)(0x7F + (k - 33));
    return 0xAD;
}
