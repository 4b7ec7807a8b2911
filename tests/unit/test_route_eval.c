/* test_route_eval.c - sweeps, anchors and summary metrics on hand-made data. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "route/decide.h"
#include "route/eval.h"
#include "tap.h"

int main(void)
{
    /* 4 queries, one small model with n_max 1: head 0, reference column 1 */
    route_eval_data d;
    route_eval_alloc(&d, 4, 1, 1);
    double cost[4][2] = {{1, 10}, {1, 10}, {1, 10}, {1, 10}};
    double qual[4][2] = {{1, 1}, {0, 1}, {1, 1}, {0, 0}};
    double pred[4] = {0.9, 0.2, 0.6, 0.4};
    for (size_t q = 0; q < 4; q++)
        for (size_t c = 0; c < 2; c++) {
            d.cost[q * 2 + c] = d.dcost[q * 2 + c] = cost[q][c];
            d.qual[q * 2 + c] = qual[q][c];
        }
    route_point ref, weak;
    route_eval_fixed(&d, ROUTE_REF, &ref);
    route_eval_fixed(&d, 0, &weak);
    is_near(ref.cost_reduction_pct, 0, 1e-12, "always-reference: 0 %% cost reduction");
    is_near(weak.cost_reduction_pct, 90, 1e-12, "always-small: 90 %% cost reduction");
    is_near(weak.quality_drop_pct, 100.0 * (1 - 0.5 / 0.75), 1e-12, "always-small quality drop");
    route_rule rule = {0, 0, 1.0};
    route_point p;
    long ch[4];
    double share[2];
    route_eval_choose(&d, pred, &rule, 0.5, ch);
    route_eval_point(&d, ch, 0.5, &p, share);
    /* t = 0.5: queries 0, 2 small (both right), 1, 3 reference */
    is_near(p.cost_sum, 22, 1e-12, "cost at t = 0.5");
    is_near(p.quality_mean, 0.75, 1e-12, "quality at t = 0.5");
    is_near(share[1], 0.5, 1e-12, "reference share");
    is_near(p.cost_per_1k, 22.0 / 4 * 1000, 1e-9, "cost per 1k queries");

    double thr[6];
    is_int(route_thresholds_quantile(&d, pred, &rule, 4, thr), 6, "qcut edges + inf");
    is_near(thr[2], 0.5, 1e-12, "median edge (linear interpolation)");
    ok(isinf(thr[5]), "last threshold sends everything to the reference");
    route_point pts[6];
    route_sweep(&d, pred, &rule, thr, 6, pts);
    is_near(pts[0].ref_share, 0, 1e-12, "t = min: nothing to the reference");
    is_near(pts[5].ref_share, 1, 1e-12, "t = inf: everything to the reference");
    route_summary s;
    route_summarize(&d, pts, 6, 0, &s);
    diag("apgr %.4f auc %.4f cpt50 %.2f", s.apgr, s.auc, s.cpt80);
    /* hand: shares 0, .25, .5, .75, 1 with qualities .5, .75, .75, .75, .75
     * edges .2 .35 .5 .675 .9 inf give shares 0 .25 .5 .75 .75 1 */
    is_near(s.auc, 0.125 * (0.5 + 0.75) + 0.75 * 0.75, 1e-12, "AUC by hand");
    is_near(s.apgr, (s.auc - 0.5) / 0.25, 1e-12, "APGR by hand");
    is_near(s.cpt50, 12.5, 1e-9, "CPT(50%%): half-way between 0 and 25 %% calls");
    is_near(route_drop_at(pts, 6, 45), 0, 1e-9, "drop at 45 %% cost reduction is 0 here");
    ok(isnan(route_drop_at(pts, 6, 95)), "drop beyond the curve is NaN");

    /* random anchor: mean over seeds near the analytic mixture */
    double al[3] = {0, 0.5, 1};
    route_point rp[3];
    route_random_curve(&d, 0, al, 3, 200, 9, rp);
    is_near(rp[0].cost_sum, 4, 1e-12, "alpha 0 = always small");
    is_near(rp[2].cost_sum, 40, 1e-12, "alpha 1 = always reference");
    is_near(rp[1].cost_sum, 22, 1.0, "alpha 0.5 cost near the analytic 22 (200 seeds)");

    double lo, hi, mean;
    ok(route_apgr_bootstrap(&d, pred, &rule, 0, 4, 200, 3, &lo, &hi, &mean) == 0, "bootstrap runs");
    ok(lo <= hi, "bootstrap interval ordered [%.3f, %.3f]", lo, hi);
    double lo2, hi2, mean2;
    route_apgr_bootstrap(&d, pred, &rule, 0, 4, 200, 3, &lo2, &hi2, &mean2);
    ok(lo == lo2 && hi == hi2 && mean == mean2, "bootstrap is deterministic");
    route_eval_free(&d);

    /* best n of one small model with n_max 3: qualities per query and n
     * (.1 .5 .5), (.3 .2 .6) -> means .2 .35 .55 -> n = 3; on a tie the
     * smaller n wins; an n with an unknown cost is skipped */
    route_eval_data e;
    route_eval_alloc(&e, 2, 3, 3);
    double eq[2][4] = {{0.1, 0.5, 0.5, 1}, {0.3, 0.2, 0.6, 1}};
    for (size_t q = 0; q < 2; q++)
        for (size_t c = 0; c < 4; c++) {
            e.qual[q * 4 + c] = eq[q][c];
            e.cost[q * 4 + c] = e.dcost[q * 4 + c] = 1;
        }
    is_int(route_eval_best_n(&e, 0), 3, "best n by mean quality (hand)");
    e.qual[1 * 4 + 1] = 0.6;
    e.qual[1 * 4 + 2] = 0.2;
    is_int(route_eval_best_n(&e, 0), 2, "best n: the smaller n wins a tie");
    e.cost[0 * 4 + 1] = NAN;
    is_int(route_eval_best_n(&e, 0), 3, "best n skips an n with an unknown cost");
    route_eval_free(&e);

    /* the seeded split: a Fisher-Yates permutation of stream "split", the
     * first llround(frac * n) entries for testing */
    size_t perm[10], perm2[10], want[10];
    size_t k = route_split(10, 0.25, 7, perm);
    is_int(k, 3, "split: llround(0.25 * 10) test records");
    for (size_t i = 0; i < 10; i++)
        want[i] = i;
    lm_rng rg;
    lm_rng_init(&rg, 7, UINT64_C(0x73706c6974));
    for (size_t i = 10; i > 1; i--) {
        size_t j = (size_t)lm_rng_below(&rg, i), t = want[i - 1];
        want[i - 1] = want[j];
        want[j] = t;
    }
    ok(memcmp(perm, want, sizeof perm) == 0, "split: the permutation of rng stream \"split\"");
    route_split(10, 0.25, 7, perm2);
    ok(memcmp(perm, perm2, sizeof perm) == 0, "split is deterministic");
    int seen[10] = {0}, isperm = 1;
    for (size_t i = 0; i < 10; i++)
        isperm &= perm[i] < 10 && !seen[perm[i]]++;
    ok(isperm, "split: every record once");
    is_int(route_split(0, 0.5, 1, perm), 0, "split of nothing");

    /* route_eval_run refuses too few test records and, with a router to
     * train, an empty training split, before touching the data */
    route_eval_result res;
    route_eval_opts eo = {.predictor = ROUTE_PRED_TRAIN};
    route_models none = {0};
    route_eval_item one = {0}, *its[2] = {&one, &one};
    char err[128];
    is_int(route_eval_run(&res, &none, its, 1, its, 1, &eo, err, sizeof err), ROUTE_EVAL_EFEW,
           "one test record");
    is_str(err, "only 1 test records", "its message");
    is_int(route_eval_run(&res, &none, its, 0, its, 2, &eo, err, sizeof err), ROUTE_EVAL_ENOTRAIN,
           "no training records");
    is_str(err, "no training records", "its message");
    return tap_done();
}
