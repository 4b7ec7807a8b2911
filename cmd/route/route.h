/* route.h - what the files of the route command share (cmd/route/): the
 * option ids, the options several subcommands take, the state of a run,
 * the subcommands' tables and entry points, and the helpers of main.c
 * that several subcommands call.  Private to cmd/route/.
 */
#ifndef LMKIT_CMD_ROUTE_H
#define LMKIT_CMD_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "core/cli.h"
#include "core/jsonl.h"
#include "route/data.h"
#include "route/eval.h"
#include "route/features.h"
#include "route/labels.h"
#include "route/router.h"
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

/* The options several subcommands take (route_opt_shared handles them). */
/* clang-format off */
#define O_PRICES \
    {"prices", 'p', "FILE", "model prices in dollars per 1M tokens (JSON)", "file", OPT_PRICES}
#define O_REFERENCE \
    {"reference", 'r', "MODEL", "the reference model (default: the prices entry marked reference)", NULL, OPT_REFERENCE}
#define O_NMAX \
    {"n-max", 0, "N", "largest best-of-n per small model (default 5)", NULL, OPT_NMAX}
#define O_LABELS \
    {"draws", 0, "B", "index sets drawn per (model, n) for a soft label (default 10)", NULL, OPT_DRAWS}, \
    {"match-t", 0, "T", "relaxation: a small winner matches if score >= reference - T (default 0)", NULL, OPT_MATCH_T}, \
    {"bug-compat", 0, NULL, "take the winner by value among all samples, as the reference code", NULL, OPT_BUG_COMPAT}
#define O_TRAIN \
    {"model", 'm', "ARCH", "router architecture: linear (default) or mlp", "choice:linear mlp", OPT_MODEL}, \
    {"hash-dim", 0, "D", "hashed n-gram buckets (default 32768; 0: no text features)", NULL, OPT_HASH_DIM}, \
    {"no-features", 0, NULL, "ignore the records' \"features\" embeddings", NULL, OPT_NO_FEATURES}, \
    {"hidden", 0, "J", "hidden units of the mlp (default 64)", NULL, OPT_HIDDEN}, \
    {"l2", 0, "L", "L2 penalty on the weights (default 1e-5)", NULL, OPT_L2}, \
    {"lr", 0, "R", "Adam step size (default 0.05)", NULL, OPT_LR}, \
    {"epochs", 0, "N", "at most N epochs (default 30)", NULL, OPT_EPOCHS}, \
    {"patience", 0, "N", "stop after N epochs without validation gain (default 3)", NULL, OPT_PATIENCE}, \
    {"val-frac", 0, "F", "validation share for early stopping (default 0.1; 0: none)", NULL, OPT_VAL_FRAC}, \
    {"batch", 0, "N", "mini-batch size (default 1024)", NULL, OPT_BATCH}
#define O_COST \
    {"cost", 0, "MODE", "rank candidates by estimated (default) or realised cost", "choice:estimated realised", OPT_COST}
/* clang-format on */

typedef route_eval_item item; /* record, rng stream of its labels, byo match_prob row */

/* Records collected for train and eval. */
typedef struct {
    item *v;
    size_t n, cap;
} coll;

/* The state of a run: the options of every subcommand and what the
 * subcommand set up from them. */
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

/* A subcommand: its table, its option callback and its run. */
typedef struct {
    const lm_cmd *cmd;
    lm_opt_fn opt;
    int (*run)(ctx_t *c, int argc, char **argv);
} route_sub;

extern const lm_cmd cmd_import, cmd_labels, cmd_train, cmd_apply, cmd_select, cmd_eval, cmd_synth;
extern const route_sub route_subs[]; /* in the order of cmd.subs, ended by {0} */

int import_opt(void *vc, int id, const char *arg);
int labels_opt(void *vc, int id, const char *arg);
int train_opt(void *vc, int id, const char *arg);
int apply_opt(void *vc, int id, const char *arg);
int select_opt(void *vc, int id, const char *arg);
int eval_opt(void *vc, int id, const char *arg);
int synth_opt(void *vc, int id, const char *arg);
int run_import(ctx_t *c, int argc, char **argv);
int run_labels(ctx_t *c, int argc, char **argv);
int run_train(ctx_t *c, int argc, char **argv);
int run_apply(ctx_t *c, int argc, char **argv);
int run_select(ctx_t *c, int argc, char **argv);
int run_eval(ctx_t *c, int argc, char **argv);
int run_synth(ctx_t *c, int argc, char **argv);

/* main.c: the options of O_PRICES, O_REFERENCE, O_NMAX, O_LABELS, O_TRAIN,
 * O_COST and --router, for the subcommand c->cur. */
int route_opt_shared(ctx_t *c, int id, const char *arg);
/* The run's defaults (before any option). */
void route_ctx_init(ctx_t *c);
/* --prices into c->M (or dies); builtin: without --prices, route synth's
 * own table (route eval only, so that `route synth | route eval` needs no
 * file). */
void load_prices_or(ctx_t *c, int builtin);
void load_prices(ctx_t *c);
/* --router into c->R, its heads mapped onto the prices table (or dies). */
void load_router(ctx_t *c);
/* Router heads of the prices table: (small models) x n-max. */
size_t n_heads(const ctx_t *c);
/* The records of files into into, their label streams offset by
 * stream_base; the loop's exit status. */
int collect(ctx_t *c, coll *into, const lm_cmd *k, int nfiles, char **files, uint64_t stream_base);
void coll_free(ctx_t *c, coll *x);
/* Dies with the exit status and hint of a failed lib/route/eval.h call. */
_Noreturn void eval_die(int st, const char *err);

#endif
