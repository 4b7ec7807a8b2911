/* attn_cuda.h - plain C interface to the CUDA decode-attention kernels of
 * leanattn-bench (kernels/attn_cuda.cu): device query, buffers, the four
 * schedules (nosplit, splitkv, lean, lean-combine) on caller-provided device
 * buffers, cudaEvent timing with an L2 flush, and a streaming-read bandwidth
 * kernel.  The layouts, dtypes and the meaning of every schedule are those of
 * lib/attn/attn.h, whose CPU functions are the reference for these kernels;
 * the grid of lean and the split count of splitkv are chosen by the caller
 * with lib/attn/sched.h (attn_lean_grid_ort, attn_fa2_num_splits), so the
 * scheduling arithmetic exists once and is unit-tested on the CPU.
 *
 * Not here: the tensor-core (mma.sync) path, paged KV, CUDA graphs, fp32
 * storage (GPU storage is bf16 or fp16; accumulation fp32).  GQA groups up to
 * 8 query heads per KV head; D = 64 or 128.
 * Every function returns 0, or -1 with a message in err; none prints.
 */
#ifndef LMKIT_ATTN_CUDA_H
#define LMKIT_ATTN_CUDA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Same numbering as attn_dtype, attn_layout and attn_alg in lib/attn/attn.h. */
enum { ATTN_CUDA_BF16 = 1, ATTN_CUDA_F16 = 2 };
enum { ATTN_CUDA_HND = 0, ATTN_CUDA_NHD = 1 };
enum { ATTN_CUDA_NOSPLIT = 1, ATTN_CUDA_SPLITKV = 2, ATTN_CUDA_LEAN = 3, ATTN_CUDA_LEAN_COMBINE = 4 };
enum { ATTN_CUDA_MAX_GROUP = 8, ATTN_CUDA_THREADS = 128 };

typedef struct {
    char name[256];
    int sm_count;
    long long l2_bytes;
    long long mem_bytes;
    int cc_major, cc_minor;
    int sm_clock_khz;  /* 0 when the runtime does not report it */
    int mem_clock_khz; /* 0 when the runtime does not report it */
    int driver_version, runtime_version;
} attn_cuda_info;

/* Number of CUDA devices (0 when there is no driver or no device). */
int attn_cuda_device_count(void);
int attn_cuda_device_info(int device, attn_cuda_info *info, char *err, size_t errlen);
/* Resident CTAs per SM of the lean kernel (the co-residency bound for G). */
int attn_cuda_lean_occupancy(int device, int *ctas_per_sm, char *err, size_t errlen);

int attn_cuda_malloc(void **p, size_t bytes, char *err, size_t errlen);
void attn_cuda_free(void *p);
int attn_cuda_upload(void *dst_dev, const void *src_host, size_t bytes, char *err, size_t errlen);
int attn_cuda_download(void *dst_host, const void *src_dev, size_t bytes, char *err, size_t errlen);

typedef struct {
    int B, H_q, H_kv, D; /* H_q / H_kv <= 8; D = 64 or 128 */
    int dtype;           /* ATTN_CUDA_BF16 or ATTN_CUDA_F16 */
    int layout;          /* ATTN_CUDA_HND or ATTN_CUDA_NHD */
    int block_n;         /* LeanTile tokens, multiple of 16; 0 = 256/128 by D */
    float scale;         /* 0 = 1/sqrt(D) */
    int alg;             /* ATTN_CUDA_NOSPLIT .. ATTN_CUDA_LEAN_COMBINE */
    int grid;            /* lean, lean-combine: CTAs G >= 1 (lean: <= occupancy*SMs) */
    int splits;          /* splitkv: splits >= 1 */
    int reverse;         /* walk tiles backwards within a piece (ONNX Runtime order) */
} attn_cuda_config;

typedef struct attn_cuda_plan attn_cuda_plan;

/* Validate the shape, upload lens [B] and the tile prefix, allocate scratch
 * and flags on `device`. */
int attn_cuda_plan_create(attn_cuda_plan **out, int device, const attn_cuda_config *cfg, const int *lens,
                          char *err, size_t errlen);
void attn_cuda_plan_destroy(attn_cuda_plan *p);
/* The schedule: CTAs of the main kernel, tiles, most tiles per CTA, most
 * pieces per head, scratch bytes, and the number of partial rows written. */
void attn_cuda_plan_info(const attn_cuda_plan *p, int *grid, long long *tiles_total,
                         long long *tiles_per_cta_max, int *splits_max, size_t *scratch_bytes,
                         long long *partial_rows);

/* Run once on device buffers (q [B,H_q,D], k/v packed as in attn.h,
 * o [B,H_q,D], lse [B,H_q] fp32 or NULL) and wait for completion.  q, k, v
 * and o must be 16-byte aligned. */
int attn_cuda_run(attn_cuda_plan *p, const void *q, const void *k, const void *v, void *o, float *lse,
                  char *err, size_t errlen);
/* warmup untimed runs, then iters timed runs, each time (in microseconds,
 * us[iters]) measured with cudaEvents around the whole schedule (split-KV and
 * lean-combine include their combine kernel); flush_l2 writes a buffer of
 * twice the L2 size before every timed run, outside the timed interval. */
int attn_cuda_time(attn_cuda_plan *p, const void *q, const void *k, const void *v, void *o, int warmup,
                   int iters, int flush_l2, double *us, char *err, size_t errlen);
/* Read-only streaming bandwidth: 128-bit loads over `bytes` (>= 16 MiB)
 * device memory, best of iters, in GB/s (1e9 B/s). */
int attn_cuda_read_bw(int device, size_t bytes, int iters, double *gbps, char *err, size_t errlen);
/* Write a buffer of 2x the L2 size (allocated on first use, freed with the
 * plan). */
int attn_cuda_flush_l2(attn_cuda_plan *p, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
