/* fuzz_opts_lingua_compress.c - fuzz target for the option table and
 * callback of lingua-compress (cmd/lingua-compress.c, included; see
 * cmd_harness.h).
 *
 * Input: NUL-separated arguments.  Parsing must return normally or raise a
 * usage error with a message; accepted lists (--force-tokens,
 * --chunk-end-tokens, --force-context-ids) must be well formed.
 */
#include "cmd_harness.h"
#include "../../cmd/lingua-compress.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ctx_t c;
    memset(&c, 0, sizeof c);
    lm_lingua_opts_default(&c.o);
    c.family = -1;
    c.color = 2;
    c.context_filter = -1;
    if (fz_parse(&cmd, on_opt, &c, data, size) == 0) {
        if (c.n_force > LM_LINGUA_MAX_FORCE)
            abort();
        for (size_t i = 0; i < c.n_force; i++)
            if (!c.force[i] || !c.force_len[i])
                abort();
        for (size_t i = 0; i < c.n_ends; i++)
            if (!c.ends[i])
                abort();
        if (c.o.n_force_context_ids && !c.o.force_context_ids)
            abort();
    }
    /* what the callback kept (the command frees it at exit) */
    for (size_t i = 0; i < c.n_force; i++)
        free(c.force[i]);
    for (size_t i = 0; i < c.n_ends; i++)
        free(c.ends[i]);
    free(c.force), free(c.force_len), free(c.ends), free(c.ends_len), free(c.fcids);
    return 0;
}
