/* fuzz_jsonl.c - fuzz target for the JSON Lines scanner and record splicing.
 *
 * Input: arbitrary bytes, split into lines.  For every line the strict
 * scanner must either reject it or accept it; when it accepts, splicing
 * fields into the record must give a line the scanner accepts again, with
 * every original member kept in order and the new fields present, and every
 * decoded string must be valid UTF-8.  Owned (output) names never hold NUL:
 * a key decoding to one is set as its NUL-cut prefix, which must replace
 * only a member named exactly that, or be appended.  Any violation aborts.
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
    /* Set two fields and replace the first member.  Output field names are
     * chosen by commands and never contain NUL, so a key that
     * decodes to hold NUL is set as its NUL-cut prefix. */
    lm_out o = {0};
    lm_out_reset(&o);
    lm_out_num(&o, "x_added", 0.1);
    lm_out_str(&o, "s_added", "\xc3\xa9\n\"");
    if (r.scan.n)
        lm_out_int(&o, r.scan.m[0].key, 42);
    /* The fields alone, as a standalone record: the expected names/values. */
    lm_buf std = {0};
    lm_out_render(&o, NULL, &std);
    lm_jscan fs = {0};
    if (lm_json_scan_object(&fs, std.p, std.n - 1, &e) != 0)
        abort();
    lm_buf out = {0};
    lm_out_render(&o, &r, &out);
    lm_record r2 = {.text = out.p, .len = out.n - 1};
    if (lm_json_scan_object(&r2.scan, out.p, out.n - 1, &e) != 0)
        abort();
    /* A field replaces the input member whose key equals its name in full
     * (never one that only matches up to a NUL); the others are appended. */
    unsigned char used[4] = {0};
    if (fs.n > 3)
        abort();
    for (size_t k = 0; k < r.scan.n; k++) {
        const lm_member *a = &r.scan.m[k], *b = k < r2.scan.n ? &r2.scan.m[k] : NULL;
        if (!b || b->klen != a->klen || memcmp(b->key, a->key, a->klen) != 0)
            abort(); /* every input member kept, in order */
        size_t j = 0;
        while (j < fs.n && !(fs.m[j].klen == a->klen && memcmp(fs.m[j].key, a->key, a->klen) == 0))
            j++;
        const char *want = text + a->vpos;
        size_t wlen = a->vlen;
        if (j < fs.n) {
            if (memchr(a->key, 0, a->klen))
                abort(); /* no owned name holds NUL */
            want = std.p + fs.m[j].vpos, wlen = fs.m[j].vlen, used[j] = 1;
        }
        if (b->vlen != wlen || memcmp(out.p + b->vpos, want, wlen) != 0)
            abort(); /* replaced by the field, or untouched */
    }
    size_t at = r.scan.n;
    for (size_t j = 0; j < fs.n; j++) {
        const lm_member *f = &fs.m[j], *g = lm_jscan_get(&r.scan, f->key);
        if (used[j] != (g != NULL))
            abort(); /* lookup by the owned name finds exactly the replaced member */
        if (g && (g->klen != f->klen || memcmp(g->key, f->key, f->klen) != 0))
            abort();
        if (used[j])
            continue;
        const lm_member *b = at < r2.scan.n ? &r2.scan.m[at++] : NULL;
        if (!b || b->klen != f->klen || memcmp(b->key, f->key, f->klen) != 0 || b->vlen != f->vlen ||
            memcmp(out.p + b->vpos, std.p + f->vpos, f->vlen) != 0)
            abort(); /* appended in order */
    }
    if (r2.scan.n != at)
        abort();
    lm_jscan_free(&fs);
    lm_buf_free(&std);
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
