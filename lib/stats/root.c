/* root.c - Brent's bracketed root finder (see root.h). */
#include "stats/root.h"

#include <float.h>
#include <math.h>

int lm_brent(lm_root_fn f, void *ctx, double a, double b, double fa, double fb, double xtol, int maxit,
             double *root, int *nevals)
{
    int ne = 0;
    if (nevals)
        *nevals = 0;
    if (isnan(fa) || isnan(fb))
        return -1;
    if (fa == 0.0) {
        *root = a;
        return 0;
    }
    if (fb == 0.0) {
        *root = b;
        return 0;
    }
    if ((fa > 0) == (fb > 0))
        return -1;
    double c = a, fc = fa, d = b - a, e = d;
    for (int it = 0; it < maxit; it++) {
        if ((fb > 0) == (fc > 0)) {
            c = a;
            fc = fa;
            d = e = b - a;
        }
        if (fabs(fc) < fabs(fb)) {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        double tol = 2.0 * DBL_EPSILON * fabs(b) + 0.5 * xtol;
        double m = 0.5 * (c - b);
        if (fabs(m) <= tol || fb == 0.0) {
            *root = b;
            if (nevals)
                *nevals = ne;
            return 0;
        }
        if (fabs(e) >= tol && fabs(fa) > fabs(fb)) {
            double s = fb / fa, p, q;
            if (a == c) {
                p = 2.0 * m * s;
                q = 1.0 - s;
            } else {
                double r = fb / fc;
                q = fa / fc;
                p = s * (2.0 * m * q * (q - r) - (b - a) * (r - 1.0));
                q = (q - 1.0) * (r - 1.0) * (s - 1.0);
            }
            if (p > 0)
                q = -q;
            else
                p = -p;
            if (2.0 * p < fmin(3.0 * m * q - fabs(tol * q), fabs(e * q))) {
                e = d;
                d = p / q;
            } else {
                d = m;
                e = m;
            }
        } else {
            d = m;
            e = m;
        }
        a = b;
        fa = fb;
        b += (fabs(d) > tol) ? d : (m > 0 ? tol : -tol);
        fb = f(b, ctx);
        ne++;
        if (isnan(fb)) {
            if (nevals)
                *nevals = ne;
            return -1;
        }
    }
    *root = b;
    if (nevals)
        *nevals = ne;
    return 1;
}
