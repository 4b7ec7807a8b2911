/* fuzz_opts_leanattn_bench.c - fuzz target for the option table and
 * callback of leanattn-bench (cmd/leanattn-bench.c, included; see
 * cmd_harness.h).
 *
 * Input: NUL-separated arguments.  Parsing must return normally or raise a
 * usage error with a message; an accepted --algo list holds distinct known
 * algorithms.
 */
#include "cmd_harness.h"
#include "../../cmd/leanattn-bench.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ctx_t c;
    memset(&c, 0, sizeof c);
    c.dtype = ATTN_BF16;
    c.layout = ATTN_HND;
    c.runs = c.warmup = -1;
    if (fz_parse(&cmd, on_opt, &c, data, size) == 0) {
        if (c.nalg < 0 || (size_t)c.nalg > sizeof c.algs / sizeof c.algs[0])
            abort();
        for (int i = 0; i < c.nalg; i++)
            for (int j = 0; j < i; j++)
                if (c.algs[i] == c.algs[j])
                    abort();
    }
    return 0;
}
