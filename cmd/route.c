/* route.c - cost-aware LLM routing with best-of-n sampling: the BEST-Route
 * decision rule (Ding et al., "BEST-Route: Adaptive LLM Routing with
 * Test-Time Optimal Compute", ICML 2025, Algorithm 1), its training labels as
 * the public reference code builds them, a small multi-head router of our own
 * (hashed n-grams, linear or MLP; not the paper's DeBERTa router), proxy
 * best-of-n selection, a seeded synthetic generator and an honest offline
 * evaluation with RouteLLM's metrics (Ding et al., "BEST-Route: Adaptive LLM
 * Routing with Test-Time Optimal Compute", ICML 2025).
 *
 * Argument parsing, dispatch of the subcommands and the record loops only:
 * every algorithm is in lib/route/ (data, import, labels, features, router,
 * decide, eval, synth).  One executable, subcommands import, labels, train,
 * apply, select, eval and synth; the subcommand is required.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/diag.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/jsonl.h"
#include "core/rng.h"
#include "core/svg.h"
#include "core/utf8.h"
#include "route/data.h"
#include "route/decide.h"
#include "route/eval.h"
#include "route/features.h"
#include "route/import.h"
#include "route/labels.h"
#include "route/router.h"
#include "route/select.h"
#include "route/synth.h"

enum {
    OPT_PRICES = 256,
    OPT_REFERENCE,
    OPT_NMAX,
    OPT_DRAWS,
    OPT_MATCH_T,
    OPT_BUG_COMPAT,
    OPT_MODEL,
    OPT_HASH_DIM,
    OPT_HIDDEN,
    OPT_L2,
    OPT_LR,
    OPT_EPOCHS,
    OPT_PATIENCE,
    OPT_VAL_FRAC,
    OPT_BATCH,
    OPT_NO_FEATURES,
    OPT_OUT,
    OPT_ROUTER,
    OPT_THRESHOLD,
    OPT_COST,
    OPT_TEST,
    OPT_TEST_FRAC,
    OPT_BOOTSTRAP,
    OPT_SVG,
    OPT_THRESHOLDS,
    OPT_PREDICTOR,
    OPT_RANDOM_SEEDS,
    OPT_QUERIES,
    OPT_SAMPLES,
    OPT_TAU,
    OPT_NO_PROXY,
    OPT_PRICES_OUT,
    OPT_OUT_TOKENS,
    OPT_EXCLUDE,
    OPT_FROM,
    OPT_FIRST,
    OPT_SELECTOR,
};

#define O_PRICES                                                                                  \
    {                                                                                             \
        "prices", 'p', "FILE", "model prices in dollars per 1M tokens (JSON)", "file", OPT_PRICES \
    }
#define O_REFERENCE                                                                                          \
    {                                                                                                        \
        "reference", 'r', "MODEL", "the reference model (default: the prices entry marked reference)", NULL, \
            OPT_REFERENCE                                                                                    \
    }
#define O_NMAX                                                                           \
    {                                                                                    \
        "n-max", 0, "N", "largest best-of-n per small model (default 5)", NULL, OPT_NMAX \
    }
#define O_LABELS                                                                                               \
    {"draws", 0, "B", "index sets drawn per (model, n) for a soft label (default 10)", NULL, OPT_DRAWS},       \
        {"match-t",  0, "T", "relaxation: a small winner matches if score >= reference - T (default 0)", NULL, \
         OPT_MATCH_T},                                                                                         \
    {                                                                                                          \
        "bug-compat", 0, NULL, "take the winner by value among all samples, as the reference code", NULL,      \
            OPT_BUG_COMPAT                                                                                     \
    }
#define O_TRAIN                                                                                              \
    {"model", 'm', "ARCH", "router architecture: linear (default) or mlp", "choice:linear mlp", OPT_MODEL},  \
        {"hash-dim", 0,           "D", "hashed n-gram buckets (default 32768; 0: no text features)",         \
         NULL,       OPT_HASH_DIM},                                                                          \
        {"no-features", 0, NULL, "ignore the records' \"features\" embeddings", NULL, OPT_NO_FEATURES},      \
        {"hidden", 0, "J", "hidden units of the mlp (default 64)", NULL, OPT_HIDDEN},                        \
        {"l2", 0, "L", "L2 penalty on the weights (default 1e-5)", NULL, OPT_L2},                            \
        {"lr", 0, "R", "Adam step size (default 0.05)", NULL, OPT_LR},                                       \
        {"epochs", 0, "N", "at most N epochs (default 30)", NULL, OPT_EPOCHS},                               \
        {"patience", 0, "N", "stop after N epochs without validation gain (default 3)", NULL, OPT_PATIENCE}, \
        {"val-frac", 0,           "F", "validation share for early stopping (default 0.1; 0: none)",         \
         NULL,       OPT_VAL_FRAC},                                                                          \
    {                                                                                                        \
        "batch", 0, "N", "mini-batch size (default 1024)", NULL, OPT_BATCH                                   \
    }
#define O_COST                                                                        \
    {                                                                                 \
        "cost", 0, "MODE", "rank candidates by estimated (default) or realised cost", \
            "choice:estimated realised", OPT_COST                                     \
    }

static const lm_opt import_opts[] = {
    {"out-tokens", 0, "N", "routellm: output tokens per answer without a response text (default 1)", NULL,
     OPT_OUT_TOKENS},
    {"exclude", 0, "FILE", "routellm: drop prompts listed in FILE (contaminated_prompts.jsonl)", "file",
     OPT_EXCLUDE},
    {0},
};
static const lm_opt labels_opts[] = {O_PRICES, O_REFERENCE, O_NMAX, O_LABELS, {0}};
static const lm_opt train_opts[] = {
    O_PRICES, O_REFERENCE,
    O_NMAX,   O_LABELS,
    O_TRAIN,  {"out", 'o', "FILE", "write the trained router to FILE (required)", "outfile", OPT_OUT},
    {0},
};
static const lm_opt apply_opts[] = {
    O_PRICES,
    O_REFERENCE,
    O_NMAX,
    {"router", 0, "FILE", "a router written by route train (default: the records' match_prob)", "file",
     OPT_ROUTER},
    {"threshold", 't', "T", "keep (model, n) with match probability >= T (default 0.5)", NULL, OPT_THRESHOLD},
    O_COST,
    {0},
};
static const lm_opt select_opts[] = {
    {"from", 0, "MODEL", "select among MODEL's samples (default: the record's route.model)", NULL, OPT_FROM},
    {"first", 0, "N", "among the first N samples (default: route.n, else all)", NULL, OPT_FIRST},
    {"selector", 0, "KIND", "proxy, oracle (true score) or auto (default: oracle if no proxy at all)",
     "choice:auto proxy oracle", OPT_SELECTOR},
    {0},
};
static const lm_opt eval_opts[] = {
    O_PRICES,
    O_REFERENCE,
    O_NMAX,
    O_LABELS,
    O_TRAIN,
    O_COST,
    {"predictor", 0, "KIND", "train (default: a router on the training split) or byo (match_prob)",
     "choice:train byo", OPT_PREDICTOR},
    {"router", 0, "FILE", "use a router written by route train instead of training one", "file", OPT_ROUTER},
    {"test", 0, "FILE", "evaluate on the records of FILE (default: a seeded split)", "file", OPT_TEST},
    {"test-frac", 0, "F", "share of the records held out for evaluation (default 0.2)", NULL, OPT_TEST_FRAC},
    {"thresholds", 0, "K", "threshold grid: K quantile bins of the predictions (default 20)", NULL,
     OPT_THRESHOLDS},
    {"bootstrap", 0, "N", "resamples for the APGR confidence interval (default 200; 0: none)", NULL,
     OPT_BOOTSTRAP},
    {"random-seeds", 0, "N", "seeds averaged by the random-mixing baseline (default 10)", NULL,
     OPT_RANDOM_SEEDS},
    {"svg", 0, "FILE", "draw the cost-quality curves as SVG", "outfile", OPT_SVG},
    {0},
};
static const lm_opt synth_opts[] = {
    {"queries", 'n', "N", "number of queries (default 1000)", NULL, OPT_QUERIES},
    {"samples", 0, "S", "samples per model and query (default 20)", NULL, OPT_SAMPLES},
    {"tau", 0, "S", "noise of the proxy reward (default 0.02)", NULL, OPT_TAU},
    {"no-proxy", 0, NULL, "leave out proxy scores", NULL, OPT_NO_PROXY},
    {"prices-out", 0, "FILE", "write the generator's prices file to FILE", "outfile", OPT_PRICES_OUT},
    {0},
};

static const lm_cmd cmd_import = {
    "route import",
    "routellm|best-route [OPTION]... FILE...",
    "Convert public routing data (RouteLLM CSVs, best-route-llm JSONL stages) to route records.",
    "routellm: CSVs with a prompt column and True/False per model; token counts are estimated\n"
    "as characters/4 and the records say \"approx_tokens\": true.  best-route: one stage record per\n"
    "line (armoRM_scores, ourRM_scores, token_num_prompt, token_num_responses per model).",
    NULL,
    import_opts,
    LM_OPT_RECORDS,
    NULL,
    NULL};
static const lm_cmd cmd_labels = {
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
static const lm_cmd cmd_train = {
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
static const lm_cmd cmd_apply = {
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
static const lm_cmd cmd_select = {
    "route select",
    "[OPTION]... [FILE]...",
    "Best-of-n: keep the sample with the highest proxy score (first one on ties).",
    "Adds \"selected\": {\"model\",\"n\",\"index\",\"score\",\"proxy\",\"output_tokens\",\"selector\"}.",
    NULL,
    select_opts,
    LM_OPT_THREADS | LM_OPT_RECORDS,
    NULL,
    NULL};
static const lm_cmd cmd_eval = {
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
static const lm_cmd cmd_synth = {
    "route synth",
    "[OPTION]...",
    "Write seeded synthetic best-of-n records with known ground truth (\"synthetic\": true).",
    NULL,
    NULL,
    synth_opts,
    LM_OPT_THREADS | LM_OPT_SEED,
    NULL,
    NULL};

static const lm_cmd *const subs[] = {&cmd_import, &cmd_labels, &cmd_train, &cmd_apply,
                                     &cmd_select, &cmd_eval,   &cmd_synth, NULL};
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

/* ---- state ---- */

typedef route_eval_item item; /* record, rng stream of its labels, byo match_prob row */

typedef struct {
    item *v;
    size_t n, cap;
} coll;

typedef struct {
    const lm_cmd *cur;
    lm_common com;
    const char *prices_path, *reference;
    route_models M;
    route_label_opts lo;
    int nmax_set;
    route_train_opts to;
    route_feat_cfg fc;
    int no_features;
    const char *out_path, *router_path, *svg_path, *test_path, *prices_out, *exclude_path, *from;
    double threshold;
    int cost_mode;
    double test_frac;
    size_t bootstrap, bins, rand_seeds, first;
    int selector; /* route_selector, in --selector's choice order */
    int predictor;
    size_t queries;
    route_synth_opts so;
    double out_tokens;
    /* apply */
    int have_router;
    route_router R;
    size_t *rmap; /* router head -> head in prices order */
    /* collection */
    coll *into;
    int want_pred;
} ctx_t;

static int on_opt(void *vc, int id, const char *arg)
{
    ctx_t *c = vc;
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
    case OPT_OUT: c->out_path = arg; break;
    case OPT_ROUTER: c->router_path = arg; break;
    case OPT_THRESHOLD: c->threshold = lm_opt_double(k, "threshold", arg, 0, 0, 1, 0); break;
    case OPT_COST: c->cost_mode = lm_opt_choice(k, "cost", arg, NULL); break;
    case OPT_PREDICTOR:
        c->predictor = lm_opt_choice(k, "predictor", arg, NULL) ? ROUTE_PRED_BYO : ROUTE_PRED_TRAIN;
        break;
    case OPT_TEST: c->test_path = arg; break;
    case OPT_TEST_FRAC: c->test_frac = lm_opt_double(k, "test-frac", arg, 0, 1, 1, 1); break;
    case OPT_THRESHOLDS: c->bins = (size_t)lm_opt_int(k, "thresholds", arg, 1, 10000); break;
    case OPT_BOOTSTRAP: c->bootstrap = (size_t)lm_opt_int(k, "bootstrap", arg, 0, 1000000); break;
    case OPT_RANDOM_SEEDS: c->rand_seeds = (size_t)lm_opt_int(k, "random-seeds", arg, 1, 100000); break;
    case OPT_SVG: c->svg_path = arg; break;
    case OPT_QUERIES: c->queries = (size_t)lm_opt_int(k, "queries", arg, 1, (int64_t)1 << 40); break;
    case OPT_SAMPLES: c->so.n_samples = (size_t)lm_opt_int(k, "samples", arg, 1, 10000); break;
    case OPT_TAU: c->so.tau = lm_opt_double(k, "tau", arg, 0, 0, HUGE_VAL, 0); break;
    case OPT_NO_PROXY: c->so.with_proxy = 0; break;
    case OPT_PRICES_OUT: c->prices_out = arg; break;
    case OPT_OUT_TOKENS: c->out_tokens = lm_opt_double(k, "out-tokens", arg, 0, 0, 1e9, 0); break;
    case OPT_EXCLUDE: c->exclude_path = arg; break;
    case OPT_FROM:
        if (!*arg)
            lm_usage_error(k, "invalid --from '': a model name is expected");
        c->from = arg;
        break;
    case OPT_FIRST: c->first = (size_t)lm_opt_int(k, "first", arg, 1, 1000000); break;
    case OPT_SELECTOR: c->selector = lm_opt_choice(k, "selector", arg, NULL); break;
    }
    return 0;
}

/* ---- helpers ---- */

static void out_num(lm_out *o, const char *key, double v)
{
    lm_buf *b = lm_out_begin(o, key);
    lm_buf_add_jnum(b, v);
    lm_out_end(o);
}

/* builtin: with no --prices, use route synth's own table (route eval only,
 * so that `route synth | route eval` needs no file). */
static void load_prices_or(ctx_t *c, int builtin)
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

static void load_prices(ctx_t *c)
{
    load_prices_or(c, 0);
}

/* The members route reads, as a jansson object (the whole line is never
 * round-tripped: jansson cannot hold every JSON number). */
static json_t *rec_json(const lm_record *in, lm_rerr *err)
{
    static const char *const keys[] = {
        "prompt", "prompt_tokens", "prompt_tokens_by_model", "features", "synthetic", "responses", NULL};
    json_t *o = json_object();
    if (!o) {
        lm_rerr_set(err, LM_NOPOS, "out of memory");
        return NULL;
    }
    const lm_member *id = lm_rec_get(in, "id");
    lm_buf s = {0};
    if (id && id->type == LM_J_STRING)
        lm_jstr_decode(&s, in->text + id->vpos, id->vlen);
    else if (id)
        lm_buf_add(&s, in->text + id->vpos, id->vlen);
    else
        lm_buf_printf(&s, "%s:%llu", in->file, (unsigned long long)in->lineno);
    json_object_set_new(o, "id", json_stringn(s.p ? s.p : "", s.n));
    lm_buf_free(&s);
    for (size_t i = 0; keys[i]; i++) {
        const lm_member *m = lm_rec_get(in, keys[i]);
        if (!m)
            continue;
        json_error_t je;
        json_t *v = json_loadb(in->text + m->vpos, m->vlen, JSON_DECODE_ANY, &je);
        if (!v) {
            size_t p = je.position > 0 ? (size_t)je.position - 1 : 0;
            lm_rerr_set(err, m->vpos + (p < m->vlen ? p : 0), "\"%s\": %s", keys[i], je.text);
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, keys[i], v);
    }
    return o;
}

/* Byte offset in the record of the value of key inside the object member m
 * (the member itself when the key cannot be found). */
static size_t member_pos(const lm_record *in, const lm_member *m, const char *key)
{
    lm_jscan s = {0};
    lm_jerr je;
    size_t pos = m->vpos;
    if (lm_json_scan_object(&s, in->text + m->vpos, m->vlen, &je) == 0) {
        const lm_member *k = lm_jscan_get(&s, key);
        if (k)
            pos = m->vpos + k->vpos;
    }
    lm_jscan_free(&s);
    return pos;
}

/* Byte offset in the record of the culprit of a lib/route error: the value
 * of its member, or of the member's key when it names one and that key can
 * be found; LM_NOPOS when the record has no such member. */
static size_t err_pos(const lm_record *in, const route_err *e)
{
    const lm_member *m = e->member[0] ? lm_rec_get(in, e->member) : NULL;
    if (!m)
        return LM_NOPOS;
    if (e->whole || !e->key[0])
        return m->vpos;
    if (e->at_value)
        return member_pos(in, m, e->key);
    lm_buf key = {0};
    lm_buf_add_jstr(&key, e->key, strlen(e->key));
    const char *val = in->text + m->vpos;
    size_t pos = m->vpos;
    for (size_t i = 0; i + key.n <= m->vlen; i++)
        if (memcmp(val + i, key.p, key.n) == 0) {
            pos = m->vpos + i;
            break;
        }
    lm_buf_free(&key);
    return pos;
}

/* A lib/route error as the record's problem. */
static void lib_err(const lm_record *in, lm_rerr *err, const route_err *e)
{
    lm_rerr_set(err, err_pos(in, e), "%s", e->msg);
    if (e->hint[0])
        lm_rerr_hint(err, "%s", e->hint);
}

static int parse_record(ctx_t *c, const lm_record *in, route_record *r, int need_resp, lm_rerr *err)
{
    json_t *j = rec_json(in, err);
    if (!j)
        return -1;
    route_err e;
    int rc = route_record_parse_e(r, j, &c->M, need_resp, &e);
    json_decref(j);
    if (rc < 0) {
        lib_err(in, err, &e);
        return -1;
    }
    return 0;
}

static size_t n_heads(const ctx_t *c)
{
    return (c->M.n - 1) * c->lo.n_max;
}

/* "match_prob": {"MODEL:N": p} -> pred[H] (NaN where absent).  1 if absent. */
static int read_match_prob(ctx_t *c, const lm_record *in, double *pred, lm_rerr *err)
{
    size_t H = n_heads(c);
    for (size_t h = 0; h < H; h++)
        pred[h] = NAN;
    const lm_member *m = lm_rec_get(in, "match_prob");
    if (!m)
        return 1;
    if (m->type != LM_J_OBJECT) {
        lm_rerr_set(err, m->vpos, "\"match_prob\" must be an object {\"MODEL:N\": p}, not %s",
                    lm_jtype_name(m->type));
        return -1;
    }
    json_error_t je;
    json_t *o = json_loadb(in->text + m->vpos, m->vlen, 0, &je);
    if (!o) {
        lm_rerr_set(err, m->vpos, "\"match_prob\": %s", je.text);
        return -1;
    }
    route_err e;
    int rc = route_match_prob_parse(o, &c->M, c->lo.n_max, pred, &e);
    json_decref(o);
    if (rc < 0)
        lib_err(in, err, &e);
    return rc;
}

/* ---- import ---- */

static int import_stage_rec(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    (void)vc;
    json_error_t je;
    json_t *j = json_loadb(in->text, in->len, 0, &je);
    if (!j) {
        lm_rerr_set(err, LM_NOPOS, "%s", je.text);
        return LM_REC_BAD;
    }
    route_err e;
    json_t *r = route_import_stage_e(j, NULL, 0, &e);
    json_decref(j);
    if (!r) {
        lm_rerr_set(err, err_pos(in, &e), "%s", e.msg);
        return LM_REC_BAD;
    }
    out->standalone = 1;
    const char *k;
    json_t *v;
    lm_buf b = {0};
    json_object_foreach(r, k, v)
    {
        lm_buf_reset(&b);
        lm_buf_add_jansson(&b, v);
        lm_out_raw(out, k, b.p, b.n);
    }
    lm_buf_free(&b);
    json_decref(r);
    return LM_REC_OK;
}

static int run_import(ctx_t *c, int argc, char **argv)
{
    c->cur = &cmd_import;
    c->out_tokens = 1;
    int oi = lm_cli_parse(&cmd_import, argc, argv, &c->com, on_opt, c);
    if (oi >= argc)
        lm_usage_error(&cmd_import, "missing format: routellm or best-route");
    const char *fmt = argv[oi++];
    if (strcmp(fmt, "best-route") == 0) {
        lm_loop L = {.cmd = &cmd_import, .common = &c->com, .fn = import_stage_rec, .ctx = c, .parallel = 1};
        return lm_loop_run(&L, argc - oi, argv + oi);
    }
    if (strcmp(fmt, "routellm") != 0)
        lm_usage_error(&cmd_import, "unknown format '%s': choose routellm or best-route", fmt);
    if (oi >= argc)
        lm_usage_error(&cmd_import, "routellm: give the CSV files");
    char err[512];
    char **ex = NULL;
    size_t nex = 0;
    if (c->exclude_path) {
        size_t len;
        char *t = lm_read_file(c->exclude_path, &len, err, sizeof err);
        if (!t)
            lm_die(LM_EXIT_DATA, "%s", err);
        route_err e;
        int rc = route_import_exclude(t, len, &ex, &nex, &e);
        free(t);
        if (rc < 0 && e.line)
            lm_die(LM_EXIT_DATA, "%s:%zu: %s", c->exclude_path, e.line, e.msg);
        if (rc < 0)
            lm_die(LM_EXIT_USAGE, "%s: %s", c->exclude_path, e.msg);
    }
    lm_buf b = {0};
    int st = 0;
    for (int i = oi; i < argc; i++) {
        size_t len;
        char *t = lm_read_file(argv[i], &len, err, sizeof err);
        if (!t)
            lm_die(LM_EXIT_DATA, "%s", err);
        const char *base = strrchr(argv[i], '/');
        base = base ? base + 1 : argv[i];
        char prefix[256];
        snprintf(prefix, sizeof prefix, "%.*s", (int)strcspn(base, "."), base);
        json_t **recs = NULL;
        size_t nr = 0;
        route_err e;
        if (route_import_routellm_csv_e(t, len, prefix, c->out_tokens, (const char *const *)ex, nex, &recs,
                                        &nr, &e) < 0) {
            fflush(stdout);
            if (e.col)
                lm_warn("%s:%zu:%zu: %s", argv[i], e.line, e.col, e.msg);
            else if (e.line)
                lm_warn("%s:%zu: %s", argv[i], e.line, e.msg);
            else
                lm_warn("%s: %s", argv[i], e.msg);
            lm_hint("%s", e.hint);
            free(t);
            st = LM_EXIT_DATA;
            break;
        }
        for (size_t k = 0; k < nr; k++) {
            lm_buf_reset(&b);
            lm_buf_add_jansson(&b, recs[k]);
            lm_buf_addc(&b, '\n');
            fwrite(b.p, 1, b.n, stdout);
            json_decref(recs[k]);
        }
        free(recs);
        free(t);
    }
    lm_buf_free(&b);
    route_import_exclude_free(ex, nex);
    return st;
}

/* ---- labels ---- */

static void put_labels(lm_out *out, const ctx_t *c, const route_labels *l)
{
    lm_buf *b = lm_out_begin(out, "labels");
    lm_buf_addc(b, '{');
    for (size_t s = 0; s < c->M.n - 1; s++) {
        const char *name = c->M.name[route_models_small(&c->M, s)];
        for (size_t n = 1; n <= c->lo.n_max; n++) {
            if (s || n > 1)
                lm_buf_addc(b, ',');
            char key[300];
            snprintf(key, sizeof key, "%s:%zu", name, n);
            lm_buf_add_jstr(b, key, strlen(key));
            lm_buf_addc(b, ':');
            lm_buf_add_jnum_or_null(b, l->match[s * c->lo.n_max + n - 1]);
        }
    }
    lm_buf_addc(b, '}');
    lm_out_end(out);
    lm_out_str(out, "selector", l->selector_oracle ? "oracle" : "proxy");
}

static int labels_rec(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    ctx_t *c = vc;
    route_record r;
    if (parse_record(c, in, &r, 1, err) < 0)
        return LM_REC_BAD;
    route_labels l;
    char msg[512];
    if (route_labels_alloc(&l, n_heads(c)) < 0) {
        route_record_free(&r, &c->M);
        lm_rerr_set(err, LM_NOPOS, "out of memory");
        return LM_REC_FATAL;
    }
    int rc = route_labels_build(&l, &r, &c->M, &c->lo, c->com.seed, in->index, msg, sizeof msg);
    if (rc == 0)
        put_labels(out, c, &l); /* the record parsed, so only memory can fail */
    else
        lm_rerr_set(err, LM_NOPOS, "%s", msg);
    route_labels_free(&l);
    route_record_free(&r, &c->M);
    return rc ? LM_REC_BAD : LM_REC_OK;
}

static int run_labels(ctx_t *c, int argc, char **argv)
{
    c->cur = &cmd_labels;
    int oi = lm_cli_parse(&cmd_labels, argc, argv, &c->com, on_opt, c);
    lm_cli_threads(&c->com);
    load_prices(c);
    lm_loop L = {.cmd = &cmd_labels, .common = &c->com, .fn = labels_rec, .ctx = c, .parallel = 1};
    return lm_loop_run(&L, argc - oi, argv + oi);
}

/* ---- collecting records (train, eval) ---- */

static int collect_rec(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    ctx_t *c = vc;
    out->suppress = 1;
    item it = {0};
    it.index = in->index;
    if (parse_record(c, in, &it.r, 1, err) < 0)
        return LM_REC_BAD;
    if (c->want_pred) {
        it.pred = lm_xmalloc(lm_xmul(n_heads(c) ? n_heads(c) : 1, sizeof(double)));
        int rc = read_match_prob(c, in, it.pred, err);
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

static int collect(ctx_t *c, coll *into, const lm_cmd *k, int nfiles, char **files, uint64_t stream_base)
{
    c->into = into;
    size_t before = into->n;
    lm_loop L = {.cmd = k, .common = &c->com, .fn = collect_rec, .ctx = c, .parallel = 0};
    int st = lm_loop_run(&L, nfiles, files);
    for (size_t i = before; i < into->n; i++)
        into->v[i].index += stream_base;
    return st;
}

static void coll_free(ctx_t *c, coll *x)
{
    for (size_t i = 0; i < x->n; i++) {
        route_record_free(&x->v[i].r, &c->M);
        free(x->v[i].pred);
    }
    free(x->v);
    memset(x, 0, sizeof *x);
}

/* Dies with the exit status and hint of a failed lib/route/eval.h call. */
static _Noreturn void eval_die(int st, const char *err)
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
    case ROUTE_EVAL_ENOMEM:
    case ROUTE_EVAL_EROUTER: lm_die(LM_EXIT_USAGE, "%s", err);
    default: lm_die(LM_EXIT_DATA, "%s", err);
    }
}

static void train_summary(ctx_t *c, const route_router *R, const route_train_log *log, int orc)
{
    lm_out o = {0};
    o.standalone = 1;
    lm_out_str(&o, "type", "train");
    lm_out_str(&o, "model", R->arch == ROUTE_MLP ? "mlp" : "linear");
    lm_out_int(&o, "heads", (int64_t)R->n_heads);
    lm_out_int(&o, "n_max", (int64_t)R->n_max);
    lm_out_int(&o, "features", (int64_t)route_feat_dim(&R->feat));
    lm_out_int(&o, "n_train", (int64_t)log->n_train);
    lm_out_int(&o, "n_val", (int64_t)log->n_val);
    lm_out_int(&o, "epochs", (int64_t)log->epochs);
    lm_out_int(&o, "best_epoch", (int64_t)log->best_epoch);
    out_num(&o, "init_loss", log->init_loss);
    if (isfinite(log->best_val_loss))
        out_num(&o, "best_val_loss", log->best_val_loss);
    else
        lm_out_null(&o, "best_val_loss");
    size_t e = log->epochs ? (log->epochs < 64 ? log->epochs : 64) : 0;
    if (e)
        out_num(&o, "final_train_loss", log->train_loss[e - 1]);
    lm_out_str(&o, "selector", orc ? "oracle" : "proxy");
    lm_out_int(&o, "seed", (int64_t)c->com.seed);
    lm_emit(&c->com, &o, NULL);
    lm_out_free(&o);
}

static int run_train(ctx_t *c, int argc, char **argv)
{
    c->cur = &cmd_train;
    int oi = lm_cli_parse(&cmd_train, argc, argv, &c->com, on_opt, c);
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
    train_summary(c, &R, &log, orc);
    route_router_free(&R);
    route_eval_labels_free(L, all.n);
    free(its);
    coll_free(c, &all);
    return 0;
}

/* ---- apply ---- */

/* Loads --router and maps its heads onto the prices table. */
static void load_router(ctx_t *c)
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

/* Router predictions of one record, in prices-table head order. */
static int router_pred(const ctx_t *c, const route_record *r, double *pred, lm_rerr *err, const lm_record *in)
{
    char msg[512];
    int st = route_eval_predict(&c->R, c->rmap, n_heads(c), r, pred, msg, sizeof msg);
    if (st) {
        const lm_member *m = st == ROUTE_EVAL_EPREDICT ? lm_rec_get(in, "features") : NULL;
        lm_rerr_set(err, m ? m->vpos : LM_NOPOS, "%s", msg);
        return -1;
    }
    return 0;
}

static int apply_rec(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    ctx_t *c = vc;
    size_t H = n_heads(c), C = H + 1;
    route_record r;
    if (parse_record(c, in, &r, c->cost_mode == ROUTE_COST_REALISED, err) < 0)
        return LM_REC_BAD;
    double *pred = lm_xmalloc(C * sizeof(double) * 3);
    double *est = pred + C, *real = est + C;
    int rc = LM_REC_OK;
    if (c->have_router) {
        if (router_pred(c, &r, pred, err, in) < 0)
            rc = LM_REC_BAD;
    } else {
        int k = read_match_prob(c, in, pred, err);
        if (k > 0) {
            lm_rerr_set(err, LM_NOPOS, "no \"match_prob\" field and no --router");
            lm_rerr_hint(
                err,
                "give --router FILE (from route train) or {\"match_prob\": {\"MODEL:N\": p}} per record");
        }
        if (k != 0)
            rc = LM_REC_BAD;
    }
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
        size_t mi = h == ROUTE_REF ? c->M.ref : route_models_small(&c->M, (size_t)h / c->lo.n_max);
        size_t n = h == ROUTE_REF ? 1 : (size_t)h % c->lo.n_max + 1;
        size_t col = h == ROUTE_REF ? H : (size_t)h;
        lm_buf *b = lm_out_begin(out, "route");
        lm_buf_adds(b, "{\"model\":");
        lm_buf_add_jstr(b, c->M.name[mi], strlen(c->M.name[mi]));
        lm_buf_printf(b, ",\"n\":%zu,\"p_match\":", n);
        lm_buf_add_jnum_or_null(b, h == ROUTE_REF ? NAN : pred[h]);
        lm_buf_adds(b, ",\"est_cost\":");
        lm_buf_add_jnum_or_null(b, have_est ? est[col] : NAN);
        if (c->cost_mode == ROUTE_COST_REALISED) {
            lm_buf_adds(b, ",\"realised_cost\":");
            lm_buf_add_jnum_or_null(b, real[col]);
        }
        lm_buf_printf(b, ",\"cost_mode\":\"%s\"}",
                      c->cost_mode == ROUTE_COST_REALISED ? "realised" : "estimated");
        lm_out_end(out);
    }
    free(pred);
    route_record_free(&r, &c->M);
    return rc;
}

static int run_apply(ctx_t *c, int argc, char **argv)
{
    c->cur = &cmd_apply;
    int oi = lm_cli_parse(&cmd_apply, argc, argv, &c->com, on_opt, c);
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
    const lm_member *rm = lm_rec_get(in, "responses");
    if (!rm || rm->type != LM_J_OBJECT) {
        lm_rerr_set(err, rm ? rm->vpos : LM_NOPOS, "%s",
                    rm ? "\"responses\" must be an object" : "no \"responses\" field");
        lm_rerr_hint(
            err,
            "records look like {\"responses\": {\"MODEL\": [{\"score\",\"proxy\",\"output_tokens\"}, ...]}}");
        return LM_REC_BAD;
    }
    char model[256];
    size_t n = c->first;
    if (c->from) {
        snprintf(model, sizeof model, "%s", c->from);
    } else {
        const lm_member *ro = lm_rec_get(in, "route");
        json_t *o = ro ? json_loadb(in->text + ro->vpos, ro->vlen, 0, NULL) : NULL;
        json_t *mm = o ? json_object_get(o, "model") : NULL;
        json_t *nn = o ? json_object_get(o, "n") : NULL;
        if (!json_is_string(mm) || (nn && (!json_is_integer(nn) || json_integer_value(nn) < 1))) {
            lm_rerr_set(err, ro ? ro->vpos : LM_NOPOS, "%s",
                        ro ? "\"route\" must hold \"model\" (a string) and \"n\" (>= 1)"
                           : "no \"route\" field and no --from MODEL");
            lm_rerr_hint(err, "run route apply first, or give --from MODEL");
            json_decref(o);
            return LM_REC_BAD;
        }
        snprintf(model, sizeof model, "%s", json_string_value(mm));
        if (!n && nn)
            n = (size_t)json_integer_value(nn);
        json_decref(o);
    }
    json_error_t je;
    json_t *resp = json_loadb(in->text + rm->vpos, rm->vlen, 0, &je);
    if (!resp) {
        lm_rerr_set(err, rm->vpos, "\"responses\": %s", je.text);
        return LM_REC_BAD;
    }
    route_selection sel;
    route_err e;
    int rc = route_select(&sel, resp, model, n, (route_selector)c->selector, &e);
    json_decref(resp);
    if (rc < 0) {
        lib_err(in, err, &e);
        return rc == -2 ? LM_REC_FATAL : LM_REC_BAD;
    }
    lm_buf *b = lm_out_begin(out, "selected");
    lm_buf_adds(b, "{\"model\":");
    lm_buf_add_jstr(b, model, strlen(model));
    lm_buf_printf(b, ",\"n\":%zu,\"index\":%zu,\"score\":", sel.n, sel.index);
    lm_buf_add_jnum_or_null(b, sel.score);
    lm_buf_adds(b, ",\"proxy\":");
    lm_buf_add_jnum_or_null(b, sel.proxy);
    lm_buf_adds(b, ",\"output_tokens\":");
    lm_buf_add_jnum_or_null(b, sel.out_tokens);
    lm_buf_printf(b, ",\"selector\":\"%s\"}", sel.oracle ? "oracle" : "proxy");
    lm_out_end(out);
    return LM_REC_OK;
}

static int run_select(ctx_t *c, int argc, char **argv)
{
    c->cur = &cmd_select;
    int oi = lm_cli_parse(&cmd_select, argc, argv, &c->com, on_opt, c);
    lm_cli_threads(&c->com);
    lm_loop L = {.cmd = &cmd_select, .common = &c->com, .fn = select_rec, .ctx = c, .parallel = 1};
    return lm_loop_run(&L, argc - oi, argv + oi);
}

/* ---- synth ---- */

static int run_synth(ctx_t *c, int argc, char **argv)
{
    c->cur = &cmd_synth;
    int oi = lm_cli_parse(&cmd_synth, argc, argv, &c->com, on_opt, c);
    if (oi < argc)
        lm_usage_error(&cmd_synth, "unexpected operand '%s': synth reads no input", argv[oi]);
    lm_cli_threads(&c->com);
    c->so.seed = c->com.seed;
    char err[512];
    if (c->prices_out) {
        lm_atomic a;
        if (lm_atomic_open(&a, c->prices_out, err, sizeof err) < 0)
            lm_die(LM_EXIT_USAGE, "%s", err);
        json_t *p = route_synth_prices();
        lm_buf b = {0};
        lm_buf_add_jansson(&b, p);
        lm_buf_addc(&b, '\n');
        fwrite(b.p, 1, b.n, a.fp);
        lm_buf_free(&b);
        json_decref(p);
        if (lm_atomic_commit(&a, err, sizeof err) < 0)
            lm_die(LM_EXIT_USAGE, "%s", err);
    }
    const size_t chunk = 2048;
    lm_buf *bufs = lm_xcalloc(chunk, sizeof *bufs);
    for (size_t q0 = 0; q0 < c->queries; q0 += chunk) {
        size_t k = c->queries - q0 < chunk ? c->queries - q0 : chunk;
        int bad = 0;
#pragma omp parallel for schedule(dynamic, 16) reduction(| : bad)
        for (size_t i = 0; i < k; i++) {
            lm_buf_reset(&bufs[i]);
            json_t *r = route_synth_record(&c->so, q0 + i);
            if (!r) {
                bad |= 1;
                continue;
            }
            lm_buf_add_jansson(&bufs[i], r);
            lm_buf_addc(&bufs[i], '\n');
            json_decref(r);
        }
        if (bad)
            lm_die(LM_EXIT_USAGE, "synth: out of memory");
        for (size_t i = 0; i < k; i++)
            if (fwrite(bufs[i].p, 1, bufs[i].n, stdout) != bufs[i].n)
                lm_close_stdout();
    }
    for (size_t i = 0; i < chunk; i++)
        lm_buf_free(&bufs[i]);
    free(bufs);
    return 0;
}

/* ---- eval ---- */

static void emit_point(ctx_t *c, const char *method, const route_point *p, const char *model, size_t n,
                       int thr_kind)
{
    lm_out o = {0};
    o.standalone = 1;
    lm_out_str(&o, "type", "point");
    lm_out_str(&o, "method", method);
    if (model) {
        lm_out_str(&o, "model", model);
        lm_out_int(&o, "n", (int64_t)n);
    }
    if (thr_kind != 1 || !isfinite(p->t))
        lm_out_null(&o, "threshold");
    else
        out_num(&o, "threshold", p->t);
    if (thr_kind == 2)
        out_num(&o, "ref_prob", p->t);
    out_num(&o, "cost", p->cost_per_1k);
    out_num(&o, "quality", p->quality_mean);
    out_num(&o, "cost_reduction_pct", p->cost_reduction_pct);
    out_num(&o, "quality_drop_pct", p->quality_drop_pct);
    out_num(&o, "ref_share", p->ref_share);
    out_num(&o, "mean_n", p->mean_n);
    lm_emit(&c->com, &o, NULL);
    lm_out_free(&o);
}

static void put_numn(lm_out *o, const char *k, double v)
{
    if (isfinite(v))
        out_num(o, k, v);
    else
        lm_out_null(o, k);
}

/* A curve's points in order of cost, for drawing. */
static void plot_curve(lm_plot *plot, const char *name, const route_point *pts, size_t n)
{
    double *x = lm_xmalloc(n * sizeof(double)), *y = lm_xmalloc(n * sizeof(double));
    size_t *o = lm_xmalloc(n * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        o[i] = i;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && pts[o[j - 1]].cost_per_1k > pts[o[j]].cost_per_1k; j--) {
            size_t t = o[j];
            o[j] = o[j - 1];
            o[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        x[i] = pts[o[i]].cost_per_1k;
        y[i] = pts[o[i]].quality_mean;
    }
    lm_plot_series(plot, name, x, y, n, 1);
    free(x);
    free(y);
    free(o);
}

static void eval_summary(ctx_t *c, const route_eval_result *res, int k, const char *name,
                         const char *weak_name)
{
    const route_summary *sum = &res->sum[k];
    lm_out o = {0};
    o.standalone = 1;
    lm_out_str(&o, "type", "summary");
    lm_out_str(&o, "method", name);
    lm_out_str(&o, "predictor", k < 2 ? res->predictor : k == 2 ? "oracle" : "random");
    lm_out_str(&o, "selector", res->selector_oracle ? "oracle" : "proxy");
    lm_out_str(&o, "cost_mode",
               k == 3                                ? "none"
               : c->cost_mode == ROUTE_COST_REALISED ? "realised"
                                                     : "estimated");
    lm_buf *b = lm_out_begin(&o, "drop_at_cost_reduction");
    static const char *const at[4] = {"10", "20", "40", "60"};
    lm_buf_addc(b, '{');
    for (int i = 0; i < 4; i++) {
        lm_buf_printf(b, "%s\"%s\":", i ? "," : "", at[i]);
        lm_buf_add_jnum_or_null(b, sum->drop_at[i]);
    }
    lm_buf_addc(b, '}');
    lm_out_end(&o);
    put_numn(&o, "apgr", sum->apgr);
    if (res->have_ci[k]) {
        b = lm_out_begin(&o, "apgr_ci");
        lm_buf_addc(b, '[');
        lm_buf_add_jnum_or_null(b, res->ci[k][0]);
        lm_buf_addc(b, ',');
        lm_buf_add_jnum_or_null(b, res->ci[k][1]);
        lm_buf_addc(b, ']');
        lm_out_end(&o);
        put_numn(&o, "apgr_boot_mean", res->ci[k][2]);
        lm_out_int(&o, "bootstrap", (int64_t)c->bootstrap);
    }
    put_numn(&o, "cpt50", sum->cpt50);
    put_numn(&o, "cpt80", sum->cpt80);
    put_numn(&o, "auc", sum->auc);
    lm_buf *w = lm_out_begin(&o, "weak");
    char wk[300];
    snprintf(wk, sizeof wk, "%s:1", weak_name);
    lm_buf_add_jstr(w, wk, strlen(wk));
    lm_out_end(&o);
    put_numn(&o, "q_ref", sum->q_ref);
    put_numn(&o, "q_weak", sum->q_weak);
    lm_out_int(&o, "n_train", (int64_t)res->n_train);
    lm_out_int(&o, "n_test", (int64_t)res->n_test);
    lm_out_int(&o, "seed", (int64_t)c->com.seed);
    lm_out_str(&o, "split", c->test_path ? "file" : "seeded");
    lm_emit(&c->com, &o, NULL);
    lm_out_free(&o);
}

/* The fixed anchors' points (always the reference, always each small model
 * at n = 1 and at its best n), and their series when plotting. */
static void emit_anchors(ctx_t *c, const route_eval_result *res, lm_plot *plot)
{
    emit_point(c, "always-reference", &res->ref, c->M.name[c->M.ref], 1, 0);
    if (plot)
        lm_plot_series(plot, "always-reference", &res->ref.cost_per_1k, &res->ref.quality_mean, 1, 1);
    for (size_t s = 0; s < c->M.n - 1; s++) {
        const char *nm = c->M.name[route_models_small(&c->M, s)];
        const route_point *p = &res->always[s];
        emit_point(c, "always", p, nm, 1, 0);
        if (plot) {
            char lab[300];
            snprintf(lab, sizeof lab, "always %s n=1", nm);
            lm_plot_series(plot, lab, &p->cost_per_1k, &p->quality_mean, 1, 1);
        }
        if (res->best_n[s]) {
            p = &res->always_best[s];
            emit_point(c, "always-best-n", p, nm, res->best_n[s], 0);
            if (plot && res->best_n[s] > 1) {
                char lab[300];
                snprintf(lab, sizeof lab, "always %s n=%zu", nm, res->best_n[s]);
                lm_plot_series(plot, lab, &p->cost_per_1k, &p->quality_mean, 1, 1);
            }
        }
    }
}

static int run_eval(ctx_t *c, int argc, char **argv)
{
    c->cur = &cmd_eval;
    int oi = lm_cli_parse(&cmd_eval, argc, argv, &c->com, on_opt, c);
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
    c->want_pred = c->predictor == ROUTE_PRED_BYO && !c->test_path;
    int st = collect(c, &all, &cmd_eval, argc - oi, argv + oi, 0);
    if (!st && c->test_path) {
        c->want_pred = c->predictor == ROUTE_PRED_BYO;
        char *tf[1] = {(char *)c->test_path};
        st = collect(c, &tst, &cmd_eval, 1, tf, (uint64_t)1 << 40);
    }
    if (st) {
        if (c->svg_path)
            lm_atomic_abort(&svg);
        return st;
    }
    /* the split */
    size_t ntr, nte;
    item **tr = lm_xmalloc((all.n + 1) * sizeof *tr), **te = lm_xmalloc((all.n + tst.n + 1) * sizeof *te);
    if (route_eval_partition(all.v, all.n, c->test_path != NULL, tst.v, tst.n, c->test_frac, c->com.seed, tr,
                             &ntr, te, &nte) < 0)
        lm_die(LM_EXIT_USAGE, "out of memory");
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
    const char *weak_name = c->M.name[route_models_small(&c->M, (size_t)res.weak / c->lo.n_max)];
    lm_plot *plot = c->svg_path ? lm_plot_new("Cost-quality curves (route eval)", "cost per 1k queries ($)",
                                              "mean quality")
                                : NULL;
    emit_anchors(c, &res, plot);
    /* curves, then summaries */
    static const char *const names[ROUTE_CURVES] = {"best-route", "single-response", "oracle", "random"};
    for (int k = 0; k < ROUTE_CURVES; k++) {
        for (size_t i = 0; i < res.n_curve[k]; i++)
            emit_point(c, names[k], &res.curve[k][i], NULL, 0, k == ROUTE_CURVE_RANDOM ? 2 : 1);
        if (plot)
            plot_curve(plot, names[k], res.curve[k], res.n_curve[k]);
    }
    for (int k = 0; k < ROUTE_CURVES; k++)
        eval_summary(c, &res, k, names[k], weak_name);
    if (plot) {
        char note[256];
        snprintf(note, sizeof note, "%zu test queries, predictor %s, selector %s, seed %llu", nte,
                 res.predictor, res.selector_oracle ? "oracle" : "proxy", (unsigned long long)c->com.seed);
        lm_plot_note(plot, note);
        if (lm_svg_write(svg.fp, &plot, 1) < 0 || lm_atomic_commit(&svg, err, sizeof err) < 0) {
            lm_atomic_abort(&svg);
            lm_die(LM_EXIT_USAGE, "%s: write error", c->svg_path);
        }
        lm_plot_free(plot);
    }
    route_eval_result_free(&res);
    free(tr);
    free(te);
    coll_free(c, &all);
    coll_free(c, &tst);
    return 0;
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
    route_label_opts_default(&c.lo);
    route_train_opts_default(&c.to);
    route_feat_cfg_default(&c.fc);
    route_synth_opts_default(&c.so);
    c.threshold = 0.5;
    c.cost_mode = ROUTE_COST_ESTIMATED;
    c.test_frac = 0.2;
    c.bins = 20;
    c.bootstrap = 200;
    c.rand_seeds = 10;
    c.queries = 1000;
    c.predictor = ROUTE_PRED_TRAIN;
    if (argc >= 2 && argv[1][0] != '-') {
        static int (*const run[])(ctx_t *, int, char **) = {run_import, run_labels, run_train, run_apply,
                                                            run_select, run_eval,   run_synth};
        for (size_t i = 0; subs[i]; i++)
            if (strcmp(strchr(subs[i]->name, ' ') + 1, argv[1]) == 0) {
                int st = run[i](&c, argc - 1, argv + 1);
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
