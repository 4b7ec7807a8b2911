/* lingua-compress.c - LLMLingua-2 prompt compression (Pan et al.,
 * "LLMLingua-2: Data Distillation for Efficient and Faithful Task-Agnostic
 * Prompt Compression", Findings of ACL 2024, §4) as a JSON Lines filter,
 * reproducing llmlingua 0.2.2's prompt_compressor.py
 * PromptCompressor.compress_prompt_llmlingua2.
 *
 * Argument parsing and the record loop only; the algorithm is lib/lingua
 * (with the records' members and fields in record.c and the set-up of the
 * model, device and rank file in setup.c), the encoder lib/nn, the
 * tokenizers lib/text.  Records (a "prompt" string
 * or a "context" list) are annotated in place with the reference's output
 * fields; --text compresses all of stdin as one prompt.  A batch of records
 * is prepared in parallel (checks, chunking: lm_lingua_begin), its chunks
 * go through the encoder together (lm_lingua_fill), then each record is
 * finished in parallel; the model and the count encoding are shared
 * read-only.  --timing reads the library's timing hook (lm_lingua_timing).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/buf.h"
#include "core/cli.h"
#include "core/diag.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/jsonl.h"
#include "lingua/lingua.h"
#include "lingua/model.h"
#include "lingua/output.h"
#include "lingua/record.h"
#include "lingua/setup.h"
#include "lingua/view.h"
#include "text/tiktoken.h"

enum {
    OPT_MODEL = 256,
    OPT_RATE,
    OPT_TARGET_TOKEN,
    OPT_FORCE_TOKENS,
    OPT_RESERVE_DIGIT,
    OPT_DROP_CONSECUTIVE,
    OPT_CHUNK_END,
    OPT_TOKEN_TO_WORD,
    OPT_CONTEXT_FILTER,
    OPT_NO_TOKEN_FILTER,
    OPT_TARGET_CONTEXT,
    OPT_CONTEXT_RATE,
    OPT_CONTEXT_TARGET_TOKEN,
    OPT_FORCE_CONTEXT_IDS,
    OPT_WORD_LABELS,
    OPT_WORD_SEP,
    OPT_LABEL_SEP,
    OPT_TOKEN_PROBS,
    OPT_SPECIAL_ENDS,
    OPT_TIMING,
    OPT_VIEW,
    OPT_NO_CONTEXT_FILTER,
    OPT_COMPAT,
    OPT_COUNT_ENCODING,
    OPT_FAMILY,
    OPT_TEXT,
    OPT_BATCH_SIZE,
    OPT_COLOR,
    OPT_HTML
};

static const lm_opt opts[] = {
    {"model", 'm', "DIR",
     "LLMLingua-2 model folder (config.json, model.safetensors, tokenizer.json) "
     "or Hugging Face id org/name in the local cache (default $LMKIT_MODEL)",
     "dir", OPT_MODEL},
    {"rate", 'r', "R", "fraction of tokens to keep, in (0,1] (default 0.5)", NULL, OPT_RATE},
    {"target-token", 0, "N", "keep about N cl100k tokens; overrides --rate (default -1: off)", NULL,
     OPT_TARGET_TOKEN},
    {"force-tokens", 0, "LIST",
     "comma-separated strings always kept (\\n newline, \\t tab, \\, comma, \\\\ backslash; "
     "at most 100)",
     NULL, OPT_FORCE_TOKENS},
    {"force-reserve-digit", 0, NULL, "keep every word containing a digit", NULL, OPT_RESERVE_DIGIT},
    {"drop-consecutive", 0, NULL, "drop a force token repeating with nothing kept in between", NULL,
     OPT_DROP_CONSECUTIVE},
    {"chunk-end-tokens", 0, "LIST",
     "tokens a 512-token chunk may end at, escaped as --force-tokens "
     "(default .,\\n)",
     NULL, OPT_CHUNK_END},
    {"token-to-word", 0, "HOW", "word probability from its subwords: mean or first (default mean)",
     "choice:mean first", OPT_TOKEN_TO_WORD},
    {"context-filter", 0, NULL, "drop whole contexts first (coarse filter; needs several contexts)", NULL,
     OPT_CONTEXT_FILTER},
    {"no-context-filter", 0, NULL, "no coarse filter (the default, unless --compat compress_prompt)", NULL,
     OPT_NO_CONTEXT_FILTER},
    {"compat", 0, "API",
     "defaults of the reference's compress_prompt_llmlingua2 (llmlingua2, the default) or "
     "compress_prompt (the context filter on)",
     "choice:llmlingua2 compress_prompt", OPT_COMPAT},
    {"no-token-filter", 0, NULL, "no word-level filter: pass the (normalised) text through", NULL,
     OPT_NO_TOKEN_FILTER},
    {"target-context", 0, "N", "context filter: keep about N contexts (default -1: off)", NULL,
     OPT_TARGET_CONTEXT},
    {"context-rate", 0, "R", "context filter: fraction of contexts to keep, in (0,1] (default 1)", NULL,
     OPT_CONTEXT_RATE},
    {"context-target-token", 0, "N", "context filter: keep contexts worth about N tokens (default -1: off)",
     NULL, OPT_CONTEXT_TARGET_TOKEN},
    {"force-context-ids", 0, "LIST", "context filter: comma-separated 0-based contexts always kept", NULL,
     OPT_FORCE_CONTEXT_IDS},
    {"word-labels", 0, NULL,
     "add \"fn_labeled_original_prompt\" (every word with its 0/1 label) and \"words\" "
     "({word, prob, keep} objects)",
     NULL, OPT_WORD_LABELS},
    {"word-sep", 0, "S", "separator between labelled words (default TAB TAB | TAB TAB)", NULL, OPT_WORD_SEP},
    {"label-sep", 0, "S", "separator between a word and its label (default space)", NULL, OPT_LABEL_SEP},
    {"token-probs", 0, NULL, "add \"token_probs\": {token, prob} for every token the encoder scored", NULL,
     OPT_TOKEN_PROBS},
    {"special-ends", 0, "WHICH",
     "chunk-end tokens the encoder sees: reference (\"[CLS]\"/\"[SEP]\", <unk> under "
     "XLM-R) or proper (the model's own) (default reference)",
     "choice:reference proper", OPT_SPECIAL_ENDS},
    {"count-encoding", 0, "FILE",
     "tiktoken rank file for token counts (default $LMKIT_TIKTOKEN, then the "
     "cl100k_base installed with lmkit, then tiktoken's cache)",
     "file", OPT_COUNT_ENCODING},
    {"family", 0, "NAME", "word rules: bert or xlm-roberta (default: config.json's model_type)",
     "choice:bert xlm-roberta", OPT_FAMILY},
    {"text", 0, NULL, "all of standard input (or of the one FILE) is one prompt; write the compressed text",
     NULL, OPT_TEXT},
    {"batch-size", 0, "N",
     "chunks per forward pass, across records (default: up to 2048 tokens on the CPU, 50 on a GPU)", NULL,
     OPT_BATCH_SIZE},
    {"view", 0, NULL,
     "records as text: a header line per record, then its compressed text (or, with "
     "--color, its words with the dropped ones dimmed)",
     NULL, OPT_VIEW},
    {"timing", 0, NULL, "at the end, say on stderr where the time went (load, chunking, encoder, selection)",
     NULL, OPT_TIMING},
    {"color", 0, "WHEN",
     "--text or --view: show the original words, dropped ones dimmed: auto (a terminal, no "
     "$NO_COLOR), always or never (default never)",
     "choice:auto always never", OPT_COLOR},
    {"html", 0, "FILE",
     "also write an HTML page of every record's kept and dropped words and their "
     "probabilities",
     "outfile", OPT_HTML},
    {0},
};

static const lm_cmd cmd = {
    "lingua-compress",
    "[OPTION]... [FILE]...",
    "Compress prompts with LLMLingua-2: keep the words a token classifier scores highest.",
    "Reads JSON Lines with a \"prompt\" string or a \"context\" list of strings and adds\n"
    "\"compressed_prompt\", \"compressed_prompt_list\" (for a context list), \"origin_tokens\",\n"
    "\"compressed_tokens\", \"ratio\", \"rate\" and \"saving\", as llmlingua 0.2.2's\n"
    "compress_prompt_llmlingua2 returns them.  A record may set \"rate\" and \"target_token\".",
    "Example:\n  echo '{\"prompt\":\"...\"}' |\n    lingua-compress --model DIR --rate 0.33 --force-tokens "
    "'\\n,.,?'",
    opts,
    LM_OPT_THREADS | LM_OPT_DEVICE | LM_OPT_RECORDS | LM_OPT_FIELD,
    "prompt",
    NULL,
};

typedef struct {
    const char *model, *count_path, *field;
    lm_lingua_opts o;
    lm_lingua_fields_opts fo; /* --word-labels, --word-sep, --label-sep, --token-probs */
    int family, text, batch, proper_ends, timing, view;
    int color_on;           /* --color resolved (--text, --view) */
    int context_filter;     /* --context-filter 1, --no-context-filter 0, neither -1 */
    int compat;             /* 0 compress_prompt_llmlingua2, 1 compress_prompt */
    lm_lingua_timing tm;    /* --timing's sums (the library's hook) */
    double t_start, t_load; /* --timing: the start, the seconds to load */
    char **force, **ends;
    size_t *force_len, *ends_len, n_force, n_ends;
    int64_t *fcids;
    char *model_dir; /* --model resolved */
    lm_lingua_encoder le;
    lm_lingua_force fm;
    lm_tiktoken *tk;
    int color;         /* 0 auto, 1 always, 2 never */
    const char *html;  /* --html FILE or NULL */
    lm_view_page page; /* --html: the records' fragments, added in parallel */
} ctx_t;

/* ---- options ----------------------------------------------------------- */

/* An escaped comma list of option opt (lm_lingua_split_list), or a usage error. */
static void split_list(const char *opt, const char *arg, char ***out, size_t **lens, size_t *n)
{
    char err[256];
    if (lm_lingua_split_list(arg, out, lens, n, err, sizeof err))
        lm_usage_error(&cmd, "invalid --%s '%s': %s", opt, arg, err);
}

static void opt_force_tokens(ctx_t *c, const char *arg)
{
    char err[256];
    split_list("force-tokens", arg, &c->force, &c->force_len, &c->n_force);
    if (lm_lingua_force_check(c->n_force, err, sizeof err))
        lm_usage_error(&cmd, "invalid --force-tokens: %s", err);
    for (size_t i = 0; i < c->n_force; i++)
        if (!c->force_len[i])
            lm_usage_error(&cmd, "invalid --force-tokens '%s': string %zu is empty", arg, i + 1);
}

static void opt_force_context_ids(ctx_t *c, const char *arg)
{
    char **s;
    size_t *l, n;
    split_list("force-context-ids", arg, &s, &l, &n);
    free(c->fcids);
    c->fcids = lm_xcalloc(n ? n : 1, sizeof *c->fcids);
    for (size_t i = 0; i < n; i++) {
        c->fcids[i] = lm_opt_int(&cmd, "force-context-ids", s[i], 0, INT64_MAX / 4);
        free(s[i]);
    }
    free(s), free(l);
    c->o.force_context_ids = c->fcids;
    c->o.n_force_context_ids = n;
}

/* The choices (token-to-word, compat, special-ends, family, color) are
 * indices into the option table's "choice:" lists, whose order is the
 * values' here: mean 0 first 1; llmlingua2 0 compress_prompt 1; reference
 * 0 proper 1; bert 0 (LM_LINGUA_BERT) xlm-roberta 1 (LM_LINGUA_XLMR);
 * auto 0 always 1 never 2. */
static int on_opt(void *vc, int id, const char *arg)
{
    ctx_t *c = vc;
    switch (id) {
    case OPT_MODEL: c->model = arg; break;
    case OPT_RATE: c->o.rate = lm_opt_double(&cmd, "rate", arg, 0, 1, 1, 0); break;
    case OPT_TARGET_TOKEN:
        c->o.target_token = lm_opt_int(&cmd, "target-token", arg, -1, INT64_MAX / 4);
        break;
    case OPT_FORCE_TOKENS: opt_force_tokens(c, arg); break;
    case OPT_RESERVE_DIGIT: c->o.reserve_digit = 1; break;
    case OPT_DROP_CONSECUTIVE: c->o.drop_consecutive = 1; break;
    case OPT_CHUNK_END:
        for (size_t i = 0; i < c->n_ends; i++)
            free(c->ends[i]);
        free(c->ends), free(c->ends_len);
        split_list("chunk-end-tokens", arg, &c->ends, &c->ends_len, &c->n_ends);
        break;
    case OPT_TOKEN_TO_WORD: c->o.first = lm_opt_choice(&cmd, "token-to-word", arg, NULL); break;
    case OPT_CONTEXT_FILTER: c->context_filter = 1; break;
    case OPT_NO_CONTEXT_FILTER: c->context_filter = 0; break;
    case OPT_COMPAT: c->compat = lm_opt_choice(&cmd, "compat", arg, NULL); break;
    case OPT_NO_TOKEN_FILTER: c->o.use_token_filter = 0; break;
    case OPT_TARGET_CONTEXT:
        c->o.target_context = lm_opt_int(&cmd, "target-context", arg, -1, INT64_MAX / 4);
        break;
    case OPT_CONTEXT_RATE: c->o.context_rate = lm_opt_double(&cmd, "context-rate", arg, 0, 1, 1, 0); break;
    case OPT_CONTEXT_TARGET_TOKEN:
        c->o.context_target_token = lm_opt_int(&cmd, "context-target-token", arg, -1, INT64_MAX / 4);
        break;
    case OPT_FORCE_CONTEXT_IDS: opt_force_context_ids(c, arg); break;
    case OPT_WORD_LABELS: c->fo.word_labels = 1; break;
    case OPT_WORD_SEP: c->fo.word_sep = arg; break;
    case OPT_LABEL_SEP: c->fo.label_sep = arg; break;
    case OPT_TOKEN_PROBS: c->fo.token_probs = 1; break;
    case OPT_TIMING: c->timing = 1; break;
    case OPT_VIEW: c->view = 1; break;
    case OPT_SPECIAL_ENDS: c->proper_ends = lm_opt_choice(&cmd, "special-ends", arg, NULL); break;
    case OPT_COUNT_ENCODING: c->count_path = arg; break;
    case OPT_FAMILY: c->family = lm_opt_choice(&cmd, "family", arg, NULL); break;
    case OPT_TEXT: c->text = 1; break;
    case OPT_BATCH_SIZE: c->batch = (int)lm_opt_int(&cmd, "batch-size", arg, 1, 4096); break;
    case OPT_COLOR: c->color = lm_opt_choice(&cmd, "color", arg, NULL); break;
    case OPT_HTML: c->html = arg; break;
    }
    return 0;
}

/* ---- records --------------------------------------------------------------- */

/* A record between prepare and on_record: its texts, its counter (used by
 * both halves of the flow) and its job. */
typedef struct {
    lm_lingua_opts o;
    lm_lingua_counter k;
    lm_lingua_job *job;
    lm_lingua_texts t;
    size_t vpos; /* the text's position in the line */
    int failed;  /* the encoder failed on the batch */
    char msg[512];
} rec_t;

static void rec_free(rec_t *s)
{
    if (s->job)
        lm_lingua_job_free(s->job);
    lm_lingua_counter_free(&s->k);
    lm_lingua_texts_free(&s->t);
    free(s);
}

/* First half of a record: checks, the texts, and lm_lingua_begin. */
static int prepare(void *vc, lm_record *in, lm_rerr *err)
{
    const ctx_t *c = vc;
    const lm_member *m = lm_lingua_rec_member(in, c->field, err), *mt;
    if (!m)
        return LM_REC_BAD;
    rec_t *st = lm_xcalloc(1, sizeof *st);
    st->o = c->o;
    st->o.want_words = c->fo.word_labels || c->html || c->color_on;
    st->o.want_tokens = c->fo.token_probs;
    st->vpos = m->vpos;
    if (lm_lingua_rec_params(in, &st->o, &mt, err) || lm_lingua_rec_texts(in, m, &st->t, err)) {
        rec_free(st);
        return LM_REC_BAD;
    }
    if (st->o.use_context_filter && st->t.n > 1 && st->o.target_token == 0) {
        lm_rerr_set(err, mt ? mt->vpos : LM_NOPOS, "target_token 0 with the context filter keeps nothing");
        lm_rerr_hint(err, "use a positive target_token, or -1 for none");
        rec_free(st);
        return LM_REC_BAD;
    }
    lm_lingua_counter_init(&st->k, c->tk, c->le.tok);
    if (lm_lingua_begin(&st->job, &c->le.m, &c->fm, &st->o, st->t.cx, st->t.cl, st->t.n, lm_lingua_count,
                        &st->k, st->msg, sizeof st->msg)) {
        lm_rerr_set(err, m->vpos, "%s", st->msg);
        rec_free(st);
        return LM_REC_BAD;
    }
    in->state = st;
    return LM_REC_OK;
}

/* The encoder over the chunks of every prepared record of the batch, in
 * passes of --batch-size chunks across records. */
static void gather(void *vc, lm_record *const *recs, size_t n)
{
    const ctx_t *c = vc;
    lm_lingua_job **jobs = lm_xmalloc(n * sizeof *jobs);
    for (size_t i = 0; i < n; i++)
        jobs[i] = ((rec_t *)recs[i]->state)->job;
    char msg[512];
    if (lm_lingua_fill(jobs, n, lm_lingua_encoder_probs, (void *)&c->le, msg, sizeof msg))
        for (size_t i = 0; i < n; i++) {
            rec_t *st = recs[i]->state;
            st->failed = 1;
            snprintf(st->msg, sizeof st->msg, "%s", msg);
        }
    free(jobs);
}

/* Second half of a record: lm_lingua_finish and the output. */
static int on_record(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    const ctx_t *c = vc;
    rec_t *st = in->state;
    if (st->failed) {
        if (c->o.timing) {
#pragma omp atomic
            c->o.timing->records++;
        }
        lm_rerr_set(err, LM_NOPOS, "the encoder failed: %s", st->msg);
        rec_free(st);
        return LM_REC_FATAL;
    }
    char msg[512];
    lm_lingua_result r;
    int rc = lm_lingua_finish(st->job, &r, msg, sizeof msg);
    st->job = NULL;
    lm_buf view = {0};
    if (!rc && (c->html || c->view))
        lm_lingua_rec_show(in, &st->t, &r, c->view ? &view : NULL, c->color_on,
                           c->html ? (lm_view_page *)&c->page : NULL);
    size_t vpos = st->vpos;
    int is_list = st->t.is_list;
    rec_free(st);
    if (rc) {
        lm_rerr_set(err, vpos, "%s", msg);
        return LM_REC_BAD;
    }
    if (c->view)
        lm_out_text(out, view.p ? view.p : "", view.n);
    else
        lm_lingua_rec_fields(out, &r, is_list, &c->fo);
    lm_buf_free(&view);
    lm_lingua_result_free(&r);
    return LM_REC_OK;
}

/* Writes the page (title, then the fragments in record order) to c->html. */
static void write_html(ctx_t *c)
{
    lm_buf page = {0};
    lm_view_page_render(&c->page, "lingua-compress", &page);
    char err[1024];
    lm_atomic a;
    if (lm_atomic_open(&a, c->html, err, sizeof err))
        lm_die(LM_EXIT_USAGE, "--html: %s", err);
    if (fwrite(page.p, 1, page.n, a.fp) != page.n) {
        lm_atomic_abort(&a);
        lm_die(LM_EXIT_USAGE, "--html: cannot write '%s': %s", c->html, strerror(errno));
    }
    if (lm_atomic_commit(&a, err, sizeof err))
        lm_die(LM_EXIT_USAGE, "--html: %s", err);
    lm_buf_free(&page);
}

/* --color: auto is a terminal on stdout and no (non-empty) $NO_COLOR. */
static int want_color(const ctx_t *c)
{
    if (c->color != 0)
        return c->color == 1;
    const char *nc = getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && !(nc && *nc);
}

/* All of fp (name for messages) into in. */
static void slurp(FILE *fp, const char *name, lm_buf *in)
{
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, fp)) > 0)
        lm_buf_add(in, chunk, k);
    if (ferror(fp))
        lm_die(LM_EXIT_DATA, "%s: read error: %s", name, strerror(errno));
}

/* --text: all of stdin is one prompt. */
static int run_text(ctx_t *c, const char *path)
{
    FILE *fp = stdin;
    const char *name = "<stdin>";
    if (path && strcmp(path, "-")) {
        name = path;
        if (!(fp = fopen(path, "r")))
            lm_die(LM_EXIT_DATA, "cannot open '%s': %s", path, strerror(errno));
    }
    lm_buf in = {0};
    slurp(fp, name, &in);
    if (fp != stdin)
        fclose(fp);
    lm_lingua_opts o = c->o;
    int color = want_color(c);
    o.want_words = color || c->html;
    const char *cx[1] = {in.p ? in.p : ""};
    size_t cl[1] = {in.n};
    char msg[512];
    lm_lingua_result r;
    lm_lingua_counter k;
    lm_lingua_counter_init(&k, c->tk, c->le.tok);
    int rc = lm_lingua_compress(&c->le.m, &c->fm, &o, cx, cl, 1, lm_lingua_count, &k, lm_lingua_encoder_probs,
                                (void *)&c->le, &r, msg, sizeof msg);
    lm_lingua_counter_free(&k);
    if (rc)
        lm_die(LM_EXIT_DATA, "%s: %s", name, msg);
    lm_view_words w = lm_lingua_view_words(&r, cx[0], cl[0]);
    if (color) {
        lm_buf v = {0};
        lm_view_ansi(&v, &w, 1);
        fwrite(v.p, 1, v.n, stdout);
        lm_buf_free(&v);
    } else {
        fwrite(r.prompt.p, 1, r.prompt.n, stdout);
        putchar('\n');
    }
    if (c->html) {
        lm_buf frag = {0};
        lm_view_html_record(&frag, name, r.ratio, r.origin_tokens, r.compressed_tokens, &w);
        lm_view_page_add(&c->page, 0, &frag);
        write_html(c);
    }
    lm_lingua_result_free(&r);
    lm_buf_free(&in);
    return 0;
}

/* ---- set-up ---------------------------------------------------------------- */

/* The checks between options, and the defaults that depend on them. */
static void check_options(ctx_t *c, int nargs)
{
    /* compress_prompt turns the context filter on by default (llmlingua
     * 0.2.2 prompt_compressor.py compress_prompt, use_context_level_filter) */
    c->o.use_context_filter = c->context_filter >= 0 ? c->context_filter : c->compat == 1;
    if (!c->text && !c->view && c->color != 2)
        lm_usage_error(&cmd, "--color shows the words of --text or --view; for JSON records use --html FILE");
    if (c->text && c->view)
        lm_usage_error(&cmd, "--text already writes text; --view is for JSON Lines records");
    if (c->text && nargs > 1)
        lm_usage_error(&cmd, "--text compresses one text: give one FILE (or - for standard input), not %d",
                       nargs);
    if (c->o.use_context_filter && c->o.target_token == 0)
        lm_usage_error(&cmd, "--target-token 0 with --context-filter keeps nothing");
    if (!c->n_ends) {
        c->n_ends = 2;
        c->ends = lm_xmalloc(2 * sizeof *c->ends);
        c->ends_len = lm_xmalloc(2 * sizeof *c->ends_len);
        c->ends[0] = lm_xstrdup(".");
        c->ends[1] = lm_xstrdup("\n");
        c->ends_len[0] = c->ends_len[1] = 1;
    }
}

/* Dies with a failed set-up's message, hint and exit status. */
static _Noreturn void die_fail(const lm_lingua_fail *f)
{
    lm_die_hint(f->status, f->hint[0] ? f->hint : NULL, "%s", f->msg);
}

/* --model (or $LMKIT_MODEL) as a folder into c->model_dir and c->model,
 * then the encoder on --device. */
static void load_encoder(ctx_t *c, const lm_common *com)
{
    lm_lingua_fail f;
    if (!c->model)
        c->model = getenv("LMKIT_MODEL");
    if (!(c->model_dir = lm_lingua_model_dir(c->model, &f)))
        die_fail(&f);
    c->model = c->model_dir;
    char warn[1200];
    int rc =
        lm_lingua_encoder_setup(&c->le, c->model, c->family, c->batch, com->device, warn, sizeof warn, &f);
    if (warn[0] && !com->quiet)
        lm_warn("%s", warn);
    if (rc)
        die_fail(&f);
}

/* The tokenizer set-up beyond lm_lingua_model_init: --special-ends and the
 * force-token map. */
static void set_up_tokens(ctx_t *c)
{
    char err[1024];
    if (c->proper_ends && lm_lingua_model_proper_ends(&c->le.m, err, sizeof err))
        lm_die_hint(LM_EXIT_USAGE, "use --special-ends reference", "%s: %s", c->model, err);
    if (lm_lingua_force_build(&c->fm, &c->le.m, (const char *const *)c->force, c->force_len, c->n_force,
                              (const char *const *)c->ends, c->ends_len, c->n_ends, err, sizeof err))
        lm_usage_error(&cmd, "invalid --force-tokens: %s", err);
}

/* The cl100k_base rank file the reference counts with, or a warning. */
static void load_counter(ctx_t *c, const lm_common *com)
{
    lm_lingua_fail f;
    if (lm_lingua_counter_load(c->count_path, &c->tk, &f))
        die_fail(&f);
    if (!c->tk && !com->quiet) {
        lm_warn("no cl100k_base rank file: counting tokens with the model's tokenizer instead");
        lm_hint("pass --count-encoding FILE or set LMKIT_TIKTOKEN to match the reference's counts");
    }
}

/* Everything that can fail before any output: the model, the page, the counter. */
static void set_up(ctx_t *c, const lm_common *com)
{
    load_encoder(c, com);
    set_up_tokens(c);
    if (c->html) { /* fail before any output when the page cannot be written */
        char err[1024];
        lm_atomic a;
        if (lm_atomic_open(&a, c->html, err, sizeof err))
            lm_die(LM_EXIT_USAGE, "--html: %s", err);
        lm_atomic_abort(&a);
    }
    load_counter(c, com);
}

/* ---- run ------------------------------------------------------------------- */

static int run_records(ctx_t *c, lm_common *com, int argc, char **argv)
{
    c->o.want_words = 0;
    c->color_on = c->view && want_color(c);
    lm_loop L = {.cmd = &cmd,
                 .common = com,
                 .fn = on_record,
                 .ctx = c,
                 .parallel = 1,
                 .prepare = prepare,
                 .gather = gather};
    c->field = com->field;
    int st = lm_loop_run(&L, argc, argv);
    if (c->html)
        write_html(c);
    return st;
}

static void print_timing(const ctx_t *c)
{
    double total = lm_clock() - c->t_start;
    lm_buf b = {0};
    lm_lingua_timing_json(&b, &c->tm, c->t_load, total);
    fflush(stdout);
    fprintf(stderr, "%s: timing: %s\n", lm_prog, b.p);
    lm_buf_free(&b);
}

static void ctx_free(ctx_t *c)
{
    lm_view_page_free(&c->page);
    if (c->tk)
        lm_tiktoken_free(c->tk);
    lm_lingua_force_free(&c->fm);
    lm_lingua_encoder_free(&c->le);
    for (size_t i = 0; i < c->n_force; i++)
        free(c->force[i]);
    for (size_t i = 0; i < c->n_ends; i++)
        free(c->ends[i]);
    free(c->force), free(c->force_len), free(c->ends), free(c->ends_len), free(c->fcids);
    free(c->model_dir);
}

int main(int argc, char **argv)
{
    lm_cli_init(argv[0]);
    ctx_t c;
    memset(&c, 0, sizeof c);
    lm_lingua_opts_default(&c.o);
    c.family = -1;
    c.color = 2;
    c.context_filter = -1;
    c.t_start = lm_clock();
    lm_common com;
    int oi = lm_cli_parse(&cmd, argc, argv, &com, on_opt, &c);
    lm_cli_threads(&com);
    check_options(&c, argc - oi);
    if (c.timing)
        c.o.timing = &c.tm;
    set_up(&c, &com);
    c.t_load = lm_clock() - c.t_start;
    int st = c.text ? run_text(&c, oi < argc ? argv[oi] : NULL) : run_records(&c, &com, argc - oi, argv + oi);
    if (c.timing)
        print_timing(&c);
    ctx_free(&c);
    return st;
}
