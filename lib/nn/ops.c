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

/* When to split an elementwise loop over OpenMP threads.  Loops smaller
 * than PAR_MIN scalar operations run on the calling thread: a region costs
 * more than the work.  With fewer than PAR_MIN_THREADS threads every loop runs
 * on the calling thread: OpenBLAS's own threads already fill the cores
 * during the matmuls, and idle OpenMP threads spin after each region while
 * OpenBLAS wants the same cores.  On a shared 2-core machine, splitting
 * softmax and GELU over OpenMP made a BERT-base forward of 8 x 512 tokens
 * take 18-20 s instead of 16.6 s (OMP_WAIT_POLICY=passive or not). */
#ifndef PAR_MIN
#define PAR_MIN (1L << 22)
#endif
#ifndef PAR_MIN_THREADS
#define PAR_MIN_THREADS 4
#endif
#define PAR(work) ((long)(work) >= PAR_MIN && omp_get_max_threads() >= PAR_MIN_THREADS)

void nn_embeddings_forward(float *out, const int32_t *ids, const int32_t *pos, const float *wte,
                           const float *wpe, const float *wtt, int B, int T, int C)
{
    long BT = (long)B * T;
#pragma omp parallel for schedule(static) if (PAR(BT * C))
    for (long i = 0; i < BT; i++) {
        float *o = out + (size_t)i * C;
        const float *e = wte + (size_t)ids[i] * C, *p = wpe + (size_t)pos[i] * C;
        for (int c = 0; c < C; c++)
            o[c] = e[c] + wtt[c] + p[c]; /* torch order: (word + type) + position */
    }
}

void nn_layernorm_forward(float *out, const float *inp, const float *res, const float *w,
                          const float *b, int B, int T, int C, float eps)
{
    long BT = (long)B * T;
#pragma omp parallel for schedule(static) if (PAR(BT * C * 4))
    for (long i = 0; i < BT; i++) {
        const float *x = inp + (size_t)i * C, *r = res ? res + (size_t)i * C : NULL;
        float *o = out + (size_t)i * C;
        double m = 0, v = 0;
        for (int c = 0; c < C; c++)
            m += r ? (float)(x[c] + r[c]) : x[c];
        m /= C;
        for (int c = 0; c < C; c++) {
            double d = (r ? (float)(x[c] + r[c]) : x[c]) - m;
            v += d * d;
        }
        v /= C;
        float mean = (float)m, rstd = (float)(1.0 / sqrt(v + eps));
        for (int c = 0; c < C; c++) {
            float s = r ? x[c] + r[c] : x[c];
            o[c] = (s - mean) * rstd * w[c] + b[c];
        }
    }
}

void nn_matmul_forward(float *out, const float *inp, const float *w, const float *bias, int B,
                       int T, int C, int OC)
{
    long BT = (long)B * T;
    float beta = 0.0f;
    if (bias) {
#pragma omp parallel for schedule(static) if (PAR(BT * OC))
        for (long i = 0; i < BT; i++)
            memcpy(out + (size_t)i * OC, bias, (size_t)OC * sizeof *out);
        beta = 1.0f;
    }
    /* out[BT,OC] = inp[BT,C] . w[OC,C]^T (+ out) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)BT, OC, C, 1.0f, inp, C, w, C, beta,
                out, OC);
}

void nn_matmul_forward_naive(float *out, const float *inp, const float *w, const float *bias,
                             int B, int T, int C, int OC)
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

/* row[n] = softmax(row + maskadd) in place. */
static void masked_softmax_row(float *row, const float *maskadd, int n)
{
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) {
        row[j] += maskadd[j];
        if (row[j] > mx)
            mx = row[j];
    }
    float s = 0;
    for (int j = 0; j < n; j++) {
        row[j] = expf(row[j] - mx);
        s += row[j];
    }
    float inv = 1.0f / s;
    for (int j = 0; j < n; j++)
        row[j] *= inv;
}

void nn_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                          const float *maskadd, int B, int T, int C, int NH)
{
    int D = C / NH;
    float scale = 1.0f / sqrtf((float)D);
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * T * C;
        /* att[h] [T,T] = q_h [T,D] . k_h[T,D]^T * scale */
        for (int h = 0; h < NH; h++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, scale, q + off + h * D,
                        C, k + off + h * D, C, 0.0f, att + (size_t)h * T * T, T);
        long rows = (long)NH * T;
#pragma omp parallel for schedule(static) if (PAR(rows * T * 8))
        for (long r = 0; r < rows; r++)
            masked_softmax_row(att + (size_t)r * T, maskadd + (size_t)b * T, T);
        /* out_h [T,D] = att[h] [T,T] . v_h [T,D] */
        for (int h = 0; h < NH; h++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f,
                        att + (size_t)h * T * T, T, v + off + h * D, C, 0.0f, out + off + h * D, C);
    }
}

void nn_attention_forward_naive(float *out, float *att, const float *q, const float *k,
                                const float *v, const float *maskadd, int B, int T, int C, int NH)
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
            masked_softmax_row(a, maskadd + (size_t)b * T, T);
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

void nn_gelu_forward(float *out, const float *inp, size_t N)
{
#pragma omp parallel for schedule(static) if (PAR(N * 16))
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
    }
}

void nn_gelu_tanh_forward(float *out, const float *inp, size_t N)
{
    const float s = 0.7978845608028654f; /* sqrt(2/pi) */
#pragma omp parallel for schedule(static) if (PAR(N * 16))
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanhf(s * (x + 0.044715f * x * x * x)));
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
