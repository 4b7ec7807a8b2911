/* hftok_model.c - the tokenizer.json models, bit-compatible with Hugging Face
 * `tokenizers`: BPE (merge queue by rank then position, byte_fallback,
 * fuse_unk, continuing_subword_prefix, end_of_word_suffix, ignore_merges),
 * WordPiece (greedy longest match, max_input_chars_per_word) and Unigram
 * (Viterbi best path with unknown-piece penalty 10, fused unknowns, byte
 * fallback).  Also the string -> id hash map they use.
 *
 * Not supported: BPE dropout (a non-null, non-zero dropout is an error),
 * WordLevel.  The models keep no cache: encoding is read-only on the model.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/hftok_internal.h"
#include "core/diag.h"

/* ------------------------------------------------------------------ map */

uint64_t lm_hft_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static int map_find(const hft_map *m, const char *k, size_t n, size_t *slot)
{
    if (!m->cap)
        return 0;
    size_t mask = m->cap - 1, i = (size_t)lm_hft_hash(k, n) & mask;
    for (;;) {
        uint32_t e = m->slot[i];
        if (!e) {
            *slot = i;
            return 0;
        }
        e--;
        if (m->off[e + 1] - m->off[e] == n && memcmp(m->keys + m->off[e], k, n) == 0) {
            *slot = i;
            return 1;
        }
        i = (i + 1) & mask;
    }
}

void lm_hft_map_put(hft_map *m, const char *k, size_t n, int32_t v)
{
    size_t slot;
    if (m->cap && map_find(m, k, n, &slot)) {
        m->val[m->slot[slot] - 1] = v;
        return;
    }
    if ((m->n + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 64;
        uint32_t *ns = lm_xcalloc(nc, sizeof *ns);
        for (size_t e = 0; e < m->n; e++) {
            size_t i = (size_t)lm_hft_hash(m->keys + m->off[e], m->off[e + 1] - m->off[e]) & (nc - 1);
            while (ns[i])
                i = (i + 1) & (nc - 1);
            ns[i] = (uint32_t)e + 1;
        }
        free(m->slot);
        m->slot = ns;
        m->cap = nc;
    }
    size_t had = m->ncap;
    lm_grow(m->off, m->ncap, m->n + 2);
    if (m->ncap != had)
        m->val = lm_xrealloc(m->val, lm_xmul(m->ncap, sizeof *m->val));
    if (m->n == 0)
        m->off[0] = 0;
    lm_grow(m->keys, m->keycap, m->off[m->n] + n + 1);
    memcpy(m->keys + m->off[m->n], k, n);
    m->off[m->n + 1] = m->off[m->n] + n;
    m->val[m->n] = v;
    map_find(m, k, n, &slot);
    m->slot[slot] = (uint32_t)m->n + 1;
    m->n++;
}

int32_t lm_hft_map_get(const hft_map *m, const char *k, size_t n)
{
    size_t slot;
    if (!map_find(m, k, n, &slot))
        return -1;
    return m->val[m->slot[slot] - 1];
}

void lm_hft_map_free(hft_map *m)
{
    free(m->slot);
    free(m->keys);
    free(m->off);
    free(m->val);
    memset(m, 0, sizeof *m);
}

/* --------------------------------------------------------------- models */

enum { M_BPE, M_WORDPIECE, M_UNIGRAM };

typedef struct {
    uint64_t key; /* (a << 32 | b) + 1, 0 empty */
    uint32_t rank;
    int32_t id;
} merge_ent;

struct hft_model {
    int type;
    hft_map vocab;    /* token -> id */
    size_t nvocab;    /* number of entries (the reference's vocab size) */
    size_t (*rev)[2]; /* id -> [offset, length] in vocab.keys; length SIZE_MAX for a hole */
    size_t nrev;
    /* BPE */
    merge_ent *merges;
    size_t mcap;
    char *prefix, *suffix; /* NULL when absent */
    size_t prefix_n, suffix_n;
    int32_t unk; /* -1 none */
    int fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_id[256]; /* <0xXX> ids, -1 missing */
    /* WordPiece */
    size_t max_chars;
    /* Unigram */
    double *score;
    double min_score;
    size_t maxlen;
};

size_t lm_hft_model_vocab_size(const hft_model *m)
{
    return m->nvocab;
}

const char *lm_hft_model_token(const hft_model *m, int32_t id, size_t *len)
{
    if (id < 0 || (size_t)id >= m->nrev || m->rev[id][1] == (size_t)-1)
        return NULL;
    if (len)
        *len = m->rev[id][1];
    return m->vocab.keys + m->rev[id][0];
}

int32_t lm_hft_model_id(const hft_model *m, const char *tok, size_t len)
{
    return lm_hft_map_get(&m->vocab, tok, len);
}

void lm_hft_model_free(hft_model *m)
{
    if (!m)
        return;
    lm_hft_map_free(&m->vocab);
    free(m->rev);
    free(m->merges);
    free(m->prefix);
    free(m->suffix);
    free(m->score);
    free(m);
}

static const merge_ent *merge_get(const hft_model *m, int32_t a, int32_t b)
{
    if (!m->mcap)
        return NULL;
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t mask = m->mcap - 1, i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & mask;
    while (m->merges[i].key) {
        if (m->merges[i].key == key)
            return &m->merges[i];
        i = (i + 1) & mask;
    }
    return NULL;
}

static void merge_put(hft_model *m, int32_t a, int32_t b, uint32_t rank, int32_t id)
{
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t mask = m->mcap - 1, i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & mask;
    while (m->merges[i].key && m->merges[i].key != key)
        i = (i + 1) & mask;
    m->merges[i].key = key;
    m->merges[i].rank = rank;
    m->merges[i].id = id;
}

static void tk_push(hft_work *w, int32_t id, size_t s, size_t e)
{
    lm_grow(w->tk, w->tkcap, w->ntk + 1);
    w->tk[w->ntk].id = id;
    w->tk[w->ntk].s = s;
    w->tk[w->ntk].e = e;
    w->tk[w->ntk].slice = 0;
    w->ntk++;
}

static char *scratch_str(hft_work *w, size_t n)
{
    lm_grow(w->sb, w->sbcap, n + 1);
    return w->sb;
}

/* w->scratch with room for at least need bytes */
static void *scratch(hft_work *w, size_t need)
{
    char *p = w->scratch;
    lm_grow(p, w->scratchcap, need);
    return w->scratch = p;
}

static size_t u8len(unsigned char b)
{
    return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

/* ---- BPE ---- */

typedef struct {
    int32_t c;
    long prev, next;
    size_t len;
} bsym;

typedef struct {
    uint32_t rank;
    int32_t id;
    size_t pos;
} bmerge;

static int bm_less(const bmerge *a, const bmerge *b) /* a has priority over b */
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(bmerge *h, size_t *n, bmerge x)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bm_less(&x, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static bmerge heap_pop(bmerge *h, size_t *n)
{
    bmerge top = h[0], x = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, b = i;
        const bmerge *best = &x;
        if (l < *n && bm_less(&h[l], best))
            b = l, best = &h[l];
        if (r < *n && bm_less(&h[r], best))
            b = r;
        if (b == i)
            break;
        h[i] = h[b];
        i = b;
    }
    if (*n)
        h[i] = x;
    return top;
}

static int bpe_tokenize(const hft_model *m, hft_work *w, const char *s, size_t n, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    if (m->ignore_merges) {
        int32_t id = lm_hft_map_get(&m->vocab, s, n);
        if (id >= 0) {
            tk_push(w, id, 0, n);
            return 0;
        }
    }
    /* symbols: one per character at most, or with byte fallback one per
     * byte of the character and of the prefix before it (and of the suffix
     * after the last one) */
    size_t nch = 0;
    for (size_t i = 0; i < n; i++)
        nch += ((unsigned char)s[i] & 0xC0) != 0x80;
    size_t maxsym = n + (m->byte_fallback ? nch : 1) * m->prefix_n + m->suffix_n + 8;
    size_t need = maxsym * sizeof(bsym) + 4 * maxsym * sizeof(bmerge) + 64;
    bsym *sym = scratch(w, need);
    bmerge *heap = (bmerge *)((char *)w->scratch + maxsym * sizeof(bsym) + 32);
    size_t ns = 0, nh = 0;
    long unk_id = -1;
    size_t unk_len = 0;
#define ADD(id_, len_)               \
    do {                             \
        if (ns >= maxsym)            \
            goto toolong;            \
        sym[ns].c = (id_);           \
        sym[ns].len = (len_);        \
        sym[ns].prev = (long)ns - 1; \
        sym[ns].next = (long)ns + 1; \
        ns++;                        \
    } while (0)
    char *buf = scratch_str(w, m->prefix_n + m->suffix_n + 8);
    for (size_t i = 0; i < n;) {
        size_t l = u8len((unsigned char)s[i]);
        if (l > n - i)
            l = n - i;
        int first = i == 0, last = i + l == n;
        size_t bl = 0;
        if (!first && m->prefix) {
            memcpy(buf, m->prefix, m->prefix_n);
            bl = m->prefix_n;
        }
        memcpy(buf + bl, s + i, l);
        bl += l;
        if (last && m->suffix) {
            memcpy(buf + bl, m->suffix, m->suffix_n);
            bl += m->suffix_n;
        }
        int32_t id = lm_hft_map_get(&m->vocab, buf, bl);
        if (id >= 0) {
            if (unk_id >= 0) {
                ADD((int32_t)unk_id, unk_len);
                unk_id = -1;
            }
            ADD(id, l);
        } else {
            int done = 0;
            if (m->byte_fallback) {
                int all = 1;
                for (size_t b = 0; b < bl; b++)
                    if (m->byte_id[(unsigned char)buf[b]] < 0)
                        all = 0;
                if (all) {
                    for (size_t b = 0; b < bl; b++)
                        ADD(m->byte_id[(unsigned char)buf[b]], 1);
                    done = 1;
                }
            }
            if (!done && m->unk >= 0) {
                if (unk_id >= 0 && m->fuse_unk) {
                    unk_len += l;
                } else {
                    if (unk_id >= 0)
                        ADD((int32_t)unk_id, unk_len);
                    unk_id = m->unk;
                    unk_len = l;
                }
            }
        }
        i += l;
    }
    if (unk_id >= 0)
        ADD((int32_t)unk_id, unk_len);
    if (ns)
        sym[ns - 1].next = -1;
    for (size_t i = 0; i + 1 < ns; i++) {
        const merge_ent *me = merge_get(m, sym[i].c, sym[i + 1].c);
        if (me)
            heap_push(heap, &nh, (bmerge){me->rank, me->id, i});
    }
    size_t heapcap = 4 * maxsym;
    while (nh) {
        bmerge top = heap_pop(heap, &nh);
        bsym *cur = &sym[top.pos];
        if (cur->len == 0 || cur->next < 0)
            continue;
        size_t nx = (size_t)cur->next;
        bsym right = sym[nx];
        const merge_ent *me = merge_get(m, cur->c, right.c);
        if (!me || me->id != top.id)
            continue;
        cur->c = top.id;
        cur->len += right.len;
        cur->next = right.next;
        sym[nx].len = 0;
        if (right.next >= 0 && (size_t)right.next < ns)
            sym[right.next].prev = (long)top.pos;
        if (cur->prev >= 0) {
            const merge_ent *pm = merge_get(m, sym[cur->prev].c, cur->c);
            if (pm && nh < heapcap)
                heap_push(heap, &nh, (bmerge){pm->rank, pm->id, (size_t)cur->prev});
        }
        if (cur->next >= 0 && (size_t)cur->next < ns) {
            const merge_ent *nm = merge_get(m, cur->c, sym[cur->next].c);
            if (nm && nh < heapcap)
                heap_push(heap, &nh, (bmerge){nm->rank, nm->id, top.pos});
        }
    }
    size_t off = 0;
    for (size_t i = 0; i < ns; i++) {
        if (!sym[i].len)
            continue;
        tk_push(w, sym[i].c, off, off + sym[i].len);
        off += sym[i].len;
    }
    return 0;
toolong:
    lm_seterr(err, errlen, "BPE: a piece of %zu bytes makes more than %zu symbols (a bug)", n, maxsym);
    return -1;
#undef ADD
}

/* ---- WordPiece ---- */

static int wp_tokenize(const hft_model *m, hft_work *w, const char *s, size_t n, char *err, size_t errlen)
{
    size_t nch = 0;
    for (size_t i = 0; i < n; i++)
        nch += ((unsigned char)s[i] & 0xC0) != 0x80;
    size_t t0 = w->ntk;
    if (nch > m->max_chars)
        goto bad;
    char *buf = scratch_str(w, n + m->prefix_n);
    size_t start = 0;
    while (start < n) {
        size_t end = n;
        int32_t found = -1;
        while (start < end) {
            size_t bl = 0;
            if (start > 0) {
                memcpy(buf, m->prefix, m->prefix_n);
                bl = m->prefix_n;
            }
            memcpy(buf + bl, s + start, end - start);
            bl += end - start;
            int32_t id = lm_hft_map_get(&m->vocab, buf, bl);
            if (id >= 0) {
                found = id;
                break;
            }
            /* drop the last character */
            size_t e = end - 1;
            while (e > start && ((unsigned char)s[e] & 0xC0) == 0x80)
                e--;
            end = e;
        }
        if (found < 0)
            goto bad;
        tk_push(w, found, start, end);
        start = end;
    }
    return 0;
bad:
    w->ntk = t0;
    if (m->unk < 0) {
        lm_seterr(err, errlen, "WordPiece: the unk_token is not in the vocabulary");
        return -1;
    }
    tk_push(w, m->unk, 0, n);
    return 0;
}

/* ---- Unigram ---- */

typedef struct {
    double score;
    long start; /* -1: unreached */
    int32_t id;
} unode;

static int ug_tokenize(const hft_model *m, hft_work *w, const char *s, size_t n, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    size_t need = (n + 1) * sizeof(unode) + (n + 1) * 2 * sizeof(size_t);
    unode *best = scratch(w, need);
    size_t(*seg)[2] = (void *)((char *)w->scratch + (n + 1) * sizeof(unode));
    for (size_t i = 0; i <= n; i++) {
        best[i].score = 0;
        best[i].start = -1;
        best[i].id = -1;
    }
    double unk_score = m->min_score - 10.0;
    for (size_t st = 0; st < n;) {
        double here = best[st].score;
        size_t mblen = u8len((unsigned char)s[st]);
        if (mblen > n - st)
            mblen = n - st;
        int single = 0;
        size_t lim = n - st < m->maxlen ? n - st : m->maxlen;
        for (size_t l = 1; l <= lim; l++) {
            int32_t id = lm_hft_map_get(&m->vocab, s + st, l);
            if (id < 0)
                continue;
            unode *t = &best[st + l];
            double cand = m->score[id] + here;
            if (t->start < 0 || cand > t->score) {
                t->score = cand;
                t->start = (long)st;
                t->id = id;
            }
            if (l == mblen)
                single = 1;
        }
        if (!single) {
            unode *t = &best[st + mblen];
            double cand = unk_score + here;
            if (t->start < 0 || cand > t->score) {
                t->score = cand;
                t->start = (long)st;
                t->id = m->unk;
            }
        }
        st += mblen;
    }
    /* backtrack into segments (reversed), fusing consecutive unknowns */
    size_t nseg = 0;
    long fuse_end = -1;
    for (size_t e = n; e > 0;) {
        unode *nd = &best[e];
        if (nd->start < 0)
            break;
        size_t st = (size_t)nd->start;
        if (m->unk >= 0 && nd->id == m->unk) {
            if (fuse_end < 0)
                fuse_end = (long)e;
        } else {
            if (fuse_end >= 0) {
                seg[nseg][0] = e;
                seg[nseg][1] = (size_t)fuse_end;
                nseg++;
                fuse_end = -1;
            }
            seg[nseg][0] = st;
            seg[nseg][1] = e;
            nseg++;
        }
        e = st;
    }
    if (fuse_end >= 0) {
        seg[nseg][0] = 0;
        seg[nseg][1] = (size_t)fuse_end;
        nseg++;
    }
    for (size_t k = nseg; k-- > 0;) {
        size_t a = seg[k][0], b = seg[k][1];
        int32_t id = lm_hft_map_get(&m->vocab, s + a, b - a);
        if (id < 0) {
            if (m->byte_fallback) {
                int all = 1;
                for (size_t i = a; i < b; i++)
                    if (m->byte_id[(unsigned char)s[i]] < 0)
                        all = 0;
                if (all) {
                    for (size_t i = a; i < b; i++)
                        tk_push(w, m->byte_id[(unsigned char)s[i]], a, b);
                    continue;
                }
            }
            if (m->unk < 0) {
                lm_seterr(err, errlen, "Unigram: a piece is not in the vocabulary and unk_id is not set");
                return -1;
            }
            id = m->unk;
        }
        tk_push(w, id, a, b);
        w->tk[w->ntk - 1].slice = 1; /* tokenizers' Unigram token is the piece */
    }
    return 0;
}

int lm_hft_model_tokenize(const hft_model *m, hft_work *w, const char *s, size_t n, char *err, size_t errlen)
{
    w->ntk = 0;
    switch (m->type) {
    case M_BPE: return bpe_tokenize(m, w, s, n, err, errlen);
    case M_WORDPIECE: return wp_tokenize(m, w, s, n, err, errlen);
    default: return ug_tokenize(m, w, s, n, err, errlen);
    }
}

/* ------------------------------------------------------------ parsing */

static int opt_str(json_t *j, const char *key, char **out, size_t *n, char *err, size_t errlen)
{
    json_t *v = json_object_get(j, key);
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        lm_seterr(err, errlen, "model.%s must be a string or null", key);
        return -1;
    }
    *n = json_string_length(v);
    *out = lm_xmalloc(*n + 1);
    memcpy(*out, json_string_value(v), *n + 1);
    return 0;
}

static int opt_bool(json_t *j, const char *key, int *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(j, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        lm_seterr(err, errlen, "model.%s must be true or false", key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

static void build_rev(hft_model *m)
{
    size_t maxid = 0;
    for (size_t e = 0; e < m->vocab.n; e++)
        if ((size_t)m->vocab.val[e] + 1 > maxid)
            maxid = (size_t)m->vocab.val[e] + 1;
    m->rev = lm_xmalloc((maxid + 1) * sizeof *m->rev);
    m->nrev = maxid;
    for (size_t i = 0; i < maxid; i++)
        m->rev[i][1] = (size_t)-1;
    for (size_t e = 0; e < m->vocab.n; e++) {
        int32_t id = m->vocab.val[e];
        m->rev[id][0] = m->vocab.off[e];
        m->rev[id][1] = m->vocab.off[e + 1] - m->vocab.off[e];
    }
}

static int parse_vocab_dict(hft_model *m, json_t *v, char *err, size_t errlen)
{
    if (!json_is_object(v)) {
        lm_seterr(err, errlen, "model.vocab must be an object of token: id");
        return -1;
    }
    const char *k;
    json_t *val;
    json_object_foreach(v, k, val)
    {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= (1 << 24)) {
            lm_seterr(err, errlen, "model.vocab['%.40s'] must be an integer id in [0, 2^24)", k);
            return -1;
        }
        lm_hft_map_put(&m->vocab, k, strlen(k), (int32_t)json_integer_value(val));
    }
    m->nvocab = m->vocab.n;
    build_rev(m);
    return 0;
}

static void find_byte_ids(hft_model *m)
{
    for (int b = 0; b < 256; b++) {
        char t[8];
        snprintf(t, sizeof t, "<0x%02X>", b);
        m->byte_id[b] = lm_hft_map_get(&m->vocab, t, 6);
    }
}

static int parse_bpe(hft_model *m, json_t *j, char *err, size_t errlen)
{
    json_t *d = json_object_get(j, "dropout");
    if (d && !json_is_null(d) && !(json_is_number(d) && json_number_value(d) == 0.0)) {
        lm_seterr(err, errlen, "model.dropout is not supported (must be null)");
        return -1;
    }
    char *unk = NULL;
    size_t unkn;
    if (parse_vocab_dict(m, json_object_get(j, "vocab"), err, errlen) ||
        opt_str(j, "unk_token", &unk, &unkn, err, errlen) ||
        opt_str(j, "continuing_subword_prefix", &m->prefix, &m->prefix_n, err, errlen) ||
        opt_str(j, "end_of_word_suffix", &m->suffix, &m->suffix_n, err, errlen) ||
        opt_bool(j, "fuse_unk", &m->fuse_unk, err, errlen) ||
        opt_bool(j, "byte_fallback", &m->byte_fallback, err, errlen) ||
        opt_bool(j, "ignore_merges", &m->ignore_merges, err, errlen)) {
        free(unk);
        return -1;
    }
    m->unk = -1;
    if (unk) {
        m->unk = lm_hft_map_get(&m->vocab, unk, unkn);
        free(unk);
        /* the reference fails only when an unknown piece is met; treat a
           missing unk_token as none */
    }
    find_byte_ids(m);
    json_t *mg = json_object_get(j, "merges");
    if (!json_is_array(mg)) {
        lm_seterr(err, errlen, "model.merges must be an array");
        return -1;
    }
    size_t nm = json_array_size(mg);
    if (nm == 0) {
        lm_seterr(err, errlen, "model.merges is empty (a BPE model needs merges)");
        return -1;
    }
    m->mcap = 16;
    while (m->mcap < nm * 2)
        m->mcap *= 2;
    m->merges = lm_xcalloc(m->mcap, sizeof *m->merges);
    char *buf = NULL;
    size_t bcap = 0;
    for (size_t i = 0; i < nm; i++) {
        json_t *e = json_array_get(mg, i);
        const char *a, *b;
        size_t an, bn;
        if (json_is_string(e)) {
            const char *s = json_string_value(e);
            size_t n = json_string_length(e);
            const char *sp = memchr(s, ' ', n);
            if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s))) {
                lm_seterr(err, errlen, "model.merges[%zu] '%.40s' is not two tokens separated by one space",
                          i, s);
                free(buf);
                return -1;
            }
            a = s;
            an = (size_t)(sp - s);
            b = sp + 1;
            bn = n - an - 1;
        } else if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
                   json_is_string(json_array_get(e, 1))) {
            a = json_string_value(json_array_get(e, 0));
            an = json_string_length(json_array_get(e, 0));
            b = json_string_value(json_array_get(e, 1));
            bn = json_string_length(json_array_get(e, 1));
        } else {
            lm_seterr(err, errlen, "model.merges[%zu] must be \"a b\" or [\"a\", \"b\"]", i);
            free(buf);
            return -1;
        }
        int32_t ia = lm_hft_map_get(&m->vocab, a, an), ib = lm_hft_map_get(&m->vocab, b, bn);
        if (ia < 0 || ib < 0) {
            lm_seterr(err, errlen, "model.merges[%zu]: token '%.40s' is not in the vocabulary", i,
                      ia < 0 ? a : b);
            free(buf);
            return -1;
        }
        if (bn < m->prefix_n) {
            lm_seterr(err, errlen, "model.merges[%zu]: '%.40s' is shorter than continuing_subword_prefix", i,
                      b);
            free(buf);
            return -1;
        }
        lm_grow(buf, bcap, an + bn + 1);
        memcpy(buf, a, an);
        memcpy(buf + an, b + m->prefix_n, bn - m->prefix_n);
        int32_t nid = lm_hft_map_get(&m->vocab, buf, an + bn - m->prefix_n);
        if (nid < 0) {
            lm_seterr(err, errlen, "model.merges[%zu]: merged token '%.*s' is not in the vocabulary", i,
                      (int)((an + bn - m->prefix_n) > 60 ? 60 : an + bn - m->prefix_n), buf);
            free(buf);
            return -1;
        }
        merge_put(m, ia, ib, (uint32_t)i, nid);
    }
    free(buf);
    return 0;
}

static int parse_wordpiece(hft_model *m, json_t *j, char *err, size_t errlen)
{
    char *unk = NULL;
    size_t unkn;
    if (parse_vocab_dict(m, json_object_get(j, "vocab"), err, errlen) ||
        opt_str(j, "unk_token", &unk, &unkn, err, errlen) ||
        opt_str(j, "continuing_subword_prefix", &m->prefix, &m->prefix_n, err, errlen)) {
        free(unk);
        return -1;
    }
    m->unk = unk ? lm_hft_map_get(&m->vocab, unk, unkn) : lm_hft_map_get(&m->vocab, "[UNK]", 5);
    if (m->unk < 0) {
        /* every word outside the vocabulary would fail to encode: a broken
         * file, reported as one here rather than at the first such record */
        lm_seterr(err, errlen, "model.unk_token '%.40s' is not in model.vocab", unk ? unk : "[UNK]");
        free(unk);
        return -1;
    }
    free(unk);
    if (!m->prefix) {
        m->prefix = lm_xstrdup("##");
        m->prefix_n = 2;
    }
    m->max_chars = 100;
    json_t *mc = json_object_get(j, "max_input_chars_per_word");
    if (mc && !json_is_null(mc)) {
        if (!json_is_integer(mc) || json_integer_value(mc) < 0) {
            lm_seterr(err, errlen, "model.max_input_chars_per_word must be a non-negative integer");
            return -1;
        }
        m->max_chars = (size_t)json_integer_value(mc);
    }
    return 0;
}

static int parse_unigram(hft_model *m, json_t *j, char *err, size_t errlen)
{
    json_t *v = json_object_get(j, "vocab");
    if (!json_is_array(v)) {
        lm_seterr(err, errlen, "model.vocab must be an array of [piece, score]");
        return -1;
    }
    size_t n = json_array_size(v);
    m->score = lm_xmalloc((n + 1) * sizeof *m->score);
    m->min_score = INFINITY;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(json_array_get(e, 0)) ||
            !json_is_number(json_array_get(e, 1))) {
            lm_seterr(err, errlen, "model.vocab[%zu] must be [piece, score]", i);
            return -1;
        }
        const char *p = json_string_value(json_array_get(e, 0));
        size_t pn = json_string_length(json_array_get(e, 0));
        m->score[i] = json_number_value(json_array_get(e, 1));
        if (m->score[i] < m->min_score)
            m->min_score = m->score[i];
        if (pn > m->maxlen)
            m->maxlen = pn;
        lm_hft_map_put(&m->vocab, p, pn, (int32_t)i);
    }
    m->nvocab = n;
    /* id -> piece must follow the list, duplicates included */
    m->rev = lm_xmalloc((n + 1) * sizeof *m->rev);
    m->nrev = n;
    for (size_t i = 0; i < n; i++)
        m->rev[i][1] = (size_t)-1;
    for (size_t e2 = 0; e2 < m->vocab.n; e2++) {
        int32_t id = m->vocab.val[e2];
        m->rev[id][0] = m->vocab.off[e2];
        m->rev[id][1] = m->vocab.off[e2 + 1] - m->vocab.off[e2];
    }
    for (size_t i = 0; i < n; i++) { /* duplicates: same piece text as their last occurrence */
        if (m->rev[i][1] != (size_t)-1)
            continue;
        json_t *e = json_array_get(v, i);
        int32_t id = lm_hft_map_get(&m->vocab, json_string_value(json_array_get(e, 0)),
                                    json_string_length(json_array_get(e, 0)));
        if (id >= 0) {
            m->rev[i][0] = m->rev[id][0];
            m->rev[i][1] = m->rev[id][1];
        }
    }
    m->unk = -1;
    json_t *u = json_object_get(j, "unk_id");
    if (u && !json_is_null(u)) {
        if (!json_is_integer(u) || json_integer_value(u) < 0 || (size_t)json_integer_value(u) >= n) {
            lm_seterr(err, errlen, "model.unk_id must be an index into model.vocab");
            return -1;
        }
        m->unk = (int32_t)json_integer_value(u);
    }
    if (opt_bool(j, "byte_fallback", &m->byte_fallback, err, errlen))
        return -1;
    find_byte_ids(m);
    if (n == 0)
        m->min_score = 0;
    return 0;
}

hft_model *lm_hft_model_parse(json_t *j, char *err, size_t errlen)
{
    if (!json_is_object(j)) {
        lm_seterr(err, errlen, "model must be an object");
        return NULL;
    }
    hft_model *m = lm_xcalloc(1, sizeof *m);
    m->unk = -1;
    json_t *t = json_object_get(j, "type");
    const char *ty = NULL;
    if (t && !json_is_string(t)) {
        lm_seterr(err, errlen, "model.type must be a string");
        goto fail;
    }
    if (t)
        ty = json_string_value(t);
    else if (json_object_get(j, "merges"))
        ty = "BPE";
    else if (json_is_array(json_object_get(j, "vocab")))
        ty = "Unigram";
    else if (json_object_get(j, "continuing_subword_prefix") ||
             json_object_get(j, "max_input_chars_per_word"))
        ty = "WordPiece";
    else {
        lm_seterr(err, errlen, "model has no \"type\" and is not recognisable as BPE, WordPiece or Unigram");
        goto fail;
    }
    int rc;
    if (!strcmp(ty, "BPE")) {
        m->type = M_BPE;
        rc = parse_bpe(m, j, err, errlen);
    } else if (!strcmp(ty, "WordPiece")) {
        m->type = M_WORDPIECE;
        rc = parse_wordpiece(m, j, err, errlen);
    } else if (!strcmp(ty, "Unigram")) {
        m->type = M_UNIGRAM;
        rc = parse_unigram(m, j, err, errlen);
    } else {
        lm_seterr(err, errlen, "model.type '%.60s' is not supported", ty);
        goto fail;
    }
    if (rc)
        goto fail;
    return m;
fail:
    lm_hft_model_free(m);
    return NULL;
}
