/* tokenizer.h - Hugging Face tokenizer.json tokenizers, bit-compatible with
 * the `tokenizers` library (normalizer -> pre-tokenizer -> model ->
 * post-processor, with added tokens matched first, and the decoder).
 *
 * Supported parts (anything else is an error that names the type):
 *   models          WordPiece, Unigram (Viterbi, byte fallback), BPE (byte-level;
 *                   merges as "a b" or ["a","b"]; byte_fallback, fuse_unk,
 *                   continuing_subword_prefix, end_of_word_suffix)
 *   normalizers     BertNormalizer, Precompiled (SentencePiece charsmap), NFC, NFKC,
 *                   NFD, NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, Sequence
 *   pre-tokenizers  BertPreTokenizer, Metaspace, ByteLevel, Whitespace, WhitespaceSplit,
 *                   Split (regex through PCRE2, or string), Punctuation, Digits, Sequence
 *   post-processors BertProcessing, RobertaProcessing, TemplateProcessing, ByteLevel, Sequence
 *   decoders        WordPiece, Metaspace, ByteLevel, BPEDecoder, ByteFallback, Fuse,
 *                   Strip, Replace, Sequence
 * Added tokens (special and normal, single_word/lstrip/rstrip/normalized
 * flags) from the file and at run time (lm_tokenizer_add_tokens, e.g.
 * "[NEW0]").  A loaded tokenizer is read-only: encoding is thread-safe.
 */
#ifndef LMKIT_TEXT_TOKENIZER_H
#define LMKIT_TEXT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct lm_tokenizer lm_tokenizer;

typedef struct {
    int32_t *ids;     /* n token ids */
    size_t (*off)[2]; /* n byte offsets [start, end) into the original text
                             (Python's `tokenizers` reports the same spans in
                             characters; special tokens added by the
                             post-processor get [0, 0]) */
    uint8_t *special; /* n flags: 1 for special tokens */
    size_t n, cap;
    char *tok;         /* the token strings back to back (tokenizers'
                             Encoding.tokens, see lm_encoding_token) */
    size_t (*toff)[2]; /* n spans [start, end) into tok */
    size_t tokn, tokcap;
} lm_encoding;

void lm_encoding_free(lm_encoding *e);
/* The string of token i as tokenizers' Encoding.tokens (and so transformers'
 * tokenize()) gives it: for an added token the text it matched (with the
 * white space lstrip/rstrip took), for a Unigram piece its slice of the
 * normalised string (also when the piece is unknown and its id is unk's),
 * else the vocabulary string of the id.  Valid until e changes. */
const char *lm_encoding_token(const lm_encoding *e, size_t i, size_t *len);

/* Loads a tokenizer.json file, or the tokenizer.json inside a model folder.
 * NULL with a message (naming the file and the offending part) on failure. */
lm_tokenizer *lm_tokenizer_load(const char *path, char *err, size_t errlen);
/* The same from a tokenizer.json held in memory (json[0..len)); name is the
 * file name used in messages. */
lm_tokenizer *lm_tokenizer_load_mem(const char *json, size_t len, const char *name, char *err, size_t errlen);
void lm_tokenizer_free(lm_tokenizer *t);

/* Encodes text[0..len) (UTF-8).  add_special: apply the post-processor's
 * special tokens ([CLS] ... [SEP], <s> ... </s>) as tokenizers'
 * encode(add_special_tokens=True) does.  e is reset and filled.  Returns 0,
 * or -1 with a message (e.g. invalid UTF-8, or a normalizer that grows the
 * text past lm_hft_growth_limit: 64 times its length plus 4 KiB), -2 when
 * PCRE2 cannot allocate its match data (running out of memory elsewhere
 * exits, see core/diag.h). */
int lm_tokenizer_encode(const lm_tokenizer *t, const char *text, size_t len, int add_special, lm_encoding *e,
                        char *err, size_t errlen);

/* Applies the tokenizer's normalizer alone to text[0..len) (tokenizers'
 * normalizer.normalize_str); appends to out.  0, or -1 with a message. */
int lm_tokenizer_normalize(const lm_tokenizer *t, const char *text, size_t len, lm_buf *out, char *err,
                           size_t errlen);

/* Vocabulary, including added tokens. */
size_t lm_tokenizer_vocab_size(const lm_tokenizer *t);
/* The token string of id (NULL if out of range); *len gets its length. */
const char *lm_tokenizer_token(const lm_tokenizer *t, int32_t id, size_t *len);
/* The id of a token string, or -1. */
int32_t lm_tokenizer_id(const lm_tokenizer *t, const char *tok, size_t len);

/* Adds tokens at run time (tokenizers' add_tokens / add_special_tokens):
 * tokens already in the vocabulary keep their id.  0, or -1 with a message. */
int lm_tokenizer_add_tokens(lm_tokenizer *t, const char *const *toks, size_t n, int special, char *err,
                            size_t errlen);

/* Decodes ids with the decoder (tokenizers' decode); appends to out.  0, or
 * -1 with a message when PCRE2 cannot allocate its match data or the
 * decoder grows the tokens' text past 64 times its length plus 4 KiB. */
int lm_tokenizer_decode(const lm_tokenizer *t, const int32_t *ids, size_t n, int skip_special, lm_buf *out,
                        char *err, size_t errlen);
/* transformers' convert_tokens_to_string for these token strings; returns
 * as lm_tokenizer_decode. */
int lm_tokenizer_tokens_to_string(const lm_tokenizer *t, const char *const *toks, const size_t *lens,
                                  size_t n, lm_buf *out, char *err, size_t errlen);

#endif
