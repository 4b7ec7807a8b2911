/* test_optim.c - lib/nn/optim against torch.optim.AdamW, transformers'
 * schedules and torch.nn.utils.clip_grad_norm_ (goldens made by
 * tests/golden/optim_golden.py, unpacked by make fixtures into
 * $BUILD/testdata/golden/optim), plus an exact resume from saved state. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/diag.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "tap.h"

#define STEPS 20

/* the module of optim_golden.py, in its named_parameters() order */
static const char *const names[] = {
    "encoder.layer.0.attention.self.query.weight",
    "encoder.layer.0.attention.self.query.bias",
    "encoder.layer.0.attention.output.LayerNorm.weight",
    "encoder.layer.0.attention.output.LayerNorm.bias",
    "classifier.weight",
    "classifier.bias",
};
static const size_t numel[] = {17 * 13, 17, 17, 17, 3 * 23, 3};
#define NPARAM (sizeof numel / sizeof numel[0])

static const lm_st_tensor *get(const lm_safetensors *st, const char *name, lm_dtype dt, size_t n)
{
    const lm_st_tensor *t = lm_st_find(st, name);
    if (!t || t->dtype != dt || t->numel != n) {
        printf("# golden tensor %s missing or not %s with %zu elements\n", name, lm_dtype_name(dt), n);
        return NULL;
    }
    return t;
}

static void check_decay_names(void)
{
    ok(lm_optim_decays("encoder.layer.0.attention.self.query.weight"), "decays: a Linear weight");
    ok(!lm_optim_decays("encoder.layer.0.attention.self.query.bias"), "decays: bias is no-decay");
    ok(!lm_optim_decays("embeddings.LayerNorm.weight"), "decays: LayerNorm.weight is no-decay");
    ok(!lm_optim_decays("model.norm.weight"), "decays: a component \"norm\"");
    ok(!lm_optim_decays("norm"), "decays: \"norm\" alone");
    ok(!lm_optim_decays("layers.0.input_layernorm.weight"), "decays: input_layernorm");
    ok(!lm_optim_decays("layers.0.post_attention_norm.weight"), "decays: a component ending in _norm");
    ok(!lm_optim_decays("layers.0.q_norm"), "decays: _norm at the end");
    ok(!lm_optim_decays("final_RMSNorm.weight"), "decays: rmsnorm, any case");
    ok(lm_optim_decays("normalizer.weight"), "decays: \"normalizer\" is not a norm component");
    ok(lm_optim_decays("layers.0.xnorm.weight"), "decays: \"xnorm\" is not a norm component");
    ok(lm_optim_decays("ln_f.weight"), "decays: ln_f (a LayerNorm only by module type) decays by name");
    ok(lm_optim_decays("word_embeddings.weight"), "decays: embeddings");
}

typedef struct {
    const char *name;
    lm_sched sched;
    lm_adamw_hparams hp;
    double max_norm;
    int exact; /* no sqrt of torch's rounds differently from sqrtf in this run: expect every bit */
} run_cfg;

static void check_run(const lm_safetensors *st, const run_cfg *rc, const lm_optim_seg *seg, size_t n)
{
    char key[128];
    snprintf(key, sizeof key, "params.%s", rc->name);
    const lm_st_tensor *tp = get(st, key, LM_DT_F32, (STEPS + 1) * n);
    snprintf(key, sizeof key, "norm.%s", rc->name);
    const lm_st_tensor *tn = get(st, key, LM_DT_F32, STEPS);
    snprintf(key, sizeof key, "lr.%s", rc->name);
    const lm_st_tensor *tl = get(st, key, LM_DT_F64, STEPS);
    const lm_st_tensor *tg = get(st, "grads", LM_DT_F32, STEPS * n);
    if (!ok(tp && tn && tl && tg, "%s: golden tensors", rc->name))
        return;
    float *want = lm_xmalloc(lm_xmul((STEPS + 1) * n, sizeof(float)));
    float *grads = lm_xmalloc(lm_xmul(STEPS * n, sizeof(float)));
    float tnorm[STEPS];
    double tlr[STEPS];
    memcpy(want, tp->data, (STEPS + 1) * n * sizeof(float));
    memcpy(grads, tg->data, STEPS * n * sizeof(float));
    memcpy(tnorm, tn->data, sizeof tnorm);
    memcpy(tlr, tl->data, sizeof tlr);

    float *p = lm_xmalloc(n * sizeof(float)), *g = lm_xmalloc(n * sizeof(float));
    memcpy(p, want, n * sizeof(float));
    lm_adamw o;
    lm_adamw_init(&o, &rc->hp, seg, NPARAM);
    double lr_err = 0, norm_rel = 0, rel1 = 0, abs1 = 0, relN = 0, absN = 0, relmax = 0;
    size_t same1 = 0, sameN = 0;
    int first = 0; /* the first step with lr > 0 */
    for (int s = 1; s <= STEPS; s++) {
        memcpy(g, grads + (size_t)(s - 1) * n, n * sizeof(float));
        float norm = lm_clip_grad_norm(g, seg, NPARAM, rc->max_norm);
        double nr = fabs((double)norm - tnorm[s - 1]) / tnorm[s - 1];
        norm_rel = nr > norm_rel ? nr : norm_rel;
        double lr = lm_sched_lr(&rc->sched, s);
        lr_err = fmax(lr_err, fabs(lr - tlr[s - 1]));
        lm_adamw_step(&o, p, g, lr);
        const float *w = want + (size_t)s * n;
        double scale = 0, md = 0;
        size_t same = 0;
        for (size_t i = 0; i < n; i++) {
            scale = fmax(scale, fabs(w[i]));
            md = fmax(md, fabs((double)p[i] - w[i]));
            same += memcmp(&p[i], &w[i], sizeof(float)) == 0;
        }
        relmax = fmax(relmax, md / scale);
        if (!first && lr > 0)
            first = s, rel1 = md / scale, abs1 = md, same1 = same;
        if (s == STEPS)
            relN = md / scale, absN = md, sameN = same;
    }
    is_int(o.step, STEPS, "%s: step counter", rc->name);
    ok(lr_err <= 1e-12, "%s: lr of every step equals the torch run's (max diff %.3g)", rc->name, lr_err);
    ok(norm_rel <= 1e-6, "%s: clip_grad_norm_ total norm equals torch's (max rel diff %.3g)", rc->name,
       norm_rel);
    ok(first && rel1 <= 1e-6,
       "%s: params after the first step with lr > 0 (step %d): max |diff| %.3g (%.3g of scale), %zu/%zu "
       "bit-identical",
       rc->name, first, abs1, rel1, same1, n);
    ok(relmax <= 1e-5, "%s: params after %d steps: max |diff| %.3g (%.3g of scale), %zu/%zu bit-identical",
       rc->name, STEPS, absN, relN, sameN, n);

    /* AdamW alone: the gradients clipped with torch's own norm.  What is
     * left is torch's sqrt, which in an MKL build of torch is MKL's vsSqrt
     * (within 1 ulp, not always correctly rounded: about 1 in 5 values of
     * v.sqrt() differ from sqrtf in the last bit) */
    memcpy(p, want, n * sizeof(float));
    lm_adamw_free(&o);
    lm_adamw_init(&o, &rc->hp, seg, NPARAM);
    size_t differ = 0;
    double rel = 0;
    for (int s = 1; s <= STEPS; s++) {
        memcpy(g, grads + (size_t)(s - 1) * n, n * sizeof(float));
        float coef = (1.0f / (tnorm[s - 1] + (float)1e-6)) * (float)rc->max_norm;
        if (coef < 1.0f)
            lm_grad_scale(g, n, coef);
        lm_adamw_step(&o, p, g, lm_sched_lr(&rc->sched, s));
        const float *w = want + (size_t)s * n;
        double scale = 0, md = 0;
        for (size_t i = 0; i < n; i++) {
            differ += memcmp(&p[i], &w[i], sizeof(float)) != 0;
            scale = fmax(scale, fabs(w[i]));
            md = fmax(md, fabs((double)p[i] - w[i]));
        }
        rel = fmax(rel, md / scale);
    }
    /* C's float operations are IEEE-exact on every CPU, so where torch's
     * sqrt happened to round correctly throughout (the linear run of the
     * committed golden), every bit must agree: this guards the order of
     * operations and the fused multiply-adds */
    if (rc->exact)
        ok(differ == 0, "%s: AdamW alone gives torch's parameters bit for bit at every step", rc->name);
    ok(rel <= 1e-6,
       "%s: AdamW alone (torch's clip norm) over %d steps: max diff %.3g of scale, %zu of %zu values "
       "bit-identical",
       rc->name, STEPS, rel, (size_t)STEPS * n - differ, (size_t)STEPS * n);
    lm_adamw_free(&o);
    free(p);
    free(g);
    free(want);
    free(grads);
}

static void check_golden(const char *path)
{
    lm_safetensors st;
    char err[512];
    if (!ok(lm_st_open(&st, path, err, sizeof err) == 0, "golden %s opens", path)) {
        printf("# %s\n", err);
        return;
    }
    lm_optim_seg seg[NPARAM];
    size_t n = lm_optim_segs_from_names(seg, names, numel, NPARAM);
    const lm_st_tensor *td = get(&st, "decay", LM_DT_U8, NPARAM);
    int agree = td != NULL;
    for (size_t i = 0; td && i < NPARAM; i++)
        agree &= ((const uint8_t *)td->data)[i] == seg[i].decay;
    ok(agree, "decay groups equal Trainer.get_decay_parameter_names'");

    run_cfg runs[] = {
        {"cosine", {LM_SCHED_COSINE, 5e-3, 3, STEPS, 0.5}, {0.9, 0.999, 1e-8, 0.1}, 1.0, 0},
        {"linear", {LM_SCHED_LINEAR, 2e-3, 4, STEPS, 0.5}, {0.9, 0.999, 1e-8, 0.01}, 0.5, 1},
        {"constwarm", {LM_SCHED_CONSTANT_WARMUP, 1e-2, 2, 0, 0.5}, {0.3, 0.95, 1e-6, 0.05}, 1.0, 0},
        {"nowarm", {LM_SCHED_COSINE, 1e-3, 0, STEPS, 0.5}, {0.9, 0.999, 1e-8, 0.01}, 1.0, 0},
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++)
        check_run(&st, &runs[r], seg, n);

    /* schedule tables: transformers' lambdas at steps 0..T+3 */
    static const int64_t cfg[][2] = {{0, 10}, {3, 20}, {5, 5}, {7, 3}, {1, 1}, {0, 1}, {10, 1000}};
    static const struct {
        const char *name;
        lm_sched_kind kind;
        double cycles;
    } kinds[] = {{"linear", LM_SCHED_LINEAR, 0.5},
                 {"cosine", LM_SCHED_COSINE, 0.5},
                 {"cosine1.5", LM_SCHED_COSINE, 1.5},
                 {"constwarm", LM_SCHED_CONSTANT_WARMUP, 0.5},
                 {"constant", LM_SCHED_CONSTANT, 0.5}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        double maxd = 0;
        size_t nval = 0, found = 0;
        for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
            char key[96];
            snprintf(key, sizeof key, "sched.%s.%lld.%lld", kinds[k].name, (long long)cfg[c][0],
                     (long long)cfg[c][1]);
            const lm_st_tensor *t = get(&st, key, LM_DT_F64, (size_t)cfg[c][1] + 4);
            if (!t)
                continue;
            found++;
            lm_sched s = {kinds[k].kind, 1.0, cfg[c][0], cfg[c][1], kinds[k].cycles};
            for (size_t i = 0; i < t->numel; i++) {
                double w;
                memcpy(&w, (const double *)t->data + i, sizeof w);
                maxd = fmax(maxd, fabs(lm_sched_lambda(&s, (int64_t)i) - w));
                nval++;
            }
        }
        ok(found == sizeof cfg / sizeof cfg[0] && maxd <= 1e-12,
           "schedule %s: %zu values equal transformers' (max diff %.3g)", kinds[k].name, nval, maxd);
    }
    lm_st_close(&st);
}

/* deterministic pseudo-random floats in [-scale, scale) */
static uint64_t rs = 0x9e3779b97f4a7c15ull;
static float frand(float scale)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return scale * ((float)(rs >> 40) / (float)(1 << 24) * 2.0f - 1.0f);
}

/* a layout with a frozen gap and a segment long enough for the threads */
#define RN 120000
static const lm_optim_seg rseg[] = {{0, 70000, 1}, {70000, 300, 0}, {71000, 48999, 1}, {119999, 1, 0}};
#define RNSEG (sizeof rseg / sizeof rseg[0])

static void train(lm_adamw *o, float *p, const float *grads, int from, int to, const lm_sched *sc)
{
    float *g = lm_xmalloc(RN * sizeof(float));
    for (int s = from; s < to; s++) {
        memcpy(g, grads + (size_t)s * RN, RN * sizeof(float));
        lm_clip_grad_norm(g, rseg, RNSEG, 1.0);
        lm_adamw_step(o, p, g, lm_sched_lr(sc, o->step + 1));
    }
    free(g);
}

static void check_resume(void)
{
    const lm_adamw_hparams hp = LM_ADAMW_DEFAULTS;
    const lm_sched sc = {LM_SCHED_COSINE, 1e-3, 2, 20, 0.5};
    float *grads = lm_xmalloc(lm_xmul((size_t)20 * RN, sizeof(float)));
    float *init = lm_xmalloc(RN * sizeof(float));
    for (size_t i = 0; i < (size_t)20 * RN; i++)
        grads[i] = frand(i % 5 == 0 ? 1e-6f : 0.02f);
    for (size_t i = 0; i < RN; i++)
        init[i] = frand(0.5f);

    float *pa = lm_xmalloc(RN * sizeof(float)), *pb = lm_xmalloc(RN * sizeof(float));
    memcpy(pa, init, RN * sizeof(float));
    memcpy(pb, init, RN * sizeof(float));
    lm_adamw a, b, c;
    lm_adamw_init(&a, &hp, rseg, RNSEG);
    train(&a, pa, grads, 0, 20, &sc);

    lm_adamw_init(&b, &hp, rseg, RNSEG);
    train(&b, pb, grads, 0, 10, &sc);
    char path[] = "/tmp/lmkit-optim-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0)
        close(fd);
    char err[512] = "";
    int rc = lm_adamw_save(&b, path, err, sizeof err);
    ok(rc == 0, "resume: state saved (%s)", rc ? err : "ok");
    lm_adamw_free(&b);
    lm_adamw_init(&c, &hp, rseg, RNSEG);
    rc = lm_adamw_load(&c, path, err, sizeof err);
    ok(rc == 0 && c.step == 10, "resume: state loaded into a fresh optimiser (%s)", rc ? err : "ok");
    train(&c, pb, grads, 10, 20, &sc);
    ok(memcmp(pa, pb, RN * sizeof(float)) == 0,
       "resume: 10 + save/load + 10 steps == 20 steps, bit-identical");
    ok(memcmp(a.m, c.m, a.nstate * 2 * sizeof(float)) == 0 && a.step == c.step,
       "resume: moments and step bit-identical");
    int frozen = 1;
    for (size_t i = 70300; i < 71000; i++)
        frozen &= memcmp(&pa[i], &init[i], sizeof(float)) == 0;
    ok(frozen, "elements outside every segment are not touched");

    /* the state beside other tensors in one file, read back from memory */
    {
        lm_adamw_wstate ws;
        lm_st_wtensor t[LM_ADAMW_NTENSORS + 1];
        lm_adamw_state_tensors(&c, &ws, t);
        int64_t shp = 4;
        const uint64_t rng[4] = {1, 2, 3, 4};
        t[LM_ADAMW_NTENSORS] = (lm_st_wtensor){"rng.state", LM_DT_U64, 1, &shp, rng};
        rc = lm_st_write(path, t, LM_ADAMW_NTENSORS + 1, NULL, err, sizeof err);
        lm_adamw_wstate_free(&ws);
        FILE *fp = fopen(path, "rb");
        size_t cap = 64 + (size_t)RN * 8 + 4096, len = 0;
        char *buf = lm_xmalloc(cap);
        if (fp) {
            len = fread(buf, 1, cap, fp);
            fclose(fp);
        }
        lm_safetensors st;
        lm_adamw e;
        lm_adamw_init(&e, &hp, rseg, RNSEG);
        int prc = rc == 0 && len > 0 && len < cap ? lm_st_parse(&st, buf, len, err, sizeof err) : -1;
        int lrc = prc == 0 ? lm_adamw_load_st(&e, &st, err, sizeof err) : -1;
        ok(lrc == 0 && e.step == c.step && memcmp(e.m, c.m, c.nstate * 2 * sizeof(float)) == 0 &&
               lm_st_find(&st, "rng.state") != NULL,
           "state written beside other tensors, parsed from memory, restored (%s)", lrc ? err : "ok");
        if (prc == 0)
            lm_st_close(&st);
        lm_adamw_free(&e);
        free(buf);
    }

    /* loading checks what it restores into */
    lm_adamw d;
    lm_adamw_hparams hp2 = hp;
    hp2.eps = 1e-6;
    lm_adamw_init(&d, &hp2, rseg, RNSEG);
    ok(lm_adamw_load(&d, path, err, sizeof err) != 0 && strstr(err, "eps") && d.step == 0,
       "resume: other hyper-parameters are refused: %s", err);
    lm_adamw_free(&d);
    lm_optim_seg seg2[RNSEG];
    memcpy(seg2, rseg, sizeof seg2);
    seg2[1].decay = 1;
    lm_adamw_init(&d, &hp, seg2, RNSEG);
    ok(lm_adamw_load(&d, path, err, sizeof err) != 0 && strstr(err, "segment 1"),
       "resume: other segments are refused: %s", err);
    lm_adamw_free(&d);
    lm_adamw_init(&d, &hp, rseg, 2);
    ok(lm_adamw_load(&d, path, err, sizeof err) != 0 && strstr(err, "optim.exp_avg"),
       "resume: another state size is refused: %s", err);
    lm_adamw_free(&d);
    unlink(path);
    lm_adamw_init(&d, &hp, rseg, RNSEG);
    ok(lm_adamw_load(&d, path, err, sizeof err) != 0, "resume: a missing file is an error: %s", err);
    lm_adamw_free(&d);

    /* one thread gives the same bits as several */
    memcpy(pb, init, RN * sizeof(float));
    lm_adamw_init(&d, &hp, rseg, RNSEG);
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    train(&d, pb, grads, 0, 20, &sc);
    omp_set_num_threads(nt);
    ok(memcmp(pa, pb, RN * sizeof(float)) == 0, "1 thread == %d threads, bit-identical", nt);
    lm_adamw_free(&d);

    lm_adamw_free(&a);
    lm_adamw_free(&c);
    free(pa);
    free(pb);
    free(init);
    free(grads);
}

static void check_grad_helpers(void)
{
    float g[6] = {3, 4, 0, 0, 12, -5};
    lm_optim_seg seg[2] = {{0, 2, 1}, {4, 2, 0}};
    /* per-tensor norms 5 and 13: total sqrt(194) */
    float want = (float)sqrt(194.0);
    is_near(lm_grad_norm(g, seg, 2), want, 0, "grad norm over segments");
    float h[6];
    memcpy(h, g, sizeof g);
    float n = lm_clip_grad_norm(h, seg, 2, 100.0);
    ok(n == want && memcmp(h, g, sizeof g) == 0, "clip: below max_norm nothing changes");
    n = lm_clip_grad_norm(h, seg, 2, 1.0);
    float coef = (1.0f / (want + (float)1e-6)) * 1.0f;
    ok(n == want && h[0] == 3 * coef && h[5] == -5 * coef && h[2] == 0,
       "clip: scaled by max_norm/(norm+1e-6)");
    memcpy(h, g, sizeof g);
    h[4] = NAN;
    n = lm_clip_grad_norm(h, seg, 2, 1.0);
    ok(isnan(n) && isnan(h[0]) && isnan(h[5]), "clip: a NaN norm makes the gradients NaN, as torch");
    lm_grad_zero(h, 6);
    ok(h[0] == 0 && h[5] == 0, "grad zero");
    lm_grad_accumulate(h, g, 6);
    lm_grad_accumulate(h, g, 6);
    lm_grad_scale(h, 6, 0.5f);
    ok(memcmp(h, g, sizeof g) == 0, "accumulate twice, scale by 1/2");
}

int main(void)
{
    check_decay_names();
    check_grad_helpers();
    const char *build = getenv("BUILD");
    char path[512];
    snprintf(path, sizeof path, "%s/testdata/golden/optim/optim.safetensors",
             build && *build ? build : "build");
    check_golden(path);
    check_resume();
    return tap_done();
}
