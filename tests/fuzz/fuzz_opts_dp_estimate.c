/* fuzz_opts_dp_estimate.c - fuzz target for the option table and callback
 * of dp-estimate (cmd/dp-estimate.c, included; see cmd_harness.h).
 *
 * Input: NUL-separated arguments.  Parsing must return normally or raise a
 * usage error with a message; accepted settings must lie in the documented
 * ranges (delta in [0, 1), alpha in (0, 1), holdout in (0, 1)).
 */
#include "cmd_harness.h"
#include "../../cmd/dp-estimate.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ctx_t c;
    memset(&c, 0, sizeof c);
    lm_dp_opts_default(&c.o);
    c.candidates = 256;
    if (fz_parse(&cmd, on_opt, &c, data, size) == 0) {
        if (!(c.o.delta >= 0 && c.o.delta < 1) || !(c.o.alpha > 0 && c.o.alpha < 1) ||
            !(c.holdout >= 0 && c.holdout < 1) || c.candidates < 1)
            abort();
    }
    return 0;
}
