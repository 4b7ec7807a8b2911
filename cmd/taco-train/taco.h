/* taco.h - what the files of the taco-train command share
 * (cmd/taco-train/): option ids, the state of a run, the subcommands'
 * tables and entry points.  Private to cmd/taco-train/.
 */
#ifndef LMKIT_CMD_TACO_H
#define LMKIT_CMD_TACO_H

#include <stddef.h>
#include <stdint.h>

#include "core/cli.h"
#include "core/jsonl.h"
#include "nn/init.h"
#include "taco/data.h"
#include "taco/sup.h"

enum {
    OPT_FAMILY = 256,
    OPT_LAYERS,
    OPT_HIDDEN,
    OPT_HEADS,
    OPT_INTERMEDIATE,
    OPT_MAX_POSITION,
    OPT_INIT_RANGE,
    OPT_TOKENIZER,
    OPT_OUT,
    OPT_MODEL,
    OPT_WINDOW,
    OPT_DATA,
    OPT_EVAL,
    OPT_EVAL_FRACTION,
    OPT_EPOCHS,
    OPT_BATCH_SIZE,
    OPT_GRAD_ACCUM,
    OPT_LR,
    OPT_WEIGHT_DECAY,
    OPT_MAX_GRAD_NORM,
    OPT_SCHEDULE,
    OPT_WARMUP,
    OPT_NO_DROPOUT,
    OPT_TRAIN_SCOPE,
    OPT_MAX_LEN,
    OPT_BEST_BY,
    OPT_SAVE_EVERY,
    OPT_CHECKPOINT,
    OPT_RESUME,
    OPT_PLOT,
    OPT_ENTROPY,
    OPT_BASELINE,
    OPT_EMA,
    OPT_LOSS_MASK,
    OPT_COMP_RATE,
    OPT_RELAX,
    OPT_OVER,
    OPT_PEN_OVER,
    OPT_PEN_RELAX,
    OPT_REWARD,
    OPT_TRUNCATE,
    OPT_KEEP_NEWLINES,
    OPT_TEMPLATE,
    OPT_SYSTEM,
    OPT_MAX_TOKENS,
    OPT_COMPAT,
    OPT_MAKE_REFS,
    OPT_LLM_URL,
    OPT_LLM_CMD,
    OPT_LLM_MODEL,
    OPT_LLM_KEY_ENV,
    OPT_LLM_PARALLEL,
    OPT_LLM_TIMEOUT,
    OPT_LLM_RETRIES,
    OPT_LLM_CACHE,
    OPT_FORCE_TOKENS,
    OPT_NO_DROP_CONSEC,
    OPT_RESERVE_DIGIT,
    OPT_ROLLOUT,
    OPT_COUNT_ENCODING,
};

/* The state of a run: the options of every subcommand. */
typedef struct {
    const lm_cmd *cur;
    lm_common com;
    /* init */
    lm_init_spec spec;
    int family; /* --family's choice index, -1 not given */
    const char *tokenizer, *out;
    /* label, sup */
    const char *model;
    size_t window;
    /* sup */
    const char *data, *eval, *checkpoint, *resume, *plot;
    double eval_fraction;
    int eval_fraction_set;
    size_t max_len;
    int64_t save_every;
    lm_taco_sup_opts so;
} taco_ctx;

extern const lm_cmd cmd_init, cmd_label, cmd_sup, cmd_rl;
int run_init(taco_ctx *c, int argc, char **argv);
int run_label(taco_ctx *c, int argc, char **argv);
int run_sup(taco_ctx *c, int argc, char **argv);
int run_rl(taco_ctx *c, int argc, char **argv);

/* --model DIR as a folder path (a Hugging Face id is looked up in the
 * local cache); exits with the reason when there is none. */
char *taco_model_dir(const char *model);
/* The checkpoint folder of a run: --resume's (or --checkpoint's), else
 * --checkpoint or OUT.checkpoint when checkpoints are asked for (which must
 * not exist: exits saying so), else NULL. */
char *taco_checkpoint_dir(const taco_ctx *c);
/* Exits naming the first setting of the run description `now` that
 * differs from the checkpoint's `saved`. */
void taco_check_resume(const char *dir, const char *now, const char *saved);
/* The checks sup and rl share: no operands (what the --data records are),
 * --model or --resume (not both), --data and --out. */
void taco_require(const taco_ctx *c, const lm_cmd *k, int nops, char **ops, const char *what);
/* The training device of --device (LM_TRAIN_CPU or LM_TRAIN_CUDA): cpu;
 * auto: the GPU when one can be used; cuda: the GPU, else exits saying
 * what is missing. */
int taco_device(int device);
/* Appends ,"key":v (shortest round-trip number) to a record being built. */
void taco_num(lm_buf *b, const char *key, double v);
/* Writes the record b and a newline to stdout, flushed (a write error
 * exits 2), and empties b. */
void taco_emit(lm_buf *b);

#endif
