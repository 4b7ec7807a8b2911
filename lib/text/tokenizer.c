/* tokenizer.c - Hugging Face tokenizer.json tokenizers (see tokenizer.h):
 * loading and validation, the added-token vocabulary (matched before
 * normalization as tokenizers' AddedVocabulary does: leftmost-longest, tokens
 * with normalized=false on the raw text, the others on each normalized
 * piece; single_word, lstrip, rstrip), the encode pipeline, truncation and
 * padding as tokenizers' post_process applies them to one sequence, the
 * post-processors (BertProcessing, RobertaProcessing, TemplateProcessing
 * single template, ByteLevel, Sequence) and the decoders (WordPiece,
 * Metaspace, ByteLevel, BPEDecoder, ByteFallback, Fuse, Strip, Replace,
 * Sequence).
 *
 * Not done: pair encodings (the "pair" template), BPE dropout, WordLevel,
 * the CTC decoder, encode_special_tokens.  Normalizers, pre-tokenizers and
 * models live in hftok_norm.c and hftok_model.c.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fs.h"
#include "core/utf8.h"
#include "text/hftok_internal.h"
#include "text/hftok_unicode.h"
#include "text/tokenizer.h"
#include "core/diag.h"

typedef struct {
    char *content;
    size_t len;
    char *norm; /* normalized content (normalized tokens) */
    size_t nlen;
    int32_t id;
    int special, single_word, lstrip, rstrip, normalized;
} added_tok;

typedef struct {
    int32_t child, sibling, tok; /* tok: index into added, -1 */
    unsigned char byte;
} tnode;

typedef struct {
    tnode *n;
    size_t nn, cap;
    uint8_t first[32]; /* bitmap of first bytes */
} atrie;

enum { PP_NONE, PP_BERT, PP_ROBERTA, PP_TEMPLATE, PP_BYTELEVEL, PP_SEQ };

typedef struct pproc {
    int type;
    int32_t cls, sep;
    int trim_offsets, add_prefix_space;
    /* template: items; id >= 0 special ids list, -1 the sequence */
    int32_t *ids;
    size_t nids;
    struct pproc **sub;
    size_t nsub;
} pproc;

enum { D_BYTELEVEL, D_WORDPIECE, D_METASPACE, D_BPE, D_BYTEFALLBACK, D_FUSE, D_STRIP, D_REPLACE, D_SEQ };

typedef struct dec {
    int type;
    char *s; /* prefix, suffix, replacement content */
    size_t sn;
    int cleanup;
    uint32_t ch; /* Metaspace replacement, Strip content */
    int prepend_never;
    size_t start, stop;
    hft_pattern pat;
    struct dec **sub;
    size_t nsub;
} dec;

struct lm_tokenizer {
    hft_norm *norm;
    hft_pretok *pretok;
    hft_model *model;
    pproc *post;
    dec *decoder;
    added_tok *added;
    size_t nadded, addcap;
    atrie raw, normd; /* non-normalized and normalized token tries */
    pcre2_code *word_start, *word_end;
    /* truncation / padding */
    int trunc, trunc_left;
    size_t trunc_max;
    int pad, pad_left;
    size_t pad_fixed, pad_multiple;
    int32_t pad_id;
};

/* ------------------------------------------------------------ work space */

static int work_init(hft_work *w)
{
    memset(w, 0, sizeof *w);
    w->limit = SIZE_MAX;
    w->md = pcre2_match_data_create(8, NULL);
    return w->md ? 0 : -1;
}

static void work_free(hft_work *w)
{
    free(w->s);
    free(w->al);
    free(w->p);
    free(w->q);
    free(w->tc);
    free(w->u);
    free(w->tk);
    free(w->scratch);
    free(w->sb);
    free(w->mt);
    if (w->md)
        pcre2_match_data_free(w->md);
}

/* -------------------------------------------------------------- tries */

static void trie_free(atrie *t)
{
    free(t->n);
    memset(t, 0, sizeof *t);
}

static void trie_add(atrie *t, const char *s, size_t n, int32_t tok)
{
    if (n == 0)
        return;
    if (t->nn == 0) {
        lm_grow(t->n, t->cap, 1);
        t->n[0] = (tnode){-1, -1, -1, 0};
        t->nn = 1;
    }
    t->first[(unsigned char)s[0] >> 3] |= (uint8_t)(1u << ((unsigned char)s[0] & 7));
    int32_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        int32_t c = t->n[cur].child;
        while (c >= 0 && t->n[c].byte != b)
            c = t->n[c].sibling;
        if (c < 0) {
            lm_grow(t->n, t->cap, t->nn + 1);
            c = (int32_t)t->nn++;
            t->n[c] = (tnode){-1, t->n[cur].child, -1, b};
            t->n[cur].child = c;
        }
        cur = c;
    }
    if (t->n[cur].tok < 0)
        t->n[cur].tok = tok; /* first pattern wins on duplicates */
}

/* longest pattern starting at s[0..n): its length and token, or 0 */
static size_t trie_longest(const atrie *t, const char *s, size_t n, int32_t *tok)
{
    if (!t->nn || n == 0 || !(t->first[(unsigned char)s[0] >> 3] & (1u << ((unsigned char)s[0] & 7))))
        return 0;
    int32_t cur = 0;
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        int32_t c = t->n[cur].child;
        while (c >= 0 && t->n[c].byte != b)
            c = t->n[c].sibling;
        if (c < 0)
            break;
        cur = c;
        if (t->n[cur].tok >= 0) {
            best = i + 1;
            *tok = t->n[cur].tok;
        }
    }
    return best;
}

/* ---------------------------------------------------------- added tokens */

static int is_word_at(const lm_tokenizer *t, hft_work *w, const char *s, size_t n, int at_end)
{
    if (n == 0)
        return 0;
    pcre2_code *re = at_end ? t->word_end : t->word_start;
    return pcre2_match(re, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK, w->md, NULL) > 0;
}

static void piece_push(hft_work *w, size_t off, size_t len, int32_t tok)
{
    if (len == 0)
        return;
    lm_grow(w->q, w->qcap, w->nq + 1);
    hft_piece *o = &w->q[w->nq++];
    o->off = off;
    o->len = len;
    o->shift = w->al[off][0];
    o->tok = tok;
}

/* AddedVocabulary::find_matches + split_with_indices on piece pc into w->q */
static void split_added(const lm_tokenizer *t, const atrie *tr, hft_work *w, const hft_piece *pc)
{
    const char *s = w->s + pc->off;
    size_t n = pc->len, start_offset = 0;
    for (size_t i = 0; i < n;) {
        int32_t k;
        size_t ml = trie_longest(tr, s + i, n - i, &k);
        if (!ml) {
            i++;
            continue;
        }
        const added_tok *a = &t->added[k];
        size_t start = i, stop = i + ml;
        size_t next = stop;
        if (a->single_word) {
            int start_space = start == 0 || !is_word_at(t, w, s, start, 1);
            int stop_space = stop == n || !is_word_at(t, w, s + stop, n - stop, 0);
            if (!start_space || !stop_space) {
                i = next;
                continue;
            }
        }
        if (a->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t j = ns - 1;
                while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80)
                    j--;
                uint32_t c;
                lm_hft_dec(s + j, ns - j, &c);
                if (!lm_hft_is_space(c))
                    break;
                ns = j;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (a->rstrip) {
            while (stop < n) {
                uint32_t c;
                size_t l = lm_hft_dec(s + stop, n - stop, &c);
                if (!lm_hft_is_space(c))
                    break;
                stop += l;
            }
        }
        if (start_offset < start)
            piece_push(w, pc->off + start_offset, start - start_offset, -1);
        piece_push(w, pc->off + start, stop - start, a->id);
        start_offset = stop;
        i = next;
    }
    if (start_offset < n)
        piece_push(w, pc->off + start_offset, n - start_offset, -1);
}

static void swap_pq(hft_work *w)
{
    hft_piece *tp = w->p;
    size_t tc = w->pcap;
    w->p = w->q;
    w->pcap = w->qcap;
    w->np = w->nq;
    w->q = tp;
    w->qcap = tc;
    w->nq = 0;
}

static void grew_err(const char *what, size_t n, char *err, size_t errlen)
{
    lm_seterr(err, errlen,
              "the %s grows a %zu-byte text past %zu bytes; a Replace whose content contains its own "
              "pattern, repeated in a Sequence, doubles the text at every step: fix the tokenizer.json",
              what, n, lm_hft_growth_limit(n));
}

/* runs the normalizer on a standalone string (for normalized added tokens);
 * -1 with err set when PCRE2 has no memory for its match data or the
 * normalizer grows the string without bound */
static int normalize_string(const lm_tokenizer *t, const char *s, size_t n, char **out, size_t *outn,
                            char *err, size_t errlen)
{
    hft_work w;
    if (work_init(&w)) {
        lm_seterr(err, errlen, "out of memory");
        return -1;
    }
    lm_hft_append(&w, s, n, 0, n);
    hft_piece pc = {0, n, 0, -1};
    w.limit = lm_hft_growth_limit(n);
    if (n)
        lm_hft_normalize(t->norm, &w, &pc);
    if (w.over) {
        grew_err("normalizer", n, err, errlen);
        work_free(&w);
        return -1;
    }
    *out = lm_xstrndup(pc.len ? w.s + pc.off : "", pc.len);
    *outn = pc.len;
    work_free(&w);
    return 0;
}

int lm_tokenizer_normalize(const lm_tokenizer *t, const char *text, size_t len, lm_buf *out, char *err,
                           size_t errlen)
{
    if (lm_utf8_valid_prefix(text, len, 0) != len) {
        lm_seterr(err, errlen, "text is not valid UTF-8");
        return -1;
    }
    if (!t->norm) {
        lm_buf_add(out, text, len);
        return 0;
    }
    char *s;
    size_t n;
    if (normalize_string(t, text, len, &s, &n, err, errlen))
        return -1;
    lm_buf_add(out, s, n);
    free(s);
    return 0;
}

/* rebuilds the added-token tries; -1 with err set on failure */
static int refresh_tries(lm_tokenizer *t, char *err, size_t errlen)
{
    trie_free(&t->raw);
    trie_free(&t->normd);
    for (size_t i = 0; i < t->nadded; i++) {
        added_tok *a = &t->added[i];
        if (a->normalized) {
            if (!a->norm) {
                if (t->norm) {
                    if (normalize_string(t, a->content, a->len, &a->norm, &a->nlen, err, errlen)) {
                        char why[400];
                        snprintf(why, sizeof why, "%s", err);
                        size_t shown = a->len > 40 ? lm_utf8_valid_prefix(a->content, 40, 0) : a->len;
                        lm_seterr(err, errlen, "added token \"%.*s%s\": %s", (int)shown, a->content,
                                  shown < a->len ? "..." : "", why);
                        return -1;
                    }
                } else {
                    a->norm = lm_xstrndup(a->content, a->len);
                    a->nlen = a->len;
                }
            }
            trie_add(&t->normd, a->norm, a->nlen, (int32_t)i);
        } else {
            trie_add(&t->raw, a->content, a->len, (int32_t)i);
        }
    }
    return 0;
}

static const added_tok *added_by_id(const lm_tokenizer *t, int32_t id)
{
    for (size_t i = 0; i < t->nadded; i++)
        if (t->added[i].id == id)
            return &t->added[i];
    return NULL;
}

static const added_tok *added_by_content(const lm_tokenizer *t, const char *s, size_t n)
{
    for (size_t i = 0; i < t->nadded; i++)
        if (t->added[i].len == n && memcmp(t->added[i].content, s, n) == 0)
            return &t->added[i];
    return NULL;
}

static void add_one(lm_tokenizer *t, const char *s, size_t n, int32_t id, int special, int single, int lstrip,
                    int rstrip, int normalized)
{
    lm_grow(t->added, t->addcap, t->nadded + 1);
    added_tok *a = &t->added[t->nadded];
    memset(a, 0, sizeof *a);
    a->content = lm_xstrndup(s, n);
    a->len = n;
    a->id = id;
    a->special = special;
    a->single_word = single;
    a->lstrip = lstrip;
    a->rstrip = rstrip;
    a->normalized = normalized;
    t->nadded++;
}

/* ------------------------------------------------------------ public API */

size_t lm_tokenizer_vocab_size(const lm_tokenizer *t)
{
    size_t n = lm_hft_model_vocab_size(t->model);
    for (size_t i = 0; i < t->nadded; i++)
        if (!lm_hft_model_token(t->model, t->added[i].id, NULL))
            n++;
    return n;
}

const char *lm_tokenizer_token(const lm_tokenizer *t, int32_t id, size_t *len)
{
    const added_tok *a = added_by_id(t, id);
    if (a) {
        if (len)
            *len = a->len;
        return a->content;
    }
    size_t l = 0;
    const char *s = lm_hft_model_token(t->model, id, &l);
    if (s && len)
        *len = l;
    return s;
}

int32_t lm_tokenizer_id(const lm_tokenizer *t, const char *tok, size_t len)
{
    const added_tok *a = added_by_content(t, tok, len);
    if (a)
        return a->id;
    return lm_hft_model_id(t->model, tok, len);
}

/* drops the added tokens from index n0 on and rebuilds the tries as they
 * were (they were built before, so this cannot fail) */
static void added_truncate(lm_tokenizer *t, size_t n0)
{
    for (size_t i = n0; i < t->nadded; i++) {
        free(t->added[i].content);
        free(t->added[i].norm);
    }
    t->nadded = n0;
    char ignored[8];
    refresh_tries(t, ignored, sizeof ignored);
}

int lm_tokenizer_add_tokens(lm_tokenizer *t, const char *const *toks, size_t n, int special, char *err,
                            size_t errlen)
{
    size_t n0 = t->nadded;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(toks[i]);
        if (len == 0)
            continue;
        if (lm_utf8_valid_prefix(toks[i], len, 0) != len) {
            lm_seterr(err, errlen, "added token %zu is not valid UTF-8", i);
            added_truncate(t, n0);
            return -1;
        }
        if (added_by_content(t, toks[i], len))
            continue;
        int32_t id = lm_hft_model_id(t->model, toks[i], len);
        if (id < 0) {
            size_t vs = lm_hft_model_vocab_size(t->model);
            int64_t max = -1;
            for (size_t k = 0; k < t->nadded; k++)
                if (t->added[k].id > max)
                    max = t->added[k].id;
            if (max < 0)
                id = (int32_t)vs;
            else
                id = (max >= (int64_t)vs || vs == 0) ? (int32_t)(max + 1) : (int32_t)vs;
        }
        add_one(t, toks[i], len, id, special, 0, 0, 0, !special);
    }
    if (refresh_tries(t, err, errlen)) {
        added_truncate(t, n0);
        return -1;
    }
    return 0;
}

void lm_encoding_free(lm_encoding *e)
{
    free(e->ids);
    free(e->off);
    free(e->special);
    free(e->tok);
    free(e->toff);
    memset(e, 0, sizeof *e);
}

const char *lm_encoding_token(const lm_encoding *e, size_t i, size_t *len)
{
    if (i >= e->n || !e->toff) {
        *len = 0;
        return NULL;
    }
    *len = e->toff[i][1] - e->toff[i][0];
    return e->tok ? e->tok + e->toff[i][0] : "";
}

/* room for n tokens in the four arrays of e, all of e->cap */
static void enc_reserve(lm_encoding *e, size_t n)
{
    if (n <= e->cap)
        return;
    lm_grow(e->ids, e->cap, n > 16 ? n : 16);
    e->off = lm_xrealloc(e->off, lm_xmul(e->cap, sizeof *e->off));
    e->special = lm_xrealloc(e->special, e->cap);
    e->toff = lm_xrealloc(e->toff, lm_xmul(e->cap, sizeof *e->toff));
}

/* appends the string of the token at slot i */
static void enc_value(lm_encoding *e, size_t i, const char *v, size_t vn)
{
    size_t need = e->tokn + vn + 1;
    lm_grow(e->tok, e->tokcap, need > 256 ? need : 256);
    if (vn)
        memcpy(e->tok + e->tokn, v, vn);
    e->toff[i][0] = e->tokn;
    e->toff[i][1] = e->tokn + vn;
    e->tokn += vn;
    e->tok[e->tokn] = 0;
}

static void enc_push(lm_encoding *e, int32_t id, size_t s, size_t en, int special, const char *v, size_t vn)
{
    enc_reserve(e, e->n + 1);
    enc_value(e, e->n, v, vn);
    e->ids[e->n] = id;
    e->off[e->n][0] = s;
    e->off[e->n][1] = en;
    e->special[e->n] = (uint8_t)special;
    e->n++;
}

/* inserts the special token id at position at */
static void enc_insert(const lm_tokenizer *t, lm_encoding *e, size_t at, int32_t id, int special)
{
    enc_reserve(e, e->n + 1);
    memmove(e->ids + at + 1, e->ids + at, (e->n - at) * sizeof *e->ids);
    memmove(e->off + at + 1, e->off + at, (e->n - at) * sizeof *e->off);
    memmove(e->special + at + 1, e->special + at, e->n - at);
    memmove(e->toff + at + 1, e->toff + at, (e->n - at) * sizeof *e->toff);
    size_t vn = 0;
    const char *v = lm_tokenizer_token(t, id, &vn);
    enc_value(e, at, v ? v : "", v ? vn : 0);
    e->ids[at] = id;
    e->off[at][0] = e->off[at][1] = 0;
    e->special[at] = (uint8_t)special;
    e->n++;
}

static size_t pp_added(const pproc *p)
{
    if (!p)
        return 0;
    switch (p->type) {
    case PP_BERT:
    case PP_ROBERTA: return 2;
    case PP_TEMPLATE: {
        size_t k = 0;
        for (size_t i = 0; i < p->nids; i++)
            k += p->ids[i] >= 0;
        return k;
    }
    case PP_SEQ: {
        size_t k = 0;
        for (size_t i = 0; i < p->nsub; i++)
            k += pp_added(p->sub[i]);
        return k;
    }
    }
    return 0;
}

/* start of the character k characters after byte a of text (at most b) */
static size_t chars_fwd(const char *text, size_t a, size_t b, size_t k)
{
    while (k-- > 0 && a < b) {
        a++;
        while (a < b && ((unsigned char)text[a] & 0xC0) == 0x80)
            a++;
    }
    return a < b ? a : b;
}

/* byte-level offset trimming (tokenizers' process_offsets): the white
 * space ("\u0120" or White_Space) at either end of each token's string
 * (lm_encoding_token: for an lstrip/rstrip added token the white space it
 * took) is taken off its span, counted in characters of the text as the
 * library counts (it trims character offsets) */
static void trim_offsets(lm_encoding *e, const char *text, int add_prefix_space)
{
    for (size_t i = 0; i < e->n; i++) {
        size_t len;
        const char *s = lm_encoding_token(e, i, &len);
        if (!s)
            continue;
        size_t lead = 0, trail = 0, nch = 0;
        for (size_t k = 0; k < len;) {
            uint32_t c;
            k += lm_hft_dec(s + k, len - k, &c);
            nch++;
        }
        for (size_t k = 0; k < len;) {
            uint32_t c;
            k += lm_hft_dec(s + k, len - k, &c);
            if (c != 0x120 && !lm_hft_is_space(c))
                break;
            lead++;
        }
        if (lead < nch)
            for (size_t k = len; k > 0;) {
                size_t j = k - 1;
                while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80)
                    j--;
                uint32_t c;
                lm_hft_dec(s + j, k - j, &c);
                if (c != 0x120 && !lm_hft_is_space(c))
                    break;
                trail++;
                k = j;
            }
        else
            trail = nch;
        size_t a = e->off[i][0], b = e->off[i][1];
        if (lead > 0) {
            int is_first = i == 0 || a == 0;
            if (is_first && add_prefix_space && lead == 1)
                lead = 0;
            a = chars_fwd(text, a, b, lead);
        }
        if (trail > 0) {
            /* the library subtracts only when the end is at least trail */
            size_t nb = 0, k = b;
            while (k > 0 && nb < trail) {
                k--;
                while (k > 0 && ((unsigned char)text[k] & 0xC0) == 0x80)
                    k--;
                nb++;
            }
            if (nb == trail)
                b = k > a ? k : a;
        }
        e->off[i][0] = a;
        e->off[i][1] = b;
    }
}

static void post_process(const lm_tokenizer *t, const pproc *p, lm_encoding *e, const char *text,
                         int add_special)
{
    if (!p)
        return;
    switch (p->type) {
    case PP_BYTELEVEL:
        if (p->trim_offsets)
            trim_offsets(e, text, p->add_prefix_space);
        return;
    case PP_ROBERTA:
        if (p->trim_offsets)
            trim_offsets(e, text, p->add_prefix_space);
        /* fallthrough */
    case PP_BERT:
        if (!add_special)
            return;
        enc_insert(t, e, 0, p->cls, 1);
        enc_insert(t, e, e->n, p->sep, 1);
        return;
    case PP_TEMPLATE: {
        if (!add_special)
            return;
        /* items before the sequence, then after */
        size_t seq = p->nids, at = 0;
        for (size_t i = 0; i < p->nids; i++)
            if (p->ids[i] < 0) {
                seq = i;
                break;
            }
        for (size_t i = 0; i < seq && i < p->nids; i++)
            enc_insert(t, e, at++, p->ids[i], 1);
        for (size_t i = seq + 1; i < p->nids; i++)
            if (p->ids[i] >= 0)
                enc_insert(t, e, e->n, p->ids[i], 1);
        return;
    }
    case PP_SEQ:
        for (size_t i = 0; i < p->nsub; i++)
            post_process(t, p->sub[i], e, text, add_special);
        return;
    }
}

static int encode_work(const lm_tokenizer *t, hft_work *w, const char *text, size_t len, int add_special,
                       lm_encoding *e, char *err, size_t errlen)
{
    e->n = 0;
    e->tokn = 0;
    if (lm_utf8_valid_prefix(text, len, 0) != len) {
        lm_seterr(err, errlen, "text is not valid UTF-8 (at byte %zu)", lm_utf8_valid_prefix(text, len, 0));
        return -1;
    }
    if (len) {
        lm_grow(w->s, w->cap, len + 1);
        w->al = lm_xrealloc(w->al, lm_xmul(w->cap, sizeof *w->al));
        memcpy(w->s, text, len);
        for (size_t i = 0; i < len;) {
            size_t l = (unsigned char)text[i] < 0x80   ? 1
                       : (unsigned char)text[i] < 0xE0 ? 2
                       : (unsigned char)text[i] < 0xF0 ? 3
                                                       : 4;
            for (size_t b = 0; b < l; b++) {
                w->al[i + b][0] = i;
                w->al[i + b][1] = i + l;
            }
            i += l;
        }
        w->n = len;
    }
    hft_piece whole = {0, len, 0, -1};
    w->nq = 0;
    if (len)
        split_added(t, &t->raw, w, &whole);
    swap_pq(w);
    w->limit = lm_hft_growth_limit(len);
    for (size_t i = 0; i < w->np; i++) {
        hft_piece pc = w->p[i];
        if (pc.tok >= 0) {
            lm_grow(w->q, w->qcap, w->nq + 1);
            w->q[w->nq++] = pc;
            continue;
        }
        lm_hft_normalize(t->norm, w, &pc);
        if (w->over) {
            grew_err("normalizer", len, err, errlen);
            return -1;
        }
        if (pc.len)
            split_added(t, &t->normd, w, &pc);
    }
    w->limit = SIZE_MAX;
    swap_pq(w);
    lm_hft_pretokenize(t->pretok, w);
    for (size_t i = 0; i < w->np; i++) {
        hft_piece pc = w->p[i];
        if (pc.len == 0)
            continue;
        if (pc.tok >= 0) {
            enc_push(e, pc.tok, w->al[pc.off][0], w->al[pc.off + pc.len - 1][1], 0, w->s + pc.off, pc.len);
            continue;
        }
        if (lm_hft_model_tokenize(t->model, w, w->s + pc.off, pc.len, err, errlen))
            return -1;
        for (size_t k = 0; k < w->ntk; k++) {
            size_t s = w->tk[k].s, en = w->tk[k].e, a, b;
            if (s >= en || en > pc.len) {
                a = s + pc.shift;
                b = en + pc.shift;
            } else {
                a = w->al[pc.off + s][0];
                b = w->al[pc.off + en - 1][1];
            }
            size_t vn = 0;
            const char *v =
                w->tk[k].slice ? w->s + pc.off + s : lm_hft_model_token(t->model, w->tk[k].id, &vn);
            if (w->tk[k].slice)
                vn = en - s;
            enc_push(e, w->tk[k].id, a, b, 0, v ? v : "", v ? vn : 0);
        }
    }
    /* truncation (one sequence, overflow dropped) */
    if (t->trunc) {
        size_t extra = add_special ? pp_added(t->post) : 0;
        size_t keep = t->trunc_max > extra ? t->trunc_max - extra : 0;
        if (e->n > keep) {
            if (t->trunc_left) {
                size_t d = e->n - keep;
                memmove(e->ids, e->ids + d, keep * sizeof *e->ids);
                memmove(e->off, e->off + d, keep * sizeof *e->off);
                memmove(e->special, e->special + d, keep);
                memmove(e->toff, e->toff + d, keep * sizeof *e->toff);
            }
            e->n = keep;
        }
    }
    post_process(t, t->post, e, text, add_special);
    if (t->pad) {
        size_t target = t->pad_fixed ? t->pad_fixed : e->n;
        if (t->pad_multiple && target % t->pad_multiple)
            target += t->pad_multiple - target % t->pad_multiple;
        while (e->n < target)
            enc_insert(t, e, t->pad_left ? 0 : e->n, t->pad_id, 1);
    }
    return 0;
}

int lm_tokenizer_encode(const lm_tokenizer *t, const char *text, size_t len, int add_special, lm_encoding *e,
                        char *err, size_t errlen)
{
    hft_work w;
    if (work_init(&w)) {
        lm_seterr(err, errlen, "out of memory");
        return -2;
    }
    int rc = encode_work(t, &w, text, len, add_special, e, err, errlen);
    work_free(&w);
    return rc;
}

/* ------------------------------------------------------------ decoders */

typedef struct {
    lm_buf b;
    size_t (*o)[2];
    size_t n, cap;
} slist;

static void sl_push(slist *l, const char *s, size_t n)
{
    lm_grow(l->o, l->cap, l->n + 1);
    l->o[l->n][0] = l->b.n;
    lm_buf_add(&l->b, s, n);
    l->o[l->n][1] = n;
    l->n++;
}

static void sl_reset(slist *l)
{
    lm_buf_reset(&l->b);
    l->n = 0;
}

static void sl_free(slist *l)
{
    lm_buf_free(&l->b);
    free(l->o);
}

#define SL_S(l, i) ((l)->b.p + (l)->o[i][0])
#define SL_N(l, i) ((l)->o[i][1])

/* Rust's String::from_utf8_lossy */
static void add_lossy(lm_buf *o, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t ok = lm_utf8_valid_prefix((const char *)s + i, n - i, 1);
        if (ok) {
            lm_buf_add(o, s + i, ok);
            i += ok;
            continue;
        }
        unsigned char b = s[i];
        size_t need = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF)
            need = 1;
        else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            if (b == 0xE0)
                lo = 0xA0;
            if (b == 0xED)
                hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            if (b == 0xF0)
                lo = 0x90;
            if (b == 0xF4)
                hi = 0x8F;
        }
        size_t k = 1;
        if (need && i + 1 < n && s[i + 1] >= lo && s[i + 1] <= hi) {
            k = 2;
            while (k <= need && i + k < n && s[i + k] >= 0x80 && s[i + k] <= 0xBF)
                k++;
        }
        lm_buf_adds(o, "\xef\xbf\xbd");
        i += k;
    }
}

static void replace_all(lm_buf *o, const char *s, size_t n, const char *from, size_t fn, const char *to,
                        size_t tn)
{
    for (size_t i = 0; i < n;) {
        if (fn && i + fn <= n && memcmp(s + i, from, fn) == 0) {
            lm_buf_add(o, to, tn);
            i += fn;
        } else {
            lm_buf_addc(o, s[i++]);
        }
    }
}

static void wp_cleanup(lm_buf *tmp, lm_buf *out)
{
    static const char *pairs[][2] = {{" .", "."},   {" ?", "?"},     {" !", "!"},    {" ,", ","},
                                     {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
                                     {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++) {
        lm_buf_reset(out);
        replace_all(out, tmp->p ? tmp->p : "", tmp->n, pairs[k][0], strlen(pairs[k][0]), pairs[k][1],
                    strlen(pairs[k][1]));
        lm_buf t = *tmp;
        *tmp = *out;
        *out = t;
    }
    lm_buf_reset(out);
    lm_buf_add(out, tmp->p ? tmp->p : "", tmp->n);
}

static void dec_chain(const dec *d, slist *in, slist *out, hft_work *w);

/* Each decoder step maps the list of pieces in to out (emptied first). */

/* ByteLevel: the byte characters back to bytes, joined into one piece
 * (invalid UTF-8 becomes U+FFFD); a piece with other characters stays. */
static void dec_bytelevel(slist *in, slist *out)
{
    lm_buf bytes = {0}, tmp = {0};
    for (size_t i = 0; i < in->n; i++) {
        const char *s = SL_S(in, i);
        size_t n = SL_N(in, i), mark = bytes.n;
        int ok = 1;
        for (size_t k = 0; k < n;) {
            uint32_t c;
            k += lm_hft_dec(s + k, n - k, &c);
            int b = lm_hft_char_byte(c);
            if (b < 0) {
                ok = 0;
                break;
            }
            lm_buf_addc(&bytes, (char)b);
        }
        if (!ok) {
            bytes.n = mark;
            lm_buf_add(&bytes, s, n);
        }
    }
    add_lossy(&tmp, (const unsigned char *)(bytes.p ? bytes.p : ""), bytes.n);
    lm_buf_free(&bytes);
    sl_push(out, tmp.p ? tmp.p : "", tmp.n);
    lm_buf_free(&tmp);
}

/* WordPiece: the continuation prefix removed, other pieces after the
 * first preceded by a space; optional cleanup of spaces before
 * punctuation. */
static void dec_wordpiece(const dec *d, slist *in, slist *out)
{
    lm_buf tmp = {0}, tmp2 = {0};
    for (size_t i = 0; i < in->n; i++) {
        const char *s = SL_S(in, i);
        size_t n = SL_N(in, i);
        lm_buf_reset(&tmp);
        if (i != 0) {
            if (n >= d->sn && memcmp(s, d->s, d->sn) == 0) {
                lm_buf_add(&tmp, s + d->sn, n - d->sn);
            } else {
                lm_buf_addc(&tmp, ' ');
                lm_buf_add(&tmp, s, n);
            }
        } else {
            lm_buf_add(&tmp, s, n);
        }
        if (d->cleanup)
            wp_cleanup(&tmp, &tmp2);
        else {
            lm_buf_reset(&tmp2);
            lm_buf_add(&tmp2, tmp.p ? tmp.p : "", tmp.n);
        }
        sl_push(out, tmp2.p ? tmp2.p : "", tmp2.n);
    }
    lm_buf_free(&tmp);
    lm_buf_free(&tmp2);
}

/* Metaspace: the replacement character back to a space (dropped at the
 * start of the first piece unless prepending is "never"). */
static void dec_metaspace(const dec *d, slist *in, slist *out)
{
    lm_buf tmp = {0};
    for (size_t i = 0; i < in->n; i++) {
        const char *s = SL_S(in, i);
        size_t n = SL_N(in, i);
        lm_buf_reset(&tmp);
        for (size_t k = 0; k < n;) {
            uint32_t c;
            size_t l = lm_hft_dec(s + k, n - k, &c);
            if (c == d->ch) {
                if (!(i == 0 && !d->prepend_never))
                    lm_buf_addc(&tmp, ' ');
            } else {
                lm_buf_add(&tmp, s + k, l);
            }
            k += l;
        }
        sl_push(out, tmp.p ? tmp.p : "", tmp.n);
    }
    lm_buf_free(&tmp);
}

/* BPE: the end-of-word suffix becomes a space (nothing in the last piece). */
static void dec_bpe(const dec *d, slist *in, slist *out)
{
    lm_buf tmp = {0};
    for (size_t i = 0; i < in->n; i++) {
        lm_buf_reset(&tmp);
        const char *rep = i + 1 == in->n ? "" : " ";
        replace_all(&tmp, SL_S(in, i), SL_N(in, i), d->s, d->sn, rep, strlen(rep));
        sl_push(out, tmp.p ? tmp.p : "", tmp.n);
    }
    lm_buf_free(&tmp);
}

/* The byte of a "<0xHH>" piece, or -1. */
static int fallback_byte(const char *s, size_t n)
{
    if (n != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>')
        return -1;
    char hx[3] = {s[3], s[4], 0};
    char *endp;
    unsigned long x = strtoul(hx, &endp, 16);
    if (*endp == 0 && (hx[0] != '-' && hx[0] != ' ' && hx[0] != '+') && x < 256)
        return (int)x;
    return -1;
}

/* ByteFallback: runs of "<0xHH>" pieces become their bytes, one U+FFFD per
 * byte when they are not valid UTF-8. */
static void dec_bytefallback(slist *in, slist *out)
{
    lm_buf bytes = {0};
    for (size_t i = 0; i <= in->n; i++) {
        int v = i < in->n ? fallback_byte(SL_S(in, i), SL_N(in, i)) : -1;
        if (v >= 0) {
            lm_buf_addc(&bytes, (char)v);
            continue;
        }
        if (bytes.n) {
            if (lm_utf8_valid_prefix(bytes.p, bytes.n, 0) == bytes.n)
                sl_push(out, bytes.p, bytes.n);
            else
                for (size_t k = 0; k < bytes.n; k++)
                    sl_push(out, "\xef\xbf\xbd", 3);
            lm_buf_reset(&bytes);
        }
        if (i < in->n)
            sl_push(out, SL_S(in, i), SL_N(in, i));
    }
    lm_buf_free(&bytes);
}

/* Fuse: every piece joined into one. */
static void dec_fuse(slist *in, slist *out)
{
    lm_buf tmp = {0};
    for (size_t i = 0; i < in->n; i++)
        lm_buf_add(&tmp, SL_S(in, i), SL_N(in, i));
    sl_push(out, tmp.p ? tmp.p : "", tmp.n);
    lm_buf_free(&tmp);
}

/* Strip: up to start leading and stop trailing copies of the character. */
static void dec_strip(const dec *d, slist *in, slist *out)
{
    for (size_t i = 0; i < in->n; i++) {
        const char *s = SL_S(in, i);
        size_t n = SL_N(in, i), a = 0, b = n;
        for (size_t k = 0; k < d->start && a < n; k++) {
            uint32_t c;
            size_t l = lm_hft_dec(s + a, n - a, &c);
            if (c != d->ch)
                break;
            a += l;
        }
        for (size_t k = 0; k < d->stop && b > a; k++) {
            size_t j = b - 1;
            while (j > a && ((unsigned char)s[j] & 0xC0) == 0x80)
                j--;
            uint32_t c;
            lm_hft_dec(s + j, b - j, &c);
            if (c != d->ch)
                break;
            b = j;
        }
        sl_push(out, s + a, b - a);
    }
}

/* Replace: every match of the pattern becomes the content. */
static void dec_replace(const dec *d, slist *in, slist *out, hft_work *w)
{
    lm_buf tmp = {0};
    size_t total = 0;
    for (size_t i = 0; i < in->n; i++) {
        const char *s = SL_S(in, i);
        size_t n = SL_N(in, i);
        lm_buf_reset(&tmp);
        lm_hft_pattern_find(&d->pat, w, s, n);
        size_t matches = 0;
        for (size_t k = 0; k < w->nmt; k++)
            matches += w->mt[k][2] != 0;
        total += n + lm_xmul(matches, d->sn);
        if (total > w->limit) {
            w->over = 1;
            break;
        }
        for (size_t k = 0; k < w->nmt; k++) {
            if (w->mt[k][2])
                lm_buf_add(&tmp, d->s, d->sn);
            else
                lm_buf_add(&tmp, s + w->mt[k][0], w->mt[k][1] - w->mt[k][0]);
        }
        sl_push(out, tmp.p ? tmp.p : "", tmp.n);
    }
    lm_buf_free(&tmp);
}

/* Sequence: each decoder on the previous one's output. */
static void dec_seq(const dec *d, slist *in, slist *out, hft_work *w)
{
    slist a = {0}, *cur = in;
    for (size_t k = 0; k < d->nsub && !w->over; k++) {
        dec_chain(d->sub[k], cur, out, w);
        /* move out into a */
        sl_reset(&a);
        for (size_t i = 0; i < out->n; i++)
            sl_push(&a, SL_S(out, i), SL_N(out, i));
        cur = &a;
    }
    sl_reset(out);
    for (size_t i = 0; i < cur->n; i++)
        sl_push(out, SL_S(cur, i), SL_N(cur, i));
    sl_free(&a);
}

static void dec_chain(const dec *d, slist *in, slist *out, hft_work *w)
{
    sl_reset(out);
    switch (d->type) {
    case D_BYTELEVEL: dec_bytelevel(in, out); break;
    case D_WORDPIECE: dec_wordpiece(d, in, out); break;
    case D_METASPACE: dec_metaspace(d, in, out); break;
    case D_BPE: dec_bpe(d, in, out); break;
    case D_BYTEFALLBACK: dec_bytefallback(in, out); break;
    case D_FUSE: dec_fuse(in, out); break;
    case D_STRIP: dec_strip(d, in, out); break;
    case D_REPLACE: dec_replace(d, in, out, w); break;
    case D_SEQ: dec_seq(d, in, out, w); break;
    }
}

static int decode_list(const lm_tokenizer *t, slist *in, lm_buf *out, char *err, size_t errlen)
{
    if (!t->decoder) {
        for (size_t i = 0; i < in->n; i++) {
            if (i)
                lm_buf_addc(out, ' ');
            lm_buf_add(out, SL_S(in, i), SL_N(in, i));
        }
        return 0;
    }
    hft_work w;
    slist o = {0};
    if (work_init(&w)) {
        lm_seterr(err, errlen, "out of memory");
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < in->n; i++)
        n += SL_N(in, i);
    w.limit = lm_hft_growth_limit(n);
    dec_chain(t->decoder, in, &o, &w);
    int rc = 0;
    if (w.over) {
        grew_err("decoder", n, err, errlen);
        rc = -1;
    } else {
        for (size_t i = 0; i < o.n; i++)
            lm_buf_add(out, SL_S(&o, i), SL_N(&o, i));
    }
    sl_free(&o);
    work_free(&w);
    return rc;
}

int lm_tokenizer_decode(const lm_tokenizer *t, const int32_t *ids, size_t n, int skip_special, lm_buf *out,
                        char *err, size_t errlen)
{
    slist in = {0};
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *s = lm_tokenizer_token(t, ids[i], &len);
        if (!s)
            continue;
        if (skip_special) {
            const added_tok *a = added_by_id(t, ids[i]);
            if (a && a->special)
                continue;
        }
        sl_push(&in, s, len);
    }
    int rc = decode_list(t, &in, out, err, errlen);
    sl_free(&in);
    return rc;
}

int lm_tokenizer_tokens_to_string(const lm_tokenizer *t, const char *const *toks, const size_t *lens,
                                  size_t n, lm_buf *out, char *err, size_t errlen)
{
    slist in = {0};
    for (size_t i = 0; i < n; i++)
        sl_push(&in, toks[i], lens ? lens[i] : strlen(toks[i]));
    int rc = decode_list(t, &in, out, err, errlen);
    sl_free(&in);
    return rc;
}

/* --------------------------------------------------------------- loading */

static void pp_free(pproc *p)
{
    if (!p)
        return;
    free(p->ids);
    for (size_t i = 0; i < p->nsub; i++)
        pp_free(p->sub[i]);
    free(p->sub);
    free(p);
}

static void dec_free(dec *d)
{
    if (!d)
        return;
    free(d->s);
    lm_hft_pattern_free(&d->pat);
    for (size_t i = 0; i < d->nsub; i++)
        dec_free(d->sub[i]);
    free(d->sub);
    free(d);
}

void lm_tokenizer_free(lm_tokenizer *t)
{
    if (!t)
        return;
    lm_hft_norm_free(t->norm);
    lm_hft_pretok_free(t->pretok);
    lm_hft_model_free(t->model);
    pp_free(t->post);
    dec_free(t->decoder);
    for (size_t i = 0; i < t->nadded; i++) {
        free(t->added[i].content);
        free(t->added[i].norm);
    }
    free(t->added);
    trie_free(&t->raw);
    trie_free(&t->normd);
    if (t->word_start)
        pcre2_code_free(t->word_start);
    if (t->word_end)
        pcre2_code_free(t->word_end);
    free(t);
}

/* ["token", id] */
static int tok_pair(json_t *j, const char *what, const char *key, int32_t *id, char *err, size_t errlen)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_string(json_array_get(v, 0)) ||
        !json_is_integer(json_array_get(v, 1)) || json_integer_value(json_array_get(v, 1)) < 0 ||
        json_integer_value(json_array_get(v, 1)) > 0x7FFFFFFF) {
        lm_seterr(err, errlen, "%s.%s must be [token, id]", what, key);
        return -1;
    }
    *id = (int32_t)json_integer_value(json_array_get(v, 1));
    return 0;
}

static pproc *pp_parse(json_t *j, const char *what, char *err, size_t errlen);

static int pp_seq_one(void *slots, size_t i, json_t *elem, const char *name, char *err, size_t errlen)
{
    pproc **sub = slots;
    return (sub[i] = pp_parse(elem, name, err, errlen)) ? 0 : -1;
}

static pproc *pp_parse(json_t *j, const char *what, char *err, size_t errlen)
{
    const char *ty = lm_hft_json_type(j, what, err, errlen);
    if (!ty)
        return NULL;
    pproc *p = lm_xcalloc(1, sizeof *p);
    int rc = 0;
    if (!strcmp(ty, "BertProcessing")) {
        p->type = PP_BERT;
        rc = tok_pair(j, what, "cls", &p->cls, err, errlen) || tok_pair(j, what, "sep", &p->sep, err, errlen);
    } else if (!strcmp(ty, "RobertaProcessing")) {
        p->type = PP_ROBERTA;
        rc = tok_pair(j, what, "cls", &p->cls, err, errlen) ||
             tok_pair(j, what, "sep", &p->sep, err, errlen) ||
             lm_hft_json_bool(j, "trim_offsets", 1, what, err, errlen, &p->trim_offsets) ||
             lm_hft_json_bool(j, "add_prefix_space", 1, what, err, errlen, &p->add_prefix_space);
    } else if (!strcmp(ty, "ByteLevel")) {
        p->type = PP_BYTELEVEL;
        rc = lm_hft_json_bool(j, "trim_offsets", 1, what, err, errlen, &p->trim_offsets) ||
             lm_hft_json_bool(j, "add_prefix_space", 1, what, err, errlen, &p->add_prefix_space);
    } else if (!strcmp(ty, "TemplateProcessing")) {
        p->type = PP_TEMPLATE;
        json_t *single = json_object_get(j, "single"), *sp = json_object_get(j, "special_tokens");
        if (!json_is_array(single)) {
            lm_seterr(err, errlen,
                      "%s.single must be an array of template pieces (the string form is not supported)",
                      what);
            rc = -1;
        } else if (sp && !json_is_object(sp)) {
            lm_seterr(err, errlen, "%s.special_tokens must be an object", what);
            rc = -1;
        }
        int seen_seq = 0;
        size_t idcap = 0;
        for (size_t i = 0; !rc && i < json_array_size(single); i++) {
            json_t *it = json_array_get(single, i), *st = json_object_get(it, "SpecialToken"),
                   *sq = json_object_get(it, "Sequence");
            if (json_is_object(sq)) {
                json_t *sid = json_object_get(sq, "id");
                if (!json_is_string(sid) || strcmp(json_string_value(sid), "A") || seen_seq) {
                    lm_seterr(err, errlen, "%s.single[%zu]: only one Sequence \"A\" is supported", what, i);
                    rc = -1;
                    break;
                }
                seen_seq = 1;
                lm_grow(p->ids, idcap, p->nids + 1);
                p->ids[p->nids++] = -1;
            } else if (json_is_object(st)) {
                json_t *sid = json_object_get(st, "id");
                json_t *ent = json_is_string(sid) && sp ? json_object_get(sp, json_string_value(sid)) : NULL;
                json_t *ids = json_object_get(ent, "ids");
                if (!json_is_array(ids)) {
                    lm_seterr(err, errlen, "%s.single[%zu]: special token '%.40s' is not in special_tokens",
                              what, i, json_is_string(sid) ? json_string_value(sid) : "?");
                    rc = -1;
                    break;
                }
                for (size_t k = 0; k < json_array_size(ids); k++) {
                    json_t *x = json_array_get(ids, k);
                    if (!json_is_integer(x) || json_integer_value(x) < 0 ||
                        json_integer_value(x) > 0x7FFFFFFF) {
                        lm_seterr(err, errlen, "%s.special_tokens: ids must be non-negative integers", what);
                        rc = -1;
                        break;
                    }
                    lm_grow(p->ids, idcap, p->nids + 1);
                    p->ids[p->nids++] = (int32_t)json_integer_value(x);
                }
            } else {
                lm_seterr(err, errlen,
                          "%s.single[%zu] must be {\"SpecialToken\": ...} or {\"Sequence\": ...}", what, i);
                rc = -1;
            }
        }
        if (!rc && !seen_seq) {
            lm_seterr(err, errlen, "%s.single has no Sequence \"A\"", what);
            rc = -1;
        }
    } else if (!strcmp(ty, "Sequence")) {
        p->type = PP_SEQ;
        p->sub = lm_xcalloc(json_array_size(json_object_get(j, "processors")) + 1, sizeof *p->sub);
        rc = lm_hft_json_seq(j, "processors", what, p->sub, &p->nsub, pp_seq_one, err, errlen);
    } else {
        lm_seterr(err, errlen, "%s.type '%.60s' is not supported", what, ty);
        rc = -1;
    }
    if (rc) {
        pp_free(p);
        return NULL;
    }
    return p;
}

static int one_char(const char *s, size_t n, uint32_t *c)
{
    if (n == 0 || lm_utf8_valid_prefix(s, n, 0) != n)
        return -1;
    return lm_hft_dec(s, n, c) == n ? 0 : -1;
}

static int get_size(json_t *j, const char *key, size_t def, const char *what, char *err, size_t errlen,
                    size_t *out)
{
    json_t *v = json_object_get(j, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        lm_seterr(err, errlen, "%s.%s must be a non-negative integer", what, key);
        return -1;
    }
    *out = (size_t)json_integer_value(v);
    return 0;
}

static dec *dec_parse(json_t *j, const char *what, char *err, size_t errlen);

static int dec_seq_one(void *slots, size_t i, json_t *elem, const char *name, char *err, size_t errlen)
{
    dec **sub = slots;
    return (sub[i] = dec_parse(elem, name, err, errlen)) ? 0 : -1;
}

static dec *dec_parse(json_t *j, const char *what, char *err, size_t errlen)
{
    const char *ty = lm_hft_json_type(j, what, err, errlen);
    if (!ty)
        return NULL;
    dec *d = lm_xcalloc(1, sizeof *d);
    int rc = 0;
    if (!strcmp(ty, "ByteLevel")) {
        d->type = D_BYTELEVEL;
    } else if (!strcmp(ty, "WordPiece")) {
        d->type = D_WORDPIECE;
        rc = lm_hft_json_str(j, "prefix", "##", what, err, errlen, &d->s, &d->sn) ||
             lm_hft_json_bool(j, "cleanup", 1, what, err, errlen, &d->cleanup);
    } else if (!strcmp(ty, "Metaspace")) {
        d->type = D_METASPACE;
        rc = lm_hft_json_str(j, "replacement", "\xe2\x96\x81", what, err, errlen, &d->s, &d->sn);
        if (!rc && one_char(d->s, d->sn, &d->ch)) {
            lm_seterr(err, errlen, "%s.replacement must be one character", what);
            rc = -1;
        }
        int aps = -1;
        rc = rc || lm_hft_json_bool(j, "add_prefix_space", -1, what, err, errlen, &aps);
        json_t *ps = json_object_get(j, "prepend_scheme");
        if (!rc && json_is_string(ps)) {
            const char *s = json_string_value(ps);
            if (strcmp(s, "always") && strcmp(s, "first") && strcmp(s, "never")) {
                lm_seterr(err, errlen, "%s.prepend_scheme '%.40s' is not supported", what, s);
                rc = -1;
            }
            d->prepend_never = !strcmp(s, "never");
        }
        if (aps == 0)
            d->prepend_never = 1;
    } else if (!strcmp(ty, "BPEDecoder")) {
        d->type = D_BPE;
        rc = lm_hft_json_str(j, "suffix", "</w>", what, err, errlen, &d->s, &d->sn);
    } else if (!strcmp(ty, "ByteFallback")) {
        d->type = D_BYTEFALLBACK;
    } else if (!strcmp(ty, "Fuse")) {
        d->type = D_FUSE;
    } else if (!strcmp(ty, "Strip")) {
        d->type = D_STRIP;
        rc = lm_hft_json_str(j, "content", " ", what, err, errlen, &d->s, &d->sn) ||
             get_size(j, "start", 0, what, err, errlen, &d->start) ||
             get_size(j, "stop", 0, what, err, errlen, &d->stop);
        if (!rc && one_char(d->s, d->sn, &d->ch)) {
            lm_seterr(err, errlen, "%s.content must be one character", what);
            rc = -1;
        }
    } else if (!strcmp(ty, "Replace")) {
        d->type = D_REPLACE;
        char sub[128];
        snprintf(sub, sizeof sub, "%.60s (Replace)", what);
        rc = lm_hft_pattern_parse(json_object_get(j, "pattern"), &d->pat, sub, err, errlen) ||
             lm_hft_pattern_nonempty(&d->pat, sub, err, errlen) ||
             lm_hft_json_str(j, "content", NULL, what, err, errlen, &d->s, &d->sn);
    } else if (!strcmp(ty, "Sequence")) {
        d->type = D_SEQ;
        d->sub = lm_xcalloc(json_array_size(json_object_get(j, "decoders")) + 1, sizeof *d->sub);
        rc = lm_hft_json_seq(j, "decoders", what, d->sub, &d->nsub, dec_seq_one, err, errlen);
    } else {
        lm_seterr(err, errlen, "%s.type '%.60s' is not supported", what, ty);
        rc = -1;
    }
    if (rc) {
        dec_free(d);
        return NULL;
    }
    return d;
}

static int parse_trunc_pad(lm_tokenizer *t, json_t *root, char *err, size_t errlen)
{
    json_t *tr = json_object_get(root, "truncation"), *pd = json_object_get(root, "padding");
    if (tr && !json_is_null(tr)) {
        if (!json_is_object(tr)) {
            lm_seterr(err, errlen, "truncation must be an object or null");
            return -1;
        }
        json_t *dir = json_object_get(tr, "direction");
        if (get_size(tr, "max_length", 512, "truncation", err, errlen, &t->trunc_max))
            return -1;
        t->trunc = 1;
        t->trunc_left = json_is_string(dir) && !strcmp(json_string_value(dir), "Left");
    }
    if (pd && !json_is_null(pd)) {
        if (!json_is_object(pd)) {
            lm_seterr(err, errlen, "padding must be an object or null");
            return -1;
        }
        json_t *st = json_object_get(pd, "strategy"), *dir = json_object_get(pd, "direction");
        t->pad = 1;
        if (json_is_object(st)) {
            if (get_size(st, "Fixed", 0, "padding.strategy", err, errlen, &t->pad_fixed))
                return -1;
        } else if (!(json_is_string(st) && !strcmp(json_string_value(st), "BatchLongest"))) {
            lm_seterr(err, errlen, "padding.strategy must be \"BatchLongest\" or {\"Fixed\": n}");
            return -1;
        }
        size_t pid;
        if (get_size(pd, "pad_to_multiple_of", 0, "padding", err, errlen, &t->pad_multiple) ||
            get_size(pd, "pad_id", 0, "padding", err, errlen, &pid))
            return -1;
        t->pad_id = (int32_t)pid;
        t->pad_left = json_is_string(dir) && !strcmp(json_string_value(dir), "Left");
    }
    return 0;
}

static lm_tokenizer *load_json(json_t *root, char *err, size_t errlen)
{
    lm_tokenizer *t = lm_xcalloc(1, sizeof *t);
    if (!json_is_object(root)) {
        lm_seterr(err, errlen, "the top level must be an object");
        goto fail;
    }
    json_t *v;
    if (!(t->model = lm_hft_model_parse(json_object_get(root, "model"), err, errlen)))
        goto fail;
    if ((v = json_object_get(root, "normalizer")) && !json_is_null(v) &&
        !(t->norm = lm_hft_norm_parse(v, "normalizer", err, errlen)))
        goto fail;
    if ((v = json_object_get(root, "pre_tokenizer")) && !json_is_null(v) &&
        !(t->pretok = lm_hft_pretok_parse(v, "pre_tokenizer", err, errlen)))
        goto fail;
    if ((v = json_object_get(root, "post_processor")) && !json_is_null(v) &&
        !(t->post = pp_parse(v, "post_processor", err, errlen)))
        goto fail;
    if ((v = json_object_get(root, "decoder")) && !json_is_null(v) &&
        !(t->decoder = dec_parse(v, "decoder", err, errlen)))
        goto fail;
    if (parse_trunc_pad(t, root, err, errlen))
        goto fail;
    v = json_object_get(root, "added_tokens");
    if (v && !json_is_null(v) && !json_is_array(v)) {
        lm_seterr(err, errlen, "added_tokens must be an array");
        goto fail;
    }
    for (size_t i = 0; v && i < json_array_size(v); i++) {
        json_t *a = json_array_get(v, i), *id = json_object_get(a, "id"), *c = json_object_get(a, "content");
        char what[48];
        snprintf(what, sizeof what, "added_tokens[%zu]", i);
        if (!json_is_object(a) || !json_is_integer(id) || !json_is_string(c)) {
            lm_seterr(err, errlen, "%s must have an integer id and a string content", what);
            goto fail;
        }
        if (json_integer_value(id) < 0 || json_integer_value(id) > 0x7FFFFFF0) {
            lm_seterr(err, errlen, "%s: id %" JSON_INTEGER_FORMAT " is out of range (0 to %d)", what,
                      json_integer_value(id), 0x7FFFFFF0);
            goto fail;
        }
        int sp, sw, ls, rs, nz;
        if (lm_hft_json_bool(a, "special", 0, what, err, errlen, &sp) ||
            lm_hft_json_bool(a, "single_word", 0, what, err, errlen, &sw) ||
            lm_hft_json_bool(a, "lstrip", 0, what, err, errlen, &ls) ||
            lm_hft_json_bool(a, "rstrip", 0, what, err, errlen, &rs) ||
            lm_hft_json_bool(a, "normalized", !sp, what, err, errlen, &nz))
            goto fail;
        if (json_string_length(c) == 0)
            continue;
        add_one(t, json_string_value(c), json_string_length(c), (int32_t)json_integer_value(id), sp, sw, ls,
                rs, nz);
    }
    int ec;
    PCRE2_SIZE eo;
    t->word_start = pcre2_compile((PCRE2_SPTR) "^[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}]",
                                  PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    t->word_end = pcre2_compile((PCRE2_SPTR) "[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}]\\z",
                                PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    if (!t->word_start || !t->word_end) {
        lm_seterr(err, errlen, "out of memory");
        goto fail;
    }
    if (refresh_tries(t, err, errlen))
        goto fail;
    return t;
fail:
    lm_tokenizer_free(t);
    return NULL;
}

lm_tokenizer *lm_tokenizer_load_mem(const char *json, size_t len, const char *name, char *err, size_t errlen)
{
    json_error_t je;
    char msg[400];
    msg[0] = 0;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root) {
        lm_seterr(err, errlen, "%s:%d:%d: not valid JSON: %s", name, je.line, je.column, je.text);
        return NULL;
    }
    lm_tokenizer *t = load_json(root, msg, sizeof msg);
    json_decref(root);
    if (!t)
        lm_seterr(err, errlen, "%s: %s", name, msg[0] ? msg : "cannot load");
    return t;
}

lm_tokenizer *lm_tokenizer_load(const char *path, char *err, size_t errlen)
{
    struct stat st;
    char *p = NULL;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        size_t n = strlen(path);
        p = lm_xmalloc(n + 20);
        snprintf(p, n + 20, "%s/tokenizer.json", path);
        path = p;
    }
    size_t len;
    char msg[300];
    char *buf = lm_read_file(path, &len, msg, sizeof msg);
    if (!buf) {
        lm_seterr(err, errlen, "%s", msg);
        free(p);
        return NULL;
    }
    lm_tokenizer *t = lm_tokenizer_load_mem(buf, len, path, err, errlen);
    free(buf);
    free(p);
    return t;
}
