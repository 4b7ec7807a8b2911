/* harness.h - the run side of leanattn-bench: shapes read from records, one
 * shape run through every chosen algorithm on random inputs (buffers, fill,
 * references, timing, accuracy), and the device it runs on behind one table
 * of functions, as lib/nn/backend.h does for the encoder.
 *
 *   attn_backend_cpu   lib/attn/cpu.c's schedules, timed with the monotonic
 *                      clock, caches flushed by writing twice the LLC
 *   the CUDA backend   kernels/attn_cuda.h through liblmkit-cuda.so
 *                      (nn/backend_cuda.h), opened by attn_device_open; the
 *                      naive algorithm still runs on the CPU
 *
 * Nothing here prints or exits: errors come back as messages (and hints);
 * the command writes the records.  Host memory follows the rule of
 * core/diag.h (lm_xmalloc: running out exits 2 through the out-of-memory
 * hook); the shape's K and V are bounded by b->max_kv_bytes first
 * (attn_shape_check).  Device memory (cudaMalloc) failures are returned.
 */
#ifndef LMKIT_ATTN_HARNESS_H
#define LMKIT_ATTN_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "attn/attn.h"
#include "attn/check.h"
#include "attn/sched.h"
#include "core/jsonl.h"

enum { ATTN_MAX_HEADS = 4096, ATTN_MAX_BATCH = 65536 };
#define ATTN_MAX_CTX (1 << 30)

/* One shape. */
typedef struct {
    attn_dims dims;
    int *lens;         /* [B] */
    int ragged;        /* "ctx" was a list */
    const char *label; /* matrix cells */
    int grid_mult;     /* matrix cells: lean grid rule (bench.h) */
} attn_shape;

/* Reads {"batch","heads","kv_heads","head_dim","ctx"} (ctx a number or a
 * list, one per sequence).  0 with s->lens allocated (free it), or -1 with
 * err set at the offending value. */
int attn_shape_parse(const lm_record *in, attn_shape *s, lm_rerr *err);

/* What one algorithm gave on one shape. */
typedef struct {
    int ran;
    const char *device; /* "cpu" or "cuda" */
    int workers;        /* the workers (or SMs) it was scheduled on */
    double t_med, t_min, t_max;
    attn_sched_info si;
    double partial_rows;
    attn_accuracy acc;
    uint64_t checksum;
} attn_result;

typedef struct attn_backend attn_backend;

/* The settings and the state of a benchmark run. */
typedef struct {
    const attn_backend *be;
    void *dev;        /* the backend's state (NULL on the CPU) */
    double mem_bytes; /* memory of the device (0: unknown) */
    attn_alg algs[ATTN_N_ALGS];
    int nalg;
    attn_dtype dtype;
    attn_layout layout;
    int runs, warmup;
    int no_flush;
    int workers, threads;
    uint64_t seed;
    size_t max_kv_bytes;
    long llc; /* last-level cache bytes */
    unsigned char *flush;
    size_t flush_bytes;
    uint64_t n_results; /* records written so far (attn_shape_run counts them) */
} attn_bench;

struct attn_backend {
    const char *name;      /* "cpu" or "cuda" */
    const char *bw_source; /* the bandwidth's "bw_source" */
    const char *bw_what;   /* "CPU" or "GPU", for messages */
    /* streaming-read bandwidth in GB/s: 0, or -1 with a message */
    int (*read_bw)(attn_bench *b, double *gbps, char *err, size_t errlen);
    /* 0 when the device takes the shape, else -1 with a message and hint */
    int (*shape_ok)(const attn_bench *b, const attn_problem *p, char *err, size_t errlen, const char **hint);
    /* copies the inputs to the device (NULL on the CPU) */
    int (*upload)(attn_bench *b, const attn_problem *p, const attn_shape *sh, const void *q, const void *k,
                  const void *v, char *err, size_t errlen);
    /* warm-up and timed runs of one algorithm: us[runs], o and lse hold its output */
    int (*run)(attn_bench *b, attn_alg a, const attn_problem *p, const attn_shape *sh, size_t kv_bytes,
               const void *q, const void *k, const void *v, void *o, float *lse, double *us, attn_result *r,
               char *err, size_t errlen);
    /* frees what upload allocated (NULL on the CPU) */
    void (*release)(attn_bench *b);
    /* the correctness suite's implementation under test (NULL: the CPU code) */
    attn_check_runner check;
};

extern const attn_backend attn_backend_cpu;

/* Opens the device of --device: want LM_DEVICE_AUTO, _CPU or _CUDA
 * (core/cli.h); cpu_dtype set when the data type only runs on the CPU
 * (then auto loads nothing).  Sets b->be, b->dev and b->mem_bytes.  0, or
 * -1 with a message and a hint (NULL when none): a usage or system error. */
int attn_device_open(attn_bench *b, int want, int cpu_dtype, char *err, size_t errlen, const char **hint);
void attn_device_close(attn_bench *b);

/* Whether the shape fits: K+V under b->max_kv_bytes, and the device takes
 * it.  0, or -1 with a message and a hint. */
int attn_shape_check(const attn_bench *b, const attn_shape *sh, char *err, size_t errlen, const char **hint);

/* Runs every algorithm of b->algs on the shape with inputs seeded by
 * (b->seed, stream): res[alg] is filled for each (indexed by attn_alg).
 * Call attn_shape_check first, and have the bandwidth measured (the timed
 * runs would disturb it).  0, or -1 with a message (a shape the library
 * refuses, a device error). */
int attn_shape_run(attn_bench *b, const attn_shape *sh, uint64_t stream, attn_result res[ATTN_N_ALGS],
                   char *err, size_t errlen);

/* Fills n elements of type t with N(0,1) values in chunks of 2^16, each
 * with its own stream, so that the values do not depend on the thread
 * count. */
void attn_fill_normal(void *buf, attn_dtype t, size_t n, uint64_t seed, int threads);

/* FNV-1a of n bytes: the checksum of an output. */
uint64_t attn_fnv1a(const void *p, size_t n);

#endif
