/* shape.c - attention shapes from JSON Lines records (see harness.h). */
#include "attn/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"

/* An optional (required = 0) or required integer member in [lo, hi]: 1 when
 * read, 0 when absent, -1 with err set. */
static int get_int_member(const lm_record *in, const char *key, int required, int64_t lo, int64_t hi,
                          int64_t *out, lm_rerr *err)
{
    const lm_member *m = lm_rec_get(in, key);
    if (!m) {
        if (required) {
            lm_rerr_set(err, LM_NOPOS, "no \"%s\" field", key);
            lm_rerr_hint(err, "a shape reads {\"batch\":1,\"heads\":32,\"kv_heads\":8,"
                              "\"head_dim\":128,\"ctx\":131072}");
            return -1;
        }
        return 0;
    }
    if (m->type != LM_J_NUMBER) {
        lm_rerr_set(err, m->vpos, "\"%s\" must be a number, not %s", key, lm_jtype_name(m->type));
        return -1;
    }
    int64_t v;
    if (lm_jint(in->text + m->vpos, m->vlen, &v)) {
        lm_rerr_set(err, m->vpos, "\"%s\" must be a whole number, not %.*s", key, (int)m->vlen,
                    in->text + m->vpos);
        return -1;
    }
    if (v < lo || v > hi) {
        lm_rerr_set(err, m->vpos, "\"%s\" is %lld; it must lie in [%lld, %lld]", key, (long long)v,
                    (long long)lo, (long long)hi);
        return -1;
    }
    *out = v;
    return 1;
}

static int ctx_value(const lm_record *in, size_t pos, size_t len, int idx, int *out, lm_rerr *err)
{
    int64_t v;
    char what[32];
    if (idx < 0)
        snprintf(what, sizeof what, "\"ctx\"");
    else
        snprintf(what, sizeof what, "\"ctx\"[%d]", idx);
    if (lm_jint(in->text + pos, len, &v)) {
        lm_rerr_set(err, pos, "%s must be a whole number, not %.*s", what, (int)len, in->text + pos);
        return -1;
    }
    if (v < 0) {
        lm_rerr_set(err, pos, "%s is negative (%lld): context lengths are >= 0", what, (long long)v);
        return -1;
    }
    if (v > ATTN_MAX_CTX) {
        lm_rerr_set(err, pos, "%s is %lld; at most %d tokens are supported", what, (long long)v,
                    ATTN_MAX_CTX);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int attn_shape_parse(const lm_record *in, attn_shape *s, lm_rerr *err)
{
    memset(s, 0, sizeof *s);
    int64_t batch = 0, heads = 0, kvh = 0, hd = 0;
    int has_batch = get_int_member(in, "batch", 0, 1, ATTN_MAX_BATCH, &batch, err);
    if (has_batch < 0 || get_int_member(in, "heads", 1, 1, ATTN_MAX_HEADS, &heads, err) < 0)
        return -1;
    int has_kv = get_int_member(in, "kv_heads", 0, 1, ATTN_MAX_HEADS, &kvh, err);
    if (has_kv < 0 || get_int_member(in, "head_dim", 1, 1, 1 << 16, &hd, err) < 0)
        return -1;
    if (!has_kv)
        kvh = heads;
    if (hd != 64 && hd != 128) {
        const lm_member *m = lm_rec_get(in, "head_dim");
        lm_rerr_set(err, m->vpos, "\"head_dim\" is %lld; it must be 64 or 128", (long long)hd);
        return -1;
    }
    if (heads % kvh) {
        const lm_member *m = lm_rec_get(in, "kv_heads");
        lm_rerr_set(err, m->vpos, "\"heads\" (%lld) is not divisible by \"kv_heads\" (%lld)",
                    (long long)heads, (long long)kvh);
        lm_rerr_hint(err, "each KV head serves heads/kv_heads query heads (GQA)");
        return -1;
    }
    const lm_member *m = lm_rec_get(in, "ctx");
    if (!m) {
        lm_rerr_set(err, LM_NOPOS, "no \"ctx\" field");
        lm_rerr_hint(err, "give the context length, \"ctx\":131072, or one per sequence, "
                          "\"ctx\":[131072,2048]");
        return -1;
    }
    if (m->type == LM_J_NUMBER) {
        int L;
        if (ctx_value(in, m->vpos, m->vlen, -1, &L, err))
            return -1;
        if (!has_batch)
            batch = 1;
        s->lens = lm_xmalloc((size_t)batch * sizeof *s->lens);
        for (int64_t b = 0; b < batch; b++)
            s->lens[b] = L;
    } else if (m->type == LM_J_ARRAY) {
        /* the scanner validated the JSON; walk the elements */
        const char *t = in->text;
        size_t p = m->vpos + 1, end = m->vpos + m->vlen - 1, cap = 0, n = 0;
        int *lens = NULL;
        for (;;) {
            while (p < end && strchr(" \t\r\n", t[p]))
                p++;
            if (p >= end)
                break;
            size_t q = p;
            if (!(t[p] == '-' || (t[p] >= '0' && t[p] <= '9'))) {
                lm_rerr_set(err, p, "\"ctx\"[%zu] must be a number", n);
                free(lens);
                return -1;
            }
            while (q < end && !strchr(", \t\r\n", t[q]))
                q++;
            lm_grow(lens, cap, n + 1);
            if (n >= ATTN_MAX_BATCH) {
                lm_rerr_set(err, p, "\"ctx\" lists more than %d sequences", ATTN_MAX_BATCH);
                free(lens);
                return -1;
            }
            if (ctx_value(in, p, q - p, (int)n, &lens[n], err)) {
                free(lens);
                return -1;
            }
            n++;
            while (q < end && strchr(" \t\r\n", t[q]))
                q++;
            p = q < end && t[q] == ',' ? q + 1 : q;
        }
        if (n == 0) {
            lm_rerr_set(err, m->vpos, "\"ctx\" is an empty list");
            free(lens);
            return -1;
        }
        if (has_batch && (size_t)batch != n) {
            const lm_member *mb = lm_rec_get(in, "batch");
            lm_rerr_set(err, mb->vpos, "\"batch\" is %lld but \"ctx\" lists %zu lengths", (long long)batch,
                        n);
            free(lens);
            return -1;
        }
        batch = (int64_t)n;
        s->lens = lens;
        s->ragged = 1;
    } else {
        lm_rerr_set(err, m->vpos, "\"ctx\" must be a number or a list of numbers, not %s",
                    lm_jtype_name(m->type));
        return -1;
    }
    s->dims = (attn_dims){(int)batch, (int)heads, (int)kvh, (int)hd, 0};
    return 0;
}
