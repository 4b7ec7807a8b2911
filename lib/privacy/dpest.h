/* dpest.h - estimation of differential-privacy epsilon from membership-
 * inference confusion counts (FN, FP, TN, TP) at a given delta.
 *
 * What it does (Zanella-Beguelin et al., "Bayesian Estimation of
 * Differential Privacy", ICML 2023, arXiv 2206.05199; reference code: the
 * privacy-estimates package, microsoft/responsible-ai-toolbox-privacy, files
 * under privacy_estimates/):
 *   - the point estimate eps_hat(fnr, fpr, delta) with its anti-diagonal
 *     reflection (privacy_region.py, eps_from_fnr_fpr) and the
 *     membership-advantage bound (utils.py, bound_membership_advantage);
 *   - the frequentist baselines Clopper-Pearson and Jeffreys with the
 *     reference package's alpha split (alpha/2 per rate, tails alpha/4),
 *     Jeffreys edge forcing and the straddle rule
 *     (binomial_proportion.py, compute_eps_lo_hi);
 *   - the Bayesian joint-beta posterior of eps_hat (joint_density.py, Beta):
 *     CDF, density and quantiles, here by 1-D adaptive quadrature of
 *     incomplete beta functions where the package integrates in 2-D, Brent
 *     root finding, no ceiling at eps = 10 (the package gives up above 10);
 *   - "dirichlet": the multinomial model with a Dirichlet prior on the four
 *     cell probabilities, components ordered consistently.  By the
 *     aggregation property of the Dirichlet, fnr = p_fn / (p_fn + p_tp) and
 *     fpr = p_fp / (p_fp + p_tn) are independent Beta(FN + c, TP + c) and
 *     Beta(FP + c, TN + c) (c the prior pseudo-count), so its posterior of
 *     (fnr, fpr) is *exactly* the joint-beta one and the same 1-D integral
 *     computes it (no triple quadrature).  The reference package pairs the
 *     Dirichlet parameters (FN, FP, TN, TP) with (p_fn, p_fp, p_tp, p_tn),
 *     which amounts to joint-beta on (FN, FP, TN <-> TP swapped); we do not
 *     reproduce that;
 *   - a Monte Carlo path for the joint-beta posterior (seeded, OpenMP over
 *     fixed blocks of draws, so results do not depend on the thread count).
 *
 * What it does not do: no I/O, no JSON, no threshold sweeps; it never prints
 * or exits.  Every function is thread-safe (no global state).
 *
 * Conventions: +infinity is returned as INFINITY (the caller decides how to
 * write it); a Bayesian quantile above LM_DP_EPS_CAP is reported as
 * INFINITY with capped = 1, because eps values that large carry no meaning.
 * One-sided bounds: baselines at alpha = the matching end of the two-sided
 * interval at 2 alpha (needs 2 alpha < 1); Bayesian lower at alpha = the
 * alpha-quantile, upper = the (1 - alpha)-quantile.  Two-sided Bayesian at
 * alpha = (alpha/2, 1 - alpha/2) quantiles of one posterior.
 */
#ifndef LMKIT_PRIVACY_DPEST_H
#define LMKIT_PRIVACY_DPEST_H

#include <stddef.h>
#include <stdint.h>

/* Quantiles above this are reported as +infinity with capped = 1. */
#define LM_DP_EPS_CAP 100.0
/* Absolute tolerance of the posterior CDF integral and of the root finder. */
#define LM_DP_CDF_ABSTOL 1e-10
#define LM_DP_EPS_XTOL 1e-9
/* Default number of Monte Carlo draws. */
#define LM_DP_MC_DEFAULT_DRAWS 1000000u

typedef enum {
    LM_DP_BAYES = 0,       /* joint-beta posterior, quadrature ("bayes", "joint-beta") */
    LM_DP_DIRICHLET,       /* Dirichlet-multinomial ("dirichlet", "joint-dirichlet") */
    LM_DP_CLOPPER_PEARSON, /* Clopper-Pearson union bound ("clopper-pearson", "beta") */
    LM_DP_JEFFREYS,        /* Jeffreys-interval union bound ("jeffreys") */
    LM_DP_BAYES_MC         /* joint-beta posterior, Monte Carlo ("bayes-mc") */
} lm_dp_method;

typedef enum {
    LM_DP_PRIOR_JEFFREYS = 0, /* Beta(1/2, 1/2) per rate (Dirichlet(1/2,..)) */
    LM_DP_PRIOR_UNIFORM       /* Beta(1, 1) per rate (Dirichlet(1,..)) */
} lm_dp_prior;

typedef enum {
    LM_DP_TWO_SIDED = 0,
    LM_DP_LOWER, /* eps_lo only; eps_hi = +inf */
    LM_DP_UPPER  /* eps_hi only; eps_lo = 0 */
} lm_dp_sided;

typedef struct {
    double fn, fp, tn, tp; /* non-negative, finite; FN+TP > 0 and FP+TN > 0 */
} lm_dp_counts;

typedef struct {
    lm_dp_method method;
    lm_dp_prior prior; /* Bayesian methods only */
    lm_dp_sided sided;
    double delta;    /* [0, 1) */
    double alpha;    /* (0, 1); two-sided confidence 1 - alpha */
    uint64_t n_mc;   /* bayes-mc: draws (0 = LM_DP_MC_DEFAULT_DRAWS) */
    uint64_t seed;   /* bayes-mc: seed */
    uint64_t stream; /* bayes-mc: stream (e.g. the record index) */
} lm_dp_opts;

typedef struct {
    double fnr, fpr;           /* observed rates FN/P, FP/N */
    double eps_point;          /* eps_hat(fnr, fpr, delta); may be +inf */
    double eps_lo;             /* lower bound (0 for LM_DP_UPPER); may be +inf */
    double eps_hi;             /* upper bound (+inf for LM_DP_LOWER); may be +inf */
    int capped;                /* 1 when a quantile above LM_DP_EPS_CAP became +inf */
    double mc_se_lo, mc_se_hi; /* bayes-mc: rough standard errors (else 0) */
} lm_dp_result;

/* Defaults: method bayes, prior jeffreys, two-sided, delta 0, alpha 0.05,
 * n_mc 0 (= LM_DP_MC_DEFAULT_DRAWS), seed 0, stream 0. */
void lm_dp_opts_default(lm_dp_opts *o);

/* Names: "bayes"/"joint-beta", "dirichlet"/"joint-dirichlet",
 * "clopper-pearson"/"beta", "jeffreys", "bayes-mc".  0 on success, -1 if
 * unknown. */
int lm_dp_method_parse(const char *s, lm_dp_method *m);
const char *lm_dp_method_name(lm_dp_method m);
/* "jeffreys" or "uniform". */
int lm_dp_prior_parse(const char *s, lm_dp_prior *p);
const char *lm_dp_prior_name(lm_dp_prior p);

/* Check counts, delta, alpha and sidedness as lm_dp_estimate does.  0 if
 * valid, else -1 with a user-facing message in err. */
int lm_dp_validate(const lm_dp_counts *c, const lm_dp_opts *o, char *err, size_t errlen);

/* The whole estimate for one record.  0 on success; -1 with a message in err
 * on invalid input or a numerical failure (the result is then undefined). */
int lm_dp_estimate(const lm_dp_counts *c, const lm_dp_opts *o, lm_dp_result *r, char *err, size_t errlen);

/* Point estimate (privacy_region.py, eps_from_fnr_fpr).  NaN if fnr < 0,
 * fpr < 0 or delta not in [0, 1). */
double lm_dp_eps_point(double fnr, double fpr, double delta);

/* Membership-advantage bound (e^eps - 1 + 2 delta) / (e^eps + 1); 1 at +inf. */
double lm_dp_advantage_bound(double eps, double delta);

/* Equal-tailed interval for a rate k/n at significance a (tails a/2 each):
 * method LM_DP_CLOPPER_PEARSON or LM_DP_JEFFREYS (the latter with the
 * package's edge forcing: k = 0 gives lo = 0, k = n gives hi = 1).  0 on
 * success, -1 on bad arguments. */
int lm_dp_rate_interval(double k, double n, double a, lm_dp_method method, double *lo, double *hi);

/* Posterior CDF and density of eps_hat on a grid of eps values (any order,
 * each >= 0 or +inf), for the joint-beta (= consistent Dirichlet)
 * posterior.  cdf or pdf may be NULL.  0 on success, -1 with a message. */
int lm_dp_posterior_grid(const lm_dp_counts *c, lm_dp_prior prior, double delta, const double *eps, size_t n,
                         double *cdf, double *pdf, char *err, size_t errlen);

/* The p-quantile of eps_hat under the joint-beta posterior, 0 < p < 1
 * (accurate to ~1e-9 / pdf in eps; the CDF is integrated to an absolute
 * tolerance, so p very close to 1 - 1e-10 is meaningless).  *capped = 1 and
 * *eps = INFINITY above LM_DP_EPS_CAP. */
int lm_dp_posterior_quantile(const lm_dp_counts *c, lm_dp_prior prior, double delta, double p, double *eps,
                             int *capped, char *err, size_t errlen);

/* Monte Carlo quantiles of eps_hat under the joint-beta posterior from n
 * draws: out[i] = empirical probs[i]-quantile (linear interpolation between
 * order statistics, numpy's default).  Draws come in blocks of
 * LM_DP_MC_BLOCK; block b uses lm_rng_init(seed', b) where seed' is the
 * first output of lm_rng_init(seed, stream), so the draws do not depend on
 * the OpenMP thread count.  Quantiles above LM_DP_EPS_CAP become +inf. */
#define LM_DP_MC_BLOCK 65536u
int lm_dp_mc_quantiles(const lm_dp_counts *c, lm_dp_prior prior, double delta, uint64_t n, uint64_t seed,
                       uint64_t stream, const double *probs, size_t k, double *out, char *err, size_t errlen);

#endif
