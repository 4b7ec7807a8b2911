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
    c.b.dtype = ATTN_BF16;
    c.b.layout = ATTN_HND;
    c.b.runs = c.b.warmup = -1;
    if (fz_parse(&cmd, on_opt, &c, data, size) == 0) {
        if (c.b.nalg < 0 || (size_t)c.b.nalg > sizeof c.b.algs / sizeof c.b.algs[0])
            abort();
        for (int i = 0; i < c.b.nalg; i++)
            for (int j = 0; j < i; j++)
                if (c.b.algs[i] == c.b.algs[j])
                    abort();
    }
    return 0;
}
