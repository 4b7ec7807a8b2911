/* data.c - records to word labels, word labels to token windows (data.h) */
#include "taco/data.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "lingua/model.h"
#include "nn/hfconfig.h"

int lm_taco_text_load(lm_taco_text *t, const char *dir, size_t max_len, size_t window, char *err,
                      size_t errlen)
{
    memset(t, 0, sizeof *t);
    lm_hf_config cfg = {0};
    size_t n = strlen(dir) + 16;
    char *path = lm_xmalloc(n);
    snprintf(path, n, "%s/config.json", dir);
    int rc = lm_hf_config_load(&cfg, path, err, errlen);
    free(path);
    if (rc != 0)
        return -1;
    lm_lingua_family fam;
    if (!strcmp(cfg.model_type, "bert")) {
        fam = LM_LINGUA_BERT;
    } else if (!strcmp(cfg.model_type, "xlm-roberta")) {
        fam = LM_LINGUA_XLMR;
    } else {
        lm_seterr(err, errlen,
                  "%s/config.json: model_type \"%s\" has no LLMLingua-2 word rules (bert or xlm-roberta)",
                  dir, cfg.model_type);
        lm_hf_config_free(&cfg);
        return -1;
    }
    long pos = cfg.max_position - (cfg.family == LM_FAMILY_ROBERTA ? cfg.pad_token_id + 1 : 0);
    size_t msl = pos < 512 ? (pos > 0 ? (size_t)pos : 0) : 512;
    t->pad = cfg.pad_token_id;
    lm_hf_config_free(&cfg);
    if (max_len == 0)
        max_len = msl;
    if (max_len > msl) {
        lm_seterr(err, errlen, "%s: a window of %zu tokens is longer than the model's %zu positions", dir,
                  max_len, msl);
        return -1;
    }
    if (max_len < 3) {
        lm_seterr(err, errlen, "%s: a window needs at least 3 tokens (two ends and a word), not %zu", dir,
                  max_len);
        return -1;
    }
    t->max_len = max_len;
    t->window = window;
    t->tok = lm_tokenizer_load(dir, err, errlen);
    if (!t->tok)
        return -1;
    t->wtok = lm_tokenizer_load(dir, err, errlen);
    if (!t->wtok || lm_lingua_model_init(&t->lm, t->wtok, fam, msl, err, errlen) != 0 ||
        lm_lingua_model_proper_ends(&t->lm, err, errlen) != 0) {
        lm_taco_text_free(t);
        return -1;
    }
    t->cls = t->lm.cls_id;
    t->sep = t->lm.sep_id;
    return 0;
}

void lm_taco_text_free(lm_taco_text *t)
{
    lm_tokenizer_free(t->tok);
    lm_tokenizer_free(t->wtok);
    memset(t, 0, sizeof *t);
}

void lm_taco_words_free(lm_taco_words *w)
{
    lm_buf_free(&w->text);
    free(w->w);
    free(w->label);
    memset(w, 0, sizeof *w);
}

static void words_push(lm_taco_words *w, const char *s, size_t n, int label)
{
    if (w->n == w->cap) {
        lm_grow(w->w, w->cap, w->n + 1);
        w->label = lm_xrealloc(w->label, w->cap);
    }
    w->w[w->n][0] = w->text.n;
    lm_buf_add(&w->text, s, n);
    w->w[w->n][1] = w->text.n;
    w->label[w->n] = (uint8_t)label;
    w->n++;
}

/* a member's value through jansson (arrays and strings of the record) */
static json_t *member_json(const lm_record *in, const lm_member *m, lm_rerr *e)
{
    json_error_t je;
    json_t *j = json_loadb(in->text + m->vpos, m->vlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j)
        lm_rerr_set(e, m->vpos, "\"%s\": %s", m->key, je.text);
    return j;
}

static const lm_member *need(const lm_record *in, const char *key, lm_jtype type, const char *with,
                             lm_rerr *e)
{
    const lm_member *m = lm_rec_get(in, key);
    if (!m) {
        lm_rerr_set(e, LM_NOPOS, "\"%s\" is missing: a record with \"%s\" needs \"%s\" too", key, with, key);
        return NULL;
    }
    if (m->type != type) {
        lm_rerr_set(e, m->vpos, "\"%s\" must be %s, not %s", key,
                    type == LM_J_STRING ? "a string" : "an array", lm_jtype_name(m->type));
        return NULL;
    }
    return m;
}

static int from_words(const lm_record *in, const lm_member *mw, lm_taco_words *w, lm_rerr *e)
{
    const lm_member *ml = need(in, "labels", LM_J_ARRAY, "words", e);
    if (!ml || mw->type != LM_J_ARRAY) {
        if (ml)
            lm_rerr_set(e, mw->vpos, "\"words\" must be an array of strings, not %s",
                        lm_jtype_name(mw->type));
        return LM_REC_BAD;
    }
    json_t *jw = member_json(in, mw, e), *jl = jw ? member_json(in, ml, e) : NULL;
    int rc = LM_REC_BAD;
    if (!jl)
        goto out;
    if (json_array_size(jw) != json_array_size(jl)) {
        lm_rerr_set(e, ml->vpos, "\"labels\" has %zu entries but \"words\" %zu: one label per word",
                    json_array_size(jl), json_array_size(jw));
        goto out;
    }
    for (size_t i = 0; i < json_array_size(jw); i++) {
        json_t *s = json_array_get(jw, i), *l = json_array_get(jl, i);
        if (!json_is_string(s)) {
            lm_rerr_set(e, mw->vpos, "\"words\"[%zu] must be a string", i);
            goto out;
        }
        int lab;
        if (json_is_boolean(l))
            lab = json_is_true(l);
        else if (json_is_integer(l) && (json_integer_value(l) == 0 || json_integer_value(l) == 1))
            lab = (int)json_integer_value(l);
        else if (json_is_real(l) && (json_real_value(l) == 0 || json_real_value(l) == 1))
            lab = json_real_value(l) == 1;
        else {
            lm_rerr_set(e, ml->vpos, "\"labels\"[%zu] must be 0, 1, true or false", i);
            goto out;
        }
        words_push(w, json_string_value(s), json_string_length(s), lab);
    }
    rc = LM_REC_OK;
out:
    json_decref(jw);
    json_decref(jl);
    return rc;
}

static int spans_of(const lm_taco_text *t, const lm_member *m, const char *s, size_t n, size_t (**sp)[2],
                    size_t *nw, lm_rerr *e)
{
    char err[300];
    if (lm_align_word_spans(&t->lm, s, n, sp, nw, err, sizeof err) != 0) {
        lm_rerr_set(e, m->vpos, "\"%s\": %s", m->key, err);
        return -1;
    }
    return 0;
}

static int from_pair(const lm_taco_text *t, const lm_record *in, const lm_member *mo, lm_taco_words *w,
                     lm_rerr *e)
{
    const lm_member *mc = need(in, "compressed", LM_J_STRING, "origin", e);
    if (!mc)
        return LM_REC_BAD;
    if (mo->type != LM_J_STRING) {
        lm_rerr_set(e, mo->vpos, "\"origin\" must be a string, not %s", lm_jtype_name(mo->type));
        return LM_REC_BAD;
    }
    lm_buf o = {0}, c = {0};
    lm_jstr_decode(&o, in->text + mo->vpos, mo->vlen);
    lm_jstr_decode(&c, in->text + mc->vpos, mc->vlen);
    size_t(*so)[2] = NULL, (*sc)[2] = NULL, no = 0, nc = 0;
    int rc = LM_REC_BAD;
    if (spans_of(t, mo, o.p ? o.p : "", o.n, &so, &no, e) ||
        spans_of(t, mc, c.p ? c.p : "", c.n, &sc, &nc, e))
        goto out;
    lm_text *wo = lm_xcalloc(no + 1, sizeof *wo), *wc = lm_xcalloc(nc + 1, sizeof *wc);
    for (size_t i = 0; i < no; i++)
        wo[i] = (lm_text){o.p + so[i][0], so[i][1] - so[i][0]};
    for (size_t i = 0; i < nc; i++)
        wc[i] = (lm_text){c.p + sc[i][0], sc[i][1] - sc[i][0]};
    uint8_t *lab = lm_xmalloc(no + 1);
    lm_align_label(wo, no, wc, nc, t->window, lab, &w->st);
    w->aligned = 1;
    for (size_t i = 0; i < no; i++)
        words_push(w, wo[i].s, wo[i].n, lab[i]);
    free(lab);
    free(wo);
    free(wc);
    rc = LM_REC_OK;
out:
    free(so);
    free(sc);
    lm_buf_free(&o);
    lm_buf_free(&c);
    return rc;
}

static int from_spans(const lm_taco_text *t, const lm_record *in, const lm_member *mt, lm_taco_words *w,
                      lm_rerr *e)
{
    const lm_member *mk = need(in, "keep_spans", LM_J_ARRAY, "text", e);
    if (!mk)
        return LM_REC_BAD;
    if (mt->type != LM_J_STRING) {
        lm_rerr_set(e, mt->vpos, "\"text\" must be a string, not %s", lm_jtype_name(mt->type));
        return LM_REC_BAD;
    }
    json_t *jk = member_json(in, mk, e);
    if (!jk)
        return LM_REC_BAD;
    size_t nk = json_array_size(jk);
    size_t(*keep)[2] = lm_xcalloc(nk + 1, sizeof *keep);
    int rc = LM_REC_BAD;
    lm_buf s = {0};
    size_t(*sp)[2] = NULL, nw = 0;
    for (size_t i = 0; i < nk; i++) {
        json_t *p = json_array_get(jk, i);
        json_t *a = json_array_get(p, 0), *b = json_array_get(p, 1);
        if (!json_is_array(p) || json_array_size(p) != 2 || !json_is_integer(a) || !json_is_integer(b) ||
            json_integer_value(a) < 0 || json_integer_value(b) < 0) {
            lm_rerr_set(e, mk->vpos, "\"keep_spans\"[%zu] must be [start, end], two character offsets >= 0",
                        i);
            goto out;
        }
        keep[i][0] = (size_t)json_integer_value(a);
        keep[i][1] = (size_t)json_integer_value(b);
    }
    lm_jstr_decode(&s, in->text + mt->vpos, mt->vlen);
    if (spans_of(t, mt, s.p ? s.p : "", s.n, &sp, &nw, e))
        goto out;
    uint8_t *lab = lm_xmalloc(nw + 1);
    char err[300];
    if (lm_align_span_labels(s.p ? s.p : "", s.n, (const size_t(*)[2])sp, nw, (const size_t(*)[2])keep, nk,
                             lab, err, sizeof err) != 0) {
        lm_rerr_set(e, mk->vpos, "\"keep_spans\": %s", err);
        free(lab);
        goto out;
    }
    for (size_t i = 0; i < nw; i++)
        words_push(w, s.p + sp[i][0], sp[i][1] - sp[i][0], lab[i]);
    free(lab);
    rc = LM_REC_OK;
out:
    json_decref(jk);
    free(keep);
    free(sp);
    lm_buf_free(&s);
    return rc;
}

int lm_taco_record_words(const lm_taco_text *t, const lm_record *in, lm_taco_words *w, lm_rerr *e)
{
    w->n = 0;
    w->aligned = 0;
    lm_buf_reset(&w->text);
    memset(&w->st, 0, sizeof w->st);
    const lm_member *m;
    if ((m = lm_rec_get(in, "words")) != NULL)
        return from_words(in, m, w, e);
    if ((m = lm_rec_get(in, "origin")) != NULL)
        return from_pair(t, in, m, w, e);
    if ((m = lm_rec_get(in, "text")) != NULL)
        return from_spans(t, in, m, w, e);
    lm_rerr_set(e, LM_NOPOS, "no training labels in this record");
    lm_rerr_hint(
        e, "give \"words\" and \"labels\", \"origin\" and \"compressed\", or \"text\" and \"keep_spans\"");
    return LM_REC_BAD;
}

/* ---- windows ---- */

static void win_tok(lm_taco_windows *d, int32_t id, int32_t label)
{
    if (d->ntok == d->tokcap) {
        lm_grow(d->ids, d->tokcap, d->ntok + 1);
        d->labels = lm_xrealloc(d->labels, lm_xmul(d->tokcap, sizeof *d->labels));
    }
    d->ids[d->ntok] = id;
    d->labels[d->ntok] = label;
    d->ntok++;
    if (label == 0 || label == 1)
        d->nlabel[label]++;
}

static void win_open(lm_taco_windows *d, const lm_taco_text *t, uint64_t rec)
{
    if (d->nwin + 2 > d->wincap) {
        lm_grow(d->off, d->wincap, d->nwin + 2);
        d->rec = lm_xrealloc(d->rec, lm_xmul(d->wincap, sizeof *d->rec));
    }
    d->off[d->nwin] = d->ntok;
    d->rec[d->nwin] = rec;
    win_tok(d, t->cls, -100);
}

static void win_close(lm_taco_windows *d, const lm_taco_text *t)
{
    win_tok(d, t->sep, -100);
    d->nwin++;
    d->off[d->nwin] = d->ntok;
}

int lm_taco_windows_add(lm_taco_windows *d, const lm_taco_text *t, const lm_taco_words *w, uint64_t rec,
                        char *err, size_t errlen)
{
    if (!d->off) {
        lm_grow(d->off, d->wincap, 2);
        d->rec = lm_xrealloc(d->rec, lm_xmul(d->wincap, sizeof *d->rec));
        d->off[0] = 0;
    }
    /* a refused word undoes the record's windows and counts */
    const size_t nwin0 = d->nwin, ntok0 = d->ntok, nl0[2] = {d->nlabel[0], d->nlabel[1]};
    size_t room = t->max_len - 2, used = 0;
    int open = 0;
    lm_encoding enc = {0};
    int rc = 0;
    for (size_t i = 0; i < w->n; i++) {
        const char *s = w->text.p + w->w[i][0];
        size_t n = w->w[i][1] - w->w[i][0];
        if (lm_tokenizer_encode(t->tok, s, n, 0, &enc, err, errlen) != 0) {
            rc = -1;
            break;
        }
        if (enc.n == 0)
            continue;
        if (open && used + enc.n > room) {
            win_close(d, t);
            open = 0;
        }
        for (size_t k = 0; k < enc.n; k++) {
            if (open && used == room) {
                win_close(d, t);
                open = 0;
            }
            if (!open) {
                win_open(d, t, rec);
                open = 1;
                used = 0;
            }
            win_tok(d, enc.ids[k], w->label[i]);
            used++;
        }
    }
    if (rc != 0) {
        d->nwin = nwin0;
        d->ntok = ntok0;
        d->nlabel[0] = nl0[0];
        d->nlabel[1] = nl0[1];
    } else if (open) {
        win_close(d, t);
    }
    lm_encoding_free(&enc);
    return rc;
}

void lm_taco_windows_free(lm_taco_windows *d)
{
    free(d->ids);
    free(d->labels);
    free(d->off);
    free(d->rec);
    memset(d, 0, sizeof *d);
}
