/* fuzz_taco_record.c - fuzz target for taco-train's training records
 * (lib/taco/data.h): one JSON Lines record through lm_json_scan_object,
 * lm_taco_record_words and lm_taco_windows_add.
 *
 * Input: arbitrary bytes taken as one record line.  The tiny BERT of
 * testdata/models/tiny-bert is loaded once, with windows of 3 and 7 tokens;
 * it is found through $LMKIT_FUZZ_MODEL, else above the binary (make
 * check's replayer in build/tests/, libFuzzer's in build/fuzz/) or above
 * the current folder.
 *
 * Checked: a refusal comes with a message and a position inside the line
 * (or none); accepted words are spans of their text in order, labelled 0
 * or 1; the record's windows each start with [CLS] and end with [SEP]
 * labelled -100, hold 1 to max_len - 2 word tokens labelled 0 or 1, carry
 * the record's index, and between them hold exactly the words' own tokens
 * in order with each word's label; a window ends short only where the next
 * word does not fit, and a word continues into the next window only from
 * a full one; the label counts match.  Any crash, leak or violation aborts.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/jsonl.h"
#include "taco/data.h"

#define CHECK(c)                                                                      \
    do {                                                                              \
        if (!(c)) {                                                                   \
            fprintf(stderr, "fuzz_taco_record: %s:%d: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

static int has_model(const char *dir)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/testdata/models/tiny-bert/config.json", dir);
    return access(p, R_OK) == 0;
}

/* the folder above start (itself included) that holds testdata/models/tiny-bert */
static int find_top(char *dir, char *out, size_t n)
{
    for (;;) {
        if (has_model(dir)) {
            snprintf(out, n, "%s/testdata/models/tiny-bert", dir);
            return 0;
        }
        char *s = strrchr(dir, '/');
        if (!s || s == dir)
            return -1;
        *s = 0;
    }
}

static lm_taco_text texts[2];
static const size_t MAXLEN[2] = {3, 7};

static void load(void)
{
    static char dir[PATH_MAX + 64];
    const char *env = getenv("LMKIT_FUZZ_MODEL");
    char p[PATH_MAX];
    if (env && *env) {
        snprintf(dir, sizeof dir, "%s", env);
    } else {
        ssize_t n = readlink("/proc/self/exe", p, sizeof p - 1);
        int found = -1;
        if (n > 0) {
            p[n] = 0;
            found = find_top(p, dir, sizeof dir);
        }
        if (found != 0 && getcwd(p, sizeof p))
            found = find_top(p, dir, sizeof dir);
        if (found != 0) {
            fprintf(stderr, "fuzz_taco_record: testdata/models/tiny-bert not found above the binary or the "
                            "current folder; set LMKIT_FUZZ_MODEL\n");
            abort();
        }
    }
    char err[512];
    for (int i = 0; i < 2; i++)
        if (lm_taco_text_load(&texts[i], dir, MAXLEN[i], 150, err, sizeof err) != 0) {
            fprintf(stderr, "fuzz_taco_record: %s\n", err);
            abort();
        }
}

/* the windows of w as windows_add must make them, checked against d from
 * window k0 on */
static void check_windows(const lm_taco_text *t, const lm_taco_words *w, const lm_taco_windows *d, size_t k0,
                          uint64_t rec, const size_t nl0[2])
{
    /* the words' own tokens, their word and label */
    size_t n = 0, cap = 16;
    int32_t *ids = malloc(cap * sizeof *ids);
    size_t *word = malloc(cap * sizeof *word), *first = calloc(w->n + 1, sizeof *first),
           *len = calloc(w->n + 1, sizeof *len);
    CHECK(ids && word && first && len);
    lm_encoding enc = {0};
    char err[256];
    for (size_t i = 0; i < w->n; i++) {
        CHECK(lm_tokenizer_encode(t->tok, w->text.p + w->w[i][0], w->w[i][1] - w->w[i][0], 0, &enc, err,
                                  sizeof err) == 0);
        first[i] = n;
        len[i] = enc.n;
        for (size_t j = 0; j < enc.n; j++) {
            if (n == cap) {
                cap *= 2;
                ids = realloc(ids, cap * sizeof *ids);
                word = realloc(word, cap * sizeof *word);
                CHECK(ids && word);
            }
            ids[n] = enc.ids[j];
            word[n] = i;
            n++;
        }
    }
    lm_encoding_free(&enc);
    const size_t room = t->max_len - 2;
    size_t pos = 0, nl[2] = {0, 0};
    CHECK(k0 > 0 || d->off[0] == 0);
    for (size_t k = k0; k < d->nwin; k++) {
        size_t a = d->off[k], b = d->off[k + 1];
        CHECK(b >= a + 3 && b - a <= t->max_len);
        CHECK(d->rec[k] == rec);
        CHECK(d->ids[a] == t->cls && d->labels[a] == -100);
        CHECK(d->ids[b - 1] == t->sep && d->labels[b - 1] == -100);
        /* a window opens mid-word only after a full one */
        if (k > k0 && pos < n && pos > 0 && word[pos] == word[pos - 1])
            CHECK(d->off[k] - d->off[k - 1] - 2 == room);
        for (size_t j = a + 1; j < b - 1; j++) {
            CHECK(pos < n);
            CHECK(d->ids[j] == ids[pos]);
            CHECK(d->labels[j] == (int32_t)w->label[word[pos]]);
            nl[d->labels[j]]++;
            pos++;
        }
        /* a window ends short only before a word that does not fit */
        size_t used = b - a - 2;
        if (used < room && pos < n) {
            CHECK(first[word[pos]] == pos);
            CHECK(used + len[word[pos]] > room);
        }
    }
    CHECK(pos == n);
    CHECK(d->off[d->nwin] == d->ntok);
    CHECK(d->nlabel[0] == nl0[0] + nl[0] && d->nlabel[1] == nl0[1] + nl[1]);
    free(ids);
    free(word);
    free(first);
    free(len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int loaded;
    if (!loaded) {
        load();
        loaded = 1;
    }
    lm_record r = {.file = "fuzz.jsonl", .lineno = 1, .index = 0, .text = (const char *)data, .len = size};
    lm_jerr je;
    if (lm_json_scan_object(&r.scan, (const char *)data, size, &je) < 0) {
        lm_jscan_free(&r.scan);
        return 0;
    }
    lm_taco_words w = {0};
    lm_rerr e = {0};
    for (int i = 0; i < 2; i++) {
        int rc = lm_taco_record_words(&texts[i], &r, &w, &e);
        if (rc != LM_REC_OK) {
            CHECK(rc == LM_REC_BAD && e.msg.n > 0 && (e.pos == LM_NOPOS || e.pos < size));
            break;
        }
        size_t prev = 0;
        for (size_t k = 0; k < w.n; k++) {
            CHECK(w.w[k][0] == prev && w.w[k][1] >= w.w[k][0] && w.w[k][1] <= w.text.n);
            CHECK(w.label[k] == 0 || w.label[k] == 1);
            prev = w.w[k][1];
        }
        CHECK(prev == w.text.n);
        /* two records into one set: the second appends after the first */
        lm_taco_windows d = {0};
        char err[256];
        size_t nl0[2] = {0, 0};
        CHECK(lm_taco_windows_add(&d, &texts[i], &w, 5, err, sizeof err) == 0);
        check_windows(&texts[i], &w, &d, 0, 5, nl0);
        size_t k0 = d.nwin;
        nl0[0] = d.nlabel[0];
        nl0[1] = d.nlabel[1];
        CHECK(lm_taco_windows_add(&d, &texts[i], &w, 6, err, sizeof err) == 0);
        check_windows(&texts[i], &w, &d, k0, 6, nl0);
        lm_taco_windows_free(&d);
    }
    lm_taco_words_free(&w);
    lm_rerr_free(&e);
    lm_jscan_free(&r.scan);
    return 0;
}
