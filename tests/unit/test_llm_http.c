/* test_llm_http.c - the HTTP backend of lib/llm against a loopback
 * OpenAI-compatible server that the test starts (tests/llm/fake-openai.py,
 * Python stdlib, 127.0.0.1 only): success, 429 with Retry-After: 1, 503
 * with Retry-After as a date, 500 then success, 500 every time, a stalled
 * answer (longer than the client timeout) every time and once, malformed
 * JSON, a content-filter refusal (finish_reason and error code), 401.
 * Checked: each call's outcome and attempts, the counters, the wait that
 * Retry-After asks for, requests in flight at most N and more than one, the
 * exact path, body and Authorization header the server got, the key never
 * in a message, a refused connection retried, and the whole batch done in
 * bounded time (alarm() turns a hang into a failure). */
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "core/diag.h"
#include "llm/client.h"
#include "llm_helpers.h"
#include "tap.h"

#define KEY "sk-test-0123456789-secret"

static pid_t server;

static int start_server(void)
{
    int fd[2];
    if (pipe(fd))
        return -1;
    server = fork();
    if (server == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execlp("python3", "python3", "tests/llm/fake-openai.py", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char line[32] = {0};
    size_t n = 0;
    struct pollfd pf = {fd[0], POLLIN, 0};
    while (n < sizeof line - 1 && poll(&pf, 1, 10000) == 1) {
        ssize_t r = read(fd[0], line + n, 1);
        if (r != 1 || line[n] == '\n')
            break;
        n++;
    }
    close(fd[0]);
    return atoi(line);
}

static void stop_server(void)
{
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static lm_llm_config config(const char *url)
{
    lm_llm_config cfg;
    lm_llm_config_init(&cfg);
    cfg.url = url;
    cfg.model = "test-model";
    cfg.key_env = "LMKIT_TEST_LLM_KEY";
    cfg.parallel = 4;
    cfg.timeout = 0.7;
    cfg.retries = 2;
    cfg.backoff_base = 0.05;
    cfg.backoff_max = 0.2;
    cfg.retry_after_max = 5;
    cfg.seed = 1;
    return cfg;
}

static lm_llm_request req(const char *prompt)
{
    lm_llm_request r = {"You are a helpful assistant.", prompt, 1500, 0.0, 1.0, 42};
    return r;
}

enum {
    OK,
    R429,
    R503,
    F500,
    A500,
    STALL,
    STALL1,
    BADJSON,
    FILTER,
    FILTERERR,
    E401,
    LONG429,
    S1,
    S2,
    S3,
    S4,
    NREQ
};

static void check_one(const lm_llm_result *res, int i, int failed, int attempts, const char *text,
                      const char *name)
{
    int good = res[i].failed == failed && res[i].attempts == attempts &&
               (!text || (failed ? res[i].error && strstr(res[i].error, text)
                                 : res[i].output && strcmp(res[i].output, text) == 0));
    ok(good, "%s: %s after %d attempt%s", name, failed ? "failed" : "answered", attempts,
       attempts == 1 ? "" : "s");
    if (!good)
        diag("got failed=%d attempts=%d output=%s error=%s", res[i].failed, res[i].attempts,
             res[i].output ? res[i].output : "-", res[i].error ? res[i].error : "-");
}

static void test_scenarios(int port)
{
    char url[64], err[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    lm_llm_config cfg = config(url);
    lm_llm *c = lm_llm_open(&cfg, err, sizeof err);
    ok(c != NULL, "open %s", url);
    if (!c) {
        diag("%s", err);
        return;
    }
    static const char *prompts[NREQ] = {
        "scenario=ok hello",    "scenario=429 a",       "scenario=503date b",   "scenario=500once c",
        "scenario=500always d", "scenario=stall e",     "scenario=stallonce f", "scenario=badjson g",
        "scenario=filter h",    "scenario=filtererr i", "scenario=401 j",       "scenario=429long k",
        "scenario=slow 1",      "scenario=slow 2",      "scenario=slow 3",      "scenario=slow 4"};
    lm_llm_request r[NREQ];
    lm_llm_result res[NREQ];
    for (int i = 0; i < NREQ; i++)
        r[i] = req(prompts[i]);
    double t0 = now_s();
    alarm(30);
    int rc = lm_llm_run(c, r, NREQ, res, err, sizeof err);
    alarm(0);
    double took = now_s() - t0;
    ok(rc == 0, "the batch runs (%.2f s)", took);
    ok(took < 8, "in bounded time: %.2f s < 8 s (no hang on the stalled answers)", took);
    check_one(res, OK, 0, 1, "answer: scenario=ok hello", "200");
    check_one(res, R429, 0, 2, "answer: scenario=429 a", "429 with Retry-After: 1, then 200");
    check_one(res, R503, 0, 2, "answer: scenario=503date b", "503 with Retry-After as a date, then 200");
    check_one(res, F500, 0, 2, "answer: scenario=500once c", "500 then 200");
    check_one(res, A500, 1, 3,
              "HTTP 500 (Internal Server Error): The server had an error (gave up after 3 attempts)",
              "500 every time: retried twice");
    check_one(res, STALL, 1, 3, "no complete answer within 0.7 s (gave up after 3 attempts)",
              "stalled every time: timed out thrice");
    check_one(res, STALL1, 0, 2, "answer: scenario=stallonce f", "stalled once, then 200");
    check_one(res, BADJSON, 1, 1, "malformed JSON in the answer", "malformed JSON: not retried");
    check_one(res, FILTER, 1, 1, "refused by the content filter (finish_reason \"content_filter\")",
              "finish_reason content_filter: not retried");
    check_one(res, FILTERERR, 1, 1, "HTTP 400 (Bad Request): The response was filtered (content filter)",
              "error code content_filter: not retried");
    check_one(res, E401, 1, 1, "HTTP 401 (Unauthorized): Incorrect API key provided: [redacted]",
              "401: not retried, the server's message named");
    check_one(res, LONG429, 1, 1, "the server asks to wait 100 s, more than the 5 s allowed",
              "429 asking for more than retry_after_max: failed at once");
    for (int i = S1; i <= S4; i++)
        check_one(res, i, 0, 1, NULL, "slow request");
    int leak = 0;
    for (int i = 0; i < NREQ; i++)
        leak |= res[i].error && strstr(res[i].error, KEY) != NULL;
    ok(!leak, "the API key is in no message");
    lm_llm_stats st = lm_llm_get_stats(c);
    ok(st.calls == NREQ && st.failures == 7 && st.retries == 8 && st.cache_hits == 0,
       "counters: calls %llu (16), failures %llu (7), retries %llu (8)", (unsigned long long)st.calls,
       (unsigned long long)st.failures, (unsigned long long)st.retries);
    lm_llm_results_free(res, NREQ);

    /* what the server saw */
    lm_llm_request s = req("scenario=stats");
    ok(lm_llm_run(c, &s, 1, res, err, sizeof err) == 0 && !res[0].failed, "stats from the server");
    const char *o = res[0].output ? res[0].output : "";
    diag("server: %s", o);
    const char *mi = strstr(o, "\"max_inflight\": ");
    int maxin = mi ? atoi(mi + 16) : -1;
    ok(maxin >= 2 && maxin <= 4, "requests in flight together: %d (at most 4, more than 1)", maxin);
    const char *g = strstr(o, "\"429\": ");
    double gap = g ? atof(g + 7) : -1;
    ok(gap >= 0.95 && gap < 2.5, "the retry after 429 waited Retry-After: %.3f s", gap);
    g = strstr(o, "\"503date\": ");
    gap = g ? atof(g + 11) : -1;
    ok(gap >= 0 && gap < 2.5, "the retry after 503 with a date: %.3f s", gap);
    const char *rq = strstr(o, "\"requests\": ");
    ok(rq && atoi(rq + 12) == NREQ + 8, "the server got 24 requests (16 + 8 retries)");
    lm_llm_results_free(res, 1);

    /* the exact request */
    s = req("scenario=echo \"q\"");
    ok(lm_llm_run(c, &s, 1, res, err, sizeof err) == 0 && !res[0].failed, "echo");
    o = res[0].output ? res[0].output : "";
    ok(strstr(o, "\"path\": \"/v1/chat/completions\"") != NULL,
       "path /v1/chat/completions for a URL without one");
    ok(strstr(o, "\"auth\": \"Bearer " KEY "\"") != NULL, "Authorization: Bearer KEY from the environment");
    lm_buf want = {0}, esc = {0};
    lm_llm_request_body(&want, "test-model", &s);
    lm_buf_add_jstr(&esc, want.p, want.n);
    char *body = strstr(o, "\"body\": ");
    ok(body && strncmp(body + 8, esc.p, esc.n) == 0, "the body the server got is lm_llm_request_body's");
    lm_buf_free(&want);
    lm_buf_free(&esc);
    lm_llm_results_free(res, 1);

    /* a NUL character in the answer: valid JSON, but no C string holds it */
    lm_llm_request nul = req("scenario=nul x");
    int nrc = lm_llm_run(c, &nul, 1, res, err, sizeof err);
    if (nrc != 0)
        diag("run: %s", err);
    ok(nrc == 0 && res[0].failed && res[0].error &&
           strcmp(res[0].error, "the answer's text holds a NUL character") == 0,
       "an answer holding U+0000 fails the call, saying so: %s", res[0].error ? res[0].error : "(none)");
    lm_llm_results_free(res, 1);
    lm_llm_close(c);

    /* 6 requests of 0.3 s with 2 in flight take 3 rounds */
    cfg = config(url);
    cfg.parallel = 2;
    c = lm_llm_open(&cfg, err, sizeof err);
    lm_llm_request six[6];
    lm_llm_result sres[6];
    static const char *sp[6] = {"scenario=slow p1", "scenario=slow p2", "scenario=slow p3",
                                "scenario=slow p4", "scenario=slow p5", "scenario=slow p6"};
    for (int i = 0; i < 6; i++)
        six[i] = req(sp[i]);
    double t1 = now_s();
    ok(c && lm_llm_run(c, six, 6, sres, err, sizeof err) == 0 && !sres[5].failed,
       "six slow requests, 2 in flight");
    double t6 = now_s() - t1;
    ok(t6 >= 0.85 && t6 < 3, "took three rounds of 0.3 s: %.2f s", t6);
    if (c)
        lm_llm_results_free(sres, 6);
    lm_llm_close(c);

    /* base URL with /v1/ and a trailing slash; no key */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/", port);
    cfg = config(url);
    cfg.key_env = NULL;
    c = lm_llm_open(&cfg, err, sizeof err);
    ok(c && lm_llm_run(c, &s, 1, res, err, sizeof err) == 0 && !res[0].failed, "base URL .../v1/");
    o = c && res[0].output ? res[0].output : "";
    ok(strstr(o, "\"path\": \"/v1/chat/completions\"") && strstr(o, "\"auth\": null"),
       "the same path; no Authorization header without a key");
    if (c)
        lm_llm_results_free(res, 1);
    lm_llm_close(c);
}

static void test_setup_errors(void)
{
    char err[512];
    lm_llm_config cfg = config("http://127.0.0.1:9");
    cfg.key_env = "LMKIT_TEST_LLM_KEY_UNSET";
    ok(lm_llm_open(&cfg, err, sizeof err) == NULL &&
           strcmp(err,
                  "the environment variable LMKIT_TEST_LLM_KEY_UNSET, named for the API key, is not set") ==
               0,
       "an unset key variable: %s", err);
    cfg = config("ftp://127.0.0.1/");
    ok(lm_llm_open(&cfg, err, sizeof err) == NULL && strstr(err, "not an http:// or https:// URL"),
       "an ftp URL: %s", err);

    /* a port nobody listens on: connection refused, retried, then failed */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &al);
    close(s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", ntohs(a.sin_port));
    cfg = config(url);
    cfg.retries = 1;
    lm_llm *c = lm_llm_open(&cfg, err, sizeof err);
    lm_llm_request r = req("x");
    lm_llm_result res;
    double t0 = now_s();
    ok(c && lm_llm_run(c, &r, 1, &res, err, sizeof err) == 0, "a batch to a closed port runs");
    ok(c && res.failed && res.attempts == 2 && strstr(res.error, "connection error") &&
           strstr(res.error, "gave up after 2 attempts"),
       "connection refused: retried once, then failed: %s", c && res.error ? res.error : "");
    ok(now_s() - t0 < 3, "quickly");
    lm_llm_stats st = c ? lm_llm_get_stats(c) : (lm_llm_stats){0};
    ok(st.calls == 1 && st.failures == 1 && st.retries == 1, "counters: calls 1, failures 1, retries 1");
    if (c)
        lm_llm_results_free(&res, 1);
    lm_llm_close(c);
}

int main(void)
{
    if (llm_test_chdir_top()) {
        ok(0, "cannot find the repository root (tests/llm)");
        return tap_done();
    }
    setenv("LMKIT_TEST_LLM_KEY", KEY, 1);
    int port = start_server();
    ok(port > 0, "the loopback server listens on 127.0.0.1:%d", port);
    if (port > 0)
        test_scenarios(port);
    stop_server();
    test_setup_errors();
    return tap_done();
}
