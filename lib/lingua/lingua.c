/* lingua.c - the model-free pieces of LLMLingua-2 compression, exactly as
 * llmlingua 0.2.2's prompt_compressor.py computes them
 * (compress_prompt_llmlingua2, __chunk_context, __merge_token_to_word,
 * __token_prob_to_word_prob, __compress): force-token map, chunk search,
 * token->word merge with NumPy's float32 / Python float promotion (NumPy 2
 * rules, NEP 50),
 * numpy.percentile's linear method, per-chunk threshold and selection,
 * drop_consecutive, the context-level filter and the output strings.
 * Does not: tokenize, count cl100k tokens or run a model (compress.c does
 * the flow; the caller supplies the model and the counter).
 */
#include "lingua/lingua.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/utf8.h"
#include "text/hftok_unicode.h"

/* ---- force tokens ---------------------------------------------------- */

static int seq_eq(const char *a, size_t na, const char *b, size_t nb)
{
    return na == nb && !memcmp(a, b, na);
}

int lm_lingua_force_check(size_t n_force, char *err, size_t errlen)
{
    if (n_force <= LM_LINGUA_MAX_FORCE)
        return 0;
    lm_seterr(err, errlen, "%zu strings, at most %d are allowed", n_force, LM_LINGUA_MAX_FORCE);
    return -1;
}

int lm_lingua_force_init(lm_lingua_force *f, const char *const *force, const size_t *force_len,
                         size_t n_force, const size_t *ntok, const char *const *ends, const size_t *ends_len,
                         size_t n_ends, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (lm_lingua_force_check(n_force, err, errlen))
        return -1;
    for (size_t i = 0; i < n_force; i++)
        if (force_len[i] == 0) {
            lm_seterr(err, errlen, "force token %zu is empty", i + 1);
            return -1;
        }
    size_t nf = n_force ? n_force : 1;
    f->n_force = n_force;
    f->force = lm_xcalloc(nf, sizeof *f->force);
    f->force_len = lm_xcalloc(nf, sizeof *f->force_len);
    f->from = lm_xcalloc(nf, sizeof *f->from);
    f->to = lm_xcalloc(nf, sizeof *f->to);
    f->from_len = lm_xcalloc(nf, sizeof *f->from_len);
    f->to_len = lm_xcalloc(nf, sizeof *f->to_len);
    for (size_t i = 0; i < n_force; i++) {
        f->force[i] = lm_xstrndup(force[i], force_len[i]);
        f->force_len[i] = force_len[i];
        if (ntok[i] == 1)
            continue;
        char name[32];
        int nn = snprintf(name, sizeof name, "[NEW%zu]", i);
        size_t k = 0;
        while (k < f->n_map && !seq_eq(f->from[k], f->from_len[k], force[i], force_len[i]))
            k++;
        if (k == f->n_map) { /* a new dict key: appended */
            f->from[k] = lm_xstrndup(force[i], force_len[i]);
            f->from_len[k] = force_len[i];
            f->n_map++;
        } else { /* an existing key keeps its place, takes the new value */
            free(f->to[k]);
        }
        f->to[k] = lm_xstrndup(name, (size_t)nn);
        f->to_len[k] = (size_t)nn;
    }
    size_t ne = n_ends + f->n_map + 1;
    f->end = lm_xcalloc(ne, sizeof *f->end);
    f->end_len = lm_xcalloc(ne, sizeof *f->end_len);
    for (size_t i = 0; i < n_ends; i++) {
        f->end[f->n_end] = lm_xstrndup(ends[i], ends_len[i]);
        f->end_len[f->n_end++] = ends_len[i];
    }
    for (size_t i = 0; i < n_ends; i++)
        for (size_t k = 0; k < f->n_map; k++)
            if (seq_eq(ends[i], ends_len[i], f->from[k], f->from_len[k])) {
                int dup = 0;
                for (size_t j = 0; j < f->n_end; j++)
                    dup |= seq_eq(f->end[j], f->end_len[j], f->to[k], f->to_len[k]);
                if (!dup) {
                    f->end[f->n_end] = lm_xstrndup(f->to[k], f->to_len[k]);
                    f->end_len[f->n_end++] = f->to_len[k];
                }
            }
    return 0;
}

void lm_lingua_force_free(lm_lingua_force *f)
{
    for (size_t i = 0; i < f->n_force; i++)
        free(f->force[i]);
    for (size_t i = 0; i < f->n_map; i++)
        free(f->from[i]), free(f->to[i]);
    for (size_t i = 0; i < f->n_end; i++)
        free(f->end[i]);
    free(f->force), free(f->force_len), free(f->from), free(f->to), free(f->from_len), free(f->to_len);
    free(f->end), free(f->end_len);
    memset(f, 0, sizeof *f);
}

/* Python's s.replace(a, b) (a non-empty) appended to out. */
static void replace_all(const char *s, size_t n, const char *a, size_t na, const char *b, size_t nb,
                        lm_buf *out)
{
    size_t i = 0;
    while (i < n) {
        const char *hit = na <= n - i ? memmem(s + i, n - i, a, na) : NULL;
        if (!hit)
            break;
        size_t at = (size_t)(hit - s);
        lm_buf_add(out, s + i, at - i);
        lm_buf_add(out, b, nb);
        i = at + na;
    }
    lm_buf_add(out, s + i, n - i);
}

void lm_lingua_force_replace(const lm_lingua_force *f, const char *s, size_t n, int to_new, lm_buf *out)
{
    lm_buf a = {0}, b = {0};
    lm_buf_add(&a, s, n);
    for (size_t k = 0; k < f->n_map; k++) {
        lm_buf_reset(&b);
        if (to_new)
            replace_all(a.p, a.n, f->from[k], f->from_len[k], f->to[k], f->to_len[k], &b);
        else
            replace_all(a.p, a.n, f->to[k], f->to_len[k], f->from[k], f->from_len[k], &b);
        lm_buf t = a;
        a = b;
        b = t;
    }
    lm_buf_add(out, a.p ? a.p : "", a.n);
    lm_buf_free(&a);
    lm_buf_free(&b);
}

static int in_list(const char *s, size_t n, char *const *list, const size_t *lens, size_t nl)
{
    for (size_t i = 0; i < nl; i++)
        if (seq_eq(s, n, list[i], lens[i]))
            return 1;
    return 0;
}

/* ---- chunking -------------------------------------------------------- */

size_t lm_lingua_chunk(const char *const *toks, const size_t *lens, size_t n, size_t max_len,
                       const lm_lingua_force *f, size_t *ends)
{
    size_t st = 0, k = 0;
    while (st < n) {
        if (st + max_len > n - 1) {
            ends[k++] = n;
            break;
        }
        size_t ed = st + max_len;
        for (size_t j = 0; j < ed - st; j++)
            if (in_list(toks[ed - j], lens[ed - j], f->end, f->end_len, f->n_end)) {
                ed -= j;
                break;
            }
        ends[k++] = ed + 1;
        st = ed + 1;
    }
    return k;
}

/* ---- words ----------------------------------------------------------- */

void lm_lingua_words_free(lm_lingua_words *ws)
{
    for (size_t i = 0; i < ws->n; i++)
        free(ws->w[i].text);
    free(ws->w);
    memset(ws, 0, sizeof *ws);
}

static const char PUNCT[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
#define META "\xe2\x96\x81" /* U+2581 */

static int has_decimal(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = lm_utf8_decode(s + i, n - i, &cp);
        if (!l)
            l = 1;
        else if (lm_hft_category(cp) == HFT_Nd)
            return 1;
        i += l;
    }
    return 0;
}

/* Python's sum(list) / len(list) accumulated left to right. */
typedef struct {
    double acc;
    int py; /* the accumulator is still a Python number */
    size_t n;
    lm_lingua_p first;
} acc_t;

static void acc_add(acc_t *a, lm_lingua_p x)
{
    if (a->n++ == 0)
        a->first = x;
    if (a->py && x.py) {
        a->acc += x.v;
    } else {
        volatile float s = (float)a->acc + (float)x.v;
        a->acc = s;
        a->py = 0;
    }
}

static lm_lingua_p acc_value(const acc_t *a, int first)
{
    if (first)
        return a->first;
    lm_lingua_p r;
    if (a->py) {
        r.v = a->acc / (double)a->n;
        r.py = 1;
    } else {
        volatile float m = (float)a->acc / (float)a->n;
        r.v = m;
        r.py = 0;
    }
    return r;
}

static size_t lstrip_pure(lm_lingua_family fam, const char *t, size_t n)
{
    size_t i = 0;
    if (fam == LM_LINGUA_BERT)
        while (i < n && t[i] == '#')
            i++;
    else
        while (i + 3 <= n && !memcmp(t + i, META, 3))
            i += 3;
    return i;
}

int lm_lingua_word_start(lm_lingua_family fam, const char *t, size_t tl, const lm_lingua_force *f)
{
    static const lm_lingua_force none = {0};
    if (!f)
        f = &none;
    if (fam == LM_LINGUA_BERT) {
        size_t ps = lstrip_pure(fam, t, tl);
        if (in_list(t + ps, tl - ps, f->force, f->force_len, f->n_force) ||
            in_list(t + ps, tl - ps, f->to, f->to_len, f->n_map))
            return 1;
        return !(tl >= 2 && t[0] == '#' && t[1] == '#');
    }
    if ((tl > 0 && memmem(PUNCT, sizeof PUNCT - 1, t, tl)) ||
        in_list(t, tl, f->force, f->force_len, f->n_force) || in_list(t, tl, f->to, f->to_len, f->n_map))
        return 1;
    return tl >= 3 && !memcmp(t, META, 3);
}

/* lm_lingua_merge; fmark[i] (when not NULL) is set to 1 where token i's
 * probability is replaced by the forced 1.0, else 0 */
static void merge(lm_lingua_family fam, const char *const *toks, const size_t *lens, const float *p, size_t n,
                  const char *const *special, size_t nspecial, const lm_lingua_force *f, int reserve_digit,
                  int first, lm_lingua_words *out, uint8_t *fmark)
{
    acc_t forced = {0}, plain = {0};
    int open = 0; /* a word of this call is being built */
    float p_noforce = 0;
    lm_buf w = {0};
    for (size_t i = 0; i <= n; i++) {
        int is_new = 1;
        const char *t = NULL;
        size_t tl = 0, ps = 0;
        if (i < n) {
            t = toks[i];
            tl = lens[i];
            int skip = 0;
            for (size_t k = 0; k < nspecial; k++)
                if (seq_eq(t, tl, special[k], strlen(special[k])))
                    skip = 1;
            if (fmark)
                fmark[i] = 0;
            if (skip)
                continue;
            ps = lstrip_pure(fam, t, tl);
            is_new = lm_lingua_word_start(fam, t, tl, f);
            if (!open)
                is_new = 1; /* the reference would fail here; start a word */
        }
        if (is_new && open) { /* close the previous word */
            if (out->n == out->cap) {
                out->cap = out->cap ? 2 * out->cap : 16;
                out->w = lm_xrealloc(out->w, out->cap * sizeof *out->w);
            }
            lm_lingua_word *wd = &out->w[out->n++];
            wd->text = lm_xstrndup(w.p ? w.p : "", w.n);
            wd->len = w.n;
            wd->prob = acc_value(&forced, first);
            wd->prob_noforce = (float)acc_value(&plain, first).v;
            open = 0;
        }
        if (i == n)
            break;
        lm_lingua_p pp = {p[i], 0};
        if (is_new) {
            lm_lingua_p prob = pp;
            p_noforce = p[i];
            if (in_list(t + ps, tl - ps, f->force, f->force_len, f->n_force) ||
                in_list(t + ps, tl - ps, f->to, f->to_len, f->n_map))
                prob = (lm_lingua_p){1.0, 1};
            lm_buf_reset(&w);
            lm_lingua_force_replace(f, t, tl, 0, &w);
            if (reserve_digit && has_decimal(w.p, w.n))
                prob = (lm_lingua_p){1.0, 1};
            if (fmark)
                fmark[i] = (uint8_t)prob.py;
            memset(&forced, 0, sizeof forced);
            memset(&plain, 0, sizeof plain);
            forced.py = plain.py = 1;
            acc_add(&forced, prob);
            acc_add(&plain, (lm_lingua_p){p_noforce, 0});
            open = 1;
        } else {
            lm_buf_add(&w, t + ps, tl - ps);
            int fd = reserve_digit && has_decimal(t, tl);
            acc_add(&forced, fd ? (lm_lingua_p){1.0, 1} : pp);
            acc_add(&plain, (lm_lingua_p){p_noforce, 0});
            if (fmark)
                fmark[i] = (uint8_t)fd;
        }
    }
    lm_buf_free(&w);
}

void lm_lingua_merge(lm_lingua_family fam, const char *const *toks, const size_t *lens, const float *p,
                     size_t n, const char *const *special, size_t nspecial, const lm_lingua_force *f,
                     int reserve_digit, int first, lm_lingua_words *out)
{
    merge(fam, toks, lens, p, n, special, nspecial, f, reserve_digit, first, out, NULL);
}

void lm_lingua_forced(lm_lingua_family fam, const char *const *toks, const size_t *lens, size_t n,
                      const char *const *special, size_t nspecial, const lm_lingua_force *f,
                      int reserve_digit, uint8_t *forced)
{
    lm_lingua_words ws = {0};
    float *p = lm_xcalloc(n + 1, sizeof *p);
    merge(fam, toks, lens, p, n, special, nspecial, f, reserve_digit, 0, &ws, forced);
    free(p);
    lm_lingua_words_free(&ws);
}

/* ---- percentile, threshold, selection -------------------------------- */

int lm_lingua_q(double reduce_rate, int add)
{
    double x = 100 * reduce_rate + add;
    return (int)x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double lm_lingua_percentile(double *v, size_t n, int q, int f32)
{
    qsort(v, n, sizeof *v, cmp_double);
    if (q > 100)
        q = 100;
    if (q < 0)
        q = 0;
    double vi = (double)(n - 1) * ((double)q / 100.0);
    if (vi >= (double)(n - 1))
        return v[n - 1];
    double lo = floor(vi);
    size_t i = (size_t)lo;
    double g = vi - lo;
    if (f32) {
        float a = (float)v[i], b = (float)v[i + 1];
        volatile float d = b - a;
        volatile float m;
        float r;
        if (g >= 0.5) {
            m = d * (float)(1 - g);
            r = b - m;
        } else {
            m = d * (float)g;
            r = a + m;
        }
        return r;
    }
    double a = v[i], b = v[i + 1];
    volatile double d = b - a;
    volatile double m;
    if (g >= 0.5) {
        m = d * (1 - g);
        return b - m;
    }
    m = d * g;
    return a + m;
}

/* drop_consecutive's walk (__compress): a force token repeating the
 * previous one with no word above t0 in between gets probability 0 */
static void drop_walk(const lm_lingua_words *ws, lm_lingua_p *p, double t0, const lm_lingua_force *f)
{
    int between = 0;
    const lm_lingua_word *prev = NULL;
    for (size_t i = 0; i < ws->n; i++) {
        const lm_lingua_word *w = &ws->w[i];
        if (in_list(w->text, w->len, f->force, f->force_len, f->n_force)) {
            if (between)
                between = 0;
            else if (prev && seq_eq(w->text, w->len, prev->text, prev->len))
                p[i] = (lm_lingua_p){0.0, 1};
            prev = w;
        } else {
            between |= p[i].v > t0;
        }
    }
}

/* the labels: kept when keep(p, thr); under drop_consecutive a force token
 * repeating the last kept word is not */
static void select_labels(const lm_lingua_words *ws, const lm_lingua_p *p, double thr, int percentile,
                          int drop_consecutive, const lm_lingua_force *f, uint8_t *labels)
{
    const lm_lingua_word *last = NULL;
    for (size_t i = 0; i < ws->n; i++) {
        const lm_lingua_word *w = &ws->w[i];
        labels[i] = 0;
        int keep = percentile ? (p[i].v > thr || (thr == 1.0 && p[i].v == thr)) : p[i].v > thr;
        if (keep) {
            if (drop_consecutive && in_list(w->text, w->len, f->force, f->force_len, f->n_force) && last &&
                seq_eq(last->text, last->len, w->text, w->len))
                continue;
            labels[i] = 1;
            last = w;
        }
    }
}

double lm_lingua_select(const lm_lingua_words *ws, const size_t *weight, double reduce_rate,
                        int drop_consecutive, const lm_lingua_force *f, uint8_t *labels)
{
    size_t n = ws->n;
    if (n == 0)
        return NAN;
    lm_lingua_p *p = lm_xmalloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = ws->w[i].prob;
    if (drop_consecutive) {
        double *v = lm_xmalloc(n * sizeof *v);
        int f32 = 1;
        for (size_t i = 0; i < n; i++)
            v[i] = p[i].v, f32 &= !p[i].py;
        double t0 = lm_lingua_percentile(v, n, lm_lingua_q(reduce_rate, 0), f32);
        free(v);
        drop_walk(ws, p, t0, f);
    }
    size_t tot = 0;
    int f32 = 1;
    for (size_t i = 0; i < n; i++)
        tot += weight[i], f32 &= !p[i].py;
    double thr = NAN;
    if (tot > 0) {
        double *v = lm_xmalloc(tot * sizeof *v);
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < weight[i]; j++)
                v[k++] = p[i].v;
        thr = lm_lingua_percentile(v, tot, lm_lingua_q(reduce_rate, 1), f32);
        free(v);
        select_labels(ws, p, thr, 1, drop_consecutive, f, labels);
    } else {
        memset(labels, 0, n);
    }
    free(p);
    return thr;
}

void lm_lingua_select_fixed(const lm_lingua_words *ws, double thr, int drop_consecutive,
                            const lm_lingua_force *f, uint8_t *labels)
{
    size_t n = ws->n;
    if (n == 0)
        return;
    lm_lingua_p *p = lm_xmalloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = ws->w[i].prob;
    if (drop_consecutive)
        drop_walk(ws, p, thr, f);
    select_labels(ws, p, thr, 0, drop_consecutive, f, labels);
    free(p);
}

/* ---- contexts ---------------------------------------------------------- */

void lm_lingua_opts_default(lm_lingua_opts *o)
{
    memset(o, 0, sizeof *o);
    o->rate = 0.5;
    o->target_token = -1;
    o->use_token_filter = 1;
    o->target_context = -1;
    o->context_rate = 1.0;
    o->context_target_token = -1;
}

double lm_lingua_context_rate(const lm_lingua_opts *o, size_t n_contexts, size_t origin_tokens)
{
    double cr = o->context_rate;
    int64_t ctt = o->context_target_token;
    if (o->target_context <= 0 && cr >= 1.0 && ctt <= 0) {
        if (o->target_token < 0 && o->rate < 1.0)
            cr = o->use_token_filter ? (o->rate + 1.0) / 2 : o->rate;
        if (o->target_token >= 0)
            ctt = o->use_token_filter ? o->target_token * 2 : o->target_token;
    }
    if (o->target_context >= 0)
        cr = fmin((double)o->target_context / (double)n_contexts, 1.0);
    if (ctt >= 0)
        cr = origin_tokens ? fmin((double)ctt / (double)origin_tokens, 1.0) : 1.0;
    return cr;
}

double lm_lingua_token_rate(const lm_lingua_opts *o, int after_context_filter, size_t tokens)
{
    int64_t t = o->target_token;
    if (after_context_filter ? t < 0 : t <= 0)
        return o->rate;
    return tokens ? fmin((double)t / (double)tokens, 1.0) : 1.0;
}

float lm_lingua_context_score(const float *p, size_t n)
{
    if (n == 0)
        return 0;
    acc_t a = {0};
    a.py = 1;
    for (size_t i = 0; i < n; i++)
        acc_add(&a, (lm_lingua_p){p[i], 0});
    return (float)acc_value(&a, 0).v;
}

void lm_lingua_context_keep(const float *scores, size_t n, double context_rate, const int64_t *force_ids,
                            size_t n_force_ids, uint8_t *keep)
{
    if (n == 0)
        return;
    double *v = lm_xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = scores[i];
    double thr = lm_lingua_percentile(v, n, (int)(100 * (1 - context_rate)), 1);
    free(v);
    for (size_t i = 0; i < n; i++) {
        keep[i] = scores[i] >= thr;
        for (size_t k = 0; k < n_force_ids; k++)
            if (force_ids[k] >= 0 && (uint64_t)force_ids[k] == i)
                keep[i] = 1;
    }
}

/* ---- output ------------------------------------------------------------ */

void lm_lingua_format(size_t origin, size_t compressed, char ratio[32], char rate[32], char saving[64],
                      double *ratio_v, double *rate_v)
{
    double r = compressed == 0 ? 1.0 : (double)origin / (double)compressed;
    if (ratio_v)
        *ratio_v = r;
    if (rate_v)
        *rate_v = 1 / r;
    snprintf(ratio, 32, "%.1fx", r);
    snprintf(rate, 32, "%.1f%%", 1 / r * 100);
    double s = ((double)origin - (double)compressed) * 0.06 / 1000;
    snprintf(saving, 64, ", Saving $%.1f in GPT-4.", s);
}
