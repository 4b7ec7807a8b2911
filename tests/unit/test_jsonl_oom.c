/* test_jsonl_oom.c - running out of memory inside the record loop writes
 * every record finished before the failure, says where it stopped and exits
 * 2; a line that cannot be read is an error naming it, never end of file. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "core/cli.h"
#include "core/diag.h"
#include "core/jsonl.h"
#include "tap.h"

/* Under ASan a failed allocation must return NULL, as the C library's does. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

/* A record with "oom" asks for more memory than any machine has. */
static int wants_oom(const lm_record *in)
{
    return lm_rec_get(in, "oom") != NULL;
}

static void *huge(void)
{
    return lm_xmalloc((size_t)1 << 62);
}

static int t_fn(void *ctx, const lm_record *in, lm_out *out, lm_rerr *err)
{
    (void)ctx, (void)err;
    if (wants_oom(in))
        free(huge());
    lm_out_int(out, "seen", (int64_t)in->lineno);
    return LM_REC_OK;
}

static int t_prepare(void *ctx, lm_record *in, lm_rerr *err)
{
    (void)ctx, (void)err;
    const lm_member *m = lm_rec_get(in, "oom");
    if (m && memcmp(in->text + m->vpos, "\"prepare\"", 9) == 0)
        free(huge());
    return LM_REC_OK;
}

static void t_gather(void *ctx, lm_record *const *recs, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        const lm_member *m = lm_rec_get(recs[i], "oom");
        if (m && memcmp(recs[i]->text + m->vpos, "\"gather\"", 8) == 0)
            free(huge());
    }
}

static int t_finish(void *ctx, const lm_record *in, lm_out *out, lm_rerr *err)
{
    const lm_member *m = lm_rec_get(in, "oom");
    if (m && memcmp(in->text + m->vpos, "\"finish\"", 8) != 0)
        m = NULL;
    if (m)
        free(huge());
    (void)ctx, (void)err;
    lm_out_int(out, "seen", (int64_t)in->lineno);
    return LM_REC_OK;
}

static char out_buf[8192], err_buf[8192];
static char errs_dir[] = "/tmp/lmkit-oom-errs-XXXXXX";

static void slurp(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    ssize_t k = fd >= 0 ? read(fd, buf, cap - 1) : -1;
    buf[k > 0 ? k : 0] = 0;
    if (fd >= 0)
        close(fd);
    unlink(path);
}

/* Runs the loop over text in a child process; returns its exit status and
 * leaves its stdout and stderr in out_buf and err_buf. */
static int run_child(const char *text, int gathering, int parallel)
{
    char in[] = "/tmp/lmkit-oom-in-XXXXXX", out[] = "/tmp/lmkit-oom-out-XXXXXX",
         err[] = "/tmp/lmkit-oom-err-XXXXXX";
    int fi = mkstemp(in), fo = mkstemp(out), fe = mkstemp(err);
    if (fi < 0 || fo < 0 || fe < 0 || write(fi, text, strlen(text)) != (ssize_t)strlen(text))
        return -1;
    close(fi);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        dup2(null, STDIN_FILENO); /* off a terminal: the loop batches */
        dup2(fo, STDOUT_FILENO);
        dup2(fe, STDERR_FILENO);
        lm_prog = "test";
        static const lm_cmd cmd = {.name = "test"};
        char errs[64];
        snprintf(errs, sizeof errs, "%s/rejected.jsonl", errs_dir);
        lm_common com = {.quiet = 1, .errors_path = errs};
        lm_loop L = {.cmd = &cmd, .common = &com, .ctx = NULL, .parallel = parallel};
        if (gathering) {
            L.prepare = t_prepare;
            L.gather = t_gather;
            L.fn = t_finish;
        } else {
            L.fn = t_fn;
        }
        char *files[1] = {in};
        int st = lm_loop_run(&L, 1, files);
        fflush(stdout);
        _exit(st);
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    close(fo);
    close(fe);
    unlink(in);
    slurp(out, out_buf, sizeof out_buf);
    slurp(err, err_buf, sizeof err_buf);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

static const char *records(const char *oom_value)
{
    static char t[1024];
    snprintf(t, sizeof t, "{\"i\":1}\n{\"i\":2}\n\n{\"i\":3}\n{\"i\":4,\"oom\":%s}\n{\"i\":5}\n{\"i\":6}\n",
             oom_value);
    return t;
}

static const char *const before = "{\"i\":1,\"seen\":1}\n{\"i\":2,\"seen\":2}\n{\"i\":3,\"seen\":4}\n";

/* 1 if the --errors folder holds nothing (no temporary file left). */
static int errs_dir_empty(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s)\"", errs_dir);
    return system(cmd) == 0;
}

/* lm_grow asked for more than half the address space: exit 2 (the
 * doubling must not wrap round to 0 and loop). */
static int grow_past_half(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        alarm(10);
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        char *p = NULL;
        size_t cap = 0;
        lm_grow(p, cap, SIZE_MAX / 2 + 2);
        _exit(0);
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* After lm_cli_init, jansson allocates through lm_xmalloc: a string too
 * large for memory exits 2 naming jansson (instead of a NULL the caller
 * would have to tell from a parse error). */
static int jansson_oom(char *msg, size_t cap)
{
    int fds[2];
    if (pipe(fds))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        alarm(10);
        dup2(fds[1], 2);
        close(fds[0]);
        lm_cli_init("test");
        static const char s[] = "x";
        json_t *j = json_stringn_nocheck(s, SIZE_MAX / 2);
        _exit(j ? 3 : 4);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < cap && (r = read(fds[0], msg + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    msg[got] = 0;
    close(fds[0]);
    int ws = 0;
    waitpid(pid, &ws, 0);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

int main(void)
{
    if (!mkdtemp(errs_dir))
        return 1;
    for (int parallel = 0; parallel < 2; parallel++) {
        int st = run_child(records("true"), 0, parallel);
        ok(st == LM_EXIT_USAGE, "out of memory in a record: exit 2 (%s; got %d)",
           parallel ? "batched on threads" : "one thread", st);
        is_str(out_buf, before, "the records before it are written, none after (%s)",
               parallel ? "batched" : "one thread");
        ok(strstr(err_buf, "test: /tmp/lmkit-oom-in-") &&
               strstr(err_buf, ":5: out of memory while processing this record") &&
               strstr(err_buf, "out of memory allocating"),
           "the message names the record's line and the allocation: %s", err_buf);
        ok(errs_dir_empty(), "the exit removed the --errors temporary file");
    }
    int st = run_child(records("\"finish\""), 1, 1);
    ok(st == LM_EXIT_USAGE, "gathering command, out of memory finishing a record: exit 2");
    is_str(out_buf, before, "the records finished before it are written");
    st = run_child(records("\"gather\""), 1, 1);
    ok(st == LM_EXIT_USAGE &&
           strstr(err_buf, ":1: out of memory while processing the batch of records that starts here"),
       "out of memory in the shared pass names the batch's first line: %s", err_buf);
    st = run_child(records("\"gather\""), 1, 0);
    is_str(out_buf, before, "one record per batch: every record before the failing pass is written");
    ok(st == LM_EXIT_USAGE && strstr(err_buf, ":5: out of memory"), "and the failing record is named: %s",
       err_buf);
    st = grow_past_half();
    ok(st == LM_EXIT_USAGE, "lm_grow past SIZE_MAX / 2: exit 2, no endless doubling (got %d)", st);
    char msg[1024];
    st = jansson_oom(msg, sizeof msg);
    ok(st == LM_EXIT_USAGE && strstr(msg, "test: out of memory allocating") && strstr(msg, "(in jansson)"),
       "jansson out of memory after lm_cli_init: exit 2, named (got %d: %s)", st, msg);
    rmdir(errs_dir);
    return tap_done();
}
