/* encoder_cuda.h - the BERT-family encoder forward on an NVIDIA GPU: the
 * weights of a loaded lm_encoder are uploaded once, the forward runs on the
 * device (kernels/encoder_cuda.cu, cuBLAS), and logits / probs / the final
 * hidden state come back to the host.  Same contract, checks and messages as
 * lm_encoder_forward (encoder.h); the CPU path is the reference it is tested
 * against (tests/unit/test_encoder_cuda.c).
 *
 *  - Memory (llm.c style): one device allocation holds every weight, one
 *    holds the activations for (Bmax, Tmax), both carved by a table of sizes.
 *  - dtype LM_NN_F32: everything fp32 (agrees with the CPU to ~1e-5).
 *    LM_NN_BF16 / LM_NN_F16: the Linear weights (Q, K, V, output, FFN,
 *    classifier) are stored 16-bit on the device, their inputs are rounded to
 *    the same type and cuBLAS accumulates in fp32; embeddings, LayerNorm,
 *    biases, attention and softmax stay fp32.  F16 can overflow on
 *    activations beyond 65504; BF16 cannot.
 *  - Q, K and V are one fused [3C, C] product.
 *  - One lm_encoder_cuda = one CUDA stream and one cuBLAS handle on the
 *    device current when it was made; it is not to be used by two threads at
 *    once (make one per thread).  The lm_encoder may be freed after _new.
 *
 * Built always; the device code is in liblmkit-cuda.so, loaded on the first
 * lm_nn_cuda_available or lm_encoder_cuda_new (nn/backend_cuda.h).  Built
 * without CUDA (no nvcc, CUDA=0, SAN=1), or without that library, the NVIDIA
 * driver or a GPU, both report what is missing.
 * Not here: multi-GPU, CUDA graphs, fp16/bf16 activations, the table of
 * function pointers of backend.h (its op signatures carry no stream or
 * cuBLAS handle; the ops are called directly, see encoder_cuda.c).
 */
#ifndef LMKIT_NN_ENCODER_CUDA_H
#define LMKIT_NN_ENCODER_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "nn/encoder.h"

/* Storage of the Linear weights on the device (same numbers as
 * ENC_CUDA_F32/BF16/F16 in kernels/encoder_cuda.h). */
enum { LM_NN_F32 = 0, LM_NN_BF16 = 1, LM_NN_F16 = 2 };

typedef struct lm_encoder_cuda lm_encoder_cuda;

/* 1 when a CUDA device can be used; 0 with the reason in why (built without
 * CUDA, no liblmkit-cuda.so, no CUDA runtime, no driver, no device).  Never
 * aborts or hangs without a GPU. */
int lm_nn_cuda_available(char *why, size_t whylen);

/* "f32", "bf16", "f16" -> LM_NN_*; -1 for anything else.  And back. */
int lm_nn_dtype_parse(const char *s);
const char *lm_nn_dtype_name(int dtype);

/* Uploads m's weights (Linear weights as dtype) and allocates activations
 * for batches up to Bmax sequences of up to Tmax tokens on the current
 * device.  NULL with a message (no device, out of device memory, bad size). */
lm_encoder_cuda *lm_encoder_cuda_new(const lm_encoder *m, int Bmax, int Tmax, int dtype, char *err,
                                     size_t errlen);
void lm_encoder_cuda_free(lm_encoder_cuda *g);

/* As lm_encoder_forward: ids[B,T], mask[B,T] (1 real, 0 pad; NULL = all
 * real); logits[B,T,num_labels] and probs[B,T,num_labels] on the host, may be
 * NULL (both NULL for bare models).  Returns 0 once the outputs are on the
 * host, or -1 with a message. */
int lm_encoder_cuda_forward(lm_encoder_cuda *g, const int32_t *ids, const uint8_t *mask, int B, int T,
                            float *logits, float *probs, char *err, size_t errlen);

/* The final hidden state [B,T,C] of the last forward, copied to the host. */
int lm_encoder_cuda_hidden(lm_encoder_cuda *g, float *out, char *err, size_t errlen);

/* Device description ("NVIDIA H200 (sm_90, 132 SMs)") and the bytes held on
 * the device for weights and activations. */
void lm_encoder_cuda_info(const lm_encoder_cuda *g, char *desc, size_t cap, size_t *weight_bytes,
                          size_t *act_bytes);

#endif
