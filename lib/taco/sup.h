/* sup.h - LLMLingua-2's supervised training of a token classifier (the
 * `taco-train sup` loop): epochs over the token windows of data.h in a
 * seeded order, micro-batches padded to their longest window, token
 * cross-entropy over the labelled tokens, gradient accumulation, global-norm
 * clipping, AdamW with a learning-rate schedule (nn/optim.h), an evaluation
 * after every epoch (token accuracy, keep precision, recall, F1), the best
 * epoch's weights kept, checkpoints to resume from exactly, and the final
 * Hugging Face folder.
 *
 * The recipe is experiments/llmlingua2/model_training/train_roberta.py's,
 * without its defects: clipping acts on this step's gradients (the script
 * clips before backward, so it never clips), pads are not trained (the
 * script trains them as "drop"), the split and the order are seeded.
 *
 * Determinism: the order of epoch e is a function of (seed, e) (or the
 * given order, with shuffling off); dropout
 * masks of (seed, micro-batch number); so a run is a function of its
 * inputs, options and thread count.  A checkpoint holds the weights, the
 * optimiser state, the best weights and the position (step, epoch, next
 * micro-batch, the epoch's running loss): resuming from it continues the
 * same computation, and the final weights are byte-identical to an
 * uninterrupted run with the same threads.
 */
#ifndef LMKIT_TACO_SUP_H
#define LMKIT_TACO_SUP_H

#include <stddef.h>
#include <stdint.h>

#include "nn/optim.h"
#include "nn/train.h"
#include "taco/data.h"

enum { LM_TACO_BEST_ACCURACY, LM_TACO_BEST_F1, LM_TACO_BEST_LOSS };

typedef struct {
    int epochs;           /* >= 1 */
    int batch;            /* windows per micro-batch */
    int accum;            /* micro-batches per optimiser step */
    double lr;            /* base learning rate */
    double weight_decay;  /* AdamW's, on the decay group (lm_optim_decays) */
    double max_grad_norm; /* global-norm clipping; 0: none */
    lm_sched_kind sched;
    int64_t warmup; /* warm-up optimiser steps */
    int dropout;    /* 1: the config's dropout rates (train mode); 0: off */
    char scope[32]; /* lm_train_set_scope */
    uint64_t seed;  /* order and dropout */
    int best_by;    /* LM_TACO_BEST_* */
    int device;     /* LM_TRAIN_CPU (default) or LM_TRAIN_CUDA (nn/train.h) */
    int shuffle;    /* 1: each epoch in its seeded order; 0: every epoch in
                     * the given order idx[0..n) (to replay fixed batches) */
} lm_taco_sup_opts;

/* torch's AdamW defaults and train_roberta.py's recipe: 10 epochs, batch
 * 10, lr 1e-5, no weight decay (the script's Adam), clipping at 10, a
 * constant rate, dropout on, every tensor trained, best by accuracy, the
 * windows shuffled every epoch. */
void lm_taco_sup_opts_default(lm_taco_sup_opts *o);

/* Token-level counts over labelled tokens; keep (1) is the positive class. */
typedef struct {
    double loss_sum; /* summed token cross-entropy */
    size_t n, tp, fp, fn, tn;
} lm_taco_counts;

/* accuracy, precision, recall, f1 (0 where undefined) and the mean loss */
typedef struct {
    double accuracy, precision, recall, f1, loss;
} lm_taco_metrics;
void lm_taco_metrics_of(const lm_taco_counts *c, lm_taco_metrics *m);

/* One epoch's record in the history. */
typedef struct {
    int epoch;
    double train_loss;
    int evaluated;
    lm_taco_metrics m;
} lm_taco_epoch_rec;

/* What one optimiser step did. */
typedef struct {
    int64_t step; /* 1-based */
    int epoch;    /* 1-based */
    double lr;
    double loss;                           /* mean of the micro-batches' mean token losses */
    float grad_norm;                       /* before clipping */
    size_t tokens;                         /* labelled tokens */
    size_t positions;                      /* real (unpadded) positions */
    double t_forward, t_backward, t_optim; /* seconds */
    int epoch_end;                         /* the epoch's last step */
} lm_taco_step_info;

typedef struct {
    lm_taco_sup_opts o;
    lm_train_model *m;
    lm_train_state *s;
    lm_adamw opt;
    lm_optim_seg *seg;
    size_t nseg;
    lm_sched sched;
    const lm_taco_windows *data; /* the training windows are data[idx[0..ntrain)] */
    const size_t *idx;
    size_t ntrain;
    int32_t pad;
    int maxT;
    size_t *order; /* [ntrain] this epoch's order */
    int64_t batches_per_epoch, steps_per_epoch, total_steps;
    /* position */
    int64_t step;       /* optimiser steps done */
    int epoch;          /* 0-based current epoch */
    int64_t next_batch; /* next micro-batch within the epoch */
    double ep_loss_sum; /* the epoch's summed micro-batch losses ... */
    int64_t ep_loss_n;  /* ... and their number */
    /* best */
    float *best; /* [m->num_params] or NULL */
    int has_best, best_epoch;
    double best_score;
    /* history, kept in checkpoints: the loss of every step, and per epoch
     * (1-based index) its training loss and evaluation */
    double *step_loss; /* [step] */
    size_t nstep_loss, step_loss_cap;
    lm_taco_epoch_rec *ep; /* [nep] */
    size_t nep, ep_cap;
    /* batch buffers */
    int32_t *ids, *labels;
    uint8_t *mask;
} lm_taco_sup;

/* A trainer of model m (taken over: freed with the trainer) on the windows
 * data[idx[0..n)].  Returns NULL with a message (a bad scope or size); m
 * is then still the caller's. */
lm_taco_sup *lm_taco_sup_new(lm_train_model *m, const lm_taco_sup_opts *o, const lm_taco_windows *data,
                             const size_t *idx, size_t n, int32_t pad, int max_len, char *err, size_t errlen);
void lm_taco_sup_free(lm_taco_sup *t);

/* 1 when every epoch is done. */
int lm_taco_sup_done(const lm_taco_sup *t);
/* One optimiser step.  Returns 0, or -1 with a message. */
int lm_taco_sup_step(lm_taco_sup *t, lm_taco_step_info *info, char *err, size_t errlen);
/* The training loss of the epoch so far (mean over its micro-batches). */
double lm_taco_sup_epoch_loss(const lm_taco_sup *t);

/* Counts over data[idx[0..n)] with dropout off, batch windows at a time. */
int lm_taco_sup_evaluate(lm_taco_sup *t, const lm_taco_windows *data, const size_t *idx, size_t n,
                         lm_taco_counts *c, char *err, size_t errlen);
/* Takes an evaluation of the epoch just finished (1-based): keeps the
 * weights when they are the best so far.  Returns 1 when they are. */
int lm_taco_sup_offer_best(lm_taco_sup *t, int epoch, const lm_taco_metrics *mt);
/* Adds the epoch just finished to the history (mt NULL: not evaluated). */
void lm_taco_sup_record_epoch(lm_taco_sup *t, int epoch, const lm_taco_metrics *mt);
/* Writes the history as an SVG document (the loss of every step with each
 * epoch's training and evaluation loss; the evaluation's accuracy and F1
 * per epoch).  Returns 0, or -1 with a message. */
int lm_taco_sup_plot(const lm_taco_sup *t, const char *path, const char *title, char *err, size_t errlen);

/* ---- files ---- */

/* Writes the checkpoint folder dir (published in one rename, replacing an
 * older checkpoint): base_dir's configuration and tokenizer files,
 * model.safetensors (the current weights), optimizer.safetensors,
 * best.safetensors (when there are best weights) and trainer_state.json
 * ({"format", the position, the best, "run": run_json}; run_json is the
 * caller's JSON object that a resume must match; a loss or score that is
 * NaN or infinite is written as the string "nan", "inf" or "-inf").  Returns 0, or -1 with
 * a message. */
int lm_taco_sup_save(const lm_taco_sup *t, const char *dir, const char *base_dir, const char *run_json,
                     char *err, size_t errlen);
/* Restores the optimiser state, the best weights and the position from a
 * checkpoint whose model.safetensors t was built from.  *run_json gets the
 * saved run object (lm_x*-allocated) for the caller to compare.  Returns 0,
 * or -1 with a message. */
int lm_taco_sup_restore(lm_taco_sup *t, const char *dir, char **run_json, char *err, size_t errlen);

/* Writes the Hugging Face folder out_dir (new; published in one rename):
 * base_dir's configuration and tokenizer files, model.safetensors with the
 * best weights when there are some (else the current ones), and
 * taco_train.json (info_json, may be NULL).  Returns 0, or -1 with a
 * message. */
int lm_taco_sup_write_model(const lm_taco_sup *t, const char *base_dir, const char *out_dir,
                            const char *info_json, char *err, size_t errlen);

/* A checkpoint folder dir (published in one rename, replacing an older
 * one): base_dir's configuration and tokenizer files, model.safetensors
 * (m's weights), optimizer.safetensors (opt's state), best.safetensors
 * (best, when not NULL) and trainer_state.json (state_json).  Returns 0,
 * or -1 with a message. */
int lm_taco_ckpt_write(const char *dir, const char *base_dir, const lm_train_model *m, const lm_adamw *opt,
                       const float *best, const char *state_json, char *err, size_t errlen);

/* The same for any model: weights[m->num_params] in m's layout. */
int lm_taco_write_model(const lm_train_model *m, const float *weights, const char *base_dir,
                        const char *out_dir, const char *info_json, char *err, size_t errlen);

/* ---- shared by sup and rl ---- */

/* out[i] = in[i] (i when in is NULL), then shuffled (Fisher-Yates) by the
 * generator of (seed, stream). */
void lm_taco_shuffle(size_t *out, const size_t *in, size_t n, uint64_t seed, uint64_t stream);
/* The segments of m's trained tensors, weight decay by name
 * (lm_optim_decays); lm_x*-allocated. */
lm_optim_seg *lm_taco_segments(const lm_train_model *m, size_t *nseg);
/* JSON has no NaN or infinity (jansson refuses them): a diverged run's
 * numbers are saved as the strings "nan", "inf" and "-inf".  real_of
 * reads a number or such a string: 0, or -1 for anything else. */
struct json_t;
struct json_t *lm_taco_json_real(double v);
int lm_taco_real_of(const struct json_t *x, double *v);
/* Writes plots p[0..n) as one SVG document to path atomically.  Returns 0,
 * or -1 with a message. */
struct lm_plot;
int lm_taco_svg(const char *path, struct lm_plot *const *p, size_t n, char *err, size_t errlen);

/* Copies the regular files of a model folder that describe it (config,
 * tokenizer, vocabularies: everything but weights, optimiser and trainer
 * state, and hidden files) from src to the folder dst.  Returns 0, or -1
 * with a message. */
int lm_taco_copy_model_files(const char *src, const char *dst, char *err, size_t errlen);

#endif
