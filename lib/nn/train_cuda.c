/* train_cuda.c - the training forward and backward on a CUDA device; see
 * train_cuda.h.  Step for step lm_train_forward and lm_train_backward of
 * train.c, with the launchers of kernels/train_cuda.h and
 * kernels/encoder_cuda.h (embeddings, Linear forward, GELU) in place of the
 * CPU ops, called through liblmkit-cuda.so's table.
 */
#include "nn/train_cuda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "nn/backend_cuda.h"

#define ALIGN_FLOATS 64 /* 256 bytes */

struct lm_train_cuda {
    const lm_cuda_api *K;
    enc_cuda *ctx;
    int B, T; /* maxima */
    size_t nparams;
    float *wg; /* device: parameters [nparams], then gradients [nparams] */
    float *w, *g;
    void *ablock; /* device activations */
    float *emb, *emb_stat, *x, *q, *k, *v, *att, *atty, *res1, *ln1_stat, *h1, *fch, *fchg, *res2, *ln2_stat;
    float *xc, *logits, *dlogits, *dx, *dres, *dh, *datty, *dq, *dk, *dv, *dfch, *dp, *pd, *maskadd;
    int32_t *ids, *pos;
};

static size_t up(size_t n)
{
    return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
}

void lm_train_cuda_free(lm_train_cuda *g)
{
    if (!g)
        return;
    if (g->ctx) {
        g->K->enc_use(g->ctx, NULL, 0);
        g->K->enc_sync(g->ctx, NULL, 0);
    }
    g->K->enc_free(g->ablock);
    g->K->enc_free(g->wg);
    if (g->ctx)
        g->K->enc_destroy(g->ctx);
    free(g);
}

void lm_train_cuda_describe(const lm_train_cuda *g, char *buf, size_t cap)
{
    g->K->enc_describe(g->ctx, buf, cap);
}

lm_train_cuda *lm_train_cuda_new(const lm_train_model *m, int B, int T, char *err, size_t errlen)
{
    const lm_cuda_api *K = lm_cuda_gpu(err, errlen);
    return K ? lm_train_cuda_new_api(K, m, B, T, err, errlen) : NULL;
}

lm_train_cuda *lm_train_cuda_new_api(const lm_cuda_api *K, const lm_train_model *m, int B, int T, char *err,
                                     size_t errlen)
{
    const lm_hf_config *c = &m->cfg;
    if (B < 1 || T < 1 || (long long)B * T > 0x7fffffffLL / 4) {
        lm_seterr(err, errlen, "batch %d x %d tokens is not possible on the device", B, T);
        return NULL;
    }
    lm_train_cuda *g = lm_xcalloc(1, sizeof *g);
    g->K = K;
    g->B = B;
    g->T = T;
    g->nparams = m->num_params;
    if (K->enc_create(&g->ctx, err, errlen)) {
        lm_train_cuda_free(g);
        return NULL;
    }
    size_t BT = (size_t)B * T, C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t L = (size_t)c->num_layers, NH = (size_t)c->num_heads, NL = (size_t)c->num_labels;
    size_t A = (size_t)B * NH * T * T;
    char why[512] = "";
    if (K->enc_malloc((void **)&g->wg, 2 * up(m->num_params) * sizeof(float), why, sizeof why)) {
        lm_seterr(err, errlen, "the device has no room for the %zu parameters and their gradients (%s)",
                  m->num_params, why);
        lm_train_cuda_free(g);
        return NULL;
    }
    g->w = g->wg;
    g->g = g->wg + up(m->num_params);
    float **fp[] = {
        &g->emb,          &g->emb_stat, &g->x,        &g->q,        &g->k,       &g->v,
        &g->att,          &g->atty,     &g->res1,     &g->ln1_stat, &g->h1,      &g->fch,
        &g->fchg,         &g->res2,     &g->ln2_stat, &g->xc,       &g->logits,  &g->dlogits,
        &g->dx,           &g->dres,     &g->dh,       &g->datty,    &g->dq,      &g->dk,
        &g->dv,           &g->dfch,     &g->dp,       &g->pd,       &g->maskadd, (float **)&g->ids,
        (float **)&g->pos};
    size_t n[] = {BT * C,     BT * 2,     (L + 1) * BT * C,
                  L * BT * C, L * BT * C, L * BT * C,
                  L * A,      L * BT * C, L * BT * C,
                  L * BT * 2, L * BT * C, L * BT * F,
                  L * BT * F, L * BT * C, L * BT * 2,
                  BT * C,     BT * NL,    BT * NL,
                  BT * C,     BT * C,     BT * C,
                  BT * C,     BT * C,     BT * C,
                  BT * C,     BT * F,     A,
                  A,          BT,         BT,
                  BT};
    size_t total = 0;
    for (size_t i = 0; i < sizeof n / sizeof *n; i++)
        total += up(n[i]);
    if (K->enc_malloc(&g->ablock, total * sizeof(float), why, sizeof why)) {
        lm_seterr(err, errlen, "the device has no room for the activations of %d x %d tokens (%.1f GiB): %s",
                  B, T, (double)total * 4 / (1 << 30), why);
        lm_train_cuda_free(g);
        return NULL;
    }
    float *p = g->ablock;
    for (size_t i = 0; i < sizeof n / sizeof *n; i++) {
        *fp[i] = p;
        p += up(n[i]);
    }
    return g;
}

/* device twin of a host parameter tensor (NULL stays NULL) */
static float *dw_of(const lm_train_cuda *g, const lm_train_model *m, const float *host)
{
    return host ? g->w + (host - m->params_mem) : NULL;
}

/* device gradient of a host parameter tensor, NULL when it is frozen */
static float *dg_of(const lm_train_cuda *g, const lm_train_model *m, const float *host)
{
    size_t off = (size_t)(host - m->params_mem);
    for (int i = 0; i < m->nparams; i++)
        if (m->params[i].offset == off)
            return m->params[i].trained ? g->g + off : NULL;
    return NULL;
}

#define TRY(call)      \
    do {               \
        if ((call))    \
            return -1; \
    } while (0)

int lm_train_cuda_forward(lm_train_cuda *g, const lm_train_model *m, lm_train_state *s, uint64_t key,
                          char *err, size_t errlen)
{
    const lm_cuda_api *K = g->K;
    enc_cuda *cx = g->ctx;
    const lm_hf_config *c = &m->cfg;
    int B = s->curB, T = s->curT;
    if (B > g->B || T > g->T) {
        lm_seterr(err, errlen, "batch %d x %d tokens does not fit the device's %d x %d", B, T, g->B, g->T);
        return -1;
    }
    int C = c->hidden_size, F = c->intermediate_size, NH = c->num_heads, NL = c->num_labels,
        L = c->num_layers;
    int N = B * T;
    size_t NC = (size_t)N * C, NF = (size_t)N * F, att_l = (size_t)B * NH * T * T;
    float eps = c->layer_norm_eps;
    const lm_train_dropout *d = &s->drop;
    float ph = s->dropout_on ? d->hidden : 0, pa = s->dropout_on ? d->attention : 0,
          pc = s->dropout_on ? d->classifier : 0;
    const lm_train_tensors *w = &m->w;
    TRY(K->enc_use(cx, err, errlen));
    TRY(K->enc_upload(cx, g->w, m->params_mem, m->num_params * sizeof(float), err, errlen));
    TRY(K->enc_upload(cx, g->ids, s->ids, (size_t)N * sizeof(int32_t), err, errlen));
    TRY(K->enc_upload(cx, g->pos, s->pos, (size_t)N * sizeof(int32_t), err, errlen));
    TRY(K->enc_upload(cx, g->maskadd, s->maskadd, (size_t)N * sizeof(float), err, errlen));
    TRY(K->enc_embeddings(cx, g->emb, g->ids, g->pos, dw_of(g, m, w->wte), dw_of(g, m, w->wpe),
                          dw_of(g, m, w->wtt), 1, N, C, err, errlen));
    TRY(K->trc_layernorm_fwd(cx, g->x, g->emb, g->emb_stat, g->emb, NULL, dw_of(g, m, w->lnew),
                             dw_of(g, m, w->lneb), (size_t)N, C, eps, err, errlen));
    if (ph > 0)
        TRY(K->trc_dropout(cx, g->x, g->x, (size_t)N, C, ph, key, 0, 0, err, errlen));
    for (int l = 0; l < L; l++) {
        const lm_train_layer *ly = &w->layers[l];
        float *x = g->x + l * NC, *q = g->q + l * NC, *k = g->k + l * NC, *v = g->v + l * NC;
        float *atty = g->atty + l * NC, *res1 = g->res1 + l * NC, *h1 = g->h1 + l * NC;
        float *fch = g->fch + l * NF, *fchg = g->fchg + l * NF, *res2 = g->res2 + l * NC;
        TRY(K->enc_matmul(cx, q, x, dw_of(g, m, ly->qw), ENC_CUDA_F32, dw_of(g, m, ly->qb), NULL, N, C, C,
                          err, errlen));
        TRY(K->enc_matmul(cx, k, x, dw_of(g, m, ly->kw), ENC_CUDA_F32, dw_of(g, m, ly->kb), NULL, N, C, C,
                          err, errlen));
        TRY(K->enc_matmul(cx, v, x, dw_of(g, m, ly->vw), ENC_CUDA_F32, dw_of(g, m, ly->vb), NULL, N, C, C,
                          err, errlen));
        TRY(K->trc_attention_fwd(cx, atty, g->att + l * att_l, g->pd, q, k, v, g->maskadd, B, T, C, NH, pa,
                                 key, 1 + 3 * l, err, errlen));
        TRY(K->enc_matmul(cx, res1, atty, dw_of(g, m, ly->ow), ENC_CUDA_F32, dw_of(g, m, ly->ob), NULL, N, C,
                          C, err, errlen));
        if (ph > 0)
            TRY(K->trc_dropout(cx, res1, res1, (size_t)N, C, ph, key, 2 + 3 * l, 0, err, errlen));
        TRY(K->trc_layernorm_fwd(cx, h1, res1, g->ln1_stat + (size_t)l * N * 2, res1, x,
                                 dw_of(g, m, ly->ln1w), dw_of(g, m, ly->ln1b), (size_t)N, C, eps, err,
                                 errlen));
        TRY(K->enc_matmul(cx, fch, h1, dw_of(g, m, ly->fcw), ENC_CUDA_F32, dw_of(g, m, ly->fcb), NULL, N, C,
                          F, err, errlen));
        TRY(K->enc_gelu(cx, fchg, fch, NF, c->act == LM_ACT_GELU_TANH, err, errlen));
        TRY(K->enc_matmul(cx, res2, fchg, dw_of(g, m, ly->pw), ENC_CUDA_F32, dw_of(g, m, ly->pb), NULL, N, F,
                          C, err, errlen));
        if (ph > 0)
            TRY(K->trc_dropout(cx, res2, res2, (size_t)N, C, ph, key, 3 + 3 * l, 0, err, errlen));
        TRY(K->trc_layernorm_fwd(cx, g->x + (l + 1) * NC, res2, g->ln2_stat + (size_t)l * N * 2, res2, h1,
                                 dw_of(g, m, ly->ln2w), dw_of(g, m, ly->ln2b), (size_t)N, C, eps, err,
                                 errlen));
    }
    const float *xl = g->x + L * NC;
    if (pc > 0)
        TRY(K->trc_dropout(cx, g->xc, xl, (size_t)N, C, pc, key, 1 + 3 * L, 0, err, errlen));
    else
        TRY(K->trc_copy(cx, g->xc, xl, NC * sizeof(float), err, errlen));
    TRY(K->enc_matmul(cx, g->logits, g->xc, dw_of(g, m, w->clsw), ENC_CUDA_F32, dw_of(g, m, w->clsb), NULL, N,
                      C, NL, err, errlen));
    return K->enc_download(cx, s->logits, g->logits, (size_t)N * NL * sizeof(float), err, errlen);
}

int lm_train_cuda_backward(lm_train_cuda *g, lm_train_model *m, lm_train_state *s, uint64_t key, char *err,
                           size_t errlen)
{
    const lm_cuda_api *K = g->K;
    enc_cuda *cx = g->ctx;
    const lm_hf_config *c = &m->cfg;
    int C = c->hidden_size, F = c->intermediate_size, NH = c->num_heads, NL = c->num_labels,
        L = c->num_layers;
    int B = s->curB, T = s->curT, N = B * T;
    size_t NC = (size_t)N * C, NF = (size_t)N * F, att_l = (size_t)B * NH * T * T;
    const lm_train_dropout *d = &s->drop;
    float ph = s->dropout_on ? d->hidden : 0, pa = s->dropout_on ? d->attention : 0,
          pc = s->dropout_on ? d->classifier : 0;
    int first = L + 1; /* the lowest layer with a trained tensor (-1 embeddings, L classifier) */
    for (int i = 0; i < m->nparams; i++)
        if (m->params[i].trained && m->params[i].layer < first)
            first = m->params[i].layer;
    if (first > L)
        return 0;
    int tanh_form = c->act == LM_ACT_GELU_TANH;
    const lm_train_tensors *w = &m->w;
    TRY(K->enc_use(cx, err, errlen));
    TRY(K->trc_zero(cx, g->g, m->num_params * sizeof(float), err, errlen));
    TRY(K->enc_upload(cx, g->dlogits, s->dlogits, (size_t)N * NL * sizeof(float), err, errlen));
    TRY(K->trc_matmul_bwd(cx, first < L ? g->dx : NULL, dg_of(g, m, w->clsw), dg_of(g, m, w->clsb),
                          g->dlogits, g->xc, dw_of(g, m, w->clsw), N, C, NL, 0, err, errlen));
    if (first < L) {
        if (pc > 0)
            TRY(K->trc_dropout(cx, g->dx, g->dx, (size_t)N, C, pc, key, 1 + 3 * L, 0, err, errlen));
        for (int l = L - 1; l >= first && l >= 0; l--) {
            const lm_train_layer *ly = &w->layers[l];
            int below = l > first;
            const float *x = g->x + l * NC, *q = g->q + l * NC, *k = g->k + l * NC, *v = g->v + l * NC;
            const float *atty = g->atty + l * NC, *h1 = g->h1 + l * NC;
            const float *fch = g->fch + l * NF, *fchg = g->fchg + l * NF;
            TRY(K->trc_layernorm_bwd(cx, g->dres, dg_of(g, m, ly->ln2w), dg_of(g, m, ly->ln2b), g->dx,
                                     g->res2 + l * NC, g->ln2_stat + (size_t)l * N * 2, dw_of(g, m, ly->ln2w),
                                     (size_t)N, C, err, errlen));
            TRY(K->trc_copy(cx, g->dh, g->dres, NC * sizeof(float), err, errlen));
            if (ph > 0)
                TRY(K->trc_dropout(cx, g->dres, g->dres, (size_t)N, C, ph, key, 3 + 3 * l, 0, err, errlen));
            TRY(K->trc_matmul_bwd(cx, g->dfch, dg_of(g, m, ly->pw), dg_of(g, m, ly->pb), g->dres, fchg,
                                  dw_of(g, m, ly->pw), N, F, C, 0, err, errlen));
            TRY(K->trc_gelu_bwd(cx, g->dfch, fch, NF, tanh_form, err, errlen));
            TRY(K->trc_matmul_bwd(cx, g->dh, dg_of(g, m, ly->fcw), dg_of(g, m, ly->fcb), g->dfch, h1,
                                  dw_of(g, m, ly->fcw), N, C, F, 1, err, errlen));
            TRY(K->trc_layernorm_bwd(cx, g->dres, dg_of(g, m, ly->ln1w), dg_of(g, m, ly->ln1b), g->dh,
                                     g->res1 + l * NC, g->ln1_stat + (size_t)l * N * 2, dw_of(g, m, ly->ln1w),
                                     (size_t)N, C, err, errlen));
            if (below)
                TRY(K->trc_copy(cx, g->dx, g->dres, NC * sizeof(float), err, errlen));
            if (ph > 0)
                TRY(K->trc_dropout(cx, g->dres, g->dres, (size_t)N, C, ph, key, 2 + 3 * l, 0, err, errlen));
            TRY(K->trc_matmul_bwd(cx, g->datty, dg_of(g, m, ly->ow), dg_of(g, m, ly->ob), g->dres, atty,
                                  dw_of(g, m, ly->ow), N, C, C, 0, err, errlen));
            TRY(K->trc_attention_bwd(cx, g->dq, g->dk, g->dv, g->dp, g->pd, g->datty, q, k, v,
                                     g->att + l * att_l, B, T, C, NH, pa, key, 1 + 3 * l, err, errlen));
            TRY(K->trc_matmul_bwd(cx, below ? g->dx : NULL, dg_of(g, m, ly->qw), dg_of(g, m, ly->qb), g->dq,
                                  x, dw_of(g, m, ly->qw), N, C, C, 1, err, errlen));
            TRY(K->trc_matmul_bwd(cx, below ? g->dx : NULL, dg_of(g, m, ly->kw), dg_of(g, m, ly->kb), g->dk,
                                  x, dw_of(g, m, ly->kw), N, C, C, 1, err, errlen));
            TRY(K->trc_matmul_bwd(cx, below ? g->dx : NULL, dg_of(g, m, ly->vw), dg_of(g, m, ly->vb), g->dv,
                                  x, dw_of(g, m, ly->vw), N, C, C, 1, err, errlen));
        }
        if (first < 0) {
            if (ph > 0)
                TRY(K->trc_dropout(cx, g->dx, g->dx, (size_t)N, C, ph, key, 0, 0, err, errlen));
            TRY(K->trc_layernorm_bwd(cx, g->dres, dg_of(g, m, w->lnew), dg_of(g, m, w->lneb), g->dx, g->emb,
                                     g->emb_stat, dw_of(g, m, w->lnew), (size_t)N, C, err, errlen));
            TRY(K->trc_embeddings_bwd(cx, dg_of(g, m, w->wte), dg_of(g, m, w->wpe), dg_of(g, m, w->wtt),
                                      g->dres, g->ids, g->pos, (size_t)N, C, c->pad_token_id,
                                      c->family == LM_FAMILY_ROBERTA, err, errlen));
        }
    }
    /* the trained tensors' gradients, added into the host's */
    float *tmp = NULL;
    size_t cap = 0;
    int rc = 0;
    for (int i = 0; i < m->nparams && rc == 0; i++) {
        const lm_train_param *p = &m->params[i];
        if (!p->trained)
            continue;
        if (p->numel > cap) {
            cap = p->numel;
            free(tmp);
            tmp = lm_xmalloc(cap * sizeof *tmp);
        }
        rc = K->enc_download(cx, tmp, g->g + p->offset, p->numel * sizeof(float), err, errlen);
        float *hg = m->grads_mem + p->offset;
        for (size_t j = 0; rc == 0 && j < p->numel; j++)
            hg[j] += tmp[j];
    }
    free(tmp);
    return rc;
}
