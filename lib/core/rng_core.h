/* rng_core.h - the generator of rng.h as inline functions that compile both
 * as C and as CUDA device code: lib/core/rng.c builds lm_rng on them, and
 * kernels/train_cuda.cu draws the same dropout masks on the GPU.
 *
 * lm_rng_core_init(s, seed, stream) and lm_rng_core_next(s) are
 * lm_rng_init and lm_rng_u64 on a bare state of four words.
 */
#ifndef LMKIT_CORE_RNG_CORE_H
#define LMKIT_CORE_RNG_CORE_H

#include <stdint.h>

#ifdef __CUDACC__
#define LM_RNG_HD static __host__ __device__ __forceinline__
#else
#define LM_RNG_HD static inline
#endif

LM_RNG_HD uint64_t lm_rng_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Mixes the stream into the seed through one splitmix round of its own so
 * that (seed, stream) and (seed + 1, stream - 1) give unrelated states. */
LM_RNG_HD void lm_rng_core_init(uint64_t s[4], uint64_t seed, uint64_t stream)
{
    uint64_t t = stream;
    uint64_t x = seed ^ lm_rng_splitmix64(&t);
    for (int i = 0; i < 4; i++)
        s[i] = lm_rng_splitmix64(&x);
    if (!(s[0] | s[1] | s[2] | s[3]))
        s[0] = 1;
}

LM_RNG_HD uint64_t lm_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
LM_RNG_HD uint64_t lm_rng_core_next(uint64_t s[4])
{
    uint64_t result = lm_rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = lm_rng_rotl(s[3], 45);
    return result;
}

/* Training's dropout of one row: y[n] = x[n] / (1 - p) where kept, else 0,
 * with the stream (key, site << 40 ^ row); element i is kept iff the i-th
 * 32-bit half of the stream (low half first) is >= thr = p * 2^32.  y may
 * alias x; applied to a gradient it is the dropout's backward. */
LM_RNG_HD void lm_dropout_row(float *y, const float *x, int n, uint64_t thr, float scale, uint64_t key,
                              uint64_t site, uint64_t row)
{
    uint64_t s[4], bits = 0;
    lm_rng_core_init(s, key, (site << 40) ^ row);
    for (int i = 0; i < n; i++) {
        uint32_t u;
        if (i % 2 == 0) {
            bits = lm_rng_core_next(s);
            u = (uint32_t)bits;
        } else {
            u = (uint32_t)(bits >> 32);
        }
        y[i] = u >= thr ? x[i] * scale : 0.0f;
    }
}

#endif
