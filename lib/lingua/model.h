/* model.h - load an LLMLingua-2 token classifier folder and run it as the
 * probability callback of lm_lingua_compress (spec lingua-compress §2, §4.5),
 * on the CPU (nn/encoder.h) or, after lm_lingua_use_cuda, on a GPU
 * (nn/encoder_cuda.h).  A loaded lm_lingua_encoder may be shared by threads:
 * on the CPU lm_lingua_probs makes its own run state; the one GPU state is
 * taken by one call at a time (a lock).
 */
#ifndef LMKIT_LINGUA_MODEL_H
#define LMKIT_LINGUA_MODEL_H

#include "lingua/lingua.h"
#include "nn/encoder.h"
#include "nn/encoder_cuda.h"

#include <omp.h>

/* Default forward pass.  On the CPU the chunks run packed (no padding), up
 * to LM_LINGUA_CPU_ROWS tokens per pass: four full 512-token chunks, or
 * dozens of short prompts' chunks, which keeps the matrix products at full
 * speed; larger passes only make the activations larger (10k-token prompt,
 * BERT-base: 630 MB peak with 2,048 rows, 890 MB with 50 chunks, same time).
 * A GPU wants large batches: 50 chunks (the reference's max_batch_size). */
#define LM_LINGUA_CPU_ROWS 2048
#define LM_LINGUA_GPU_BATCH 50

typedef struct {
    lm_encoder *enc;
    lm_tokenizer *tok;
    lm_lingua_model m;  /* word rules, sequence length, chunk-end ids */
    int batch;          /* sequences per forward pass; 0: the CPU's row budget */
    int batch_given;    /* batch came from the caller, not the default */
    lm_encoder_cuda *gpu; /* NULL: the CPU encoder */
    omp_lock_t gpu_lock;  /* held around a GPU forward */
} lm_lingua_encoder;

/* Loads dir/{config.json, model.safetensors, tokenizer.json}.  family:
 * LM_LINGUA_BERT or LM_LINGUA_XLMR, or -1 to take it from config.json's
 * model_type.  batch: sequences per forward (<= 0: up to
 * LM_LINGUA_CPU_ROWS tokens per pass, and LM_LINGUA_GPU_BATCH chunks once on
 * a GPU).  0, or -1 with a
 * message. */
int lm_lingua_load(lm_lingua_encoder *le, const char *dir, int family, int batch, char *err, size_t errlen);
void lm_lingua_unload(lm_lingua_encoder *le);

/* Moves the forward to the current CUDA device: the weights are uploaded
 * (Linear weights stored as dtype, LM_NN_F32 for CPU parity) with room for
 * `batch` chunks of the model's sequence length.  0, or -1 with a message
 * (built without CUDA, no device, out of device memory); the CPU path stays
 * usable after a failure. */
int lm_lingua_use_cuda(lm_lingua_encoder *le, int dtype, char *err, size_t errlen);

/* lm_lingua_prob_fn over the encoder; ctx is the lm_lingua_encoder. */
int lm_lingua_probs(void *ctx, size_t nseq, const int32_t *const *ids, const size_t *lens, float *const *probs,
                    char *err, size_t errlen);

#endif
