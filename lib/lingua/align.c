/* align.c - LLMLingua-2's word annotation (label_word.py) and chunk filter
 * (filter.py) over words, and the word spans and span labels the
 * supervised trainer needs; see align.h. */
#include "lingua/align.h"

#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/utf8.h"
#include "text/hftok_unicode.h"

static int is_comma(const lm_text *w)
{
    return w->n == 1 && w->s[0] == ',';
}

static int text_eq(const lm_text *a, const lm_text *b)
{
    return a->n == b->n && (a->n == 0 || !memcmp(a->s, b->s, a->n));
}

static int text_cmp(const void *pa, const void *pb)
{
    const lm_text *a = pa, *b = pb;
    size_t m = a->n < b->n ? a->n : b->n;
    int c = m ? memcmp(a->s, b->s, m) : 0;
    if (c)
        return c;
    return (a->n > b->n) - (a->n < b->n);
}

static lm_text lower(const lm_text *w)
{
    lm_text r;
    r.s = lm_py_lower(w->s, w->n, &r.n);
    return r;
}

void lm_align_label(const lm_text *orig, size_t n_orig, const lm_text *comp, size_t n_comp, size_t window,
                    uint8_t *labels, lm_align_stats *st)
{
    if (n_orig)
        memset(labels, 0, n_orig);
    /* the searched original words, their lower-cased forms and positions */
    size_t n = 0;
    size_t *pos = lm_xmalloc(lm_xmul(n_orig + 1, sizeof *pos));
    for (size_t i = 0; i < n_orig; i++)
        if (!is_comma(&orig[i]))
            pos[n++] = i;
    lm_text *low = lm_xmalloc(lm_xmul(n + 1, sizeof *low));
    for (size_t k = 0; k < n; k++)
        low[k] = lower(&orig[pos[k]]);
    /* the script's origin_tokens_set: the words and their lower forms */
    lm_text *set = lm_xmalloc(lm_xmul(2 * n + 1, sizeof *set));
    for (size_t k = 0; k < n; k++) {
        set[2 * k] = orig[pos[k]];
        set[2 * k + 1] = low[k];
    }
    if (n)
        qsort(set, 2 * n, sizeof *set, text_cmp);

    size_t n_find = 0, m = 0, n_kept = 0;
    size_t half = window / 2;
    size_t prev = 0;
    for (size_t c = 0; c < n_comp; c++) {
        const lm_text *w = &comp[c];
        if (is_comma(w))
            continue;
        m++;
        lm_text lw = lower(w);
        if (n && (bsearch(w, set, 2 * n, sizeof *set, text_cmp) ||
                  bsearch(&lw, set, 2 * n, sizeof *set, text_cmp)))
            n_find++;
        for (size_t i = 0; n && i < window; i++) {
            size_t j = prev + i < n - 1 ? prev + i : n - 1; /* forward */
            if (!labels[pos[j]] && text_eq(&low[j], &lw)) {
                labels[pos[j]] = 1;
                n_kept++;
                if (j - prev > half)
                    prev += half;
                else
                    prev = j;
                break;
            }
            j = prev > i ? prev - i : 0; /* backward */
            if (!labels[pos[j]] && text_eq(&low[j], &lw)) {
                labels[pos[j]] = 1;
                n_kept++;
                prev = j;
                break;
            }
        }
        free((char *)lw.s);
    }
    for (size_t k = 0; k < n; k++)
        free((char *)low[k].s);
    free(low);
    free(set);
    free(pos);
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    st->n_orig = n;
    st->n_comp = m;
    st->n_find = n_find;
    st->n_kept = n_kept;
    if (n) {
        st->comp_rate = (double)m / (double)n;
        st->hitting_rate = (double)n_find / (double)n;
        st->matching_rate = (double)n_kept / (double)n;
    }
    st->find_rate = m ? (double)n_find / (double)m : 0.0;
    st->variation_rate = 1 - st->find_rate;
    st->alignment_gap = st->hitting_rate - st->matching_rate;
}

size_t lm_align_filter(const lm_align_stats *st, size_t n, uint8_t *keep)
{
    if (n == 0)
        return 0;
    double *v = lm_xmalloc(lm_xmul(n, sizeof *v));
    for (size_t i = 0; i < n; i++)
        v[i] = st[i].variation_rate;
    double t = lm_lingua_percentile(v, n, 90, 0);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        keep[i] = st[i].variation_rate < t;
        if (keep[i])
            v[k++] = st[i].alignment_gap;
    }
    if (k == 0) {
        free(v);
        return 0;
    }
    t = lm_lingua_percentile(v, k, 90, 0);
    free(v);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep[i])
            keep[i] = st[i].alignment_gap < t;
        kept += keep[i];
    }
    return kept;
}

int lm_align_word_spans(const lm_lingua_model *m, const char *text, size_t n, size_t (**spans)[2], size_t *nw,
                        char *err, size_t errlen)
{
    *spans = NULL;
    *nw = 0;
    lm_encoding e = {0};
    int rc = lm_tokenizer_encode(m->tok, text, n, 0, &e, err, errlen);
    if (rc) {
        lm_encoding_free(&e);
        return -1;
    }
    size_t(*sp)[2] = e.n ? lm_xmalloc(lm_xmul(e.n, sizeof *sp)) : NULL;
    size_t k = 0;
    int open = 0;
    for (size_t i = 0; i < e.n; i++) {
        size_t tl;
        const char *t = lm_tokenizer_token(m->tok, e.ids[i], &tl);
        if (!t)
            t = "", tl = 0;
        int skip = 0;
        for (size_t s = 0; s < m->nspecial; s++)
            if (tl == strlen(m->special[s]) && !memcmp(t, m->special[s], tl))
                skip = 1;
        if (skip)
            continue;
        if (!open || lm_lingua_word_start(m->fam, t, tl, NULL)) {
            size_t a = e.off[i][0];
            while (a < e.off[i][1]) { /* the white space a "▁" stands for */
                uint32_t cp;
                size_t l = lm_utf8_decode(text + a, e.off[i][1] - a, &cp);
                if (!l || !lm_hft_is_space(cp))
                    break;
                a += l;
            }
            sp[k][0] = a;
            sp[k][1] = e.off[i][1];
            k++;
            open = 1;
        } else if (e.off[i][1] > sp[k - 1][1]) {
            sp[k - 1][1] = e.off[i][1];
        }
    }
    lm_encoding_free(&e);
    if (!k) {
        free(sp);
        sp = NULL;
    }
    *spans = sp;
    *nw = k;
    return 0;
}

int lm_align_span_labels(const char *text, size_t n, const size_t (*words)[2], size_t nw,
                         const size_t (*keep)[2], size_t nk, uint8_t *labels, char *err, size_t errlen)
{
    /* character index -> inside any keep span */
    size_t nc = 0;
    size_t *cstart = lm_xmalloc(lm_xmul(n + 1, sizeof *cstart)); /* byte offset of each character */
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = lm_utf8_decode(text + i, n - i, &cp);
        cstart[nc++] = i;
        i += l ? l : 1;
    }
    cstart[nc] = n;
    uint8_t *in = lm_xcalloc(nc + 1, 1);
    for (size_t s = 0; s < nk; s++) {
        if (keep[s][0] > keep[s][1] || keep[s][1] > nc) {
            lm_seterr(err, errlen, "keep span %zu [%zu, %zu] is not a range of the text's %zu characters",
                      s + 1, keep[s][0], keep[s][1], nc);
            free(in);
            free(cstart);
            return -1;
        }
        memset(in + keep[s][0], 1, keep[s][1] - keep[s][0]);
    }
    /* byte offset -> character index, by binary search over cstart */
    for (size_t w = 0; w < nw; w++) {
        size_t lo = 0, hi = nc, a = words[w][0], b = words[w][1];
        while (lo < hi) { /* first character starting at or after a */
            size_t mid = lo + (hi - lo) / 2;
            if (cstart[mid] < a)
                lo = mid + 1;
            else
                hi = mid;
        }
        size_t chars = 0, inside = 0;
        for (size_t c = lo; c < nc && cstart[c] < b; c++) {
            chars++;
            inside += in[c];
        }
        labels[w] = chars > 0 && 2 * inside >= chars;
    }
    free(in);
    free(cstart);
    return 0;
}
