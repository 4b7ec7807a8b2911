/* model.h - load an LLMLingua-2 token classifier folder and run it as the
 * probability callback of lm_lingua_compress (spec lingua-compress §2, §4.5).
 * CPU only (nn/encoder.h).  A loaded lm_lingua_encoder is read-only and
 * may be shared by threads: lm_lingua_probs makes its own run state.
 */
#ifndef LMKIT_LINGUA_MODEL_H
#define LMKIT_LINGUA_MODEL_H

#include "lingua/lingua.h"
#include "nn/encoder.h"

typedef struct {
    lm_encoder *enc;
    lm_tokenizer *tok;
    lm_lingua_model m;  /* word rules, sequence length, chunk-end ids */
    int batch;          /* sequences per forward pass */
} lm_lingua_encoder;

/* Loads dir/{config.json, model.safetensors, tokenizer.json}.  family:
 * LM_LINGUA_BERT or LM_LINGUA_XLMR, or -1 to take it from config.json's
 * model_type.  batch: sequences per forward (<= 0: 50).  0, or -1 with a
 * message. */
int lm_lingua_load(lm_lingua_encoder *le, const char *dir, int family, int batch, char *err, size_t errlen);
void lm_lingua_unload(lm_lingua_encoder *le);

/* lm_lingua_prob_fn over the encoder; ctx is the lm_lingua_encoder. */
int lm_lingua_probs(void *ctx, size_t nseq, const int32_t *const *ids, const size_t *lens, float *const *probs,
                    char *err, size_t errlen);

#endif
