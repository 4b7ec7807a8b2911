/* hftok_internal.h - the structures shared by the parts of the tokenizer.json
 * engine (tokenizer.c: loading, added tokens, pipeline, decoders;
 * hftok_norm.c: normalized strings, normalizers, pre-tokenizers;
 * hftok_model.c: BPE, WordPiece and Unigram).  Not a public API.
 *
 * A loaded tokenizer is read-only.  Everything an encode call changes lives
 * in a hft_work (per call), whose buffers grow but are never freed during
 * the call, so there is no allocation per character.
 */
#ifndef LMKIT_TEXT_HFTOK_INTERNAL_H
#define LMKIT_TEXT_HFTOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "text/tokenizer.h"

/* ---- string -> id hash map, built at load, read-only afterwards ---- */
typedef struct {
    uint32_t *slot; /* entry index + 1, 0 empty */
    size_t cap;     /* power of two */
    char *keys;     /* key bytes back to back */
    size_t *off;    /* n + 1 offsets into keys */
    int32_t *val;
    size_t n, keycap, ncap;
} hft_map;

uint64_t lm_hft_hash(const char *s, size_t n);
void lm_hft_map_put(hft_map *m, const char *k, size_t n, int32_t v); /* overwrites */
int32_t lm_hft_map_get(const hft_map *m, const char *k, size_t n);   /* -1 if absent */
void lm_hft_map_free(hft_map *m);

/* ---- per-call work space ---- */
typedef struct {
    size_t off, len; /* bytes arena[off..off+len) */
    size_t shift;    /* original offset of the piece's start (tokenizers' original_shift) */
    int32_t tok;     /* id when the piece is an added token, else -1 */
} hft_piece;

typedef struct {
    uint32_t c;
    int32_t ch; /* change: 1 inserted, 0 replaced, -k replaced and k following removed */
} hft_tc;

typedef struct {
    int32_t id;
    size_t s, e; /* byte offsets into the piece's normalized string */
    int slice;   /* the token's string is that slice (Unigram), not the id's */
} hft_tok;

typedef struct hft_work {
    char *s;         /* byte arena */
    size_t (*al)[2]; /* original [start, end) of every arena byte */
    size_t n, cap;
    hft_piece *p, *q; /* current and next piece lists */
    size_t np, nq, pcap, qcap;
    hft_tc *tc; /* transform scratch */
    size_t ntc, tccap;
    uint32_t *u; /* code point scratch */
    size_t ucap;
    hft_tok *tk; /* model output for one piece */
    size_t ntk, tkcap;
    void *scratch; /* model scratch (lattice, heap, symbols) */
    size_t scratchcap;
    char *sb; /* string scratch */
    size_t sbcap;
    size_t (*mt)[3]; /* match list: start, end, is_match */
    size_t nmt, mtcap;
    pcre2_match_data *md;
    size_t limit; /* most bytes a normalizer or decoder may make (lm_hft_growth_limit) */
    int over;     /* set when a step would have passed limit; the result is unusable */
} hft_work;

/* A normalizer or decoder may turn n bytes into at most 64 n + 4 KiB.
 * Real ones stay far below (NFKC's longest expansion is 11 times), but a
 * Sequence of Replace steps whose content contains its own pattern doubles
 * the text at every step; the tokenizers library follows it until memory
 * runs out, lmkit stops and reports it. */
static inline size_t lm_hft_growth_limit(size_t n)
{
    return n > (SIZE_MAX - 4096) / 64 ? SIZE_MAX : 64 * n + 4096;
}

/* appends a new piece copy built from transformations of piece *pc (see
 * tokenizers' NormalizedString::transform); replaces *pc. */
void lm_hft_transform(hft_work *w, hft_piece *pc, const hft_tc *tc, size_t ntc, size_t initial_removed);
/* appends n bytes with one alignment; returns their arena offset */
size_t lm_hft_append(hft_work *w, const char *s, size_t n, size_t a0, size_t a1);

/* ---- components ---- */
typedef struct hft_norm hft_norm;
typedef struct hft_pretok hft_pretok;
typedef struct hft_model hft_model;

/* pattern of Replace / Split: a literal string or a PCRE2 regex */
typedef struct {
    char *str;
    size_t len;
    pcre2_code *re;
} hft_pattern;

/* A Replace pattern (normalizer or decoder) must not match the empty string:
 * its content would be inserted between every two characters, and a
 * sequence of such steps grows a text without bound.  The tokenizers
 * library accepts such patterns; lmkit refuses them at load.  Returns 0, or
 * -1 with err naming what. */
int lm_hft_pattern_nonempty(const hft_pattern *p, const char *what, char *err, size_t errlen);

enum { HFT_REMOVED, HFT_ISOLATED, HFT_MERGED_PREV, HFT_MERGED_NEXT, HFT_CONTIGUOUS };

void lm_hft_normalize(const hft_norm *nm, hft_work *w, hft_piece *pc);
void lm_hft_pretokenize(const hft_pretok *pt, hft_work *w); /* on w->p[0..np) */
void lm_hft_norm_free(hft_norm *nm);
void lm_hft_pretok_free(hft_pretok *pt);
void lm_hft_pattern_free(hft_pattern *p);

/* JSON parsing of components (jansson); what names the part, e.g. "normalizer" */
struct json_t;
hft_norm *lm_hft_norm_parse(struct json_t *j, const char *what, char *err, size_t errlen);
hft_pretok *lm_hft_pretok_parse(struct json_t *j, const char *what, char *err, size_t errlen);
hft_model *lm_hft_model_parse(struct json_t *j, char *err, size_t errlen);
int lm_hft_pattern_parse(struct json_t *j, hft_pattern *p, const char *what, char *err, size_t errlen);
/* Fields of the JSON object j of a component named what (e.g. "decoder" or
 * "decoder.decoders[1]"): on error a message naming WHAT.KEY in err, and -1
 * (lm_hft_json_type: NULL).  Shared by hftok_norm.c and tokenizer.c. */
int lm_hft_json_bool(struct json_t *j, const char *key, int def, const char *what, char *err, size_t errlen,
                     int *out); /* def when absent or null */
int lm_hft_json_str(struct json_t *j, const char *key, const char *def, const char *what, char *err,
                    size_t errlen, char **out, size_t *len); /* malloc'd copy, def when absent or null */
const char *lm_hft_json_type(struct json_t *j, const char *what, char *err,
                             size_t errlen); /* j must be an object */

/* element i of a Sequence: parses elem, named name, into slots[i] */
typedef int hft_seq_fn(void *slots, size_t i, struct json_t *elem, const char *name, char *err,
                       size_t errlen);
/* The array j[key] of a Sequence component: checks that it is an array
 * ("WHAT.KEY must be an array"), then calls one(slots, i, element,
 * "WHAT.KEY[i]", ...) for each element in order, counting in *n those that
 * succeed, up to the first failure.  slots is the caller's array of
 * json_array_size(j[key]) + 1 zeroed entries.  Returns 0 or -1. */
int lm_hft_json_seq(struct json_t *j, const char *key, const char *what, void *slots, size_t *n,
                    hft_seq_fn *one, char *err, size_t errlen);

/* matches of a pattern in s[0..n): fills w->mt with a covering list */
void lm_hft_pattern_find(const hft_pattern *p, hft_work *w, const char *s, size_t n);

/* model: tokens of one piece's normalized bytes into w->tk */
int lm_hft_model_tokenize(const hft_model *m, hft_work *w, const char *s, size_t n, char *err, size_t errlen);
size_t lm_hft_model_vocab_size(const hft_model *m);
const char *lm_hft_model_token(const hft_model *m, int32_t id, size_t *len);
int32_t lm_hft_model_id(const hft_model *m, const char *tok, size_t len);
void lm_hft_model_free(hft_model *m);

/* byte-level alphabet: byte -> code point, and back (-1 if not one) */
uint32_t lm_hft_byte_char(uint8_t b);
int lm_hft_char_byte(uint32_t c);

/* UTF-8 helpers on valid input */
size_t lm_hft_dec(const char *s, size_t n, uint32_t *cp);
size_t lm_hft_enc(uint32_t cp, char *out);

#endif
