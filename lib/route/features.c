/* features.c - hashed word and character n-grams (see features.h). */
#include "route/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"

void route_feat_cfg_default(route_feat_cfg *c)
{
    c->hash_dim = 1u << 15;
    c->word_ngram = 2;
    c->char_min = 3;
    c->char_max = 4;
    c->emb_dim = 0;
}

size_t route_feat_dim(const route_feat_cfg *c)
{
    return (size_t)c->hash_dim + c->emb_dim;
}

static uint64_t fnv1a(uint64_t h, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int is_word(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch >= 0x80;
}

typedef struct {
    uint32_t i;
    float v;
} ent;

static int ent_cmp(const void *a, const void *b)
{
    uint32_t x = ((const ent *)a)->i, y = ((const ent *)b)->i;
    return (x > y) - (x < y);
}

typedef struct {
    ent *e;
    size_t n, cap;
} ent_buf;

static void push(ent_buf *b, uint64_t h, uint32_t dim)
{
    lm_grow(b->e, b->cap, b->n + 1);
    h = mix(h);
    b->e[b->n].i = (uint32_t)((h >> 1) % dim);
    b->e[b->n].v = (h & 1) ? 1.0f : -1.0f;
    b->n++;
}

/* The prompt lower-cased (ASCII), white space collapsed to one space, with
 * a space at both ends; *len its length. */
static char *normalise(const char *prompt, size_t *len)
{
    size_t pl = strlen(prompt), n = 0;
    char *low = lm_xmalloc(pl + 3);
    low[n++] = ' ';
    for (size_t i = 0; i < pl; i++) {
        unsigned char ch = (unsigned char)prompt[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v') {
            if (low[n - 1] != ' ')
                low[n++] = ' ';
        } else {
            low[n++] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
        }
    }
    if (low[n - 1] != ' ')
        low[n++] = ' ';
    low[n] = 0;
    *len = n;
    return low;
}

/* Word n-gram hashes (n = 1..word_ngram) of the normalised text. */
static void word_ngrams(ent_buf *b, const route_feat_cfg *c, const char *low, size_t len)
{
    size_t nw = 0, wcap = 0;
    size_t(*ws)[2] = NULL; /* start and end of each word */
    for (size_t i = 0; i < len;) {
        if (!is_word((unsigned char)low[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && is_word((unsigned char)low[j]))
            j++;
        lm_grow(ws, wcap, nw + 1);
        ws[nw][0] = i;
        ws[nw][1] = j;
        nw++;
        i = j;
    }
    for (uint32_t g = 1; g <= c->word_ngram; g++)
        for (size_t w = 0; w + g <= nw; w++) {
            uint64_t h = 0xcbf29ce484222325ULL ^ (0x57ULL * g);
            for (size_t k = 0; k < g; k++) {
                h = fnv1a(h, (const unsigned char *)low + ws[w + k][0], ws[w + k][1] - ws[w + k][0]);
                h = fnv1a(h, (const unsigned char *)"\x1f", 1);
            }
            push(b, h, c->hash_dim);
        }
    free(ws);
}

/* Character n-gram hashes (n = char_min..char_max; none when char_min is 0). */
static void char_ngrams(ent_buf *b, const route_feat_cfg *c, const char *low, size_t len)
{
    if (!c->char_min)
        return;
    for (uint32_t g = c->char_min; g <= c->char_max; g++)
        for (size_t i = 0; i + g <= len; i++) {
            uint64_t h = 0x84222325cbf29ce4ULL ^ (0x43ULL * g);
            h = fnv1a(h, (const unsigned char *)low + i, g);
            push(b, h, c->hash_dim);
        }
}

/* Merges entries of one bucket: signs summed, then sign * log1p(|sum|);
 * zero sums dropped.  Returns the entries kept (at the front of b) and
 * *inv_norm, 1 / their Euclidean norm (0 when there are none). */
static size_t merge(ent_buf *b, double *inv_norm)
{
    if (b->n)
        qsort(b->e, b->n, sizeof *b->e, ent_cmp);
    size_t u = 0;
    for (size_t i = 0; i < b->n;) {
        size_t j = i;
        float s = 0;
        while (j < b->n && b->e[j].i == b->e[i].i)
            s += b->e[j++].v;
        if (s != 0) {
            b->e[u].i = b->e[i].i;
            b->e[u].v = (s > 0 ? 1.0f : -1.0f) * (float)log1p(fabs((double)s));
            u++;
        }
        i = j;
    }
    double norm = 0;
    for (size_t i = 0; i < u; i++)
        norm += (double)b->e[i].v * b->e[i].v;
    *inv_norm = norm > 0 ? 1.0 / sqrt(norm) : 0;
    return u;
}

int route_featurize(const route_feat_cfg *c, const char *prompt, const double *emb, size_t emb_len,
                    uint32_t **idx, float **val, size_t *nnz)
{
    *idx = NULL;
    *val = NULL;
    *nnz = 0;
    if (emb_len != c->emb_dim)
        return -1;
    ent_buf b = {0};
    if (prompt && c->hash_dim) {
        size_t len;
        char *low = normalise(prompt, &len);
        word_ngrams(&b, c, low, len);
        char_ngrams(&b, c, low, len);
        free(low);
    }
    double norm;
    size_t u = merge(&b, &norm);
    size_t total = u + c->emb_dim;
    *idx = lm_xmalloc(lm_xmul(total, sizeof(uint32_t)));
    *val = lm_xmalloc(lm_xmul(total, sizeof(float)));
    for (size_t i = 0; i < u; i++) {
        (*idx)[i] = b.e[i].i;
        (*val)[i] = (float)(b.e[i].v * norm);
    }
    for (size_t i = 0; i < c->emb_dim; i++) {
        (*idx)[u + i] = c->hash_dim + (uint32_t)i;
        (*val)[u + i] = (float)emb[i];
    }
    *nnz = total;
    free(b.e);
    return 0;
}

void route_csr_append(route_csr *X, const uint32_t *idx, const float *val, size_t nnz)
{
    size_t used = X->rowptr ? X->rowptr[X->rows] : 0;
    lm_grow(X->rowptr, X->row_cap, X->rows + 2);
    if (!X->rows)
        X->rowptr[0] = 0;
    size_t need = used + nnz ? used + nnz : 1, nc = X->nz_cap; /* idx and val share nz_cap */
    lm_grow(X->idx, nc, need);
    lm_grow(X->val, X->nz_cap, need);
    if (nnz) {
        memcpy(X->idx + used, idx, nnz * sizeof(uint32_t));
        memcpy(X->val + used, val, nnz * sizeof(float));
    }
    X->rows++;
    X->rowptr[X->rows] = used + nnz;
}

void route_csr_free(route_csr *X)
{
    free(X->rowptr);
    free(X->idx);
    free(X->val);
    memset(X, 0, sizeof *X);
}
