/* test_llm_cmd.c - the co-process backend of lib/llm with the mock oracle
 * (tests/llm/mock-oracle.py): answers matched to their requests when they
 * come out of order, at most N in flight, error answers, large requests
 * and answers both ways without a deadlock, a request timeout and its late
 * answer, a broken protocol, and a child that dies (its exit status or
 * signal named).  alarm() turns a hang into a failure. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/diag.h"
#include "llm/client.h"
#include "llm_helpers.h"
#include "tap.h"

#define MOCK "exec python3 tests/llm/mock-oracle.py"

static lm_llm *open_cmd(const char *cmd, int parallel, double timeout)
{
    char err[512];
    lm_llm_config cfg;
    lm_llm_config_init(&cfg);
    cfg.backend = LM_LLM_CMD;
    cfg.cmd = cmd;
    cfg.parallel = parallel;
    cfg.timeout = timeout;
    lm_llm *c = lm_llm_open(&cfg, err, sizeof err);
    if (!c)
        diag("open '%s': %s", cmd, err);
    return c;
}

static lm_llm_request req(const char *prompt)
{
    lm_llm_request r = {"You are a helpful assistant.", prompt, 1500, 0.0, 1.0, 42};
    return r;
}

static void test_order(void)
{
    enum { N = 13 };
    char prompts[N][64], want[N][64];
    lm_llm_request r[N];
    lm_llm_result res[N];
    for (int i = 0; i < N; i++) {
        snprintf(prompts[i], sizeof prompts[i], "The word%d of the w%da and w%db", i, i, i);
        snprintf(want[i], sizeof want[i], "word%d w%da", i, i);
        r[i] = req(prompts[i]);
    }
    char err[512];
    /* groups of 4 answered last first: with 4 in flight every group is reversed */
    lm_llm *c = open_cmd(MOCK " -k 2 --reverse 4", 4, 20);
    ok(c && lm_llm_run(c, r, N, res, err, sizeof err) == 0, "13 requests, answers reversed in groups of 4");
    int all = 1;
    for (int i = 0; c && i < N; i++)
        all &= !res[i].failed && res[i].output && strcmp(res[i].output, want[i]) == 0;
    ok(all, "every answer matched to its request by id");
    lm_llm_stats st = c ? lm_llm_get_stats(c) : (lm_llm_stats){0};
    ok(st.calls == N && st.failures == 0 && st.retries == 0, "calls 13, failures 0");
    if (c)
        lm_llm_results_free(res, N);
    /* a second batch on the same child */
    ok(c && lm_llm_run(c, r, 3, res, err, sizeof err) == 0 && res[2].output &&
           strcmp(res[2].output, want[2]) == 0,
       "a second batch on the same child");
    if (c)
        lm_llm_results_free(res, 3);
    lm_llm_close(c);

    /* in flight at most N: with --reverse 5 and parallel 4 no group fills,
     * so each is closed by the 50 ms quiet time: still right */
    c = open_cmd(MOCK " -k 2 --reverse 5", 4, 20);
    ok(c && lm_llm_run(c, r, 6, res, err, sizeof err) == 0 && res[5].output &&
           strcmp(res[5].output, want[5]) == 0,
       "parallel 4 never sends the fifth request before an answer");
    if (c)
        lm_llm_results_free(res, 6);
    lm_llm_close(c);
}

static void test_errors_and_big(void)
{
    char err[512];
    lm_llm_request r[3] = {req("good one"), req("BAD one"), req("good two")};
    lm_llm_result res[3];
    lm_llm *c = open_cmd(MOCK " --error-word BAD", 2, 20);
    ok(c && lm_llm_run(c, r, 3, res, err, sizeof err) == 0, "a batch with an error answer runs");
    ok(c && res[1].failed && res[1].error && strstr(res[1].error, "refused: the prompt holds BAD") &&
           !res[0].failed && !res[2].failed,
       "the error answer fails its call only: %s", c && res[1].error ? res[1].error : "");
    lm_llm_stats st = c ? lm_llm_get_stats(c) : (lm_llm_stats){0};
    ok(st.calls == 3 && st.failures == 1, "calls 3, failures 1");
    if (c)
        lm_llm_results_free(res, 3);
    lm_llm_close(c);

    /* 16 prompts of 256 KiB, answers of about 1.3 MB: both pipes fill */
    enum { N = 16, P = 256 << 10 };
    char *big[N];
    lm_llm_request rb[N];
    lm_llm_result rr[N];
    for (int i = 0; i < N; i++) {
        big[i] = lm_xmalloc(P + 1);
        for (int k = 0; k < P; k++)
            big[i][k] = k % 8 == 7 ? ' ' : (char)('a' + (i + k / 8) % 26);
        big[i][P] = '\0';
        rb[i] = req(big[i]);
    }
    c = open_cmd(MOCK " -k 20000 --repeat 8 --reverse 3", 8, 30);
    alarm(60);
    ok(c && lm_llm_run(c, rb, N, rr, err, sizeof err) == 0,
       "large requests and answers, 8 in flight: no deadlock");
    alarm(0);
    int all = 1;
    for (int i = 0; c && i < N; i++)
        all &= !rr[i].failed && strlen(rr[i].output) == 8 * (20000 * 8 - 1) + 7 &&
               strncmp(rr[i].output, big[i], 20000 * 8 - 1) == 0;
    ok(all, "each large answer whole and matched");
    if (c)
        lm_llm_results_free(rr, N);
    lm_llm_close(c);
    for (int i = 0; i < N; i++)
        free(big[i]);
}

static void test_timeout(void)
{
    char err[512];
    lm_llm_request r[3] = {req("quick one"), req("LATE one"), req("quick two")};
    lm_llm_result res[3];
    lm_llm *c = open_cmd(MOCK " --late-word LATE --late-delay 0.8", 3, 0.4);
    /* the child's start-up (a Python interpreter, slow on a loaded machine)
     * must not count against the requests below: warm up until an answer
     * comes within the timeout (a late one is dropped by the next batch) */
    int warm = 0;
    for (int tries = 0; c && !warm && tries < 20; tries++) {
        if (lm_llm_run(c, r, 1, res, err, sizeof err) != 0)
            break;
        warm = !res[0].failed;
        lm_llm_results_free(res, 1);
    }
    ok(warm, "warm-up");
    ok(c && lm_llm_run(c, r, 3, res, err, sizeof err) == 0,
       "a batch where one answer comes after the timeout");
    ok(c && res[1].failed && strstr(res[1].error, "no answer within 0.4 s") && !res[0].failed &&
           !res[2].failed,
       "that call fails with the timeout: %s", c && res[1].error ? res[1].error : "");
    if (c)
        lm_llm_results_free(res, 3);
    usleep(600000);
    ok(c && lm_llm_run(c, r, 1, res, err, sizeof err) == 0 && !res[0].failed,
       "the late answer arriving in the next batch is dropped, not a protocol error");
    if (c)
        lm_llm_results_free(res, 1);
    lm_llm_close(c);
}

static void test_death(void)
{
    char err[512];
    lm_llm_request r[6] = {req("a b"), req("c d"), req("e f"), req("g h"), req("i j"), req("k l")};
    lm_llm_result res[6];
    lm_llm *c = open_cmd(MOCK " --die-after 3 --die-status 3", 1, 20);
    alarm(30);
    int rc = c ? lm_llm_run(c, r, 6, res, err, sizeof err) : 0;
    alarm(0);
    ok(rc == -1 && strstr(err, "exited with status 3"), "the child's death is an error naming its status: %s",
       err);
    ok(c && !res[0].failed && !res[1].failed && res[2].failed && res[5].failed &&
           strstr(res[5].error, "status 3"),
       "answers before the death kept, the rest failed");
    lm_llm_stats st = c ? lm_llm_get_stats(c) : (lm_llm_stats){0};
    ok(st.failures == 4, "failures 4 (got %llu)", (unsigned long long)st.failures);
    if (c)
        lm_llm_results_free(res, 6);
    ok(c && lm_llm_run(c, r, 1, res, err, sizeof err) == -1 && res[0].failed, "a later batch fails at once");
    if (c)
        lm_llm_results_free(res, 1);
    lm_llm_close(c);

    c = open_cmd("read line; kill -9 $$", 2, 20);
    rc = c ? lm_llm_run(c, r, 2, res, err, sizeof err) : 0;
    ok(rc == -1 && strstr(err, "killed by signal 9"), "a child killed by a signal: %s", err);
    if (c)
        lm_llm_results_free(res, 2);
    lm_llm_close(c);

    c = open_cmd("read line; echo 'not json'; cat >/dev/null", 2, 20);
    rc = c ? lm_llm_run(c, r, 1, res, err, sizeof err) : 0;
    ok(rc == -1 && strstr(err, "answer line 1 is not JSON"), "a broken answer line: %s", err);
    if (c)
        lm_llm_results_free(res, 1);
    lm_llm_close(c);

    c = open_cmd("read line; echo '{\"id\":\"99\",\"output\":\"x\"}'; cat >/dev/null", 2, 20);
    rc = c ? lm_llm_run(c, r, 1, res, err, sizeof err) : 0;
    ok(rc == -1 && strstr(err, "names the id \"99\", which is not a request in flight"), "an unknown id: %s",
       err);
    if (c)
        lm_llm_results_free(res, 1);
    lm_llm_close(c);

    /* a command that is not there: the shell exits 127 */
    c = open_cmd("/nonexistent/oracle", 2, 20);
    rc = c ? lm_llm_run(c, r, 1, res, err, sizeof err) : 0;
    ok(rc == -1 && strstr(err, "exited with status 127"), "a missing command: %s", err);
    if (c)
        lm_llm_results_free(res, 1);
    lm_llm_close(c);
}

int main(void)
{
    if (llm_test_chdir_top()) {
        ok(0, "cannot find the repository root (tests/llm)");
        return tap_done();
    }
    test_order();
    test_errors_and_big();
    test_timeout();
    test_death();
    return tap_done();
}
