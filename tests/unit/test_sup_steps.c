/* test_sup_steps.c - 20 supervised training steps of the tiny token
 * classifiers against the same 20 steps in PyTorch from the same initial
 * weights and the same batches in the same order (testdata/golden/sup, made
 * by tests/golden/sup_golden.py), run twice: once strung together here from
 * the primitives (lib/nn/train.c's forward, loss and backward,
 * lib/nn/optim.c's clipping, AdamW and linear warm-up schedule), once by
 * taco-train's trainer, lm_taco_sup_step (lib/taco/sup.c), on the golden's
 * batches given as windows in their order (shuffling off), 5 epochs of the 4
 * batches, one micro-batch per optimiser step; the checks of the second run
 * are named "<model> lm_taco_sup_step".
 *
 * Then both again with gradient accumulation against the golden's "accum"
 * run (checks named "<model> accum K" and "<model> lm_taco_sup_step accum
 * K"): K micro-batches per optimiser step, each micro-batch's mean token
 * loss scaled by 1/k before backward, where k is K but for an epoch's last
 * step, which takes the micro-batches left (4 batches, K = 3: steps of 3
 * then 1), the linear schedule over the steps so made, clipping at 3 (some
 * steps clipped, some not, so that the gradients' scale shows in the
 * weights, not only in the norms).  That is transformers' Trainer's
 * accumulation on these models, and the trainer's (sup.h).  The trainer's
 * runs also check each epoch's training loss (lm_taco_sup_epoch_loss, the
 * mean of its micro-batches' losses) against torch's losses of those
 * micro-batches.
 *
 * Error measure: the losses' plain relative error; for norms, lrs and
 * parameters |got - want| / max(|want|, 1e-3), so that <= 1e-4 means
 * "relative error <= 1e-4, or absolute error <= 1e-7 for tiny values".
 * Both sides compute in float32, in different orders, so they differ by
 * rounding from step 1 on; the golden's float64 run ("loss64", "final64")
 * shows how far torch's own float32 run is from exact (below 1e-6 on the
 * losses, a few 1e-6 on the sampled parameters), and lmkit is as far from
 * it.  The tolerance 1e-4 still catches a wrong step: a 1% larger lr fails
 * the loss, norm and parameter checks of both models (in the trainer too,
 * reported lr right or not); twice the weight decay, or weight decay on
 * every tensor, the norm and parameter checks; in the trainer, a schedule
 * one step longer, shuffled windows or dropout on fail the loss, norm and
 * parameter checks; with accumulation, scaling the micro-batch losses by
 * 1/(k+1) instead of 1/k, or by 1/K on an epoch's short last step (the
 * fixed divisor of a hand-written loop), fails the trainer's loss, norm,
 * parameter and epoch-loss checks.
 *
 * The key biases (attention.self.key.bias) are the exception: their
 * gradient is zero in exact arithmetic (a bias added to every key adds the
 * same q.b to every score of a query row, which softmax ignores), so what
 * float32 gives is rounding noise (about 1e-9, 1e-18 in float64), and AdamW
 * divides it by sqrt(v) + eps of the same order: the bias drifts by a
 * fraction of lr per step in a direction that is noise, different in torch
 * and here.  For them the test checks only that each side stayed within the
 * sum of the step sizes (|sum lr| * 1.1, the most AdamW can move an entry
 * whose m/sqrt(v) is at most about 1) of the initial value, where torch's
 * float64 run leaves them.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/optim.h"
#include "nn/train.h"
#include "taco/data.h"
#include "taco/sup.h"
#include "tap.h"

#define TOL 1e-4
#define MAXSTEPS 64
#define MAXBATCH 8

/* one batch of the golden */
typedef struct {
    int B, T;
    int32_t *ids, *labels;
    uint8_t *mask;
} batch;

/* the hyper-parameters of the run: steps optimiser steps, epochs of the
 * batches in order, accum micro-batches per step (fewer for an epoch's
 * last step when accum does not divide the number of batches) */
typedef struct {
    int steps;
    double lr0, weight_decay, max_norm;
    int64_t warmup;
    int accum, epochs;
} hparams;

/* the optimiser steps of an epoch of nbatch batches */
static int steps_per_epoch(int nbatch, int accum)
{
    return (nbatch + accum - 1) / accum;
}

/* step s (0-based) trains batches *first .. *first + return - 1 */
static int step_batches(int s, int nbatch, int accum, int *first)
{
    *first = s % steps_per_epoch(nbatch, accum) * accum;
    return nbatch - *first < accum ? nbatch - *first : accum;
}

static double relerr(double got, double want)
{
    return fabs(got - want) / fmax(fabs(want), 1e-3);
}

static double num(json_t *j)
{
    return json_number_value(j);
}

static int load_batch(batch *bt, json_t *j)
{
    bt->B = (int)json_integer_value(json_object_get(j, "B"));
    bt->T = (int)json_integer_value(json_object_get(j, "T"));
    if (bt->B < 1 || bt->T < 1)
        return -1;
    size_t n = (size_t)bt->B * bt->T;
    bt->ids = calloc(n, sizeof *bt->ids);
    bt->labels = calloc(n, sizeof *bt->labels);
    bt->mask = calloc(n, 1);
    const char *keys[3] = {"ids", "mask", "labels"};
    for (int k = 0; k < 3; k++) {
        json_t *a = json_object_get(j, keys[k]);
        for (int b = 0; b < bt->B; b++)
            for (int t = 0; t < bt->T; t++) {
                long long v = json_integer_value(json_array_get(json_array_get(a, (size_t)b), (size_t)t));
                size_t i = (size_t)b * bt->T + t;
                if (k == 0)
                    bt->ids[i] = (int32_t)v;
                else if (k == 1)
                    bt->mask[i] = (uint8_t)v;
                else
                    bt->labels[i] = (int32_t)v;
            }
    }
    return 0;
}

static void free_batch(batch *bt)
{
    free(bt->ids);
    free(bt->labels);
    free(bt->mask);
}

/* hp->steps supervised steps over the batches cycled in order, as
 * sup_golden.py takes them: zero_grad; for each of the step's k
 * micro-batches (step_batches), forward (dropout off), mean token
 * cross-entropy scaled by 1/k, backward (accumulating); clip the global
 * norm, AdamW with the decay and no-decay groups of transformers' Trainer
 * at the lr of the linear warm-up schedule.  Fills loss[s] (the mean of the
 * micro-batches' losses, before the update), norm[s] (clip's return) and
 * lr[s] for s = 0 .. steps-1; m's parameters end after the last step.
 * Returns 0, or -1 with a message. */
static int run_steps(lm_train_model *m, const batch *bt, int nbatch, const hparams *hp, double *loss,
                     double *norm, double *lr, char *err, size_t errlen)
{
    int maxB = 0, maxT = 0;
    for (int i = 0; i < nbatch; i++) {
        maxB = bt[i].B > maxB ? bt[i].B : maxB;
        maxT = bt[i].T > maxT ? bt[i].T : maxT;
    }
    lm_train_state *s = lm_train_state_new(m, maxB, maxT, err, errlen);
    if (!s)
        return -1;
    lm_optim_seg *seg = calloc((size_t)m->nparams, sizeof *seg);
    for (int i = 0; i < m->nparams; i++) {
        seg[i].offset = m->params[i].offset;
        seg[i].len = m->params[i].numel;
        seg[i].decay = lm_optim_decays(m->params[i].name);
    }
    lm_adamw_hparams ah = LM_ADAMW_DEFAULTS;
    ah.weight_decay = hp->weight_decay;
    lm_adamw opt;
    lm_adamw_init(&opt, &ah, seg, (size_t)m->nparams);
    lm_sched sch = {LM_SCHED_LINEAR, hp->lr0, hp->warmup, hp->steps, 0.5};
    int rc = 0;
    for (int k = 1; k <= hp->steps && rc == 0; k++) {
        int first, n = step_batches(k - 1, nbatch, hp->accum, &first);
        lm_train_zero_grad(m);
        loss[k - 1] = 0;
        for (int j = 0; j < n && rc == 0; j++) {
            const batch *b = &bt[first + j];
            double l;
            if (lm_train_forward(m, s, b->ids, b->mask, b->B, b->T, NULL, err, errlen) != 0 ||
                lm_train_ce_loss(m, s, b->labels, (float)(1.0 / n), &l, NULL, err, errlen) != 0) {
                rc = -1;
                break;
            }
            loss[k - 1] += l / n;
            lm_train_backward(m, s, NULL, 0);
        }
        if (rc != 0)
            break;
        norm[k - 1] = lm_clip_grad_norm(m->grads_mem, seg, (size_t)m->nparams, hp->max_norm);
        lr[k - 1] = lm_sched_lr(&sch, k);
        lm_adamw_step(&opt, m->params_mem, m->grads_mem, lr[k - 1]);
    }
    lm_adamw_free(&opt);
    free(seg);
    lm_train_state_free(s);
    return rc;
}

/* sampled parameters: the initial ones equal the golden's (same weights),
 * the final ones within TOL of torch's (key biases: see the top) */
static void check_params(const char *name, const lm_train_model *m, json_t *params, const float *init,
                         double lrsum)
{
    int bad_init = 0, bad = 0, bad_key = 0, missing = 0, entries = 0, keys = 0, bad_decay = 0;
    double maxe = 0, maxe64 = 0, maxkey = 0;
    const char *worst = "";
    for (size_t i = 0; i < json_array_size(params); i++) {
        json_t *pj = json_array_get(params, i);
        const char *pname = json_string_value(json_object_get(pj, "name"));
        const lm_train_param *p = pname ? lm_train_param_find(m, pname) : NULL;
        if (!p) {
            printf("# %s: no table row for %s\n", name, pname ? pname : "(null)");
            missing++;
            continue;
        }
        if (lm_optim_decays(pname) != (int)json_integer_value(json_object_get(pj, "decay"))) {
            printf("# %s: %s: lm_optim_decays says %d, transformers' Trainer the other\n", name, pname,
                   lm_optim_decays(pname));
            bad_decay++;
        }
        int is_key = strstr(pname, "attention.self.key.bias") != NULL;
        json_t *idx = json_object_get(pj, "idx"), *ji = json_object_get(pj, "init"),
               *jf = json_object_get(pj, "final"), *jf64 = json_object_get(pj, "final64");
        for (size_t j = 0; j < json_array_size(idx); j++) {
            size_t k = (size_t)json_integer_value(json_array_get(idx, j));
            if (k >= p->numel) {
                printf("# %s: %s: index %zu out of %zu\n", name, pname, k, p->numel);
                bad++;
                continue;
            }
            double got = m->params_mem[p->offset + k], w0 = num(json_array_get(ji, j)),
                   w = num(json_array_get(jf, j)), w64 = num(json_array_get(jf64, j));
            if ((double)init[p->offset + k] != w0) {
                printf("# %s: %s[%zu] starts at %.9g, torch at %.9g\n", name, pname, k, init[p->offset + k],
                       w0);
                bad_init++;
            }
            if (is_key) {
                keys++;
                double d = fmax(fabs(got - w0), fabs(w - w0));
                maxkey = fmax(maxkey, d);
                if (d > 1.1 * lrsum) {
                    printf("# %s: %s[%zu] moved from %.9g to %.9g, torch to %.9g\n", name, pname, k, w0, got,
                           w);
                    bad_key++;
                }
                continue;
            }
            entries++;
            double e = relerr(got, w);
            maxe64 = fmax(maxe64, relerr(got, w64));
            if (e > maxe) {
                maxe = e;
                worst = pname;
            }
            if (e > TOL) {
                printf("# %s: %s[%zu] = %.9g after the steps, torch %.9g (float64 %.9g)\n", name, pname, k,
                       got, w, w64);
                bad++;
            }
        }
    }
    ok(missing == 0 && (int)json_array_size(params) == m->nparams,
       "%s: the %d tensors of the table are torch's named_parameters", name, m->nparams);
    ok(bad_decay == 0, "%s: lm_optim_decays puts every tensor in the Trainer's parameter group", name);
    ok(bad_init == 0 && entries > 0, "%s: the sampled initial weights equal torch's", name);
    ok(bad == 0 && entries > 0, "%s: %d sampled parameters after the steps within %g of torch (max %.3g, %s)",
       name, entries, TOL, maxe, worst);
    printf("# %s: the same against torch's float64 run: max %.3g\n", name, maxe64);
    ok(bad_key == 0 && keys > 0,
       "%s: %d sampled key-bias entries (zero true gradient) moved at most %.3g <= %.3g", name, keys, maxkey,
       1.1 * lrsum);
}

/* what the steps gave: loss[s] (before the update), norm[s] (before
 * clipping) and lr[s] of step s + 1 */
typedef struct {
    double loss[MAXSTEPS], norm[MAXSTEPS], lr[MAXSTEPS];
} trace;

/* compares the steps tr of model m (now after them, init before them)
 * with the golden run root ("loss", "loss64", "norm", "lr", "params");
 * step s trained the batches of step s - period; name labels the checks */
static void compare(const char *name, const lm_train_model *m, json_t *root, const float *init,
                    const trace *tr, int steps, int period)
{
    json_t *jloss = json_object_get(root, "loss"), *jloss64 = json_object_get(root, "loss64"),
           *jnorm = json_object_get(root, "norm"), *jlr = json_object_get(root, "lr");
    double el = 0, el64 = 0, en = 0, elr = 0, lrsum = 0;
    int wl = 0;
    for (int k = 0; k < steps; k++) {
        double wloss = num(json_array_get(jloss, (size_t)k)), e = fabs(tr->loss[k] - wloss) / fabs(wloss);
        if (e > el) {
            el = e;
            wl = k + 1;
        }
        el64 = fmax(el64, fabs(tr->loss[k] - num(json_array_get(jloss64, (size_t)k))) /
                              fabs(num(json_array_get(jloss64, (size_t)k))));
        en = fmax(en, relerr(tr->norm[k], num(json_array_get(jnorm, (size_t)k))));
        elr = fmax(elr, relerr(tr->lr[k], num(json_array_get(jlr, (size_t)k))));
        lrsum += tr->lr[k];
        printf("# %s: step %2d: loss %.8f torch %.8f, norm %.6f torch %.6f, lr %.6g\n", name, k + 1,
               tr->loss[k], wloss, tr->norm[k], num(json_array_get(jnorm, (size_t)k)), tr->lr[k]);
    }
    ok(elr <= 1e-12, "%s: the lr of every step is torch's (max relative error %.3g)", name, elr);
    ok(el <= TOL, "%s: the loss of every step within %g of torch's: max relative error %.3g (step %d)", name,
       TOL, el, wl);
    printf("# %s: the same against torch's float64 run: %.3g\n", name, el64);
    ok(en <= TOL, "%s: the clipped gradient norm of every step within %g of torch's: max %.3g", name, TOL,
       en);
    ok(tr->loss[steps - 1] < tr->loss[(steps - 1) % period],
       "%s: the loss on the last batches fell (%.4f at step %d, %.4f at step %d)", name,
       tr->loss[(steps - 1) % period], (steps - 1) % period + 1, tr->loss[steps - 1], steps);
    check_params(name, m, json_object_get(root, "params"), init, lrsum);
}

/* runs the steps with the primitives and compares them with the golden */
static int against_torch(const char *name, lm_train_model *m, json_t *root, const batch *bt, int nbatch,
                         const hparams *hp, trace *tr)
{
    char err[512] = "";
    float *init = malloc(m->num_params * sizeof *init);
    memcpy(init, m->params_mem, m->num_params * sizeof *init);
    int rc = run_steps(m, bt, nbatch, hp, tr->loss, tr->norm, tr->lr, err, sizeof err);
    ok(rc == 0, "%s: %d steps run %s", name, hp->steps, err);
    if (rc == 0)
        compare(name, m, root, init, tr, hp->steps, steps_per_epoch(nbatch, hp->accum));
    free(init);
    return rc;
}

/* The golden's batches as taco windows: window b * B + r is row r of batch
 * b, its real (unmasked) tokens with their labels; so that B windows a
 * micro-batch, in this order, padded to their longest, are the batches. */
static void golden_windows(lm_taco_windows *d, const batch *bt, int nbatch)
{
    memset(d, 0, sizeof *d);
    size_t nwin = 0, ntok = 0;
    for (int i = 0; i < nbatch; i++) {
        nwin += (size_t)bt[i].B;
        ntok += (size_t)bt[i].B * (size_t)bt[i].T;
    }
    d->ids = calloc(ntok, sizeof *d->ids);
    d->labels = calloc(ntok, sizeof *d->labels);
    d->off = calloc(nwin + 1, sizeof *d->off);
    d->rec = calloc(nwin, sizeof *d->rec);
    d->tokcap = ntok;
    d->wincap = nwin;
    for (int i = 0; i < nbatch; i++)
        for (int r = 0; r < bt[i].B; r++) {
            for (int t = 0; t < bt[i].T; t++) {
                size_t k = (size_t)r * (size_t)bt[i].T + (size_t)t;
                if (!bt[i].mask[k])
                    continue;
                d->ids[d->ntok] = bt[i].ids[k];
                d->labels[d->ntok] = bt[i].labels[k];
                if (bt[i].labels[k] == 0 || bt[i].labels[k] == 1)
                    d->nlabel[bt[i].labels[k]]++;
                d->ntok++;
            }
            d->rec[d->nwin] = d->nwin;
            d->off[++d->nwin] = d->ntok;
        }
}

/* The same steps as against_torch, run by taco-train's trainer
 * (lm_taco_sup_step) on the golden's batches as windows, unshuffled:
 * hp->epochs epochs of nbatch micro-batches of B windows, hp->accum
 * micro-batches per optimiser step, the linear schedule over all of them,
 * dropout off.  micro: torch's loss of every micro-batch, in order, for
 * the epochs' training losses.  Takes m over.  prim (may be NULL): the
 * primitives' run, ending at the weights prim_w, to print how far the
 * trainer is from it. */
static void trainer_against_torch(const char *name, lm_train_model *m, json_t *root, json_t *micro,
                                  const batch *bt, int nbatch, const hparams *hp, const trace *prim,
                                  const float *prim_w)
{
    char err[512] = "";
    int B = bt[0].B, maxT = 0, same_B = 1, spe = steps_per_epoch(nbatch, hp->accum);
    for (int i = 0; i < nbatch; i++) {
        same_B &= bt[i].B == B;
        maxT = bt[i].T > maxT ? bt[i].T : maxT;
    }
    if (!ok(same_B && hp->steps == hp->epochs * spe && (int)json_array_size(micro) == hp->epochs * nbatch,
            "%s: the golden's batches fit the trainer (%d batches of %d windows, %d epochs of %d steps)",
            name, nbatch, B, hp->epochs, spe)) {
        lm_train_model_free(m);
        return;
    }
    lm_taco_windows d;
    golden_windows(&d, bt, nbatch);
    size_t *idx = calloc(d.nwin, sizeof *idx);
    for (size_t i = 0; i < d.nwin; i++)
        idx[i] = i;
    lm_taco_sup_opts o;
    lm_taco_sup_opts_default(&o);
    o.epochs = hp->epochs;
    o.batch = B;
    o.accum = hp->accum;
    o.lr = hp->lr0;
    o.weight_decay = hp->weight_decay;
    o.max_grad_norm = hp->max_norm;
    o.sched = LM_SCHED_LINEAR;
    o.warmup = hp->warmup;
    o.dropout = 0;
    o.shuffle = 0;
    float *init = malloc(m->num_params * sizeof *init);
    memcpy(init, m->params_mem, m->num_params * sizeof *init);
    lm_taco_sup *t =
        lm_taco_sup_new(m, &o, &d, idx, d.nwin, (int32_t)m->cfg.pad_token_id, maxT, err, sizeof err);
    if (!ok(t != NULL, "%s: a trainer of %zu windows %s", name, d.nwin, err))
        lm_train_model_free(m);
    trace tr;
    int rc = t ? 0 : -1, bad_batch = 0, bad_end = 0, nepoch = 0;
    double eloss = 0;
    for (int k = 0; k < hp->steps && rc == 0; k++) {
        lm_taco_step_info info;
        rc = lm_taco_sup_step(t, &info, err, sizeof err);
        if (rc != 0)
            break;
        tr.loss[k] = info.loss;
        tr.norm[k] = info.grad_norm;
        tr.lr[k] = info.lr;
        /* the micro-batches were the golden's batches first .. first + n - 1 */
        int first, n = step_batches(k, nbatch, hp->accum, &first);
        size_t tokens = 0, positions = 0;
        for (int j = 0; j < n; j++) {
            const batch *b = &bt[first + j];
            for (size_t i = 0; i < (size_t)b->B * (size_t)b->T; i++) {
                tokens += b->labels[i] == 0 || b->labels[i] == 1;
                positions += b->mask[i];
            }
        }
        if (info.step != k + 1 || info.epoch != k / spe + 1 || info.tokens != tokens ||
            info.positions != positions) {
            printf("# %s: step %lld (epoch %d): %zu tokens, %zu positions; the golden's step %d (epoch %d): "
                   "%zu, "
                   "%zu\n",
                   name, (long long)info.step, info.epoch, info.tokens, info.positions, k + 1, k / spe + 1,
                   tokens, positions);
            bad_batch++;
        }
        bad_end += info.epoch_end != ((k + 1) % spe == 0);
        if (info.epoch_end && info.epoch >= 1 && info.epoch <= hp->epochs) {
            /* the epoch's training loss: the mean of torch's micro-batch losses */
            double want = 0;
            for (int i = 0; i < nbatch; i++)
                want += num(json_array_get(micro, (size_t)((info.epoch - 1) * nbatch + i))) / nbatch;
            eloss = fmax(eloss, fabs(lm_taco_sup_epoch_loss(t) - want) / fabs(want));
            nepoch++;
        }
    }
    if (t) {
        ok(rc == 0 && lm_taco_sup_done(t) && t->total_steps == hp->steps,
           "%s: %d steps (%lld planned) run to the end %s", name, hp->steps, (long long)t->total_steps, err);
        ok(rc == 0 && bad_batch == 0 && bad_end == 0,
           "%s: every step trained the golden's batches, in order, %d epochs of %d in %d steps", name,
           o.epochs, nbatch, spe);
        ok(rc == 0 && nepoch == hp->epochs && eloss <= TOL,
           "%s: the training loss of each of the %d epochs within %g of torch's: max relative error %.3g",
           name, nepoch, TOL, eloss);
        if (rc == 0)
            compare(name, t->m, root, init, &tr, hp->steps, spe);
        if (rc == 0 && prim) {
            double dl = 0, dn = 0, dw = 0;
            for (int k = 0; k < hp->steps; k++) {
                dl = fmax(dl, fabs(tr.loss[k] - prim->loss[k]));
                dn = fmax(dn, fabs(tr.norm[k] - prim->norm[k]));
            }
            for (size_t i = 0; i < t->m->num_params; i++)
                dw = fmax(dw, fabs((double)t->m->params_mem[i] - prim_w[i]));
            printf("# %s: against the primitives' run: losses %.3g, norms %.3g, all %zu weights %.3g apart\n",
                   name, dl, dn, t->m->num_params, dw);
        }
    }
    lm_taco_sup_free(t);
    free(init);
    free(idx);
    lm_taco_windows_free(&d);
}

/* the golden's run (root or its "accum" object) hp by the primitives
 * (checks named label) and by the trainer (label with " lm_taco_sup_step"
 * after the model's name), each from the model's initial weights */
static void both_runs(const char *name, const char *suffix, json_t *run, json_t *micro, const batch *bt,
                      int nbatch, const hparams *hp)
{
    char path[256], err[512] = "", label[64], tname[96];
    snprintf(path, sizeof path, "testdata/models/%s", name);
    snprintf(label, sizeof label, "%s%s", name, suffix);
    snprintf(tname, sizeof tname, "%s lm_taco_sup_step%s", name, suffix);
    lm_train_model *m = lm_train_model_load(path, err, sizeof err);
    if (!ok(m != NULL, "%s: model loads %s", label, err))
        return;
    trace prim;
    int prc = against_torch(label, m, run, bt, nbatch, hp, &prim);
    /* the same steps by the trainer, from the same initial weights */
    lm_train_model *m2 = lm_train_model_load(path, err, sizeof err);
    if (ok(m2 != NULL, "%s: model loads again %s", tname, err))
        trainer_against_torch(tname, m2, run, micro, bt, nbatch, hp, prc == 0 ? &prim : NULL, m->params_mem);
    lm_train_model_free(m);
}

/* the golden's "accum" object as a run for compare: its losses, norms and
 * lrs, and root's "params" with its final values; NULL when malformed.
 * hp gets its steps, accumulation, epochs and clipping norm. */
static json_t *accum_run(json_t *root, json_t *acc, hparams *hp)
{
    json_t *params = json_object_get(root, "params"), *ap = json_object_get(acc, "params");
    hp->steps = (int)json_integer_value(json_object_get(acc, "steps"));
    hp->accum = (int)json_integer_value(json_object_get(acc, "k"));
    hp->epochs = (int)json_integer_value(json_object_get(acc, "epochs"));
    hp->max_norm = num(json_object_get(acc, "max_norm"));
    const char *keys[4] = {"loss", "loss64", "norm", "lr"};
    if (hp->steps < 1 || hp->steps > MAXSTEPS || hp->accum < 1 || hp->epochs < 1 || !(hp->max_norm > 0) ||
        json_array_size(ap) != json_array_size(params))
        return NULL;
    json_t *run = json_object();
    for (int i = 0; i < 4; i++) {
        json_t *a = json_object_get(acc, keys[i]);
        if ((int)json_array_size(a) != hp->steps) {
            json_decref(run);
            return NULL;
        }
        json_object_set(run, keys[i], a);
    }
    json_t *merged = json_array();
    for (size_t i = 0; i < json_array_size(params); i++) {
        json_t *p = json_deep_copy(json_array_get(params, i)), *q = json_array_get(ap, i);
        const char *n = json_string_value(json_object_get(p, "name")),
                   *nq = json_string_value(json_object_get(q, "name"));
        if (!n || !nq || strcmp(n, nq) != 0) {
            json_decref(p);
            json_decref(merged);
            json_decref(run);
            return NULL;
        }
        json_object_set(p, "final", json_object_get(q, "final"));
        json_object_set(p, "final64", json_object_get(q, "final64"));
        json_array_append_new(merged, p);
    }
    json_object_set_new(run, "params", merged);
    return run;
}

static void family(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "testdata/golden/sup/%s.json", name);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        ok(0, "%s: golden loads: %s", name, je.text);
        return;
    }
    hparams hp = {(int)json_integer_value(json_object_get(root, "steps")),
                  num(json_object_get(root, "lr0")),
                  num(json_object_get(root, "weight_decay")),
                  num(json_object_get(root, "max_norm")),
                  (int64_t)json_integer_value(json_object_get(root, "warmup")),
                  1,
                  0};
    json_t *jb = json_object_get(root, "batches"), *jloss = json_object_get(root, "loss"),
           *jnorm = json_object_get(root, "norm"), *jlr = json_object_get(root, "lr");
    int nbatch = (int)json_array_size(jb);
    batch bt[MAXBATCH] = {{0}};
    int okb = hp.steps >= 1 && hp.steps <= MAXSTEPS && nbatch >= 1 && nbatch <= MAXBATCH &&
              (int)json_array_size(jloss) == hp.steps && (int)json_array_size(jnorm) == hp.steps &&
              (int)json_array_size(jlr) == hp.steps &&
              (int)json_array_size(json_object_get(root, "loss64")) == hp.steps;
    for (int i = 0; okb && i < nbatch; i++)
        okb = load_batch(&bt[i], json_array_get(jb, (size_t)i)) == 0;
    if (ok(okb, "%s: golden: %d steps over %d batches", name, hp.steps, nbatch)) {
        /* one micro-batch per step: the steps cycle through the batches */
        hp.epochs = hp.steps / nbatch;
        both_runs(name, "", root, jloss, bt, nbatch, &hp);
        /* accumulation */
        json_t *acc = json_object_get(root, "accum");
        hparams ha = hp;
        json_t *run = accum_run(root, acc, &ha);
        char suffix[32];
        snprintf(suffix, sizeof suffix, " accum %d", ha.accum);
        if (ok(run != NULL, "%s%s: golden: %d steps, %d epochs of %d batches", name, suffix, ha.steps,
               ha.epochs, nbatch))
            both_runs(name, suffix, run, json_object_get(acc, "micro_loss"), bt, nbatch, &ha);
        json_decref(run);
    }
    for (int i = 0; i < nbatch && i < MAXBATCH; i++)
        free_batch(&bt[i]);
    json_decref(root);
}

int main(void)
{
    family("tiny-bert");
    family("tiny-xlmr");
    return tap_done();
}
