/* tiktoken.c - tiktoken-format byte-level BPE: rank-file loading with
 * validation, the encodings' split regexes through PCRE2, the merge by rank
 * (the algorithm of tiktoken's _byte_pair_merge), and special tokens.
 *
 * Ranks live in one blob of token bytes with an open-addressing hash table
 * keyed by the bytes (no allocation per lookup or per piece).  Long pieces
 * (thousands of bytes without a split) are merged with a heap that picks the
 * same pair as the quadratic scan: the lowest rank, leftmost on ties.
 * Each thread state keeps a small direct-mapped cache of merged pieces.
 * Does not: decode ids to text, read tokenizer.json, guess a regex for an
 * unknown file (the encoding is named or inferred from the file name).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/tiktoken.h"

#include <errno.h>
#include <limits.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/utf8.h"
#include "core/diag.h"

/* ---- the encodings ---- */

/* Unicode White_Space: what \s means in tiktoken's regex engine. */
#define WS \
    "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
#define S_ "[" WS "]"
#define NS_ "[^" WS "]"

typedef struct {
    const char *s;
    uint32_t id;
} special_def;

typedef struct {
    const char *name;
    const char *pattern;
    const special_def *specials;
    uint32_t n_ranks; /* ranks in the encoding's own rank file */
} encoding_def;

static const special_def cl100k_specials[] = {
    {"<|endoftext|>", 100257},  {"<|fim_prefix|>", 100258},  {"<|fim_middle|>", 100259},
    {"<|fim_suffix|>", 100260}, {"<|endofprompt|>", 100276}, {NULL, 0},
};
static const special_def o200k_specials[] = {
    {"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}, {NULL, 0}};
static const special_def r50k_specials[] = {{"<|endoftext|>", 50256}, {NULL, 0}};
static const special_def no_specials[] = {{NULL, 0}};

/* tiktoken: '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|
 * ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s */
static const char cl100k_pat[] =
    "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}++|\\p{N}{1,3}+| ?[^" WS
    "\\p{L}\\p{N}]++[\\r\\n]*+|" S_ "++\\z|" S_ "*[\\r\\n]|" S_ "+(?!" NS_ ")|" S_;

/* tiktoken: '(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s */
static const char r50k_pat[] =
    "'(?:[sdmt]|ll|ve|re)| ?\\p{L}++| ?\\p{N}++| ?[^" WS "\\p{L}\\p{N}]++|" S_ "++\\z|" S_ "+(?!" NS_ ")|" S_;

#define O2_UP "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]"
#define O2_LO "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]"
#define CONTR "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
static const char o200k_pat[] =
    "[^\\r\\n\\p{L}\\p{N}]?" O2_UP "*" O2_LO "+" CONTR "|"
    "[^\\r\\n\\p{L}\\p{N}]?" O2_UP "+" O2_LO "*" CONTR "|"
    "\\p{N}{1,3}|"
    " ?[^" WS "\\p{L}\\p{N}]+[\\r\\n/]*|" S_ "*[\\r\\n]+|" S_ "+(?!" NS_ ")|" S_ "+";

/* tokenization_kimi.py: the o200k shape with Han runs apart; Rust's class
 * intersection [X&&[^\p{Han}]] becomes (?:(?!\p{Han})X).  Rust's \p{Han}
 * is the Script property (U+3002 is not Han there), PCRE2's bare \p{Han}
 * the Script_Extensions one, hence \p{sc:Han}. */
#define K_UP "(?:(?!\\p{sc:Han})" O2_UP ")"
#define K_LO "(?:(?!\\p{sc:Han})" O2_LO ")"
static const char kimi_pat[] =
    "[\\p{sc:Han}]+|"
    "[^\\r\\n\\p{L}\\p{N}]?" K_UP "*" K_LO "+" CONTR "|"
    "[^\\r\\n\\p{L}\\p{N}]?" K_UP "+" K_LO "*" CONTR "|"
    "\\p{N}{1,3}|"
    " ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*|" S_ "*[\\r\\n]+|" S_ "+(?!" NS_ ")|" S_ "+";

static const encoding_def encodings[] = {
    {"cl100k_base", cl100k_pat, cl100k_specials, 100256}, {"o200k_base", o200k_pat, o200k_specials, 199998},
    {"r50k_base", r50k_pat, r50k_specials, 50256},        {"p50k_base", r50k_pat, r50k_specials, 50280},
    {"kimi_k2", kimi_pat, no_specials, 163584},
};
#define N_ENCODINGS (sizeof encodings / sizeof encodings[0])

const char *const lm_tiktoken_encodings[] = {"cl100k_base", "o200k_base", "r50k_base",
                                             "p50k_base",   "kimi_k2",    NULL};

const char *lm_tiktoken_infer(const char *path)
{
    if (!path)
        return NULL;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t k = 0; k < N_ENCODINGS; k++)
        if (strstr(base, encodings[k].name))
            return encodings[k].name;
    /* Kimi ships "tiktoken.model" in a folder named after the model */
    if (strcasestr(path, "kimi"))
        return "kimi_k2";
    return NULL;
}

/* ---- finding a rank file ---- */

/* tiktoken caches a download under the SHA-1 of its URL,
 * https://openaipublic.blob.core.windows.net/encodings/NAME.tiktoken */
static const struct {
    const char *name, *sha1;
} cache_keys[] = {
    {"cl100k_base", "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"},
    {"o200k_base", "fb374d419588a4632f3f557e76b4b70aebbca790"},
    {"r50k_base", "0ea1e91bbb3a60f729a8dc8f777fd2fc07cd8df4"},
    {"p50k_base", "ec7223a39ce59f226a68acc30dc1af2788490e15"},
};

static int is_regular(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Appends place to the list of places searched. */
static void searched_add(char *s, size_t cap, const char *place)
{
    if (!s || !cap)
        return;
    size_t n = strlen(s);
    if (n + 1 < cap)
        snprintf(s + n, cap - n, "%s%s", n ? ", " : "", place);
}

char *lm_tiktoken_find(const char *encoding, char *searched, size_t searchedlen)
{
    if (searched && searchedlen)
        searched[0] = '\0';
    if (!encoding)
        return NULL;
    char p[PATH_MAX + 64];
    if (strcmp(encoding, "cl100k_base") == 0) {
        const char *env = getenv("LMKIT_TIKTOKEN");
        if (env && *env)
            return lm_xstrdup(env);
        searched_add(searched, searchedlen, "$LMKIT_TIKTOKEN (unset)");
    }
    /* DIR/../share/lmkit: drop the executable's name and its folder */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int i = 0; i < 2; i++) {
            char *sl = strrchr(exe, '/');
            if (sl)
                *sl = '\0';
        }
        snprintf(p, sizeof p, "%s/share/lmkit/%s.tiktoken", exe, encoding);
        if (is_regular(p))
            return lm_xstrdup(p);
        searched_add(searched, searchedlen, p);
    }
    const char *sha = NULL;
    for (size_t k = 0; k < sizeof cache_keys / sizeof *cache_keys; k++)
        if (strcmp(cache_keys[k].name, encoding) == 0)
            sha = cache_keys[k].sha1;
    if (!sha)
        return NULL;
    char tmpd[PATH_MAX];
    const char *t = getenv("TMPDIR");
    snprintf(tmpd, sizeof tmpd, "%s/data-gym-cache", t && *t ? t : "/tmp");
    const char *dirs[3] = {getenv("TIKTOKEN_CACHE_DIR"), getenv("DATA_GYM_CACHE_DIR"), tmpd};
    for (int i = 0; i < 3; i++) {
        if (!dirs[i] || !*dirs[i])
            continue;
        snprintf(p, sizeof p, "%s/%s", dirs[i], sha);
        if (is_regular(p))
            return lm_xstrdup(p);
    }
    searched_add(searched, searchedlen,
                 "tiktoken's cache ($TIKTOKEN_CACHE_DIR, $DATA_GYM_CACHE_DIR, "
                 "$TMPDIR/data-gym-cache)");
    return NULL;
}

/* ---- the loaded encoding ---- */

/* A hash slot holds the token's length and first bytes, so that a lookup
 * of a short token touches one cache line. */
#define SLOT_BYTES 11
struct tt_slot {
    uint32_t id1; /* rank + 1; 0 for an empty slot */
    uint8_t len;  /* token length, 255 for 255 or more */
    unsigned char b[SLOT_BYTES];
};

struct lm_tiktoken {
    const encoding_def *def;
    unsigned char *blob;  /* token bytes back to back, rank order */
    uint32_t *off;        /* n + 1 offsets into blob */
    uint32_t n;           /* ranks 0 .. n-1 */
    struct tt_slot *slot; /* open addressing by the bytes' hash */
    uint32_t *pair;       /* rank of each 2-byte token (65536), or UINT32_MAX */
    size_t mask;
    uint32_t byte_rank[256];
    struct tt_special {
        const char *s;
        size_t len;
        uint32_t id;
    } sp[8];
    size_t nsp;
    uint32_t max_id;
    pcre2_code *re;
    int jit;
};

struct lm_tiktoken_state {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *js;
    size_t cap;           /* room of the arrays below, in pieces bytes + 1 */
    uint32_t *bnd, *rank; /* quadratic merge: boundaries and pair ranks */
    uint32_t *nxt, *prv, *ver;
    uint64_t *heap; /* rank << 32 | position */
    uint32_t *hver; /* version of each heap entry */
    size_t capheap;
    uint32_t *tmp; /* merge output of one piece */
    size_t captmp;
    struct tt_cached *cache; /* recent pieces that are not one token */
};

/* A direct-mapped cache of merged pieces: natural text repeats its rare
 * words, and a hit skips the merge. */
#define CACHE_SLOTS 4096
#define CACHE_BYTES 30
#define CACHE_IDS 8
struct tt_cached {
    uint64_t h;
    uint8_t len, n;
    unsigned char b[CACHE_BYTES];
    uint32_t ids[CACHE_IDS];
};

static inline uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

static inline int same_bytes(const unsigned char *a, const unsigned char *b, size_t n)
{
    while (n >= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return 0;
        a += 8, b += 8, n -= 8;
    }
    while (n--)
        if (*a++ != *b++)
            return 0;
    return 1;
}

static inline int slot_is(const lm_tiktoken *t, const struct tt_slot *sl, const unsigned char *p, size_t n)
{
    if (sl->len != (n < 255 ? n : 255))
        return 0;
    if (n <= SLOT_BYTES)
        return same_bytes(sl->b, p, n);
    uint32_t r = sl->id1 - 1;
    return t->off[r + 1] - t->off[r] == n && same_bytes(sl->b, p, SLOT_BYTES) &&
           same_bytes(t->blob + t->off[r] + SLOT_BYTES, p + SLOT_BYTES, n - SLOT_BYTES);
}

/* rank of p[0..n) whose hash is h, or UINT32_MAX */
static inline uint32_t lookup_h(const lm_tiktoken *t, const unsigned char *p, size_t n, uint64_t h)
{
    for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
        const struct tt_slot *sl = &t->slot[i];
        if (!sl->id1)
            return UINT32_MAX;
        if (slot_is(t, sl, p, n))
            return sl->id1 - 1;
    }
}

static inline uint32_t lookup(const lm_tiktoken *t, const unsigned char *p, size_t n)
{
    if (n == 2)
        return t->pair[(size_t)p[0] << 8 | p[1]];
    return lookup_h(t, p, n, hash_bytes(p, n));
}

static const int8_t b64val[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
    ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

/* Decodes padded standard base64 s[0..n) into out (room for n/4*3).
 * Returns the decoded length, or -1 with the 0-based offset of the culprit. */
static long b64_decode(const char *s, size_t n, unsigned char *out, size_t *bad)
{
    if (n == 0 || n % 4) {
        *bad = n;
        return -1;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            if (c == '=' && i + 4 == n && k >= 2) {
                pad++;
                v <<= 6;
                continue;
            }
            if (pad || !b64val[c]) {
                *bad = i + (size_t)k;
                return -1;
            }
            v = v << 6 | (uint32_t)(b64val[c] - 1);
        }
        out[o++] = (unsigned char)(v >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(v >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)v;
    }
    return (long)o;
}

void lm_tiktoken_free(lm_tiktoken *t)
{
    if (!t)
        return;
    free(t->blob);
    free(t->off);
    free(t->slot);
    free(t->pair);
    if (t->re)
        pcre2_code_free(t->re);
    free(t);
}

static const encoding_def *find_encoding(const char *name)
{
    for (size_t k = 0; k < N_ENCODINGS; k++)
        if (strcmp(encodings[k].name, name) == 0)
            return &encodings[k];
    return NULL;
}

static int b64_printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

/* The encoding of a rank file: the one named, else the one its file name
 * tells; NULL with a message if neither is known. */
static const encoding_def *resolve_encoding(const char *name, const char *encoding, char *err, size_t errlen)
{
    if (!encoding) {
        encoding = lm_tiktoken_infer(name);
        if (!encoding) {
            lm_seterr(err, errlen,
                      "%s: cannot tell the encoding from the file name (name one: cl100k_base, "
                      "o200k_base, r50k_base, p50k_base, kimi_k2)",
                      name);
            return NULL;
        }
    }
    const encoding_def *def = find_encoding(encoding);
    if (!def)
        lm_seterr(err, errlen,
                  "unknown encoding '%s' (known: cl100k_base, o200k_base, r50k_base, p50k_base, kimi_k2)",
                  encoding);
    return def;
}

/* A rank file being read: the table it fills and where the reader is. */
typedef struct {
    lm_tiktoken *t;
    const char *name;
    uint32_t *line_of; /* [lines + 1] the line each rank came from */
    size_t lineno;
    uint32_t n, bytes; /* ranks and token bytes so far */
    char *err;
    size_t errlen;
} rank_reader;

/* The tables, sized by upper bounds from the text: its lines and the bytes
 * its base64 decodes to at most.  -1 with a message (a file too large for
 * 32-bit ranks and offsets). */
static int alloc_tables(rank_reader *rd, size_t len, size_t nl)
{
    lm_tiktoken *t = rd->t;
    if (nl >= UINT32_MAX / 2 || len >= UINT32_MAX) {
        lm_seterr(rd->err, rd->errlen, "%s: file too large", rd->name);
        return -1;
    }
    size_t cap = 16;
    while (cap < 2 * nl)
        cap *= 2;
    t->blob = lm_xmalloc(len / 4 * 3 + 1);
    t->off = lm_xmalloc((nl + 1) * sizeof *t->off);
    rd->line_of = lm_xmalloc((nl + 1) * sizeof *rd->line_of);
    t->slot = lm_xcalloc(cap, sizeof *t->slot);
    t->pair = lm_xmalloc(65536 * sizeof *t->pair);
    t->mask = cap - 1;
    t->off[0] = 0;
    return 0;
}

/* The line's two fields, "BASE64 RANK", between blanks.  1: a blank line;
 * 0: found; -1 with a message. */
static int split_fields(rank_reader *rd, const char *q, const char *qe, const char **tok, size_t *toklen,
                        const char **rk, size_t *rklen)
{
    while (qe > q && (qe[-1] == '\r' || qe[-1] == ' ' || qe[-1] == '\t'))
        qe--;
    while (q < qe && (*q == ' ' || *q == '\t'))
        q++;
    if (q == qe)
        return 1;
    *tok = q;
    while (q < qe && *q != ' ' && *q != '\t')
        q++;
    *toklen = (size_t)(q - *tok);
    while (q < qe && (*q == ' ' || *q == '\t'))
        q++;
    *rk = q;
    while (q < qe && *q != ' ' && *q != '\t')
        q++;
    *rklen = (size_t)(q - *rk);
    while (q < qe && (*q == ' ' || *q == '\t'))
        q++;
    if (*rklen == 0 || q != qe) {
        lm_seterr(rd->err, rd->errlen, "%s:%zu: expected \"BASE64 RANK\" (two fields), got %s", rd->name,
                  rd->lineno, *rklen == 0 ? "one field" : "more than two fields");
        return -1;
    }
    return 0;
}

/* Decodes the token into the blob after the bytes so far: its length, or
 * -1 with a message naming the offending column. */
static long decode_token(rank_reader *rd, const char *line, const char *tok, size_t toklen)
{
    const char *name = rd->name;
    size_t lineno = rd->lineno, bad = 0;
    long dl = b64_decode(tok, toklen, rd->t->blob + rd->bytes, &bad);
    if (dl < 0) {
        if (bad < toklen && !b64_printable(tok + bad, 1))
            lm_seterr(rd->err, rd->errlen, "%s:%zu:%zu: bad base64 in the token: byte 0x%02x", name, lineno,
                      (size_t)(tok - line) + bad + 1, (unsigned char)tok[bad]);
        else if (bad < toklen)
            lm_seterr(rd->err, rd->errlen, "%s:%zu:%zu: bad base64 in the token '%.*s': '%c'", name, lineno,
                      (size_t)(tok - line) + bad + 1, toklen > 64 ? 64 : (int)toklen,
                      b64_printable(tok, toklen) ? tok : "?", tok[bad]);
        else
            lm_seterr(rd->err, rd->errlen,
                      "%s:%zu: bad base64 in the token '%.*s': length %zu is not a multiple of 4", name,
                      lineno, toklen > 64 ? 64 : (int)toklen, b64_printable(tok, toklen) ? tok : "?", toklen);
        return -1;
    }
    if (dl == 0) {
        lm_seterr(rd->err, rd->errlen, "%s:%zu: empty token", name, lineno);
        return -1;
    }
    return dl;
}

/* The rank field, which must be the next rank in order: 0, or -1 with a
 * message. */
static int check_rank(rank_reader *rd, const char *rk, size_t rklen)
{
    uint64_t r = 0;
    int okr = rklen <= 10;
    for (size_t i = 0; okr && i < rklen; i++) {
        if (rk[i] < '0' || rk[i] > '9')
            okr = 0;
        else
            r = r * 10 + (uint64_t)(rk[i] - '0');
    }
    if (!okr) {
        lm_seterr(rd->err, rd->errlen, "%s:%zu: rank '%.*s' is not a non-negative integer", rd->name,
                  rd->lineno, rklen > 32 ? 32 : (int)rklen, b64_printable(rk, rklen) ? rk : "?");
        return -1;
    }
    if (r == rd->n)
        return 0;
    if (r < rd->n)
        lm_seterr(rd->err, rd->errlen,
                  "%s:%zu: duplicate rank %llu (already on line %u); ranks must run 0, 1, 2, ...", rd->name,
                  rd->lineno, (unsigned long long)r, rd->line_of[r]);
    else
        lm_seterr(rd->err, rd->errlen,
                  "%s:%zu: rank %llu where %u was expected (missing ranks); ranks must run 0, 1, "
                  "2, ... in order",
                  rd->name, rd->lineno, (unsigned long long)r, rd->n);
    return -1;
}

/* Enters the token just decoded (dl bytes at the end of the blob) under the
 * next rank: 0, or -1 with a message if the same bytes already have one. */
static int add_token(rank_reader *rd, const char *tok, size_t toklen, size_t dl)
{
    lm_tiktoken *t = rd->t;
    const unsigned char *tb = t->blob + rd->bytes;
    uint64_t h = hash_bytes(tb, dl);
    size_t i = (size_t)h & t->mask;
    for (; t->slot[i].id1; i = (i + 1) & t->mask) {
        uint32_t o = t->slot[i].id1 - 1;
        if (slot_is(t, &t->slot[i], tb, dl)) {
            lm_seterr(rd->err, rd->errlen,
                      "%s:%zu: duplicate token '%.*s' (rank %u on line %u has the same bytes)", rd->name,
                      rd->lineno, toklen > 64 ? 64 : (int)toklen, tok, o, rd->line_of[o]);
            return -1;
        }
    }
    t->slot[i].id1 = rd->n + 1;
    t->slot[i].len = (uint8_t)(dl < 255 ? dl : 255);
    memcpy(t->slot[i].b, tb, dl < SLOT_BYTES ? dl : SLOT_BYTES);
    rd->line_of[rd->n] = (uint32_t)rd->lineno;
    rd->bytes += (uint32_t)dl;
    rd->n++;
    t->off[rd->n] = rd->bytes;
    return 0;
}

/* Every line of the text: 0, or -1 with a message. */
static int read_ranks(rank_reader *rd, const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e)
            e = end;
        rd->lineno++;
        const char *line = p, *tok, *rk;
        size_t toklen, rklen;
        p = e + (e < end);
        int f = split_fields(rd, line, e, &tok, &toklen, &rk, &rklen);
        if (f < 0)
            return -1;
        if (f > 0)
            continue; /* blank line */
        long dl = decode_token(rd, line, tok, toklen);
        if (dl < 0 || check_rank(rd, rk, rklen) < 0 || add_token(rd, tok, toklen, (size_t)dl) < 0)
            return -1;
    }
    return 0;
}

/* After the ranks: the two-byte table, every byte's rank (which must
 * exist), the encoding's special tokens above the ranks, and the size
 * checks that catch a file read under the wrong encoding. */
static int finish_tables(lm_tiktoken *t, const encoding_def *def, const char *name, char *err, size_t errlen)
{
    uint32_t n = t->n;
    for (size_t k = 0; k < 65536; k++) {
        unsigned char two[2] = {(unsigned char)(k >> 8), (unsigned char)k};
        t->pair[k] = lookup_h(t, two, 2, hash_bytes(two, 2));
    }
    for (int b = 0; b < 256; b++) {
        unsigned char c = (unsigned char)b;
        t->byte_rank[b] = lookup(t, &c, 1);
        if (t->byte_rank[b] == UINT32_MAX) {
            lm_seterr(err, errlen, "%s: byte 0x%02x has no rank; a tiktoken file must rank every single byte",
                      name, b);
            return -1;
        }
    }
    t->max_id = n - 1;
    for (const special_def *s = def->specials; s->s; s++) {
        if (s->id < n) {
            lm_seterr(err, errlen,
                      "%s: the special token %s of %s has id %u, which is a rank in the file (%u ranks); "
                      "is this the right encoding?",
                      name, s->s, def->name, s->id, n);
            return -1;
        }
        t->sp[t->nsp].s = s->s;
        t->sp[t->nsp].len = strlen(s->s);
        t->sp[t->nsp].id = s->id;
        t->nsp++;
        if (s->id > t->max_id)
            t->max_id = s->id;
    }
    /* A file with fewer ranks than the encoding's own (a truncated
     * vocabulary, such as the test files) keeps the encoding's special ids,
     * as tiktoken does; one with more ranks, or exactly as many as another
     * encoding's, is that other vocabulary under the wrong name. */
    if (n > def->n_ranks) {
        lm_seterr(err, errlen, "%s: %u ranks, more than the %u of %s; is this the right encoding?", name, n,
                  def->n_ranks, def->name);
        return -1;
    }
    for (size_t k = 0; k < N_ENCODINGS; k++)
        if (n == encodings[k].n_ranks && n != def->n_ranks) {
            lm_seterr(err, errlen,
                      "%s: %u ranks, the size of a %s rank file, not %s (%u ranks); is this the right "
                      "encoding?",
                      name, n, encodings[k].name, def->name, def->n_ranks);
            return -1;
        }
    return 0;
}

/* The encoding's split regex, compiled (and JIT-compiled when it can be). */
static int compile_split(lm_tiktoken *t, const encoding_def *def, char *err, size_t errlen)
{
    int ec;
    PCRE2_SIZE eo;
    t->re =
        pcre2_compile((PCRE2_SPTR)def->pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    if (!t->re) {
        PCRE2_UCHAR buf[200];
        pcre2_get_error_message(ec, buf, sizeof buf);
        lm_seterr(err, errlen, "%s: the split regex does not compile at %zu: %s", def->name, (size_t)eo,
                  (char *)buf);
        return -1;
    }
    t->jit = pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE) == 0;
    return 0;
}

lm_tiktoken *lm_tiktoken_load_mem(const char *data, size_t len, const char *name, const char *encoding,
                                  char *err, size_t errlen)
{
    if (!name)
        name = "<memory>";
    const encoding_def *def = resolve_encoding(name, encoding, err, errlen);
    if (!def)
        return NULL;
    lm_tiktoken *t = lm_xcalloc(1, sizeof *t);
    t->def = def;
    rank_reader rd = {.t = t, .name = name, .err = err, .errlen = errlen};
    size_t nl = 1;
    for (size_t i = 0; i < len; i++)
        nl += data[i] == '\n';
    int rc = alloc_tables(&rd, len, nl);
    if (rc == 0)
        rc = read_ranks(&rd, data, len);
    free(rd.line_of);
    if (rc == 0 && rd.n == 0) {
        lm_seterr(err, errlen, "%s: no tokens (an empty file)", name);
        rc = -1;
    }
    t->n = rd.n;
    if (rc == 0)
        rc = finish_tables(t, def, name, err, errlen);
    if (rc == 0)
        rc = compile_split(t, def, err, errlen);
    if (rc < 0) {
        lm_tiktoken_free(t);
        return NULL;
    }
    return t;
}

lm_tiktoken *lm_tiktoken_load(const char *path, const char *encoding, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        lm_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 20, n = 0, got;
    char *buf = lm_xmalloc(cap);
    while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        lm_grow(buf, cap, n + 1);
    }
    int rerr = ferror(fp);
    int e = errno;
    fclose(fp);
    if (rerr) {
        lm_seterr(err, errlen, "%s: %s", path, strerror(e));
        free(buf);
        return NULL;
    }
    lm_tiktoken *t = lm_tiktoken_load_mem(buf, n, path, encoding, err, errlen);
    free(buf);
    return t;
}

const char *lm_tiktoken_name(const lm_tiktoken *t)
{
    return t->def->name;
}
size_t lm_tiktoken_n_ranks(const lm_tiktoken *t)
{
    return t->n;
}
size_t lm_tiktoken_vocab_size(const lm_tiktoken *t)
{
    return (size_t)t->max_id + 1;
}

const char *lm_tiktoken_token(const lm_tiktoken *t, uint32_t id, size_t *len)
{
    if (id < t->n) {
        *len = t->off[id + 1] - t->off[id];
        return (const char *)t->blob + t->off[id];
    }
    for (size_t k = 0; k < t->nsp; k++)
        if (t->sp[k].id == id) {
            *len = t->sp[k].len;
            return t->sp[k].s;
        }
    *len = 0;
    return NULL;
}

int64_t lm_tiktoken_rank(const lm_tiktoken *t, const void *bytes, size_t len)
{
    uint32_t r = len ? lookup(t, bytes, len) : UINT32_MAX;
    return r == UINT32_MAX ? -1 : (int64_t)r;
}

/* ---- per-thread state ---- */

lm_tiktoken_state *lm_tiktoken_state_new(const lm_tiktoken *t)
{
    lm_tiktoken_state *s = lm_xcalloc(1, sizeof *s);
    s->md = pcre2_match_data_create_from_pattern(t->re, NULL);
    s->mc = pcre2_match_context_create(NULL);
    s->js = t->jit ? pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL) : NULL;
    if (!s->md || !s->mc || (t->jit && !s->js)) {
        lm_tiktoken_state_free(s);
        return NULL;
    }
    if (s->js)
        pcre2_jit_stack_assign(s->mc, NULL, s->js);
    return s;
}

void lm_tiktoken_state_free(lm_tiktoken_state *s)
{
    if (!s)
        return;
    if (s->md)
        pcre2_match_data_free(s->md);
    if (s->mc)
        pcre2_match_context_free(s->mc);
    if (s->js)
        pcre2_jit_stack_free(s->js);
    free(s->bnd);
    free(s->rank);
    free(s->nxt);
    free(s->prv);
    free(s->ver);
    free(s->heap);
    free(s->hver);
    free(s->tmp);
    free(s->cache);
    free(s);
}

/* Room for a piece of n bytes: bnd and rank (and for the heap merge nxt,
 * prv and ver), all of s->cap. */
static void state_room(lm_tiktoken_state *s, size_t n, int heap)
{
    if (n + 1 > s->cap) {
        lm_grow(s->bnd, s->cap, n + 1 > 64 ? n + 1 : 64);
        s->rank = lm_xrealloc(s->rank, lm_xmul(s->cap, sizeof *s->rank));
        free(s->nxt);
        free(s->prv);
        free(s->ver);
        s->nxt = s->prv = s->ver = NULL;
    }
    if (heap && !s->nxt) {
        s->nxt = lm_xmalloc(lm_xmul(s->cap, sizeof *s->nxt));
        s->prv = lm_xmalloc(lm_xmul(s->cap, sizeof *s->prv));
        s->ver = lm_xmalloc(lm_xmul(s->cap, sizeof *s->ver));
    }
}

/* ---- the merge ---- */

/* Quadratic scan, as tiktoken: boundaries bnd[0..k] (bnd[k] = n), rank[j]
 * the rank of joining parts j and j+1. */
static size_t merge_scan(const lm_tiktoken *t, lm_tiktoken_state *s, const unsigned char *p, size_t n,
                         uint32_t *out)
{
    uint32_t *b = s->bnd, *r = s->rank;
    size_t k = n; /* parts; out[j] is the rank of part j */
    for (size_t i = 0; i <= n; i++)
        b[i] = (uint32_t)i;
    for (size_t i = 0; i < n; i++)
        out[i] = t->byte_rank[p[i]];
    for (size_t i = 0; i + 1 < n; i++)
        r[i] = lookup(t, p + i, 2);
    r[n - 1] = UINT32_MAX;
    for (;;) {
        uint32_t best = UINT32_MAX;
        size_t j = 0;
        for (size_t i = 0; i + 1 < k; i++)
            if (r[i] < best) {
                best = r[i];
                j = i;
            }
        if (best == UINT32_MAX)
            break;
        /* join parts j and j+1: drop boundary j+1; the new part's rank is the pair's */
        out[j] = best;
        memmove(out + j + 1, out + j + 2, (k - j - 2) * sizeof *out);
        memmove(b + j + 1, b + j + 2, (k - j - 1) * sizeof *b);
        memmove(r + j + 1, r + j + 2, (k - j - 2) * sizeof *r);
        k--;
        r[j] = j + 1 < k ? lookup(t, p + b[j], b[j + 2] - b[j]) : UINT32_MAX;
        if (j > 0)
            r[j - 1] = lookup(t, p + b[j - 1], b[j + 1] - b[j - 1]);
    }
    return k;
}

/* min-heap of rank << 32 | position, with versions for lazy deletion */
static void heap_push(lm_tiktoken_state *s, size_t *hn, uint64_t key, uint32_t ver)
{
    size_t i = (*hn)++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (s->heap[up] <= key)
            break;
        s->heap[i] = s->heap[up];
        s->hver[i] = s->hver[up];
        i = up;
    }
    s->heap[i] = key;
    s->hver[i] = ver;
}

static void heap_pop(lm_tiktoken_state *s, size_t *hn)
{
    size_t n = --(*hn);
    uint64_t key = s->heap[n];
    uint32_t ver = s->hver[n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && s->heap[c + 1] < s->heap[c])
            c++;
        if (key <= s->heap[c])
            break;
        s->heap[i] = s->heap[c];
        s->hver[i] = s->hver[c];
        i = c;
    }
    s->heap[i] = key;
    s->hver[i] = ver;
}

/* The same merge with a linked list of boundaries and a heap: the lowest
 * (rank, position) pair is the one the scan would pick. */
static size_t merge_heap(const lm_tiktoken *t, lm_tiktoken_state *s, const unsigned char *p, size_t n,
                         uint32_t *out)
{
    size_t need = 3 * n + 8;
    if (need > s->capheap) { /* heap and hver, both of s->capheap */
        lm_grow(s->heap, s->capheap, need);
        s->hver = lm_xrealloc(s->hver, lm_xmul(s->capheap, sizeof *s->hver));
    }
    uint32_t *nx = s->nxt, *pv = s->prv, *ver = s->ver, *r = s->rank, *pr = s->bnd;
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        pr[i] = t->byte_rank[p[i]];
        nx[i] = (uint32_t)i + 1;
        pv[i] = (uint32_t)i - 1;
        ver[i] = 0;
        r[i] = i + 1 < n ? lookup(t, p + i, 2) : UINT32_MAX;
        if (r[i] != UINT32_MAX)
            heap_push(s, &hn, (uint64_t)r[i] << 32 | i, 0);
    }
    while (hn) {
        uint64_t key = s->heap[0];
        uint32_t v = s->hver[0];
        heap_pop(s, &hn);
        uint32_t j = (uint32_t)key;
        if (ver[j] != v || r[j] != (uint32_t)(key >> 32))
            continue;        /* stale */
        uint32_t k = nx[j];  /* the part joined into j */
        uint32_t kn = nx[k]; /* the part after it */
        pr[j] = r[j];
        nx[j] = kn;
        if (kn < n)
            pv[kn] = j;
        ver[k] = UINT32_MAX; /* k is gone */
        ver[j]++;
        r[j] = kn < n ? lookup(t, p + j, (kn < n ? nx[kn] : n) - j) : UINT32_MAX;
        if (r[j] != UINT32_MAX)
            heap_push(s, &hn, (uint64_t)r[j] << 32 | j, ver[j]);
        if (j > 0) {
            uint32_t a = pv[j];
            ver[a]++;
            r[a] = lookup(t, p + a, kn - a);
            if (r[a] != UINT32_MAX)
                heap_push(s, &hn, (uint64_t)r[a] << 32 | a, ver[a]);
        }
        /* heap grows by at most 2 per merge, and merges < n: 3n fits */
    }
    size_t m = 0;
    for (uint32_t i = 0; i < n; i = nx[i])
        out[m++] = pr[i];
    return m;
}

#define SCAN_MAX 256

size_t lm_tiktoken_bpe(const lm_tiktoken *t, lm_tiktoken_state *s, const void *piece, size_t n, int algo,
                       uint32_t *out)
{
    const unsigned char *p = piece;
    if (n == 0)
        return 0;
    if (n == 1) {
        out[0] = t->byte_rank[p[0]];
        return 1;
    }
    if (algo == 0)
        algo = n <= SCAN_MAX ? 1 : 2;
    state_room(s, n, algo == 2);
    return algo == 1 ? merge_scan(t, s, p, n, out) : merge_heap(t, s, p, n, out);
}

/* ---- encoding ---- */

typedef struct {
    lm_tiktoken_enc *e; /* NULL: count only */
    int want_off;
    size_t n;
} sink;

static void sink_room(sink *k, size_t more)
{
    lm_tiktoken_enc *e = k->e;
    if (!e)
        return;
    size_t need = e->n + more > 64 ? e->n + more : 64;
    lm_grow(e->ids, e->cap, need);
    if (k->want_off)
        lm_grow(e->off, e->capoff, need);
}

/* Encodes one piece text[a..b) and appends its tokens. */
static void encode_piece(const lm_tiktoken *t, lm_tiktoken_state *s, sink *k, const unsigned char *text,
                         size_t a, size_t b)
{
    size_t n = b - a;
    uint64_t h = n == 1 ? 0 : hash_bytes(text + a, n);
    uint32_t whole = n == 1 ? t->byte_rank[text[a]] : lookup_h(t, text + a, n, h);
    if (whole != UINT32_MAX) {
        sink_room(k, 1);
        if (k->e) {
            k->e->ids[k->e->n] = whole;
            if (k->want_off) {
                k->e->off[k->e->n][0] = a;
                k->e->off[k->e->n][1] = b;
            }
            k->e->n++;
        }
        k->n++;
        return;
    }
    lm_grow(s->tmp, s->captmp, n > 256 ? n : 256);
    struct tt_cached *c = NULL;
    size_t m = 0;
    if (n <= CACHE_BYTES) {
        if (!s->cache)
            s->cache = lm_xcalloc(CACHE_SLOTS, sizeof *s->cache);
        c = &s->cache[h & (CACHE_SLOTS - 1)];
        if (c->len == n && c->h == h && same_bytes(c->b, text + a, n)) {
            m = c->n;
            memcpy(s->tmp, c->ids, m * sizeof *c->ids);
        }
    }
    if (!m) {
        m = lm_tiktoken_bpe(t, s, text + a, n, 0, s->tmp);
        if (c && m <= CACHE_IDS) {
            c->h = h;
            c->len = (uint8_t)n;
            c->n = (uint8_t)m;
            memcpy(c->b, text + a, n);
            memcpy(c->ids, s->tmp, m * sizeof *c->ids);
        }
    }
    sink_room(k, m);
    if (k->e) {
        size_t pos = a;
        for (size_t i = 0; i < m; i++) {
            k->e->ids[k->e->n] = s->tmp[i];
            if (k->want_off) {
                size_t tl = t->off[s->tmp[i] + 1] - t->off[s->tmp[i]];
                k->e->off[k->e->n][0] = pos;
                k->e->off[k->e->n][1] = pos + tl;
                pos += tl;
            }
            k->e->n++;
        }
    }
    k->n += m;
}

/* Splits text[a..b) with the regex (the subject ends at b, as tiktoken
 * sees the text between special tokens) and encodes every piece. */
static int encode_ordinary(const lm_tiktoken *t, lm_tiktoken_state *s, sink *k, const unsigned char *text,
                           size_t a, size_t b, char *err, size_t errlen)
{
    size_t pos = a;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
    while (pos < b) {
        int rc = t->jit ? pcre2_jit_match(t->re, text, b, pos, PCRE2_NO_UTF_CHECK, s->md, s->mc)
                        : pcre2_match(t->re, text, b, pos, PCRE2_NO_UTF_CHECK, s->md, s->mc);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR buf[200];
            pcre2_get_error_message(rc, buf, sizeof buf);
            lm_seterr(err, errlen, "splitting the text at byte %zu: %s", pos, (char *)buf);
            return -1;
        }
        size_t ms = ov[0], me = ov[1];
        if (me == ms) { /* cannot happen with these patterns; step one character */
            pos = me + 1;
            while (pos < b && (text[pos] & 0xc0) == 0x80)
                pos++;
            continue;
        }
        encode_piece(t, s, k, text, ms, me);
        pos = me;
    }
    return 0;
}

static int encode_any(const lm_tiktoken *t, lm_tiktoken_state *st, const char *text, size_t len,
                      int allow_special, sink *k, char *err, size_t errlen)
{
    size_t good = lm_utf8_valid_prefix(text, len, 0);
    if (good != len) {
        lm_seterr(err, errlen, "invalid UTF-8 at byte %zu (0x%02x)", good, (unsigned char)text[good]);
        return -1;
    }
    lm_tiktoken_state *own = NULL;
    if (!st) {
        st = own = lm_tiktoken_state_new(t);
        if (!st) {
            lm_seterr(err, errlen, "out of memory");
            return -2;
        }
    }
    const unsigned char *u = (const unsigned char *)text;
    int rc = 0;
    if (!allow_special || t->nsp == 0) {
        rc = encode_ordinary(t, st, k, u, 0, len, err, errlen);
    } else {
        /* next occurrence of each special token at or after pos */
        size_t next[8];
        for (size_t j = 0; j < t->nsp; j++)
            next[j] = (size_t)-2;
        size_t pos = 0;
        while (rc == 0) {
            size_t best = len, bl = 0;
            uint32_t bid = 0;
            for (size_t j = 0; j < t->nsp; j++) {
                if (next[j] == (size_t)-2 || (next[j] != (size_t)-1 && next[j] < pos)) {
                    const char *f = memmem(text + pos, len - pos, t->sp[j].s, t->sp[j].len);
                    next[j] = f ? (size_t)(f - text) : (size_t)-1;
                }
                if (next[j] != (size_t)-1 && (next[j] < best || (next[j] == best && t->sp[j].len > bl))) {
                    best = next[j];
                    bl = t->sp[j].len;
                    bid = t->sp[j].id;
                }
            }
            rc = encode_ordinary(t, st, k, u, pos, best, err, errlen);
            if (rc || best == len)
                break;
            sink_room(k, 1);
            if (k->e) {
                k->e->ids[k->e->n] = bid;
                if (k->want_off) {
                    k->e->off[k->e->n][0] = best;
                    k->e->off[k->e->n][1] = best + bl;
                }
                k->e->n++;
            }
            k->n++;
            pos = best + bl;
        }
    }
    lm_tiktoken_state_free(own);
    return rc;
}

int lm_tiktoken_encode(const lm_tiktoken *t, lm_tiktoken_state *st, const char *text, size_t len,
                       int allow_special, int want_off, lm_tiktoken_enc *e, char *err, size_t errlen)
{
    e->n = 0;
    sink k = {.e = e, .want_off = want_off};
    return encode_any(t, st, text, len, allow_special, &k, err, errlen);
}

int lm_tiktoken_count(const lm_tiktoken *t, lm_tiktoken_state *st, const char *text, size_t len,
                      int allow_special, size_t *n, char *err, size_t errlen)
{
    sink k = {0};
    int rc = encode_any(t, st, text, len, allow_special, &k, err, errlen);
    *n = k.n;
    return rc;
}

void lm_tiktoken_enc_free(lm_tiktoken_enc *e)
{
    free(e->ids);
    free(e->off);
    memset(e, 0, sizeof *e);
}
