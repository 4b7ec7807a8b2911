/* sup.c - taco-train sup: LLMLingua-2's supervised token classification
 * (lib/taco/sup.h) on word-labelled records, with an evaluation after every
 * epoch, the best epoch's weights kept, checkpoints and an exact resume.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "taco.h"

/* clang-format off */
static const lm_opt sup_opts[] = {
    {"model", 'm', "DIR", "the model to train: an LLMLingua-2 checkpoint or an init folder (required)", "dir", OPT_MODEL},
    {"data", 'd', "FILE", "training records (JSON Lines; required)", "file", OPT_DATA},
    {"eval", 0, "FILE", "held-out records (default: --eval-fraction of --data)", "file", OPT_EVAL},
    {"eval-fraction", 0, "F", "share of --data held out when no --eval (default 0.2)", NULL, OPT_EVAL_FRACTION},
    {"out", 'o', "DIR", "the trained model folder; must not exist (required)", "dir", OPT_OUT},
    {"epochs", 0, "N", "passes over the training windows (default 10)", NULL, OPT_EPOCHS},
    {"batch-size", 'b', "N", "windows per micro-batch (default 10)", NULL, OPT_BATCH_SIZE},
    {"grad-accum", 0, "N", "micro-batches per optimiser step (default 1)", NULL, OPT_GRAD_ACCUM},
    {"lr", 0, "R", "AdamW learning rate (default 1e-5)", NULL, OPT_LR},
    {"weight-decay", 0, "R", "AdamW weight decay, not on biases and LayerNorm (default 0)", NULL, OPT_WEIGHT_DECAY},
    {"max-grad-norm", 0, "R", "clip the global gradient norm to R; 0: no clipping (default 10)", NULL, OPT_MAX_GRAD_NORM},
    {"schedule", 0, "NAME", "learning rate: constant, linear or cosine (default constant)", "choice:constant linear cosine", OPT_SCHEDULE},
    {"warmup", 0, "N", "linear warm-up over the first N steps (default 0)", NULL, OPT_WARMUP},
    {"no-dropout", 0, NULL, "train without dropout (default: the config's rates)", NULL, OPT_NO_DROPOUT},
    {"train-scope", 0, "SCOPE", "all, encoder, top:K or head (default all)", NULL, OPT_TRAIN_SCOPE},
    {"max-len", 0, "N", "tokens per window, ends included (default 512)", NULL, OPT_MAX_LEN},
    {"window", 0, "N", "alignment search window of origin/compressed records (default 150)", NULL, OPT_WINDOW},
    {"best-by", 0, "NAME", "keep the epoch of best accuracy, f1 or loss (default accuracy)", "choice:accuracy f1 loss", OPT_BEST_BY},
    {"save-every", 0, "N", "write a checkpoint every N steps (default 0: none)", NULL, OPT_SAVE_EVERY},
    {"checkpoint", 0, "DIR", "the checkpoint folder (default OUT.checkpoint)", "dir", OPT_CHECKPOINT},
    {"resume", 0, "DIR", "continue the run whose checkpoint is DIR", "dir", OPT_RESUME},
    {"plot", 0, "FILE", "write the loss and held-out curves as SVG to FILE", "outfile", OPT_PLOT},
    {0},
};
/* clang-format on */

const lm_cmd cmd_sup = {
    "taco-train sup",
    "[OPTION]...",
    "Train a token classifier on word-labelled records (LLMLingua-2's supervised training).",
    "Records give \"words\" and \"labels\", \"origin\" and \"compressed\", or \"text\" and\n"
    "\"keep_spans\" (see taco-train label).  One record per optimiser step and one per\n"
    "epoch go to standard output; the best epoch's model is written to --out.",
    NULL,
    sup_opts,
    LM_OPT_THREADS | LM_OPT_SEED | LM_OPT_DEVICE,
    NULL,
    NULL};

static int sup_opt(void *vc, int id, const char *arg)
{
    taco_ctx *c = vc;
    const lm_cmd *k = &cmd_sup;
    switch (id) {
    case OPT_MODEL: c->model = arg; break;
    case OPT_DATA: c->data = arg; break;
    case OPT_EVAL: c->eval = arg; break;
    case OPT_EVAL_FRACTION:
        c->eval_fraction = lm_opt_double(k, "eval-fraction", arg, 0, 0, 1, 1);
        c->eval_fraction_set = 1;
        break;
    case OPT_OUT: c->out = arg; break;
    case OPT_EPOCHS: c->so.epochs = (int)lm_opt_int(k, "epochs", arg, 1, 1000000); break;
    case OPT_BATCH_SIZE: c->so.batch = (int)lm_opt_int(k, "batch-size", arg, 1, 65536); break;
    case OPT_GRAD_ACCUM: c->so.accum = (int)lm_opt_int(k, "grad-accum", arg, 1, 65536); break;
    case OPT_LR: c->so.lr = lm_opt_double(k, "lr", arg, 0, 1, 10, 0); break;
    case OPT_WEIGHT_DECAY: c->so.weight_decay = lm_opt_double(k, "weight-decay", arg, 0, 0, 1, 0); break;
    case OPT_MAX_GRAD_NORM:
        c->so.max_grad_norm = lm_opt_double(k, "max-grad-norm", arg, 0, 0, HUGE_VAL, 1);
        break;
    case OPT_SCHEDULE: {
        static const lm_sched_kind kinds[] = {LM_SCHED_CONSTANT, LM_SCHED_LINEAR, LM_SCHED_COSINE};
        c->so.sched = kinds[lm_opt_choice(k, "schedule", arg, NULL)];
        break;
    }
    case OPT_WARMUP: c->so.warmup = lm_opt_int(k, "warmup", arg, 0, INT64_MAX / 2); break;
    case OPT_NO_DROPOUT: c->so.dropout = 0; break;
    case OPT_TRAIN_SCOPE:
        if (strlen(arg) >= sizeof c->so.scope)
            lm_usage_error(k, "invalid --train-scope '%s': all, encoder, top:K or head", arg);
        snprintf(c->so.scope, sizeof c->so.scope, "%s", arg);
        break;
    case OPT_MAX_LEN: c->max_len = (size_t)lm_opt_int(k, "max-len", arg, 3, 1 << 20); break;
    case OPT_WINDOW: c->window = (size_t)lm_opt_int(k, "window", arg, 1, 1 << 30); break;
    case OPT_BEST_BY: c->so.best_by = lm_opt_choice(k, "best-by", arg, NULL); break;
    case OPT_SAVE_EVERY: c->save_every = lm_opt_int(k, "save-every", arg, 0, INT64_MAX / 2); break;
    case OPT_CHECKPOINT: c->checkpoint = arg; break;
    case OPT_RESUME: c->resume = arg; break;
    case OPT_PLOT: c->plot = arg; break;
    }
    return 0;
}

/* ---- reading the records ---- */

typedef struct {
    lm_taco_text *t;
    lm_taco_windows *d;
    lm_sha256 h;
    uint64_t nrec;
} collect_ctx;

static int collect_rec(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    collect_ctx *cc = vc;
    out->suppress = 1;
    lm_taco_words w = {0};
    int rc = lm_taco_record_words(cc->t, in, &w, err);
    if (rc == LM_REC_OK) {
        char msg[512];
        if (lm_taco_windows_add(cc->d, cc->t, &w, cc->nrec, msg, sizeof msg) != 0) {
            lm_rerr_set(err, LM_NOPOS, "%s", msg);
            rc = LM_REC_BAD;
        } else {
            lm_sha256_update(&cc->h, in->text, in->len);
            lm_sha256_update(&cc->h, "\n", 1);
            cc->nrec++;
        }
    }
    lm_taco_words_free(&w);
    return rc;
}

/* reads FILE's records into d; hex gets the SHA-256 of its records' lines */
static uint64_t collect(taco_ctx *c, lm_taco_text *t, const char *file, lm_taco_windows *d, char hex[65])
{
    collect_ctx cc = {.t = t, .d = d};
    lm_sha256_init(&cc.h);
    lm_loop L = {.cmd = &cmd_sup, .common = &c->com, .fn = collect_rec, .ctx = &cc, .parallel = 0};
    char *files[1] = {(char *)file};
    int st = lm_loop_run(&L, 1, files);
    if (st != 0)
        exit(st);
    unsigned char dg[32];
    lm_sha256_final(&cc.h, dg);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", dg[i]);
    return cc.nrec;
}

/* ---- the run description a resume must match ---- */

static char *run_json(const taco_ctx *c, const char *data_hex, const char *eval_hex)
{
    static const char *const sched[] = {"constant", "constant_warmup", "linear", "cosine"};
    static const char *const best[] = {"accuracy", "f1", "loss"};
    lm_buf b = {0};
    lm_buf_printf(&b, "{\"data_sha256\":\"%s\",\"eval\":\"%s\",\"eval_sha256\":\"%s\",\"eval_fraction\":",
                  data_hex, c->eval ? "file" : "fraction", eval_hex);
    lm_buf_add_jnum(&b, c->eval ? 0 : c->eval_fraction);
    lm_buf_printf(&b, ",\"epochs\":%d,\"batch_size\":%d,\"grad_accum\":%d,\"lr\":", c->so.epochs, c->so.batch,
                  c->so.accum);
    lm_buf_add_jnum(&b, c->so.lr);
    lm_buf_adds(&b, ",\"weight_decay\":");
    lm_buf_add_jnum(&b, c->so.weight_decay);
    lm_buf_adds(&b, ",\"max_grad_norm\":");
    lm_buf_add_jnum(&b, c->so.max_grad_norm);
    lm_buf_printf(&b,
                  ",\"schedule\":\"%s\",\"warmup\":%lld,\"dropout\":%s,\"train_scope\":", sched[c->so.sched],
                  (long long)c->so.warmup, c->so.dropout ? "true" : "false");
    lm_buf_add_jstr(&b, c->so.scope, strlen(c->so.scope));
    lm_buf_printf(&b, ",\"max_len\":%zu,\"window\":%zu,\"best_by\":\"%s\",\"seed\":%llu}", c->max_len,
                  c->window, best[c->so.best_by], (unsigned long long)c->so.seed);
    char *s = lm_xstrndup(b.p, b.n);
    lm_buf_free(&b);
    return s;
}

/* ---- output records ---- */

static void step_record(lm_buf *b, const lm_taco_step_info *s)
{
    lm_buf_printf(b, "{\"step\":%lld,\"epoch\":%d", (long long)s->step, s->epoch);
    taco_num(b, "lr", s->lr);
    taco_num(b, "loss", s->loss);
    taco_num(b, "grad_norm", s->grad_norm);
    lm_buf_printf(b, ",\"tokens\":%zu", s->tokens);
    double t = s->t_forward + s->t_backward + s->t_optim;
    taco_num(b, "tokens_per_s", t > 0 ? (double)s->positions / t : 0);
    taco_num(b, "t_forward_s", s->t_forward);
    taco_num(b, "t_backward_s", s->t_backward);
    taco_num(b, "t_optim_s", s->t_optim);
    lm_buf_addc(b, '}');
    taco_emit(b);
}

static void metrics_fields(lm_buf *b, const lm_taco_metrics *m)
{
    taco_num(b, "eval_loss", m->loss);
    taco_num(b, "accuracy", m->accuracy);
    taco_num(b, "precision", m->precision);
    taco_num(b, "recall", m->recall);
    taco_num(b, "f1", m->f1);
}

int run_sup(taco_ctx *c, int argc, char **argv)
{
    lm_taco_sup_opts_default(&c->so);
    c->eval_fraction = 0.2;
    c->window = LM_ALIGN_WINDOW;
    int oi = lm_cli_parse(&cmd_sup, argc, argv, &c->com, sup_opt, c);
    const lm_cmd *k = &cmd_sup;
    taco_require(c, k, argc - oi, argv + oi, "records");
    if (c->eval && c->eval_fraction_set)
        lm_usage_error(k, "--eval FILE and --eval-fraction exclude each other");
    if (c->eval && lm_out_same(c->eval, c->data))
        lm_usage_error(k, "--eval names the same file as --data: held-out records must differ");
    struct stat st;
    if (lstat(c->out, &st) == 0)
        lm_die_hint(LM_EXIT_USAGE, "choose a new folder name",
                    "%s: already exists; the trained model is only written to a new folder", c->out);
    c->so.seed = c->com.seed;
    lm_cli_threads(&c->com);
    c->so.device = taco_device(c->com.device);

    char *ckpt = taco_checkpoint_dir(c);
    char *base = c->resume ? lm_xstrdup(c->resume) : taco_model_dir(c->model);

    char err[1024];
    lm_taco_text t;
    if (lm_taco_text_load(&t, base, c->max_len, c->window, err, sizeof err) != 0)
        lm_die(LM_EXIT_DATA, "%s", err);
    c->max_len = t.max_len;

    /* the records */
    lm_taco_windows dtrain = {0}, deval = {0};
    char hex[65], ehex[65] = "";
    uint64_t nrec = collect(c, &t, c->data, &dtrain, hex);
    if (c->eval)
        collect(c, &t, c->eval, &deval, ehex);
    if (nrec == 0)
        lm_die(LM_EXIT_DATA, "%s: no training records", c->data);
    /* the split: a seeded share of the records, unless --eval */
    uint8_t *held = lm_xcalloc(nrec, 1);
    if (!c->eval) {
        uint64_t nh = (uint64_t)floor(c->eval_fraction * (double)nrec + 0.5);
        if (nh >= nrec)
            nh = nrec - 1;
        size_t *perm = lm_xmalloc(lm_xmul(nrec, sizeof *perm));
        lm_taco_shuffle(perm, NULL, nrec, c->so.seed, 0x73706c6974ull); /* "split" */
        for (uint64_t i = 0; i < nh; i++)
            held[perm[i]] = 1;
        free(perm);
    }
    size_t *tidx = lm_xcalloc(dtrain.nwin + 1, sizeof *tidx),
           *eidx = lm_xcalloc(dtrain.nwin + deval.nwin + 1, sizeof *eidx);
    size_t nt = 0, ne = 0;
    for (size_t i = 0; i < dtrain.nwin; i++) {
        if (held[dtrain.rec[i]])
            eidx[ne++] = i;
        else
            tidx[nt++] = i;
    }
    const lm_taco_windows *ed = &dtrain;
    if (c->eval) {
        ed = &deval;
        ne = 0;
        for (size_t i = 0; i < deval.nwin; i++)
            eidx[ne++] = i;
    }
    if (nt == 0)
        lm_die(LM_EXIT_DATA, "%s: no training windows (the records have no words)", c->data);

    char *run = run_json(c, hex, ehex);
    lm_train_model *m = lm_train_model_load(base, err, sizeof err);
    if (!m)
        lm_die(LM_EXIT_DATA, "%s", err);
    if (m->cfg.num_labels != 2)
        lm_die(LM_EXIT_DATA, "%s: a token classifier of %d labels; LLMLingua-2 needs 2 (drop, keep)", base,
               m->cfg.num_labels);
    lm_taco_sup *tr = lm_taco_sup_new(m, &c->so, &dtrain, tidx, nt, t.pad, (int)c->max_len, err, sizeof err);
    if (!tr) {
        lm_train_model_free(m); /* still the caller's after a failure */
        lm_usage_error(k, "%s", err);
    }
    if (c->resume) {
        char *saved;
        if (lm_taco_sup_restore(tr, ckpt, &saved, err, sizeof err) != 0)
            lm_die(LM_EXIT_DATA, "%s", err);
        taco_check_resume(ckpt, run, saved);
        free(saved);
    }

    lm_buf b = {0};
    int tty = isatty(2);
    lm_taco_metrics last = {0};
    int have_last = 0;
    while (!lm_taco_sup_done(tr)) {
        lm_taco_step_info si;
        if (lm_taco_sup_step(tr, &si, err, sizeof err) != 0)
            lm_die(LM_EXIT_DATA, "%s", err);
        step_record(&b, &si);
        if (tty)
            fprintf(stderr, "\r%s: step %lld/%lld, epoch %d/%d, loss %.4g  ", lm_prog, (long long)si.step,
                    (long long)tr->total_steps, si.epoch, tr->o.epochs, si.loss);
        if (si.epoch_end) {
            lm_buf_printf(&b, "{\"epoch\":%d,\"step\":%lld", si.epoch, (long long)si.step);
            taco_num(&b, "train_loss", lm_taco_sup_epoch_loss(tr));
            if (ne == 0)
                lm_taco_sup_record_epoch(tr, si.epoch, NULL);
            if (ne > 0) {
                lm_taco_counts cnt;
                if (lm_taco_sup_evaluate(tr, ed, eidx, ne, &cnt, err, sizeof err) != 0)
                    lm_die(LM_EXIT_DATA, "%s", err);
                lm_taco_metrics_of(&cnt, &last);
                have_last = 1;
                metrics_fields(&b, &last);
                lm_buf_printf(&b, ",\"eval_tokens\":%zu,\"best\":%s", cnt.n,
                              lm_taco_sup_offer_best(tr, si.epoch, &last) ? "true" : "false");
                lm_taco_sup_record_epoch(tr, si.epoch, &last);
            }
            lm_buf_addc(&b, '}');
            taco_emit(&b);
        }
        if (ckpt && c->save_every > 0 && si.step % c->save_every == 0 &&
            lm_taco_sup_save(tr, ckpt, base, run, err, sizeof err) != 0)
            lm_die(LM_EXIT_USAGE, "%s", err);
    }

    if (tty)
        fprintf(stderr, "\r\033[K");
    if (c->plot && lm_taco_sup_plot(tr, c->plot, "taco-train sup", err, sizeof err) != 0)
        lm_die(LM_EXIT_USAGE, "%s", err);
    /* the model folder, with what produced it */
    lm_buf info = {0};
    lm_buf_printf(&info, "{\"mode\":\"sup\",\"lmkit\":\"%s\",\"run\":%s,\"steps\":%lld,\"best_epoch\":%d",
                  LMKIT_VERSION, run, (long long)tr->step, tr->has_best ? tr->best_epoch : tr->o.epochs);
    if (have_last)
        metrics_fields(&info, &last);
    lm_buf_addc(&info, '}');
    char *infos = lm_xstrndup(info.p, info.n);
    if (lm_taco_sup_write_model(tr, base, c->out, infos, err, sizeof err) != 0)
        lm_die(LM_EXIT_USAGE, "%s", err);
    lm_buf_printf(&b, "{\"model\":");
    lm_buf_add_jstr(&b, c->out, strlen(c->out));
    lm_buf_printf(&b, ",\"steps\":%lld,\"best_epoch\":%d}", (long long)tr->step,
                  tr->has_best ? tr->best_epoch : tr->o.epochs);
    taco_emit(&b);

    free(infos);
    lm_buf_free(&info);
    lm_buf_free(&b);
    lm_taco_sup_free(tr);
    free(run);
    free(held);
    free(tidx);
    free(eidx);
    lm_taco_windows_free(&dtrain);
    lm_taco_windows_free(&deval);
    lm_taco_text_free(&t);
    free(base);
    free(ckpt);
    lm_close_stdout();
    return 0;
}
