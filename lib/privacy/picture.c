/* picture.c - the posterior of an estimate on a grid, as JSON Lines and as
 * a plot (see audit.h). */
#include "privacy/audit.h"
#include "core/diag.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Where the grid ends: a little past the interval, or the 99.9 % point. */
static double grid_top(const lm_dp_counts *k, const lm_dp_opts *o, const lm_dp_result *r)
{
    char msg[256];
    double top = 0;
    if (isfinite(r->eps_hi))
        top = r->eps_hi;
    else {
        int capped;
        double q;
        if (lm_dp_posterior_quantile(k, o->prior, o->delta, 0.999, &q, &capped, msg, sizeof msg) == 0 &&
            isfinite(q))
            top = q;
        else
            top = 20;
    }
    if (isfinite(r->eps_point) && r->eps_point > top)
        top = r->eps_point;
    return top > 0 ? top * 1.25 : 1;
}

int lm_dp_curve_compute(const lm_dp_counts *k, const lm_dp_opts *o, const lm_dp_result *r, lm_dp_curve *cv,
                        char *err, size_t errlen)
{
    cv->top = grid_top(k, o, r);
    for (int i = 0; i < LM_DP_GRID; i++)
        cv->eps[i] = cv->top * i / (LM_DP_GRID - 1);
    char msg[256];
    if (lm_dp_posterior_grid(k, o->prior, o->delta, cv->eps, LM_DP_GRID, cv->cdf, cv->pdf, msg, sizeof msg) <
        0) {
        lm_seterr(err, errlen, "posterior grid: %s", msg);
        return -1;
    }
    return 0;
}

void lm_dp_curve_jsonl(lm_buf *b, const lm_dp_curve *cv, const char *group_raw, size_t group_len,
                       uint64_t index)
{
    for (int i = 0; i < LM_DP_GRID; i++) {
        if (group_raw) {
            lm_buf_adds(b, "{\"group\":");
            lm_buf_add(b, group_raw, group_len);
        } else {
            lm_buf_printf(b, "{\"record\":%llu", (unsigned long long)index);
        }
        lm_buf_adds(b, ",\"eps\":");
        lm_buf_add_num(b, cv->eps[i]);
        lm_buf_adds(b, ",\"cdf\":");
        lm_buf_add_num(b, cv->cdf[i]);
        lm_buf_adds(b, ",\"pdf\":");
        lm_buf_add_num(b, cv->pdf[i]);
        lm_buf_adds(b, "}\n");
    }
}

lm_plot *lm_dp_curve_plot(const lm_dp_curve *cv, const lm_dp_counts *k, const lm_dp_opts *o,
                          const lm_dp_result *r, const char *label)
{
    lm_plot *p = lm_plot_new(label, "epsilon", "posterior density");
    char note[256], hi[40];
    snprintf(hi, sizeof hi, "%.6g", r->eps_hi);
    snprintf(note, sizeof note, "tp=%.0f fp=%.0f tn=%.0f fn=%.0f, delta=%g, %g%% %s: [%.6g, %s]", k->tp,
             k->fp, k->tn, k->fn, o->delta, 100 * (1 - o->alpha),
             o->sided == LM_DP_TWO_SIDED ? "interval" : "bound", r->eps_lo, hi);
    if (isinf(r->eps_point) && strlen(note) + 24 < sizeof note)
        strcat(note, ", observed: inf");
    lm_plot_note(p, note);
    int s = lm_plot_series(p, "posterior density", cv->eps, cv->pdf, LM_DP_GRID, 0);
    /* Scale y to the density inside the interval: with delta > 0 the
     * posterior may pile up near 0 and would flatten everything else. */
    double ymax = 0;
    for (int i = 1; i < LM_DP_GRID; i++)
        if (cv->eps[i] >= r->eps_lo && isfinite(cv->pdf[i]) && cv->pdf[i] > ymax)
            ymax = cv->pdf[i];
    if (ymax > 0)
        lm_plot_yrange(p, 0, ymax * 1.15);
    char slabel[64];
    snprintf(slabel, sizeof slabel, "%g%% %s", 100 * (1 - o->alpha),
             o->sided == LM_DP_TWO_SIDED ? "credible interval" : "credible bound");
    lm_plot_shade(p, s, r->eps_lo, isinf(r->eps_hi) ? cv->top : r->eps_hi, slabel);
    if (isfinite(r->eps_point)) {
        char vl[64];
        snprintf(vl, sizeof vl, "observed %.6g", r->eps_point);
        lm_plot_vline(p, r->eps_point, vl);
    }
    return p;
}
