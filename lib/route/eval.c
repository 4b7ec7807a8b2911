/* eval.c - threshold sweeps, anchors, RouteLLM-style metrics and the whole
 * offline evaluation of route eval (see eval.h). */
#include "route/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/rng.h"
#include "route/decide.h"

void route_eval_alloc(route_eval_data *d, size_t nq, size_t n_heads, size_t n_max)
{
    memset(d, 0, sizeof *d);
    size_t c = n_heads + 1;
    double *b = lm_xmalloc(lm_xmul(lm_xmul(nq ? nq : 1, c), 3 * sizeof(double)));
    d->nq = nq;
    d->n_heads = n_heads;
    d->n_max = n_max;
    d->cost = b;
    d->qual = b + nq * c;
    d->dcost = b + 2 * nq * c;
}

void route_eval_free(route_eval_data *d)
{
    if (d)
        free(d->cost);
    if (d)
        memset(d, 0, sizeof *d);
}

int route_eval_fill(route_eval_data *d, size_t q, const route_models *m, const route_record *r,
                    const route_labels *l, route_cost_mode mode, char *err, size_t errlen)
{
    size_t C = d->n_heads + 1, H = d->n_heads;
    double *cost = d->cost + q * C, *qual = d->qual + q * C, *dc = d->dcost + q * C;
    for (size_t s = 0; s < m->n - 1; s++) {
        size_t mi = route_models_small(m, s);
        for (size_t n = 1; n <= d->n_max; n++) {
            size_t h = s * d->n_max + n - 1;
            cost[h] = isnan(l->draw_tokens[h])
                          ? NAN
                          : route_cost_realised(m, mi, r->prompt_tokens[mi], l->draw_tokens[h]);
            qual[h] = l->draw_score[h];
        }
    }
    cost[H] = route_cost_realised(m, m->ref, r->prompt_tokens[m->ref], l->ref_tokens);
    qual[H] = l->ref_score;
    if (mode == ROUTE_COST_REALISED) {
        memcpy(dc, cost, C * sizeof(double));
        return 0;
    }
    if (route_costs_estimated(m, r, d->n_max, dc, &dc[H], err, errlen))
        return -1;
    for (size_t h = 0; h < H; h++)
        if (isnan(cost[h]))
            dc[h] = NAN;
    return 0;
}

void route_eval_choose(const route_eval_data *d, const double *pred, const route_rule *rule, double t,
                       long *choice)
{
    size_t C = d->n_heads + 1, H = d->n_heads;
    for (size_t q = 0; q < d->nq; q++)
        choice[q] = route_decide(pred + q * H, d->dcost + q * C, H, d->n_max, rule->n_use, t,
                                 rule->ref_competes, rule->ref_score, d->dcost[q * C + H]);
}

static void ref_totals(const route_eval_data *d, double *c, double *qm)
{
    size_t C = d->n_heads + 1;
    double cs = 0, qs = 0;
    for (size_t q = 0; q < d->nq; q++) {
        cs += d->cost[q * C + d->n_heads];
        qs += d->qual[q * C + d->n_heads];
    }
    *c = cs;
    *qm = qs / (double)d->nq;
}

static void finish_point(const route_eval_data *d, route_point *pt)
{
    double cr, qr;
    ref_totals(d, &cr, &qr);
    pt->cost_per_1k = pt->cost_sum / (double)d->nq * 1000.0;
    pt->cost_reduction_pct = 100.0 * (1.0 - pt->cost_sum / cr);
    pt->quality_drop_pct = 100.0 * (1.0 - pt->quality_mean / qr);
}

void route_eval_point(const route_eval_data *d, const long *choice, double t, route_point *pt, double *share)
{
    size_t C = d->n_heads + 1, H = d->n_heads;
    double cs = 0, qs = 0, ns = 0;
    size_t nref = 0;
    if (share)
        memset(share, 0, C * sizeof(double));
    for (size_t q = 0; q < d->nq; q++) {
        size_t c = choice[q] == ROUTE_REF ? H : (size_t)choice[q];
        cs += d->cost[q * C + c];
        qs += d->qual[q * C + c];
        ns += c == H ? 1.0 : (double)(c % d->n_max + 1);
        nref += c == H;
        if (share)
            share[c] += 1.0 / (double)d->nq;
    }
    pt->t = t;
    pt->cost_sum = cs;
    pt->quality_mean = qs / (double)d->nq;
    pt->ref_share = (double)nref / (double)d->nq;
    pt->mean_n = ns / (double)d->nq;
    finish_point(d, pt);
}

void route_eval_fixed(const route_eval_data *d, long h, route_point *pt)
{
    long *ch = lm_xmalloc(lm_xmul(d->nq, sizeof(long)));
    for (size_t q = 0; q < d->nq; q++)
        ch[q] = h;
    route_eval_point(d, ch, NAN, pt, NULL);
    free(ch);
}

size_t route_eval_best_n(const route_eval_data *d, size_t s)
{
    size_t C = d->n_heads + 1, best = 0;
    double bq = -INFINITY;
    for (size_t n = 1; n <= d->n_max; n++) {
        size_t h = s * d->n_max + n - 1;
        if (h >= d->n_heads || !d->nq)
            break;
        double qs = 0;
        int usable = 1;
        for (size_t q = 0; q < d->nq && usable; q++) {
            if (isnan(d->cost[q * C + h]) || isnan(d->qual[q * C + h]))
                usable = 0;
            qs += d->qual[q * C + h];
        }
        if (usable && qs / (double)d->nq > bq) {
            bq = qs / (double)d->nq;
            best = n;
        }
    }
    return best;
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* usable prediction values (sorted); caller frees */
static double *usable(const route_eval_data *d, const double *pred, const route_rule *rule, size_t *n)
{
    size_t H = d->n_heads, k = 0;
    double *v = lm_xmalloc(lm_xmul(lm_xmul(d->nq, H) + 1, sizeof(double)));
    for (size_t q = 0; q < d->nq; q++)
        for (size_t h = 0; h < H; h++) {
            if (rule->n_use && h % d->n_max + 1 > rule->n_use)
                continue;
            double p = pred[q * H + h];
            if (!isnan(p))
                v[k++] = p;
        }
    *n = k;
    return v;
}

size_t route_thresholds_linear(const route_eval_data *d, const double *pred, const route_rule *rule, size_t K,
                               double *out)
{
    size_t n;
    if (K == 0)
        return 0;
    double *v = usable(d, pred, rule, &n);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    if (rule->ref_competes) {
        lo = rule->ref_score < lo ? rule->ref_score : lo;
        hi = rule->ref_score > hi ? rule->ref_score : hi;
    }
    free(v);
    if (!(lo <= hi))
        return 0;
    for (size_t k = 0; k < K; k++)
        out[k] = K == 1 ? lo : lo + (hi - lo) * (double)k / (double)(K - 1);
    return K;
}

size_t route_thresholds_quantile(const route_eval_data *d, const double *pred, const route_rule *rule,
                                 size_t bins, double *out)
{
    size_t n;
    double *v = usable(d, pred, rule, &n);
    if (!n || !bins) {
        free(v);
        return 0;
    }
    qsort(v, n, sizeof *v, dbl_cmp);
    for (size_t k = 0; k <= bins; k++) {
        double pos = (double)(n - 1) * (double)k / (double)bins;
        size_t i = (size_t)floor(pos);
        double f = pos - (double)i;
        out[k] = i + 1 < n ? v[i] + f * (v[i + 1] - v[i]) : v[n - 1];
    }
    out[bins + 1] = INFINITY;
    free(v);
    return bins + 2;
}

void route_sweep(const route_eval_data *d, const double *pred, const route_rule *rule, const double *thr,
                 size_t nt, route_point *points)
{
    long *ch = lm_xmalloc(lm_xmul(d->nq, sizeof(long)));
    for (size_t i = 0; i < nt; i++) {
        route_eval_choose(d, pred, rule, thr[i], ch);
        route_eval_point(d, ch, thr[i], &points[i], NULL);
    }
    free(ch);
}

void route_random_curve(const route_eval_data *d, long weak, const double *alphas, size_t na, size_t n_seeds,
                        uint64_t seed, route_point *points)
{
    size_t C = d->n_heads + 1, H = d->n_heads, w = weak == ROUTE_REF ? H : (size_t)weak;
    for (size_t a = 0; a < na; a++) {
        double cs = 0, qs = 0, nr = 0, ns = 0;
        for (size_t s = 0; s < n_seeds; s++) {
            lm_rng r;
            lm_rng_init(&r, seed, s);
            for (size_t q = 0; q < d->nq; q++) {
                size_t c = lm_rng_uniform(&r) < alphas[a] ? H : w;
                cs += d->cost[q * C + c];
                qs += d->qual[q * C + c];
                nr += c == H;
                ns += c == H ? 1.0 : (double)(c % d->n_max + 1);
            }
        }
        double k = (double)n_seeds;
        route_point *pt = &points[a];
        pt->t = alphas[a];
        pt->cost_sum = cs / k;
        pt->quality_mean = qs / k / (double)d->nq;
        pt->ref_share = nr / k / (double)d->nq;
        pt->mean_n = ns / k / (double)d->nq;
        finish_point(d, pt);
    }
}

/* order of points by ref_share (stable) */
static size_t *order_by(const route_point *p, size_t n, int by_cost_reduction)
{
    size_t *o = lm_xmalloc(lm_xmul(n, sizeof(size_t)));
    for (size_t i = 0; i < n; i++)
        o[i] = i;
    for (size_t i = 1; i < n; i++) { /* insertion sort: stable, n is small */
        size_t x = o[i], j = i;
        double kx = by_cost_reduction ? p[x].cost_reduction_pct : p[x].ref_share;
        while (j > 0) {
            double kj = by_cost_reduction ? p[o[j - 1]].cost_reduction_pct : p[o[j - 1]].ref_share;
            if (kj <= kx)
                break;
            o[j] = o[j - 1];
            j--;
        }
        o[j] = x;
    }
    return o;
}

double route_auc(const route_point *p, size_t n)
{
    size_t *o = order_by(p, n, 0);
    double a = 0;
    for (size_t i = 1; i < n; i++)
        a += 0.5 * (p[o[i]].quality_mean + p[o[i - 1]].quality_mean) *
             (p[o[i]].ref_share - p[o[i - 1]].ref_share);
    free(o);
    return a;
}

double route_apgr(const route_point *p, size_t n, double q_weak, double q_strong)
{
    if (n < 2)
        return NAN;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        lo = p[i].ref_share < lo ? p[i].ref_share : lo;
        hi = p[i].ref_share > hi ? p[i].ref_share : hi;
    }
    double span = hi - lo;
    double den = (q_strong - q_weak) * span;
    if (den == 0)
        return NAN;
    return (route_auc(p, n) - q_weak * span) / den;
}

/* np.interp(x, xp, fp) with clamping; first bracketing segment inside */
static double interp(double x, const double *xp, const double *fp, size_t n)
{
    if (n == 0)
        return NAN;
    if (x <= xp[0])
        return fp[0];
    if (x >= xp[n - 1])
        return fp[n - 1];
    for (size_t i = 0; i + 1 < n; i++) {
        double a = xp[i], b = xp[i + 1];
        if ((a <= x && x <= b) || (b <= x && x <= a)) {
            if (a == b)
                return fp[i];
            return fp[i] + (fp[i + 1] - fp[i]) * (x - a) / (b - a);
        }
    }
    return fp[n - 1];
}

double route_cpt(const route_point *p, size_t n, double q_weak, double q_strong, double frac)
{
    size_t *o = order_by(p, n, 0);
    double *xp = lm_xmalloc(lm_xmul(n, sizeof(double))), *fp = lm_xmalloc(lm_xmul(n, sizeof(double)));
    for (size_t i = 0; i < n; i++) {
        xp[i] = p[o[i]].quality_mean;
        fp[i] = 100.0 * p[o[i]].ref_share;
    }
    double r = interp(q_weak + frac * (q_strong - q_weak), xp, fp, n);
    free(o);
    free(xp);
    free(fp);
    return r;
}

double route_drop_at(const route_point *p, size_t n, double x)
{
    size_t *o = order_by(p, n, 1);
    double r = NAN;
    for (size_t i = 0; i + 1 < n; i++) {
        const route_point *a = &p[o[i]], *b = &p[o[i + 1]];
        if (a->cost_reduction_pct <= x && x <= b->cost_reduction_pct) {
            double span = b->cost_reduction_pct - a->cost_reduction_pct;
            r = span == 0 ? a->quality_drop_pct
                          : a->quality_drop_pct + (b->quality_drop_pct - a->quality_drop_pct) *
                                                      (x - a->cost_reduction_pct) / span;
            break;
        }
    }
    if (n == 1 && p[0].cost_reduction_pct == x)
        r = p[0].quality_drop_pct;
    free(o);
    return r;
}

void route_summarize(const route_eval_data *d, const route_point *p, size_t n, long weak, route_summary *s)
{
    static const double at[4] = {10, 20, 40, 60};
    route_point w, rf;
    route_eval_fixed(d, weak, &w);
    route_eval_fixed(d, ROUTE_REF, &rf);
    s->q_ref = rf.quality_mean;
    s->c_ref = rf.cost_sum;
    s->q_weak = w.quality_mean;
    for (int i = 0; i < 4; i++)
        s->drop_at[i] = route_drop_at(p, n, at[i]);
    s->auc = route_auc(p, n);
    s->apgr = route_apgr(p, n, s->q_weak, s->q_ref);
    s->cpt50 = route_cpt(p, n, s->q_weak, s->q_ref, 0.5);
    s->cpt80 = route_cpt(p, n, s->q_weak, s->q_ref, 0.8);
}

int route_apgr_bootstrap(const route_eval_data *d, const double *pred, const route_rule *rule, long weak,
                         size_t bins, size_t n_boot, uint64_t seed, double *lo, double *hi, double *mean)
{
    size_t C = d->n_heads + 1, H = d->n_heads, nq = d->nq;
    if (!n_boot || !nq)
        return -1;
    double *ap = lm_xmalloc(lm_xmul(n_boot, sizeof(double)));
#pragma omp parallel
    {
        route_eval_data e;
        size_t nt_cap = (bins ? bins + 2 : 21);
        double *pr = lm_xmalloc(lm_xmul(lm_xmul(nq, H ? H : 1), sizeof(double)));
        double *thr = lm_xmalloc(lm_xmul(nt_cap, sizeof(double)));
        route_point *pts = lm_xmalloc(lm_xmul(nt_cap, sizeof(route_point)));
        route_eval_alloc(&e, nq, H, d->n_max);
#pragma omp for schedule(static)
        for (size_t b = 0; b < n_boot; b++) {
            lm_rng r;
            lm_rng_init(&r, seed, b);
            for (size_t q = 0; q < nq; q++) {
                size_t src = (size_t)lm_rng_below(&r, nq);
                memcpy(e.cost + q * C, d->cost + src * C, C * sizeof(double));
                memcpy(e.qual + q * C, d->qual + src * C, C * sizeof(double));
                memcpy(e.dcost + q * C, d->dcost + src * C, C * sizeof(double));
                memcpy(pr + q * H, pred + src * H, H * sizeof(double));
            }
            size_t nt = bins ? route_thresholds_quantile(&e, pr, rule, bins, thr)
                             : route_thresholds_linear(&e, pr, rule, 21, thr);
            route_summary s;
            route_sweep(&e, pr, rule, thr, nt, pts);
            route_summarize(&e, pts, nt, weak, &s);
            ap[b] = s.apgr;
        }
        route_eval_free(&e);
        free(pr);
        free(thr);
        free(pts);
    }
    double sum = 0;
    size_t k = 0;
    for (size_t b = 0; b < n_boot; b++)
        if (!isnan(ap[b]))
            ap[k++] = ap[b], sum += ap[b];
    if (!k) {
        free(ap);
        return -1;
    }
    qsort(ap, k, sizeof *ap, dbl_cmp);
    double pl = 0.025 * (double)(k - 1), ph = 0.975 * (double)(k - 1);
    size_t il = (size_t)floor(pl), ih = (size_t)floor(ph);
    *lo = ap[il] + (il + 1 < k ? (pl - (double)il) * (ap[il + 1] - ap[il]) : 0);
    *hi = ap[ih] + (ih + 1 < k ? (ph - (double)ih) * (ap[ih + 1] - ap[ih]) : 0);
    *mean = sum / (double)k;
    free(ap);
    return 0;
}

/* ---- the whole evaluation ---- */

/* A [n][H] block of doubles. */
static double *alloc_rows(size_t n, size_t H)
{
    return lm_xmalloc(lm_xmul(lm_xmul(n, H), sizeof(double)));
}

size_t route_split(size_t n, double test_frac, uint64_t seed, size_t *perm)
{
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    lm_rng rg;
    lm_rng_init(&rg, seed, UINT64_C(0x73706c6974)); /* "split" */
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)lm_rng_below(&rg, i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    size_t k = (size_t)llround(test_frac * (double)n);
    return k < n ? k : n;
}

void route_eval_partition(route_eval_item *all, size_t n_all, int have_test, route_eval_item *test,
                          size_t n_test, double test_frac, uint64_t seed, route_eval_item **tr, size_t *ntr,
                          route_eval_item **te, size_t *nte)
{
    *ntr = *nte = 0;
    if (have_test) {
        for (size_t i = 0; i < n_all; i++)
            tr[(*ntr)++] = &all[i];
        for (size_t i = 0; i < n_test; i++)
            te[(*nte)++] = &test[i];
        return;
    }
    size_t *perm = lm_xmalloc(lm_xmul(n_all + 1, sizeof *perm));
    size_t k = route_split(n_all, test_frac, seed, perm);
    for (size_t i = 0; i < n_all; i++) {
        if (i < k)
            te[(*nte)++] = &all[perm[i]];
        else
            tr[(*ntr)++] = &all[perm[i]];
    }
    free(perm);
}

void route_eval_labels_free(route_labels *L, size_t n)
{
    if (!L)
        return;
    for (size_t i = 0; i < n; i++)
        route_labels_free(&L[i]);
    free(L);
}

int route_eval_labels(route_labels **out, route_eval_item *const *its, size_t n, const route_models *m,
                      const route_label_opts *o, uint64_t seed, int *selector_oracle, char *err,
                      size_t errlen)
{
    size_t H = (m->n - 1) * o->n_max;
    route_labels *L = lm_xcalloc(n, sizeof *L);
    *out = NULL;
    int bad = 0, orc = 0;
#pragma omp parallel for schedule(dynamic, 64) reduction(| : bad, orc)
    for (size_t i = 0; i < n; i++) {
        char m2[400];
        route_labels_alloc(&L[i], H);
        if (route_labels_build(&L[i], &its[i]->r, m, o, seed, its[i]->index, m2, sizeof m2) < 0) {
            bad |= 1;
#pragma omp critical(route_msg)
            lm_seterr(err, errlen, "labels: record '%s': %s", its[i]->r.id, m2);
        }
        orc |= L[i].selector_oracle;
    }
    if (bad) {
        route_eval_labels_free(L, n);
        return ROUTE_EVAL_ELABELS;
    }
    *selector_oracle = orc;
    *out = L;
    return ROUTE_EVAL_OK;
}

/* Embeddings used when every record has them with one length (unless
 * no_features); some features are needed. */
static int feature_cfg(route_feat_cfg *fc, route_eval_item *const *its, size_t n, int no_features, char *err,
                       size_t errlen)
{
    fc->emb_dim = 0;
    if (no_features || !n)
        return ROUTE_EVAL_OK;
    size_t with = 0, len = its[0]->r.n_features;
    for (size_t i = 0; i < n; i++) {
        if (its[i]->r.features)
            with++;
        if (its[i]->r.features && its[i]->r.n_features != len) {
            lm_seterr(err, errlen, "record '%s': \"features\" has %zu values, record '%s' has %zu",
                      its[i]->r.id, its[i]->r.n_features, its[0]->r.id, len);
            return ROUTE_EVAL_EFEATLEN;
        }
    }
    if (with && with != n) {
        lm_seterr(err, errlen, "%zu of %zu records have \"features\"", with, n);
        return ROUTE_EVAL_EFEATSOME;
    }
    if (with)
        fc->emb_dim = (uint32_t)len;
    if (!fc->hash_dim && !fc->emb_dim) {
        lm_seterr(err, errlen, "no features: hash_dim 0 and no embeddings");
        return ROUTE_EVAL_ENOFEAT;
    }
    return ROUTE_EVAL_OK;
}

/* The feature rows of n records (in parallel), whose embeddings feature_cfg
 * has checked against fc. */
static void featurize_rows(const route_feat_cfg *fc, route_eval_item *const *its, size_t n, route_csr *X)
{
    memset(X, 0, sizeof *X);
    X->cols = route_feat_dim(fc);
    uint32_t **idx = lm_xcalloc(n, sizeof *idx);
    float **val = lm_xcalloc(n, sizeof *val);
    size_t *nnz = lm_xcalloc(n, sizeof *nnz);
#pragma omp parallel for schedule(dynamic, 256)
    for (size_t i = 0; i < n; i++)
        route_featurize(fc, its[i]->r.prompt, its[i]->r.features, fc->emb_dim ? its[i]->r.n_features : 0,
                        &idx[i], &val[i], &nnz[i]);
    for (size_t i = 0; i < n; i++) {
        route_csr_append(X, idx[i], val[i], nnz[i]);
        free(idx[i]);
        free(val[i]);
    }
    free(idx);
    free(val);
    free(nnz);
}

int route_eval_train(route_router *R, route_train_log *log, route_eval_item *const *its, size_t n,
                     const route_labels *L, const route_models *m, size_t n_max, route_feat_cfg *fc,
                     int no_features, const route_train_opts *to, char *err, size_t errlen)
{
    size_t ns = m->n - 1, H = ns * n_max;
    int st = feature_cfg(fc, its, n, no_features, err, errlen);
    if (st)
        return st;
    route_csr X;
    featurize_rows(fc, its, n, &X);
    double *Y = alloc_rows(n, H);
    const char **small = lm_xmalloc(lm_xmul(ns, sizeof *small));
    double *avg = lm_xmalloc(lm_xmul(ns + 1, sizeof(double)));
    for (size_t i = 0; i < n; i++)
        memcpy(Y + i * H, L[i].match, H * sizeof(double));
    for (size_t s = 0; s < ns; s++) {
        small[s] = m->name[route_models_small(m, s)];
        avg[s] = m->avg_out[route_models_small(m, s)];
    }
    avg[ns] = m->avg_out[m->ref];
    if (route_router_init(R, to->arch, fc, to->hidden, n_max, ns, small, m->name[m->ref], avg, err, errlen) <
        0) {
        st = ROUTE_EVAL_EROUTER;
    } else if (route_router_train(R, &X, Y, to, log, err, errlen) < 0) {
        route_router_free(R);
        st = ROUTE_EVAL_ETRAIN;
    }
    free(small);
    free(avg);
    free(Y);
    route_csr_free(&X);
    return st;
}

int route_eval_predict(const route_router *R, const size_t *rmap, size_t H, const route_record *r,
                       double *pred, char *err, size_t errlen)
{
    for (size_t h = 0; h < H; h++)
        pred[h] = NAN;
    const route_feat_cfg *fc = &R->feat;
    if (fc->emb_dim && (!r->features || r->n_features != fc->emb_dim)) {
        lm_seterr(err, errlen, "the router needs \"features\" with %u values, the record has %zu",
                  fc->emb_dim, r->features ? r->n_features : 0);
        return ROUTE_EVAL_EPREDICT;
    }
    uint32_t *idx;
    float *val;
    size_t nnz;
    /* the embedding's length was checked above */
    route_featurize(fc, r->prompt, r->features, fc->emb_dim ? r->n_features : 0, &idx, &val, &nnz);
    double *p = lm_xmalloc(lm_xmul(R->n_heads, sizeof(double)));
    route_router_predict(R, idx, val, nnz, p);
    for (size_t h = 0; h < R->n_heads; h++)
        pred[rmap[h]] = p[h];
    free(p);
    free(idx);
    free(val);
    return ROUTE_EVAL_OK;
}

void route_eval_result_free(route_eval_result *res)
{
    free(res->always);
    free(res->best_n);
    free(res->always_best);
    for (int k = 0; k < ROUTE_CURVES; k++)
        free(res->curve[k]);
    memset(res, 0, sizeof *res);
}

/* Predictions pred[nte][H] on the test records. */
static int predict_test(route_eval_result *res, double *pred, route_eval_item *const *tr, size_t ntr,
                        const route_labels *Ltr, route_eval_item *const *te, size_t nte,
                        const route_models *m, const route_eval_opts *o, char *err, size_t errlen)
{
    size_t H = (m->n - 1) * o->lo.n_max;
    if (o->predictor == ROUTE_PRED_BYO) {
        res->predictor = "byo";
        for (size_t q = 0; q < nte; q++)
            memcpy(pred + q * H, te[q]->pred, H * sizeof(double));
        return ROUTE_EVAL_OK;
    }
    route_router R;
    const route_router *use = o->router;
    size_t *ident = NULL;
    const size_t *rmap = o->rmap;
    if (o->predictor == ROUTE_PRED_TRAIN) {
        route_feat_cfg fc = o->feat;
        route_train_opts to = o->train;
        route_train_log log;
        to.seed = o->seed;
        ident = lm_xmalloc(lm_xmul(H, sizeof *ident));
        int st =
            route_eval_train(&R, &log, tr, ntr, Ltr, m, o->lo.n_max, &fc, o->no_features, &to, err, errlen);
        if (st) {
            free(ident);
            return st;
        }
        for (size_t h = 0; h < H; h++)
            ident[h] = h;
        use = &R;
        rmap = ident;
    }
    res->predictor = use->arch == ROUTE_MLP ? "mlp" : "linear";
    int st = ROUTE_EVAL_OK;
    for (size_t q = 0; q < nte && !st; q++) {
        char msg[512];
        if (route_eval_predict(use, rmap, H, &te[q]->r, pred + q * H, msg, sizeof msg)) {
            lm_seterr(err, errlen, "record '%s': %s", te[q]->r.id, msg);
            st = ROUTE_EVAL_EPREDICT;
        }
    }
    if (ident) {
        route_router_free(&R);
        free(ident);
    }
    return st;
}

/* Curves, summaries and intervals of the three predictors and random mixing. */
static void curves(route_eval_result *res, const route_eval_data *d, const double *pred, const double *opred,
                   const route_eval_opts *o)
{
    static const route_rule rule_all = {0, 0, 1.0}, rule_one = {1, 0, 1.0};
    const struct {
        const double *pr;
        const route_rule *rule;
        int boot;
    } meth[3] = {{pred, &rule_all, 1}, {pred, &rule_one, 1}, {opred, &rule_all, 0}};
    double *thr = lm_xmalloc(lm_xmul(o->bins + 2, sizeof(double)));
    for (int k = 0; k < 3; k++) {
        size_t nt = route_thresholds_quantile(d, meth[k].pr, meth[k].rule, o->bins, thr);
        if (!nt) { /* no usable prediction: all reference */
            thr[0] = INFINITY;
            nt = 1;
        }
        res->curve[k] = lm_xmalloc(lm_xmul(nt, sizeof(route_point)));
        res->n_curve[k] = nt;
        route_sweep(d, meth[k].pr, meth[k].rule, thr, nt, res->curve[k]);
        route_summarize(d, res->curve[k], nt, res->weak, &res->sum[k]);
        if (meth[k].boot && o->bootstrap &&
            route_apgr_bootstrap(d, meth[k].pr, meth[k].rule, res->weak, o->bins, o->bootstrap, o->seed,
                                 &res->ci[k][0], &res->ci[k][1], &res->ci[k][2]) == 0)
            res->have_ci[k] = 1;
    }
    free(thr);
    /* random mixing of the reference with the weak anchor */
    size_t na = 21;
    double al[21];
    for (size_t i = 0; i < na; i++)
        al[i] = (double)i / 20.0;
    res->curve[ROUTE_CURVE_RANDOM] = lm_xmalloc(na * sizeof(route_point));
    res->n_curve[ROUTE_CURVE_RANDOM] = na;
    route_random_curve(d, res->weak, al, na, o->rand_seeds, o->seed, res->curve[ROUTE_CURVE_RANDOM]);
    route_summarize(d, res->curve[ROUTE_CURVE_RANDOM], na, res->weak, &res->sum[ROUTE_CURVE_RANDOM]);
}

/* The best n of each small model (by route_eval_best_n) on the training
 * split at realised cost, or on the test data d when there is no training
 * split.  best: [n small models]. */
static void best_n(size_t *best, const route_eval_data *d, const route_models *m, route_eval_item *const *tr,
                   size_t ntr, const route_labels *Ltr, size_t H, size_t nmax)
{
    size_t ns = m->n - 1;
    if (!ntr) {
        for (size_t s = 0; s < ns; s++)
            best[s] = route_eval_best_n(d, s);
        return;
    }
    route_eval_data dtr;
    char e2[512];
    route_eval_alloc(&dtr, ntr, H, nmax);
    for (size_t q = 0; q < ntr; q++)
        route_eval_fill(&dtr, q, m, &tr[q]->r, &Ltr[q], ROUTE_COST_REALISED, e2, sizeof e2);
    for (size_t s = 0; s < ns; s++)
        best[s] = route_eval_best_n(&dtr, s);
    route_eval_free(&dtr);
}

/* The weak anchor: the head of the small model at n = 1 with the lowest
 * mean cost, or -1 when none has samples in every test record. */
static long weak_anchor(const route_eval_data *d, size_t ns, size_t nmax)
{
    long weak = -1;
    double wc = INFINITY;
    for (size_t s = 0; s < ns; s++) {
        route_point p;
        route_eval_fixed(d, (long)(s * nmax), &p);
        if (isfinite(p.cost_sum) && p.cost_sum < wc) {
            wc = p.cost_sum;
            weak = (long)(s * nmax);
        }
    }
    return weak;
}

/* The fixed anchors: always the reference, always each small model at n = 1
 * and at its best n. */
static void anchors(route_eval_result *res, const route_eval_data *d, size_t ns, size_t nmax)
{
    route_eval_fixed(d, ROUTE_REF, &res->ref);
    for (size_t s = 0; s < ns; s++) {
        route_eval_fixed(d, (long)(s * nmax), &res->always[s]);
        if (res->best_n[s])
            route_eval_fixed(d, (long)(s * nmax + res->best_n[s] - 1), &res->always_best[s]);
    }
}

int route_eval_run(route_eval_result *res, route_models *m, route_eval_item *const *tr, size_t ntr,
                   route_eval_item *const *te, size_t nte, const route_eval_opts *o, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    res->n_train = ntr;
    res->n_test = nte;
    if (nte < 2) {
        lm_seterr(err, errlen, "only %zu test records", nte);
        return ROUTE_EVAL_EFEW;
    }
    if (!ntr && o->predictor == ROUTE_PRED_TRAIN) {
        lm_seterr(err, errlen, "no training records");
        return ROUTE_EVAL_ENOTRAIN;
    }
    size_t nmax = o->lo.n_max, ns = m->n - 1, H = ns * nmax;
    route_labels *Ltr = NULL, *Lte = NULL;
    double *pred = NULL, *opred = NULL;
    route_eval_data d = {0};
    int st = ROUTE_EVAL_OK, orc_tr = 0;
    /* output lengths from the training split (or the router's) */
    if (o->predictor != ROUTE_PRED_ROUTER && ntr) {
        route_record *recs = lm_xmalloc(lm_xmul(ntr, sizeof *recs));
        for (size_t i = 0; i < ntr; i++)
            recs[i] = tr[i]->r;
        route_models_fit_avg_out(m, recs, ntr);
        free(recs);
    }
    if (ntr && (st = route_eval_labels(&Ltr, tr, ntr, m, &o->lo, o->seed, &orc_tr, err, errlen)))
        goto done;
    if ((st = route_eval_labels(&Lte, te, nte, m, &o->lo, o->seed, &res->selector_oracle, err, errlen)))
        goto done;
    /* predictions on the test split */
    pred = alloc_rows(nte, H);
    if ((st = predict_test(res, pred, tr, ntr, Ltr, te, nte, m, o, err, errlen)))
        goto done;
    /* evaluation data */
    route_eval_alloc(&d, nte, H, nmax);
    for (size_t q = 0; q < nte; q++)
        if (route_eval_fill(&d, q, m, &te[q]->r, &Lte[q], o->cost_mode, err, errlen) < 0) {
            st = ROUTE_EVAL_ECOST;
            goto done;
        }
    res->best_n = lm_xcalloc(ns, sizeof *res->best_n);
    res->always = lm_xmalloc(lm_xmul(ns, sizeof *res->always));
    res->always_best = lm_xmalloc(lm_xmul(ns, sizeof *res->always_best));
    best_n(res->best_n, &d, m, tr, ntr, Ltr, H, nmax);
    res->weak = weak_anchor(&d, ns, nmax);
    if (res->weak < 0) {
        lm_seterr(err, errlen, "no small model has samples in every test record");
        st = ROUTE_EVAL_ENOWEAK;
        goto done;
    }
    /* oracle predictions: the true labels */
    opred = alloc_rows(nte, H);
    for (size_t q = 0; q < nte; q++)
        memcpy(opred + q * H, Lte[q].match, H * sizeof(double));
    anchors(res, &d, ns, nmax);
    curves(res, &d, pred, opred, o);
done:
    if (st)
        route_eval_result_free(res);
    free(opred);
    free(pred);
    route_eval_free(&d);
    route_eval_labels_free(Ltr, ntr);
    route_eval_labels_free(Lte, nte);
    return st;
}
