/* view.h - pictures of an LLMLingua-2 compression (the per-word labels of
 * compress_prompt_llmlingua2's return_word_label, and their probabilities): the original words on a terminal
 * with dropped words dimmed (ANSI SGR 2/22), and a standalone HTML5 page
 * (XHTML-compatible markup) with one element per word, kept/dropped marking
 * and a keep-probability heat with its legend.
 *
 * Does not: compress anything (lingua.h), decide whether a terminal wants
 * colour, or open files; it appends to an lm_buf, which the caller writes
 * (atomically, with core/fs.h, for a file).  Thread-safe; no state.
 */
#ifndef LMKIT_LINGUA_VIEW_H
#define LMKIT_LINGUA_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* The words of one compressed prompt, as lm_lingua_result holds them. */
typedef struct {
    size_t n;
    const char *const *words; /* [n] UTF-8, not NUL-terminated */
    const size_t *len;        /* [n] */
    const uint8_t *keep;      /* [n] 1 kept, 0 dropped */
    const double *prob;       /* [n] keep probability, NaN for none; NULL: no heat */
    const char *orig;         /* the original text (optional, NULL): the spaces */
    size_t orig_len;          /* and newlines between words are taken from it */
} lm_view_words;

/* Appends the words as text, ending with a newline (added unless the text
 * already ends with one).  The text between two
 * words is what separates them in orig when the words are found there in
 * order (else one space).  color != 0: each run of dropped words is wrapped
 * in SGR 2 (faint) ... SGR 22 (normal intensity). */
void lm_view_ansi(lm_buf *out, const lm_view_words *w, int color);

/* Appends s[0..n) with &, <, >, " and ' escaped; C0 controls other than
 * TAB, LF and CR (not allowed in XML) become U+FFFD. */
void lm_view_html_escape(lm_buf *out, const char *s, size_t n);

/* The page: lm_view_html_begin, one lm_view_html_record per record,
 * lm_view_html_end.  title is escaped. */
void lm_view_html_begin(lm_buf *out, const char *title);
/* One record: a header (where, e.g. "file:line"; ratio; token counts), then
 * one <span class="k"> (kept) or <span class="d"> (dropped) per word, with
 * a background colour from its probability and a title giving it. */
void lm_view_html_record(lm_buf *out, const char *where, const char *ratio, size_t origin_tokens,
                         size_t compressed_tokens, const lm_view_words *w);
void lm_view_html_end(lm_buf *out);

/* A page of records finished in any order: each record's fragment (from
 * lm_view_html_record) is kept under its record index, and the page lists
 * them in index order.  Starts zeroed; lm_view_page_add may be called by
 * several threads at once (an OpenMP critical section). */
typedef struct {
    struct lm_view_frag {
        uint64_t index;
        lm_buf b;
    } * f;
    size_t n, cap;
} lm_view_page;

/* Keeps *frag (its memory is taken; *frag is left empty) as record index's. */
void lm_view_page_add(lm_view_page *p, uint64_t index, lm_buf *frag);
/* Appends the page (lm_view_html_begin with title, the fragments by index,
 * lm_view_html_end) to out; the fragments are freed and p is left empty. */
void lm_view_page_render(lm_view_page *p, const char *title, lm_buf *out);
void lm_view_page_free(lm_view_page *p);

/* The heat colour of probability p (clamped to [0, 1]) as a CSS colour,
 * "hsl(H,80%,80%)" from blue (0) through green to red (1); NaN gives "". */
void lm_view_heat(double p, char css[32]);

#endif
