/* train_cuda.cu - CUDA C ops of encoder training (API and contracts in
 * train_cuda.h): dropout with the CPU's masks, LayerNorm forward keeping
 * its statistics and its backward, the masked attention forward keeping
 * the probabilities and its backward, the Linear backward, GELU's
 * derivative and the embeddings' backward.  cuBLAS (fp32) does every
 * matrix product.  Each op follows its twin in lib/nn/train.c; the
 * reductions over a row (LayerNorm statistics, softmax sums) run in a
 * different order, in double where the CPU uses double.
 *
 * Written in C style: plain functions and structs, no templates.
 *
 * Row-major products through column-major cuBLAS (see encoder_cuda.cu): a
 * row-major C[M,N] = op(A)[M,K] . op(B)[K,N] is the column-major
 * C' = op(B)' . op(A)', so rm_gemm passes B before A with M and N swapped
 * and the same transpose flags.
 */
#include "train_cuda.h"

#include "core/rng_core.h"
#include "cuda_common.h"

#define THREADS 256

/* ---- copies ---- */

extern "C" int trc_copy(enc_cuda *c, void *dst, const void *src, size_t bytes, char *err, size_t errlen)
{
    return cuda_ok(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c->stream), "device copy", err,
                   errlen);
}

extern "C" int trc_zero(enc_cuda *c, void *dst, size_t bytes, char *err, size_t errlen)
{
    return cuda_ok(cudaMemsetAsync(dst, 0, bytes, c->stream), "device memset", err, errlen);
}

/* ---- row-major products ---- */

static int rm_gemm(enc_cuda *c, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc, char *err, size_t errlen)
{
    cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    return blas_ok(cublasSgemm(c->blas, ob, oa, N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc),
                   "cublasSgemm", err, errlen);
}

/* the same over `count` matrices, sa, sb, sc floats apart */
static int rm_gemm_batched(enc_cuda *c, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                           int lda, long long sa, const float *B, int ldb, long long sb, float beta, float *C,
                           int ldc, long long sc, int count, char *err, size_t errlen)
{
    cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    return blas_ok(cublasSgemmStridedBatched(c->blas, ob, oa, N, M, K, &alpha, B, ldb, sb, A, lda, sa, &beta,
                                             C, ldc, sc, count),
                   "cublasSgemmStridedBatched", err, errlen);
}

/* ---- dropout ---- */

/* one thread per row: the stream is sequential along the row */
__global__ void dropout_kernel(float *y, const float *x, size_t N, int n, uint64_t thr, float scale,
                               uint64_t key, uint64_t site, uint64_t row0)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < N; i += (size_t)gridDim.x * blockDim.x)
        lm_dropout_row(y + i * n, x + i * n, n, thr, scale, key, site, row0 + i);
}

extern "C" int trc_dropout(enc_cuda *c, float *y, const float *x, size_t N, int n, float p, uint64_t key,
                           int site, uint64_t row0, char *err, size_t errlen)
{
    uint64_t thr = (uint64_t)((double)p * 4294967296.0);
    float scale = 1.0f / (1.0f - p);
    dropout_kernel<<<grid_for(N, 128), 128, 0, c->stream>>>(y, x, N, n, thr, scale, key, (uint64_t)site,
                                                            row0);
    return launched("dropout", err, errlen);
}

/* ---- block reduction in double ---- */

static __device__ double block_sum_d(double v, double *sh)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0)
        sh[wid] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* ---- LayerNorm ---- */

/* one block per row; as layernorm_fwd: the sum x = a + r in float, mean and
 * variance in double, mean and 1/std rounded to float */
__global__ void ln_fwd_kernel(float *out, float *res, float *stat, const float *a, const float *r,
                              const float *w, const float *b, int C, float eps)
{
    __shared__ double sh[32];
    size_t row = blockIdx.x;
    float *x = res + row * C, *o = out + row * C;
    const float *ai = a + row * C, *ri = r ? r + row * C : NULL;
    double s = 0;
    for (int ch = threadIdx.x; ch < C; ch += blockDim.x) {
        float v = ri ? ai[ch] + ri[ch] : ai[ch];
        x[ch] = v;
        s += v;
    }
    double m = block_sum_d(s, sh) / C;
    double q = 0;
    for (int ch = threadIdx.x; ch < C; ch += blockDim.x)
        q += (x[ch] - m) * (x[ch] - m);
    double var = block_sum_d(q, sh) / C;
    float mean = (float)m, rstd = (float)(1.0 / sqrt(var + eps));
    for (int ch = threadIdx.x; ch < C; ch += blockDim.x)
        o[ch] = (x[ch] - mean) * rstd * w[ch] + b[ch];
    if (threadIdx.x == 0) {
        stat[2 * row] = mean;
        stat[2 * row + 1] = rstd;
    }
}

extern "C" int trc_layernorm_fwd(enc_cuda *c, float *out, float *res, float *stat, const float *a,
                                 const float *r, const float *w, const float *b, size_t N, int C, float eps,
                                 char *err, size_t errlen)
{
    ln_fwd_kernel<<<(unsigned)N, THREADS, 0, c->stream>>>(out, res, stat, a, r, w, b, C, eps);
    return launched("layernorm forward", err, errlen);
}

__global__ void ln_bwd_dx_kernel(float *dres, const float *dout, const float *res, const float *stat,
                                 const float *w, int C)
{
    __shared__ double sh[32];
    size_t row = blockIdx.x;
    const float *dy = dout + row * C, *x = res + row * C;
    float *dx = dres + row * C, mean = stat[2 * row], rstd = stat[2 * row + 1];
    double mdn = 0, mdnx = 0;
    for (int ch = threadIdx.x; ch < C; ch += blockDim.x) {
        float dn = dy[ch] * w[ch], xh = (x[ch] - mean) * rstd;
        mdn += dn;
        mdnx += dn * xh;
    }
    mdn = block_sum_d(mdn, sh);
    mdnx = block_sum_d(mdnx, sh);
    float a = (float)(mdn / C), bb = (float)(mdnx / C);
    for (int ch = threadIdx.x; ch < C; ch += blockDim.x) {
        float xh = (x[ch] - mean) * rstd;
        dx[ch] = rstd * (dy[ch] * w[ch] - a - xh * bb);
    }
}

/* one thread per channel, the rows in order, in double as the CPU */
__global__ void ln_bwd_dw_kernel(float *dw, float *db, const float *dout, const float *res, const float *stat,
                                 size_t N, int C)
{
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= C)
        return;
    double sw = 0, sb = 0;
    for (size_t i = 0; i < N; i++) {
        float dy = dout[i * C + ch];
        sw += dy * ((res[i * C + ch] - stat[2 * i]) * stat[2 * i + 1]);
        sb += dy;
    }
    if (dw)
        dw[ch] += (float)sw;
    if (db)
        db[ch] += (float)sb;
}

extern "C" int trc_layernorm_bwd(enc_cuda *c, float *dres, float *dw, float *db, const float *dout,
                                 const float *res, const float *stat, const float *w, size_t N, int C,
                                 char *err, size_t errlen)
{
    ln_bwd_dx_kernel<<<(unsigned)N, THREADS, 0, c->stream>>>(dres, dout, res, stat, w, C);
    if (launched("layernorm backward", err, errlen))
        return -1;
    if (!dw && !db)
        return 0;
    ln_bwd_dw_kernel<<<(unsigned)((C + 127) / 128), 128, 0, c->stream>>>(dw, db, dout, res, stat, N, C);
    return launched("layernorm backward (weights)", err, errlen);
}

/* ---- Linear backward ---- */

/* db[o] += sum over rows of dout[., o], one thread per column, in double */
__global__ void colsum_kernel(float *db, const float *dout, size_t N, int OC)
{
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= OC)
        return;
    double s = 0;
    for (size_t i = 0; i < N; i++)
        s += dout[i * OC + o];
    db[o] += (float)s;
}

extern "C" int trc_matmul_bwd(enc_cuda *c, float *dinp, float *dw, float *db, const float *dout,
                              const float *inp, const float *w, int N, int C, int OC, int accum, char *err,
                              size_t errlen)
{
    /* dinp [N,C] = dout [N,OC] . w [OC,C] */
    if (dinp && rm_gemm(c, 0, 0, N, C, OC, 1.0f, dout, OC, w, C, accum ? 1.0f : 0.0f, dinp, C, err, errlen))
        return -1;
    /* dw [OC,C] += dout^T [OC,N] . inp [N,C] */
    if (dw && rm_gemm(c, 1, 0, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dw, C, err, errlen))
        return -1;
    if (!db)
        return 0;
    colsum_kernel<<<(unsigned)((OC + 127) / 128), 128, 0, c->stream>>>(db, dout, (size_t)N, OC);
    return launched("bias gradient", err, errlen);
}

/* ---- GELU ---- */

__global__ void gelu_bwd_kernel(float *dx, const float *x, size_t n, int tanh_form)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float v = x[i], g;
        if (tanh_form) {
            float u = 0.7978845608028654f * (v + 0.044715f * v * v * v), th = tanhf(u);
            g = 0.5f * (1.0f + th) +
                0.5f * v * (1.0f - th * th) * 0.7978845608028654f * (1.0f + 0.134145f * v * v);
        } else {
            g = 0.5f * (1.0f + erff(v * 0.70710678118654752f)) +
                v * 0.39894228040143268f * expf(-0.5f * v * v);
        }
        dx[i] *= g;
    }
}

extern "C" int trc_gelu_bwd(enc_cuda *c, float *dx, const float *x, size_t n, int tanh_form, char *err,
                            size_t errlen)
{
    gelu_bwd_kernel<<<grid_for(n, THREADS), THREADS, 0, c->stream>>>(dx, x, n, tanh_form);
    return launched("gelu backward", err, errlen);
}

/* ---- attention ---- */

/* one block per score row (b, h, t): row += maskadd[b], softmax in place
 * (nn_masked_softmax_row: the maximum, exp, the sum, times 1/sum; here
 * expf and the sum in double) */
__global__ void att_softmax_kernel(float *att, const float *maskadd, int T, int NH)
{
    __shared__ double sh[32];
    __shared__ float shm[32];
    size_t row = blockIdx.x;
    size_t b = row / ((size_t)NH * T);
    float *a = att + row * T;
    const float *m = maskadd + b * T;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < T; j += blockDim.x) {
        float s = a[j] + m[j];
        a[j] = s;
        mx = fmaxf(mx, s);
    }
    mx = warp_max(mx);
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (lane == 0)
        shm[wid] = mx;
    __syncthreads();
    mx = lane < nw ? shm[lane] : -INFINITY;
    mx = warp_max(mx);
    double sum = 0;
    for (int j = threadIdx.x; j < T; j += blockDim.x) {
        float e = expf(a[j] - mx);
        a[j] = e;
        sum += e;
    }
    sum = block_sum_d(sum, sh);
    float inv = (float)(1.0 / sum);
    for (int j = threadIdx.x; j < T; j += blockDim.x)
        a[j] *= inv;
}

/* softmax backward per row: g = P * (g - sum_j P g) (the dot in double) */
__global__ void att_softmax_bwd_kernel(float *g, const float *P, int T)
{
    __shared__ double sh[32];
    size_t row = blockIdx.x;
    float *gr = g + row * T;
    const float *pr = P + row * T;
    double dot = 0;
    for (int j = threadIdx.x; j < T; j += blockDim.x)
        dot += (double)pr[j] * gr[j];
    float fd = (float)block_sum_d(dot, sh);
    for (int j = threadIdx.x; j < T; j += blockDim.x)
        gr[j] = pr[j] * (gr[j] - fd);
}

static unsigned row_threads(int T)
{
    return T >= 256 ? 256 : T >= 128 ? 128 : T >= 64 ? 64 : 32;
}

extern "C" int trc_attention_fwd(enc_cuda *c, float *out, float *att, float *pd, const float *q,
                                 const float *k, const float *v, const float *maskadd, int B, int T, int C,
                                 int NH, float p, uint64_t key, int site, char *err, size_t errlen)
{
    int D = C / NH;
    float scale = 1.0f / sqrtf((float)D);
    long long TT = (long long)T * T;
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * T * C;
        /* att[b,h] [T,T] = scale q_h [T,D] . k_h^T */
        if (rm_gemm_batched(c, 0, 1, T, T, D, scale, q + off, C, D, k + off, C, D, 0.0f,
                            att + (size_t)b * NH * TT, T, TT, NH, err, errlen))
            return -1;
    }
    size_t rows = (size_t)B * NH * T;
    att_softmax_kernel<<<(unsigned)rows, row_threads(T), 0, c->stream>>>(att, maskadd, T, NH);
    if (launched("attention softmax", err, errlen))
        return -1;
    const float *P = att;
    if (p > 0) {
        if (trc_dropout(c, pd, att, rows, T, p, key, site, 0, err, errlen))
            return -1;
        P = pd;
    }
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * T * C;
        /* out_h [T,D] = P[b,h] [T,T] . v_h [T,D] */
        if (rm_gemm_batched(c, 0, 0, T, D, T, 1.0f, P + (size_t)b * NH * TT, T, TT, v + off, C, D, 0.0f,
                            out + off, C, D, NH, err, errlen))
            return -1;
    }
    return 0;
}

extern "C" int trc_attention_bwd(enc_cuda *c, float *dq, float *dk, float *dv, float *dp, float *pd,
                                 const float *datty, const float *q, const float *k, const float *v,
                                 const float *att, int B, int T, int C, int NH, float p, uint64_t key,
                                 int site, char *err, size_t errlen)
{
    int D = C / NH;
    float scale = 1.0f / sqrtf((float)D);
    long long TT = (long long)T * T;
    size_t rows = (size_t)B * NH * T;
    const float *Pu = att;
    if (p > 0) {
        if (trc_dropout(c, pd, att, rows, T, p, key, site, 0, err, errlen))
            return -1;
        Pu = pd;
    }
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * T * C, ao = (size_t)b * NH * TT;
        /* dv_h [T,D] = Pu^T [T,T] . dy_h [T,D] */
        if (rm_gemm_batched(c, 1, 0, T, D, T, 1.0f, Pu + ao, T, TT, datty + off, C, D, 0.0f, dv + off, C, D,
                            NH, err, errlen))
            return -1;
        /* dP [T,T] = dy_h . v_h^T */
        if (rm_gemm_batched(c, 0, 1, T, T, D, 1.0f, datty + off, C, D, v + off, C, D, 0.0f, dp + ao, T, TT,
                            NH, err, errlen))
            return -1;
    }
    if (p > 0 && trc_dropout(c, dp, dp, rows, T, p, key, site, 0, err, errlen))
        return -1;
    att_softmax_bwd_kernel<<<(unsigned)rows, row_threads(T), 0, c->stream>>>(dp, att, T);
    if (launched("attention softmax backward", err, errlen))
        return -1;
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * T * C, ao = (size_t)b * NH * TT;
        /* dq_h = scale dS [T,T] . k_h [T,D]; dk_h = scale dS^T . q_h */
        if (rm_gemm_batched(c, 0, 0, T, D, T, scale, dp + ao, T, TT, k + off, C, D, 0.0f, dq + off, C, D, NH,
                            err, errlen))
            return -1;
        if (rm_gemm_batched(c, 1, 0, T, D, T, scale, dp + ao, T, TT, q + off, C, D, 0.0f, dk + off, C, D, NH,
                            err, errlen))
            return -1;
    }
    return 0;
}

/* ---- embeddings ---- */

__global__ void emb_bwd_kernel(float *gwte, float *gwpe, float *gwtt, const float *de, const int32_t *ids,
                               const int32_t *pos, size_t N, int C, int pad, int roberta)
{
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= C)
        return;
    for (size_t i = 0; i < N; i++) {
        float g = de[i * C + ch];
        int32_t tok = ids[i], ps = pos[i];
        if (gwte && tok != pad)
            gwte[(size_t)tok * C + ch] += g;
        if (gwpe && !(roberta && ps == pad))
            gwpe[(size_t)ps * C + ch] += g;
        if (gwtt)
            gwtt[ch] += g;
    }
}

extern "C" int trc_embeddings_bwd(enc_cuda *c, float *gwte, float *gwpe, float *gwtt, const float *de,
                                  const int32_t *ids, const int32_t *pos, size_t N, int C, int pad,
                                  int roberta, char *err, size_t errlen)
{
    emb_bwd_kernel<<<(unsigned)((C + 127) / 128), 128, 0, c->stream>>>(gwte, gwpe, gwtt, de, ids, pos, N, C,
                                                                       pad, roberta);
    return launched("embeddings backward", err, errlen);
}
