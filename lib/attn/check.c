/* check.c - the adversarial correctness suite (see check.h and
 * leanattn-bench(1), "Correctness suite").  Each case is a shape, a worker
 * count and an input recipe; inputs come from the seeded generator in
 * core/rng.h, so a failure reproduces exactly. */
#include "attn/check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn/attn.h"
#include "core/rng.h"
#include "core/diag.h"

#include <omp.h>

enum { MAXB = 8 };

typedef struct {
    const char *name;
    int B, H_q, H_kv;
    int lens_t[MAXB]; /* in units of block_n/4: len = a*bn/4 + c; see len_of */
    int lens_c[MAXB];
    int W;        /* worker count of the case */
    float qmul;   /* q scaling (peaked softmax) */
    int dominant; /* 1: dominant key at the last token of worker 0's range,
                      2: at the first token of worker 1's range */
} ccase;

/* length = t * bn / 4 + c, so tile +- 1 cases follow the tile size */
static const ccase cases[] = {
    {"peaked softmax (q x 20)", 2, 4, 2, {12, 8}, {1, 0}, 3, 20.0f, 0},
    {"dominant logit, last token of worker 0", 1, 2, 1, {20}, {0}, 3, 1.0f, 1},
    {"dominant logit, first token of worker 1", 1, 2, 1, {20}, {0}, 3, 1.0f, 2},
    {"lengths tile-1, tile, tile+1", 3, 2, 2, {4, 4, 4}, {-1, 0, 1}, 4, 1.0f, 0},
    {"lengths 2 tiles +- 1 and L=1", 3, 4, 1, {8, 8, 0}, {-1, 1, 1}, 3, 1.0f, 0},
    {"L < tile", 4, 2, 1, {0, 0, 2, 0}, {5, 17, 0, 1}, 2, 1.0f, 0},
    {"one head over five workers (g=3)", 1, 3, 1, {28}, {3}, 5, 1.0f, 0},
    {"whole and split heads, total % G != 0", 3, 2, 2, {12, 4, 16}, {0, 5, 0}, 4, 1.0f, 0},
    {"ragged with length-0 sequences (g=4)", 5, 4, 1, {0, 12, 0, 0, 4}, {0, 7, 1, 0, -1}, 3, 1.0f, 0},
    {"single-token contexts", 3, 8, 2, {0, 0, 0}, {1, 1, 1}, 4, 1.0f, 0},
    {"more workers than tiles", 1, 1, 1, {8}, {1}, 16, 1.0f, 0},
};

static int len_of(const ccase *cs, int b, int bn)
{
    int L = cs->lens_t[b] * bn / 4 + cs->lens_c[b];
    return L < 0 ? 0 : L;
}

/* append one line to the report */
static void say(char *rep, size_t replen, const char *fmt, ...)
{
    size_t used = strlen(rep);
    if (used + 1 >= replen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep + used, replen - used, fmt, ap);
    va_end(ap);
    used = strlen(rep);
    if (used + 1 < replen) {
        rep[used] = '\n';
        rep[used + 1] = 0;
    }
}

static void fill(void *buf, attn_dtype t, size_t n, lm_rng *r, float mul)
{
    for (size_t i = 0; i < n; i++)
        attn_store(buf, t, i, (float)lm_rng_normal(r) * mul);
}

/* Put a key aligned with query row 0 of head 0 at token j of sequence 0. */
static void plant_dominant(const attn_problem *p, void *k, const void *q, int64_t j)
{
    size_t base[MAXB];
    attn_seq_base(p, base);
    size_t off = attn_kv_offset(p, base, 0, 0, j);
    for (int d = 0; d < p->dims.D; d++)
        attn_store(k, p->dtype, off + d, 2.0f * attn_load(q, p->dtype, (size_t)d));
}

int attn_check_suite(int workers, int threads, size_t *n_cases, char *report, size_t report_len, char *err,
                     size_t errlen)
{
    return attn_check_suite_with(NULL, NULL, workers, threads, n_cases, NULL, report, report_len, err,
                                 errlen);
}

/* The implementation under test: the runner, or the CPU code.  0, 1 (skip)
 * or -1. */
static int run_impl(attn_check_runner run, void *rc, attn_alg alg, const attn_problem *p, const attn_opts *op,
                    const void *q, const void *k, const void *v, void *o, float *lse, char *err,
                    size_t errlen)
{
    if (run)
        return run(rc, alg, p, op, q, k, v, o, lse, err, errlen);
    return attn_cpu_run(alg, p, op, q, k, v, o, lse, NULL, err, errlen);
}

int attn_check_suite_with(attn_check_runner run, void *run_ctx, int workers, int threads, size_t *n_cases,
                          size_t *n_skipped, char *report, size_t report_len, char *err, size_t errlen)
{
    static const attn_dtype dts[] = {ATTN_F32, ATTN_BF16, ATTN_F16};
    static const int Ds[] = {64, 128};
    int fails = 0;
    size_t ncheck = 0, nskip = 0;
    if (report && report_len)
        report[0] = 0;
    char dummy[1];
    if (!report || !report_len) {
        report = dummy;
        report_len = 1;
        dummy[0] = 0;
    }
    if (workers < 1)
        workers = 1;
    if (threads < 1)
        threads = omp_get_max_threads();
    int ncase = (int)(sizeof cases / sizeof cases[0]);
    for (int ci = 0; ci < ncase; ci++)
        for (int di = 0; di < 3; di++)
            for (int Di = 0; Di < 2; Di++) {
                const ccase *cs = &cases[ci];
                int D = Ds[Di], bn = attn_block_n(D), lens[MAXB];
                for (int b = 0; b < cs->B; b++)
                    lens[b] = len_of(cs, b, bn);
                attn_problem p = {{cs->B, cs->H_q, cs->H_kv, D, 0},
                                  dts[di],
                                  (ci + di + Di) % 2 ? ATTN_NHD : ATTN_HND,
                                  lens,
                                  0.0f,
                                  0};
                size_t nq = attn_q_elems(&p), nkv = attn_kv_elems(&p), es = 8;
                size_t nrow = (size_t)cs->B * cs->H_q;
                /* one block: q k v o o2 naive (8 bytes/elem is enough) + refs */
                char *blk =
                    lm_xcalloc(1, (nq * 4 + 2 * nkv + 1) * es + nrow * (3 * sizeof(float) + sizeof(double)) +
                                      nq * sizeof(double));
                char *q = blk, *k = q + nq * es, *v = k + nkv * es, *o = v + nkv * es, *o2 = o + nq * es,
                     *on = o2 + nq * es;
                double *ref = (double *)(on + nq * es), *rlse = ref + nq;
                float *lse = (float *)(rlse + nrow), *lse2 = lse + nrow, *nlse = lse2 + nrow;
                lm_rng r;
                lm_rng_init(&r, 20240516u, (uint64_t)(ci * 16 + di * 4 + Di));
                fill(q, p.dtype, nq, &r, cs->qmul);
                fill(k, p.dtype, nkv, &r, 1.0f);
                fill(v, p.dtype, nkv, &r, 1.0f);
                if (cs->dominant) {
                    attn_tiles tl;
                    if (attn_tiles_init(&tl, &p.dims, lens, err, errlen)) {
                        free(blk);
                        return -1;
                    }
                    attn_streamk sk;
                    attn_streamk_init(&sk, tl.total, cs->W);
                    int64_t tb, te;
                    attn_streamk_range(&sk, 0, &tb, &te);
                    int64_t j = te * bn - (cs->dominant == 1 ? 1 : 0);
                    if (j < lens[0])
                        plant_dominant(&p, k, q, j);
                    attn_tiles_free(&tl);
                }
                char what[160];
                snprintf(what, sizeof what, "%s [%s D=%d %s]", cs->name, attn_dtype_name(p.dtype), D,
                         attn_layout_name(p.layout));
                if (attn_ref64(&p, q, k, v, ref, rlse, 1, err, errlen) ||
                    attn_naive_same(&p, q, k, v, on, nlse, 1, err, errlen)) {
                    free(blk);
                    return -1;
                }
                int Ws[2] = {cs->W, workers};
                for (int wi = 0; wi < (workers == cs->W ? 1 : 2); wi++)
                    for (int a = 0; a < ATTN_N_ALGS + 2; a++) {
                        /* the two extra runs: splitkv with 4 forced splits,
                         * lean in reverse tile order */
                        attn_alg alg = a < ATTN_N_ALGS    ? (attn_alg)a
                                       : a == ATTN_N_ALGS ? ATTN_SPLITKV
                                                          : ATTN_LEAN;
                        /* naive and nosplit do not depend on W */
                        if (wi > 0 && (alg == ATTN_NAIVE || alg == ATTN_NOSPLIT))
                            continue;
                        attn_opts op = {Ws[wi], 0, a == ATTN_N_ALGS ? 4 : 0, threads, a == ATTN_N_ALGS + 1};
                        char tag[64];
                        snprintf(tag, sizeof tag, "%s%s W=%d", attn_alg_name(alg),
                                 a == ATTN_N_ALGS       ? " splits=4"
                                 : a == ATTN_N_ALGS + 1 ? " reverse"
                                                        : "",
                                 Ws[wi]);
                        int rc = run_impl(run, run_ctx, alg, &p, &op, q, k, v, o, lse, err, errlen);
                        if (rc == 1) {
                            nskip++;
                            continue;
                        }
                        ncheck++;
                        if (rc && !run) {
                            free(blk);
                            return -1;
                        }
                        if (rc) {
                            fails++;
                            say(report, report_len, "%s %s: %s", what, tag, err);
                            continue;
                        }
                        attn_accuracy acc;
                        attn_measure(&p, o, lse, ref, rlse, on, attn_default_atol(p.dtype), &acc);
                        if (!acc.ok || acc.lse_rel_err > 1e-5) {
                            fails++;
                            say(report, report_len,
                                "%s %s: max_err %.3g naive_err %.3g nonfinite %zu lse_rel %.3g", what, tag,
                                acc.max_err, acc.naive_err, acc.nonfinite, acc.lse_rel_err);
                        }
                        /* rerun with another thread count: must be bit-identical */
                        if (alg == ATTN_NAIVE)
                            continue;
                        op.threads = threads == 1 ? 2 : 1;
                        rc = run_impl(run, run_ctx, alg, &p, &op, q, k, v, o2, lse2, err, errlen);
                        if (rc && !run) {
                            free(blk);
                            return -1;
                        }
                        if (rc) {
                            fails++;
                            say(report, report_len, "%s %s (rerun): %s", what, tag, err);
                            continue;
                        }
                        if (memcmp(o, o2, nq * attn_dtype_size(p.dtype)) ||
                            memcmp(lse, lse2, nrow * sizeof *lse)) {
                            fails++;
                            say(report, report_len, "%s %s: not bit-identical with %d threads", what, tag,
                                op.threads);
                        }
                    }
                free(blk);
            }
    if (n_cases)
        *n_cases = ncheck;
    if (n_skipped)
        *n_skipped = nskip;
    return fails;
}
