/* labels.c - bootstrap best-of-n labels (see labels.h). */
#include "route/labels.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/diag.h"

void route_label_opts_default(route_label_opts *o)
{
    o->n_max = 5;
    o->n_boot = 10;
    o->match_t = 0.0;
    o->bug_compat = 0;
}

void route_labels_alloc(route_labels *l, size_t n_heads)
{
    memset(l, 0, sizeof *l);
    size_t n = n_heads ? n_heads : 1;
    double *blk = lm_xmalloc(lm_xmul(n, 5 * sizeof(double)));
    l->n_heads = n_heads;
    l->match = blk;
    l->draw_score = blk + n;
    l->draw_tokens = blk + 2 * n;
    l->mean_score = blk + 3 * n;
    l->mean_tokens = blk + 4 * n;
}

void route_labels_free(route_labels *l)
{
    if (l)
        free(l->match);
    if (l)
        memset(l, 0, sizeof *l);
}

static double key_of(const route_sample *s, int use_score)
{
    return use_score ? s->score : s->proxy;
}

size_t route_winner(const route_sample *s, size_t ns, const size_t *idx, size_t n, int use_score,
                    int bug_compat)
{
    size_t best = idx[0];
    double bk = key_of(&s[idx[0]], use_score);
    for (size_t i = 1; i < n; i++) {
        double k = key_of(&s[idx[i]], use_score);
        if (k > bk) {
            bk = k;
            best = idx[i];
        }
    }
    if (bug_compat) {
        /* reference quirk: the first index among all samples whose key
         * equals the maximum of the drawn set */
        for (size_t i = 0; i < ns; i++)
            if (key_of(&s[i], use_score) == bk)
                return i;
    }
    return best;
}

double route_match_prob(const double *small, size_t bs, const double *ref, size_t br, double t)
{
    double tot = 0;
    for (size_t i = 0; i < bs; i++) {
        size_t c = 0;
        for (size_t j = 0; j < br; j++)
            c += small[i] >= ref[j] - t;
        tot += (double)c / (double)br;
    }
    return tot / (double)bs;
}

/* Evaluate the n_boot draws of one candidate.  idx: n_boot * n indices. */
static int eval_draws(const route_sample *s, size_t ns, const size_t *idx, size_t n, size_t nb, int use_score,
                      int bug, double *win_score, double *tokens, char *err, size_t errlen, const char *model)
{
    for (size_t b = 0; b < nb; b++) {
        const size_t *set = idx + b * n;
        double tok = 0;
        for (size_t i = 0; i < n; i++) {
            if (set[i] >= ns) {
                lm_seterr(err, errlen, "model '%s': drawn index %zu is out of range (%zu samples)", model,
                          set[i], ns);
                return -1;
            }
            tok += s[set[i]].out_tokens;
        }
        size_t w = route_winner(s, ns, set, n, use_score, bug);
        win_score[b] = s[w].score;
        tokens[b] = tok;
    }
    return 0;
}

static double mean(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s / (double)n;
}

int route_labels_from_draws(route_labels *l, const route_record *r, const route_models *m,
                            const route_label_opts *o, const size_t *const *draws, char *err, size_t errlen)
{
    size_t nb = o->n_boot, nmax = o->n_max;
    if (nb == 0 || nmax == 0) {
        lm_seterr(err, errlen, "labels: n_boot and n_max must be at least 1");
        return -1;
    }
    if (l->n_heads != (m->n - 1) * nmax) {
        lm_seterr(err, errlen, "labels: buffer has %zu heads, need %zu", l->n_heads, (m->n - 1) * nmax);
        return -1;
    }
    int use_score = !r->has_proxy;
    l->selector_oracle = use_score;
    double *ref = lm_xmalloc(lm_xmul(nb, 2 * sizeof(double)));
    double *sm = lm_xmalloc(lm_xmul(nb, 2 * sizeof(double)));
    int rc = -1;
    size_t R = m->ref;
    if (!draws[R]) {
        lm_seterr(err, errlen, "labels: no draws for the reference model");
        goto done;
    }
    if (eval_draws(r->samples[R], r->n_samples[R], draws[R], 1, nb, use_score, o->bug_compat, ref, ref + nb,
                   err, errlen, m->name[R]))
        goto done;
    l->ref_score = ref[0];
    l->ref_tokens = ref[nb];
    l->ref_mean_score = mean(ref, nb);
    l->ref_mean_tokens = mean(ref + nb, nb);
    for (size_t s = 0; s < m->n - 1; s++) {
        size_t mi = route_models_small(m, s);
        const size_t *d = draws[mi];
        for (size_t n = 1; n <= nmax; n++) {
            size_t h = s * nmax + (n - 1);
            if (!r->n_samples[mi] || !d) {
                l->match[h] = l->draw_score[h] = l->draw_tokens[h] = NAN;
                l->mean_score[h] = l->mean_tokens[h] = NAN;
                continue;
            }
            const size_t *idx = d + nb * (n * (n - 1) / 2);
            if (eval_draws(r->samples[mi], r->n_samples[mi], idx, n, nb, use_score, o->bug_compat, sm,
                           sm + nb, err, errlen, m->name[mi]))
                goto done;
            l->match[h] = route_match_prob(sm, nb, ref, nb, o->match_t);
            l->draw_score[h] = sm[0];
            l->draw_tokens[h] = sm[nb];
            l->mean_score[h] = mean(sm, nb);
            l->mean_tokens[h] = mean(sm + nb, nb);
        }
    }
    rc = 0;
done:
    free(ref);
    free(sm);
    return rc;
}

int route_labels_build(route_labels *l, const route_record *r, const route_models *m,
                       const route_label_opts *o, uint64_t seed, uint64_t record_index, char *err,
                       size_t errlen)
{
    size_t nb = o->n_boot, nmax = o->n_max;
    size_t per_small = lm_xmul(nb, lm_xmul(nmax, nmax + 1) / 2);
    size_t **draws = lm_xcalloc(m->n, sizeof *draws);
    size_t *blk = lm_xmalloc(lm_xmul(lm_xmul(m->n, per_small) + nb, sizeof(size_t)));
    lm_rng rng;
    lm_rng_init(&rng, seed, record_index);
    size_t *p = blk;
    for (size_t mi = 0; mi < m->n; mi++) {
        size_t ns = r->n_samples[mi];
        if (!ns)
            continue;
        size_t cnt = mi == m->ref ? nb : per_small;
        draws[mi] = p;
        for (size_t i = 0; i < cnt; i++)
            p[i] = (size_t)lm_rng_below(&rng, ns);
        p += cnt;
    }
    int rc = route_labels_from_draws(l, r, m, o, (const size_t *const *)draws, err, errlen);
    free(draws);
    free(blk);
    return rc;
}
