/* test_encoder.c - safetensors reader/writer, config.json, and the encoder
 * forward against transformers' logits (testdata/golden/encoder, made by
 * tests/golden/encoder_golden.py), plus BLAS against the naive reference ops.
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

#include <omp.h>

#include "core/rng.h"
#include "nn/encoder.h"
#include "nn/ops.h"
#include "nn/safetensors.h"
#include "tap.h"

static char tmpdir[64];

static void put_file(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(p, 1, n, fp) != n) {
        perror(path);
        exit(2);
    }
    fclose(fp);
}

/* A safetensors image: len8 + header + data (data filled with 0x3f). */
static uint8_t *st_image(const char *hdr, uint64_t hlen_field, size_t datalen, size_t *len)
{
    size_t hl = strlen(hdr);
    *len = 8 + hl + datalen;
    uint8_t *p = malloc(*len);
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(hlen_field >> (8 * i));
    memcpy(p + 8, hdr, hl);
    memset(p + 8 + hl, 0x3f, datalen);
    return p;
}

/* Parses a hostile image; expects failure with every needle in the message. */
static void hostile(const char *what, const char *hdr, long hlen_field, size_t datalen, const char *needle1,
                    const char *needle2)
{
    size_t len;
    uint8_t *p = st_image(hdr, hlen_field < 0 ? strlen(hdr) : (uint64_t)hlen_field, datalen, &len);
    lm_safetensors st;
    char err[512] = "";
    int rc = lm_st_parse(&st, p, len, err, sizeof err);
    ok(rc == -1, "hostile safetensors rejected: %s", what);
    ok((!needle1 || strstr(err, needle1)) && (!needle2 || strstr(err, needle2)), "  message names it: %s",
       err);
    if (rc == 0)
        lm_st_close(&st);
    free(p);
}

static void test_hostile(void)
{
    lm_safetensors st;
    char err[512] = "";
    ok(lm_st_parse(&st, "\x02\0\0\0\0", 5, err, sizeof err) == -1 && strstr(err, "too short"),
       "hostile safetensors rejected: 5 bytes: %s", err);
    hostile("empty header", "", 0, 3, "'{'", NULL);
    hostile("oversized header", "{}", 100000001, 0, "100000000", NULL);
    hostile("header past end", "{}", 64, 0, "past the end", NULL);
    hostile("header not starting with '{'",
            " {\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4, "'{'", NULL);
    hostile("header is a list", "[1,2]", -1, 0, "'{'", NULL);
    hostile("bad JSON", "{\"a\":", -1, 0, "not valid JSON", NULL);
    hostile("bad dtype", "{\"enc.w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4,
            "'enc.w'", "F33");
    hostile("wrong byte count", "{\"enc.w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", -1,
            12, "'enc.w'", "needs 16");
    hostile("overlapping offsets",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
            "\"ovl\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
            -1, 24, "'ovl'", "overlaps");
    hostile("hole between tensors",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
            "\"gap\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[20,36]}}",
            -1, 36, "'gap'", "hole");
    hostile("truncated data",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
            "\"tail\":{\"dtype\":\"F16\",\"shape\":[8],\"data_offsets\":[16,32]}}",
            -1, 20, "'tail'", "truncated");
    hostile("trailing bytes", "{\"last\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[0,3]}}", -1, 8,
            "'last'", "trailing");
    hostile("shape overflow",
            "{\"big\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
            "\"data_offsets\":[0,4]}}",
            -1, 4, "'big'", "overflow");
    hostile("negative offset", "{\"neg\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", -1, 0,
            "'neg'", NULL);
    hostile("end before begin",
            "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
            "\"rev\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,4294967296]}}",
            -1, 0, "'rev'", NULL);
    hostile("missing shape", "{\"ns\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", -1, 4, "'ns'", "shape");
    hostile("duplicate key",
            "{\"d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
            "\"d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
            -1, 1, "duplicate", NULL);
    hostile("metadata not strings", "{\"__metadata__\":{\"format\":1}}", -1, 0, "format", NULL);

    /* valid: metadata, zero-size tensor, header padded with spaces */
    size_t len;
    uint8_t *p = st_image("{\"__metadata__\":{\"format\":\"pt\"},"
                          "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
                          "\"w\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}   ",
                          0, 4, &len);
    uint64_t hl = len - 12;
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(hl >> (8 * i));
    int rc = lm_st_parse(&st, p, len, err, sizeof err);
    ok(rc == 0, "valid file with __metadata__ and an empty tensor parses (%s)", err);
    if (rc == 0) {
        is_int(st.n, 2, "  two tensors");
        is_str(st.metadata, "{\"format\":\"pt\"}", "  metadata kept");
        const lm_st_tensor *w = lm_st_find(&st, "w");
        float f[2];
        ok(w && lm_st_to_f32(w, f, err, sizeof err) == 0 && f[0] == lm_bf16_to_f32(0x3f3f),
           "  BF16 converts");
        lm_st_close(&st);
    }
    free(p);

    /* a truncated file on disk */
    char path[128];
    snprintf(path, sizeof path, "%s/trunc.safetensors", tmpdir);
    p = st_image("{\"emb\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[0,64]}}", 59 - 1, 64, &len);
    hl = strlen("{\"emb\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[0,64]}}");
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(hl >> (8 * i));
    put_file(path, p, len - 10);
    rc = lm_st_open(&st, path, err, sizeof err);
    ok(rc == -1 && strstr(err, "'emb'") && strstr(err, path), "truncated file: %s", err);
    put_file(path, p, len);
    rc = lm_st_open(&st, path, err, sizeof err);
    ok(rc == 0, "the same file complete opens (%s)", rc ? err : "");
    if (rc == 0)
        lm_st_close(&st);
    free(p);
}

static void test_half(void)
{
    float vals[] = {0.0f,           -0.0f,           1.0f,    -2.5f, 65504.0f, 6.1035156e-05f,
                    5.9604645e-08f, 0.333251953125f, INFINITY};
    int good = 1;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        float back = lm_f16_to_f32(lm_f32_to_f16(vals[i]));
        if (back != vals[i] || signbit(back) != signbit(vals[i])) {
            diag("f16 %g -> %g", vals[i], back);
            good = 0;
        }
    }
    ok(good, "f16 round trip of exactly representable values");
    ok(lm_f32_to_f16(1e6f) == 0x7c00, "f16 overflow gives inf");
    ok(lm_f32_to_f16(1.0f + 2.0f / 4096) == 0x3c00, "f16 ties to even (down)");
    ok(lm_f32_to_f16(1.0f + 6.0f / 4096) == 0x3c02, "f16 ties to even (up)");
    ok(lm_f32_to_f16(1.0f + 3.0f / 4096) == 0x3c01, "f16 rounds to nearest");
    ok(lm_f32_to_f16(1e-9f) == 0 && lm_f32_to_f16(-3e-8f) == 0x8001, "f16 subnormal rounding");
    ok(isnan(lm_f16_to_f32(lm_f32_to_f16(NAN))), "f16 keeps NaN");
    ok(lm_f32_to_bf16(1.00390625f) == 0x3f80, "bf16 ties to even");
    ok(lm_bf16_to_f32(lm_f32_to_bf16(-3.0f)) == -3.0f, "bf16 round trip");
}

static void test_writer(void)
{
    char path[128], err[512] = "";
    snprintf(path, sizeof path, "%s/rt.safetensors", tmpdir);
    float a[6] = {1, -2, 3.5f, 4, 5, 6.25f};
    uint16_t h[3] = {lm_f32_to_f16(0.5f), lm_f32_to_f16(-1.5f), lm_f32_to_f16(1024)};
    uint16_t bf[2] = {lm_f32_to_bf16(2.0f), lm_f32_to_bf16(-0.25f)};
    uint8_t u[3] = {7, 8, 9};
    int64_t sa[2] = {2, 3}, sh[1] = {3}, sb[1] = {2}, su[1] = {3};
    lm_st_wtensor ts[4] = {
        {"layer.u8", LM_DT_U8, 1, su, u},
        {"layer.a", LM_DT_F32, 2, sa, a},
        {"layer.h", LM_DT_F16, 1, sh, h},
        {"layer.bf", LM_DT_BF16, 1, sb, bf},
    };
    int rc = lm_st_write(path, ts, 4, "{\"format\":\"pt\",\"note\":\"round \\\"trip\\\"\"}", err, sizeof err);
    ok(rc == 0, "writer: wrote 4 tensors (%s)", rc ? err : "");
    lm_safetensors st;
    rc = lm_st_open(&st, path, err, sizeof err);
    ok(rc == 0, "writer: file reads back (%s)", rc ? err : "");
    if (rc)
        return;
    ok((size_t)(st.buf - (const uint8_t *)st.map) % 8 == 0, "writer: data starts 8-aligned");
    is_str(st.metadata, "{\"format\":\"pt\",\"note\":\"round \\\"trip\\\"\"}", "writer: metadata");
    const lm_st_tensor *ta = lm_st_find(&st, "layer.a"), *th = lm_st_find(&st, "layer.h"),
                       *tb = lm_st_find(&st, "layer.bf");
    ok(ta && ta->ndim == 2 && ta->shape[0] == 2 && ta->shape[1] == 3 && memcmp(ta->data, a, sizeof a) == 0,
       "writer: F32 tensor intact");
    float f[3];
    ok(th && lm_st_to_f32(th, f, err, sizeof err) == 0 && f[0] == 0.5f && f[1] == -1.5f && f[2] == 1024,
       "writer: F16 tensor converts");
    ok(tb && lm_st_to_f32(tb, f, err, sizeof err) == 0 && f[0] == 2 && f[1] == -0.25f,
       "writer: BF16 tensor converts");
    const lm_st_tensor *tu = lm_st_find(&st, "layer.u8");
    ok(tu && lm_st_to_f32(tu, f, err, sizeof err) == -1 && strstr(err, "'layer.u8'"),
       "U8 is not convertible to float, named: %s", err);
    lm_st_close(&st);
    lm_st_wtensor dup[2] = {ts[1], ts[1]};
    ok(lm_st_write(path, dup, 2, NULL, err, sizeof err) == -1 && strstr(err, "layer.a"),
       "writer refuses duplicate names: %s", err);
}

static void test_matmul(void)
{
    lm_rng r;
    lm_rng_init(&r, 7, 0);
    int shapes[][4] = {{1, 1, 1, 1}, {2, 7, 33, 5}, {3, 17, 64, 96}, {1, 129, 31, 2}};
    for (size_t s = 0; s < 4; s++) {
        int B = shapes[s][0], T = shapes[s][1], C = shapes[s][2], OC = shapes[s][3];
        size_t ni = (size_t)B * T * C, nw = (size_t)OC * C, no = (size_t)B * T * OC;
        float *inp = malloc(ni * 4), *w = malloc(nw * 4), *bias = malloc(OC * 4), *o1 = malloc(no * 4),
              *o2 = malloc(no * 4);
        for (size_t i = 0; i < ni; i++)
            inp[i] = (float)lm_rng_normal(&r);
        for (size_t i = 0; i < nw; i++)
            w[i] = (float)lm_rng_normal(&r);
        for (int i = 0; i < OC; i++)
            bias[i] = (float)lm_rng_normal(&r);
        nn_matmul_forward(o1, inp, w, bias, B, T, C, OC);
        nn_matmul_forward_naive(o2, inp, w, bias, B, T, C, OC);
        double mx = 0;
        for (size_t i = 0; i < no; i++)
            mx = fmax(mx, fabs(o1[i] - o2[i]));
        ok(mx <= 1e-4 * sqrt(C), "matmul BLAS vs naive B=%d T=%d C=%d OC=%d: max-abs %.3g", B, T, C, OC, mx);
        free(inp), free(w), free(bias), free(o1), free(o2);
    }
    /* attention: BLAS vs naive with a padded batch */
    int B = 2, T = 19, C = 24, NH = 3;
    size_t n = (size_t)B * T * C;
    float *q = malloc(n * 4), *k = malloc(n * 4), *v = malloc(n * 4), *o1 = malloc(n * 4),
          *o2 = malloc(n * 4), *att = malloc((size_t)NH * T * T * 4), *m = malloc(B * T * 4);
    for (size_t i = 0; i < n; i++) {
        q[i] = (float)lm_rng_normal(&r);
        k[i] = (float)lm_rng_normal(&r);
        v[i] = (float)lm_rng_normal(&r);
    }
    for (int i = 0; i < B * T; i++)
        m[i] = (i >= T && i % T > 11) ? -FLT_MAX : 0.0f;
    nn_attention_forward(o1, att, q, k, v, m, B, T, C, NH);
    nn_attention_forward_naive(o2, att, q, k, v, m, B, T, C, NH);
    double mx = 0;
    for (size_t i = 0; i < n; i++)
        mx = fmax(mx, fabs(o1[i] - o2[i]));
    ok(mx <= 1e-5, "attention BLAS vs naive (masked keys): max-abs %.3g", mx);
    free(q), free(k), free(v), free(o1), free(o2), free(att), free(m);
}

/* The vectorised GELU (exp and erfc computed in ops.c) against the exact
 * function in double, over a dense sweep of floats and the tails. */
static void test_gelu_accuracy(void)
{
    size_t n = 2400001;
    float *x = malloc(n * 4), *g = malloc(n * 4), *gt = malloc(n * 4);
    for (size_t i = 0; i < n; i++)
        x[i] = -12.0f + 24.0f * (float)i / (float)(n - 1);
    nn_gelu_forward(g, x, n);
    nn_gelu_tanh_forward(gt, x, n);
    double de = 0, dt = 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        de = fmax(de, fabs(g[i] - 0.5 * v * (1 + erf(v / sqrt(2.0)))));
        dt = fmax(dt, fabs(gt[i] - 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)))));
    }
    ok(de <= 4e-7, "gelu: max-abs %.3g from the exact value on [-12, 12]", de);
    ok(dt <= 1e-6, "gelu_tanh: max-abs %.3g from the exact value on [-12, 12]", dt);
    float e[4] = {-1e30f, 1e30f, -200.0f, 0.0f}, o[4];
    nn_gelu_forward(o, e, 4);
    ok(o[0] == 0.0f && o[1] == 1e30f && o[2] == 0.0f && o[3] == 0.0f, "gelu: tails exact (%g %g %g %g)", o[0],
       o[1], o[2], o[3]);
    free(x), free(g), free(gt);
}

/* The OpenMP-split loops (taken for large loops) give bit-identical results
 * to the single-thread loops: rows and spans are independent. */
static void test_parallel_ops(void)
{
    lm_rng r;
    lm_rng_init(&r, 11, 0);
    int B = 2, T = 1024, C = 512;
    size_t n = (size_t)B * T * C;
    float *x = malloc(n * 4), *res = malloc(n * 4), *w = malloc(C * 4), *b = malloc(C * 4),
          *o1 = malloc(n * 4), *o2 = malloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)lm_rng_normal(&r);
        res[i] = (float)lm_rng_normal(&r);
    }
    for (int i = 0; i < C; i++) {
        w[i] = 1 + 0.1f * (float)lm_rng_normal(&r);
        b[i] = 0.1f * (float)lm_rng_normal(&r);
    }
    int saved = omp_get_max_threads();
    const char *names[4] = {"layernorm", "gelu", "gelu_tanh", "softmax"};
    for (int op = 0; op < 4; op++) {
        for (int pass = 0; pass < 2; pass++) {
            float *o = pass ? o2 : o1;
            omp_set_num_threads(pass ? 4 : 1);
            if (op == 0)
                nn_layernorm_forward(o, x, res, w, b, B, T, C, 1e-5f);
            else if (op == 1)
                nn_gelu_forward(o, x, n);
            else if (op == 2)
                nn_gelu_tanh_forward(o, x, n);
            else
                nn_softmax_forward(o, x, (int)(n / 128), 128);
        }
        ok(memcmp(o1, o2, n * 4) == 0, "%s: 4 OpenMP threads give the 1-thread result bit for bit",
           names[op]);
    }
    omp_set_num_threads(saved);
    free(x), free(res), free(w), free(b), free(o1), free(o2);
}

static void test_config(void)
{
    lm_hf_config c;
    char err[512];
    struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"architectures\":[\"BertForMaskedLM\"]}", "BertForMaskedLM"},
        {"{\"architectures\":[\"BertModel\"],\"position_embedding_type\":\"relative_key\"}", "relative_key"},
        {"{\"architectures\":[\"BertModel\"],\"hidden_act\":\"relu\"}", "relu"},
        {"{\"architectures\":[\"BertModel\"],\"hidden_size\":30,\"num_attention_heads\":4}", "multiple"},
        {"{\"architectures\":[\"RobertaModel\"],\"model_type\":\"bert\"}", "model_type"},
        {"{\"architectures\":[\"BertModel\"],\"is_decoder\":true}", "is_decoder"},
        {"{\"model_type\":\"bert\"}", "architectures"},
        {"{\"architectures\":[\"BertForTokenClassification\"],\"num_labels\":3,"
         "\"id2label\":{\"0\":\"a\",\"1\":\"b\"}}",
         "num_labels"},
        {"{\"architectures\":[\"XLMRobertaModel\"],\"max_position_embeddings\":2}", "padding_idx"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = lm_hf_config_parse(&c, bad[i].json, strlen(bad[i].json), "config.json", err, sizeof err);
        ok(rc == -1 && strstr(err, bad[i].needle), "config rejected, names '%s': %s", bad[i].needle, err);
        if (rc == 0)
            lm_hf_config_free(&c);
    }
    const char *j = "{\"architectures\":[\"BertForTokenClassification\"],\"id2label\":"
                    "{\"0\":\"drop\",\"1\":\"keep\",\"2\":\"x\"}}";
    int rc = lm_hf_config_parse(&c, j, strlen(j), "config.json", err, sizeof err);
    ok(rc == 0 && c.num_labels == 3 && strcmp(c.id2label[1], "keep") == 0 && c.layer_norm_eps == 1e-12f &&
           c.hidden_size == 768 && c.act == LM_ACT_GELU,
       "config defaults and id2label");
    if (rc == 0)
        lm_hf_config_free(&c);
}

/* Reads a [B][T] int array from JSON. */
static void read_ints(json_t *a, int32_t *out, int B, int T)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            out[b * T + t] = (int32_t)json_integer_value(json_array_get(json_array_get(a, b), t));
}

static void test_golden(const char *name)
{
    char dir[128], gpath[128], err[512] = "";
    snprintf(dir, sizeof dir, "testdata/models/%s", name);
    snprintf(gpath, sizeof gpath, "testdata/golden/encoder/%s.jsonl", name);
    lm_encoder *m = lm_encoder_load(dir, err, sizeof err);
    ok(m != NULL, "%s: model loads (%s)", name, m ? "" : err);
    if (!m)
        return;
    diag("%s: %s, %zu tensors (%zu used in place from the mmap), %zu parameters, act %s", name,
         m->cfg.architecture, m->n_tensors, m->n_in_place, m->n_params, m->cfg.act_name);
    int NL = m->cfg.num_labels;
    lm_encoder_state *s = lm_encoder_state_new(m, 4, 128, err, sizeof err);
    FILE *fp = fopen(gpath, "r");
    ok(s && fp, "%s: state and golden file", name);
    if (!s || !fp) {
        lm_encoder_free(m);
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    int ncase = 0;
    while (getline(&line, &cap, fp) > 0) {
        json_error_t je;
        json_t *g = json_loads(line, 0, &je);
        if (!g)
            break;
        const char *cname = json_string_value(json_object_get(g, "case"));
        int B = (int)json_integer_value(json_object_get(g, "B"));
        int T = (int)json_integer_value(json_object_get(g, "T"));
        size_t BT = (size_t)B * T;
        int32_t *ids = malloc(BT * 4), *mk = malloc(BT * 4);
        uint8_t *mask = malloc(BT);
        float *logits = malloc(BT * NL * 4), *probs = malloc(BT * NL * 4), *naive = malloc(BT * NL * 4),
              *alone = malloc(BT * NL * 4);
        read_ints(json_object_get(g, "ids"), ids, B, T);
        read_ints(json_object_get(g, "mask"), mk, B, T);
        for (size_t i = 0; i < BT; i++)
            mask[i] = (uint8_t)mk[i];
        int rc = lm_encoder_forward(m, s, ids, mask, B, T, logits, probs, err, sizeof err);
        ok(rc == 0, "%s/%s: forward B=%d T=%d (%s)", name, cname, B, T, rc ? err : "");
        double mx = 0, mxp = 0, se = 0, ss = 0, mxreal = 0;
        json_t *gl = json_object_get(g, "logits"), *gp = json_object_get(g, "probs");
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int c = 0; c < NL; c++) {
                    size_t i = ((size_t)b * T + t) * NL + c;
                    double want =
                        json_number_value(json_array_get(json_array_get(json_array_get(gl, b), t), c));
                    double wp =
                        json_number_value(json_array_get(json_array_get(json_array_get(gp, b), t), c));
                    double d = fabs(logits[i] - want);
                    mx = fmax(mx, d);
                    if (mask[(size_t)b * T + t])
                        mxreal = fmax(mxreal, d);
                    mxp = fmax(mxp, fabs(probs[i] - wp));
                    se += d * d;
                    ss += want * want;
                }
        double nmse = ss > 0 ? se / ss : se;
        diag("%s/%s: logits max-abs %.3g (real tokens %.3g), nmse %.3g; probs max-abs %.3g", name, cname, mx,
             mxreal, nmse, mxp);
        ok(mx <= 1e-4, "%s/%s: logits max-abs %.3g <= 1e-4", name, cname, mx);
        ok(mxp <= 1e-5, "%s/%s: probs max-abs %.3g <= 1e-5", name, cname, mxp);

        /* the naive reference ops agree with the BLAS path */
        rc = lm_encoder_forward_with(&lm_nn_backend_cpu_naive, m, s, ids, mask, B, T, naive, NULL, err,
                                     sizeof err);
        double dn = 0;
        for (size_t i = 0; i < BT * NL; i++)
            dn = fmax(dn, fabs(naive[i] - logits[i]));
        ok(rc == 0 && dn <= 1e-5, "%s/%s: naive ops vs BLAS max-abs %.3g", name, cname, dn);

        /* each sequence alone at its true length = the padded batch (real tokens) */
        double da = 0;
        for (int b = 0; b < B && rc == 0; b++) {
            int n = 0;
            while (n < T && mask[(size_t)b * T + n])
                n++;
            rc = lm_encoder_forward(m, s, ids + (size_t)b * T, NULL, 1, n, alone, NULL, err, sizeof err);
            for (int i = 0; i < n * NL; i++)
                da = fmax(da, fabs(alone[i] - logits[(size_t)b * T * NL + i]));
        }
        ok(rc == 0 && da <= 1e-5, "%s/%s: unpadded one-by-one vs padded batch max-abs %.3g", name, cname, da);

        /* the real tokens packed back to back = the padded batch (real tokens) */
        int lens[8], nseq = 0;
        size_t rows = 0;
        int32_t *packed = malloc(BT * 4);
        float *plog = malloc(BT * NL * 4);
        for (int b = 0; b < B; b++) {
            int n = 0;
            while (n < T && mask[(size_t)b * T + n])
                n++;
            memcpy(packed + rows, ids + (size_t)b * T, (size_t)n * 4);
            lens[nseq++] = n;
            rows += (size_t)n;
        }
        rc = lm_encoder_forward_packed(m, s, packed, lens, nseq, plog, NULL, err, sizeof err);
        double dp = 0;
        size_t r0 = 0;
        for (int b = 0; b < B && rc == 0; b++) {
            for (int i = 0; i < lens[b] * NL; i++)
                dp = fmax(dp, fabs(plog[r0 * NL + i] - logits[(size_t)b * T * NL + i]));
            r0 += (size_t)lens[b];
        }
        ok(rc == 0 && dp <= 1e-5, "%s/%s: packed batch vs padded batch max-abs %.3g (%s)", name, cname, dp,
           rc ? err : "");
        free(packed), free(plog);
        free(ids), free(mk), free(mask), free(logits), free(probs), free(naive), free(alone);
        json_decref(g);
        ncase++;
    }
    free(line);
    fclose(fp);
    ok(ncase >= 5, "%s: %d golden cases", name, ncase);

    /* errors: id outside the vocabulary, too long */
    int32_t bad[2] = {0, m->cfg.vocab_size};
    float lg[8];
    ok(lm_encoder_forward(m, s, bad, NULL, 1, 2, lg, NULL, err, sizeof err) == -1 &&
           strstr(err, "vocabulary"),
       "%s: id out of range rejected: %s", name, err);
    lm_encoder_state *big = lm_encoder_state_new(m, 1, 140, err, sizeof err);
    int32_t *many = calloc(140, 4);
    for (int i = 0; i < 140; i++)
        many[i] = 5;
    ok(big && lm_encoder_forward(m, big, many, NULL, 1, 140, NULL, NULL, err, sizeof err) == -1 &&
           strstr(err, "max_position_embeddings"),
       "%s: too long rejected: %s", name, err);
    int lens2[2] = {100, 41};
    ok(big && lm_encoder_forward_packed(m, big, many, lens2, 2, NULL, NULL, err, sizeof err) == -1 &&
           strstr(err, "do not fit"),
       "%s: packed batch over the state rejected: %s", name, err);
    lens2[1] = 0;
    ok(big && lm_encoder_forward_packed(m, big, many, lens2, 2, NULL, NULL, err, sizeof err) == -1 &&
           strstr(err, "sequence 1"),
       "%s: empty packed sequence rejected: %s", name, err);
    free(many);
    lm_encoder_state_free(big);
    lm_encoder_state_free(s);
    lm_encoder_free(m);
}

/* Re-saves tiny-bert as two F16/F32 shards with an index and checks the
 * loader takes the sharded, converted path and still agrees. */
static void test_sharded(void)
{
    char err[512] = "", path[256];
    lm_safetensors src;
    if (lm_st_open(&src, "testdata/models/tiny-bert/model.safetensors", err, sizeof err) != 0) {
        ok(0, "open tiny-bert: %s", err);
        return;
    }
    lm_st_wtensor *w1 = calloc(src.n, sizeof *w1), *w2 = calloc(src.n, sizeof *w2);
    uint16_t **half = calloc(src.n, sizeof *half);
    size_t n1 = 0, n2 = 0;
    json_t *wm = json_object();
    for (size_t i = 0; i < src.n; i++) {
        const lm_st_tensor *t = &src.t[i];
        lm_st_wtensor wt = {t->name, t->dtype, t->ndim, t->shape, t->data};
        if (strstr(t->name, "layer.1.") || strstr(t->name, "classifier")) {
            /* shard 2 in F16 */
            half[i] = malloc(t->numel * 2 + 1);
            for (size_t k = 0; k < t->numel; k++)
                half[i][k] = lm_f32_to_f16(((const float *)t->data)[k]);
            wt.dtype = LM_DT_F16;
            wt.data = half[i];
            w2[n2++] = wt;
            json_object_set_new(wm, t->name, json_string("model-00002-of-00002.safetensors"));
        } else {
            w1[n1++] = wt;
            json_object_set_new(wm, t->name, json_string("model-00001-of-00002.safetensors"));
        }
    }
    char sdir[128];
    snprintf(sdir, sizeof sdir, "%s/sharded", tmpdir);
    mkdir(sdir, 0700);
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", sdir);
    int rc = lm_st_write(path, w1, n1, "{\"format\":\"pt\"}", err, sizeof err);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", sdir);
    rc |= lm_st_write(path, w2, n2, NULL, err, sizeof err);
    json_t *idx = json_pack("{s:{s:i},s:o}", "metadata", "total_size", 0, "weight_map", wm);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", sdir);
    rc |= json_dump_file(idx, path, 0);
    json_decref(idx);
    size_t clen;
    char cpath[256];
    FILE *cf = fopen("testdata/models/tiny-bert/config.json", "rb");
    char cbuf[8192];
    clen = cf ? fread(cbuf, 1, sizeof cbuf, cf) : 0;
    if (cf)
        fclose(cf);
    snprintf(cpath, sizeof cpath, "%s/config.json", sdir);
    put_file(cpath, cbuf, clen);
    ok(rc == 0, "sharded F16/F32 copy of tiny-bert written");

    lm_encoder *a = lm_encoder_load("testdata/models/tiny-bert", err, sizeof err);
    lm_encoder *b = lm_encoder_load(sdir, err, sizeof err);
    ok(a && b, "sharded checkpoint loads (%s)", b ? "" : err);
    if (a && b) {
        diag("sharded: %zu of %zu tensors in place, %zu floats converted", b->n_in_place, b->n_tensors,
             b->block_floats);
        ok(b->n_in_place > 0 && b->block_floats > 0, "sharded: F32 in place, F16 converted");
        int32_t ids[12] = {2, 40, 41, 42, 300, 301, 302, 7, 8, 9, 10, 3};
        float la[24], lb[24];
        lm_encoder_state *s = lm_encoder_state_new(a, 1, 12, err, sizeof err);
        lm_encoder_forward(a, s, ids, NULL, 1, 12, la, NULL, err, sizeof err);
        lm_encoder_forward(b, s, ids, NULL, 1, 12, lb, NULL, err, sizeof err);
        double mx = 0;
        for (int i = 0; i < 24; i++)
            mx = fmax(mx, fabs(la[i] - lb[i]));
        ok(mx < 0.05, "sharded F16 model close to F32: max-abs %.3g", mx);
        lm_encoder_state_free(s);
    }
    lm_encoder_free(a);
    lm_encoder_free(b);
    a = lm_encoder_load_files(cpath, path, err, sizeof err);
    ok(a && a->n_tensors == 39, "load_files with an index path (%s)", a ? "" : err);
    lm_encoder_free(a);
    a = lm_encoder_load_files("testdata/models/tiny-xlmr/config.json",
                              "testdata/models/tiny-xlmr/model.safetensors", err, sizeof err);
    ok(a && a->cfg.family == LM_FAMILY_ROBERTA, "load_files with one file (%s)", a ? "" : err);
    lm_encoder_free(a);
    a = lm_encoder_load_files("testdata/models/tiny-bert/config.json",
                              "testdata/models/tiny-xlmr/model.safetensors", err, sizeof err);
    ok(!a && strstr(err, "bert.embeddings.word_embeddings.weight"), "BERT config with XLM-R weights: %s",
       err);
    lm_encoder_free(a);

    /* an index naming a tensor its shard lacks */
    FILE *fp = fopen(path, "w");
    fprintf(fp, "{\"weight_map\":{\"bert.ghost\":\"model-00001-of-00002.safetensors\"}}");
    fclose(fp);
    lm_st_set set;
    ok(lm_st_set_open(&set, sdir, err, sizeof err) == -1 && strstr(err, "bert.ghost"),
       "index naming a missing tensor: %s", err);
    fp = fopen(path, "w");
    fprintf(fp, "{\"weight_map\":{\"x\":\"../etc/passwd\"}}");
    fclose(fp);
    ok(lm_st_set_open(&set, sdir, err, sizeof err) == -1 && strstr(err, "'x'"),
       "index with a path as shard name: %s", err);

    for (size_t i = 0; i < src.n; i++)
        free(half[i]);
    free(half), free(w1), free(w2);
    lm_st_close(&src);
    const char *files[] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                           "model.safetensors.index.json", "config.json"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", sdir, files[i]);
        unlink(path);
    }
    rmdir(sdir);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lmkit-encoder-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_hostile();
    test_half();
    test_writer();
    test_matmul();
    test_parallel_ops();
    test_gelu_accuracy();
    test_config();
    test_golden("tiny-bert");
    test_golden("tiny-xlmr");
    test_sharded();
    char p[128];
    snprintf(p, sizeof p, "%s/trunc.safetensors", tmpdir);
    unlink(p);
    snprintf(p, sizeof p, "%s/rt.safetensors", tmpdir);
    unlink(p);
    rmdir(tmpdir);
    return tap_done();
}
