/* strmap.c - string to dense-id map (see strmap.h). */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#include "diag.h"

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static void rehash(lm_strmap *m, size_t cap)
{
    uint32_t *slot = lm_xcalloc(cap, sizeof *slot);
    for (size_t id = 0; id < m->n; id++) {
        size_t i = (size_t)m->hash[id] & (cap - 1);
        while (slot[i])
            i = (i + 1) & (cap - 1);
        slot[i] = (uint32_t)id + 1;
    }
    free(m->slot);
    m->slot = slot;
    m->cap = cap;
}

uint32_t lm_strmap_id(lm_strmap *m, const char *key, size_t len, int *is_new)
{
    if (m->cap == 0)
        rehash(m, 64);
    uint64_t h = hash_bytes(key, len);
    size_t i = (size_t)h & (m->cap - 1);
    while (m->slot[i]) {
        uint32_t id = m->slot[i] - 1;
        if (m->hash[id] == h && m->off[id + 1] - m->off[id] == len &&
            memcmp(m->keys.p + m->off[id], key, len) == 0) {
            if (is_new)
                *is_new = 0;
            return id;
        }
        i = (i + 1) & (m->cap - 1);
    }
    if (m->n >= UINT32_MAX - 1)
        lm_die(LM_EXIT_USAGE, "too many distinct values (more than %u)", UINT32_MAX - 1);
    uint32_t id = (uint32_t)m->n;
    lm_grow(m->off, m->capoff, m->n + 2);
    lm_grow(m->hash, m->caphash, m->n + 1);
    if (m->n == 0)
        m->off[0] = 0;
    lm_buf_add(&m->keys, key, len);
    m->off[id + 1] = m->keys.n;
    m->hash[id] = h;
    m->n++;
    m->slot[i] = id + 1;
    if (m->n * 2 > m->cap)
        rehash(m, m->cap * 2);
    if (is_new)
        *is_new = 1;
    return id;
}

const char *lm_strmap_key(const lm_strmap *m, uint32_t id, size_t *len)
{
    *len = m->off[id + 1] - m->off[id];
    return m->keys.p + m->off[id];
}

void lm_strmap_free(lm_strmap *m)
{
    free(m->slot);
    free(m->off);
    free(m->hash);
    lm_buf_free(&m->keys);
    memset(m, 0, sizeof *m);
}
