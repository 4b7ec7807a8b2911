/* sup.c - the supervised training loop, its checkpoints and its output
 * folder (sup.h) */
#include "taco/sup.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/diag.h"
#include "core/fs.h"
#include "core/rng.h"
#include "core/svg.h"
#include "nn/safetensors.h"

#define STATE_FORMAT "lmkit taco-train sup checkpoint 1"

void lm_taco_sup_opts_default(lm_taco_sup_opts *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 10;
    o->batch = 10;
    o->accum = 1;
    o->lr = 1e-5;
    o->weight_decay = 0;
    o->max_grad_norm = 10;
    o->sched = LM_SCHED_CONSTANT;
    o->dropout = 1;
    snprintf(o->scope, sizeof o->scope, "all");
    o->best_by = LM_TACO_BEST_ACCURACY;
    o->shuffle = 1;
}

void lm_taco_metrics_of(const lm_taco_counts *c, lm_taco_metrics *m)
{
    m->accuracy = c->n ? (double)(c->tp + c->tn) / (double)c->n : 0;
    m->precision = c->tp + c->fp ? (double)c->tp / (double)(c->tp + c->fp) : 0;
    m->recall = c->tp + c->fn ? (double)c->tp / (double)(c->tp + c->fn) : 0;
    m->f1 = m->precision + m->recall > 0 ? 2 * m->precision * m->recall / (m->precision + m->recall) : 0;
    m->loss = c->n ? c->loss_sum / (double)c->n : 0;
}

lm_taco_sup *lm_taco_sup_new(lm_train_model *m, const lm_taco_sup_opts *o, const lm_taco_windows *data,
                             const size_t *idx, size_t n, int32_t pad, int max_len, char *err, size_t errlen)
{
    if (n == 0) {
        lm_seterr(err, errlen, "no training windows");
        return NULL;
    }
    if (o->epochs < 1 || o->batch < 1 || o->accum < 1) {
        lm_seterr(err, errlen, "epochs, batch size and accumulation must be at least 1");
        return NULL;
    }
    if (lm_train_set_scope(m, o->scope, err, errlen) != 0)
        return NULL;
    lm_train_state *s = lm_train_state_new_on(m, o->batch, max_len, o->device, err, errlen);
    if (!s)
        return NULL;
    lm_taco_sup *t = lm_xcalloc(1, sizeof *t);
    t->o = *o;
    t->m = m;
    t->s = s;
    t->data = data;
    t->idx = idx;
    t->ntrain = n;
    t->pad = pad;
    t->maxT = max_len;
    t->seg = lm_taco_segments(m, &t->nseg);
    lm_adamw_hparams hp = LM_ADAMW_DEFAULTS;
    hp.weight_decay = o->weight_decay;
    lm_adamw_init(&t->opt, &hp, t->seg, t->nseg);
    t->batches_per_epoch = (int64_t)((n + (size_t)o->batch - 1) / (size_t)o->batch);
    t->steps_per_epoch = (t->batches_per_epoch + o->accum - 1) / o->accum;
    t->total_steps = t->steps_per_epoch * o->epochs;
    t->sched = (lm_sched){o->sched, o->lr, o->warmup, t->total_steps, 0.5};
    t->order = lm_xcalloc(n, sizeof *t->order);
    size_t bt = lm_xmul((size_t)o->batch, (size_t)max_len);
    t->ids = lm_xcalloc(bt, sizeof *t->ids);
    t->labels = lm_xcalloc(bt, sizeof *t->labels);
    t->mask = lm_xcalloc(bt, 1);
    return t;
}

void lm_taco_sup_free(lm_taco_sup *t)
{
    if (!t)
        return;
    lm_train_state_free(t->s);
    lm_train_model_free(t->m);
    lm_adamw_free(&t->opt);
    free(t->seg);
    free(t->order);
    free(t->best);
    free(t->step_loss);
    free(t->ep);
    free(t->ids);
    free(t->labels);
    free(t->mask);
    free(t);
}

int lm_taco_sup_done(const lm_taco_sup *t)
{
    return t->epoch >= t->o.epochs;
}

double lm_taco_sup_epoch_loss(const lm_taco_sup *t)
{
    return t->ep_loss_n ? t->ep_loss_sum / (double)t->ep_loss_n : 0;
}

void lm_taco_shuffle(size_t *out, const size_t *in, size_t n, uint64_t seed, uint64_t stream)
{
    lm_rng r;
    lm_rng_init(&r, seed, stream);
    for (size_t i = 0; i < n; i++)
        out[i] = in ? in[i] : i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)lm_rng_below(&r, i), x = out[i - 1];
        out[i - 1] = out[j];
        out[j] = x;
    }
}

lm_optim_seg *lm_taco_segments(const lm_train_model *m, size_t *nseg)
{
    lm_optim_seg *seg = lm_xcalloc((size_t)m->nparams + 1, sizeof *seg);
    *nseg = 0;
    for (int i = 0; i < m->nparams; i++) {
        const lm_train_param *p = &m->params[i];
        if (p->trained)
            seg[(*nseg)++] = (lm_optim_seg){p->offset, p->numel, lm_optim_decays(p->name)};
    }
    return seg;
}

int lm_taco_svg(const char *path, lm_plot *const *p, size_t n, char *err, size_t errlen)
{
    lm_atomic a;
    if (lm_atomic_open(&a, path, err, errlen) != 0)
        return -1;
    if (lm_svg_write(a.fp, p, n) != 0) {
        lm_seterr(err, errlen, "%s: %s", path, strerror(errno));
        lm_atomic_abort(&a);
        return -1;
    }
    return lm_atomic_commit(&a, err, errlen);
}

/* the order of epoch e */
static void epoch_order(lm_taco_sup *t, int e)
{
    if (!t->o.shuffle) {
        for (size_t i = 0; i < t->ntrain; i++)
            t->order[i] = t->idx ? t->idx[i] : i;
        return;
    }
    lm_taco_shuffle(t->order, t->idx, t->ntrain, t->o.seed, 0x7461636f00000000ull | (uint64_t)e);
}

/* packs windows data[w[0..n)] into the batch buffers: ids[n,T] padded,
 * mask, labels (-100 on pads); returns T */
static int fill_batch(lm_taco_sup *t, const lm_taco_windows *d, const size_t *w, size_t n, size_t *positions)
{
    size_t T = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = d->off[w[i] + 1] - d->off[w[i]];
        if (len > T)
            T = len;
    }
    *positions = 0;
    for (size_t i = 0; i < n; i++) {
        size_t a = d->off[w[i]], len = d->off[w[i] + 1] - a;
        for (size_t j = 0; j < T; j++) {
            size_t k = i * T + j;
            int real = j < len;
            t->ids[k] = real ? d->ids[a + j] : t->pad;
            t->labels[k] = real ? d->labels[a + j] : -100;
            t->mask[k] = (uint8_t)real;
        }
        *positions += len;
    }
    return (int)T;
}

int lm_taco_sup_step(lm_taco_sup *t, lm_taco_step_info *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    if (lm_taco_sup_done(t)) {
        lm_seterr(err, errlen, "training is complete");
        return -1;
    }
    if (t->next_batch == 0) {
        epoch_order(t, t->epoch);
        t->ep_loss_sum = 0;
        t->ep_loss_n = 0;
    }
    int64_t k = t->batches_per_epoch - t->next_batch;
    if (k > t->o.accum)
        k = t->o.accum;
    lm_train_zero_grad(t->m);
    for (int64_t j = 0; j < k; j++) {
        int64_t b = t->next_batch + j;
        size_t first = (size_t)b * (size_t)t->o.batch;
        size_t n = t->ntrain - first < (size_t)t->o.batch ? t->ntrain - first : (size_t)t->o.batch;
        size_t positions;
        int T = fill_batch(t, t->data, t->order + first, n, &positions);
        lm_train_dropout drop;
        if (t->o.dropout)
            drop = lm_train_dropout_from_config(t->m, t->o.seed,
                                                (uint64_t)(t->epoch * t->batches_per_epoch + b));
        double a = lm_clock();
        if (lm_train_forward(t->m, t->s, t->ids, t->mask, (int)n, T, t->o.dropout ? &drop : NULL, err,
                             errlen) != 0)
            return -1;
        double loss;
        int count;
        if (lm_train_ce_loss(t->m, t->s, t->labels, (float)(1.0 / (double)k), &loss, &count, err, errlen) !=
            0)
            return -1;
        double bw = lm_clock();
        if (lm_train_backward(t->m, t->s, err, errlen) != 0)
            return -1;
        double e = lm_clock();
        info->t_forward += bw - a;
        info->t_backward += e - bw;
        info->loss += loss / (double)k;
        info->tokens += (size_t)count;
        info->positions += positions;
        t->ep_loss_sum += loss;
        t->ep_loss_n++;
    }
    double o0 = lm_clock();
    if (t->o.max_grad_norm > 0)
        info->grad_norm = lm_clip_grad_norm(t->m->grads_mem, t->seg, t->nseg, t->o.max_grad_norm);
    else
        info->grad_norm = lm_grad_norm(t->m->grads_mem, t->seg, t->nseg);
    info->lr = lm_sched_lr(&t->sched, t->step + 1);
    lm_adamw_step(&t->opt, t->m->params_mem, t->m->grads_mem, info->lr);
    info->t_optim = lm_clock() - o0;
    t->step++;
    lm_grow(t->step_loss, t->step_loss_cap, t->nstep_loss + 1);
    t->step_loss[t->nstep_loss++] = info->loss;
    t->next_batch += k;
    info->step = t->step;
    info->epoch = t->epoch + 1;
    if (t->next_batch >= t->batches_per_epoch) {
        info->epoch_end = 1;
        t->epoch++;
        t->next_batch = 0;
    }
    return 0;
}

int lm_taco_sup_evaluate(lm_taco_sup *t, const lm_taco_windows *data, const size_t *idx, size_t n,
                         lm_taco_counts *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    const int NL = t->m->cfg.num_labels;
    for (size_t first = 0; first < n; first += (size_t)t->o.batch) {
        size_t nb = n - first < (size_t)t->o.batch ? n - first : (size_t)t->o.batch;
        size_t positions;
        int T = fill_batch(t, data, idx + first, nb, &positions);
        if (lm_train_forward(t->m, t->s, t->ids, t->mask, (int)nb, T, NULL, err, errlen) != 0)
            return -1;
        double loss;
        int count;
        if (lm_train_ce_loss(t->m, t->s, t->labels, 1.0f, &loss, &count, err, errlen) != 0)
            return -1;
        c->loss_sum += loss * count;
        for (size_t i = 0; i < nb * (size_t)T; i++) {
            int32_t y = t->labels[i];
            if (y != 0 && y != 1)
                continue;
            const float *p = t->s->probs + i * (size_t)NL;
            int pred = p[1] > p[0]; /* torch's argmax: the first of equal values */
            c->n++;
            if (pred && y)
                c->tp++;
            else if (pred)
                c->fp++;
            else if (y)
                c->fn++;
            else
                c->tn++;
        }
    }
    return 0;
}

int lm_taco_sup_offer_best(lm_taco_sup *t, int epoch, const lm_taco_metrics *mt)
{
    double score = t->o.best_by == LM_TACO_BEST_F1     ? mt->f1
                   : t->o.best_by == LM_TACO_BEST_LOSS ? -mt->loss
                                                       : mt->accuracy;
    if (t->has_best && !(score > t->best_score))
        return 0;
    if (!t->best)
        t->best = lm_xmalloc(lm_xmul(t->m->num_params, sizeof *t->best));
    memcpy(t->best, t->m->params_mem, t->m->num_params * sizeof *t->best);
    t->has_best = 1;
    t->best_epoch = epoch;
    t->best_score = score;
    return 1;
}

void lm_taco_sup_record_epoch(lm_taco_sup *t, int epoch, const lm_taco_metrics *mt)
{
    lm_grow(t->ep, t->ep_cap, t->nep + 1);
    lm_taco_epoch_rec *r = &t->ep[t->nep++];
    memset(r, 0, sizeof *r);
    r->epoch = epoch;
    r->train_loss = lm_taco_sup_epoch_loss(t);
    if (mt) {
        r->evaluated = 1;
        r->m = *mt;
    }
}

int lm_taco_sup_plot(const lm_taco_sup *t, const char *path, const char *title, char *err, size_t errlen)
{
    size_t n = t->nstep_loss, ne = t->nep;
    double *x = lm_xcalloc(n + ne + 1, sizeof *x), *y = lm_xcalloc(n + ne + 1, sizeof *y);
    double *ex = lm_xcalloc(ne + 1, sizeof *ex), *ey = lm_xcalloc(ne + 1, sizeof *ey);
    lm_plot *p[2];
    p[0] = lm_plot_new(title, "optimiser step", "token cross-entropy");
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)(i + 1);
        y[i] = t->step_loss[i];
    }
    lm_plot_series(p[0], "step loss", x, y, n, 0);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++) {
        ex[k] = (double)t->ep[i].epoch * (double)t->steps_per_epoch;
        ey[k++] = t->ep[i].train_loss;
    }
    lm_plot_series(p[0], "epoch training loss", ex, ey, k, 1);
    k = 0;
    for (size_t i = 0; i < ne; i++)
        if (t->ep[i].evaluated) {
            ex[k] = (double)t->ep[i].epoch * (double)t->steps_per_epoch;
            ey[k++] = t->ep[i].m.loss;
        }
    if (k)
        lm_plot_series(p[0], "held-out loss", ex, ey, k, 1);
    int np = 1;
    if (k) {
        p[1] = lm_plot_new("Held-out tokens", "epoch", "score");
        lm_plot_yrange(p[1], 0, 1);
        for (int s = 0; s < 2; s++) {
            k = 0;
            for (size_t i = 0; i < ne; i++)
                if (t->ep[i].evaluated) {
                    ex[k] = t->ep[i].epoch;
                    ey[k++] = s ? t->ep[i].m.f1 : t->ep[i].m.accuracy;
                }
            lm_plot_series(p[1], s ? "keep F1" : "accuracy", ex, ey, k, 1);
        }
        if (t->has_best)
            lm_plot_vline(p[1], t->best_epoch, "best");
        np = 2;
    }
    int rc = lm_taco_svg(path, p, (size_t)np, err, errlen);
    for (int i = 0; i < np; i++)
        lm_plot_free(p[i]);
    free(x);
    free(y);
    free(ex);
    free(ey);
    return rc;
}

/* ---- files ---- */

static int skip_file(const char *name)
{
    /* the weight files Hugging Face model repositories ship (PyTorch,
     * TensorFlow, Flax, ONNX, GGUF, rust-bert's rust_model.ot, TF Lite): a
     * copy would sit stale beside the trained model.safetensors */
    static const char *const suffix[] = {".safetensors", ".bin",  ".pt",   ".pth", ".ckpt",   ".h5",
                                         ".msgpack",     ".onnx", ".gguf", ".ot",  ".tflite", ".index.json"};
    static const char *const exact[] = {"trainer_state.json", "taco_train.json"};
    if (name[0] == '.')
        return 1;
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        size_t k = strlen(suffix[i]);
        if (n >= k && strcmp(name + n - k, suffix[i]) == 0)
            return 1;
    }
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (strcmp(name, exact[i]) == 0)
            return 1;
    return 0;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = lm_xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int lm_taco_copy_model_files(const char *src, const char *dst, char *err, size_t errlen)
{
    DIR *dp = opendir(src);
    if (!dp) {
        lm_seterr(err, errlen, "%s: %s", src, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(dp)) != NULL) {
        if (skip_file(e->d_name))
            continue;
        char *from = join(src, e->d_name);
        struct stat st;
        if (stat(from, &st) == 0 && S_ISREG(st.st_mode)) {
            char *to = join(dst, e->d_name);
            rc = lm_copy_file(from, to, err, errlen);
            free(to);
        }
        free(from);
    }
    closedir(dp);
    return rc;
}

static int save_weights(const lm_train_model *m, const float *w, const char *path, char *err, size_t errlen)
{
    lm_train_model v = *m;
    v.params_mem = (float *)w;
    return lm_train_model_save(&v, path, "{\"format\":\"pt\"}", err, errlen);
}

static int write_string(const char *path, const char *s, char *err, size_t errlen)
{
    lm_atomic a;
    if (lm_atomic_open(&a, path, err, errlen) != 0)
        return -1;
    size_t n = strlen(s);
    if (fwrite(s, 1, n, a.fp) != n || fputc('\n', a.fp) == EOF) {
        lm_seterr(err, errlen, "%s: %s", path, strerror(errno));
        lm_atomic_abort(&a);
        return -1;
    }
    return lm_atomic_commit(&a, err, errlen);
}

json_t *lm_taco_json_real(double v)
{
    return isfinite(v) ? json_real(v) : json_string(isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

static double json_real_or_nan(const json_t *x);

int lm_taco_real_of(const json_t *x, double *v)
{
    const char *s = json_string_value(x);
    if (json_is_number(x))
        *v = json_number_value(x);
    else if (s && strcmp(s, "nan") == 0)
        *v = NAN;
    else if (s && strcmp(s, "inf") == 0)
        *v = INFINITY;
    else if (s && strcmp(s, "-inf") == 0)
        *v = -INFINITY;
    else
        return -1;
    return 0;
}

/* a history value: a number or "nan"/"inf"/"-inf" (anything else: NaN) */
static double json_real_or_nan(const json_t *x)
{
    double v;
    return lm_taco_real_of(x, &v) == 0 ? v : NAN;
}

static char *state_json(const lm_taco_sup *t, const char *run_json, char *err, size_t errlen)
{
    json_error_t je;
    json_t *run = json_loads(run_json ? run_json : "{}", 0, &je);
    if (!run) {
        lm_seterr(err, errlen, "run description: %s", je.text);
        return NULL;
    }
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string(STATE_FORMAT));
    json_object_set_new(o, "step", json_integer(t->step));
    json_object_set_new(o, "epoch", json_integer(t->epoch));
    json_object_set_new(o, "next_batch", json_integer(t->next_batch));
    json_object_set_new(o, "epoch_loss_sum", lm_taco_json_real(t->ep_loss_sum));
    json_object_set_new(o, "epoch_loss_n", json_integer(t->ep_loss_n));
    json_object_set_new(o, "has_best", json_boolean(t->has_best));
    json_object_set_new(o, "best_epoch", json_integer(t->best_epoch));
    json_object_set_new(o, "best_score", lm_taco_json_real(t->has_best ? t->best_score : 0));
    json_t *h = json_array();
    for (size_t i = 0; i < t->nstep_loss; i++)
        json_array_append_new(h, lm_taco_json_real(t->step_loss[i]));
    json_object_set_new(o, "step_loss", h);
    json_t *eh = json_array();
    for (size_t i = 0; i < t->nep; i++) {
        const lm_taco_epoch_rec *r = &t->ep[i];
        json_t *e = json_object();
        json_object_set_new(e, "epoch", json_integer(r->epoch));
        json_object_set_new(e, "train_loss", lm_taco_json_real(r->train_loss));
        json_object_set_new(e, "evaluated", json_boolean(r->evaluated));
        if (r->evaluated) {
            json_object_set_new(e, "eval_loss", lm_taco_json_real(r->m.loss));
            json_object_set_new(e, "accuracy", lm_taco_json_real(r->m.accuracy));
            json_object_set_new(e, "precision", lm_taco_json_real(r->m.precision));
            json_object_set_new(e, "recall", lm_taco_json_real(r->m.recall));
            json_object_set_new(e, "f1", lm_taco_json_real(r->m.f1));
        }
        json_array_append_new(eh, e);
    }
    json_object_set_new(o, "epochs", eh);
    json_object_set_new(o, "run", run);
    char *s = json_dumps(o, JSON_INDENT(1) | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
    json_decref(o);
    char *r = lm_xstrdup(s);
    free(s);
    return r;
}

/* a folder published in one rename: base's files, model.safetensors
 * (weights), optimizer.safetensors (opt), best.safetensors (best), and a
 * JSON file (json_name) */
static int write_folder(const char *dir, const char *tag, int replace, const char *base,
                        const lm_train_model *m, const float *weights, const lm_adamw *opt, const float *best,
                        const char *json_name, const char *json, char *err, size_t errlen)
{
    char *tmp;
    if (lm_dir_tmp(dir, tag, &tmp, err, errlen) != 0)
        return -1;
    int rc = -1;
    char *p = NULL;
    if (lm_taco_copy_model_files(base, tmp, err, errlen) != 0)
        goto out;
    p = join(tmp, "model.safetensors");
    if (save_weights(m, weights, p, err, errlen) != 0)
        goto out;
    free(p);
    p = NULL;
    if (opt) {
        p = join(tmp, "optimizer.safetensors");
        if (lm_adamw_save(opt, p, err, errlen) != 0)
            goto out;
        free(p);
        p = NULL;
    }
    if (best) {
        p = join(tmp, "best.safetensors");
        if (save_weights(m, best, p, err, errlen) != 0)
            goto out;
        free(p);
        p = NULL;
    }
    if (json_name) {
        p = join(tmp, json_name);
        if (write_string(p, json, err, errlen) != 0)
            goto out;
    }
    if (lm_dir_publish(tmp, dir, replace, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        lm_dir_remove(tmp);
    free(tmp);
    free(p);
    return rc;
}

int lm_taco_ckpt_write(const char *dir, const char *base_dir, const lm_train_model *m, const lm_adamw *opt,
                       const float *best, const char *state_json, char *err, size_t errlen)
{
    return write_folder(dir, "ckpt", 1, base_dir, m, m->params_mem, opt, best, "trainer_state.json",
                        state_json, err, errlen);
}

int lm_taco_sup_save(const lm_taco_sup *t, const char *dir, const char *base_dir, const char *run_json,
                     char *err, size_t errlen)
{
    char *js = state_json(t, run_json, err, errlen);
    if (!js)
        return -1;
    int rc = lm_taco_ckpt_write(dir, base_dir, t->m, &t->opt, t->has_best ? t->best : NULL, js, err, errlen);
    free(js);
    return rc;
}

static int load_best(lm_taco_sup *t, const char *path, char *err, size_t errlen)
{
    lm_safetensors st;
    if (lm_st_open(&st, path, err, errlen) != 0)
        return -1;
    if (!t->best)
        t->best = lm_xmalloc(lm_xmul(t->m->num_params, sizeof *t->best));
    int rc = 0;
    for (int i = 0; i < t->m->nparams && rc == 0; i++) {
        const lm_train_param *p = &t->m->params[i];
        const lm_st_tensor *x = lm_st_find(&st, p->name);
        if (!x || x->numel != p->numel) {
            lm_seterr(err, errlen, "%s: tensor %s is %s", path, p->name, x ? "of another size" : "missing");
            rc = -1;
        } else {
            rc = lm_st_to_f32(x, t->best + p->offset, err, errlen);
        }
    }
    lm_st_close(&st);
    return rc;
}

static int get_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *v, const char *path,
                   char *err, size_t errlen)
{
    json_t *x = json_object_get(o, key);
    if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi) {
        lm_seterr(err, errlen, "%s: \"%s\" is missing or out of range", path, key);
        return -1;
    }
    *v = json_integer_value(x);
    return 0;
}

int lm_taco_sup_restore(lm_taco_sup *t, const char *dir, char **run_json, char *err, size_t errlen)
{
    *run_json = NULL;
    char *path = join(dir, "trainer_state.json");
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    int rc = -1;
    if (!o) {
        lm_seterr(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        goto out;
    }
    json_t *f = json_object_get(o, "format");
    if (!json_is_string(f) || strcmp(json_string_value(f), STATE_FORMAT) != 0) {
        lm_seterr(err, errlen, "%s: not a checkpoint of taco-train sup (format \"%s\")", path, STATE_FORMAT);
        goto out;
    }
    int64_t step, epoch, next, lossn, hasb, beste;
    if (get_int(o, "step", 0, t->total_steps, &step, path, err, errlen) ||
        get_int(o, "epoch", 0, t->o.epochs, &epoch, path, err, errlen) ||
        get_int(o, "next_batch", 0, t->batches_per_epoch - 1, &next, path, err, errlen) ||
        get_int(o, "epoch_loss_n", 0, INT64_MAX, &lossn, path, err, errlen) ||
        get_int(o, "best_epoch", 0, t->o.epochs, &beste, path, err, errlen))
        goto out;
    double lsum, bscore;
    json_t *hb = json_object_get(o, "has_best"), *run = json_object_get(o, "run");
    if (lm_taco_real_of(json_object_get(o, "epoch_loss_sum"), &lsum) != 0 ||
        lm_taco_real_of(json_object_get(o, "best_score"), &bscore) != 0 || !json_is_boolean(hb) ||
        !json_is_object(run)) {
        lm_seterr(err, errlen, "%s: \"epoch_loss_sum\", \"best_score\", \"has_best\" or \"run\" is missing",
                  path);
        goto out;
    }
    hasb = json_is_true(hb);
    free(path);
    path = join(dir, "optimizer.safetensors");
    if (lm_adamw_load(&t->opt, path, err, errlen) != 0)
        goto out;
    if (t->opt.step != step) {
        lm_seterr(err, errlen, "%s: %lld optimiser steps, but the trainer state says %lld", path,
                  (long long)t->opt.step, (long long)step);
        goto out;
    }
    if (hasb) {
        free(path);
        path = join(dir, "best.safetensors");
        if (load_best(t, path, err, errlen) != 0)
            goto out;
    }
    json_t *h = json_object_get(o, "step_loss"), *eh = json_object_get(o, "epochs");
    if (!json_is_array(h) || json_array_size(h) != (size_t)step || !json_is_array(eh)) {
        lm_seterr(err, errlen, "%s: \"step_loss\" or \"epochs\" is missing or of the wrong length", dir);
        goto out;
    }
    t->nstep_loss = 0;
    for (size_t i = 0; i < json_array_size(h); i++) {
        lm_grow(t->step_loss, t->step_loss_cap, t->nstep_loss + 1);
        t->step_loss[t->nstep_loss++] = json_real_or_nan(json_array_get(h, i));
    }
    t->nep = 0;
    for (size_t i = 0; i < json_array_size(eh); i++) {
        json_t *e = json_array_get(eh, i);
        lm_taco_metrics m = {
            json_real_or_nan(json_object_get(e, "accuracy")),
            json_real_or_nan(json_object_get(e, "precision")), json_real_or_nan(json_object_get(e, "recall")),
            json_real_or_nan(json_object_get(e, "f1")), json_real_or_nan(json_object_get(e, "eval_loss"))};
        lm_grow(t->ep, t->ep_cap, t->nep + 1);
        lm_taco_epoch_rec *r = &t->ep[t->nep++];
        r->epoch = (int)json_integer_value(json_object_get(e, "epoch"));
        r->train_loss = json_real_or_nan(json_object_get(e, "train_loss"));
        r->evaluated = json_is_true(json_object_get(e, "evaluated"));
        r->m = m;
    }
    t->step = step;
    t->epoch = (int)epoch;
    t->next_batch = next;
    t->ep_loss_sum = lsum;
    t->ep_loss_n = lossn;
    t->has_best = (int)hasb;
    t->best_epoch = (int)beste;
    t->best_score = bscore;
    if (t->next_batch > 0)
        epoch_order(t, t->epoch);
    char *s = json_dumps(run, JSON_COMPACT | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
    *run_json = lm_xstrdup(s);
    free(s);
    rc = 0;
out:
    json_decref(o);
    free(path);
    return rc;
}

int lm_taco_sup_write_model(const lm_taco_sup *t, const char *base_dir, const char *out_dir,
                            const char *info_json, char *err, size_t errlen)
{
    return lm_taco_write_model(t->m, t->has_best ? t->best : t->m->params_mem, base_dir, out_dir, info_json,
                               err, errlen);
}

int lm_taco_write_model(const lm_train_model *m, const float *weights, const char *base_dir,
                        const char *out_dir, const char *info_json, char *err, size_t errlen)
{
    return write_folder(out_dir, "model", 0, base_dir, m, weights, NULL, NULL,
                        info_json ? "taco_train.json" : NULL, info_json, err, errlen);
}
