/* fuzz_cli.c - fuzz target for the shared option parser.
 *
 * Input: NUL-separated arguments (at most 32) parsed against a command
 * table that uses every kind of option and every common option.  The
 * parser must return normally (no exit, no crash) for any argument list,
 * and a usage error must always come with a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"

static const lm_opt opts[] = {
    {"rate", 'r', "R", "a number", NULL, 300},
    {"flag", 'f', NULL, "a flag", NULL, 301},
    {"mode", 0, "M", "a choice", "choice:a b c", 302},
    {"out", 'o', "FILE", "a file", "file", 303},
    {0},
};

static const lm_cmd cmd = {"fuzz-cli",
                           "[OPTION]... [FILE]...",
                           "fuzz target",
                           NULL,
                           NULL,
                           opts,
                           LM_OPT_THREADS | LM_OPT_SEED | LM_OPT_DEVICE | LM_OPT_RECORDS | LM_OPT_FIELD,
                           "text",
                           NULL};

static int handler(void *ctx, int id, const char *arg)
{
    (void)ctx;
    if (id == 300 && arg) {
        double v;
        return lm_parse_double(arg, &v) == 0 ? 0 : 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *argv[34];
    int argc = 0;
    argv[argc++] = "fuzz-cli";
    char *p = copy, *end = copy + size;
    while (p < end && argc < 33) {
        argv[argc++] = p;
        p += strlen(p) + 1;
    }
    argv[argc] = NULL;
    lm_common c;
    lm_buf msg = {0};
    int oi = 0;
    int rc = lm_cli_parse_r(&cmd, argc, argv, &c, handler, NULL, &oi, devnull, &msg);
    if (rc < 0 && msg.n == 0)
        abort();
    if (rc == 0 && (oi < 1 || oi > argc))
        abort();
    if (rc == 0 && c.shard_n > 1 && c.shard_k >= c.shard_n)
        abort();
    lm_buf_free(&msg);
    free(copy);
    return 0;
}
