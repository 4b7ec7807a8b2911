/* main.c - route: cost-aware LLM routing with best-of-n sampling, the
 * BEST-Route decision rule (Ding et al., "BEST-Route: Adaptive LLM Routing
 * with Test-Time Optimal Compute", ICML 2025, Algorithm 1), its training
 * labels as the public reference code builds them, a small multi-head
 * router of our own (hashed n-grams, linear or MLP; not the paper's DeBERTa
 * router), proxy best-of-n selection, a seeded synthetic generator and an
 * honest offline evaluation with RouteLLM's metrics.
 *
 * Argument parsing, dispatch of the subcommands and the record loops only:
 * every algorithm is in lib/route/.  One executable, subcommands import,
 * labels, train, apply, select, eval and synth (the subcommand is
 * required), one file per subcommand or pair of subcommands in cmd/route/:
 * import.c, labels.c (labels, train), apply.c (apply, select), eval.c,
 * synth.c.  This file holds the top-level table, the dispatch, the options
 * several subcommands share and their set-up (prices, router, collected
 * records).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/diag.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/utf8.h"
#include "route/recio.h"
#include "route.h"

static const lm_cmd *const subs[] = {&cmd_import, &cmd_labels, &cmd_train, &cmd_apply,
                                     &cmd_select, &cmd_eval,   &cmd_synth, NULL};
const route_sub route_subs[] = {
    {&cmd_import, import_opt, run_import}, {&cmd_labels, labels_opt, run_labels},
    {&cmd_train, train_opt, run_train},    {&cmd_apply, apply_opt, run_apply},
    {&cmd_select, select_opt, run_select}, {&cmd_eval, eval_opt, run_eval},
    {&cmd_synth, synth_opt, run_synth},    {0},
};
static const lm_cmd cmd = {
    "route",
    "COMMAND [OPTION]... [FILE]...",
    "Cost-aware LLM routing with best-of-n sampling (BEST-Route) and its offline evaluation.",
    "A command is required; 'route COMMAND --help' lists its options.",
    "Example:\n  route synth -n 500 --prices-out p.json | route eval --prices p.json",
    NULL,
    0,
    NULL,
    subs};

/* ---- options ---- */

int route_opt_shared(ctx_t *c, int id, const char *arg)
{
    const lm_cmd *k = c->cur;
    switch (id) {
    case OPT_PRICES: c->prices_path = arg; break;
    case OPT_REFERENCE:
        if (!*arg)
            lm_usage_error(k, "invalid --reference '': a model name is expected");
        c->reference = arg;
        break;
    case OPT_NMAX:
        c->lo.n_max = (size_t)lm_opt_int(k, "n-max", arg, 1, 64);
        c->nmax_set = 1;
        break;
    case OPT_DRAWS: c->lo.n_boot = (size_t)lm_opt_int(k, "draws", arg, 1, 100000); break;
    case OPT_MATCH_T: c->lo.match_t = lm_opt_double(k, "match-t", arg, 0, 0, HUGE_VAL, 0); break;
    case OPT_BUG_COMPAT: c->lo.bug_compat = 1; break;
    case OPT_MODEL: c->to.arch = lm_opt_choice(k, "model", arg, NULL) ? ROUTE_MLP : ROUTE_LINEAR; break;
    case OPT_HASH_DIM: c->fc.hash_dim = (uint32_t)lm_opt_int(k, "hash-dim", arg, 0, 1 << 24); break;
    case OPT_NO_FEATURES: c->no_features = 1; break;
    case OPT_HIDDEN: c->to.hidden = (size_t)lm_opt_int(k, "hidden", arg, 1, 4096); break;
    case OPT_L2: c->to.l2 = lm_opt_double(k, "l2", arg, 0, 0, HUGE_VAL, 0); break;
    case OPT_LR: c->to.lr = lm_opt_double(k, "lr", arg, 0, 1, 10, 0); break;
    case OPT_EPOCHS: c->to.max_epochs = (size_t)lm_opt_int(k, "epochs", arg, 1, 10000); break;
    case OPT_PATIENCE: c->to.patience = (size_t)lm_opt_int(k, "patience", arg, 1, 10000); break;
    case OPT_VAL_FRAC: c->to.val_frac = lm_opt_double(k, "val-frac", arg, 0, 0, 0.9, 0); break;
    case OPT_BATCH: c->to.batch = (size_t)lm_opt_int(k, "batch", arg, 1, 1 << 24); break;
    case OPT_COST: c->cost_mode = lm_opt_choice(k, "cost", arg, NULL); break;
    case OPT_ROUTER: c->router_path = arg; break;
    }
    return 0;
}

void route_ctx_init(ctx_t *c)
{
    route_label_opts_default(&c->lo);
    route_train_opts_default(&c->to);
    route_feat_cfg_default(&c->fc);
    route_synth_opts_default(&c->so);
    c->threshold = 0.5;
    c->cost_mode = ROUTE_COST_ESTIMATED;
    c->test_frac = 0.2;
    c->bins = 20;
    c->bootstrap = 200;
    c->rand_seeds = 10;
    c->queries = 1000;
    c->predictor = ROUTE_PRED_TRAIN;
}

/* ---- set-up shared by the subcommands ---- */

void load_prices_or(ctx_t *c, int builtin)
{
    char err[512];
    size_t len;
    char *text;
    if (!c->prices_path && builtin) {
        json_t *p = route_synth_prices();
        if (!p)
            lm_die(LM_EXIT_USAGE, "out of memory");
        lm_buf b = {0};
        lm_buf_add_jansson(&b, p);
        json_decref(p);
        len = b.n;
        text = lm_xstrndup(b.p, b.n);
        lm_buf_free(&b);
        c->prices_path = "(route synth's prices)";
    } else {
        if (!c->prices_path)
            lm_usage_error(c->cur, "--prices FILE is required");
        text = lm_read_file(c->prices_path, &len, err, sizeof err);
    }
    if (!text)
        lm_die(LM_EXIT_DATA, "%s", err);
    size_t off;
    route_err e;
    if (route_models_parse_e(&c->M, text, len, c->reference, &off, &e) < 0) {
        if (off == ROUTE_NOPOS) {
            free(text);
            lm_die_hint(LM_EXIT_DATA, e.hint, "%s: %s", c->prices_path, e.msg);
        }
        size_t line = 1, ls = 0;
        for (size_t i = 0; i < off && i < len; i++)
            if (text[i] == '\n') {
                line++;
                ls = i + 1;
            }
        size_t col = lm_utf8_column(text + ls, off - ls);
        free(text);
        lm_die_hint(LM_EXIT_DATA, e.hint, "%s:%zu:%zu: %s", c->prices_path, line, col, e.msg);
    }
    free(text);
}

void load_prices(ctx_t *c)
{
    load_prices_or(c, 0);
}

void load_router(ctx_t *c)
{
    char err[512];
    if (route_router_load(&c->R, c->router_path, err, sizeof err) < 0)
        lm_die(LM_EXIT_DATA, "%s", err);
    if (strcmp(c->R.reference, c->M.name[c->M.ref]) != 0)
        lm_die_hint(LM_EXIT_DATA, "use the same --reference as for route train",
                    "%s: the router's reference is '%s', the prices file's is '%s'", c->router_path,
                    c->R.reference, c->M.name[c->M.ref]);
    if (c->nmax_set && c->lo.n_max != c->R.n_max)
        lm_usage_error(c->cur, "--n-max %zu differs from the router's n-max %zu", c->lo.n_max, c->R.n_max);
    c->lo.n_max = c->R.n_max;
    c->rmap = lm_xmalloc(c->R.n_heads * sizeof *c->rmap);
    const char *missing;
    if (route_router_map(&c->R, &c->M, c->rmap, &missing) < 0)
        lm_die(LM_EXIT_DATA, "%s: model '%s' of the router is not in the prices file %s", c->router_path,
               missing, c->prices_path);
    c->have_router = 1;
}

size_t n_heads(const ctx_t *c)
{
    return (c->M.n - 1) * c->lo.n_max;
}

/* ---- collecting records (train, eval) ---- */

static int collect_rec(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    ctx_t *c = vc;
    out->suppress = 1;
    item it = {0};
    it.index = in->index;
    if (route_rec_parse(in, &c->M, 1, &it.r, err) < 0)
        return LM_REC_BAD;
    if (c->want_pred) {
        it.pred = lm_xmalloc(lm_xmul(n_heads(c) ? n_heads(c) : 1, sizeof(double)));
        int rc = route_rec_match_prob(in, &c->M, c->lo.n_max, it.pred, err);
        if (rc != 0) {
            if (rc > 0) {
                lm_rerr_set(err, LM_NOPOS, "no \"match_prob\" field");
                lm_rerr_hint(err,
                             "--predictor byo needs {\"match_prob\": {\"MODEL:N\": p}} in every test record");
            }
            free(it.pred);
            route_record_free(&it.r, &c->M);
            return LM_REC_BAD;
        }
    }
    lm_grow(c->into->v, c->into->cap, c->into->n + 1);
    c->into->v[c->into->n++] = it;
    return LM_REC_OK;
}

int collect(ctx_t *c, coll *into, const lm_cmd *k, int nfiles, char **files, uint64_t stream_base)
{
    c->into = into;
    size_t before = into->n;
    lm_loop L = {.cmd = k, .common = &c->com, .fn = collect_rec, .ctx = c, .parallel = 0};
    int st = lm_loop_run(&L, nfiles, files);
    for (size_t i = before; i < into->n; i++)
        into->v[i].index += stream_base;
    return st;
}

void coll_free(ctx_t *c, coll *x)
{
    for (size_t i = 0; i < x->n; i++) {
        route_record_free(&x->v[i].r, &c->M);
        free(x->v[i].pred);
    }
    free(x->v);
    memset(x, 0, sizeof *x);
}

_Noreturn void eval_die(int st, const char *err)
{
    switch (st) {
    case ROUTE_EVAL_EFEW:
        lm_die_hint(LM_EXIT_DATA, "give more records, a larger --test-frac or --test FILE", "%s", err);
    case ROUTE_EVAL_EFEATLEN:
        lm_die_hint(LM_EXIT_DATA, "give every record an embedding of one length, or use --no-features", "%s",
                    err);
    case ROUTE_EVAL_EFEATSOME:
        lm_die_hint(LM_EXIT_DATA, "give every record \"features\", or use --no-features", "%s", err);
    case ROUTE_EVAL_ENOFEAT:
        lm_die_hint(LM_EXIT_USAGE, "give records \"features\" or use a --hash-dim above 0",
                    "no features: --hash-dim 0 and no embeddings");
    case ROUTE_EVAL_ECOST:
        lm_die_hint(LM_EXIT_DATA,
                    "give avg_out_tokens in the prices file, training records, or --cost realised", "%s",
                    err);
    case ROUTE_EVAL_EROUTER: lm_die(LM_EXIT_USAGE, "%s", err);
    default: lm_die(LM_EXIT_DATA, "%s", err);
    }
}

/* ---- main ---- */

static int top_opt(void *ctx, int id, const char *arg)
{
    (void)ctx, (void)id, (void)arg;
    return 0;
}

int main(int argc, char **argv)
{
    lm_cli_init(argv[0]);
    static ctx_t c;
    route_ctx_init(&c);
    if (argc >= 2 && argv[1][0] != '-') {
        for (const route_sub *s = route_subs; s->cmd; s++)
            if (strcmp(strchr(s->cmd->name, ' ') + 1, argv[1]) == 0) {
                c.cur = s->cmd;
                int st = s->run(&c, argc - 1, argv + 1);
                if (c.have_router)
                    route_router_free(&c.R);
                free(c.rmap);
                route_models_free(&c.M);
                return st;
            }
        lm_usage_error(&cmd,
                       "unknown command '%s': choose import, labels, train, apply, select, eval or synth",
                       argv[1]);
    }
    lm_common com;
    lm_cli_parse(&cmd, argc, argv, &com, top_opt, NULL);
    lm_usage_error(&cmd, "a command is required: import, labels, train, apply, select, eval or synth");
}
