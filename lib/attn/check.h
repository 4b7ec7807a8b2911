/* check.h - the adversarial correctness suite behind `leanattn-bench --check`
 * (leanattn-bench(1), "Correctness suite"): very peaked softmax (q scaled by
 * 20), one dominant logit on either side of a worker boundary, lengths of tile
 * +- 1, L < tile, L = 1, total % G != 0, heads spread over three or more
 * workers, whole heads mixed with split heads, ragged batches with a length-0
 * sequence, GQA groups of 1, 3 and 4, both layouts; every CPU algorithm,
 * fp32/bf16/fp16 storage and D = 64 and 128.  Every output is scanned for
 * NaN/Inf and must satisfy FlashAttention's rule against the fp64 reference
 * (attn.h), and lean must be bit-identical when rerun with another thread
 * count.  Runs in about a second on 2 cores.  attn_check_suite checks the CPU
 * code; attn_check_suite_with runs the same cases through another
 * implementation (the command passes one that runs the CUDA kernels) against
 * the same CPU references.
 */
#ifndef LMKIT_ATTN_CHECK_H
#define LMKIT_ATTN_CHECK_H

#include <stddef.h>

#include "attn/attn.h"

/* Run the suite with `workers` pretend SMs (>= 1; the cases also use fixed
 * worker counts chosen to cut heads over >= 3 workers) and `threads` OpenMP
 * threads (0 = omp_get_max_threads()); each run is repeated with 1 thread
 * (2 if threads is 1) and must give the same bits.  Each failure is described on one line of `report`
 * (truncated to report_len, always NUL-terminated); *n_cases receives the
 * number of (case, algorithm) checks run.  Returns the number of failures,
 * or -1 with err filled when the library refuses one of the suite's own
 * problems (a bug: the cases are fixed). */
int attn_check_suite(int workers, int threads, size_t *n_cases, char *report, size_t report_len, char *err,
                     size_t errlen);

/* An implementation under test: the contract of attn_cpu_run (without the
 * schedule info).  Returns 0; 1 when it does not support this case (e.g.
 * fp32 storage or that algorithm on a GPU), which skips the check; or -1
 * with a message, which counts as a failure of that check (the suite goes
 * on, so a device error is reported, not fatal). */
typedef int (*attn_check_runner)(void *ctx, attn_alg alg, const attn_problem *p, const attn_opts *opts,
                                 const void *q, const void *k, const void *v, void *o, float *lse, char *err,
                                 size_t errlen);

/* The same suite with run as the implementation under test (NULL: the CPU
 * code, exactly attn_check_suite).  *n_skipped (may be NULL) receives the
 * number of checks the runner declined. */
int attn_check_suite_with(attn_check_runner run, void *run_ctx, int workers, int threads, size_t *n_cases,
                          size_t *n_skipped, char *report, size_t report_len, char *err, size_t errlen);

#endif
