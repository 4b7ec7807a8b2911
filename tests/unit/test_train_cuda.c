/* test_train_cuda.c - the training forward and backward on a CUDA device
 * (lib/nn/train_cuda.h, kernels/train_cuda.cu) against the CPU's
 * (lib/nn/train.c) on the tiny models: logits and the gradient of every
 * parameter, padding in the batch, with dropout off and on (the device
 * draws the CPU's masks), under a training scope, over gradient
 * accumulation, and over 10 AdamW steps.
 *
 * Error measure per tensor (the logits too): max |gpu - cpu| / max(max |cpu|,
 * 1e-6), at most 1e-4 (both compute in fp32; cuBLAS sums in its own
 * order).  The key biases' gradients are zero in exact arithmetic, so each
 * side holds rounding noise; they must stay below 1e-5.  Losses after 10
 * steps: relative difference at most 1e-4.
 *
 * Without a usable GPU (or built without CUDA) the device checks print one
 * TAP SKIP line with the reason; the no-device error path still runs.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/rng_core.h"
#include "nn/backend_cuda.h"
#include "nn/encoder_cuda.h"
#include "nn/optim.h"
#include "nn/train.h"
#include "nn/train_cuda.h"
#include "taco/sup.h"
#include "tap.h"

#define TOL 1e-4

/* ---- an emulation of the device table in host memory ----
 * Each op written anew from its contract in kernels/train_cuda.h and
 * kernels/encoder_cuda.h, naively: run through it, lib/nn/train_cuda.c's
 * sequence of calls (which buffers, which offsets, which order) must give
 * the CPU's gradients.  This checks the orchestration on any machine; the
 * kernels themselves are checked against the CPU when a GPU is present. */

static char emu_ctx_mem[64];

static int e_create(enc_cuda **out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    *out = (enc_cuda *)(void *)emu_ctx_mem;
    return 0;
}
static void e_destroy(enc_cuda *c)
{
    (void)c;
}
static int e_use(const enc_cuda *c, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    return 0;
}
static int e_sync(enc_cuda *c, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    return 0;
}
static void e_describe(const enc_cuda *c, char *buf, size_t cap)
{
    (void)c;
    snprintf(buf, cap, "emulation");
}
static int e_malloc(void **p, size_t bytes, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    *p = calloc(1, bytes ? bytes : 1);
    return *p ? 0 : -1;
}
static void e_free(void *p)
{
    free(p);
}
static int e_upload(enc_cuda *c, void *dst, const void *src, size_t bytes, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    memcpy(dst, src, bytes);
    return 0;
}
static int e_copy(enc_cuda *c, void *dst, const void *src, size_t bytes, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    memmove(dst, src, bytes);
    return 0;
}
static int e_zero(enc_cuda *c, void *dst, size_t bytes, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    memset(dst, 0, bytes);
    return 0;
}
static int e_embeddings(enc_cuda *c, float *out, const int32_t *ids, const int32_t *pos, const float *wte,
                        const float *wpe, const float *wtt, int B, int T, int C, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    for (size_t i = 0; i < (size_t)B * T; i++)
        for (int ch = 0; ch < C; ch++)
            out[i * C + ch] = (wte[(size_t)ids[i] * C + ch] + wtt[ch]) + wpe[(size_t)pos[i] * C + ch];
    return 0;
}
static int e_matmul(enc_cuda *c, float *out, const float *inp, const void *wv, int wdtype, const float *bias,
                    void *act16, int N, int C, int OC, char *err, size_t errlen)
{
    (void)c, (void)act16, (void)err, (void)errlen;
    const float *w = wv;
    if (wdtype != ENC_CUDA_F32)
        return -1;
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double acc = 0;
            for (int k = 0; k < C; k++)
                acc += (double)inp[(size_t)i * C + k] * w[(size_t)o * C + k];
            out[(size_t)i * OC + o] = (float)acc + (bias ? bias[o] : 0.0f);
        }
    return 0;
}
static int e_gelu(enc_cuda *c, float *out, const float *inp, size_t N, int tanh_approx, char *err,
                  size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    for (size_t i = 0; i < N; i++) {
        double x = inp[i];
        out[i] = (float)(tanh_approx ? 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
                                     : 0.5 * x * (1 + erf(x / sqrt(2.0))));
    }
    return 0;
}
/* the masks are lib/core/rng_core.h's, the one definition both devices use */
static int e_dropout(enc_cuda *c, float *y, const float *x, size_t N, int n, float p, uint64_t key, int site,
                     uint64_t row0, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    for (size_t i = 0; i < N; i++)
        lm_dropout_row(y + i * n, x + i * n, n, (uint64_t)((double)p * 4294967296.0), 1.0f / (1.0f - p), key,
                       (uint64_t)site, row0 + i);
    return 0;
}
static int e_ln_fwd(enc_cuda *c, float *out, float *res, float *stat, const float *a, const float *r,
                    const float *w, const float *b, size_t N, int C, float eps, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    for (size_t i = 0; i < N; i++) {
        float *x = res + i * C;
        for (int ch = 0; ch < C; ch++)
            x[ch] = r ? a[i * C + ch] + r[i * C + ch] : a[i * C + ch];
        double m = 0, v = 0;
        for (int ch = 0; ch < C; ch++)
            m += x[ch];
        m /= C;
        for (int ch = 0; ch < C; ch++)
            v += (x[ch] - m) * (x[ch] - m);
        v /= C;
        double rs = 1 / sqrt(v + eps);
        for (int ch = 0; ch < C; ch++)
            out[i * C + ch] = (float)((x[ch] - m) * rs * w[ch] + b[ch]);
        stat[2 * i] = (float)m;
        stat[2 * i + 1] = (float)rs;
    }
    return 0;
}
static int e_ln_bwd(enc_cuda *c, float *dres, float *dw, float *db, const float *dout, const float *res,
                    const float *stat, const float *w, size_t N, int C, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    for (size_t i = 0; i < N; i++) {
        double m = stat[2 * i], rs = stat[2 * i + 1], s1 = 0, s2 = 0;
        for (int ch = 0; ch < C; ch++) {
            double xh = (res[i * C + ch] - m) * rs, dn = (double)dout[i * C + ch] * w[ch];
            s1 += dn;
            s2 += dn * xh;
            if (dw)
                dw[ch] += (float)(dout[i * C + ch] * xh);
            if (db)
                db[ch] += dout[i * C + ch];
        }
        for (int ch = 0; ch < C; ch++) {
            double xh = (res[i * C + ch] - m) * rs;
            dres[i * C + ch] = (float)(rs * ((double)dout[i * C + ch] * w[ch] - s1 / C - xh * s2 / C));
        }
    }
    return 0;
}
static int e_matmul_bwd(enc_cuda *c, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int N, int C, int OC, int accum, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    for (int i = 0; i < N; i++)
        for (int k = 0; dinp && k < C; k++) {
            double acc = accum ? dinp[(size_t)i * C + k] : 0;
            for (int o = 0; o < OC; o++)
                acc += (double)dout[(size_t)i * OC + o] * w[(size_t)o * C + k];
            dinp[(size_t)i * C + k] = (float)acc;
        }
    for (int o = 0; o < OC; o++) {
        for (int k = 0; dw && k < C; k++) {
            double acc = 0;
            for (int i = 0; i < N; i++)
                acc += (double)dout[(size_t)i * OC + o] * inp[(size_t)i * C + k];
            dw[(size_t)o * C + k] += (float)acc;
        }
        double sb = 0;
        for (int i = 0; i < N; i++)
            sb += dout[(size_t)i * OC + o];
        if (db)
            db[o] += (float)sb;
    }
    return 0;
}
static int e_gelu_bwd(enc_cuda *c, float *dx, const float *x, size_t n, int tanh_form, char *err,
                      size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    for (size_t i = 0; i < n; i++) {
        double v = x[i], g;
        if (tanh_form) {
            double u = 0.7978845608028654 * (v + 0.044715 * v * v * v), th = tanh(u);
            g = 0.5 * (1 + th) + 0.5 * v * (1 - th * th) * 0.7978845608028654 * (1 + 3 * 0.044715 * v * v);
        } else {
            g = 0.5 * (1 + erf(v / sqrt(2.0))) + v * exp(-0.5 * v * v) / sqrt(2 * M_PI);
        }
        dx[i] = (float)(dx[i] * g);
    }
    return 0;
}
/* P[b,h] for the emulated attention; the dropped copy goes to pd */
static int e_att_fwd(enc_cuda *c, float *out, float *att, float *pd, const float *q, const float *k,
                     const float *v, const float *maskadd, int B, int T, int C, int NH, float p, uint64_t key,
                     int site, char *err, size_t errlen)
{
    int D = C / NH;
    double scale = 1 / sqrt((double)D);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                float *P = att + (((size_t)b * NH + h) * T + t) * T;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    double s = 0;
                    for (int e = 0; e < D; e++)
                        s += (double)q[((size_t)b * T + t) * C + h * D + e] *
                             k[((size_t)b * T + j) * C + h * D + e];
                    P[j] = (float)(s * scale) + maskadd[(size_t)b * T + j];
                    mx = P[j] > mx ? P[j] : mx;
                }
                for (int j = 0; j < T; j++)
                    sum += exp(P[j] - mx);
                for (int j = 0; j < T; j++)
                    P[j] = (float)(exp(P[j] - mx) / sum);
            }
    size_t rows = (size_t)B * NH * T;
    const float *Pu = att;
    if (p > 0) {
        e_dropout(c, pd, att, rows, T, p, key, site, 0, err, errlen);
        Pu = pd;
    }
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++)
                for (int e = 0; e < D; e++) {
                    double acc = 0;
                    for (int j = 0; j < T; j++)
                        acc += (double)Pu[(((size_t)b * NH + h) * T + t) * T + j] *
                               v[((size_t)b * T + j) * C + h * D + e];
                    out[((size_t)b * T + t) * C + h * D + e] = (float)acc;
                }
    return 0;
}
static int e_att_bwd(enc_cuda *c, float *dq, float *dk, float *dv, float *dp, float *pd, const float *datty,
                     const float *q, const float *k, const float *v, const float *att, int B, int T, int C,
                     int NH, float p, uint64_t key, int site, char *err, size_t errlen)
{
    int D = C / NH;
    double scale = 1 / sqrt((double)D);
    size_t rows = (size_t)B * NH * T;
    const float *Pu = att;
    if (p > 0) {
        e_dropout(c, pd, att, rows, T, p, key, site, 0, err, errlen);
        Pu = pd;
    }
    memset(dq, 0, (size_t)B * T * C * sizeof *dq);
    memset(dk, 0, (size_t)B * T * C * sizeof *dk);
    memset(dv, 0, (size_t)B * T * C * sizeof *dv);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            size_t a0 = ((size_t)b * NH + h) * T * T;
            for (int t = 0; t < T; t++)
                for (int j = 0; j < T; j++) {
                    double s = 0;
                    for (int e = 0; e < D; e++)
                        s += (double)datty[((size_t)b * T + t) * C + h * D + e] *
                             v[((size_t)b * T + j) * C + h * D + e];
                    dp[a0 + (size_t)t * T + j] = (float)s;
                    for (int e = 0; e < D; e++)
                        dv[((size_t)b * T + j) * C + h * D + e] +=
                            Pu[a0 + (size_t)t * T + j] * datty[((size_t)b * T + t) * C + h * D + e];
                }
        }
    if (p > 0)
        e_dropout(c, dp, dp, rows, T, p, key, site, 0, err, errlen);
    for (size_t r = 0; r < rows; r++) {
        double dot = 0;
        for (int j = 0; j < T; j++)
            dot += (double)att[r * T + j] * dp[r * T + j];
        for (int j = 0; j < T; j++)
            dp[r * T + j] = (float)(att[r * T + j] * (dp[r * T + j] - dot));
    }
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            size_t a0 = ((size_t)b * NH + h) * T * T;
            for (int t = 0; t < T; t++)
                for (int j = 0; j < T; j++) {
                    double g = dp[a0 + (size_t)t * T + j] * scale;
                    for (int e = 0; e < D; e++) {
                        dq[((size_t)b * T + t) * C + h * D + e] +=
                            (float)(g * k[((size_t)b * T + j) * C + h * D + e]);
                        dk[((size_t)b * T + j) * C + h * D + e] +=
                            (float)(g * q[((size_t)b * T + t) * C + h * D + e]);
                    }
                }
        }
    return 0;
}
static int e_emb_bwd(enc_cuda *c, float *gwte, float *gwpe, float *gwtt, const float *de, const int32_t *ids,
                     const int32_t *pos, size_t N, int C, int pad, int roberta, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    for (size_t i = 0; i < N; i++)
        for (int ch = 0; ch < C; ch++) {
            float g = de[i * C + ch];
            if (gwte && ids[i] != pad)
                gwte[(size_t)ids[i] * C + ch] += g;
            if (gwpe && !(roberta && pos[i] == pad))
                gwpe[(size_t)pos[i] * C + ch] += g;
            if (gwtt)
                gwtt[ch] += g;
        }
    return 0;
}

/* a device with no memory left */
static int e_malloc_full(void **p, size_t bytes, char *err, size_t errlen)
{
    (void)bytes;
    *p = NULL;
    snprintf(err, errlen, "CUDA: cudaMalloc: out of memory");
    return -1;
}

static lm_cuda_api emulation(void)
{
    lm_cuda_api a;
    memset(&a, 0, sizeof a);
    a.abi = LM_CUDA_API_ABI;
    a.size = sizeof a;
    a.enc_create = e_create;
    a.enc_destroy = e_destroy;
    a.enc_describe = e_describe;
    a.enc_use = e_use;
    a.enc_sync = e_sync;
    a.enc_malloc = e_malloc;
    a.enc_free = e_free;
    a.enc_upload = e_upload;
    a.enc_download = e_upload;
    a.enc_embeddings = e_embeddings;
    a.enc_matmul = e_matmul;
    a.enc_gelu = e_gelu;
    a.trc_copy = e_copy;
    a.trc_zero = e_zero;
    a.trc_dropout = e_dropout;
    a.trc_layernorm_fwd = e_ln_fwd;
    a.trc_layernorm_bwd = e_ln_bwd;
    a.trc_matmul_bwd = e_matmul_bwd;
    a.trc_gelu_bwd = e_gelu_bwd;
    a.trc_attention_fwd = e_att_fwd;
    a.trc_attention_bwd = e_att_bwd;
    a.trc_embeddings_bwd = e_emb_bwd;
    return a;
}

typedef struct {
    int B, T;
    int32_t *ids, *labels;
    uint8_t *mask;
} batch;

/* B sequences of up to T tokens, the later ones padded, labels 0/1 on real
 * tokens and -100 on pads */
static batch make_batch(const lm_train_model *m, int B, int T, uint64_t seed)
{
    batch b = {B, T, calloc((size_t)B * T, sizeof(int32_t)), calloc((size_t)B * T, sizeof(int32_t)),
               calloc((size_t)B * T, 1)};
    lm_rng r;
    lm_rng_init(&r, seed, 7);
    int V = m->cfg.vocab_size, pad = m->cfg.pad_token_id;
    for (int i = 0; i < B; i++) {
        int len = T - i * (T / (2 * B));
        for (int t = 0; t < T; t++) {
            size_t k = (size_t)i * T + t;
            int real = t < len;
            int32_t id;
            do
                id = (int32_t)lm_rng_below(&r, (uint64_t)V);
            while (id == pad);
            b.ids[k] = real ? id : pad;
            b.mask[k] = (uint8_t)real;
            b.labels[k] = real ? (int32_t)lm_rng_below(&r, 2) : -100;
        }
    }
    return b;
}

static void batch_free(batch *b)
{
    free(b->ids);
    free(b->labels);
    free(b->mask);
}

/* forward, loss, backward into m->grads_mem (zeroed first); returns the loss */
static double run(lm_train_model *m, lm_train_state *s, const batch *b, const lm_train_dropout *d, int zero)
{
    char err[512] = "";
    if (zero)
        lm_train_zero_grad(m);
    double loss = NAN;
    if (lm_train_forward(m, s, b->ids, b->mask, b->B, b->T, d, err, sizeof err) != 0 ||
        lm_train_ce_loss(m, s, b->labels, 1.0f, &loss, NULL, err, sizeof err) != 0 ||
        lm_train_backward(m, s, err, sizeof err) != 0) {
        diag("run: %s", err);
        return NAN;
    }
    return loss;
}

/* the worst per-tensor error of got against want over m's tensors; the
 * tensor's name in worst_name */
static double worst(const lm_train_model *m, const float *got, const float *want, char *worst_name,
                    size_t cap)
{
    double w = 0;
    for (int i = 0; i < m->nparams; i++) {
        const lm_train_param *p = &m->params[i];
        double mx = 0, md = 0;
        if (strstr(p->name, "attention.self.key.bias")) {
            /* zero in exact arithmetic (softmax ignores a shift of a query's
             * scores), so both sides hold rounding noise: it must stay noise */
            for (size_t j = 0; j < p->numel; j++)
                md = fmax(md, fmax(fabs((double)got[p->offset + j]), fabs((double)want[p->offset + j])));
            if (md > 1e-5 || isnan(md)) {
                w = fmax(w, 1.0);
                snprintf(worst_name, cap, "%s (%.2g, not noise)", p->name, md);
            }
            continue;
        }
        for (size_t j = 0; j < p->numel; j++) {
            double a = fabs((double)want[p->offset + j]),
                   d = fabs((double)got[p->offset + j] - want[p->offset + j]);
            mx = a > mx ? a : mx;
            md = d > md || isnan(d) ? d : md;
        }
        double e = md / (mx > 1e-6 ? mx : 1e-6);
        if (e > w || isnan(e)) {
            w = e;
            snprintf(worst_name, cap, "%s", p->name);
        }
    }
    return w;
}

/* the device path of dir's model against the CPU; emu NULL: the GPU, else
 * the emulated table */
static void compare(const char *dir, const lm_cuda_api *emu)
{
    char err[512] = "", wn[192] = "";
    const char *dev = emu ? "emulated device" : "GPU";
    lm_train_model *m = lm_train_model_load(dir, err, sizeof err);
    if (!ok(m != NULL, "%s loads: %s", dir, err))
        return;
    batch b = make_batch(m, 3, 40, 11);
    lm_train_state *sc = lm_train_state_new(m, b.B, b.T, err, sizeof err);
    lm_train_state *sg = NULL;
    if (emu) {
        sg = lm_train_state_new(m, b.B, b.T, err, sizeof err);
        if (sg && !(sg->dev = lm_train_cuda_new_api(emu, m, b.B, b.T, err, sizeof err))) {
            lm_train_state_free(sg);
            sg = NULL;
        }
    } else {
        sg = lm_train_state_new_on(m, b.B, b.T, LM_TRAIN_CUDA, err, sizeof err);
    }
    if (!ok(sc && sg, "%s: CPU and %s states: %s", dir, dev, err)) {
        lm_train_state_free(sc);
        lm_train_state_free(sg);
        lm_train_model_free(m);
        batch_free(&b);
        return;
    }
    size_t bytes = m->num_params * sizeof(float);
    float *gc = malloc(bytes);
    lm_train_dropout d = lm_train_dropout_from_config(m, 5, 3);
    const lm_train_dropout *drops[2] = {NULL, &d};
    for (int k = 0; k < 2; k++) {
        double lc = run(m, sc, &b, drops[k], 1);
        memcpy(gc, m->grads_mem, bytes);
        float *pc = malloc((size_t)b.B * b.T * 2 * sizeof(float));
        memcpy(pc, sc->logits, (size_t)b.B * b.T * 2 * sizeof(float));
        double lg = run(m, sg, &b, drops[k], 1);
        double le = 0, lmax = 1e-6;
        for (size_t i = 0; i < (size_t)b.B * b.T * 2; i++) {
            double e = fabs((double)sg->logits[i] - pc[i]);
            le = e > le || isnan(e) ? e : le;
            lmax = fmax(lmax, fabs((double)pc[i]));
        }
        le /= lmax;
        ok(le <= TOL, "%s, %s, dropout %s: logits, worst relative error %.2g", dir, dev, k ? "on" : "off",
           le);
        ok(fabs(lg - lc) <= TOL * fabs(lc), "%s, dropout %s: loss %.9g on the %s, %.9g on the CPU", dir,
           k ? "on" : "off", lg, dev, lc);
        double w = worst(m, m->grads_mem, gc, wn, sizeof wn);
        ok(w <= TOL, "%s, %s, dropout %s: every gradient, worst error %.2g (%s)", dir, dev, k ? "on" : "off",
           w, wn);
        free(pc);
    }
    /* accumulation: two backwards add up as on the CPU */
    run(m, sc, &b, NULL, 1);
    run(m, sc, &b, NULL, 0);
    memcpy(gc, m->grads_mem, bytes);
    run(m, sg, &b, NULL, 1);
    run(m, sg, &b, NULL, 0);
    ok(worst(m, m->grads_mem, gc, wn, sizeof wn) <= TOL, "%s, %s: two accumulated backwards agree (%s)", dir,
       dev, wn);
    /* a scope: the frozen gradients stay untouched */
    lm_train_set_scope(m, "top:1", err, sizeof err);
    for (size_t i = 0; i < m->num_params; i++)
        m->grads_mem[i] = 0.5f;
    run(m, sg, &b, NULL, 0);
    int bad = 0;
    for (int i = 0; i < m->nparams; i++) {
        const lm_train_param *p = &m->params[i];
        if (!p->trained)
            for (size_t j = 0; j < p->numel; j++)
                bad += m->grads_mem[p->offset + j] != 0.5f;
    }
    ok(bad == 0, "%s: scope top:1 on the %s leaves the frozen gradients alone", dir, dev);
    lm_train_set_scope(m, "all", err, sizeof err);
    /* 10 AdamW steps from the same weights on both devices */
    float *w0 = malloc(bytes);
    memcpy(w0, m->params_mem, bytes);
    size_t nseg;
    lm_optim_seg *seg = lm_taco_segments(m, &nseg);
    double loss[2][10];
    for (int dev = 0; dev < 2; dev++) {
        memcpy(m->params_mem, w0, bytes);
        lm_adamw opt;
        lm_adamw_hparams hp = LM_ADAMW_DEFAULTS;
        lm_adamw_init(&opt, &hp, seg, nseg);
        for (int st = 0; st < 10; st++) {
            loss[dev][st] = run(m, dev ? sg : sc, &b, NULL, 1);
            lm_clip_grad_norm(m->grads_mem, seg, nseg, 1.0);
            lm_adamw_step(&opt, m->params_mem, m->grads_mem, 1e-3);
        }
        lm_adamw_free(&opt);
    }
    double le = 0;
    for (int st = 0; st < 10; st++)
        le = fmax(le, fabs(loss[1][st] - loss[0][st]) / fabs(loss[0][st]));
    ok(le <= TOL && loss[0][9] < loss[0][0], "%s: 10 AdamW steps: losses %.6g -> %.6g, the %s within %.2g",
       dir, loss[0][0], loss[0][9], dev, le);
    memcpy(m->params_mem, w0, bytes);
    free(seg);
    free(w0);
    free(gc);
    lm_train_state_free(sc);
    lm_train_state_free(sg);
    lm_train_model_free(m);
    batch_free(&b);
}

int main(void)
{
    char why[1024] = "", err[512] = "";
    lm_cuda_api emu = emulation();
    compare("testdata/models/tiny-bert", &emu);
    compare("testdata/models/tiny-xlmr", &emu);
    /* a device without room says so, with the device's reason */
    lm_cuda_api full = emu;
    full.enc_malloc = e_malloc_full;
    lm_train_model *fm = lm_train_model_load("testdata/models/tiny-bert", err, sizeof err);
    err[0] = 0;
    lm_train_cuda *fg = fm ? lm_train_cuda_new_api(&full, fm, 2, 8, err, sizeof err) : NULL;
    ok(fm && !fg && strstr(err, "no room for the") && strstr(err, "(CUDA: cudaMalloc: out of memory)"),
       "a full device: %s", err);
    lm_train_cuda_free(fg);
    lm_train_model_free(fm);
    int avail = lm_nn_cuda_available(why, sizeof why);
    if (!avail) {
        lm_train_model *m = lm_train_model_load("testdata/models/tiny-bert", err, sizeof err);
        err[0] = 0;
        lm_train_state *s = m ? lm_train_state_new_on(m, 2, 8, LM_TRAIN_CUDA, err, sizeof err) : NULL;
        ok(m && !s && err[0], "no device: a CUDA training state is refused with the reason: %s", err);
        lm_train_state_free(s);
        lm_train_model_free(m);
        printf("ok %d # SKIP GPU comparisons: %s\n", ++tap_n_, why);
        return tap_done();
    }
    compare("testdata/models/tiny-bert", NULL);
    compare("testdata/models/tiny-xlmr", NULL);
    return tap_done();
}
