/* report.h - the records route writes and the pictures route eval draws:
 * the fields of route labels, apply, select and train's summary, route
 * eval's point and summary records and its cost-quality curves as SVG
 * series.  Each function adds fields to an lm_out (or series to an
 * lm_plot); the command owns the record and writes it.
 */
#ifndef LMKIT_ROUTE_REPORT_H
#define LMKIT_ROUTE_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/jsonl.h"
#include "core/svg.h"
#include "route/data.h"
#include "route/eval.h"
#include "route/labels.h"
#include "route/router.h"
#include "route/select.h"

/* "labels": {"MODEL:N": P, ...} in prices order (null where unknown), then
 * "selector": "oracle" or "proxy". */
void route_report_labels(lm_out *o, const route_models *m, size_t n_max, const route_labels *l);

/* route apply's decision h (a head, or ROUTE_REF) as "route": {"model",
 * "n", "p_match", "est_cost"[, "realised_cost"], "cost_mode"}.  pred:
 * [H] match probabilities, est and real: [H + 1] costs with the reference
 * last (real only read in realised mode; have_est 0: est unknown). */
void route_report_route(lm_out *o, const route_models *m, size_t n_max, long h, const double *pred,
                        const double *est, int have_est, const double *real, route_cost_mode mode);

/* route select's choice among model's samples as "selected": {"model",
 * "n", "index", "score", "proxy", "output_tokens", "selector"}. */
void route_report_selected(lm_out *o, const char *model, const route_selection *sel);

/* route train's summary record {"type": "train", ...}. */
void route_report_train(lm_out *o, const route_router *r, const route_train_log *log, int oracle,
                        uint64_t seed);

/* A {"type": "point"} record of method (model and n when model is not
 * NULL).  thr_kind: 0 no threshold, 1 p->t is the threshold, 2 p->t is the
 * reference's share (random mixing: "threshold" null, "ref_prob"). */
void route_report_point(lm_out *o, const char *method, const route_point *p, const char *model, size_t n,
                        int thr_kind);

/* The {"type": "summary"} record of curve k (ROUTE_CURVE_*) named name;
 * weak: the weak anchor's model. */
typedef struct {
    route_cost_mode cost_mode;
    size_t bootstrap; /* --bootstrap, reported with the interval */
    uint64_t seed;
    int split_file; /* the test split came from a file (else seeded) */
} route_report_ctx;
void route_report_summary(lm_out *o, const route_eval_result *res, int k, const char *name, const char *weak,
                          const route_report_ctx *rc);

/* A curve's points as one series, in order of cost. */
void route_plot_curve(lm_plot *plot, const char *name, const route_point *pts, size_t n);
/* The fixed anchors as single-point series (always-reference; always
 * MODEL n=1; always MODEL n=BEST where the best n is above 1). */
void route_plot_anchors(lm_plot *plot, const route_eval_result *res, const route_models *m);

#endif
