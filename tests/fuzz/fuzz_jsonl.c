/* fuzz_jsonl.c - fuzz target for the JSON Lines scanner and record splicing.
 *
 * Input: arbitrary bytes, split into lines.  For every line the strict
 * scanner must either reject it or accept it; when it accepts, splicing
 * fields into the record must give a line the scanner accepts again, with
 * every original member kept in order and the new fields present, and every
 * decoded string must be valid UTF-8.  Any violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/jsonl.h"
#include "core/utf8.h"

static void check_line(const char *text, size_t len)
{
    lm_record r = {.file = "fuzz", .lineno = 1, .text = text, .len = len};
    lm_jerr e;
    int rc = lm_json_scan_object(&r.scan, text, len, &e);
    lm_jerr e2;
    int rc2 = lm_json_validate(text, len, &e2);
    if (rc == 0 && rc2 != 0)
        abort(); /* an object the scanner accepts is a valid JSON value */
    if (rc != 0) {
        if (e.pos > len)
            abort();
        lm_jscan_free(&r.scan);
        return;
    }
    lm_buf dec = {0};
    for (size_t k = 0; k < r.scan.n; k++) {
        const lm_member *m = &r.scan.m[k];
        if (m->vpos + m->vlen > len)
            abort();
        if (m->type == LM_J_STRING) {
            lm_buf_reset(&dec);
            lm_jstr_decode(&dec, text + m->vpos, m->vlen);
            if (lm_utf8_valid_prefix(dec.p ? dec.p : "", dec.n, 0) != dec.n)
                abort();
        } else if (m->type == LM_J_NUMBER) {
            double d;
            int64_t i;
            (void)lm_jnum(text + m->vpos, m->vlen, &d);
            (void)lm_jint(text + m->vpos, m->vlen, &i);
        }
    }
    lm_buf_free(&dec);
    lm_out o = {0};
    lm_out_reset(&o);
    lm_out_num(&o, "x_added", 0.1);
    lm_out_str(&o, "s_added", "\xc3\xa9\n\"");
    if (r.scan.n)
        lm_out_int(&o, r.scan.m[0].key, 42); /* replace the first member */
    lm_buf out = {0};
    lm_out_render(&o, &r, &out);
    lm_record r2 = {.text = out.p, .len = out.n - 1};
    if (lm_json_scan_object(&r2.scan, out.p, out.n - 1, &e) != 0)
        abort();
    size_t want = r.scan.n + 2;
    if (r2.scan.n != want)
        abort();
    for (size_t k = 1; k < r.scan.n; k++)
        if (r2.scan.m[k].vlen != r.scan.m[k].vlen ||
            memcmp(out.p + r2.scan.m[k].vpos, text + r.scan.m[k].vpos, r.scan.m[k].vlen) != 0)
            abort();
    lm_jscan_free(&r2.scan);
    lm_buf_free(&out);
    lm_out_free(&o);
    lm_jscan_free(&r.scan);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        check_line(p, n);
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}
