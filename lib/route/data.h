/* data.h - the data model behind `route`: models with prices, and one record
 * per query holding several scored samples per model.
 *
 * The input side of route(1) ("Data format"): a record is
 *   {"id", "prompt"?, "prompt_tokens", "prompt_tokens_by_model"?: {m: k},
 *    "features"?: [float], "synthetic"?: bool,
 *    "responses": {"<model>": [{"score", "proxy"?, "output_tokens"}, ...]}}
 * and a prices file gives per-model input and output prices in dollars per
 * million tokens.  This module parses both into plain C structs and checks
 * them; it does not read files or streams (callers hand in text or json_t),
 * and it knows nothing about labels, routers or evaluation.
 *
 * Models are kept in a table in prices-file order.  The reference model is
 * one entry of the table; the other entries are the "small" models.  A
 * router head is a (small model, n) pair numbered
 *   h = s * n_max + (n - 1),  s = index among small models (table order).
 *
 * Two policies hold for all of lib/route:
 *
 * Allocation.  The rule of core/diag.h: memory comes from the lm_x*
 * wrappers and lm_grow, and running out exits 2 through the out-of-memory
 * hook, so no function here fails for want of memory.  Sizes read from
 * input are checked against the input before they are allocated (a router
 * file's header against the bytes the file holds): that is bad data.
 * jansson's allocations are its own; a NULL from it is still returned as an
 * "out of memory" error.
 *
 * Errors.  Parsing functions fill a route_err: the whole message (it starts
 * with the field path, "responses.MODEL[2].score: expected a number"), the
 * record member and key the path goes through (so that a command can point
 * at the culprit in its input line without reading the message), and a hint.
 * The older char *err, size_t errlen forms give the same message.
 */
#ifndef LMKIT_ROUTE_DATA_H
#define LMKIT_ROUTE_DATA_H

#include <jansson.h>
#include <stddef.h>

/* A problem found while parsing, with where it lies and what to do. */
typedef struct {
    char msg[512];    /* the whole message, path first: "responses.m[2].score: expected a number" */
    char member[64];  /* the record's top-level member the path starts with ("responses"), or "" */
    char key[256];    /* the key inside that member it goes through (a model name), or "" */
    int whole;        /* point at the member itself even though key is set */
    int at_value;     /* point at the value of key (a member of an object member) */
    char hint[256];   /* what to do about it, or "" */
    size_t line, col; /* in a text input (a CSV file): 1-based line and character column, 0 if unknown */
} route_err;

/* Clears e, then formats e->msg; member and key may be NULL. */
void route_err_set(route_err *e, const char *member, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void route_err_hint(route_err *e, const char *hint);

typedef struct {
    size_t n;          /* number of models (reference included) */
    char **name;       /* [n] */
    double *in_price;  /* [n] dollars per 1M input tokens */
    double *out_price; /* [n] dollars per 1M output tokens */
    double *avg_out;   /* [n] average output tokens per sample, NaN = unknown */
    size_t ref;        /* index of the reference model */
} route_models;

typedef struct {
    double score;      /* true quality (ArmoRM, 0/1 correctness, ...) */
    double proxy;      /* proxy reward; NaN when absent */
    double out_tokens; /* output tokens of this sample, >= 0 */
} route_sample;

typedef struct {
    char *id;
    char *prompt;          /* may be NULL */
    double *prompt_tokens; /* [models.n] input tokens charged per model */
    double *features;      /* [n_features] user embedding, may be NULL */
    size_t n_features;
    size_t *n_samples;      /* [models.n]; 0 = model absent for this query */
    route_sample **samples; /* [models.n] -> [n_samples[m]] */
    int has_proxy;          /* every present model carries proxy scores */
    int synthetic;          /* the record says "synthetic": true */
} route_record;

/* Parses a prices document.  Accepted shapes (all give dollars per 1M tokens):
 *   {"<m>": {"in_per_mtok": x, "out_per_mtok": y, "avg_out_tokens"?: z}, ...}
 *   [{"model": "<m>", "in_per_mtok": x, "out_per_mtok": y, ...}, ...]
 *   one such {"model": ...} object per line (JSON Lines)
 * "in"/"out" are accepted as short names for the two prices.  `reference`
 * names the reference model; when NULL, the entry with "reference": true is
 * used.  Returns 0, or -1 with a message naming the model and field. */
int route_models_parse(route_models *m, const char *text, size_t len, const char *reference, char *err,
                       size_t errlen);
/* The same, and *err_off gets the byte offset in text of the culprit where
 * there is one (an empty file: 0; a duplicate key, or a model listed twice:
 * the repeated key or "model" value; JSON the strict scanner of
 * core/json.h refuses), else ROUTE_NOPOS.  Duplicate keys at any depth are
 * an error, never merged. */
#define ROUTE_NOPOS ((size_t)-1)
int route_models_parse_at(route_models *m, const char *text, size_t len, const char *reference,
                          size_t *err_off, char *err, size_t errlen);
/* The same with a route_err (the hint says how to fix the file). */
int route_models_parse_e(route_models *m, const char *text, size_t len, const char *reference,
                         size_t *err_off, route_err *e);
/* Builds a table directly (used by the synthetic generator and tests). */
int route_models_init(route_models *m, size_t n, const char *const *names, const double *in_price,
                      const double *out_price, size_t ref, char *err, size_t errlen);
void route_models_free(route_models *m);
/* Index of a model by name, or -1. */
long route_models_find(const route_models *m, const char *name);
/* Number of small (non-reference) models and the table index of small model s. */
size_t route_models_n_small(const route_models *m);
size_t route_models_small(const route_models *m, size_t s);

/* Parses one record.  Errors name the field, e.g.
 *   "responses.gpt-4o[2].score: expected a number"
 *   "responses: reference model 'gpt-4o' is missing"
 *   "responses.foo: model 'foo' is not in the prices file"
 * Returns 0, or -1 (the record is left empty and needs no free). */
int route_record_parse(route_record *r, const json_t *j, const route_models *m, char *err, size_t errlen);
/* The same for a query about to be routed: "responses" may be absent (then
 * every n_samples is 0); when present it is checked as above. */
int route_query_parse(route_record *r, const json_t *j, const route_models *m, char *err, size_t errlen);
/* The two with a route_err: member/key locate the culprit, the hint says
 * what a record needs. */
int route_record_parse_e(route_record *r, const json_t *j, const route_models *m, int need_responses,
                         route_err *e);
void route_record_free(route_record *r, const route_models *m);
/* Checks a "responses" object the way route_record_parse does, without a
 * prices table: every model holds a non-empty array of samples, each with a
 * finite "score", an optional finite "proxy" and "output_tokens" >= 0.
 * Returns 0, or -1 with the same message route_record_parse gives. */
int route_responses_check(const json_t *resp, char *err, size_t errlen);
int route_responses_check_e(const json_t *resp, route_err *e);

/* User-supplied match probabilities, {"MODEL:N": p, ...} (the member
 * "match_prob" of a record), into pred[(small model) * n_max + n - 1]; heads
 * not named keep their value.  Returns 0, or -1 with e on member
 * "match_prob": a key that is not MODEL:N, a model not in the table, the
 * reference, n above n_max, a value that is not a number in [0, 1]. */
int route_match_prob_parse(const json_t *o, const route_models *m, size_t n_max, double *pred, route_err *e);

/* Per-model mean output tokens over all samples of all records; models with
 * no samples keep their prices-file value (or NaN).  Writes m->avg_out. */
void route_models_fit_avg_out(route_models *m, const route_record *recs, size_t n_recs);

#endif
