/* bench.h - the data side of leanattn-bench: the named benchmark matrices
 * (paper, gqa, waves, ragged, ablation; see leanattn-bench(1), --matrix), the
 * bytes a decode call must move and its physical time floor, a CPU streaming-
 * read bandwidth measurement, and order statistics of timings.  No GPU code,
 * no output formatting. */
#ifndef LMKIT_ATTN_BENCH_H
#define LMKIT_ATTN_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "attn/sched.h"

/* One benchmark cell.  Uniform cells have lens[b] = L for all b. */
typedef struct {
    char label[64];   /* e.g. "paper", "waves BH=280", "ragged 1x128k+15x2k" */
    attn_dims dims;   /* block_n 0 = default; the ablation sets 64/128/256 */
    int L;            /* uniform length, or 0 for a ragged cell */
    int *lens;        /* [dims.B] lengths (owned by the cell list) */
    int grid_mult;    /* lean grid: 0 = ONNX Runtime formula, k > 0 = k*SMs,
                        -1 = occupancy*SMs (ablation) */
    int64_t kv_bytes; /* K+V bytes at 2 bytes per element */
} attn_cell;

typedef struct {
    attn_cell *cells;
    size_t n;
} attn_cell_list;

/* Names accepted by attn_matrix, NULL-terminated. */
extern const char *const attn_matrix_names[];

/* The cells of a named matrix.  full = 0 gives the default sweep (a sample of
 * "paper" and all others), 1 everything.  Cells whose bf16 K+V exceed
 * max_kv_bytes (0 = 64 GiB) are dropped.  Returns 0, or -1 with a message
 * (unknown name: the message lists the valid ones). */
int attn_matrix(const char *name, int full, int64_t max_kv_bytes, attn_cell_list *out, char *err,
                size_t errlen);
void attn_cell_list_free(attn_cell_list *l);

/* Bytes a decode call moves: s*(dk+dv)*H_kv*sum(L) for K and V
 * (dk = dv = D) plus q and o (s*D*H_q*B each), plus the split partials
 * written and read: partial_rows * (D + 2) * 4 * 2 where partial_rows is the
 * number of (piece, query row) partial states (0 for nosplit). */
double attn_bytes_kv(const attn_dims *d, int64_t len_sum, int elem_bytes);
double attn_bytes_call(const attn_dims *d, int64_t len_sum, int elem_bytes, double partial_rows);
/* Physical floor in microseconds: bytes / (gbps * 1e9) * 1e6. */
double attn_floor_us(double bytes, double gbps);

/* CPU streaming-read bandwidth: `threads` threads (0 = default) sum a buffer
 * of `bytes` (>= 1 MiB) `reps` times; the best pass is reported in GB/s
 * (1e9 bytes per second).  Returns 0, or -1 with a message. */
int attn_cpu_read_bw(size_t bytes, int reps, int threads, double *gbps, char *err, size_t errlen);

/* Order statistic of n timings by linear interpolation, q in [0, 1]
 * (0.5 = median, 0.1 = p10).  Sorts a copy; returns NAN when n = 0. */
double attn_quantile(const double *x, size_t n, double q);

#endif
