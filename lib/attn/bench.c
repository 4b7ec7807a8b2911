/* bench.c - benchmark matrices, byte counts, the physical floor, a CPU
 * streaming-read bandwidth measurement and timing quantiles (see
 * bench.h). */
#include "attn/bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "core/clock.h"
#include "core/rng.h"
#include "core/diag.h"

const char *const attn_matrix_names[] = {"paper", "gqa", "waves", "ragged", "ablation", NULL};

typedef struct {
    attn_cell_list *l;
    size_t cap;
    int64_t max_kv;
} builder;

static int64_t kv_bytes(const attn_dims *d, const int *lens)
{
    int64_t s = 0;
    for (int b = 0; b < d->B; b++)
        s += lens[b];
    return (int64_t)2 * 2 * d->D * d->H_kv * s;
}

/* Append a cell; lens NULL means uniform L.  Takes ownership of lens. */
static void add(builder *bd, const char *label, int B, int Hq, int Hkv, int D, int L, int *lens,
                int grid_mult, int block_n)
{
    if (!lens) {
        lens = lm_xmalloc(lm_xmul((size_t)B, sizeof *lens));
        for (int b = 0; b < B; b++)
            lens[b] = L;
    }
    attn_dims d = {B, Hq, Hkv, D, block_n};
    int64_t kv = kv_bytes(&d, lens);
    if (kv > bd->max_kv) {
        free(lens);
        return;
    }
    lm_grow(bd->l->cells, bd->cap, bd->l->n + 1);
    attn_cell *c = &bd->l->cells[bd->l->n++];
    snprintf(c->label, sizeof c->label, "%s", label);
    c->dims = d;
    c->L = L;
    c->lens = lens;
    c->grid_mult = grid_mult;
    c->kv_bytes = kv;
}

static void m_paper(builder *bd, int full)
{
    static const int Bs[] = {1, 4, 16};
    for (int di = 0; di < 2; di++)
        for (int bi = 0; bi < 3; bi++)
            for (int e = 10; e <= 19; e++) {                 /* 1k .. 512k */
                if (!full && (bi == 1 || (e - 10) % 3 != 0)) /* B 1,16; L 1k 8k 64k 512k */
                    continue;
                add(bd, "paper", Bs[bi], 32, 32, di ? 128 : 64, 1 << e, NULL, 0, 0);
            }
}

static void m_gqa(builder *bd)
{
    static const int hs[3][3] = {{32, 8, 128}, {64, 8, 128}, {8, 1, 128}};
    for (int s = 0; s < 3; s++)
        for (int B = 1; B <= 64; B *= 2)
            for (int e = 10; e <= 18; e++) /* 1k .. 256k */
                add(bd, "gqa", B, hs[s][0], hs[s][1], hs[s][2], 1 << e, NULL, 0, 0);
}

/* B*H_kv targets straddling FA2's 0.8*264 threshold and multiples of the CTA
 * slots.  H_kv = 8 when it divides the target, else 4, else 1; H_q = 4*H_kv. */
static void m_waves(builder *bd)
{
    static const int bh[] = {128, 132, 200, 212, 256, 264, 265, 280, 300, 396, 528, 540};
    for (int li = 0; li < 2; li++)
        for (size_t i = 0; i < sizeof bh / sizeof bh[0]; i++) {
            int hkv = bh[i] % 8 == 0 ? 8 : bh[i] % 4 == 0 ? 4 : 1;
            char lab[64];
            snprintf(lab, sizeof lab, "waves BH=%d", bh[i]);
            add(bd, lab, bh[i] / hkv, 4 * hkv, hkv, 128, li ? 16384 : 4096, NULL, 0, 0);
        }
}

static void m_ragged(builder *bd)
{
    int a[16], b[16];
    for (int i = 0; i < 16; i++)
        a[i] = i == 0 ? 131072 : 2048;
    lm_rng r;
    lm_rng_init(&r, 405104800u, 0); /* fixed seed: the same lengths everywhere */
    for (int i = 0; i < 16; i++)    /* log-uniform in [1k, 64k] */
        b[i] = (int)lround(1024.0 * pow(64.0, lm_rng_uniform(&r)));
    static const int hs[2][3] = {{32, 8, 128}, {32, 32, 128}};
    for (int s = 0; s < 2; s++) {
        int *aa = lm_xmalloc(sizeof a), *bb = lm_xmalloc(sizeof b);
        memcpy(aa, a, sizeof a);
        memcpy(bb, b, sizeof b);
        add(bd, "ragged 1x128k+15x2k", 16, hs[s][0], hs[s][1], hs[s][2], 0, aa, 0, 0);
        add(bd, "ragged log-uniform 1k-64k", 16, hs[s][0], hs[s][1], hs[s][2], 0, bb, 0, 0);
        add(bd, "ragged control (all 8k)", 16, hs[s][0], hs[s][1], hs[s][2], 8192, NULL, 0, 0);
    }
}

static void m_ablation(builder *bd)
{
    /* two cells: the ONNX Runtime grid example of tests/unit/test_attn.c and a
     * badly quantised FA2 case */
    static const int cell[2][5] = {{1, 32, 8, 128, 32768}, {35, 32, 8, 128, 16384}};
    static const int gm[] = {1, 2, -1};
    static const int bns[] = {64, 128, 256};
    for (int c = 0; c < 2; c++) {
        for (int i = 0; i < 3; i++) {
            char lab[64];
            snprintf(lab, sizeof lab, gm[i] > 0 ? "ablation grid=%d*SMs" : "ablation grid=occ*SMs", gm[i]);
            add(bd, lab, cell[c][0], cell[c][1], cell[c][2], cell[c][3], cell[c][4], NULL, gm[i], 0);
        }
        for (int i = 0; i < 3; i++) {
            char lab[64];
            snprintf(lab, sizeof lab, "ablation tile=%d", bns[i]);
            add(bd, lab, cell[c][0], cell[c][1], cell[c][2], cell[c][3], cell[c][4], NULL, 0, bns[i]);
        }
    }
}

int attn_matrix(const char *name, int full, int64_t max_kv_bytes, attn_cell_list *out, char *err,
                size_t errlen)
{
    out->cells = NULL;
    out->n = 0;
    builder bd = {out, 0, max_kv_bytes > 0 ? max_kv_bytes : (int64_t)64 << 30};
    if (!strcmp(name, "paper"))
        m_paper(&bd, full);
    else if (!strcmp(name, "gqa"))
        m_gqa(&bd);
    else if (!strcmp(name, "waves"))
        m_waves(&bd);
    else if (!strcmp(name, "ragged"))
        m_ragged(&bd);
    else if (!strcmp(name, "ablation"))
        m_ablation(&bd);
    else {
        lm_seterr(err, errlen, "unknown matrix '%s' (known: paper, gqa, waves, ragged, ablation)", name);
        return -1;
    }
    return 0;
}

void attn_cell_list_free(attn_cell_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->cells[i].lens);
    free(l->cells);
    l->cells = NULL;
    l->n = 0;
}

double attn_bytes_kv(const attn_dims *d, int64_t len_sum, int elem_bytes)
{
    return (double)elem_bytes * 2.0 * d->D * d->H_kv * (double)len_sum;
}

double attn_bytes_call(const attn_dims *d, int64_t len_sum, int elem_bytes, double partial_rows)
{
    return attn_bytes_kv(d, len_sum, elem_bytes) + 2.0 * elem_bytes * d->D * (double)d->H_q * d->B +
           partial_rows * (d->D + 2) * 4.0 * 2.0;
}

double attn_floor_us(double bytes, double gbps)
{
    return gbps > 0 ? bytes / (gbps * 1e9) * 1e6 : NAN;
}

int attn_cpu_read_bw(size_t bytes, int reps, int threads, double *gbps, char *err, size_t errlen)
{
    if (bytes < ((size_t)1 << 20) || reps < 1) {
        lm_seterr(err, errlen, "bandwidth test needs at least 1 MiB and 1 repetition");
        return -1;
    }
    size_t n = bytes / sizeof(uint64_t);
    uint64_t *buf = lm_xmalloc(lm_xmul(n, sizeof *buf));
    int T = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(T)
    for (size_t i = 0; i < n; i++) /* first touch by the reading thread */
        buf[i] = i * 0x9e3779b97f4a7c15ULL;
    double best = 0;
    uint64_t sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = lm_clock();
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp parallel for schedule(static) num_threads(T) reduction(^ : s0, s1, s2, s3)
        for (size_t i = 0; i < n / 4; i++) {
            s0 ^= buf[4 * i];
            s1 ^= buf[4 * i + 1];
            s2 ^= buf[4 * i + 2];
            s3 ^= buf[4 * i + 3];
        }
        double dt = lm_clock() - t0;
        sink ^= s0 ^ s1 ^ s2 ^ s3;
        double bw = (double)(n / 4 * 4 * sizeof(uint64_t)) / dt / 1e9;
        if (bw > best)
            best = bw;
    }
    free(buf);
    volatile uint64_t keep = sink; /* keep the reads alive */
    (void)keep;
    *gbps = best;
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double attn_quantile(const double *x, size_t n, double q)
{
    if (n == 0)
        return NAN;
    double *s = lm_xmalloc(lm_xmul(n, sizeof *s));
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_d);
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    double f = pos - (double)i, r = i + 1 < n ? s[i] + f * (s[i + 1] - s[i]) : s[i];
    free(s);
    return r;
}
