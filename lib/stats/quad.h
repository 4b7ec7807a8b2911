/* quad.h - globally adaptive Gauss-Kronrod (7/15-point) quadrature on a
 * finite interval, with caller-given breakpoints.
 *
 * What it does: splits [pts[0], pts[n-1]] at the given breakpoints (kinks of
 * the integrand), integrates each piece with the 15-point Kronrod rule, and
 * repeatedly bisects the piece with the largest error estimate (QUADPACK's
 * QAG scheme, error from |K15 - G7| scaled as in QUADPACK) until the total
 * estimate is below max(abstol, reltol * |result|) or the panel budget is
 * spent.  No allocation; thread-safe.
 *
 * What it does not do: no extrapolation (epsilon algorithm), no infinite
 * ranges; endpoint singularities must be removed by a substitution first.
 *
 * Used by lib/privacy/dpest.c (posterior CDF and quantiles of epsilon).
 */
#ifndef LMKIT_STATS_QUAD_H
#define LMKIT_STATS_QUAD_H

#include <stddef.h>

typedef double (*lm_quad_fn)(double x, void *ctx);

/* Most panels one call may use. */
#define LM_QUAD_MAX_PANELS 400

/* Integrate f over [pts[0], pts[npts-1]]; pts (npts >= 2) must be
 * non-decreasing (empty pieces are skipped).  Writes the integral to
 * *result and the error estimate to *abserr (either may be NULL for abserr);
 * *nevals (may be NULL) gets the number of calls of f.  Returns 0 when the
 * tolerance was met, 1 when the panel budget ran out (result still the best
 * estimate), -1 on bad arguments. */
int lm_quad_gk15(lm_quad_fn f, void *ctx, const double *pts, size_t npts, double abstol, double reltol,
                 double *result, double *abserr, size_t *nevals);

/* One 15-point Kronrod rule on [a, b]; *err gets the error estimate and
 * *gauss (may be NULL) the embedded 7-point Gauss result. */
double lm_quad_k15(lm_quad_fn f, void *ctx, double a, double b, double *err, double *gauss);

#endif
