/* quad.c - adaptive Gauss-Kronrod G7/K15 quadrature (see quad.h). */
#include "stats/quad.h"

#include <float.h>
#include <math.h>

/* Kronrod abscissae (positive half, descending) and weights; the odd
 * indices 1, 3, 5, 7 are the 7-point Gauss nodes. */
static const double xgk[8] = {0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
                              0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
                              0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
                              0.207784955007898467600689403773245, 0.000000000000000000000000000000000};
static const double wgk[8] = {0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
                              0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
                              0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
                              0.204432940075298892414161999234649, 0.209482141084727828012999174891714};
static const double wg[4] = {0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
                             0.381830050505118944950369775488975, 0.417959183673469387755102040816327};

double lm_quad_k15(lm_quad_fn f, void *ctx, double a, double b, double *err, double *gauss)
{
    double c = 0.5 * (a + b), h = 0.5 * (b - a);
    double fc = f(c, ctx);
    double rk = fc * wgk[7], rg = fc * wg[3];
    double fv1[7], fv2[7];
    for (int j = 0; j < 7; j++) {
        double dx = h * xgk[j];
        double f1 = f(c - dx, ctx), f2 = f(c + dx, ctx);
        fv1[j] = f1;
        fv2[j] = f2;
        rk += wgk[j] * (f1 + f2);
        if (j & 1)
            rg += wg[j / 2] * (f1 + f2);
    }
    /* QUADPACK error scaling */
    double mean = 0.5 * rk, asc = wgk[7] * fabs(fc - mean);
    for (int j = 0; j < 7; j++)
        asc += wgk[j] * (fabs(fv1[j] - mean) + fabs(fv2[j] - mean));
    asc *= fabs(h);
    double e = fabs((rk - rg) * h);
    if (asc != 0.0 && e != 0.0) {
        double s = pow(200.0 * e / asc, 1.5);
        e = asc * (s < 1.0 ? s : 1.0);
    }
    double rabs = fabs(rk * h);
    if (rabs > DBL_MIN / (50.0 * DBL_EPSILON) && e < 50.0 * DBL_EPSILON * rabs)
        e = 50.0 * DBL_EPSILON * rabs;
    if (err)
        *err = e;
    if (gauss)
        *gauss = rg * h;
    return rk * h;
}

typedef struct {
    double a, b, r, e;
} panel;

int lm_quad_gk15(lm_quad_fn f, void *ctx, const double *pts, size_t npts, double abstol, double reltol,
                 double *result, double *abserr, size_t *nevals)
{
    panel p[LM_QUAD_MAX_PANELS];
    size_t n = 0, ne = 0;
    if (!f || !pts || npts < 2 || !result)
        return -1;
    for (size_t i = 0; i + 1 < npts; i++) {
        if (!(pts[i + 1] >= pts[i]))
            return -1;
        if (pts[i + 1] == pts[i])
            continue;
        if (n == LM_QUAD_MAX_PANELS)
            return -1;
        p[n].a = pts[i];
        p[n].b = pts[i + 1];
        p[n].r = lm_quad_k15(f, ctx, p[n].a, p[n].b, &p[n].e, NULL);
        ne += 15;
        n++;
    }
    int rc = 0;
    for (;;) {
        double r = 0.0, e = 0.0;
        size_t worst = 0;
        for (size_t i = 0; i < n; i++) {
            r += p[i].r;
            e += p[i].e;
            if (p[i].e > p[worst].e)
                worst = i;
        }
        double tol = fmax(abstol, reltol * fabs(r));
        if (n == 0 || e <= tol) {
            *result = r;
            if (abserr)
                *abserr = e;
            break;
        }
        double a = p[worst].a, b = p[worst].b, m = 0.5 * (a + b);
        if (n == LM_QUAD_MAX_PANELS || !(m > a && m < b)) {
            *result = r;
            if (abserr)
                *abserr = e;
            rc = 1;
            break;
        }
        double e1, e2;
        double r1 = lm_quad_k15(f, ctx, a, m, &e1, NULL);
        double r2 = lm_quad_k15(f, ctx, m, b, &e2, NULL);
        ne += 30;
        p[worst] = (panel){a, m, r1, e1};
        p[n++] = (panel){m, b, r2, e2};
    }
    if (nevals)
        *nevals = ne;
    return rc;
}
