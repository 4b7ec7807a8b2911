/* test_cli.c - option parsing, common options, generated completions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "tap.h"

static const lm_opt opts[] = {
    {"rate", 'r', "R", "compression rate", NULL, 300},
    {"flag", 0, NULL, "a flag", NULL, 301},
    {"mode", 0, "M", "a choice", "choice:fast exact", 302},
    {0},
};
static const lm_cmd cmd = {"demo-cmd", "[OPTION]... [FILE]...", "demo", NULL, NULL, opts,
                           LM_OPT_THREADS | LM_OPT_SEED | LM_OPT_RECORDS | LM_OPT_FIELD, "prompt", NULL};

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
    ok(parse(2, a2, &c, &msg, &oi) < 0 && strstr(msg.p, "unrecognized option '--nope'"), "unknown long option");
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
