/* test_tiktoken.c - tiktoken-format BPE (lib/text/tiktoken.c): rank-file
 * validation, the merge (quadratic scan against heap), offsets, thread
 * safety, and exact ids against the Python tiktoken package
 * (goldens from tests/golden/tiktoken_golden.py).
 *
 * Run from the repository root.  The cl100k_base and Kimi K2 rank files are
 * those make decompresses from testdata/tiktoken into the build tree
 * ($BUILD/share/lmkit/cl100k_base.tiktoken,
 * $BUILD/testdata/tiktoken/kimi-k2-instruct/tiktoken.model; BUILD default
 * "build"); a missing one fails.  lm_tiktoken_find is checked too: from
 * build/tests it finds the rank file in build/share/lmkit.
 */
#include <jansson.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "text/tiktoken.h"

static char err[512];

static lm_tiktoken *mem(const char *s, const char *enc)
{
    return lm_tiktoken_load_mem(s, strlen(s), "bad.tiktoken", enc, err, sizeof err);
}

/* A rank file text: the 256 single bytes, then extra lines. */
static char *bytes_file(const char *extra)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t cap = 256 * 16 + strlen(extra) + 1, n = 0;
    char *s = malloc(cap);
    for (int b = 0; b < 256; b++)
        n += (size_t)sprintf(s + n, "%c%c== %d\n", b64[b >> 2], b64[(b & 3) << 4], b);
    strcpy(s + n, extra);
    return s;
}

static int err_has(const char *want)
{
    int ok_ = strstr(err, want) != NULL;
    if (!ok_)
        diag("message: %s", err);
    return ok_;
}

/* A rank file of n ranks: the 256 single bytes, then 4-byte tokens. */
static char *sized_file(unsigned n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *s = malloc((size_t)n * 24 + 1), *p = s;
    for (unsigned r = 0; r < n; r++) {
        if (r < 256) {
            p += sprintf(p, "%c%c== %u\n", b64[r >> 2], b64[(r & 3) << 4], r);
            continue;
        }
        unsigned char b[4] = {'x', (unsigned char)(r >> 16), (unsigned char)(r >> 8), (unsigned char)r};
        uint32_t v = (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
        p += sprintf(p, "%c%c%c%c%c%c== %u\n", b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63],
                     b64[v & 63], b64[b[3] >> 2], b64[(b[3] & 3) << 4], r);
    }
    *p = 0;
    return s;
}

/* Whether a rank file of n ranks loads as enc; err holds the message. */
static int sized_loads(unsigned n, const char *enc)
{
    char *f = sized_file(n);
    lm_tiktoken *t = mem(f, enc);
    free(f);
    lm_tiktoken_free(t);
    return t != NULL;
}

/* A rank file that is another encoding's, or larger than this one's, is
 * refused naming the file and both encodings; a smaller one (a truncated
 * vocabulary, as in the test files) keeps the encoding's special ids. */
static void test_encoding_fit(void)
{
    if (!ok(sized_loads(100256, "cl100k_base"), "cl100k_base-sized file as cl100k_base"))
        diag("%s", err);
    ok(!sized_loads(100256, "o200k_base") && err_has("bad.tiktoken: 100256 ranks, the size of a cl100k_base "
                                                     "rank file, not o200k_base (199998 ranks); "
                                                     "is this the right encoding?"),
       "cl100k_base-sized file as o200k_base: %s", err);
    ok(!sized_loads(100256, "kimi_k2") &&
           err_has("the size of a cl100k_base rank file, not kimi_k2 (163584 ranks)"),
       "cl100k_base-sized file as kimi_k2: %s", err);
    ok(!sized_loads(100257, "cl100k_base") && err_has("bad.tiktoken: 100257 ranks, more than the 100256 of "
                                                      "cl100k_base; is this the right encoding?"),
       "one rank too many for cl100k_base: %s", err);
    ok(!sized_loads(163585, "kimi_k2") && err_has("163585 ranks, more than the 163584 of kimi_k2"),
       "one rank too many for kimi_k2 (no special tokens to collide with): %s", err);
    ok(!sized_loads(50257, "r50k_base") &&
           err_has("special token <|endoftext|> of r50k_base has id 50256, which is "
                   "a rank in the file (50257 ranks); is this the right encoding?"),
       "ranks over the special ids: %s", err);
    if (!ok(sized_loads(50256, "r50k_base"), "r50k_base-sized file as r50k_base"))
        diag("%s", err);
    ok(!sized_loads(50256, "p50k_base") && err_has("the size of a r50k_base rank file, not p50k_base"),
       "r50k_base-sized file as p50k_base: %s", err);
    if (!ok(sized_loads(2000, "o200k_base") && sized_loads(2000, "kimi_k2"), "a truncated vocabulary loads"))
        diag("%s", err);
}

static void test_validation(void)
{
    lm_tiktoken *t;
    char *f;
    ok(!mem("", "cl100k_base") && err_has("bad.tiktoken: no tokens"), "empty file: %s", err);
    ok(!mem("\n\n", "cl100k_base") && err_has("no tokens"), "blank lines only");
    ok(!mem("IQ==\n", "cl100k_base") && err_has("bad.tiktoken:1: expected \"BASE64 RANK\""), "one field: %s",
       err);
    ok(!mem("IQ== 0 7\n", "cl100k_base") && err_has(":1: expected"), "three fields");
    ok(!mem("IQ== 0\nI*== 1\n", "cl100k_base") && err_has("bad.tiktoken:2:2: bad base64"), "bad base64: %s",
       err);
    ok(!mem("IQ= 0\n", "cl100k_base") && err_has(":1: bad base64") && err_has("multiple of 4"),
       "bad length: %s", err);
    ok(!mem("I=Q= 0\n", "cl100k_base") && err_has("bad base64"), "padding inside");
    ok(!mem("==== 0\n", "cl100k_base") && err_has("bad base64"), "all padding");
    ok(!mem("IQ== x1\n", "cl100k_base") && err_has(":1: rank 'x1' is not a non-negative integer"), "rank: %s",
       err);
    ok(!mem("IQ== -1\n", "cl100k_base") && err_has("not a non-negative integer"), "negative rank");
    ok(!mem("IQ== 0\nIg== 0\n", "cl100k_base") && err_has(":2: duplicate rank 0 (already on line 1)"),
       "duplicate rank: %s", err);
    ok(!mem("IQ== 0\nIg== 2\n", "cl100k_base") && err_has(":2: rank 2 where 1 was expected"), "gap: %s", err);
    ok(!mem("IQ== 1\n", "cl100k_base") && err_has(":1: rank 1 where 0 was expected"), "not from 0");
    ok(!mem("IQ== 0\nIg== 1\nIQ== 2\n", "cl100k_base") &&
           err_has(":3: duplicate token 'IQ==' (rank 0 on line 1"),
       "duplicate token: %s", err);
    ok(!mem("IQ== 0\n", "cl100k_base") && err_has("byte 0x00 has no rank"), "missing bytes: %s", err);
    ok(!mem("IQ== 0\n", "gpt5") && err_has("unknown encoding 'gpt5'"), "unknown encoding");
    ok(!mem("IQ== 0\n", NULL) && err_has("cannot tell the encoding"), "no encoding to infer: %s", err);
    f = bytes_file("YWI= 256\n\nYWJj 257\r\n");
    t = mem(f, "cl100k_base");
    ok(t != NULL, "256 bytes + merges, blank line and CRLF: %s", t ? "" : err);
    if (t) {
        is_int(lm_tiktoken_n_ranks(t), 258, "ranks");
        is_int(lm_tiktoken_vocab_size(t), 100277, "vocab includes specials");
        is_int(lm_tiktoken_rank(t, "abc", 3), 257, "rank of abc");
        is_int(lm_tiktoken_rank(t, "abcd", 4), -1, "no rank");
        size_t n;
        const char *s = lm_tiktoken_token(t, 100257, &n);
        ok(s && n == 13 && memcmp(s, "<|endoftext|>", 13) == 0, "special token bytes");
        lm_tiktoken_enc e = {0};
        ok(lm_tiktoken_encode(t, NULL, "abc ab", 6, 0, 1, &e, err, sizeof err) == 0, "encode");
        ok(e.n == 3 && e.ids[0] == 257 && e.ids[1] == ' ' && e.ids[2] == 256, "ids abc, ' ', ab");
        ok(e.off[1][0] == 3 && e.off[1][1] == 4 && e.off[2][0] == 4 && e.off[2][1] == 6, "byte offsets");
        ok(lm_tiktoken_encode(t, NULL, "a\xff", 2, 0, 0, &e, err, sizeof err) != 0 &&
               err_has("invalid UTF-8 at byte 1"),
           "invalid UTF-8: %s", err);
        ok(lm_tiktoken_encode(t, NULL, "x<|endoftext|>", 14, 1, 0, &e, err, sizeof err) == 0 && e.n == 2 &&
               e.ids[1] == 100257,
           "allow_special");
        ok(lm_tiktoken_encode(t, NULL, "x<|endoftext|>", 14, 0, 0, &e, err, sizeof err) == 0 && e.n > 2,
           "ordinary: special text is plain text");
        lm_tiktoken_enc_free(&e);
        lm_tiktoken_free(t);
    }
    free(f);
    f = bytes_file("");
    ok(!(t = mem(f, "o200k_base")) || 1, "o200k load");
    lm_tiktoken_free(t);
    free(f);
    /* a special id that is also a rank */
    size_t cap = 300000 * 12;
    char *s = malloc(cap);
    f = bytes_file("");
    size_t n = strlen(f);
    memcpy(s, f, n);
    for (int r = 256; r < 50300; r++) {
        /* distinct 3-byte tokens: the bytes of r */
        static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        uint32_t v = (uint32_t)r;
        n += (size_t)sprintf(s + n, "%c%c%c%c %d\n", b64[v >> 18], b64[v >> 12 & 63], b64[v >> 6 & 63],
                             b64[v & 63], r);
    }
    s[n] = 0;
    ok(!lm_tiktoken_load_mem(s, n, "x", "r50k_base", err, sizeof err) &&
           err_has("special token <|endoftext|>"),
       "special id collides with a rank: %s", err);
    free(s);
    free(f);
    is_str(lm_tiktoken_infer("/a/b/cl100k_base.tiktoken"), "cl100k_base", "infer cl100k");
    is_str(lm_tiktoken_infer("o200k_base.tiktoken"), "o200k_base", "infer o200k");
    is_str(lm_tiktoken_infer("models/Kimi-K2-Instruct/tiktoken.model"), "kimi_k2", "infer kimi");
    ok(lm_tiktoken_infer("tiny.tiktoken") == NULL, "no inference");
}

/* Loads $BUILD/rel; NULL (with a diagnostic) if it cannot. */
static lm_tiktoken *load_built(const char *rel, const char *enc)
{
    const char *build = getenv("BUILD");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", build && *build ? build : "build", rel);
    lm_tiktoken *t = lm_tiktoken_load(path, enc, err, sizeof err);
    if (!t)
        diag("%s ('make fixtures' decompresses it from testdata/tiktoken)", err);
    return t;
}

/* lm_tiktoken_find: $LMKIT_TIKTOKEN for cl100k_base, then the share folder
 * beside the executable (build/share/lmkit from build/tests), then the
 * places searched when nothing is found. */
static void test_find(void)
{
    char where[2048];
    const char *saved = getenv("LMKIT_TIKTOKEN");
    char *keep = saved ? strdup(saved) : NULL;
    setenv("LMKIT_TIKTOKEN", "/some/where.tiktoken", 1);
    char *p = lm_tiktoken_find("cl100k_base", where, sizeof where);
    is_str(p, "/some/where.tiktoken", "find: $LMKIT_TIKTOKEN first, taken as given");
    free(p);
    p = lm_tiktoken_find("o200k_base", where, sizeof where);
    ok(!p || !strstr(p, "where.tiktoken"), "find: $LMKIT_TIKTOKEN is cl100k_base's only");
    free(p);
    unsetenv("LMKIT_TIKTOKEN");
    p = lm_tiktoken_find("cl100k_base", where, sizeof where);
    ok(p && strstr(p, "/share/lmkit/cl100k_base.tiktoken"),
       "find: the share folder beside the executable: %s", p ? p : where);
    lm_tiktoken *t = p ? lm_tiktoken_load(p, NULL, err, sizeof err) : NULL;
    ok(t && lm_tiktoken_n_ranks(t) == 100256, "find: the one found is cl100k_base");
    lm_tiktoken_free(t);
    free(p);
    setenv("TIKTOKEN_CACHE_DIR", "/nonexistent-cache", 1);
    p = lm_tiktoken_find("kimi_k2", where, sizeof where);
    ok(!p && strstr(where, "/share/lmkit/kimi_k2.tiktoken") && !strstr(where, "cache"),
       "find: nothing for kimi_k2, the places searched listed: %s", where);
    free(p);
    p = lm_tiktoken_find("r50k_base", where, sizeof where);
    ok(!p && strstr(where, "tiktoken's cache"), "find: r50k_base searched in tiktoken's cache too: %s",
       where);
    free(p);
    unsetenv("TIKTOKEN_CACHE_DIR");
    if (keep)
        setenv("LMKIT_TIKTOKEN", keep, 1);
    free(keep);
}

/* texts[set][id] */
typedef struct {
    char **s;
    size_t *len;
    size_t n;
} texts;

static texts read_texts(const char *path)
{
    texts T = {0};
    FILE *fp = fopen(path, "r");
    if (!fp)
        return T;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, fp)) > 0) {
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)got, JSON_ALLOW_NUL, &je);
        json_t *tx = json_object_get(j, "text");
        T.s = realloc(T.s, (T.n + 1) * sizeof *T.s);
        T.len = realloc(T.len, (T.n + 1) * sizeof *T.len);
        T.len[T.n] = json_string_length(tx);
        T.s[T.n] = malloc(T.len[T.n] + 1);
        memcpy(T.s[T.n], json_string_value(tx), T.len[T.n] + 1);
        T.n++;
        json_decref(j);
    }
    free(line);
    fclose(fp);
    return T;
}

static void free_texts(texts *T)
{
    for (size_t i = 0; i < T->n; i++)
        free(T->s[i]);
    free(T->s);
    free(T->len);
}

static char *fnv(const uint32_t *ids, size_t n, char out[17])
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++)
            h = (h ^ (ids[i] >> (8 * k) & 0xff)) * 0x100000001b3ull;
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return out;
}

/* Compares every golden record of path (those with "enc" == enc, if given). */
static void check_golden(const lm_tiktoken *t, const char *path, const char *enc, texts *hostile,
                         texts *stress)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        ok(0, "golden %s missing", path);
        return;
    }
    char *line = NULL;
    size_t cap = 0, nrec = 0, nbad = 0, ntok = 0;
    ssize_t got;
    lm_tiktoken_enc e = {0};
    lm_tiktoken_state *st = lm_tiktoken_state_new(t);
    while ((got = getline(&line, &cap, fp)) > 0) {
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)got, 0, &je);
        if (enc && strcmp(json_string_value(json_object_get(j, "enc")), enc) != 0) {
            json_decref(j);
            continue;
        }
        const char *set = json_string_value(json_object_get(j, "set"));
        size_t id = (size_t)json_integer_value(json_object_get(j, "id"));
        texts *T = strcmp(set, "hostile") == 0 ? hostile : stress;
        int special = json_is_true(json_object_get(j, "special"));
        nrec++;
        if (id >= T->n) {
            nbad++;
            json_decref(j);
            continue;
        }
        if (lm_tiktoken_encode(t, st, T->s[id], T->len[id], special, 0, &e, err, sizeof err) != 0) {
            diag("%s %zu: %s", set, id, err);
            nbad++;
            json_decref(j);
            continue;
        }
        ntok += e.n;
        json_t *ids = json_object_get(j, "ids");
        int same = 1;
        if (ids) {
            same = json_array_size(ids) == e.n;
            for (size_t k = 0; same && k < e.n; k++)
                same = (uint32_t)json_integer_value(json_array_get(ids, k)) == e.ids[k];
        } else {
            char h[17];
            same = (size_t)json_integer_value(json_object_get(j, "n")) == e.n &&
                   strcmp(fnv(e.ids, e.n, h), json_string_value(json_object_get(j, "fnv"))) == 0;
        }
        if (!same) {
            if (nbad < 5)
                diag("%s %s %zu%s: ids differ (%zu tokens here)", enc ? enc : path, set, id,
                     special ? " (special)" : "", e.n);
            nbad++;
        }
        /* the count-only path agrees */
        size_t n2;
        if (lm_tiktoken_count(t, st, T->s[id], T->len[id], special, &n2, err, sizeof err) != 0 || n2 != e.n)
            nbad++;
        json_decref(j);
    }
    ok(nrec > 0 && nbad == 0, "%s%s%s: %zu of %zu texts identical to tiktoken (%zu tokens)", path,
       enc ? " " : "", enc ? enc : "", nrec - nbad, nrec, ntok);
    lm_tiktoken_state_free(st);
    lm_tiktoken_enc_free(&e);
    free(line);
    fclose(fp);
}

/* Quadratic scan and heap merge agree on random pieces, and offsets tile
 * the text. */
static void test_merge(const lm_tiktoken *t, texts *stress)
{
    lm_tiktoken_state *st = lm_tiktoken_state_new(t);
    uint64_t x = 88172645463325252ull;
    static const char alpha[] = "aaabbbcdeeeefgghiilmnnooprsstttuy  ,.";
    size_t nbad = 0;
    uint32_t *a = malloc(4000 * sizeof *a), *b = malloc(4000 * sizeof *b);
    char piece[4000];
    for (int it = 0; it < 300; it++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = 2 + x % (it < 250 ? 60 : 3000);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            piece[i] = alpha[x % (sizeof alpha - 1)];
        }
        size_t na = lm_tiktoken_bpe(t, st, piece, n, 1, a);
        size_t nb = lm_tiktoken_bpe(t, st, piece, n, 2, b);
        if (na != nb || memcmp(a, b, na * sizeof *a) != 0)
            nbad++;
    }
    ok(nbad == 0, "quadratic scan and heap merge agree on 300 random pieces");
    free(a);
    free(b);
    /* offsets tile the text and the token bytes spell it */
    lm_tiktoken_enc e = {0};
    size_t bad = 0;
    for (size_t i = 0; i < stress->n; i++) {
        if (lm_tiktoken_encode(t, st, stress->s[i], stress->len[i], 1, 1, &e, err, sizeof err) != 0) {
            bad++;
            continue;
        }
        size_t pos = 0;
        for (size_t k = 0; k < e.n; k++) {
            size_t tl;
            const char *tb = lm_tiktoken_token(t, e.ids[k], &tl);
            if (!tb || e.off[k][0] != pos || e.off[k][1] != pos + tl ||
                memcmp(stress->s[i] + pos, tb, tl) != 0) {
                bad++;
                break;
            }
            pos += tl;
        }
        if (pos != stress->len[i])
            bad++;
    }
    ok(bad == 0, "offsets tile every stress text and the token bytes spell it");
    lm_tiktoken_enc_free(&e);
    lm_tiktoken_state_free(st);
}

/* Encoding in parallel (one state per thread) gives the serial result. */
static void test_threads(const lm_tiktoken *t, texts *T)
{
    size_t *serial = calloc(T->n, sizeof *serial), *par = calloc(T->n, sizeof *par);
    for (size_t i = 0; i < T->n; i++)
        lm_tiktoken_count(t, NULL, T->s[i], T->len[i], 0, &serial[i], err, sizeof err);
    int nbad = 0;
#pragma omp parallel num_threads(4) reduction(+ : nbad)
    {
        lm_tiktoken_state *st = lm_tiktoken_state_new(t);
        lm_tiktoken_enc e = {0};
        char e2[200];
#pragma omp for schedule(dynamic, 1)
        for (size_t k = 0; k < 4 * T->n; k++) {
            size_t i = k % T->n;
            if (lm_tiktoken_encode(t, st, T->s[i], T->len[i], 0, 1, &e, e2, sizeof e2) != 0)
                nbad++;
            par[i] = e.n;
        }
        lm_tiktoken_enc_free(&e);
        lm_tiktoken_state_free(st);
    }
    for (size_t i = 0; i < T->n; i++)
        nbad += serial[i] != par[i];
    ok(nbad == 0, "4 threads sharing one encoding agree with the serial counts");
    free(serial);
    free(par);
}

int main(void)
{
    test_validation();
    test_encoding_fit();
    texts hostile = read_texts("testdata/text/hostile.jsonl");
    texts stress = read_texts("testdata/golden/tiktoken/stress.jsonl");
    ok(hostile.n == 360 && stress.n > 40, "read %zu hostile and %zu stress texts", hostile.n, stress.n);

    static const char *const encs[] = {"cl100k_base", "o200k_base", "r50k_base", "p50k_base", "kimi_k2"};
    for (size_t k = 0; k < 5; k++) {
        lm_tiktoken *t = lm_tiktoken_load("testdata/tokenize/tiny.tiktoken", encs[k], err, sizeof err);
        ok(t != NULL, "load tiny.tiktoken as %s", encs[k]);
        if (!t) {
            diag("%s", err);
            continue;
        }
        check_golden(t, "testdata/golden/tiktoken/tiny.jsonl", encs[k], &hostile, &stress);
        if (k == 0) {
            test_merge(t, &stress);
            test_threads(t, &hostile);
        }
        lm_tiktoken_free(t);
    }

    lm_tiktoken *cl = load_built("share/lmkit/cl100k_base.tiktoken", NULL);
    if (ok(cl != NULL, "cl100k_base rank file of the build tree loads")) {
        is_int(lm_tiktoken_n_ranks(cl), 100256, "cl100k_base: 100256 ranks");
        is_str(lm_tiktoken_name(cl), "cl100k_base", "encoding inferred from the file name");
        check_golden(cl, "testdata/golden/tiktoken/cl100k_base.jsonl", NULL, &hostile, &stress);
        test_merge(cl, &stress);
        lm_tiktoken_free(cl);
    }
    lm_tiktoken *ki = load_built("testdata/tiktoken/kimi-k2-instruct/tiktoken.model", NULL);
    if (ok(ki != NULL, "Kimi K2 tiktoken.model of the build tree loads")) {
        is_str(lm_tiktoken_name(ki), "kimi_k2", "Kimi encoding inferred from the path");
        check_golden(ki, "testdata/golden/tiktoken/kimi_k2.jsonl", NULL, &hostile, &stress);
        lm_tiktoken_free(ki);
    }
    test_find();
    free_texts(&hostile);
    free_texts(&stress);
    return tap_done();
}
