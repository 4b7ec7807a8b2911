/* test_route_labels.c - bootstrap labels, the decision rule and the curve
 * variant against hand-worked cases and against the goldens written by
 * tests/golden/route_labels.py. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "route/data.h"
#include "route/decide.h"
#include "route/eval.h"
#include "route/labels.h"
#include "tap.h"

static double num(const json_t *a, size_t i)
{
    return json_number_value(json_array_get(a, i));
}

static void hand_cases(void)
{
    /* _match_prob by hand: small {0.1, 0.3}, ref {0.2, 0.3}: pairs >=: (0.3,0.2),(0.3,0.3) -> 2/4 */
    double sm[2] = {0.1, 0.3}, rf[2] = {0.2, 0.3};
    is_near(route_match_prob(sm, 2, rf, 2, 0), 0.5, 1e-15, "match prob by hand");
    is_near(route_match_prob(sm, 2, rf, 2, 0.1), 0.75, 1e-15, "match prob with t = 0.1");
    /* winner: proxies 0.5, 0.9, 0.9 at samples 0..2; drawn set {2, 1}: default
     * picks the first drawn max (sample 2); bug-compat picks sample 1 (first of all) */
    route_sample s[3] = {{0.0, 0.5, 1}, {0.1, 0.9, 1}, {0.2, 0.9, 1}};
    size_t set[2] = {2, 1};
    is_int(route_winner(s, 3, set, 2, 0, 0), 2, "argmax within the set, first drawn wins ties");
    is_int(route_winner(s, 3, set, 2, 0, 1), 1, "bug-compat: first index of all samples with the max");
    size_t set2[2] = {0, 0};
    is_int(route_winner(s, 3, set2, 2, 1, 0), 0, "score selector on repeated draw");
    double px[4] = {0.2, NAN, 0.7, 0.7};
    is_int(route_best_of_n(px, 4), 2, "best_of_n: first max, NaN skipped");

    /* decision rule: 2 small models x n_max 2 = 4 heads */
    double p[4] = {0.9, 0.95, 0.2, 0.8}, c[4] = {1.0, 2.0, 0.5, 1.0};
    is_int(route_decide(p, c, 4, 2, 0, 0.85, 0, 0, 0), 0, "cheapest kept head");
    is_int(route_decide(p, c, 4, 2, 0, 0.7, 0, 0, 0), 0, "cost tie -> candidate order");
    is_int(route_decide(p, c, 4, 2, 0, 0.1, 0, 0, 0), 2, "low threshold -> cheapest overall");
    is_int(route_decide(p, c, 4, 2, 0, 0.99, 0, 0, 0), ROUTE_REF, "none above t -> reference");
    is_int(route_decide(p, c, 4, 2, 1, 0.92, 0, 0, 0), ROUTE_REF, "n_use = 1 ignores bo2 head");
    is_int(route_decide(p, c, 4, 2, 0, 0.92, 1, 1.0, 1.5), 1 - 2, "reference competes and is cheaper");
    is_int(route_decide(p, c, 4, 2, 0, 0.92, 0, 1.0, 1.5), 1, "Algorithm 1: reference only as fallback");
    double pn[4] = {NAN, 0.95, 0.2, 0.8};
    is_int(route_decide(pn, c, 4, 2, 0, 0.0, 0, 0, 0), 2, "NaN prediction never qualifies");
}

static void estimated_vs_realised(void)
{
    /* same probabilities; estimated cost prefers head 0 (short average
     * output), realised cost prefers head 1 (this draw was short) */
    const char *names[2] = {"small", "ref"};
    double in[2] = {1, 10}, out[2] = {2, 20};
    route_models m;
    char err[256];
    route_models_init(&m, 2, names, in, out, 1, err, sizeof err);
    m.avg_out[0] = 100;
    m.avg_out[1] = 300;
    double est[2] = {route_cost_estimated(&m, 0, 1, 10), route_cost_estimated(&m, 0, 2, 10)};
    double real[2] = {route_cost_realised(&m, 0, 10, 400), route_cost_realised(&m, 0, 10, 150)};
    is_near(est[0], (10 * 1 + 100 * 2) * 1e-6, 1e-18, "estimated cost formula");
    is_near(real[1], (10 * 1 + 150 * 2) * 1e-6, 1e-18, "realised cost formula");
    double p[2] = {0.9, 0.9};
    is_int(route_decide(p, est, 2, 2, 0, 0.5, 0, 0, 0), 0, "estimated cost picks n = 1");
    is_int(route_decide(p, real, 2, 2, 0, 0.5, 0, 0, 0), 1, "realised cost picks n = 2");
    route_models_free(&m);
}

static void goldens(void)
{
    json_error_t je;
    json_t *g = json_load_file("testdata/golden/route/labels.json", 0, &je);
    ok(g != NULL, "golden loads (%s)", g ? "ok" : je.text);
    if (!g)
        return;
    char *pj = json_dumps(json_object_get(g, "prices"), 0);
    route_models m;
    char err[256];
    ok(route_models_parse(&m, pj, strlen(pj), json_string_value(json_object_get(g, "reference")), err,
                          sizeof err) == 0,
       "golden prices: %s", err);
    free(pj);
    /* the prices object is unordered: rebuild the table in golden order */
    const json_t *gm = json_object_get(g, "models");
    const char *names[3];
    double in[3], out[3], avg[3];
    for (size_t i = 0; i < 3; i++) {
        names[i] = json_string_value(json_array_get(gm, i));
        long k = route_models_find(&m, names[i]);
        in[i] = m.in_price[k];
        out[i] = m.out_price[k];
        avg[i] = m.avg_out[k];
    }
    route_models_free(&m);
    route_models_init(&m, 3, names, in, out, 1, err, sizeof err);
    memcpy(m.avg_out, avg, sizeof avg);

    route_record r;
    ok(route_record_parse(&r, json_object_get(g, "record"), &m, err, sizeof err) == 0, "golden record: %s",
       err);
    route_label_opts o;
    route_label_opts_default(&o);
    o.n_max = 3;
    o.n_boot = 4;
    size_t *dr[3];
    const json_t *gd = json_object_get(g, "draws");
    for (size_t i = 0; i < 3; i++) {
        const json_t *a = json_object_get(gd, names[i]);
        dr[i] = malloc(json_array_size(a) * sizeof(size_t));
        for (size_t k = 0; k < json_array_size(a); k++)
            dr[i][k] = (size_t)json_integer_value(json_array_get(a, k));
    }
    static const char *cases[3] = {"t0", "t005", "bug_t0"};
    double ts[3] = {0, 0.05, 0};
    int bugs[3] = {0, 0, 1};
    route_labels l;
    route_labels_alloc(&l, 6);
    for (int c = 0; c < 3; c++) {
        o.match_t = ts[c];
        o.bug_compat = bugs[c];
        const json_t *gl = json_object_get(json_object_get(g, "labels"), cases[c]);
        ok(route_labels_from_draws(&l, &r, &m, &o, (const size_t *const *)dr, err, sizeof err) == 0,
           "labels %s: %s", cases[c], err);
        double md = 0, sd = 0, td = 0;
        for (size_t h = 0; h < 6; h++) {
            md = fmax(md, fabs(l.match[h] - num(json_object_get(gl, "match"), h)));
            sd = fmax(sd, fabs(l.draw_score[h] - num(json_object_get(gl, "draw_score"), h)));
            td = fmax(td, fabs(l.draw_tokens[h] - num(json_object_get(gl, "draw_tokens"), h)));
        }
        is_near(md, 0, 1e-12, "golden %s: match labels (max-abs)", cases[c]);
        is_near(sd, 0, 1e-12, "golden %s: winner scores", cases[c]);
        is_near(td, 0, 0, "golden %s: summed tokens", cases[c]);
        is_near(l.ref_score, json_number_value(json_object_get(gl, "ref_score")), 1e-12,
                "golden %s: reference draw", cases[c]);
        ok(!l.selector_oracle, "proxy selector used");
    }
    /* decision rule */
    const json_t *gdc = json_object_get(g, "decide");
    const json_t *probs = json_object_get(gdc, "probs"), *pts = json_object_get(gdc, "prompt_tokens");
    const json_t *thr = json_object_get(gdc, "thresholds");
    int all = 1, all1 = 1;
    for (size_t q = 0; q < json_array_size(probs); q++) {
        double p[6], cost[6], rc;
        r.prompt_tokens[0] = r.prompt_tokens[1] = r.prompt_tokens[2] = num(pts, q);
        route_costs_estimated(&m, &r, 3, cost, &rc, err, sizeof err);
        for (size_t h = 0; h < 6; h++)
            p[h] = num(json_array_get(probs, q), h);
        for (size_t k = 0; k < json_array_size(thr); k++) {
            long want = (long)num(json_array_get(json_object_get(gdc, "alg1"), q), k);
            long want1 = (long)num(json_array_get(json_object_get(gdc, "alg1_n1"), q), k);
            all &= route_decide(p, cost, 6, 3, 0, num(thr, k), 0, 0, 0) == want;
            all1 &= route_decide(p, cost, 6, 3, 1, num(thr, k), 0, 0, 0) == want1;
        }
    }
    ok(all, "golden Algorithm 1 choices (6 queries x 5 thresholds)");
    ok(all1, "golden single-response (n = 1) choices");
    /* curve variant: thresholds over scores incl. the reference's 1 */
    const json_t *gc = json_object_get(g, "curve");
    route_eval_data d;
    route_eval_alloc(&d, 1, 6, 3);
    for (size_t h = 0; h < 6; h++)
        d.dcost[h] = d.cost[h] = num(json_object_get(gc, "realised_cost"), h);
    d.dcost[6] = d.cost[6] = json_number_value(json_object_get(gc, "ref_cost"));
    double sc[6];
    for (size_t h = 0; h < 6; h++)
        sc[h] = num(json_object_get(gc, "scores"), h);
    route_rule rule = {0, 1, 1.0};
    double th[21];
    is_int(route_thresholds_linear(&d, sc, &rule, 21, th), 21, "21 thresholds");
    int tall = 1, call = 1;
    for (size_t k = 0; k < 21; k++) {
        tall &= fabs(th[k] - num(json_object_get(gc, "thresholds"), k)) < 1e-12;
        long ch;
        route_eval_choose(&d, sc, &rule, th[k], &ch);
        call &= ch == (long)num(json_object_get(gc, "choice"), k);
    }
    ok(tall, "golden curve thresholds");
    ok(call, "golden curve choices (realised cost, reference competes)");
    /* RouteLLM metrics on the hand curve */
    const json_t *gmt = json_object_get(g, "metrics");
    route_point P[6];
    for (size_t i = 0; i < 6; i++) {
        memset(&P[i], 0, sizeof P[i]);
        P[i].ref_share = num(json_object_get(gmt, "share_pct"), i) / 100;
        P[i].quality_mean = num(json_object_get(gmt, "accuracy"), i);
    }
    double w = json_number_value(json_object_get(gmt, "weak"));
    double s = json_number_value(json_object_get(gmt, "strong"));
    is_near(route_auc(P, 6), json_number_value(json_object_get(gmt, "auc")), 1e-9, "golden AUC");
    is_near(route_apgr(P, 6, w, s), json_number_value(json_object_get(gmt, "apgr")), 1e-12, "golden APGR");
    const json_t *cpt = json_object_get(gmt, "cpt");
    is_near(route_cpt(P, 6, w, s, 0.5), json_number_value(json_object_get(cpt, "50")), 1e-9,
            "golden CPT(50%%)");
    is_near(route_cpt(P, 6, w, s, 0.8), json_number_value(json_object_get(cpt, "80")), 1e-9,
            "golden CPT(80%%)");
    is_near(route_cpt(P, 6, w, s, 0.2), json_number_value(json_object_get(cpt, "20")), 1e-9,
            "golden CPT(20%%)");

    route_eval_free(&d);
    route_labels_free(&l);
    for (size_t i = 0; i < 3; i++)
        free(dr[i]);
    route_record_free(&r, &m);
    route_models_free(&m);
    json_decref(g);
}

static void seeded(void)
{
    /* seeded labels are a function of (seed, record index) only */
    const char *names[2] = {"a", "ref"};
    double in[2] = {1, 1}, out[2] = {1, 1};
    route_models m;
    char err[256];
    route_models_init(&m, 2, names, in, out, 1, err, sizeof err);
    json_error_t je;
    json_t *j =
        json_loads("{\"id\":\"x\",\"prompt_tokens\":1,\"responses\":{"
                   "\"a\":[{\"score\":0.1,\"output_tokens\":1},{\"score\":0.5,\"output_tokens\":2},{"
                   "\"score\":0.3,\"output_tokens\":3}],"
                   "\"ref\":[{\"score\":0.2,\"output_tokens\":1},{\"score\":0.4,\"output_tokens\":1}]}}",
                   0, &je);
    route_record r;
    ok(route_record_parse(&r, j, &m, err, sizeof err) == 0, "record without proxy");
    route_label_opts o;
    route_label_opts_default(&o);
    route_labels a, b;
    route_labels_alloc(&a, 5);
    route_labels_alloc(&b, 5);
    route_labels_build(&a, &r, &m, &o, 42, 7, err, sizeof err);
    route_labels_build(&b, &r, &m, &o, 42, 7, err, sizeof err);
    ok(memcmp(a.match, b.match, 5 * sizeof(double)) == 0, "same seed and index -> same labels");
    ok(a.selector_oracle, "no proxy -> oracle selector flagged");
    ok(a.match[4] >= a.match[0], "oracle best-of-5 matches at least as often as best-of-1 here");
    route_labels_build(&b, &r, &m, &o, 42, 8, err, sizeof err);
    route_labels_free(&a);
    route_labels_free(&b);
    route_record_free(&r, &m);
    route_models_free(&m);
    json_decref(j);
}

int main(void)
{
    hand_cases();
    estimated_vs_realised();
    goldens();
    seeded();
    return tap_done();
}
