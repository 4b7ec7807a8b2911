/* view.c - terminal and HTML pictures of an LLMLingua-2 compression: which
 * words were kept and dropped, and each word's keep probability.  See view.h.  Does not compress or open files.
 */
#include "lingua/view.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"

/* The text before word i: orig's whitespace run when word i follows at the
 * cursor *pos (which then moves past it), else one space (none before the
 * first word).  The words are the original's in order (lingua.h), so only
 * normalised or dropped characters miss. */
static void gap(const lm_view_words *w, size_t i, size_t *pos, const char **g, size_t *gl)
{
    static const char space[] = " ";
    if (w->orig) {
        size_t q = *pos;
        while (q < w->orig_len && strchr(" \t\r\n\f\v", w->orig[q]) && w->orig[q])
            q++;
        if (q + w->len[i] <= w->orig_len && !memcmp(w->orig + q, w->words[i], w->len[i])) {
            *g = w->orig + *pos;
            *gl = q - *pos;
            *pos = q + w->len[i];
            return;
        }
        /* not there (normalised text, a control character): resynchronise
         * on the word's next occurrence within a few bytes */
        size_t lim = q + 8 + w->len[i] < w->orig_len ? q + 8 + w->len[i] : w->orig_len;
        const char *f = w->len[i] ? memmem(w->orig + q, lim - q, w->words[i], w->len[i]) : NULL;
        if (f)
            *pos = (size_t)(f - w->orig) + w->len[i];
    }
    *g = space;
    *gl = i ? 1 : 0;
}

void lm_view_ansi(lm_buf *out, const lm_view_words *w, int color)
{
    size_t pos = 0;
    int dim = 0;
    for (size_t i = 0; i < w->n; i++) {
        const char *g;
        size_t gl;
        gap(w, i, &pos, &g, &gl);
        if (!w->len[i]) { /* an empty word (XLM-R's lone "▁"): its gap only */
            lm_buf_add(out, g, gl);
            continue;
        }
        if (color && dim && w->keep[i]) {
            lm_buf_adds(out, "\033[22m");
            dim = 0;
        }
        lm_buf_add(out, g, gl);
        if (color && !dim && !w->keep[i]) {
            lm_buf_adds(out, "\033[2m");
            dim = 1;
        }
        lm_buf_add(out, w->words[i], w->len[i]);
    }
    if (dim)
        lm_buf_adds(out, "\033[22m");
    if (!out->n || out->p[out->n - 1] != '\n')
        lm_buf_addc(out, '\n');
}

void lm_view_html_escape(lm_buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '&': lm_buf_adds(out, "&amp;"); break;
        case '<': lm_buf_adds(out, "&lt;"); break;
        case '>': lm_buf_adds(out, "&gt;"); break;
        case '"': lm_buf_adds(out, "&quot;"); break;
        case '\'': lm_buf_adds(out, "&#39;"); break;
        default:
            if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7f)
                lm_buf_adds(out, "\xef\xbf\xbd");
            else
                lm_buf_addc(out, (char)ch);
        }
    }
}

void lm_view_heat(double p, char css[32])
{
    if (p != p) {
        css[0] = 0;
        return;
    }
    if (p < 0)
        p = 0;
    if (p > 1)
        p = 1;
    snprintf(css, 32, "hsl(%d,80%%,80%%)", (int)lround(240 * (1 - p)));
}

void lm_view_html_begin(lm_buf *out, const char *title)
{
    lm_buf_adds(out, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
                     "<meta charset=\"utf-8\"/>\n<title>");
    lm_view_html_escape(out, title, strlen(title));
    lm_buf_adds(out, "</title>\n<style type=\"text/css\">\n"
                     "body{font-family:sans-serif;margin:2em;max-width:60em;color:#222}\n"
                     "h2{font-size:1em;margin:1.5em 0 .3em 0;font-family:monospace}\n"
                     "div.t{white-space:pre-wrap;line-height:1.9;border:1px solid #ccc;padding:.5em}\n"
                     "span.k,span.lk{font-weight:bold}\n"
                     "span.d,span.ld{opacity:.55;text-decoration:line-through}\n"
                     "span.sw{display:inline-block;padding:0 .6em;margin-right:.3em;font-family:monospace}\n"
                     "</style>\n</head>\n<body>\n<h1>");
    lm_view_html_escape(out, title, strlen(title));
    lm_buf_adds(out,
                "</h1>\n<p>Kept words are <span class=\"lk\">bold</span>, dropped words "
                "<span class=\"ld\">struck through</span>; the background is the keep probability:</p>\n<p>");
    for (int i = 0; i <= 4; i++) {
        char css[32];
        lm_view_heat(i / 4.0, css);
        lm_buf_printf(out, "<span class=\"sw\" style=\"background-color:%s\">%.2f</span>", css, i / 4.0);
    }
    lm_buf_adds(out, "<span class=\"sw\">none</span></p>\n");
}

void lm_view_html_record(lm_buf *out, const char *where, const char *ratio, size_t origin_tokens,
                         size_t compressed_tokens, const lm_view_words *w)
{
    lm_buf_adds(out, "<h2>");
    lm_view_html_escape(out, where, strlen(where));
    lm_buf_adds(out, " \xe2\x80\x94 ratio ");
    lm_view_html_escape(out, ratio, strlen(ratio));
    lm_buf_printf(out, ", %zu \xe2\x86\x92 %zu tokens</h2>\n<div class=\"t\">", origin_tokens,
                  compressed_tokens);
    size_t pos = 0;
    for (size_t i = 0; i < w->n; i++) {
        const char *g;
        size_t gl;
        gap(w, i, &pos, &g, &gl);
        lm_view_html_escape(out, g, gl);
        double p = w->prob ? w->prob[i] : NAN;
        char css[32];
        lm_view_heat(p, css);
        lm_buf_printf(out, "<span class=\"%s\"", w->keep[i] ? "k" : "d");
        if (css[0])
            lm_buf_printf(out, " style=\"background-color:%s\" title=\"p=%.4f\"", css, p);
        lm_buf_addc(out, '>');
        lm_view_html_escape(out, w->words[i], w->len[i]);
        lm_buf_adds(out, "</span>");
    }
    lm_buf_adds(out, "</div>\n");
}

void lm_view_html_end(lm_buf *out)
{
    lm_buf_adds(out, "</body>\n</html>\n");
}

void lm_view_page_add(lm_view_page *p, uint64_t index, lm_buf *frag)
{
#pragma omp critical(lm_view_page)
    {
        if (p->n == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 16;
            p->f = lm_xrealloc(p->f, p->cap * sizeof *p->f);
        }
        p->f[p->n].index = index;
        p->f[p->n++].b = *frag;
    }
    memset(frag, 0, sizeof *frag);
}

static int frag_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct lm_view_frag *)a)->index, y = ((const struct lm_view_frag *)b)->index;
    return x < y ? -1 : x > y;
}

void lm_view_page_render(lm_view_page *p, const char *title, lm_buf *out)
{
    lm_view_html_begin(out, title);
    if (p->n)
        qsort(p->f, p->n, sizeof *p->f, frag_cmp);
    for (size_t i = 0; i < p->n; i++) {
        lm_buf_add(out, p->f[i].b.p, p->f[i].b.n);
        lm_buf_free(&p->f[i].b);
    }
    p->n = 0;
    lm_view_html_end(out);
}

void lm_view_page_free(lm_view_page *p)
{
    for (size_t i = 0; i < p->n; i++)
        lm_buf_free(&p->f[i].b);
    free(p->f);
    memset(p, 0, sizeof *p);
}
