/* encoder_bench.c - helper of bench/encoder.sh: writes a random BERT-family
 * token classifier as a Hugging Face folder (config.json + model.safetensors,
 * through lib/nn's safetensors writer), and times lib/nn's CPU encoder
 * forward on it, on the CPU or (--device cuda, lib/nn/encoder_cuda.h) on a
 * GPU with fp32, bf16 or fp16 Linear weights.  Not a command: built by the
 * bench script against the build's liblmkit.a (and libkernels.a when the
 * build has CUDA).
 *
 *   encoder_bench gen DIR bert|xlmr HIDDEN LAYERS HEADS FFN VOCAB MAXPOS
 *   encoder_bench run DIR B T ITERS [LOGITS_OUT] [--device cpu|cuda] [--dtype f32|bf16|f16]
 *
 * On the GPU each timed forward includes the upload of the ids and the
 * download of the logits (it returns once they are on the host); the weights
 * are uploaded once, before the clock starts, and one full-size forward
 * warms cuBLAS up.
 * Weights: N(0, 0.02) from lm_rng seed 1 (LayerNorm weight 1, biases 0), as
 * transformers initialises them.  Token ids: the LCG shared with
 * encoder_ref.py (x = (x * 1103515245 + 12345) mod 2^31, id = 5 + x mod
 * (V - 5)), every sequence full length.  `run` prints one JSON line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/rng.h"
#include "nn/encoder.h"
#include "nn/encoder_cuda.h"
#include "nn/safetensors.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *msg)
{
    fprintf(stderr, "encoder_bench: %s\n", msg);
    exit(2);
}

typedef struct {
    char name[256];
    int ndim;
    int64_t shape[2];
    int init; /* 0 normal, 1 ones, 2 zeros */
} tdesc;

static int gen(int argc, char **argv)
{
    if (argc != 10)
        die("usage: gen DIR bert|xlmr HIDDEN LAYERS HEADS FFN VOCAB MAXPOS");
    const char *dir = argv[2];
    int bert = strcmp(argv[3], "bert") == 0;
    int C = atoi(argv[4]), L = atoi(argv[5]), H = atoi(argv[6]), F = atoi(argv[7]);
    int V = atoi(argv[8]), P = atoi(argv[9]);
    mkdir(dir, 0755);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *fp = fopen(path, "w");
    if (!fp)
        die("cannot write config.json");
    fprintf(fp,
            "{\"architectures\": [\"%s\"], \"model_type\": \"%s\", \"hidden_size\": %d,\n"
            " \"num_hidden_layers\": %d, \"num_attention_heads\": %d, \"intermediate_size\": %d,\n"
            " \"vocab_size\": %d, \"max_position_embeddings\": %d, \"type_vocab_size\": %d,\n"
            " \"pad_token_id\": %d, \"hidden_act\": \"gelu\", \"layer_norm_eps\": %s,\n"
            " \"position_embedding_type\": \"absolute\", \"torch_dtype\": \"float32\"}\n",
            bert ? "BertForTokenClassification" : "XLMRobertaForTokenClassification",
            bert ? "bert" : "xlm-roberta", C, L, H, F, V, P, bert ? 2 : 1, bert ? 0 : 1,
            bert ? "1e-12" : "1e-05");
    fclose(fp);
    const char *pre = bert ? "bert." : "roberta.";
    size_t n = 5 + 16 * (size_t)L + 2, k = 0;
    tdesc *d = calloc(n, sizeof *d);
#define T2(nm, a, b, in)                                                                       \
    (snprintf(d[k].name, sizeof d[k].name, "%s%s", pfx, nm), d[k].ndim = 2, d[k].shape[0] = a, \
     d[k].shape[1] = b, d[k++].init = in)
#define T1(nm, a, in)                                                                          \
    (snprintf(d[k].name, sizeof d[k].name, "%s%s", pfx, nm), d[k].ndim = 1, d[k].shape[0] = a, \
     d[k++].init = in)
    const char *pfx = pre;
    T2("embeddings.word_embeddings.weight", V, C, 0);
    T2("embeddings.position_embeddings.weight", P, C, 0);
    T2("embeddings.token_type_embeddings.weight", bert ? 2 : 1, C, 0);
    T1("embeddings.LayerNorm.weight", C, 1);
    T1("embeddings.LayerNorm.bias", C, 2);
    for (int l = 0; l < L; l++) {
        char p[64];
        snprintf(p, sizeof p, "%sencoder.layer.%d.", pre, l);
        pfx = p;
        const char *qkv[3] = {"query", "key", "value"};
        for (int j = 0; j < 3; j++) {
            char nm[96];
            snprintf(nm, sizeof nm, "attention.self.%s.weight", qkv[j]);
            T2(nm, C, C, 0);
            snprintf(nm, sizeof nm, "attention.self.%s.bias", qkv[j]);
            T1(nm, C, 2);
        }
        T2("attention.output.dense.weight", C, C, 0);
        T1("attention.output.dense.bias", C, 2);
        T1("attention.output.LayerNorm.weight", C, 1);
        T1("attention.output.LayerNorm.bias", C, 2);
        T2("intermediate.dense.weight", F, C, 0);
        T1("intermediate.dense.bias", F, 2);
        T2("output.dense.weight", C, F, 0);
        T1("output.dense.bias", C, 2);
        T1("output.LayerNorm.weight", C, 1);
        T1("output.LayerNorm.bias", C, 2);
    }
    pfx = "";
    T2("classifier.weight", 2, C, 0);
    T1("classifier.bias", 2, 2);
    lm_st_wtensor *w = calloc(n, sizeof *w);
    lm_rng r;
    lm_rng_init(&r, 1, 0);
    for (size_t i = 0; i < n; i++) {
        size_t numel = (size_t)d[i].shape[0] * (d[i].ndim == 2 ? (size_t)d[i].shape[1] : 1);
        float *x = malloc(numel * sizeof *x);
        if (!x)
            die("out of memory");
        for (size_t j = 0; j < numel; j++)
            x[j] = d[i].init == 0 ? (float)(0.02 * lm_rng_normal(&r)) : d[i].init == 1 ? 1.0f : 0.0f;
        w[i] = (lm_st_wtensor){d[i].name, LM_DT_F32, d[i].ndim, d[i].shape, x};
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    char err[512];
    if (lm_st_write(path, w, n, "{\"format\":\"pt\"}", err, sizeof err) != 0)
        die(err);
    for (size_t i = 0; i < n; i++)
        free((void *)w[i].data);
    free(w);
    free(d);
    return 0;
}

static int run(int argc, char **argv)
{
    const char *pos[8], *device = "cpu", *dtname = "f32";
    int np = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc)
            device = argv[++i];
        else if (strcmp(argv[i], "--dtype") == 0 && i + 1 < argc)
            dtname = argv[++i];
        else if (np < 8)
            pos[np++] = argv[i];
        else
            np = 9;
    }
    if (np != 4 && np != 5)
        die("usage: run DIR B T ITERS [LOGITS_OUT] [--device cpu|cuda] [--dtype f32|bf16|f16]");
    int cuda = strcmp(device, "cuda") == 0, dtype = lm_nn_dtype_parse(dtname);
    if (!cuda && strcmp(device, "cpu") != 0)
        die("--device: cpu or cuda");
    if (dtype < 0 || (!cuda && dtype != LM_NN_F32))
        die("--dtype: f32, bf16 or f16 (bf16 and f16 with --device cuda only)");
    int B = atoi(pos[1]), T = atoi(pos[2]), iters = atoi(pos[3]);
    if (B < 1 || T < 1 || iters < 1)
        die("B, T and ITERS must be at least 1");
    char err[512];
    double t0 = now();
    lm_encoder *m = lm_encoder_load(pos[0], err, sizeof err);
    if (!m)
        die(err);
    double tload = now() - t0;
    lm_encoder_state *s = NULL;
    lm_encoder_cuda *g = NULL;
    char gpu[320] = "";
    size_t wbytes = 0, abytes = 0;
    if (cuda) {
        t0 = now();
        g = lm_encoder_cuda_new(m, B, T, dtype, err, sizeof err);
        if (!g)
            die(err);
        lm_encoder_cuda_info(g, gpu, sizeof gpu, &wbytes, &abytes);
        tload += now() - t0;
    } else if (!(s = lm_encoder_state_new(m, B, T, err, sizeof err))) {
        die(err);
    }
    int V = m->cfg.vocab_size, NL = m->cfg.num_labels;
    int32_t *ids = malloc((size_t)B * T * sizeof *ids);
    float *logits = malloc((size_t)B * T * NL * sizeof *logits);
    unsigned long x = 1;
    for (size_t i = 0; i < (size_t)B * T; i++) {
        x = (x * 1103515245ul + 12345ul) % 2147483648ul;
        ids[i] = (int32_t)(5 + x % (unsigned long)(V - 5));
    }
    /* warm-up: on the CPU a short batch (faults in the mmap pages and the
     * BLAS buffers), on the GPU the full shape (cuBLAS picks its kernels) */
    int rc = cuda ? lm_encoder_cuda_forward(g, ids, NULL, B, T, logits, NULL, err, sizeof err)
                  : lm_encoder_forward(m, s, ids, NULL, 1, T < 16 ? T : 16, logits, NULL, err, sizeof err);
    if (rc)
        die(err);
    double best = 1e30, sum = 0;
    for (int it = 0; it < iters; it++) {
        double a = now();
        rc = cuda ? lm_encoder_cuda_forward(g, ids, NULL, B, T, logits, NULL, err, sizeof err)
                  : lm_encoder_forward(m, s, ids, NULL, B, T, logits, NULL, err, sizeof err);
        if (rc)
            die(err);
        double dt = now() - a;
        sum += dt;
        if (dt < best)
            best = dt;
    }
    if (np == 5) {
        FILE *fp = fopen(pos[4], "wb");
        if (!fp || fwrite(logits, sizeof *logits, (size_t)B * T * NL, fp) != (size_t)B * T * NL)
            die("cannot write logits");
        fclose(fp);
    }
    printf("{\"impl\":\"lmkit\",\"device\":\"%s\",\"dtype\":\"%s\",\"batch\":%d,\"seq\":%d,"
           "\"iters\":%d,\"load_s\":%.3f,\"time_s\":%.4f,\"best_s\":%.4f,\"tokens_per_s\":%.1f,"
           "\"params\":%zu",
           device, lm_nn_dtype_name(dtype), B, T, iters, tload, sum / iters, best,
           (double)B * T * iters / sum, m->n_params);
    if (cuda)
        printf(",\"gpu\":\"%s\",\"gpu_weight_mb\":%zu,\"gpu_act_mb\":%zu", gpu, wbytes >> 20, abytes >> 20);
    printf("}\n");
    free(ids);
    free(logits);
    lm_encoder_cuda_free(g);
    lm_encoder_state_free(s);
    lm_encoder_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "gen") == 0)
        return gen(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return run(argc, argv);
    die("usage: encoder_bench gen|run ...");
}
