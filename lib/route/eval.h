/* eval.h - honest offline evaluation of cost-aware routing: BEST-Route's
 * cost-quality curve, with RouteLLM's metrics (lm-sys/RouteLLM
 * routellm/evals/evaluate.py: APGR, CPT) on a held-out split.
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
 *
 * route_eval_run is the whole of `route eval` between reading the records
 * and printing: output lengths fitted on the training split,
 * labels of both splits (route_eval_labels), predictions on the test split
 * (a router trained by route_eval_train, a loaded one, or the records' own
 * match_prob), the best n per small model chosen on the training split, the
 * weak anchor (the cheapest small model at n = 1), the fixed anchors, the
 * BEST-Route, single-response (n = 1), oracle and random-mixing curves with
 * their summaries and APGR intervals.  route_split is the seeded split.
 * Nothing here prints or exits: functions return a route_eval_status with a
 * message in err, and the command chooses the exit status and hint.
 */
#ifndef LMKIT_ROUTE_EVAL_H
#define LMKIT_ROUTE_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "route/data.h"
#include "route/features.h"
#include "route/labels.h"
#include "route/router.h"

typedef struct {
    size_t nq, n_heads, n_max;
    double *cost;  /* [nq][n_heads + 1] */
    double *qual;  /* [nq][n_heads + 1] */
    double *dcost; /* [nq][n_heads + 1] */
} route_eval_data;

typedef enum { ROUTE_COST_ESTIMATED = 0, ROUTE_COST_REALISED = 1 } route_cost_mode;

typedef struct {
    size_t n_use;     /* ignore heads with n > n_use (0 = use all) */
    int ref_competes; /* 1: notebook curve variant; 0: Algorithm 1 fallback */
    double ref_score; /* the reference's fixed score when it competes (1) */
} route_rule;

typedef struct {
    double t;
    double cost_sum, cost_per_1k, quality_mean;
    double cost_reduction_pct, quality_drop_pct;
    double ref_share; /* fraction of queries sent to the reference */
    double mean_n;    /* mean n over all queries (reference counts as 1) */
} route_point;

typedef struct {
    double drop_at[4]; /* quality drop % at 10, 20, 40, 60 % cost reduction */
    double auc, apgr, cpt50, cpt80;
    double q_ref, q_weak, c_ref;
} route_summary;

void route_eval_alloc(route_eval_data *d, size_t nq, size_t n_heads, size_t n_max);
void route_eval_free(route_eval_data *d);

/* Fills row q from a record and its labels (first stored draw = realised). */
int route_eval_fill(route_eval_data *d, size_t q, const route_models *m, const route_record *r,
                    const route_labels *l, route_cost_mode mode, char *err, size_t errlen);

/* Per-query choices (head or ROUTE_REF) at threshold t. */
void route_eval_choose(const route_eval_data *d, const double *pred, const route_rule *rule, double t,
                       long *choice);
/* Aggregates choices into a point; share: [n_heads + 1] or NULL. */
void route_eval_point(const route_eval_data *d, const long *choice, double t, route_point *pt, double *share);
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
size_t route_thresholds_linear(const route_eval_data *d, const double *pred, const route_rule *rule, size_t K,
                               double *out);
size_t route_thresholds_quantile(const route_eval_data *d, const double *pred, const route_rule *rule,
                                 size_t bins, double *out);

/* Sweep: points[i] for thresholds[i]. */
void route_sweep(const route_eval_data *d, const double *pred, const route_rule *rule, const double *thr,
                 size_t nt, route_point *points);

/* Random mixing: each query goes to the reference with probability a (else
 * to head `weak`), for a = alphas[i]; averaged over n_seeds seeds
 * (lm_rng streams 0..n_seeds-1 of `seed`). */
void route_random_curve(const route_eval_data *d, long weak, const double *alphas, size_t na, size_t n_seeds,
                        uint64_t seed, route_point *points);

/* Metrics over a curve.  np.interp clamps outside the range; inside, the
 * first segment that brackets the target is used (identical to numpy when
 * the y values are increasing). */
double route_auc(const route_point *p, size_t n);
double route_apgr(const route_point *p, size_t n, double q_weak, double q_strong);
double route_cpt(const route_point *p, size_t n, double q_weak, double q_strong, double frac);
double route_drop_at(const route_point *p, size_t n, double cost_reduction_pct);
void route_summarize(const route_eval_data *d, const route_point *p, size_t n, long weak, route_summary *s);

/* Percentile bootstrap of APGR over queries: n_boot resamples (lm_rng
 * stream b of `seed`), thresholds recomputed on each resample (quantile
 * grid with `bins` when bins > 0, else a linear grid of 21).  Writes the
 * 2.5 % and 97.5 % quantiles and the bootstrap mean.  Returns 0 or -1. */
int route_apgr_bootstrap(const route_eval_data *d, const double *pred, const route_rule *rule, long weak,
                         size_t bins, size_t n_boot, uint64_t seed, double *lo, double *hi, double *mean);

/* ---- the whole evaluation (route eval) ---- */

/* Outcomes of the functions below (0 = success; err holds the message). */
typedef enum {
    ROUTE_EVAL_OK = 0,
    ROUTE_EVAL_EFEW,      /* fewer than 2 test records */
    ROUTE_EVAL_ENOTRAIN,  /* a router is to be trained but there are no training records */
    ROUTE_EVAL_ELABELS,   /* a record's labels failed: "record 'ID': ..." */
    ROUTE_EVAL_EFEATLEN,  /* embeddings ("features") of different lengths */
    ROUTE_EVAL_EFEATSOME, /* only some records have embeddings */
    ROUTE_EVAL_ENOFEAT,   /* hash_dim 0 and no embeddings */
    ROUTE_EVAL_EROUTER,   /* the router cannot be set up (route_router_init) */
    ROUTE_EVAL_ETRAIN,    /* route_router_train failed */
    ROUTE_EVAL_EPREDICT,  /* a record does not fit the router's features */
    ROUTE_EVAL_ECOST,     /* no estimated cost (route_eval_fill) */
    ROUTE_EVAL_ENOWEAK,   /* no small model has samples in every test record */
} route_eval_status;

/* One record of an evaluation or of training. */
typedef struct {
    route_record r;
    uint64_t index; /* rng stream of its labels */
    double *pred;   /* [n_heads] its own match probabilities (byo), or NULL */
} route_eval_item;

typedef enum { ROUTE_PRED_TRAIN = 0, ROUTE_PRED_ROUTER, ROUTE_PRED_BYO } route_pred_kind;

typedef struct {
    route_label_opts lo;       /* labels; lo.n_max is the heads per small model */
    route_cost_mode cost_mode; /* what the decision rule ranks by */
    route_pred_kind predictor;
    const route_router *router; /* ROUTE_PRED_ROUTER: a loaded router ... */
    const size_t *rmap;         /* ... and its heads -> heads in prices order */
    route_feat_cfg feat;        /* ROUTE_PRED_TRAIN: feature map (emb_dim is set) */
    int no_features;            /* ROUTE_PRED_TRAIN: ignore the embeddings */
    route_train_opts train;     /* ROUTE_PRED_TRAIN (its seed is replaced by seed) */
    size_t bins;                /* quantile threshold bins */
    size_t bootstrap;           /* APGR resamples (0: no interval) */
    size_t rand_seeds;          /* seeds of the random-mixing baseline */
    uint64_t seed;              /* labels, training, bootstrap, random mixing */
} route_eval_opts;

enum { ROUTE_CURVE_BEST, ROUTE_CURVE_SINGLE, ROUTE_CURVE_ORACLE, ROUTE_CURVE_RANDOM, ROUTE_CURVES };

typedef struct {
    size_t n_train, n_test;
    int selector_oracle;              /* test labels chosen by true score (no proxy) */
    const char *predictor;            /* "byo", "linear" or "mlp" */
    long weak;                        /* the weak anchor: head of a small model at n = 1 */
    route_point ref;                  /* always-reference */
    route_point *always;              /* [n_small] always (s, n = 1) */
    size_t *best_n;                   /* [n_small] best n on the training split (0: none) */
    route_point *always_best;         /* [n_small] always (s, best_n[s]) when best_n[s] > 0 */
    route_point *curve[ROUTE_CURVES]; /* points; random mixing: t = share of the reference */
    size_t n_curve[ROUTE_CURVES];
    route_summary sum[ROUTE_CURVES];
    int have_ci[ROUTE_CURVES]; /* APGR interval: ci[k] = {2.5 %, 97.5 %, mean} */
    double ci[ROUTE_CURVES][3];
} route_eval_result;

/* Seeded split of n records: a Fisher-Yates permutation from
 * lm_rng_init(seed, "split") written to perm[n]; the first
 * llround(test_frac * n) entries are the test records, the rest the
 * training records.  Returns the number of test records. */
size_t route_split(size_t n, double test_frac, uint64_t seed, size_t *perm);
/* The training and test records of route eval: with a test file
 * (have_test) all records train and the n_test test records test; else
 * route_split's seeded split of all.  tr: room for n_all, te: for n_all +
 * n_test. */
void route_eval_partition(route_eval_item *all, size_t n_all, int have_test, route_eval_item *test,
                          size_t n_test, double test_frac, uint64_t seed, route_eval_item **tr, size_t *ntr,
                          route_eval_item **te, size_t *nte);

/* Labels of n records in parallel (record i from stream its[i]->index).
 * *out gets [n] labels (free with route_eval_labels_free), *selector_oracle
 * 1 when some record has no proxy. */
int route_eval_labels(route_labels **out, route_eval_item *const *its, size_t n, const route_models *m,
                      const route_label_opts *o, uint64_t seed, int *selector_oracle, char *err,
                      size_t errlen);
void route_eval_labels_free(route_labels *L, size_t n);

/* Trains router R on n records with labels L: fc->emb_dim is set from the
 * records' embeddings (all of one length, unless no_features), the hashed
 * features of fc, soft labels L[i].match.  log may be NULL. */
int route_eval_train(route_router *R, route_train_log *log, route_eval_item *const *its, size_t n,
                     const route_labels *L, const route_models *m, size_t n_max, route_feat_cfg *fc,
                     int no_features, const route_train_opts *to, char *err, size_t errlen);

/* Router predictions of one record, pred[H] in prices-table head order
 * (rmap: router head -> head; NaN for heads the router lacks).  Returns 0
 * or ROUTE_EVAL_EPREDICT (embedding of the wrong length). */
int route_eval_predict(const route_router *R, const size_t *rmap, size_t H, const route_record *r,
                       double *pred, char *err, size_t errlen);

/* The evaluation of test records te[nte] with training records tr[ntr].
 * m->avg_out is fitted on tr unless the predictor is a loaded router.  On
 * failure res holds nothing to free. */
int route_eval_run(route_eval_result *res, route_models *m, route_eval_item *const *tr, size_t ntr,
                   route_eval_item *const *te, size_t nte, const route_eval_opts *o, char *err,
                   size_t errlen);
void route_eval_result_free(route_eval_result *res);

#endif
