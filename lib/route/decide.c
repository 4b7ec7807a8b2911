/* decide.c - BEST-Route Algorithm 1 and costs (see decide.h). */
#include "route/decide.h"

#include <math.h>
#include <stdio.h>

double route_cost_estimated(const route_models *m, size_t mi, size_t n, double prompt_tokens)
{
    return (prompt_tokens * m->in_price[mi] + (double)n * m->avg_out[mi] * m->out_price[mi]) * 1e-6;
}

double route_cost_realised(const route_models *m, size_t mi, double prompt_tokens, double out_tokens)
{
    return (prompt_tokens * m->in_price[mi] + out_tokens * m->out_price[mi]) * 1e-6;
}

int route_costs_estimated(const route_models *m, const route_record *r, size_t n_max, double *cost,
                          double *ref_cost, char *err, size_t errlen)
{
    for (size_t i = 0; i < m->n; i++)
        if (isnan(m->avg_out[i])) {
            if (err && errlen)
                snprintf(err, errlen,
                         "model '%s' has no average output length "
                         "(give avg_out_tokens in the prices file or fit it on training data)",
                         m->name[i]);
            return -1;
        }
    for (size_t s = 0; s < m->n - 1; s++) {
        size_t mi = route_models_small(m, s);
        for (size_t n = 1; n <= n_max; n++)
            cost[s * n_max + n - 1] = route_cost_estimated(m, mi, n, r->prompt_tokens[mi]);
    }
    *ref_cost = route_cost_estimated(m, m->ref, 1, r->prompt_tokens[m->ref]);
    return 0;
}

long route_decide(const double *score, const double *cost, size_t n_heads, size_t n_max, size_t n_use,
                  double t, int ref_competes, double ref_score, double ref_cost)
{
    long best = ROUTE_REF;
    double bc = INFINITY;
    for (size_t h = 0; h < n_heads; h++) {
        if (n_use && h % n_max + 1 > n_use)
            continue;
        if (!(score[h] >= t) || isnan(cost[h]))
            continue;
        if (cost[h] < bc) {
            bc = cost[h];
            best = (long)h;
        }
    }
    if (ref_competes && ref_score >= t && ref_cost < bc)
        best = ROUTE_REF;
    return best;
}

size_t route_best_of_n(const double *proxy, size_t n)
{
    size_t best = 0;
    double bv = -INFINITY;
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(proxy[i]))
            continue;
        if (!found || proxy[i] > bv) {
            bv = proxy[i];
            best = i;
            found = 1;
        }
    }
    return best;
}

void route_costs_realised(const route_models *m, const route_record *r, size_t n_max, double *cost,
                          double *ref_cost)
{
    for (size_t s = 0; s < m->n - 1; s++) {
        size_t mi = route_models_small(m, s);
        double tok = 0;
        for (size_t n = 1; n <= n_max; n++) {
            size_t h = s * n_max + n - 1;
            if (n <= r->n_samples[mi]) {
                tok += r->samples[mi][n - 1].out_tokens;
                cost[h] = route_cost_realised(m, mi, r->prompt_tokens[mi], tok);
            } else {
                cost[h] = NAN;
            }
        }
    }
    size_t ref = m->ref;
    *ref_cost = route_cost_realised(m, ref, r->prompt_tokens[ref], r->samples[ref][0].out_tokens);
}
