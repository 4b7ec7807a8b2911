/* report.c - the records and pictures route writes (report.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/json.h"
#include "route/decide.h"
#include "route/report.h"

/* A number field in lm_buf_add_jnum's form. */
static void put_num(lm_out *o, const char *key, double v)
{
    lm_buf *b = lm_out_begin(o, key);
    lm_buf_add_jnum(b, v);
    lm_out_end(o);
}

/* A number field, null when not finite. */
static void put_num_or_null(lm_out *o, const char *key, double v)
{
    if (isfinite(v))
        put_num(o, key, v);
    else
        lm_out_null(o, key);
}

void route_report_labels(lm_out *o, const route_models *m, size_t n_max, const route_labels *l)
{
    lm_buf *b = lm_out_begin(o, "labels");
    lm_buf_addc(b, '{');
    for (size_t s = 0; s < m->n - 1; s++) {
        const char *name = m->name[route_models_small(m, s)];
        for (size_t n = 1; n <= n_max; n++) {
            if (s || n > 1)
                lm_buf_addc(b, ',');
            char key[300];
            snprintf(key, sizeof key, "%s:%zu", name, n);
            lm_buf_add_jstr(b, key, strlen(key));
            lm_buf_addc(b, ':');
            lm_buf_add_jnum_or_null(b, l->match[s * n_max + n - 1]);
        }
    }
    lm_buf_addc(b, '}');
    lm_out_end(o);
    lm_out_str(o, "selector", l->selector_oracle ? "oracle" : "proxy");
}

void route_report_route(lm_out *o, const route_models *m, size_t n_max, long h, const double *pred,
                        const double *est, int have_est, const double *real, route_cost_mode mode)
{
    size_t H = (m->n - 1) * n_max;
    size_t mi = h == ROUTE_REF ? m->ref : route_models_small(m, (size_t)h / n_max);
    size_t n = h == ROUTE_REF ? 1 : (size_t)h % n_max + 1;
    size_t col = h == ROUTE_REF ? H : (size_t)h;
    lm_buf *b = lm_out_begin(o, "route");
    lm_buf_adds(b, "{\"model\":");
    lm_buf_add_jstr(b, m->name[mi], strlen(m->name[mi]));
    lm_buf_printf(b, ",\"n\":%zu,\"p_match\":", n);
    lm_buf_add_jnum_or_null(b, h == ROUTE_REF ? NAN : pred[h]);
    lm_buf_adds(b, ",\"est_cost\":");
    lm_buf_add_jnum_or_null(b, have_est ? est[col] : NAN);
    if (mode == ROUTE_COST_REALISED) {
        lm_buf_adds(b, ",\"realised_cost\":");
        lm_buf_add_jnum_or_null(b, real[col]);
    }
    lm_buf_printf(b, ",\"cost_mode\":\"%s\"}", mode == ROUTE_COST_REALISED ? "realised" : "estimated");
    lm_out_end(o);
}

void route_report_selected(lm_out *o, const char *model, const route_selection *sel)
{
    lm_buf *b = lm_out_begin(o, "selected");
    lm_buf_adds(b, "{\"model\":");
    lm_buf_add_jstr(b, model, strlen(model));
    lm_buf_printf(b, ",\"n\":%zu,\"index\":%zu,\"score\":", sel->n, sel->index);
    lm_buf_add_jnum_or_null(b, sel->score);
    lm_buf_adds(b, ",\"proxy\":");
    lm_buf_add_jnum_or_null(b, sel->proxy);
    lm_buf_adds(b, ",\"output_tokens\":");
    lm_buf_add_jnum_or_null(b, sel->out_tokens);
    lm_buf_printf(b, ",\"selector\":\"%s\"}", sel->oracle ? "oracle" : "proxy");
    lm_out_end(o);
}

void route_report_train(lm_out *o, const route_router *r, const route_train_log *log, int oracle,
                        uint64_t seed)
{
    lm_out_str(o, "type", "train");
    lm_out_str(o, "model", r->arch == ROUTE_MLP ? "mlp" : "linear");
    lm_out_int(o, "heads", (int64_t)r->n_heads);
    lm_out_int(o, "n_max", (int64_t)r->n_max);
    lm_out_int(o, "features", (int64_t)route_feat_dim(&r->feat));
    lm_out_int(o, "n_train", (int64_t)log->n_train);
    lm_out_int(o, "n_val", (int64_t)log->n_val);
    lm_out_int(o, "epochs", (int64_t)log->epochs);
    lm_out_int(o, "best_epoch", (int64_t)log->best_epoch);
    put_num(o, "init_loss", log->init_loss);
    put_num_or_null(o, "best_val_loss", log->best_val_loss);
    /* the log keeps the first 64 epochs' losses */
    size_t e = log->epochs ? (log->epochs < 64 ? log->epochs : 64) : 0;
    if (e)
        put_num(o, "final_train_loss", log->train_loss[e - 1]);
    lm_out_str(o, "selector", oracle ? "oracle" : "proxy");
    lm_out_int(o, "seed", (int64_t)seed);
}

void route_report_point(lm_out *o, const char *method, const route_point *p, const char *model, size_t n,
                        int thr_kind)
{
    lm_out_str(o, "type", "point");
    lm_out_str(o, "method", method);
    if (model) {
        lm_out_str(o, "model", model);
        lm_out_int(o, "n", (int64_t)n);
    }
    if (thr_kind != 1 || !isfinite(p->t))
        lm_out_null(o, "threshold");
    else
        put_num(o, "threshold", p->t);
    if (thr_kind == 2)
        put_num(o, "ref_prob", p->t);
    put_num(o, "cost", p->cost_per_1k);
    put_num(o, "quality", p->quality_mean);
    put_num(o, "cost_reduction_pct", p->cost_reduction_pct);
    put_num(o, "quality_drop_pct", p->quality_drop_pct);
    put_num(o, "ref_share", p->ref_share);
    put_num(o, "mean_n", p->mean_n);
}

void route_report_summary(lm_out *o, const route_eval_result *res, int k, const char *name, const char *weak,
                          const route_report_ctx *rc)
{
    const route_summary *sum = &res->sum[k];
    lm_out_str(o, "type", "summary");
    lm_out_str(o, "method", name);
    lm_out_str(o, "predictor", k < 2 ? res->predictor : k == 2 ? "oracle" : "random");
    lm_out_str(o, "selector", res->selector_oracle ? "oracle" : "proxy");
    lm_out_str(o, "cost_mode",
               k == ROUTE_CURVE_RANDOM                ? "none"
               : rc->cost_mode == ROUTE_COST_REALISED ? "realised"
                                                      : "estimated");
    lm_buf *b = lm_out_begin(o, "drop_at_cost_reduction");
    static const char *const at[4] = {"10", "20", "40", "60"};
    lm_buf_addc(b, '{');
    for (int i = 0; i < 4; i++) {
        lm_buf_printf(b, "%s\"%s\":", i ? "," : "", at[i]);
        lm_buf_add_jnum_or_null(b, sum->drop_at[i]);
    }
    lm_buf_addc(b, '}');
    lm_out_end(o);
    put_num_or_null(o, "apgr", sum->apgr);
    if (res->have_ci[k]) {
        b = lm_out_begin(o, "apgr_ci");
        lm_buf_addc(b, '[');
        lm_buf_add_jnum_or_null(b, res->ci[k][0]);
        lm_buf_addc(b, ',');
        lm_buf_add_jnum_or_null(b, res->ci[k][1]);
        lm_buf_addc(b, ']');
        lm_out_end(o);
        put_num_or_null(o, "apgr_boot_mean", res->ci[k][2]);
        lm_out_int(o, "bootstrap", (int64_t)rc->bootstrap);
    }
    put_num_or_null(o, "cpt50", sum->cpt50);
    put_num_or_null(o, "cpt80", sum->cpt80);
    put_num_or_null(o, "auc", sum->auc);
    lm_buf *w = lm_out_begin(o, "weak");
    char wk[300];
    snprintf(wk, sizeof wk, "%s:1", weak);
    lm_buf_add_jstr(w, wk, strlen(wk));
    lm_out_end(o);
    put_num_or_null(o, "q_ref", sum->q_ref);
    put_num_or_null(o, "q_weak", sum->q_weak);
    lm_out_int(o, "n_train", (int64_t)res->n_train);
    lm_out_int(o, "n_test", (int64_t)res->n_test);
    lm_out_int(o, "seed", (int64_t)rc->seed);
    lm_out_str(o, "split", rc->split_file ? "file" : "seeded");
}

void route_plot_curve(lm_plot *plot, const char *name, const route_point *pts, size_t n)
{
    double *x = lm_xmalloc(lm_xmul(n, sizeof(double))), *y = lm_xmalloc(lm_xmul(n, sizeof(double)));
    size_t *o = lm_xmalloc(lm_xmul(n, sizeof(size_t)));
    for (size_t i = 0; i < n; i++)
        o[i] = i;
    /* insertion sort: stable, so points of equal cost keep their order */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && pts[o[j - 1]].cost_per_1k > pts[o[j]].cost_per_1k; j--) {
            size_t t = o[j];
            o[j] = o[j - 1];
            o[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        x[i] = pts[o[i]].cost_per_1k;
        y[i] = pts[o[i]].quality_mean;
    }
    lm_plot_series(plot, name, x, y, n, 1);
    free(x);
    free(y);
    free(o);
}

void route_plot_anchors(lm_plot *plot, const route_eval_result *res, const route_models *m)
{
    lm_plot_series(plot, "always-reference", &res->ref.cost_per_1k, &res->ref.quality_mean, 1, 1);
    for (size_t s = 0; s < m->n - 1; s++) {
        const char *nm = m->name[route_models_small(m, s)];
        const route_point *p = &res->always[s];
        char lab[300];
        snprintf(lab, sizeof lab, "always %s n=1", nm);
        lm_plot_series(plot, lab, &p->cost_per_1k, &p->quality_mean, 1, 1);
        if (res->best_n[s] > 1) {
            p = &res->always_best[s];
            snprintf(lab, sizeof lab, "always %s n=%zu", nm, res->best_n[s]);
            lm_plot_series(plot, lab, &p->cost_per_1k, &p->quality_mean, 1, 1);
        }
    }
}
