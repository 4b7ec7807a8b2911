/* output.c - an LLMLingua-2 result as record fields and text; see
 * output.h.  Does not write records or files.
 */
#include "lingua/output.h"

#include <stdlib.h>

#include "core/diag.h"

void lm_lingua_list_json(lm_buf *b, const lm_lingua_result *r)
{
    lm_buf_addc(b, '[');
    for (size_t i = 0; i < r->n_list; i++) {
        if (i)
            lm_buf_addc(b, ',');
        lm_buf_add_jstr(b, r->list[i].p ? r->list[i].p : "", r->list[i].n);
    }
    lm_buf_addc(b, ']');
}

void lm_lingua_words_json(lm_buf *b, const lm_lingua_result *r)
{
    lm_buf_addc(b, '[');
    for (size_t i = 0; i < r->n_words; i++) {
        lm_buf_adds(b, i ? ",{\"word\":" : "{\"word\":");
        lm_buf_add_jstr(b, r->words[i], r->word_len[i]);
        lm_buf_adds(b, ",\"prob\":");
        if (r->word_probs[i] == r->word_probs[i])
            lm_buf_add_num(b, r->word_probs[i]);
        else
            lm_buf_adds(b, "null");
        lm_buf_adds(b, r->labels[i] ? ",\"keep\":true}" : ",\"keep\":false}");
    }
    lm_buf_addc(b, ']');
}

void lm_lingua_tokens_json(lm_buf *b, const lm_lingua_result *r)
{
    lm_buf_addc(b, '[');
    for (size_t i = 0; i < r->n_tokens; i++) {
        lm_buf_adds(b, i ? ",{\"token\":" : "{\"token\":");
        lm_buf_add_jstr(b, r->tokens[i], r->token_len[i]);
        lm_buf_adds(b, ",\"prob\":");
        lm_buf_add_num(b, r->token_probs[i]);
        lm_buf_addc(b, '}');
    }
    lm_buf_addc(b, ']');
}

void lm_lingua_labelled(lm_buf *b, const lm_lingua_result *r, const char *word_sep, const char *label_sep)
{
    const char *ws = word_sep ? word_sep : "\t\t|\t\t", *ls = label_sep ? label_sep : " ";
    for (size_t i = 0; i < r->n_words; i++) {
        if (i)
            lm_buf_adds(b, ws);
        lm_buf_add(b, r->words[i], r->word_len[i]);
        lm_buf_printf(b, "%s%d", ls, r->labels[i]);
    }
}

void lm_lingua_join(lm_buf *b, const char *const *ctx, const size_t *ctx_len, size_t n_ctx)
{
    for (size_t i = 0; i < n_ctx; i++) {
        if (i)
            lm_buf_adds(b, "\n\n");
        lm_buf_add(b, ctx[i], ctx_len[i]);
    }
}

lm_view_words lm_lingua_view_words(const lm_lingua_result *r, const char *orig, size_t orig_len)
{
    lm_view_words w = {r->n_words, (const char *const *)r->words, r->word_len, r->labels, r->word_probs, orig,
                       orig_len};
    return w;
}

void lm_lingua_view_text(lm_buf *b, const char *where, const lm_lingua_result *r, const lm_view_words *w,
                         int color)
{
    lm_buf_printf(b, "==> %s: ratio %s, %zu -> %zu tokens <==\n", where, r->ratio, r->origin_tokens,
                  r->compressed_tokens);
    if (color) {
        lm_view_ansi(b, w, 1);
    } else {
        lm_buf_add(b, r->prompt.p ? r->prompt.p : "", r->prompt.n);
        lm_buf_addc(b, '\n');
    }
}

/* Frees the n strings and both arrays of a list. */
static void free_list(char **s, size_t *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s), free(l);
}

int lm_lingua_split_list(const char *arg, char ***out, size_t **lens, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    *out = NULL;
    *lens = NULL;
    if (!*arg)
        return 0;
    lm_buf b = {0};
    size_t cap = 0;
    for (const char *p = arg;; p++) {
        if (*p == ',' || !*p) {
            if (*n == cap) {
                cap = cap ? 2 * cap : 8;
                *out = lm_xrealloc(*out, cap * sizeof **out);
                *lens = lm_xrealloc(*lens, cap * sizeof **lens);
            }
            (*out)[*n] = lm_xstrndup(b.p ? b.p : "", b.n);
            (*lens)[(*n)++] = b.n;
            lm_buf_reset(&b);
            if (!*p)
                break;
        } else if (*p == '\\') {
            p++;
            if (*p == 'n')
                lm_buf_addc(&b, '\n');
            else if (*p == 't')
                lm_buf_addc(&b, '\t');
            else if (*p == ',' || *p == '\\')
                lm_buf_addc(&b, *p);
            else {
                if (!*p)
                    lm_seterr(err, errlen, "trailing backslash (write \\\\ for a backslash)");
                else
                    lm_seterr(err, errlen, "unknown escape '\\%c' (use \\n, \\t, \\, or \\\\)", *p);
                lm_buf_free(&b);
                free_list(*out, *lens, *n);
                *out = NULL, *lens = NULL, *n = 0;
                return -1;
            }
        } else {
            lm_buf_addc(&b, *p);
        }
    }
    lm_buf_free(&b);
    return 0;
}
