/* root.h - Brent's method for a bracketed root of a scalar function.
 *
 * What it does: given f(a) and f(b) of opposite signs (or one of them 0),
 * finds x in the bracket with |x - root| <= 2 * (4 DBL_EPSILON |x| + xtol),
 * combining bisection, secant and inverse quadratic interpolation (Brent
 * 1973, "zeroin").  Thread-safe, no allocation.
 *
 * What it does not do: no bracket search (the caller expands its bracket),
 * no derivatives.
 *
 * Used by lib/privacy/dpest.c for posterior quantiles of epsilon.
 */
#ifndef LMKIT_STATS_ROOT_H
#define LMKIT_STATS_ROOT_H

typedef double (*lm_root_fn)(double x, void *ctx);

/* fa = f(a), fb = f(b) already known.  Returns 0 and *root on success,
 * -1 if the signs do not differ or an evaluation gave NaN, 1 if maxit was
 * reached (*root is then the best point so far).  *nevals (may be NULL)
 * gets the number of new evaluations. */
int lm_brent(lm_root_fn f, void *ctx, double a, double b, double fa, double fb, double xtol, int maxit,
             double *root, int *nevals);

#endif
