/* dpest.c - differential-privacy epsilon from membership-inference counts
 * (see dpest.h for the paper and the package functions followed).
 *
 * Posterior CDF of eps_hat (joint-beta, = consistently ordered Dirichlet):
 *   CDF(eps) = P[(x, y) in R(eps, delta)]
 *            = int_0^1 p_x(x) [F_y(hi(x)) - F_y(lo(x))] dx,
 * x = fnr ~ Beta(FN + c, TP + c), y = fpr ~ Beta(FP + c, TN + c), F_y the
 * regularized incomplete beta function.  We integrate in x (not in u = F_x(x),
 * which would also remove the endpoint singularity: that needs an inverse
 * incomplete beta per node, several times the cost).  The x-range is cut to
 * the posterior quantiles 1e-16 and 1 - 1e-16; where a shape parameter of x is
 * below 1 (x^(-1/2) endpoint singularity when FN = 0 or TP = 0 under the
 * Jeffreys prior) that end is integrated in t with x = t^2 (or 1 - x = t^2),
 * which makes the integrand bounded.  Breakpoints: the posterior median of x,
 * the kinks of lo and hi (where their max / min switch branches), and the x
 * where the active linear piece of lo or hi crosses the posterior quantiles
 * 1e-12, 1e-3, 1/2, 1 - 1e-3, 1 - 1e-12 of y (the steep part of F_y(lo(x)) and
 * F_y(hi(x)) is only sd(y) / e^eps wide in x), so the adaptive G7/K15 rule
 * never misses a narrow feature.  Cancellation is avoided by integrating
 * F_y(hi) - F_y(lo) as Fc_y(lo) - Fc_y(hi) when lo is above the median, and by
 * using an absolute tolerance (upper quantiles solve 1 - CDF = alpha/2 to the
 * same absolute accuracy).
 * Density: pdf(eps) = int p_x [p_y(hi) d hi/d eps - p_y(lo) d lo/d eps] dx
 * (boundary form, as joint_density.py Beta.eps_pdf with the velocities of
 * privacy_region.py privacy_velocity_lo / privacy_velocity_hi), derivatives
 * zero where a bound is clamped.
 * Quantiles: CDF(0) >= p gives 0; otherwise eps_max = 1, 2, 4, ..., 64, 100
 * until the target is crossed, then Brent (xtol 1e-9).  Not crossed at 100:
 * +inf, capped.
 */
#include "privacy/dpest.h"

#include "core/rng.h"
#include "stats/beta.h"
#include "stats/quad.h"
#include "stats/root.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/diag.h"

/* ---------------------------------------------------------------- names */

static const struct {
    const char *name;
    lm_dp_method m;
} method_names[] = {
    {"bayes", LM_DP_BAYES},
    {"joint-beta", LM_DP_BAYES},
    {"dirichlet", LM_DP_DIRICHLET},
    {"joint-dirichlet", LM_DP_DIRICHLET},
    {"clopper-pearson", LM_DP_CLOPPER_PEARSON},
    {"beta", LM_DP_CLOPPER_PEARSON},
    {"jeffreys", LM_DP_JEFFREYS},
    {"bayes-mc", LM_DP_BAYES_MC},
};

int lm_dp_method_parse(const char *s, lm_dp_method *m)
{
    for (size_t i = 0; s && i < sizeof method_names / sizeof method_names[0]; i++)
        if (strcmp(s, method_names[i].name) == 0) {
            *m = method_names[i].m;
            return 0;
        }
    return -1;
}

const char *lm_dp_method_name(lm_dp_method m)
{
    switch (m) {
    case LM_DP_BAYES: return "bayes";
    case LM_DP_DIRICHLET: return "dirichlet";
    case LM_DP_CLOPPER_PEARSON: return "clopper-pearson";
    case LM_DP_JEFFREYS: return "jeffreys";
    case LM_DP_BAYES_MC: return "bayes-mc";
    }
    return "?";
}

int lm_dp_prior_parse(const char *s, lm_dp_prior *p)
{
    if (s && strcmp(s, "jeffreys") == 0) {
        *p = LM_DP_PRIOR_JEFFREYS;
        return 0;
    }
    if (s && strcmp(s, "uniform") == 0) {
        *p = LM_DP_PRIOR_UNIFORM;
        return 0;
    }
    return -1;
}

const char *lm_dp_prior_name(lm_dp_prior p)
{
    return p == LM_DP_PRIOR_UNIFORM ? "uniform" : "jeffreys";
}

void lm_dp_opts_default(lm_dp_opts *o)
{
    memset(o, 0, sizeof *o);
    o->method = LM_DP_BAYES;
    o->prior = LM_DP_PRIOR_JEFFREYS;
    o->sided = LM_DP_TWO_SIDED;
    o->delta = 0.0;
    o->alpha = 0.05;
}

/* ------------------------------------------------------- point estimate */

double lm_dp_eps_point(double fnr, double fpr, double delta)
{
    if (!(fnr >= 0) || !(fpr >= 0) || !(delta >= 0) || !(delta < 1))
        return NAN;
    if (fpr > 1.0 - fnr) {
        double t = fpr;
        fpr = 1.0 - fnr;
        fnr = 1.0 - t;
    }
    double rlo = fmin(fpr, fnr), rhi = fmax(fpr, fnr);
    if (rhi > 1.0 - delta - rlo)
        return 0.0;
    if (rlo == 0.0)
        return INFINITY;
    return log((1.0 - delta - rhi) / rlo);
}

double lm_dp_advantage_bound(double eps, double delta)
{
    if (isnan(eps) || isnan(delta))
        return NAN;
    if (eps == INFINITY)
        return 1.0;
    /* (e^eps - 1)/(e^eps + 1) = tanh(eps/2) */
    return tanh(0.5 * eps) + 2.0 * delta / (exp(eps) + 1.0);
}

/* ------------------------------------------------------------ baselines */

int lm_dp_rate_interval(double k, double n, double a, lm_dp_method method, double *lo, double *hi)
{
    if (!(n > 0) || !(k >= 0) || !(k <= n) || !(a > 0) || !(a < 1) || !isfinite(n))
        return -1;
    double t = 0.5 * a;
    if (method == LM_DP_CLOPPER_PEARSON) {
        *lo = (k == 0) ? 0.0 : lm_ibeta_inv(k, n - k + 1.0, t);
        *hi = (k == n) ? 1.0 : lm_ibetac_inv(k + 1.0, n - k, t);
    } else if (method == LM_DP_JEFFREYS) {
        *lo = (k == 0) ? 0.0 : lm_ibeta_inv(k + 0.5, n - k + 0.5, t);
        *hi = (k == n) ? 1.0 : lm_ibetac_inv(k + 0.5, n - k + 0.5, t);
    } else {
        return -1;
    }
    return 0;
}

/* Two-sided baseline interval at significance a (binomial_proportion.py,
 * compute_eps_lo_hi). */
static int baseline_interval(const lm_dp_counts *c, double delta, double a, lm_dp_method m, double *eps_lo,
                             double *eps_hi)
{
    double fpr_l, fpr_r, fnr_l, fnr_r;
    if (lm_dp_rate_interval(c->fp, c->fp + c->tn, 0.5 * a, m, &fpr_l, &fpr_r) ||
        lm_dp_rate_interval(c->fn, c->fn + c->tp, 0.5 * a, m, &fnr_l, &fnr_r))
        return -1;
    int straddle = (fnr_r > 1.0 - fpr_r) != (fnr_l > 1.0 - fpr_l);
    double eps_r = lm_dp_eps_point(fnr_r, fpr_r, delta);
    double eps_l = lm_dp_eps_point(fnr_l, fpr_l, delta);
    *eps_lo = straddle ? 0.0 : fmin(eps_l, eps_r);
    *eps_hi = fmax(eps_l, eps_r);
    return (isnan(*eps_lo) || isnan(*eps_hi)) ? -1 : 0;
}

/* ------------------------------------------------------------ posterior */

typedef struct {
    double ax, bx, ay, by, lbx, lby;
    double delta;
    double xL, xU, xmed, ymed;
    double yq[5]; /* posterior quantiles of y at YQ_LEVELS */
    int sub_lo, sub_hi;
} post;

static const double YQ_LEVELS[5] = {1e-12, 1e-3, 0.5, 1.0 - 1e-3, 1.0 - 1e-12};

static void post_init(post *P, const lm_dp_counts *c, lm_dp_prior prior, double delta)
{
    double pc = (prior == LM_DP_PRIOR_UNIFORM) ? 1.0 : 0.5;
    P->ax = c->fn + pc;
    P->bx = c->tp + pc;
    P->ay = c->fp + pc;
    P->by = c->tn + pc;
    P->lbx = lm_lbeta(P->ax, P->bx);
    P->lby = lm_lbeta(P->ay, P->by);
    P->delta = delta;
    P->sub_lo = P->ax < 1.0;
    P->sub_hi = P->bx < 1.0;
    P->xL = P->sub_lo ? 0.0 : lm_ibeta_inv(P->ax, P->bx, 1e-16);
    P->xU = P->sub_hi ? 1.0 : lm_ibetac_inv(P->ax, P->bx, 1e-16);
    P->xmed = lm_ibeta_inv(P->ax, P->bx, 0.5);
    for (int i = 0; i < 5; i++)
        P->yq[i] = (i < 3) ? lm_ibeta_inv(P->ay, P->by, YQ_LEVELS[i])
                           : lm_ibetac_inv(P->ay, P->by, 1.0 - YQ_LEVELS[i]);
    P->ymed = P->yq[2];
    if (!(P->xmed > P->xL))
        P->xmed = 0.5 * (P->xL + P->xU);
    if (!(P->xmed < P->xU))
        P->xmed = 0.5 * (P->xL + P->xU);
}

enum { K_CDF, K_PDF };
enum { MAP_X, MAP_T0, MAP_T1 };

typedef struct {
    const post *P;
    double e, ie; /* e^eps, e^-eps */
    int kind, map;
} ictx;

/* Integrand at x (xc = 1 - x), without the Jacobian of the map. */
static double integrand_x(const ictx *C, double x, double xc)
{
    const post *P = C->P;
    double lpx = lm_beta_logpdf_xc(P->ax, P->bx, P->lbx, x, xc);
    if (lpx < -745.0)
        return 0.0;
    double d = P->delta, e = C->e, ie = C->ie;
    double omdx = (x <= 0.5) ? (1.0 - d) - x : xc - d; /* 1 - delta - x */
    /* lo(x) = max(0, 1 - d - x e, (1 - d - x) e^-eps), with 1 - lo */
    double lo = 0.0, loc = 1.0, dlo = 0.0;
    double A = (1.0 - d) - x * e;
    if (A > lo) {
        lo = A;
        loc = d + x * e;
        dlo = -x * e;
    }
    double B = omdx * ie;
    if (B > lo) {
        lo = B;
        loc = 1.0 - B;
        dlo = -omdx * ie;
    }
    /* hi(x) = min(1, 1 + (d - x) e^-eps, d + (1 - x) e^eps), with 1 - hi */
    double hi = 1.0, hic = 0.0, dhi = 0.0;
    double Cc = (x - d) * ie; /* 1 - (1 + (d - x) e^-eps) */
    if (Cc > 0.0) {
        hi = 1.0 - Cc;
        hic = Cc;
        dhi = (x - d) * ie;
    }
    double D = d + xc * e;
    if (D < hi) {
        hi = D;
        hic = (1.0 - d) - xc * e;
        dhi = xc * e;
    }
    double px = exp(lpx);
    if (C->kind == K_PDF) {
        double v = 0.0;
        if (dhi != 0.0 && hi > 0.0 && hic > 0.0)
            v += exp(lm_beta_logpdf_xc(P->ay, P->by, P->lby, hi, hic)) * dhi;
        if (dlo != 0.0 && lo > 0.0 && loc > 0.0)
            v -= exp(lm_beta_logpdf_xc(P->ay, P->by, P->lby, lo, loc)) * dlo;
        return px * v;
    }
    if (hi <= lo)
        return 0.0;
    double Ilo = 0.0, Iclo = 1.0, Ihi = 1.0, Ichi = 0.0;
    if (lo > 0.0)
        lm_ibeta_pair_xc(P->ay, P->by, P->lby, lo, loc, &Ilo, &Iclo);
    if (hi < 1.0)
        lm_ibeta_pair_xc(P->ay, P->by, P->lby, hi, hic, &Ihi, &Ichi);
    return px * ((lo >= P->ymed) ? Iclo - Ichi : Ihi - Ilo);
}

static double integrand(double t, void *v)
{
    const ictx *C = v;
    switch (C->map) {
    case MAP_T0: {
        double x = t * t;
        return 2.0 * t * integrand_x(C, x, 1.0 - x);
    }
    case MAP_T1: {
        double xc = t * t;
        return 2.0 * t * integrand_x(C, 1.0 - xc, xc);
    }
    default: return integrand_x(C, t, 1.0 - t);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Integral of kind over the x-range for one eps (finite, >= 0). */
static double post_integral(const post *P, double eps, int kind)
{
    double d = P->delta, e = exp(eps), ie = exp(-eps);
    double cand[40];
    size_t nc = 0;
    /* kinks of lo and hi */
    cand[nc++] = (1.0 - d) / (1.0 + e);
    cand[nc++] = (1.0 - d) * ie;
    cand[nc++] = 1.0 - d;
    cand[nc++] = d;
    cand[nc++] = 1.0 - (1.0 - d) / (1.0 + e);
    cand[nc++] = 1.0 - (1.0 - d) * ie;
    /* where each linear piece of lo and hi, where it is the active one,
     * crosses a posterior quantile of y: F_y(lo(x)) and F_y(hi(x)) change
     * over an x-width of sd(y) / slope, which can be far narrower than the
     * posterior of x (slope e^eps) */
    for (int i = 0; i < 5; i++) {
        double y = P->yq[i];
        double xs[4] = {(1.0 - d - y) * ie, 1.0 - d - y * e, d + (1.0 - y) * e, 1.0 - (y - d) * ie};
        for (int j = 0; j < 4; j++) {
            double x = xs[j];
            if (!(x > P->xL && x < P->xU))
                continue;
            double A = (1.0 - d) - x * e, B = (1.0 - d - x) * ie;
            double Cv = 1.0 + (d - x) * ie, Dv = d + (1.0 - x) * e;
            int active = (j == 0)   ? (A >= B && A > 0.0)
                         : (j == 1) ? (B >= A && B > 0.0)
                         : (j == 2) ? (Cv <= Dv && Cv < 1.0)
                                    : (Dv <= Cv && Dv < 1.0);
            if (active)
                cand[nc++] = x;
        }
    }
    qsort(cand, nc, sizeof cand[0], cmp_double);

    ictx C = {P, e, ie, kind, MAP_X};
    double total = 0.0;
    double pts[48];
    for (int side = 0; side < 2; side++) {
        double a = side ? P->xmed : P->xL, b = side ? P->xU : P->xmed;
        int sub = side ? P->sub_hi : P->sub_lo;
        size_t n = 0;
        if (!sub) {
            C.map = MAP_X;
            pts[n++] = a;
            for (size_t i = 0; i < nc; i++)
                if (cand[i] > a && cand[i] < b && cand[i] > pts[n - 1])
                    pts[n++] = cand[i];
            pts[n++] = b;
        } else if (side == 0) {
            C.map = MAP_T0; /* x = t^2, t in [0, sqrt(xmed)] */
            pts[n++] = 0.0;
            for (size_t i = 0; i < nc; i++)
                if (cand[i] > 0.0 && cand[i] < b) {
                    double t = sqrt(cand[i]);
                    if (t > pts[n - 1])
                        pts[n++] = t;
                }
            pts[n++] = sqrt(b);
        } else {
            C.map = MAP_T1; /* 1 - x = t^2, t in [0, sqrt(1 - xmed)] */
            pts[n++] = 0.0;
            for (size_t i = nc; i-- > 0;)
                if (cand[i] > a && cand[i] < 1.0) {
                    double t = sqrt(1.0 - cand[i]);
                    if (t > pts[n - 1])
                        pts[n++] = t;
                }
            pts[n++] = sqrt(1.0 - a);
        }
        if (!(pts[n - 1] > pts[0]))
            continue;
        double r = 0.0;
        lm_quad_gk15(integrand, &C, pts, n, 0.5 * LM_DP_CDF_ABSTOL, 0.0, &r, NULL, NULL);
        total += r;
    }
    return total;
}

static double post_cdf(const post *P, double eps)
{
    if (eps == INFINITY)
        return 1.0;
    double v = post_integral(P, eps, K_CDF);
    return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v);
}

static double post_pdf(const post *P, double eps)
{
    if (eps == INFINITY)
        return 0.0;
    double v = post_integral(P, eps, K_PDF);
    return v < 0.0 ? 0.0 : v;
}

/* Evaluated CDF values, shared by the quantiles of one record. */
#define QCACHE_MAX 256
typedef struct {
    const post *P;
    size_t n;
    double eps[QCACHE_MAX], cdf[QCACHE_MAX];
} qcache;

static double cache_cdf(qcache *K, double eps)
{
    for (size_t i = 0; i < K->n; i++)
        if (K->eps[i] == eps)
            return K->cdf[i];
    double v = post_cdf(K->P, eps);
    if (K->n < QCACHE_MAX) {
        K->eps[K->n] = eps;
        K->cdf[K->n] = v;
        K->n++;
    }
    return v;
}

typedef struct {
    qcache *K;
    double p;
} qctx;

/* Increasing in eps, zero at the p-quantile.  Upper quantiles use the same
 * CDF: its error is absolute (LM_DP_CDF_ABSTOL), so 1 - CDF is as accurate
 * as a separate survival integral for the alpha values that matter. */
static double qfun(double eps, void *v)
{
    const qctx *Q = v;
    return cache_cdf(Q->K, eps) - Q->p;
}

/* p-quantile; guess (may be NaN) is a cheap first estimate used to narrow
 * the bracket before Brent. */
static int post_quantile(qcache *K, double p, double guess, double *eps, int *capped)
{
    qctx Q = {K, p};
    *capped = 0;
    double f0 = qfun(0.0, &Q);
    if (f0 >= 0.0) {
        *eps = 0.0;
        return 0;
    }
    if (guess > 0.0 && guess < LM_DP_EPS_CAP)
        (void)qfun(guess, &Q);
    /* tightest bracket among the evaluated points */
    double a = 0.0, fa = f0, b = NAN, fb = NAN;
    for (size_t i = 0; i < K->n; i++) {
        double f = K->cdf[i] - p;
        if (f < 0.0 && K->eps[i] > a) {
            a = K->eps[i];
            fa = f;
        }
    }
    for (size_t i = 0; i < K->n; i++) {
        double f = K->cdf[i] - p;
        if (f >= 0.0 && K->eps[i] > a && !(K->eps[i] >= b)) {
            b = K->eps[i];
            fb = f;
        }
    }
    if (isnan(b)) {
        b = (a == 0.0) ? 1.0 : 2.0 * a;
        for (;;) {
            if (b > LM_DP_EPS_CAP)
                b = LM_DP_EPS_CAP;
            fb = qfun(b, &Q);
            if (fb >= 0.0)
                break;
            if (b >= LM_DP_EPS_CAP) {
                *eps = INFINITY;
                *capped = 1;
                return 0;
            }
            a = b;
            fa = fb;
            b = 2.0 * b;
        }
    }
    double r;
    if (lm_brent(qfun, &Q, a, b, fa, fb, LM_DP_EPS_XTOL, 200, &r, NULL) < 0)
        return -1;
    *eps = r;
    return 0;
}

/* ------------------------------------------------------------ validation */

static int check_counts(const lm_dp_counts *c, char *err, size_t errlen)
{
    const double v[4] = {c->fn, c->fp, c->tn, c->tp};
    const char *nm[4] = {"FN", "FP", "TN", "TP"};
    for (int i = 0; i < 4; i++)
        if (!isfinite(v[i]) || v[i] < 0) {
            lm_seterr(err, errlen, "count %s must be a finite non-negative number (got %g)", nm[i], v[i]);
            return -1;
        }
    if (!(c->fn + c->tp > 0)) {
        lm_seterr(err, errlen,
                  "no members: TP + FN is 0, so the false-negative rate is undefined "
                  "(every challenge was a non-member)");
        return -1;
    }
    if (!(c->fp + c->tn > 0)) {
        lm_seterr(err, errlen,
                  "no non-members: TN + FP is 0, so the false-positive rate is undefined "
                  "(every challenge was a member)");
        return -1;
    }
    return 0;
}

static int check_delta(double delta, char *err, size_t errlen)
{
    if (!(delta >= 0.0 && delta < 1.0)) {
        lm_seterr(err, errlen, "delta must be in [0, 1) (got %g)", delta);
        return -1;
    }
    return 0;
}

int lm_dp_validate(const lm_dp_counts *c, const lm_dp_opts *o, char *err, size_t errlen)
{
    if (!c || !o) {
        lm_seterr(err, errlen, "internal error: no counts or options");
        return -1;
    }
    if (check_counts(c, err, errlen) || check_delta(o->delta, err, errlen))
        return -1;
    if (!(o->alpha > 0.0 && o->alpha < 1.0)) {
        lm_seterr(err, errlen, "alpha must be in (0, 1) (got %g)", o->alpha);
        return -1;
    }
    if ((unsigned)o->method > LM_DP_BAYES_MC) {
        lm_seterr(err, errlen, "unknown method %d", (int)o->method);
        return -1;
    }
    if ((unsigned)o->prior > LM_DP_PRIOR_UNIFORM) {
        lm_seterr(err, errlen, "unknown prior %d", (int)o->prior);
        return -1;
    }
    if ((unsigned)o->sided > LM_DP_UPPER) {
        lm_seterr(err, errlen, "unknown sidedness %d", (int)o->sided);
        return -1;
    }
    if (o->sided != LM_DP_TWO_SIDED && (o->method == LM_DP_CLOPPER_PEARSON || o->method == LM_DP_JEFFREYS) &&
        !(2.0 * o->alpha < 1.0)) {
        lm_seterr(err, errlen,
                  "a one-sided %s bound at alpha = %g is the end of the two-sided interval at "
                  "2 alpha, which needs alpha < 0.5",
                  lm_dp_method_name(o->method), o->alpha);
        return -1;
    }
    return 0;
}

/* --------------------------------------------------------------- public */

int lm_dp_posterior_grid(const lm_dp_counts *c, lm_dp_prior prior, double delta, const double *eps, size_t n,
                         double *cdf, double *pdf, char *err, size_t errlen)
{
    if (check_counts(c, err, errlen) || check_delta(delta, err, errlen))
        return -1;
    post P;
    post_init(&P, c, prior, delta);
    for (size_t i = 0; i < n; i++) {
        if (!(eps[i] >= 0.0)) {
            lm_seterr(err, errlen, "posterior grid: eps must be >= 0 (got %g)", eps[i]);
            return -1;
        }
        if (cdf)
            cdf[i] = post_cdf(&P, eps[i]);
        if (pdf)
            pdf[i] = post_pdf(&P, eps[i]);
    }
    return 0;
}

int lm_dp_posterior_quantile(const lm_dp_counts *c, lm_dp_prior prior, double delta, double p, double *eps,
                             int *capped, char *err, size_t errlen)
{
    if (check_counts(c, err, errlen) || check_delta(delta, err, errlen))
        return -1;
    if (!(p > 0.0 && p < 1.0)) {
        lm_seterr(err, errlen, "quantile level must be in (0, 1) (got %g)", p);
        return -1;
    }
    post P;
    post_init(&P, c, prior, delta);
    qcache K;
    K.P = &P;
    K.n = 0;
    if (post_quantile(&K, p, NAN, eps, capped)) {
        lm_seterr(err, errlen, "root finding for the %g-quantile of epsilon failed", p);
        return -1;
    }
    return 0;
}

/* k-th smallest of v[0..n) (0-based), partially reordering v (Hoare
 * quickselect with median-of-three pivots). */
static double select_kth(double *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        double a = v[lo], b = v[mid], c = v[hi];
        double piv = (a < b) ? ((b < c) ? b : (a < c ? c : a)) : ((a < c) ? a : (b < c ? c : b));
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < piv)
                i++;
            while (v[j] > piv)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return v[k];
    }
    return v[k];
}

int lm_dp_mc_quantiles(const lm_dp_counts *c, lm_dp_prior prior, double delta, uint64_t n, uint64_t seed,
                       uint64_t stream, const double *probs, size_t k, double *out, char *err, size_t errlen)
{
    if (check_counts(c, err, errlen) || check_delta(delta, err, errlen))
        return -1;
    if (n < 2 || n > ((uint64_t)1 << 34)) {
        lm_seterr(err, errlen, "number of Monte Carlo draws must be in [2, 2^34] (got %llu)",
                  (unsigned long long)n);
        return -1;
    }
    for (size_t i = 0; i < k; i++)
        if (!(probs[i] >= 0.0 && probs[i] <= 1.0)) {
            lm_seterr(err, errlen, "quantile level must be in [0, 1] (got %g)", probs[i]);
            return -1;
        }
    double *v = lm_xmalloc(lm_xmul((size_t)n, sizeof *v));
    double pc = (prior == LM_DP_PRIOR_UNIFORM) ? 1.0 : 0.5;
    double ax = c->fn + pc, bx = c->tp + pc, ay = c->fp + pc, by = c->tn + pc;
    lm_rng r0;
    lm_rng_init(&r0, seed, stream);
    uint64_t s2 = lm_rng_u64(&r0);
    long long nb = (long long)((n + LM_DP_MC_BLOCK - 1) / LM_DP_MC_BLOCK);
#pragma omp parallel for schedule(static)
    for (long long b = 0; b < nb; b++) {
        lm_rng r;
        lm_rng_init(&r, s2, (uint64_t)b);
        uint64_t i0 = (uint64_t)b * LM_DP_MC_BLOCK;
        uint64_t i1 = i0 + LM_DP_MC_BLOCK < n ? i0 + LM_DP_MC_BLOCK : n;
        for (uint64_t i = i0; i < i1; i++) {
            double x = lm_rng_beta(&r, ax, bx);
            double y = lm_rng_beta(&r, ay, by);
            v[i] = lm_dp_eps_point(x, y, delta);
        }
    }
    for (size_t i = 0; i < k; i++) {
        double h = (double)(n - 1) * probs[i];
        size_t j = (size_t)floor(h);
        if (j > n - 1)
            j = n - 1;
        double w = h - (double)j;
        double lo = select_kth(v, (size_t)n, j), res = lo;
        if (w > 0.0 && j + 1 < n) {
            double hi = INFINITY;
            for (size_t m = j + 1; m < n; m++) /* after select, v[j+1..] >= v[j] */
                if (v[m] < hi)
                    hi = v[m];
            res = (hi == lo) ? lo : lo + w * (hi - lo);
        }
        out[i] = (res > LM_DP_EPS_CAP) ? INFINITY : res;
    }
    free(v);
    return 0;
}

int lm_dp_estimate(const lm_dp_counts *c, const lm_dp_opts *o, lm_dp_result *r, char *err, size_t errlen)
{
    if (lm_dp_validate(c, o, err, errlen))
        return -1;
    memset(r, 0, sizeof *r);
    double P = c->fn + c->tp, N = c->fp + c->tn;
    r->fnr = c->fn / P;
    r->fpr = c->fp / N;
    r->eps_point = lm_dp_eps_point(r->fnr, r->fpr, o->delta);
    r->eps_lo = 0.0;
    r->eps_hi = INFINITY;
    double a = o->alpha;

    if (o->method == LM_DP_CLOPPER_PEARSON || o->method == LM_DP_JEFFREYS) {
        double lo, hi;
        double aa = (o->sided == LM_DP_TWO_SIDED) ? a : 2.0 * a;
        if (baseline_interval(c, o->delta, aa, o->method, &lo, &hi)) {
            lm_seterr(err, errlen, "%s interval failed for these counts", lm_dp_method_name(o->method));
            return -1;
        }
        if (o->sided != LM_DP_UPPER)
            r->eps_lo = lo;
        if (o->sided != LM_DP_LOWER)
            r->eps_hi = hi;
        return 0;
    }

    /* Bayesian: tail probabilities of the two ends */
    double plo = (o->sided == LM_DP_TWO_SIDED) ? 0.5 * a : a; /* lower end: plo-quantile */
    double qhi = plo;                                         /* upper end: (1 - qhi)-quantile */
    int want_lo = o->sided != LM_DP_UPPER, want_hi = o->sided != LM_DP_LOWER;

    if (o->method == LM_DP_BAYES_MC) {
        double probs[2], out[2];
        size_t k = 0;
        if (want_lo)
            probs[k++] = plo;
        if (want_hi)
            probs[k++] = 1.0 - qhi;
        uint64_t n = o->n_mc ? o->n_mc : LM_DP_MC_DEFAULT_DRAWS;
        if (lm_dp_mc_quantiles(c, o->prior, o->delta, n, o->seed, o->stream, probs, k, out, err, errlen))
            return -1;
        k = 0;
        if (want_lo) {
            r->eps_lo = out[k++];
            if (r->eps_lo == INFINITY)
                r->capped = 1;
        }
        if (want_hi) {
            r->eps_hi = out[k++];
            if (r->eps_hi == INFINITY)
                r->capped = 1;
        }
        /* rough standard errors sqrt(p (1 - p) / n) / pdf(eps_p) */
        post Pp;
        post_init(&Pp, c, o->prior, o->delta);
        if (want_lo && isfinite(r->eps_lo)) {
            double f = post_pdf(&Pp, r->eps_lo);
            r->mc_se_lo = f > 0 ? sqrt(plo * (1 - plo) / (double)n) / f : INFINITY;
        }
        if (want_hi && isfinite(r->eps_hi)) {
            double f = post_pdf(&Pp, r->eps_hi);
            r->mc_se_hi = f > 0 ? sqrt(qhi * (1 - qhi) / (double)n) / f : INFINITY;
        }
        return 0;
    }

    post Pp;
    post_init(&Pp, c, o->prior, o->delta);
    qcache K;
    K.P = &Pp;
    K.n = 0;
    /* first guesses: Jeffreys-baseline ends at alpha (usually just outside
     * the Bayesian interval) and eps_hat at the posterior means */
    double jlo = NAN, jhi = NAN;
    if (baseline_interval(c, o->delta, (o->sided == LM_DP_TWO_SIDED) ? a : 2.0 * a, LM_DP_JEFFREYS, &jlo,
                          &jhi))
        jlo = jhi = NAN;
    double mid = lm_dp_eps_point(Pp.ax / (Pp.ax + Pp.bx), Pp.ay / (Pp.ay + Pp.by), o->delta);
    int cap;
    if (want_lo) {
        if (jlo > 0.0 && jlo < LM_DP_EPS_CAP)
            (void)cache_cdf(&K, jlo);
        if (post_quantile(&K, plo, mid, &r->eps_lo, &cap)) {
            lm_seterr(err, errlen, "root finding for the lower bound failed");
            return -1;
        }
        r->capped |= cap;
    }
    if (want_hi) {
        if (post_quantile(&K, 1.0 - qhi, jhi, &r->eps_hi, &cap)) {
            lm_seterr(err, errlen, "root finding for the upper bound failed");
            return -1;
        }
        r->capped |= cap;
    }
    return 0;
}
