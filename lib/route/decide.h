/* decide.h - the BEST-Route decision rule (Ding et al., ICML 2025, Algorithm 1),
 * its cost model, and proxy best-of-n selection.
 *
 * Candidates are router heads h = s * n_max + (n - 1) (see data.h).  Given a
 * match probability (or any score) per head, a threshold t and a cost per
 * head, the rule keeps heads with score >= t and picks the cheapest; ties go
 * to the lower head index (candidate order).  When none is kept the
 * reference is chosen.  In the evaluation-curve variant
 * (results_interpretation.ipynb) the reference competes on cost with a fixed
 * score (1 in the reference code).  Missing scores (NaN) never qualify.
 *
 * This module does not predict anything: scores come from a router, from
 * user-supplied predictions or from true labels.
 */
#ifndef LMKIT_ROUTE_DECIDE_H
#define LMKIT_ROUTE_DECIDE_H

#include <stddef.h>

#include "route/data.h"

#define ROUTE_REF (-1L)

/* Algorithm 1 estimated cost of (table model mi, n) for one query, dollars:
 *   prompt_tokens * in_price + n * avg_out[mi] * out_price  (prices per 1M). */
double route_cost_estimated(const route_models *m, size_t mi, size_t n, double prompt_tokens);
/* Realised cost: prompt_tokens * in_price + out_tokens * out_price. */
double route_cost_realised(const route_models *m, size_t mi, double prompt_tokens, double out_tokens);

/* Estimated cost of every head of one record, and of the reference.
 * cost: [n_heads]; needs m->avg_out of every model.  Returns 0 or -1 (message
 * names the model without an average output length). */
int route_costs_estimated(const route_models *m, const route_record *r, size_t n_max, double *cost,
                          double *ref_cost, char *err, size_t errlen);

/* Realised cost of every head of one record: head (s, n) pays for the output
 * tokens of small model s's first n samples (NaN when it has fewer than n);
 * *ref_cost for the reference's first sample.  cost: [n_heads]. */
void route_costs_realised(const route_models *m, const route_record *r, size_t n_max, double *cost,
                          double *ref_cost);

/* The rule.  score/cost: [n_heads].  Heads with n > n_use (when n_use > 0)
 * are ignored (n_use = 1 gives a single-response router).  When
 * ref_competes, the reference (ref_score, ref_cost) is a candidate placed
 * after every head; otherwise it is the fallback.  Returns the head index or
 * ROUTE_REF. */
long route_decide(const double *score, const double *cost, size_t n_heads, size_t n_max, size_t n_use,
                  double t, int ref_competes, double ref_score, double ref_cost);

/* Best-of-n: index of the largest proxy among proxy[0..n-1]; the first
 * position wins ties; NaN entries are skipped (returns 0 if all are NaN). */
size_t route_best_of_n(const double *proxy, size_t n);

#endif
