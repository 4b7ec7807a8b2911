/* cuda_common.h - what the .cu files of the encoder and of training share:
 * the context struct behind enc_cuda (one device, one stream, one cuBLAS
 * handle), error helpers that write a message and return -1, and the warp
 * and block reductions.  Internal to liblmkit-cuda.so; every function here
 * is static, so each .cu file gets its own copy.
 */
#ifndef LMKIT_CUDA_COMMON_H
#define LMKIT_CUDA_COMMON_H

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct enc_cuda {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    char desc[320];
};

static inline void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static inline int cuda_ok(cudaError_t e, const char *what, char *err, size_t errlen)
{
    if (e == cudaSuccess)
        return 0;
    seterr(err, errlen, "CUDA: %s: %s", what, cudaGetErrorString(e));
    return -1;
}

static inline int blas_ok(cublasStatus_t s, const char *what, char *err, size_t errlen)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return 0;
    seterr(err, errlen, "cuBLAS: %s: %s", what, cublasGetStatusString(s));
    return -1;
}

/* After a launch: configuration errors show at once. */
static inline int launched(const char *what, char *err, size_t errlen)
{
    return cuda_ok(cudaGetLastError(), what, err, errlen);
}

static inline unsigned grid_for(size_t n, unsigned threads)
{
    size_t g = (n + threads - 1) / threads;
    return (unsigned)(g > 65535u * 16u ? 65535u * 16u : (g ? g : 1));
}

/* ---- reductions ---- */

static __device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over the block (blockDim.x a multiple of 32, at most 1024); every
 * thread gets the result.  sh holds 32 floats. */
static __device__ __forceinline__ float block_sum(float v, float *sh)
{
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads(); /* sh may still be read from a previous call */
    if (lane == 0)
        sh[wid] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : 0.0f;
    return warp_sum(v);
}

#endif
