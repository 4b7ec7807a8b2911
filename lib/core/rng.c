/* rng.c - xoshiro256** seeded through splitmix64 (see rng.h). */
#include "rng.h"
#include "rng_core.h"

#include <math.h>

void lm_rng_init(lm_rng *r, uint64_t seed, uint64_t stream)
{
    lm_rng_core_init(r->s, seed, stream);
}

uint64_t lm_rng_u64(lm_rng *r)
{
    return lm_rng_core_next(r->s);
}

double lm_rng_uniform(lm_rng *r)
{
    return (double)(lm_rng_u64(r) >> 11) * 0x1.0p-53;
}

double lm_rng_uniform_pos(lm_rng *r)
{
    return ((double)(lm_rng_u64(r) >> 11) + 0.5) * 0x1.0p-53;
}

uint64_t lm_rng_below(lm_rng *r, uint64_t n)
{
    /* Lemire's nearly-divisionless method with 128-bit products. */
    unsigned __int128 m = (unsigned __int128)lm_rng_u64(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t thresh = (0 - n) % n;
        while (lo < thresh) {
            m = (unsigned __int128)lm_rng_u64(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double lm_rng_normal(lm_rng *r)
{
    double u, v, s;
    do {
        u = 2.0 * lm_rng_uniform(r) - 1.0;
        v = 2.0 * lm_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * log(s) / s);
}

double lm_rng_gamma(lm_rng *r, double a)
{
    if (a < 1.0) {
        /* G(a) = G(a + 1) * U^(1/a), done in logs to avoid underflow. */
        double g = lm_rng_gamma(r, a + 1.0);
        double lu = log(lm_rng_uniform_pos(r)) / a;
        return g * exp(lu);
    }
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = lm_rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = lm_rng_uniform_pos(r);
        if (u < 1.0 - 0.0331 * (x * x) * (x * x))
            return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return d * v;
    }
}

double lm_rng_beta(lm_rng *r, double a, double b)
{
    double g1 = lm_rng_gamma(r, a), g2 = lm_rng_gamma(r, b);
    return g1 / (g1 + g2);
}
