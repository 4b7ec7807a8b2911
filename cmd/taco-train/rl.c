/* rl.c - taco-train rl: TACO-RL, REINFORCE of an LLMLingua-2 compressor
 * with a target LLM's answers as the reward (lib/taco/rl.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/sha256.h"
#include "lingua/setup.h"
#include "taco.h"
#include "taco/rl.h"

/* clang-format off */
static const lm_opt rl_opts[] = {
    {"model", 'm', "DIR", "the compressor to train (required)", "dir", OPT_MODEL},
    {"data", 'd', "FILE", "prompts and reference answers (JSON Lines; required)", "file", OPT_DATA},
    {"out", 'o', "DIR", "the trained model folder; must not exist (required)", "dir", OPT_OUT},
    {"epochs", 0, "N", "passes over the prompts (default 4)", NULL, OPT_EPOCHS},
    {"batch-size", 'b', "N", "prompts per step (default 8)", NULL, OPT_BATCH_SIZE},
    {"lr", 0, "R", "AdamW learning rate (default 1e-5)", NULL, OPT_LR},
    {"weight-decay", 0, "R", "AdamW weight decay (default 0.01)", NULL, OPT_WEIGHT_DECAY},
    {"max-grad-norm", 0, "R", "clip the global gradient norm to R (default 0: none)", NULL, OPT_MAX_GRAD_NORM},
    {"schedule", 0, "NAME", "learning rate: constant, linear or cosine (default cosine)", "choice:constant linear cosine", OPT_SCHEDULE},
    {"warmup", 0, "N", "linear warm-up over the first N steps (default 0)", NULL, OPT_WARMUP},
    {"train-scope", 0, "SCOPE", "all, encoder, top:K or head (default all)", NULL, OPT_TRAIN_SCOPE},
    {"entropy-coeff", 0, "B", "weight of the entropy bonus (default 0.01)", NULL, OPT_ENTROPY},
    {"baseline", 0, "NAME", "reward baseline: none, mean or ema (default none)", "choice:none mean ema", OPT_BASELINE},
    {"ema", 0, "G", "weight of the past in the ema baseline (default 0.9)", NULL, OPT_EMA},
    {"loss-mask", 0, "NAME", "positions in the loss: real, effective or all (default real)", "choice:real all effective", OPT_LOSS_MASK},
    {"compression-rate", 0, "C", "target share of the original's tokens (default 0.5)", NULL, OPT_COMP_RATE},
    {"relaxation-tokens", 0, "T", "tolerance around the target, in tokens (default 30)", NULL, OPT_RELAX},
    {"over-compression", 0, "F", "at most this share of the tokens is over-compression (default 0.1)", NULL, OPT_OVER},
    {"penalty-over", 0, "R", "reward of an over-compressed prompt (default -0.4)", NULL, OPT_PEN_OVER},
    {"penalty-relax", 0, "R", "reward outside the tolerance (default -0.1)", NULL, OPT_PEN_RELAX},
    {"reward", 0, "NAME", "metric: bleu, f1, em, rouge1, rouge2 or rougeL (default bleu)", "choice:bleu f1 em rouge1 rouge2 rougeL", OPT_REWARD},
    {"truncate-pred", 0, "HOW", "first-line (default) or none: the answer scored", "choice:first-line none", OPT_TRUNCATE},
    {"keep-newlines", 0, NULL, "keep newlines in prompts (default: newline to space)", NULL, OPT_KEEP_NEWLINES},
    {"prompt-template", 0, "STR", "the LLM's prompt around {transcript}, a summary request by default", NULL, OPT_TEMPLATE},
    {"system", 0, "STR", "the system message (default \"You are a helpful assistant.\")", NULL, OPT_SYSTEM},
    {"max-tokens", 0, "N", "the LLM's answer length (default 1500)", NULL, OPT_MAX_TOKENS},
    {"reference-compat", 0, NULL, "the reference code's loss mask, failed-call reward and calls", NULL, OPT_COMPAT},
    {"make-references", 0, NULL, "ask the LLM for a missing reference answer", NULL, OPT_MAKE_REFS},
    {"llm-url", 0, "URL", "an OpenAI-compatible endpoint", NULL, OPT_LLM_URL},
    {"llm-cmd", 0, "CMD", "a co-process speaking JSON Lines instead", NULL, OPT_LLM_CMD},
    {"llm-model", 0, "NAME", "the \"model\" of the requests", NULL, OPT_LLM_MODEL},
    {"llm-key-env", 0, "VAR", "the environment variable holding the API key", NULL, OPT_LLM_KEY_ENV},
    {"llm-parallel", 0, "N", "requests in flight (default 4)", NULL, OPT_LLM_PARALLEL},
    {"llm-timeout", 0, "S", "seconds per request (default 60)", NULL, OPT_LLM_TIMEOUT},
    {"llm-retries", 0, "N", "retries of a failed HTTP request (default 3)", NULL, OPT_LLM_RETRIES},
    {"llm-cache", 0, "FILE", "answers kept by request hash, reused", "outfile", OPT_LLM_CACHE},
    {"force-tokens", 0, "LIST", "comma-separated strings always kept", NULL, OPT_FORCE_TOKENS},
    {"no-drop-consecutive", 0, NULL, "keep repeated force tokens (default: drop)", NULL, OPT_NO_DROP_CONSEC},
    {"force-reserve-digit", 0, NULL, "keep every word containing a digit", NULL, OPT_RESERVE_DIGIT},
    {"rollout", 0, "HOW", "sample (default) or greedy (p > 0.5)", "choice:sample greedy", OPT_ROLLOUT},
    {"count-encoding", 0, "FILE", "cl100k_base rank file for the token counts", "file", OPT_COUNT_ENCODING},
    {"plot", 0, "FILE", "write the reward and loss curves as SVG to FILE", "outfile", OPT_PLOT},
    {"save-every", 0, "N", "write a checkpoint every N steps (default 0: none)", NULL, OPT_SAVE_EVERY},
    {"checkpoint", 0, "DIR", "the checkpoint folder (default OUT.checkpoint)", "dir", OPT_CHECKPOINT},
    {"resume", 0, "DIR", "continue the run whose checkpoint is DIR", "dir", OPT_RESUME},
    {0},
};
/* clang-format on */

const lm_cmd cmd_rl = {
    "taco-train rl",
    "[OPTION]...",
    "TACO-RL: train a compressor by REINFORCE with a target LLM's answers as the reward.",
    "Records give \"original_prompt\" (or \"prompt\") and \"gpt_output\", the target LLM's\n"
    "answer on the original.  One record per step goes to standard output.",
    NULL,
    rl_opts,
    LM_OPT_THREADS | LM_OPT_SEED | LM_OPT_DEVICE,
    NULL,
    NULL};

typedef struct {
    const char *llm_url, *llm_cmd, *llm_model, *llm_key_env, *llm_cache, *count_path, *force_list;
    int llm_parallel, llm_retries, keep_newlines, make_refs;
    double llm_timeout;
    lm_taco_rl_opts ro;
} rl_ctx;

static rl_ctx R;

static int rl_opt(void *vc, int id, const char *arg)
{
    taco_ctx *c = vc;
    const lm_cmd *k = &cmd_rl;
    lm_taco_rl_opts *o = &R.ro;
    switch (id) {
    case OPT_MODEL: c->model = arg; break;
    case OPT_DATA: c->data = arg; break;
    case OPT_OUT: c->out = arg; break;
    case OPT_EPOCHS: o->epochs = (int)lm_opt_int(k, "epochs", arg, 1, 1000000); break;
    case OPT_BATCH_SIZE: o->batch = (int)lm_opt_int(k, "batch-size", arg, 1, 65536); break;
    case OPT_LR: o->lr = lm_opt_double(k, "lr", arg, 0, 1, 10, 0); break;
    case OPT_WEIGHT_DECAY: o->weight_decay = lm_opt_double(k, "weight-decay", arg, 0, 0, 1, 0); break;
    case OPT_MAX_GRAD_NORM:
        o->max_grad_norm = lm_opt_double(k, "max-grad-norm", arg, 0, 0, HUGE_VAL, 1);
        break;
    case OPT_SCHEDULE: {
        static const lm_sched_kind kinds[] = {LM_SCHED_CONSTANT, LM_SCHED_LINEAR, LM_SCHED_COSINE};
        o->sched = kinds[lm_opt_choice(k, "schedule", arg, NULL)];
        break;
    }
    case OPT_WARMUP: o->warmup = lm_opt_int(k, "warmup", arg, 0, INT64_MAX / 2); break;
    case OPT_TRAIN_SCOPE:
        if (strlen(arg) >= sizeof o->scope)
            lm_usage_error(k, "invalid --train-scope '%s': all, encoder, top:K or head", arg);
        snprintf(o->scope, sizeof o->scope, "%s", arg);
        break;
    case OPT_ENTROPY: o->entropy_coeff = lm_opt_double(k, "entropy-coeff", arg, 0, 0, HUGE_VAL, 1); break;
    case OPT_BASELINE: o->baseline = lm_opt_choice(k, "baseline", arg, NULL); break;
    case OPT_EMA: o->ema = lm_opt_double(k, "ema", arg, 0, 0, 1, 1); break;
    case OPT_LOSS_MASK: o->loss_mask = lm_opt_choice(k, "loss-mask", arg, NULL); break;
    case OPT_COMP_RATE: o->ro.rate = lm_opt_double(k, "compression-rate", arg, 0, 1, 1, 0); break;
    case OPT_RELAX: o->ro.relax = lm_opt_double(k, "relaxation-tokens", arg, 0, 0, HUGE_VAL, 1); break;
    case OPT_OVER: o->ro.over = lm_opt_double(k, "over-compression", arg, 0, 0, 1, 0); break;
    case OPT_PEN_OVER:
        o->ro.penalty_over = lm_opt_double(k, "penalty-over", arg, -HUGE_VAL, 1, HUGE_VAL, 1);
        break;
    case OPT_PEN_RELAX:
        o->ro.penalty_relax = lm_opt_double(k, "penalty-relax", arg, -HUGE_VAL, 1, HUGE_VAL, 1);
        break;
    case OPT_REWARD: o->ro.metric = lm_opt_choice(k, "reward", arg, NULL); break;
    case OPT_TRUNCATE: o->ro.first_line = lm_opt_choice(k, "truncate-pred", arg, NULL) == 0; break;
    case OPT_KEEP_NEWLINES: R.keep_newlines = 1; break;
    case OPT_TEMPLATE:
        if (!strstr(arg, "{transcript}"))
            lm_usage_error(k, "invalid --prompt-template: it must contain {transcript}");
        o->prompt_template = arg;
        break;
    case OPT_SYSTEM: o->system = arg; break;
    case OPT_MAX_TOKENS: o->max_tokens = (int)lm_opt_int(k, "max-tokens", arg, 1, 1 << 24); break;
    case OPT_COMPAT: o->compat = 1; break;
    case OPT_MAKE_REFS: R.make_refs = 1; break;
    case OPT_LLM_URL: R.llm_url = arg; break;
    case OPT_LLM_CMD: R.llm_cmd = arg; break;
    case OPT_LLM_MODEL: R.llm_model = arg; break;
    case OPT_LLM_KEY_ENV: R.llm_key_env = arg; break;
    case OPT_LLM_PARALLEL: R.llm_parallel = (int)lm_opt_int(k, "llm-parallel", arg, 1, 1024); break;
    case OPT_LLM_TIMEOUT: R.llm_timeout = lm_opt_double(k, "llm-timeout", arg, 0, 1, 86400, 0); break;
    case OPT_LLM_RETRIES: R.llm_retries = (int)lm_opt_int(k, "llm-retries", arg, 0, 100); break;
    case OPT_LLM_CACHE: R.llm_cache = arg; break;
    case OPT_FORCE_TOKENS: R.force_list = arg; break;
    case OPT_NO_DROP_CONSEC: o->lo.drop_consecutive = 0; break;
    case OPT_RESERVE_DIGIT: o->lo.reserve_digit = 1; break;
    case OPT_ROLLOUT: o->rollout_greedy = lm_opt_choice(k, "rollout", arg, NULL); break;
    case OPT_COUNT_ENCODING: R.count_path = arg; break;
    case OPT_PLOT: c->plot = arg; break;
    case OPT_SAVE_EVERY: c->save_every = lm_opt_int(k, "save-every", arg, 0, INT64_MAX / 2); break;
    case OPT_CHECKPOINT: c->checkpoint = arg; break;
    case OPT_RESUME: c->resume = arg; break;
    }
    return 0;
}

/* ---- the records ---- */

typedef struct {
    char **prompt, **ref; /* ref NULL: missing */
    size_t n, cap;
    int keep_newlines;
    lm_sha256 h;
} prompts;

static int rl_collect_rec(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    prompts *P = vc;
    out->suppress = 1;
    const lm_member *mp = lm_rec_get(in, "original_prompt");
    if (!mp)
        mp = lm_rec_get(in, "prompt");
    if (!mp) {
        lm_rerr_set(err, LM_NOPOS, "no \"original_prompt\" (or \"prompt\")");
        lm_rerr_hint(err, "give {\"original_prompt\": TEXT, \"gpt_output\": ANSWER}");
        return LM_REC_BAD;
    }
    if (mp->type != LM_J_STRING) {
        lm_rerr_set(err, mp->vpos, "\"%s\" must be a string, not %s", mp->key, lm_jtype_name(mp->type));
        return LM_REC_BAD;
    }
    const lm_member *mr = lm_rec_get(in, "gpt_output");
    if (mr && mr->type != LM_J_STRING && mr->type != LM_J_NULL) {
        lm_rerr_set(err, mr->vpos, "\"gpt_output\" must be a string, not %s", lm_jtype_name(mr->type));
        return LM_REC_BAD;
    }
    lm_buf b = {0};
    lm_jstr_decode(&b, in->text + mp->vpos, mp->vlen);
    if (memchr(b.p ? b.p : "", 0, b.n)) {
        lm_buf_free(&b);
        lm_rerr_set(err, mp->vpos, "\"%s\" holds a NUL character", mp->key);
        return LM_REC_BAD;
    }
    if (!P->keep_newlines)
        for (size_t i = 0; i < b.n; i++)
            if (b.p[i] == '\n')
                b.p[i] = ' ';
    lm_grow(P->prompt, P->cap, P->n + 1);
    P->ref = lm_xrealloc(P->ref, lm_xmul(P->cap, sizeof *P->ref));
    P->prompt[P->n] = lm_xstrndup(b.p ? b.p : "", b.n);
    P->ref[P->n] = NULL;
    if (mr && mr->type == LM_J_STRING) {
        lm_buf_reset(&b);
        lm_jstr_decode(&b, in->text + mr->vpos, mr->vlen);
        P->ref[P->n] = lm_xstrndup(b.p ? b.p : "", b.n);
    }
    P->n++;
    lm_buf_free(&b);
    lm_sha256_update(&P->h, in->text, in->len);
    lm_sha256_update(&P->h, "\n", 1);
    return LM_REC_OK;
}

/* splits --force-tokens LIST at commas; "\n" stands for a newline */
static size_t rl_split_list(const char *list, char ***out, size_t **lens)
{
    size_t n = 0, cap = 0;
    *out = NULL;
    *lens = NULL;
    if (!list || !*list)
        return 0;
    const char *s = list;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        lm_buf b = {0};
        for (size_t i = 0; i < l; i++) {
            if (s[i] == '\\' && i + 1 < l && s[i + 1] == 'n')
                lm_buf_addc(&b, '\n'), i++;
            else
                lm_buf_addc(&b, s[i]);
        }
        lm_grow(*out, cap, n + 1);
        *lens = lm_xrealloc(*lens, lm_xmul(cap, sizeof **lens));
        (*out)[n] = lm_xstrndup(b.p ? b.p : "", b.n);
        (*lens)[n++] = b.n;
        lm_buf_free(&b);
        if (!e)
            break;
        s = e + 1;
    }
    return n;
}

static void rl_step_record(lm_buf *b, const lm_taco_rl_info *s)
{
    lm_buf_printf(b, "{\"step\":%lld,\"epoch\":%d", (long long)s->step, s->epoch);
    taco_num(b, "lr", s->lr);
    taco_num(b, "loss", s->loss);
    taco_num(b, "reward_mean", s->reward_mean);
    taco_num(b, "reward_std", s->reward_std);
    taco_num(b, "baseline", s->baseline);
    taco_num(b, "entropy_mean", s->entropy_mean);
    taco_num(b, "kept_rate", s->kept_rate);
    taco_num(b, "comp_ratio_mean", s->comp_ratio_mean);
    taco_num(b, "frac_over", s->frac_over);
    taco_num(b, "frac_relax", s->frac_relax);
    lm_buf_printf(b, ",\"prompts\":%zu,\"in_loss\":%zu,\"positions\":%zu", s->prompts, s->in_loss,
                  s->positions);
    lm_buf_printf(b, ",\"llm_calls\":%llu,\"llm_failures\":%llu,\"llm_cache_hits\":%llu",
                  (unsigned long long)s->llm_calls, (unsigned long long)s->llm_failures,
                  (unsigned long long)s->llm_cache_hits);
    taco_num(b, "grad_norm", s->grad_norm);
    taco_num(b, "t_forward_s", s->t_forward);
    taco_num(b, "t_llm_s", s->t_llm);
    taco_num(b, "t_backward_s", s->t_backward);
    lm_buf_addc(b, '}');
    taco_emit(b);
}

/* fills the missing reference answers from the LLM on the original prompts */
static void rl_make_references(prompts *P, lm_llm *llm, const lm_taco_rl_opts *o)
{
    size_t nm = 0;
    for (size_t i = 0; i < P->n; i++)
        nm += !P->ref[i];
    if (!nm)
        return;
    lm_llm_request *req = lm_xcalloc(nm, sizeof *req);
    lm_llm_result *res = lm_xcalloc(nm, sizeof *res);
    size_t *ix = lm_xcalloc(nm, sizeof *ix), k = 0;
    lm_buf *text = lm_xcalloc(nm, sizeof *text);
    for (size_t i = 0; i < P->n; i++)
        if (!P->ref[i]) {
            const char *at = strstr(o->prompt_template, "{transcript}");
            lm_buf_add(&text[k], o->prompt_template, (size_t)(at - o->prompt_template));
            lm_buf_adds(&text[k], P->prompt[i]);
            lm_buf_adds(&text[k], at + strlen("{transcript}"));
            req[k] = (lm_llm_request){o->system, text[k].p, o->max_tokens, 0.0, 1.0, 42};
            ix[k++] = i;
        }
    char err[1024];
    if (lm_llm_run(llm, req, nm, res, err, sizeof err) != 0)
        lm_die(LM_EXIT_USAGE, "--make-references: %s", err);
    size_t failed = 0;
    for (size_t q = 0; q < nm; q++) {
        if (res[q].failed) {
            if (!failed++)
                lm_warn("--make-references: record %zu: %s", ix[q] + 1,
                        res[q].error ? res[q].error : "failed");
            continue;
        }
        P->ref[ix[q]] = lm_xstrdup(res[q].output);
    }
    if (failed)
        lm_die_hint(LM_EXIT_DATA, "rerun with --llm-cache FILE so that the answers already made are kept",
                    "--make-references: %zu of %zu calls failed", failed, nm);
    lm_llm_results_free(res, nm);
    for (size_t q = 0; q < nm; q++)
        lm_buf_free(&text[q]);
    free(text), free(req), free(res), free(ix);
}

/* the settings a resume must match */
static char *rl_run_json(const char *data_hex, const lm_taco_rl_opts *o, const char *force,
                         const char *llm_model)
{
    static const char *const sched[] = {"constant", "constant_warmup", "linear", "cosine"};
    static const char *const base[] = {"none", "mean", "ema"};
    static const char *const mask[] = {"real", "all", "effective"};
    static const char *const metric[] = {"bleu", "f1", "em", "rouge1", "rouge2", "rougeL"};
    lm_buf b = {0};
    lm_buf_printf(&b, "{\"data_sha256\":\"%s\",\"epochs\":%d,\"batch_size\":%d", data_hex, o->epochs,
                  o->batch);
    const char *nk[] = {"lr",           "weight_decay",     "max_grad_norm",     "entropy_coeff",
                        "ema",          "compression_rate", "relaxation_tokens", "over_compression",
                        "penalty_over", "penalty_relax"};
    double nv[] = {o->lr,      o->weight_decay, o->max_grad_norm, o->entropy_coeff,   o->ema,
                   o->ro.rate, o->ro.relax,     o->ro.over,       o->ro.penalty_over, o->ro.penalty_relax};
    for (size_t i = 0; i < sizeof nv / sizeof *nv; i++)
        taco_num(&b, nk[i], nv[i]);
    lm_buf_printf(&b, ",\"schedule\":\"%s\",\"warmup\":%lld,\"baseline\":\"%s\",\"loss_mask\":\"%s\"",
                  sched[o->sched], (long long)o->warmup, base[o->baseline], mask[o->loss_mask]);
    lm_buf_printf(&b, ",\"reward\":\"%s\",\"truncate_pred\":%s,\"compat\":%s,\"rollout\":\"%s\"",
                  metric[o->ro.metric], o->ro.first_line ? "true" : "false", o->compat ? "true" : "false",
                  o->rollout_greedy ? "greedy" : "sample");
    lm_buf_printf(&b, ",\"keep_newlines\":%s", R.keep_newlines ? "true" : "false");
    lm_buf_printf(&b, ",\"max_tokens\":%d,\"drop_consecutive\":%s,\"reserve_digit\":%s,\"seed\":%llu",
                  o->max_tokens, o->lo.drop_consecutive ? "true" : "false",
                  o->lo.reserve_digit ? "true" : "false", (unsigned long long)o->seed);
    const char *sk[] = {"train_scope", "prompt_template", "system", "force_tokens", "llm_model"};
    const char *sv[] = {o->scope, o->prompt_template, o->system, force ? force : "",
                        llm_model ? llm_model : ""};
    for (size_t i = 0; i < 5; i++) {
        lm_buf_printf(&b, ",\"%s\":", sk[i]);
        lm_buf_add_jstr(&b, sv[i], strlen(sv[i]));
    }
    lm_buf_addc(&b, '}');
    char *s = lm_xstrndup(b.p, b.n);
    lm_buf_free(&b);
    return s;
}

int run_rl(taco_ctx *c, int argc, char **argv)
{
    lm_taco_rl_opts_default(&R.ro);
    R.llm_parallel = 4;
    R.llm_timeout = 60;
    R.llm_retries = 3;
    int oi = lm_cli_parse(&cmd_rl, argc, argv, &c->com, rl_opt, c);
    const lm_cmd *k = &cmd_rl;
    taco_require(c, k, argc - oi, argv + oi, "prompts");
    if (!R.llm_url == !R.llm_cmd)
        lm_usage_error(k, "give the target LLM with --llm-url URL or --llm-cmd CMD (one of them)");
    struct stat st;
    if (lstat(c->out, &st) == 0)
        lm_die_hint(LM_EXIT_USAGE, "choose a new folder name",
                    "%s: already exists; the trained model is only written to a new folder", c->out);
    R.ro.seed = c->com.seed;
    lm_cli_threads(&c->com);
    R.ro.device = taco_device(c->com.device);
    char err[1024];
    char *ckpt = taco_checkpoint_dir(c);
    char *dir = c->resume ? lm_xstrdup(c->resume) : taco_model_dir(c->model);

    /* the rollout's set-up: lingua-compress's tokenizer, force tokens, counter */
    lm_hf_config cfg = {0};
    char *cpath = lm_xmalloc(strlen(dir) + 16);
    sprintf(cpath, "%s/config.json", dir);
    if (lm_hf_config_load(&cfg, cpath, err, sizeof err) != 0)
        lm_die(LM_EXIT_DATA, "%s", err);
    free(cpath);
    int fam = !strcmp(cfg.model_type, "bert")          ? LM_LINGUA_BERT
              : !strcmp(cfg.model_type, "xlm-roberta") ? LM_LINGUA_XLMR
                                                       : -1;
    if (fam < 0)
        lm_die(LM_EXIT_DATA, "%s/config.json: model_type \"%s\" has no LLMLingua-2 word rules", dir,
               cfg.model_type);
    long pos = cfg.max_position - (cfg.family == LM_FAMILY_ROBERTA ? cfg.pad_token_id + 1 : 0);
    size_t msl = pos < 512 ? (pos > 0 ? (size_t)pos : 0) : 512;
    lm_hf_config_free(&cfg);
    lm_tokenizer *tok = lm_tokenizer_load(dir, err, sizeof err);
    lm_lingua_model lm;
    if (!tok || lm_lingua_model_init(&lm, tok, (lm_lingua_family)fam, msl, err, sizeof err) != 0)
        lm_die(LM_EXIT_DATA, "%s", err);
    char **force;
    size_t *force_len, nf = rl_split_list(R.force_list, &force, &force_len);
    static const char *const ends[] = {".", "\n"};
    static const size_t ends_len[] = {1, 1};
    lm_lingua_force fm;
    if (lm_lingua_force_build(&fm, &lm, (const char *const *)force, force_len, nf, ends, ends_len, 2, err,
                              sizeof err) != 0)
        lm_usage_error(k, "invalid --force-tokens: %s", err);
    lm_lingua_fail f;
    lm_tiktoken *tk = NULL;
    if (lm_lingua_counter_load(R.count_path, &tk, &f) != 0)
        lm_die_hint(f.status, f.hint[0] ? f.hint : NULL, "%s", f.msg);
    if (!tk)
        lm_warn("no cl100k_base rank file: counting tokens with the model's tokenizer instead");
    lm_lingua_counter counter;
    lm_lingua_counter_init(&counter, tk, tok);

    /* the target LLM */
    lm_llm_config lc;
    lm_llm_config_init(&lc);
    lc.backend = R.llm_cmd ? LM_LLM_CMD : LM_LLM_HTTP;
    lc.url = R.llm_url;
    lc.cmd = R.llm_cmd;
    lc.model = R.llm_model;
    lc.key_env = R.llm_key_env;
    lc.parallel = R.llm_parallel;
    lc.timeout = R.llm_timeout;
    lc.retries = R.llm_retries;
    lc.seed = c->com.seed;
    lc.cache_path = R.llm_cache;
    lm_llm *llm = lm_llm_open(&lc, err, sizeof err);
    if (!llm)
        lm_die(LM_EXIT_USAGE, "%s", err);

    /* the prompts */
    prompts P = {0};
    P.keep_newlines = R.keep_newlines;
    lm_sha256_init(&P.h);
    lm_loop L = {.cmd = k, .common = &c->com, .fn = rl_collect_rec, .ctx = &P, .parallel = 0};
    char *files[1] = {(char *)c->data};
    int lst = lm_loop_run(&L, 1, files);
    if (lst != 0)
        exit(lst);
    if (P.n == 0)
        lm_die(LM_EXIT_DATA, "%s: no prompts", c->data);
    for (size_t i = 0; i < P.n; i++)
        if (!P.ref[i] && !R.make_refs)
            lm_die_hint(LM_EXIT_DATA, "give \"gpt_output\", or --make-references to ask the LLM for it",
                        "%s: record %zu has no reference answer (\"gpt_output\")", c->data, i + 1);
    if (R.make_refs)
        rl_make_references(&P, llm, &R.ro);
    unsigned char dg[32];
    lm_sha256_final(&P.h, dg);
    char hex[65];
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", dg[i]);

    lm_train_model *m = lm_train_model_load(dir, err, sizeof err);
    if (!m)
        lm_die(LM_EXIT_DATA, "%s", err);
    lm_taco_rl *t = lm_taco_rl_new(m, &R.ro, &lm, &fm, &counter, llm, (const char *const *)P.prompt,
                                   (const char *const *)P.ref, P.n, err, sizeof err);
    if (!t) {
        lm_train_model_free(m); /* still the caller's after a failure */
        lm_usage_error(k, "%s", err);
    }
    char *run = rl_run_json(hex, &R.ro, R.force_list, R.llm_model);
    if (c->resume) {
        char *saved;
        if (lm_taco_rl_restore(t, ckpt, &saved, err, sizeof err) != 0)
            lm_die(LM_EXIT_DATA, "%s", err);
        taco_check_resume(ckpt, run, saved);
        free(saved);
    }
    lm_buf b = {0};
    int tty = isatty(2);
    int64_t steps = 0;
    while (!lm_taco_rl_done(t)) {
        lm_taco_rl_info si;
        if (lm_taco_rl_step(t, &si, err, sizeof err) != 0)
            lm_die(LM_EXIT_USAGE, "%s", err);
        rl_step_record(&b, &si);
        steps = si.step;
        if (tty)
            fprintf(stderr, "\r%s: step %lld/%lld, reward %.4g  ", lm_prog, (long long)si.step,
                    (long long)lm_taco_rl_total_steps(t), si.reward_mean);
        if (ckpt && c->save_every > 0 && si.step % c->save_every == 0 &&
            lm_taco_rl_save(t, ckpt, dir, run, err, sizeof err) != 0)
            lm_die(LM_EXIT_USAGE, "%s", err);
    }
    /* the run's calls, --make-references included */
    lm_llm_stats totals = lm_llm_get_stats(llm);
    uint64_t calls = totals.calls, fails = totals.failures;
    if (tty)
        fprintf(stderr, "\r\033[K");
    if (c->plot && lm_taco_rl_plot(t, c->plot, err, sizeof err) != 0)
        lm_die(LM_EXIT_USAGE, "%s", err);
    lm_buf info = {0};
    lm_buf_printf(&info, "{\"mode\":\"rl\",\"lmkit\":\"%s\",\"run\":%s,\"steps\":%lld", LMKIT_VERSION, run,
                  (long long)steps);
    lm_buf_printf(&info, ",\"llm_calls\":%llu,\"llm_failures\":%llu}", (unsigned long long)calls,
                  (unsigned long long)fails);
    char *infos = lm_xstrndup(info.p, info.n);
    const lm_train_model *tm = lm_taco_rl_model(t);
    if (lm_taco_write_model(tm, tm->params_mem, dir, c->out, infos, err, sizeof err) != 0)
        lm_die(LM_EXIT_USAGE, "%s", err);
    lm_buf_adds(&b, "{\"model\":");
    lm_buf_add_jstr(&b, c->out, strlen(c->out));
    lm_buf_printf(&b, ",\"steps\":%lld,\"llm_calls\":%llu,\"llm_failures\":%llu}\n", (long long)steps,
                  (unsigned long long)calls, (unsigned long long)fails);
    fwrite(b.p, 1, b.n, stdout);
    free(infos);
    free(run);
    free(ckpt);
    lm_buf_free(&info);
    lm_buf_free(&b);
    lm_taco_rl_free(t);
    lm_llm_close(llm);
    lm_lingua_counter_free(&counter);
    lm_lingua_force_free(&fm);
    lm_tiktoken_free(tk);
    lm_tokenizer_free(tok);
    for (size_t i = 0; i < P.n; i++) {
        free(P.prompt[i]);
        free(P.ref[i]);
    }
    free(P.prompt);
    free(P.ref);
    for (size_t i = 0; i < nf; i++)
        free(force[i]);
    free(force);
    free(force_len);
    free(dir);
    lm_close_stdout();
    return 0;
}
