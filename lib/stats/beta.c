/* beta.c - ln Gamma, ln B, the regularized incomplete beta function and its
 * inverse (see beta.h).
 *
 * ln B(a, b) for large a, b uses Stirling's series with the correction
 * delta(x) = lgamma(x) - [(x - 1/2) ln x - x + ln sqrt(2 pi)]:
 *   ln B = ln sqrt(2 pi) + (a - 1/2) ln(a/s) + (b - 1/2) ln(b/s) - ln(s)/2
 *          + delta(a) + delta(b) - delta(s),           s = a + b,
 * so no two large numbers are subtracted.  The incomplete-beta prefactor
 * x^a (1-x)^b / B(a, b) for large a, b is written around the mean p = a/s:
 *   a ln(x/p) + b ln((1-x)/q) = a log1pmx(d/p) + b log1pmx(-d/q),  d = x - p,
 * plus ln sqrt(a b / s) - ln sqrt(2 pi) - delta terms.  The continued
 * fraction is the classical one for I_x(a, b) (modified Lentz), used for
 * x < (a+1)/(a+b+2) and through the symmetry I_x(a,b) = 1 - I_{1-x}(b,a)
 * otherwise.
 */
#include "stats/beta.h"

#include <float.h>
#include <math.h>

#define LN_SQRT_2PI 0.91893853320467274178032973640562

double lm_lgamma(double x)
{
    int sg;
    return lgamma_r(x, &sg);
}

/* delta(x) = lgamma(x) - (x - 1/2) ln x + x - ln sqrt(2 pi), x > 0. */
static double stirlerr(double x)
{
    if (x < 10.0)
        return lm_lgamma(x) - (x - 0.5) * log(x) + x - LN_SQRT_2PI;
    double r = 1.0 / x, r2 = r * r;
    return r * (1.0 / 12 -
                r2 * (1.0 / 360 -
                      r2 * (1.0 / 1260 -
                            r2 * (1.0 / 1680 -
                                  r2 * (1.0 / 1188 -
                                        r2 * (691.0 / 360360 - r2 * (1.0 / 156 - r2 * 3617.0 / 122400)))))));
}

double lm_lbeta(double a, double b)
{
    if (!(a > 0) || !(b > 0))
        return NAN;
    if (a > b) {
        double t = a;
        a = b;
        b = t;
    }
    double s = a + b;
    if (b < 10.0)
        return lm_lgamma(a) + lm_lgamma(b) - lm_lgamma(s);
    if (a < 10.0)
        return lm_lgamma(a) + (b - 0.5) * log1p(-a / s) - a * log(s) + a + stirlerr(b) - stirlerr(s);
    return LN_SQRT_2PI + (a - 0.5) * log(a / s) + (b - 0.5) * log1p(-a / s) - 0.5 * log(s) + stirlerr(a) +
           stirlerr(b) - stirlerr(s);
}

/* log1p(t) - t, accurate for small |t|; t > -1. */
static double log1pmx(double t)
{
    if (fabs(t) > 0.125)
        return log1p(t) - t;
    /* -t^2/2 + t^3/3 - ... ; |t| <= 1/8 so 20 terms reach 1e-19 relative */
    double term = t, sum = 0.0;
    for (int k = 2; k < 30; k++) {
        term *= -t;
        double c = term / k;
        sum += c;
        if (fabs(c) <= 1e-17 * fabs(sum))
            break;
    }
    return sum;
}

/* ln[x^a (1-x)^b / B(a, b)], 0 < x < 1, xc = 1 - x. */
static double lprefactor(double a, double b, double lbeta, double x, double xc)
{
    if (a >= 10.0 && b >= 10.0) {
        double s = a + b, p = a / s, q = b / s;
        double d = (x <= 0.5) ? x - p : q - xc;
        return a * log1pmx(d / p) + b * log1pmx(-d / q) + 0.5 * log(a * (b / s)) - LN_SQRT_2PI -
               (stirlerr(a) + stirlerr(b) - stirlerr(s));
    }
    return a * log(x) + b * log(xc) - lbeta;
}

double lm_beta_logpdf_xc(double a, double b, double lbeta, double x, double xc)
{
    if (!(x > 0.0) || !(xc > 0.0))
        return -INFINITY;
    return lprefactor(a, b, lbeta, x, xc) - log(x) - log(xc);
}

double lm_beta_logpdf(double a, double b, double lbeta, double x)
{
    return lm_beta_logpdf_xc(a, b, lbeta, x, 1.0 - x);
}

/* Continued fraction for I_x(a, b) / prefactor * a (modified Lentz). */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300, eps = 1e-16;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m < 1000000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) <= eps)
            break;
    }
    return h;
}

void lm_ibeta_pair_xc(double a, double b, double lbeta, double x, double xc, double *I, double *Ic)
{
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1) || !(xc >= 0) || !(xc <= 1)) {
        *I = *Ic = NAN;
        return;
    }
    if (x == 0.0) {
        *I = 0.0;
        *Ic = 1.0;
        return;
    }
    if (xc == 0.0) {
        *I = 1.0;
        *Ic = 0.0;
        return;
    }
    if (x < (a + 1.0) / (a + b + 2.0)) {
        double v = exp(lprefactor(a, b, lbeta, x, xc)) * betacf(a, b, x) / a;
        *I = v;
        *Ic = 1.0 - v;
    } else {
        double v = exp(lprefactor(b, a, lbeta, xc, x)) * betacf(b, a, xc) / b;
        *Ic = v;
        *I = 1.0 - v;
    }
}

void lm_ibeta_pair(double a, double b, double lbeta, double x, double *I, double *Ic)
{
    lm_ibeta_pair_xc(a, b, lbeta, x, 1.0 - x, I, Ic);
}

double lm_ibeta(double a, double b, double x)
{
    double I, Ic;
    lm_ibeta_pair(a, b, lm_lbeta(a, b), x, &I, &Ic);
    return I;
}

double lm_ibetac(double a, double b, double x)
{
    double I, Ic;
    lm_ibeta_pair(a, b, lm_lbeta(a, b), x, &I, &Ic);
    return Ic;
}

/* Lower-tail standard normal quantile, p in (0, 1/2] (Acklam's rational
 * approximation, relative error below 1.2e-9: a starting point only). */
static double norm_quantile_lower(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                               1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (p < 0.02425) {
        double q = sqrt(-2.0 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    }
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
}

/* Initial guess for I_x(a, b) = p (p <= 1/2). */
static double inv_guess(double a, double b, double p)
{
    double lb = lm_lbeta(a, b), lnp = log(p), x;
    if (a >= 1.0 && b >= 1.0 && a + b >= 20.0) {
        /* Cornish-Fisher: normal quantile with a skewness correction */
        double s = a + b, m = a / s, sd = sqrt(a * b / (s * s * (s + 1.0)));
        double z = norm_quantile_lower(p);
        double g = 2.0 * (b - a) * sqrt(s + 1.0) / ((s + 2.0) * sqrt(a * b));
        x = m + sd * (z + (z * z - 1.0) * g / 6.0);
        if (!(x > 0.0 && x < 1.0))
            x = 0.5;
    } else if (a >= 1.0 && b >= 1.0) {
        double t = sqrt(-2.0 * lnp);
        double z = (2.30753 + t * 0.27061) / (1.0 + t * (0.99229 + t * 0.04481)) - t;
        double al = (z * z - 3.0) / 6.0;
        double h = 2.0 / (1.0 / (2.0 * a - 1.0 + 1e-300) + 1.0 / (2.0 * b - 1.0 + 1e-300));
        double w = z * sqrt(al + h) / h - (1.0 / (2.0 * b - 1.0 + 1e-300) - 1.0 / (2.0 * a - 1.0 + 1e-300)) *
                                              (al + 5.0 / 6.0 - 2.0 / (3.0 * h));
        x = a / (a + b * exp(2.0 * w));
        if (!(x > 0.0 && x < 1.0) || a + b < 3.0)
            x = 0.5;
    } else {
        double s = a + b;
        double t = exp(a * log(a / s) - lb) / a;
        double u = exp(b * log(b / s) - lb) / b;
        double w = t + u;
        if (p * w < t)
            x = exp((lnp + log(a * w)) / a);
        else
            x = 1.0 - exp((log1p(-p) + log(b * w)) / b);
    }
    double xs = exp((lnp + log(a) + lb) / a); /* I_x ~ x^a / (a B) near 0 */
    if (xs < 1e-3 && xs > 0.0)
        x = xs;
    if (!(x > 0.0 && x < 1.0))
        x = 0.5;
    return x;
}

/* x with T(x) = p, T = I_x(a, b) (upper = 0) or 1 - I_x(a, b) (upper = 1),
 * for a Beta(a, b) whose mean is <= 1/2 (so x is represented without
 * loss).  Newton on g = ln T - ln p inside a shrinking bracket, with
 * bisection (geometric near 0) when a step leaves it. */
static double inv_solve(double a, double b, int upper, double p)
{
    if (p > 0.5) {
        upper = !upper;
        p = 1.0 - p;
    }
    double lb = lm_lbeta(a, b), lnp = log(p);
    double x = upper ? 1.0 - inv_guess(b, a, p) : inv_guess(a, b, p);
    if (!(x > 0.0 && x < 1.0))
        x = 0.5;
    double lo = 0.0, hi = 1.0;
    for (int it = 0; it < 300; it++) {
        double I, Ic;
        lm_ibeta_pair(a, b, lb, x, &I, &Ic);
        double T = upper ? Ic : I;
        double g = (T > 0.0) ? log(T) - lnp : -INFINITY;
        if (g == 0.0)
            return x;
        /* T increasing (lower) or decreasing (upper) in x */
        if ((g < 0.0) != (upper != 0))
            lo = x;
        else
            hi = x;
        double xn = NAN;
        double lpdf = lm_beta_logpdf(a, b, lb, x);
        if (isfinite(g) && isfinite(lpdf)) {
            double dx = g * exp(log(T) - lpdf); /* g / (d ln T / dx), up to sign */
            xn = upper ? x + dx : x - dx;
        }
        if (!(xn > lo && xn < hi)) {
            if (lo > 0.0 && hi / lo > 4.0)
                xn = sqrt(lo * hi);
            else if (lo == 0.0)
                xn = hi * 0.01;
            else
                xn = 0.5 * (lo + hi);
        }
        if (fabs(xn - x) <= 1e-15 * x || hi - lo <= 4.0 * DBL_EPSILON * hi)
            return xn;
        x = xn;
    }
    return x;
}

double lm_ibeta_inv(double a, double b, double p)
{
    if (!(a > 0) || !(b > 0) || !(p >= 0) || !(p <= 1))
        return NAN;
    if (p == 0.0)
        return 0.0;
    if (p == 1.0)
        return 1.0;
    if (a <= b)
        return inv_solve(a, b, 0, p);
    return 1.0 - inv_solve(b, a, 1, p); /* I_x(a,b) = 1 - I_{1-x}(b,a) */
}

double lm_ibetac_inv(double a, double b, double q)
{
    if (!(a > 0) || !(b > 0) || !(q >= 0) || !(q <= 1))
        return NAN;
    if (q == 0.0)
        return 1.0;
    if (q == 1.0)
        return 0.0;
    if (a <= b)
        return inv_solve(a, b, 1, q);
    return 1.0 - inv_solve(b, a, 0, q);
}
