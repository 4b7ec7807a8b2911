/* audit.h - score-stream audits for dp-estimate: trial records gathered per
 * group, the threshold chosen on them (fixed, on a held-out part, or the
 * optimistic best of a scan), the counts and the estimate at that threshold,
 * and the posterior pictures of an estimate.
 *
 * A trial record is {"member": true|false|1|0, "score": x} (or "guess":
 * true|false|1|0 instead of a score), optionally with "model" (the trained
 * model the challenge belongs to) and the --group-by field.  Trials are
 * kept until the end of the stream; lm_dp_group_summarise then works on the
 * trials of one group, sorted by record index.
 *
 * Nothing here prints or exits: errors come back as lm_rerr (records) or as
 * a message and a hint in lm_dp_summary (groups); the caller writes the
 * records, the warnings and the files.  Allocation failures abort through
 * lm_xmalloc (core/diag.h).
 */
#ifndef LMKIT_PRIVACY_AUDIT_H
#define LMKIT_PRIVACY_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/jsonl.h"
#include "core/strmap.h"
#include "core/svg.h"
#include "privacy/dpest.h"
#include "privacy/game.h"

/* One trial of a score stream. */
typedef struct {
    uint64_t index; /* record index: fixes order and the holdout draw */
    uint32_t group; /* id in lm_dp_trials.groups */
    uint32_t model; /* id of the raw "model" value in lm_dp_trials.models, or UINT32_MAX */
    double score;   /* or the guess as 0/1 when guess is set */
    int member;
    int guess; /* 1 when the record held "guess" rather than "score" */
} lm_dp_trial;

/* The trials of a stream and the raw JSON values of their groups and models. */
typedef struct {
    lm_dp_trial *t;
    size_t n, cap;
    lm_strmap groups, models;
} lm_dp_trials;

/* Reads a boolean member: true/false or the numbers 1/0.  0, or -1 with err
 * set at the value. */
int lm_dp_read_bool(const lm_record *in, const lm_member *m, int *out, lm_rerr *err);

/* Reads the trial of record in and appends it to ts (under an OpenMP
 * critical section, so that records may be read in parallel).  group_by
 * names the grouping field (NULL: one group, "null"); scores_ok is 0 when no
 * threshold rule was given, which makes a "score" an error.  0, or -1 with
 * err set (the record is bad; nothing was added). */
int lm_dp_trials_gather(lm_dp_trials *ts, const lm_record *in, const char *group_by, int scores_ok,
                        lm_rerr *err);

/* Sorts the trials by group, then by record index. */
void lm_dp_trials_sort(lm_dp_trials *ts);
void lm_dp_trials_free(lm_dp_trials *ts);

/* How a group's threshold is chosen. */
typedef struct {
    lm_dp_opts o;       /* the estimate; o.seed also draws the holdout */
    int have_threshold; /* a fixed threshold (--threshold) */
    double threshold;
    double holdout;    /* > 0: choose on this random share of the trials */
    size_t candidates; /* holdout: at most this many thresholds tried */
    int scan;          /* estimate at every distinct threshold */
} lm_dp_select;

/* One row of a scan: the estimate at one distinct threshold. */
typedef struct {
    double threshold;
    int64_t counts[4]; /* LM_TP.. (game.h) */
    lm_dp_result r;
} lm_dp_scan_row;

/* What lm_dp_group_summarise found for one group. */
typedef struct {
    int guess_mode; /* the group holds "guess" records */
    int64_t n, members;
    size_t nmodels;        /* distinct "model" values (0: none given) */
    const char *selection; /* "guess", "holdout", "optimistic" or "fixed" */
    double threshold;      /* the threshold used (guess mode: 0.5) */
    size_t holdout_n, eval_n;
    lm_dp_opts opts;      /* the options of the estimate (stream set) */
    lm_dp_scan_row *scan; /* with scan: the rows whose counts allow an estimate */
    size_t nscan;
    int have_summary; /* counts and r below are valid: write the summary */
    int64_t counts[4];
    lm_dp_result r;
    int failed;               /* 1: a data problem; "group RAW" + msg says which */
    int failed_early;         /* the problem arose before the scan rows */
    char msg[320], hint[128]; /* hint: "" when none */
} lm_dp_summary;

/* Summarises the n >= 1 trials of one group (sorted by index; reordered
 * here when a holdout is drawn).  Always fills s; free it with
 * lm_dp_summary_free. */
void lm_dp_group_summarise(const lm_dp_select *sel, lm_dp_trial *t, size_t n, lm_dp_summary *s);
void lm_dp_summary_free(lm_dp_summary *s);

/* Whether counts allow an estimate: members and non-members both present. */
int lm_dp_counts_ok(const int64_t k[4]);
lm_dp_counts lm_dp_counts_of(const int64_t k[4]);

/* ---- pictures ---- */

#define LM_DP_GRID 241

/* The posterior of one estimate on a grid from 0 to a little past the
 * interval (or its 99.9 % point when the interval is unbounded). */
typedef struct {
    double top;
    double eps[LM_DP_GRID], cdf[LM_DP_GRID], pdf[LM_DP_GRID];
} lm_dp_curve;

/* 0, or -1 with a message in err. */
int lm_dp_curve_compute(const lm_dp_counts *k, const lm_dp_opts *o, const lm_dp_result *r, lm_dp_curve *cv,
                        char *err, size_t errlen);

/* Appends one JSON line per grid point to b: {"group":RAW,...} when
 * group_raw is set, else {"record":index,...}, then eps, cdf and pdf. */
void lm_dp_curve_jsonl(lm_buf *b, const lm_dp_curve *cv, const char *group_raw, size_t group_len,
                       uint64_t index);

/* A plot of the posterior density with the interval shaded and the observed
 * epsilon marked, titled label. */
lm_plot *lm_dp_curve_plot(const lm_dp_curve *cv, const lm_dp_counts *k, const lm_dp_opts *o,
                          const lm_dp_result *r, const char *label);

#endif
