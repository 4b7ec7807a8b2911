/* test_align.c - lib/lingua/align.c: LLMLingua-2's word annotation and
 * chunk filter against tests/golden/align_golden.py (identical labels,
 * counts and doubles), hand cases of the window search, lm_py_lower, the
 * word spans against lm_lingua_compress's words, and keep-span labels.
 * The golden is bundled compressed; make fixtures unpacks it into $BUILD
 * (default "build"). */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "core/diag.h"
#include "lingua/align.h"
#include "lingua/model.h"
#include "tap.h"

static lm_text *words_of(json_t *a, size_t *n)
{
    *n = json_array_size(a);
    lm_text *w = lm_xmalloc(lm_xmul(*n + 1, sizeof *w));
    for (size_t i = 0; i < *n; i++) {
        json_t *s = json_array_get(a, i);
        w[i].s = json_string_value(s);
        w[i].n = json_string_length(s);
    }
    return w;
}

static double *reals_of(json_t *a, size_t *n)
{
    *n = json_array_size(a);
    double *v = lm_xmalloc(lm_xmul(*n + 1, sizeof *v));
    for (size_t i = 0; i < *n; i++)
        v[i] = json_number_value(json_array_get(a, i));
    return v;
}

/* 0 when st matches the golden's stats object exactly; else names the field. */
static const char *stats_diff(const lm_align_stats *st, json_t *g)
{
#define INT_F(f)                                                                   \
    if ((long long)st->f != (long long)json_integer_value(json_object_get(g, #f))) \
        return #f;
#define DBL_F(f)                                               \
    if (!(st->f == json_number_value(json_object_get(g, #f)))) \
        return #f;
    INT_F(n_orig)
    INT_F(n_comp)
    INT_F(n_find)
    INT_F(n_kept)
    DBL_F(comp_rate)
    DBL_F(find_rate)
    DBL_F(variation_rate)
    DBL_F(hitting_rate)
    DBL_F(matching_rate)
    DBL_F(alignment_gap)
#undef INT_F
#undef DBL_F
    return NULL;
}

static void check_golden(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        ok(0, "golden %s missing (make fixtures unpacks testdata/golden/align/align.jsonl.xz)", path);
        return;
    }
    size_t pairs = 0, runs = 0, bad_runs = 0, filters = 0, bad_filters = 0, w150 = 0, w400 = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, fp)) > 0) {
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)got, 0, &je);
        if (!j) {
            ok(0, "%s: %s", path, je.text);
            break;
        }
        json_t *fl = json_object_get(j, "filter");
        if (fl) {
            size_t nv, ng;
            double *v = reals_of(json_object_get(fl, "variation"), &nv);
            double *g = reals_of(json_object_get(fl, "gap"), &ng);
            lm_align_stats *st = lm_xcalloc(nv + 1, sizeof *st);
            for (size_t i = 0; i < nv; i++) {
                st[i].variation_rate = v[i];
                st[i].alignment_gap = g[i];
            }
            uint8_t *keep = lm_xmalloc(nv + 1);
            size_t kept = lm_align_filter(st, nv, keep);
            const char *want = json_string_value(json_object_get(fl, "keep"));
            size_t wk = 0, diff = strlen(want) != nv;
            for (size_t i = 0; i < nv && !diff; i++) {
                diff |= keep[i] != (uint8_t)(want[i] - '0');
                wk += want[i] == '1';
            }
            diff |= kept != wk;
            filters++;
            if (diff) {
                bad_filters++;
                printf("# filter \"%s\" differs\n", json_string_value(json_object_get(fl, "name")));
            }
            free(keep);
            free(st);
            free(v);
            free(g);
            json_decref(j);
            continue;
        }
        size_t no, nc;
        lm_text *o = words_of(json_object_get(j, "orig"), &no);
        lm_text *c = words_of(json_object_get(j, "comp"), &nc);
        uint8_t *lab = lm_xmalloc(no + 1);
        json_t *jr = json_object_get(j, "runs");
        for (size_t r = 0; r < json_array_size(jr); r++) {
            json_t *run = json_array_get(jr, r);
            size_t win = (size_t)json_integer_value(json_object_get(run, "window"));
            w150 += win == 150;
            w400 += win == 400;
            lm_align_stats st;
            lm_align_label(o, no, c, nc, win, lab, &st);
            const char *want = json_string_value(json_object_get(run, "labels"));
            const char *why = strlen(want) != no ? "label count" : NULL;
            for (size_t i = 0; i < no && !why; i++)
                if (lab[i] != (uint8_t)(want[i] - '0'))
                    why = "labels";
            if (!why)
                why = stats_diff(&st, json_object_get(run, "stats"));
            runs++;
            if (why) {
                if (bad_runs++ < 10)
                    printf("# %s window %zu: %s differ\n", json_string_value(json_object_get(j, "src")), win,
                           why);
            }
        }
        pairs++;
        free(lab);
        free(o);
        free(c);
        json_decref(j);
    }
    free(line);
    fclose(fp);
    ok(pairs >= 200 && w150 >= 200 && w400 >= 200, "golden: %zu pairs (%zu runs at W=150, %zu at W=400)",
       pairs, w150, w400);
    ok(runs > 0 && bad_runs == 0, "golden: labels, counts and statistics identical in %zu runs (%zu differ)",
       runs, bad_runs);
    ok(filters >= 40 && bad_filters == 0, "golden: filter keep masks identical in %zu cases (%zu differ)",
       filters, bad_filters);
}

static lm_text T(const char *s)
{
    lm_text t = {s, strlen(s)};
    return t;
}

static void hand_cases(void)
{
    /* the forward match beyond h = W/2 advances prev by h only */
    {
        lm_text o[8], c[2];
        const char *ow[8] = {"x", "a", "b", "c", "d", "y", "z", "y"};
        for (int i = 0; i < 8; i++)
            o[i] = T(ow[i]);
        c[0] = T("y"); /* at 5, window 4: not reached (i < 4) */
        c[1] = T("Z");
        uint8_t lab[8];
        lm_align_stats st;
        lm_align_label(o, 8, c, 2, 4, lab, &st);
        ok(lab[5] == 0 && lab[7] == 0 && lab[6] == 0 && st.n_kept == 0 && st.n_find == 2,
           "window 4: words 5+ positions ahead are not reached; both still count as found");
        lm_align_label(o, 8, c, 2, 12, lab, &st);
        /* W=12, h=6: y found at 5 (jump 5 <= 6: prev = 5), Z at 6 */
        ok(lab[5] && lab[6] && !lab[7] && st.n_kept == 2,
           "window 12: y at 5, then Z at 6 case-insensitively");
        c[0] = T("y");
        c[1] = T("y");
        lm_align_label(o, 8, c, 2, 8, lab, &st);
        /* W=8, h=4: y at 5 (jump 5 > 4: prev = 4); next y: forward from 4 finds 5 labelled, 6 no, 7 yes */
        ok(lab[5] && lab[7] && st.n_kept == 2,
           "window 8: a jump past W/2 moves prev by W/2, the next search goes on");
    }
    /* commas are skipped on both sides and labelled 0 */
    {
        lm_text o[4] = {T(","), T("a"), T(","), T("b")}, c[3] = {T(","), T("b"), T("A")};
        uint8_t lab[4];
        lm_align_stats st;
        lm_align_label(o, 4, c, 3, LM_ALIGN_WINDOW, lab, &st);
        ok(!lab[0] && lab[1] && !lab[2] && lab[3] && st.n_orig == 2 && st.n_comp == 2 &&
               st.matching_rate == 1.0,
           "',' is skipped in both lists and labelled 0");
        lm_align_label(o, 4, c, 3, LM_ALIGN_WINDOW, lab, NULL);
        ok(lab[1] && lab[3], "stats may be NULL");
    }
    /* empty lists */
    {
        lm_text c[1] = {T("a")}, o[1] = {T("a")};
        uint8_t lab[1] = {7};
        lm_align_stats st;
        lm_align_label(NULL, 0, c, 1, LM_ALIGN_WINDOW, lab, &st);
        ok(st.comp_rate == 0 && st.find_rate == 0 && st.variation_rate == 1 && st.alignment_gap == 0,
           "no original words: rates 0, variation 1");
        lm_align_label(o, 1, NULL, 0, LM_ALIGN_WINDOW, lab, &st);
        ok(lab[0] == 0 && st.find_rate == 0 && st.variation_rate == 1 && st.comp_rate == 0,
           "no compressed words: nothing kept, variation 1");
    }
    /* filter ties: everything at the threshold is dropped */
    {
        lm_align_stats st[3] = {{0}};
        uint8_t keep[3];
        for (int i = 0; i < 3; i++)
            st[i].variation_rate = 0.5;
        ok(lm_align_filter(st, 3, keep) == 0 && !keep[0] && !keep[1] && !keep[2],
           "filter: equal variation rates are all at the 90th percentile and dropped");
        ok(lm_align_filter(st, 0, keep) == 0, "filter: no chunks");
    }
}

static void lower_cases(void)
{
    static const struct {
        const char *in, *want;
    } c[] = {
        {"HeLLo", "hello"},
        {"\xce\x9f\xce\x94\xce\x9f\xce\xa3", "\xce\xbf\xce\xb4\xce\xbf\xcf\x82"}, /* ΟΔΟΣ -> οδος (final ς) */
        {"\xce\xa3", "\xcf\x83"},                                                 /* lone Σ -> σ */
        {"\xc4\xb0x", "i\xcc\x87x"},                                              /* İx -> i̇x */
        {"\xe2\x84\xaa", "k"},                                                    /* Kelvin sign */
        {"STRA\xc3\x9f"
         "E",
         "stra\xc3\x9f"
         "e"},
        {"a\xff"
         "B",
         "a\xff"
         "b"}, /* an invalid byte is kept */
    };
    size_t bad = 0;
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        size_t n;
        char *l = lm_py_lower(c[i].in, strlen(c[i].in), &n);
        if (n != strlen(c[i].want) || memcmp(l, c[i].want, n)) {
            printf("# lower(\"%s\") = \"%s\"\n", c[i].in, l);
            bad++;
        }
        free(l);
    }
    ok(bad == 0, "lm_py_lower: Python's str.lower() (final sigma, dotted I, Kelvin, sharp s, invalid bytes)");
}

static void span_labels(void)
{
    /* "ab cdé fg": words [0,2) [3,7) (é is 2 bytes) [8,10); characters: c=3 d=4 é=5 */
    const char *text = "ab cd\xc3\xa9 fg";
    size_t words[3][2] = {{0, 2}, {3, 7}, {8, 10}};
    size_t keep1[2][2] = {{1, 2}, {4, 6}}; /* half of ab, 2/3 of cdé */
    uint8_t lab[3];
    char err[256];
    ok(lm_align_span_labels(text, strlen(text), (const size_t(*)[2])words, 3, (const size_t(*)[2])keep1, 2,
                            lab, err, sizeof err) == 0 &&
           lab[0] == 1 && lab[1] == 1 && lab[2] == 0,
       "keep spans: a word at least half inside is kept (character offsets)");
    size_t keep2[1][2] = {{5, 9}}; /* é, space, f */
    ok(lm_align_span_labels(text, strlen(text), (const size_t(*)[2])words, 3, (const size_t(*)[2])keep2, 1,
                            lab, err, sizeof err) == 0 &&
           lab[0] == 0 && lab[1] == 0 && lab[2] == 1,
       "keep spans: 1 of 3 characters is not enough, 1 of 2 is");
    size_t bad[1][2] = {{2, 10}};
    ok(lm_align_span_labels(text, strlen(text), (const size_t(*)[2])words, 3, (const size_t(*)[2])bad, 1, lab,
                            err, sizeof err) == -1 &&
           strstr(err, "9 characters"),
       "keep spans past the text are an error: %s", err);
}

/* The spans' words are the words lm_lingua_compress reports. */
static void word_spans(const char *dir)
{
    char err[512];
    lm_lingua_encoder le;
    if (lm_lingua_encoder_load(&le, dir, -1, 0, err, sizeof err)) {
        ok(0, "load %s: %s", dir, err);
        return;
    }
    lm_lingua_force f;
    static const char *const ends[2] = {".", "\n"};
    static const size_t ends_len[2] = {1, 1};
    if (lm_lingua_force_build(&f, &le.m, NULL, NULL, 0, ends, ends_len, 2, err, sizeof err)) {
        ok(0, "force map: %s", err);
        lm_lingua_encoder_free(&le);
        return;
    }
    lm_lingua_counter k;
    lm_lingua_counter_init(&k, NULL, le.tok);
    static const char *const texts[] = {
        "Hello, world! Don't re-run the tests (twice) at 3.14pm; e-mail bob@example.com.",
        "  Leading spaces,and commas,,,  unknownwordxyzzy\tTabs\nnew lines... A.B.C",
        "Café naïve résumé ΟΔΟΣ 東京 😀 done.",
    };
    size_t bad = 0;
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        const char *s = texts[t];
        size_t n = strlen(s);
        lm_lingua_opts o;
        lm_lingua_opts_default(&o);
        o.want_words = 1;
        lm_lingua_result r;
        const char *cx[1] = {s};
        size_t cl[1] = {n};
        if (lm_lingua_compress(&le.m, &f, &o, cx, cl, 1, lm_lingua_count, &k, lm_lingua_encoder_probs, &le,
                               &r, err, sizeof err)) {
            ok(0, "compress: %s", err);
            continue;
        }
        size_t(*sp)[2], nw;
        if (lm_align_word_spans(&le.m, s, n, &sp, &nw, err, sizeof err)) {
            ok(0, "word spans: %s", err);
            lm_lingua_result_free(&r);
            continue;
        }
        int same = nw == r.n_words;
        /* text 3 has pieces the tiny vocabularies lack: the counts only */
        for (size_t i = 0; same && t < 2 && i < nw; i++) {
            /* the words as the tokenizer normalises them: compare lower-cased */
            size_t a, b;
            char *x = lm_py_lower(s + sp[i][0], sp[i][1] - sp[i][0], &a);
            char *y = lm_py_lower(r.words[i], r.word_len[i], &b);
            if (a != b || memcmp(x, y, a)) {
                printf("# %s text %zu word %zu: span \"%s\", compress \"%s\"\n", dir, t + 1, i, x, y);
                same = 0;
            }
            free(x);
            free(y);
        }
        if (!same) {
            printf("# %s text %zu: %zu spans, %zu words\n", dir, t + 1, nw, r.n_words);
            bad++;
        }
        free(sp);
        lm_lingua_result_free(&r);
    }
    ok(bad == 0, "%s: word spans give lm_lingua_compress's words", dir);
    {
        size_t(*sp)[2], nw;
        ok(lm_align_word_spans(&le.m, "", 0, &sp, &nw, err, sizeof err) == 0 && nw == 0 && sp == NULL,
           "%s: an empty text has no words", dir);
        ok(lm_align_word_spans(&le.m, "a\xff", 2, &sp, &nw, err, sizeof err) == -1, "%s: invalid UTF-8: %s",
           dir, err);
    }
    lm_lingua_counter_free(&k);
    lm_lingua_force_free(&f);
    lm_lingua_encoder_free(&le);
}

int main(void)
{
    hand_cases();
    lower_cases();
    span_labels();
    word_spans("testdata/models/tiny-bert");
    word_spans("testdata/models/tiny-xlmr");
    const char *build = getenv("BUILD");
    char path[512];
    snprintf(path, sizeof path, "%s/testdata/golden/align/align.jsonl", build && *build ? build : "build");
    check_golden(path);
    return tap_done();
}
