/* strmap.h - a map from byte strings to dense ids (0, 1, 2, ... in order of
 * first insertion), by open addressing.  Used to group records by the raw
 * text of a field and to number distinct values.  Not thread-safe. */
#ifndef LMKIT_CORE_STRMAP_H
#define LMKIT_CORE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct {
    uint32_t *slot; /* id + 1, 0 for empty */
    size_t cap;     /* power of two */
    size_t n;       /* ids handed out */
    lm_buf keys;    /* key bytes, back to back */
    size_t *off;    /* start of key id in keys (n + 1 entries) */
    size_t capoff;
    uint64_t *hash;
    size_t caphash;
} lm_strmap;

/* The id of key (inserted if new); *is_new tells which (may be NULL). */
uint32_t lm_strmap_id(lm_strmap *m, const char *key, size_t len, int *is_new);
/* The key of an id and its length. */
const char *lm_strmap_key(const lm_strmap *m, uint32_t id, size_t *len);
void lm_strmap_free(lm_strmap *m);

#endif
