/* record.c - lingua-compress's records (record.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/json.h"
#include "lingua/output.h"
#include "lingua/record.h"

const lm_member *lm_lingua_rec_member(const lm_record *in, const char *field, lm_rerr *err)
{
    const lm_member *m = lm_rec_get(in, field);
    if (!m && !strcmp(field, "prompt"))
        m = lm_rec_get(in, "context");
    if (!m) {
        lm_rerr_set(err, LM_NOPOS, "no \"%s\" field", field);
        lm_rerr_hint(err, "give the text as \"prompt\" (a string) or \"context\" (a list of strings), "
                          "or name its field with --field");
        return NULL;
    }
    if (m->type != LM_J_STRING && m->type != LM_J_ARRAY) {
        lm_rerr_set(err, m->vpos, "\"%s\" must be a string or a list of strings, not %s", m->key,
                    lm_jtype_name(m->type));
        return NULL;
    }
    return m;
}

int lm_lingua_rec_params(const lm_record *in, lm_lingua_opts *o, const lm_member **mt, lm_rerr *err)
{
    const lm_member *mr = lm_rec_get(in, "rate");
    *mt = lm_rec_get(in, "target_token");
    if (mr) {
        double v;
        if (mr->type != LM_J_NUMBER || lm_jnum(in->text + mr->vpos, mr->vlen, &v) || !(v > 0 && v <= 1)) {
            lm_rerr_set(err, mr->vpos, "\"rate\" must be a number in (0, 1]");
            return -1;
        }
        o->rate = v;
    }
    if (*mt) {
        int64_t v;
        if ((*mt)->type != LM_J_NUMBER || lm_jint(in->text + (*mt)->vpos, (*mt)->vlen, &v) || v < -1) {
            lm_rerr_set(err, (*mt)->vpos, "\"target_token\" must be an integer >= 0 (or -1 for none)");
            return -1;
        }
        o->target_token = v;
    }
    return 0;
}

int lm_lingua_rec_texts(const lm_record *in, const lm_member *m, lm_lingua_texts *t, lm_rerr *err)
{
    memset(t, 0, sizeof *t);
    t->is_list = m->type == LM_J_ARRAY;
    if (!t->is_list) {
        lm_jstr_decode(&t->sbuf, in->text + m->vpos, m->vlen);
        t->cx = lm_xmalloc(sizeof *t->cx);
        t->cl = lm_xmalloc(sizeof *t->cl);
        t->cx[0] = t->sbuf.p ? t->sbuf.p : "";
        t->cl[0] = t->sbuf.n;
        t->n = 1;
        return 0;
    }
    json_error_t je;
    t->arr = json_loadb(in->text + m->vpos, m->vlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    t->n = t->arr ? json_array_size(t->arr) : 0;
    t->cx = lm_xcalloc(t->n ? t->n : 1, sizeof *t->cx);
    t->cl = lm_xcalloc(t->n ? t->n : 1, sizeof *t->cl);
    for (size_t i = 0; i < t->n; i++) {
        json_t *s = json_array_get(t->arr, i);
        if (!json_is_string(s)) {
            lm_rerr_set(err, m->vpos, "\"%s\" item %zu must be a string, not %s", m->key, i + 1,
                        json_is_null(s)     ? "null"
                        : json_is_number(s) ? "a number"
                                            : "another type");
            return -1;
        }
        t->cx[i] = json_string_value(s);
        t->cl[i] = json_string_length(s);
    }
    return 0;
}

void lm_lingua_texts_free(lm_lingua_texts *t)
{
    free(t->cx), free(t->cl), json_decref(t->arr), lm_buf_free(&t->sbuf);
    memset(t, 0, sizeof *t);
}

void lm_lingua_rec_fields(lm_out *out, const lm_lingua_result *r, int is_list,
                          const lm_lingua_fields_opts *fo)
{
    lm_out_strn(out, "compressed_prompt", r->prompt.p, r->prompt.n);
    if (is_list) {
        lm_lingua_list_json(lm_out_begin(out, "compressed_prompt_list"), r);
        lm_out_end(out);
    }
    lm_out_int(out, "origin_tokens", (int64_t)r->origin_tokens);
    lm_out_int(out, "compressed_tokens", (int64_t)r->compressed_tokens);
    lm_out_num(out, "ratio", r->ratio_v);
    lm_out_num(out, "rate", r->rate_v);
    lm_out_str(out, "saving", r->saving);
    if (fo->word_labels) {
        lm_buf b = {0};
        lm_lingua_labelled(&b, r, fo->word_sep, fo->label_sep);
        lm_out_strn(out, "fn_labeled_original_prompt", b.p ? b.p : "", b.n);
        lm_buf_free(&b);
        lm_lingua_words_json(lm_out_begin(out, "words"), r);
        lm_out_end(out);
    }
    if (fo->token_probs) {
        lm_lingua_tokens_json(lm_out_begin(out, "token_probs"), r);
        lm_out_end(out);
    }
}

void lm_lingua_rec_show(const lm_record *in, const lm_lingua_texts *t, const lm_lingua_result *r,
                        lm_buf *view, int color, lm_view_page *page)
{
    lm_buf orig = {0};
    lm_lingua_join(&orig, t->cx, t->cl, t->n);
    lm_view_words w = lm_lingua_view_words(r, orig.p ? orig.p : "", orig.n);
    char where[1024];
    snprintf(where, sizeof where, "%s:%llu", in->file, (unsigned long long)in->lineno);
    if (view)
        lm_lingua_view_text(view, where, r, &w, color);
    if (page) {
        lm_buf frag = {0};
        lm_view_html_record(&frag, where, r->ratio, r->origin_tokens, r->compressed_tokens, &w);
        lm_view_page_add(page, in->index, &frag);
    }
    lm_buf_free(&orig);
}
