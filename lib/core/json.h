/* json.h - a strict JSON scanner that keeps the original text.
 *
 * lmkit never round-trips a whole input record through a JSON library:
 * jansson, for one, cannot read 18446744073709551615 or 1e400 and rewrites
 * 0.1 as 0.10000000000000001.  Instead lm_json_scan_object() validates a line
 * as exactly one JSON object (RFC 8259, strict UTF-8, no duplicate keys at any
 * depth, nesting at most LM_JSON_MAX_DEPTH) and records where each top-level
 * member's key and value lie in the text.  Commands read the members they
 * own with the accessors below and splice their own fields into the original
 * text (see record.h), so everything else passes through byte for byte.
 */
#ifndef LMKIT_CORE_JSON_H
#define LMKIT_CORE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define LM_JSON_MAX_DEPTH 512

typedef enum { LM_J_NULL, LM_J_FALSE, LM_J_TRUE, LM_J_NUMBER, LM_J_STRING, LM_J_ARRAY, LM_J_OBJECT } lm_jtype;

typedef struct {
    const char *key; /* decoded key, NUL-terminated (owned by the scanner) */
    size_t klen;     /* its length in bytes (a key may hold \u0000) */
    size_t kpos;     /* byte offset of the key's opening quote */
    size_t vpos;     /* byte offset of the raw value */
    size_t vlen;     /* byte length of the raw value */
    lm_jtype type;
} lm_member;

typedef struct {
    lm_member *m; /* top-level members, in input order */
    size_t n, cap;
    size_t close; /* byte offset of the object's closing brace */
    /* scratch for key decoding and duplicate detection */
    lm_buf keys;
    struct lm_jkey {
        size_t off, len;
        uint32_t hash;
    } * kv;
    size_t nkv, capkv;
} lm_jscan;

typedef struct {
    size_t pos; /* byte offset of the problem */
    int dup;    /* 1 when the problem is a repeated key */
    char msg[200];
} lm_jerr;

void lm_jscan_free(lm_jscan *s);
/* Scans text[0..len) as one JSON object with optional surrounding white
 * space.  Returns 0, or -1 with *err filled. */
int lm_json_scan_object(lm_jscan *s, const char *text, size_t len, lm_jerr *err);
/* Validates text[0..len) as exactly one JSON value of any type. */
int lm_json_validate(const char *text, size_t len, lm_jerr *err);

/* The member named key, or NULL. */
const lm_member *lm_jscan_get(const lm_jscan *s, const char *key);

const char *lm_jtype_name(lm_jtype t);

/* Number value of raw JSON number text.  Returns 0, or -1 when the value
 * overflows a double (*out is then +-HUGE_VAL). */
int lm_jnum(const char *raw, size_t len, double *out);
/* Exact integer value: accepts integer syntax and integral values written
 * with a fraction or exponent ("76", "76.0", "7.6e1").  Returns 0, or -1 if
 * the value is not an integer or lies outside [INT64_MIN, INT64_MAX]. */
int lm_jint(const char *raw, size_t len, int64_t *out);
/* Decodes raw JSON string text (with its quotes) onto b (appending). */
void lm_jstr_decode(lm_buf *b, const char *raw, size_t len);
/* Tests whether a raw JSON string equals s (decoded). */
int lm_jstr_eq(const char *raw, size_t len, const char *s);

/* ---- writing ---- */

/* Appends v as a JSON number: integral values below 1e15 written out plainly
 * ("120", not "1.2e2"; -0 as "0"), others in the shortest round-trip form of
 * lm_buf_add_num.  A non-finite v writes "null". */
void lm_buf_add_jnum(lm_buf *b, double v);
/* The same, with the rule for non-finite values said at the call. */
void lm_buf_add_jnum_or_null(lm_buf *b, double v);
/* Appends the JSON text of a jansson value: keys in the object's order,
 * strings as lm_buf_add_jstr writes them, integers as integers and reals by
 * lm_buf_add_jnum (so that numbers read back to the same double).  jansson
 * itself stays out of this header. */
struct json_t;
void lm_buf_add_jansson(lm_buf *b, const struct json_t *v);

#endif
