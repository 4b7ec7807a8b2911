/* audit.c - trials of a score stream, gathered and summarised per group
 * (see audit.h). */
#include "privacy/audit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/rng.h"

/* ---- gathering ---- */

int lm_dp_read_bool(const lm_record *in, const lm_member *m, int *out, lm_rerr *err)
{
    if (m->type == LM_J_TRUE || m->type == LM_J_FALSE) {
        *out = m->type == LM_J_TRUE;
        return 0;
    }
    int64_t v;
    if (m->type == LM_J_NUMBER && lm_jint(in->text + m->vpos, m->vlen, &v) == 0 && (v == 0 || v == 1)) {
        *out = (int)v;
        return 0;
    }
    lm_rerr_set(err, m->vpos, "\"%s\" must be true or false (or 1 or 0), not %.*s", m->key,
                (int)(m->vlen > 40 ? 40 : m->vlen), in->text + m->vpos);
    return -1;
}

/* The score or guess of a trial. */
static int read_outcome(const lm_record *in, int scores_ok, lm_dp_trial *t, lm_rerr *err)
{
    const lm_member *ms = lm_rec_get(in, "score"), *mg = lm_rec_get(in, "guess");
    if (ms) {
        if (ms->type != LM_J_NUMBER || lm_jnum(in->text + ms->vpos, ms->vlen, &t->score) < 0) {
            lm_rerr_set(err, ms->vpos, "\"score\" must be a finite number, not %.*s",
                        (int)(ms->vlen > 40 ? 40 : ms->vlen), in->text + ms->vpos);
            return -1;
        }
        if (!scores_ok) {
            lm_rerr_set(err, ms->vpos, "a score needs a threshold");
            lm_rerr_hint(err, "give --threshold T, --holdout FRAC or --scan");
            return -1;
        }
        return 0;
    }
    if (mg) {
        int g;
        if (lm_dp_read_bool(in, mg, &g, err) < 0)
            return -1;
        t->score = g;
        t->guess = 1;
        return 0;
    }
    lm_rerr_set(err, LM_NOPOS, "missing \"score\" (or \"guess\")");
    lm_rerr_hint(err, "a trial record looks like {\"member\":true,\"score\":0.83}");
    return -1;
}

int lm_dp_trials_gather(lm_dp_trials *ts, const lm_record *in, const char *group_by, int scores_ok,
                        lm_rerr *err)
{
    const lm_member *mm = lm_rec_get(in, "member");
    if (!mm) {
        lm_rerr_set(err, LM_NOPOS, "missing \"member\"");
        lm_rerr_hint(err, "a trial record looks like {\"member\":true,\"score\":0.83}");
        return -1;
    }
    lm_dp_trial t = {.index = in->index, .model = UINT32_MAX};
    if (lm_dp_read_bool(in, mm, &t.member, err) < 0 || read_outcome(in, scores_ok, &t, err) < 0)
        return -1;
    const lm_member *grp = NULL, *mod = lm_rec_get(in, "model");
    if (group_by) {
        grp = lm_rec_get(in, group_by);
        if (!grp) {
            lm_rerr_set(err, LM_NOPOS, "missing the --group-by field \"%s\"", group_by);
            return -1;
        }
        if (grp->type == LM_J_OBJECT || grp->type == LM_J_ARRAY) {
            lm_rerr_set(err, grp->vpos,
                        "the --group-by field \"%s\" must be a string, number, boolean or null", group_by);
            return -1;
        }
    }
    if (mod && (mod->type == LM_J_OBJECT || mod->type == LM_J_ARRAY)) {
        lm_rerr_set(err, mod->vpos, "\"model\" must be a string or a number");
        return -1;
    }
#pragma omp critical(dp_trials)
    {
        t.group = grp ? lm_strmap_id(&ts->groups, in->text + grp->vpos, grp->vlen, NULL) : 0;
        if (!grp && ts->groups.n == 0)
            lm_strmap_id(&ts->groups, "null", 4, NULL);
        if (mod)
            t.model = lm_strmap_id(&ts->models, in->text + mod->vpos, mod->vlen, NULL);
        lm_grow(ts->t, ts->cap, ts->n + 1);
        ts->t[ts->n++] = t;
    }
    return 0;
}

static int by_group_then_index(const void *a, const void *b)
{
    const lm_dp_trial *x = a, *y = b;
    if (x->group != y->group)
        return (x->group > y->group) - (x->group < y->group);
    return (x->index > y->index) - (x->index < y->index);
}

void lm_dp_trials_sort(lm_dp_trials *ts)
{
    if (ts->n)
        qsort(ts->t, ts->n, sizeof *ts->t, by_group_then_index);
}

void lm_dp_trials_free(lm_dp_trials *ts)
{
    free(ts->t);
    lm_strmap_free(&ts->groups);
    lm_strmap_free(&ts->models);
    memset(ts, 0, sizeof *ts);
}

/* ---- summaries ---- */

int lm_dp_counts_ok(const int64_t k[4])
{
    return k[LM_TP] + k[LM_FN] > 0 && k[LM_FP] + k[LM_TN] > 0;
}

lm_dp_counts lm_dp_counts_of(const int64_t k[4])
{
    return (lm_dp_counts){
        .tp = (double)k[LM_TP], .fp = (double)k[LM_FP], .tn = (double)k[LM_TN], .fn = (double)k[LM_FN]};
}

/* Lower bound used to rank thresholds. */
static double rank_bound(const lm_dp_result *r, const lm_dp_opts *o)
{
    return o->sided == LM_DP_UPPER ? -r->eps_hi : r->eps_lo;
}

static void fail(lm_dp_summary *s, int early, const char *hint, const char *what)
{
    s->failed = 1;
    s->failed_early = early;
    snprintf(s->msg, sizeof s->msg, "%s", what);
    snprintf(s->hint, sizeof s->hint, "%s", hint ? hint : "");
}

/* Members, and the number of distinct models. */
static void census(const lm_dp_trial *t, size_t n, lm_dp_summary *s)
{
    uint32_t *seen = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        s->members += t[i].member;
        if (t[i].model == UINT32_MAX)
            continue;
        size_t j;
        for (j = 0; j < s->nmodels && seen[j] != t[i].model; j++)
            ;
        if (j == s->nmodels) {
            lm_grow(seen, cap, s->nmodels + 1);
            seen[s->nmodels++] = t[i].model;
        }
    }
    free(seen);
}

/* Moves the held-out trials (drawn per record index) to the end of t;
 * returns how many stay in front for the evaluation. */
static size_t split_holdout(lm_dp_trial *t, size_t n, uint64_t seed, double frac)
{
    lm_dp_trial *tmp = lm_xmalloc(lm_xmul(n, sizeof *tmp));
    size_t a = 0, b = n;
    for (size_t i = 0; i < n; i++) {
        lm_rng r;
        lm_rng_init(&r, seed ^ 0x686f6c646f7574ULL, t[i].index);
        if (lm_rng_uniform(&r) < frac)
            tmp[--b] = t[i];
        else
            tmp[a++] = t[i];
    }
    memcpy(t, tmp, n * sizeof *t);
    free(tmp);
    return a;
}

/* The threshold with the best bound on the held-out trials (at most
 * sel->candidates tried); -1 when none gives an estimate. */
static int holdout_threshold(const lm_dp_select *sel, const lm_dp_opts *dopt, const lm_dp_trial *hold,
                             size_t nh, double *T)
{
    lm_trial *lt = lm_xmalloc(lm_xmul(nh ? nh : 1, sizeof *lt));
    for (size_t i = 0; i < nh; i++)
        lt[i] = (lm_trial){hold[i].score, hold[i].member, hold[i].model};
    double *thr = lm_xmalloc(lm_xmul(nh ? nh : 1, sizeof *thr));
    int64_t(*cnt)[4] = lm_xmalloc(lm_xmul(nh ? nh : 1, sizeof *cnt));
    size_t nd = lm_game_sweep(lt, nh, thr, cnt);
    size_t *cand = lm_xmalloc(lm_xmul(sel->candidates, sizeof *cand));
    size_t nc = lm_game_candidates(nd, sel->candidates, cand);
    double *val = lm_xmalloc(lm_xmul(nc ? nc : 1, sizeof *val));
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t j = 0; j < nc; j++) {
        lm_dp_result r;
        lm_dp_counts k = lm_dp_counts_of(cnt[cand[j]]);
        char m2[256];
        val[j] = -HUGE_VAL;
        if (lm_dp_counts_ok(cnt[cand[j]]) && lm_dp_estimate(&k, dopt, &r, m2, sizeof m2) == 0)
            val[j] = rank_bound(&r, dopt);
    }
    size_t best = SIZE_MAX;
    for (size_t j = 0; j < nc; j++)
        if (val[j] > -HUGE_VAL && (best == SIZE_MAX || val[j] > val[best]))
            best = j;
    if (best != SIZE_MAX)
        *T = thr[cand[best]];
    free(lt);
    free(thr);
    free(cnt);
    free(cand);
    free(val);
    return best == SIZE_MAX ? -1 : 0;
}

/* The estimate at every distinct threshold of lt (the rows that allow one
 * go to s->scan); the index of the best row in s->scan, or SIZE_MAX. */
static size_t scan(const lm_dp_select *sel, lm_trial *lt, size_t ne, lm_dp_summary *s)
{
    const lm_dp_opts *dopt = &s->opts;
    double *thr = lm_xmalloc(lm_xmul(ne ? ne : 1, sizeof *thr));
    int64_t(*cnt)[4] = lm_xmalloc(lm_xmul(ne ? ne : 1, sizeof *cnt));
    size_t nd = lm_game_sweep(lt, ne, thr, cnt);
    lm_dp_result *res = lm_xmalloc(lm_xmul(nd ? nd : 1, sizeof *res));
    int *okv = lm_xcalloc(nd ? nd : 1, sizeof *okv);
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t j = 0; j < nd; j++) {
        lm_dp_counts k = lm_dp_counts_of(cnt[j]);
        char m2[256];
        lm_dp_opts oj = *dopt;
        oj.stream = dopt->stream + j;
        okv[j] = lm_dp_counts_ok(cnt[j]) && lm_dp_estimate(&k, &oj, &res[j], m2, sizeof m2) == 0;
    }
    s->scan = lm_xmalloc(lm_xmul(nd ? nd : 1, sizeof *s->scan));
    size_t best = SIZE_MAX;
    for (size_t j = 0; j < nd; j++) {
        if (!okv[j])
            continue;
        lm_dp_scan_row *row = &s->scan[s->nscan];
        row->threshold = thr[j];
        memcpy(row->counts, cnt[j], sizeof row->counts);
        row->r = res[j];
        if (!sel->have_threshold &&
            (best == SIZE_MAX || rank_bound(&res[j], dopt) > rank_bound(&s->scan[best].r, dopt)))
            best = s->nscan;
        s->nscan++;
    }
    free(thr);
    free(cnt);
    free(res);
    free(okv);
    return best;
}

/* The counts and the estimate at s->threshold on the evaluation trials. */
static void estimate_at(lm_trial *lt, size_t ne, lm_dp_summary *s)
{
    lm_game_counts(lt, ne, s->threshold, s->counts);
    if (!lm_dp_counts_ok(s->counts)) {
        fail(s, 0, NULL,
             s->counts[LM_TP] + s->counts[LM_FN] == 0 ? ": no members to evaluate on"
                                                      : ": no non-members to evaluate on");
        return;
    }
    lm_dp_counts k = lm_dp_counts_of(s->counts);
    char msg[256];
    if (lm_dp_estimate(&k, &s->opts, &s->r, msg, sizeof msg) < 0) {
        char what[260];
        snprintf(what, sizeof what, ": %s", msg);
        fail(s, 0, NULL, what);
        return;
    }
    s->have_summary = 1;
}

void lm_dp_group_summarise(const lm_dp_select *sel, lm_dp_trial *t, size_t n, lm_dp_summary *s)
{
    memset(s, 0, sizeof *s);
    s->opts = sel->o;
    s->opts.stream = t[0].index;
    s->n = (int64_t)n;
    s->guess_mode = t[0].guess;
    for (size_t i = 0; i < n; i++)
        if (t[i].guess != s->guess_mode) {
            fail(s, 1, NULL, " mixes \"score\" and \"guess\" records: use one kind");
            return;
        }
    census(t, n, s);
    int holdout = sel->holdout > 0 && !s->guess_mode;
    size_t ne = holdout ? split_holdout(t, n, sel->o.seed, sel->holdout) : n;
    s->eval_n = ne;
    s->holdout_n = n - ne;
    s->selection = s->guess_mode      ? "guess"
                   : sel->holdout > 0 ? "holdout"
                   : sel->scan        ? "optimistic"
                                      : "fixed";
    s->threshold = s->guess_mode ? 0.5 : sel->threshold;
    int have_T = s->guess_mode || sel->have_threshold;
    if (holdout) {
        if (holdout_threshold(sel, &s->opts, t + ne, n - ne, &s->threshold) < 0) {
            char what[200];
            snprintf(what, sizeof what,
                     ": the held-out part (%zu trials) has no members or no non-members; "
                     "cannot choose a threshold",
                     n - ne);
            fail(s, 1, "use a larger --holdout fraction, or --threshold", what);
        } else {
            have_T = 1;
        }
    }
    lm_trial *lt = lm_xmalloc(lm_xmul(n, sizeof *lt));
    for (size_t i = 0; i < ne; i++)
        lt[i] = (lm_trial){t[i].score, t[i].member, t[i].model};
    if (sel->scan && !s->guess_mode) {
        size_t best = scan(sel, lt, ne, s);
        if (!sel->have_threshold && !(sel->holdout > 0)) {
            if (best == SIZE_MAX) {
                fail(s, 0, NULL, " has no members or no non-members");
            } else {
                s->threshold = s->scan[best].threshold;
                have_T = 1;
            }
        }
    }
    if (!s->failed && have_T)
        estimate_at(lt, ne, s);
    free(lt);
}

void lm_dp_summary_free(lm_dp_summary *s)
{
    free(s->scan);
    s->scan = NULL;
    s->nscan = 0;
}
