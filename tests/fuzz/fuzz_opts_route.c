/* fuzz_opts_route.c - fuzz target for the option tables and callback of
 * route and its subcommands (cmd/route.c, included; see cmd_harness.h).
 *
 * Input: one byte choosing the table (route itself, import, labels, train,
 * apply, select, eval, synth), then NUL-separated arguments.  Parsing must
 * return normally or raise a usage error with a message.
 */
#include "cmd_harness.h"
#include "../../cmd/route.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ctx_t c;
    if (size == 0)
        return 0;
    size_t nsub = 0;
    while (subs[nsub])
        nsub++;
    size_t pick = data[0] % (nsub + 1);
    memset(&c, 0, sizeof c);
    route_label_opts_default(&c.lo);
    route_train_opts_default(&c.to);
    route_feat_cfg_default(&c.fc);
    route_synth_opts_default(&c.so);
    if (pick == nsub) {
        fz_parse(&cmd, top_opt, NULL, data + 1, size - 1);
        return 0;
    }
    c.cur = subs[pick];
    fz_parse(subs[pick], on_opt, &c, data + 1, size - 1);
    return 0;
}
