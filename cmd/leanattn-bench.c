/* leanattn-bench.c - LeanAttention decode benchmark and correctness harness:
 * reads attention shapes as JSON Lines (or takes a named matrix), runs the
 * fp64 reference and the nosplit, splitkv, lean and lean-combine schedules on
 * the CPU (lib/attn) or the GPU (kernels/attn_cuda.h), and writes one record
 * per shape and algorithm with timings, bandwidth against a measured
 * streaming read, the fraction of the physical floor, speed-ups and the error
 * under FlashAttention's 2x rule.  --check runs the adversarial suite only.
 * This file holds options, the record loop and the writing; every algorithm,
 * schedule, matrix, the shape parsing and the runs on either device live in
 * lib/attn/ (harness.h).  Options, output fields and the correctness suite
 * are documented in leanattn-bench(1).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attn/attn.h"
#include "attn/bench.h"
#include "attn/check.h"
#include "attn/harness.h"
#include "attn/sched.h"
#include "core/cli.h"
#include "core/diag.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/svg.h"

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
     "(default nosplit,splitkv,lean,lean-combine)",
     NULL, OPT_ALGO},
    {"matrix", 'm', "NAME",
     "run a named matrix instead of reading shapes: paper gqa waves "
     "ragged ablation",
     "choice:paper gqa waves ragged ablation", OPT_MATRIX},
    {"full", 0, NULL, "with --matrix: every cell, not the default sample", NULL, OPT_FULL},
    {"dtype", 0, "T", "storage type: bf16 fp16 fp32 (fp32 CPU only; default bf16)", "choice:fp32 bf16 fp16",
     OPT_DTYPE},
    {"layout", 0, "L", "K/V layout: HND [B,H,L,D] or NHD [B,L,H,D] (default HND)", "choice:HND NHD",
     OPT_LAYOUT},
    {"runs", 'r', "N", "timed runs per algorithm (default 3 on the CPU, 20 on a GPU)", NULL, OPT_RUNS},
    {"warmup", 0, "N", "untimed runs before them (default 1 on the CPU, 3 on a GPU)", NULL, OPT_WARMUP},
    {"bandwidth", 0, "GBPS", "take this read bandwidth (GB/s) instead of measuring it", NULL, OPT_BANDWIDTH},
    {"no-flush", 0, NULL, "do not flush the caches before each timed run", NULL, OPT_NO_FLUSH},
    {"workers", 'w', "W", "CPU: workers (pretend SMs) of the schedules (default: the threads)", NULL,
     OPT_WORKERS},
    {"max-kv", 0, "GIB",
     "skip (matrix) or reject shapes whose K+V exceed GIB GiB (default: "
     "half the memory)",
     NULL, OPT_MAX_KV},
    {"svg", 0, "FILE", "plot speed-up against context length per algorithm", "outfile", OPT_SVG},
    {"check", 0, NULL, "run the adversarial correctness suite only; exit 1 on any failure", NULL, OPT_CHECK},
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

/* speed-up points for the plot: (context length, log speed-up) */
typedef struct {
    double *x, *y;
    size_t n, cap;
} series;

typedef struct {
    attn_bench b; /* algorithms, data type, layout, runs, device */
    int has[ATTN_N_ALGS];
    const char *matrix;
    int full;
    int dtype_set;
    double bw_given;
    const char *svg;
    int check;
    double max_kv_gib;
    /* run state */
    const lm_common *com;
    double bw;
    const char *bw_kind;
    uint64_t n_failed;
    series pts[ATTN_N_ALGS];
} ctx_t;

static void parse_algos(ctx_t *c, const char *arg)
{
    c->b.nalg = 0;
    memset(c->has, 0, sizeof c->has);
    const char *s = arg;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char name[32];
        if (n == 0 || n >= sizeof name)
            lm_usage_error(&cmd,
                           "invalid --algo '%s': expected a comma-separated list of naive, "
                           "nosplit, splitkv, lean, lean-combine",
                           arg);
        memcpy(name, s, n);
        name[n] = 0;
        attn_alg a;
        if (attn_alg_parse(name, &a))
            lm_usage_error(&cmd,
                           "invalid --algo '%s': unknown algorithm '%s' (choose from naive, "
                           "nosplit, splitkv, lean, lean-combine)",
                           arg, name);
        if (c->has[a])
            lm_usage_error(&cmd, "invalid --algo '%s': '%s' given twice", arg, name);
        c->has[a] = 1;
        c->b.algs[c->b.nalg++] = a;
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
    case OPT_MATRIX: c->matrix = attn_matrix_names[lm_opt_choice(&cmd, "matrix", arg, NULL)]; break;
    case OPT_FULL: c->full = 1; break;
    case OPT_DTYPE: {
        /* in the order of the option table's choice list */
        static const attn_dtype dt[] = {ATTN_F32, ATTN_BF16, ATTN_F16};
        c->b.dtype = dt[lm_opt_choice(&cmd, "dtype", arg, NULL)];
        c->dtype_set = 1;
        break;
    }
    case OPT_LAYOUT: {
        c->b.layout = lm_opt_choice(&cmd, "layout", arg, NULL) ? ATTN_NHD : ATTN_HND;
        break;
    }
    case OPT_RUNS: c->b.runs = (int)lm_opt_int(&cmd, "runs", arg, 1, 100000); break;
    case OPT_WARMUP: c->b.warmup = (int)lm_opt_int(&cmd, "warmup", arg, 0, 100000); break;
    case OPT_BANDWIDTH: c->bw_given = lm_opt_double(&cmd, "bandwidth", arg, 0, 1, 1e7, 0); break;
    case OPT_NO_FLUSH: c->b.no_flush = 1; break;
    case OPT_WORKERS: c->b.workers = (int)lm_opt_int(&cmd, "workers", arg, 1, 65536); break;
    case OPT_SVG: c->svg = arg; break;
    case OPT_CHECK: c->check = 1; break;
    case OPT_MAX_KV: c->max_kv_gib = lm_opt_double(&cmd, "max-kv", arg, 0, 1, 1 << 20, 0); break;
    }
    return 0;
}

/* ---- bandwidth ---- */

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
    if (c->b.be->read_bw(&c->b, &c->bw, err, sizeof err))
        lm_die_hint(LM_EXIT_USAGE, "give the bandwidth with --bandwidth GBPS",
                    "measuring the %s read bandwidth: %s", c->b.be->bw_what, err);
    c->bw_kind = c->b.be->bw_source;
}

/* ---- writing ---- */

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

/* Write the record of one algorithm. */
static void emit_result(ctx_t *c, const attn_shape *sh, const attn_problem *p, attn_alg a,
                        const attn_result *r, const attn_result *all, const lm_record *in, lm_out *out)
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
    lm_out_int(out, "workers", r->workers);
    lm_out_int(out, "grid", r->si.grid);
    lm_out_int(out, "tiles", r->si.tiles_total);
    lm_out_int(out, "tiles_per_worker_max", r->si.tiles_per_worker_max);
    lm_out_int(out, "splits_max", r->si.splits_max);
    lm_out_int(out, "runs", c->b.runs);
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
static int run_shape(ctx_t *c, attn_shape *sh, uint64_t stream, const lm_record *in, lm_out *out,
                     lm_rerr *rerr)
{
    char err[1100];
    const char *hint;
    if (attn_shape_check(&c->b, sh, err, sizeof err, &hint)) {
        lm_rerr_set(rerr, LM_NOPOS, "%s", err);
        lm_rerr_hint(rerr, "%s", hint);
        return LM_REC_BAD;
    }
    ensure_bandwidth(c);
    attn_result res[ATTN_N_ALGS];
    if (attn_shape_run(&c->b, sh, stream, res, err, sizeof err)) {
        lm_rerr_set(rerr, LM_NOPOS, "%s", err);
        return LM_REC_FATAL;
    }
    /* records in --algo order, now that every time is known */
    attn_problem p = {sh->dims, c->b.dtype, c->b.layout, sh->lens, 0.0f, 0};
    attn_alg base = res[ATTN_SPLITKV].ran ? ATTN_SPLITKV : ATTN_NOSPLIT;
    for (int i = 0; i < c->b.nalg; i++) {
        attn_alg a = c->b.algs[i];
        emit_result(c, sh, &p, a, &res[a], res, in, out);
        if (in) {
            lm_out_push(out, in);
        } else { /* a matrix cell: written at once, standalone */
            lm_emit(c->com, out, NULL);
            lm_out_reset(out);
        }
        if (!res[a].acc.ok)
            c->n_failed++;
        if (c->svg && res[base].ran && res[a].t_med > 0)
            record_point(c, a, (double)attn_len_max(&p), res[base].t_med / res[a].t_med);
    }
    out->suppress = 1;
    return LM_REC_OK;
}

static int on_record(void *vctx, const lm_record *in, lm_out *out, lm_rerr *err)
{
    ctx_t *c = vctx;
    attn_shape sh;
    if (attn_shape_parse(in, &sh, err))
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
    snprintf(title, sizeof title, "Decode attention speed-up over %s (%s, %s)", attn_alg_name(base),
             c->b.be->bw_what, attn_dtype_name(c->b.dtype));
    snprintf(ylab, sizeof ylab, "speed-up vs %s", attn_alg_name(base));
    lm_plot *pl = lm_plot_new(title, "context length (tokens; longest sequence)", ylab);
    lm_plot_logx(pl, 2);
    lm_plot_note(pl, "geometric mean over the shapes with the same context length");
    for (int i = 0; i < c->b.nalg; i++) {
        attn_alg a = c->b.algs[i];
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

static int run_check(ctx_t *c, const lm_common *com)
{
    size_t n = 0, skipped = 0, replen = 1 << 16;
    char *rep = lm_xmalloc(replen), err[512];
    int f = attn_check_suite_with(c->b.be->check, &c->b, c->b.workers, c->b.threads, &n, &skipped, rep,
                                  replen, err, sizeof err);
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
    lm_out_str(&o, "device", c->b.be->name);
    lm_out_int(&o, "workers", c->b.workers);
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
    char err[1200];
    const char *hint;
    if (attn_device_open(&c->b, com->device, c->b.dtype == ATTN_F32 && c->dtype_set, err, sizeof err,
                         &hint)) {
        if (hint)
            lm_die_hint(LM_EXIT_USAGE, hint, "%s", err);
        lm_die(LM_EXIT_USAGE, "%s", err);
    }
}

int main(int argc, char **argv)
{
    lm_cli_init(argv[0]);
    static ctx_t c;
    c.b.dtype = ATTN_BF16;
    c.b.layout = ATTN_HND;
    c.b.runs = c.b.warmup = -1;
    lm_common com;
    int oi = lm_cli_parse(&cmd, argc, argv, &com, on_opt, &c);
    if (c.b.nalg == 0)
        parse_algos(&c, "nosplit,splitkv,lean,lean-combine");
    c.b.threads = lm_cli_threads(&com);
    c.b.seed = com.seed;
    c.com = &com;
    c.b.llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (c.b.llc <= 0)
        c.b.llc = 32L << 20;
    pick_device(&c, &com);
    int gpu = c.b.be != &attn_backend_cpu;
    if (gpu && c.b.dtype == ATTN_F32)
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
    if (c.b.runs < 0)
        c.b.runs = gpu ? 20 : 3;
    if (c.b.warmup < 0)
        c.b.warmup = gpu ? 3 : 1;
    if (c.b.workers == 0)
        c.b.workers = c.b.threads;
    c.bw_kind = "given";
    double mem = c.b.mem_bytes;
    c.b.max_kv_bytes = mem > 0 ? (size_t)(mem / 2) : (size_t)8 << 30;
    if (c.max_kv_gib > 0)
        c.b.max_kv_bytes = (size_t)(c.max_kv_gib * (double)(1 << 30));

    if (c.check) {
        int rc = run_check(&c, &com);
        attn_device_close(&c.b);
        return rc;
    }

    int st;
    if (c.matrix) {
        attn_cell_list cl;
        char err[512];
        /* the matrix counts 2-byte elements */
        int64_t cap = (int64_t)c.b.max_kv_bytes * 2 / (int64_t)attn_dtype_size(c.b.dtype);
        if (attn_matrix(c.matrix, c.full, cap, &cl, err, sizeof err))
            lm_die(LM_EXIT_USAGE, "--matrix: %s", err);
        st = LM_EXIT_OK;
        if (cl.n == 0)
            lm_warn("no cell of matrix %s fits under --max-kv %.3g GiB", c.matrix,
                    (double)c.b.max_kv_bytes / (1 << 30));
        for (size_t i = 0; i < cl.n; i++) {
            attn_cell *cell = &cl.cells[i];
            if (com.shard_n > 1 && i % com.shard_n != com.shard_k)
                continue;
            attn_shape sh = {cell->dims, cell->lens, cell->L == 0, cell->label, cell->grid_mult};
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
    if (c.svg && c.b.n_results)
        write_svg(&c);
    if (c.n_failed) {
        lm_warn("%llu of %llu results failed the accuracy check (ok: false)", (unsigned long long)c.n_failed,
                (unsigned long long)c.b.n_results);
        if (st == LM_EXIT_OK)
            st = LM_EXIT_DATA;
    }
    for (int a = 0; a < ATTN_N_ALGS; a++) {
        free(c.pts[a].x);
        free(c.pts[a].y);
    }
    attn_device_close(&c.b);
    return st;
}
