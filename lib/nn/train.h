/* train.h - training the token classifier of encoder.h on the CPU: a
 * forward that keeps what the backward needs, the backward pass of every
 * layer, the token-level cross-entropy loss, seeded dropout, and the
 * parameters and their gradients as two flat float blocks.
 *
 * llm.c style: plain functions, shapes in comments, one allocation per
 * family of tensors (parameters, gradients, activations).  Matrix products
 * are OpenBLAS sgemm called from OpenMP threads, one single-threaded sgemm
 * per thread, as in ops.c.  B batch, T tokens, C channels, NH heads,
 * D = C/NH, F FFN width, L layers, NL labels.
 *
 * The math is transformers' *ForTokenClassification in training mode
 * (modeling_bert.py, modeling_xlm_roberta.py):
 *   e   = wte[id] + wpe[pos] + wtt[0]        positions as in encoder.h
 *   x0  = drop(LayerNorm(e))
 *   per layer: a  = drop_att(softmax(q k^T / sqrt(D) + maskadd)) v
 *              h1 = LayerNorm(drop(a Wo + bo) + x)
 *              x' = LayerNorm(drop(gelu(h1 Wfc + bfc) Wp + bp) + h1)
 *   logits = drop_cls(x_L) Wc + bc
 *   loss   = mean over tokens with label != -100 of -log softmax(logits)[label]
 * Gradients follow torch autograd, including nn.Embedding's padding_idx: the
 * word-embedding row pad_token_id (both families) and, for RoBERTa/XLM-R,
 * the position row pad_token_id get no gradient.
 *
 * Dropout: keep an element with probability 1-p and scale it by 1/(1-p), as
 * torch does.  The masks are a pure function of (seed, step, site, row,
 * column) through lib/core/rng.h (one generator per row of a site, seeded
 * from those numbers), so they do not depend on the thread count and the
 * backward regenerates them instead of storing them.  A rate of 0 skips the
 * site; a NULL dropout argument is dropout off (model.eval()).
 *
 * Scope: every tensor has a `trained` flag.  The backward computes the
 * gradients of trained tensors only (frozen ones keep what their gradient
 * block holds, zero after lm_train_zero_grad) and stops below the lowest
 * trained tensor.  Gradients accumulate (+=) like torch's backward() until
 * lm_train_zero_grad.
 *
 * Not here: the optimiser, schedules, clipping (they act on the flat
 * blocks), the GPU.
 */
#ifndef LMKIT_NN_TRAIN_H
#define LMKIT_NN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "nn/encoder.h"
#include "nn/hfconfig.h"

/* Pointers into a parameter or gradient block, in the order of the
 * parameter table. */
typedef struct {
    float *qw, *qb, *kw, *kb, *vw, *vb; /* attention.self.{query,key,value} [C,C], [C] */
    float *ow, *ob;                     /* attention.output.dense [C,C], [C] */
    float *ln1w, *ln1b;                 /* attention.output.LayerNorm [C] */
    float *fcw, *fcb;                   /* intermediate.dense [F,C], [F] */
    float *pw, *pb;                     /* output.dense [C,F], [C] */
    float *ln2w, *ln2b;                 /* output.LayerNorm [C] */
} lm_train_layer;

typedef struct {
    float *wte;         /* word_embeddings [V,C] */
    float *wpe;         /* position_embeddings [P,C] */
    float *wtt;         /* token_type_embeddings [TV,C] */
    float *lnew, *lneb; /* embeddings.LayerNorm [C] */
    lm_train_layer *layers;
    float *clsw, *clsb; /* classifier [NL,C], [NL] */
} lm_train_tensors;

/* One row of the parameter table. */
typedef struct {
    char name
        [160]; /* the Hugging Face tensor name, e.g. "roberta.encoder.layer.0.attention.self.query.weight" */
    int ndim;  /* 1 or 2 */
    int64_t shape[2]; /* [ndim] */
    size_t offset;    /* first float in the parameter and gradient blocks */
    size_t numel;
    int layer;   /* -1 embeddings, 0..L-1 encoder layers, L the classifier */
    int trained; /* 1: its gradient is computed (see lm_train_set_scope) */
} lm_train_param;

typedef struct lm_train_model {
    lm_hf_config cfg;
    lm_train_param *params; /* [nparams]: embeddings, layers 0..L-1, classifier */
    int nparams;
    size_t num_params; /* floats in each block */
    float *params_mem; /* [num_params] the one parameter block */
    float *grads_mem;  /* [num_params] the one gradient block */
    lm_train_tensors w, g;
} lm_train_model;

/* A new token classifier of the shape cfg gives (cfg->num_labels >= 1),
 * tensors named "<prefix>embeddings...", "<prefix>encoder.layer.N..." and
 * "classifier.*" (prefix "bert.", "roberta." or ""), parameters and
 * gradients zero, every tensor trained.  cfg is copied. */
lm_train_model *lm_train_model_new(const lm_hf_config *cfg, const char *prefix);
/* Copies the weights of a loaded token classifier (any dtype encoder.c
 * reads) into a new model, every tensor trained, gradients zero.  NULL with
 * a message for a bare encoder (no classifier). */
lm_train_model *lm_train_model_from_encoder(const lm_encoder *enc, char *err, size_t errlen);
/* lm_encoder_load(dir) then the above. */
lm_train_model *lm_train_model_load(const char *dir, char *err, size_t errlen);
void lm_train_model_free(lm_train_model *m);

/* Writes every tensor as F32 under its table name to `path` (a
 * model.safetensors, atomically; metadata_json as lm_st_write takes it, may
 * be NULL).  Returns 0, or -1 with a message. */
int lm_train_model_save(const lm_train_model *m, const char *path, const char *metadata_json, char *err,
                        size_t errlen);

/* The table row named `name`, or NULL. */
const lm_train_param *lm_train_param_find(const lm_train_model *m, const char *name);

/* Sets the trained flags: "all", "encoder" (all but the embeddings),
 * "top:K" (the last K layers and the classifier, 1 <= K <= L) or "head"
 * (the classifier).  Returns 0, or -1 with a message. */
int lm_train_set_scope(lm_train_model *m, const char *scope, char *err, size_t errlen);

/* Zeroes the gradient block. */
void lm_train_zero_grad(lm_train_model *m);

/* Dropout rates and the numbers the masks derive from. */
typedef struct {
    float hidden;     /* after the embeddings, attention output and FFN output */
    float attention;  /* on the attention probabilities */
    float classifier; /* before the classifier */
    uint64_t seed;
    uint64_t step; /* a new mask per step: the training step, or any counter */
} lm_train_dropout;

/* The config's rates (hidden_dropout_prob, attention_probs_dropout_prob,
 * classifier_dropout) with the given seed and step. */
lm_train_dropout lm_train_dropout_from_config(const lm_train_model *m, uint64_t seed, uint64_t step);

/* Activations for batches up to B x T, plus the backward's scratch. */
typedef struct lm_train_state {
    int B, T;       /* maxima */
    int curB, curT; /* of the last forward */
    int nthreads;   /* attention scratch slices */
    float *block;   /* the one activation allocation */
    size_t block_floats;
    int32_t *pos;     /* [B,T] position ids */
    int32_t *ids;     /* [B,T] token ids of the last forward */
    float *maskadd;   /* [B,T] 0 real key, -FLT_MAX padded key */
    float *emb;       /* [B,T,C] embedding sum (LayerNorm input) */
    float *emb_stat;  /* [B,T,2] its mean and 1/std */
    float *x;         /* [L+1][B,T,C] layer inputs after dropout; x[L] the final hidden state */
    float *q, *k, *v; /* [L][B,T,C] */
    float *att;       /* [L][B,NH,T,T] attention probabilities before dropout */
    float *atty;      /* [L][B,T,C] attention output before Wo */
    float *res1;      /* [L][B,T,C] drop(a Wo + bo) + x: LayerNorm 1 input */
    float *ln1_stat;  /* [L][B,T,2] */
    float *h1;        /* [L][B,T,C] LayerNorm 1 output */
    float *fch;       /* [L][B,T,F] FFN pre-activation */
    float *fchg;      /* [L][B,T,F] after GELU */
    float *res2;      /* [L][B,T,C] LayerNorm 2 input */
    float *ln2_stat;  /* [L][B,T,2] */
    float *xc;        /* [B,T,C] classifier input (x[L] after dropout) */
    float *logits;    /* [B,T,NL] */
    float *probs;     /* [B,T,NL] softmax of logits */
    float *dlogits;   /* [B,T,NL] gradient of the objective, input of the backward */
    float *dx, *dres, *dh, *datty, *dq, *dk, *dv; /* [B,T,C] backward scratch */
    float *dfch;                                  /* [B,T,F] */
    float *dscratch;                              /* [nthreads][2,T,T] */
    lm_train_dropout drop;                        /* of the last forward */
    int dropout_on;
    struct lm_train_cuda *dev; /* the device's state, or NULL on the CPU */
} lm_train_state;

/* NULL with a message on a bad size (running out of memory exits). */
lm_train_state *lm_train_state_new(const lm_train_model *m, int B, int T, char *err, size_t errlen);
/* The same on a device: LM_TRAIN_CPU, or LM_TRAIN_CUDA, where the forward
 * and backward run on the GPU (nn/train_cuda.h) and the host keeps only
 * pos, ids, maskadd, logits, probs and dlogits (the other activation
 * pointers are NULL).  NULL with a message, also when no GPU can be used. */
enum { LM_TRAIN_CPU, LM_TRAIN_CUDA };
lm_train_state *lm_train_state_new_on(const lm_train_model *m, int B, int T, int device, char *err,
                                      size_t errlen);
void lm_train_state_free(lm_train_state *s);

/* Forward over ids[B,T] with mask[B,T] (1 real, 0 pad; NULL all real),
 * keeping the activations; drop NULL = dropout off.  Fills s->logits and
 * s->probs.  Returns 0, or -1 with a message (bad id, too long, over the
 * state's maxima). */
int lm_train_forward(const lm_train_model *m, lm_train_state *s, const int32_t *ids, const uint8_t *mask,
                     int B, int T, const lm_train_dropout *drop, char *err, size_t errlen);

/* Token cross-entropy of the last forward against labels[B,T] (0..NL-1, or
 * -100 to ignore the token): *loss = the mean over the n counted tokens
 * (0 when n = 0), and s->dlogits = scale * d loss / d logits (so scale 1
 * gives torch's gradient, 1/k averages k accumulated micro-batches).
 * *count (may be NULL) gets n.  Returns 0, or -1 naming a bad label. */
int lm_train_ce_loss(const lm_train_model *m, lm_train_state *s, const int32_t *labels, float scale,
                     double *loss, int *count, char *err, size_t errlen);

/* Backward from s->dlogits (set by lm_train_ce_loss, or by the caller for
 * another objective) through the last forward: adds the gradient of every
 * trained tensor into m->grads_mem.  Returns 0, or -1 with a message (a
 * device error; the CPU's backward cannot fail). */
int lm_train_backward(lm_train_model *m, lm_train_state *s, char *err, size_t errlen);

#endif
