/* test_lingua_output.c - an LLMLingua-2 result as lingua-compress writes it
 * (lingua/output.h): the JSON values of compressed_prompt_list, words and
 * token_probs, the labelled string, --view's text, the joined contexts and
 * the escaped comma lists. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lingua/output.h"
#include "tap.h"

/* A hand-made result: two kept contexts, three words (one without a
 * probability), two tokens. */
static void make(lm_lingua_result *r)
{
    static lm_buf list[2];
    static char w0[] = "The", w1[] = "c\"at", w2[] = "sat";
    static char *words[] = {w0, w1, w2};
    static size_t wl[] = {3, 4, 3};
    static uint8_t lab[] = {0, 1, 1};
    static double wp[3];
    static const char *toks[] = {"\xe2\x96\x81The", "cat"};
    static size_t tl[] = {6, 3};
    static float tp[] = {0.25f, 0.5f};
    memset(r, 0, sizeof *r);
    memset(list, 0, sizeof list);
    lm_buf_adds(&list[0], "c\"at");
    lm_buf_adds(&list[1], "sat\n");
    r->list = list;
    r->n_list = 2;
    lm_buf_adds(&r->prompt, "c\"at\n\nsat\n");
    r->origin_tokens = 12;
    r->compressed_tokens = 4;
    strcpy(r->ratio, "3.0x");
    wp[0] = 0.125, wp[1] = 0.75, wp[2] = NAN;
    r->n_words = 3, r->words = words, r->word_len = wl, r->labels = lab, r->word_probs = wp;
    r->n_tokens = 2, r->tokens = toks, r->token_len = tl, r->token_probs = tp;
}

static void t_fields(void)
{
    lm_lingua_result r;
    make(&r);
    lm_buf b = {0};
    lm_lingua_list_json(&b, &r);
    is_str(b.p, "[\"c\\\"at\",\"sat\\n\"]", "compressed_prompt_list: a JSON array of strings");
    lm_buf_reset(&b);
    lm_lingua_words_json(&b, &r);
    is_str(b.p,
           "[{\"word\":\"The\",\"prob\":0.125,\"keep\":false},{\"word\":\"c\\\"at\",\"prob\":0.75,\"keep\":"
           "true},"
           "{\"word\":\"sat\",\"prob\":null,\"keep\":true}]",
           "words: word, prob (null for NaN), keep");
    lm_buf_reset(&b);
    lm_lingua_tokens_json(&b, &r);
    is_str(b.p, "[{\"token\":\"\xe2\x96\x81The\",\"prob\":0.25},{\"token\":\"cat\",\"prob\":0.5}]",
           "token_probs: token and prob");
    lm_buf_reset(&b);
    lm_lingua_labelled(&b, &r, NULL, NULL);
    is_str(b.p, "The 0\t\t|\t\tc\"at 1\t\t|\t\tsat 1", "labelled: the reference's separators");
    lm_buf_reset(&b);
    lm_lingua_labelled(&b, &r, ";", "=");
    is_str(b.p, "The=0;c\"at=1;sat=1", "labelled: given separators");
    lm_lingua_result e = {0};
    lm_buf_reset(&b);
    lm_lingua_list_json(&b, &e), lm_lingua_words_json(&b, &e), lm_lingua_tokens_json(&b, &e);
    lm_lingua_labelled(&b, &e, NULL, NULL);
    is_str(b.p, "[][][]", "an empty result: empty arrays, empty labels");
    lm_buf_free(&b);
    lm_buf_free(&r.prompt), lm_buf_free(&r.list[0]), lm_buf_free(&r.list[1]);
}

static void t_view(void)
{
    lm_lingua_result r;
    make(&r);
    const char *cx[] = {"The c\"at", "sat"};
    size_t cl[] = {8, 3};
    lm_buf orig = {0}, b = {0};
    lm_lingua_join(&orig, cx, cl, 2);
    is_str(orig.p, "The c\"at\n\nsat", "contexts joined by a blank line");
    lm_view_words w = lm_lingua_view_words(&r, orig.p, orig.n);
    ok(w.n == 3 && w.keep == r.labels && w.prob == r.word_probs && w.orig == orig.p && w.orig_len == 13,
       "view words point into the result");
    lm_lingua_view_text(&b, "f.jsonl:2", &r, &w, 0);
    is_str(b.p, "==> f.jsonl:2: ratio 3.0x, 12 -> 4 tokens <==\nc\"at\n\nsat\n\n",
           "view: header, then the prompt");
    lm_buf_reset(&b);
    lm_lingua_view_text(&b, "x", &r, &w, 1);
    is_str(b.p, "==> x: ratio 3.0x, 12 -> 4 tokens <==\n\033[2mThe\033[22m c\"at\n\nsat\n",
           "view with color: the original words, the dropped dimmed");
    lm_buf_free(&b), lm_buf_free(&orig);
    lm_buf_free(&r.prompt), lm_buf_free(&r.list[0]), lm_buf_free(&r.list[1]);
}

static void t_split(void)
{
    char **s, err[256];
    size_t *l, n;
    ok(!lm_lingua_split_list("a,\\n,\\t,\\,,\\\\,", &s, &l, &n, err, sizeof err) && n == 6, "six items");
    if (n == 6) {
        ok(!strcmp(s[0], "a") && !strcmp(s[1], "\n") && !strcmp(s[2], "\t") && !strcmp(s[3], ",") &&
               !strcmp(s[4], "\\") && l[5] == 0,
           "escapes \\n \\t \\, \\\\ and an empty last item");
        for (size_t i = 0; i < n; i++)
            free(s[i]);
        free(s), free(l);
    } else {
        ok(0, "escapes");
    }
    ok(!lm_lingua_split_list("", &s, &l, &n, err, sizeof err) && n == 0 && !s && !l, "empty arg: no items");
    ok(lm_lingua_split_list("a,b\\", &s, &l, &n, err, sizeof err) == -1 && n == 0 && !s && !l,
       "trailing backslash fails, nothing kept");
    is_str(err, "trailing backslash (write \\\\ for a backslash)", "its message");
    ok(lm_lingua_split_list("a,\\x", &s, &l, &n, err, sizeof err) == -1 && n == 0, "unknown escape fails");
    is_str(err, "unknown escape '\\x' (use \\n, \\t, \\, or \\\\)", "its message");
}

int main(void)
{
    t_fields();
    t_view();
    t_split();
    return tap_done();
}
