/* lingua.h - LLMLingua-2 prompt compression (Pan et al., Findings of ACL
 * 2024, arXiv 2403.12968, §4), reproducing PyPI llmlingua 0.2.2's
 * prompt_compressor.py PromptCompressor.compress_prompt_llmlingua2.
 *
 * Two layers:
 *  - plain algorithm pieces that need no model (lingua.c): the force-token
 *    map (compress_prompt_llmlingua2's token_map), the 510-token chunk
 *    search (__chunk_context), the merge of token probabilities into words
 *    (__merge_token_to_word, __token_prob_to_word_prob), NumPy's linear
 *    percentile with the reference's float32/float64 promotion, the
 *    per-chunk threshold and selection with drop_consecutive (__compress),
 *    the context-level filter (compress_prompt_llmlingua2's
 *    use_context_level_filter block) and the output strings (its res);
 *  - the whole flow (compress.c) over a tokenizer.json tokenizer, a token
 *    counter and a probability callback (normally the encoder forward of
 *    lingua/model.c).
 * Does not: load a model or run it (nn/encoder.h), count cl100k tokens
 * itself (the caller passes a counter, normally text/tiktoken.h), or print.
 * All functions are thread-safe; a lm_lingua_model is read-only once made.
 */
#ifndef LMKIT_LINGUA_LINGUA_H
#define LMKIT_LINGUA_LINGUA_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "text/tokenizer.h"

/* Word rules: WordPiece (mBERT, "##" continuations) or SentencePiece
 * (XLM-R, "▁" word starts). */
typedef enum { LM_LINGUA_BERT = 0, LM_LINGUA_XLMR = 1 } lm_lingua_family;

#define LM_LINGUA_MAX_FORCE 100

/* ---- force tokens (compress_prompt_llmlingua2's token_map) ----------- */

/* The force-token list, its map to "[NEWi]" placeholders (in the order of
 * Python's dict: first insertion of a string, value of its last index) and
 * the chunk-end set. */
typedef struct {
    size_t n_force;
    char **force; /* [n_force] the strings as given */
    size_t *force_len;
    size_t n_map;
    char **from, **to; /* [n_map] original string -> "[NEWi]" */
    size_t *from_len, *to_len;
    size_t n_end;
    char **end; /* [n_end] chunk-end token strings */
    size_t *end_len;
} lm_lingua_force;

/* The one check of the force-token count: 0, or -1 with "N strings, at
 * most 100 are allowed" when n_force is over LM_LINGUA_MAX_FORCE (the
 * reference's 100 "[NEWi]" placeholders). */
int lm_lingua_force_check(size_t n_force, char *err, size_t errlen);

/* Builds the map: force[i] is mapped to "[NEWi]" when ntok[i] (its token
 * count under the model tokenizer, no special tokens) is not 1.  The
 * chunk-end set is ends plus the placeholder of every mapped end string.
 * Returns 0, or -1 with a message (more than 100 force tokens, an empty
 * force token). */
int lm_lingua_force_init(lm_lingua_force *f, const char *const *force, const size_t *force_len,
                         size_t n_force, const size_t *ntok, const char *const *ends, const size_t *ends_len,
                         size_t n_ends, char *err, size_t errlen);
void lm_lingua_force_free(lm_lingua_force *f);
/* Plain substring replacement of every map entry, in map order:
 * to_new != 0 replaces originals by placeholders, else the reverse.
 * Appends the result to out. */
void lm_lingua_force_replace(const lm_lingua_force *f, const char *s, size_t n, int to_new, lm_buf *out);

/* ---- chunking (__chunk_context) --------------------------------------- */

/* Splits n tokens into chunks of at most max_len + 1 tokens (max_len is the
 * model length minus 2), ending a chunk at the last chunk-end token found
 * from toks[st+max_len] down to toks[st+1].  Writes each chunk's exclusive
 * end to ends (room for n entries) and returns the number of chunks. */
size_t lm_lingua_chunk(const char *const *toks, const size_t *lens, size_t n, size_t max_len,
                       const lm_lingua_force *f, size_t *ends);

/* ---- words (__merge_token_to_word, __token_prob_to_word_prob) -------- */

/* A probability as the reference holds it: a NumPy float32 scalar (py = 0;
 * v is then exactly a float) or a Python float (py = 1). */
typedef struct {
    double v;
    int py;
} lm_lingua_p;

typedef struct {
    char *text; /* the word as the reference builds it ("▁" kept) */
    size_t len;
    lm_lingua_p prob;   /* mean or first of its (forced) subword probabilities */
    float prob_noforce; /* the same over the unforced list (first-subword values) */
} lm_lingua_word;

typedef struct {
    lm_lingua_word *w;
    size_t n, cap;
} lm_lingua_words;

void lm_lingua_words_free(lm_lingua_words *ws);

/* The word-start rule of lm_lingua_merge (the reference's
 * is_begin_of_new_word): whether token t[0..tl) (as the tokenizer gives
 * it) begins a new word.  BERT: a force token or placeholder (after
 * leading '#'s), or no "##" prefix; XLM-R: a token found inside the ASCII
 * punctuation string, a force token or placeholder, or a "▁" prefix.  f
 * may be NULL (no force tokens). */
int lm_lingua_word_start(lm_lingua_family fam, const char *t, size_t tl, const lm_lingua_force *f);

/* Merges tokens (their strings, with keep probabilities p) into words and
 * appends them to out.  Tokens equal to one of special[0..nspecial) are
 * skipped.  first: word probability is the first subword's, else the mean
 * (float32 left-to-right accumulation, as the reference's sum()/len()). */
void lm_lingua_merge(lm_lingua_family fam, const char *const *toks, const size_t *lens, const float *p,
                     size_t n, const char *const *special, size_t nspecial, const lm_lingua_force *f,
                     int reserve_digit, int first, lm_lingua_words *out);

/* Which of the tokens lm_lingua_merge would not read the probability of:
 * forced[i] = 1 where the merge puts the forced 1.0 in its place (a force
 * token or placeholder beginning a word, a number under reserve_digit),
 * else 0 (special tokens included). */
void lm_lingua_forced(lm_lingua_family fam, const char *const *toks, const size_t *lens, size_t n,
                      const char *const *special, size_t nspecial, const lm_lingua_force *f,
                      int reserve_digit, uint8_t *forced);

/* ---- threshold and selection (__compress) ----------------------------- */

/* q = int(100 * reduce_rate + add) evaluated in double (add is 1 for the
 * token threshold, 0 for drop_consecutive's). */
int lm_lingua_q(double reduce_rate, int add);
/* numpy.percentile(v, q) (linear method, integer q in 0..100) over
 * v[0..n) (n >= 1), which is sorted in place.  f32: the array is float32
 * (the interpolation is done in float32 as NumPy does), else float64. */
double lm_lingua_percentile(double *v, size_t n, int q, int f32);

/* Labels the words of one chunk: weight[i] is the cl100k count of word i's
 * text.  Writes 1 (kept) or 0 to labels and returns the threshold (NaN
 * when there are no words: nothing is kept). */
double lm_lingua_select(const lm_lingua_words *ws, const size_t *weight, double reduce_rate,
                        int drop_consecutive, const lm_lingua_force *f, uint8_t *labels);
/* The same with a fixed threshold instead of the percentiles: a word is
 * kept iff its probability is above thr, and drop_consecutive's walk tests
 * the same (TACO-RL's rollout: sampled 0/1 actions as probabilities). */
void lm_lingua_select_fixed(const lm_lingua_words *ws, double thr, int drop_consecutive,
                            const lm_lingua_force *f, uint8_t *labels);

/* ---- contexts (compress_prompt_llmlingua2's use_context_level_filter) - */

typedef struct lm_lingua_timing lm_lingua_timing;

typedef struct {
    double rate;                  /* fraction of tokens kept, (0, 1] (default 0.5) */
    int64_t target_token;         /* -1 */
    int use_context_filter;       /* 0 */
    int use_token_filter;         /* 1 */
    int64_t target_context;       /* -1 */
    double context_rate;          /* 1.0 */
    int64_t context_target_token; /* -1 */
    const int64_t *force_context_ids;
    size_t n_force_context_ids;
    int first; /* token_to_word: 0 mean, 1 first */
    int fixed; /* 1: keep words above keep_above (lm_lingua_select_fixed), not the percentiles */
    double keep_above;
    int reserve_digit; /* force_reserve_digit */
    int drop_consecutive;
    int want_words;           /* fill the result's word lists */
    int want_tokens;          /* fill the result's token list (the probabilities are then always computed) */
    lm_lingua_timing *timing; /* NULL, or the sums begin, fill and finish add to */
} lm_lingua_opts;

/* The reference defaults above. */
void lm_lingua_opts_default(lm_lingua_opts *o);

/* The context-level rate the coarse filter uses (compress_prompt_llmlingua2's
 * context_level_rate and context_level_target_token). */
double lm_lingua_context_rate(const lm_lingua_opts *o, size_t n_contexts, size_t origin_tokens);
/* The rate of the token pass: o->rate, or target_token / tokens (at most
 * 1; 1 for no tokens) when a target is set.  Without the context filter
 * tokens is the prompt's count and a target is target_token > 0; after it,
 * the kept contexts' count and target_token >= 0, as the reference has it
 * (the two `rate = min(target_token / ..., 1.0)` of
 * compress_prompt_llmlingua2). */
double lm_lingua_token_rate(const lm_lingua_opts *o, int after_context_filter, size_t tokens);
/* A context's score: sum(p)/len(p) in float32 (0 for no words). */
float lm_lingua_context_score(const float *p, size_t n);
/* Keeps context i iff score >= percentile(scores, int(100*(1-rate))) or i
 * is forced.  Writes keep[0..n). */
void lm_lingua_context_keep(const float *scores, size_t n, double context_rate, const int64_t *force_ids,
                            size_t n_force_ids, uint8_t *keep);

/* ---- output (compress_prompt_llmlingua2's res) ------------------------ */

/* The reference's "ratio", "rate" and "saving" strings; ratio_v and rate_v
 * (may be NULL) get the numbers they print: origin / compressed (1 when
 * compressed is 0) and 1 / ratio. */
void lm_lingua_format(size_t origin, size_t compressed, char ratio[32], char rate[32], char saving[64],
                      double *ratio_v, double *rate_v);

/* ---- the whole flow (compress.c) ------------------------------------ */

/* The tokenizer set-up of LLMLingua-2 (made by lm_lingua_model_init in
 * model.c, beside the encoder set-up, lm_lingua_encoder). */
typedef struct {
    lm_tokenizer *tok; /* with [NEW0]..[NEW99] added (lm_lingua_model_init) */
    lm_lingua_family fam;
    size_t max_seq_len;     /* 512, or less when the model has fewer positions */
    int32_t cls_id, sep_id; /* ids of the reference's "[CLS]"/"[SEP]" strings */
    int32_t unk_id;         /* the unknown token's id */
    const char *special[5]; /* the special-token strings the merge skips */
    size_t nspecial;
} lm_lingua_model;

/* Counts the tokens of s[0..n) (cl100k in the reference). */
typedef int (*lm_lingua_count_fn)(void *ctx, const char *s, size_t n, size_t *count, char *err,
                                  size_t errlen);
/* Keep probabilities for nseq sequences: ids[i][0..lens[i]) in, probs[i][0..lens[i]) out. */
typedef int (*lm_lingua_prob_fn)(void *ctx, size_t nseq, const int32_t *const *ids, const size_t *lens,
                                 float *const *probs, char *err, size_t errlen);

typedef struct {
    lm_buf prompt; /* compressed_prompt */
    lm_buf *list;  /* [n_list] compressed_prompt_list */
    size_t n_list;
    size_t origin_tokens, compressed_tokens;
    char ratio[32], rate[32], saving[64];
    double ratio_v, rate_v; /* the numbers behind ratio and rate */
    /* with want_words: every word of every context (XLM-R without "▁"), its
     * label, and for words of the token pass its probability (NaN for words
     * of dropped contexts or of the pass-through) */
    size_t n_words;
    char **words;
    size_t *word_len;
    uint8_t *labels;
    double *word_probs;
    /* with want_tokens: the encoder's tokens of every chunk (the chunk-end
     * tokens left out), as the tokenizer's pieces, and their keep
     * probabilities */
    size_t n_tokens;
    const char **tokens; /* point into the tokenizer */
    size_t *token_len;
    float *token_probs;
} lm_lingua_result;

void lm_lingua_result_free(lm_lingua_result *r);

/* Compresses one prompt made of n_ctx contexts.  force (built with
 * lm_lingua_force_init, see lm_lingua_force_build) and o give the
 * parameters.  Returns 0, or -1 with a message (a counter or model
 * failure, invalid UTF-8).  The same as lm_lingua_begin, lm_lingua_fill
 * and lm_lingua_finish on one job. */
int lm_lingua_compress(const lm_lingua_model *m, const lm_lingua_force *force, const lm_lingua_opts *o,
                       const char *const *ctx, const size_t *ctx_len, size_t n_ctx, lm_lingua_count_fn count,
                       void *count_ctx, lm_lingua_prob_fn prob, void *prob_ctx, lm_lingua_result *r,
                       char *err, size_t errlen);

/* The same flow in two halves around the encoder, so that a caller can run
 * the chunks of many prompts through one forward pass:
 *   lm_lingua_begin   counts, force-token replacement, chunking and the
 *                     model input of every chunk (TokenClfDataset);
 *   lm_lingua_fill    one prob call over the chunks of n jobs (none for a
 *                     job whose result needs no probabilities: rate 1, or a
 *                     target_token at or above the prompt's count); NULL
 *                     jobs are skipped;
 *   lm_lingua_finish  the word merge, the filters and the output;
 *                     it frees the job, as lm_lingua_job_free does for a job
 *                     that is dropped instead.
 * o is copied (the arrays it points to must outlive the job); count and
 * count_ctx are used by both halves.  begin returns 0 with *job set, or -1
 * with a message; fill returns prob's status. */
typedef struct lm_lingua_job lm_lingua_job;
int lm_lingua_begin(lm_lingua_job **job, const lm_lingua_model *m, const lm_lingua_force *force,
                    const lm_lingua_opts *o, const char *const *ctx, const size_t *ctx_len, size_t n_ctx,
                    lm_lingua_count_fn count, void *count_ctx, char *err, size_t errlen);
int lm_lingua_fill(lm_lingua_job *const *jobs, size_t n, lm_lingua_prob_fn prob, void *prob_ctx, char *err,
                   size_t errlen);
/* The number of sequences fill gives prob for this job; *tokens (may be
 * NULL) gets their total length. */
size_t lm_lingua_job_seqs(const lm_lingua_job *job, size_t *tokens);
/* The count (the job's count function) summed over its chunk strings, the
 * texts the encoder sees (TACO-RL's L_o); 0 or -1 with the counter's
 * message. */
int lm_lingua_job_chunk_count(const lm_lingua_job *job, size_t *count, char *err, size_t errlen);
int lm_lingua_finish(lm_lingua_job *job, lm_lingua_result *r, char *err, size_t errlen);
void lm_lingua_job_free(lm_lingua_job *job);

/* ---- timing ------------------------------------------------------------ */

/* The timing hook: with o->timing set, lm_lingua_begin adds its seconds to
 * prepare, lm_lingua_fill its seconds to encoder (and the sequences and
 * tokens it runs to chunks and tokens; the hook of the first job counts),
 * lm_lingua_finish its seconds to finish and one to records.  begin and
 * finish add atomically (OpenMP), so jobs may run in parallel. */
struct lm_lingua_timing {
    double prepare, encoder, finish; /* seconds */
    uint64_t records, chunks, tokens;
};

/* Appends the timing as one JSON object:
 * {"records":..,"chunks":..,"tokens":..,"load_s":..,"chunking_s":..,
 * "encoder_s":..,"selection_s":..,"total_s":..,"encoder_tokens_per_s":..}
 * (seconds with 6 decimals, the rate with 1; 0 when no encoder time). */
void lm_lingua_timing_json(lm_buf *b, const lm_lingua_timing *t, double load_s, double total_s);

#endif
