/* test_taco_sup.c - taco-train's training loop (lib/taco/sup.h): the
 * metrics of hand counts, the choice of the best epoch, a short run of the
 * tiny BERT whose held-out loss falls, the seeded epoch order, a checkpoint
 * that a new trainer resumes from bit-identically, the checkpoints it
 * refuses, the final folder, and the files copied from a model folder.
 * Needs testdata/models/tiny-bert; writes under /tmp (removed). */
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "taco/data.h"
#include "taco/sup.h"
#include "tap.h"

#define MODEL "testdata/models/tiny-bert"

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *path_of(const char *dir, const char *name)
{
    static char p[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static void put(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(s, f);
    fclose(f);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)len + 1);
    if (fread(s, 1, (size_t)len, f) != (size_t)len)
        abort();
    s[len] = 0;
    fclose(f);
    *n = (size_t)len;
    return s;
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int r = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return r;
}

/* ---- metrics ---- */

static void t_metrics(void)
{
    lm_taco_metrics m;
    lm_taco_counts c = {.loss_sum = 5, .n = 10, .tp = 3, .fp = 1, .fn = 2, .tn = 4};
    lm_taco_metrics_of(&c, &m);
    is_near(m.accuracy, 0.7, 1e-15, "accuracy (tp + tn) / n");
    is_near(m.precision, 0.75, 1e-15, "precision tp / (tp + fp)");
    is_near(m.recall, 0.6, 1e-15, "recall tp / (tp + fn)");
    is_near(m.f1, 2 * 0.75 * 0.6 / 1.35, 1e-15, "f1 the harmonic mean");
    is_near(m.loss, 0.5, 1e-15, "loss the mean per token");

    c = (lm_taco_counts){0};
    memset(&m, 0xff, sizeof m);
    lm_taco_metrics_of(&c, &m);
    ok(m.accuracy == 0 && m.precision == 0 && m.recall == 0 && m.f1 == 0 && m.loss == 0,
       "no tokens: every metric 0, no NaN");

    c = (lm_taco_counts){.loss_sum = 2, .n = 4, .tn = 4};
    lm_taco_metrics_of(&c, &m);
    ok(m.accuracy == 1 && m.precision == 0 && m.recall == 0 && m.f1 == 0 && m.loss == 0.5,
       "only drop tokens, all right: precision, recall and f1 0");

    c = (lm_taco_counts){.n = 3, .fn = 3};
    lm_taco_metrics_of(&c, &m);
    ok(m.accuracy == 0 && m.precision == 0 && m.recall == 0 && m.f1 == 0, "nothing predicted kept: all 0");

    c = (lm_taco_counts){.n = 5, .tp = 5};
    lm_taco_metrics_of(&c, &m);
    ok(m.accuracy == 1 && m.precision == 1 && m.recall == 1 && m.f1 == 1, "all kept and right: all 1");

    c = (lm_taco_counts){.n = 2, .fp = 2};
    lm_taco_metrics_of(&c, &m);
    ok(m.accuracy == 0 && m.precision == 0 && m.recall == 0 && m.f1 == 0, "only false keeps: all 0");
}

/* ---- data ---- */

static const char *const VOCAB[] = {"the",  "on",   "a",    "of",   "in",    "and", "to",   "mat",
                                    "film", "city", "song", "year", "first", "man", "time", "play"};

/* nrec records of 3 to 12 words from VOCAB, kept when the word is a noun
 * (index >= 7): learnable from the token alone */
static void make_data(const lm_taco_text *t, lm_taco_windows *d, int nrec, uint64_t seed)
{
    uint64_t s = seed;
    lm_taco_words w = {0};
    char err[256];
    for (int r = 0; r < nrec; r++) {
        lm_taco_words_free(&w);
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = 3 + (size_t)(s >> 33) % 10;
        w.w = calloc(n, sizeof *w.w);
        w.label = calloc(n, 1);
        w.n = w.cap = n;
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t k = (size_t)(s >> 33) % (sizeof VOCAB / sizeof *VOCAB);
            w.w[i][0] = w.text.n;
            lm_buf_adds(&w.text, VOCAB[k]);
            w.w[i][1] = w.text.n;
            w.label[i] = k >= 7;
        }
        if (lm_taco_windows_add(d, t, &w, (uint64_t)r, err, sizeof err) != 0)
            abort();
    }
    lm_taco_words_free(&w);
}

static lm_taco_sup *trainer(const char *dir, const lm_taco_sup_opts *o, const lm_taco_windows *d,
                            const size_t *idx, size_t n, const lm_taco_text *t)
{
    char err[256];
    lm_train_model *m = lm_train_model_load(dir, err, sizeof err);
    if (!m) {
        diag("%s", err);
        return NULL;
    }
    lm_taco_sup *s = lm_taco_sup_new(m, o, d, idx, n, t->pad, (int)t->max_len, err, sizeof err);
    if (!s)
        diag("%s", err);
    return s;
}

static void opts(lm_taco_sup_opts *o)
{
    lm_taco_sup_opts_default(o);
    o->epochs = 3;
    o->batch = 3;
    o->accum = 2;
    o->lr = 3e-3;
    o->max_grad_norm = 1;
    o->seed = 42;
}

static int steps(lm_taco_sup *t, int n)
{
    char err[256];
    lm_taco_step_info si;
    for (int i = 0; i < n; i++)
        if (lm_taco_sup_step(t, &si, err, sizeof err) != 0) {
            diag("step: %s", err);
            return -1;
        }
    return 0;
}

/* ---- the trainer ---- */

static void t_new(const lm_taco_text *t, const lm_taco_windows *d, const size_t *idx, size_t n)
{
    lm_taco_sup_opts o;
    opts(&o);
    char err[256];
    lm_train_model *m = lm_train_model_load(MODEL, err, sizeof err);
    ok(lm_taco_sup_new(m, &o, d, idx, 0, t->pad, (int)t->max_len, err, sizeof err) == NULL &&
           strcmp(err, "no training windows") == 0,
       "no windows: refused");
    o.accum = 0;
    ok(lm_taco_sup_new(m, &o, d, idx, n, t->pad, (int)t->max_len, err, sizeof err) == NULL &&
           strstr(err, "at least 1"),
       "accumulation 0: refused");
    opts(&o);
    snprintf(o.scope, sizeof o.scope, "top:9");
    ok(lm_taco_sup_new(m, &o, d, idx, n, t->pad, (int)t->max_len, err, sizeof err) == NULL && err[0],
       "a scope past the layers: refused with a message");
    lm_train_model_free(m);

    opts(&o);
    lm_taco_sup *s = trainer(MODEL, &o, d, idx, n, t);
    /* n windows in batches of 3, 2 batches a step */
    int64_t nb = (int64_t)(n + 2) / 3;
    ok(s && s->batches_per_epoch == nb && s->steps_per_epoch == (nb + 1) / 2 &&
           s->total_steps == 3 * ((nb + 1) / 2),
       "batches and steps per epoch");
    int64_t k = 0;
    lm_taco_step_info si;
    int ends = 0, bad = 0;
    while (s && !lm_taco_sup_done(s)) {
        if (lm_taco_sup_step(s, &si, err, sizeof err) != 0)
            break;
        k++;
        bad += si.step != k || si.epoch != 1 + (int)((k - 1) / s->steps_per_epoch) || si.tokens == 0 ||
               !(si.loss > 0) || fabs(si.lr - o.lr) > 1e-12 * o.lr;
        ends += si.epoch_end;
    }
    ok(s && k == s->total_steps && ends == 3 && bad == 0, "every step numbered, epochs ended 3 times");
    ok(s && lm_taco_sup_step(s, &si, err, sizeof err) == -1 && strcmp(err, "training is complete") == 0,
       "a step after the last: refused");
    lm_taco_sup_free(s);
}

static void t_best(const lm_taco_text *t, const lm_taco_windows *d, const size_t *idx, size_t n)
{
    lm_taco_sup_opts o;
    opts(&o);
    lm_taco_sup *s = trainer(MODEL, &o, d, idx, n, t);
    if (!ok(s != NULL, "a trainer for the best epoch"))
        return;
    size_t np = s->m->num_params;
    float *w1 = malloc(np * sizeof *w1);
    lm_taco_metrics a = {.accuracy = 0.5, .f1 = 0.5, .loss = 1};
    ok(lm_taco_sup_offer_best(s, 1, &a) == 1 && s->has_best && s->best_epoch == 1,
       "accuracy: the first epoch is taken");
    memcpy(w1, s->m->params_mem, np * sizeof *w1);
    ok(s->best && memcmp(s->best, w1, np * sizeof *w1) == 0, "the best weights are a copy of the current");
    steps(s, 1);
    ok(memcmp(s->m->params_mem, w1, np * sizeof *w1) != 0 && memcmp(s->best, w1, np * sizeof *w1) == 0,
       "a step leaves the best weights alone");
    ok(lm_taco_sup_offer_best(s, 2, &a) == 0 && s->best_epoch == 1 &&
           memcmp(s->best, w1, np * sizeof *w1) == 0,
       "a tie keeps the earlier epoch");
    lm_taco_metrics b = {.accuracy = 0.4, .f1 = 0.9, .loss = 0.1};
    ok(lm_taco_sup_offer_best(s, 3, &b) == 0 && s->best_epoch == 1,
       "accuracy: a lower accuracy is not taken");
    lm_taco_metrics c = {.accuracy = 0.6, .f1 = 0, .loss = 9};
    ok(lm_taco_sup_offer_best(s, 4, &c) == 1 && s->best_epoch == 4 && s->best_score == 0.6 &&
           memcmp(s->best, s->m->params_mem, np * sizeof *w1) == 0,
       "accuracy: a higher one is taken, with the current weights");

    s->has_best = 0;
    s->o.best_by = LM_TACO_BEST_LOSS;
    lm_taco_metrics l1 = {.accuracy = 0.9, .loss = 0.7}, l2 = {.accuracy = 0.1, .loss = 0.5},
                    l3 = {.accuracy = 1, .loss = 0.6}, l4 = {.loss = 0.5};
    ok(lm_taco_sup_offer_best(s, 1, &l1) == 1 && lm_taco_sup_offer_best(s, 2, &l2) == 1 &&
           lm_taco_sup_offer_best(s, 3, &l3) == 0 && lm_taco_sup_offer_best(s, 4, &l4) == 0 &&
           s->best_epoch == 2,
       "loss: the lowest loss, the earlier of a tie");

    s->has_best = 0;
    s->o.best_by = LM_TACO_BEST_F1;
    lm_taco_metrics f1 = {.accuracy = 0.9, .f1 = 0.3}, f2 = {.accuracy = 0.1, .f1 = 0.4};
    ok(lm_taco_sup_offer_best(s, 1, &f1) == 1 && lm_taco_sup_offer_best(s, 2, &f2) == 1 &&
           lm_taco_sup_offer_best(s, 3, &f1) == 0 && s->best_epoch == 2,
       "f1: the highest f1 whatever the accuracy");
    free(w1);
    lm_taco_sup_free(s);
}

static void t_learns(const lm_taco_text *t, const lm_taco_windows *d, const size_t *idx, size_t n,
                     const size_t *eidx, size_t ne)
{
    lm_taco_sup_opts o;
    opts(&o);
    o.epochs = 6;
    o.dropout = 0;
    lm_taco_sup *s = trainer(MODEL, &o, d, idx, n, t);
    if (!ok(s != NULL, "a trainer for a short run"))
        return;
    char err[256];
    lm_taco_counts c0, c1;
    lm_taco_metrics m0, m1;
    ok(lm_taco_sup_evaluate(s, d, eidx, ne, &c0, err, sizeof err) == 0, "evaluation before training");
    lm_taco_metrics_of(&c0, &m0);
    size_t want = 0;
    for (size_t i = 0; i < ne; i++)
        for (size_t k = d->off[eidx[i]]; k < d->off[eidx[i] + 1]; k++)
            want += d->labels[k] != -100;
    ok(c0.n == want && c0.tp + c0.fp + c0.fn + c0.tn == c0.n, "evaluation counts every labelled token once");
    double first = 0, last = 0;
    lm_taco_step_info si;
    while (!lm_taco_sup_done(s)) {
        if (lm_taco_sup_step(s, &si, err, sizeof err) != 0)
            break;
        if (si.epoch_end && si.epoch == 1)
            first = lm_taco_sup_epoch_loss(s);
        if (si.epoch_end)
            last = lm_taco_sup_epoch_loss(s);
    }
    ok(lm_taco_sup_done(s), "the run ends");
    ok(last < 0.8 * first, "the training loss falls (epoch 1 %.4f, epoch 6 %.4f)", first, last);
    ok(lm_taco_sup_evaluate(s, d, eidx, ne, &c1, err, sizeof err) == 0, "evaluation after training");
    lm_taco_metrics_of(&c1, &m1);
    ok(m1.loss < 0.7 * m0.loss && m1.accuracy > m0.accuracy,
       "held-out loss falls (%.4f -> %.4f), accuracy rises (%.3f -> %.3f)", m0.loss, m1.loss, m0.accuracy,
       m1.accuracy);
    lm_taco_sup_free(s);
}

static int is_perm(const size_t *a, const size_t *idx, size_t n)
{
    int ok_ = 1;
    size_t *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    memcpy(x, a, n * sizeof *x);
    memcpy(y, idx, n * sizeof *y);
    for (size_t i = 0; i < n && ok_; i++) {
        size_t j = i;
        while (j < n && y[j] != x[i])
            j++;
        if (j == n)
            ok_ = 0;
        else
            y[j] = y[i], y[i] = x[i];
    }
    free(x);
    free(y);
    return ok_;
}

static void t_order(const lm_taco_text *t, const lm_taco_windows *d, const size_t *idx, size_t n)
{
    lm_taco_sup_opts o;
    opts(&o);
    o.epochs = 2;
    o.lr = 1e-6;
    lm_taco_sup *a = trainer(MODEL, &o, d, idx, n, t), *b = trainer(MODEL, &o, d, idx, n, t);
    o.seed = 43;
    lm_taco_sup *c = trainer(MODEL, &o, d, idx, n, t);
    if (!ok(a && b && c, "three trainers"))
        return;
    size_t *e0 = malloc(n * sizeof *e0), *e1 = malloc(n * sizeof *e1);
    steps(a, 1);
    memcpy(e0, a->order, n * sizeof *e0);
    steps(a, (int)a->steps_per_epoch);
    memcpy(e1, a->order, n * sizeof *e1);
    ok(is_perm(e0, idx, n) && is_perm(e1, idx, n), "each epoch's order is a permutation of the windows");
    ok(memcmp(e0, idx, n * sizeof *e0) != 0 && memcmp(e0, e1, n * sizeof *e0) != 0,
       "shuffled, and differently in epoch 2");
    steps(c, 1);
    ok(memcmp(c->order, e0, n * sizeof *e0) != 0, "another seed, another order");
    /* epoch 2 first, on a fresh trainer of the same seed: the order is a function of (seed, epoch) */
    b->epoch = 1;
    steps(b, 1);
    ok(memcmp(b->order, e1, n * sizeof *e1) == 0, "the same seed and epoch give the same order");
    b->epoch = 0;
    b->next_batch = 0;
    steps(b, 1);
    ok(memcmp(b->order, e0, n * sizeof *e0) == 0, "whatever ran before");
    free(e0);
    free(e1);
    lm_taco_sup_free(a);
    lm_taco_sup_free(b);
    lm_taco_sup_free(c);
}

/* ---- files ---- */

static json_t *state_of(const char *dir)
{
    return json_load_file(path_of(dir, "trainer_state.json"), 0, NULL);
}

static void state_set(const char *dir, const char *key, json_t *v)
{
    json_t *o = state_of(dir);
    json_object_set_new(o, key, v);
    json_dump_file(o, path_of(dir, "trainer_state.json"), 0);
    json_decref(o);
}

static void t_resume(const char *tmp, const lm_taco_text *t, const lm_taco_windows *d, const size_t *idx,
                     size_t n)
{
    lm_taco_sup_opts o;
    opts(&o); /* dropout on: the masks must resume too */
    o.epochs = 3;
    o.sched = LM_SCHED_LINEAR;
    o.warmup = 2;
    o.weight_decay = 0.01;
    char err[512], ck[512];
    snprintf(ck, sizeof ck, "%s/ckpt", tmp);
    const char *run = "{\"data\":\"x\",\"lr\":0.003}";
    lm_taco_sup *a = trainer(MODEL, &o, d, idx, n, t);
    if (!ok(a != NULL, "a trainer to interrupt"))
        return;
    size_t np = a->m->num_params;
    /* mid-epoch 1 after an epoch with a best */
    int k1 = (int)a->steps_per_epoch + 1;
    steps(a, k1);
    lm_taco_metrics mt = {.accuracy = 0.5};
    lm_taco_sup_offer_best(a, 1, &mt);
    steps(a, 1);
    ok(a->next_batch > 0 && a->epoch == 1, "interrupted in the middle of epoch 2");
    ok(lm_taco_sup_save(a, ck, MODEL, run, err, sizeof err) == 0, "checkpoint written");
    ok(exists(path_of(ck, "model.safetensors")) && exists(path_of(ck, "optimizer.safetensors")) &&
           exists(path_of(ck, "best.safetensors")) && exists(path_of(ck, "trainer_state.json")) &&
           exists(path_of(ck, "config.json")) && exists(path_of(ck, "tokenizer.json")),
       "the checkpoint holds weights, optimiser, best, state and the model's files");
    int k2 = (int)a->steps_per_epoch + 1;
    steps(a, k2);

    lm_taco_sup *b = trainer(ck, &o, d, idx, n, t);
    char *saved = NULL;
    ok(b && lm_taco_sup_restore(b, ck, &saved, err, sizeof err) == 0, "restored");
    if (!b || !saved) {
        diag("%s", err);
        lm_taco_sup_free(a);
        lm_taco_sup_free(b);
        return;
    }
    json_t *j0 = json_loads(run, 0, NULL), *j1 = json_loads(saved, 0, NULL);
    ok(j1 && json_equal(j0, j1), "the run object comes back (as JSON values: %s)", saved);
    json_decref(j0);
    json_decref(j1);
    free(saved);
    ok(b->step == k1 + 1 && b->epoch == 1 && b->has_best && b->best_epoch == 1 && b->best_score == 0.5 &&
           b->opt.step == k1 + 1,
       "position, best and optimiser steps restored");
    steps(b, k2);
    ok(a->step == b->step && a->epoch == b->epoch && a->next_batch == b->next_batch &&
           a->ep_loss_sum == b->ep_loss_sum && a->ep_loss_n == b->ep_loss_n,
       "the same position and running loss after %d more steps", k2);
    ok(memcmp(a->m->params_mem, b->m->params_mem, np * sizeof(float)) == 0,
       "parameters bit-identical to the uninterrupted run");
    ok(memcmp(a->best, b->best, np * sizeof(float)) == 0, "best weights bit-identical");
    /* to the end */
    while (!lm_taco_sup_done(a))
        steps(a, 1);
    while (!lm_taco_sup_done(b))
        steps(b, 1);
    ok(memcmp(a->m->params_mem, b->m->params_mem, np * sizeof(float)) == 0, "final parameters bit-identical");

    /* a second checkpoint replaces the first */
    ok(lm_taco_sup_save(a, ck, MODEL, NULL, err, sizeof err) == 0, "a second checkpoint over the first");
    json_t *st = state_of(ck);
    ok(json_integer_value(json_object_get(st, "step")) == a->step &&
           json_is_object(json_object_get(st, "run")),
       "its state is the new one (run {} for NULL)");
    json_decref(st);

    /* the final folder: best weights */
    char out[512];
    snprintf(out, sizeof out, "%s/out", tmp);
    ok(lm_taco_sup_write_model(a, MODEL, out, "{\"mode\":\"sup\"}", err, sizeof err) == 0,
       "model folder written");
    lm_train_model *m = lm_train_model_load(out, err, sizeof err);
    ok(m && m->num_params == np && memcmp(m->params_mem, a->best, np * sizeof(float)) == 0,
       "its weights are the best epoch's");
    lm_train_model_free(m);
    size_t len;
    char *info = slurp(path_of(out, "taco_train.json"), &len);
    is_str(info, "{\"mode\":\"sup\"}\n", "taco_train.json holds the info");
    free(info);
    ok(same_file(path_of(out, "vocab.txt"), MODEL "/vocab.txt") &&
           !exists(path_of(out, "trainer_state.json")) && !exists(path_of(out, "optimizer.safetensors")),
       "the model's files, no trainer state");
    ok(lm_taco_sup_write_model(a, MODEL, out, NULL, err, sizeof err) == -1 && strstr(err, "already exists"),
       "an existing output folder: refused");
    a->has_best = 0;
    char out2[512];
    snprintf(out2, sizeof out2, "%s/out2", tmp);
    ok(lm_taco_sup_write_model(a, MODEL, out2, NULL, err, sizeof err) == 0 &&
           !exists(path_of(out2, "taco_train.json")),
       "no info: no taco_train.json");
    m = lm_train_model_load(out2, err, sizeof err);
    ok(m && memcmp(m->params_mem, a->m->params_mem, np * sizeof(float)) == 0, "no best: the current weights");
    lm_train_model_free(m);

    lm_taco_sup_free(a);
    lm_taco_sup_free(b);
}

static void refused(const char *ck, const lm_taco_sup_opts *o, const lm_taco_text *t,
                    const lm_taco_windows *d, const size_t *idx, size_t n, const char *want, const char *what)
{
    char err[512];
    char *saved = (char *)1;
    lm_taco_sup *b = trainer(MODEL, o, d, idx, n, t);
    int rc = b ? lm_taco_sup_restore(b, ck, &saved, err, sizeof err) : 0;
    ok(rc == -1 && saved == NULL && strstr(err, want), "restore refuses %s", what);
    if (rc != -1 || !strstr(err, want))
        diag("message: %s", rc == -1 ? err : "(none)");
    lm_taco_sup_free(b);
}

/* a diverged run (a loss of NaN or infinity) still checkpoints and resumes */
static void t_nonfinite(const char *tmp, const lm_taco_text *t, const lm_taco_windows *d, const size_t *idx,
                        size_t n)
{
    lm_taco_sup_opts o;
    opts(&o);
    o.best_by = LM_TACO_BEST_LOSS;
    char err[512], ck[512];
    snprintf(ck, sizeof ck, "%s/ck-nan", tmp);
    lm_taco_sup *a = trainer(MODEL, &o, d, idx, n, t);
    if (!a)
        return;
    steps(a, 1);
    lm_taco_metrics mt = {.loss = INFINITY};
    lm_taco_sup_offer_best(a, 1, &mt);
    a->ep_loss_sum = NAN;
    ok(a->next_batch > 0 && a->best_score == -INFINITY, "a NaN running loss and a best score of -inf");
    ok(lm_taco_sup_save(a, ck, MODEL, "{}", err, sizeof err) == 0, "checkpoint written");
    lm_taco_sup *b = trainer(ck, &o, d, idx, n, t);
    char *saved = NULL;
    int rc = b ? lm_taco_sup_restore(b, ck, &saved, err, sizeof err) : -1;
    ok(rc == 0 && isnan(b->ep_loss_sum) && b->has_best && b->best_score == -INFINITY,
       "restored with the NaN and the -inf");
    if (rc != 0)
        diag("%s", err);
    free(saved);
    lm_taco_sup_free(a);
    lm_taco_sup_free(b);
}

static void t_refuse(const char *tmp, const lm_taco_text *t, const lm_taco_windows *d, const size_t *idx,
                     size_t n)
{
    lm_taco_sup_opts o;
    opts(&o);
    char err[512], ck[512];
    snprintf(ck, sizeof ck, "%s/ck2", tmp);
    lm_taco_sup *a = trainer(MODEL, &o, d, idx, n, t);
    if (!a)
        return;
    steps(a, 3);
    ok(lm_taco_sup_save(a, ck, MODEL, "{}", err, sizeof err) == 0, "a checkpoint at step 3");
    lm_taco_sup_free(a);

    char nope[600];
    snprintf(nope, sizeof nope, "%s/none", tmp);
    refused(nope, &o, t, d, idx, n, "trainer_state.json", "a missing folder");

    state_set(ck, "format", json_string("lmkit taco-train sup checkpoint 2"));
    refused(ck, &o, t, d, idx, n, "not a checkpoint of taco-train sup", "another format");
    state_set(ck, "format", json_integer(1));
    refused(ck, &o, t, d, idx, n, "not a checkpoint of taco-train sup", "a format that is not a string");
    state_set(ck, "format", json_string("lmkit taco-train sup checkpoint 1"));

    state_set(ck, "step", json_integer(2));
    refused(ck, &o, t, d, idx, n, "optimizer.safetensors: 3 optimiser steps, but the trainer state says 2",
            "a step count the optimiser state does not have");
    state_set(ck, "step", json_integer(1000000));
    refused(ck, &o, t, d, idx, n, "\"step\" is missing or out of range", "a step past the run");
    state_set(ck, "step", json_integer(3));

    json_t *st = state_of(ck);
    json_int_t next = json_integer_value(json_object_get(st, "next_batch"));
    json_decref(st);
    state_set(ck, "next_batch", json_integer(1000));
    refused(ck, &o, t, d, idx, n, "\"next_batch\" is missing or out of range",
            "a micro-batch past the epoch");
    state_set(ck, "next_batch", json_integer(next));
    state_set(ck, "epoch_loss_sum", json_string("x"));
    refused(ck, &o, t, d, idx, n, "\"epoch_loss_sum\", \"best_score\", \"has_best\" or \"run\" is missing",
            "a loss that is not a number");
    state_set(ck, "epoch_loss_sum", json_real(1));
    state_set(ck, "has_best", json_true());
    refused(ck, &o, t, d, idx, n, "best.safetensors", "a best that has no file");
    state_set(ck, "has_best", json_false());

    put(path_of(ck, "trainer_state.json"), "{\"format\": \n");
    refused(ck, &o, t, d, idx, n, "trainer_state.json:2:", "a state that is not JSON, with its line");

    remove(path_of(ck, "optimizer.safetensors"));
    put(path_of(ck, "trainer_state.json"), "{}");
    refused(ck, &o, t, d, idx, n, "not a checkpoint of taco-train sup", "an empty state");
}

static void t_copy(const char *tmp)
{
    char src[512], dst[512], err[512];
    snprintf(src, sizeof src, "%s/src", tmp);
    snprintf(dst, sizeof dst, "%s/dst", tmp);
    mkdir(src, 0755);
    mkdir(dst, 0755);
    static const char *const keep[] = {"config.json",
                                       "tokenizer.json",
                                       "vocab.txt",
                                       "special_tokens_map.json",
                                       "sentencepiece.bpe.model",
                                       "generation_config.json"};
    static const char *const skip[] = {"model.safetensors",
                                       "best.safetensors",
                                       "optimizer.safetensors",
                                       "model.safetensors.index.json",
                                       "pytorch_model.bin",
                                       "trainer_state.json",
                                       "taco_train.json",
                                       ".hidden",
                                       ".ckpt-x",
                                       "weights.pt",
                                       "model.onnx",
                                       "model.gguf",
                                       "rust_model.ot",
                                       "model.tflite"};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        put(path_of(src, keep[i]), keep[i]);
    for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
        put(path_of(src, skip[i]), "x");
    mkdir(path_of(src, "sub"), 0755);
    put(path_of(src, "sub/config.json"), "{}");
    symlink("config.json", path_of(src, "link.json"));
    ok(lm_taco_copy_model_files(src, dst, err, sizeof err) == 0, "files copied");
    int c = 1;
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        c &= same_file(path_of(src, keep[i]), path_of(dst, keep[i]));
    ok(c, "config, tokenizer and vocabulary files copied byte for byte");
    c = 1;
    for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
        if (exists(path_of(dst, skip[i]))) {
            diag("%s copied", skip[i]);
            c = 0;
        }
    ok(c, "weights, optimiser, trainer state, taco_train.json and hidden files skipped");
    ok(!exists(path_of(dst, "sub")), "a folder is not copied");
    ok(same_file(path_of(dst, "link.json"), path_of(src, "config.json")), "a link to a file: its content");
    ok(lm_taco_copy_model_files(path_of(tmp, "none"), dst, err, sizeof err) == -1 && strstr(err, "none: "),
       "a missing source: refused with its name");
}

int main(void)
{
    t_metrics();
    lm_taco_text t;
    char err[256];
    if (!ok(lm_taco_text_load(&t, MODEL, 16, 150, err, sizeof err) == 0, "tiny-bert loads"))
        return tap_done();
    lm_taco_windows d = {0};
    make_data(&t, &d, 60, 7);
    /* records 0..47 train, 48.. held out */
    size_t *idx = calloc(d.nwin, sizeof *idx), *eidx = calloc(d.nwin, sizeof *eidx), n = 0, ne = 0;
    for (size_t i = 0; i < d.nwin; i++) {
        if (d.rec[i] < 48)
            idx[n++] = i;
        else
            eidx[ne++] = i;
    }
    ok(n > 40 && ne > 8, "%zu training and %zu held-out windows", n, ne);
    char tmp[] = "/tmp/test_taco_sup.XXXXXX";
    if (!mkdtemp(tmp))
        abort();
    t_new(&t, &d, idx, n);
    t_best(&t, &d, idx, n);
    t_learns(&t, &d, idx, n, eidx, ne);
    t_order(&t, &d, idx, n);
    t_resume(tmp, &t, &d, idx, n);
    t_nonfinite(tmp, &t, &d, idx, n);
    t_refuse(tmp, &t, &d, idx, n);
    t_copy(tmp);
    rm_rf(tmp);
    ok(!exists(tmp), "scratch folder removed");
    free(idx);
    free(eidx);
    lm_taco_windows_free(&d);
    lm_taco_text_free(&t);
    return tap_done();
}
