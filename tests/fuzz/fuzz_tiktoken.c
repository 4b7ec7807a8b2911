/* fuzz_tiktoken.c - fuzz target for the tiktoken rank-file loader
 * (lib/text/tiktoken.c, lm_tiktoken_load_mem) and, when a file loads, for
 * encoding with it.
 *
 * Input: a rank file as bytes.  If it starts with '+', the 256 single-byte
 * ranks are put in front of the rest (so merges and encoding get exercised)
 * and the second byte picks the encoding.  Loading must either fail with a
 * message or give an encoding whose ids spell the text back, for a fixed
 * text and for the input itself when it is valid UTF-8.  Any violation
 * aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "text/tiktoken.h"

static void check_encode(const lm_tiktoken *t, lm_tiktoken_state *st, const char *s, size_t n)
{
    char err[256];
    lm_tiktoken_enc e = {0};
    for (int special = 0; special < 2; special++) {
        if (lm_tiktoken_encode(t, st, s, n, special, 1, &e, err, sizeof err) != 0) {
            if (lm_utf8_valid_prefix(s, n, 0) == n)
                abort(); /* valid text must encode */
            continue;
        }
        size_t pos = 0, cnt = 0;
        for (size_t k = 0; k < e.n; k++) {
            size_t tl;
            const char *tb = lm_tiktoken_token(t, e.ids[k], &tl);
            if (!tb || e.off[k][0] != pos || e.off[k][1] != pos + tl || pos + tl > n ||
                memcmp(s + pos, tb, tl))
                abort();
            pos += tl;
        }
        if (pos != n || lm_tiktoken_count(t, st, s, n, special, &cnt, err, sizeof err) != 0 || cnt != e.n)
            abort();
    }
    lm_tiktoken_enc_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char *const enc[] = {"cl100k_base", "o200k_base", "r50k_base", "kimi_k2"};
    char err[256];
    const char *name = "cl100k_base";
    char *buf = NULL;
    const char *p = (const char *)data;
    size_t n = size;
    if (size >= 2 && data[0] == '+') {
        name = enc[data[1] % 4];
        buf = malloc(256 * 12 + size);
        if (!buf)
            return 0;
        size_t m = 0;
        for (int b = 0; b < 256; b++)
            m += (size_t)sprintf(buf + m, "%c%c== %d\n", b64[b >> 2], b64[(b & 3) << 4], b);
        memcpy(buf + m, data + 2, size - 2);
        p = buf;
        n = m + size - 2;
    }
    err[0] = 0;
    lm_tiktoken *t = lm_tiktoken_load_mem(p, n, "fuzz.tiktoken", name, err, sizeof err);
    if (!t) {
        if (!err[0] || strlen(err) >= sizeof err)
            abort(); /* a failure always says why */
    } else {
        lm_tiktoken_state *st = lm_tiktoken_state_new(t);
        if (!st)
            abort();
        static const char text[] = "Hello, world! It's 2024 <|endoftext|> \xe4\xb8\xad\xe6\x96\x87  \n\n x";
        check_encode(t, st, text, sizeof text - 1);
        check_encode(t, st, (const char *)data, size);
        lm_tiktoken_state_free(st);
        lm_tiktoken_free(t);
    }
    free(buf);
    return 0;
}
