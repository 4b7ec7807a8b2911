/* test_llm.c - lib/llm without a server: the endpoint URL rule, the exact
 * request texts, the cache key, Retry-After parsing, the back-off bounds,
 * and the cache file (round trip, a torn last line, hits that never reach
 * the backend). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/rng.h"
#include "llm/client.h"
#include "llm_helpers.h"
#include "tap.h"

static void url_is(const char *base, const char *want)
{
    lm_buf b = {0};
    lm_llm_chat_url(&b, base);
    is_str(b.p, want, "URL rule: %s", base);
    lm_buf_free(&b);
}

static lm_llm_request req(const char *system, const char *prompt)
{
    lm_llm_request r = {system, prompt, 1500, 0.0, 1.0, 42};
    return r;
}

static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;
    int ch;
    while (f && (ch = fgetc(f)) != EOF)
        n += ch == '\n';
    if (f)
        fclose(f);
    return n;
}

static void test_texts(void)
{
    url_is("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1/chat/completions");
    url_is("http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1/chat/completions");
    url_is("https://api.openai.com/v1", "https://api.openai.com/v1/chat/completions");
    url_is("https://api.openai.com/v1/", "https://api.openai.com/v1/chat/completions");
    url_is("http://h/v1/chat/completions", "http://h/v1/chat/completions");
    url_is("https://x.openai.azure.com/openai/deployments/gpt",
           "https://x.openai.azure.com/openai/deployments/gpt/chat/completions");
    url_is("http://localhost:11434/api/", "http://localhost:11434/api/chat/completions");

    lm_buf b = {0};
    lm_llm_request r = req("You are a helpful assistant.", "Summarize:\n\"x\" \xc3\xa9");
    lm_llm_request_body(&b, "gpt-35-turbo", &r);
    is_str(b.p,
           "{\"model\":\"gpt-35-turbo\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a helpful "
           "assistant.\"},{\"role\":\"user\",\"content\":\"Summarize:\\n\\\"x\\\" \xc3\xa9\"}],"
           "\"temperature\":0,\"top_p\":1,\"max_tokens\":1500,\"seed\":42}",
           "request body, exactly");
    lm_buf_reset(&b);
    r = req(NULL, "hi");
    r.temperature = 0.7;
    r.top_p = 0.95;
    r.max_tokens = 16;
    r.seed = -3;
    lm_llm_request_body(&b, "m", &r);
    is_str(b.p,
           "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":0.7,"
           "\"top_p\":0.95,\"max_tokens\":16,\"seed\":-3}",
           "request body without a system message, fractional parameters");
    lm_buf_reset(&b);
    r = req("sys", "p");
    lm_llm_cmd_line(&b, "17", &r);
    is_str(b.p,
           "{\"id\":\"17\",\"system\":\"sys\",\"prompt\":\"p\",\"max_tokens\":1500,\"temperature\":0,"
           "\"top_p\":1,\"seed\":42}",
           "co-process request line, exactly (spec 5.2)");
    lm_buf_free(&b);

    char k0[65], k1[65];
    r = req("s", "p");
    lm_llm_cache_key(k0, "m", &r);
    diag("cache key of (m, s, p, 1500, 0, 1, 42): %s", k0);
    /* python3: hashlib.sha256(b'["lmkit-llm-cache/1","m","s","p",1500,0,1,42]').hexdigest() */
    is_str(k0, "013001583a1736c97aeeec7e9b14c371ed15b8fe6cd35f566a286feca39e5a6f",
           "cache key = SHA-256 of the canonical text, pinned");
    int differ = 1;
    lm_llm_request v[6] = {req("s", "p"), req("s", "q"), req(NULL, "p"),
                           req("s", "p"), req("s", "p"), req("s", "p")};
    v[3].max_tokens = 1499;
    v[4].temperature = 1e-9;
    v[5].seed = 43;
    for (int i = 1; i < 6; i++) {
        lm_llm_cache_key(k1, "m", &v[i]);
        differ &= strcmp(k0, k1) != 0;
    }
    lm_llm_cache_key(k1, "m2", &v[0]);
    differ &= strcmp(k0, k1) != 0;
    ok(differ, "every field of the request and the model change the cache key");
}

static void test_retry_after(void)
{
    double s = -1;
    time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    ok(lm_llm_parse_retry_after("1", now, &s) == 0 && s == 1, "Retry-After: 1");
    ok(lm_llm_parse_retry_after(" 120 \r\n", now, &s) == 0 && s == 120,
       "Retry-After: 120 with blanks and CRLF");
    ok(lm_llm_parse_retry_after("0", now, &s) == 0 && s == 0, "Retry-After: 0");
    ok(lm_llm_parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now, &s) == 0 && s == 30,
       "Retry-After as an IMF-fixdate 30 s ahead");
    ok(lm_llm_parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now, &s) == 0 && s == 10,
       "Retry-After as an RFC 850 date");
    ok(lm_llm_parse_retry_after("Sun Nov  6 08:49:42 1994", now, &s) == 0 && s == 5,
       "Retry-After as an asctime date");
    ok(lm_llm_parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now, &s) == 0 && s == 0,
       "a past date waits 0");
    ok(lm_llm_parse_retry_after("99999999999999999999999", now, &s) == 0 && s >= 1e15,
       "huge delta saturates");
    ok(lm_llm_parse_retry_after("", now, &s) == -1, "empty Retry-After rejected");
    ok(lm_llm_parse_retry_after("soon", now, &s) == -1, "Retry-After: soon rejected");
    ok(lm_llm_parse_retry_after("-5", now, &s) == -1, "negative Retry-After rejected");
}

static void test_backoff(void)
{
    is_near(lm_llm_backoff(1, 30, 1, 0.5), 0.5, 1e-12, "retry 1: half of base");
    is_near(lm_llm_backoff(1, 30, 3, 0.5), 2.0, 1e-12, "retry 3: half of 4 x base");
    is_near(lm_llm_backoff(1, 30, 10, 0.5), 15.0, 1e-12, "retry 10: capped at max");
    is_near(lm_llm_backoff(1, 30, 1000, 0.999), 29.97, 1e-9, "retry 1000: no overflow, capped");
    ok(lm_llm_backoff(2, 30, 2, 0) == 0, "u = 0 waits 0 (full jitter)");
    lm_rng g;
    lm_rng_init(&g, 1, 0);
    int inside = 1;
    double hi[5] = {0};
    for (int i = 0; i < 20000; i++)
        for (int k = 1; k <= 5; k++) {
            double cap = k < 5 ? 0.1 * (1 << (k - 1)) : 1.0,
                   w = lm_llm_backoff(0.1, 1.0, k, lm_rng_uniform(&g));
            inside &= w >= 0 && w < cap;
            if (w > hi[k - 1])
                hi[k - 1] = w;
        }
    ok(inside, "20000 seeded draws per retry lie in [0, min(max, base 2^(k-1)))");
    ok(hi[0] > 0.099 && hi[3] > 0.79 && hi[4] > 0.99, "and reach close to each bound (largest %g %g %g)",
       hi[0], hi[3], hi[4]);
}

static void test_cache(void)
{
    char dir[] = "/tmp/lmkit-llm-XXXXXX", path[64], err[512];
    ok(mkdtemp(dir) != NULL, "temporary folder");
    snprintf(path, sizeof path, "%s/cache.jsonl", dir);
    lm_llm_config cfg;
    lm_llm_config_init(&cfg);
    cfg.backend = LM_LLM_CMD;
    cfg.cmd = "exec python3 tests/llm/mock-oracle.py -k 2";
    cfg.model = "mock";
    cfg.cache_path = path;
    cfg.timeout = 20;
    lm_llm_request r[4] = {req("s", "alpha beta gamma"), req("s", "delta \"epsilon\"\n zeta"),
                           req("s", "alpha beta gamma"), req("s", "one two three \xe2\x82\xac")};
    lm_llm_result res[4];
    lm_llm *c = lm_llm_open(&cfg, err, sizeof err);
    ok(c != NULL, "open with a new cache file: %s", c ? "" : err);
    if (!c)
        return;
    ok(lm_llm_run(c, r, 4, res, err, sizeof err) == 0, "first run");
    is_str(res[1].output, "delta \"epsilon\"", "answer 2");
    ok(!res[0].cached && res[2].cached, "the same request twice in a batch reaches the backend once");
    lm_llm_stats st = lm_llm_get_stats(c);
    ok(st.calls == 3 && st.cache_hits == 1, "calls 3, cache hits 1 (got %llu, %llu)",
       (unsigned long long)st.calls, (unsigned long long)st.cache_hits);
    lm_llm_results_free(res, 4);
    lm_llm_close(c);
    is_int(count_lines(path), 3, "three lines in the cache file");

    /* a hit never reaches the backend: this one exits as soon as it reads */
    cfg.cmd = "read x; exit 7";
    c = lm_llm_open(&cfg, err, sizeof err);
    ok(c && lm_llm_run(c, r, 4, res, err, sizeof err) == 0,
       "second run from the cache, with a backend that dies");
    int all = 1;
    for (int i = 0; i < 4; i++)
        all &= res[i].cached && !res[i].failed && res[i].attempts == 0;
    ok(all, "every answer cached");
    is_str(res[3].output, "one two", "cached text read back (UTF-8)");
    st = lm_llm_get_stats(c);
    ok(st.calls == 0 && st.cache_hits == 4 && st.cache_loaded == 3, "calls 0, hits 4, loaded 3");
    lm_llm_results_free(res, 4);
    lm_llm_close(c);

    /* a kill -9 in the middle of an append: a torn last line */
    int fd = open(path, O_WRONLY | O_APPEND);
    ok(fd >= 0 && write(fd, "{\"key\":\"0123", 12) == 12, "torn line appended");
    close(fd);
    cfg.cmd = "exec python3 tests/llm/mock-oracle.py -k 2";
    c = lm_llm_open(&cfg, err, sizeof err);
    ok(c != NULL, "a cache with a torn last line opens (a warning on stderr)");
    if (!c)
        return;
    st = lm_llm_get_stats(c);
    ok(st.cache_loaded == 3 && st.cache_bad_lines == 1, "3 answers loaded, 1 line skipped");
    lm_llm_request r2 = req("s", "new request here");
    ok(lm_llm_run(c, &r2, 1, res, err, sizeof err) == 0 && !res[0].cached,
       "a new request reaches the backend");
    is_str(res[0].output, "new request", "its answer");
    lm_llm_results_free(res, 1);
    lm_llm_close(c);
    is_int(count_lines(path), 5, "the new answer starts a line of its own after the torn one");
    c = lm_llm_open(&cfg, err, sizeof err);
    st = c ? lm_llm_get_stats(c) : (lm_llm_stats){0};
    ok(st.cache_loaded == 4 && st.cache_bad_lines == 1, "reloaded: 4 answers, the torn line still skipped");
    ok(c && lm_llm_run(c, &r2, 1, res, err, sizeof err) == 0 && res[0].cached, "and the new answer is a hit");
    lm_llm_results_free(res, 1);
    lm_llm_close(c);

    /* failures are not cached */
    cfg.cmd = "exec python3 tests/llm/mock-oracle.py --error-word NOPE";
    c = lm_llm_open(&cfg, err, sizeof err);
    lm_llm_request r3 = req("s", "NOPE at all");
    ok(c && lm_llm_run(c, &r3, 1, res, err, sizeof err) == 0 && res[0].failed,
       "an error answer fails the call");
    lm_llm_results_free(res, 1);
    lm_llm_close(c);
    is_int(count_lines(path), 5, "and is not stored");

    /* a cache that cannot be written is an error at open */
    snprintf(path, sizeof path, "%s/no/such/cache.jsonl", dir);
    c = lm_llm_open(&cfg, err, sizeof err);
    ok(c == NULL && strstr(err, "cannot open the LLM cache"), "unwritable cache path: %s", err);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ok(system(cmd) == 0, "clean up");
}

int main(void)
{
    if (llm_test_chdir_top()) {
        ok(0, "cannot find the repository root (tests/llm)");
        return tap_done();
    }
    test_texts();
    test_retry_after();
    test_backoff();
    test_cache();
    return tap_done();
}
