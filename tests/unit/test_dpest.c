/* test_dpest.c - unit tests for lib/privacy/dpest: point estimates, rate
 * intervals, G-README (the example of the privacy-estimates README: FN 0, FP
 * 512, TN 1, TP 487, delta 1e-5, alpha 0.1), G-ALL-CORRECT (a perfect attack),
 * the properties the package's repository tested in tests/test_estimates/
 * (test_estimates.py, test_joint.py: symmetries, one-sided bound = end of the
 * two-sided interval at 2 alpha, nesting inside Clopper-Pearson, eps_lo > 0 at
 * delta 0, density = derivative of the CDF), input validation, and the golden
 * files testdata/golden/dp-estimate/{cases,reference}.jsonl written by
 * tests/golden/dp_estimate.py (independent scipy/QUADPACK values to 1e-6; PyPI
 * privacy-estimates 0.1.0.post1 within its own tolerance). */
#include "privacy/dpest.h"
#include "tap.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double jnum(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_string(v) && strcmp(json_string_value(v), "inf") == 0)
        return INFINITY;
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int est(lm_dp_counts c, lm_dp_method m, lm_dp_sided s, double d, double a, lm_dp_result *r)
{
    lm_dp_opts o;
    char err[256];
    lm_dp_opts_default(&o);
    o.method = m;
    o.sided = s;
    o.delta = d;
    o.alpha = a;
    int rc = lm_dp_estimate(&c, &o, r, err, sizeof err);
    if (rc)
        diag("error: %s", err);
    return rc;
}

#define NCASE 64
static struct {
    lm_dp_counts c;
    double delta, alpha;
    lm_dp_sided s;
    int mp_ok; /* the bounds of this case are confirmed by mpmath */
} cs[NCASE];
static int ncs;

static void golden(void)
{
    json_error_t je;
    FILE *f = fopen("testdata/golden/dp-estimate/cases.jsonl", "r");
    ok(f != NULL, "open cases.jsonl");
    if (!f)
        return;
    char line[4096];
    double dmax = 0, dcp = 0, dj = 0, wsum = 0;
    int nw = 0, n = 0, nbad = 0, nmp = 0, nmpbad = 0;
    while (fgets(line, sizeof line, f) && ncs < NCASE) {
        json_t *o = json_loads(line, 0, &je);
        if (!o)
            continue;
        /* mp_ok: mpmath (20 digits; 30 and the continued fraction of the
         * incomplete beta for counts above 1000, tests/golden/dp_estimate.py)
         * found CDF(b - 1e-7) < p < CDF(b + 1e-7) at
         * both bounds b of the independent values, so those are within 1e-7
         * of the high-precision quantiles; the C bounds are checked against
         * them to 1e-6 below. */
        json_t *mp = json_object_get(o, "mp_ok");
        if (mp && json_is_true(mp))
            nmp++;
        else if (mp)
            nmpbad++;
        lm_dp_counts c = {jnum(o, "FN"), jnum(o, "FP"), jnum(o, "TN"), jnum(o, "TP")};
        const char *sd = json_string_value(json_object_get(o, "sided"));
        lm_dp_sided s = strcmp(sd, "two") == 0     ? LM_DP_TWO_SIDED
                        : strcmp(sd, "lower") == 0 ? LM_DP_LOWER
                                                   : LM_DP_UPPER;
        double d = jnum(o, "delta"), a = jnum(o, "alpha");
        cs[ncs].c = c;
        cs[ncs].delta = d;
        cs[ncs].alpha = a;
        cs[ncs].s = s;
        cs[ncs].mp_ok = mp && json_is_true(mp);
        ncs++;
        lm_dp_result rb, rd, rcp, rj;
        est(c, LM_DP_BAYES, s, d, a, &rb);
        est(c, LM_DP_DIRICHLET, s, d, a, &rd);
        est(c, LM_DP_CLOPPER_PEARSON, s, d, a, &rcp);
        est(c, LM_DP_JEFFREYS, s, d, a, &rj);
        double want[6] = {jnum(o, "bayes_lo"), jnum(o, "bayes_hi"),    jnum(o, "cp_lo"),
                          jnum(o, "cp_hi"),    jnum(o, "jeffreys_lo"), jnum(o, "jeffreys_hi")};
        double got[6] = {rb.eps_lo, rb.eps_hi, rcp.eps_lo, rcp.eps_hi, rj.eps_lo, rj.eps_hi};
        for (int i = 0; i < 6; i++) {
            double e = (got[i] == want[i]) ? 0 : fabs(got[i] - want[i]);
            if (!(e <= 1e-6)) {
                nbad++;
                diag("case %d bound %d: got %.10g want %.10g", n, i, got[i], want[i]);
            }
            if (i < 2)
                dmax = fmax(dmax, e);
            else if (i < 4)
                dcp = fmax(dcp, e);
            else
                dj = fmax(dj, e);
        }
        if (rd.eps_lo != rb.eps_lo || rd.eps_hi != rb.eps_hi)
            nbad++;
        is_near(rb.eps_point, jnum(o, "eps_point"), 1e-12, "case %d point estimate", n);
        /* width ratio vs Clopper-Pearson where both are finite, two-sided */
        if (s == LM_DP_TWO_SIDED && isfinite(rcp.eps_hi) && isfinite(rb.eps_hi) &&
            rcp.eps_hi - rcp.eps_lo > 0) {
            wsum += (rb.eps_hi - rb.eps_lo) / (rcp.eps_hi - rcp.eps_lo);
            nw++;
        }
        n++;
        json_decref(o);
    }
    fclose(f);
    ok(n >= 40, "at least 40 golden cases (%d)", n);
    ok(nmp >= 40 && nmpbad == 0, "mpmath confirms the bounds of %d cases (%d disagree)", nmp, nmpbad);
    diag("max |C - independent| joint-beta %.3g, Clopper-Pearson %.3g, Jeffreys %.3g", dmax, dcp, dj);
    is_int(nbad, 0, "every bound within 1e-6 of the independent values; dirichlet = bayes");
    if (nw)
        diag("joint-beta / Clopper-Pearson two-sided width, mean over %d finite cases: %.3f "
             "(%.0f%% narrower)",
             nw, wsum / nw, 100 * (1 - wsum / nw));
}

static void reference(void)
{
    json_error_t je;
    FILE *f = fopen("testdata/golden/dp-estimate/reference.jsonl", "r");
    ok(f != NULL, "open reference.jsonl");
    if (!f)
        return;
    char line[4096];
    int nok = 0, nerr = 0, nto = 0, nbad = 0, nquirk = 0, nflat = 0, nceil = 0, ninacc = 0;
    int ndirtype = 0, nper[5] = {0};
    double dinacc = 0;
    double dmax[5] = {0, 0, 0, 0, 0};
    /* joint-dirichlet-patched: the package's Dirichlet code run with its
     * TypeError worked around (tests/golden/dp_estimate.py) */
    const char *mn[5] = {"joint-beta", "joint-dirichlet", "beta", "jeffreys", "joint-dirichlet-patched"};
    while (fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, &je);
        if (!o)
            continue;
        int id = (int)jnum(o, "id");
        const char *m = json_string_value(json_object_get(o, "method"));
        const char *st = json_string_value(json_object_get(o, "status"));
        if (strcmp(st, "ok") != 0) {
            const char *msg = json_string_value(json_object_get(o, "message"));
            if (strcmp(st, "timeout") == 0)
                nto++;
            else if (strcmp(m, "joint-dirichlet") == 0 && msg && strstr(msg, "TypeError"))
                ndirtype++; /* the release's Dirichlet cannot be constructed */
            else
                nerr++;
            json_decref(o);
            continue;
        }
        int mi = 0;
        while (mi < 5 && strcmp(mn[mi], m) != 0)
            mi++;
        if (mi == 5 || id < 0 || id >= ncs) {
            json_decref(o);
            continue;
        }
        lm_dp_method meth = mi == 0                ? LM_DP_BAYES
                            : (mi == 1 || mi == 4) ? LM_DP_DIRICHLET
                            : mi == 2              ? LM_DP_CLOPPER_PEARSON
                                                   : LM_DP_JEFFREYS;
        lm_dp_counts c = cs[id].c;
        nper[mi]++;
        if ((mi == 1 || mi == 4) && c.tp != c.tn) {
            /* the package pairs Dirichlet parameters (FN, FP, TN, TP) with
             * (p_fn, p_fp, p_tp, p_tn): compare with joint-beta on swapped
             * TN/TP, which is what it computes */
            double t = c.tp;
            c.tp = c.tn;
            c.tn = t;
            meth = LM_DP_BAYES;
            nquirk++;
        }
        lm_dp_result r;
        est(c, meth, cs[id].s, cs[id].delta, cs[id].alpha, &r);
        double want[2] = {jnum(o, "lo"), jnum(o, "hi")}, got[2] = {r.eps_lo, r.eps_hi};
        for (int i = 0; i < 2; i++) {
            double tol = (i == 1 && want[i] > 6) ? 0.03 : 0.02;
            double e = (got[i] == want[i]) ? 0 : fabs(got[i] - want[i]);
            if (!(e <= tol) && meth == LM_DP_BAYES && got[i] > 10 && want[i] <= 10) {
                /* The exact quantile (confirmed by mpmath in cases.jsonl)
                 * lies above the package's ceiling max_eps = 10, where it
                 * should raise; an inaccurate CDF at 10 made it return a
                 * root inside [0, 10] instead.  A package error, like the
                 * ValueErrors counted above. */
                nceil++;
                diag("reference case %d %s end %d: got %.6g, the package returned %.6g although the "
                     "bound lies above its ceiling of 10",
                     id, m, i, got[i], want[i]);
                continue;
            }
            if (!(e <= tol) && meth == LM_DP_BAYES && isfinite(want[i]) && want[i] > 0 && cs[id].mp_ok) {
                /* Our bound is confirmed by mpmath to 1e-7 (golden(), mp_ok),
                 * so the difference is the package's: its dblquad misses the
                 * requested epsabs on concentrated posteriors.  Show by how
                 * much, in CDF terms, and count it apart. */
                double a = cs[id].alpha;
                double lvl = cs[id].s == LM_DP_TWO_SIDED ? (i ? 1 - a / 2 : a / 2) : (i ? 1 - a : a);
                double cdf;
                char m2[256];
                if (lm_dp_posterior_grid(&c, LM_DP_PRIOR_JEFFREYS, cs[id].delta, &want[i], 1, &cdf, NULL, m2,
                                         sizeof m2) == 0 &&
                    fabs(cdf - lvl) > 5e-3) {
                    ninacc++;
                    dinacc = fmax(dinacc, e);
                    diag("reference case %d %s end %d: got %.6g (confirmed by mpmath), the package %.6g, "
                         "where the exact CDF is %.5f instead of %.5f: the package's error",
                         id, m, i, got[i], want[i], cdf, lvl);
                    continue;
                }
            }
            if (!(e <= tol) && meth == LM_DP_BAYES && isfinite(want[i]) && want[i] > 0) {
                /* The package integrates the CDF to epsabs = 5e-3; where the
                 * CDF is flat (small samples, upper ends) that moves its
                 * quantile far more than 0.02.  Its answer is within its own
                 * tolerance when the exact CDF there is within 5e-3 of the
                 * quantile level. */
                double a = cs[id].alpha;
                double lvl = cs[id].s == LM_DP_TWO_SIDED ? (i ? 1 - a / 2 : a / 2) : (i ? 1 - a : a);
                double cdf;
                char m2[256];
                if (lm_dp_posterior_grid(&c, LM_DP_PRIOR_JEFFREYS, cs[id].delta, &want[i], 1, &cdf, NULL, m2,
                                         sizeof m2) == 0 &&
                    fabs(cdf - lvl) <= 5e-3) {
                    nflat++;
                    diag("reference case %d %s end %d: got %.6g want %.6g; exact CDF there %.5f vs "
                         "level %.5f (within the package's epsabs 5e-3)",
                         id, m, i, got[i], want[i], cdf, lvl);
                    continue;
                }
            }
            dmax[mi] = fmax(dmax[mi], e == INFINITY ? 0 : e);
            if (!(e <= tol)) {
                nbad++;
                diag("reference case %d %s end %d: got %.6g want %.6g", id, m, i, got[i], want[i]);
            }
        }
        nok++;
        json_decref(o);
    }
    fclose(f);
    diag("reference: %d compared (joint-beta %d, beta %d, jeffreys %d, joint-dirichlet %d, "
         "patched joint-dirichlet %d), %d errors (e.g. eps > 10), %d timeouts, %d joint-dirichlet "
         "TypeErrors of the release; %d dirichlet cases compared through the TN/TP swap",
         nok, nper[0], nper[2], nper[3], nper[1], nper[4], nerr, nto, ndirtype, nquirk);
    diag("max |C - reference|: joint-beta %.3g, joint-dirichlet %.3g (patched %.3g), beta %.3g, "
         "jeffreys %.3g (%d ends outside 0.02 but within the package's CDF tolerance, %d above "
         "its ceiling, %d where the package misses its own CDF tolerance by up to %.3g in eps; "
         "listed above)",
         dmax[0], dmax[1], dmax[4], dmax[2], dmax[3], nflat, nceil, ninacc, dinacc);
    is_int(nbad, 0, "agreement with privacy-estimates 0.1.0.post1 within 0.02 (0.03 above 6)");
}

int main(void)
{
    /* ---- point estimates */
    is_near(lm_dp_eps_point(0.1, 0.1, 0), 2.1972245773, 1e-10, "eps_hat(.1,.1,0) = ln 9");
    is_near(lm_dp_eps_point(0.1, 0.1, 1e-5), 2.1972134662, 1e-10, "eps_hat(.1,.1,1e-5)");
    is_near(lm_dp_eps_point(0.9, 0.9, 0), 2.1972245773, 1e-10, "reflection (.9,.9)");
    is_near(lm_dp_eps_point(0.05, 0.2, 1e-5), 2.7725762222, 1e-10, "eps_hat(.05,.2,1e-5)");
    is_near(lm_dp_eps_point(0.3, 0.8, 0), 0.4054651081, 1e-10, "eps_hat(.3,.8,0) = ln 1.5");
    is_near(lm_dp_eps_point(0.5, 0.5, 0), 0, 0, "coin flip gives 0");
    ok(lm_dp_eps_point(0, 0.3, 0) == INFINITY, "zero rate gives +inf");
    ok(isnan(lm_dp_eps_point(-0.1, 0.3, 0)), "negative rate gives NaN");
    is_near(lm_dp_advantage_bound(0, 0), 0, 1e-15, "advantage bound at 0");
    is_near(lm_dp_advantage_bound(INFINITY, 0), 1, 0, "advantage bound at inf");
    is_near(lm_dp_advantage_bound(1, 1e-5), (exp(1) - 1 + 2e-5) / (exp(1) + 1), 1e-15,
            "advantage bound formula");

    /* ---- rate intervals of G-README's counts (significance 0.05) */
    double lo, hi;
    lm_dp_rate_interval(0, 487, 0.05, LM_DP_CLOPPER_PEARSON, &lo, &hi);
    is_near(lo, 0, 0, "CP FNR 0/487 lower");
    is_near(hi, 0.0075460854, 1e-10, "CP FNR 0/487 upper");
    lm_dp_rate_interval(0, 487, 0.05, LM_DP_JEFFREYS, &lo, &hi);
    is_near(lo, 0, 0, "Jeffreys FNR 0/487 lower (forced)");
    is_near(hi, 0.0051420797, 1e-10, "Jeffreys FNR 0/487 upper");
    lm_dp_rate_interval(512, 513, 0.05, LM_DP_CLOPPER_PEARSON, &lo, &hi);
    is_near(lo, 0.9891873673, 1e-10, "CP FPR 512/513 lower");
    is_near(hi, 0.9999506488, 1e-10, "CP FPR 512/513 upper");
    lm_dp_rate_interval(512, 513, 0.05, LM_DP_JEFFREYS, &lo, &hi);
    is_near(lo, 0.9909254722, 1e-10, "Jeffreys FPR 512/513 lower");
    is_near(hi, 0.9997895928, 1e-10, "Jeffreys FPR 512/513 upper");

    /* ---- G-README and G-ALL-CORRECT */
    lm_dp_counts rd = {0, 512, 1, 487}, ac = {0, 0, 1000, 1000};
    lm_dp_result r, r2;
    est(rd, LM_DP_BAYES, LM_DP_TWO_SIDED, 1e-5, 0.1, &r);
    is_near(r.eps_lo, 0.14389, 1e-5, "README joint-beta lower");
    is_near(r.eps_hi, 6.41560, 1e-5, "README joint-beta upper");
    ok(r.eps_point == INFINITY, "README point estimate +inf");
    est(rd, LM_DP_BAYES, LM_DP_LOWER, 1e-5, 0.1, &r);
    is_near(r.eps_lo, 0.29874, 1e-5, "README one-sided lower at 0.10");
    est(rd, LM_DP_CLOPPER_PEARSON, LM_DP_TWO_SIDED, 1e-5, 0.1, &r);
    ok(r.eps_lo == 0 && r.eps_hi == INFINITY, "README CP [0, inf]");
    est(rd, LM_DP_JEFFREYS, LM_DP_LOWER, 1e-5, 0.05, &r);
    ok(r.eps_lo == 0, "README Jeffreys one-sided lower 0");
    double e0 = 0, c0;
    char err[256];
    lm_dp_posterior_grid(&rd, LM_DP_PRIOR_JEFFREYS, 1e-5, &e0, 1, &c0, NULL, err, sizeof err);
    is_near(c0, 0.0032664, 1e-7, "README posterior CDF(0)");
    est(ac, LM_DP_BAYES, LM_DP_LOWER, 1e-5, 0.05, &r);
    is_near(r.eps_lo, 7.20721, 1e-5, "all-correct joint-beta one-sided");
    est(ac, LM_DP_CLOPPER_PEARSON, LM_DP_LOWER, 1e-5, 0.05, &r);
    is_near(r.eps_lo, 5.60058, 1e-5, "all-correct CP one-sided");
    est(ac, LM_DP_JEFFREYS, LM_DP_LOWER, 1e-5, 0.05, &r);
    is_near(r.eps_lo, 5.98568, 1e-5, "all-correct Jeffreys one-sided");
    est(ac, LM_DP_BAYES, LM_DP_TWO_SIDED, 1e-5, 0.1, &r);
    est(ac, LM_DP_BAYES, LM_DP_LOWER, 1e-5, 0.05, &r2);
    ok(isfinite(r.eps_hi) && r.eps_hi > 10, "all-correct two-sided upper finite, above 10 (%g)", r.eps_hi);
    is_near(r.eps_lo, r2.eps_lo, 1e-8, "two-sided lower at alpha = one-sided at alpha/2");

    /* ---- validation */
    lm_dp_opts o;
    lm_dp_opts_default(&o);
    lm_dp_counts neg = {-1, 2, 3, 4}, nomem = {0, 3, 4, 0}, nonon = {3, 0, 0, 4};
    ok(lm_dp_estimate(&neg, &o, &r, err, sizeof err) && strstr(err, "FN"), "negative: %s", err);
    ok(lm_dp_estimate(&nomem, &o, &r, err, sizeof err) && strstr(err, "members"), "%s", err);
    ok(lm_dp_estimate(&nonon, &o, &r, err, sizeof err) && strstr(err, "non-members"), "%s", err);
    o.delta = 1;
    ok(lm_dp_estimate(&rd, &o, &r, err, sizeof err) && strstr(err, "delta"), "%s", err);
    o.delta = 0;
    o.alpha = 0;
    ok(lm_dp_estimate(&rd, &o, &r, err, sizeof err) && strstr(err, "alpha"), "%s", err);
    o.alpha = 0.6;
    o.sided = LM_DP_LOWER;
    o.method = LM_DP_JEFFREYS;
    ok(lm_dp_estimate(&rd, &o, &r, err, sizeof err) && strstr(err, "0.5"), "%s", err);
    lm_dp_method m;
    ok(lm_dp_method_parse("joint-beta", &m) == 0 && m == LM_DP_BAYES, "parse joint-beta");
    ok(lm_dp_method_parse("nope", &m) == -1, "unknown method refused");

    /* ---- golden files */
    golden();
    reference();

    /* ---- properties */
    lm_dp_counts pc = {12, 30, 470, 488};
    lm_dp_counts sw1 = {pc.fp, pc.fn, pc.tp, pc.tn}; /* FN<->FP, TN<->TP */
    lm_dp_counts sw2 = {pc.tp, pc.tn, pc.fp, pc.fn}; /* FN<->TP, FP<->TN */
    for (int mi = 0; mi < 3; mi++) {
        lm_dp_method mm = mi == 0 ? LM_DP_BAYES : mi == 1 ? LM_DP_CLOPPER_PEARSON : LM_DP_JEFFREYS;
        lm_dp_result a, b, cc, one_lo, one_hi, two;
        est(pc, mm, LM_DP_TWO_SIDED, 1e-5, 0.05, &a);
        est(sw1, mm, LM_DP_TWO_SIDED, 1e-5, 0.05, &b);
        est(sw2, mm, LM_DP_TWO_SIDED, 1e-5, 0.05, &cc);
        ok(fabs(a.eps_lo - b.eps_lo) < 1e-7 && fabs(a.eps_hi - b.eps_hi) < 1e-7 &&
               fabs(a.eps_lo - cc.eps_lo) < 1e-7 && fabs(a.eps_hi - cc.eps_hi) < 1e-7,
           "%s: symmetric under both swaps", lm_dp_method_name(mm));
        est(pc, mm, LM_DP_LOWER, 1e-5, 0.05, &one_lo);
        est(pc, mm, LM_DP_UPPER, 1e-5, 0.05, &one_hi);
        est(pc, mm, LM_DP_TWO_SIDED, 1e-5, 0.10, &two);
        ok(fabs(one_lo.eps_lo - two.eps_lo) < 1e-8 && fabs(one_hi.eps_hi - two.eps_hi) < 1e-8,
           "%s: one-sided at alpha = two-sided at 2 alpha", lm_dp_method_name(mm));
    }
    int nest = 0, pos = 0;
    for (int i = 0; i < ncs; i++) {
        if (cs[i].s != LM_DP_TWO_SIDED)
            continue;
        lm_dp_result b, c;
        est(cs[i].c, LM_DP_BAYES, LM_DP_TWO_SIDED, cs[i].delta, cs[i].alpha, &b);
        est(cs[i].c, LM_DP_CLOPPER_PEARSON, LM_DP_TWO_SIDED, cs[i].delta, cs[i].alpha, &c);
        if (!(b.eps_lo >= c.eps_lo - 1e-9 && b.eps_hi <= c.eps_hi + 1e-9)) {
            nest++;
            diag("not nested: case %d bayes [%g, %g] CP [%g, %g]", i, b.eps_lo, b.eps_hi, c.eps_lo, c.eps_hi);
        }
        if (cs[i].delta == 0 && !(b.eps_lo > 0))
            pos++;
    }
    is_int(nest, 0, "joint-beta interval nested in Clopper-Pearson on the golden set");
    is_int(pos, 0, "delta = 0 gives joint-beta eps_lo > 0");

    /* pdf vs finite differences of the CDF */
    double eg[3], cg[3], pg[3], worst = 0;
    const double pts[4] = {3.2, 3.5, 3.8, 4.2}; /* where the density is not tiny */
    for (int i = 0; i < 4; i++) {
        double h = 1e-3;
        eg[0] = pts[i] - h;
        eg[1] = pts[i];
        eg[2] = pts[i] + h;
        lm_dp_posterior_grid(&pc, LM_DP_PRIOR_JEFFREYS, 1e-5, eg, 3, cg, pg, err, sizeof err);
        double fd = (cg[2] - cg[0]) / (2 * h);
        worst = fmax(worst, fabs(fd - pg[1]) / pg[1]);
    }
    diag("pdf vs central difference: max relative difference %.3g", worst);
    ok(worst < 1e-4, "eps density matches the derivative of the CDF to 1e-4 relative");

    /* Monte Carlo within 4 standard errors, independent of thread count */
    lm_dp_opts mo;
    lm_dp_opts_default(&mo);
    mo.method = LM_DP_BAYES_MC;
    mo.delta = 1e-5;
    mo.n_mc = 200000;
    mo.seed = 42;
    lm_dp_result mc, q;
    lm_dp_estimate(&pc, &mo, &mc, err, sizeof err);
    est(pc, LM_DP_BAYES, LM_DP_TWO_SIDED, 1e-5, 0.05, &q);
    diag("MC [%g, %g] (se %.3g, %.3g) vs quadrature [%g, %g]", mc.eps_lo, mc.eps_hi, mc.mc_se_lo, mc.mc_se_hi,
         q.eps_lo, q.eps_hi);
    ok(fabs(mc.eps_lo - q.eps_lo) < 4 * mc.mc_se_lo && fabs(mc.eps_hi - q.eps_hi) < 4 * mc.mc_se_hi,
       "Monte Carlo quantiles within 4 standard errors");
    lm_dp_result mc2;
    lm_dp_estimate(&pc, &mo, &mc2, err, sizeof err);
    ok(mc2.eps_lo == mc.eps_lo && mc2.eps_hi == mc.eps_hi, "Monte Carlo reproducible");
    return tap_done();
}
