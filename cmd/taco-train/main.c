/* main.c - taco-train: train LLMLingua-2 prompt compressors.  A new model
 * of a given shape (init), word labels for supervised training (label),
 * LLMLingua-2's supervised token classification (sup), TACO-RL's
 * reinforcement learning with a target LLM (rl).
 *
 * Argument parsing, dispatch and the record loops only: the training core
 * is in lib/nn (train.h, optim.h, init.h), the data and the loop in
 * lib/taco.  One file per subcommand.
 */
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "lingua/setup.h"
#include "taco.h"

static const lm_cmd *const subs[] = {&cmd_init, &cmd_label, &cmd_sup, &cmd_rl, NULL};
static const lm_cmd cmd = {"taco-train",
                           "COMMAND [OPTION]...",
                           "Train LLMLingua-2 prompt compressors: init, label, sup and TACO-RL (rl).",
                           "A command is required; 'taco-train COMMAND --help' lists its options.",
                           "Example:\n  taco-train init --family bert --layers 2 --hidden 64 --heads 4 \\\n"
                           "    --tokenizer tokenizer.json --out new\n"
                           "  taco-train sup --model new --data labels.jsonl --epochs 3 --out trained",
                           NULL,
                           0,
                           NULL,
                           subs};

static const struct {
    const lm_cmd *cmd;
    int (*run)(taco_ctx *, int, char **);
} table[] = {{&cmd_init, run_init}, {&cmd_label, run_label}, {&cmd_sup, run_sup}, {&cmd_rl, run_rl}};

char *taco_model_dir(const char *model)
{
    lm_lingua_fail f;
    char *dir = lm_lingua_model_dir(model, &f);
    if (!dir)
        lm_die_hint(f.status, f.hint[0] ? f.hint : NULL, "%s", f.msg);
    return dir;
}

static int top_opt(void *ctx, int id, const char *arg)
{
    (void)ctx, (void)id, (void)arg;
    return 0;
}

int main(int argc, char **argv)
{
    lm_cli_init(argv[0]);
    static taco_ctx c;
    if (argc >= 2 && argv[1][0] != '-') {
        for (size_t i = 0; i < sizeof table / sizeof *table; i++)
            if (strcmp(strchr(table[i].cmd->name, ' ') + 1, argv[1]) == 0) {
                c.cur = table[i].cmd;
                return table[i].run(&c, argc - 1, argv + 1);
            }
        lm_usage_error(&cmd, "unknown command '%s': choose init, label, sup or rl", argv[1]);
    }
    lm_common com;
    lm_cli_parse(&cmd, argc, argv, &com, top_opt, NULL);
    lm_usage_error(&cmd, "a command is required: init, label, sup or rl");
}
