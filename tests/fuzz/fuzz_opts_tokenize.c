/* fuzz_opts_tokenize.c - fuzz target for the option table and callback of
 * tokenize (cmd/tokenize.c, included; see cmd_harness.h).
 *
 * Input: NUL-separated arguments.  Parsing must return normally or raise a
 * usage error with a message; nothing else (no crash, no exit).
 */
#include "cmd_harness.h"
#include "../../cmd/tokenize.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ctx_t c;
    memset(&c, 0, sizeof c);
    fz_parse(&cmd, on_opt, &c, data, size);
    return 0;
}
