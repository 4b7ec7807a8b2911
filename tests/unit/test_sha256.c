/* test_sha256.c - SHA-256 against the FIPS 180-4 examples (NIST's "Example
 * Algorithms" for SHA-256: one block, two blocks, a million 'a') and the
 * 896-bit message of the NIST vectors, one-shot and fed in uneven pieces. */
#include <string.h>

#include "core/diag.h"
#include "core/sha256.h"
#include "tap.h"

static void hex32(const unsigned char d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

int main(void)
{
    static const struct {
        const char *msg, *want;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmno"
         "pqrs"
         "tnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    char got[65];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        lm_sha256_hex(v[i].msg, strlen(v[i].msg), got);
        is_str(got, v[i].want, "one-shot vector %zu (%zu bytes)", i, strlen(v[i].msg));
        /* the same message fed one byte, then 3, then the rest */
        lm_sha256 s;
        unsigned char d[32];
        size_t n = strlen(v[i].msg), a = n < 1 ? n : 1, b = n - a < 3 ? n - a : 3;
        lm_sha256_init(&s);
        lm_sha256_update(&s, v[i].msg, a);
        lm_sha256_update(&s, v[i].msg + a, b);
        lm_sha256_update(&s, v[i].msg + a + b, n - a - b);
        lm_sha256_final(&s, d);
        hex32(d, got);
        is_str(got, v[i].want, "incremental vector %zu", i);
    }
    /* one million 'a', in chunks of 1000 */
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    lm_sha256 s;
    unsigned char d[32];
    lm_sha256_init(&s);
    for (int i = 0; i < 1000; i++)
        lm_sha256_update(&s, chunk, sizeof chunk);
    lm_sha256_final(&s, d);
    hex32(d, got);
    is_str(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "one million 'a'");
    /* every length from 0 to 130 through the padding edges (55, 56, 63, 64):
     * one-shot and byte-by-byte agree */
    char buf[130];
    for (int i = 0; i < 130; i++)
        buf[i] = (char)('0' + i % 64);
    int agree = 1;
    for (size_t n = 0; n <= sizeof buf; n++) {
        char one[65];
        lm_sha256_hex(buf, n, one);
        lm_sha256_init(&s);
        for (size_t i = 0; i < n; i++)
            lm_sha256_update(&s, buf + i, 1);
        lm_sha256_final(&s, d);
        hex32(d, got);
        agree &= strcmp(one, got) == 0;
    }
    ok(agree, "lengths 0..130: one-shot equals byte-by-byte");
    return tap_done();
}
