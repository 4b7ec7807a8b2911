/* router.c - multi-head linear / MLP router: training, prediction, files
 * (see router.h).
 */
#include "route/router.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "core/rng.h"

/* the largest parameter magnitude a router file may hold */
#define ROUTE_PARAM_MAX 1e6f

#ifdef _OPENMP
#include <omp.h>
#include "core/diag.h"
#endif

void route_train_opts_default(route_train_opts *o)
{
    o->arch = ROUTE_LINEAR;
    o->hidden = 64;
    o->lr = 0.05;
    o->l2 = 1e-5;
    o->batch = 1024;
    o->max_epochs = 30;
    o->patience = 3;
    o->val_frac = 0.1;
    o->seed = 1;
}

/* ---- parameter layout ---------------------------------------------------- */

typedef struct {
    size_t D, J, H;
    size_t w1, b1, w2, b2; /* offsets; linear uses w1 (D x H) and b1 (H) */
    size_t n, n_weights_end1, w2_end;
} layout;

static int make_layout(layout *L, route_arch arch, size_t D, size_t J, size_t H)
{
    memset(L, 0, sizeof *L);
    L->D = D;
    L->J = J;
    L->H = H;
    size_t O = arch == ROUTE_MLP ? J : H;
    if (O && D > SIZE_MAX / O / 8)
        return -1;
    L->w1 = 0;
    L->b1 = D * O;
    L->n = L->b1 + O;
    if (arch == ROUTE_MLP) {
        if (J > SIZE_MAX / (H + 1) / 8)
            return -1;
        L->w2 = L->n;
        L->b2 = L->w2 + J * H;
        L->n = L->b2 + H;
    }
    return 0;
}

static void get_layout(const route_router *r, layout *L)
{
    make_layout(L, r->arch, route_feat_dim(&r->feat), r->hidden, r->n_heads);
}

/* The router's shape (checked) and its parameter count, nothing
 * allocated: 0, or -1 with a message. */
static int router_shape(route_router *r, route_arch arch, const route_feat_cfg *feat, size_t hidden,
                        size_t n_max, size_t n_small, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (arch != ROUTE_LINEAR && arch != ROUTE_MLP) {
        lm_seterr(err, errlen, "router: unknown architecture %d", (int)arch);
        return -1;
    }
    if (!n_max || !n_small) {
        lm_seterr(err, errlen, "router: need at least one small model and n_max >= 1");
        return -1;
    }
    if (arch == ROUTE_MLP && !hidden) {
        lm_seterr(err, errlen, "router: an MLP needs hidden >= 1");
        return -1;
    }
    if (route_feat_dim(feat) == 0) {
        lm_seterr(err, errlen, "router: no features (hash_dim and emb_dim are both 0)");
        return -1;
    }
    if (feat->hash_dim && !feat->word_ngram && !feat->char_min) {
        lm_seterr(err, errlen, "router: hashed features need word or character n-grams");
        return -1;
    }
    if (feat->char_min > feat->char_max) {
        lm_seterr(err, errlen, "router: char_min > char_max");
        return -1;
    }
    r->arch = arch;
    r->feat = *feat;
    r->hidden = arch == ROUTE_MLP ? hidden : 0;
    r->n_max = n_max;
    r->n_small = n_small;
    r->n_heads = n_small * n_max;
    layout L;
    if (make_layout(&L, arch, route_feat_dim(feat), r->hidden, r->n_heads)) {
        lm_seterr(err, errlen, "router: sizes overflow");
        return -1;
    }
    r->n_params = L.n;
    return 0;
}

int route_router_init(route_router *r, route_arch arch, const route_feat_cfg *feat, size_t hidden,
                      size_t n_max, size_t n_small, const char *const *small, const char *reference,
                      const double *avg_out, char *err, size_t errlen)
{
    if (router_shape(r, arch, feat, hidden, n_max, n_small, err, errlen))
        return -1;
    layout L;
    get_layout(r, &L);
    r->params = lm_xcalloc(L.n, sizeof(float));
    r->small = lm_xcalloc(n_small, sizeof(char *));
    r->avg_out = lm_xmalloc(lm_xmul(n_small + 1, sizeof(double)));
    r->reference = lm_xstrdup(reference ? reference : "");
    for (size_t i = 0; i < n_small; i++)
        r->small[i] = lm_xstrdup(small[i]);
    for (size_t i = 0; i <= n_small; i++)
        r->avg_out[i] = avg_out ? avg_out[i] : NAN;
    return 0;
}

void route_router_free(route_router *r)
{
    if (!r)
        return;
    if (r->small)
        for (size_t i = 0; i < r->n_small; i++)
            free(r->small[i]);
    free(r->small);
    free(r->avg_out);
    free(r->reference);
    free(r->params);
    memset(r, 0, sizeof *r);
}

/* ---- forward / backward pieces ------------------------------------------- */

/* out[o] = b[o] + sum_k val[k] W[idx[k]][o]   (W: [D][O]) */
static void sparse_fwd(float *out, const float *W, const float *b, size_t O, const uint32_t *idx,
                       const float *val, size_t nnz)
{
    for (size_t o = 0; o < O; o++)
        out[o] = b[o];
    for (size_t k = 0; k < nnz; k++) {
        const float *w = W + (size_t)idx[k] * O;
        float v = val[k];
        for (size_t o = 0; o < O; o++)
            out[o] += v * w[o];
    }
}

static double sigmoid(double z)
{
    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

/* cross-entropy of logit z against soft label y, computed stably */
static double xent(double z, double y)
{
    /* -y log s(z) - (1-y) log(1-s(z)) = softplus(z) - y z */
    double sp = z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
    return sp - y * z;
}

/* Forward of one query: z [H]; act [J] (mlp) may be NULL for linear. */
static void forward1(const route_router *r, const layout *L, const float *P, const uint32_t *idx,
                     const float *val, size_t nnz, float *act, float *z)
{
    if (r->arch == ROUTE_LINEAR) {
        sparse_fwd(z, P + L->w1, P + L->b1, L->H, idx, val, nnz);
        return;
    }
    sparse_fwd(act, P + L->w1, P + L->b1, L->J, idx, val, nnz);
    for (size_t j = 0; j < L->J; j++)
        if (act[j] < 0)
            act[j] = 0;
    const float *W2 = P + L->w2, *b2 = P + L->b2;
    for (size_t h = 0; h < L->H; h++)
        z[h] = b2[h];
    for (size_t j = 0; j < L->J; j++) {
        float a = act[j];
        if (a == 0)
            continue;
        const float *w = W2 + j * L->H;
        for (size_t h = 0; h < L->H; h++)
            z[h] += a * w[h];
    }
}

void route_router_predict(const route_router *r, const uint32_t *idx, const float *val, size_t nnz, double *p)
{
    layout L;
    get_layout(r, &L);
    float zb[256], ab[256];
    float *z = L.H <= 256 ? zb : lm_xmalloc(lm_xmul(L.H, sizeof(float)));
    float *a = L.J <= 256 ? ab : lm_xmalloc(lm_xmul(L.J, sizeof(float)));
    forward1(r, &L, r->params, idx, val, nnz, a, z);
    for (size_t h = 0; h < L.H; h++)
        p[h] = sigmoid(z[h]);
    if (z != zb)
        free(z);
    if (a != ab)
        free(a);
}

/* Mean loss over rows rows[0..n-1] (all rows when rows == NULL). */
static double loss_rows(const route_router *r, const float *P, const route_csr *X, const double *Y,
                        const size_t *rows, size_t n)
{
    layout L;
    get_layout(r, &L);
    double *lq = lm_xmalloc(lm_xmul(n, sizeof(double)));
    size_t *cq = lm_xmalloc(lm_xmul(n, sizeof(size_t)));
#pragma omp parallel
    {
        float *z = lm_xmalloc(lm_xmul(L.H, sizeof(float)));
        float *a = lm_xmalloc(lm_xmul(L.J, sizeof(float)));
#pragma omp for schedule(static)
        for (size_t t = 0; t < n; t++) {
            size_t i = rows ? rows[t] : t;
            double s = 0;
            size_t c = 0;
            size_t b0 = X->rowptr[i];
            forward1(r, &L, P, X->idx + b0, X->val + b0, X->rowptr[i + 1] - b0, a, z);
            for (size_t h = 0; h < L.H; h++) {
                double y = Y[i * L.H + h];
                if (isnan(y))
                    continue;
                s += xent(z[h], y);
                c++;
            }
            lq[t] = s;
            cq[t] = c;
        }
        free(z);
        free(a);
    }
    double s = 0;
    size_t c = 0;
    for (size_t t = 0; t < n; t++) {
        s += lq[t];
        c += cq[t];
    }
    free(lq);
    free(cq);
    return c ? s / (double)c : NAN;
}

double route_router_loss(const route_router *r, const route_csr *X, const double *Y)
{
    return loss_rows(r, r->params, X, Y, NULL, X->rows);
}

/* ---- training ------------------------------------------------------------ */

static void thread_slice(size_t O, size_t *o0, size_t *o1)
{
#ifdef _OPENMP
    size_t nt = (size_t)omp_get_num_threads(), tid = (size_t)omp_get_thread_num();
#else
    size_t nt = 1, tid = 0;
#endif
    *o0 = O * tid / nt;
    *o1 = O * (tid + 1) / nt;
}

/* G[idx][o] += d[t][o] * val for the batch rows; parallel over columns so
 * that every element is summed in batch order whatever the thread count. */
static void sparse_bwd(float *G, size_t O, const route_csr *X, const size_t *rows, size_t nb, const float *d)
{
#pragma omp parallel
    {
        size_t o0, o1;
        thread_slice(O, &o0, &o1);
        for (size_t t = 0; t < nb; t++) {
            size_t i = rows[t];
            const float *dt = d + t * O;
            for (size_t k = X->rowptr[i]; k < X->rowptr[i + 1]; k++) {
                float *g = G + (size_t)X->idx[k] * O;
                float v = X->val[k];
                for (size_t o = o0; o < o1; o++)
                    g[o] += v * dt[o];
            }
        }
    }
}

/* One Adam step over n contiguous parameters (bias-corrected step lr_t). */
static void adam(float *W, const float *G, float *M, float *V, size_t n, float l2, float lr_t)
{
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    for (size_t p = 0; p < n; p++) {
        float g = G[p] + l2 * W[p];
        M[p] = b1 * M[p] + (1 - b1) * g;
        V[p] = b2 * V[p] + (1 - b2) * g * g;
        W[p] -= lr_t * M[p] / (sqrtf(V[p]) + eps);
    }
}

/* The trainer's state: the parameter-sized Adam blocks and the per-batch
 * work arrays, each family one allocation. */
typedef struct {
    const route_router *r;
    layout L;
    size_t B, P, Dm;
    size_t *perm; /* [n] row order: validation rows, then training */
    float *blk;   /* [4 P]: G | M | V | best */
    float *G, *M, *V, *best;
    float *Z, *D2;          /* [B, H] logits, dLoss/dlogit */
    float *A, *D1;          /* [B, max(J,1)] hidden activations, dLoss/dhidden */
    double *lb;             /* [B] loss of each batch row */
    unsigned char *touched; /* [max(Dm,1)] sparse rows seen in this batch */
    uint32_t *rowlist;      /* [max(Dm,1)] those rows, first-seen order */
    size_t step;            /* Adam steps taken */
} trainer;

static int train_check(const route_router *r, const route_csr *X, const route_train_opts *o, char *err,
                       size_t errlen)
{
    size_t n = X->rows, Dm = route_feat_dim(&r->feat);
    if (n < 1) {
        lm_seterr(err, errlen, "train: no training queries");
        return -1;
    }
    if (!o->batch || !o->max_epochs || !(o->lr > 0) || !(o->l2 >= 0) ||
        !(o->val_frac >= 0 && o->val_frac < 1)) {
        lm_seterr(err, errlen,
                  "train: bad options (batch, epochs and lr must be > 0, "
                  "l2 >= 0, 0 <= val_frac < 1)");
        return -1;
    }
    for (size_t k = 0; k < X->rowptr[n]; k++)
        if (X->idx[k] >= Dm) {
            lm_seterr(err, errlen, "train: feature index %u out of range (dimension %zu)", X->idx[k], Dm);
            return -1;
        }
    return 0;
}

static void trainer_free(trainer *t)
{
    free(t->perm);
    free(t->blk);
    free(t->Z);
    free(t->D2);
    free(t->A);
    free(t->D1);
    free(t->lb);
    free(t->touched);
    free(t->rowlist);
}

static void trainer_init(trainer *t, const route_router *r, size_t n, size_t B)
{
    memset(t, 0, sizeof *t);
    t->r = r;
    get_layout(r, &t->L);
    t->B = B;
    t->P = t->L.n;
    t->Dm = route_feat_dim(&r->feat);
    size_t H = t->L.H, J1 = t->L.J ? t->L.J : 1, P = t->P, Dm1 = t->Dm ? t->Dm : 1;
    t->perm = lm_xmalloc(lm_xmul(n, sizeof(size_t)));
    t->blk = lm_xmalloc(lm_xmul(P, 4 * sizeof(float)));
    t->Z = lm_xmalloc(lm_xmul(lm_xmul(B, H), sizeof(float)));
    t->D2 = lm_xmalloc(lm_xmul(lm_xmul(B, H), sizeof(float)));
    t->A = lm_xmalloc(lm_xmul(lm_xmul(B, J1), sizeof(float)));
    t->D1 = lm_xmalloc(lm_xmul(lm_xmul(B, J1), sizeof(float)));
    t->lb = lm_xmalloc(lm_xmul(B, sizeof(double)));
    t->touched = lm_xcalloc(Dm1, 1);
    t->rowlist = lm_xmalloc(lm_xmul(Dm1, sizeof(uint32_t)));
    t->G = t->blk;
    t->M = t->blk + P;
    t->V = t->blk + 2 * P;
    t->best = t->blk + 3 * P;
    memset(t->M, 0, 2 * P * sizeof(float));
    memset(t->G, 0, P * sizeof(float));
}

/* Seeded shuffle of perm[0..n) (the split uses stream 1, epoch e 100 + e). */
static void shuffle(size_t *perm, size_t n, uint64_t seed, uint64_t stream)
{
    lm_rng rng;
    lm_rng_init(&rng, seed, stream);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)lm_rng_below(&rng, i);
        size_t tmp = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = tmp;
    }
}

/* The validation share of n rows: round(val_frac n), at least 1 when asked
 * for and possible, always leaving one training row. */
static size_t val_count(double val_frac, size_t n)
{
    size_t n_val = (size_t)floor(val_frac * (double)n + 0.5);
    if (val_frac > 0 && n_val == 0 && n >= 2)
        n_val = 1;
    if (n_val >= n)
        n_val = n - 1;
    return n_val;
}

/* Initial parameters: linear at zero, the MLP's weights random (N(0,1) for
 * W1, N(0, 1/J) for W2, stream 2), biases zero. */
static void init_params(const route_router *r, const layout *L, float *W, size_t P, uint64_t seed)
{
    memset(W, 0, P * sizeof(float));
    if (r->arch != ROUTE_MLP)
        return;
    lm_rng rng;
    lm_rng_init(&rng, seed, 2);
    for (size_t i = 0; i < L->D * L->J; i++)
        W[L->w1 + i] = (float)lm_rng_normal(&rng);
    double s2 = 1.0 / sqrt((double)L->J);
    for (size_t i = 0; i < L->J * L->H; i++)
        W[L->w2 + i] = (float)(s2 * lm_rng_normal(&rng));
}

/* Forward pass of the nb batch rows: Z, A, per-row loss lb, and D2 =
 * (sigmoid(z) - y) / cnt where a label exists (0 where it is NaN).
 * Returns cnt, the number of labels in the batch (0: nothing to learn). */
static size_t batch_forward(trainer *t, const float *W, const route_csr *X, const double *Y,
                            const size_t *rows, size_t nb)
{
    size_t H = t->L.H, J1 = t->L.J ? t->L.J : 1;
    size_t cnt = 0;
    for (size_t i = 0; i < nb; i++)
        for (size_t h = 0; h < H; h++)
            cnt += !isnan(Y[rows[i] * H + h]);
    if (!cnt)
        return 0;
    float inv = 1.0f / (float)cnt;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nb; k++) {
        size_t i = rows[k];
        size_t b0 = X->rowptr[i];
        forward1(t->r, &t->L, W, X->idx + b0, X->val + b0, X->rowptr[i + 1] - b0, t->A + k * J1,
                 t->Z + k * H);
        double s = 0;
        for (size_t h = 0; h < H; h++) {
            double y = Y[i * H + h];
            double z = t->Z[k * H + h];
            if (isnan(y)) {
                t->D2[k * H + h] = 0;
                continue;
            }
            s += xent(z, y);
            t->D2[k * H + h] = (float)(sigmoid(z) - y) * inv;
        }
        t->lb[k] = s;
    }
    return cnt;
}

/* Gradient G of the batch from D2: only the sparse rows the batch touches
 * (listed in rowlist, returned count) and the dense tail are cleared and
 * filled. */
static size_t batch_backward(trainer *t, const float *W, const route_csr *X, const size_t *rows, size_t nb)
{
    const layout *L = &t->L;
    size_t H = L->H, J = L->J, O1 = t->r->arch == ROUTE_MLP ? J : H;
    float *G = t->G, *A = t->A, *D1 = t->D1, *D2 = t->D2;
    /* rows of the sparse layer this batch touches (first-seen order) */
    size_t nrow = 0;
    for (size_t i = 0; i < nb; i++)
        for (size_t k = X->rowptr[rows[i]]; k < X->rowptr[rows[i] + 1]; k++)
            if (!t->touched[X->idx[k]]) {
                t->touched[X->idx[k]] = 1;
                t->rowlist[nrow++] = X->idx[k];
            }
    for (size_t k = 0; k < nrow; k++)
        memset(G + (size_t)t->rowlist[k] * O1, 0, O1 * sizeof(float));
    memset(G + L->b1, 0, (t->P - L->b1) * sizeof(float));
    if (t->r->arch == ROUTE_LINEAR) {
        sparse_bwd(G + L->w1, H, X, rows, nb, D2);
        for (size_t i = 0; i < nb; i++)
            for (size_t h = 0; h < H; h++)
                G[L->b1 + h] += D2[i * H + h];
        return nrow;
    }
    const float *W2 = W + L->w2;
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < J; j++) {
        float *g = G + L->w2 + j * H;
        for (size_t i = 0; i < nb; i++) {
            float a = A[i * J + j];
            if (a == 0)
                continue;
            for (size_t h = 0; h < H; h++)
                g[h] += a * D2[i * H + h];
        }
    }
    for (size_t i = 0; i < nb; i++)
        for (size_t h = 0; h < H; h++)
            G[L->b2 + h] += D2[i * H + h];
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < nb; i++)
        for (size_t j = 0; j < J; j++) {
            float s = 0;
            if (A[i * J + j] > 0)
                for (size_t h = 0; h < H; h++)
                    s += W2[j * H + h] * D2[i * H + h];
            D1[i * J + j] = s;
        }
    sparse_bwd(G + L->w1, J, X, rows, nb, D1);
    for (size_t i = 0; i < nb; i++)
        for (size_t j = 0; j < J; j++)
            G[L->b1 + j] += D1[i * J + j];
    return nrow;
}

/* One Adam step: the nrow sparse rows the batch touched, then the dense
 * tail (biases, and W2 for the MLP).  L2 applies to weights only. */
static void adam_step(trainer *t, float *W, size_t nrow, const route_train_opts *o)
{
    const double b1 = 0.9, b2 = 0.999;
    const layout *L = &t->L;
    size_t H = L->H, J = L->J, O = t->r->arch == ROUTE_MLP ? J : H;
    float *G = t->G, *M = t->M, *V = t->V;
    t->step++;
    double c1 = 1.0 - pow(b1, (double)t->step), c2 = 1.0 - pow(b2, (double)t->step);
    float lr_t = (float)(o->lr * sqrt(c2) / c1);
    float l2 = (float)o->l2;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nrow; k++) {
        size_t base = (size_t)t->rowlist[k] * O;
        adam(W + base, G + base, M + base, V + base, O, l2, lr_t);
    }
    for (size_t k = 0; k < nrow; k++)
        t->touched[t->rowlist[k]] = 0;
    adam(W + L->b1, G + L->b1, M + L->b1, V + L->b1, O, 0, lr_t);
    if (t->r->arch == ROUTE_MLP) {
        adam(W + L->w2, G + L->w2, M + L->w2, V + L->w2, J * H, l2, lr_t);
        adam(W + L->b2, G + L->b2, M + L->b2, V + L->b2, H, 0, lr_t);
    }
}

/* One epoch over the training rows tr[0..n_tr), shuffled with the epoch's
 * stream; returns the mean training loss (NaN without labels). */
static double train_epoch(trainer *t, float *W, const route_csr *X, const double *Y, size_t *tr, size_t n_tr,
                          size_t ep, const route_train_opts *o)
{
    shuffle(tr, n_tr, o->seed, 100 + ep);
    double ep_loss = 0;
    size_t ep_cnt = 0;
    for (size_t s0 = 0; s0 < n_tr; s0 += t->B) {
        size_t nb = n_tr - s0 < t->B ? n_tr - s0 : t->B;
        const size_t *rows = tr + s0;
        size_t cnt = batch_forward(t, W, X, Y, rows, nb);
        if (!cnt)
            continue;
        for (size_t i = 0; i < nb; i++)
            ep_loss += t->lb[i];
        ep_cnt += cnt;
        size_t nrow = batch_backward(t, W, X, rows, nb);
        adam_step(t, W, nrow, o);
    }
    return ep_cnt ? ep_loss / (double)ep_cnt : NAN;
}

int route_router_train(route_router *r, const route_csr *X, const double *Y, const route_train_opts *o,
                       route_train_log *log, char *err, size_t errlen)
{
    route_train_log dummy;
    if (!log)
        log = &dummy;
    memset(log, 0, sizeof *log);
    if (train_check(r, X, o, err, errlen) < 0)
        return -1;
    size_t n = X->rows;
    trainer t;
    trainer_init(&t, r, n, o->batch);
    size_t P = t.P;
    float *W = r->params;

    /* split: validation rows first in a seeded order, the rest trains */
    for (size_t i = 0; i < n; i++)
        t.perm[i] = i;
    shuffle(t.perm, n, o->seed, 1);
    size_t n_val = val_count(o->val_frac, n);
    size_t *val_rows = t.perm, *tr = t.perm + n_val, n_tr = n - n_val;
    log->n_train = n_tr;
    log->n_val = n_val;

    init_params(r, &t.L, W, P, o->seed);
    log->init_loss = loss_rows(r, W, X, Y, tr, n_tr);
    double best_val = n_val ? loss_rows(r, W, X, Y, val_rows, n_val) : INFINITY;
    memcpy(t.best, W, P * sizeof(float));
    log->best_val_loss = best_val;

    /* epochs with early stopping on the validation loss */
    size_t bad = 0;
    for (size_t ep = 1; ep <= o->max_epochs; ep++) {
        double trl = train_epoch(&t, W, X, Y, tr, n_tr, ep, o);
        log->epochs = ep;
        double vl = n_val ? loss_rows(r, W, X, Y, val_rows, n_val) : trl;
        if (ep <= 64) {
            log->train_loss[ep - 1] = trl;
            log->val_loss[ep - 1] = vl;
        }
        if (!n_val) {
            log->best_epoch = ep;
            log->best_val_loss = vl;
            continue;
        }
        if (vl < best_val - 1e-9) {
            best_val = vl;
            memcpy(t.best, W, P * sizeof(float));
            log->best_epoch = ep;
            log->best_val_loss = vl;
            bad = 0;
        } else if (++bad >= o->patience) {
            break;
        }
    }
    if (n_val)
        memcpy(W, t.best, P * sizeof(float));
    trainer_free(&t);
    return 0;
}

/* ---- files --------------------------------------------------------------- */

#define MAGIC "lmkit-route-router"

static int name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s == '\n' || *s == '\r')
            return 0;
    return 1;
}

int route_router_save(const route_router *r, const char *path, char *err, size_t errlen)
{
    for (size_t i = 0; i < r->n_small; i++)
        if (!name_ok(r->small[i])) {
            lm_seterr(err, errlen, "router: model name %zu is empty or has a line break", i);
            return -1;
        }
    if (!name_ok(r->reference)) {
        lm_seterr(err, errlen, "router: reference name is empty or has a line break");
        return -1;
    }
    lm_atomic a;
    if (lm_atomic_open(&a, path, err, errlen))
        return -1;
    FILE *f = a.fp;
    fprintf(f, "%s %d\n", MAGIC, ROUTE_ROUTER_VERSION);
    fprintf(f, "arch %s\n", r->arch == ROUTE_MLP ? "mlp" : "linear");
    fprintf(f, "hash_dim %u\nword_ngram %u\nchar_min %u\nchar_max %u\nemb_dim %u\n", r->feat.hash_dim,
            r->feat.word_ngram, r->feat.char_min, r->feat.char_max, r->feat.emb_dim);
    fprintf(f, "hidden %zu\nn_max %zu\nn_small %zu\n", r->hidden, r->n_max, r->n_small);
    for (size_t i = 0; i < r->n_small; i++)
        fprintf(f, "model %.17g %s\n", r->avg_out[i], r->small[i]);
    fprintf(f, "reference %.17g %s\n", r->avg_out[r->n_small], r->reference);
    fprintf(f, "params %zu float32le\nend\n", r->n_params);
    unsigned char buf[4096];
    size_t k = 0;
    for (size_t i = 0; i < r->n_params; i++) {
        uint32_t u;
        memcpy(&u, &r->params[i], 4);
        buf[k++] = (unsigned char)u;
        buf[k++] = (unsigned char)(u >> 8);
        buf[k++] = (unsigned char)(u >> 16);
        buf[k++] = (unsigned char)(u >> 24);
        if (k == sizeof buf) {
            fwrite(buf, 1, k, f);
            k = 0;
        }
    }
    if (k)
        fwrite(buf, 1, k, f);
    if (ferror(f)) {
        lm_seterr(err, errlen, "%s: write error: %s", path, strerror(errno));
        lm_atomic_abort(&a);
        return -1;
    }
    return lm_atomic_commit(&a, err, errlen);
}

/* Next header line from *p (up to end) into line; returns 0 or -1. */
static int next_line(const char **p, const char *end, char *line, size_t cap)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl || (size_t)(nl - *p) >= cap)
        return -1;
    memcpy(line, *p, (size_t)(nl - *p));
    line[nl - *p] = 0;
    *p = nl + 1;
    return 0;
}

static int parse_kv(const char *line, const char *key, unsigned long long *v)
{
    size_t kl = strlen(key);
    if (strncmp(line, key, kl) != 0 || line[kl] != ' ')
        return -1;
    char *e;
    errno = 0;
    unsigned long long x = strtoull(line + kl + 1, &e, 10);
    if (errno || *e || e == line + kl + 1 || line[kl + 1] == '-')
        return -1;
    *v = x;
    return 0;
}

/* "model AVG NAME" -> avg, name */
static int parse_model(const char *line, const char *key, double *avg, char **name)
{
    size_t kl = strlen(key);
    if (strncmp(line, key, kl) != 0 || line[kl] != ' ')
        return -1;
    char *e;
    *avg = strtod(line + kl + 1, &e);
    if (e == line + kl + 1 || *e != ' ' || !e[1])
        return -1;
    *name = lm_xstrdup(e + 1);
    return 0;
}

/* What the text header of a router file says. */
typedef struct {
    route_arch arch;
    unsigned long long v[8]; /* hash_dim word_ngram char_min char_max emb_dim hidden n_max n_small */
    size_t n_small;
    char **names; /* [n_small] */
    double *avg;  /* [n_small + 1], the reference last */
    char *refname;
    unsigned long long np; /* parameters */
} router_hdr;

static void hdr_free(router_hdr *h)
{
    if (h->names)
        for (size_t i = 0; i < h->n_small; i++)
            free(h->names[i]);
    free(h->names);
    free(h->avg);
    free(h->refname);
}

/* The magic line, the version, the architecture and the sizes. */
static int hdr_sizes(const char **p, const char *end, const char *path, router_hdr *h, char *err,
                     size_t errlen)
{
    static const char *keys[] = {"hash_dim", "word_ngram", "char_min", "char_max",
                                 "emb_dim",  "hidden",     "n_max",    "n_small"};
    char line[4096];
    int version;
    char magic[64];
    if (next_line(p, end, line, sizeof line) || sscanf(line, "%63s %d", magic, &version) != 2 ||
        strcmp(magic, MAGIC) != 0) {
        lm_seterr(err, errlen, "%s: not a route router file (no '%s' header)", path, MAGIC);
        return -1;
    }
    if (version != ROUTE_ROUTER_VERSION) {
        lm_seterr(err, errlen, "%s: router file version %d, this build reads version %d", path, version,
                  ROUTE_ROUTER_VERSION);
        return -1;
    }
    if (next_line(p, end, line, sizeof line)) {
        lm_seterr(err, errlen, "%s: truncated header", path);
        return -1;
    }
    if (strcmp(line, "arch linear") == 0) {
        h->arch = ROUTE_LINEAR;
    } else if (strcmp(line, "arch mlp") == 0) {
        h->arch = ROUTE_MLP;
    } else {
        lm_seterr(err, errlen, "%s: bad header line '%s' (want 'arch linear' or 'arch mlp')", path, line);
        return -1;
    }
    unsigned long long *v = h->v;
    for (int i = 0; i < 8; i++) {
        if (next_line(p, end, line, sizeof line) || parse_kv(line, keys[i], &v[i])) {
            lm_seterr(err, errlen, "%s: bad or missing header field '%s'", path, keys[i]);
            return -1;
        }
    }
    if (v[0] > (1ull << 30) || v[4] > (1ull << 24) || v[5] > (1ull << 20) || v[6] > 1024 || v[7] > 4096 ||
        v[1] > 16 || v[3] > 64 || v[2] > v[3]) {
        lm_seterr(err, errlen, "%s: header sizes out of range", path);
        return -1;
    }
    return 0;
}

/* The model lines, the reference, the parameter count and "end". */
static int hdr_models(const char **p, const char *end, const char *path, router_hdr *h, char *err,
                      size_t errlen)
{
    char line[4096];
    h->n_small = (size_t)h->v[7];
    h->names = lm_xcalloc(h->n_small, sizeof *h->names);
    h->avg = lm_xmalloc(lm_xmul(h->n_small + 1, sizeof(double)));
    for (size_t i = 0; i < h->n_small; i++)
        if (next_line(p, end, line, sizeof line) || parse_model(line, "model", &h->avg[i], &h->names[i])) {
            lm_seterr(err, errlen, "%s: bad or missing 'model' line %zu", path, i + 1);
            return -1;
        }
    if (next_line(p, end, line, sizeof line) ||
        parse_model(line, "reference", &h->avg[h->n_small], &h->refname)) {
        lm_seterr(err, errlen, "%s: bad or missing 'reference' line", path);
        return -1;
    }
    if (next_line(p, end, line, sizeof line) || sscanf(line, "params %llu float32le", &h->np) != 1) {
        lm_seterr(err, errlen, "%s: bad or missing 'params' line", path);
        return -1;
    }
    if (next_line(p, end, line, sizeof line) || strcmp(line, "end") != 0) {
        lm_seterr(err, errlen, "%s: header does not finish with 'end'", path);
        return -1;
    }
    return 0;
}

/* The parameter count the header states, and the bytes the file holds
 * after it, must be what the sizes need. */
static int check_param_count(const route_router *r, const char *p, const char *end, unsigned long long np,
                             const char *path, char *err, size_t errlen)
{
    if (np != r->n_params) {
        lm_seterr(err, errlen, "%s: header says %llu parameters, the sizes need %zu", path, np, r->n_params);
        return -1;
    }
    size_t have = (size_t)(end - p);
    if (have != r->n_params * 4) {
        lm_seterr(err, errlen, "%s: %zu bytes of parameters, expected %zu (file truncated or padded)", path,
                  have, r->n_params * 4);
        return -1;
    }
    return 0;
}

/* The np little-endian floats in [p, end) into r->params: as many as the
 * sizes need, finite, and no larger than a trained router's. */
static int load_params(route_router *r, const char *p, const char *end, unsigned long long np,
                       const char *path, char *err, size_t errlen)
{
    if (check_param_count(r, p, end, np, path, err, errlen))
        return -1;
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < r->n_params; i++, b += 4) {
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        float f;
        memcpy(&f, &u, 4);
        if (!isfinite(f)) {
            lm_seterr(err, errlen, "%s: parameter %zu is not finite", path, i);
            return -1;
        }
        /* a trained router's weights are small; huge finite ones would
         * overflow the float forward pass (inf * 0 = NaN probabilities) */
        if (fabsf(f) > ROUTE_PARAM_MAX) {
            lm_seterr(err, errlen, "%s: parameter %zu is %g, beyond the +-%g a trained router holds", path, i,
                      (double)f, (double)ROUTE_PARAM_MAX);
            return -1;
        }
        r->params[i] = f;
    }
    return 0;
}

int route_router_load(route_router *r, const char *path, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    size_t len;
    char *data = lm_read_file(path, &len, err, errlen);
    if (!data)
        return -1;
    const char *p = data, *end = data + len;
    router_hdr h = {0};
    int rc = -1;
    if (hdr_sizes(&p, end, path, &h, err, errlen) || hdr_models(&p, end, path, &h, err, errlen))
        goto done;
    const unsigned long long *v = h.v;
    route_feat_cfg fc = {(uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2], (uint32_t)v[3], (uint32_t)v[4]};
    /* the shape and the parameter count the file must hold are checked
     * before anything the size of the parameters is allocated */
    int bad_shape = router_shape(r, h.arch, &fc, (size_t)v[5], (size_t)v[6], h.n_small, err, errlen);
    if (!bad_shape && check_param_count(r, p, end, h.np, path, err, errlen)) {
        memset(r, 0, sizeof *r);
        goto done;
    }
    if (bad_shape || route_router_init(r, h.arch, &fc, (size_t)v[5], (size_t)v[6], h.n_small,
                                       (const char *const *)h.names, h.refname, h.avg, err, errlen)) {
        char tmp[256];
        snprintf(tmp, sizeof tmp, "%s", err ? err : "");
        lm_seterr(err, errlen, "%s: %s", path, tmp);
        memset(r, 0, sizeof *r);
        goto done;
    }
    if (load_params(r, p, end, h.np, path, err, errlen))
        route_router_free(r);
    else
        rc = 0;
done:
    hdr_free(&h);
    free(data);
    return rc;
}

int route_router_map(const route_router *r, route_models *m, size_t *rmap, const char **missing)
{
    for (size_t rs = 0; rs < r->n_small; rs++) {
        long mi = route_models_find(m, r->small[rs]);
        if (mi < 0) {
            *missing = r->small[rs];
            return -1;
        }
        size_t s = (size_t)mi < m->ref ? (size_t)mi : (size_t)mi - 1;
        for (size_t n = 0; n < r->n_max; n++)
            rmap[rs * r->n_max + n] = s * r->n_max + n;
        if (isfinite(r->avg_out[rs]))
            m->avg_out[mi] = r->avg_out[rs];
    }
    if (isfinite(r->avg_out[r->n_small]))
        m->avg_out[m->ref] = r->avg_out[r->n_small];
    return 0;
}
