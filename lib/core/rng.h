/* rng.h - portable, seedable random numbers for lmkit.
 *
 * One generator state per record (or per work item): lm_rng_init(seed, stream)
 * derives an independent xoshiro256** state from a 64-bit user seed and a
 * 64-bit stream number (the record index, a thread-free quantity), so results
 * never depend on --threads or --shard.  The sequence is fixed across
 * platforms and compilers: only 64-bit integer arithmetic is used, and the
 * floating-point helpers are exact conversions.
 */
#ifndef LMKIT_CORE_RNG_H
#define LMKIT_CORE_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} lm_rng;

/* Seed a generator for (seed, stream). */
void lm_rng_init(lm_rng *r, uint64_t seed, uint64_t stream);
/* Next 64 random bits. */
uint64_t lm_rng_u64(lm_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double lm_rng_uniform(lm_rng *r);
/* Uniform double in (0, 1): never 0, safe for log(). */
double lm_rng_uniform_pos(lm_rng *r);
/* Uniform integer in [0, n), unbiased (Lemire's method); n > 0. */
uint64_t lm_rng_below(lm_rng *r, uint64_t n);
/* Standard normal deviate (Marsaglia polar method, no cached second value). */
double lm_rng_normal(lm_rng *r);
/* Gamma(shape, 1) deviate, shape > 0 (Marsaglia-Tsang, with the U^(1/a)
 * boost for shape < 1). */
double lm_rng_gamma(lm_rng *r, double shape);
/* Beta(a, b) deviate as G1/(G1+G2). */
double lm_rng_beta(lm_rng *r, double a, double b);

#endif
