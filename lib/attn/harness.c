/* harness.c - one shape through every algorithm, and the CPU backend (see
 * harness.h). */
#include "attn/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attn/bench.h"
#include "core/clock.h"
#include "core/cli.h"
#include "core/diag.h"
#include "core/rng.h"

/* liblmkit-cuda.so's backend (harness_cuda.c): opens it, or says why not */
int attn_cuda_open(attn_bench *b, int want, int cpu_dtype, char *err, size_t errlen, const char **hint);
void attn_cuda_close(attn_bench *b);

/* ---- inputs ---- */

void attn_fill_normal(void *buf, attn_dtype t, size_t n, uint64_t seed, int threads)
{
    const size_t chunk = 1 << 16;
    long nch = (long)((n + chunk - 1) / chunk);
    int T = n > 4 * chunk ? threads : 1;
#pragma omp parallel for schedule(static) num_threads(T)
    for (long ci = 0; ci < nch; ci++) {
        lm_rng r;
        lm_rng_init(&r, seed, (uint64_t)ci);
        size_t a = (size_t)ci * chunk, e = a + chunk < n ? a + chunk : n;
        for (size_t i = a; i < e; i++)
            attn_store(buf, t, i, (float)lm_rng_normal(&r));
    }
}

uint64_t attn_fnv1a(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---- the CPU backend ---- */

/* Evict the last-level cache by writing a buffer of twice its size. */
static void cpu_flush(attn_bench *b)
{
    if (!b->flush) {
        b->flush_bytes = 2 * (size_t)b->llc;
        b->flush = lm_xmalloc(b->flush_bytes);
    }
    static const int fill = 0x5a;
    memset(b->flush, fill ^ (int)(b->n_results & 0xff), b->flush_bytes);
}

static int cpu_read_bw(attn_bench *b, double *gbps, char *err, size_t errlen)
{
    return attn_cpu_read_bw((size_t)256 << 20, 3, b->threads, gbps, err, errlen);
}

static int cpu_shape_ok(const attn_bench *b, const attn_problem *p, char *err, size_t errlen,
                        const char **hint)
{
    (void)b, (void)p, (void)err, (void)errlen, (void)hint;
    return 0;
}

static int cpu_run(attn_bench *b, attn_alg a, const attn_problem *p, const attn_shape *sh, size_t kv_bytes,
                   const void *q, const void *k, const void *v, void *o, float *lse, double *us,
                   attn_result *r, char *err, size_t errlen)
{
    attn_opts op = {b->workers, 0, 0, b->threads, 0};
    if (sh->grid_mult > 0)
        op.grid = sh->grid_mult * b->workers;
    /* K/V much larger than the cache evict it themselves */
    int flush = !b->no_flush && kv_bytes < 4 * (size_t)b->llc;
    for (int i = 0; i < b->warmup; i++)
        if (attn_cpu_run(a, p, &op, q, k, v, o, lse, &r->si, err, errlen))
            return -1;
    for (int i = 0; i < b->runs; i++) {
        if (flush)
            cpu_flush(b);
        double t0 = (lm_clock() * 1e6);
        if (attn_cpu_run(a, p, &op, q, k, v, o, lse, &r->si, err, errlen))
            return -1;
        us[i] = (lm_clock() * 1e6) - t0;
    }
    r->device = "cpu";
    r->workers = b->workers;
    /* partial states written (and read back): the scratch buffers */
    r->partial_rows = (double)r->si.scratch_bytes / (4.0 * (p->dims.D + 2));
    return 0;
}

/* The CUDA backend runs the naive algorithm here. */
int attn_cpu_backend_run(attn_bench *b, attn_alg a, const attn_problem *p, const attn_shape *sh,
                         size_t kv_bytes, const void *q, const void *k, const void *v, void *o, float *lse,
                         double *us, attn_result *r, char *err, size_t errlen)
{
    return cpu_run(b, a, p, sh, kv_bytes, q, k, v, o, lse, us, r, err, errlen);
}

const attn_backend attn_backend_cpu = {
    "cpu", "cpu-read-stream", "CPU", cpu_read_bw, cpu_shape_ok, NULL, cpu_run, NULL, NULL,
};

/* ---- the device ---- */

int attn_device_open(attn_bench *b, int want, int cpu_dtype, char *err, size_t errlen, const char **hint)
{
    b->be = &attn_backend_cpu;
    b->dev = NULL;
    *hint = NULL;
    if (want != LM_DEVICE_CPU) {
        int rc = attn_cuda_open(b, want, cpu_dtype, err, errlen, hint);
        if (rc < 0)
            return -1;
        if (rc > 0)
            return 0;
    }
    b->mem_bytes = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    return 0;
}

void attn_device_close(attn_bench *b)
{
    if (b->be != &attn_backend_cpu)
        attn_cuda_close(b);
    free(b->flush);
    b->flush = NULL;
}

/* ---- one shape ---- */

static attn_problem problem_of(const attn_bench *b, const attn_shape *sh)
{
    return (attn_problem){sh->dims, b->dtype, b->layout, sh->lens, 0.0f, 0};
}

int attn_shape_check(const attn_bench *b, const attn_shape *sh, char *err, size_t errlen, const char **hint)
{
    attn_problem p = problem_of(b, sh);
    double kv_bytes = 2.0 * (double)attn_kv_elems(&p) * (double)attn_dtype_size(b->dtype);
    *hint = NULL;
    if (kv_bytes > (double)b->max_kv_bytes) {
        lm_seterr(err, errlen,
                  "this shape needs %.3g GiB for K and V, more than the %.3g GiB "
                  "this run allows",
                  kv_bytes / (1 << 30), (double)b->max_kv_bytes / (1 << 30));
        *hint = b->be == &attn_backend_cpu ? "the limit is --max-kv, by default half the machine's memory"
                                           : "the limit is --max-kv, by default half the GPU's memory";
        return -1;
    }
    return b->be->shape_ok(b, &p, err, errlen, hint);
}

/* The host buffers of one shape: inputs, outputs, references, timings. */
typedef struct {
    unsigned char *q, *k, *v, *o, *on;
    double *ref, *rlse;
    float *lse, *nlse;
    double *us;
} buffers;

static void buffers_alloc(buffers *m, size_t nq, size_t nkv, size_t nrow, size_t es, int runs)
{
    size_t qn = lm_xmul(nq, es), kvn = lm_xmul(nkv, es);
    m->q = lm_xmalloc(qn);
    m->k = lm_xmalloc(kvn);
    m->v = lm_xmalloc(kvn);
    m->o = lm_xmalloc(qn);
    m->on = lm_xmalloc(qn);
    m->ref = lm_xmalloc(lm_xmul(nq, sizeof *m->ref));
    m->rlse = lm_xmalloc(lm_xmul(nrow, sizeof *m->rlse));
    m->lse = lm_xmalloc(lm_xmul(nrow, sizeof *m->lse));
    m->nlse = lm_xmalloc(lm_xmul(nrow, sizeof *m->nlse));
    m->us = lm_xmalloc(lm_xmul((size_t)runs, sizeof *m->us));
}

static void buffers_free(buffers *m)
{
    free(m->q);
    free(m->k);
    free(m->v);
    free(m->o);
    free(m->on);
    free(m->ref);
    free(m->rlse);
    free(m->lse);
    free(m->nlse);
    free(m->us);
}

/* Random inputs, then the fp64 reference and the naive result in the
 * storage type (the yardsticks of the accuracy rule). */
static int fill_and_reference(const attn_bench *b, const attn_problem *p, uint64_t stream, buffers *m,
                              char *err, size_t errlen)
{
    size_t nq = attn_q_elems(p), nkv = attn_kv_elems(p);
    size_t nrow = (size_t)p->dims.B * p->dims.H_q;
    /* small problems: one thread for the references (a team costs more) */
    int rthreads = (double)nkv * (nrow / p->dims.B) / p->dims.H_kv < 1e6 ? 1 : b->threads;
    lm_rng r0;
    lm_rng_init(&r0, b->seed, stream);
    uint64_t sq = lm_rng_u64(&r0), sk = lm_rng_u64(&r0), sv = lm_rng_u64(&r0);
    attn_fill_normal(m->q, b->dtype, nq, sq, b->threads);
    attn_fill_normal(m->k, b->dtype, nkv, sk, b->threads);
    attn_fill_normal(m->v, b->dtype, nkv, sv, b->threads);
    if (attn_ref64(p, m->q, m->k, m->v, m->ref, m->rlse, rthreads, err, errlen) ||
        attn_naive_same(p, m->q, m->k, m->v, m->on, m->nlse, rthreads, err, errlen))
        return -1;
    return 0;
}

/* Runs one algorithm and measures it against the references. */
static int run_one(attn_bench *b, attn_alg a, const attn_problem *p, const attn_shape *sh, size_t kv_bytes,
                   buffers *m, attn_result *r, char *err, size_t errlen)
{
    char e2[512];
    if (b->be->run(b, a, p, sh, kv_bytes, m->q, m->k, m->v, m->o, m->lse, m->us, r, e2, sizeof e2)) {
        lm_seterr(err, errlen, "%s: %s", attn_alg_name(a), e2);
        return -1;
    }
    r->ran = 1;
    r->t_med = attn_quantile(m->us, (size_t)b->runs, 0.5);
    r->t_min = attn_quantile(m->us, (size_t)b->runs, 0.0);
    r->t_max = attn_quantile(m->us, (size_t)b->runs, 1.0);
    attn_measure(p, m->o, m->lse, m->ref, m->rlse, m->on, attn_default_atol(p->dtype), &r->acc);
    r->checksum = attn_fnv1a(m->o, attn_q_elems(p) * attn_dtype_size(p->dtype));
    return 0;
}

int attn_shape_run(attn_bench *b, const attn_shape *sh, uint64_t stream, attn_result res[ATTN_N_ALGS],
                   char *err, size_t errlen)
{
    attn_problem p = problem_of(b, sh);
    size_t es = attn_dtype_size(b->dtype);
    size_t nq = attn_q_elems(&p), nkv = attn_kv_elems(&p);
    size_t nrow = (size_t)p.dims.B * p.dims.H_q;
    double kv_bytes = 2.0 * (double)nkv * (double)es;
    memset(res, 0, ATTN_N_ALGS * sizeof *res);
    buffers m;
    int rc = -1;
    buffers_alloc(&m, nq, nkv, nrow, es, b->runs);
    if (fill_and_reference(b, &p, stream, &m, err, errlen))
        goto done;
    if (b->be->upload) {
        char e2[512];
        if (b->be->upload(b, &p, sh, m.q, m.k, m.v, e2, sizeof e2)) {
            lm_seterr(err, errlen, "GPU: %s", e2);
            goto done;
        }
    }
    for (int i = 0; i < b->nalg; i++)
        if (run_one(b, b->algs[i], &p, sh, (size_t)kv_bytes, &m, &res[b->algs[i]], err, errlen))
            goto done;
    b->n_results += (uint64_t)b->nalg;
    rc = 0;
done:
    if (b->be->release)
        b->be->release(b);
    buffers_free(&m);
    return rc;
}
