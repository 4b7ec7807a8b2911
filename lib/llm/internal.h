/* internal.h - what the parts of lib/llm share (not for callers). */
#ifndef LMKIT_LLM_INTERNAL_H
#define LMKIT_LLM_INTERNAL_H

#include <sys/types.h>

#include "client.h"
#include "core/rng.h"
#include "core/strmap.h"

struct lm_llm {
    lm_llm_config cfg; /* strings owned (copied) */
    char *model;       /* cache-key model: cfg.model, or the command (CMD) */
    char *endpoint;    /* HTTP: the full URL */
    char *key;         /* HTTP: the API key, NULL when none */
    lm_rng rng;        /* back-off jitter */
    lm_llm_stats st;
    char *dead; /* set once a fatal error happened: its message */

    /* cache */
    int cache_fd; /* -1: none */
    lm_strmap cmap;
    char **cout; /* answer of cache id i */
    size_t capcout;

    /* the batch being answered */
    const lm_llm_request *reqs;
    lm_llm_result *res;
    char (*keys)[65]; /* per request, when the cache is on */
    char *cache_err;  /* first cache write error of the batch */

    /* HTTP */
    void *multi; /* CURLM * */

    /* CMD */
    pid_t pid;
    int to_fd, from_fd;
    lm_buf in;        /* bytes read from the child, not yet a full line */
    uint64_t next_id; /* last id handed out */
    uint64_t lines;   /* answer lines read (for messages) */
    uint64_t *gone;   /* ids that timed out: their late answers are dropped */
    size_t ngone, capgone;
};

/* A backend reports the final outcome of request j: exactly one of output
 * and error is non-NULL (taken over).  A success is appended to the cache. */
void llm_finish(lm_llm *c, size_t j, char *output, char *error, int attempts);

int llm_http_open(lm_llm *c, char *err, size_t errlen);
int llm_http_batch(lm_llm *c, const size_t *todo, size_t n, char *err, size_t errlen);
void llm_http_close(lm_llm *c);

int llm_cmd_open(lm_llm *c, char *err, size_t errlen);
int llm_cmd_batch(lm_llm *c, const size_t *todo, size_t n, char *err, size_t errlen);
void llm_cmd_close(lm_llm *c);

int llm_cache_open(lm_llm *c, char *err, size_t errlen);
/* The cached answer for key, or NULL. */
const char *llm_cache_get(lm_llm *c, const char *key);
/* Remembers and appends one answer; -1 with a message on a write error. */
int llm_cache_put(lm_llm *c, const char *key, const char *output, char *err, size_t errlen);
void llm_cache_close(lm_llm *c);

#endif
