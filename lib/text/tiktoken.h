/* tiktoken.h - byte-level BPE in OpenAI's tiktoken format: `.tiktoken` rank
 * files, the split regexes of the named encodings, the merge by rank, and
 * special tokens, giving the same ids as the `tiktoken` Python package.
 *
 * A rank file has one token per line, "BASE64 RANK", ranks 0, 1, 2, ... in
 * order; every single byte must have a rank.  The split regex and the
 * special tokens are not in the file: they come with the encoding's name
 * (given, or inferred from the file name):
 *   cl100k_base  GPT-3.5/GPT-4 (specials <|endoftext|> 100257, <|fim_prefix|>
 *                100258, <|fim_middle|> 100259, <|fim_suffix|> 100260,
 *                <|endofprompt|> 100276)
 *   o200k_base   GPT-4o (<|endoftext|> 199999, <|endofprompt|> 200018)
 *   r50k_base, p50k_base  GPT-2/GPT-3 (<|endoftext|> 50256)
 *   kimi_k2      Moonshot Kimi K2 `tiktoken.model` (the Han-aware split of
 *                tokenization_kimi.py; no special tokens: their names live in
 *                the model's tokenizer_config.json, which is not read)
 * The regexes are tiktoken's, rewritten for PCRE2 (UTF + UCP, JIT): `\s` is
 * spelled out as Unicode White_Space (PCRE2's \s lacks U+0085) and `$` as
 * `\z`.  Letters and digits follow PCRE2's Unicode tables, so characters
 * assigned after that Unicode version may split differently from tiktoken.
 *
 * Encoding is tiktoken's encode_ordinary by default (special-token text is
 * plain text); with allow_special it is encode(allowed_special="all").
 * A loaded encoding is read-only and may be shared by threads; each thread
 * passes its own lm_tiktoken_state (or NULL for a temporary one).
 * Does not: decode to text (lm_tiktoken_token gives the bytes of a token),
 * read tokenizer.json (see tokenizer.h), or download anything.
 */
#ifndef LMKIT_TEXT_TIKTOKEN_H
#define LMKIT_TEXT_TIKTOKEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm_tiktoken lm_tiktoken;
typedef struct lm_tiktoken_state lm_tiktoken_state;

/* Token ids of one text, with byte offsets [start, end) into it when asked. */
typedef struct {
    uint32_t *ids;
    size_t (*off)[2]; /* NULL unless offsets were asked for */
    size_t n, cap, capoff;
} lm_tiktoken_enc;

/* The encoding names above, NULL-ended. */
extern const char *const lm_tiktoken_encodings[];

/* The encoding a file name implies ("cl100k_base" for ".../cl100k_base.tiktoken",
 * "kimi_k2" for a path naming kimi), or NULL. */
const char *lm_tiktoken_infer(const char *path);

/* The rank file of a named encoding when no file is given: the first of
 *   $LMKIT_TIKTOKEN                     (cl100k_base only: the count encoding
 *                                       of lingua-compress; taken as given)
 *   DIR/../share/lmkit/NAME.tiktoken    DIR = the folder of the running
 *                                       executable (/proc/self/exe): the build
 *                                       tree (build/bin, build/tests) and
 *                                       $PREFIX/bin once installed
 *   tiktoken's cache                    NAME's file under the SHA-1 of its URL in
 *                                       $TIKTOKEN_CACHE_DIR, $DATA_GYM_CACHE_DIR
 *                                       and $TMPDIR/data-gym-cache (TMPDIR
 *                                       default /tmp); not for kimi_k2
 * that exists.  Returns a malloc'd path, or NULL with the places searched
 * in `searched` ("A, B, C"; may be NULL).  Reads nothing but file names. */
char *lm_tiktoken_find(const char *encoding, char *searched, size_t searchedlen);

/* Loads a rank file.  encoding: one of lm_tiktoken_encodings, or NULL to
 * infer it from the path.  NULL with a message ("FILE:LINE: ...") on failure.
 * A file that does not fit the encoding (ranks reaching its special-token
 * ids, more ranks than its own file, or exactly as many as another
 * encoding's) fails with a message ending "is this the right encoding?";
 * a file with fewer ranks (a truncated vocabulary) loads. */
lm_tiktoken *lm_tiktoken_load(const char *path, const char *encoding, char *err, size_t errlen);
/* The same from memory; name is used in messages and, when encoding is NULL,
 * to infer the encoding. */
lm_tiktoken *lm_tiktoken_load_mem(const char *data, size_t len, const char *name, const char *encoding,
                                  char *err, size_t errlen);
void lm_tiktoken_free(lm_tiktoken *t);

const char *lm_tiktoken_name(const lm_tiktoken *t);  /* the encoding name */
size_t lm_tiktoken_n_ranks(const lm_tiktoken *t);    /* ranks in the file */
size_t lm_tiktoken_vocab_size(const lm_tiktoken *t); /* max id + 1, specials included */
/* The bytes of token id (a rank or a special token), or NULL; *len its length. */
const char *lm_tiktoken_token(const lm_tiktoken *t, uint32_t id, size_t *len);
/* The rank of a byte string, or -1. */
int64_t lm_tiktoken_rank(const lm_tiktoken *t, const void *bytes, size_t len);

/* Per-thread scratch (match data, JIT stack, merge buffers, a cache of
 * recently merged pieces).  NULL when PCRE2 cannot allocate its match data
 * or JIT stack (running out of memory elsewhere exits, see core/diag.h). */
lm_tiktoken_state *lm_tiktoken_state_new(const lm_tiktoken *t);
void lm_tiktoken_state_free(lm_tiktoken_state *s);

/* Encodes text[0..len) (UTF-8; invalid UTF-8 is an error naming the byte).
 * e is reset and filled (offsets too when want_off).  st may be NULL.
 * Returns 0, or -1 with a message (-2 when st is NULL and PCRE2 cannot
 * allocate the scratch, as lm_tiktoken_state_new). */
int lm_tiktoken_encode(const lm_tiktoken *t, lm_tiktoken_state *st, const char *text, size_t len,
                       int allow_special, int want_off, lm_tiktoken_enc *e, char *err, size_t errlen);
/* Counts the tokens only, storing nothing.  Returns as lm_tiktoken_encode. */
int lm_tiktoken_count(const lm_tiktoken *t, lm_tiktoken_state *st, const char *text, size_t len,
                      int allow_special, size_t *n, char *err, size_t errlen);
void lm_tiktoken_enc_free(lm_tiktoken_enc *e);

/* The byte-pair merge of one piece (tiktoken's _byte_pair_merge): writes
 * its ids to out (room for len ids) and returns how many.  algo 0 chooses,
 * 1 is the quadratic scan, 2 the heap (same result; exposed for tests). */
size_t lm_tiktoken_bpe(const lm_tiktoken *t, lm_tiktoken_state *st, const void *piece, size_t len, int algo,
                       uint32_t *out);

#endif
