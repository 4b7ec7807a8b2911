/* labels.h - BEST-Route training labels, built as the public reference code
 * builds them (notebook data_preparation_hybridllm_mapping.ipynb of
 * microsoft/best-route-llm; Ding et al., "BEST-Route", ICML 2025).
 *
 * For every small model and n = 1..n_max: draw n_boot index sets of size n
 * with replacement from the stored samples, keep the best sample of each set
 * by proxy score (by true score when the record has no proxy: the "oracle"
 * selector, flagged in route_labels.selector_oracle), and record its true
 * score and the summed output tokens of all n drawn samples.  The reference
 * gets n_boot draws of one sample.  The soft label is
 *   match(k, n) = (1/B) sum_i (1/B) sum_j 1[small_i >= ref_j - match_t].
 * The first draw of every candidate is also kept as its "realised" outcome
 * (the reference code's validation/test files store a single draw).
 *
 * Random draws come from lm_rng_init(seed, record_index), in this order:
 * models in table order; per small model n = 1..n_max, per draw b, the n
 * indices; the reference (at its place in the table) one index per draw.
 * So labels never depend on threads.  This module does not train or route.
 */
#ifndef LMKIT_ROUTE_LABELS_H
#define LMKIT_ROUTE_LABELS_H

#include <stdint.h>

#include "route/data.h"

typedef struct {
    size_t n_max;   /* largest best-of-n (reference code: 5) */
    size_t n_boot;  /* draws per candidate (reference code: sample_size 10) */
    double match_t; /* relaxation t (README: 0) */
    int bug_compat; /* winner = first of ALL samples whose proxy equals the
                          set maximum (reference quirk); default: argmax within
                          the set, first drawn position wins ties */
} route_label_opts;

typedef struct {
    size_t n_heads;      /* (models.n - 1) * n_max */
    double *match;       /* [n_heads] soft label; NaN when the model is absent */
    double *draw_score;  /* [n_heads] realised quality: first draw's winner */
    double *draw_tokens; /* [n_heads] realised output tokens of that draw */
    double *mean_score;  /* [n_heads] mean winner score over the n_boot draws */
    double *mean_tokens; /* [n_heads] mean summed output tokens */
    double ref_score;    /* reference: first draw */
    double ref_tokens;
    double ref_mean_score, ref_mean_tokens;
    int selector_oracle; /* 1: no proxy, winners chosen by true score */
} route_labels;

void route_label_opts_default(route_label_opts *o);

/* Room for n_heads heads. */
void route_labels_alloc(route_labels *l, size_t n_heads);
void route_labels_free(route_labels *l);

/* Winner position within a drawn set idx[0..n-1] of samples s[0..ns-1],
 * by `key` (proxy, or score when use_score).  Returns the sample index. */
size_t route_winner(const route_sample *s, size_t ns, const size_t *idx, size_t n, int use_score,
                    int bug_compat);

/* The soft label from B small winners and B reference scores. */
double route_match_prob(const double *small, size_t bs, const double *ref, size_t br, double t);

/* Labels of one record from explicit index sets (for tests and goldens):
 * draws[m] holds, for each model m in table order, the concatenation over
 * n = 1..nm (nm = n_max for small models, 1 for the reference) and over
 * b < n_boot of the n indices: n_boot * nm(nm+1)/2 indices.  draws[m] may be
 * NULL for an absent model.  Returns 0 or -1 with a message. */
int route_labels_from_draws(route_labels *l, const route_record *r, const route_models *m,
                            const route_label_opts *o, const size_t *const *draws, char *err, size_t errlen);

/* Labels of one record with seeded draws (seed, record_index).  `l` must be
 * allocated with n_heads = (m->n - 1) * o->n_max. */
int route_labels_build(route_labels *l, const route_record *r, const route_models *m,
                       const route_label_opts *o, uint64_t seed, uint64_t record_index, char *err,
                       size_t errlen);

#endif
