/* fuzz_leanattn_shape.c - fuzz target for the shape records of
 * leanattn-bench (attn_shape_parse in lib/attn/shape.c).
 *
 * Input: arbitrary bytes split into lines.  Every line the JSON Lines
 * scanner accepts is read as a shape.  The parser must either reject it
 * with a message (at a position inside the line, or none), or give a shape
 * within the documented limits: batch in [1, ATTN_MAX_BATCH] with one context
 * length in [0, ATTN_MAX_CTX] per sequence, heads divisible by kv_heads, head_dim
 * 64 or 128.  Any violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attn/harness.h"

static void check_line(const char *text, size_t len)
{
    lm_record r = {.file = "fuzz", .lineno = 1, .text = text, .len = len};
    lm_jerr je;
    if (lm_json_scan_object(&r.scan, text, len, &je) != 0) {
        lm_jscan_free(&r.scan);
        return;
    }
    attn_shape s;
    lm_rerr e = {.pos = LM_NOPOS};
    if (attn_shape_parse(&r, &s, &e) != 0) {
        if (e.msg.n == 0 || (e.pos != LM_NOPOS && e.pos >= len))
            abort();
    } else {
        const attn_dims *d = &s.dims;
        if (d->B < 1 || d->B > ATTN_MAX_BATCH || d->H_q < 1 || d->H_q > ATTN_MAX_HEADS || d->H_kv < 1 ||
            d->H_q % d->H_kv != 0 || (d->D != 64 && d->D != 128) || !s.lens)
            abort();
        for (int b = 0; b < d->B; b++)
            if (s.lens[b] < 0 || s.lens[b] > ATTN_MAX_CTX)
                abort();
        free(s.lens);
    }
    lm_rerr_free(&e);
    lm_jscan_free(&r.scan);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        check_line(p, n);
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}
