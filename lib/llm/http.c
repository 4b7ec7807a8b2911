/* http.c - the OpenAI-compatible chat-completions backend of client.h:
 * libcurl's multi interface, bounded retries with full-jitter back-off and
 * Retry-After, the answer's JSON read with jansson. */
#include "internal.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/diag.h"

#ifndef LMKIT_VERSION
#define LMKIT_VERSION "0"
#endif

/* an answer larger than this is refused (a chat answer is kilobytes) */
#define MAX_ANSWER ((size_t)64 << 20)

void lm_llm_chat_url(lm_buf *out, const char *base)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    static const char tail[] = "/chat/completions";
    size_t nt = sizeof tail - 1;
    lm_buf_add(out, base, n);
    if (n >= nt && memcmp(base + n - nt, tail, nt) == 0)
        return;
    /* the path starts at the first '/' after "scheme://" */
    const char *host = strstr(base, "://");
    host = host ? host + 3 : base;
    const char *path = memchr(host, '/', n - (size_t)(host - base));
    lm_buf_adds(out, path ? tail : "/v1/chat/completions");
}

int lm_llm_parse_retry_after(const char *v, time_t now, double *secs)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && isspace((unsigned char)v[n - 1]))
        n--;
    if (n == 0)
        return -1;
    size_t i = 0;
    while (i < n && isdigit((unsigned char)v[i]))
        i++;
    if (i == n) {
        /* delta-seconds; absurd lengths saturate */
        double s = 0;
        for (i = 0; i < n; i++)
            s = s < 1e15 ? s * 10 + (v[i] - '0') : s;
        *secs = s;
        return 0;
    }
    char tmp[128];
    if (n >= sizeof tmp)
        return -1;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    /* IMF-fixdate, RFC 850 and asctime dates (RFC 9110 §5.6.7) */
    time_t t = curl_getdate(tmp, NULL);
    if (t == (time_t)-1)
        return -1;
    *secs = t > now ? (double)(t - now) : 0;
    return 0;
}

double lm_llm_backoff(double base, double max, int k, double u)
{
    double cap = base;
    for (int i = 1; i < k && cap < max; i++)
        cap *= 2;
    if (cap > max)
        cap = max;
    return u * cap;
}

static const char *reason(long status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "HTTP status";
    }
}

static int status_retryable(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static int curl_retryable(CURLcode e)
{
    switch (e) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return 1;
    default: return 0;
    }
}

typedef struct {
    size_t j; /* the request */
    CURL *h;
    lm_buf body, resp;
    char retry_after[128];
    int too_big;
    int attempts;
    int state; /* 0 waiting, 1 in flight, 2 done */
    double ready_at;
} xfer;

/* Everything written back to the caller passes through here: the key,
 * wherever a server's text quotes it, becomes "[redacted]". */
static char *redacted(const lm_llm *c, const char *msg)
{
    lm_buf b = {0};
    size_t kn = c->key ? strlen(c->key) : 0;
    const char *p = msg, *q;
    while (kn && (q = strstr(p, c->key))) {
        lm_buf_add(&b, p, (size_t)(q - p));
        lm_buf_adds(&b, "[redacted]");
        p = q + kn;
    }
    lm_buf_adds(&b, p);
    return b.p ? b.p : lm_xstrdup("");
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (x->resp.n + n > MAX_ANSWER) {
        x->too_big = 1;
        return 0;
    }
    lm_buf_add(&x->resp, p, n);
    return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        size_t vn = n - (sizeof name - 1);
        if (vn >= sizeof x->retry_after)
            vn = sizeof x->retry_after - 1;
        memcpy(x->retry_after, p + sizeof name - 1, vn);
        x->retry_after[vn] = '\0';
    } else if (n > 5 && strncmp(p, "HTTP/", 5) == 0) {
        x->retry_after[0] = '\0'; /* a new response (after a 100 Continue) */
    }
    return n;
}

/* The server's own words from an error body: error.message (or error as a
 * string, or message), else the start of the body.  *filtered is set when
 * the error's code is "content_filter". */
static void server_message(lm_buf *out, const lm_buf *resp, int *filtered)
{
    *filtered = 0;
    json_t *v = resp->n ? json_loadb(resp->p, resp->n, 0, NULL) : NULL;
    json_t *e = v ? json_object_get(v, "error") : NULL;
    const char *m = NULL;
    if (json_is_object(e)) {
        m = json_string_value(json_object_get(e, "message"));
        const char *code = json_string_value(json_object_get(e, "code"));
        *filtered = code && strcmp(code, "content_filter") == 0;
    } else if (json_is_string(e)) {
        m = json_string_value(e);
    } else if (v) {
        m = json_string_value(json_object_get(v, "message"));
    }
    if (m) {
        lm_buf_adds(out, m);
    } else if (resp->n) {
        /* not JSON: its first 200 bytes, control characters as spaces */
        size_t n = resp->n < 200 ? resp->n : 200;
        for (size_t i = 0; i < n; i++)
            lm_buf_addc(out, (unsigned char)resp->p[i] < 0x20 ? ' ' : resp->p[i]);
        if (resp->n > n)
            lm_buf_adds(out, "...");
    } else {
        lm_buf_adds(out, "(empty body)");
    }
    json_decref(v);
}

/* A 2xx answer: 0 with the text in *out, or -1 with the reason in msg. */
static int read_answer(const lm_buf *resp, char **out, lm_buf *msg)
{
    json_error_t je;
    /* U+0000 is valid JSON: let it through to the check below, which names it */
    json_t *v = json_loadb(resp->p ? resp->p : "", resp->n, JSON_ALLOW_NUL, &je);
    if (!v) {
        lm_buf_printf(msg, "malformed JSON in the answer (byte %d: %s)", je.position, je.text);
        return -1;
    }
    int rc = -1;
    json_t *ch = json_object_get(v, "choices");
    json_t *c0 = json_array_get(ch, 0);
    json_t *m = json_object_get(c0, "message");
    const char *fr = json_string_value(json_object_get(c0, "finish_reason"));
    json_t *content = json_object_get(m, "content");
    int filtered = 0;
    if (!json_is_object(v)) {
        lm_buf_adds(msg, "the answer is not a JSON object");
    } else if (!json_is_array(ch) && json_object_get(v, "error")) {
        lm_buf_adds(msg, "the answer is an error: ");
        server_message(msg, resp, &filtered);
        if (filtered)
            lm_buf_adds(msg, " (content filter)");
    } else if (!json_is_object(c0)) {
        lm_buf_adds(msg, "the answer has no choices[0]");
    } else if (fr && strcmp(fr, "content_filter") == 0) {
        lm_buf_adds(msg, "refused by the content filter (finish_reason \"content_filter\")");
    } else if (!json_is_string(content)) {
        const char *refusal = json_string_value(json_object_get(m, "refusal"));
        if (refusal)
            lm_buf_printf(msg, "the model refused: %s", refusal);
        else
            lm_buf_adds(msg, "the answer has no text in choices[0].message.content");
    } else if (strlen(json_string_value(content)) != json_string_length(content)) {
        lm_buf_adds(msg, "the answer's text holds a NUL character");
    } else {
        *out = lm_xstrdup(json_string_value(content));
        rc = 0;
    }
    json_decref(v);
    return rc;
}

static int start(lm_llm *c, xfer *x, struct curl_slist *hdrs, char *err, size_t errlen)
{
    CURL *h = curl_easy_init();
    if (!h) {
        lm_seterr(err, errlen, "libcurl: cannot create a transfer");
        return -1;
    }
    lm_buf_reset(&x->resp);
    x->retry_after[0] = '\0';
    x->too_big = 0;
    x->h = h;
    long ms = (long)ceil(c->cfg.timeout * 1000);
    curl_easy_setopt(h, CURLOPT_URL, c->endpoint);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body.p);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body.n);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "lmkit/" LMKIT_VERSION);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(c->multi, h) != CURLM_OK) {
        curl_easy_cleanup(h);
        x->h = NULL;
        lm_seterr(err, errlen, "libcurl: cannot start a transfer");
        return -1;
    }
    x->attempts++;
    x->state = 1;
    return 0;
}

static void done(lm_llm *c, xfer *x, char *output, const char *msg)
{
    x->state = 2;
    llm_finish(c, x->j, output, msg ? redacted(c, msg) : NULL, x->attempts);
}

/* The outcome of one attempt: finished (success or failure) or scheduled
 * again. */
static void settle(lm_llm *c, xfer *x, CURLcode code)
{
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(c->multi, x->h);
    curl_easy_cleanup(x->h);
    x->h = NULL;
    lm_buf msg = {0};
    int retry = 0;
    double wait_at_least = 0;
    if (code != CURLE_OK) {
        if (x->too_big)
            lm_buf_printf(&msg, "the answer is larger than %zu MiB", MAX_ANSWER >> 20);
        else if (code == CURLE_OPERATION_TIMEDOUT)
            lm_buf_printf(&msg, "no complete answer within %g s", c->cfg.timeout);
        else
            lm_buf_printf(&msg, "connection error: %s", curl_easy_strerror(code));
        retry = curl_retryable(code) && !x->too_big;
    } else if (status >= 200 && status < 300) {
        char *out = NULL;
        if (read_answer(&x->resp, &out, &msg) == 0) {
            done(c, x, out, NULL);
            return;
        }
    } else {
        int filtered;
        lm_buf_printf(&msg, "HTTP %ld (%s): ", status, reason(status));
        server_message(&msg, &x->resp, &filtered);
        if (filtered)
            lm_buf_adds(&msg, " (content filter)");
        retry = status_retryable(status) && !filtered;
        double ra;
        if (retry && (status == 429 || status == 503) && x->retry_after[0] &&
            lm_llm_parse_retry_after(x->retry_after, time(NULL), &ra) == 0) {
            if (ra > c->cfg.retry_after_max) {
                lm_buf_printf(&msg, " (the server asks to wait %g s, more than the %g s allowed)", ra,
                              c->cfg.retry_after_max);
                retry = 0;
            }
            wait_at_least = ra;
        }
    }
    if (retry && x->attempts <= c->cfg.retries) {
        double w =
            lm_llm_backoff(c->cfg.backoff_base, c->cfg.backoff_max, x->attempts, lm_rng_uniform(&c->rng));
        x->ready_at = lm_clock() + (w > wait_at_least ? w : wait_at_least);
        x->state = 0;
        c->st.retries++;
        lm_buf_free(&msg);
        return;
    }
    if (retry)
        lm_buf_printf(&msg, " (gave up after %d attempts)", x->attempts);
    done(c, x, NULL, msg.p);
    lm_buf_free(&msg);
}

int llm_http_batch(lm_llm *c, const size_t *todo, size_t n, char *err, size_t errlen)
{
    xfer *xs = lm_xcalloc(n, sizeof *xs);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    lm_buf auth = {0};
    int rc = 0, ok = hdrs && curl_slist_append(hdrs, "Expect:");
    if (ok && c->key) {
        lm_buf_printf(&auth, "Authorization: Bearer %s", c->key);
        ok = curl_slist_append(hdrs, auth.p) != NULL;
    }
    if (!ok) {
        lm_seterr(err, errlen, "libcurl: out of memory for the request headers");
        rc = -1;
    }
    double now = lm_clock();
    for (size_t i = 0; i < n; i++) {
        xs[i].j = todo[i];
        xs[i].ready_at = now;
        lm_llm_request_body(&xs[i].body, c->cfg.model, &c->reqs[todo[i]]);
    }
    size_t ndone = 0, inflight = 0;
    while (rc == 0 && ndone < n) {
        now = lm_clock();
        double next = INFINITY; /* earliest start among those waiting */
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (xs[i].state != 0)
                continue;
            if (inflight < (size_t)c->cfg.parallel && xs[i].ready_at <= now) {
                if (start(c, &xs[i], hdrs, err, errlen))
                    rc = -1;
                else
                    inflight++;
            } else if (xs[i].ready_at < next) {
                next = xs[i].ready_at;
            }
        }
        if (rc)
            break;
        int running = 0;
        if (curl_multi_perform(c->multi, &running) != CURLM_OK) {
            lm_seterr(err, errlen, "libcurl: the transfers failed");
            rc = -1;
            break;
        }
        CURLMsg *m;
        int left, finished = 0;
        while ((m = curl_multi_info_read(c->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            xfer *x = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            settle(c, x, m->data.result);
            inflight--;
            finished = 1;
            if (x->state == 2)
                ndone++;
        }
        if (finished || ndone == n)
            continue;
        /* sleep until a transfer moves or a waiting one may start */
        int ms = 1000;
        if (inflight < (size_t)c->cfg.parallel && next < INFINITY) {
            double d = (next - lm_clock()) * 1000;
            ms = d < 0 ? 0 : d > 1000 ? 1000 : (int)ceil(d);
        }
        if (curl_multi_poll(c->multi, NULL, 0, ms, NULL) != CURLM_OK) {
            lm_seterr(err, errlen, "libcurl: waiting for the transfers failed");
            rc = -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (xs[i].h) {
            curl_multi_remove_handle(c->multi, xs[i].h);
            curl_easy_cleanup(xs[i].h);
        }
        if (xs[i].state != 2)
            llm_finish(c, xs[i].j, NULL, lm_xstrdup(err && errlen ? err : "libcurl failed"), xs[i].attempts);
        lm_buf_free(&xs[i].body);
        lm_buf_free(&xs[i].resp);
    }
    curl_slist_free_all(hdrs);
    if (auth.p)
        memset(auth.p, 0, auth.n);
    lm_buf_free(&auth);
    free(xs);
    return rc;
}

int llm_http_open(lm_llm *c, char *err, size_t errlen)
{
    const char *u = c->cfg.url;
    if (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0) {
        lm_seterr(err, errlen, "'%s' is not an http:// or https:// URL", u);
        return -1;
    }
    if (c->cfg.key_env) {
        const char *k = getenv(c->cfg.key_env);
        if (!k || !*k) {
            lm_seterr(err, errlen, "the environment variable %s, named for the API key, is %s",
                      c->cfg.key_env, k ? "empty" : "not set");
            return -1;
        }
        for (const char *p = k; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                lm_seterr(err, errlen, "the API key in %s holds a control character", c->cfg.key_env);
                return -1;
            }
        c->key = lm_xstrdup(k);
    }
    lm_buf b = {0};
    lm_llm_chat_url(&b, u);
    c->endpoint = b.p;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        lm_seterr(err, errlen, "libcurl: cannot start");
        return -1;
    }
    if (!(c->multi = curl_multi_init())) {
        curl_global_cleanup();
        lm_seterr(err, errlen, "libcurl: cannot start");
        return -1;
    }
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->cfg.parallel);
    return 0;
}

void llm_http_close(lm_llm *c)
{
    if (c->multi) {
        curl_multi_cleanup(c->multi);
        curl_global_cleanup();
    }
    c->multi = NULL;
}
