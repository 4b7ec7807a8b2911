/* hftok_unicode.c - lookups in the generated Unicode tables (hftok_unidata.c)
 * for the tokenizer.json engine: categories, combining classes, lowercase,
 * decomposition and composition (UAX #15; Hangul syllables algorithmic).
 * Does not do whole-string normalization: tokenizer.c does that, because it
 * must track how every output character aligns with the input. */
#include "text/hftok_unicode.h"

size_t lm_uni_run_of(const uint32_t *start, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (start[mid] <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

int lm_hft_category(uint32_t cp)
{
    if (cp < 0x80) {
        if (cp < 0x20 || cp == 0x7f)
            return HFT_Cc;
        if (cp == ' ')
            return HFT_Zs;
        if ((cp >= 'a' && cp <= 'z'))
            return HFT_Ll;
        if ((cp >= 'A' && cp <= 'Z'))
            return HFT_Lu;
        if (cp >= '0' && cp <= '9')
            return HFT_Nd;
    }
    if (cp > 0x10FFFF)
        return HFT_Cn;
    return lm_hft_gc_cat[lm_uni_run_of(lm_hft_gc_start, lm_hft_gc_n, cp)];
}

int lm_hft_ccc(uint32_t cp)
{
    if (cp < 0x300 || cp > 0x10FFFF)
        return 0;
    return lm_hft_cc_val[lm_uni_run_of(lm_hft_cc_start, lm_hft_cc_n, cp)];
}

int lm_hft_is_space(uint32_t cp)
{
    return (cp >= 9 && cp <= 13) || cp == ' ' || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

int lm_hft_is_punct(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
               (cp >= 123 && cp <= 126);
    int c = lm_hft_category(cp);
    return c >= HFT_Pc && c <= HFT_Po;
}

int lm_hft_is_numeric(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= '0' && cp <= '9';
    int c = lm_hft_category(cp);
    return c == HFT_Nd || c == HFT_Nl || c == HFT_No;
}

size_t lm_hft_lower(uint32_t cp, uint32_t out[3])
{
    if (cp < 0x80) {
        out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
        return 1;
    }
    if (cp == 0x130) { /* the one multi-character lowercase: i + combining dot */
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    size_t lo = 0, hi = lm_hft_low_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t k = lm_hft_low[2 * mid];
        if (k == cp) {
            out[0] = lm_hft_low[2 * mid + 1];
            return 1;
        }
        if (k < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    out[0] = cp;
    return 1;
}

enum {
    SBASE = 0xAC00,
    LBASE = 0x1100,
    VBASE = 0x1161,
    TBASE = 0x11A7,
    LCOUNT = 19,
    VCOUNT = 21,
    TCOUNT = 28,
    NCOUNT = VCOUNT * TCOUNT,
    SCOUNT = LCOUNT * NCOUNT
};

/* Index of cp in the decomposition table, or -1. */
static long dec_index(uint32_t cp)
{
    size_t lo = 0, hi = lm_hft_dec_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t k = lm_hft_dec_cp[mid] & 0x7FFFFFFFu;
        if (k == cp)
            return (long)mid;
        if (k < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static size_t decompose_rec(uint32_t cp, int compat, uint32_t *out, size_t n, int depth)
{
    if (n >= 32)
        return n;
    if (cp >= SBASE && cp < SBASE + SCOUNT) {
        uint32_t s = cp - SBASE;
        out[n++] = LBASE + s / NCOUNT;
        if (n < 32)
            out[n++] = VBASE + (s % NCOUNT) / TCOUNT;
        if (s % TCOUNT && n < 32)
            out[n++] = TBASE + s % TCOUNT;
        return n;
    }
    long i = cp < 0xC0 && cp != 0xA0 && cp != 0xA8 && cp != 0xAA && cp != 0xAF && !(cp >= 0xB2 && cp <= 0xBF)
                 ? -1
                 : dec_index(cp);
    if (i >= 0 && depth < 8 && (compat || !(lm_hft_dec_cp[i] & 0x80000000u))) {
        for (size_t k = lm_hft_dec_off[i]; k < lm_hft_dec_off[i + 1]; k++)
            n = decompose_rec(lm_hft_dec_data[k], compat, out, n, depth + 1);
        return n;
    }
    out[n++] = cp;
    return n;
}

size_t lm_hft_decompose(uint32_t cp, int compat, uint32_t *out)
{
    return decompose_rec(cp, compat, out, 0, 0);
}

uint32_t lm_hft_compose(uint32_t a, uint32_t b)
{
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE && b < TBASE + TCOUNT)
        return a + (b - TBASE);
    size_t lo = 0, hi = lm_hft_comp_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t x = lm_hft_comp[3 * mid], y = lm_hft_comp[3 * mid + 1];
        if (x == a && y == b)
            return lm_hft_comp[3 * mid + 2];
        if (x < a || (x == a && y < b))
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}
