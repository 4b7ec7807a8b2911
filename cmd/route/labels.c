/* labels.c - route labels (BEST-Route's soft match labels per record,
 * lib/route/labels.h) and route train (a router learnt from those labels,
 * lib/route/router.h and eval.h).
 */
#include <stdlib.h>

#include "core/diag.h"
#include "route/recio.h"
#include "route/report.h"
#include "route.h"

/* clang-format off */
static const lm_opt labels_opts[] = {
    O_PRICES,
    O_REFERENCE,
    O_NMAX,
    O_LABELS,
    {0},
};
static const lm_opt train_opts[] = {
    O_PRICES,
    O_REFERENCE,
    O_NMAX,
    O_LABELS,
    O_TRAIN,
    {"out", 'o', "FILE", "write the trained router to FILE (required)", "outfile", OPT_OUT},
    {0},
};
/* clang-format on */

const lm_cmd cmd_labels = {
    "route labels",
    "[OPTION]... [FILE]...",
    "Add BEST-Route soft match labels (seeded bootstrap of best-of-n) to each record.",
    "For every small model and n = 1..n-max, draws B index sets of n samples with replacement,\n"
    "keeps the best by proxy (by true score when there is no proxy: \"selector\": \"oracle\") and\n"
    "writes labels {\"MODEL:N\": P} with P the share of pairs where the winner matches a\n"
    "reference draw.",
    NULL,
    labels_opts,
    LM_OPT_THREADS | LM_OPT_SEED | LM_OPT_RECORDS,
    NULL,
    NULL};
const lm_cmd cmd_train = {
    "route train",
    "--out FILE [OPTION]... [FILE]...",
    "Train a multi-head router (hashed n-grams, linear or MLP) on labelled records.",
    "Builds the labels as route labels does, learns one head per (small model, n) with soft-label\n"
    "cross-entropy and early stopping, writes the router atomically and prints a summary record.",
    NULL,
    train_opts,
    LM_OPT_THREADS | LM_OPT_SEED | LM_OPT_RECORDS,
    NULL,
    NULL};

int labels_opt(void *vc, int id, const char *arg)
{
    return route_opt_shared(vc, id, arg);
}

int train_opt(void *vc, int id, const char *arg)
{
    ctx_t *c = vc;
    if (id == OPT_OUT) {
        c->out_path = arg;
        return 0;
    }
    return route_opt_shared(c, id, arg);
}

/* ---- labels ---- */

static int labels_rec(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    ctx_t *c = vc;
    route_record r;
    if (route_rec_parse(in, &c->M, 1, &r, err) < 0)
        return LM_REC_BAD;
    route_labels l;
    char msg[512];
    route_labels_alloc(&l, n_heads(c));
    int rc = route_labels_build(&l, &r, &c->M, &c->lo, c->com.seed, in->index, msg, sizeof msg);
    if (rc == 0)
        route_report_labels(out, &c->M, c->lo.n_max, &l);
    else
        lm_rerr_set(err, LM_NOPOS, "%s", msg);
    route_labels_free(&l);
    route_record_free(&r, &c->M);
    return rc ? LM_REC_BAD : LM_REC_OK;
}

int run_labels(ctx_t *c, int argc, char **argv)
{
    c->cur = &cmd_labels;
    int oi = lm_cli_parse(&cmd_labels, argc, argv, &c->com, labels_opt, c);
    lm_cli_threads(&c->com);
    load_prices(c);
    lm_loop L = {.cmd = &cmd_labels, .common = &c->com, .fn = labels_rec, .ctx = c, .parallel = 1};
    return lm_loop_run(&L, argc - oi, argv + oi);
}

/* ---- train ---- */

int run_train(ctx_t *c, int argc, char **argv)
{
    c->cur = &cmd_train;
    int oi = lm_cli_parse(&cmd_train, argc, argv, &c->com, train_opt, c);
    if (!c->out_path)
        lm_usage_error(&cmd_train, "--out FILE is required");
    lm_cli_threads(&c->com);
    load_prices(c);
    coll all = {0};
    int st = collect(c, &all, &cmd_train, argc - oi, argv + oi, 0);
    if (st)
        return st;
    if (!all.n)
        lm_die(LM_EXIT_DATA, "no training records");
    item **its = lm_xmalloc(all.n * sizeof *its);
    route_record *recs = lm_xmalloc(all.n * sizeof *recs);
    for (size_t i = 0; i < all.n; i++) {
        its[i] = &all.v[i];
        recs[i] = all.v[i].r;
    }
    route_models_fit_avg_out(&c->M, recs, all.n);
    free(recs);
    int orc;
    route_labels *L;
    char err[1024];
    int est = route_eval_labels(&L, its, all.n, &c->M, &c->lo, c->com.seed, &orc, err, sizeof err);
    if (est)
        eval_die(est, err);
    route_router R;
    route_train_log log;
    c->to.seed = c->com.seed;
    est = route_eval_train(&R, &log, its, all.n, L, &c->M, c->lo.n_max, &c->fc, c->no_features, &c->to, err,
                           sizeof err);
    if (est)
        eval_die(est, err);
    if (route_router_save(&R, c->out_path, err, sizeof err) < 0)
        lm_die(LM_EXIT_USAGE, "%s", err);
    lm_out o = {0};
    o.standalone = 1;
    route_report_train(&o, &R, &log, orc, c->com.seed);
    lm_emit(&c->com, &o, NULL);
    lm_out_free(&o);
    route_router_free(&R);
    route_eval_labels_free(L, all.n);
    free(its);
    coll_free(c, &all);
    return 0;
}
