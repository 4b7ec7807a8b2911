/* model.h - the two set-ups of an LLMLingua-2 token classifier folder:
 *  - lm_lingua_model, the tokenizer set-up: the 100 "[NEWi]" tokens, the
 *    chunk-end ids and the force-token map (llmlingua 0.2.2
 *    prompt_compressor.py init_llmlingua2 and compress_prompt_llmlingua2's
 *    token_map);
 *  - lm_lingua_encoder, the encoder set-up: the folder loaded and run as
 *    the probability callback of lm_lingua_compress (the reference's
 *    __get_context_prob / __compress forward: softmax(logits)[..., 1]) on
 *    the CPU (nn/encoder.h) or, after lm_lingua_encoder_use_cuda, on a GPU
 *    (nn/encoder_cuda.h).
 * A loaded lm_lingua_encoder may be shared by threads: on the CPU
 * lm_lingua_encoder_probs makes its own run state; the one GPU state is
 * taken by one call at a time (a lock).
 */
#ifndef LMKIT_LINGUA_MODEL_H
#define LMKIT_LINGUA_MODEL_H

#include "lingua/lingua.h"
#include "nn/encoder.h"
#include "nn/encoder_cuda.h"
#include "text/tiktoken.h"

#include <omp.h>

/* Default forward pass.  On the CPU the chunks run packed (no padding), up
 * to LM_LINGUA_CPU_ROWS tokens per pass: four full 512-token chunks, or
 * dozens of short prompts' chunks, which keeps the matrix products at full
 * speed; larger passes only make the activations larger (10k-token prompt,
 * BERT-base: 630 MB peak with 2,048 rows, 890 MB with 50 chunks, same time).
 * A GPU wants large batches: 50 chunks (the reference's max_batch_size). */
#define LM_LINGUA_CPU_ROWS 2048
#define LM_LINGUA_GPU_BATCH 50

/* ---- the tokenizer set-up (lm_lingua_model, lingua.h) ------------------ */

/* Prepares a tokenizer for LLMLingua-2: adds the 100 "[NEWi]" tokens and
 * looks up the chunk-end ids the reference uses ("[CLS]"/"[SEP]", which
 * are <unk> under XLM-R).  max_seq_len: 512 for the released models.
 * Returns 0, or -1 with a message. */
int lm_lingua_model_init(lm_lingua_model *m, lm_tokenizer *tok, lm_lingua_family fam, size_t max_seq_len,
                         char *err, size_t errlen);

/* Chunk ends as the model was trained with ("<s>"/"</s>" under XLM-R,
 * "[CLS]"/"[SEP]" under BERT) instead of the reference's "[CLS]"/"[SEP]"
 * strings (utils.py TokenClfDataset's default, as prompt_compressor.py
 * __get_context_prob and __compress build it without model_name), which
 * XLM-R's tokenizer maps to <unk>.  0, or -1
 * with a message when the tokenizer lacks them. */
int lm_lingua_model_proper_ends(lm_lingua_model *m, char *err, size_t errlen);

/* lm_lingua_force_init with the token counts taken from the model's tokenizer. */
int lm_lingua_force_build(lm_lingua_force *f, const lm_lingua_model *m, const char *const *force,
                          const size_t *force_len, size_t n_force, const char *const *ends,
                          const size_t *ends_len, size_t n_ends, char *err, size_t errlen);

/* A token counter (lm_lingua_count_fn's context): cl100k counts through tk
 * (the reference's get_token_length(..., use_oai_tokenizer=True)) or, when
 * tk is NULL, the model tokenizer's count without special tokens.  It
 * holds run state: one per thread. */
typedef struct {
    const lm_tiktoken *tk;
    lm_tiktoken_state *st;
    const lm_tokenizer *tok;
    lm_encoding e;
} lm_lingua_counter;

void lm_lingua_counter_init(lm_lingua_counter *k, const lm_tiktoken *tk, const lm_tokenizer *tok);
void lm_lingua_counter_free(lm_lingua_counter *k);
/* lm_lingua_count_fn over an lm_lingua_counter. */
int lm_lingua_count(void *counter, const char *s, size_t n, size_t *count, char *err, size_t errlen);

/* ---- the encoder set-up (lm_lingua_encoder) ----------------------------- */

typedef struct {
    lm_encoder *enc;
    lm_tokenizer *tok;
    lm_lingua_model m;    /* word rules, sequence length, chunk-end ids */
    int batch;            /* sequences per forward pass; 0: the CPU's row budget */
    int batch_given;      /* batch came from the caller, not the default */
    lm_encoder_cuda *gpu; /* NULL: the CPU encoder */
    omp_lock_t gpu_lock;  /* held around a GPU forward */
} lm_lingua_encoder;

/* Loads dir/{config.json, model.safetensors, tokenizer.json}.  family:
 * LM_LINGUA_BERT or LM_LINGUA_XLMR, or -1 to take it from config.json's
 * model_type.  batch: sequences per forward (<= 0: up to
 * LM_LINGUA_CPU_ROWS tokens per pass, and LM_LINGUA_GPU_BATCH chunks once on
 * a GPU).  0, or -1 with a
 * message. */
int lm_lingua_encoder_load(lm_lingua_encoder *le, const char *dir, int family, int batch, char *err,
                           size_t errlen);
void lm_lingua_encoder_free(lm_lingua_encoder *le);

/* Moves the forward to the current CUDA device: the weights are uploaded
 * (Linear weights stored as dtype, LM_NN_F32 for CPU parity) with room for
 * `batch` chunks of the model's sequence length.  0, or -1 with a message
 * (built without CUDA, no device, out of device memory); the CPU path stays
 * usable after a failure. */
int lm_lingua_encoder_use_cuda(lm_lingua_encoder *le, int dtype, char *err, size_t errlen);

/* lm_lingua_prob_fn over the encoder; ctx is the lm_lingua_encoder. */
int lm_lingua_encoder_probs(void *ctx, size_t nseq, const int32_t *const *ids, const size_t *lens,
                            float *const *probs, char *err, size_t errlen);

#endif
