/* router.h - a small multi-head router trained in C: for every (small model,
 * n) head it predicts the probability that best-of-n from that model matches
 * the reference (the router of Ding et al., "BEST-Route", ICML 2025, with
 * lmkit's own features and heads; see route(1), "The router").
 *
 * Two architectures over the sparse features of features.h:
 *   linear: z[h] = b[h] + sum_d x[d] W[d][h]                 W: [D][H]
 *   mlp:    a[j] = relu(b1[j] + sum_d x[d] W1[d][j])         W1: [D][J]
 *           z[h] = b2[h] + sum_j a[j] W2[j][h]               W2: [J][H]
 * and p[h] = sigmoid(z[h]) (a 2-way softmax head with index 0 = match is the
 * same model with z = a0 - a1).  Loss: soft-label cross-entropy
 *   -y log p - (1 - y) log(1 - p), averaged over labelled (query, head) pairs
 *   (NaN labels are skipped), plus l2/2 * |weights|^2 (biases excluded).
 * Optimiser: mini-batch Adam, updating only the weight rows of features
 * present in the batch (lazy Adam: L2 and moments of absent rows wait); early stopping on a seeded validation split,
 * keeping the best epoch.  OpenMP parallelises over queries in the forward
 * pass and over output columns in the backward pass; every sum runs in a
 * fixed order, so the result depends on the seed only, not on the number of
 * threads.
 *
 * This is our own learned component, not the reference code's DeBERTa
 * router: call results "BEST-Route decision rule with a linear (or MLP)
 * multi-head router".  Model files: a text header with a version line,
 * sizes and head names, then the parameters as little-endian float32,
 * written atomically (core/fs.h).
 */
#ifndef LMKIT_ROUTE_ROUTER_H
#define LMKIT_ROUTE_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "route/data.h"
#include "route/features.h"

#define ROUTE_ROUTER_VERSION 1

typedef enum { ROUTE_LINEAR = 1, ROUTE_MLP = 2 } route_arch;

typedef struct {
    route_arch arch;
    route_feat_cfg feat;
    size_t hidden; /* J, MLP only (0 for linear) */
    size_t n_max;
    size_t n_heads; /* H = n_small * n_max */
    size_t n_small;
    char **small;    /* [n_small] model names, head order */
    double *avg_out; /* [n_small + 1] average output tokens; last = reference */
    char *reference;
    size_t n_params;
    float *params; /* one block: linear W, b; mlp W1, b1, W2, b2 */
} route_router;

typedef struct {
    route_arch arch;
    size_t hidden;     /* default 64 */
    double lr;         /* Adam step, default 0.05 */
    double l2;         /* default 1e-5 */
    size_t batch;      /* default 1024 */
    size_t max_epochs; /* default 30 */
    size_t patience;   /* epochs without validation improvement; default 3 */
    double val_frac;   /* default 0.1; 0 = no early stopping */
    uint64_t seed;
} route_train_opts;

typedef struct {
    size_t epochs;         /* epochs run */
    size_t best_epoch;     /* 1-based epoch kept */
    double train_loss[64]; /* data loss per epoch (first 64) */
    double val_loss[64];
    double best_val_loss;
    double init_loss; /* train data loss before the first update */
    size_t n_train, n_val;
} route_train_log;

void route_train_opts_default(route_train_opts *o);

/* Sets up an untrained router.  small: model names of the heads' models in
 * order; avg_out: [n_small + 1], the reference last (may be NULL: NaN). */
int route_router_init(route_router *r, route_arch arch, const route_feat_cfg *feat, size_t hidden,
                      size_t n_max, size_t n_small, const char *const *small, const char *reference,
                      const double *avg_out, char *err, size_t errlen);
void route_router_free(route_router *r);

/* Trains on X: [n][D] sparse and Y: [n][H] soft labels (NaN = unlabelled).
 * log may be NULL. */
int route_router_train(route_router *r, const route_csr *X, const double *Y, const route_train_opts *o,
                       route_train_log *log, char *err, size_t errlen);

/* p: [H] match probabilities of one query. */
void route_router_predict(const route_router *r, const uint32_t *idx, const float *val, size_t nnz,
                          double *p);
/* Mean soft-label cross-entropy over the labelled pairs of X, Y. */
double route_router_loss(const route_router *r, const route_csr *X, const double *Y);

int route_router_save(const route_router *r, const char *path, char *err, size_t errlen);
int route_router_load(route_router *r, const char *path, char *err, size_t errlen);

/* Puts a loaded router to work on prices table m, whose heads use the
 * router's n_max: rmap[router head] = table head, and the router's finite
 * average output lengths replace m->avg_out.  Returns 0, or -1 with
 * *missing naming the first of the router's models not in m. */
int route_router_map(const route_router *r, route_models *m, size_t *rmap, const char **missing);

#endif
