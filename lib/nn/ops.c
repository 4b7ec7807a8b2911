/* ops.c - CPU forward ops of the encoder; see ops.h.  The math follows
 * transformers' modeling_bert.py (BertEmbeddings, BertSelfAttention,
 * BertSelfOutput, BertIntermediate, BertOutput) in fp32.
 */
#include "nn/ops.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "nn/vmath.h"

/* Threads: one OpenMP team does everything.  Each matrix product is split
 * into one block of rows (or of output columns, when there are few rows) per
 * thread, and every thread calls a single-threaded OpenBLAS sgemm on its
 * block, so OpenBLAS's own thread pool never competes with OpenMP's for the
 * cores (on a 2-core machine the two pools fighting cost up to 20 % of a
 * forward).  Loops of fewer than PAR_MIN scalar operations stay on the
 * calling thread: a region costs more than the work. */
#ifndef PAR_MIN
#define PAR_MIN (1L << 15)
#endif
#define PAR(work) ((long)(work) >= PAR_MIN)

/* OpenBLAS runs single-threaded inside our threads (see above). */
static void blas_one_thread(void)
{
    if (openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
}

void nn_embeddings_forward(float *out, const int32_t *ids, const int32_t *pos, const float *wte,
                           const float *wpe, const float *wtt, int B, int T, int C)
{
    long BT = (long)B * T;
#pragma omp parallel for schedule(static) if (PAR(BT * C))
    for (long i = 0; i < BT; i++) {
        float *o = out + (size_t)i * C;
        const float *e = wte + (size_t)ids[i] * C, *p = wpe + (size_t)pos[i] * C;
#pragma omp simd
        for (int c = 0; c < C; c++)
            o[c] = e[c] + wtt[c] + p[c]; /* torch order: (word + type) + position */
    }
}

/* one row of nn_layernorm_forward */
VM_CLONES static void layernorm_row(float *o, const float *x, const float *r, const float *w, const float *b,
                                    int C, float eps)
{
    if (r) { /* o = x + r in float, as torch adds before the norm */
#pragma omp simd
        for (int c = 0; c < C; c++)
            o[c] = x[c] + r[c];
        x = o;
    }
    double m = 0, v = 0;
#pragma omp simd reduction(+ : m)
    for (int c = 0; c < C; c++)
        m += x[c];
    m /= C;
#pragma omp simd reduction(+ : v)
    for (int c = 0; c < C; c++) {
        double d = x[c] - m;
        v += d * d;
    }
    v /= C;
    float mean = (float)m, rstd = (float)(1.0 / sqrt(v + eps));
#pragma omp simd
    for (int c = 0; c < C; c++)
        o[c] = (x[c] - mean) * rstd * w[c] + b[c];
}

void nn_layernorm_forward(float *out, const float *inp, const float *res, const float *w, const float *b,
                          int B, int T, int C, float eps)
{
    long BT = (long)B * T;
#pragma omp parallel for schedule(static) if (PAR(BT * C * 4))
    for (long i = 0; i < BT; i++)
        layernorm_row(out + (size_t)i * C, inp + (size_t)i * C, res ? res + (size_t)i * C : NULL, w, b, C,
                      eps);
}

void nn_matmul_forward(float *out, const float *inp, const float *w, const float *bias, int B, int T, int C,
                       int OC)
{
    long BT = (long)B * T;
    blas_one_thread();
    /* out[BT,OC] = inp[BT,C] . w[OC,C]^T (+ bias), one block per thread: rows
     * when there are enough of them, else output columns (each thread then
     * reads only its part of w) */
#pragma omp parallel if (PAR(BT * C * OC / 64))
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        long r0 = 0, r1 = BT, c0 = 0, c1 = OC;
        if (BT >= 32L * nt) {
            r0 = BT * id / nt;
            r1 = BT * (id + 1) / nt;
        } else {
            c0 = (long)OC * id / nt;
            c1 = (long)OC * (id + 1) / nt;
        }
        if (r1 > r0 && c1 > c0) {
            float beta = 0.0f, *o = out + (size_t)r0 * OC + c0;
            if (bias) {
                for (long i = r0; i < r1; i++)
                    memcpy(out + (size_t)i * OC + c0, bias + c0, (size_t)(c1 - c0) * sizeof *out);
                beta = 1.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(r1 - r0), (int)(c1 - c0), C, 1.0f,
                        inp + (size_t)r0 * C, C, w + (size_t)c0 * C, C, beta, o, OC);
        }
    }
}

void nn_matmul_forward_naive(float *out, const float *inp, const float *w, const float *bias, int B, int T,
                             int C, int OC)
{
    long BT = (long)B * T;
#pragma omp parallel for schedule(static) if (PAR(BT * C * OC))
    for (long i = 0; i < BT; i++) {
        const float *x = inp + (size_t)i * C;
        for (int o = 0; o < OC; o++) {
            const float *wr = w + (size_t)o * C;
            float s = bias ? bias[o] : 0.0f;
            for (int c = 0; c < C; c++)
                s += x[c] * wr[c];
            out[(size_t)i * OC + o] = s;
        }
    }
}

VM_CLONES void nn_masked_softmax_row(float *row, const float *maskadd, int n)
{
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int j = 0; j < n; j++) {
        float v = row[j] + maskadd[j];
        row[j] = v;
        mx = v > mx ? v : mx;
    }
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < n; j++) {
        float e = vm_expf(row[j] - mx);
        row[j] = e;
        s += e;
    }
    float inv = 1.0f / s;
#pragma omp simd
    for (int j = 0; j < n; j++)
        row[j] *= inv;
}

/* Query rows per block of nn_attention_forward: a block's scores
 * [QBLOCK, T] stay in the core's L2 cache between the two products and the
 * softmax (a whole [T, T] matrix of 512 keys is 1 MB). */
#ifndef QBLOCK
#define QBLOCK 256
#endif

void nn_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                          const float *maskadd, int B, int T, int C, int NH)
{
    int D = C / NH;
    float scale = 1.0f / sqrtf((float)D);
    long qblocks = (T + QBLOCK - 1) / QBLOCK, work = (long)B * NH * qblocks;
    int nt = omp_get_max_threads();
    if (nt > NH) /* att holds NH score matrices [T,T]: one [QBLOCK,T] block per thread */
        nt = NH;
    blas_one_thread();
#pragma omp parallel num_threads(nt) if (PAR((long)T * T * D))
    {
        float *a = att + (size_t)omp_get_thread_num() * T * T;
#pragma omp for schedule(dynamic, 1)
        for (long i = 0; i < work; i++) {
            int b = (int)(i / (NH * qblocks)), h = (int)(i / qblocks % NH);
            int t0 = (int)(i % qblocks) * QBLOCK, n = T - t0 < QBLOCK ? T - t0 : QBLOCK;
            size_t off = (size_t)b * T * C + (size_t)h * D, qo = off + (size_t)t0 * C;
            /* a [n,T] = q_h[t0:t0+n] [n,D] . k_h [T,D]^T * scale */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, T, D, scale, q + qo, C, k + off, C, 0.0f,
                        a, T);
            for (int r = 0; r < n; r++)
                nn_masked_softmax_row(a + (size_t)r * T, maskadd + (size_t)b * T, T);
            /* out_h[t0:t0+n] [n,D] = a [n,T] . v_h [T,D] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, D, T, 1.0f, a, T, v + off, C, 0.0f,
                        out + qo, C);
        }
    }
}

void nn_attention_forward_naive(float *out, float *att, const float *q, const float *k, const float *v,
                                const float *maskadd, int B, int T, int C, int NH)
{
    int D = C / NH;
    float scale = 1.0f / sqrtf((float)D);
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * T * C;
        long rows = (long)NH * T;
#pragma omp parallel for schedule(static) if (PAR(rows * T * D * 2))
        for (long r = 0; r < rows; r++) {
            int h = (int)(r / T), t = (int)(r % T);
            const float *qt = q + off + (size_t)t * C + h * D;
            float *a = att + (size_t)r * T;
            for (int j = 0; j < T; j++) {
                const float *kj = k + off + (size_t)j * C + h * D;
                float s = 0;
                for (int d = 0; d < D; d++)
                    s += qt[d] * kj[d];
                a[j] = s * scale;
            }
            nn_masked_softmax_row(a, maskadd + (size_t)b * T, T);
            float *o = out + off + (size_t)t * C + h * D;
            for (int d = 0; d < D; d++)
                o[d] = 0;
            for (int j = 0; j < T; j++) {
                const float *vj = v + off + (size_t)j * C + h * D;
                for (int d = 0; d < D; d++)
                    o[d] += a[j] * vj[d];
            }
        }
    }
}

VM_CLONES static void gelu_span(float *out, const float *inp, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        out[i] = vm_gelu(inp[i]);
}

/* 0.5 x (1 + tanh u) = x / (1 + e^(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3) */
VM_CLONES static void gelu_tanh_span(float *out, const float *inp, size_t n)
{
    const float s = 0.7978845608028654f; /* sqrt(2/pi) */
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = x / (1.0f + vm_expf(-2.0f * s * (x + 0.044715f * x * x * x)));
    }
}

/* elementwise spans of SPAN floats, split over the threads */
#define SPAN 4096

void nn_gelu_forward(float *out, const float *inp, size_t N)
{
    long spans = (long)((N + SPAN - 1) / SPAN);
#pragma omp parallel for schedule(static) if (PAR(N * 16))
    for (long i = 0; i < spans; i++) {
        size_t a = (size_t)i * SPAN;
        gelu_span(out + a, inp + a, N - a < SPAN ? N - a : SPAN);
    }
}

void nn_gelu_tanh_forward(float *out, const float *inp, size_t N)
{
    long spans = (long)((N + SPAN - 1) / SPAN);
#pragma omp parallel for schedule(static) if (PAR(N * 16))
    for (long i = 0; i < spans; i++) {
        size_t a = (size_t)i * SPAN;
        gelu_tanh_span(out + a, inp + a, N - a < SPAN ? N - a : SPAN);
    }
}

void nn_softmax_forward(float *probs, const float *logits, int N, int V)
{
#pragma omp parallel for schedule(static) if (PAR((long)N * V * 8))
    for (int i = 0; i < N; i++) {
        const float *l = logits + (size_t)i * V;
        float *p = probs + (size_t)i * V, mx = -INFINITY, s = 0;
        for (int j = 0; j < V; j++)
            if (l[j] > mx)
                mx = l[j];
        for (int j = 0; j < V; j++) {
            p[j] = expf(l[j] - mx);
            s += p[j];
        }
        for (int j = 0; j < V; j++)
            p[j] /= s;
    }
}
