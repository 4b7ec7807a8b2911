/* cpu.c - the CPU twins of the GPU schedules: nosplit, splitkv (FlashDecoding),
 * lean (Stream-K with the in-kernel host merge) and lean-combine (Stream-K
 * with a separate combine pass).  See attn.h for the contract and sched.h for
 * the Stream-K picture; the papers and upstream code they follow are named
 * there.
 *
 * All four share one inner routine, attend(): stream a run of LeanTiles of
 * one KV head through the online softmax for the g packed query rows, in log2
 * units: each dot product is multiplied once by the folded constant
 * scale*log2(e), so every exponential is an exp2.  (Folding the constant into
 * q instead would add D roundings per logit, enough to break the 2x rule in
 * fp32 for very peaked softmax.)
 * The schedules differ only in which runs of tiles form one work unit and how
 * the partial states are merged.  Work units are handed to OpenMP threads in
 * whatever way; the result never depends on that (attn.h, "Determinism").
 *
 * lean's host/contributor protocol is the GPU's (kernels/attn_cuda.cu) with
 * C11 atomics: a contributor writes its raw (m, l, O) into its own slot, then
 * stores the launch epoch into its flag with release order; the host spins
 * with acquire loads.  A worker only ever waits on higher-numbered workers,
 * which do their contributor piece first, and units are claimed from the
 * highest worker down, so any number of threads >= 1 completes (no
 * co-residency hazard).
 */
#include "attn/attn.h"
#include "core/diag.h"

#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#define LOG2E 1.4426950408889634f
#define LN2 0.69314718055994531
#define ATTN_PAR_MIN_MACS 4e6

/* Read-only context of one run. */
typedef struct {
    const attn_problem *p;
    const attn_tiles *tl;
    const void *q, *k, *v;
    void *o;
    float *lse;
    const size_t *base; /* [B] sequence offsets in K/V */
    int g, D, bn, reverse;
    float qscale; /* scale * log2(e) */
} ctx_t;

/* Per-thread scratch: the running state of one piece plus buffers. */
typedef struct {
    float *qf;  /* [g, D] query rows */
    float *m;   /* [g] running max (log2 units) */
    float *l;   /* [g] running sum */
    float *O;   /* [g, D] unnormalised output */
    float *s;   /* [g, bn] logits of the current tile */
    float *row; /* [D] one converted K or V row */
} ws_t;

static size_t ws_floats(int g, int D, int bn)
{
    return (size_t)g * D * 2 + (size_t)g * 2 + (size_t)g * bn + (size_t)D;
}

static void ws_carve(ws_t *w, float *blk, int g, int D, int bn)
{
    w->qf = blk;
    w->O = w->qf + (size_t)g * D;
    w->m = w->O + (size_t)g * D;
    w->l = w->m + g;
    w->s = w->l + g;
    w->row = w->s + (size_t)g * bn;
}

/* Reset the state and load the g query rows of head hd. */
static void begin_head(const ctx_t *c, ws_t *w, size_t hd)
{
    int Hkv = c->p->dims.H_kv, b = (int)(hd / (size_t)Hkv), h = (int)(hd % (size_t)Hkv);
    size_t q0 = ((size_t)b * c->p->dims.H_q + (size_t)h * c->g) * c->D;
    for (int i = 0; i < c->g * c->D; i++) {
        w->qf[i] = attn_load(c->q, c->p->dtype, q0 + i);
        w->O[i] = 0.0f;
    }
    for (int r = 0; r < c->g; r++) {
        w->m[r] = -INFINITY;
        w->l[r] = 0.0f;
    }
}

static void load_row(const ctx_t *c, const void *src, size_t off, float *dst)
{
    attn_dtype t = c->p->dtype;
    if (t == ATTN_F32) {
        memcpy(dst, (const float *)src + off, (size_t)c->D * sizeof *dst);
    } else if (t == ATTN_BF16) {
        const uint16_t *s = (const uint16_t *)src + off;
        for (int d = 0; d < c->D; d++)
            dst[d] = attn_bf16_to_f32(s[d]);
    } else {
        const uint16_t *s = (const uint16_t *)src + off;
        for (int d = 0; d < c->D; d++)
            dst[d] = attn_f16_to_f32(s[d]);
    }
}

/* One LeanTile: tokens [t0, t1) of head hd folded into the state. */
static void attend_tile(const ctx_t *c, ws_t *w, size_t hd, int64_t t0, int64_t t1)
{
    const int g = c->g, D = c->D, bn = c->bn, n = (int)(t1 - t0);
    int b = (int)(hd / (size_t)c->p->dims.H_kv), h = (int)(hd % (size_t)c->p->dims.H_kv);
    for (int j = 0; j < n; j++) {
        load_row(c, c->k, attn_kv_offset(c->p, c->base, b, h, t0 + j), w->row);
        for (int r = 0; r < g; r++) {
            const float *qr = w->qf + (size_t)r * D;
            float acc = 0.0f;
            for (int d = 0; d < D; d++)
                acc += qr[d] * w->row[d];
            w->s[(size_t)r * bn + j] = acc * c->qscale;
        }
    }
    /* rescale once per tile, after the tile maximum is known */
    for (int r = 0; r < g; r++) {
        float mt = -INFINITY;
        for (int j = 0; j < n; j++)
            if (w->s[(size_t)r * bn + j] > mt)
                mt = w->s[(size_t)r * bn + j];
        float mn = mt > w->m[r] ? mt : w->m[r];
        if (mn > w->m[r]) {
            float alpha = w->m[r] == -INFINITY ? 0.0f : exp2f(w->m[r] - mn);
            w->l[r] *= alpha;
            for (int d = 0; d < D; d++)
                w->O[(size_t)r * D + d] *= alpha;
            w->m[r] = mn;
        }
    }
    for (int j = 0; j < n; j++) {
        load_row(c, c->v, attn_kv_offset(c->p, c->base, b, h, t0 + j), w->row);
        for (int r = 0; r < g; r++) {
            float pj = exp2f(w->s[(size_t)r * bn + j] - w->m[r]);
            float *Or = w->O + (size_t)r * D;
            w->l[r] += pj;
            for (int d = 0; d < D; d++)
                Or[d] += pj * w->row[d];
        }
    }
}

/* Local tiles [lt0, lt1) of head hd (tile 0 = tokens 0..bn-1). */
static void attend(const ctx_t *c, ws_t *w, size_t hd, int64_t lt0, int64_t lt1)
{
    int L = c->p->lens[hd / (size_t)c->p->dims.H_kv];
    for (int64_t i = 0; i < lt1 - lt0; i++) {
        int64_t t = c->reverse ? lt1 - 1 - i : lt0 + i;
        int64_t a = t * c->bn, e = a + c->bn < L ? a + c->bn : L;
        attend_tile(c, w, hd, a, e);
    }
}

/* Normalise the state and store o (and lse) for head hd. */
static void store_head(const ctx_t *c, size_t hd, const float *m, const float *l, const float *O)
{
    int Hkv = c->p->dims.H_kv, b = (int)(hd / (size_t)Hkv), h = (int)(hd % (size_t)Hkv);
    size_t row0 = (size_t)b * c->p->dims.H_q + (size_t)h * c->g;
    for (int r = 0; r < c->g; r++) {
        float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
        for (int d = 0; d < c->D; d++)
            attn_store(c->o, c->p->dtype, (row0 + r) * c->D + d, O[(size_t)r * c->D + d] * inv);
        if (c->lse)
            c->lse[row0 + r] = l[r] > 0.0f ? (float)(m[r] * LN2 + log((double)l[r])) : -INFINITY;
    }
}

/* dst := dst (+) src for raw states. */
static void merge_raw(int g, int D, float *m, float *l, float *O, const float *m2, const float *l2,
                      const float *O2)
{
    for (int r = 0; r < g; r++) {
        float mn = m[r] > m2[r] ? m[r] : m2[r];
        if (mn == -INFINITY)
            continue;
        float sa = m[r] == -INFINITY ? 0.0f : exp2f(m[r] - mn);
        float sb = m2[r] == -INFINITY ? 0.0f : exp2f(m2[r] - mn);
        l[r] = sa * l[r] + sb * l2[r];
        for (int d = 0; d < D; d++)
            O[(size_t)r * D + d] = sa * O[(size_t)r * D + d] + sb * O2[(size_t)r * D + d];
        m[r] = mn;
    }
}

/* Write a piece in LSE form: o_i = O/l [g, D], lse_i = m + log2 l [g]. */
static void write_lse_form(int g, int D, const ws_t *w, float *o_acc, float *lse_acc)
{
    for (int r = 0; r < g; r++) {
        float inv = w->l[r] > 0.0f ? 1.0f / w->l[r] : 0.0f;
        for (int d = 0; d < D; d++)
            o_acc[(size_t)r * D + d] = w->O[(size_t)r * D + d] * inv;
        lse_acc[r] = w->l[r] > 0.0f ? w->m[r] + log2f(w->l[r]) : -INFINITY;
    }
}

/* Combine n pieces in LSE form, piece i at o_acc + i*stride_o, lse_acc +
 * i*stride_l, in increasing i, and store head hd. */
static void combine_head(const ctx_t *c, size_t hd, int n, const float *o_acc, size_t stride_o,
                         const float *lse_acc, size_t stride_l)
{
    int Hkv = c->p->dims.H_kv, b = (int)(hd / (size_t)Hkv), h = (int)(hd % (size_t)Hkv);
    size_t row0 = (size_t)b * c->p->dims.H_q + (size_t)h * c->g;
    for (int r = 0; r < c->g; r++) {
        float lmax = -INFINITY;
        for (int i = 0; i < n; i++)
            if (lse_acc[i * stride_l + r] > lmax)
                lmax = lse_acc[i * stride_l + r];
        float sum = 0.0f;
        if (lmax != -INFINITY)
            for (int i = 0; i < n; i++)
                sum += exp2f(lse_acc[i * stride_l + r] - lmax);
        float ltot = sum > 0.0f ? lmax + log2f(sum) : INFINITY; /* empty -> scales 0 */
        for (int d = 0; d < c->D; d++) {
            float acc = 0.0f;
            for (int i = 0; i < n; i++) {
                float li = lse_acc[i * stride_l + r];
                if (li == -INFINITY)
                    continue;
                acc += exp2f(li - ltot) * o_acc[i * stride_o + (size_t)r * c->D + d];
            }
            attn_store(c->o, c->p->dtype, (row0 + r) * c->D + d, acc);
        }
        if (c->lse)
            c->lse[row0 + r] = sum > 0.0f ? (float)(ltot * LN2) : -INFINITY;
    }
}

static void run_nosplit(const ctx_t *c, float *wsblk, size_t wsn, int T)
{
    long nh = (long)c->tl->n_heads;
#pragma omp parallel num_threads(T)
    {
        ws_t w;
        ws_carve(&w, wsblk + (size_t)omp_get_thread_num() * wsn, c->g, c->D, c->bn);
#pragma omp for schedule(dynamic, 1)
        for (long hd = 0; hd < nh; hd++) {
            begin_head(c, &w, (size_t)hd);
            attend(c, &w, (size_t)hd, 0, c->tl->tile0[hd + 1] - c->tl->tile0[hd]);
            store_head(c, (size_t)hd, w.m, w.l, w.O);
        }
    }
}

static void run_splitkv(const ctx_t *c, float *wsblk, size_t wsn, int T, int S, float *o_acc, float *lse_acc)
{
    const size_t nh = c->tl->n_heads, gD = (size_t)c->g * c->D;
    const int64_t tps = attn_splitkv_tiles_per_split(c->tl->n_blocks_max, S);
    long units = (long)nh * S;
#pragma omp parallel num_threads(T)
    {
        ws_t w;
        ws_carve(&w, wsblk + (size_t)omp_get_thread_num() * wsn, c->g, c->D, c->bn);
#pragma omp for schedule(dynamic, 1)
        for (long u = 0; u < units; u++) {
            size_t hd = (size_t)(u / S);
            int sp = (int)(u % S);
            int64_t nt = c->tl->tile0[hd + 1] - c->tl->tile0[hd];
            int64_t a = sp * tps, e = a + tps < nt ? a + tps : nt;
            begin_head(c, &w, hd);
            if (a < e)
                attend(c, &w, hd, a, e);
            if (S == 1)
                store_head(c, hd, w.m, w.l, w.O);
            else /* o_acc [S, heads, g, D], lse_acc [S, heads, g] */
                write_lse_form(c->g, c->D, &w, o_acc + ((size_t)sp * nh + hd) * gD,
                               lse_acc + ((size_t)sp * nh + hd) * c->g);
        }
        if (S > 1) {
#pragma omp for schedule(dynamic, 1)
            for (long hd = 0; hd < (long)nh; hd++)
                combine_head(c, (size_t)hd, S, o_acc + (size_t)hd * gD, nh * gD, lse_acc + (size_t)hd * c->g,
                             nh * c->g);
        }
    }
}

/* lean: Stream-K ranges with the in-kernel host merge.  slot [G, g*(D+2)]. */
static void run_lean(const ctx_t *c, float *wsblk, size_t wsn, int T, const attn_streamk *sk, float *slot,
                     atomic_uint *flag, unsigned epoch)
{
    const int g = c->g, D = c->D, G = sk->G;
    const size_t slotn = (size_t)g * (D + 2);
    const int64_t *t0 = c->tl->tile0;
    atomic_int next;
    atomic_init(&next, 0);
#pragma omp parallel num_threads(T)
    {
        ws_t w;
        ws_carve(&w, wsblk + (size_t)omp_get_thread_num() * wsn, g, D, c->bn);
        int i;
        /* claim workers from the highest down: see the file comment */
        while ((i = atomic_fetch_add(&next, 1)) < G) {
            int cw = G - 1 - i;
            int64_t tb, te;
            attn_streamk_range(sk, cw, &tb, &te);
            for (int64_t t = tb; t < te;) {
                size_t hd = attn_tiles_head_of(c->tl, t);
                int64_t se = te < t0[hd + 1] ? te : t0[hd + 1];
                int host = t == t0[hd], finisher = se == t0[hd + 1];
                begin_head(c, &w, hd);
                attend(c, &w, hd, t - t0[hd], se - t0[hd]);
                if (!host) { /* contributor: only ever this worker's first piece */
                    float *sl = slot + (size_t)cw * slotn;
                    memcpy(sl, w.m, (size_t)g * sizeof *sl);
                    memcpy(sl + g, w.l, (size_t)g * sizeof *sl);
                    memcpy(sl + 2 * g, w.O, (size_t)g * D * sizeof *sl);
                    atomic_store_explicit(&flag[cw], epoch, memory_order_release);
                } else {
                    if (!finisher) {
                        int last = attn_streamk_owner(sk, t0[hd + 1] - 1);
                        for (int c2 = cw + 1; c2 <= last; c2++) {
                            while (atomic_load_explicit(&flag[c2], memory_order_acquire) != epoch)
                                sched_yield();
                            const float *sl = slot + (size_t)c2 * slotn;
                            merge_raw(g, D, w.m, w.l, w.O, sl, sl + g, sl + 2 * g);
                        }
                    }
                    store_head(c, hd, w.m, w.l, w.O);
                }
                t = se;
            }
        }
    }
}

/* lean-combine: every piece of a split head goes to its slot in LSE form.
 * sbase[hd] = first slot of head hd (heads cut into >1 pieces only). */
static void run_lean_combine(const ctx_t *c, float *wsblk, size_t wsn, int T, const attn_streamk *sk,
                             const size_t *sbase, float *o_acc, float *lse_acc)
{
    const int g = c->g, D = c->D, G = sk->G;
    const size_t gD = (size_t)g * D, nh = c->tl->n_heads;
    const int64_t *t0 = c->tl->tile0;
#pragma omp parallel num_threads(T)
    {
        ws_t w;
        ws_carve(&w, wsblk + (size_t)omp_get_thread_num() * wsn, g, D, c->bn);
#pragma omp for schedule(dynamic, 1)
        for (int cw = 0; cw < G; cw++) {
            int64_t tb, te;
            attn_streamk_range(sk, cw, &tb, &te);
            for (int64_t t = tb; t < te;) {
                size_t hd = attn_tiles_head_of(c->tl, t);
                int64_t se = te < t0[hd + 1] ? te : t0[hd + 1];
                begin_head(c, &w, hd);
                attend(c, &w, hd, t - t0[hd], se - t0[hd]);
                if (t == t0[hd] && se == t0[hd + 1]) {
                    store_head(c, hd, w.m, w.l, w.O);
                } else {
                    size_t sl = sbase[hd] + (size_t)(cw - attn_streamk_owner(sk, t0[hd]));
                    write_lse_form(g, D, &w, o_acc + sl * gD, lse_acc + sl * g);
                }
                t = se;
            }
        }
#pragma omp for schedule(dynamic, 1)
        for (long hd = 0; hd < (long)nh; hd++) {
            if (t0[hd + 1] == t0[hd])
                continue;
            int n = attn_streamk_owner(sk, t0[hd + 1] - 1) - attn_streamk_owner(sk, t0[hd]) + 1;
            if (n > 1)
                combine_head(c, (size_t)hd, n, o_acc + sbase[hd] * gD, gD, lse_acc + sbase[hd] * g,
                             (size_t)g);
        }
    }
}

/* Heads with no tiles (length-0 sequences) get o = 0, lse = -inf. */
static void store_empty_heads(const ctx_t *c)
{
    for (size_t hd = 0; hd < c->tl->n_heads; hd++)
        if (c->tl->tile0[hd + 1] == c->tl->tile0[hd]) {
            int Hkv = c->p->dims.H_kv, b = (int)(hd / (size_t)Hkv), h = (int)(hd % (size_t)Hkv);
            size_t row0 = (size_t)b * c->p->dims.H_q + (size_t)h * c->g;
            for (int r = 0; r < c->g; r++) {
                for (int d = 0; d < c->D; d++)
                    attn_store(c->o, c->p->dtype, (row0 + r) * c->D + d, 0.0f);
                if (c->lse)
                    c->lse[row0 + r] = -INFINITY;
            }
        }
}

static int check_run_args(attn_alg alg, const attn_problem *p, const attn_opts *opts, char *err,
                          size_t errlen)
{
    if (!opts || opts->workers < 1) {
        lm_seterr(err, errlen, "the worker count must be at least 1");
        return -1;
    }
    if (opts->grid < 0 || opts->splits < 0 || opts->threads < 0) {
        lm_seterr(err, errlen, "grid, splits and threads must be >= 0 (0 = automatic)");
        return -1;
    }
    if ((unsigned)alg >= ATTN_N_ALGS) {
        lm_seterr(err, errlen, "unknown attention algorithm %d", (int)alg);
        return -1;
    }
    return attn_problem_check(p, err, errlen);
}

/* The fp64 reference, stored in the problem's dtype. */
static int run_naive(const attn_problem *p, const void *q, const void *k, const void *v, void *o, float *lse,
                     size_t nh, int g, int T, char *err, size_t errlen)
{
    size_t n = attn_q_elems(p);
    double *o64 = lm_xmalloc(lm_xmul(n, sizeof *o64));
    double *l64 = lse ? lm_xmalloc(lm_xmul(lm_xmul(nh, (size_t)g), sizeof *l64)) : NULL;
    int rc = -1;
    if (attn_ref64(p, q, k, v, o64, l64, T, err, errlen) == 0) {
        for (size_t i = 0; i < n; i++)
            attn_store(o, p->dtype, i, (float)o64[i]);
        for (size_t i = 0; lse && i < nh * g; i++)
            lse[i] = (float)l64[i];
        rc = 0;
    }
    free(o64);
    free(l64);
    return rc;
}

/* The work buffers of the split algorithms, freed together. */
typedef struct {
    float *o_acc, *lse_acc;
    size_t *sbase;
    atomic_uint *flag;
} split_bufs;

static void split_bufs_free(split_bufs *sb)
{
    free(sb->flag);
    free(sb->sbase);
    free(sb->o_acc);
    free(sb->lse_acc);
}

/* FlashDecoding split-KV: S splits per head (FA2's heuristic unless
 * given), then the combine. */
static void run_splitkv_alg(ctx_t *c, const attn_tiles *tl, const attn_opts *opts, float *wsblk, size_t wsn,
                            int T, split_bufs *sb, attn_sched_info *si)
{
    size_t nh = tl->n_heads, g = (size_t)c->g, gD = g * (size_t)c->D;
    int S =
        opts->splits > 0 ? opts->splits : attn_fa2_num_splits((int)nh, opts->workers, tl->n_blocks_max, 128);
    if (S > tl->n_blocks_max && tl->n_blocks_max > 0)
        S = tl->n_blocks_max;
    if (S < 1)
        S = 1;
    int64_t tps = attn_splitkv_tiles_per_split(tl->n_blocks_max, S);
    si->grid = (int)(nh * S);
    si->tiles_per_worker_max = tps < tl->n_blocks_max ? tps : tl->n_blocks_max;
    si->splits_max = (int)((tl->n_blocks_max + tps - 1) / (tps > 0 ? tps : 1));
    if (si->splits_max < 1)
        si->splits_max = 1;
    if (S > 1) {
        si->scratch_bytes = (size_t)S * nh * (gD + g) * sizeof(float);
        size_t pieces = lm_xmul((size_t)S, nh);
        sb->o_acc = lm_xmalloc(lm_xmul(lm_xmul(pieces, gD), sizeof *sb->o_acc));
        sb->lse_acc = lm_xmalloc(lm_xmul(lm_xmul(pieces, g), sizeof *sb->lse_acc));
    }
    run_splitkv(c, wsblk, wsn, T, S, sb->o_acc, sb->lse_acc);
}

/* LeanAttention (Stream-K over every head's tiles): the fused fix-up with
 * flags, or (lean-combine) partials combined in a second pass. */
static void run_streamk_alg(attn_alg alg, ctx_t *c, const attn_tiles *tl, const attn_opts *opts, float *wsblk,
                            size_t wsn, int T, split_bufs *sb, attn_sched_info *si)
{
    size_t nh = tl->n_heads, g = (size_t)c->g, gD = g * (size_t)c->D;
    attn_streamk sk;
    attn_streamk_init(&sk, tl->total, opts->grid > 0 ? opts->grid : opts->workers);
    si->grid = sk.G;
    si->tiles_per_worker_max = sk.max_tiles;
    size_t nslots = 0;
    if (alg == ATTN_LEAN_COMBINE)
        sb->sbase = lm_xmalloc(lm_xmul(nh + 1, sizeof *sb->sbase));
    for (size_t hd = 0; hd < nh; hd++) {
        int n = 0;
        if (tl->tile0[hd + 1] > tl->tile0[hd])
            n = attn_streamk_owner(&sk, tl->tile0[hd + 1] - 1) - attn_streamk_owner(&sk, tl->tile0[hd]) + 1;
        if (n > si->splits_max)
            si->splits_max = n;
        if (sb->sbase) {
            sb->sbase[hd] = nslots;
            if (n > 1)
                nslots += (size_t)n;
        }
    }
    if (alg == ATTN_LEAN) {
        size_t G = (size_t)(sk.G > 0 ? sk.G : 1);
        si->scratch_bytes = G * gD * sizeof(float) + G * 2 * g * sizeof(float);
        sb->o_acc = lm_xmalloc(lm_xmul(lm_xmul(G, gD + 2 * g), sizeof *sb->o_acc));
        sb->flag = lm_xmalloc(lm_xmul(G, sizeof *sb->flag));
        for (size_t i = 0; i < G; i++)
            atomic_init(&sb->flag[i], 0u);
        /* one launch, epoch 1: on the GPU the epoch counts launches so that
         * the flags never need clearing */
        run_lean(c, wsblk, wsn, T, &sk, sb->o_acc, sb->flag, 1u);
        return;
    }
    si->scratch_bytes = nslots * (gD + g) * sizeof(float);
    if (nslots) {
        sb->o_acc = lm_xmalloc(lm_xmul(lm_xmul(nslots, gD), sizeof *sb->o_acc));
        sb->lse_acc = lm_xmalloc(lm_xmul(lm_xmul(nslots, g), sizeof *sb->lse_acc));
    }
    run_lean_combine(c, wsblk, wsn, T, &sk, sb->sbase, sb->o_acc, sb->lse_acc);
}

int attn_cpu_run(attn_alg alg, const attn_problem *p, const attn_opts *opts, const void *q, const void *k,
                 const void *v, void *o, float *lse, attn_sched_info *info, char *err, size_t errlen)
{
    if (check_run_args(alg, p, opts, err, errlen) < 0)
        return -1;
    attn_tiles tl;
    if (attn_tiles_init(&tl, &p->dims, p->lens, err, errlen))
        return -1;
    attn_sched_info si = {0, tl.total, 0, 1, 0};
    const int W = opts->workers, g = p->dims.H_q / p->dims.H_kv, D = p->dims.D;
    const int bn = tl.block_n;
    int T = opts->threads > 0 ? opts->threads : W;
    /* Below about a millisecond of work a thread team costs more than it
     * saves (and its idle spinning hurts on a busy machine): run such small
     * problems on one thread.  The result is the same bits either way. */
    if ((double)tl.total * bn * (double)g * D < ATTN_PAR_MIN_MACS)
        T = 1;
    const size_t nh = tl.n_heads;

    if (alg == ATTN_NAIVE) {
        int rc = run_naive(p, q, k, v, o, lse, nh, g, T, err, errlen);
        attn_tiles_free(&tl);
        si.grid = (int)(nh * g);
        if (info && rc == 0)
            *info = si;
        return rc;
    }

    size_t *base = lm_xmalloc(lm_xmul((size_t)p->dims.B, sizeof *base));
    size_t wsn = ws_floats(g, D, bn);
    float *wsblk = lm_xmalloc(lm_xmul(lm_xmul((size_t)T, wsn), sizeof *wsblk));
    split_bufs sb = {0};
    attn_seq_base(p, base);
    ctx_t c = {p,
               &tl,
               q,
               k,
               v,
               o,
               lse,
               base,
               g,
               D,
               bn,
               opts->reverse,
               (p->scale > 0 ? p->scale : 1.0f / sqrtf((float)D)) * LOG2E};
    store_empty_heads(&c);
    if (alg == ATTN_NOSPLIT) {
        si.grid = (int)nh;
        for (size_t hd = 0; hd < nh; hd++)
            if (tl.tile0[hd + 1] - tl.tile0[hd] > si.tiles_per_worker_max)
                si.tiles_per_worker_max = tl.tile0[hd + 1] - tl.tile0[hd];
        run_nosplit(&c, wsblk, wsn, T);
    } else if (alg == ATTN_SPLITKV) {
        run_splitkv_alg(&c, &tl, opts, wsblk, wsn, T, &sb, &si);
    } else {
        run_streamk_alg(alg, &c, &tl, opts, wsblk, wsn, T, &sb, &si);
    }
    if (info)
        *info = si;
    split_bufs_free(&sb);
    free(wsblk);
    free(base);
    attn_tiles_free(&tl);
    return 0;
}
