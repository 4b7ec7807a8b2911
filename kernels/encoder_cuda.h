/* encoder_cuda.h - plain C interface to the CUDA forward ops of the
 * BERT-family encoder (kernels/encoder_cuda.cu): a context (one stream and
 * one cuBLAS handle on one device), device memory and copies, and one
 * launcher per op.  Each op is the device twin of a CPU op in lib/nn/ops.h
 * and has the same layout and arithmetic (fp32 activations, Linear weights
 * [OC, C]); lib/nn/encoder_cuda.c strings them into the encoder forward and
 * tests/unit/test_encoder_cuda.c compares the result with the CPU path.
 *
 * Launchers enqueue work on the context's stream and return at once: 0, or
 * -1 with a message in err (a launch or cuBLAS error; errors of earlier
 * asynchronous work may surface here or at enc_cuda_sync).  Every pointer
 * they take is device memory, except the host side of upload/download.
 * None prints, exits or keeps global state: contexts on different threads
 * are independent.
 *
 * Not here: backward passes, fp16/bf16 activations (only Linear weights may
 * be 16-bit, see enc_cuda_matmul), flash attention (the [B,NH,T,T] score
 * tensor is materialised, like the CPU op).
 */
#ifndef LMKIT_ENCODER_CUDA_H
#define LMKIT_ENCODER_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Storage type of Linear weights on the device. */
enum { ENC_CUDA_F32 = 0, ENC_CUDA_BF16 = 1, ENC_CUDA_F16 = 2 };

typedef struct enc_cuda enc_cuda;

/* Number of usable CUDA devices; 0 with the reason in why (no driver, no
 * device, ...).  Never aborts. */
int enc_cuda_device_count(char *why, size_t whylen);
/* A context on the current device (cudaGetDevice): stream + cuBLAS handle. */
int enc_cuda_create(enc_cuda **out, char *err, size_t errlen);
void enc_cuda_destroy(enc_cuda *c);
/* "NVIDIA H200 (sm_90, 132 SMs)" */
void enc_cuda_describe(const enc_cuda *c, char *buf, size_t cap);
/* Makes the context's device current on the calling thread. */
int enc_cuda_use(const enc_cuda *c, char *err, size_t errlen);

int enc_cuda_malloc(void **p, size_t bytes, char *err, size_t errlen);
void enc_cuda_free(void *p);
/* Copies on the context's stream; upload returns once src may be reused,
 * download once dst holds the data. */
int enc_cuda_upload(enc_cuda *c, void *dst_dev, const void *src_host, size_t bytes, char *err, size_t errlen);
int enc_cuda_download(enc_cuda *c, void *dst_host, const void *src_dev, size_t bytes, char *err,
                      size_t errlen);
/* Waits for everything queued on the stream (timings must sync). */
int enc_cuda_sync(enc_cuda *c, char *err, size_t errlen);

/* dst[n] (bf16 or fp16, round to nearest even) = src[n] (fp32). */
int enc_cuda_convert(enc_cuda *c, void *dst, const float *src, size_t n, int dtype, char *err, size_t errlen);

/* pos[B,T], maskadd[B,T] from ids[B,T], mask[B,T] (1 real, 0 pad):
 * maskadd = 0 or -FLT_MAX; pos = t (roberta = 0) or, for RoBERTa / XLM-R,
 * transformers' create_position_ids_from_input_ids: m = (id != pad_id),
 * pos = cumsum(m) * m + pad_id (a block scan per sequence).  The caller has
 * checked that every position is below max_position_embeddings. */
int enc_cuda_prep(enc_cuda *c, int32_t *pos, float *maskadd, const int32_t *ids, const uint8_t *mask, int B,
                  int T, int roberta, int pad_id, char *err, size_t errlen);
/* out[B,T,C] = (wte[ids] + wtt[0]) + wpe[pos]     (nn_embeddings_forward) */
int enc_cuda_embeddings(enc_cuda *c, float *out, const int32_t *ids, const int32_t *pos, const float *wte,
                        const float *wpe, const float *wtt, int B, int T, int C, char *err, size_t errlen);
/* out[B,T,C] = LayerNorm(inp [+ res]) * w + b; res may be NULL; out may
 * alias inp or res                                  (nn_layernorm_forward) */
int enc_cuda_layernorm(enc_cuda *c, float *out, const float *inp, const float *res, const float *w,
                       const float *b, int B, int T, int C, float eps, char *err, size_t errlen);
/* out[N,OC] = inp[N,C] @ w[OC,C]^T + bias[OC] (bias may be NULL)
 * (nn_matmul_forward).  wdtype ENC_CUDA_F32: cublasSgemm.  BF16/F16: w is
 * stored 16-bit, inp is rounded into act16 (>= N*C 16-bit values) and
 * cublasGemmEx multiplies with fp32 accumulation (CUBLAS_COMPUTE_32F). */
int enc_cuda_matmul(enc_cuda *c, float *out, const float *inp, const void *w, int wdtype, const float *bias,
                    void *act16, int N, int C, int OC, char *err, size_t errlen);
/* Self-attention core (nn_attention_forward): per sequence b and head h,
 * out_h = softmax(q_h k_h^T / sqrt(D) + maskadd[b]) v_h, with q, k, v rows
 * ld floats apart (ld = 3C for a fused QKV projection) and head h in
 * channels [hD, (h+1)D); out [B,T,C]; att [B,NH,T,T] scratch.  fp32
 * cublasSgemmStridedBatched over the heads of each sequence. */
int enc_cuda_attention(enc_cuda *c, float *out, float *att, const float *q, const float *k, const float *v,
                       int ld, const float *maskadd, int B, int T, int C, int NH, char *err, size_t errlen);
/* out[N] = GELU(inp): exact erf (tanh_approx = 0, nn_gelu_forward) or the
 * tanh form (nn_gelu_tanh_forward); out may alias inp. */
int enc_cuda_gelu(enc_cuda *c, float *out, const float *inp, size_t N, int tanh_approx, char *err,
                  size_t errlen);
/* probs[N,V] = softmax(logits[N,V]) over the last axis (nn_softmax_forward). */
int enc_cuda_softmax(enc_cuda *c, float *probs, const float *logits, int N, int V, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
