/* encoder_cuda.c - the encoder forward on a CUDA device; see encoder_cuda.h.
 *
 * The forward below is lm_encoder_forward_with (encoder.c) step for step,
 * with the kernels/encoder_cuda.h launchers in place of the lm_nn_backend
 * table: the table's function pointers take no stream or cuBLAS handle, and
 * keeping those in a global would make the library stateful, so the device
 * ops are called directly.  Differences from the CPU path, all on purpose:
 * Q, K and V are one [3C, C] product (their weights and biases are adjacent
 * in the device block), positions and the additive key mask are computed on
 * the device (the host still checks ids and positions first, with the same
 * messages), and the attention scores of all sequences are kept at once
 * ([B, NH, T, T]) so that one softmax launch covers the batch.
 *
 * The device ops live in liblmkit-cuda.so and are called through its table
 * (nn/backend_cuda.h loads it on the first lm_nn_cuda_available or
 * lm_encoder_cuda_new), so this file is compiled the same with and without
 * CUDA: without it, or without the library, a driver or a GPU, those two
 * calls say what is missing.
 */
#include "nn/encoder_cuda.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/diag.h"

#include "nn/backend_cuda.h"

int lm_nn_dtype_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "f32") == 0 || strcmp(s, "fp32") == 0)
        return LM_NN_F32;
    if (strcmp(s, "bf16") == 0)
        return LM_NN_BF16;
    if (strcmp(s, "f16") == 0 || strcmp(s, "fp16") == 0)
        return LM_NN_F16;
    return -1;
}

const char *lm_nn_dtype_name(int dtype)
{
    return dtype == LM_NN_F32 ? "f32" : dtype == LM_NN_BF16 ? "bf16" : dtype == LM_NN_F16 ? "f16" : "?";
}

#define ALIGN 256 /* bytes; cuBLAS wants 16, tensor cores like 128+ */

typedef struct {
    const void *qkvw;  /* [3C, C]: query, key, value weights adjacent */
    const float *qkvb; /* [3C] */
    const void *ow;
    const float *ob, *ln1w, *ln1b;
    const void *fcw;
    const float *fcb;
    const void *pw;
    const float *pb, *ln2w, *ln2b;
} gpu_layer;

struct lm_encoder_cuda {
    const lm_cuda_api *K; /* liblmkit-cuda.so */
    enc_cuda *ctx;
    int dtype;
    int B, T; /* maxima */
    int lastB, lastT;
    /* the config the forward needs */
    int C, F, NH, L, V, P, NL, roberta, pad, gelu_tanh, has_head;
    float eps;
    char arch[64];
    /* device weights: one block */
    void *wblock;
    size_t wbytes;
    const float *wte, *wpe, *wtt, *lnew, *lneb, *clsb;
    const void *clsw;
    gpu_layer *layers; /* [L], host array of device pointers */
    /* device activations: one block */
    void *ablock;
    size_t abytes;
    float *x, *qkv, *atty, *tmp, *ffh, *att, *maskadd, *logits, *probs;
    int32_t *ids, *pos;
    uint8_t *mask;
    void *act16;
    uint8_t *hmask; /* host staging for an all-ones mask [B,T] */
};

int lm_nn_cuda_available(char *why, size_t whylen)
{
    return lm_cuda_gpu(why, whylen) != NULL;
}

/* One weight tensor of the device block: up to three host tensors stored
 * back to back (Q, K, V), 16-bit when half. */
typedef struct {
    const float *src[3];
    size_t n[3];
    int half;
    const void **dst;
    size_t off; /* bytes into the block */
} wspec;

static size_t wspec_numel(const wspec *s)
{
    return s->n[0] + s->n[1] + s->n[2];
}

static size_t align_up(size_t x)
{
    return (x + ALIGN - 1) / ALIGN * ALIGN;
}

static int upload_weights(lm_encoder_cuda *g, const lm_encoder *m, char *err, size_t errlen)
{
    const lm_encoder_weights *w = &m->w;
    size_t C = (size_t)g->C, F = (size_t)g->F, L = (size_t)g->L;
    size_t n = 5 + 12 * L + 2; /* embeddings, 12 per layer, classifier */
    wspec *ws = lm_xcalloc(n, sizeof *ws);
    int half = g->dtype != LM_NN_F32;
    size_t k = 0;
#define W1(p, numel, h, d) \
    (ws[k].src[0] = (p), ws[k].n[0] = (numel), ws[k].half = (h), ws[k++].dst = (const void **)(d))
    W1(w->wte, (size_t)g->V * C, 0, &g->wte);
    W1(w->wpe, (size_t)g->P * C, 0, &g->wpe);
    W1(w->wtt, C, 0, &g->wtt); /* token type 0 only */
    W1(w->lnew, C, 0, &g->lnew);
    W1(w->lneb, C, 0, &g->lneb);
    for (size_t l = 0; l < L; l++) {
        const lm_encoder_layer *ly = &w->layers[l];
        gpu_layer *gl = &g->layers[l];
        ws[k] = (wspec){{ly->qw, ly->kw, ly->vw}, {C * C, C * C, C * C}, half, (const void **)&gl->qkvw, 0};
        k++;
        ws[k] = (wspec){{ly->qb, ly->kb, ly->vb}, {C, C, C}, 0, (const void **)&gl->qkvb, 0};
        k++;
        W1(ly->ow, C * C, half, &gl->ow);
        W1(ly->ob, C, 0, &gl->ob);
        W1(ly->ln1w, C, 0, &gl->ln1w);
        W1(ly->ln1b, C, 0, &gl->ln1b);
        W1(ly->fcw, F * C, half, &gl->fcw);
        W1(ly->fcb, F, 0, &gl->fcb);
        W1(ly->pw, C * F, half, &gl->pw);
        W1(ly->pb, C, 0, &gl->pb);
        W1(ly->ln2w, C, 0, &gl->ln2w);
        W1(ly->ln2b, C, 0, &gl->ln2b);
    }
    if (g->has_head) {
        W1(w->clsw, (size_t)g->NL * C, half, &g->clsw);
        W1(w->clsb, (size_t)g->NL, 0, &g->clsb);
    }
#undef W1
    n = k;
    /* offsets, the one allocation */
    size_t total = 0, most = 0;
    for (size_t i = 0; i < n; i++) {
        size_t numel = wspec_numel(&ws[i]);
        ws[i].off = total;
        total = align_up(total + numel * (ws[i].half ? 2 : 4));
        if (ws[i].half && numel > most)
            most = numel;
    }
    uint16_t *stage = most ? lm_xmalloc(lm_xmul(most, sizeof *stage)) : NULL;
    if (g->K->enc_malloc(&g->wblock, total, err, errlen)) {
        size_t e = strlen(err);
        if (e < errlen)
            snprintf(err + e, errlen - e, " (for the %s weights)", lm_nn_dtype_name(g->dtype));
        free(stage);
        free(ws);
        return -1;
    }
    g->wbytes = total;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *base = (char *)g->wblock + ws[i].off;
        *ws[i].dst = base;
        size_t done = 0;
        for (int j = 0; j < 3 && rc == 0; j++) {
            if (!ws[i].n[j])
                continue;
            if (ws[i].half) {
                for (size_t e = 0; e < ws[i].n[j]; e++)
                    stage[done + e] = g->dtype == LM_NN_BF16 ? lm_f32_to_bf16(ws[i].src[j][e])
                                                             : lm_f32_to_f16(ws[i].src[j][e]);
                rc = g->K->enc_upload(g->ctx, base + done * 2, stage + done, ws[i].n[j] * 2, err, errlen);
            } else {
                rc = g->K->enc_upload(g->ctx, base + done * 4, ws[i].src[j], ws[i].n[j] * 4, err, errlen);
            }
            done += ws[i].n[j];
        }
    }
    free(stage);
    free(ws);
    return rc;
}

static int alloc_activations(lm_encoder_cuda *g, char *err, size_t errlen)
{
    size_t B = (size_t)g->B, T = (size_t)g->T, BT = B * T, C = (size_t)g->C, F = (size_t)g->F;
    size_t NH = (size_t)g->NH, NL = (size_t)g->NL ? (size_t)g->NL : 1;
    size_t wide = F > 3 * C ? F : 3 * C;
    /* x qkv atty tmp ffh att maskadd logits probs ids pos mask act16, in bytes */
    size_t elems[13] = {BT * C,
                        BT * 3 * C,
                        BT * C,
                        BT * C,
                        BT * F,
                        B * NH * T * T,
                        BT,
                        BT * NL,
                        BT * NL,
                        BT,
                        BT,
                        BT,
                        g->dtype != LM_NN_F32 ? BT * wide : 0};
    size_t esize[13] = {4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 1, 2};
    size_t off[13], total = 0;
    for (int i = 0; i < 13; i++) {
        size_t bytes;
        off[i] = total;
        if (__builtin_mul_overflow(elems[i], esize[i], &bytes) ||
            __builtin_add_overflow(total, bytes + ALIGN, &total) || total > SIZE_MAX / 2) {
            lm_seterr(err, errlen, "batch %d x %d tokens is too large", g->B, g->T);
            return -1;
        }
        total = total / ALIGN * ALIGN;
    }
    if (g->K->enc_malloc(&g->ablock, total, err, errlen)) {
        size_t e = strlen(err);
        if (e < errlen)
            snprintf(err + e, errlen - e, " (activations for batch %d x %d tokens)", g->B, g->T);
        return -1;
    }
    g->abytes = total;
    char *p = g->ablock;
    float **fp[9] = {&g->x, &g->qkv, &g->atty, &g->tmp, &g->ffh, &g->att, &g->maskadd, &g->logits, &g->probs};
    for (int i = 0; i < 9; i++)
        *fp[i] = (float *)(void *)(p + off[i]);
    g->ids = (int32_t *)(void *)(p + off[9]);
    g->pos = (int32_t *)(void *)(p + off[10]);
    g->mask = (uint8_t *)(p + off[11]);
    g->act16 = elems[12] ? p + off[12] : NULL;
    return 0;
}

lm_encoder_cuda *lm_encoder_cuda_new(const lm_encoder *m, int Bmax, int Tmax, int dtype, char *err,
                                     size_t errlen)
{
    const lm_hf_config *c = &m->cfg;
    if (Bmax < 1 || Tmax < 1) {
        lm_seterr(err, errlen, "batch %d x %d tokens: both must be at least 1", Bmax, Tmax);
        return NULL;
    }
    if (dtype != LM_NN_F32 && dtype != LM_NN_BF16 && dtype != LM_NN_F16) {
        lm_seterr(err, errlen, "unknown device dtype %d (f32, bf16 or f16)", dtype);
        return NULL;
    }
    if ((long long)Bmax * Tmax > 0x7fffffffLL / 4) {
        lm_seterr(err, errlen, "batch %d x %d tokens is too large", Bmax, Tmax);
        return NULL;
    }
    const lm_cuda_api *K = lm_cuda_gpu(err, errlen);
    if (!K)
        return NULL;
    lm_encoder_cuda *g = lm_xcalloc(1, sizeof *g);
    g->K = K;
    g->dtype = dtype;
    g->B = Bmax;
    g->T = Tmax;
    g->C = c->hidden_size;
    g->F = c->intermediate_size;
    g->NH = c->num_heads;
    g->L = c->num_layers;
    g->V = c->vocab_size;
    g->P = c->max_position;
    g->NL = c->token_classification ? c->num_labels : 0;
    g->has_head = c->token_classification;
    g->roberta = c->family == LM_FAMILY_ROBERTA;
    g->pad = c->pad_token_id;
    g->gelu_tanh = c->act == LM_ACT_GELU_TANH;
    g->eps = c->layer_norm_eps;
    snprintf(g->arch, sizeof g->arch, "%s", c->architecture);
    g->layers = lm_xcalloc((size_t)g->L, sizeof *g->layers);
    g->hmask = lm_xmalloc((size_t)Bmax * (size_t)Tmax);
    memset(g->hmask, 1, (size_t)Bmax * (size_t)Tmax);
    if (g->K->enc_create(&g->ctx, err, errlen) || upload_weights(g, m, err, errlen) ||
        alloc_activations(g, err, errlen)) {
        lm_encoder_cuda_free(g);
        return NULL;
    }
    return g;
}

void lm_encoder_cuda_free(lm_encoder_cuda *g)
{
    if (!g)
        return;
    if (g->ctx) { /* g->K is set whenever g is */
        g->K->enc_use(g->ctx, NULL, 0);
        g->K->enc_sync(g->ctx, NULL, 0);
    }
    g->K->enc_free(g->ablock);
    g->K->enc_free(g->wblock);
    g->K->enc_destroy(g->ctx);
    free(g->layers);
    free(g->hmask);
    free(g);
}

/* Host-side checks of lm_encoder_forward_with, with its messages: ids in the
 * vocabulary, every position below max_position_embeddings. */
static int check_ids(const lm_encoder_cuda *g, const int32_t *ids, int B, int T, char *err, size_t errlen)
{
    for (int b = 0; b < B; b++)
        if (lm_encoder_positions(ids + (size_t)b * T, T, b, g->roberta, g->pad, g->V, g->P, NULL, err,
                                 errlen) != 0)
            return -1;
    return 0;
}

int lm_encoder_cuda_forward(lm_encoder_cuda *g, const int32_t *ids, const uint8_t *mask, int B, int T,
                            float *logits, float *probs, char *err, size_t errlen)
{
    if (B < 1 || T < 1 || B > g->B || T > g->T) {
        lm_seterr(err, errlen, "batch %d x %d tokens does not fit the state's %d x %d", B, T, g->B, g->T);
        return -1;
    }
    if ((logits || probs) && !g->has_head) {
        lm_seterr(err, errlen, "%s has no classification head: ask for the hidden state only", g->arch);
        return -1;
    }
    if (check_ids(g, ids, B, T, err, errlen))
        return -1;
    enc_cuda *cx = g->ctx;
    size_t BT = (size_t)B * T;
    int N = B * T, C = g->C, F = g->F, wd = g->dtype;
    float eps = g->eps;
    g->lastB = g->lastT = 0;
    if (g->K->enc_use(cx, err, errlen) || g->K->enc_upload(cx, g->ids, ids, BT * sizeof *ids, err, errlen) ||
        g->K->enc_upload(cx, g->mask, mask ? mask : g->hmask, BT, err, errlen))
        return -1;
    float *x = g->x;
    /* a failing launcher leaves its message in err; the chain stops there */
    int rc = g->K->enc_prep(cx, g->pos, g->maskadd, g->ids, g->mask, B, T, g->roberta, g->pad, err, errlen) ||
             g->K->enc_embeddings(cx, x, g->ids, g->pos, g->wte, g->wpe, g->wtt, B, T, C, err, errlen) ||
             g->K->enc_layernorm(cx, x, x, NULL, g->lnew, g->lneb, B, T, C, eps, err, errlen);
    for (int l = 0; l < g->L && rc == 0; l++) {
        const gpu_layer *ly = &g->layers[l];
        rc = g->K->enc_matmul(cx, g->qkv, x, ly->qkvw, wd, ly->qkvb, g->act16, N, C, 3 * C, err, errlen) ||
             g->K->enc_attention(cx, g->atty, g->att, g->qkv, g->qkv + C, g->qkv + 2 * C, 3 * C, g->maskadd,
                                 B, T, C, g->NH, err, errlen) ||
             g->K->enc_matmul(cx, g->tmp, g->atty, ly->ow, wd, ly->ob, g->act16, N, C, C, err, errlen) ||
             g->K->enc_layernorm(cx, x, g->tmp, x, ly->ln1w, ly->ln1b, B, T, C, eps, err, errlen) ||
             g->K->enc_matmul(cx, g->ffh, x, ly->fcw, wd, ly->fcb, g->act16, N, C, F, err, errlen) ||
             g->K->enc_gelu(cx, g->ffh, g->ffh, BT * (size_t)F, g->gelu_tanh, err, errlen) ||
             g->K->enc_matmul(cx, g->tmp, g->ffh, ly->pw, wd, ly->pb, g->act16, N, F, C, err, errlen) ||
             g->K->enc_layernorm(cx, x, g->tmp, x, ly->ln2w, ly->ln2b, B, T, C, eps, err, errlen);
    }
    if (rc == 0 && (logits || probs)) {
        size_t nb = BT * (size_t)g->NL * sizeof(float);
        rc = g->K->enc_matmul(cx, g->logits, x, g->clsw, wd, g->clsb, g->act16, N, C, g->NL, err, errlen) ||
             (probs && g->K->enc_softmax(cx, g->probs, g->logits, N, g->NL, err, errlen)) ||
             (logits && g->K->enc_download(cx, logits, g->logits, nb, err, errlen)) ||
             (probs && g->K->enc_download(cx, probs, g->probs, nb, err, errlen));
    }
    if (rc == 0)
        rc = g->K->enc_sync(cx, err, errlen);
    if (rc)
        return -1;
    g->lastB = B;
    g->lastT = T;
    return 0;
}

int lm_encoder_cuda_hidden(lm_encoder_cuda *g, float *out, char *err, size_t errlen)
{
    if (!g->lastB) {
        lm_seterr(err, errlen, "no forward has run on this device state yet");
        return -1;
    }
    size_t n = (size_t)g->lastB * g->lastT * g->C;
    return g->K->enc_use(g->ctx, err, errlen) ||
                   g->K->enc_download(g->ctx, out, g->x, n * sizeof *out, err, errlen)
               ? -1
               : 0;
}

void lm_encoder_cuda_info(const lm_encoder_cuda *g, char *desc, size_t cap, size_t *weight_bytes,
                          size_t *act_bytes)
{
    if (desc && cap)
        g->K->enc_describe(g->ctx, desc, cap);
    if (weight_bytes)
        *weight_bytes = g->wbytes;
    if (act_bytes)
        *act_bytes = g->abytes;
}
