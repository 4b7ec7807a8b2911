/* record.h - lingua-compress's records as the record loop hands them over
 * (lm_record): which member holds the text, the texts themselves, the
 * record's own "rate" and "target_token", and the fields written back (the
 * reference's compress_prompt_llmlingua2 result, llmlingua 0.2.2
 * prompt_compressor.py, plus --word-labels and --token-probs).
 *
 * Functions that check a record return 0, or -1 with err set at the
 * culprit's position in the line.
 */
#ifndef LMKIT_LINGUA_RECORD_H
#define LMKIT_LINGUA_RECORD_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/jsonl.h"
#include "lingua/lingua.h"
#include "lingua/view.h"

/* The texts of a record: one prompt, or the items of a context list. */
typedef struct {
    const char **cx; /* [n] the texts (pointing into sbuf or arr) */
    size_t *cl, n;   /* [n] their lengths in bytes */
    int is_list;     /* a list of contexts (else one prompt string) */
    lm_buf sbuf;     /* the prompt string, decoded */
    json_t *arr;     /* the context list */
} lm_lingua_texts;

/* The member holding the text: field, or "context" when field is "prompt"
 * and the record has no "prompt".  It must be a string or an array.  NULL
 * with err (and a hint when the member is missing). */
const lm_member *lm_lingua_rec_member(const lm_record *in, const char *field, lm_rerr *err);

/* The record's "rate" (a number in (0, 1]) and "target_token" (an integer
 * >= -1) into o; *mt is set to the "target_token" member or NULL. */
int lm_lingua_rec_params(const lm_record *in, lm_lingua_opts *o, const lm_member **mt, lm_rerr *err);

/* The texts of m (a string, or a list of strings) into t (zeroed first);
 * free t with lm_lingua_texts_free, also after a failure. */
int lm_lingua_rec_texts(const lm_record *in, const lm_member *m, lm_lingua_texts *t, lm_rerr *err);
void lm_lingua_texts_free(lm_lingua_texts *t);

/* What a record gets besides the reference's fields. */
typedef struct {
    int word_labels;                  /* "fn_labeled_original_prompt" and "words" */
    const char *word_sep, *label_sep; /* separators of the labelled prompt */
    int token_probs;                  /* "token_probs" */
} lm_lingua_fields_opts;

/* The output fields of a finished record: "compressed_prompt",
 * "compressed_prompt_list" (is_list), "origin_tokens",
 * "compressed_tokens", "ratio", "rate", "saving", then those of fo. */
void lm_lingua_rec_fields(lm_out *out, const lm_lingua_result *r, int is_list,
                          const lm_lingua_fields_opts *fo);

/* A finished record as --view's text (appended to view, unless NULL;
 * color: the words with the dropped ones dimmed) and as --html's fragment
 * (added to page under the record's index, unless NULL), both headed
 * FILE:LINE.  t holds the record's texts. */
void lm_lingua_rec_show(const lm_record *in, const lm_lingua_texts *t, const lm_lingua_result *r,
                        lm_buf *view, int color, lm_view_page *page);

#endif
