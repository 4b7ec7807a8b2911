/* test_metrics.c - lib/text/metrics: hand-worked BLEU, ROUGE, Porter and
 * SQuAD cases, then parity with the Python packages on the goldens that
 * tests/golden/metrics_golden.py writes (testdata/golden/metrics/): every
 * value within 1e-9 (lengths and strings exact), the largest difference
 * seen printed per metric.  Run from the repository root.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "tap.h"
#include "text/metrics.h"

#define TOL 1e-9

static lm_text T(const char *s)
{
    lm_text t = {s, strlen(s)};
    return t;
}

/* in, printable in a TAP line (control bytes as \xHH) */
static const char *shown(const char *in, char *buf, size_t cap)
{
    size_t k = 0;
    for (; *in && k + 5 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        k += (size_t)(c < 0x20 ? snprintf(buf + k, cap - k, "\\x%02x", c)
                               : snprintf(buf + k, cap - k, "%c", c));
    }
    buf[k] = 0;
    return buf;
}

static void tok_is(const char *in, const char *want)
{
    size_t n;
    char b[128];
    char *got = lm_tok13a(in, strlen(in), &n);
    is_str(got, want, "13a \"%s\"", shown(in, b, sizeof b));
    ok(n == strlen(got), "13a length of \"%s\"", shown(in, b, sizeof b));
    free(got);
}

static void stem_is(const char *w, const char *want)
{
    char buf[64];
    size_t n = strlen(w);
    memcpy(buf, w, n);
    n = lm_porter_stem(buf, n);
    buf[n] = 0;
    is_str(buf, want, "porter %s", w);
}

static void norm_is(const char *in, const char *want)
{
    char b[128];
    char *got = lm_squad_normalize(in, strlen(in), NULL);
    is_str(got, want, "squad normalize \"%s\"", shown(in, b, sizeof b));
    free(got);
}

static void hand_cases(void)
{
    tok_is("Hello, world!", "Hello , world !");
    tok_is("3.14, 2-3 1,000 x.y", "3.14 , 2 - 3 1,000 x . y");
    tok_is("abc-\n", "abc");
    tok_is("&amp;lt; a<skipped>b", "< ab");
    tok_is("", "");
    tok_is("(a) [b] {c}", "( a ) [ b ] { c }");
    tok_is("it's e-mail", "it's e-mail");
    /* bytes that are not UTF-8 stay, as characters of no class */
    tok_is("a\xff.b \xc3", "a\xff . b \xc3");
    char *u = lm_rouge_tokens("ab\xff"
                              "cd",
                              5, 0, NULL);
    is_str(u, "ab cd", "rouge tokens: an invalid byte separates");
    free(u);

    /* pred "the cat sat on the mat", ref "the cat is on the mat": matches
     * 5/6, 3/5, 1/4, 0/3, equal lengths */
    const char *p = "the cat sat on the mat", *r = "the cat is on the mat";
    lm_text tp = T(p), tr = T(r);
    size_t one = 1;
    lm_bleu b;
    lm_bleu_evaluate(&b, &tp, &tr, &one, 1, 0);
    is_near(b.score, 0.0, 0, "evaluate bleu: no 4-gram match gives 0");
    is_near(b.precisions[0], 5.0 / 6, 1e-15, "evaluate p1 = 5/6");
    is_near(b.precisions[3], 0.0, 0, "evaluate p4 = 0");
    is_near(b.bp, 1.0, 0, "evaluate bp = 1 at equal length");
    lm_bleu_evaluate(&b, &tp, &tr, &one, 1, 1);
    is_near(b.score, pow(6.0 / 7 * 4.0 / 6 * 2.0 / 5 * 1.0 / 4, 0.25), 1e-12, "evaluate smooth: (m+1)/(t+1)");
    is_near(lm_bleu_evaluate1(p, strlen(p), p, strlen(p)), 1.0, 1e-15, "evaluate bleu of a text with itself");
    lm_sacrebleu_sentence(&b, p, strlen(p), &tr, 1);
    is_near(b.score, pow(500.0 / 6 * 60 * 25 * (100.0 / 6), 0.25), 1e-9, "sacrebleu sentence: exp smoothing");
    lm_sacrebleu_corpus(&b, &tp, &tr, &one, 1);
    is_near(b.score, pow(500.0 / 6 * 60 * 25 * (100.0 / 6), 0.25), 1e-9,
            "sacrebleu corpus: same for one pair");
    lm_sacrebleu(&b, &tp, &tr, &one, 1, LM_SMOOTH_NONE, -1, 0);
    is_near(b.score, 0.0, 1e-300, "sacrebleu none: 0");
    /* brevity: 2 of 6 words */
    const char *s2 = "the cat";
    lm_text t2 = T(s2);
    lm_bleu_evaluate(&b, &t2, &tr, &one, 1, 1);
    is_near(b.bp, exp(1 - 3.0), 1e-15, "evaluate bp = exp(1 - 1/ratio)");
    is_near(b.ratio, 1.0 / 3, 1e-15, "evaluate ratio");
    lm_text empty = T("");
    lm_bleu_evaluate(&b, &empty, &tr, &one, 1, 1);
    ok(b.score == 0 && b.bp == 0 && b.ratio == 0, "evaluate: empty prediction gives 0");
    lm_sacrebleu_sentence(&b, "", 0, &tr, 1);
    ok(b.score == 0, "sacrebleu: empty prediction gives 0");
    /* closest reference (sacreBLEU) vs shortest (evaluate) */
    lm_text refs2[2] = {T("a b"), T("a b c d e")};
    size_t two = 2;
    lm_text t4 = T("a b c d");
    lm_bleu_evaluate(&b, &t4, refs2, &two, 1, 0);
    is_int(b.ref_len, 2, "evaluate: shortest reference length");
    lm_sacrebleu_corpus(&b, &t4, refs2, &two, 1);
    is_int(b.ref_len, 5, "sacrebleu: closest reference length");

    lm_rouge rg;
    lm_rouge_pair(&rg, p, strlen(p), r, strlen(r), 0);
    is_near(rg.r1.fmeasure, 5.0 / 6, 1e-15, "rouge1 f = 5/6");
    is_near(rg.r2.precision, 3.0 / 5, 1e-15, "rouge2 p = 3/5");
    is_near(rg.rl.recall, 5.0 / 6, 1e-15, "rougeL r = LCS 5 / 6");
    lm_rouge_pair(&rg, "", 0, r, strlen(r), 0);
    ok(rg.r1.fmeasure == 0 && rg.rl.fmeasure == 0, "rouge of an empty prediction is 0");
    const char *st = "Runners running quickly", *sr = "the runner runs quick";
    lm_rouge_pair(&rg, st, strlen(st), sr, strlen(sr), 0);
    is_near(rg.r1.fmeasure, 0.0, 0, "rouge1 without stemming: no overlap");
    lm_rouge_pair(&rg, st, strlen(st), sr, strlen(sr), 1);
    is_near(rg.r1.precision, 2.0 / 3, 1e-15, "rouge1 with stemming: runner, run match");
    const char *ik = "\xc4\xb0stanbul, \xe2\x84\xaa"
                     "ELVIN x_y"; /* U+0130, U+212A */
    char *tk = lm_rouge_tokens(ik, strlen(ik), 0, NULL);
    is_str(tk, "i stanbul kelvin x y", "rouge tokens: lower() of U+0130 and the Kelvin sign");
    free(tk);

    stem_is("caresses", "caress");
    stem_is("ponies", "poni");
    stem_is("ties", "tie");
    stem_is("agreed", "agre");
    stem_is("hopping", "hop");
    stem_is("filing", "file");
    stem_is("happy", "happi");
    stem_is("relational", "relat");
    stem_is("generalization", "gener");
    stem_is("allowance", "allow");
    stem_is("controll", "control");
    stem_is("dying", "die");
    stem_is("skies", "sky");
    stem_is("enjoy", "enjoy");
    stem_is("yyyy", "yyyi");

    norm_is("The Quick, brown fox!", "quick brown fox");
    norm_is("An  apple\ta day", "apple day");
    norm_is("theory another", "theory another");
    norm_is("ΟΔΟΣ ΟΔΟΣΑ", "οδος οδοσα");
    norm_is("the\xcc\x81", "\xcc\x81");
    norm_is("\xff the \xfe", "\xff \xfe");
    lm_text refs3[2] = {T("a cat sat down"), T("dog")};
    is_near(lm_squad_f1("the cat sat", 11, refs3, 2), 0.8, 1e-15, "squad f1 = 2 * 1 * 2/3 / (5/3)");
    ok(lm_squad_em("The Cat.", 8, (lm_text[]){T("dog"), T("cat")}, 2), "squad em after normalising");
    ok(!lm_squad_em("cats", 4, (lm_text[]){T("cat")}, 1), "squad em: not equal");
    is_near(lm_squad_f1("", 0, (lm_text[]){T("")}, 1), 0.0, 0, "squad f1 of two empty answers is 0 (v1.1)");
}

/* ---- goldens ---- */

enum {
    M_EVAL,
    M_EVAL_SMOOTH,
    M_SACRE_CORPUS,
    M_SACRE_SENT,
    M_SACRE_NONE,
    M_ROUGE,
    M_ROUGE_STEM,
    M_SQUAD,
    M_N
};
static const char *const mname[M_N] = {"bleu (evaluate)",         "bleu (evaluate, smooth)",
                                       "sacrebleu corpus_bleu",   "sacrebleu sentence_bleu",
                                       "sacrebleu (smooth none)", "rouge",
                                       "rouge (stemmer)",         "squad f1/em"};

typedef struct {
    double maxdiff[M_N];
    size_t bad[M_N]; /* records out of tolerance or with a wrong length */
    size_t records;
    size_t strbad[4];
} tally;

static void cmp(tally *t, int m, double got, json_t *want, size_t id, const char *what)
{
    double w = json_number_value(want);
    double d = fabs(got - w);
    if (!json_is_number(want) || !(d <= TOL)) {
        if (t->bad[m]++ < 5)
            diag("record %zu: %s %s = %.17g, want %.17g", id, mname[m], what, got, w);
        if (!json_is_number(want))
            return;
    }
    if (d > t->maxdiff[m])
        t->maxdiff[m] = d;
}

static void cmp_len(tally *t, int m, size_t got, json_t *want, size_t id, const char *what)
{
    if (!json_is_integer(want) || (json_int_t)got != json_integer_value(want)) {
        if (t->bad[m]++ < 5)
            diag("record %zu: %s %s = %zu, want %lld", id, mname[m], what, got,
                 (long long)json_integer_value(want));
    }
}

static void cmp_evaluate(tally *t, int m, const lm_bleu *b, json_t *w, size_t id)
{
    cmp(t, m, b->score, json_object_get(w, "bleu"), id, "bleu");
    for (size_t k = 0; k < 4; k++)
        cmp(t, m, b->precisions[k], json_array_get(json_object_get(w, "precisions"), k), id, "precision");
    cmp(t, m, b->bp, json_object_get(w, "brevity_penalty"), id, "brevity_penalty");
    cmp(t, m, b->ratio, json_object_get(w, "length_ratio"), id, "length_ratio");
    cmp_len(t, m, b->hyp_len, json_object_get(w, "translation_length"), id, "translation_length");
    cmp_len(t, m, b->ref_len, json_object_get(w, "reference_length"), id, "reference_length");
}

static void cmp_sacre(tally *t, int m, const lm_bleu *b, json_t *w, size_t id)
{
    cmp(t, m, b->score, json_object_get(w, "score"), id, "score");
    for (size_t k = 0; k < 4; k++)
        cmp(t, m, b->precisions[k], json_array_get(json_object_get(w, "precisions"), k), id, "precision");
    cmp(t, m, b->bp, json_object_get(w, "bp"), id, "bp");
    cmp_len(t, m, b->hyp_len, json_object_get(w, "sys_len"), id, "sys_len");
    cmp_len(t, m, b->ref_len, json_object_get(w, "ref_len"), id, "ref_len");
}

static void cmp_rouge(tally *t, int m, const lm_rouge *r, json_t *w, size_t id)
{
    const char *names[3] = {"rouge1", "rouge2", "rougeL"};
    const lm_rouge_score *s[3] = {&r->r1, &r->r2, &r->rl};
    for (int k = 0; k < 3; k++) {
        json_t *a = json_object_get(w, names[k]);
        cmp(t, m, s[k]->precision, json_array_get(a, 0), id, names[k]);
        cmp(t, m, s[k]->recall, json_array_get(a, 1), id, names[k]);
        cmp(t, m, s[k]->fmeasure, json_array_get(a, 2), id, names[k]);
    }
}

static void cmp_str(tally *t, int k, char *got, size_t gn, json_t *want, size_t id, const char *what)
{
    size_t wn = json_string_length(want);
    if (!json_is_string(want) || gn != wn || memcmp(got, json_string_value(want), gn) != 0) {
        if (t->strbad[k]++ < 5)
            diag("record %zu: %s \"%s\", want \"%s\"", id, what, got, json_string_value(want));
    }
    free(got);
}

static lm_text jtext(json_t *s)
{
    lm_text t = {json_string_value(s), json_string_length(s)};
    return t;
}

static void check_pairs(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        ok(0, "golden %s missing (tests/golden/metrics_golden.py writes it)", path);
        return;
    }
    tally t = {0};
    json_t *corpus = NULL;
    lm_text *cp = NULL, *cr = NULL;
    size_t nc = 0;
    json_t **keep = NULL;
    size_t nkeep = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, fp)) > 0) {
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)got, JSON_ALLOW_NUL, &je);
        if (!j) {
            ok(0, "%s: %s", path, je.text);
            break;
        }
        if (json_object_get(j, "corpus")) {
            corpus = j;
            continue;
        }
        size_t id = (size_t)json_integer_value(json_object_get(j, "id"));
        lm_text pred = jtext(json_object_get(j, "pred"));
        json_t *jr = json_object_get(j, "refs");
        size_t nr = json_array_size(jr);
        lm_text *refs = calloc(nr + 1, sizeof *refs);
        for (size_t k = 0; k < nr; k++)
            refs[k] = jtext(json_array_get(jr, k));
        size_t n;
        char *s = lm_tok13a(pred.s, pred.n, &n);
        cmp_str(&t, 0, s, n, json_object_get(j, "tok13a"), id, "tok13a");
        s = lm_rouge_tokens(pred.s, pred.n, 0, &n);
        cmp_str(&t, 1, s, n, json_object_get(j, "rouge_tokens"), id, "rouge tokens");
        s = lm_rouge_tokens(pred.s, pred.n, 1, &n);
        cmp_str(&t, 2, s, n, json_object_get(j, "rouge_tokens_stem"), id, "rouge tokens (stemmer)");
        s = lm_squad_normalize(pred.s, pred.n, &n);
        cmp_str(&t, 3, s, n, json_object_get(j, "squad_norm"), id, "squad normalize");

        lm_bleu b;
        lm_bleu_evaluate(&b, &pred, refs, &nr, 1, 0);
        cmp_evaluate(&t, M_EVAL, &b, json_object_get(j, "bleu_evaluate"), id);
        lm_bleu_evaluate(&b, &pred, refs, &nr, 1, 1);
        cmp_evaluate(&t, M_EVAL_SMOOTH, &b, json_object_get(j, "bleu_evaluate_smooth"), id);
        lm_sacrebleu_corpus(&b, &pred, refs, &nr, 1);
        cmp_sacre(&t, M_SACRE_CORPUS, &b, json_object_get(j, "sacrebleu_corpus"), id);
        lm_sacrebleu_sentence(&b, pred.s, pred.n, refs, nr);
        cmp_sacre(&t, M_SACRE_SENT, &b, json_object_get(j, "sacrebleu_sentence"), id);
        lm_sacrebleu(&b, &pred, refs, &nr, 1, LM_SMOOTH_NONE, -1, 0);
        cmp_sacre(&t, M_SACRE_NONE, &b, json_object_get(j, "sacrebleu_none"), id);
        lm_rouge r;
        lm_rouge_multi(&r, pred.s, pred.n, refs, nr, 0);
        cmp_rouge(&t, M_ROUGE, &r, json_object_get(j, "rouge"), id);
        lm_rouge_multi(&r, pred.s, pred.n, refs, nr, 1);
        cmp_rouge(&t, M_ROUGE_STEM, &r, json_object_get(j, "rouge_stem"), id);
        cmp(&t, M_SQUAD, lm_squad_f1(pred.s, pred.n, refs, nr), json_object_get(j, "squad_f1"), id, "f1");
        cmp_len(&t, M_SQUAD, (size_t)lm_squad_em(pred.s, pred.n, refs, nr), json_object_get(j, "squad_em"),
                id, "em");
        t.records++;
        if (nr == 1) { /* the corpus record is over these */
            cp = realloc(cp, (nc + 1) * sizeof *cp);
            cr = realloc(cr, (nc + 1) * sizeof *cr);
            cp[nc] = pred;
            cr[nc] = refs[0];
            nc++;
            keep = realloc(keep, (nkeep + 1) * sizeof *keep);
            keep[nkeep++] = j;
        } else {
            json_decref(j);
        }
        free(refs);
    }
    free(line);
    fclose(fp);

    ok(t.records >= 200, "%zu golden pairs (>= 200)", t.records);
    ok(corpus != NULL, "corpus record present");
    if (corpus) {
        is_int(nc, json_integer_value(json_object_get(corpus, "n")), "corpus of the one-reference pairs");
        size_t *ones = malloc((nc + 1) * sizeof *ones);
        for (size_t i = 0; i < nc; i++)
            ones[i] = 1;
        lm_bleu b;
        lm_bleu_evaluate(&b, cp, cr, ones, nc, 0);
        cmp_evaluate(&t, M_EVAL, &b, json_object_get(corpus, "bleu_evaluate"), (size_t)-1);
        double ev = b.score;
        lm_bleu_evaluate(&b, cp, cr, ones, nc, 1);
        cmp_evaluate(&t, M_EVAL_SMOOTH, &b, json_object_get(corpus, "bleu_evaluate_smooth"), (size_t)-1);
        lm_sacrebleu_corpus(&b, cp, cr, ones, nc);
        cmp_sacre(&t, M_SACRE_CORPUS, &b, json_object_get(corpus, "sacrebleu_corpus"), (size_t)-1);
        lm_sacrebleu(&b, cp, cr, ones, nc, LM_SMOOTH_NONE, -1, 0);
        cmp_sacre(&t, M_SACRE_NONE, &b, json_object_get(corpus, "sacrebleu_none"), (size_t)-1);
        diag("corpus of %zu pairs: evaluate bleu %.17g, sacrebleu (smooth none) %.17g; evaluate values %s",
             nc, ev, b.score, json_string_value(json_object_get(corpus, "evaluate_source")));
        free(ones);
        json_decref(corpus);
    }
    static const char *const sname[4] = {"tok13a", "rouge tokens", "rouge tokens (stemmer)",
                                         "squad normalize"};
    for (int k = 0; k < 4; k++)
        ok(t.strbad[k] == 0, "golden %s: %zu of %zu differ", sname[k], t.strbad[k], t.records);
    for (int m = 0; m < M_N; m++) {
        diag("max |diff| %-24s %.3g", mname[m], t.maxdiff[m]);
        ok(t.bad[m] == 0, "golden %s within %g (%zu records off)", mname[m], TOL, t.bad[m]);
    }
    for (size_t i = 0; i < nkeep; i++)
        json_decref(keep[i]);
    free(keep);
    free(cp);
    free(cr);
}

static void check_porter(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        ok(0, "golden %s missing", path);
        return;
    }
    size_t n = 0, bad = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, fp)) > 0) {
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)got, 0, &je);
        const char *w = json_string_value(json_object_get(j, "word"));
        const char *want = json_string_value(json_object_get(j, "stem"));
        if (!w || !want) {
            bad++;
            json_decref(j);
            continue;
        }
        size_t len = strlen(w);
        char *buf = malloc(len + 1);
        memcpy(buf, w, len + 1);
        len = lm_porter_stem(buf, len);
        buf[len] = 0;
        if (strcmp(buf, want) != 0 && bad++ < 10)
            diag("porter %s -> %s, want %s", w, buf, want);
        free(buf);
        json_decref(j);
        n++;
    }
    free(line);
    fclose(fp);
    ok(n > 1000 && bad == 0, "porter: %zu of %zu words stem as nltk's PorterStemmer()", n - bad, n);
}

/* Random strings from an alphabet of the characters the rules look at,
 * multibyte and invalid UTF-8 included: every value stays in its range, a
 * text against itself scores 1, and nothing reads out of bounds (under
 * make check-san). */
static void random_cases(void)
{
    static const char *const alpha[] = {"a",         "b",
                                        "The",       " ",
                                        ".",         ",",
                                        "-",         "\n",
                                        "1",         "&amp;",
                                        "<skipped>", "\xce\xa3",
                                        "\xc4\xb0",  "\xe2\x80\x83",
                                        "\xff",      "\xc3",
                                        "y",         "ing",
                                        "an",        "'",
                                        "\t",        "\xf0\x9f\x98\x80"};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t bad = 0, selfbad = 0;
    for (int it = 0; it < 2000; it++) {
        char a[256], b[256];
        size_t an = 0, bn = 0;
        for (int side = 0; side < 2; side++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t parts = (size_t)(x % 24);
            for (size_t k = 0; k < parts; k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                const char *p = alpha[x % (sizeof alpha / sizeof alpha[0])];
                size_t pl = strlen(p);
                if (side == 0 && an + pl < sizeof a)
                    memcpy(a + an, p, pl), an += pl;
                else if (side == 1 && bn + pl < sizeof b)
                    memcpy(b + bn, p, pl), bn += pl;
            }
        }
        lm_text ta = {a, an}, tb = {b, bn};
        size_t one = 1;
        lm_bleu e, s, t;
        lm_rouge r;
        lm_bleu_evaluate(&e, &ta, &tb, &one, 1, it & 1);
        lm_sacrebleu_corpus(&s, &ta, &tb, &one, 1);
        lm_sacrebleu_sentence(&t, a, an, &tb, 1);
        lm_rouge_pair(&r, a, an, b, bn, it & 1);
        double f1 = lm_squad_f1(a, an, &tb, 1);
        int in = e.score >= 0 && e.score <= 1 && s.score >= 0 && s.score <= 100 + 1e-9 && t.score >= 0 &&
                 t.score <= 100 + 1e-9 && r.r1.fmeasure >= 0 && r.r1.fmeasure <= 1 && r.r2.fmeasure >= 0 &&
                 r.r2.fmeasure <= 1 && r.rl.fmeasure >= 0 && r.rl.fmeasure <= 1 && f1 >= 0 && f1 <= 1;
        if (!in && bad++ < 3)
            diag("out of range for \"%.*s\" / \"%.*s\"", (int)an, a, (int)bn, b);
        lm_rouge_pair(&r, a, an, a, an, 1);
        lm_bleu_evaluate(&e, &ta, &ta, &one, 1, 0);
        int self = (r.rl.fmeasure == 1 || r.rl.fmeasure == 0) &&
                   (e.score == 0 || fabs(e.score - 1) < 1e-15) && (lm_squad_em(a, an, &ta, 1) == 1);
        if (!self && selfbad++ < 3)
            diag("self-comparison off for \"%.*s\"", (int)an, a);
    }
    ok(bad == 0, "random texts: every score within its range (%zu off)", bad);
    ok(selfbad == 0, "random texts: a text against itself scores 1 (or 0 with no tokens) (%zu off)", selfbad);
}

int main(void)
{
    hand_cases();
    random_cases();
    /* the pairs are bundled compressed; make fixtures unpacks them */
    const char *build = getenv("BUILD");
    char pairs[512];
    snprintf(pairs, sizeof pairs, "%s/testdata/golden/metrics/pairs.jsonl",
             build && *build ? build : "build");
    check_pairs(pairs);
    check_porter("testdata/golden/metrics/porter.jsonl");
    return tap_done();
}
