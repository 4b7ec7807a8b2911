/* backend.h - the table of op functions the encoder forward calls through.
 *
 * Design (after ggml's ggml-backend-impl.h, kept small on purpose): a
 * backend is a const struct of function pointers with the signatures of the
 * ops in ops.h.  The encoder forward (encoder.c) only ever calls ops through
 * such a table, so a new backend needs no change to the model code.
 *
 *   lm_nn_backend_cpu        OpenBLAS sgemm + OpenMP loops (the default)
 *   lm_nn_backend_cpu_naive  triple-loop matmul and attention: the reference
 *                            the BLAS path is tested against
 *
 * The CUDA backend (kernels/, later) fills the same table with launchers of
 * the kernels/ .cu files (cuBLAS for the matmuls) and adds what only a device needs:
 *   alloc/free       device memory for the weight block and the run state;
 *   upload/download  host <-> device copies (the weight block is uploaded
 *                    once: it is a single allocation, see encoder.c);
 *   sync             wait for queued work (timings must sync).
 * Every pointer an op receives then lives on that device; lm_encoder keeps
 * one weight block per backend and lm_encoder_state allocates its one
 * activation block with the backend's alloc.  Each CUDA op keeps the CPU op
 * as its twin and is tested against it (tolerance, not constants), skipping
 * with a reason when no device is present.  Those hooks are NULL for the
 * CPU tables; nothing else in a table may be NULL.
 */
#ifndef LMKIT_NN_BACKEND_H
#define LMKIT_NN_BACKEND_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm_nn_backend {
    const char *name;
    void (*embeddings)(float *out, const int32_t *ids, const int32_t *pos, const float *wte, const float *wpe,
                       const float *wtt, int B, int T, int C);
    void (*layernorm)(float *out, const float *inp, const float *res, const float *w, const float *b, int B,
                      int T, int C, float eps);
    void (*matmul)(float *out, const float *inp, const float *w, const float *bias, int B, int T, int C,
                   int OC);
    void (*attention)(float *out, float *att, const float *q, const float *k, const float *v,
                      const float *maskadd, int B, int T, int C, int NH);
    void (*gelu)(float *out, const float *inp, size_t N);
    void (*gelu_tanh)(float *out, const float *inp, size_t N);
    void (*softmax)(float *probs, const float *logits, int N, int V);
    /* device hooks: NULL on the CPU */
    void *(*alloc)(size_t bytes);
    void (*free)(void *p);
    int (*upload)(void *dst, const void *src, size_t bytes);
    int (*download)(void *dst, const void *src, size_t bytes);
    int (*sync)(void);
} lm_nn_backend;

extern const lm_nn_backend lm_nn_backend_cpu;
extern const lm_nn_backend lm_nn_backend_cpu_naive;

/* OpenBLAS's work buffers, set up before the first forward on the CPU.
 *
 * Each thread that is inside sgemm holds one buffer of LM_NN_BLAS_BUFFER
 * bytes of address space, mapped on first need and kept for the life of the
 * process.  When that mmap fails (a `ulimit -v`, strict overcommit),
 * OpenBLAS 0.3.x retries it forever (blas_memory_alloc in
 * driver/others/memory.c): the command would spin instead of failing.  So
 * this maps the buffers for omp_get_max_threads() concurrent callers now,
 * after checking with a probe mapping of the same size that they fit: -1
 * with a message when they do not, *fits set to the largest thread count
 * that would fit (0 if not even one) and *shortfall to the bytes of address
 * space missing under the `ulimit -v` (0 when there is no such limit); both
 * may be NULL.  Call it on the
 * main thread, outside any parallel region, after the thread count is set
 * and the model is loaded; 0 when all is in place.  The encoder ops stay
 * within that many concurrent sgemm calls (nested OpenMP regions being
 * inactive). */
#define LM_NN_BLAS_BUFFER ((size_t)128 << 20) /* OpenBLAS's BUFFER_SIZE on x86-64 */
int lm_nn_cpu_reserve(int *fits, size_t *shortfall, char *err, size_t errlen);

/* OpenBLAS itself (backend_blas.c): not linked but dlopened on first use,
 * with its own thread pool off.  lm_nn_blas_load loads it now: 0, or -1
 * with a message (a BLAS call would then exit with status 2).  The buffer
 * pair is OpenBLAS's blas_memory_alloc/free (alloc gives NULL where the
 * library lacks them). */
int lm_nn_blas_load(char *err, size_t errlen);
void *lm_nn_blas_buffer_alloc(void);
void lm_nn_blas_buffer_free(void *b);

#endif
