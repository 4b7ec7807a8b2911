/* dp-estimate.c - epsilon intervals for (epsilon, delta)-differential privacy
 * from membership-inference outcomes (Zanella-Beguelin et al., "Bayesian
 * Estimation of Differential Privacy", ICML 2023; reference code: the
 * privacy-estimates package, see lib/privacy/dpest.h).
 *
 * Argument parsing and the record loop only: the estimators are in
 * lib/privacy/dpest.c, the game bookkeeping in lib/privacy/game.c, the
 * trials, group summaries and pictures in lib/privacy/audit.c and picture.c.
 * Count records are annotated in place (in parallel, written in order);
 * score records are gathered per group and summarised at the end as typed
 * records ("type": "summary", and "scan" with --scan).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/diag.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/rng.h"
#include "core/strmap.h"
#include "core/svg.h"
#include "privacy/audit.h"
#include "privacy/dpest.h"
#include "privacy/game.h"

enum {
    OPT_METHOD = 256,
    OPT_DELTA,
    OPT_ALPHA,
    OPT_ONE_SIDED,
    OPT_PRIOR,
    OPT_INPUT,
    OPT_GROUP_BY,
    OPT_THRESHOLD,
    OPT_HOLDOUT,
    OPT_SCAN,
    OPT_SAMPLES,
    OPT_POSTERIOR,
    OPT_PLOT,
    OPT_CANDIDATES,
};

static const lm_opt opts[] = {
    {"method", 'm', "METHOD", "bayes (default), dirichlet, clopper-pearson or jeffreys",
     "choice:bayes dirichlet clopper-pearson jeffreys", OPT_METHOD},
    {"delta", 'd', "DELTA",
     "the delta of (epsilon, delta)-DP, in [0, 1); required unless records carry \"delta\"", NULL, OPT_DELTA},
    {"alpha", 'a', "ALPHA", "two-sided interval at confidence 1-ALPHA (default 0.05)", NULL, OPT_ALPHA},
    {"one-sided", 0, "SIDE", "a one-sided bound at 1-ALPHA instead: lower or upper", "choice:lower upper",
     OPT_ONE_SIDED},
    {"prior", 0, "PRIOR", "prior of the Bayesian methods: jeffreys (default) or uniform",
     "choice:jeffreys uniform", OPT_PRIOR},
    {"samples", 0, "N", "bayes by Monte Carlo with N posterior draws (a cross-check)", NULL, OPT_SAMPLES},
    {"input", 0, "KIND", "auto (default), counts or scores", "choice:auto counts scores", OPT_INPUT},
    {"group-by", 'g', "FIELD", "score input: one summary per value of FIELD", NULL, OPT_GROUP_BY},
    {"threshold", 't', "T", "score input: guess member iff score >= T", NULL, OPT_THRESHOLD},
    {"holdout", 0, "FRAC", "score input: pick the threshold on a random FRAC of the trials", NULL,
     OPT_HOLDOUT},
    {"candidates", 0, "K", "--holdout: try at most K thresholds (default 256)", NULL, OPT_CANDIDATES},
    {"scan", 0, NULL, "score input: bounds at every distinct threshold (optimistic)", NULL, OPT_SCAN},
    {"posterior", 0, "FILE", "write the posterior CDF and density of epsilon on a grid", "outfile",
     OPT_POSTERIOR},
    {"plot", 0, "FILE", "draw the posterior density and the interval as SVG", "outfile", OPT_PLOT},
    {0},
};

static const lm_cmd cmd = {
    "dp-estimate",
    "[OPTION]... [FILE]...",
    "Estimate the epsilon of differential privacy from membership-inference outcomes.",
    "Reads JSON Lines: count records {\"tp\",\"fp\",\"tn\",\"fn\"} are annotated with eps_lo, eps_hi,\n"
    "eps_point, method, delta and alpha; score records {\"member\",\"score\"} are gathered (per\n"
    "--group-by value) and summarised at the end.  +infinity is written as null with\n"
    "\"<field>_unbounded\": true.",
    "Example:\n  echo '{\"tp\":76,\"fp\":19,\"tn\":982,\"fn\":923}' | dp-estimate --delta 1e-5",
    opts,
    LM_OPT_THREADS | LM_OPT_SEED | LM_OPT_RECORDS,
    NULL,
    NULL,
};

enum { IN_AUTO, IN_COUNTS, IN_SCORES };

typedef struct {
    lm_dp_opts o;
    int have_delta;
    int input;
    const char *group_by;
    int have_threshold;
    double threshold;
    double holdout;
    size_t candidates;
    int scan;
    const char *posterior_path, *plot_path;
    /* score stream state (lm_dp_trials_gather guards it) */
    lm_dp_trials trials;
    uint64_t n_counts;
    /* pictures (the loop runs serially when they are asked for) */
    lm_atomic post;
    lm_plot *plots[12];
    size_t nplots;
    size_t plots_skipped;
} ctx_t;

static int on_opt(void *vc, int id, const char *arg)
{
    ctx_t *c = vc;
    switch (id) {
    case OPT_METHOD: {
        /* in the order of the option table's choice list */
        static const lm_dp_method mv[] = {LM_DP_BAYES, LM_DP_DIRICHLET, LM_DP_CLOPPER_PEARSON,
                                          LM_DP_JEFFREYS};
        c->o.method = mv[lm_opt_choice(&cmd, "method", arg, NULL)];
        break;
    }
    case OPT_DELTA:
        c->o.delta = lm_opt_double(&cmd, "delta", arg, 0, 0, 1, 1);
        c->have_delta = 1;
        break;
    case OPT_ALPHA: c->o.alpha = lm_opt_double(&cmd, "alpha", arg, 0, 1, 1, 1); break;
    case OPT_ONE_SIDED:
        c->o.sided = lm_opt_choice(&cmd, "one-sided", arg, NULL) ? LM_DP_UPPER : LM_DP_LOWER;
        break;
    case OPT_PRIOR: {
        c->o.prior = lm_opt_choice(&cmd, "prior", arg, NULL) ? LM_DP_PRIOR_UNIFORM : LM_DP_PRIOR_JEFFREYS;
        break;
    }
    case OPT_SAMPLES: c->o.n_mc = (uint64_t)lm_opt_int(&cmd, "samples", arg, 1000, 1000000000); break;
    case OPT_INPUT: c->input = lm_opt_choice(&cmd, "input", arg, NULL); break;
    case OPT_GROUP_BY:
        if (!*arg)
            lm_usage_error(&cmd, "invalid --group-by '': a field name is expected");
        c->group_by = arg;
        break;
    case OPT_THRESHOLD:
        c->threshold = lm_opt_double(&cmd, "threshold", arg, -HUGE_VAL, 0, HUGE_VAL, 0);
        c->have_threshold = 1;
        break;
    case OPT_HOLDOUT: c->holdout = lm_opt_double(&cmd, "holdout", arg, 0, 1, 1, 1); break;
    case OPT_CANDIDATES: c->candidates = (size_t)lm_opt_int(&cmd, "candidates", arg, 1, 1000000); break;
    case OPT_SCAN: c->scan = 1; break;
    case OPT_POSTERIOR: c->posterior_path = arg; break;
    case OPT_PLOT: c->plot_path = arg; break;
    }
    return 0;
}

static int is_bayes(lm_dp_method m)
{
    return m == LM_DP_BAYES || m == LM_DP_DIRICHLET || m == LM_DP_BAYES_MC;
}

/* ---- reading fields ---- */

static const lm_member *get_either(const lm_record *in, const char *a, const char *b)
{
    const lm_member *m = lm_rec_get(in, a);
    return m ? m : lm_rec_get(in, b);
}

static int read_count(const lm_record *in, const char *name, const char *upper, double *out, lm_rerr *err)
{
    const lm_member *m = get_either(in, name, upper);
    if (!m) {
        lm_rerr_set(err, LM_NOPOS, "missing count \"%s\"", name);
        lm_rerr_hint(
            err, "a count record needs tp, fp, tn and fn, e.g. {\"tp\":76,\"fp\":19,\"tn\":982,\"fn\":923}");
        return -1;
    }
    int64_t v;
    if (m->type != LM_J_NUMBER) {
        lm_rerr_set(err, m->vpos, "count \"%s\" must be a number, not %s", m->key, lm_jtype_name(m->type));
        return -1;
    }
    if (lm_jint(in->text + m->vpos, m->vlen, &v) < 0) {
        lm_rerr_set(err, m->vpos, "count \"%s\" must be a whole number, not %.*s", m->key,
                    (int)(m->vlen > 40 ? 40 : m->vlen), in->text + m->vpos);
        return -1;
    }
    if (v < 0) {
        lm_rerr_set(err, m->vpos, "count \"%s\" is negative (%lld)", m->key, (long long)v);
        return -1;
    }
    if (v > (int64_t)1 << 53) {
        lm_rerr_set(err, m->vpos, "count \"%s\" is too large (above 2^53)", m->key);
        return -1;
    }
    *out = (double)v;
    return 0;
}

/* Reads an optional per-record "delta" or "alpha"; 1 if present. */
static int read_param(const lm_record *in, const char *name, double lo, int lo_open, double hi, int hi_open,
                      double *out, lm_rerr *err)
{
    const lm_member *m = lm_rec_get(in, name);
    if (!m)
        return 0;
    double v;
    if (m->type != LM_J_NUMBER || lm_jnum(in->text + m->vpos, m->vlen, &v) < 0 || v < lo ||
        (lo_open && v == lo) || v > hi || (hi_open && v == hi)) {
        lm_rerr_set(err, m->vpos, "\"%s\" must be a number in %c%g, %g%c", name, lo_open ? '(' : '[', lo, hi,
                    hi_open ? ')' : ']');
        return -1;
    }
    *out = v;
    return 1;
}

/* ---- writing results ---- */

static void put_eps(lm_out *out, const char *key, double v, int always_flag)
{
    char flag[64];
    snprintf(flag, sizeof flag, "%s_unbounded", key);
    if (isinf(v)) {
        lm_out_null(out, key);
        lm_out_bool(out, flag, 1);
    } else {
        lm_out_num(out, key, v);
        if (always_flag)
            lm_out_bool(out, flag, 0);
    }
}

static void put_result(lm_out *out, const ctx_t *c, const lm_dp_opts *o, const lm_dp_result *r, int own_delta,
                       int own_alpha)
{
    put_eps(out, "eps_lo", r->eps_lo, 0);
    put_eps(out, "eps_hi", r->eps_hi, 1);
    put_eps(out, "eps_point", r->eps_point, 1);
    lm_out_str(out, "method", o->method == LM_DP_BAYES_MC ? "bayes" : lm_dp_method_name(o->method));
    if (own_delta)
        lm_out_num(out, "delta", o->delta);
    if (own_alpha)
        lm_out_num(out, "alpha", o->alpha);
    if (o->sided != LM_DP_TWO_SIDED)
        lm_out_str(out, "one_sided", o->sided == LM_DP_LOWER ? "lower" : "upper");
    if (is_bayes(o->method)) {
        lm_out_str(out, "prior", lm_dp_prior_name(o->prior));
        lm_out_bool(out, "capped", r->capped);
    }
    if (o->method == LM_DP_BAYES_MC) {
        lm_out_int(out, "samples", (int64_t)o->n_mc);
        lm_out_num(out, "mc_se_lo", r->mc_se_lo);
        lm_out_num(out, "mc_se_hi", r->mc_se_hi);
    }
    lm_out_num(out, "fnr", r->fnr);
    lm_out_num(out, "fpr", r->fpr);
    lm_out_num(out, "advantage_bound", lm_dp_advantage_bound(r->eps_hi, o->delta));
    (void)c;
}

/* ---- pictures ---- */

/* The posterior lines and the plot of one estimate, when asked for. */
static int pictures(ctx_t *c, const lm_dp_counts *k, const lm_dp_opts *o, const lm_dp_result *r,
                    const char *label, const char *group_raw, size_t group_len, uint64_t index, lm_rerr *err)
{
    if (!c->posterior_path && !c->plot_path)
        return 0;
    lm_dp_curve cv;
    char msg[300];
    if (lm_dp_curve_compute(k, o, r, &cv, msg, sizeof msg) < 0) {
        lm_rerr_set(err, LM_NOPOS, "%s", msg);
        return -1;
    }
    if (c->posterior_path) {
        lm_buf b = {0};
        lm_dp_curve_jsonl(&b, &cv, group_raw, group_len, index);
        fwrite(b.p, 1, b.n, c->post.fp);
        lm_buf_free(&b);
    }
    if (c->plot_path) {
        if (c->nplots == sizeof c->plots / sizeof c->plots[0]) {
            c->plots_skipped++;
            return 0;
        }
        c->plots[c->nplots++] = lm_dp_curve_plot(&cv, k, o, r, label);
    }
    return 0;
}

/* ---- count records ---- */

static int estimate_record(ctx_t *c, const lm_record *in, lm_out *out, lm_rerr *err)
{
    lm_dp_counts k;
    if (read_count(in, "tp", "TP", &k.tp, err) < 0 || read_count(in, "fp", "FP", &k.fp, err) < 0 ||
        read_count(in, "tn", "TN", &k.tn, err) < 0 || read_count(in, "fn", "FN", &k.fn, err) < 0)
        return LM_REC_BAD;
    lm_dp_opts o = c->o;
    o.stream = in->index;
    int rd = read_param(in, "delta", 0, 0, 1, 1, &o.delta, err);
    int ra = read_param(in, "alpha", 0, 1, 1, 1, &o.alpha, err);
    if (rd < 0 || ra < 0)
        return LM_REC_BAD;
    if (!rd && !c->have_delta) {
        lm_rerr_set(err, LM_NOPOS, "no delta for this record");
        lm_rerr_hint(err, "give --delta (e.g. --delta 1e-5) or a \"delta\" field in each record");
        return LM_REC_BAD;
    }
    char msg[256];
    if (k.tp + k.fn == 0 || k.fp + k.tn == 0) {
        lm_rerr_set(err, LM_NOPOS, "%s",
                    k.tp + k.fn == 0 ? "no members (tp + fn = 0): the false negative rate is undefined"
                                     : "no non-members (fp + tn = 0): the false positive rate is undefined");
        lm_rerr_hint(err, "the game needs challenges of both kinds");
        return LM_REC_BAD;
    }
    lm_dp_result r;
    if (lm_dp_estimate(&k, &o, &r, msg, sizeof msg) < 0) {
        lm_rerr_set(err, LM_NOPOS, "%s", msg);
        return LM_REC_BAD;
    }
    put_result(out, c, &o, &r, !rd, !ra);
    char label[300];
    snprintf(label, sizeof label, "record %llu (%s:%llu)", (unsigned long long)in->index + 1, in->file,
             (unsigned long long)in->lineno);
    if (pictures(c, &k, &o, &r, label, NULL, 0, in->index, err) < 0)
        return LM_REC_FATAL;
    return LM_REC_OK;
}

/* ---- score records ---- */

static int gather_trial(ctx_t *c, const lm_record *in, lm_out *out, lm_rerr *err)
{
    int scores_ok = c->have_threshold || c->holdout != 0 || c->scan;
    if (lm_dp_trials_gather(&c->trials, in, c->group_by, scores_ok, err) < 0)
        return LM_REC_BAD;
    out->suppress = 1;
    return LM_REC_OK;
}

static int on_record(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    ctx_t *c = vc;
    int kind = c->input;
    if (kind == IN_AUTO) {
        if (get_either(in, "tp", "TP") || get_either(in, "fn", "FN"))
            kind = IN_COUNTS;
        else if (lm_rec_get(in, "member"))
            kind = IN_SCORES;
        else {
            lm_rerr_set(err, LM_NOPOS, "neither a count record nor a trial record");
            lm_rerr_hint(
                err,
                "expected {\"tp\":..,\"fp\":..,\"tn\":..,\"fn\":..} or {\"member\":true,\"score\":0.83}");
            return LM_REC_BAD;
        }
    }
    if (kind == IN_COUNTS) {
#pragma omp atomic
        c->n_counts++;
        return estimate_record(c, in, out, err);
    }
    return gather_trial(c, in, out, err);
}

/* ---- summaries of score streams ---- */

static void put_counts(lm_out *o, const int64_t k[4])
{
    lm_out_int(o, "tp", k[LM_TP]);
    lm_out_int(o, "fp", k[LM_FP]);
    lm_out_int(o, "tn", k[LM_TN]);
    lm_out_int(o, "fn", k[LM_FN]);
}

/* A standalone record of the given type, with the group's raw value. */
static void start_record(lm_out *o, const char *type, const ctx_t *c, const char *graw, size_t glen)
{
    lm_out_reset(o);
    o->standalone = 1;
    lm_out_str(o, "type", type);
    if (c->group_by)
        lm_out_raw(o, "group", graw, glen);
}

static void put_scan_row(ctx_t *c, const lm_common *com, const lm_dp_summary *s, const lm_dp_scan_row *row,
                         const char *graw, size_t glen)
{
    lm_out o = {0};
    start_record(&o, "scan", c, graw, glen);
    lm_out_num(&o, "threshold", row->threshold);
    put_counts(&o, row->counts);
    put_result(&o, c, &s->opts, &row->r, 1, 1);
    lm_out_bool(&o, "optimistic", 1);
    lm_emit(com, &o, NULL);
    lm_out_free(&o);
}

static void put_summary(ctx_t *c, const lm_common *com, const lm_dp_summary *s, const char *graw, size_t glen)
{
    lm_out o = {0};
    start_record(&o, "summary", c, graw, glen);
    lm_out_int(&o, "n", s->n);
    lm_out_int(&o, "members", s->members);
    lm_out_int(&o, "nonmembers", s->n - s->members);
    if (s->nmodels) {
        lm_out_int(&o, "models", (int64_t)s->nmodels);
        lm_out_num(&o, "samples_per_model", (double)s->n / (double)s->nmodels);
        lm_out_bool(&o, "heuristic", (int64_t)s->nmodels < s->n);
    }
    lm_out_str(&o, "selection", s->selection);
    if (!s->guess_mode)
        lm_out_num(&o, "threshold", s->threshold);
    if (c->holdout > 0 && !s->guess_mode) {
        lm_out_int(&o, "holdout_n", (int64_t)s->holdout_n);
        lm_out_int(&o, "eval_n", (int64_t)s->eval_n);
    }
    put_counts(&o, s->counts);
    put_result(&o, c, &s->opts, &s->r, 1, 1);
    lm_emit(com, &o, NULL);
    lm_out_free(&o);
}

static void warn_group(const lm_dp_summary *s, const char *graw, size_t glen)
{
    lm_warn("group %.*s%s", (int)glen, graw, s->msg);
    if (s->hint[0])
        lm_hint("%s", s->hint);
}

/* Writes the scan rows, the summary and the pictures of one group. */
static int summarise_group(ctx_t *c, const lm_common *com, lm_dp_trial *t, size_t n)
{
    size_t glen;
    const char *graw = lm_strmap_key(&c->trials.groups, t[0].group, &glen);
    lm_dp_select sel = {c->o, c->have_threshold, c->threshold, c->holdout, c->candidates, c->scan};
    lm_dp_summary s;
    lm_dp_group_summarise(&sel, t, n, &s);
    if (s.failed && s.failed_early)
        warn_group(&s, graw, glen);
    for (size_t j = 0; j < s.nscan; j++)
        put_scan_row(c, com, &s, &s.scan[j], graw, glen);
    if (s.failed && !s.failed_early)
        warn_group(&s, graw, glen);
    int rc = s.failed ? LM_EXIT_DATA : LM_EXIT_OK;
    if (s.have_summary) {
        put_summary(c, com, &s, graw, glen);
        char label[300];
        snprintf(label, sizeof label, "%s%.*s", c->group_by ? "group " : "all trials",
                 c->group_by ? (int)(glen > 200 ? 200 : glen) : 0, graw);
        lm_dp_counts k = lm_dp_counts_of(s.counts);
        lm_rerr e = {0};
        if (pictures(c, &k, &s.opts, &s.r, label, c->group_by ? graw : NULL, glen, 0, &e) < 0) {
            lm_warn("%s", e.msg.p);
            rc = LM_EXIT_USAGE;
        }
        lm_rerr_free(&e);
    }
    lm_dp_summary_free(&s);
    return rc;
}

static int summarise(ctx_t *c, const lm_common *com)
{
    lm_dp_trials *ts = &c->trials;
    lm_dp_trials_sort(ts);
    int rc = LM_EXIT_OK;
    for (size_t i = 0; i < ts->n;) {
        size_t j = i;
        while (j < ts->n && ts->t[j].group == ts->t[i].group)
            j++;
        int r = summarise_group(c, com, ts->t + i, j - i);
        if (r > rc)
            rc = r;
        i = j;
    }
    return rc;
}

int main(int argc, char **argv)
{
    lm_cli_init(argv[0]);
    ctx_t c = {0};
    lm_dp_opts_default(&c.o);
    c.candidates = 256;
    lm_common com;
    int oi = lm_cli_parse(&cmd, argc, argv, &com, on_opt, &c);
    lm_cli_threads(&com);
    c.o.seed = com.seed;
    if (c.o.n_mc) {
        if (c.o.method != LM_DP_BAYES)
            lm_usage_error(&cmd, "--samples works with --method bayes only");
        c.o.method = LM_DP_BAYES_MC;
    }
    if ((c.posterior_path || c.plot_path) && !is_bayes(c.o.method))
        lm_usage_error(&cmd, "--posterior and --plot need a Bayesian method (bayes or dirichlet)");
    if (c.o.sided != LM_DP_TWO_SIDED && !(2 * c.o.alpha < 1))
        lm_usage_error(&cmd, "a one-sided bound needs --alpha below 0.5");
    if (c.input == IN_COUNTS && (c.group_by || c.have_threshold || c.holdout > 0 || c.scan))
        lm_usage_error(&cmd, "--group-by, --threshold, --holdout and --scan apply to score input");
    if (c.have_threshold && c.holdout > 0)
        lm_usage_error(&cmd, "--threshold and --holdout both choose the threshold: give one");
    if ((c.group_by || c.have_threshold || c.holdout > 0 || c.scan) && c.input == IN_AUTO)
        c.input = IN_SCORES;
    if (c.posterior_path) {
        char msg[512];
        if (lm_atomic_open(&c.post, c.posterior_path, msg, sizeof msg) < 0)
            lm_die(LM_EXIT_USAGE, "--posterior: %s", msg);
    }
    lm_loop L = {.cmd = &cmd,
                 .common = &com,
                 .fn = on_record,
                 .ctx = &c,
                 .parallel = !c.posterior_path && !c.plot_path};
    int st = lm_loop_run(&L, argc - oi, argv + oi);
    if (c.n_counts && c.trials.n && st != LM_EXIT_USAGE) {
        lm_warn("the input mixes count records and trial records (%llu and %zu)",
                (unsigned long long)c.n_counts, c.trials.n);
        lm_hint("give each kind its own stream, or choose one with --input counts|scores");
        st = LM_EXIT_DATA;
    } else if (st == LM_EXIT_OK || (st == LM_EXIT_DATA && com.keep_going)) {
        int s2 = summarise(&c, &com);
        if (s2 > st)
            st = s2;
    }
    if (c.posterior_path) {
        char msg[512];
        if (st == LM_EXIT_USAGE) {
            lm_atomic_abort(&c.post);
        } else if (lm_atomic_commit(&c.post, msg, sizeof msg) < 0) {
            lm_warn("--posterior: %s", msg);
            st = LM_EXIT_USAGE;
        }
    }
    if (c.plot_path) {
        if (c.plots_skipped)
            lm_warn("--plot drew the first %zu estimates; %zu more were left out", c.nplots, c.plots_skipped);
        char msg[512];
        lm_atomic a;
        if (c.nplots == 0) {
            if (!com.quiet)
                lm_warn("--plot: nothing to draw, '%s' not written", c.plot_path);
        } else if (lm_atomic_open(&a, c.plot_path, msg, sizeof msg) < 0) {
            lm_warn("--plot: %s", msg);
            st = LM_EXIT_USAGE;
        } else {
            lm_svg_write(a.fp, c.plots, c.nplots);
            if (lm_atomic_commit(&a, msg, sizeof msg) < 0) {
                lm_warn("--plot: %s", msg);
                st = LM_EXIT_USAGE;
            }
        }
        for (size_t i = 0; i < c.nplots; i++)
            lm_plot_free(c.plots[i]);
    }
    lm_dp_trials_free(&c.trials);
    return st;
}
