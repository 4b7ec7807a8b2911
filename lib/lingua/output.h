/* output.h - an LLMLingua-2 result as lingua-compress writes it: the JSON
 * values of its record fields ("compressed_prompt_list", "words",
 * "token_probs"), the reference's "fn_labeled_original_prompt" string
 * (llmlingua 0.2.2 prompt_compressor.py compress_prompt_llmlingua2,
 * return_word_label), --view's text, the words the pictures of view.h
 * show, and the escaped comma lists of --force-tokens and
 * --chunk-end-tokens.
 * Does not: write records or files (the command does, with core/jsonl.h
 * and core/fs.h).  Thread-safe; no state.
 */
#ifndef LMKIT_LINGUA_OUTPUT_H
#define LMKIT_LINGUA_OUTPUT_H

#include <stddef.h>

#include "core/buf.h"
#include "lingua/lingua.h"
#include "lingua/view.h"

/* Appends r's compressed_prompt_list as a JSON array of strings. */
void lm_lingua_list_json(lm_buf *b, const lm_lingua_result *r);
/* Appends r's words (want_words) as a JSON array of
 * {"word": ..., "prob": number or null, "keep": true/false}. */
void lm_lingua_words_json(lm_buf *b, const lm_lingua_result *r);
/* Appends r's tokens (want_tokens) as a JSON array of {"token", "prob"}. */
void lm_lingua_tokens_json(lm_buf *b, const lm_lingua_result *r);
/* Appends word label_sep label for every word, joined by word_sep (the
 * reference's defaults for NULL: "\t\t|\t\t" and " "). */
void lm_lingua_labelled(lm_buf *b, const lm_lingua_result *r, const char *word_sep, const char *label_sep);

/* Appends the contexts joined by blank lines, as compressed_prompt joins
 * the compressed ones. */
void lm_lingua_join(lm_buf *b, const char *const *ctx, const size_t *ctx_len, size_t n_ctx);
/* r's words for view.h; orig (may be NULL) is the original text. */
lm_view_words lm_lingua_view_words(const lm_lingua_result *r, const char *orig, size_t orig_len);
/* --view's text of one record: a header "==> WHERE: ratio R, N -> M tokens
 * <==", then the compressed prompt and a newline, or with color the words
 * w with the dropped ones dimmed. */
void lm_lingua_view_text(lm_buf *b, const char *where, const lm_lingua_result *r, const lm_view_words *w,
                         int color);

/* Splits a comma-separated list with the escapes \n, \t, \, (a comma) and
 * \\ into *n strings (*out, with lengths *lens; both NULL for an empty
 * arg; the caller frees every string and both arrays).  An empty item is
 * kept (as an empty string).  0, or -1 with a message (a trailing
 * backslash, an unknown escape) and nothing allocated. */
int lm_lingua_split_list(const char *arg, char ***out, size_t **lens, size_t *n, char *err, size_t errlen);

#endif
