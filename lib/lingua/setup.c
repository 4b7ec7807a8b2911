/* setup.c - lingua-compress's set-up before the first record (setup.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/diag.h"
#include "lingua/setup.h"
#include "nn/backend.h"
#include "nn/backend_cuda.h"
#include "nn/hfcache.h"

__attribute__((format(printf, 4, 5))) static void fail(lm_lingua_fail *f, int status, const char *hint,
                                                       const char *fmt, ...)
{
    f->status = status;
    snprintf(f->hint, sizeof f->hint, "%s", hint ? hint : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
}

char *lm_lingua_model_dir(const char *model, lm_lingua_fail *f)
{
    if (!model || !*model) {
        fail(f, LM_EXIT_USAGE,
             "pass --model DIR (or set LMKIT_MODEL) naming a folder such as "
             "llmlingua-2-xlm-roberta-large-meetingbank with config.json, model.safetensors, tokenizer.json",
             "no model: LLMLingua-2 needs its token classifier");
        return NULL;
    }
    char err[1024];
    int as_id;
    char *dir = lm_hf_model_dir(model, &as_id, err, sizeof err);
    if (!dir && as_id) {
        char hint[512];
        snprintf(hint, sizeof hint,
                 "download it with 'huggingface-cli download %s', or pass --model DIR "
                 "naming a folder with config.json, model.safetensors and tokenizer.json",
                 model);
        fail(f, LM_EXIT_DATA, hint, "%s", err);
    } else if (!dir) {
        fail(f, LM_EXIT_DATA,
             "--model names a folder with config.json, model.safetensors and tokenizer.json "
             "or a Hugging Face id (org/name) in the local cache",
             "%s", err);
    }
    return dir;
}

/* The device: auto is the GPU when there is one (nothing CUDA is loaded
 * without one); cuda insists. */
static int choose_device(lm_lingua_encoder *le, int device, char *warn, size_t warnlen, lm_lingua_fail *f)
{
    if (!(device == LM_DEVICE_CUDA || (device == LM_DEVICE_AUTO && lm_cuda_present())))
        return 0;
    char why[256], err[1024];
    int have = lm_nn_cuda_available(why, sizeof why);
    if (!have && device == LM_DEVICE_CUDA) {
        fail(f, LM_EXIT_USAGE, "use --device cpu (or auto)", "--device cuda: %s", why);
        return -1;
    }
    if (have && lm_lingua_encoder_use_cuda(le, LM_NN_F32, err, sizeof err)) {
        if (device == LM_DEVICE_CUDA) {
            fail(f, LM_EXIT_USAGE, "use --device cpu, or a smaller --batch-size", "--device cuda: %s", err);
            return -1;
        }
        snprintf(warn, warnlen, "GPU not used (%s); computing on the CPU", err);
    }
    return 0;
}

int lm_lingua_encoder_setup(lm_lingua_encoder *le, const char *dir, int family, int batch, int device,
                            char *warn, size_t warnlen, lm_lingua_fail *f)
{
    char err[1024];
    if (warnlen)
        warn[0] = '\0';
    /* a model that cannot be read or is malformed is bad input data (exit
     * 1), as a tokenizer is for tokenize; only running out of memory while
     * loading it is system trouble */
    if (lm_lingua_encoder_load(le, dir, family, batch, err, sizeof err)) {
        fail(f, strstr(err, "out of memory") ? LM_EXIT_USAGE : LM_EXIT_DATA,
             "an LLMLingua-2 folder holds config.json, model.safetensors and tokenizer.json", "%s", err);
        return -1;
    }
    if (choose_device(le, device, warn, warnlen, f))
        return -1;
    /* the CPU's memory, else OpenBLAS may spin */
    int fit;
    size_t lack;
    if (!le->gpu && lm_nn_cpu_reserve(&fit, &lack, err, sizeof err)) {
        char hint[160], more[64] = "";
        if (lack)
            snprintf(more, sizeof more, " by at least %zu MiB", (lack >> 20) + 1);
        if (fit > 0)
            snprintf(hint, sizeof hint, "raise the limit ('ulimit -v')%s, or use --threads %d", more, fit);
        else
            snprintf(hint, sizeof hint, "raise the limit ('ulimit -v')%s", more);
        fail(f, LM_EXIT_USAGE, hint, "%s", err);
        return -1;
    }
    return 0;
}

int lm_lingua_counter_load(const char *path, lm_tiktoken **tk, lm_lingua_fail *f)
{
    char err[1024];
    char *cp = path ? lm_xstrdup(path) : lm_tiktoken_find("cl100k_base", NULL, 0);
    *tk = NULL;
    if (!cp)
        return 0;
    *tk = lm_tiktoken_load(cp, lm_tiktoken_infer(cp) ? NULL : "cl100k_base", err, sizeof err);
    free(cp);
    if (*tk)
        return 0;
    if (strstr(err, "the right encoding?"))
        fail(f, LM_EXIT_DATA, "--count-encoding takes the cl100k_base rank file the reference counts with",
             "%s", err);
    else
        fail(f, strstr(err, "out of memory") ? LM_EXIT_USAGE : LM_EXIT_DATA, NULL, "%s", err);
    return -1;
}
