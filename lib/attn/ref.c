/* ref.c - dtype conversions, layout offsets, the fp64 reference, the naive
 * same-precision reference and the error measurement of FlashAttention's 2x
 * rule (see attn.h; the rule is the one of Dao-AILab/flash-attention's
 * tests/test_flash_attn.py).  No partitioning here: every row is computed
 * start to end by one thread. */
#include "attn/attn.h"
#include "core/diag.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

static const char *const alg_names[ATTN_N_ALGS] = {"naive", "nosplit", "splitkv", "lean", "lean-combine"};

const char *attn_alg_name(attn_alg a)
{
    return (unsigned)a < ATTN_N_ALGS ? alg_names[a] : "?";
}

int attn_alg_parse(const char *s, attn_alg *out)
{
    for (int i = 0; i < ATTN_N_ALGS; i++)
        if (strcmp(s, alg_names[i]) == 0) {
            *out = (attn_alg)i;
            return 0;
        }
    return -1;
}

const char *attn_dtype_name(attn_dtype t)
{
    return t == ATTN_F32 ? "fp32" : t == ATTN_BF16 ? "bf16" : t == ATTN_F16 ? "fp16" : "?";
}

int attn_dtype_parse(const char *s, attn_dtype *out)
{
    if (!strcmp(s, "fp32") || !strcmp(s, "f32"))
        *out = ATTN_F32;
    else if (!strcmp(s, "bf16"))
        *out = ATTN_BF16;
    else if (!strcmp(s, "fp16") || !strcmp(s, "f16"))
        *out = ATTN_F16;
    else
        return -1;
    return 0;
}

const char *attn_layout_name(attn_layout l)
{
    return l == ATTN_NHD ? "NHD" : "HND";
}

size_t attn_dtype_size(attn_dtype t)
{
    return t == ATTN_F32 ? 4 : 2;
}

uint16_t attn_f32_to_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float attn_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

uint16_t attn_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or NaN */
        return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
    if (ax >= 0x477ff000u) /* >= 65520 rounds to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) { /* below 2^-14: half subnormal, unit 2^-24 */
        float a;
        memcpy(&a, &ax, 4);
        return (uint16_t)(sign | (uint32_t)lrintf(a * 16777216.0f));
    }
    uint32_t h = ((((ax >> 23) - 127u + 15u)) << 10) | ((ax & 0x7fffffu) >> 13);
    uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++;
    return (uint16_t)(sign | h);
}

float attn_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    uint32_t u;
    if (e == 0) {
        float x = ldexpf((float)m, -24);
        return sign ? -x : x;
    }
    if (e == 31)
        u = sign | 0x7f800000u | (m << 13);
    else
        u = sign | ((e - 15u + 127u) << 23) | (m << 13);
    float x;
    memcpy(&x, &u, 4);
    return x;
}

float attn_load(const void *p, attn_dtype t, size_t i)
{
    if (t == ATTN_F32)
        return ((const float *)p)[i];
    uint16_t h = ((const uint16_t *)p)[i];
    return t == ATTN_BF16 ? attn_bf16_to_f32(h) : attn_f16_to_f32(h);
}

void attn_store(void *p, attn_dtype t, size_t i, float x)
{
    if (t == ATTN_F32)
        ((float *)p)[i] = x;
    else if (t == ATTN_BF16)
        ((uint16_t *)p)[i] = attn_f32_to_bf16(x);
    else
        ((uint16_t *)p)[i] = attn_f32_to_f16(x);
}

float attn_round(attn_dtype t, float x)
{
    if (t == ATTN_BF16)
        return attn_bf16_to_f32(attn_f32_to_bf16(x));
    if (t == ATTN_F16)
        return attn_f16_to_f32(attn_f32_to_f16(x));
    return x;
}

size_t attn_q_elems(const attn_problem *p)
{
    return (size_t)p->dims.B * (size_t)p->dims.H_q * (size_t)p->dims.D;
}

int64_t attn_len_sum(const attn_problem *p)
{
    int64_t s = 0;
    for (int b = 0; b < p->dims.B; b++)
        s += p->lens[b];
    return s;
}

int attn_len_max(const attn_problem *p)
{
    int m = 0;
    for (int b = 0; b < p->dims.B; b++)
        if (p->lens[b] > m)
            m = p->lens[b];
    return m;
}

size_t attn_kv_elems(const attn_problem *p)
{
    if (p->kv_cap > 0)
        return (size_t)p->dims.B * (size_t)p->dims.H_kv * (size_t)p->dims.D * (size_t)p->kv_cap;
    return (size_t)p->dims.H_kv * (size_t)p->dims.D * (size_t)attn_len_sum(p);
}

void attn_seq_base(const attn_problem *p, size_t *seq_base)
{
    size_t acc = 0, per_tok = (size_t)p->dims.H_kv * (size_t)p->dims.D;
    for (int b = 0; b < p->dims.B; b++) {
        seq_base[b] = acc;
        acc += per_tok * (size_t)(p->kv_cap > 0 ? p->kv_cap : p->lens[b]);
    }
}

size_t attn_kv_offset(const attn_problem *p, const size_t *seq_base, int b, int h, int64_t j)
{
    size_t D = (size_t)p->dims.D;
    if (p->layout == ATTN_NHD)
        return seq_base[b] + ((size_t)j * (size_t)p->dims.H_kv + (size_t)h) * D;
    size_t L = (size_t)(p->kv_cap > 0 ? p->kv_cap : p->lens[b]);
    return seq_base[b] + ((size_t)h * L + (size_t)j) * D;
}

int attn_problem_check(const attn_problem *p, char *err, size_t errlen)
{
    if (!p->lens) {
        lm_seterr(err, errlen, "no sequence lengths given");
        return -1;
    }
    if (attn_dims_check(&p->dims, p->lens, err, errlen))
        return -1;
    if (p->kv_cap < 0) {
        lm_seterr(err, errlen, "negative KV cache capacity %lld", (long long)p->kv_cap);
        return -1;
    }
    for (int b = 0; p->kv_cap > 0 && b < p->dims.B; b++)
        if (p->lens[b] > p->kv_cap) {
            lm_seterr(err, errlen, "sequence %d holds %d tokens, more than the KV cache's %lld", b,
                      p->lens[b], (long long)p->kv_cap);
            return -1;
        }
    if (p->dtype != ATTN_F32 && p->dtype != ATTN_BF16 && p->dtype != ATTN_F16) {
        lm_seterr(err, errlen, "unknown storage type %d", (int)p->dtype);
        return -1;
    }
    return 0;
}

int attn_ref64(const attn_problem *p, const void *q, const void *k, const void *v, double *o64, double *lse64,
               int threads, char *err, size_t errlen)
{
    if (attn_problem_check(p, err, errlen))
        return -1;
    const int B = p->dims.B, Hq = p->dims.H_q, D = p->dims.D, g = Hq / p->dims.H_kv;
    const double scale = p->scale > 0 ? (double)p->scale : 1.0 / sqrt((double)D);
    size_t *base = lm_xmalloc(lm_xmul((size_t)B, sizeof *base));
    int T = threads > 0 ? threads : omp_get_max_threads();
    size_t Lmax = (size_t)attn_len_max(p);
    double *work = lm_xmalloc(lm_xmul(lm_xmul((size_t)T, Lmax + 2 * (size_t)D), sizeof *work));
    attn_seq_base(p, base);
    long rows = (long)B * Hq;
#pragma omp parallel for schedule(dynamic, 1) num_threads(T)
    for (long row = 0; row < rows; row++) {
        int b = (int)(row / Hq), hq = (int)(row % Hq), h = hq / g;
        double *x = work + (size_t)omp_get_thread_num() * (Lmax + 2 * (size_t)D);
        double *qd = x + Lmax, *acc = qd + D;
        int64_t L = p->lens[b];
        for (int d = 0; d < D; d++) {
            qd[d] = attn_load(q, p->dtype, (size_t)row * D + d);
            acc[d] = 0;
        }
        double mx = -INFINITY;
        for (int64_t j = 0; j < L; j++) {
            size_t off = attn_kv_offset(p, base, b, h, j);
            double s = 0;
            for (int d = 0; d < D; d++)
                s += qd[d] * (double)attn_load(k, p->dtype, off + d);
            x[j] = s * scale;
            if (x[j] > mx)
                mx = x[j];
        }
        double l = 0;
        for (int64_t j = 0; j < L; j++) {
            double e = exp(x[j] - mx);
            l += e;
            size_t off = attn_kv_offset(p, base, b, h, j);
            for (int d = 0; d < D; d++)
                acc[d] += e * (double)attn_load(v, p->dtype, off + d);
        }
        for (int d = 0; d < D; d++)
            o64[(size_t)row * D + d] = L > 0 ? acc[d] / l : 0.0;
        if (lse64)
            lse64[row] = L > 0 ? mx + log(l) : -INFINITY;
    }
    free(work);
    free(base);
    return 0;
}

int attn_naive_same(const attn_problem *p, const void *q, const void *k, const void *v, void *o, float *lse,
                    int threads, char *err, size_t errlen)
{
    if (attn_problem_check(p, err, errlen))
        return -1;
    const int B = p->dims.B, Hq = p->dims.H_q, D = p->dims.D, g = Hq / p->dims.H_kv;
    const attn_dtype t = p->dtype;
    const float scale = p->scale > 0 ? p->scale : 1.0f / sqrtf((float)D);
    size_t *base = lm_xmalloc(lm_xmul((size_t)B, sizeof *base));
    int T = threads > 0 ? threads : omp_get_max_threads();
    size_t Lmax = (size_t)attn_len_max(p);
    float *work = lm_xmalloc(lm_xmul(lm_xmul((size_t)T, Lmax + 2 * (size_t)D), sizeof *work));
    attn_seq_base(p, base);
    long rows = (long)B * Hq;
#pragma omp parallel for schedule(dynamic, 1) num_threads(T)
    for (long row = 0; row < rows; row++) {
        int b = (int)(row / Hq), hq = (int)(row % Hq), h = hq / g;
        float *x = work + (size_t)omp_get_thread_num() * (Lmax + 2 * (size_t)D);
        float *qf = x + Lmax, *acc = qf + D;
        int64_t L = p->lens[b];
        for (int d = 0; d < D; d++) {
            qf[d] = attn_load(q, t, (size_t)row * D + d);
            acc[d] = 0;
        }
        float mx = -INFINITY;
        for (int64_t j = 0; j < L; j++) {
            size_t off = attn_kv_offset(p, base, b, h, j);
            float s = 0;
            for (int d = 0; d < D; d++)
                s += qf[d] * attn_load(k, t, off + d);
            x[j] = attn_round(t, attn_round(t, s) * scale);
            if (x[j] > mx)
                mx = x[j];
        }
        float l = 0;
        for (int64_t j = 0; j < L; j++) {
            x[j] = expf(x[j] - mx);
            l += x[j];
        }
        for (int64_t j = 0; j < L; j++) {
            float pj = attn_round(t, x[j] / l);
            size_t off = attn_kv_offset(p, base, b, h, j);
            for (int d = 0; d < D; d++)
                acc[d] += pj * attn_load(v, t, off + d);
        }
        for (int d = 0; d < D; d++)
            attn_store(o, t, (size_t)row * D + d, acc[d]);
        if (lse)
            lse[row] = L > 0 ? mx + logf(l) : -INFINITY;
    }
    free(work);
    free(base);
    return 0;
}

double attn_max_abs_err(const void *o, attn_dtype t, const double *ref, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double x = attn_load(o, t, i);
        if (!isfinite(x))
            return INFINITY;
        double e = fabs(x - ref[i]);
        if (e > m)
            m = e;
    }
    return m;
}

int attn_err_ok(double err, double naive_err, double atol)
{
    return err <= 2.0 * naive_err + atol;
}

double attn_default_atol(attn_dtype t)
{
    return t == ATTN_F32 ? 1e-6 : 1e-4;
}

void attn_measure(const attn_problem *p, const void *o, const float *lse, const double *ref_o,
                  const double *ref_lse, const void *naive_o, double atol, attn_accuracy *acc)
{
    size_t n = attn_q_elems(p);
    acc->nonfinite = 0;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(attn_load(o, p->dtype, i)))
            acc->nonfinite++;
    acc->max_err = attn_max_abs_err(o, p->dtype, ref_o, n);
    acc->naive_err = naive_o ? attn_max_abs_err(naive_o, p->dtype, ref_o, n) : 0.0;
    acc->ratio = acc->naive_err > 0 ? acc->max_err / acc->naive_err : acc->max_err > 0 ? INFINITY : 0.0;
    acc->lse_rel_err = 0;
    if (lse && ref_lse) {
        int Hq = p->dims.H_q;
        for (int b = 0; b < p->dims.B; b++) {
            if (p->lens[b] == 0)
                continue;
            for (int h = 0; h < Hq; h++) {
                double r = ref_lse[(size_t)b * Hq + h];
                double e = fabs((double)lse[(size_t)b * Hq + h] - r) / fmax(1.0, fabs(r));
                if (!(e <= acc->lse_rel_err)) /* also catches NaN */
                    acc->lse_rel_err = isnan(e) ? INFINITY : e;
            }
        }
    }
    acc->ok = acc->nonfinite == 0 && attn_err_ok(acc->max_err, acc->naive_err, atol);
}
