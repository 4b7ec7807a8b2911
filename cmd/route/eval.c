/* eval.c - route eval: the offline evaluation of lib/route/eval.h on a
 * held-out split, written as point and summary records (and, with --svg,
 * as cost-quality curves).
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/diag.h"
#include "core/fs.h"
#include "core/svg.h"
#include "route/report.h"
#include "route.h"

/* clang-format off */
static const lm_opt eval_opts[] = {
    O_PRICES,
    O_REFERENCE,
    O_NMAX,
    O_LABELS,
    O_TRAIN,
    O_COST,
    {"predictor", 0, "KIND", "train (default: a router on the training split) or byo (match_prob)", "choice:train byo", OPT_PREDICTOR},
    {"router", 0, "FILE", "use a router written by route train instead of training one", "file", OPT_ROUTER},
    {"test", 0, "FILE", "evaluate on the records of FILE (default: a seeded split)", "file", OPT_TEST},
    {"test-frac", 0, "F", "share of the records held out for evaluation (default 0.2)", NULL, OPT_TEST_FRAC},
    {"thresholds", 0, "K", "threshold grid: K quantile bins of the predictions (default 20)", NULL, OPT_THRESHOLDS},
    {"bootstrap", 0, "N", "resamples for the APGR confidence interval (default 200; 0: none)", NULL, OPT_BOOTSTRAP},
    {"random-seeds", 0, "N", "seeds averaged by the random-mixing baseline (default 10)", NULL, OPT_RANDOM_SEEDS},
    {"svg", 0, "FILE", "draw the cost-quality curves as SVG", "outfile", OPT_SVG},
    {0},
};
/* clang-format on */

const lm_cmd cmd_eval = {
    "route eval",
    "[OPTION]... [FILE]...",
    "Offline evaluation: cost-quality curves, baselines and RouteLLM metrics on a held-out split.",
    "Prints {\"type\":\"point\"} records for BEST-Route, the single-response router (n = 1), the\n"
    "oracle, random mixing and the fixed anchors, then {\"type\":\"summary\"} records.  Without\n"
    "--prices, the prices are route synth's, so `route synth | route eval` works.",
    NULL,
    eval_opts,
    LM_OPT_THREADS | LM_OPT_SEED | LM_OPT_RECORDS,
    NULL,
    NULL};

int eval_opt(void *vc, int id, const char *arg)
{
    ctx_t *c = vc;
    const lm_cmd *k = c->cur;
    switch (id) {
    case OPT_PREDICTOR:
        c->predictor = lm_opt_choice(k, "predictor", arg, NULL) ? ROUTE_PRED_BYO : ROUTE_PRED_TRAIN;
        break;
    case OPT_TEST: c->test_path = arg; break;
    case OPT_TEST_FRAC: c->test_frac = lm_opt_double(k, "test-frac", arg, 0, 1, 1, 1); break;
    case OPT_THRESHOLDS: c->bins = (size_t)lm_opt_int(k, "thresholds", arg, 1, 10000); break;
    case OPT_BOOTSTRAP: c->bootstrap = (size_t)lm_opt_int(k, "bootstrap", arg, 0, 1000000); break;
    case OPT_RANDOM_SEEDS: c->rand_seeds = (size_t)lm_opt_int(k, "random-seeds", arg, 1, 100000); break;
    case OPT_SVG: c->svg_path = arg; break;
    default: return route_opt_shared(c, id, arg);
    }
    return 0;
}

/* One {"type": "point"} record (route_report_point). */
static void emit_point(ctx_t *c, const char *method, const route_point *p, const char *model, size_t n,
                       int thr_kind)
{
    lm_out o = {0};
    o.standalone = 1;
    route_report_point(&o, method, p, model, n, thr_kind);
    lm_emit(&c->com, &o, NULL);
    lm_out_free(&o);
}

/* The fixed anchors' points: always the reference, always each small model
 * at n = 1 and at its best n. */
static void emit_anchors(ctx_t *c, const route_eval_result *res)
{
    emit_point(c, "always-reference", &res->ref, c->M.name[c->M.ref], 1, 0);
    for (size_t s = 0; s < c->M.n - 1; s++) {
        const char *nm = c->M.name[route_models_small(&c->M, s)];
        emit_point(c, "always", &res->always[s], nm, 1, 0);
        if (res->best_n[s])
            emit_point(c, "always-best-n", &res->always_best[s], nm, res->best_n[s], 0);
    }
}

/* The records of the run: the training records and the test records
 * (--test FILE, else none); 0 or the loop's exit status. */
static int eval_collect(ctx_t *c, coll *all, coll *tst, int nfiles, char **files)
{
    c->want_pred = c->predictor == ROUTE_PRED_BYO && !c->test_path;
    int st = collect(c, all, &cmd_eval, nfiles, files, 0);
    if (!st && c->test_path) {
        c->want_pred = c->predictor == ROUTE_PRED_BYO;
        char *tf[1] = {(char *)c->test_path};
        st = collect(c, tst, &cmd_eval, 1, tf, (uint64_t)1 << 40);
    }
    return st;
}

/* Every record of the evaluation on stdout, and the picture into svg. */
static void eval_write(ctx_t *c, const route_eval_result *res, size_t nte, lm_atomic *svg)
{
    const char *weak_name = c->M.name[route_models_small(&c->M, (size_t)res->weak / c->lo.n_max)];
    lm_plot *plot = c->svg_path ? lm_plot_new("Cost-quality curves (route eval)", "cost per 1k queries ($)",
                                              "mean quality")
                                : NULL;
    emit_anchors(c, res);
    if (plot)
        route_plot_anchors(plot, res, &c->M);
    /* curves, then summaries */
    static const char *const names[ROUTE_CURVES] = {"best-route", "single-response", "oracle", "random"};
    for (int k = 0; k < ROUTE_CURVES; k++) {
        for (size_t i = 0; i < res->n_curve[k]; i++)
            emit_point(c, names[k], &res->curve[k][i], NULL, 0, k == ROUTE_CURVE_RANDOM ? 2 : 1);
        if (plot)
            route_plot_curve(plot, names[k], res->curve[k], res->n_curve[k]);
    }
    route_report_ctx rc = {.cost_mode = (route_cost_mode)c->cost_mode,
                           .bootstrap = c->bootstrap,
                           .seed = c->com.seed,
                           .split_file = c->test_path != NULL};
    for (int k = 0; k < ROUTE_CURVES; k++) {
        lm_out o = {0};
        o.standalone = 1;
        route_report_summary(&o, res, k, names[k], weak_name, &rc);
        lm_emit(&c->com, &o, NULL);
        lm_out_free(&o);
    }
    if (plot) {
        char note[256], err[1024];
        snprintf(note, sizeof note, "%zu test queries, predictor %s, selector %s, seed %llu", nte,
                 res->predictor, res->selector_oracle ? "oracle" : "proxy", (unsigned long long)c->com.seed);
        lm_plot_note(plot, note);
        if (lm_svg_write(svg->fp, &plot, 1) < 0 || lm_atomic_commit(svg, err, sizeof err) < 0) {
            lm_atomic_abort(svg);
            lm_die(LM_EXIT_USAGE, "%s: write error", c->svg_path);
        }
        lm_plot_free(plot);
    }
}

int run_eval(ctx_t *c, int argc, char **argv)
{
    c->cur = &cmd_eval;
    int oi = lm_cli_parse(&cmd_eval, argc, argv, &c->com, eval_opt, c);
    lm_cli_threads(&c->com);
    load_prices_or(c, 1);
    if (c->router_path && c->predictor == ROUTE_PRED_BYO)
        lm_usage_error(&cmd_eval, "--router and --predictor byo exclude each other");
    if (c->router_path)
        load_router(c);
    char err[1024];
    lm_atomic svg = {0};
    if (c->svg_path && lm_atomic_open(&svg, c->svg_path, err, sizeof err) < 0)
        lm_die(LM_EXIT_USAGE, "%s", err);
    coll all = {0}, tst = {0};
    int st = eval_collect(c, &all, &tst, argc - oi, argv + oi);
    if (st) {
        if (c->svg_path)
            lm_atomic_abort(&svg);
        return st;
    }
    /* the split */
    size_t ntr, nte;
    item **tr = lm_xmalloc(lm_xmul(all.n + 1, sizeof *tr));
    item **te = lm_xmalloc(lm_xmul(all.n + tst.n + 1, sizeof *te));
    route_eval_partition(all.v, all.n, c->test_path != NULL, tst.v, tst.n, c->test_frac, c->com.seed, tr,
                         &ntr, te, &nte);
    route_eval_opts eo = {.lo = c->lo,
                          .cost_mode = (route_cost_mode)c->cost_mode,
                          .predictor = c->router_path ? ROUTE_PRED_ROUTER : (route_pred_kind)c->predictor,
                          .router = &c->R,
                          .rmap = c->rmap,
                          .feat = c->fc,
                          .no_features = c->no_features,
                          .train = c->to,
                          .bins = c->bins,
                          .bootstrap = c->bootstrap,
                          .rand_seeds = c->rand_seeds,
                          .seed = c->com.seed};
    route_eval_result res;
    int est = route_eval_run(&res, &c->M, tr, ntr, te, nte, &eo, err, sizeof err);
    if (est)
        eval_die(est, err);
    eval_write(c, &res, nte, &svg);
    route_eval_result_free(&res);
    free(tr);
    free(te);
    coll_free(c, &all);
    coll_free(c, &tst);
    return 0;
}
