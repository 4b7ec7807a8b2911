/* apply.c - route apply (the BEST-Route decision per query,
 * lib/route/decide.h) and route select (best-of-n among the chosen model's
 * samples, lib/route/select.h).
 */
#include <math.h>
#include <stdlib.h>

#include "core/diag.h"
#include "route/decide.h"
#include "route/recio.h"
#include "route/report.h"
#include "route.h"

/* clang-format off */
static const lm_opt apply_opts[] = {
    O_PRICES,
    O_REFERENCE,
    O_NMAX,
    {"router", 0, "FILE", "a router written by route train (default: the records' match_prob)", "file", OPT_ROUTER},
    {"threshold", 't', "T", "keep (model, n) with match probability >= T (default 0.5)", NULL, OPT_THRESHOLD},
    O_COST,
    {0},
};
static const lm_opt select_opts[] = {
    {"from", 0, "MODEL", "select among MODEL's samples (default: the record's route.model)", NULL, OPT_FROM},
    {"first", 0, "N", "among the first N samples (default: route.n, else all)", NULL, OPT_FIRST},
    {"selector", 0, "KIND", "proxy, oracle (true score) or auto (default: oracle if no proxy at all)", "choice:auto proxy oracle", OPT_SELECTOR},
    {0},
};
/* clang-format on */

const lm_cmd cmd_apply = {
    "route apply",
    "[OPTION]... [FILE]...",
    "Route each query: the cheapest (model, n) with match probability >= T, else the reference.",
    "Adds \"route\": {\"model\",\"n\",\"p_match\",\"est_cost\",\"cost_mode\"}.  Match probabilities come\n"
    "from --router or from the record's \"match_prob\": {\"MODEL:N\": P}.",
    NULL,
    apply_opts,
    LM_OPT_THREADS | LM_OPT_RECORDS,
    NULL,
    NULL};
const lm_cmd cmd_select = {
    "route select",
    "[OPTION]... [FILE]...",
    "Best-of-n: keep the sample with the highest proxy score (first one on ties).",
    "Adds \"selected\": {\"model\",\"n\",\"index\",\"score\",\"proxy\",\"output_tokens\",\"selector\"}.",
    NULL,
    select_opts,
    LM_OPT_THREADS | LM_OPT_RECORDS,
    NULL,
    NULL};

int apply_opt(void *vc, int id, const char *arg)
{
    ctx_t *c = vc;
    if (id == OPT_THRESHOLD) {
        c->threshold = lm_opt_double(c->cur, "threshold", arg, 0, 0, 1, 0);
        return 0;
    }
    return route_opt_shared(c, id, arg);
}

int select_opt(void *vc, int id, const char *arg)
{
    ctx_t *c = vc;
    const lm_cmd *k = c->cur;
    switch (id) {
    case OPT_FROM:
        if (!*arg)
            lm_usage_error(k, "invalid --from '': a model name is expected");
        c->from = arg;
        break;
    case OPT_FIRST: c->first = (size_t)lm_opt_int(k, "first", arg, 1, 1000000); break;
    case OPT_SELECTOR: c->selector = lm_opt_choice(k, "selector", arg, NULL); break;
    default: return route_opt_shared(c, id, arg);
    }
    return 0;
}

/* ---- apply ---- */

/* The match probabilities of one record (from the router or its
 * "match_prob"), in prices-table head order. */
static int apply_pred(const ctx_t *c, const lm_record *in, const route_record *r, double *pred, lm_rerr *err)
{
    if (c->have_router) {
        char msg[512];
        int st = route_eval_predict(&c->R, c->rmap, n_heads(c), r, pred, msg, sizeof msg);
        if (st) {
            const lm_member *m = st == ROUTE_EVAL_EPREDICT ? lm_rec_get(in, "features") : NULL;
            lm_rerr_set(err, m ? m->vpos : LM_NOPOS, "%s", msg);
            return -1;
        }
        return 0;
    }
    int k = route_rec_match_prob(in, &c->M, c->lo.n_max, pred, err);
    if (k > 0) {
        lm_rerr_set(err, LM_NOPOS, "no \"match_prob\" field and no --router");
        lm_rerr_hint(
            err, "give --router FILE (from route train) or {\"match_prob\": {\"MODEL:N\": p}} per record");
    }
    return k != 0 ? -1 : 0;
}

static int apply_rec(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    ctx_t *c = vc;
    size_t H = n_heads(c), C = H + 1;
    route_record r;
    if (route_rec_parse(in, &c->M, c->cost_mode == ROUTE_COST_REALISED, &r, err) < 0)
        return LM_REC_BAD;
    double *pred = lm_xmalloc(C * sizeof(double) * 3);
    double *est = pred + C, *real = est + C;
    int rc = apply_pred(c, in, &r, pred, err) < 0 ? LM_REC_BAD : LM_REC_OK;
    char msg[512];
    int have_est = 0;
    if (rc == LM_REC_OK) {
        have_est = route_costs_estimated(&c->M, &r, c->lo.n_max, est, &est[H], msg, sizeof msg) == 0;
        if (!have_est && c->cost_mode == ROUTE_COST_ESTIMATED) {
            lm_rerr_set(err, LM_NOPOS, "%s", msg);
            rc = LM_REC_BAD;
        }
    }
    if (rc == LM_REC_OK && c->cost_mode == ROUTE_COST_REALISED)
        route_costs_realised(&c->M, &r, c->lo.n_max, real, &real[H]);
    if (rc == LM_REC_OK) {
        const double *dc = c->cost_mode == ROUTE_COST_REALISED ? real : est;
        long h = route_decide(pred, dc, H, c->lo.n_max, 0, c->threshold, 0, 0, 0);
        route_report_route(out, &c->M, c->lo.n_max, h, pred, est, have_est, real,
                           (route_cost_mode)c->cost_mode);
    }
    free(pred);
    route_record_free(&r, &c->M);
    return rc;
}

int run_apply(ctx_t *c, int argc, char **argv)
{
    c->cur = &cmd_apply;
    int oi = lm_cli_parse(&cmd_apply, argc, argv, &c->com, apply_opt, c);
    lm_cli_threads(&c->com);
    load_prices(c);
    if (c->router_path)
        load_router(c);
    if (c->cost_mode == ROUTE_COST_ESTIMATED)
        for (size_t i = 0; i < c->M.n; i++)
            if (isnan(c->M.avg_out[i]))
                lm_die_hint(LM_EXIT_DATA,
                            "add \"avg_out_tokens\" to the prices file, use a --router from route train, or "
                            "--cost realised",
                            "%s: model '%s' has no average output length for the estimated cost",
                            c->prices_path, c->M.name[i]);
    lm_loop L = {.cmd = &cmd_apply, .common = &c->com, .fn = apply_rec, .ctx = c, .parallel = 1};
    return lm_loop_run(&L, argc - oi, argv + oi);
}

/* ---- select ---- */

static int select_rec(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    ctx_t *c = vc;
    char model[256];
    route_selection sel;
    int rc =
        route_rec_select(in, c->from, c->first, (route_selector)c->selector, model, sizeof model, &sel, err);
    if (rc < 0)
        return LM_REC_BAD;
    route_report_selected(out, model, &sel);
    return LM_REC_OK;
}

int run_select(ctx_t *c, int argc, char **argv)
{
    c->cur = &cmd_select;
    int oi = lm_cli_parse(&cmd_select, argc, argv, &c->com, select_opt, c);
    lm_cli_threads(&c->com);
    lm_loop L = {.cmd = &cmd_select, .common = &c->com, .fn = select_rec, .ctx = c, .parallel = 1};
    return lm_loop_run(&L, argc - oi, argv + oi);
}
