/* sched.h - scheduling arithmetic for decode attention: LeanTiles, the
 * Stream-K partition used by LeanAttention, and the FlashDecoding split count.
 *
 * Stream-K in one minute.  In decode every sequence contributes ONE query row
 * (or one packed GQA group of g rows) per KV head, so the work is "for every
 * head (b, h_kv), stream its L_b keys/values once".  Cut each head's context
 * into LeanTiles of block_n tokens (256 for d <= 64, 128 for d <= 128, 64
 * above).  A tile costs the same everywhere, so the whole problem is one flat
 * list of `total` tiles: head 0's tiles, then head 1's, ... (heads ordered
 * b-major, h_kv minor; a ragged batch just gives heads different tile counts).
 *
 *     tiles:   |h0 h0 h0 h0 h0|h1 h1 h1 h1 h1|h2 h2 h2 h2 h2|      total = 15
 *     workers: [ w0      ][ w1     ][ w2     ][ w3    ][ w4   ]  G = 4 -> 4,4,4,3
 *
 * Each of G persistent workers (CTAs on a GPU, threads on the CPU) takes one
 * contiguous range of ceil(total/G) or floor(total/G) tiles, ignoring head
 * boundaries, so no worker has more than one tile more than another.  A head
 * cut by range boundaries is computed in pieces; online softmax states are
 * associative, so the pieces are merged afterwards (attn.h).  The worker that
 * owns a head's tile 0 is its "host", the one that owns its last tile its
 * "finisher".  FlashDecoding (splitkv) instead cuts every head into the same
 * number of equal splits, chosen by FlashAttention-2's heuristic; nosplit
 * gives each head to one worker.
 *
 * This file does only integer arithmetic; it allocates nothing but the tile
 * prefix array.  The lean grid is ONNX Runtime's, exactly
 * (onnxruntime/contrib_ops/cuda/bert/lean_attention/lean_api.cc,
 * get_num_splits_and_buffer_sizes), extended here to ragged batches: each
 * head gets its own tile count where ONNX Runtime sizes every head by L_max.
 * The split count is FlashAttention-2's num_splits_heuristic
 * (csrc/flash_attn/flash_api.cpp), exactly.  Papers: Sanovar et al., "Lean
 * Attention", MLSys 2025 (arXiv 2405.10480); Osama et al., "Stream-K",
 * PPoPP 2023.
 */
#ifndef LMKIT_ATTN_SCHED_H
#define LMKIT_ATTN_SCHED_H

#include <stddef.h>
#include <stdint.h>

/* LeanTile length in tokens for head dim D (ONNX Runtime / FA2 split-KV). */
int attn_block_n(int D);

/* Problem dimensions shared by every algorithm.  Query heads are grouped:
 * query head h_q reads KV head h_q / g with g = H_q / H_kv, and the g query
 * heads of one KV head are processed together as one packed group. */
typedef struct {
    int B;       /* batch (sequences) */
    int H_q;     /* query heads; a multiple of H_kv */
    int H_kv;    /* KV heads */
    int D;       /* head dim */
    int block_n; /* tokens per LeanTile; 0 = attn_block_n(D) */
} attn_dims;

/* Validate dims (and lens when not NULL: [B] lengths >= 0).  0 or -1. */
int attn_dims_check(const attn_dims *d, const int *lens, char *err, size_t errlen);
int attn_dims_block_n(const attn_dims *d);

/* The flattened tile list.  Head index hd = b*H_kv + h_kv. */
typedef struct {
    size_t n_heads;   /* B*H_kv */
    int64_t *tile0;   /* [n_heads+1] first global tile of each head (prefix sum) */
    int64_t total;    /* tiles in all heads */
    int block_n;      /* tokens per tile */
    int n_blocks_max; /* tiles of the longest head (num_n_blocks from L_max) */
} attn_tiles;

/* Build from lens[B]; tiles of head (b, .) = ceil(lens[b] / block_n).
 * Returns 0, or -1 with a message (bad dims). */
int attn_tiles_init(attn_tiles *t, const attn_dims *d, const int *lens, char *err, size_t errlen);
void attn_tiles_free(attn_tiles *t);
/* Head whose tile range contains global tile `tile` (0 <= tile < total);
 * heads with no tiles are never returned. */
size_t attn_tiles_head_of(const attn_tiles *t, int64_t tile);

/* Stream-K partition of `total` tiles over G workers (as ONNX Runtime's
 * get_num_splits_and_buffer_sizes computes it):
 * max_tiles = ceil(total/G), the first high_load workers get max_tiles tiles,
 * the rest max_tiles-1.  G is clamped to [1, total] (total 0 gives G = 0). */
typedef struct {
    int64_t total;
    int G;
    int64_t max_tiles;
    int64_t high_load;
} attn_streamk;

void attn_streamk_init(attn_streamk *s, int64_t total, int G);
/* Worker c's tile range [begin, end). */
void attn_streamk_range(const attn_streamk *s, int c, int64_t *begin, int64_t *end);
/* The worker whose range contains tile (0 <= tile < total). */
int attn_streamk_owner(const attn_streamk *s, int64_t tile);

/* ONNX Runtime's LeanAttention grid (lean_api.cc,
 * get_num_splits_and_buffer_sizes; decode: one m block).  With
 * ragged lengths pass total = sum of tiles and num_n_blocks from L_max. */
typedef struct {
    int G;             /* CTAs */
    int64_t total;     /* tiles */
    int64_t max_tiles; /* tiles of the most loaded CTA */
    int64_t high_load; /* CTAs with max_tiles tiles */
    int num_splits;    /* ORT's scratch bound on pieces per head */
} attn_lean_grid;

void attn_lean_grid_ort(attn_lean_grid *out, int64_t total, int num_n_blocks, int B, int H_kv, int num_sms);

/* FlashAttention-2's num_splits_heuristic (csrc/flash_attn/flash_api.cpp),
 * exact.  Called by FA2 with batch_nheads_mblocks = B*H_kv and
 * num_sms = 2*SMs, max_splits = 128. */
int attn_fa2_num_splits(int batch_nheads_mblocks, int num_sms, int num_n_blocks, int max_splits);

/* splitkv geometry: tiles per split and the number of pieces of head hd
 * (empty trailing splits do not count). */
int64_t attn_splitkv_tiles_per_split(int n_blocks_max, int splits);

#endif
