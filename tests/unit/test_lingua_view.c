/* test_lingua_view.c - the LLMLingua-2 pictures (lingua/view.h): spacing
 * taken from the original text, SGR 2/22 around dropped runs, HTML
 * escaping, one element per word, the heat colour. */
#include <math.h>
#include <string.h>

#include "lingua/view.h"
#include "tap.h"

static size_t count(const char *s, const char *pat)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, pat)); p += strlen(pat))
        n++;
    return n;
}

int main(void)
{
    const char *words[] = {"The", "cat", "", "sat", ",", "<&>"};
    size_t len[] = {3, 3, 0, 3, 1, 3};
    uint8_t keep[] = {0, 1, 0, 0, 0, 1};
    double prob[] = {0.1, 0.9, NAN, 0.2, 0.3, 1.0};
    const char *orig = "The  cat\nsat, <&>\n";
    lm_view_words w = {6, words, len, keep, prob, orig, strlen(orig)};
    lm_buf b = {0};

    lm_view_ansi(&b, &w, 0);
    is_str(b.p, "The  cat\nsat, <&>\n", "plain view reproduces the original spacing");
    lm_buf_reset(&b);
    lm_view_ansi(&b, &w, 1);
    is_str(b.p, "\033[2mThe\033[22m  cat\n\033[2msat,\033[22m <&>\n", "dropped runs in SGR 2 ... SGR 22");

    lm_view_words nw = w;
    nw.orig = NULL;
    lm_buf_reset(&b);
    lm_view_ansi(&b, &nw, 0);
    is_str(b.p, "The cat  sat , <&>\n", "without the original: one space between words");

    const char *bad = "The cat sat\x01, <&>";
    lm_view_words bw = w;
    bw.orig = bad;
    bw.orig_len = strlen(bad);
    lm_buf_reset(&b);
    lm_view_ansi(&b, &bw, 0);
    is_str(b.p, "The cat sat , <&>\n", "a character missing from the words resynchronises");

    lm_buf_reset(&b);
    lm_view_html_escape(&b, "a<b>&\"'\x01\n", 9);
    is_str(b.p, "a&lt;b&gt;&amp;&quot;&#39;\xef\xbf\xbd\n", "HTML escaping");

    lm_buf_reset(&b);
    lm_view_html_begin(&b, "t<");
    lm_view_html_record(&b, "f:1", "2.0x", 10, 5, &w);
    lm_view_html_end(&b);
    is_int((long long)count(b.p, "<span class=\"k\""), 2, "two kept word elements");
    is_int((long long)count(b.p, "<span class=\"d\""), 4, "four dropped word elements");
    ok(strstr(b.p, "&lt;&amp;&gt;</span>") != NULL, "word text escaped");
    ok(strstr(b.p, "<title>t&lt;</title>") != NULL, "title escaped");
    ok(strstr(b.p, "<span class=\"d\"></span>") != NULL, "a NaN probability has no heat");

    char css[32];
    lm_view_heat(0, css);
    is_str(css, "hsl(240,80%,80%)", "heat 0 is blue");
    lm_view_heat(2, css);
    is_str(css, "hsl(0,80%,80%)", "heat clamps to red");
    lm_view_heat(NAN, css);
    is_str(css, "", "no heat for NaN");

    /* the page: fragments added out of order come out by record index */
    lm_view_page pg = {0};
    const char *fr[] = {"<p>two</p>", "<p>zero</p>", "<p>one</p>"};
    uint64_t ix[] = {2, 0, 1};
    for (int i = 0; i < 3; i++) {
        lm_buf f = {0};
        lm_buf_adds(&f, fr[i]);
        lm_view_page_add(&pg, ix[i], &f);
        ok(f.p == NULL && f.n == 0, "page_add takes fragment %d", i);
    }
    lm_buf_reset(&b);
    lm_view_page_render(&pg, "p", &b);
    const char *z = strstr(b.p, "<p>zero</p>"), *o = strstr(b.p, "<p>one</p>"),
               *t = strstr(b.p, "<p>two</p>");
    ok(z && o && t && z < o && o < t, "page lists the fragments by record index");
    ok(strstr(b.p, "<title>p</title>") != NULL && strstr(b.p, "</html>\n") != NULL,
       "page has its head and end");
    ok(pg.n == 0, "render empties the page");
    lm_view_page_free(&pg);
    lm_buf_free(&b);
    return tap_done();
}
