/* test_init.c - new models of lib/nn/init.c: the folder lmkit's encoder
 * loads and runs, the config, every tensor's name and shape, the statistics
 * of the initialisation (N(0, 0.02^2) weights, zero padding rows, LayerNorm
 * 1/0, zero biases), seeding (same seed and any thread count: the same
 * bytes; another seed: other bytes), and refusals (a missing special token,
 * an existing output, a bad shape) that leave nothing behind.
 */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/fs.h"
#include "nn/encoder.h"
#include "nn/hfconfig.h"
#include "nn/init.h"
#include "nn/safetensors.h"
#include "nn/train.h"
#include "text/tokenizer.h"
#include "tap.h"

static char tmpdir[] = "/tmp/lmkit-init-XXXXXX";

static char *path2(const char *a, const char *b)
{
    char *p = lm_xmalloc(strlen(a) + strlen(b) + 2);
    sprintf(p, "%s/%s", a, b);
    return p;
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* entries of tmpdir whose name starts with '.', other than . and .. */
static int hidden_entries(void)
{
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static int same_file(const char *a, const char *b)
{
    size_t la, lb;
    char err[256];
    char *x = lm_read_file(a, &la, err, sizeof err), *y = lm_read_file(b, &lb, err, sizeof err);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

static const char *const layer_names[16] = {"attention.self.query.weight",
                                            "attention.self.query.bias",
                                            "attention.self.key.weight",
                                            "attention.self.key.bias",
                                            "attention.self.value.weight",
                                            "attention.self.value.bias",
                                            "attention.output.dense.weight",
                                            "attention.output.dense.bias",
                                            "attention.output.LayerNorm.weight",
                                            "attention.output.LayerNorm.bias",
                                            "intermediate.dense.weight",
                                            "intermediate.dense.bias",
                                            "output.dense.weight",
                                            "output.dense.bias",
                                            "output.LayerNorm.weight",
                                            "output.LayerNorm.bias"};

/* every tensor the checkpoint must hold, with its shape and kind */
enum { K_WEIGHT, K_BIAS, K_LN_W, K_LN_B };
typedef struct {
    char name[128];
    int64_t d0, d1; /* d1 0: one dimension */
    int kind;
    int pad_row; /* a row that must be zero, or -1 */
} want_tensor;

static int expected(want_tensor *w, int bert, int L, int C, int F, int V, int P, int pad)
{
    const char *pre = bert ? "bert." : "roberta.";
    int n = 0;
#define ADD(nm, a, b, k, pr)                                        \
    do {                                                            \
        snprintf(w[n].name, sizeof w[n].name, "%s", nm);            \
        w[n].d0 = a, w[n].d1 = b, w[n].kind = k, w[n].pad_row = pr; \
        n++;                                                        \
    } while (0)
    char nm[128];
    snprintf(nm, sizeof nm, "%sembeddings.word_embeddings.weight", pre);
    ADD(nm, V + 100, C, K_WEIGHT, pad); /* 100 rows for [NEWi] */
    snprintf(nm, sizeof nm, "%sembeddings.position_embeddings.weight", pre);
    ADD(nm, P, C, K_WEIGHT, bert ? -1 : pad);
    snprintf(nm, sizeof nm, "%sembeddings.token_type_embeddings.weight", pre);
    ADD(nm, bert ? 2 : 1, C, K_WEIGHT, -1);
    snprintf(nm, sizeof nm, "%sembeddings.LayerNorm.weight", pre);
    ADD(nm, C, 0, K_LN_W, -1);
    snprintf(nm, sizeof nm, "%sembeddings.LayerNorm.bias", pre);
    ADD(nm, C, 0, K_LN_B, -1);
    for (int l = 0; l < L; l++)
        for (int j = 0; j < 16; j++) {
            snprintf(nm, sizeof nm, "%sencoder.layer.%d.%s", pre, l, layer_names[j]);
            int ln = strstr(nm, "LayerNorm") != NULL, bias = j % 2 == 1;
            int64_t d0 = (j == 10 || j == 11) ? F : C, d1 = bias || ln ? 0 : j == 12 ? F : C;
            ADD(nm, d0, d1, ln ? (bias ? K_LN_B : K_LN_W) : bias ? K_BIAS : K_WEIGHT, -1);
        }
    ADD("classifier.weight", 2, C, K_WEIGHT, -1);
    ADD("classifier.bias", 2, 0, K_BIAS, -1);
#undef ADD
    return n;
}

/* one family: write, load, check everything */
static void check_family(int bert, const char *tokpath)
{
    const char *fam = bert ? "bert" : "xlm-roberta";
    char err[512];
    lm_tokenizer *tk = lm_tokenizer_load(tokpath, err, sizeof err);
    ok(tk != NULL, "%s: tokenizer loads", fam);
    if (!tk)
        return;
    int V = (int)lm_tokenizer_vocab_size(tk);
    const char *const *tn = lm_init_token_names(bert ? LM_FAMILY_BERT : LM_FAMILY_ROBERTA);
    int pad = lm_tokenizer_id(tk, tn[0], strlen(tn[0]));

    lm_init_spec spec = {.family = bert ? LM_FAMILY_BERT : LM_FAMILY_ROBERTA,
                         .layers = 2,
                         .hidden = 64,
                         .heads = 4,
                         .seed = 42};
    char name[64];
    snprintf(name, sizeof name, "%s-a", fam);
    char *out = path2(tmpdir, name);
    int rc = lm_init_write(&spec, tokpath, out, err, sizeof err);
    is_int(rc, 0, "%s: lm_init_write", fam);
    if (rc)
        diag("%s", err);
    const char *files[5] = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                            "special_tokens_map.json"};
    for (int i = 0; i < 5; i++) {
        char *p = path2(out, files[i]);
        ok(exists(p), "%s: %s written", fam, files[i]);
        free(p);
    }
    char *tokcopy = path2(out, "tokenizer.json");
    ok(same_file(tokcopy, tokpath), "%s: tokenizer.json is a byte copy", fam);
    free(tokcopy);
    is_int(hidden_entries(), 0, "%s: no temporary folder left", fam);
    struct stat dst;
    mode_t um = umask(0);
    umask(um);
    ok(stat(out, &dst) == 0 && (dst.st_mode & 0777) == (0777 & ~um), "%s: folder mode 0777 & ~umask", fam);

    /* config.json */
    char *cp = path2(out, "config.json");
    lm_hf_config cfg;
    rc = lm_hf_config_load(&cfg, cp, err, sizeof err);
    is_int(rc, 0, "%s: config.json parses", fam);
    if (rc == 0) {
        is_str(cfg.architecture, bert ? "BertForTokenClassification" : "XLMRobertaForTokenClassification",
               "%s: architecture", fam);
        is_str(cfg.model_type, bert ? "bert" : "xlm-roberta", "%s: model_type", fam);
        is_int(cfg.num_layers, 2, "%s: layers", fam);
        is_int(cfg.hidden_size, 64, "%s: hidden", fam);
        is_int(cfg.num_heads, 4, "%s: heads", fam);
        is_int(cfg.intermediate_size, 256, "%s: intermediate defaults to 4 x hidden", fam);
        is_int(cfg.vocab_size, V + 100, "%s: vocab_size: the tokenizer's and 100 rows for [NEWi]", fam);
        is_int(cfg.max_position, bert ? 512 : 514, "%s: max_position_embeddings", fam);
        is_int(cfg.type_vocab_size, bert ? 2 : 1, "%s: type_vocab_size", fam);
        is_int(cfg.pad_token_id, pad, "%s: pad_token_id", fam);
        is_near(cfg.layer_norm_eps, bert ? 1e-12 : 1e-5, 1e-11, "%s: layer_norm_eps", fam);
        is_int(cfg.act, LM_ACT_GELU, "%s: exact gelu", fam);
        is_int(cfg.num_labels, 2, "%s: 2 labels", fam);
        is_str(cfg.id2label[0], "LABEL_0", "%s: id2label 0", fam);
        is_str(cfg.id2label[1], "LABEL_1", "%s: id2label 1", fam);
        is_near(cfg.hidden_dropout, 0.1, 1e-7, "%s: hidden dropout", fam);
        is_near(cfg.attention_dropout, 0.1, 1e-7, "%s: attention dropout", fam);
        lm_hf_config_free(&cfg);
    }
    json_error_t je;
    json_t *cj = json_load_file(cp, 0, &je);
    ok(cj != NULL, "%s: config.json is JSON", fam);
    is_near(json_real_value(json_object_get(cj, "initializer_range")), 0.02, 1e-12, "%s: initializer_range",
            fam);
    is_str(json_string_value(json_object_get(cj, "torch_dtype")), "float32", "%s: torch_dtype", fam);
    is_str(json_string_value(json_object_get(json_object_get(cj, "id2label"), "1")), "LABEL_1",
           "%s: id2label written", fam);
    is_int(json_integer_value(json_object_get(json_object_get(cj, "label2id"), "LABEL_1")), 1,
           "%s: label2id written", fam);
    if (!bert) {
        is_int(json_integer_value(json_object_get(cj, "bos_token_id")), lm_tokenizer_id(tk, "<s>", 3),
               "xlm-roberta: bos_token_id");
        is_int(json_integer_value(json_object_get(cj, "eos_token_id")), lm_tokenizer_id(tk, "</s>", 4),
               "xlm-roberta: eos_token_id");
    }
    json_decref(cj);
    free(cp);

    /* tokenizer_config.json */
    char *tcp = path2(out, "tokenizer_config.json");
    json_t *tc = json_load_file(tcp, 0, &je);
    is_str(json_string_value(json_object_get(tc, "tokenizer_class")),
           bert ? "BertTokenizerFast" : "XLMRobertaTokenizerFast", "%s: tokenizer_class", fam);
    is_str(json_string_value(json_object_get(tc, "pad_token")), tn[0], "%s: pad_token", fam);
    is_str(json_string_value(json_object_get(tc, "mask_token")), tn[4], "%s: mask_token", fam);
    is_int(json_integer_value(json_object_get(tc, "model_max_length")), 512, "%s: model_max_length", fam);
    if (bert)
        ok(json_is_false(json_object_get(tc, "do_lower_case")),
           "bert: do_lower_case as the cased file has it");
    json_decref(tc);
    free(tcp);

    /* names, shapes, statistics */
    want_tensor *wt = lm_xcalloc(5 + 16 * 2 + 2, sizeof *wt);
    int nw = expected(wt, bert, 2, 64, 256, V, bert ? 512 : 514, pad);
    char *sp = path2(out, "model.safetensors");
    lm_safetensors st;
    rc = lm_st_open(&st, sp, err, sizeof err);
    is_int(rc, 0, "%s: model.safetensors opens", fam);
    if (rc == 0) {
        is_int(st.n, nw, "%s: %d tensors", fam, nw);
        is_str(st.metadata, "{\"format\":\"pt\"}", "%s: metadata", fam);
        int shapes_ok = 1, stats_ok = 1;
        for (int i = 0; i < nw; i++) {
            const lm_st_tensor *t = lm_st_find(&st, wt[i].name);
            if (!t || t->dtype != LM_DT_F32 || t->ndim != (wt[i].d1 ? 2 : 1) || t->shape[0] != wt[i].d0 ||
                (wt[i].d1 && t->shape[1] != wt[i].d1)) {
                diag("%s: %s missing or of a wrong shape", fam, wt[i].name);
                shapes_ok = 0;
                continue;
            }
            float *v = lm_xmalloc(t->numel * sizeof *v);
            lm_st_to_f32(t, v, err, sizeof err);
            if (wt[i].kind != K_WEIGHT) {
                float want = wt[i].kind == K_LN_W ? 1.0f : 0.0f;
                for (size_t j = 0; j < t->numel; j++)
                    if (v[j] != want) {
                        diag("%s: %s[%zu] = %g, want %g", fam, wt[i].name, j, (double)v[j], (double)want);
                        stats_ok = 0;
                        break;
                    }
                free(v);
                continue;
            }
            size_t cols = (size_t)wt[i].d1, n = 0;
            double s = 0, s2 = 0;
            int pad_zero = 1;
            for (int64_t r = 0; r < wt[i].d0; r++) {
                const float *row = v + (size_t)r * cols;
                if (r == wt[i].pad_row) {
                    for (size_t j = 0; j < cols; j++)
                        pad_zero &= row[j] == 0.0f;
                    continue;
                }
                for (size_t j = 0; j < cols; j++) {
                    s += row[j];
                    s2 += (double)row[j] * row[j];
                    n++;
                }
            }
            double mean = s / (double)n, sd = sqrt(s2 / (double)n - mean * mean);
            /* 6 standard errors of the sample mean and standard deviation */
            double tol_m = 6 * 0.02 / sqrt((double)n), tol_s = 6 * 0.02 / sqrt(2.0 * (double)n);
            if (fabs(mean) > tol_m || fabs(sd - 0.02) > tol_s || !pad_zero) {
                diag("%s: %s: mean %g (tol %g), std %g (tol %g), pad row zero %d", fam, wt[i].name, mean,
                     tol_m, sd, tol_s, pad_zero);
                stats_ok = 0;
            }
            free(v);
        }
        ok(shapes_ok, "%s: every tensor named and shaped as transformers saves it", fam);
        ok(stats_ok, "%s: weights N(0, 0.02^2), pad rows 0, LayerNorm 1/0, biases 0", fam);
        lm_st_close(&st);
    }

    /* lmkit's encoder loads it and runs a forward with padding */
    lm_encoder *enc = lm_encoder_load(out, err, sizeof err);
    ok(enc != NULL, "%s: lm_encoder_load", fam);
    if (!enc)
        diag("%s", err);
    if (enc) {
        lm_encoding e = {0};
        const char *text = "Hello world, this is a test.";
        rc = lm_tokenizer_encode(tk, text, strlen(text), 1, &e, err, sizeof err);
        is_int(rc, 0, "%s: encode", fam);
        int T = (int)e.n + 2;
        int32_t *ids = lm_xcalloc((size_t)T * 2, sizeof *ids);
        uint8_t *mask = lm_xcalloc((size_t)T * 2, 1);
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < T; t++) {
                int real = t < (int)e.n - b;
                ids[b * T + t] = real ? e.ids[t] : pad;
                mask[b * T + t] = (uint8_t)real;
            }
        lm_encoder_state *s = lm_encoder_state_new(enc, 2, T, err, sizeof err);
        float *logits = lm_xcalloc((size_t)T * 4, sizeof *logits),
              *probs = lm_xcalloc((size_t)T * 4, sizeof *probs);
        rc = s ? lm_encoder_forward(enc, s, ids, mask, 2, T, logits, probs, err, sizeof err) : -1;
        is_int(rc, 0, "%s: forward", fam);
        int finite = 1;
        for (int i = 0; i < T * 4; i++)
            finite &= isfinite(logits[i]) && probs[i] >= 0 && probs[i] <= 1;
        ok(finite, "%s: finite logits and probabilities", fam);
        lm_encoder_state_free(s);
        free(logits);
        free(probs);
        free(ids);
        free(mask);
        lm_encoding_free(&e);
        lm_encoder_free(enc);
    }
    lm_train_model *tm = lm_train_model_load(out, err, sizeof err);
    ok(tm != NULL, "%s: lm_train_model_load", fam);
    lm_train_model_free(tm);

    /* seeding: same seed on 1 thread, same bytes; another seed, other bytes */
    int nthr = omp_get_max_threads();
    omp_set_num_threads(1);
    snprintf(name, sizeof name, "%s-b", fam);
    char *out_b = path2(tmpdir, name);
    is_int(lm_init_write(&spec, tokpath, out_b, err, sizeof err), 0, "%s: second write, 1 thread", fam);
    omp_set_num_threads(nthr > 1 ? nthr : 4);
    spec.seed = 43;
    snprintf(name, sizeof name, "%s-c", fam);
    char *out_c = path2(tmpdir, name);
    is_int(lm_init_write(&spec, tokpath, out_c, err, sizeof err), 0, "%s: write with seed 43", fam);
    omp_set_num_threads(nthr);
    char *sb = path2(out_b, "model.safetensors"), *sc = path2(out_c, "model.safetensors");
    ok(same_file(sp, sb), "%s: same seed, other thread count: byte-identical model.safetensors", fam);
    ok(!same_file(sp, sc), "%s: another seed: another model.safetensors", fam);
    char *ca = path2(out, "config.json"), *cb = path2(out_c, "config.json");
    ok(same_file(ca, cb), "%s: the config does not depend on the seed", fam);

    /* an existing output is refused and left alone */
    spec.seed = 42;
    rc = lm_init_write(&spec, tokpath, out_c, err, sizeof err);
    is_int(rc, -2, "%s: existing folder refused", fam);
    ok(strstr(err, "already exists") != NULL, "%s: message says so: %s", fam, err);
    ok(!same_file(sp, sc), "%s: existing folder untouched", fam);
    is_int(hidden_entries(), 0, "%s: no temporary folder left after a refusal", fam);

    free(ca);
    free(cb);
    free(sb);
    free(sc);
    free(sp);
    free(out_b);
    free(out_c);
    free(wt);
    free(out);
    lm_tokenizer_free(tk);
}

/* tiny-bert's tokenizer with [MASK] renamed */
static char *tokenizer_without_mask(void)
{
    json_error_t je;
    json_t *root = json_load_file("testdata/models/tiny-bert/tokenizer.json", 0, &je);
    json_t *added = json_object_get(root, "added_tokens");
    size_t i;
    json_t *v;
    json_array_foreach(added, i, v)
    {
        const char *c = json_string_value(json_object_get(v, "content"));
        if (c && strcmp(c, "[MASK]") == 0)
            json_object_set_new(v, "content", json_string("[MASQUE]"));
    }
    json_t *vocab = json_object_get(json_object_get(root, "model"), "vocab");
    json_t *id = json_object_get(vocab, "[MASK]");
    if (id) {
        json_object_set(vocab, "[MASQUE]", id);
        json_object_del(vocab, "[MASK]");
    }
    char *p = path2(tmpdir, "nomask.json");
    json_dump_file(root, p, 0);
    json_decref(root);
    return p;
}

int main(void)
{
    ok(mkdtemp(tmpdir) != NULL, "temp dir");
    check_family(1, "testdata/models/tiny-bert/tokenizer.json");
    check_family(0, "testdata/models/tiny-xlmr/tokenizer.json");

    char err[512];
    lm_init_spec spec = {.family = LM_FAMILY_BERT, .layers = 1, .hidden = 8, .heads = 2, .seed = 1};
    char *out = path2(tmpdir, "refused");

    /* a missing special token */
    char *nomask = tokenizer_without_mask();
    int rc = lm_init_write(&spec, nomask, out, err, sizeof err);
    is_int(rc, -1, "tokenizer without [MASK] refused");
    ok(strstr(err, "[MASK]") != NULL, "the message names [MASK]: %s", err);
    ok(!exists(out), "nothing written");
    spec.family = LM_FAMILY_ROBERTA;
    rc = lm_init_write(&spec, "testdata/models/tiny-bert/tokenizer.json", out, err, sizeof err);
    is_int(rc, -1, "a BERT tokenizer for XLM-R refused");
    ok(strstr(err, "<pad>") != NULL && strstr(err, "XLM-RoBERTa"), "the message names <pad>: %s", err);
    ok(!exists(out), "nothing written");

    /* bad shapes */
    spec.family = LM_FAMILY_BERT;
    spec.heads = 3;
    rc = lm_init_write(&spec, "testdata/models/tiny-bert/tokenizer.json", out, err, sizeof err);
    is_int(rc, -2, "heads not dividing hidden refused");
    ok(strstr(err, "heads") != NULL, "message: %s", err);
    spec.heads = 2;
    spec.layers = 0;
    rc = lm_init_write(&spec, "testdata/models/tiny-bert/tokenizer.json", out, err, sizeof err);
    is_int(rc, -2, "0 layers refused");
    ok(!exists(out), "nothing written");

    /* an existing file and an empty folder are refused too */
    spec.layers = 1;
    mkdir(out, 0755);
    rc = lm_init_write(&spec, "testdata/models/tiny-bert/tokenizer.json", out, err, sizeof err);
    is_int(rc, -2, "existing empty folder refused");
    rmdir(out);
    char *file = path2(tmpdir, "a-file");
    FILE *f = fopen(file, "w");
    fputs("x\n", f);
    fclose(f);
    rc = lm_init_write(&spec, "testdata/models/tiny-bert/tokenizer.json", file, err, sizeof err);
    is_int(rc, -2, "existing file refused");
    ok(same_file(file, file) && exists(file), "file left alone");

    /* "DIR/" names DIR */
    char *slashed = path2(tmpdir, "slashed//");
    char *slashed_dir = path2(tmpdir, "slashed");
    rc = lm_init_write(&spec, "testdata/models/tiny-bert/tokenizer.json", slashed, err, sizeof err);
    is_int(rc, 0, "output with trailing slashes written");
    char *slashed_cfg = path2(slashed_dir, "config.json");
    ok(exists(slashed_cfg), "as the folder without them");
    free(slashed_cfg);
    free(slashed_dir);
    free(slashed);

    /* a folder in a missing parent */
    char *deep = path2(tmpdir, "no/such");
    rc = lm_init_write(&spec, "testdata/models/tiny-bert/tokenizer.json", deep, err, sizeof err);
    is_int(rc, -2, "missing parent folder refused");
    is_int(hidden_entries(), 0, "no temporary folder left after the refusals");

    free(deep);
    free(file);
    free(nomask);
    free(out);
    /* keep the folders for a look when LMKIT_KEEP is set (init_check.py) */
    if (!getenv("LMKIT_KEEP")) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            diag("could not remove %s", tmpdir);
    } else {
        diag("kept %s", tmpdir);
    }
    return tap_done();
}
