/* eval.h - honest offline evaluation of cost-aware routing (route spec §5
 * "Evaluation-curve variant", §8.2, §8.5, §11).
 *
 * The data of an evaluation is, per query q and candidate c (router heads
 * h = 0..H-1, then the reference at column H):
 *   cost[q][c]   realised dollars of that candidate's stored draw
 *   qual[q][c]   realised quality (e.g. ArmoRM score of the winner)
 *   dcost[q][c]  the cost the decision rule ranks by (estimated or realised)
 * A predictor gives pred[q][h] (match probability or any score; NaN = not
 * available).  A threshold sweep runs the decision rule of decide.h at each
 * threshold and aggregates (cost, quality) points against always-reference.
 *
 * Metrics, as RouteLLM's routellm/evals/evaluate.py defines them, with the
 * reference as "strong" and a chosen weak candidate:
 *   x = share of queries sent to the reference, y = mean quality;
 *   AUC  = trapezoid area of y over x (points sorted by x);
 *   APGR = (AUC - AUC_weak) / (AUC_strong - AUC_weak), the flat weak and
 *          strong lines integrated over the same x points;
 *   CPT(f) = np.interp(q_weak + f (q_strong - q_weak), y, 100 x).
 * Quality drop at a cost reduction is linear interpolation along the curve.
 * This module does not train or predict; it does not print.
 */
#ifndef LMKIT_ROUTE_EVAL_H
#define LMKIT_ROUTE_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "route/data.h"
#include "route/labels.h"

typedef struct {
    size_t nq, n_heads, n_max;
    double *cost;  /* [nq][n_heads + 1] */
    double *qual;  /* [nq][n_heads + 1] */
    double *dcost; /* [nq][n_heads + 1] */
} route_eval_data;

typedef enum { ROUTE_COST_ESTIMATED = 0, ROUTE_COST_REALISED = 1 } route_cost_mode;

typedef struct {
    size_t n_use;      /* ignore heads with n > n_use (0 = use all) */
    int ref_competes;  /* 1: notebook curve variant; 0: Algorithm 1 fallback */
    double ref_score;  /* the reference's fixed score when it competes (1) */
} route_rule;

typedef struct {
    double t;
    double cost_sum, cost_per_1k, quality_mean;
    double cost_reduction_pct, quality_drop_pct;
    double ref_share;  /* fraction of queries sent to the reference */
    double mean_n;     /* mean n over all queries (reference counts as 1) */
} route_point;

typedef struct {
    double drop_at[4];  /* quality drop % at 10, 20, 40, 60 % cost reduction */
    double auc, apgr, cpt50, cpt80;
    double q_ref, q_weak, c_ref;
} route_summary;

int route_eval_alloc(route_eval_data *d, size_t nq, size_t n_heads, size_t n_max);
void route_eval_free(route_eval_data *d);

/* Fills row q from a record and its labels (first stored draw = realised). */
int route_eval_fill(route_eval_data *d, size_t q, const route_models *m,
                    const route_record *r, const route_labels *l,
                    route_cost_mode mode, char *err, size_t errlen);

/* Per-query choices (head or ROUTE_REF) at threshold t. */
void route_eval_choose(const route_eval_data *d, const double *pred,
                       const route_rule *rule, double t, long *choice);
/* Aggregates choices into a point; share: [n_heads + 1] or NULL. */
void route_eval_point(const route_eval_data *d, const long *choice, double t,
                      route_point *pt, double *share);
/* A point where every query takes head h (ROUTE_REF for the reference). */
void route_eval_fixed(const route_eval_data *d, long h, route_point *pt);

/* "Best n" of small model s (0-based among small models): the n in
 * 1..n_max whose always-(s, n) point has the highest mean quality on d (the
 * smallest such n on ties; n whose cost is unknown for some query are
 * skipped).  Returns the n, or 0 when none is usable.  Choose it on training
 * data and evaluate it on test data to avoid an optimistic anchor. */
size_t route_eval_best_n(const route_eval_data *d, size_t s);

/* Threshold grids: K evenly spaced from min to max over the usable
 * predictions (and the reference score when it competes), as the reference
 * notebook does (K = 21); or RouteLLM's pd.qcut edges (bins + 1 quantiles,
 * linear interpolation) followed by +inf ("all reference").  out must hold
 * K, resp. bins + 2, values; returns the number written. */
size_t route_thresholds_linear(const route_eval_data *d, const double *pred,
                               const route_rule *rule, size_t K, double *out);
size_t route_thresholds_quantile(const route_eval_data *d, const double *pred,
                                 const route_rule *rule, size_t bins, double *out);

/* Sweep: points[i] for thresholds[i].  Returns 0 or -1 (out of memory). */
int route_sweep(const route_eval_data *d, const double *pred, const route_rule *rule,
                const double *thr, size_t nt, route_point *points);

/* Random mixing: each query goes to the reference with probability a (else
 * to head `weak`), for a = alphas[i]; averaged over n_seeds seeds
 * (lm_rng streams 0..n_seeds-1 of `seed`). */
void route_random_curve(const route_eval_data *d, long weak, const double *alphas,
                        size_t na, size_t n_seeds, uint64_t seed, route_point *points);

/* Metrics over a curve.  np.interp clamps outside the range; inside, the
 * first segment that brackets the target is used (identical to numpy when
 * the y values are increasing). */
double route_auc(const route_point *p, size_t n);
double route_apgr(const route_point *p, size_t n, double q_weak, double q_strong);
double route_cpt(const route_point *p, size_t n, double q_weak, double q_strong, double frac);
double route_drop_at(const route_point *p, size_t n, double cost_reduction_pct);
void route_summarize(const route_eval_data *d, const route_point *p, size_t n,
                     long weak, route_summary *s);

/* Percentile bootstrap of APGR over queries: n_boot resamples (lm_rng
 * stream b of `seed`), thresholds recomputed on each resample (quantile
 * grid with `bins` when bins > 0, else a linear grid of 21).  Writes the
 * 2.5 % and 97.5 % quantiles and the bootstrap mean.  Returns 0 or -1. */
int route_apgr_bootstrap(const route_eval_data *d, const double *pred,
                         const route_rule *rule, long weak, size_t bins,
                         size_t n_boot, uint64_t seed,
                         double *lo, double *hi, double *mean);

#endif
