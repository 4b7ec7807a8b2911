/* metrics.h - text-similarity metrics: BLEU (Hugging Face evaluate's "bleu"
 * and sacreBLEU), ROUGE-1/2/L (rouge-score) and SQuAD v1.1 F1 / exact match,
 * computed natively with the values of the Python packages named at each
 * function (parity goldens: tests/golden/metrics_golden.py, checked by
 * tests/unit/test_metrics.c to |diff| <= 1e-9).
 *
 * Texts are UTF-8, passed as (pointer, byte length); they need not be
 * NUL-terminated and may contain NUL.  The Python packages see only valid
 * Unicode: here a byte that is not part of valid UTF-8 counts as a character
 * of its own that is no letter, digit, space or punctuation and has no case.
 * Character properties (Python's str.isspace, str.lower, the \w of `re`)
 * are those of Unicode 14.0.0, Python 3.11's.
 *
 * Argument order is (prediction, reference) everywhere; rouge-score's
 * RougeScorer.score takes (target, prediction), i.e. the reverse.
 *
 * Memory comes from lm_xmalloc & co. (lib/core/diag.h); results that are
 * strings are the caller's to free().  No function keeps state between
 * calls: all are thread-safe.
 * Does not: BERTScore, CodeBLEU, METEOR, chrF, sacreBLEU's other tokenizers
 * (zh, intl, char, ja-mecab, ...), lowercase BLEU, ROUGE-Lsum.
 */
#ifndef LMKIT_TEXT_METRICS_H
#define LMKIT_TEXT_METRICS_H

#include <stddef.h>

/* One UTF-8 string. */
typedef struct {
    const char *s;
    size_t n;
} lm_text;

/* ---- tokenisers ---- */

/* sacreBLEU 2.6.0 tokenizers/tokenizer_13a.py Tokenizer13a (the mteval-v13a
 * tokenisation; evaluate 0.4.6's metrics/bleu/tokenizer_13a.py is a copy):
 * in order, remove every "<skipped>", remove every "-\n", "\n" -> " ",
 * "&quot;" -> '"', "&amp;" -> "&", "&lt;" -> "<", "&gt;" -> ">" (each a
 * separate left-to-right pass), pad with one space on both sides, then the
 * four substitutions of tokenizer_re.py TokenizerRegexp:
 *   ([\{-\~\[-\` -\&\(-\+\:-\@\/])  -> " \1 "
 *   ([^0-9])([\.,])                 -> "\1 \2 "
 *   ([\.,])([^0-9])                 -> " \1 \2"
 *   ([0-9])(-)                      -> "\1 \2 "
 * and ' '.join(line.split()) (Python's whitespace).  Returns the tokens
 * joined by single spaces (NUL-terminated, length in *outlen). */
char *lm_tok13a(const char *s, size_t n, size_t *outlen);

/* rouge-score 0.1.2 tokenize.py tokenize (DefaultTokenizer): str.lower(),
 * every run of [^a-z0-9] -> " ", split on whitespace; with use_stemmer,
 * tokens longer than 3 characters go through lm_porter_stem; empty tokens
 * are dropped.  Returns the tokens joined by single spaces. */
char *lm_rouge_tokens(const char *s, size_t n, int use_stemmer, size_t *outlen);

/* nltk 3.10.4 nltk/stem/porter.py PorterStemmer() in its default mode,
 * NLTK_EXTENSIONS, which rouge-score 0.1.2 uses (tokenizers.py:
 * porter.PorterStemmer()): M. F. Porter, "An algorithm for suffix
 * stripping" (1980), steps 1a-5b, with Porter's later changes (bli -> ble,
 * logi -> log) and NLTK's (a table of irregular forms: sky/skies, dying,
 * lying, tying, news, innings, outings, cannings, howe, proceed, exceed,
 * succeed; words of 1-2 letters unchanged; "ies" -> "ie" and "ied" -> "ie"
 * in 4-letter words, "ied" -> "i" otherwise; y -> i only after a consonant
 * that is not the first letter; alli -> al first then step 2 again;
 * fulli -> ful; logi -> log measured with the l; *o true for a
 * vowel-consonant word of 2 letters).  w[0..n) must be lower-case ASCII
 * letters and digits (what the ROUGE tokeniser gives); the stem, never
 * longer than the word, is written over w and its length returned. */
size_t lm_porter_stem(char *w, size_t n);

/* Python's str.lower(): full Unicode lowercase (SpecialCasing, e.g. U+0130
 * -> "i\u0307") with Final_Sigma (U+03A3 -> U+03C2 at the end of a cased
 * word).  Bytes that are not valid UTF-8 are copied unchanged.  Returns the
 * lower-cased string (NUL-terminated, length in *outlen). */
char *lm_py_lower(const char *s, size_t n, size_t *outlen);

/* SQuAD v1.1 evaluate-v1.1.py normalize_answer: str.lower() (full Unicode
 * lowercase with Final_Sigma), remove the characters of string.punctuation,
 * re.sub(r'\b(a|an|the)\b', ' ', .) (Unicode word boundaries), then
 * ' '.join(text.split()).  Returns the normalised string. */
char *lm_squad_normalize(const char *s, size_t n, size_t *outlen);

/* ---- BLEU ---- */

#define LM_BLEU_MAX_ORDER 4

typedef struct {
    double score;                         /* evaluate: [0, 1]; sacreBLEU: [0, 100] */
    double precisions[LM_BLEU_MAX_ORDER]; /* evaluate: fractions; sacreBLEU: percent */
    double bp;                            /* brevity penalty */
    double ratio;                      /* hyp_len / ref_len (evaluate's length_ratio; 0 when either is 0) */
    size_t hyp_len, ref_len;           /* tokens, summed over the corpus */
    size_t matches[LM_BLEU_MAX_ORDER]; /* clipped n-gram matches, summed */
    size_t totals[LM_BLEU_MAX_ORDER];  /* hypothesis n-grams, summed */
} lm_bleu;

/* A corpus: n predictions; prediction i has nrefs[i] >= 1 references, which
 * are refs[off_i .. off_i + nrefs[i]) with off_i = nrefs[0] + ... + nrefs[i-1]. */

/* Hugging Face evaluate 0.4.6, metric "bleu" (metrics/bleu/bleu.py, which
 * calls nmt_bleu.py compute_bleu, tensorflow/nmt's): both sides tokenised by
 * lm_tok13a (no rstrip), max_order 4.  Per prediction: hypothesis n-gram
 * counts clipped by the maximum count over its references; reference length
 * = the SHORTEST reference's.  Summed over the corpus: p_n = matches_n /
 * possible_n (0 when possible_n = 0), or with smooth (m_n + 1) / (t_n + 1)
 * for every n; geo = exp(sum_n 0.25 * log p_n) when min p_n > 0, else 0;
 * ratio = hyp_len / ref_len, bp = 1 if ratio > 1 else exp(1 - 1 / ratio);
 * when hyp_len or ref_len is 0, ratio = bp = 0 (evaluate at commit
 * 4c312afb of nmt_bleu.py; tensorflow/nmt's original raises
 * ZeroDivisionError there).  score = geo * bp. */
void lm_bleu_evaluate(lm_bleu *out, const lm_text *preds, const lm_text *refs, const size_t *nrefs, size_t n,
                      int smooth);
/* The same for one (prediction, reference) pair; returns out->score. */
double lm_bleu_evaluate1(const char *pred, size_t pn, const char *ref, size_t rn);

typedef enum { LM_SMOOTH_NONE, LM_SMOOTH_FLOOR, LM_SMOOTH_ADD_K, LM_SMOOTH_EXP } lm_bleu_smooth;

/* sacreBLEU 2.6.0 metrics/bleu.py BLEU (tokenize "13a", lowercase False,
 * max_ngram_order 4): each segment rstrip()ped (Python whitespace), then
 * lm_tok13a.  Per segment: counts clipped by the maximum over its
 * references; reference length = the CLOSEST reference length (the shorter
 * on a tie).  Then compute_bleu on the corpus sums: bp = exp(1 - ref/hyp)
 * when hyp < ref (0 when hyp = 0), else 1; score 0 when no n-gram matches;
 * else for n = 1..4 until totals_n = 0: add-k adds smooth_value (default 1)
 * to m_n and t_n for n > 1; p_n = 100 m_n / t_n, or when m_n = 0: exp
 * smoothing 100 / (2^k t_n) for the k-th such order, floor 100 smooth_value
 * / t_n (default 0.1), none 0; score = bp * exp(sum log p_n / N) with log 0
 * = -9999999999 and N = 4, or with effective_order the last n with t_n > 0.
 * smooth_value < 0 takes the method's default. */
void lm_sacrebleu(lm_bleu *out, const lm_text *preds, const lm_text *refs, const size_t *nrefs, size_t n,
                  lm_bleu_smooth smooth, double smooth_value, int effective_order);
/* sacrebleu.corpus_bleu(preds, refs) defaults: exp smoothing, no effective
 * order.  Score in [0, 100]. */
void lm_sacrebleu_corpus(lm_bleu *out, const lm_text *preds, const lm_text *refs, const size_t *nrefs,
                         size_t n);
/* sacrebleu.sentence_bleu(pred, refs) defaults: exp smoothing, effective
 * order.  Score in [0, 100]. */
void lm_sacrebleu_sentence(lm_bleu *out, const char *pred, size_t pn, const lm_text *refs, size_t nrefs);

/* ---- ROUGE ---- */

typedef struct {
    double precision, recall, fmeasure;
} lm_rouge_score;

typedef struct {
    lm_rouge_score r1, r2, rl; /* rouge1, rouge2, rougeL */
} lm_rouge;

/* rouge-score 0.1.2 rouge_scorer.py RougeScorer(["rouge1", "rouge2",
 * "rougeL"], use_stemmer).score(ref, pred), tokens of lm_rouge_tokens.
 * rougeN: overlap = sum over reference n-grams of min(count_ref, count_pred);
 * precision = overlap / max(pred n-grams, 1), recall = overlap / max(ref
 * n-grams, 1).  rougeL: all 0 when either side has no token, else LCS
 * length / pred tokens and / ref tokens.  fmeasure = 2 * p * r / (p + r),
 * or 0 when p + r = 0 (scoring.py fmeasure). */
void lm_rouge_pair(lm_rouge *out, const char *pred, size_t pn, const char *ref, size_t rn, int use_stemmer);
/* RougeScorer.score_multi(refs, pred): per ROUGE type, the score of the
 * first reference with the largest fmeasure (nrefs >= 1; all zeros when 0). */
void lm_rouge_multi(lm_rouge *out, const char *pred, size_t pn, const lm_text *refs, size_t nrefs,
                    int use_stemmer);

/* ---- SQuAD v1.1 ---- */

/* evaluate-v1.1.py f1_score maximised over the references
 * (metric_max_over_ground_truths): tokens = lm_squad_normalize(.).split();
 * same = size of the multiset intersection; 0 when same = 0, else
 * p = same / len(pred), r = same / len(ref), 2 * p * r / (p + r).
 * 0 when nrefs = 0. */
double lm_squad_f1(const char *pred, size_t pn, const lm_text *refs, size_t nrefs);
/* evaluate-v1.1.py exact_match_score maximised over the references: 1 when
 * the normalised prediction equals a normalised reference, else 0. */
int lm_squad_em(const char *pred, size_t pn, const lm_text *refs, size_t nrefs);

#endif
