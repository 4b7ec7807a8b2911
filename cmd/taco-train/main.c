/* main.c - taco-train: train LLMLingua-2 prompt compressors.  A new model
 * of a given shape (init), word labels for supervised training (label),
 * LLMLingua-2's supervised token classification (sup), TACO-RL's
 * reinforcement learning with a target LLM (rl).
 *
 * Argument parsing, dispatch and the record loops only: the training core
 * is in lib/nn (train.h, optim.h, init.h), the data and the loop in
 * lib/taco.  One file per subcommand.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/diag.h"
#include "core/json.h"
#include "lingua/setup.h"
#include "nn/backend_cuda.h"
#include "nn/encoder_cuda.h"
#include "nn/train.h"
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

/* exits naming the first setting that differs from the checkpoint's */
void taco_check_resume(const char *dir, const char *now, const char *saved)
{
    json_t *a = json_loads(now, 0, NULL), *b = json_loads(saved, 0, NULL);
    const char *key;
    json_t *v;
    json_object_foreach(a, key, v)
    {
        json_t *w = json_object_get(b, key);
        if (!w || !json_equal(v, w)) {
            lm_buf x = {0}, y = {0};
            lm_buf_add_jansson(&x, v);
            if (w)
                lm_buf_add_jansson(&y, w);
            else
                lm_buf_adds(&y, "nothing");
            char msg[1024];
            snprintf(msg, sizeof msg, "%s: the checkpoint's run has %s %.*s, this one %.*s", dir, key,
                     (int)y.n, y.p, (int)x.n, x.p);
            lm_buf_free(&x);
            lm_buf_free(&y);
            json_decref(a);
            json_decref(b);
            lm_die_hint(LM_EXIT_USAGE, "resume with the options and data of the interrupted run", "%s", msg);
        }
    }
    json_decref(a);
    json_decref(b);
}

char *taco_checkpoint_dir(const taco_ctx *c)
{
    struct stat st;
    if (c->resume)
        return lm_xstrdup(c->checkpoint ? c->checkpoint : c->resume);
    if (!c->checkpoint && c->save_every <= 0)
        return NULL;
    char *ckpt;
    if (c->checkpoint) {
        ckpt = lm_xstrdup(c->checkpoint);
    } else {
        ckpt = lm_xmalloc(strlen(c->out) + 16);
        sprintf(ckpt, "%s.checkpoint", c->out);
    }
    if (lstat(ckpt, &st) == 0)
        lm_die_hint(LM_EXIT_USAGE, "continue it with --resume DIR, or remove it",
                    "%s: a checkpoint folder already exists", ckpt);
    return ckpt;
}

void taco_require(const taco_ctx *c, const lm_cmd *k, int nops, char **ops, const char *what)
{
    if (nops > 0)
        lm_usage_error(k, "unexpected operand '%s': give the %s with --data FILE", ops[0], what);
    if (!c->resume && !c->model)
        lm_usage_error(k, "--model DIR is required");
    if (c->resume && c->model)
        lm_usage_error(k, "--resume DIR takes the model from the checkpoint: leave out --model");
    if (!c->data)
        lm_usage_error(k, "--data FILE is required");
    if (!c->out)
        lm_usage_error(k, "--out DIR is required");
}

int taco_device(int device)
{
    if (device == LM_DEVICE_CPU || (device == LM_DEVICE_AUTO && !lm_cuda_present()))
        return LM_TRAIN_CPU;
    char why[256];
    if (lm_nn_cuda_available(why, sizeof why))
        return LM_TRAIN_CUDA;
    if (device == LM_DEVICE_CUDA)
        lm_die_hint(LM_EXIT_USAGE, "use --device cpu (or auto)", "--device cuda: %s", why);
    return LM_TRAIN_CPU;
}

void taco_num(lm_buf *b, const char *key, double v)
{
    lm_buf_printf(b, ",\"%s\":", key);
    lm_buf_add_jnum(b, v);
}

void taco_emit(lm_buf *b)
{
    lm_buf_addc(b, '\n');
    if (fwrite(b->p, 1, b->n, stdout) != b->n || fflush(stdout) != 0)
        lm_close_stdout();
    lm_buf_reset(b);
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
