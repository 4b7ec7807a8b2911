/* test_dp_audit.c - lib/privacy/audit: trial records gathered per group,
 * threshold selection (fixed, guess, scan, holdout) and the group summary,
 * and the posterior curve behind --posterior and --plot. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "privacy/audit.h"
#include "tap.h"

/* Gathers one line; returns the gather status, the message in msg. */
static int gather(lm_dp_trials *ts, const char *line, uint64_t index, const char *group_by, int scores_ok,
                  char *msg, size_t msglen)
{
    lm_record r = {.file = "t", .lineno = 1, .index = index, .text = line, .len = strlen(line)};
    lm_jerr je;
    if (lm_json_scan_object(&r.scan, line, r.len, &je) < 0)
        return -2;
    lm_rerr e = {0};
    e.pos = LM_NOPOS;
    int rc = lm_dp_trials_gather(ts, &r, group_by, scores_ok, &e);
    snprintf(msg, msglen, "%s", e.msg.p ? e.msg.p : "");
    lm_rerr_free(&e);
    lm_jscan_free(&r.scan);
    return rc;
}

static void test_gather(void)
{
    lm_dp_trials ts = {0};
    char msg[256];
    ok(gather(&ts, "{\"member\":true,\"score\":0.5,\"g\":\"a\",\"model\":\"m1\"}", 3, "g", 1, msg,
              sizeof msg) == 0,
       "a score record is gathered");
    ok(gather(&ts, "{\"member\":0,\"score\":-2,\"g\":\"b\"}", 1, "g", 1, msg, sizeof msg) == 0,
       "member as 0 is read");
    ok(gather(&ts, "{\"member\":1,\"guess\":true,\"g\":\"a\",\"model\":7}", 2, "g", 1, msg, sizeof msg) == 0,
       "a guess record is gathered");
    is_int((int)ts.n, 3, "three trials");
    is_int((int)ts.groups.n, 2, "two groups");
    is_int((int)ts.models.n, 2, "two models");
    is_int(ts.t[0].member, 1, "member true");
    is_near(ts.t[1].score, -2, 0, "score kept");
    is_int(ts.t[1].member, 0, "member 0");
    is_int((int)ts.t[1].model, (int)UINT32_MAX, "no model");
    is_int(ts.t[2].guess, 1, "guess flagged");
    is_near(ts.t[2].score, 1, 0, "guess as 1");
    is_int((int)ts.t[0].group, (int)ts.t[2].group, "same group, same id");
    size_t len;
    const char *k = lm_strmap_key(&ts.groups, ts.t[1].group, &len);
    ok(len == 3 && memcmp(k, "\"b\"", 3) == 0, "group kept as its raw JSON");
    lm_dp_trials_sort(&ts);
    ok(ts.t[0].index == 2 && ts.t[1].index == 3 && ts.t[2].index == 1, "sorted by group, then index");

    static const struct {
        const char *line, *group_by;
        int scores_ok;
        const char *msg;
    } bad[] = {
        {"{\"score\":1}", NULL, 1, "missing \"member\""},
        {"{\"member\":\"yes\",\"score\":1}", NULL, 1,
         "\"member\" must be true or false (or 1 or 0), not \"yes\""},
        {"{\"member\":2,\"score\":1}", NULL, 1, "\"member\" must be true or false (or 1 or 0), not 2"},
        {"{\"member\":true,\"score\":\"x\"}", NULL, 1, "\"score\" must be a finite number, not \"x\""},
        {"{\"member\":true,\"score\":1}", NULL, 0, "a score needs a threshold"},
        {"{\"member\":true}", NULL, 1, "missing \"score\" (or \"guess\")"},
        {"{\"member\":true,\"guess\":0.5}", NULL, 1, "\"guess\" must be true or false (or 1 or 0), not 0.5"},
        {"{\"member\":true,\"score\":1,\"model\":[1]}", NULL, 1, "\"model\" must be a string or a number"},
        {"{\"member\":true,\"score\":1}", "g", 1, "missing the --group-by field \"g\""},
        {"{\"member\":true,\"score\":1,\"g\":{}}", "g", 1,
         "the --group-by field \"g\" must be a string, number, boolean or null"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = gather(&ts, bad[i].line, 9, bad[i].group_by, bad[i].scores_ok, msg, sizeof msg);
        ok(rc == -1 && strcmp(msg, bad[i].msg) == 0, "rejected: %s (%s)", bad[i].line, msg);
    }
    is_int((int)ts.n, 3, "a rejected record adds nothing");
    lm_dp_trials_free(&ts);

    /* no --group-by: one group named null */
    ok(gather(&ts, "{\"member\":true,\"score\":1}", 0, NULL, 1, msg, sizeof msg) == 0, "ungrouped");
    k = lm_strmap_key(&ts.groups, ts.t[0].group, &len);
    ok(len == 4 && memcmp(k, "null", 4) == 0, "the single group is null");
    lm_dp_trials_free(&ts);
}

static lm_dp_select sel_default(void)
{
    lm_dp_select s = {0};
    lm_dp_opts_default(&s.o);
    s.o.delta = 1e-5;
    s.candidates = 256;
    return s;
}

/* n trials: the first half members with high scores (a few low), the rest
 * non-members with low scores (a few high). */
static lm_dp_trial *make_trials(size_t n)
{
    lm_dp_trial *t = calloc(n, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        t[i].index = i;
        t[i].member = i < n / 2;
        t[i].score = t[i].member ? 1.0 + (double)(i % 7) / 10 - (i % 5 == 0 ? 1.5 : 0)
                                 : -(double)(i % 11) / 10 + (i % 6 == 0 ? 1.2 : 0);
        t[i].model = (uint32_t)(i % 4);
    }
    return t;
}

static void test_fixed_and_guess(void)
{
    lm_dp_select sel = sel_default();
    sel.have_threshold = 1;
    sel.threshold = 0.5;
    lm_dp_trial t[4] = {{0, 0, UINT32_MAX, 0.9, 1, 0},
                        {1, 0, UINT32_MAX, 0.8, 1, 0},
                        {2, 0, UINT32_MAX, 0.1, 0, 0},
                        {3, 0, UINT32_MAX, 0.95, 0, 0}};
    lm_dp_summary s;
    lm_dp_group_summarise(&sel, t, 4, &s);
    ok(!s.failed && s.have_summary, "fixed threshold: a summary");
    is_str(s.selection, "fixed", "selection fixed");
    ok(s.counts[LM_TP] == 2 && s.counts[LM_FN] == 0 && s.counts[LM_FP] == 1 && s.counts[LM_TN] == 1,
       "counts at 0.5");
    is_int((int)s.members, 2, "members");
    is_int((int)s.nmodels, 0, "no models");
    lm_dp_counts k = {.tp = 2, .fp = 1, .tn = 1, .fn = 0};
    lm_dp_result r;
    char err[256];
    lm_dp_estimate(&k, &sel.o, &r, err, sizeof err);
    ok(r.eps_lo == s.r.eps_lo && r.eps_hi == s.r.eps_hi, "the estimate of those counts");
    is_int((int)s.nscan, 0, "no scan rows");
    lm_dp_summary_free(&s);

    /* nothing guessed member: still an estimate */
    sel.threshold = 5;
    lm_dp_group_summarise(&sel, t, 4, &s);
    ok(s.have_summary && s.counts[LM_TP] == 0 && s.counts[LM_FP] == 0 && s.counts[LM_FN] == 2,
       "nothing guessed member: counted");
    lm_dp_summary_free(&s);
    /* members only: a data problem, found after the scan */
    lm_dp_group_summarise(&sel, t, 2, &s);
    ok(s.failed && !s.failed_early && !s.have_summary, "members only: failed");
    is_str(s.msg, ": no non-members to evaluate on", "its message");
    lm_dp_summary_free(&s);
    lm_dp_group_summarise(&sel, t + 2, 2, &s);
    is_str(s.msg, ": no members to evaluate on", "non-members only");
    lm_dp_summary_free(&s);

    /* guesses: threshold 0.5 whatever was given */
    lm_dp_trial g[3] = {{5, 0, 1, 1, 1, 1}, {6, 0, 1, 0, 0, 1}, {7, 0, 2, 1, 0, 1}};
    lm_dp_group_summarise(&sel, g, 3, &s);
    ok(s.have_summary && s.guess_mode, "guess mode");
    is_str(s.selection, "guess", "selection guess");
    is_near(s.threshold, 0.5, 0, "guess threshold 0.5");
    is_int((int)s.nmodels, 2, "two models");
    ok(s.opts.stream == 5, "the stream is the first trial's index");
    lm_dp_summary_free(&s);
    /* mixed */
    g[1].guess = 0;
    lm_dp_group_summarise(&sel, g, 3, &s);
    ok(s.failed && s.failed_early && !s.have_summary, "mixed score and guess: failed at once");
    is_str(s.msg, " mixes \"score\" and \"guess\" records: use one kind", "its message");
    lm_dp_summary_free(&s);
}

static void test_scan(void)
{
    size_t n = 60;
    lm_dp_trial *t = make_trials(n);
    lm_dp_select sel = sel_default();
    sel.scan = 1;
    lm_dp_summary s;
    lm_dp_group_summarise(&sel, t, n, &s);
    ok(s.have_summary && !s.failed, "scan: a summary");
    is_str(s.selection, "optimistic", "selection optimistic");
    ok(s.nscan > 5, "scan rows (%zu)", s.nscan);
    double best = -HUGE_VAL, bestT = NAN;
    int order = 1, counted = 1;
    for (size_t j = 0; j < s.nscan; j++) {
        if (s.scan[j].r.eps_lo > best) {
            best = s.scan[j].r.eps_lo;
            bestT = s.scan[j].threshold;
        }
        if (j && !(s.scan[j].threshold < s.scan[j - 1].threshold))
            order = 0;
        if (s.scan[j].counts[LM_TP] + s.scan[j].counts[LM_FN] != 30 ||
            s.scan[j].counts[LM_FP] + s.scan[j].counts[LM_TN] != 30)
            counted = 0;
    }
    ok(order, "rows by descending threshold");
    ok(counted, "every row counts all trials");
    is_near(s.threshold, bestT, 0, "the threshold of the best lower bound");
    is_int((int)s.nmodels, 4, "four models");
    lm_dp_summary_free(&s);
    /* a fixed threshold with --scan: rows, and the summary at that threshold */
    sel.have_threshold = 1;
    sel.threshold = 0.3;
    lm_dp_group_summarise(&sel, t, n, &s);
    ok(s.have_summary && s.threshold == 0.3 && s.nscan > 5, "scan with --threshold keeps it");
    lm_dp_summary_free(&s);
    free(t);
}

static void test_holdout(void)
{
    size_t n = 200;
    lm_dp_trial *t = make_trials(n);
    lm_dp_select sel = sel_default();
    sel.holdout = 0.5;
    sel.o.seed = 4;
    lm_dp_summary s;
    lm_dp_group_summarise(&sel, t, n, &s);
    ok(s.have_summary, "holdout: a summary");
    is_str(s.selection, "holdout", "selection holdout");
    ok(s.holdout_n + s.eval_n == n && s.holdout_n > 60 && s.holdout_n < 140, "split %zu + %zu", s.holdout_n,
       s.eval_n);
    ok(s.counts[LM_TP] + s.counts[LM_FN] + s.counts[LM_FP] + s.counts[LM_TN] == (int64_t)s.eval_n,
       "counted on the evaluation part only");
    int sorted = 1;
    for (size_t i = 1; i < s.eval_n; i++)
        if (t[i].index < t[i - 1].index)
            sorted = 0;
    ok(sorted, "the evaluation part stays in record order");
    lm_dp_summary_free(&s);
    /* the same seed draws the same split, another seed another one */
    size_t h1 = s.holdout_n;
    double T1 = s.threshold;
    free(t);
    t = make_trials(n);
    lm_dp_group_summarise(&sel, t, n, &s);
    ok(s.holdout_n == h1 && s.threshold == T1, "same seed, same split");
    lm_dp_summary_free(&s);
    free(t);
    t = make_trials(n);
    sel.o.seed = 5;
    lm_dp_group_summarise(&sel, t, n, &s);
    ok(s.holdout_n != h1, "another seed, another split (%zu, %zu)", s.holdout_n, h1);
    lm_dp_summary_free(&s);
    free(t);
    /* held-out part without both kinds: failed before the scan */
    lm_dp_trial two[3] = {
        {0, 0, UINT32_MAX, 1, 1, 0}, {1, 0, UINT32_MAX, 2, 1, 0}, {2, 0, UINT32_MAX, 0, 1, 0}};
    sel.holdout = 0.999;
    sel.scan = 1;
    lm_dp_group_summarise(&sel, two, 3, &s);
    ok(s.failed && s.failed_early && !s.have_summary, "no usable held-out part: failed early");
    ok(strstr(s.msg, "the held-out part (3 trials) has no members or no non-members") != NULL, "%s", s.msg);
    is_str(s.hint, "use a larger --holdout fraction, or --threshold", "its hint");
    lm_dp_summary_free(&s);
}

static void test_curve(void)
{
    lm_dp_counts k = {.tp = 76, .fp = 19, .tn = 982, .fn = 923};
    lm_dp_opts o;
    lm_dp_opts_default(&o);
    o.delta = 1e-5;
    lm_dp_result r;
    char err[300];
    ok(lm_dp_estimate(&k, &o, &r, err, sizeof err) == 0, "estimate");
    static lm_dp_curve cv;
    ok(lm_dp_curve_compute(&k, &o, &r, &cv, err, sizeof err) == 0, "curve");
    is_near(cv.top, 1.25 * r.eps_hi, 1e-12, "grid to 1.25 x eps_hi");
    ok(cv.eps[0] == 0 && fabs(cv.eps[LM_DP_GRID - 1] - cv.top) < 1e-12, "grid from 0 to top");
    int mono = 1;
    for (int i = 1; i < LM_DP_GRID; i++)
        if (cv.cdf[i] < cv.cdf[i - 1] - 1e-9)
            mono = 0;
    ok(mono && cv.cdf[LM_DP_GRID - 1] > 0.99, "cdf rises to about 1");
    lm_buf b = {0};
    lm_dp_curve_jsonl(&b, &cv, NULL, 0, 5);
    size_t lines = 0;
    for (size_t i = 0; i < b.n; i++)
        lines += b.p[i] == '\n';
    is_int((int)lines, LM_DP_GRID, "one line per grid point");
    ok(strncmp(b.p, "{\"record\":5,\"eps\":0,\"cdf\":", 26) == 0, "record line: %.40s", b.p);
    lm_buf_reset(&b);
    lm_dp_curve_jsonl(&b, &cv, "\"a\"", 3, 5);
    ok(strncmp(b.p, "{\"group\":\"a\",\"eps\":0,", 21) == 0, "group line: %.40s", b.p);
    lm_buf_free(&b);
    lm_plot *p = lm_dp_curve_plot(&cv, &k, &o, &r, "label");
    ok(p != NULL, "a plot");
    lm_plot_free(p);
    /* unbounded interval: the grid ends past the 99.9 % point */
    lm_dp_counts k2 = {.tp = 1000, .fp = 0, .tn = 1000, .fn = 0};
    o.sided = LM_DP_LOWER;
    ok(lm_dp_estimate(&k2, &o, &r, err, sizeof err) == 0 && isinf(r.eps_hi), "lower bound only");
    ok(lm_dp_curve_compute(&k2, &o, &r, &cv, err, sizeof err) == 0 && cv.top > r.eps_lo, "unbounded: top %g",
       cv.top);
}

int main(void)
{
    test_gather();
    test_fixed_and_guess();
    test_scan();
    test_holdout();
    test_curve();
    return tap_done();
}
