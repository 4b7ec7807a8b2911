/* harness_cuda.c - leanattn-bench's CUDA backend: kernels/attn_cuda.h
 * through liblmkit-cuda.so (nn/backend_cuda.h).  Built without CUDA it only
 * says so (see harness.h). */
#include "attn/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/diag.h"
#include "nn/backend_cuda.h"

int attn_cuda_open(attn_bench *b, int want, int cpu_dtype, char *err, size_t errlen, const char **hint);
void attn_cuda_close(attn_bench *b);
int attn_cpu_backend_run(attn_bench *b, attn_alg a, const attn_problem *p, const attn_shape *sh,
                         size_t kv_bytes, const void *q, const void *k, const void *v, void *o, float *lse,
                         double *us, attn_result *r, char *err, size_t errlen);

#ifdef HAVE_CUDA

/* The state of the CUDA backend (attn_bench.dev). */
typedef struct {
    const lm_cuda_api *cu; /* liblmkit-cuda.so's table */
    int dev;
    attn_cuda_info info;
    int occ; /* lean CTAs per SM */
    /* the inputs and outputs of the shape being run */
    void *dq, *dk, *dv, *dout, *dlse;
    attn_tiles tl;
} cuda_state;

static int cuda_read_bw(attn_bench *b, double *gbps, char *err, size_t errlen)
{
    cuda_state *s = b->dev;
    /* >= 4 GB, far above any L2, but no more than a quarter of the memory */
    size_t bytes = (size_t)4 << 30;
    if ((long long)bytes > s->info.mem_bytes / 4)
        bytes = (size_t)(s->info.mem_bytes / 4) & ~(size_t)15;
    if (bytes < ((size_t)16 << 20))
        bytes = (size_t)16 << 20;
    return s->cu->attn_read_bw(s->dev, bytes, 5, gbps, err, errlen);
}

static int cuda_shape_ok(const attn_bench *b, const attn_problem *p, char *err, size_t errlen,
                         const char **hint)
{
    (void)b;
    if (p->dims.H_q / p->dims.H_kv > ATTN_CUDA_MAX_GROUP) {
        lm_seterr(err, errlen, "heads/kv_heads = %d: the GPU kernels take at most %d query heads per KV head",
                  p->dims.H_q / p->dims.H_kv, ATTN_CUDA_MAX_GROUP);
        *hint = "run this shape with --device cpu";
        return -1;
    }
    return 0;
}

static int cuda_upload(attn_bench *b, const attn_problem *p, const attn_shape *sh, const void *q,
                       const void *k, const void *v, char *err, size_t errlen)
{
    cuda_state *s = b->dev;
    const lm_cuda_api *cu = s->cu;
    size_t es = attn_dtype_size(p->dtype), nq = attn_q_elems(p), nkv = attn_kv_elems(p);
    size_t nrow = (size_t)p->dims.B * p->dims.H_q;
    return attn_tiles_init(&s->tl, &p->dims, sh->lens, err, errlen) ||
                   cu->attn_malloc(&s->dq, nq * es, err, errlen) ||
                   cu->attn_malloc(&s->dk, nkv * es, err, errlen) ||
                   cu->attn_malloc(&s->dv, nkv * es, err, errlen) ||
                   cu->attn_malloc(&s->dout, nq * es, err, errlen) ||
                   cu->attn_malloc(&s->dlse, nrow * sizeof(float), err, errlen) ||
                   cu->attn_upload(s->dq, q, nq * es, err, errlen) ||
                   (nkv && cu->attn_upload(s->dk, k, nkv * es, err, errlen)) ||
                   (nkv && cu->attn_upload(s->dv, v, nkv * es, err, errlen))
               ? -1
               : 0;
}

static void cuda_release(attn_bench *b)
{
    cuda_state *s = b->dev;
    attn_tiles_free(&s->tl);
    memset(&s->tl, 0, sizeof s->tl);
    s->cu->attn_free(s->dq);
    s->cu->attn_free(s->dk);
    s->cu->attn_free(s->dv);
    s->cu->attn_free(s->dout);
    s->cu->attn_free(s->dlse);
    s->dq = s->dk = s->dv = s->dout = s->dlse = NULL;
}

/* The problem's shape as the GPU plan takes it; grid and splits 0. */
static attn_cuda_config base_config(const attn_problem *p, attn_alg a, float scale, int reverse)
{
    return (attn_cuda_config){p->dims.B,
                              p->dims.H_q,
                              p->dims.H_kv,
                              p->dims.D,
                              (int)p->dtype,
                              (int)p->layout,
                              p->dims.block_n,
                              scale,
                              (int)a,
                              0,
                              0,
                              reverse};
}

/* The grid and splits of one algorithm on this GPU. */
static void cuda_config(const cuda_state *s, attn_alg a, const attn_problem *p, const attn_shape *sh,
                        attn_cuda_config *cf)
{
    /* scale 0: the kernels' default 1/sqrt(D), as the CPU timing runs use */
    *cf = base_config(p, a, 0.0f, 0);
    int sms = s->info.sm_count;
    const attn_tiles *tl = &s->tl;
    if (a == ATTN_SPLITKV) {
        cf->splits = attn_fa2_num_splits((int)tl->n_heads, 2 * sms, tl->n_blocks_max, 128);
    } else if (a == ATTN_LEAN || a == ATTN_LEAN_COMBINE) {
        attn_lean_grid lg;
        attn_lean_grid_ort(&lg, tl->total, tl->n_blocks_max, p->dims.B, p->dims.H_kv, sms);
        int G = lg.G;
        if (sh->grid_mult > 0)
            G = sh->grid_mult * sms;
        else if (sh->grid_mult < 0)
            G = s->occ * sms;
        if (a == ATTN_LEAN && G > s->occ * sms)
            G = s->occ * sms;
        cf->grid = G > 0 ? G : 1;
    }
}

static int cuda_run(attn_bench *b, attn_alg a, const attn_problem *p, const attn_shape *sh, size_t kv_bytes,
                    const void *q, const void *k, const void *v, void *o, float *lse, double *us,
                    attn_result *r, char *err, size_t errlen)
{
    if (a == ATTN_NAIVE)
        return attn_cpu_backend_run(b, a, p, sh, kv_bytes, q, k, v, o, lse, us, r, err, errlen);
    cuda_state *s = b->dev;
    const lm_cuda_api *cu = s->cu;
    attn_cuda_config cf;
    cuda_config(s, a, p, sh, &cf);
    attn_cuda_plan *plan;
    if (cu->attn_plan_create(&plan, s->dev, &cf, sh->lens, err, errlen))
        return -1;
    size_t no = attn_q_elems(p), nrow = (size_t)p->dims.B * p->dims.H_q;
    int rc =
        cu->attn_run(plan, s->dq, s->dk, s->dv, s->dout, s->dlse, err, errlen) ||
        cu->attn_download(o, s->dout, no * 2, err, errlen) ||
        cu->attn_download(lse, s->dlse, nrow * sizeof(float), err, errlen) ||
        cu->attn_time(plan, s->dq, s->dk, s->dv, s->dout, b->warmup, b->runs, !b->no_flush, us, err, errlen);
    int grid = 0, splits = 1;
    long long tt = 0, tpc = 0, prow = 0;
    size_t scratch = 0;
    cu->attn_plan_info(plan, &grid, &tt, &tpc, &splits, &scratch, &prow);
    cu->attn_plan_destroy(plan);
    r->si = (attn_sched_info){grid, tt, tpc, splits, scratch};
    r->partial_rows = (double)prow;
    r->device = "cuda";
    r->workers = s->info.sm_count;
    return rc ? -1 : 0;
}

/* The suite's implementation under test on the GPU: upload, run, download. */
static int cuda_check_runner(void *vb, attn_alg alg, const attn_problem *p, const attn_opts *opts,
                             const void *q, const void *k, const void *v, void *o, float *lse, char *err,
                             size_t errlen)
{
    attn_bench *b = vb;
    cuda_state *s = b->dev;
    const lm_cuda_api *cu = s->cu;
    if (alg == ATTN_NAIVE || p->dtype == ATTN_F32 || p->kv_cap > 0 ||
        p->dims.H_q / p->dims.H_kv > ATTN_CUDA_MAX_GROUP)
        return 1;
    attn_tiles tl;
    if (attn_tiles_init(&tl, &p->dims, p->lens, err, errlen))
        return -1;
    attn_cuda_config cf = base_config(p, alg, p->scale, opts->reverse);
    int W = opts->workers;
    if (alg == ATTN_SPLITKV)
        cf.splits =
            opts->splits > 0 ? opts->splits : attn_fa2_num_splits((int)tl.n_heads, W, tl.n_blocks_max, 128);
    cf.grid = opts->grid > 0 ? opts->grid : W;
    if (cf.grid > s->occ * s->info.sm_count)
        cf.grid = s->occ * s->info.sm_count;
    size_t es = 2, nq = attn_q_elems(p), nkv = attn_kv_elems(p);
    size_t nrow = (size_t)p->dims.B * p->dims.H_q;
    void *dq = NULL, *dk = NULL, *dv = NULL, *dout = NULL, *dlse = NULL;
    attn_cuda_plan *plan = NULL;
    int rc = cu->attn_malloc(&dq, nq * es, err, errlen) || cu->attn_malloc(&dk, nkv * es, err, errlen) ||
             cu->attn_malloc(&dv, nkv * es, err, errlen) || cu->attn_malloc(&dout, nq * es, err, errlen) ||
             cu->attn_malloc(&dlse, nrow * sizeof(float), err, errlen) ||
             cu->attn_upload(dq, q, nq * es, err, errlen) ||
             (nkv && cu->attn_upload(dk, k, nkv * es, err, errlen)) ||
             (nkv && cu->attn_upload(dv, v, nkv * es, err, errlen)) ||
             cu->attn_plan_create(&plan, s->dev, &cf, p->lens, err, errlen) ||
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

static const attn_backend backend_cuda = {
    "cuda",      "cuda-read-stream", "GPU",        cuda_read_bw,      cuda_shape_ok,
    cuda_upload, cuda_run,           cuda_release, cuda_check_runner,
};

/* 1 with the GPU open, 0 for the CPU (auto without a usable GPU), -1 with
 * a message. */
int attn_cuda_open(attn_bench *b, int want, int cpu_dtype, char *err, size_t errlen, const char **hint)
{
    char why[1024] = "";
    /* auto loads nothing for fp32 (CPU only) or on a machine without an
     * NVIDIA device: a CPU run never maps the CUDA libraries */
    const lm_cuda_api *cu =
        want == LM_DEVICE_AUTO && (cpu_dtype || !lm_cuda_present()) ? NULL : lm_cuda_gpu(why, sizeof why);
    if (!cu) {
        if (want != LM_DEVICE_CUDA)
            return 0;
        lm_seterr(err, errlen, "--device cuda: %s", why);
        *hint = "use --device cpu (or auto, which falls back to the CPU)";
        return -1;
    }
    cuda_state *s = lm_xcalloc(1, sizeof *s);
    s->cu = cu;
    char e2[256];
    if (cu->attn_device_info(0, &s->info, e2, sizeof e2) ||
        cu->attn_lean_occupancy(0, &s->occ, e2, sizeof e2)) {
        lm_seterr(err, errlen, "GPU: %s", e2);
        free(s);
        return -1;
    }
    b->be = &backend_cuda;
    b->dev = s;
    b->mem_bytes = (double)s->info.mem_bytes;
    return 1;
}

void attn_cuda_close(attn_bench *b)
{
    free(b->dev);
    b->dev = NULL;
}

#else

int attn_cuda_open(attn_bench *b, int want, int cpu_dtype, char *err, size_t errlen, const char **hint)
{
    (void)b, (void)cpu_dtype;
    if (want != LM_DEVICE_CUDA)
        return 0;
    lm_seterr(err, errlen, "--device cuda: this build has no CUDA support");
    *hint = "rebuild with the CUDA Toolkit (nvcc) installed, or use --device cpu";
    return -1;
}

void attn_cuda_close(attn_bench *b)
{
    (void)b;
}

#endif
