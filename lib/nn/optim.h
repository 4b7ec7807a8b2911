/* optim.h - AdamW, learning-rate schedules, global-norm gradient clipping
 * and gradient accumulation on flat float arrays (as torch.optim.AdamW,
 * transformers' schedules and torch.nn.utils.clip_grad_norm_ compute them).
 *
 * The model's parameters and gradients are two flat float arrays with the
 * same layout (llm.c style: one block, tensors carved out of it).  A table of
 * segments names the parts that are trained: one segment per tensor, with
 * its offset, its length and whether weight decay applies to it (the decay
 * and no-decay parameter groups of transformers' Trainer).  Parts of the
 * arrays that no segment covers are frozen: never read, never written, and
 * they have no optimiser state.
 *
 * AdamW follows torch.optim.AdamW (torch 2.9) as it runs on CPU tensors by
 * default (the single-tensor loop, foreach and fused off, amsgrad and
 * maximize off), in the same float32 operations in the same order, with the
 * scalars computed in double as Python computes them; per step s = 1, 2, ...:
 *   p = p * (float)(1 - lr*wd)                       (decay segments, wd != 0)
 *   m = lerp(m, g, (float)(1 - beta1))               (torch's lerp, with FMA)
 *   v = fma((float)(1 - beta2) * g, g, v * (float)beta2)   (ATen's addcmul)
 *   denom = sqrt(v) / (float)pow(1 - beta2^s, 0.5) + (float)eps
 *   p = p + (float)(-lr / (1 - beta1^s)) * m / denom
 * Elementwise only, so the result does not depend on the thread count.
 *
 * Schedules are transformers' lr lambdas (optimization.py): the lr of the
 * k-th optimiser step (k = 1, 2, ...) is lr0 * lambda(k - 1), since torch's
 * LambdaLR starts at lambda(0) and is stepped after each optimiser step.
 *
 * Clipping follows torch.nn.utils.clip_grad_norm_ (norm 2): per-tensor norms
 * in float32, their norm as the total, coefficient max_norm / (total + 1e-6)
 * clamped at 1.  The per-tensor sums of squares are taken in double in fixed
 * blocks (independent of the thread count), so they may differ from torch's
 * float32 sums in the last bits.
 *
 * Memory comes from lm_x* (lib/core/diag.h): running out exits 2.
 * Not done: amsgrad, maximize, other optimisers, norms other than 2.
 */
#ifndef LMKIT_NN_OPTIM_H
#define LMKIT_NN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "nn/safetensors.h"

/* One trained tensor in the flat parameter/gradient arrays. */
typedef struct {
    size_t offset; /* first element */
    size_t len;    /* number of elements */
    int decay;     /* 1: weight decay applies; 0: the no-decay group */
} lm_optim_seg;

/* 1 when transformers' Trainer puts a parameter of this name in the decay
 * group, 0 when in the no-decay group: the name, lower-cased, contains
 * "bias", "layernorm" or "rmsnorm", or has a component "norm" or one ending
 * in "_norm" (Trainer.get_decay_parameter_names' patterns).  The Trainer also
 * excludes every parameter of an nn.LayerNorm module whatever its name; a
 * name cannot show that (BERT and XLM-R name theirs "LayerNorm", which the
 * patterns catch; GPT-2's "ln_f" they do not). */
int lm_optim_decays(const char *name);

/* Fills seg[n] for tensors laid out one after the other from offset 0:
 * offsets from numel[], decay from lm_optim_decays(names[i]).  Returns the
 * total number of elements. */
size_t lm_optim_segs_from_names(lm_optim_seg *seg, const char *const *names, const size_t *numel, size_t n);

/* ---- AdamW ---- */

typedef struct {
    double beta1, beta2, eps, weight_decay;
} lm_adamw_hparams;

/* torch.optim.AdamW's defaults */
#define LM_ADAMW_DEFAULTS      \
    {                          \
        0.9, 0.999, 1e-8, 0.01 \
    }

typedef struct {
    lm_adamw_hparams hp;
    lm_optim_seg *seg; /* [nseg], a copy */
    size_t nseg;
    size_t nstate; /* sum of the segments' lengths */
    float *m, *v;  /* [nstate] each, segment after segment in table order */
    int64_t step;  /* optimiser steps taken */
} lm_adamw;

/* Zero moments, step 0.  Segments must not overlap (not checked).  */
void lm_adamw_init(lm_adamw *o, const lm_adamw_hparams *hp, const lm_optim_seg *seg, size_t nseg);
void lm_adamw_free(lm_adamw *o);
/* One step with learning rate lr: param[] updated in place from grad[]
 * (both in the flat layout the segments index). */
void lm_adamw_step(lm_adamw *o, float *param, const float *grad, double lr);

/* ---- state: m, v, step, for an exact resume ---- */

/* The tensors of the state, for lm_st_write alone or beside others in one
 * file: "optim.exp_avg" F32 [nstate], "optim.exp_avg_sq" F32 [nstate],
 * "optim.step" I64 [1], "optim.segments" I64 [nseg, 3] (offset, len,
 * decay), "optim.hparams" F64 [4] (beta1, beta2, eps, weight_decay).  The
 * descriptors point into o and s; both must outlive the write. */
#define LM_ADAMW_NTENSORS 5
typedef struct {
    int64_t step;
    int64_t *segs; /* [nseg * 3] */
    double hparams[4];
    int64_t shape[LM_ADAMW_NTENSORS][2];
} lm_adamw_wstate;
/* Fills t[LM_ADAMW_NTENSORS]; release s with lm_adamw_wstate_free. */
void lm_adamw_state_tensors(const lm_adamw *o, lm_adamw_wstate *s, lm_st_wtensor *t);
void lm_adamw_wstate_free(lm_adamw_wstate *s);
/* Writes the state alone to `path` (atomically).  Returns 0, or -1 with a
 * message. */
int lm_adamw_save(const lm_adamw *o, const char *path, char *err, size_t errlen);
/* Restores m, v and step from a file (or memory) opened with lm_st_open or
 * lm_st_parse into o, which was initialised with the same segments and
 * hyper-parameters (checked: a mismatch is an error naming what differs).
 * Returns 0, or -1 with a message (o is then unchanged). */
int lm_adamw_load_st(lm_adamw *o, const lm_safetensors *st, char *err, size_t errlen);
/* lm_st_open + lm_adamw_load_st + lm_st_close. */
int lm_adamw_load(lm_adamw *o, const char *path, char *err, size_t errlen);

/* ---- learning-rate schedules ---- */

typedef enum {
    LM_SCHED_CONSTANT,        /* get_constant_schedule */
    LM_SCHED_CONSTANT_WARMUP, /* get_constant_schedule_with_warmup */
    LM_SCHED_LINEAR,          /* get_linear_schedule_with_warmup */
    LM_SCHED_COSINE           /* get_cosine_schedule_with_warmup */
} lm_sched_kind;

typedef struct {
    lm_sched_kind kind;
    double lr;         /* the optimiser's lr (base lr) */
    int64_t warmup;    /* num_warmup_steps */
    int64_t total;     /* num_training_steps (linear, cosine) */
    double num_cycles; /* cosine; transformers' default 0.5 */
} lm_sched;

/* transformers' lr lambda at scheduler step `step` (0, 1, ...). */
double lm_sched_lambda(const lm_sched *s, int64_t step);
/* The lr of optimiser step k = 1, 2, ...: lr * lambda(k - 1), computed as
 * torch's LambdaLR does. */
double lm_sched_lr(const lm_sched *s, int64_t k);

/* ---- gradients ---- */

/* torch.nn.utils.clip_grad_norm_(max_norm, norm_type 2) over the segments
 * of grad[]: scales them in place when the total norm exceeds max_norm and
 * returns the total norm (float32, as torch's tensor holds it).  A NaN or
 * infinite norm makes every gradient NaN, as in torch. */
float lm_clip_grad_norm(float *grad, const lm_optim_seg *seg, size_t nseg, double max_norm);
/* The total norm alone (no scaling). */
float lm_grad_norm(const float *grad, const lm_optim_seg *seg, size_t nseg);
/* Gradient accumulation: g[n] = 0; g[n] *= s (e.g. 1/accumulation steps);
 * dst[n] += src[n]. */
void lm_grad_zero(float *g, size_t n);
void lm_grad_scale(float *g, size_t n, float s);
void lm_grad_accumulate(float *dst, const float *src, size_t n);

#endif
