/* test_metrics.c - lib/text/metrics: hand-worked BLEU, ROUGE, Porter and
 * SQuAD cases.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    hand_cases();
    return tap_done();
}
