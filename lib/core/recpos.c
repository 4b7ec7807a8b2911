/* recpos.c - byte positions inside a record's members (recpos.h). */
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/recpos.h"

size_t lm_rec_value_pos(const lm_record *in, const lm_member *m, const char *key)
{
    lm_jscan s = {0};
    lm_jerr je;
    size_t pos = m->vpos;
    if (lm_json_scan_object(&s, in->text + m->vpos, m->vlen, &je) == 0) {
        const lm_member *k = lm_jscan_get(&s, key);
        if (k)
            pos = m->vpos + k->vpos;
    }
    lm_jscan_free(&s);
    return pos;
}

size_t lm_rec_key_pos(const lm_record *in, const lm_member *m, const char *key)
{
    lm_buf k = {0};
    lm_buf_add_jstr(&k, key, strlen(key));
    const char *val = in->text + m->vpos;
    size_t pos = m->vpos;
    for (size_t i = 0; i + k.n <= m->vlen; i++)
        if (memcmp(val + i, k.p, k.n) == 0) {
            pos = m->vpos + i;
            break;
        }
    lm_buf_free(&k);
    return pos;
}
