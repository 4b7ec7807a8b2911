/* test_train_grad.c - the encoder backward of lib/nn/train.c: loss and the
 * gradient of every parameter against PyTorch autograd
 * (testdata/golden/grad, made by tests/golden/grad_golden.py), finite
 * differences with and without dropout, dropout determinism, training
 * scopes, and saving the parameter block.
 *
 * Error measure: |got - want| / max(|want|, 1e-3), so that <= 1e-4 means
 * "relative error <= 1e-4, or absolute error <= 1e-7 for tiny values".
 */
#include <jansson.h>
#include <omp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "nn/encoder.h"
#include "nn/train.h"
#include "tap.h"

#define TOL 1e-4

typedef struct {
    json_t *root;
    int B, T;
    int32_t *ids, *labels;
    uint8_t *mask;
} golden;

static int load_golden(golden *g, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "testdata/golden/grad/%s.json", name);
    json_error_t je;
    g->root = json_load_file(path, 0, &je);
    if (!g->root) {
        printf("# %s: %s\n", path, je.text);
        return -1;
    }
    g->B = (int)json_integer_value(json_object_get(g->root, "B"));
    g->T = (int)json_integer_value(json_object_get(g->root, "T"));
    size_t n = (size_t)g->B * g->T;
    g->ids = calloc(n, sizeof *g->ids);
    g->labels = calloc(n, sizeof *g->labels);
    g->mask = calloc(n, 1);
    const char *keys[3] = {"ids", "mask", "labels"};
    for (int k = 0; k < 3; k++) {
        json_t *a = json_object_get(g->root, keys[k]);
        for (int b = 0; b < g->B; b++)
            for (int t = 0; t < g->T; t++) {
                long long v = json_integer_value(json_array_get(json_array_get(a, (size_t)b), (size_t)t));
                size_t i = (size_t)b * g->T + t;
                if (k == 0)
                    g->ids[i] = (int32_t)v;
                else if (k == 1)
                    g->mask[i] = (uint8_t)v;
                else
                    g->labels[i] = (int32_t)v;
            }
    }
    return 0;
}

static void free_golden(golden *g)
{
    json_decref(g->root);
    free(g->ids);
    free(g->labels);
    free(g->mask);
}

static double relerr(double got, double want)
{
    return fabs(got - want) / fmax(fabs(want), 1e-3);
}

/* zero_grad, forward, loss, backward; returns the loss */
static double step(lm_train_model *m, lm_train_state *s, const golden *g, const lm_train_dropout *drop)
{
    char err[512];
    double loss = NAN;
    lm_train_zero_grad(m);
    if (lm_train_forward(m, s, g->ids, g->mask, g->B, g->T, drop, err, sizeof err) != 0 ||
        lm_train_ce_loss(m, s, g->labels, 1.0f, &loss, NULL, err, sizeof err) != 0) {
        printf("# %s\n", err);
        return NAN;
    }
    lm_train_backward(m, s, NULL, 0);
    return loss;
}

/* the loss only (for finite differences) */
static double loss_only(lm_train_model *m, lm_train_state *s, const golden *g, const lm_train_dropout *drop)
{
    char err[512];
    double loss = NAN;
    if (lm_train_forward(m, s, g->ids, g->mask, g->B, g->T, drop, err, sizeof err) != 0 ||
        lm_train_ce_loss(m, s, g->labels, 1.0f, &loss, NULL, err, sizeof err) != 0)
        printf("# %s\n", err);
    return loss;
}

static void against_torch(const char *name, lm_train_model *m, lm_train_state *s, const golden *g)
{
    double loss = step(m, s, g, NULL);
    double want = json_real_value(json_object_get(g->root, "loss"));
    is_near(loss, want, 1e-5 * want, "%s: loss %.8f equals torch's %.8f", name, loss, want);
    json_t *params = json_object_get(g->root, "params");
    is_int(json_array_size(params), m->nparams, "%s: torch has as many parameter tensors as the table", name);
    double maxe = 0, maxn = 0;
    const char *worst = "";
    int bad = 0, missing = 0, entries = 0;
    for (size_t i = 0; i < json_array_size(params); i++) {
        json_t *pj = json_array_get(params, i);
        const char *pname = json_string_value(json_object_get(pj, "name"));
        const lm_train_param *p = lm_train_param_find(m, pname);
        if (!p) {
            printf("# %s: no table row for %s\n", name, pname);
            missing++;
            continue;
        }
        const float *gr = m->grads_mem + p->offset;
        double n2 = 0;
        for (size_t j = 0; j < p->numel; j++)
            n2 += (double)gr[j] * gr[j];
        double en = relerr(sqrt(n2), json_real_value(json_object_get(pj, "norm")));
        maxn = fmax(maxn, en);
        if (en > TOL) {
            printf("# %s: %s: norm %.9g, torch %.9g\n", name, pname, sqrt(n2),
                   json_real_value(json_object_get(pj, "norm")));
            bad++;
        }
        json_t *idx = json_object_get(pj, "idx"), *val = json_object_get(pj, "grad");
        for (size_t j = 0; j < json_array_size(idx); j++) {
            size_t k = (size_t)json_integer_value(json_array_get(idx, j));
            double w = json_real_value(json_array_get(val, j)), e = relerr(gr[k], w);
            entries++;
            if (e > maxe) {
                maxe = e;
                worst = pname;
            }
            if (e > TOL) {
                printf("# %s: %s[%zu] = %.9g, torch %.9g\n", name, pname, k, gr[k], w);
                bad++;
            }
        }
    }
    ok(missing == 0, "%s: every torch parameter has a table row", name);
    ok(bad == 0, "%s: gradient norms and %d sampled entries of %zu tensors within %g of torch", name, entries,
       json_array_size(params), TOL);
    printf("# %s: max relative error: entries %.3g (%s), norms %.3g\n", name, maxe, worst, maxn);
}

/* central differences on the entries of a few tensors with the largest
 * sampled torch gradient */
static void finite_diff(const char *name, lm_train_model *m, lm_train_state *s, const golden *g,
                        const lm_train_dropout *drop)
{
    step(m, s, g, drop);
    float *grad = malloc(m->num_params * sizeof *grad);
    memcpy(grad, m->grads_mem, m->num_params * sizeof *grad);
    const char *suffixes[] = {"embeddings.word_embeddings.weight",
                              "embeddings.LayerNorm.weight",
                              "encoder.layer.0.attention.self.query.weight",
                              "encoder.layer.0.attention.self.key.bias",
                              "encoder.layer.1.intermediate.dense.weight",
                              "encoder.layer.1.output.LayerNorm.bias",
                              "classifier.weight"};
    int checked = 0, bad = 0;
    double maxe = 0;
    for (size_t si = 0; si < sizeof suffixes / sizeof suffixes[0]; si++) {
        const lm_train_param *p = NULL;
        for (int i = 0; i < m->nparams && !p; i++) {
            size_t nl = strlen(m->params[i].name), sl = strlen(suffixes[si]);
            if (nl >= sl && strcmp(m->params[i].name + nl - sl, suffixes[si]) == 0)
                p = &m->params[i];
        }
        if (!p)
            continue;
        /* the two largest gradient entries of the tensor */
        size_t best[2] = {0, 0};
        for (size_t j = 0; j < p->numel; j++) {
            float a = fabsf(grad[p->offset + j]);
            if (a > fabsf(grad[p->offset + best[0]])) {
                best[1] = best[0];
                best[0] = j;
            } else if (j != best[0] && a > fabsf(grad[p->offset + best[1]])) {
                best[1] = j;
            }
        }
        for (int b = 0; b < 2; b++) {
            float *w = m->params_mem + p->offset + best[b], w0 = *w;
            const float h = 1e-3f;
            *w = w0 + h;
            double lp = loss_only(m, s, g, drop);
            *w = w0 - h;
            double lm = loss_only(m, s, g, drop);
            *w = w0;
            double fd = (lp - lm) / (2.0 * h), an = grad[p->offset + best[b]];
            double e = fabs(fd - an) / fmax(fabs(an), 1e-2);
            maxe = fmax(maxe, e);
            checked++;
            if (e > 2e-2) {
                printf("# %s: %s[%zu]: analytic %.7g, finite difference %.7g\n", name, p->name, best[b], an,
                       fd);
                bad++;
            }
        }
    }
    ok(checked >= 12 && bad == 0, "%s: %d entries match central differences (%s; max relative error %.2g)",
       name, checked, drop ? "dropout on" : "dropout off", maxe);
    free(grad);
}

static void dropout_checks(const char *name, lm_train_model *m, lm_train_state *s, const golden *g)
{
    size_t bytes = m->num_params * sizeof(float);
    float *g0 = malloc(bytes), *g1 = malloc(bytes);
    double base = step(m, s, g, NULL);
    memcpy(g0, m->grads_mem, bytes);
    lm_train_dropout zero = {0, 0, 0, 7, 3};
    double lz = step(m, s, g, &zero);
    ok(lz == base && memcmp(g0, m->grads_mem, bytes) == 0,
       "%s: dropout with rates 0 gives the loss and gradients of no dropout", name);
    lm_train_dropout d = lm_train_dropout_from_config(m, 7, 3);
    ok(d.hidden > 0 && d.attention > 0 && d.classifier > 0, "%s: rates from config.json (%g %g %g)", name,
       d.hidden, d.attention, d.classifier);
    double l1 = step(m, s, g, &d);
    memcpy(g1, m->grads_mem, bytes);
    double l2 = step(m, s, g, &d);
    ok(l1 == l2 && memcmp(g1, m->grads_mem, bytes) == 0,
       "%s: dropout with a fixed seed and step is deterministic (loss %.6f)", name, l1);
    ok(l1 != base && memcmp(g0, g1, bytes) != 0, "%s: dropout changes the loss (%.6f vs %.6f)", name, l1,
       base);
    lm_train_dropout d2 = lm_train_dropout_from_config(m, 7, 4), d3 = lm_train_dropout_from_config(m, 8, 3);
    double l3 = step(m, s, g, &d2), l4 = step(m, s, g, &d3);
    ok(l3 != l1 && l4 != l1 && l3 != l4, "%s: another step or seed gives other masks", name);
    /* the share of zeros in the classifier input is about the rate */
    step(m, s, g, &d);
    size_t n = (size_t)g->B * g->T * m->cfg.hidden_size, zeros = 0;
    for (size_t i = 0; i < n; i++)
        zeros += s->xc[i] == 0.0f;
    double frac = (double)zeros / n;
    ok(fabs(frac - d.classifier) < 0.05, "%s: %.3f of the classifier inputs dropped (rate %g)", name, frac,
       d.classifier);
    /* one thread or several: the same bits */
    int nt = omp_get_max_threads();
    omp_set_num_threads(nt > 1 ? 1 : 2);
    char err[256];
    lm_train_state *s1 = lm_train_state_new(m, g->B, g->T, err, sizeof err);
    double l5 = step(m, s1, g, &d);
    ok(l5 == l1 && memcmp(g1, m->grads_mem, bytes) == 0, "%s: the same with %d thread(s)", name,
       omp_get_max_threads());
    lm_train_state_free(s1);
    omp_set_num_threads(nt);
    free(g0);
    free(g1);
}

static void scope_checks(const char *name, lm_train_model *m, lm_train_state *s, const golden *g)
{
    char err[256];
    size_t bytes = m->num_params * sizeof(float);
    float *full = malloc(bytes);
    lm_train_set_scope(m, "all", err, sizeof err);
    step(m, s, g, NULL);
    memcpy(full, m->grads_mem, bytes);
    const char *scopes[] = {"encoder", "top:1", "top:2", "head"};
    int firsts[] = {0, 1, 0, 2};
    for (int k = 0; k < 4; k++) {
        is_int(lm_train_set_scope(m, scopes[k], err, sizeof err), 0, "%s: scope %s accepted", name,
               scopes[k]);
        /* stale values in the frozen part must stay as they are */
        for (size_t i = 0; i < m->num_params; i++)
            m->grads_mem[i] = 0;
        lm_train_forward(m, s, g->ids, g->mask, g->B, g->T, NULL, err, sizeof err);
        double loss;
        lm_train_ce_loss(m, s, g->labels, 1.0f, &loss, NULL, err, sizeof err);
        lm_train_backward(m, s, NULL, 0);
        int bad = 0, ntrained = 0;
        for (int i = 0; i < m->nparams; i++) {
            const lm_train_param *p = &m->params[i];
            int want = p->layer >= firsts[k];
            ntrained += p->trained;
            if (p->trained != want)
                bad++;
            const float *gr = m->grads_mem + p->offset;
            if (p->trained) {
                if (memcmp(gr, full + p->offset, p->numel * sizeof(float)) != 0)
                    bad++;
            } else {
                for (size_t j = 0; j < p->numel; j++)
                    if (gr[j] != 0.0f) {
                        bad++;
                        break;
                    }
            }
        }
        ok(bad == 0, "%s: scope %s: %d trained tensors equal the full gradient, the frozen ones stay 0", name,
           scopes[k], ntrained);
    }
    const char *badscopes[] = {"top:0", "top:3", "top:", "top:1x", "embeddings", ""};
    for (int k = 0; k < 6; k++) {
        err[0] = 0;
        ok(lm_train_set_scope(m, badscopes[k], err, sizeof err) == -1 && strstr(err, "scope"),
           "%s: scope '%s' rejected: %s", name, badscopes[k], err);
    }
    lm_train_set_scope(m, "all", err, sizeof err);
    free(full);
}

static void save_checks(const char *name, lm_train_model *m, lm_train_state *s, const golden *g)
{
    char err[512] = "", dir[64], path[128], cfg[160], src[160];
    snprintf(dir, sizeof dir, "/tmp/lmkit-train-XXXXXX");
    if (!mkdtemp(dir)) {
        ok(0, "mkdtemp");
        return;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(src, sizeof src, "testdata/models/%s/config.json", name);
    /* a changed weight survives the round trip */
    m->params_mem[m->params[1].offset + 5] += 0.25f;
    is_int(lm_train_model_save(m, path, NULL, err, sizeof err), 0, "%s: parameters saved %s", name, err);
    FILE *in = fopen(src, "rb"), *out = fopen(cfg, "wb");
    char buf[4096];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    lm_train_model *m2 = lm_train_model_load(dir, err, sizeof err);
    ok(m2 && m2->num_params == m->num_params &&
           memcmp(m2->params_mem, m->params_mem, m->num_params * sizeof(float)) == 0,
       "%s: the saved folder loads back bit for bit %s", name, m2 ? "" : err);
    /* the inference encoder reads it and agrees with the training forward */
    lm_encoder *enc = lm_encoder_load(dir, err, sizeof err);
    lm_encoder_state *es = enc ? lm_encoder_state_new(enc, g->B, g->T, err, sizeof err) : NULL;
    size_t nl = (size_t)g->B * g->T * m->cfg.num_labels;
    float *logits = malloc(nl * sizeof *logits);
    double maxd = 1;
    if (es && lm_encoder_forward(enc, es, g->ids, g->mask, g->B, g->T, logits, NULL, err, sizeof err) == 0 &&
        lm_train_forward(m, s, g->ids, g->mask, g->B, g->T, NULL, err, sizeof err) == 0) {
        maxd = 0;
        for (size_t i = 0; i < nl; i++)
            maxd = fmax(maxd, fabs(logits[i] - s->logits[i]));
    }
    ok(maxd < 1e-4, "%s: lm_encoder_forward on the saved folder gives the training forward's logits (%.2g)",
       name, maxd);
    m->params_mem[m->params[1].offset + 5] -= 0.25f;
    free(logits);
    lm_encoder_state_free(es);
    lm_encoder_free(enc);
    lm_train_model_free(m2);
    unlink(path);
    unlink(cfg);
    rmdir(dir);
}

/* a batch large enough for the threaded loops (8 x 128 tokens, padded):
 * one thread and several give the same bits, with dropout on */
static void threads_check(const char *name, lm_train_model *m)
{
    enum { B = 8, T = 120 };
    static int32_t ids[B * T], labels[B * T];
    static uint8_t mask[B * T];
    lm_rng r;
    lm_rng_init(&r, 5, 0);
    for (int b = 0; b < B; b++) {
        int n = T - 13 * b;
        for (int t = 0; t < T; t++) {
            int i = b * T + t;
            ids[i] =
                t < n ? 5 + (int32_t)lm_rng_below(&r, (uint64_t)m->cfg.vocab_size - 5) : m->cfg.pad_token_id;
            if (t < n && ids[i] == m->cfg.pad_token_id)
                ids[i]++;
            mask[i] = t < n;
            labels[i] = t < n ? (int32_t)lm_rng_below(&r, 2) : -100;
        }
    }
    golden g = {NULL, B, T, ids, labels, mask};
    char err[256];
    size_t bytes = m->num_params * sizeof(float);
    float *g1 = malloc(bytes);
    lm_train_dropout d = lm_train_dropout_from_config(m, 3, 9);
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    lm_train_state *s = lm_train_state_new(m, B, T, err, sizeof err);
    double l1 = step(m, s, &g, &d);
    memcpy(g1, m->grads_mem, bytes);
    lm_train_state_free(s);
    omp_set_num_threads(nt > 1 ? nt : 2);
    s = lm_train_state_new(m, B, T, err, sizeof err);
    double l2 = step(m, s, &g, &d);
    for (int i = 0; i < m->nparams; i++)
        if (memcmp(g1 + m->params[i].offset, m->grads_mem + m->params[i].offset,
                   m->params[i].numel * sizeof(float)))
            printf("# gradient of %s differs\n", m->params[i].name);
    ok(l1 == l2 && memcmp(g1, m->grads_mem, bytes) == 0,
       "%s: %d x %d tokens: 1 thread and %d threads give the same loss and gradients", name, B, T,
       omp_get_max_threads());
    lm_train_state_free(s);
    omp_set_num_threads(nt);
    free(g1);
}

static void family(const char *name)
{
    char dir[128], err[512];
    snprintf(dir, sizeof dir, "testdata/models/%s", name);
    lm_train_model *m = lm_train_model_load(dir, err, sizeof err);
    golden g;
    if (!m || load_golden(&g, name) != 0) {
        ok(0, "%s: model and golden load: %s", name, m ? "" : err);
        lm_train_model_free(m);
        return;
    }
    lm_train_state *s = lm_train_state_new(m, g.B, g.T, err, sizeof err);
    against_torch(name, m, s, &g);
    finite_diff(name, m, s, &g, NULL);
    lm_train_dropout d = lm_train_dropout_from_config(m, 11, 1);
    finite_diff(name, m, s, &g, &d);
    dropout_checks(name, m, s, &g);
    scope_checks(name, m, s, &g);
    save_checks(name, m, s, &g);
    threads_check(name, m);
    /* errors */
    int32_t bad = g.labels[3];
    g.labels[3] = 2;
    double loss;
    lm_train_forward(m, s, g.ids, g.mask, g.B, g.T, NULL, err, sizeof err);
    ok(lm_train_ce_loss(m, s, g.labels, 1.0f, &loss, NULL, err, sizeof err) == -1 && strstr(err, "[0][3]"),
       "%s: a label outside the classes is refused: %s", name, err);
    g.labels[3] = bad;
    ok(lm_train_forward(m, s, g.ids, g.mask, g.B + 1, g.T, NULL, err, sizeof err) == -1,
       "%s: a batch over the state's size is refused: %s", name, err);
    ok(!lm_train_state_new(m, 1, m->cfg.max_position + 1, err, sizeof err),
       "%s: a state longer than the positions is refused: %s", name, err);
    lm_train_state_free(s);
    lm_train_model_free(m);
    free_golden(&g);
}

static void config_rates(void)
{
    lm_hf_config c;
    char err[256] = "";
    const char *ok1 = "{\"architectures\":[\"BertForTokenClassification\"],\"hidden_dropout_prob\":0.2,"
                      "\"attention_probs_dropout_prob\":0,\"classifier_dropout\":0.3}";
    ok(lm_hf_config_parse(&c, ok1, strlen(ok1), "c", err, sizeof err) == 0 && c.hidden_dropout == 0.2f &&
           c.attention_dropout == 0.0f && c.classifier_dropout == 0.3f,
       "config.json dropout rates read %s", err);
    lm_hf_config_free(&c);
    const char *ok2 = "{\"architectures\":[\"BertForTokenClassification\"],\"hidden_dropout_prob\":0.25}";
    ok(lm_hf_config_parse(&c, ok2, strlen(ok2), "c", err, sizeof err) == 0 && c.classifier_dropout == 0.25f &&
           c.attention_dropout == 0.1f,
       "classifier_dropout absent: the hidden rate; attention absent: 0.1");
    lm_hf_config_free(&c);
    const char *bad = "{\"architectures\":[\"BertForTokenClassification\"],\"hidden_dropout_prob\":1}";
    ok(lm_hf_config_parse(&c, bad, strlen(bad), "c", err, sizeof err) == -1 &&
           strstr(err, "hidden_dropout_prob"),
       "a dropout rate of 1 is refused: %s", err);
}

int main(void)
{
    config_rates();
    family("tiny-bert");
    family("tiny-xlmr");
    /* a bare encoder has no head to train */
    char err[256];
    lm_encoder *enc = lm_encoder_load("testdata/models/tiny-bert", err, sizeof err);
    if (enc) {
        enc->cfg.token_classification = 0;
        lm_train_model *m = lm_train_model_from_encoder(enc, err, sizeof err);
        ok(!m && strstr(err, "classification head"), "a bare encoder is refused: %s", err);
        lm_train_model_free(m);
        enc->cfg.token_classification = 1;
        lm_encoder_free(enc);
    }
    return tap_done();
}
