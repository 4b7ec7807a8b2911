/* client.c - the batch API of client.h: the cache in front, the backends
 * (http.c, cmd.c) behind, the request texts, SIGPIPE kept away. */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/diag.h"
#include "core/json.h"
#include "core/sha256.h"

void lm_llm_config_init(lm_llm_config *c)
{
    memset(c, 0, sizeof *c);
    c->backend = LM_LLM_HTTP;
    c->parallel = 4;
    c->timeout = 60;
    c->retries = 3;
    c->backoff_base = 1;
    c->backoff_max = 30;
    c->retry_after_max = 120;
}

static char *dup_or_null(const char *s)
{
    return s ? lm_xstrdup(s) : NULL;
}

lm_llm *lm_llm_open(const lm_llm_config *cfg, char *err, size_t errlen)
{
    if (cfg->parallel < 1) {
        lm_seterr(err, errlen, "parallel requests must be at least 1 (got %d)", cfg->parallel);
        return NULL;
    }
    if (!(cfg->timeout > 0)) {
        lm_seterr(err, errlen, "the request timeout must be more than 0 seconds");
        return NULL;
    }
    if (cfg->retries < 0 || !(cfg->backoff_base >= 0) || !(cfg->backoff_max >= 0) ||
        !(cfg->retry_after_max >= 0)) {
        lm_seterr(err, errlen, "retries and back-off times must not be negative");
        return NULL;
    }
    if (cfg->backend == LM_LLM_CMD ? !cfg->cmd || !*cfg->cmd : !cfg->url || !*cfg->url) {
        lm_seterr(err, errlen,
                  cfg->backend == LM_LLM_CMD ? "no command given for the LLM co-process"
                                             : "no URL given for the LLM endpoint");
        return NULL;
    }
    if (cfg->backend == LM_LLM_HTTP && (!cfg->model || !*cfg->model)) {
        lm_seterr(err, errlen, "no model name given for the LLM endpoint");
        return NULL;
    }
    lm_llm *c = lm_xcalloc(1, sizeof *c);
    c->cfg = *cfg;
    c->cfg.url = dup_or_null(cfg->url);
    c->cfg.model = dup_or_null(cfg->model);
    c->cfg.key_env = dup_or_null(cfg->key_env);
    c->cfg.cmd = dup_or_null(cfg->cmd);
    c->cfg.cache_path = dup_or_null(cfg->cache_path);
    c->model = lm_xstrdup(cfg->model ? cfg->model : cfg->cmd);
    c->cache_fd = c->to_fd = c->from_fd = -1;
    c->pid = -1;
    lm_rng_init(&c->rng, cfg->seed, 0);
    int rc = cfg->backend == LM_LLM_CMD ? llm_cmd_open(c, err, errlen) : llm_http_open(c, err, errlen);
    if (rc == 0 && c->cfg.cache_path)
        rc = llm_cache_open(c, err, errlen);
    if (rc) {
        lm_llm_close(c);
        return NULL;
    }
    return c;
}

void lm_llm_close(lm_llm *c)
{
    if (!c)
        return;
    if (c->cfg.backend == LM_LLM_CMD)
        llm_cmd_close(c);
    else
        llm_http_close(c);
    llm_cache_close(c);
    if (c->key) {
        /* the key does not outlive the client in freed memory */
        volatile char *k = c->key;
        while (*k)
            *k++ = 0;
    }
    free(c->key);
    free((char *)c->cfg.url);
    free((char *)c->cfg.model);
    free((char *)c->cfg.key_env);
    free((char *)c->cfg.cmd);
    free((char *)c->cfg.cache_path);
    free(c->model);
    free(c->endpoint);
    free(c->dead);
    free(c);
}

lm_llm_stats lm_llm_get_stats(const lm_llm *c)
{
    return c->st;
}

void lm_llm_results_free(lm_llm_result *res, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(res[i].output);
        free(res[i].error);
        res[i].output = res[i].error = NULL;
    }
}

void llm_finish(lm_llm *c, size_t j, char *output, char *error, int attempts)
{
    lm_llm_result *r = &c->res[j];
    free(r->output);
    free(r->error);
    r->output = output;
    r->error = error;
    r->failed = output == NULL;
    r->attempts = attempts;
    if (r->failed) {
        c->st.failures++;
        return;
    }
    if (c->cache_fd >= 0 && !c->cache_err) {
        char e[512];
        if (llm_cache_put(c, c->keys[j], output, e, sizeof e))
            c->cache_err = lm_xstrdup(e);
    }
}

/* ---- request texts ---- */

static void add_str_or_null(lm_buf *b, const char *s)
{
    if (s)
        lm_buf_add_jstr(b, s, strlen(s));
    else
        lm_buf_adds(b, "null");
}

void lm_llm_request_body(lm_buf *b, const char *model, const lm_llm_request *r)
{
    lm_buf_adds(b, "{\"model\":");
    lm_buf_add_jstr(b, model, strlen(model));
    lm_buf_adds(b, ",\"messages\":[");
    if (r->system) {
        lm_buf_adds(b, "{\"role\":\"system\",\"content\":");
        lm_buf_add_jstr(b, r->system, strlen(r->system));
        lm_buf_adds(b, "},");
    }
    lm_buf_adds(b, "{\"role\":\"user\",\"content\":");
    add_str_or_null(b, r->prompt);
    lm_buf_adds(b, "}],\"temperature\":");
    lm_buf_add_jnum(b, r->temperature);
    lm_buf_adds(b, ",\"top_p\":");
    lm_buf_add_jnum(b, r->top_p);
    lm_buf_printf(b, ",\"max_tokens\":%d,\"seed\":%" PRId64 "}", r->max_tokens, r->seed);
}

void lm_llm_cmd_line(lm_buf *b, const char *id, const lm_llm_request *r)
{
    lm_buf_adds(b, "{\"id\":");
    lm_buf_add_jstr(b, id, strlen(id));
    lm_buf_adds(b, ",\"system\":");
    lm_buf_add_jstr(b, r->system ? r->system : "", r->system ? strlen(r->system) : 0);
    lm_buf_adds(b, ",\"prompt\":");
    add_str_or_null(b, r->prompt);
    lm_buf_printf(b, ",\"max_tokens\":%d,\"temperature\":", r->max_tokens);
    lm_buf_add_jnum(b, r->temperature);
    lm_buf_adds(b, ",\"top_p\":");
    lm_buf_add_jnum(b, r->top_p);
    lm_buf_printf(b, ",\"seed\":%" PRId64 "}", r->seed);
}

void lm_llm_cache_key(char out[65], const char *model, const lm_llm_request *r)
{
    /* a JSON array: one canonical text per request, with a version tag */
    lm_buf b = {0};
    lm_buf_adds(&b, "[\"lmkit-llm-cache/1\",");
    add_str_or_null(&b, model);
    lm_buf_addc(&b, ',');
    add_str_or_null(&b, r->system);
    lm_buf_addc(&b, ',');
    add_str_or_null(&b, r->prompt);
    lm_buf_printf(&b, ",%d,", r->max_tokens);
    lm_buf_add_jnum(&b, r->temperature);
    lm_buf_addc(&b, ',');
    lm_buf_add_jnum(&b, r->top_p);
    lm_buf_printf(&b, ",%" PRId64 "]", r->seed);
    lm_sha256_hex(b.p, b.n, out);
    lm_buf_free(&b);
}

/* ---- SIGPIPE: blocked while a batch runs, a pending one we caused eaten ---- */

typedef struct {
    sigset_t old;
    int was_pending;
} pipe_guard;

static void guard_on(pipe_guard *g)
{
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
    sigpending(&pend);
    g->was_pending = sigismember(&pend, SIGPIPE) == 1;
}

static void guard_off(pipe_guard *g)
{
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pend);
    if (!g->was_pending && sigismember(&pend, SIGPIPE) == 1) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

int lm_llm_run(lm_llm *c, const lm_llm_request *reqs, size_t n, lm_llm_result *res, char *err, size_t errlen)
{
    memset(res, 0, n * sizeof *res);
    if (c->dead) {
        for (size_t j = 0; j < n; j++) {
            res[j].failed = 1;
            res[j].error = lm_xstrdup(c->dead);
        }
        lm_seterr(err, errlen, "%s", c->dead);
        return -1;
    }
    c->reqs = reqs;
    c->res = res;
    size_t *todo = lm_xcalloc(n ? n : 1, sizeof *todo), ntodo = 0;
    size_t *first = NULL; /* with the cache: the request a duplicate waits for */
    lm_strmap batch = {0};
    if (c->cache_fd >= 0) {
        c->keys = lm_xcalloc(n ? n : 1, sizeof *c->keys);
        first = lm_xcalloc(n ? n : 1, sizeof *first);
    }
    for (size_t j = 0; j < n; j++) {
        if (c->cache_fd < 0) {
            todo[ntodo++] = j;
            continue;
        }
        lm_llm_cache_key(c->keys[j], c->model, &reqs[j]);
        const char *hit = llm_cache_get(c, c->keys[j]);
        first[j] = j;
        if (hit) {
            res[j].output = lm_xstrdup(hit);
            res[j].cached = 1;
            c->st.cache_hits++;
            continue;
        }
        int is_new;
        uint32_t id = lm_strmap_id(&batch, c->keys[j], 64, &is_new);
        if (!is_new) {
            first[j] = todo[id];
            continue;
        }
        todo[ntodo++] = j;
    }
    c->st.calls += ntodo;
    pipe_guard g;
    guard_on(&g);
    int rc = ntodo == 0                     ? 0
             : c->cfg.backend == LM_LLM_CMD ? llm_cmd_batch(c, todo, ntodo, err, errlen)
                                            : llm_http_batch(c, todo, ntodo, err, errlen);
    guard_off(&g);
    for (size_t j = 0; first && j < n; j++) {
        if (first[j] == j || res[j].cached)
            continue;
        const lm_llm_result *f = &res[first[j]];
        res[j].failed = f->failed;
        res[j].output = f->output ? lm_xstrdup(f->output) : NULL;
        res[j].error = f->error ? lm_xstrdup(f->error) : NULL;
        if (!f->failed) {
            res[j].cached = 1;
            c->st.cache_hits++;
        }
    }
    if (rc == 0 && c->cache_err) {
        lm_seterr(err, errlen, "%s", c->cache_err);
        c->dead = lm_xstrdup(c->cache_err);
        rc = -1;
    }
    free(c->cache_err);
    c->cache_err = NULL;
    free(c->keys);
    c->keys = NULL;
    free(first);
    free(todo);
    lm_strmap_free(&batch);
    c->reqs = NULL;
    c->res = NULL;
    return rc;
}
