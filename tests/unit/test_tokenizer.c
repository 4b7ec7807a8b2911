/* test_tokenizer.c - tests of the tokenizer.json engine (lib/text/tokenizer.h).
 *
 * Parity: every tokenizer.json of testdata/tokenizers (decompressed by make
 * into $BUILD/testdata/tokenizers; BUILD default "build") is run over
 * testdata/text/hostile.jsonl and compared with the ids, offsets, special
 * masks and decodes that Hugging Face `tokenizers` produced
 * (testdata/golden/tokenizers/<name>.jsonl, from
 * tests/golden/tokenizers_golden.py), also with "[NEW0]" and "[NEW1]" added
 * at run time.  Added tokens with lstrip/rstrip and the token strings
 * (lm_encoding_token against Encoding.tokens) are compared with
 * testdata/golden/tokenizers/added-strip.jsonl, from the same script.  Then
 * hand-written checks of the hard pieces and of malformed files.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/clock.h"
#include "tap.h"
#include "text/hftok_internal.h"
#include "text/hftok_unicode.h"
#include "text/tokenizer.h"

static char DATA[256]; /* $BUILD/testdata/tokenizers */
#define GOLD "testdata/golden/tokenizers"

static const char *NAMES[] = {"gpt2",
                              "roberta-base",
                              "clip-vit-base",
                              "falcon-7b",
                              "phi-3-mini",
                              "bert-base-uncased",
                              "all-MiniLM-L6-v2",
                              "t5-small",
                              "marian-nmt-unigram"};

static char *texts[1000];
static size_t tlens[1000];
static size_t ntexts;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int load_texts(void)
{
    FILE *f = fopen("testdata/text/hostile.jsonl", "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0 && ntexts < 1000) {
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &je);
        json_t *t = json_object_get(j, "text");
        if (json_is_string(t)) {
            tlens[ntexts] = json_string_length(t);
            texts[ntexts] = malloc(tlens[ntexts] + 1);
            memcpy(texts[ntexts], json_string_value(t), tlens[ntexts] + 1);
            ntexts++;
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
    return 0;
}

static int same_ids(const lm_encoding *e, json_t *a)
{
    if (!json_is_array(a) || json_array_size(a) != e->n)
        return 0;
    for (size_t i = 0; i < e->n; i++)
        if (json_integer_value(json_array_get(a, i)) != e->ids[i])
            return 0;
    return 1;
}

static void show_ids(const char *what, const lm_encoding *e, json_t *a)
{
    printf("#   %s got :", what);
    for (size_t i = 0; i < e->n && i < 40; i++)
        printf(" %d", e->ids[i]);
    printf("\n#   %s want:", what);
    for (size_t i = 0; i < json_array_size(a) && i < 40; i++)
        printf(" %lld", (long long)json_integer_value(json_array_get(a, i)));
    printf("\n");
}

static void parity(const char *name)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/%s/tokenizer.json", DATA, name);
    double t0 = now();
    lm_tokenizer *t = lm_tokenizer_load(path, err, sizeof err);
    double t1 = now();
    if (!ok(t != NULL, "%s: loads", name)) {
        diag("%s", err);
        return;
    }
    json_t *gl[1000];
    size_t ngl = 0;
    snprintf(path, sizeof path, GOLD "/%s.jsonl", name);
    FILE *f = fopen(path, "r");
    if (!ok(f != NULL, "%s: golden file %s", name, path)) {
        lm_tokenizer_free(t);
        return;
    }
    char *line = NULL;
    size_t cap = 0, nid = 0, nid_ok = 0, nnew_ok = 0, noff = 0, noff_ok = 0, ndec = 0, ndec_ok = 0, shown = 0;
    ssize_t n;
    lm_encoding e = {0};
    lm_buf b = {0};
    double tenc = 0;
    size_t bytes = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t je;
        json_t *g = json_loadb(line, (size_t)n, 0, &je);
        json_t *jid = json_object_get(g, "id");
        if (!json_is_integer(jid)) {
            json_decref(g);
            continue;
        }
        size_t k = (size_t)json_integer_value(jid);
        if (k >= ntexts) {
            json_decref(g);
            continue;
        }
        nid++;
        double a = now();
        int rc = lm_tokenizer_encode(t, texts[k], tlens[k], 1, &e, err, sizeof err);
        tenc += now() - a;
        bytes += tlens[k];
        int good = rc == 0 && same_ids(&e, json_object_get(g, "ids"));
        nid_ok += good;
        if (!good && shown++ < 3) {
            diag("%s: text %zu ids differ%s%s", name, k, rc ? ": " : "", rc ? err : "");
            show_ids("ids", &e, json_object_get(g, "ids"));
        }
        json_t *off = json_object_get(g, "off");
        if (json_is_array(off) && good) {
            noff++;
            int og = json_array_size(off) == e.n;
            for (size_t i = 0; og && i < e.n; i++) {
                json_t *p = json_array_get(off, i);
                og = (size_t)json_integer_value(json_array_get(p, 0)) == e.off[i][0] &&
                     (size_t)json_integer_value(json_array_get(p, 1)) == e.off[i][1] &&
                     json_integer_value(json_array_get(json_object_get(g, "special"), i)) == e.special[i];
            }
            noff_ok += og;
            if (!og && shown++ < 3) {
                diag("%s: text %zu offsets differ", name, k);
                for (size_t i = 0; i < e.n && i < 30; i++) {
                    json_t *p = json_array_get(off, i);
                    printf("#   %zu: got [%zu,%zu] want [%lld,%lld]\n", i, e.off[i][0], e.off[i][1],
                           (long long)json_integer_value(json_array_get(p, 0)),
                           (long long)json_integer_value(json_array_get(p, 1)));
                }
            }
        }
        json_t *d = json_object_get(g, "dec");
        if (json_is_string(d) && good) {
            ndec++;
            int dg = 1;
            const char *keys[] = {"dec", "dec_all"};
            for (int s = 0; s < 2; s++) {
                json_t *want = json_object_get(g, keys[s]);
                lm_buf_reset(&b);
                dg = dg && lm_tokenizer_decode(t, e.ids, e.n, s == 0, &b, err, sizeof err) == 0 &&
                     b.n == json_string_length(want) &&
                     memcmp(b.p ? b.p : "", json_string_value(want), b.n) == 0;
                if (!dg && shown++ < 3)
                    diag("%s: text %zu %s got '%s' want '%s'", name, k, keys[s], b.p ? b.p : "",
                         json_string_value(want));
            }
            /* convert_tokens_to_string */
            const char **toks = malloc((e.n + 1) * sizeof *toks);
            size_t *lens = malloc((e.n + 1) * sizeof *lens);
            for (size_t i = 0; i < e.n; i++)
                toks[i] = lm_tokenizer_token(t, e.ids[i], &lens[i]);
            json_t *want = json_object_get(g, "tts");
            lm_buf_reset(&b);
            int tg = lm_tokenizer_tokens_to_string(t, toks, lens, e.n, &b, err, sizeof err) == 0 &&
                     b.n == json_string_length(want) &&
                     memcmp(b.p ? b.p : "", json_string_value(want), b.n) == 0;
            if (!tg && shown++ < 3)
                diag("%s: text %zu tokens_to_string got '%s' want '%s'", name, k, b.p ? b.p : "",
                     json_string_value(want));
            free(toks);
            free(lens);
            ndec_ok += dg && tg;
        }
        if (ngl < 1000)
            gl[ngl++] = g;
        else
            json_decref(g);
    }
    free(line);
    fclose(f);
    /* the same texts with [NEW0] and [NEW1] added at run time */
    const char *news[] = {"[NEW0]", "[NEW1]"};
    ok(lm_tokenizer_add_tokens(t, news, 2, 0, err, sizeof err) == 0, "%s: add [NEW0] [NEW1]", name);
    for (size_t q = 0; q < ngl; q++) {
        json_t *g = gl[q];
        size_t k = (size_t)json_integer_value(json_object_get(g, "id"));
        int rc = lm_tokenizer_encode(t, texts[k], tlens[k], 1, &e, err, sizeof err);
        int gn = rc == 0 && same_ids(&e, json_object_get(g, "ids_new"));
        nnew_ok += gn;
        if (!gn && shown++ < 3) {
            diag("%s: text %zu ids with [NEW0] differ", name, k);
            show_ids("ids_new", &e, json_object_get(g, "ids_new"));
        }
        json_decref(g);
    }
    diag("%-20s ids %zu/%zu  with added %zu/%zu  offsets %zu/%zu  decode %zu/%zu  load %.0f ms  encode %.1f "
         "MB/s",
         name, nid_ok, nid, nnew_ok, nid, noff_ok, noff, ndec_ok, ndec, (t1 - t0) * 1e3,
         tenc > 0 ? bytes / tenc / 1e6 : 0.0);
    ok(nid == ntexts && nid_ok == nid, "%s: ids identical for all %zu texts", name, nid);
    ok(nnew_ok == nid, "%s: ids identical with [NEW0]/[NEW1] added", name);
    ok(noff_ok == noff, "%s: offsets and special masks identical (%zu texts)", name, noff);
    ok(ndec_ok == ndec, "%s: decode and tokens_to_string identical (%zu texts)", name, ndec);
    lm_encoding_free(&e);
    lm_buf_free(&b);
    lm_tokenizer_free(t);
}

/* ---- hand-written checks of the hard pieces ---- */

static lm_tokenizer *load_seed(const char *file)
{
    char path[256], err[512];
    snprintf(path, sizeof path, "tests/fuzz/corpus/tokenizer_json/%s", file);
    lm_tokenizer *t = lm_tokenizer_load(path, err, sizeof err);
    if (!t)
        diag("%s", err);
    return t;
}

static void check_enc(lm_tokenizer *t, const char *text, const int32_t *ids, const size_t (*off)[2], size_t n,
                      const char *what)
{
    char err[256];
    lm_encoding e = {0};
    int rc = lm_tokenizer_encode(t, text, strlen(text), 1, &e, err, sizeof err);
    int good = rc == 0 && e.n == n;
    for (size_t i = 0; good && i < n; i++)
        good = e.ids[i] == ids[i] && (!off || (e.off[i][0] == off[i][0] && e.off[i][1] == off[i][1]));
    if (!ok(good, "%s", what))
        for (size_t i = 0; i < e.n; i++)
            printf("#   %d [%zu,%zu]\n", e.ids[i], e.off[i][0], e.off[i][1]);
    lm_encoding_free(&e);
}

static void check_norm(lm_tokenizer *t, const char *in, const char *want, const char *what)
{
    char err[256];
    lm_buf b = {0};
    int rc = lm_tokenizer_normalize(t, in, strlen(in), &b, err, sizeof err);
    is_str(rc == 0 ? (b.p ? b.p : "") : err, want, "%s", what);
    lm_buf_free(&b);
}

static void check_load_error(const char *json, const char *want, const char *what)
{
    char err[512];
    err[0] = 0;
    lm_tokenizer *t = lm_tokenizer_load_mem(json, strlen(json), "tokenizer.json", err, sizeof err);
    ok(!t && strstr(err, want) != NULL, "malformed: %s", what);
    if (t || !strstr(err, want))
        diag("got '%s', want it to contain '%s'", t ? "(loaded)" : err, want);
    lm_tokenizer_free(t);
}

static void hand_tests(void)
{
    char err[256];
    /* Unicode pieces */
    uint32_t d[32], l[3];
    is_int(lm_hft_decompose(0xFB01, 1, d), 2, "NFKD of U+FB01 has 2 code points");
    is_int(lm_hft_decompose(0xD55C, 0, d), 3, "Hangul syllable decomposes algorithmically");
    is_int(lm_hft_compose('e', 0x301), 0xE9, "e + acute composes to U+00E9");
    is_int(lm_hft_compose(0x1112, 0x1161), 0xD558, "Hangul L+V composes");
    is_int(lm_hft_lower(0x130, l), 2, "U+0130 lowercases to two code points (Rust special casing)");
    is_int(lm_hft_lower(0x3A3, l) == 1 && l[0] == 0x3C3, 1, "capital sigma lowercases to U+03C3");
    ok(lm_hft_is_punct('$') && lm_hft_is_punct(0x3001) && !lm_hft_is_punct('a'), "punctuation classes");
    ok(lm_hft_is_space(0x3000) && !lm_hft_is_space(0x200B) && !lm_hft_is_space(0x180E), "White_Space");
    /* byte-level alphabet round trip */
    int rt = 1;
    for (int b = 0; b < 256; b++)
        rt &= lm_hft_char_byte(lm_hft_byte_char((uint8_t)b)) == b;
    ok(rt && lm_hft_byte_char(' ') == 0x120 && lm_hft_byte_char('\n') == 0x10A, "byte-level alphabet");

    lm_tokenizer *t = load_seed("wordpiece.json");
    if (t) {
        /* BertNormalizer: control and format characters dropped, CJK padded, accents, Rust lowercase */
        check_norm(t, "H\xc3\xa9llo\x01\xe2\x80\x8bWORLD\xe4\xb8\xad\xe6\x96\x87\t\xc4\xb0",
                   "helloworld \xe4\xb8\xad  \xe6\x96\x87  i",
                   "BertNormalizer: controls, CJK, accents, lowercase");
        static const int32_t ids[] = {1, 3, 6, 3, 7, 3, 2};
        static const size_t off[][2] = {{0, 0}, {0, 5}, {5, 6}, {7, 12}, {12, 13}, {14, 19}, {0, 0}};
        check_enc(t, "Hello, hellox HELLO", ids, off, 7, "WordPiece + BertProcessing ids and offsets");
        lm_buf b = {0};
        lm_tokenizer_decode(t, ids, 7, 0, &b, err, sizeof err);
        is_str(b.p, "[CLS] hello, hellox hello [SEP]", "WordPiece decoder with cleanup");
        lm_buf_free(&b);
        lm_tokenizer_free(t);
    }
    t = load_seed("split_digits.json");
    if (t) {
        static const int32_t ids[] = {3, 4, 3, 0, 1, 3, 0, 1, 0, 1, 5, 5};
        static const size_t off[][2] = {{0, 0}, {0, 1}, {1, 2}, {2, 3}, {3, 4},  {4, 5},
                                        {5, 6}, {6, 7}, {7, 8}, {8, 9}, {9, 11}, {11, 12}};
        check_enc(t, "x-12-1212,,a", ids, off, 12,
                  "Split MergedWithNext, Digits individual, Punctuation Contiguous, fuse_unk, template");
        lm_tokenizer_free(t);
    }
    t = load_seed("bpe_bytelevel.json");
    if (t) {
        static const int32_t ids[] = {2, 4, 4, 1, 0, 6, 7, 5};
        static const size_t off[][2] = {{0, 2}, {2, 3}, {3, 4}, {4, 5}, {5, 6}, {6, 8}, {6, 8}, {8, 10}};
        check_enc(t, "ab  ba\xc3\xa9 a", ids, off, 8, "byte-level BPE ids and byte offsets");
        const char *n1[] = {"[NEW0]"}, *n2[] = {"<X>"};
        lm_tokenizer_add_tokens(t, n1, 1, 0, err, sizeof err);
        lm_tokenizer_add_tokens(t, n2, 1, 1, err, sizeof err);
        is_int(lm_tokenizer_id(t, "[NEW0]", 6), 8, "run-time token gets the next id");
        is_int(lm_tokenizer_id(t, "<X>", 3), 9, "run-time special token");
        static const int32_t ids2[] = {2, 4, 8, 0, 4, 4, 9, 4, 4, 1};
        static const size_t off2[][2] = {{0, 2},   {2, 3},   {3, 9},   {9, 10},  {10, 11},
                                         {11, 12}, {12, 15}, {15, 16}, {16, 17}, {17, 18}};
        check_enc(t, "ab [NEW0]a  <X>  b", ids2, off2, 10,
                  "added tokens split before the model, with offsets");
        lm_tokenizer_free(t);
    }
    char t5[600];
    snprintf(t5, sizeof t5, "%s/t5-small/tokenizer.json", DATA);
    t = lm_tokenizer_load(t5, err, sizeof err);
    if (ok(t != NULL, "t5-small tokenizer.json loads (charsmap checks)")) {
        check_norm(t,
                   "\xef\xbd\x86\xef\xbd\x95\xef\xbd\x8c\xef\xbd\x8c\xef\xbc\x8d\xef\xbd\x97\xef\xbd\x89\xef"
                   "\xbd\x84\xef\xbd\x94\xef\xbd\x88\xe3\x80\x80\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93",
                   "full-width 123", "Precompiled charsmap: full-width forms");
        check_norm(t, "\xef\xac\x81 \xe2\x84\xab e\xcc\x81 \xe2\x85\xbb", "fi \xc3\x85 \xc3\xa9 xii",
                   "Precompiled charsmap: ligature, angstrom, combining acute (grapheme), roman numeral");
        check_norm(t, "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9", "\xf0\x9f\x91\xa8 \xf0\x9f\x91\xa9",
                   "Precompiled charsmap: ZWJ inside a grapheme cluster");
        lm_tokenizer_free(t);
    } else {
        diag("%s", err);
    }
    /* byte fallback with a continuing-subword prefix: every character after
     * the first falls back to the bytes of the prefix and of the character,
     * more symbols than the piece has bytes */
    const char *bf = "{\"model\":{\"type\":\"BPE\",\"continuing_subword_prefix\":\"##\","
                     "\"byte_fallback\":true,\"vocab\":{\"a\":0,\"##b\":1,\"ab\":2,\"<0x23>\":3,"
                     "\"<0xC3>\":4,\"<0xA9>\":5},\"merges\":[\"a ##b\"]}}";
    t = lm_tokenizer_load_mem(bf, strlen(bf), "bf.json", err, sizeof err);
    if (!ok(t != NULL, "BPE with byte fallback and a prefix loads"))
        diag("%s", err);
    if (t) {
        static const int32_t two[] = {4, 5, 3, 3, 4, 5};
        check_enc(t, "\xc3\xa9\xc3\xa9", two, NULL, 6, "byte fallback: the prefix's bytes too");
        int32_t many[2 + 4 * 15] = {4, 5};
        for (size_t i = 2; i < sizeof many / sizeof *many; i += 4)
            many[i] = 3, many[i + 1] = 3, many[i + 2] = 4, many[i + 3] = 5;
        char text[64] = "";
        for (int i = 0; i < 16; i++)
            strcat(text, "\xc3\xa9");
        check_enc(t, text, many, NULL, sizeof many / sizeof *many,
                  "byte fallback of 16 characters: 62 symbols from 32 bytes");
        lm_tokenizer_free(t);
    }
    /* a Replace whose pattern can match the empty string would insert its
     * content between every two characters: refused at load, naming it */
    static const char *const empty_pat[][2] = {
        {"{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {0,}\"},\"content\":\"xx\"}", "normalizer"},
        {"{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"\"},\"content\":\"xx\"}", "normalizer"},
        {"{\"type\":\"Replace\",\"pattern\":{\"String\":\"\"},\"content\":\"xx\"}", "normalizer"},
        {"{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"\\\\b\"},\"content\":\"xx\"}", "decoder"},
    };
    for (size_t i = 0; i < sizeof empty_pat / sizeof *empty_pat; i++) {
        char js[512];
        snprintf(js, sizeof js, "{\"%s\":%s,\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0}}}",
                 empty_pat[i][1], empty_pat[i][0]);
        err[0] = 0;
        t = lm_tokenizer_load_mem(js, strlen(js), "replace.json", err, sizeof err);
        ok(!t && strstr(err, "can match the empty string") && strstr(err, empty_pat[i][1]),
           "a %s Replace that can match the empty string is refused: %s", empty_pat[i][1], err);
        lm_tokenizer_free(t);
    }
    const char *spaces = "{\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}\"},"
                         "\"content\":\" \"},\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0}}}";
    t = lm_tokenizer_load_mem(spaces, strlen(spaces), "spaces.json", err, sizeof err);
    if (ok(t != NULL, "a Replace of \" {2,}\" (XLM-R's) loads: %s", t ? "" : err)) {
        check_norm(t, "a    b", "a b", "Replace \" {2,}\" by one space");
        lm_tokenizer_free(t);
    }
    /* a Sequence of Replace steps whose content contains the pattern doubles
     * the text at every step: stopped at 64 times the input plus 4 KiB,
     * reported, and quick; one such step alone is fine */
    {
        lm_buf js = {0};
        lm_buf_adds(&js, "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[");
        for (int i = 0; i < 40; i++)
            lm_buf_adds(&js, i ? ",{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" +\"},\"content\":\" x \"}"
                               : "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" +\"},\"content\":\" x \"}");
        lm_buf_adds(&js, "]},\"decoder\":{\"type\":\"Sequence\",\"decoders\":[");
        for (int i = 0; i < 40; i++)
            lm_buf_adds(&js, i ? ",{\"type\":\"Replace\",\"pattern\":{\"String\":\"a\"},\"content\":\"aa\"}"
                               : "{\"type\":\"Replace\",\"pattern\":{\"String\":\"a\"},\"content\":\"aa\"}");
        lm_buf_adds(&js, "]},\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0,\"a\":1}}}");
        double t0 = lm_clock();
        t = lm_tokenizer_load_mem(js.p, js.n, "grow.json", err, sizeof err);
        if (ok(t != NULL, "a tokenizer whose Replace steps double the text loads: %s", t ? "" : err)) {
            lm_encoding e = {0};
            err[0] = 0;
            int rc = lm_tokenizer_encode(t, "a b", 3, 0, &e, err, sizeof err);
            ok(rc == -1 && strstr(err, "normalizer grows a 3-byte text past 4288 bytes"),
               "a normalizer that doubles the text 40 times is stopped: %s", err);
            lm_buf b = {0};
            static const int32_t ids[] = {1, 1, 1};
            err[0] = 0;
            rc = lm_tokenizer_decode(t, ids, 3, 0, &b, err, sizeof err);
            ok(rc == -1 && strstr(err, "decoder grows a 3-byte text past 4288 bytes") && b.n == 0,
               "a decoder that doubles the text 40 times is stopped, and appends nothing: %s", err);
            err[0] = 0;
            const char *added[] = {"p q"};
            rc = lm_tokenizer_add_tokens(t, added, 1, 0, err, sizeof err);
            size_t vs = lm_tokenizer_vocab_size(t);
            const char *added2[] = {"zz", "p q"};
            rc = lm_tokenizer_add_tokens(t, added2, 2, 0, err, sizeof err);
            ok(rc == -1 && strstr(err, "added token \"p q\"") && strstr(err, "normalizer grows"),
               "a normalized added token through that normalizer is refused: %s", err);
            ok(lm_tokenizer_vocab_size(t) == vs && lm_tokenizer_id(t, "zz", 2) < 0,
               "and the call adds none of its tokens");
            const char *special[] = {"[S]"};
            ok(lm_tokenizer_add_tokens(t, special, 1, 1, err, sizeof err) == 0 &&
                   lm_tokenizer_encode(t, "[S]", 3, 0, &e, err, sizeof err) == 0 && e.n == 1 &&
                   e.ids[0] == lm_tokenizer_id(t, "[S]", 3),
               "a special (not normalized) token is added afterwards and matched");
            lm_encoding_free(&e);
            lm_buf_free(&b);
            lm_tokenizer_free(t);
        }
        ok(lm_clock() - t0 < 5, "and all of it is quick (%.3f s)", lm_clock() - t0);
        lm_buf_free(&js);
        const char *one =
            "{\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":"
            "\"<a long separator>\"},\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0}}}";
        t = lm_tokenizer_load_mem(one, strlen(one), "one.json", err, sizeof err);
        if (ok(t != NULL, "a Replace by an 18-byte content loads")) {
            check_norm(t, "a b c", "a<a long separator>b<a long separator>c",
                       "one growing Replace is applied");
            char many[4001];
            memset(many, ' ', 4000);
            many[4000] = 0;
            lm_buf nb = {0};
            ok(lm_tokenizer_normalize(t, many, 4000, &nb, err, sizeof err) == 0 && nb.n == 72000,
               "4000 spaces become 72000 bytes (18 times, within the bound)");
            lm_buf_free(&nb);
            lm_tokenizer_free(t);
        }
    }
    /* NFKC and NFD as normalizers */
    const char *nfkc =
        "{\"normalizer\":{\"type\":\"NFKC\"},\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0}}}";
    t = lm_tokenizer_load_mem(nfkc, strlen(nfkc), "nfkc.json", err, sizeof err);
    if (ok(t != NULL, "NFKC tokenizer loads")) {
        check_norm(t, "\xef\xac\x81 \xe2\x84\xab e\xcc\x81 \xe2\x85\xbb \xf0\x9d\x9f\x98 \xe2\x91\xa0",
                   "fi \xc3\x85 \xc3\xa9 xii 0 1", "NFKC");
        lm_tokenizer_free(t);
    }
    const char *nfd =
        "{\"normalizer\":{\"type\":\"NFD\"},\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0}}}";
    t = lm_tokenizer_load_mem(nfd, strlen(nfd), "nfd.json", err, sizeof err);
    if (ok(t != NULL, "NFD tokenizer loads")) {
        check_norm(t, "\xc3\x85\xed\x95\x9c", "A\xcc\x8a\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab",
                   "NFD with Hangul");
        lm_tokenizer_free(t);
    }
    /* malformed files (WP_A: the start of a good WordPiece tokenizer) */
#define WP_A "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0,\"[UNK]\":1}},"
    check_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\"", "not valid JSON",
                     "truncated JSON");
    check_load_error("{\"model\":{\"type\":\"Foo\"}}", "model.type 'Foo' is not supported",
                     "unknown model type");
    check_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}", "merges is empty",
                     "empty merge table");
    check_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"x\"},\"merges\":[\"a a\"]}}",
                     "model.vocab['a']", "vocab id of the wrong type");
    check_load_error(WP_A "\"normalizer\":{\"type\":\"Bogus\"}}", "normalizer.type 'Bogus' is not supported",
                     "unknown normalizer");
    check_load_error(WP_A "\"pre_tokenizer\":{\"type\":"
                          "\"Sequence\",\"pretokenizers\":[{\"type\":\"Nope\"}]}}",
                     "pre_tokenizer.pretokenizers[0].type 'Nope' is not supported",
                     "unknown pre-tokenizer in a Sequence");
    check_load_error(
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"aa\":1},\"merges\":[\"a a\"],\"dropout\":0.1}}",
        "dropout is not supported", "BPE dropout");
    check_load_error("[1,2]", "top level must be an object", "wrong top-level type");
    check_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a b\"]}}",
                     "not in the vocabulary", "merge of unknown tokens");
    check_load_error(WP_A "\"added_tokens\":[{\"id\":\"1\"}]}", "added_tokens[0]",
                     "added token with a wrong id type");
    check_load_error(WP_A "\"added_tokens\":[{\"id\":1,"
                          "\"content\":\"<x>\"},{\"id\":2147483648,\"content\":\"<y>\"}]}",
                     "tokenizer.json: added_tokens[1]: id 2147483648 is out of range (0 to 2147483632)",
                     "added token id above the range");
    check_load_error(WP_A "\"added_tokens\":[{\"id\":-1,"
                          "\"content\":\"<x>\"}]}",
                     "tokenizer.json: added_tokens[0]: id -1 is out of range (0 to 2147483632)",
                     "negative added token id");
    check_load_error("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0},\"unk_token\":\"<unk>\"}}",
                     "tokenizer.json: model.unk_token '<unk>' is not in model.vocab",
                     "WordPiece unk_token not in the vocabulary");
    check_load_error("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}}}",
                     "tokenizer.json: model.unk_token '[UNK]' is not in model.vocab",
                     "WordPiece without [UNK]");
    char e2[512];
    ok(lm_tokenizer_load("/nonexistent/tokenizer.json", e2, sizeof e2) == NULL && strstr(e2, "nonexistent"),
       "missing file names the file");
}

/* The tokenizer.json of base with the added tokens of the golden line a. */
static lm_tokenizer *load_with_added(const char *base, json_t *a, char *err, size_t errlen)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/tokenizer.json", DATA, base);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        snprintf(err, errlen, "%.300s: %.150s", path, je.text);
        return NULL;
    }
    json_array_extend(json_object_get(root, "added_tokens"), a);
    char *txt = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    lm_tokenizer *t = txt ? lm_tokenizer_load_mem(txt, strlen(txt), path, err, errlen) : NULL;
    free(txt);
    return t;
}

/* lstrip / rstrip added tokens: ids, offsets (trimmed by RobertaProcessing
 * and ByteLevel the way the library trims its character offsets) and the
 * token strings (with the white space an added token took; a Unigram
 * piece's slice of the normalised text, unknown pieces too). */
static void strip_parity(void)
{
    FILE *f = fopen(GOLD "/added-strip.jsonl", "r");
    if (!ok(f != NULL, "golden file " GOLD "/added-strip.jsonl"))
        return;
    char *line = NULL, err[512], base[64] = "";
    size_t cap = 0, n_all = 0, n_id = 0, n_off = 0, n_tok = 0, shown = 0;
    ssize_t n;
    lm_tokenizer *t = NULL;
    lm_encoding e = {0};
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t je;
        json_t *g = json_loadb(line, (size_t)n, 0, &je);
        json_t *added = json_object_get(g, "added");
        if (added) {
            lm_tokenizer_free(t);
            snprintf(base, sizeof base, "%s", json_string_value(json_object_get(g, "base")));
            t = load_with_added(base, added, err, sizeof err);
            ok(t != NULL, "added-strip: %s with [L] [R] [B] loads%s%s", base, t ? "" : ": ", t ? "" : err);
        } else if (json_object_get(g, "text") && t) {
            const char *text = json_string_value(json_object_get(g, "text"));
            n_all++;
            int rc = lm_tokenizer_encode(t, text, json_string_length(json_object_get(g, "text")), 1, &e, err,
                                         sizeof err);
            int gi = rc == 0 && same_ids(&e, json_object_get(g, "ids")), go = gi, gt = gi;
            json_t *off = json_object_get(g, "off"), *tok = json_object_get(g, "tokens");
            for (size_t i = 0; gi && i < e.n; i++) {
                json_t *p = json_array_get(off, i), *w = json_array_get(tok, i);
                size_t vn;
                const char *v = lm_encoding_token(&e, i, &vn);
                go &= (size_t)json_integer_value(json_array_get(p, 0)) == e.off[i][0] &&
                      (size_t)json_integer_value(json_array_get(p, 1)) == e.off[i][1];
                gt &= v && vn == json_string_length(w) && !memcmp(v, json_string_value(w), vn);
            }
            n_id += gi, n_off += go, n_tok += gt;
            if (!(gi && go && gt) && shown++ < 5) {
                diag("added-strip %s '%s': ids %s, offsets %s, tokens %s", base, text, gi ? "same" : "differ",
                     go ? "same" : "differ", gt ? "same" : "differ");
                for (size_t i = 0; gi && i < e.n; i++) {
                    size_t vn;
                    const char *v = lm_encoding_token(&e, i, &vn);
                    json_t *p = json_array_get(off, i);
                    printf("#   %zu: [%zu,%zu] '%.*s' want [%lld,%lld] '%s'\n", i, e.off[i][0], e.off[i][1],
                           (int)vn, v, (long long)json_integer_value(json_array_get(p, 0)),
                           (long long)json_integer_value(json_array_get(p, 1)),
                           json_string_value(json_array_get(tok, i)));
                }
            }
        }
        json_decref(g);
    }
    free(line);
    fclose(f);
    lm_tokenizer_free(t);
    lm_encoding_free(&e);
    ok(n_all >= 200 && n_id == n_all, "added-strip: ids %zu of %zu identical", n_id, n_all);
    ok(n_all >= 200 && n_off == n_all, "added-strip: offsets %zu of %zu identical (lstrip/rstrip trimmed)",
       n_off, n_all);
    ok(n_all >= 200 && n_tok == n_all, "added-strip: token strings %zu of %zu identical", n_tok, n_all);
}

int main(void)
{
    struct stat st;
    if (load_texts() || ntexts != 360) {
        ok(0, "read testdata/text/hostile.jsonl (360 texts)");
        return tap_done();
    }
    const char *build = getenv("BUILD");
    snprintf(DATA, sizeof DATA, "%s/testdata/tokenizers", build && *build ? build : "build");
    if (!ok(stat(DATA, &st) == 0, "%s exists", DATA)) {
        diag("'make fixtures' decompresses testdata/tokenizers there");
    } else {
        for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++)
            parity(NAMES[i]);
        strip_parity();
    }
    hand_tests();
    for (size_t i = 0; i < ntexts; i++)
        free(texts[i]);
    return tap_done();
}
