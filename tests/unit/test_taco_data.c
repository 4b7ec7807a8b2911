/* test_taco_data.c - taco-train's training data (lib/taco/data.h): a
 * record's words and labels in each of the three forms and every refusal
 * with its position and message; the token windows of words on a window of
 * 6 (4 word tokens) with the model's own ends, the label on every sub-word,
 * the break at a word boundary, a word longer than a window split over
 * windows, empty words dropped, record indices and label counts.  Needs
 * testdata/models/tiny-bert and tiny-xlmr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonl.h"
#include "taco/data.h"
#include "tap.h"

static lm_record rec(const char *line)
{
    lm_record r = {.file = "t.jsonl", .lineno = 1, .index = 0, .text = line, .len = strlen(line)};
    lm_jerr e;
    if (lm_json_scan_object(&r.scan, line, r.len, &e) < 0)
        abort();
    return r;
}

/* the words of w as "word/label word/label ..." */
static const char *words_str(const lm_taco_words *w)
{
    static char s[1024];
    size_t n = 0;
    s[0] = 0;
    for (size_t i = 0; i < w->n && n < sizeof s; i++)
        n += (size_t)snprintf(s + n, sizeof s - n, "%s%.*s/%d", i ? " " : "", (int)(w->w[i][1] - w->w[i][0]),
                              w->text.p + w->w[i][0], w->label[i]);
    return s;
}

/* record line -> LM_REC_OK and the words "word/label ..." */
static void good(const lm_taco_text *t, const char *line, const char *want, int aligned, const char *what)
{
    lm_record r = rec(line);
    lm_taco_words w = {0};
    lm_rerr e = {0};
    int rc = lm_taco_record_words(t, &r, &w, &e);
    ok(rc == LM_REC_OK && w.aligned == aligned, "%s: accepted%s", what, aligned ? ", aligned" : "");
    if (rc != LM_REC_OK)
        diag("refused: %s", e.msg.p ? e.msg.p : "");
    is_str(words_str(&w), want, "%s: words and labels", what);
    lm_taco_words_free(&w);
    lm_rerr_free(&e);
    lm_jscan_free(&r.scan);
}

/* record line -> LM_REC_BAD at byte pos (LM_NOPOS: none) with message msg */
static void bad(const lm_taco_text *t, const char *line, size_t pos, const char *msg, const char *what)
{
    lm_record r = rec(line);
    lm_taco_words w = {0};
    lm_rerr e = {0};
    int rc = lm_taco_record_words(t, &r, &w, &e);
    ok(rc == LM_REC_BAD && e.pos == pos, "%s: refused at %s", what,
       pos == LM_NOPOS ? "no position" : "its field");
    if (e.pos != pos)
        diag("pos %zd, want %zd", (ssize_t)e.pos, (ssize_t)pos);
    is_str(e.msg.p, msg, "%s: message", what);
    lm_taco_words_free(&w);
    lm_rerr_free(&e);
    lm_jscan_free(&r.scan);
}

/* the byte offset of the first occurrence of s in line (a member's value) */
static size_t at(const char *line, const char *s)
{
    const char *p = strstr(line, s);
    if (!p)
        abort();
    return (size_t)(p - line);
}

static void t_forms(const lm_taco_text *t)
{
    good(t, "{\"words\":[\"the\",\"cat\",\"sat\"],\"labels\":[1,0,1]}", "the/1 cat/0 sat/1", 0,
         "words and labels 0/1");
    good(t, "{\"words\":[\"a\",\"b\",\"c\",\"d\"],\"labels\":[true,false,1.0,0.0]}", "a/1 b/0 c/1 d/0", 0,
         "labels true/false and 1.0/0.0");
    good(t, "{\"words\":[\"a\\tb\",\"\\u00e9\",\"\"],\"labels\":[1,1,0]}", "a\tb/1 \xc3\xa9/1 /0", 0,
         "words decoded, an empty word kept");
    good(t, "{\"words\":[],\"labels\":[]}", "", 0, "no words");
    good(t, "{\"origin\":\"the cat sat on the mat.\",\"compressed\":\"cat mat\"}",
         "the/0 cat/1 sat/0 on/0 the/0 mat/1 ./0", 1, "origin and compressed");
    good(t, "{\"origin\":\"\",\"compressed\":\"x\"}", "", 1, "an empty origin");
    good(t, "{\"text\":\"\\u00e9 cat, sat\",\"keep_spans\":[[2,5]]}", "\xc3\xa9/0 cat/1 ,/0 sat/0", 0,
         "text and keep_spans in characters");
    good(t, "{\"text\":\"ab cd\",\"keep_spans\":[[0,1]]}", "ab/1 cd/0", 0, "half a word is kept");
    good(t, "{\"text\":\"ab cd\",\"keep_spans\":[]}", "ab/0 cd/0", 0, "no spans: nothing kept");
    good(t, "{\"words\":[\"w\"],\"labels\":[1],\"origin\":\"o\",\"compressed\":\"o\",\"text\":\"t\"}", "w/1",
         0, "words come first");
    good(t, "{\"origin\":\"a b\",\"compressed\":\"b\",\"text\":\"t\",\"keep_spans\":[]}", "a/0 b/1", 1,
         "origin comes before text");

    /* one words struct reused: reset between records */
    lm_taco_words w = {0};
    lm_rerr e = {0};
    lm_record r = rec("{\"origin\":\"a b c\",\"compressed\":\"b\"}");
    ok(lm_taco_record_words(t, &r, &w, &e) == LM_REC_OK && w.n == 3 && w.aligned == 1 && w.st.comp_rate > 0,
       "aligned with statistics");
    lm_jscan_free(&r.scan);
    r = rec("{\"words\":[\"x\"],\"labels\":[0]}");
    ok(lm_taco_record_words(t, &r, &w, &e) == LM_REC_OK && w.n == 1 && w.aligned == 0 && w.text.n == 1 &&
           w.st.comp_rate == 0,
       "a reused words struct starts over");
    is_str(words_str(&w), "x/0", "a reused words struct: only the new words");
    lm_jscan_free(&r.scan);
    lm_taco_words_free(&w);
    lm_rerr_free(&e);
}

static void t_errors(const lm_taco_text *t)
{
    const char *l;
    /* no form */
    lm_record r = rec("{\"prompt\":\"x\"}");
    lm_taco_words w = {0};
    lm_rerr e = {0};
    ok(lm_taco_record_words(t, &r, &w, &e) == LM_REC_BAD && e.pos == LM_NOPOS && e.hint.n > 0 &&
           strstr(e.hint.p, "\"keep_spans\""),
       "no labels: refused with a hint naming the forms");
    is_str(e.msg.p, "no training labels in this record", "no labels: message");
    lm_jscan_free(&r.scan);
    lm_rerr_free(&e);
    lm_taco_words_free(&w);

    /* words and labels */
    bad(t, "{\"words\":[\"a\"]}", LM_NOPOS,
        "\"labels\" is missing: a record with \"words\" needs \"labels\" too", "words without labels");
    l = "{\"words\":\"a b\",\"labels\":[1]}";
    bad(t, l, at(l, "\"a b\""), "\"words\" must be an array of strings, not a string", "words a string");
    l = "{\"words\":[\"a\"],\"labels\":7}";
    bad(t, l, at(l, "7"), "\"labels\" must be an array, not a number", "labels a number");
    l = "{\"words\":[\"a\",\"b\"],\"labels\":[1]}";
    bad(t, l, at(l, "[1]"), "\"labels\" has 1 entries but \"words\" 2: one label per word",
        "one label short");
    l = "{\"words\":[\"a\",3],\"labels\":[1,0]}";
    bad(t, l, at(l, "[\"a\""), "\"words\"[1] must be a string", "a word not a string");
    l = "{\"words\":[\"a\",\"b\"],\"labels\":[1,2]}";
    bad(t, l, at(l, "[1,2]"), "\"labels\"[1] must be 0, 1, true or false", "a label of 2");
    l = "{\"words\":[\"a\"],\"labels\":[0.5]}";
    bad(t, l, at(l, "[0.5]"), "\"labels\"[0] must be 0, 1, true or false", "a label of 0.5");
    l = "{\"words\":[\"a\"],\"labels\":[\"1\"]}";
    bad(t, l, at(l, "[\"1\"]"), "\"labels\"[0] must be 0, 1, true or false", "a label string");
    l = "{\"words\":[\"a\"],\"labels\":[null]}";
    bad(t, l, at(l, "[null]"), "\"labels\"[0] must be 0, 1, true or false", "a label null");
    l = "{\"words\":[\"a\"],\"labels\":[1e400]}";
    bad(t, l, at(l, "[1e400]"), "\"labels\": real number overflow near '1e400'",
        "a label jansson cannot read");
    l = "{\"words\":[\"a\"],\"labels\":[18446744073709551615]}";
    bad(t, l, at(l, "[1844"), "\"labels\": too big integer near '18446744073709551615'", "a label too big");

    /* origin and compressed */
    bad(t, "{\"origin\":\"a\"}", LM_NOPOS,
        "\"compressed\" is missing: a record with \"origin\" needs \"compressed\" too", "origin alone");
    l = "{\"origin\":[\"a\"],\"compressed\":\"a\"}";
    bad(t, l, at(l, "[\"a\"]"), "\"origin\" must be a string, not an array", "origin an array");
    l = "{\"origin\":\"a\",\"compressed\":1}";
    bad(t, l, at(l, "1}"), "\"compressed\" must be a string, not a number", "compressed a number");

    /* text and keep_spans */
    bad(t, "{\"text\":\"a\"}", LM_NOPOS,
        "\"keep_spans\" is missing: a record with \"text\" needs \"keep_spans\" too", "text alone");
    l = "{\"text\":{},\"keep_spans\":[]}";
    bad(t, l, at(l, "{}"), "\"text\" must be a string, not an object", "text an object");
    l = "{\"text\":\"a\",\"keep_spans\":\"0-1\"}";
    bad(t, l, at(l, "\"0-1\""), "\"keep_spans\" must be an array, not a string", "keep_spans a string");
    l = "{\"text\":\"ab cd\",\"keep_spans\":[[0,1],[2]]}";
    bad(t, l, at(l, "[[0"), "\"keep_spans\"[1] must be [start, end], two character offsets >= 0",
        "a span of one offset");
    l = "{\"text\":\"ab cd\",\"keep_spans\":[[0,-1]]}";
    bad(t, l, at(l, "[[0"), "\"keep_spans\"[0] must be [start, end], two character offsets >= 0",
        "a negative offset");
    l = "{\"text\":\"ab cd\",\"keep_spans\":[[0,1.5]]}";
    bad(t, l, at(l, "[[0"), "\"keep_spans\"[0] must be [start, end], two character offsets >= 0",
        "a fractional offset");
    l = "{\"text\":\"ab cd\",\"keep_spans\":[[0,1,2]]}";
    bad(t, l, at(l, "[[0"), "\"keep_spans\"[0] must be [start, end], two character offsets >= 0",
        "a span of three offsets");
    l = "{\"text\":\"ab cd\",\"keep_spans\":[3]}";
    bad(t, l, at(l, "[3]"), "\"keep_spans\"[0] must be [start, end], two character offsets >= 0",
        "a span that is a number");
    l = "{\"text\":\"ab cd\",\"keep_spans\":[[3,9]]}";
    bad(t, l, at(l, "[[3"), "\"keep_spans\": keep span 1 [3, 9] is not a range of the text's 5 characters",
        "a span past the text");
    l = "{\"text\":\"ab cd\",\"keep_spans\":[[3,2]]}";
    bad(t, l, at(l, "[[3"), "\"keep_spans\": keep span 1 [3, 2] is not a range of the text's 5 characters",
        "a span backwards");
}

/* ---- windows ---- */

/* words from "word/label" pairs */
static void mkwords(lm_taco_words *w, const char *const *ws, const int *labels, size_t n)
{
    lm_taco_words_free(w);
    w->w = calloc(n + 1, sizeof *w->w);
    w->label = calloc(n + 1, 1);
    w->n = w->cap = n;
    for (size_t i = 0; i < n; i++) {
        w->w[i][0] = w->text.n;
        lm_buf_adds(&w->text, ws[i]);
        w->w[i][1] = w->text.n;
        w->label[i] = (uint8_t)labels[i];
    }
}

static int32_t id(const lm_taco_text *t, const char *tok)
{
    int32_t i = lm_tokenizer_id(t->tok, tok, strlen(tok));
    if (i < 0) {
        diag("token %s not in the vocabulary", tok);
        abort();
    }
    return i;
}

/* window k of d is ids[0..n) with labels lab[0..n) from record r */
static void is_window(const lm_taco_windows *d, size_t k, const int32_t *ids, const int32_t *lab, size_t n,
                      uint64_t r, const char *what)
{
    int c = k < d->nwin && d->off[k + 1] - d->off[k] == n && d->rec[k] == r;
    for (size_t i = 0; c && i < n; i++)
        c = d->ids[d->off[k] + i] == ids[i] && d->labels[d->off[k] + i] == lab[i];
    ok(c, "%s", what);
    if (!c && k < d->nwin) {
        printf("#   got  rec %llu:", (unsigned long long)d->rec[k]);
        for (size_t i = d->off[k]; i < d->off[k + 1]; i++)
            printf(" %d/%d", d->ids[i], d->labels[i]);
        printf("\n#   want rec %llu:", (unsigned long long)r);
        for (size_t i = 0; i < n; i++)
            printf(" %d/%d", ids[i], lab[i]);
        printf("\n");
    }
}

#define N(a) (sizeof(a) / sizeof *(a))
#define X (-100)

static void t_windows_bert(const lm_taco_text *t)
{
    const int32_t C = id(t, "[CLS]"), S = id(t, "[SEP]");
    ok(t->cls == C && t->sep == S && t->max_len == 6, "BERT: ends [CLS] %d and [SEP] %d, max_len 6", C, S);
    const int32_t the = id(t, "the"), on = id(t, "on"), mat = id(t, "mat"), c = id(t, "c"),
                  at_ = id(t, "##at"), He = id(t, "He"), l = id(t, "##l"), o = id(t, "##o"),
                  comma = id(t, ",");
    lm_taco_windows d = {0};
    lm_taco_words w = {0};
    char err[256];

    /* record 0: the/1 cat/0 on/1: 4 tokens, exactly one window, the label on both pieces of cat */
    mkwords(&w, (const char *[]){"the", "cat", "on"}, (const int[]){1, 0, 1}, 3);
    ok(lm_taco_windows_add(&d, t, &w, 0, err, sizeof err) == 0 && d.nwin == 1 && d.ntok == 6,
       "BERT: 4 word tokens fill one window");
    is_window(&d, 0, (int32_t[]){C, the, c, at_, on, S}, (int32_t[]){X, 1, 0, 0, 1, X}, 6, 0,
              "BERT: [CLS] the c ##at on [SEP], ends -100, cat's label on both pieces");
    ok(d.nlabel[0] == 2 && d.nlabel[1] == 2, "BERT: label counts 2 and 2 (ends not counted)");

    /* record 1: the/1 on/0 mat/1 cat/0: cat does not fit after 3 tokens, a new window at it */
    mkwords(&w, (const char *[]){"the", "on", "mat", "cat"}, (const int[]){1, 0, 1, 0}, 4);
    ok(lm_taco_windows_add(&d, t, &w, 1, err, sizeof err) == 0 && d.nwin == 3, "BERT: a break, two windows");
    is_window(&d, 1, (int32_t[]){C, the, on, mat, S}, (int32_t[]){X, 1, 0, 1, X}, 5, 1,
              "BERT: the first window ends before the word that does not fit");
    is_window(&d, 2, (int32_t[]){C, c, at_, S}, (int32_t[]){X, 0, 0, X}, 4, 1,
              "BERT: the word that did not fit opens the next window, whole");

    /* record 7: the/0 Hello,/1 on/0: Hello, is 5 tokens, longer than a window: split; on follows it */
    mkwords(&w, (const char *[]){"the", "Hello,", "on"}, (const int[]){0, 1, 0}, 3);
    ok(lm_taco_windows_add(&d, t, &w, 7, err, sizeof err) == 0 && d.nwin == 6,
       "BERT: a long word, three windows");
    is_window(&d, 3, (int32_t[]){C, the, S}, (int32_t[]){X, 0, X}, 3, 7,
              "BERT: the window before the long word");
    is_window(&d, 4, (int32_t[]){C, He, l, l, o, S}, (int32_t[]){X, 1, 1, 1, 1, X}, 6, 7,
              "BERT: the long word's first 4 tokens fill a window");
    is_window(&d, 5, (int32_t[]){C, comma, on, S}, (int32_t[]){X, 1, 0, X}, 4, 7,
              "BERT: its rest shares a window with the next word");

    /* record 8: empty and blank words are dropped; a record of them only has no window */
    mkwords(&w, (const char *[]){"", "mat", " ", "\t\n"}, (const int[]){1, 1, 0, 1}, 4);
    ok(lm_taco_windows_add(&d, t, &w, 8, err, sizeof err) == 0 && d.nwin == 7, "BERT: empty words dropped");
    is_window(&d, 6, (int32_t[]){C, mat, S}, (int32_t[]){X, 1, X}, 3, 8, "BERT: only mat's window");
    mkwords(&w, (const char *[]){"", " "}, (const int[]){1, 0}, 2);
    size_t ntok = d.ntok;
    ok(lm_taco_windows_add(&d, t, &w, 9, err, sizeof err) == 0 && d.nwin == 7 && d.ntok == ntok,
       "BERT: a record of blank words adds no window");
    mkwords(&w, NULL, NULL, 0);
    ok(lm_taco_windows_add(&d, t, &w, 10, err, sizeof err) == 0 && d.nwin == 7 && d.ntok == ntok,
       "BERT: a record of no words adds no window");

    /* the whole set */
    size_t n0 = 0, n1 = 0, nx = 0, bad = 0;
    for (size_t i = 0; i < d.ntok; i++) {
        n0 += d.labels[i] == 0;
        n1 += d.labels[i] == 1;
        nx += d.labels[i] == X;
    }
    for (size_t k = 0; k < d.nwin; k++)
        bad += d.off[k + 1] <= d.off[k] + 2 || d.off[k + 1] - d.off[k] > t->max_len || d.ids[d.off[k]] != C ||
               d.ids[d.off[k + 1] - 1] != S;
    ok(d.off[0] == 0 && d.off[d.nwin] == d.ntok && bad == 0 && nx == 2 * d.nwin,
       "BERT: windows contiguous, 3 to max_len tokens, each within its ends");
    ok(d.nlabel[0] == n0 && d.nlabel[1] == n1 && n0 == 7 && n1 == 10, "BERT: nlabel counts 7 drop, 10 keep");
    lm_taco_words_free(&w);
    lm_taco_windows_free(&d);
}

static void t_windows_xlmr(const lm_taco_text *t)
{
    const int32_t C = id(t, "<s>"), S = id(t, "</s>");
    ok(t->cls == C && t->sep == S && C != S, "XLM-R: ends <s> %d and </s> %d", C, S);
    const int32_t the = id(t, "\xe2\x96\x81the"), sci = id(t, "\xe2\x96\x81Scientolog"), y = id(t, "y"),
                  on = id(t, "\xe2\x96\x81on");
    lm_taco_windows d = {0};
    lm_taco_words w = {0};
    char err[256];
    mkwords(&w, (const char *[]){"the", "Scientology", "", "on", "the"}, (const int[]){1, 0, 1, 1, 0}, 5);
    ok(lm_taco_windows_add(&d, t, &w, 3, err, sizeof err) == 0 && d.nwin == 2, "XLM-R: two windows");
    is_window(&d, 0, (int32_t[]){C, the, sci, y, on, S}, (int32_t[]){X, 1, 0, 0, 1, X}, 6, 3,
              "XLM-R: <s> the Scientolog y on </s>");
    is_window(&d, 1, (int32_t[]){C, the, S}, (int32_t[]){X, 0, X}, 3, 3, "XLM-R: <s> the </s>");
    ok(d.nlabel[0] == 3 && d.nlabel[1] == 2, "XLM-R: label counts");
    lm_taco_words_free(&w);
    lm_taco_windows_free(&d);
}

/* a word the tokenizer refuses (invalid UTF-8, only from hand-made
 * words: records are checked before): the record adds nothing */
static void t_windows_refused(const lm_taco_text *t)
{
    lm_taco_windows d = {0};
    lm_taco_words w = {0};
    char err[256];
    mkwords(&w, (const char *[]){"mat"}, (const int[]){1}, 1);
    lm_taco_windows_add(&d, t, &w, 0, err, sizeof err);
    lm_taco_windows before = d;
    mkwords(&w, (const char *[]){"Hello,", "the", "\xff", "on"}, (const int[]){1, 0, 1, 0}, 4);
    err[0] = 0;
    ok(lm_taco_windows_add(&d, t, &w, 1, err, sizeof err) == -1 && strstr(err, "UTF-8"),
       "a word that is not UTF-8: refused with a message");
    ok(d.nwin == before.nwin && d.ntok == before.ntok && d.off[d.nwin] == d.ntok &&
           d.nlabel[0] == before.nlabel[0] && d.nlabel[1] == before.nlabel[1],
       "a refused record leaves no window and no count behind");
    mkwords(&w, (const char *[]){"on"}, (const int[]){0}, 1);
    ok(lm_taco_windows_add(&d, t, &w, 1, err, sizeof err) == 0 && d.nwin == before.nwin + 1 &&
           d.rec[d.nwin - 1] == 1 && d.off[d.nwin] - d.off[d.nwin - 1] == 3,
       "the next record appends after it");
    lm_taco_words_free(&w);
    lm_taco_windows_free(&d);
}

/* a window of 3: one word token per window */
static void t_windows_three(const char *dir)
{
    lm_taco_text t;
    char err[256];
    if (!ok(lm_taco_text_load(&t, dir, 3, 150, err, sizeof err) == 0, "max_len 3 loads"))
        return;
    lm_taco_windows d = {0};
    lm_taco_words w = {0};
    mkwords(&w, (const char *[]){"cat", "the"}, (const int[]){1, 0}, 2);
    ok(lm_taco_windows_add(&d, &t, &w, 0, err, sizeof err) == 0 && d.nwin == 3 && d.ntok == 9,
       "max_len 3: a window per token");
    is_window(&d, 1, (int32_t[]){t.cls, id(&t, "##at"), t.sep}, (int32_t[]){X, 1, X}, 3, 0,
              "max_len 3: the second piece of cat alone");
    lm_taco_words_free(&w);
    lm_taco_windows_free(&d);
    lm_taco_text_free(&t);
}

static void t_load(void)
{
    lm_taco_text t;
    char err[256];
    ok(lm_taco_text_load(&t, "testdata/models/tiny-bert", 0, 150, err, sizeof err) == 0 && t.max_len == 128 &&
           t.pad == 0 && t.window == 150,
       "max_len 0: the model's 128 positions");
    lm_taco_text_free(&t);
    ok(lm_taco_text_load(&t, "testdata/models/tiny-bert", 129, 150, err, sizeof err) == -1 &&
           strstr(err, "a window of 129 tokens is longer than the model's 128 positions"),
       "max_len past the positions: refused");
    ok(lm_taco_text_load(&t, "testdata/models/tiny-bert", 2, 150, err, sizeof err) == -1 &&
           strstr(err, "a window needs at least 3 tokens"),
       "max_len 2: refused");
    ok(lm_taco_text_load(&t, "testdata/models/nonexistent", 6, 150, err, sizeof err) == -1 && err[0],
       "a missing folder: refused with a message");
}

int main(void)
{
    lm_taco_text tb, tx;
    char err[256];
    if (lm_taco_text_load(&tb, "testdata/models/tiny-bert", 6, 150, err, sizeof err) != 0 ||
        lm_taco_text_load(&tx, "testdata/models/tiny-xlmr", 6, 150, err, sizeof err) != 0) {
        ok(0, "tiny models load: %s", err);
        return tap_done();
    }
    t_load();
    t_forms(&tb);
    t_errors(&tb);
    t_windows_bert(&tb);
    t_windows_xlmr(&tx);
    t_windows_refused(&tb);
    t_windows_three("testdata/models/tiny-bert");
    lm_taco_text_free(&tb);
    lm_taco_text_free(&tx);
    return tap_done();
}
