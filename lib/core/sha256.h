/* sha256.h - SHA-256 (FIPS 180-4 §6.2), incremental and one-shot.
 *
 * Used to key caches by the hash of a canonical request text; not meant for
 * passwords or anything that needs a constant-time implementation.
 */
#ifndef LMKIT_CORE_SHA256_H
#define LMKIT_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t len; /* bytes hashed so far */
    unsigned char blk[64];
    size_t nblk; /* bytes waiting in blk */
} lm_sha256;

void lm_sha256_init(lm_sha256 *s);
void lm_sha256_update(lm_sha256 *s, const void *data, size_t n);
/* Writes the 32-byte digest; s must be initialised again before reuse. */
void lm_sha256_final(lm_sha256 *s, unsigned char out[32]);
/* The digest of data[0..n) as 64 lower-case hex digits and a NUL. */
void lm_sha256_hex(const void *data, size_t n, char out[65]);

#endif
