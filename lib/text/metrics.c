/* metrics.c - BLEU (evaluate, sacreBLEU), ROUGE-1/2/L (rouge-score) and
 * SQuAD v1.1 F1/EM; definitions and package versions in metrics.h.
 *
 * Tokens are (pointer, length) views into a string the caller of the
 * internal helpers owns.  N-gram counts are found by giving every distinct
 * token of a comparison an id (sort and number), then sorting the id tuples
 * of each side: no hash tables, no state outside the call.
 */
#include "text/metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/diag.h"
#include "core/utf8.h"
#include "text/hftok_unicode.h"

/* Every sum and product below is rounded as Python rounds it: no fused
 * multiply-add (GCC contracts nothing under -std=c11; clang would). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* metrics_unidata.c */
extern const size_t lm_met_sigma_n;
extern const uint32_t lm_met_sigma_start[];
extern const uint8_t lm_met_sigma_cls[];

/* An undecodable byte b is carried as the code point BAD_CP + b: no class
 * of any table, written back as the byte itself. */
#define BAD_CP 0x110000u

static size_t next_cp(const char *s, size_t n, size_t i, uint32_t *cp)
{
    size_t k = lm_utf8_decode(s + i, n - i, cp);
    if (k == 0) {
        *cp = BAD_CP + (unsigned char)s[i];
        k = 1;
    }
    return k;
}

static void put_cp(lm_buf *b, uint32_t cp)
{
    char u[4];
    if (cp >= BAD_CP) {
        lm_buf_addc(b, (char)(cp - BAD_CP));
        return;
    }
    lm_buf_add(b, u, lm_utf8_encode(cp, u));
}

/* Python's str.isspace (Unicode 14): Rust's White_Space plus U+001C..001F. */
static int py_space(uint32_t cp)
{
    return (cp >= 0x1C && cp <= 0x1F) || (cp < BAD_CP && lm_hft_is_space(cp));
}

/* Python's re \w on str: str.isalnum() or '_' (general category L* or N*). */
static int py_word(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
    if (cp >= BAD_CP)
        return 0;
    int c = lm_hft_category(cp);
    return (c >= HFT_Lu && c <= HFT_Lo) || (c >= HFT_Nd && c <= HFT_No);
}

/* ---- token lists ---- */

typedef struct {
    const char *p;
    size_t n;
} tok;

typedef struct {
    tok *v;
    size_t n, cap;
} toks;

static void toks_push(toks *t, const char *p, size_t n)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->v = lm_xrealloc(t->v, lm_xmul(t->cap, sizeof *t->v));
    }
    t->v[t->n].p = p;
    t->v[t->n].n = n;
    t->n++;
}

/* Python's str.split() of s[0..n): runs of non-whitespace. */
static void split_py(toks *t, const char *s, size_t n)
{
    size_t i = 0, start = 0;
    int in = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = next_cp(s, n, i, &cp);
        if (py_space(cp)) {
            if (in)
                toks_push(t, s + start, i - start);
            in = 0;
        } else if (!in) {
            in = 1;
            start = i;
        }
        i += k;
    }
    if (in)
        toks_push(t, s + start, n - start);
}

/* Tokens joined by single spaces, as a new string. */
static char *join_toks(const toks *t, size_t *outlen)
{
    lm_buf b = {0};
    for (size_t i = 0; i < t->n; i++) {
        if (i)
            lm_buf_addc(&b, ' ');
        lm_buf_add(&b, t->v[i].p, t->v[i].n);
    }
    if (!b.p)
        b.p = lm_xstrdup("");
    if (outlen)
        *outlen = b.n;
    return b.p;
}

/* Ids for the tokens of several lists: equal tokens get equal ids. */
typedef struct {
    const char *p;
    size_t n;
    uint32_t *slot;
} itok;

static int itok_cmp(const void *a, const void *b)
{
    const itok *x = a, *y = b;
    size_t m = x->n < y->n ? x->n : y->n;
    int c = m ? memcmp(x->p, y->p, m) : 0;
    if (c)
        return c;
    return (x->n > y->n) - (x->n < y->n);
}

/* lists[i] (counts[i] tokens) -> ids[i][0..counts[i]) */
static void intern(const toks *const *lists, uint32_t **ids, size_t nl)
{
    size_t total = 0;
    for (size_t i = 0; i < nl; i++)
        total += lists[i]->n;
    if (total == 0)
        return;
    itok *all = lm_xmalloc(lm_xmul(total, sizeof *all));
    size_t k = 0;
    for (size_t i = 0; i < nl; i++)
        for (size_t j = 0; j < lists[i]->n; j++) {
            all[k].p = lists[i]->v[j].p;
            all[k].n = lists[i]->v[j].n;
            all[k].slot = &ids[i][j];
            k++;
        }
    qsort(all, total, sizeof *all, itok_cmp);
    uint32_t id = 0;
    for (size_t i = 0; i < total; i++) {
        if (i && itok_cmp(&all[i - 1], &all[i]) != 0)
            id++;
        *all[i].slot = id;
    }
    free(all);
}

/* ---- n-grams as sorted id tuples ---- */

typedef struct {
    const uint32_t *p;
    size_t k;
} gram;

static int gram_cmp(const void *a, const void *b)
{
    const gram *x = a, *y = b;
    for (size_t i = 0; i < x->k; i++)
        if (x->p[i] != y->p[i])
            return x->p[i] < y->p[i] ? -1 : 1;
    return 0;
}

/* The k-grams of ids[0..n), sorted; returns their number (0 when n < k). */
static size_t grams(gram **out, const uint32_t *ids, size_t n, size_t k)
{
    *out = NULL;
    if (n < k)
        return 0;
    size_t m = n - k + 1;
    gram *g = lm_xmalloc(lm_xmul(m, sizeof *g));
    for (size_t i = 0; i < m; i++) {
        g[i].p = ids + i;
        g[i].k = k;
    }
    qsort(g, m, sizeof *g, gram_cmp);
    *out = g;
    return m;
}

/* How many of sorted g[0..n) equal key. */
static size_t gram_count(const gram *g, size_t n, const gram *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (gram_cmp(&g[mid], key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t c = 0;
    while (lo + c < n && gram_cmp(&g[lo + c], key) == 0)
        c++;
    return c;
}

/* ---- sacreBLEU 13a ---- */

/* dst = src with every (left-to-right, non-overlapping) `from` replaced. */
static void replace_all(lm_buf *dst, const char *s, size_t n, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    lm_buf_reset(dst);
    size_t i = 0;
    while (i < n) {
        if (n - i >= fl && memcmp(s + i, from, fl) == 0) {
            lm_buf_add(dst, to, tl);
            i += fl;
        } else {
            lm_buf_addc(dst, s[i]);
            i++;
        }
    }
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* [\{-\~\[-\` -\&\(-\+\:-\@\/] */
static int pad_class(char c)
{
    unsigned char u = (unsigned char)c;
    return (u >= '{' && u <= '~') || (u >= '[' && u <= '`') || (u >= ' ' && u <= '&') ||
           (u >= '(' && u <= '+') || (u >= ':' && u <= '@') || u == '/';
}

/* The tokens of s (views into *store, which the caller frees). */
static void tok13a_toks(toks *t, char **store, const char *s, size_t n)
{
    static const char *const rep[][2] = {
        {"<skipped>", ""}, {"-\n", ""},   {"\n", " "},   {"&quot;", "\""},
        {"&amp;", "&"},    {"&lt;", "<"}, {"&gt;", ">"},
    };
    lm_buf a = {0}, b = {0};
    lm_buf_add(&a, s, n);
    for (size_t r = 0; r < sizeof rep / sizeof rep[0]; r++) {
        replace_all(&b, a.p, a.n, rep[r][0], rep[r][1]);
        lm_buf t2 = a;
        a = b;
        b = t2;
    }
    /* f" {line} ", then the characters of pad_class padded with spaces */
    lm_buf_reset(&b);
    for (size_t i = 0; i < a.n + 2; i++) {
        char c = (i == 0 || i == a.n + 1) ? ' ' : a.p[i - 1];
        if (pad_class(c)) {
            lm_buf_addc(&b, ' ');
            lm_buf_addc(&b, c);
            lm_buf_addc(&b, ' ');
        } else {
            lm_buf_addc(&b, c);
        }
    }
    /* ([^0-9])([\.,]) -> "\1 \2 " */
    lm_buf_reset(&a);
    for (size_t i = 0; i < b.n;) {
        if (i + 1 < b.n && !is_digit(b.p[i]) && (b.p[i + 1] == '.' || b.p[i + 1] == ',')) {
            lm_buf_addc(&a, b.p[i]);
            lm_buf_addc(&a, ' ');
            lm_buf_addc(&a, b.p[i + 1]);
            lm_buf_addc(&a, ' ');
            i += 2;
        } else {
            lm_buf_addc(&a, b.p[i++]);
        }
    }
    /* ([\.,])([^0-9]) -> " \1 \2" */
    lm_buf_reset(&b);
    for (size_t i = 0; i < a.n;) {
        if (i + 1 < a.n && (a.p[i] == '.' || a.p[i] == ',') && !is_digit(a.p[i + 1])) {
            lm_buf_addc(&b, ' ');
            lm_buf_addc(&b, a.p[i]);
            lm_buf_addc(&b, ' ');
            lm_buf_addc(&b, a.p[i + 1]);
            i += 2;
        } else {
            lm_buf_addc(&b, a.p[i++]);
        }
    }
    /* ([0-9])(-) -> "\1 \2 " */
    lm_buf_reset(&a);
    for (size_t i = 0; i < b.n;) {
        if (i + 1 < b.n && is_digit(b.p[i]) && b.p[i + 1] == '-') {
            lm_buf_addc(&a, b.p[i]);
            lm_buf_addc(&a, ' ');
            lm_buf_addc(&a, '-');
            lm_buf_addc(&a, ' ');
            i += 2;
        } else {
            lm_buf_addc(&a, b.p[i++]);
        }
    }
    lm_buf_free(&b);
    split_py(t, a.p, a.n);
    *store = a.p;
}

char *lm_tok13a(const char *s, size_t n, size_t *outlen)
{
    toks t = {0};
    char *store;
    tok13a_toks(&t, &store, s, n);
    char *r = join_toks(&t, outlen);
    free(t.v);
    free(store);
    return r;
}

/* Length of s without trailing Python whitespace (str.rstrip()). */
static size_t py_rstrip(const char *s, size_t n)
{
    size_t i = 0, end = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = next_cp(s, n, i, &cp);
        i += k;
        if (!py_space(cp))
            end = i;
    }
    return end;
}

/* ---- BLEU statistics ---- */

typedef struct {
    size_t hyp_len;
    size_t ref_len;
    size_t matches[LM_BLEU_MAX_ORDER], totals[LM_BLEU_MAX_ORDER];
} bleu_stats;

/* One segment: hypothesis and nr references, tokenised with 13a (after
 * rstrip when sacre); reference length the shortest (evaluate) or the
 * closest, shorter on ties (sacreBLEU). */
static void bleu_segment(bleu_stats *st, const lm_text *hyp, const lm_text *refs, size_t nr, int sacre)
{
    size_t nl = nr + 1;
    toks *lists = lm_xcalloc(nl, sizeof *lists);
    char **stores = lm_xcalloc(nl, sizeof *stores);
    const toks **lp = lm_xcalloc(nl, sizeof *lp);
    uint32_t **ids = lm_xcalloc(nl, sizeof *ids);
    for (size_t i = 0; i < nl; i++) {
        const lm_text *x = i == 0 ? hyp : &refs[i - 1];
        size_t len = sacre ? py_rstrip(x->s, x->n) : x->n;
        tok13a_toks(&lists[i], &stores[i], x->s, len);
        lp[i] = &lists[i];
        ids[i] = lm_xmalloc(lm_xmul(lists[i].n + 1, sizeof **ids));
    }
    intern(lp, ids, nl);

    size_t hl = lists[0].n;
    st->hyp_len = hl;
    size_t rl = 0;
    for (size_t r = 1; r < nl; r++) {
        size_t len = lists[r].n;
        if (r == 1) {
            rl = len;
        } else if (!sacre) {
            if (len < rl)
                rl = len;
        } else {
            size_t d = len > hl ? len - hl : hl - len, db = rl > hl ? rl - hl : hl - rl;
            if (d < db || (d == db && len < rl))
                rl = len;
        }
    }
    st->ref_len = rl;

    gram **rg = lm_xcalloc(nl, sizeof *rg);
    size_t *rn = lm_xcalloc(nl, sizeof *rn);
    for (size_t k = 1; k <= LM_BLEU_MAX_ORDER; k++) {
        gram *hg;
        size_t hn = grams(&hg, ids[0], hl, k);
        for (size_t r = 1; r < nl; r++)
            rn[r] = grams(&rg[r], ids[r], lists[r].n, k);
        size_t match = 0;
        for (size_t i = 0; i < hn;) {
            size_t j = i + 1;
            while (j < hn && gram_cmp(&hg[i], &hg[j]) == 0)
                j++;
            size_t best = 0;
            for (size_t r = 1; r < nl; r++) {
                size_t c = gram_count(rg[r], rn[r], &hg[i]);
                if (c > best)
                    best = c;
            }
            match += (j - i) < best ? (j - i) : best;
            i = j;
        }
        st->matches[k - 1] = match;
        st->totals[k - 1] = hn;
        free(hg);
        for (size_t r = 1; r < nl; r++)
            free(rg[r]);
    }
    free(rg);
    free(rn);
    for (size_t i = 0; i < nl; i++) {
        free(lists[i].v);
        free(stores[i]);
        free(ids[i]);
    }
    free(lists);
    free(stores);
    free(lp);
    free(ids);
}

static void bleu_corpus_stats(lm_bleu *out, const lm_text *preds, const lm_text *refs, const size_t *nrefs,
                              size_t n, int sacre)
{
    memset(out, 0, sizeof *out);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        bleu_stats st = {0};
        bleu_segment(&st, &preds[i], refs + off, nrefs[i], sacre);
        off += nrefs[i];
        out->hyp_len += st.hyp_len;
        out->ref_len += st.ref_len;
        for (int k = 0; k < LM_BLEU_MAX_ORDER; k++) {
            out->matches[k] += st.matches[k];
            out->totals[k] += st.totals[k];
        }
    }
}

void lm_bleu_evaluate(lm_bleu *out, const lm_text *preds, const lm_text *refs, const size_t *nrefs, size_t n,
                      int smooth)
{
    bleu_corpus_stats(out, preds, refs, nrefs, n, 0);
    double minp = INFINITY;
    for (int k = 0; k < LM_BLEU_MAX_ORDER; k++) {
        double p;
        if (smooth)
            p = ((double)out->matches[k] + 1.) / ((double)out->totals[k] + 1.);
        else
            p = out->totals[k] > 0 ? (double)out->matches[k] / (double)out->totals[k] : 0.0;
        out->precisions[k] = p;
        if (p < minp)
            minp = p;
    }
    double geo = 0;
    if (minp > 0) {
        double s = 0;
        for (int k = 0; k < LM_BLEU_MAX_ORDER; k++)
            s += (1. / LM_BLEU_MAX_ORDER) * log(out->precisions[k]);
        geo = exp(s);
    }
    if (out->ref_len == 0 || out->hyp_len == 0) {
        out->ratio = 0.0;
        out->bp = 0.0;
    } else {
        out->ratio = (double)out->hyp_len / (double)out->ref_len;
        out->bp = out->ratio > 1.0 ? 1.0 : exp(1 - 1.0 / out->ratio);
    }
    out->score = geo * out->bp;
}

double lm_bleu_evaluate1(const char *pred, size_t pn, const char *ref, size_t rn)
{
    lm_text p = {pred, pn}, r = {ref, rn};
    size_t one = 1;
    lm_bleu b;
    lm_bleu_evaluate(&b, &p, &r, &one, 1, 0);
    return b.score;
}

static double floored_log(double x)
{
    return x == 0.0 ? -9999999999.0 : log(x);
}

void lm_sacrebleu(lm_bleu *out, const lm_text *preds, const lm_text *refs, const size_t *nrefs, size_t n,
                  lm_bleu_smooth smooth, double smooth_value, int effective_order)
{
    bleu_corpus_stats(out, preds, refs, nrefs, n, 1);
    if (smooth_value < 0)
        smooth_value = smooth == LM_SMOOTH_FLOOR ? 0.1 : 1.0;
    double sys = (double)out->hyp_len, ref = (double)out->ref_len;
    out->bp = 1.0;
    if (out->hyp_len < out->ref_len)
        out->bp = out->hyp_len > 0 ? exp(1 - ref / sys) : 0.0;
    out->ratio = out->hyp_len && out->ref_len ? sys / ref : 0.0;
    for (int k = 0; k < LM_BLEU_MAX_ORDER; k++)
        out->precisions[k] = 0.0;
    int any = 0;
    for (int k = 0; k < LM_BLEU_MAX_ORDER; k++)
        any |= out->matches[k] != 0;
    if (!any) {
        out->score = 0.0;
        return;
    }
    double mteval = 1.;
    int eff = LM_BLEU_MAX_ORDER;
    for (int k = 1; k <= LM_BLEU_MAX_ORDER; k++) {
        double c = (double)out->matches[k - 1], t = (double)out->totals[k - 1];
        if (smooth == LM_SMOOTH_ADD_K && k > 1) {
            c += smooth_value;
            t += smooth_value;
        }
        if (t == 0)
            break;
        if (effective_order)
            eff = k;
        if (c == 0) {
            if (smooth == LM_SMOOTH_EXP) {
                mteval *= 2;
                out->precisions[k - 1] = 100. / (mteval * t);
            } else if (smooth == LM_SMOOTH_FLOOR) {
                out->precisions[k - 1] = 100. * smooth_value / t;
            }
        } else {
            out->precisions[k - 1] = 100. * c / t;
        }
    }
    double s = 0;
    for (int k = 0; k < eff; k++)
        s += floored_log(out->precisions[k]);
    out->score = out->bp * exp(s / eff);
}

void lm_sacrebleu_corpus(lm_bleu *out, const lm_text *preds, const lm_text *refs, const size_t *nrefs,
                         size_t n)
{
    lm_sacrebleu(out, preds, refs, nrefs, n, LM_SMOOTH_EXP, -1, 0);
}

void lm_sacrebleu_sentence(lm_bleu *out, const char *pred, size_t pn, const lm_text *refs, size_t nrefs)
{
    lm_text p = {pred, pn};
    lm_sacrebleu(out, &p, refs, &nrefs, 1, LM_SMOOTH_EXP, -1, 1);
}

/* ---- Porter stemmer (NLTK_EXTENSIONS) ---- */

static int is_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

/* Is w[i] a consonant: not a vowel, and a y only when it starts the word or
 * follows a vowel (so the letters of a run of y alternate). */
static int cons(const char *w, size_t i)
{
    if (is_vowel(w[i]))
        return 0;
    if (w[i] != 'y')
        return 1;
    size_t j = i;
    while (j > 0 && w[j - 1] == 'y')
        j--;
    /* w[j] is the first y of the run: a consonant at the start or after a vowel */
    int first = j == 0 || is_vowel(w[j - 1]);
    return ((i - j) % 2 == 0) == first;
}

/* m of w[0..n): the number of vowel-consonant transitions. */
static size_t measure(const char *w, size_t n)
{
    size_t m = 0;
    int prev_v = 0;
    for (size_t i = 0; i < n; i++) {
        int c = cons(w, i);
        if (c && prev_v)
            m++;
        prev_v = !c;
    }
    return m;
}

static int has_vowel(const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!cons(w, i))
            return 1;
    return 0;
}

static int ends_double(const char *w, size_t n)
{
    return n >= 2 && w[n - 1] == w[n - 2] && cons(w, n - 1);
}

/* *o: consonant-vowel-consonant, the last not w, x or y; or (NLTK) a
 * two-letter vowel-consonant word. */
static int ends_cvc(const char *w, size_t n)
{
    if (n >= 3 && cons(w, n - 3) && !cons(w, n - 2) && cons(w, n - 1) && w[n - 1] != 'w' && w[n - 1] != 'x' &&
        w[n - 1] != 'y')
        return 1;
    return n == 2 && !cons(w, 0) && cons(w, 1);
}

static int ends(const char *w, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n >= k && memcmp(w + n - k, suf, k) == 0;
}

/* Replaces the last k letters of w[0..n) by rep; returns the new length. */
static size_t swap_end(char *w, size_t n, size_t k, const char *rep)
{
    size_t r = strlen(rep);
    memcpy(w + n - k, rep, r);
    return n - k + r;
}

typedef struct {
    const char *suf, *rep;
} rule;

/* The first rule whose suffix ends w decides: applied when m(stem) > min_m,
 * else w is left as it is. */
static size_t rule_list(char *w, size_t n, const rule *rules, size_t nr, size_t min_m)
{
    for (size_t i = 0; i < nr; i++) {
        if (!ends(w, n, rules[i].suf))
            continue;
        size_t k = strlen(rules[i].suf);
        if (measure(w, n - k) > min_m)
            return swap_end(w, n, k, rules[i].rep);
        return n;
    }
    return n;
}

static size_t step1a(char *w, size_t n)
{
    if (n == 4 && ends(w, n, "ies"))
        return swap_end(w, n, 3, "ie");
    if (ends(w, n, "sses"))
        return n - 2;
    if (ends(w, n, "ies"))
        return n - 2;
    if (ends(w, n, "ss"))
        return n;
    if (ends(w, n, "s"))
        return n - 1;
    return n;
}

static size_t step1b(char *w, size_t n)
{
    if (ends(w, n, "ied"))
        return n == 4 ? n - 1 : n - 2; /* "ie" / "i" */
    if (ends(w, n, "eed"))
        return measure(w, n - 3) > 0 ? n - 1 : n;
    size_t s;
    if (ends(w, n, "ed") && has_vowel(w, n - 2))
        s = n - 2;
    else if (ends(w, n, "ing") && has_vowel(w, n - 3))
        s = n - 3;
    else
        return n;
    if (ends(w, s, "at") || ends(w, s, "bl") || ends(w, s, "iz")) {
        w[s] = 'e';
        return s + 1;
    }
    if (ends_double(w, s)) {
        char c = w[s - 1];
        return (c != 'l' && c != 's' && c != 'z') ? s - 1 : s;
    }
    if (measure(w, s) == 1 && ends_cvc(w, s)) {
        w[s] = 'e';
        return s + 1;
    }
    return s;
}

static size_t step1c(char *w, size_t n)
{
    if (ends(w, n, "y") && n - 1 > 1 && cons(w, n - 2))
        w[n - 1] = 'i';
    return n;
}

static size_t step2(char *w, size_t n)
{
    static const rule rules[] = {
        {"ational", "ate"}, {"tional", "tion"}, {"enci", "ence"}, {"anci", "ance"}, {"izer", "ize"},
        {"bli", "ble"},     {"alli", "al"},     {"entli", "ent"}, {"eli", "e"},     {"ousli", "ous"},
        {"ization", "ize"}, {"ation", "ate"},   {"ator", "ate"},  {"alism", "al"},  {"iveness", "ive"},
        {"fulness", "ful"}, {"ousness", "ous"}, {"aliti", "al"},  {"iviti", "ive"}, {"biliti", "ble"},
        {"fulli", "ful"},
    };
    while (ends(w, n, "alli") && measure(w, n - 4) > 0)
        n -= 2;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (ends(w, n, rules[i].suf))
            return rule_list(w, n, &rules[i], 1, 0);
    /* logi -> log, the l measured with the stem */
    if (ends(w, n, "logi"))
        return measure(w, n - 3) > 0 ? n - 1 : n;
    return n;
}

static size_t step3(char *w, size_t n)
{
    static const rule rules[] = {
        {"icate", "ic"}, {"ative", ""}, {"alize", "al"}, {"iciti", "ic"},
        {"ical", "ic"},  {"ful", ""},   {"ness", ""},
    };
    return rule_list(w, n, rules, sizeof rules / sizeof rules[0], 0);
}

static size_t step4(char *w, size_t n)
{
    static const rule rules[] = {
        {"al", ""},  {"ance", ""},  {"ence", ""}, {"er", ""},  {"ic", ""},  {"able", ""}, {"ible", ""},
        {"ant", ""}, {"ement", ""}, {"ment", ""}, {"ent", ""}, {"ion", ""}, {"ou", ""},   {"ism", ""},
        {"ate", ""}, {"iti", ""},   {"ous", ""},  {"ive", ""}, {"ize", ""},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (!ends(w, n, rules[i].suf))
            continue;
        size_t s = n - strlen(rules[i].suf);
        int ok = measure(w, s) > 1;
        if (ok && strcmp(rules[i].suf, "ion") == 0)
            ok = w[s - 1] == 's' || w[s - 1] == 't';
        return ok ? s : n;
    }
    return n;
}

static size_t step5(char *w, size_t n)
{
    if (ends(w, n, "e")) {
        size_t m = measure(w, n - 1);
        if (m > 1 || (m == 1 && !ends_cvc(w, n - 1)))
            n--;
    }
    if (ends(w, n, "ll") && measure(w, n - 1) > 1)
        n--;
    return n;
}

size_t lm_porter_stem(char *w, size_t n)
{
    static const rule irregular[] = {
        {"sky", "sky"},        {"skies", "sky"},       {"dying", "die"},        {"lying", "lie"},
        {"tying", "tie"},      {"news", "news"},       {"innings", "inning"},   {"inning", "inning"},
        {"outings", "outing"}, {"outing", "outing"},   {"cannings", "canning"}, {"canning", "canning"},
        {"howe", "howe"},      {"proceed", "proceed"}, {"exceed", "exceed"},    {"succeed", "succeed"},
    };
    for (size_t i = 0; i < sizeof irregular / sizeof irregular[0]; i++)
        if (strlen(irregular[i].suf) == n && memcmp(w, irregular[i].suf, n) == 0)
            return swap_end(w, n, n, irregular[i].rep);
    if (n <= 2)
        return n;
    n = step1a(w, n);
    n = step1b(w, n);
    n = step1c(w, n);
    n = step2(w, n);
    n = step3(w, n);
    n = step4(w, n);
    n = step5(w, n);
    return n;
}

/* ---- ROUGE ---- */

/* rouge-score's tokens of s, stemmed in *store (views into it). */
static void rouge_toks(toks *t, char **store, const char *s, size_t n, int stem)
{
    lm_buf b = {0};
    lm_buf_addc(&b, ' ');
    for (size_t i = 0; i < n;) {
        uint32_t cp, low[3];
        i += next_cp(s, n, i, &cp);
        size_t k = cp < BAD_CP ? lm_hft_lower(cp, low) : (low[0] = cp, 1);
        for (size_t j = 0; j < k; j++) {
            uint32_t c = low[j];
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
                lm_buf_addc(&b, (char)c);
            else if (b.p[b.n - 1] != ' ')
                lm_buf_addc(&b, ' ');
        }
    }
    /* tokens, stemmed in place (a stem is never longer than its word) */
    size_t i = 0;
    while (i < b.n) {
        while (i < b.n && b.p[i] == ' ')
            i++;
        size_t st = i;
        while (i < b.n && b.p[i] != ' ')
            i++;
        size_t len = i - st;
        if (stem && len > 3)
            len = lm_porter_stem(b.p + st, len);
        if (len > 0)
            toks_push(t, b.p + st, len);
    }
    *store = b.p;
}

char *lm_rouge_tokens(const char *s, size_t n, int use_stemmer, size_t *outlen)
{
    toks t = {0};
    char *store;
    rouge_toks(&t, &store, s, n, use_stemmer);
    char *r = join_toks(&t, outlen);
    free(t.v);
    free(store);
    return r;
}

static double fmeasure(double p, double r)
{
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

static void rouge_n(lm_rouge_score *sc, const uint32_t *pi, size_t pn, const uint32_t *ri, size_t rn,
                    size_t k)
{
    gram *pg, *rg;
    size_t np = grams(&pg, pi, pn, k), nr = grams(&rg, ri, rn, k);
    size_t overlap = 0, i = 0, j = 0;
    while (i < np && j < nr) {
        int c = gram_cmp(&pg[i], &rg[j]);
        if (c < 0) {
            i++;
        } else if (c > 0) {
            j++;
        } else {
            size_t a = 1, b = 1;
            while (i + a < np && gram_cmp(&pg[i], &pg[i + a]) == 0)
                a++;
            while (j + b < nr && gram_cmp(&rg[j], &rg[j + b]) == 0)
                b++;
            overlap += a < b ? a : b;
            i += a;
            j += b;
        }
    }
    free(pg);
    free(rg);
    sc->precision = (double)overlap / (double)(np > 1 ? np : 1);
    sc->recall = (double)overlap / (double)(nr > 1 ? nr : 1);
    sc->fmeasure = fmeasure(sc->precision, sc->recall);
}

static void rouge_l(lm_rouge_score *sc, const uint32_t *pi, size_t pn, const uint32_t *ri, size_t rn)
{
    if (pn == 0 || rn == 0) {
        sc->precision = sc->recall = sc->fmeasure = 0;
        return;
    }
    size_t *prev = lm_xcalloc(pn + 1, sizeof *prev), *cur = lm_xcalloc(pn + 1, sizeof *cur);
    for (size_t i = 1; i <= rn; i++) {
        cur[0] = 0;
        for (size_t j = 1; j <= pn; j++) {
            if (ri[i - 1] == pi[j - 1])
                cur[j] = prev[j - 1] + 1;
            else
                cur[j] = prev[j] > cur[j - 1] ? prev[j] : cur[j - 1];
        }
        size_t *t = prev;
        prev = cur;
        cur = t;
    }
    size_t lcs = prev[pn];
    free(prev);
    free(cur);
    sc->precision = (double)lcs / (double)pn;
    sc->recall = (double)lcs / (double)rn;
    sc->fmeasure = fmeasure(sc->precision, sc->recall);
}

void lm_rouge_pair(lm_rouge *out, const char *pred, size_t pn, const char *ref, size_t rn, int use_stemmer)
{
    toks tp = {0}, tr = {0};
    char *sp, *sr;
    rouge_toks(&tp, &sp, pred, pn, use_stemmer);
    rouge_toks(&tr, &sr, ref, rn, use_stemmer);
    const toks *lists[2] = {&tp, &tr};
    uint32_t *ids[2] = {lm_xmalloc(lm_xmul(tp.n + 1, sizeof(uint32_t))),
                        lm_xmalloc(lm_xmul(tr.n + 1, sizeof(uint32_t)))};
    intern(lists, ids, 2);
    rouge_n(&out->r1, ids[0], tp.n, ids[1], tr.n, 1);
    rouge_n(&out->r2, ids[0], tp.n, ids[1], tr.n, 2);
    rouge_l(&out->rl, ids[0], tp.n, ids[1], tr.n);
    free(ids[0]);
    free(ids[1]);
    free(tp.v);
    free(tr.v);
    free(sp);
    free(sr);
}

void lm_rouge_multi(lm_rouge *out, const char *pred, size_t pn, const lm_text *refs, size_t nrefs,
                    int use_stemmer)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < nrefs; i++) {
        lm_rouge r;
        lm_rouge_pair(&r, pred, pn, refs[i].s, refs[i].n, use_stemmer);
        if (i == 0 || r.r1.fmeasure > out->r1.fmeasure)
            out->r1 = r.r1;
        if (i == 0 || r.r2.fmeasure > out->r2.fmeasure)
            out->r2 = r.r2;
        if (i == 0 || r.rl.fmeasure > out->rl.fmeasure)
            out->rl = r.rl;
    }
}

/* ---- SQuAD v1.1 ---- */

/* Final_Sigma class of cp: 0 other, 1 case-ignorable, 2 cased. */
static int sigma_cls(uint32_t cp)
{
    if (cp >= BAD_CP)
        return 0;
    return lm_met_sigma_cls[lm_uni_run_of(lm_met_sigma_start, lm_met_sigma_n, cp)];
}

/* CPython's handle_capital_sigma: is the U+03A3 at cps[i] final? */
static int final_sigma(const uint32_t *cps, size_t n, size_t i)
{
    size_t j = i;
    int c = 0;
    while (j > 0) {
        c = sigma_cls(cps[--j]);
        if (c != 1)
            break;
    }
    if (c != 2)
        return 0;
    for (j = i + 1; j < n; j++) {
        c = sigma_cls(cps[j]);
        if (c != 1)
            return c != 2;
    }
    return 1;
}

/* Python's str.lower() of code point i of cp[0..m) into l: the final-sigma
 * rule for U+03A3, invalid bytes (>= BAD_CP) kept; returns the count. */
static size_t py_lower_at(const uint32_t *cp, size_t m, size_t i, uint32_t l[3])
{
    if (cp[i] == 0x3A3) {
        l[0] = final_sigma(cp, m, i) ? 0x3C2 : 0x3C3;
        return 1;
    }
    if (cp[i] >= BAD_CP) {
        l[0] = cp[i];
        return 1;
    }
    return lm_hft_lower(cp[i], l);
}

char *lm_py_lower(const char *s, size_t n, size_t *outlen)
{
    uint32_t *cp = lm_xmalloc(lm_xmul(n + 1, sizeof *cp));
    size_t m = 0;
    for (size_t i = 0; i < n;)
        i += next_cp(s, n, i, &cp[m++]);
    lm_buf b = {0};
    for (size_t i = 0; i < m; i++) {
        uint32_t l[3];
        size_t c = py_lower_at(cp, m, i, l);
        for (size_t j = 0; j < c; j++)
            put_cp(&b, l[j]);
    }
    free(cp);
    lm_buf_addc(&b, 0);
    *outlen = b.n - 1;
    return b.p;
}

static int ascii_punct(uint32_t c)
{
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
}

char *lm_squad_normalize(const char *s, size_t n, size_t *outlen)
{
    /* code points */
    uint32_t *cp = lm_xmalloc(lm_xmul(n + 1, sizeof *cp));
    size_t m = 0;
    for (size_t i = 0; i < n;)
        i += next_cp(s, n, i, &cp[m++]);
    /* lower-case, punctuation removed */
    uint32_t *lo = lm_xmalloc(lm_xmul(lm_xmul(m, 3) + 1, sizeof *lo));
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        uint32_t l[3];
        size_t c = py_lower_at(cp, m, i, l);
        for (size_t j = 0; j < c; j++)
            if (!ascii_punct(l[j]))
                lo[k++] = l[j];
    }
    /* whole words a / an / the -> ' ' */
    for (size_t i = 0; i < k;) {
        if (!py_word(lo[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < k && py_word(lo[j]))
            j++;
        size_t len = j - i;
        int art = (len == 1 && lo[i] == 'a') || (len == 2 && lo[i] == 'a' && lo[i + 1] == 'n') ||
                  (len == 3 && lo[i] == 't' && lo[i + 1] == 'h' && lo[i + 2] == 'e');
        if (art) {
            lo[i] = ' ';
            for (size_t q = i + 1; q < j; q++)
                lo[q] = 0xFFFFFFFFu; /* dropped below */
        }
        i = j;
    }
    /* ' '.join(split()) */
    lm_buf b = {0};
    int in = 0, any = 0;
    for (size_t i = 0; i < k; i++) {
        if (lo[i] == 0xFFFFFFFFu)
            continue;
        if (py_space(lo[i])) {
            in = 0;
            continue;
        }
        if (!in && any)
            lm_buf_addc(&b, ' ');
        in = any = 1;
        put_cp(&b, lo[i]);
    }
    free(cp);
    free(lo);
    if (!b.p)
        b.p = lm_xstrdup("");
    if (outlen)
        *outlen = b.n;
    return b.p;
}

static int tok_cmp(const void *a, const void *b)
{
    const tok *x = a, *y = b;
    size_t m = x->n < y->n ? x->n : y->n;
    int c = m ? memcmp(x->p, y->p, m) : 0;
    if (c)
        return c;
    return (x->n > y->n) - (x->n < y->n);
}

/* Tokens of the normalised text: split on the single spaces it has. */
static void squad_toks(toks *t, const char *s, size_t n)
{
    size_t st = 0;
    for (size_t i = 0; i <= n; i++)
        if (i == n || s[i] == ' ') {
            if (i > st)
                toks_push(t, s + st, i - st);
            st = i + 1;
        }
}

static double squad_f1_one(const char *ns, size_t nn, const char *rs, size_t rn)
{
    toks a = {0}, b = {0};
    squad_toks(&a, ns, nn);
    squad_toks(&b, rs, rn);
    if (a.n)
        qsort(a.v, a.n, sizeof *a.v, tok_cmp);
    if (b.n)
        qsort(b.v, b.n, sizeof *b.v, tok_cmp);
    size_t same = 0, i = 0, j = 0;
    while (i < a.n && j < b.n) {
        int c = tok_cmp(&a.v[i], &b.v[j]);
        if (c == 0) {
            same++;
            i++;
            j++;
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    double f1 = 0;
    if (same) {
        double p = 1.0 * (double)same / (double)a.n, r = 1.0 * (double)same / (double)b.n;
        f1 = (2 * p * r) / (p + r);
    }
    free(a.v);
    free(b.v);
    return f1;
}

double lm_squad_f1(const char *pred, size_t pn, const lm_text *refs, size_t nrefs)
{
    size_t nn;
    char *np = lm_squad_normalize(pred, pn, &nn);
    double best = 0;
    for (size_t i = 0; i < nrefs; i++) {
        size_t rn;
        char *nr = lm_squad_normalize(refs[i].s, refs[i].n, &rn);
        double f = squad_f1_one(np, nn, nr, rn);
        if (i == 0 || f > best)
            best = f;
        free(nr);
    }
    free(np);
    return best;
}

int lm_squad_em(const char *pred, size_t pn, const lm_text *refs, size_t nrefs)
{
    size_t nn;
    char *np = lm_squad_normalize(pred, pn, &nn);
    int em = 0;
    for (size_t i = 0; i < nrefs && !em; i++) {
        size_t rn;
        char *nr = lm_squad_normalize(refs[i].s, refs[i].n, &rn);
        em = rn == nn && memcmp(np, nr, nn) == 0;
        free(nr);
    }
    free(np);
    return em;
}
