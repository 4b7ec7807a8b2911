/* encoder_cuda.cu - CUDA C forward ops of the BERT / RoBERTa / XLM-R encoder
 * (API and contracts in encoder_cuda.h): position ids and the additive key
 * mask, embedding gather, LayerNorm with a fused residual, exact and tanh
 * GELU, the masked attention softmax, the classifier softmax, an fp32 ->
 * bf16/fp16 rounding kernel, and cuBLAS for every matrix product
 * (cublasSgemm and cublasSgemmStridedBatched in fp32; cublasGemmEx with
 * 16-bit weights and CUBLAS_COMPUTE_32F for the Linear layers on request).
 * Each kernel follows its CPU twin in lib/nn/ops.c operation for operation
 * (same association order), so that fp32 results agree to rounding; the
 * reductions (LayerNorm statistics, softmax sums) are done in a different
 * order (warp shuffles), which is the only expected difference besides
 * cuBLAS's own summation order.  The model is described in lib/nn/encoder.h.
 *
 * Written in C style: plain functions and structs, no templates.
 *
 * Row-major products through column-major cuBLAS: a row-major [M,N] matrix
 * is the column-major [N,M] matrix with the same memory, so
 *   out[M,N] = A[M,K] . W[N,K]^T   is   out' = op_T(W') . A'
 *   = gemm(T, N, m = N, n = M, k = K, W, ld K, A, ld K, out, ld N).
 */
#include "encoder_cuda.h"

#include "cuda_common.h"

/* ---- context, memory ---- */

/* What is missing, said plainly: the runtime reports a machine without the
 * NVIDIA driver as "driver version is insufficient". */
extern "C" int enc_cuda_device_count(char *why, size_t whylen)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaSuccess && n > 0)
        return n;
    cudaGetLastError();
    if (e == cudaErrorInsufficientDriver) {
        void *drv = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
        if (!drv) {
            seterr(why, whylen,
                   "no CUDA GPU can be used: the NVIDIA driver is not installed "
                   "(libcuda.so.1 cannot be loaded)");
            return 0;
        }
        dlclose(drv);
        int rt = 0, dv = 0;
        cudaRuntimeGetVersion(&rt);
        cudaDriverGetVersion(&dv);
        seterr(why, whylen,
               "no CUDA GPU can be used: the NVIDIA driver (CUDA %d.%d) is older "
               "than this build's CUDA runtime (%d.%d)",
               dv / 1000, dv % 1000 / 10, rt / 1000, rt % 1000 / 10);
    } else if (e == cudaErrorNoDevice || e == cudaSuccess) {
        seterr(why, whylen, "no CUDA GPU found (the NVIDIA driver lists no device)");
    } else {
        seterr(why, whylen, "no CUDA GPU can be used: %s", cudaGetErrorString(e));
    }
    return 0;
}

extern "C" int enc_cuda_create(enc_cuda **out, char *err, size_t errlen)
{
    *out = NULL;
    char why[256];
    if (enc_cuda_device_count(why, sizeof why) < 1) {
        seterr(err, errlen, "%s", why);
        return -1;
    }
    enc_cuda *c = (enc_cuda *)calloc(1, sizeof *c);
    if (!c) {
        seterr(err, errlen, "out of memory");
        return -1;
    }
    cudaDeviceProp p;
    if (cuda_ok(cudaGetDevice(&c->device), "cudaGetDevice", err, errlen) ||
        cuda_ok(cudaGetDeviceProperties(&p, c->device), "cudaGetDeviceProperties", err, errlen)) {
        free(c);
        return -1;
    }
    snprintf(c->desc, sizeof c->desc, "%s (sm_%d%d, %d SMs)", p.name, p.major, p.minor,
             p.multiProcessorCount);
    if (cuda_ok(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "cudaStreamCreate", err,
                errlen)) {
        free(c);
        return -1;
    }
    if (blas_ok(cublasCreate(&c->blas), "cublasCreate", err, errlen)) {
        cudaStreamDestroy(c->stream);
        free(c);
        return -1;
    }
    if (blas_ok(cublasSetStream(c->blas, c->stream), "cublasSetStream", err, errlen)) {
        enc_cuda_destroy(c);
        return -1;
    }
    *out = c;
    return 0;
}

extern "C" void enc_cuda_destroy(enc_cuda *c)
{
    if (!c)
        return;
    cudaSetDevice(c->device);
    if (c->stream)
        cudaStreamSynchronize(c->stream);
    if (c->blas)
        cublasDestroy(c->blas);
    if (c->stream)
        cudaStreamDestroy(c->stream);
    free(c);
}

extern "C" void enc_cuda_describe(const enc_cuda *c, char *buf, size_t cap)
{
    if (cap)
        snprintf(buf, cap, "%s", c->desc);
}

extern "C" int enc_cuda_use(const enc_cuda *c, char *err, size_t errlen)
{
    return cuda_ok(cudaSetDevice(c->device), "cudaSetDevice", err, errlen);
}

extern "C" int enc_cuda_malloc(void **p, size_t bytes, char *err, size_t errlen)
{
    *p = NULL;
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        *p = NULL;
        cudaGetLastError();
        seterr(err, errlen, "CUDA: cannot allocate %zu MB of device memory: %s", bytes >> 20,
               cudaGetErrorString(e));
        return -1;
    }
    return 0;
}

extern "C" void enc_cuda_free(void *p)
{
    if (p)
        cudaFree(p);
}

extern "C" int enc_cuda_upload(enc_cuda *c, void *dst, const void *src, size_t bytes, char *err,
                               size_t errlen)
{
    if (!bytes)
        return 0;
    if (cuda_ok(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream), "host-to-device copy",
                err, errlen))
        return -1;
    /* pageable source: wait so that the caller may reuse it */
    return cuda_ok(cudaStreamSynchronize(c->stream), "host-to-device copy", err, errlen);
}

extern "C" int enc_cuda_download(enc_cuda *c, void *dst, const void *src, size_t bytes, char *err,
                                 size_t errlen)
{
    if (!bytes)
        return 0;
    if (cuda_ok(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream), "device-to-host copy",
                err, errlen))
        return -1;
    return cuda_ok(cudaStreamSynchronize(c->stream), "device-to-host copy", err, errlen);
}

extern "C" int enc_cuda_sync(enc_cuda *c, char *err, size_t errlen)
{
    return cuda_ok(cudaStreamSynchronize(c->stream), "forward", err, errlen);
}

/* ---- conversion ---- */

__global__ void to_bf16_kernel(__nv_bfloat16 *dst, const float *src, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16_rn(src[i]);
}

__global__ void to_f16_kernel(__half *dst, const float *src, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2half_rn(src[i]);
}

extern "C" int enc_cuda_convert(enc_cuda *c, void *dst, const float *src, size_t n, int dtype, char *err,
                                size_t errlen)
{
    if (!n)
        return 0;
    if (dtype == ENC_CUDA_BF16)
        to_bf16_kernel<<<grid_for(n, 256), 256, 0, c->stream>>>((__nv_bfloat16 *)dst, src, n);
    else if (dtype == ENC_CUDA_F16)
        to_f16_kernel<<<grid_for(n, 256), 256, 0, c->stream>>>((__half *)dst, src, n);
    else {
        seterr(err, errlen, "enc_cuda_convert: dtype %d is not bf16 or f16", dtype);
        return -1;
    }
    return launched("fp32 to 16-bit conversion", err, errlen);
}

/* ---- positions and key mask ---- */

#define PREP_THREADS 256

/* One block per sequence; chunks of PREP_THREADS tokens, each scanned
 * (Hillis-Steele, inclusive) and offset by the running count. */
__global__ void prep_kernel(int32_t *pos, float *maskadd, const int32_t *ids, const uint8_t *mask, int T,
                            int roberta, int pad_id)
{
    __shared__ int sh[PREP_THREADS];
    int b = blockIdx.x, tid = threadIdx.x;
    int carry = 0;
    for (int t0 = 0; t0 < T; t0 += PREP_THREADS) {
        int t = t0 + tid;
        size_t i = (size_t)b * T + t;
        int real = 0;
        if (t < T) {
            real = ids[i] != pad_id;
            maskadd[i] = mask[i] ? 0.0f : -FLT_MAX;
        }
        sh[tid] = real;
        __syncthreads();
        for (int off = 1; off < PREP_THREADS; off <<= 1) {
            int add = tid >= off ? sh[tid - off] : 0;
            __syncthreads();
            sh[tid] += add;
            __syncthreads();
        }
        if (t < T)
            pos[i] = roberta ? (real ? carry + sh[tid] + pad_id : pad_id) : t;
        carry += sh[PREP_THREADS - 1];
        __syncthreads(); /* everyone has read sh before the next chunk writes it */
    }
}

extern "C" int enc_cuda_prep(enc_cuda *c, int32_t *pos, float *maskadd, const int32_t *ids,
                             const uint8_t *mask, int B, int T, int roberta, int pad_id, char *err,
                             size_t errlen)
{
    prep_kernel<<<B, PREP_THREADS, 0, c->stream>>>(pos, maskadd, ids, mask, T, roberta, pad_id);
    return launched("position ids", err, errlen);
}

/* ---- embeddings ---- */

__global__ void embeddings_kernel(float *out, const int32_t *ids, const int32_t *pos, const float *wte,
                                  const float *wpe, const float *wtt, int C)
{
    size_t row = blockIdx.x;
    const float *e = wte + (size_t)ids[row] * C, *p = wpe + (size_t)pos[row] * C;
    float *o = out + row * C;
    for (int ch = threadIdx.x; ch < C; ch += blockDim.x)
        o[ch] = (e[ch] + wtt[ch]) + p[ch]; /* torch order: (word + type) + position */
}

extern "C" int enc_cuda_embeddings(enc_cuda *c, float *out, const int32_t *ids, const int32_t *pos,
                                   const float *wte, const float *wpe, const float *wtt, int B, int T, int C,
                                   char *err, size_t errlen)
{
    unsigned rows = (unsigned)B * (unsigned)T;
    embeddings_kernel<<<rows, 256, 0, c->stream>>>(out, ids, pos, wte, wpe, wtt, C);
    return launched("embeddings", err, errlen);
}

/* ---- LayerNorm (+ residual) ---- */

#define LN_THREADS 256

/* One block per row: mean, then the biased variance of (x - mean), then the
 * output.  Every element is read and written by the same thread, so out may
 * alias inp or res. */
__global__ void layernorm_kernel(float *out, const float *inp, const float *res, const float *w,
                                 const float *b, int C, float eps)
{
    __shared__ float sh[32];
    size_t row = blockIdx.x;
    const float *x = inp + row * C, *r = res ? res + row * C : NULL;
    float *o = out + row * C;
    float s = 0.0f;
    for (int ch = threadIdx.x; ch < C; ch += blockDim.x)
        s += r ? x[ch] + r[ch] : x[ch];
    float mean = block_sum(s, sh) / (float)C;
    float v = 0.0f;
    for (int ch = threadIdx.x; ch < C; ch += blockDim.x) {
        float d = (r ? x[ch] + r[ch] : x[ch]) - mean;
        v += d * d;
    }
    float var = block_sum(v, sh) / (float)C;
    float rstd = 1.0f / sqrtf(var + eps);
    for (int ch = threadIdx.x; ch < C; ch += blockDim.x) {
        float a = r ? x[ch] + r[ch] : x[ch];
        o[ch] = (a - mean) * rstd * w[ch] + b[ch];
    }
}

extern "C" int enc_cuda_layernorm(enc_cuda *c, float *out, const float *inp, const float *res, const float *w,
                                  const float *b, int B, int T, int C, float eps, char *err, size_t errlen)
{
    unsigned rows = (unsigned)B * (unsigned)T;
    layernorm_kernel<<<rows, LN_THREADS, 0, c->stream>>>(out, inp, res, w, b, C, eps);
    return launched("layernorm", err, errlen);
}

/* ---- matmul ---- */

__global__ void bias_add_kernel(float *out, const float *bias, size_t n, int OC)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] += bias[i % (size_t)OC];
}

extern "C" int enc_cuda_matmul(enc_cuda *c, float *out, const float *inp, const void *w, int wdtype,
                               const float *bias, void *act16, int N, int C, int OC, char *err, size_t errlen)
{
    const float one = 1.0f, zero = 0.0f;
    if (wdtype == ENC_CUDA_F32) {
        if (blas_ok(cublasSgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, &one, (const float *)w, C, inp,
                                C, &zero, out, OC),
                    "cublasSgemm", err, errlen))
            return -1;
    } else if (wdtype == ENC_CUDA_BF16 || wdtype == ENC_CUDA_F16) {
        cudaDataType_t t = wdtype == ENC_CUDA_BF16 ? CUDA_R_16BF : CUDA_R_16F;
        if (enc_cuda_convert(c, act16, inp, (size_t)N * C, wdtype, err, errlen))
            return -1;
        if (blas_ok(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, &one, w, t, C, act16, t, C,
                                 &zero, out, CUDA_R_32F, OC, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                    "cublasGemmEx", err, errlen))
            return -1;
    } else {
        seterr(err, errlen, "enc_cuda_matmul: unknown weight dtype %d", wdtype);
        return -1;
    }
    if (!bias)
        return 0;
    size_t n = (size_t)N * OC;
    bias_add_kernel<<<grid_for(n, 256), 256, 0, c->stream>>>(out, bias, n, OC);
    return launched("bias", err, errlen);
}

/* ---- attention ---- */

/* One warp per score row (b, h, i): row += maskadd[b], softmax in place,
 * as masked_softmax_row in ops.c. */
__global__ void masked_softmax_kernel(float *att, const float *maskadd, size_t rows, int T, int NH)
{
    size_t row = (size_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= rows)
        return;
    size_t b = row / ((size_t)NH * T);
    float *a = att + row * T;
    const float *m = maskadd + b * T;
    float mx = -INFINITY;
    for (int j = lane; j < T; j += 32) {
        float s = a[j] + m[j];
        a[j] = s;
        mx = fmaxf(mx, s);
    }
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int j = lane; j < T; j += 32) {
        float e = expf(a[j] - mx);
        a[j] = e;
        sum += e;
    }
    sum = warp_sum(sum);
    float inv = 1.0f / sum;
    for (int j = lane; j < T; j += 32)
        a[j] *= inv;
}

extern "C" int enc_cuda_attention(enc_cuda *c, float *out, float *att, const float *q, const float *k,
                                  const float *v, int ld, const float *maskadd, int B, int T, int C, int NH,
                                  char *err, size_t errlen)
{
    int D = C / NH;
    const float scale = 1.0f / sqrtf((float)D), one = 1.0f, zero = 0.0f;
    long long sTT = (long long)T * T;
    /* scores: att[b,h] [T,T] = q_h [T,D] . k_h [T,D]^T * scale */
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * T * ld;
        if (blas_ok(cublasSgemmStridedBatched(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, T, T, D, &scale, k + off, ld,
                                              D, q + off, ld, D, &zero, att + (size_t)b * NH * sTT, T, sTT,
                                              NH),
                    "cublasSgemmStridedBatched (scores)", err, errlen))
            return -1;
    }
    size_t rows = (size_t)B * NH * T;
    unsigned per = 256 / 32;
    masked_softmax_kernel<<<(unsigned)((rows + per - 1) / per), 256, 0, c->stream>>>(att, maskadd, rows, T,
                                                                                     NH);
    if (launched("attention softmax", err, errlen))
        return -1;
    /* out_h [T,D] = att[b,h] [T,T] . v_h [T,D]; out rows are C apart */
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * T * ld;
        if (blas_ok(cublasSgemmStridedBatched(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, D, T, T, &one, v + off, ld,
                                              D, att + (size_t)b * NH * sTT, T, sTT, &zero,
                                              out + (size_t)b * T * C, C, D, NH),
                    "cublasSgemmStridedBatched (values)", err, errlen))
            return -1;
    }
    return 0;
}

/* ---- GELU ---- */

__global__ void gelu_kernel(float *out, const float *inp, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    }
}

__global__ void gelu_tanh_kernel(float *out, const float *inp, size_t n)
{
    const float s = 0.7978845608028654f; /* sqrt(2/pi) */
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanhf(s * (x + 0.044715f * x * x * x)));
    }
}

extern "C" int enc_cuda_gelu(enc_cuda *c, float *out, const float *inp, size_t N, int tanh_approx, char *err,
                             size_t errlen)
{
    if (!N)
        return 0;
    if (tanh_approx)
        gelu_tanh_kernel<<<grid_for(N, 256), 256, 0, c->stream>>>(out, inp, N);
    else
        gelu_kernel<<<grid_for(N, 256), 256, 0, c->stream>>>(out, inp, N);
    return launched("gelu", err, errlen);
}

/* ---- classifier softmax ---- */

/* One warp per row of V logits. */
__global__ void softmax_kernel(float *probs, const float *logits, int N, int V)
{
    size_t row = (size_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= (size_t)N)
        return;
    const float *l = logits + row * V;
    float *p = probs + row * V;
    float mx = -INFINITY;
    for (int j = lane; j < V; j += 32)
        mx = fmaxf(mx, l[j]);
    mx = warp_max(mx);
    float s = 0.0f;
    for (int j = lane; j < V; j += 32) {
        float e = expf(l[j] - mx);
        p[j] = e;
        s += e;
    }
    s = warp_sum(s);
    for (int j = lane; j < V; j += 32)
        p[j] /= s;
}

extern "C" int enc_cuda_softmax(enc_cuda *c, float *probs, const float *logits, int N, int V, char *err,
                                size_t errlen)
{
    if (N < 1)
        return 0;
    unsigned per = 256 / 32;
    softmax_kernel<<<(unsigned)(((size_t)N + per - 1) / per), 256, 0, c->stream>>>(probs, logits, N, V);
    return launched("softmax", err, errlen);
}
