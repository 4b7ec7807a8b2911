/* test_stats.c - unit tests for lib/stats: ln B, the regularized incomplete
 * beta function and its inverse (against closed forms and mpmath values at
 * 30 digits), the G7/K15 rule (exactness on polynomials validates its
 * constants), adaptive quadrature with breakpoints, and Brent's method. */
#include "stats/beta.h"
#include "stats/quad.h"
#include "stats/root.h"
#include "tap.h"

#include <math.h>

static double rel(double got, double want)
{
    return fabs(got - want) / fmax(fabs(want), 1e-300);
}

static double fpow(double x, void *v)
{
    return pow(x, *(const int *)v);
}

static double fsqrt_abs(double x, void *v)
{
    (void)v;
    return sqrt(fabs(x - 0.3));
}

static double fexp(double x, void *v)
{
    (void)v;
    return exp(-x * x);
}

static double fcos(double x, void *v)
{
    (void)v;
    return cos(x) - x;
}

static double fcubic(double x, void *v)
{
    (void)v;
    return x * x * x - 2.0;
}

int main(void)
{
    /* ---- ln B */
    is_near(lm_lbeta(0.5, 0.5), log(M_PI), 1e-15, "lbeta(1/2,1/2) = ln pi");
    is_near(lm_lbeta(1.0, 7.0), -log(7.0), 1e-14, "lbeta(1,7) = -ln 7");
    /* mpmath, 30 digits */
    is_near(lm_lbeta(1e6 + 0.5, 1e6 + 0.5), -1386300.696510351676271429, 1e-8,
            "lbeta(1e6+.5, 1e6+.5) (abs err; relative ~1e-14)");
    ok(rel(lm_lbeta(1e6 + 0.5, 1e6 + 0.5), -1386300.696510351676271429) < 1e-14,
       "lbeta(1e6+.5,1e6+.5) relative 1e-14");
    is_near(lm_lbeta(0.5, 5e5 + 0.5), -5.988816995777464310231978, 1e-13, "lbeta(.5, 5e5+.5)");
    is_near(lm_lbeta(3.5, 1e7), -55.21236161350700128363115, 1e-12, "lbeta(3.5, 1e7)");
    is_near(lm_lbeta(123.25, 4567.5), -571.6137402568167727852496, 1e-11, "lbeta(123.25, 4567.5)");
    is_near(lm_lbeta(4567.5, 123.25), lm_lbeta(123.25, 4567.5), 0, "lbeta symmetric");

    /* ---- I_x(a, b): closed forms */
    double maxe = 0;
    for (double x = 0.01; x < 1; x += 0.07) {
        maxe = fmax(maxe, fabs(lm_ibeta(1, 1, x) - x));
        maxe = fmax(maxe, rel(lm_ibeta(3.5, 1, x), pow(x, 3.5)));
        maxe = fmax(maxe, rel(lm_ibetac(1, 4.5, x), pow(1 - x, 4.5)));
        maxe = fmax(maxe, rel(lm_ibeta(0.5, 0.5, x), 2 / M_PI * asin(sqrt(x))));
    }
    diag("closed forms of I_x: max rel err %.3g", maxe);
    ok(maxe < 1e-13, "I_x closed forms (a=1/b=1/arcsine) to 1e-13");
    is_near(lm_ibeta(1e6 + 0.5, 1e6 + 0.5, 0.5), 0.5, 1e-13, "I_1/2(a,a) = 1/2 at a = 1e6");
    is_near(lm_ibeta(2, 3, 0), 0, 0, "I_0 = 0");
    is_near(lm_ibeta(2, 3, 1), 1, 0, "I_1 = 1");
    ok(isnan(lm_ibeta(-1, 3, 0.5)), "bad a gives NaN");

    /* ---- I_x(a, b): mpmath values (a, b, x, I, 1 - I) */
    static const double mpv[][5] = {
        {487.5, 0.5, 0.995, 0.027095370979191080812, 0.97290462902080891919},
        {3.5, 997.5, 0.002, 0.22010714395196806763, 0.77989285604803193237},
        {100.5, 900.5, 0.09, 0.13519337068209024689, 0.86480662931790975311},
        {20.5, 80.5, 0.35, 0.99947731504863760959, 0.00052268495136239041157},
        {1000.5, 1000.5, 0.52, 0.96325650583787459935, 0.036743494162125400647},
        {0.5, 487.5, 1e-4, 0.24509448445265288329, 0.75490551554734711671},
    };
    maxe = 0;
    for (size_t i = 0; i < sizeof mpv / sizeof mpv[0]; i++) {
        maxe = fmax(maxe, rel(lm_ibeta(mpv[i][0], mpv[i][1], mpv[i][2]), mpv[i][3]));
        maxe = fmax(maxe, rel(lm_ibetac(mpv[i][0], mpv[i][1], mpv[i][2]), mpv[i][4]));
    }
    diag("I_x vs mpmath: max rel err %.3g", maxe);
    ok(maxe < 1e-12, "I_x and its complement match mpmath to 1e-12 relative");

    /* ---- inverse: round trips, tails, large shapes */
    static const double shapes[][2] = {{0.5, 0.5},        {0.5, 487.5},   {487.5, 0.5},         {1, 1},
                                       {3.5, 997.5},      {100.5, 900.5}, {1e6 + .5, 1e6 + .5}, {1.5, 5e5},
                                       {3000.5, 497000.5}};
    static const double ps[] = {1e-16, 1e-8, 0.025, 0.3, 0.5, 0.9, 0.975};
    double maxr = 0;
    int bad = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (size_t j = 0; j < sizeof ps / sizeof ps[0]; j++) {
            double a = shapes[i][0], b = shapes[i][1], p = ps[j];
            double lb = lm_lbeta(a, b);
            double x = lm_ibeta_inv(a, b, p), xc = lm_ibetac_inv(a, b, p);
            /* error in x estimated as residual / density, relative to the
             * nearer end (x near 1 is only represented to 1e-16 absolute) */
            if (1 - x < 1e-15 || 1 - xc < 1e-15)
                continue; /* the root 1 - O(1e-16) is not representable */
            double dx = fabs(lm_ibeta(a, b, x) - p) / exp(lm_beta_logpdf(a, b, lb, x));
            double dxc = fabs(lm_ibetac(a, b, xc) - p) / exp(lm_beta_logpdf(a, b, lb, xc));
            maxr = fmax(maxr, dx / (fmin(x, 1 - x) + 1e-4));
            maxr = fmax(maxr, dxc / (fmin(xc, 1 - xc) + 1e-4));
            if (dx > 1e-12 * fmin(x, 1 - x) + 4e-16 || dxc > 1e-12 * fmin(xc, 1 - xc) + 4e-16)
                bad++;
        }
    diag("inverse round trips: max relative error in x %.3g", maxr);
    is_int(bad, 0, "ibeta_inv / ibetac_inv: error in x <= 1e-12 min(x, 1-x) + 4e-16");
    is_near(lm_ibeta_inv(1, 487, 0.025), 1 - pow(0.975, 1.0 / 487), 1e-15,
            "CP closed form k=0: upper = 1 - (1-p)^(1/n)");
    is_near(lm_ibeta_inv(2, 3, 0), 0, 0, "inverse at p = 0");
    is_near(lm_ibeta_inv(2, 3, 1), 1, 0, "inverse at p = 1");

    /* ---- quadrature: K15 exact to degree 22, G7 to degree 13 */
    double worstk = 0, worstg = 0;
    for (int k = 0; k <= 22; k++) {
        double err, g;
        double r = lm_quad_k15(fpow, &k, 0.0, 1.0, &err, &g);
        worstk = fmax(worstk, fabs(r - 1.0 / (k + 1)));
        if (k <= 13)
            worstg = fmax(worstg, fabs(g - 1.0 / (k + 1)));
    }
    diag("K15 max error on x^k, k<=22: %.3g; G7, k<=13: %.3g", worstk, worstg);
    ok(worstk < 1e-15 && worstg < 1e-15, "Gauss-Kronrod constants (exactness)");
    int k23 = 30;
    double e23;
    lm_quad_k15(fpow, &k23, 0, 1, &e23, NULL);
    ok(e23 > 0, "K15 error estimate nonzero beyond its degree");

    double pts[3] = {0.0, 0.3, 1.0}, r, ae;
    size_t ne;
    int rc = lm_quad_gk15(fsqrt_abs, NULL, pts, 3, 1e-12, 0, &r, &ae, &ne);
    double want = (2.0 / 3) * (pow(0.3, 1.5) + pow(0.7, 1.5));
    is_near(r, want, 1e-11, "sqrt|x - 0.3| with a breakpoint at the kink (%zu evals)", ne);
    is_int(rc, 0, "tolerance met");
    double pts2[2] = {-8.0, 8.0};
    lm_quad_gk15(fexp, NULL, pts2, 2, 1e-13, 0, &r, NULL, NULL);
    is_near(r, sqrt(M_PI), 1e-12, "Gaussian integral");
    double badpts[2] = {1.0, 0.0};
    is_int(lm_quad_gk15(fexp, NULL, badpts, 2, 1e-10, 0, &r, NULL, NULL), -1, "decreasing pts refused");

    /* ---- Brent */
    double root;
    int nev;
    rc = lm_brent(fcos, NULL, 0.0, 1.0, fcos(0, NULL), fcos(1, NULL), 1e-14, 100, &root, &nev);
    is_near(root, 0.73908513321516064166, 1e-13, "Dottie number (%d evals)", nev);
    rc = lm_brent(fcubic, NULL, 0.0, 4.0, -2.0, 62.0, 1e-14, 100, &root, &nev);
    is_near(root, cbrt(2.0), 1e-13, "cube root of 2 (%d evals)", nev);
    is_int(lm_brent(fcubic, NULL, 2.0, 4.0, 6.0, 62.0, 1e-12, 100, &root, NULL), -1,
           "no sign change refused");
    return tap_done();
}
