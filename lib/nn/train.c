/* train.c - forward with saved activations, backward, loss and dropout of
 * the token classifier; see train.h.
 *
 * Parameters: a table of (name, shape, slot in lm_train_tensors) built from
 * the config in the order of encoder.c's bind_weights, laid out back to back
 * in one block; the gradient block has the same layout.  Activations: a
 * table of sizes carves one block (llm.c's malloc_and_point_activations).
 */
#include "nn/train.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "core/diag.h"
#include "core/rng_core.h"
#include "core/rng.h"
#include "nn/ops.h"
#include "nn/safetensors.h"
#include "nn/train_cuda.h"
#include "nn/vmath.h"

/* loops of fewer scalar operations than this stay on the calling thread */
#define PAR(work) ((long)(work) >= (1L << 15))

/* tensors per layer, in table order (the fields of lm_train_layer) */
enum { NPL = 16, NEMB = 5 };
enum { QW, QB, KW, KB, VW, VB, OW, OB, LN1W, LN1B, FCW, FCB, PW, PB, LN2W, LN2B };

static void blas_one_thread(void)
{
    if (openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
}

/* ---- the parameter table ---- */

static float **layer_slot(lm_train_layer *ly, int j)
{
    float **f[NPL] = {&ly->qw,   &ly->qb,   &ly->kw,  &ly->kb,  &ly->vw, &ly->vb, &ly->ow,   &ly->ob,
                      &ly->ln1w, &ly->ln1b, &ly->fcw, &ly->fcb, &ly->pw, &ly->pb, &ly->ln2w, &ly->ln2b};
    return f[j];
}

static const float *enc_layer_src(const lm_encoder_layer *ly, int j)
{
    const float *f[NPL] = {ly->qw,   ly->qb,   ly->kw,  ly->kb,  ly->vw, ly->vb, ly->ow,   ly->ob,
                           ly->ln1w, ly->ln1b, ly->fcw, ly->fcb, ly->pw, ly->pb, ly->ln2w, ly->ln2b};
    return f[j];
}

static const char *const layer_names[NPL] = {"attention.self.query.weight",
                                             "attention.self.query.bias",
                                             "attention.self.key.weight",
                                             "attention.self.key.bias",
                                             "attention.self.value.weight",
                                             "attention.self.value.bias",
                                             "attention.output.dense.weight",
                                             "attention.output.dense.bias",
                                             "attention.output.LayerNorm.weight",
                                             "attention.output.LayerNorm.bias",
                                             "intermediate.dense.weight",
                                             "intermediate.dense.bias",
                                             "output.dense.weight",
                                             "output.dense.bias",
                                             "output.LayerNorm.weight",
                                             "output.LayerNorm.bias"};

/* the slot of table row i in a tensor set */
static float **slot(lm_train_tensors *t, int L, int i)
{
    if (i < NEMB) {
        float **e[NEMB] = {&t->wte, &t->wpe, &t->wtt, &t->lnew, &t->lneb};
        return e[i];
    }
    if (i < NEMB + NPL * L)
        return layer_slot(&t->layers[(i - NEMB) / NPL], (i - NEMB) % NPL);
    return i == NEMB + NPL * L ? &t->clsw : &t->clsb;
}

static void row(lm_train_param *p, const char *prefix, const char *name, int64_t d0, int64_t d1, int layer)
{
    snprintf(p->name, sizeof p->name, "%s%s", prefix, name);
    p->ndim = d1 ? 2 : 1;
    p->shape[0] = d0;
    p->shape[1] = d1;
    p->numel = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    p->layer = layer;
    p->trained = 1;
}

static void copy_config(lm_hf_config *dst, const lm_hf_config *src)
{
    *dst = *src;
    dst->id2label = NULL;
    if (src->id2label) {
        dst->id2label = lm_xcalloc((size_t)src->num_labels, sizeof *dst->id2label);
        for (int i = 0; i < src->num_labels; i++)
            dst->id2label[i] = lm_xstrdup(src->id2label[i]);
    }
}

lm_train_model *lm_train_model_new(const lm_hf_config *c, const char *prefix)
{
    lm_train_model *m = lm_xcalloc(1, sizeof *m);
    copy_config(&m->cfg, c);
    int L = c->num_layers;
    int64_t C = c->hidden_size, F = c->intermediate_size;
    m->nparams = NEMB + NPL * L + 2;
    m->params = lm_xcalloc((size_t)m->nparams, sizeof *m->params);
    lm_train_param *p = m->params;
    row(&p[0], prefix, "embeddings.word_embeddings.weight", c->vocab_size, C, -1);
    row(&p[1], prefix, "embeddings.position_embeddings.weight", c->max_position, C, -1);
    row(&p[2], prefix, "embeddings.token_type_embeddings.weight", c->type_vocab_size, C, -1);
    row(&p[3], prefix, "embeddings.LayerNorm.weight", C, 0, -1);
    row(&p[4], prefix, "embeddings.LayerNorm.bias", C, 0, -1);
    for (int l = 0; l < L; l++) {
        char pre[96];
        snprintf(pre, sizeof pre, "%sencoder.layer.%d.", prefix, l);
        for (int j = 0; j < NPL; j++) {
            int fin = j == FCW || j == FCB, fout = j == PW;
            int64_t d0 = fin ? F : C, d1 = (j % 2 == 0 && j != LN1W && j != LN2W) ? (fout ? F : C) : 0;
            row(&p[NEMB + NPL * l + j], pre, layer_names[j], d0, d1, l);
        }
    }
    row(&p[NEMB + NPL * L], "", "classifier.weight", c->num_labels, C, L);
    row(&p[NEMB + NPL * L + 1], "", "classifier.bias", c->num_labels, 0, L);
    size_t off = 0;
    for (int i = 0; i < m->nparams; i++) {
        p[i].offset = off;
        off += p[i].numel;
    }
    m->num_params = off;
    m->params_mem = lm_xcalloc(off, sizeof(float));
    m->grads_mem = lm_xcalloc(off, sizeof(float));
    m->w.layers = lm_xcalloc((size_t)L, sizeof *m->w.layers);
    m->g.layers = lm_xcalloc((size_t)L, sizeof *m->g.layers);
    for (int i = 0; i < m->nparams; i++) {
        *slot(&m->w, L, i) = m->params_mem + p[i].offset;
        *slot(&m->g, L, i) = m->grads_mem + p[i].offset;
    }
    return m;
}

lm_train_model *lm_train_model_from_encoder(const lm_encoder *enc, char *err, size_t errlen)
{
    const lm_hf_config *c = &enc->cfg;
    if (!c->token_classification || !enc->w.clsw) {
        lm_seterr(err, errlen,
                  "%s has no classification head: training needs a *ForTokenClassification model",
                  c->architecture);
        return NULL;
    }
    /* the checkpoint's prefix, as encoder.c found it */
    const char *prefix = c->family == LM_FAMILY_BERT ? "bert." : "roberta.";
    char probe[64];
    snprintf(probe, sizeof probe, "%sembeddings.word_embeddings.weight", prefix);
    if (!lm_st_set_find(&enc->st, probe))
        prefix = "";
    lm_train_model *m = lm_train_model_new(c, prefix);
    int L = c->num_layers;
    const lm_train_param *p = m->params;
    const lm_encoder_weights *ew = &enc->w;
    for (int i = 0; i < m->nparams; i++) {
        const float *src;
        if (i < NEMB) {
            const float *e[NEMB] = {ew->wte, ew->wpe, ew->wtt, ew->lnew, ew->lneb};
            src = e[i];
        } else if (i < NEMB + NPL * L) {
            src = enc_layer_src(&ew->layers[(i - NEMB) / NPL], (i - NEMB) % NPL);
        } else {
            src = i == NEMB + NPL * L ? ew->clsw : ew->clsb;
        }
        memcpy(m->params_mem + p[i].offset, src, p[i].numel * sizeof(float));
    }
    return m;
}

lm_train_model *lm_train_model_load(const char *dir, char *err, size_t errlen)
{
    lm_encoder *enc = lm_encoder_load(dir, err, errlen);
    if (!enc)
        return NULL;
    lm_train_model *m = lm_train_model_from_encoder(enc, err, errlen);
    lm_encoder_free(enc);
    return m;
}

void lm_train_model_free(lm_train_model *m)
{
    if (!m)
        return;
    free(m->params);
    free(m->params_mem);
    free(m->grads_mem);
    free(m->w.layers);
    free(m->g.layers);
    lm_hf_config_free(&m->cfg);
    free(m);
}

int lm_train_model_save(const lm_train_model *m, const char *path, const char *metadata_json, char *err,
                        size_t errlen)
{
    lm_st_wtensor *t = lm_xcalloc((size_t)m->nparams, sizeof *t);
    for (int i = 0; i < m->nparams; i++) {
        const lm_train_param *p = &m->params[i];
        t[i].name = p->name;
        t[i].dtype = LM_DT_F32;
        t[i].ndim = p->ndim;
        t[i].shape = p->shape;
        t[i].data = m->params_mem + p->offset;
    }
    int rc = lm_st_write(path, t, (size_t)m->nparams, metadata_json, err, errlen);
    free(t);
    return rc;
}

const lm_train_param *lm_train_param_find(const lm_train_model *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return &m->params[i];
    return NULL;
}

int lm_train_set_scope(lm_train_model *m, const char *scope, char *err, size_t errlen)
{
    int L = m->cfg.num_layers, first; /* the lowest trained layer: -1 embeddings, L the classifier */
    if (strcmp(scope, "all") == 0) {
        first = -1;
    } else if (strcmp(scope, "encoder") == 0) {
        first = 0;
    } else if (strcmp(scope, "head") == 0) {
        first = L;
    } else if (strncmp(scope, "top:", 4) == 0) {
        char *end;
        long k = strtol(scope + 4, &end, 10);
        if (end == scope + 4 || *end || k < 1 || k > L) {
            lm_seterr(err, errlen,
                      "train scope '%s': K in top:K must be an integer from 1 to %d (the layers)", scope, L);
            return -1;
        }
        first = L - (int)k;
    } else {
        lm_seterr(err, errlen, "train scope '%s' is not one of all, encoder, top:K, head", scope);
        return -1;
    }
    for (int i = 0; i < m->nparams; i++)
        m->params[i].trained = m->params[i].layer >= first;
    return 0;
}

void lm_train_zero_grad(lm_train_model *m)
{
    memset(m->grads_mem, 0, m->num_params * sizeof(float));
}

lm_train_dropout lm_train_dropout_from_config(const lm_train_model *m, uint64_t seed, uint64_t step)
{
    lm_train_dropout d = {m->cfg.hidden_dropout, m->cfg.attention_dropout, m->cfg.classifier_dropout, seed,
                          step};
    return d;
}

/* ---- run state ---- */

lm_train_state *lm_train_state_new(const lm_train_model *m, int B, int T, char *err, size_t errlen)
{
    return lm_train_state_new_on(m, B, T, LM_TRAIN_CPU, err, errlen);
}

lm_train_state *lm_train_state_new_on(const lm_train_model *m, int B, int T, int device, char *err,
                                      size_t errlen)
{
    const lm_hf_config *c = &m->cfg;
    if (B < 1 || T < 1 || T > c->max_position) {
        lm_seterr(err, errlen, "batch %d x %d tokens: both must be at least 1, and tokens at most %d", B, T,
                  c->max_position);
        return NULL;
    }
    size_t BT = (size_t)B * (size_t)T, C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t L = (size_t)c->num_layers, NH = (size_t)c->num_heads, NL = (size_t)c->num_labels;
    size_t TT = (size_t)T * (size_t)T;
    int nt = omp_get_max_threads();
    if ((size_t)nt > (size_t)B * NH)
        nt = (int)((size_t)B * NH);
    /* the largest products first, in double: no size_t product may wrap */
    double big = ((double)L + 1) * BT * (C + F) * 8 + (double)L * B * NH * TT + (double)nt * 2 * TT;
    if (big > (double)(SIZE_MAX / 8)) {
        lm_seterr(err, errlen, "batch %d x %d tokens is too large", B, T);
        return NULL;
    }
    /* the activation table, in the order of the pointers below */
    size_t sizes[] = {
        BT,                  /* pos */
        BT,                  /* ids */
        BT,                  /* maskadd */
        BT * C,              /* emb */
        BT * 2,              /* emb_stat */
        (L + 1) * BT * C,    /* x */
        L * BT * C,          /* q */
        L * BT * C,          /* k */
        L * BT * C,          /* v */
        L * B * NH * TT,     /* att */
        L * BT * C,          /* atty */
        L * BT * C,          /* res1 */
        L * BT * 2,          /* ln1_stat */
        L * BT * C,          /* h1 */
        L * BT * F,          /* fch */
        L * BT * F,          /* fchg */
        L * BT * C,          /* res2 */
        L * BT * 2,          /* ln2_stat */
        BT * C,              /* xc */
        BT * NL,             /* logits */
        BT * NL,             /* probs */
        BT * NL,             /* dlogits */
        BT * C,              /* dx */
        BT * C,              /* dres */
        BT * C,              /* dh */
        BT * C,              /* datty */
        BT * C,              /* dq */
        BT * C,              /* dk */
        BT * C,              /* dv */
        BT * F,              /* dfch */
        (size_t)nt * 2 * TT, /* dscratch */
    };
    enum { NS = sizeof sizes / sizeof sizes[0] };
    /* on a device the host keeps the batch, the logits and their gradient */
    static const uint8_t host_side[NS] = {[0] = 1, [1] = 1, [2] = 1, [19] = 1, [20] = 1, [21] = 1};
    if (device == LM_TRAIN_CUDA)
        for (int i = 0; i < NS; i++)
            if (!host_side[i])
                sizes[i] = 0;
    size_t total = 0;
    for (int i = 0; i < NS; i++)
        if (__builtin_add_overflow(total, sizes[i], &total) || total > SIZE_MAX / 8) {
            lm_seterr(err, errlen, "batch %d x %d tokens is too large", B, T);
            return NULL;
        }
    lm_train_state *s = lm_xcalloc(1, sizeof *s);
    s->block = lm_xcalloc(total, sizeof(float));
    s->block_floats = total;
    float *p = s->block;
    s->pos = (int32_t *)(void *)p; /* same size and alignment as float */
    s->ids = (int32_t *)(void *)(p + BT);
    float **ptrs[NS] = {
        NULL,     NULL,         &s->maskadd, &s->emb,    &s->emb_stat, &s->x,       &s->q,       &s->k,
        &s->v,    &s->att,      &s->atty,    &s->res1,   &s->ln1_stat, &s->h1,      &s->fch,     &s->fchg,
        &s->res2, &s->ln2_stat, &s->xc,      &s->logits, &s->probs,    &s->dlogits, &s->dx,      &s->dres,
        &s->dh,   &s->datty,    &s->dq,      &s->dk,     &s->dv,       &s->dfch,    &s->dscratch};
    for (int i = 0; i < NS; i++) {
        if (ptrs[i])
            *ptrs[i] = sizes[i] ? p : NULL;
        p += sizes[i];
    }
    s->B = B;
    s->T = T;
    s->nthreads = nt;
    if (device == LM_TRAIN_CUDA) {
        s->dev = lm_train_cuda_new(m, B, T, err, errlen);
        if (!s->dev) {
            lm_train_state_free(s);
            return NULL;
        }
    }
    return s;
}

void lm_train_state_free(lm_train_state *s)
{
    if (!s)
        return;
    lm_train_cuda_free(s->dev);
    free(s->block);
    free(s);
}

/* ---- dropout ---- */

/* dropout sites: 0 embeddings, 1 + 3l attention probabilities, 2 + 3l
 * attention output, 3 + 3l FFN output, 1 + 3L classifier input */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* y[n] = x[n] * mask / (1-p), the mask of (d, site, row); y may alias x.
 * Applying it to a gradient is the dropout's backward. */
/* the masks' key of (seed, step) */
static uint64_t dropout_key(const lm_train_dropout *d)
{
    return mix64(d->seed ^ mix64(d->step + 0x9e3779b97f4a7c15ULL));
}

static void dropout_row(float *y, const float *x, int n, float p, const lm_train_dropout *d, int site,
                        uint64_t rowi)
{
    lm_dropout_row(y, x, n, (uint64_t)((double)p * 4294967296.0), 1.0f / (1.0f - p), dropout_key(d),
                   (uint64_t)site, rowi);
}

/* dropout over rows [N, n] of a hidden-state site */
static void dropout_rows(float *y, const float *x, long N, int n, float p, const lm_train_dropout *d,
                         int site)
{
#pragma omp parallel for schedule(static) if (PAR(N * n * 4))
    for (long i = 0; i < N; i++)
        dropout_row(y + (size_t)i * n, x + (size_t)i * n, n, p, d, site, (uint64_t)i);
}

/* ---- forward ops ---- */

/* out[N,C] = LayerNorm(a [+ r]) * w + b, the sum kept in res[N,C] (may be
 * a itself) and the row mean and 1/std in stat[N,2]. */
static void layernorm_fwd(float *out, float *res, float *stat, const float *a, const float *r, const float *w,
                          const float *b, long N, int C, float eps)
{
#pragma omp parallel for schedule(static) if (PAR(N * C * 4))
    for (long i = 0; i < N; i++) {
        float *x = res + (size_t)i * C, *o = out + (size_t)i * C;
        const float *ai = a + (size_t)i * C;
        if (r) {
            const float *ri = r + (size_t)i * C;
            for (int c = 0; c < C; c++)
                x[c] = ai[c] + ri[c];
        } else if (x != ai) {
            memcpy(x, ai, (size_t)C * sizeof *x);
        }
        double m = 0, v = 0;
        for (int c = 0; c < C; c++)
            m += x[c];
        m /= C;
        for (int c = 0; c < C; c++)
            v += (x[c] - m) * (x[c] - m);
        v /= C;
        float mean = (float)m, rstd = (float)(1.0 / sqrt(v + eps));
        for (int c = 0; c < C; c++)
            o[c] = (x[c] - mean) * rstd * w[c] + b[c];
        stat[2 * i] = mean;
        stat[2 * i + 1] = rstd;
    }
}

/* per (b, h): P = softmax(q k^T * scale + maskadd) into att[B,NH,T,T];
 * out = drop(P) v.  scratch [nthreads][2,T,T]. */
static void attention_fwd(float *out, float *att, float *scratch, int nthreads, const float *q,
                          const float *k, const float *v, const float *maskadd, int B, int T, int C, int NH,
                          float p, const lm_train_dropout *d, int site)
{
    int D = C / NH;
    float scale = 1.0f / sqrtf((float)D);
    size_t TT = (size_t)T * T;
    blas_one_thread();
#pragma omp parallel num_threads(nthreads) if (PAR((long)B * NH * TT * D))
    {
        float *pd = scratch + (size_t)omp_get_thread_num() * 2 * TT;
#pragma omp for schedule(dynamic, 1)
        for (long i = 0; i < (long)B * NH; i++) {
            int b = (int)(i / NH), h = (int)(i % NH);
            size_t off = (size_t)b * T * C + (size_t)h * D;
            float *P = att + (size_t)i * TT;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, scale, q + off, C, k + off, C, 0.0f,
                        P, T);
            const float *ma = maskadd + (size_t)b * T;
            for (int t = 0; t < T; t++)
                nn_masked_softmax_row(P + (size_t)t * T, ma, T);
            const float *Pd = P;
            if (p > 0) {
                for (int t = 0; t < T; t++)
                    dropout_row(pd + (size_t)t * T, P + (size_t)t * T, T, p, d, site, (uint64_t)i * T + t);
                Pd = pd;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, Pd, T, v + off, C, 0.0f,
                        out + off, C);
        }
    }
}

/* Tiles of the matrix products: every sgemm call has a shape fixed by the
 * problem alone, never by the thread count (OpenBLAS picks its kernel and
 * so its rounding by the shape), so results do not depend on --threads.
 * Each call packs its operands anew, so the tiles are large enough for the
 * packing to stay small beside the product (BERT-base's 4 x 512 rows: 8 row
 * tiles, times OC / 768 column tiles). */
#define TILE_R 256  /* rows of out / dinp per call */
#define TILE_C 768  /* columns of out / dinp per call */
#define WTILE_R 192 /* rows of dw per call */
#define WTILE_C 768 /* columns of dw per call */

static long tiles(long n, long t)
{
    return (n + t - 1) / t;
}

/* out[N,OC] = inp[N,C] . w[OC,C]^T + bias[OC] (bias may be NULL), in
 * TILE_R x TILE_C tiles. */
static void matmul_fwd(float *out, const float *inp, const float *w, const float *bias, long N, int C, int OC)
{
    long rt = tiles(N, TILE_R), ct = tiles(OC, TILE_C);
    blas_one_thread();
#pragma omp parallel for schedule(dynamic, 1) if (PAR(N * C * OC / 32))
    for (long task = 0; task < rt * ct; task++) {
        long r0 = task / ct * TILE_R, n = N - r0 < TILE_R ? N - r0 : TILE_R;
        long c0 = task % ct * TILE_C, nc = OC - c0 < TILE_C ? OC - c0 : TILE_C;
        float beta = 0.0f;
        if (bias) {
            for (long i = r0; i < r0 + n; i++)
                memcpy(out + (size_t)i * OC + c0, bias + c0, (size_t)nc * sizeof *out);
            beta = 1.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)nc, C, 1.0f, inp + (size_t)r0 * C,
                    C, w + (size_t)c0 * C, C, beta, out + (size_t)r0 * OC + c0, OC);
    }
}

static inline float gelu_tanh_grad(float x)
{
    float u = 0.7978845608028654f * (x + 0.044715f * x * x * x), th = tanhf(u);
    return 0.5f * (1.0f + th) +
           0.5f * x * (1.0f - th * th) * 0.7978845608028654f * (1.0f + 0.134145f * x * x);
}

/* the forward's GELU is the inference op's (nn/ops.h), so a trained model
 * computes what lingua-compress will compute with it */
static void gelu_fwd(float *out, const float *inp, size_t n, int tanh_form)
{
    if (tanh_form)
        nn_gelu_tanh_forward(out, inp, n);
    else
        nn_gelu_forward(out, inp, n);
}

/* dx[n] *= GELU'(x[n]), exact-erf form (nn/vmath.h) */
VM_CLONES static void gelu_grad_span(float *dx, const float *x, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        dx[i] *= vm_gelu_grad(x[i]);
}

/* ---- forward ---- */

/* the forward's layers on the CPU, from s->ids, s->pos, s->maskadd and
 * s->drop; fills s->logits */
static void forward_cpu(const lm_train_model *m, lm_train_state *s, const lm_train_dropout *d)
{
    const lm_hf_config *c = &m->cfg;
    int B = s->curB, T = s->curT;
    const int32_t *ids = s->ids;
    const lm_train_tensors *w = &m->w;
    int C = c->hidden_size, F = c->intermediate_size, NH = c->num_heads, NL = c->num_labels,
        L = c->num_layers;
    long N = (long)B * T;
    size_t NC = (size_t)N * C, NF = (size_t)N * F, att_l = (size_t)B * NH * T * T;
    float eps = c->layer_norm_eps;
    nn_embeddings_forward(s->emb, ids, s->pos, w->wte, w->wpe, w->wtt, 1, (int)N, C);
    layernorm_fwd(s->x, s->emb, s->emb_stat, s->emb, NULL, w->lnew, w->lneb, N, C, eps);
    if (d->hidden > 0)
        dropout_rows(s->x, s->x, N, C, d->hidden, d, 0);
    for (int l = 0; l < L; l++) {
        const lm_train_layer *ly = &w->layers[l];
        float *x = s->x + l * NC, *q = s->q + l * NC, *k = s->k + l * NC, *v = s->v + l * NC;
        float *atty = s->atty + l * NC, *res1 = s->res1 + l * NC, *h1 = s->h1 + l * NC;
        float *fch = s->fch + l * NF, *fchg = s->fchg + l * NF, *res2 = s->res2 + l * NC;
        matmul_fwd(q, x, ly->qw, ly->qb, N, C, C);
        matmul_fwd(k, x, ly->kw, ly->kb, N, C, C);
        matmul_fwd(v, x, ly->vw, ly->vb, N, C, C);
        attention_fwd(atty, s->att + l * att_l, s->dscratch, s->nthreads, q, k, v, s->maskadd, B, T, C, NH,
                      d->attention, d, 1 + 3 * l);
        matmul_fwd(res1, atty, ly->ow, ly->ob, N, C, C);
        if (d->hidden > 0)
            dropout_rows(res1, res1, N, C, d->hidden, d, 2 + 3 * l);
        layernorm_fwd(h1, res1, s->ln1_stat + (size_t)l * N * 2, res1, x, ly->ln1w, ly->ln1b, N, C, eps);
        matmul_fwd(fch, h1, ly->fcw, ly->fcb, N, C, F);
        gelu_fwd(fchg, fch, NF, c->act == LM_ACT_GELU_TANH);
        matmul_fwd(res2, fchg, ly->pw, ly->pb, N, F, C);
        if (d->hidden > 0)
            dropout_rows(res2, res2, N, C, d->hidden, d, 3 + 3 * l);
        layernorm_fwd(s->x + (l + 1) * NC, res2, s->ln2_stat + (size_t)l * N * 2, res2, h1, ly->ln2w,
                      ly->ln2b, N, C, eps);
    }
    const float *xl = s->x + L * NC;
    if (d->classifier > 0) {
        dropout_rows(s->xc, xl, N, C, d->classifier, d, 1 + 3 * L);
        xl = s->xc;
    } else {
        memcpy(s->xc, xl, NC * sizeof(float));
    }
    matmul_fwd(s->logits, xl, w->clsw, w->clsb, N, C, NL);
}

int lm_train_forward(const lm_train_model *m, lm_train_state *s, const int32_t *ids, const uint8_t *mask,
                     int B, int T, const lm_train_dropout *drop, char *err, size_t errlen)
{
    const lm_hf_config *c = &m->cfg;
    if (B < 1 || T < 1 || B > s->B || T > s->T) {
        lm_seterr(err, errlen, "batch %d x %d tokens does not fit the state's %d x %d", B, T, s->B, s->T);
        return -1;
    }
    for (int b = 0; b < B; b++) {
        size_t o = (size_t)b * T;
        if (lm_encoder_positions(ids + o, T, b, c->family == LM_FAMILY_ROBERTA, c->pad_token_id,
                                 c->vocab_size, c->max_position, s->pos + o, err, errlen) != 0)
            return -1;
        for (int t = 0; t < T; t++)
            s->maskadd[o + t] = (!mask || mask[o + t]) ? 0.0f : -FLT_MAX;
    }
    memcpy(s->ids, ids, (size_t)B * T * sizeof *ids);
    static const lm_train_dropout off = {0, 0, 0, 0, 0};
    const lm_train_dropout *d = drop ? drop : &off;
    s->drop = *d;
    s->dropout_on = drop != NULL;
    s->curB = B;
    s->curT = T;
    if (s->dev) {
        if (lm_train_cuda_forward(s->dev, m, s, dropout_key(d), err, errlen) != 0)
            return -1;
    } else {
        forward_cpu(m, s, d);
    }
    int NL = m->cfg.num_labels;
    long N = (long)B * T;
    for (long i = 0; i < N; i++) {
        const float *z = s->logits + (size_t)i * NL;
        float *pr = s->probs + (size_t)i * NL, mx = -INFINITY;
        for (int j = 0; j < NL; j++)
            mx = z[j] > mx ? z[j] : mx;
        double sum = 0;
        for (int j = 0; j < NL; j++)
            sum += exp((double)z[j] - mx);
        for (int j = 0; j < NL; j++)
            pr[j] = (float)(exp((double)z[j] - mx) / sum);
    }
    return 0;
}

int lm_train_ce_loss(const lm_train_model *m, lm_train_state *s, const int32_t *labels, float scale,
                     double *loss, int *count, char *err, size_t errlen)
{
    int NL = m->cfg.num_labels, T = s->curT;
    long N = (long)s->curB * T;
    int n = 0;
    for (long i = 0; i < N; i++) {
        if (labels[i] == -100)
            continue;
        if (labels[i] < 0 || labels[i] >= NL) {
            lm_seterr(err, errlen, "label %ld at [%ld][%ld] is neither -100 nor a class in [0, %d)",
                      (long)labels[i], i / T, i % T, NL);
            return -1;
        }
        n++;
    }
    double sum = 0, inv = n ? 1.0 / n : 0;
    for (long i = 0; i < N; i++) {
        const float *z = s->logits + (size_t)i * NL;
        float *dz = s->dlogits + (size_t)i * NL;
        if (labels[i] == -100) {
            memset(dz, 0, (size_t)NL * sizeof *dz);
            continue;
        }
        double mx = -INFINITY, se = 0;
        for (int j = 0; j < NL; j++)
            mx = z[j] > mx ? z[j] : mx;
        for (int j = 0; j < NL; j++)
            se += exp(z[j] - mx);
        double lse = mx + log(se);
        sum += lse - z[labels[i]];
        for (int j = 0; j < NL; j++)
            dz[j] = (float)(scale * inv * (exp(z[j] - lse) - (j == labels[i])));
    }
    *loss = sum * inv;
    if (count)
        *count = n;
    return 0;
}

/* ---- backward ops ---- */

/* dinp[N,C] (+)= dout[N,OC] . w[OC,C]  (accum 0 overwrites, 1 adds);
 * dw[OC,C] += dout^T . inp[N,C];  db[OC] += column sums of dout.
 * Each of dinp, dw, db may be NULL (not wanted).  dinp in TILE_R x TILE_C
 * tiles, dw in WTILE_R x WTILE_C ones. */
static void matmul_bwd(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                       long N, int C, int OC, int accum)
{
    long rt = tiles(N, TILE_R), ct = tiles(C, TILE_C), nd = dinp ? rt * ct : 0;
    long wrt = tiles(OC, WTILE_R), wct = tiles(C, WTILE_C), nw = dw ? wrt * wct : db ? wrt : 0;
    blas_one_thread();
#pragma omp parallel for schedule(dynamic, 1) if (PAR(N * C * OC / 32))
    for (long task = 0; task < nd + nw; task++) {
        if (task < nd) {
            long r0 = task / ct * TILE_R, n = N - r0 < TILE_R ? N - r0 : TILE_R;
            long c0 = task % ct * TILE_C, nc = C - c0 < TILE_C ? C - c0 : TILE_C;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)nc, OC, 1.0f,
                        dout + (size_t)r0 * OC, OC, w + c0, C, accum ? 1.0f : 0.0f,
                        dinp + (size_t)r0 * C + c0, C);
            continue;
        }
        long wt = task - nd, wc = dw ? wct : 1;
        long o0 = wt / wc * WTILE_R, o1 = o0 + WTILE_R < OC ? o0 + WTILE_R : OC;
        long c0 = wt % wc * WTILE_C, nc = C - c0 < WTILE_C ? C - c0 : WTILE_C;
        if (dw)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(o1 - o0), (int)nc, (int)N, 1.0f,
                        dout + o0, OC, inp + c0, C, 1.0f, dw + (size_t)o0 * C + c0, C);
        if (db && c0 == 0) {
            /* the column sums row by row (each column's terms in row
             * order, as a loop per column would add them), so that the
             * reads follow the rows */
            double acc[WTILE_R] = {0};
            long no = o1 - o0;
            for (long i = 0; i < N; i++) {
                const float *r = dout + (size_t)i * OC + o0;
                for (long o = 0; o < no; o++)
                    acc[o] += r[o];
            }
            for (long o = 0; o < no; o++)
                db[o0 + o] += (float)acc[o];
        }
    }
}

/* LayerNorm backward: dres[N,C] = d loss / d input from dout[N,C], the input
 * res[N,C] and stat[N,2]; dw, db[C] += (may be NULL). */
static void layernorm_bwd(float *dres, float *dw, float *db, const float *dout, const float *res,
                          const float *stat, const float *w, long N, int C)
{
#pragma omp parallel if (PAR(N * C * 8))
    {
#pragma omp for schedule(static)
        for (long i = 0; i < N; i++) {
            const float *dy = dout + (size_t)i * C, *x = res + (size_t)i * C;
            float *dx = dres + (size_t)i * C, mean = stat[2 * i], rstd = stat[2 * i + 1];
            double mdn = 0, mdnx = 0;
            for (int c = 0; c < C; c++) {
                float dn = dy[c] * w[c], xh = (x[c] - mean) * rstd;
                mdn += dn;
                mdnx += dn * xh;
            }
            float a = (float)(mdn / C), bb = (float)(mdnx / C);
            for (int c = 0; c < C; c++) {
                float xh = (x[c] - mean) * rstd;
                dx[c] = rstd * (dy[c] * w[c] - a - xh * bb);
            }
        }
        if (dw || db) {
            int nt = omp_get_num_threads(), id = omp_get_thread_num();
            int c0 = (int)((long)C * id / nt), c1 = (int)((long)C * (id + 1) / nt);
            for (int c = c0; c < c1; c++) {
                double sw = 0, sb = 0;
                for (long i = 0; i < N; i++) {
                    float dy = dout[(size_t)i * C + c];
                    sw += dy * ((res[(size_t)i * C + c] - stat[2 * i]) * stat[2 * i + 1]);
                    sb += dy;
                }
                if (dw)
                    dw[c] += (float)sw;
                if (db)
                    db[c] += (float)sb;
            }
        }
    }
}

/* Attention backward per (b, h), from datty[N,C]: dq, dk, dv[N,C]
 * (overwritten), with q, k, v[N,C] and the probabilities att[B,NH,T,T] of
 * the forward. */
static void attention_bwd(float *dq, float *dk, float *dv, float *scratch, int nthreads, const float *datty,
                          const float *q, const float *k, const float *v, const float *att, int B, int T,
                          int C, int NH, float p, const lm_train_dropout *d, int site)
{
    int D = C / NH;
    float scale = 1.0f / sqrtf((float)D);
    size_t TT = (size_t)T * T;
    blas_one_thread();
#pragma omp parallel num_threads(nthreads) if (PAR((long)B * NH * TT * D * 2))
    {
        float *dP = scratch + (size_t)omp_get_thread_num() * 2 * TT, *Pd = dP + TT;
#pragma omp for schedule(dynamic, 1)
        for (long i = 0; i < (long)B * NH; i++) {
            int b = (int)(i / NH), h = (int)(i % NH);
            size_t off = (size_t)b * T * C + (size_t)h * D;
            const float *P = att + (size_t)i * TT, *Pu = P;
            if (p > 0) {
                for (int t = 0; t < T; t++)
                    dropout_row(Pd + (size_t)t * T, P + (size_t)t * T, T, p, d, site, (uint64_t)i * T + t);
                Pu = Pd;
            }
            /* dv_h [T,D] = drop(P)^T [T,T] . dy_h [T,D] */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, Pu, T, datty + off, C, 0.0f,
                        dv + off, C);
            /* dP [T,T] = dy_h . v_h^T, then through the dropout */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1.0f, datty + off, C, v + off, C,
                        0.0f, dP, T);
            for (int t = 0; t < T; t++) {
                float *g = dP + (size_t)t * T;
                const float *pr = P + (size_t)t * T;
                if (p > 0)
                    dropout_row(g, g, T, p, d, site, (uint64_t)i * T + t);
                /* softmax: dS = P * (dP - sum_j P dP) */
                double dot = 0;
                for (int j = 0; j < T; j++)
                    dot += (double)pr[j] * g[j];
                float fd = (float)dot;
                for (int j = 0; j < T; j++)
                    g[j] = pr[j] * (g[j] - fd);
            }
            /* dq_h = scale dS . k_h ; dk_h = scale dS^T . q_h */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, scale, dP, T, k + off, C, 0.0f,
                        dq + off, C);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, scale, dP, T, q + off, C, 0.0f,
                        dk + off, C);
        }
    }
}

static void gelu_bwd(float *dx, const float *x, size_t n, int tanh_form)
{
    if (tanh_form) {
#pragma omp parallel for schedule(static) if (PAR(n * 16))
        for (size_t i = 0; i < n; i++)
            dx[i] *= gelu_tanh_grad(x[i]);
        return;
    }
    size_t chunk = 4096, nc = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (PAR(n * 16))
    for (size_t c = 0; c < nc; c++)
        gelu_grad_span(dx + c * chunk, x + c * chunk, n - c * chunk < chunk ? n - c * chunk : chunk);
}

/* grad pointer of table row i, NULL when frozen */
static float *gp(const lm_train_model *m, int i)
{
    return m->params[i].trained ? m->grads_mem + m->params[i].offset : NULL;
}

static void backward_cpu(lm_train_model *m, lm_train_state *s)
{
    const lm_hf_config *c = &m->cfg;
    int C = c->hidden_size, F = c->intermediate_size, NH = c->num_heads, NL = c->num_labels,
        L = c->num_layers;
    int B = s->curB, T = s->curT;
    long N = (long)B * T;
    size_t NC = (size_t)N * C, NF = (size_t)N * F, att_l = (size_t)B * NH * T * T;
    const lm_train_dropout *d = &s->drop;
    int first = L + 1; /* the lowest layer with a trained tensor (-1 embeddings, L classifier) */
    for (int i = 0; i < m->nparams; i++)
        if (m->params[i].trained && m->params[i].layer < first)
            first = m->params[i].layer;
    if (first > L)
        return;
    int tanh_form = c->act == LM_ACT_GELU_TANH;
    /* classifier */
    int cb = NEMB + NPL * L;
    matmul_bwd(first < L ? s->dx : NULL, gp(m, cb), gp(m, cb + 1), s->dlogits, s->xc, m->w.clsw, N, C, NL, 0);
    if (first == L)
        return;
    if (d->classifier > 0)
        dropout_rows(s->dx, s->dx, N, C, d->classifier, d, 1 + 3 * L);
    for (int l = L - 1; l >= first && l >= 0; l--) {
        const lm_train_layer *ly = &m->w.layers[l];
        int pb = NEMB + NPL * l;
        int below = l > first; /* the gradient must reach the layer's input */
        const float *x = s->x + l * NC, *q = s->q + l * NC, *k = s->k + l * NC, *v = s->v + l * NC;
        const float *atty = s->atty + l * NC, *h1 = s->h1 + l * NC;
        const float *fch = s->fch + l * NF, *fchg = s->fchg + l * NF;
        /* x' = LN2(drop(fchg Wp + bp) + h1) */
        layernorm_bwd(s->dres, gp(m, pb + LN2W), gp(m, pb + LN2B), s->dx, s->res2 + l * NC,
                      s->ln2_stat + (size_t)l * N * 2, ly->ln2w, N, C);
        memcpy(s->dh, s->dres, NC * sizeof(float));
        if (d->hidden > 0)
            dropout_rows(s->dres, s->dres, N, C, d->hidden, d, 3 + 3 * l);
        matmul_bwd(s->dfch, gp(m, pb + PW), gp(m, pb + PB), s->dres, fchg, ly->pw, N, F, C, 0);
        gelu_bwd(s->dfch, fch, NF, tanh_form);
        matmul_bwd(s->dh, gp(m, pb + FCW), gp(m, pb + FCB), s->dfch, h1, ly->fcw, N, C, F, 1);
        /* h1 = LN1(drop(atty Wo + bo) + x) */
        layernorm_bwd(s->dres, gp(m, pb + LN1W), gp(m, pb + LN1B), s->dh, s->res1 + l * NC,
                      s->ln1_stat + (size_t)l * N * 2, ly->ln1w, N, C);
        if (below)
            memcpy(s->dx, s->dres, NC * sizeof(float));
        if (d->hidden > 0)
            dropout_rows(s->dres, s->dres, N, C, d->hidden, d, 2 + 3 * l);
        matmul_bwd(s->datty, gp(m, pb + OW), gp(m, pb + OB), s->dres, atty, ly->ow, N, C, C, 0);
        attention_bwd(s->dq, s->dk, s->dv, s->dscratch, s->nthreads, s->datty, q, k, v, s->att + l * att_l, B,
                      T, C, NH, d->attention, d, 1 + 3 * l);
        matmul_bwd(below ? s->dx : NULL, gp(m, pb + QW), gp(m, pb + QB), s->dq, x, ly->qw, N, C, C, 1);
        matmul_bwd(below ? s->dx : NULL, gp(m, pb + KW), gp(m, pb + KB), s->dk, x, ly->kw, N, C, C, 1);
        matmul_bwd(below ? s->dx : NULL, gp(m, pb + VW), gp(m, pb + VB), s->dv, x, ly->vw, N, C, C, 1);
    }
    if (first >= 0)
        return;
    /* x0 = drop(LN(e)), e = wte[id] + wpe[pos] + wtt[0] */
    if (d->hidden > 0)
        dropout_rows(s->dx, s->dx, N, C, d->hidden, d, 0);
    layernorm_bwd(s->dres, gp(m, 3), gp(m, 4), s->dx, s->emb, s->emb_stat, m->w.lnew, N, C);
    float *gwte = gp(m, 0), *gwpe = gp(m, 1), *gwtt = gp(m, 2);
    int pad = c->pad_token_id, roberta = c->family == LM_FAMILY_ROBERTA;
    /* embedding rows: each thread owns a range of channels, so the scatter
     * is race-free and its order fixed; nn.Embedding's padding_idx rows get
     * nothing */
    const float *de = s->dres;
#pragma omp parallel if (PAR(N * C * 3))
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int c0 = (int)((long)C * id / nt), c1 = (int)((long)C * (id + 1) / nt);
        for (long i = 0; i < N; i++) {
            const float *g = de + (size_t)i * C;
            int32_t tok = s->ids[i], ps = s->pos[i];
            if (gwte && tok != pad)
                for (int cc = c0; cc < c1; cc++)
                    gwte[(size_t)tok * C + cc] += g[cc];
            if (gwpe && !(roberta && ps == pad))
                for (int cc = c0; cc < c1; cc++)
                    gwpe[(size_t)ps * C + cc] += g[cc];
            if (gwtt)
                for (int cc = c0; cc < c1; cc++)
                    gwtt[cc] += g[cc];
        }
    }
}

int lm_train_backward(lm_train_model *m, lm_train_state *s, char *err, size_t errlen)
{
    if (s->dev)
        return lm_train_cuda_backward(s->dev, m, s, dropout_key(&s->drop), err, errlen);
    backward_cpu(m, s);
    return 0;
}
