/* test_cli.c - option parsing, common options, generated completions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cli.h"
#include "tap.h"

static const lm_opt opts[] = {
    {"rate", 'r', "R", "compression rate", NULL, 300},
    {"flag", 0, NULL, "a flag", NULL, 301},
    {"mode", 0, "M", "a choice", "choice:fast exact", 302},
    {"explain", 0, "WHAT",
     "a help text long enough that it has to be broken into several lines to fit "
     "in eighty columns, with a word that is longer than the space left: "
     "https://example.org/a/very/long/address/that/cannot/be/broken/at/all",
     NULL, 303},
    {0},
};
static const lm_cmd cmd = {"demo-cmd",
                           "[OPTION]... [FILE]...",
                           "demo",
                           NULL,
                           NULL,
                           opts,
                           LM_OPT_THREADS | LM_OPT_SEED | LM_OPT_RECORDS | LM_OPT_FIELD,
                           "prompt",
                           NULL};

static double rate;
static int flag;
static int handler(void *ctx, int id, const char *arg)
{
    (void)ctx;
    if (id == 300)
        return lm_parse_double(arg, &rate);
    if (id == 301)
        flag = 1;
    return 0;
}

/* lm_opt_choice(..., NULL) with a value not in the list: the exit status
 * and the message, run in a child (it exits). */
static int bad_choice(const char *arg, char *msg, size_t n)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        lm_opt_choice(&cmd, "mode", arg, NULL);
        _exit(0);
    }
    close(fd[1]);
    size_t got = 0;
    ssize_t k;
    char rest[256];
    while ((k = read(fd[0], got < n - 1 ? msg + got : rest, got < n - 1 ? n - 1 - got : sizeof rest)) > 0)
        if (got < n - 1)
            got += (size_t)k;
    msg[got] = 0;
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int parse(int argc, char **argv, lm_common *c, lm_buf *msg, int *oi)
{
    lm_buf_reset(msg);
    FILE *null = fopen("/dev/null", "w");
    int rc = lm_cli_parse_r(&cmd, argc, argv, c, handler, NULL, oi, null, msg);
    fclose(null);
    return rc;
}

int main(void)
{
    lm_common c;
    lm_buf msg = {0};
    int oi;
    char *a1[] = {"demo-cmd", "-r", "0.5", "--flag", "--shard=1/3", "--seed", "9", "in.jsonl", NULL};
    ok(parse(8, a1, &c, &msg, &oi) == 0, "parses own and common options");
    is_near(rate, 0.5, 0, "rate");
    ok(flag, "flag");
    ok(c.shard_k == 1 && c.shard_n == 3, "shard 1/3");
    ok(c.seed == 9 && c.seed_set, "seed");
    is_int(oi, 7, "operand index");
    is_str(c.field, "prompt", "field default");
    char *a2[] = {"demo-cmd", "--nope", NULL};
    ok(parse(2, a2, &c, &msg, &oi) < 0 && strstr(msg.p, "unrecognized option '--nope'"),
       "unknown long option");
    char *a3[] = {"demo-cmd", "--shard", "3/3", NULL};
    ok(parse(3, a3, &c, &msg, &oi) < 0 && strstr(msg.p, "K must be below N"), "shard K >= N");
    char *a4[] = {"demo-cmd", "--rate", NULL};
    ok(parse(2, a4, &c, &msg, &oi) < 0 && strstr(msg.p, "requires an argument"), "missing argument");
    char *a5[] = {"demo-cmd", "--device", "cuda", NULL};
    ok(parse(3, a5, &c, &msg, &oi) < 0, "--device not offered by this command");
    char *a6[] = {"demo-cmd", "--flag=3", NULL};
    ok(parse(2, a6, &c, &msg, &oi) < 0 && strstr(msg.p, "takes no argument"), "flag with argument");
    char *a7[] = {"demo-cmd", "--help", NULL};
    ok(parse(2, a7, &c, &msg, &oi) == 1, "--help");
    char *a8[] = {"demo-cmd", "--threads", "-1", NULL};
    ok(parse(3, a8, &c, &msg, &oi) < 0, "negative threads rejected");
    uint64_t k, n;
    lm_buf m2 = {0};
    ok(lm_parse_shard("0/1", &k, &n, &m2) == 0, "shard 0/1");
    ok(lm_parse_shard("1/0", &k, &n, &m2) < 0, "shard N = 0");
    ok(lm_parse_shard("a/2", &k, &n, &m2) < 0, "shard junk");

    /* choices come from the option table */
    is_int(lm_opt_choice(&cmd, "mode", "fast", NULL), 0, "table choice 0");
    is_int(lm_opt_choice(&cmd, "mode", "exact", NULL), 1, "table choice 1");
    char em[512];
    is_int(bad_choice("exac", em, sizeof em), 2, "a value not in the table's list is a usage error");
    ok(strstr(em, "invalid --mode 'exac': choose one of fast, exact") != NULL,
       "the message lists the table's choices");
    is_int(bad_choice("", em, sizeof em), 2, "an empty value is not a choice");

    /* --help: no line over 80 columns; option help wrapped at column 30 */
    {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        lm_cli_help(&cmd, f);
        fclose(f);
        int longest = 0, cont = 0, lines = 0;
        for (char *p = buf; *p;) {
            char *e = strchr(p, '\n');
            int w = (int)(e ? e - p : (long)strlen(p));
            int url = memmem(p, (size_t)w, "https://", 8) != NULL;
            if (w > longest && !url)
                longest = w;
            if (w > 30 && strncmp(p, "                              ", 30) == 0 && p[30] != ' ')
                cont++;
            lines++;
            p = e ? e + 1 : p + w;
        }
        ok(longest <= 80, "help lines fit 80 columns (longest %d)", longest);
        ok(cont >= 2, "long option help continues at column 30 (%d continuation lines)", cont);
        ok(strstr(buf, "\n                              "
                       "https://example.org/a/very/long/address/that/cannot/be/broken/at/all\n") != NULL,
           "a word longer than the room left stands alone on its line");
        free(buf);
    }

    /* every option appears in each generated completion */
    const char *kinds[] = {"complete-bash", "complete-zsh", "complete-fish"};
    for (int i = 0; i < 3; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        lm_cli_generate(&cmd, kinds[i], f);
        fclose(f);
        int all = strstr(buf, "rate") && strstr(buf, "shard") && strstr(buf, "keep-going") &&
                  strstr(buf, "fast exact") && !strstr(buf, "device");
        ok(all, "%s lists the options (and not --device)", kinds[i]);
        free(buf);
    }
    lm_buf_free(&msg);
    lm_buf_free(&m2);
    return tap_done();
}
