/* lmkit_cuda.h - the one entry point of the CUDA support library,
 * liblmkit-cuda.so (the .cu files of kernels/ linked with libcudart and libcublas).
 *
 * The commands do not link the CUDA libraries: a CPU run must not map
 * libcudart and libcublas (they reserve hundreds of MB of address space, so
 * under a `ulimit -v` a command would not even start).  lib/nn/backend_cuda.c
 * dlopens the library on the first use of a GPU and asks its only exported
 * symbol, LM_CUDA_API_SYMBOL, for this table; everything else in the library
 * has hidden visibility.  The functions are those of encoder_cuda.h,
 * train_cuda.h and attn_cuda.h, with the same contracts.
 *
 * Compatibility: the table is checked by abi (bumped whenever a member
 * changes or moves) and by size, so a library left over from another lmkit
 * version is refused with a message instead of being called.
 */
#ifndef LMKIT_LMKIT_CUDA_H
#define LMKIT_LMKIT_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "attn_cuda.h"
#include "encoder_cuda.h"
#include "train_cuda.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LM_CUDA_API_SYMBOL "lm_cuda_api_v1"
#define LM_CUDA_API_ABI 2

typedef struct lm_cuda_api {
    int abi;     /* LM_CUDA_API_ABI of the library */
    size_t size; /* sizeof (lm_cuda_api) in the library */
    /* Usable devices; 0 with what is missing in why: the NVIDIA driver
     * (libcuda.so.1), a driver recent enough, or a GPU. */
    int (*device_count)(char *why, size_t whylen);

    /* encoder_cuda.h */
    int (*enc_create)(enc_cuda **out, char *err, size_t errlen);
    void (*enc_destroy)(enc_cuda *c);
    void (*enc_describe)(const enc_cuda *c, char *buf, size_t cap);
    int (*enc_use)(const enc_cuda *c, char *err, size_t errlen);
    int (*enc_malloc)(void **p, size_t bytes, char *err, size_t errlen);
    void (*enc_free)(void *p);
    int (*enc_upload)(enc_cuda *c, void *dst_dev, const void *src_host, size_t bytes, char *err,
                      size_t errlen);
    int (*enc_download)(enc_cuda *c, void *dst_host, const void *src_dev, size_t bytes, char *err,
                        size_t errlen);
    int (*enc_sync)(enc_cuda *c, char *err, size_t errlen);
    int (*enc_convert)(enc_cuda *c, void *dst, const float *src, size_t n, int dtype, char *err,
                       size_t errlen);
    int (*enc_prep)(enc_cuda *c, int32_t *pos, float *maskadd, const int32_t *ids, const uint8_t *mask, int B,
                    int T, int roberta, int pad_id, char *err, size_t errlen);
    int (*enc_embeddings)(enc_cuda *c, float *out, const int32_t *ids, const int32_t *pos, const float *wte,
                          const float *wpe, const float *wtt, int B, int T, int C, char *err, size_t errlen);
    int (*enc_layernorm)(enc_cuda *c, float *out, const float *inp, const float *res, const float *w,
                         const float *b, int B, int T, int C, float eps, char *err, size_t errlen);
    int (*enc_matmul)(enc_cuda *c, float *out, const float *inp, const void *w, int wdtype, const float *bias,
                      void *act16, int N, int C, int OC, char *err, size_t errlen);
    int (*enc_attention)(enc_cuda *c, float *out, float *att, const float *q, const float *k, const float *v,
                         int ld, const float *maskadd, int B, int T, int C, int NH, char *err, size_t errlen);
    int (*enc_gelu)(enc_cuda *c, float *out, const float *inp, size_t N, int tanh_approx, char *err,
                    size_t errlen);
    int (*enc_softmax)(enc_cuda *c, float *probs, const float *logits, int N, int V, char *err,
                       size_t errlen);

    /* train_cuda.h */
    int (*trc_copy)(enc_cuda *c, void *dst, const void *src, size_t bytes, char *err, size_t errlen);
    int (*trc_zero)(enc_cuda *c, void *dst, size_t bytes, char *err, size_t errlen);
    int (*trc_dropout)(enc_cuda *c, float *y, const float *x, size_t N, int n, float p, uint64_t key,
                       int site, uint64_t row0, char *err, size_t errlen);
    int (*trc_layernorm_fwd)(enc_cuda *c, float *out, float *res, float *stat, const float *a, const float *r,
                             const float *w, const float *b, size_t N, int C, float eps, char *err,
                             size_t errlen);
    int (*trc_layernorm_bwd)(enc_cuda *c, float *dres, float *dw, float *db, const float *dout,
                             const float *res, const float *stat, const float *w, size_t N, int C, char *err,
                             size_t errlen);
    int (*trc_matmul_bwd)(enc_cuda *c, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, int N, int C, int OC, int accum, char *err, size_t errlen);
    int (*trc_gelu_bwd)(enc_cuda *c, float *dx, const float *x, size_t n, int tanh_form, char *err,
                        size_t errlen);
    int (*trc_attention_fwd)(enc_cuda *c, float *out, float *att, float *pd, const float *q, const float *k,
                             const float *v, const float *maskadd, int B, int T, int C, int NH, float p,
                             uint64_t key, int site, char *err, size_t errlen);
    int (*trc_attention_bwd)(enc_cuda *c, float *dq, float *dk, float *dv, float *dp, float *pd,
                             const float *datty, const float *q, const float *k, const float *v,
                             const float *att, int B, int T, int C, int NH, float p, uint64_t key, int site,
                             char *err, size_t errlen);
    int (*trc_embeddings_bwd)(enc_cuda *c, float *gwte, float *gwpe, float *gwtt, const float *de,
                              const int32_t *ids, const int32_t *pos, size_t N, int C, int pad, int roberta,
                              char *err, size_t errlen);

    /* attn_cuda.h */
    int (*attn_device_info)(int device, attn_cuda_info *info, char *err, size_t errlen);
    int (*attn_lean_occupancy)(int device, int *ctas_per_sm, char *err, size_t errlen);
    int (*attn_malloc)(void **p, size_t bytes, char *err, size_t errlen);
    void (*attn_free)(void *p);
    int (*attn_upload)(void *dst_dev, const void *src_host, size_t bytes, char *err, size_t errlen);
    int (*attn_download)(void *dst_host, const void *src_dev, size_t bytes, char *err, size_t errlen);
    int (*attn_plan_create)(attn_cuda_plan **out, int device, const attn_cuda_config *cfg, const int *lens,
                            char *err, size_t errlen);
    void (*attn_plan_destroy)(attn_cuda_plan *p);
    void (*attn_plan_info)(const attn_cuda_plan *p, int *grid, long long *tiles_total,
                           long long *tiles_per_cta_max, int *splits_max, size_t *scratch_bytes,
                           long long *partial_rows);
    int (*attn_run)(attn_cuda_plan *p, const void *q, const void *k, const void *v, void *o, float *lse,
                    char *err, size_t errlen);
    int (*attn_time)(attn_cuda_plan *p, const void *q, const void *k, const void *v, void *o, int warmup,
                     int iters, int flush_l2, double *us, char *err, size_t errlen);
    int (*attn_read_bw)(int device, size_t bytes, int iters, double *gbps, char *err, size_t errlen);
    int (*attn_flush_l2)(attn_cuda_plan *p, char *err, size_t errlen);
} lm_cuda_api;

/* The library's export (LM_CUDA_API_SYMBOL): the table, filled once. */
typedef const lm_cuda_api *(*lm_cuda_api_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
