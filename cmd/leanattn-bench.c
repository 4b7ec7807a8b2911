/* leanattn-bench.c - LeanAttention decode benchmark and correctness harness:
 * reads attention shapes as JSON Lines (or takes a named matrix), runs the
 * fp64 reference and the nosplit, splitkv, lean and lean-combine schedules on
 * the CPU (lib/attn) or the GPU (kernels/attn_cuda.h), and writes one record
 * per shape and algorithm with timings, bandwidth against a measured
 * streaming read, the fraction of the physical floor, speed-ups and the error
 * under FlashAttention's 2x rule.  --check runs the adversarial suite only.
 * This file holds options and the record loop; every algorithm, schedule and
 * matrix lives in lib/attn/ (spec leanattn-bench §5, §8-§10).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <omp.h>

#include "attn/attn.h"
#include "attn/bench.h"
#include "attn/check.h"
#include "attn/sched.h"
#include "core/cli.h"
#include "core/diag.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/rng.h"
#include "core/svg.h"
#ifdef HAVE_CUDA
#include "nn/backend_cuda.h"
/* liblmkit-cuda.so's table, loaded when a GPU is chosen (pick_device) */
static const lm_cuda_api *cu;
#endif

enum {
    OPT_ALGO = 256,
    OPT_MATRIX,
    OPT_FULL,
    OPT_DTYPE,
    OPT_LAYOUT,
    OPT_RUNS,
    OPT_WARMUP,
    OPT_BANDWIDTH,
    OPT_NO_FLUSH,
    OPT_WORKERS,
    OPT_SVG,
    OPT_CHECK,
    OPT_MAX_KV,
};

static const lm_opt opts[] = {
    {"algo", 'a', "LIST",
     "algorithms, comma-separated: naive nosplit splitkv lean lean-combine "
     "(default nosplit,splitkv,lean,lean-combine)", NULL, OPT_ALGO},
    {"matrix", 'm', "NAME", "run a named matrix instead of reading shapes: paper gqa waves "
     "ragged ablation", "choice:paper gqa waves ragged ablation", OPT_MATRIX},
    {"full", 0, NULL, "with --matrix: every cell, not the default sample", NULL, OPT_FULL},
    {"dtype", 0, "T", "storage type: bf16 fp16 fp32 (fp32 CPU only; default bf16)",
     "choice:bf16 fp16 fp32", OPT_DTYPE},
    {"layout", 0, "L", "K/V layout: HND [B,H,L,D] or NHD [B,L,H,D] (default HND)",
     "choice:HND NHD", OPT_LAYOUT},
    {"runs", 'r', "N", "timed runs per algorithm (default 3 on the CPU, 20 on a GPU)", NULL,
     OPT_RUNS},
    {"warmup", 0, "N", "untimed runs before them (default 1 on the CPU, 3 on a GPU)", NULL,
     OPT_WARMUP},
    {"bandwidth", 0, "GBPS", "take this read bandwidth (GB/s) instead of measuring it", NULL,
     OPT_BANDWIDTH},
    {"no-flush", 0, NULL, "do not flush the caches before each timed run", NULL, OPT_NO_FLUSH},
    {"workers", 'w', "W", "CPU: workers (pretend SMs) of the schedules (default: the threads)",
     NULL, OPT_WORKERS},
    {"max-kv", 0, "GIB", "skip (matrix) or reject shapes whose K+V exceed GIB GiB (default: "
     "half the memory)", NULL, OPT_MAX_KV},
    {"svg", 0, "FILE", "plot speed-up against context length per algorithm", "outfile", OPT_SVG},
    {"check", 0, NULL, "run the adversarial correctness suite only; exit 1 on any failure", NULL,
     OPT_CHECK},
    {0},
};

static const lm_cmd cmd = {
    "leanattn-bench",
    "[OPTION]... [FILE]...",
    "Benchmark and check decode attention schedules (LeanAttention, FlashDecoding).",
    "Reads attention shapes as JSON Lines, e.g. {\"batch\":1,\"heads\":32,\"kv_heads\":8,"
    "\"head_dim\":128,\"ctx\":131072} or a ragged batch with \"ctx\":[131072,2048,2048], runs "
    "each algorithm on random inputs and writes one record per shape and algorithm: the input "
    "record with algo, time_us, gbps, pct_bw, pct_floor, speedup_vs_splitkv, max_err, ok and "
    "more added.  With --matrix the shapes come from a named matrix and the records are "
    "standalone.",
    "Examples:\n"
    "  echo '{\"heads\":4,\"kv_heads\":1,\"head_dim\":128,\"ctx\":65536}' | leanattn-bench\n"
    "  leanattn-bench --check\n"
    "  leanattn-bench --device cuda --matrix waves --svg waves.svg\n"
    "See man leanattn-bench for the fields and how to read them.",
    opts,
    LM_OPT_THREADS | LM_OPT_SEED | LM_OPT_DEVICE | LM_OPT_RECORDS,
    NULL,
    NULL};

enum { MAX_HEADS = 4096, MAX_BATCH = 65536 };
#define MAX_CTX (1 << 30)

/* speed-up points for the plot: (context length, log speed-up) */
typedef struct {
    double *x, *y;
    size_t n, cap;
} series;

typedef struct {
    attn_alg algs[ATTN_N_ALGS];
    int nalg;
    int has[ATTN_N_ALGS];
    const char *matrix;
    int full;
    attn_dtype dtype;
    int dtype_set;
    attn_layout layout;
    int runs, warmup;
    double bw_given;
    int no_flush;
    int workers;
    const char *svg;
    int check;
    double max_kv_gib;
    /* run state */
    const lm_common *com;
    long llc; /* last-level cache bytes */
    int device; /* LM_DEVICE_CPU or LM_DEVICE_CUDA */
    int threads;
    uint64_t seed;
    double bw;
    const char *bw_kind;
    size_t max_kv_bytes;
    unsigned char *flush;
    size_t flush_bytes;
    uint64_t n_results, n_failed;
    series pts[ATTN_N_ALGS];
#ifdef HAVE_CUDA
    int cuda_dev;
    attn_cuda_info info;
    int occ;
#endif
} ctx_t;

/* One shape. */
typedef struct {
    attn_dims dims;
    int *lens; /* [B] */
    int ragged;
    const char *label; /* matrix cells */
    int grid_mult;     /* matrix cells: lean grid rule (bench.h) */
} shape_t;

/* What one algorithm gave on one shape. */
typedef struct {
    int ran;
    const char *device;
    double t_med, t_min, t_max;
    attn_sched_info si;
    double partial_rows;
    attn_accuracy acc;
    uint64_t checksum;
} result_t;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static void parse_algos(ctx_t *c, const char *arg)
{
    c->nalg = 0;
    memset(c->has, 0, sizeof c->has);
    const char *s = arg;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char name[32];
        if (n == 0 || n >= sizeof name)
            lm_usage_error(&cmd, "invalid --algo '%s': expected a comma-separated list of naive, "
                           "nosplit, splitkv, lean, lean-combine", arg);
        memcpy(name, s, n);
        name[n] = 0;
        attn_alg a;
        if (attn_alg_parse(name, &a))
            lm_usage_error(&cmd, "invalid --algo '%s': unknown algorithm '%s' (choose from naive, "
                           "nosplit, splitkv, lean, lean-combine)", arg, name);
        if (c->has[a])
            lm_usage_error(&cmd, "invalid --algo '%s': '%s' given twice", arg, name);
        c->has[a] = 1;
        c->algs[c->nalg++] = a;
        if (!e)
            break;
        s = e + 1;
    }
}

static int on_opt(void *vctx, int id, const char *arg)
{
    ctx_t *c = vctx;
    switch (id) {
    case OPT_ALGO: parse_algos(c, arg); break;
    case OPT_MATRIX:
        c->matrix = attn_matrix_names[lm_opt_choice(&cmd, "matrix", arg, attn_matrix_names)];
        break;
    case OPT_FULL: c->full = 1; break;
    case OPT_DTYPE: {
        static const char *const ch[] = {"fp32", "bf16", "fp16", NULL};
        c->dtype = (attn_dtype)lm_opt_choice(&cmd, "dtype", arg, ch); /* same numbering */
        c->dtype_set = 1;
        break;
    }
    case OPT_LAYOUT: {
        static const char *const ch[] = {"HND", "NHD", NULL};
        c->layout = (attn_layout)lm_opt_choice(&cmd, "layout", arg, ch);
        break;
    }
    case OPT_RUNS: c->runs = (int)lm_opt_int(&cmd, "runs", arg, 1, 100000); break;
    case OPT_WARMUP: c->warmup = (int)lm_opt_int(&cmd, "warmup", arg, 0, 100000); break;
    case OPT_BANDWIDTH:
        c->bw_given = lm_opt_double(&cmd, "bandwidth", arg, 0, 1, 1e7, 0);
        break;
    case OPT_NO_FLUSH: c->no_flush = 1; break;
    case OPT_WORKERS: c->workers = (int)lm_opt_int(&cmd, "workers", arg, 1, 65536); break;
    case OPT_SVG: c->svg = arg; break;
    case OPT_CHECK: c->check = 1; break;
    case OPT_MAX_KV:
        c->max_kv_gib = lm_opt_double(&cmd, "max-kv", arg, 0, 1, 1 << 20, 0);
        break;
    }
    return 0;
}

/* ---- inputs ---- */

/* Fill n elements of type t with N(0,1) values, in chunks with their own
 * streams so that the values do not depend on the thread count. */
static void fill_normal(void *buf, attn_dtype t, size_t n, uint64_t seed, int threads)
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

static uint64_t fnv1a(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---- bandwidth and cache flushing ---- */

static void ensure_bandwidth(ctx_t *c)
{
    if (c->bw > 0)
        return;
    if (c->bw_given > 0) {
        c->bw = c->bw_given;
        c->bw_kind = "given";
        return;
    }
    char err[256];
#ifdef HAVE_CUDA
    if (c->device == LM_DEVICE_CUDA) {
        /* >= 4 GB as the spec asks, but no more than a quarter of the memory */
        size_t bytes = (size_t)4 << 30;
        if ((long long)bytes > c->info.mem_bytes / 4)
            bytes = (size_t)(c->info.mem_bytes / 4) & ~(size_t)15;
        if (bytes < ((size_t)16 << 20))
            bytes = (size_t)16 << 20;
        if (cu->attn_read_bw(c->cuda_dev, bytes, 5, &c->bw, err, sizeof err))
            lm_die_hint(LM_EXIT_USAGE, "give the bandwidth with --bandwidth GBPS",
                        "measuring the GPU read bandwidth: %s", err);
        c->bw_kind = "cuda-read-stream";
        return;
    }
#endif
    if (attn_cpu_read_bw((size_t)256 << 20, 3, c->threads, &c->bw, err, sizeof err))
        lm_die_hint(LM_EXIT_USAGE, "give the bandwidth with --bandwidth GBPS",
                    "measuring the CPU read bandwidth: %s", err);
    c->bw_kind = "cpu-read-stream";
}

/* Evict the last-level cache by writing a buffer of twice its size. */
static void cpu_flush(ctx_t *c)
{
    if (!c->flush) {
        c->flush_bytes = 2 * (size_t)c->llc;
        c->flush = lm_xmalloc(c->flush_bytes);
    }
    static const int fill = 0x5a;
    memset(c->flush, fill ^ (int)(c->n_results & 0xff), c->flush_bytes);
}

/* ---- shapes from records ---- */

static int get_int_member(const lm_record *in, const char *key, int required, int64_t lo,
                          int64_t hi, int64_t *out, lm_rerr *err)
{
    const lm_member *m = lm_rec_get(in, key);
    if (!m) {
        if (required) {
            lm_rerr_set(err, LM_NOPOS, "no \"%s\" field", key);
            lm_rerr_hint(err, "a shape reads {\"batch\":1,\"heads\":32,\"kv_heads\":8,"
                         "\"head_dim\":128,\"ctx\":131072}");
            return -1;
        }
        return 0;
    }
    if (m->type != LM_J_NUMBER) {
        lm_rerr_set(err, m->vpos, "\"%s\" must be a number, not %s", key, lm_jtype_name(m->type));
        return -1;
    }
    int64_t v;
    if (lm_jint(in->text + m->vpos, m->vlen, &v)) {
        lm_rerr_set(err, m->vpos, "\"%s\" must be a whole number, not %.*s", key, (int)m->vlen,
                    in->text + m->vpos);
        return -1;
    }
    if (v < lo || v > hi) {
        lm_rerr_set(err, m->vpos, "\"%s\" is %lld; it must lie in [%lld, %lld]", key, (long long)v,
                    (long long)lo, (long long)hi);
        return -1;
    }
    *out = v;
    return 1;
}

static int ctx_value(const lm_record *in, size_t pos, size_t len, int idx, int *out, lm_rerr *err)
{
    int64_t v;
    char what[32];
    if (idx < 0)
        snprintf(what, sizeof what, "\"ctx\"");
    else
        snprintf(what, sizeof what, "\"ctx\"[%d]", idx);
    if (lm_jint(in->text + pos, len, &v)) {
        lm_rerr_set(err, pos, "%s must be a whole number, not %.*s", what, (int)len,
                    in->text + pos);
        return -1;
    }
    if (v < 0) {
        lm_rerr_set(err, pos, "%s is negative (%lld): context lengths are >= 0", what,
                    (long long)v);
        return -1;
    }
    if (v > MAX_CTX) {
        lm_rerr_set(err, pos, "%s is %lld; at most %d tokens are supported", what, (long long)v,
                    MAX_CTX);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Parse the shape of a record; returns 0 or -1 with err set. */
static int parse_shape(const lm_record *in, shape_t *s, lm_rerr *err)
{
    memset(s, 0, sizeof *s);
    int64_t batch = 0, heads = 0, kvh = 0, hd = 0;
    int has_batch = get_int_member(in, "batch", 0, 1, MAX_BATCH, &batch, err);
    if (has_batch < 0 || get_int_member(in, "heads", 1, 1, MAX_HEADS, &heads, err) < 0)
        return -1;
    int has_kv = get_int_member(in, "kv_heads", 0, 1, MAX_HEADS, &kvh, err);
    if (has_kv < 0 || get_int_member(in, "head_dim", 1, 1, 1 << 16, &hd, err) < 0)
        return -1;
    if (!has_kv)
        kvh = heads;
    if (hd != 64 && hd != 128) {
        const lm_member *m = lm_rec_get(in, "head_dim");
        lm_rerr_set(err, m->vpos, "\"head_dim\" is %lld; it must be 64 or 128", (long long)hd);
        return -1;
    }
    if (heads % kvh) {
        const lm_member *m = lm_rec_get(in, "kv_heads");
        lm_rerr_set(err, m->vpos, "\"heads\" (%lld) is not divisible by \"kv_heads\" (%lld)",
                    (long long)heads, (long long)kvh);
        lm_rerr_hint(err, "each KV head serves heads/kv_heads query heads (GQA)");
        return -1;
    }
    const lm_member *m = lm_rec_get(in, "ctx");
    if (!m) {
        lm_rerr_set(err, LM_NOPOS, "no \"ctx\" field");
        lm_rerr_hint(err, "give the context length, \"ctx\":131072, or one per sequence, "
                     "\"ctx\":[131072,2048]");
        return -1;
    }
    if (m->type == LM_J_NUMBER) {
        int L;
        if (ctx_value(in, m->vpos, m->vlen, -1, &L, err))
            return -1;
        if (!has_batch)
            batch = 1;
        s->lens = lm_xmalloc((size_t)batch * sizeof *s->lens);
        for (int64_t b = 0; b < batch; b++)
            s->lens[b] = L;
    } else if (m->type == LM_J_ARRAY) {
        /* the scanner validated the JSON; walk the elements */
        const char *t = in->text;
        size_t p = m->vpos + 1, end = m->vpos + m->vlen - 1, cap = 0, n = 0;
        int *lens = NULL;
        for (;;) {
            while (p < end && strchr(" \t\r\n", t[p]))
                p++;
            if (p >= end)
                break;
            size_t q = p;
            if (!(t[p] == '-' || (t[p] >= '0' && t[p] <= '9'))) {
                lm_rerr_set(err, p, "\"ctx\"[%zu] must be a number", n);
                free(lens);
                return -1;
            }
            while (q < end && !strchr(", \t\r\n", t[q]))
                q++;
            lm_grow(lens, cap, n + 1);
            if (n >= MAX_BATCH) {
                lm_rerr_set(err, p, "\"ctx\" lists more than %d sequences", MAX_BATCH);
                free(lens);
                return -1;
            }
            if (ctx_value(in, p, q - p, (int)n, &lens[n], err)) {
                free(lens);
                return -1;
            }
            n++;
            while (q < end && strchr(" \t\r\n", t[q]))
                q++;
            p = q < end && t[q] == ',' ? q + 1 : q;
        }
        if (n == 0) {
            lm_rerr_set(err, m->vpos, "\"ctx\" is an empty list");
            free(lens);
            return -1;
        }
        if (has_batch && (size_t)batch != n) {
            const lm_member *mb = lm_rec_get(in, "batch");
            lm_rerr_set(err, mb->vpos, "\"batch\" is %lld but \"ctx\" lists %zu lengths",
                        (long long)batch, n);
            free(lens);
            return -1;
        }
        batch = (int64_t)n;
        s->lens = lens;
        s->ragged = 1;
    } else {
        lm_rerr_set(err, m->vpos, "\"ctx\" must be a number or a list of numbers, not %s",
                    lm_jtype_name(m->type));
        return -1;
    }
    s->dims = (attn_dims){(int)batch, (int)heads, (int)kvh, (int)hd, 0};
    return 0;
}

/* ---- running ---- */

static void record_point(ctx_t *c, attn_alg a, double x, double speedup)
{
    series *s = &c->pts[a];
    if (!(speedup > 0) || !isfinite(speedup))
        return;
    lm_grow(s->x, s->cap, s->n + 1);
    s->y = lm_xrealloc(s->y, s->cap * sizeof *s->y);
    s->x[s->n] = x;
    s->y[s->n] = log(speedup);
    s->n++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Time one algorithm on the CPU; o and lse hold its output afterwards. */
static int run_cpu(ctx_t *c, attn_alg a, const attn_problem *p, const shape_t *sh,
                   size_t kv_bytes, const void *q, const void *k, const void *v, void *o,
                   float *lse, double *us, result_t *r, char *err, size_t errlen)
{
    attn_opts op = {c->workers, 0, 0, c->threads, 0};
    if (sh->grid_mult > 0)
        op.grid = sh->grid_mult * c->workers;
    /* K/V much larger than the cache evict it themselves */
    int flush = !c->no_flush && kv_bytes < 4 * (size_t)c->llc;
    for (int i = 0; i < c->warmup; i++)
        if (attn_cpu_run(a, p, &op, q, k, v, o, lse, &r->si, err, errlen))
            return -1;
    for (int i = 0; i < c->runs; i++) {
        if (flush)
            cpu_flush(c);
        double t0 = now_us();
        if (attn_cpu_run(a, p, &op, q, k, v, o, lse, &r->si, err, errlen))
            return -1;
        us[i] = now_us() - t0;
    }
    r->device = "cpu";
    /* partial states written (and read back): the scratch buffers */
    r->partial_rows = (double)r->si.scratch_bytes / (4.0 * (p->dims.D + 2));
    return 0;
}

#ifdef HAVE_CUDA
static int run_cuda(ctx_t *c, attn_alg a, const attn_problem *p, const shape_t *sh,
                    const attn_tiles *tl, void *dq, void *dk, void *dv, void *dout, float *dlse,
                    void *o, float *lse, double *us, result_t *r, char *err, size_t errlen)
{
    attn_cuda_config cf = {p->dims.B, p->dims.H_q, p->dims.H_kv, p->dims.D, (int)p->dtype,
                           (int)p->layout, p->dims.block_n, 0.0f, (int)a, 0, 0, 0};
    int sms = c->info.sm_count;
    if (a == ATTN_SPLITKV) {
        cf.splits = attn_fa2_num_splits((int)tl->n_heads, 2 * sms, tl->n_blocks_max, 128);
    } else if (a == ATTN_LEAN || a == ATTN_LEAN_COMBINE) {
        attn_lean_grid lg;
        attn_lean_grid_ort(&lg, tl->total, tl->n_blocks_max, p->dims.B, p->dims.H_kv, sms);
        int G = lg.G;
        if (sh->grid_mult > 0)
            G = sh->grid_mult * sms;
        else if (sh->grid_mult < 0)
            G = c->occ * sms;
        if (a == ATTN_LEAN && G > c->occ * sms)
            G = c->occ * sms;
        cf.grid = G > 0 ? G : 1;
    }
    attn_cuda_plan *plan;
    if (cu->attn_plan_create(&plan, c->cuda_dev, &cf, sh->lens, err, errlen))
        return -1;
    size_t no = attn_q_elems(p), nrow = (size_t)p->dims.B * p->dims.H_q;
    int rc = cu->attn_run(plan, dq, dk, dv, dout, dlse, err, errlen) ||
             cu->attn_download(o, dout, no * 2, err, errlen) ||
             cu->attn_download(lse, dlse, nrow * sizeof(float), err, errlen) ||
             cu->attn_time(plan, dq, dk, dv, dout, c->warmup, c->runs, !c->no_flush, us, err,
                           errlen);
    int grid = 0, splits = 1;
    long long tt = 0, tpc = 0, prow = 0;
    size_t scratch = 0;
    cu->attn_plan_info(plan, &grid, &tt, &tpc, &splits, &scratch, &prow);
    cu->attn_plan_destroy(plan);
    r->si = (attn_sched_info){grid, tt, tpc, splits, scratch};
    r->partial_rows = (double)prow;
    r->device = "cuda";
    return rc ? -1 : 0;
}
#endif

/* Write the record of one algorithm. */
static void emit_result(ctx_t *c, const shape_t *sh, const attn_problem *p, attn_alg a,
                        const result_t *r, const result_t *all, const lm_record *in, lm_out *out)
{
    if (!in) { /* standalone: the shape first */
        lm_out_str(out, "label", sh->label ? sh->label : "");
        lm_out_int(out, "batch", p->dims.B);
        lm_out_int(out, "heads", p->dims.H_q);
        lm_out_int(out, "kv_heads", p->dims.H_kv);
        lm_out_int(out, "head_dim", p->dims.D);
        if (sh->ragged) {
            lm_buf *b = lm_out_begin(out, "ctx");
            lm_buf_addc(b, '[');
            for (int i = 0; i < p->dims.B; i++) {
                if (i)
                    lm_buf_addc(b, ',');
                lm_buf_printf(b, "%d", sh->lens[i]);
            }
            lm_buf_addc(b, ']');
            lm_out_end(out);
        } else {
            lm_out_int(out, "ctx", sh->lens[0]);
        }
    }
    lm_out_str(out, "algo", attn_alg_name(a));
    lm_out_str(out, "device", r->device);
    lm_out_str(out, "dtype", attn_dtype_name(p->dtype));
    lm_out_str(out, "layout", attn_layout_name(p->layout));
    lm_out_int(out, "block_n", attn_dims_block_n(&p->dims));
#ifdef HAVE_CUDA
    lm_out_int(out, "workers", strcmp(r->device, "cuda") ? c->workers : c->info.sm_count);
#else
    lm_out_int(out, "workers", c->workers);
#endif
    lm_out_int(out, "grid", r->si.grid);
    lm_out_int(out, "tiles", r->si.tiles_total);
    lm_out_int(out, "tiles_per_worker_max", r->si.tiles_per_worker_max);
    lm_out_int(out, "splits_max", r->si.splits_max);
    lm_out_int(out, "runs", c->runs);
    /* times to the nanosecond: the clocks resolve no finer */
    lm_out_num(out, "time_us", round(r->t_med * 1e3) / 1e3);
    lm_out_num(out, "time_min_us", round(r->t_min * 1e3) / 1e3);
    lm_out_num(out, "time_max_us", round(r->t_max * 1e3) / 1e3);
    int es = (int)attn_dtype_size(p->dtype);
    int64_t lsum = attn_len_sum(p);
    double bytes = attn_bytes_call(&p->dims, lsum, es, r->partial_rows);
    double kvb = attn_bytes_kv(&p->dims, lsum, es);
    double t_s = r->t_med > 0 ? r->t_med * 1e-6 : 1e-9;
    double gbps = bytes / t_s / 1e9;
    double floor_us = attn_floor_us(kvb, c->bw);
    lm_out_num(out, "bytes", bytes);
    lm_out_num(out, "gbps", gbps);
    lm_out_num(out, "bw_gbps", c->bw);
    lm_out_str(out, "bw_source", c->bw_kind);
    lm_out_num(out, "pct_bw", 100.0 * gbps / c->bw);
    lm_out_num(out, "floor_us", floor_us);
    lm_out_num(out, "pct_floor", 100.0 * floor_us / (t_s * 1e6));
    static const attn_alg base[2] = {ATTN_SPLITKV, ATTN_NOSPLIT};
    static const char *const key[2] = {"speedup_vs_splitkv", "speedup_vs_nosplit"};
    for (int i = 0; i < 2; i++)
        if (all[base[i]].ran && r->t_med > 0)
            lm_out_num(out, key[i], all[base[i]].t_med / r->t_med);
    if (isfinite(r->acc.max_err))
        lm_out_num(out, "max_err", r->acc.max_err);
    else
        lm_out_null(out, "max_err");
    lm_out_num(out, "naive_err", r->acc.naive_err);
    if (r->acc.nonfinite)
        lm_out_int(out, "nonfinite", (int64_t)r->acc.nonfinite);
    lm_out_bool(out, "ok", r->acc.ok);
    char hex[24];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)r->checksum);
    lm_out_str(out, "checksum", hex);
}

/* Run every algorithm on one shape and write its records.  stream seeds the
 * inputs.  Returns LM_REC_*. */
static int run_shape(ctx_t *c, shape_t *sh, uint64_t stream, const lm_record *in, lm_out *out,
                     lm_rerr *rerr)
{
    attn_problem p = {sh->dims, c->dtype, c->layout, sh->lens, 0.0f};
    char err[512];
    err[0] = 0;
    size_t es = attn_dtype_size(c->dtype);
    size_t nq = attn_q_elems(&p), nkv = attn_kv_elems(&p);
    size_t nrow = (size_t)p.dims.B * p.dims.H_q;
    double kv_bytes = 2.0 * (double)nkv * (double)es;
    if (kv_bytes > (double)c->max_kv_bytes) {
        lm_rerr_set(rerr, LM_NOPOS, "this shape needs %.3g GiB for K and V, more than the %.3g GiB "
                    "this run allows", kv_bytes / (1 << 30),
                    (double)c->max_kv_bytes / (1 << 30));
        lm_rerr_hint(rerr, "the limit is --max-kv, by default half the %s memory",
                     c->device == LM_DEVICE_CUDA ? "GPU's" : "machine's");
        return LM_REC_BAD;
    }
#ifdef HAVE_CUDA
    if (c->device == LM_DEVICE_CUDA && p.dims.H_q / p.dims.H_kv > ATTN_CUDA_MAX_GROUP) {
        lm_rerr_set(rerr, LM_NOPOS, "heads/kv_heads = %d: the GPU kernels take at most %d query "
                    "heads per KV head", p.dims.H_q / p.dims.H_kv, ATTN_CUDA_MAX_GROUP);
        lm_rerr_hint(rerr, "run this shape with --device cpu");
        return LM_REC_BAD;
    }
#endif
    ensure_bandwidth(c);
    /* small problems: one thread for the references (a team costs more) */
    int rthreads = (double)nkv * (nrow / p.dims.B) / p.dims.H_kv < 1e6 ? 1 : c->threads;

    size_t kvn = nkv > 0 ? nkv * es : 1;
    unsigned char *q = malloc(nq * es), *k = malloc(kvn), *v = malloc(kvn), *o = malloc(nq * es),
                  *on = malloc(nq * es);
    double *ref = malloc(nq * sizeof *ref), *rlse = malloc(nrow * sizeof *rlse);
    float *lse = malloc(nrow * sizeof *lse), *nlse = malloc(nrow * sizeof *nlse);
    double *us = malloc((size_t)c->runs * sizeof *us);
    int st = LM_REC_FATAL;
    result_t res[ATTN_N_ALGS];
    memset(res, 0, sizeof res);
#ifdef HAVE_CUDA
    void *dq = NULL, *dk = NULL, *dv = NULL, *dout = NULL, *dlse = NULL;
    attn_tiles tl = {0};
#endif
    if (!q || !k || !v || !o || !on || !ref || !rlse || !lse || !nlse || !us) {
        lm_rerr_set(rerr, LM_NOPOS, "out of memory for a shape with %.3g GiB of K and V",
                    kv_bytes / (1 << 30));
        goto done;
    }
    lm_rng r0;
    lm_rng_init(&r0, c->seed, stream);
    uint64_t sq = lm_rng_u64(&r0), sk = lm_rng_u64(&r0), sv = lm_rng_u64(&r0);
    fill_normal(q, c->dtype, nq, sq, c->threads);
    fill_normal(k, c->dtype, nkv, sk, c->threads);
    fill_normal(v, c->dtype, nkv, sv, c->threads);
    if (attn_ref64(&p, q, k, v, ref, rlse, rthreads, err, sizeof err) ||
        attn_naive_same(&p, q, k, v, on, nlse, rthreads, err, sizeof err)) {
        lm_rerr_set(rerr, LM_NOPOS, "%s", err);
        goto done;
    }
#ifdef HAVE_CUDA
    if (c->device == LM_DEVICE_CUDA) {
        if (attn_tiles_init(&tl, &p.dims, sh->lens, err, sizeof err) ||
            cu->attn_malloc(&dq, nq * es, err, sizeof err) ||
            cu->attn_malloc(&dk, nkv * es, err, sizeof err) ||
            cu->attn_malloc(&dv, nkv * es, err, sizeof err) ||
            cu->attn_malloc(&dout, nq * es, err, sizeof err) ||
            cu->attn_malloc(&dlse, nrow * sizeof(float), err, sizeof err) ||
            cu->attn_upload(dq, q, nq * es, err, sizeof err) ||
            (nkv && cu->attn_upload(dk, k, nkv * es, err, sizeof err)) ||
            (nkv && cu->attn_upload(dv, v, nkv * es, err, sizeof err))) {
            lm_rerr_set(rerr, LM_NOPOS, "GPU: %s", err);
            goto done;
        }
    }
#endif
    for (int i = 0; i < c->nalg; i++) {
        attn_alg a = c->algs[i];
        result_t *r = &res[a];
        int rc;
#ifdef HAVE_CUDA
        if (c->device == LM_DEVICE_CUDA && a != ATTN_NAIVE)
            rc = run_cuda(c, a, &p, sh, &tl, dq, dk, dv, dout, dlse, o, lse, us, r, err,
                          sizeof err);
        else
#endif
            rc = run_cpu(c, a, &p, sh, (size_t)kv_bytes, q, k, v, o, lse, us, r, err,
                         sizeof err);
        if (rc) {
            lm_rerr_set(rerr, LM_NOPOS, "%s: %s", attn_alg_name(a), err);
            goto done;
        }
        r->ran = 1;
        r->t_med = attn_quantile(us, (size_t)c->runs, 0.5);
        r->t_min = attn_quantile(us, (size_t)c->runs, 0.0);
        r->t_max = attn_quantile(us, (size_t)c->runs, 1.0);
        attn_measure(&p, o, lse, ref, rlse, on, attn_default_atol(p.dtype), &r->acc);
        r->checksum = fnv1a(o, nq * es);
    }
    /* records in --algo order, now that every time is known */
    attn_alg base = res[ATTN_SPLITKV].ran ? ATTN_SPLITKV : ATTN_NOSPLIT;
    for (int i = 0; i < c->nalg; i++) {
        attn_alg a = c->algs[i];
        emit_result(c, sh, &p, a, &res[a], res, in, out);
        if (in) {
            lm_out_push(out, in);
        } else { /* a matrix cell: written at once, standalone */
            lm_emit(c->com, out, NULL);
            lm_out_reset(out);
        }
        c->n_results++;
        if (!res[a].acc.ok)
            c->n_failed++;
        if (c->svg && res[base].ran && res[a].t_med > 0)
            record_point(c, a, (double)attn_len_max(&p), res[base].t_med / res[a].t_med);
    }
    out->suppress = 1;
    st = LM_REC_OK;
done:
#ifdef HAVE_CUDA
    attn_tiles_free(&tl);
    if (cu) {
        cu->attn_free(dq);
        cu->attn_free(dk);
        cu->attn_free(dv);
        cu->attn_free(dout);
        cu->attn_free(dlse);
    }
#endif
    free(q);
    free(k);
    free(v);
    free(o);
    free(on);
    free(ref);
    free(rlse);
    free(lse);
    free(nlse);
    free(us);
    return st;
}

static int on_record(void *vctx, const lm_record *in, lm_out *out, lm_rerr *err)
{
    ctx_t *c = vctx;
    shape_t sh;
    if (parse_shape(in, &sh, err))
        return LM_REC_BAD;
    int st = run_shape(c, &sh, in->index, in, out, err);
    free(sh.lens);
    return st;
}

/* ---- the plot ---- */

static void write_svg(ctx_t *c)
{
    attn_alg base = c->has[ATTN_SPLITKV] ? ATTN_SPLITKV : ATTN_NOSPLIT;
    char title[128], ylab[64], err[512];
    snprintf(title, sizeof title, "Decode attention speed-up over %s (%s, %s)",
             attn_alg_name(base), c->device == LM_DEVICE_CUDA ? "GPU" : "CPU",
             attn_dtype_name(c->dtype));
    snprintf(ylab, sizeof ylab, "speed-up vs %s", attn_alg_name(base));
    lm_plot *pl = lm_plot_new(title, "context length (tokens; longest sequence)", ylab);
    lm_plot_logx(pl, 2);
    lm_plot_note(pl, "geometric mean over the shapes with the same context length");
    for (int i = 0; i < c->nalg; i++) {
        attn_alg a = c->algs[i];
        series *s = &c->pts[a];
        if (!s->n)
            continue;
        /* sort by x (pairs), then one geometric-mean point per distinct x */
        double *xy = lm_xmalloc(lm_xmul(s->n, 2 * sizeof *xy));
        for (size_t j = 0; j < s->n; j++) {
            xy[2 * j] = s->x[j];
            xy[2 * j + 1] = s->y[j];
        }
        qsort(xy, s->n, 2 * sizeof *xy, cmp_double); /* compares the first double */
        double *px = lm_xmalloc(s->n * sizeof *px), *py = lm_xmalloc(s->n * sizeof *py);
        size_t m = 0;
        for (size_t j = 0; j < s->n;) {
            size_t e = j;
            double sum = 0;
            while (e < s->n && xy[2 * e] == xy[2 * j])
                sum += xy[2 * e++ + 1];
            px[m] = xy[2 * j] > 0 ? xy[2 * j] : 1;
            py[m++] = exp(sum / (double)(e - j));
            j = e;
        }
        lm_plot_series(pl, attn_alg_name(a), px, py, m, 1);
        free(xy);
        free(px);
        free(py);
    }
    lm_atomic af;
    if (lm_atomic_open(&af, c->svg, err, sizeof err))
        lm_die(LM_EXIT_USAGE, "--svg: %s", err);
    if (lm_svg_write(af.fp, &pl, 1)) {
        lm_atomic_abort(&af);
        lm_die(LM_EXIT_USAGE, "--svg: cannot write '%s'", c->svg);
    }
    if (lm_atomic_commit(&af, err, sizeof err))
        lm_die(LM_EXIT_USAGE, "--svg: %s", err);
    lm_plot_free(pl);
}

/* ---- --check ---- */

#ifdef HAVE_CUDA
/* The suite's implementation under test on the GPU: upload, run, download. */
static int cuda_check_runner(void *vctx, attn_alg alg, const attn_problem *p,
                             const attn_opts *opts, const void *q, const void *k, const void *v,
                             void *o, float *lse, char *err, size_t errlen)
{
    ctx_t *c = vctx;
    if (alg == ATTN_NAIVE || p->dtype == ATTN_F32 || p->dims.H_q / p->dims.H_kv > ATTN_CUDA_MAX_GROUP)
        return 1;
    attn_tiles tl;
    if (attn_tiles_init(&tl, &p->dims, p->lens, err, errlen))
        return -1;
    attn_cuda_config cf = {p->dims.B, p->dims.H_q, p->dims.H_kv, p->dims.D, (int)p->dtype,
                           (int)p->layout, p->dims.block_n, p->scale, (int)alg, 0, 0,
                           opts->reverse};
    int W = opts->workers;
    if (alg == ATTN_SPLITKV)
        cf.splits = opts->splits > 0 ? opts->splits
                                     : attn_fa2_num_splits((int)tl.n_heads, W, tl.n_blocks_max, 128);
    cf.grid = opts->grid > 0 ? opts->grid : W;
    if (cf.grid > c->occ * c->info.sm_count)
        cf.grid = c->occ * c->info.sm_count;
    size_t es = 2, nq = attn_q_elems(p), nkv = attn_kv_elems(p);
    size_t nrow = (size_t)p->dims.B * p->dims.H_q;
    void *dq = NULL, *dk = NULL, *dv = NULL, *dout = NULL, *dlse = NULL;
    attn_cuda_plan *plan = NULL;
    int rc = cu->attn_malloc(&dq, nq * es, err, errlen) ||
             cu->attn_malloc(&dk, nkv * es, err, errlen) ||
             cu->attn_malloc(&dv, nkv * es, err, errlen) ||
             cu->attn_malloc(&dout, nq * es, err, errlen) ||
             cu->attn_malloc(&dlse, nrow * sizeof(float), err, errlen) ||
             cu->attn_upload(dq, q, nq * es, err, errlen) ||
             (nkv && cu->attn_upload(dk, k, nkv * es, err, errlen)) ||
             (nkv && cu->attn_upload(dv, v, nkv * es, err, errlen)) ||
             cu->attn_plan_create(&plan, c->cuda_dev, &cf, p->lens, err, errlen) ||
             cu->attn_run(plan, dq, dk, dv, dout, dlse, err, errlen) ||
             cu->attn_download(o, dout, nq * es, err, errlen) ||
             cu->attn_download(lse, dlse, nrow * sizeof(float), err, errlen);
    cu->attn_plan_destroy(plan);
    cu->attn_free(dq);
    cu->attn_free(dk);
    cu->attn_free(dv);
    cu->attn_free(dout);
    cu->attn_free(dlse);
    attn_tiles_free(&tl);
    return rc ? -1 : 0;
}
#endif

static int run_check(ctx_t *c, const lm_common *com)
{
    size_t n = 0, skipped = 0, replen = 1 << 16;
    char *rep = lm_xmalloc(replen), err[512];
    attn_check_runner run = NULL;
#ifdef HAVE_CUDA
    if (c->device == LM_DEVICE_CUDA)
        run = cuda_check_runner;
#endif
    int f = attn_check_suite_with(run, c, c->workers, c->threads, &n, &skipped, rep, replen, err,
                                  sizeof err);
    if (f < 0)
        lm_die(LM_EXIT_USAGE, "check suite: %s", err);
    if (f > 0) {
        /* one failure per line on stderr */
        for (char *s = rep, *e; *s; s = e + 1) {
            e = strchr(s, '\n');
            if (!e)
                e = s + strlen(s) - 1;
            lm_warn("check failed: %.*s", (int)(e - s + (e[0] != '\n')), s);
            if (!e[1])
                break;
        }
    }
    lm_out o = {0};
    o.standalone = 1;
    lm_out_str(&o, "type", "check");
    lm_out_str(&o, "device", c->device == LM_DEVICE_CUDA ? "cuda" : "cpu");
    lm_out_int(&o, "workers", c->workers);
    lm_out_int(&o, "checks", (int64_t)n);
    if (skipped)
        lm_out_int(&o, "skipped", (int64_t)skipped);
    lm_out_int(&o, "failures", f);
    lm_out_bool(&o, "ok", f == 0);
    lm_emit(com, &o, NULL);
    lm_out_free(&o);
    free(rep);
    if (f)
        lm_warn("%d of %zu checks failed", f, n);
    return f ? LM_EXIT_DATA : LM_EXIT_OK;
}

/* ---- main ---- */

static void pick_device(ctx_t *c, const lm_common *com)
{
    int want = com->device;
    if (want == LM_DEVICE_CPU) {
        c->device = LM_DEVICE_CPU;
        return;
    }
#ifdef HAVE_CUDA
    char why[1024] = "";
    /* auto loads nothing for fp32 (CPU only) or on a machine without an
     * NVIDIA device: a CPU run never maps the CUDA libraries */
    cu = want == LM_DEVICE_AUTO && ((c->dtype == ATTN_F32 && c->dtype_set) || !lm_cuda_present())
             ? NULL
             : lm_cuda_gpu(why, sizeof why);
    if (cu) {
        char err[256];
        c->cuda_dev = 0;
        if (cu->attn_device_info(0, &c->info, err, sizeof err) ||
            cu->attn_lean_occupancy(0, &c->occ, err, sizeof err))
            lm_die(LM_EXIT_USAGE, "GPU: %s", err);
        c->device = LM_DEVICE_CUDA;
        return;
    }
    if (want == LM_DEVICE_CUDA)
        lm_die_hint(LM_EXIT_USAGE, "use --device cpu (or auto, which falls back to the CPU)",
                    "--device cuda: %s", why);
#else
    if (want == LM_DEVICE_CUDA)
        lm_die_hint(LM_EXIT_USAGE, "rebuild with the CUDA Toolkit (nvcc) installed, or use "
                    "--device cpu", "--device cuda: this build has no CUDA support");
#endif
    c->device = LM_DEVICE_CPU;
}

int main(int argc, char **argv)
{
    lm_cli_init(argv[0]);
    static ctx_t c;
    c.dtype = ATTN_BF16;
    c.layout = ATTN_HND;
    c.runs = c.warmup = -1;
    lm_common com;
    int oi = lm_cli_parse(&cmd, argc, argv, &com, on_opt, &c);
    if (c.nalg == 0)
        parse_algos(&c, "nosplit,splitkv,lean,lean-combine");
    c.threads = lm_cli_threads(&com);
    c.seed = com.seed;
    c.com = &com;
    c.llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (c.llc <= 0)
        c.llc = 32L << 20;
    pick_device(&c, &com);
    if (c.device == LM_DEVICE_CUDA && c.dtype == ATTN_F32)
        lm_usage_error(&cmd, "--dtype fp32 is CPU-only; the GPU kernels store bf16 or fp16");
    if (c.svg && !c.has[ATTN_SPLITKV] && !c.has[ATTN_NOSPLIT])
        lm_usage_error(&cmd, "--svg plots speed-ups over splitkv or nosplit: add one of them to "
                       "--algo");
    if (c.full && !c.matrix)
        lm_usage_error(&cmd, "--full needs --matrix");
    if (c.check && (c.matrix || c.svg))
        lm_usage_error(&cmd, "--check runs the correctness suite only; it takes no --matrix or "
                       "--svg");
    if ((c.check || c.matrix) && oi < argc)
        lm_usage_error(&cmd, "%s reads no input files", c.check ? "--check" : "--matrix");
    if (c.runs < 0)
        c.runs = c.device == LM_DEVICE_CUDA ? 20 : 3;
    if (c.warmup < 0)
        c.warmup = c.device == LM_DEVICE_CUDA ? 3 : 1;
    if (c.workers == 0)
        c.workers = c.threads;
    c.bw_kind = "given";
    {
        double mem = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
#ifdef HAVE_CUDA
        if (c.device == LM_DEVICE_CUDA)
            mem = (double)c.info.mem_bytes;
#endif
        c.max_kv_bytes = mem > 0 ? (size_t)(mem / 2) : (size_t)8 << 30;
        if (c.max_kv_gib > 0)
            c.max_kv_bytes = (size_t)(c.max_kv_gib * (double)(1 << 30));
    }

    if (c.check)
        return run_check(&c, &com);

    int st;
    if (c.matrix) {
        attn_cell_list cl;
        char err[512];
        /* the matrix counts 2-byte elements */
        int64_t cap = (int64_t)c.max_kv_bytes * 2 / (int64_t)attn_dtype_size(c.dtype);
        if (attn_matrix(c.matrix, c.full, cap, &cl, err, sizeof err))
            lm_die(LM_EXIT_USAGE, "--matrix: %s", err);
        st = LM_EXIT_OK;
        if (cl.n == 0)
            lm_warn("no cell of matrix %s fits under --max-kv %.3g GiB", c.matrix,
                    (double)c.max_kv_bytes / (1 << 30));
        for (size_t i = 0; i < cl.n; i++) {
            attn_cell *cell = &cl.cells[i];
            if (com.shard_n > 1 && i % com.shard_n != com.shard_k)
                continue;
            shape_t sh = {cell->dims, cell->lens, cell->L == 0, cell->label, cell->grid_mult};
            lm_out o = {0};
            lm_rerr e = {0};
            e.pos = LM_NOPOS;
            lm_out_reset(&o);
            int rs = run_shape(&c, &sh, i, NULL, &o, &e);
            if (rs != LM_REC_OK) {
                lm_warn("matrix %s, cell %zu (%s): %s", c.matrix, i + 1, cell->label,
                        e.msg.p ? e.msg.p : "failed");
                if (rs == LM_REC_FATAL || !com.keep_going) {
                    lm_out_free(&o);
                    lm_rerr_free(&e);
                    st = rs == LM_REC_FATAL ? LM_EXIT_USAGE : LM_EXIT_DATA;
                    break;
                }
                st = LM_EXIT_DATA;
            }
            lm_out_free(&o);
            lm_rerr_free(&e);
        }
        attn_cell_list_free(&cl);
    } else {
        lm_loop L = {.cmd = &cmd, .common = &com, .fn = on_record, .ctx = &c, .parallel = 0};
        st = lm_loop_run(&L, argc - oi, argv + oi);
    }
    if (c.svg && c.n_results)
        write_svg(&c);
    if (c.n_failed) {
        lm_warn("%llu of %llu results failed the accuracy check (ok: false)",
                (unsigned long long)c.n_failed, (unsigned long long)c.n_results);
        if (st == LM_EXIT_OK)
            st = LM_EXIT_DATA;
    }
    for (int a = 0; a < ATTN_N_ALGS; a++) {
        free(c.pts[a].x);
        free(c.pts[a].y);
    }
    free(c.flush);
    return st;
}
