/* fuzz_tokenizer_json.c - fuzz target for the tokenizer.json loader and the
 * encode/decode pipeline (lib/text/tokenizer.h).
 *
 * Input: arbitrary bytes taken as a tokenizer.json.  Loading must either fail
 * with a message or succeed; when it succeeds, a few fixed texts are encoded
 * (with and without special tokens), the ids decoded, run-time tokens added,
 * and every offset must lie inside the text.  Any crash, leak or violation
 * aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    err[0] = 0;
    lm_tokenizer *t = lm_tokenizer_load_mem((const char *)data, size, "fuzz.json", err, sizeof err);
    if (!t) {
        if (!err[0])
            abort(); /* a failure always says why */
        return 0;
    }
    static const char *texts[] = {"", "Hello, World! 123", "  a\u00e9\u4e2d\t[NEW0]x\r\n",
                                  "\xf0\x9f\x98\x80 <s>"};
    lm_encoding e = {0};
    lm_buf b = {0};
    for (int round = 0; round < 2; round++) {
        for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) {
            size_t len = strlen(texts[k]);
            for (int sp = 0; sp < 2; sp++) {
                if (lm_tokenizer_encode(t, texts[k], len, sp, &e, err, sizeof err) != 0)
                    continue;
                for (size_t i = 0; i < e.n; i++)
                    if (e.off[i][0] > e.off[i][1] || e.off[i][1] > len)
                        abort();
                lm_buf_reset(&b);
                lm_tokenizer_decode(t, e.ids, e.n, sp, &b, err, sizeof err);
            }
        }
        const char *news[] = {"[NEW0]", "x"};
        if (lm_tokenizer_add_tokens(t, news, 2, round, err, sizeof err) != 0)
            break;
    }
    size_t n = lm_tokenizer_vocab_size(t);
    for (size_t i = 0; i < n && i < 64; i++) {
        size_t len;
        const char *s = lm_tokenizer_token(t, (int32_t)i, &len);
        if (s && lm_tokenizer_id(t, s, len) < 0)
            abort();
    }
    lm_encoding_free(&e);
    lm_buf_free(&b);
    lm_tokenizer_free(t);
    return 0;
}
