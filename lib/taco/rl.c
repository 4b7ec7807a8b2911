/* rl.c - TACO-RL's rollouts, reward and policy-gradient step (rl.h) */
#include "taco/rl.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/diag.h"
#include "core/fs.h"
#include "core/rng.h"
#include "core/svg.h"
#include "taco/sup.h"
#include "text/metrics.h"

void lm_taco_reward_opts_default(lm_taco_reward_opts *o)
{
    o->rate = 0.5;
    o->relax = 30;
    o->over = 0.1;
    o->penalty_over = -0.4;
    o->penalty_relax = -0.1;
    o->metric = LM_TACO_METRIC_BLEU;
    o->first_line = 1;
}

int lm_taco_reward_branch(const lm_taco_reward_opts *o, size_t lo, size_t lc)
{
    if ((double)lc <= o->over * (double)lo)
        return LM_TACO_R_OVER;
    if (fabs((double)lc - o->rate * (double)lo) > o->relax)
        return LM_TACO_R_RELAX;
    return LM_TACO_R_METRIC;
}

static int py_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

void lm_taco_pred_cut(const char *s, size_t n, size_t *off, size_t *len)
{
    size_t a = 0;
    while (a < n && s[a] == '\n')
        a++;
    size_t b = a;
    while (b < n && s[b] != '\n')
        b++;
    while (a < b && py_space((unsigned char)s[a]))
        a++;
    while (b > a && py_space((unsigned char)s[b - 1]))
        b--;
    *off = a;
    *len = b - a;
}

double lm_taco_reward_metric(const lm_taco_reward_opts *o, const char *pred, size_t pn, const char *ref,
                             size_t rn)
{
    if (o->first_line) {
        size_t off, len;
        lm_taco_pred_cut(pred, pn, &off, &len);
        pred += off;
        pn = len;
    }
    lm_text r = {ref, rn};
    lm_rouge rg;
    switch (o->metric) {
    case LM_TACO_METRIC_F1: return lm_squad_f1(pred, pn, &r, 1);
    case LM_TACO_METRIC_EM: return lm_squad_em(pred, pn, &r, 1);
    case LM_TACO_METRIC_ROUGE1: lm_rouge_pair(&rg, pred, pn, ref, rn, 0); return rg.r1.fmeasure;
    case LM_TACO_METRIC_ROUGE2: lm_rouge_pair(&rg, pred, pn, ref, rn, 0); return rg.r2.fmeasure;
    case LM_TACO_METRIC_ROUGEL: lm_rouge_pair(&rg, pred, pn, ref, rn, 0); return rg.rl.fmeasure;
    default: return lm_bleu_evaluate1(pred, pn, ref, rn);
    }
}

void lm_taco_pg_position(const float *p, int a, double adv, double beta, double scale, float *dl,
                         double *logp, double *ent)
{
    double p0 = p[0], p1 = p[1];
    double l0 = p0 > 0 ? log(p0) : -HUGE_VAL, l1 = p1 > 0 ? log(p1) : -HUGE_VAL;
    double h = -((p0 > 0 ? p0 * l0 : 0) + (p1 > 0 ? p1 * l1 : 0));
    *logp = a ? l1 : l0;
    *ent = h;
    /* d(-adv log p_a)/dz_k = -adv (1[k=a] - p_k); d(-beta H)/dz_k = beta p_k (log p_k + H) */
    double g0 = -adv * ((a == 0) - p0) + (p0 > 0 ? beta * p0 * (l0 + h) : 0);
    double g1 = -adv * ((a == 1) - p1) + (p1 > 0 ? beta * p1 * (l1 + h) : 0);
    dl[0] += (float)(g0 * scale);
    dl[1] += (float)(g1 * scale);
}

void lm_taco_rl_opts_default(lm_taco_rl_opts *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 4;
    o->batch = 8;
    o->lr = 1e-5;
    o->weight_decay = 0.01;
    o->max_grad_norm = 0;
    o->sched = LM_SCHED_COSINE;
    o->entropy_coeff = 0.01;
    o->baseline = LM_TACO_BASE_NONE;
    o->ema = 0.9;
    o->loss_mask = LM_TACO_MASK_REAL;
    snprintf(o->scope, sizeof o->scope, "all");
    lm_taco_reward_opts_default(&o->ro);
    o->prompt_template =
        "Summarize the provided meeting transcript (which may be compressed).\n{transcript}\nSummary:";
    o->system = "You are a helpful assistant.";
    o->max_tokens = 1500;
    lm_lingua_opts_default(&o->lo);
    o->lo.drop_consecutive = 1;
}

struct lm_taco_rl {
    lm_taco_rl_opts o;
    lm_train_model *m;
    lm_train_state *s;
    int sB, sT; /* the state's maxima */
    lm_adamw opt;
    lm_optim_seg *seg;
    size_t nseg;
    lm_sched sched;
    const lm_lingua_model *lm;
    const lm_lingua_force *force;
    lm_lingua_counter *counter;
    lm_llm *llm;
    char **prompts, **refs;
    size_t n;
    size_t *order;
    int64_t steps_per_epoch, total_steps, step;
    int epoch;
    int64_t next; /* next prompt index within the epoch's order */
    double ema_value;
    int ema_set;
    /* the rollout's forward */
    uint8_t *act;    /* [B,T] sampled actions */
    uint8_t *forced; /* [B,T] 1 where the action has no effect (lm_lingua_forced) */
    size_t *seq_len;
    size_t nseq;
    double t_forward;
    char err[512];
    int failed;
    /* history */
    double *hist; /* [step][2] reward mean, loss */
    size_t nhist, histcap;
};

static void epoch_order(lm_taco_rl *t)
{
    lm_taco_shuffle(t->order, NULL, t->n, t->o.seed, 0x726c000000000000ull | (uint64_t)t->epoch);
}

lm_taco_rl *lm_taco_rl_new(lm_train_model *m, const lm_taco_rl_opts *o, const lm_lingua_model *lm,
                           const lm_lingua_force *force, lm_lingua_counter *counter, lm_llm *llm,
                           const char *const *prompts, const char *const *refs, size_t n, char *err,
                           size_t errlen)
{
    if (n == 0) {
        lm_seterr(err, errlen, "no prompts");
        return NULL;
    }
    if (m->cfg.num_labels != 2) {
        lm_seterr(err, errlen, "a token classifier of %d labels; LLMLingua-2 needs 2", m->cfg.num_labels);
        return NULL;
    }
    if (lm_train_set_scope(m, o->scope, err, errlen) != 0)
        return NULL;
    lm_taco_rl *t = lm_xcalloc(1, sizeof *t);
    t->o = *o;
    t->o.lo.fixed = 1;
    t->o.lo.keep_above = 0.999; /* the mean of 0/1 actions is 1 iff all are 1 */
    t->o.lo.first = 0;
    t->m = m;
    t->lm = lm;
    t->force = force;
    t->counter = counter;
    t->llm = llm;
    t->n = n;
    t->prompts = lm_xcalloc(n, sizeof *t->prompts);
    t->refs = lm_xcalloc(n, sizeof *t->refs);
    for (size_t i = 0; i < n; i++) {
        t->prompts[i] = lm_xstrdup(prompts[i]);
        t->refs[i] = lm_xstrdup(refs[i]);
    }
    t->order = lm_xcalloc(n, sizeof *t->order);
    t->seg = lm_taco_segments(m, &t->nseg);
    lm_adamw_hparams hp = LM_ADAMW_DEFAULTS;
    hp.weight_decay = o->weight_decay;
    lm_adamw_init(&t->opt, &hp, t->seg, t->nseg);
    t->steps_per_epoch = (int64_t)((n + (size_t)o->batch - 1) / (size_t)o->batch);
    t->total_steps = t->steps_per_epoch * o->epochs;
    t->sched = (lm_sched){o->sched, o->lr, o->warmup, t->total_steps, 0.5};
    return t;
}

void lm_taco_rl_free(lm_taco_rl *t)
{
    if (!t)
        return;
    lm_train_state_free(t->s);
    lm_train_model_free(t->m);
    lm_adamw_free(&t->opt);
    for (size_t i = 0; i < t->n; i++) {
        free(t->prompts[i]);
        free(t->refs[i]);
    }
    free(t->prompts);
    free(t->refs);
    free(t->order);
    free(t->seg);
    free(t->act);
    free(t->forced);
    free(t->seq_len);
    free(t->hist);
    free(t);
}

int lm_taco_rl_done(const lm_taco_rl *t)
{
    return t->epoch >= t->o.epochs;
}

int64_t lm_taco_rl_total_steps(const lm_taco_rl *t)
{
    return t->total_steps;
}

const lm_train_model *lm_taco_rl_model(const lm_taco_rl *t)
{
    return t->m;
}

/* the forced positions of one sequence of ids */
static void mark_forced(const lm_taco_rl *t, const int32_t *ids, size_t n, uint8_t *forced)
{
    const char **tk = lm_xcalloc(n + 1, sizeof *tk);
    size_t *tl = lm_xcalloc(n + 1, sizeof *tl);
    for (size_t k = 0; k < n; k++) {
        tk[k] = lm_tokenizer_token(t->lm->tok, ids[k], &tl[k]);
        if (!tk[k])
            tk[k] = "", tl[k] = 0;
    }
    lm_lingua_forced(t->lm->fam, tk, tl, n, t->lm->special, t->lm->nspecial, t->force, t->o.lo.reserve_digit,
                     forced);
    free(tk);
    free(tl);
}

/* whether position k of sequence q (T positions) is in the loss */
static int in_mask(const lm_taco_rl *t, size_t q, size_t k, size_t T)
{
    if (t->o.compat || t->o.loss_mask == LM_TACO_MASK_ALL)
        return 1;
    size_t n = t->seq_len[q];
    if (k == 0 || n < 2 || k >= n - 1)
        return 0;
    return t->o.loss_mask != LM_TACO_MASK_EFFECTIVE || !t->forced[q * T + k];
}

/* the rollout's "probabilities": one forward over every chunk of the
 * batch (kept for the backward), sampled actions returned as 0/1 */
static int rollout_probs(void *ctx, size_t nseq, const int32_t *const *ids, const size_t *lens,
                         float *const *probs, char *err, size_t errlen)
{
    lm_taco_rl *t = ctx;
    size_t T = 0;
    for (size_t i = 0; i < nseq; i++)
        if (lens[i] > T)
            T = lens[i];
    if (!t->s || (int)nseq > t->sB || (int)T > t->sT) {
        lm_train_state_free(t->s);
        t->sB = (int)nseq > t->sB ? (int)nseq : t->sB;
        t->sT = (int)T > t->sT ? (int)T : t->sT;
        t->s = lm_train_state_new_on(t->m, t->sB, t->sT, t->o.device, err, errlen);
        if (!t->s)
            return -1;
    }
    size_t bt = nseq * T;
    int32_t *bid = lm_xcalloc(bt + 1, sizeof *bid);
    uint8_t *mask = lm_xcalloc(bt + 1, 1);
    for (size_t i = 0; i < nseq; i++)
        for (size_t k = 0; k < T; k++) {
            bid[i * T + k] = k < lens[i] ? ids[i][k] : t->m->cfg.pad_token_id;
            mask[i * T + k] = k < lens[i];
        }
    double c0 = lm_clock();
    int rc = lm_train_forward(t->m, t->s, bid, mask, (int)nseq, (int)T, NULL, err, errlen);
    t->t_forward += lm_clock() - c0;
    free(bid);
    free(mask);
    if (rc != 0)
        return -1;
    free(t->act);
    free(t->forced);
    free(t->seq_len);
    t->act = lm_xcalloc(bt + 1, 1);
    t->forced = lm_xcalloc(bt + 1, 1);
    t->seq_len = lm_xcalloc(nseq + 1, sizeof *t->seq_len);
    t->nseq = nseq;
    for (size_t i = 0; i < nseq; i++) {
        t->seq_len[i] = lens[i];
        lm_rng r;
        lm_rng_init(&r, t->o.seed, ((uint64_t)t->step << 24) | i);
        if (t->o.loss_mask == LM_TACO_MASK_EFFECTIVE && !t->o.compat)
            mark_forced(t, ids[i], lens[i], t->forced + i * T);
        for (size_t k = 0; k < lens[i]; k++) {
            float p1 = t->s->probs[(i * T + k) * 2 + 1];
            double u = lm_rng_uniform(&r);
            int a = t->o.rollout_greedy ? p1 > 0.5f : u < p1;
            t->act[i * T + k] = (uint8_t)a;
            probs[i][k] = (float)a;
        }
    }
    return 0;
}

static void substitute(lm_buf *out, const char *tmpl, const char *text)
{
    const char *at = strstr(tmpl, "{transcript}");
    if (!at) {
        lm_buf_adds(out, tmpl);
        return;
    }
    lm_buf_add(out, tmpl, (size_t)(at - tmpl));
    lm_buf_adds(out, text);
    lm_buf_adds(out, at + strlen("{transcript}"));
}

int lm_taco_rl_step(lm_taco_rl *t, lm_taco_rl_info *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    if (lm_taco_rl_done(t)) {
        lm_seterr(err, errlen, "training is complete");
        return -1;
    }
    if (t->next == 0)
        epoch_order(t);
    size_t first = (size_t)t->next,
           nb = t->n - first < (size_t)t->o.batch ? t->n - first : (size_t)t->o.batch;
    const size_t *idx = t->order + first;
    lm_llm_stats st0 = lm_llm_get_stats(t->llm);
    t->t_forward = 0;

    /* rollouts */
    lm_lingua_job **jobs = lm_xcalloc(nb, sizeof *jobs);
    lm_lingua_result *res = lm_xcalloc(nb, sizeof *res);
    int rc = -1;
    for (size_t i = 0; i < nb; i++) {
        const char *p = t->prompts[idx[i]];
        size_t pl = strlen(p);
        if (lm_lingua_begin(&jobs[i], t->lm, t->force, &t->o.lo, &p, &pl, 1, lm_lingua_count, t->counter, err,
                            errlen) != 0)
            goto out;
    }
    if (lm_lingua_fill(jobs, nb, rollout_probs, t, err, errlen) != 0)
        goto out;
    size_t *seq0 = lm_xcalloc(nb + 1, sizeof *seq0), *lo = lm_xcalloc(nb + 1, sizeof *lo);
    for (size_t i = 0; i < nb; i++)
        seq0[i + 1] = seq0[i] + lm_lingua_job_seqs(jobs[i], NULL);
    for (size_t i = 0; i < nb; i++) {
        /* L_o: the count over the prompt's chunk strings */
        int f = lm_lingua_job_chunk_count(jobs[i], &lo[i], err, errlen);
        if (f == 0)
            f = lm_lingua_finish(jobs[i], &res[i], err, errlen);
        jobs[i] = NULL;
        if (f != 0) {
            free(seq0), free(lo);
            goto out;
        }
    }
    size_t T = t->s ? (size_t)t->s->curT : 0;

    /* rewards: the length rules, then the LLM */
    double *R = lm_xcalloc(nb, sizeof *R);
    uint8_t *in = lm_xcalloc(nb, 1);
    int *branch = lm_xcalloc(nb, sizeof *branch);
    lm_llm_request *req = lm_xcalloc(nb, sizeof *req);
    size_t *rix = lm_xcalloc(nb, sizeof *rix), nreq = 0;
    lm_buf *text = lm_xcalloc(nb, sizeof *text);
    for (size_t i = 0; i < nb; i++) {
        branch[i] = lm_taco_reward_branch(&t->o.ro, lo[i], res[i].compressed_tokens);
        if (branch[i] == LM_TACO_R_OVER) {
            R[i] = t->o.ro.penalty_over, in[i] = 1;
            info->frac_over += 1;
            continue;
        }
        if (branch[i] == LM_TACO_R_RELAX) {
            R[i] = t->o.ro.penalty_relax, in[i] = 1;
            info->frac_relax += 1;
            if (!t->o.compat)
                continue;
        }
        substitute(&text[i], t->o.prompt_template, res[i].prompt.p ? res[i].prompt.p : "");
        req[nreq] = (lm_llm_request){t->o.system, text[i].p, t->o.max_tokens, 0.0, 1.0, 42};
        rix[nreq++] = i;
    }
    lm_llm_result *ans = lm_xcalloc(nreq + 1, sizeof *ans);
    double c0 = lm_clock();
    int lrc = nreq ? lm_llm_run(t->llm, req, nreq, ans, err, errlen) : 0;
    info->t_llm = lm_clock() - c0;
    if (lrc == 0) {
        for (size_t q = 0; q < nreq; q++) {
            size_t i = rix[q];
            if (branch[i] != LM_TACO_R_METRIC)
                continue; /* compat: called, the length rule's reward stands */
            if (ans[q].failed) {
                if (t->o.compat)
                    R[i] = 0.4, in[i] = 1;
                continue;
            }
            R[i] = lm_taco_reward_metric(&t->o.ro, ans[q].output, strlen(ans[q].output), t->refs[idx[i]],
                                         strlen(t->refs[idx[i]]));
            in[i] = 1;
        }
    }
    lm_llm_results_free(ans, nreq);
    free(ans);
    for (size_t i = 0; i < nb; i++)
        lm_buf_free(&text[i]);
    free(text);
    free(req);
    free(rix);
    if (lrc != 0) {
        free(R), free(in), free(branch), free(seq0), free(lo);
        goto out;
    }

    /* baseline and statistics */
    double sum = 0, sum2 = 0, kept = 0, ratio = 0;
    size_t nin = 0, nratio = 0;
    for (size_t i = 0; i < nb; i++) {
        if (lo[i])
            kept += (double)res[i].compressed_tokens / (double)lo[i];
        if (res[i].compressed_tokens)
            ratio += (double)lo[i] / (double)res[i].compressed_tokens, nratio++;
        if (!in[i])
            continue;
        sum += R[i], sum2 += R[i] * R[i], nin++;
    }
    double mean = nin ? sum / (double)nin : 0;
    double b = 0;
    if (t->o.baseline == LM_TACO_BASE_MEAN)
        b = mean;
    else if (t->o.baseline == LM_TACO_BASE_EMA && t->ema_set)
        b = t->ema_value;
    if (t->o.baseline == LM_TACO_BASE_EMA && nin) {
        t->ema_value = t->ema_set ? t->o.ema * t->ema_value + (1 - t->o.ema) * mean : mean;
        t->ema_set = 1;
    }

    /* the loss over the masked positions of the prompts with a reward */
    size_t M = 0;
    for (size_t i = 0; i < nb; i++)
        if (in[i])
            for (size_t q = seq0[i]; q < seq0[i + 1]; q++)
                for (size_t k = 0; k < T; k++)
                    M += (size_t)in_mask(t, q, k, T);
    double loss = 0, ent = 0;
    if (M > 0) {
        float *dl = t->s->dlogits;
        memset(dl, 0, (size_t)t->s->curB * T * 2 * sizeof *dl);
        double scale = 1.0 / (double)M;
        for (size_t i = 0; i < nb; i++) {
            if (!in[i])
                continue;
            double adv = R[i] - b;
            for (size_t q = seq0[i]; q < seq0[i + 1]; q++) {
                for (size_t k = 0; k < T; k++) {
                    if (!in_mask(t, q, k, T))
                        continue;
                    size_t at = q * T + k;
                    double lp, h;
                    lm_taco_pg_position(t->s->probs + at * 2, t->act[at], adv, t->o.entropy_coeff, scale,
                                        dl + at * 2, &lp, &h);
                    loss += -adv * lp * scale - t->o.entropy_coeff * h * scale;
                    ent += h;
                }
            }
        }
        lm_train_zero_grad(t->m);
        double c1 = lm_clock();
        if (lm_train_backward(t->m, t->s, err, errlen) != 0) {
            free(R), free(in), free(branch), free(seq0), free(lo);
            goto out;
        }
        info->t_backward = lm_clock() - c1;
        if (t->o.max_grad_norm > 0)
            info->grad_norm = lm_clip_grad_norm(t->m->grads_mem, t->seg, t->nseg, t->o.max_grad_norm);
        else
            info->grad_norm = lm_grad_norm(t->m->grads_mem, t->seg, t->nseg);
    }
    info->lr = lm_sched_lr(&t->sched, t->step + 1);
    if (M > 0) /* else nothing to learn from: no update, the schedule still advances */
        lm_adamw_step(&t->opt, t->m->params_mem, t->m->grads_mem, info->lr);
    lm_llm_stats st1 = lm_llm_get_stats(t->llm);
    t->step++;
    t->next += (int64_t)nb;
    info->step = t->step;
    info->epoch = t->epoch + 1;
    info->loss = loss;
    info->reward_mean = mean;
    info->reward_std = nin ? sqrt(fmax(0, sum2 / (double)nin - mean * mean)) : 0;
    info->entropy_mean = M ? ent / (double)M : 0;
    info->kept_rate = kept / (double)nb;
    info->comp_ratio_mean = nratio ? ratio / (double)nratio : 0;
    info->baseline = b;
    info->frac_over /= (double)nb;
    info->frac_relax /= (double)nb;
    info->prompts = nb;
    info->in_loss = nin;
    info->positions = M;
    info->llm_calls = st1.calls - st0.calls;
    info->llm_failures = st1.failures - st0.failures;
    info->llm_cache_hits = st1.cache_hits - st0.cache_hits;
    info->t_forward = t->t_forward;
    if ((size_t)t->next >= t->n) {
        info->epoch_end = 1;
        t->epoch++;
        t->next = 0;
    }
    lm_grow(t->hist, t->histcap, 2 * t->nhist + 2);
    t->hist[2 * t->nhist] = mean;
    t->hist[2 * t->nhist + 1] = loss;
    t->nhist++;
    free(R), free(in), free(branch), free(seq0), free(lo);
    rc = 0;
out:
    for (size_t i = 0; i < nb; i++) {
        lm_lingua_job_free(jobs[i]);
        lm_lingua_result_free(&res[i]);
    }
    free(jobs);
    free(res);
    return rc;
}

int lm_taco_rl_plot(const lm_taco_rl *t, const char *path, char *err, size_t errlen)
{
    size_t n = t->nhist;
    double *x = lm_xcalloc(n + 1, sizeof *x), *r = lm_xcalloc(n + 1, sizeof *r),
           *l = lm_xcalloc(n + 1, sizeof *l);
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)(i + 1);
        r[i] = t->hist[2 * i];
        l[i] = t->hist[2 * i + 1];
    }
    lm_plot *p[2] = {lm_plot_new("taco-train rl: mean reward", "step", "reward"),
                     lm_plot_new("Policy loss", "step", "loss")};
    lm_plot_series(p[0], "mean reward", x, r, n, 1);
    lm_plot_series(p[1], "loss", x, l, n, 0);
    int rc = lm_taco_svg(path, p, 2, err, errlen);
    lm_plot_free(p[0]);
    lm_plot_free(p[1]);
    free(x), free(r), free(l);
    return rc;
}

#define RL_FORMAT "lmkit taco-train rl checkpoint 1"

int lm_taco_rl_save(const lm_taco_rl *t, const char *dir, const char *base_dir, const char *run_json,
                    char *err, size_t errlen)
{
    json_error_t je;
    json_t *run = json_loads(run_json ? run_json : "{}", 0, &je);
    if (!run) {
        lm_seterr(err, errlen, "run description: %s", je.text);
        return -1;
    }
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string(RL_FORMAT));
    json_object_set_new(o, "step", json_integer(t->step));
    json_object_set_new(o, "epoch", json_integer(t->epoch));
    json_object_set_new(o, "next", json_integer(t->next));
    json_object_set_new(o, "ema_set", json_boolean(t->ema_set));
    json_object_set_new(o, "ema_value", lm_taco_json_real(t->ema_value));
    json_t *h = json_array();
    for (size_t i = 0; i < t->nhist; i++) {
        json_t *x = json_array();
        json_array_append_new(x, lm_taco_json_real(t->hist[2 * i]));
        json_array_append_new(x, lm_taco_json_real(t->hist[2 * i + 1]));
        json_array_append_new(h, x);
    }
    json_object_set_new(o, "history", h);
    json_object_set_new(o, "run", run);
    char *js = json_dumps(o, JSON_INDENT(1) | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
    json_decref(o);
    int rc = lm_taco_ckpt_write(dir, base_dir, t->m, &t->opt, NULL, js, err, errlen);
    free(js);
    return rc;
}

int lm_taco_rl_restore(lm_taco_rl *t, const char *dir, char **run_json, char *err, size_t errlen)
{
    *run_json = NULL;
    size_t n = strlen(dir) + 32;
    char *path = lm_xmalloc(n);
    snprintf(path, n, "%s/trainer_state.json", dir);
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    int rc = -1;
    if (!o) {
        lm_seterr(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        goto out;
    }
    json_t *f = json_object_get(o, "format"), *st = json_object_get(o, "step"),
           *ep = json_object_get(o, "epoch");
    json_t *nx = json_object_get(o, "next"), *es = json_object_get(o, "ema_set"),
           *ev = json_object_get(o, "ema_value");
    json_t *h = json_object_get(o, "history"), *run = json_object_get(o, "run");
    if (!json_is_string(f) || strcmp(json_string_value(f), RL_FORMAT) != 0) {
        lm_seterr(err, errlen, "%s: not a checkpoint of taco-train rl (format \"%s\")", path, RL_FORMAT);
        goto out;
    }
    if (!json_is_integer(st) || !json_is_integer(ep) || !json_is_integer(nx) || !json_is_boolean(es) ||
        lm_taco_real_of(ev, &t->ema_value) != 0 || !json_is_array(h) || !json_is_object(run) ||
        json_integer_value(st) < 0 || json_integer_value(st) > t->total_steps || json_integer_value(ep) < 0 ||
        json_integer_value(ep) > t->o.epochs || json_integer_value(nx) < 0 ||
        (size_t)json_integer_value(nx) >= t->n || json_array_size(h) != (size_t)json_integer_value(st)) {
        lm_seterr(err, errlen, "%s: a field is missing or out of range for this run", path);
        goto out;
    }
    snprintf(path, n, "%s/optimizer.safetensors", dir);
    if (lm_adamw_load(&t->opt, path, err, errlen) != 0)
        goto out;
    if (t->opt.step > json_integer_value(st)) { /* a step without a loss makes no update */
        lm_seterr(err, errlen, "%s: %lld optimiser steps, but the trainer state says %lld", path,
                  (long long)t->opt.step, (long long)json_integer_value(st));
        goto out;
    }
    t->step = json_integer_value(st);
    t->epoch = (int)json_integer_value(ep);
    t->next = json_integer_value(nx);
    t->ema_set = json_is_true(es);
    t->nhist = 0;
    for (size_t i = 0; i < json_array_size(h); i++) {
        json_t *x = json_array_get(h, i);
        lm_grow(t->hist, t->histcap, 2 * t->nhist + 2);
        if (lm_taco_real_of(json_array_get(x, 0), &t->hist[2 * t->nhist]) != 0 ||
            lm_taco_real_of(json_array_get(x, 1), &t->hist[2 * t->nhist + 1]) != 0) {
            lm_seterr(err, errlen, "%s: \"history\"[%zu] is not two numbers", dir, i);
            goto out;
        }
        t->nhist++;
    }
    if (t->next > 0)
        epoch_order(t);
    char *s = json_dumps(run, JSON_COMPACT | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
    *run_json = lm_xstrdup(s);
    free(s);
    rc = 0;
out:
    json_decref(o);
    free(path);
    return rc;
}
