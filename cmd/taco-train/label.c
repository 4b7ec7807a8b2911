/* label.c - taco-train label: the words of each record and their keep
 * labels for supervised training (lib/taco/data.h), added to the record.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/diag.h"
#include "core/json.h"
#include "taco.h"

/* clang-format off */
static const lm_opt label_opts[] = {
    {"model", 'm', "DIR", "the model folder whose word rules split the text (required)", "dir", OPT_MODEL},
    {"window", 0, "N", "alignment search window in words (default 150)", NULL, OPT_WINDOW},
    {0},
};
/* clang-format on */

const lm_cmd cmd_label = {
    "taco-train label",
    "[OPTION]... [FILE]...",
    "Add the words of each record and their keep labels (\"words\", \"labels\").",
    "A record gives \"origin\" and \"compressed\" (labels by LLMLingua-2's alignment;\n"
    "\"label_stats\" is added too), \"text\" and \"keep_spans\" (character ranges kept),\n"
    "or \"words\" and \"labels\" (checked and written back as they are read).",
    NULL,
    label_opts,
    LM_OPT_RECORDS | LM_OPT_THREADS,
    NULL,
    NULL};

static int label_opt(void *vc, int id, const char *arg)
{
    taco_ctx *c = vc;
    switch (id) {
    case OPT_MODEL: c->model = arg; break;
    case OPT_WINDOW: c->window = (size_t)lm_opt_int(&cmd_label, "window", arg, 1, 1 << 30); break;
    }
    return 0;
}

typedef struct {
    lm_taco_text *t;
} label_ctx;

static int label_rec(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    label_ctx *lc = vc;
    lm_taco_words w = {0};
    int rc = lm_taco_record_words(lc->t, in, &w, err);
    if (rc != LM_REC_OK) {
        lm_taco_words_free(&w);
        return rc;
    }
    lm_buf *b = lm_out_begin(out, "words");
    lm_buf_addc(b, '[');
    for (size_t i = 0; i < w.n; i++) {
        if (i)
            lm_buf_addc(b, ',');
        lm_buf_add_jstr(b, w.text.p + w.w[i][0], w.w[i][1] - w.w[i][0]);
    }
    lm_buf_addc(b, ']');
    lm_out_end(out);
    b = lm_out_begin(out, "labels");
    lm_buf_addc(b, '[');
    for (size_t i = 0; i < w.n; i++) {
        if (i)
            lm_buf_addc(b, ',');
        lm_buf_addc(b, w.label[i] ? '1' : '0');
    }
    lm_buf_addc(b, ']');
    lm_out_end(out);
    if (w.aligned) {
        const lm_align_stats *s = &w.st;
        b = lm_out_begin(out, "label_stats");
        lm_buf_printf(b, "{\"n_orig\":%zu,\"n_comp\":%zu,\"n_find\":%zu,\"n_kept\":%zu", s->n_orig, s->n_comp,
                      s->n_find, s->n_kept);
        const char *names[] = {"comp_rate",    "find_rate",     "variation_rate",
                               "hitting_rate", "matching_rate", "alignment_gap"};
        double v[] = {s->comp_rate,    s->find_rate,     s->variation_rate,
                      s->hitting_rate, s->matching_rate, s->alignment_gap};
        for (int i = 0; i < 6; i++) {
            lm_buf_printf(b, ",\"%s\":", names[i]);
            lm_buf_add_jnum(b, v[i]);
        }
        lm_buf_addc(b, '}');
        lm_out_end(out);
    }
    lm_taco_words_free(&w);
    return LM_REC_OK;
}

int run_label(taco_ctx *c, int argc, char **argv)
{
    c->window = LM_ALIGN_WINDOW;
    int oi = lm_cli_parse(&cmd_label, argc, argv, &c->com, label_opt, c);
    if (!c->model)
        lm_usage_error(&cmd_label, "--model DIR is required (its tokenizer's word rules split the text)");
    lm_cli_threads(&c->com);
    char *dir = taco_model_dir(c->model);
    char err[1024];
    lm_taco_text t;
    if (lm_taco_text_load(&t, dir, 0, c->window, err, sizeof err) != 0)
        lm_die(LM_EXIT_DATA, "%s", err);
    label_ctx lc = {&t};
    lm_loop L = {.cmd = &cmd_label, .common = &c->com, .fn = label_rec, .ctx = &lc, .parallel = 1};
    int st = lm_loop_run(&L, argc - oi, argv + oi);
    lm_taco_text_free(&t);
    free(dir);
    lm_close_stdout();
    return st;
}
