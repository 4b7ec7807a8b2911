/* vmath.h - branch-free float exp and GELU that vectorise (#pragma omp
 * simd), shared by the CPU forward ops (ops.c) and training (train.c).
 */
#ifndef LMKIT_NN_VMATH_H
#define LMKIT_NN_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Elementwise kernels marked VM_CLONES are compiled twice, for x86-64-v3
 * (AVX2 and FMA: 8 lanes) and for the baseline (SSE2: 4 lanes); the loader
 * picks one for the CPU it runs on.  ops.o and train.o are built with
 * -ffp-contract=fast, so the v3 copies fuse multiply-adds: results differ
 * in the last bits between CPUs with and without AVX2 (not between runs or
 * thread counts). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define VM_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define VM_CLONES
#endif

/* exp(x) for x <= 88 (larger x is taken as 88), 0 below -87.34 (no
 * subnormal results): 2^n e^r with n = round(x / ln 2), |r| <= ln 2 / 2,
 * e^r by its degree-7 Taylor polynomial.  Within 2 ulp of exp over the
 * range; branch-free, so loops over it vectorise. */
static inline float vm_expf(float x)
{
    float xc = x < -104.0f ? -104.0f : (x > 88.0f ? 88.0f : x);
    /* round to nearest through the 1.5 * 2^23 shift (no floorf call, which
     * SSE2 cannot inline) */
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693145751953125f; /* ln 2 in two parts */
    r = r - n * 1.42860682030941723212e-6f;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t e = (int32_t)n + 127;
    e = e < 1 ? 1 : e;
    int32_t bits = e << 23;
    float s;
    memcpy(&s, &bits, sizeof s);
    return xc < -87.33654f ? 0.0f : p * s;
}

/* erfc(|x| / sqrt 2) by the Chebyshev fit t exp(-z^2 + P(t)), z = |x| /
 * sqrt 2, t = 1 / (1 + z/2) (fractional error below 1.2e-7 for every
 * z >= 0; Numerical Recipes, 2nd ed., 6.2). */
static inline float vm_erfc_half(float x)
{
    float z = fabsf(x) * 0.70710678118654752f;
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    return t * vm_expf(p - z * z);
}

/* 0.5 x (1 + erf(x / sqrt 2)), written as 0.5 x (2 - E) for x >= 0 and
 * 0.5 x E for x < 0 with E = erfc(|x| / sqrt 2), so neither tail cancels.
 * Within 4e-7 absolute of the exact GELU for every float x. */
static inline float vm_gelu(float x)
{
    float e = vm_erfc_half(x);
    return 0.5f * x * (x >= 0.0f ? 2.0f - e : e);
}

/* GELU's derivative Phi(x) + x phi(x), Phi = 0.5 (1 + erf(x / sqrt 2)) as
 * above and phi(x) = exp(-x^2 / 2) / sqrt(2 pi). */
static inline float vm_gelu_grad(float x)
{
    float e = vm_erfc_half(x);
    float cdf = x >= 0.0f ? 1.0f - 0.5f * e : 0.5f * e;
    return cdf + x * 0.39894228040143268f * vm_expf(-0.5f * x * x);
}

#endif
