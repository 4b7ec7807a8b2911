/* fuzz_opts_route.c - fuzz target for the option tables and callbacks of
 * route and its subcommands (cmd/route/, every file included; see
 * cmd_harness.h).
 *
 * Input: one byte choosing the table (route itself, import, labels, train,
 * apply, select, eval, synth), then NUL-separated arguments.  Parsing must
 * return normally or raise a usage error with a message.
 */
#include "cmd_harness.h"
#include "../../cmd/route/main.c"
#include "../../cmd/route/import.c"
#include "../../cmd/route/labels.c"
#include "../../cmd/route/apply.c"
#include "../../cmd/route/eval.c"
#include "../../cmd/route/synth.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ctx_t c;
    if (size == 0)
        return 0;
    size_t nsub = 0;
    while (route_subs[nsub].cmd)
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
    c.cur = route_subs[pick].cmd;
    fz_parse(route_subs[pick].cmd, route_subs[pick].opt, &c, data + 1, size - 1);
    return 0;
}
