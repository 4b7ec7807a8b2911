/* test_lingua.c - LLMLingua-2 pieces (lib/lingua) on hand-worked cases, then
 * end to end against llmlingua 0.2.2 on the tiny models
 * (testdata/golden/lingua/{tiny-bert,tiny-xlmr,tiny-xlmr-marian,tiny-xlmr-sup}.jsonl from
 * tests/golden/lingua_golden.py; tiny-xlmr-sup is what taco-train sup wrote):
 * strings and counts identical, word probabilities within 1e-5.
 * Run from the repository root; the golden part reads cl100k_base from the
 * build tree ($BUILD/share/lmkit, decompressed by make from testdata/tiktoken;
 * BUILD default "build") and fails without it.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "lingua/lingua.h"
#include "lingua/model.h"
#include "tap.h"
#include "text/tiktoken.h"

static size_t L[64];
static const size_t *lens_of(const char *const *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        L[i] = strlen(t[i]);
    return L;
}

static void build_force(lm_lingua_force *f, const char *const *force, size_t n, const size_t *ntok,
                        const char *const *ends, size_t ne)
{
    size_t fl[16], el[16];
    for (size_t i = 0; i < n; i++)
        fl[i] = strlen(force[i]);
    for (size_t i = 0; i < ne; i++)
        el[i] = strlen(ends[i]);
    char err[256];
    if (lm_lingua_force_init(f, force, fl, n, ntok, ends, el, ne, err, sizeof err))
        diag("%s", err);
}

static void t_percentile(void)
{
    double a[] = {4, 1, 3, 2};
    is_near(lm_lingua_percentile(a, 4, 50, 0), 2.5, 0, "median of 1..4");
    double b[] = {1, 2, 3, 4};
    is_near(lm_lingua_percentile(b, 4, 51, 0), 2.53, 1e-15, "q=51: upper-side lerp 4 - 1*(1-0.53)");
    double c[] = {0.25};
    is_near(lm_lingua_percentile(c, 1, 68, 1), 0.25, 0, "n = 1");
    double d[] = {0.5, 0.9, 0.1};
    is_near(lm_lingua_percentile(d, 3, 100, 0), 0.9, 0, "q = 100 is the maximum");
    /* numpy.percentile(np.array([0.1, 0.7, 0.3], np.float32), 51) == np.float32(0.308) */
    double e[] = {(float)0.1, (float)0.7, (float)0.3};
    ok(lm_lingua_percentile(e, 3, 51, 1) == (double)(float)0.308, "float32 interpolation as NumPy: %.9g",
       lm_lingua_percentile(e, 3, 51, 1));
    /* the same values as float64 (a Python float in the list) */
    double f[] = {(float)0.1, 1.0, (float)0.7};
    is_near(lm_lingua_percentile(f, 3, 51, 0), 0.7059999883174897, 1e-16, "float64 interpolation as NumPy");
    is_int(lm_lingua_q(1 - 0.33, 1), 68, "rate 0.33 -> q 68");
    is_int(lm_lingua_q(1 - 0.5, 1), 51, "rate 0.5 -> q 51");
    is_int(lm_lingua_q(1 - 0.25, 1), 76, "rate 0.25 -> q 76");
    is_int(lm_lingua_q(1 - 0.7, 1), 31, "rate 0.7 -> q 31");
    is_int(lm_lingua_q(1 - 0.9, 1), 10, "rate 0.9 -> q 10, not 11");
    is_int(lm_lingua_q(1 - 0.9, 0), 9, "drop_consecutive's q has no +1");
}

static void t_force(void)
{
    const char *force[] = {"\n", ".", "The answer is", "\n"};
    size_t ntok[] = {0, 1, 3, 0};
    const char *ends[] = {".", "\n"};
    lm_lingua_force f;
    build_force(&f, force, 4, ntok, ends, 2);
    is_int(f.n_map, 2, "two mapped strings (a repeated one once)");
    is_str(f.to[0], "[NEW3]", "a repeated string keeps its place and takes its last index");
    is_str(f.to[1], "[NEW2]", "index is the list position");
    is_int(f.n_end, 3, "chunk ends: . \\n [NEW3]");
    is_str(f.end[2], "[NEW3]", "the placeholder of a mapped end string ends chunks");
    lm_buf b = {0};
    const char *s = "a\nb The answer is 4.";
    lm_lingua_force_replace(&f, s, strlen(s), 1, &b);
    is_str(b.p, "a[NEW3]b [NEW2] 4.", "plain replace to placeholders");
    lm_buf c = {0};
    lm_lingua_force_replace(&f, b.p, b.n, 0, &c);
    is_str(c.p, s, "and back");
    lm_buf_free(&b), lm_buf_free(&c);
    lm_lingua_force_free(&f);
    char err[256];
    const char *many[101];
    size_t ml[101], mt[101];
    for (int i = 0; i < 101; i++)
        many[i] = "x", ml[i] = 1, mt[i] = 1;
    ok(lm_lingua_force_init(&f, many, ml, 101, mt, NULL, NULL, 0, err, sizeof err) == -1 &&
           strstr(err, "at most 100"),
       "101 force tokens: %s", err);
    ok(lm_lingua_force_init(&f, many, ml, 100, mt, NULL, NULL, 0, err, sizeof err) == 0, "100 are fine");
    ok(lm_lingua_force_check(100, err, sizeof err) == 0, "force_check: 100 strings pass");
    ok(lm_lingua_force_check(101, err, sizeof err) == -1, "force_check: 101 strings fail");
    is_str(err, "101 strings, at most 100 are allowed", "force_check's message (lingua-compress prints it)");
    lm_lingua_force_free(&f);
    const char *empty[] = {""};
    size_t el = 0, et = 0;
    ok(lm_lingua_force_init(&f, empty, &el, 1, &et, NULL, NULL, 0, err, sizeof err) == -1,
       "empty force token: %s", err);
}

static void t_chunk(void)
{
    const char *ends[] = {".", "\n"};
    lm_lingua_force f;
    build_force(&f, NULL, 0, NULL, ends, 2);
    const char *t1[] = {"a", "b", ".", "c", "d", "e", "f", ".", "g", "h"};
    size_t e[16];
    size_t k = lm_lingua_chunk(t1, lens_of(t1, 10), 10, 4, &f, e);
    ok(k == 3 && e[0] == 3 && e[1] == 8 && e[2] == 10,
       "ends at the last '.' within st+4..st+1; 5-token chunk when"
       " it sits at st+4 (%zu: %zu %zu %zu)",
       k, e[0], e[1], e[2]);
    const char *t2[] = {".", "x", "x", "x", "x", "x", "x", "x", "x", "x"};
    k = lm_lingua_chunk(t2, lens_of(t2, 10), 10, 4, &f, e);
    ok(k == 2 && e[0] == 5 && e[1] == 10, "no end token (or only at st): max_len + 1 tokens");
    k = lm_lingua_chunk(t2, lens_of(t2, 5), 5, 4, &f, e);
    ok(k == 1 && e[0] == 5, "n = max_len + 1 fits one chunk");
    k = lm_lingua_chunk(t2, lens_of(t2, 6), 6, 4, &f, e);
    ok(k == 2 && e[0] == 5 && e[1] == 6, "n = max_len + 2: two chunks");
    ok(lm_lingua_chunk(t2, L, 0, 4, &f, e) == 0, "no tokens, no chunks");
    lm_lingua_force_free(&f);
}

static void t_merge(void)
{
    const char *force[] = {"\n"};
    size_t ntok[] = {0};
    lm_lingua_force f;
    build_force(&f, force, 1, ntok, NULL, 0);
    const char *sp[] = {"<s>", "</s>", "<unk>", "<pad>", "<mask>"};
    const char *t[] = {"<unk>",
                       "\xe2\x96\x81John",
                       ":",
                       "\xe2\x96\x81think",
                       "ing",
                       "()",
                       "\xe2\x96\x81"
                       "12",
                       "th",
                       "[NEW0]",
                       "\xe2\x96\x81"
                       "a",
                       "<unk>"};
    float p[] = {0.5f, 0.9f, 0.2f, 0.4f, 0.6f, 0.3f, 0.5f, 0.7f, 0.1f, 0.8f, 0.5f};
    lm_lingua_words w = {0};
    lm_lingua_merge(LM_LINGUA_XLMR, t, lens_of(t, 11), p, 11, sp, 5, &f, 1, 0, &w);
    is_int(w.n, 7, "XLM-R: 7 words (specials skipped)");
    if (w.n == 7) {
        is_str(w.w[0].text, "\xe2\x96\x81John", "word keeps its U+2581");
        is_str(w.w[1].text, ":", "punctuation starts a word");
        is_str(w.w[2].text, "\xe2\x96\x81thinking", "continuation appended");
        ok(w.w[2].prob.v == (double)((0.4f + 0.6f) / 2.0f) && !w.w[2].prob.py, "mean in float32");
        is_str(w.w[3].text, "()", "'()' is a substring of string.punctuation");
        ok(w.w[4].prob.v == (double)((1.0f + 0.7f) / 2.0f) && !w.w[4].prob.py, "12th: mean(1.0, p(th))");
        ok(w.w[4].prob_noforce == 0.5f, "unforced list repeats the first subword");
        is_str(w.w[5].text, "\n", "[NEW0] comes back as its string");
        ok(w.w[5].prob.v == 1.0 && w.w[5].prob.py, "forced word: a Python 1.0");
        is_str(w.w[6].text,
               "\xe2\x96\x81"
               "a",
               "last word closed at the end");
    }
    lm_lingua_words_free(&w);
    /* the positions whose probability the merge does not read */
    uint8_t fm[11], want[11] = {0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0};
    memset(fm, 7, sizeof fm);
    lm_lingua_forced(LM_LINGUA_XLMR, t, lens_of(t, 11), 11, sp, 5, &f, 1, fm);
    ok(!memcmp(fm, want, sizeof fm),
       "forced: the number under reserve_digit and the placeholder, nothing else");
    lm_lingua_forced(LM_LINGUA_XLMR, t, lens_of(t, 11), 11, sp, 5, &f, 0, fm);
    want[6] = 0;
    ok(!memcmp(fm, want, sizeof fm), "forced without reserve_digit: the placeholder only");
    const char *d[] = {"\xe2\x96\x81x", "1", "\xe2\x96\x81\n"};
    lm_lingua_forced(LM_LINGUA_XLMR, d, lens_of(d, 3), 3, sp, 5, &f, 1, fm);
    ok(fm[0] == 0 && fm[1] == 1 && fm[2] == 1,
       "a digit continuing a word is forced, not the word's start; a force token after U+2581 is forced");
    lm_lingua_force_free(&f);

    build_force(&f, NULL, 0, NULL, NULL, 0);
    const char *bs[] = {"[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]"};
    const char *tb[] = {"[CLS]", "play", "##ing", "#", "##", "x", "[UNK]", "##y", "[SEP]"};
    float pb[] = {0, 0.25f, 0.75f, 0.5f, 0.125f, 0.5f, 0.5f, 0.5f, 0};
    lm_lingua_merge(LM_LINGUA_BERT, tb, lens_of(tb, 9), pb, 9, bs, 5, &f, 0, 1, &w);
    is_int(w.n, 3, "mBERT: 3 words");
    if (w.n == 3) {
        is_str(w.w[0].text, "playing", "## continuation");
        ok(w.w[0].prob.v == 0.25, "token_to_word first");
        is_str(w.w[1].text, "#", "'#' starts a word, '##' continues it with ''");
        is_str(w.w[2].text, "xy", "[UNK] skipped inside a word");
    }
    lm_lingua_words_free(&w);
    lm_lingua_force_free(&f);
}

static lm_lingua_word mk(const char *s, double v, int py)
{
    return (lm_lingua_word){(char *)s, strlen(s), {v, py}, (float)v};
}

static void t_select(void)
{
    lm_lingua_force f;
    const char *force[] = {"\n"};
    size_t ntok[] = {0};
    build_force(&f, force, 1, ntok, NULL, 0);
    lm_lingua_word a[] = {mk("a", (float)0.9, 0), mk("b", (float)0.2, 0), mk("c", (float)0.5, 0),
                          mk("d", (float)0.7, 0)};
    lm_lingua_words ws = {a, 4, 4};
    size_t wt[] = {1, 1, 1, 1};
    uint8_t lab[8];
    double thr = lm_lingua_select(&ws, wt, 0.5, 0, &f, lab);
    ok(thr > 0.6 && thr < 0.61 && lab[0] && !lab[1] && !lab[2] && lab[3],
       "keep above the q=51 threshold %.9g", thr);
    size_t wt2[] = {1, 3, 1, 1};
    thr = lm_lingua_select(&ws, wt2, 0.5, 0, &f, lab);
    /* [.2 .2 .2 .5 .7 .9]: h = 5 * 0.51 = 2.55, .5 - (.5 - .2) * .45 in float32 */
    ok(fabs(thr - 0.365) < 1e-7 && lab[0] && !lab[1] && lab[2] && lab[3],
       "cl100k weights repeat a word's probability: threshold %.9g", thr);
    lm_lingua_word o[] = {mk("x", 1.0, 1), mk("y", 1.0, 1)};
    lm_lingua_words wo = {o, 2, 2};
    thr = lm_lingua_select(&wo, wt, 0.5, 0, &f, lab);
    ok(thr == 1.0 && lab[0] && lab[1], "threshold 1.0 keeps words equal to it");
    lm_lingua_word c[] = {mk("a", (float)0.9, 0), mk("\n", 1, 1), mk("\n", 1, 1), mk("b", (float)0.1, 0),
                          mk("\n", 1, 1)};
    lm_lingua_words wc = {c, 5, 5};
    size_t w5[] = {1, 1, 1, 1, 1};
    thr = lm_lingua_select(&wc, w5, 0.5, 1, &f, lab);
    ok(lab[0] && lab[1] && !lab[2] && !lab[3] && !lab[4],
       "drop_consecutive zeroes repeats with nothing between");
    is_near(thr, 0.1 + (0.9 - 0.1) * 0.04, 1e-8, "and the threshold sees the zeroes");
    thr = lm_lingua_select(&wc, w5, 0.5, 0, &f, lab);
    ok(lab[1] && lab[2] && lab[4], "without it the repeats stay");
    lm_lingua_words we = {0};
    ok(isnan(lm_lingua_select(&we, wt, 0.5, 0, &f, lab)), "no words: nothing kept");
    lm_lingua_force_free(&f);
}

static void t_context(void)
{
    lm_lingua_opts o;
    lm_lingua_opts_default(&o);
    is_near(lm_lingua_context_rate(&o, 5, 100), 0.75, 0, "default context rate (rate+1)/2");
    o.target_token = 10;
    is_near(lm_lingua_context_rate(&o, 5, 100), 0.2, 0, "target_token: 2*target/origin");
    o.use_token_filter = 0;
    is_near(lm_lingua_context_rate(&o, 5, 100), 0.1, 0, "without token filter: target/origin");
    lm_lingua_opts_default(&o);
    o.target_context = 2;
    is_near(lm_lingua_context_rate(&o, 5, 100), 0.4, 0, "target_context/n");
    lm_lingua_opts_default(&o);
    is_near(lm_lingua_token_rate(&o, 0, 100), 0.5, 0, "token rate: no target, the rate");
    o.target_token = 0;
    is_near(lm_lingua_token_rate(&o, 0, 100), 0.5, 0,
            "token rate: target 0 without the context filter is none");
    is_near(lm_lingua_token_rate(&o, 1, 100), 0.0, 0, "token rate: target 0 after the context filter is 0");
    o.target_token = 25;
    is_near(lm_lingua_token_rate(&o, 0, 100), 0.25, 0, "token rate: target/tokens");
    is_near(lm_lingua_token_rate(&o, 1, 50), 0.5, 0,
            "token rate: target/kept tokens after the context filter");
    is_near(lm_lingua_token_rate(&o, 0, 10), 1.0, 0, "token rate: at most 1");
    is_near(lm_lingua_token_rate(&o, 0, 0), 1.0, 0, "token rate: 1 for no tokens");
    o.target_token = -1;
    is_near(lm_lingua_token_rate(&o, 1, 100), 0.5, 0, "token rate: -1 after the context filter is none");
    float sc[] = {0.2f, 0.5f, 0.9f};
    uint8_t keep[3];
    lm_lingua_context_keep(sc, 3, 0.5, NULL, 0, keep);
    ok(!keep[0] && keep[1] && keep[2], "keep score >= median");
    int64_t fid = 0;
    lm_lingua_context_keep(sc, 3, 0.5, &fid, 1, keep);
    ok(keep[0], "force_context_ids");
    float p3[] = {0.1f, 0.2f, 0.4f};
    ok(lm_lingua_context_score(p3, 3) == ((0.1f + 0.2f) + 0.4f) / 3.0f, "context score: float32 mean");
    ok(lm_lingua_context_score(p3, 0) == 0, "no words: score 0");
    char r[32], t[32], s[64];
    double rv, tv;
    lm_lingua_format(98, 30, r, t, s, &rv, &tv);
    ok(!strcmp(r, "3.3x") && !strcmp(t, "30.6%") && !strcmp(s, ", Saving $0.0 in GPT-4."), "%s %s %s", r, t,
       s);
    ok(rv == 98.0 / 30 && tv == 1 / (98.0 / 30), "the numbers behind the strings: %.17g %.17g", rv, tv);
    lm_lingua_format(7, 0, r, t, s, &rv, NULL);
    ok(!strcmp(r, "1.0x") && !strcmp(t, "100.0%") && rv == 1, "nothing left: ratio 1");
}

/* ---- golden -------------------------------------------------------------- */

typedef struct {
    const lm_tiktoken *tk;
    lm_tiktoken_state *st;
} counter;

static int count_cl(void *ctx, const char *s, size_t n, size_t *c, char *err, size_t errlen)
{
    counter *k = ctx;
    return lm_tiktoken_count(k->tk, k->st, s, n, 0, c, err, errlen);
}

static int strlist(json_t *a, const char ***out, size_t **lens)
{
    size_t n = json_array_size(a);
    *out = calloc(n + 1, sizeof **out);
    *lens = calloc(n + 1, sizeof **lens);
    for (size_t i = 0; i < n; i++) {
        (*out)[i] = json_string_value(json_array_get(a, i));
        (*lens)[i] = json_string_length(json_array_get(a, i));
    }
    return (int)n;
}

static void golden_file(const char *model, const lm_tiktoken *tk, int *n_ok, int *n_all)
{
    char path[256], dir[256], err[512];
    snprintf(path, sizeof path, "testdata/golden/lingua/%s.jsonl", model);
    snprintf(dir, sizeof dir, "testdata/models/%s", model);
    lm_lingua_encoder le;
    if (lm_lingua_encoder_load(&le, dir, -1, 8, err, sizeof err)) {
        ok(0, "load %s: %s", dir, err);
        return;
    }
    FILE *fp = fopen(path, "r");
    ok(fp != NULL, "open %s", path);
    if (!fp)
        return;
    char *line = NULL;
    size_t cap = 0;
    counter K = {tk, lm_tiktoken_state_new(tk)};
    double maxd = 0;
    while (getline(&line, &cap, fp) > 0) {
        json_error_t je;
        json_t *J = json_loads(line, 0, &je);
        if (!J)
            continue;
        const char *name = json_string_value(json_object_get(J, "case"));
        json_t *kw = json_object_get(J, "kw"), *ex = json_object_get(J, "expect"), *v;
        lm_lingua_opts o;
        lm_lingua_opts_default(&o);
        o.want_words = 1;
        if ((v = json_object_get(kw, "rate")))
            o.rate = json_number_value(v);
        if ((v = json_object_get(kw, "target_token")))
            o.target_token = json_integer_value(v);
        if ((v = json_object_get(kw, "use_context_level_filter")))
            o.use_context_filter = json_is_true(v);
        if ((v = json_object_get(kw, "use_token_level_filter")))
            o.use_token_filter = json_is_true(v);
        if ((v = json_object_get(kw, "target_context")))
            o.target_context = json_integer_value(v);
        if ((v = json_object_get(kw, "context_level_rate")))
            o.context_rate = json_number_value(v);
        if ((v = json_object_get(kw, "context_level_target_token")))
            o.context_target_token = json_integer_value(v);
        if ((v = json_object_get(kw, "token_to_word")))
            o.first = !strcmp(json_string_value(v), "first");
        if ((v = json_object_get(kw, "force_reserve_digit")))
            o.reserve_digit = json_is_true(v);
        if ((v = json_object_get(kw, "drop_consecutive")))
            o.drop_consecutive = json_is_true(v);
        int64_t fids[16];
        if ((v = json_object_get(kw, "force_context_ids"))) {
            o.n_force_context_ids = json_array_size(v);
            for (size_t i = 0; i < o.n_force_context_ids && i < 16; i++)
                fids[i] = json_integer_value(json_array_get(v, i));
            o.force_context_ids = fids;
        }
        const char **ft = NULL, **et = NULL, **cx = NULL;
        size_t *fl = NULL, *el = NULL, *cl = NULL;
        json_t *empty = json_array();
        int nf = strlist((v = json_object_get(kw, "force_tokens")) ? v : empty, &ft, &fl);
        json_t *dends = json_pack("[ss]", ".", "\n");
        int ne = strlist((v = json_object_get(kw, "chunk_end_tokens")) ? v : dends, &et, &el);
        int nc = strlist(json_object_get(J, "context"), &cx, &cl);
        lm_lingua_force f;
        lm_lingua_result r;
        int good = 0;
        if (lm_lingua_force_build(&f, &le.m, ft, fl, (size_t)nf, et, el, (size_t)ne, err, sizeof err)) {
            diag("%s/%s: %s", model, name, err);
        } else {
            if (lm_lingua_compress(&le.m, &f, &o, cx, cl, (size_t)nc, count_cl, &K, lm_lingua_encoder_probs,
                                   &le, &r, err, sizeof err)) {
                diag("%s/%s: %s", model, name, err);
            } else {
                good = !strcmp(r.prompt.p, json_string_value(json_object_get(ex, "compressed_prompt")));
                if (!good)
                    diag("%s/%s: got %s", model, name, r.prompt.p);
                json_t *lst = json_object_get(ex, "compressed_prompt_list");
                good &= json_array_size(lst) == r.n_list;
                for (size_t i = 0; good && i < r.n_list; i++)
                    good &=
                        !strcmp(r.list[i].p ? r.list[i].p : "", json_string_value(json_array_get(lst, i)));
                good &=
                    (json_int_t)r.origin_tokens == json_integer_value(json_object_get(ex, "origin_tokens"));
                good &= (json_int_t)r.compressed_tokens ==
                        json_integer_value(json_object_get(ex, "compressed_tokens"));
                good &= !strcmp(r.ratio, json_string_value(json_object_get(ex, "ratio")));
                good &= !strcmp(r.rate, json_string_value(json_object_get(ex, "rate")));
                good &= !strcmp(r.saving, json_string_value(json_object_get(ex, "saving")));
                if (!good)
                    diag("%s/%s: counts %zu %zu %s %s", model, name, r.origin_tokens, r.compressed_tokens,
                         r.ratio, r.rate);
                json_t *lab = json_object_get(ex, "fn_labeled_original_prompt");
                if (lab) {
                    const char *ws =
                        (v = json_object_get(kw, "word_sep")) ? json_string_value(v) : "\t\t|\t\t";
                    const char *ls = (v = json_object_get(kw, "label_sep")) ? json_string_value(v) : " ";
                    lm_buf b = {0};
                    for (size_t i = 0; i < r.n_words; i++) {
                        if (i)
                            lm_buf_adds(&b, ws);
                        lm_buf_add(&b, r.words[i], r.word_len[i]);
                        lm_buf_printf(&b, "%s%d", ls, r.labels[i]);
                    }
                    int same = !strcmp(b.p ? b.p : "", json_string_value(lab));
                    if (!same)
                        diag("%s/%s: labels differ:\n#   got  %s\n#   want %s", model, name, b.p,
                             json_string_value(lab));
                    good &= same;
                    lm_buf_free(&b);
                }
                json_t *wp = json_object_get(J, "word_probs");
                size_t k = 0;
                for (size_t i = 0; i < r.n_words; i++) {
                    if (isnan(r.word_probs[i]))
                        continue;
                    if (k < json_array_size(wp)) {
                        double d = fabs(r.word_probs[i] - json_number_value(json_array_get(wp, k)));
                        if (d > maxd)
                            maxd = d;
                        if (d > 1e-5)
                            good = 0;
                    }
                    k++;
                }
                if (k != json_array_size(wp)) {
                    diag("%s/%s: %zu word probabilities, want %zu", model, name, k, json_array_size(wp));
                    good = 0;
                }
                lm_lingua_result_free(&r);
            }
            lm_lingua_force_free(&f);
        }
        ok(good, "golden %s/%s", model, name);
        *n_ok += good;
        ++*n_all;
        free(ft), free(fl), free(et), free(el), free(cx), free(cl);
        json_decref(empty), json_decref(dends), json_decref(J);
    }
    diag("%s: max |word prob - reference| = %.3g", model, maxd);
    free(line);
    fclose(fp);
    lm_tiktoken_state_free(K.st);
    lm_lingua_encoder_free(&le);
}

/* tiny-xlmr with the default chunk ends and no force tokens; 0 or -1. */
static int load_xlmr(lm_lingua_encoder *le, lm_lingua_force *f)
{
    char err[512];
    static const char *const ends[2] = {".", "\n"};
    static const size_t ends_len[2] = {1, 1};
    if (lm_lingua_encoder_load(le, "testdata/models/tiny-xlmr", -1, 0, err, sizeof err)) {
        ok(0, "load tiny-xlmr: %s", err);
        return -1;
    }
    if (lm_lingua_force_build(f, &le->m, NULL, NULL, 0, ends, ends_len, 2, err, sizeof err)) {
        ok(0, "force map: %s", err);
        lm_lingua_encoder_free(le);
        return -1;
    }
    return 0;
}

static int failing_probs(void *ctx, size_t nseq, const int32_t *const *ids, const size_t *lens,
                         float *const *probs, char *err, size_t errlen)
{
    (void)ctx, (void)nseq, (void)ids, (void)lens, (void)probs;
    snprintf(err, errlen, "no encoder");
    return -1;
}

/* Jobs: the chunks of many prompts through one probability call give what
 * lm_lingua_compress gives each prompt alone. */
static void t_jobs(const lm_tiktoken *tk)
{
    char err[512];
    lm_lingua_encoder le;
    lm_lingua_force f;
    if (load_xlmr(&le, &f))
        return;
    FILE *fp = fopen("testdata/golden/lingua/tiny-xlmr.jsonl", "r");
    ok(fp != NULL, "open the tiny-xlmr golden file");
    if (!fp) {
        lm_lingua_force_free(&f);
        lm_lingua_encoder_free(&le);
        return;
    }
    enum { N = 24 };
    json_t *J[N];
    const char **cx[N];
    size_t *cl[N], nc[N];
    lm_lingua_opts o[N];
    lm_lingua_timing tm = {0};
    int n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (n < N && getline(&line, &cap, fp) > 0) {
        json_error_t je;
        if (!(J[n] = json_loads(line, 0, &je)))
            continue;
        nc[n] = (size_t)strlist(json_object_get(J[n], "context"), &cx[n], &cl[n]);
        lm_lingua_opts_default(&o[n]);
        o[n].want_words = 1;
        static const double rates[4] = {0.33, 0.5, 1.0, 0.7};
        o[n].rate = rates[n % 4];
        o[n].use_context_filter = n % 3 == 0;
        o[n].timing = &tm;
        n++;
    }
    free(line);
    fclose(fp);
    counter K = {tk, lm_tiktoken_state_new(tk)};
    lm_lingua_job *job[N];
    size_t total = 0, none = 0;
    int began = 1;
    for (int i = 0; i < n; i++) {
        if (lm_lingua_begin(&job[i], &le.m, &f, &o[i], cx[i], cl[i], nc[i], count_cl, &K, err, sizeof err)) {
            diag("begin %d: %s", i, err);
            began = 0;
            job[i] = NULL;
            continue;
        }
        size_t k = lm_lingua_job_seqs(job[i], NULL);
        total += k;
        none += k == 0;
    }
    ok(began && total > (size_t)n && none > 0,
       "%d prompts: %zu chunks for the encoder, %zu prompts need none", n, total, none);
    size_t tokens = 0;
    for (int i = 0; i < n; i++) {
        size_t k = 0;
        if (job[i])
            lm_lingua_job_seqs(job[i], &k);
        tokens += k;
    }
    ok(!lm_lingua_fill(job, (size_t)n, lm_lingua_encoder_probs, &le, err, sizeof err),
       "one probability call over all of them");
    ok(tm.chunks == total && tm.tokens == tokens && tm.records == 0 && tm.encoder > 0,
       "timing hook after fill: %llu chunks, %llu tokens, encoder time", (unsigned long long)tm.chunks,
       (unsigned long long)tm.tokens);
    int same = 0;
    double maxd = 0;
    for (int i = 0; i < n; i++) {
        lm_lingua_result a, b;
        if (!job[i] || lm_lingua_finish(job[i], &a, err, sizeof err))
            continue;
        if (lm_lingua_compress(&le.m, &f, &o[i], cx[i], cl[i], nc[i], count_cl, &K, lm_lingua_encoder_probs,
                               &le, &b, err, sizeof err)) {
            lm_lingua_result_free(&a);
            continue;
        }
        int eq = !strcmp(a.prompt.p, b.prompt.p) && a.n_words == b.n_words && a.n_list == b.n_list &&
                 a.compressed_tokens == b.compressed_tokens && a.origin_tokens == b.origin_tokens;
        for (size_t w = 0; eq && w < a.n_words; w++) {
            eq &= a.labels[w] == b.labels[w];
            if (!isnan(a.word_probs[w]))
                maxd = fmax(maxd, fabs(a.word_probs[w] - b.word_probs[w]));
        }
        same += eq;
        lm_lingua_result_free(&a), lm_lingua_result_free(&b);
    }
    ok(tm.records == 2 * (uint64_t)n && tm.chunks == 2 * total && tm.prepare > 0 && tm.finish > 0,
       "timing hook: every finish counted (%llu records)", (unsigned long long)tm.records);
    ok(same == n && maxd <= 1e-6,
       "batched jobs: %d of %d results identical to one prompt at a time (word probs "
       "within %.2g)",
       same, n, maxd);
    /* a job may also be dropped before its probabilities */
    lm_lingua_job *j;
    ok(!lm_lingua_begin(&j, &le.m, &f, &o[0], cx[0], cl[0], nc[0], count_cl, &K, err, sizeof err),
       "begin again");
    ok(lm_lingua_fill(&j, 1, failing_probs, NULL, err, sizeof err) == -1 && !strcmp(err, "no encoder"),
       "fill passes the callback's failure on");
    lm_lingua_job_free(j);
    /* TACO-RL's L_o: the count over the chunk strings, which the tokenizer
     * has normalised (runs of spaces become one), not over the prompt */
    const char *sp = "river   stone  cloud     house";
    size_t spl = strlen(sp), lo = 0, whole = 0;
    lm_lingua_opts o1;
    lm_lingua_opts_default(&o1);
    err[0] = 0;
    ok(!lm_lingua_begin(&j, &le.m, &f, &o1, &sp, &spl, 1, count_cl, &K, err, sizeof err) &&
           !lm_lingua_job_chunk_count(j, &lo, err, sizeof err) &&
           !count_cl(&K, sp, spl, &whole, err, sizeof err),
       "chunk count: %s", err);
    size_t want = 0;
    count_cl(&K, "river stone cloud house", strlen("river stone cloud house"), &want, err, sizeof err);
    ok(lo == want && whole > want, "the chunk strings count %zu tokens (the prompt itself %zu)", lo, whole);
    lm_lingua_job_free(j);
    for (int i = 0; i < n; i++)
        free(cx[i]), free(cl[i]), json_decref(J[i]);
    lm_lingua_force_free(&f);
    lm_tiktoken_state_free(K.st);
    lm_lingua_encoder_free(&le);
}

/* The chunk ends the encoder sees: the reference's "[CLS]"/"[SEP]" strings
 * (<unk> under XLM-R) or, after lm_lingua_model_proper_ends, <s> and </s>. */
static int32_t seen_first, seen_last;
static int recording_probs(void *ctx, size_t nseq, const int32_t *const *ids, const size_t *lens,
                           float *const *probs, char *err, size_t errlen)
{
    seen_first = ids[0][0];
    seen_last = ids[0][lens[0] - 1];
    return lm_lingua_encoder_probs(ctx, nseq, ids, lens, probs, err, errlen);
}

static void t_ends(const lm_tiktoken *tk)
{
    char err[512];
    lm_lingua_encoder le;
    lm_lingua_force f;
    if (load_xlmr(&le, &f))
        return;
    counter K = {tk, lm_tiktoken_state_new(tk)};
    lm_lingua_opts o;
    lm_lingua_opts_default(&o);
    const char *cx[1] = {"The committee met on Monday."};
    size_t cl[1] = {strlen(cx[0])};
    lm_lingua_result r;
    int32_t unk = lm_tokenizer_id(le.tok, "<unk>", 5), bos = lm_tokenizer_id(le.tok, "<s>", 3),
            eos = lm_tokenizer_id(le.tok, "</s>", 4);
    int rc =
        lm_lingua_compress(&le.m, &f, &o, cx, cl, 1, count_cl, &K, recording_probs, &le, &r, err, sizeof err);
    ok(!rc && seen_first == unk && seen_last == unk, "reference ends under XLM-R: <unk> ... <unk> (%d %d)",
       (int)seen_first, (int)seen_last);
    if (!rc)
        lm_lingua_result_free(&r);
    ok(!lm_lingua_model_proper_ends(&le.m, err, sizeof err), "proper ends: %s", "<s> and </s> found");
    rc =
        lm_lingua_compress(&le.m, &f, &o, cx, cl, 1, count_cl, &K, recording_probs, &le, &r, err, sizeof err);
    ok(!rc && seen_first == bos && seen_last == eos && bos != unk && eos != unk,
       "proper ends under XLM-R: <s> ... </s> (%d %d)", (int)seen_first, (int)seen_last);
    if (!rc)
        lm_lingua_result_free(&r);
    /* the library's counter: cl100k through the rank file, else the model's tokenizer */
    lm_lingua_counter kc, km;
    lm_lingua_counter_init(&kc, tk, le.tok);
    lm_lingua_counter_init(&km, NULL, le.tok);
    const char *txt = "The committee met on Monday, 3 times.";
    size_t a = 0, b = 0, m = 0, mt = 0;
    lm_encoding e = {0};
    int crc = lm_lingua_count(&kc, txt, strlen(txt), &a, err, sizeof err) ||
              count_cl(&K, txt, strlen(txt), &b, err, sizeof err) ||
              lm_lingua_count(&km, txt, strlen(txt), &m, err, sizeof err) ||
              lm_tokenizer_encode(le.tok, txt, strlen(txt), 0, &e, err, sizeof err);
    mt = e.n;
    ok(!crc && a == b && a > 0, "counter with a rank file: the cl100k count (%zu)", a);
    ok(!crc && m == mt && m > 0 && m != a, "counter without one: the model tokenizer's count (%zu)", m);
    lm_encoding_free(&e);
    lm_lingua_counter_free(&kc), lm_lingua_counter_free(&km);
    lm_lingua_force_free(&f);
    lm_tiktoken_state_free(K.st);
    lm_lingua_encoder_free(&le);
}

static void t_golden(void)
{
    const char *build = getenv("BUILD");
    char path[512];
    snprintf(path, sizeof path, "%s/share/lmkit/cl100k_base.tiktoken", build && *build ? build : "build");
    char err[512];
    lm_tiktoken *tk = lm_tiktoken_load(path, "cl100k_base", err, sizeof err);
    if (!ok(tk != NULL, "golden cases: cl100k_base of the build tree loads")) {
        diag("%s ('make fixtures' decompresses it from testdata/tiktoken)", err);
        return;
    }
    int n_ok = 0, n_all = 0;
    golden_file("tiny-bert", tk, &n_ok, &n_all);
    golden_file("tiny-xlmr", tk, &n_ok, &n_all);
    golden_file("tiny-xlmr-marian", tk, &n_ok, &n_all);
    golden_file("tiny-xlmr-sup", tk, &n_ok, &n_all); /* a folder taco-train sup wrote */
    diag("golden: %d of %d cases identical", n_ok, n_all);
    t_jobs(tk);
    t_ends(tk);
    lm_tiktoken_free(tk);
}

static void t_timing(void)
{
    lm_lingua_timing t = {0.25, 2.0, 0.125, 3, 4, 1000};
    lm_buf b = {0};
    lm_lingua_timing_json(&b, &t, 0.5, 3.0);
    is_str(b.p,
           "{\"records\":3,\"chunks\":4,\"tokens\":1000,\"load_s\":0.500000,\"chunking_s\":0.250000,"
           "\"encoder_s\":2.000000,\"selection_s\":0.125000,\"total_s\":3.000000,\"encoder_tokens_per_s\":"
           "500.0}",
           "timing as one JSON object");
    lm_lingua_timing z = {0};
    lm_buf_reset(&b);
    lm_lingua_timing_json(&b, &z, 0, 0);
    ok(strstr(b.p, "\"encoder_tokens_per_s\":0.0}") != NULL, "no encoder time: rate 0");
    lm_buf_free(&b);
    double a = lm_clock(), c = lm_clock();
    ok(a > 0 && c >= a, "monotonic clock");
}

int main(void)
{
    t_percentile();
    t_timing();
    t_force();
    t_chunk();
    t_merge();
    t_select();
    t_context();
    t_golden();
    return tap_done();
}
