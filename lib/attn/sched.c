/* sched.c - LeanTile sizes, Stream-K partition, ONNX Runtime's lean grid and
 * FlashAttention-2's split heuristic (see sched.h for the upstream functions
 * they reproduce).  Integer arithmetic only, except FA2's float efficiency test,
 * reproduced in float as FA2 does. */
#include "attn/sched.h"
#include "core/diag.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int attn_block_n(int D)
{
    return D <= 64 ? 256 : D <= 128 ? 128 : 64;
}

int attn_dims_block_n(const attn_dims *d)
{
    return d->block_n > 0 ? d->block_n : attn_block_n(d->D);
}

int attn_dims_check(const attn_dims *d, const int *lens, char *err, size_t errlen)
{
    if (d->B < 1 || d->H_q < 1 || d->H_kv < 1 || d->D < 1) {
        lm_seterr(err, errlen,
                  "attention shape needs B, H_q, H_kv, D >= 1 (got B=%d H_q=%d "
                  "H_kv=%d D=%d)",
                  d->B, d->H_q, d->H_kv, d->D);
        return -1;
    }
    if (d->H_q % d->H_kv) {
        lm_seterr(err, errlen, "H_q=%d is not a multiple of H_kv=%d", d->H_q, d->H_kv);
        return -1;
    }
    if (d->block_n < 0) {
        lm_seterr(err, errlen, "tile length %d is negative", d->block_n);
        return -1;
    }
    if (lens) {
        for (int b = 0; b < d->B; b++)
            if (lens[b] < 0) {
                lm_seterr(err, errlen, "sequence %d has negative length %d", b, lens[b]);
                return -1;
            }
    }
    return 0;
}

int attn_tiles_init(attn_tiles *t, const attn_dims *d, const int *lens, char *err, size_t errlen)
{
    t->tile0 = NULL;
    if (attn_dims_check(d, lens, err, errlen))
        return -1;
    if (!lens) {
        lm_seterr(err, errlen, "no sequence lengths given");
        return -1;
    }
    int bn = attn_dims_block_n(d);
    size_t nh = (size_t)d->B * (size_t)d->H_kv;
    t->tile0 = lm_xmalloc(lm_xmul(nh + 1, sizeof *t->tile0));
    t->n_heads = nh;
    t->block_n = bn;
    t->n_blocks_max = 0;
    int64_t acc = 0;
    for (int b = 0; b < d->B; b++) {
        int nb = (int)(((int64_t)lens[b] + bn - 1) / bn);
        if (nb > t->n_blocks_max)
            t->n_blocks_max = nb;
        for (int h = 0; h < d->H_kv; h++) {
            t->tile0[(size_t)b * d->H_kv + h] = acc;
            acc += nb;
        }
    }
    t->tile0[nh] = acc;
    t->total = acc;
    return 0;
}

void attn_tiles_free(attn_tiles *t)
{
    free(t->tile0);
    t->tile0 = NULL;
}

size_t attn_tiles_head_of(const attn_tiles *t, int64_t tile)
{
    /* largest hd with tile0[hd] <= tile; it then has tile0[hd+1] > tile */
    size_t lo = 0, hi = t->n_heads; /* answer in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->tile0[mid] <= tile)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

void attn_streamk_init(attn_streamk *s, int64_t total, int G)
{
    s->total = total;
    if (total <= 0) {
        s->G = 0;
        s->max_tiles = s->high_load = 0;
        return;
    }
    if (G < 1)
        G = 1;
    if ((int64_t)G > total)
        G = (int)total;
    s->G = G;
    s->max_tiles = (total + G - 1) / G;
    s->high_load = total - (s->max_tiles - 1) * G;
}

void attn_streamk_range(const attn_streamk *s, int c, int64_t *begin, int64_t *end)
{
    int64_t b, n;
    if (c < s->high_load) {
        b = (int64_t)c * s->max_tiles;
        n = s->max_tiles;
    } else {
        b = (s->max_tiles - 1) * c + s->high_load;
        n = s->max_tiles - 1;
    }
    *begin = b;
    *end = b + n;
}

int attn_streamk_owner(const attn_streamk *s, int64_t tile)
{
    int64_t split = s->high_load * s->max_tiles;
    if (tile < split)
        return (int)(tile / s->max_tiles);
    return (int)(s->high_load + (tile - split) / (s->max_tiles - 1));
}

void attn_lean_grid_ort(attn_lean_grid *out, int64_t total, int num_n_blocks, int B, int H_kv, int num_sms)
{
    int64_t G;
    out->total = total;
    if (total <= 0) {
        out->G = 0;
        out->max_tiles = out->high_load = 0;
        out->num_splits = 1;
        return;
    }
    if (num_n_blocks < 1)
        num_n_blocks = 1;
    if (total <= 4 * (int64_t)num_sms) {
        int64_t a = (total + 1) / 2;
        int64_t b = (32 * total + num_n_blocks - 1) / num_n_blocks;
        G = a < b ? a : b;
    } else {
        int64_t a = 2 * (int64_t)num_sms;
        int64_t b = 32 * (int64_t)H_kv * B; /* * num_m_blocks (= 1 in decode) */
        G = a < b ? a : b;
    }
    if (G < 1)
        G = 1;
    if (G > total)
        G = total;
    out->G = (int)G;
    out->max_tiles = (total + G - 1) / G;
    out->high_load = total - (out->max_tiles - 1) * G;
    if (total % G == 0)
        out->num_splits = (int)(1 + (num_n_blocks + out->max_tiles - 2) / out->max_tiles);
    else if (out->max_tiles > 1)
        out->num_splits = (int)(1 + (num_n_blocks + out->max_tiles - 3) / (out->max_tiles - 1));
    else
        out->num_splits = 1;
}

static int ceil_div(int a, int b)
{
    return (a + b - 1) / b;
}

int attn_fa2_num_splits(int batch_nheads_mblocks, int num_sms, int num_n_blocks, int max_splits)
{
    if (batch_nheads_mblocks < 1 || num_n_blocks < 1 || num_sms < 1 || max_splits < 1)
        return 1;
    if ((float)batch_nheads_mblocks >= 0.8f * (float)num_sms)
        return 1;
    if (max_splits > num_sms)
        max_splits = num_sms;
    if (max_splits > num_n_blocks)
        max_splits = num_n_blocks;
    float best = 0.0f;
    /* first pass: the best efficiency over eligible split counts */
    for (int s = 1; s <= max_splits; s++) {
        if (s > 1 && ceil_div(num_n_blocks, s) == ceil_div(num_n_blocks, s - 1))
            continue;
        float w = (float)batch_nheads_mblocks * (float)s / (float)num_sms;
        float eff = w / ceilf(w);
        if (eff > best)
            best = eff;
    }
    for (int s = 1; s <= max_splits; s++) {
        if (s > 1 && ceil_div(num_n_blocks, s) == ceil_div(num_n_blocks, s - 1))
            continue;
        float w = (float)batch_nheads_mblocks * (float)s / (float)num_sms;
        float eff = w / ceilf(w);
        if (eff >= 0.85f * best)
            return s;
    }
    return 1;
}

int64_t attn_splitkv_tiles_per_split(int n_blocks_max, int splits)
{
    if (splits < 1)
        splits = 1;
    return ((int64_t)n_blocks_max + splits - 1) / splits;
}
