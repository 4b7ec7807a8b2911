/* init.c - taco-train init: a new token classifier of a given shape around
 * a tokenizer.json, initialised as transformers does, written as a Hugging
 * Face folder (lib/nn/init.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/json.h"
#include "taco.h"

/* clang-format off */
static const lm_opt init_opts[] = {
    {"family", 0, "NAME", "bert or xlm-roberta (required)", "choice:bert xlm-roberta", OPT_FAMILY},
    {"layers", 0, "N", "encoder layers (default 12)", NULL, OPT_LAYERS},
    {"hidden", 0, "N", "hidden size, a multiple of --heads (default 768)", NULL, OPT_HIDDEN},
    {"heads", 0, "N", "attention heads (default 12)", NULL, OPT_HEADS},
    {"intermediate", 0, "N", "feed-forward width (default 4 x hidden)", NULL, OPT_INTERMEDIATE},
    {"max-position", 0, "N", "position embeddings (default 512; XLM-R 514)", NULL, OPT_MAX_POSITION},
    {"init-range", 0, "R", "standard deviation of the weights (default 0.02)", NULL, OPT_INIT_RANGE},
    {"tokenizer", 't', "FILE", "the tokenizer.json of the model (required)", "file", OPT_TOKENIZER},
    {"out", 'o', "DIR", "the new model folder; must not exist (required)", "dir", OPT_OUT},
    {0},
};
/* clang-format on */

const lm_cmd cmd_init = {"taco-train init",
                         "[OPTION]...",
                         "Write a new, randomly initialised LLMLingua-2 token classifier of a given shape.",
                         "The model is a BERT or XLM-RoBERTa token classifier with two labels around the\n"
                         "given tokenizer.json, initialised as transformers does from --seed, written\n"
                         "as a Hugging Face folder that appears complete or not at all.",
                         NULL,
                         init_opts,
                         LM_OPT_SEED,
                         NULL,
                         NULL};

static int init_opt(void *vc, int id, const char *arg)
{
    taco_ctx *c = vc;
    const lm_cmd *k = &cmd_init;
    switch (id) {
    case OPT_FAMILY: c->family = lm_opt_choice(k, "family", arg, NULL); break;
    case OPT_LAYERS: c->spec.layers = (int)lm_opt_int(k, "layers", arg, 1, LM_INIT_MAX_LAYERS); break;
    case OPT_HIDDEN: c->spec.hidden = (int)lm_opt_int(k, "hidden", arg, 1, LM_INIT_MAX_HIDDEN); break;
    case OPT_HEADS: c->spec.heads = (int)lm_opt_int(k, "heads", arg, 1, LM_INIT_MAX_HIDDEN); break;
    case OPT_INTERMEDIATE:
        c->spec.intermediate = (int)lm_opt_int(k, "intermediate", arg, 1, 16 * LM_INIT_MAX_HIDDEN);
        break;
    case OPT_MAX_POSITION:
        c->spec.max_position = (int)lm_opt_int(k, "max-position", arg, 1, LM_INIT_MAX_POSITION);
        break;
    case OPT_INIT_RANGE: c->spec.init_range = (float)lm_opt_double(k, "init-range", arg, 0, 1, 1, 0); break;
    case OPT_TOKENIZER: c->tokenizer = arg; break;
    case OPT_OUT: c->out = arg; break;
    }
    return 0;
}

int run_init(taco_ctx *c, int argc, char **argv)
{
    c->spec.layers = 12;
    c->spec.hidden = 768;
    c->spec.heads = 12;
    c->family = -1;
    int oi = lm_cli_parse(&cmd_init, argc, argv, &c->com, init_opt, c);
    if (oi < argc)
        lm_usage_error(&cmd_init, "unexpected operand '%s': init reads no input", argv[oi]);
    if (c->family < 0)
        lm_usage_error(&cmd_init, "--family bert|xlm-roberta is required");
    c->spec.family = c->family ? LM_FAMILY_ROBERTA : LM_FAMILY_BERT;
    if (!c->tokenizer)
        lm_usage_error(&cmd_init, "--tokenizer FILE is required");
    if (!c->out)
        lm_usage_error(&cmd_init, "--out DIR is required");
    if (c->spec.hidden % c->spec.heads != 0)
        lm_usage_error(&cmd_init, "--hidden %d is not a multiple of --heads %d", c->spec.hidden,
                       c->spec.heads);
    c->spec.seed = c->com.seed;
    char err[1024];
    int rc = lm_init_write(&c->spec, c->tokenizer, c->out, err, sizeof err);
    if (rc == -1)
        lm_die(LM_EXIT_DATA, "%s", err);
    if (rc != 0)
        lm_die(LM_EXIT_USAGE, "%s", err);
    lm_buf b = {0};
    lm_buf_adds(&b, "{\"model\":");
    lm_buf_add_jstr(&b, c->out, strlen(c->out));
    lm_buf_adds(&b,
                c->spec.family == LM_FAMILY_BERT ? ",\"family\":\"bert\"" : ",\"family\":\"xlm-roberta\"");
    lm_buf_printf(&b, ",\"layers\":%d,\"hidden\":%d,\"heads\":%d,\"seed\":%llu}\n", c->spec.layers,
                  c->spec.hidden, c->spec.heads, (unsigned long long)c->spec.seed);
    fwrite(b.p, 1, b.n, stdout);
    lm_buf_free(&b);
    lm_close_stdout();
    return 0;
}
