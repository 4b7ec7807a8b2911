/* optim.c - AdamW, learning-rate schedules, gradient clipping and
 * accumulation on flat float arrays (see optim.h). */
#include "nn/optim.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"

/* Segments shorter than this are updated on the calling thread; longer
 * ones are cut into CHUNK-element pieces shared among the threads. */
#define PAR_MIN ((size_t)1 << 15)
#define CHUNK ((size_t)1 << 13)

/* The update loop is compiled for x86-64-v3 (FMA in hardware) and for the
 * baseline (fmaf from libm); both give the same bits.  No other contraction:
 * the library is built as ISO C (-std=c11), where GCC does not fuse
 * a*b + c on its own. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define OPT_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define OPT_CLONES
#endif

/* ---- parameter groups ---- */

/* s (lower-cased) contains "norm" as a whole dot-separated component, or
 * "_norm" followed by the end or a dot: the patterns (?:^|\.)norm(?:$|\.)
 * and _norm(?:$|\.) of Trainer.get_decay_parameter_names. */
static int has_norm_component(const char *s)
{
    for (const char *p = strstr(s, "norm"); p; p = strstr(p + 1, "norm")) {
        int end_ok = p[4] == '\0' || p[4] == '.';
        if (end_ok && (p == s || p[-1] == '.' || p[-1] == '_'))
            return 1;
    }
    return 0;
}

int lm_optim_decays(const char *name)
{
    size_t n = strlen(name);
    char *s = lm_xmalloc(n + 1);
    for (size_t i = 0; i <= n; i++)
        s[i] = (char)tolower((unsigned char)name[i]);
    int no = strstr(s, "bias") || strstr(s, "layernorm") || strstr(s, "rmsnorm") || has_norm_component(s);
    free(s);
    return !no;
}

size_t lm_optim_segs_from_names(lm_optim_seg *seg, const char *const *names, const size_t *numel, size_t n)
{
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        seg[i].offset = off;
        seg[i].len = numel[i];
        seg[i].decay = lm_optim_decays(names[i]);
        off += numel[i];
    }
    return off;
}

/* ---- AdamW ---- */

void lm_adamw_init(lm_adamw *o, const lm_adamw_hparams *hp, const lm_optim_seg *seg, size_t nseg)
{
    memset(o, 0, sizeof *o);
    o->hp = *hp;
    o->nseg = nseg;
    o->seg = lm_xmalloc(lm_xmul(nseg ? nseg : 1, sizeof *seg));
    if (nseg)
        memcpy(o->seg, seg, nseg * sizeof *seg);
    for (size_t i = 0; i < nseg; i++)
        o->nstate += seg[i].len;
    /* one block for both moments */
    o->m = lm_xcalloc(lm_xmul(o->nstate ? o->nstate : 1, 2), sizeof(float));
    o->v = o->m + o->nstate;
    o->step = 0;
}

void lm_adamw_free(lm_adamw *o)
{
    if (!o)
        return;
    free(o->seg);
    free(o->m);
    memset(o, 0, sizeof *o);
}

/* The float32 scalars of one step, converted from double as torch converts
 * a Python scalar operand to the tensor's dtype. */
typedef struct {
    float wdmul;   /* 1 - lr*wd, or 1 where no decay applies */
    float w1;      /* lerp weight 1 - beta1 */
    int w1_small;  /* |w1| < 0.5: torch's lerp takes its first form */
    float b2, c2;  /* beta2, 1 - beta2 */
    float bc2s;    /* sqrt of the second bias correction */
    float eps;     /* eps */
    float negstep; /* -lr / bias correction 1 */
} adamw_k;

OPT_CLONES static void adamw_kernel(float *restrict p, const float *restrict g, float *restrict m,
                                    float *restrict v, size_t n, const adamw_k *k)
{
    const float wdmul = k->wdmul, w1 = k->w1, w1m1 = k->w1 - 1.0f, b2 = k->b2, c2 = k->c2, bc2s = k->bc2s,
                eps = k->eps, negstep = k->negstep;
    const int small = k->w1_small;
    const float coef = small ? w1 : w1m1;
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float pi = p[i], gi = g[i], mi = m[i], vi = v[i];
        pi = pi * wdmul; /* wdmul is 1 without decay: the same bits */
        /* ATen lerp_vec: fmadd(w or w-1, end - self, self or end) */
        mi = fmaf(coef, gi - mi, small ? mi : gi);
        /* mul_(beta2) then addcmul_: ATen fuses self + (value*t1)*t2 */
        vi = fmaf(c2 * gi, gi, vi * b2);
        float denom = sqrtf(vi) / bc2s + eps;
        pi = pi + negstep * mi / denom;
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
    }
}

void lm_adamw_step(lm_adamw *o, float *param, const float *grad, double lr)
{
    const lm_adamw_hparams *hp = &o->hp;
    o->step++;
    double step = (double)o->step;
    /* as torch's _single_tensor_adam computes them, in Python floats */
    double bc1 = 1.0 - pow(hp->beta1, step);
    double bc2 = 1.0 - pow(hp->beta2, step);
    double step_size = lr / bc1;
    double bc2_sqrt = pow(bc2, 0.5);
    adamw_k k;
    k.wdmul = (float)(1.0 - lr * hp->weight_decay);
    k.w1 = (float)(1.0 - hp->beta1);
    k.w1_small = fabsf(k.w1) < 0.5f;
    k.b2 = (float)hp->beta2;
    k.c2 = (float)(1.0 - hp->beta2);
    k.bc2s = (float)bc2_sqrt;
    k.eps = (float)hp->eps;
    k.negstep = (float)-step_size;
    size_t soff = 0;
    for (size_t s = 0; s < o->nseg; s++) {
        const lm_optim_seg *sg = &o->seg[s];
        adamw_k ks = k;
        if (!(sg->decay && hp->weight_decay != 0.0))
            ks.wdmul = 1.0f;
        float *p = param + sg->offset;
        const float *g = grad + sg->offset;
        float *m = o->m + soff, *v = o->v + soff;
        size_t n = sg->len;
        if (n < PAR_MIN) {
            adamw_kernel(p, g, m, v, n, &ks);
        } else {
            long nchunk = (long)((n + CHUNK - 1) / CHUNK);
#pragma omp parallel for schedule(static)
            for (long c = 0; c < nchunk; c++) {
                size_t a = (size_t)c * CHUNK, len = n - a < CHUNK ? n - a : CHUNK;
                adamw_kernel(p + a, g + a, m + a, v + a, len, &ks);
            }
        }
        soff += n;
    }
}

/* ---- state ---- */

void lm_adamw_state_tensors(const lm_adamw *o, lm_adamw_wstate *s, lm_st_wtensor *t)
{
    memset(s, 0, sizeof *s);
    s->step = o->step;
    s->segs = lm_xmalloc(lm_xmul(o->nseg ? o->nseg : 1, 3 * sizeof(int64_t)));
    for (size_t i = 0; i < o->nseg; i++) {
        s->segs[3 * i] = (int64_t)o->seg[i].offset;
        s->segs[3 * i + 1] = (int64_t)o->seg[i].len;
        s->segs[3 * i + 2] = o->seg[i].decay ? 1 : 0;
    }
    s->hparams[0] = o->hp.beta1;
    s->hparams[1] = o->hp.beta2;
    s->hparams[2] = o->hp.eps;
    s->hparams[3] = o->hp.weight_decay;
    s->shape[0][0] = (int64_t)o->nstate;
    s->shape[1][0] = (int64_t)o->nstate;
    s->shape[2][0] = 1;
    s->shape[3][0] = (int64_t)o->nseg;
    s->shape[3][1] = 3;
    s->shape[4][0] = 4;
    t[0] = (lm_st_wtensor){"optim.exp_avg", LM_DT_F32, 1, s->shape[0], o->m};
    t[1] = (lm_st_wtensor){"optim.exp_avg_sq", LM_DT_F32, 1, s->shape[1], o->v};
    t[2] = (lm_st_wtensor){"optim.step", LM_DT_I64, 1, s->shape[2], &s->step};
    t[3] = (lm_st_wtensor){"optim.segments", LM_DT_I64, 2, s->shape[3], s->segs};
    t[4] = (lm_st_wtensor){"optim.hparams", LM_DT_F64, 1, s->shape[4], s->hparams};
}

void lm_adamw_wstate_free(lm_adamw_wstate *s)
{
    if (!s)
        return;
    free(s->segs);
    s->segs = NULL;
}

int lm_adamw_save(const lm_adamw *o, const char *path, char *err, size_t errlen)
{
    lm_adamw_wstate s;
    lm_st_wtensor t[LM_ADAMW_NTENSORS];
    lm_adamw_state_tensors(o, &s, t);
    int rc = lm_st_write(path, t, LM_ADAMW_NTENSORS, "{\"format\":\"lmkit-adamw-1\"}", err, errlen);
    lm_adamw_wstate_free(&s);
    return rc;
}

/* The tensor `name` with dtype dt and shape [d0] (d1 < 0) or [d0, d1]. */
static const lm_st_tensor *want(const lm_safetensors *st, const char *name, lm_dtype dt, int64_t d0,
                                int64_t d1, char *err, size_t errlen)
{
    const lm_st_tensor *t = lm_st_find(st, name);
    if (!t) {
        lm_seterr(err, errlen, "%s: no tensor \"%s\" (not an optimiser state file?)", st->path, name);
        return NULL;
    }
    int nd = d1 < 0 ? 1 : 2;
    if (t->dtype != dt || t->ndim != nd || t->shape[0] != d0 || (nd == 2 && t->shape[1] != d1)) {
        if (nd == 1)
            lm_seterr(err, errlen, "%s: tensor \"%s\": expected %s [%lld]", st->path, name, lm_dtype_name(dt),
                      (long long)d0);
        else
            lm_seterr(err, errlen, "%s: tensor \"%s\": expected %s [%lld, %lld]", st->path, name,
                      lm_dtype_name(dt), (long long)d0, (long long)d1);
        return NULL;
    }
    return t;
}

int lm_adamw_load_st(lm_adamw *o, const lm_safetensors *st, char *err, size_t errlen)
{
    const lm_st_tensor *tm, *tv, *ts, *tg, *th;
    int64_t ns = (int64_t)o->nstate;
    if (!(tm = want(st, "optim.exp_avg", LM_DT_F32, ns, -1, err, errlen)) ||
        !(tv = want(st, "optim.exp_avg_sq", LM_DT_F32, ns, -1, err, errlen)) ||
        !(ts = want(st, "optim.step", LM_DT_I64, 1, -1, err, errlen)) ||
        !(tg = want(st, "optim.segments", LM_DT_I64, (int64_t)o->nseg, 3, err, errlen)) ||
        !(th = want(st, "optim.hparams", LM_DT_F64, 4, -1, err, errlen)))
        return -1;
    for (size_t i = 0; i < o->nseg; i++) {
        int64_t r[3];
        memcpy(r, (const int64_t *)tg->data + 3 * i, sizeof r);
        if (r[0] != (int64_t)o->seg[i].offset || r[1] != (int64_t)o->seg[i].len ||
            r[2] != (o->seg[i].decay ? 1 : 0)) {
            lm_seterr(
                err, errlen,
                "%s: segment %zu is (offset %lld, length %lld, decay %lld), the model's is (%zu, %zu, %d)",
                st->path, i, (long long)r[0], (long long)r[1], (long long)r[2], o->seg[i].offset,
                o->seg[i].len, o->seg[i].decay ? 1 : 0);
            return -1;
        }
    }
    static const char *const hname[4] = {"beta1", "beta2", "eps", "weight_decay"};
    const double mine[4] = {o->hp.beta1, o->hp.beta2, o->hp.eps, o->hp.weight_decay};
    for (int i = 0; i < 4; i++) {
        double h;
        memcpy(&h, (const double *)th->data + i, sizeof h);
        if (h != mine[i]) {
            lm_seterr(err, errlen, "%s: %s is %.17g, the optimiser's is %.17g", st->path, hname[i], h,
                      mine[i]);
            return -1;
        }
    }
    int64_t step;
    memcpy(&step, ts->data, sizeof step);
    if (step < 0) {
        lm_seterr(err, errlen, "%s: optim.step is negative (%lld)", st->path, (long long)step);
        return -1;
    }
    if (o->nstate) {
        memcpy(o->m, tm->data, o->nstate * sizeof(float));
        memcpy(o->v, tv->data, o->nstate * sizeof(float));
    }
    o->step = step;
    return 0;
}

int lm_adamw_load(lm_adamw *o, const char *path, char *err, size_t errlen)
{
    lm_safetensors st;
    if (lm_st_open(&st, path, err, errlen) != 0)
        return -1;
    int rc = lm_adamw_load_st(o, &st, err, errlen);
    lm_st_close(&st);
    return rc;
}

/* ---- schedules ---- */

static double dmax1(int64_t x)
{
    return (double)(x > 1 ? x : 1);
}

double lm_sched_lambda(const lm_sched *s, int64_t step)
{
    switch (s->kind) {
    case LM_SCHED_CONSTANT: return 1.0;
    case LM_SCHED_CONSTANT_WARMUP:
        if (step < s->warmup)
            return (double)step / dmax1(s->warmup);
        return 1.0;
    case LM_SCHED_LINEAR: {
        if (step < s->warmup)
            return (double)step / dmax1(s->warmup);
        double r = (double)(s->total - step) / dmax1(s->total - s->warmup);
        return r > 0.0 ? r : 0.0;
    }
    case LM_SCHED_COSINE: {
        if (step < s->warmup)
            return (double)step / dmax1(s->warmup);
        double progress = (double)(step - s->warmup) / dmax1(s->total - s->warmup);
        double r = 0.5 * (1.0 + cos(M_PI * s->num_cycles * 2.0 * progress));
        return r > 0.0 ? r : 0.0;
    }
    }
    return 1.0;
}

double lm_sched_lr(const lm_sched *s, int64_t k)
{
    return s->lr * lm_sched_lambda(s, k - 1);
}

/* ---- gradients ---- */

/* Sum of squares of x[n] in double over 8 interleaved partial sums (so
 * that the loop vectorises), added in a fixed order. */
static double sumsq_block(const float *x, size_t n)
{
    double acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += (double)x[i + j] * (double)x[i + j];
    for (; i < n; i++)
        acc[i % 8] += (double)x[i] * (double)x[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* Sum of squares of x[n] in double, in fixed CHUNK-element blocks added in
 * order: the same value for any number of threads. */
static double sumsq(const float *x, size_t n)
{
    if (n <= CHUNK)
        return sumsq_block(x, n);
    size_t nchunk = (n + CHUNK - 1) / CHUNK;
    double *part = lm_xmalloc(lm_xmul(nchunk, sizeof *part));
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (long c = 0; c < (long)nchunk; c++) {
        size_t a = (size_t)c * CHUNK;
        part[c] = sumsq_block(x + a, n - a < CHUNK ? n - a : CHUNK);
    }
    double acc = 0.0;
    for (size_t c = 0; c < nchunk; c++)
        acc += part[c];
    free(part);
    return acc;
}

float lm_grad_norm(const float *grad, const lm_optim_seg *seg, size_t nseg)
{
    /* torch: a float32 norm per tensor, then the norm of those norms */
    double acc = 0.0;
    for (size_t s = 0; s < nseg; s++) {
        float ns = (float)sqrt(sumsq(grad + seg[s].offset, seg[s].len));
        acc += (double)ns * (double)ns;
    }
    return (float)sqrt(acc);
}

float lm_clip_grad_norm(float *grad, const lm_optim_seg *seg, size_t nseg, double max_norm)
{
    float total = lm_grad_norm(grad, seg, nseg);
    /* clip_coef = max_norm / (total_norm + 1e-6), clamped at 1, in float32;
     * a Python number divided by a tensor is Tensor.__rtruediv__, which
     * torch computes as reciprocal() * number */
    float coef = (1.0f / (total + (float)1e-6)) * (float)max_norm;
    if (!(coef < 1.0f) && !isnan(coef))
        return total; /* multiplying by 1.0f would change nothing */
    for (size_t s = 0; s < nseg; s++)
        lm_grad_scale(grad + seg[s].offset, seg[s].len, coef);
    return total;
}

void lm_grad_zero(float *g, size_t n)
{
    if (n)
        memset(g, 0, n * sizeof *g);
}

void lm_grad_scale(float *g, size_t n, float s)
{
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++)
        g[i] *= s;
}

void lm_grad_accumulate(float *dst, const float *src, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}
