/* fuzz_opts_taco_train.c - fuzz target for the option tables and callbacks
 * of taco-train and its subcommands (cmd/taco-train/, every file included;
 * see cmd_harness.h).
 *
 * Input: one byte choosing the table (init, label, sup, rl, or taco-train
 * itself), then NUL-separated arguments.  Parsing must return normally or
 * raise a usage error with a message.
 */
#include "cmd_harness.h"
#include "../../cmd/taco-train/main.c"
#include "../../cmd/taco-train/init.c"
#include "../../cmd/taco-train/label.c"
#include "../../cmd/taco-train/sup.c"
#include "../../cmd/taco-train/rl.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static taco_ctx c;
    if (size == 0)
        return 0;
    size_t nsub = sizeof table / sizeof *table;
    size_t pick = data[0] % (nsub + 1);
    memset(&c, 0, sizeof c);
    if (pick == nsub) {
        fz_parse(&cmd, top_opt, NULL, data + 1, size - 1);
        return 0;
    }
    /* each subcommand's defaults, as its run_* sets them before parsing */
    c.spec.layers = 12;
    c.spec.hidden = 768;
    c.spec.heads = 12;
    c.family = -1;
    c.window = LM_ALIGN_WINDOW;
    lm_taco_sup_opts_default(&c.so);
    c.eval_fraction = 0.2;
    memset(&R, 0, sizeof R);
    lm_taco_rl_opts_default(&R.ro);
    static const lm_opt_fn fns[] = {init_opt, label_opt, sup_opt, rl_opt};
    c.cur = table[pick].cmd;
    fz_parse(table[pick].cmd, fns[pick], &c, data + 1, size - 1);
    return 0;
}
