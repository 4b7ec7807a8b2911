/* align.h - word labels for LLMLingua-2 supervised training: which words
 * of an original text a compressed version kept (Pan et al., LLMLingua-2,
 * Findings of ACL 2024, §3.2-3.3; the reference code is microsoft/LLMLingua
 * experiments/llmlingua2/data_collection/label_word.py at 4411201 and
 * filter.py at 88bcf03, checked line by line against this file).
 *
 *  - lm_align_label: label_word.py's window search and its per-chunk
 *    statistics, over words (lmkit trains on the original text split into
 *    words by the inference word rules, so that training sees the text
 *    inference sees) instead of spaCy lemmas;
 *  - lm_align_filter: filter.py's two 90th-percentile passes;
 *  - lm_align_word_spans: the words of a plain text under lib/lingua's
 *    word rules (lm_lingua_word_start over the model tokenizer's tokens);
 *  - lm_align_span_labels: "keep_spans" character ranges to word labels.
 *
 * Case-insensitive equality is Python's: a.lower() == b.lower() with
 * lm_py_lower (text/metrics.h).  Words equal to "," are skipped on both
 * sides, as the script skips the lemma ",": such an original word is
 * never searched, gets label 0 and is left out of every count.
 *
 * Deviations, where the reference fails: an original with no words (after
 * the skip) raises IndexError or ZeroDivisionError there; here it labels
 * nothing and comp_rate, hitting_rate and matching_rate are 0.  A
 * compressed text with no words gives find_rate 0 (variation_rate 1).
 *
 * Does not: read records, tokenize for the model, or train.  Memory comes
 * from lm_x* (core/diag.h); no state, thread-safe.
 */
#ifndef LMKIT_LINGUA_ALIGN_H
#define LMKIT_LINGUA_ALIGN_H

#include <stddef.h>
#include <stdint.h>

#include "lingua/lingua.h"
#include "text/metrics.h"

/* label_word.py's default window; its README runs 400. */
#define LM_ALIGN_WINDOW 150

/* One chunk's statistics (label_word.py), over the words left after the
 * "," skip. */
typedef struct {
    size_t n_orig, n_comp; /* |orig|, |comp| */
    size_t n_find;         /* compressed words found in the original's word set */
    size_t n_kept;         /* original words labelled kept */
    double comp_rate;      /* n_comp / n_orig */
    double find_rate;      /* n_find / n_comp */
    double variation_rate; /* 1 - find_rate */
    double hitting_rate;   /* n_find / n_orig */
    double matching_rate;  /* n_kept / n_orig */
    double alignment_gap;  /* hitting_rate - matching_rate */
} lm_align_stats;

/* Labels orig[0..n_orig) from comp[0..n_comp): writes 1 (kept) or 0 to
 * labels[0..n_orig) and fills *st (may be NULL).
 *
 * For each compressed word c in order, with a pointer prev (from 0) into
 * the searched original words o[0..n) and h = window / 2:
 *   for i in 0 .. window-1:
 *     j = min(prev + i, n - 1): if lower(o[j]) == lower(c) and o[j] is not
 *       kept, keep it; prev += h if j - prev > h, else prev = j; next c;
 *     j = max(prev - i, 0): the same test; on a match keep it, prev = j;
 *       next c.
 * c counts as found when c or lower(c) is one of the original words or
 * their lower-cased forms (the script's set test). */
void lm_align_label(const lm_text *orig, size_t n_orig, const lm_text *comp, size_t n_comp, size_t window,
                    uint8_t *labels, lm_align_stats *st);

/* filter.py: keep[i] = 1 for the chunks that survive both passes, over
 * st[0..n): a chunk with variation_rate >= the 90th percentile of all
 * variation rates is dropped; of the rest, a chunk with alignment_gap >=
 * the 90th percentile of their gaps is dropped.  Percentiles are NumPy's
 * default (linear, float64; lm_lingua_percentile).  The comparisons are
 * the script's, so equal values at the threshold are all dropped.
 * Returns the number kept. */
size_t lm_align_filter(const lm_align_stats *st, size_t n, uint8_t *keep);

/* The words of text[0..n) as lm_lingua_compress forms them (lm_lingua_merge
 * with no force tokens): the model tokenizer's tokens of the text (no
 * special tokens added), as the vocabulary strings of their ids; tokens
 * equal to one of m's special strings (an unknown piece is "<unk>" or
 * "[UNK]") left out; grouped by lm_lingua_word_start.  A word's span runs
 * from its first token's start offset, past the white space a leading "▁"
 * stands for, to its last token's end offset (bytes), so it covers an
 * unknown piece inside the word, which lm_lingua_compress's word text
 * leaves out.  (lm_lingua_compress tokenizes the text decoded from its
 * chunks' tokens again; on text the tokenizer round-trips the words are
 * the same.)  *spans (lm_x*-allocated,
 * the caller frees it; NULL for no words) gets *nw spans [start, end).
 * Returns 0, or -1 with a message (invalid UTF-8). */
int lm_align_word_spans(const lm_lingua_model *m, const char *text, size_t n, size_t (**spans)[2], size_t *nw,
                        char *err, size_t errlen);

/* Word labels from keep_spans (the "keep_spans" input of supervised training): keep[0..nk) are [start, end)
 * offsets in characters (Unicode code points, as Python indexes a str;
 * an undecodable byte counts as one) into text[0..n); words[0..nw) are
 * byte spans into text.  A word is kept (1) when at least half of its
 * characters lie inside the union of the keep spans; a word of no
 * characters is dropped.  Returns 0, or -1 with a message when a keep
 * span has start > end or ends past the text. */
int lm_align_span_labels(const char *text, size_t n, const size_t (*words)[2], size_t nw,
                         const size_t (*keep)[2], size_t nk, uint8_t *labels, char *err, size_t errlen);

#endif
