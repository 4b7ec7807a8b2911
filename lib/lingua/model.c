/* model.c - an LLMLingua-2 token classifier folder (config.json,
 * model.safetensors, tokenizer.json) ready for lm_lingua_compress: the
 * tokenizer set-up (lm_lingua_model: the "[NEWi]" tokens of
 * prompt_compressor.py init_llmlingua2, the chunk ends, the force-token
 * map), the cl100k token counter, and the encoder set-up
 * (lm_lingua_encoder): the word-rule family from config.json's model_type
 * (the reference tests the model name in utils.py is_begin_of_new_word and
 * get_pure_token), the sequence length min(512, usable
 * positions), and the keep-probability callback over the CPU encoder,
 * softmax(logits)[..., 1] in float32, chunks batched packed (no padding).
 * On a GPU (lm_lingua_encoder_use_cuda) the chunks of a call are padded to the
 * longest and masked, as the GPU forward takes [B, T] batches.
 * Does not: pick the family from the folder name as the reference does.
 */
#include "lingua/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"

/* ---- the tokenizer set-up ---------------------------------------------- */

int lm_lingua_model_init(lm_lingua_model *m, lm_tokenizer *tok, lm_lingua_family fam, size_t max_seq_len,
                         char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (max_seq_len < 3) {
        lm_seterr(err, errlen, "the model allows %zu tokens per sequence, LLMLingua-2 needs at least 3",
                  max_seq_len);
        return -1;
    }
    m->tok = tok;
    m->fam = fam;
    m->max_seq_len = max_seq_len;
    char names[LM_LINGUA_MAX_FORCE][24];
    const char *ptr[LM_LINGUA_MAX_FORCE];
    for (int i = 0; i < LM_LINGUA_MAX_FORCE; i++) {
        snprintf(names[i], sizeof names[i], "[NEW%d]", i);
        ptr[i] = names[i];
    }
    if (lm_tokenizer_add_tokens(tok, ptr, LM_LINGUA_MAX_FORCE, 1, err, errlen))
        return -1;
    static const char *const bert[] = {"[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]"};
    static const char *const xlmr[] = {"<s>", "</s>", "<unk>", "<pad>", "<mask>"};
    const char *const *sp = fam == LM_LINGUA_BERT ? bert : xlmr;
    for (int i = 0; i < 5; i++)
        m->special[i] = sp[i];
    m->nspecial = 5;
    const char *unk = fam == LM_LINGUA_BERT ? "[UNK]" : "<unk>";
    int32_t unk_id = lm_tokenizer_id(tok, unk, strlen(unk));
    m->cls_id = lm_tokenizer_id(tok, "[CLS]", 5);
    m->sep_id = lm_tokenizer_id(tok, "[SEP]", 5);
    if (m->cls_id < 0)
        m->cls_id = unk_id;
    if (m->sep_id < 0)
        m->sep_id = unk_id;
    m->unk_id = unk_id;
    if (m->cls_id < 0 || m->sep_id < 0) {
        lm_seterr(err, errlen, "the tokenizer has neither \"[CLS]\"/\"[SEP]\" nor \"%s\"", unk);
        return -1;
    }
    return 0;
}

int lm_lingua_model_proper_ends(lm_lingua_model *m, char *err, size_t errlen)
{
    const char *cls = m->fam == LM_LINGUA_BERT ? "[CLS]" : "<s>",
               *sep = m->fam == LM_LINGUA_BERT ? "[SEP]" : "</s>";
    int32_t a = lm_tokenizer_id(m->tok, cls, strlen(cls)), b = lm_tokenizer_id(m->tok, sep, strlen(sep));
    if (a < 0 || b < 0) {
        lm_seterr(err, errlen, "the tokenizer has no \"%s\" and \"%s\" tokens for the chunk ends", cls, sep);
        return -1;
    }
    m->cls_id = a;
    m->sep_id = b;
    return 0;
}

int lm_lingua_force_build(lm_lingua_force *f, const lm_lingua_model *m, const char *const *force,
                          const size_t *force_len, size_t n_force, const char *const *ends,
                          const size_t *ends_len, size_t n_ends, char *err, size_t errlen)
{
    if (lm_lingua_force_check(n_force, err, errlen))
        return -1;
    size_t ntok[LM_LINGUA_MAX_FORCE + 1];
    lm_encoding e = {0};
    for (size_t i = 0; i < n_force; i++) {
        if (lm_tokenizer_encode(m->tok, force[i], force_len[i], 0, &e, err, errlen)) {
            lm_encoding_free(&e);
            return -1;
        }
        ntok[i] = e.n;
    }
    lm_encoding_free(&e);
    return lm_lingua_force_init(f, force, force_len, n_force, ntok, ends, ends_len, n_ends, err, errlen);
}

void lm_lingua_counter_init(lm_lingua_counter *k, const lm_tiktoken *tk, const lm_tokenizer *tok)
{
    memset(k, 0, sizeof *k);
    k->tk = tk;
    k->st = tk ? lm_tiktoken_state_new(tk) : NULL;
    k->tok = tok;
}

void lm_lingua_counter_free(lm_lingua_counter *k)
{
    if (k->st)
        lm_tiktoken_state_free(k->st);
    lm_encoding_free(&k->e);
    memset(k, 0, sizeof *k);
}

int lm_lingua_count(void *counter, const char *s, size_t n, size_t *count, char *err, size_t errlen)
{
    lm_lingua_counter *k = counter;
    if (k->tk)
        return lm_tiktoken_count(k->tk, k->st, s, n, 0, count, err, errlen);
    if (lm_tokenizer_encode(k->tok, s, n, 0, &k->e, err, errlen))
        return -1;
    *count = k->e.n;
    return 0;
}

/* ---- the encoder set-up ------------------------------------------------ */

int lm_lingua_encoder_load(lm_lingua_encoder *le, const char *dir, int family, int batch, char *err,
                           size_t errlen)
{
    memset(le, 0, sizeof *le);
    le->batch = batch > 0 ? batch : 0;
    le->batch_given = batch > 0;
    le->enc = lm_encoder_load(dir, err, errlen);
    if (!le->enc)
        return -1;
    const lm_hf_config *c = &le->enc->cfg;
    if (!c->token_classification || c->num_labels != 2) {
        lm_seterr(err, errlen, "%s: \"%s\" is not a 2-label token classifier (LLMLingua-2 needs one)", dir,
                  c->architecture);
        goto fail;
    }
    if (family < 0) {
        if (!strcmp(c->model_type, "bert"))
            family = LM_LINGUA_BERT;
        else if (!strcmp(c->model_type, "xlm-roberta"))
            family = LM_LINGUA_XLMR;
        else {
            lm_seterr(err, errlen,
                      "%s/config.json: model_type \"%s\" has no LLMLingua-2 word rules (bert or xlm-roberta)",
                      dir, c->model_type);
            goto fail;
        }
    }
    le->tok = lm_tokenizer_load(dir, err, errlen);
    if (!le->tok)
        goto fail;
    long pos = c->max_position - (c->family == LM_FAMILY_ROBERTA ? c->pad_token_id + 1 : 0);
    size_t msl = pos < 512 ? (pos > 0 ? (size_t)pos : 0) : 512;
    if (lm_lingua_model_init(&le->m, le->tok, (lm_lingua_family)family, msl, err, errlen))
        goto fail;
    if (lm_tokenizer_vocab_size(le->tok) > (size_t)c->vocab_size) {
        lm_seterr(err, errlen,
                  "%s: the tokenizer with the 100 [NEWi] tokens has %zu ids but the model only %d embeddings",
                  dir, lm_tokenizer_vocab_size(le->tok), c->vocab_size);
        goto fail;
    }
    return 0;
fail:
    lm_lingua_encoder_free(le);
    return -1;
}

void lm_lingua_encoder_free(lm_lingua_encoder *le)
{
    if (le->gpu) {
        lm_encoder_cuda_free(le->gpu);
        omp_destroy_lock(&le->gpu_lock);
    }
    if (le->enc)
        lm_encoder_free(le->enc);
    if (le->tok)
        lm_tokenizer_free(le->tok);
    memset(le, 0, sizeof *le);
}

int lm_lingua_encoder_use_cuda(lm_lingua_encoder *le, int dtype, char *err, size_t errlen)
{
    int T = (int)le->m.max_seq_len;
    if (!le->batch_given)
        le->batch = LM_LINGUA_GPU_BATCH;
    le->gpu = lm_encoder_cuda_new(le->enc, le->batch, T > 0 ? T : 1, dtype, err, errlen);
    if (!le->gpu)
        return -1;
    omp_init_lock(&le->gpu_lock);
    return 0;
}

/* The GPU forward: up to batch chunks per call, padded to the longest. */
static int probs_cuda(const lm_lingua_encoder *le, size_t nseq, const int32_t *const *ids, const size_t *lens,
                      float *const *probs, char *err, size_t errlen)
{
    size_t B = (size_t)le->batch, T = le->m.max_seq_len > 0 ? le->m.max_seq_len : 1;
    if (B > nseq)
        B = nseq ? nseq : 1;
    int32_t *bid = lm_xmalloc(B * T * sizeof *bid);
    uint8_t *mask = lm_xmalloc(B * T);
    float *pr = lm_xmalloc(B * T * 2 * sizeof *pr);
    int rc = 0;
    omp_set_lock((omp_lock_t *)&le->gpu_lock);
    for (size_t b0 = 0; b0 < nseq && !rc; b0 += B) {
        size_t nb = nseq - b0 < B ? nseq - b0 : B, t = 1;
        for (size_t i = 0; i < nb; i++)
            if (lens[b0 + i] > t)
                t = lens[b0 + i];
        if (t > T) {
            lm_seterr(err, errlen, "chunk of %zu tokens is longer than the GPU state's %zu", t, T);
            rc = -1;
            break;
        }
        for (size_t i = 0; i < nb; i++)
            for (size_t j = 0; j < t; j++) {
                int real = j < lens[b0 + i];
                bid[i * t + j] = real ? ids[b0 + i][j] : le->enc->cfg.pad_token_id;
                mask[i * t + j] = (uint8_t)real;
            }
        rc = lm_encoder_cuda_forward(le->gpu, bid, mask, (int)nb, (int)t, NULL, pr, err, errlen);
        for (size_t i = 0; i < nb && !rc; i++)
            for (size_t j = 0; j < lens[b0 + i]; j++)
                probs[b0 + i][j] = pr[(i * t + j) * 2 + 1];
    }
    omp_unset_lock((omp_lock_t *)&le->gpu_lock);
    free(bid), free(mask), free(pr);
    return rc;
}

int lm_lingua_encoder_probs(void *ctx, size_t nseq, const int32_t *const *ids, const size_t *lens,
                            float *const *probs, char *err, size_t errlen)
{
    const lm_lingua_encoder *le = ctx;
    if (le->gpu)
        return probs_cuda(le, nseq, ids, lens, probs, err, errlen);
    if (!nseq)
        return 0;
    size_t T = 1, total = 0;
    for (size_t i = 0; i < nseq; i++) {
        if (lens[i] > T)
            T = lens[i];
        total += lens[i];
    }
    /* passes of le->batch chunks, or of whole chunks up to the row budget;
     * packed back to back (no padding rows) */
    size_t maxseq = le->batch > 0 && (size_t)le->batch < nseq ? (size_t)le->batch : nseq;
    size_t budget = le->batch > 0 ? maxseq * T : LM_LINGUA_CPU_ROWS;
    if (budget > total)
        budget = total;
    if (budget < T)
        budget = T;
    size_t B = (budget + T - 1) / T;
    lm_encoder_state *s = lm_encoder_state_new(le->enc, (int)B, (int)T, err, errlen);
    if (!s)
        return -1;
    int32_t *bid = lm_xmalloc(B * T * sizeof *bid);
    int *blen = lm_xmalloc(maxseq * sizeof *blen);
    float *pr = lm_xmalloc(B * T * 2 * sizeof *pr);
    int rc = 0;
    for (size_t b0 = 0, nb = 0; b0 < nseq && !rc; b0 += nb) {
        size_t rows = 0;
        for (nb = 0; b0 + nb < nseq && nb < maxseq && (nb == 0 || rows + lens[b0 + nb] <= budget); nb++) {
            memcpy(bid + rows, ids[b0 + nb], lens[b0 + nb] * sizeof *bid);
            blen[nb] = (int)lens[b0 + nb];
            rows += lens[b0 + nb];
        }
        rc = lm_encoder_forward_packed(le->enc, s, bid, blen, (int)nb, NULL, pr, err, errlen);
        rows = 0;
        for (size_t i = 0; i < nb && !rc; i++) {
            for (size_t j = 0; j < lens[b0 + i]; j++)
                probs[b0 + i][j] = pr[(rows + j) * 2 + 1];
            rows += lens[b0 + i];
        }
    }
    free(bid), free(blen), free(pr);
    lm_encoder_state_free(s);
    return rc;
}
