/* train_cuda.h - plain C interface to the CUDA ops of encoder training
 * (kernels/train_cuda.cu): the forward ops that keep what the backward
 * needs, the backward ops, and dropout.  Each op is the device twin of a
 * static op of lib/nn/train.c with the same layout and arithmetic (fp32,
 * row-major, Linear weights [OC, C]); lib/nn/train_cuda.c strings them into
 * the training forward and backward, and `make gpu-check` compares its
 * gradients with the CPU's.
 *
 * Conventions as encoder_cuda.h: the context's stream and cuBLAS handle,
 * device pointers only, launchers return at once with 0 or -1 and a
 * message.  Gradients named dw, db, ... are added to (+=) and may be NULL
 * (not wanted); the others are overwritten.
 *
 * Dropout: the mask of row r at site s is that of lib/nn/train.c's
 * dropout_row: xoshiro256** (lib/core/rng.c) seeded with (key, s << 40 ^ r),
 * where key = mix64(seed ^ mix64(step + 0x9e3779b97f4a7c15)) is computed
 * on the host; element i keeps iff the i-th 32-bit half of the stream
 * (low half first) is >= p * 2^32, and kept values are scaled by 1/(1-p).
 * The same seed, step, site and row give the same mask on both devices.
 */
#ifndef LMKIT_TRAIN_CUDA_H
#define LMKIT_TRAIN_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "encoder_cuda.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dst = src (device to device, bytes) / dst = 0, on the stream */
int trc_copy(enc_cuda *c, void *dst, const void *src, size_t bytes, char *err, size_t errlen);
int trc_zero(enc_cuda *c, void *dst, size_t bytes, char *err, size_t errlen);

/* y[N,n] = dropout(x[N,n]) with rows row0 .. row0+N-1 of site `site`; y
 * may alias x.  Applied to a gradient it is the dropout's backward. */
int trc_dropout(enc_cuda *c, float *y, const float *x, size_t N, int n, float p, uint64_t key, int site,
                uint64_t row0, char *err, size_t errlen);

/* out[N,C] = LayerNorm(a [+ r]) * w + b; the sum kept in res[N,C] (may be a
 * itself), the row mean and 1/std in stat[N,2]    (train.c layernorm_fwd) */
int trc_layernorm_fwd(enc_cuda *c, float *out, float *res, float *stat, const float *a, const float *r,
                      const float *w, const float *b, size_t N, int C, float eps, char *err, size_t errlen);
/* dres[N,C] = d/d input from dout, res and stat; dw, db[C] +=
 *                                                    (train.c layernorm_bwd) */
int trc_layernorm_bwd(enc_cuda *c, float *dres, float *dw, float *db, const float *dout, const float *res,
                      const float *stat, const float *w, size_t N, int C, char *err, size_t errlen);

/* dinp[N,C] (+)= dout[N,OC] . w[OC,C] (accum 0 overwrites, 1 adds);
 * dw[OC,C] += dout^T . inp; db[OC] += column sums of dout; any of the
 * three may be NULL                                    (train.c matmul_bwd) */
int trc_matmul_bwd(enc_cuda *c, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                   const float *w, int N, int C, int OC, int accum, char *err, size_t errlen);

/* dx[n] *= GELU'(x[n]), exact or tanh form             (train.c gelu_bwd) */
int trc_gelu_bwd(enc_cuda *c, float *dx, const float *x, size_t n, int tanh_form, char *err, size_t errlen);

/* Per sequence b and head h: att[b,h] = softmax(q_h k_h^T / sqrt(D) +
 * maskadd[b]) (kept for the backward), out_h = drop(att[b,h]) v_h; q, k, v,
 * out [B*T, C]; att and pd (the dropped copy, used when p > 0) [B,NH,T,T].
 * Dropout rows are numbered (b*NH + h)*T + t.      (train.c attention_fwd) */
int trc_attention_fwd(enc_cuda *c, float *out, float *att, float *pd, const float *q, const float *k,
                      const float *v, const float *maskadd, int B, int T, int C, int NH, float p,
                      uint64_t key, int site, char *err, size_t errlen);
/* dq, dk, dv [B*T, C] (overwritten) from datty [B*T, C] and the forward's
 * q, k, v, att; dp and pd [B,NH,T,T] scratch       (train.c attention_bwd) */
int trc_attention_bwd(enc_cuda *c, float *dq, float *dk, float *dv, float *dp, float *pd, const float *datty,
                      const float *q, const float *k, const float *v, const float *att, int B, int T, int C,
                      int NH, float p, uint64_t key, int site, char *err, size_t errlen);

/* The embeddings' backward from de[N,C]: gwte[ids[i]] += de[i] (not for
 * ids equal to pad), gwpe[pos[i]] += de[i] (not for pos equal to pad when
 * roberta), gwtt[0] += de[i]; each may be NULL.  One thread per channel
 * walks the rows in order, so the sums are in the CPU's order. */
int trc_embeddings_bwd(enc_cuda *c, float *gwte, float *gwpe, float *gwtt, const float *de,
                       const int32_t *ids, const int32_t *pos, size_t N, int C, int pad, int roberta,
                       char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
