/* train_cuda.h - the training forward and backward of nn/train.h on a CUDA
 * device (cuBLAS and kernels/train_cuda.cu, fp32 throughout).
 *
 * lm_train_state_new_on(..., LM_TRAIN_CUDA, ...) makes a state whose
 * lm_train_forward and lm_train_backward run here; everything else stays
 * as on the CPU.  The host keeps the truth: the parameter and gradient
 * blocks of lm_train_model, the optimiser and its state, checkpoints.  A
 * forward uploads the parameter block (the optimiser changed it) and the
 * batch, runs the encoder with its activations kept on the device, and
 * downloads the logits (the host computes the probabilities, the loss and
 * d loss / d logits as on the CPU); a backward uploads d loss / d logits,
 * runs the backward into a device gradient block zeroed first, and adds the
 * trained tensors' gradients into the host's block (so accumulation over
 * micro-batches works as on the CPU).  Dropout masks are the CPU's.
 *
 * Results agree with the CPU's to float32 rounding (cuBLAS sums in its own
 * order), not bit for bit; a run resumed on the other device continues from
 * the same weights but is not byte-identical to an uninterrupted one.
 *
 * Built always; the device code is in liblmkit-cuda.so (nn/backend_cuda.h),
 * loaded on the first lm_train_cuda_new: without it, a driver or a GPU,
 * that call says what is missing.
 */
#ifndef LMKIT_NN_TRAIN_CUDA_H
#define LMKIT_NN_TRAIN_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "nn/train.h"

typedef struct lm_train_cuda lm_train_cuda;

/* Device memory for m's weights and gradients and for batches up to B x T.
 * NULL with a message (no device, out of device memory). */
lm_train_cuda *lm_train_cuda_new(const lm_train_model *m, int B, int T, char *err, size_t errlen);
/* The same through a given table of device functions (kernels/lmkit_cuda.h)
 * instead of liblmkit-cuda.so's: tests run this file's sequence of calls
 * through an emulation of the table in host memory. */
struct lm_cuda_api;
lm_train_cuda *lm_train_cuda_new_api(const struct lm_cuda_api *K, const lm_train_model *m, int B, int T,
                                     char *err, size_t errlen);
void lm_train_cuda_free(lm_train_cuda *g);
/* "NVIDIA H200 (sm_90, 132 SMs)" */
void lm_train_cuda_describe(const lm_train_cuda *g, char *buf, size_t cap);

/* The forward of lm_train_forward once its host part has filled s->ids,
 * s->pos, s->maskadd, s->drop, s->curB and s->curT: fills s->logits.
 * key: the dropout masks' key (train_cuda.h in kernels/). */
int lm_train_cuda_forward(lm_train_cuda *g, const lm_train_model *m, lm_train_state *s, uint64_t key,
                          char *err, size_t errlen);
/* The backward of lm_train_backward from s->dlogits: adds the trained
 * tensors' gradients into m->grads_mem. */
int lm_train_cuda_backward(lm_train_cuda *g, lm_train_model *m, lm_train_state *s, uint64_t key, char *err,
                           size_t errlen);

#endif
