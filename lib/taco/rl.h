/* rl.h - TACO-RL (Shandilya et al., Findings of ACL 2025, arXiv
 * 2409.13035): on-policy REINFORCE of an LLMLingua-2 token classifier
 * with a reward from a target LLM (the `taco-train rl` loop).
 *
 * The reference is the TACO-RL code of microsoft/LLMLingua pull request
 * #222 (llmlingua/taco-rl/prompt_compressor_reinforce.py,
 * experiments/taco-rl/train_reinforce.py), with these of its defects
 * fixed: one reward per prompt for every chunk of it (the reference mixes
 * prompts and chunks), failed LLM calls left out of the loss (it gives them
 * +0.4), the length checks before the LLM call (it calls anyway), bounded
 * retries, and the loss over real token positions only (it includes pads
 * and the chunk ends; `effective` also leaves out the forced tokens).
 * --reference-compat restores the last three.
 *
 * A rollout is lingua-compress's flow (lib/lingua: force tokens, the
 * 510-token chunk search, the decode/re-tokenize round trip, the chunk
 * ends, the word merge, drop_consecutive) with one change: instead of the
 * percentile threshold, every token position of every chunk samples an
 * action a ~ Bernoulli(p_keep) (u < p_keep with u from lib/core/rng.h,
 * seeded by (seed, step, chunk)), and a word is kept iff all its tokens'
 * actions are 1 (convert_mode "all"); force tokens are kept.
 *
 * Reward of a prompt, L_o the cl100k count summed over its chunk strings
 * (the texts the encoder sees), L_c the compressed prompt's:
 *   L_c <= over * L_o                -> penalty_over (-0.4), no LLM call;
 *   |L_c - rate * L_o| > relax       -> penalty_relax (-0.1), no LLM call;
 *   otherwise the metric (BLEU by default, in [0, 1]) of the LLM's answer
 *   on the compressed prompt (its first line, trimmed) against the
 *   reference answer.
 * Loss over the masked positions M of the prompts with a reward:
 *   L = -(1/|M|) sum (R - b) log pi(a) - beta (1/|M|) sum H
 * with b the baseline (none, the batch mean, or an exponential moving
 * average of batch means) and H the entropy of the two-way softmax.
 */
#ifndef LMKIT_TACO_RL_H
#define LMKIT_TACO_RL_H

#include <stddef.h>
#include <stdint.h>

#include "lingua/model.h"
#include "llm/client.h"
#include "nn/optim.h"
#include "nn/train.h"

enum {
    LM_TACO_METRIC_BLEU,
    LM_TACO_METRIC_F1,
    LM_TACO_METRIC_EM,
    LM_TACO_METRIC_ROUGE1,
    LM_TACO_METRIC_ROUGE2,
    LM_TACO_METRIC_ROUGEL
};
enum { LM_TACO_BASE_NONE, LM_TACO_BASE_MEAN, LM_TACO_BASE_EMA };
/* the loss's positions: the real tokens (no pads, no chunk ends); those
 * less the forced ones, whose action has no effect on the compression
 * (lm_lingua_forced); or all (the reference) */
enum { LM_TACO_MASK_REAL, LM_TACO_MASK_ALL, LM_TACO_MASK_EFFECTIVE };
enum { LM_TACO_R_OVER, LM_TACO_R_RELAX, LM_TACO_R_METRIC };

typedef struct {
    double rate;          /* compression_rate c (0.5) */
    double relax;         /* compression_relaxation_tokens t (30) */
    double over;          /* over-compression share (0.1) */
    double penalty_over;  /* -0.4 */
    double penalty_relax; /* -0.1 */
    int metric;           /* LM_TACO_METRIC_* (BLEU) */
    int first_line;       /* the prediction cut to its first line (1) */
} lm_taco_reward_opts;

void lm_taco_reward_opts_default(lm_taco_reward_opts *o);
/* Which rule gives the reward for counts lo (original) and lc
 * (compressed): LM_TACO_R_OVER, LM_TACO_R_RELAX or LM_TACO_R_METRIC. */
int lm_taco_reward_branch(const lm_taco_reward_opts *o, size_t lo, size_t lc);
/* The reference's cut of a prediction: leading newlines dropped, the rest
 * up to the first newline, trimmed of white space (Python's strip()). */
void lm_taco_pred_cut(const char *s, size_t n, size_t *off, size_t *len);
/* The metric of a prediction (cut when o->first_line) against a reference. */
double lm_taco_reward_metric(const lm_taco_reward_opts *o, const char *pred, size_t pn, const char *ref,
                             size_t rn);

/* The loss terms of one position of a two-way softmax p with action a,
 * advantage adv and entropy weight beta, scaled by `scale` (1/|M|): adds
 * d loss / d logits to dl[2] and returns log p[a] in *logp and the entropy
 * in *ent. */
void lm_taco_pg_position(const float *p, int a, double adv, double beta, double scale, float *dl,
                         double *logp, double *ent);

typedef struct {
    int epochs, batch; /* prompts per step */
    double lr, weight_decay, max_grad_norm;
    lm_sched_kind sched;
    int64_t warmup;
    double entropy_coeff; /* beta */
    int baseline;
    double ema; /* the moving average's weight of the past */
    int loss_mask;
    char scope[32];
    uint64_t seed;
    int compat;         /* --reference-compat: mask all, failed calls +0.4, call before the length rule */
    int rollout_greedy; /* actions a = p_keep > 0.5 instead of samples (checks) */
    int device;         /* LM_TRAIN_CPU (default) or LM_TRAIN_CUDA (nn/train.h) */
    lm_taco_reward_opts ro;
    const char *prompt_template; /* with "{transcript}" */
    const char *system;
    int max_tokens;
    lm_lingua_opts lo; /* the rollout's compression options (fixed and keep_above are set) */
} lm_taco_rl_opts;

/* The reference's configuration (configs/train_reinforce.yaml): 4 epochs,
 * batch 8, lr 1e-5, AdamW's weight decay 0.01, a cosine schedule, no
 * clipping, entropy 0.01, no baseline, real positions, the summary
 * template, max_tokens 1500, drop_consecutive on. */
void lm_taco_rl_opts_default(lm_taco_rl_opts *o);

/* What one step did. */
typedef struct {
    int64_t step; /* 1-based */
    int epoch;    /* 1-based */
    double lr, loss, reward_mean, reward_std, entropy_mean, kept_rate, comp_ratio_mean, baseline;
    double frac_over, frac_relax;
    size_t prompts, in_loss, positions;
    uint64_t llm_calls, llm_failures, llm_cache_hits;
    float grad_norm;
    double t_forward, t_llm, t_backward;
    int epoch_end;
} lm_taco_rl_info;

typedef struct lm_taco_rl lm_taco_rl;

/* A trainer of m (taken over) on prompts[0..n) with reference answers
 * refs[0..n) (copied), compressing with lm (its tokenizer set-up), force
 * and counter (cl100k counts), asking llm.  Returns NULL with a message;
 * m is then still the caller's. */
lm_taco_rl *lm_taco_rl_new(lm_train_model *m, const lm_taco_rl_opts *o, const lm_lingua_model *lm,
                           const lm_lingua_force *force, lm_lingua_counter *counter, lm_llm *llm,
                           const char *const *prompts, const char *const *refs, size_t n, char *err,
                           size_t errlen);
void lm_taco_rl_free(lm_taco_rl *t);
int lm_taco_rl_done(const lm_taco_rl *t);
int64_t lm_taco_rl_total_steps(const lm_taco_rl *t);
/* One step: rollouts of a batch of prompts, their rewards, one optimiser
 * step.  Returns 0, or -1 with a message (the model, the counter or the
 * LLM client failed fatally). */
int lm_taco_rl_step(lm_taco_rl *t, lm_taco_rl_info *info, char *err, size_t errlen);
/* The current weights, for writing. */
const lm_train_model *lm_taco_rl_model(const lm_taco_rl *t);
/* Writes the checkpoint folder dir (lm_taco_ckpt_write: the weights, the
 * optimiser, base_dir's files, trainer_state.json with the position, the
 * baseline, the history and "run": run_json, the caller's description that
 * a resume must match).  Returns 0, or -1 with a message. */
int lm_taco_rl_save(const lm_taco_rl *t, const char *dir, const char *base_dir, const char *run_json,
                    char *err, size_t errlen);
/* Restores the optimiser, the position, the baseline and the history from
 * a checkpoint whose model.safetensors t was built from; *run_json gets the
 * saved run object.  Returns 0, or -1 with a message. */
int lm_taco_rl_restore(lm_taco_rl *t, const char *dir, char **run_json, char *err, size_t errlen);

/* Writes the per-step mean reward and loss as an SVG document. */
int lm_taco_rl_plot(const lm_taco_rl *t, const char *path, char *err, size_t errlen);

#endif
