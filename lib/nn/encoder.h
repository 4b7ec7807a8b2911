/* encoder.h - BERT / RoBERTa / XLM-RoBERTa encoder with an optional
 * token-classification head, fp32 inference on the CPU.
 *
 * Implements transformers' BertModel / RobertaModel forward (embeddings +
 * LayerNorm, then post-LayerNorm layers: self-attention, output projection,
 * residual + LayerNorm, FFN with GELU, residual + LayerNorm) and
 * *ForTokenClassification's linear classifier, as used by LLMLingua-2
 * (the released llmlingua-2-* checkpoints are XLMRobertaForTokenClassification
 * and BertForTokenClassification; transformers' modeling_bert.py and
 * modeling_xlm_roberta.py).
 *
 *  - Weights (lm_encoder) are read-only after load and may be shared by any
 *    number of threads, each with its own lm_encoder_state (a forward
 *    called inside an OpenMP parallel region runs on its calling thread;
 *    for throughput batch sequences into one call instead, packed when their
 *    lengths differ).  F32 tensors are
 *    used in place from the mmap; F16/BF16 (or misaligned F32) tensors are
 *    converted into one float block.
 *  - Run state (lm_encoder_state) is one activation block sized for
 *    (B_max, T_max).
 *  - Positions: BERT uses 0..T-1.  RoBERTa/XLM-R follows transformers'
 *    create_position_ids_from_input_ids: m = (id != pad_token_id),
 *    position = cumsum(m) * m + pad_token_id, computed from the ids (not from
 *    the attention mask).  Token type is always 0.
 *  - Attention mask: keys with mask 0 get -FLT_MAX added to their scores
 *    (transformers' extended mask with dtype min).  Padded positions are
 *    computed like real ones; their outputs are what transformers computes.
 *
 * Not here: tokenisation (lib/text), pooler, fp16 compute, GPU (backend.h).
 */
#ifndef LMKIT_NN_ENCODER_H
#define LMKIT_NN_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "nn/backend.h"
#include "nn/hfconfig.h"
#include "nn/safetensors.h"

typedef struct {
    const float *qw, *qb, *kw, *kb, *vw, *vb; /* [C,C], [C] */
    const float *ow, *ob;                     /* attention.output.dense [C,C], [C] */
    const float *ln1w, *ln1b;                 /* attention.output.LayerNorm [C] */
    const float *fcw, *fcb;                   /* intermediate.dense [F,C], [F] */
    const float *pw, *pb;                     /* output.dense [C,F], [C] */
    const float *ln2w, *ln2b;                 /* output.LayerNorm [C] */
} lm_encoder_layer;

typedef struct {
    const float *wte;         /* word_embeddings [V,C] */
    const float *wpe;         /* position_embeddings [P,C] */
    const float *wtt;         /* token_type_embeddings [TV,C] */
    const float *lnew, *lneb; /* embeddings.LayerNorm [C] */
    lm_encoder_layer *layers; /* [L] */
    const float *clsw, *clsb; /* classifier [NL,C], [NL]; NULL for bare models */
} lm_encoder_weights;

typedef struct lm_encoder {
    lm_hf_config cfg;
    lm_encoder_weights w;
    lm_st_set st; /* the mapped checkpoint */
    float *block; /* converted tensors (NULL when all are used in place) */
    size_t block_floats;
    size_t n_params;   /* parameters used by the forward */
    size_t n_in_place; /* of the tensors, how many point into the mmap */
    size_t n_tensors;
} lm_encoder;

typedef struct lm_encoder_state {
    int B, T;     /* maxima */
    float *block; /* the one activation allocation */
    size_t block_floats;
    float *x;                      /* [B,T,C] hidden state (final hidden after a forward) */
    float *q, *k, *v, *atty, *tmp; /* [B,T,C] */
    float *ffh;                    /* [B,T,F] */
    float *att;                    /* [NH,T,T] scratch for one sequence */
    float *maskadd;                /* [B,T] */
    int32_t *pos;                  /* [B,T] */
    int lastB, lastT;
} lm_encoder_state;

/* Loads `dir`/config.json and model.safetensors (or the sharded index).
 * Returns NULL with a message in err. */
lm_encoder *lm_encoder_load(const char *dir, char *err, size_t errlen);
/* The same with the config and the checkpoint given as paths. */
lm_encoder *lm_encoder_load_files(const char *config_path, const char *weights_path, char *err,
                                  size_t errlen);
void lm_encoder_free(lm_encoder *m);

/* Run state for batches up to B sequences of up to T tokens; NULL with a
 * message on a bad size (running out of memory exits, see core/diag.h). */
lm_encoder_state *lm_encoder_state_new(const lm_encoder *m, int B, int T, char *err, size_t errlen);
void lm_encoder_state_free(lm_encoder_state *s);

/* Forward over ids[B,T] with mask[B,T] (1 real, 0 pad; NULL = all real).
 * logits[B,T,num_labels] and probs[B,T,num_labels] (softmax) may be NULL;
 * both must be NULL for bare models.  The final hidden state [B,T,C] stays in
 * s->x.  Returns 0, or -1 with a message (bad id, too long, B/T over the
 * state's maxima). */
int lm_encoder_forward(const lm_encoder *m, lm_encoder_state *s, const int32_t *ids, const uint8_t *mask,
                       int B, int T, float *logits, float *probs, char *err, size_t errlen);
/* The same through an explicit op table (lm_nn_backend_cpu_naive in tests). */
int lm_encoder_forward_with(const lm_nn_backend *be, const lm_encoder *m, lm_encoder_state *s,
                            const int32_t *ids, const uint8_t *mask, int B, int T, float *logits,
                            float *probs, char *err, size_t errlen);

/* The position ids of one sequence ids[n] into pos[n] (pos may be NULL: check
 * only), as described above (roberta: the cumsum rule with pad = the
 * padding id); -1 with the forward's message when an id is outside [0, V)
 * or a position reaches P (max_position_embeddings).  seq numbers the
 * sequence in the message. */
int lm_encoder_positions(const int32_t *ids, int n, int seq, int roberta, int pad, int V, int P, int32_t *pos,
                         char *err, size_t errlen);

/* Forward over a packed batch: nseq sequences stored back to back in
 * ids[sum lens], sequence i with lens[i] tokens, no padding and no mask (each
 * attends to its own tokens only).  The matrix products run over all rows
 * at once, so short and long sequences batch without padding work.
 * logits/probs are packed the same way, [sum lens, num_labels]; s->x holds
 * the final hidden state [sum lens, C].  Needs every lens[i] <= the state's
 * T and sum lens <= its B x T.  Real tokens get what lm_encoder_forward gives
 * them in a padded batch (up to rounding). */
int lm_encoder_forward_packed(const lm_encoder *m, lm_encoder_state *s, const int32_t *ids, const int *lens,
                              int nseq, float *logits, float *probs, char *err, size_t errlen);
int lm_encoder_forward_packed_with(const lm_nn_backend *be, const lm_encoder *m, lm_encoder_state *s,
                                   const int32_t *ids, const int *lens, int nseq, float *logits, float *probs,
                                   char *err, size_t errlen);
#endif
