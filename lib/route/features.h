/* features.h - hashed prompt features for the route router.
 *
 * Word n-grams (lower-cased ASCII letters and digits; bytes >= 0x80 count as
 * letters, so UTF-8 words stay whole) and character n-grams of the
 * lower-cased, whitespace-collapsed prompt are hashed (FNV-1a 64, signed
 * hashing trick) into hash_dim buckets.  Bucket values are log(1 + count)
 * with the hash sign, then the hashed part is scaled to unit L2 norm.  A
 * user-supplied embedding is appended unchanged after the hashed part, at
 * indices hash_dim .. hash_dim + emb_dim - 1.  The result is a sparse vector
 * (sorted unique indices).  This is lmkit's own feature map; it is not the
 * reference code's DeBERTa encoder (hybrid_llm/pair_ranker/ranker.py of
 * microsoft/best-route-llm).
 */
#ifndef LMKIT_ROUTE_FEATURES_H
#define LMKIT_ROUTE_FEATURES_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t hash_dim;   /* buckets; 0 disables text features */
    uint32_t word_ngram; /* word n-grams 1..word_ngram (0 = none) */
    uint32_t char_min;   /* character n-grams char_min..char_max (0 = none) */
    uint32_t char_max;
    uint32_t emb_dim; /* length of the appended embedding (0 = none) */
} route_feat_cfg;

void route_feat_cfg_default(route_feat_cfg *c);
/* Input dimension: hash_dim + emb_dim. */
size_t route_feat_dim(const route_feat_cfg *c);

/* Sparse features of one query.  prompt may be NULL; emb must have
 * c->emb_dim values when emb_dim > 0 (else -1).  *idx and *val are malloc'd
 * (caller frees); *nnz gets their length.  Returns 0, or -1 when emb_len is
 * not c->emb_dim. */
int route_featurize(const route_feat_cfg *c, const char *prompt, const double *emb, size_t emb_len,
                    uint32_t **idx, float **val, size_t *nnz);

/* A compressed sparse row matrix of many queries (zero-initialise, then
 * append rows). */
typedef struct {
    size_t rows, cols;
    size_t *rowptr; /* [rows + 1] */
    uint32_t *idx;  /* [rowptr[rows]] */
    float *val;
    size_t row_cap, nz_cap; /* allocated lengths of rowptr and of idx/val */
} route_csr;

/* Appends one row (the arrays grow by doubling). */
void route_csr_append(route_csr *X, const uint32_t *idx, const float *val, size_t nnz);
void route_csr_free(route_csr *X);

#endif
