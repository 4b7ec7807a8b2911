/* router.c - multi-head linear / MLP router: training, prediction, files
 * (see router.h; route spec §4).
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

int route_router_init(route_router *r, route_arch arch, const route_feat_cfg *feat,
                      size_t hidden, size_t n_max, size_t n_small,
                      const char *const *small, const char *reference,
                      const double *avg_out, char *err, size_t errlen)
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
    r->params = calloc(L.n, sizeof(float));
    r->small = calloc(n_small, sizeof(char *));
    r->avg_out = malloc((n_small + 1) * sizeof(double));
    r->reference = strdup(reference ? reference : "");
    if (!r->params || !r->small || !r->avg_out || !r->reference) {
        route_router_free(r);
        lm_seterr(err, errlen, "router: out of memory (%zu parameters)", L.n);
        return -1;
    }
    for (size_t i = 0; i < n_small; i++) {
        r->small[i] = strdup(small[i]);
        if (!r->small[i]) {
            route_router_free(r);
            lm_seterr(err, errlen, "out of memory");
            return -1;
        }
    }
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
static void sparse_fwd(float *out, const float *W, const float *b, size_t O,
                       const uint32_t *idx, const float *val, size_t nnz)
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
static void forward1(const route_router *r, const layout *L, const float *P,
                     const uint32_t *idx, const float *val, size_t nnz,
                     float *act, float *z)
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

void route_router_predict(const route_router *r, const uint32_t *idx,
                          const float *val, size_t nnz, double *p)
{
    layout L;
    get_layout(r, &L);
    float zb[256], ab[256];
    float *z = L.H <= 256 ? zb : malloc(L.H * sizeof(float));
    float *a = L.J <= 256 ? ab : malloc((L.J ? L.J : 1) * sizeof(float));
    if (!z || !a) {
        for (size_t h = 0; h < L.H; h++)
            p[h] = NAN;
    } else {
        forward1(r, &L, r->params, idx, val, nnz, a, z);
        for (size_t h = 0; h < L.H; h++)
            p[h] = sigmoid(z[h]);
    }
    if (z != zb)
        free(z);
    if (a != ab)
        free(a);
}

/* Mean loss over rows rows[0..n-1] (all rows when rows == NULL). */
static double loss_rows(const route_router *r, const float *P, const route_csr *X,
                        const double *Y, const size_t *rows, size_t n)
{
    layout L;
    get_layout(r, &L);
    double *lq = malloc((n ? n : 1) * sizeof(double));
    size_t *cq = malloc((n ? n : 1) * sizeof(size_t));
    if (!lq || !cq) {
        free(lq);
        free(cq);
        return NAN;
    }
    int fail = 0;
#pragma omp parallel
    {
        float *z = malloc(L.H * sizeof(float));
        float *a = malloc((L.J ? L.J : 1) * sizeof(float));
        if (!z || !a) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(static)
        for (size_t t = 0; t < n; t++) {
            size_t i = rows ? rows[t] : t;
            double s = 0;
            size_t c = 0;
            if (z && a) {
                size_t b0 = X->rowptr[i];
                forward1(r, &L, P, X->idx + b0, X->val + b0, X->rowptr[i + 1] - b0, a, z);
                for (size_t h = 0; h < L.H; h++) {
                    double y = Y[i * L.H + h];
                    if (isnan(y))
                        continue;
                    s += xent(z[h], y);
                    c++;
                }
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
    if (fail)
        return NAN;
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
static void sparse_bwd(float *G, size_t O, const route_csr *X, const size_t *rows,
                       size_t nb, const float *d)
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

int route_router_train(route_router *r, const route_csr *X, const double *Y,
                       const route_train_opts *o, route_train_log *log,
                       char *err, size_t errlen)
{
    layout L;
    get_layout(r, &L);
    size_t n = X->rows, H = L.H, J = L.J, Dm = route_feat_dim(&r->feat);
    route_train_log dummy;
    if (!log)
        log = &dummy;
    memset(log, 0, sizeof *log);
    if (n < 1) {
        lm_seterr(err, errlen, "train: no training queries");
        return -1;
    }
    if (!o->batch || !o->max_epochs || !(o->lr > 0) || !(o->l2 >= 0) ||
        !(o->val_frac >= 0 && o->val_frac < 1)) {
        lm_seterr(err, errlen, "train: bad options (batch, epochs and lr must be > 0, "
               "l2 >= 0, 0 <= val_frac < 1)");
        return -1;
    }
    for (size_t k = 0; k < X->rowptr[n]; k++)
        if (X->idx[k] >= Dm) {
            lm_seterr(err, errlen, "train: feature index %u out of range (dimension %zu)",
                   X->idx[k], Dm);
            return -1;
        }

    size_t B = o->batch, P = L.n;
    size_t *perm = malloc(n * sizeof(size_t));
    float *blk = malloc(4 * P * sizeof(float));
    float *Z = malloc(B * H * sizeof(float));
    float *D2 = malloc(B * H * sizeof(float));
    float *A = malloc(B * (J ? J : 1) * sizeof(float));
    float *D1 = malloc(B * (J ? J : 1) * sizeof(float));
    double *lb = malloc(B * sizeof(double));
    unsigned char *touched = calloc(Dm ? Dm : 1, 1);
    uint32_t *rowlist = malloc((Dm ? Dm : 1) * sizeof(uint32_t));
    int rc = -1;
    if (!perm || !blk || !Z || !D2 || !A || !D1 || !lb || !touched || !rowlist) {
        lm_seterr(err, errlen, "train: out of memory (%zu parameters)", P);
        goto done;
    }
    float *G = blk, *M = blk + P, *V = blk + 2 * P, *best = blk + 3 * P;
    float *W = r->params;
    memset(M, 0, 2 * P * sizeof(float));
    memset(G, 0, P * sizeof(float));

    /* split */
    lm_rng rng;
    lm_rng_init(&rng, o->seed, 1);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)lm_rng_below(&rng, i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    size_t n_val = (size_t)floor(o->val_frac * (double)n + 0.5);
    if (o->val_frac > 0 && n_val == 0 && n >= 2)
        n_val = 1;
    if (n_val >= n)
        n_val = n - 1;
    size_t *val_rows = perm, *tr = perm + n_val, n_tr = n - n_val;
    log->n_train = n_tr;
    log->n_val = n_val;

    /* init: linear at zero, MLP random */
    memset(W, 0, P * sizeof(float));
    if (r->arch == ROUTE_MLP) {
        lm_rng_init(&rng, o->seed, 2);
        for (size_t i = 0; i < L.D * J; i++)
            W[L.w1 + i] = (float)lm_rng_normal(&rng);
        double s2 = 1.0 / sqrt((double)J);
        for (size_t i = 0; i < J * H; i++)
            W[L.w2 + i] = (float)(s2 * lm_rng_normal(&rng));
    }
    log->init_loss = loss_rows(r, W, X, Y, tr, n_tr);
    double best_val = n_val ? loss_rows(r, W, X, Y, val_rows, n_val) : INFINITY;
    memcpy(best, W, P * sizeof(float));
    log->best_val_loss = best_val;
    size_t bad = 0, step = 0;
    const double b1 = 0.9, b2 = 0.999;

    for (size_t ep = 1; ep <= o->max_epochs; ep++) {
        lm_rng_init(&rng, o->seed, 100 + ep);
        for (size_t i = n_tr; i > 1; i--) {
            size_t j = (size_t)lm_rng_below(&rng, i);
            size_t t = tr[i - 1];
            tr[i - 1] = tr[j];
            tr[j] = t;
        }
        double ep_loss = 0;
        size_t ep_cnt = 0;
        for (size_t s0 = 0; s0 < n_tr; s0 += B) {
            size_t nb = n_tr - s0 < B ? n_tr - s0 : B;
            const size_t *rows = tr + s0;
            size_t cnt = 0;
            for (size_t t = 0; t < nb; t++)
                for (size_t h = 0; h < H; h++)
                    cnt += !isnan(Y[rows[t] * H + h]);
            if (!cnt)
                continue;
            float inv = 1.0f / (float)cnt;
#pragma omp parallel for schedule(static)
            for (size_t t = 0; t < nb; t++) {
                size_t i = rows[t];
                size_t b0 = X->rowptr[i];
                forward1(r, &L, W, X->idx + b0, X->val + b0, X->rowptr[i + 1] - b0,
                         A + t * (J ? J : 1), Z + t * H);
                double s = 0;
                for (size_t h = 0; h < H; h++) {
                    double y = Y[i * H + h];
                    double z = Z[t * H + h];
                    if (isnan(y)) {
                        D2[t * H + h] = 0;
                        continue;
                    }
                    s += xent(z, y);
                    D2[t * H + h] = (float)(sigmoid(z) - y) * inv;
                }
                lb[t] = s;
            }
            for (size_t t = 0; t < nb; t++)
                ep_loss += lb[t];
            ep_cnt += cnt;

            /* rows of the sparse layer this batch touches (first-seen order) */
            size_t nrow = 0, O1 = r->arch == ROUTE_MLP ? J : H;
            for (size_t t = 0; t < nb; t++)
                for (size_t k = X->rowptr[rows[t]]; k < X->rowptr[rows[t] + 1]; k++)
                    if (!touched[X->idx[k]]) {
                        touched[X->idx[k]] = 1;
                        rowlist[nrow++] = X->idx[k];
                    }
            for (size_t k = 0; k < nrow; k++)
                memset(G + (size_t)rowlist[k] * O1, 0, O1 * sizeof(float));
            memset(G + L.b1, 0, (P - L.b1) * sizeof(float));
            if (r->arch == ROUTE_LINEAR) {
                sparse_bwd(G + L.w1, H, X, rows, nb, D2);
                for (size_t t = 0; t < nb; t++)
                    for (size_t h = 0; h < H; h++)
                        G[L.b1 + h] += D2[t * H + h];
            } else {
                float *W2 = W + L.w2;
#pragma omp parallel for schedule(static)
                for (size_t j = 0; j < J; j++) {
                    float *g = G + L.w2 + j * H;
                    for (size_t t = 0; t < nb; t++) {
                        float a = A[t * J + j];
                        if (a == 0)
                            continue;
                        for (size_t h = 0; h < H; h++)
                            g[h] += a * D2[t * H + h];
                    }
                }
                for (size_t t = 0; t < nb; t++)
                    for (size_t h = 0; h < H; h++)
                        G[L.b2 + h] += D2[t * H + h];
#pragma omp parallel for schedule(static)
                for (size_t t = 0; t < nb; t++)
                    for (size_t j = 0; j < J; j++) {
                        float s = 0;
                        if (A[t * J + j] > 0)
                            for (size_t h = 0; h < H; h++)
                                s += W2[j * H + h] * D2[t * H + h];
                        D1[t * J + j] = s;
                    }
                sparse_bwd(G + L.w1, J, X, rows, nb, D1);
                for (size_t t = 0; t < nb; t++)
                    for (size_t j = 0; j < J; j++)
                        G[L.b1 + j] += D1[t * J + j];
            }
            /* Adam: sparse rows touched by this batch, then the dense tail
             * (biases, and W2 for the MLP).  L2 applies to weights only. */
            step++;
            double c1 = 1.0 - pow(b1, (double)step), c2 = 1.0 - pow(b2, (double)step);
            float lr_t = (float)(o->lr * sqrt(c2) / c1);
            float l2 = (float)o->l2;
            size_t O = r->arch == ROUTE_MLP ? J : H;
#pragma omp parallel for schedule(static)
            for (size_t k = 0; k < nrow; k++) {
                size_t base = (size_t)rowlist[k] * O;
                adam(W + base, G + base, M + base, V + base, O, l2, lr_t);
            }
            for (size_t k = 0; k < nrow; k++)
                touched[rowlist[k]] = 0;
            adam(W + L.b1, G + L.b1, M + L.b1, V + L.b1, O, 0, lr_t);
            if (r->arch == ROUTE_MLP) {
                adam(W + L.w2, G + L.w2, M + L.w2, V + L.w2, J * H, l2, lr_t);
                adam(W + L.b2, G + L.b2, M + L.b2, V + L.b2, H, 0, lr_t);
            }
        }
        log->epochs = ep;
        double trl = ep_cnt ? ep_loss / (double)ep_cnt : NAN;
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
            memcpy(best, W, P * sizeof(float));
            log->best_epoch = ep;
            log->best_val_loss = vl;
            bad = 0;
        } else if (++bad >= o->patience) {
            break;
        }
    }
    if (n_val)
        memcpy(W, best, P * sizeof(float));
    rc = 0;
done:
    free(perm);
    free(blk);
    free(Z);
    free(D2);
    free(A);
    free(D1);
    free(lb);
    free(touched);
    free(rowlist);
    return rc;
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
    fprintf(f, "hash_dim %u\nword_ngram %u\nchar_min %u\nchar_max %u\nemb_dim %u\n",
            r->feat.hash_dim, r->feat.word_ngram, r->feat.char_min, r->feat.char_max,
            r->feat.emb_dim);
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
    *name = strdup(e + 1);
    return *name ? 0 : -1;
}

int route_router_load(route_router *r, const char *path, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    size_t len;
    char *data = lm_read_file(path, &len, err, errlen);
    if (!data)
        return -1;
    const char *p = data, *end = data + len;
    char line[4096];
    char **names = NULL;
    double *avg = NULL;
    char *refname = NULL;
    size_t n_small = 0;
    int rc = -1;
    unsigned long long v[8];
    static const char *keys[] = {"hash_dim", "word_ngram", "char_min", "char_max",
                                 "emb_dim", "hidden", "n_max", "n_small"};
    int version;
    char magic[64];

    if (next_line(&p, end, line, sizeof line) ||
        sscanf(line, "%63s %d", magic, &version) != 2 || strcmp(magic, MAGIC) != 0) {
        lm_seterr(err, errlen, "%s: not a route router file (no '%s' header)", path, MAGIC);
        goto done;
    }
    if (version != ROUTE_ROUTER_VERSION) {
        lm_seterr(err, errlen, "%s: router file version %d, this build reads version %d",
               path, version, ROUTE_ROUTER_VERSION);
        goto done;
    }
    route_arch arch;
    if (next_line(&p, end, line, sizeof line)) {
        lm_seterr(err, errlen, "%s: truncated header", path);
        goto done;
    }
    if (strcmp(line, "arch linear") == 0)
        arch = ROUTE_LINEAR;
    else if (strcmp(line, "arch mlp") == 0)
        arch = ROUTE_MLP;
    else {
        lm_seterr(err, errlen, "%s: bad header line '%s' (want 'arch linear' or 'arch mlp')",
               path, line);
        goto done;
    }
    for (int i = 0; i < 8; i++) {
        if (next_line(&p, end, line, sizeof line) || parse_kv(line, keys[i], &v[i])) {
            lm_seterr(err, errlen, "%s: bad or missing header field '%s'", path, keys[i]);
            goto done;
        }
    }
    if (v[0] > (1ull << 30) || v[4] > (1ull << 24) || v[5] > (1ull << 20) ||
        v[6] > 1024 || v[7] > 4096 || v[1] > 16 || v[3] > 64 || v[2] > v[3]) {
        lm_seterr(err, errlen, "%s: header sizes out of range", path);
        goto done;
    }
    n_small = (size_t)v[7];
    names = calloc(n_small ? n_small : 1, sizeof *names);
    avg = malloc((n_small + 1) * sizeof(double));
    if (!names || !avg) {
        lm_seterr(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_small; i++)
        if (next_line(&p, end, line, sizeof line) ||
            parse_model(line, "model", &avg[i], &names[i])) {
            lm_seterr(err, errlen, "%s: bad or missing 'model' line %zu", path, i + 1);
            goto done;
        }
    if (next_line(&p, end, line, sizeof line) ||
        parse_model(line, "reference", &avg[n_small], &refname)) {
        lm_seterr(err, errlen, "%s: bad or missing 'reference' line", path);
        goto done;
    }
    unsigned long long np;
    if (next_line(&p, end, line, sizeof line) ||
        sscanf(line, "params %llu float32le", &np) != 1) {
        lm_seterr(err, errlen, "%s: bad or missing 'params' line", path);
        goto done;
    }
    if (next_line(&p, end, line, sizeof line) || strcmp(line, "end") != 0) {
        lm_seterr(err, errlen, "%s: header does not finish with 'end'", path);
        goto done;
    }
    route_feat_cfg fc = {(uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2], (uint32_t)v[3],
                         (uint32_t)v[4]};
    if (route_router_init(r, arch, &fc, (size_t)v[5], (size_t)v[6], n_small,
                          (const char *const *)names, refname, avg, err, errlen)) {
        char tmp[256];
        snprintf(tmp, sizeof tmp, "%s", err ? err : "");
        lm_seterr(err, errlen, "%s: %s", path, tmp);
        goto done;
    }
    if (np != r->n_params) {
        lm_seterr(err, errlen, "%s: header says %llu parameters, the sizes need %zu",
               path, np, r->n_params);
        goto fail;
    }
    size_t have = (size_t)(end - p);
    if (have != r->n_params * 4) {
        lm_seterr(err, errlen, "%s: %zu bytes of parameters, expected %zu (file truncated or padded)",
               path, have, r->n_params * 4);
        goto fail;
    }
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < r->n_params; i++, b += 4) {
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24;
        float f;
        memcpy(&f, &u, 4);
        if (!isfinite(f)) {
            lm_seterr(err, errlen, "%s: parameter %zu is not finite", path, i);
            goto fail;
        }
        /* a trained router's weights are small; huge finite ones would
         * overflow the float forward pass (inf * 0 = NaN probabilities) */
        if (fabsf(f) > ROUTE_PARAM_MAX) {
            lm_seterr(err, errlen, "%s: parameter %zu is %g, beyond the +-%g a trained router holds", path, i,
                      (double)f, (double)ROUTE_PARAM_MAX);
            goto fail;
        }
        r->params[i] = f;
    }
    rc = 0;
    goto done;
fail:
    route_router_free(r);
done:
    if (names)
        for (size_t i = 0; i < n_small; i++)
            free(names[i]);
    free(names);
    free(avg);
    free(refname);
    free(data);
    return rc;
}
