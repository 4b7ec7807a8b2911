/* client.h - a client for the target LLM of taco-train rl (the model whose
 * answers on compressed prompts make TACO-RL's reward): batches of chat requests sent
 * to an OpenAI-compatible endpoint or to a co-process, with an answer cache.
 *
 * Backends
 *   LM_LLM_HTTP  POST {url}/chat/completions through libcurl (curl multi):
 *                {"model","messages":[system?, user],"temperature","top_p",
 *                "max_tokens","seed"}; the answer is
 *                choices[0].message.content.  The URL rule (lm_llm_chat_url):
 *                trailing slashes are dropped; a URL that already ends in
 *                /chat/completions is used as it is; a URL with no path
 *                ("http://127.0.0.1:8080") gets /v1/chat/completions; any
 *                other ("https://api.openai.com/v1", ".../openai/deployments/X")
 *                gets /chat/completions, as the OpenAI clients append it to
 *                their base_url.  Only http and https; redirects are not
 *                followed.
 *                The API key is read from the environment variable that
 *                key_env names (at lm_llm_open) and sent as
 *                "Authorization: Bearer KEY"; it never appears in a message:
 *                a server's error text that quotes it has it replaced by
 *                "[redacted]".
 *                Retries: at most `retries` more attempts after the first,
 *                for HTTP 408, 429, 500, 502, 503, 504 and for connection
 *                errors and timeouts.  Retry k (k = 1, 2, ...) waits a
 *                full-jitter back-off, uniform in
 *                [0, min(backoff_max, backoff_base * 2^(k-1))) (lm_llm_backoff),
 *                drawn from lm_rng seeded by cfg.seed; on 429 and 503 a
 *                Retry-After header (seconds or an HTTP date)
 *                makes the wait at least that long; a Retry-After longer
 *                than retry_after_max fails the call at once.  Any other
 *                status (400, 401, 403, 404, ...) fails at once with
 *                "HTTP 401 (Unauthorized): <the server's error message>".
 *                A content-filter refusal (finish_reason "content_filter",
 *                or an error whose code is "content_filter"), an answer with
 *                no text, and a malformed JSON body fail the call without a
 *                retry.
 *   LM_LLM_CMD   one long-lived child, /bin/sh -c CMD, fed one JSON line per
 *                request {"id","system","prompt","max_tokens","temperature",
 *                "top_p","seed"} on its stdin; it answers one line per
 *                request on its stdout, {"id","output"} or {"id","error"}, in
 *                any order (matched by id).  An "error" answer is a failed
 *                call.  The child's death is fatal: lm_llm_run returns -1
 *                with its exit status ("exited with status 3", "killed by
 *                signal 9") and every unanswered request fails.  An answer
 *                line that is not such an object, or names no request in
 *                flight, is fatal too (the protocol is broken).  A request
 *                unanswered after timeout fails; its late answer is dropped.
 *                stdin and stdout are driven by poll(), so a child that
 *                writes a lot while it is being written to cannot deadlock.
 *
 * Both keep at most `parallel` requests in flight.
 *
 * Cache (cache_path): JSON Lines {"key":HEX,"output":TEXT}, HEX the SHA-256
 * of the canonical request text (lm_llm_cache_key: the model, the system
 * and user texts and every sampling parameter).  Only successful answers are
 * stored, each line appended with one write() on an O_APPEND descriptor, so
 * a process killed at any moment leaves at most one torn last line; the
 * loader skips a line that does not parse with a warning
 * ("PROG: FILE:LINE: ...") and counts it.  A hit never reaches the backend;
 * identical requests within one batch reach it once.
 *
 * Counters (lm_llm_stats): calls = requests that reached the backend (a
 * cache hit is not one), failures = calls that ended failed, retries = extra
 * HTTP attempts, cache_hits = requests answered by the cache.
 *
 * Thread-safety: a client is used by one thread at a time.  lm_llm_open
 * calls curl_global_init, which is thread-safe in libcurl >= 7.84 only:
 * open the first client before starting threads.  Clients share nothing
 * else.  While lm_llm_run works, SIGPIPE is blocked in the calling thread
 * (a pending one it caused is consumed), so a dead peer is an error, not a
 * killed process.
 *
 * Memory: lmkit's own through lm_x* (core/diag.h); libcurl and jansson
 * allocate theirs.
 */
#ifndef LMKIT_LLM_CLIENT_H
#define LMKIT_LLM_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

typedef enum { LM_LLM_HTTP, LM_LLM_CMD } lm_llm_backend;

typedef struct {
    lm_llm_backend backend;
    const char *url;        /* HTTP: base URL (see the rule above) */
    const char *model;      /* HTTP: the "model" field; both: part of the cache key
                                (CMD: NULL uses the command text) */
    const char *key_env;    /* HTTP: NAME of the variable holding the API key; NULL: none */
    const char *cmd;        /* CMD: the shell command */
    int parallel;           /* requests in flight, >= 1 */
    double timeout;         /* seconds per request (per attempt for HTTP), > 0 */
    int retries;            /* HTTP: extra attempts, >= 0 */
    double backoff_base;    /* HTTP: seconds, first back-off bound */
    double backoff_max;     /* HTTP: seconds, largest back-off bound */
    double retry_after_max; /* HTTP: longest Retry-After honoured, seconds */
    uint64_t seed;          /* jitter generator seed */
    const char *cache_path; /* NULL: no cache */
} lm_llm_config;

/* Defaults: parallel 4, timeout 60, retries 3, back-off 1..30 s,
 * retry_after_max 120, seed 0, everything else NULL. */
void lm_llm_config_init(lm_llm_config *c);

typedef struct {
    const char *system; /* NULL: no system message (CMD: sent as "") */
    const char *prompt; /* the user message */
    int max_tokens;
    double temperature, top_p;
    int64_t seed;
} lm_llm_request;

typedef struct {
    char *output; /* the answer (NUL-terminated), NULL when failed */
    char *error;  /* why it failed, NULL when it did not */
    int failed;   /* 1: no answer; the caller leaves the sample out and counts it */
    int cached;   /* 1: answered by the cache */
    int attempts; /* HTTP attempts made (0 for a cache hit) */
} lm_llm_result;

typedef struct {
    uint64_t calls, failures, retries, cache_hits;
    uint64_t cache_loaded;    /* answers read from the cache file */
    uint64_t cache_bad_lines; /* lines of it skipped */
} lm_llm_stats;

typedef struct lm_llm lm_llm;

/* Checks cfg, reads the key, loads the cache, starts the child (CMD).
 * Returns NULL with a message in err. */
lm_llm *lm_llm_open(const lm_llm_config *cfg, char *err, size_t errlen);
/* Answers reqs[0..n) into res[0..n) (res is overwritten: free it with
 * lm_llm_results_free).  Returns 0 when the batch ran, whatever the single
 * results; -1 with a message in err on a fatal error (the co-process died or
 * broke the protocol, the cache cannot be written): every request without
 * an answer is then failed, and later calls fail at once. */
int lm_llm_run(lm_llm *c, const lm_llm_request *reqs, size_t n, lm_llm_result *res, char *err, size_t errlen);
void lm_llm_results_free(lm_llm_result *res, size_t n);
lm_llm_stats lm_llm_get_stats(const lm_llm *c);
/* Stops the child (closes its stdin, waits 2 s, then SIGTERM, SIGKILL),
 * closes the cache, frees c.  NULL is allowed. */
void lm_llm_close(lm_llm *c);

/* ---- parts exposed for tests ---- */

/* The endpoint for a base URL (rule above) into out. */
void lm_llm_chat_url(lm_buf *out, const char *base);
/* The exact request body the HTTP backend sends. */
void lm_llm_request_body(lm_buf *out, const char *model, const lm_llm_request *r);
/* The line the CMD backend sends, without its newline. */
void lm_llm_cmd_line(lm_buf *out, const char *id, const lm_llm_request *r);
/* The cache key (64 hex digits) of a request to model. */
void lm_llm_cache_key(char out[65], const char *model, const lm_llm_request *r);
/* A Retry-After value: delta-seconds or an HTTP date, taken relative to
 * now.  Returns 0 with *secs >= 0 (a past date gives 0), -1 if it is
 * neither. */
int lm_llm_parse_retry_after(const char *v, time_t now, double *secs);
/* The full-jitter wait before retry number k (1 = the first retry):
 * uniform in [0, min(max, base * 2^(k-1))), u uniform in [0, 1). */
double lm_llm_backoff(double base, double max, int k, double u);

#endif
