/* compress.c - the LLMLingua-2 flow (Pan et al., LLMLingua-2, Findings of
 * ACL 2024, §4) of llmlingua 0.2.2's prompt_compressor.py
 * compress_prompt_llmlingua2: force-token replacement, chunking with the
 * decode -> re-tokenize round trip (__chunk_context), the reference's
 * "[CLS]"/"[SEP]" chunk ends (utils.py TokenClfDataset, built by
 * __get_context_prob and __compress without model_name; <unk> under
 * XLM-R), one probability call per prompt (cached for the context filter
 * and the token pass, which the reference computes twice), the coarse
 * context filter, the per-chunk token pass or the pass-through, and the
 * output counts.
 * Split in two around the encoder (lm_lingua_begin / lm_lingua_finish) so
 * that callers can batch the chunks of many prompts.
 * Does not: run the encoder or count cl100k tokens (callbacks do).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/clock.h"
#include "core/diag.h"
#include "lingua/lingua.h"

/* ---- timing ------------------------------------------------------------ */

/* *sum += the seconds since t0, atomically (jobs run in parallel). */
static void time_add(double *sum, double t0)
{
    double d = lm_clock() - t0;
#pragma omp atomic
    *sum += d;
}

void lm_lingua_timing_json(lm_buf *b, const lm_lingua_timing *t, double load_s, double total_s)
{
    lm_buf_printf(b,
                  "{\"records\":%llu,\"chunks\":%llu,\"tokens\":%llu,\"load_s\":%.6f,\"chunking_s\":%.6f,"
                  "\"encoder_s\":%.6f,\"selection_s\":%.6f,\"total_s\":%.6f,\"encoder_tokens_per_s\":%.1f}",
                  (unsigned long long)t->records, (unsigned long long)t->chunks,
                  (unsigned long long)t->tokens, load_s, t->prepare, t->encoder, t->finish, total_s,
                  t->encoder > 0 ? (double)t->tokens / t->encoder : 0.0);
}

/* ---- the flow ---------------------------------------------------------- */

void lm_lingua_result_free(lm_lingua_result *r)
{
    lm_buf_free(&r->prompt);
    for (size_t i = 0; i < r->n_list; i++)
        lm_buf_free(&r->list[i]);
    free(r->list);
    for (size_t i = 0; i < r->n_words; i++)
        free(r->words[i]);
    free(r->words), free(r->word_len), free(r->labels), free(r->word_probs);
    free(r->tokens), free(r->token_len), free(r->token_probs);
    memset(r, 0, sizeof *r);
}

typedef struct {
    size_t ctx;   /* context index */
    lm_buf text;  /* the chunk string (with [NEWi]) */
    int32_t *ids; /* model input, ends included */
    size_t n;
    size_t n_real; /* ids[1 .. 1 + n_real) are the chunk's own tokens */
    float *p;      /* [n] keep probabilities */
    lm_lingua_words words;
} chunk_t;

static void add_word(lm_lingua_result *r, size_t *cap, const char *s, size_t n, int label, double prob)
{
    if (r->n_words == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        r->words = lm_xrealloc(r->words, *cap * sizeof *r->words);
        r->word_len = lm_xrealloc(r->word_len, *cap * sizeof *r->word_len);
        r->labels = lm_xrealloc(r->labels, *cap * sizeof *r->labels);
        r->word_probs = lm_xrealloc(r->word_probs, *cap * sizeof *r->word_probs);
    }
    r->words[r->n_words] = lm_xstrndup(s, n);
    r->word_len[r->n_words] = n;
    r->labels[r->n_words] = (uint8_t)label;
    r->word_probs[r->n_words++] = prob;
}

/* A word as the returned lists show it: XLM-R without leading "▁". */
static void add_list_word(lm_lingua_result *r, size_t *cap, lm_lingua_family fam, const lm_lingua_word *w,
                          int label, double prob)
{
    size_t i = 0;
    if (fam == LM_LINGUA_XLMR)
        while (i + 3 <= w->len && !memcmp(w->text + i, "\xe2\x96\x81", 3))
            i += 3;
    add_word(r, cap, w->text + i, w->len - i, label, prob);
}

/* Python re.findall(r'\b\w+\b|[<>=/!@#$%^&*()?":{}|\\`~;_+-]', s) through PCRE2 (UCP). */
static int passthrough_words(lm_lingua_result *r, size_t *cap, const char *s, size_t n, char *err,
                             size_t errlen)
{
    static const char pat[] = "\\b\\w+\\b|[<>=/!@#$%^&*()?\":{}|\\\\`~;_+-]";
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    if (!re) {
        lm_seterr(err, errlen, "internal: word pattern does not compile");
        return -1;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    size_t at = 0;
    while (at <= n) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s, n, at, 0, md, NULL);
        if (rc < 0)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        add_word(r, cap, s + ov[0], ov[1] - ov[0], 1, NAN);
        at = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return 0;
}

struct lm_lingua_job {
    const lm_lingua_model *m;
    const lm_lingua_force *force;
    lm_lingua_opts o;
    lm_lingua_count_fn count;
    void *count_ctx;
    size_t n_ctx;
    size_t origin_tokens;
    chunk_t *ch;
    size_t nch;
    size_t *cfirst;      /* [n_ctx + 1] first chunk of each context */
    int need;            /* the probabilities are needed */
    const int32_t **ids; /* [nch] views of ch[].ids, ch[].n, ch[].p */
    size_t *lens;
    float **probs;
};

void lm_lingua_job_free(lm_lingua_job *j)
{
    if (!j)
        return;
    for (size_t c = 0; c < j->nch; c++) {
        lm_buf_free(&j->ch[c].text);
        free(j->ch[c].ids), free(j->ch[c].p);
        lm_lingua_words_free(&j->ch[c].words);
    }
    free(j->ch), free(j->cfirst), free(j->ids), free(j->lens), free(j->probs);
    free(j);
}

/* Model input of every chunk: "[CLS]" + tokenize(chunk) + "[SEP]", cut to
 * max_seq_len (utils.py TokenClfDataset.__getitem__).  The reference's
 * dataset turns the token strings into ids (convert_tokens_to_ids): a string that is no token (an lstrip/rstrip
 * added token with its white space, an unknown Unigram piece) becomes
 * <unk>. */
static int model_inputs(lm_lingua_job *j, char *err, size_t errlen)
{
    const lm_lingua_model *m = j->m;
    lm_encoding e = {0};
    j->ids = lm_xmalloc((j->nch ? j->nch : 1) * sizeof *j->ids);
    j->lens = lm_xmalloc((j->nch ? j->nch : 1) * sizeof *j->lens);
    j->probs = lm_xmalloc((j->nch ? j->nch : 1) * sizeof *j->probs);
    for (size_t c = 0; c < j->nch; c++) {
        chunk_t *C = &j->ch[c];
        if (lm_tokenizer_encode(m->tok, C->text.p ? C->text.p : "", C->text.n, 0, &e, err, errlen)) {
            lm_encoding_free(&e);
            return -1;
        }
        size_t n = e.n + 2 > m->max_seq_len ? m->max_seq_len : e.n + 2;
        C->ids = lm_xmalloc(n * sizeof *C->ids);
        C->p = lm_xmalloc(n * sizeof *C->p);
        C->ids[0] = m->cls_id;
        for (size_t k = 1; k < n; k++) {
            C->ids[k] = m->sep_id;
            if (k - 1 < e.n) {
                size_t vn;
                const char *v = lm_encoding_token(&e, k - 1, &vn);
                int32_t id = lm_tokenizer_id(m->tok, v, vn);
                C->ids[k] = id >= 0 ? id : m->unk_id >= 0 ? m->unk_id : e.ids[k - 1];
            }
        }
        C->n = n;
        C->n_real = e.n < n - 1 ? e.n : n - 1;
        j->ids[c] = C->ids, j->lens[c] = n, j->probs[c] = C->p;
    }
    lm_encoding_free(&e);
    return 0;
}

int lm_lingua_begin(lm_lingua_job **out, const lm_lingua_model *m, const lm_lingua_force *force,
                    const lm_lingua_opts *o, const char *const *ctx, const size_t *ctx_len, size_t n_ctx,
                    lm_lingua_count_fn count, void *count_ctx, char *err, size_t errlen)
{
    double t0 = o->timing ? lm_clock() : 0;
    lm_lingua_job *j = lm_xcalloc(1, sizeof *j);
    j->m = m, j->force = force, j->o = *o, j->count = count, j->count_ctx = count_ctx, j->n_ctx = n_ctx;
    j->cfirst = lm_xcalloc(n_ctx + 1, sizeof *j->cfirst);
    *out = NULL;
    int rc = -1;
    size_t chcap = 0;
    lm_encoding e = {0};
    lm_buf tmp = {0};
    const char **tk = NULL;
    size_t *tl = NULL, *ends = NULL, tkcap = 0;

    /* origin tokens, replacement, chunking (compress_prompt_llmlingua2's
     * n_original_token and token_map loop, __chunk_context) */
    for (size_t i = 0; i < n_ctx; i++) {
        size_t c;
        if (count(count_ctx, ctx[i], ctx_len[i], &c, err, errlen))
            goto out;
        j->origin_tokens += c;
        lm_buf_reset(&tmp);
        lm_lingua_force_replace(force, ctx[i], ctx_len[i], 1, &tmp);
        if (lm_tokenizer_encode(m->tok, tmp.p ? tmp.p : "", tmp.n, 0, &e, err, errlen))
            goto out;
        if (e.n > tkcap) {
            tkcap = e.n;
            tk = lm_xrealloc(tk, tkcap * sizeof *tk);
            tl = lm_xrealloc(tl, tkcap * sizeof *tl);
            ends = lm_xrealloc(ends, tkcap * sizeof *ends);
        }
        /* the token strings of tokenize(): a Unigram piece is its slice of
         * the normalised text, also when unknown (its id is <unk>'s), and
         * an lstrip/rstrip added token carries the white space it took */
        for (size_t k = 0; k < e.n; k++)
            tk[k] = lm_encoding_token(&e, k, &tl[k]);
        size_t nk = lm_lingua_chunk(tk, tl, e.n, m->max_seq_len - 2, force, ends);
        j->cfirst[i] = j->nch;
        for (size_t c2 = 0, st = 0; c2 < nk; st = ends[c2++]) {
            if (j->nch == chcap) {
                chcap = chcap ? 2 * chcap : 8;
                j->ch = lm_xrealloc(j->ch, chcap * sizeof *j->ch);
            }
            chunk_t *C = &j->ch[j->nch++];
            memset(C, 0, sizeof *C);
            C->ctx = i;
            if (lm_tokenizer_tokens_to_string(m->tok, tk + st, tl + st, ends[c2] - st, &C->text, err, errlen))
                goto out;
        }
    }
    j->cfirst[n_ctx] = j->nch;
    /* the probabilities are needed by the context filter and by a token
     * pass that drops something (compress_prompt_llmlingua2's
     * use_context_level_filter block, __compress with reduce_rate > 0) */
    if (o->use_context_filter && n_ctx > 1)
        j->need = 1;
    else
        j->need = o->use_token_filter && 1 - lm_lingua_token_rate(o, 0, j->origin_tokens) > 0;
    j->need |= o->want_tokens;
    if (j->need && model_inputs(j, err, errlen))
        goto out;
    rc = 0;
out:
    free(tk), free(tl), free(ends);
    lm_encoding_free(&e);
    lm_buf_free(&tmp);
    if (rc)
        lm_lingua_job_free(j);
    else
        *out = j;
    if (o->timing)
        time_add(&o->timing->prepare, t0);
    return rc;
}

/* The word merge of every chunk over its filled probabilities
 * (__merge_token_to_word, __token_prob_to_word_prob). */
static void merge_words(lm_lingua_job *j)
{
    const lm_lingua_model *m = j->m;
    const char **tk = NULL;
    size_t *tl = NULL, cap = 0;
    for (size_t c = 0; c < j->nch; c++) {
        chunk_t *C = &j->ch[c];
        if (C->n > cap) {
            cap = C->n;
            tk = lm_xrealloc(tk, cap * sizeof *tk);
            tl = lm_xrealloc(tl, cap * sizeof *tl);
        }
        for (size_t k = 0; k < C->n; k++) {
            tk[k] = lm_tokenizer_token(m->tok, C->ids[k], &tl[k]);
            if (!tk[k])
                tk[k] = "", tl[k] = 0;
        }
        lm_lingua_merge(m->fam, tk, tl, C->p, C->n, m->special, m->nspecial, j->force, j->o.reserve_digit,
                        j->o.first, &C->words);
    }
    free(tk), free(tl);
}

/* Job 1, token export: every chunk's own tokens (the ends left out) with
 * their keep probabilities, for want_tokens. */
static void export_tokens(const lm_lingua_job *j, lm_lingua_result *r)
{
    size_t nt = 0;
    for (size_t c = 0; c < j->nch; c++)
        nt += j->ch[c].n_real;
    r->tokens = lm_xmalloc((nt ? nt : 1) * sizeof *r->tokens);
    r->token_len = lm_xmalloc((nt ? nt : 1) * sizeof *r->token_len);
    r->token_probs = lm_xmalloc((nt ? nt : 1) * sizeof *r->token_probs);
    for (size_t c = 0; c < j->nch; c++)
        for (size_t k = 1; k <= j->ch[c].n_real; k++, r->n_tokens++) {
            size_t len;
            const char *t = lm_tokenizer_token(j->m->tok, j->ch[c].ids[k], &len);
            r->tokens[r->n_tokens] = t ? t : "";
            r->token_len[r->n_tokens] = t ? len : 0;
            r->token_probs[r->n_tokens] = j->ch[c].p[k];
        }
}

/* Context i's score over the unforced probabilities of its words. */
static float context_score(const lm_lingua_job *j, size_t i)
{
    size_t nw = 0, k = 0;
    for (size_t c = j->cfirst[i]; c < j->cfirst[i + 1]; c++)
        nw += j->ch[c].words.n;
    float *pv = lm_xmalloc((nw ? nw : 1) * sizeof *pv);
    for (size_t c = j->cfirst[i]; c < j->cfirst[i + 1]; c++)
        for (size_t w = 0; w < j->ch[c].words.n; w++)
            pv[k++] = j->ch[c].words.w[w].prob_noforce;
    float s = lm_lingua_context_score(pv, nw);
    free(pv);
    return s;
}

/* Job 2, the context filter (compress_prompt_llmlingua2's
 * use_context_level_filter block): writes keep[0..n_ctx) and the rate of
 * the token pass.  Without the filter every context is kept. */
static int context_filter(const lm_lingua_job *j, size_t origin_tokens, uint8_t *keep, double *rate,
                          char *err, size_t errlen)
{
    const lm_lingua_opts *o = &j->o;
    for (size_t i = 0; i < j->n_ctx; i++)
        keep[i] = 1;
    if (!(o->use_context_filter && j->n_ctx > 1)) {
        *rate = lm_lingua_token_rate(o, 0, origin_tokens);
        return 0;
    }
    double cr = lm_lingua_context_rate(o, j->n_ctx, origin_tokens);
    float *scores = lm_xmalloc(j->n_ctx * sizeof *scores);
    for (size_t i = 0; i < j->n_ctx; i++)
        scores[i] = context_score(j, i);
    lm_lingua_context_keep(scores, j->n_ctx, cr, o->force_context_ids, o->n_force_context_ids, keep);
    free(scores);
    size_t reserved = 0;
    for (size_t c = 0; c < j->nch; c++) {
        if (!keep[j->ch[c].ctx])
            continue;
        size_t n;
        const chunk_t *C = &j->ch[c];
        if (j->count(j->count_ctx, C->text.p ? C->text.p : "", C->text.n, &n, err, errlen))
            return -1;
        reserved += n;
    }
    *rate = lm_lingua_token_rate(o, 1, reserved);
    return 0;
}

/* A pass-through chunk (reduce rate 0): its text with the placeholders
 * put back, and with want_words the reference's word split of it. */
static int pass_chunk(const lm_lingua_job *j, const chunk_t *C, lm_buf *out, lm_lingua_result *r,
                      size_t *wcap, char *err, size_t errlen)
{
    lm_buf tmp = {0};
    lm_lingua_force_replace(j->force, C->text.p ? C->text.p : "", C->text.n, 0, &tmp);
    lm_buf_add(out, tmp.p ? tmp.p : "", tmp.n);
    int rc = j->o.want_words ? passthrough_words(r, wcap, tmp.p ? tmp.p : "", tmp.n, err, errlen) : 0;
    lm_buf_free(&tmp);
    return rc;
}

/* A chunk of the token pass: the words' cl100k weights, the labels at
 * reduce rate rr, the kept words joined back into text (__compress). */
static int select_chunk(const lm_lingua_job *j, const chunk_t *C, double rr, lm_buf *out, lm_lingua_result *r,
                        size_t *wcap, char *err, size_t errlen)
{
    size_t nw = C->words.n, nk = 0;
    size_t *wt = lm_xmalloc((nw ? nw : 1) * sizeof *wt);
    uint8_t *lab = lm_xmalloc(nw ? nw : 1);
    for (size_t w = 0; w < nw; w++)
        if (j->count(j->count_ctx, C->words.w[w].text, C->words.w[w].len, &wt[w], err, errlen)) {
            free(wt), free(lab);
            return -1;
        }
    if (j->o.fixed)
        lm_lingua_select_fixed(&C->words, j->o.keep_above, j->o.drop_consecutive, j->force, lab);
    else
        lm_lingua_select(&C->words, wt, rr, j->o.drop_consecutive, j->force, lab);
    for (size_t w = 0; w < nw; w++)
        nk += lab[w];
    const char **kt = lm_xmalloc((nk ? nk : 1) * sizeof *kt);
    size_t *kl = lm_xmalloc((nk ? nk : 1) * sizeof *kl);
    nk = 0;
    for (size_t w = 0; w < nw; w++)
        if (lab[w])
            kt[nk] = C->words.w[w].text, kl[nk++] = C->words.w[w].len;
    int bad = nk && lm_tokenizer_tokens_to_string(j->m->tok, kt, kl, nk, out, err, errlen);
    if (j->o.want_words && !bad)
        for (size_t w = 0; w < nw; w++)
            add_list_word(r, wcap, j->m->fam, &C->words.w[w], lab[w], C->words.w[w].prob.v);
    free(kt), free(kl), free(wt), free(lab);
    return bad ? -1 : 0;
}

/* Job 3, chunk selection: one compressed string per kept context, made of
 * its chunks' token pass (or pass-through at reduce rate 0); the words of
 * a dropped context are listed with label 0. */
static int select_contexts(const lm_lingua_job *j, const uint8_t *keep, double rr, lm_lingua_result *r,
                           char *err, size_t errlen)
{
    size_t nkept = 0, wcap = 0;
    for (size_t i = 0; i < j->n_ctx; i++)
        nkept += keep[i];
    r->list = lm_xcalloc(nkept ? nkept : 1, sizeof *r->list);
    for (size_t i = 0; i < j->n_ctx; i++) {
        if (!keep[i]) {
            if (j->o.want_words)
                for (size_t c = j->cfirst[i]; c < j->cfirst[i + 1]; c++)
                    for (size_t w = 0; w < j->ch[c].words.n; w++)
                        add_list_word(r, &wcap, j->m->fam, &j->ch[c].words.w[w], 0, NAN);
            continue;
        }
        lm_buf *out = &r->list[r->n_list++];
        for (size_t c = j->cfirst[i]; c < j->cfirst[i + 1]; c++) {
            int rc = rr <= 0 ? pass_chunk(j, &j->ch[c], out, r, &wcap, err, errlen)
                             : select_chunk(j, &j->ch[c], rr, out, r, &wcap, err, errlen);
            if (rc)
                return -1;
        }
    }
    return 0;
}

/* Job 4, output: compressed_prompt (the list joined by blank lines), its
 * cl100k count and the ratio, rate and saving strings. */
static int output(const lm_lingua_job *j, lm_lingua_result *r, char *err, size_t errlen)
{
    for (size_t i = 0; i < r->n_list; i++) {
        if (i)
            lm_buf_adds(&r->prompt, "\n\n");
        lm_buf_add(&r->prompt, r->list[i].p ? r->list[i].p : "", r->list[i].n);
        size_t n;
        if (j->count(j->count_ctx, r->list[i].p ? r->list[i].p : "", r->list[i].n, &n, err, errlen))
            return -1;
        r->compressed_tokens += n;
    }
    if (!r->prompt.p)
        lm_buf_adds(&r->prompt, "");
    lm_lingua_format(r->origin_tokens, r->compressed_tokens, r->ratio, r->rate, r->saving, &r->ratio_v,
                     &r->rate_v);
    return 0;
}

int lm_lingua_job_chunk_count(const lm_lingua_job *job, size_t *count, char *err, size_t errlen)
{
    size_t sum = 0;
    for (size_t c = 0; c < job->nch; c++) {
        const chunk_t *C = &job->ch[c];
        size_t n;
        if (job->count(job->count_ctx, C->text.p ? C->text.p : "", C->text.n, &n, err, errlen))
            return -1;
        sum += n;
    }
    *count = sum;
    return 0;
}

int lm_lingua_finish(lm_lingua_job *job, lm_lingua_result *r, char *err, size_t errlen)
{
    lm_lingua_timing *tm = job->o.timing;
    double t0 = tm ? lm_clock() : 0;
    memset(r, 0, sizeof *r);
    uint8_t *keep = lm_xcalloc(job->n_ctx ? job->n_ctx : 1, 1);
    double rate;
    r->origin_tokens = job->origin_tokens;
    if (job->need)
        merge_words(job);
    if (job->o.want_tokens)
        export_tokens(job, r);
    int rc = context_filter(job, r->origin_tokens, keep, &rate, err, errlen);
    double rr = job->o.use_token_filter ? fmax(0, 1 - rate) : 0;
    if (!rc)
        rc = select_contexts(job, keep, rr, r, err, errlen);
    if (!rc)
        rc = output(job, r, err, errlen);
    free(keep);
    lm_lingua_job_free(job);
    if (rc)
        lm_lingua_result_free(r);
    if (tm) {
        time_add(&tm->finish, t0);
#pragma omp atomic
        tm->records++;
    }
    return rc ? -1 : 0;
}

size_t lm_lingua_job_seqs(const lm_lingua_job *j, size_t *tokens)
{
    if (tokens) {
        *tokens = 0;
        for (size_t c = 0; j->need && c < j->nch; c++)
            *tokens += j->lens[c];
    }
    return j->need ? j->nch : 0;
}

/* One prob call over the total chunks of the jobs that need them. */
static int fill_probs(lm_lingua_job *const *jobs, size_t n, size_t total, lm_lingua_prob_fn prob,
                      void *prob_ctx, char *err, size_t errlen)
{
    const int32_t **ids = lm_xmalloc(total * sizeof *ids);
    size_t *lens = lm_xmalloc(total * sizeof *lens);
    float **probs = lm_xmalloc(total * sizeof *probs);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (jobs[i] && jobs[i]->need)
            for (size_t c = 0; c < jobs[i]->nch; c++, k++)
                ids[k] = jobs[i]->ids[c], lens[k] = jobs[i]->lens[c], probs[k] = jobs[i]->probs[c];
    int rc = prob(prob_ctx, total, ids, lens, probs, err, errlen);
    free(ids), free(lens), free(probs);
    return rc;
}

/* The timing hook of the first job of a fill, or NULL. */
static lm_lingua_timing *fill_timing(lm_lingua_job *const *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (jobs[i])
            return jobs[i]->o.timing;
    return NULL;
}

int lm_lingua_fill(lm_lingua_job *const *jobs, size_t n, lm_lingua_prob_fn prob, void *prob_ctx, char *err,
                   size_t errlen)
{
    lm_lingua_timing *tm = fill_timing(jobs, n);
    double t0 = tm ? lm_clock() : 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (jobs[i] && jobs[i]->need)
            total += jobs[i]->nch;
    if (tm)
        for (size_t i = 0; i < n; i++) {
            size_t tokens;
            if (jobs[i])
                tm->chunks += lm_lingua_job_seqs(jobs[i], &tokens), tm->tokens += tokens;
        }
    int rc = total ? fill_probs(jobs, n, total, prob, prob_ctx, err, errlen) : 0;
    if (tm)
        tm->encoder += lm_clock() - t0;
    return rc;
}

int lm_lingua_compress(const lm_lingua_model *m, const lm_lingua_force *force, const lm_lingua_opts *o,
                       const char *const *ctx, const size_t *ctx_len, size_t n_ctx, lm_lingua_count_fn count,
                       void *count_ctx, lm_lingua_prob_fn prob, void *prob_ctx, lm_lingua_result *r,
                       char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    lm_lingua_job *j;
    if (lm_lingua_begin(&j, m, force, o, ctx, ctx_len, n_ctx, count, count_ctx, err, errlen))
        return -1;
    if (lm_lingua_fill(&j, 1, prob, prob_ctx, err, errlen)) {
        lm_lingua_job_free(j);
        return -1;
    }
    return lm_lingua_finish(j, r, err, errlen);
}
