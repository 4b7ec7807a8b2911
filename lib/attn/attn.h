/* attn.h - decode-phase attention on the CPU: the fp64 reference, a naive
 * same-precision reference, and the four partitionings benchmarked by
 * leanattn-bench (nosplit, splitkv, lean, lean-combine), run with OpenMP where
 * threads play the role of a GPU's SMs.
 *
 * What is computed.  For each sequence b and query head h_q, with
 * h_kv = h_q / g (g = H_q / H_kv) and keys j < L_b:
 *     o = sum_j softmax_j(scale * q . k_j) v_j,   lse = ln sum_j e^(scale q.k_j)
 * One work item is a KV head (b, h_kv) with its g query rows packed together,
 * so one pass over K/V serves the whole GQA group (as ONNX Runtime's
 * lean_api.cc, mha_fwd_kvcache, does for seqlen_q == 1: the group's query
 * heads become the rows of one tile).
 *
 * How the partial results are merged.  A piece of a head (a set S of keys) is
 * summarised by the online-softmax state (m, l, O): m the max logit, l the sum
 * of e^(x - m), O the unnormalised sum of e^(x - m) v.  Two states merge with
 * m = max(ma, mb), l = e^(ma-m) la + e^(mb-m) lb, O likewise; this operation
 * is associative, which is what lets Stream-K cut heads anywhere (sched.h).
 *   nosplit       one worker per head: no merge.
 *   splitkv       FlashDecoding: every head cut into `splits` equal pieces
 *                 (FA2 heuristic), pieces written in LSE form (o_i, lse_i),
 *                 then a separate combine pass per head.
 *   lean          Stream-K ranges; a worker that does not own a head's tile 0
 *                 publishes its raw (m, l, O) in its own slot with an epoch
 *                 flag (release); the host worker waits (acquire) and merges
 *                 the contributors in increasing worker order ("in-kernel").
 *   lean-combine  Stream-K ranges; every piece of a split head goes to
 *                 scratch in LSE form and a separate pass merges, as FlashMLA.
 *   naive         the fp64 reference, rounded to the storage type.
 *
 * Determinism guarantee.  The partition is a function of the worker count W
 * (opts.workers) and of the grid/split overrides only; OpenMP merely decides
 * which thread executes which work unit, and every unit is computed by one
 * thread in a fixed order, and merges run in a fixed order.  Hence for a fixed
 * algorithm, shape, inputs and W, the output is bit-identical across repeated
 * runs and across OpenMP thread counts (opts.threads).  nosplit and naive do
 * not depend on W at all; splitkv depends on W only through the split count;
 * lean and lean-combine depend on W through G.  Changing W may change the
 * last bits, as on a GPU with a different SM count.
 *
 * Storage: fp32, bf16 and fp16 (the GPU's types; fp16 also here so that the
 * host can build references for it).  Accumulation is always fp32 (fp64 for
 * the reference).  Layouts: q and o are [B, H_q, D]; K and V hold the
 * sequences one after another (a ragged batch is packed, no padding), each
 * sequence either HND [H_kv, L_b, D] or NHD [L_b, H_kv, D]; for a uniform batch
 * that is exactly [B, H_kv, L, D] or [B, L, H_kv, D].  A length-0 sequence
 * gives o = 0 and lse = -inf.  Inputs must be finite.
 *
 * Not here: GPU code (kernels/attn_cuda.h), paging, causal prefill, any
 * timing.  Method: Sanovar et al., "Lean Attention", MLSys 2025 (arXiv
 * 2405.10480), and its ONNX Runtime implementation
 * (onnxruntime/contrib_ops/cuda/bert/lean_attention/lean_fwd_kernel.h,
 * lean_compute_attn); splitkv: FlashAttention-2's split-KV path
 * (csrc/flash_attn/flash_api.cpp); accuracy rule: FlashAttention's
 * tests/test_flash_attn.py.
 */
#ifndef LMKIT_ATTN_ATTN_H
#define LMKIT_ATTN_ATTN_H

#include <stddef.h>
#include <stdint.h>

#include "attn/sched.h"

typedef enum { ATTN_F32 = 0, ATTN_BF16 = 1, ATTN_F16 = 2 } attn_dtype;
typedef enum { ATTN_HND = 0, ATTN_NHD = 1 } attn_layout;
typedef enum {
    ATTN_NAIVE = 0,
    ATTN_NOSPLIT,
    ATTN_SPLITKV,
    ATTN_LEAN,
    ATTN_LEAN_COMBINE,
    ATTN_N_ALGS
} attn_alg;

const char *attn_alg_name(attn_alg a);            /* "naive", "nosplit", ... */
int attn_alg_parse(const char *s, attn_alg *out); /* 0, or -1 if unknown */
const char *attn_dtype_name(attn_dtype t);        /* "fp32", "bf16", "fp16" */
int attn_dtype_parse(const char *s, attn_dtype *out);
const char *attn_layout_name(attn_layout l); /* "HND", "NHD" */
size_t attn_dtype_size(attn_dtype t);

/* Conversions, round to nearest even; NaN stays NaN. */
uint16_t attn_f32_to_bf16(float x);
float attn_bf16_to_f32(uint16_t h);
uint16_t attn_f32_to_f16(float x);
float attn_f16_to_f32(uint16_t h);
/* Element i of a buffer of type t, and the rounding of x to type t. */
float attn_load(const void *p, attn_dtype t, size_t i);
void attn_store(void *p, attn_dtype t, size_t i, float x);
float attn_round(attn_dtype t, float x);

typedef struct {
    attn_dims dims;
    attn_dtype dtype;
    attn_layout layout;
    const int *lens; /* [B] context lengths (>= 0); not owned */
    float scale;     /* softmax scale; 0 = 1/sqrt(D) */
    int64_t kv_cap;  /* 0: sequences packed back to back (above).  > 0: a
                        KV cache with room for kv_cap tokens per sequence:
                        sequence b starts at element b*H_kv*kv_cap*D, HND
                        token j of head h at h*kv_cap*D + j*D within it
                        (NHD: j*H_kv*D + h*D); every lens[b] <= kv_cap.
                        CPU only. */
} attn_problem;

/* 0 when p is well formed (lengths given and within the dims' limits, a
 * known dtype, lens[b] <= kv_cap); else -1 with a message. */
int attn_problem_check(const attn_problem *p, char *err, size_t errlen);
size_t attn_q_elems(const attn_problem *p); /* B*H_q*D, also the size of o */
size_t
attn_kv_elems(const attn_problem *p); /* H_kv*D*sum(L_b) (B*H_kv*D*kv_cap with a cap), each of K and V */
int64_t attn_len_sum(const attn_problem *p);
int attn_len_max(const attn_problem *p);
/* Element offset in K (or V) of token j of KV head h of sequence b, given
 * seq_base[b] = H_kv*D*sum_{b'<b} L_b' (attn_seq_base fills [B]). */
void attn_seq_base(const attn_problem *p, size_t *seq_base);
size_t attn_kv_offset(const attn_problem *p, const size_t *seq_base, int b, int h, int64_t j);

/* Options of a CPU run. */
typedef struct {
    int workers; /* W >= 1: the number of SMs this run pretends to have */
    int grid;    /* lean, lean-combine: Stream-K workers G; 0 = W */
    int splits;  /* splitkv: 0 = attn_fa2_num_splits(B*H_kv, W, n_blocks, 128) */
    int threads; /* OpenMP threads; 0 = W.  Problems under ~4M multiply-
                    adds (tiles*block_n*g*D) run on one thread whatever this
                    says; the output bits do not depend on it. */
    int reverse; /* walk tiles backwards inside each piece (ONNX Runtime order) */
} attn_opts;

/* What a run's schedule looked like (for the benchmark record). */
typedef struct {
    int grid;                     /* work units launched in the main pass */
    int64_t tiles_total;          /* LeanTiles in all heads */
    int64_t tiles_per_worker_max; /* tiles of the most loaded unit */
    int splits_max;               /* most pieces any head was cut into */
    size_t scratch_bytes;         /* partial-result buffers */
} attn_sched_info;

/* Run one algorithm.  q [B,H_q,D], k and v packed as above, o [B,H_q,D], all
 * of type p->dtype; lse [B,H_q] (natural log) may be NULL; info may be NULL.
 * Returns 0, or -1 with a message (bad shape or options). */
int attn_cpu_run(attn_alg alg, const attn_problem *p, const attn_opts *opts, const void *q, const void *k,
                 const void *v, void *o, float *lse, attn_sched_info *info, char *err, size_t errlen);

/* The fp64 reference on the same stored (rounded) inputs: o64 [B,H_q,D],
 * lse64 [B,H_q] (may be NULL).  threads: OpenMP threads, 0 = default. */
int attn_ref64(const attn_problem *p, const void *q, const void *k, const void *v, double *o64, double *lse64,
               int threads, char *err, size_t errlen);

/* A straightforward same-precision implementation, the "naive kernel" of
 * FlashAttention's error rule: per row, logits x_j = scale * q.k_j in fp32,
 * softmax by max-subtraction over the whole row, p_j, then o = sum p_j v_j / l.
 * For 16-bit storage the logits and the probabilities are rounded to the
 * storage type (as a same-dtype matmul + softmax + matmul would) and the sums
 * accumulate in fp32.  o [B,H_q,D] in p->dtype. */
int attn_naive_same(const attn_problem *p, const void *q, const void *k, const void *v, void *o, float *lse,
                    int threads, char *err, size_t errlen);

/* max |o - ref| over n elements; +inf if o holds a NaN or an infinity. */
double attn_max_abs_err(const void *o, attn_dtype t, const double *ref, size_t n);

/* Accuracy of an output against the fp64 reference and the naive kernel. */
typedef struct {
    double max_err;     /* max |o - ref64| */
    double naive_err;   /* max |o_naive - ref64| */
    double ratio;       /* max_err / naive_err (0 when both are 0) */
    double lse_rel_err; /* max relative LSE error (0 if no lse given) */
    size_t nonfinite;   /* NaN/Inf elements in o */
    int ok;             /* max_err <= 2*naive_err + atol and nonfinite == 0 */
} attn_accuracy;

/* FlashAttention's rule: err <= 2 * naive_err + atol. */
int attn_err_ok(double err, double naive_err, double atol);
/* Default atol: 1e-6 for fp32 output, 1e-4 for bf16/fp16 (it only matters
 * when the naive error is itself ~0, e.g. L = 1). */
double attn_default_atol(attn_dtype t);
/* Fill acc.  lse and ref_lse may be NULL; naive_o is the naive kernel's
 * output (same dtype); rows with length-0 sequences are skipped for lse. */
void attn_measure(const attn_problem *p, const void *o, const float *lse, const double *ref_o,
                  const double *ref_lse, const void *naive_o, double atol, attn_accuracy *acc);

#endif
