/* data.h - the training data of LLMLingua-2's supervised token
 * classification (taco-train label and sup): a record's words and their
 * keep labels, and the words cut into the model's token windows.
 *
 * A record gives its labels in one of three forms:
 *  - "words" (strings) and "labels" (0 or 1 each, or true/false): used as
 *    they are;
 *  - "origin" and "compressed" (strings): the words of the origin under
 *    lingua-compress's word rules, labelled by LLMLingua-2's alignment
 *    (lingua/align.h: lm_align_label with the search window given);
 *  - "text" (string) and "keep_spans" ([[start, end], ...] in characters):
 *    the words of the text, a word kept when at least half of its
 *    characters are inside the spans (lm_align_span_labels).
 *
 * Windows follow the reference training set (experiments/llmlingua2/
 * model_training/utils.py TokenClfDataset): every word is tokenized on its
 * own, without special tokens, and its label is copied to each of its
 * tokens; a window is the model's own start token ("[CLS]" or "<s>"), at
 * most max_len - 2 word tokens, and its end token ("[SEP]" or "</s>").
 * The ends get label -100 (not trained; the reference gives them 0 and
 * shifts the last label onto the end token).  Where the reference cuts a
 * longer record at max_len tokens, lmkit starts a new window at the first
 * word that does not fit, so no word is lost; a single word longer than a
 * window is split over windows.  Words that tokenize to nothing (white
 * space) are dropped.
 *
 * Memory comes from lm_x* (core/diag.h).
 */
#ifndef LMKIT_TACO_DATA_H
#define LMKIT_TACO_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "core/jsonl.h"
#include "lingua/align.h"
#include "lingua/lingua.h"
#include "text/tokenizer.h"

/* The tokenizers of a model folder for training data. */
typedef struct {
    lm_tokenizer *tok;  /* the folder's tokenizer: training ids */
    lm_tokenizer *wtok; /* a second copy with LLMLingua-2's set-up: word rules */
    lm_lingua_model lm; /* over wtok */
    int32_t cls, sep;   /* the model's own window ends */
    int32_t pad;        /* padding id (config.json's pad_token_id) */
    size_t max_len;     /* tokens per window, ends included (>= 3) */
    size_t window;      /* alignment search window */
} lm_taco_text;

/* Loads dir/tokenizer.json and dir/config.json.  max_len 0: 512, or the
 * model's positions when fewer.  Returns 0, or -1 with a message. */
int lm_taco_text_load(lm_taco_text *t, const char *dir, size_t max_len, size_t window, char *err,
                      size_t errlen);
void lm_taco_text_free(lm_taco_text *t);

/* One record's words and labels. */
typedef struct {
    lm_buf text;       /* the words' bytes, one after the other */
    size_t (*w)[2];    /* [n] start, end in text */
    uint8_t *label;    /* [n] 1 keep, 0 drop */
    size_t n, cap;     /* words */
    int aligned;       /* 1 when the labels came from origin/compressed */
    lm_align_stats st; /* the alignment's statistics (aligned) */
} lm_taco_words;

void lm_taco_words_free(lm_taco_words *w);

/* Fills w (reset first) from the record's fields.  Returns LM_REC_OK, or
 * LM_REC_BAD with e set at the culprit field. */
int lm_taco_record_words(const lm_taco_text *t, const lm_record *in, lm_taco_words *w, lm_rerr *e);

/* Token windows of many records, one flat allocation per field. */
typedef struct {
    int32_t *ids;    /* [ntok] */
    int32_t *labels; /* [ntok] 0, 1 or -100 */
    size_t *off;     /* [nwin + 1] window i is [off[i], off[i+1]) */
    uint64_t *rec;   /* [nwin] the record (0-based index) a window came from */
    size_t nwin, ntok, tokcap, wincap;
    size_t nlabel[2]; /* tokens labelled 0 and 1 */
} lm_taco_windows;

/* Appends the windows of one record's words.  Returns 0, or -1 with a
 * message (a word the tokenizer refuses), d then as it was. */
int lm_taco_windows_add(lm_taco_windows *d, const lm_taco_text *t, const lm_taco_words *w, uint64_t rec,
                        char *err, size_t errlen);
void lm_taco_windows_free(lm_taco_windows *d);

#endif
