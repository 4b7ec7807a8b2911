/* test_encoder_cuda.c - the CUDA encoder forward (lib/nn/encoder_cuda.h)
 * against the CPU forward (lib/nn/encoder.h) on the tiny models and the
 * golden batches of testdata/golden/encoder, in fp32, bf16 and fp16 weight
 * storage; the same errors as the CPU path; a random XLM-R-shaped model with
 * sequences longer than one position-id scan block.
 *
 * Bounds (max-abs over every logit, padded positions included):
 *   f32   logits 1e-4, probs 1e-4, final hidden state 1e-4;
 *   bf16  logits BF16_TOL, f16 logits F16_TOL, probs the same.  They are set
 *         from a CPU emulation of the device's 16-bit path (a backend table
 *         whose matmul rounds weights and inputs to bf16 / fp16 and
 *         accumulates in fp32; attention stays fp32 as on the device), run
 *         here on every golden batch: its error against fp32 is printed and
 *         must itself stay under half the bound, so the bound has at least
 *         2x headroom over the measured rounding error.
 * Without a usable GPU (or built without CUDA) the device checks print one
 * TAP SKIP line with the reason; the emulation and the no-device error path
 * still run, and so do the checks of the lazy loading (nn/backend_cuda.h):
 * nothing CUDA is mapped before the first GPU call, the build's
 * liblmkit-cuda.so loads from beside the test binary after it.
 */
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rng.h"
#include "lingua/model.h"
#include "nn/backend_cuda.h"
#include "nn/encoder.h"
#include "nn/encoder_cuda.h"
#include "nn/ops.h"
#include "nn/safetensors.h"
#include "tap.h"

#define F32_TOL 1e-4
#define BF16_TOL 0.1
#define F16_TOL 0.02

static const char *models[2] = {"tiny-bert", "tiny-xlmr"};

/* ---- CPU emulation of 16-bit weight storage ---- */

static float round16(float x, int dtype)
{
    return dtype == LM_NN_BF16 ? lm_bf16_to_f32(lm_f32_to_bf16(x)) : lm_f16_to_f32(lm_f32_to_f16(x));
}

static void matmul_round(float *out, const float *inp, const float *w, const float *bias, int B, int T, int C,
                         int OC, int dtype)
{
    size_t ni = (size_t)B * T * C, nw = (size_t)OC * C;
    float *ri = malloc(ni * sizeof *ri), *rw = malloc(nw * sizeof *rw);
    if (!ri || !rw) {
        fprintf(stderr, "test_encoder_cuda: out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < ni; i++)
        ri[i] = round16(inp[i], dtype);
    for (size_t i = 0; i < nw; i++)
        rw[i] = round16(w[i], dtype);
    nn_matmul_forward(out, ri, rw, bias, B, T, C, OC);
    free(ri);
    free(rw);
}

static void matmul_bf16(float *out, const float *inp, const float *w, const float *bias, int B, int T, int C,
                        int OC)
{
    matmul_round(out, inp, w, bias, B, T, C, OC, LM_NN_BF16);
}

static void matmul_f16(float *out, const float *inp, const float *w, const float *bias, int B, int T, int C,
                       int OC)
{
    matmul_round(out, inp, w, bias, B, T, C, OC, LM_NN_F16);
}

static lm_nn_backend emulation(int dtype)
{
    lm_nn_backend be = lm_nn_backend_cpu;
    be.name = dtype == LM_NN_BF16 ? "cpu-bf16-emulation" : "cpu-f16-emulation";
    be.matmul = dtype == LM_NN_BF16 ? matmul_bf16 : matmul_f16;
    return be;
}

/* ---- golden batches ---- */

typedef struct {
    char name[64];
    int B, T;
    int32_t *ids;
    uint8_t *mask;
} gcase;

static void read_ints(json_t *a, int32_t *dst, int B, int T)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            dst[(size_t)b * T + t] = (int32_t)json_integer_value(json_array_get(json_array_get(a, b), t));
}

/* Reads the golden inputs of a model; returns the number of cases. */
static int read_cases(const char *model, gcase *cs, int cap)
{
    char path[256];
    snprintf(path, sizeof path, "testdata/golden/encoder/%s.jsonl", model);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    char *line = NULL;
    size_t lcap = 0;
    int n = 0;
    while (n < cap && getline(&line, &lcap, fp) > 0) {
        json_error_t je;
        json_t *g = json_loads(line, 0, &je);
        if (!g)
            break;
        gcase *c = &cs[n++];
        snprintf(c->name, sizeof c->name, "%s", json_string_value(json_object_get(g, "case")));
        c->B = (int)json_integer_value(json_object_get(g, "B"));
        c->T = (int)json_integer_value(json_object_get(g, "T"));
        size_t BT = (size_t)c->B * c->T;
        int32_t *mk = malloc(BT * 4);
        c->ids = malloc(BT * 4);
        c->mask = malloc(BT);
        read_ints(json_object_get(g, "ids"), c->ids, c->B, c->T);
        read_ints(json_object_get(g, "mask"), mk, c->B, c->T);
        for (size_t i = 0; i < BT; i++)
            c->mask[i] = (uint8_t)mk[i];
        free(mk);
        json_decref(g);
    }
    free(line);
    fclose(fp);
    return n;
}

static void free_cases(gcase *cs, int n)
{
    for (int i = 0; i < n; i++) {
        free(cs[i].ids);
        free(cs[i].mask);
    }
}

static double maxabs(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* The 16-bit emulation on the CPU: its error against fp32 sets the bounds. */
static void test_emulation(void)
{
    for (int mi = 0; mi < 2; mi++) {
        char err[512] = "", path[128];
        snprintf(path, sizeof path, "testdata/models/%s", models[mi]);
        lm_encoder *m = lm_encoder_load(path, err, sizeof err);
        lm_encoder_state *s = m ? lm_encoder_state_new(m, 4, 128, err, sizeof err) : NULL;
        gcase cs[16];
        int n = read_cases(models[mi], cs, 16);
        ok(m && s && n >= 5, "%s: model, state and %d golden batches (%s)", models[mi], n, err);
        if (!m || !s) {
            lm_encoder_state_free(s);
            lm_encoder_free(m);
            free_cases(cs, n);
            continue;
        }
        int NL = m->cfg.num_labels;
        for (int dt = LM_NN_BF16; dt <= LM_NN_F16; dt++) {
            lm_nn_backend be = emulation(dt);
            double worst = 0;
            int rc = 0;
            for (int i = 0; i < n && rc == 0; i++) {
                size_t no = (size_t)cs[i].B * cs[i].T * NL;
                float *a = malloc(no * 4), *b = malloc(no * 4);
                rc = lm_encoder_forward(m, s, cs[i].ids, cs[i].mask, cs[i].B, cs[i].T, a, NULL, err,
                                        sizeof err) ||
                     lm_encoder_forward_with(&be, m, s, cs[i].ids, cs[i].mask, cs[i].B, cs[i].T, b, NULL, err,
                                             sizeof err);
                if (rc == 0)
                    worst = fmax(worst, maxabs(a, b, no));
                free(a);
                free(b);
            }
            double tol = dt == LM_NN_BF16 ? BF16_TOL : F16_TOL;
            diag("%s: %s vs fp32 logits max-abs %.3g over %d batches (device bound %g)", models[mi], be.name,
                 worst, n, tol);
            ok(rc == 0 && worst <= tol / 2, "%s: %s error %.3g leaves 2x headroom under %g", models[mi],
               be.name, worst, tol);
        }
        free_cases(cs, n);
        lm_encoder_state_free(s);
        lm_encoder_free(m);
    }
}

/* ---- device ---- */

static void compare_model(const char *model, int dtype)
{
    char err[512] = "", path[128];
    snprintf(path, sizeof path, "testdata/models/%s", model);
    lm_encoder *m = lm_encoder_load(path, err, sizeof err);
    lm_encoder_state *s = m ? lm_encoder_state_new(m, 4, 128, err, sizeof err) : NULL;
    lm_encoder_cuda *g = m ? lm_encoder_cuda_new(m, 4, 128, dtype, err, sizeof err) : NULL;
    const char *dn = lm_nn_dtype_name(dtype);
    ok(m && s && g, "%s %s: loaded, CPU state, device copy (%s)", model, dn, err);
    if (!m || !s || !g) {
        lm_encoder_cuda_free(g);
        lm_encoder_state_free(s);
        lm_encoder_free(m);
        return;
    }
    char desc[320];
    size_t wb, ab;
    lm_encoder_cuda_info(g, desc, sizeof desc, &wb, &ab);
    diag("%s %s on %s: %zu KB of weights, %zu KB of activations", model, dn, desc, wb >> 10, ab >> 10);
    gcase cs[16];
    int n = read_cases(model, cs, 16);
    int NL = m->cfg.num_labels, C = m->cfg.hidden_size;
    double tol = dtype == LM_NN_F32 ? F32_TOL : dtype == LM_NN_BF16 ? BF16_TOL : F16_TOL;
    for (int i = 0; i < n; i++) {
        gcase *c = &cs[i];
        size_t BT = (size_t)c->B * c->T, no = BT * NL;
        float *lc = malloc(no * 4), *pc = malloc(no * 4), *lg = malloc(no * 4), *pg = malloc(no * 4),
              *hg = malloc(BT * C * 4), *lo = malloc(no * 4);
        int rc = lm_encoder_forward(m, s, c->ids, c->mask, c->B, c->T, lc, pc, err, sizeof err);
        int rg = lm_encoder_cuda_forward(g, c->ids, c->mask, c->B, c->T, lg, pg, err, sizeof err);
        ok(rc == 0 && rg == 0, "%s %s/%s: CPU and GPU forward B=%d T=%d (%s)", model, dn, c->name, c->B, c->T,
           err);
        if (rc == 0 && rg == 0) {
            double dl = maxabs(lc, lg, no), dp = maxabs(pc, pg, no);
            ok(dl <= tol, "%s %s/%s: logits max-abs %.3g <= %g", model, dn, c->name, dl, tol);
            ok(dp <= tol, "%s %s/%s: probs max-abs %.3g <= %g", model, dn, c->name, dp, tol);
            if (dtype == LM_NN_F32) {
                int rh = lm_encoder_cuda_hidden(g, hg, err, sizeof err);
                double dh = rh ? INFINITY : maxabs(s->x, hg, BT * C);
                ok(dh <= F32_TOL, "%s %s/%s: final hidden state max-abs %.3g", model, dn, c->name, dh);
                /* logits only (no softmax) gives the same logits */
                rg = lm_encoder_cuda_forward(g, c->ids, c->mask, c->B, c->T, lo, NULL, err, sizeof err);
                ok(rg == 0 && memcmp(lo, lg, no * 4) == 0, "%s %s/%s: logits without probs identical (%s)",
                   model, dn, c->name, err);
            }
        }
        free(lc), free(pc), free(lg), free(pg), free(hg), free(lo);
    }
    free_cases(cs, n);

    if (dtype == LM_NN_F32) {
        /* the CPU path's errors, with its messages */
        int32_t bad[2] = {0, m->cfg.vocab_size};
        float lg[8];
        char cpu[512] = "";
        lm_encoder_forward(m, s, bad, NULL, 1, 2, lg, NULL, cpu, sizeof cpu);
        ok(lm_encoder_cuda_forward(g, bad, NULL, 1, 2, lg, NULL, err, sizeof err) == -1 &&
               strcmp(err, cpu) == 0,
           "%s: id out of range rejected as on the CPU: %s", model, err);
        int32_t ids[5] = {5, 6, 7, 8, 9};
        ok(lm_encoder_cuda_forward(g, ids, NULL, 5, 1, NULL, NULL, err, sizeof err) == -1 &&
               strstr(err, "does not fit"),
           "%s: batch over the maximum rejected: %s", model, err);
        lm_encoder_cuda *big = lm_encoder_cuda_new(m, 1, 140, LM_NN_F32, err, sizeof err);
        int32_t *many = calloc(140, 4);
        for (int i = 0; i < 140; i++)
            many[i] = 5;
        lm_encoder_state *cbig = lm_encoder_state_new(m, 1, 140, cpu, sizeof cpu);
        lm_encoder_forward(m, cbig, many, NULL, 1, 140, NULL, NULL, cpu, sizeof cpu);
        ok(big && lm_encoder_cuda_forward(big, many, NULL, 1, 140, NULL, NULL, err, sizeof err) == -1 &&
               strcmp(err, cpu) == 0,
           "%s: too long rejected as on the CPU: %s", model, err);
        lm_encoder_state_free(cbig);
        lm_encoder_cuda_free(big);
        free(many);
    }
    lm_encoder_cuda_free(g);
    lm_encoder_state_free(s);
    lm_encoder_free(m);
}

/* A random XLM-R-shaped model (C 64, 4 heads, 2 layers, 600 positions)
 * written with the safetensors writer; 2 sequences of 520 tokens with pad
 * ids inside and a padded tail cross two position-scan blocks. */
static void test_long(const char *dir)
{
    int C = 64, F = 128, L = 2, V = 300, P = 600, NL = 3, T = 520, B = 2;
    char path[256], err[512] = "";
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *fp = fopen(path, "w");
    if (!fp) {
        ok(0, "long: cannot write %s", path);
        return;
    }
    fprintf(fp,
            "{\"architectures\":[\"XLMRobertaForTokenClassification\"],\"model_type\":"
            "\"xlm-roberta\",\"hidden_size\":%d,\"num_hidden_layers\":%d,\"num_attention_heads\":"
            "4,\"intermediate_size\":%d,\"vocab_size\":%d,\"max_position_embeddings\":%d,"
            "\"type_vocab_size\":1,\"pad_token_id\":1,\"hidden_act\":\"gelu\","
            "\"layer_norm_eps\":1e-5,\"id2label\":{\"0\":\"a\",\"1\":\"b\",\"2\":\"c\"}}\n",
            C, L, F, V, P);
    fclose(fp);
    enum { MAXT = 5 + 16 * 2 + 2 };
    lm_st_wtensor w[MAXT];
    char names[MAXT][96];
    int64_t shapes[MAXT][2];
    size_t k = 0;
    lm_rng r;
    lm_rng_init(&r, 5, 0);
#define ADD(nm, a, b_)                                                                          \
    do {                                                                                        \
        snprintf(names[k], sizeof names[k], "%s", nm);                                          \
        shapes[k][0] = a;                                                                       \
        shapes[k][1] = b_;                                                                      \
        size_t ne = (size_t)(a) * ((b_) ? (size_t)(b_) : 1);                                    \
        float *x = malloc(ne * 4);                                                              \
        for (size_t e = 0; e < ne; e++)                                                         \
            x[e] = (float)(0.1 * lm_rng_normal(&r)) + (strstr(nm, "LayerNorm.weight") ? 1 : 0); \
        w[k] = (lm_st_wtensor){names[k], LM_DT_F32, (b_) ? 2 : 1, shapes[k], x};                \
        k++;                                                                                    \
    } while (0)
    ADD("roberta.embeddings.word_embeddings.weight", V, C);
    ADD("roberta.embeddings.position_embeddings.weight", P, C);
    ADD("roberta.embeddings.token_type_embeddings.weight", 1, C);
    ADD("roberta.embeddings.LayerNorm.weight", C, 0);
    ADD("roberta.embeddings.LayerNorm.bias", C, 0);
    const char *lin[6][2] = {{"attention.self.query", "C"}, {"attention.self.key", "C"},
                             {"attention.self.value", "C"}, {"attention.output.dense", "C"},
                             {"intermediate.dense", "F"},   {"output.dense", "O"}};
    for (int l = 0; l < L; l++) {
        char nm[96];
        for (int j = 0; j < 6; j++) {
            int oc = lin[j][1][0] == 'F' ? F : C, ic = lin[j][1][0] == 'O' ? F : C;
            snprintf(nm, sizeof nm, "roberta.encoder.layer.%d.%s.weight", l, lin[j][0]);
            ADD(nm, oc, ic);
            snprintf(nm, sizeof nm, "roberta.encoder.layer.%d.%s.bias", l, lin[j][0]);
            ADD(nm, oc, 0);
            if (j == 3 || j == 5) {
                const char *ln = j == 3 ? "attention.output.LayerNorm" : "output.LayerNorm";
                snprintf(nm, sizeof nm, "roberta.encoder.layer.%d.%s.weight", l, ln);
                ADD(nm, C, 0);
                snprintf(nm, sizeof nm, "roberta.encoder.layer.%d.%s.bias", l, ln);
                ADD(nm, C, 0);
            }
        }
    }
    ADD("classifier.weight", NL, C);
    ADD("classifier.bias", NL, 0);
#undef ADD
    char wpath[256];
    snprintf(wpath, sizeof wpath, "%s/model.safetensors", dir);
    int rc = lm_st_write(wpath, w, k, "{\"format\":\"pt\"}", err, sizeof err);
    for (size_t i = 0; i < k; i++)
        free((void *)w[i].data);
    lm_encoder *m = rc ? NULL : lm_encoder_load(dir, err, sizeof err);
    ok(m != NULL, "long: random XLM-R-shaped model written and loaded (%s)", err);
    if (m) {
        int32_t *ids = malloc((size_t)B * T * 4);
        uint8_t *mask = malloc((size_t)B * T);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                size_t i = (size_t)b * T + t;
                int tail = b == 1 && t >= 400;
                ids[i] = tail ? 1 : (t % 97 == 50 ? 1 : 2 + (int32_t)lm_rng_below(&r, (uint64_t)(V - 2)));
                mask[i] = !tail;
            }
        lm_encoder_state *s = lm_encoder_state_new(m, B, T, err, sizeof err);
        lm_encoder_cuda *g = lm_encoder_cuda_new(m, B, T, LM_NN_F32, err, sizeof err);
        size_t no = (size_t)B * T * NL;
        float *a = malloc(no * 4), *bb = malloc(no * 4);
        int r1 = s ? lm_encoder_forward(m, s, ids, mask, B, T, a, NULL, err, sizeof err) : -1;
        int r2 = g ? lm_encoder_cuda_forward(g, ids, mask, B, T, bb, NULL, err, sizeof err) : -1;
        double d = r1 == 0 && r2 == 0 ? maxabs(a, bb, no) : INFINITY;
        ok(d <= F32_TOL, "long: B=%d T=%d (pad ids inside, padded tail) GPU vs CPU max-abs %.3g (%s)", B, T,
           d, err);
        free(a), free(bb), free(ids), free(mask);
        lm_encoder_cuda_free(g);
        lm_encoder_state_free(s);
        lm_encoder_free(m);
    }
    unlink(wpath);
    unlink(path);
}

/* lingua-compress's probability callback on the GPU against the CPU's,
 * over chunks of different lengths (padded on the GPU, packed on the CPU). */
static void test_lingua(const char *model)
{
    char dir[128], err[512] = "";
    snprintf(dir, sizeof dir, "testdata/models/%s", model);
    lm_lingua_encoder le;
    if (lm_lingua_encoder_load(&le, dir, -1, 3, err, sizeof err)) {
        ok(0, "lingua %s: load: %s", model, err);
        return;
    }
    size_t lens[5] = {7, 40, 2, 100, 61};
    int32_t *ids[5];
    float *pc[5], *pg[5];
    lm_rng r;
    lm_rng_init(&r, 5, 0);
    for (int i = 0; i < 5; i++) {
        ids[i] = malloc(lens[i] * 4);
        pc[i] = malloc(lens[i] * 4);
        pg[i] = malloc(lens[i] * 4);
        for (size_t j = 0; j < lens[i]; j++)
            ids[i][j] = 5 + (int32_t)(lm_rng_u64(&r) % 200);
    }
    int rc = lm_lingua_encoder_probs(&le, 5, (const int32_t *const *)ids, lens, pc, err, sizeof err);
    ok(rc == 0, "lingua %s: CPU probabilities (%s)", model, err);
    rc = lm_lingua_encoder_use_cuda(&le, LM_NN_F32, err, sizeof err);
    ok(rc == 0 && le.gpu, "lingua %s: moved to the GPU (%s)", model, err);
    rc = rc ? rc : lm_lingua_encoder_probs(&le, 5, (const int32_t *const *)ids, lens, pg, err, sizeof err);
    double d = 0;
    for (int i = 0; i < 5 && rc == 0; i++)
        d = fmax(d, maxabs(pc[i], pg[i], lens[i]));
    ok(rc == 0 && d <= 1e-5, "lingua %s: GPU vs CPU keep probabilities max-abs %.3g (%s)", model, d, err);
    for (int i = 0; i < 5; i++)
        free(ids[i]), free(pc[i]), free(pg[i]);
    lm_lingua_encoder_free(&le);
}

/* 1 when a mapping of this process names a file whose path contains s. */
static int maps_name(const char *s)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return 0;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, s) != NULL;
    fclose(f);
    return found;
}

int main(void)
{
    is_int(lm_nn_dtype_parse("bf16"), LM_NN_BF16, "dtype bf16 parses");
    is_int(lm_nn_dtype_parse("f16"), LM_NN_F16, "dtype f16 parses");
    is_int(lm_nn_dtype_parse("f32"), LM_NN_F32, "dtype f32 parses");
    is_int(lm_nn_dtype_parse("int8"), -1, "dtype int8 is refused");
    is_str(lm_nn_dtype_name(LM_NN_BF16), "bf16", "dtype name");
    test_emulation();

    /* the CUDA libraries are loaded on the first GPU call, never before */
    ok(!maps_name("libcudart") && !maps_name("libcublas") && !maps_name(LM_CUDA_LIB_NAME),
       "nothing CUDA is mapped before the first GPU call");
    char why[1024] = "";
    int avail = lm_nn_cuda_available(why, sizeof why);
#ifdef HAVE_CUDA
    char lib[1024] = "", path[1024];
    lm_cuda_lib_path(path, sizeof path);
    ok(lm_cuda_lib(lib, sizeof lib) != NULL, "the build's %s loads (%s)", path, lib);
    ok(maps_name(LM_CUDA_LIB_NAME) && maps_name("libcublas"),
       "after the first GPU call, %s and libcublas are mapped", LM_CUDA_LIB_NAME);
#else
    ok(!lm_cuda_lib(NULL, 0) && strstr(why, "built without CUDA"),
       "built without CUDA: nothing to load, and the reason says so: %s", why);
#endif
    if (!avail) {
        ok(why[0] != 0, "no device: a reason is given: %s", why);
        char err[512] = "";
        lm_encoder *m = lm_encoder_load("testdata/models/tiny-bert", err, sizeof err);
        lm_encoder_cuda *g = m ? lm_encoder_cuda_new(m, 1, 8, LM_NN_F32, err, sizeof err) : NULL;
        ok(m && !g && err[0], "no device: lm_encoder_cuda_new fails cleanly: %s", err);
        lm_encoder_cuda_free(g);
        lm_encoder_free(m);
        printf("ok %d # SKIP GPU comparisons: %s\n", ++tap_n_, why);
        return tap_done();
    }
    for (int mi = 0; mi < 2; mi++)
        for (int dt = LM_NN_F32; dt <= LM_NN_F16; dt++)
            compare_model(models[mi], dt);
    for (int mi = 0; mi < 2; mi++)
        test_lingua(models[mi]);
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/lmkit-encoder-cuda-XXXXXX");
    if (mkdtemp(dir)) {
        test_long(dir);
        rmdir(dir);
    } else {
        ok(0, "mkdtemp: cannot make a temporary folder");
    }
    return tap_done();
}
