/* ops.h - CPU forward ops of a post-LayerNorm transformer encoder (BERT,
 * RoBERTa, XLM-R), fp32, llm.c style: plain functions, output first, shapes
 * in comments.  B batch, T tokens, C channels, NH heads, D = C/NH head dim,
 * OC output channels, F FFN width, V classes.
 *
 * Matrix products go through OpenBLAS cblas_sgemm (the *_naive twins are
 * triple loops kept as the reference they are tested against); everything
 * else is OpenMP loops, vectorised (exp and GELU are computed in ops.c, not
 * by libm, so that they vectorise; within 2 ulp and 4e-7 respectively).
 * One OpenMP team does all the work: each thread calls sgemm on its block of
 * rows, with OpenBLAS set to one thread (openblas_set_num_threads(1), the
 * only process-wide state the ops touch), so two thread pools never compete
 * for the cores; --threads therefore sets the whole forward's threads.  No op
 * allocates memory or prints; results do not depend on the thread count.
 * Linear weights are stored [OC, C] like torch.nn.Linear.
 *
 * Not here: backward passes, reduced precision, the CUDA twins (backend.h
 * says how they plug in).
 */
#ifndef LMKIT_NN_OPS_H
#define LMKIT_NN_OPS_H

#include <stddef.h>
#include <stdint.h>

/* out[B,T,C] = wte[ids[b,t]] + wpe[pos[b,t]] + wtt[0]   (token type 0).
 * ids and pos must be in range (the caller checks). */
void nn_embeddings_forward(float *out, const int32_t *ids, const int32_t *pos, const float *wte,
                           const float *wpe, const float *wtt, int B, int T, int C);

/* out[B,T,C] = LayerNorm(inp [+ res]) * w + b; res may be NULL; out may alias
 * inp or res.  Biased variance, eps inside the square root (torch). */
void nn_layernorm_forward(float *out, const float *inp, const float *res, const float *w, const float *b,
                          int B, int T, int C, float eps);

/* out[B,T,OC] = inp[B,T,C] @ w[OC,C]^T + bias[OC]  (bias may be NULL). */
void nn_matmul_forward(float *out, const float *inp, const float *w, const float *bias, int B, int T, int C,
                       int OC);
void nn_matmul_forward_naive(float *out, const float *inp, const float *w, const float *bias, int B, int T,
                             int C, int OC);

/* Multi-head self-attention core (no projections):
 * out[B,T,C] = softmax(q_h k_h^T / sqrt(D) + maskadd[b, key]) v_h  per head h,
 * where q,k,v are [B,T,C] with head h in channels [h*D, (h+1)*D).
 * maskadd[B,T] is 0 for a real key and -FLT_MAX for a padded key (the
 * extended attention mask of transformers, dtype min).
 * att[NH,T,T] is scratch. */
void nn_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                          const float *maskadd, int B, int T, int C, int NH);
void nn_attention_forward_naive(float *out, float *att, const float *q, const float *k, const float *v,
                                const float *maskadd, int B, int T, int C, int NH);

/* row[n] = softmax(row + maskadd[n]) in place (one score row of the
 * attention; lib/nn/vmath.h's exp, the sum in float). */
void nn_masked_softmax_row(float *row, const float *maskadd, int n);
/* out[N] = 0.5 x (1 + erf(x / sqrt 2))   (hidden_act "gelu"); out may alias inp. */
void nn_gelu_forward(float *out, const float *inp, size_t N);
/* out[N] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))   ("gelu_new"). */
void nn_gelu_tanh_forward(float *out, const float *inp, size_t N);

/* probs[N,V] = softmax(logits[N,V]) over the last axis. */
void nn_softmax_forward(float *probs, const float *logits, int N, int V);

#endif
