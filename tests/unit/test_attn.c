/* test_attn.c - unit tests of lib/attn: scheduling arithmetic against the
 * worked examples of ONNX Runtime's get_num_splits_and_buffer_sizes and
 * FlashAttention-2's num_splits_heuristic on an H200, the Stream-K partition's
 * invariants, every CPU algorithm against the fp64 reference under
 * FlashAttention's 2x rule, bit-identity across runs and thread counts, the
 * adversarial suite, the benchmark matrices and the physical floor.  Also
 * prints (as diagnostics, not checks) lean vs nosplit timings for one long
 * sequence with one KV head on this machine's cores. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "attn/attn.h"
#include "attn/bench.h"
#include "attn/check.h"
#include "attn/sched.h"
#include "core/rng.h"
#include "tap.h"

static char err[512];

static void test_sched_examples(void)
{
    is_int(attn_block_n(64), 256, "block_n d=64");
    is_int(attn_block_n(128), 128, "block_n d=128");
    is_int(attn_block_n(256), 64, "block_n d=256");
    /* ORT grid on an H200 (132 SMs): B=1, H_q=32, H_kv=8, d=128, L=32768 */
    attn_lean_grid lg;
    attn_lean_grid_ort(&lg, 8 * 256, 256, 1, 8, 132);
    is_int(lg.total, 2048, "ORT example total");
    is_int(lg.G, 256, "ORT example G = min(264, 256)");
    is_int(lg.max_tiles, 8, "ORT example max_tiles");
    is_int(lg.high_load, 256, "ORT example high_load");
    is_int(lg.num_splits, 33, "ORT example num_splits");
    /* small total: G = min(ceil(total/2), ceil(32 total / n_blocks)) */
    attn_lean_grid_ort(&lg, 10, 10, 1, 1, 132);
    is_int(lg.G, 5, "ORT small total: at least two tiles per CTA");
    /* FA2's heuristic picks 29 splits for B*H_kv = 8 on 2*132 slots, 256 blocks */
    is_int(attn_fa2_num_splits(8, 264, 256, 128), 29, "FA2 heuristic worked example");
    is_int(attn_fa2_num_splits(212, 264, 256, 128), 1, "FA2: B*H_kv >= 0.8*264 -> 1 split");
    ok(attn_fa2_num_splits(211, 264, 256, 128) > 1, "FA2: B*H_kv = 211 splits");
    is_int(attn_splitkv_tiles_per_split(256, 29), 9, "29 splits of 9 tiles");
}

static void test_partition(void)
{
    int bad_cover = 0, bad_contig = 0, bad_bal = 0, bad_owner = 0;
    for (int64_t total = 1; total <= 70; total++)
        for (int G = 1; G <= 80; G++) {
            attn_streamk s;
            attn_streamk_init(&s, total, G);
            char *seen = calloc((size_t)total, 1);
            int64_t prev_end = 0, mn = total, mx = 0;
            for (int c = 0; c < s.G; c++) {
                int64_t b, e;
                attn_streamk_range(&s, c, &b, &e);
                if (b != prev_end)
                    bad_contig++;
                prev_end = e;
                if (e - b < mn)
                    mn = e - b;
                if (e - b > mx)
                    mx = e - b;
                for (int64_t t = b; t < e; t++) {
                    if (t < 0 || t >= total || seen[t]++)
                        bad_cover++;
                    if (attn_streamk_owner(&s, t) != c)
                        bad_owner++;
                }
            }
            for (int64_t t = 0; t < total; t++)
                if (seen[t] != 1)
                    bad_cover++;
            if (prev_end != total)
                bad_contig++;
            if (mx - mn > 1 || mn < 1)
                bad_bal++;
            free(seen);
        }
    is_int(bad_cover, 0, "every tile covered exactly once (total 1..70, G 1..80)");
    is_int(bad_contig, 0, "ranges contiguous and in worker order");
    is_int(bad_bal, 0, "ranges non-empty and balanced to within one tile");
    is_int(bad_owner, 0, "owner() agrees with the ranges");

    /* ragged tile list, head lookup, and a head over >= 3 workers */
    int lens[4] = {1000, 0, 129, 128};
    attn_dims d = {4, 4, 2, 128, 0};
    attn_tiles tl;
    ok(attn_tiles_init(&tl, &d, lens, err, sizeof err) == 0, "tile list builds");
    is_int(tl.total, 2 * (8 + 0 + 2 + 1), "ragged tile total");
    is_int(tl.n_blocks_max, 8, "n_blocks from L_max");
    int bad = 0;
    for (int64_t t = 0; t < tl.total; t++) {
        size_t h = attn_tiles_head_of(&tl, t);
        if (!(tl.tile0[h] <= t && t < tl.tile0[h + 1]))
            bad++;
    }
    is_int(bad, 0, "head_of finds the owning head (skipping empty heads)");
    attn_streamk s;
    attn_streamk_init(&s, tl.total, 7);
    int span = attn_streamk_owner(&s, tl.tile0[1] - 1) - attn_streamk_owner(&s, tl.tile0[0]) + 1;
    ok(span >= 3, "head 0 (8 tiles) spread over %d >= 3 of 7 workers", span);
    attn_tiles_free(&tl);
    lens[0] = -1;
    ok(attn_tiles_init(&tl, &d, lens, err, sizeof err) == -1 && strstr(err, "negative"),
       "negative length rejected: %s", err);
    d.H_q = 3;
    lens[0] = 5;
    ok(attn_tiles_init(&tl, &d, lens, err, sizeof err) == -1, "H_q %% H_kv != 0 rejected: %s", err);
}

/* Random problem in a malloc'd block. */
typedef struct {
    attn_problem p;
    int lens[16];
    void *q, *k, *v, *o, *on;
    float *lse;
    double *ref, *rlse;
} prob;

static void prob_make(prob *x, int B, int Hq, int Hkv, int D, const int *lens, attn_dtype t, attn_layout lay,
                      uint64_t seed)
{
    memset(x, 0, sizeof *x);
    memcpy(x->lens, lens, (size_t)B * sizeof *lens);
    attn_problem p = {{B, Hq, Hkv, D, 0}, t, lay, x->lens, 0.0f, 0};
    x->p = p;
    size_t nq = attn_q_elems(&x->p), nkv = attn_kv_elems(&x->p), es = attn_dtype_size(t);
    x->q = malloc(nq * es);
    x->k = malloc(nkv * es + 1);
    x->v = malloc(nkv * es + 1);
    x->o = malloc(nq * es);
    x->on = malloc(nq * es);
    x->lse = malloc((size_t)B * Hq * sizeof *x->lse);
    x->ref = malloc(nq * sizeof *x->ref);
    x->rlse = malloc((size_t)B * Hq * sizeof *x->rlse);
    lm_rng r;
    lm_rng_init(&r, seed, 0);
    for (size_t i = 0; i < nq; i++)
        attn_store(x->q, t, i, (float)lm_rng_normal(&r));
    for (size_t i = 0; i < nkv; i++) {
        attn_store(x->k, t, i, (float)lm_rng_normal(&r));
        attn_store(x->v, t, i, (float)lm_rng_normal(&r));
    }
    attn_ref64(&x->p, x->q, x->k, x->v, x->ref, x->rlse, 0, err, sizeof err);
    attn_naive_same(&x->p, x->q, x->k, x->v, x->on, NULL, 0, err, sizeof err);
}

static void prob_free(prob *x)
{
    free(x->q);
    free(x->k);
    free(x->v);
    free(x->o);
    free(x->on);
    free(x->lse);
    free(x->ref);
    free(x->rlse);
}

static void test_accuracy(void)
{
    struct {
        const char *name;
        int B, Hq, Hkv;
        int lens[6];
    } shp[] = {
        {"GQA g=4 ragged", 3, 8, 2, {700, 33, 1}},
        {"MHA tile+-1", 3, 2, 2, {127, 129, 257}},
        {"single token", 2, 4, 4, {1, 1}},
        {"g=8 one head", 1, 8, 1, {1500}},
    };
    attn_dtype dts[2] = {ATTN_F32, ATTN_BF16};
    int Ds[2] = {64, 128};
    for (size_t si = 0; si < sizeof shp / sizeof shp[0]; si++)
        for (int ti = 0; ti < 2; ti++)
            for (int di = 0; di < 2; di++) {
                prob x;
                prob_make(&x, shp[si].B, shp[si].Hq, shp[si].Hkv, Ds[di], shp[si].lens, dts[ti],
                          (si + di) % 2 ? ATTN_NHD : ATTN_HND, 7 + si);
                for (int a = 0; a < ATTN_N_ALGS; a++) {
                    attn_opts op = {3, 0, 0, 2, 0};
                    attn_accuracy acc;
                    int rc = attn_cpu_run((attn_alg)a, &x.p, &op, x.q, x.k, x.v, x.o, x.lse, NULL, err,
                                          sizeof err);
                    attn_measure(&x.p, x.o, x.lse, x.ref, x.rlse, x.on, attn_default_atol(x.p.dtype), &acc);
                    ok(rc == 0 && acc.ok && acc.lse_rel_err <= 1e-5,
                       "%-12s %s %s D=%d: err %.2e <= 2 x naive %.2e, lse rel %.1e",
                       attn_alg_name((attn_alg)a), shp[si].name, attn_dtype_name(dts[ti]), Ds[di],
                       acc.max_err, acc.naive_err, acc.lse_rel_err);
                }
                prob_free(&x);
            }
}

/* A problem big enough to run on several threads (> 4M multiply-adds). */
static void test_determinism(void)
{
    int lens[2] = {9000, 5003};
    prob x;
    prob_make(&x, 2, 4, 2, 128, lens, ATTN_BF16, ATTN_HND, 99);
    size_t nq = attn_q_elems(&x.p), nb = nq * 2;
    char *first = malloc(nb), *o_nosplit = malloc(nb);
    attn_alg algs[4] = {ATTN_NOSPLIT, ATTN_SPLITKV, ATTN_LEAN, ATTN_LEAN_COMBINE};
    for (int ai = 0; ai < 4; ai++) {
        int same = 1;
        attn_sched_info info = {0};
        for (int rep = 0; rep < 2; rep++)
            for (int T = 1; T <= 3; T++) {
                attn_opts op = {7, 0, 0, T, 0};
                attn_cpu_run(algs[ai], &x.p, &op, x.q, x.k, x.v, x.o, NULL, &info, err, sizeof err);
                if (rep == 0 && T == 1)
                    memcpy(first, x.o, nb);
                else if (memcmp(first, x.o, nb))
                    same = 0;
            }
        ok(same, "%s W=7: bit-identical over 2 runs x threads 1..3 (grid %d, splits_max %d)",
           attn_alg_name(algs[ai]), info.grid, info.splits_max);
        if (ai == 0)
            memcpy(o_nosplit, x.o, nb);
        else {
            double md = 0;
            for (size_t i = 0; i < nq; i++) {
                double dd = fabs(attn_load(x.o, ATTN_BF16, i) - attn_load(o_nosplit, ATTN_BF16, i));
                if (dd > md)
                    md = dd;
            }
            ok(md <= 1.6e-2, "%s agrees with nosplit to %.2e (bf16)", attn_alg_name(algs[ai]), md);
        }
    }
    /* fp32: lean vs splitkv vs nosplit within 1e-5 */
    prob y;
    prob_make(&y, 2, 4, 2, 64, lens, ATTN_F32, ATTN_NHD, 5);
    size_t ny = attn_q_elems(&y.p);
    float *o0 = malloc(ny * sizeof *o0);
    attn_opts op = {5, 0, 0, 2, 0};
    attn_cpu_run(ATTN_NOSPLIT, &y.p, &op, y.q, y.k, y.v, o0, NULL, NULL, err, sizeof err);
    for (int ai = 1; ai < 4; ai++) {
        attn_cpu_run(algs[ai], &y.p, &op, y.q, y.k, y.v, y.o, NULL, NULL, err, sizeof err);
        double md = 0;
        for (size_t i = 0; i < ny; i++)
            md = fmax(md, fabs(((float *)y.o)[i] - o0[i]));
        ok(md <= 1e-5, "%s agrees with nosplit to %.2e (fp32)", attn_alg_name(algs[ai]), md);
    }
    /* G changes may change the bits but not the accuracy */
    attn_opts op2 = {5, 11, 0, 2, 1};
    attn_accuracy acc;
    attn_cpu_run(ATTN_LEAN, &y.p, &op2, y.q, y.k, y.v, y.o, y.lse, NULL, err, sizeof err);
    attn_measure(&y.p, y.o, y.lse, y.ref, y.rlse, y.on, 1e-6, &acc);
    ok(acc.ok, "lean G=11 reverse tile order: err %.2e vs naive %.2e", acc.max_err, acc.naive_err);
    free(o0);
    free(first);
    free(o_nosplit);
    prob_free(&x);
    prob_free(&y);
}

static void test_errors_and_edges(void)
{
    int lens[2] = {0, 0};
    prob x;
    prob_make(&x, 2, 2, 1, 64, lens, ATTN_F32, ATTN_HND, 1);
    attn_opts op = {2, 0, 0, 1, 0};
    int allzero = 1;
    for (int a = 1; a < ATTN_N_ALGS; a++) {
        memset(x.o, 0xff, attn_q_elems(&x.p) * 4);
        attn_cpu_run((attn_alg)a, &x.p, &op, x.q, x.k, x.v, x.o, x.lse, NULL, err, sizeof err);
        for (size_t i = 0; i < attn_q_elems(&x.p); i++)
            if (((float *)x.o)[i] != 0.0f)
                allzero = 0;
        if (!(x.lse[0] == -INFINITY))
            allzero = 0;
    }
    ok(allzero, "all-empty batch: o = 0, lse = -inf for every algorithm");
    attn_opts bad = {0, 0, 0, 0, 0};
    ok(attn_cpu_run(ATTN_LEAN, &x.p, &bad, x.q, x.k, x.v, x.o, NULL, NULL, err, sizeof err) == -1 && err[0],
       "workers = 0 rejected: %s", err);
    prob_free(&x);
    is_int(attn_f32_to_bf16(1.0f), 0x3f80, "bf16(1)");
    is_int(attn_f32_to_bf16(1.00390625f), 0x3f80, "bf16 ties to even");
    is_int(attn_f32_to_f16(1.0f), 0x3c00, "fp16(1)");
    is_int(attn_f32_to_f16(65504.0f), 0x7bff, "fp16 max");
    is_int(attn_f32_to_f16(1e6f), 0x7c00, "fp16 overflow -> inf");
    is_near(attn_f16_to_f32(0x0001), ldexp(1, -24), 0, "fp16 smallest subnormal");
    is_int(attn_f32_to_f16(ldexpf(1, -25) * 1.5f), 0x0001, "fp16 subnormal rounding");
    attn_alg a;
    ok(attn_alg_parse("lean-combine", &a) == 0 && a == ATTN_LEAN_COMBINE, "parse lean-combine");
    ok(attn_alg_parse("flash", &a) == -1, "unknown algorithm rejected");
}

static void test_suite(void)
{
    char rep[4096];
    size_t n = 0;
    double t0 = omp_get_wtime();
    int f = attn_check_suite(2, 0, &n, rep, sizeof rep, err, sizeof err);
    is_int(f, 0, "adversarial suite: %zu checks in %.2f s", n, omp_get_wtime() - t0);
    if (f)
        diag("%s", rep);
    ok(n > 500, "suite ran %zu checks", n);
}

/* Runners for attn_check_suite_with: only lean in fp32 is "supported". */
static int runner_lean_only(void *ctx, attn_alg alg, const attn_problem *p, const attn_opts *opts,
                            const void *q, const void *k, const void *v, void *o, float *lse, char *e,
                            size_t elen)
{
    int mode = *(int *)ctx;
    if (alg != ATTN_LEAN || p->dtype != ATTN_F32)
        return 1;
    if (mode == 2) {
        snprintf(e, elen, "device lost");
        return -1;
    }
    if (attn_cpu_run(alg, p, opts, q, k, v, o, lse, NULL, e, elen))
        return -1;
    if (mode == 1) /* a broken implementation: one output element off by 0.5 */
        ((float *)o)[0] += 0.5f;
    return 0;
}

static void test_suite_runner(void)
{
    char rep[8192];
    size_t n = 0, skipped = 0;
    int mode = 0;
    int f =
        attn_check_suite_with(runner_lean_only, &mode, 2, 1, &n, &skipped, rep, sizeof rep, err, sizeof err);
    ok(f == 0 && n > 0 && skipped > n, "runner suite: %d failures, %zu checks, %zu skipped", f, n, skipped);
    mode = 1;
    f = attn_check_suite_with(runner_lean_only, &mode, 2, 1, &n, &skipped, rep, sizeof rep, err, sizeof err);
    ok(f > 0 && strstr(rep, "lean") && strstr(rep, "fp32"), "a wrong runner output is reported (%d failures)",
       f);
    mode = 2;
    f = attn_check_suite_with(runner_lean_only, &mode, 2, 1, &n, &skipped, rep, sizeof rep, err, sizeof err);
    ok(f > 0 && strstr(rep, "device lost"), "a runner error is a failure, not fatal");
}

static void test_matrices(void)
{
    for (int i = 0; attn_matrix_names[i]; i++) {
        attn_cell_list l;
        int rc = attn_matrix(attn_matrix_names[i], 0, 0, &l, err, sizeof err);
        int64_t maxkv = 0;
        for (size_t c = 0; c < l.n; c++)
            if (l.cells[c].kv_bytes > maxkv)
                maxkv = l.cells[c].kv_bytes;
        ok(rc == 0 && l.n > 0 && maxkv <= ((int64_t)64 << 30), "matrix %s: %zu cells", attn_matrix_names[i],
           l.n);
        attn_cell_list_free(&l);
    }
    attn_cell_list l;
    attn_matrix("paper", 1, 0, &l, err, sizeof err);
    /* 2 dims x 3 batches x 10 lengths minus cells above 64 GiB */
    int dropped = 60 - (int)l.n;
    ok(dropped > 0, "paper --full: %zu cells, %d above 64 GiB dropped", l.n, dropped);
    attn_cell_list_free(&l);
    attn_matrix("waves", 0, 0, &l, err, sizeof err);
    int bh_ok = 1;
    static const int bh[] = {128, 132, 200, 212, 256, 264, 265, 280, 300, 396, 528, 540};
    for (size_t c = 0; c < l.n; c++)
        if (l.cells[c].dims.B * l.cells[c].dims.H_kv != bh[c % 12])
            bh_ok = 0;
    ok(l.n == 24 && bh_ok, "waves: 24 cells with the listed B*H_kv");
    attn_cell_list_free(&l);
    ok(attn_matrix("nope", 0, 0, &l, err, sizeof err) == -1 && strstr(err, "ragged"), "unknown matrix: %s",
       err);
    /* floor of a Llama-3-8B-like layer, GQA H_kv=8, d=128, L=32k: 128 MiB,
     * 31 us at 4.3 TB/s, 28 at 4.8 */
    attn_dims d = {1, 32, 8, 128, 0};
    double kv = attn_bytes_kv(&d, 32768, 2);
    is_near(kv, 128.0 * 1048576, 0, "KV bytes of the GQA 32k example");
    is_near(attn_floor_us(kv, 4300), 31.2, 0.1, "floor at 4.3 TB/s");
    is_near(attn_floor_us(kv, 4800), 28.0, 0.1, "floor at 4.8 TB/s");
    double v[5] = {5, 1, 4, 2, 3};
    is_near(attn_quantile(v, 5, 0.5), 3, 0, "median");
    is_near(attn_quantile(v, 5, 0.1), 1.4, 1e-12, "p10 interpolated");
}

/* lean vs nosplit when B*H_kv = 1 < threads: the load-balance effect. */
static void measure_lean_vs_nosplit(void)
{
    int T = omp_get_num_procs() < 2 ? 2 : omp_get_num_procs();
    int lens[1] = {32768};
    prob x;
    memset(&x, 0, sizeof x);
    x.lens[0] = lens[0];
    attn_problem p = {{1, 4, 1, 128, 0}, ATTN_BF16, ATTN_HND, x.lens, 0.0f, 0};
    size_t nkv = attn_kv_elems(&p), nq = attn_q_elems(&p);
    uint16_t *k = malloc(nkv * 2), *v = malloc(nkv * 2), *q = malloc(nq * 2), *o = malloc(nq * 2);
    lm_rng r;
    lm_rng_init(&r, 3, 0);
    for (size_t i = 0; i < nkv; i++) {
        k[i] = attn_f32_to_bf16((float)lm_rng_normal(&r));
        v[i] = attn_f32_to_bf16((float)lm_rng_normal(&r));
    }
    for (size_t i = 0; i < nq; i++)
        q[i] = attn_f32_to_bf16((float)lm_rng_normal(&r));
    double best[2] = {1e30, 1e30};
    attn_alg algs[2] = {ATTN_NOSPLIT, ATTN_LEAN};
    for (int rep = 0; rep < 2; rep++)
        for (int a = 0; a < 2; a++) {
            attn_opts op = {T, 0, 0, T, 0};
            double t0 = omp_get_wtime();
            attn_cpu_run(algs[a], &p, &op, q, k, v, o, NULL, NULL, err, sizeof err);
            double dt = omp_get_wtime() - t0;
            if (dt < best[a])
                best[a] = dt;
        }
    diag("B=1 H_q=4 H_kv=1 d=128 bf16 L=32k, %d threads: nosplit %.2f ms, lean %.2f ms, "
         "speed-up %.2fx",
         T, best[0] * 1e3, best[1] * 1e3, best[0] / best[1]);
    double bw;
    if (attn_cpu_read_bw((size_t)32 << 20, 2, 0, &bw, err, sizeof err) == 0)
        diag("CPU streaming read: %.1f GB/s", bw);
    free(k);
    free(v);
    free(q);
    free(o);
}

/* A KV cache with room for more tokens than each sequence holds (kv_cap)
 * gives the same bits as the packed layout, for every algorithm and both
 * layouts; lengths over the capacity are refused. */
static void test_kv_cap(void)
{
    const int B = 3, Hq = 4, Hkv = 2, D = 64, cap = 50, lens[3] = {37, 0, 50};
    for (int lay = 0; lay < 2; lay++) {
        prob x;
        prob_make(&x, B, Hq, Hkv, D, lens, ATTN_F32, (attn_layout)lay, 77 + lay);
        attn_problem pc = x.p;
        pc.kv_cap = cap;
        size_t nkv = attn_kv_elems(&pc), nq = attn_q_elems(&pc);
        is_int((long long)nkv, (long long)B * Hkv * cap * D, "%s: kv_elems counts the capacity",
               attn_layout_name((attn_layout)lay));
        float *kc = calloc(nkv, sizeof *kc), *vc = calloc(nkv, sizeof *vc);
        size_t bp[3], bc[3];
        attn_seq_base(&x.p, bp);
        attn_seq_base(&pc, bc);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < Hkv; h++)
                for (int j = 0; j < lens[b]; j++) {
                    memcpy(kc + attn_kv_offset(&pc, bc, b, h, j),
                           (float *)x.k + attn_kv_offset(&x.p, bp, b, h, j), D * sizeof(float));
                    memcpy(vc + attn_kv_offset(&pc, bc, b, h, j),
                           (float *)x.v + attn_kv_offset(&x.p, bp, b, h, j), D * sizeof(float));
                }
        float *o1 = malloc(nq * sizeof *o1), *o2 = malloc(nq * sizeof *o2);
        for (int a = 0; a < ATTN_N_ALGS; a++) {
            attn_opts op = {3, 0, 0, 1, 0};
            int rc1 = attn_cpu_run((attn_alg)a, &x.p, &op, x.q, x.k, x.v, o1, NULL, NULL, err, sizeof err);
            int rc2 = attn_cpu_run((attn_alg)a, &pc, &op, x.q, kc, vc, o2, NULL, NULL, err, sizeof err);
            ok(rc1 == 0 && rc2 == 0 && memcmp(o1, o2, nq * sizeof *o1) == 0,
               "%s %s: a KV cache of capacity %d gives the packed result's bits",
               attn_layout_name((attn_layout)lay), attn_alg_name((attn_alg)a), cap);
        }
        pc.kv_cap = 49;
        attn_opts op = {1, 0, 0, 1, 0};
        ok(attn_cpu_run(ATTN_NOSPLIT, &pc, &op, x.q, kc, vc, o2, NULL, NULL, err, sizeof err) == -1 &&
               strstr(err, "more than the KV cache"),
           "a length over the capacity is refused: %s", err);
        free(o1);
        free(o2);
        free(kc);
        free(vc);
        prob_free(&x);
    }
}

int main(void)
{
    test_sched_examples();
    test_partition();
    test_accuracy();
    test_determinism();
    test_errors_and_edges();
    test_suite();
    test_suite_runner();
    test_matrices();
    test_kv_cap();
    measure_lean_vs_nosplit();
    return tap_done();
}
